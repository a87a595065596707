//! A first tour of oxjax on the default device (see `plugins.toml`).
//!
//! Run: `cargo run --example tour` (add `OXJAX_DEVICE=embedded` to skip the
//! plugins, `OXJAX_DEBUG=2` to see every kernel).

use oxjax::{Array, Axes, DType, Slice};

fn main() {
    let dev = oxjax::default_device();
    let info = dev.info();
    println!(
        "default device: '{}' = {} {} on {}",
        dev.name(),
        info.name,
        info.version,
        info.device
    );
    for d in oxjax::devices().unwrap_or_default() {
        println!("  available: {d:?}");
    }

    // Creation and broadcasting arithmetic with JAX's type promotion.
    let x = Array::arange(0.0, 6.0, 1.0, DType::F32).reshape(&[2, 3]);
    let b = Array::from_vec(vec![10.0f32, 20.0, 30.0], &[3]);
    let y = &x * 2.0 + &b;
    println!("x = {x}\ny = 2x + b = {y}");

    // Movement ops are views: no copy until a kernel reads them.
    let before = dev.kernel_launches();
    let z = (y.t().slice(&[Slice::all().step(-1)]) + 1.0).exp().log();
    println!(
        "log(exp(flip(yᵀ) + 1)) = {z}  ({} kernels)",
        dev.kernel_launches() - before
    );

    // Reductions over any axes.
    println!("sum over axis 1 = {}", y.sum(1, false));
    println!("mean of all = {}", y.mean(Axes::All, false));
    println!("argmax of each row = {}", y.argmax(Some(1)));

    // Matrix products.
    let w = Array::eye(3, 2, 0, DType::F32);
    println!("x @ eye(3, 2) = {}", x.matmul(&w));

    // Padding, concatenation, where.
    let p = x.pad(&[(1, 0), (0, 1)], -1.0);
    println!("pad = {p}");
    let c = Array::concatenate(&[&x, &b.reshape(&[1, 3])], 0);
    println!("concatenate = {c}");
    println!(
        "where(x > 2, x, 0) = {}",
        Array::where_(&x.greater(2.0), &x, 0.0)
    );
}
