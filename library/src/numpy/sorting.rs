//! Sorting, searching and cumulative ops: `sort`, `argsort`,
//! `searchsorted`, `unique` (static size), `nonzero` (static size),
//! `cumsum`, `cumprod`, `cummax`, `cummin`, `nancumsum`, `nancumprod`.
//! Sorts and scans are device routines (run on the host where a device
//! lacks them); all are differentiable where JAX's are.

use crate::Array;
use crate::error::{ErrorKind, Result, err};
use crate::primitive::indexing_rules::{self as rules, CumOp};
use crate::{DType, Scalar};

/// `jnp.sort`: a stable sort along `axis` (`None`: of the flattened array),
/// NaNs last; `descending` reverses the order (equal elements keep theirs).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![3.0f32, f32::NAN, 1.0, 2.0], &[4]);
/// let s = jnp::sort(&a, Some(0), false).to_vec::<f32>();
/// assert_eq!(&s[..3], &[1.0, 2.0, 3.0]);
/// assert!(s[3].is_nan());
/// ```
pub fn sort(a: &Array, axis: Option<isize>, descending: bool) -> Array {
    crate::primitive::or_panic(try_sort(a, axis, descending))
}

/// [`sort`], returning misuse as an error.
pub fn try_sort(a: &Array, axis: Option<isize>, descending: bool) -> Result<Array> {
    rules::sort_along("sort", a, axis, descending, false)
}

/// `jnp.argsort`: the i32 indices of a stable sort (see [`sort`]).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![2i32, 1, 2, 0], &[4]);
/// assert_eq!(jnp::argsort(&a, Some(0), false).to_vec::<i32>(), vec![3, 1, 0, 2]);
/// assert_eq!(jnp::argsort(&a, Some(0), true).to_vec::<i32>(), vec![0, 2, 1, 3]);
/// ```
pub fn argsort(a: &Array, axis: Option<isize>, descending: bool) -> Array {
    crate::primitive::or_panic(try_argsort(a, axis, descending))
}

/// [`argsort`], returning misuse as an error.
pub fn try_argsort(a: &Array, axis: Option<isize>, descending: bool) -> Result<Array> {
    rules::sort_along("argsort", a, axis, descending, true)
}

/// Which insertion point [`searchsorted`] returns among equal elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The first suitable position (`a[i-1] < v <= a[i]`).
    Left,
    /// The last one (`a[i-1] <= v < a[i]`).
    Right,
}

/// `a < b` in the sort order (NaN after everything).
fn sort_less(a: &Array, b: &Array) -> Array {
    if !a.dtype().is_float() {
        return a.less(b);
    }
    a.less(b)
        .bitwise_or(b.isnan().bitwise_and(a.isnan().logical_not()))
}

/// `jnp.searchsorted`: where to insert each of `v` into the sorted 1-d `a`
/// to keep it sorted (i32, shaped like `v`). Compares every pair (JAX's
/// `method='compare_all'`), so it fuses into one reduction under `jit`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 2.0, 3.0], &[4]);
/// let v = Array::from_vec(vec![2.0f32, 0.0, 9.0], &[3]);
/// assert_eq!(jnp::searchsorted(&a, &v, jnp::Side::Left).to_vec::<i32>(), vec![1, 0, 4]);
/// assert_eq!(jnp::searchsorted(&a, &v, jnp::Side::Right).to_vec::<i32>(), vec![3, 0, 4]);
/// ```
pub fn searchsorted(a: &Array, v: &Array, side: Side) -> Array {
    crate::primitive::or_panic(try_searchsorted(a, v, side))
}

/// [`searchsorted`], returning misuse as an error.
pub fn try_searchsorted(a: &Array, v: &Array, side: Side) -> Result<Array> {
    if a.ndim() != 1 {
        return err(
            ErrorKind::Shape,
            format!(
                "searchsorted: the sorted array must be 1-d, got shape {:?}",
                a.shape()
            ),
        );
    }
    let (dtype, _) = crate::primitive::promote((a.dtype(), a.is_weak()), (v.dtype(), v.is_weak()));
    let (a, v) = (a.astype(dtype), v.astype(dtype));
    let mut s: Vec<isize> = v.shape().iter().map(|&d| d as isize).collect();
    s.push(1);
    let vv = v.reshape(&s);
    let before = match side {
        Side::Left => sort_less(&a, &vv),
        Side::Right => sort_less(&vv, &a).logical_not(),
    };
    Ok(before.astype(DType::I32).sum(-1, false))
}

/// A first-occurrence mask of the sorted 1-d `s` (NaNs count as equal).
pub(crate) fn first_of_run(s: &Array) -> Array {
    let n = s.shape()[0];
    let prev = s.slice(&[(0..(n as isize - 1)).into()]);
    let cur = s.slice(&[(1..).into()]);
    let same = if s.dtype().is_float() {
        cur.equal(&prev)
            .bitwise_or(cur.isnan().bitwise_and(prev.isnan()))
    } else {
        cur.equal(&prev)
    };
    Array::concatenate(&[&Array::full(&[1], true), &same.logical_not()], 0)
}

/// `jnp.unique(a, size=size, fill_value=fill)`: the sorted distinct values
/// of the flattened `a` (NaNs merged), padded to the static `size` with
/// `fill_value` (`None`: the smallest value, as JAX does) or truncated.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![3i32, 1, 3, 2, 1], &[5]);
/// assert_eq!(jnp::unique(&a, 5, Some(-1.0)).to_vec::<i32>(), vec![1, 2, 3, -1, -1]);
/// ```
pub fn unique(a: &Array, size: usize, fill_value: Option<f64>) -> Array {
    let s = sort(a, None, false);
    if s.size() == 0 {
        let f = fill_value.unwrap_or(0.0);
        return Array::scalar_of(Scalar::F64(f).cast(a.dtype())).broadcast_to(&[size]);
    }
    let fill = match fill_value {
        Some(f) => Array::scalar_of(Scalar::F64(f).cast(a.dtype())),
        None => s.slice(&[(0..1).into()]).reshape(&[]),
    };
    rules::compact(&s, &first_of_run(&s), size, &fill)
}

/// `jnp.nonzero(a, size=size, fill_value=fill)`: for each axis, the i32
/// indices of the non-zero elements in row-major order, padded to the
/// static `size` with `fill_value` (or truncated).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![0.0f32, 5.0, 0.0, 7.0], &[2, 2]);
/// let ij = jnp::nonzero(&a, 3, -1);
/// assert_eq!(ij[0].to_vec::<i32>(), vec![0, 1, -1]);
/// assert_eq!(ij[1].to_vec::<i32>(), vec![1, 1, -1]);
/// ```
pub fn nonzero(a: &Array, size: usize, fill_value: i32) -> Vec<Array> {
    rules::nonzero(a, size, fill_value)
}

// ---- cumulative ops ------------------------------------------------------

macro_rules! cumulative_api {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(a: &Array, axis: Option<isize>) -> Array {
            crate::primitive::or_panic(rules::cumulative_along(stringify!($name), a, axis, CumOp::$op))
        }
    )*};
}

cumulative_api! {
    /// `jnp.cumsum`: inclusive running sums along `axis` (`None`: of the
    /// flattened array); bool counts as i32.
    ///
    /// ```
    /// use oxjax::{Array, numpy as jnp};
    /// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// assert_eq!(jnp::cumsum(&a, None).to_vec::<f32>(), vec![1.0, 3.0, 6.0]);
    /// ```
    cumsum => Sum;
    /// `jnp.cumprod`: inclusive running products (see [`cumsum`]).
    ///
    /// ```
    /// use oxjax::{Array, numpy as jnp};
    /// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// assert_eq!(jnp::cumprod(&a, None).to_vec::<f32>(), vec![1.0, 2.0, 6.0]);
    /// ```
    cumprod => Prod;
    /// Running maximum (`lax.cummax` along an axis, NaN propagates).
    ///
    /// ```
    /// use oxjax::{Array, numpy as jnp};
    /// let a = Array::from_vec(vec![1i32, 3, 2], &[3]);
    /// assert_eq!(jnp::cummax(&a, None).to_vec::<i32>(), vec![1, 3, 3]);
    /// ```
    cummax => Max;
    /// Running minimum (`lax.cummin` along an axis, NaN propagates).
    ///
    /// ```
    /// use oxjax::{Array, numpy as jnp};
    /// let a = Array::from_vec(vec![2i32, 3, 1], &[3]);
    /// assert_eq!(jnp::cummin(&a, None).to_vec::<i32>(), vec![2, 2, 1]);
    /// ```
    cummin => Min;
}

/// `jnp.nancumsum`: [`cumsum`] with NaNs counted as zero.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1.0f32, f32::NAN, 3.0], &[3]);
/// assert_eq!(jnp::nancumsum(&a, None).to_vec::<f32>(), vec![1.0, 1.0, 4.0]);
/// ```
pub fn nancumsum(a: &Array, axis: Option<isize>) -> Array {
    let a = if a.dtype().is_float() {
        Array::where_(&a.isnan(), 0.0, a)
    } else {
        a.clone()
    };
    cumsum(&a, axis)
}

/// `jnp.nancumprod`: [`cumprod`] with NaNs counted as one.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![2.0f32, f32::NAN, 3.0], &[3]);
/// assert_eq!(jnp::nancumprod(&a, None).to_vec::<f32>(), vec![2.0, 2.0, 6.0]);
/// ```
pub fn nancumprod(a: &Array, axis: Option<isize>) -> Array {
    let a = if a.dtype().is_float() {
        Array::where_(&a.isnan(), 1.0, a)
    } else {
        a.clone()
    };
    cumprod(&a, axis)
}
