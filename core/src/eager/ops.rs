//! Elementwise ops: NumPy broadcasting, JAX type promotion, one kernel each,
//! and the std operator overloads.

use super::fuse::Fuse;
use super::promote::{promote, to_float};
use super::{Concrete, Source, ok};
use crate::error::{Error, Result, op_err};
use crate::trace::prim::{BinOp, UnOp};
use oxjax_abi::{DType, KernelBuilder, Op, Scalar, Val};

/// The broadcast of several shapes, NumPy's rule (align right; 1 stretches).
pub(crate) fn broadcast_shapes(name: &str, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        for (i, &n) in s.iter().enumerate() {
            let o = &mut out[rank - s.len() + i];
            if *o == 1 {
                *o = n;
            } else if n != 1 && n != *o {
                let all: Vec<String> = shapes.iter().map(|s| format!("{s:?}")).collect();
                return op_err(format!(
                    "{name}: shapes {} do not broadcast",
                    all.join(" and ")
                ));
            }
        }
    }
    Ok(out)
}

/// Runs `f` elementwise over `inputs` broadcast together, each read as
/// `compute`. Weak constants take any device; other inputs must share one.
pub(crate) fn zip(
    name: &str,
    inputs: &[&Concrete],
    compute: DType,
    f: impl FnOnce(&mut KernelBuilder, &[Val]) -> Val,
) -> Result<Concrete> {
    let device = common_device(name, inputs)?;
    super::check_dtype(name, compute, &device)?;
    let shapes: Vec<&[usize]> = inputs.iter().map(|a| a.shape()).collect();
    let shape = broadcast_shapes(name, &shapes)?;
    let mut fuse = Fuse::new(&device);
    let idx = fuse.out_index(&shape);
    let vals: Vec<Val> = inputs
        .iter()
        .map(|a| {
            let a = a.broadcast_view(&shape);
            fuse.read_as(&a, &idx, compute)
        })
        .collect();
    let r = f(&mut fuse.b, &vals);
    let mut out = fuse.run(&shape, 0, &[r])?.remove(0);
    out.weak = inputs.iter().all(|a| a.weak);
    Ok(out)
}

/// The device the inputs live on (constants live anywhere).
pub(crate) fn common_device(name: &str, inputs: &[&Concrete]) -> Result<crate::Device> {
    let mut placed = inputs.iter().filter(|a| matches!(a.src, Source::Buffer(_)));
    let Some(first) = placed.next() else {
        return Ok(inputs[0].device.clone());
    };
    for a in placed {
        if !a.device.same(&first.device) {
            return Err(Error::Op(format!(
                "{name}: arrays are on different devices ('{}' and '{}'); move one with device_put",
                first.device.name(),
                a.device.name()
            )));
        }
    }
    Ok(first.device.clone())
}

/// Promotes the dtypes (and weakness) of all inputs.
pub(crate) fn result_type(inputs: &[&Concrete]) -> (DType, bool) {
    inputs
        .iter()
        .map(|a| (a.dtype, a.weak))
        .reduce(promote)
        .expect("at least one input")
}

fn not_defined<T>(name: &str, d: DType) -> Result<T> {
    op_err(format!("{name}: not defined on {d}"))
}

/// How a unary op picks its dtype.
#[derive(Clone, Copy)]
enum Unary {
    /// Computes in the input's float dtype (ints and bool become f32).
    Float,
    /// Keeps a numeric dtype (bool is an error).
    Numeric,
    /// Rounding: integers and bool pass through unchanged.
    Rounding,
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => $op:ident, $kind:ident;)*) => {
        impl Concrete {
            $(
                $(#[$doc])*
                pub(crate) fn $name(&self) -> Concrete {
                    ok(self.unary(stringify!($name), Op::$op, Unary::$kind))
                }
            )*
        }
    };
}

unary_ops! {
    /// `-x` (wraps on integers).
    neg => NEG, Numeric;
    abs => ABS, Numeric;
    /// -1, 0 or 1; `sign(±0) = ±0`, `sign(NaN) = NaN`.
    sign => SIGN, Numeric;
    sqrt => SQRT, Float;
    /// `1/sqrt(x)`.
    rsqrt => RSQRT, Float;
    /// `1/x`.
    reciprocal => RECIP, Float;
    exp => EXP, Float;
    exp2 => EXP2, Float;
    log => LOG, Float;
    log2 => LOG2, Float;
    log1p => LOG1P, Float;
    expm1 => EXPM1, Float;
    sin => SIN, Float;
    cos => COS, Float;
    tan => TAN, Float;
    arcsin => ASIN, Float;
    arccos => ACOS, Float;
    arctan => ATAN, Float;
    sinh => SINH, Float;
    cosh => COSH, Float;
    tanh => TANH, Float;
    erf => ERF, Float;
    erfc => ERFC, Float;
    floor => FLOOR, Rounding;
    ceil => CEIL, Rounding;
    /// Round half to even.
    round => ROUND, Rounding;
    trunc => TRUNC, Rounding;
}

impl Concrete {
    fn unary(&self, name: &str, op: Op, kind: Unary) -> Result<Concrete> {
        let dtype = match kind {
            Unary::Float => to_float(self.dtype),
            Unary::Numeric if self.dtype == DType::BOOL => return not_defined(name, self.dtype),
            Unary::Rounding if !self.dtype.is_float() => return Ok(self.clone()),
            _ => self.dtype,
        };
        let mut out = zip(name, &[self], dtype, |b, v| b.op(op, v))?;
        out.weak = self.weak;
        Ok(out)
    }

    /// True where NaN (always false for integers and bool).
    pub(crate) fn isnan(&self) -> Concrete {
        ok(self.classify("isnan", Op::ISNAN))
    }

    /// True where ±Inf (always false for integers and bool).
    pub(crate) fn isinf(&self) -> Concrete {
        ok(self.classify("isinf", Op::ISINF))
    }

    /// True where neither NaN nor ±Inf.
    pub(crate) fn isfinite(&self) -> Concrete {
        ok(zip("isfinite", &[self], self.dtype, |b, v| {
            if !v[0].dtype.is_float() {
                return b.constant(Scalar::Bool(true));
            }
            let n = b.op(Op::ISNAN, v);
            let i = b.op(Op::ISINF, v);
            let bad = b.op(Op::OR, &[n, i]);
            b.op(Op::NOT, &[bad])
        }))
    }

    fn classify(&self, name: &str, op: Op) -> Result<Concrete> {
        zip(name, &[self], self.dtype, |b, v| {
            if v[0].dtype.is_float() {
                b.op(op, v)
            } else {
                b.constant(Scalar::Bool(false))
            }
        })
    }

    /// Logical not on bool, bitwise not on integers.
    pub(crate) fn logical_not(&self) -> Concrete {
        if self.dtype.is_float() {
            return ok(zip("logical_not", &[self], self.dtype, |b, v| {
                let z = b.constant(Scalar::zero(v[0].dtype));
                b.op(Op::EQ, &[v[0], z])
            }));
        }
        ok(zip("logical_not", &[self], self.dtype, |b, v| {
            b.op(Op::NOT, v)
        }))
    }
}

/// How a binary op picks its compute dtype from the promoted one.
#[derive(Clone, Copy, PartialEq)]
enum Binary {
    /// Any numeric dtype; on bool `add` is or, `mul` is and, others error.
    Arith,
    /// Promoted to a float dtype.
    Float,
    /// Bool and integers.
    Logic,
    /// Integers only.
    Shift,
    /// Any dtype; the result is bool.
    Compare,
}

fn binary(
    name: &str,
    x: &Concrete,
    y: &Concrete,
    kind: Binary,
    f: impl FnOnce(&mut KernelBuilder, Val, Val) -> Val,
) -> Result<Concrete> {
    let (dtype, _) = result_type(&[x, y]);
    let compute = match kind {
        Binary::Float => to_float(dtype),
        Binary::Logic if dtype.is_float() => return not_defined(name, dtype),
        Binary::Shift if !dtype.is_int() => return not_defined(name, dtype),
        _ => dtype,
    };
    zip(name, &[x, y], compute, |b, v| f(b, v[0], v[1]))
}

macro_rules! binary_ops {
    ($($(#[$doc:meta])* $name:ident => $kind:ident, $op:ident;)*) => {
        impl Concrete {
            $(
                $(#[$doc])*
                pub(crate) fn $name(&self, other: &Concrete) -> Concrete {
                    let body = |b: &mut KernelBuilder, x, y| binary_expr(BinOp::$op, b, x, y);
                    ok(try_binary(stringify!($name), self, other, Binary::$kind, body))
                }
            )*
        }
    };
}

fn try_binary(
    name: &str,
    x: &Concrete,
    y: &Concrete,
    kind: Binary,
    body: impl Fn(&mut KernelBuilder, Val, Val) -> Result<Val>,
) -> Result<Concrete> {
    let mut err = None;
    let out = binary(name, x, y, kind, |b, p, q| match body(b, p, q) {
        Ok(v) => v,
        Err(e) => {
            err = Some(e);
            p
        }
    });
    match err {
        Some(Error::Op(m)) => op_err(format!("{name}: {m}")),
        Some(e) => Err(e),
        None => out,
    }
}

fn arith(op: Op, bool_op: Option<Op>) -> impl Fn(&mut KernelBuilder, Val, Val) -> Result<Val> {
    move |b, x, y| match (x.dtype, bool_op) {
        (DType::BOOL, Some(o)) => Ok(b.op(o, &[x, y])),
        (DType::BOOL, None) => op_err("not defined on bool"),
        _ => Ok(b.op(op, &[x, y])),
    }
}

binary_ops! {
    /// `x + y`; or on bool.
    add => Arith, Add;
    /// `x - y`.
    subtract => Arith, Sub;
    /// `x * y`; and on bool.
    multiply => Arith, Mul;
    /// True division: integers are promoted to float.
    divide => Float, Div;
    /// Division rounding toward -Inf (NumPy's `//`).
    floor_divide => Arith, FloorDiv;
    /// Remainder with the sign of the divisor (NumPy's `%`).
    remainder => Arith, Rem;
    /// Remainder with the sign of the dividend (C's `fmod`).
    fmod => Arith, Fmod;
    /// `x ** y`. Integer powers use repeated squaring (a negative integer
    /// exponent gives 0, as integer division would).
    power => Arith, Pow;
    /// Elementwise minimum; NaN propagates.
    minimum => Arith, Min;
    /// Elementwise maximum; NaN propagates.
    maximum => Arith, Max;
    /// `atan2(self, other)`: the angle of the point (other, self).
    arctan2 => Float, Atan2;
    bitwise_and => Logic, And;
    bitwise_or => Logic, Or;
    bitwise_xor => Logic, Xor;
    left_shift => Shift, Shl;
    /// Arithmetic on i32, logical on u32.
    right_shift => Shift, Shr;
    less => Compare, Lt;
    less_equal => Compare, Le;
    greater => Compare, Gt;
    greater_equal => Compare, Ge;
    equal => Compare, Eq;
    not_equal => Compare, Ne;
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
        BinOp::Fmod => arith(Op::REM, None)(b, x, y),
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

fn floor_divide(b: &mut KernelBuilder, x: Val, y: Val) -> Result<Val> {
    match x.dtype {
        DType::BOOL => op_err("not defined on bool"),
        d if d.is_float() => {
            let q = b.op(Op::DIV, &[x, y]);
            Ok(b.op(Op::FLOOR, &[q]))
        }
        DType::U32 => Ok(b.op(Op::IDIV, &[x, y])),
        _ => {
            // Truncated quotient, minus one where the remainder is non-zero
            // and the operands' signs differ.
            let q = b.op(Op::IDIV, &[x, y]);
            let r = b.op(Op::REM, &[x, y]);
            let zero = b.i32(0);
            let one = b.i32(1);
            let rnz = b.op(Op::NE, &[r, zero]);
            let xs = b.op(Op::LT, &[r, zero]);
            let ys = b.op(Op::LT, &[y, zero]);
            let differ = b.op(Op::NE, &[xs, ys]);
            let adjust = b.op(Op::AND, &[rnz, differ]);
            let qm = b.op(Op::SUB, &[q, one]);
            Ok(b.select(adjust, qm, q))
        }
    }
}

fn remainder(b: &mut KernelBuilder, x: Val, y: Val) -> Result<Val> {
    match x.dtype {
        DType::BOOL => op_err("not defined on bool"),
        DType::U32 => Ok(b.op(Op::REM, &[x, y])),
        d => {
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

fn power(b: &mut KernelBuilder, x: Val, y: Val) -> Result<Val> {
    match x.dtype {
        DType::BOOL => op_err("not defined on bool"),
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
                let neg = b.op(Op::LT, &[y, zero]);
                result = b.select(neg, zero, result);
            }
            Ok(result)
        }
    }
}

impl Concrete {
    /// `cond ? x : y` elementwise, broadcasting all three.
    pub(crate) fn where_(cond: &Concrete, x: &Concrete, y: &Concrete) -> Concrete {
        let (dtype, _) = result_type(&[x, y]);
        let c = if cond.dtype == DType::BOOL {
            cond.clone()
        } else {
            cond.astype(DType::BOOL)
        };
        ok(zip("where", &[&c, x, y], dtype, |b, v| {
            let c = b.cast(v[0], DType::BOOL);
            b.select(c, v[1], v[2])
        }))
    }
}
