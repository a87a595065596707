//! Rough timings of the WebGPU backend:
//! `cargo run --release -p oxjax-backend-webgpu --example webgpu_bench`.

use oxjax_abi::{
    Backend, DType, Kernel, KernelBuilder, Op, ReduceOp, Routine, RoutineKind, TensorDesc,
};
use std::time::Instant;

fn matmul(n: usize) -> Kernel {
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let y = b.input(DType::F32);
    let g = b.gidx();
    let r = b.ridx();
    let nn = b.i32(n as i32);
    let i = b.op(Op::IDIV, &[g, nn]);
    let j = b.op(Op::REM, &[g, nn]);
    let ik = b.op(Op::MUL, &[i, nn]);
    let ai = b.op(Op::ADD, &[ik, r]);
    let rn = b.op(Op::MUL, &[r, nn]);
    let bi = b.op(Op::ADD, &[rn, j]);
    let xv = b.load(x, ai);
    let yv = b.load(y, bi);
    let p = b.op(Op::MUL, &[xv, yv]);
    let s = b.reduce(ReduceOp::ADD, p);
    b.output(s);
    b.finish(n * n, n)
}

/// Seconds per run of `exe` (after one warm-up), averaged over `reps`.
fn time(be: &impl Backend, k: &Kernel, in_elems: usize, reps: usize) -> f64 {
    let exe = be.compile(k).unwrap();
    let ins: Vec<_> = k
        .inputs
        .iter()
        .map(|_| be.alloc(in_elems as u64 * 4).unwrap())
        .collect();
    let out = be.alloc(k.size as u64 * 4).unwrap();
    be.execute(exe, &ins, &[out]).unwrap();
    be.synchronize().unwrap();
    let t = Instant::now();
    for _ in 0..reps {
        be.execute(exe, &ins, &[out]).unwrap();
    }
    be.synchronize().unwrap();
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let be = oxjax_backend_webgpu::new("").expect("no WebGPU adapter");
    println!("device: {}", be.info().device);

    let n = 1 << 20;
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let y = b.input(DType::F32);
    let g = b.gidx();
    let xv = b.load(x, g);
    let yv = b.load(y, g);
    let s = b.op(Op::ADD, &[xv, yv]);
    b.output(s);
    let add = b.finish(n, 0);
    let t = time(&be, &add, n, 50);
    println!(
        "add 1M f32: {:.3} ms ({:.2} GB/s)",
        t * 1e3,
        12.0 * n as f64 / t / 1e9
    );

    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let g = b.gidx();
    let xv = b.load(x, g);
    let e = b.op(Op::EXP, &[xv]);
    let sn = b.op(Op::SIN, &[e]);
    b.output(sn);
    let tr = b.finish(n, 0);
    let t = time(&be, &tr, n, 20);
    println!("sin(exp(x)) 1M f32: {:.3} ms", t * 1e3);

    // Row sums of a 16 x 65536 matrix (tree reduction).
    let (m, k) = (16usize, 65536usize);
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let g = b.gidx();
    let r = b.ridx();
    let kk = b.i32(k as i32);
    let row = b.op(Op::MUL, &[g, kk]);
    let idx = b.op(Op::ADD, &[row, r]);
    let v = b.load(x, idx);
    let s = b.reduce(ReduceOp::ADD, v);
    b.output(s);
    let red = b.finish(m, k);
    let t = time(&be, &red, m * k, 20);
    println!("row sums 16 x 65536 f32: {:.3} ms", t * 1e3);

    for n in [256usize, 512] {
        let k = matmul(n);
        let t = time(&be, &k, n * n, 5);
        println!(
            "matmul {n}^3 f32 ({}): {:.2} ms, {:.2} GFLOP/s",
            if std::env::var("OXJAX_WEBGPU_TILING").is_ok_and(|v| v == "0") {
                "generic"
            } else {
                "tiled"
            },
            t * 1e3,
            2.0 * (n * n * n) as f64 / t / 1e9
        );
    }

    let n = 1u64 << 20;
    let desc = |d: DType| TensorDesc {
        dtype: d,
        shape: vec![n].into(),
    };
    let r = Routine {
        kind: RoutineKind::ARGSORT,
        inputs: vec![desc(DType::F32)].into(),
        outputs: vec![desc(DType::I32)].into(),
        params: vec![0].into(),
    };
    let exe = be.compile_routine(&r).unwrap();
    let (i, o) = (be.alloc(n * 4).unwrap(), be.alloc(n * 4).unwrap());
    be.execute(exe, &[i], &[o]).unwrap();
    be.synchronize().unwrap();
    let t = Instant::now();
    be.execute(exe, &[i], &[o]).unwrap();
    be.synchronize().unwrap();
    println!("argsort 1M f32: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
}
