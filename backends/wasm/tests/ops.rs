//! Every op × dtype against the reference backend, on special values.

use super::common::*;
use oxjax_abi::{DType, Kernel, KernelBuilder, OPS, Op, Scalar};
use std::collections::BTreeMap;

/// Transcendental and other inexact ops: the ULP bound per dtype.
fn tolerance(op: Op, d: DType) -> u64 {
    let inexact = matches!(
        op,
        Op::EXP
            | Op::EXP2
            | Op::LOG
            | Op::LOG2
            | Op::LOG1P
            | Op::EXPM1
            | Op::SIN
            | Op::COS
            | Op::TAN
            | Op::ASIN
            | Op::ACOS
            | Op::ATAN
            | Op::SINH
            | Op::COSH
            | Op::TANH
            | Op::ERF
            | Op::ERFC
            | Op::POW
            | Op::ATAN2
    );
    match (inexact, d) {
        (false, _) => 0,
        (true, DType::F16) => 1,
        (true, DType::F32) => 2,
        (true, _) => 8,
    }
}

/// A kernel applying `op` elementwise to `arity` inputs of dtype `d`.
fn op_kernel(op: Op, d: DType, to: DType, arity: usize, n: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let g = b.gidx();
    let args: Vec<_> = (0..arity)
        .map(|_| {
            let i = b.input(d);
            b.load(i, g)
        })
        .collect();
    let v = match op {
        Op::CAST => b.node(Op::CAST, to, &args, 0),
        Op::BITCAST => b.node(Op::BITCAST, to, &args, 0),
        _ => b.op(op, &args),
    };
    b.output(v);
    b.finish(n, 0)
}

/// Runs `op` on all combinations of special values; returns the max ULP
/// distance and the first offending case beyond `tol`.
fn check(op: Op, d: DType, to: DType, arity: usize, tol: u64) -> (u64, Option<String>) {
    let s = specials(d);
    let mut cols: Vec<Vec<Scalar>> = vec![Vec::new(); arity];
    let mut idx = vec![0usize; arity];
    loop {
        for (c, &i) in cols.iter_mut().zip(&idx) {
            c.push(s[i]);
        }
        let mut k = 0;
        while k < arity {
            idx[k] += 1;
            if idx[k] < s.len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
        if k == arity {
            break;
        }
    }
    let n = cols[0].len();
    let kernel = op_kernel(op, d, to, arity, n);
    let inputs: Vec<Vec<u8>> = cols.iter().map(|c| to_bytes(c)).collect();
    let b = backend("threads = 1");
    let got = run_wasm(&b, &kernel, &inputs);
    let want = run_ref(&kernel, &inputs);
    let od = kernel.output_dtype(0);
    let (g, w) = (from_bytes(od, &got[0]), from_bytes(od, &want[0]));
    let mut worst = 0;
    let mut bad = None;
    for e in 0..n {
        let u = ulps(g[e], w[e]);
        worst = worst.max(u);
        if u > tol && bad.is_none() {
            let a: Vec<String> = cols.iter().map(|c| format!("{:?}", c[e])).collect();
            bad = Some(format!(
                "{op}({}) : {d} -> {od}: wasm {:?}, reference {:?} ({u} ulps)",
                a.join(", "),
                g[e],
                w[e]
            ));
        }
    }
    (worst, bad)
}

#[test]
fn every_op_and_dtype_matches_the_reference_on_special_values() {
    let mut failures = Vec::new();
    let mut table = BTreeMap::new();
    for info in OPS {
        if info.arity == 0 || matches!(info.op, Op::LOAD | Op::SELECT | Op::THREEFRY2X32) {
            continue;
        }
        for d in DType::ALL {
            if matches!(info.op, Op::CAST | Op::BITCAST) {
                for to in DType::ALL {
                    if info.op == Op::BITCAST
                        && (to.size() != d.size() || to == DType::BOOL || d == DType::BOOL)
                    {
                        continue;
                    }
                    // f64 -> f16: the reference goes through `half`, which is
                    // not correctly rounded on every host; allow one ULP.
                    let tol = u64::from(d == DType::F64 && to == DType::F16);
                    let (w, bad) = check(info.op, d, to, 1, tol);
                    table.insert(format!("{}:{d}->{to}", info.name), w);
                    failures.extend(bad);
                }
                continue;
            }
            if !info.domain.contains(d) {
                continue;
            }
            let tol = tolerance(info.op, d);
            let (w, bad) = check(info.op, d, d, info.arity, tol);
            table.insert(format!("{}:{d}", info.name), w);
            failures.extend(bad);
        }
    }
    for (k, v) in &table {
        if *v > 0 {
            eprintln!("max ulps {k}: {v}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn select_and_threefry_match() {
    for d in DType::ALL {
        let s = specials(d);
        let n = s.len() * 2;
        let mut b = KernelBuilder::default();
        let (c, x, y) = (b.input(DType::BOOL), b.input(d), b.input(d));
        let g = b.gidx();
        let (lc, lx, ly) = (b.load(c, g), b.load(x, g), b.load(y, g));
        let v = b.select(lc, lx, ly);
        b.output(v);
        let k = b.finish(n, 0);
        let conds: Vec<Scalar> = (0..n).map(|i| Scalar::Bool(i.is_multiple_of(3))).collect();
        let xs: Vec<Scalar> = (0..n).map(|i| s[i % s.len()]).collect();
        let ys: Vec<Scalar> = (0..n).map(|i| s[(i * 7 + 3) % s.len()]).collect();
        let inputs = vec![to_bytes(&conds), to_bytes(&xs), to_bytes(&ys)];
        let be = backend("threads = 1");
        assert_eq!(
            run_wasm(&be, &k, &inputs),
            run_ref(&k, &inputs),
            "select {d}"
        );
    }
    let mut b = KernelBuilder::default();
    let i = b.input(DType::U32);
    let g = b.gidx();
    let k0 = b.load(i, g);
    let c3 = b.constant(Scalar::U32(3));
    let gi = b.cast(g, DType::U32);
    let w0 = b.node(Op::THREEFRY2X32, DType::U32, &[k0, c3, gi, k0], 0);
    let w1 = b.node(Op::THREEFRY2X32, DType::U32, &[k0, c3, gi, k0], 1);
    b.output(w0);
    b.output(w1);
    let k = b.finish(100, 0);
    let keys: Vec<Scalar> = (0..100u32)
        .map(|v| Scalar::U32(v.wrapping_mul(0x9E37_79B9)))
        .collect();
    let inputs = vec![to_bytes(&keys)];
    let be = backend("threads = 1");
    assert_eq!(run_wasm(&be, &k, &inputs), run_ref(&k, &inputs));
}
