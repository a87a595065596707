//! Indexing: `take`, `take_along_axis`, NumPy indexing (`x.index(..)`) and
//! functional updates (`x.at(..).set(v)`), JAX's `x.at[...]`.
//!
//! Every index — ints, slices with steps, new axes, an ellipsis, integer
//! arrays, boolean masks with a static size — is reduced to one array of
//! flat positions into the raveled operand (NumPy's rules for where
//! advanced-index axes go), so reading is one gather and every update is
//! one scatter. Indexing with only ints, slices and new axes reads through
//! views instead (no kernel).

use crate::array::{Array, AsArray};
use crate::eager::Slice;
use crate::error::{Result, op_err};
use crate::trace::indexing_rules::{self as rules, ScatterMode, gather, scatter};
use crate::{DType, Scalar};
use std::ops::{Range, RangeFrom, RangeFull, RangeTo};

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

/// Checks that `idx` is an integer array and returns it as i32.
fn int_index(name: &str, idx: &Array, x: &Array) -> Result<Array> {
    match idx.dtype() {
        DType::I32 => Ok(idx.clone()),
        d if d.is_int() => Ok(idx.astype(DType::I32)),
        d => op_err(format!(
            "{name}: indices must be an integer array, got {d} indices of shape {:?} \
             (for an array of shape {:?})",
            idx.shape(),
            x.shape()
        )),
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
    crate::eager::or_panic(try_take(a, indices, axis, TakeMode::Fill))
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
    crate::eager::or_panic(try_take(a, indices, axis, mode))
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
        Some(ax) => (a.clone(), crate::eager::axis("take", ax, a.ndim())?),
    };
    let n = x.shape()[axis];
    if n == 0 && idx.size() > 0 {
        return op_err(format!(
            "take: cannot take from an empty axis {axis} of an array of shape {:?}",
            a.shape()
        ));
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
    crate::eager::or_panic(try_take_along_axis(arr, indices, axis))
}

/// [`take_along_axis`], returning misuse as an error.
pub fn try_take_along_axis(arr: &Array, indices: &Array, axis: isize) -> Result<Array> {
    let idx = int_index("take_along_axis", indices, arr)?;
    if idx.ndim() != arr.ndim() {
        return op_err(format!(
            "take_along_axis: indices of shape {:?} must have the rank of the array of shape {:?}",
            idx.shape(),
            arr.shape()
        ));
    }
    let ax = crate::eager::axis("take_along_axis", axis, arr.ndim())?;
    // Broadcast both on every axis but `ax`.
    let mut shape = Vec::with_capacity(arr.ndim());
    for d in 0..arr.ndim() {
        let (a, i) = (arr.shape()[d], idx.shape()[d]);
        shape.push(match (a, i) {
            _ if d == ax => i,
            (a, i) if a == i || i == 1 => a,
            (1, i) => i,
            _ => {
                return op_err(format!(
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
        return op_err(format!(
            "take_along_axis: cannot take from an empty axis of an array of shape {:?}",
            arr.shape()
        ));
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
    crate::eager::or_panic(try_put_along_axis(arr, indices, values, axis))
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
    let ax = crate::eager::axis(name, axis, arr.ndim())?;
    let fits = idx.ndim() == arr.ndim()
        && (0..arr.ndim())
            .all(|d| d == ax || idx.shape()[d] == arr.shape()[d] || idx.shape()[d] == 1);
    if !fits {
        return op_err(format!(
            "{name}: indices of shape {:?} must have the rank of the array of shape {:?} \
             and broadcast against it off axis {ax}",
            idx.shape(),
            arr.shape()
        ));
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
        return op_err(format!(
            "{name}: values of shape {v:?} do not broadcast to the indices' shape {shape:?}"
        ));
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

// ---- NumPy indexing --------------------------------------------------------

/// NumPy's `np.newaxis`: inserts an axis of length 1.
#[derive(Clone, Copy, Debug)]
pub struct NewAxis;

/// NumPy's `...`: as many whole axes as needed.
#[derive(Clone, Copy, Debug)]
pub struct Ellipsis;

/// One entry of a NumPy index (build lists with [`idx!`](crate::idx)).
#[derive(Clone, Debug)]
pub enum Idx {
    /// One position (negative counts from the end); removes the axis.
    Int(isize),
    /// A basic slice (steps, negative steps).
    Slice(Slice),
    /// A new axis of length 1.
    NewAxis,
    /// Whole axes to fill the index out to the array's rank.
    Ellipsis,
    /// An integer index array (advanced indexing), or a boolean mask over
    /// the next `mask.ndim()` axes with a static number of `true` entries
    /// (JAX requires the size: `jnp.nonzero(mask, size=...)`); missing
    /// entries read position 0 and are not updated.
    Array(Array, Option<usize>),
}

impl Idx {
    /// A boolean mask selecting `size` elements (JAX's static-size rule).
    pub fn mask(mask: &Array, size: usize) -> Idx {
        Idx::Array(mask.clone(), Some(size))
    }
}

impl From<isize> for Idx {
    fn from(i: isize) -> Idx {
        Idx::Int(i)
    }
}
impl From<Slice> for Idx {
    fn from(s: Slice) -> Idx {
        Idx::Slice(s)
    }
}
impl From<Range<isize>> for Idx {
    fn from(r: Range<isize>) -> Idx {
        Idx::Slice(r.into())
    }
}
impl From<RangeFrom<isize>> for Idx {
    fn from(r: RangeFrom<isize>) -> Idx {
        Idx::Slice(r.into())
    }
}
impl From<RangeTo<isize>> for Idx {
    fn from(r: RangeTo<isize>) -> Idx {
        Idx::Slice(r.into())
    }
}
impl From<RangeFull> for Idx {
    fn from(_: RangeFull) -> Idx {
        Idx::Slice(Slice::all())
    }
}
impl From<NewAxis> for Idx {
    fn from(_: NewAxis) -> Idx {
        Idx::NewAxis
    }
}
impl From<Ellipsis> for Idx {
    fn from(_: Ellipsis) -> Idx {
        Idx::Ellipsis
    }
}
impl From<Array> for Idx {
    fn from(a: Array) -> Idx {
        Idx::Array(a, None)
    }
}
impl From<&Array> for Idx {
    fn from(a: &Array) -> Idx {
        Idx::Array(a.clone(), None)
    }
}

/// A NumPy index as an array of [`Idx`]: `idx![0, 1..3, .., NewAxis, Ellipsis, &arr]`
/// (`..` is a whole axis, `:`; `Ellipsis` is `...`; steps via
/// `Slice::from(0..6).step(2)`).
///
/// ```
/// use oxjax::{Array, idx};
/// let x = Array::arange(0.0, 6.0, 1.0, oxjax::DType::F32).reshape(&[2, 3]);
/// assert_eq!(x.index(&idx![1, 1..]).to_vec::<f32>(), vec![4.0, 5.0]);
/// ```
#[macro_export]
macro_rules! idx {
    ($($e:expr),* $(,)?) => {
        [$($crate::numpy::Idx::from($e)),*]
    };
}

/// The index of a mask's padding slots (out of range even after adding the
/// axis length for negative indices).
const PAD: i32 = -(1 << 30);

/// One resolved index entry.
enum Entry {
    /// A source axis read at `start + step * i` for output position `i`.
    /// `len` is `None` for an int (no output axis).
    Basic {
        axis: usize,
        start: isize,
        step: isize,
        len: Option<usize>,
    },
    NewAxis,
    /// A source axis read at an (in-range, i32) index array.
    Adv {
        axis: usize,
        idx: Array,
        ok: Array,
    },
}

/// The flat positions in the raveled `x` that `index` selects, shaped like
/// the result, and a mask of positions whose advanced indices are in range.
fn positions(name: &str, x: &Array, index: &[Idx]) -> Result<(Array, Option<Array>, bool)> {
    let shape = x.shape().to_vec();
    // Expand booleans into integer arrays first.
    let width = |i: &Idx| match i {
        Idx::NewAxis | Idx::Ellipsis => 0,
        Idx::Array(m, _) if m.dtype() == DType::BOOL => m.ndim(),
        _ => 1,
    };
    let mut items: Vec<Idx> = Vec::new();
    for (k, it) in index.iter().enumerate() {
        match it {
            Idx::Array(m, size) if m.dtype() == DType::BOOL => {
                // The axes the mask covers must have its shape (NumPy).
                let before = &index[..k];
                let start = if before.iter().any(|i| matches!(i, Idx::Ellipsis)) {
                    let after: usize = index[k..].iter().map(width).sum();
                    shape.len().checked_sub(after)
                } else {
                    Some(before.iter().map(width).sum())
                };
                let covered = start.and_then(|s| shape.get(s..s + m.ndim()));
                if covered != Some(m.shape()) {
                    return op_err(format!(
                        "{name}: a boolean mask of shape {:?} does not match the axes it indexes \
                         of an array of shape {shape:?}",
                        m.shape()
                    ));
                }
                let Some(size) = size else {
                    return op_err(format!(
                        "{name}: a boolean mask of shape {:?} needs a static size (Idx::mask(&mask, size)), \
                         as in JAX, for an array of shape {shape:?}",
                        m.shape()
                    ));
                };
                // Padding slots get an index below every axis: a read
                // clamps it to position 0 (as JAX), an update drops it.
                for i in super::sorting::nonzero(m, *size, PAD) {
                    items.push(Idx::Array(i, None));
                }
            }
            other => items.push(other.clone()),
        }
    }
    let consumed = items
        .iter()
        .filter(|i| !matches!(i, Idx::NewAxis | Idx::Ellipsis))
        .count();
    let ellipses = items.iter().filter(|i| matches!(i, Idx::Ellipsis)).count();
    if ellipses > 1 || consumed > shape.len() {
        return op_err(format!(
            "{name}: an index of {consumed} entries{} for an array of shape {shape:?}",
            if ellipses > 1 {
                " and several ellipses"
            } else {
                ""
            }
        ));
    }
    let has_adv = items.iter().any(|i| matches!(i, Idx::Array(..)));
    let mut entries = Vec::new();
    let mut d = 0;
    let fill = shape.len() - consumed;
    let expanded: Vec<Idx> = {
        let mut v = Vec::new();
        for it in &items {
            if let Idx::Ellipsis = it {
                v.extend(std::iter::repeat_n(Idx::Slice(Slice::all()), fill));
            } else {
                v.push(it.clone());
            }
        }
        if ellipses == 0 {
            v.extend(std::iter::repeat_n(Idx::Slice(Slice::all()), fill));
        }
        v
    };
    for it in expanded {
        match it {
            Idx::NewAxis => entries.push(Entry::NewAxis),
            Idx::Ellipsis => unreachable!("expanded above"),
            Idx::Int(i) => {
                let n = shape[d] as isize;
                let j = if i < 0 { i + n } else { i };
                if !(0..n).contains(&j) {
                    return op_err(format!(
                        "{name}: index {i} is out of bounds for axis {d} with size {n} (array of shape {shape:?})"
                    ));
                }
                entries.push(if has_adv {
                    let idx = Array::scalar(j as i32);
                    Entry::Adv {
                        axis: d,
                        ok: idx.greater_equal(0),
                        idx,
                    }
                } else {
                    Entry::Basic {
                        axis: d,
                        start: j,
                        step: 0,
                        len: None,
                    }
                });
                d += 1;
            }
            Idx::Slice(s) => {
                let (start, len) = s.resolve(shape[d])?;
                entries.push(Entry::Basic {
                    axis: d,
                    start: start as isize,
                    step: s.step,
                    len: Some(len),
                });
                d += 1;
            }
            Idx::Array(a, _) => {
                let a = int_index(name, &a, x)?;
                let n = shape[d];
                let j = Array::where_(&a.less(0), &a + n as i32, &a);
                entries.push(Entry::Adv {
                    axis: d,
                    ok: rules::in_range(&j, n),
                    idx: rules::clamp(&j, n),
                });
                d += 1;
            }
        }
    }
    // NumPy: adjacent advanced indices stay in place, else they go first.
    let is_adv = |e: &Entry| matches!(e, Entry::Adv { .. });
    let adv_at: Vec<usize> = (0..entries.len())
        .filter(|&k| is_adv(&entries[k]))
        .collect();
    let adv_shape = {
        let shapes: Vec<&[usize]> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Adv { idx, .. } => Some(idx.shape()),
                _ => None,
            })
            .collect();
        crate::eager::broadcast_shapes(name, &shapes)?
    };
    let dims = |es: &[Entry]| -> Vec<usize> {
        es.iter()
            .filter_map(|e| match e {
                Entry::Basic { len, .. } => *len,
                Entry::NewAxis => Some(1),
                Entry::Adv { .. } => None,
            })
            .collect()
    };
    let adjacent = adv_at.windows(2).all(|w| w[1] == w[0] + 1);
    let adv_first = match adv_at.first() {
        Some(&first) if adjacent => dims(&entries[..first]).len(),
        _ => 0,
    };
    let basic = dims(&entries);
    let mut out_shape = basic[..adv_first].to_vec();
    out_shape.extend_from_slice(&adv_shape);
    out_shape.extend_from_slice(&basic[adv_first..]);
    let rank = out_shape.len();
    // The output axis of each dimension-producing basic entry.
    let mut next = 0;
    let slots: Vec<Option<usize>> = entries
        .iter()
        .map(|e| match e {
            Entry::Basic { len: Some(_), .. } | Entry::NewAxis => {
                let o = if next < adv_first {
                    next
                } else {
                    next + adv_shape.len()
                };
                next += 1;
                Some(o)
            }
            _ => None,
        })
        .collect();
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let mut flat = Array::scalar(0i32);
    let mut ok: Option<Array> = None;
    for (e, slot) in entries.iter().zip(&slots) {
        match e {
            Entry::NewAxis => {}
            Entry::Basic {
                axis,
                start,
                step,
                len,
            } => {
                let term = match (slot, len) {
                    (Some(o), Some(len)) => {
                        let mut s = vec![1isize; rank];
                        s[*o] = *len as isize;
                        let i = rules::arange(*len).reshape(&s);
                        i * *step as i32 + *start as i32
                    }
                    _ => Array::scalar(*start as i32),
                };
                flat = flat + term * strides[*axis] as i32;
            }
            Entry::Adv {
                axis,
                idx,
                ok: good,
            } => {
                // Right-align the index's shape within the advanced block.
                let lead = adv_shape.len() - idx.ndim();
                let mut s = vec![1isize; rank];
                for (k, &n) in idx.shape().iter().enumerate() {
                    s[adv_first + lead + k] = n as isize;
                }
                flat = flat + idx.reshape(&s) * strides[*axis] as i32;
                let g = good.reshape(&s);
                ok = Some(match ok {
                    Some(o) => o.bitwise_and(g),
                    None => g,
                });
            }
        }
    }
    Ok((
        flat.broadcast_to(&out_shape),
        ok.map(|o| o.broadcast_to(&out_shape)),
        has_adv,
    ))
}

impl Array {
    /// NumPy indexing, `x[index]`, with an index built by [`idx!`]: ints,
    /// slices (with steps), new axes, an ellipsis, integer arrays and
    /// boolean masks of static size. Advanced indices out of range are
    /// clamped (JAX's gather semantics); out-of-range ints are an error.
    ///
    /// ```
    /// use oxjax::{Array, idx};
    /// let x = Array::arange(0.0, 12.0, 1.0, oxjax::DType::F32).reshape(&[3, 4]);
    /// let rows = Array::from_vec(vec![2i32, 0], &[2]);
    /// assert_eq!(x.index(&idx![&rows, -1]).to_vec::<f32>(), vec![11.0, 3.0]);
    /// ```
    pub fn index(&self, index: &[Idx]) -> Array {
        crate::eager::or_panic(self.try_index(index))
    }

    /// [`Array::index`], returning misuse as an error.
    pub fn try_index(&self, index: &[Idx]) -> Result<Array> {
        let (flat, _, adv) = positions("index", self, index)?;
        if !adv {
            // Basic indexing: views only.
            return basic_view(self, index, flat.shape());
        }
        Ok(gather(&self.reshape(&[-1]), &flat, 0))
    }

    /// JAX's `x.at[index]`: functional updates of the indexed elements
    /// (`set`, `add`, `mul`, `min`, `max`, and `get` to read).
    ///
    /// ```
    /// use oxjax::{Array, idx};
    /// let x = Array::zeros(&[4], oxjax::DType::F32);
    /// let i = Array::from_vec(vec![1i32, 3, 1], &[3]);
    /// assert_eq!(x.at(&idx![&i]).add(1.0).to_vec::<f32>(), vec![0.0, 2.0, 0.0, 1.0]);
    /// ```
    pub fn at(&self, index: &[Idx]) -> At {
        At {
            x: self.clone(),
            index: index.to_vec(),
        }
    }
}

/// Reads a basic index through views (slices, squeezes, new axes).
fn basic_view(x: &Array, index: &[Idx], out_shape: &[usize]) -> Result<Array> {
    let mut slices = Vec::new();
    let mut d = 0;
    let consumed = index
        .iter()
        .filter(|i| !matches!(i, Idx::NewAxis | Idx::Ellipsis))
        .count();
    for it in index {
        match it {
            Idx::Int(i) => {
                let j = if *i < 0 {
                    i + x.shape()[d] as isize
                } else {
                    *i
                };
                slices.push(Slice::from(j..j + 1));
                d += 1;
            }
            Idx::Slice(s) => {
                slices.push(*s);
                d += 1;
            }
            Idx::Ellipsis => {
                for _ in 0..x.ndim() - consumed {
                    slices.push(Slice::all());
                    d += 1;
                }
            }
            Idx::NewAxis | Idx::Array(..) => {}
        }
    }
    let s: Vec<isize> = out_shape.iter().map(|&n| n as isize).collect();
    Ok(x.try_slice(&slices)?.reshape(&s))
}

/// The pending update of [`Array::at`].
pub struct At {
    x: Array,
    index: Vec<Idx>,
}

impl At {
    fn update(&self, name: &str, values: Array, mode: ScatterMode) -> Result<Array> {
        let x = &self.x;
        let (flat, ok, _) = positions(name, x, &self.index)?;
        let shape = flat.shape().to_vec();
        let v = values.astype(x.dtype());
        let v = if v.shape() == shape.as_slice() {
            v
        } else {
            crate::eager::broadcast_shapes(name, &[v.shape(), &shape])
                .ok()
                .filter(|s| *s == shape)
                .map(|_| v.broadcast_to(&shape))
                .ok_or_else(|| {
                    crate::Error::Op(format!(
                        "{name}: values of shape {:?} cannot broadcast to the indexed shape {shape:?} \
                         (array of shape {:?})",
                        values.shape(),
                        x.shape()
                    ))
                })?
        };
        // Out-of-range advanced indices are dropped (JAX's FILL_OR_DROP).
        let flat = match ok {
            Some(ok) => Array::where_(&ok, &flat, -1).astype(DType::I32),
            None => flat,
        };
        let mode = match (mode, x.dtype()) {
            (ScatterMode::Add, DType::BOOL) => ScatterMode::Max,
            (ScatterMode::Mul, DType::BOOL) => ScatterMode::Min,
            (m, _) => m,
        };
        let dims: Vec<isize> = x.shape().iter().map(|&n| n as isize).collect();
        Ok(scatter(&x.reshape(&[-1]), &flat, &v, mode, 0).reshape(&dims))
    }

    /// `x[index] = values` (broadcast); with duplicate indices the last wins.
    pub fn set(&self, values: impl AsArray) -> Array {
        crate::eager::or_panic(self.update("at[].set", values.as_array(), ScatterMode::Set))
    }

    /// `x[index] += values`, accumulating duplicates.
    pub fn add(&self, values: impl AsArray) -> Array {
        crate::eager::or_panic(self.update("at[].add", values.as_array(), ScatterMode::Add))
    }

    /// `x[index] *= values`, accumulating duplicates.
    pub fn mul(&self, values: impl AsArray) -> Array {
        crate::eager::or_panic(self.update("at[].mul", values.as_array(), ScatterMode::Mul))
    }

    /// `x[index] = minimum(x[index], values)`.
    pub fn min(&self, values: impl AsArray) -> Array {
        crate::eager::or_panic(self.update("at[].min", values.as_array(), ScatterMode::Min))
    }

    /// `x[index] = maximum(x[index], values)`.
    pub fn max(&self, values: impl AsArray) -> Array {
        crate::eager::or_panic(self.update("at[].max", values.as_array(), ScatterMode::Max))
    }

    /// `x[index]` (as [`Array::index`]).
    pub fn get(&self) -> Array {
        self.x.index(&self.index)
    }

    /// [`At::set`] and friends, returning misuse as an error.
    pub fn try_apply(&self, mode: ScatterMode, values: &Array) -> Result<Array> {
        self.update("at[]", values.clone(), mode)
    }
}
