//! Matmul-shaped reductions: the tiled kernel against the reference, for
//! shapes that are not multiples of the tile, transposed operands, batches,
//! broadcast operands and fused epilogues.

mod common;

use common::*;
use oxjax_abi::{Backend, DType, Kernel, KernelBuilder, Op, ReduceOp, Scalar, Val};

struct Mm {
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    /// B has no batch axis (broadcast).
    b_bcast: bool,
    bias: bool,
    /// The product written `B · A` (the analysis finds the row operand).
    swap: bool,
    dtype: DType,
}

fn idiv(b: &mut KernelBuilder, x: Val, c: usize) -> Val {
    let c = b.i32(c as i32);
    b.op(Op::IDIV, &[x, c])
}
fn irem(b: &mut KernelBuilder, x: Val, c: usize) -> Val {
    let c = b.i32(c as i32);
    b.op(Op::REM, &[x, c])
}
fn lin(b: &mut KernelBuilder, terms: &[(Val, usize)]) -> Val {
    let mut acc = b.i32(0);
    for &(v, s) in terms {
        let s = b.i32(s as i32);
        let t = b.op(Op::MUL, &[v, s]);
        acc = b.op(Op::ADD, &[acc, t]);
    }
    acc
}

fn kernel(p: &Mm) -> Kernel {
    let (m, n, k) = (p.m, p.n, p.k);
    let mut b = KernelBuilder::new();
    let a_in = b.input(p.dtype);
    let b_in = b.input(p.dtype);
    let g = b.gidx();
    let r = b.ridx();
    let j = irem(&mut b, g, n);
    let gi = idiv(&mut b, g, n);
    let i = irem(&mut b, gi, m);
    let bt = idiv(&mut b, g, m * n);
    let ai = if p.ta {
        lin(&mut b, &[(bt, m * k), (r, m), (i, 1)])
    } else {
        lin(&mut b, &[(bt, m * k), (i, k), (r, 1)])
    };
    let bstride = if p.b_bcast { 0 } else { k * n };
    let bi = if p.tb {
        lin(&mut b, &[(bt, bstride), (j, k), (r, 1)])
    } else {
        lin(&mut b, &[(bt, bstride), (r, n), (j, 1)])
    };
    let x = b.load(a_in, ai);
    let y = b.load(b_in, bi);
    let prod = if p.swap {
        b.op(Op::MUL, &[y, x])
    } else {
        b.op(Op::MUL, &[x, y])
    };
    let acc = b.reduce(ReduceOp::ADD, prod);
    let out = if p.bias {
        let bias_in = b.input(p.dtype);
        let bv = b.load(bias_in, j);
        let s = b.op(Op::ADD, &[acc, bv]);
        let z = b.constant(Scalar::zero(p.dtype));
        b.op(Op::MAX, &[s, z])
    } else {
        acc
    };
    b.output(out);
    if p.bias {
        let c = b.cast(out, DType::I32);
        b.output(c);
    }
    b.finish(p.batch * m * n, k)
}

fn values(d: DType, n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let v: Vec<Scalar> = (0..n)
        .map(|_| match d {
            DType::F32 => Scalar::F32(rng.f32_in(-1.0, 1.0)),
            DType::I32 => Scalar::I32((rng.u32() % 9) as i32 - 4),
            _ => Scalar::U32(rng.u32() % 5),
        })
        .collect();
    bytes(&v)
}

fn check(p: Mm) {
    let Some(be) = backend() else { return };
    let k = kernel(&p);
    let exe = be.compile(&k).unwrap();
    let src = be.source(exe);
    be.release(exe);
    assert!(src.contains("fn tile_x"), "not tiled:\n{k}");
    let a_len = p.batch * p.m * p.k;
    let b_len = if p.b_bcast { 1 } else { p.batch } * p.k * p.n;
    let mut inputs = vec![values(p.dtype, a_len, 1), values(p.dtype, b_len, 2)];
    if p.bias {
        inputs.push(values(p.dtype, p.n, 3));
    }
    let got = run(be, &k, &inputs);
    let want = reference(&k, &inputs);
    for o in 0..k.outputs.len() {
        let d = k.output_dtype(o);
        let (g, w) = (scalars(d, &got[o]), scalars(d, &want[o]));
        for (e, (x, y)) in g.iter().zip(&w).enumerate() {
            let ok = same(*x, *y)
                || (d == DType::F32
                    && (x.as_f64() - y.as_f64()).abs()
                        <= 1e-5 * (p.k as f64).sqrt() * y.as_f64().abs().max(1.0));
            // The i32 cast of a float sum may differ by one where the sum
            // sits at an integer boundary.
            let ok = ok
                || (d == DType::I32
                    && p.dtype == DType::F32
                    && (x.as_f64() - y.as_f64()).abs() <= 1.0);
            assert!(ok, "output {o} element {e}: got {x:?}, want {y:?}\n{k}");
        }
    }
}

fn mm(batch: usize, m: usize, n: usize, k: usize) -> Mm {
    Mm {
        batch,
        m,
        n,
        k,
        ta: false,
        tb: false,
        b_bcast: false,
        bias: false,
        swap: false,
        dtype: DType::F32,
    }
}

#[test]
fn square_multiples_of_the_tile() {
    check(mm(1, 64, 64, 64));
    check(mm(1, 128, 64, 32));
}

#[test]
fn odd_shapes() {
    check(mm(1, 17, 33, 19));
    check(mm(1, 65, 100, 31));
    check(mm(1, 16, 16, 16));
    check(mm(1, 130, 70, 129));
}

#[test]
fn transposed_operands() {
    for (ta, tb) in [(true, false), (false, true), (true, true)] {
        check(Mm {
            ta,
            tb,
            ..mm(1, 37, 45, 53)
        });
    }
}

#[test]
fn batched_and_broadcast() {
    check(mm(3, 20, 24, 17));
    check(Mm {
        b_bcast: true,
        ..mm(4, 33, 18, 16)
    });
}

#[test]
fn fused_bias_relu_and_second_output() {
    check(Mm {
        bias: true,
        ..mm(2, 40, 50, 60)
    });
}

#[test]
fn operands_in_either_order() {
    check(Mm {
        swap: true,
        ..mm(2, 33, 40, 21)
    });
    check(Mm {
        swap: true,
        dtype: DType::I32,
        tb: true,
        ..mm(1, 20, 17, 16)
    });
}

#[test]
fn integer_matmuls_are_exact() {
    check(Mm {
        dtype: DType::I32,
        ..mm(1, 50, 30, 70)
    });
    check(Mm {
        dtype: DType::U32,
        tb: true,
        ..mm(2, 20, 20, 20)
    });
}

#[test]
fn non_matmul_reductions_are_not_tiled() {
    let Some(be) = backend() else { return };
    // A and B both indexed by gidx directly: not a matmul.
    let mut b = KernelBuilder::new();
    let a = b.input(DType::F32);
    let g = b.gidx();
    let r = b.ridx();
    let idx = b.op(Op::ADD, &[g, r]);
    let x = b.load(a, idx);
    let y = b.load(a, g);
    let p = b.op(Op::MUL, &[x, y]);
    let s = b.reduce(ReduceOp::ADD, p);
    b.output(s);
    let k = b.finish(100, 40);
    let exe = be.compile(&k).unwrap();
    assert!(!be.source(exe).contains("fn tile_x"));
    be.release(exe);
    let inputs = vec![values(DType::F32, 140, 5)];
    let got = scalars(DType::F32, &run(be, &k, &inputs)[0]);
    let want = scalars(DType::F32, &reference(&k, &inputs)[0]);
    for (x, y) in got.iter().zip(&want) {
        assert!((x.as_f64() - y.as_f64()).abs() < 1e-4, "{x:?} {y:?}");
    }
}
