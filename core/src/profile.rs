//! A profiler for jitted programs: per kernel, its time, launches and bytes
//! moved, with the jaxpr equations it fused, slowest first.
//!
//! `OXJAX_PROFILE=1` (or `=N` for the top N, default 15) turns it on for the
//! whole process and prints the table on stderr at exit; [`profile`] does
//! the same for one closure and returns the report. While it is on, each
//! kernel of a jitted program is followed by a `synchronize` so its time is
//! its own: programs run slower, and the time includes the launch.

use crate::jit::Step;
use crate::trace::jaxpr::{Atom, Jaxpr};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// One kernel's totals.
#[derive(Clone, Debug)]
pub struct KernelStats {
    /// The device that ran it.
    pub device: String,
    /// What it computes: `size=N [rsize=R] in=K` and its output avals.
    pub kernel: String,
    /// The jaxpr equations it fused, in program order (`dot_general, add,
    /// max`), and the equation numbers.
    pub origin: String,
    /// How many times it ran.
    pub launches: u64,
    /// Its total time, launch to completion.
    pub time: Duration,
    /// Bytes read plus bytes written, over all launches.
    pub bytes: u64,
}

/// What the profiler measured, kernels slowest first.
#[derive(Clone, Debug, Default)]
pub struct ProfileReport {
    /// Every kernel that ran, slowest first.
    pub kernels: Vec<KernelStats>,
}

impl ProfileReport {
    /// The table of the `top` slowest kernels.
    pub fn table(&self, top: usize) -> String {
        let total: Duration = self.kernels.iter().map(|k| k.time).sum();
        let launches: u64 = self.kernels.iter().map(|k| k.launches).sum();
        let mut s = format!(
            "oxjax profile: {} kernel(s), {launches} launch(es), {:.3} ms in kernels; top {}:\n",
            self.kernels.len(),
            total.as_secs_f64() * 1e3,
            top.min(self.kernels.len())
        );
        let _ = writeln!(
            s,
            "{:>9} {:>6} {:>8} {:>10}  kernel  <- fused equations",
            "ms", "%", "launches", "MB"
        );
        for k in self.kernels.iter().take(top) {
            let _ = writeln!(
                s,
                "{:>9.3} {:>5.1}% {:>8} {:>10.3}  {} on '{}'  <- {}",
                k.time.as_secs_f64() * 1e3,
                100.0 * k.time.as_secs_f64() / total.as_secs_f64().max(1e-12),
                k.launches,
                k.bytes as f64 / 1e6,
                k.kernel,
                k.device,
                k.origin
            );
        }
        s
    }
}

/// Runs `f` with the profiler on and returns its result and what the
/// jitted programs it ran cost, kernel by kernel.
pub fn profile<R>(f: impl FnOnce() -> R) -> (R, ProfileReport) {
    let was = FORCED.swap(true, Ordering::SeqCst);
    let before = snapshot();
    let out = f();
    let after = snapshot();
    FORCED.store(was, Ordering::SeqCst);
    let mut kernels: Vec<KernelStats> = after
        .into_iter()
        .filter_map(|(key, mut k)| {
            if let Some(b) = before.get(&key) {
                k.launches -= b.launches;
                k.time -= b.time;
                k.bytes -= b.bytes;
            }
            (k.launches > 0).then_some(k)
        })
        .collect();
    sort(&mut kernels);
    (out, ProfileReport { kernels })
}

/// `profile` inside `profile` and `OXJAX_PROFILE` share one table.
static FORCED: AtomicBool = AtomicBool::new(false);

/// Per (program, step): the totals.
type Table = HashMap<(usize, usize), KernelStats>;

fn table() -> &'static Mutex<Table> {
    static T: OnceLock<Mutex<Table>> = OnceLock::new();
    T.get_or_init(Mutex::default)
}

fn snapshot() -> Table {
    table().lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn sort(kernels: &mut [KernelStats]) {
    kernels.sort_by(|a, b| b.time.cmp(&a.time).then(a.origin.cmp(&b.origin)));
}

/// `OXJAX_PROFILE`: `Some(top N)` when set to anything but empty or `0`.
fn from_env() -> Option<usize> {
    static TOP: OnceLock<Option<usize>> = OnceLock::new();
    *TOP.get_or_init(|| match std::env::var("OXJAX_PROFILE") {
        Ok(v) if !v.is_empty() && v != "0" => {
            let top = v.trim().parse().ok().filter(|&n| n > 1).unwrap_or(15);
            print_at_exit();
            Some(top)
        }
        _ => None,
    })
}

/// Whether kernels are being timed now.
pub(crate) fn enabled() -> bool {
    FORCED.load(Ordering::Relaxed) || from_env().is_some()
}

/// Adds one launch of step `step` of `program` (identified by address).
pub(crate) fn record(
    program: usize,
    step: usize,
    device: &str,
    time: Duration,
    bytes: u64,
    describe: impl FnOnce() -> (String, String),
) {
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    let k = t.entry((program, step)).or_insert_with(|| {
        let (kernel, origin) = describe();
        KernelStats {
            device: device.to_string(),
            kernel,
            origin,
            launches: 0,
            time: Duration::ZERO,
            bytes: 0,
        }
    });
    k.launches += 1;
    k.time += time;
    k.bytes += bytes;
}

/// The equations a kernel step fused: those reached from its outputs
/// without crossing one of its inputs, by primitive name and number (an
/// eager step's one equation).
pub(crate) fn origin(jaxpr: &Jaxpr, step: &Step) -> (String, String) {
    let Step::Kernel {
        kernel,
        inputs,
        outputs,
    } = step
    else {
        if let Step::Eager { eqn } = step {
            let e = &jaxpr.eqns[*eqn];
            let p = e.prim.to_string();
            let outs: Vec<String> = e.outs.iter().map(|&v| jaxpr.avals[v].to_string()).collect();
            let name = p.split('[').next().unwrap_or(&p);
            return (
                format!("eager step -> {}", outs.join(", ")),
                format!("{name} (eqn {eqn})"),
            );
        }
        return ("eager step".into(), String::new());
    };
    let def: HashMap<usize, usize> = jaxpr
        .eqns
        .iter()
        .enumerate()
        .flat_map(|(i, e)| e.outs.iter().map(move |&v| (v, i)))
        .collect();
    let stop: HashSet<usize> = inputs.iter().copied().collect();
    let mut seen = HashSet::new();
    let mut todo: Vec<usize> = outputs.clone();
    while let Some(v) = todo.pop() {
        if stop.contains(&v) {
            continue;
        }
        let Some(&i) = def.get(&v) else { continue };
        if seen.insert(i) {
            todo.extend(jaxpr.eqns[i].ins.iter().filter_map(|a| match a {
                Atom::Var(v) => Some(*v),
                Atom::Lit(..) => None,
            }));
        }
    }
    let mut eqns: Vec<usize> = seen.into_iter().collect();
    eqns.sort_unstable();
    let names: Vec<String> = eqns
        .iter()
        .map(|&i| {
            let p = jaxpr.eqns[i].prim.to_string();
            p.split('[').next().unwrap_or(&p).to_string()
        })
        .collect();
    let numbers = match (eqns.first(), eqns.last()) {
        (Some(a), Some(b)) if a == b => format!(" (eqn {a})"),
        (Some(a), Some(b)) => format!(" (eqns {a}..={b})"),
        _ => String::new(),
    };
    let outs: Vec<String> = outputs
        .iter()
        .map(|&v| jaxpr.avals[v].to_string())
        .collect();
    let mut what = format!("size={}", kernel.size);
    if kernel.rsize > 0 {
        let _ = write!(what, " rsize={}", kernel.rsize);
    }
    let _ = write!(what, " in={} -> {}", inputs.len(), outs.join(", "));
    (what, format!("{}{numbers}", names.join(", ")))
}

/// Prints the process's table on stderr when it exits (`OXJAX_PROFILE`).
fn print_at_exit() {
    unsafe extern "C" {
        fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
    }
    extern "C" fn report() {
        let mut kernels: Vec<KernelStats> = snapshot().into_values().collect();
        sort(&mut kernels);
        let top = from_env().unwrap_or(15);
        eprint!("{}", ProfileReport { kernels }.table(top));
    }
    // SAFETY: `atexit` is the C library's; `report` takes no arguments,
    // does not unwind (a poisoned lock is entered anyway) and only writes
    // to stderr.
    unsafe {
        atexit(report);
    }
}
