//! `cargo xtask <command>`: the project's automation, in Rust so it runs
//! wherever cargo does.
//!
//! - `build-plugins [--release]`: builds the workspace (every backend cdylib
//!   included) and copies each backend library to `target/plugins/`, where
//!   the repository's `plugins.toml` points.
//! - `test [--release]`: build-plugins, then `cargo test --workspace`.
//! - `demo [--release]`: build-plugins, then the tour example on the default device.
//! - `bench [--backend NAME] [--json FILE] [--quick]`: release build, then
//!   the benchmark harness (bench/) on the named or default device.
//! - `ci`: what CI runs: fmt check, clippy with warnings denied, `test`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = args.iter().any(|a| a == "--release");
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => build_plugins(release),
        Some("test") => build_plugins(release).and_then(|_| test(release)),
        Some("demo") => build_plugins(release).and_then(|_| demo(release)),
        Some("bench") => build_plugins(true).and_then(|_| bench(&args[1..])),
        Some("ci") => ci(),
        _ => {
            eprintln!("usage: cargo xtask <build-plugins|test|demo|ci> [--release]");
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

fn demo(release: bool) -> Result<()> {
    cargo(
        &["run", "--quiet", "--package", "oxjax", "--example", "tour"],
        release,
    )
}

fn bench(args: &[String]) -> Result<()> {
    let mut all = vec![
        "run",
        "--quiet",
        "--release",
        "--package",
        "oxjax-bench",
        "--",
    ];
    all.extend(
        args.iter()
            .map(String::as_str)
            .filter(|a| *a != "--release"),
    );
    run(env!("CARGO"), &all)
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
    test(false)
}
