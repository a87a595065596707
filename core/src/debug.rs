//! Diagnostics on stderr, chosen by environment variables read once.
//!
//! `OXJAX_DEBUG=N` has levels, so a training loop stays readable:
//! - `1`: one line per program `jit` compiles (equations → kernels) and per
//!   kernel a device compiles (size, inputs, nodes) — compiles happen once
//!   per shape, so a loop prints its first step only;
//! - `2`: also every jaxpr and every kernel's IR text;
//! - `3`: also the code the backend generated for each kernel (WAT, WGSL).
//!
//! `OXJAX_LOG=info` says which `plugins.toml` was read and which device is
//! the default (see `device::registry`).

use std::sync::OnceLock;

/// The `OXJAX_DEBUG` level (0 when unset, `0` or empty; 1 for a value that
/// is not a number, such as `true`).
pub(crate) fn level() -> u8 {
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| match std::env::var("OXJAX_DEBUG") {
        Ok(v) if !v.is_empty() => v.trim().parse().unwrap_or(1),
        _ => 0,
    })
}

/// Whether `OXJAX_LOG` asks for informational messages (`info`, `debug`
/// or `trace`).
pub(crate) fn log_info() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("OXJAX_LOG")
            .is_ok_and(|v| matches!(v.to_lowercase().as_str(), "info" | "debug" | "trace"))
    })
}
