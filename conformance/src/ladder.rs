//! The size ladder of the kernel layer: a few ops at the sizes where real
//! backends break (past 2^16 and 2^20 outputs: dispatch limits and
//! wrapping; reductions of 1, 2^12 + 1 and 2^20 + 3 elements: chunking,
//! tails and accumulation order), judged against host math in f64 (the
//! fast oracle: no reference kernel runs at these sizes).
//!
//! Sums are judged twice: values that sum exactly in any order (multiples
//! of 1/16 whose partial sums stay below 2^20) must give the exact sum,
//! so a dropped tail or a wrapped index cannot hide in the tolerance; and
//! random values in [-1, 1) are judged by the length-aware bound of the
//! accuracy contract for long reductions (error growing like `log n`, not
//! `n`: see [`long_sum_bound`]).

use crate::judge::{Failure, Outcome, agree};
use crate::optable::{Accuracy, epsilon, float_accuracy};
use crate::values;
use crate::values::{Rng, f32_bytes};
use oxjax_abi::{DType, Kernel, KernelBuilder, Op, ReduceOp, Scalar, Semantics, Val};
use oxjax_core::Device;

/// Output sizes of the elementwise rungs.
pub const OUTPUTS: [usize; 2] = [(1 << 16) + 3, (1 << 20) + 1];
/// Reduction lengths of the reduction rungs (rows of each).
pub const LENGTHS: [usize; 3] = [1, (1 << 12) + 1, (1 << 20) + 3];
/// Outputs of the many-rows rung (short reductions, `ROWS_RSIZE` each).
const ROWS: usize = (1 << 16) + 3;
const ROWS_RSIZE: usize = 5;

/// One ladder entry: `ladder:<op>` on one dtype.
#[derive(Clone, Copy, Debug)]
pub struct Rung {
    pub op: &'static str,
    pub dtype: DType,
}

/// Every rung, in the order they run.
pub fn rungs() -> Vec<Rung> {
    [
        ("add", DType::F32),
        ("max", DType::F32),
        ("sin", DType::F32),
        ("mul", DType::I32),
        ("reduce_add", DType::F32),
        ("reduce_max", DType::F32),
        ("reduce_add", DType::I32),
    ]
    .into_iter()
    .map(|(op, dtype)| Rung { op, dtype })
    .collect()
}

impl Rung {
    /// The IR op this rung needs besides index arithmetic, if any.
    pub fn alu(&self) -> Option<Op> {
        match self.op {
            "add" => Some(Op::ADD),
            "max" => Some(Op::MAX),
            "sin" => Some(Op::SIN),
            "mul" => Some(Op::MUL),
            _ => None,
        }
    }
    fn reduce(&self) -> Option<ReduceOp> {
        match self.op {
            "reduce_add" => Some(ReduceOp::ADD),
            "reduce_max" => Some(ReduceOp::MAX),
            _ => None,
        }
    }
}

/// The bound of the accuracy contract for a float sum of `n` values:
/// `(4 log2(n + 1) + 32) eps sum|x|` (a pairwise or 16-ary blocked sum
/// stays well inside it; a sequential f32 sum of 2^20 same-sign values
/// does not).
pub fn long_sum_bound(dtype: DType, n: usize, abs_sum: f64) -> f64 {
    (4.0 * ((n + 1) as f64).log2() + 32.0) * epsilon(dtype) * abs_sum
}

/// IEEE `maximum` (NaN wins, -0 < +0), the IR's float `max`.
fn maximum(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        if a.is_sign_negative() { b } else { a }
    } else {
        a.max(b)
    }
}

/// Whether `vs` holds a non-finite value (bit 0) or a subnormal (bit 1).
fn flags(vs: &[f32]) -> u8 {
    vs.iter().fold(0, |f, v| {
        f | (!v.is_finite()) as u8 | (((*v != 0.0 && v.is_finite() && !v.is_normal()) as u8) << 1)
    })
}

/// Float values for elementwise rungs: mostly ordinary, some edges.
fn float_values(rng: &mut Rng, n: usize) -> Vec<f32> {
    let edges = [0.0, -0.0, f32::NAN, f32::INFINITY, -1e-40, 1e30, -3.5];
    (0..n)
        .map(|_| {
            if rng.next().is_multiple_of(64) {
                edges[(rng.next() % edges.len() as u64) as usize]
            } else {
                rng.unit() * 100.0
            }
        })
        .collect()
}

fn bytes_i32(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Everything one size of a rung needs: kernel, inputs, expected values
/// (and, per element, the judge's accuracy and scale).
struct Sized {
    kernel: Kernel,
    inputs: Vec<Vec<u8>>,
    want: Vec<Scalar>,
    judge: Vec<(Accuracy, f64)>,
    /// Per element: it met a non-finite value (bit 0) or a subnormal
    /// (bit 1), for backends that declare those undefined.
    met: Vec<u8>,
    n: usize,
    what: String,
}

/// `out[i] = op(x[i], y[size - 1 - i])` (a reversed second operand, so
/// index arithmetic runs at the full size too).
fn elementwise(r: &Rung, size: usize, rng: &mut Rng) -> Sized {
    let mut b = KernelBuilder::new();
    let d = r.dtype;
    let (ix, iy) = (b.input(d), b.input(d));
    let g = b.gidx();
    let x = b.load(ix, g);
    let last = b.i32(size as i32 - 1);
    let rev = b.op(Op::SUB, &[last, g]);
    let y = b.load(iy, rev);
    let op = r.alu().expect("an elementwise rung");
    let out: Val = if op == Op::SIN {
        b.op(op, &[x])
    } else {
        b.op(op, &[x, y])
    };
    b.output(out);
    let kernel = b.finish(size, 0);
    let exact = (Accuracy::Exact, 0.0);
    if d == DType::I32 {
        let xs: Vec<i32> = (0..size).map(|_| rng.next() as i32).collect();
        let ys: Vec<i32> = (0..size).map(|_| rng.next() as i32).collect();
        let want = (0..size)
            .map(|i| Scalar::I32(xs[i].wrapping_mul(ys[size - 1 - i])))
            .collect();
        return Sized {
            kernel,
            inputs: vec![bytes_i32(&xs), bytes_i32(&ys)],
            want,
            judge: vec![exact; size],
            met: vec![0; size],
            n: 0,
            what: format!("{} i32, {size} outputs", r.op),
        };
    }
    let xs = float_values(rng, size);
    let ys = float_values(rng, size);
    let mut judge = vec![exact; size];
    let mut met = vec![0u8; size];
    let want = (0..size)
        .map(|i| {
            let (a, c) = (xs[i], ys[size - 1 - i]);
            met[i] = flags(&[a, c]);
            Scalar::F32(match op {
                // f32 + f32 rounded once through f64 is the IEEE f32 sum.
                Op::ADD => (a as f64 + c as f64) as f32,
                Op::MAX => maximum(a, c),
                _ => {
                    judge[i] = (float_accuracy(Op::SIN), (a as f64).abs());
                    (a as f64).sin() as f32
                }
            })
        })
        .collect();
    Sized {
        kernel,
        inputs: vec![f32_bytes(&xs), f32_bytes(&ys)],
        want,
        judge,
        met,
        n: 0,
        what: format!("{} f32, {size} outputs", r.op),
    }
}

/// `out[row] = reduce(x[row * rsize + r])` over `rows` rows.
fn reduction(r: &Rung, rows: usize, rsize: usize, rng: &mut Rng) -> Sized {
    let d = r.dtype;
    let rop = r.reduce().expect("a reduction rung");
    let mut b = KernelBuilder::new();
    let input = b.input(d);
    let g = b.gidx();
    let ri = b.ridx();
    let len = b.i32(rsize as i32);
    let row = b.op(Op::MUL, &[g, len]);
    let at = b.op(Op::ADD, &[row, ri]);
    let x = b.load(input, at);
    let acc = b.reduce(rop, x);
    b.output(acc);
    let kernel = b.finish(rows, rsize);
    if d == DType::I32 {
        let xs: Vec<i32> = (0..rows * rsize).map(|_| rng.next() as i32).collect();
        let want = xs
            .chunks(rsize)
            .map(|c| Scalar::I32(c.iter().fold(0i32, |s, &v| s.wrapping_add(v))))
            .collect();
        return Sized {
            kernel,
            inputs: vec![bytes_i32(&xs)],
            want,
            judge: vec![(Accuracy::Exact, 0.0); rows],
            met: vec![0; rows],
            n: rsize,
            what: format!("{} i32, {rows} rows of {rsize}", r.op),
        };
    }
    // Row 0 of every rung (and the even rows of many-rows rungs) sums
    // exactly in any order; the others are random in [-1, 1).
    let exact_row = |row: usize| row.is_multiple_of(2);
    let mut xs: Vec<f32> = Vec::with_capacity(rows * rsize);
    for row in 0..rows {
        for _ in 0..rsize {
            xs.push(if exact_row(row) {
                (rng.next() % 17) as f32 / 16.0
            } else {
                rng.unit()
            });
        }
    }
    if rop == ReduceOp::MAX && rows > 1 {
        // A NaN anywhere wins; -0 and +0 order as -0 < +0.
        xs[rsize + rsize / 2] = f32::NAN;
        if rows > 2 {
            for v in &mut xs[2 * rsize..3 * rsize] {
                *v = -0.0;
            }
            xs[3 * rsize - 1] = 0.0;
        }
    }
    let mut judge = Vec::with_capacity(rows);
    let want = xs
        .chunks(rsize)
        .enumerate()
        .map(|(row, c)| {
            if rop == ReduceOp::MAX {
                judge.push((Accuracy::Exact, 0.0));
                return Scalar::F32(c.iter().fold(f32::NEG_INFINITY, |m, &v| maximum(m, v)));
            }
            let sum: f64 = c.iter().map(|&v| v as f64).sum();
            let abs: f64 = c.iter().map(|&v| (v as f64).abs()).sum();
            judge.push(if exact_row(row) {
                (Accuracy::Exact, 0.0)
            } else {
                (Accuracy::Abs(long_sum_bound(d, rsize, abs)), 0.0)
            });
            Scalar::F32(sum as f32)
        })
        .collect();
    Sized {
        kernel,
        inputs: vec![f32_bytes(&xs)],
        want,
        met: xs.chunks(rsize).map(flags).collect(),
        judge,
        n: rsize,
        what: format!("{} f32, {rows} rows of {rsize}", r.op),
    }
}

/// Values `at - 8 .. at + 8` of a long vector, for a failure report.
fn window(v: &[Scalar], at: usize) -> String {
    let lo = at.saturating_sub(8);
    let hi = (at + 8).min(v.len());
    format!(
        "[{}] elements {lo}..{hi} of {}: {}",
        v.first().map_or(String::new(), |s| s.dtype().to_string()),
        v.len(),
        values::show(&v[lo..hi], 16)
    )
}

/// Runs every size of `rung` on `dut` (values drawn from `seed`).
pub fn run(dut: &Device, rung: &Rung, seed: u64) -> Result<Outcome, Failure> {
    let sem = dut.info().caps.semantics;
    let undefined = sem.has(Semantics::NONFINITE_UNDEFINED) as u8
        | ((sem.has(Semantics::SUBNORMALS_FLUSHED) as u8) << 1);
    let mut outcome = Outcome::default();
    let mut rng = Rng(seed ^ 0x001a_dde5);
    let mut cases: Vec<Sized> = Vec::new();
    if rung.reduce().is_some() {
        for n in LENGTHS {
            cases.push(reduction(rung, 3, n, &mut rng));
        }
        cases.push(reduction(rung, ROWS, ROWS_RSIZE, &mut rng));
    } else {
        for n in OUTPUTS {
            cases.push(elementwise(rung, n, &mut rng));
        }
    }
    for c in cases {
        let fail = |summary: String, found: Vec<String>, at: usize| Failure {
            summary,
            kernel: c.kernel.to_string(),
            inputs: c
                .inputs
                .iter()
                .map(|b| window(&values::from_bytes(rung.dtype, b), at))
                .collect(),
            expected: vec![window(&c.want, at)],
            found,
            tolerance: c.judge.get(at).map_or(String::new(), |j| j.0.to_string()),
            details: format!(
                "{} (size ladder: the \"reference\" values below are host math in f64)",
                c.what
            ),
            seed,
            replay: String::new(),
            saved: None,
        };
        let got = match dut.run_kernel(&c.kernel, &c.inputs) {
            Ok(g) => values::from_bytes(rung.dtype, &g[0]),
            Err(e) => return Err(fail(format!("backend error: {e}"), vec![], 0)),
        };
        if got.len() != c.want.len() {
            return Err(fail(
                format!("{} outputs, expected {}", got.len(), c.want.len()),
                vec![],
                0,
            ));
        }
        for (i, (&w, &g)) in c.want.iter().zip(&got).enumerate() {
            let (acc, scale) = c.judge[i];
            if agree(rung.dtype, w, g, acc, c.n, scale) {
                continue;
            }
            if c.met[i] & undefined != 0 {
                outcome.widened += 1;
                continue;
            }
            return Err(fail(
                format!(
                    "{}: output element {i}: expected {w}, backend {g} ({})",
                    c.what, rung.dtype
                ),
                vec![window(&got, i)],
                i,
            ));
        }
    }
    Ok(outcome)
}
