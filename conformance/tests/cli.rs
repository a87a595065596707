//! The `oxjax-conformance` binary: exit status, matrix, JSON and the
//! replay line.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oxjax-conformance"))
}

fn target_debug() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf()
}

fn empty_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("oxjax-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_reference_plugin_passes_and_writes_json() {
    let dir = empty_dir("pass");
    let json = dir.join("report.json");
    let out = bin()
        .args([
            "--backend",
            "reference",
            "--cases",
            "3",
            "--ops",
            "sin,reduce_add/f32,dag",
        ])
        .arg("--regressions")
        .arg(&dir)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("kernel layer") && stdout.contains("PASSED"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["backend"], "reference");
    let entries = report["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 6, "sin x4, reduce_add/f32, dag");
    assert!(entries.iter().all(|e| e["status"] == "pass"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_plugin_fails_with_a_replay_command() {
    let dir = empty_dir("fail");
    let lib = target_debug().join(format!(
        "{}oxjax_conformance_mutants{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(
        lib.exists(),
        "{} is missing: run `cargo xtask build-plugins`",
        lib.display()
    );
    let out = bin()
        .arg("--plugin")
        .arg(&lib)
        .args([
            "--options",
            "mutation = \"shr_logical\"",
            "--ops",
            "shr",
            "--no-save",
            "--quiet",
        ])
        .arg("--regressions")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED kernel shr i32 (shrunk)"),
        "{stdout}"
    );
    assert!(stdout.contains("= shr %1 %2 : i32"), "{stdout}");
    assert!(
        stdout.contains("--seed 0 --cases 16 --ops 'shr/i32'"),
        "{stdout}"
    );
    assert!(
        std::fs::read_dir(&dir).unwrap().next().is_none(),
        "--no-save wrote a file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_exit_2() {
    let out = bin().arg("--frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["--backend", "no-such-device"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-device"));
}

#[test]
fn a_pattern_that_selects_nothing_is_an_error_with_near_matches() {
    let out = bin()
        .args(["--backend", "reference", "--ops", "sinn", "--no-save"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--ops 'sinn' selects no entry") && stderr.contains("sin/f32"),
        "{stderr}"
    );
}

fn mutants_library() -> PathBuf {
    target_debug().join(format!(
        "{}oxjax_conformance_mutants{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// A plugin that aborts, segfaults or hangs fails that entry — naming the
/// signal or the timeout and the kernel that was running — and the rest of
/// the suite still runs and writes its report.
#[test]
fn a_crashing_or_hanging_plugin_fails_one_entry_and_the_run_goes_on() {
    let cases = [
        ("abort_cos", "cos/f32", "signal 6 (SIGABRT)"),
        ("segfault_tan", "tan/f32", "signal 11 (SIGSEGV)"),
        ("hang_sin", "sin/f32", "did not finish within 2 s"),
    ];
    for (mutation, entry, why) in cases {
        let dir = empty_dir(mutation);
        let json = dir.join("report.json");
        let out = bin()
            .arg("--plugin")
            .arg(mutants_library())
            .args(["--options", &format!("mutation = \"{mutation}\"")])
            .args(["--ops", &format!("{entry},add/f32,neg/i32")])
            .args(["--timeout", "2", "--quiet", "--no-save"])
            .arg("--regressions")
            .arg(&dir)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{mutation}:\n{stdout}");
        assert!(stdout.contains(why), "{mutation}: no {why:?} in\n{stdout}");
        // The kernel that was running is shown, and the other entries ran.
        let op = entry.split('/').next().unwrap();
        assert!(
            stdout.contains(&format!("= {op} ")),
            "{mutation}:\n{stdout}"
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let status = |op: &str, dtype: &str| {
            report["entries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["op"] == op && e["dtype"] == dtype)
                .map(|e| e["status"].as_str().unwrap().to_string())
        };
        assert_eq!(status(op, "f32").as_deref(), Some("fail"), "{mutation}");
        assert_eq!(status("add", "f32").as_deref(), Some("pass"), "{mutation}");
        assert_eq!(status("neg", "i32").as_deref(), Some("pass"), "{mutation}");
    }
}
