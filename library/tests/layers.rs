//! The library's architecture invariants (docs/architecture.md, "Layers"),
//! checked by scanning the sources' paths:
//!
//! - each library module imports only modules of a lower layer (`lax` is
//!   the bottom, on the engine's primitives; `numpy` builds on `lax`; …);
//! - the library reaches the engine only through the crate root (which
//!   re-exports `oxjax-core`'s public API, `primitive` included), never by
//!   naming `oxjax_core` outside `lib.rs`.
//!
//! That the engine never imports the library is Cargo's to enforce:
//! `oxjax-core` does not depend on `oxjax`.

use std::fs;
use std::path::{Path, PathBuf};

/// Library modules, bottom layer first. A module may use modules of a
/// strictly lower rank (and its own submodules through `super`/`self`).
const LAYERS: &[(&str, u32)] = &[
    ("lax", 0),
    ("numpy", 1),
    ("fft", 2),
    ("linalg", 3),
    ("nn", 4),
    ("random", 5),
    ("nn::initializers", 6),
    ("scipy", 6),
    ("optim", 7),
    ("interop", 7),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The layered module a path (`nn::initializers::foo`, `lax`) falls in:
/// the longest prefix named in [`LAYERS`].
fn layer_of(path: &str) -> Option<(&'static str, u32)> {
    LAYERS
        .iter()
        .filter(|(m, _)| path == *m || path.starts_with(&format!("{m}::")))
        .max_by_key(|(m, _)| m.len())
        .copied()
}

/// Code without comments (doc examples may use any layer).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` path the code names, with `crate::{a, b::c}` groups
/// expanded.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            out.extend(group[..end].split(',').map(|p| p.trim().to_string()));
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            out.push(rest[..end].trim_end_matches(':').to_string());
        }
    }
    out
}

/// Violations of the layer rule in the library sources under `src`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut bad = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap().with_extension("");
        let module = rel.to_string_lossy().replace('/', "::");
        if module == "lib" {
            continue;
        }
        let text = code(&fs::read_to_string(&f).unwrap());
        if text.contains("oxjax_core") {
            bad.push(format!(
                "{}: names oxjax_core (use the crate root)",
                f.display()
            ));
        }
        let Some((own, rank)) = layer_of(&module) else {
            bad.push(format!("{}: module {module} has no layer", f.display()));
            continue;
        };
        for p in crate_paths(&text) {
            if let Some((other, r)) = layer_of(&p)
                && other != own
                && r >= rank
            {
                bad.push(format!(
                    "{}: {own} (layer {rank}) uses crate::{p} ({other}, layer {r})",
                    f.display()
                ));
            }
        }
    }
    bad
}

#[test]
fn library_modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(bad.is_empty(), "layer violations:\n{}", bad.join("\n"));
}

#[test]
fn the_scan_sees_an_upward_import() {
    // The checker itself: an upward path, a grouped one and a commented one.
    let dir = std::env::temp_dir().join(format!("oxjax-layers-{}", std::process::id()));
    fs::create_dir_all(dir.join("lax")).unwrap();
    fs::write(dir.join("lax/bad.rs"), "fn f() { crate::numpy::sort(); }\n").unwrap();
    fs::write(dir.join("numpy.rs"), "use crate::{Array, lax, nn};\n").unwrap();
    fs::write(
        dir.join("nn.rs"),
        "// crate::optim::sgd in a comment is fine\n",
    )
    .unwrap();
    let bad = violations(&dir);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(
        bad.iter()
            .any(|b| b.contains("lax (layer 0) uses crate::numpy::sort"))
    );
    assert!(
        bad.iter()
            .any(|b| b.contains("numpy (layer 1) uses crate::nn"))
    );
}
