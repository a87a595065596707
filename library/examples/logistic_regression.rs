//! Logistic regression fitted by gradient descent with `grad`.
//!
//! Run: `cargo run --example logistic_regression`. Data are made here: two
//! Gaussian-ish blobs from a fixed linear congruential generator.

use oxjax::{Array, Axes, DType, Tree, value_and_grad_with};

#[derive(Clone, Tree)]
struct Params {
    w: Array,
    b: Array,
}

/// Mean binary cross-entropy of `sigmoid(x @ w + b)` against labels `y`,
/// written with logaddexp-style stable terms: log(1 + exp(-z)) etc.
fn loss(p: &Params, data: &(Array, Array)) -> Array {
    let (x, y) = data;
    let z = x.matmul(&p.w) + &p.b;
    // softplus(-z) for y = 1, softplus(z) for y = 0.
    let softplus = |v: &Array| v.maximum(0.0) + (-v.abs()).exp().log1p();
    let l = y * &softplus(&(-&z)) + (1.0 - y) * softplus(&z);
    l.mean(Axes::All, false)
}

fn main() {
    let n = 200;
    let mut seed = 42u64;
    let mut uniform = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 / (1u64 << 53) as f64) as f32
    };
    let mut xs = Vec::with_capacity(2 * n);
    let mut ys = Vec::with_capacity(n);
    for i in 0..n {
        let label = (i % 2) as f32;
        let (cx, cy) = if label == 1.0 {
            (1.5, 1.0)
        } else {
            (-1.0, -1.5)
        };
        let noise = |u: f32, v: f32| (u + v - 1.0) * 1.5;
        xs.push(cx + noise(uniform(), uniform()));
        xs.push(cy + noise(uniform(), uniform()));
        ys.push(label);
    }
    let data = (Array::from_vec(xs, &[n, 2]), Array::from_vec(ys, &[n]));
    let mut params = Params {
        w: Array::zeros(&[2], DType::F32),
        b: Array::zeros(&[], DType::F32),
    };
    let step = value_and_grad_with(loss);
    let lr = 0.5;
    for epoch in 0..=100 {
        let (l, g) = step(&params, &data);
        params = Params {
            w: &params.w - &(&g.w * lr),
            b: &params.b - &(&g.b * lr),
        };
        if epoch % 20 == 0 {
            println!("epoch {epoch:3}: loss {:.4}", l.item::<f32>());
        }
    }
    let (x, y) = &data;
    let predicted = (x.matmul(&params.w) + &params.b)
        .greater(0.0)
        .astype(DType::F32);
    let accuracy = predicted
        .equal(y)
        .astype(DType::F32)
        .mean(Axes::All, false)
        .item::<f32>();
    println!(
        "w = {}, b = {}, training accuracy {:.1}%",
        params.w,
        params.b,
        accuracy * 100.0
    );
    assert!(
        accuracy > 0.9,
        "logistic regression should separate the blobs"
    );
}
