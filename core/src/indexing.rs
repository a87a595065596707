//! NumPy indexing on arrays: `x.index(&idx![..])` (ints, slices with
//! steps, new axes, an ellipsis, integer arrays and boolean masks of static
//! size) and functional updates `x.at(&idx![..]).set(v)`, JAX's `x.at[...]`;
//! plus the sorting and scan methods (`x.sort`, `x.argsort`, `x.cumsum`,
//! `x.cumprod`).
//!
//! Every index is reduced to one array of flat positions into the raveled
//! operand (NumPy's rules for where advanced-index axes go), so reading is
//! one gather and every update is one scatter. Indexing with only ints,
//! slices and new axes reads through views instead (no kernel).

use crate::error::{ErrorKind, Result, err};
use crate::trace::indexing_rules::{self as rules, CumOp, ScatterMode, gather, int_index, scatter};
use crate::{Array, AsArray, DType, Slice};
use std::ops::{Range, RangeFrom, RangeFull, RangeTo};

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
/// use oxjax_core::{Array, idx};
/// let x = Array::arange(0.0, 6.0, 1.0, oxjax_core::DType::F32).reshape(&[2, 3]);
/// assert_eq!(x.index(&idx![1, 1..]).to_vec::<f32>(), vec![4.0, 5.0]);
/// ```
#[macro_export]
macro_rules! idx {
    ($($e:expr),* $(,)?) => {
        [$($crate::Idx::from($e)),*]
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
                    return err(
                        ErrorKind::DType,
                        format!(
                            "{name}: a boolean mask of shape {:?} does not match the axes it indexes \
                         of an array of shape {shape:?}",
                            m.shape()
                        ),
                    );
                }
                let Some(size) = size else {
                    return err(
                        ErrorKind::DType,
                        format!(
                            "{name}: a boolean mask of shape {:?} needs a static size (Idx::mask(&mask, size)), \
                         as in JAX, for an array of shape {shape:?}",
                            m.shape()
                        ),
                    );
                };
                // Padding slots get an index below every axis: a read
                // clamps it to position 0 (as JAX), an update drops it.
                for i in rules::nonzero(m, *size, PAD) {
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
        return err(
            ErrorKind::Shape,
            format!(
                "{name}: an index of {consumed} entries{} for an array of shape {shape:?}",
                if ellipses > 1 {
                    " and several ellipses"
                } else {
                    ""
                }
            ),
        );
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
                    return err(
                        ErrorKind::Index,
                        format!(
                            "{name}: index {i} is out of bounds for axis {d} with size {n} (array of shape {shape:?})"
                        ),
                    );
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
    /// use oxjax_core::{Array, idx};
    /// let x = Array::arange(0.0, 12.0, 1.0, oxjax_core::DType::F32).reshape(&[3, 4]);
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
    /// use oxjax_core::{Array, idx};
    /// let x = Array::zeros(&[4], oxjax_core::DType::F32);
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
                    crate::Error::new(ErrorKind::Shape, format!(
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

impl Array {
    /// `x.sort(axis)`: a stable ascending sort along `axis` (`None`:
    /// flattened), NaNs last (`numpy::sort`).
    ///
    /// ```
    /// let x = oxjax_core::Array::from_vec(vec![2i32, 0, 1], &[3]);
    /// assert_eq!(x.sort(Some(-1)).to_vec::<i32>(), vec![0, 1, 2]);
    /// ```
    pub fn sort(&self, axis: Option<isize>) -> Array {
        crate::eager::or_panic(rules::sort_along("sort", self, axis, false, false))
    }

    /// `x.argsort(axis)`: the i32 indices of a stable ascending sort.
    ///
    /// ```
    /// let x = oxjax_core::Array::from_vec(vec![2i32, 0, 1], &[3]);
    /// assert_eq!(x.argsort(Some(0)).to_vec::<i32>(), vec![1, 2, 0]);
    /// ```
    pub fn argsort(&self, axis: Option<isize>) -> Array {
        crate::eager::or_panic(rules::sort_along("argsort", self, axis, false, true))
    }

    /// `x.cumsum(axis)`: inclusive running sums (`None`: flattened; bool
    /// counts as i32).
    ///
    /// ```
    /// let x = oxjax_core::Array::from_vec(vec![1i32, 2, 3], &[3]);
    /// assert_eq!(x.cumsum(None).to_vec::<i32>(), vec![1, 3, 6]);
    /// ```
    pub fn cumsum(&self, axis: Option<isize>) -> Array {
        crate::eager::or_panic(rules::cumulative_along("cumsum", self, axis, CumOp::Sum))
    }

    /// `x.cumprod(axis)`: inclusive running products.
    ///
    /// ```
    /// let x = oxjax_core::Array::from_vec(vec![1i32, 2, 3], &[3]);
    /// assert_eq!(x.cumprod(None).to_vec::<i32>(), vec![1, 2, 6]);
    /// ```
    pub fn cumprod(&self, axis: Option<isize>) -> Array {
        crate::eager::or_panic(rules::cumulative_along("cumprod", self, axis, CumOp::Prod))
    }
}
