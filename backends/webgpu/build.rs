//! Both this crate and the reference backend (the tests' oracle) export the
//! plugin entry symbols (`export_backend!`); a test binary links both rlibs,
//! so let the linker keep one copy of each. Only test targets are affected,
//! and the symbols are never looked up there.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os == "freebsd" {
        println!("cargo:rustc-link-arg-tests=-Wl,--allow-multiple-definition");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
