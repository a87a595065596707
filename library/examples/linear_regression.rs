//! Linear regression by gradient descent: recovers the coefficients that
//! generated noisy data.
//!
//! Run: `cargo run --example linear_regression`. The data come from
//! `oxjax::random`; the fit uses `grad` and `optim::sgd` with momentum,
//! jitted, and the fitted coefficients are checked against the truth.

use oxjax::optim::{self, GradientTransformation};
use oxjax::{Array, Axes, DType, Tree, jit, random, value_and_grad_with};

#[derive(Clone, Tree)]
struct Linear {
    w: Array,
    b: Array,
}

fn mse(p: &Linear, (x, y): &(Array, Array)) -> Array {
    let r = x.matmul(&p.w) + &p.b - y;
    (&r * &r).mean(Axes::All, false)
}

fn main() {
    let (n, true_w, true_b, noise) = (500, [2.0f32, -3.5, 0.5], 1.25f32, 0.1);
    let (kx, kn) = random::split2(&random::key(0));
    let x = random::uniform(&kx, &[n, 3], DType::F32, -1.0, 1.0);
    let w = Array::from_vec(true_w.to_vec(), &[3]);
    let y = x.matmul(&w) + true_b + random::normal(&kn, &[n], DType::F32) * noise;
    let data = (x, y);

    let opt = optim::momentum(0.1, 0.9, false);
    let params = Linear {
        w: Array::zeros(&[3], DType::F32),
        b: Array::zeros(&[], DType::F32),
    };
    let step = jit(|((p, s), d): &((Linear, _), (Array, Array))| {
        let (l, g) = value_and_grad_with(mse)(p, d);
        let (u, s) = opt.update(&g, s, p);
        ((optim::apply_updates(p, &u), s), l)
    });
    let mut carry = (params.clone(), opt.init(&params));
    for i in 0..=200 {
        let (next, loss) = step(&(carry, data.clone()));
        carry = next;
        if i % 40 == 0 {
            println!("step {i:3}: mse {:.5}", loss.item::<f32>());
        }
    }
    let fit = carry.0;
    let (w, b) = (fit.w.to_vec::<f32>(), fit.b.item::<f32>());
    println!("fitted w = {w:.3?}, b = {b:.3}");
    println!("true   w = {true_w:.3?}, b = {true_b:.3}  (noise sd {noise})");
    let err = w
        .iter()
        .zip(true_w)
        .map(|(a, t)| (a - t).abs())
        .fold((b - true_b).abs(), f32::max);
    println!("largest coefficient error {err:.4}");
    assert!(err < 0.05, "the fit should recover the coefficients");
}
