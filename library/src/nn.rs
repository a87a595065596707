//! `oxjax::nn`: activations, the softmax family, `one_hot` and
//! `standardize`, as in `jax.nn`. Each is a composition of primitives
//! written to be numerically stable (no overflow in `exp`, finite
//! gradients away from kinks).
//!
//! ```
//! use oxjax::{Array, nn};
//! let x = Array::from_vec(vec![-1.0f32, 0.0, 2.0], &[3]);
//! assert_eq!(nn::relu(&x).to_vec::<f32>(), vec![0.0, 0.0, 2.0]);
//! let p = nn::softmax(&x, -1);
//! assert!((p.sum(-1, false).item::<f32>() - 1.0).abs() < 1e-6);
//! ```
//!
//! Weight initializers (`jax.nn.initializers`) live in [`initializers`].

pub mod initializers;

use crate::numpy::{self as jnp, float_of, lit};
use crate::primitive::softmax_rules;
use crate::{Array, Axes, DType};
use std::f64::consts::PI;

/// `max(x, 0)`.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::relu(&Array::scalar(-2.0f32)).item::<f32>(), 0.0);
/// ```
pub fn relu(x: &Array) -> Array {
    // A select rather than max(x, 0), so the derivative at 0 is 0 as in
    // JAX (max's derivative splits ties); NaN passes through.
    Array::where_(
        &(x.greater(0.0) | x.isnan()),
        x,
        Array::zeros(&[], x.dtype()),
    )
}

/// `min(max(x, 0), 6)`.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::relu6(&Array::scalar(7.0f32)).item::<f32>(), 6.0);
/// ```
pub fn relu6(x: &Array) -> Array {
    relu(x).minimum(6.0)
}

/// The logistic function `1 / (1 + exp(-x))`, from `e = exp(-|x|)` on
/// both sides (`1 / (1 + e)` or `e / (1 + e)`): no overflow, and the
/// negative tail keeps its relative accuracy (`sigmoid(-20) = 2.06e-9`,
/// where `(1 + tanh(x/2)) / 2` would round to 0).
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::sigmoid(&Array::scalar(0.0f32)).item::<f32>(), 0.5);
/// assert_eq!(nn::sigmoid(&Array::scalar(-1000.0f32)).item::<f32>(), 0.0);
/// assert!((nn::sigmoid(&Array::scalar(-20.0f32)).item::<f32>() - 2.0611537e-9).abs() < 1e-15);
/// ```
pub fn sigmoid(x: &Array) -> Array {
    crate::lax::logistic(x)
}

/// `log(sigmoid(x)) = -softplus(-x)`.
///
/// ```
/// use oxjax::{Array, nn};
/// assert!((nn::log_sigmoid(&Array::scalar(-100.0f32)).item::<f32>() + 100.0).abs() < 1e-4);
/// ```
pub fn log_sigmoid(x: &Array) -> Array {
    -softplus(&-float_of(x))
}

/// `log(1 + exp(x))` without overflow.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::softplus(&Array::scalar(100.0f32)).item::<f32>(), 100.0);
/// ```
pub fn softplus(x: &Array) -> Array {
    jnp::logaddexp(float_of(x), 0.0)
}

/// `x * sigmoid(x)` (also called swish).
///
/// ```
/// use oxjax::{Array, nn};
/// assert!((nn::silu(&Array::scalar(1.0f32)).item::<f32>() - 0.7310586).abs() < 1e-6);
/// ```
pub fn silu(x: &Array) -> Array {
    float_of(x) * sigmoid(x)
}

/// Alias of [`silu`].
pub fn swish(x: &Array) -> Array {
    silu(x)
}

/// `x * tanh(softplus(x))`.
///
/// ```
/// use oxjax::{Array, nn};
/// assert!((nn::mish(&Array::scalar(1.0f32)).item::<f32>() - 0.86509836).abs() < 1e-6);
/// ```
pub fn mish(x: &Array) -> Array {
    float_of(x) * softplus(x).tanh()
}

/// The Gaussian error linear unit: `x Φ(x)` exactly (via `erf`), or with
/// `approximate` the tanh form `x (1 + tanh(√(2/π)(x + 0.044715 x³))) / 2`.
///
/// ```
/// use oxjax::{Array, nn};
/// let x = Array::scalar(1.0f32);
/// assert!((nn::gelu(&x, false).item::<f32>() - 0.8413447).abs() < 1e-6);
/// assert!((nn::gelu(&x, true).item::<f32>() - 0.8411920).abs() < 1e-6);
/// ```
pub fn gelu(x: &Array, approximate: bool) -> Array {
    let x = float_of(x);
    if approximate {
        let inner = (&x + &x * &x * &x * lit(&x, 0.044715)) * lit(&x, (2.0 / PI).sqrt());
        &x * (inner.tanh() + 1.0) * 0.5
    } else {
        &x * ((&x * lit(&x, std::f64::consts::FRAC_1_SQRT_2)).erf() + 1.0) * 0.5
    }
}

/// `x` above 0, `alpha (exp(x) - 1)` below.
///
/// ```
/// use oxjax::{Array, nn};
/// assert!((nn::elu(&Array::scalar(-1.0f32), 1.0).item::<f32>() + 0.63212055).abs() < 1e-6);
/// ```
pub fn elu(x: &Array, alpha: f64) -> Array {
    let x = float_of(x);
    let pos = x.greater(0.0);
    // expm1 of a clamped value: no overflow (or NaN gradient) where x is large.
    let neg = Array::where_(&pos, 0.0, &x).expm1() * lit(&x, alpha);
    Array::where_(&pos, &x, &neg)
}

/// `max(x, 0) + alpha (exp(min(x, 0) / alpha) - 1)`.
///
/// ```
/// use oxjax::{Array, nn};
/// assert!((nn::celu(&Array::scalar(-1.0f32), 2.0).item::<f32>() + 0.7869387).abs() < 1e-6);
/// ```
pub fn celu(x: &Array, alpha: f64) -> Array {
    let x = float_of(x);
    let a = lit(&x, alpha);
    relu(&x) + (x.minimum(0.0) / &a).expm1() * &a
}

/// The scaled ELU of self-normalising networks.
///
/// ```
/// use oxjax::{Array, nn};
/// assert!((nn::selu(&Array::scalar(1.0f32)).item::<f32>() - 1.050701).abs() < 1e-6);
/// ```
pub fn selu(x: &Array) -> Array {
    const ALPHA: f64 = 1.673_263_242_354_377_3;
    const SCALE: f64 = 1.050_700_987_355_480_5;
    let y = elu(x, ALPHA);
    &y * lit(&y, SCALE)
}

/// `x` where `x >= 0`, `negative_slope * x` elsewhere.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::leaky_relu(&Array::scalar(-2.0f32), 0.01).item::<f32>(), -0.02);
/// ```
pub fn leaky_relu(x: &Array, negative_slope: f64) -> Array {
    let x = float_of(x);
    Array::where_(&x.greater_equal(0.0), &x, &x * lit(&x, negative_slope))
}

/// `clip(x, -1, 1)`.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::hard_tanh(&Array::scalar(3.0f32)).item::<f32>(), 1.0);
/// ```
pub fn hard_tanh(x: &Array) -> Array {
    // Selects, so the derivative is 1 on all of [-1, 1] as in JAX.
    let inner = Array::where_(&x.less(-1.0), -1.0, x);
    Array::where_(&x.greater(1.0), 1.0, &inner)
}

/// `relu6(x + 3) / 6`.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::hard_sigmoid(&Array::scalar(0.0f32)).item::<f32>(), 0.5);
/// ```
pub fn hard_sigmoid(x: &Array) -> Array {
    relu6(&(float_of(x) + 3.0)) / 6.0
}

/// `x * hard_sigmoid(x)`.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::hard_silu(&Array::scalar(3.0f32)).item::<f32>(), 3.0);
/// ```
pub fn hard_silu(x: &Array) -> Array {
    float_of(x) * hard_sigmoid(x)
}

/// Alias of [`hard_silu`].
pub fn hard_swish(x: &Array) -> Array {
    hard_silu(x)
}

/// `x / (|x| + 1)`.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::soft_sign(&Array::scalar(1.0f32)).item::<f32>(), 0.5);
/// ```
pub fn soft_sign(x: &Array) -> Array {
    let x = float_of(x);
    &x / (x.abs() + 1.0)
}

/// `(x + sqrt(x² + b)) / 2`, a smooth ReLU.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::squareplus(&Array::scalar(0.0f32), 4.0).item::<f32>(), 1.0);
/// ```
pub fn squareplus(x: &Array, b: f64) -> Array {
    let x = float_of(x);
    (&x + (&x * &x + lit(&x, b)).sqrt()) * 0.5
}

/// `log(1 - exp(-x))` for `x > 0`, accurate at both ends.
///
/// ```
/// use oxjax::{Array, nn};
/// let want = (1.0 - (-1.0f64).exp()).ln();
/// assert!((nn::log1mexp(&Array::scalar(1.0f64)).item::<f64>() - want).abs() < 1e-12);
/// ```
pub fn log1mexp(x: &Array) -> Array {
    let x = float_of(x);
    let small = x.less(lit(&x, std::f64::consts::LN_2));
    Array::where_(&small, (-(-&x).expm1()).log(), (-(-&x).exp()).log1p())
}

/// The gated linear unit: splits `axis` in halves `a, b` and returns
/// `a * sigmoid(b)`.
///
/// ```
/// use oxjax::{Array, nn};
/// let x = Array::from_vec(vec![2.0f32, 0.0], &[2]);
/// assert_eq!(nn::glu(&x, -1).to_vec::<f32>(), vec![1.0]);
/// ```
pub fn glu(x: &Array, axis: isize) -> Array {
    let halves = jnp::split(x, 2, axis);
    &halves[0] * sigmoid(&halves[1])
}

/// The maximum over `axes` with keepdims, finite and constant for
/// differentiation (the shift that keeps `exp` from overflowing).
fn stable_shift(x: &Array, axes: Axes) -> Array {
    let m = x.max(axes, true).stop_gradient();
    Array::where_(&m.isfinite(), &m, 0.0)
}

/// `log(sum(b * exp(x)))` over `axes`, computed stably; `b` (optional)
/// scales the terms, and a zero `b` masks them (its `x` counts as -inf, so
/// an infinite `x` there is no NaN). A negative sum gives NaN (as JAX);
/// [`logsumexp_sign`] returns its sign instead, [`logsumexp_where`] masks
/// elements.
///
/// ```
/// use oxjax::{Array, Axes, nn};
/// let x = Array::from_vec(vec![1000.0f32, 1000.0], &[2]);
/// let y = nn::logsumexp(&x, Axes::All, false, None);
/// assert!((y.item::<f32>() - 1000.6931).abs() < 1e-3);
/// ```
pub fn logsumexp(x: &Array, axes: impl Into<Axes>, keepdims: bool, b: Option<&Array>) -> Array {
    logsumexp_where(x, axes, keepdims, b, None)
}

/// [`logsumexp`] with JAX's `where=`: only elements where `where_` holds
/// (broadcast against `x`) take part; an all-masked slice gives -inf.
///
/// ```
/// use oxjax::{Array, Axes, nn};
/// let x = Array::from_vec(vec![0.0f32, 0.0, 50.0], &[3]);
/// let m = Array::from_vec(vec![true, true, false], &[3]);
/// let y = nn::logsumexp_where(&x, Axes::All, false, None, Some(&m));
/// assert!((y.item::<f32>() - 2f32.ln()).abs() < 1e-6);
/// ```
pub fn logsumexp_where(
    x: &Array,
    axes: impl Into<Axes>,
    keepdims: bool,
    b: Option<&Array>,
    where_: Option<&Array>,
) -> Array {
    let (out, sign) = lse_parts(x, axes.into(), keepdims, b, where_);
    if b.is_some() {
        Array::where_(&sign.less(0.0), lit(&out, f64::NAN), &out)
    } else {
        out
    }
}

/// `logsumexp(..., return_sign=True)`: `(log|s|, sign(s))` for
/// `s = sum(b * exp(x))` over the elements where `where_` holds, so
/// weights `b` may be negative (`sign` is -1, 0 or 1, in `x`'s float dtype).
///
/// ```
/// use oxjax::{Array, Axes, nn};
/// let x = Array::from_vec(vec![0.0f32, 2f32.ln()], &[2]);
/// let b = Array::from_vec(vec![1.0f32, -1.0], &[2]);
/// let (l, s) = nn::logsumexp_sign(&x, Axes::All, false, Some(&b), None);
/// assert!(l.item::<f32>().abs() < 1e-6); // |1 - 2| = 1
/// assert_eq!(s.item::<f32>(), -1.0);
/// ```
pub fn logsumexp_sign(
    x: &Array,
    axes: impl Into<Axes>,
    keepdims: bool,
    b: Option<&Array>,
    where_: Option<&Array>,
) -> (Array, Array) {
    lse_parts(x, axes.into(), keepdims, b, where_)
}

/// `(log|s|, sign(s))` behind the logsumexp family.
fn lse_parts(
    x: &Array,
    axes: Axes,
    keepdims: bool,
    b: Option<&Array>,
    where_: Option<&Array>,
) -> (Array, Array) {
    let mut x = float_of(x);
    let b = b.map(|b| {
        let d = jnp::result_type(&[&x, b]);
        x = x.astype(d);
        b.astype(d)
    });
    if let Some(b) = &b {
        x = Array::where_(&b.not_equal(0.0), &x, lit(&x, f64::NEG_INFINITY));
    }
    // Masked elements are -inf before exp: exactly 0 there, and no overflow
    // (a NaN gradient) from a large masked value.
    if let Some(w) = where_ {
        let m = w.astype(DType::BOOL).broadcast_to(x.shape());
        x = Array::where_(&m, &x, lit(&x, f64::NEG_INFINITY));
    }
    let m = stable_shift(&x, axes.clone());
    let mut e = (&x - &m).exp();
    if let Some(b) = &b {
        e = e * b;
    }
    let s = e.sum(axes.clone(), true);
    let sign = s.sign();
    let out = s.abs().log() + &m;
    if keepdims {
        return (out, sign);
    }
    let r = axes
        .resolve("logsumexp", x.ndim())
        .unwrap_or_else(|e| crate::error::raise(e));
    let shape: Vec<isize> = (0..x.ndim())
        .filter(|d| !r.contains(d))
        .map(|d| x.shape()[d] as isize)
        .collect();
    (out.reshape(&shape), sign.reshape(&shape))
}

/// `exp(x) / sum(exp(x))` along `axis`, computed stably
/// ([`softmax_where`] takes JAX's `where=`).
///
/// ```
/// use oxjax::{Array, nn};
/// let x = Array::from_vec(vec![0.0f32, 0.0], &[2]);
/// assert_eq!(nn::softmax(&x, -1).to_vec::<f32>(), vec![0.5, 0.5]);
/// ```
pub fn softmax(x: &Array, axis: impl Into<Axes>) -> Array {
    let axes = axis.into();
    let x = float_of(x);
    // Over the last axis, on a device with a native SOFTMAX routine: one
    // primitive with the same values and derivatives (one pass over memory
    // per row instead of four kernels). Elsewhere the composition below
    // fuses into the program's kernels.
    let last = x.ndim().checked_sub(1);
    if let Some(last) = last
        && softmax_rules::available(x.dtype())
        && axes.resolve("softmax", x.ndim()).is_ok_and(|a| a == [last])
    {
        return softmax_rules::softmax(&x);
    }
    // Shifted by the plain maximum (no finite guard, unlike logsumexp), so a
    // row holding +inf is all NaN, as JAX.
    let e = (&x - x.max(axes.clone(), true).stop_gradient()).exp();
    &e / e.sum(axes, true)
}

/// [`softmax`] with JAX's `where=`: only elements where `where_` holds
/// (broadcast against `x`) take part; the others are 0.
///
/// ```
/// use oxjax::{Array, nn};
/// let x = Array::from_vec(vec![0.0f32, 9.0, 0.0], &[3]);
/// let m = Array::from_vec(vec![true, false, true], &[3]);
/// assert_eq!(nn::softmax_where(&x, -1, &m).to_vec::<f32>(), vec![0.5, 0.0, 0.5]);
/// ```
pub fn softmax_where(x: &Array, axis: impl Into<Axes>, where_: &Array) -> Array {
    let axes = axis.into();
    let (m, shifted) = masked_shift(x, &axes, where_);
    let e = shifted.exp();
    let s = e.sum(axes, true);
    Array::where_(&m, &e / nonzero_or_one(&s), lit(&e, 0.0))
}

/// `(mask, x - max)` for the masked softmax family: masked elements are -inf
/// before the shift (so `exp` gives exactly 0 there and a large masked value
/// cannot overflow into a NaN gradient), and an all-masked slice shifts by 0.
fn masked_shift(x: &Array, axes: &Axes, where_: &Array) -> (Array, Array) {
    let x = float_of(x);
    let m = where_.astype(DType::BOOL).broadcast_to(x.shape());
    let safe = Array::where_(&m, &x, lit(&x, f64::NEG_INFINITY));
    let top = safe.max(axes.clone(), true).stop_gradient();
    // Only -inf is replaced: a +inf maximum still makes the slice NaN (as JAX).
    let top = Array::where_(&top.equal(f64::NEG_INFINITY), lit(&top, 0.0), &top);
    let shifted = &safe - top;
    (m, shifted)
}

/// `s` where non-zero, else 1: the sum of an all-masked slice, so neither
/// the value nor the gradient divides by zero.
fn nonzero_or_one(s: &Array) -> Array {
    Array::where_(&s.equal(0.0), lit(s, 1.0), s)
}

/// `x - logsumexp(x)` along `axis`, computed stably ([`log_softmax_where`]
/// takes JAX's `where=`).
///
/// ```
/// use oxjax::{Array, nn};
/// let x = Array::from_vec(vec![0.0f32, 0.0], &[2]);
/// assert!((nn::log_softmax(&x, -1).to_vec::<f32>()[0] + 0.6931472).abs() < 1e-6);
/// ```
pub fn log_softmax(x: &Array, axis: impl Into<Axes>) -> Array {
    let axes = axis.into();
    let x = float_of(x);
    let shifted = &x - x.max(axes.clone(), true).stop_gradient();
    &shifted - shifted.exp().sum(axes, true).log()
}

/// [`log_softmax`] with JAX's `where=`: only elements where `where_` holds
/// take part; the others are -inf.
///
/// ```
/// use oxjax::{Array, nn};
/// let x = Array::from_vec(vec![0.0f32, 9.0, 0.0], &[3]);
/// let m = Array::from_vec(vec![true, false, true], &[3]);
/// let y = nn::log_softmax_where(&x, -1, &m).to_vec::<f32>();
/// assert!((y[0] + 0.6931472).abs() < 1e-6 && y[1] == f32::NEG_INFINITY);
/// ```
pub fn log_softmax_where(x: &Array, axis: impl Into<Axes>, where_: &Array) -> Array {
    let axes = axis.into();
    let (m, shifted) = masked_shift(x, &axes, where_);
    let s = shifted.exp().sum(axes, true);
    let out = &shifted - nonzero_or_one(&s).log();
    Array::where_(&m, &out, lit(&out, f64::NEG_INFINITY))
}

/// `log(mean(exp(x)))` over `axes`, computed stably.
///
/// ```
/// use oxjax::{Array, Axes, nn};
/// let x = Array::from_vec(vec![2.0f32, 2.0], &[2]);
/// assert!((nn::logmeanexp(&x, Axes::All, false).item::<f32>() - 2.0).abs() < 1e-6);
/// ```
pub fn logmeanexp(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    let axes = axes.into();
    let x = float_of(x);
    let n: usize = axes
        .resolve("logmeanexp", x.ndim())
        .unwrap_or_else(|e| crate::error::raise(e))
        .iter()
        .map(|&d| x.shape()[d])
        .product();
    let l = logsumexp(&x, axes, keepdims, None);
    &l - lit(&l, (n as f64).ln())
}

/// One-hot encoding: a new last axis of `num_classes` with 1 at each
/// index of `x` (0 everywhere for an out-of-range index), of `dtype`
/// (`None`: f32, JAX's default). [`one_hot_axis`] puts the new axis
/// elsewhere.
///
/// ```
/// use oxjax::{Array, DType, nn};
/// let i = Array::from_vec(vec![0i32, 2], &[2]);
/// assert_eq!(nn::one_hot(&i, 3, None).to_vec::<f32>(), vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
/// assert_eq!(nn::one_hot(&i, 3, DType::I32).to_vec::<i32>(), vec![1, 0, 0, 0, 0, 1]);
/// ```
pub fn one_hot(x: &Array, num_classes: usize, dtype: impl Into<Option<DType>>) -> Array {
    one_hot_axis(x, num_classes, dtype, -1)
}

/// [`one_hot`] with the new axis at `axis` of the result (JAX's `axis=`;
/// negative counts from the end of the result, `-1`: last).
///
/// ```
/// use oxjax::{Array, nn};
/// let i = Array::from_vec(vec![0i32, 2], &[2]);
/// // [num_classes, 2]: column j is the encoding of i[j].
/// let h = nn::one_hot_axis(&i, 3, None, 0);
/// assert_eq!(h.to_vec::<f32>(), vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
/// ```
pub fn one_hot_axis(
    x: &Array,
    num_classes: usize,
    dtype: impl Into<Option<DType>>,
    axis: isize,
) -> Array {
    let dtype = dtype.into().unwrap_or(DType::F32);
    let axis = crate::primitive::or_panic(crate::primitive::axis("one_hot", axis, x.ndim() + 1));
    let hot = crate::numpy::indicator(x, num_classes, dtype);
    if axis == x.ndim() {
        hot
    } else {
        hot.moveaxis(-1, axis as isize)
    }
}

/// `(x - mean) / sqrt(variance + epsilon)` over `axes` (mean and variance
/// computed from `x` unless given).
///
/// Partial: no where.
///
/// ```
/// use oxjax::{Array, nn};
/// let x = Array::from_vec(vec![1.0f32, 3.0], &[2]);
/// let y = nn::standardize(&x, -1, None, None, 0.0);
/// assert_eq!(y.to_vec::<f32>(), vec![-1.0, 1.0]);
/// ```
pub fn standardize(
    x: &Array,
    axes: impl Into<Axes>,
    mean: Option<&Array>,
    variance: Option<&Array>,
    epsilon: f64,
) -> Array {
    let axes = axes.into();
    let x = float_of(x);
    let m = mean.cloned().unwrap_or_else(|| x.mean(axes.clone(), true));
    let v = variance.cloned().unwrap_or_else(|| {
        let d = &x - &m;
        (&d * &d).mean(axes, true)
    });
    (&x - &m) * (v + lit(&x, epsilon)).rsqrt()
}

/// `tanh`, re-exported as `jax.nn` does.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::tanh(&Array::scalar(0.0f32)).item::<f32>(), 0.0);
/// ```
pub fn tanh(x: &Array) -> Array {
    x.tanh()
}

/// The identity function.
pub fn identity(x: &Array) -> Array {
    x.clone()
}

/// A piecewise-quadratic smooth ReLU: 0 below -1, x above 1,
/// `(x + 1)² / 4` between.
///
/// ```
/// use oxjax::{Array, nn};
/// assert_eq!(nn::sparse_plus(&Array::scalar(0.0f32)).item::<f32>(), 0.25);
/// ```
pub fn sparse_plus(x: &Array) -> Array {
    let x = float_of(x);
    let mid = (&x + 1.0) * (&x + 1.0) * 0.25;
    Array::where_(
        &x.less_equal(-1.0),
        0.0,
        Array::where_(&x.greater_equal(1.0), &x, &mid),
    )
}

/// The derivative of [`sparse_plus`]: 0 below -1, 1 above 1, `(x + 1) / 2` between.
pub fn sparse_sigmoid(x: &Array) -> Array {
    let x = float_of(x);
    ((&x + 1.0) * 0.5).maximum(0.0).minimum(1.0)
}

/// Scaled dot-product attention over `[batch, seq, heads, head_dim]`
/// operands (as `jax.nn.dot_product_attention`): `softmax(q·kᵀ · scale +
/// bias, masked) · v`, with `scale` defaulting to `1/sqrt(head_dim)`.
/// `mask` (bool, broadcast to `[batch, heads, q_len, kv_len]`) keeps the
/// true positions; `is_causal` also hides later keys.
///
/// Partial: no key/value sequence lengths, local windows or implementation choice.
///
/// ```
/// use oxjax::{nn, numpy as jnp};
/// let q = jnp::ones(&[1, 2, 1, 4], None);
/// let v = jnp::arange(0.0, 8.0, 1.0, oxjax::DType::F32).reshape(&[1, 2, 1, 4]);
/// let o = nn::dot_product_attention(&q, &q, &v, None, None, None, true);
/// // The first query sees only the first key.
/// assert_eq!(o.to_vec::<f32>()[..4], [0.0, 1.0, 2.0, 3.0]);
/// ```
pub fn dot_product_attention(
    query: &Array,
    key: &Array,
    value: &Array,
    bias: Option<&Array>,
    mask: Option<&Array>,
    scale: Option<f64>,
    is_causal: bool,
) -> Array {
    assert!(
        query.ndim() == 4 && key.ndim() == 4 && value.ndim() == 4,
        "dot_product_attention: query {:?}, key {:?} and value {:?} must be [batch, seq, heads, head_dim]",
        query.shape(),
        key.shape(),
        value.shape()
    );
    let q = float_of(query);
    let h = q.shape()[3] as f64;
    let mut logits = jnp::einsum("btnh,bsnh->bnts", &[&q, key]);
    logits = &logits * lit(&logits, scale.unwrap_or(1.0 / h.sqrt()));
    if let Some(b) = bias {
        logits = logits + b;
    }
    let (t, s) = (q.shape()[1], key.shape()[1]);
    let mut keep = Array::full(&[], true);
    if let Some(m) = mask {
        keep = keep.bitwise_and(m.astype(DType::BOOL));
    }
    if is_causal {
        keep = keep.bitwise_and(jnp::tri(t, Some(s), 0, DType::BOOL));
    }
    let big = jnp::finfo_min_of(logits.dtype());
    let logits = Array::where_(&keep, &logits, lit(&logits, big));
    let w = softmax(&logits, -1);
    jnp::einsum("bnts,bsnh->btnh", &[&w, value])
}

/// The window over the spatial axes of a `[batch, spatial..., features]`
/// input as full-rank window sizes and strides (1 on batch and features).
fn pool_window(
    name: &str,
    x: &Array,
    window: &[usize],
    strides: Option<&[usize]>,
) -> (Vec<usize>, Vec<usize>) {
    let n = x.ndim();
    assert!(
        n >= 3 && window.len() == n - 2 && strides.is_none_or(|s| s.len() == n - 2),
        "{name}: input {:?} is [batch, spatial..., features]; window {window:?} and strides {strides:?} need {} entries",
        x.shape(),
        n.saturating_sub(2)
    );
    let full = |v: &[usize]| [&[1][..], v, &[1]].concat();
    (full(window), full(strides.unwrap_or(&vec![1; n - 2])))
}

/// Max pooling over the spatial axes of a `[batch, spatial..., features]`
/// input (Flax's convention; `strides` default to 1).
///
/// ```
/// use oxjax::{lax::Padding, nn, numpy as jnp};
/// let x = jnp::arange(0.0, 16.0, 1.0, oxjax::DType::F32).reshape(&[1, 4, 4, 1]);
/// let y = nn::max_pool(&x, &[2, 2], Some(&[2, 2]), &Padding::Valid);
/// assert_eq!(y.to_vec::<f32>(), vec![5.0, 7.0, 13.0, 15.0]);
/// ```
pub fn max_pool(
    x: &Array,
    window: &[usize],
    strides: Option<&[usize]>,
    padding: &crate::lax::Padding,
) -> Array {
    let (w, s) = pool_window("max_pool", x, window, strides);
    let pads = spatial_pads(x, &w, &s, padding);
    crate::lax::reduce_window(
        x,
        crate::lax::WindowReduction::Max,
        &w,
        &s,
        &pads,
        None,
        None,
    )
}

/// Average pooling over the spatial axes of a `[batch, spatial...,
/// features]` input. Padded positions count as zeros in the average
/// unless `count_include_pad` is false.
///
/// ```
/// use oxjax::{lax::Padding, nn, numpy as jnp};
/// let x = jnp::arange(0.0, 4.0, 1.0, oxjax::DType::F32).reshape(&[1, 4, 1]);
/// let y = nn::avg_pool(&x, &[2], Some(&[2]), &Padding::Valid, true);
/// assert_eq!(y.to_vec::<f32>(), vec![0.5, 2.5]);
/// let z = nn::avg_pool(&x, &[3], None, &Padding::Same, false);
/// assert_eq!(z.to_vec::<f32>(), vec![0.5, 1.0, 2.0, 2.5]);
/// ```
pub fn avg_pool(
    x: &Array,
    window: &[usize],
    strides: Option<&[usize]>,
    padding: &crate::lax::Padding,
    count_include_pad: bool,
) -> Array {
    use crate::lax::{WindowReduction, reduce_window};
    let (w, s) = pool_window("avg_pool", x, window, strides);
    let pads = spatial_pads(x, &w, &s, padding);
    let x = float_of(x);
    let sums = reduce_window(&x, WindowReduction::Sum, &w, &s, &pads, None, None);
    if count_include_pad {
        let n: usize = window.iter().product();
        &sums / lit(&sums, n as f64)
    } else {
        let ones = Array::ones(x.shape(), x.dtype());
        &sums / reduce_window(&ones, WindowReduction::Sum, &w, &s, &pads, None, None)
    }
}

/// Padding for the full-rank window: batch and feature axes are never padded.
fn spatial_pads(
    x: &Array,
    w: &[usize],
    s: &[usize],
    padding: &crate::lax::Padding,
) -> crate::lax::Padding {
    use crate::lax::Padding;
    match padding {
        Padding::Explicit(p) if p.len() + 2 == x.ndim() => {
            Padding::Explicit([&[(0, 0)][..], p, &[(0, 0)]].concat())
        }
        other => Padding::Explicit(crate::lax::padtype_to_pads(x.shape(), w, s, other)),
    }
}
