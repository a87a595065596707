//! The runner: builds the list of (layer, op, dtype) entries, narrows it by
//! the backend's capabilities, reruns saved regressions first, then runs
//! each entry's strategy through proptest (seeded, so every run is
//! reproducible) and shrinks any failure to a minimal case.

use crate::case::{DagCase, OpCase, dag_case, op_case};
use crate::eager::{self, EagerCase};
use crate::judge::{self, Failure, Outcome};
use crate::optable::{self, Accuracy, EntryKind};
use oxjax_abi::{DType, Semantics};
use oxjax_core::Device;
use proptest::strategy::ValueTree;
use proptest::strategy::{BoxedStrategy, Strategy};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Makes a new instance of the backend under test: a session with no
/// history, to recheck a failure found after many calls.
#[derive(Clone)]
pub struct Fresh(pub std::sync::Arc<dyn Fn() -> Result<Device, String> + Send + Sync>);

impl std::fmt::Debug for Fresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fresh(..)")
    }
}

/// What a failure's summary says when its shrunk case passes on a fresh
/// backend instance.
pub const ONLY_WITH_HISTORY: &str = "reproduces only with history (a cache bug?)";

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Cases per (op, dtype) entry.
    pub cases: u32,
    pub seed: u64,
    /// Comma-separated globs over entry keys (`sin`, `sin/f32`, `reduce_*`,
    /// `dag*`, `eager:*`); `None` runs everything.
    pub ops: Option<String>,
    /// Folder of regression files: rerun first; new failures are saved
    /// there when `save` is set.
    pub regressions: Option<PathBuf>,
    pub save: bool,
    /// Show progress on stderr.
    pub progress: bool,
    /// The command that reruns this configuration (`cargo xtask conformance
    /// --backend wasm`); the replay line adds seed, cases and the entry.
    pub replay: String,
    /// Cap on shrinking steps per failure.
    pub max_shrink_iters: u32,
    /// Print `@@plan KEY...` and `@@entry KEY` lines on stdout (the
    /// isolated runner's worker protocol, see the binary).
    pub announce: bool,
    /// A new backend instance on demand: a failure is rechecked there, and
    /// one that passes on it is reported as reproducing only with history.
    pub fresh: Option<Fresh>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cases: 16,
            seed: 0,
            ops: None,
            regressions: None,
            save: false,
            progress: false,
            replay: "cargo xtask conformance".into(),
            max_shrink_iters: 500,
            announce: false,
            fresh: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Unsupported,
}

/// The result of one (layer, op, dtype) entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntryResult {
    pub layer: String,
    pub op: String,
    pub dtype: String,
    pub status: Status,
    /// Cases run.
    pub cases: u32,
    /// Elements accepted only because of the backend's declared semantics.
    pub widened: u64,
    /// Why unsupported, or what was widened.
    pub note: String,
    pub failure: Option<Failure>,
}

/// A saved regression rerun.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegressionResult {
    pub file: String,
    pub entry: String,
    pub status: Status,
    pub failure: Option<Failure>,
}

/// Everything a run found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub backend: String,
    pub backend_version: String,
    pub device: String,
    pub library: Option<String>,
    pub seed: u64,
    pub cases: u32,
    /// Declared semantic deviations that widened expectations.
    pub semantics: Vec<String>,
    pub regressions: Vec<RegressionResult>,
    pub entries: Vec<EntryResult>,
    pub seconds: f64,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.status == Status::Fail)
            .count()
            + self
                .regressions
                .iter()
                .filter(|r| r.status == Status::Fail)
                .count()
    }
    pub fn passed(&self) -> bool {
        self.failures() == 0
    }
}

/// How many failing entries get the full shrinking budget.
const THOROUGH_FAILURES: usize = 16;

/// A saved case of any layer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Case {
    Op(OpCase),
    Dag { reduce: bool, case: DagCase },
    Eager(EagerCase),
    Program(crate::program::ProgCase),
}

/// The file format of `conformance/regressions/*.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Regression {
    pub layer: String,
    pub entry: String,
    pub dtype: String,
    /// The backend that failed it, and the seed that found it.
    pub backend: String,
    pub seed: u64,
    pub case: Case,
    /// The kernel's IR text when it was saved (for reading; not parsed).
    pub kernel: Vec<String>,
}

/// A planned entry.
struct Entry {
    layer: &'static str,
    op: String,
    dtype: String,
    unsupported: Option<String>,
    kind: Plan,
}

enum Plan {
    Contract(crate::contract::Check),
    Ladder(crate::ladder::Rung),
    Op(optable::OpEntry, DType),
    Dag(bool),
    Eager(eager::EagerOp, DType, eager::Mode),
    Program(crate::program::ProgMode),
    Model(crate::model::Model),
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| {
                    text.is_char_boundary(head.len() + i) && glob(tail, &text[head.len() + i..])
                })
        }
    }
}

/// Whether the entry `op` on `dtype` is selected by `--ops`.
pub fn selected(ops: &Option<String>, op: &str, dtype: &str) -> bool {
    let Some(p) = ops else { return true };
    let key = format!("{op}/{dtype}");
    p.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .any(|g| glob(g, op) || glob(g, &key))
}

fn plan(dut: &Device, opts: &Options) -> Vec<Entry> {
    let caps = &dut.info().caps;
    let mut out: Vec<Entry> = crate::contract::checks()
        .iter()
        .map(|c| Entry {
            layer: "contract",
            op: format!("contract:{}", c.name),
            dtype: "-".into(),
            unsupported: None,
            kind: Plan::Contract(*c),
        })
        .collect();
    let dtype_note =
        |d: DType| (!caps.supports_dtype(d)).then(|| format!("dtype {d} not declared"));
    for e in optable::table() {
        for d in e.dtypes() {
            let mut unsupported = dtype_note(d);
            if let EntryKind::Elementwise(op) = e.kind
                && !caps.supports_op(op)
            {
                unsupported = Some(format!("op {op} not declared"));
            }
            out.push(Entry {
                layer: "kernel",
                op: e.name.to_string(),
                dtype: d.name().to_string(),
                unsupported,
                kind: Plan::Op(e, d),
            });
        }
    }
    for rung in crate::ladder::rungs() {
        let unsupported = dtype_note(rung.dtype).or_else(|| {
            rung.alu()
                .filter(|&op| !caps.supports_op(op))
                .map(|op| format!("op {op} not declared"))
        });
        out.push(Entry {
            layer: "kernel",
            op: format!("ladder:{}", rung.op),
            dtype: rung.dtype.name().to_string(),
            unsupported,
            kind: Plan::Ladder(rung),
        });
    }
    for reduce in [false, true] {
        out.push(Entry {
            layer: "kernel",
            op: if reduce { "dag+reduce" } else { "dag" }.into(),
            dtype: "mixed".into(),
            unsupported: None,
            kind: Plan::Dag(reduce),
        });
    }
    // Layer 2 (eager), then layer 3 (programs through the transformations:
    // jit on every op, grad on the differentiable ones).
    for mode in [eager::Mode::Eager, eager::Mode::Jit, eager::Mode::Grad] {
        for op in eager::ops() {
            if mode == eager::Mode::Grad && !eager::GRAD_OPS.contains(&op.name) {
                continue;
            }
            for &d in op.dtypes {
                if mode == eager::Mode::Grad && !d.is_float() {
                    continue;
                }
                out.push(Entry {
                    layer: if mode == eager::Mode::Eager {
                        "eager"
                    } else {
                        "program"
                    },
                    op: format!("{}:{}", mode.prefix(), op.name),
                    dtype: d.name().to_string(),
                    unsupported: dtype_note(d),
                    kind: Plan::Eager(*op, d, mode),
                });
            }
        }
    }
    for mode in crate::program::ProgMode::ALL {
        // grad_fd runs on the reference only (it certifies the host's
        // derivative rules), whatever the backend declares.
        let d = mode.dtype();
        out.push(Entry {
            layer: "program",
            op: mode.name().into(),
            dtype: d.name().to_string(),
            unsupported: if mode == crate::program::ProgMode::GradFd {
                None
            } else {
                dtype_note(d)
            },
            kind: Plan::Program(mode),
        });
    }
    // Layer 4: whole models, jitted under the declared limits.
    for model in crate::model::Model::ALL {
        out.push(Entry {
            layer: "model",
            op: model.name().into(),
            dtype: DType::F32.name().to_string(),
            unsupported: dtype_note(DType::F32),
            kind: Plan::Model(model),
        });
    }
    out.retain(|e| selected(&opts.ops, &e.op, &e.dtype));
    out
}

/// Every entry key (`op/dtype`) the suite has for `dut`, whatever `--ops`
/// selects (for suggesting near matches to a pattern that selects none).
pub fn entry_keys(dut: &Device) -> Vec<String> {
    plan(dut, &Options::default())
        .into_iter()
        .map(|e| format!("{}/{}", e.op, e.dtype))
        .collect()
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The random generator of one entry: a function of the seed and the
/// entry's key only, so `--ops` does not change what an entry runs.
fn rng_for(seed: u64, key: &str) -> TestRng {
    let mut s = seed ^ fnv(key);
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&splitmix(&mut s).to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Runs `check` on cases of `strategy`; shrinks a failure.
fn drive<V: std::fmt::Debug + Clone>(
    strategy: BoxedStrategy<V>,
    opts: &Options,
    shrink_iters: u32,
    key: &str,
    check: &dyn Fn(&V) -> Result<Outcome, Failure>,
) -> (u64, Option<(V, Failure)>) {
    let config = Config {
        cases: opts.cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng_for(opts.seed, key));
    let mut widened = 0u64;
    let guarded = |v: &V| -> Result<Outcome, Failure> {
        catch_unwind(AssertUnwindSafe(|| check(v))).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(failure_note(
                format!("panic while checking: {msg}"),
                format!("{v:?}"),
            ))
        })
    };
    // A failure of the oracle means the case itself is out of bounds: it
    // does not count (and the minimal case must not become one).
    let fails = |v: &V| guarded(v).is_err_and(|f| !f.summary.starts_with("the oracle failed"));
    for _ in 0..opts.cases {
        let mut tree = match strategy.new_tree(&mut runner) {
            Ok(t) => t,
            Err(why) => panic!("conformance: cannot generate a case for {key}: {why}"),
        };
        let first = tree.current();
        match guarded(&first) {
            Ok(o) => widened += o.widened,
            Err(f) if f.summary.starts_with("the oracle failed") => {}
            Err(f) => {
                // proptest's shrinking: simplify while the case still
                // fails, complicate back when it passes.
                let mut last = first;
                let start = Instant::now();
                let mut steps = 0;
                if tree.simplify() {
                    while steps < shrink_iters && start.elapsed() < Duration::from_secs(10) {
                        steps += 1;
                        let v = tree.current();
                        if fails(&v) {
                            last = v;
                            if !tree.simplify() {
                                break;
                            }
                        } else if !tree.complicate() {
                            break;
                        }
                    }
                }
                return (widened, Some((last, f)));
            }
        }
    }
    (widened, None)
}

fn failure_note(summary: String, details: String) -> Failure {
    Failure {
        summary,
        kernel: String::new(),
        inputs: vec![],
        expected: vec![],
        found: vec![],
        tolerance: String::new(),
        details,
        seed: 0,
        replay: String::new(),
        saved: None,
    }
}

fn op_details(c: &OpCase) -> String {
    let ops: Vec<String> = c
        .operands
        .iter()
        .map(|o| {
            let chain: Vec<String> = o.view.iter().map(|s| s.to_string()).collect();
            format!(
                "{}{:?} from base {:?}{}",
                o.dtype(),
                o.shape,
                o.base(),
                if chain.is_empty() {
                    String::new()
                } else {
                    format!(" via {}", chain.join(" . "))
                }
            )
        })
        .collect();
    format!(
        "{} {} -> out {:?}{}; operands: {}",
        c.entry,
        c.dtype(),
        c.out,
        if c.entry.starts_with("reduce_") {
            format!(" rsize {}", c.rsize)
        } else {
            String::new()
        },
        ops.join("; ")
    )
}

/// Checks one saved or generated case on the backend.
pub fn check_case(dut: &Device, oracle: &Device, case: &Case) -> Result<Outcome, Failure> {
    match case {
        Case::Op(c) => {
            let kernel = c.kernel();
            let acc = c.entry().accuracy(c.dtype());
            judge::check(dut, oracle, &kernel, &c.inputs(), acc).map_err(|mut f| {
                f.details = op_details(c);
                f
            })
        }
        Case::Dag { case, .. } => {
            let kernel = case.kernel(&dut.info().caps);
            judge::check(dut, oracle, &kernel, &case.input_bytes(), Accuracy::Exact)
        }
        Case::Eager(c) => eager::check(dut, oracle, c),
        Case::Program(c) => crate::program::check(dut, oracle, c),
    }
}

/// Why a saved case cannot run on this backend, if it cannot.
fn case_unsupported(dut: &Device, case: &Case) -> Option<String> {
    let caps = &dut.info().caps;
    match case {
        Case::Op(c) => caps.check(&c.kernel()).err(),
        Case::Dag { case, .. } => caps.check(&case.kernel(caps)).err(),
        Case::Eager(c) => c
            .dtypes()
            .into_iter()
            .find(|d| !caps.supports_dtype(*d))
            .map(|d| format!("dtype {d} not declared")),
        Case::Program(c) => (c.mode != crate::program::ProgMode::GradFd
            && !caps.supports_dtype(c.mode.dtype()))
        .then(|| format!("dtype {} not declared", c.mode.dtype())),
    }
}

fn rerun_regressions(dut: &Device, oracle: &Device, dir: &Path) -> Vec<RegressionResult> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let name = file.display().to_string();
            let parsed = std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<Regression>(&t).map_err(|e| e.to_string()));
            match parsed {
                Err(e) => RegressionResult {
                    file: name,
                    entry: String::new(),
                    status: Status::Fail,
                    failure: Some(Failure {
                        summary: format!("unreadable regression file: {e}"),
                        kernel: String::new(),
                        inputs: vec![],
                        expected: vec![],
                        found: vec![],
                        tolerance: String::new(),
                        details: String::new(),
                        seed: 0,
                        replay: String::new(),
                        saved: None,
                    }),
                },
                Ok(r) => {
                    let entry = format!("{}/{}", r.entry, r.dtype);
                    if case_unsupported(dut, &r.case).is_some() {
                        return RegressionResult {
                            file: name,
                            entry,
                            status: Status::Unsupported,
                            failure: None,
                        };
                    }
                    match check_case(dut, oracle, &r.case) {
                        Ok(_) => RegressionResult {
                            file: name,
                            entry,
                            status: Status::Pass,
                            failure: None,
                        },
                        Err(mut f) => {
                            f.seed = r.seed;
                            f.replay = format!("(regression file) {}", file.display());
                            RegressionResult {
                                file: name,
                                entry,
                                status: Status::Fail,
                                failure: Some(f),
                            }
                        }
                    }
                }
            }
        })
        .collect()
}

fn save_regression(dir: &Path, reg: &Regression) -> Option<String> {
    let text = serde_json::to_string_pretty(reg).ok()?;
    let file = dir.join(format!(
        "{}-{}-{}-{:08x}.json",
        reg.layer,
        reg.entry.replace([':', '+', '/'], "_"),
        reg.dtype,
        fnv(&text) as u32
    ));
    std::fs::create_dir_all(dir).ok()?;
    std::fs::write(&file, text + "\n").ok()?;
    Some(file.display().to_string())
}

/// Runs the whole suite on `dut` against `oracle` (the embedded reference).
pub fn run(dut: &Device, oracle: &Device, opts: &Options) -> Report {
    let start = Instant::now();
    let info = dut.info();
    let sem = info.caps.semantics;
    let mut semantics = Vec::new();
    if sem.has(Semantics::NONFINITE_UNDEFINED) {
        semantics.push(
            "nonfinite_undefined: elements whose computation meets NaN/±Inf are not judged"
                .to_string(),
        );
    }
    if sem.has(Semantics::SUBNORMALS_FLUSHED) {
        semantics.push(
            "subnormals_flushed: elements whose computation meets a subnormal are not judged"
                .to_string(),
        );
    }
    let entries = plan(dut, opts);
    if opts.announce {
        let keys: Vec<String> = entries
            .iter()
            .map(|e| format!("{}/{}", e.op, e.dtype))
            .collect();
        println!("@@plan {}", keys.join(" "));
        if opts.regressions.is_some() {
            // A crash while replaying them is reported against this name.
            println!("@@entry regressions/saved");
        }
        let _ = std::io::stdout().flush();
    }
    let regressions = opts
        .regressions
        .as_deref()
        .map(|d| rerun_regressions(dut, oracle, d))
        .unwrap_or_default();
    let dtypes: Vec<DType> = DType::ALL
        .into_iter()
        .filter(|&d| info.caps.supports_dtype(d))
        .collect();
    let tty = opts.progress && std::io::stderr().is_terminal();
    let total = entries.len();
    let mut results = Vec::with_capacity(total);
    let mut failures = 0usize;
    for (n, e) in entries.into_iter().enumerate() {
        if opts.progress {
            progress(tty, n, total, &format!("{} {} {}", e.layer, e.op, e.dtype));
        }
        if opts.announce {
            println!("@@entry {}/{}", e.op, e.dtype);
            let _ = std::io::stdout().flush();
        }
        let mut r = EntryResult {
            layer: e.layer.into(),
            op: e.op.clone(),
            dtype: e.dtype.clone(),
            status: Status::Pass,
            cases: 0,
            widened: 0,
            note: String::new(),
            failure: None,
        };
        if let Some(why) = e.unsupported {
            r.status = Status::Unsupported;
            r.note = why;
            finish(&mut results, r, opts);
            continue;
        }
        let key = format!("{}/{}", e.op, e.dtype);
        let skipped = Cell::new(0u32);
        // The first failures get the full shrinking budget; a backend that
        // fails many entries has their later counterexamples shrunk briefly.
        let thorough = failures < THOROUGH_FAILURES;
        let shrink_iters = if thorough {
            opts.max_shrink_iters
        } else {
            opts.max_shrink_iters.min(60)
        };
        // A generated case using an op or dtype outside the capabilities
        // (index arithmetic, a cast target) is counted, not judged.
        let narrow = |case: &Case| -> Option<Result<Outcome, Failure>> {
            case_unsupported(dut, case).map(|_| {
                skipped.set(skipped.get() + 1);
                Ok(Outcome::default())
            })
        };
        let counted = |r: Result<Outcome, Failure>| {
            if r.as_ref().is_ok_and(|o| o.unsupported) {
                skipped.set(skipped.get() + 1);
            }
            r
        };
        let (widened, failed): (u64, Option<(Case, Failure)>) = match e.kind {
            Plan::Contract(check) => {
                // Run once (the checks draw their own values from the seed);
                // a failure has no case to shrink or save.
                r.cases = 1;
                if let Err(mut f) = crate::contract::run(dut, oracle, &check, opts.seed) {
                    failures += 1;
                    f.replay = format!("{} --seed {} --ops '{}'", opts.replay, opts.seed, e.op);
                    r.status = Status::Fail;
                    r.failure = Some(f);
                }
                finish(&mut results, r, opts);
                continue;
            }
            Plan::Ladder(rung) => {
                // Fixed sizes, values from the seed: run once, no shrinking.
                r.cases = 1;
                match crate::ladder::run(dut, &rung, opts.seed) {
                    Ok(o) if o.widened > 0 => {
                        r.widened = o.widened;
                        r.note = format!("{} elements widened by declared semantics", o.widened);
                    }
                    Ok(_) => {}
                    Err(mut f) => {
                        failures += 1;
                        f.replay = format!("{} --seed {} --ops '{key}'", opts.replay, opts.seed);
                        r.status = Status::Fail;
                        r.failure = Some(f);
                    }
                }
                finish(&mut results, r, opts);
                continue;
            }
            Plan::Model(model) => {
                // Fixed programs, inputs from the seed: run once, no
                // shrinking (the failure names the output and element).
                r.cases = 1;
                if let Err(mut f) = crate::model::run(dut, oracle, model, opts.seed) {
                    failures += 1;
                    f.replay = format!("{} --seed {} --ops '{key}'", opts.replay, opts.seed);
                    r.status = Status::Fail;
                    r.failure = Some(f);
                }
                finish(&mut results, r, opts);
                continue;
            }
            Plan::Op(entry, d) => {
                let (w, f) = drive(
                    op_case(&entry, d, &dtypes),
                    opts,
                    shrink_iters,
                    &key,
                    &|c: &OpCase| {
                        let case = Case::Op(c.clone());
                        narrow(&case).unwrap_or_else(|| counted(check_case(dut, oracle, &case)))
                    },
                );
                (w, f.map(|(c, f)| (Case::Op(c), f)))
            }
            Plan::Dag(reduce) => {
                let (w, f) = drive(
                    dag_case(dtypes.clone(), reduce, info.caps.max_inputs as usize),
                    opts,
                    shrink_iters,
                    &key,
                    &|c: &DagCase| {
                        let case = Case::Dag {
                            reduce,
                            case: c.clone(),
                        };
                        narrow(&case).unwrap_or_else(|| counted(check_case(dut, oracle, &case)))
                    },
                );
                (w, f.map(|(c, f)| (Case::Dag { reduce, case: c }, f)))
            }
            Plan::Eager(op, d, mode) => {
                let (w, f) = drive(
                    eager::strategy(op, d, mode),
                    opts,
                    shrink_iters,
                    &key,
                    &|c: &EagerCase| {
                        let case = Case::Eager(c.clone());
                        narrow(&case).unwrap_or_else(|| counted(check_case(dut, oracle, &case)))
                    },
                );
                (w, f.map(|(c, f)| (Case::Eager(c), f)))
            }
            Plan::Program(mode) => {
                let (w, f) = drive(
                    crate::program::strategy(mode),
                    opts,
                    shrink_iters,
                    &key,
                    &|c: &crate::program::ProgCase| {
                        let case = Case::Program(c.clone());
                        narrow(&case).unwrap_or_else(|| counted(check_case(dut, oracle, &case)))
                    },
                );
                (w, f.map(|(c, f)| (Case::Program(c), f)))
            }
        };
        r.cases = opts.cases;
        r.widened = widened;
        if widened > 0 {
            r.note = format!("{widened} elements widened by declared semantics");
        }
        if skipped.get() > 0 {
            let s = format!(
                "{} of {} cases used undeclared ops/dtypes",
                skipped.get(),
                opts.cases
            );
            r.note = if r.note.is_empty() {
                s
            } else {
                format!("{}; {s}", r.note)
            };
            if skipped.get() >= opts.cases {
                r.status = Status::Unsupported;
            }
        }
        if let Some((case, f)) = failed {
            // Finish shrinking on the case's own structure.
            let fails = |c: &Case| -> bool {
                case_unsupported(dut, c).is_none()
                    && catch_unwind(AssertUnwindSafe(|| check_case(dut, oracle, c))).is_ok_and(
                        |r| r.is_err_and(|f| !f.summary.starts_with("the oracle failed")),
                    )
            };
            let (budget, time) = if thorough { (2000, 5.0) } else { (150, 0.5) };
            let case = crate::shrink::minimize(case, &fails, budget, Duration::from_secs_f64(time));
            failures += 1;
            if !thorough {
                r.note = "shrunk briefly (many failures before it)".into();
            }
            let mut f = check_case(dut, oracle, &case).err().unwrap_or(f);
            recheck_fresh(opts, oracle, &case, &mut f);
            r.status = Status::Fail;
            f.seed = opts.seed;
            f.replay = format!(
                "{} --seed {} --cases {} --ops '{}'",
                opts.replay, opts.seed, opts.cases, key
            );
            if opts.save
                && let Some(dir) = &opts.regressions
            {
                let kernel = f.kernel.lines().map(str::to_string).collect();
                f.saved = save_regression(
                    dir,
                    &Regression {
                        layer: e.layer.into(),
                        entry: e.op.clone(),
                        dtype: e.dtype.clone(),
                        backend: info.name.to_string(),
                        seed: opts.seed,
                        case,
                        kernel,
                    },
                );
            }
            r.failure = Some(f);
        }
        finish(&mut results, r, opts);
    }
    if opts.progress {
        progress(tty, total, total, "done");
        if tty {
            eprintln!();
        }
    }
    Report {
        backend: info.name.to_string(),
        backend_version: info.version.to_string(),
        device: info.device.to_string(),
        library: dut.library().map(|p| p.display().to_string()),
        seed: opts.seed,
        cases: opts.cases,
        semantics,
        regressions,
        entries: results,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Reruns a failing case on a fresh backend instance (when the options can
/// make one): a case that passes there failed because of what the session
/// did before it (an executable cache keyed too weakly, a buffer reused
/// dirty), and the summary says so.
fn recheck_fresh(opts: &Options, oracle: &Device, case: &Case, f: &mut Failure) {
    let Some(fresh) = &opts.fresh else { return };
    let verdict = match (fresh.0)() {
        Ok(dev) => catch_unwind(AssertUnwindSafe(|| check_case(&dev, oracle, case))),
        Err(e) => {
            f.details = format!("{} (no fresh instance to recheck: {e})", f.details);
            return;
        }
    };
    if matches!(verdict, Ok(Ok(_))) {
        f.summary = format!(
            "{}: the shrunk case passes on a fresh backend instance\n{}",
            ONLY_WITH_HISTORY, f.summary
        );
    } else {
        f.details = format!("{} (reproduces on a fresh backend instance)", f.details);
    }
}

/// Records an entry's result (and, for a worker, reports it at once, so a
/// crash later in the run loses nothing).
fn finish(results: &mut Vec<EntryResult>, r: EntryResult, opts: &Options) {
    if opts.announce {
        println!(
            "@@result {}",
            serde_json::to_string(&r).expect("a result serialises")
        );
        let _ = std::io::stdout().flush();
    }
    results.push(r);
}

fn progress(tty: bool, n: usize, total: usize, what: &str) {
    let width = 30;
    let filled = (n * width).checked_div(total).unwrap_or(width);
    let bar = format!(
        "[{}{}] {n}/{total}",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    if tty {
        eprint!("\r{bar} {what:<40}");
        let _ = std::io::stderr().flush();
    } else if total > 0 && (n * 10 / total != (n.saturating_sub(1)) * 10 / total || n == total) {
        eprintln!("{bar} {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_patterns() {
        let p = Some("sin,reduce_*,add/i32,eager:*".to_string());
        assert!(selected(&p, "sin", "f32"));
        assert!(selected(&p, "reduce_max", "bool"));
        assert!(selected(&p, "add", "i32"));
        assert!(!selected(&p, "add", "f32"));
        assert!(selected(&p, "eager:add", "f32"));
        assert!(!selected(&p, "asin", "f32"));
        assert!(selected(&None, "x", "y"));
    }
}
