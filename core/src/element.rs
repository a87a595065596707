//! Rust element types that map to dtypes.

use oxjax_abi::{DType, Scalar, f16};

/// A Rust type whose values can fill an array.
pub trait Element: Copy + Send + Sync + 'static {
    const DTYPE: DType;
    fn to_scalar(self) -> Scalar;
    /// Panics if the scalar is of another dtype.
    fn from_scalar(s: Scalar) -> Self;
}

macro_rules! element {
    ($t:ty, $dtype:ident, $variant:ident) => {
        impl Element for $t {
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

element!(bool, BOOL, Bool);
element!(i32, I32, I32);
element!(u32, U32, U32);
element!(f16, F16, F16);
element!(f32, F32, F32);
element!(f64, F64, F64);
