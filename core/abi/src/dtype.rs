//! Element types and host-side scalars.

use abi_stable::StableAbi;
use std::fmt;

pub use half::f16;

/// An element type. An integer newtype (not a Rust enum) so that a minor ABI
/// version can append dtypes without changing the layout of anything that
/// carries one.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DType(pub u8);

impl DType {
    /// `false`/`true`, stored as one byte holding 0 or 1.
    pub const BOOL: DType = DType(0);
    /// 32-bit two's-complement integer; arithmetic wraps.
    pub const I32: DType = DType(1);
    /// 32-bit unsigned integer; arithmetic wraps.
    pub const U32: DType = DType(2);
    /// IEEE binary16. Stored as f16; every op computes in f32 and rounds the
    /// result to f16 (round to nearest, ties to even).
    pub const F16: DType = DType(3);
    /// IEEE binary32.
    pub const F32: DType = DType(4);
    /// IEEE binary64.
    pub const F64: DType = DType(5);

    /// Every dtype this ABI version defines, in promotion order.
    pub const ALL: [DType; 6] = [
        DType::BOOL,
        DType::I32,
        DType::U32,
        DType::F16,
        DType::F32,
        DType::F64,
    ];

    /// The short name used in IR text and error messages (`f32`, `bool`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::BOOL => "bool",
            DType::I32 => "i32",
            DType::U32 => "u32",
            DType::F16 => "f16",
            DType::F32 => "f32",
            DType::F64 => "f64",
            _ => "unknown",
        }
    }

    /// Parses a name produced by [`DType::name`].
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Bytes per element in a buffer.
    pub fn size(self) -> usize {
        match self {
            DType::BOOL => 1,
            DType::F16 => 2,
            DType::F64 => 8,
            _ => 4,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::F32 | DType::F64)
    }

    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::U32)
    }

    /// Signed integers and floats.
    pub fn is_signed(self) -> bool {
        self == DType::I32 || self.is_float()
    }

    /// True for the dtypes this ABI version knows.
    pub fn is_known(self) -> bool {
        self.0 <= DType::F64.0
    }
}

impl fmt::Debug for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_known() {
            f.write_str(self.name())
        } else {
            write!(f, "dtype#{}", self.0)
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One value of some dtype, on the host. Kernel constants carry a scalar as
/// raw bits ([`Scalar::to_bits`]); this type is the readable form.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    I32(i32),
    U32(u32),
    F16(f16),
    F32(f32),
    F64(f64),
}

impl Scalar {
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::BOOL,
            Scalar::I32(_) => DType::I32,
            Scalar::U32(_) => DType::U32,
            Scalar::F16(_) => DType::F16,
            Scalar::F32(_) => DType::F32,
            Scalar::F64(_) => DType::F64,
        }
    }

    /// The bits of the value, zero-extended to 64 (the encoding of a `const`
    /// node's `imm`).
    pub fn to_bits(self) -> u64 {
        match self {
            Scalar::Bool(b) => b as u64,
            Scalar::I32(v) => v as u32 as u64,
            Scalar::U32(v) => v as u64,
            Scalar::F16(v) => v.to_bits() as u64,
            Scalar::F32(v) => v.to_bits() as u64,
            Scalar::F64(v) => v.to_bits(),
        }
    }

    /// Inverse of [`Scalar::to_bits`]. Panics on an unknown dtype.
    pub fn from_bits(dtype: DType, bits: u64) -> Scalar {
        match dtype {
            DType::BOOL => Scalar::Bool(bits & 1 != 0),
            DType::I32 => Scalar::I32(bits as u32 as i32),
            DType::U32 => Scalar::U32(bits as u32),
            DType::F16 => Scalar::F16(f16::from_bits(bits as u16)),
            DType::F32 => Scalar::F32(f32::from_bits(bits as u32)),
            DType::F64 => Scalar::F64(f64::from_bits(bits)),
            other => panic!("Scalar::from_bits: unknown dtype {other}"),
        }
    }

    /// Reads one element from a buffer's bytes (little-endian).
    pub fn read(dtype: DType, bytes: &[u8]) -> Scalar {
        let mut b = [0u8; 8];
        b[..dtype.size()].copy_from_slice(&bytes[..dtype.size()]);
        Scalar::from_bits(dtype, u64::from_le_bytes(b))
    }

    /// Writes one element into a buffer's bytes (little-endian).
    pub fn write(self, bytes: &mut [u8]) {
        let n = self.dtype().size();
        bytes[..n].copy_from_slice(&self.to_bits().to_le_bytes()[..n]);
    }

    /// The value as f64 (exact for every dtype but u32/i32 beyond 2^53, which
    /// cannot occur).
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::I32(v) => v as f64,
            Scalar::U32(v) => v as f64,
            Scalar::F16(v) => v.to_f64(),
            Scalar::F32(v) => v as f64,
            Scalar::F64(v) => v,
        }
    }

    /// Converts to another dtype with the semantics of the `cast` op:
    /// float→int rounds toward zero and saturates, NaN→0; int→float rounds to
    /// nearest even; anything→bool is `x != 0` (NaN is true); bool→number
    /// is 0 or 1; int→int reinterprets the 32 bits (wraps).
    pub fn cast(self, to: DType) -> Scalar {
        if self.dtype() == to {
            return self;
        }
        let as_i64 = |s: Scalar| -> i64 {
            match s {
                Scalar::Bool(b) => b as i64,
                Scalar::I32(v) => v as i64,
                Scalar::U32(v) => v as i64,
                _ => unreachable!(),
            }
        };
        match to {
            DType::BOOL => Scalar::Bool(match self {
                Scalar::F16(v) => v.to_f32() != 0.0,
                Scalar::F32(v) => v != 0.0,
                Scalar::F64(v) => v != 0.0,
                s => as_i64(s) != 0,
            }),
            DType::I32 => Scalar::I32(match self {
                Scalar::F16(v) => v.to_f32() as i32,
                Scalar::F32(v) => v as i32,
                Scalar::F64(v) => v as i32,
                s => as_i64(s) as i32,
            }),
            DType::U32 => Scalar::U32(match self {
                Scalar::F16(v) => v.to_f32() as u32,
                Scalar::F32(v) => v as u32,
                Scalar::F64(v) => v as u32,
                s => as_i64(s) as u32,
            }),
            DType::F16 => Scalar::F16(match self {
                Scalar::F32(v) => f16::from_f32(v),
                s => f16_from_f64(s.as_f64()),
            }),
            DType::F32 => Scalar::F32(match self {
                Scalar::F64(v) => v as f32,
                Scalar::I32(v) => v as f32,
                Scalar::U32(v) => v as f32,
                s => s.as_f64() as f32,
            }),
            DType::F64 => Scalar::F64(self.as_f64()),
            other => panic!("Scalar::cast: unknown dtype {other}"),
        }
    }

    /// Zero of a dtype (`false` for bool).
    pub fn zero(dtype: DType) -> Scalar {
        Scalar::from_bits(dtype, 0)
    }
}

/// f64 → f16 rounded once to nearest-even: f64 → f32 rounding to *odd*
/// (keeping a sticky bit), then f32 → f16 to nearest-even, which is exact
/// because f32 carries more than two extra bits. (Rounding to nearest twice
/// could round a tie the wrong way.)
pub fn f16_from_f64(x: f64) -> f16 {
    let a = x.abs();
    let mut f = a as f32;
    if f.is_finite() && f as f64 != a && f.to_bits() & 1 == 0 {
        let bits = f.to_bits();
        f = f32::from_bits(if (f as f64) > a { bits - 1 } else { bits + 1 });
    }
    let h = f16::from_f32(f);
    if x.is_sign_negative() { -h } else { h }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(v) => write!(f, "{v}"),
            Scalar::I32(v) => write!(f, "{v}"),
            Scalar::U32(v) => write!(f, "{v}"),
            Scalar::F16(v) => write!(f, "{:?}", v.to_f32()),
            Scalar::F32(v) => write!(f, "{v:?}"),
            Scalar::F64(v) => write!(f, "{v:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value just above a tie between two f16 numbers must round up; a
    /// double rounding through f32 would land on the tie and round to even.
    #[test]
    fn f64_to_f16_rounds_once() {
        let lo = f16::from_f32(1.0);
        let hi = f16::from_bits(lo.to_bits() + 1);
        let tie = (lo.to_f64() + hi.to_f64()) / 2.0;
        let above = tie + 2f64.powi(-40);
        assert_eq!(f16_from_f64(above), hi);
        assert_eq!(f16_from_f64(tie), lo, "a true tie goes to even");
        assert_eq!(f16_from_f64(-above), -hi);
        assert_eq!(f16_from_f64(1e10), f16::INFINITY);
        assert!(f16_from_f64(f64::NAN).is_nan());
        assert_eq!(Scalar::F64(above).cast(DType::F16), Scalar::F16(hi));
    }
}
