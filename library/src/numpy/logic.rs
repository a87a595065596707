//! Comparisons, logical functions and closeness tests (all return bool).

use crate::{Array, AsArray, DType};

macro_rules! compare {
    ($($(#[$doc:meta])* pub fn $name:ident => $method:ident;)*) => {$(
        $(#[$doc])*
        #[doc = concat!("\n\nThe free form of [`Array::", stringify!($method), "`] (a bool result).")]
        pub fn $name(x: impl AsArray, y: impl AsArray) -> Array {
            x.as_array().$method(y.as_array())
        }
    )*};
}

compare! {
    /// `x == y` elementwise.
    ///
    /// ```
    /// use oxjax::{Array, numpy as jnp};
    /// let x = Array::from_vec(vec![1.0f32, 2.0], &[2]);
    /// assert_eq!(jnp::equal(&x, 2.0).to_vec::<bool>(), vec![false, true]);
    /// ```
    pub fn equal => equal;
    /// `x != y` elementwise (true where either is NaN).
    pub fn not_equal => not_equal;
    /// `x < y` elementwise.
    pub fn less => less;
    /// `x <= y` elementwise.
    pub fn less_equal => less_equal;
    /// `x > y` elementwise.
    pub fn greater => greater;
    /// `x >= y` elementwise.
    pub fn greater_equal => greater_equal;
}

fn truth(x: impl AsArray) -> Array {
    x.as_array().astype(DType::BOOL)
}

/// Elementwise logical and of the truth values.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![0.0f32, 2.0], &[2]);
/// assert_eq!(jnp::logical_and(&x, true).to_vec::<bool>(), vec![false, true]);
/// ```
pub fn logical_and(x: impl AsArray, y: impl AsArray) -> Array {
    truth(x).bitwise_and(truth(y))
}

/// Elementwise logical or of the truth values.
pub fn logical_or(x: impl AsArray, y: impl AsArray) -> Array {
    truth(x).bitwise_or(truth(y))
}

/// Elementwise logical exclusive or of the truth values.
pub fn logical_xor(x: impl AsArray, y: impl AsArray) -> Array {
    truth(x).bitwise_xor(truth(y))
}

/// Elementwise logical not of the truth value.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!(jnp::logical_not(0).item::<bool>());
/// ```
pub fn logical_not(x: impl AsArray) -> Array {
    truth(x).logical_not()
}

/// True where `|a - b| <= atol + rtol * |b|`; infinities must be equal, and
/// NaNs are equal only with `equal_nan`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1.0f32, f32::INFINITY, f32::NAN], &[3]);
/// let b = Array::from_vec(vec![1.0 + 1e-7f32, f32::INFINITY, f32::NAN], &[3]);
/// assert_eq!(jnp::isclose(&a, &b, 1e-5, 1e-8, false).to_vec::<bool>(), vec![true, true, false]);
/// assert_eq!(jnp::isclose(&a, &b, 1e-5, 1e-8, true).to_vec::<bool>(), vec![true, true, true]);
/// assert!(jnp::isclose(1_000_000, 1_000_001, 1e-5, 0.0, false).item::<bool>());
/// ```
pub fn isclose(a: impl AsArray, b: impl AsArray, rtol: f64, atol: f64, equal_nan: bool) -> Array {
    let (a, b) = (a.as_array(), b.as_array());
    // Integers compare in floating point too (so rtol applies, as in JAX).
    let dtype = super::to_float_dtype(super::result_type(&[&a, &b]));
    let (a, b) = (a.astype(dtype), b.astype(dtype));
    let finite = a.isfinite().bitwise_and(b.isfinite());
    let near = (&a - &b)
        .abs()
        .less_equal(b.abs() * super::lit(&a, rtol) + super::lit(&a, atol));
    let out = Array::where_(&finite, &near, a.equal(&b));
    if equal_nan {
        out.bitwise_or(a.isnan().bitwise_and(b.isnan()))
    } else {
        out
    }
}

/// True (0-d bool) when [`isclose`] holds everywhere.
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!(jnp::allclose(1.0, 1.0 + 1e-9, 1e-5, 1e-8, false).item::<bool>());
/// ```
pub fn allclose(a: impl AsArray, b: impl AsArray, rtol: f64, atol: f64, equal_nan: bool) -> Array {
    isclose(a, b, rtol, atol, equal_nan).all(crate::Axes::All, false)
}

/// True (0-d bool) when the shapes are equal and so is every element.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1i32, 2], &[2]);
/// assert!(jnp::array_equal(&a, &a, false).item::<bool>());
/// assert!(!jnp::array_equal(&a, &a.reshape(&[2, 1]), false).item::<bool>());
/// ```
pub fn array_equal(a: &Array, b: &Array, equal_nan: bool) -> Array {
    if a.shape() != b.shape() {
        return Array::scalar(false);
    }
    let eq = a.equal(b);
    let eq = if equal_nan {
        eq.bitwise_or(a.isnan().bitwise_and(b.isnan()))
    } else {
        eq
    };
    eq.all(crate::Axes::All, false)
}

/// True (0-d bool) when the arrays broadcast together and are equal.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1i32, 1], &[2]);
/// assert!(jnp::array_equiv(&a, &Array::scalar(1i32)).item::<bool>());
/// ```
pub fn array_equiv(a: &Array, b: &Array) -> Array {
    match crate::primitive::broadcast_shapes("array_equiv", &[a.shape(), b.shape()]) {
        Ok(_) => a.equal(b).all(crate::Axes::All, false),
        Err(_) => Array::scalar(false),
    }
}

/// True where the value is real: everywhere (oxjax has no complex dtypes).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!(jnp::isreal(1.0).item::<bool>());
/// ```
pub fn isreal(x: impl AsArray) -> Array {
    let x = x.as_array();
    Array::full(x.shape(), true)
}

/// True where the value is complex: nowhere (no complex dtypes).
///
/// ```
/// use oxjax::numpy as jnp;
/// assert!(!jnp::iscomplex(1.0).item::<bool>());
/// ```
pub fn iscomplex(x: impl AsArray) -> Array {
    let x = x.as_array();
    Array::full(x.shape(), false)
}
