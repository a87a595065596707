//! Reductions, matmul shapes, threads, memory, the compile cache and the
//! backend's handling of buffers and options.

use super::common::*;
use oxjax_abi::{Backend, DType, ErrorKind, Kernel, KernelBuilder, Op, ReduceOp, Scalar};
use proptest::prelude::*;

fn values(d: DType, n: usize, seed: u32) -> Vec<Scalar> {
    let s = specials(d);
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match d {
                DType::F32 => Scalar::F32((x % 2000) as f32 / 100.0 - 10.0),
                DType::F64 => Scalar::F64((x % 2000) as f64 / 100.0 - 10.0),
                DType::F16 => Scalar::F64((x % 2000) as f64 / 100.0 - 10.0).cast(DType::F16),
                DType::I32 => Scalar::I32((x % 200) as i32 - 100),
                DType::U32 => Scalar::U32(x % 200),
                _ if i % 7 == 0 => s[i % s.len()],
                _ => Scalar::Bool(x.is_multiple_of(2)),
            }
        })
        .collect()
}

fn assert_same(k: &Kernel, inputs: &[Vec<u8>], options: &str) {
    let b = backend(options);
    let got = run_wasm(&b, k, inputs);
    let want = run_ref(k, inputs);
    for (o, (g, w)) in got.iter().zip(&want).enumerate() {
        let d = k.output_dtype(o);
        let (g, w) = (from_bytes(d, g), from_bytes(d, w));
        for e in 0..g.len() {
            assert!(
                reduction_close(k, g[e], w[e]),
                "output {o} element {e}: wasm {:?} reference {:?}\n{k}",
                g[e],
                w[e]
            );
        }
    }
}

/// out[g] = reduce_{r < rsize} in[g * rsize + r]
fn row_reduce(op: ReduceOp, d: DType, rows: usize, rsize: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let i = b.input(d);
    let (g, r) = (b.gidx(), b.ridx());
    let c = b.constant(Scalar::I32(rsize as i32));
    let base = b.op(Op::MUL, &[g, c]);
    let idx = b.op(Op::ADD, &[base, r]);
    let v = b.load(i, idx);
    let acc = b.reduce(op, v);
    b.output(acc);
    b.finish(rows, rsize)
}

#[test]
fn reductions_match_for_every_op_and_dtype() {
    for d in DType::ALL {
        for op in ReduceOp::ALL {
            if d == DType::BOOL && matches!(op, ReduceOp::ADD | ReduceOp::MUL) {
                continue;
            }
            for (rows, rsize) in [(1, 1), (3, 7), (5, 40), (2, 0), (0, 5)] {
                let k = row_reduce(op, d, rows, rsize);
                let mut v = values(d, rows * rsize, 7);
                // sprinkle special values (NaN, ±0, ±Inf, extremes)
                let s = specials(d);
                for (j, x) in v.iter_mut().enumerate().step_by(11) {
                    *x = s[j % s.len()];
                }
                assert_same(&k, &[to_bytes(&v)], "threads = 1");
            }
        }
    }
}

#[test]
fn row_reductions_read_four_steps_at_a_time() {
    // rows >= 4 and rsize >= 4 take the blocked path (whole rows in
    // bounds), with rsize % 4 steps left over; a short input sends the
    // groups that touch its end to the per-element path (zeros past it).
    for d in [DType::F32, DType::I32, DType::U32] {
        for op in [ReduceOp::ADD, ReduceOp::MAX, ReduceOp::MUL] {
            for (rows, rsize, short) in [(9, 13, 0), (8, 4, 0), (6, 1027, 0), (12, 9, 50)] {
                let k = row_reduce(op, d, rows, rsize);
                let mut v = values(d, rows * rsize - short, 11);
                if op == ReduceOp::MUL {
                    // keep products finite and exact-ish: values near 1
                    for x in v.iter_mut() {
                        if let Scalar::F32(f) = x {
                            *f = 1.0 + *f / 1000.0;
                        }
                    }
                }
                for threads in ["threads = 1", "threads = 3"] {
                    assert_same(&k, &[to_bytes(&v)], threads);
                }
            }
        }
    }
}

#[test]
fn row_structured_loads_match() {
    // gidx = i N + j with N a multiple of 4: loads indexed by i alone
    // (one value per SIMD group), by j (consecutive), by j N + i
    // (transposed: lane by lane), and a reduction over r of a[i, r] b[r, j]
    // plus c[j] (not a plain product, so not the tiled matmul).
    for (m, n, rsize) in [(7, 12, 0), (9, 16, 5), (5, 4, 3)] {
        let mut b = KernelBuilder::default();
        let (ia, ib, ic) = (
            b.input(DType::F32),
            b.input(DType::F32),
            b.input(DType::F32),
        );
        let g = b.gidx();
        let cn = b.constant(Scalar::I32(n as i32));
        let cm = b.constant(Scalar::I32(m as i32));
        let i = b.op(Op::IDIV, &[g, cn]);
        let j = b.op(Op::REM, &[g, cn]);
        let ai = b.load(ia, i);
        let bj = b.load(ib, j);
        let jt = b.op(Op::MUL, &[j, cm]);
        let ti = b.op(Op::ADD, &[jt, i]);
        let ct = b.load(ic, ti);
        let x = b.op(Op::MUL, &[ai, bj]);
        let mut v = b.op(Op::ADD, &[x, ct]);
        if rsize > 0 {
            let r = b.ridx();
            let ck = b.constant(Scalar::I32(rsize as i32));
            let ir = b.op(Op::MUL, &[i, ck]);
            let air = b.op(Op::ADD, &[ir, r]);
            let rn = b.op(Op::MUL, &[r, cn]);
            let brj = b.op(Op::ADD, &[rn, j]);
            let (p, q) = (b.load(ia, air), b.load(ib, brj));
            let pq = b.op(Op::MUL, &[p, q]);
            let e = b.op(Op::MAX, &[pq, ct]);
            let s = b.op(Op::ADD, &[e, bj]);
            let acc = b.reduce(ReduceOp::ADD, s);
            v = b.op(Op::ADD, &[v, acc]);
        }
        b.output(v);
        let k = b.finish(m * n, rsize);
        let len = (m * n).max(m * rsize.max(1)).max(rsize * n);
        let inputs: Vec<Vec<u8>> = (0..3)
            .map(|s| to_bytes(&values(DType::F32, len, 20 + s)))
            .collect();
        for threads in ["threads = 1", "threads = 3"] {
            assert_same(&k, &inputs, threads);
        }
        // short inputs: out-of-bounds lanes read zero
        let short: Vec<Vec<u8>> = inputs.iter().map(|x| x[..x.len() / 2].to_vec()).collect();
        assert_same(&k, &short, "threads = 1");
    }
}

#[test]
fn reused_buffers_read_as_zero() {
    // A freed block comes back dirty: it must read as zeros, whole or in
    // part, however it is next used.
    let b = backend("threads = 1");
    let id = b.alloc(4096).unwrap();
    b.write(id, 0, &[7; 4096]).unwrap();
    b.free(id);
    let id = b.alloc(4000).unwrap();
    assert!(b.read(id, 0, 4000).unwrap().iter().all(|&x| x == 0));
    b.write(id, 0, &[9; 4000]).unwrap();
    b.free(id);
    let id = b.alloc(4000).unwrap();
    b.write(id, 100, &[1; 8]).unwrap();
    let got = b.read(id, 0, 4000).unwrap();
    assert!(got[..100].iter().chain(&got[108..]).all(|&x| x == 0));
    assert_eq!(&got[100..108], &[1; 8]);
    b.free(id);
    // as a kernel input: reads zeros
    let k = row_reduce(ReduceOp::ADD, DType::I32, 4, 250);
    let exe = b.compile(&k).unwrap();
    let (inp, out) = (b.alloc(4000).unwrap(), b.alloc(16).unwrap());
    b.execute(exe, &[inp], &[out]).unwrap();
    assert_eq!(b.read(out, 0, 16).unwrap(), vec![0; 16]);
}

#[test]
fn read_into_copies_any_range_on_any_thread_count() {
    // 10 MB: large enough that the copy is split over the threads.
    let n = 10 << 20;
    let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
    for threads in [1, 3] {
        let b = backend(&format!("threads = {threads}"));
        let id = b.alloc(n as u64).unwrap();
        b.write(id, 0, &data).unwrap();
        let mut all = vec![0u8; n];
        b.read_into(id, 0, &mut all).unwrap();
        assert!(all == data, "whole read with {threads} threads");
        let mut part = vec![0u8; n - 12345];
        b.read_into(id, 777, &mut part).unwrap();
        assert!(part[..] == data[777..777 + part.len()]);
        assert_eq!(b.read(id, 5, 100).unwrap(), data[5..105].to_vec());
        // past the end: an error naming the buffer, nothing written
        let mut over = vec![9u8; 16];
        let err = b.read_into(id, n as u64 - 8, &mut over).unwrap_err();
        assert!(err.message.contains("buffer"), "{}", err.message);
        assert_eq!(over, vec![9u8; 16]);
    }
}

#[test]
fn several_accumulators_epilogue_and_outputs() {
    // mean and max of each row, then (mean - max) * 2 and exp(mean) as two outputs
    for d in [DType::F16, DType::F32, DType::F64] {
        let (rows, rsize) = (9, 33);
        let mut b = KernelBuilder::default();
        let i = b.input(d);
        let (g, r) = (b.gidx(), b.ridx());
        let c = b.constant(Scalar::I32(rsize as i32));
        let base = b.op(Op::MUL, &[g, c]);
        let idx = b.op(Op::ADD, &[base, r]);
        let v = b.load(i, idx);
        let sq = b.op(Op::MUL, &[v, v]);
        let s = b.reduce(ReduceOp::ADD, v);
        let m = b.reduce(ReduceOp::MAX, v);
        let q = b.reduce(ReduceOp::ADD, sq);
        let n = b.constant(Scalar::F64(rsize as f64).cast(d));
        let mean = b.op(Op::DIV, &[s, n]);
        let two = b.constant(Scalar::F64(2.0).cast(d));
        let diff = b.op(Op::SUB, &[mean, m]);
        let o1 = b.op(Op::MUL, &[diff, two]);
        let ex = b.op(Op::EXP, &[mean]);
        let msq = b.op(Op::DIV, &[q, n]);
        let o2 = b.op(Op::ADD, &[ex, msq]);
        b.output(o1);
        b.output(o2);
        b.output(m);
        let k = b.finish(rows, rsize);
        let v = values(d, rows * rsize, 3);
        let inputs = [to_bytes(&v)];
        let be = backend("threads = 1");
        let got = run_wasm(&be, &k, &inputs);
        let want = run_ref(&k, &inputs);
        for o in 0..3 {
            let od = k.output_dtype(o);
            let (g, w) = (from_bytes(od, &got[o]), from_bytes(od, &want[o]));
            for e in 0..rows {
                let tol = if o == 1 { 2 } else { 0 };
                assert!(
                    ulps(g[e], w[e]) <= tol || reduction_close(&k, g[e], w[e]),
                    "{d} output {o}[{e}]: {:?} vs {:?}",
                    g[e],
                    w[e]
                );
            }
        }
    }
}

/// C[i, j] = sum_r A[i, r] * B[r, j] (or B[j, r] when `bt`), plus a bias
/// and a relu as the epilogue.
fn matmul(d: DType, m: usize, kk: usize, n: usize, at: bool, bt: bool) -> Kernel {
    matmul_with(d, m, kk, n, at, bt, true)
}

/// As [`matmul`]; without the bias and relu when `epilogue` is false.
fn matmul_with(
    d: DType,
    m: usize,
    kk: usize,
    n: usize,
    at: bool,
    bt: bool,
    epilogue: bool,
) -> Kernel {
    let mut b = KernelBuilder::default();
    let (a_in, b_in, bias_in) = (b.input(d), b.input(d), b.input(d));
    let (g, r) = (b.gidx(), b.ridx());
    let cn = b.constant(Scalar::I32(n as i32));
    let ck = b.constant(Scalar::I32(kk as i32));
    let cm = b.constant(Scalar::I32(m as i32));
    let i = b.op(Op::IDIV, &[g, cn]);
    let j = b.op(Op::REM, &[g, cn]);
    let ai = if at {
        let t = b.op(Op::MUL, &[r, cm]);
        b.op(Op::ADD, &[t, i])
    } else {
        let t = b.op(Op::MUL, &[i, ck]);
        b.op(Op::ADD, &[t, r])
    };
    let bi = if bt {
        let t = b.op(Op::MUL, &[j, ck]);
        b.op(Op::ADD, &[t, r])
    } else {
        let t = b.op(Op::MUL, &[r, cn]);
        b.op(Op::ADD, &[t, j])
    };
    let (x, y) = (b.load(a_in, ai), b.load(b_in, bi));
    let p = b.op(Op::MUL, &[x, y]);
    let acc = b.reduce(ReduceOp::ADD, p);
    if !epilogue {
        b.output(acc);
        return b.finish(m * n, kk);
    }
    let bias = b.load(bias_in, j);
    let z = b.op(Op::ADD, &[acc, bias]);
    let zero = b.constant(Scalar::zero(d));
    let relu = b.op(Op::MAX, &[z, zero]);
    b.output(relu);
    b.finish(m * n, kk)
}

#[test]
fn matmul_shapes_and_transposes() {
    for d in [DType::F32, DType::F64, DType::I32, DType::F16] {
        for (m, k, n) in [(1, 1, 1), (7, 13, 5), (33, 17, 65), (16, 64, 16), (3, 0, 4)] {
            for (at, bt) in [(false, false), (false, true), (true, false), (true, true)] {
                let kern = matmul(d, m, k, n, at, bt);
                let inputs = [
                    to_bytes(&values(d, m * k, 1)),
                    to_bytes(&values(d, k * n, 2)),
                    to_bytes(&values(d, n, 3)),
                ];
                assert_same(&kern, &inputs, "threads = 1");
                assert_same(&kern, &inputs, "threads = 2");
                // no room for the packing scratch (4 x 512 KiB): unpacked
                assert_same(&kern, &inputs, "threads = 4\nmax_memory_mb = 1");
            }
        }
    }
    // a plain product (the tiles store their accumulators directly)
    for (m, k, n) in [(9, 31, 17), (12, 5, 40)] {
        for (at, bt) in [(false, false), (true, true)] {
            let kern = matmul_with(DType::F32, m, k, n, at, bt, false);
            let inputs = [
                to_bytes(&values(DType::F32, m * k, 8)),
                to_bytes(&values(DType::F32, k * n, 9)),
                Vec::new(),
            ];
            assert_same(&kern, &inputs, "threads = 1");
        }
    }
    // the tiled micro-kernel is used for f32 (and only there)
    let b = backend("threads = 1");
    let exe = b
        .compile(&matmul(DType::F32, 33, 17, 65, false, true))
        .unwrap();
    assert!(
        b.source(exe).contains("oxjax-tiled-matmul"),
        "no tiled matmul"
    );
    let exe = b
        .compile(&matmul(DType::F64, 33, 17, 65, false, false))
        .unwrap();
    assert!(!b.source(exe).contains("oxjax-tiled-matmul"));
}

#[test]
fn large_tiled_matmul_with_threads() {
    // big enough to be split over threads in whole-row granules
    let (m, k, n) = (61, 45, 83);
    let kern = matmul(DType::F32, m, k, n, true, false);
    let inputs = [
        to_bytes(&values(DType::F32, m * k, 5)),
        to_bytes(&values(DType::F32, k * n, 6)),
        to_bytes(&values(DType::F32, n, 7)),
    ];
    assert_same(&kern, &inputs, "threads = 3");
    // an operand shorter than the index range falls back to the generic path
    let short = [
        inputs[0][..inputs[0].len() - 40].to_vec(),
        inputs[1].clone(),
        inputs[2].clone(),
    ];
    assert_same(&kern, &short, "threads = 2");
    // rows a multiple of 4 long: the bias + relu epilogue runs on four
    // elements at a time; fewer rows than a tile (a batch-1 product): the
    // row micro-kernel, its threads splitting rows into column steps
    for (m, k, n) in [
        (61, 45, 88),
        (8, 3, 4),
        (1, 37, 100),
        (3, 29, 88),
        (2, 64, 1000),
    ] {
        let kern = matmul(DType::F32, m, k, n, false, false);
        let inputs = [
            to_bytes(&values(DType::F32, m * k, 8)),
            to_bytes(&values(DType::F32, k * n, 9)),
            to_bytes(&values(DType::F32, n, 10)),
        ];
        assert_same(&kern, &inputs, "threads = 2");
    }
    // batch-1 products in axpy form: chunks of up to 1024 columns (here
    // two whole ones and a short one), K not a multiple of the 4-row pass,
    // threads splitting a row mid-chunk; with and without the epilogue
    for (m, k, n) in [(1, 131, 2100), (2, 7, 1030), (1, 3, 16)] {
        for epilogue in [false, true] {
            let kern = matmul_with(DType::F32, m, k, n, false, false, epilogue);
            let inputs = [
                to_bytes(&values(DType::F32, m * k, 13)),
                to_bytes(&values(DType::F32, k * n, 14)),
                to_bytes(&values(DType::F32, n, 15)),
            ];
            assert_same(&kern, &inputs, "threads = 1");
            // each sum in `ridx` order whoever computes it
            let one = run_wasm(&backend("threads = 1"), &kern, &inputs);
            for threads in ["threads = 2", "threads = 3"] {
                let got = run_wasm(&backend(threads), &kern, &inputs);
                assert!(
                    got == one,
                    "{m}x{k}x{n}, {threads}: differs from one thread"
                );
            }
        }
    }
    // a long K: the columns run in several blocks (the last one partial),
    // then the ragged columns and rows
    let (m, k, n) = (10, 2048, 150);
    for bt in [false, true] {
        let kern = matmul(DType::F32, m, k, n, false, bt);
        let inputs = [
            to_bytes(&values(DType::F32, m * k, 10)),
            to_bytes(&values(DType::F32, k * n, 11)),
            to_bytes(&values(DType::F32, n, 12)),
        ];
        assert_same(&kern, &inputs, "threads = 1");
        assert_same(&kern, &inputs, "threads = 2");
    }
}

#[test]
fn threads_on_and_off_give_identical_results() {
    // elementwise, large enough to be split
    let n = 300_001;
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let s = b.op(Op::SIN, &[x]);
    let gf = b.cast(g, DType::F32);
    let y = b.op(Op::MUL, &[s, gf]);
    b.output(y);
    let k = b.finish(n, 0);
    let inputs = [to_bytes(&values(DType::F32, n, 9))];
    let one = run_wasm(&backend("threads = 1"), &k, &inputs);
    let b4 = backend("threads = 4");
    let four = run_wasm(&b4, &k, &inputs);
    assert_eq!(one, four);
    assert_eq!(b4.worker_jobs(), 3, "three ranges ran on worker threads");
    // small kernels stay on the calling thread
    let small = [to_bytes(&values(DType::F32, 1000, 9))];
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let y = b.op(Op::MUL, &[x, x]);
    b.output(y);
    run_wasm(&b4, &b.finish(1000, 0), &small);
    assert_eq!(b4.worker_jobs(), 3);
    // three threads split at other places: still identical
    assert_eq!(one, run_wasm(&backend("threads = 3"), &k, &inputs));
    // a reduction split over gidx
    let k = matmul(DType::F32, 70, 50, 40, false, true);
    let inputs = [
        to_bytes(&values(DType::F32, 70 * 50, 1)),
        to_bytes(&values(DType::F32, 50 * 40, 2)),
        to_bytes(&values(DType::F32, 40, 3)),
    ];
    let one = run_wasm(&backend("threads = 1"), &k, &inputs);
    let two = run_wasm(&backend("threads = 2"), &k, &inputs);
    assert_eq!(one, two);
}

#[test]
fn out_of_bounds_loads_read_zero() {
    for d in DType::ALL {
        let mut b = KernelBuilder::default();
        let i = b.input(d);
        let g = b.gidx();
        let c = b.constant(Scalar::I32(-5));
        let idx = b.op(Op::ADD, &[g, c]);
        let v = b.load(i, idx);
        b.output(v);
        let k = b.finish(20, 0);
        assert_same(&k, &[to_bytes(&values(d, 10, 4))], "threads = 1");
        // an empty input
        assert_same(&k, &[Vec::new()], "threads = 1");
        // invariant indices (in and out of bounds) plus a consecutive one
        let mut b = KernelBuilder::default();
        let i = b.input(d);
        let g = b.gidx();
        let (c3, cm) = (b.constant(Scalar::I32(3)), b.constant(Scalar::I32(-1)));
        let (x, y) = (b.load(i, c3), b.load(i, cm));
        let gi = b.op(Op::ADD, &[c3, g]);
        let z = b.load(i, gi);
        let cmp = b.op(Op::EQ, &[x, y]);
        b.output(x);
        b.output(y);
        b.output(z);
        b.output(cmp);
        let k = b.finish(23, 0);
        assert_same(&k, &[to_bytes(&values(d, 10, 4))], "threads = 1");
    }
}

#[test]
fn out_of_memory_is_an_error_not_a_crash() {
    let b = backend("max_memory_mb = 2");
    let e = b.alloc(10 << 20).expect_err("10 MiB in a 2 MiB memory");
    assert_eq!(e.kind, ErrorKind::OUT_OF_MEMORY, "{e}");
    let mut ids = Vec::new();
    let err = loop {
        match b.alloc(100_000) {
            Ok(id) => ids.push(id),
            Err(e) => break e,
        }
        assert!(ids.len() < 100, "the limit is not enforced");
    };
    assert_eq!(err.kind, ErrorKind::OUT_OF_MEMORY);
    // freeing makes room again, and reused blocks come back zeroed
    b.write(ids[0], 0, &[7u8; 100]).unwrap();
    b.free(ids[0]);
    let again = b.alloc(100_000).expect("reuse a freed block");
    assert!(b.read(again, 0, 100_000).unwrap().iter().all(|&x| x == 0));
}

#[test]
fn compile_cache_hits_return_the_same_executable() {
    let b = backend("threads = 1");
    let k = row_reduce(ReduceOp::ADD, DType::F32, 4, 4);
    let e1 = b.compile(&k).unwrap();
    let e2 = b.compile(&k.clone()).unwrap();
    assert_eq!(e1, e2);
    let other = b
        .compile(&row_reduce(ReduceOp::MAX, DType::F32, 4, 4))
        .unwrap();
    assert_ne!(e1, other);
    let wat = b.source(e1);
    assert!(wat.contains("(module") && wat.contains("\"run\""), "{wat}");
    // one release keeps the executable for the other holder
    b.release(e1);
    let (i, o) = (b.alloc(64).unwrap(), b.alloc(16).unwrap());
    b.execute(e2, &[i], &[o]).expect("still compiled");
    b.release(e2);
    assert_eq!(
        b.execute(e2, &[i], &[o]).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
}

#[test]
fn buffers_and_arguments_are_checked() {
    let b = backend("");
    let id = b.alloc(16).unwrap();
    assert_eq!(
        b.write(id, 10, &[0; 8]).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    assert_eq!(
        b.read(id, 0, 17).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    let z = b.alloc(0).unwrap();
    assert!(b.read(z, 0, 0).unwrap().is_empty());
    let k = row_reduce(ReduceOp::ADD, DType::F32, 8, 2);
    let exe = b.compile(&k).unwrap();
    // output too small
    assert_eq!(
        b.execute(exe, &[id], &[id]).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    assert_eq!(
        b.execute(exe, &[], &[id]).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    assert!(b.info().caps.supports_op(Op::ERFC));
}

#[test]
fn options_are_validated() {
    for bad in [
        "thread = 2",
        "threads = 0",
        "threads = \"x\"",
        "max_memory_mb = -1",
        "[[x",
    ] {
        let e = oxjax_backend_wasm::new(bad).err().expect(bad);
        assert_eq!(e.kind, ErrorKind::INVALID_ARGUMENT, "{bad}: {e}");
    }
    assert_eq!(
        backend("threads = 3\n# comment\nmax_memory_mb = 64").threads(),
        3
    );
}

const CHAIN_OPS: [Op; 8] = [
    Op::ADD,
    Op::SUB,
    Op::MUL,
    Op::MAX,
    Op::MIN,
    Op::DIV,
    Op::REM,
    Op::IDIV,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random chains of binary ops over two inputs, for f32 and i32.
    #[test]
    fn random_chains_match(ops in prop::collection::vec((0..CHAIN_OPS.len(), any::<bool>()), 1..8),
                           float in any::<bool>(),
                           xs in prop::collection::vec(-1000i32..1000, 1..50)) {
        let d = if float { DType::F32 } else { DType::I32 };
        let mut b = KernelBuilder::default();
        let (i0, i1) = (b.input(d), b.input(d));
        let g = b.gidx();
        let (x, y) = (b.load(i0, g), b.load(i1, g));
        let mut v = x;
        for (o, swap) in ops {
            let op = CHAIN_OPS[o];
            let op = match (op, float) {
                (Op::IDIV, true) => Op::DIV,
                (Op::DIV, false) => Op::IDIV,
                (op, _) => op,
            };
            v = if swap { b.op(op, &[y, v]) } else { b.op(op, &[v, y]) };
        }
        b.output(v);
        let k = b.finish(xs.len(), 0);
        let conv = |v: i32| if float { Scalar::F32(v as f32 / 8.0) } else { Scalar::I32(v) };
        let a: Vec<Scalar> = xs.iter().map(|&v| conv(v)).collect();
        let c: Vec<Scalar> = xs.iter().rev().map(|&v| conv(v / 3)).collect();
        assert_same(&k, &[to_bytes(&a), to_bytes(&c)], "threads = 1");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// Loads at random index expressions (strided, wrapped, shifted out of
    /// bounds, invariant), as views produce, for every dtype.
    #[test]
    fn random_view_indices_match(a in -3i32..4, c in -20i32..20, m in 1i32..40, n in 1usize..60,
                                 len in 0usize..50, dt in 0usize..DType::ALL.len(), invariant in any::<bool>()) {
        let d = DType::ALL[dt];
        let mut b = KernelBuilder::default();
        let i = b.input(d);
        let g = b.gidx();
        let (ca, cc, cm) = (b.constant(Scalar::I32(a)), b.constant(Scalar::I32(c)), b.constant(Scalar::I32(m)));
        let base = if invariant { cc } else { b.op(Op::MUL, &[g, ca]) };
        let wrapped = b.op(Op::REM, &[base, cm]);
        let idx = b.op(Op::ADD, &[wrapped, cc]);
        let x = b.load(i, idx);
        let shifted = b.op(Op::SUB, &[g, cc]);
        let y = b.load(i, shifted);
        let z = b.op(Op::MAX, &[x, y]);
        b.output(z);
        b.output(x);
        let k = b.finish(n, 0);
        assert_same(&k, &[to_bytes(&values(d, len, 11))], "threads = 1");
    }
}

#[test]
#[ignore = "prints the WAT of a kernel; run with --ignored --nocapture"]
fn print_chain_wat() {
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let s = b.op(Op::SIN, &[x]);
    let two = b.constant(Scalar::F32(2.0));
    let y = b.op(Op::MUL, &[s, two]);
    let e = b.op(Op::EXP, &[y]);
    b.output(e);
    let k = b.finish(1000, 0);
    let be = backend("threads = 1");
    let exe = be.compile(&k).unwrap();
    println!("{}", be.source(exe));
}

#[test]
fn signed_division_by_one_on_both_paths() {
    // `x / 1` and `x % 1` for negative x: the power-of-two shift form's
    // bias would shift by 32 (read as 0 by wasm) and made `-4 % 1` = 1 on
    // the scalar path; 7 elements: a vector group of four, then three alone
    for c in [1, 2, 8] {
        let mut b = KernelBuilder::default();
        let g = b.gidx();
        let (neg, cc) = (b.constant(Scalar::I32(-3)), b.constant(Scalar::I32(c)));
        let x = b.op(Op::MUL, &[g, neg]);
        let q = b.op(Op::IDIV, &[x, cc]);
        let r = b.op(Op::REM, &[x, cc]);
        b.output(q);
        b.output(r);
        let k = b.finish(7, 0);
        let want = run_ref(&k, &[]);
        assert_eq!(run_wasm(&backend("threads = 1"), &k, &[]), want, "c = {c}");
    }
}
