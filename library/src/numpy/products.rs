//! Products and matrix structure: `dot`, `matmul`, `tensordot`, `inner`,
//! `outer`, `kron`, diagonals, traces and triangles. Contractions go
//! through [`lax::dot_general`](crate::lax::dot_general).

use super::{reshape_to, shape::slice_axis};
use crate::lax::dot_general;
use crate::{Array, DType};

/// NumPy's `dot`: a product with a scalar, the inner product of vectors,
/// the matrix product, and for N-d arrays a sum over the last axis of `a`
/// and the second-to-last of `b`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let v = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// let m = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::dot(&v, &v).item::<f32>(), 5.0);
/// assert_eq!(jnp::dot(&m, &v).to_vec::<f32>(), vec![5.0, 11.0]);
/// ```
pub fn dot(a: &Array, b: &Array) -> Array {
    if a.ndim() == 0 || b.ndim() == 0 {
        return a * b;
    }
    let kb = if b.ndim() == 1 { 0 } else { b.ndim() - 2 };
    dot_general(a, b, (&[a.ndim() - 1], &[kb]), (&[], &[]))
}

/// Matrix product with broadcasting over leading axes (1-d operands are vectors).
///
/// ```
/// use oxjax::{numpy as jnp};
/// let a = jnp::ones(&[5, 2, 3], None);
/// assert_eq!(jnp::matmul(&a, &jnp::ones(&[3, 4], None)).shape(), &[5, 2, 4]);
/// ```
pub fn matmul(a: &Array, b: &Array) -> Array {
    a.matmul(b)
}

/// Matrix-vector products over leading batch axes: `[..., m, n] × [..., n] → [..., m]`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::matvec(&jnp::ones(&[2, 3], None), &jnp::ones(&[3], None)).to_vec::<f32>(), vec![3.0, 3.0]);
/// ```
pub fn matvec(a: &Array, v: &Array) -> Array {
    a.matmul(&v.expand_dims(-1)).squeeze(&[-1])
}

/// Vector-matrix products over leading batch axes: `[..., m] × [..., m, n] → [..., n]`.
pub fn vecmat(v: &Array, a: &Array) -> Array {
    v.expand_dims(-2).matmul(a).squeeze(&[-2])
}

/// Dot products of vectors along `axis`, broadcasting the rest.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::vecdot(&jnp::ones(&[2, 3], None), &jnp::ones(&[3], None), -1).to_vec::<f32>(), vec![3.0, 3.0]);
/// ```
pub fn vecdot(a: &Array, b: &Array, axis: isize) -> Array {
    (a * b).sum(axis, false)
}

/// The dot product of the flattened arrays.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let m = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::vdot(&m, &m).item::<f32>(), 30.0);
/// ```
pub fn vdot(a: &Array, b: &Array) -> Array {
    dot(&a.reshape(&[-1]), &b.reshape(&[-1]))
}

/// Sum over the last axes of both operands.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::inner(&jnp::ones(&[2, 3], None), &jnp::ones(&[4, 3], None)).shape(), &[2, 4]);
/// ```
pub fn inner(a: &Array, b: &Array) -> Array {
    if a.ndim() == 0 || b.ndim() == 0 {
        return a * b;
    }
    dot_general(a, b, (&[a.ndim() - 1], &[b.ndim() - 1]), (&[], &[]))
}

/// The outer product of the flattened arrays.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let v = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(jnp::outer(&v, &v).to_vec::<i32>(), vec![1, 2, 2, 4]);
/// ```
pub fn outer(a: &Array, b: &Array) -> Array {
    a.reshape(&[-1, 1]) * b.reshape(&[1, -1])
}

/// Which axes [`tensordot`] contracts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TensorAxes {
    /// The last `n` axes of `a` with the first `n` of `b`.
    N(usize),
    /// These axes of `a` with these of `b` (negative counts from the end).
    Pairs(Vec<isize>, Vec<isize>),
}

impl From<usize> for TensorAxes {
    fn from(n: usize) -> TensorAxes {
        TensorAxes::N(n)
    }
}

impl<const N: usize> From<([isize; N], [isize; N])> for TensorAxes {
    fn from((a, b): ([isize; N], [isize; N])) -> TensorAxes {
        TensorAxes::Pairs(a.to_vec(), b.to_vec())
    }
}

/// Contracts the given axes of `a` and `b`; the result has `a`'s other
/// axes followed by `b`'s.
///
/// ```
/// use oxjax::numpy as jnp;
/// let a = jnp::ones(&[2, 3, 4], None);
/// let b = jnp::ones(&[3, 4, 5], None);
/// assert_eq!(jnp::tensordot(&a, &b, 2).shape(), &[2, 5]);
/// assert_eq!(jnp::tensordot(&a, &b, ([1], [0])).shape(), &[2, 4, 4, 5]);
/// ```
pub fn tensordot(a: &Array, b: &Array, axes: impl Into<TensorAxes>) -> Array {
    let (ca, cb): (Vec<usize>, Vec<usize>) = match axes.into() {
        TensorAxes::N(n) => {
            assert!(
                n <= a.ndim() && n <= b.ndim(),
                "tensordot: cannot contract {n} axes of shapes {:?} and {:?}",
                a.shape(),
                b.shape()
            );
            ((a.ndim() - n..a.ndim()).collect(), (0..n).collect())
        }
        TensorAxes::Pairs(x, y) => {
            let norm = |v: Vec<isize>, r: usize| -> Vec<usize> {
                v.iter()
                    .map(|&d| {
                        crate::primitive::axis("tensordot", d, r)
                            .unwrap_or_else(|e| crate::error::raise(e))
                    })
                    .collect()
            };
            (norm(x, a.ndim()), norm(y, b.ndim()))
        }
    };
    dot_general(a, b, (&ca, &cb), (&[], &[]))
}

/// The Kronecker product: blocks `a[i, j] * b`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1i32, 10], &[2]);
/// let b = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(jnp::kron(&a, &b).to_vec::<i32>(), vec![1, 2, 10, 20]);
/// ```
pub fn kron(a: &Array, b: &Array) -> Array {
    let r = a.ndim().max(b.ndim());
    let pad = |x: &Array| {
        let mut s = vec![1; r - x.ndim()];
        s.extend_from_slice(x.shape());
        s
    };
    let (sa, sb) = (pad(a), pad(b));
    let ia: Vec<usize> = sa.iter().flat_map(|&d| [d, 1]).collect();
    let ib: Vec<usize> = sb.iter().flat_map(|&d| [1, d]).collect();
    let out: Vec<usize> = sa.iter().zip(&sb).map(|(x, y)| x * y).collect();
    reshape_to(&(reshape_to(a, &ia) * reshape_to(b, &ib)), &out)
}

/// The diagonal with `offset` of the planes spanned by `axis1` and `axis2`;
/// it becomes the last axis.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let m = Array::from_vec(vec![1i32, 2, 3, 4, 5, 6], &[2, 3]);
/// assert_eq!(jnp::diagonal(&m, 0, 0, 1).to_vec::<i32>(), vec![1, 5]);
/// assert_eq!(jnp::diagonal(&m, 1, 0, 1).to_vec::<i32>(), vec![2, 6]);
/// assert_eq!(jnp::diagonal(&m, -1, 0, 1).to_vec::<i32>(), vec![4]);
/// ```
pub fn diagonal(x: &Array, offset: isize, axis1: isize, axis2: isize) -> Array {
    let r = x.ndim();
    assert!(
        r >= 2,
        "diagonal: needs rank >= 2, got shape {:?}",
        x.shape()
    );
    let ax =
        |a| crate::primitive::axis("diagonal", a, r).unwrap_or_else(|e| crate::error::raise(e));
    let (a1, a2) = (ax(axis1), ax(axis2));
    assert!(
        a1 != a2,
        "diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}"
    );
    let mut perm: Vec<usize> = (0..r).filter(|&d| d != a1 && d != a2).collect();
    perm.extend([a1, a2]);
    let y = x.transpose(&perm);
    let (n, m) = (x.shape()[a1] as isize, x.shape()[a2] as isize);
    let (start, len) = if offset >= 0 {
        (offset, n.min(m - offset).max(0))
    } else {
        (-offset * m, (n + offset).min(m).max(0))
    };
    let mut flat: Vec<usize> = y.shape()[..r - 2].to_vec();
    flat.push((n * m) as usize);
    let y = reshape_to(&y, &flat);
    if len == 0 {
        return slice_axis(&y, r - 2, 0, 0, 1);
    }
    slice_axis(&y, r - 2, start as usize, len as usize, m + 1)
}

/// The diagonal `k` of a 2-d array, or the 2-d array with the 1-d `v` on
/// diagonal `k`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let v = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(jnp::diag(&v, 1).to_vec::<i32>(), vec![0, 1, 0, 0, 0, 2, 0, 0, 0]);
/// assert_eq!(jnp::diag(&jnp::diag(&v, 0), 0).to_vec::<i32>(), vec![1, 2]);
/// ```
pub fn diag(v: &Array, k: isize) -> Array {
    match v.ndim() {
        1 => {
            let l = v.size();
            let n = l + k.unsigned_abs();
            // Row i of the result holds v[i] (k >= 0) or v[i + k] (k < 0).
            let col = if k >= 0 {
                v.pad(&[(0, n - l)], 0.0)
            } else {
                v.pad(&[(n - l, 0)], 0.0)
            };
            let mask = Array::eye(n, n, k, DType::BOOL);
            Array::where_(&mask, col.reshape(&[-1, 1]), Array::zeros(&[], v.dtype()))
        }
        2 => diagonal(v, k, 0, 1),
        _ => crate::error::fail(
            crate::ErrorKind::Shape,
            format!("diag: input must be 1-d or 2-d, got shape {:?}", v.shape()),
        ),
    }
}

/// The 2-d array with the flattened `v` on diagonal `k`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let v = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// assert_eq!(jnp::diagflat(&v, 0).shape(), &[4, 4]);
/// ```
pub fn diagflat(v: &Array, k: isize) -> Array {
    diag(&v.reshape(&[-1]), k)
}

/// Sum of the diagonal with `offset` of the planes of `axis1`, `axis2`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let m = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// assert_eq!(jnp::trace(&m, 0, 0, 1).item::<i32>(), 5);
/// ```
pub fn trace(x: &Array, offset: isize, axis1: isize, axis2: isize) -> Array {
    diagonal(x, offset, axis1, axis2).sum(-1, false)
}

fn triangle(x: &Array, k: isize, lower: bool) -> Array {
    let r = x.ndim();
    assert!(
        r >= 2,
        "{}: needs rank >= 2, got shape {:?}",
        if lower { "tril" } else { "triu" },
        x.shape()
    );
    let (i, j) = super::creation::grid(x.shape()[r - 2], x.shape()[r - 1]);
    let keep = if lower {
        (&i + k as i32).greater_equal(&j)
    } else {
        (&i + k as i32).less_equal(&j)
    };
    Array::where_(&keep, x, Array::zeros(&[], x.dtype()))
}

/// `x` with the elements above diagonal `k` of its last two axes zeroed.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let m = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// assert_eq!(jnp::tril(&m, 0).to_vec::<i32>(), vec![1, 0, 3, 4]);
/// assert_eq!(jnp::triu(&m, 0).to_vec::<i32>(), vec![1, 2, 0, 4]);
/// ```
pub fn tril(x: &Array, k: isize) -> Array {
    triangle(x, k, true)
}

/// `x` with the elements below diagonal `k` of its last two axes zeroed.
pub fn triu(x: &Array, k: isize) -> Array {
    triangle(x, k, false)
}

/// The cross product of 3-vectors along `axis`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 0.0, 0.0], &[3]);
/// let y = Array::from_vec(vec![0.0f32, 1.0, 0.0], &[3]);
/// assert_eq!(jnp::cross(&x, &y, -1).to_vec::<f32>(), vec![0.0, 0.0, 1.0]);
/// ```
pub fn cross(a: &Array, b: &Array, axis: isize) -> Array {
    let aa =
        crate::primitive::axis("cross", axis, a.ndim()).unwrap_or_else(|e| crate::error::raise(e));
    let ab =
        crate::primitive::axis("cross", axis, b.ndim()).unwrap_or_else(|e| crate::error::raise(e));
    assert!(
        a.shape()[aa] == 3 && b.shape()[ab] == 3,
        "cross: axis {axis} must have length 3 in shapes {:?} and {:?}",
        a.shape(),
        b.shape()
    );
    let c = |x: &Array, ax: usize, i: usize| slice_axis(x, ax, i, 1, 1);
    let parts = [(1, 2), (2, 0), (0, 1)]
        .map(|(i, j)| c(a, aa, i) * c(b, ab, j) - c(a, aa, j) * c(b, ab, i));
    let out_axis = aa.max(ab);
    let parts: Vec<Array> = parts.into_iter().collect();
    Array::concatenate(&parts.iter().collect::<Vec<_>>(), out_axis as isize)
}

/// How much of a 1-d convolution [`convolve`] and [`correlate`] return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvMode {
    /// Every overlap: length `n + m - 1`.
    Full,
    /// Centred, the length of the longer input.
    Same,
    /// Only complete overlaps: length `max(n, m) - min(n, m) + 1`.
    Valid,
}

/// Full cross-correlation `out[j] = Σ a[i + j - (m - 1)] v[i]` via `lax::conv`.
fn correlate_full(a: &Array, v: &Array) -> Array {
    assert!(
        a.ndim() == 1 && v.ndim() == 1 && a.size() > 0 && v.size() > 0,
        "correlate/convolve: inputs must be non-empty 1-d arrays, got shapes {:?} and {:?}",
        a.shape(),
        v.shape()
    );
    let m = v.size() as isize;
    let x = a.reshape(&[1, 1, -1]);
    let k = v.reshape(&[1, 1, -1]);
    crate::lax::conv(
        &x,
        &k,
        &[1],
        &crate::lax::Padding::Explicit(vec![(m - 1, m - 1)]),
    )
    .reshape(&[-1])
}

fn trim(full: Array, n: usize, m: usize, mode: ConvMode) -> Array {
    let (len, start) = match mode {
        ConvMode::Full => return full,
        ConvMode::Same => (n.max(m), (n.min(m) - 1) / 2),
        ConvMode::Valid => (n.max(m) - n.min(m) + 1, n.min(m) - 1),
    };
    slice_axis(&full, 0, start, len, 1)
}

/// Discrete linear convolution of two 1-d arrays.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// let v = Array::from_vec(vec![0.0f32, 1.0, 0.5], &[3]);
/// assert_eq!(jnp::convolve(&a, &v, jnp::ConvMode::Full).to_vec::<f32>(), vec![0.0, 1.0, 2.5, 4.0, 1.5]);
/// assert_eq!(jnp::convolve(&a, &v, jnp::ConvMode::Same).to_vec::<f32>(), vec![1.0, 2.5, 4.0]);
/// ```
pub fn convolve(a: &Array, v: &Array, mode: ConvMode) -> Array {
    let (a, v) = if v.size() > a.size() { (v, a) } else { (a, v) };
    trim(correlate_full(a, &v.flip(&[])), a.size(), v.size(), mode)
}

/// Cross-correlation of two 1-d arrays, `c[k] = Σ a[n + k] v[n]`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// let v = Array::from_vec(vec![0.0f32, 1.0, 0.5], &[3]);
/// assert_eq!(jnp::correlate(&a, &v, jnp::ConvMode::Valid).to_vec::<f32>(), vec![3.5]);
/// ```
pub fn correlate(a: &Array, v: &Array, mode: ConvMode) -> Array {
    if v.size() > a.size() {
        // NumPy: swap and reverse.
        return correlate(v, a, mode).flip(&[]);
    }
    trim(correlate_full(a, v), a.size(), v.size(), mode)
}
