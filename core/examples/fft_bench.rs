//! Times a jitted complex FFT of 2^16 points (f32) and its gradient — the
//! figure issue 15 compares with JAX.
//!
//! Run: `cargo run --release -p oxjax --example fft_bench [reps]`;
//! `OXJAX_DEVICE=<name>` picks a device of `plugins.toml`.

use oxjax::fft::{self, Complex};
use oxjax::{Axes, DType, grad, jit, random};
use std::time::Instant;

fn median(reps: usize, mut f: impl FnMut()) -> f64 {
    f(); // compile
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let dev = oxjax::default_device();
    let (kr, ki) = random::split2(&random::key(0));
    let n = 1 << 16;
    let z = Complex::new(
        &random::normal(&kr, &[n], DType::F32),
        &random::normal(&ki, &[n], DType::F32),
    );
    let f = jit(|z: &Complex| fft::fft(z, None, -1));
    let fwd = median(reps, || {
        let _y = f(&z);
        dev.synchronize().unwrap();
    });
    let g = jit(grad(|z: &Complex| {
        let y = fft::fft(z, None, -1);
        (&y.re * &y.re).sum(Axes::All, false)
    }));
    let bwd = median(reps, || {
        let _g = g(&z);
        dev.synchronize().unwrap();
    });
    println!(
        "device '{}': fft 2^16 f32 complex: median {fwd:.3} ms; grad of sum(re(fft)^2): median {bwd:.3} ms ({reps} reps)",
        dev.name()
    );
}
