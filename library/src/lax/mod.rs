//! `oxjax::lax`: the primitive-level API of `jax.lax` (explicit dtypes and
//! shapes, no NumPy conveniences), including structured control flow.

mod conv;
mod dot;
mod elementwise;
mod indexing;
mod scan;
mod window;

pub use crate::control::*;
pub use conv::*;
pub use dot::*;
pub use elementwise::*;
pub use indexing::*;
pub use scan::*;
pub use window::*;
