//! Indexing: `take`, `take_along_axis`, NumPy indexing (`x.index(..)`) and
//! functional updates (`x.at(..).set(v)`), JAX's `x.at[...]`.
//!
//! Every index — ints, slices with steps, new axes, an ellipsis, integer
//! arrays, boolean masks with a static size — is reduced to one array of
//! flat positions into the raveled operand (NumPy's rules for where
//! advanced-index axes go), so reading is one gather and every update is
//! one scatter. Indexing with only ints, slices and new axes reads through
//! views instead (no kernel).

use crate::Array;
use crate::error::{ErrorKind, Result, err};
use crate::primitive::indexing_rules::{self as rules, ScatterMode, gather, int_index};
pub use crate::{At, Ellipsis, Idx, NewAxis};
use crate::{DType, Scalar};

/// What `take` does with an index outside the axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TakeMode {
    /// Out-of-range indices read a fill value: NaN for floats, the minimum
    /// of signed integers, the maximum of unsigned ones, `true` for bool
    /// (JAX's default).
    Fill,
    /// Indices are clamped into the axis.
    Clip,
    /// Indices wrap around (modulo the axis length).
    Wrap,
}

/// JAX's fill value for out-of-range reads of `dtype`.
fn fill_value(dtype: DType) -> Scalar {
    match dtype {
        DType::BOOL => Scalar::Bool(true),
        DType::I32 => Scalar::I32(i32::MIN),
        DType::U32 => Scalar::U32(u32::MAX),
        DType::I8 => Scalar::I8(i8::MIN),
        DType::U8 => Scalar::U8(u8::MAX),
        d => Scalar::F64(f64::NAN).cast(d),
    }
}

/// Negative indices counted from the end, then `mode` applied; returns the
/// in-range indices and, for `Fill`, the mask of valid ones.
fn normalise(idx: &Array, n: usize, mode: TakeMode) -> (Array, Option<Array>) {
    let n32 = n.max(1) as i32;
    match mode {
        TakeMode::Wrap => (idx.remainder(n32), None),
        TakeMode::Clip => (rules::clamp(idx, n), None),
        TakeMode::Fill => {
            let j = Array::where_(&idx.less(0), idx + n32, idx);
            let ok = rules::in_range(&j, n);
            (rules::clamp(&j, n), Some(ok))
        }
    }
}

fn fill_where(out: Array, ok: Option<Array>) -> Array {
    match ok {
        Some(ok) => {
            let fill = Array::scalar_of(fill_value(out.dtype()));
            Array::where_(&ok, &out, fill).astype(out.dtype())
        }
        None => out,
    }
}

/// `jnp.take`: elements of `a` at `indices` along `axis` (`None`, JAX's
/// default: of the flattened array; an axis may be given bare, `1`, or as
/// `Some(1)`), out-of-range indices read NaN (see [`TakeMode::Fill`]).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![10.0f32, 20.0, 30.0], &[3]);
/// let i = Array::from_vec(vec![2i32, -1, 0], &[3]);
/// assert_eq!(jnp::take(&a, &i, None).to_vec::<f32>(), vec![30.0, 30.0, 10.0]);
/// assert_eq!(jnp::take(&a, &i, 0).to_vec::<f32>(), vec![30.0, 30.0, 10.0]);
/// ```
pub fn take(a: &Array, indices: &Array, axis: impl Into<Option<isize>>) -> Array {
    crate::primitive::or_panic(try_take(a, indices, axis, TakeMode::Fill))
}

/// [`take`] with an explicit out-of-range mode.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// let i = Array::from_vec(vec![5i32], &[1]);
/// let c = jnp::take_mode(&a, &i, Some(1), jnp::TakeMode::Clip);
/// assert_eq!(c.to_vec::<i32>(), vec![2, 4]);
/// ```
pub fn take_mode(
    a: &Array,
    indices: &Array,
    axis: impl Into<Option<isize>>,
    mode: TakeMode,
) -> Array {
    crate::primitive::or_panic(try_take(a, indices, axis, mode))
}

/// [`take_mode`], returning misuse as an error.
pub fn try_take(
    a: &Array,
    indices: &Array,
    axis: impl Into<Option<isize>>,
    mode: TakeMode,
) -> Result<Array> {
    let idx = int_index("take", indices, a)?;
    let (x, axis) = match axis.into() {
        None => (a.reshape(&[-1]), 0),
        Some(ax) => (a.clone(), crate::primitive::axis("take", ax, a.ndim())?),
    };
    let n = x.shape()[axis];
    if n == 0 && idx.size() > 0 {
        return err(
            ErrorKind::Shape,
            format!(
                "take: cannot take from an empty axis {axis} of an array of shape {:?}",
                a.shape()
            ),
        );
    }
    let (j, ok) = normalise(&idx, n, mode);
    let ok = ok.map(|ok| {
        let mut s: Vec<isize> = vec![1; axis];
        s.extend(ok.shape().iter().map(|&d| d as isize));
        s.extend(std::iter::repeat_n(1, x.ndim() - axis - 1));
        ok.reshape(&s)
    });
    Ok(fill_where(gather(&x, &j, axis), ok))
}

/// `jnp.take_along_axis`: `out[.., i, ..] = arr[.., indices[.., i, ..], ..]`
/// along `axis`; `indices` has `arr`'s rank and broadcasts against it on
/// the other axes. Negative indices count from the end; out-of-range ones
/// read NaN (see [`TakeMode::Fill`]).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![3.0f32, 1.0, 2.0, 9.0, 7.0, 8.0], &[2, 3]);
/// let order = jnp::argsort(&a, Some(1), false);
/// let s = jnp::take_along_axis(&a, &order, 1);
/// assert_eq!(s.to_vec::<f32>(), vec![1.0, 2.0, 3.0, 7.0, 8.0, 9.0]);
/// ```
pub fn take_along_axis(arr: &Array, indices: &Array, axis: isize) -> Array {
    crate::primitive::or_panic(try_take_along_axis(arr, indices, axis))
}

/// [`take_along_axis`], returning misuse as an error.
pub fn try_take_along_axis(arr: &Array, indices: &Array, axis: isize) -> Result<Array> {
    let idx = int_index("take_along_axis", indices, arr)?;
    if idx.ndim() != arr.ndim() {
        return err(
            ErrorKind::Shape,
            format!(
                "take_along_axis: indices of shape {:?} must have the rank of the array of shape {:?}",
                idx.shape(),
                arr.shape()
            ),
        );
    }
    let ax = crate::primitive::axis("take_along_axis", axis, arr.ndim())?;
    // Broadcast both on every axis but `ax`.
    let mut shape = Vec::with_capacity(arr.ndim());
    for d in 0..arr.ndim() {
        let (a, i) = (arr.shape()[d], idx.shape()[d]);
        shape.push(match (a, i) {
            _ if d == ax => i,
            (a, i) if a == i || i == 1 => a,
            (1, i) => i,
            _ => {
                return err(ErrorKind::Shape, format!(
                    "take_along_axis: indices of shape {:?} do not broadcast against the array of shape {:?} (axis {d})",
                    idx.shape(),
                    arr.shape()
                ));
            }
        });
    }
    let mut ashape = shape.clone();
    ashape[ax] = arr.shape()[ax];
    let n = ashape[ax];
    if n == 0 && idx.size() > 0 {
        return err(
            ErrorKind::Shape,
            format!(
                "take_along_axis: cannot take from an empty axis of an array of shape {:?}",
                arr.shape()
            ),
        );
    }
    let x = arr.broadcast_to(&ashape);
    let (j, ok) = normalise(&idx.broadcast_to(&shape), n, TakeMode::Fill);
    Ok(fill_where(rules::take_along(&x, &j, ax), ok))
}

/// `jnp.put_along_axis(arr, indices, values, axis, inplace=False)`: a copy
/// of `arr` with `values` written at `indices` along `axis` (the inverse of
/// [`take_along_axis`]). `indices` has `arr`'s rank and broadcasts against
/// it on the other axes; `values` broadcasts to the indices' shape.
/// Negative indices count from the end; out-of-range ones are dropped and,
/// among duplicates, one write wins (JAX's scatter rules).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![10.0f32, 30.0, 20.0, 60.0, 40.0, 50.0], &[2, 3]);
/// let i = jnp::argmax(&a, Some(1), true);
/// let b = jnp::put_along_axis(&a, &i, &Array::scalar(0.0f32), 1);
/// assert_eq!(b.to_vec::<f32>(), vec![10.0, 0.0, 20.0, 0.0, 40.0, 50.0]);
/// ```
pub fn put_along_axis(arr: &Array, indices: &Array, values: &Array, axis: isize) -> Array {
    crate::primitive::or_panic(try_put_along_axis(arr, indices, values, axis))
}

/// [`put_along_axis`], returning misuse as an error.
pub fn try_put_along_axis(
    arr: &Array,
    indices: &Array,
    values: &Array,
    axis: isize,
) -> Result<Array> {
    let name = "put_along_axis";
    let idx = int_index(name, indices, arr)?;
    let ax = crate::primitive::axis(name, axis, arr.ndim())?;
    let fits = idx.ndim() == arr.ndim()
        && (0..arr.ndim())
            .all(|d| d == ax || idx.shape()[d] == arr.shape()[d] || idx.shape()[d] == 1);
    if !fits {
        return err(
            ErrorKind::Shape,
            format!(
                "{name}: indices of shape {:?} must have the rank of the array of shape {:?} \
             and broadcast against it off axis {ax}",
                idx.shape(),
                arr.shape()
            ),
        );
    }
    let mut shape = arr.shape().to_vec();
    shape[ax] = idx.shape()[ax];
    let idx = idx.broadcast_to(&shape);
    let v = values.shape();
    let broadcasts = v.len() <= shape.len()
        && v.iter()
            .rev()
            .zip(shape.iter().rev())
            .all(|(&a, &b)| a == b || a == 1);
    if !broadcasts {
        return err(
            ErrorKind::Shape,
            format!(
                "{name}: values of shape {v:?} do not broadcast to the indices' shape {shape:?}"
            ),
        );
    }
    let vals = values.broadcast_to(&shape).astype(arr.dtype());
    let n = arr.shape()[ax];
    let (j, ok) = normalise(&idx, n, TakeMode::Fill);
    let flat = rules::flat_along(arr.shape(), &j, ax);
    let flat =
        Array::where_(&ok.expect("Fill mode checks the range"), &flat, -1).astype(DType::I32);
    let out = rules::scatter(&arr.reshape(&[-1]), &flat, &vals, ScatterMode::Set, 0);
    Ok(super::reshape_to(&out, arr.shape()))
}
