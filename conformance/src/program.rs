//! Layer 3 — programs through the transformations.
//!
//! Per op (cases of [`crate::eager`] with a [`crate::eager::Mode`]):
//!
//! - `jit:<op>`: the op under `oxjax_core::jit` (traced to a jaxpr, fused,
//!   compiled) on the backend under test vs eagerly on the reference;
//! - `grad:<op>`: `grad(|xs| sum(op(xs)))` on the backend vs on the
//!   reference (float dtypes, the differentiable ops of
//!   [`crate::eager::GRAD_OPS`]), with the op's ULP budget widened for the
//!   derivative's extra operations.
//!
//! Random programs ([`ProgCase`]: a chain of API calls on `x` and `y`,
//! mixing elementwise ops, a reduction broadcast back, movement and one
//! control-flow op, `cond`), three ways:
//!
//! - `program:jit`: `jit(f)` on the backend vs `f` eagerly on the
//!   reference; a failure prints the program's jaxpr (`make_jaxpr`);
//! - `program:grad_fd`: `grad(sum(f))` vs central finite differences, in
//!   f64 on the reference (it certifies the host's derivative rules that
//!   every backend relies on);
//! - `program:vmap`: `vmap(f)` over a batch axis on the backend vs a loop
//!   of `f` over the batch on the backend.
//!
//! Composite programs are judged by a relative bound (`|g - w| <= tol (1 +
//! |w|)`): each step may be a few ULP off and steps compound.

use crate::judge::{Failure, Outcome};
use crate::values;
use oxjax_abi::{DType, Scalar};
use oxjax_core::{Array, Axes, Device};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The program-level checks that run (see the module docs).
pub const PROGRAM_CHECKS: &[&str] = &[
    "jit",
    "grad",
    "program:jit",
    "program:grad_fd",
    "program:vmap",
];

/// How a random program is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgMode {
    Jit,
    GradFd,
    Vmap,
}

impl ProgMode {
    pub const ALL: [ProgMode; 3] = [ProgMode::Jit, ProgMode::GradFd, ProgMode::Vmap];

    /// The entry name in the report.
    pub fn name(self) -> &'static str {
        match self {
            ProgMode::Jit => "program:jit",
            ProgMode::GradFd => "program:grad_fd",
            ProgMode::Vmap => "program:vmap",
        }
    }

    /// The dtype the program runs in.
    pub fn dtype(self) -> DType {
        match self {
            ProgMode::GradFd => DType::F64,
            _ => DType::F32,
        }
    }

    /// The relative bound outputs are judged by.
    fn tolerance(self) -> f64 {
        match self {
            ProgMode::GradFd => 1e-5,
            _ => 1e-4,
        }
    }
}

/// A random program `f(x, y)` on `[rows, cols]` arrays, with `batch`
/// slices of inputs (vmap maps over them; the other modes use slice 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgCase {
    pub mode: ProgMode,
    pub steps: Vec<u8>,
    pub batch: usize,
    pub rows: usize,
    pub cols: usize,
    /// `batch * rows * cols` f32 values each, as bits.
    pub x: Vec<u64>,
    pub y: Vec<u64>,
}

/// What each step does to the running value `v` (`y` is the second input).
const STEPS: &[&str] = &[
    "v = sin(v)",
    "v = tanh(v)",
    "v = v * y",
    "v = v + y",
    "v = v + sum(v, axis=1, keepdims)",
    "v = reshape(flip(reshape(v, [-1]), 0), v.shape)",
    "v = maximum(v, y)",
    "v = cond(sum(v) > 0, 0.5 * v, sin(v))",
    "v = exp(tanh(v))",
];

/// Applies the program to `x` and `y`.
pub fn apply(steps: &[u8], x: &Array, y: &Array) -> Array {
    let mut v = x.clone();
    for &s in steps {
        v = match s as usize % STEPS.len() {
            0 => v.sin(),
            1 => v.tanh(),
            2 => v.multiply(y),
            3 => v.add(y),
            4 => v.add(v.sum(Axes::from(vec![1]), true)),
            5 => {
                let shape: Vec<isize> = v.shape().iter().map(|&d| d as isize).collect();
                v.reshape(&[-1]).flip(&[0]).reshape(&shape)
            }
            6 => v.maximum(y),
            7 => {
                let p = v.sum(Axes::All, false).greater(0.0);
                oxjax_core::control::cond(&p, |v: &Array| v.multiply(0.5), |v: &Array| v.sin(), &v)
            }
            _ => v.tanh().exp(),
        };
    }
    v
}

/// The program as text, one step a line.
pub fn describe(c: &ProgCase) -> String {
    let lines: Vec<&str> = c
        .steps
        .iter()
        .map(|&s| STEPS[s as usize % STEPS.len()])
        .collect();
    format!("f(x, y): v = x; {}; return v", lines.join("; "))
}

/// Cases of `mode`.
pub fn strategy(mode: ProgMode) -> BoxedStrategy<ProgCase> {
    let batch = if mode == ProgMode::Vmap {
        1..4usize
    } else {
        1..2
    };
    (
        prop::collection::vec(0u8..STEPS.len() as u8, 1..7),
        batch,
        1..4usize,
        1..6usize,
    )
        .prop_flat_map(move |(steps, batch, rows, cols)| {
            let n = batch * rows * cols;
            let v =
                || prop::collection::vec((-2.0f32..2.0).prop_map(|x| Scalar::F32(x).to_bits()), n);
            (v(), v()).prop_map(move |(x, y)| ProgCase {
                mode,
                steps: steps.clone(),
                batch,
                rows,
                cols,
                x,
                y,
            })
        })
        .boxed()
}

impl ProgCase {
    /// Slice `b` of an input as `dtype` values.
    fn slice(&self, values: &[u64], b: usize, dtype: DType) -> Vec<f64> {
        let n = self.rows * self.cols;
        values[b * n..(b + 1) * n]
            .iter()
            .map(|&v| Scalar::from_bits(DType::F32, v).cast(dtype).as_f64())
            .collect()
    }
}

/// An array of `dtype` on `device` from f64 values.
fn array(
    values: &[f64],
    shape: &[usize],
    dtype: DType,
    device: &Device,
) -> oxjax_core::Result<Array> {
    if dtype == DType::F64 {
        Array::try_from_slice(values, shape, device)
    } else {
        let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        Array::try_from_slice(&v, shape, device)
    }
}

fn floats(a: &Array) -> Result<Vec<f64>, String> {
    Ok(a.try_scalars()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|s| s.as_f64())
        .collect())
}

/// Runs `f` with panics turned into errors.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into()))
    })
}

/// `f` of slice `b` on `device`, eagerly or jitted.
fn run_f(c: &ProgCase, b: usize, device: &Device, jit: bool) -> Result<Vec<f64>, String> {
    let d = c.mode.dtype();
    let shape = [c.rows, c.cols];
    guarded(|| {
        oxjax_core::with_default_device(device, || {
            let x = array(&c.slice(&c.x, b, d), &shape, d, device).map_err(|e| e.to_string())?;
            let y = array(&c.slice(&c.y, b, d), &shape, d, device).map_err(|e| e.to_string())?;
            let steps = c.steps.clone();
            let r = if jit {
                oxjax_core::jit(move |xs: &Vec<Array>| apply(&steps, &xs[0], &xs[1]))(&vec![x, y])
            } else {
                apply(&steps, &x, &y)
            };
            floats(&r)
        })
    })
}

/// The jaxpr of the program (for a failure report).
fn jaxpr(c: &ProgCase) -> String {
    let shape = [c.rows, c.cols];
    let d = c.mode.dtype();
    let steps = c.steps.clone();
    guarded(|| {
        let x = Array::zeros(&shape, d);
        let text =
            oxjax_core::make_jaxpr(move |xs: &Vec<Array>| apply(&steps, &xs[0], &xs[1]))(&vec![
                x.clone(),
                x,
            ])
            .to_string();
        Ok(text)
    })
    .unwrap_or_else(|e| format!("(make_jaxpr failed: {e})"))
}

/// Checks one random program.
pub fn check(dut: &Device, oracle: &Device, c: &ProgCase) -> Result<Outcome, Failure> {
    let tol = c.mode.tolerance();
    let fail = |summary: String, expected: Vec<f64>, found: Vec<f64>| {
        let show = |v: &[f64]| {
            let s: Vec<Scalar> = v.iter().map(|&x| Scalar::F64(x)).collect();
            vec![values::show(&s, 64)]
        };
        let input = |name: &str, v: &[u64]| {
            let s: Vec<Scalar> = v
                .iter()
                .map(|&b| Scalar::from_bits(DType::F32, b))
                .collect();
            format!(
                "{name}: f32[{}, {}, {}] {}",
                c.batch,
                c.rows,
                c.cols,
                values::show(&s, 64)
            )
        };
        Failure {
            summary,
            kernel: format!("{}\njaxpr:\n{}", describe(c), jaxpr(c)),
            inputs: vec![input("x", &c.x), input("y", &c.y)],
            expected: show(&expected),
            found: show(&found),
            tolerance: format!("|got - want| <= {tol:e} (1 + |want|)"),
            details: format!("{} ({})", c.mode.name(), c.mode.dtype()),
            seed: 0,
            replay: String::new(),
            saved: None,
        }
    };
    let (want, got, what) = match c.mode {
        ProgMode::Jit => {
            let w = run_f(c, 0, oracle, false).map_err(|e| {
                fail(
                    format!("the oracle failed (a bug in conformance): {e}"),
                    vec![],
                    vec![],
                )
            })?;
            let g = run_f(c, 0, dut, true)
                .map_err(|e| fail(format!("backend error: {e}"), w.clone(), vec![]))?;
            (w, g, "jit(f) on the backend vs f on the reference")
        }
        ProgMode::Vmap => {
            let mut w = Vec::new();
            for b in 0..c.batch {
                w.extend(
                    run_f(c, b, dut, false)
                        .map_err(|e| fail(format!("backend error: {e}"), vec![], vec![]))?,
                );
            }
            let g = vmapped(c, dut)
                .map_err(|e| fail(format!("backend error under vmap: {e}"), w.clone(), vec![]))?;
            (w, g, "vmap(f) vs a loop of f, both on the backend")
        }
        ProgMode::GradFd => {
            let (g, w) = grad_and_fd(c, oracle).map_err(|e| {
                fail(
                    format!("the oracle failed (a bug in conformance): {e}"),
                    vec![],
                    vec![],
                )
            })?;
            (
                w,
                g,
                "grad(sum(f)) vs central differences, f64 on the reference",
            )
        }
    };
    if want.len() != got.len() {
        return Err(fail(
            format!("{what}: {} values, expected {}", got.len(), want.len()),
            want,
            got,
        ));
    }
    for (i, (&w, &g)) in want.iter().zip(&got).enumerate() {
        let ok = (w.is_nan() && g.is_nan()) || w == g || (w - g).abs() <= tol * (1.0 + w.abs());
        if !ok {
            return Err(fail(
                format!("{what}: element {i}: want {w}, got {g}"),
                want,
                got,
            ));
        }
    }
    Ok(Outcome::default())
}

/// `vmap(f)` over all slices on `device`, flattened.
fn vmapped(c: &ProgCase, device: &Device) -> Result<Vec<f64>, String> {
    let d = c.mode.dtype();
    let shape = [c.batch, c.rows, c.cols];
    let all = |v: &[u64]| -> Vec<f64> { (0..c.batch).flat_map(|b| c.slice(v, b, d)).collect() };
    guarded(|| {
        oxjax_core::with_default_device(device, || {
            let x = array(&all(&c.x), &shape, d, device).map_err(|e| e.to_string())?;
            let y = array(&all(&c.y), &shape, d, device).map_err(|e| e.to_string())?;
            let steps = c.steps.clone();
            let r =
                oxjax_core::vmap(move |xs: &Vec<Array>| apply(&steps, &xs[0], &xs[1]))(&vec![x, y]);
            floats(&r)
        })
    })
}

/// `grad(sum(f))` with respect to `x` and its central differences, in f64
/// on `device`.
fn grad_and_fd(c: &ProgCase, device: &Device) -> Result<(Vec<f64>, Vec<f64>), String> {
    let shape = [c.rows, c.cols];
    let d = DType::F64;
    let x0 = c.slice(&c.x, 0, d);
    let y0 = c.slice(&c.y, 0, d);
    guarded(|| {
        oxjax_core::with_default_device(device, || {
            let y = array(&y0, &shape, d, device).map_err(|e| e.to_string())?;
            let total = |x: &[f64]| -> Result<f64, String> {
                let xa = array(x, &shape, d, device).map_err(|e| e.to_string())?;
                let v = floats(&apply(&c.steps, &xa, &y).sum(Axes::All, false))?;
                Ok(v[0])
            };
            let x = array(&x0, &shape, d, device).map_err(|e| e.to_string())?;
            let steps = c.steps.clone();
            let y2 = y.clone();
            let g =
                oxjax_core::grad(move |x: &Array| apply(&steps, x, &y2).sum(Axes::All, false))(&x);
            let g = floats(&g)?;
            let mut fd = Vec::with_capacity(x0.len());
            for i in 0..x0.len() {
                let h = 1e-6 * x0[i].abs().max(1.0);
                let (mut up, mut down) = (x0.clone(), x0.clone());
                up[i] += h;
                down[i] -= h;
                fd.push((total(&up)? - total(&down)?) / (2.0 * h));
            }
            Ok((g, fd))
        })
    })
}
