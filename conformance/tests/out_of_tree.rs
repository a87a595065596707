//! The backend author's path, as the docs tell it, outside this repository:
//! `cargo xtask new-backend` copies the template to a temporary folder, the
//! copy builds there with the dependency the tool wrote, a `plugins.toml`
//! points at it, real jitted programs (an MLP training step, a
//! transformer-like block and its gradient) run on it under a declared
//! `max_inputs = 8` and match the reference, and the conformance tool
//! certifies it from that folder — twice through `cargo xtask conformance`,
//! the second call rebuilding nothing of the workspace.
//!
//! The copy builds in `<target>/out-of-tree` (kept, so only the first run
//! pays for abi_stable).

use oxjax::nn::{gelu, softmax};
use oxjax::{Array, Axes, Registry, Tree, jit, value_and_grad_with, with_default_device};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace's target dir (the test binary lives in `<target>/debug/deps`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("<target>/debug/deps")
        .to_path_buf()
}

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(dir);
    // Not the outer test run's settings: the author's own build.
    for var in ["CARGO_TARGET_DIR", "CARGO_MANIFEST_DIR", "CARGO_PKG_NAME"] {
        c.env_remove(var);
    }
    c
}

fn ok(what: &str, out: Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

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

fn values(x: &Array) -> Vec<f64> {
    x.try_scalars()
        .unwrap()
        .iter()
        .map(|s| s.as_f64())
        .collect()
}

fn close(what: &str, a: &[Array], b: &[Array]) {
    for (a, b) in a.iter().zip(b) {
        assert_eq!(a.shape(), b.shape(), "{what}");
        for (i, (x, y)) in values(a).iter().zip(values(b)).enumerate() {
            assert!(
                (x - y).abs() <= 1e-4 * (1.0 + x.abs()),
                "{what}: element {i}: {x} vs {y}"
            );
        }
    }
}

#[derive(Clone, Tree)]
struct Block {
    wq: Array,
    wk: Array,
    wv: Array,
    wo: Array,
    g1: Array,
    b1: Array,
    g2: Array,
    b2: Array,
    w1: Array,
    c1: Array,
    w2: Array,
    c2: Array,
}

fn layer_norm(x: &Array, g: &Array, b: &Array) -> Array {
    let m = x.mean(-1, true);
    let c = x - &m;
    let v = (&c * &c).mean(-1, true);
    c / (v + 1e-5).sqrt() * g + b
}

/// A pre-norm transformer block on `x [T, D]`: attention, then a GELU MLP.
fn block(p: &Block, x: &Array) -> Array {
    let d = x.shape()[1] as f64;
    let h = layer_norm(x, &p.g1, &p.b1);
    let (q, k, v) = (h.matmul(&p.wq), h.matmul(&p.wk), h.matmul(&p.wv));
    let att = softmax(&(q.matmul(&k.t()) / d.sqrt()), -1);
    let x = x + &att.matmul(&v).matmul(&p.wo);
    let h = layer_norm(&x, &p.g2, &p.b2);
    let ff = gelu(&(h.matmul(&p.w1) + &p.c1), true).matmul(&p.w2) + &p.c2;
    x + ff
}

fn block_params(d: usize) -> Block {
    let m = |r: usize, c: usize, s: u64| rand(&[r, c], s);
    Block {
        wq: m(d, d, 1),
        wk: m(d, d, 2),
        wv: m(d, d, 3),
        wo: m(d, d, 4),
        g1: rand(&[d], 5) + 1.0,
        b1: rand(&[d], 6),
        g2: rand(&[d], 7) + 1.0,
        b2: rand(&[d], 8),
        w1: m(d, 4 * d, 9),
        c1: rand(&[4 * d], 10),
        w2: m(4 * d, d, 11),
        c2: rand(&[d], 12),
    }
}

#[derive(Clone, Tree)]
struct Mlp {
    w1: Array,
    b1: Array,
    w2: Array,
    b2: Array,
}

/// One SGD step of a two-layer MLP on softmax cross-entropy.
fn mlp_step(args: &(Mlp, Array, Array)) -> (Mlp, Array) {
    let loss = |p: &Mlp, (x, y): &(Array, Array)| {
        let h = (x.matmul(&p.w1) + &p.b1).maximum(0.0);
        let z = h.matmul(&p.w2) + &p.b2;
        let m = z.max(-1, true).stop_gradient();
        let lse = (&z - &m).exp().sum(-1, true).log() + m;
        -((z - lse) * y).sum(Axes::All, false) / x.shape()[0] as f64
    };
    let (p, x, y) = args;
    let (l, g) = value_and_grad_with(loss)(p, &(x.clone(), y.clone()));
    let step = |w: &Array, dw: &Array| w - &(dw * 0.1);
    (
        Mlp {
            w1: step(&p.w1, &g.w1),
            b1: step(&p.b1, &g.b1),
            w2: step(&p.w2, &g.w2),
            b2: step(&p.b2, &g.b2),
        },
        l,
    )
}

/// The programs' outputs, flattened to leaves.
fn programs() -> Vec<Array> {
    let mlp = Mlp {
        w1: rand(&[8, 32], 21),
        b1: rand(&[32], 22),
        w2: rand(&[32, 4], 23),
        b2: rand(&[4], 24),
    };
    let x = rand(&[16, 8], 25);
    let y = oxjax::nn::one_hot(
        &Array::from_vec((0..16).map(|i| i % 4).collect::<Vec<i32>>(), &[16]),
        4,
        oxjax::DType::F32,
    );
    let step = jit(mlp_step);
    let (mlp, l1) = step(&(mlp, x.clone(), y.clone()));
    let (mlp, l2) = step(&(mlp, x, y));
    let p = block_params(16);
    let t = rand(&[12, 16], 30);
    let fwd = jit(|(p, t): &(Block, Array)| block(p, t));
    let train = jit(|(p, t): &(Block, Array)| {
        value_and_grad_with(|p: &Block, t: &Array| block(p, t).square_sum())(p, t)
    });
    let (bl, bg) = train(&(p.clone(), t.clone()));
    let mut out = vec![l1, l2, mlp.w1, mlp.b2, fwd(&(p, t)), bl];
    out.extend(bg.leaves());
    out
}

trait SquareSum {
    fn square_sum(&self) -> Array;
}

impl SquareSum for Array {
    fn square_sum(&self) -> Array {
        (self * self).sum(Axes::All, false)
    }
}

// Its cargo calls build the plugins and the conformance binary with other
// feature selections than `cargo test --workspace`, which relinks the
// reference backend's unhashed rlib under the workspace's own doctests;
// `cargo xtask test` runs it after them (`--ignored`).
#[test]
#[ignore = "run by `cargo xtask test` after the workspace tests"]
fn a_backend_made_from_the_template_outside_the_repository_runs_and_certifies() {
    let home = std::env::temp_dir().join(format!("oxjax-out-of-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let krate = home.join("my-backend");

    // 1. The tool makes the crate; it builds there, on its own.
    ok(
        "cargo xtask new-backend",
        cargo(&checkout())
            .args([
                "run",
                "--quiet",
                "-p",
                "xtask",
                "--",
                "new-backend",
                "my-backend",
            ])
            .arg(&krate)
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .unwrap(),
    );
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("name = \"my-backend\"") && !manifest.contains("../../core/abi"),
        "{manifest}"
    );
    let build_dir = target_dir().join("out-of-tree");
    ok(
        "cargo build of the copy",
        cargo(&krate)
            .arg("build")
            .env("CARGO_TARGET_DIR", &build_dir)
            .output()
            .unwrap(),
    );
    let lib = build_dir.join("debug").join(format!(
        "{}my_backend{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(lib.is_file(), "{} was not built", lib.display());

    // 2. A plugins.toml of the author's own, with a tight input limit.
    let plugins = krate.join("plugins.toml");
    std::fs::write(
        &plugins,
        format!(
            "default = \"mine\"\n[plugins.mine]\npath = {:?}\noptions = {{ max_inputs = 8 }}\n",
            lib.display().to_string()
        ),
    )
    .unwrap();
    let reg = Registry::from_file(&plugins).unwrap_or_else(|e| panic!("{e}"));
    let mine = reg.try_default_device().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mine.name(), "mine");
    assert_eq!(mine.info().caps.max_inputs, 8);

    // 3. Real jitted programs run under the limit and match the reference.
    let got = with_default_device(&mine, programs);
    let want = with_default_device(&reg.device("embedded").unwrap(), programs);
    close(
        "MLP step and transformer block on max_inputs = 8",
        &got,
        &want,
    );

    // 4. Certified from the author's folder: the installed-tool way (the
    // binary itself), through OXJAX_PLUGINS, then `cargo xtask conformance`
    // twice; the second call compiles nothing.
    let quick = [
        "--cases",
        "2",
        "--ops",
        "add,sin,reduce_add,contract:many_inputs",
    ];
    ok(
        "oxjax-conformance --plugin",
        Command::new(env!("CARGO_BIN_EXE_oxjax-conformance"))
            .current_dir(&krate)
            .arg("--plugin")
            .arg(&lib)
            .args(["--options", "max_inputs = 8", "--quiet", "--no-save"])
            .args(quick)
            .output()
            .unwrap(),
    );
    ok(
        "oxjax-conformance --backend mine (OXJAX_PLUGINS)",
        Command::new(env!("CARGO_BIN_EXE_oxjax-conformance"))
            .current_dir(&home)
            .env("OXJAX_PLUGINS", &plugins)
            .args(["--backend", "mine", "--quiet", "--no-save"])
            .args(quick)
            .output()
            .unwrap(),
    );
    // A failure of a plugin outside the checkout is saved in the author's
    // crate (`conformance-regressions/`), not in ours: a deliberately wrong
    // backend (the mutants fixture, copied into the crate) shows it.
    let mutants = target_dir().join("debug").join(format!(
        "{}oxjax_conformance_mutants{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let wrong = krate.join("lib").join(mutants.file_name().unwrap());
    std::fs::create_dir_all(wrong.parent().unwrap()).unwrap();
    std::fs::copy(&mutants, &wrong).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (cargo build -p oxjax-conformance-mutants)",
            mutants.display()
        )
    });
    let out = Command::new(env!("CARGO_BIN_EXE_oxjax-conformance"))
        .current_dir(&home)
        .arg("--plugin")
        .arg(&wrong)
        .args(["--options", "mutation = \"shr_logical\"", "--quiet"])
        .args(["--cases", "16", "--ops", "shr/i32", "--in-process"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the wrong shift passed");
    let saved: Vec<_> = std::fs::read_dir(krate.join("conformance-regressions"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(
        saved.len(),
        1,
        "one regression saved in the author's crate; output:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let xtask = |what: &str| {
        let start = std::time::Instant::now();
        let text = ok(
            what,
            cargo(&krate)
                .args(["run", "--quiet", "--manifest-path"])
                .arg(checkout().join("Cargo.toml"))
                .args(["-p", "xtask", "--", "conformance", "--plugin"])
                .arg(&lib)
                .args(["--quiet", "--no-save", "--cases", "1", "--ops", "add"])
                .env("CARGO_TARGET_DIR", target_dir())
                // Says why, should anything be rebuilt.
                .env("CARGO_LOG", "cargo::core::compiler::fingerprint=info")
                .output()
                .unwrap(),
        );
        (text, start.elapsed())
    };
    xtask("cargo xtask conformance (first)");
    let (second, took) = xtask("cargo xtask conformance (second)");
    // Nothing of the workspace is rebuilt. The reference backend alone may
    // be relinked: it is a cdylib + rlib without a hash in its file names,
    // and one cargo call can build it twice (docs/architecture.md,
    // departures).
    let rebuilt: Vec<&str> = second
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Compiling "))
        .filter(|c| !c.starts_with("oxjax-backend-reference "))
        .collect();
    assert!(
        rebuilt.is_empty(),
        "the second call rebuilt {rebuilt:?} ({took:?}):\n{second}"
    );
    eprintln!("second `cargo xtask conformance`: {took:?}");
    let _ = std::fs::remove_dir_all(&home);
}
