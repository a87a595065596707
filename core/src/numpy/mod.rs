//! `oxjax::numpy`: `jax.numpy` in Rust — JAX's names and semantics as free
//! functions over [`Array`](crate::Array)s, each built from the primitives
//! (so every function works eagerly, under `jit`, `grad` and `vmap`).

mod indexing;
mod sorting;

pub use indexing::*;
pub use sorting::*;
