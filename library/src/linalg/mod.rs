//! `oxjax::linalg`: decompositions, solvers and norms with JAX's names and
//! semantics (`jax.numpy.linalg`, `jax.scipy.linalg`, `jax.lax.linalg`).
//!
//! The factorisations (`cholesky`, `triangular_solve`, `lu`, `qr`, `eigh`,
//! `svd`) are primitives (`trace::linalg_rules`), as in `jax.lax.linalg`:
//! one equation in a jaxpr, one routine call over the whole batch (on the
//! host on `faer` unless the backend implements the routine; under `jit` an
//! eager step of the program), with JAX's jvp rules, so they work under
//! `grad`, `vmap` and `jit` at native speed. Everything else here (solve,
//! inv, det, slogdet, norms, pinv, lstsq, ...) is composed from them and
//! the array operations and differentiates through them.
//!
//! Leading axes are batch axes wherever JAX batches. Integer inputs compute
//! in f32; the factorisations take f32 and f64 (f16 is an error).
//!
//! ```
//! use oxjax::{Array, linalg};
//! let a = Array::from_vec(vec![4.0f32, 2.0, 2.0, 3.0], &[2, 2]);
//! let l = linalg::cholesky(&a);
//! let back = l.matmul(&l.t());
//! assert!(back.to_vec::<f32>().iter().zip([4.0, 2.0, 2.0, 3.0]).all(|(x, y)| (x - y).abs() < 1e-5));
//! ```

mod array_api;
mod eig;
mod factor;

pub use array_api::{
    cond, cross, diagonal, matmul, matrix_norm, matrix_transpose, multi_dot, outer, tensordot,
    tensorinv, tensorsolve, trace, vecdot, vector_norm,
};

pub use eig::{eig, eigvals};

pub use factor::{
    QrMode, Triangular, cholesky, eigh, eigvalsh, lu, lu_factor, qr, solve_triangular, svd,
    svdvals, triangular_solve, try_triangular_solve,
};

use crate::error::{ErrorKind, Result, err};
use crate::{Array, DType, Slice};
use factor::{Lu, lu_raw, lu_solve};

// ---- shared helpers (also used by `fft`) ----------------------------------

pub(crate) use crate::primitive::or_panic;

/// Integers and bool compute in f32, as in JAX.
pub(crate) use crate::primitive::float_of as float;

/// Both operands in their common float dtype.
fn common(a: &Array, b: &Array) -> (Array, Array) {
    let (a, b) = (float(a), float(b));
    if a.dtype() == b.dtype() {
        return (a, b);
    }
    let wide = if a.dtype() == DType::F64 || b.dtype() == DType::F64 {
        DType::F64
    } else {
        DType::F32
    };
    (a.astype(wide), b.astype(wide))
}

pub(crate) use crate::primitive::linalg_rules::{eye, host_const, mt};

/// `a[..., lo:hi, ...]` on one axis (negative counts from the end).
pub(crate) fn sl(a: &Array, axis: isize, lo: usize, hi: usize) -> Array {
    let ax = if axis < 0 {
        (a.ndim() as isize + axis) as usize
    } else {
        axis as usize
    };
    let mut s = vec![Slice::all(); ax + 1];
    s[ax] = Slice {
        start: Some(lo as isize),
        stop: Some(hi as isize),
        step: 1,
    };
    a.slice(&s)
}

/// The main diagonal of the last two axes: `[..., min(m, n)]`.
pub(crate) fn diag(a: &Array) -> Array {
    let s = a.shape();
    let (m, n) = (s[s.len() - 2], s[s.len() - 1]);
    let k = m.min(n);
    let sq = sl(&sl(a, -2, 0, k), -1, 0, k);
    (&sq * &eye(k, k, a)).sum(-1, false)
}

/// The leading (batch) shape of a stack of matrices.
fn batch(a: &Array) -> Vec<usize> {
    a.shape()[..a.ndim() - 2].to_vec()
}

fn with(batch: &[usize], tail: &[usize]) -> Vec<usize> {
    let mut s = batch.to_vec();
    s.extend_from_slice(tail);
    s
}

/// `a` and `b` with their batch axes broadcast against each other.
fn broadcast_batch(name: &str, a: &Array, b: &Array) -> Result<(Array, Array)> {
    let (ba, bb) = (batch(a), batch(b));
    let r = ba.len().max(bb.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; r - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (pa, pb) = (pad(&ba), pad(&bb));
    let mut out = Vec::with_capacity(r);
    for (&x, &y) in pa.iter().zip(&pb) {
        if x != y && x != 1 && y != 1 {
            return err(
                ErrorKind::Shape,
                format!(
                    "{name}: batch dimensions of shapes {:?} and {:?} do not broadcast",
                    a.shape(),
                    b.shape()
                ),
            );
        }
        out.push(x.max(y));
    }
    let tail = |x: &Array| x.shape()[x.ndim() - 2..].to_vec();
    Ok((
        a.broadcast_to(&with(&out, &tail(a))),
        b.broadcast_to(&with(&out, &tail(b))),
    ))
}

/// `(m, n)` of a stack of matrices, or an error naming `name`.
fn matrix(name: &str, a: &Array) -> Result<(usize, usize)> {
    let s = a.shape();
    if s.len() < 2 {
        return err(
            ErrorKind::Shape,
            format!(
                "{name}: expected a matrix or a stack of matrices (shape [..., m, n]), got shape {s:?}"
            ),
        );
    }
    Ok((s[s.len() - 2], s[s.len() - 1]))
}

/// `n` of a stack of square matrices, or an error naming `name`.
fn square(name: &str, a: &Array) -> Result<usize> {
    let (m, n) = matrix(name, a)?;
    if m != n {
        return err(
            ErrorKind::Shape,
            format!(
                "{name}: expected a square matrix or a stack of them (shape [..., n, n]), got shape {:?}",
                a.shape()
            ),
        );
    }
    Ok(n)
}

/// `1 / x`, with 0 where `x == 0` (safe under differentiation too).
fn safe_recip(x: &Array) -> Array {
    let zero = x.equal(0.0);
    Array::where_(&zero, 0.0, Array::where_(&zero, 1.0, x).reciprocal())
}

// ---- solvers and determinants ----------------------------------------------

/// Solves `a x = b` by LU with partial pivoting (`jnp.linalg.solve`). `a` is
/// `[..., n, n]`; `b` is `[n]` (a vector) or `[..., n, k]`, batch axes
/// broadcast. One LU primitive and two triangular solves; the derivative
/// follows from theirs (`dx = solve(a, db - da x)`).
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![3.0f32, 1.0, 1.0, 2.0], &[2, 2]);
/// let x = linalg::solve(&a, &Array::from_vec(vec![9.0f32, 8.0], &[2]));
/// let v = x.to_vec::<f32>();
/// assert!((v[0] - 2.0).abs() < 1e-5 && (v[1] - 3.0).abs() < 1e-5);
/// ```
pub fn solve(a: &Array, b: &Array) -> Array {
    or_panic(try_solve(a, b))
}

/// [`solve`], returning shape errors.
pub fn try_solve(a: &Array, b: &Array) -> Result<Array> {
    let (a, b) = common(a, b);
    let n = square("solve", &a)?;
    let vector = b.ndim() == 1;
    let b2 = if vector {
        b.reshape(&[-1, 1])
    } else {
        b.clone()
    };
    if b2.ndim() < 2 || b2.shape()[b2.ndim() - 2] != n {
        return err(
            ErrorKind::Shape,
            format!(
                "solve: a has shape {:?} but b has shape {:?}; b must be [n] or [..., n, k] with n = {n}",
                a.shape(),
                b.shape()
            ),
        );
    }
    let (a, b2) = broadcast_batch("solve", &a, &b2)?;
    let x = lu_solve(&lu_raw(&a), &b2);
    Ok(if vector { x.squeeze(&[-1]) } else { x })
}

/// The inverse of a square matrix (stack), as `solve(a, I)`.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![2.0f32, 0.0, 0.0, 4.0], &[2, 2]);
/// assert_eq!(linalg::inv(&a).to_vec::<f32>(), vec![0.5, 0.0, 0.0, 0.25]);
/// ```
pub fn inv(a: &Array) -> Array {
    let a = float(a);
    let n = or_panic(square("inv", &a));
    or_panic(try_solve(&a, &eye(n, n, &a).broadcast_to(a.shape())))
}

/// `(-1)^(number of row interchanges)` from LAPACK-style pivots.
fn parity(f: &Lu) -> Array {
    let k = f.piv.shape()[f.piv.ndim() - 1];
    let iota: Vec<f64> = (0..k).map(|i| i as f64).collect();
    let like = f.lu.clone();
    let moved = f
        .piv
        .astype(like.dtype())
        .not_equal(host_const(&iota, &[k], &like))
        .astype(like.dtype())
        .sum(-1, false);
    1.0 - 2.0 * (moved % 2.0)
}

/// The determinant (`jnp.linalg.det`), from the LU factorisation. Its
/// derivative (through the LU's) is `det(a) tr(a⁻¹ da)`.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert!((linalg::det(&a).item::<f32>() + 2.0).abs() < 1e-5);
/// ```
pub fn det(a: &Array) -> Array {
    let a = float(a);
    or_panic(square("det", &a));
    let f = lu_raw(&a);
    diag(&f.lu).prod(-1, false) * parity(&f)
}

/// `(sign, log|det a|)` (`jnp.linalg.slogdet`): the determinant without
/// overflow. A singular matrix gives sign 0 and `-inf`.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![0.0f32, 2.0, 3.0, 0.0], &[2, 2]);
/// let (sign, logdet) = linalg::slogdet(&a);
/// assert_eq!(sign.item::<f32>(), -1.0);
/// assert!((logdet.item::<f32>() - 6f32.ln()).abs() < 1e-5);
/// ```
pub fn slogdet(a: &Array) -> (Array, Array) {
    let a = float(a);
    or_panic(square("slogdet", &a));
    let f = lu_raw(&a);
    let d = diag(&f.lu);
    let sign = d.sign().prod(-1, false) * parity(&f);
    (sign, d.abs().log().sum(-1, false))
}

/// `a` raised to the integer power `k` by repeated squaring
/// (`jnp.linalg.matrix_power`); a negative `k` inverts first.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![1.0f32, 1.0, 0.0, 1.0], &[2, 2]);
/// assert_eq!(linalg::matrix_power(&a, 3).to_vec::<f32>(), vec![1.0, 3.0, 0.0, 1.0]);
/// ```
pub fn matrix_power(a: &Array, k: i32) -> Array {
    let a = float(a);
    let n = or_panic(square("matrix_power", &a));
    let mut base = if k < 0 { inv(&a) } else { a.clone() };
    let mut k = k.unsigned_abs();
    let mut acc: Option<Array> = None;
    while k > 0 {
        if k & 1 == 1 {
            acc = Some(match acc {
                None => base.clone(),
                Some(x) => x.matmul(&base),
            });
        }
        k >>= 1;
        if k > 0 {
            base = base.matmul(&base);
        }
    }
    acc.unwrap_or_else(|| eye(n, n, &a).broadcast_to(a.shape()))
}

// ---- norms, rank, pseudo-inverse, least squares ------------------------------

/// Which norm [`norm`] computes (NumPy's `ord`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NormOrd {
    /// `ord=None`: the 2-norm of vectors, Frobenius of matrices.
    Default,
    /// `'fro'` (matrices only).
    Fro,
    /// `'nuc'`: the sum of singular values (matrices only).
    Nuc,
    /// A number: `p` for vectors (`f64::INFINITY`, `-INFINITY` and `0`
    /// included); 1, -1, 2, -2, ±inf for matrices.
    P(f64),
}

/// A vector or matrix norm (`jnp.linalg.norm`). `axes`: `None` means the
/// whole array for `Default` (as a vector) and the last two axes of a 2-d
/// input otherwise; one axis gives vector norms, two axes matrix norms.
///
/// ```
/// use oxjax::{Array, linalg::{self, NormOrd}};
/// let x = Array::from_vec(vec![3.0f32, -4.0], &[2]);
/// assert_eq!(linalg::norm(&x, NormOrd::Default, None, false).item::<f32>(), 5.0);
/// assert_eq!(linalg::norm(&x, NormOrd::P(1.0), None, false).item::<f32>(), 7.0);
/// ```
pub fn norm(x: &Array, ord: NormOrd, axes: Option<&[isize]>, keepdims: bool) -> Array {
    or_panic(try_norm(x, ord, axes, keepdims))
}

/// [`norm`], returning errors for bad orders and axes.
pub fn try_norm(x: &Array, ord: NormOrd, axes: Option<&[isize]>, keepdims: bool) -> Result<Array> {
    let x = float(x);
    let r = x.ndim() as isize;
    let axes: Vec<isize> = match axes {
        Some(a) => a.to_vec(),
        None if ord == NormOrd::Default => {
            let all = (&x * &x).sum(crate::Axes::All, false).sqrt();
            return Ok(if keepdims {
                all.reshape(&vec![1; x.ndim()])
            } else {
                all
            });
        }
        None if r == 1 || r == 2 => (0..r).collect(),
        None => {
            return err(
                ErrorKind::Shape,
                format!(
                    "norm: ord {ord:?} needs axes for an array of shape {:?}",
                    x.shape()
                ),
            );
        }
    };
    let norm_axes: Vec<isize> = axes
        .iter()
        .map(|&a| if a < 0 { a + r } else { a })
        .collect();
    if norm_axes.iter().any(|&a| a < 0 || a >= r) {
        return err(
            ErrorKind::Shape,
            format!("norm: axes {axes:?} out of range for shape {:?}", x.shape()),
        );
    }
    let ax = |v: &[isize]| -> crate::Axes { v.to_vec().into() };
    match (norm_axes.len(), ord) {
        (1, _) => {
            let a = x.abs();
            let p = match ord {
                NormOrd::Default => 2.0,
                NormOrd::P(p) => p,
                _ => {
                    return err(
                        ErrorKind::Value,
                        format!("norm: {ord:?} is not a vector norm"),
                    );
                }
            };
            Ok(if p == f64::INFINITY {
                a.max(ax(&norm_axes), keepdims)
            } else if p == f64::NEG_INFINITY {
                a.min(ax(&norm_axes), keepdims)
            } else if p == 0.0 {
                a.not_equal(0.0)
                    .astype(x.dtype())
                    .sum(ax(&norm_axes), keepdims)
            } else if p == 1.0 {
                a.sum(ax(&norm_axes), keepdims)
            } else if p == 2.0 {
                (&x * &x).sum(ax(&norm_axes), keepdims).sqrt()
            } else {
                a.power(crate::numpy::lit(&a, p))
                    .sum(ax(&norm_axes), keepdims)
                    .power(crate::numpy::lit(&a, 1.0 / p))
            })
        }
        (2, _) => {
            let (r0, c0) = (norm_axes[0], norm_axes[1]);
            if r0 == c0 {
                return err(ErrorKind::Shape, format!("norm: duplicate axes {axes:?}"));
            }
            // Re-inserts the two reduced axes in order.
            let finish = |y: Array| -> Array {
                if keepdims {
                    y.expand_dims(r0.min(c0)).expand_dims(r0.max(c0))
                } else {
                    y
                }
            };
            let sum_abs = |sum_axis: isize, red: &str| {
                let s = x.abs().sum(sum_axis, false);
                let other = if sum_axis == r0 { c0 } else { r0 };
                let other = if other > sum_axis { other - 1 } else { other };
                if red == "max" {
                    s.max(other, false)
                } else {
                    s.min(other, false)
                }
            };
            let y = match ord {
                NormOrd::Default | NormOrd::Fro => (&x * &x).sum(ax(&norm_axes), false).sqrt(),
                NormOrd::P(1.0) => sum_abs(r0, "max"),
                NormOrd::P(-1.0) => sum_abs(r0, "min"),
                NormOrd::P(f64::INFINITY) => sum_abs(c0, "max"),
                NormOrd::P(f64::NEG_INFINITY) => sum_abs(c0, "min"),
                NormOrd::Nuc | NormOrd::P(2.0) | NormOrd::P(-2.0) => {
                    let mut perm: Vec<usize> = (0..r as usize)
                        .filter(|&d| d != r0 as usize && d != c0 as usize)
                        .collect();
                    perm.extend([r0 as usize, c0 as usize]);
                    let s = svdvals(&x.transpose(&perm));
                    match ord {
                        NormOrd::Nuc => s.sum(-1, false),
                        NormOrd::P(p) if p > 0.0 => s.max(-1, false),
                        _ => s.min(-1, false),
                    }
                }
                NormOrd::P(p) => {
                    return err(
                        ErrorKind::Shape,
                        format!("norm: ord {p} is not a matrix norm"),
                    );
                }
            };
            Ok(finish(y))
        }
        _ => err(
            ErrorKind::Shape,
            format!("norm: axes {axes:?}: give one axis (vector norm) or two (matrix norm)"),
        ),
    }
}

/// The machine epsilon of a float dtype.
fn eps(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::EPSILON,
        DType::F32 => f32::EPSILON as f64,
        _ => 9.765625e-4,
    }
}

/// The Moore–Penrose pseudo-inverse via the SVD (`jnp.linalg.pinv`):
/// singular values at most `rtol · max(s)` are treated as zero; the default
/// `rtol` is `10 · max(m, n) · eps`.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![1.0f64, 0.0, 0.0, 0.0, 0.0, 2.0], &[3, 2]);
/// let p = linalg::pinv(&a, None).to_vec::<f64>();
/// let want = [1.0, 0.0, 0.0, 0.0, 0.0, 0.5];
/// assert!(p.iter().zip(want).all(|(x, y)| (x - y).abs() < 1e-12));
/// ```
pub fn pinv(a: &Array, rtol: Option<f64>) -> Array {
    let a = float(a);
    let (m, n) = or_panic(matrix("pinv", &a));
    let rtol = rtol.unwrap_or(10.0 * m.max(n) as f64 * eps(a.dtype()));
    let (u, s, vh) = svd(&a, false);
    let cutoff = s.max(-1, true) * rtol;
    let sinv = Array::where_(&s.greater(&cutoff), safe_recip(&s), 0.0);
    (mt(&vh) * sinv.expand_dims(-2)).matmul(&mt(&u))
}

/// The number of singular values above `tol` (default
/// `max(s) · max(m, n) · eps`), as i32 (`jnp.linalg.matrix_rank`).
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 2.0, 4.0], &[2, 2]);
/// assert_eq!(linalg::matrix_rank(&a, None).item::<i32>(), 1);
/// ```
pub fn matrix_rank(a: &Array, tol: Option<f64>) -> Array {
    let a = float(a);
    let (m, n) = or_panic(matrix("matrix_rank", &a));
    let s = svdvals(&a);
    let tol = match tol {
        Some(t) => Array::scalar(t).astype(a.dtype()),
        None => s.max(-1, true) * (m.max(n) as f64 * eps(a.dtype())),
    };
    s.greater(&tol).astype(DType::I32).sum(-1, false)
}

/// Least squares (`jnp.linalg.lstsq`) for a 2-d `a` `[m, n]` and `b` `[m]`
/// or `[m, k]`: `(x, residuals, rank, s)`. Singular values at most
/// `rcond · max(s)` are dropped (default `rcond = max(m, n) · eps`).
/// `residuals` are the squared 2-norms of `b - a x` per column (shape `[1]` for a vector `b`) when `m > n`
/// (even when `a` is rank-deficient: shapes are static), else shape `[0]`.
///
/// ```
/// use oxjax::{Array, linalg};
/// // Fit y = 1 + 2 t through three exact points.
/// let a = Array::from_vec(vec![1.0f64, 0.0, 1.0, 1.0, 1.0, 2.0], &[3, 2]);
/// let y = Array::from_vec(vec![1.0f64, 3.0, 5.0], &[3]);
/// let (x, _, rank, _) = linalg::lstsq(&a, &y, None);
/// let x = x.to_vec::<f64>();
/// assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12);
/// assert_eq!(rank.item::<i32>(), 2);
/// ```
pub fn lstsq(a: &Array, b: &Array, rcond: Option<f64>) -> (Array, Array, Array, Array) {
    let (a, b) = common(a, b);
    if a.ndim() != 2 || b.ndim() == 0 || b.ndim() > 2 || b.shape()[0] != a.shape()[0] {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "lstsq: a must be [m, n] and b [m] or [m, k]; got shapes {:?} and {:?}",
                a.shape(),
                b.shape()
            ),
        );
    }
    let (m, n) = (a.shape()[0], a.shape()[1]);
    let rcond = rcond.unwrap_or(m.max(n) as f64 * eps(a.dtype()));
    let (u, s, vh) = svd(&a, false);
    let cutoff = s.max(-1, true) * rcond;
    let keep = s.greater(&cutoff);
    let sinv = Array::where_(&keep, safe_recip(&s), 0.0);
    let rank = keep.astype(DType::I32).sum(-1, false);
    let vector = b.ndim() == 1;
    let b2 = if vector {
        b.reshape(&[-1, 1])
    } else {
        b.clone()
    };
    let x = (mt(&vh) * sinv.expand_dims(0)).matmul(&mt(&u).matmul(&b2));
    let resid = if m > n {
        let r = &b2 - &a.matmul(&x);
        (&r * &r).sum(0, false)
    } else {
        Array::zeros(&[0], a.dtype())
    };
    let x = if vector { x.squeeze(&[-1]) } else { x };
    (x, resid, rank, s)
}
