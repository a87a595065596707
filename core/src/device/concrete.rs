//! The value of a concrete array: a device buffer (shared, freed when the
//! last array using it drops) or a constant, seen through a view. It lives
//! here, beside the buffers, because eager computes with it and jit binds
//! it; its operations are eager's (`eager/`).

use super::{Buffer, Device};
use crate::lower::View;
use oxjax_abi::{DType, Scalar};
use std::sync::Arc;

/// Where an array's elements come from.
#[derive(Clone)]
pub(crate) enum Source {
    Buffer(Arc<Buffer>),
    /// Every element is this value. For weak arrays it is kept at full
    /// precision, so implicit promotion rounds it once.
    Const(Scalar),
}

/// An n-dimensional array on a device.
#[derive(Clone)]
pub struct Concrete {
    pub(crate) src: Source,
    pub(crate) view: View,
    pub(crate) dtype: DType,
    /// A weakly typed value (a Rust scalar) adapts to the other operand.
    pub(crate) weak: bool,
    /// The value of padded (masked-out) elements.
    pub(crate) fill: Scalar,
    pub(crate) device: Device,
}
