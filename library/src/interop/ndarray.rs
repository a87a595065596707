//! Conversion to and from `ndarray` (feature `ndarray`).

use crate::error::{Error, ErrorKind, Result};
use crate::{Array, Element};
use ::ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};

/// The array as an [`ndarray::ArrayD`] (a copy on the host). `T` must be
/// the array's element type.
///
/// ```
/// let x = oxjax::Array::arange(0.0, 6.0, 1.0, oxjax::DType::F32).reshape(&[2, 3]);
/// assert_eq!(oxjax::interop::to_ndarray::<f32>(&x).shape(), [2, 3]);
/// ```
pub fn to_ndarray<T: Element>(a: &Array) -> ArrayD<T> {
    crate::primitive::or_panic(try_to_ndarray(a))
}

/// [`to_ndarray`], returning a dtype mismatch or device error.
pub fn try_to_ndarray<T: Element>(a: &Array) -> Result<ArrayD<T>> {
    let data = a.try_to_vec::<T>()?;
    ArrayD::from_shape_vec(IxDyn(a.shape()), data)
        .map_err(|e| Error::new(ErrorKind::Value, format!("to_ndarray: {e}")))
}

/// An array on the default device holding the elements of any ndarray
/// (any layout, views included), in logical row-major order.
///
/// ```
/// let nd = ndarray::arr2(&[[1i32, 2], [3, 4]]);
/// let x = oxjax::interop::from_ndarray(&nd.t());
/// assert_eq!(x.to_vec::<i32>(), [1, 3, 2, 4]);
/// ```
pub fn from_ndarray<T: Element, S: Data<Elem = T>, D: Dimension>(a: &ArrayBase<S, D>) -> Array {
    let data: Vec<T> = match a.as_slice() {
        Some(s) => s.to_vec(),
        None => a.iter().copied().collect(),
    };
    Array::from_vec(data, a.shape())
}
