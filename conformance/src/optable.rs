//! The op table as data: for every op of the kernel IR (and every
//! reduction), the dtypes it is tested on, the values it is fed and the
//! accuracy a backend must reach against the reference.
//!
//! Integer and bool results are always judged exactly. Float results are
//! judged by the op's [`Accuracy`]: IEEE's correctly rounded operations
//! (`add`, `div`, `sqrt`, ...) and every exact operation (`floor`, `min`,
//! comparisons, casts) must agree bit for bit (NaNs of any payload are
//! equal); transcendentals get a few ULP; float sums and products are
//! judged by a bound that grows with the reduction's length, so a backend
//! may reorder them.

use oxjax_abi::{DType, OPS, Op, ReduceOp};
use serde::Serialize;
use std::fmt;

/// How close a float result must be to the reference's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Accuracy {
    /// Bit for bit (any NaN equals any NaN; `-0` differs from `+0`).
    Exact,
    /// At most `ulp` units in the last place of the result dtype apart
    /// (counted along the bit-ordered line, so subnormal results are judged
    /// in steps of the smallest subnormal and a naive formula that loses
    /// relative accuracy near 0 fails), or at most `arg_eps · eps · |x|`
    /// apart, `x` the op's first argument: a range reduction of `sin`,
    /// `cos` and `tan` loses absolute accuracy in proportion to the
    /// argument, which matters only near their zero crossings away from 0.
    /// Zero results keep their sign (`-0` differs from `+0`); infinities
    /// and NaN must match.
    Ulp { ulp: u32, arg_eps: f64 },
    /// At most this far apart in absolute value.
    Abs(f64),
    /// A reduction `add` over `n` values: `|got - want| <= 2 (n + 1) eps sum|x|`
    /// plus one ULP, whatever order the backend sums in.
    Summation,
    /// A reduction `mul` over `n` values: at most `2 (n + 1)` ULP apart (or
    /// both below `(n + 1)` times the smallest normal).
    Product,
}

impl fmt::Display for Accuracy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Accuracy::Exact => write!(f, "exact"),
            Accuracy::Ulp { ulp, arg_eps } if *arg_eps > 0.0 => {
                write!(
                    f,
                    "{ulp} ulp or {arg_eps}·eps·|x| absolute, signed zeros kept"
                )
            }
            Accuracy::Ulp { ulp, .. } => write!(f, "{ulp} ulp, signed zeros kept"),
            Accuracy::Abs(e) => write!(f, "absolute {e:e}"),
            Accuracy::Summation => write!(f, "2(n+1)·eps·sum|x| (reordering allowed)"),
            Accuracy::Product => write!(f, "2(n+1) ulp (reordering allowed)"),
        }
    }
}

/// Which values an entry's inputs are drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ValueDomain {
    /// Everything: ordinary ranges, ±0, ±Inf, NaN, subnormals, the dtype's
    /// extremes, integer MIN and -1.
    Full,
    /// As `Full` without the extremes (float magnitudes stay below 2^8), so
    /// reordered float sums and products cannot overflow differently.
    Moderate,
}

/// What an entry tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// One ALU op applied to loads through random views.
    Elementwise(Op),
    /// One reduction over loads through random views.
    Reduce(ReduceOp),
}

/// One row of the op table.
#[derive(Clone, Copy, Debug)]
pub struct OpEntry {
    /// The name in the report (`sin`, `reduce_add`).
    pub name: &'static str,
    pub kind: EntryKind,
    /// Accuracy of float results (integer and bool results are exact).
    pub float_accuracy: Accuracy,
    pub domain: ValueDomain,
}

impl OpEntry {
    /// The operand dtypes this entry is defined on (from `oxjax_abi::OPS`).
    pub fn dtypes(&self) -> Vec<DType> {
        match self.kind {
            EntryKind::Elementwise(op) => {
                let info = op.info().expect("op in OPS");
                DType::ALL
                    .into_iter()
                    .filter(|&d| match op {
                        // Bitcast needs a same-size partner other than bool.
                        Op::BITCAST => d != DType::BOOL,
                        _ => info.domain.contains(d),
                    })
                    .collect()
            }
            EntryKind::Reduce(r) => DType::ALL
                .into_iter()
                .filter(|&d| d != DType::BOOL || matches!(r, ReduceOp::MIN | ReduceOp::MAX))
                .collect(),
        }
    }

    /// The accuracy a result of `dtype` is judged by.
    pub fn accuracy(&self, dtype: DType) -> Accuracy {
        if dtype.is_float() {
            self.float_accuracy
        } else {
            Accuracy::Exact
        }
    }

    /// The ops a kernel of this entry uses (for capability checks).
    pub fn op(&self) -> Option<Op> {
        match self.kind {
            EntryKind::Elementwise(op) => Some(op),
            EntryKind::Reduce(_) => None,
        }
    }
}

/// The accuracy class of an ALU op on floats.
pub fn float_accuracy(op: Op) -> Accuracy {
    let ulp = |ulp, arg_eps| Accuracy::Ulp { ulp, arg_eps };
    match op {
        Op::RSQRT => ulp(2, 0.0),
        Op::EXP | Op::EXP2 | Op::EXPM1 | Op::LOG | Op::LOG2 | Op::LOG1P => ulp(4, 0.0),
        // Range reduction: absolute error in proportion to the argument.
        Op::SIN | Op::COS => ulp(4, 2.0),
        Op::TAN => ulp(8, 2.0),
        // Relative accuracy down to 0 (x·p(x²) forms, or expm1 for sinh).
        Op::SINH | Op::COSH | Op::TANH | Op::ERF => ulp(4, 0.0),
        Op::ASIN | Op::ACOS | Op::ATAN | Op::ATAN2 => ulp(4, 0.0),
        Op::ERFC | Op::POW => ulp(8, 0.0),
        // Everything else is exact or correctly rounded (IEEE basic ops,
        // rounding, comparisons, min/max, casts, select, bit ops).
        _ => Accuracy::Exact,
    }
}

/// True for the leaves, which are not tested on their own (every case
/// uses them).
fn is_leaf(op: Op) -> bool {
    matches!(op, Op::CONST | Op::GIDX | Op::RIDX | Op::ACC | Op::LOAD)
}

/// The whole table: every non-leaf op of `OPS`, then the four reductions.
pub fn table() -> Vec<OpEntry> {
    let mut rows: Vec<OpEntry> = OPS
        .iter()
        .filter(|i| !is_leaf(i.op))
        .map(|i| OpEntry {
            name: i.name,
            kind: EntryKind::Elementwise(i.op),
            float_accuracy: float_accuracy(i.op),
            domain: ValueDomain::Full,
        })
        .collect();
    for (name, r, acc, domain) in [
        (
            "reduce_add",
            ReduceOp::ADD,
            Accuracy::Summation,
            ValueDomain::Moderate,
        ),
        (
            "reduce_mul",
            ReduceOp::MUL,
            Accuracy::Product,
            ValueDomain::Moderate,
        ),
        (
            "reduce_min",
            ReduceOp::MIN,
            Accuracy::Exact,
            ValueDomain::Full,
        ),
        (
            "reduce_max",
            ReduceOp::MAX,
            Accuracy::Exact,
            ValueDomain::Full,
        ),
    ] {
        rows.push(OpEntry {
            name,
            kind: EntryKind::Reduce(r),
            float_accuracy: acc,
            domain,
        });
    }
    rows
}

/// The entry called `name`.
pub fn entry(name: &str) -> Option<OpEntry> {
    table().into_iter().find(|e| e.name == name)
}

/// Machine epsilon of a float dtype (1 for the others).
pub fn epsilon(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => f64::powi(2.0, -10),
        DType::BF16 => f64::powi(2.0, -7),
        DType::F32 => f64::from(f32::EPSILON),
        DType::F64 => f64::EPSILON,
        _ => 1.0,
    }
}

/// Largest finite value of a float dtype.
pub fn max_finite(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 65504.0,
        DType::BF16 => oxjax_abi::bf16::MAX.to_f64(),
        DType::F32 => f64::from(f32::MAX),
        _ => f64::MAX,
    }
}

/// Smallest positive normal value of a float dtype.
pub fn min_normal(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => f64::powi(2.0, -14),
        DType::BF16 | DType::F32 => f64::from(f32::MIN_POSITIVE),
        _ => f64::MIN_POSITIVE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_non_leaf_op_has_a_row_with_dtypes() {
        let t = table();
        for info in OPS.iter().filter(|i| !is_leaf(i.op)) {
            let row = t.iter().find(|e| e.name == info.name).unwrap();
            assert!(!row.dtypes().is_empty(), "{}", info.name);
        }
        assert_eq!(
            entry("sin").unwrap().dtypes(),
            vec![DType::BF16, DType::F16, DType::F32, DType::F64]
        );
        assert_eq!(entry("reduce_add").unwrap().dtypes().len(), 8);
        assert_eq!(entry("shr").unwrap().accuracy(DType::I32), Accuracy::Exact);
    }
}
