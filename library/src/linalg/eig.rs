//! `eig` / `eigvals` of general (non-symmetric) matrices: eager, on the
//! host with faer's real Schur-based eigensolver, as JAX computes them on
//! the CPU only. Complex results are [`Complex`] pairs of real arrays until
//! oxjax has a complex dtype.

use crate::fft::Complex;
use crate::{Array, DType};
use faer::MatRef;

/// `(values, vectors)` of each `[n, n]` matrix of the batch, row-major, as
/// `(re, im)` in f64; vectors in columns, unit 2-norm with the largest
/// component real (LAPACK's `geev` convention, which JAX returns).
fn host_eig(name: &str, a: &Array, vectors: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    if a.is_traced() {
        crate::error::fail(
            crate::ErrorKind::Unsupported,
            format!(
                "{name}: runs eagerly on the host (as JAX's, CPU only); got a traced array {} \
             inside jit, vmap or grad",
                a.aval()
            ),
        );
    }
    let r = a.ndim();
    if r < 2 || a.shape()[r - 1] != a.shape()[r - 2] {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "{name}: needs square matrices [..., n, n], got shape {:?}",
                a.shape()
            ),
        );
    }
    if a.dtype() == DType::F16 {
        crate::error::fail(
            crate::ErrorKind::Unsupported,
            format!(
                "{name}: f16 is not supported (f32 or f64), got shape {:?}",
                a.shape()
            ),
        );
    }
    let n = a.shape()[r - 1];
    // Read on the host in the input's width (a device may lack f64).
    let data: Vec<f64> = if a.dtype() == DType::F64 {
        a.to_vec::<f64>()
    } else {
        a.astype(DType::F32)
            .to_vec::<f32>()
            .into_iter()
            .map(f64::from)
            .collect()
    };
    let batch = if n == 0 { 0 } else { data.len() / (n * n) };
    let (mut wr, mut wi) = (Vec::with_capacity(batch * n), Vec::with_capacity(batch * n));
    let (mut vr, mut vi) = (Vec::new(), Vec::new());
    for b in 0..batch {
        let m = MatRef::from_row_major_slice(&data[b * n * n..(b + 1) * n * n], n, n);
        let Ok(e) = faer::linalg::solvers::Eigen::new_from_real(m) else {
            // No convergence: NaNs, as JAX's failure convention.
            wr.extend(std::iter::repeat_n(f64::NAN, n));
            wi.extend(std::iter::repeat_n(f64::NAN, n));
            vr.extend(std::iter::repeat_n(f64::NAN, n * n));
            vi.extend(std::iter::repeat_n(f64::NAN, n * n));
            continue;
        };
        let (s, u) = (e.S(), e.U());
        for j in 0..n {
            wr.push(s[j].re);
            wi.push(s[j].im);
        }
        if !vectors {
            continue;
        }
        // Normalise each column: unit norm, largest component real positive.
        let mut cols = vec![(0.0, 0.0); n * n];
        for j in 0..n {
            let col: Vec<(f64, f64)> = (0..n).map(|i| (u[(i, j)].re, u[(i, j)].im)).collect();
            let norm = col.iter().map(|(x, y)| x * x + y * y).sum::<f64>().sqrt();
            let big = col
                .iter()
                .copied()
                .max_by(|p, q| (p.0.hypot(p.1)).total_cmp(&q.0.hypot(q.1)))
                .unwrap_or((1.0, 0.0));
            let mag = big.0.hypot(big.1);
            // Multiply by conj(big)/|big| / norm.
            let (cr, ci) = if mag > 0.0 && norm > 0.0 {
                (big.0 / mag / norm, -big.1 / mag / norm)
            } else {
                (1.0, 0.0)
            };
            for (i, &(x, y)) in col.iter().enumerate() {
                cols[i * n + j] = (x * cr - y * ci, x * ci + y * cr);
            }
        }
        vr.extend(cols.iter().map(|c| c.0));
        vi.extend(cols.iter().map(|c| c.1));
    }
    (wr, wi, vr, vi)
}

/// Back to an array of the input's float dtype (integers: f32), made on
/// the host in that width.
fn out(v: Vec<f64>, shape: &[usize], like: &Array) -> Array {
    if like.dtype() == DType::F64 {
        return Array::from_vec(v, shape);
    }
    let narrow = Array::from_vec(v.into_iter().map(|x| x as f32).collect(), shape);
    if like.dtype().is_float() {
        narrow.astype(like.dtype())
    } else {
        narrow
    }
}

/// `jnp.linalg.eig`: the eigenvalues `w` (`[..., n]`) and right eigenvectors
/// `v` (`[..., n, n]`, column `j` for `w[j]`) of general square matrices,
/// so `a @ v[:, j] = w[j] v[:, j]`; complex results as [`Complex`]
/// (re, im) pairs, each eigenvector of unit norm with its largest component
/// real (LAPACK's convention, as JAX). Eager only, as JAX's (CPU only, no
/// derivative); a solver failure gives NaNs.
///
/// ```
/// use oxjax::{Array, linalg};
/// // A rotation by 90 degrees: eigenvalues ±i.
/// let a = Array::from_vec(vec![0.0f64, -1.0, 1.0, 0.0], &[2, 2]);
/// let (w, _v) = linalg::eig(&a);
/// let mut im = w.im.to_vec::<f64>();
/// im.sort_by(f64::total_cmp);
/// assert!((im[0] + 1.0).abs() < 1e-12 && (im[1] - 1.0).abs() < 1e-12);
/// assert!(w.re.to_vec::<f64>().iter().all(|r| r.abs() < 1e-12));
/// ```
pub fn eig(a: &Array) -> (Complex, Complex) {
    let (wr, wi, vr, vi) = host_eig("eig", a, true);
    let ws = &a.shape()[..a.ndim() - 1];
    (
        Complex {
            re: out(wr, ws, a),
            im: out(wi, ws, a),
        },
        Complex {
            re: out(vr, a.shape(), a),
            im: out(vi, a.shape(), a),
        },
    )
}

/// `jnp.linalg.eigvals`: the eigenvalues of general square matrices (see
/// [`eig`]), as a [`Complex`] (re, im) pair of `[..., n]` arrays.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![2.0f32, 1.0, 0.0, 3.0], &[2, 2]);
/// let mut w = linalg::eigvals(&a).re.to_vec::<f32>();
/// w.sort_by(f32::total_cmp);
/// assert!((w[0] - 2.0).abs() < 1e-5 && (w[1] - 3.0).abs() < 1e-5);
/// ```
pub fn eigvals(a: &Array) -> Complex {
    let (wr, wi, _, _) = host_eig("eigvals", a, false);
    let ws = &a.shape()[..a.ndim() - 1];
    Complex {
        re: out(wr, ws, a),
        im: out(wi, ws, a),
    }
}
