//! Set routines and orderings: `unique_values` / `unique_counts` /
//! `unique_inverse` / `unique_all`, `union1d`, `intersect1d`, `setdiff1d`,
//! `setxor1d`, `lexsort`, `partition` / `argpartition`.
//!
//! A set's size depends on the values, so (as in JAX) these run eagerly
//! when `size` is `None` and need a static `size` under `jit`, `vmap` or
//! `grad`; with `size` the result is padded (or truncated) to it and works
//! under every transformation. Each is built on one stable sort, a
//! first-of-run mask and a compaction scatter.

use super::sorting::first_of_run;
use crate::Array;
use crate::primitive::indexing_rules::compact;
use crate::primitive::indexing_rules::{self as rules, CumOp, ScatterMode};
use crate::{DType, Scalar};

/// The static length of a data-dependent result: `size`, or (eagerly) the
/// number of kept elements.
fn result_len(name: &str, keep: &Array, size: Option<usize>) -> usize {
    if let Some(s) = size {
        return s;
    }
    if keep.is_traced() {
        crate::error::fail(
            crate::ErrorKind::Value,
            format!(
                "{name}: the result's size depends on the values of a traced array of shape {:?}; \
             pass a static `size` (and `fill_value`) to use it under jit, vmap or grad",
                keep.shape()
            ),
        );
    }
    keep.astype(DType::I32).sum(-1, false).item::<i32>() as usize
}

/// The kept elements of the 1-d `vals` in order, as a `len`-long array
/// padded with `fill_value` (`None`: the first kept element, the smallest
/// for sorted `vals`, as JAX pads; 0 if none is kept).
fn kept(name: &str, vals: &Array, keep: &Array, size: Option<usize>, fill: Option<f64>) -> Array {
    let len = result_len(name, keep, size);
    let zero = Array::scalar_of(Scalar::F64(0.0).cast(vals.dtype()));
    let out = compact(vals, keep, len, &zero);
    if len == 0 {
        return out;
    }
    let count = keep.astype(DType::I32).sum(-1, false);
    let fill = match fill {
        Some(f) => Array::scalar_of(Scalar::F64(f).cast(vals.dtype())),
        None => out.slice(&[(0..1).into()]).reshape(&[]),
    };
    Array::where_(&rules::arange(len).less(&count), &out, &fill).astype(vals.dtype())
}

/// The flattened array sorted (stable, NaNs last) with its permutation.
fn sorted_flat(a: &Array) -> (Array, Array) {
    let flat = a.reshape(&[-1]);
    let perm = rules::argsort(&flat, 0, false);
    (rules::gather(&flat, &perm, 0), perm)
}

/// First-of-run mask of sorted 1-d `s`; `equal_nan: false` makes every NaN
/// its own run (the array API's unique semantics).
fn runs(s: &Array, equal_nan: bool) -> Array {
    let first = first_of_run(s);
    if equal_nan || !s.dtype().is_float() {
        first
    } else {
        first.bitwise_or(s.isnan())
    }
}

/// The four results of [`unique_all`].
#[derive(Clone, Debug)]
pub struct UniqueAll {
    /// The sorted distinct values (padded as described in [`unique_all`]).
    pub values: Array,
    /// The flat index of each value's first occurrence (i32; padding repeats
    /// the smallest value's, as JAX's does).
    pub indices: Array,
    /// For each element of `x` (its shape), the index of its value (i32).
    pub inverse_indices: Array,
    /// How often each value occurs (i32; 0 in padding).
    pub counts: Array,
}

/// `jnp.unique_all(x, size=, fill_value=)`: the sorted distinct values of
/// the flattened `x` with first-occurrence indices, inverse indices (shaped
/// like `x`) and counts. NaNs are distinct from each other (the array API's
/// rule, as JAX's `unique_*`). With `size` the values are padded with
/// `fill_value` (`None`: the smallest value), the indices with the
/// smallest value's index and the counts with 0, or truncated; without it
/// the call is eager only.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![3i32, 1, 3, 2], &[2, 2]);
/// let u = jnp::unique_all(&x, None, None);
/// assert_eq!(u.values.to_vec::<i32>(), vec![1, 2, 3]);
/// assert_eq!(u.indices.to_vec::<i32>(), vec![1, 3, 0]);
/// assert_eq!(u.inverse_indices.to_vec::<i32>(), vec![2, 0, 2, 1]);
/// assert_eq!(u.counts.to_vec::<i32>(), vec![1, 1, 2]);
/// ```
pub fn unique_all(x: &Array, size: Option<usize>, fill_value: Option<f64>) -> UniqueAll {
    let n = x.size();
    let name = "unique_all";
    if n == 0 {
        let values = empty_padded(name, x, size, fill_value);
        let zeros = Array::zeros(values.shape(), DType::I32);
        return UniqueAll {
            values,
            indices: zeros.clone(),
            inverse_indices: Array::zeros(x.shape(), DType::I32),
            counts: zeros,
        };
    }
    let (s, perm) = sorted_flat(x);
    let mask = runs(&s, false);
    let values = kept(name, &s, &mask, size, fill_value);
    let len = values.shape()[0];
    let at = compact(&rules::arange(n), &mask, len, &Array::scalar(0i32));
    let indices = rules::gather(&perm, &at, 0);
    // Each sorted element's run number, scattered back to its place in x.
    let run = rules::cumulative(&mask.astype(DType::I32), CumOp::Sum, 0, false) - 1;
    let inv = rules::scatter(
        &Array::zeros(&[n], DType::I32),
        &perm,
        &run.astype(DType::I32),
        ScatterMode::Set,
        0,
    );
    // Counts: gaps between run starts, the padding's starts moved to n.
    let starts = compact(&rules::arange(n), &mask, len + 1, &Array::scalar(0i32));
    let starts = Array::where_(
        &starts
            .greater(0)
            .bitwise_or(rules::arange(len + 1).equal(0)),
        &starts,
        n as i32,
    );
    let counts = (starts.slice(&[(1..).into()]) - starts.slice(&[(0..len as isize).into()]))
        .astype(DType::I32);
    UniqueAll {
        values,
        indices,
        inverse_indices: super::reshape_to(&inv, x.shape()),
        counts,
    }
}

/// The unique values of an empty input: `size` copies of `fill_value`,
/// which JAX requires when `size` is positive.
fn empty_padded(name: &str, x: &Array, size: Option<usize>, fill_value: Option<f64>) -> Array {
    let len = size.unwrap_or(0);
    if len > 0 && fill_value.is_none() {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!("{name}: an empty input padded to size {len} needs a fill_value (as in JAX)"),
        );
    }
    let f = Scalar::F64(fill_value.unwrap_or(0.0)).cast(x.dtype());
    Array::scalar_of(f).broadcast_to(&[len])
}

/// `jnp.unique_values(x, size=, fill_value=)`: the sorted distinct values
/// (NaNs distinct; see [`unique_all`]).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![2.0f32, 1.0, 2.0], &[3]);
/// assert_eq!(jnp::unique_values(&x, None, None).to_vec::<f32>(), vec![1.0, 2.0]);
/// ```
pub fn unique_values(x: &Array, size: Option<usize>, fill_value: Option<f64>) -> Array {
    if x.size() == 0 {
        return empty_padded("unique_values", x, size, fill_value);
    }
    let (s, _) = sorted_flat(x);
    kept("unique_values", &s, &runs(&s, false), size, fill_value)
}

/// `jnp.unique_counts(x, size=, fill_value=)`: `(values, counts)` (see
/// [`unique_all`]).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![2i32, 1, 2], &[3]);
/// let (v, c) = jnp::unique_counts(&x, Some(3), Some(-1.0));
/// assert_eq!(v.to_vec::<i32>(), vec![1, 2, -1]);
/// assert_eq!(c.to_vec::<i32>(), vec![1, 2, 0]);
/// ```
pub fn unique_counts(x: &Array, size: Option<usize>, fill_value: Option<f64>) -> (Array, Array) {
    let u = unique_all(x, size, fill_value);
    (u.values, u.counts)
}

/// `jnp.unique_inverse(x, size=, fill_value=)`: `(values, inverse_indices)`
/// with `values[inverse_indices] == x` (see [`unique_all`]).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![5i32, 3, 5], &[3]);
/// let (v, inv) = jnp::unique_inverse(&x, None, None);
/// assert_eq!(v.to_vec::<i32>(), vec![3, 5]);
/// assert_eq!(inv.to_vec::<i32>(), vec![1, 0, 1]);
/// ```
pub fn unique_inverse(x: &Array, size: Option<usize>, fill_value: Option<f64>) -> (Array, Array) {
    let u = unique_all(x, size, fill_value);
    (u.values, u.inverse_indices)
}

/// Both arrays flattened and cast to their common dtype.
fn common_flat(a: &Array, b: &Array) -> (Array, Array) {
    let d = super::result_type(&[a, b]);
    (a.reshape(&[-1]).astype(d), b.reshape(&[-1]).astype(d))
}

/// `jnp.union1d(ar1, ar2, size=, fill_value=)`: the sorted distinct values
/// in either array (flattened; NaNs merged). With `size`, padded with
/// `fill_value` (`None`: the smallest value) or truncated; without it,
/// eager only.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![3i32, 1], &[2]);
/// let b = Array::from_vec(vec![2i32, 3], &[2]);
/// assert_eq!(jnp::union1d(&a, &b, None, None).to_vec::<i32>(), vec![1, 2, 3]);
/// ```
pub fn union1d(ar1: &Array, ar2: &Array, size: Option<usize>, fill_value: Option<f64>) -> Array {
    let (a, b) = common_flat(ar1, ar2);
    let (s, _) = sorted_flat(&Array::concatenate(&[&a, &b], 0));
    if s.size() == 0 {
        return empty_padded("union1d", &s, size, fill_value);
    }
    kept("union1d", &s, &first_of_run(&s), size, fill_value)
}

/// `jnp.setdiff1d(ar1, ar2, assume_unique=, size=, fill_value=)`: the
/// distinct values of `ar1` not in `ar2`, sorted; with `assume_unique` the
/// elements of `ar1` are taken as distinct and keep their order (as in
/// JAX). With `size`, padded with `fill_value` (`None`: 0, as JAX's code
/// does) or truncated; without it, eager only.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![4i32, 1, 2, 4, 3], &[5]);
/// let b = Array::from_vec(vec![3i32, 5], &[2]);
/// assert_eq!(jnp::setdiff1d(&a, &b, false, None, None).to_vec::<i32>(), vec![1, 2, 4]);
/// assert_eq!(jnp::setdiff1d(&a, &b, false, Some(4), Some(0.0)).to_vec::<i32>(), vec![1, 2, 4, 0]);
/// ```
pub fn setdiff1d(
    ar1: &Array,
    ar2: &Array,
    assume_unique: bool,
    size: Option<usize>,
    fill_value: Option<f64>,
) -> Array {
    let (a, b) = common_flat(ar1, ar2);
    let fill = Some(fill_value.unwrap_or(0.0));
    if a.size() == 0 {
        return empty_padded("setdiff1d", &a, size, fill);
    }
    let (s, keep) = if assume_unique {
        (a.clone(), Array::full(&[a.size()], true))
    } else {
        let (s, _) = sorted_flat(&a);
        let k = first_of_run(&s);
        (s, k)
    };
    let keep = keep.bitwise_and(super::isin(&s, &b, true));
    kept("setdiff1d", &s, &keep, size, fill)
}

/// `jnp.setxor1d(ar1, ar2, assume_unique=, size=, fill_value=)`: the sorted
/// values in exactly one of the arrays. `assume_unique` is accepted as a
/// hint (the result is the same for distinct inputs). Padding as in
/// [`union1d`].
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1i32, 2, 3], &[3]);
/// let b = Array::from_vec(vec![2i32, 3, 4, 4], &[4]);
/// assert_eq!(jnp::setxor1d(&a, &b, false, None, None).to_vec::<i32>(), vec![1, 4]);
/// ```
pub fn setxor1d(
    ar1: &Array,
    ar2: &Array,
    _assume_unique: bool,
    size: Option<usize>,
    fill_value: Option<f64>,
) -> Array {
    let (a, b) = common_flat(ar1, ar2);
    let (s, _) = sorted_flat(&Array::concatenate(&[&a, &b], 0));
    if s.size() == 0 {
        return empty_padded("setxor1d", &s, size, Some(fill_value.unwrap_or(0.0)));
    }
    let once = super::isin(&s, &a, false).bitwise_xor(super::isin(&s, &b, false));
    kept(
        "setxor1d",
        &s,
        &first_of_run(&s).bitwise_and(&once),
        size,
        fill_value,
    )
}

/// `jnp.intersect1d(ar1, ar2, assume_unique=, return_indices=True, size=,
/// fill_value=)`: the sorted distinct values in both arrays, with the flat
/// index of each one's first occurrence in `ar1` and in `ar2` (i32; padding
/// holds the out-of-range `ar1.size()` / `ar2.size()`, as JAX's). NaN is in no intersection. `assume_unique` is accepted as a
/// hint. Padding as in [`union1d`]; [`intersect1d`] drops the indices.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1i32, 3, 4, 3], &[4]);
/// let b = Array::from_vec(vec![3i32, 1, 2, 1], &[4]);
/// let (v, i, j) = jnp::intersect1d_indices(&a, &b, false, None, None);
/// assert_eq!(v.to_vec::<i32>(), vec![1, 3]);
/// assert_eq!(i.to_vec::<i32>(), vec![0, 1]);
/// assert_eq!(j.to_vec::<i32>(), vec![1, 0]);
/// ```
pub fn intersect1d_indices(
    ar1: &Array,
    ar2: &Array,
    _assume_unique: bool,
    size: Option<usize>,
    fill_value: Option<f64>,
) -> (Array, Array, Array) {
    let (a, b) = common_flat(ar1, ar2);
    let (n1, n2) = (a.size() as i32, b.size() as i32);
    if n1 == 0 || n2 == 0 {
        let len = size.unwrap_or(0);
        let f = Scalar::F64(fill_value.unwrap_or(0.0)).cast(a.dtype());
        let pad = |n: i32| Array::full(&[len], n);
        return (Array::scalar_of(f).broadcast_to(&[len]), pad(n1), pad(n2));
    }
    let (s, perm) = sorted_flat(&a);
    let keep = first_of_run(&s).bitwise_and(super::isin(&s, &b, false));
    let values = kept("intersect1d", &s, &keep, size, fill_value);
    let len = values.shape()[0];
    let at = compact(&rules::arange(s.size()), &keep, len, &Array::scalar(0i32));
    let i1 = rules::gather(&perm, &at, 0);
    // First match in ar2: argmax of the equality row.
    let hit = values.expand_dims(-1).equal(&b);
    let i2 = hit.astype(DType::I32).argmax(Some(-1));
    let valid = rules::arange(len).less(keep.astype(DType::I32).sum(-1, false));
    let pad = |i: &Array, n: i32| Array::where_(&valid, i, n).astype(DType::I32);
    (values, pad(&i1, n1), pad(&i2, n2))
}

/// `jnp.intersect1d(ar1, ar2, assume_unique=, size=, fill_value=)`: the
/// sorted distinct values in both arrays (see [`intersect1d_indices`]).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1.0f32, 3.0, 4.0], &[3]);
/// let b = Array::from_vec(vec![3.0f32, 1.0, 2.0], &[3]);
/// assert_eq!(jnp::intersect1d(&a, &b, false, Some(3), Some(0.0)).to_vec::<f32>(), vec![1.0, 3.0, 0.0]);
/// ```
pub fn intersect1d(
    ar1: &Array,
    ar2: &Array,
    assume_unique: bool,
    size: Option<usize>,
    fill_value: Option<f64>,
) -> Array {
    intersect1d_indices(ar1, ar2, assume_unique, size, fill_value).0
}

/// `jnp.lexsort(keys, axis)`: the i32 indices that sort by the last key,
/// ties broken by the one before, and so on (all keys of one shape). A
/// chain of stable argsorts, from the least significant key.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let first = Array::from_vec(vec![1i32, 0, 1, 0], &[4]);
/// let second = Array::from_vec(vec![2i32, 2, 1, 1], &[4]);
/// // Sorted by `second`, then by `first`.
/// assert_eq!(jnp::lexsort(&[&first, &second], -1).to_vec::<i32>(), vec![3, 2, 1, 0]);
/// ```
pub fn lexsort(keys: &[&Array], axis: isize) -> Array {
    let Some(k0) = keys.first() else {
        crate::error::fail(crate::ErrorKind::Value, "lexsort: needs at least one key");
    };
    if let Some(k) = keys.iter().find(|k| k.shape() != k0.shape()) {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "lexsort: all keys must have one shape, got {:?} and {:?}",
                k0.shape(),
                k.shape()
            ),
        );
    }
    let ax = crate::primitive::or_panic(crate::primitive::axis("lexsort", axis, k0.ndim().max(1)));
    let mut order = super::argsort(k0, Some(ax as isize), false);
    for k in &keys[1..] {
        let by = super::take_along_axis(k, &order, ax as isize);
        let step = super::argsort(&by, Some(ax as isize), false);
        order = super::take_along_axis(&order, &step, ax as isize);
    }
    order
}

fn kth_along(name: &str, a: &Array, kth: isize, axis: isize) -> usize {
    let ax = crate::primitive::or_panic(crate::primitive::axis(name, axis, a.ndim()));
    let n = a.shape()[ax] as isize;
    let k = if kth < 0 { kth + n } else { kth };
    if !(0..n).contains(&k) {
        crate::error::fail(
            crate::ErrorKind::Index,
            format!(
                "{name}: kth={kth} is out of range for axis {ax} of length {n} (shape {:?})",
                a.shape()
            ),
        );
    }
    ax
}

/// `jnp.partition(a, kth, axis)`: a copy where the element at `kth` along
/// `axis` is the one a sort would put there, those before it are no
/// larger and those after no smaller. JAX guarantees only that (the order
/// within each side is unspecified); oxjax returns the sorted axis, which
/// satisfies it. Negative `kth` counts from the end.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![5i32, 1, 4, 2, 3], &[5]);
/// assert_eq!(jnp::partition(&a, 2, -1).to_vec::<i32>()[2], 3);
/// ```
pub fn partition(a: &Array, kth: isize, axis: isize) -> Array {
    let ax = kth_along("partition", a, kth, axis);
    super::sort(a, Some(ax as isize), false)
}

/// `jnp.argpartition(a, kth, axis)`: the i32 indices that [`partition`]
/// `a` (`take_along_axis(a, argpartition(a, k), axis) == partition(a, k)`).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![5i32, 1, 4, 2, 3], &[5]);
/// assert_eq!(jnp::argpartition(&a, 0, -1).to_vec::<i32>()[0], 1);
/// ```
pub fn argpartition(a: &Array, kth: isize, axis: isize) -> Array {
    let ax = kth_along("argpartition", a, kth, axis);
    super::argsort(a, Some(ax as isize), false)
}
