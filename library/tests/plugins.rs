//! Loading plugins from plugins.toml, and every loader error, asserted.

mod common;

use common::{library, toml_path, write_config};
use oxjax::abi::ABI_VERSION;
use oxjax::{Array, ErrorKind, Registry, with_default_device};

/// The error of reading a config and starting every device it names
/// (devices start lazily, so loader errors appear on first use).
fn err_text(r: oxjax::Result<Registry>) -> String {
    match r.and_then(|reg| reg.try_devices().map(|_| reg)) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_same_plugin_twice_gives_two_devices_and_arrays_move_between_them() {
    let lib = library("oxjax-backend-reference");
    let cfg = write_config(
        "twice",
        &format!(
            "default = \"b\"\n[plugins.a]\npath = {0}\n[plugins.b]\npath = {0}\n",
            toml_path(&lib)
        ),
    );
    let reg = Registry::from_file(&cfg).unwrap();
    let (a, b) = (reg.device("a").unwrap(), reg.device("b").unwrap());
    assert!(!a.same(&b), "two names must give two devices");
    assert_eq!(reg.default_device(), b);
    assert_eq!(a.library(), Some(lib.as_path()));
    assert_eq!(a.info().name.as_str(), "reference");

    let x = with_default_device(&a, || Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]));
    assert_eq!(x.device(), a);
    let y = x.device_put(&b);
    assert_eq!(y.device(), b);
    let z = &y * 2.0;
    assert_eq!(z.device(), b);
    assert_eq!(z.to_vec::<f32>(), vec![2.0, 4.0, 6.0]);
    // A view moves as its elements.
    let back = z.slice(&[(1..3).into()]).device_put(&a);
    assert_eq!(back.to_vec::<f32>(), vec![4.0, 6.0]);
    // Mixing devices in one op is refused with both names.
    let e = std::panic::catch_unwind(|| &x + &y).unwrap_err();
    let msg = e.downcast_ref::<String>().unwrap();
    assert!(msg.contains("different devices ('a' and 'b')"), "{msg}");
}

#[test]
fn embedded_device_is_always_there() {
    let reg = Registry::embedded();
    assert_eq!(reg.default_device().name(), "embedded");
    assert!(reg.default_device().library().is_none());
}

#[test]
fn bad_toml_names_file_line_and_key() {
    let cfg = write_config("badtoml", "default = \"x\"\n[plugins.x]\npath = 3\n");
    let msg = err_text(Registry::from_file(&cfg));
    assert!(msg.contains(&cfg.display().to_string()), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");
    assert!(msg.contains("path"), "{msg}");

    let cfg = write_config("unknownkey", "[plugins.x]\npath = \"p\"\nthreads = 4\n");
    let msg = err_text(Registry::from_file(&cfg));
    assert!(msg.contains("line 3") && msg.contains("threads"), "{msg}");

    let cfg = write_config("syntax", "default = \n");
    let msg = err_text(Registry::from_file(&cfg));
    assert!(msg.contains("line 1"), "{msg}");
}

#[test]
fn unknown_device_lists_the_known_ones() {
    let lib = library("oxjax-backend-reference");
    let cfg = write_config(
        "unknown",
        &format!("[plugins.ref]\npath = {}\n", toml_path(&lib)),
    );
    let reg = Registry::from_file(&cfg).unwrap();
    let e = reg.device("gpu").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let msg = e.to_string();
    assert!(
        msg.contains("unknown device 'gpu'") && msg.contains("known devices: embedded, ref"),
        "{msg}"
    );

    let cfg = write_config("baddefault", "default = \"nope\"\n");
    let msg = err_text(Registry::from_file(&cfg));
    assert!(msg.contains("default = \"nope\" names no plugin"), "{msg}");
}

#[test]
fn missing_library_names_the_path_and_the_build_command() {
    let cfg = write_config(
        "missing",
        "[plugins.wasm]\npath = \"nowhere/oxjax_backend_wasm\"\n",
    );
    let msg = err_text(Registry::from_file(&cfg));
    let expected = cfg.parent().unwrap().join("nowhere").join(format!(
        "{}oxjax_backend_wasm{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(msg.contains(&expected.display().to_string()), "{msg}");
    assert!(msg.contains("cargo xtask build-plugins"), "{msg}");
    assert!(msg.contains("plugin 'wasm'"), "{msg}");
}

#[test]
fn another_abi_major_version_is_refused_in_one_line() {
    let lib = library("oxjax-test-plugin-wrong-abi");
    let cfg = write_config(
        "wrongabi",
        &format!("[plugins.old]\npath = {}\n", toml_path(&lib)),
    );
    let msg = err_text(Registry::from_file(&cfg));
    assert!(msg.contains(&lib.display().to_string()), "{msg}");
    assert!(msg.contains("built for oxjax plugin ABI 99.0"), "{msg}");
    assert!(
        msg.contains(&format!("this oxjax uses ABI {ABI_VERSION}")),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1, "{msg}");
}

#[test]
fn a_changed_layout_is_summarised_in_a_few_lines() {
    let lib = library("oxjax-test-plugin-bad-layout");
    let cfg = write_config(
        "badlayout",
        &format!("[plugins.bad]\npath = {}\n", toml_path(&lib)),
    );
    let msg = err_text(Registry::from_file(&cfg));
    assert!(msg.contains(&lib.display().to_string()), "{msg}");
    assert!(
        msg.contains(&format!(
            "declares ABI {ABI_VERSION} (this oxjax uses ABI {ABI_VERSION})"
        )),
        "{msg}"
    );
    assert!(msg.contains("interface layout differs"), "{msg}");
    eprintln!("{msg}");
    assert!(
        msg.lines().count() <= 8,
        "too long ({} lines):\n{msg}",
        msg.lines().count()
    );
}

#[test]
fn a_library_that_is_no_plugin_is_refused() {
    let lib = library("oxjax-test-plugin-not-a-plugin");
    let cfg = write_config(
        "notplugin",
        &format!("[plugins.x]\npath = {}\n", toml_path(&lib)),
    );
    let msg = err_text(Registry::from_file(&cfg));
    assert!(msg.contains("is not an oxjax plugin"), "{msg}");
    assert!(msg.contains("oxjax_plugin_abi_version"), "{msg}");

    let cfg = write_config("junk", "[plugins.x]\npath = \"junk.so\"\n");
    std::fs::write(
        cfg.parent().unwrap().join("junk.so"),
        b"this is not a library",
    )
    .unwrap();
    let msg = err_text(Registry::from_file(&cfg));
    assert!(
        msg.contains("cannot load plugin") && msg.contains("junk.so"),
        "{msg}"
    );
    // The dynamic loader's own reason is kept, not just "dlopen failed".
    assert!(!msg.ends_with("dlopen failed"), "{msg}");
    assert!(msg.contains("junk.so:"), "{msg}");
}

#[test]
fn a_directory_and_a_versioned_library_path_are_reported_as_they_are() {
    let cfg = write_config(
        "dirpath",
        "[plugins.x]
path = \"adir\"\n",
    );
    std::fs::create_dir_all(cfg.parent().unwrap().join("adir")).unwrap();
    // A name without a dot gets the platform's naming; make that a folder.
    let named = cfg.parent().unwrap().join(format!(
        "{}adir{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    std::fs::create_dir_all(&named).unwrap();
    let msg = err_text(Registry::from_file(&cfg));
    assert!(msg.contains("is a directory"), "{msg}");

    let cfg = write_config(
        "versioned",
        "[plugins.x]\npath = \"/nonexistent/libz.so.1\"\n",
    );
    let msg = err_text(Registry::from_file(&cfg));
    assert!(msg.contains("/nonexistent/libz.so.1 not found"), "{msg}");
}

/// One good, one missing, one wrong-ABI and one failing-to-start plugin:
/// the good devices work, each bad one keeps its own error, the report
/// lists every status, and a preference list falls back in order.
#[test]
fn a_broken_plugin_leaves_the_other_devices_working() {
    let good = library("oxjax-backend-reference");
    let wrong = library("oxjax-test-plugin-wrong-abi");
    let plugins = format!(
        "[plugins.good]\npath = {g}\n\
         [plugins.missing]\npath = \"nowhere/oxjax_backend_x\"\n\
         [plugins.old]\npath = {w}\n\
         [plugins.nostart]\npath = {g}\noptions = {{ bogus = 1 }}\n",
        g = toml_path(&good),
        w = toml_path(&wrong)
    );
    let cfg = write_config("mixed", &format!("default = \"good\"\n{plugins}"));
    let reg = Registry::from_file(&cfg).unwrap();
    let dev = reg.default_device();
    let x = with_default_device(&dev, || Array::from_vec(vec![1.0f32, 2.0], &[2]));
    assert_eq!((&x + &x).to_vec::<f32>(), vec![2.0, 4.0]);
    let e = reg.device("nostart").unwrap_err().to_string();
    assert!(
        e.contains("plugin 'nostart'") && e.contains("failed to start"),
        "{e}"
    );
    assert!(
        reg.device("missing")
            .unwrap_err()
            .to_string()
            .contains("not found")
    );
    // Working devices are listed; the report names every one with its status.
    let names: Vec<String> = reg.devices().iter().map(|d| d.name().to_string()).collect();
    assert_eq!(names, ["embedded", "good"]);
    let report = reg.report();
    let status: Vec<(String, oxjax::device::Status)> = report
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.status))
        .collect();
    use oxjax::device::Status::*;
    let want = [
        ("embedded", Ok),
        ("good", Ok),
        ("missing", NotFound),
        ("nostart", FailedToStart),
        ("old", FailedToLoad),
    ];
    for (name, st) in want {
        assert!(
            status.contains(&(name.to_string(), st)),
            "{name}: {status:?}"
        );
    }
    let text = report.to_string();
    for needle in [
        "default device: good",
        "good (default): ok",
        "missing: not found",
        "cargo xtask build-plugins",
        "old: failed to load",
        "abi:      99.0",
        "nostart: failed to start",
        "backend:  reference",
        "routines: sort argsort",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }

    // A single default that cannot start is an error naming the fix.
    let cfg = write_config("baddefault1", &format!("default = \"nostart\"\n{plugins}"));
    let reg = Registry::from_file(&cfg).unwrap();
    let e = reg.try_default_device().unwrap_err().to_string();
    assert!(
        e.contains("default device is unavailable") && e.contains("OXJAX_DEVICE"),
        "{e}"
    );
    // A preference list falls back to the first device that starts, and says why.
    let cfg = write_config(
        "preference",
        &format!("default = [\"missing\", \"old\", \"good\"]\n{plugins}"),
    );
    let reg = Registry::from_file(&cfg).unwrap();
    let (dev, why) = reg.default_choice().unwrap();
    assert_eq!(dev.name(), "good");
    assert!(
        why.contains("skipped") && why.contains("'missing'") && why.contains("'old'"),
        "{why}"
    );
}

#[test]
fn a_panicking_plugin_returns_an_error_and_the_host_keeps_working() {
    let lib = library("oxjax-test-plugin-panicking");
    let cfg = write_config(
        "panicking",
        &format!("[plugins.p]\npath = {}\n", toml_path(&lib)),
    );
    let reg = Registry::from_file(&cfg).unwrap();
    let p = reg.device("p").unwrap();
    let x = with_default_device(&p, || Array::from_vec(vec![1i32, 2, 3], &[3]));

    let caught = std::panic::catch_unwind(|| &x + &x).unwrap_err();
    let msg = caught.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("panic: backend panicked in compile: deliberate panic compiling a kernel"),
        "{msg}"
    );
    // The plugin still answers, and the rest of the host is unaffected.
    assert_eq!(x.to_vec::<i32>(), vec![1, 2, 3]);
    let e = reg.device("embedded").unwrap();
    let y = with_default_device(&e, || Array::from_vec(vec![1i32, 2, 3], &[3]));
    assert_eq!((&y + &y).to_vec::<i32>(), vec![2, 4, 6]);
}

#[test]
fn options_reach_the_plugin() {
    // The reference backend takes no options and says so, naming the text.
    let lib = library("oxjax-backend-reference");
    let cfg = write_config(
        "options",
        &format!(
            "[plugins.r]\npath = {}\noptions = {{ threads = 4 }}\n",
            toml_path(&lib)
        ),
    );
    let msg = err_text(Registry::from_file(&cfg));
    assert!(
        msg.contains("plugin 'r'")
            && msg.contains("failed to start")
            && msg.contains("threads = 4"),
        "{msg}"
    );
}

/// A plugin that never returns from `execute`: with `watchdog_ms` set the
/// call becomes an error naming the kernel, the device stays failed, and
/// the other devices keep working.
#[test]
fn a_hanging_plugin_under_a_watchdog_is_an_error_naming_the_kernel() {
    let lib = library("oxjax-test-plugin-panicking");
    let cfg = write_config(
        "hanging",
        &format!(
            "[plugins.h]\npath = {}\nwatchdog_ms = 300\noptions = {{ hang = true }}\n",
            toml_path(&lib)
        ),
    );
    let reg = Registry::from_file(&cfg).unwrap();
    let h = reg.device("h").unwrap();
    let x = with_default_device(&h, || Array::from_vec(vec![1i32, 2, 3], &[3]));
    let started = std::time::Instant::now();
    let caught = std::panic::catch_unwind(|| &x + &x).unwrap_err();
    let msg = caught.downcast_ref::<String>().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        msg.contains("device 'h': the plugin's execute did not return within 300 ms"),
        "{msg}"
    );
    assert!(msg.contains("kernel size=3"), "{msg}");
    // Later calls fail at once with the same reason.
    let started = std::time::Instant::now();
    let e = x.try_to_vec::<i32>().unwrap_err().to_string();
    assert!(e.contains("did not return within 300 ms"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_millis(250));
    // Another device is unaffected.
    let e = reg.device("embedded").unwrap();
    let y = with_default_device(&e, || Array::from_vec(vec![1i32, 2, 3], &[3]));
    assert_eq!((&y + &y).to_vec::<i32>(), vec![2, 4, 6]);
}

/// Under a watchdog a `fori_loop` on bound buffers makes its launches one
/// call each (so the deadline stays per kernel), with the same result and
/// launch count as the one `execute_loop` call of a device without one.
#[test]
fn a_loop_under_a_watchdog_launches_kernel_by_kernel_with_the_same_result() {
    let lib = library("oxjax-backend-reference");
    let cfg = write_config(
        "loop_watchdog",
        &format!(
            "[plugins.plain]\npath = {0}\n[plugins.watched]\npath = {0}\nwatchdog_ms = 60000\n",
            toml_path(&lib)
        ),
    );
    let reg = Registry::from_file(&cfg).unwrap();
    let run = |name: &str| {
        let dev = reg.device(name).unwrap();
        with_default_device(&dev, || {
            let f = oxjax::jit(|v: &Array| {
                oxjax::lax::fori_loop(
                    0,
                    7,
                    |i, v: &Array| v * 0.5 + i.astype(oxjax::DType::F32),
                    v,
                )
            });
            let v = Array::from_vec(vec![1.0f32, -2.0, 3.5], &[3]);
            let before = dev.kernel_launches();
            let out = f(&v).to_vec::<f32>();
            (out, dev.kernel_launches() - before)
        })
    };
    let (plain, watched) = (run("plain"), run("watched"));
    assert_eq!(plain, watched);
    let mut want = vec![1.0f32, -2.0, 3.5];
    for i in 0..7 {
        want.iter_mut().for_each(|x| *x = *x * 0.5 + i as f32);
    }
    assert_eq!(plain.0, want);
}
