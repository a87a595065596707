//! `oxjax::lax`: the primitive-level API of `jax.lax` (explicit dtypes and
//! shapes, no NumPy conveniences), including structured control flow.

mod control;
mod indexing;

pub use control::*;
pub use indexing::*;
