//! Layer 2: eager ops through the public `oxjax` API. Each case builds the
//! same arrays on the backend under test and on the embedded reference
//! (through `with_default_device`, including views made by the API:
//! transposes and flips), applies one API function and compares shape,
//! dtype and values under the accuracy of the IR ops it lowers to.

use crate::judge::{Failure, Outcome, agree};
use crate::optable::{Accuracy, ValueDomain, float_accuracy};
use crate::values;
use crate::view;
use oxjax_abi::{DType, Op, Scalar, Semantics, bf16, f16};
use oxjax_core::{Array, Axes, Device};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

/// One API function under test.
#[derive(Clone, Copy)]
pub struct EagerOp {
    pub name: &'static str,
    pub arity: usize,
    pub dtypes: &'static [DType],
    /// Accuracy of float results.
    pub accuracy: Accuracy,
    pub domain: ValueDomain,
    /// Reduces over the axis chosen by the case (`None`: all axes).
    pub reduces: bool,
    pub f: fn(&[Array], Option<isize>) -> Array,
}

const FLOATS: &[DType] = &[DType::BF16, DType::F16, DType::F32, DType::F64];
const INTS: &[DType] = &[DType::I8, DType::U8, DType::I32, DType::U32];
const NUMERIC: &[DType] = &[
    DType::I8,
    DType::U8,
    DType::I32,
    DType::U32,
    DType::BF16,
    DType::F16,
    DType::F32,
    DType::F64,
];
const ALL: &[DType] = &DType::ALL;
const LOGIC: &[DType] = &[DType::BOOL, DType::I8, DType::U8, DType::I32, DType::U32];

fn axes(axis: Option<isize>) -> Axes {
    match axis {
        Some(a) => Axes::from(vec![a]),
        None => Axes::All,
    }
}

macro_rules! eager_ops {
    ($($name:literal $arity:literal $dtypes:ident $acc:expr, $domain:ident, $reduces:literal => |$a:ident, $ax:ident| $body:expr;)*) => {
        vec![$(EagerOp {
            name: $name,
            arity: $arity,
            dtypes: $dtypes,
            accuracy: $acc,
            domain: ValueDomain::$domain,
            reduces: $reduces,
            f: |$a: &[Array], $ax: Option<isize>| { let _ = $ax; $body },
        }),*]
    };
}

const EXACT: Accuracy = Accuracy::Exact;

/// The API functions the eager layer covers.
pub fn ops() -> &'static [EagerOp] {
    static OPS: LazyLock<Vec<EagerOp>> = LazyLock::new(|| {
        eager_ops! {
            "neg" 1 NUMERIC EXACT, Full, false => |a, ax| a[0].neg();
            "abs" 1 NUMERIC EXACT, Full, false => |a, ax| a[0].abs();
            "sign" 1 NUMERIC EXACT, Full, false => |a, ax| a[0].sign();
            "sqrt" 1 FLOATS EXACT, Full, false => |a, ax| a[0].sqrt();
            "exp" 1 FLOATS float_accuracy(Op::EXP), Full, false => |a, ax| a[0].exp();
            "log" 1 FLOATS float_accuracy(Op::LOG), Full, false => |a, ax| a[0].log();
            "sin" 1 FLOATS float_accuracy(Op::SIN), Full, false => |a, ax| a[0].sin();
            "tanh" 1 FLOATS float_accuracy(Op::TANH), Full, false => |a, ax| a[0].tanh();
            "floor" 1 FLOATS EXACT, Full, false => |a, ax| a[0].floor();
            "isnan" 1 FLOATS EXACT, Full, false => |a, ax| a[0].isnan();
            "astype_i32" 1 ALL EXACT, Full, false => |a, ax| a[0].astype(DType::I32);
            "astype_f32" 1 ALL EXACT, Full, false => |a, ax| a[0].astype(DType::F32);
            "add" 2 NUMERIC EXACT, Full, false => |a, ax| a[0].add(&a[1]);
            "subtract" 2 NUMERIC EXACT, Full, false => |a, ax| a[0].subtract(&a[1]);
            "multiply" 2 NUMERIC EXACT, Full, false => |a, ax| a[0].multiply(&a[1]);
            "divide" 2 FLOATS EXACT, Full, false => |a, ax| a[0].divide(&a[1]);
            "remainder" 2 NUMERIC EXACT, Full, false => |a, ax| a[0].remainder(&a[1]);
            "floor_divide" 2 NUMERIC EXACT, Full, false => |a, ax| a[0].floor_divide(&a[1]);
            "power" 2 FLOATS float_accuracy(Op::POW), Full, false => |a, ax| a[0].power(&a[1]);
            "maximum" 2 ALL EXACT, Full, false => |a, ax| a[0].maximum(&a[1]);
            "bitwise_xor" 2 LOGIC EXACT, Full, false => |a, ax| a[0].bitwise_xor(&a[1]);
            "right_shift" 2 INTS EXACT, Full, false => |a, ax| a[0].right_shift(&a[1]);
            "less" 2 ALL EXACT, Full, false => |a, ax| a[0].less(&a[1]);
            "where" 2 ALL EXACT, Full, false => |a, ax| Array::where_(&a[0].greater(&a[1]), &a[0], &a[1]);
            "sum" 1 NUMERIC Accuracy::Summation, Moderate, true => |a, ax| a[0].sum(axes(ax), false);
            "max" 1 ALL EXACT, Full, true => |a, ax| a[0].max(axes(ax), true);
            // Rows of one operand times rows of the other (an [m, m] result);
            // float operands meet the other's signs only, so the summation
            // bound (scaled by the inputs' absolute sum) holds whatever order
            // a backend accumulates in.
            "matmul" 2 NUMERIC Accuracy::Summation, Moderate, false => |a, ax| {
                let cols = a[0].shape().last().copied().unwrap_or(1).max(1) as isize;
                let y = if a[1].dtype().is_float() { a[1].sign() } else { a[1].clone() };
                a[0].reshape(&[-1, cols]).matmul(&y.reshape(&[-1, cols]).t())
            };
            "argmin" 1 NUMERIC EXACT, Full, true => |a, ax| a[0].argmin(ax);
            "movement" 1 ALL EXACT, Full, false => |a, ax| {
                let x = &a[0];
                let widths: Vec<(usize, usize)> = (0..x.ndim()).map(|d| (d % 2, 1)).collect();
                let flipped: Vec<isize> = (0..x.ndim() as isize).collect();
                x.pad(&widths, 0.0).flip(&flipped).t().reshape(&[-1])
            };
        }
    });
    &OPS
}

/// One input array: a base buffer, optionally seen transposed and flipped
/// (views made by the API).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EagerInput {
    pub shape: Vec<usize>,
    pub transposed: bool,
    pub flipped: bool,
    pub values: Vec<u64>,
}

/// One eager case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EagerCase {
    pub op: String,
    pub dtype: u8,
    pub inputs: Vec<EagerInput>,
    pub axis: Option<u8>,
    /// How the backend under test runs the op.
    #[serde(default)]
    pub mode: Mode,
}

/// How a case runs on the backend under test (the reference always runs
/// it eagerly, except for `Grad`, which it differentiates too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Layer 2: the op, eagerly.
    #[default]
    Eager,
    /// Layer 3: the op under `oxjax_core::jit` (traced, fused, compiled) on the
    /// backend vs eager on the reference.
    Jit,
    /// Layer 3: `grad(|xs| sum(op(xs)))` on the backend vs on the reference.
    Grad,
}

impl Mode {
    /// The prefix of the report's entry names.
    pub fn prefix(self) -> &'static str {
        match self {
            Mode::Eager => "eager",
            Mode::Jit => "jit",
            Mode::Grad => "grad",
        }
    }
}

/// The ops whose gradient the program layer checks (float dtypes).
pub const GRAD_OPS: &[&str] = &[
    "neg", "abs", "sqrt", "exp", "log", "sin", "tanh", "add", "subtract", "multiply", "divide",
    "power", "maximum", "where", "sum", "max", "movement",
];

impl EagerCase {
    pub fn dtypes(&self) -> Vec<DType> {
        vec![DType(self.dtype)]
    }
}

fn input(dtype: DType, shape: Vec<usize>, domain: ValueDomain) -> BoxedStrategy<EagerInput> {
    (any::<bool>(), any::<bool>())
        .prop_flat_map(move |(transposed, flipped)| {
            let n = shape.iter().product();
            let shape = shape.clone();
            values::values(dtype, domain, n).prop_map(move |values| EagerInput {
                shape: shape.clone(),
                transposed,
                flipped,
                values,
            })
        })
        .boxed()
}

/// Cases of `op` on `dtype`.
pub fn strategy(op: EagerOp, dtype: DType, mode: Mode) -> BoxedStrategy<EagerCase> {
    view::shape()
        .prop_flat_map(move |s| {
            (
                Just(s.clone()),
                view::partner(s),
                any::<bool>(),
                prop::option::of(0u8..4),
            )
        })
        .prop_flat_map(move |(a, b, swap, axis)| {
            let (a, b) = if swap { (b, a) } else { (a, b) };
            let mut ins = vec![input(dtype, a, op.domain)];
            if op.arity == 2 {
                ins.push(input(dtype, b, op.domain));
            }
            ins.prop_map(move |inputs| EagerCase {
                op: op.name.to_string(),
                dtype: dtype.0,
                inputs,
                axis: if op.reduces { axis } else { None },
                mode,
            })
        })
        .boxed()
}

fn array(dtype: DType, input: &EagerInput, device: &Device) -> oxjax_core::Result<Array> {
    let base: Vec<usize> = if input.transposed {
        input.shape.iter().rev().copied().collect()
    } else {
        input.shape.clone()
    };
    let s: Vec<Scalar> = input
        .values
        .iter()
        .map(|&b| Scalar::from_bits(dtype, b))
        .collect();
    macro_rules! make {
        ($t:ty, $v:ident) => {
            Array::try_from_slice(
                &s.iter()
                    .map(|x| match x {
                        Scalar::$v(v) => *v,
                        _ => unreachable!(),
                    })
                    .collect::<Vec<$t>>(),
                &base,
                device,
            )
        };
    }
    let a = match dtype {
        DType::BOOL => make!(bool, Bool),
        DType::I32 => make!(i32, I32),
        DType::U32 => make!(u32, U32),
        DType::F16 => make!(f16, F16),
        DType::BF16 => make!(bf16, BF16),
        DType::I8 => make!(i8, I8),
        DType::U8 => make!(u8, U8),
        DType::F32 => make!(f32, F32),
        _ => make!(f64, F64),
    }?;
    let a = if input.transposed { a.t() } else { a };
    Ok(if input.flipped {
        let axes: Vec<isize> = (0..a.ndim() as isize).collect();
        a.flip(&axes)
    } else {
        a
    })
}

/// Shape, dtype and values of `op` applied on `device`, or the error text.
fn evaluate(
    op: &EagerOp,
    case: &EagerCase,
    device: &Device,
    mode: Mode,
) -> Result<(Vec<usize>, DType, Vec<Scalar>), String> {
    let dtype = DType(case.dtype);
    quiet_panics();
    let _quiet = Quiet::new();
    catch_unwind(AssertUnwindSafe(|| {
        oxjax_core::with_default_device(device, || {
            let arrays = case
                .inputs
                .iter()
                .map(|i| array(dtype, i, device))
                .collect::<oxjax_core::Result<Vec<Array>>>()
                .map_err(|e| e.to_string())?;
            let rank = arrays[0].ndim();
            let axis = case
                .axis
                .filter(|_| rank > 0)
                .map(|a| (a as usize % rank) as isize);
            let f = op.f;
            let r = match mode {
                Mode::Eager => f(&arrays, axis),
                Mode::Jit => oxjax_core::jit(move |xs: &Vec<Array>| f(xs, axis))(&arrays),
                Mode::Grad => {
                    let g =
                        oxjax_core::grad(move |xs: &Vec<Array>| f(xs, axis).sum(Axes::All, false))(
                            &arrays,
                        );
                    let flat: Vec<Array> = g.iter().map(|a| a.reshape(&[-1])).collect();
                    Array::concatenate(&flat.iter().collect::<Vec<_>>(), 0)
                }
            };
            let v = r.try_scalars().map_err(|e| e.to_string())?;
            Ok((r.shape().to_vec(), r.dtype(), v))
        })
    }))
    .unwrap_or_else(|p| {
        Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into()))
    })
}

/// Runs one eager case on both devices and compares.
pub fn check(dut: &Device, oracle: &Device, case: &EagerCase) -> Result<Outcome, Failure> {
    let op = ops()
        .iter()
        .find(|o| o.name == case.op)
        .unwrap_or_else(|| panic!("unknown eager op {}", case.op));
    let dtype = DType(case.dtype);
    // The reference runs jit cases eagerly (an independent path), and
    // differentiates grad cases too.
    let oracle_mode = if case.mode == Mode::Grad {
        Mode::Grad
    } else {
        Mode::Eager
    };
    let accuracy = match (case.mode, op.accuracy) {
        // A derivative such as 1 - tanh(x)^2 cancels: up to 16 eps
        // absolute per unit of the largest input.
        (Mode::Grad, Accuracy::Ulp { ulp, arg_eps }) => Accuracy::Ulp {
            ulp: 2 * ulp + 4,
            arg_eps: arg_eps.max(1.0) * 16.0,
        },
        // A gradient sums over broadcast axes, and float sums may be
        // reassociated (the accuracy contract): judge it as a summation.
        (Mode::Grad, Accuracy::Exact) => Accuracy::Summation,
        (_, a) => a,
    };
    let shown: Vec<String> = case
        .inputs
        .iter()
        .map(|i| {
            let v: Vec<Scalar> = i
                .values
                .iter()
                .map(|&b| Scalar::from_bits(dtype, b))
                .collect();
            format!(
                "{dtype}{:?}{}{} {}",
                i.shape,
                if i.transposed {
                    " (transposed view)"
                } else {
                    ""
                },
                if i.flipped { " (flipped view)" } else { "" },
                values::show(&v, 48)
            )
        })
        .collect();
    let fail = |summary: String, expected: Vec<String>, found: Vec<String>| Failure {
        summary,
        kernel: format!(
            "program: {}(inputs){}",
            match case.mode {
                Mode::Eager => case.op.clone(),
                Mode::Jit => format!("jit({})", case.op),
                Mode::Grad => format!("grad(sum({}))", case.op),
            },
            case.axis
                .map(|a| format!(" axis choice {a}"))
                .unwrap_or_default()
        ),
        inputs: shown.clone(),
        expected,
        found,
        tolerance: accuracy.to_string(),
        details: String::new(),
        seed: 0,
        replay: String::new(),
        saved: None,
    };
    let show =
        |s: &[usize], d: DType, v: &[Scalar]| vec![format!("{d}{s:?} {}", values::show(v, 48))];
    let (ws, wd, wv) = match evaluate(op, case, oracle, oracle_mode) {
        Ok(w) => w,
        // The API refuses these inputs (an empty max, say): the backend must
        // refuse them the same way.
        Err(want) => {
            return match evaluate(op, case, dut, case.mode) {
                Err(got) if got == want => Ok(Outcome::default()),
                Err(got) => Err(fail(
                    format!("backend error: {got}; the reference refused with: {want}"),
                    vec![],
                    vec![],
                )),
                Ok((gs, gd, gv)) => Err(fail(
                    format!("the reference refused with: {want}; the backend returned a result"),
                    vec![],
                    show(&gs, gd, &gv),
                )),
            };
        }
    };
    let (gs, gd, gv) = match evaluate(op, case, dut, case.mode) {
        Ok(g) => g,
        // The core refused to send a kernel outside the capabilities.
        Err(e) if e.contains("cannot run this kernel") => {
            return Ok(Outcome {
                unsupported: true,
                ..Outcome::default()
            });
        }
        Err(e) => {
            return Err(fail(
                format!("backend error: {e}"),
                show(&ws, wd, &wv),
                vec![],
            ));
        }
    };
    if gs != ws || gd != wd {
        return Err(fail(
            format!("result is {gd}{gs:?}, reference {wd}{ws:?}"),
            show(&ws, wd, &wv),
            show(&gs, gd, &gv),
        ));
    }
    let all: Vec<f64> = case
        .inputs
        .iter()
        .flat_map(|i| {
            i.values
                .iter()
                .map(|&b| Scalar::from_bits(dtype, b).as_f64())
        })
        .collect();
    // Over the finite inputs: a NaN elsewhere in the case (in another
    // output's reduction) must not make every tolerance NaN.
    let abs_sum: f64 = all.iter().filter(|x| x.is_finite()).map(|x| x.abs()).sum();
    // The argument scale of sin/cos/tan's range reduction: the largest
    // finite input (an element's own argument is not tracked through the
    // API's views; the kernel layer judges each element by its own).
    let largest = all
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    let scale = |acc: Accuracy| match (acc, case.mode) {
        (Accuracy::Summation, _) => abs_sum,
        (_, Mode::Grad) => largest.max(1.0),
        _ => largest,
    };
    let nonfinite_input = all.iter().any(|x| !x.is_finite());
    let sem = dut.info().caps.semantics;
    let widen = sem.has(Semantics::NONFINITE_UNDEFINED);
    let flush = sem.has(Semantics::SUBNORMALS_FLUSHED);
    let tiny = |v: f64, d: DType| v.abs() < crate::optable::min_normal(d);
    let subnormal_input = all.iter().any(|&x| x != 0.0 && tiny(x, dtype));
    let n = all.len();
    let mut outcome = Outcome::default();
    for (i, (&w, &g)) in wv.iter().zip(&gv).enumerate() {
        let acc = if wd.is_float() {
            accuracy
        } else {
            Accuracy::Exact
        };
        if agree(wd, w, g, acc, n, scale(acc)) {
            continue;
        }
        if widen && (nonfinite_input || !w.as_f64().is_finite()) {
            outcome.widened += 1;
            continue;
        }
        // A flushing backend: the element met a subnormal (an input, or a
        // result both sides computed below the normal range).
        if flush
            && (subnormal_input || (wd.is_float() && tiny(w.as_f64(), wd) && tiny(g.as_f64(), wd)))
        {
            outcome.widened += 1;
            continue;
        }
        return Err(fail(
            format!("element {i}: reference {w}, backend {g} ({wd})"),
            show(&ws, wd, &wv),
            show(&gs, gd, &gv),
        ));
    }
    Ok(outcome)
}

thread_local! {
    static QUIET: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Silences the panic message of the expected panics (API misuse caught
/// while evaluating a case) on this thread while alive.
struct Quiet;

impl Quiet {
    fn new() -> Quiet {
        QUIET.with(|q| q.set(q.get() + 1));
        Quiet
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(q.get() - 1));
    }
}

/// Installs (once) a panic hook that stays silent on threads inside a
/// [`Quiet`] scope and defers to the previous hook everywhere else.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) == 0 {
                previous(info);
            }
        }));
    });
}
