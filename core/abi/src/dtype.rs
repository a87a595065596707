//! Element types and host-side scalars.

use abi_stable::StableAbi;
use std::fmt;

pub use half::{bf16, f16};

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
    /// bfloat16: the upper 16 bits of an f32 (8 exponent bits, 7 mantissa
    /// bits). Like f16, every op computes in f32 and rounds the result to
    /// bf16 (round to nearest, ties to even), as XLA on CPU does. (ABI 1.3)
    pub const BF16: DType = DType(6);
    /// 8-bit two's-complement integer; arithmetic wraps in 8 bits. (ABI 1.3)
    pub const I8: DType = DType(7);
    /// 8-bit unsigned integer; arithmetic wraps in 8 bits. (ABI 1.3)
    pub const U8: DType = DType(8);

    /// Every dtype this ABI version defines, in promotion order (narrow
    /// before wide, integers before floats).
    pub const ALL: [DType; 9] = [
        DType::BOOL,
        DType::I8,
        DType::U8,
        DType::I32,
        DType::U32,
        DType::BF16,
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
            DType::BF16 => "bf16",
            DType::I8 => "i8",
            DType::U8 => "u8",
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
            DType::BOOL | DType::I8 | DType::U8 => 1,
            DType::F16 | DType::BF16 => 2,
            DType::F64 => 8,
            _ => 4,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::U32 | DType::I8 | DType::U8)
    }

    /// Signed integers and floats.
    pub fn is_signed(self) -> bool {
        matches!(self, DType::I32 | DType::I8) || self.is_float()
    }

    /// The 16-bit floats, stored narrow and computed in f32.
    pub fn is_half(self) -> bool {
        matches!(self, DType::F16 | DType::BF16)
    }

    /// The 8-bit integers, computed in 32 bits and wrapped on store.
    pub fn is_byte_int(self) -> bool {
        matches!(self, DType::I8 | DType::U8)
    }

    /// True for the dtypes this ABI version knows.
    pub fn is_known(self) -> bool {
        self.0 <= DType::U8.0
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
    BF16(bf16),
    I8(i8),
    U8(u8),
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
            Scalar::BF16(_) => DType::BF16,
            Scalar::I8(_) => DType::I8,
            Scalar::U8(_) => DType::U8,
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
            Scalar::BF16(v) => v.to_bits() as u64,
            Scalar::I8(v) => v as u8 as u64,
            Scalar::U8(v) => v as u64,
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
            DType::BF16 => Scalar::BF16(bf16::from_bits(bits as u16)),
            DType::I8 => Scalar::I8(bits as u8 as i8),
            DType::U8 => Scalar::U8(bits as u8),
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
            Scalar::BF16(v) => v.to_f64(),
            Scalar::I8(v) => v as f64,
            Scalar::U8(v) => v as f64,
        }
    }

    /// An integer or bool as i64 (exact); `None` for floats.
    pub fn as_i64(self) -> Option<i64> {
        Some(match self {
            Scalar::Bool(b) => b as i64,
            Scalar::I32(v) => v as i64,
            Scalar::U32(v) => v as i64,
            Scalar::I8(v) => v as i64,
            Scalar::U8(v) => v as i64,
            _ => return None,
        })
    }

    /// Converts to another dtype with the semantics of the `cast` op:
    /// float→int rounds toward zero and saturates at the target's range,
    /// NaN→0; int→float rounds to nearest even; anything→bool is `x != 0`
    /// (NaN is true); bool→number is 0 or 1; int→int keeps the low bits of
    /// the two's-complement value (sign-extends a signed source, then wraps
    /// to the target's width, as NumPy and JAX do).
    pub fn cast(self, to: DType) -> Scalar {
        if self.dtype() == to {
            return self;
        }
        // Floats read as f64 (exact for every float dtype); Rust's `as`
        // from a float truncates and saturates, NaN → 0.
        macro_rules! to_int {
            ($t:ty) => {
                match self.as_i64() {
                    Some(i) => i as $t,
                    None => self.as_f64() as $t,
                }
            };
        }
        match to {
            DType::BOOL => Scalar::Bool(match self.as_i64() {
                Some(i) => i != 0,
                None => self.as_f64() != 0.0,
            }),
            DType::I32 => Scalar::I32(to_int!(i32)),
            DType::U32 => Scalar::U32(to_int!(u32)),
            DType::I8 => Scalar::I8(to_int!(i8)),
            DType::U8 => Scalar::U8(to_int!(u8)),
            DType::F16 => Scalar::F16(match self {
                Scalar::F32(v) => f16::from_f32(v),
                s => f16_from_f64(s.as_f64()),
            }),
            DType::BF16 => Scalar::BF16(match self {
                Scalar::F32(v) => bf16::from_f32(v),
                s => bf16_from_f64(s.as_f64()),
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
    let h = f16::from_f32(f32_round_to_odd(x.abs()));
    if x.is_sign_negative() { -h } else { h }
}

/// f64 → bf16 rounded once to nearest-even, as [`f16_from_f64`].
pub fn bf16_from_f64(x: f64) -> bf16 {
    let h = bf16::from_f32(f32_round_to_odd(x.abs()));
    if x.is_sign_negative() { -h } else { h }
}

/// A non-negative f64 as f32, rounded to odd: an inexact result gets its
/// lowest mantissa bit set, so a later rounding to a narrower float sees
/// that the value lies strictly between two ties.
fn f32_round_to_odd(a: f64) -> f32 {
    let f = a as f32;
    if f.is_finite() && f as f64 != a && f.to_bits() & 1 == 0 {
        let bits = f.to_bits();
        return f32::from_bits(if (f as f64) > a { bits - 1 } else { bits + 1 });
    }
    f
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
            Scalar::BF16(v) => write!(f, "{:?}", v.to_f32()),
            Scalar::I8(v) => write!(f, "{v}"),
            Scalar::U8(v) => write!(f, "{v}"),
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

    #[test]
    fn f64_to_bf16_rounds_once() {
        let lo = bf16::from_f32(1.0);
        let hi = bf16::from_bits(lo.to_bits() + 1);
        let tie = (lo.to_f64() + hi.to_f64()) / 2.0;
        assert_eq!(bf16_from_f64(tie + 2f64.powi(-40)), hi);
        assert_eq!(bf16_from_f64(tie), lo, "a true tie goes to even");
        assert_eq!(bf16_from_f64(-1e39), bf16::NEG_INFINITY);
        assert!(bf16_from_f64(f64::NAN).is_nan());
    }

    /// The cast table of the new dtypes: float→int truncates and
    /// saturates (NaN → 0), int→int wraps to the target width.
    #[test]
    fn byte_and_bf16_casts() {
        let c = |s: Scalar, d| s.cast(d);
        assert_eq!(c(Scalar::F32(300.7), DType::U8), Scalar::U8(255));
        assert_eq!(c(Scalar::F32(-3.9), DType::U8), Scalar::U8(0));
        assert_eq!(c(Scalar::F32(-3.9), DType::I8), Scalar::I8(-3));
        assert_eq!(c(Scalar::F32(-1e9), DType::I8), Scalar::I8(-128));
        assert_eq!(c(Scalar::F32(f32::NAN), DType::I8), Scalar::I8(0));
        assert_eq!(c(Scalar::I32(300), DType::U8), Scalar::U8(44));
        assert_eq!(c(Scalar::I32(200), DType::I8), Scalar::I8(-56));
        assert_eq!(c(Scalar::I8(-1), DType::U32), Scalar::U32(u32::MAX));
        assert_eq!(c(Scalar::I8(-1), DType::U8), Scalar::U8(255));
        assert_eq!(c(Scalar::U8(255), DType::I32), Scalar::I32(255));
        assert_eq!(c(Scalar::U8(7), DType::BOOL), Scalar::Bool(true));
        assert_eq!(c(Scalar::Bool(true), DType::I8), Scalar::I8(1));
        // 1 + 2^-8 is a tie between bf16 1 and 1 + 2^-7: to even.
        assert_eq!(
            c(Scalar::F32(1.0 + 1.0 / 256.0), DType::BF16),
            Scalar::BF16(bf16::ONE)
        );
        assert_eq!(
            c(Scalar::BF16(bf16::from_f32(-2.5)), DType::I8),
            Scalar::I8(-2)
        );
        assert_eq!(
            c(Scalar::U8(255), DType::BF16),
            Scalar::BF16(bf16::from_f32(255.0))
        );
        // Just above a bf16 tie, but a tie once rounded to f32: one rounding.
        let above_tie = (1 << 24) + (1 << 16) + 1;
        let want = bf16::from_f32(((1 << 24) + (1 << 17)) as f32);
        assert_eq!(c(Scalar::I32(above_tie), DType::BF16), Scalar::BF16(want));
        let bits = Scalar::BF16(bf16::from_f32(1.5)).to_bits();
        assert_eq!(bits, 0x3fc0, "bf16 is the upper half of the f32");
    }
}
