//! Samplers of vectors and matrices: [`orthogonal`], [`multivariate_normal`]
//! and [`ball`], on `oxjax::linalg`'s QR and Cholesky (array ops, so they
//! run on every device, batched over leading axes, eager or under `jit`).

use super::{fconst, split2};
use crate::error::{ErrorKind, Result, err};
use crate::linalg::cholesky;
use crate::primitive::or_panic;
use crate::{Array, DType};

/// The Q of a thin QR of `a` (`[..., m, n]`, `m >= n`) with R's diagonal
/// made positive: that Q is unique, so it equals JAX's `q * sign(diag(r))`.
fn orthonormal_columns(a: &Array) -> Array {
    let (q, r) = crate::linalg::qr(a, crate::linalg::QrMode::Reduced);
    let d = crate::numpy::diagonal(&r, 0, -2, -1).sign();
    let d = Array::where_(&d.equal(0.0), 1.0, &d);
    q * d.expand_dims(-2)
}

/// Random orthogonal `n × m` matrices (`jax.random.orthogonal`), Haar
/// distributed: the Q of a normal matrix's QR with R's diagonal made
/// positive (orthonormal columns if `n > m`, rows if `n < m`; `m` defaults
/// to `n`). The result has shape `[*shape, n, m]`.
///
/// ```
/// use oxjax::{random, Array, DType};
/// let q = random::orthogonal(&random::key(0), 3, &[], DType::F32, None);
/// let qtq = q.t().matmul(&q);
/// assert!((qtq - Array::eye(3, 3, 0, DType::F32)).abs().max(oxjax::Axes::All, false).item::<f32>() < 1e-5);
/// ```
pub fn orthogonal(key: &Array, n: usize, shape: &[usize], dtype: DType, m: Option<usize>) -> Array {
    or_panic(try_orthogonal(key, n, shape, dtype, m))
}

/// [`orthogonal`], returning misuse as an error.
pub fn try_orthogonal(
    key: &Array,
    n: usize,
    shape: &[usize],
    dtype: DType,
    m: Option<usize>,
) -> Result<Array> {
    let m = m.unwrap_or(n);
    if n == 0 || m == 0 {
        return err(
            ErrorKind::Shape,
            format!("random.orthogonal: matrices must be at least 1 x 1, got {n} x {m}"),
        );
    }
    let mut s = shape.to_vec();
    s.extend([n.max(m), n.min(m)]);
    let z = super::try_normal(key, &s, dtype).map_err(|e| {
        crate::Error::new(
            e.kind(),
            e.to_string()
                .replacen("random.normal", "random.orthogonal", 1),
        )
    })?;
    let q = orthonormal_columns(&z);
    Ok(if n < m {
        crate::numpy::swapaxes(&q, -1, -2)
    } else {
        q
    })
}

/// Samples of a multivariate normal with mean `mean` (`[..., n]`) and
/// covariance `cov` (`[..., n, n]`, positive definite)
/// (`jax.random.multivariate_normal`, its default Cholesky method):
/// `mean + L z` with `L L^T = cov` and `z` standard normal. `shape` is
/// the batch shape (default: the broadcast of the batch shapes of `mean`
/// and `cov`); the result is `[*shape, n]`.
///
/// Partial: no method argument (always the Cholesky method, JAX's default).
///
/// ```
/// use oxjax::{random, Array, DType};
/// let mean = Array::from_vec(vec![1.0f32, -1.0], &[2]);
/// let cov = Array::from_vec(vec![2.0f32, 0.5, 0.5, 1.0], &[2, 2]);
/// let x = random::multivariate_normal(&random::key(0), &mean, &cov, Some(&[100]), DType::F32);
/// assert_eq!(x.shape(), [100, 2]);
/// ```
pub fn multivariate_normal(
    key: &Array,
    mean: &Array,
    cov: &Array,
    shape: Option<&[usize]>,
    dtype: DType,
) -> Array {
    or_panic(try_multivariate_normal(key, mean, cov, shape, dtype))
}

/// [`multivariate_normal`], returning misuse as an error.
pub fn try_multivariate_normal(
    key: &Array,
    mean: &Array,
    cov: &Array,
    shape: Option<&[usize]>,
    dtype: DType,
) -> Result<Array> {
    let (ms, cs) = (mean.shape(), cov.shape());
    let n = ms.last().copied().unwrap_or(0);
    if ms.is_empty() || cs.len() < 2 || cs[cs.len() - 2..] != [n, n] {
        return err(
            ErrorKind::Value,
            format!(
                "random.multivariate_normal: expected mean [..., n] and cov [..., n, n], got mean {ms:?} and cov {cs:?}"
            ),
        );
    }
    let batch = match shape {
        Some(s) => s.to_vec(),
        None => broadcast_shapes(&ms[..ms.len() - 1], &cs[..cs.len() - 2]).ok_or_else(|| {
            crate::Error::new(ErrorKind::Shape, format!(
                "random.multivariate_normal: batch shapes of mean {ms:?} and cov {cs:?} do not broadcast"
            ))
        })?,
    };
    let mut s = batch.clone();
    s.push(n);
    let z = super::try_normal(key, &s, dtype).map_err(|e| {
        crate::Error::new(
            e.kind(),
            e.to_string()
                .replacen("random.normal", "random.multivariate_normal", 1),
        )
    })?;
    let factor = cholesky(&cov.astype(dtype));
    let lz = crate::numpy::matmul(&factor, &z.expand_dims(-1)).squeeze(&[-1]);
    Ok(mean.astype(dtype) + lz)
}

/// NumPy broadcasting of two shapes, or `None`.
fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| (i + s.len()).checked_sub(n).map_or(1, |k| s[k]);
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

/// Points uniform in the unit `p`-norm ball of dimension `d`
/// (`jax.random.ball`; `p = 2` is the Euclidean ball), shape `[*shape, d]`:
/// generalized-normal directions scaled by an exponential draw (Barthe et
/// al., 2005). Built on [`gamma`](super::gamma), so JAX's distribution but
/// not its stream.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let x = random::ball(&random::key(0), 3, 2.0, &[100], DType::F32);
/// let r = (&x * &x).sum(-1, false).sqrt();
/// assert!(r.max(Axes::All, false).item::<f32>() <= 1.0);
/// ```
pub fn ball(key: &Array, d: usize, p: f64, shape: &[usize], dtype: DType) -> Array {
    let (kg, ke) = split2(key);
    let mut s = shape.to_vec();
    s.push(d);
    let g = super::generalized_normal(&kg, p, &s, dtype);
    let e = super::exponential(&ke, shape, dtype);
    let norm = (g.abs().power(fconst(p, dtype)).sum(-1, false) + e).power(fconst(1.0 / p, dtype));
    g / norm.expand_dims(-1)
}
