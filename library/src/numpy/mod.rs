//! `oxjax::numpy`: `jax.numpy` in Rust — JAX's names and semantics as free
//! functions over [`Array`]s, each built from the primitives
//! (so every function works eagerly, under `jit`, `grad` and `vmap`).
//!
//! Elementwise functions take anything [`AsArray`](crate::AsArray): arrays,
//! `&Array` and Rust scalars, which are weakly typed as Python scalars are in
//! JAX (`jnp::add(&int_array, 1)` stays i32). Names that are Rust keywords
//! get a trailing underscore (`where_`, `mod_`).
//!
//! ```
//! use oxjax::numpy as jnp;
//! let x = jnp::arange(0.0, 6.0, 1.0, oxjax::DType::F32).reshape(&[2, 3]);
//! let y = jnp::einsum("ij,kj->ik", &[&x, &x]);
//! assert_eq!(y.to_vec::<f32>(), vec![5.0, 14.0, 14.0, 50.0]);
//! assert_eq!(jnp::var(&x, oxjax::Axes::All, 0, false).item::<f32>(), 35.0 / 12.0);
//! ```

mod creation;
mod einsum;
mod indexing;
mod logic;
mod math;
mod products;
mod quantiles;
mod reductions;
mod sets;
mod shape;
mod sorting;
mod stats;

pub use creation::*;
pub use einsum::*;
pub use indexing::*;
pub use logic::*;
pub use math::*;
pub use products::*;
pub use quantiles::*;
pub use reductions::*;
pub use sets::*;
pub use shape::*;
pub use sorting::*;
pub(crate) use stats::indicator;
pub use stats::*;

pub(crate) use crate::primitive::{float_of, lit};
use crate::primitive::{promote, to_float};
use crate::{Array, DType};

/// The float dtype an integer or bool dtype computes in.
pub(crate) fn to_float_dtype(d: DType) -> DType {
    to_float(d)
}

/// The largest finite value of a float dtype.
pub(crate) fn finfo_max(d: DType) -> f64 {
    match d {
        DType::F16 => 65504.0,
        DType::BF16 => crate::bf16::MAX.to_f64(),
        DType::F32 => f32::MAX as f64,
        _ => f64::MAX,
    }
}

/// The dtype JAX's promotion gives these arrays together (weak scalars do
/// not widen strong arrays).
///
/// ```
/// use oxjax::{Array, DType, numpy as jnp};
/// let x = Array::from_vec(vec![1i32], &[1]);
/// assert_eq!(jnp::result_type(&[&x, &Array::scalar(1.0f64)]), DType::F64);
/// ```
pub fn result_type(arrays: &[&Array]) -> DType {
    let r = arrays
        .iter()
        .map(|a| (a.dtype(), a.is_weak()))
        .reduce(promote)
        .expect("result_type: needs at least one array");
    r.0
}

/// The dtype two dtypes promote to.
///
/// ```
/// use oxjax::{DType, numpy as jnp};
/// assert_eq!(jnp::promote_types(DType::I32, DType::F16), DType::F16);
/// ```
pub fn promote_types(a: DType, b: DType) -> DType {
    promote((a, false), (b, false)).0
}

/// True when casting `from` to `to` loses nothing ("safe" casting).
///
/// ```
/// use oxjax::{DType, numpy as jnp};
/// assert!(jnp::can_cast(DType::F16, DType::F32));
/// assert!(!jnp::can_cast(DType::F32, DType::I32));
/// ```
pub fn can_cast(from: DType, to: DType) -> bool {
    from == to || promote_types(from, to) == to && !(from == DType::I32 && to == DType::U32)
}

/// The array's shape (as JAX's `jnp.shape`).
///
/// ```
/// use oxjax::{Array, DType, numpy as jnp};
/// assert_eq!(jnp::shape(&Array::zeros(&[2, 3], DType::F32)), vec![2, 3]);
/// ```
pub fn shape(x: &Array) -> Vec<usize> {
    x.shape().to_vec()
}

/// Number of axes.
///
/// ```
/// use oxjax::{Array, DType, numpy as jnp};
/// assert_eq!(jnp::ndim(&Array::zeros(&[2, 3], DType::F32)), 2);
/// ```
pub fn ndim(x: &Array) -> usize {
    x.ndim()
}

/// Number of elements.
///
/// ```
/// use oxjax::{Array, DType, numpy as jnp};
/// assert_eq!(jnp::size(&Array::zeros(&[2, 3], DType::F32)), 6);
/// ```
pub fn size(x: &Array) -> usize {
    x.size()
}

/// The array converted to `dtype`.
///
/// ```
/// use oxjax::{Array, DType, numpy as jnp};
/// assert_eq!(jnp::astype(&Array::scalar(2.7f32), DType::I32).item::<i32>(), 2);
/// ```
pub fn astype(x: &Array, dtype: DType) -> Array {
    x.astype(dtype)
}

/// Reshape to an exact shape (no `-1`).
pub(crate) fn reshape_to(x: &Array, shape: &[usize]) -> Array {
    let s: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
    x.reshape(&s)
}

/// The most negative finite value of a float dtype (masks in softmax).
pub(crate) fn finfo_min_of(d: DType) -> f64 {
    -finfo_max(d)
}

/// A kind of dtype, for [`isdtype`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DTypeKind {
    /// `bool`.
    Bool,
    /// Signed integers (`i8`, `i32`).
    SignedInteger,
    /// Unsigned integers (`u8`, `u32`).
    UnsignedInteger,
    /// Any integer dtype.
    Integral,
    /// Floating point dtypes (`bf16`, `f16`, `f32`, `f64`).
    RealFloating,
    /// Integers and floats (not bool).
    Numeric,
}

/// True when `dtype` is of `kind` (the array API's `isdtype`).
///
/// ```
/// use oxjax::{DType, numpy as jnp};
/// assert!(jnp::isdtype(DType::U32, jnp::DTypeKind::Integral));
/// assert!(!jnp::isdtype(DType::BOOL, jnp::DTypeKind::Numeric));
/// ```
pub fn isdtype(dtype: DType, kind: DTypeKind) -> bool {
    match kind {
        DTypeKind::Bool => dtype == DType::BOOL,
        DTypeKind::SignedInteger => dtype.is_int() && dtype.is_signed(),
        DTypeKind::UnsignedInteger => dtype.is_int() && !dtype.is_signed(),
        DTypeKind::Integral => dtype.is_int(),
        DTypeKind::RealFloating => dtype.is_float(),
        DTypeKind::Numeric => dtype.is_int() || dtype.is_float(),
    }
}

/// True when `dtype` belongs to the category `kind` (NumPy's `issubdtype`
/// with a kind standing for the abstract dtype classes).
pub fn issubdtype(dtype: DType, kind: DTypeKind) -> bool {
    isdtype(dtype, kind)
}

/// Applies a function written for 0-d arrays to every element (nested
/// `vmap` over all axes), like `jnp.vectorize` without a signature.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let relu_ish = jnp::vectorize(|x: &Array| Array::where_(&x.greater(0.0), x, 0.0));
/// let x = Array::from_vec(vec![-1.0f32, 2.0, -3.0, 4.0], &[2, 2]);
/// assert_eq!(relu_ish(&x).to_vec::<f32>(), vec![0.0, 2.0, 0.0, 4.0]);
/// ```
pub fn vectorize(f: impl Fn(&Array) -> Array) -> impl Fn(&Array) -> Array {
    fn apply<F: Fn(&Array) -> Array>(f: &F, x: &Array) -> Array {
        if x.ndim() == 0 {
            f(x)
        } else {
            crate::vmap(|row: &Array| apply(f, row))(x)
        }
    }
    move |x: &Array| apply(&f, x)
}

/// `a` with its main diagonal (all indices equal) set to `val`.
///
/// Partial: returns a new array (arrays are immutable); no `wrap`.
///
/// ```
/// use oxjax::{numpy as jnp};
/// let a = jnp::zeros(&[2, 3], None);
/// assert_eq!(jnp::fill_diagonal(&a, 5.0).to_vec::<f32>(), vec![5.0, 0.0, 0.0, 0.0, 5.0, 0.0]);
/// ```
pub fn fill_diagonal(a: &Array, val: impl crate::AsArray) -> Array {
    assert!(
        a.ndim() >= 2 && (a.ndim() == 2 || a.shape().iter().all(|&d| d == a.shape()[0])),
        "fill_diagonal: needs a 2-d array or all axes of one length, got shape {:?}",
        a.shape()
    );
    let idx = indices(a.shape(), DType::I32);
    let parts = unstack(&idx, 0);
    let mut on = Array::full(&[], true);
    for p in &parts[1..] {
        on = on.bitwise_and(p.equal(&parts[0]));
    }
    Array::where_(&on, val.as_array().astype(a.dtype()), a)
}
