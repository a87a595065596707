//! Rust element types that map to dtypes.

use oxjax_abi::{DType, Scalar, bf16, f16};

/// A Rust type whose values can fill an array.
pub trait Element: Copy + Send + Sync + 'static {
    /// The dtype of arrays of this type.
    const DTYPE: DType;
    /// The value as a host scalar.
    fn to_scalar(self) -> Scalar;
    /// Panics if the scalar is of another dtype.
    fn from_scalar(s: Scalar) -> Self;
    /// Decodes one little-endian element (`DTYPE.size()` bytes).
    fn from_le(bytes: &[u8]) -> Self;
    /// `n` elements whose little-endian bytes `fill` writes. For the
    /// numeric types on a little-endian host `fill` writes straight into
    /// the returned vector (a zeroed allocation, which the OS hands out
    /// without a pass over it), so a readback is one copy.
    fn read_with(
        n: usize,
        fill: impl FnOnce(&mut [u8]) -> crate::Result<()>,
    ) -> crate::Result<Vec<Self>> {
        let size = Self::DTYPE.size();
        let mut bytes = vec![0u8; n * size];
        fill(&mut bytes)?;
        Ok(bytes.chunks_exact(size).map(Self::from_le).collect())
    }
    /// Appends the little-endian encoding.
    fn put_le(self, out: &mut Vec<u8>);
}

macro_rules! element {
    ($t:ty, $dtype:ident, $variant:ident, $n:literal) => {
        impl Element for $t {
            #[inline]
            fn from_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes[..$n].try_into().expect("element size"))
            }
            fn read_with(
                n: usize,
                fill: impl FnOnce(&mut [u8]) -> crate::Result<()>,
            ) -> crate::Result<Vec<Self>> {
                if cfg!(target_endian = "big") {
                    let mut bytes = vec![0u8; n * $n];
                    fill(&mut bytes)?;
                    return Ok(bytes
                        .chunks_exact($n)
                        .map(<Self as Element>::from_le)
                        .collect());
                }
                let mut out = vec![<Self as Element>::from_le(&[0; $n]); n];
                // SAFETY: `out` holds `n` initialised elements of a plain
                // numeric type: its bytes may be viewed and overwritten with
                // any pattern, which on a little-endian host is the
                // little-endian encoding.
                let bytes = unsafe {
                    std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), n * $n)
                };
                fill(bytes)?;
                Ok(out)
            }
            #[inline]
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            const DTYPE: DType = DType::$dtype;
            fn to_scalar(self) -> Scalar {
                Scalar::$variant(self)
            }
            fn from_scalar(s: Scalar) -> Self {
                match s {
                    Scalar::$variant(v) => v,
                    other => crate::error::fail(
                        crate::ErrorKind::DType,
                        format!("expected a {} scalar, got {}", DType::$dtype, other.dtype()),
                    ),
                }
            }
        }
    };
}

element!(i32, I32, I32, 4);
element!(u32, U32, U32, 4);
element!(f16, F16, F16, 2);
element!(f32, F32, F32, 4);
element!(f64, F64, F64, 8);
element!(bf16, BF16, BF16, 2);
element!(i8, I8, I8, 1);
element!(u8, U8, U8, 1);

impl Element for bool {
    const DTYPE: DType = DType::BOOL;
    fn to_scalar(self) -> Scalar {
        Scalar::Bool(self)
    }
    fn from_scalar(s: Scalar) -> Self {
        match s {
            Scalar::Bool(v) => v,
            other => crate::error::fail(
                crate::ErrorKind::DType,
                format!("expected a bool scalar, got {}", other.dtype()),
            ),
        }
    }
    fn from_le(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    fn put_le(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}
