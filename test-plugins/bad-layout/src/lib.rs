//! A library that reports the right oxjax ABI version but whose root module
//! has another layout (as a plugin built from a modified oxjax-abi would):
//! abi_stable's layout check must refuse it, and the host must summarise
//! that in a few lines.
#![allow(non_local_definitions)]

use abi_stable::StableAbi;
use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RStr;

#[unsafe(no_mangle)]
pub extern "C" fn oxjax_plugin_abi_version() -> u64 {
    oxjax_abi::ABI_VERSION.packed()
}

#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct AbiVersion {
    pub major: u32,
    pub minor: u32,
}

/// Same name as the real root module, different fields.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    pub abi_version: AbiVersion,
    pub surprise: u64,
    #[sabi(last_prefix_field)]
    pub create: extern "C" fn(options: RStr<'_>) -> u32,
}

impl RootModule for PluginModuleRef {
    abi_stable::declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "oxjax_backend";
    const NAME: &'static str = "oxjax_backend";
    const VERSION_STRINGS: VersionStrings = abi_stable::package_version_strings!();
}

extern "C" fn create(_: RStr<'_>) -> u32 {
    0
}

#[abi_stable::export_root_module]
fn root() -> PluginModuleRef {
    PluginModule {
        abi_version: AbiVersion { major: 1, minor: 0 },
        surprise: 7,
        create,
    }
    .leak_into_prefix()
}
