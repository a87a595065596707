//! The Python array-API names `jax.numpy.linalg` also exports: thin
//! wrappers over `oxjax::numpy` products and [`norm`](super::norm), plus
//! `cond`, `multi_dot`, `tensorinv` and `tensorsolve` built on the solvers.

use super::{NormOrd, inv, norm, solve, svdvals};
use crate::Array;
use crate::numpy::{self, TensorAxes};

/// `jnp.linalg.matmul`: [`numpy::matmul`] (batched, broadcasting).
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(linalg::matmul(&a, &a).to_vec::<f32>(), vec![7.0, 10.0, 15.0, 22.0]);
/// ```
pub fn matmul(a: &Array, b: &Array) -> Array {
    numpy::matmul(a, b)
}

/// `jnp.linalg.matrix_transpose`: swaps the last two axes.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::zeros(&[4, 2, 3], oxjax::DType::F32);
/// assert_eq!(linalg::matrix_transpose(&a).shape(), &[4, 3, 2]);
/// ```
pub fn matrix_transpose(x: &Array) -> Array {
    numpy::matrix_transpose(x)
}

/// `jnp.linalg.outer`: the outer product of two vectors.
///
/// ```
/// use oxjax::{Array, linalg};
/// let v = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// assert_eq!(linalg::outer(&v, &v).to_vec::<f32>(), vec![1.0, 2.0, 2.0, 4.0]);
/// ```
pub fn outer(a: &Array, b: &Array) -> Array {
    numpy::outer(a, b)
}

/// `jnp.linalg.cross`: cross products of 3-vectors along the last axis.
///
/// ```
/// use oxjax::{Array, linalg};
/// let x = Array::from_vec(vec![1.0f32, 0.0, 0.0], &[3]);
/// let y = Array::from_vec(vec![0.0f32, 1.0, 0.0], &[3]);
/// assert_eq!(linalg::cross(&x, &y).to_vec::<f32>(), vec![0.0, 0.0, 1.0]);
/// ```
pub fn cross(a: &Array, b: &Array) -> Array {
    numpy::cross(a, b, -1)
}

/// `jnp.linalg.diagonal`: the diagonal of the last two axes (`offset` above it).
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(linalg::diagonal(&a, 0).to_vec::<f32>(), vec![1.0, 4.0]);
/// ```
pub fn diagonal(x: &Array, offset: isize) -> Array {
    numpy::diagonal(x, offset, -2, -1)
}

/// `jnp.linalg.trace`: the sum of the diagonal of the last two axes.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(linalg::trace(&a, 0).item::<f32>(), 5.0);
/// ```
pub fn trace(x: &Array, offset: isize) -> Array {
    numpy::trace(x, offset, -2, -1)
}

/// `jnp.linalg.tensordot`: [`numpy::tensordot`].
///
/// ```
/// use oxjax::{Array, DType, linalg};
/// let a = Array::ones(&[2, 3], DType::F32);
/// assert_eq!(linalg::tensordot(&a, &a.t(), 1).shape(), &[2, 2]);
/// ```
pub fn tensordot(a: &Array, b: &Array, axes: impl Into<TensorAxes>) -> Array {
    numpy::tensordot(a, b, axes)
}

/// `jnp.linalg.vecdot`: the dot product along `axis` (broadcasting the rest).
///
/// ```
/// use oxjax::{Array, linalg};
/// let v = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// assert_eq!(linalg::vecdot(&v, &v, -1).item::<f32>(), 14.0);
/// ```
pub fn vecdot(a: &Array, b: &Array, axis: isize) -> Array {
    numpy::vecdot(a, b, axis)
}

/// `jnp.linalg.vector_norm`: a vector norm over `axes` (`None`: all
/// elements, as one flat vector).
///
/// ```
/// use oxjax::{Array, linalg::{self, NormOrd}};
/// let v = Array::from_vec(vec![3.0f32, -4.0], &[2]);
/// assert_eq!(linalg::vector_norm(&v, NormOrd::Default, None, false).item::<f32>(), 5.0);
/// assert_eq!(linalg::vector_norm(&v, NormOrd::P(1.0), None, false).item::<f32>(), 7.0);
/// ```
pub fn vector_norm(x: &Array, ord: NormOrd, axes: Option<&[isize]>, keepdims: bool) -> Array {
    match axes {
        Some(a) if a.len() == 1 => norm(x, ord, Some(a), keepdims),
        Some(a) => {
            // Several axes: move them last and flatten them into one.
            let nd = x.ndim() as isize;
            let norm_ax: Vec<usize> = a.iter().map(|&d| ((d + nd) % nd) as usize).collect();
            let keep: Vec<usize> = (0..x.ndim()).filter(|d| !norm_ax.contains(d)).collect();
            let perm: Vec<usize> = keep.iter().chain(&norm_ax).copied().collect();
            let mut shape: Vec<isize> = keep.iter().map(|&d| x.shape()[d] as isize).collect();
            shape.push(-1);
            let flat = x.transpose(&perm).reshape(&shape);
            let out = norm(&flat, ord, Some(&[-1]), false);
            if keepdims {
                let kshape: Vec<isize> = (0..x.ndim())
                    .map(|d| {
                        if norm_ax.contains(&d) {
                            1
                        } else {
                            x.shape()[d] as isize
                        }
                    })
                    .collect();
                out.reshape(&kshape)
            } else {
                out
            }
        }
        None => {
            let out = norm(&x.reshape(&[-1]), ord, Some(&[0]), false);
            if keepdims {
                out.reshape(&vec![1; x.ndim()])
            } else {
                out
            }
        }
    }
}

/// `jnp.linalg.matrix_norm`: a matrix norm of the last two axes.
///
/// ```
/// use oxjax::{Array, linalg::{self, NormOrd}};
/// let a = Array::from_vec(vec![3.0f32, 0.0, 0.0, 4.0], &[2, 2]);
/// assert_eq!(linalg::matrix_norm(&a, NormOrd::Fro, false).item::<f32>(), 5.0);
/// ```
pub fn matrix_norm(x: &Array, ord: NormOrd, keepdims: bool) -> Array {
    let ord = if ord == NormOrd::Default {
        NormOrd::Fro
    } else {
        ord
    };
    norm(x, ord, Some(&[-2, -1]), keepdims)
}

/// `jnp.linalg.cond` with `p=None`: the ratio of the largest to the
/// smallest singular value of each matrix (∞ for a singular one).
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![2.0f64, 0.0, 0.0, 0.5], &[2, 2]);
/// assert!((linalg::cond(&a).item::<f64>() - 4.0).abs() < 1e-12);
/// ```
pub fn cond(x: &Array) -> Array {
    let s = svdvals(x);
    s.max(-1, false) / s.min(-1, false)
}

/// `jnp.linalg.multi_dot`: the product of a chain of matrices (a leading
/// 1-D operand is a row vector, a trailing one a column vector), multiplied
/// in the order that needs the fewest scalar products.
///
/// ```
/// use oxjax::{Array, DType, linalg};
/// let (a, b, c) = (Array::ones(&[10, 100], DType::F32), Array::ones(&[100, 5], DType::F32),
///                  Array::ones(&[5, 50], DType::F32));
/// let r = linalg::multi_dot(&[&a, &b, &c]);
/// assert_eq!(r.shape(), &[10, 50]);
/// assert_eq!(r.to_vec::<f32>()[0], 500.0);
/// ```
pub fn multi_dot(arrays: &[&Array]) -> Array {
    assert!(arrays.len() >= 2, "multi_dot: needs at least two arrays");
    let n = arrays.len();
    let mut ms: Vec<Array> = arrays.iter().map(|a| (*a).clone()).collect();
    let (first_vec, last_vec) = (ms[0].ndim() == 1, ms[n - 1].ndim() == 1);
    if first_vec {
        ms[0] = ms[0].reshape(&[1, -1]);
    }
    if last_vec {
        ms[n - 1] = ms[n - 1].reshape(&[-1, 1]);
    }
    for (i, m) in ms.iter().enumerate() {
        assert!(
            m.ndim() == 2,
            "multi_dot: operand {i} must be a matrix (1-D allowed first and last), got shape {:?}",
            m.shape()
        );
    }
    // Matrix-chain order by dynamic programming over the dimensions.
    let dims: Vec<usize> = std::iter::once(ms[0].shape()[0])
        .chain(ms.iter().map(|m| m.shape()[1]))
        .collect();
    let mut cost = vec![vec![0usize; n]; n];
    let mut split = vec![vec![0usize; n]; n];
    for len in 1..n {
        for i in 0..n - len {
            let j = i + len;
            cost[i][j] = usize::MAX;
            for k in i..j {
                let c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1];
                if c < cost[i][j] {
                    cost[i][j] = c;
                    split[i][j] = k;
                }
            }
        }
    }
    fn chain(ms: &[Array], split: &[Vec<usize>], i: usize, j: usize) -> Array {
        if i == j {
            return ms[i].clone();
        }
        let k = split[i][j];
        chain(ms, split, i, k).matmul(&chain(ms, split, k + 1, j))
    }
    let mut out = chain(&ms, &split, 0, n - 1);
    if first_vec {
        out = out.squeeze(&[0]);
    }
    if last_vec {
        out = out.squeeze(&[-1]);
    }
    out
}

/// The number of elements of a shape.
fn prod(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// `jnp.linalg.tensorinv`: the inverse of `a` viewed as a matrix whose rows
/// are its first `ind` axes; the result has shape `a.shape[ind:] + a.shape[:ind]`.
///
/// ```
/// use oxjax::{Array, DType, linalg};
/// let a = Array::eye(6, 6, 0, DType::F64).reshape(&[6, 2, 3]) * 2.0;
/// let ainv = linalg::tensorinv(&a, 1);
/// assert_eq!(ainv.shape(), &[2, 3, 6]);
/// ```
pub fn tensorinv(a: &Array, ind: usize) -> Array {
    let (rows, cols) = a.shape().split_at(ind);
    assert!(
        ind > 0 && prod(rows) == prod(cols),
        "tensorinv: the first {ind} axes and the rest of shape {:?} must have equal sizes",
        a.shape()
    );
    let n = prod(rows) as isize;
    let out_shape: Vec<isize> = cols.iter().chain(rows).map(|&d| d as isize).collect();
    inv(&a.reshape(&[n, n])).reshape(&out_shape)
}

/// `jnp.linalg.tensorsolve`: the `x` with `tensordot(a, x, x.ndim) == b`;
/// `x` has shape `a.shape[b.ndim:]`.
///
/// ```
/// use oxjax::{Array, DType, linalg};
/// let a = Array::eye(6, 6, 0, DType::F64).reshape(&[2, 3, 6]) * 2.0;
/// let b = Array::ones(&[2, 3], DType::F64);
/// let x = linalg::tensorsolve(&a, &b);
/// assert_eq!(x.to_vec::<f64>(), vec![0.5; 6]);
/// ```
pub fn tensorsolve(a: &Array, b: &Array) -> Array {
    let (lead, rest) = a.shape().split_at(b.ndim().min(a.ndim()));
    assert!(
        lead == b.shape() && prod(lead) == prod(rest),
        "tensorsolve: a of shape {:?} does not fit b of shape {:?}",
        a.shape(),
        b.shape()
    );
    let n = prod(lead) as isize;
    let out_shape: Vec<isize> = rest.iter().map(|&d| d as isize).collect();
    solve(&a.reshape(&[n, n]), &b.reshape(&[n])).reshape(&out_shape)
}
