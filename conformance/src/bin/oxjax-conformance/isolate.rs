//! Crash isolation: the suite runs in a worker process (this binary with
//! `--worker`) that announces each entry on stdout (`@@plan`, `@@entry`,
//! `@@report`). A worker that dies (abort, segfault, `exit`) or stays on one
//! entry past `--timeout` fails that entry — with the signal or timeout, the
//! worker's last stderr lines (a plugin's panic output, captured rather
//! than flooding the terminal) and the last kernel compiled, found by
//! rerunning the entry alone with `OXJAX_DEBUG=2` — and a fresh worker
//! continues with the entries after it. The report is written either way.

use oxjax_conformance::Failure;
use oxjax_conformance::runner::{EntryResult, Report, Status};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a worker ended.
enum End {
    /// It finished and reported.
    Report(Box<Report>),
    /// It died or was killed while running `entry` (None: before the first).
    Died {
        entry: Option<String>,
        why: String,
        stderr: String,
    },
}

/// What one worker run saw.
struct Run {
    plan: Vec<String>,
    /// The entries it finished, as they finished.
    results: Vec<EntryResult>,
    end: End,
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        _ => "a signal",
    }
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig} ({})", signal_name(sig));
        }
    }
    match status.code() {
        Some(c) => format!("exited with status {c} without a report"),
        None => "ended without a report".into(),
    }
}

fn spawn(args: &[String], debug: bool) -> std::io::Result<Child> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if debug {
        cmd.env("OXJAX_DEBUG", "2");
    }
    cmd.spawn()
}

/// Runs one worker to its end, `timeout` per entry.
fn run_worker(args: &[String], timeout: Duration, debug: bool, progress: &dyn Fn(&str)) -> Run {
    let mut child = match spawn(args, debug) {
        Ok(c) => c,
        Err(e) => {
            return Run {
                plan: vec![],
                results: vec![],
                end: End::Died {
                    entry: None,
                    why: format!("cannot start a worker: {e}"),
                    stderr: String::new(),
                },
            };
        }
    };
    let stderr = Arc::new(Mutex::new(Vec::<String>::new()));
    let err_pipe = child.stderr.take().expect("piped stderr");
    let keep = stderr.clone();
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(err_pipe).read_to_string(&mut text);
        let mut lines = keep.lock().unwrap();
        lines.extend(text.lines().map(str::to_string));
    });
    let (tx, rx) = channel();
    let out_pipe = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out_pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut plan = Vec::new();
    let mut started: Vec<String> = Vec::new();
    let mut results = Vec::new();
    let mut report = None;
    let mut deadline = Instant::now() + timeout;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(keys) = line.strip_prefix("@@plan") {
                    plan = keys.split_whitespace().map(str::to_string).collect();
                } else if let Some(key) = line.strip_prefix("@@entry ") {
                    started.push(key.to_string());
                    progress(key);
                    deadline = Instant::now() + timeout;
                } else if let Some(json) = line.strip_prefix("@@result ") {
                    if let Ok(r) = serde_json::from_str::<EntryResult>(json) {
                        results.push(r);
                    }
                } else if let Some(json) = line.strip_prefix("@@report ") {
                    report = serde_json::from_str::<Report>(json).ok();
                } else {
                    // The report's text and anything else the worker prints.
                    println!("{line}");
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                timed_out = true;
                break;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait();
    let _ = err_thread.join();
    let tail = {
        let lines = stderr.lock().unwrap();
        let skip = lines.len().saturating_sub(40);
        let mut t = lines[skip..].join("\n");
        if skip > 0 {
            t = format!("({skip} earlier lines not shown)\n{t}");
        }
        t
    };
    let end = match (report, timed_out) {
        (Some(r), false) => End::Report(Box::new(r)),
        _ => End::Died {
            entry: started.last().cloned(),
            why: if timed_out {
                format!(
                    "did not finish within {} s (a hang?); the worker was killed",
                    timeout.as_secs()
                )
            } else {
                status.map_or("ended".into(), describe)
            },
            stderr: tail,
        },
    };
    Run { plan, results, end }
}

/// The last kernel an `OXJAX_DEBUG=2` log compiled, as IR text.
fn last_kernel(log: &str) -> String {
    let Some(at) = log.rfind("[oxjax] compiled on") else {
        return String::new();
    };
    log[at..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("[oxjax]"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn layer_of(op: &str) -> &'static str {
    match op.split_once(':').map(|(p, _)| p) {
        Some("contract") => "contract",
        Some("eager") => "eager",
        Some("model") => "model",
        Some(_) => "program",
        None => "kernel",
    }
}

/// Runs the suite in workers. `worker_args` are this run's arguments for
/// the worker (without `--ops`, `--json`, `--quiet`); `selected` is the
/// `--ops` pattern. Returns the merged report, or the worker's exit
/// status when it failed before planning (a usage or loading error).
pub fn run(
    worker_args: &[String],
    selected: Option<&str>,
    timeout: Duration,
    replay: &str,
    progress: bool,
) -> Result<Report, i32> {
    let mut merged: Option<Report> = None;
    let mut results: Vec<EntryResult> = Vec::new();
    let mut plan: Option<Vec<String>> = None;
    let mut done: Vec<String> = Vec::new();
    let mut first = true;
    let started_at = Instant::now();
    loop {
        let mut args = worker_args.to_vec();
        args.push("--worker".into());
        if !first {
            args.push("--skip-regressions".into());
        }
        let remaining: Option<Vec<String>> = plan
            .as_ref()
            .map(|p| p.iter().filter(|k| !done.contains(k)).cloned().collect());
        match (&remaining, selected) {
            (Some(r), _) => {
                if r.is_empty() {
                    break;
                }
                args.extend(["--ops".into(), r.join(",")]);
            }
            (None, Some(p)) => args.extend(["--ops".into(), p.to_string()]),
            (None, None) => {}
        }
        let total = plan.as_ref().map_or(0, Vec::len);
        let count = std::cell::Cell::new(done.len());
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let show = |key: &str| {
            if !progress {
                return;
            }
            let (n, total) = (count.get() + 1, total.max(count.get() + 1));
            count.set(n);
            if tty {
                eprint!("\r[{n}/{total}] {key:<50}");
            } else if n * 10 / total != (n - 1) * 10 / total {
                eprintln!("[{n}/{total}] {key}");
            }
        };
        let run = run_worker(&args, timeout, false, &show);
        if progress && tty {
            eprintln!();
        }
        first = false;
        if plan.is_none() {
            if run.plan.is_empty() {
                if let End::Died { stderr, .. } = &run.end {
                    eprintln!("{stderr}");
                }
                return Err(2);
            }
            plan = Some(run.plan.clone());
        }
        done.extend(run.results.iter().map(|e| format!("{}/{}", e.op, e.dtype)));
        results.extend(run.results);
        match run.end {
            End::Report(r) => {
                merged = Some(match merged.take() {
                    None => *r,
                    Some(mut m) => {
                        m.regressions.extend(r.regressions);
                        m
                    }
                });
                break;
            }
            End::Died {
                entry, why, stderr, ..
            } => {
                // Everything announced before the dying entry finished.
                let Some(key) = entry else {
                    eprintln!(
                        "oxjax-conformance: the worker {why} before its first entry:\n{stderr}"
                    );
                    return Err(2);
                };
                done.push(key.clone());
                let kernel = {
                    // The entry alone, logging the kernels it compiles.
                    let mut a = worker_args.to_vec();
                    a.extend(["--worker".into(), "--skip-regressions".into()]);
                    a.extend(["--ops".into(), key.clone()]);
                    match run_worker(&a, timeout, true, &|_| {}).end {
                        End::Died { stderr, .. } => last_kernel(&stderr),
                        End::Report(_) => String::new(),
                    }
                };
                let (op, dtype) = key.rsplit_once('/').unwrap_or((&key, ""));
                results.push(EntryResult {
                    layer: layer_of(op).into(),
                    op: op.into(),
                    dtype: dtype.into(),
                    status: Status::Fail,
                    cases: 0,
                    widened: 0,
                    note: "the worker process died here".into(),
                    failure: Some(Failure {
                        summary: format!("the backend {why} while running {key}"),
                        kernel,
                        inputs: vec![],
                        expected: vec![],
                        found: vec![],
                        tolerance: String::new(),
                        details: if stderr.trim().is_empty() {
                            "the worker printed nothing on stderr".into()
                        } else {
                            format!("the worker's stderr (last lines):\n{stderr}")
                        },
                        seed: 0,
                        replay: if key.starts_with("regressions/") {
                            format!("{replay} (the saved regressions run first)")
                        } else {
                            format!("{replay} --ops '{key}'")
                        },
                        saved: None,
                    }),
                });
            }
        }
    }
    let mut report = merged.unwrap_or_else(|| Report {
        backend: "(crashed before reporting)".into(),
        backend_version: String::new(),
        device: String::new(),
        library: None,
        seed: 0,
        cases: 0,
        semantics: vec![],
        regressions: vec![],
        entries: vec![],
        seconds: 0.0,
    });
    report.entries = results;
    // In plan order.
    if let Some(plan) = &plan {
        let pos = |e: &EntryResult| {
            let key = format!("{}/{}", e.op, e.dtype);
            plan.iter().position(|k| *k == key).unwrap_or(usize::MAX)
        };
        report.entries.sort_by_key(pos);
    }
    report.seconds = started_at.elapsed().as_secs_f64();
    Ok(report)
}
