//! The JAX compatibility table (`docs/jax-compat.md`), generated from data:
//! the JAX names in `docs/jax-api-names.txt` (written by
//! `docs/jax_api_names.py` from an installed JAX) and a scan of oxjax's
//! sources for the free `pub fn`s of each module. A function whose doc
//! comment has a line starting `Partial:` is listed as partial with that
//! reason; `docs/jax-compat-notes.md` (hand-written: the differential
//! suite's known disagreements) goes before the tables. `cargo xtask
//! compat` writes the file; library/tests/jax_compat.rs
//! fails when it is stale. Std only, so the test can include this file.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// JAX module → the oxjax module answering it.
pub const MODULES: &[(&str, &str)] = &[
    ("jax.numpy", "numpy"),
    ("jax.numpy.linalg", "linalg"),
    ("jax.numpy.fft", "fft"),
    ("jax.nn", "nn"),
    ("jax.nn.initializers", "nn::initializers"),
    ("jax.lax", "lax"),
    ("jax.random", "random"),
    ("jax.example_libraries.optimizers", "optim"),
    ("jax.scipy.special", "scipy::special"),
];

/// Rust keywords a JAX name may collide with; oxjax appends `_`.
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A free public function found in the sources: its note if partial.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub partial: Option<String>,
}

/// Engine files whose functions a library module re-exports (`lax`'s
/// structured control flow lives in `oxjax-core`).
const REEXPORTED: &[(&str, &str)] = &[("lax", "core/src/control.rs")];

/// The source files of an oxjax module (`a::b` → `library/src/a/b.rs` and
/// everything under `library/src/a/b/`, plus what it re-exports from the
/// engine), leaving out files of other tracked submodules.
fn module_files(root: &Path, module: &str) -> Vec<PathBuf> {
    let base = root.join("library/src").join(module.replace("::", "/"));
    let mut files: Vec<PathBuf> = REEXPORTED
        .iter()
        .filter(|(m, _)| *m == module)
        .map(|(_, f)| root.join(f))
        .collect();
    let file = base.with_extension("rs");
    if file.is_file() {
        files.push(file);
    }
    collect(&base, &mut files);
    let others: Vec<PathBuf> = MODULES
        .iter()
        .filter(|(_, m)| m.len() > module.len() && m.starts_with(&format!("{module}::")))
        .map(|(_, m)| root.join("library/src").join(m.replace("::", "/")))
        .collect();
    files.retain(|f| {
        !others
            .iter()
            .any(|o| f.starts_with(o) || *f == o.with_extension("rs"))
    });
    files.sort();
    files
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The macros of a source file whose expansion defines a `pub fn $name`:
/// their invocations list generated functions as `name => ...;` lines.
fn fn_macros(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("macro_rules! ") {
            current = Some(rest.trim_end_matches(['{', ' ']).to_string());
        } else if line == "}" {
            current = None;
        } else if let Some(m) = &current
            && line.trim_start().starts_with("pub fn $")
        {
            out.push(m.clone());
            current = None;
        }
    }
    out
}

/// Free `pub fn`s of one source file (including the functions that
/// macro invocations generate, `pub fn name => ...` or `name => ...`
/// lines), skipping `impl`/`trait` blocks and test modules, which start at
/// column 0 and end at a `}` in column 0.
pub fn scan_source(text: &str) -> BTreeMap<String, Found> {
    let mut out = BTreeMap::new();
    let mut skipping = false;
    let mut docs: Vec<&str> = Vec::new();
    let mut cfg_test = false;
    let macros = fn_macros(text);
    // Inside an invocation of one of `macros`.
    let mut generating = false;
    for line in text.lines() {
        if skipping {
            if line == "}" {
                skipping = false;
            }
            continue;
        }
        let t = line.trim_start();
        let top = !line.starts_with(' ');
        if top {
            generating = macros
                .iter()
                .any(|m| t.starts_with(&format!("{m}! {{")) || t.starts_with(&format!("{m}!{{")));
        }
        if top
            && (t.starts_with("impl")
                || t.starts_with("trait")
                || t.starts_with("pub trait")
                || (cfg_test && t.starts_with("mod ")))
        {
            skipping = !t.ends_with('}') && !t.ends_with(';');
            docs.clear();
            cfg_test = false;
            continue;
        }
        if top && t.starts_with("#[cfg(test)]") {
            cfg_test = true;
            continue;
        }
        if let Some(d) = t.strip_prefix("///") {
            docs.push(d.trim());
            continue;
        }
        if t.starts_with("#[") {
            continue;
        }
        let rest = t.strip_prefix("pub ").map(|r| {
            ["const ", "unsafe ", "async "]
                .iter()
                .fold(r, |r, q| r.strip_prefix(q).unwrap_or(r))
        });
        // `name => ...;` inside an invocation reads as `fn name`.
        let bare = (generating && rest.is_none() && t.contains(" =>")).then_some(t);
        if let Some(rest) = rest.and_then(|r| r.strip_prefix("fn ")).or(bare) {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                // The `Partial:` paragraph, up to the next blank doc line.
                let partial = docs
                    .iter()
                    .position(|d| d.starts_with("Partial:"))
                    .map(|i| {
                        let mut words = vec![docs[i]["Partial:".len()..].trim()];
                        words.extend(docs[i + 1..].iter().take_while(|d| !d.is_empty()));
                        words.join(" ")
                    });
                out.insert(name, Found { partial });
            }
        }
        docs.clear();
        cfg_test = false;
    }
    out
}

/// Every free public function of an oxjax module.
pub fn scan_module(root: &Path, module: &str) -> BTreeMap<String, Found> {
    let mut all = BTreeMap::new();
    for f in module_files(root, module) {
        let text = fs::read_to_string(&f).unwrap_or_default();
        all.extend(scan_source(&text));
    }
    all
}

/// `PRNGKey` → `prng_key`; keywords get a trailing underscore.
pub fn rust_name(jax: &str) -> String {
    let chars: Vec<char> = jax.chars().collect();
    let mut s = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower = i > 0 && chars[i - 1].is_lowercase();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                s.push('_');
            }
            s.extend(c.to_lowercase());
        } else {
            s.push(c);
        }
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// The whole markdown page.
pub fn render(root: &Path) -> Result<String, String> {
    let names_file = root.join("docs/jax-api-names.txt");
    let names = fs::read_to_string(&names_file)
        .map_err(|e| format!("cannot read {}: {e}", names_file.display()))?;
    let version = names
        .lines()
        .find_map(|l| l.strip_prefix("# generated by docs/jax_api_names.py from "))
        .unwrap_or("jax")
        .to_string();
    let mut by_module: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in names
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (m, n) = line
            .split_once(' ')
            .ok_or_else(|| format!("malformed line in jax-api-names.txt: {line:?}"))?;
        by_module.entry(m).or_default().push(n);
    }
    // Hand-written notes (the differential suite's known disagreements),
    // placed before the tables.
    let notes = fs::read_to_string(root.join("docs/jax-compat-notes.md"))
        .map(|t| format!("{}\n\n", t.trim_end()))
        .unwrap_or_default();
    let mut summary = String::new();
    let mut tables = String::new();
    for &(jax_mod, ox_mod) in MODULES {
        let names = by_module.get(jax_mod).cloned().unwrap_or_default();
        let found = scan_module(root, ox_mod);
        let (mut full, mut part) = (0, 0);
        let mut rows = String::new();
        for n in &names {
            let r = rust_name(n);
            let (path, status) = match found.get(&r) {
                Some(Found { partial: None }) => {
                    full += 1;
                    (format!("`oxjax::{ox_mod}::{r}`"), "supported".to_string())
                }
                Some(Found { partial: Some(why) }) => {
                    part += 1;
                    let why = why.replace('|', "\\|");
                    (format!("`oxjax::{ox_mod}::{r}`"), format!("partial: {why}"))
                }
                None => (String::new(), "missing".to_string()),
            };
            rows.push_str(&format!("| `{jax_mod}.{n}` | {path} | {status} |\n"));
        }
        let total = names.len();
        let pct = |k: usize| {
            if total == 0 {
                0.0
            } else {
                100.0 * k as f64 / total as f64
            }
        };
        summary.push_str(&format!(
            "| `{jax_mod}` | `oxjax::{ox_mod}` | {full} | {part} | {} | {total} | {:.0}% |\n",
            total - full - part,
            pct(full + part)
        ));
        tables.push_str(&format!(
            "\n## `{jax_mod}` → `oxjax::{ox_mod}`\n\n| JAX | oxjax | status |\n|---|---|---|\n{rows}"
        ));
    }
    Ok(format!(
        "# JAX compatibility\n\n\
         Generated by `cargo xtask compat` from `docs/jax-api-names.txt` (the public\n\
         functions of {version}, listed by `docs/jax_api_names.py`) and a scan of\n\
         oxjax's sources for free `pub fn`s. Do not edit: a test fails when this page is\n\
         stale. A JAX name maps to the same Rust name (`PRNGKey` → `prng_key`; Rust\n\
         keywords get a trailing `_`, e.g. `where_`). \"partial\" quotes the function's\n\
         `Partial:` doc line.\n\n\
         Deliberate differences in values, beyond this table: JAX on CPU flushes\n\
         subnormal floats to zero, oxjax keeps them (`sigmoid(-88.0)` is 0 in JAX,\n\
         6.1e-39 here); where JAX's own result is several ulps from the truth\n\
         (`lgamma` near its zeros, `var` with a large offset) oxjax may differ by\n\
         those ulps. `library/tests/jax_agreement.rs` replays JAX's outputs at the edge\n\
         cases oxjax once got wrong (`library/tests/fixtures/make_jax_edges.py`).\n\n\
         {notes}\
         | JAX module | oxjax module | supported | partial | missing | total | covered |\n\
         |---|---|---|---|---|---|---|\n{summary}{tables}"
    ))
}
