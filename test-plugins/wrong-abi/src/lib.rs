//! A library that claims a future oxjax plugin ABI major version: the host
//! must refuse it from the version symbol alone, before trusting any layout.

#[unsafe(no_mangle)]
pub extern "C" fn oxjax_plugin_abi_version() -> u64 {
    oxjax_abi::AbiVersion {
        major: oxjax_abi::ABI_VERSION.major + 98,
        minor: 0,
    }
    .packed()
}
