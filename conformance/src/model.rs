//! Layer 4 — real programs under the backend's declared limits.
//!
//! The other layers check ops and small random programs; a backend that
//! passes them can still fail on a real model, where one jitted step fuses
//! into kernels that bind many buffers (a transformer's backward pass
//! wants dozens) and the planner must split them at the declared
//! `max_inputs`. Each entry runs a whole jitted program on the backend under
//! test and on the reference, with the same inputs drawn from the seed, and
//! compares every output:
//!
//! - `model:mlp_step`: a two-layer MLP's training step (`value_and_grad` of
//!   softmax cross-entropy, then SGD) jitted and run twice, and the same two
//!   steps as one jitted `fori_loop` (a scan body under the limit);
//! - `model:transformer_block`: a pre-norm transformer block (layernorm,
//!   attention with softmax, a GELU MLP, residuals) jitted forward, and the
//!   jitted `value_and_grad` of its squared output with respect to every
//!   parameter.
//!
//! Outputs are judged by the composite-program bound of [`crate::program`]
//! (`|got - want| <= 1e-4 (1 + |want|)`): every op may be a few ULP off and
//! steps compound. A kernel the backend rejects (more inputs than it
//! declared) or any other error fails the entry with the message.

use crate::judge::{Failure, Outcome};
use crate::values::{self, Rng};
use oxjax_abi::{DType, Scalar};
use oxjax_core::{Array, Axes, Device, Tree, jit, value_and_grad_with, with_default_device};

/// The relative bound outputs are judged by.
const TOLERANCE: f64 = 1e-4;

/// One entry of the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    MlpStep,
    TransformerBlock,
}

impl Model {
    pub const ALL: [Model; 2] = [Model::MlpStep, Model::TransformerBlock];

    /// The entry name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Model::MlpStep => "model:mlp_step",
            Model::TransformerBlock => "model:transformer_block",
        }
    }

    /// What the program does, for a failure report.
    fn describe(self) -> &'static str {
        match self {
            Model::MlpStep => {
                "MLP 8-32-4 (ReLU), x f32[16, 8]: jit(value_and_grad(cross-entropy) + SGD) \
                 twice, and fori_loop(0, 2, step) under jit"
            }
            Model::TransformerBlock => {
                "pre-norm transformer block, x f32[12, 16]: jit(block)(x) and \
                 jit(value_and_grad(sum(block(x)^2))) over its 12 parameters"
            }
        }
    }

    /// The program's named outputs on the default device.
    pub fn outputs(self, seed: u64) -> Vec<(String, Array)> {
        match self {
            Model::MlpStep => mlp_outputs(seed),
            Model::TransformerBlock => block_outputs(seed),
        }
    }
}

/// Runs `model` on both devices and compares its outputs.
pub fn run(dut: &Device, oracle: &Device, model: Model, seed: u64) -> Result<Outcome, Failure> {
    let fail = |summary: String, expected: Vec<String>, found: Vec<String>| Failure {
        summary,
        kernel: String::new(),
        inputs: vec![format!("drawn from seed {seed}")],
        expected,
        found,
        tolerance: format!("|got - want| <= {TOLERANCE:e} (1 + |want|)"),
        details: format!(
            "{}: {} (max_inputs {})",
            model.name(),
            model.describe(),
            dut.info().caps.max_inputs
        ),
        seed,
        replay: String::new(),
        saved: None,
    };
    let want = outputs_on(oracle, model, seed).map_err(|e| {
        fail(
            format!("the oracle failed (a bug in conformance): {e}"),
            vec![],
            vec![],
        )
    })?;
    let got = outputs_on(dut, model, seed)
        .map_err(|e| fail(format!("backend error: {e}"), vec![], vec![]))?;
    for ((name, w), (_, g)) in want.iter().zip(&got) {
        let show = |v: &[f64]| {
            let s: Vec<Scalar> = v.iter().map(|&x| Scalar::F64(x)).collect();
            vec![format!("{name}: {}", values::show(&s, 32))]
        };
        if w.len() != g.len() {
            return Err(fail(
                format!("{name}: {} values, expected {}", g.len(), w.len()),
                show(w),
                show(g),
            ));
        }
        for (i, (&a, &b)) in w.iter().zip(g).enumerate() {
            let ok = (a.is_nan() && b.is_nan())
                || a == b
                || (a - b).abs() <= TOLERANCE * (1.0 + a.abs());
            if !ok {
                return Err(fail(
                    format!("{name}: element {i}: want {a}, got {b}"),
                    show(w),
                    show(g),
                ));
            }
        }
    }
    Ok(Outcome::default())
}

/// The outputs of `model` computed on `device`, read back, with panics and
/// device errors as text.
fn outputs_on(device: &Device, model: Model, seed: u64) -> Result<Vec<(String, Vec<f64>)>, String> {
    crate::program::guarded(|| {
        with_default_device(device, || {
            model
                .outputs(seed)
                .into_iter()
                .map(|(name, a)| {
                    let v = a.try_scalars().map_err(|e| format!("{name}: {e}"))?;
                    Ok((name, v.iter().map(|s| s.as_f64()).collect()))
                })
                .collect()
        })
    })
}

/// Values in [-0.5, 0.5) of `shape` from `rng`.
fn draw(rng: &mut Rng, shape: &[usize]) -> Array {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.unit() * 0.5).collect();
    Array::from_vec(v, shape)
}

/// Each leaf of `tree` named by its field path under `prefix`.
fn named<T: Tree>(prefix: &str, tree: &T) -> Vec<(String, Array)> {
    tree.leaf_paths()
        .into_iter()
        .zip(tree.leaves())
        .map(|(p, a)| (format!("{prefix}.{p}"), a))
        .collect()
}

/// A two-layer MLP's parameters.
#[derive(Clone, Tree)]
#[tree(crate = oxjax_core)]
pub struct Mlp {
    pub w1: Array,
    pub b1: Array,
    pub w2: Array,
    pub b2: Array,
}

/// One SGD step (rate 0.1) of the MLP on softmax cross-entropy against
/// one-hot labels `y`; returns the new parameters and the loss before it.
pub fn mlp_step(p: &Mlp, x: &Array, y: &Array) -> (Mlp, Array) {
    let loss = |p: &Mlp, (x, y): &(Array, Array)| {
        let h = (x.matmul(&p.w1) + &p.b1).maximum(0.0);
        let z = h.matmul(&p.w2) + &p.b2;
        let m = z.max(-1, true).stop_gradient();
        let lse = (&z - &m).exp().sum(-1, true).log() + m;
        -((z - lse) * y).sum(Axes::All, false) / x.shape()[0] as f64
    };
    let (l, g) = value_and_grad_with(loss)(p, &(x.clone(), y.clone()));
    let step = |w: &Array, dw: &Array| w - &(dw * 0.1);
    (
        Mlp {
            w1: step(&p.w1, &g.w1),
            b1: step(&p.b1, &g.b1),
            w2: step(&p.w2, &g.w2),
            b2: step(&p.b2, &g.b2),
        },
        l,
    )
}

fn mlp_outputs(seed: u64) -> Vec<(String, Array)> {
    let mut rng = Rng(seed ^ 0x6d6c_7000);
    let p = Mlp {
        w1: draw(&mut rng, &[8, 32]),
        b1: draw(&mut rng, &[32]),
        w2: draw(&mut rng, &[32, 4]),
        b2: draw(&mut rng, &[4]),
    };
    let x = draw(&mut rng, &[16, 8]);
    let labels: Vec<i32> = (0..16).map(|_| rng.below(4) as i32).collect();
    let y = one_hot(&Array::from_vec(labels, &[16]), 4, DType::F32);
    let step = jit(|(p, x, y): &(Mlp, Array, Array)| mlp_step(p, x, y));
    let (p1, l1) = step(&(p.clone(), x.clone(), y.clone()));
    let (p2, l2) = step(&(p1, x.clone(), y.clone()));
    let looped = jit(|(p, x, y): &(Mlp, Array, Array)| {
        oxjax_core::control::fori_loop(0, 2, |_, p: &Mlp| mlp_step(p, x, y).0, p)
    })(&(p, x, y));
    let mut out = vec![("loss[0]".to_string(), l1), ("loss[1]".to_string(), l2)];
    out.extend(named("params", &p2));
    out.extend(named("fori_loop", &looped));
    out
}

/// A pre-norm transformer block's parameters (one attention head).
#[derive(Clone, Tree)]
#[tree(crate = oxjax_core)]
pub struct Block {
    pub wq: Array,
    pub wk: Array,
    pub wv: Array,
    pub wo: Array,
    pub g1: Array,
    pub b1: Array,
    pub g2: Array,
    pub b2: Array,
    pub w1: Array,
    pub c1: Array,
    pub w2: Array,
    pub c2: Array,
}

fn layer_norm(x: &Array, g: &Array, b: &Array) -> Array {
    let m = x.mean(-1, true);
    let c = x - &m;
    let v = (&c * &c).mean(-1, true);
    c / (v + 1e-5).sqrt() * g + b
}

/// The block on `x [T, D]`: attention, then a GELU MLP, each with a
/// residual around a layernorm.
pub fn block(p: &Block, x: &Array) -> Array {
    let d = x.shape()[1] as f64;
    let h = layer_norm(x, &p.g1, &p.b1);
    let (q, k, v) = (h.matmul(&p.wq), h.matmul(&p.wk), h.matmul(&p.wv));
    let att = softmax(&(q.matmul(&k.t()) / d.sqrt()), -1);
    let x = x + &att.matmul(&v).matmul(&p.wo);
    let h = layer_norm(&x, &p.g2, &p.b2);
    let ff = gelu(&(h.matmul(&p.w1) + &p.c1), true).matmul(&p.w2) + &p.c2;
    x + ff
}

/// The block's parameters for width `d`, drawn from `rng` (gains near 1).
fn block_params(rng: &mut Rng, d: usize) -> Block {
    let mut m = |r: usize, c: usize| draw(rng, &[r, c]);
    let (wq, wk, wv, wo) = (m(d, d), m(d, d), m(d, d), m(d, d));
    let (w1, w2) = (m(d, 4 * d), m(4 * d, d));
    Block {
        wq,
        wk,
        wv,
        wo,
        g1: draw(rng, &[d]) + 1.0,
        b1: draw(rng, &[d]),
        g2: draw(rng, &[d]) + 1.0,
        b2: draw(rng, &[d]),
        w1,
        c1: draw(rng, &[4 * d]),
        w2,
        c2: draw(rng, &[d]),
    }
}

/// The block's parameters and input `x f32[12, 16]`, drawn from the seed.
pub fn block_inputs(seed: u64) -> (Block, Array) {
    let mut rng = Rng(seed ^ 0x626c_6b00);
    let p = block_params(&mut rng, 16);
    let x = draw(&mut rng, &[12, 16]);
    (p, x)
}

/// `value_and_grad` of `sum(block(x)^2)` with respect to the parameters
/// (the program whose fused backward kernels bind the most buffers).
pub fn block_train((p, x): &(Block, Array)) -> (Array, Block) {
    value_and_grad_with(|p: &Block, x: &Array| {
        let y = block(p, x);
        (&y * &y).sum(Axes::All, false)
    })(p, x)
}

fn block_outputs(seed: u64) -> Vec<(String, Array)> {
    let inputs = block_inputs(seed);
    let forward = jit(|(p, x): &(Block, Array)| block(p, x))(&inputs);
    let (loss, grads) = jit(block_train)(&inputs);
    let mut out = vec![("forward".to_string(), forward), ("loss".to_string(), loss)];
    out.extend(named("grad", &grads));
    out
}

// ---- the few nn functions the models use, written with engine ops --------
// (conformance depends on `oxjax-core` only, not on the `oxjax` library)

/// `jax.nn.softmax` along `axis`, shifted by the (constant) row maximum.
fn softmax(x: &Array, axis: isize) -> Array {
    let e = (x - x.max(axis, true).stop_gradient()).exp();
    &e / e.sum(axis, true)
}

/// `jax.nn.gelu` (the tanh approximation when `approximate`) of f32 `x`.
fn gelu(x: &Array, approximate: bool) -> Array {
    if approximate {
        let inner = (x + x * x * x * 0.044715) * (2.0 / std::f64::consts::PI).sqrt();
        x * (inner.tanh() + 1.0) * 0.5
    } else {
        x * ((x * std::f64::consts::FRAC_1_SQRT_2).erf() + 1.0) * 0.5
    }
}

/// `jax.nn.one_hot` of i32 labels over `n` classes.
fn one_hot(labels: &Array, n: usize, dtype: DType) -> Array {
    let classes = Array::arange(0.0, n as f64, 1.0, DType::I32);
    labels.expand_dims(-1).equal(&classes).astype(dtype)
}
