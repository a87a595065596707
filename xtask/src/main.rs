//! `cargo xtask <command>`: the project's automation, in Rust so it runs
//! wherever cargo does.
//!
//! - `build-plugins [--release]`: builds the workspace (every backend cdylib
//!   included) and copies each backend library to `target/plugins/`, where
//!   the repository's `plugins.toml` points.
//! - `test [--release]`: build-plugins, then `cargo test --workspace`, then
//!   a fast conformance run (`--cases 16`) on every backend of
//!   `plugins.toml` and on the backend template (`templates/backend`,
//!   built outside the workspace and loaded by path).
//! - `conformance [--release] [--backend NAME | --plugin PATH] [--cases N]
//!   [--seed S] [--ops PATTERN] [--json FILE] ...`: build-plugins, then the
//!   conformance suite against the reference (`oxjax-conformance --help`).
//!   The nightly budget is `--cases 2000`.
//! - `demo [--release] [--tour]`: build-plugins, then the training demo
//!   (`examples/train_mlp.rs`: an MLP learns three spirals) on the default
//!   device; `--tour` runs the API tour (`examples/tour.rs`) instead.
//! - `devices [--release]`: build-plugins, then list every device of
//!   `plugins.toml` with its plugin, ABI version, capabilities and status
//!   (and why an unavailable one is unavailable).
//! - `bench [--backend NAME] [--json FILE] [--quick] [--only A,B]`: release build, then
//!   the benchmark harness (bench/) on the named or default device.
//!   `--compare` also times the same workloads on the same inputs in JAX
//!   (CPU, jitted) and NumPy (bench/compare.py, in a venv it creates once
//!   under `target/bench-venv`) and prints one table with oxjax / JAX.
//! - `ci`: what CI runs: fmt check, clippy with warnings denied, `test`.
//! - `compat`: regenerates docs/jax-compat.md (see compat.rs).

mod compat;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = args.iter().any(|a| a == "--release");
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => build_plugins(release),
        Some("test") => build_plugins(release)
            .and_then(|_| test(release))
            .and_then(|_| conformance_all(release)),
        Some("conformance") => {
            build_plugins(release).and_then(|_| conformance(&args[1..], release))
        }
        Some("demo") => {
            let tour = args.iter().any(|a| a == "--tour");
            build_plugins(release).and_then(|_| demo(release, tour))
        }
        Some("devices") => build_plugins(release).and_then(|_| {
            cargo(
                &[
                    "run",
                    "--quiet",
                    "--package",
                    "oxjax",
                    "--example",
                    "devices",
                ],
                release,
            )
        }),
        Some("bench") => build_plugins(true).and_then(|_| bench(&args[1..])),
        Some("ci") => ci(),
        Some("compat") => compat::render(&root()).and_then(|md| {
            let path = root().join("docs/jax-compat.md");
            std::fs::write(&path, md).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }),
        _ => {
            eprintln!(
                "usage: cargo xtask <build-plugins|test|demo [--tour]|devices|bench|ci|conformance|compat> [--release] [conformance options]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Runs a command in the workspace root, echoing it; fails on a non-zero exit.
fn run(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn cargo(args: &[&str], release: bool) -> Result<()> {
    let mut all = args.to_vec();
    if release {
        all.push("--release");
    }
    run(env!("CARGO"), &all)
}

/// The backend packages: every folder under `backends/` with a Cargo.toml.
fn backends() -> Result<Vec<String>> {
    let dir = root().join("backends");
    let mut names = Vec::new();
    for entry in
        std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?
    {
        let path = entry.map_err(|e| e.to_string())?.path();
        let manifest = path.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let name = text
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("name = \"")?
                        .strip_suffix('"')
                        .map(str::to_string)
                })
                .ok_or_else(|| format!("{}: no package name", manifest.display()))?;
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn build_plugins(release: bool) -> Result<()> {
    // One workspace-wide build: features stay unified, so tests reuse it.
    cargo(&["build", "--workspace", "--all-targets"], release)?;
    let profile = if release { "release" } else { "debug" };
    let from = target_dir().join(profile);
    let to = target_dir().join("plugins");
    std::fs::create_dir_all(&to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for package in backends()? {
        let file = format!(
            "{}{}{}",
            std::env::consts::DLL_PREFIX,
            package.replace('-', "_"),
            std::env::consts::DLL_SUFFIX
        );
        let src = from.join(&file);
        // Copy to a temporary name and rename, so a process that has the
        // old library loaded keeps a consistent file.
        let tmp = to.join(format!("{file}.tmp"));
        std::fs::copy(&src, &tmp).map_err(|e| format!("cannot copy {}: {e}", src.display()))?;
        std::fs::rename(&tmp, to.join(&file)).map_err(|e| e.to_string())?;
        eprintln!("plugin {package} -> {}", to.join(&file).display());
    }
    Ok(())
}

fn test(release: bool) -> Result<()> {
    cargo(&["test", "--workspace"], release)
}

/// The conformance budget of `cargo xtask test` (per op × dtype entry).
const TEST_CASES: &str = "16";

/// Runs the conformance binary with `args` (minus `--release`).
fn conformance(args: &[String], release: bool) -> Result<()> {
    let mut all = vec![
        "run",
        "--quiet",
        "-p",
        "oxjax-conformance",
        "--bin",
        "oxjax-conformance",
    ];
    if release {
        all.push("--release");
    }
    all.push("--");
    all.extend(
        args.iter()
            .map(String::as_str)
            .filter(|a| *a != "--release"),
    );
    run(env!("CARGO"), &all)
}

/// The devices `plugins.toml` names (`[plugins.NAME]` tables).
fn plugin_names() -> Result<Vec<String>> {
    let file = root().join("plugins.toml");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let name = l.trim().strip_prefix("[plugins.")?.strip_suffix(']')?;
            Some(name.trim_matches('"').to_string())
        })
        .collect())
}

/// Builds the backend template on its own (it is not a workspace member),
/// sharing this repository's target dir; returns its library.
fn build_template(release: bool) -> Result<PathBuf> {
    let manifest = root().join("templates/backend/Cargo.toml");
    let target = target_dir();
    let (manifest, target) = (manifest.display().to_string(), target.display().to_string());
    cargo(
        &[
            "build",
            "--manifest-path",
            &manifest,
            "--target-dir",
            &target,
        ],
        release,
    )?;
    let profile = if release { "release" } else { "debug" };
    Ok(target_dir().join(profile).join(format!(
        "{}oxjax_backend_template{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )))
}

/// The fast conformance run of `cargo xtask test`: every backend of
/// plugins.toml, then the template loaded by path. Regressions are rerun
/// but new failures are not saved (CI leaves the tree alone).
fn conformance_all(release: bool) -> Result<()> {
    let mut failed = Vec::new();
    let common = ["--cases", TEST_CASES, "--no-save"];
    for name in plugin_names()? {
        let mut args: Vec<String> = vec!["--backend".into(), name.clone()];
        args.extend(common.iter().map(|s| s.to_string()));
        if let Err(e) = conformance(&args, release) {
            failed.push(format!("{name}: {e}"));
        }
    }
    let template = build_template(release)?;
    let mut args: Vec<String> = vec!["--plugin".into(), template.display().to_string()];
    args.extend(common.iter().map(|s| s.to_string()));
    if let Err(e) = conformance(&args, release) {
        failed.push(format!("template: {e}"));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("conformance failed:\n{}", failed.join("\n")))
    }
}

fn demo(release: bool, tour: bool) -> Result<()> {
    let example = if tour { "tour" } else { "train_mlp" };
    cargo(
        &["run", "--quiet", "--package", "oxjax", "--example", example],
        release,
    )
}

fn bench(args: &[String]) -> Result<()> {
    let compare = args.iter().any(|a| a == "--compare");
    // --json goes to the combined table when comparing
    let json = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let inputs = target_dir().join("bench-inputs");
    let inputs_s = inputs.display().to_string();
    let ox_json = inputs.join("oxjax.json").display().to_string();
    let mut all = vec![
        "run",
        "--quiet",
        "--release",
        "--package",
        "oxjax-bench",
        "--",
    ];
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        match a.as_str() {
            "--release" | "--compare" => {}
            "--json" if compare => skip = true,
            a => all.push(a),
        }
    }
    if compare {
        all.extend(["--inputs", &inputs_s, "--json", &ox_json]);
    }
    run(env!("CARGO"), &all)?;
    if !compare {
        return Ok(());
    }
    let python = bench_venv()?;
    let script = root().join("bench/compare.py").display().to_string();
    let mut py = vec![script.as_str(), "--inputs", &inputs_s];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--only" {
            py.push("--only");
            py.extend(it.next().map(String::as_str));
        } else if a == "--quick" {
            py.push("--quick");
        }
    }
    if let Some(j) = &json {
        py.extend(["--json", j.as_str()]);
    }
    run(&python, &py)
}

/// The Python of `target/bench-venv`, with jax (CPU) and numpy from PyPI:
/// created on first use, then reused.
fn bench_venv() -> Result<String> {
    let venv = target_dir().join("bench-venv");
    let python = venv.join("bin/python").display().to_string();
    let ready = venv.join(".ready");
    if !ready.exists() {
        let v = venv.display().to_string();
        run("python3", &["-m", "venv", &v])?;
        run(
            &python,
            &["-m", "pip", "install", "--quiet", "jax", "numpy"],
        )?;
        std::fs::write(&ready, "jax numpy\n")
            .map_err(|e| format!("cannot write {}: {e}", ready.display()))?;
    }
    Ok(python)
}

fn ci() -> Result<()> {
    run(env!("CARGO"), &["fmt", "--all", "--", "--check"])?;
    run(
        env!("CARGO"),
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    build_plugins(false)?;
    test(false)?;
    conformance_all(false)
}
