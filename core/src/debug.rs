//! `OXJAX_DEBUG=1` prints every compiled kernel (IR text) and the code its
//! backend generated for it, on stderr.

use std::sync::OnceLock;

pub(crate) fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("OXJAX_DEBUG").is_ok_and(|v| !v.is_empty() && v != "0"))
}
