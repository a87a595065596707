//! Gather, scatter, dynamic_slice and dynamic_update_slice, select_n, sort
//! and the cumulative scans: `jax.lax`'s indexing layer.
//!
//! `gather`/`scatter` here are a documented simplification of XLA's
//! general forms: one operand axis indexed by an i32 array of any shape
//! (`out.shape = operand.shape[..axis] ++ indices.shape ++
//! operand.shape[axis+1..]`). Gather clamps indices into the axis (JAX's
//! clip mode); scatter drops out-of-range ones (FILL_OR_DROP). Any NumPy
//! index reduces to these on the raveled operand (see `numpy::Idx`).

use crate::Array;
use crate::DType;
use crate::error::{ErrorKind, Result, err};
use crate::primitive::indexing_rules::{self as rules, gather_shape};

pub use crate::primitive::indexing_rules::{CumOp, ScatterMode};

fn check_indices(name: &str, operand: &Array, indices: &Array) -> Result<Array> {
    match indices.dtype() {
        DType::I32 => Ok(indices.clone()),
        d if d.is_int() => Ok(indices.astype(DType::I32)),
        d => err(
            ErrorKind::DType,
            format!(
                "{name}: indices must be integers, got {d} indices of shape {:?} (operand of shape {:?})",
                indices.shape(),
                operand.shape()
            ),
        ),
    }
}

/// `out[pre, J, post] = operand[pre, clamp(indices[J]), post]` along `axis`.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
/// let i = Array::from_vec(vec![2i32, 0, 9], &[3]);
/// assert_eq!(lax::gather(&x, &i, 1).to_vec::<f32>(), vec![3.0, 1.0, 3.0, 6.0, 4.0, 6.0]);
/// ```
pub fn gather(operand: &Array, indices: &Array, axis: isize) -> Array {
    crate::primitive::or_panic(try_gather(operand, indices, axis))
}

/// [`gather`], returning misuse as an error.
pub fn try_gather(operand: &Array, indices: &Array, axis: isize) -> Result<Array> {
    let idx = check_indices("gather", operand, indices)?;
    let ax = crate::primitive::axis("gather", axis, operand.ndim())?;
    if operand.shape()[ax] == 0 && idx.size() > 0 {
        return err(
            ErrorKind::Shape,
            format!(
                "gather: cannot gather from the empty axis {ax} of an operand of shape {:?}",
                operand.shape()
            ),
        );
    }
    Ok(rules::gather(operand, &idx, ax))
}

/// `out = operand; out[pre, indices[J], post] (mode)= updates[pre, J, post]`
/// along `axis`; out-of-range indices are dropped, and with `Set` the last
/// of duplicate indices wins.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::zeros(&[4], oxjax::DType::F32);
/// let i = Array::from_vec(vec![0i32, 2, 0, 7], &[4]);
/// let u = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]);
/// let y = lax::scatter(&x, &i, &u, 0, lax::ScatterMode::Add);
/// assert_eq!(y.to_vec::<f32>(), vec![4.0, 0.0, 2.0, 0.0]);
/// ```
pub fn scatter(
    operand: &Array,
    indices: &Array,
    updates: &Array,
    axis: isize,
    mode: ScatterMode,
) -> Array {
    crate::primitive::or_panic(try_scatter(operand, indices, updates, axis, mode))
}

/// [`scatter`], returning misuse as an error.
pub fn try_scatter(
    operand: &Array,
    indices: &Array,
    updates: &Array,
    axis: isize,
    mode: ScatterMode,
) -> Result<Array> {
    let idx = check_indices("scatter", operand, indices)?;
    let ax = crate::primitive::axis("scatter", axis, operand.ndim())?;
    let want = gather_shape(operand.shape(), idx.shape(), ax);
    if updates.shape() != want.as_slice() {
        return err(
            ErrorKind::Shape,
            format!(
                "scatter: updates must have shape {want:?} for an operand of shape {:?} and indices of shape {:?} along axis {ax}, got {:?}",
                operand.shape(),
                idx.shape(),
                updates.shape()
            ),
        );
    }
    let mode = match (mode, operand.dtype()) {
        (ScatterMode::Add, DType::BOOL) => ScatterMode::Max,
        (ScatterMode::Mul, DType::BOOL) => ScatterMode::Min,
        (m, _) => m,
    };
    Ok(rules::scatter(
        operand,
        &idx,
        &updates.astype(operand.dtype()),
        mode,
        ax,
    ))
}

/// `lax.scatter_add` in the one-axis form of [`scatter`].
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::ones(&[3], oxjax::DType::F32);
/// let i = Array::from_vec(vec![1i32, 1], &[2]);
/// let u = Array::from_vec(vec![2.0f32, 3.0], &[2]);
/// assert_eq!(lax::scatter_add(&x, &i, &u, 0).to_vec::<f32>(), vec![1.0, 6.0, 1.0]);
/// ```
pub fn scatter_add(operand: &Array, indices: &Array, updates: &Array, axis: isize) -> Array {
    scatter(operand, indices, updates, axis, ScatterMode::Add)
}

/// Start indices as clamped i32 scalars: `0 <= start <= n - size`.
fn clamped_starts(
    name: &str,
    operand: &Array,
    starts: &[&Array],
    sizes: &[usize],
) -> Result<Vec<Array>> {
    if starts.len() != operand.ndim() || sizes.len() != operand.ndim() {
        return err(
            ErrorKind::Shape,
            format!(
                "{name}: {} start indices and {} sizes for an operand of shape {:?} (one each per axis)",
                starts.len(),
                sizes.len(),
                operand.shape()
            ),
        );
    }
    starts
        .iter()
        .zip(sizes)
        .enumerate()
        .map(|(d, (s, &size))| {
            let n = operand.shape()[d];
            if size > n {
                return err(
                    ErrorKind::Shape,
                    format!(
                        "{name}: size {size} exceeds axis {d} of the operand of shape {:?}",
                        operand.shape()
                    ),
                );
            }
            if !s.shape().is_empty() {
                return err(
                    ErrorKind::Shape,
                    format!(
                        "{name}: start index {d} must be a scalar, got shape {:?}",
                        s.shape()
                    ),
                );
            }
            let s = check_indices(name, operand, s)?;
            // A negative start counts from the end once (as JAX), then the
            // block is clamped to fit.
            let s = Array::where_(&s.less(0), &s + n as i32, &s);
            Ok(s.minimum((n - size) as i32).maximum(0))
        })
        .collect()
}

/// `lax.dynamic_slice`: the block of `sizes` starting at traced `starts`
/// (one i32 scalar per axis), each start clamped so the block fits (as in
/// JAX).
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::arange(0.0, 5.0, 1.0, oxjax::DType::F32);
/// let s = lax::dynamic_slice(&x, &[&Array::scalar(4i32)], &[2]);
/// assert_eq!(s.to_vec::<f32>(), vec![3.0, 4.0]);
/// ```
pub fn dynamic_slice(operand: &Array, starts: &[&Array], sizes: &[usize]) -> Array {
    crate::primitive::or_panic(try_dynamic_slice(operand, starts, sizes))
}

/// [`dynamic_slice`], returning misuse as an error.
pub fn try_dynamic_slice(operand: &Array, starts: &[&Array], sizes: &[usize]) -> Result<Array> {
    let starts = clamped_starts("dynamic_slice", operand, starts, sizes)?;
    let mut out = operand.clone();
    for (d, (s, &size)) in starts.iter().zip(sizes).enumerate() {
        if size == operand.shape()[d] {
            continue;
        }
        let i = rules::arange(size) + s;
        out = rules::gather(&out, &i, d);
    }
    Ok(out)
}

/// `lax.dynamic_update_slice`: `operand` with the block at traced `starts`
/// replaced by `update`, starts clamped so the block fits.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::zeros(&[4], oxjax::DType::F32);
/// let u = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// let y = lax::dynamic_update_slice(&x, &u, &[&Array::scalar(1i32)]);
/// assert_eq!(y.to_vec::<f32>(), vec![0.0, 1.0, 2.0, 0.0]);
/// ```
pub fn dynamic_update_slice(operand: &Array, update: &Array, starts: &[&Array]) -> Array {
    crate::primitive::or_panic(try_dynamic_update_slice(operand, update, starts))
}

/// [`dynamic_update_slice`], returning misuse as an error.
pub fn try_dynamic_update_slice(
    operand: &Array,
    update: &Array,
    starts: &[&Array],
) -> Result<Array> {
    if update.ndim() != operand.ndim() {
        return err(
            ErrorKind::Shape,
            format!(
                "dynamic_update_slice: update of shape {:?} must have the rank of the operand of shape {:?}",
                update.shape(),
                operand.shape()
            ),
        );
    }
    let sizes = update.shape().to_vec();
    let starts = clamped_starts("dynamic_update_slice", operand, starts, &sizes)?;
    // Flat positions of the block in the raveled operand: one scatter.
    let shape = operand.shape();
    let mut flat = Array::scalar(0i32);
    let mut stride = 1usize;
    for d in (0..shape.len()).rev() {
        let i = rules::iota(&sizes, d) + &starts[d];
        flat = flat + i * stride as i32;
        stride *= shape[d];
    }
    let flat = flat.broadcast_to(&sizes);
    let dims: Vec<isize> = shape.iter().map(|&n| n as isize).collect();
    let u = update.astype(operand.dtype());
    Ok(rules::scatter(&operand.reshape(&[-1]), &flat, &u, ScatterMode::Set, 0).reshape(&dims))
}

/// `lax.select_n`: `cases[which]` elementwise; `which` is bool (two cases)
/// or an integer array (out-of-range picks the last case), broadcast with
/// the cases, which must share a dtype.
///
/// ```
/// use oxjax::{Array, lax};
/// let w = Array::from_vec(vec![0i32, 2, 1], &[3]);
/// let a = Array::full(&[3], 1.0f32);
/// let b = Array::full(&[3], 2.0f32);
/// let c = Array::full(&[3], 3.0f32);
/// assert_eq!(lax::select_n(&w, &[&a, &b, &c]).to_vec::<f32>(), vec![1.0, 3.0, 2.0]);
/// ```
pub fn select_n(which: &Array, cases: &[&Array]) -> Array {
    crate::primitive::or_panic(try_select_n(which, cases))
}

/// [`select_n`], returning misuse as an error.
pub fn try_select_n(which: &Array, cases: &[&Array]) -> Result<Array> {
    let Some(first) = cases.first() else {
        return err(ErrorKind::Value, "select_n: needs at least one case");
    };
    if let Some(c) = cases.iter().find(|c| c.dtype() != first.dtype()) {
        return err(
            ErrorKind::DType,
            format!(
                "select_n: cases must share a dtype, got {} and {}",
                first.dtype(),
                c.dtype()
            ),
        );
    }
    if which.dtype() == DType::BOOL {
        if cases.len() != 2 {
            return err(
                ErrorKind::DType,
                format!(
                    "select_n: a bool selector needs 2 cases, got {}",
                    cases.len()
                ),
            );
        }
        return Ok(Array::where_(which, cases[1], cases[0]));
    }
    if which.dtype().is_float() {
        return err(
            ErrorKind::DType,
            format!(
                "select_n: the selector must be bool or integer, got {}",
                which.dtype()
            ),
        );
    }
    let mut out = (*first).clone();
    for (k, c) in cases.iter().enumerate().skip(1) {
        out = Array::where_(&which.greater_equal(k as i32), *c, &out);
    }
    Ok(out)
}

/// `lax.sort` of one operand along `dimension`: stable, NaNs last.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![3i32, 1, 2], &[3]);
/// assert_eq!(lax::sort(&x, -1).to_vec::<i32>(), vec![1, 2, 3]);
/// ```
pub fn sort(operand: &Array, dimension: isize) -> Array {
    crate::primitive::or_panic(rules::sort_along(
        "sort",
        operand,
        Some(dimension),
        false,
        false,
    ))
}

fn cum(name: &str, operand: &Array, axis: isize, reverse: bool, op: CumOp) -> Result<Array> {
    let ax = crate::primitive::axis(name, axis, operand.ndim())?;
    if operand.dtype() == DType::BOOL && matches!(op, CumOp::Sum | CumOp::Prod) {
        return err(
            ErrorKind::DType,
            format!("{name}: not defined on bool (convert with astype first)"),
        );
    }
    Ok(rules::cumulative(operand, op, ax, reverse))
}

macro_rules! cumulative_api {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(operand: &Array, axis: isize, reverse: bool) -> Array {
            crate::primitive::or_panic(cum(stringify!($name), operand, axis, reverse, CumOp::$op))
        }
    )*};
}

cumulative_api! {
    /// `lax.cumsum`: inclusive running sums along `axis`, from the end
    /// when `reverse`.
    ///
    /// ```
    /// use oxjax::{Array, lax};
    /// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// assert_eq!(lax::cumsum(&x, 0, true).to_vec::<f32>(), vec![6.0, 5.0, 3.0]);
    /// ```
    cumsum => Sum;
    /// `lax.cumprod` (see [`cumsum`]).
    ///
    /// ```
    /// use oxjax::{Array, lax};
    /// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// assert_eq!(lax::cumprod(&x, 0, false).to_vec::<f32>(), vec![1.0, 2.0, 6.0]);
    /// ```
    cumprod => Prod;
    /// `lax.cummax` (see [`cumsum`]).
    ///
    /// ```
    /// use oxjax::{Array, lax};
    /// let x = Array::from_vec(vec![1.0f32, 3.0, 2.0], &[3]);
    /// assert_eq!(lax::cummax(&x, 0, false).to_vec::<f32>(), vec![1.0, 3.0, 3.0]);
    /// ```
    cummax => Max;
    /// `lax.cummin` (see [`cumsum`]).
    ///
    /// ```
    /// use oxjax::{Array, lax};
    /// let x = Array::from_vec(vec![1.0f32, 3.0, 0.0], &[3]);
    /// assert_eq!(lax::cummin(&x, 0, true).to_vec::<f32>(), vec![0.0, 0.0, 0.0]);
    /// ```
    cummin => Min;
}

/// `lax.scatter_mul` in the one-axis form of [`scatter`].
pub fn scatter_mul(operand: &Array, indices: &Array, updates: &Array, axis: isize) -> Array {
    scatter(operand, indices, updates, axis, ScatterMode::Mul)
}

/// `lax.scatter_min` in the one-axis form of [`scatter`].
pub fn scatter_min(operand: &Array, indices: &Array, updates: &Array, axis: isize) -> Array {
    scatter(operand, indices, updates, axis, ScatterMode::Min)
}

/// `lax.scatter_max` in the one-axis form of [`scatter`].
pub fn scatter_max(operand: &Array, indices: &Array, updates: &Array, axis: isize) -> Array {
    scatter(operand, indices, updates, axis, ScatterMode::Max)
}

/// `lax.scatter_sub` in the one-axis form of [`scatter`]: adds the negated
/// updates.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::ones(&[3], oxjax::DType::F32);
/// let i = Array::from_vec(vec![2i32, 2], &[2]);
/// let u = Array::from_vec(vec![2.0f32, 3.0], &[2]);
/// assert_eq!(lax::scatter_sub(&x, &i, &u, 0).to_vec::<f32>(), vec![1.0, 1.0, -4.0]);
/// ```
pub fn scatter_sub(operand: &Array, indices: &Array, updates: &Array, axis: isize) -> Array {
    scatter(operand, indices, &-updates, axis, ScatterMode::Add)
}

/// Scalar starts for a block along `axis` only (zero elsewhere), `axis`
/// checked against the operand's rank.
fn starts_in_dim(name: &str, operand: &Array, start: &Array, axis: usize) -> Vec<Array> {
    if axis >= operand.ndim() {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "{name}: axis {axis} is out of range for an operand of shape {:?}",
                operand.shape()
            ),
        );
    }
    (0..operand.ndim())
        .map(|d| {
            if d == axis {
                start.clone()
            } else {
                Array::scalar(0i32)
            }
        })
        .collect()
}

/// `lax.dynamic_slice_in_dim`: [`dynamic_slice`] of `slice_size` elements
/// from the traced `start_index` along `axis` (whole along the others).
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::arange(0.0, 6.0, 1.0, oxjax::DType::F32).reshape(&[2, 3]);
/// let s = lax::dynamic_slice_in_dim(&x, &Array::scalar(1i32), 2, 1);
/// assert_eq!(s.to_vec::<f32>(), vec![1.0, 2.0, 4.0, 5.0]);
/// ```
pub fn dynamic_slice_in_dim(
    operand: &Array,
    start_index: &Array,
    slice_size: usize,
    axis: usize,
) -> Array {
    let starts = starts_in_dim("dynamic_slice_in_dim", operand, start_index, axis);
    let refs: Vec<&Array> = starts.iter().collect();
    let mut sizes = operand.shape().to_vec();
    sizes[axis] = slice_size;
    dynamic_slice(operand, &refs, &sizes)
}

/// `lax.dynamic_index_in_dim`: the slice at the traced `index` along
/// `axis`, that axis kept (length 1) when `keepdims`.
pub fn dynamic_index_in_dim(operand: &Array, index: &Array, axis: usize, keepdims: bool) -> Array {
    let s = dynamic_slice_in_dim(operand, index, 1, axis);
    if keepdims {
        s
    } else {
        s.squeeze(&[axis as isize])
    }
}

/// `lax.dynamic_update_slice_in_dim`: [`dynamic_update_slice`] at the
/// traced `start_index` along `axis` (zero along the others).
pub fn dynamic_update_slice_in_dim(
    operand: &Array,
    update: &Array,
    start_index: &Array,
    axis: usize,
) -> Array {
    let starts = starts_in_dim("dynamic_update_slice_in_dim", operand, start_index, axis);
    let refs: Vec<&Array> = starts.iter().collect();
    dynamic_update_slice(operand, update, &refs)
}

/// `lax.dynamic_update_index_in_dim`: `update` (with or without the
/// length-1 `axis`) written at the traced `index` along `axis`.
pub fn dynamic_update_index_in_dim(
    operand: &Array,
    update: &Array,
    index: &Array,
    axis: usize,
) -> Array {
    let update = if update.ndim() + 1 == operand.ndim() {
        update.expand_dims(axis as isize)
    } else {
        update.clone()
    };
    dynamic_update_slice_in_dim(operand, &update, index, axis)
}

/// `lax.sort_key_val`: `keys` sorted along `dimension` (stable, NaNs
/// last) and `values` permuted the same way.
///
/// ```
/// use oxjax::{Array, lax};
/// let k = Array::from_vec(vec![3.0f32, 1.0, 2.0], &[3]);
/// let v = Array::from_vec(vec![30i32, 10, 20], &[3]);
/// let (k, v) = lax::sort_key_val(&k, &v, -1);
/// assert_eq!((k.to_vec::<f32>(), v.to_vec::<i32>()), (vec![1.0, 2.0, 3.0], vec![10, 20, 30]));
/// ```
pub fn sort_key_val(keys: &Array, values: &Array, dimension: isize) -> (Array, Array) {
    if keys.shape() != values.shape() {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "sort_key_val: keys of shape {:?} and values of shape {:?} must have the same shape",
                keys.shape(),
                values.shape()
            ),
        );
    }
    let ax = crate::primitive::or_panic(crate::primitive::axis(
        "sort_key_val",
        dimension,
        keys.ndim(),
    ));
    let order = rules::argsort(keys, ax, false);
    (
        rules::take_along(keys, &order, ax),
        rules::take_along(values, &order, ax),
    )
}

/// `lax.top_k`: the `k` largest entries along the last axis, largest
/// first (equal entries in index order), and their i32 indices.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1.0f32, 4.0, 2.0, 4.0], &[4]);
/// let (v, i) = lax::top_k(&x, 2);
/// assert_eq!((v.to_vec::<f32>(), i.to_vec::<i32>()), (vec![4.0, 4.0], vec![1, 3]));
/// ```
pub fn top_k(operand: &Array, k: usize) -> (Array, Array) {
    let n = operand.shape().last().copied().unwrap_or_else(|| {
        crate::error::fail(
            crate::ErrorKind::Shape,
            "top_k: needs an operand of rank >= 1, got a scalar",
        )
    });
    if k > n {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "top_k: k = {k} exceeds the last axis of the operand of shape {:?}",
                operand.shape()
            ),
        );
    }
    let last = operand.ndim() - 1;
    let order = rules::argsort(operand, last, true);
    let idx = super::slice_in_dim(&order, 0, k, 1, last);
    (rules::take_along(operand, &idx, last), idx)
}
