//! Array creation: filled arrays, ranges, grids and window functions.
//! A `dtype` of `None` picks JAX's default (f32 for floats, i32 for
//! integers) from the other arguments.

use super::{lit, reshape_to};
use crate::{Array, AsArray, DType};
use std::f64::consts::PI;

/// The dtype of a value after dropping weak typing (as JAX does when a
/// Python scalar becomes an array).
fn strong(x: &Array, dtype: Option<DType>) -> Array {
    match dtype {
        Some(d) => x.astype(d),
        None if x.is_weak() => x.astype(x.dtype()),
        None => x.clone(),
    }
}

/// Converts a value (array or Rust scalar) to a strongly typed array.
///
/// ```
/// use oxjax::{DType, numpy as jnp};
/// let x = jnp::asarray(2.0, None);
/// assert_eq!((x.dtype(), x.is_weak()), (DType::F32, false));
/// assert_eq!(jnp::asarray(2.0, DType::F64).dtype(), DType::F64);
/// ```
pub fn asarray(x: impl AsArray, dtype: impl Into<Option<DType>>) -> Array {
    strong(&x.as_array(), dtype.into())
}

/// Alias of [`asarray`] (arrays are immutable, so no copy is needed).
pub fn array(x: impl AsArray, dtype: impl Into<Option<DType>>) -> Array {
    asarray(x, dtype)
}

/// The same value (arrays are immutable; JAX's `copy` for API parity).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// assert_eq!(jnp::copy(&Array::scalar(1i32)).item::<i32>(), 1);
/// ```
pub fn copy(x: &Array) -> Array {
    x.clone()
}

/// Zeros of `shape` (default dtype f32).
///
/// ```
/// use oxjax::{DType, numpy as jnp};
/// assert_eq!(jnp::zeros(&[2], None).to_vec::<f32>(), vec![0.0, 0.0]);
/// assert_eq!(jnp::ones(&[1], DType::I32).to_vec::<i32>(), vec![1]);
/// ```
pub fn zeros(shape: &[usize], dtype: impl Into<Option<DType>>) -> Array {
    Array::zeros(shape, dtype.into().unwrap_or(DType::F32))
}

/// Ones of `shape` (default dtype f32).
pub fn ones(shape: &[usize], dtype: impl Into<Option<DType>>) -> Array {
    Array::ones(shape, dtype.into().unwrap_or(DType::F32))
}

/// Zeros: arrays are immutable, so "uninitialised" has no use.
pub fn empty(shape: &[usize], dtype: impl Into<Option<DType>>) -> Array {
    zeros(shape, dtype)
}

/// `fill_value` broadcast to `shape` (its own dtype unless `dtype` is given).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// assert_eq!(jnp::full(&[2], 7, None).to_vec::<i32>(), vec![7, 7]);
/// let row = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// assert_eq!(jnp::full(&[2, 2], &row, None).to_vec::<f32>(), vec![1.0, 2.0, 1.0, 2.0]);
/// ```
pub fn full(shape: &[usize], fill_value: impl AsArray, dtype: impl Into<Option<DType>>) -> Array {
    strong(&fill_value.as_array(), dtype.into()).broadcast_to(shape)
}

/// Zeros with the shape (and dtype, unless given) of `x`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(jnp::zeros_like(&x, None).to_vec::<i32>(), vec![0, 0]);
/// assert_eq!(jnp::full_like(&x, 3, None).to_vec::<i32>(), vec![3, 3]);
/// ```
pub fn zeros_like(x: &Array, dtype: impl Into<Option<DType>>) -> Array {
    Array::zeros(x.shape(), dtype.into().unwrap_or(x.dtype()))
}

/// Ones with the shape (and dtype, unless given) of `x`.
pub fn ones_like(x: &Array, dtype: impl Into<Option<DType>>) -> Array {
    Array::ones(x.shape(), dtype.into().unwrap_or(x.dtype()))
}

/// Zeros with the shape of `x` (see [`empty`]).
pub fn empty_like(x: &Array, dtype: impl Into<Option<DType>>) -> Array {
    zeros_like(x, dtype)
}

/// `fill_value` with the shape (and dtype, unless given) of `x`.
pub fn full_like(x: &Array, fill_value: impl AsArray, dtype: impl Into<Option<DType>>) -> Array {
    let d = dtype.into().unwrap_or(x.dtype());
    full(x.shape(), fill_value, d)
}

/// A Rust number `arange` takes. As with JAX's Python numbers, its type
/// picks the default dtype: integers give i32, floats give f32 (the
/// values do not matter: `arange(0.0, 3.0, 1.0)` is f32).
pub trait ArangeNum: Copy {
    /// The dtype when none is given.
    const DEFAULT: DType;
    /// The value as f64.
    fn value(self) -> f64;
}

macro_rules! arange_num {
    ($($t:ty => $d:expr),*) => {$(
        impl ArangeNum for $t {
            const DEFAULT: DType = $d;
            fn value(self) -> f64 {
                self as f64
            }
        }
    )*};
}

arange_num!(i32 => DType::I32, i64 => DType::I32, usize => DType::I32, u32 => DType::U32,
            f32 => DType::F32, f64 => DType::F32);

/// `start, start + step, ...` below `stop`. Without a dtype, i32 for
/// integer arguments and f32 for floats, as JAX.
///
/// ```
/// use oxjax::{numpy as jnp, DType};
/// assert_eq!(jnp::arange(0, 3, 1, None).to_vec::<i32>(), vec![0, 1, 2]);
/// assert_eq!(jnp::arange(0.0, 3.0, 1.0, None).dtype(), DType::F32);
/// assert_eq!(jnp::arange(0.0, 1.0, 0.5, None).to_vec::<f32>(), vec![0.0, 0.5]);
/// ```
pub fn arange<T: ArangeNum>(start: T, stop: T, step: T, dtype: impl Into<Option<DType>>) -> Array {
    let d = dtype.into().unwrap_or(T::DEFAULT);
    Array::arange(start.value(), stop.value(), step.value(), d)
}

/// `num` evenly spaced values from `start` to `stop` (included with `endpoint`).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::linspace(0.0, 1.0, 5, true, None).to_vec::<f32>(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
/// assert_eq!(jnp::linspace(0.0, 1.0, 4, false, None).to_vec::<f32>(), vec![0.0, 0.25, 0.5, 0.75]);
/// ```
pub fn linspace(
    start: f64,
    stop: f64,
    num: usize,
    endpoint: bool,
    dtype: impl Into<Option<DType>>,
) -> Array {
    let d = dtype.into().unwrap_or(DType::F32);
    if endpoint || num == 0 {
        Array::linspace(start, stop, num, d)
    } else {
        let step = (stop - start) / num as f64;
        Array::linspace(start, stop - step, num, d)
    }
}

/// `base ** linspace(start, stop, num, endpoint)`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::logspace(0.0, 2.0, 3, true, 10.0, None).to_vec::<f32>(), vec![1.0, 10.0, 100.0]);
/// ```
pub fn logspace(
    start: f64,
    stop: f64,
    num: usize,
    endpoint: bool,
    base: f64,
    dtype: impl Into<Option<DType>>,
) -> Array {
    let d = dtype.into().unwrap_or(DType::F32);
    let c = if d.is_float() { d } else { DType::F32 };
    let e = linspace(start, stop, num, endpoint, c);
    lit(&e, base).power(&e).astype(d)
}

/// `num` values in geometric progression from `start` to `stop` (same sign,
/// non-zero); the ends are exact.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::geomspace(1.0, 1000.0, 4, true, None).to_vec::<f32>(), vec![1.0, 10.0, 100.0, 1000.0]);
/// ```
pub fn geomspace(
    start: f64,
    stop: f64,
    num: usize,
    endpoint: bool,
    dtype: impl Into<Option<DType>>,
) -> Array {
    assert!(
        start != 0.0 && stop != 0.0 && (start < 0.0) == (stop < 0.0),
        "geomspace: start {start} and stop {stop} must be non-zero with the same sign"
    );
    let d = dtype.into().unwrap_or(DType::F32);
    // Static arguments: computed on the host, exact at the ends as in NumPy.
    let (lo, hi) = (start.abs().log10(), stop.abs().log10());
    let div = if endpoint { num.saturating_sub(1) } else { num }.max(1) as f64;
    let mut v: Vec<f64> = (0..num)
        .map(|i| start.signum() * 10f64.powf(lo + (hi - lo) * i as f64 / div))
        .collect();
    if let Some(first) = v.first_mut() {
        *first = start;
    }
    if endpoint && num > 1 {
        v[num - 1] = stop;
    }
    if d == DType::F64 {
        Array::from_vec(v, &[num])
    } else {
        // Devices without f64 get f32 host values.
        Array::from_vec(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), &[num]).astype(d)
    }
}

/// The `n × m` matrix (`m` defaults to `n`) with ones on diagonal `k`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::eye(2, None, 1, None).to_vec::<f32>(), vec![0.0, 1.0, 0.0, 0.0]);
/// assert_eq!(jnp::identity(2, None).to_vec::<f32>(), vec![1.0, 0.0, 0.0, 1.0]);
/// ```
pub fn eye(n: usize, m: Option<usize>, k: isize, dtype: impl Into<Option<DType>>) -> Array {
    Array::eye(n, m.unwrap_or(n), k, dtype.into().unwrap_or(DType::F32))
}

/// The `n × n` identity matrix.
pub fn identity(n: usize, dtype: impl Into<Option<DType>>) -> Array {
    eye(n, None, 0, dtype)
}

/// Row and column indices (i32) of an `n × m` grid, broadcast against each other.
pub(crate) fn grid(n: usize, m: usize) -> (Array, Array) {
    let i = Array::arange(0.0, n as f64, 1.0, DType::I32).reshape(&[n as isize, 1]);
    let j = Array::arange(0.0, m as f64, 1.0, DType::I32).reshape(&[1, m as isize]);
    (i, j)
}

/// The `n × m` matrix with ones at and below diagonal `k`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::tri(2, None, 0, None).to_vec::<f32>(), vec![1.0, 0.0, 1.0, 1.0]);
/// ```
pub fn tri(n: usize, m: Option<usize>, k: isize, dtype: impl Into<Option<DType>>) -> Array {
    let (i, j) = grid(n, m.unwrap_or(n));
    (&i + k as i32)
        .greater_equal(&j)
        .astype(dtype.into().unwrap_or(DType::F32))
}

/// How [`meshgrid`] orders the first two axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshIndexing {
    /// Cartesian: the first two outputs' axes are swapped (NumPy's default).
    Xy,
    /// Matrix indexing: output axis `i` follows input `i`.
    Ij,
}

/// Coordinate arrays from 1-d coordinate vectors.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3], &[3]);
/// let y = Array::from_vec(vec![10i32, 20], &[2]);
/// let g = jnp::meshgrid(&[&x, &y], jnp::MeshIndexing::Xy);
/// assert_eq!(g[0].shape(), &[2, 3]);
/// assert_eq!(g[1].to_vec::<i32>(), vec![10, 10, 10, 20, 20, 20]);
/// ```
pub fn meshgrid(arrays: &[&Array], indexing: MeshIndexing) -> Vec<Array> {
    let n = arrays.len();
    let mut shape: Vec<usize> = arrays.iter().map(|a| a.size()).collect();
    if indexing == MeshIndexing::Xy && n >= 2 {
        shape.swap(0, 1);
    }
    (0..n)
        .map(|i| {
            let mut at = i;
            if indexing == MeshIndexing::Xy && n >= 2 && i < 2 {
                at = 1 - i;
            }
            let mut s = vec![1; n];
            s[at] = arrays[i].size();
            reshape_to(arrays[i], &s).broadcast_to(&shape)
        })
        .collect()
}

/// The grid of indices of an array of shape `dims`: shape `[len(dims), *dims]`.
///
/// ```
/// use oxjax::numpy as jnp;
/// let g = jnp::indices(&[2, 2], None);
/// assert_eq!(g.to_vec::<i32>(), vec![0, 0, 1, 1, 0, 1, 0, 1]);
/// ```
pub fn indices(dims: &[usize], dtype: impl Into<Option<DType>>) -> Array {
    let d = dtype.into().unwrap_or(DType::I32);
    let n = dims.len();
    let parts: Vec<Array> = (0..n)
        .map(|i| {
            let mut s = vec![1; n];
            s[i] = dims[i];
            let r = Array::arange(0.0, dims[i] as f64, 1.0, d);
            reshape_to(&r, &s).broadcast_to(dims)
        })
        .collect();
    super::stack(&parts.iter().collect::<Vec<_>>(), 0)
}

/// The Vandermonde matrix: columns are powers of `x`, decreasing unless
/// `increasing`; `n` columns (default `len(x)`).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![2.0f32, 3.0], &[2]);
/// assert_eq!(jnp::vander(&x, None, false).to_vec::<f32>(), vec![2.0, 1.0, 3.0, 1.0]);
/// ```
pub fn vander(x: &Array, n: Option<usize>, increasing: bool) -> Array {
    assert_eq!(
        x.ndim(),
        1,
        "vander: x must be 1-d, got shape {:?}",
        x.shape()
    );
    let n = n.unwrap_or(x.size());
    let mut p = Array::arange(0.0, n as f64, 1.0, DType::I32);
    if !increasing {
        p = p.flip(&[]);
    }
    x.expand_dims(1).power(p.astype(x.dtype()))
}

/// A window of `m` samples: `f(n)` for `n = 0..m` in `dtype` (default
/// f32), `[1]` when `m == 1`.
fn window(m: usize, dtype: Option<DType>, f: impl Fn(&Array, f64) -> Array) -> Array {
    let d = dtype.unwrap_or(DType::F32);
    if m <= 1 {
        return Array::ones(&[m], d);
    }
    let n = Array::arange(0.0, m as f64, 1.0, d);
    f(&n, (m - 1) as f64)
}

/// The Bartlett (triangular) window.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::bartlett(5, None).to_vec::<f32>(), vec![0.0, 0.5, 1.0, 0.5, 0.0]);
/// ```
pub fn bartlett(m: usize, dtype: impl Into<Option<DType>>) -> Array {
    window(m, dtype.into(), |n, d| {
        1.0 - (n * lit(n, 2.0 / d) - 1.0).abs()
    })
}

/// The Hann window.
///
/// ```
/// use oxjax::numpy as jnp;
/// let w = jnp::hanning(3, None).to_vec::<f32>();
/// assert!(w[0].abs() < 1e-7 && (w[1] - 1.0).abs() < 1e-7);
/// ```
pub fn hanning(m: usize, dtype: impl Into<Option<DType>>) -> Array {
    window(m, dtype.into(), |n, d| {
        0.5 - (n * lit(n, 2.0 * PI / d)).cos() * 0.5
    })
}

/// The Hamming window.
pub fn hamming(m: usize, dtype: impl Into<Option<DType>>) -> Array {
    window(m, dtype.into(), |n, d| {
        lit(n, 0.54) - (n * lit(n, 2.0 * PI / d)).cos() * lit(n, 0.46)
    })
}

/// The Blackman window.
pub fn blackman(m: usize, dtype: impl Into<Option<DType>>) -> Array {
    window(m, dtype.into(), |n, d| {
        lit(n, 0.42) - (n * lit(n, 2.0 * PI / d)).cos() * 0.5
            + (n * lit(n, 4.0 * PI / d)).cos() * lit(n, 0.08)
    })
}

/// The Kaiser window with shape parameter `beta`.
///
/// ```
/// use oxjax::numpy as jnp;
/// let w = jnp::kaiser(3, 0.0, None).to_vec::<f32>();
/// assert_eq!(w, vec![1.0, 1.0, 1.0]);
/// ```
pub fn kaiser(m: usize, beta: f64, dtype: impl Into<Option<DType>>) -> Array {
    window(m, dtype.into(), |n, d| {
        let r = (n * lit(n, 2.0 / d)) - 1.0;
        let arg = (1.0 - &r * &r).maximum(0.0).sqrt() * lit(n, beta);
        super::i0(&arg) / super::i0(lit(n, beta))
    })
}

/// `f(indices...)` over a grid of `shape`: `f` receives one index array per
/// axis (as `dtype`, default i32).
///
/// ```
/// use oxjax::numpy as jnp;
/// let m = jnp::fromfunction(|i| &i[0] * 10 + &i[1], &[2, 3], None);
/// assert_eq!(m.to_vec::<i32>(), vec![0, 1, 2, 10, 11, 12]);
/// ```
pub fn fromfunction(
    f: impl Fn(&[Array]) -> Array,
    shape: &[usize],
    dtype: impl Into<Option<DType>>,
) -> Array {
    let grid = indices(shape, dtype);
    let parts: Vec<Array> = (0..shape.len())
        .map(|i| super::shape::slice_axis(&grid, 0, i, 1, 1).squeeze(&[0]))
        .collect();
    f(&parts)
}
