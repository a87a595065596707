//! The plugin's exported surface: a plain version symbol and the abi_stable
//! root module.
//!
//! The host reads [`VERSION_SYMBOL`] with a plain `dlsym` *before* abi_stable
//! touches the library, so a library from another major version, or one that
//! is no oxjax plugin, is refused in one line. Only then does it check the
//! root module's layout with abi_stable and call `create`.

use crate::{BackendError, BackendObj};
use abi_stable::StableAbi;
use abi_stable::library::RootModule;
use abi_stable::package_version_strings;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RStr};
use std::fmt;

/// Our own ABI version. Major: incompatible change. Minor: appended ops,
/// dtypes, routines or trait methods; a host loads plugins of its own major
/// version built against [`OLDEST_LOADABLE`] or a newer minor.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Debug)]
pub struct AbiVersion {
    pub major: u32,
    pub minor: u32,
}

/// The ABI version this crate defines. 1.4 appended the trait method
/// `execute_loop` and the type `Launch`; 1.3 the dtypes bf16, i8 and u8.
pub const ABI_VERSION: AbiVersion = AbiVersion { major: 1, minor: 4 };

/// The oldest plugin ABI this host still loads. 1.4 appended a trait
/// method, and abi_stable's layout check refuses a plugin whose vtable is
/// shorter than the host's ("too many fields"), so plugins older than 1.4
/// are refused by version first, with a rebuild hint. (1.3 had only
/// appended dtypes, and loaded 1.2 plugins.)
pub const OLDEST_LOADABLE: AbiVersion = AbiVersion { major: 1, minor: 4 };

impl AbiVersion {
    /// `major << 32 | minor`, the value of [`VERSION_SYMBOL`].
    pub const fn packed(self) -> u64 {
        ((self.major as u64) << 32) | self.minor as u64
    }

    pub const fn unpack(v: u64) -> AbiVersion {
        AbiVersion {
            major: (v >> 32) as u32,
            minor: v as u32,
        }
    }
}

impl fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Name of the `extern "C" fn() -> u64` every plugin exports, returning
/// [`AbiVersion::packed`].
pub const VERSION_SYMBOL: &str = "oxjax_plugin_abi_version";

/// The root module a plugin exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    pub abi_version: AbiVersion,
    /// Creates a backend instance from its options, a TOML document (the
    /// plugin's `options` table in `plugins.toml`; empty when none).
    #[sabi(last_prefix_field)]
    pub create: extern "C" fn(options: RStr<'_>) -> RResult<BackendObj, BackendError>,
}

impl RootModule for PluginModuleRef {
    abi_stable::declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "oxjax_backend";
    const NAME: &'static str = "oxjax_backend";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// Calls a backend constructor behind a panic guard (used by the export macro).
pub fn create_with<B: crate::Backend>(
    options: &str,
    ctor: fn(&str) -> Result<B, BackendError>,
) -> RResult<BackendObj, BackendError> {
    crate::backend::guard("create", || ctor(options).map(crate::into_object))
}

/// Exports a backend from a `cdylib` crate:
///
/// ```ignore
/// fn new(options: &str) -> Result<MyBackend, oxjax_abi::BackendError> { ... }
/// oxjax_abi::export_backend!(new);
/// ```
///
/// This defines the version symbol and the abi_stable root module. The
/// plugin crate needs no dependency but `oxjax-abi`.
#[macro_export]
macro_rules! export_backend {
    ($ctor:expr) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn oxjax_plugin_abi_version() -> u64 {
            $crate::ABI_VERSION.packed()
        }

        extern "C" fn __oxjax_create(
            options: $crate::__private::RStr<'_>,
        ) -> $crate::__private::RResult<$crate::BackendObj, $crate::BackendError> {
            $crate::create_with(options.as_str(), $ctor)
        }

        fn __oxjax_root_module() -> $crate::PluginModuleRef {
            use $crate::__private::PrefixTypeTrait;
            $crate::PluginModule {
                abi_version: $crate::ABI_VERSION,
                create: __oxjax_create,
            }
            .leak_into_prefix()
        }

        #[doc(hidden)]
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static __OXJAX_LIB_HEADER: $crate::__private::LibHeader = {
            extern "C" fn erased() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(__oxjax_root_module)
            }
            // SAFETY: `erased` returns the PluginModuleRef built above.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::PluginModuleRef>(
                    erased,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}
