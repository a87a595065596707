//! Differential tests of every op × supported dtype against the reference
//! backend, on special values (±0, ±Inf, NaN, extremes, MIN, -1,
//! subnormals) and random values.

mod common;

use common::*;
use oxjax_abi::Backend;
use oxjax_abi::{DType, Kernel, KernelBuilder, OPS, Op, Scalar, Semantics, f16};

const DTYPES: [DType; 5] = [DType::BOOL, DType::I32, DType::U32, DType::F16, DType::F32];

fn special(d: DType) -> Vec<Scalar> {
    let f = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        3.0,
        0.1,
        -7.25,
        100.0,
        -100.0,
        1e-3,
        88.5,
        -88.5,
        1e30,
        -1e30,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        16777217.0,
        2147483648.0,
        -2147483648.0,
        -2147483904.0,
        4294967296.0,
        3e9,
        -0.75,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ];
    match d {
        DType::BOOL => vec![Scalar::Bool(false), Scalar::Bool(true)],
        DType::I32 => [
            0,
            1,
            -1,
            2,
            -2,
            3,
            7,
            -7,
            31,
            32,
            33,
            -32,
            100,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            12345678,
            -65536,
        ]
        .into_iter()
        .map(Scalar::I32)
        .collect(),
        DType::U32 => [
            0,
            1,
            2,
            3,
            7,
            31,
            32,
            33,
            100,
            u32::MAX,
            0x8000_0000,
            0x7fff_ffff,
            12345678,
            0xffff_fffe,
        ]
        .into_iter()
        .map(Scalar::U32)
        .collect(),
        DType::F16 => {
            let mut v: Vec<Scalar> = f.iter().map(|&x| Scalar::F16(f16::from_f32(x))).collect();
            v.extend(
                [
                    65504.0f32,
                    -65504.0,
                    6.1035156e-5,
                    5.9604645e-8,
                    -3.0e-6,
                    2049.0,
                    0.33325195,
                ]
                .map(|x| Scalar::F16(f16::from_f32(x))),
            );
            v.dedup_by(|a, b| same(*a, *b));
            v
        }
        _ => {
            let mut v: Vec<Scalar> = f.iter().map(|&x| Scalar::F32(x)).collect();
            // A subnormal.
            v.push(Scalar::F32(f32::from_bits(0x0040_0000)));
            v
        }
    }
}

fn random(d: DType, rng: &mut Rng, n: usize) -> Vec<Scalar> {
    (0..n)
        .map(|i| match d {
            DType::BOOL => Scalar::Bool(rng.u32() & 1 == 1),
            DType::I32 => Scalar::I32(if i % 2 == 0 {
                rng.u32() as i32
            } else {
                (rng.u32() % 200) as i32 - 100
            }),
            DType::U32 => Scalar::U32(if i % 2 == 0 {
                rng.u32()
            } else {
                rng.u32() % 100
            }),
            _ => {
                let x = match i % 4 {
                    0 => rng.f32_in(-10.0, 10.0),
                    1 => rng.f32_in(-1.0, 1.0),
                    2 => {
                        // log-uniform magnitude over the finite range
                        let b = rng.u32() & 0x7f7f_ffff;
                        let b = if d == DType::F16 {
                            (b % 0x0f00_0000) + 0x3300_0000
                        } else {
                            b
                        };
                        f32::from_bits(b | (rng.u32() & 0x8000_0000))
                    }
                    _ => rng.f32_in(-100.0, 100.0),
                };
                if d == DType::F16 {
                    Scalar::F16(f16::from_f32(x))
                } else {
                    Scalar::F32(x)
                }
            }
        })
        .collect()
}

/// All combinations of specials (binary: the cartesian square) plus
/// random tuples.
fn cases(ds: &[DType], seed: u64) -> Vec<Vec<Scalar>> {
    let mut rng = Rng(seed);
    let n_rand = 600;
    let mut cols: Vec<Vec<Scalar>> = vec![Vec::new(); ds.len()];
    match ds.len() {
        1 => cols[0] = special(ds[0]),
        _ => {
            let a = special(ds[0]);
            let b = special(ds[1]);
            for x in &a {
                for y in &b {
                    cols[0].push(*x);
                    cols[1].push(*y);
                    for (k, c) in cols.iter_mut().enumerate().skip(2) {
                        let s = special(ds[k]);
                        c.push(s[(c.len() * 7) % s.len()]);
                    }
                }
            }
        }
    }
    for (k, c) in cols.iter_mut().enumerate() {
        c.extend(random(ds[k], &mut rng, n_rand));
    }
    cols
}

fn elementwise_kernel(op: Op, ins: &[DType], out: DType, imm: u64, n: usize) -> Kernel {
    let mut b = KernelBuilder::new();
    let g = b.gidx();
    let vals: Vec<_> = ins
        .iter()
        .map(|&d| {
            let i = b.input(d);
            b.load(i, g)
        })
        .collect();
    let v = b.node(op, out, &vals, imm);
    b.output(v);
    b.finish(n, 0)
}

/// Tolerance of an op in ULPs of the result dtype (f32, f16) and an
/// absolute bound that also passes; exact ops are (0, 0, 0).
fn tolerance(op: Op) -> (f64, f64, f64) {
    // Measured maxima on lavapipe (f32 ulp): exp, exp2, log, log2, log1p,
    // atan, acos, erf 1; expm1, sin, cos, asin, sinh, cosh, tanh, atan2 2;
    // tan 3; erfc 5; pow 28 (grows with |y log2 x|). f16: 1 ulp for all.
    // Bounds below leave one ulp of margin.
    match op {
        Op::EXP | Op::EXP2 | Op::LOG | Op::LOG2 | Op::LOG1P | Op::ATAN | Op::ACOS | Op::ERF => {
            (2.0, 1.0, 0.0)
        }
        Op::EXPM1 | Op::SIN | Op::COS | Op::ASIN | Op::SINH | Op::COSH | Op::TANH | Op::ATAN2 => {
            (3.0, 1.0, 0.0)
        }
        Op::TAN => (4.0, 1.0, 0.0),
        Op::ERFC => (6.0, 1.0, 0.0),
        Op::POW => (32.0, 1.0, 0.0),
        _ => (0.0, 0.0, 0.0),
    }
}

struct Outcome {
    max_ulp: f64,
    bad: Vec<String>,
}

fn check(op: Op, ins: &[DType], out: DType, imm: u64, seed: u64) -> Option<Outcome> {
    let b = backend()?;
    let cols = cases(ins, seed);
    let n = cols[0].len();
    let k = elementwise_kernel(op, ins, out, imm, n);
    let data: Vec<Vec<u8>> = cols.iter().map(|c| bytes(c)).collect();
    let got = scalars(out, &run(b, &k, &data)[0]);
    let want = scalars(out, &reference(&k, &data)[0]);
    let (tol32, tol16, abs) = tolerance(op);
    let tol = if out == DType::F16 { tol16 } else { tol32 };
    let flushes = b.info().caps.semantics.has(Semantics::SUBNORMALS_FLUSHED);
    let mut o = Outcome {
        max_ulp: 0.0,
        bad: Vec::new(),
    };
    for i in 0..n {
        let (g, w) = (got[i], want[i]);
        if same(g, w) {
            continue;
        }
        let u = ulps(g, w);
        let diff = (g.as_f64() - w.as_f64()).abs();
        let subnormal = |s: Scalar| match s {
            Scalar::F32(x) => x != 0.0 && x.abs() < f32::MIN_POSITIVE,
            _ => false,
        };
        if flushes && (cols.iter().any(|c| subnormal(c[i])) || subnormal(w)) {
            continue;
        }
        if u.is_finite() {
            o.max_ulp = o.max_ulp.max(u);
        }
        if u <= tol || diff <= abs {
            continue;
        }
        let args: Vec<String> = cols.iter().map(|c| format!("{:?}", c[i])).collect();
        o.bad.push(format!(
            "{op}({}) -> {out}: got {g:?}, want {w:?} ({u} ulp)",
            args.join(", ")
        ));
    }
    Some(o)
}

fn report(failures: &mut Vec<String>, what: String, o: Outcome) {
    if o.max_ulp > 0.0 {
        println!("{what}: max {} ulp", o.max_ulp);
    }
    if !o.bad.is_empty() {
        failures.push(format!(
            "{what}: {} mismatches, e.g.\n    {}",
            o.bad.len(),
            o.bad
                .iter()
                .take(6)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n    ")
        ));
    }
}

#[test]
fn every_op_every_dtype() {
    if backend().is_none() {
        return;
    }
    let mut failures = Vec::new();
    for info in OPS {
        let op = info.op;
        if matches!(
            op,
            Op::CONST
                | Op::GIDX
                | Op::RIDX
                | Op::ACC
                | Op::LOAD
                | Op::CAST
                | Op::BITCAST
                | Op::SELECT
                | Op::THREEFRY2X32
        ) {
            continue;
        }
        for t in DTYPES {
            if !info.domain.contains(t) {
                continue;
            }
            let out = if info.result == oxjax_abi::ResultType::Bool {
                DType::BOOL
            } else {
                t
            };
            let ins = vec![t; info.arity];
            let o = check(op, &ins, out, 0, 0x1234_5678 + op.0 as u64).unwrap();
            report(&mut failures, format!("{op} {t}"), o);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn casts_and_bitcasts() {
    if backend().is_none() {
        return;
    }
    let mut failures = Vec::new();
    for from in DTYPES {
        for to in DTYPES {
            let o = check(Op::CAST, &[from], to, 0, 99).unwrap();
            report(&mut failures, format!("cast {from} -> {to}"), o);
            let bitcastable = from.size() == to.size() && from != DType::BOOL && to != DType::BOOL;
            if bitcastable {
                let o = check(Op::BITCAST, &[from], to, 0, 98).unwrap();
                report(&mut failures, format!("bitcast {from} -> {to}"), o);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn select_and_threefry() {
    if backend().is_none() {
        return;
    }
    let mut failures = Vec::new();
    for t in DTYPES {
        let o = check(Op::SELECT, &[DType::BOOL, t, t], t, 0, 5).unwrap();
        report(&mut failures, format!("select {t}"), o);
    }
    for word in 0..2 {
        let o = check(Op::THREEFRY2X32, &[DType::U32; 4], DType::U32, word, 6).unwrap();
        report(&mut failures, format!("threefry2x32 word {word}"), o);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Known-answer test of threefry (Random123's published vector).
#[test]
fn threefry_known_answer() {
    let Some(b) = backend() else { return };
    let mut kb = KernelBuilder::new();
    let k0 = kb.constant(Scalar::U32(0x1337_0000));
    let _ = k0;
    let g = kb.gidx();
    let i = kb.input(DType::U32);
    let x = kb.load(i, g);
    let zero = kb.constant(Scalar::U32(0));
    let w0 = kb.node(Op::THREEFRY2X32, DType::U32, &[zero, zero, zero, x], 0);
    let w1 = kb.node(Op::THREEFRY2X32, DType::U32, &[zero, zero, zero, x], 1);
    kb.output(w0);
    kb.output(w1);
    let k = kb.finish(1, 0);
    let out = run(b, &k, &[bytes(&[Scalar::U32(0)])]);
    // Random123 kat_vectors: threefry2x32_20, key 0, counter 0.
    assert_eq!(scalars(DType::U32, &out[0]), vec![Scalar::U32(0x6b20_0159)]);
    assert_eq!(scalars(DType::U32, &out[1]), vec![Scalar::U32(0x99ba_4efe)]);
}
