//! The differential suite against JAX: replays the random programs of
//! tests/fixtures/jax_programs.json (written by make_jax_programs.py with
//! JAX's results) on the embedded device and every plugin — eager, `jit`,
//! `vmap` over a leading batch axis and `grad` of the summed result — and
//! judges each result with the per-op tolerances of [`op_tolerance`].
//! Agreement must stay at or above 99.5%; the known disagreements are
//! listed (with their reasons) in docs/jax-compat.md and in [`KNOWN`].

mod common;

use common::{json_fixture, num, plugin_devices, registry};
use oxjax::abi::Semantics;
use oxjax::numpy::PadMode;
use oxjax::{Array, Axes, Device, grad, jit, lax, nn, numpy as jnp, vmap, with_default_device};
use serde_json::Value;

/// `[shape, data]` of the fixture.
fn shape_data(v: &Value) -> (Vec<usize>, Vec<f64>) {
    let shape = v[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    (shape, v[1].as_array().unwrap().iter().map(num).collect())
}

fn f32_array(shape: &[usize], data: &[f64]) -> Array {
    Array::from_vec(data.iter().map(|&x| x as f32).collect(), shape)
}

fn int(v: &Value) -> isize {
    v.as_i64().expect("an integer") as isize
}

fn ints(v: &Value) -> Vec<isize> {
    v.as_array().expect("a list").iter().map(int).collect()
}

fn sizes(v: &Value) -> Vec<usize> {
    ints(v).into_iter().map(|d| d as usize).collect()
}

/// One op of the program format with oxjax's API: `name`, its argument
/// arrays and its parameters (as make_jax_programs.py writes them).
fn apply(name: &str, a: &[&Array], p: &[Value]) -> Array {
    let x = a[0];
    let axes = |v: &Value| {
        if v.is_null() {
            Axes::All
        } else {
            Axes::from(int(v))
        }
    };
    let keep = || p[1].as_i64() == Some(1);
    match name {
        "negative" => jnp::negative(x),
        "abs" => jnp::abs(x),
        "exp" => jnp::exp(x),
        "log" => jnp::log(x),
        "sqrt" => jnp::sqrt(x),
        "tanh" => jnp::tanh(x),
        "sin" => jnp::sin(x),
        "cos" => jnp::cos(x),
        "sigmoid" => nn::sigmoid(x),
        "relu" => nn::relu(x),
        "square" => jnp::square(x),
        "log1p" => jnp::log1p(x),
        "expm1" => jnp::expm1(x),
        "sign" => jnp::sign(x),
        "floor" => jnp::floor(x),
        "ceil" => jnp::ceil(x),
        "arctan" => jnp::arctan(x),
        "softplus" => nn::softplus(x),
        "reciprocal" => jnp::reciprocal(x),
        "sinh" => jnp::sinh(x),
        "arcsinh" => jnp::arcsinh(x),
        "cbrt" => jnp::cbrt(x),
        "silu" => nn::silu(x),
        "gelu" => nn::gelu(x, false),
        "erf" => lax::erf(x),
        "clip" => jnp::clip(x, Some(-0.5), Some(0.5)),
        "add" => jnp::add(x, a[1]),
        "subtract" => jnp::subtract(x, a[1]),
        "multiply" => jnp::multiply(x, a[1]),
        "divide" => jnp::divide(x, a[1]),
        "maximum" => jnp::maximum(x, a[1]),
        "minimum" => jnp::minimum(x, a[1]),
        "power" => jnp::power(x, a[1]),
        "arctan2" => jnp::arctan2(x, a[1]),
        "hypot" => jnp::hypot(x, a[1]),
        "logaddexp" => jnp::logaddexp(x, a[1]),
        "where_gt" => jnp::where_(&jnp::greater(x, a[1]), x, jnp::multiply(a[1], 0.5)),
        "sum" => jnp::sum(x, axes(&p[0]), keep()),
        "mean" => jnp::mean(x, axes(&p[0]), keep()),
        "max" => jnp::max(x, axes(&p[0]), keep()),
        "min" => jnp::min(x, axes(&p[0]), keep()),
        "prod" => jnp::prod(x, axes(&p[0]), keep()),
        "var" => jnp::var(x, axes(&p[0]), 0, keep()),
        "std" => jnp::std(x, axes(&p[0]), 0, keep()),
        "logsumexp" => nn::logsumexp(x, axes(&p[0]), keep(), None),
        "softmax" => nn::softmax(x, int(&p[0])),
        "log_softmax" => nn::log_softmax(x, int(&p[0])),
        "cumsum" => jnp::cumsum(x, Some(int(&p[0]))),
        "cumprod" => jnp::cumprod(x, Some(int(&p[0]))),
        "sort" => jnp::sort(x, Some(int(&p[0])), false),
        "reshape" => jnp::reshape(x, &ints(&p[0])),
        "transpose" => jnp::transpose(x, Some(&sizes(&p[0]))),
        "broadcast_to" => jnp::broadcast_to(x, &sizes(&p[0])),
        "slice" => lax::slice(x, &sizes(&p[0]), &sizes(&p[1]), Some(&sizes(&p[2]))),
        "concatenate" => jnp::concatenate(a, Some(int(&p[0]))),
        "pad" => {
            let w: Vec<(usize, usize)> = p[0]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| (int(&w[0]) as usize, int(&w[1]) as usize))
                .collect();
            jnp::pad(x, &w, PadMode::Constant(p[1].as_f64().unwrap()))
        }
        "flip" => jnp::flip(x, ints(&p[0])),
        "expand_dims" => jnp::expand_dims(x, int(&p[0])),
        "squeeze" => jnp::squeeze(x, int(&p[0])),
        "swapaxes" => jnp::swapaxes(x, int(&p[0]), int(&p[1])),
        "roll" => jnp::roll(x, int(&p[0]), Some(int(&p[1]))),
        "matmul" => jnp::matmul(x, a[1]),
        "dot" => jnp::dot(x, a[1]),
        other => panic!("jax_programs.json: no oxjax spelling for op {other:?}"),
    }
}

/// Runs a program on its inputs: one value per op, the last is the result.
fn run(ops: &[Value], inputs: &[Array]) -> Array {
    let mut vals: Vec<Array> = inputs.to_vec();
    for op in ops {
        let op = op.as_array().unwrap();
        let args: Vec<&Array> = op[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &vals[int(i) as usize])
            .collect();
        let out = apply(op[0].as_str().unwrap(), &args, &op[2..]);
        vals.push(out);
    }
    vals.pop().unwrap()
}

/// How far a result may be from JAX's, per op: `(rel, abs)`, summed over a
/// program's ops; a value agrees when `|got - JAX| <= rel |JAX| + abs (1 +
/// max |JAX|)`. Movement, selection and sorting are exact; arithmetic is
/// within a few f32 ulps; transcendental functions follow each library's
/// own approximations (XLA's and oxjax's differ by a few ulps); sums,
/// products and contractions add in a different order (error ~ n eps times
/// the size of the terms, hence the absolute part).
fn op_tolerance(name: &str) -> (f64, f64) {
    const ULP: f64 = f32::EPSILON as f64;
    match name {
        "negative" | "abs" | "relu" | "sign" | "floor" | "ceil" | "clip" | "maximum"
        | "minimum" | "where_gt" | "max" | "min" | "sort" | "reshape" | "transpose"
        | "broadcast_to" | "slice" | "concatenate" | "pad" | "flip" | "expand_dims" | "squeeze"
        | "swapaxes" | "roll" => (0.0, 0.0),
        "add" | "subtract" => (ULP, ULP),
        "multiply" | "divide" | "square" | "reciprocal" => (2.0 * ULP, 0.0),
        "sum" | "mean" | "cumsum" | "matmul" | "dot" | "var" | "std" => (8.0 * ULP, 8.0 * ULP),
        "prod" | "cumprod" => (8.0 * ULP, 0.0),
        _ => (16.0 * ULP, 4.0 * ULP),
    }
}

/// Same value: NaN with NaN, the same infinity, else within `(rel, abs)`.
fn agrees(got: &[f64], want: &[f64], (rel, abs): (f64, f64)) -> bool {
    let scale = 1.0
        + want
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |m, v| m.max(v.abs()));
    got.len() == want.len()
        && got.iter().zip(want).all(|(&g, &w)| {
            if w.is_nan() || g.is_nan() {
                return w.is_nan() && g.is_nan();
            }
            if w.is_infinite() || g.is_infinite() {
                return g == w;
            }
            (g - w).abs() <= rel * w.abs() + abs * scale
        })
}

/// One program of the fixture.
struct Program {
    id: usize,
    ops: Vec<Value>,
    /// Batched inputs (leading axis of length 2).
    inputs: Vec<(Vec<usize>, Vec<f64>)>,
    out: (Vec<usize>, Vec<f64>),
    vmap: (Vec<usize>, Vec<f64>),
    grad: Option<Vec<(Vec<usize>, Vec<f64>)>>,
    /// Some input or intermediate value is not finite.
    nonfinite: bool,
    tol: (f64, f64),
}

fn programs() -> (String, Vec<Program>) {
    let doc = json_fixture("jax_programs.json");
    let progs = doc["programs"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(id, p)| {
            let ops = p["ops"].as_array().unwrap().clone();
            let inputs = p["in"].as_array().unwrap().iter().map(shape_data).collect();
            let tol = ops.iter().fold((0.0, 0.0), |(r, a), op| {
                let (r1, a1) = op_tolerance(op[0].as_str().unwrap());
                (r + r1, a + a1)
            });
            Program {
                id,
                ops,
                inputs,
                out: shape_data(&p["out"]),
                vmap: shape_data(&p["vmap"]),
                grad: p
                    .get("grad")
                    .map(|g| g.as_array().unwrap().iter().map(shape_data).collect()),
                nonfinite: p.get("nf").is_some(),
                tol: (tol.0.max(f32::EPSILON as f64), tol.1),
            }
        })
        .collect();
    (doc["jax"].to_string(), progs)
}

fn values(a: &Array) -> Vec<f64> {
    a.astype(oxjax::DType::F32)
        .to_vec::<f32>()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Every mode of every program on `dev`: `(checks, failures)`.
fn check_on(dev: &Device, progs: &[Program]) -> (usize, Vec<String>) {
    let finite_only = dev
        .info()
        .caps
        .semantics
        .has(Semantics::NONFINITE_UNDEFINED);
    let mut checks = 0;
    let mut failures = Vec::new();
    with_default_device(dev, || {
        for p in progs {
            if finite_only && p.nonfinite {
                continue;
            }
            // The inputs on `dev` (the default device here): batched, and
            // their element 0.
            let batched: Vec<Array> = p.inputs.iter().map(|(s, d)| f32_array(s, d)).collect();
            let first: Vec<Array> = p
                .inputs
                .iter()
                .map(|(s, d)| f32_array(&s[1..], &d[..d.len() / 2]))
                .collect();
            let f = |xs: &Vec<Array>| run(&p.ops, xs);
            let mut judge = |how: &str,
                             got: std::thread::Result<Array>,
                             want: &(Vec<usize>, Vec<f64>),
                             scale: f64| {
                checks += 1;
                let tol = (p.tol.0 * scale, p.tol.1 * scale);
                match got {
                    Ok(got)
                        if got.shape() == want.0.as_slice()
                            && agrees(&values(&got), &want.1, tol) => {}
                    Ok(got) => failures.push(format!(
                        "{} program {} {how}: got {:?} {:?}, JAX {:?} {:?}\n  ops {:?}",
                        dev.name(),
                        p.id,
                        got.shape(),
                        values(&got),
                        want.0,
                        want.1,
                        p.ops
                    )),
                    Err(e) => failures.push(format!(
                        "{} program {} {how}: panicked: {}\n  ops {:?}",
                        dev.name(),
                        p.id,
                        e.downcast_ref::<String>()
                            .map(String::as_str)
                            .or(e.downcast_ref::<&str>().copied())
                            .unwrap_or("?"),
                        p.ops
                    )),
                }
            };
            let catch =
                |g: &dyn Fn() -> Array| std::panic::catch_unwind(std::panic::AssertUnwindSafe(g));
            judge("eager", catch(&|| f(&first)), &p.out, 1.0);
            judge("jit", catch(&|| jit(f)(&first)), &p.out, 1.0);
            judge("vmap", catch(&|| vmap(f)(&batched)), &p.vmap, 1.0);
            if let Some(want) = &p.grad {
                let g = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    grad(|xs: &Vec<Array>| run(&p.ops, xs).sum(Axes::All, false))(&first)
                }));
                for (i, w) in want.iter().enumerate() {
                    let gi = match &g {
                        Ok(g) => Ok(g[i].clone()),
                        Err(_) => Err(Box::new(String::from("grad panicked"))
                            as Box<dyn std::any::Any + Send>),
                    };
                    judge(&format!("grad[{i}]"), gi, w, 10.0);
                }
            }
        }
    });
    (checks, failures)
}

/// Programs known to disagree, by fixture index, with the reason (each also
/// in docs/jax-compat.md).
const KNOWN: &[(usize, &str)] = &[];

/// Every how many programs a device replays in CI: all of them on the
/// interpreters; the compiling backends spend most of a debug-build replay
/// compiling kernels (wasmtime's Cranelift, lavapipe's shader compiler),
/// so they replay an evenly spread subset to keep the suite under two
/// minutes. `OXJAX_JAX_PROGRAMS=all` replays every program everywhere
/// (1100 programs on 4 devices: ~6 minutes in a debug build).
fn stride(device: &str) -> usize {
    if std::env::var("OXJAX_JAX_PROGRAMS").is_ok_and(|v| v == "all") {
        return 1;
    }
    match device {
        "wasm" => 4,
        "webgpu" => 16,
        _ => 1,
    }
}

fn replay_on(name: &str) {
    let (jax, mut progs) = programs();
    assert!(
        progs.len() >= 1000,
        "the fixture has {} programs",
        progs.len()
    );
    let every = stride(name);
    progs.retain(|p| p.id % every == 0);
    let dev = if name == "embedded" {
        registry().device("embedded").unwrap()
    } else {
        plugin_devices()
            .into_iter()
            .find(|d| d.name() == name)
            .unwrap_or_else(|| panic!("no device {name}"))
    };
    let (checks, failures) = check_on(&dev, &progs);
    let unknown: Vec<&String> = failures
        .iter()
        .filter(|f| {
            !KNOWN
                .iter()
                .any(|(id, _)| f.contains(&format!(" program {id} ")))
        })
        .collect();
    let agreement = 1.0 - failures.len() as f64 / checks as f64;
    eprintln!(
        "{name}: {checks} checks, {} disagreements ({:.2}% agreement)",
        failures.len(),
        100.0 * agreement
    );
    assert!(
        unknown.is_empty() && agreement >= 0.995,
        "{name}: {} of {checks} checks disagree with JAX {jax} ({} not listed as known):\n{}",
        failures.len(),
        unknown.len(),
        unknown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn programs_agree_with_jax_on_embedded() {
    replay_on("embedded");
}

#[test]
fn programs_agree_with_jax_on_reference() {
    replay_on("reference");
}

#[test]
fn programs_agree_with_jax_on_wasm() {
    replay_on("wasm");
}

#[test]
fn programs_agree_with_jax_on_webgpu() {
    replay_on("webgpu");
}
