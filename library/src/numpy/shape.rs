//! Shape manipulation: reshaping, axis moves, joining and splitting,
//! repetition, rotation, padding modes, `where_`/`select` and differences.
//! Everything is views (slices, broadcasts, reshapes) plus at most one
//! concatenation, so it all fuses under `jit`.

use super::reshape_to;
use crate::error::ErrorKind;
use crate::primitive::{axis as norm_axis, broadcast_shapes as bshapes, or_panic};
use crate::{Array, AsArray, Axes, Slice};

fn ax(name: &str, a: isize, rank: usize) -> usize {
    or_panic(norm_axis(name, a, rank))
}

/// `len` elements along `axis` from `start` by `step` (either sign).
pub(crate) fn slice_axis(x: &Array, axis: usize, start: usize, len: usize, step: isize) -> Array {
    let mut s = vec![Slice::all(); axis + 1];
    let start = start as isize;
    let stop = start + (len as isize - 1) * step + step.signum();
    s[axis] = Slice {
        start: Some(start),
        stop: if len == 0 {
            Some(start)
        } else if stop < 0 {
            None
        } else {
            Some(stop)
        },
        step,
    };
    x.slice(&s)
}

/// Elements at host-known indices along `axis`: runs of evenly spaced
/// indices become strided slices, repeats become broadcasts, and the pieces
/// are joined by one concatenation.
pub(crate) fn take_static(x: &Array, axis: usize, idx: &[usize]) -> Array {
    let mut pieces = Vec::new();
    let mut k = 0;
    while k < idx.len() {
        let step = if k + 1 < idx.len() {
            idx[k + 1] as isize - idx[k] as isize
        } else {
            1
        };
        let mut len = 1;
        while k + len < idx.len() && idx[k + len] as isize - idx[k + len - 1] as isize == step {
            len += 1;
        }
        let piece = if step == 0 {
            let one = slice_axis(x, axis, idx[k], 1, 1);
            let mut shape = one.shape().to_vec();
            shape[axis] = len;
            one.broadcast_to(&shape)
        } else {
            slice_axis(x, axis, idx[k], len, step)
        };
        pieces.push(piece);
        k += len;
    }
    if pieces.is_empty() {
        return slice_axis(x, axis, 0, 0, 1);
    }
    if pieces.len() == 1 {
        return pieces.pop().unwrap();
    }
    Array::concatenate(&pieces.iter().collect::<Vec<_>>(), axis as isize)
}

/// The same elements in a new shape (one axis may be `-1`).
///
/// ```
/// use oxjax::{numpy as jnp};
/// let x = jnp::arange(0, 6, 1, None);
/// assert_eq!(jnp::reshape(&x, &[2, -1]).shape(), &[2, 3]);
/// ```
pub fn reshape(x: &Array, shape: &[isize]) -> Array {
    x.reshape(shape)
}

/// The elements as a 1-d array (row-major).
///
/// ```
/// use oxjax::{DType, numpy as jnp};
/// assert_eq!(jnp::ravel(&jnp::zeros(&[2, 3], None)).shape(), &[6]);
/// ```
pub fn ravel(x: &Array) -> Array {
    x.reshape(&[-1])
}

/// Permutes the axes (`None`: reverses them).
///
/// ```
/// use oxjax::numpy as jnp;
/// let x = jnp::zeros(&[2, 3, 4], None);
/// assert_eq!(jnp::transpose(&x, None).shape(), &[4, 3, 2]);
/// assert_eq!(jnp::transpose(&x, Some(&[1, 0, 2])).shape(), &[3, 2, 4]);
/// ```
pub fn transpose(x: &Array, axes: Option<&[usize]>) -> Array {
    match axes {
        Some(p) => x.transpose(p),
        None => x.t(),
    }
}

/// Alias of [`transpose`] with an explicit permutation.
pub fn permute_dims(x: &Array, axes: &[usize]) -> Array {
    x.transpose(axes)
}

/// Swaps the last two axes (a batch of matrices transposed).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::matrix_transpose(&jnp::zeros(&[5, 2, 3], None)).shape(), &[5, 3, 2]);
/// ```
pub fn matrix_transpose(x: &Array) -> Array {
    assert!(
        x.ndim() >= 2,
        "matrix_transpose: needs rank >= 2, got shape {:?}",
        x.shape()
    );
    swapaxes(x, -1, -2)
}

fn axis_list(name: &str, axes: Axes, rank: usize) -> Vec<usize> {
    match axes {
        Axes::All => (0..rank).collect(),
        Axes::Some(v) => v.iter().map(|&a| ax(name, a, rank)).collect(),
    }
}

/// Moves axes `source` to positions `destination` (other axes keep their order).
///
/// ```
/// use oxjax::numpy as jnp;
/// let x = jnp::zeros(&[2, 3, 4], None);
/// assert_eq!(jnp::moveaxis(&x, 0, -1).shape(), &[3, 4, 2]);
/// assert_eq!(jnp::moveaxis(&x, [0, 1], [2, 0]).shape(), &[3, 4, 2]);
/// ```
pub fn moveaxis(x: &Array, source: impl Into<Axes>, destination: impl Into<Axes>) -> Array {
    let r = x.ndim();
    let src = axis_list("moveaxis", source.into(), r);
    let dst = axis_list("moveaxis", destination.into(), r);
    assert_eq!(
        src.len(),
        dst.len(),
        "moveaxis: {} source axes but {} destinations",
        src.len(),
        dst.len()
    );
    let mut rest = (0..r).filter(|d| !src.contains(d));
    let mut perm = vec![usize::MAX; r];
    for (&s, &d) in src.iter().zip(&dst) {
        perm[d] = s;
    }
    for p in perm.iter_mut().filter(|p| **p == usize::MAX) {
        *p = rest.next().expect("moveaxis: repeated destination axis");
    }
    x.transpose(&perm)
}

/// Exchanges two axes.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::swapaxes(&jnp::zeros(&[2, 3, 4], None), 0, 2).shape(), &[4, 3, 2]);
/// ```
pub fn swapaxes(x: &Array, axis1: isize, axis2: isize) -> Array {
    let r = x.ndim();
    let (a, b) = (ax("swapaxes", axis1, r), ax("swapaxes", axis2, r));
    let mut perm: Vec<usize> = (0..r).collect();
    perm.swap(a, b);
    x.transpose(&perm)
}

/// Moves `axis` to before position `start` (NumPy's older API).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::rollaxis(&jnp::zeros(&[2, 3, 4], None), 2, 0).shape(), &[4, 2, 3]);
/// ```
pub fn rollaxis(x: &Array, axis: isize, start: isize) -> Array {
    let r = x.ndim();
    let a = ax("rollaxis", axis, r);
    let s = if start < 0 { start + r as isize } else { start };
    assert!(
        (0..=r as isize).contains(&s),
        "rollaxis: start {start} out of range for rank {r}"
    );
    let s = s as usize;
    let to = if a < s { s - 1 } else { s };
    moveaxis(x, a as isize, to as isize)
}

/// Inserts axes of length 1 at the given positions of the result.
///
/// ```
/// use oxjax::numpy as jnp;
/// let x = jnp::zeros(&[3], None);
/// assert_eq!(jnp::expand_dims(&x, [0, -1]).shape(), &[1, 3, 1]);
/// ```
pub fn expand_dims(x: &Array, axes: impl Into<Axes>) -> Array {
    let axes = axes.into();
    let n = match &axes {
        Axes::All => {
            crate::error::fail(crate::ErrorKind::Shape, "expand_dims: needs explicit axes")
        }
        Axes::Some(v) => v.len(),
    };
    let out_rank = x.ndim() + n;
    let mut pos = or_panic(axes.resolve("expand_dims", out_rank));
    pos.sort_unstable();
    let mut dims = x.shape().iter();
    let shape: Vec<usize> = (0..out_rank)
        .map(|d| {
            if pos.contains(&d) {
                1
            } else {
                *dims.next().unwrap()
            }
        })
        .collect();
    reshape_to(x, &shape)
}

/// Removes axes of length 1 (`Axes::All`: every such axis).
///
/// ```
/// use oxjax::{Axes, numpy as jnp};
/// let x = jnp::zeros(&[1, 3, 1], None);
/// assert_eq!(jnp::squeeze(&x, Axes::All).shape(), &[3]);
/// assert_eq!(jnp::squeeze(&x, 0).shape(), &[3, 1]);
/// ```
pub fn squeeze(x: &Array, axes: impl Into<Axes>) -> Array {
    match axes.into() {
        Axes::All => x.squeeze(&[]),
        Axes::Some(v) if v.is_empty() => x.clone(),
        Axes::Some(v) => x.squeeze(&v),
    }
}

/// Broadcasts `x` to `shape`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(jnp::broadcast_to(&x, &[2, 2]).to_vec::<i32>(), vec![1, 2, 1, 2]);
/// ```
pub fn broadcast_to(x: &Array, shape: &[usize]) -> Array {
    x.broadcast_to(shape)
}

/// The shape all `shapes` broadcast to.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::broadcast_shapes(&[&[2, 1], &[3]]), vec![2, 3]);
/// ```
pub fn broadcast_shapes(shapes: &[&[usize]]) -> Vec<usize> {
    or_panic(bshapes("broadcast_shapes", shapes))
}

/// The arrays broadcast to their common shape.
///
/// ```
/// use oxjax::numpy as jnp;
/// let v = jnp::broadcast_arrays(&[&jnp::zeros(&[2, 1], None), &jnp::zeros(&[3], None)]);
/// assert_eq!(v[1].shape(), &[2, 3]);
/// ```
pub fn broadcast_arrays(arrays: &[&Array]) -> Vec<Array> {
    let shapes: Vec<&[usize]> = arrays.iter().map(|a| a.shape()).collect();
    let s = or_panic(bshapes("broadcast_arrays", &shapes));
    arrays.iter().map(|a| a.broadcast_to(&s)).collect()
}

/// `x` with at least one axis.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let s = Array::scalar(1.0f32);
/// assert_eq!(jnp::atleast_1d(&s).shape(), &[1]);
/// assert_eq!(jnp::atleast_2d(&s).shape(), &[1, 1]);
/// assert_eq!(jnp::atleast_3d(&jnp::zeros(&[2, 3], None)).shape(), &[2, 3, 1]);
/// ```
pub fn atleast_1d(x: &Array) -> Array {
    if x.ndim() >= 1 {
        x.clone()
    } else {
        x.reshape(&[1])
    }
}

/// `x` with at least two axes (new ones in front).
pub fn atleast_2d(x: &Array) -> Array {
    match x.ndim() {
        0 => x.reshape(&[1, 1]),
        1 => x.expand_dims(0),
        _ => x.clone(),
    }
}

/// `x` with at least three axes: `[n]` → `[1, n, 1]`, `[m, n]` → `[m, n, 1]`.
pub fn atleast_3d(x: &Array) -> Array {
    match x.ndim() {
        0 => x.reshape(&[1, 1, 1]),
        1 => x.reshape(&[1, -1, 1]),
        2 => x.expand_dims(2),
        _ => x.clone(),
    }
}

/// Joins arrays along an existing axis (`None`: flattens them first).
///
/// ```
/// use oxjax::numpy as jnp;
/// let a = jnp::zeros(&[2, 3], None);
/// assert_eq!(jnp::concatenate(&[&a, &a], Some(1)).shape(), &[2, 6]);
/// assert_eq!(jnp::concatenate(&[&a, &a], None).shape(), &[12]);
/// ```
pub fn concatenate(arrays: &[&Array], axis: Option<isize>) -> Array {
    match axis {
        Some(a) => Array::concatenate(arrays, a),
        None => {
            let flat: Vec<Array> = arrays.iter().map(|a| ravel(a)).collect();
            Array::concatenate(&flat.iter().collect::<Vec<_>>(), 0)
        }
    }
}

/// A nested list of arrays for [`block`] (Python's nested lists).
#[derive(Clone, Debug)]
pub enum Block<'a> {
    /// A leaf array.
    Array(&'a Array),
    /// A list of blocks, all of one nesting depth.
    List(Vec<Block<'a>>),
}

impl<'a> From<&'a Array> for Block<'a> {
    fn from(a: &'a Array) -> Self {
        Block::Array(a)
    }
}

impl<'a, B: Into<Block<'a>>> From<Vec<B>> for Block<'a> {
    fn from(v: Vec<B>) -> Self {
        Block::List(v.into_iter().map(Into::into).collect())
    }
}

impl Block<'_> {
    /// The list nesting depth, checked to be the same for every leaf.
    fn depth(&self) -> usize {
        match self {
            Block::Array(_) => 0,
            Block::List(v) => {
                let ds: Vec<usize> = v.iter().map(Block::depth).collect();
                if ds.windows(2).any(|w| w[0] != w[1]) {
                    crate::error::fail(
                        crate::ErrorKind::Value,
                        format!("block: lists nested to different depths {ds:?}"),
                    );
                }
                if v.is_empty() {
                    crate::error::fail(crate::ErrorKind::Value, "block: an empty list");
                }
                1 + ds[0]
            }
        }
    }

    fn max_ndim(&self) -> usize {
        match self {
            Block::Array(a) => a.ndim(),
            Block::List(v) => v.iter().map(Block::max_ndim).max().unwrap_or(0),
        }
    }

    /// Leaves raised to `rank` (leading 1s); a list at nesting level `level`
    /// (1 innermost) is joined along axis `-level`.
    fn assemble(&self, rank: usize) -> Array {
        match self {
            Block::Array(a) => {
                let mut s = vec![1usize; rank - a.ndim()];
                s.extend_from_slice(a.shape());
                reshape_to(a, &s)
            }
            Block::List(v) => {
                let parts: Vec<Array> = v.iter().map(|b| b.assemble(rank)).collect();
                let axis = -(self.depth() as isize);
                Array::concatenate(&parts.iter().collect::<Vec<_>>(), axis)
            }
        }
    }
}

/// `jnp.block`: assembles an array from nested lists of blocks. The
/// innermost lists join along the last axis, the next along the one before,
/// and so on; every array is first given leading axes of size 1 up to the
/// larger of the nesting depth and the largest rank.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = jnp::eye(2, None, 0, None);
/// let z = jnp::zeros(&[2, 1], None);
/// let r = Array::from_vec(vec![7.0f32, 8.0, 9.0], &[3]);
/// let m = jnp::block(vec![vec![&a, &z], vec![&r]]);
/// assert_eq!(m.shape(), &[3, 3]);
/// assert_eq!(m.to_vec::<f32>(), vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 7.0, 8.0, 9.0]);
/// ```
pub fn block<'a>(arrays: impl Into<Block<'a>>) -> Array {
    let b = arrays.into();
    let rank = b.depth().max(b.max_ndim());
    b.assemble(rank)
}

/// Alias of [`concatenate`] (the array API's name).
pub fn concat(arrays: &[&Array], axis: Option<isize>) -> Array {
    concatenate(arrays, axis)
}

/// Joins arrays of one shape along a new axis.
///
/// ```
/// use oxjax::numpy as jnp;
/// let a = jnp::zeros(&[2, 3], None);
/// assert_eq!(jnp::stack(&[&a, &a], 1).shape(), &[2, 2, 3]);
/// ```
pub fn stack(arrays: &[&Array], axis: isize) -> Array {
    Array::stack(arrays, axis)
}

/// Splits `x` into its slices along `axis` (the inverse of [`stack`]).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::unstack(&jnp::zeros(&[2, 3], None), 1).len(), 3);
/// ```
pub fn unstack(x: &Array, axis: isize) -> Vec<Array> {
    let a = ax("unstack", axis, x.ndim());
    (0..x.shape()[a])
        .map(|i| slice_axis(x, a, i, 1, 1).squeeze(&[a as isize]))
        .collect()
}

/// Stacks horizontally: along axis 1 (axis 0 for 1-d arrays).
///
/// ```
/// use oxjax::numpy as jnp;
/// let a = jnp::zeros(&[2], None);
/// assert_eq!(jnp::hstack(&[&a, &a]).shape(), &[4]);
/// assert_eq!(jnp::vstack(&[&a, &a]).shape(), &[2, 2]);
/// assert_eq!(jnp::dstack(&[&a, &a]).shape(), &[1, 2, 2]);
/// assert_eq!(jnp::column_stack(&[&a, &a]).shape(), &[2, 2]);
/// ```
pub fn hstack(arrays: &[&Array]) -> Array {
    let v: Vec<Array> = arrays.iter().map(|a| atleast_1d(a)).collect();
    let axis = if v.iter().all(|a| a.ndim() == 1) {
        0
    } else {
        1
    };
    Array::concatenate(&v.iter().collect::<Vec<_>>(), axis)
}

/// Stacks vertically: along axis 0 of the arrays made at least 2-d.
pub fn vstack(arrays: &[&Array]) -> Array {
    let v: Vec<Array> = arrays.iter().map(|a| atleast_2d(a)).collect();
    Array::concatenate(&v.iter().collect::<Vec<_>>(), 0)
}

/// Stacks depth-wise: along axis 2 of the arrays made at least 3-d.
pub fn dstack(arrays: &[&Array]) -> Array {
    let v: Vec<Array> = arrays.iter().map(|a| atleast_3d(a)).collect();
    Array::concatenate(&v.iter().collect::<Vec<_>>(), 2)
}

/// Stacks 1-d arrays as columns (2-d arrays join along axis 1).
pub fn column_stack(arrays: &[&Array]) -> Array {
    let v: Vec<Array> = arrays
        .iter()
        .map(|a| {
            if a.ndim() < 2 {
                atleast_1d(a).reshape(&[-1, 1])
            } else {
                (*a).clone()
            }
        })
        .collect();
    Array::concatenate(&v.iter().collect::<Vec<_>>(), 1)
}

/// How [`split`] divides an axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sections {
    /// Into this many pieces.
    Count(usize),
    /// At these indices (negative counts from the end).
    Indices(Vec<isize>),
}

impl From<usize> for Sections {
    fn from(n: usize) -> Sections {
        Sections::Count(n)
    }
}

impl From<&[isize]> for Sections {
    fn from(v: &[isize]) -> Sections {
        Sections::Indices(v.to_vec())
    }
}

impl<const N: usize> From<[isize; N]> for Sections {
    fn from(v: [isize; N]) -> Sections {
        Sections::Indices(v.to_vec())
    }
}

fn split_impl(name: &str, x: &Array, sections: Sections, axis: isize, even: bool) -> Vec<Array> {
    let a = ax(name, axis, x.ndim());
    let n = x.shape()[a];
    let bounds: Vec<usize> = match sections {
        Sections::Count(k) => {
            assert!(k > 0, "{name}: number of sections must be positive");
            if even && !n.is_multiple_of(k) {
                crate::error::fail(
                    crate::ErrorKind::Shape,
                    format!(
                        "{name}: axis {a} of length {n} does not split into {k} equal sections"
                    ),
                );
            }
            // array_split: the first n % k pieces are one longer.
            let (q, r) = (n / k, n % k);
            (0..=k).map(|i| i * q + i.min(r)).collect()
        }
        Sections::Indices(v) => {
            let mut b = vec![0];
            for i in v {
                let i = if i < 0 { i + n as isize } else { i };
                b.push(i.clamp(0, n as isize) as usize);
            }
            b.push(n);
            b
        }
    };
    bounds
        .windows(2)
        .map(|w| {
            let (lo, hi) = (w[0], w[1].max(w[0]));
            slice_axis(x, a, lo, hi - lo, 1)
        })
        .collect()
}

/// Splits into equal sections (`Sections::Count`) or at indices.
///
/// ```
/// use oxjax::numpy as jnp;
/// let x = jnp::arange(0, 6, 1, None);
/// let parts = jnp::split(&x, 3, 0);
/// assert_eq!(parts[1].to_vec::<i32>(), vec![2, 3]);
/// let parts = jnp::split(&x, [1, 4], 0);
/// assert_eq!(parts[1].to_vec::<i32>(), vec![1, 2, 3]);
/// assert_eq!(jnp::array_split(&x, 4, 0)[0].to_vec::<i32>(), vec![0, 1]);
/// ```
pub fn split(x: &Array, sections: impl Into<Sections>, axis: isize) -> Vec<Array> {
    split_impl("split", x, sections.into(), axis, true)
}

/// Like [`split`], but a count need not divide the axis evenly.
pub fn array_split(x: &Array, sections: impl Into<Sections>, axis: isize) -> Vec<Array> {
    split_impl("array_split", x, sections.into(), axis, false)
}

/// Splits along axis 1 (axis 0 for 1-d arrays).
pub fn hsplit(x: &Array, sections: impl Into<Sections>) -> Vec<Array> {
    let axis = if x.ndim() == 1 { 0 } else { 1 };
    split_impl("hsplit", x, sections.into(), axis, true)
}

/// Splits along axis 0.
pub fn vsplit(x: &Array, sections: impl Into<Sections>) -> Vec<Array> {
    split_impl("vsplit", x, sections.into(), 0, true)
}

/// Splits along axis 2.
pub fn dsplit(x: &Array, sections: impl Into<Sections>) -> Vec<Array> {
    split_impl("dsplit", x, sections.into(), 2, true)
}

/// Repeats the whole array `reps[i]` times along each axis.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(jnp::tile(&x, &[2]).to_vec::<i32>(), vec![1, 2, 1, 2]);
/// assert_eq!(jnp::tile(&x, &[2, 1]).shape(), &[2, 2]);
/// ```
pub fn tile(x: &Array, reps: &[usize]) -> Array {
    crate::lax::tile(x, reps)
}

/// Repeats each element: `repeats` is one count for all, or one per
/// element along `axis` (`None`: of the flattened array).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(jnp::repeat(&x, &[2], None).to_vec::<i32>(), vec![1, 1, 2, 2]);
/// assert_eq!(jnp::repeat(&x, &[1, 3], Some(0)).to_vec::<i32>(), vec![1, 2, 2, 2]);
/// ```
pub fn repeat(x: &Array, repeats: &[usize], axis: Option<isize>) -> Array {
    let (x, a) = match axis {
        None => (ravel(x), 0),
        Some(a) => (x.clone(), ax("repeat", a, x.ndim())),
    };
    let n = x.shape()[a];
    if let [k] = repeats {
        let mut inter = x.shape().to_vec();
        inter.insert(a + 1, 1);
        let mut big = inter.clone();
        big[a + 1] = *k;
        let mut out = x.shape().to_vec();
        out[a] = n * k;
        return reshape_to(&reshape_to(&x, &inter).broadcast_to(&big), &out);
    }
    assert_eq!(
        repeats.len(),
        n,
        "repeat: {} counts for an axis of length {n}",
        repeats.len()
    );
    let idx: Vec<usize> = repeats
        .iter()
        .enumerate()
        .flat_map(|(i, &k)| std::iter::repeat_n(i, k))
        .collect();
    take_static(&x, a, &idx)
}

/// Rolls elements by `shift` along `axis` (`None`: the flattened array);
/// elements leaving one end enter at the other.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4], &[4]);
/// assert_eq!(jnp::roll(&x, 1, None).to_vec::<i32>(), vec![4, 1, 2, 3]);
/// assert_eq!(jnp::roll(&x, -1, Some(0)).to_vec::<i32>(), vec![2, 3, 4, 1]);
/// ```
pub fn roll(x: &Array, shift: isize, axis: Option<isize>) -> Array {
    let Some(axis) = axis else {
        return roll(&ravel(x), shift, Some(0))
            .reshape(&x.shape().iter().map(|&d| d as isize).collect::<Vec<_>>());
    };
    let a = ax("roll", axis, x.ndim());
    let n = x.shape()[a];
    if n == 0 {
        return x.clone();
    }
    let s = shift.rem_euclid(n as isize) as usize;
    if s == 0 {
        return x.clone();
    }
    let tail = slice_axis(x, a, n - s, s, 1);
    let head = slice_axis(x, a, 0, n - s, 1);
    Array::concatenate(&[&tail, &head], a as isize)
}

/// Reverses the given axes (`Axes::All`: every axis).
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// assert_eq!(jnp::flip(&x, Axes::All).to_vec::<i32>(), vec![4, 3, 2, 1]);
/// assert_eq!(jnp::fliplr(&x).to_vec::<i32>(), vec![2, 1, 4, 3]);
/// assert_eq!(jnp::flipud(&x).to_vec::<i32>(), vec![3, 4, 1, 2]);
/// ```
pub fn flip(x: &Array, axes: impl Into<Axes>) -> Array {
    match axes.into() {
        Axes::All => x.flip(&[]),
        Axes::Some(v) if v.is_empty() => x.clone(),
        Axes::Some(v) => x.flip(&v),
    }
}

/// Reverses axis 1.
pub fn fliplr(x: &Array) -> Array {
    assert!(
        x.ndim() >= 2,
        "fliplr: needs rank >= 2, got shape {:?}",
        x.shape()
    );
    x.flip(&[1])
}

/// Reverses axis 0.
pub fn flipud(x: &Array) -> Array {
    assert!(
        x.ndim() >= 1,
        "flipud: needs rank >= 1, got shape {:?}",
        x.shape()
    );
    x.flip(&[0])
}

/// Rotates by 90° `k` times in the plane of `axes` (from the first axis
/// toward the second).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// assert_eq!(jnp::rot90(&x, 1, (0, 1)).to_vec::<i32>(), vec![2, 4, 1, 3]);
/// ```
pub fn rot90(x: &Array, k: isize, axes: (isize, isize)) -> Array {
    let r = x.ndim();
    let (a, b) = (ax("rot90", axes.0, r), ax("rot90", axes.1, r));
    assert!(a != b, "rot90: axes must differ, got {axes:?}");
    match k.rem_euclid(4) {
        0 => x.clone(),
        1 => swapaxes(&x.flip(&[b as isize]), a as isize, b as isize),
        2 => x.flip(&[a as isize, b as isize]),
        _ => swapaxes(x, a as isize, b as isize).flip(&[b as isize]),
    }
}

/// How [`pad`] fills the new elements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    /// A constant value.
    Constant(f64),
    /// The edge value repeated.
    Edge,
    /// Mirrored without repeating the edge: `[3, 2 | 1, 2, 3 | 2, 1]`.
    Reflect,
    /// Mirrored repeating the edge: `[2, 1 | 1, 2, 3 | 3, 2]`.
    Symmetric,
    /// Periodic: `[2, 3 | 1, 2, 3 | 1, 2]`.
    Wrap,
    /// A linear ramp from this end value to the edge value.
    LinearRamp(f64),
    /// The maximum of the axis.
    Maximum,
    /// The minimum of the axis.
    Minimum,
    /// The mean of the axis.
    Mean,
}

/// Pads each axis by `(before, after)` elements filled according to `mode`.
/// Axes are padded one after another, so corners see padded neighbours (as
/// in NumPy).
///
/// Partial: no stat_length or reflect_type (per-side constants: `pad_constant`).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// use jnp::PadMode;
/// let x = Array::from_vec(vec![1i32, 2, 3], &[3]);
/// assert_eq!(jnp::pad(&x, &[(2, 2)], PadMode::Reflect).to_vec::<i32>(), vec![3, 2, 1, 2, 3, 2, 1]);
/// assert_eq!(jnp::pad(&x, &[(1, 2)], PadMode::Wrap).to_vec::<i32>(), vec![3, 1, 2, 3, 1, 2]);
/// assert_eq!(jnp::pad(&x, &[(1, 1)], PadMode::Constant(9.0)).to_vec::<i32>(), vec![9, 1, 2, 3, 9]);
/// ```
pub fn pad(x: &Array, widths: &[(usize, usize)], mode: PadMode) -> Array {
    or_panic(try_pad(x, widths, mode))
}

/// [`pad`], returning misuse as an error.
pub fn try_pad(x: &Array, widths: &[(usize, usize)], mode: PadMode) -> crate::Result<Array> {
    let widths: Vec<(usize, usize)> = match widths.len() {
        1 => vec![widths[0]; x.ndim()],
        n if n == x.ndim() => widths.to_vec(),
        n => {
            return Err(crate::Error::new(
                ErrorKind::Shape,
                format!(
                    "pad: {n} (before, after) pairs for an array of shape {:?}",
                    x.shape()
                ),
            ));
        }
    };
    if let PadMode::Constant(v) = mode {
        return x.try_pad(&widths, v);
    }
    let mut y = x.clone();
    for (a, &(lo, hi)) in widths.iter().enumerate() {
        if lo == 0 && hi == 0 {
            continue;
        }
        let n = y.shape()[a];
        if n == 0 {
            return Err(crate::Error::new(
                ErrorKind::Shape,
                format!(
                    "pad: cannot pad the empty axis {a} of shape {:?} in mode {mode:?}",
                    x.shape()
                ),
            ));
        }
        y = pad_axis(&y, a, n, lo, hi, mode);
    }
    Ok(y)
}

/// `jnp.pad(x, widths, mode="constant", constant_values=values)` with a
/// constant per side: `values` holds one `(before, after)` pair per axis
/// (or one pair for all). Axes are padded in order, so a corner takes the
/// value of the later axis (as NumPy and JAX).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// let y = jnp::pad_constant(&x, &[(1, 0), (0, 1)], &[(7.0, 8.0), (5.0, 6.0)]);
/// assert_eq!(y.to_vec::<i32>(), vec![7, 7, 6, 1, 2, 6, 3, 4, 6]);
/// ```
pub fn pad_constant(x: &Array, widths: &[(usize, usize)], values: &[(f64, f64)]) -> Array {
    or_panic(try_pad_constant(x, widths, values))
}

/// [`pad_constant`], returning misuse as an error.
pub fn try_pad_constant(
    x: &Array,
    widths: &[(usize, usize)],
    values: &[(f64, f64)],
) -> crate::Result<Array> {
    let per_axis = |what: &str, n: usize| -> crate::Result<()> {
        if n == 1 || n == x.ndim() {
            Ok(())
        } else {
            Err(crate::Error::new(
                ErrorKind::Shape,
                format!(
                    "pad: {n} {what} pairs for an array of shape {:?} (give 1 or one per axis)",
                    x.shape()
                ),
            ))
        }
    };
    per_axis("(before, after) width", widths.len())?;
    per_axis("(before, after) constant_values", values.len())?;
    let pick = |v: &[(usize, usize)], a: usize| if v.len() == 1 { v[0] } else { v[a] };
    let mut y = x.clone();
    for a in 0..x.ndim() {
        let (lo, hi) = pick(widths, a);
        let (vlo, vhi) = if values.len() == 1 {
            values[0]
        } else {
            values[a]
        };
        for (w, v, before) in [(lo, vlo, true), (hi, vhi, false)] {
            if w > 0 {
                let mut side = vec![(0, 0); x.ndim()];
                side[a] = if before { (w, 0) } else { (0, w) };
                y = y.try_pad(&side, v)?;
            }
        }
    }
    Ok(y)
}

fn pad_axis(y: &Array, a: usize, n: usize, lo: usize, hi: usize, mode: PadMode) -> Array {
    let wide = |piece: &Array, len: usize| {
        let mut s = piece.shape().to_vec();
        s[a] = len;
        piece.broadcast_to(&s)
    };
    let side = |fill: &Array| -> Array {
        let (b, e) = (wide(fill, lo), wide(fill, hi));
        Array::concatenate(&[&b, y, &e], a as isize)
    };
    let map = |f: &dyn Fn(isize) -> usize| -> Array {
        let idx: Vec<usize> = (0..lo + n + hi)
            .map(|i| f(i as isize - lo as isize))
            .collect();
        take_static(y, a, &idx)
    };
    let ni = n as isize;
    match mode {
        PadMode::Constant(_) => unreachable!("handled by try_pad"),
        PadMode::Edge => map(&|j| j.clamp(0, ni - 1) as usize),
        PadMode::Wrap => map(&|j| j.rem_euclid(ni) as usize),
        PadMode::Reflect => map(&|j| {
            if n == 1 {
                return 0;
            }
            let p = 2 * (ni - 1);
            let m = j.rem_euclid(p);
            (if m >= ni { p - m } else { m }) as usize
        }),
        PadMode::Symmetric => map(&|j| {
            let p = 2 * ni;
            let m = j.rem_euclid(p);
            (if m >= ni { p - 1 - m } else { m }) as usize
        }),
        PadMode::Maximum => side(&y.max(a as isize, true)),
        PadMode::Minimum => side(&y.min(a as isize, true)),
        PadMode::Mean => {
            let m = y.mean(a as isize, true);
            side(
                &(if y.dtype().is_float() {
                    m
                } else {
                    m.round().astype(y.dtype())
                }),
            )
        }
        PadMode::LinearRamp(end) => {
            let ramp = |len: usize, edge: &Array, rising: bool| {
                // k/len for k = 0..len (rising) or (len-k)/len, shaped along axis a.
                let mut s = vec![1; y.ndim()];
                s[a] = len;
                let fd = super::to_float_dtype(y.dtype());
                let k = Array::arange(0.0, len as f64, 1.0, fd);
                // Before: end .. towards the edge; after: from the edge to end.
                let t = if rising {
                    k / len as f64
                } else {
                    (len as f64 - 1.0 - k) / len as f64
                };
                let t = reshape_to(&t, &s);
                let e = super::lit(&t, end);
                let v = (edge.astype(fd) - &e) * t + &e;
                let v = if y.dtype().is_float() { v } else { v.trunc() };
                v.astype(y.dtype())
            };
            let first = slice_axis(y, a, 0, 1, 1);
            let last = slice_axis(y, a, n - 1, 1, 1);
            let b = ramp(lo, &first, true);
            let e = ramp(hi, &last, false);
            Array::concatenate(&[&b, y, &e], a as isize)
        }
    }
}

/// `cond ? x : y` elementwise with broadcasting (`where` is a Rust keyword).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, -2.0], &[2]);
/// assert_eq!(jnp::where_(&x.greater(0.0), &x, 0.0).to_vec::<f32>(), vec![1.0, 0.0]);
/// ```
pub fn where_(cond: &Array, x: impl AsArray, y: impl AsArray) -> Array {
    Array::where_(cond, x, y)
}

/// The element of the first true condition's choice, else `default`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![-1.0f32, 0.0, 3.0], &[3]);
/// let pos = x.greater(0.0);
/// let neg = x.less(0.0);
/// let y = jnp::select(&[&pos, &neg], &[&x, &(-&x * 10.0)], 5.0);
/// assert_eq!(y.to_vec::<f32>(), vec![10.0, 5.0, 3.0]);
/// ```
pub fn select(condlist: &[&Array], choicelist: &[&Array], default: impl AsArray) -> Array {
    assert_eq!(
        condlist.len(),
        choicelist.len(),
        "select: {} conditions but {} choices",
        condlist.len(),
        choicelist.len()
    );
    let mut out = default.as_array();
    for (c, v) in condlist.iter().zip(choicelist).rev() {
        out = Array::where_(c, *v, &out);
    }
    out
}

/// The `n`-th discrete difference along `axis` (`!=` on bool).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 4, 9, 16], &[4]);
/// assert_eq!(jnp::diff(&x, 1, -1).to_vec::<i32>(), vec![3, 5, 7]);
/// assert_eq!(jnp::diff(&x, 2, -1).to_vec::<i32>(), vec![2, 2]);
/// ```
pub fn diff(x: &Array, n: usize, axis: isize) -> Array {
    let a = ax("diff", axis, x.ndim());
    let mut y = x.clone();
    for _ in 0..n {
        let len = y.shape()[a];
        if len == 0 {
            break;
        }
        let hi = slice_axis(&y, a, 1, len - 1, 1);
        let lo = slice_axis(&y, a, 0, len - 1, 1);
        y = if y.dtype() == crate::DType::BOOL {
            hi.not_equal(&lo)
        } else {
            hi - lo
        };
    }
    y
}

/// Differences of the flattened array, with optional values before and after.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 4], &[3]);
/// let end = Array::from_vec(vec![0i32], &[1]);
/// assert_eq!(jnp::ediff1d(&x, Some(&end), None).to_vec::<i32>(), vec![1, 2, 0]);
/// ```
pub fn ediff1d(x: &Array, to_end: Option<&Array>, to_begin: Option<&Array>) -> Array {
    let d = diff(&ravel(x), 1, 0);
    let mut parts = Vec::new();
    if let Some(b) = to_begin {
        parts.push(ravel(b).astype(d.dtype()));
    }
    parts.push(d.clone());
    if let Some(e) = to_end {
        parts.push(ravel(e).astype(d.dtype()));
    }
    Array::concatenate(&parts.iter().collect::<Vec<_>>(), 0)
}

/// `x` with `values` appended along `axis` (`None`: both flattened).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(jnp::append(&x, &x, None).to_vec::<i32>(), vec![1, 2, 1, 2]);
/// ```
pub fn append(x: &Array, values: &Array, axis: Option<isize>) -> Array {
    concatenate(&[x, values], axis)
}

/// `x` resized to `shape`, repeating its flattened elements cyclically.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3], &[3]);
/// assert_eq!(jnp::resize(&x, &[2, 2]).to_vec::<i32>(), vec![1, 2, 3, 1]);
/// ```
pub fn resize(x: &Array, shape: &[usize]) -> Array {
    let n: usize = shape.iter().product();
    let flat = ravel(x);
    let size = flat.size();
    assert!(
        size > 0 || n == 0,
        "resize: cannot resize the empty array to {shape:?}"
    );
    let idx: Vec<usize> = (0..n).map(|i| i % size.max(1)).collect();
    reshape_to(&take_static(&flat, 0, &idx), shape)
}

/// How [`choose`] treats indices outside `0..choices.len()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChooseMode {
    /// Clamped into range.
    Clip,
    /// Taken modulo the number of choices.
    Wrap,
}

/// `choices[a]` elementwise (broadcasting `a` and every choice).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![0i32, 2, 1, 5], &[4]);
/// let c: Vec<Array> = (0..3).map(|k| Array::full(&[4], k * 10)).collect();
/// let r = jnp::choose(&a, &[&c[0], &c[1], &c[2]], jnp::ChooseMode::Clip);
/// assert_eq!(r.to_vec::<i32>(), vec![0, 20, 10, 20]);
/// ```
pub fn choose(a: &Array, choices: &[&Array], mode: ChooseMode) -> Array {
    let n = choices.len() as i32;
    assert!(n > 0, "choose: needs at least one choice");
    let a = a.astype(crate::DType::I32);
    let a = match mode {
        ChooseMode::Clip => a.maximum(0).minimum(n - 1),
        ChooseMode::Wrap => a.remainder(n),
    };
    let mut out = choices[0].clone();
    for (k, c) in choices.iter().enumerate().skip(1) {
        out = Array::where_(&a.equal(k as i32), *c, &out);
    }
    out.broadcast_to(&broadcast_shapes(&[a.shape(), out.shape()]))
}

/// `x` without the elements at `indices` along `axis` (`None`: of the
/// flattened array). Indices are static; negative ones count from the end.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4, 5], &[5]);
/// assert_eq!(jnp::delete(&x, &[1, -1], None).to_vec::<i32>(), vec![1, 3, 4]);
/// ```
pub fn delete(x: &Array, indices: &[isize], axis: Option<isize>) -> Array {
    let (x, a) = match axis {
        None => (ravel(x), 0),
        Some(a) => (x.clone(), ax("delete", a, x.ndim())),
    };
    let n = x.shape()[a] as isize;
    let gone: Vec<isize> = indices
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + n } else { i };
            assert!(
                (0..n).contains(&j),
                "delete: index {i} is out of range for axis {a} of length {n}"
            );
            j
        })
        .collect();
    let keep: Vec<usize> = (0..n)
        .filter(|i| !gone.contains(i))
        .map(|i| i as usize)
        .collect();
    take_static(&x, a, &keep)
}

/// `x` with `values` inserted before position `index` along `axis`
/// (`None`: of the flattened array), broadcast as NumPy does (the first
/// axis of `values` counts the inserted slices).
///
/// Partial: one insertion position (JAX also takes a sequence of indices).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// let y = jnp::insert(&x, 1, &Array::scalar(9i32), Some(1));
/// assert_eq!(y.to_vec::<i32>(), vec![1, 9, 2, 3, 9, 4]);
/// let v = Array::from_vec(vec![7i32, 8], &[2]);
/// assert_eq!(jnp::insert(&x, 2, &v, None).to_vec::<i32>(), vec![1, 2, 7, 8, 3, 4]);
/// ```
pub fn insert(x: &Array, index: isize, values: &Array, axis: Option<isize>) -> Array {
    let (x, a) = match axis {
        None => (ravel(x), 0),
        Some(a) => (x.clone(), ax("insert", a, x.ndim())),
    };
    let n = x.shape()[a];
    let i = if index < 0 { index + n as isize } else { index };
    assert!(
        (0..=n as isize).contains(&i),
        "insert: index {index} is out of range for axis {a} of length {n}"
    );
    let i = i as usize;
    // NumPy's rule for one index: values get leading axes up to x's rank,
    // then their first axis moves to `axis` and counts the new slices.
    let mut s = vec![1; x.ndim().saturating_sub(values.ndim())];
    s.extend_from_slice(values.shape());
    let v = moveaxis(&reshape_to(values, &s), 0, a as isize);
    let mut shape = x.shape().to_vec();
    shape[a] = v.shape()[a];
    let v = v.broadcast_to(&shape);
    let head = slice_axis(&x, a, 0, i, 1);
    let tail = slice_axis(&x, a, i, n - i, 1);
    Array::concatenate(&[&head, &v, &tail], a as isize)
}
