//! `cargo xtask <command>`: the project's automation, in Rust so it runs
//! wherever cargo does.
//!
//! - `build-plugins [--release]`: builds the workspace (every backend cdylib
//!   included) and copies each backend library to
//!   `$CARGO_TARGET_DIR/plugins/<debug|release>/` beside a generated
//!   `plugins.toml` (the repository's points at the debug folder); every
//!   command that runs a program hands it that file as `OXJAX_PLUGINS`.
//! - `test [--release]`: build-plugins, then `cargo test --workspace`, then
//!   a fast conformance run (`--cases 16`) on every backend of
//!   `plugins.toml` and on the backend template (`templates/backend`,
//!   built outside the workspace and loaded by path).
//! - `conformance [--release] [--backend NAME | --plugin PATH] [--cases N]
//!   [--seed S] [--ops PATTERN] [--json FILE] ...`: builds the plugins and
//!   the `oxjax-conformance` binary (in one cargo call: a second call
//!   builds nothing), then runs it in the caller's directory against the
//!   reference (`oxjax-conformance --help`). The nightly budget is
//!   `--cases 2000`.
//! - `new-backend NAME [DIR]`: a new out-of-tree backend crate in DIR
//!   (default `../NAME` beside this repository) from `templates/backend`,
//!   with its package name, an `oxjax-abi` dependency that works outside
//!   this repository (an absolute path to this checkout) and a
//!   `plugins.toml` that loads it.
//! - `demo [--release] [--tour]`: builds the plugins and the example (one
//!   cargo call, not the workspace), then runs the training demo
//!   (`examples/train_mlp.rs`: an MLP learns three spirals) on the default
//!   device; `--tour` runs the API tour (`examples/tour.rs`) instead.
//! - `devices [--release]`: builds the plugins and the example, then lists every device of
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
    // bench always runs on release plugins.
    let _ = RELEASE.set(release || args.first().is_some_and(|a| a == "bench"));
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => build_plugins(release, Scope::Workspace),
        Some("test") => build_plugins(release, Scope::Workspace)
            .and_then(|_| test(release))
            .and_then(|_| conformance_all(release)),
        Some("conformance") => conformance(&args[1..], release),
        Some("new-backend") => match &args[1..] {
            [name] => new_backend(name, None),
            [name, dir] => new_backend(name, Some(Path::new(dir))),
            _ => Err("usage: cargo xtask new-backend NAME [DIR]".into()),
        },
        Some("demo") => {
            let example = if args.iter().any(|a| a == "--tour") {
                "tour"
            } else {
                "train_mlp"
            };
            run_example(example, release)
        }
        Some("devices") => run_example("devices", release),
        Some("bench") => build_plugins(
            true,
            Scope::With(&["-p", "oxjax-bench", "--bin", "oxjax-bench"]),
        )
        .and_then(|_| bench(&args[1..])),
        Some("ci") => ci(),
        Some("compat") => compat::render(&root()).and_then(|md| {
            let path = root().join("docs/jax-compat.md");
            std::fs::write(&path, md).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }),
        _ => {
            eprintln!(
                "usage: cargo xtask <build-plugins|test|demo [--tour]|devices|bench|ci|conformance|new-backend NAME [DIR]|compat> [--release] [conformance options]"
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
    run_in(&root(), program, args)
}

/// Whether this is a `--release` run (set once in `main`).
static RELEASE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// [`run`] in the folder `dir`. Children see the target dir as
/// `CARGO_TARGET_DIR` (the demo writes its pictures there) and, once
/// plugins are built, their plugins.toml as `OXJAX_PLUGINS`.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let mut command = Command::new(program);
    command.env("CARGO_TARGET_DIR", target_dir());
    let plugins = plugins_file(RELEASE.get().copied().unwrap_or(false));
    if plugins.is_file() {
        command.env("OXJAX_PLUGINS", plugins);
    }
    let status = command
        .args(args)
        .current_dir(dir)
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

/// What `build_plugins` compiles before copying the libraries.
#[derive(Clone, Copy, PartialEq)]
enum Scope<'a> {
    /// `--workspace --all-targets`: what `test` and `ci` go on to use.
    Workspace,
    /// The backend packages' libraries plus these cargo target arguments
    /// (the example or binary the command runs next), in one invocation.
    /// The units are the workspace build's (the `oxjax-workspace-hack`
    /// crate unifies features), so neither invalidates the other.
    With(&'a [&'a str]),
}

/// Builds, then copies every backend library to `<target>/plugins/<profile>/`
/// (debug and release apart, so neither overwrites the other) beside a
/// `plugins.toml` for that folder: the repository's, with its
/// `target/plugins/debug/` paths made relative to the copy. xtask's
/// commands load that file (through `OXJAX_PLUGINS`), so they use the
/// plugins they built, wherever `CARGO_TARGET_DIR` puts them.
fn build_plugins(release: bool, scope: Scope<'_>) -> Result<()> {
    let packages = backends()?;
    let mut args = vec!["build"];
    match scope {
        Scope::Workspace => args.extend(["--workspace", "--all-targets"]),
        Scope::With(extra) => {
            for p in &packages {
                args.extend(["-p", p.as_str()]);
            }
            args.push("--lib");
            args.extend(extra);
        }
    }
    cargo(&args, release)?;
    let profile = profile(release);
    let from = target_dir().join(profile);
    let to = plugins_dir(release);
    std::fs::create_dir_all(&to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for package in packages {
        let file = library_file(&package.replace('-', "_"));
        let src = from.join(&file);
        // Copy to a temporary name and rename, so a process that has the
        // old library loaded keeps a consistent file.
        let tmp = to.join(format!("{file}.tmp"));
        std::fs::copy(&src, &tmp).map_err(|e| format!("cannot copy {}: {e}", src.display()))?;
        std::fs::rename(&tmp, to.join(&file)).map_err(|e| e.to_string())?;
        eprintln!("plugin {package} -> {}", to.join(&file).display());
    }
    let ours = root().join("plugins.toml");
    let text = std::fs::read_to_string(&ours)
        .map_err(|e| format!("cannot read {}: {e}", ours.display()))?;
    let generated = format!(
        "# Generated by `cargo xtask build-plugins` from {}: the {profile} plugins\n\
         # of this folder. Edit that file, not this one.\n{}",
        ours.display(),
        text.replace("path = \"target/plugins/debug/", "path = \"")
    );
    let file = to.join("plugins.toml");
    std::fs::write(&file, generated).map_err(|e| format!("cannot write {}: {e}", file.display()))
}

fn profile(release: bool) -> &'static str {
    if release { "release" } else { "debug" }
}

/// `<target>/plugins/<profile>`.
fn plugins_dir(release: bool) -> PathBuf {
    target_dir().join("plugins").join(profile(release))
}

/// The plugins.toml xtask's children load: `OXJAX_PLUGINS` when the caller
/// set it, else the one `build_plugins` wrote for this profile.
fn plugins_file(release: bool) -> PathBuf {
    std::env::var_os("OXJAX_PLUGINS")
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| plugins_dir(release).join("plugins.toml"))
}

fn test(release: bool) -> Result<()> {
    cargo(&["test", "--workspace"], release)?;
    // The out-of-tree author test runs cargo itself on this target dir,
    // so it runs after every other test (it is `#[ignore]`d in plain
    // `cargo test`).
    let mut args = vec!["test", "-p", "oxjax-conformance", "--test", "out_of_tree"];
    if release {
        args.push("--release");
    }
    args.extend(["--", "--ignored"]);
    run(env!("CARGO"), &args)
}

/// The conformance budget of `cargo xtask test` (per op × dtype entry).
const TEST_CASES: &str = "16";

/// Runs the conformance binary with `args` (minus `--release`) in the
/// caller's directory, so relative `--plugin`, `--plugins`, `--json` and
/// `--regressions` paths mean what the caller sees. Only the binary is
/// built (the plugins too when no `--plugin` is given), so a second call
/// with nothing changed starts at once.
fn conformance(args: &[String], release: bool) -> Result<()> {
    let exe = conformance_binary(release)?;
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--release")
        .collect();
    let here = std::env::current_dir().map_err(|e| e.to_string())?;
    run_in(&here, &exe.display().to_string(), &args)
}

/// Builds the plugins and the `oxjax-conformance` binary in one cargo call
/// (a no-op when both are up to date; the same call whether or not
/// `--plugin` is given, so neither kind of run rebuilds the other's) and
/// returns the binary's path.
fn conformance_binary(release: bool) -> Result<PathBuf> {
    build_plugins(
        release,
        Scope::With(&["-p", "oxjax-conformance", "--bin", "oxjax-conformance"]),
    )?;
    Ok(conformance_exe(release))
}

fn conformance_exe(release: bool) -> PathBuf {
    target_dir()
        .join(profile(release))
        .join(format!("oxjax-conformance{}", std::env::consts::EXE_SUFFIX))
}

/// `cargo xtask new-backend NAME [DIR]`: copies `templates/backend` to DIR
/// (default `../NAME` beside the repository) with NAME as package and
/// device name and an absolute-path `oxjax-abi` dependency, so the copy
/// builds wherever it lives; adds a `plugins.toml` that loads it.
fn new_backend(name: &str, dir: Option<&Path>) -> Result<()> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "new-backend: {name:?} is not a package name (lowercase letters, digits, - and _, \
             starting with a letter)"
        ));
    }
    let here = std::env::current_dir().map_err(|e| e.to_string())?;
    let dir = match dir {
        Some(d) => here.join(d),
        None => root()
            .parent()
            .ok_or("new-backend: the repository has no parent folder; give DIR")?
            .join(name),
    };
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!(
            "new-backend: {} exists and is not empty",
            dir.display()
        ));
    }
    let template = root().join("templates/backend");
    let read = |rel: &str| {
        let path = template.join(rel);
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let abi = root().join("core/abi");
    let abi = abi
        .to_str()
        .ok_or("new-backend: the repository path is not UTF-8")?;
    let manifest = read("Cargo.toml")?;
    let body = &manifest[manifest
        .find("[package]")
        .ok_or("templates/backend/Cargo.toml has no [package]")?..];
    let relative = "oxjax-abi = { path = \"../../core/abi\", version = \"0.1.0\" }";
    let replaced = [
        (
            "name = \"oxjax-backend-template\"".to_string(),
            format!("name = \"{name}\""),
        ),
        (
            relative.to_string(),
            format!(
                "oxjax-abi = {{ path = {}, version = \"0.1\" }}",
                toml_string(abi)
            ),
        ),
    ];
    let mut manifest = format!(
        "# An oxjax backend plugin, made by `cargo xtask new-backend` from oxjax's\n\
         # templates/backend. Build: cargo build; certify: oxjax-conformance\n\
         # --plugin target/debug/{lib} (see docs/backend-authors.md).\n",
        lib = library_file(&name.replace('-', "_"))
    );
    manifest.push_str(body);
    for (from, to) in &replaced {
        if !manifest.contains(from.as_str()) {
            return Err(format!(
                "templates/backend/Cargo.toml no longer has `{from}`"
            ));
        }
        manifest = manifest.replace(from.as_str(), to);
    }
    let lib = read("src/lib.rs")?;
    let device = "name: \"template\".into()";
    if !lib.contains(device) {
        return Err(format!(
            "templates/backend/src/lib.rs no longer has `{device}`"
        ));
    }
    let lib = lib.replace(device, &format!("name: \"{name}\".into()"));
    let plugins = format!(
        "# Loads this backend in oxjax: run an app with OXJAX_PLUGINS=<this file>,\n\
         # or from this folder. Paths are relative to this file.\n\
         default = \"{name}\"\n\n\
         [plugins.{name}]\n\
         path = \"target/debug/{stem}\"\n\
         options = {{ }}\n",
        stem = name.replace('-', "_")
    );
    let files = [
        ("Cargo.toml", manifest),
        ("src/lib.rs", lib),
        ("src/interp.rs", read("src/interp.rs")?),
        ("README.md", read("README.md")?),
        (".gitignore", "/target\n".to_string()),
        ("plugins.toml", plugins),
    ];
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let d = dir.display();
    eprintln!(
        "created backend `{name}` in {d} (oxjax-abi from {abi})\n\
         next:\n  cd {d} && cargo build\n  \
         cargo xtask conformance --plugin {d}/target/debug/{}   # from the oxjax checkout\n  \
         OXJAX_PLUGINS={d}/plugins.toml cargo run --example ...   # an app on it",
        library_file(&name.replace('-', "_"))
    );
    Ok(())
}

/// `libNAME.so`, `libNAME.dylib` or `NAME.dll`.
fn library_file(stem: &str) -> String {
    format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
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

/// Builds the backend template on its own (it is not a workspace member)
/// in `<target>/template`: another workspace's artifacts (its own
/// `oxjax-abi` resolution) never mix with ours. Returns its library.
fn build_template(release: bool) -> Result<PathBuf> {
    let manifest = root().join("templates/backend/Cargo.toml");
    let target = target_dir().join("template");
    let (manifest, target_s) = (manifest.display().to_string(), target.display().to_string());
    cargo(
        &[
            "build",
            "--manifest-path",
            &manifest,
            "--target-dir",
            &target_s,
        ],
        release,
    )?;
    Ok(target
        .join(profile(release))
        .join(library_file("oxjax_backend_template")))
}

/// The fast conformance run of `cargo xtask test`: every backend of
/// plugins.toml, then the template loaded by path. Regressions are rerun
/// but new failures are not saved (CI leaves the tree alone).
fn conformance_all(release: bool) -> Result<()> {
    // Built by the workspace build `test` just ran.
    let exe = conformance_exe(release).display().to_string();
    let mut failed = Vec::new();
    let common = ["--cases", TEST_CASES, "--no-save"];
    for name in plugin_names()? {
        let mut args = vec!["--backend", name.as_str()];
        args.extend(common);
        if let Err(e) = run(&exe, &args) {
            failed.push(format!("{name}: {e}"));
        }
    }
    let template = build_template(release)?.display().to_string();
    let mut args = vec!["--plugin", template.as_str()];
    args.extend(common);
    if let Err(e) = run(&exe, &args) {
        failed.push(format!("template: {e}"));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("conformance failed:\n{}", failed.join("\n")))
    }
}

/// Builds the plugins and example `name` of oxjax in one cargo call (see
/// [`Scope::With`]), then runs the example's binary: nothing beyond what
/// it needs is built, and a second run with nothing changed builds nothing.
fn run_example(name: &str, release: bool) -> Result<()> {
    build_plugins(release, Scope::With(&["-p", "oxjax", "--example", name]))?;
    let exe = target_dir()
        .join(profile(release))
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    run(&exe.display().to_string(), &[])
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
    // Built with the plugins (main); run directly, so nothing is rebuilt.
    let exe = target_dir()
        .join("release")
        .join(format!("oxjax-bench{}", std::env::consts::EXE_SUFFIX))
        .display()
        .to_string();
    let mut all: Vec<&str> = Vec::new();
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
    run(&exe, &all)?;
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
    build_plugins(false, Scope::Workspace)?;
    test(false)?;
    conformance_all(false)
}
