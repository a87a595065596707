//! Newton's method with `while_loop` and `debug_print`, jitted, on every
//! device: cube roots of many numbers at once, iterating until the largest
//! residual is below a tolerance (a data-dependent trip count), printing
//! progress from inside the compiled loop; then a heat-equation step
//! repeated with `fori_loop`.
//!
//! Run: `cargo run --example newton` (`cargo xtask build-plugins` first so
//! the plugin devices exist; without them it runs on "embedded" only).

use oxjax::{Array, Axes, DType, debug_print, devices, jit, lax, with_default_device};

/// Solves x³ = a elementwise by Newton's method: x ← x − (x³ − a) / 3x².
fn cube_roots(a: &Array) -> (Array, Array) {
    let residual = |x: &Array| ((x * x * x - a) / a).abs().max(Axes::All, false);
    let (x, steps) = lax::while_loop(
        |(x, steps): &(Array, Array)| residual(x).greater(1e-5) & steps.less(50),
        |(x, steps): &(Array, Array)| {
            let next = x - &((x * x * x - a) / (x * x * 3.0));
            debug_print(
                "  step {}: max relative residual {}",
                &[steps, &residual(&next)],
            );
            (next, steps + 1)
        },
        &(a.ones_like(), Array::scalar(0i32)),
    );
    (x, steps)
}

/// Explicit heat-equation steps on a rod with fixed ends: u ← u + r Δu.
fn heat(u0: &Array, steps: i64) -> Array {
    let n = u0.shape()[0] as isize;
    lax::fori_loop(
        0,
        steps,
        |_, u: &Array| {
            let left = u.slice(&[(0..n - 2).into()]);
            let mid = u.slice(&[(1..n - 1).into()]);
            let right = u.slice(&[(2..n).into()]);
            let lap = &left - &(&mid * 2.0) + &right;
            (mid + lap * 0.4).pad(&[(1, 1)], 0.0)
        },
        u0,
    )
}

fn main() {
    let a = Array::linspace(1.0, 1000.0, 8, DType::F32);
    let solve = jit(cube_roots);
    let rod = jit(|u: &Array| heat(u, 200));
    // A bump in the middle of the rod, zero at the ends.
    let u0 = (Array::linspace(0.0, 1.0, 33, DType::F32) * std::f64::consts::PI).sin();
    for dev in devices().unwrap_or_else(|e| panic!("{e}")) {
        println!("device {}:", dev.name());
        with_default_device(&dev, || {
            let a = a.device_put(&dev);
            let (x, steps) = solve(&a);
            println!("  {} Newton steps; cube roots {x}", steps.item::<i32>());
            let err = (&x * &x * &x - &a)
                .abs()
                .max(Axes::All, false)
                .item::<f32>();
            assert!(err < 1e-2, "residual {err}");
            let u = rod(&u0.device_put(&dev));
            println!(
                "  heat: total heat {:.4} -> {:.4} after 200 steps",
                u0.sum(Axes::All, false).item::<f32>(),
                u.sum(Axes::All, false).item::<f32>()
            );
        });
    }
}
