//! The CNN example's model, data and training loop, shared by
//! `examples/cnn.rs` and `tests/cnn.rs`: a small CNN telling apart 12x12
//! pictures of horizontal bars, vertical bars, crosses and box outlines,
//! drawn at random places and sizes with Gaussian noise by `oxjax::random`.
//! conv 3x3 (8) → ReLU → max pool 2x2 → conv 3x3 (16) → ReLU → global max
//! pool → dense (4), in `lax::conv`'s NCHW/OIHW layout, with He-initialised
//! kernels (`nn::initializers`, fan axes set for OIHW).

use oxjax::lax::{self, Padding, WindowReduction};
use oxjax::nn::{self, initializers as init};
use oxjax::optim::{self, GradientTransformation};
use oxjax::{Array, Axes, DType, Tree, jit, random, value_and_grad_with};

/// Side of the square pictures.
const SIZE: usize = 12;
/// Number of classes.
pub const CLASSES: usize = 4;
/// The classes, by label.
pub const NAMES: [&str; CLASSES] = ["horizontal bar", "vertical bar", "cross", "box"];
/// Standard deviation of the pixel noise (the strokes are 1).
pub const NOISE: f64 = 0.35;

/// The model's parameters.
#[derive(Clone, Tree)]
pub struct Cnn {
    w1: Array,
    b1: Array,
    w2: Array,
    b2: Array,
    w3: Array,
    b3: Array,
}

/// Images `x` (f32 `[n, 1, 12, 12]`) and labels `y` (i32 `[n]`).
#[derive(Clone, Tree)]
pub struct Data {
    pub x: Array,
    pub y: Array,
}

/// `n` pictures, classes in turn: a segment of length 5–10 along a random
/// row (horizontal) or column (vertical), both crossing (cross), or the
/// outline of a square of side 4–8 (box); plus N(0, `noise`²) pixels.
pub fn pictures(key: &Array, n: usize, noise: f64) -> Data {
    let keys = random::split(key, 6);
    let k = |i| random::key_row(&keys, i);
    let column = |a: Array| a.reshape(&[n as isize, 1, 1]);
    let int = |i, lo, hi| column(random::randint(&k(i), &[n], lo, hi, DType::I32));
    let len = int(0, 5, 11);
    let side = int(1, 3, 8);
    // Positions as fractions of the free room, so every shape fits.
    let frac = |i| column(random::uniform(&k(i), &[n], DType::F32, 0.0, 1.0));
    let place = |f: Array, extent: &Array| {
        (f * (-extent + SIZE as f64 + 1.0).astype(DType::F32))
            .floor()
            .astype(DType::I32)
    };
    let (r, c) = (int(2, 1, 11), int(3, 1, 11));
    let (r0, c0) = (place(frac(4), &len), place(frac(5), &len));
    let grid = Array::arange(0.0, SIZE as f64, 1.0, DType::F32).astype(DType::I32);
    let rows = grid.reshape(&[1, SIZE as isize, 1]);
    let cols = grid.reshape(&[1, 1, SIZE as isize]);
    let within = |x: &Array, lo: &Array, len: &Array| x.greater_equal(lo) & x.less(lo + len);
    let hbar = rows.equal(&r) & within(&cols, &c0, &len);
    let vbar = cols.equal(&c) & within(&rows, &r0, &len);
    let half = (len.astype(DType::F32) * 0.5).floor().astype(DType::I32);
    let cross = rows.equal(&(&r0 + &half)) & within(&cols, &c0, &len)
        | cols.equal(&(&c0 + &half)) & within(&rows, &r0, &len);
    let (b0, d0) = (place(frac(2), &side), place(frac(3), &side));
    let inside = within(&rows, &b0, &(&side + 1)) & within(&cols, &d0, &(&side + 1));
    let edge =
        rows.equal(&b0) | rows.equal(&(&b0 + &side)) | cols.equal(&d0) | cols.equal(&(&d0 + &side));
    let bx = inside & edge;
    let label = Array::arange(0.0, n as f64, 1.0, DType::F32) % CLASSES as f64;
    let label = label.astype(DType::I32);
    let is = |c: i32| column(label.equal(c));
    let img = Array::where_(
        &is(0),
        &hbar,
        Array::where_(&is(1), &vbar, Array::where_(&is(2), &cross, &bx)),
    );
    let (kn, _) = random::split2(&k(0));
    let noisy = img.astype(DType::F32) + random::normal(&kn, &[n, SIZE, SIZE], DType::F32) * noise;
    Data {
        x: noisy.reshape(&[n as isize, 1, SIZE as isize, SIZE as isize]),
        y: label,
    }
}

/// He-normal kernels in OIHW (inputs on axis 1, outputs on axis 0, the
/// 3x3 window is the receptive field), zero biases.
pub fn init_params(key: &Array) -> Cnn {
    let keys = random::split(key, 3);
    let k = |i| random::key_row(&keys, i);
    let conv = init::he_normal().fan_axes(&[1], &[0], &[]);
    Cnn {
        w1: conv.init(&k(0), &[8, 1, 3, 3], DType::F32),
        b1: Array::zeros(&[1, 8, 1, 1], DType::F32),
        w2: conv.init(&k(1), &[16, 8, 3, 3], DType::F32),
        b2: Array::zeros(&[1, 16, 1, 1], DType::F32),
        w3: init::glorot_uniform().init(&k(2), &[16, CLASSES], DType::F32),
        b3: Array::zeros(&[CLASSES], DType::F32),
    }
}

/// Class scores `[n, CLASSES]`.
pub fn logits(p: &Cnn, x: &Array) -> Array {
    let h = nn::relu(&(lax::conv(x, &p.w1, &[1, 1], &Padding::Same) + &p.b1));
    let h = lax::reduce_window(
        &h,
        WindowReduction::Max,
        &[1, 1, 2, 2],
        &[1, 1, 2, 2],
        &Padding::Valid,
        None,
        None,
    );
    let h = nn::relu(&(lax::conv(&h, &p.w2, &[1, 1], &Padding::Same) + &p.b2));
    let pooled = h.max(&[2isize, 3][..], false);
    pooled.matmul(&p.w3) + &p.b3
}

/// Mean softmax cross-entropy.
pub fn loss(p: &Cnn, d: &Data) -> Array {
    let logp = nn::log_softmax(&logits(p, &d.x), -1);
    -(logp * nn::one_hot(&d.y, CLASSES, DType::F32))
        .sum(-1, false)
        .mean(Axes::All, false)
}

/// Fraction of pictures whose highest score is their label.
pub fn accuracy(p: &Cnn, d: &Data) -> f32 {
    logits(p, &d.x)
        .argmax(Some(-1))
        .equal(&d.y)
        .astype(DType::F32)
        .mean(Axes::All, false)
        .item::<f32>()
}

/// Trains from `seed` for `steps` Adam steps on batches of `batch` fresh
/// pictures, calling `on_step(step, loss)`; returns the parameters.
pub fn train(seed: u64, batch: usize, steps: u32, mut on_step: impl FnMut(u32, f32)) -> Cnn {
    let (k_init, k_data) = random::split2(&random::key(seed));
    let params = init_params(&k_init);
    // One program per step, traced once: draw a batch from the step's key,
    // then value_and_grad and Adam. (The convolutions are routines, so the
    // picture hashing fuses into kernels of its own, not into them.)
    let opt = optim::adam(0.01);
    let mut carry = (params.clone(), opt.init(&params));
    let step = jit(move |((p, s), key): &((Cnn, _), Array)| {
        let data = pictures(key, batch, NOISE);
        let (l, g) = value_and_grad_with(loss)(p, &data);
        let (updates, s) = opt.update(&g, s, p);
        ((optim::apply_updates(p, &updates), s), l)
    });
    for i in 0..steps {
        let (next, l) = step(&(carry, random::fold_in(&k_data, i)));
        carry = next;
        on_step(i, l.item::<f32>());
    }
    carry.0
}
