//! # oxjax — JAX for Rust
//!
//! NumPy-style [`Array`]s on pluggable devices. Each device is a backend
//! plugin (a dynamic library speaking the `oxjax-abi` interface) named in
//! `plugins.toml`; without one, the embedded reference backend runs
//! everything.
//!
//! This crate is the library — [`numpy`], [`lax`], [`nn`], [`linalg`],
//! [`fft`], [`random`], [`scipy`], [`optim`], [`interop`] — on top of the
//! engine `oxjax-core` (arrays, tracing, transformations, `jit`, devices),
//! whose whole public API it re-exports.
//!
//! ```
//! use oxjax::Array;
//! let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
//! let y = (&x * 2.0 + 1.0).sum(1, false);
//! assert_eq!(y.to_vec::<f32>(), vec![8.0, 16.0]);
//! ```

#![warn(missing_docs)]

extern crate self as oxjax;

pub use oxjax_core::*;

pub mod fft;
pub mod interop;
pub mod lax;
pub mod linalg;
pub mod nn;
pub mod numpy;
pub mod optim;
pub mod random;
pub mod scipy;

/// Compile-time proof that the library's shared values cross threads, as
/// the engine proves for arrays and jitted programs.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<nn::initializers::Initializer>();
    send_sync::<optim::Schedule>();
};
