//! `cargo xtask bench [--backend NAME] [--json FILE] [--quick] [--only A,B*]`:
//! runs the benchmarks (all, or those named by `--only`, where `B*` is a
//! prefix) on one device, prints a table and writes JSON
//! `[{"bench","backend","value","unit"}]`. Each figure is the median of
//! several timed runs after a warm-up; a benchmark whose single run exceeds
//! the time budget on a slow device is reported as skipped, not faked.

use oxjax::{Array, Axes, DType, Device, Tree, jit, value_and_grad_with, with_default_device};
use std::time::{Duration, Instant};

struct Result {
    bench: &'static str,
    value: Option<f64>,
    unit: &'static str,
    note: String,
}

/// Median seconds of `f` over `runs` runs after one warm-up (skipped when
/// the warm-up alone exceeds `budget`).
fn time(runs: usize, budget: Duration, mut f: impl FnMut()) -> Option<f64> {
    let t = Instant::now();
    f();
    if t.elapsed() > budget {
        return None;
    }
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    Some(samples[samples.len() / 2])
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
    let mut push = |bench, value: Option<f64>, unit, note: &str| {
        out.push(Result {
            bench,
            value,
            unit,
            note: if value.is_some() {
                note.to_string()
            } else {
                "skipped: over the time budget".into()
            },
        })
    };
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
        let (a, b) = (random(&[n, n], 1), random(&[n, n], 2));
        let t = if over {
            None
        } else {
            time(runs, budget, || drop(a.matmul(&b).to_vec::<f32>()))
        };
        over = t.is_none();
        push(
            name,
            t.map(|t| 2.0 * (n as f64).powi(3) / t / 1e9),
            "GFLOP/s",
            "eager (one kernel), result read back",
        );
    }
    let x = random(&[4 << 20], 3);
    let chain = |x: &Array| ((x.sin() * 2.0 + 1.0).exp() + x * x).sqrt();
    if on("chain_4m") {
        let jchain = jit(chain);
        let t = time(runs, budget, || drop(jchain(&x).to_vec::<f32>()));
        push(
            "chain_4m",
            t.map(|t| t * 1e3),
            "ms",
            "jitted: one fused kernel",
        );
    }
    if on("chain_4m_eager") {
        let t = time(runs, budget, || drop(chain(&x).to_vec::<f32>()));
        push(
            "chain_4m_eager",
            t.map(|t| t * 1e3),
            "ms",
            "eager: six kernels",
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
            t.map(|t| t / 1001.0 * 1e6),
            "µs",
            "dispatch + kernel on 16 elements",
        );
    }
    if on("sum_f32_16m") {
        let big = random(&[16 << 20], 6);
        let t = time(runs, budget, || {
            std::hint::black_box(big.sum(Axes::All, false).item::<f32>());
        });
        push(
            "sum_f32_16m",
            t.map(|t| (64 << 20) as f64 / t / 1e9),
            "GB/s",
            "two-stage reduction: partials, then their sum",
        );
    }
    if on("softmax_4096x1024") {
        let s = random(&[4096, 1024], 7);
        let t = time(runs, budget, || {
            let m = s.max(-1, true);
            let e = (&s - &m).exp();
            drop((&e / &e.sum(-1, true)).to_vec::<f32>())
        });
        push(
            "softmax_4096x1024",
            t.map(|t| t * 1e3),
            "ms",
            "eager (4 kernels)",
        );
    }
    if !on("jit_compile_mlp") && !on("mlp_train_step") {
        return out;
    }
    let params = Mlp {
        w1: random(&[784, 512], 8) * 0.05,
        b1: Array::zeros(&[512], DType::F32),
        w2: random(&[512, 10], 9) * 0.05,
        b2: Array::zeros(&[10], DType::F32),
    };
    let batch = (random(&[128, 784], 10), Array::eye(128, 10, 0, DType::F32));
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
        Some(t.elapsed().as_secs_f64() * 1e3),
        "ms",
        "first call: trace, fuse, compile, run",
    );
    let t = time(runs, budget, || {
        let (l, next) = step(&args);
        std::hint::black_box(l.item::<f32>());
        drop(next.w2.to_vec::<f32>());
    });
    push(
        "mlp_train_step",
        t.map(|t| t * 1e3),
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
                r.value.map(|v| {
                    format!(
                        "  {{\"bench\": \"{}\", \"backend\": \"{}\", \"value\": {v}, \"unit\": \"{}\"}}",
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
