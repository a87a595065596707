//! Layering of the engine, checked on the source: a module may only use
//! the layers below it. `lower/` (the lowering) is shared by eager and jit;
//! eager evaluates primitives without knowing the trace, and jit plans
//! kernels with the lowering, not with eager's implementation.

use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without comments, one entry per line.
fn code_lines(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => l[..i].to_string(),
            None => l.to_string(),
        })
        .collect()
}

/// The crate modules that the files under `src/<layer>` name: every
/// `crate::<module>` path, and the members of `use crate::{...}` groups
/// (statements joined across lines). Each with the file and line.
fn uses(layer: &str) -> Vec<(String, String, usize)> {
    let mut found = Vec::new();
    let files = rust_files(&src().join(layer));
    assert!(!files.is_empty(), "no sources under src/{layer}");
    for file in files {
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        let lines = code_lines(&file);
        let mut group: Option<(String, usize)> = None;
        for (n, line) in lines.iter().enumerate() {
            let mut rest = line.as_str();
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let module: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !module.is_empty() {
                    found.push((module, name.clone(), n + 1));
                }
            }
            let t = line.trim_start();
            if t.starts_with("use crate::{") || t.starts_with("pub(crate) use crate::{") {
                group = Some((String::new(), n + 1));
            }
            if let Some((text, start)) = &mut group {
                text.push_str(line);
                if line.contains(';') {
                    let inner = &text[text.find('{').unwrap() + 1..];
                    // Top-level members: names at brace depth 0.
                    let mut depth = 0;
                    let mut word = String::new();
                    for c in inner.chars() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => {
                                if !word.is_empty() {
                                    found.push((std::mem::take(&mut word), name.clone(), *start));
                                }
                                break;
                            }
                            '}' => depth -= 1,
                            c if (c.is_alphanumeric() || c == '_') && depth == 0 => word.push(c),
                            // Every word of a member counts (`trace::prim::X`
                            // names `trace`, and `prim` and `X` harmlessly).
                            _ if !word.is_empty() => {
                                found.push((std::mem::take(&mut word), name.clone(), *start));
                            }
                            _ => {}
                        }
                    }
                    group = None;
                }
            }
        }
    }
    found
}

/// Fails naming each place where `layer` uses one of `forbidden`.
fn assert_layer(layer: &str, forbidden: &[&str]) {
    let bad: Vec<String> = uses(layer)
        .into_iter()
        .filter(|(m, _, _)| forbidden.contains(&m.as_str()))
        .map(|(m, file, line)| format!("src/{file}:{line} uses crate::{m}"))
        .collect();
    assert!(
        bad.is_empty(),
        "src/{layer} must not use {forbidden:?} (move the shared code to src/lower):\n{}",
        bad.join("\n")
    );
}

#[test]
fn eager_does_not_use_the_trace() {
    assert_layer("eager", &["trace", "jit"]);
}

#[test]
fn jit_does_not_use_eager() {
    assert_layer("jit", &["eager"]);
}

#[test]
fn the_lowering_uses_neither_eager_nor_jit_nor_the_trace() {
    assert_layer("lower", &["eager", "jit", "trace", "array"]);
}

/// The scanner itself finds the forms a violation can take.
#[test]
fn the_scan_sees_paths_and_groups() {
    let lines = uses("jit");
    assert!(
        lines.iter().any(|(m, _, _)| m == "trace"),
        "jit uses the trace, and the scan must see it"
    );
    assert!(
        lines.iter().any(|(m, _, _)| m == "lower"),
        "jit uses the lowering, and the scan must see it"
    );
}
