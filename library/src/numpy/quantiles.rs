//! Order statistics (`quantile`, `percentile`, `median` and their NaN-
//! ignoring forms) and index helpers (`tril_indices`, `triu_indices`, `ix_`,
//! `diag_indices`, `unravel_index`, `ravel_multi_index`, `flatnonzero`,
//! `argwhere`).

use super::{float_of, nonzero, sort, take_along_axis};
use crate::primitive::or_panic;
use crate::{Array, DType};

/// The `q` values (a concrete array) as f32, as JAX computes positions.
fn q_values(name: &str, q: &Array) -> Vec<f32> {
    if q.is_traced() {
        crate::error::fail(
            crate::ErrorKind::Value,
            format!(
                "{name}: q must be concrete (its values pick the order statistics), got a traced array"
            ),
        );
    }
    if q.ndim() > 1 {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "{name}: q must be a scalar or 1-d, got shape {:?}",
                q.shape()
            ),
        );
    }
    q.astype(DType::F32).to_vec::<f32>()
}

/// Linear interpolation between order statistics, as `jnp.quantile`
/// (`method="linear"`): position `q (n - 1)` in the sorted values (`n` the
/// non-NaN count when `ignore_nan`, else NaN wherever a NaN is present).
fn quantile_impl(
    name: &str,
    a: &Array,
    q: &Array,
    axis: Option<isize>,
    keepdims: bool,
    ignore_nan: bool,
    scale: f32,
) -> Array {
    let qs: Vec<f32> = q_values(name, q).iter().map(|v| v / scale).collect();
    let a = float_of(a);
    let (x, ax) = match axis {
        None => (a.reshape(&[-1]), 0),
        Some(v) => (
            a.clone(),
            or_panic(crate::primitive::axis(name, v, a.ndim())),
        ),
    };
    let n = x.shape()[ax];
    let nan = x.isnan();
    let sorted = sort(&x, Some(ax as isize), false);
    let counts = if ignore_nan {
        (!&nan).astype(x.dtype()).sum(ax as isize, true)
    } else {
        Array::full(&[], n as f32).astype(x.dtype())
    };
    let any_nan = nan.any(ax as isize, true);
    let one = super::lit(&x, 1.0);
    let last = &counts - &one;
    let results: Vec<Array> = qs
        .iter()
        .map(|&qv| {
            let pos = &last * super::lit(&x, f64::from(qv));
            let (low, high) = (pos.floor(), pos.ceil());
            let hw = &pos - &low;
            let lw = &one - &hw;
            let clamp = |i: &Array| {
                i.minimum(&last)
                    .maximum(super::lit(&x, 0.0))
                    .astype(DType::I32)
            };
            let pick = |i: &Array| {
                let i = clamp(i).broadcast_to(&keep_shape(x.shape(), ax));
                take_along_axis(&sorted, &i, ax as isize)
            };
            let mut r = pick(&low) * &lw + pick(&high) * &hw;
            if !ignore_nan {
                r = Array::where_(&any_nan, super::lit(&x, f64::NAN), &r);
            }
            if keepdims {
                match axis {
                    None => r.reshape(&vec![1; a.ndim()]),
                    Some(_) => r,
                }
            } else {
                r.squeeze(&[ax as isize])
            }
        })
        .collect();
    if q.ndim() == 0 {
        results.into_iter().next().expect("one q")
    } else {
        let refs: Vec<&Array> = results.iter().collect();
        super::stack(&refs, 0)
    }
}

fn keep_shape(shape: &[usize], ax: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    s[ax] = 1;
    s
}

/// `jnp.quantile` (method "linear"): the `q`-th quantiles (`q` in [0, 1],
/// a scalar or 1-d array; a leading axis per `q` value) along `axis`
/// (`None`: of the flattened array). NaN where the slice holds a NaN.
///
/// Partial: method "linear" only; `q` must be concrete; no weights.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![4.0f32, 1.0, 3.0, 2.0], &[4]);
/// let q = Array::from_vec(vec![0.0f32, 0.5, 1.0], &[3]);
/// assert_eq!(jnp::quantile(&a, &q, None, false).to_vec::<f32>(), vec![1.0, 2.5, 4.0]);
/// ```
pub fn quantile(a: &Array, q: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    quantile_impl("quantile", a, q, axis, keepdims, false, 1.0)
}

/// `jnp.nanquantile`: [`quantile`] ignoring NaNs (NaN only where a slice
/// is all NaN).
///
/// Partial: method "linear" only; `q` must be concrete.
pub fn nanquantile(a: &Array, q: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    quantile_impl("nanquantile", a, q, axis, keepdims, true, 1.0)
}

/// `jnp.percentile`: [`quantile`] with `q` in percent.
///
/// Partial: method "linear" only; `q` must be concrete.
pub fn percentile(a: &Array, q: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    quantile_impl("percentile", a, q, axis, keepdims, false, 100.0)
}

/// `jnp.nanpercentile`: [`nanquantile`] with `q` in percent.
///
/// Partial: method "linear" only; `q` must be concrete.
pub fn nanpercentile(a: &Array, q: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    quantile_impl("nanpercentile", a, q, axis, keepdims, true, 100.0)
}

/// `jnp.median`: the 0.5 [`quantile`] (the mean of the middle two for an
/// even count).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![4.0f32, 1.0, 3.0, 2.0], &[4]);
/// assert_eq!(jnp::median(&a, None, false).item::<f32>(), 2.5);
/// ```
pub fn median(a: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    quantile_impl(
        "median",
        a,
        &Array::scalar(0.5f32),
        axis,
        keepdims,
        false,
        1.0,
    )
}

/// `jnp.nanmedian`: [`median`] ignoring NaNs.
pub fn nanmedian(a: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    quantile_impl(
        "nanmedian",
        a,
        &Array::scalar(0.5f32),
        axis,
        keepdims,
        true,
        1.0,
    )
}

/// i32 row and column indices of the entries of an `n × m` matrix kept by
/// `keep(row, col)`, in row-major order.
fn indices_where(n: usize, m: usize, keep: impl Fn(isize, isize) -> bool) -> (Array, Array) {
    let (mut rows, mut cols) = (Vec::new(), Vec::new());
    for i in 0..n as isize {
        for j in 0..m as isize {
            if keep(i, j) {
                rows.push(i as i32);
                cols.push(j as i32);
            }
        }
    }
    let len = rows.len();
    (Array::from_vec(rows, &[len]), Array::from_vec(cols, &[len]))
}

/// `jnp.tril_indices`: the (row, column) indices of the lower triangle of
/// an `n × m` matrix (`m` defaults to `n`), on and below diagonal `k`.
///
/// ```
/// use oxjax::numpy as jnp;
/// let (r, c) = jnp::tril_indices(2, 0, None);
/// assert_eq!((r.to_vec::<i32>(), c.to_vec::<i32>()), (vec![0, 1, 1], vec![0, 0, 1]));
/// ```
pub fn tril_indices(n: usize, k: isize, m: Option<usize>) -> (Array, Array) {
    indices_where(n, m.unwrap_or(n), |i, j| j - i <= k)
}

/// `jnp.triu_indices`: the indices of the upper triangle, on and above
/// diagonal `k`.
pub fn triu_indices(n: usize, k: isize, m: Option<usize>) -> (Array, Array) {
    indices_where(n, m.unwrap_or(n), |i, j| j - i >= k)
}

/// `jnp.diag_indices`: `ndim` copies of `arange(n)` (i32), indexing the
/// main diagonal of an `n × ... × n` array.
pub fn diag_indices(n: usize, ndim: usize) -> Vec<Array> {
    let r = Array::from_vec((0..n as i32).collect::<Vec<_>>(), &[n]);
    vec![r; ndim]
}

/// `jnp.unravel_index`: the coordinates in an array of `shape` of each
/// flat index (i32). As JAX: negative indices count from the end, and
/// out-of-range ones are clipped into range.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let ij = jnp::unravel_index(&Array::from_vec(vec![5i32, -1], &[2]), &[2, 3]);
/// assert_eq!(ij[0].to_vec::<i32>(), vec![1, 1]);
/// assert_eq!(ij[1].to_vec::<i32>(), vec![2, 2]);
/// ```
pub fn unravel_index(indices: &Array, shape: &[usize]) -> Vec<Array> {
    if indices.dtype().is_float() || indices.dtype() == DType::BOOL {
        crate::error::fail(
            crate::ErrorKind::DType,
            format!(
                "unravel_index: indices must be integers, got {}",
                indices.dtype()
            ),
        );
    }
    let total: usize = shape.iter().product();
    let i = indices.astype(DType::I32);
    let i = Array::where_(&i.less(0), &i + total as i32, &i);
    let i = i.maximum(0).minimum(total.max(1) as i32 - 1);
    let mut out = Vec::with_capacity(shape.len());
    let mut stride = 1i32;
    for &d in shape.iter().rev() {
        out.push(i.floor_divide(stride).remainder(d.max(1) as i32));
        stride *= d as i32;
    }
    out.reverse();
    out
}

/// `jnp.flatnonzero`: the flat indices of the nonzero entries, padded to
/// `size` with `fill_value` (a static size, as JAX under `jit`).
pub fn flatnonzero(a: &Array, size: usize, fill_value: i32) -> Array {
    nonzero(&a.reshape(&[-1]), size, fill_value).remove(0)
}

/// `jnp.argwhere`: the coordinates of the nonzero entries, one row each
/// (`size × ndim`, padded with `fill_value`).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![0.0f32, 5.0, 7.0, 0.0], &[2, 2]);
/// assert_eq!(jnp::argwhere(&a, 2, -1).to_vec::<i32>(), vec![0, 1, 1, 0]);
/// ```
pub fn argwhere(a: &Array, size: usize, fill_value: i32) -> Array {
    let ij = nonzero(a, size, fill_value);
    let refs: Vec<&Array> = ij.iter().collect();
    if refs.is_empty() {
        return Array::zeros(&[size, 0], DType::I32);
    }
    super::stack(&refs, 1)
}

/// `jnp.ravel_multi_index`: the flat index in an array of `dims` of each
/// coordinate tuple (`multi_index[k]` along axis `k`, broadcast together),
/// out-of-range coordinates clipped or wrapped per `mode`.
///
/// Partial: no mode "raise" (a traced index cannot raise); clip or wrap.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let i = Array::from_vec(vec![1i32, 0, 5], &[3]);
/// let j = Array::from_vec(vec![2i32, -1, 1], &[3]);
/// let f = jnp::ravel_multi_index(&[&i, &j], &[2, 3], jnp::ChooseMode::Wrap);
/// assert_eq!(f.to_vec::<i32>(), vec![5, 2, 4]);
/// ```
pub fn ravel_multi_index(multi_index: &[&Array], dims: &[usize], mode: super::ChooseMode) -> Array {
    if multi_index.len() != dims.len() {
        crate::error::fail(
            crate::ErrorKind::Value,
            format!(
                "ravel_multi_index: {} index arrays for {} dims {dims:?} (one per dim)",
                multi_index.len(),
                dims.len()
            ),
        );
    }
    let mut flat = Array::scalar(0i32);
    let mut stride = 1i32;
    for (i, &d) in multi_index.iter().zip(dims).rev() {
        if i.dtype().is_float() || i.dtype() == DType::BOOL {
            crate::error::fail(
                crate::ErrorKind::DType,
                format!(
                    "ravel_multi_index: indices must be integers, got {}",
                    i.dtype()
                ),
            );
        }
        let i = i.astype(DType::I32);
        let d = d.max(1) as i32;
        let i = match mode {
            super::ChooseMode::Clip => i.maximum(0).minimum(d - 1),
            super::ChooseMode::Wrap => i.remainder(d),
        };
        flat = flat + i * stride;
        stride *= d;
    }
    flat
}

/// `jnp.ix_`: 1-d index arrays reshaped to broadcast against each other
/// (array `k` along axis `k`), for open-mesh indexing.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let r = Array::from_vec(vec![0i32, 2], &[2]);
/// let c = Array::from_vec(vec![1i32, 3, 4], &[3]);
/// let ix = jnp::ix_(&[&r, &c]);
/// assert_eq!((ix[0].shape(), ix[1].shape()), (&[2, 1][..], &[1, 3][..]));
/// ```
pub fn ix_(args: &[&Array]) -> Vec<Array> {
    let n = args.len();
    args.iter()
        .enumerate()
        .map(|(k, a)| {
            if a.ndim() != 1 {
                crate::error::fail(
                    crate::ErrorKind::Shape,
                    format!("ix_: argument {k} must be 1-d, got shape {:?}", a.shape()),
                );
            }
            let mut shape = vec![1isize; n];
            shape[k] = a.shape()[0] as isize;
            a.reshape(&shape)
        })
        .collect()
}
