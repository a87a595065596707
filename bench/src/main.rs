//! `cargo xtask bench [--backend NAME] [--json FILE] [--quick] [--only A,B*]
//! [--inputs DIR]`: runs the benchmarks (all, or those named by `--only`,
//! where `B*` is a prefix) on one device, prints a table and writes JSON
//! `[{"bench","backend","value","unit","ms"}]` (`ms`: the median time of
//! one call, ending when its results are computed: `block_until_ready`,
//! as the JAX side does). Each figure is the median of several timed runs
//! after a warm-up, sampled until the run count or the time budget is reached; a
//! benchmark whose warm-up alone exceeds the budget on a slow device is
//! reported as skipped, not faked.
//!
//! `--inputs DIR` also writes every workload's inputs there as `.npy`
//! (`<bench>.<name>.npy`): `bench/compare.py`, run by `cargo xtask bench
//! --compare`, times the same workloads on the same data in JAX and NumPy.

use oxjax::fft::Complex;
use oxjax::{
    Array, Axes, DType, Device, Tree, jit, lax, linalg, value_and_grad, value_and_grad_with,
    with_default_device,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Result {
    bench: &'static str,
    value: Option<f64>,
    unit: &'static str,
    note: String,
    /// Median milliseconds of one call.
    ms: Option<f64>,
}

/// Samples keep coming until there are `runs` of them and they have taken
/// this long (a fast workload gets hundreds of runs, so its median is
/// steady), or until the budget is spent.
const MIN_SAMPLING: Duration = Duration::from_millis(500);

/// Median seconds of `f` over at least `runs` runs (and [`MIN_SAMPLING`])
/// after one warm-up: fewer (at least one) once the samples have taken
/// `budget`; none when the warm-up alone exceeds it.
fn time(runs: usize, budget: Duration, mut f: impl FnMut()) -> Option<f64> {
    let t = Instant::now();
    f();
    if t.elapsed() > budget {
        return None;
    }
    let start = Instant::now();
    let mut samples = Vec::new();
    while (samples.len() < runs || start.elapsed() < MIN_SAMPLING)
        && (samples.is_empty() || start.elapsed() < budget)
    {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_secs_f64());
    }
    samples.sort_by(f64::total_cmp);
    Some(samples[samples.len() / 2])
}

/// Waits until the arrays are computed, as compare.py's JAX side does
/// (`jax.block_until_ready`): results stay on the device, unread.
fn ready(arrays: &[&Array]) {
    for a in arrays {
        a.block_until_ready();
    }
}

/// Where `--inputs` writes the workloads' inputs.
static INPUTS: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// `a`, also written to `--inputs DIR` as `<bench>.<name>.npy`.
fn shared(bench: &str, name: &str, a: Array) -> Array {
    if let Some(Some(dir)) = INPUTS.get() {
        let path = dir.join(format!("{bench}.{name}.npy"));
        oxjax::interop::save_npy(&path, &a).unwrap_or_else(|e| {
            eprintln!("bench: cannot write {}: {e}", path.display());
            std::process::exit(1)
        });
    }
    a
}

/// `batch` symmetric positive definite n x n matrices `m m^T / n + I`
/// (built on the host: the workloads time the factorisations only).
fn spd(batch: usize, n: usize, seed: u64) -> Array {
    let m = random(&[batch, n, n], seed).to_vec::<f32>();
    let mut a = vec![0f32; batch * n * n];
    for b in 0..batch {
        let m = &m[b * n * n..][..n * n];
        for i in 0..n {
            for j in 0..n {
                let dot: f32 = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum();
                a[b * n * n + i * n + j] = dot / n as f32 + f32::from(i == j);
            }
        }
    }
    let shape = if batch == 1 {
        vec![n, n]
    } else {
        vec![batch, n, n]
    };
    Array::from_vec(a, &shape)
}

fn random(shape: &[usize], seed: u64) -> Array {
    let n: usize = shape.iter().product();
    let mut s = seed;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect();
    Array::from_vec(v, shape)
}

#[derive(Clone, Tree)]
struct Mlp {
    w1: Array,
    b1: Array,
    w2: Array,
    b2: Array,
}

fn mlp_loss(p: &Mlp, batch: &(Array, Array)) -> Array {
    let (x, y) = batch;
    let h = (x.matmul(&p.w1) + &p.b1).maximum(0.0);
    let logits = h.matmul(&p.w2) + &p.b2;
    let m = logits.max(-1, true).stop_gradient();
    let lse = (&logits - &m).exp().sum(-1, true).log() + &m;
    -((&logits - &lse) * y).sum(Axes::All, false) / 128.0
}

fn run_all(quick: bool, only: &[String]) -> Vec<Result> {
    let on = |name: &str| {
        only.is_empty()
            || only
                .iter()
                .any(|w| name == w || w.strip_suffix('*').is_some_and(|p| name.starts_with(p)))
    };
    let budget = Duration::from_secs(if quick { 2 } else { 20 });
    let runs = if quick { 3 } else { 7 };
    let mut out = Vec::new();
    // (value, ms) from the median seconds t
    let mut push = |bench, t: Option<f64>, value: &dyn Fn(f64) -> f64, unit, note: &str| {
        out.push(Result {
            bench,
            value: t.map(value),
            ms: t.map(|t| t * 1e3),
            unit,
            note: if t.is_some() {
                note.to_string()
            } else {
                "skipped: over the time budget".into()
            },
        })
    };
    let ms = |t: f64| t * 1e3;
    // Sizes grow 8x in work each; once one is over budget, larger ones are too.
    let mut over = false;
    for (name, n) in [
        ("matmul_f32_256", 256),
        ("matmul_f32_512", 512),
        ("matmul_f32_1024", 1024),
        ("matmul_f32_2048", 2048),
    ] {
        if !on(name) {
            continue;
        }
        let (a, b) = (
            shared(name, "a", random(&[n, n], 1)),
            shared(name, "b", random(&[n, n], 2)),
        );
        let t = if over {
            None
        } else {
            time(runs, budget, || ready(&[&a.matmul(&b)]))
        };
        over = t.is_none();
        let gflops = |t: f64| 2.0 * (n as f64).powi(3) / t / 1e9;
        push(name, t, &gflops, "GFLOP/s", "eager (one kernel)");
    }
    let x4m = |bench| shared(bench, "x", random(&[4 << 20], 3));
    let chain = |x: &Array| ((x.sin() * 2.0 + 1.0).exp() + x * x).sqrt();
    if on("chain_4m") {
        let x = x4m("chain_4m");
        let jchain = jit(chain);
        let t = time(runs, budget, || ready(&[&jchain(&x)]));
        push("chain_4m", t, &ms, "ms", "jitted: one fused kernel");
    }
    if on("chain_4m_eager") {
        let x = random(&[4 << 20], 3);
        let t = time(runs, budget, || ready(&[&chain(&x)]));
        push("chain_4m_eager", t, &ms, "ms", "eager: six kernels");
    }
    if on("special_chain_4m") {
        let x = x4m("special_chain_4m");
        let f = jit(|x: &Array| (x.tanh() * (x * x).log1p()).erf());
        let t = time(runs, budget, || ready(&[&f(&x)]));
        push(
            "special_chain_4m",
            t,
            &ms,
            "ms",
            "jitted erf(tanh(x) log1p(x^2)): one fused kernel",
        );
    }
    if on("eager_tiny_op") {
        let (p, q) = (random(&[16], 4), random(&[16], 5));
        let t = time(runs, budget, || {
            for _ in 0..1000 {
                drop(&p + &q);
            }
            drop((&p + &q).to_vec::<f32>());
        });
        push(
            "eager_tiny_op",
            t.map(|t| t / 1001.0),
            &|t| t * 1e6,
            "µs",
            "dispatch + kernel on 16 elements",
        );
    }
    if on("sum_f32_16m") {
        let big = shared("sum_f32_16m", "x", random(&[16 << 20], 6));
        let t = time(runs, budget, || {
            std::hint::black_box(big.sum(Axes::All, false).item::<f32>());
        });
        push(
            "sum_f32_16m",
            t,
            &|t| (64 << 20) as f64 / t / 1e9,
            "GB/s",
            "two-stage reduction: partials, then their sum",
        );
    }
    if on("softmax_4096x1024") {
        let s = shared("softmax_4096x1024", "x", random(&[4096, 1024], 7));
        // Jitted, as a JAX user runs it (compare.py jits jax.nn.softmax).
        let f = jit(|s: &Array| oxjax::nn::softmax(s, -1));
        let t = time(runs, budget, || ready(&[&f(&s)]));
        push(
            "softmax_4096x1024",
            t,
            &ms,
            "ms",
            "jitted nn::softmax over rows",
        );
    }
    if on("fori_loop_1000") {
        let v = shared("fori_loop_1000", "v", random(&[16], 11));
        let f = jit(|v: &Array| {
            lax::fori_loop(
                0,
                1000,
                |i, v: &Array| v * 0.99 + v.sin() * 0.01 + i.astype(DType::F32) * 1e-3,
                v,
            )
        });
        let t = time(runs, budget, || ready(&[&f(&v)]));
        push(
            "fori_loop_1000",
            t,
            &ms,
            "ms",
            "jitted fori_loop: 1000 steps of a 16-element update",
        );
    }
    if on("mlp_infer_b1") {
        let b = "mlp_infer_b1";
        let p = [
            shared(b, "w1", random(&[784, 512], 12) * 0.05),
            shared(b, "b1", random(&[512], 13) * 0.05),
            shared(b, "w2", random(&[512, 512], 14) * 0.05),
            shared(b, "b2", random(&[512], 15) * 0.05),
            shared(b, "w3", random(&[512, 10], 16) * 0.05),
            shared(b, "b3", random(&[10], 17) * 0.05),
        ];
        let x = shared(b, "x", random(&[1, 784], 18));
        let f = jit(|a: &(Vec<Array>, Array)| {
            let (p, x) = a;
            let h = (x.matmul(&p[0]) + &p[1]).maximum(0.0);
            let h = (h.matmul(&p[2]) + &p[3]).maximum(0.0);
            h.matmul(&p[4]) + &p[5]
        });
        let args = (p.to_vec(), x);
        let t = time(runs, budget, || ready(&[&f(&args)]));
        push(b, t, &ms, "ms", "jitted 784-512-512-10 forward, batch 1");
    }
    if on("conv_fwd_bwd") {
        let b = "conv_fwd_bwd";
        let x = shared(b, "x", random(&[32, 3, 32, 32], 19));
        let k = shared(b, "k", random(&[16, 3, 3, 3], 20) * 0.3);
        let f = jit(value_and_grad(|xk: &(Array, Array)| {
            let y = lax::conv_general_dilated(
                &xk.0,
                &xk.1,
                &[1, 1],
                &lax::Padding::Same,
                None,
                None,
                None,
                1,
                1,
            );
            (&y * &y).sum(Axes::All, false)
        }));
        let args = (x, k);
        let t = time(runs, budget, || {
            let (l, (gx, gk)) = f(&args);
            std::hint::black_box(l.item::<f32>());
            ready(&[&gx, &gk]);
        });
        push(
            b,
            t,
            &ms,
            "ms",
            "jitted value and x, kernel grads of sum(conv^2), NCHW 32x3x32x32, 16 3x3, SAME",
        );
    }
    for (name, n) in [("cholesky_128", 128), ("cholesky_512", 512)] {
        if on(name) {
            let a = shared(name, "a", spd(1, n, 21));
            let t = time(runs, budget, || ready(&[&linalg::cholesky(&a)]));
            push(name, t, &ms, "ms", "linalg::cholesky, eager");
        }
    }
    if on("cholesky_b64x32") {
        let a = shared("cholesky_b64x32", "a", spd(64, 32, 22));
        let t = time(runs, budget, || ready(&[&linalg::cholesky(&a)]));
        push(
            "cholesky_b64x32",
            t,
            &ms,
            "ms",
            "linalg::cholesky of 64 32x32, eager",
        );
    }
    let batched = |b: usize, rest: &[usize]| -> Vec<usize> {
        // one matrix keeps its unbatched inputs' shapes
        if b == 1 {
            rest.to_vec()
        } else {
            [&[b], rest].concat()
        }
    };
    for (name, b, n) in [
        ("solve_128", 1, 128),
        ("solve_512", 1, 512),
        ("solve_b64x32", 64, 32),
    ] {
        if on(name) {
            let a = shared(name, "a", spd(b, n, 23));
            let rhs = shared(name, "b", random(&batched(b, &[n, 1]), 24));
            let t = time(runs, budget, || ready(&[&linalg::solve(&a, &rhs)]));
            push(
                name,
                t,
                &ms,
                "ms",
                "linalg::solve (SPD a, one column), eager",
            );
        }
    }
    for (name, b, n) in [
        ("eigh_128", 1, 128),
        ("eigh_512", 1, 512),
        ("eigh_b64x32", 64, 32),
    ] {
        if on(name) {
            let a = shared(name, "a", spd(b, n, 25));
            let t = time(runs, budget, || {
                let (w, v) = linalg::eigh(&a);
                ready(&[&w, &v]);
            });
            push(
                name,
                t,
                &ms,
                "ms",
                "linalg::eigh (values and vectors), eager",
            );
        }
    }
    for (name, b, n) in [
        ("svd_128", 1, 128),
        ("svd_512", 1, 512),
        ("svd_b64x32", 64, 32),
    ] {
        if on(name) {
            let a = shared(name, "a", random(&batched(b, &[n, n]), 26));
            let t = time(runs, budget, || {
                let (u, s, vt) = linalg::svd(&a, false);
                ready(&[&u, &s, &vt]);
            });
            push(name, t, &ms, "ms", "linalg::svd (reduced), eager");
        }
    }
    if on("fft_65536") {
        let re = shared("fft_65536", "re", random(&[1 << 16], 27));
        let im = shared("fft_65536", "im", random(&[1 << 16], 28));
        let z = Complex::new(&re, &im);
        let t = time(runs, budget, || {
            let y = oxjax::fft::fft(&z, None, -1);
            ready(&[&y.re, &y.im]);
        });
        push("fft_65536", t, &ms, "ms", "fft::fft of 2^16 complex, eager");
    }
    if !on("jit_compile_mlp") && !on("mlp_train_step") {
        return out;
    }
    let b = "mlp_train_step";
    let params = Mlp {
        w1: shared(b, "w1", random(&[784, 512], 8) * 0.05),
        b1: shared(b, "b1", Array::zeros(&[512], DType::F32)),
        w2: shared(b, "w2", random(&[512, 10], 9) * 0.05),
        b2: shared(b, "b2", Array::zeros(&[10], DType::F32)),
    };
    let batch = (
        shared(b, "x", random(&[128, 784], 10)),
        shared(b, "y", Array::eye(128, 10, 0, DType::F32)),
    );
    let step = jit(|a: &(Mlp, (Array, Array))| {
        let (l, g) = value_and_grad_with(mlp_loss)(&a.0, &a.1);
        let next = a.0.unflatten(
            a.0.leaves()
                .iter()
                .zip(g.leaves())
                .map(|(p, g)| p - &(g * 0.01))
                .collect(),
        );
        (l, next)
    });
    let args = (params, batch);
    let t = Instant::now();
    let (l, next) = step(&args);
    std::hint::black_box(l.item::<f32>());
    drop(next.w2.to_vec::<f32>());
    push(
        "jit_compile_mlp",
        Some(t.elapsed().as_secs_f64()),
        &ms,
        "ms",
        "first call: trace, fuse, compile, run",
    );
    let t = time(runs, budget, || {
        let (l, next) = step(&args);
        std::hint::black_box(l.item::<f32>());
        ready(&[&next.w2]);
    });
    push(
        "mlp_train_step",
        t,
        &ms,
        "ms",
        "jitted value_and_grad + SGD, 784-512-10, batch 128",
    );
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let quick = args.iter().any(|a| a == "--quick");
    let inputs = arg("--inputs").map(PathBuf::from);
    if let Some(dir) = &inputs {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| {
            eprintln!("bench: cannot create {}: {e}", dir.display());
            std::process::exit(1)
        });
    }
    INPUTS.set(inputs).expect("set once");
    let only: Vec<String> = arg("--only")
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let device: Device = match arg("--backend") {
        Some(name) => oxjax::device(&name).unwrap_or_else(|e| {
            eprintln!("bench: {e}");
            std::process::exit(2)
        }),
        None => oxjax::default_device(),
    };
    let info = device.info();
    eprintln!(
        "benchmarking on '{}' ({} {}: {})",
        device.name(),
        info.name,
        info.version,
        info.device
    );
    let results = with_default_device(&device, || run_all(quick, &only));
    println!("| bench | {} | unit | note |", device.name());
    println!("|---|---:|---|---|");
    for r in &results {
        let v = r.value.map_or("—".to_string(), |v| format!("{v:.3}"));
        println!("| {} | {v} | {} | {} |", r.bench, r.unit, r.note);
    }
    if let Some(file) = arg("--json") {
        let rows: Vec<String> = results
            .iter()
            .filter_map(|r| {
                r.value.zip(r.ms).map(|(v, ms)| {
                    format!(
                        "  {{\"bench\": \"{}\", \"backend\": \"{}\", \"value\": {v}, \"unit\": \"{}\", \"ms\": {ms}}}",
                        r.bench,
                        device.name(),
                        r.unit
                    )
                })
            })
            .collect();
        let json = format!("[\n{}\n]\n", rows.join(",\n"));
        std::fs::write(&file, json).unwrap_or_else(|e| {
            eprintln!("bench: cannot write {file}: {e}");
            std::process::exit(1)
        });
        eprintln!("wrote {file}");
    }
}
