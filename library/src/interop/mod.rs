//! `oxjax::interop`: arrays in and out of the Rust and Python ecosystems —
//! [`ndarray`] conversion, NumPy's `.npy` files ([`load_npy`], [`save_npy`])
//! and safetensors files ([`load_safetensors`], [`save_safetensors`]; a
//! whole pytree by leaf path with [`save_safetensors_tree`]). The ndarray
//! and safetensors parts are the crate features of the same names (on by
//! default).
//! Every format is little-endian and row-major, like oxjax's buffers, so
//! conversion is a copy of the bytes.
//!
//! ```
//! use oxjax::{interop, Array};
//! let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
//! let nd = interop::to_ndarray::<f32>(&x);
//! assert_eq!(nd[[1, 0]], 3.0);
//! assert_eq!(interop::from_ndarray(&nd).to_vec::<f32>(), x.to_vec::<f32>());
//! ```

#[cfg(feature = "ndarray")]
mod ndarray;
mod npy;
#[cfg(feature = "safetensors")]
mod safetensors;

#[cfg(feature = "ndarray")]
pub use ndarray::{from_ndarray, to_ndarray, try_to_ndarray};
pub use npy::{load_npy, read_npy, save_npy, write_npy};
#[cfg(feature = "safetensors")]
pub use safetensors::{
    load_safetensors, load_safetensors_tree, named_leaves, safetensors_from_bytes,
    safetensors_to_bytes, save_safetensors, save_safetensors_tree,
};

use crate::error::{Error, ErrorKind, Result, err};
use crate::{Array, DType, Element, bf16, default_device, f16};

/// Runs `$body` with `$t` bound to the Rust element type of `$dtype`.
macro_rules! with_element {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            DType::BOOL => {
                type $t = bool;
                $body
            }
            DType::I32 => {
                type $t = i32;
                $body
            }
            DType::U32 => {
                type $t = u32;
                $body
            }
            DType::F16 => {
                type $t = f16;
                $body
            }
            DType::BF16 => {
                type $t = bf16;
                $body
            }
            DType::I8 => {
                type $t = i8;
                $body
            }
            DType::U8 => {
                type $t = u8;
                $body
            }
            DType::F32 => {
                type $t = f32;
                $body
            }
            _ => {
                type $t = f64;
                $body
            }
        }
    };
}

/// The elements of `a` as little-endian bytes, row-major.
fn to_le_bytes(a: &Array) -> Result<Vec<u8>> {
    with_element!(a.dtype(), T => {
        let mut out = Vec::with_capacity(a.size() * a.dtype().size());
        for v in a.try_to_vec::<T>()? {
            v.put_le(&mut out);
        }
        Ok(out)
    })
}

/// An array on the default device from little-endian row-major bytes.
fn from_le_bytes(op: &str, dtype: DType, shape: &[usize], bytes: &[u8]) -> Result<Array> {
    let need = crate::primitive::checked_size(op, shape)?
        .checked_mul(dtype.size())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::DType,
                format!("{op}: {dtype}{shape:?} needs more bytes than a usize counts"),
            )
        })?;
    if bytes.len() != need {
        return err(
            ErrorKind::DType,
            format!(
                "{op}: {} bytes of data for {dtype}{shape:?}, which needs {need}",
                bytes.len(),
            ),
        );
    }
    with_element!(dtype, T => {
        let data: Vec<T> = bytes.chunks_exact(dtype.size()).map(<T as Element>::from_le).collect();
        Array::try_from_slice(&data, shape, &default_device())
    })
}

/// An I/O error as an oxjax error naming the operation and the file.
fn io_err(op: &str, path: &std::path::Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{op}: {}: {e}", path.display()))
}
