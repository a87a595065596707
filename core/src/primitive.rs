//! The engine's primitive API: what a library on top of `oxjax-core` builds
//! with. oxjax's own `numpy`, `lax`, `nn`, `linalg`, `fft` and `random`
//! use nothing of the engine but this module and the crate root; a
//! test (`library/tests/layers.rs`) holds them to it.
//!
//! A library function checks its arguments, then [`bind`]s one [`Prim`]
//! — the engine evaluates it eagerly, stages it under `jit`, and
//! differentiates and batches it by the primitive's rules — or composes
//! other functions. Operands must be canonical: the shapes and dtypes each
//! variant documents (e.g. `Matmul`: `[..., n, k]` and `[..., k, m]` with
//! equal batch axes, one dtype). `bind` does not re-check every
//! precondition; the checked entry points are the `Array` methods, which
//! the library mostly calls. The rule modules re-exported here hold the
//! parameter types of the primitive families and their shape rules.
//!
//! ```
//! use oxjax_core::Array;
//! use oxjax_core::primitive::{Prim, UnOp, bind1};
//! let x = Array::from_vec(vec![0.0f32, 1.0], &[2]);
//! let y = bind1(Prim::Unary(UnOp::Exp), &[&x]);
//! assert_eq!(y.to_vec::<f32>(), vec![1.0, 1.0f32.exp()]);
//! ```

pub use crate::eager::{axis, broadcast_shapes, checked_size, or_panic, promote, to_float};
pub use crate::trace::prim::{BinOp, Prim, UnOp};
pub use crate::trace::{bind, bind1};
pub use crate::trace::{conv_rules, fft_rules, indexing_rules, linalg_rules, softmax_rules};

use crate::Array;

/// The array in its float dtype (integers and bool become f32, JAX's
/// default float).
pub fn float_of(x: &Array) -> Array {
    let d = crate::eager::to_float(x.dtype());
    if d == x.dtype() {
        x.clone()
    } else {
        x.astype(d)
    }
}

/// The constant `v` as a strong scalar of `x`'s dtype (converted on the
/// host), for composites that need a constant of exactly the operand's
/// dtype whatever promotion would do with a literal.
pub fn lit(x: &Array, v: f64) -> Array {
    Array::scalar_of(oxjax_abi::Scalar::F64(v).cast(x.dtype()))
}
