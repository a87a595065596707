//! Times a jitted convolution forward + backward pass (gradients with
//! respect to input and kernel): NCHW 32×3×32×32, 16 3×3 filters, SAME,
//! f32 — the figure issue 15 compares with JAX (2.6 ms on this machine).
//!
//! Run: `cargo run --release -p oxjax --example conv_bench [reps]`;
//! `OXJAX_DEVICE=<name>` picks a device of `plugins.toml`.

use oxjax::lax::{self, Padding};
use oxjax::{Array, Axes, grad, jit, random};
use std::time::Instant;

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let dev = oxjax::default_device();
    let (kx, kw) = random::split2(&random::key(0));
    let x = random::normal(&kx, &[32, 3, 32, 32], oxjax::DType::F32);
    let w = random::normal(&kw, &[16, 3, 3, 3], oxjax::DType::F32);
    let step = jit(grad(|(x, w): &(Array, Array)| {
        let y = lax::conv(x, w, &[1, 1], &Padding::Same);
        (&y * &y).sum(Axes::All, false)
    }));
    let args = (x, w);
    let _ = step(&args); // compile
    dev.synchronize().unwrap();
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let _grads = step(&args);
            dev.synchronize().unwrap();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "device '{}': conv fwd+bwd 32x3x32x32 * 16x3x3x3 SAME f32: median {:.2} ms (min {:.2}, {reps} reps)",
        dev.name(),
        times[reps / 2],
        times[0]
    );
}
