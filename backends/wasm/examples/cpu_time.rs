//! Kernel timings by the calling thread's CPU time, on one thread: on a
//! shared machine they move far less with other load than wall-clock
//! figures. `cargo run --release -p oxjax-backend-wasm --example cpu_time`
//! prints the matmul kernel's GFLOP/s per core (256..2048), the fused
//! `sqrt(exp(sin(x)*2+1) + x*x)` kernel on 4M f32 and the partial sums of
//! a 16M-element sum (4096 rows of 4096), best of five runs each.
use oxjax_abi::{Backend, DType, Kernel, KernelBuilder, Op, ReduceOp, Scalar};
fn cpu() -> f64 {
    let mut ts = [0i64; 2];
    unsafe extern "C" {
        fn clock_gettime(c: i32, t: *mut i64) -> i32;
    }
    unsafe { clock_gettime(3, ts.as_mut_ptr()) };
    ts[0] as f64 + ts[1] as f64 * 1e-9
}
fn matmul(m: usize, kk: usize, n: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let (a_in, b_in) = (b.input(DType::F32), b.input(DType::F32));
    let (g, r) = (b.gidx(), b.ridx());
    let cn = b.constant(Scalar::I32(n as i32));
    let ck = b.constant(Scalar::I32(kk as i32));
    let i = b.op(Op::IDIV, &[g, cn]);
    let j = b.op(Op::REM, &[g, cn]);
    let t = b.op(Op::MUL, &[i, ck]);
    let ai = b.op(Op::ADD, &[t, r]);
    let t = b.op(Op::MUL, &[r, cn]);
    let bi = b.op(Op::ADD, &[t, j]);
    let (x, y) = (b.load(a_in, ai), b.load(b_in, bi));
    let p = b.op(Op::MUL, &[x, y]);
    let acc = b.reduce(ReduceOp::ADD, p);
    b.output(acc);
    b.finish(m * n, kk)
}
fn chain(n: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let s = b.op(Op::SIN, &[x]);
    let two = b.constant(Scalar::F32(2.0));
    let one = b.constant(Scalar::F32(1.0));
    let s2 = b.op(Op::MUL, &[s, two]);
    let s3 = b.op(Op::ADD, &[s2, one]);
    let e = b.op(Op::EXP, &[s3]);
    let xx = b.op(Op::MUL, &[x, x]);
    let z = b.op(Op::ADD, &[e, xx]);
    let q = b.op(Op::SQRT, &[z]);
    b.output(q);
    b.finish(n, 0)
}
fn rowsum(rows: usize, rs: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let (g, r) = (b.gidx(), b.ridx());
    let c = b.constant(Scalar::I32(rs as i32));
    let base = b.op(Op::MUL, &[g, c]);
    let idx = b.op(Op::ADD, &[base, r]);
    let v = b.load(i, idx);
    let acc = b.reduce(ReduceOp::ADD, v);
    b.output(acc);
    b.finish(rows, rs)
}
fn time(be: &oxjax_backend_wasm::WasmBackend, k: &Kernel, inputs: &[usize]) -> f64 {
    let exe = be.compile(k).unwrap();
    let ins: Vec<_> = inputs
        .iter()
        .map(|&n| {
            let id = be.alloc(n as u64 * 4).unwrap();
            let v: Vec<u8> = (0..n)
                .flat_map(|i| (((i * 7919) % 1000) as f32 / 1000.0 - 0.5).to_le_bytes())
                .collect();
            be.write(id, 0, &v).unwrap();
            id
        })
        .collect();
    let out = be.alloc(k.size as u64 * 4).unwrap();
    be.execute(exe, &ins, &[out]).unwrap();
    let mut ts = vec![];
    for _ in 0..5 {
        let t = cpu();
        be.execute(exe, &ins, &[out]).unwrap();
        ts.push(cpu() - t);
    }
    ts.sort_by(f64::total_cmp);
    ts[0]
}
fn main() {
    let be = oxjax_backend_wasm::new("threads = 1\ncache_dir = \"\"").unwrap();
    for n in [256usize, 512, 1024, 2048] {
        let t = time(&be, &matmul(n, n, n), &[n * n, n * n]);
        println!(
            "matmul {n}: {:.1} GFLOP/s per core (cpu {:.2} ms)",
            2.0 * (n as f64).powi(3) / t / 1e9,
            t * 1e3
        );
    }
    let t = time(&be, &chain(4 << 20), &[4 << 20]);
    println!("chain 4M: {:.2} ms cpu on one thread", t * 1e3);
    let t = time(&be, &rowsum(4096, 4096), &[16 << 20]);
    println!(
        "rowsum 4096x4096: {:.2} ms cpu, {:.1} GB/s per core",
        t * 1e3,
        64.0 * 1048576.0 / t / 1e9
    );
}
