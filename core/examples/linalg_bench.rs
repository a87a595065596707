//! Times the linear-algebra primitives (f32) on a device: median wall time
//! of `cholesky`, `solve`, `eigh` and `svd` at n = 128 and 512, and of a
//! batched 64 × 32 × 32 `cholesky`/`solve`/`eigh`/`svd`.
//!
//! `cargo run --release -p oxjax --example linalg_bench [DEVICE]`
//! (DEVICE: a name from `plugins.toml`, e.g. `wasm`; default: embedded).

use oxjax::{Array, DType, Registry, linalg, with_default_device};
use std::time::Instant;

fn median_ms(mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut t: Vec<f64> = Vec::new();
    let start = Instant::now();
    while t.len() < 5 || (t.len() < 50 && start.elapsed().as_secs_f64() < 2.0) {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[t.len() / 2]
}

fn rand(shape: &[usize], seed: u64) -> Array {
    let n: usize = shape.iter().product();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let v: Vec<f32> = (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    Array::from_vec(v, shape)
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "embedded".into());
    let reg = if name == "embedded" {
        Registry::embedded()
    } else {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins.toml");
        Registry::from_file(&file).expect("plugins.toml")
    };
    let dev = reg.device(&name).expect("device");
    with_default_device(&dev, || {
        println!("device {name}, f32, median ms");
        let cases: Vec<(String, Vec<usize>)> = vec![
            ("n=128".into(), vec![128, 128]),
            ("n=512".into(), vec![512, 512]),
            ("64x32x32".into(), vec![64, 32, 32]),
        ];
        for (label, shape) in cases {
            let n = shape[shape.len() - 1];
            let x = rand(&shape, 1).device_put(&dev);
            let eye = Array::eye(n, n, 0, DType::F32).device_put(&dev);
            let spd = (x.matmul(&x.moveaxis(-1, -2)) + eye * n as f64).astype(DType::F32);
            let b = rand(&shape, 2).device_put(&dev);
            let sync = |a: Array| {
                drop(a);
                dev.synchronize().expect("synchronize");
            };
            sync(spd.clone());
            let chol = median_ms(|| sync(linalg::cholesky(&spd)));
            let solve = median_ms(|| sync(linalg::solve(&x, &b)));
            let eigh = median_ms(|| sync(linalg::eigh(&spd).1));
            let svd = median_ms(|| sync(linalg::svd(&x, false).0));
            println!(
                "{label:>9}: cholesky {chol:8.3}  solve {solve:8.3}  eigh {eigh:8.3}  svd {svd:8.3}"
            );
        }
    });
}
