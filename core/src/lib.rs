//! # oxjax-core — the oxjax engine
//!
//! [`Array`]s on pluggable devices, tracing into [`Jaxpr`]s, the
//! transformations (`grad`, `vjp`, `jvp`, `vmap`), structured
//! [`control`] flow, the fusion [`jit`] and the plugin device layer. The
//! user-facing library (`numpy`, `lax`, `nn`, `linalg`, `fft`, `random`,
//! `optim`, `interop`) is the `oxjax` crate on top, which re-exports all of
//! this; a backend author's tests and the conformance suite need only this
//! crate. A library builds on the engine through [`primitive`].
//!
//! ```
//! use oxjax_core::Array;
//! let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
//! let y = (&x * 2.0 + 1.0).sum(1, false);
//! assert_eq!(y.to_vec::<f32>(), vec![8.0, 16.0]);
//! ```

#![warn(missing_docs)]

mod array;
pub mod control;
mod debug;
pub mod device;
mod eager;
mod effects;
mod element;
pub mod error;
mod indexing;
mod jit;
mod lower;
pub mod primitive;
pub mod profile;
mod routines;
mod trace;
mod transforms;
pub mod tree;

pub use array::{Array, AsArray};
pub use device::{
    Device, DeviceReport, Registry, config_file, default_device, default_device_choice, device,
    device_report, devices, try_default_device, with_default_device,
};
pub use eager::{Axes, Slice};
pub use effects::{capture_debug_output, debug_print, io_callback, pure_callback};
pub use element::Element;
pub use error::{Context, Error, ErrorKind, Result, catch, raise};
pub use indexing::{At, Ellipsis, Idx, NewAxis};
pub use jit::{Compiled, Jitted, jit, lower, try_jit};
pub use oxjax_abi::{DType, Kernel, KernelBuilder, Op, ReduceOp, Scalar, bf16, f16};
/// `#[derive(Tree)]` for structs of arrays (see [`Tree`]); add
/// `#[tree(crate = oxjax_core)]` where only this crate is a dependency.
pub use oxjax_derive::Tree;
pub use profile::profile;
pub use trace::jaxpr::Jaxpr;
pub use trace::prim::Aval;
pub use transforms::*;
pub use tree::{Args, Nth, Tree};

/// The plugin ABI crate, re-exported for backend tests and tools.
pub use oxjax_abi as abi;

/// Compile-time proof that arrays, devices, jaxprs, compiled programs,
/// jitted functions and initializers cross threads (a server shares one
/// jitted model across a pool); a `Rc` or `RefCell` creeping into any of
/// them breaks the build here rather than in a user's program.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Array>();
    send_sync::<Device>();
    send_sync::<Registry>();
    send_sync::<Jaxpr>();
    send_sync::<Compiled>();
    send_sync::<Jitted<fn(&Array) -> Array, Array, Array>>();
    send_sync::<Error>();
};
