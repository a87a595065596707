//! ALU op codes and the op table: name, arity, accepted dtypes and result
//! dtype of every op, as data. The semantics of each op are written on its
//! constant; the reference backend is their executable definition.
//!
//! Rules that hold for every op:
//! - Integer arithmetic wraps (two's complement), never traps.
//! - Float ops follow IEEE 754 with round-to-nearest-even: NaN and ±Inf
//!   propagate, `0/0` is NaN, `x/0` is ±Inf, signed zeros are kept.
//! - f16 ops compute in f32 and round the result to f16.
//! - Transcendentals need not be correctly rounded; the conformance op table
//!   gives each one its accuracy class.

use crate::DType;
use abi_stable::StableAbi;
use std::fmt;

/// An op code. An integer newtype so minor ABI versions can append ops.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Op(pub u16);

impl Op {
    // ---- leaves --------------------------------------------------------
    /// A constant; `imm` holds its bits (see `Scalar::to_bits`).
    pub const CONST: Op = Op(0);
    /// The output element index, `0..size`, as i32.
    pub const GIDX: Op = Op(1);
    /// The reduction index, `0..rsize`, as i32. Only inside reduction bodies.
    pub const RIDX: Op = Op(2);
    /// The accumulated value of reduction number `imm`. Only in the epilogue
    /// (the part of the kernel evaluated after the reduction loop).
    pub const ACC: Op = Op(3);
    /// `input[imm][args[0]]`: element of input buffer `imm` at the i32 index
    /// `args[0]`. An index outside the buffer yields zero of the dtype (this
    /// is how padding is expressed, and it can never read out of bounds).
    pub const LOAD: Op = Op(4);

    // ---- unary ---------------------------------------------------------
    /// `-x`. Wraps on integers (`-MIN == MIN`, `-x` of u32 is `2^32 - x`).
    pub const NEG: Op = Op(10);
    /// `|x|`. `abs(i32::MIN) == i32::MIN`; identity on u32; clears the float sign bit.
    pub const ABS: Op = Op(11);
    /// -1, 0 or 1 (0 or 1 for u32); `sign(±0) = ±0`, `sign(NaN) = NaN`.
    pub const SIGN: Op = Op(12);
    /// Logical not on bool, bitwise not on integers.
    pub const NOT: Op = Op(13);
    pub const SQRT: Op = Op(14);
    /// `1/sqrt(x)`.
    pub const RSQRT: Op = Op(15);
    /// `1/x`.
    pub const RECIP: Op = Op(16);
    pub const EXP: Op = Op(17);
    pub const EXP2: Op = Op(18);
    /// Natural log; `log(0) = -Inf`, `log(x<0) = NaN`.
    pub const LOG: Op = Op(19);
    pub const LOG2: Op = Op(20);
    /// `log(1+x)`, accurate near 0.
    pub const LOG1P: Op = Op(21);
    /// `exp(x)-1`, accurate near 0.
    pub const EXPM1: Op = Op(22);
    pub const SIN: Op = Op(23);
    pub const COS: Op = Op(24);
    pub const TAN: Op = Op(25);
    pub const ASIN: Op = Op(26);
    pub const ACOS: Op = Op(27);
    pub const ATAN: Op = Op(28);
    pub const SINH: Op = Op(29);
    pub const COSH: Op = Op(30);
    pub const TANH: Op = Op(31);
    /// The error function.
    pub const ERF: Op = Op(32);
    /// `1 - erf(x)`, accurate for large x.
    pub const ERFC: Op = Op(33);
    pub const FLOOR: Op = Op(34);
    pub const CEIL: Op = Op(35);
    /// Round to nearest integer, ties to even.
    pub const ROUND: Op = Op(36);
    /// Round toward zero.
    pub const TRUNC: Op = Op(37);
    /// True where x is NaN.
    pub const ISNAN: Op = Op(38);
    /// True where x is +Inf or -Inf.
    pub const ISINF: Op = Op(39);
    /// Convert to the node's dtype: float→int rounds toward zero and
    /// saturates, NaN→0; int→float and wider→narrower float round to
    /// nearest even; x→bool is `x != 0` (NaN→true); bool→number is 0/1;
    /// i32↔u32 reinterpret the bits.
    pub const CAST: Op = Op(40);
    /// Reinterpret the bits as the node's dtype (same size: i32/u32/f32).
    pub const BITCAST: Op = Op(41);

    // ---- binary --------------------------------------------------------
    pub const ADD: Op = Op(50);
    pub const SUB: Op = Op(51);
    pub const MUL: Op = Op(52);
    /// Float division (IEEE).
    pub const DIV: Op = Op(53);
    /// Integer division, truncating toward zero. `x / 0` is -1 (all bits set,
    /// `u32::MAX` for u32) and `i32::MIN / -1` is `i32::MIN` (XLA's rules).
    pub const IDIV: Op = Op(54);
    /// Remainder with the sign of the dividend (C `fmod` / Rust `%`).
    /// Integers: `x % 0` is x, `i32::MIN % -1` is 0.
    pub const REM: Op = Op(55);
    /// Minimum. Floats: NaN if either is NaN, and `-0 < +0`
    /// (IEEE 754-2019 `minimum`, WebAssembly's `f32.min`). Bool: and.
    pub const MIN: Op = Op(56);
    /// Maximum; the mirror of [`Op::MIN`]. Bool: or.
    pub const MAX: Op = Op(57);
    /// `x^y` as C `pow` (so `pow(x, 0) = 1` even for NaN).
    pub const POW: Op = Op(58);
    /// `atan2(y, x)` with `args = [y, x]`, as C `atan2`.
    pub const ATAN2: Op = Op(59);
    /// Logical (bool) or bitwise (integer) and.
    pub const AND: Op = Op(60);
    pub const OR: Op = Op(61);
    pub const XOR: Op = Op(62);
    /// Shift left; a shift amount outside `0..32` gives 0.
    pub const SHL: Op = Op(63);
    /// Shift right: arithmetic on i32, logical on u32. A shift amount outside
    /// `0..32` gives 0, or -1 for a negative i32.
    pub const SHR: Op = Op(64);
    /// Comparisons return bool; IEEE rules (every comparison with NaN is
    /// false except `ne`, and `-0 == +0`).
    pub const LT: Op = Op(65);
    pub const LE: Op = Op(66);
    pub const GT: Op = Op(67);
    pub const GE: Op = Op(68);
    pub const EQ: Op = Op(69);
    pub const NE: Op = Op(70);

    // ---- ternary and wider --------------------------------------------
    /// `args[0] ? args[1] : args[2]`; the condition is bool.
    pub const SELECT: Op = Op(80);
    /// Threefry-2x32 (20 rounds, Random123) of key `(args[0], args[1])` and
    /// counter `(args[2], args[3])`, all u32; `imm` (0 or 1) picks which of
    /// the two output words this node is.
    pub const THREEFRY2X32: Op = Op(81);

    /// Looks the op up in [`OPS`].
    pub fn info(self) -> Option<&'static OpInfo> {
        OPS.iter().find(|i| i.op == self)
    }

    /// The op's name in IR text, or `op#N` for an op this version lacks.
    pub fn name(self) -> String {
        self.info()
            .map(|i| i.name.to_string())
            .unwrap_or_else(|| format!("op#{}", self.0))
    }

    /// Parses a name from [`OPS`].
    pub fn from_name(name: &str) -> Option<Op> {
        OPS.iter().find(|i| i.name == name).map(|i| i.op)
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Which dtypes an op accepts (a set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain(u8);

impl Domain {
    pub const BOOL: Domain = Domain(1);
    pub const INT: Domain = Domain(2);
    pub const FLOAT: Domain = Domain(4);
    pub const NUMERIC: Domain = Domain(2 | 4);
    pub const ANY: Domain = Domain(1 | 2 | 4);
    pub const LOGIC: Domain = Domain(1 | 2);
    /// u32 only (threefry).
    pub const U32: Domain = Domain(8);
    /// No operand (leaves).
    pub const NONE: Domain = Domain(0);

    pub fn contains(self, dtype: DType) -> bool {
        let bit = match dtype {
            DType::BOOL => 1,
            DType::U32 => 2 | 8,
            DType::I32 | DType::I8 | DType::U8 => 2,
            d if d.is_float() => 4,
            _ => 0,
        };
        self.0 & bit != 0
    }
}

/// The dtype of an op's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultType {
    /// The operands' dtype.
    Same,
    /// bool (comparisons, isnan, isinf).
    Bool,
    /// Chosen by the node (leaves, cast, bitcast).
    Node,
}

/// One row of the op table.
#[derive(Clone, Copy, Debug)]
pub struct OpInfo {
    pub op: Op,
    pub name: &'static str,
    /// Number of operand nodes in `args`.
    pub arity: usize,
    /// Dtypes accepted for the operands (for select: the value operands).
    pub domain: Domain,
    pub result: ResultType,
}

const fn row(
    op: Op,
    name: &'static str,
    arity: usize,
    domain: Domain,
    result: ResultType,
) -> OpInfo {
    OpInfo {
        op,
        name,
        arity,
        domain,
        result,
    }
}

use Domain as D;
use ResultType as R;

/// Every op of this ABI version.
pub const OPS: &[OpInfo] = &[
    row(Op::CONST, "const", 0, D::NONE, R::Node),
    row(Op::GIDX, "gidx", 0, D::NONE, R::Node),
    row(Op::RIDX, "ridx", 0, D::NONE, R::Node),
    row(Op::ACC, "acc", 0, D::NONE, R::Node),
    row(Op::LOAD, "load", 1, D::NONE, R::Node),
    row(Op::NEG, "neg", 1, D::NUMERIC, R::Same),
    row(Op::ABS, "abs", 1, D::NUMERIC, R::Same),
    row(Op::SIGN, "sign", 1, D::NUMERIC, R::Same),
    row(Op::NOT, "not", 1, D::LOGIC, R::Same),
    row(Op::SQRT, "sqrt", 1, D::FLOAT, R::Same),
    row(Op::RSQRT, "rsqrt", 1, D::FLOAT, R::Same),
    row(Op::RECIP, "recip", 1, D::FLOAT, R::Same),
    row(Op::EXP, "exp", 1, D::FLOAT, R::Same),
    row(Op::EXP2, "exp2", 1, D::FLOAT, R::Same),
    row(Op::LOG, "log", 1, D::FLOAT, R::Same),
    row(Op::LOG2, "log2", 1, D::FLOAT, R::Same),
    row(Op::LOG1P, "log1p", 1, D::FLOAT, R::Same),
    row(Op::EXPM1, "expm1", 1, D::FLOAT, R::Same),
    row(Op::SIN, "sin", 1, D::FLOAT, R::Same),
    row(Op::COS, "cos", 1, D::FLOAT, R::Same),
    row(Op::TAN, "tan", 1, D::FLOAT, R::Same),
    row(Op::ASIN, "asin", 1, D::FLOAT, R::Same),
    row(Op::ACOS, "acos", 1, D::FLOAT, R::Same),
    row(Op::ATAN, "atan", 1, D::FLOAT, R::Same),
    row(Op::SINH, "sinh", 1, D::FLOAT, R::Same),
    row(Op::COSH, "cosh", 1, D::FLOAT, R::Same),
    row(Op::TANH, "tanh", 1, D::FLOAT, R::Same),
    row(Op::ERF, "erf", 1, D::FLOAT, R::Same),
    row(Op::ERFC, "erfc", 1, D::FLOAT, R::Same),
    row(Op::FLOOR, "floor", 1, D::FLOAT, R::Same),
    row(Op::CEIL, "ceil", 1, D::FLOAT, R::Same),
    row(Op::ROUND, "round", 1, D::FLOAT, R::Same),
    row(Op::TRUNC, "trunc", 1, D::FLOAT, R::Same),
    row(Op::ISNAN, "isnan", 1, D::FLOAT, R::Bool),
    row(Op::ISINF, "isinf", 1, D::FLOAT, R::Bool),
    row(Op::CAST, "cast", 1, D::ANY, R::Node),
    row(Op::BITCAST, "bitcast", 1, D::NUMERIC, R::Node),
    row(Op::ADD, "add", 2, D::NUMERIC, R::Same),
    row(Op::SUB, "sub", 2, D::NUMERIC, R::Same),
    row(Op::MUL, "mul", 2, D::NUMERIC, R::Same),
    row(Op::DIV, "div", 2, D::FLOAT, R::Same),
    row(Op::IDIV, "idiv", 2, D::INT, R::Same),
    row(Op::REM, "rem", 2, D::NUMERIC, R::Same),
    row(Op::MIN, "min", 2, D::ANY, R::Same),
    row(Op::MAX, "max", 2, D::ANY, R::Same),
    row(Op::POW, "pow", 2, D::FLOAT, R::Same),
    row(Op::ATAN2, "atan2", 2, D::FLOAT, R::Same),
    row(Op::AND, "and", 2, D::LOGIC, R::Same),
    row(Op::OR, "or", 2, D::LOGIC, R::Same),
    row(Op::XOR, "xor", 2, D::LOGIC, R::Same),
    row(Op::SHL, "shl", 2, D::INT, R::Same),
    row(Op::SHR, "shr", 2, D::INT, R::Same),
    row(Op::LT, "lt", 2, D::ANY, R::Bool),
    row(Op::LE, "le", 2, D::ANY, R::Bool),
    row(Op::GT, "gt", 2, D::ANY, R::Bool),
    row(Op::GE, "ge", 2, D::ANY, R::Bool),
    row(Op::EQ, "eq", 2, D::ANY, R::Bool),
    row(Op::NE, "ne", 2, D::ANY, R::Bool),
    row(Op::SELECT, "select", 3, D::ANY, R::Same),
    row(Op::THREEFRY2X32, "threefry2x32", 4, D::U32, R::Node),
];

/// How a reduction combines values. Integer newtype for appendability.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReduceOp(pub u8);

impl ReduceOp {
    /// Sum; starts at 0. Not defined on bool.
    pub const ADD: ReduceOp = ReduceOp(0);
    /// Product; starts at 1. Not defined on bool.
    pub const MUL: ReduceOp = ReduceOp(1);
    /// Minimum with [`Op::MIN`]'s rules; starts at +Inf / the dtype's max / true.
    pub const MIN: ReduceOp = ReduceOp(2);
    /// Maximum with [`Op::MAX`]'s rules; starts at -Inf / the dtype's min / false.
    pub const MAX: ReduceOp = ReduceOp(3);

    pub const ALL: [ReduceOp; 4] = [ReduceOp::ADD, ReduceOp::MUL, ReduceOp::MIN, ReduceOp::MAX];

    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::ADD => "add",
            ReduceOp::MUL => "mul",
            ReduceOp::MIN => "min",
            ReduceOp::MAX => "max",
            _ => "unknown",
        }
    }

    /// The binary op that combines two partial results.
    pub fn combine_op(self) -> Op {
        match self {
            ReduceOp::ADD => Op::ADD,
            ReduceOp::MUL => Op::MUL,
            ReduceOp::MIN => Op::MIN,
            _ => Op::MAX,
        }
    }

    /// The identity element (the value of a reduction over zero elements).
    pub fn identity(self, dtype: DType) -> crate::Scalar {
        use crate::Scalar as S;
        let f = |v: f64| S::F64(v).cast(dtype);
        match (self, dtype) {
            (ReduceOp::ADD, d) => S::zero(d),
            (ReduceOp::MUL, _) => f(1.0),
            (ReduceOp::MIN, DType::BOOL) => S::Bool(true),
            (ReduceOp::MAX, DType::BOOL) => S::Bool(false),
            (ReduceOp::MIN, DType::I32) => S::I32(i32::MAX),
            (ReduceOp::MAX, DType::I32) => S::I32(i32::MIN),
            (ReduceOp::MIN, DType::U32) => S::U32(u32::MAX),
            (ReduceOp::MAX, DType::U32) => S::U32(0),
            (ReduceOp::MIN, _) => f(f64::INFINITY),
            (_, _) => f(f64::NEG_INFINITY),
        }
    }
}

impl fmt::Debug for ReduceOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
