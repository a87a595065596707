//! docs/jax-compat.md must be what `cargo xtask compat` generates from
//! docs/jax-api-names.txt and the current sources, so the table cannot
//! drift from the code. The generator itself is xtask/src/compat.rs.

#[path = "../../xtask/src/compat.rs"]
#[allow(dead_code)]
mod compat;

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn compat_table_is_current() {
    let want = compat::render(root()).unwrap_or_else(|e| panic!("{e}"));
    let path = root().join("docs/jax-compat.md");
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let diff: Vec<String> = have
            .lines()
            .zip(want.lines())
            .filter(|(a, b)| a != b)
            .take(10)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "{} is stale: run `cargo xtask compat` (first differing lines, {} vs {} lines):\n{}",
            path.display(),
            have.lines().count(),
            want.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn scanner_reads_free_functions_and_partial_notes() {
    let src = "/// Doc.\n/// Partial: no complex\n/// dtypes.\n///\n/// More.\npub fn real(x: &Array) -> Array {\n    x\n}\n\
               impl Foo {\n    pub fn sum(&self) {}\n}\n\
               unary! {\n    /// Alias.\n    pub fn asin => arcsin;\n}\n\
               macro_rules! cum {\n    ($($n:ident => $o:ident;)*) => {$(\n        pub fn $n() {}\n    )*};\n}\n\
               cum! {\n    /// Running sums.\n    cumsum => Sum;\n}\n\
               other! {\n    skipped => Sum;\n}\n\
               #[cfg(test)]\nmod tests {\n    pub fn hidden() {}\n}\n\
               pub(crate) fn private() {}\npub const fn zeros() {}\n";
    let found = compat::scan_source(src);
    let names: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(names, vec!["asin", "cumsum", "real", "zeros"]);
    assert_eq!(found["real"].partial.as_deref(), Some("no complex dtypes."));
    assert_eq!(found["asin"].partial, None);
    assert_eq!(compat::rust_name("PRNGKey"), "prng_key");
    assert_eq!(compat::rust_name("where"), "where_");
    assert_eq!(compat::rust_name("log_softmax"), "log_softmax");
}

/// The JAX name list is present and covers the tracked modules.
#[test]
fn name_list_covers_modules() {
    let text = std::fs::read_to_string(root().join("docs/jax-api-names.txt")).unwrap();
    for (m, _) in compat::MODULES {
        let n = text
            .lines()
            .filter(|l| l.split(' ').next() == Some(m))
            .count();
        assert!(n > 0, "docs/jax-api-names.txt lists nothing for {m}");
    }
}
