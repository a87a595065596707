//! `jax.lax`'s elementwise, reduction and shape functions under their lax
//! names: thin forms of the `Array` API and `oxjax::numpy` (lax's explicit
//! shapes: `broadcast_in_dim`, `pad` with interior padding, `rev`, ...).

use crate::error::ErrorKind;
use crate::primitive::Prim;
use crate::primitive::bind1;
use crate::primitive::{float_of, lit, or_panic};
use crate::{Array, AsArray, DType, Scalar, Slice};
use std::f64::consts::LN_2;

macro_rules! unary {
    ($($(#[$doc:meta])* pub fn $name:ident => $f:path;)*) => {$(
        $(#[$doc])*
        #[doc = concat!("\n\nElementwise `lax.", stringify!($name), "`.")]
        pub fn $name(x: &Array) -> Array {
            $f(x)
        }
    )*};
}

macro_rules! binary {
    ($($(#[$doc:meta])* pub fn $name:ident => $f:path;)*) => {$(
        $(#[$doc])*
        #[doc = concat!("\n\nElementwise `lax.", stringify!($name), "` with broadcasting and promotion.")]
        pub fn $name(x: &Array, y: impl AsArray) -> Array {
            $f(x, y.as_array())
        }
    )*};
}

unary! {
    /// `|x|`.
    ///
    /// ```
    /// use oxjax::{Array, lax};
    /// let x = Array::from_vec(vec![-1.0f32, 4.0], &[2]);
    /// assert_eq!(lax::abs(&x).to_vec::<f32>(), vec![1.0, 4.0]);
    /// assert_eq!(lax::sqrt(&lax::abs(&x)).to_vec::<f32>(), vec![1.0, 2.0]);
    /// ```
    pub fn abs => Array::abs;
    pub fn neg => Array::neg;
    pub fn sign => Array::sign;
    pub fn sqrt => Array::sqrt;
    /// `1 / sqrt(x)`.
    pub fn rsqrt => Array::rsqrt;
    pub fn reciprocal => Array::reciprocal;
    pub fn exp => Array::exp;
    pub fn exp2 => Array::exp2;
    pub fn expm1 => Array::expm1;
    pub fn log => Array::log;
    pub fn log1p => Array::log1p;
    pub fn sin => Array::sin;
    pub fn cos => Array::cos;
    pub fn tan => Array::tan;
    pub fn asin => Array::arcsin;
    pub fn acos => Array::arccos;
    pub fn atan => Array::arctan;
    pub fn sinh => Array::sinh;
    pub fn cosh => Array::cosh;
    pub fn tanh => Array::tanh;
    pub fn erf => Array::erf;
    pub fn erfc => Array::erfc;
    pub fn floor => Array::floor;
    pub fn ceil => Array::ceil;
    /// True where finite.
    pub fn is_finite => Array::isfinite;
    /// `x * x`.
    pub fn square => Array::square;
    /// A value treated as a constant by differentiation.
    pub fn stop_gradient => Array::stop_gradient;
}

binary! {
    /// `x + y`.
    ///
    /// ```
    /// use oxjax::{Array, lax};
    /// let x = Array::from_vec(vec![1.0f32, 4.0], &[2]);
    /// assert_eq!(lax::mul(&lax::add(&x, 1.0), 2.0).to_vec::<f32>(), vec![4.0, 10.0]);
    /// ```
    pub fn add => Array::add;
    pub fn sub => Array::subtract;
    pub fn mul => Array::multiply;
    /// Division; on integers it rounds toward zero (as C and XLA do).
    pub fn div => lax_div;
    /// Remainder with the sign of the dividend (C's `%`).
    pub fn rem => Array::fmod;
    pub fn pow => Array::power;
    pub fn max => Array::maximum;
    pub fn min => Array::minimum;
    pub fn atan2 => Array::arctan2;
    pub fn bitwise_and => Array::bitwise_and;
    pub fn bitwise_or => Array::bitwise_or;
    pub fn bitwise_xor => Array::bitwise_xor;
    pub fn shift_left => Array::left_shift;
    /// Arithmetic right shift (on i32).
    pub fn shift_right_arithmetic => Array::right_shift;
    pub fn eq => Array::equal;
    pub fn ne => Array::not_equal;
    pub fn lt => Array::less;
    pub fn le => Array::less_equal;
    pub fn gt => Array::greater;
    pub fn ge => Array::greater_equal;
}

fn lax_div(x: &Array, y: Array) -> Array {
    if x.dtype().is_float() || y.dtype().is_float() {
        x.divide(y)
    } else {
        // Round toward zero: fmod gives the remainder with the dividend's sign.
        let r = x.fmod(&y);
        (x - &r).floor_divide(y)
    }
}

/// `1 / (1 + exp(-x))`.
///
/// ```
/// use oxjax::{Array, lax};
/// assert_eq!(lax::logistic(&Array::scalar(0.0f32)).item::<f32>(), 0.5);
/// ```
pub fn logistic(x: &Array) -> Array {
    let x = float_of(x);
    let e = (-x.abs()).exp();
    let d = &e + 1.0;
    Array::where_(&x.greater_equal(0.0), 1.0 / &d, &e / &d)
}

/// `x ** n` for a static integer `n`, by repeated squaring (negative `n`:
/// the reciprocal).
///
/// ```
/// use oxjax::{Array, lax};
/// assert_eq!(lax::integer_pow(&Array::scalar(3.0f32), 3).item::<f32>(), 27.0);
/// assert_eq!(lax::integer_pow(&Array::scalar(2.0f32), -2).item::<f32>(), 0.25);
/// ```
pub fn integer_pow(x: &Array, n: i32) -> Array {
    let mut result: Option<Array> = None;
    let mut base = x.clone();
    let mut k = n.unsigned_abs();
    while k > 0 {
        if k & 1 == 1 {
            result = Some(match result {
                None => base.clone(),
                Some(r) => &r * &base,
            });
        }
        k >>= 1;
        if k > 0 {
            base = &base * &base;
        }
    }
    let r = result.unwrap_or_else(|| Array::ones(x.shape(), x.dtype()));
    if n < 0 { r.reciprocal() } else { r }
}

/// How [`round`] breaks ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundingMethod {
    /// Halves round away from zero (lax's default).
    AwayFromZero,
    /// Halves round to the even neighbour (NumPy's rule).
    ToNearestEven,
}

/// Rounds to an integer value with the given tie rule.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![0.5f32, 1.5, -2.5], &[3]);
/// assert_eq!(lax::round(&x, lax::RoundingMethod::AwayFromZero).to_vec::<f32>(), vec![1.0, 2.0, -3.0]);
/// assert_eq!(lax::round(&x, lax::RoundingMethod::ToNearestEven).to_vec::<f32>(), vec![0.0, 2.0, -2.0]);
/// ```
pub fn round(x: &Array, method: RoundingMethod) -> Array {
    match method {
        RoundingMethod::ToNearestEven => x.round(),
        RoundingMethod::AwayFromZero => x.sign() * (x.abs() + 0.5).floor(),
    }
}

/// `min(max(x, lo), hi)`.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![-2.0f32, 0.5, 3.0], &[3]);
/// assert_eq!(lax::clamp(-1.0, &x, 1.0).to_vec::<f32>(), vec![-1.0, 0.5, 1.0]);
/// ```
pub fn clamp(lo: impl AsArray, x: &Array, hi: impl AsArray) -> Array {
    x.maximum(lo).minimum(hi)
}

/// `pred ? on_true : on_false` elementwise.
///
/// ```
/// use oxjax::{Array, lax};
/// let p = Array::from_vec(vec![true, false], &[2]);
/// let a = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(lax::select(&p, &a, &(-&a)).to_vec::<i32>(), vec![1, -2]);
/// ```
pub fn select(pred: &Array, on_true: &Array, on_false: &Array) -> Array {
    Array::where_(pred, on_true, on_false)
}

/// The array converted to `dtype`.
///
/// ```
/// use oxjax::{Array, DType, lax};
/// assert_eq!(lax::convert_element_type(&Array::scalar(1.5f32), DType::I32).item::<i32>(), 1);
/// ```
pub fn convert_element_type(x: &Array, dtype: DType) -> Array {
    x.astype(dtype)
}

macro_rules! reduce {
    ($($(#[$doc:meta])* pub fn $name:ident => $m:ident;)*) => {$(
        $(#[$doc])*
        #[doc = concat!("\n\n`lax.", stringify!($name), "` over the given axes.")]
        pub fn $name(x: &Array, axes: &[usize]) -> Array {
            let a: Vec<isize> = axes.iter().map(|&d| d as isize).collect();
            x.$m(a, false)
        }
    )*};
}

reduce! {
    /// Sum over `axes`.
    ///
    /// ```
    /// use oxjax::{Array, lax};
    /// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(lax::reduce_sum(&x, &[0]).to_vec::<f32>(), vec![4.0, 6.0]);
    /// assert_eq!(lax::reduce_max(&x, &[0, 1]).item::<f32>(), 4.0);
    /// ```
    pub fn reduce_sum => sum;
    pub fn reduce_prod => prod;
    pub fn reduce_max => max;
    pub fn reduce_min => min;
    /// Logical and over `axes`.
    pub fn reduce_and => all;
    /// Logical or over `axes`.
    pub fn reduce_or => any;
}

/// Index (as `index_dtype`) of the maximum along `axis`.
///
/// ```
/// use oxjax::{Array, DType, lax};
/// let x = Array::from_vec(vec![1.0f32, 3.0, 2.0], &[3]);
/// assert_eq!(lax::argmax(&x, 0, DType::I32).item::<i32>(), 1);
/// ```
pub fn argmax(x: &Array, axis: usize, index_dtype: DType) -> Array {
    x.argmax(Some(axis as isize)).astype(index_dtype)
}

/// Index (as `index_dtype`) of the minimum along `axis`.
pub fn argmin(x: &Array, axis: usize, index_dtype: DType) -> Array {
    x.argmin(Some(axis as isize)).astype(index_dtype)
}

/// `0, 1, ..., size - 1` as `dtype`.
///
/// ```
/// use oxjax::{DType, lax};
/// assert_eq!(lax::iota(DType::I32, 3).to_vec::<i32>(), vec![0, 1, 2]);
/// ```
pub fn iota(dtype: DType, size: usize) -> Array {
    Array::arange(0.0, size as f64, 1.0, dtype)
}

/// Indices along `dimension` of an array of `shape`.
///
/// ```
/// use oxjax::{DType, lax};
/// assert_eq!(lax::broadcasted_iota(DType::I32, &[2, 2], 1).to_vec::<i32>(), vec![0, 1, 0, 1]);
/// ```
pub fn broadcasted_iota(dtype: DType, shape: &[usize], dimension: usize) -> Array {
    let mut s = vec![1; shape.len()];
    s[dimension] = shape[dimension];
    iota(dtype, shape[dimension])
        .reshape(&s.iter().map(|&d| d as isize).collect::<Vec<_>>())
        .broadcast_to(shape)
}

/// `fill_value` broadcast to `shape` as `dtype`.
///
/// ```
/// use oxjax::{DType, lax};
/// assert_eq!(lax::full(&[2], 1.5, DType::F32).to_vec::<f32>(), vec![1.5, 1.5]);
/// ```
pub fn full(shape: &[usize], fill_value: impl AsArray, dtype: DType) -> Array {
    fill_value.as_array().astype(dtype).broadcast_to(shape)
}

/// `fill_value` with the shape and (unless given) dtype of `x`.
pub fn full_like(x: &Array, fill_value: impl AsArray, dtype: Option<DType>) -> Array {
    full(x.shape(), fill_value, dtype.unwrap_or(x.dtype()))
}

/// Adds leading axes: the result has shape `sizes ++ x.shape`.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(lax::broadcast(&x, &[3]).shape(), &[3, 2]);
/// ```
pub fn broadcast(x: &Array, sizes: &[usize]) -> Array {
    let mut s = sizes.to_vec();
    s.extend_from_slice(x.shape());
    x.broadcast_to(&s)
}

/// Broadcasts `x` to `shape`, operand axis `i` becoming result axis
/// `broadcast_dimensions[i]`.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1i32, 2], &[2]);
/// assert_eq!(lax::broadcast_in_dim(&x, &[2, 3], &[0]).to_vec::<i32>(), vec![1, 1, 1, 2, 2, 2]);
/// ```
pub fn broadcast_in_dim(x: &Array, shape: &[usize], broadcast_dimensions: &[usize]) -> Array {
    assert!(
        broadcast_dimensions.len() == x.ndim()
            && broadcast_dimensions.windows(2).all(|w| w[0] < w[1])
            && broadcast_dimensions
                .iter()
                .zip(x.shape())
                .all(|(&d, &n)| d < shape.len() && (n == 1 || n == shape[d])),
        "broadcast_in_dim: operand shape {:?} cannot map to {shape:?} by dimensions {broadcast_dimensions:?}",
        x.shape()
    );
    let mut s = vec![1isize; shape.len()];
    for (&d, &n) in broadcast_dimensions.iter().zip(x.shape()) {
        s[d] = n as isize;
    }
    x.reshape(&s).broadcast_to(shape)
}

/// Reshapes (optionally after transposing by `dimensions`).
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// assert_eq!(lax::reshape(&x, &[4], Some(&[1, 0])).to_vec::<i32>(), vec![1, 3, 2, 4]);
/// ```
pub fn reshape(x: &Array, new_sizes: &[usize], dimensions: Option<&[usize]>) -> Array {
    let x = match dimensions {
        Some(p) => x.transpose(p),
        None => x.clone(),
    };
    x.reshape(&new_sizes.iter().map(|&d| d as isize).collect::<Vec<_>>())
}

/// Permutes the axes.
pub fn transpose(x: &Array, permutation: &[usize]) -> Array {
    x.transpose(permutation)
}

/// Reverses the given axes.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1i32, 2, 3], &[3]);
/// assert_eq!(lax::rev(&x, &[0]).to_vec::<i32>(), vec![3, 2, 1]);
/// ```
pub fn rev(x: &Array, dimensions: &[usize]) -> Array {
    if dimensions.is_empty() {
        return x.clone();
    }
    x.flip(&dimensions.iter().map(|&d| d as isize).collect::<Vec<_>>())
}

/// Removes the given axes of length 1.
pub fn squeeze(x: &Array, dimensions: &[usize]) -> Array {
    x.squeeze(&dimensions.iter().map(|&d| d as isize).collect::<Vec<_>>())
}

/// Inserts axes of length 1 at the given result positions.
pub fn expand_dims(x: &Array, dimensions: &[usize]) -> Array {
    // Result positions, inserted in ascending order.
    let mut dims = dimensions.to_vec();
    dims.sort_unstable();
    dims.iter()
        .fold(x.clone(), |y, &d| y.expand_dims(d as isize))
}

/// Joins arrays along `dimension`.
pub fn concatenate(operands: &[&Array], dimension: usize) -> Array {
    Array::concatenate(operands, dimension as isize)
}

/// The elements from `start` (inclusive) to `limit` (exclusive) by `strides`.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![0i32, 1, 2, 3, 4, 5], &[6]);
/// assert_eq!(lax::slice(&x, &[1], &[6], Some(&[2])).to_vec::<i32>(), vec![1, 3, 5]);
/// ```
pub fn slice(x: &Array, start: &[usize], limit: &[usize], strides: Option<&[usize]>) -> Array {
    assert!(
        start.len() == x.ndim() && limit.len() == x.ndim(),
        "slice: start {start:?} and limit {limit:?} must have one entry per axis of shape {:?}",
        x.shape()
    );
    let s: Vec<Slice> = (0..x.ndim())
        .map(|d| Slice {
            start: Some(start[d] as isize),
            stop: Some(limit[d] as isize),
            step: strides.map_or(1, |s| s[d] as isize),
        })
        .collect();
    x.slice(&s)
}

/// [`slice()`] along one axis.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![0i32, 1, 2, 3], &[2, 2]);
/// assert_eq!(lax::slice_in_dim(&x, 1, 2, 1, 1).to_vec::<i32>(), vec![1, 3]);
/// ```
pub fn slice_in_dim(x: &Array, start: usize, limit: usize, stride: usize, axis: usize) -> Array {
    let mut s = vec![Slice::all(); axis + 1];
    s[axis] = Slice {
        start: Some(start as isize),
        stop: Some(limit as isize),
        step: stride as isize,
    };
    x.slice(&s)
}

/// Pads with `(low, high, interior)` per axis: `interior` elements between
/// neighbours, negative `low`/`high` crop.
///
/// Partial: the padding value is a host number, not a traced array.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1i32, 2, 3], &[3]);
/// assert_eq!(lax::pad(&x, 0.0, &[(1, -1, 1)]).to_vec::<i32>(), vec![0, 1, 0, 2, 0]);
/// ```
pub fn pad(x: &Array, padding_value: f64, config: &[(isize, isize, usize)]) -> Array {
    crate::primitive::or_panic(try_pad(x, padding_value, config))
}

/// [`pad`], returning misuse as an error.
pub fn try_pad(
    x: &Array,
    padding_value: f64,
    config: &[(isize, isize, usize)],
) -> crate::Result<Array> {
    if config.len() != x.ndim() {
        return Err(crate::Error::new(
            ErrorKind::Shape,
            format!(
                "pad: {} (low, high, interior) triples for an array of shape {:?}",
                config.len(),
                x.shape()
            ),
        ));
    }
    let grow: Vec<(usize, usize, usize)> = config
        .iter()
        .map(|&(l, h, i)| (l.max(0) as usize, h.max(0) as usize, i))
        .collect();
    let y = if grow.iter().all(|&w| w == (0, 0, 0)) {
        x.clone()
    } else {
        bind1(
            Prim::Pad(grow, Scalar::F64(padding_value).cast(x.dtype())),
            &[x],
        )
    };
    if config.iter().all(|&(l, h, _)| l >= 0 && h >= 0) {
        return Ok(y);
    }
    let s: Vec<Slice> = config
        .iter()
        .zip(y.shape())
        .map(|(&(l, h, _), &n)| {
            let lo = (-l).max(0);
            let hi = n as isize - (-h).max(0);
            Slice {
                start: Some(lo),
                stop: Some(hi.max(lo)),
                step: 1,
            }
        })
        .collect();
    y.try_slice(&s)
}

/// Collapses axes `start..stop` into one.
///
/// ```
/// use oxjax::{lax, numpy as jnp};
/// assert_eq!(lax::collapse(&jnp::zeros(&[2, 3, 4], None), 1, 3).shape(), &[2, 12]);
/// ```
pub fn collapse(x: &Array, start: usize, stop: usize) -> Array {
    let s = x.shape();
    let mut out: Vec<isize> = s[..start].iter().map(|&d| d as isize).collect();
    out.push(s[start..stop].iter().product::<usize>() as isize);
    out.extend(s[stop..].iter().map(|&d| d as isize));
    x.reshape(&out)
}

/// The matrix or vector product (`lax.dot`: 1-d or 2-d operands).
///
/// ```
/// use oxjax::{Array, lax};
/// let v = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// assert_eq!(lax::dot(&v, &v).item::<f32>(), 5.0);
/// ```
pub fn dot(x: &Array, y: &Array) -> Array {
    x.dot(y)
}

/// Batched matrix product of two rank-3 arrays.
pub fn batch_matmul(x: &Array, y: &Array) -> Array {
    x.matmul(y)
}

/// Logical right shift (zeros shifted in), on the bits of i32 or u32.
///
/// ```
/// use oxjax::{Array, lax};
/// assert_eq!(lax::shift_right_logical(&Array::scalar(-8i32), 28).item::<i32>(), 15);
/// ```
pub fn shift_right_logical(x: &Array, y: impl AsArray) -> Array {
    let d = x.dtype();
    if d == DType::I32 {
        // Reinterpret through u32: shifting a u32 is logical.
        let y = y.as_array().astype(DType::U32);
        let u = x.astype(DType::U32);
        u.right_shift(y).astype(DType::I32)
    } else {
        x.right_shift(y)
    }
}

/// Logical xor over `axes` (an odd number of true values).
///
/// Partial: bool operands only.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![true, true, true, false], &[4]);
/// assert!(lax::reduce_xor(&x, &[0]).item::<bool>());
/// ```
pub fn reduce_xor(x: &Array, axes: &[usize]) -> Array {
    let a: Vec<isize> = axes.iter().map(|&d| d as isize).collect();
    let n = x.astype(DType::BOOL).astype(DType::I32).sum(a, false);
    if x.dtype() == DType::BOOL {
        n.remainder(2).equal(1)
    } else {
        crate::error::fail(
            crate::ErrorKind::DType,
            format!(
                "reduce_xor: only bool operands are supported, got {}",
                x.dtype()
            ),
        )
    }
}

/// Splits `x` along `axis` into pieces of the given `sizes`.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4, 5], &[5]);
/// let p = lax::split(&x, &[2, 3], 0);
/// assert_eq!(p[1].to_vec::<i32>(), vec![3, 4, 5]);
/// ```
pub fn split(x: &Array, sizes: &[usize], axis: usize) -> Vec<Array> {
    assert_eq!(
        sizes.iter().sum::<usize>(),
        x.shape()[axis],
        "split: sizes {sizes:?} do not add up to axis {axis} of shape {:?}",
        x.shape()
    );
    let mut start = 0;
    sizes
        .iter()
        .map(|&n| {
            let piece = slice_in_dim(x, start, start + n, 1, axis);
            start += n;
            piece
        })
        .collect()
}

/// Repeats `x` `reps[i]` times along each axis (as `jnp.tile`).
pub fn tile(x: &Array, reps: &[usize]) -> Array {
    let r = x.ndim().max(reps.len());
    let mut shape = vec![1; r - x.ndim()];
    shape.extend_from_slice(x.shape());
    let mut reps_full = vec![1; r - reps.len()];
    reps_full.extend_from_slice(reps);
    let dims = |v: Vec<usize>| v.into_iter().map(|d| d as isize).collect::<Vec<_>>();
    // Each axis d becomes [1, d], stretched to [k, d], then merged.
    let inter = dims(shape.iter().flat_map(|&d| [1, d]).collect());
    let big: Vec<usize> = shape
        .iter()
        .zip(&reps_full)
        .flat_map(|(&d, &k)| [k, d])
        .collect();
    let out = dims(shape.iter().zip(&reps_full).map(|(&d, &k)| d * k).collect());
    x.reshape(&inter).broadcast_to(&big).reshape(&out)
}

/// The slices of `x` along `axis`.
pub fn unstack(x: &Array, axis: usize) -> Vec<Array> {
    (0..x.shape()[axis])
        .map(|i| index_in_dim(x, i, axis, false))
        .collect()
}

/// Adds leading axes of length 1 up to rank `rank`.
///
/// ```
/// use oxjax::{Array, lax};
/// assert_eq!(lax::broadcast_to_rank(&Array::scalar(1i32), 2).shape(), &[1, 1]);
/// ```
pub fn broadcast_to_rank(x: &Array, rank: usize) -> Array {
    let mut s = vec![1isize; rank.saturating_sub(x.ndim())];
    s.extend(x.shape().iter().map(|&d| d as isize));
    x.reshape(&s)
}

/// The shape several shapes broadcast to.
pub fn broadcast_shapes(shapes: &[&[usize]]) -> Vec<usize> {
    or_panic(crate::primitive::broadcast_shapes(
        "broadcast_shapes",
        shapes,
    ))
}

/// Element `index` of `axis`, keeping that axis (length 1) when `keepdims`.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// assert_eq!(lax::index_in_dim(&x, 1, 0, false).to_vec::<i32>(), vec![3, 4]);
/// ```
pub fn index_in_dim(x: &Array, index: usize, axis: usize, keepdims: bool) -> Array {
    let s = slice_in_dim(x, index, index + 1, 1, axis);
    if keepdims {
        s
    } else {
        s.squeeze(&[axis as isize])
    }
}

/// Zeros of `dtype` (lax's "empty": arrays are immutable).
pub fn empty(dtype: DType) -> Array {
    Array::zeros(&[], dtype)
}

/// The number of set bits of each integer (all 32 bits, two's complement).
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![0i32, 7, -1], &[3]);
/// assert_eq!(lax::population_count(&x).to_vec::<i32>(), vec![0, 3, 32]);
/// ```
pub fn population_count(x: &Array) -> Array {
    let d = x.dtype();
    assert!(
        d == DType::I32 || d == DType::U32,
        "population_count: needs i32 or u32, got {d}"
    );
    // SWAR: pairs, nibbles, bytes; the byte sums are small, so the
    // arithmetic shifts of i32 see no sign bit from there on.
    let x = x - (x.right_shift(1) & 0x5555_5555);
    let x = (&x & 0x3333_3333) + (x.right_shift(2) & 0x3333_3333);
    let x = (&x + x.right_shift(4)) & 0x0f0f_0f0f;
    let x = &x + x.right_shift(8);
    let x = &x + x.right_shift(16);
    x & 0x3f
}

/// The number of leading zero bits of each 32-bit integer.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![0i32, 1, 255, -1], &[4]);
/// assert_eq!(lax::clz(&x).to_vec::<i32>(), vec![32, 31, 24, 0]);
/// ```
pub fn clz(x: &Array) -> Array {
    // Smear the highest set bit downwards, then count the ones.
    let mut s = x.clone();
    for k in [1, 2, 4, 8, 16] {
        s = &s | s.right_shift(k);
    }
    population_count(&s).multiply(-1) + 32
}

/// `log|Γ(x)|` by the Lanczos approximation (g = 7), with the reflection
/// formula below 1/2; accurate to about 1e-14 in f64.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1.0f64, 0.5, 10.0, -0.5], &[4]);
/// let want = [0.0, 0.5723649429247001, 12.801827480081469, 1.2655121234846454];
/// for (a, b) in lax::lgamma(&x).to_vec::<f64>().iter().zip(want) {
///     assert!((a - b).abs() < 1e-12, "{a} vs {b}");
/// }
/// ```
pub fn lgamma(x: &Array) -> Array {
    use std::f64::consts::PI;
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = float_of(x);
    let c = |v: f64| lit(&x, v);
    let reflect = x.less(0.5);
    // Evaluate the series at z = x (or 1 - x when reflecting), as z - 1.
    let z = Array::where_(&reflect, 1.0 - &x, &x) - 1.0;
    let mut a = c(C[0]);
    for (k, &ck) in C.iter().enumerate().skip(1) {
        a = a + c(ck) / (&z + k as f64);
    }
    let t = &z + c(G + 0.5);
    let series = c(0.5 * (2.0 * PI).ln()) + (&z + 0.5) * t.log() - &t + a.log();
    // Reflection: log Γ(x) = log(π / |sin(πx)|) - log Γ(1 - x).
    let s = (&x * c(PI)).sin().abs();
    let reflected = c(PI.ln()) - s.log() - &series;
    let y = Array::where_(&reflect, reflected, series);
    // Poles (0, -1, -2, ...; every f32 beyond 2^23 is an integer) and ±inf
    // are +inf, as JAX; sin(πx) rounding would give finite values there.
    let pole = x.less_equal(0.0) & x.floor().equal(&x);
    Array::where_(&(pole | x.isinf()), f64::INFINITY, &y)
}

/// The digamma function `ψ(x) = d/dx log Γ(x)`: the derivative of
/// [`lgamma`], by forward-mode differentiation.
///
/// ```
/// use oxjax::{Array, lax};
/// let psi1 = lax::digamma(&Array::scalar(1.0f64)).item::<f64>();
/// assert!((psi1 + 0.5772156649015329).abs() < 1e-12);
/// ```
pub fn digamma(x: &Array) -> Array {
    let x = float_of(x);
    crate::jvp(lgamma, &x, &x.ones_like()).1
}

/// The inverse error function: `erf(erf_inv(y)) = y` on `(-1, 1)`, ±Inf at
/// ±1 (Giles' approximation refined by two Newton steps).
///
/// ```
/// use oxjax::{Array, lax};
/// let y = Array::from_vec(vec![-0.5f64, 0.0, 0.9, 0.999999], &[4]);
/// let back = lax::erf_inv(&y).erf().to_vec::<f64>();
/// for (a, b) in back.iter().zip([-0.5, 0.0, 0.9, 0.999999]) {
///     assert!((a - b).abs() < 1e-12, "{a} vs {b}");
/// }
/// ```
pub fn erf_inv(y: &Array) -> Array {
    let y = float_of(y);
    let c = |v: f64| lit(&y, v);
    let w = -((1.0 - &y) * (&y + 1.0)).log();
    let poly = |w: &Array, cs: &[f64]| {
        let mut p = c(cs[0]);
        for &k in &cs[1..] {
            p = p * w + c(k);
        }
        p
    };
    let small = poly(
        &(&w - 2.5),
        &[
            2.810_226_36e-08,
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ],
    );
    let large = poly(
        &(w.maximum(5.0).sqrt() - 3.0),
        &[
            -0.000_200_214_257,
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ],
    );
    let mut x = Array::where_(&w.less(5.0), small, large) * &y;
    let inside = y.abs().less(1.0);
    let two_over_sqrt_pi = c(2.0 / std::f64::consts::PI.sqrt());
    for _ in 0..2 {
        let step = (x.erf() - &y) / ((-(&x * &x)).exp() * &two_over_sqrt_pi);
        x = Array::where_(&inside, &x - step, &x);
    }
    let edge = y.sign() * f64::INFINITY;
    Array::where_(
        &inside,
        &x,
        Array::where_(&y.abs().equal(1.0), edge, f64::NAN),
    )
}

/// The output shape of [`reduce_window`](super::reduce_window).
///
/// ```
/// use oxjax::lax::{self, Padding};
/// assert_eq!(lax::reduce_window_shape_tuple(&[5, 6], &[2, 3], &[2, 1], &Padding::Valid), vec![2, 4]);
/// ```
pub fn reduce_window_shape_tuple(
    operand_shape: &[usize],
    window_dimensions: &[usize],
    window_strides: &[usize],
    padding: &super::Padding,
) -> Vec<usize> {
    let pads = super::padtype_to_pads(operand_shape, window_dimensions, window_strides, padding);
    operand_shape
        .iter()
        .zip(window_dimensions)
        .zip(window_strides)
        .zip(pads)
        .map(|(((&n, &k), &s), (lo, hi))| {
            let p = n as isize + lo + hi - k as isize;
            if p < 0 {
                0
            } else {
                (p / s as isize + 1) as usize
            }
        })
        .collect()
}

// ---- composites (jnp builds on these) ------------------------------------

/// Cube root, real for negative inputs.
///
/// ```
/// use oxjax::lax;
/// assert!((lax::cbrt(-8.0).item::<f32>() + 2.0).abs() < 1e-6);
/// ```
pub fn cbrt(x: impl AsArray) -> Array {
    // The derivative `1 / (3 cbrt(x)²)` is written out so that it is inf at
    // 0 (as JAX), not the NaN of differentiating `sign(x) |x|^(1/3)`.
    let f = |x: &Array| x.sign() * x.abs().power(lit(x, 1.0 / 3.0));
    crate::custom_jvp("cbrt", f, move |x: &Array, t: &Array| {
        let y = f(x);
        let d = t / (&y * &y * 3.0);
        (y, d)
    })(&float_of(&x.as_array()))
}

/// Inverse hyperbolic sine, `sign(x) log(|x| + sqrt(x² + 1))` in a form
/// accurate near 0.
///
/// ```
/// use oxjax::lax;
/// assert!((lax::asinh(1.0).item::<f32>() - 0.8813736).abs() < 1e-6);
/// ```
pub fn asinh(x: impl AsArray) -> Array {
    let x = float_of(&x.as_array());
    let a = x.abs();
    // Beyond 1e10, a² overflows (f32) and asinh(a) = ln 2a to the last bit.
    let big = a.greater(1e10);
    let small = Array::where_(&big, 1.0, &a);
    let a2 = &small * &small;
    // log1p(a + a²/(1 + sqrt(1 + a²))) == log(a + sqrt(a² + 1))
    let near = (&small + &a2 / ((&a2 + 1.0).sqrt() + 1.0)).log1p();
    let far = Array::where_(&big, &a, 1.0).log() + lit(&x, LN_2);
    // sign(x) * ..., keeping ±0 and the sign of ±inf.
    x.sign() * Array::where_(&big, &far, &near)
}

/// Inverse hyperbolic cosine (NaN below 1).
///
/// ```
/// use oxjax::lax;
/// assert!((lax::acosh(2.0).item::<f32>() - 1.3169579).abs() < 1e-6);
/// ```
pub fn acosh(x: impl AsArray) -> Array {
    let x = float_of(&x.as_array());
    // Beyond 1e10, x² overflows (f32) and acosh(x) = ln 2x to the last bit.
    let big = x.greater(1e10);
    let small = Array::where_(&big, 2.0, &x);
    let near = (&small + ((&small - 1.0) * (&small + 1.0)).sqrt()).log();
    let far = Array::where_(&big, &x, 1.0).log() + lit(&x, LN_2);
    Array::where_(&big, &far, &near)
}

/// Inverse hyperbolic tangent, `log1p(2x / (1 - x)) / 2`.
///
/// ```
/// use oxjax::lax;
/// assert!((lax::atanh(0.5).item::<f32>() - 0.54930615).abs() < 1e-6);
/// ```
pub fn atanh(x: impl AsArray) -> Array {
    let x = float_of(&x.as_array());
    (&x * 2.0 / (1.0 - &x)).log1p() * 0.5
}

/// Bitwise not on integers, logical not on bool.
///
/// ```
/// use oxjax::lax;
/// assert_eq!(lax::bitwise_not(0).item::<i32>(), -1);
/// ```
pub fn bitwise_not(x: impl AsArray) -> Array {
    let x = x.as_array();
    assert!(
        !x.dtype().is_float(),
        "bitwise_not: not defined on {}",
        x.dtype()
    );
    x.logical_not()
}

/// The real part: the value itself (oxjax has no complex dtypes).
///
/// ```
/// use oxjax::lax;
/// assert_eq!(lax::real(2.0).item::<f32>(), 2.0);
/// ```
pub fn real(x: impl AsArray) -> Array {
    x.as_array()
}

/// The imaginary part: zeros (oxjax has no complex dtypes).
///
/// ```
/// use oxjax::lax;
/// assert_eq!(lax::imag(2.0).item::<f32>(), 0.0);
/// ```
pub fn imag(x: impl AsArray) -> Array {
    let x = x.as_array();
    x.zeros_like()
}

/// The complex conjugate: the value itself (no complex dtypes).
///
/// ```
/// use oxjax::lax;
/// assert_eq!(lax::conj(2.0).item::<f32>(), 2.0);
/// ```
pub fn conj(x: impl AsArray) -> Array {
    x.as_array()
}

/// `log(exp(x) + exp(y))` without overflow.
///
/// ```
/// use oxjax::lax;
/// assert!((lax::logaddexp(1000.0, 1000.0).item::<f32>() - 1000.6931).abs() < 1e-3);
/// ```
pub fn logaddexp(x: impl AsArray, y: impl AsArray) -> Array {
    let (x, y) = (float_of(&x.as_array()), float_of(&y.as_array()));
    let f = |(x, y): &(Array, Array)| {
        let m = x.maximum(y);
        let delta = x - y;
        // delta is NaN when both are the same infinity (or a NaN): x + y is right then.
        Array::where_(&delta.isnan(), x + y, &m + (-delta.abs()).exp().log1p())
    };
    // JAX's rule: each tangent weighted by exp(x - out), +inf read as 0,
    // so the derivative at (inf, inf) is 1 rather than NaN.
    crate::custom_jvp(
        "logaddexp",
        f,
        move |p: &(Array, Array), t: &(Array, Array)| {
            let out = f(p);
            let finite = |v: &Array| Array::where_(&v.equal(f64::INFINITY), 0.0, v);
            let o = finite(&out);
            let d = &t.0 * (finite(&p.0) - &o).exp() + &t.1 * (finite(&p.1) - &o).exp();
            (out, d)
        },
    )(&(x, y))
}
