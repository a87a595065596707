//! Lists every configured device with its plugin, ABI version, backend,
//! capabilities and status, and why an unavailable one is unavailable.
//!
//! Run: `cargo xtask devices` (or `cargo run --example devices`).

fn main() {
    match oxjax::device_report() {
        Ok(report) => print!("{report}"),
        Err(e) => {
            eprintln!("oxjax: {e}");
            std::process::exit(1);
        }
    }
}
