//! The executable definition of the kernel IR's ALU ops.
//!
//! [`apply`] computes one op on host [`Scalar`]s exactly as the doc comments
//! on [`Op`] (core/abi/src/op.rs) and [`DType`] (core/abi/src/dtype.rs) say.
//! Every other backend is checked against this file, so it is written as a
//! set of tables — one `match` per op class and dtype — rather than for
//! speed:
//!
//! - integer arithmetic wraps and never traps (division by zero has a value);
//! - floats follow IEEE 754 with round-to-nearest-even;
//! - f16 and bf16 compute in f32 and round the result to their width;
//! - i8 and u8 compute in i32 / u32 and keep the low 8 bits (which is
//!   8-bit wrapping arithmetic, and gives the 32-bit rules for division by
//!   zero and out-of-range shifts at 8 bits);
//! - transcendentals come from the `libm` crate (f32 through its `…f`
//!   functions, f64 through the plain ones), so results are the same on
//!   every platform.
//!
//! The leaves (`const`, `gidx`, `ridx`, `acc`, `load`) read the kernel's
//! state rather than operands; the interpreter in `kernel.rs` evaluates them.

use oxjax_abi::{DType, Op, ReduceOp, Scalar, bf16, f16};

/// Computes one ALU op. `dtype` is the node's (result) dtype, used by `cast`
/// and `bitcast`; `args` are the operand values, exactly as many as the op's
/// arity; `imm` is the node's immediate (the output word of
/// `threefry2x32`).
///
/// Panics, naming the op and operands, when the op is a leaf or is not
/// defined on the operands' dtypes — a validated kernel never does that.
pub fn apply(op: Op, dtype: DType, args: &[Scalar], imm: u64) -> Scalar {
    let result = match (op, args) {
        (Op::CAST, &[x]) => Some(x.cast(dtype)),
        (Op::BITCAST, &[x]) => bitcast(x, dtype),
        (Op::SELECT, &[cond, a, b]) => select(cond, a, b),
        (Op::THREEFRY2X32, &[k0, k1, c0, c1]) => threefry_word(k0, k1, c0, c1, imm),
        (Op::ISNAN | Op::ISINF, &[x]) => classify(op, x).map(Scalar::Bool),
        (Op::LT | Op::LE | Op::GT | Op::GE | Op::EQ | Op::NE, &[x, y]) => {
            compare(op, x, y).map(Scalar::Bool)
        }
        (_, &[x]) => unary(op, x),
        (_, &[x, y]) => binary(op, x, y),
        _ => None,
    };
    result.unwrap_or_else(|| {
        panic!("eval::apply: {op} is not defined on operands {args:?} (node dtype {dtype})")
    })
}

/// Folds one value into a reduction's accumulator, with the rules of the
/// reduction's binary op ([`ReduceOp::combine_op`]).
pub fn combine(op: ReduceOp, acc: Scalar, x: Scalar) -> Scalar {
    apply(op.combine_op(), acc.dtype(), &[acc, x], 0)
}

// ---- unary ---------------------------------------------------------------

fn unary(op: Op, x: Scalar) -> Option<Scalar> {
    Some(match x {
        Scalar::Bool(v) => Scalar::Bool(unary_bool(op, v)?),
        Scalar::I32(v) => Scalar::I32(unary_i32(op, v)?),
        Scalar::U32(v) => Scalar::U32(unary_u32(op, v)?),
        Scalar::F16(v) => Scalar::F16(f16::from_f32(unary_f32(op, v.to_f32())?)),
        Scalar::F32(v) => Scalar::F32(unary_f32(op, v)?),
        Scalar::F64(v) => Scalar::F64(unary_f64(op, v)?),
        Scalar::BF16(v) => Scalar::BF16(bf16::from_f32(unary_f32(op, v.to_f32())?)),
        Scalar::I8(v) => Scalar::I8(unary_i32(op, v.into())? as i8),
        Scalar::U8(v) => Scalar::U8(unary_u32(op, v.into())? as u8),
    })
}

fn unary_bool(op: Op, x: bool) -> Option<bool> {
    match op {
        Op::NOT => Some(!x),
        _ => None,
    }
}

fn unary_i32(op: Op, x: i32) -> Option<i32> {
    Some(match op {
        Op::NEG => x.wrapping_neg(),
        Op::ABS => x.wrapping_abs(),
        Op::SIGN => x.signum(),
        Op::NOT => !x,
        _ => return None,
    })
}

fn unary_u32(op: Op, x: u32) -> Option<u32> {
    Some(match op {
        Op::NEG => x.wrapping_neg(),
        Op::ABS => x,
        Op::SIGN => (x != 0) as u32,
        Op::NOT => !x,
        _ => return None,
    })
}

fn unary_f32(op: Op, x: f32) -> Option<f32> {
    use libm as m;
    Some(match op {
        Op::NEG => -x,
        Op::ABS => m::fabsf(x),
        Op::SIGN => sign(x.into()) as f32,
        Op::SQRT => m::sqrtf(x),
        Op::RSQRT => 1.0 / m::sqrtf(x),
        Op::RECIP => 1.0 / x,
        Op::EXP => m::expf(x),
        Op::EXP2 => m::exp2f(x),
        Op::LOG => m::logf(x),
        Op::LOG2 => m::log2f(x),
        Op::LOG1P => m::log1pf(x),
        Op::EXPM1 => m::expm1f(x),
        Op::SIN => m::sinf(x),
        Op::COS => m::cosf(x),
        Op::TAN => m::tanf(x),
        Op::ASIN => m::asinf(x),
        Op::ACOS => m::acosf(x),
        Op::ATAN => m::atanf(x),
        Op::SINH => m::sinhf(x),
        Op::COSH => m::coshf(x),
        Op::TANH => m::tanhf(x),
        Op::ERF => m::erff(x),
        Op::ERFC => m::erfcf(x),
        Op::FLOOR => m::floorf(x),
        Op::CEIL => m::ceilf(x),
        Op::ROUND => m::roundevenf(x),
        Op::TRUNC => m::truncf(x),
        _ => return None,
    })
}

fn unary_f64(op: Op, x: f64) -> Option<f64> {
    use libm as m;
    Some(match op {
        Op::NEG => -x,
        Op::ABS => m::fabs(x),
        Op::SIGN => sign(x),
        Op::SQRT => m::sqrt(x),
        Op::RSQRT => 1.0 / m::sqrt(x),
        Op::RECIP => 1.0 / x,
        Op::EXP => m::exp(x),
        Op::EXP2 => m::exp2(x),
        Op::LOG => m::log(x),
        Op::LOG2 => m::log2(x),
        Op::LOG1P => m::log1p(x),
        Op::EXPM1 => m::expm1(x),
        Op::SIN => m::sin(x),
        Op::COS => m::cos(x),
        Op::TAN => m::tan(x),
        Op::ASIN => m::asin(x),
        Op::ACOS => m::acos(x),
        Op::ATAN => m::atan(x),
        Op::SINH => m::sinh(x),
        Op::COSH => m::cosh(x),
        Op::TANH => m::tanh(x),
        Op::ERF => m::erf(x),
        Op::ERFC => m::erfc(x),
        Op::FLOOR => m::floor(x),
        Op::CEIL => m::ceil(x),
        Op::ROUND => m::roundeven(x),
        Op::TRUNC => m::trunc(x),
        _ => return None,
    })
}

/// -1 or 1 by the sign bit; ±0 and NaN are returned unchanged. (Exact in
/// f64 for f32 operands, so both float widths share it.)
fn sign(x: f64) -> f64 {
    if x.is_nan() || x == 0.0 {
        x
    } else {
        1.0f64.copysign(x)
    }
}

// ---- binary --------------------------------------------------------------

fn binary(op: Op, x: Scalar, y: Scalar) -> Option<Scalar> {
    Some(match (x, y) {
        (Scalar::Bool(a), Scalar::Bool(b)) => Scalar::Bool(binary_bool(op, a, b)?),
        (Scalar::I32(a), Scalar::I32(b)) => Scalar::I32(binary_i32(op, a, b)?),
        (Scalar::U32(a), Scalar::U32(b)) => Scalar::U32(binary_u32(op, a, b)?),
        (Scalar::F16(a), Scalar::F16(b)) => {
            Scalar::F16(f16::from_f32(binary_f32(op, a.to_f32(), b.to_f32())?))
        }
        (Scalar::F32(a), Scalar::F32(b)) => Scalar::F32(binary_f32(op, a, b)?),
        (Scalar::F64(a), Scalar::F64(b)) => Scalar::F64(binary_f64(op, a, b)?),
        (Scalar::BF16(a), Scalar::BF16(b)) => {
            Scalar::BF16(bf16::from_f32(binary_f32(op, a.to_f32(), b.to_f32())?))
        }
        (Scalar::I8(a), Scalar::I8(b)) => Scalar::I8(binary_i32(op, a.into(), b.into())? as i8),
        (Scalar::U8(a), Scalar::U8(b)) => Scalar::U8(binary_u32(op, a.into(), b.into())? as u8),
        _ => return None,
    })
}

fn binary_bool(op: Op, x: bool, y: bool) -> Option<bool> {
    Some(match op {
        Op::AND | Op::MIN => x & y,
        Op::OR | Op::MAX => x | y,
        Op::XOR => x ^ y,
        _ => return None,
    })
}

fn binary_i32(op: Op, x: i32, y: i32) -> Option<i32> {
    Some(match op {
        Op::ADD => x.wrapping_add(y),
        Op::SUB => x.wrapping_sub(y),
        Op::MUL => x.wrapping_mul(y),
        // wrapping_div: i32::MIN / -1 == i32::MIN.
        Op::IDIV if y == 0 => -1,
        Op::IDIV => x.wrapping_div(y),
        // wrapping_rem: i32::MIN % -1 == 0.
        Op::REM if y == 0 => x,
        Op::REM => x.wrapping_rem(y),
        Op::MIN => x.min(y),
        Op::MAX => x.max(y),
        Op::AND => x & y,
        Op::OR => x | y,
        Op::XOR => x ^ y,
        Op::SHL if (0..32).contains(&y) => x << y,
        Op::SHL => 0,
        // Arithmetic shift; an amount outside 0..32 shifts every bit out.
        Op::SHR if (0..32).contains(&y) => x >> y,
        Op::SHR if x < 0 => -1,
        Op::SHR => 0,
        _ => return None,
    })
}

fn binary_u32(op: Op, x: u32, y: u32) -> Option<u32> {
    Some(match op {
        Op::ADD => x.wrapping_add(y),
        Op::SUB => x.wrapping_sub(y),
        Op::MUL => x.wrapping_mul(y),
        Op::IDIV if y == 0 => u32::MAX,
        Op::IDIV => x / y,
        Op::REM if y == 0 => x,
        Op::REM => x % y,
        Op::MIN => x.min(y),
        Op::MAX => x.max(y),
        Op::AND => x & y,
        Op::OR => x | y,
        Op::XOR => x ^ y,
        // Logical shifts; an amount of 32 or more gives 0.
        Op::SHL if y < 32 => x << y,
        Op::SHR if y < 32 => x >> y,
        Op::SHL | Op::SHR => 0,
        _ => return None,
    })
}

fn binary_f32(op: Op, x: f32, y: f32) -> Option<f32> {
    use libm as m;
    Some(match op {
        Op::ADD => x + y,
        Op::SUB => x - y,
        Op::MUL => x * y,
        Op::DIV => x / y,
        Op::REM => m::fmodf(x, y),
        Op::MIN => minimum(x.into(), y.into()) as f32,
        Op::MAX => maximum(x.into(), y.into()) as f32,
        Op::POW => m::powf(x, y),
        Op::ATAN2 => m::atan2f(x, y),
        _ => return None,
    })
}

fn binary_f64(op: Op, x: f64, y: f64) -> Option<f64> {
    use libm as m;
    Some(match op {
        Op::ADD => x + y,
        Op::SUB => x - y,
        Op::MUL => x * y,
        Op::DIV => x / y,
        Op::REM => m::fmod(x, y),
        Op::MIN => minimum(x, y),
        Op::MAX => maximum(x, y),
        Op::POW => m::pow(x, y),
        Op::ATAN2 => m::atan2(x, y),
        _ => return None,
    })
}

/// IEEE 754-2019 `minimum`: NaN if either operand is NaN, and -0 < +0.
/// (Exact in f64 for f32 operands, so both float widths share it.)
fn minimum(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == y {
        // Equal values differ at most in the sign of zero: take the negative.
        if x.is_sign_negative() { x } else { y }
    } else if x < y {
        x
    } else {
        y
    }
}

/// IEEE 754-2019 `maximum`: NaN if either operand is NaN, and +0 > -0.
fn maximum(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == y {
        if x.is_sign_positive() { x } else { y }
    } else if x > y {
        x
    } else {
        y
    }
}

// ---- comparisons and float classes ---------------------------------------

/// IEEE comparison: with NaN every comparison is false except `ne`, and
/// `-0 == +0`. Bool orders `false < true`.
fn compare(op: Op, x: Scalar, y: Scalar) -> Option<bool> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let order = match (x, y) {
        (Scalar::Bool(a), Scalar::Bool(b)) => a.partial_cmp(&b),
        (Scalar::I32(a), Scalar::I32(b)) => a.partial_cmp(&b),
        (Scalar::U32(a), Scalar::U32(b)) => a.partial_cmp(&b),
        (Scalar::F16(a), Scalar::F16(b)) => a.to_f32().partial_cmp(&b.to_f32()),
        (Scalar::F32(a), Scalar::F32(b)) => a.partial_cmp(&b),
        (Scalar::F64(a), Scalar::F64(b)) => a.partial_cmp(&b),
        (Scalar::BF16(a), Scalar::BF16(b)) => a.to_f32().partial_cmp(&b.to_f32()),
        (Scalar::I8(a), Scalar::I8(b)) => a.partial_cmp(&b),
        (Scalar::U8(a), Scalar::U8(b)) => a.partial_cmp(&b),
        _ => return None,
    };
    Some(match op {
        Op::LT => order == Some(Less),
        Op::LE => matches!(order, Some(Less | Equal)),
        Op::GT => order == Some(Greater),
        Op::GE => matches!(order, Some(Greater | Equal)),
        Op::EQ => order == Some(Equal),
        Op::NE => order != Some(Equal),
        _ => return None,
    })
}

/// `isnan` / `isinf` of a float.
fn classify(op: Op, x: Scalar) -> Option<bool> {
    let x = match x {
        Scalar::F16(v) => v.to_f64(),
        Scalar::BF16(v) => v.to_f64(),
        Scalar::F32(v) => v.into(),
        Scalar::F64(v) => v,
        _ => return None,
    };
    match op {
        Op::ISNAN => Some(x.is_nan()),
        Op::ISINF => Some(x.is_infinite()),
        _ => None,
    }
}

// ---- the rest ------------------------------------------------------------

/// Reinterprets the bits of `x` as `to`, which has the same size.
fn bitcast(x: Scalar, to: DType) -> Option<Scalar> {
    let same_size = x.dtype().size() == to.size() && to != DType::BOOL && to.is_known();
    same_size.then(|| Scalar::from_bits(to, x.to_bits()))
}

fn select(cond: Scalar, a: Scalar, b: Scalar) -> Option<Scalar> {
    match cond {
        Scalar::Bool(c) if a.dtype() == b.dtype() => Some(if c { a } else { b }),
        _ => None,
    }
}

fn threefry_word(k0: Scalar, k1: Scalar, c0: Scalar, c1: Scalar, word: u64) -> Option<Scalar> {
    match (k0, k1, c0, c1) {
        (Scalar::U32(k0), Scalar::U32(k1), Scalar::U32(c0), Scalar::U32(c1)) => {
            let out = threefry2x32([k0, k1], [c0, c1]);
            out.get(usize::try_from(word).ok()?)
                .map(|&w| Scalar::U32(w))
        }
        _ => None,
    }
}

/// Threefry-2x32 with 20 rounds, as in Random123 (`threefry2x32_R(20, ...)`):
/// the block cipher behind JAX's default PRNG.
pub fn threefry2x32(key: [u32; 2], counter: [u32; 2]) -> [u32; 2] {
    const ROTATIONS: [u32; 8] = [13, 15, 26, 6, 17, 29, 16, 24];
    // The key schedule: the two key words and their parity word.
    let ks = [key[0], key[1], 0x1BD1_1BDA ^ key[0] ^ key[1]];
    let mut x = [
        counter[0].wrapping_add(ks[0]),
        counter[1].wrapping_add(ks[1]),
    ];
    for round in 0..20 {
        x[0] = x[0].wrapping_add(x[1]);
        x[1] = x[1].rotate_left(ROTATIONS[round % 8]) ^ x[0];
        // Key injection after every fourth round.
        if round % 4 == 3 {
            let s = round / 4 + 1;
            x[0] = x[0].wrapping_add(ks[s % 3]);
            x[1] = x[1].wrapping_add(ks[(s + 1) % 3]).wrapping_add(s as u32);
        }
    }
    x
}
