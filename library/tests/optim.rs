//! `oxjax::optim` against optax (fixtures/optim.json, made by
//! fixtures/make_optim.py), convergence on a quadratic, and a jitted
//! training step carrying the optimizer state as a pytree.

use oxjax::optim::{self, Clip, ClipByGlobalNorm, GradientTransformation};
use oxjax::{Array, Axes, DType, Tree, jit, value_and_grad};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/optim.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn params() -> (Array, Array) {
    let f = fixture();
    let p = f["params"].as_array().unwrap();
    let w: Vec<f32> = floats(&p[0]).iter().map(|&x| x as f32).collect();
    let b: Vec<f32> = floats(&p[1]).iter().map(|&x| x as f32).collect();
    (Array::from_vec(w, &[3]), Array::from_vec(b, &[2, 2]))
}

/// The gradient sequence of make_optim.py.
fn grads(t: usize) -> (Array, Array) {
    let t32 = t as f32;
    let w: Vec<f32> = [1.0f32, -2.0, 0.5]
        .iter()
        .map(|x| x * (t32 + 1.0) - 0.25 * t32)
        .collect();
    let b: Vec<f32> = [0.3f32, -0.1, 2.0, -4.0]
        .iter()
        .map(|x| x / (t32 + 1.0))
        .collect();
    (Array::from_vec(w, &[3]), Array::from_vec(b, &[2, 2]))
}

fn flat(p: &(Array, Array)) -> Vec<f64> {
    p.leaves()
        .iter()
        .flat_map(|a| a.to_vec::<f32>())
        .map(f64::from)
        .collect()
}

fn check_trajectory(name: &str, opt: impl GradientTransformation) {
    let f = fixture();
    let want = f["optimizers"][name].as_array().unwrap().clone();
    let mut p = params();
    let mut state = opt.init(&p);
    for (t, step_want) in want.iter().enumerate() {
        let (u, s) = opt.update(&grads(t), &state, &p);
        p = optim::apply_updates(&p, &u);
        state = s;
        for (i, (g, w)) in flat(&p).iter().zip(floats(step_want)).enumerate() {
            assert!(
                (g - w).abs() <= 2e-6 * (1.0 + w.abs()),
                "{name}, step {t}, parameter {i}: {g}, optax gives {w}"
            );
        }
    }
}

#[test]
fn optimizers_follow_optax() {
    check_trajectory("sgd", optim::sgd(0.1));
    check_trajectory("momentum", optim::momentum(0.1, 0.9, false));
    check_trajectory("nesterov", optim::momentum(0.1, 0.9, true));
    check_trajectory("adam", optim::adam(0.01));
    check_trajectory("adamw", optim::adamw(0.01, 0.1));
    check_trajectory("rmsprop", optim::rmsprop(0.01));
    check_trajectory(
        "clip_global_norm_adam",
        optim::chain((ClipByGlobalNorm(1.0), optim::adam(0.1))),
    );
    check_trajectory("clip_sgd", optim::chain((Clip(0.5), optim::sgd(1.0))));
    check_trajectory(
        "adam_exponential_decay",
        optim::adam(optim::exponential_decay(0.1, 2, 0.5, 0, false)),
    );
    check_trajectory(
        "sgd_warmup_cosine",
        optim::sgd(optim::warmup_cosine_decay(0.0, 0.5, 2, 6, 0.05)),
    );
}

#[test]
fn schedules_follow_optax() {
    let f = fixture();
    let cases = [
        ("constant", optim::constant(0.3)),
        (
            "exponential_decay",
            optim::exponential_decay(1.0, 3, 0.5, 0, false),
        ),
        (
            "exponential_decay_staircase",
            optim::exponential_decay(1.0, 3, 0.5, 0, true),
        ),
        ("cosine_decay", optim::cosine_decay(2.0, 10, 0.1)),
        (
            "warmup_cosine_decay",
            optim::warmup_cosine_decay(0.0, 1.0, 3, 10, 0.1),
        ),
        (
            "piecewise_constant",
            optim::piecewise_constant(1.0, &[(7, 0.1), (3, 0.5)]),
        ),
        ("linear", optim::linear(1.0, 0.2, 8, 2)),
    ];
    for (name, s) in cases {
        for (step, w) in floats(&f["schedules"][name]).iter().enumerate() {
            let g = s.value(step as i32) as f64;
            assert!(
                (g - w).abs() <= 1e-6 * (1.0 + w.abs()),
                "{name} at step {step}: {g}, optax gives {w}"
            );
        }
    }
}

/// An ill-conditioned quadratic, `Σ a_i (x_i - c_i)²`, as f64.
fn quadratic(x: &Array) -> Array {
    let a = Array::from_vec(vec![1.0f64, 10.0, 100.0], &[3]);
    let c = Array::from_vec(vec![1.0f64, -2.0, 0.5], &[3]);
    (a * (x - &c) * (x - &c)).sum(Axes::All, false)
}

fn minimise<O: GradientTransformation>(opt: O, steps: usize) -> Vec<f64> {
    let mut x = Array::zeros(&[3], DType::F64);
    let mut state = opt.init(&x);
    let vg = value_and_grad(quadratic);
    for _ in 0..steps {
        let (_, g) = vg(&x);
        let (u, s) = opt.update(&g, &state, &x);
        x = optim::apply_updates(&x, &u);
        state = s;
    }
    x.to_vec::<f64>()
}

#[test]
fn optimizers_converge_on_a_quadratic() {
    let truth = [1.0, -2.0, 0.5];
    let runs: Vec<(&str, Vec<f64>)> = vec![
        ("sgd", minimise(optim::sgd(0.009), 2000)),
        (
            "momentum",
            minimise(optim::momentum(0.002, 0.9, false), 1000),
        ),
        (
            "nesterov",
            minimise(optim::momentum(0.002, 0.9, true), 1000),
        ),
        (
            "adam",
            minimise(optim::adam(optim::cosine_decay(0.1, 600, 0.0)), 600),
        ),
        ("adamw(0)", minimise(optim::adamw(0.05, 0.0), 1000)),
        (
            "rmsprop",
            minimise(optim::rmsprop(optim::linear(0.02, 0.0, 800, 0)), 800),
        ),
    ];
    for (name, x) in runs {
        for (v, t) in x.iter().zip(truth) {
            assert!(
                (v - t).abs() < 1e-3,
                "{name} ended at {x:?}, minimum at {truth:?}"
            );
        }
    }
}

#[derive(Clone, Tree)]
struct Mlp {
    w: Array,
    b: Array,
}

#[test]
fn a_jitted_step_carries_the_state() {
    let opt = optim::chain((ClipByGlobalNorm(5.0), optim::adamw(0.05, 1e-3)));
    let x = Array::linspace(-1.0, 1.0, 16, DType::F32).reshape(&[8, 2]);
    let y = (x.slice(&[oxjax::Slice::all(), oxjax::Slice::from(0..1)]) * 2.0 - 0.5).reshape(&[8]);
    let loss = |p: &Mlp| {
        let pred = x.matmul(&p.w) + &p.b;
        let r = pred - &y;
        (&r * &r).mean(Axes::All, false)
    };
    let step = |(p, s): &(Mlp, _)| {
        let (l, g) = value_and_grad(loss)(p);
        let (u, s) = opt.update(&g, s, p);
        (optim::apply_updates(p, &u), s, l)
    };
    let jitted = jit(step);
    let p0 = Mlp {
        w: Array::zeros(&[2], DType::F32),
        b: Array::zeros(&[], DType::F32),
    };
    let (mut pe, mut se) = (p0.clone(), opt.init(&p0));
    let (mut pj, mut sj) = (p0.clone(), opt.init(&p0));
    let mut last = f32::INFINITY;
    for _ in 0..200 {
        let (p, s, _) = step(&(pe, se));
        (pe, se) = (p, s);
        let (p, s, l) = jitted(&(pj, sj));
        (pj, sj) = (p, s);
        last = l.item::<f32>();
    }
    for (e, j) in pe.leaves().iter().zip(pj.leaves()) {
        for (a, b) in e.to_vec::<f32>().iter().zip(j.to_vec::<f32>()) {
            assert!((a - b).abs() < 1e-4, "eager {a} vs jit {b}");
        }
    }
    assert!(last < 1e-3, "loss after 200 jitted steps: {last}");
    assert_eq!(sj.1.0.count.item::<i32>(), 200);
}
