//! The softmax primitive: `exp(x - max) / sum` along the last axis, as one
//! device routine (SOFTMAX) where the device lists it. A fused native row
//! routine reads each row once from memory and runs at memory speed, where
//! the composed form is four kernels with `exp` on the slow path of some
//! backends. JAX has no such primitive (`jax.nn.softmax` is a custom_jvp
//! over ops); here it only replaces the composition the library would
//! otherwise build (`nn::softmax` binds it when [`available`]), with the
//! same values and derivatives. All its rules are in this file.

use super::bind1;
use super::prim::{Aval, BinOp, Prim, UnOp};
use crate::array::Array;
use crate::device::Device;
use crate::eager::Concrete;
use crate::error::Result;
use oxjax_abi::{DType, RoutineKind};

/// Whether the routine path serves `dtype` on the default device (and so
/// whether binding [`Prim::Softmax`] is worth it: elsewhere the composed
/// form fuses into fewer, cheaper kernels).
pub fn available(dtype: DType) -> bool {
    crate::device::try_default_device().is_ok_and(|d| takes(&d, dtype))
}

/// Whether `device` runs the SOFTMAX routine on `dtype` (f32 or f64).
fn takes(device: &Device, dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F64)
        && device.info().caps.supports_routine(RoutineKind::SOFTMAX)
}

/// Binds the primitive: softmax along the last axis of a float `x` of rank
/// at least 1.
pub fn softmax(x: &Array) -> Array {
    bind1(Prim::Softmax, &[x])
}

pub(crate) fn abstract_eval(ins: &[Aval]) -> Aval {
    ins[0].clone()
}

/// The SOFTMAX routine where the array's device lists it (f32/f64, not
/// empty); otherwise the composed ops, one kernel each.
pub(crate) fn eval_eager(x: &Concrete) -> Result<Concrete> {
    let mut y = if x.size() > 0 && takes(x.device(), x.dtype()) {
        Concrete::routine(
            "softmax",
            RoutineKind::SOFTMAX,
            vec![],
            &[x],
            &[(x.dtype(), x.shape())],
        )?
        .remove(0)
    } else {
        let last = vec![x.ndim() as isize - 1];
        let m = x.max(last.clone(), true).broadcast_to(x.shape());
        let e = x.binary_prim(BinOp::Sub, &m)?.unary_prim(UnOp::Exp)?;
        let s = e.sum(last, true).broadcast_to(x.shape());
        e.binary_prim(BinOp::Div, &s)?
    };
    if x.is_weak() {
        y = y.into_weak();
    }
    Ok(y)
}

/// `y (t - sum(y t))` along the last axis: the composed form's tangent
/// (its max is a constant), linear in `t` through linear primitives, so
/// the transpose comes from theirs.
pub(crate) fn jvp(y: &Array, t: &[Option<Array>]) -> Option<Array> {
    let t = t[0].as_ref()?;
    let dot = (y * t).sum(-1, true);
    Some(y * &(t - &dot))
}

/// Rows are independent: the batch axis goes first, so it is never the
/// softmax axis.
pub(crate) fn batch(vals: &[Array], bdims: &[Option<usize>], size: usize) -> Array {
    softmax(&super::vmap::front(&vals[0], bdims[0], size))
}
