//! `oxjax-conformance [--backend NAME | --plugin PATH [--options TOML]]
//! [--plugins FILE] [--cases N] [--seed S] [--ops PATTERN] [--json FILE]
//! [--regressions DIR] [--no-save] [--quiet]`
//!
//! Certifies one backend against the embedded reference and exits non-zero
//! on any failure. `cargo xtask conformance` builds it (once) and runs it
//! in the caller's folder; `cargo install --path conformance` puts it on
//! the PATH for use from a backend's own crate.
//! The suite runs in a worker process (see `isolate.rs`), so a plugin that
//! crashes or hangs fails one entry instead of ending the run.

mod isolate;

use oxjax_conformance::{Options, report, run};
use oxjax_core::{Device, Registry};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: oxjax-conformance [--backend NAME | --plugin PATH [--options TOML]] \
[--plugins FILE] [--cases N] [--seed S] [--ops PATTERN] [--json FILE] [--regressions DIR] [--no-save] \
[--timeout SECONDS] [--in-process] [--quiet]";

#[derive(Clone)]
struct Args {
    backend: Option<String>,
    plugin: Option<PathBuf>,
    options: String,
    plugins: Option<PathBuf>,
    json: Option<PathBuf>,
    opts: Options,
    /// Internal: run the suite here and speak the worker protocol.
    worker: bool,
    /// Internal: a later worker does not rerun the regressions.
    skip_regressions: bool,
    /// No worker process (a crash ends the run).
    in_process: bool,
    /// Seconds one entry may take in a worker.
    timeout: u64,
    /// The arguments a worker gets (this run's, less --ops, --json, --quiet).
    worker_args: Vec<String>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        backend: None,
        plugin: None,
        options: String::new(),
        plugins: None,
        json: None,
        opts: Options {
            progress: true,
            save: true,
            ..Options::default()
        },
        worker: false,
        skip_regressions: false,
        in_process: false,
        timeout: 120,
        worker_args: Vec::new(),
    };
    let mut regressions = None;
    let mut it = std::env::args().skip(1);
    // The replay line works as printed: the same build profile as this run
    // (no debug rebuild after a release run) and no second saved copy;
    // outside the checkout, this very binary.
    let in_checkout = std::env::current_dir().is_ok_and(|d| d.starts_with(checkout()));
    let mut replay = vec![if in_checkout {
        "cargo xtask conformance".to_string()
    } else {
        std::env::current_exe().map_or("oxjax-conformance".into(), |e| e.display().to_string())
    }];
    if in_checkout && !cfg!(debug_assertions) {
        replay.push("--release".into());
    }
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            let v = it
                .next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?;
            if !["--ops", "--json"].contains(&name) {
                a.worker_args.extend([name.to_string(), v.clone()]);
            }
            Ok::<String, String>(v)
        };
        match flag.as_str() {
            "--backend" => {
                let v = value("--backend")?;
                replay.push(format!("--backend {v}"));
                a.backend = Some(v);
            }
            "--plugin" => {
                let v = value("--plugin")?;
                replay.push(format!("--plugin {v}"));
                a.plugin = Some(PathBuf::from(v));
            }
            "--options" => {
                let v = value("--options")?;
                replay.push(format!("--options '{v}'"));
                a.options = v;
            }
            "--plugins" => {
                let v = value("--plugins")?;
                replay.push(format!("--plugins {v}"));
                a.plugins = Some(PathBuf::from(v));
            }
            "--cases" => {
                a.opts.cases = value("--cases")?
                    .parse()
                    .map_err(|e| format!("--cases: {e}"))?
            }
            "--seed" => {
                a.opts.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--ops" => a.opts.ops = Some(value("--ops")?),
            "--json" => a.json = Some(PathBuf::from(value("--json")?)),
            "--regressions" => regressions = Some(PathBuf::from(value("--regressions")?)),
            "--timeout" => {
                a.timeout = value("--timeout")?
                    .parse()
                    .map_err(|e| format!("--timeout: {e}"))?
            }
            "--no-save" => {
                a.opts.save = false;
                a.worker_args.push(flag.clone());
            }
            "--quiet" => a.opts.progress = false,
            "--worker" => a.worker = true,
            "--skip-regressions" => a.skip_regressions = true,
            "--in-process" => a.in_process = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    replay.push("--no-save".into());
    a.opts.replay = replay.join(" ");
    a.opts.regressions = Some(match regressions {
        Some(dir) => dir,
        None => default_regressions(a.plugin.as_deref()),
    });
    Ok(a)
}

/// This oxjax checkout (where the binary was built from).
fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("conformance lives in the workspace")
        .to_path_buf()
}

/// Where failures are saved and replayed from without `--regressions`:
/// the checkout's `conformance/regressions` for its own plugins; for a
/// plugin outside it, `conformance-regressions/` in the author's crate
/// (the nearest folder above the library with a Cargo.toml, else the
/// library's folder), so the cases land in the author's repository.
fn default_regressions(plugin: Option<&Path>) -> PathBuf {
    let ours = checkout().join("conformance/regressions");
    let Some(lib) = plugin.and_then(|p| std::fs::canonicalize(p).ok()) else {
        return ours;
    };
    if lib.starts_with(checkout()) {
        return ours;
    }
    let folder = lib.parent().unwrap_or(Path::new(".")).to_path_buf();
    let krate = folder
        .ancestors()
        .find(|d| d.join("Cargo.toml").is_file())
        .map_or(folder.clone(), Path::to_path_buf);
    krate.join("conformance-regressions")
}

/// The `plugins.toml` of `--backend`: `--plugins FILE`, else
/// `OXJAX_PLUGINS`, else the nearest one from the current directory
/// upward (what an application run there would load), else the checkout's.
fn plugins_file(given: Option<&Path>) -> PathBuf {
    if let Some(f) = given {
        return f.to_path_buf();
    }
    oxjax_core::config_file().unwrap_or_else(|| checkout().join("plugins.toml"))
}

/// The device under test and the oracle.
fn devices(a: &Args) -> Result<(Device, Device), String> {
    if let Some(path) = &a.plugin {
        let path =
            std::fs::canonicalize(path).map_err(|e| format!("--plugin {}: {e}", path.display()))?;
        let mut doc = toml_string(&path.display().to_string());
        doc = format!("default = \"dut\"\n[plugins.dut]\npath = {doc}\n");
        if !a.options.trim().is_empty() {
            doc.push_str(&format!("options = {{ {} }}\n", a.options.trim()));
        }
        let here = std::env::current_dir()
            .map_err(|e| e.to_string())?
            .join("plugins.toml");
        let reg = Registry::from_toml(&doc, &here).map_err(|e| e.to_string())?;
        return Ok((
            reg.device("dut").map_err(|e| e.to_string())?,
            reg.device("embedded").map_err(|e| e.to_string())?,
        ));
    }
    let file = plugins_file(a.plugins.as_deref());
    let reg = Registry::from_file(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let dut = match &a.backend {
        Some(name) => reg.device(name).map_err(|e| e.to_string())?,
        None => reg.try_default_device().map_err(|e| e.to_string())?,
    };
    Ok((dut, reg.device("embedded").map_err(|e| e.to_string())?))
}

/// An `--ops` pattern that selects no entry is a usage error naming the
/// entries whose names come closest.
fn check_pattern(dut: &Device, pattern: &str) -> Result<(), String> {
    let keys = oxjax_conformance::runner::entry_keys(dut);
    let hits = keys.iter().any(|k| {
        let (op, dtype) = k.rsplit_once('/').unwrap_or((k, ""));
        oxjax_conformance::runner::selected(&Some(pattern.to_string()), op, dtype)
    });
    if hits {
        return Ok(());
    }
    // Near matches: an op containing a piece of the pattern, contained in
    // one, or sharing its first three letters.
    let pieces: Vec<String> = pattern
        .split([',', '*', '/', ':'])
        .map(|p| p.trim().to_lowercase())
        .filter(|p| p.len() >= 2)
        .collect();
    let close = |op: &str| {
        let op = op.rsplit(':').next().unwrap_or(op).to_lowercase();
        pieces.iter().any(|p| {
            op.contains(p.as_str())
                || p.contains(op.as_str())
                || (op.len() >= 3 && p.len() >= 3 && op[..3] == p[..3])
        })
    };
    let mut near: Vec<&str> = keys
        .iter()
        .filter(|k| close(k.rsplit_once('/').map_or(k.as_str(), |(op, _)| op)))
        .map(String::as_str)
        .collect();
    near.truncate(12);
    let hint = if near.is_empty() {
        "patterns look like sin, sin/f32, reduce_*, contract:*, eager:*".to_string()
    } else {
        format!("near matches: {}", near.join(", "))
    };
    Err(format!("--ops '{pattern}' selects no entry; {hint}"))
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

const HELP: &str = "
Certifies an oxjax backend plugin against the embedded reference backend.

  --backend NAME      a device of plugins.toml (default: its default device)
  --plugin PATH       a plugin library, loaded directly
  --options TOML      the plugin's options (with --plugin), e.g. 'max_inputs = 8'
  --plugins FILE      the plugins.toml of --backend (default: OXJAX_PLUGINS,
                      else the nearest plugins.toml from the current folder
                      upward, else the one of the oxjax checkout)
  --cases N           cases per op x dtype entry (default 16; nightly 2000)
  --seed S            the run's seed (default 0); every run is reproducible
  --ops PATTERN       comma-separated globs over entries: sin, sin/f32,
                      reduce_*, dag*, contract:*, eager:*, jit:*, grad:*
                      (a pattern that selects nothing is an error)
  --json FILE         also write the report as JSON
  --regressions DIR   saved failures, rerun first (default: for a --plugin
                      outside the oxjax checkout, conformance-regressions/ in
                      its crate (the folder above it with a Cargo.toml);
                      else the checkout's conformance/regressions)
  --no-save           do not save new failures there
  --timeout SECONDS   longest one entry may take (default 120); past it the
                      entry fails as a hang and the run goes on
  --in-process        no worker process: faster to start, but a plugin that
                      crashes or hangs ends the run
  --quiet             no progress bar

Exit status: 0 all pass, 1 any failure, 2 usage or loading error.";

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}\n{HELP}");
        return ExitCode::SUCCESS;
    }
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let report = if args.worker || args.in_process {
        let (dut, oracle) = match devices(&args) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("oxjax-conformance: {e}");
                return ExitCode::from(2);
            }
        };
        if let Some(pattern) = &args.opts.ops
            && let Err(e) = check_pattern(&dut, pattern)
        {
            eprintln!("oxjax-conformance: {e}");
            return ExitCode::from(2);
        }
        let mut opts = args.opts.clone();
        // A failure is rechecked on a new instance of the same backend.
        let again = args.clone();
        opts.fresh = Some(oxjax_conformance::Fresh(std::sync::Arc::new(move || {
            devices(&again).map(|d| d.0)
        })));
        if args.worker {
            opts.announce = true;
            opts.progress = false;
            if args.skip_regressions {
                opts.regressions = None;
            }
        }
        let report = run(&dut, &oracle, &opts);
        if args.worker {
            println!(
                "@@report {}",
                serde_json::to_string(&report).expect("the report serialises")
            );
            return ExitCode::SUCCESS;
        }
        report
    } else {
        match isolate::run(
            &args.worker_args,
            args.opts.ops.as_deref(),
            std::time::Duration::from_secs(args.timeout),
            &args.opts.replay,
            args.opts.progress,
        ) {
            Ok(r) => r,
            Err(code) => return ExitCode::from(code as u8),
        }
    };
    print!("{}", report::render(&report));
    if let Some(path) = &args.json {
        if let Err(e) = std::fs::write(path, report::json(&report)) {
            eprintln!("oxjax-conformance: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
        println!("report written to {}", path.display());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
