//! The training demo's model, data and step, shared by `examples/train_mlp.rs`
//! and `tests/demo.rs`: an MLP (2-h-h-3) classifying three interleaved
//! spirals, trained full-batch with `jit(value_and_grad)` and Adam under a
//! warm-up + cosine learning-rate schedule. Everything random comes from
//! `oxjax::random`, so a seed fixes the whole run on every device.

use oxjax::optim::{self, Adam, GradientTransformation};
use oxjax::{Array, Axes, DType, Tree, jit, random, value_and_grad_with};
use std::f64::consts::PI;

/// Number of classes (spiral arms).
pub const CLASSES: usize = 3;

/// The model: three dense layers with ReLU between them.
#[derive(Clone, Tree)]
pub struct Mlp {
    pub w1: Array,
    pub b1: Array,
    pub w2: Array,
    pub b2: Array,
    pub w3: Array,
    pub b3: Array,
}

/// A labelled point set: `x` is f32 `[n, 2]`, `y` i32 `[n]`.
#[derive(Clone, Tree)]
pub struct Data {
    pub x: Array,
    pub y: Array,
}

/// `n` points on three spiral arms through the origin, each arm turning
/// by `turns` revolutions, with Gaussian angular noise.
pub fn spirals(key: &Array, n: usize, turns: f64, noise: f64) -> Data {
    let (k_radius, k_noise) = random::split2(key);
    let r = random::uniform(&k_radius, &[n], DType::F32, 0.05, 1.0);
    let label = Array::arange(0.0, n as f64, 1.0, DType::F32) % CLASSES as f64;
    let theta = &label * (2.0 * PI / CLASSES as f64)
        + &r * (2.0 * PI * turns)
        + random::normal(&k_noise, &[n], DType::F32) * noise;
    let x = Array::concatenate(
        &[
            &(&r * theta.cos()).reshape(&[-1, 1]),
            &(&r * theta.sin()).reshape(&[-1, 1]),
        ],
        1,
    );
    Data {
        x,
        y: label.astype(DType::I32),
    }
}

/// He-initialised weights, zero biases.
pub fn init(key: &Array, hidden: usize) -> Mlp {
    let keys = random::split(key, 3);
    let dense = |i: usize, fan_in: usize, fan_out: usize| {
        let k = random::key_row(&keys, i);
        random::normal(&k, &[fan_in, fan_out], DType::F32) * (2.0 / fan_in as f64).sqrt()
    };
    Mlp {
        w1: dense(0, 2, hidden),
        b1: Array::zeros(&[hidden], DType::F32),
        w2: dense(1, hidden, hidden),
        b2: Array::zeros(&[hidden], DType::F32),
        w3: dense(2, hidden, CLASSES),
        b3: Array::zeros(&[CLASSES], DType::F32),
    }
}

/// Class scores `[n, CLASSES]`.
pub fn logits(p: &Mlp, x: &Array) -> Array {
    let h = (x.matmul(&p.w1) + &p.b1).maximum(0.0);
    let h = (h.matmul(&p.w2) + &p.b2).maximum(0.0);
    h.matmul(&p.w3) + &p.b3
}

/// Mean softmax cross-entropy: `logsumexp(z) - z[label]`, stably.
pub fn loss(p: &Mlp, data: &Data) -> Array {
    let z = logits(p, &data.x);
    let m = z.max(-1, true).stop_gradient();
    let lse = (&z - &m).exp().sum(-1, false).log() + m.reshape(&[-1]);
    let classes = Array::arange(0.0, CLASSES as f64, 1.0, DType::F32).astype(DType::I32);
    let onehot = data.y.reshape(&[-1, 1]).equal(&classes).astype(DType::F32);
    let picked = (&z * &onehot).sum(-1, false);
    (lse - picked).mean(Axes::All, false)
}

/// Fraction of points whose highest score is their label.
pub fn accuracy(p: &Mlp, data: &Data) -> f32 {
    logits(p, &data.x)
        .argmax(Some(-1))
        .equal(&data.y)
        .astype(DType::F32)
        .mean(Axes::All, false)
        .item::<f32>()
}

/// The optimizer: Adam with a linear warm-up to `peak` and cosine decay
/// over `steps`.
pub fn optimizer(peak: f64, steps: u32) -> Adam {
    optim::adam(optim::warmup_cosine_decay(
        0.0,
        peak,
        steps / 20,
        steps,
        peak / 50.0,
    ))
}

/// What one training step carries: parameters and optimizer state.
pub type Carry = (Mlp, <Adam as GradientTransformation>::State);

/// The jitted training step `(params, state, data) -> (params, state, loss)`:
/// traced and compiled on the first call, then one cached program.
pub fn train_step(opt: Adam) -> impl Fn(&(Carry, Data)) -> (Carry, Array) {
    jit(move |((p, s), data): &(Carry, Data)| {
        let (l, g) = value_and_grad_with(loss)(p, data);
        let (updates, s) = opt.update(&g, s, p);
        ((optim::apply_updates(p, &updates), s), l)
    })
}

/// Settings of one run.
pub struct Config {
    pub seed: u64,
    pub train_points: usize,
    pub test_points: usize,
    pub hidden: usize,
    pub steps: u32,
    pub peak_lr: f64,
}

/// What a run produced.
pub struct Outcome {
    pub params: Mlp,
    /// Loss before each step.
    pub losses: Vec<f32>,
    pub train_accuracy: f32,
    pub test_accuracy: f32,
}

/// Generates the data, trains, evaluates; `on_step(step, loss)` is called
/// after every step.
pub fn run(cfg: &Config, mut on_step: impl FnMut(u32, f32)) -> Outcome {
    let key = random::key(cfg.seed);
    let keys = random::split(&key, 3);
    let k = |i| random::key_row(&keys, i);
    let (turns, noise) = (1.0, 0.15);
    let train = spirals(&k(0), cfg.train_points, turns, noise);
    let test = spirals(&k(1), cfg.test_points, turns, noise);
    let opt = optimizer(cfg.peak_lr, cfg.steps);
    let params = init(&k(2), cfg.hidden);
    let mut carry: Carry = (params.clone(), opt.init(&params));
    let step = train_step(opt);
    let mut losses = Vec::with_capacity(cfg.steps as usize);
    for i in 0..cfg.steps {
        let (next, l) = step(&(carry, train.clone()));
        carry = next;
        let l = l.item::<f32>();
        losses.push(l);
        on_step(i, l);
    }
    let params = carry.0;
    Outcome {
        train_accuracy: accuracy(&params, &train),
        test_accuracy: accuracy(&params, &test),
        params,
        losses,
    }
}
