//! `jit`: results equal eager evaluation, programs are cached per signature,
//! jit composes with the transformations, and fusion keeps kernel counts
//! down (the counts are asserted, so a fusion regression fails here).

mod common;
use common::on_embedded;
use oxjax::{
    Array, Axes, DType, ReduceOp, Registry, Tree, grad, jit, lower, value_and_grad_with, vmap,
    with_default_device,
};
use std::cell::Cell;

fn rand(shape: &[usize], seed: u64) -> Array {
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

fn close(a: &Array, b: &Array) {
    assert_eq!(a.shape(), b.shape());
    let values = |x: &Array| -> Vec<f64> {
        x.try_scalars()
            .unwrap()
            .iter()
            .map(|s| s.as_f64())
            .collect()
    };
    let (a, b) = (values(a), values(b));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * (1.0 + x.abs()) || (x.is_nan() && y.is_nan()),
            "element {i}: {x} vs {y}"
        );
    }
}

fn kernels<X: Tree, Y: Tree>(f: impl Fn(&X) -> Y, x: &X) -> usize {
    on_embedded(|| lower(f, x).kernel_count())
}

fn softmax(x: &Array) -> Array {
    let m = x.max(-1, true);
    let e = (x - &m).exp();
    &e / &e.sum(-1, true)
}

fn logsumexp(x: &Array) -> Array {
    let m = x.max(-1, true);
    (x - &m).exp().sum(-1, true).log() + m
}

fn layer_norm(x: &Array) -> Array {
    let m = x.mean(-1, true);
    let c = x - &m;
    let v = (&c * &c).mean(-1, true);
    c / (v + 1e-5).sqrt()
}

#[derive(Clone, Tree)]
struct Mlp {
    w1: Array,
    b1: Array,
    w2: Array,
    b2: Array,
}

fn mlp(p: &Mlp, x: &Array) -> Array {
    let h = (x.matmul(&p.w1) + &p.b1).maximum(0.0);
    h.matmul(&p.w2) + &p.b2
}

fn loss(p: &Mlp, batch: &(Array, Array)) -> Array {
    let logits = mlp(p, &batch.0);
    let lse = logsumexp(&logits);
    -((logits - lse) * &batch.1).sum(Axes::All, false) / batch.0.shape()[0] as f64
}

fn params() -> Mlp {
    Mlp {
        w1: rand(&[8, 16], 1),
        b1: rand(&[16], 2),
        w2: rand(&[16, 4], 3),
        b2: rand(&[4], 4),
    }
}

#[test]
fn kernel_counts_of_canonical_programs() {
    on_embedded(|| {
        let (x, y) = (rand(&[64], 5), rand(&[64], 6));
        assert_eq!(
            kernels(
                |p: &(Array, Array)| (&p.0 * &p.0 + &p.1 * &p.1).sqrt(),
                &(x, y)
            ),
            1,
            "hypot"
        );
        let (a, w, b) = (rand(&[8, 8], 7), rand(&[8, 16], 8), rand(&[16], 9));
        assert_eq!(
            kernels(
                |p: &(Array, Array, Array)| (p.0.matmul(&p.1) + &p.2).maximum(0.0),
                &(a.clone(), w, b)
            ),
            1,
            "relu(x @ W + b)"
        );
        let p = params();
        assert_eq!(
            kernels(|q: &(Mlp, Array)| mlp(&q.0, &q.1), &(p.clone(), a.clone())),
            2,
            "two-layer MLP forward"
        );
        let s = rand(&[32, 64], 10);
        // max, exp (read by the sum and the division, so stored once by
        // the cost model rather than computed in both), sum, divide.
        assert_eq!(kernels(softmax, &s), 4, "softmax");
        assert!(
            kernels(logsumexp, &s) <= 2,
            "logsumexp: {} kernels",
            kernels(logsumexp, &s)
        );
        assert!(
            kernels(layer_norm, &s) <= 3,
            "layer norm: {} kernels",
            kernels(layer_norm, &s)
        );
        let mean_var = |x: &Array| {
            let m = x.mean(-1, false);
            (m.clone(), (x * x).mean(-1, false) - &m * &m)
        };
        assert_eq!(
            kernels(mean_var, &s),
            1,
            "mean and variance of one input (sibling reductions)"
        );
        let onehot = Array::eye(8, 4, 0, DType::F32);
        let n = kernels(
            |q: &(Mlp, (Array, Array))| value_and_grad_with(loss)(&q.0, &q.1),
            &(p, (a, onehot)),
        );
        println!(
            "jitted value_and_grad of the 2-layer MLP with softmax cross-entropy: {n} kernels (jax-js: 21)"
        );
        assert!(n < 21, "{n} kernels");
    });
}

#[test]
fn a_fused_program_launches_its_kernels_only() {
    let reg = Registry::embedded();
    let dev = reg.default_device();
    with_default_device(&dev, || {
        let hypot = jit(|p: &(Array, Array)| (&p.0 * &p.0 + &p.1 * &p.1).sqrt());
        let args = (rand(&[1000], 20), rand(&[1000], 21));
        let _ = hypot(&args);
        let before = dev.kernel_launches();
        let out = hypot(&args);
        assert_eq!(
            dev.kernel_launches() - before,
            1,
            "hypot runs as one kernel"
        );
        close(&out, &(&args.0 * &args.0 + &args.1 * &args.1).sqrt());
    });
}

#[test]
fn jit_equals_eager_and_caches_per_signature() {
    on_embedded(|| {
        let traces = Cell::new(0);
        let f = |x: &Array| {
            traces.set(traces.get() + 1);
            let t = x.t().slice(&[oxjax::Slice::all().step(-1)]);
            (softmax(&t) * 3.0 + layer_norm(&t))
                .pad(&[(1, 0), (0, 2)], 0.5)
                .tanh()
        };
        let jf = jit(f);
        let x = rand(&[6, 5], 11);
        let want = f(&x);
        traces.set(0);
        close(&jf(&x), &want);
        close(&jf(&(&x + 0.0)), &want);
        assert_eq!(traces.get(), 1, "one trace per signature");
        let other = rand(&[4, 5], 12);
        close(&jf(&other), &f(&other));
        assert_eq!(
            traces.get(),
            3,
            "a new shape traces again (and the eager call once)"
        );
        // Reductions, matmul, argmax, concatenate and casts survive fusion.
        let g = |p: &(Array, Array)| {
            let m = p.0.matmul(&p.1);
            let c = Array::concatenate(&[&m, &m.exp()], 1);
            (
                c.sum(0, false),
                c.argmax(Some(1)),
                c.astype(DType::I32).max(Axes::All, false),
            )
        };
        let q = (rand(&[3, 4], 13), rand(&[4, 2], 14));
        let (a1, a2, a3) = jit(g)(&q);
        let (b1, b2, b3) = g(&q);
        close(&a1, &b1);
        assert_eq!(a2.to_vec::<i32>(), b2.to_vec::<i32>());
        let s = rand(&[5, 7], 18);
        let mv = |x: &Array| (x.mean(-1, false), (x * x).mean(-1, false), x.max(-1, false));
        let (j1, j2, j3) = jit(mv)(&s);
        let (e1, e2, e3) = mv(&s);
        close(&j1, &e1);
        close(&j2, &e2);
        close(&j3, &e3);
        assert_eq!(a3.to_vec::<i32>(), b3.to_vec::<i32>());
    });
}

#[test]
fn jit_composes_with_transformations() {
    on_embedded(|| {
        let f = |x: &Array| (x.sin() * x).sum(Axes::All, false);
        let x = rand(&[5], 15);
        let g = grad(f)(&x);
        close(&grad(jit(f))(&x), &g);
        close(&jit(grad(f))(&x), &g);
        close(&jit(jit(grad(f)))(&x), &g);
        let rows = rand(&[3, 5], 16);
        close(&vmap(jit(f))(&rows), &vmap(f)(&rows));
        close(&jit(vmap(grad(f)))(&rows), &vmap(grad(f))(&rows));
        // The jitted training step equals the eager one.
        let p = params();
        let batch = (rand(&[8, 8], 17), Array::eye(8, 4, 0, DType::F32));
        let (l1, g1) = value_and_grad_with(loss)(&p, &batch);
        let step = jit(|q: &(Mlp, (Array, Array))| value_and_grad_with(loss)(&q.0, &q.1));
        let (l2, g2) = step(&(p, batch));
        close(&l1, &l2);
        for (a, b) in g1.leaves().iter().zip(g2.leaves()) {
            close(a, &b);
        }
    });
}

type Op = fn(&Array, &Array) -> Array;

/// Building blocks of random programs on (4, 5) arrays.
const OPS: &[Op] = &[
    |x, y| x + y,
    |x, y| x * y,
    |x, y| x - &(y * 0.5),
    |x, _| x.tanh(),
    |x, _| x.exp().log1p(),
    |x, y| x.maximum(y),
    |x, _| x.sum(-1, true) + x,
    |x, _| x - &x.max(0, true),
    |x, _| x.mean(Axes::All, true) * x,
    |x, y| x.matmul(&y.t()).matmul(y) * 0.1,
    |x, _| x.t().flip(&[0]).t(),
    |x, _| {
        x.slice(&[oxjax::Slice::all().step(2)])
            .pad(&[(0, 2), (0, 0)], 0.25)
    },
    |x, y| Array::where_(&x.greater(y), x, y.sin()),
    |x, _| x.reshape(&[5, 4]).t() / 3.0,
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Random programs give the same results eager and jitted, on the
    /// reference backend and on every plugin of the repository's plugins.toml.
    #[test]
    fn random_programs_agree_eager_and_jitted(
        steps in proptest::collection::vec((0usize..OPS.len(), 0usize..8, 0usize..8), 1..8),
        seed in 0u64..1000,
    ) {
        let file = oxjax::config_file().expect("no plugins.toml (OXJAX_PLUGINS or upward)");
        let reg = Registry::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
        for dev in &reg.try_devices().unwrap_or_else(|e| panic!("{e}")) {
            with_default_device(dev, || {
                let program = |inputs: &(Array, Array)| {
                    let mut pool = vec![inputs.0.clone(), inputs.1.clone()];
                    for &(op, a, b) in &steps {
                        let (x, y) = (pool[a % pool.len()].clone(), pool[b % pool.len()].clone());
                        pool.push(OPS[op](&x, &y));
                    }
                    pool.pop().unwrap()
                };
                let inputs = (rand(&[4, 5], seed), rand(&[4, 5], seed + 1));
                let eager = program(&inputs);
                let jitted = jit(program)(&inputs);
                close(&jitted, &eager);
            });
        }
    }
}

/// The built-in reference device and every plugin device.
fn all_devices() -> Vec<oxjax::Device> {
    let mut devs = vec![Registry::embedded().default_device()];
    devs.extend(common::plugin_devices());
    devs
}

/// Sibling reductions where the second reads the first inside its loop
/// (the variance after the mean, logsumexp after the max, softmax over an
/// axis of length 1) once reused the first's accumulator in the loop body
/// and failed validation: "acc used inside a reduction body".
#[test]
fn sibling_reductions_that_read_each_other() {
    let mean_var = |x: &Array| {
        let m = x.mean(Axes::All, false);
        let d = x - &m;
        (m, (&d * &d).mean(Axes::All, false))
    };
    let max_lse = |x: &Array| (x.max(Axes::All, false), logsumexp(&x.reshape(&[1, 2])));
    let log_softmax = |x: &Array| x - &logsumexp(x);
    for dev in all_devices() {
        with_default_device(&dev, || {
            let x = Array::from_vec(vec![1f32, 2.], &[2]);
            let (m, v) = jit(mean_var)(&x);
            assert_eq!((m.item::<f32>(), v.item::<f32>()), (1.5, 0.25), "{dev:?}");
            let (mx, lse) = jit(max_lse)(&x);
            close(&mx, &x.max(Axes::All, false));
            close(&lse, &logsumexp(&x.reshape(&[1, 2])));
            let col = rand(&[5, 1], 30);
            close(&jit(softmax)(&col), &softmax(&col));
            close(&jit(log_softmax)(&col), &log_softmax(&col));
        });
    }
}

/// Long reductions to one value run in two stages under jit as in eager,
/// so no accumulator runs longer than one chunk: exact counts past 2^24
/// and f32 sums within 1e-6 relative on every device.
#[test]
fn long_jitted_reductions_are_accurate() {
    for dev in all_devices() {
        with_default_device(&dev, || {
            let sum = jit(|x: &Array| x.sum(Axes::All, false));
            let mean = jit(|x: &Array| x.mean(Axes::All, false));
            let tenths = Array::from_vec(vec![0.1f32; 1 << 20], &[1 << 20]);
            let got = sum(&tenths).item::<f32>() as f64;
            let want = (1u64 << 20) as f64 * 0.1f32 as f64;
            assert!(
                ((got - want) / want).abs() <= 1e-6,
                "{dev:?}: sum of 2^20 x 0.1 = {got}, want {want}"
            );
            // Past 2^24 a sequential f32 sum stops growing. The scalar
            // interpreters (embedded, reference) would take minutes in a
            // debug build, so the 20M case runs on the compiled backends.
            if dev.info().name.as_str() != "reference" {
                let ones = Array::from_vec(vec![1f32; 20_000_000], &[20_000_000]);
                assert_eq!(sum(&ones).item::<f32>(), 2e7, "{dev:?}: sum of 20M ones");
            }
            let m = mean(&Array::from_vec(vec![0.1f32; 4 << 20], &[2048, 2048])).item::<f32>();
            assert!(
                ((m as f64 - 0.1f32 as f64) / 0.1).abs() <= 1e-6,
                "{dev:?}: mean of 4M x 0.1 = {m}"
            );
        });
    }
}

/// `y = y * 1.00001` `n` times: a chain of `n` dependent elementwise ops.
fn long_chain(x: &Array, n: usize) -> Array {
    let mut y = x.clone();
    for _ in 0..n {
        y = &y * 1.00001f32;
    }
    y
}

/// Checks a long chain's result against the closed form `x · c^n` (c the
/// f32 nearest 1.00001; n roundings of at most half an ulp each).
fn check_chain(got: &Array, x: &[f32], n: usize) {
    let c = 1.00001f32 as f64;
    for (g, &x) in got.to_vec::<f32>().iter().zip(x) {
        let want = x as f64 * c.powi(n as i32);
        assert!(
            ((*g as f64 - want) / want).abs() < 1e-3,
            "{n} multiplications of {x}: {g}, want {want}"
        );
    }
}

/// Planning and tracing are iterative: a 100k-op chain under `jit` and
/// `make_jaxpr` runs on the test's thread, and 20k ops in a spawned thread
/// with the default 2 MiB stack (both once overflowed the stack in the
/// planner's recursion and aborted the process).
#[test]
fn long_chains_do_not_overflow_the_stack() {
    let xs = vec![1f32, 2.0, -0.5, 3.0];
    on_embedded(|| {
        let x = Array::from_vec(xs.clone(), &[4]);
        let n = 100_000;
        let jaxpr = oxjax::make_jaxpr(|x: &Array| long_chain(x, n))(&x);
        assert!(jaxpr.eqns.len() >= n, "every step traced");
        assert!(jaxpr.to_string().len() > n, "and printed");
        let program = lower(|x: &Array| long_chain(x, n), &x);
        assert_eq!(program.kernel_count(), 1, "the chain is one kernel");
        check_chain(&jit(|x: &Array| long_chain(x, n))(&x), &xs, n);
    });
    let spawned = std::thread::spawn(move || {
        on_embedded(|| {
            let x = Array::from_vec(xs.clone(), &[4]);
            let n = 20_000;
            check_chain(&jit(|x: &Array| long_chain(x, n))(&x), &xs, n);
        })
    });
    spawned.join().expect("the spawned thread finished");
}

/// The kernels of a program whose loop is a product (a matmul, or a row
/// of dot products), as (kernels whose product is of two plain loads,
/// kernels whose product reads a computed value). The backends' matmul
/// fast paths take the first kind only (wasm's tiled path needs exactly
/// one add reduction over a product of two loads). Full reductions (size
/// 1) are left out: a dot to one value is not a matmul.
fn product_loops(p: &oxjax::Compiled) -> (usize, usize) {
    let (mut plain, mut computed) = (0, 0);
    for k in p.kernels() {
        let [r] = &k.reductions[..] else { continue };
        let body = r.body as usize;
        if k.size == 1 || r.op != ReduceOp::ADD || k.nodes[body].op != oxjax::Op::MUL {
            continue;
        }
        let loads = k
            .args(body)
            .iter()
            .all(|&a| k.nodes[a as usize].op == oxjax::Op::LOAD);
        if loads {
            plain += 1;
        } else {
            computed += 1;
        }
    }
    (plain, computed)
}

fn matmul_eqns(p: &oxjax::Compiled) -> usize {
    p.jaxpr()
        .eqns
        .iter()
        .filter(|e| e.prim.to_string() == "dot_general")
        .count()
}

/// How many kernel nodes of op `name` a program emits.
fn op_count(p: &oxjax::Compiled, name: &str) -> usize {
    p.kernels_text()
        .iter()
        .flat_map(|k| k.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| l.split_whitespace().nth(2) == Some(name))
        .count()
}

/// Every matmul of a training step (forward, and the two backward
/// matmuls per layer) reads plain loads, so the backends' tiled paths take
/// it: `relu(x @ W1 + b1)` is materialised once as the first matmul's
/// epilogue instead of being recomputed inside the weight-gradient
/// matmul's loop, and the backward mask-times-gradient is materialised as
/// the second backward matmul's epilogue.
#[test]
fn matmuls_read_plain_loads() {
    on_embedded(|| {
        let p = params();
        let batch = (rand(&[8, 8], 40), Array::eye(8, 4, 0, DType::F32));
        let step = |q: &(Mlp, (Array, Array))| value_and_grad_with(loss)(&q.0, &q.1);
        let program = lower(step, &(p.clone(), batch.clone()));
        let m = matmul_eqns(&program);
        assert!(m >= 5, "{m} matmuls in the step");
        let (plain, computed) = product_loops(&program);
        assert!(
            plain >= m && computed == 0,
            "every matmul on the fast path: {plain} plain, {computed} computed\n{}",
            program.kernels_text().join("\n")
        );
        let forward = lower(
            |q: &(Mlp, Array)| mlp(&q.0, &q.1),
            &(p.clone(), batch.0.clone()),
        );
        assert_eq!(product_loops(&forward), (2, 0));
        assert_eq!(forward.kernel_count(), 2, "the epilogues stay fused");
        // Still equal to eager.
        let (l1, g1) = value_and_grad_with(loss)(&p, &batch);
        let (l2, g2) = jit(step)(&(p, batch));
        close(&l1, &l2);
        for (a, b) in g1.leaves().iter().zip(g2.leaves()) {
            close(a, &b);
        }
        // A sum over a product of two broadcasts is a matmul too.
        let (x, w) = (rand(&[6, 5], 41), rand(&[5, 7], 42));
        let outer = |q: &(Array, Array)| {
            let a = (&q.0 * 2.0).reshape(&[6, 5, 1]);
            (&a * &q.1.tanh().reshape(&[1, 5, 7])).sum(1, false)
        };
        let program = lower(outer, &(x.clone(), w.clone()));
        assert_eq!(
            product_loops(&program),
            (1, 0),
            "{}",
            program.kernels_text().join("\n")
        );
        close(&jit(outer)(&(x.clone(), w.clone())), &outer(&(x, w)));
    });
}

/// The cost model: an expensive value read by two kernels (softmax's
/// `exp`, read by the sum and by the division) is computed once; one read
/// through a broadcast is computed once per element of its own; cheap
/// shared values (the centred `x - mean` of a layer norm) stay inlined.
#[test]
fn expensive_shared_values_are_computed_once() {
    on_embedded(|| {
        let s = rand(&[32, 64], 43);
        let program = lower(softmax, &s);
        assert_eq!(
            op_count(&program, "exp"),
            1,
            "{}",
            program.kernels_text().join("\n")
        );
        assert_eq!(program.kernel_count(), 4, "max, exp, sum, divide");
        close(&jit(softmax)(&s), &softmax(&s));
        // logsumexp reads exp once already: unchanged.
        let program = lower(logsumexp, &s);
        assert_eq!(op_count(&program, "exp"), 1);
        assert_eq!(program.kernel_count(), 2);
        // exp of a row, broadcast over 32 rows: 64 exps, not 2048.
        let row = rand(&[64], 44);
        let scaled = |q: &(Array, Array)| &q.0 * &q.1.exp();
        let program = lower(scaled, &(s.clone(), row.clone()));
        let exp_kernel = program
            .kernels()
            .into_iter()
            .find(|k| k.to_string().contains(" exp "))
            .expect("a kernel computes exp");
        assert_eq!(exp_kernel.size, 64, "{}", program.kernels_text().join("\n"));
        close(
            &jit(scaled)(&(s.clone(), row.clone())),
            &scaled(&(s.clone(), row)),
        );
        // The layer norm recomputes x - mean (one subtraction) rather than
        // storing it: still three kernels.
        assert_eq!(lower(layer_norm, &s).kernel_count(), 3);
        // A long cheap chain read by two kernels is stored once.
        let chain = |x: &Array| {
            let mut y = x.clone();
            for i in 0..20 {
                y = &y * 1.01 + i as f64;
            }
            let t = y.sum(-1, true);
            &y / &t
        };
        let program = lower(chain, &s);
        assert_eq!(
            program.kernel_count(),
            3,
            "{}",
            program.kernels_text().join("\n")
        );
        close(&jit(chain)(&s), &chain(&s));
    });
}

/// A server's use: one jitted MLP shared by 8 threads, on every device.
/// Each thread's results equal the single-threaded ones bit for bit, and
/// the program was compiled once for the one signature (`Jitted`'s count);
/// the `jit` closure itself is `Send + Sync` and clones into threads.
#[test]
fn one_jitted_model_serves_eight_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    for device in all_devices() {
        let name = device.name().to_string();
        with_default_device(&device, || {
            let p = params();
            let model = oxjax::Jitted::new(|(p, x): &(Mlp, Array)| mlp(p, x).tanh());
            let inputs: Vec<(Mlp, Array)> = (0..8)
                .map(|i| (p.clone(), rand(&[5, 8], 100 + i)))
                .collect();
            let want: Vec<Vec<f32>> = inputs
                .iter()
                .map(|a| model.call(a).to_vec::<f32>())
                .collect();
            assert_eq!(model.compilations(), 1);
            let jf = jit(|(p, x): &(Mlp, Array)| mlp(p, x).tanh());
            send_sync(&model);
            send_sync(&jf);
            std::thread::scope(|s| {
                for (a, w) in inputs.iter().zip(&want) {
                    let (model, jf, name) = (&model, jf.clone(), &name);
                    s.spawn(move || {
                        for _ in 0..3 {
                            assert_eq!(&model.call(a).to_vec::<f32>(), w, "{name}");
                            assert_eq!(&jf(a).to_vec::<f32>(), w, "{name}");
                        }
                    });
                }
            });
            assert_eq!(model.compilations(), 1, "{name}: compiled once");
            // Eager agrees too.
            close(
                &model.call(&inputs[0]),
                &mlp(&inputs[0].0, &inputs[0].1).tanh(),
            );
        });
    }
}

/// Many threads missing the cache at once still compile one program, and
/// a new signature compiles a second.
#[test]
fn concurrent_first_calls_compile_once() {
    on_embedded(|| {
        let f = oxjax::Jitted::new(|x: &Array| (x.exp() * 2.0).sum(Axes::All, false));
        let x = rand(&[64], 7);
        let want = f.call(&x).to_vec::<f32>();
        let g = oxjax::Jitted::new(|x: &Array| (x.exp() * 2.0).sum(Axes::All, false));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| assert_eq!(g.call(&x).to_vec::<f32>(), want));
            }
        });
        assert_eq!(g.compilations(), 1);
        g.call(&rand(&[3, 2], 8));
        assert_eq!(g.compilations(), 2);
    });
}

/// Nested staging: a jitted helper applied to a captured constant while an
/// outer trace stages (`make_jaxpr`, another `jit`) joins the outer program
/// instead of running its steps through the outer trace.
#[test]
fn jitted_helper_on_constants_inside_outer_staging() {
    on_embedded(|| {
        let c = rand(&[4], 21);
        // An argmax is an eager step of a compiled program: it used to bind
        // into the outer trace and then hit "jit runs on concrete arrays".
        let helper = jit(|x: &Array| {
            let i = x.argmax(Some(0)).astype(DType::F32);
            x.exp() + i
        });
        let want = helper(&c);
        // Inside make_jaxpr: the helper's operations are staged into the jaxpr.
        let text = oxjax::make_jaxpr(|y: &Array| y + &helper(&c))(&c).to_string();
        assert!(text.contains("exp") && text.contains("argmax"), "{text}");
        // Inside another jit: the same values as eager, and as calling the
        // helper on the traced argument.
        let outer = jit(|y: &Array| y * 2.0 + &helper(&c));
        close(&outer(&c), &(&c * 2.0 + &want));
        let outer2 = jit(|y: &Array| helper(y) + &helper(&c));
        close(&outer2(&c), &(&want * 2.0));
        // Called eagerly afterwards, the helper still runs its own program.
        close(&helper(&c), &want);
    });
}
