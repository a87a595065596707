//! Quick timings of the wasm backend on its own (no core, no jit):
//! `cargo run --release -p oxjax-backend-wasm --example bench [-- threads]`.
//!
//! `-- --cpu-time` instead times kernels by the calling thread's CPU time on
//! one thread (best of five), which moves far less with other load on a
//! shared machine than wall-clock figures: the matmul kernel's GFLOP/s per
//! core (256..2048), the fused chain kernel on 4M f32 and its parts (a
//! copy, sin, exp, sqrt), other special functions, fmod, batch-1
//! products, the partial sums of a 16M-element sum (4096 rows of 4096) and
//! the SOFTMAX routine on 4096 rows of 1024. `WASM_OPTS='fma = false'`
//! adds backend options.

use oxjax_abi::{Backend, DType, Kernel, KernelBuilder, Op, ReduceOp, Scalar};
use oxjax_backend_wasm::WasmBackend;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median seconds of `f` over `runs` runs after one warm-up.
fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn matmul(n: usize) -> Kernel {
    product(n, n, n)
}

/// `(m x k) @ (k x n)`, both row-major.
fn product(m: usize, k: usize, n: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let (x, y) = (b.input(DType::F32), b.input(DType::F32));
    let (g, r) = (b.gidx(), b.ridx());
    let cn = b.constant(Scalar::I32(n as i32));
    let i = b.op(Op::IDIV, &[g, cn]);
    let j = b.op(Op::REM, &[g, cn]);
    let ck = b.constant(Scalar::I32(k as i32));
    let t = b.op(Op::MUL, &[i, ck]);
    let ai = b.op(Op::ADD, &[t, r]);
    let t = b.op(Op::MUL, &[r, cn]);
    let bi = b.op(Op::ADD, &[t, j]);
    let (p, q) = (b.load(x, ai), b.load(y, bi));
    let prod = b.op(Op::MUL, &[p, q]);
    let acc = b.reduce(ReduceOp::ADD, prod);
    b.output(acc);
    b.finish(m * n, k)
}

/// `sqrt(exp(sin(x) * 2 + 1) + x * x)` on `n` f32 (the core's chain_4m kernel).
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
    let y = b.op(Op::ADD, &[e, xx]);
    let z = b.op(Op::SQRT, &[y]);
    b.output(z);
    b.finish(n, 0)
}

/// `op(x)` on `n` f32 (`None`: a plain copy), to split the chain's cost.
fn unary(op: Option<Op>, n: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let y = op.map_or(x, |op| b.op(op, &[x]));
    b.output(y);
    b.finish(n, 0)
}

/// `erf(tanh(x) log1p(x x))` on `n` f32 (the core's special_chain_4m kernel).
fn special_chain(n: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let t = b.op(Op::TANH, &[x]);
    let xx = b.op(Op::MUL, &[x, x]);
    let l = b.op(Op::LOG1P, &[xx]);
    let p = b.op(Op::MUL, &[t, l]);
    let y = b.op(Op::ERF, &[p]);
    b.output(y);
    b.finish(n, 0)
}

/// `pow(x + 1, x)` on `n` f32.
fn pow_kernel(n: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let one = b.constant(Scalar::F32(1.0));
    let base = b.op(Op::ADD, &[x, one]);
    let y = b.op(Op::POW, &[base, x]);
    b.output(y);
    b.finish(n, 0)
}

/// `fmod(x, 0.7)` on `n` f32.
fn fmod_kernel(n: usize) -> Kernel {
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let y = b.constant(Scalar::F32(0.7));
    let r = b.op(Op::REM, &[x, y]);
    b.output(r);
    b.finish(n, 0)
}

/// Sums of `rows` rows of `rs` f32 each (the first stage of a long sum).
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

/// This thread's CPU time in seconds.
fn cpu() -> f64 {
    let mut ts = [0i64; 2];
    unsafe extern "C" {
        fn clock_gettime(c: i32, t: *mut i64) -> i32;
    }
    // SAFETY: CLOCK_THREAD_CPUTIME_ID (3) writes one timespec (two i64 on
    // 64-bit Linux) into `ts`.
    unsafe { clock_gettime(3, ts.as_mut_ptr()) };
    ts[0] as f64 + ts[1] as f64 * 1e-9
}

/// Best-of-five CPU seconds of one execution of `k` on inputs of `inputs` f32.
fn cpu_time(be: &WasmBackend, k: &Kernel, inputs: &[usize]) -> f64 {
    cpu_time_scaled(be, k, inputs, 1.0)
}

/// [`cpu_time`] on inputs spread over [-scale/2, scale/2).
fn cpu_time_scaled(be: &WasmBackend, k: &Kernel, inputs: &[usize], scale: f32) -> f64 {
    let exe = be.compile(k).unwrap();
    let ins: Vec<_> = inputs
        .iter()
        .map(|&n| {
            let id = be.alloc(n as u64 * 4).unwrap();
            let v: Vec<u8> = (0..n)
                .flat_map(|i| ((((i * 7919) % 1000) as f32 / 1000.0 - 0.5) * scale).to_le_bytes())
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

fn cpu_main() {
    let be = oxjax_backend_wasm::new(&format!(
        "threads = 1\ncache_dir = \"\"\n{}",
        std::env::var("WASM_OPTS").unwrap_or_default()
    ))
    .unwrap();
    // batch-1 products (mlp_infer_b1's layers): B read once, by rows
    for (k, n) in [(784usize, 512usize), (512, 512)] {
        let t = cpu_time(&be, &product(1, k, n), &[k, k * n]);
        println!(
            "row-vector product 1x{k}x{n}: {:.1} GB/s of B per core (cpu {:.1} us)",
            (k * n * 4) as f64 / t / 1e9,
            t * 1e6
        );
    }
    for n in [256usize, 512, 1024, 2048] {
        let t = cpu_time(&be, &matmul(n), &[n * n, n * n]);
        println!(
            "matmul {n}: {:.1} GFLOP/s per core (cpu {:.2} ms)",
            2.0 * (n as f64).powi(3) / t / 1e9,
            t * 1e3
        );
    }
    let t = cpu_time(&be, &chain(4 << 20), &[4 << 20]);
    println!("chain 4M: {:.2} ms cpu on one thread", t * 1e3);
    for (name, op) in [
        ("copy", None),
        ("sin", Some(Op::SIN)),
        ("exp", Some(Op::EXP)),
        ("sqrt", Some(Op::SQRT)),
        ("log", Some(Op::LOG)),
        ("tanh", Some(Op::TANH)),
        ("log1p", Some(Op::LOG1P)),
        ("erf", Some(Op::ERF)),
        ("erfc", Some(Op::ERFC)),
        ("atan", Some(Op::ATAN)),
        ("tan", Some(Op::TAN)),
    ] {
        let t = cpu_time(&be, &unary(op, 4 << 20), &[4 << 20]);
        // over [-4, 4): the special functions' other branches
        let w = cpu_time_scaled(&be, &unary(op, 4 << 20), &[4 << 20], 8.0);
        println!(
            "{name} 4M: {:.2} ms cpu on one thread ({:.2} ms on [-4, 4))",
            t * 1e3,
            w * 1e3
        );
    }
    let t = cpu_time(&be, &pow_kernel(4 << 20), &[4 << 20]);
    println!("pow(x + 1, x) 4M: {:.2} ms cpu on one thread", t * 1e3);
    let t = cpu_time_scaled(&be, &fmod_kernel(4 << 20), &[4 << 20], 1000.0);
    println!(
        "fmod(x, 0.7) 4M on [-500, 500): {:.2} ms cpu on one thread",
        t * 1e3
    );
    let t = cpu_time(&be, &special_chain(4 << 20), &[4 << 20]);
    println!("special chain 4M: {:.2} ms cpu on one thread", t * 1e3);
    let t = cpu_time(&be, &rowsum(4096, 4096), &[16 << 20]);
    println!(
        "rowsum 4096x4096: {:.2} ms cpu, {:.1} GB/s per core",
        t * 1e3,
        64.0 * 1048576.0 / t / 1e9
    );
    let t = softmax_cpu_time(&be, 4096, 1024);
    println!(
        "softmax routine 4096x1024: {:.2} ms cpu, {:.1} GB/s per core (read + write)",
        t * 1e3,
        32.0 * 1048576.0 / t / 1e9
    );
}

/// Best-of-five CPU seconds of the SOFTMAX routine on `rows x n` f32.
fn softmax_cpu_time(be: &WasmBackend, rows: usize, n: usize) -> f64 {
    use oxjax_abi::{Routine, RoutineKind, TensorDesc};
    let desc = || TensorDesc {
        dtype: DType::F32,
        shape: vec![rows as u64, n as u64].into(),
    };
    let r = Routine {
        kind: RoutineKind::SOFTMAX,
        inputs: vec![desc()].into(),
        outputs: vec![desc()].into(),
        params: vec![].into(),
    };
    let exe = be.compile_routine(&r).unwrap();
    let bytes = (rows * n * 4) as u64;
    let (i, o) = (be.alloc(bytes).unwrap(), be.alloc(bytes).unwrap());
    let v: Vec<u8> = (0..rows * n)
        .flat_map(|i| (((i * 7919) % 1000) as f32 / 100.0 - 5.0).to_le_bytes())
        .collect();
    be.write(i, 0, &v).unwrap();
    be.execute(exe, &[i], &[o]).unwrap();
    let mut ts = vec![];
    for _ in 0..5 {
        let t = cpu();
        be.execute(exe, &[i], &[o]).unwrap();
        ts.push(cpu() - t);
    }
    ts.sort_by(f64::total_cmp);
    ts[0]
}

fn run(be: &WasmBackend, k: &Kernel, inputs: &[u64], runs: usize) -> f64 {
    let exe = be.compile(k).unwrap();
    let ins: Vec<_> = inputs.iter().map(|&n| be.alloc(n).unwrap()).collect();
    let outs: Vec<_> = (0..k.outputs.len())
        .map(|o| {
            be.alloc(k.size as u64 * k.output_dtype(o).size() as u64)
                .unwrap()
        })
        .collect();
    let t = time(runs, || {
        be.execute(exe, &ins, &outs).unwrap();
        be.read(outs[0], 0, 4).unwrap();
    });
    for id in ins.into_iter().chain(outs) {
        be.free(id);
    }
    t
}

fn main() {
    if std::env::args().any(|a| a == "--cpu-time") {
        return cpu_main();
    }
    let threads = std::env::args().nth(1).unwrap_or_else(|| "2".into());
    let be = oxjax_backend_wasm::new(&format!("threads = {threads}")).unwrap();
    println!("device: {}", be.info().device);
    for n in [256usize, 512, 1024] {
        let bytes = (n * n * 4) as u64;
        let t = run(
            &be,
            &matmul(n),
            &[bytes, bytes],
            if n > 512 { 3 } else { 7 },
        );
        println!(
            "matmul_f32_{n}: {:.2} GFLOP/s",
            2.0 * (n as f64).powi(3) / t / 1e9
        );
    }
    for (k, n) in [(784usize, 512usize), (512, 512)] {
        let t = run(
            &be,
            &product(1, k, n),
            &[k as u64 * 4, (k * n * 4) as u64],
            51,
        );
        println!("row-vector product 1x{k}x{n}: {:.1} us", t * 1e6);
    }
    let n = 4 << 20;
    let k = chain(n);
    println!(
        "chain_4m: {:.2} ms",
        run(&be, &k, &[(n * 4) as u64], 7) * 1e3
    );
    // x + y on 16 elements: compile (cache hit), alloc, execute, read, free
    let mut b = KernelBuilder::default();
    let (p, q) = (b.input(DType::F32), b.input(DType::F32));
    let g = b.gidx();
    let (lp, lq) = (b.load(p, g), b.load(q, g));
    let v = b.op(Op::ADD, &[lp, lq]);
    b.output(v);
    let k = b.finish(16, 0);
    let (a, c) = (be.alloc(64).unwrap(), be.alloc(64).unwrap());
    let t = time(2001, || {
        let exe = be.compile(&k).unwrap();
        let o = be.alloc(64).unwrap();
        be.execute(exe, &[a, c], &[o]).unwrap();
        be.read(o, 0, 64).unwrap();
        be.free(o);
        be.release(exe);
    });
    println!("eager_tiny_op: {:.2} us", t * 1e6);
    // sum of 16M f32 (one output: a single sequential reduction)
    let n = 16 << 20;
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let r = b.ridx();
    let x = b.load(i, r);
    let acc = b.reduce(ReduceOp::ADD, x);
    b.output(acc);
    let k = b.finish(1, n);
    let t = run(&be, &k, &[(n * 4) as u64], 5);
    println!("sum_f32_16m: {:.2} GB/s", (n * 4) as f64 / t / 1e9);
}
