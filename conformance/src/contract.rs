//! Layer 0, the backend contract call by call (IREE's HAL CTS is the model):
//! allocation and zero-fill, reads and writes at any offset, refused
//! out-of-range access, free and reuse, many kernels of one size in one
//! session, release and recompile, in-order execution without
//! synchronize, calls from several threads at once, and sizes that cross
//! the limits real backends get wrong (2^16 outputs, long reductions with
//! tails). Each check is one entry `contract:<name>`; its answers are
//! computed on the host, so large cases need no slow oracle.

use crate::judge::Failure;
use crate::values::{Rng, f32_bytes};
use oxjax_abi::{
    BackendObj, BufferId, DType, ExecutableId, Kernel, KernelBuilder, Launch, Op, ReduceOp,
    Routine, RoutineKind, Scalar, TensorDesc,
};
use oxjax_core::Device;

/// What a check works with: the backend under test, the reference (for
/// the routines, whose answers are the reference's), and the run's seed.
pub struct Ctx<'a> {
    pub dut: &'a BackendObj,
    pub oracle: &'a BackendObj,
    pub seed: u64,
}

/// One contract check.
#[derive(Clone, Copy, Debug)]
pub struct Check {
    pub name: &'static str,
    run: fn(&Ctx) -> Result<(), String>,
}

/// Every check, in the order they run.
pub fn checks() -> &'static [Check] {
    &[
        Check {
            name: "alloc_zeroed",
            run: alloc_zeroed,
        },
        Check {
            name: "offsets",
            run: offsets,
        },
        Check {
            name: "out_of_range",
            run: out_of_range,
        },
        Check {
            name: "free_reuse",
            run: free_reuse,
        },
        Check {
            name: "many_kernels",
            run: many_kernels,
        },
        Check {
            name: "release_recompile",
            run: release_recompile,
        },
        Check {
            name: "ordering",
            run: ordering,
        },
        Check {
            name: "threads",
            run: threads,
        },
        Check {
            name: "large_outputs",
            run: large_outputs,
        },
        Check {
            name: "long_reductions",
            run: long_reductions,
        },
        Check {
            name: "many_inputs",
            run: many_inputs,
        },
        Check {
            name: "routines",
            run: routines,
        },
        Check {
            name: "index_forms",
            run: index_forms,
        },
        Check {
            name: "loops",
            run: loops,
        },
    ]
}

/// Runs `check` on the device's backend, as a failure report on error.
pub fn run(dut: &Device, oracle: &Device, check: &Check, seed: u64) -> Result<(), Failure> {
    let ctx = Ctx {
        dut: dut.backend(),
        oracle: oracle.backend(),
        seed,
    };
    (check.run)(&ctx).map_err(|why| Failure {
        summary: format!("contract:{} failed: {why}", check.name),
        kernel: String::new(),
        inputs: vec![],
        expected: vec![],
        found: vec![],
        tolerance: "exact".into(),
        details: DESCRIPTIONS
            .iter()
            .find(|(n, _)| *n == check.name)
            .map_or("", |(_, d)| d)
            .to_string(),
        seed,
        replay: String::new(),
        saved: None,
    })
}

/// What each check exercises (printed with a failure).
const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "alloc_zeroed",
        "alloc of 0, 1, 3, 4097 and 1 MiB + 5 bytes reads back as zeros",
    ),
    (
        "offsets",
        "writes and reads (read and read_into) at random offsets and lengths agree with a host model",
    ),
    (
        "out_of_range",
        "reads and writes past a buffer's end are errors and change nothing",
    ),
    (
        "free_reuse",
        "a buffer allocated after freeing one of the same size is zeroed",
    ),
    (
        "many_kernels",
        "64 different kernels of one size, compiled first and run after, each compute their own result (an executable cache keyed too weakly fails here)",
    ),
    (
        "release_recompile",
        "after release, other kernels and a recompiled one still run right",
    ),
    (
        "ordering",
        "a chain of 64 dependent executes without synchronize ends at 64",
    ),
    (
        "threads",
        "4 threads at once allocating, writing, compiling, executing and reading give the single-threaded answers",
    ),
    (
        "large_outputs",
        "elementwise kernels of 2^16 + 3 and 2^20 + 1 outputs (past WebGPU's 65,535-workgroup dimension)",
    ),
    (
        "long_reductions",
        "sums of 1, 4097 and 2^20 + 3 elements and a max whose maximum is the very last element, exact",
    ),
    (
        "many_inputs",
        "a kernel reading as many inputs as the backend declares (max_inputs, at most 64)",
    ),
    (
        "index_forms",
        "the flat indices of 48 random view chains, evaluated by the backend, equal their affine \
         forms from oxjax_abi::analysis (where it proves one), as built and as simplified",
    ),
    (
        "loops",
        "execute_loop over a body of two iterations (three kernels each, the second reading the \
         first's output, the third a reduction; carried buffers swapped) equals the same \
         launches made by execute, bit for bit, for 0, 1, 2, 5 and 8 iterations and a count \
         that ends inside an iteration, at 37 and 70,001 elements; an empty body is refused",
    ),
    (
        "routines",
        "every routine kind the backend declares (sort, argsort, scans, scatter), on f32 with \
         NaN, ±0 and ties and on i32, both directions, against the reference; FFT against a \
         direct DFT and CONV against a direct convolution, both in f64; SOFTMAX against the \
         reference (f64 inside) on random, -inf, +inf, NaN and huge rows",
    ),
];

type R<T> = Result<T, String>;

fn e<T, E: std::fmt::Display>(what: &str, r: oxjax_abi::__private::RResult<T, E>) -> R<T> {
    r.into_result().map_err(|err| format!("{what}: {err}"))
}

fn alloc(b: &BackendObj, bytes: usize) -> R<BufferId> {
    e(&format!("alloc({bytes})"), b.alloc(bytes as u64))
}

fn write(b: &BackendObj, buf: BufferId, offset: usize, data: &[u8]) -> R<()> {
    e(
        &format!("write(offset {offset}, {} bytes)", data.len()),
        b.write(buf, offset as u64, data.into()),
    )
}

fn read(b: &BackendObj, buf: BufferId, offset: usize, len: usize) -> R<Vec<u8>> {
    e(
        &format!("read(offset {offset}, {len} bytes)"),
        b.read(buf, offset as u64, len as u64),
    )
    .map(|v| v.into_vec())
}

fn read_into(b: &BackendObj, buf: BufferId, offset: usize, len: usize) -> R<Vec<u8>> {
    let mut out = vec![0xEEu8; len];
    e(
        &format!("read_into(offset {offset}, {len} bytes)"),
        b.read_into(buf, offset as u64, out.as_mut_slice().into()),
    )?;
    Ok(out)
}

fn free(b: &BackendObj, buf: BufferId) {
    let _ = b.free(buf);
}

fn compile(b: &BackendObj, k: &Kernel) -> R<ExecutableId> {
    e(&format!("compile\n{k}"), b.compile(k))
}

fn execute(b: &BackendObj, exe: ExecutableId, ins: &[BufferId], outs: &[BufferId]) -> R<()> {
    e("execute", b.execute(exe, ins.into(), outs.into()))
}

fn sync(b: &BackendObj) -> R<()> {
    e("synchronize", b.synchronize())
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Runs an f32 kernel on fresh buffers and returns its first output.
fn run_f32(b: &BackendObj, k: &Kernel, inputs: &[Vec<f32>]) -> R<Vec<f32>> {
    let ins: Vec<BufferId> = inputs
        .iter()
        .map(|v| {
            let buf = alloc(b, v.len() * 4)?;
            write(b, buf, 0, &f32_bytes(v))?;
            Ok(buf)
        })
        .collect::<R<_>>()?;
    let out = alloc(b, k.size as usize * 4)?;
    let exe = compile(b, k)?;
    let result = execute(b, exe, &ins, &[out]).and_then(|_| read(b, out, 0, k.size as usize * 4));
    let _ = b.release(exe);
    for buf in ins.into_iter().chain([out]) {
        free(b, buf);
    }
    result.map(|v| f32s(&v))
}

/// `out[i] = f(in0[i])` for an f32 op on one input.
fn unary_kernel(
    size: usize,
    f: impl FnOnce(&mut KernelBuilder, oxjax_abi::Val) -> oxjax_abi::Val,
) -> Kernel {
    let mut k = KernelBuilder::new();
    let i = k.input(DType::F32);
    let g = k.gidx();
    let x = k.load(i, g);
    let y = f(&mut k, x);
    k.output(y);
    k.finish(size, 0)
}

fn alloc_zeroed(c: &Ctx) -> R<()> {
    let b = c.dut;
    for n in [0usize, 1, 3, 4097, (1 << 20) + 5] {
        let buf = alloc(b, n)?;
        let got = read_into(b, buf, 0, n)?;
        free(b, buf);
        if let Some(i) = got.iter().position(|&x| x != 0) {
            return Err(format!(
                "a fresh {n}-byte buffer holds {:#04x} at byte {i}",
                got[i]
            ));
        }
    }
    Ok(())
}

fn offsets(c: &Ctx) -> R<()> {
    let (b, seed) = (c.dut, c.seed);
    let mut rng = Rng(seed ^ 0x0ff5e7);
    let n = 10_007;
    let buf = alloc(b, n)?;
    let mut model = vec![0u8; n];
    let result = (|| {
        for step in 0..60 {
            let off = rng.below(n);
            let len = rng.below(n - off + 1).min(700);
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            write(b, buf, off, &data)?;
            model[off..off + len].copy_from_slice(&data);
            let (ro, rl) = {
                let o = rng.below(n);
                (o, rng.below(n - o + 1))
            };
            let got = if step % 2 == 0 {
                read(b, buf, ro, rl)?
            } else {
                read_into(b, buf, ro, rl)?
            };
            if got != model[ro..ro + rl] {
                let i = got
                    .iter()
                    .zip(&model[ro..])
                    .position(|(x, y)| x != y)
                    .unwrap_or(0);
                return Err(format!(
                    "after writing {len} bytes at offset {off}, reading {rl} bytes at offset {ro} \
                     differs at byte {} (got {:#04x}, wrote {:#04x})",
                    ro + i,
                    got.get(i).copied().unwrap_or(0),
                    model[ro + i]
                ));
            }
        }
        Ok(())
    })();
    free(b, buf);
    result
}

fn out_of_range(c: &Ctx) -> R<()> {
    let b = c.dut;
    let n = 64;
    let buf = alloc(b, n)?;
    let pattern: Vec<u8> = (0..n as u8).collect();
    write(b, buf, 0, &pattern)?;
    let result = (|| {
        if b.read(buf, 60, 8).into_result().is_ok() {
            return Err("read of 8 bytes at offset 60 of a 64-byte buffer succeeded".into());
        }
        let mut dst = [0u8; 8];
        if b.read_into(buf, 64, (&mut dst[..1]).into())
            .into_result()
            .is_ok()
        {
            return Err("read_into of 1 byte at offset 64 of a 64-byte buffer succeeded".into());
        }
        if b.write(buf, 62, [1u8, 2, 3, 4][..].into())
            .into_result()
            .is_ok()
        {
            return Err("write of 4 bytes at offset 62 of a 64-byte buffer succeeded".into());
        }
        if read(b, buf, 0, n)? != pattern {
            return Err("a refused write changed the buffer".into());
        }
        Ok(())
    })();
    free(b, buf);
    result
}

fn free_reuse(c: &Ctx) -> R<()> {
    let b = c.dut;
    for n in [256usize, 4096, 1 << 16] {
        let buf = alloc(b, n)?;
        write(b, buf, 0, &vec![0xAB; n])?;
        sync(b)?;
        free(b, buf);
        let again = alloc(b, n)?;
        let got = read(b, again, 0, n)?;
        free(b, again);
        if got.iter().any(|&x| x != 0) {
            return Err(format!(
                "a {n}-byte buffer allocated after freeing one of that size holds the old data"
            ));
        }
    }
    Ok(())
}

/// The host model of a binary f32 op.
type Model = fn(f32, f32) -> f32;

/// Kernel `j` of one shape: a different op or constant each.
fn variant(j: usize, size: usize) -> (Kernel, Model, f32) {
    let ops: [(Op, Model); 4] = [
        (Op::ADD, |x, c| x + c),
        (Op::MUL, |x, c| x * c),
        (Op::SUB, |x, c| x - c),
        (Op::MAX, |x, c| x.max(c)),
    ];
    let (op, f) = ops[j % 4];
    let c = (j / 4) as f32 + 0.5;
    let k = unary_kernel(size, |k, x| {
        let cv = k.constant(Scalar::F32(c));
        k.op(op, &[x, cv])
    });
    (k, f, c)
}

fn many_kernels(c: &Ctx) -> R<()> {
    let b = c.dut;
    let size = 37;
    let x: Vec<f32> = (0..size).map(|i| i as f32 - 10.0).collect();
    let inp = alloc(b, size * 4)?;
    write(b, inp, 0, &f32_bytes(&x))?;
    let kernels: Vec<_> = (0..64).map(|j| variant(j, size)).collect();
    let exes: Vec<ExecutableId> = kernels
        .iter()
        .map(|(k, _, _)| compile(b, k))
        .collect::<R<_>>()?;
    let outs: Vec<BufferId> = (0..64).map(|_| alloc(b, size * 4)).collect::<R<_>>()?;
    let result = (|| {
        for (exe, out) in exes.iter().zip(&outs) {
            execute(b, *exe, &[inp], &[*out])?;
        }
        for (j, ((k, f, c), out)) in kernels.iter().zip(&outs).enumerate() {
            let got = f32s(&read(b, *out, 0, size * 4)?);
            let want: Vec<f32> = x.iter().map(|&v| f(v, *c)).collect();
            if got != want {
                return Err(format!(
                    "kernel {j} of 64 (compiled with 63 others of the same size) computed \
                     {:?}... instead of {:?}...:\n{k}",
                    &got[..4],
                    &want[..4]
                ));
            }
        }
        Ok(())
    })();
    for exe in exes {
        let _ = b.release(exe);
    }
    for buf in outs.into_iter().chain([inp]) {
        free(b, buf);
    }
    result
}

fn release_recompile(c: &Ctx) -> R<()> {
    let b = c.dut;
    let size = 19;
    let x: Vec<f32> = (0..size).map(|i| i as f32).collect();
    for round in 0..3 {
        let (ka, fa, ca) = variant(1, size);
        let (kb, fb, cb) = variant(6, size);
        let a = compile(b, &ka)?;
        let _ = b.release(a);
        let got = run_f32(b, &kb, std::slice::from_ref(&x))?;
        let want: Vec<f32> = x.iter().map(|&v| fb(v, cb)).collect();
        if got != want {
            return Err(format!(
                "round {round}: a kernel compiled after a release computed {got:?}, want {want:?}"
            ));
        }
        let got = run_f32(b, &ka, std::slice::from_ref(&x))?;
        let want: Vec<f32> = x.iter().map(|&v| fa(v, ca)).collect();
        if got != want {
            return Err(format!(
                "round {round}: a released kernel compiled again computed {got:?}, want {want:?}"
            ));
        }
    }
    Ok(())
}

fn ordering(c: &Ctx) -> R<()> {
    let b = c.dut;
    let size = 1000;
    let k = unary_kernel(size, |k, x| {
        let one = k.constant(Scalar::F32(1.0));
        k.op(Op::ADD, &[x, one])
    });
    let exe = compile(b, &k)?;
    let bufs = [alloc(b, size * 4)?, alloc(b, size * 4)?];
    let result = (|| {
        for step in 0..64 {
            execute(b, exe, &[bufs[step % 2]], &[bufs[(step + 1) % 2]])?;
        }
        let got = f32s(&read(b, bufs[0], 0, size * 4)?);
        if let Some(i) = got.iter().position(|&v| v != 64.0) {
            return Err(format!(
                "64 chained executes without synchronize: element {i} is {}, want 64",
                got[i]
            ));
        }
        Ok(())
    })();
    let _ = b.release(exe);
    for buf in bufs {
        free(b, buf);
    }
    result
}

fn threads(c: &Ctx) -> R<()> {
    let b = c.dut;
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || -> R<()> {
                    for round in 0..12 {
                        let size = 100 + 17 * t + round;
                        let (k, f, c) = variant(4 * t + round % 4, size);
                        let x: Vec<f32> = (0..size).map(|i| (i * (t + 1)) as f32).collect();
                        let got = run_f32(b, &k, std::slice::from_ref(&x))?;
                        let want: Vec<f32> = x.iter().map(|&v| f(v, c)).collect();
                        if got != want {
                            return Err(format!(
                                "thread {t} round {round}: wrong result from\n{k}"
                            ));
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(r) => r.err(),
                Err(_) => Some("a thread panicked".into()),
            })
            .collect()
    });
    match errors.first() {
        Some(e) => Err(format!("with 4 threads calling at once: {e}")),
        None => Ok(()),
    }
}

fn large_outputs(c: &Ctx) -> R<()> {
    let b = c.dut;
    for size in [(1usize << 16) + 3, (1 << 20) + 1] {
        let k = unary_kernel(size, |k, x| {
            let two = k.constant(Scalar::F32(2.0));
            let one = k.constant(Scalar::F32(1.0));
            let y = k.op(Op::MUL, &[x, two]);
            k.op(Op::ADD, &[y, one])
        });
        // Values exact in f32 (below 2^24 after the arithmetic).
        let x: Vec<f32> = (0..size).map(|i| (i % 1_000_003) as f32).collect();
        let got = run_f32(b, &k, std::slice::from_ref(&x))?;
        if let Some(i) = (0..size).find(|&i| got[i] != x[i] * 2.0 + 1.0) {
            return Err(format!(
                "{size} outputs: element {i} is {}, want {}",
                got[i],
                x[i] * 2.0 + 1.0
            ));
        }
    }
    Ok(())
}

/// One output reducing `n` loaded values with `op`.
fn reduce_kernel(n: usize, op: ReduceOp) -> Kernel {
    let mut k = KernelBuilder::new();
    let i = k.input(DType::F32);
    let r = k.ridx();
    let x = k.load(i, r);
    let acc = k.reduce(op, x);
    k.output(acc);
    k.finish(1, n)
}

fn long_reductions(c: &Ctx) -> R<()> {
    let b = c.dut;
    for n in [1usize, 4097, (1 << 20) + 3] {
        // Small integers: every partial sum is exact in f32, whatever the order.
        let x: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
        let want: f32 = x.iter().map(|&v| v as f64).sum::<f64>() as f32;
        let got = run_f32(
            b,
            &reduce_kernel(n, ReduceOp::ADD),
            std::slice::from_ref(&x),
        )?;
        if got[0] != want {
            return Err(format!(
                "sum of {n} small integers is {}, want {want}",
                got[0]
            ));
        }
        let mut y = vec![-1.0f32; n];
        y[n - 1] = 5.0;
        let got = run_f32(
            b,
            &reduce_kernel(n, ReduceOp::MAX),
            std::slice::from_ref(&y),
        )?;
        if got[0] != 5.0 {
            return Err(format!(
                "max of {n} elements whose last is the maximum (5) is {}",
                got[0]
            ));
        }
    }
    Ok(())
}

fn many_inputs(c: &Ctx) -> R<()> {
    let b = c.dut;
    let info = e("info", b.info())?;
    let n = (info.caps.max_inputs as usize).clamp(1, 64);
    let size = 33;
    let mut k = KernelBuilder::new();
    let g = k.gidx();
    let mut total = None;
    for _ in 0..n {
        let i = k.input(DType::F32);
        let x = k.load(i, g);
        total = Some(match total {
            None => x,
            Some(t) => k.op(Op::ADD, &[t, x]),
        });
    }
    k.output(total.expect("at least one input"));
    let kernel = k.finish(size, 0);
    let inputs: Vec<Vec<f32>> = (0..n)
        .map(|j| (0..size).map(|i| (i + j) as f32).collect())
        .collect();
    let got = run_f32(b, &kernel, &inputs)?;
    for (i, &v) in got.iter().enumerate() {
        let want: f32 = (0..n).map(|j| (i + j) as f32).sum();
        if v != want {
            return Err(format!(
                "a kernel reading {n} inputs: element {i} is {v}, want {want}"
            ));
        }
    }
    Ok(())
}

/// The three kernels of one loop iteration over a carry `(x, s)` and a
/// fixed `w`: `t = x * 0.5 + w`, `x' = t - sin(x) * 0.25` (reads the first
/// kernel's output) and `s' = s + sum(x')` (a reduction).
fn loop_kernels(n: usize) -> [Kernel; 3] {
    let mut k = KernelBuilder::new();
    let (x, w) = (k.input(DType::F32), k.input(DType::F32));
    let g = k.gidx();
    let (xv, wv) = (k.load(x, g), k.load(w, g));
    let half = k.constant(Scalar::F32(0.5));
    let t = k.op(Op::MUL, &[xv, half]);
    let t = k.op(Op::ADD, &[t, wv]);
    k.output(t);
    let first = k.finish(n, 0);

    let mut k = KernelBuilder::new();
    let (t, x) = (k.input(DType::F32), k.input(DType::F32));
    let g = k.gidx();
    let (tv, xv) = (k.load(t, g), k.load(x, g));
    let quarter = k.constant(Scalar::F32(0.25));
    let sx = k.op(Op::SIN, &[xv]);
    let sx = k.op(Op::MUL, &[sx, quarter]);
    let y = k.op(Op::SUB, &[tv, sx]);
    k.output(y);
    let second = k.finish(n, 0);

    let mut k = KernelBuilder::new();
    let (s, x) = (k.input(DType::F32), k.input(DType::F32));
    let zero = k.i32(0);
    let sv = k.load(s, zero);
    let r = k.ridx();
    let xv = k.load(x, r);
    let total = k.reduce(ReduceOp::ADD, xv);
    let y = k.op(Op::ADD, &[sv, total]);
    k.output(y);
    [first, second, k.finish(1, n)]
}

/// `execute_loop` against the same launches made one `execute` at a time.
fn loops(c: &Ctx) -> R<()> {
    let b = c.dut;
    let empty: &[Launch] = &[];
    if b.execute_loop(empty.into(), 3).into_result().is_ok() {
        return Err("execute_loop of an empty body and count 3 succeeded".into());
    }
    e(
        "execute_loop of an empty body, count 0",
        b.execute_loop(empty.into(), 0),
    )?;
    for n in [37usize, 70_001] {
        let mut rng = Rng(c.seed ^ n as u64);
        let x0: Vec<f32> = (0..n).map(|_| 2.0 * rng.unit()).collect();
        let w: Vec<f32> = (0..n).map(|_| rng.unit()).collect();
        let exes = loop_kernels(n)
            .iter()
            .map(|k| compile(b, k))
            .collect::<R<Vec<_>>>()?;
        // x and s of the two carry sets, the intermediate t and the fixed w.
        let sizes = [n, 1, n, 1, n, n];
        let bufs = sizes
            .iter()
            .map(|&s| alloc(b, s * 4))
            .collect::<R<Vec<_>>>()?;
        let result = (|| {
            let [xa, sa, xb, sb, t, wb] = bufs[..] else {
                unreachable!()
            };
            write(b, wb, 0, &f32_bytes(&w))?;
            let launch = |exe: ExecutableId, ins: &[BufferId], out: BufferId| Launch {
                exe,
                inputs: ins.to_vec().into(),
                outputs: vec![out].into(),
            };
            // Iteration k reads set k % 2 and writes the other.
            let step = |(x, s): (BufferId, BufferId), (x2, s2): (BufferId, BufferId)| {
                [
                    launch(exes[0], &[x, wb], t),
                    launch(exes[1], &[t, x], x2),
                    launch(exes[2], &[s, x2], s2),
                ]
            };
            let mut body = step((xa, sa), (xb, sb)).to_vec();
            body.extend(step((xb, sb), (xa, sa)));
            let state = |count: usize, looped: bool| -> R<Vec<Vec<u8>>> {
                write(b, xa, 0, &f32_bytes(&x0))?;
                write(b, sa, 0, &f32_bytes(&[1.5]))?;
                write(b, xb, 0, &vec![0; n * 4])?;
                write(b, sb, 0, &[0; 4])?;
                write(b, t, 0, &vec![0; n * 4])?;
                if looped {
                    e(
                        &format!("execute_loop (count {count})"),
                        b.execute_loop(body.as_slice().into(), count as u64),
                    )?;
                } else {
                    for l in body.iter().cycle().take(count) {
                        execute(b, l.exe, &l.inputs, &l.outputs)?;
                    }
                }
                [xa, sa, xb, sb, t]
                    .iter()
                    .zip(sizes)
                    .map(|(&buf, s)| read(b, buf, 0, s * 4))
                    .collect()
            };
            for count in [0, 3, 6, 15, 24, 16] {
                let want = state(count, false)?;
                let got = state(count, true)?;
                let names = ["x of set a", "s of set a", "x of set b", "s of set b", "t"];
                for ((name, g), w) in names.iter().zip(&got).zip(&want) {
                    if g != w {
                        let (g, w) = (f32s(g), f32s(w));
                        let i = g
                            .iter()
                            .zip(&w)
                            .position(|(a, b)| a.to_bits() != b.to_bits());
                        let i = i.unwrap_or(0);
                        return Err(format!(
                            "{n} elements, {count} launches ({} iterations of 3 kernels): \
                             after execute_loop, {name}[{i}] is {}, after the same executes {}",
                            count as f64 / 3.0,
                            g[i],
                            w[i]
                        ));
                    }
                }
            }
            Ok(())
        })();
        for exe in exes {
            let _ = b.release(exe);
        }
        for buf in bufs {
            free(b, buf);
        }
        result?;
    }
    Ok(())
}

/// The byte size of a routine operand.
fn bytes_of(d: &TensorDesc) -> usize {
    d.shape.iter().product::<u64>() as usize * d.dtype.size()
}

/// Runs `r` on `b` with `inputs` (bytes) and returns its outputs' bytes.
/// The FFT routine (`[..., n, 2]`, params `[0 fft | 1 ifft, 1]`, the form
/// the core sends) against a direct DFT summed in f64: prime, odd, even
/// and power-of-two lengths, batched rows, each declared float dtype. The
/// error allowed is a few ULP of the dtype per `log2 n` stage, relative to
/// the row's largest input.
fn fft(c: &Ctx, info: &oxjax_abi::BackendInfo) -> R<()> {
    let mut rng = Rng(0x5eed_f0f7);
    for dtype in [DType::F32, DType::F64] {
        if !info.caps.supports_dtype(dtype) {
            continue;
        }
        let eps = if dtype == DType::F32 {
            f32::EPSILON as f64
        } else {
            f64::EPSILON
        };
        for (rows, n) in [
            (1usize, 1usize),
            (1, 2),
            (3, 5),
            (2, 12),
            (1, 17),
            (4, 64),
            (1, 243),
        ] {
            for inverse in [false, true] {
                let x: Vec<f64> = (0..rows * n * 2)
                    .map(|_| (rng.next() % 2001) as f64 / 1000.0 - 1.0)
                    .collect();
                let bytes: Vec<u8> = match dtype {
                    DType::F32 => x.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect(),
                    _ => x.iter().flat_map(|&v| v.to_le_bytes()).collect(),
                };
                let shape = [rows as u64, n as u64, 2];
                let r = Routine {
                    kind: RoutineKind::FFT,
                    inputs: vec![desc(dtype, &shape)].into(),
                    outputs: vec![desc(dtype, &shape)].into(),
                    params: vec![i64::from(inverse), 1].into(),
                };
                let got = run_routine(c.dut, &r, std::slice::from_ref(&bytes))?;
                let got: Vec<f64> = match dtype {
                    DType::F32 => got[0]
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                        .collect(),
                    _ => got[0]
                        .chunks_exact(8)
                        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                        .collect(),
                };
                let sign = if inverse { 1.0 } else { -1.0 };
                let scale = if inverse { 1.0 / n as f64 } else { 1.0 };
                let stages = (n as f64).log2().ceil().max(1.0);
                for row in 0..rows {
                    let z = &x[row * n * 2..(row + 1) * n * 2];
                    let top = z.iter().fold(0f64, |m, v| m.max(v.abs()));
                    let tol = 8.0 * eps * stages * top * n as f64 * scale + 1e-300;
                    for k in 0..n {
                        let (mut re, mut im) = (0f64, 0f64);
                        for t in 0..n {
                            let a =
                                sign * 2.0 * std::f64::consts::PI * ((k * t) % n) as f64 / n as f64;
                            let (s, co) = a.sin_cos();
                            re += z[2 * t] * co - z[2 * t + 1] * s;
                            im += z[2 * t] * s + z[2 * t + 1] * co;
                        }
                        let (wr, wi) = (re * scale, im * scale);
                        let at = (row * n + k) * 2;
                        let (gr, gi) = (got[at], got[at + 1]);
                        if (gr - wr).abs() > tol || (gi - wi).abs() > tol {
                            return Err(format!(
                                "{} of {dtype}{shape:?}: row {row} bin {k} is ({gr}, {gi}), \
                                 a direct DFT gives ({wr}, {wi}) (tolerance {tol:.3e})",
                                if inverse { "ifft" } else { "fft" }
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// SOFTMAX against the reference (which computes in f64 and rounds once):
/// lengths around vector widths, one and many rows, and the rows its
/// contract singles out (-inf entries, +inf, NaN, all -inf, values near
/// 1e30), each declared float dtype. NaN must be where the reference has
/// it; elsewhere the error allowed is `(16 + 8 log2 n)` ULP of the dtype
/// relative to the value (a row sum accumulated in blocks or pairwise),
/// plus the smallest normal for denormal results.
fn softmax(c: &Ctx, info: &oxjax_abi::BackendInfo) -> R<()> {
    let mut rng = Rng(0x5eed_50f7 ^ c.seed);
    for dtype in [DType::F32, DType::F64] {
        if !info.caps.supports_dtype(dtype) {
            continue;
        }
        let (eps, tiny) = match dtype {
            DType::F32 => (f32::EPSILON as f64, f32::MIN_POSITIVE as f64),
            _ => (f64::EPSILON, f64::MIN_POSITIVE),
        };
        for (rows, n) in [
            (1usize, 1usize),
            (6, 3),
            (6, 15),
            (7, 16),
            (6, 17),
            (6, 100),
            (8, 1024),
        ] {
            let mut x: Vec<f64> = (0..rows * n)
                .map(|_| (rng.next() % 40001) as f64 / 1000.0 - 20.0)
                .collect();
            let mut set = |row: usize, f: &dyn Fn(usize) -> Option<f64>| {
                for i in (0..n).filter(|_| row < rows) {
                    if let Some(v) = f(i) {
                        x[row * n + i] = v;
                    }
                }
            };
            set(1, &|i| (i % 3 == 1).then_some(f64::NEG_INFINITY));
            set(2, &|i| (i == n / 2).then_some(f64::INFINITY));
            set(3, &|i| (i == n - 1).then_some(f64::NAN));
            set(4, &|_| Some(f64::NEG_INFINITY));
            set(5, &|i| Some(1e30 + i as f64 * 1e24));
            let bytes: Vec<u8> = match dtype {
                DType::F32 => x.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect(),
                _ => x.iter().flat_map(|&v| v.to_le_bytes()).collect(),
            };
            let shape = [rows as u64, n as u64];
            let r = Routine {
                kind: RoutineKind::SOFTMAX,
                inputs: vec![desc(dtype, &shape)].into(),
                outputs: vec![desc(dtype, &shape)].into(),
                params: vec![].into(),
            };
            let floats = |b: &[u8]| -> Vec<f64> {
                match dtype {
                    DType::F32 => f32s(b).into_iter().map(f64::from).collect(),
                    _ => b
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                }
            };
            let want = floats(&run_routine(c.oracle, &r, std::slice::from_ref(&bytes))?[0]);
            let got = floats(&run_routine(c.dut, &r, std::slice::from_ref(&bytes))?[0]);
            let tol = (16.0 + 8.0 * (n as f64).log2()) * eps;
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let ok = (g.is_nan() && w.is_nan()) || (g - w).abs() <= tol * w.abs() + tiny;
                if !ok {
                    return Err(format!(
                        "softmax of {dtype}{shape:?}: row {} element {} is {g:e}, the \
                         reference gives {w:e} (tolerance {:.1e} relative)",
                        i / n,
                        i % n,
                        tol
                    ));
                }
            }
        }
    }
    Ok(())
}

/// One CONV case: lhs `[n, c, spatial...]`, rhs `[o, i, window...]`, per
/// spatial axis `(stride, pad_lo, pad_hi, lhs_dilation, rhs_dilation)`,
/// feature and batch group counts.
struct ConvCase {
    lhs: &'static [u64],
    rhs: &'static [u64],
    axes: &'static [[i64; 5]],
    groups: i64,
    batch_groups: i64,
}

/// The table of CONV cases: 0-, 1-, 2- and 3-d, strides, negative and
/// positive padding, lhs and rhs dilation, feature and batch groups, and
/// sizes that cross a 64-wide tile (channels, positions, depth) or have a
/// window larger than the output (a weight gradient's shape), and a long
/// sum (70,000 products: past llvmpipe's 65,535 loop iterations per
/// invocation; its values are positive, so that a sum cut short fails).
const CONV_CASES: &[ConvCase] = &[
    ConvCase {
        lhs: &[2, 3],
        rhs: &[4, 3],
        axes: &[],
        groups: 1,
        batch_groups: 1,
    },
    ConvCase {
        lhs: &[2, 3, 10],
        rhs: &[4, 3, 3],
        axes: &[[1, 1, 1, 1, 1]],
        groups: 1,
        batch_groups: 1,
    },
    ConvCase {
        lhs: &[2, 2, 9],
        rhs: &[3, 2, 3],
        axes: &[[2, -1, 2, 2, 2]],
        groups: 1,
        batch_groups: 1,
    },
    ConvCase {
        lhs: &[2, 4, 8, 7],
        rhs: &[6, 2, 3, 2],
        axes: &[[2, 1, 0, 1, 1], [1, 0, 2, 1, 2]],
        groups: 2,
        batch_groups: 1,
    },
    ConvCase {
        lhs: &[4, 3, 6, 6],
        rhs: &[4, 3, 2, 2],
        axes: &[[1, 0, 1, 2, 1], [2, -1, 1, 1, 1]],
        groups: 1,
        batch_groups: 2,
    },
    ConvCase {
        lhs: &[1, 5, 20, 21],
        rhs: &[70, 5, 3, 3],
        axes: &[[1, 1, 1, 1, 1], [1, 1, 1, 1, 1]],
        groups: 1,
        batch_groups: 1,
    },
    ConvCase {
        lhs: &[3, 6, 7, 5],
        rhs: &[12, 1, 3, 3],
        axes: &[[1, 1, 1, 1, 1], [2, 2, -1, 1, 1]],
        groups: 6,
        batch_groups: 1,
    },
    ConvCase {
        lhs: &[3, 8, 12, 12],
        rhs: &[5, 8, 10, 10],
        axes: &[[1, 0, 0, 1, 1], [1, 0, 0, 1, 1]],
        groups: 1,
        batch_groups: 1,
    },
    ConvCase {
        lhs: &[6, 2, 5, 4],
        rhs: &[6, 2, 3, 3],
        axes: &[[1, 1, 1, 1, 1], [1, 2, 2, 1, 2]],
        groups: 1,
        batch_groups: 3,
    },
    ConvCase {
        lhs: &[1, 2, 4, 5, 3],
        rhs: &[3, 2, 2, 2, 2],
        axes: &[[1, 1, 0, 1, 1], [2, 0, 1, 1, 1], [1, -1, 2, 2, 1]],
        groups: 1,
        batch_groups: 1,
    },
    ConvCase {
        lhs: &[1, 70, 1000],
        rhs: &[2, 70, 1000],
        axes: &[[1, 0, 0, 1, 1]],
        groups: 1,
        batch_groups: 1,
    },
];

/// The output shape of a CONV case (0 where the window does not fit).
fn conv_out_shape(cc: &ConvCase) -> Vec<u64> {
    let mut s = vec![cc.lhs[0] / cc.batch_groups as u64, cc.rhs[0]];
    for (d, &[stride, lo, hi, ld, rd]) in cc.axes.iter().enumerate() {
        let len = cc.lhs[2 + d] as i64;
        let win = cc.rhs[2 + d] as i64;
        let dlen = if len == 0 { 0 } else { (len - 1) * ld + 1 };
        let dwin = if win == 0 { 0 } else { (win - 1) * rd + 1 };
        let span = dlen + lo + hi - dwin;
        s.push(if span < 0 {
            0
        } else {
            (span / stride + 1) as u64
        });
    }
    s
}

/// CONV in f64 straight from the contract text: each output's value and
/// the sum of its products' magnitudes.
fn conv_direct(cc: &ConvCase, x: &[f64], k: &[f64], out: &[u64]) -> Vec<(f64, f64)> {
    let (n_in, c) = (cc.lhs[0] as usize, cc.lhs[1] as usize);
    let (o_all, i_per) = (cc.rhs[0] as usize, cc.rhs[1] as usize);
    let (g, b) = (cc.groups as usize, cc.batch_groups as usize);
    let s = cc.axes.len();
    let size = |v: &[u64]| v.iter().product::<u64>() as usize;
    let (spatial_in, window, positions) = (size(&cc.lhs[2..]), size(&cc.rhs[2..]), size(&out[2..]));
    let unravel = |mut f: usize, dims: &[u64]| -> Vec<i64> {
        let mut idx = vec![0i64; dims.len()];
        for d in (0..dims.len()).rev() {
            idx[d] = (f % dims[d] as usize) as i64;
            f /= dims[d] as usize;
        }
        idx
    };
    let mut y = Vec::new();
    for n in 0..out[0] as usize {
        for o in 0..o_all {
            let fg = o / (o_all / g);
            let bg = o / (o_all / b);
            let img = bg * (n_in / b) + n;
            for p in 0..positions {
                let opos = unravel(p, &out[2..]);
                let (mut sum, mut mag) = (0f64, 0f64);
                for i in 0..i_per {
                    let ch = fg * i_per + i;
                    for w in 0..window {
                        let kpos = unravel(w, &cc.rhs[2..]);
                        let mut at = 0usize;
                        let mut inside = true;
                        for d in 0..s {
                            let [stride, lo, _, ld, rd] = cc.axes[d];
                            let len = cc.lhs[2 + d] as i64;
                            let q = opos[d] * stride - lo + kpos[d] * rd;
                            if q < 0 || q > (len - 1) * ld || q % ld != 0 {
                                inside = false;
                                break;
                            }
                            at = at * len as usize + (q / ld) as usize;
                        }
                        if inside {
                            let prod = x[(img * c + ch) * spatial_in + at]
                                * k[(o * i_per + i) * window + w];
                            sum += prod;
                            mag += prod.abs();
                        }
                    }
                }
                y.push((sum, mag));
            }
        }
    }
    debug_assert_eq!(n_in % b, 0);
    y
}

/// The CONV routine on every case of [`CONV_CASES`], each declared float
/// dtype, against [`conv_direct`] on the same (rounded) inputs. The error
/// allowed is 2 ULP of the dtype per accumulated term, relative to the
/// sum of the products' magnitudes.
fn conv(c: &Ctx, info: &oxjax_abi::BackendInfo) -> R<()> {
    let mut rng = Rng(0x5eed_c0fe ^ c.seed);
    for dtype in [DType::F32, DType::F64] {
        if !info.caps.supports_dtype(dtype) {
            continue;
        }
        let eps = if dtype == DType::F32 {
            f32::EPSILON as f64
        } else {
            f64::EPSILON
        };
        let round = |v: f64| {
            if dtype == DType::F32 {
                v as f32 as f64
            } else {
                v
            }
        };
        let bytes = |v: &[f64]| -> Vec<u8> {
            match dtype {
                DType::F32 => v.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect(),
                _ => v.iter().flat_map(|&v| v.to_le_bytes()).collect(),
            }
        };
        for cc in CONV_CASES {
            let long = cc.rhs[1..].iter().product::<u64>() > 10_000;
            let mut values = |shape: &[u64]| -> Vec<f64> {
                (0..shape.iter().product::<u64>())
                    .map(|_| {
                        let v = (rng.next() % 2001) as f64 / 997.0 - 1.0;
                        round(if long { v.abs() } else { v })
                    })
                    .collect()
            };
            let (x, k) = (values(cc.lhs), values(cc.rhs));
            let out = conv_out_shape(cc);
            let mut params = vec![cc.axes.len() as i64, cc.groups, cc.batch_groups];
            params.extend(cc.axes.iter().flatten());
            let r = Routine {
                kind: RoutineKind::CONV,
                inputs: vec![desc(dtype, cc.lhs), desc(dtype, cc.rhs)].into(),
                outputs: vec![desc(dtype, &out)].into(),
                params: params.into(),
            };
            let got = run_routine(c.dut, &r, &[bytes(&x), bytes(&k)])?;
            let got: Vec<f64> = match dtype {
                DType::F32 => f32s(&got[0]).into_iter().map(f64::from).collect(),
                _ => got[0]
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
            };
            let terms = cc.rhs[1..].iter().product::<u64>() as f64;
            for (at, ((want, mag), have)) in conv_direct(cc, &x, &k, &out)
                .into_iter()
                .zip(&got)
                .enumerate()
            {
                let tol = 2.0 * eps * (terms + 1.0) * mag;
                if (have - want).abs() > tol || have.is_nan() {
                    return Err(format!(
                        "conv of {dtype} lhs {:?} rhs {:?} params {:?} (out {out:?}): \
                         element {at} is {have}, a direct convolution gives {want} \
                         (tolerance {tol:.3e})",
                        cc.lhs, cc.rhs, r.params
                    ));
                }
            }
        }
    }
    Ok(())
}

fn run_routine(b: &BackendObj, r: &Routine, inputs: &[Vec<u8>]) -> R<Vec<Vec<u8>>> {
    let exe = e(&format!("compile_routine({r:?})"), b.compile_routine(r))?;
    let ins: Vec<BufferId> = inputs
        .iter()
        .map(|v| {
            let buf = alloc(b, v.len())?;
            write(b, buf, 0, v)?;
            Ok(buf)
        })
        .collect::<R<_>>()?;
    let outs: Vec<BufferId> = r
        .outputs
        .iter()
        .map(|d| alloc(b, bytes_of(d)))
        .collect::<R<_>>()?;
    let result = execute(b, exe, &ins, &outs).and_then(|_| {
        r.outputs
            .iter()
            .zip(&outs)
            .map(|(d, &o)| read(b, o, 0, bytes_of(d)))
            .collect::<R<Vec<_>>>()
    });
    let _ = b.release(exe);
    for buf in ins.into_iter().chain(outs) {
        free(b, buf);
    }
    result
}

fn desc(dtype: DType, shape: &[u64]) -> TensorDesc {
    TensorDesc {
        dtype,
        shape: shape.to_vec().into(),
    }
}

/// Equal bytes, any NaN equal to any NaN (f32 outputs).
fn same_values(dtype: DType, a: &[u8], b: &[u8]) -> bool {
    if dtype != DType::F32 {
        return a == b;
    }
    a.len() == b.len()
        && f32s(a)
            .iter()
            .zip(f32s(b))
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

fn routines(c: &Ctx) -> R<()> {
    let info = e("info", c.dut.info())?;
    let declared: Vec<RoutineKind> = info.caps.routines.iter().copied().collect();
    // Values with NaN, both zeros, ties and infinities; a tie-heavy i32 row.
    let f: Vec<f32> = vec![
        3.0,
        f32::NAN,
        -0.0,
        1.0,
        0.0,
        1.0,
        f32::NEG_INFINITY,
        2.5,
        1.0,
        f32::INFINITY,
        -2.0,
        0.0,
        f32::NAN,
        7.0,
        -0.0,
    ];
    let i: Vec<i32> = vec![2, -1, 2, 0, i32::MIN, 2, 7, -1, 0, i32::MAX, 2, 3, 3, -5, 0];
    let f_bytes = f32_bytes(&f);
    let i_bytes: Vec<u8> = i.iter().flat_map(|v| v.to_le_bytes()).collect();
    let scans = [
        RoutineKind::SORT,
        RoutineKind::ARGSORT,
        RoutineKind::CUMSUM,
        RoutineKind::CUMPROD,
        RoutineKind::CUMMAX,
        RoutineKind::CUMMIN,
    ];
    for kind in scans.into_iter().filter(|k| declared.contains(k)) {
        for (dtype, data) in [(DType::F32, &f_bytes), (DType::I32, &i_bytes)] {
            for (shape, axis) in [(vec![15u64], 0i64), (vec![3, 5], 1), (vec![3, 5], 0)] {
                for flag in [0i64, 1] {
                    let out_dtype = if kind == RoutineKind::ARGSORT {
                        DType::I32
                    } else {
                        dtype
                    };
                    let r = Routine {
                        kind,
                        inputs: vec![desc(dtype, &shape)].into(),
                        outputs: vec![desc(out_dtype, &shape)].into(),
                        params: vec![axis, flag].into(),
                    };
                    let want = run_routine(c.oracle, &r, std::slice::from_ref(data))?;
                    let got = run_routine(c.dut, &r, std::slice::from_ref(data))?;
                    if !same_values(out_dtype, &got[0], &want[0]) {
                        return Err(format!(
                            "{kind:?} of {dtype}{shape:?} along axis {axis} (flag {flag}) \
                             differs from the reference"
                        ));
                    }
                }
            }
        }
    }
    if declared.contains(&RoutineKind::FFT) {
        fft(c, &info)?;
    }
    if declared.contains(&RoutineKind::CONV) {
        conv(c, &info)?;
    }
    if declared.contains(&RoutineKind::SOFTMAX) {
        softmax(c, &info)?;
    }
    if declared.contains(&RoutineKind::SCATTER) {
        // Duplicate and out-of-range indices; every mode.
        let idx: Vec<i32> = vec![1, 3, 1, -1, 9, 0];
        let upd: Vec<f32> = (0..18).map(|v| v as f32 - 4.0).collect();
        for mode in 0..5i64 {
            let r = Routine {
                kind: RoutineKind::SCATTER,
                inputs: vec![
                    desc(DType::F32, &[3, 5]),
                    desc(DType::I32, &[6]),
                    desc(DType::F32, &[3, 6]),
                ]
                .into(),
                outputs: vec![desc(DType::F32, &[3, 5])].into(),
                params: vec![mode, 1].into(),
            };
            let ins = vec![
                f_bytes.clone(),
                idx.iter().flat_map(|v| v.to_le_bytes()).collect(),
                f32_bytes(&upd),
            ];
            let want = run_routine(c.oracle, &r, &ins)?;
            let got = run_routine(c.dut, &r, &ins)?;
            if !same_values(DType::F32, &got[0], &want[0]) {
                return Err(format!(
                    "scatter mode {mode} along axis 1 differs from the reference"
                ));
            }
        }
    }
    Ok(())
}

/// Runs a kernel without inputs and returns its first output as i32.
fn run_i32(b: &BackendObj, k: &Kernel) -> R<Vec<i32>> {
    let out = alloc(b, k.size as usize * 4)?;
    let exe = compile(b, k)?;
    let result = execute(b, exe, &[], &[out]).and_then(|_| read(b, out, 0, k.size as usize * 4));
    let _ = b.release(exe);
    free(b, out);
    result.map(|v| {
        v.chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    })
}

/// The affine index forms of `oxjax_abi::analysis` against the backend's
/// own evaluation: the flat index of random view chains (the differential
/// generator's), as built and as simplified, must equal its form at every
/// element wherever the analysis claims one.
fn index_forms(c: &Ctx) -> R<()> {
    use crate::view::{self, Ix};
    use oxjax_abi::analysis::Indices;
    use proptest::strategy::{Just, Strategy, ValueTree};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut seed = [0x5au8; 32];
    seed[..8].copy_from_slice(&c.seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let chains = view::shape().prop_flat_map(|s| (Just(s.clone()), view::chain(s, 3)));
    let mut proven = 0;
    for _ in 0..48 {
        let (shape, steps) = chains
            .new_tree(&mut runner)
            .map_err(|e| e.to_string())?
            .current();
        let size: usize = shape.iter().product();
        if size == 0 {
            continue;
        }
        let mut kb = KernelBuilder::new();
        let mut ix = Ix(&mut kb);
        let g = ix.0.gidx();
        let idx = ix.unravel(g, &shape);
        let (inner, _) = ix.through(&steps, idx);
        let flat = ix.ravel(&inner, view::base_shape(&shape, &steps));
        kb.output(flat);
        let raw = kb.finish(size, 0);
        for k in [raw.simplified(), raw] {
            let Some(form) = Indices::new(&k).affine(k.outputs[0]) else {
                continue;
            };
            proven += 1;
            let got = run_i32(c.dut, &k)?;
            for (g, &v) in got.iter().enumerate() {
                let want = form.eval(g as i64, 0);
                if want != v as i64 {
                    return Err(format!(
                        "at gidx {g} the index is {v}, its affine form {form:?} says {want}:\n{k}"
                    ));
                }
            }
        }
    }
    if proven == 0 {
        return Err("the analysis proved no view chain's index affine".into());
    }
    Ok(())
}
