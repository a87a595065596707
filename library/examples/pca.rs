//! Principal component analysis with `linalg::eigh`: a dataset of 600
//! points in 6 dimensions that really lives on a tilted 2-d plane (plus a
//! little noise) is centred, its covariance diagonalised, and the explained
//! variance of each component printed. The two leading components explain
//! almost everything; projecting onto them and back reconstructs the data
//! up to the noise. Runs on the default device (`OXJAX_DEVICE` picks one).
//!
//! `cargo run -p oxjax --example pca`

use oxjax::{Array, Axes, DType, jit, linalg};

/// Deterministic standard-normal-ish samples (sum of uniforms).
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| (0..12).map(|_| uniform()).sum::<f64>() - 6.0)
        .collect()
}

/// `(components [d, d] as columns, explained variance [d])`, descending.
fn pca(x: &Array) -> (Array, Array) {
    let centred = x - &x.mean(0, true);
    let n = x.shape()[0] as f64;
    let cov = centred.t().matmul(&centred) / (n - 1.0);
    let (w, v) = linalg::eigh(&cov);
    // eigh is ascending; PCA lists the largest variance first.
    (v.flip(&[1]), w.flip(&[0]))
}

fn main() {
    let (n, d) = (600, 6);
    // Latent coordinates with variances 9 and 1, mapped into 6-d by a fixed
    // orthonormal-ish basis, plus noise of variance 0.01.
    let latent =
        Array::from_vec(noise(n * 2, 1), &[n, 2]) * &Array::from_vec(vec![3.0, 1.0], &[1, 2]);
    let basis = Array::from_vec(noise(2 * d, 2), &[2, d]);
    let basis = &basis / &(&basis * &basis).sum(1, true).sqrt();
    let x = latent.matmul(&basis) + Array::from_vec(noise(n * d, 3), &[n, d]) * 0.1;
    let x = x.astype(DType::F32);

    let (components, variance) = jit(pca)(&x);
    let var = variance.to_vec::<f32>();
    let total: f32 = var.iter().sum();
    println!("device: {}", x.device());
    println!("component  variance  explained  cumulative");
    let mut cum = 0.0;
    for (i, v) in var.iter().enumerate() {
        cum += v / total;
        println!(
            "{:>9}  {:>8.4}  {:>8.2}%  {:>9.2}%",
            i + 1,
            v,
            100.0 * v / total,
            100.0 * cum
        );
    }

    // Reconstruct from the two leading components.
    let top = components.slice(&[
        oxjax::Slice::all(),
        oxjax::Slice {
            start: Some(0),
            stop: Some(2),
            step: 1,
        },
    ]);
    let mean = x.mean(0, true);
    let scores = (&x - &mean).matmul(&top);
    let back = scores.matmul(&top.t()) + &mean;
    let err = (&back - &x).abs().max(Axes::All, false).item::<f32>();
    println!("2-component reconstruction: max abs error {err:.3} (noise scale 0.1)");
    let w = components.t().matmul(&components);
    let orth = (&w - &Array::eye(d, d, 0, DType::F32))
        .abs()
        .max(Axes::All, false);
    println!("components orthonormal to {:.1e}", orth.item::<f32>());
}
