//! A perfectly valid shared library that is no oxjax plugin.

#[unsafe(no_mangle)]
pub extern "C" fn some_unrelated_function() -> u32 {
    42
}
