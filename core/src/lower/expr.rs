//! Elementwise expressions: the kernel IR of each unary and binary
//! primitive on values of one dtype (JAX's integer division, remainder and
//! power rules included).

use super::vocab::{BinOp, UnOp};
use crate::error::{ErrorKind, Result, err};
use oxjax_abi::{DType, KernelBuilder, Op, Scalar, Val};

fn arith(op: Op, bool_op: Option<Op>) -> impl Fn(&mut KernelBuilder, Val, Val) -> Result<Val> {
    move |b, x, y| match (x.dtype, bool_op) {
        (DType::BOOL, Some(o)) => Ok(b.op(o, &[x, y])),
        (DType::BOOL, None) => err(ErrorKind::DType, "not defined on bool"),
        _ => Ok(b.op(op, &[x, y])),
    }
}

/// The kernel expression of a binary primitive on two values of one dtype,
/// shared by eager ops and jit fusion.
pub(crate) fn binary_expr(op: BinOp, b: &mut KernelBuilder, x: Val, y: Val) -> Result<Val> {
    match op {
        BinOp::Add => arith(Op::ADD, Some(Op::OR))(b, x, y),
        BinOp::Sub => arith(Op::SUB, None)(b, x, y),
        BinOp::Mul => arith(Op::MUL, Some(Op::AND))(b, x, y),
        BinOp::Div => Ok(b.op(Op::DIV, &[x, y])),
        BinOp::FloorDiv => floor_divide(b, x, y),
        BinOp::Rem => remainder(b, x, y),
        BinOp::Fmod => fmod(b, x, y),
        BinOp::Pow => power(b, x, y),
        BinOp::Min => Ok(b.op(Op::MIN, &[x, y])),
        BinOp::Max => Ok(b.op(Op::MAX, &[x, y])),
        BinOp::Atan2 => Ok(b.op(Op::ATAN2, &[x, y])),
        BinOp::And => Ok(b.op(Op::AND, &[x, y])),
        BinOp::Or => Ok(b.op(Op::OR, &[x, y])),
        BinOp::Xor => Ok(b.op(Op::XOR, &[x, y])),
        BinOp::Shl => Ok(b.op(Op::SHL, &[x, y])),
        BinOp::Shr => Ok(b.op(Op::SHR, &[x, y])),
        BinOp::Lt => Ok(b.op(Op::LT, &[x, y])),
        BinOp::Le => Ok(b.op(Op::LE, &[x, y])),
        BinOp::Gt => Ok(b.op(Op::GT, &[x, y])),
        BinOp::Ge => Ok(b.op(Op::GE, &[x, y])),
        BinOp::Eq => Ok(b.op(Op::EQ, &[x, y])),
        BinOp::Ne => Ok(b.op(Op::NE, &[x, y])),
    }
}

/// The kernel expression of a unary primitive, shared by eager ops and jit.
pub(crate) fn unary_expr(op: UnOp, b: &mut KernelBuilder, x: Val) -> Val {
    let k = match op {
        UnOp::IsFinite => {
            let n = b.op(Op::ISNAN, &[x]);
            let i = b.op(Op::ISINF, &[x]);
            let bad = b.op(Op::OR, &[n, i]);
            return b.op(Op::NOT, &[bad]);
        }
        UnOp::Neg => Op::NEG,
        UnOp::Abs => Op::ABS,
        UnOp::Sign => Op::SIGN,
        UnOp::Sqrt => Op::SQRT,
        UnOp::Rsqrt => Op::RSQRT,
        UnOp::Recip => Op::RECIP,
        UnOp::Exp => Op::EXP,
        UnOp::Exp2 => Op::EXP2,
        UnOp::Log => Op::LOG,
        UnOp::Log2 => Op::LOG2,
        UnOp::Log1p => Op::LOG1P,
        UnOp::Expm1 => Op::EXPM1,
        UnOp::Sin => Op::SIN,
        UnOp::Cos => Op::COS,
        UnOp::Tan => Op::TAN,
        UnOp::Asin => Op::ASIN,
        UnOp::Acos => Op::ACOS,
        UnOp::Atan => Op::ATAN,
        UnOp::Sinh => Op::SINH,
        UnOp::Cosh => Op::COSH,
        UnOp::Tanh => Op::TANH,
        UnOp::Erf => Op::ERF,
        UnOp::Erfc => Op::ERFC,
        UnOp::Floor => Op::FLOOR,
        UnOp::Ceil => Op::CEIL,
        UnOp::Round => Op::ROUND,
        UnOp::Trunc => Op::TRUNC,
        UnOp::IsNan => Op::ISNAN,
        UnOp::IsInf => Op::ISINF,
        UnOp::Not => Op::NOT,
    };
    b.op(k, &[x])
}

/// A zero divisor replaced by one: JAX's integer `remainder` and `fmod`
/// are 0 for `x % 0` (XLA's own rule would give `x`).
fn nonzero_divisor(b: &mut KernelBuilder, y: Val) -> Val {
    let zero = b.constant(Scalar::zero(y.dtype));
    let one = b.constant(Scalar::F64(1.0).cast(y.dtype));
    let is0 = b.op(Op::EQ, &[y, zero]);
    b.select(is0, one, y)
}

/// Floor division as JAX computes it: integers adjust the truncated
/// quotient where the signs differ (a zero divisor counts as its own sign,
/// so `5 // 0 == -2` as in JAX); floats follow CPython's `float_divmod`
/// (`inf // 2` is NaN, `-1 // inf` is -1, `x // 0` is `x / 0`).
fn floor_divide(b: &mut KernelBuilder, x: Val, y: Val) -> Result<Val> {
    match x.dtype {
        DType::BOOL => err(ErrorKind::DType, "not defined on bool"),
        d if d.is_float() => {
            let zero = b.constant(Scalar::zero(d));
            let one = b.constant(Scalar::F64(1.0).cast(d));
            let m = b.op(Op::REM, &[x, y]);
            let y0 = b.op(Op::EQ, &[y, zero]);
            let xm = b.op(Op::SUB, &[x, m]);
            let xc = b.select(y0, x, xm);
            let div = b.op(Op::DIV, &[xc, y]);
            let mnz = b.op(Op::NE, &[m, zero]);
            let sy = b.op(Op::SIGN, &[y]);
            let sm = b.op(Op::SIGN, &[m]);
            let differ = b.op(Op::NE, &[sy, sm]);
            let ind = b.op(Op::AND, &[mnz, differ]);
            let dm = b.op(Op::SUB, &[div, one]);
            let div = b.select(ind, dm, div);
            Ok(b.op(Op::ROUND, &[div]))
        }
        d if !d.is_signed() => Ok(b.op(Op::IDIV, &[x, y])),
        d => {
            let q = b.op(Op::IDIV, &[x, y]);
            let r = b.op(Op::REM, &[x, y]);
            let sx = b.op(Op::SIGN, &[x]);
            let sy = b.op(Op::SIGN, &[y]);
            let differ = b.op(Op::NE, &[sx, sy]);
            let zero = b.constant(Scalar::zero(d));
            let rnz = b.op(Op::NE, &[r, zero]);
            let adjust = b.op(Op::AND, &[rnz, differ]);
            let one = b.constant(Scalar::I32(1).cast(d));
            let qm = b.op(Op::SUB, &[q, one]);
            Ok(b.select(adjust, qm, q))
        }
    }
}

/// `fmod` (the sign of the dividend); integer `x % 0` is 0 as in JAX.
fn fmod(b: &mut KernelBuilder, x: Val, y: Val) -> Result<Val> {
    match x.dtype {
        DType::BOOL => err(ErrorKind::DType, "not defined on bool"),
        d if d.is_float() => Ok(b.op(Op::REM, &[x, y])),
        _ => {
            let y = nonzero_divisor(b, y);
            Ok(b.op(Op::REM, &[x, y]))
        }
    }
}

/// Python's `%` (the sign of the divisor); integer `x % 0` is 0 as in JAX.
fn remainder(b: &mut KernelBuilder, x: Val, y: Val) -> Result<Val> {
    match x.dtype {
        DType::BOOL => err(ErrorKind::DType, "not defined on bool"),
        d if !d.is_signed() => {
            let y = nonzero_divisor(b, y);
            Ok(b.op(Op::REM, &[x, y]))
        }
        d => {
            let y = if d.is_float() {
                y
            } else {
                nonzero_divisor(b, y)
            };
            // fmod, then shifted by the divisor where the signs differ.
            let r = b.op(Op::REM, &[x, y]);
            let zero = b.constant(Scalar::zero(d));
            let rnz = b.op(Op::NE, &[r, zero]);
            let rs = b.op(Op::LT, &[r, zero]);
            let ys = b.op(Op::LT, &[y, zero]);
            let differ = b.op(Op::NE, &[rs, ys]);
            let adjust = b.op(Op::AND, &[rnz, differ]);
            let shifted = b.op(Op::ADD, &[r, y]);
            Ok(b.select(adjust, shifted, r))
        }
    }
}

/// `x ** y`. Integers by square-and-multiply; a negative exponent gives
/// `1 / x**|y|` truncated, as JAX: 1 for x = 1, ±1 for x = -1 (by the
/// exponent's parity), 0 otherwise.
fn power(b: &mut KernelBuilder, x: Val, y: Val) -> Result<Val> {
    match x.dtype {
        DType::BOOL => err(ErrorKind::DType, "not defined on bool"),
        d if d.is_float() => Ok(b.op(Op::POW, &[x, y])),
        d => {
            // Square-and-multiply over the 31 value bits of the exponent.
            let one = b.constant(Scalar::F64(1.0).cast(d));
            let zero = b.constant(Scalar::zero(d));
            let mut result = one;
            let mut base = x;
            for bit in 0..31 {
                let mask = b.constant(Scalar::I32(1 << bit).cast(d));
                let has = b.op(Op::AND, &[y, mask]);
                let set = b.op(Op::NE, &[has, zero]);
                let prod = b.op(Op::MUL, &[result, base]);
                result = b.select(set, prod, result);
                base = b.op(Op::MUL, &[base, base]);
            }
            if d == DType::I32 {
                // x = ±1: the bits above already give ±1 by parity (the
                // exponent's two's-complement bits keep its parity).
                let neg = b.op(Op::LT, &[y, zero]);
                let ax = b.op(Op::ABS, &[x]);
                let unit = b.op(Op::EQ, &[ax, one]);
                let keep = b.select(unit, result, zero);
                result = b.select(neg, keep, result);
            }
            Ok(result)
        }
    }
}
