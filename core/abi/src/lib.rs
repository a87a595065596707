//! # oxjax-abi — the stable plugin ABI of oxjax
//!
//! The only crate a backend links against. It defines:
//! - [`DType`] and host [`Scalar`]s;
//! - the kernel IR ([`Kernel`], [`Node`], [`Op`], [`ReduceOp`]) with its
//!   text form and validator, and [`KernelBuilder`];
//! - [`analysis`]: the kernel analyses backends share (phases, dependence,
//!   affine index forms, matmul recognition);
//! - [`Routine`] descriptors for whole operations (sort, scans, linalg, FFT);
//! - the [`Backend`] trait a plugin implements, its FFI-safe form
//!   [`PluginBackend`], [`Capabilities`] and [`BackendError`];
//! - the plugin root module with our own [`ABI_VERSION`] and
//!   [`export_backend!`] to export a backend in one line.
//!
//! Every abi_stable type stays inside this crate: replacing that dependency
//! would touch nothing else.

// `#[sabi_trait]` expands to impls that trip this lint.
#![allow(non_local_definitions)]

pub mod analysis;
mod backend;
mod dtype;
mod kernel;
mod op;
mod plugin;
mod routine;
mod simplify;

pub use analysis::Phase;
pub use backend::{
    Backend, BackendError, BackendInfo, BackendObj, BufferId, Capabilities, ErrorKind,
    ExecutableId, Guarded, Launch, PluginBackend, PluginBackend_TO, Semantics, into_object,
    launch_by_launch,
};
pub use dtype::{DType, Scalar, bf16, bf16_from_f64, f16, f16_from_f64};
pub use kernel::{FastHasher, FastMap, Kernel, KernelBuilder, NO_ARG, Node, Reduction, Val};
pub use op::{Domain, OPS, Op, OpInfo, ReduceOp, ResultType};
pub use plugin::{
    ABI_VERSION, AbiVersion, OLDEST_LOADABLE, PluginModule, PluginModuleRef, VERSION_SYMBOL,
    create_with,
};
pub use routine::{Routine, RoutineKind, TensorDesc};

/// Re-exports for the host's loader and for [`export_backend!`]; not API.
#[doc(hidden)]
pub mod __private {
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, LibraryError, RootModule,
        RootModuleResult, lib_header_from_path,
    };
    pub use abi_stable::prefix_type::PrefixTypeTrait;
    pub use abi_stable::std_types::{RResult, RSlice, RStr, RString, RVec};

    /// The symbol abi_stable looks up; checked against abi_stable in a test.
    pub const ROOT_MODULE_LOADER: &str = abi_stable::library::ROOT_MODULE_LOADER_NAME;
}

#[cfg(test)]
mod tests {
    /// `export_backend!` spells abi_stable's mangled loader symbol by hand
    /// (so plugins need no direct abi_stable dependency); keep it in step.
    #[test]
    fn export_macro_uses_abi_stables_loader_symbol() {
        let src = include_str!("plugin.rs");
        let needle = format!("export_name = \"{}\"", super::__private::ROOT_MODULE_LOADER);
        assert!(src.contains(&needle), "plugin.rs must export {needle}");
    }
}

/// Every Rust snippet of `docs/backend-authors.md`, compiled (and run) by
/// `cargo test -p oxjax-abi --doc`, so the page cannot drift from the ABI.
/// Only in doctest builds: the published crate does not carry the page.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/backend-authors.md")]
pub struct BackendAuthorsGuide;
