//! Shared test helpers: finding the plugin libraries this build produced.
#![allow(dead_code)]

use std::path::PathBuf;

/// `target/<profile>/`, the folder holding this test binary's sibling libraries.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The shared library built from package `package` (e.g. `oxjax-backend-reference`).
/// It is built by `cargo xtask build-plugins` (or `cargo build --workspace`),
/// which `cargo xtask test` runs first. A missing library fails the test
/// with the command to run: tests never skip silently.
pub fn library(package: &str) -> PathBuf {
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    let path = profile_dir().join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask build-plugins` (or `cargo xtask test`) first",
        path.display()
    );
    path
}

/// A `plugins.toml` in a fresh temporary folder; returns its path.
pub fn write_config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxjax-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plugins.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// TOML string literal for a path.
pub fn toml_path(p: &std::path::Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// The devices of the repository's plugins.toml (plugins, then
/// "embedded") in a registry of their own: kernel counts on them are not
/// blurred by tests running in parallel on the shared devices.
pub fn own_devices() -> Vec<oxjax::Device> {
    let file = oxjax::config_file().expect("no plugins.toml (OXJAX_PLUGINS or upward)");
    let own = oxjax::Registry::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<String> = plugin_devices()
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    names.push("embedded".into());
    names
        .iter()
        .map(|n| own.device(n).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// The repository's plugins.toml as a registry, loaded once per test
/// binary; a missing or broken plugin library fails the test with the
/// loader's message (which names the command that builds it).
pub fn registry() -> &'static oxjax::Registry {
    static REG: std::sync::OnceLock<oxjax::Registry> = std::sync::OnceLock::new();
    REG.get_or_init(|| {
        let file = oxjax::config_file().expect("no plugins.toml (OXJAX_PLUGINS or upward)");
        let reg = oxjax::Registry::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
        // Start every device now: a missing backend fails, never skips.
        reg.try_devices().unwrap_or_else(|e| panic!("{e}"));
        reg
    })
}

/// Runs `f` with the built-in reference backend (`embedded`) as the
/// default device.
pub fn on_embedded<R>(f: impl FnOnce() -> R) -> R {
    let reg = oxjax::Registry::embedded();
    oxjax::with_default_device(&reg.default_device(), f)
}

/// The plugin devices of plugins.toml (every device but `embedded`).
pub fn plugin_devices() -> Vec<oxjax::Device> {
    let devs: Vec<oxjax::Device> = registry()
        .devices()
        .iter()
        .filter(|d| d.library().is_some())
        .cloned()
        .collect();
    assert!(!devs.is_empty(), "plugins.toml names no plugin to test");
    devs
}

/// Elementwise `|x - y| <= tol (1 + max(|x|, |y|))`, or the first
/// element that is not (with both vectors, for the failure message).
pub fn close(a: &[f64], b: &[f64], tol: f64) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("lengths differ: {} vs {}", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if (x - y).abs() > tol * (1.0 + x.abs().max(y.abs())) {
            return Err(format!("element {i}: {x} vs {y}\n{a:?}\n{b:?}"));
        }
    }
    Ok(())
}

/// [`close`], failing the test at the caller.
#[track_caller]
pub fn close_v(a: &[f64], b: &[f64], tol: f64) {
    if let Err(e) = close(a, b, tol) {
        panic!("{e}");
    }
}

/// Deterministic values in [-1, 1) (xorshift).
pub fn uniform(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

/// A JSON fixture of `tests/fixtures/` (written by its `make_*.py`).
pub fn json_fixture(file: &str) -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A fixture number: JSON numbers, or the strings "nan", "inf", "-inf"
/// (JSON has no non-finite numbers).
pub fn num(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::String(s) => match s.as_str() {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => panic!("not a number: {other}"),
        },
        v => v.as_f64().expect("a number"),
    }
}

/// A JSON array of numbers.
pub fn nums(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// Central finite differences (step 1e-6) of a scalar function of an f64
/// array: the reference every gradient check compares `grad` against.
pub fn fd_grad(f: &dyn Fn(&oxjax::Array) -> oxjax::Array, x: &oxjax::Array) -> Vec<f64> {
    let base = x.astype(oxjax::DType::F64).to_vec::<f64>();
    let h = 1e-6;
    (0..base.len())
        .map(|i| {
            let (mut p, mut m) = (base.clone(), base.clone());
            p[i] += h;
            m[i] -= h;
            let fp = f(&oxjax::Array::from_vec(p, x.shape())).item::<f64>();
            let fm = f(&oxjax::Array::from_vec(m, x.shape())).item::<f64>();
            (fp - fm) / (2.0 * h)
        })
        .collect()
}

/// Asserts `grad(f)(x)` agrees with [`fd_grad`] to 1e-6 (relative to 1 + |fd|).
#[track_caller]
pub fn check_grad(name: &str, f: impl Fn(&oxjax::Array) -> oxjax::Array, x: &oxjax::Array) {
    let g = oxjax::grad(&f)(x).astype(oxjax::DType::F64).to_vec::<f64>();
    let want = fd_grad(&f, x);
    for (i, (a, b)) in g.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
            "{name}: element {i}: grad {a} vs finite differences {b}\n{g:?}\n{want:?}"
        );
    }
}
