//! Dense sweeps of the transcendentals against the reference (libm): the
//! measured worst ULP error of every op, in f32 and f64, printed with
//! `--nocapture`, and bounded.

use super::common::*;
use oxjax_abi::{DType, KernelBuilder, Op, Scalar};

const UNARY: [Op; 17] = [
    Op::EXP,
    Op::EXP2,
    Op::EXPM1,
    Op::LOG,
    Op::LOG2,
    Op::LOG1P,
    Op::SIN,
    Op::COS,
    Op::TAN,
    Op::ASIN,
    Op::ACOS,
    Op::ATAN,
    Op::SINH,
    Op::COSH,
    Op::TANH,
    Op::ERF,
    Op::ERFC,
];

/// Sample points: log-spaced magnitudes of both signs, a dense uniform grid
/// on [-12, 12], and [-1, 1].
fn sweep(n: usize) -> Vec<f64> {
    let mut v = Vec::new();
    for i in 0..n {
        let t = i as f64 / n as f64;
        let mag = 10f64.powf(-40.0 + 80.0 * t);
        v.push(mag);
        v.push(-mag);
        v.push(-12.0 + 24.0 * t);
        v.push(-1.0 + 2.0 * t);
        v.push(700.0 * (2.0 * t - 1.0));
    }
    v
}

/// Builds `op` over `d` inputs.
fn kernel(op: Op, d: DType, n: usize, binary: bool) -> oxjax_abi::Kernel {
    let mut b = KernelBuilder::default();
    let g = b.gidx();
    let i0 = b.input(d);
    let x = b.load(i0, g);
    let v = if binary {
        let i1 = b.input(d);
        let y = b.load(i1, g);
        b.op(op, &[x, y])
    } else {
        b.op(op, &[x])
    };
    b.output(v);
    b.finish(n, 0)
}

/// Worst ULP distance of the wasm result from the reference and, for f32,
/// from the truth (libm's f64 function rounded to f32).
fn max_ulps(opts: &str, op: Op, d: DType, xs: &[f64], ys: Option<&[f64]>) -> ((u64, String), u64) {
    let k = kernel(op, d, xs.len(), ys.is_some());
    let conv = |v: &[f64], d: DType| -> Vec<Scalar> {
        v.iter()
            .map(|&x| Scalar::F64(x).cast(DType::F32.max(d)).cast(d))
            .collect()
    };
    let mut inputs = vec![to_bytes(&conv(xs, d))];
    if let Some(ys) = ys {
        inputs.push(to_bytes(&conv(ys, d)));
    }
    let be = backend(opts);
    let got = from_bytes(d, &run_wasm(&be, &k, &inputs)[0]);
    let want = from_bytes(d, &run_ref(&k, &inputs)[0]);
    let mut worst = (0, String::new());
    for e in 0..xs.len() {
        let u = ulps(got[e], want[e]);
        if u > worst.0 {
            let arg = match ys {
                Some(ys) => format!(
                    "({:?}, {:?})",
                    Scalar::F64(xs[e]).cast(d),
                    Scalar::F64(ys[e]).cast(d)
                ),
                None => format!("{:?}", Scalar::F64(xs[e]).cast(d)),
            };
            worst = (
                u,
                format!("at {arg}: wasm {:?}, libm {:?}", got[e], want[e]),
            );
        }
    }
    let mut vs_truth = 0;
    if d == DType::F32 {
        let k64 = kernel(op, DType::F64, xs.len(), ys.is_some());
        let inputs64: Vec<Vec<u8>> = inputs
            .iter()
            .map(|b| {
                let v: Vec<Scalar> = from_bytes(d, b)
                    .into_iter()
                    .map(|x| x.cast(DType::F64))
                    .collect();
                to_bytes(&v)
            })
            .collect();
        let truth = from_bytes(DType::F64, &run_ref(&k64, &inputs64)[0]);
        for e in 0..xs.len() {
            vs_truth = vs_truth.max(ulps(got[e], truth[e].cast(DType::F32)));
        }
    }
    (worst, vs_truth)
}

fn bound(op: Op, d: DType) -> u64 {
    match (d, op) {
        (DType::F16, _) => 1,
        (DType::F32, _) => 4,
        (_, Op::POW) => 16,
        _ => 4,
    }
}

/// `truth`: the most ULP an f32 result may be from the rounded truth.
fn report(op: Op, d: DType, (u, t, truth): (u64, u64, u64), at: &str, failures: &mut Vec<String>) {
    if d == DType::F32 {
        eprintln!(
            "{op:>6} {d}: {u} ulp from libm's f32 function, {t} from the rounded f64 truth; worst {at}"
        );
        if t > truth {
            failures.push(format!("{op} {d}: {t} ulp from the truth"));
        }
    } else {
        eprintln!("{op:>6} {d}: {u} ulp from libm; worst {at}");
    }
    if u > bound(op, d) {
        failures.push(format!("{op} {d}: {u} ulp {at}"));
    }
}

#[test]
fn transcendentals_are_within_their_ulp_bounds() {
    let xs = sweep(20_000);
    let mut failures = Vec::new();
    for d in [DType::F16, DType::F32, DType::F64] {
        for op in UNARY {
            let ((u, at), t) = max_ulps("threads = 2", op, d, &xs, None);
            // f32 computes in f64 and rounds, or (exp, log, sin, cos) in
            // f32x4 with fused multiply-add where the host has it (this
            // one does), or (tan, atan, asin, acos, atan2, erfc, pow) in
            // f64x2: within one ULP of the truth. The other f32x4
            // functions (vmath) keep the op table's 4 ULP (exhaustive
            // worst: tanh 1, erf 4, log1p 1, log2 see vmath.rs).
            let truth = match op {
                Op::EXP2
                | Op::EXPM1
                | Op::LOG2
                | Op::LOG1P
                | Op::SINH
                | Op::COSH
                | Op::TANH
                | Op::ERF
                    if d == DType::F32 =>
                {
                    4
                }
                _ => 1,
            };
            report(op, d, (u, t, truth), &at, &mut failures);
        }
        // binary ops on a grid
        let base: Vec<f64> = (0..300)
            .map(|i| {
                let t = i as f64 / 300.0;
                if i % 2 == 0 {
                    10f64.powf(-6.0 + 12.0 * t)
                } else {
                    -40.0 + 80.0 * t
                }
            })
            .collect();
        let (mut gx, mut gy) = (Vec::new(), Vec::new());
        for &a in &base {
            for &b in &base {
                gx.push(a);
                gy.push(b);
            }
        }
        // pow with large y log x (where the double-double log matters)
        for i in 0..200 {
            for j in 0..200 {
                gx.push(0.9 + 0.2 * i as f64 / 200.0);
                gy.push(-6000.0 + 60.0 * j as f64 + 0.37);
            }
        }
        for op in [Op::POW, Op::ATAN2] {
            let ((u, at), t) = max_ulps("threads = 2", op, d, &gx, Some(&gy));
            report(op, d, (u, t, 1), &at, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vector_math_is_accurate_with_and_without_fused_multiply_add() {
    // The f32x4 exp/log/sin/cos differ by `fma`; both forms are held to
    // the same bounds, whatever this host's default is.
    let xs = sweep(20_000);
    let mut failures = Vec::new();
    for fma in [true, false] {
        eprintln!("fma = {fma}");
        for op in [
            Op::EXP,
            Op::LOG,
            Op::SIN,
            Op::COS,
            Op::LOG1P,
            Op::TANH,
            Op::TAN,
            Op::ATAN,
            Op::ASIN,
            Op::ACOS,
            Op::ERFC,
        ] {
            let opts = format!("threads = 2\nfma = {fma}");
            let ((u, at), t) = max_ulps(&opts, op, DType::F32, &xs, None);
            // Without fma, 1 - r^2/2 in cos r rounds r^2 first: sin and cos
            // reach 2 ULP from the truth on about one f32 in a million
            // (exhaustive count over |x| < 1e5: backends/wasm/tools).
            let truth = if fma || !matches!(op, Op::SIN | Op::COS) {
                1
            } else {
                2
            };
            report(op, DType::F32, (u, t, truth), &at, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn special_values_keep_signed_zeros_infinities_and_nans() {
    // every pair of specials, shifted across lane positions so each value
    // runs in vector groups and in the scalar tail; zeros and infinities
    // must match the reference bit for bit, NaN stay NaN
    let sp: Vec<f64> = specials(DType::F32)
        .into_iter()
        .map(|s| s.as_f64())
        .collect();
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for &a in &sp {
        for &b in &sp {
            xs.push(a);
            ys.push(b);
        }
    }
    xs.push(0.25); // a ragged length: a scalar tail
    ys.push(-0.0);
    let mut failures = Vec::new();
    let ops: Vec<(Op, bool)> = UNARY
        .iter()
        .map(|&op| (op, false))
        .chain([(Op::ATAN2, true), (Op::POW, true)])
        .collect();
    for fma in [true, false] {
        let be = backend(&format!("threads = 2\nfma = {fma}"));
        for &(op, binary) in &ops {
            let k = kernel(op, DType::F32, xs.len(), binary);
            let f32s = |v: &[f64]| {
                to_bytes(
                    &v.iter()
                        .map(|&x| Scalar::F64(x).cast(DType::F32))
                        .collect::<Vec<_>>(),
                )
            };
            let mut inputs = vec![f32s(&xs)];
            if binary {
                inputs.push(f32s(&ys));
            }
            let got = from_bytes(DType::F32, &run_wasm(&be, &k, &inputs)[0]);
            let want = from_bytes(DType::F32, &run_ref(&k, &inputs)[0]);
            for e in 0..xs.len() {
                let (g, w) = (got[e].as_f64(), want[e].as_f64());
                let exact = w == 0.0 || w.is_infinite();
                let ok = if w.is_nan() {
                    g.is_nan()
                } else if exact {
                    g.to_bits() == w.to_bits()
                } else {
                    ulps(got[e], want[e]) <= 4
                };
                if !ok {
                    failures.push(format!(
                        "{op} (fma {fma}) at ({}, {}): wasm {g:?}, reference {w:?}",
                        xs[e], ys[e]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// fmod on f32 is exact on every path (the f32x4 form, its scalar lanes,
/// the scalar tail): bit for bit Rust's `%` (a NaN for a NaN) on the
/// specials against each other and on random pairs of four kinds:
/// arbitrary bits, quotients 2^-8 to 2^40 with random mantissas (across
/// the vector form's 2^28 limit), and quotients within a few ULP of a
/// random integer below 2^29 or of 2^28. `example exhaustive fmod` checks
/// every f32 x against a list of y.
#[test]
fn fmod_is_bit_exact() {
    let mut s = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 32) as u32
    };
    let mut sp: Vec<f32> = specials(DType::F32)
        .into_iter()
        .map(|v| v.as_f64() as f32)
        .collect();
    sp.extend([f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MAX]);
    sp.extend([f32::MIN_POSITIVE, 1e-45, 268_435_456.0, -268_435_440.0]);
    let mut pairs: Vec<(f32, f32)> = Vec::new();
    for &a in &sp {
        for &b in &sp {
            pairs.push((a, b));
        }
    }
    for _ in 0..150_000 {
        let (a, b) = (next(), next());
        pairs.push((f32::from_bits(a), f32::from_bits(b)));
        // y = x / 2^k with y's own mantissa and sign
        let e = ((a >> 23) & 0xff) as i32 - ((next() % 48) as i32 - 8);
        let y = f32::from_bits(b & 0x807f_ffff | (e.clamp(0, 254) as u32) << 23);
        pairs.push((f32::from_bits(a), y));
        // x near n y for a random n < 2^29, and for n near 2^28
        for n in [next() >> 3, (1 << 28) + (next() % 64) - 32] {
            let x = (n as f64 * y as f64) as f32;
            let d = (next() % 9) as i32 - 4;
            let x = f32::from_bits((x.to_bits() as i32 + d) as u32);
            pairs.push((x, y));
        }
    }
    pairs.push((7.5, -2.0)); // a ragged length: a scalar tail
    let k = kernel(Op::REM, DType::F32, pairs.len(), true);
    let bytes = |f: fn(&(f32, f32)) -> f32| -> Vec<u8> {
        pairs.iter().flat_map(|p| f(p).to_le_bytes()).collect()
    };
    let got = run_wasm(
        &backend("threads = 2"),
        &k,
        &[bytes(|p| p.0), bytes(|p| p.1)],
    );
    let mut failures = Vec::new();
    for (&(x, y), g) in pairs.iter().zip(got[0].chunks_exact(4)) {
        let (g, w) = (f32::from_le_bytes(g.try_into().unwrap()), x % y);
        if g.to_bits() != w.to_bits() && !(g.is_nan() && w.is_nan()) {
            failures.push(format!("fmod({x:e}, {y:e}): wasm {g:e}, Rust {w:e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} wrong:\n{}",
        failures.len(),
        pairs.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}
