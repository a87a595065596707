//! Elementwise math: every ALU op as a free function (scalars welcome: they
//! are weakly typed, as in JAX) and the composites NumPy adds on top.

use super::{finfo_max, float_of, lit, result_type};
use crate::{Array, AsArray, DType};
use std::f64::consts::{LN_2, LN_10, PI};

/// Free-function forms of the unary `Array` methods.
macro_rules! unary {
    ($($(#[$doc:meta])* pub fn $name:ident => $method:ident;)*) => {$(
        $(#[$doc])*
        #[doc = concat!("\n\nElementwise `jnp.", stringify!($name), "`: the free form of [`Array::", stringify!($method), "`].")]
        pub fn $name(x: impl AsArray) -> Array {
            x.as_array().$method()
        }
    )*};
}

/// Free-function forms of the binary `Array` methods.
macro_rules! binary {
    ($($(#[$doc:meta])* pub fn $name:ident => $method:ident;)*) => {$(
        $(#[$doc])*
        #[doc = concat!("\n\nElementwise `jnp.", stringify!($name), "` with broadcasting: the free form of [`Array::", stringify!($method), "`].")]
        pub fn $name(x: impl AsArray, y: impl AsArray) -> Array {
            x.as_array().$method(y.as_array())
        }
    )*};
}

unary! {
    /// `-x`.
    ///
    /// ```
    /// use oxjax::{Array, numpy as jnp};
    /// let x = Array::from_vec(vec![1.0f32, -2.0], &[2]);
    /// assert_eq!(jnp::negative(&x).to_vec::<f32>(), vec![-1.0, 2.0]);
    /// assert_eq!(jnp::exp(0.0).item::<f32>(), 1.0); // scalars are weakly typed
    /// ```
    pub fn negative => neg;
    /// `|x|`.
    pub fn abs => abs;
    /// `|x|` (NumPy's other name).
    pub fn absolute => abs;
    /// -1, 0 or 1 (NaN stays NaN).
    pub fn sign => sign;
    pub fn sqrt => sqrt;
    /// `1 / x` (integers are promoted to float).
    pub fn reciprocal => reciprocal;
    pub fn exp => exp;
    /// `2 ** x`.
    pub fn exp2 => exp2;
    pub fn log => log;
    pub fn log2 => log2;
    /// `log(1 + x)`, accurate near 0.
    pub fn log1p => log1p;
    /// `exp(x) - 1`, accurate near 0.
    pub fn expm1 => expm1;
    pub fn sin => sin;
    pub fn cos => cos;
    pub fn tan => tan;
    pub fn arcsin => arcsin;
    /// Alias of [`arcsin`].
    pub fn asin => arcsin;
    pub fn arccos => arccos;
    /// Alias of [`arccos`].
    pub fn acos => arccos;
    pub fn arctan => arctan;
    /// Alias of [`arctan`].
    pub fn atan => arctan;
    pub fn sinh => sinh;
    pub fn cosh => cosh;
    pub fn tanh => tanh;
    pub fn floor => floor;
    pub fn ceil => ceil;
    /// Round toward zero.
    pub fn trunc => trunc;
    /// Round toward zero (NumPy's older name).
    pub fn fix => trunc;
    /// True where NaN.
    pub fn isnan => isnan;
    /// True where ±Inf.
    pub fn isinf => isinf;
    /// True where neither NaN nor ±Inf.
    pub fn isfinite => isfinite;
}

binary! {
    /// `x + y` with broadcasting and JAX's promotion (or on bool).
    ///
    /// ```
    /// use oxjax::{Array, numpy as jnp};
    /// let x = Array::from_vec(vec![1i32, 2], &[2]);
    /// assert_eq!(jnp::add(&x, 1).to_vec::<i32>(), vec![2, 3]);
    /// assert_eq!(jnp::add(&x, 0.5).dtype(), oxjax::DType::F32);
    /// ```
    pub fn add => add;
    pub fn subtract => subtract;
    pub fn multiply => multiply;
    /// True division (integers are promoted to float).
    pub fn divide => divide;
    /// Alias of [`divide`].
    pub fn true_divide => divide;
    /// Division rounding toward -Inf.
    pub fn floor_divide => floor_divide;
    /// Remainder with the sign of the divisor (Python's `%`).
    pub fn remainder => remainder;
    /// Alias of [`remainder`] (`mod` is a Rust keyword).
    pub fn mod_ => remainder;
    /// Remainder with the sign of the dividend (C's `fmod`).
    pub fn fmod => fmod;
    /// `x ** y`.
    pub fn power => power;
    /// Alias of [`power`].
    pub fn pow => power;
    /// Elementwise maximum; NaN propagates.
    pub fn maximum => maximum;
    /// Elementwise minimum; NaN propagates.
    pub fn minimum => minimum;
    /// `arctan2(y, x)`: the angle of the point `(x, y)`.
    pub fn arctan2 => arctan2;
    /// Alias of [`arctan2`].
    pub fn atan2 => arctan2;
}

/// `+x`: the value itself.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// assert_eq!(jnp::positive(&Array::scalar(2.0f32)).item::<f32>(), 2.0);
/// ```
pub fn positive(x: impl AsArray) -> Array {
    x.as_array()
}

/// `x * x`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::square(3.0).item::<f32>(), 9.0);
/// ```
pub fn square(x: impl AsArray) -> Array {
    let x = x.as_array();
    &x * &x
}

/// `|x|` as a float (NumPy's `fabs` always returns floats).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// assert_eq!(jnp::fabs(&Array::scalar(-2i32)).item::<f32>(), 2.0);
/// ```
pub fn fabs(x: impl AsArray) -> Array {
    float_of(&x.as_array()).abs()
}

/// Base-10 logarithm.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::log10(1000.0).item::<f32>() - 3.0).abs() < 1e-6);
/// ```
pub fn log10(x: impl AsArray) -> Array {
    let x = float_of(&x.as_array());
    x.log() * lit(&x, 1.0 / LN_10)
}

/// Cube root, real for negative inputs.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::cbrt(-8.0).item::<f32>() + 2.0).abs() < 1e-6);
/// ```
pub fn cbrt(x: impl AsArray) -> Array {
    crate::lax::cbrt(x)
}

/// Inverse hyperbolic sine, `sign(x) log(|x| + sqrt(x² + 1))` in a form
/// accurate near 0.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::arcsinh(1.0).item::<f32>() - 0.8813736).abs() < 1e-6);
/// ```
pub fn arcsinh(x: impl AsArray) -> Array {
    crate::lax::asinh(x)
}

/// Alias of [`arcsinh`].
pub fn asinh(x: impl AsArray) -> Array {
    arcsinh(x)
}

/// Inverse hyperbolic cosine (NaN below 1).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::arccosh(2.0).item::<f32>() - 1.3169579).abs() < 1e-6);
/// ```
pub fn arccosh(x: impl AsArray) -> Array {
    crate::lax::acosh(x)
}

/// Round half to even; integers become floats, as in JAX.
///
/// ```
/// use oxjax::{numpy as jnp, DType};
/// assert_eq!(jnp::rint(2.5).item::<f32>(), 2.0);
/// assert_eq!(jnp::rint(oxjax::Array::scalar(3i32)).dtype(), DType::F32);
/// ```
pub fn rint(x: impl AsArray) -> Array {
    float_of(&x.as_array()).round()
}

/// Alias of [`arccosh`].
pub fn acosh(x: impl AsArray) -> Array {
    arccosh(x)
}

/// Inverse hyperbolic tangent, `log1p(2x / (1 - x)) / 2`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::arctanh(0.5).item::<f32>() - 0.54930615).abs() < 1e-6);
/// ```
pub fn arctanh(x: impl AsArray) -> Array {
    crate::lax::atanh(x)
}

/// Alias of [`arctanh`].
pub fn atanh(x: impl AsArray) -> Array {
    arctanh(x)
}

/// Degrees to radians.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::deg2rad(180.0).item::<f32>() - std::f32::consts::PI).abs() < 1e-6);
/// ```
pub fn deg2rad(x: impl AsArray) -> Array {
    let x = float_of(&x.as_array());
    &x * lit(&x, PI / 180.0)
}

/// Alias of [`deg2rad`].
pub fn radians(x: impl AsArray) -> Array {
    deg2rad(x)
}

/// Radians to degrees.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::rad2deg(std::f64::consts::PI).item::<f32>() - 180.0).abs() < 1e-4);
/// ```
pub fn rad2deg(x: impl AsArray) -> Array {
    let x = float_of(&x.as_array());
    &x * lit(&x, 180.0 / PI)
}

/// Alias of [`rad2deg`].
pub fn degrees(x: impl AsArray) -> Array {
    rad2deg(x)
}

/// `x ** y` computed in floating point (integers are promoted).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::float_power(2, -1).item::<f32>(), 0.5);
/// ```
pub fn float_power(x: impl AsArray, y: impl AsArray) -> Array {
    let (x, y) = (x.as_array(), y.as_array());
    float_of(&x).power(float_of(&y))
}

/// `sqrt(x² + y²)` without overflow for large inputs.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::hypot(3.0, 4.0).item::<f32>(), 5.0);
/// ```
pub fn hypot(x: impl AsArray, y: impl AsArray) -> Array {
    let (x, y) = (float_of(&x.as_array()).abs(), float_of(&y.as_array()).abs());
    let big = x.maximum(&y);
    let small = x.minimum(&y);
    // Scale by the larger one; guard 0/0 where both are zero.
    let safe = Array::where_(&big.equal(0.0), 1.0, &big);
    let r = &small / &safe;
    let h = Array::where_(&big.equal(0.0), 0.0, &big * (&r * &r + 1.0).sqrt());
    // An infinite side wins over a NaN (IEEE 754 hypot, as JAX).
    Array::where_(&(x.isinf() | y.isinf()), f64::INFINITY, &h)
}

/// `log(exp(x) + exp(y))` without overflow.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::logaddexp(1000.0, 1000.0).item::<f32>() - 1000.6931).abs() < 1e-3);
/// ```
pub fn logaddexp(x: impl AsArray, y: impl AsArray) -> Array {
    crate::lax::logaddexp(x, y)
}

/// `log2(2**x + 2**y)` without overflow.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::logaddexp2(1.0, 1.0).item::<f32>() - 2.0).abs() < 1e-6);
/// ```
pub fn logaddexp2(x: impl AsArray, y: impl AsArray) -> Array {
    let (x, y) = (float_of(&x.as_array()), float_of(&y.as_array()));
    let m = x.maximum(&y);
    let delta = &x - &y;
    Array::where_(
        &delta.isnan(),
        &x + &y,
        &m + (-delta.abs()).exp2().log1p() * lit(&m, 1.0 / LN_2),
    )
}

/// The normalised sinc, `sin(πx) / (πx)`, 1 at 0 (with derivative 0 there).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::sinc(0.0).item::<f32>(), 1.0);
/// assert!(jnp::sinc(1.0).item::<f32>().abs() < 1e-6);
/// ```
pub fn sinc(x: impl AsArray) -> Array {
    let x = float_of(&x.as_array());
    let zero = x.equal(0.0);
    // A safe denominator keeps NaN out of the gradient at 0.
    let safe = Array::where_(&zero, 1.0, &x) * lit(&x, PI);
    Array::where_(&zero, 1.0, safe.sin() / &safe)
}

/// Limits the values to `[min, max]`; `None` leaves a side open.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![-2.0f32, 0.5, 3.0], &[3]);
/// assert_eq!(jnp::clip(&x, Some(-1.0), Some(1.0)).to_vec::<f32>(), vec![-1.0, 0.5, 1.0]);
/// ```
pub fn clip<L: AsArray, H: AsArray>(x: impl AsArray, min: Option<L>, max: Option<H>) -> Array {
    let mut x = x.as_array();
    if let Some(lo) = min {
        x = x.maximum(lo.as_array());
    }
    if let Some(hi) = max {
        x = x.minimum(hi.as_array());
    }
    x
}

/// Rounds half to even to `decimals` decimal places (negative: to tens,
/// hundreds, ...). Integers pass through for `decimals >= 0`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1.25f64, 2.5, 1234.0], &[3]);
/// assert_eq!(jnp::round(&x, 1).to_vec::<f64>(), vec![1.2, 2.5, 1234.0]);
/// assert_eq!(jnp::round(&x, -2).to_vec::<f64>(), vec![0.0, 0.0, 1200.0]);
/// ```
pub fn round(x: impl AsArray, decimals: i32) -> Array {
    let x = x.as_array();
    if decimals == 0 || (!x.dtype().is_float() && decimals > 0) {
        return x.round();
    }
    if !x.dtype().is_float() {
        let xf = x.astype(DType::F32);
        let f = lit(&xf, 10f64.powi(-decimals));
        return (&xf / &f).round().multiply(&f).astype(x.dtype());
    }
    let f = lit(&x, 10f64.powi(decimals));
    (&x * &f).round() / &f
}

/// Alias of [`round`].
pub fn around(x: impl AsArray, decimals: i32) -> Array {
    round(x, decimals)
}

/// True where the sign bit is set: negative numbers and `-0.0` (the sign
/// of a NaN is not visible without bit casts, so NaN gives false).
///
/// Partial: the sign bit of a NaN is not visible (false).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![-1.0f32, -0.0, 0.0, 2.0], &[4]);
/// assert_eq!(jnp::signbit(&x).to_vec::<bool>(), vec![true, true, false, false]);
/// ```
pub fn signbit(x: impl AsArray) -> Array {
    let x = x.as_array();
    if x.dtype() == DType::BOOL || x.dtype() == DType::U32 {
        return Array::full(x.shape(), false);
    }
    if !x.dtype().is_float() {
        return x.less(0);
    }
    x.less(0.0)
        .bitwise_or(x.equal(0.0).bitwise_and(x.reciprocal().less(0.0)))
}

/// `|x|` with the sign of `y`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::copysign(2.0, -0.0).item::<f32>(), -2.0);
/// ```
pub fn copysign(x: impl AsArray, y: impl AsArray) -> Array {
    let (x, y) = (x.as_array(), y.as_array());
    let a = float_of(&x).abs();
    let d = super::to_float_dtype(result_type(&[&a, &y]));
    let a = a.astype(d);
    Array::where_(&signbit(&y), -&a, &a)
}

/// The Heaviside step: 0 below 0, `h0` at 0, 1 above (NaN stays NaN).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![-1.0f32, 0.0, 2.0], &[3]);
/// assert_eq!(jnp::heaviside(&x, 0.5).to_vec::<f32>(), vec![0.0, 0.5, 1.0]);
/// ```
pub fn heaviside(x: impl AsArray, h0: impl AsArray) -> Array {
    let (x, h0) = (x.as_array(), h0.as_array());
    let d = super::to_float_dtype(result_type(&[&x, &h0]));
    let step = Array::where_(&x.greater(0.0), 1.0, Array::where_(&x.less(0.0), 0.0, &h0));
    Array::where_(&x.isnan(), &x, &step).astype(d)
}

/// Replaces NaN by `nan`, +Inf by `posinf` and -Inf by `neginf` (by default
/// the largest and smallest finite values of the dtype).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![f32::NAN, f32::INFINITY, 1.0], &[3]);
/// assert_eq!(jnp::nan_to_num(&x, 0.0, None, None).to_vec::<f32>(), vec![0.0, f32::MAX, 1.0]);
/// ```
pub fn nan_to_num(x: impl AsArray, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> Array {
    let x = x.as_array();
    if !x.dtype().is_float() {
        return x;
    }
    let big = finfo_max(x.dtype());
    let x = Array::where_(&x.isnan(), lit(&x, nan), &x);
    let x = Array::where_(&isposinf(&x), lit(&x, posinf.unwrap_or(big)), &x);
    Array::where_(&isneginf(&x), lit(&x, neginf.unwrap_or(-big)), &x)
}

/// True where `+Inf`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!(jnp::isposinf(f64::INFINITY).item::<bool>());
/// ```
pub fn isposinf(x: impl AsArray) -> Array {
    let x = x.as_array();
    x.isinf().bitwise_and(x.greater(0.0))
}

/// True where `-Inf`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!(jnp::isneginf(f64::NEG_INFINITY).item::<bool>());
/// ```
pub fn isneginf(x: impl AsArray) -> Array {
    let x = x.as_array();
    x.isinf().bitwise_and(x.less(0.0))
}

/// `(floor_divide(x, y), remainder(x, y))`.
///
/// ```
/// use oxjax::numpy as jnp;
/// let (q, r) = jnp::divmod(-7, 2);
/// assert_eq!((q.item::<i32>(), r.item::<i32>()), (-4, 1));
/// ```
pub fn divmod(x: impl AsArray, y: impl AsArray) -> (Array, Array) {
    let (x, y) = (x.as_array(), y.as_array());
    (x.floor_divide(&y), x.remainder(&y))
}

/// The fractional and integral parts, both with the sign of `x`.
///
/// ```
/// use oxjax::numpy as jnp;
/// let (f, i) = jnp::modf(-2.5);
/// assert_eq!((f.item::<f32>(), i.item::<f32>()), (-0.5, -2.0));
/// ```
pub fn modf(x: impl AsArray) -> (Array, Array) {
    let x = float_of(&x.as_array());
    let i = x.trunc();
    (&x - &i, i)
}

/// `x * 2**e`.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::ldexp(3.0, 2).item::<f32>(), 12.0);
/// ```
pub fn ldexp(x: impl AsArray, e: impl AsArray) -> Array {
    let (x, e) = (float_of(&x.as_array()), e.as_array());
    let p = e.astype(x.dtype()).exp2();
    &x * &p
}

/// Elementwise maximum that ignores NaN (NaN only where both are NaN).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::fmax(f32::NAN, 1.0).item::<f32>(), 1.0);
/// ```
pub fn fmax(x: impl AsArray, y: impl AsArray) -> Array {
    nan_ignoring(x.as_array(), y.as_array(), Array::maximum)
}

/// Elementwise minimum that ignores NaN (NaN only where both are NaN).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::fmin(1.0, f32::NAN).item::<f32>(), 1.0);
/// ```
pub fn fmin(x: impl AsArray, y: impl AsArray) -> Array {
    nan_ignoring(x.as_array(), y.as_array(), Array::minimum)
}

fn nan_ignoring(x: Array, y: Array, f: fn(&Array, Array) -> Array) -> Array {
    let m = f(&x, y.clone());
    let m = Array::where_(&y.isnan(), &x, &m);
    Array::where_(&x.isnan(), &y, &m)
}

/// The real part: the value itself (oxjax has no complex dtypes).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::real(2.0).item::<f32>(), 2.0);
/// ```
pub fn real(x: impl AsArray) -> Array {
    crate::lax::real(x)
}

/// The imaginary part: zeros (oxjax has no complex dtypes).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::imag(2.0).item::<f32>(), 0.0);
/// ```
pub fn imag(x: impl AsArray) -> Array {
    crate::lax::imag(x)
}

/// The complex conjugate: the value itself (no complex dtypes).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::conj(2.0).item::<f32>(), 2.0);
/// ```
pub fn conj(x: impl AsArray) -> Array {
    crate::lax::conj(x)
}

/// Alias of [`conj`].
pub fn conjugate(x: impl AsArray) -> Array {
    conj(x)
}

/// Bitwise and (logical and on bool).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::bitwise_and(6, 3).item::<i32>(), 2);
/// ```
pub fn bitwise_and(x: impl AsArray, y: impl AsArray) -> Array {
    x.as_array().bitwise_and(y.as_array())
}

/// Bitwise or (logical or on bool).
pub fn bitwise_or(x: impl AsArray, y: impl AsArray) -> Array {
    x.as_array().bitwise_or(y.as_array())
}

/// Bitwise exclusive or.
pub fn bitwise_xor(x: impl AsArray, y: impl AsArray) -> Array {
    x.as_array().bitwise_xor(y.as_array())
}

/// Bitwise not on integers, logical not on bool.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::bitwise_not(0).item::<i32>(), -1);
/// ```
pub fn bitwise_not(x: impl AsArray) -> Array {
    crate::lax::bitwise_not(x)
}

/// Alias of [`bitwise_not`].
pub fn invert(x: impl AsArray) -> Array {
    bitwise_not(x)
}

/// Alias of [`bitwise_not`].
pub fn bitwise_invert(x: impl AsArray) -> Array {
    bitwise_not(x)
}

/// `x << y` on integers.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert_eq!(jnp::left_shift(1, 3).item::<i32>(), 8);
/// ```
pub fn left_shift(x: impl AsArray, y: impl AsArray) -> Array {
    x.as_array().left_shift(y.as_array())
}

/// Alias of [`left_shift`].
pub fn bitwise_left_shift(x: impl AsArray, y: impl AsArray) -> Array {
    left_shift(x, y)
}

/// `x >> y` (arithmetic on signed, logical on unsigned integers).
pub fn right_shift(x: impl AsArray, y: impl AsArray) -> Array {
    x.as_array().right_shift(y.as_array())
}

/// Alias of [`right_shift`].
pub fn bitwise_right_shift(x: impl AsArray, y: impl AsArray) -> Array {
    right_shift(x, y)
}

/// Greatest common divisor of integers (non-negative; `gcd(0, 0) = 0`), by
/// a fixed number of Euclid steps (enough for any i32 pair), so it traces
/// to straight-line code.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![12i32, -18, 0, 7], &[4]);
/// assert_eq!(jnp::gcd(&a, 8).to_vec::<i32>(), vec![4, 2, 8, 1]);
/// assert_eq!(jnp::lcm(&a, 8).to_vec::<i32>(), vec![24, 72, 0, 56]);
/// ```
pub fn gcd(x: impl AsArray, y: impl AsArray) -> Array {
    let (x, y) = (x.as_array(), y.as_array());
    let d = result_type(&[&x, &y]);
    assert!(
        !d.is_float() && d != DType::BOOL,
        "gcd: needs integer operands, got {} and {}",
        x.dtype(),
        y.dtype()
    );
    let (mut a, mut b) = (x.astype(d).abs(), y.astype(d).abs());
    let shape = crate::primitive::broadcast_shapes("gcd", &[a.shape(), b.shape()])
        .unwrap_or_else(|e| crate::error::raise(e));
    a = a.broadcast_to(&shape);
    b = b.broadcast_to(&shape);
    // Fibonacci pairs are the slowest: 2^31 needs fewer than 48 steps.
    for _ in 0..48 {
        let zero = b.equal(0);
        let safe = Array::where_(&zero, 1, &b);
        let r = a.remainder(&safe);
        a = Array::where_(&zero, &a, &b);
        b = Array::where_(&zero, &b, &r);
    }
    a
}

/// Least common multiple of integers (non-negative; 0 if either is 0).
pub fn lcm(x: impl AsArray, y: impl AsArray) -> Array {
    let (x, y) = (x.as_array(), y.as_array());
    let g = gcd(&x, &y);
    let safe = Array::where_(&g.equal(0), 1, &g);
    (x.abs().floor_divide(&safe) * y.abs()).astype(g.dtype())
}

/// Mantissa in `[0.5, 1)` (with the sign of `x`) and exponent (i32) with
/// `x = m * 2**e`; zero gives `(0, 0)`, and non-finite `x` gives `(x, 0)`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let (m, e) = jnp::frexp(&Array::from_vec(vec![8.0f32, -3.0, 0.0], &[3]));
/// assert_eq!(m.to_vec::<f32>(), vec![0.5, -0.75, 0.0]);
/// assert_eq!(e.to_vec::<i32>(), vec![4, 2, 0]);
/// ```
pub fn frexp(x: impl AsArray) -> (Array, Array) {
    let x = float_of(&x.as_array());
    let special = x.equal(0.0).bitwise_or(x.isfinite().logical_not());
    let safe = Array::where_(&special, 1.0, &x);
    let mut e = safe.abs().log2().floor() + 1.0;
    // log2 may round across a power of two: fix the exponent by one step.
    let m = &safe / e.exp2();
    e = Array::where_(
        &m.abs().greater_equal(1.0),
        &e + 1.0,
        Array::where_(&m.abs().less(0.5), &e - 1.0, &e),
    );
    let m = &safe / e.exp2();
    (
        Array::where_(&special, &x, &m),
        Array::where_(&special, 0, e.astype(DType::I32)),
    )
}

/// The angle of a (real) number in the complex plane: π for negative
/// numbers (and -0.0), 0 otherwise.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![-2.0f32, 3.0], &[2]);
/// assert_eq!(jnp::angle(&x, false).to_vec::<f32>(), vec![std::f32::consts::PI, 0.0]);
/// assert_eq!(jnp::angle(&x, true).to_vec::<f32>(), vec![180.0, 0.0]);
/// ```
pub fn angle(x: impl AsArray, deg: bool) -> Array {
    let x = float_of(&x.as_array());
    let half_turn = lit(&x, if deg { 180.0 } else { PI });
    let a = Array::where_(&signbit(&x), &half_turn, lit(&x, 0.0));
    Array::where_(&x.isnan(), &x, &a)
}

/// The modified Bessel function of the first kind, order 0, by its power
/// series.
///
/// Partial: the series is accurate for |x| up to about 30 (kaiser windows
/// use |x| <= beta).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!((jnp::i0(1.0f64).item::<f32>() - 1.2660658).abs() < 1e-6);
/// ```
pub fn i0(x: impl AsArray) -> Array {
    let x = float_of(&x.as_array());
    let q = &x * &x * 0.25;
    let mut term = lit(&x, 1.0) + &x * 0.0;
    let mut sum = term.clone();
    for k in 1..=60 {
        term = &term * &q / lit(&x, (k * k) as f64);
        sum = &sum + &term;
    }
    sum
}

/// True when `x` is 0-d.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// assert!(jnp::isscalar(&Array::scalar(1i32)));
/// ```
pub fn isscalar(x: &Array) -> bool {
    x.ndim() == 0
}

/// False: oxjax has no complex dtypes.
pub fn iscomplexobj(_x: &Array) -> bool {
    false
}

/// True: oxjax has no complex dtypes.
pub fn isrealobj(_x: &Array) -> bool {
    true
}

/// The number of set bits of each integer (`|x|`'s bits for signed values,
/// as NumPy counts).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![0i32, 7, -1, 255], &[4]);
/// assert_eq!(jnp::bitwise_count(&x).to_vec::<i32>(), vec![0, 3, 1, 8]);
/// ```
pub fn bitwise_count(x: impl AsArray) -> Array {
    let x = x.as_array();
    let v = if x.dtype() == DType::I32 { x.abs() } else { x };
    crate::lax::population_count(&v)
}
