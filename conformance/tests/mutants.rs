//! Deliberately wrong backends (the `oxjax-conformance-mutants` plugin, one
//! bug per `mutation` option) must each be caught by the default budget,
//! with a shrunk counterexample; the same plugin without a bug must pass.
//!
//! The plugin library comes from `cargo xtask build-plugins` (or
//! `cargo build -p oxjax-conformance-mutants`).

use oxjax_conformance::{Options, Report, Status, model, run};
use oxjax_core::{Device, Registry};
use std::path::PathBuf;

fn library() -> PathBuf {
    // The test binary lives in <target>/debug/deps.
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/debug");
    let lib = dir.join(format!(
        "{}oxjax_conformance_mutants{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(
        lib.exists(),
        "{} is missing: run `cargo xtask build-plugins` (or `cargo build -p oxjax-conformance-mutants`)",
        lib.display()
    );
    lib
}

fn mutant(options: &str) -> (Device, Device) {
    let doc = format!(
        "[plugins.mutant]\npath = {:?}\noptions = {{ {options} }}\n",
        library().display().to_string()
    );
    let reg = Registry::from_toml(&doc, &std::env::temp_dir().join("plugins.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    (
        reg.device("mutant").unwrap(),
        reg.device("embedded").unwrap(),
    )
}

/// The default budget, without regressions or saving.
fn certify(mutation: &str) -> Report {
    let (dut, oracle) = mutant(&format!("mutation = {mutation:?}"));
    let opts = Options {
        replay: format!(
            "cargo xtask conformance --plugin <mutants> --options 'mutation = \"{mutation}\"'"
        ),
        ..Options::default()
    };
    run(&dut, &oracle, &opts)
}

/// Asserts the report fails `op` (on one of `dtypes`) in the kernel layer
/// with a small counterexample that names the op and how to replay it.
fn assert_caught(mutation: &str, op: &str, dtypes: &[&str]) {
    let r = certify(mutation);
    assert!(!r.passed(), "mutation {mutation} was not caught");
    let failed: Vec<_> = r
        .entries
        .iter()
        .filter(|e| e.status == Status::Fail && e.layer == "kernel" && e.op == op)
        .filter(|e| dtypes.contains(&e.dtype.as_str()))
        .collect();
    assert!(
        !failed.is_empty(),
        "mutation {mutation}: no kernel-layer failure of {op} on {dtypes:?}; failures: {:?}",
        r.entries
            .iter()
            .filter(|e| e.status == Status::Fail)
            .map(|e| format!("{}/{}", e.op, e.dtype))
            .collect::<Vec<_>>()
    );
    for e in failed {
        let f = e.failure.as_ref().expect("a failure");
        let text = f.to_string();
        let nodes = f
            .kernel
            .lines()
            .filter(|l| l.trim_start().starts_with('%'))
            .count();
        assert!(f.kernel.contains(&format!("= {op} ")), "{text}");
        assert!(
            nodes <= 24,
            "counterexample not shrunk ({nodes} nodes):\n{text}"
        );
        let elements: usize = f
            .inputs
            .iter()
            .filter_map(|i| {
                i.split_once('[')?
                    .1
                    .split_once(']')?
                    .0
                    .parse::<usize>()
                    .ok()
            })
            .sum();
        assert!(
            elements <= 64,
            "inputs not shrunk ({elements} elements):\n{text}"
        );
        assert!(
            f.replay.contains(&format!("--ops '{op}/{}'", e.dtype)),
            "{text}"
        );
        assert!(
            text.contains("reference") && text.contains("backend"),
            "{text}"
        );
    }
}

#[test]
fn the_unmutated_interpreter_passes() {
    let r = certify("none");
    let failures: Vec<String> = r
        .entries
        .iter()
        .filter_map(|e| e.failure.as_ref().map(|f| f.to_string()))
        .collect();
    assert!(r.passed(), "{}", failures.join("\n\n"));
    // The template's interpreter declares no bf16, i8 or u8.
    let narrow = |d: &str| ["bf16", "i8", "u8"].contains(&d);
    assert!(
        r.entries
            .iter()
            .all(|e| e.status == Status::Pass
                || (e.status == Status::Unsupported && narrow(&e.dtype)))
    );
}

#[test]
fn logical_shift_is_caught() {
    assert_caught("shr_logical", "shr", &["i32"]);
}

#[test]
fn remainder_with_the_divisors_sign_is_caught() {
    assert_caught("rem_divisor_sign", "rem", &["i32", "f32", "f64"]);
}

#[test]
fn inaccurate_sin_is_caught() {
    assert_caught("sin_inaccurate", "sin", &["f32", "f64"]);
}

#[test]
fn wrong_broadcast_load_is_caught() {
    assert_caught(
        "broadcast_load",
        "add",
        &["i32", "u32", "f16", "f32", "f64"],
    );
}

#[test]
fn max_dropping_nan_is_caught() {
    assert_caught("max_drops_nan", "max", &["f16", "f32", "f64"]);
}

#[test]
fn declared_nonfinite_semantics_widen_visibly() {
    let (dut, oracle) = mutant("mutation = \"max_drops_nan\", nonfinite_undefined = true");
    let opts = Options {
        ops: Some("max,eager:maximum".into()),
        ..Options::default()
    };
    let r = run(&dut, &oracle, &opts);
    assert!(r.passed(), "{}", oxjax_conformance::report::render(&r));
    let widened: u64 = r.entries.iter().map(|e| e.widened).sum();
    assert!(widened > 0, "no element was widened");
    let text = oxjax_conformance::report::render(&r);
    assert!(
        text.contains("ok~") && text.contains("nonfinite_undefined"),
        "{text}"
    );
}

#[test]
fn failures_are_saved_and_rerun_first() {
    let dir = std::env::temp_dir().join(format!("oxjax-regressions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (bad, oracle) = mutant("mutation = \"shr_logical\"");
    let opts = Options {
        ops: Some("shr/i32".into()),
        regressions: Some(dir.clone()),
        save: true,
        ..Options::default()
    };
    let r = run(&bad, &oracle, &opts);
    assert!(!r.passed());
    let saved = r.entries[0].failure.as_ref().unwrap().saved.clone();
    let file = PathBuf::from(saved.expect("the failure was saved"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("\"entry\": \"shr\"") && text.contains("= shr "),
        "{text}"
    );

    // Rerun first, even when no entry is selected.
    let rerun = Options {
        ops: Some("no-such-op".into()),
        regressions: Some(dir.clone()),
        ..Options::default()
    };
    let r = run(&bad, &oracle, &rerun);
    assert!(r.entries.is_empty());
    assert_eq!(r.regressions.len(), 1);
    assert_eq!(r.regressions[0].status, Status::Fail);
    assert!(!r.passed());
    let (good, oracle) = mutant("mutation = \"none\"");
    let r = run(&good, &oracle, &rerun);
    assert_eq!(r.regressions[0].status, Status::Pass);
    assert!(r.passed());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn undeclared_ops_and_dtypes_are_reported_unsupported() {
    let (dut, oracle) = mutant("limited = true");
    let opts = Options {
        ops: Some("sin,add,eager:sin,dag".into()),
        ..Options::default()
    };
    let r = run(&dut, &oracle, &opts);
    assert!(r.passed(), "{}", oxjax_conformance::report::render(&r));
    let status = |op: &str, dtype: &str| {
        let e = r
            .entries
            .iter()
            .find(|e| e.op == op && e.dtype == dtype)
            .unwrap();
        (e.status, e.note.clone())
    };
    assert_eq!(
        status("sin", "f32"),
        (Status::Unsupported, "op sin not declared".into())
    );
    assert_eq!(
        status("add", "f64"),
        (Status::Unsupported, "dtype f64 not declared".into())
    );
    assert_eq!(status("add", "f32").0, Status::Pass);
    assert_eq!(status("eager:sin", "f64").0, Status::Unsupported);
    assert_eq!(status("dag", "mixed").0, Status::Pass);
    let text = oxjax_conformance::report::render(&r);
    assert!(
        text.contains("unsup") && text.contains("unsupported (dtype f64 not declared)"),
        "{text}"
    );
}

/// The contract layer alone on a mutant: which `contract:` entries fail.
fn contract_failures(mutation: &str) -> Vec<String> {
    let (dut, oracle) = mutant(&format!("mutation = {mutation:?}"));
    let opts = Options {
        ops: Some("contract:*".into()),
        ..Options::default()
    };
    let r = run(&dut, &oracle, &opts);
    assert_eq!(r.entries.len(), oxjax_conformance::contract::checks().len());
    r.entries
        .iter()
        .filter(|e| e.status == Status::Fail)
        .map(|e| {
            let f = e.failure.as_ref().expect("a failure report");
            assert!(
                f.replay.contains(&format!("--ops '{}'", e.op)),
                "{}",
                f.replay
            );
            e.op.clone()
        })
        .collect()
}

/// Each class of contract bug is caught by the check written for it.
#[test]
fn contract_bugs_are_caught_by_their_checks() {
    let cases = [
        ("dirty_alloc", "contract:free_reuse"),
        ("offset_ignored", "contract:offsets"),
        ("weak_cache", "contract:many_kernels"),
        ("big_wrap", "contract:large_outputs"),
        ("tail_drop", "contract:long_reductions"),
        ("argsort_unstable", "contract:routines"),
        ("softmax_unshifted", "contract:routines"),
        ("racy_execute", "contract:threads"),
        ("loop_stale", "contract:loops"),
    ];
    for (mutation, check) in cases {
        let failed = contract_failures(mutation);
        assert!(
            failed.iter().any(|f| f == check),
            "mutation {mutation}: {check} did not fail (failed: {failed:?})"
        );
    }
    assert_eq!(contract_failures("none"), Vec::<String>::new());
}

/// The failing entries of a report, as `op/dtype`.
fn failed_entries(r: &Report) -> Vec<String> {
    r.entries
        .iter()
        .filter(|e| e.status == Status::Fail)
        .map(|e| format!("{}/{}", e.op, e.dtype))
        .collect()
}

#[test]
fn naive_tanh_near_zero_is_caught() {
    assert_caught("naive_tanh", "tanh", &["f32", "f64"]);
}

/// A `-0` result turned into `+0` by an op judged in ULP (which used to
/// count ±0 as equal) fails some entry of those ops.
#[test]
fn a_lost_signed_zero_is_caught() {
    let r = certify("lost_sign_zero");
    let failed = failed_entries(&r);
    let ops = [
        "sin", "tan", "sinh", "tanh", "asin", "atan", "erf", "expm1", "log1p",
    ];
    assert!(
        failed.iter().any(|f| ops
            .iter()
            .any(|op| f.starts_with(&format!("{op}/")) || f.starts_with(&format!("eager:{op}/")))),
        "lost_sign_zero not caught: {failed:?}"
    );
    let f = r
        .entries
        .iter()
        .find_map(|e| e.failure.as_ref())
        .expect("a failure");
    assert!(f.to_string().contains("-0"), "{f}");
}

/// A backend that flushes subnormals passes when it declares it (the
/// widened elements counted and the report marking them) and fails when
/// it does not, in every layer.
#[test]
fn flushed_subnormals_pass_only_when_declared() {
    let r = certify("flush_declared");
    let text = oxjax_conformance::report::render(&r);
    assert!(r.passed(), "{}", text);
    let widened: u64 = r.entries.iter().map(|e| e.widened).sum();
    assert!(widened > 0, "no element was widened");
    assert!(
        text.contains("ok~") && text.contains("subnormals_flushed"),
        "{text}"
    );
    let r = certify("flush_undeclared");
    let failed = failed_entries(&r);
    assert!(!r.passed(), "flush_undeclared passed");
    for layer in ["kernel", "eager"] {
        assert!(
            r.entries
                .iter()
                .any(|e| e.layer == layer && e.status == Status::Fail),
            "no {layer}-layer failure: {failed:?}"
        );
    }
}

/// The kernel layer's size ladder catches a dispatch that wraps past
/// 2^20 outputs and a reduction that drops its tail.
#[test]
fn the_size_ladder_catches_wraps_and_tails() {
    for (mutation, entry) in [
        ("big_wrap", "ladder:add/f32"),
        ("tail_drop", "ladder:reduce_add/f32"),
    ] {
        let (dut, oracle) = mutant(&format!("mutation = {mutation:?}"));
        let opts = Options {
            ops: Some("ladder:*".into()),
            ..Options::default()
        };
        let r = run(&dut, &oracle, &opts);
        let failed = failed_entries(&r);
        assert!(
            failed.iter().any(|f| f == entry),
            "{mutation}: {entry} did not fail ({failed:?})"
        );
        let f = r.entries.iter().find_map(|e| e.failure.as_ref()).unwrap();
        assert!(f.replay.contains("--ops 'ladder:"), "{f}");
    }
    let (dut, oracle) = mutant("mutation = \"none\"");
    let opts = Options {
        ops: Some("ladder:*".into()),
        ..Options::default()
    };
    assert!(run(&dut, &oracle, &opts).passed());
}

/// A cache keyed too weakly makes innocent cases fail after a long
/// session; rechecked on a fresh instance they pass, and the report says
/// the failure reproduces only with history.
#[test]
fn a_weak_cache_reproduces_only_with_history() {
    let (dut, oracle) = mutant("mutation = \"weak_cache\"");
    let opts = Options {
        ops: Some("add,mul,sub,neg,abs,dag*".into()),
        fresh: Some(oxjax_conformance::Fresh(std::sync::Arc::new(|| {
            Ok(mutant("mutation = \"weak_cache\"").0)
        }))),
        ..Options::default()
    };
    let r = run(&dut, &oracle, &opts);
    let texts: Vec<String> = r
        .entries
        .iter()
        .filter_map(|e| e.failure.as_ref().map(|f| f.to_string()))
        .collect();
    assert!(!texts.is_empty(), "weak_cache not caught");
    assert!(
        texts
            .iter()
            .any(|t| t.contains(oxjax_conformance::runner::ONLY_WITH_HISTORY)),
        "{}",
        texts.join("\n\n")
    );
}

/// Random programs under jit find an inaccurate op too, and the failure
/// shows the program and its jaxpr.
#[test]
fn program_layer_failures_print_the_jaxpr() {
    let (dut, oracle) = mutant("mutation = \"sin_inaccurate\"");
    let opts = Options {
        ops: Some("program:*".into()),
        ..Options::default()
    };
    let r = run(&dut, &oracle, &opts);
    let failed = failed_entries(&r);
    assert_eq!(failed, vec!["program:jit/f32".to_string()], "{failed:?}");
    let f = r.entries.iter().find_map(|e| e.failure.as_ref()).unwrap();
    let text = f.to_string();
    assert!(
        text.contains("jaxpr:") && text.contains("sin") && text.contains("f(x, y)"),
        "{text}"
    );
    assert!(f.replay.contains("--ops 'program:jit/f32'"), "{text}");
}

/// The model layer runs whole jitted programs under the declared limits:
/// with `max_inputs = 8`, and 3 (an elementwise `select` needs that many)
/// both models pass, and the limit matters — the transformer's backward
/// pass fuses into wider kernels where nothing limits it, and the planner
/// splits them (sibling column sums included) to the limit here.
#[test]
fn real_programs_pass_under_a_declared_max_inputs() {
    let inputs = model::block_inputs(1);
    let widest = |device: &Device| {
        oxjax_core::with_default_device(device, || {
            let program = oxjax_core::lower(model::block_train, &inputs);
            program.kernels().iter().map(|k| k.inputs.len()).max()
        })
        .unwrap()
    };
    for limit in [8, 3] {
        let (dut, oracle) = mutant(&format!("max_inputs = {limit}"));
        assert_eq!(dut.info().caps.max_inputs, limit);
        let (unlimited, limited) = (widest(&oracle), widest(&dut));
        assert!(
            unlimited > 8,
            "the widest kernel binds only {unlimited} inputs"
        );
        assert!(limited <= limit as usize, "a kernel binds {limited} inputs");
        let opts = Options {
            ops: Some("model:*".into()),
            ..Options::default()
        };
        let r = run(&dut, &oracle, &opts);
        let names: Vec<_> = r.entries.iter().map(|e| e.op.as_str()).collect();
        assert_eq!(names, ["model:mlp_step", "model:transformer_block"]);
        let failures: Vec<String> = r
            .entries
            .iter()
            .filter_map(|e| e.failure.as_ref().map(|f| f.to_string()))
            .collect();
        assert!(r.passed(), "max_inputs {limit}:\n{}", failures.join("\n\n"));
    }
}

/// A wrong op inside the models is caught, and the failure names the
/// output, the program, the declared limit and how to replay it.
#[test]
fn the_model_layer_catches_a_wrong_op() {
    let (dut, oracle) = mutant("mutation = \"broadcast_load\", max_inputs = 8");
    let opts = Options {
        ops: Some("model:*".into()),
        ..Options::default()
    };
    let r = run(&dut, &oracle, &opts);
    let failed = failed_entries(&r);
    assert_eq!(
        failed,
        ["model:mlp_step/f32", "model:transformer_block/f32"],
        "a broadcast operand read as tiled breaks both models"
    );
    let f = r.entries.iter().find_map(|e| e.failure.as_ref()).unwrap();
    let text = f.to_string();
    assert!(
        text.contains("loss[0]: element 0") && text.contains("max_inputs 8"),
        "{text}"
    );
    assert!(f.replay.contains("--ops 'model:"), "{text}");
}
