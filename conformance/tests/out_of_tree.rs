//! The backend author's path, as the docs tell it, outside this repository:
//! `cargo xtask new-backend` copies the template to a temporary folder, the
//! copy builds there with the dependency the tool wrote, a `plugins.toml`
//! points at it, real jitted programs (an MLP training step, a
//! transformer-like block and its gradient) run on it under a declared
//! `max_inputs = 8` and match the reference, and the conformance tool
//! certifies it from that folder — twice through `cargo xtask conformance`,
//! neither call rebuilding anything after a workspace build.
//!
//! The copy builds in `<target>/out-of-tree` (kept, so only the first run
//! pays for abi_stable).

use oxjax_conformance::model::{self, Model};
use oxjax_core::Registry;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder of this test binary, `<target>/<profile>/deps`.
fn exe_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("<target>/debug/deps").to_path_buf()
}

/// The workspace's target dir.
fn target_dir() -> PathBuf {
    exe_dir()
        .ancestors()
        .nth(2)
        .expect("<target>/debug/deps")
        .to_path_buf()
}

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(dir);
    // Not the outer test run's settings: the author's own build.
    for var in ["CARGO_TARGET_DIR", "CARGO_MANIFEST_DIR", "CARGO_PKG_NAME"] {
        c.env_remove(var);
    }
    c
}

fn ok(what: &str, out: Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

// It runs cargo on the workspace (xtask, the plugins, the conformance
// binary) while `cargo test` holds the build; `cargo xtask test` runs it
// after the workspace's tests (`--ignored`).
#[test]
#[ignore = "run by `cargo xtask test` after the workspace tests"]
fn a_backend_made_from_the_template_outside_the_repository_runs_and_certifies() {
    let home = std::env::temp_dir().join(format!("oxjax-out-of-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let krate = home.join("my-backend");

    // 1. The tool makes the crate; it builds there, on its own.
    ok(
        "cargo xtask new-backend",
        cargo(&checkout())
            .args([
                "run",
                "--quiet",
                "-p",
                "xtask",
                "--",
                "new-backend",
                "my-backend",
            ])
            .arg(&krate)
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .unwrap(),
    );
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("name = \"my-backend\"") && !manifest.contains("../../core/abi"),
        "{manifest}"
    );
    let build_dir = target_dir().join("out-of-tree");
    ok(
        "cargo build of the copy",
        cargo(&krate)
            .arg("build")
            .env("CARGO_TARGET_DIR", &build_dir)
            .output()
            .unwrap(),
    );
    let lib = build_dir.join("debug").join(format!(
        "{}my_backend{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(lib.is_file(), "{} was not built", lib.display());

    // 2. A plugins.toml of the author's own, with a tight input limit.
    let plugins = krate.join("plugins.toml");
    std::fs::write(
        &plugins,
        format!(
            "default = \"mine\"\n[plugins.mine]\npath = {:?}\noptions = {{ max_inputs = 8 }}\n",
            lib.display().to_string()
        ),
    )
    .unwrap();
    let reg = Registry::from_file(&plugins).unwrap_or_else(|e| panic!("{e}"));
    let mine = reg.try_default_device().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mine.name(), "mine");
    assert_eq!(mine.info().caps.max_inputs, 8);

    // 3. Real jitted programs (conformance's model layer: an MLP training
    // step, a transformer block and its gradient) run under the limit and
    // match the reference.
    let embedded = reg.device("embedded").unwrap();
    for m in Model::ALL {
        if let Err(f) = model::run(&mine, &embedded, m, 7) {
            panic!("{} on max_inputs = 8:\n{f}", m.name());
        }
    }

    // 4. Certified from the author's folder: the installed-tool way (the
    // binary itself), through OXJAX_PLUGINS, then `cargo xtask conformance`
    // twice; the second call compiles nothing.
    let quick = [
        "--cases",
        "2",
        "--ops",
        "add,sin,reduce_add,contract:many_inputs",
    ];
    ok(
        "oxjax-conformance --plugin",
        Command::new(env!("CARGO_BIN_EXE_oxjax-conformance"))
            .current_dir(&krate)
            .arg("--plugin")
            .arg(&lib)
            .args(["--options", "max_inputs = 8", "--quiet", "--no-save"])
            .args(quick)
            .output()
            .unwrap(),
    );
    ok(
        "oxjax-conformance --backend mine (OXJAX_PLUGINS)",
        Command::new(env!("CARGO_BIN_EXE_oxjax-conformance"))
            .current_dir(&home)
            .env("OXJAX_PLUGINS", &plugins)
            .args(["--backend", "mine", "--quiet", "--no-save"])
            .args(quick)
            .output()
            .unwrap(),
    );
    // A failure of a plugin outside the checkout is saved in the author's
    // crate (`conformance-regressions/`), not in ours: a deliberately wrong
    // backend (the mutants fixture, copied into the crate) shows it.
    let mutants = target_dir().join("debug").join(format!(
        "{}oxjax_conformance_mutants{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let wrong = krate.join("lib").join(mutants.file_name().unwrap());
    std::fs::create_dir_all(wrong.parent().unwrap()).unwrap();
    std::fs::copy(&mutants, &wrong).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (cargo build -p oxjax-conformance-mutants)",
            mutants.display()
        )
    });
    let out = Command::new(env!("CARGO_BIN_EXE_oxjax-conformance"))
        .current_dir(&home)
        .arg("--plugin")
        .arg(&wrong)
        .args(["--options", "mutation = \"shr_logical\"", "--quiet"])
        .args(["--cases", "16", "--ops", "shr/i32", "--in-process"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the wrong shift passed");
    let saved: Vec<_> = std::fs::read_dir(krate.join("conformance-regressions"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(
        saved.len(),
        1,
        "one regression saved in the author's crate; output:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let xtask = |what: &str| {
        let start = std::time::Instant::now();
        let text = ok(
            what,
            cargo(&krate)
                .args(["run", "--quiet", "--manifest-path"])
                .arg(checkout().join("Cargo.toml"))
                .args(["-p", "xtask", "--", "conformance", "--plugin"])
                .arg(&lib)
                .args(["--quiet", "--no-save", "--cases", "1", "--ops", "add"])
                .env("CARGO_TARGET_DIR", target_dir())
                // Says why, should anything be rebuilt.
                .env("CARGO_LOG", "cargo::core::compiler::fingerprint=info")
                .output()
                .unwrap(),
        );
        (text, start.elapsed())
    };
    // Builds stay built: after the workspace build (a no-op when `cargo
    // xtask test` runs this), xtask's selection (plugins and the
    // conformance binary) compiles nothing, nor does a second call. No unit
    // compiles and cargo's fingerprint log (CARGO_LOG above) finds nothing
    // dirty. (A release test run builds these debug units first, so only
    // the second call is judged there.)
    let debug = target_dir().join("debug").join("deps") == exe_dir();
    if debug {
        ok(
            "cargo build --workspace --all-targets",
            cargo(&checkout())
                .args(["build", "--workspace", "--all-targets"])
                .env("CARGO_TARGET_DIR", target_dir())
                .output()
                .unwrap(),
        );
    }
    let rebuilt = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.trim_start().starts_with("Compiling ") || l.contains("fingerprint dirty"))
            .map(str::to_string)
            .collect()
    };
    if debug {
        // The README's claim: a plain `cargo` selection after the workspace
        // build compiles nothing either.
        let example = ok(
            "cargo build -p oxjax --example train_mlp",
            cargo(&checkout())
                .args(["build", "-p", "oxjax", "--example", "train_mlp"])
                .env("CARGO_TARGET_DIR", target_dir())
                .env("CARGO_LOG", "cargo::core::compiler::fingerprint=info")
                .output()
                .unwrap(),
        );
        assert!(
            rebuilt(&example).is_empty(),
            "the example rebuilt after the workspace build: a dependency's features \
             differ between the two selections; add them to workspace-hack/Cargo.toml \
             (docs/architecture.md, \"Builds\"):\n{}",
            rebuilt(&example).join("\n")
        );
    }
    let (first, took) = xtask("cargo xtask conformance (first)");
    assert!(
        !debug || rebuilt(&first).is_empty(),
        "after the workspace build, xtask's selection rebuilt ({took:?}; see \
         workspace-hack/Cargo.toml):\n{}\n\nfull output:\n{first}",
        rebuilt(&first).join("\n")
    );
    let (second, took) = xtask("cargo xtask conformance (second)");
    assert!(
        rebuilt(&second).is_empty(),
        "the second call rebuilt ({took:?}):\n{}\n\nfull output:\n{second}",
        rebuilt(&second).join("\n")
    );
    eprintln!("second `cargo xtask conformance`: {took:?}");
    let _ = std::fs::remove_dir_all(&home);
}
