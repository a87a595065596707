//! Rust element types that map to dtypes.

use oxjax_abi::{DType, Scalar, f16};

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
    /// Decodes a whole buffer of little-endian elements (one copy for the
    /// numeric types on a little-endian host).
    fn decode(bytes: &[u8]) -> Vec<Self> {
        bytes
            .chunks_exact(Self::DTYPE.size())
            .map(Self::from_le)
            .collect()
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
            fn decode(bytes: &[u8]) -> Vec<Self> {
                if cfg!(target_endian = "big") {
                    return bytes
                        .chunks_exact($n)
                        .map(<Self as Element>::from_le)
                        .collect();
                }
                let n = bytes.len() / $n;
                let mut out = Vec::<$t>::with_capacity(n);
                // SAFETY: every bit pattern is a valid value of this plain
                // numeric type, whose in-memory layout on a little-endian
                // host is its little-endian encoding; `out` has room for `n`
                // elements, all written by the copy before `set_len`.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        bytes.as_ptr(),
                        out.as_mut_ptr().cast::<u8>(),
                        n * $n,
                    );
                    out.set_len(n);
                }
                out
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
                    other => panic!("expected a {} scalar, got {}", DType::$dtype, other.dtype()),
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

impl Element for bool {
    const DTYPE: DType = DType::BOOL;
    fn to_scalar(self) -> Scalar {
        Scalar::Bool(self)
    }
    fn from_scalar(s: Scalar) -> Self {
        match s {
            Scalar::Bool(v) => v,
            other => panic!("expected a bool scalar, got {}", other.dtype()),
        }
    }
    fn from_le(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
    fn put_le(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}
