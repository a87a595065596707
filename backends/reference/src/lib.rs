//! The reference backend as an oxjax plugin: exports the interpreter of
//! [`oxjax_reference`] (see that crate for the semantics). The interpreter
//! is a separate rlib so that the host and tests link it under a hashed
//! file name; this cdylib is the plugin `plugins.toml` loads.

oxjax_abi::export_backend!(oxjax_reference::new);
