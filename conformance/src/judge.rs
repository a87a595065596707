//! Running one kernel on the backend under test and on the oracle, and
//! judging the outputs element by element under an accuracy class, widened
//! where the backend declares weaker semantics.

use crate::optable::{Accuracy, epsilon, max_finite, min_normal};
use crate::values;
use oxjax_abi::{DType, Kernel, NO_ARG, Node, Op, Phase, ReduceOp, Reduction, Scalar, Semantics};
use oxjax_core::Device;
use serde::Serialize;

/// Why a case failed: everything needed to understand and replay it.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Failure {
    /// What went wrong, in one line.
    pub summary: String,
    /// The kernel's IR text.
    pub kernel: String,
    /// Each input buffer: dtype, and values.
    pub inputs: Vec<String>,
    /// The oracle's and the backend's outputs (empty on a backend error).
    pub expected: Vec<String>,
    pub found: Vec<String>,
    pub tolerance: String,
    /// Extra description of the case (shapes, view chains).
    pub details: String,
    /// Seed and replay command, filled in by the runner.
    pub seed: u64,
    pub replay: String,
    /// The regression file it was saved to, if any.
    pub saved: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.summary)?;
        if !self.details.is_empty() {
            writeln!(f, "case: {}", self.details)?;
        }
        writeln!(f, "{}", self.kernel)?;
        for (i, v) in self.inputs.iter().enumerate() {
            writeln!(f, "  in{i}: {v}")?;
        }
        for (k, (e, g)) in self.expected.iter().zip(&self.found).enumerate() {
            writeln!(f, "  out{k} reference: {e}")?;
            writeln!(f, "  out{k} backend:   {g}")?;
        }
        writeln!(f, "  tolerance: {}", self.tolerance)?;
        write!(f, "  seed: {}", self.seed)?;
        if !self.replay.is_empty() {
            write!(f, "\n  replay: {}", self.replay)?;
        }
        if let Some(s) = &self.saved {
            write!(f, "\n  saved: {s}")?;
        }
        Ok(())
    }
}

/// What a passing case reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// Elements that differed but were accepted because the backend
    /// declares non-finite values (or subnormals) undefined.
    pub widened: u64,
    /// The case could not run because the backend lacks an op or dtype it
    /// needed (counted, not judged).
    pub unsupported: bool,
}

/// Judges one element: `n` is the reduction length and `scale` the
/// oracle's `sum |x|` in f64 (for [`Accuracy::Summation`]) or the op's
/// first argument `|x|` (for [`Accuracy::Ulp`] with an `arg_eps`).
pub fn agree(dtype: DType, want: Scalar, got: Scalar, acc: Accuracy, n: usize, scale: f64) -> bool {
    if want.to_bits() == got.to_bits() {
        return true;
    }
    if !dtype.is_float() {
        return false;
    }
    let (w, g) = (want.as_f64(), got.as_f64());
    if w.is_nan() || g.is_nan() {
        return w.is_nan() && g.is_nan();
    }
    let eps = epsilon(dtype);
    match acc {
        Accuracy::Exact => false,
        _ if w.is_infinite() || g.is_infinite() => {
            // Order-dependent overflow is possible only beyond the range.
            acc == Accuracy::Summation && scale > max_finite(dtype) && w.signum() == g.signum()
        }
        // The docs promise signed zeros: an exact zero keeps its sign.
        Accuracy::Ulp { .. } if w == 0.0 && g == 0.0 => false,
        Accuracy::Ulp { ulp, arg_eps } => {
            ulps(dtype, want, got) <= ulp as u64 || (w - g).abs() <= arg_eps * eps * scale
        }
        Accuracy::Abs(e) => (w - g).abs() <= e,
        Accuracy::Summation => {
            (w - g).abs() <= 2.0 * (n as f64 + 1.0) * eps * scale || ulps(dtype, want, got) <= 1
        }
        Accuracy::Product => {
            ulps(dtype, want, got) <= 2 * (n as u64 + 1)
                || (w - g).abs() <= (n as f64 + 1.0) * min_normal(dtype)
        }
    }
}

/// Distance in units in the last place of `dtype` (±0 are equal).
pub fn ulps(dtype: DType, a: Scalar, b: Scalar) -> u64 {
    let (bits, sign) = match dtype {
        DType::F16 | DType::BF16 => (16, 1u64 << 15),
        DType::F32 => (32, 1u64 << 31),
        _ => (64, 1u64 << 63),
    };
    let _ = bits;
    let ordered = |x: u64| -> i128 {
        if x & sign != 0 {
            -((x & !sign) as i128)
        } else {
            x as i128
        }
    };
    (ordered(a.to_bits()) - ordered(b.to_bits())).unsigned_abs() as u64
}

/// A kernel computing, per element, whether any float value the kernel
/// computes for it (in the loop or after it) is NaN/±Inf (`nonfinite`) or
/// subnormal (`subnormal`); `None` if the kernel computes no float value.
pub fn widen_mask(kernel: &Kernel, nonfinite: bool, subnormal: bool) -> Option<Kernel> {
    let phases = kernel.phases();
    let mut nodes: Vec<Node> = kernel.nodes.to_vec();
    let mut reductions: Vec<Reduction> = kernel.reductions.to_vec();
    let push = |nodes: &mut Vec<Node>, op: Op, dtype: DType, args: &[u32], imm: u64| -> u32 {
        let mut a = [NO_ARG; 4];
        a[..args.len()].copy_from_slice(args);
        nodes.push(Node {
            op,
            dtype,
            args: a,
            imm,
        });
        (nodes.len() - 1) as u32
    };
    let or = |nodes: &mut Vec<Node>, acc: Option<u32>, x: u32| -> Option<u32> {
        Some(match acc {
            None => x,
            Some(a) => push(nodes, Op::OR, DType::BOOL, &[a, x], 0),
        })
    };
    let flag = |nodes: &mut Vec<Node>, i: u32, dtype: DType| -> Option<u32> {
        let mut f = None;
        if nonfinite {
            let n = push(nodes, Op::ISNAN, DType::BOOL, &[i], 0);
            let inf = push(nodes, Op::ISINF, DType::BOOL, &[i], 0);
            let x = push(nodes, Op::OR, DType::BOOL, &[n, inf], 0);
            f = or(nodes, f, x);
        }
        if subnormal {
            let zero = push(nodes, Op::CONST, dtype, &[], Scalar::zero(dtype).to_bits());
            let tiny = Scalar::F64(min_normal(dtype)).cast(dtype).to_bits();
            let tiny = push(nodes, Op::CONST, dtype, &[], tiny);
            let a = push(nodes, Op::ABS, dtype, &[i], 0);
            let nz = push(nodes, Op::NE, DType::BOOL, &[i, zero], 0);
            let lt = push(nodes, Op::LT, DType::BOOL, &[a, tiny], 0);
            let x = push(nodes, Op::AND, DType::BOOL, &[nz, lt], 0);
            f = or(nodes, f, x);
        }
        f
    };
    let (mut body, mut epi) = (None, None);
    for (i, p) in phases.iter().enumerate() {
        let dtype = kernel.nodes[i].dtype;
        if !dtype.is_float() || *p == Phase::Dead {
            continue;
        }
        if let Some(x) = flag(&mut nodes, i as u32, dtype) {
            if matches!(p, Phase::Body | Phase::Both) {
                body = or(&mut nodes, body, x);
            } else {
                epi = or(&mut nodes, epi, x);
            }
        }
    }
    if body.is_none() && epi.is_none() {
        return None;
    }
    let mut out = epi;
    if let Some(b) = body {
        reductions.push(Reduction {
            op: ReduceOp::MAX,
            body: b,
        });
        let acc = push(
            &mut nodes,
            Op::ACC,
            DType::BOOL,
            &[],
            (reductions.len() - 1) as u64,
        );
        out = or(&mut nodes, out, acc);
    }
    let k = Kernel {
        inputs: kernel.inputs.clone(),
        nodes: nodes.into(),
        size: kernel.size,
        rsize: kernel.rsize,
        reductions: reductions.into(),
        outputs: vec![out.expect("a flag")].into(),
    };
    debug_assert!(k.validate().is_ok(), "{:?}\n{k}", k.validate());
    Some(k)
}

/// A kernel computing, per element, `|x|` in f64 of the first argument of
/// the first output's op (the scale of a range reduction's error); `None`
/// when that output is not an op with arguments.
pub fn arg_kernel(kernel: &Kernel) -> Option<Kernel> {
    let out = kernel.outputs[0] as usize;
    let x = *kernel.args(out).first()?;
    let mut nodes: Vec<Node> = kernel.nodes.to_vec();
    let mut push = |op: Op, args: &[u32]| -> u32 {
        let mut a = [NO_ARG; 4];
        a[..args.len()].copy_from_slice(args);
        nodes.push(Node {
            op,
            dtype: DType::F64,
            args: a,
            imm: 0,
        });
        (nodes.len() - 1) as u32
    };
    let c = push(Op::CAST, &[x]);
    let a = push(Op::ABS, &[c]);
    Some(Kernel {
        nodes: nodes.into(),
        outputs: vec![a].into(),
        ..kernel.clone()
    })
}

/// A kernel computing, per element, `sum |x|` in f64 of the first
/// reduction's body (the scale of a float sum's rounding error).
pub fn abs_sum_kernel(kernel: &Kernel) -> Kernel {
    let mut nodes: Vec<Node> = kernel.nodes.to_vec();
    let mut reductions: Vec<Reduction> = kernel.reductions.to_vec();
    let body = reductions[0].body;
    let mut push = |op: Op, dtype: DType, args: &[u32], imm: u64| -> u32 {
        let mut a = [NO_ARG; 4];
        a[..args.len()].copy_from_slice(args);
        nodes.push(Node {
            op,
            dtype,
            args: a,
            imm,
        });
        (nodes.len() - 1) as u32
    };
    let c = push(Op::CAST, DType::F64, &[body], 0);
    let a = push(Op::ABS, DType::F64, &[c], 0);
    reductions.push(Reduction {
        op: ReduceOp::ADD,
        body: a,
    });
    let acc = push(Op::ACC, DType::F64, &[], (reductions.len() - 1) as u64);
    Kernel {
        inputs: kernel.inputs.clone(),
        nodes: nodes.into(),
        size: kernel.size,
        rsize: kernel.rsize,
        reductions: reductions.into(),
        outputs: vec![acc].into(),
    }
}

fn show_buffers(kernel_dtypes: &[DType], buffers: &[Vec<u8>]) -> Vec<String> {
    kernel_dtypes
        .iter()
        .zip(buffers)
        .map(|(&d, b)| {
            let v = values::from_bytes(d, b);
            format!("{d}[{}] {}", v.len(), values::show(&v, 48))
        })
        .collect()
}

/// Runs `kernel` on the backend under test and on the oracle and judges
/// every output element with `accuracy` (integer and bool outputs exactly).
pub fn check(
    dut: &Device,
    oracle: &Device,
    kernel: &Kernel,
    inputs: &[Vec<u8>],
    accuracy: Accuracy,
) -> Result<Outcome, Failure> {
    let in_dtypes: Vec<DType> = kernel.inputs.to_vec();
    let out_dtypes: Vec<DType> = (0..kernel.outputs.len())
        .map(|k| kernel.output_dtype(k))
        .collect();
    let fail = |summary: String, expected: Vec<String>, found: Vec<String>| Failure {
        summary,
        kernel: kernel.to_string(),
        inputs: show_buffers(&in_dtypes, inputs),
        expected,
        found,
        tolerance: accuracy.to_string(),
        details: String::new(),
        seed: 0,
        replay: String::new(),
        saved: None,
    };
    let want = oracle.run_kernel(kernel, inputs).map_err(|e| {
        fail(
            format!("the oracle failed (a bug in conformance): {e}"),
            vec![],
            vec![],
        )
    })?;
    let got = match dut.run_kernel(kernel, inputs) {
        Ok(g) => g,
        Err(e) => {
            return Err(fail(
                format!("backend error: {e}"),
                show_buffers(&out_dtypes, &want),
                vec![],
            ));
        }
    };
    let sem = dut.info().caps.semantics;
    let (nf, sub) = (
        sem.has(Semantics::NONFINITE_UNDEFINED),
        sem.has(Semantics::SUBNORMALS_FLUSHED),
    );
    let mut mask: Option<Vec<bool>> = None;
    // Per-element scales for the judge, computed on the oracle when first
    // needed: `sum |x|` of a summation, `|x|` of an argument-scaled op.
    let mut scales: Option<Vec<f64>> = None;
    let f64s = |k: Option<Kernel>| -> Vec<f64> {
        k.and_then(|k| oracle.run_kernel(&k, inputs).ok())
            .map(|o| {
                values::from_bytes(DType::F64, &o[0])
                    .iter()
                    .map(|s| s.as_f64())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut outcome = Outcome::default();
    for (k, (w, g)) in want.iter().zip(&got).enumerate() {
        let dtype = out_dtypes[k];
        if g.len() != w.len() {
            return Err(fail(
                format!("output {k}: {} bytes, expected {}", g.len(), w.len()),
                show_buffers(&out_dtypes, &want),
                show_buffers(&out_dtypes, &got),
            ));
        }
        let (wv, gv) = (values::from_bytes(dtype, w), values::from_bytes(dtype, g));
        let acc = if dtype.is_float() {
            accuracy
        } else {
            Accuracy::Exact
        };
        for (i, (&a, &b)) in wv.iter().zip(&gv).enumerate() {
            let sum = match acc {
                Accuracy::Summation => scales
                    .get_or_insert_with(|| f64s(Some(abs_sum_kernel(kernel))))
                    .get(i)
                    .copied()
                    .unwrap_or(f64::INFINITY),
                Accuracy::Ulp { arg_eps, .. } if arg_eps > 0.0 && a.to_bits() != b.to_bits() => {
                    scales
                        .get_or_insert_with(|| f64s(arg_kernel(kernel)))
                        .get(i)
                        .copied()
                        .unwrap_or(0.0)
                }
                _ => 0.0,
            };
            if agree(dtype, a, b, acc, kernel.rsize as usize, sum) {
                continue;
            }
            if nf || sub {
                let m = mask.get_or_insert_with(|| match widen_mask(kernel, nf, sub) {
                    Some(mk) => oracle
                        .run_kernel(&mk, inputs)
                        .map(|o| o[0].iter().map(|&b| b != 0).collect())
                        .unwrap_or_default(),
                    None => vec![],
                });
                if m.get(i).copied().unwrap_or(false) {
                    outcome.widened += 1;
                    continue;
                }
            }
            return Err(fail(
                format!("output {k} element {i}: reference {a}, backend {b} ({dtype})"),
                show_buffers(&out_dtypes, &want),
                show_buffers(&out_dtypes, &got),
            ));
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulp_distance_and_agreement() {
        let one = Scalar::F32(1.0);
        let next = Scalar::F32(f32::from_bits(1.0f32.to_bits() + 3));
        assert_eq!(ulps(DType::F32, one, next), 3);
        assert_eq!(ulps(DType::F32, Scalar::F32(0.0), Scalar::F32(-0.0)), 0);
        let acc = Accuracy::Ulp {
            ulp: 4,
            arg_eps: 0.0,
        };
        assert!(agree(DType::F32, one, next, acc, 0, 0.0));
        assert!(!agree(DType::F32, one, next, Accuracy::Exact, 0, 0.0));
        assert!(agree(
            DType::F32,
            Scalar::F32(f32::NAN),
            Scalar::F32(-f32::NAN),
            Accuracy::Exact,
            0,
            0.0
        ));
        assert!(!agree(
            DType::F32,
            Scalar::F32(0.0),
            Scalar::F32(-0.0),
            Accuracy::Exact,
            0,
            0.0
        ));
        // Near 0 a transcendental is judged relatively: tanh(1e-5) computed
        // as (e^x - e^-x) / (e^x + e^-x) in f32 is thousands of ULP off.
        let x = 1e-5f32;
        let naive = ((x.exp() - (-x).exp()) / (x.exp() + (-x).exp())) as f64;
        let tanh = crate::optable::float_accuracy(oxjax_abi::Op::TANH);
        let (w, g) = (Scalar::F32(x.tanh()), Scalar::F32(naive as f32));
        assert!(ulps(DType::F32, w, g) > 1000, "{w} {g}");
        assert!(!agree(DType::F32, w, g, tanh, 0, 0.0));
        // A zero result keeps its sign under a ULP budget.
        let (pz, nz) = (Scalar::F32(0.0), Scalar::F32(-0.0));
        assert!(!agree(DType::F32, nz, pz, tanh, 0, 0.0));
        assert!(agree(DType::F32, nz, nz, tanh, 0, 0.0));
        // sin near a zero crossing away from 0 may be off in proportion to
        // its argument, not more.
        let sin = crate::optable::float_accuracy(oxjax_abi::Op::SIN);
        let pi = std::f32::consts::PI;
        let (w, g) = (Scalar::F32(pi.sin()), Scalar::F32(pi.sin() + 2e-7));
        assert!(agree(DType::F32, w, g, sin, 0, pi as f64));
        assert!(!agree(DType::F32, w, g, sin, 0, 0.01));
        assert!(!agree(
            DType::I32,
            Scalar::I32(1),
            Scalar::I32(2),
            acc,
            0,
            0.0
        ));
    }
}
