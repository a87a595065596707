//! The FFT primitive: JAX's `fft`/`ifft` (unnormalised forward, `1/n`
//! inverse) along the second-to-last axis of a real array whose last axis
//! of 2 holds (re, im) — the packing of the public `Complex` pytree at the
//! primitive boundary. All its rules are here; `rfft`, `irfft` and the
//! n-d transforms are compositions of it (oxjax::fft).

use super::bind1;
use super::prim::{Aval, Prim};
use crate::array::Array;
use crate::eager::Concrete;
use crate::error::{Error, ErrorKind, Result};
use oxjax_abi::{DType, RoutineKind};
use std::fmt;

/// `fft` (`inverse: false`) or `ifft` over `n` points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FftPrim {
    /// `ifft` rather than `fft`.
    pub inverse: bool,
    /// Points per transform (the last axis holds `2n` packed values).
    pub n: usize,
}

impl fmt::Display for FftPrim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = if self.inverse { "IFFT" } else { "FFT" };
        write!(f, "fft[fft_type={t}, fft_lengths=({},)]", self.n)
    }
}

/// Checks the packed operand: `[..., n, 2]`.
pub(crate) fn check(p: &FftPrim, shape: &[usize]) -> Result<()> {
    let r = shape.len();
    if r < 2 || shape[r - 1] != 2 || shape[r - 2] != p.n {
        return Err(Error::new(
            ErrorKind::Shape,
            format!(
                "{}: packed operand {shape:?} is not [..., {}, 2]",
                if p.inverse { "ifft" } else { "fft" },
                p.n
            ),
        ));
    }
    Ok(())
}

pub(crate) fn abstract_eval(p: &FftPrim, ins: &[Aval]) -> Aval {
    check(p, &ins[0].shape).unwrap_or_else(|e| crate::error::raise(e));
    Aval {
        weak: false,
        ..ins[0].clone()
    }
}

/// Runs the FFT routine (f32 or f64; other dtypes compute in f32).
pub(crate) fn eval_eager(p: &FftPrim, ins: &[Concrete]) -> Result<Concrete> {
    check(p, ins[0].shape())?;
    let dtype = ins[0].dtype();
    let work = if dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    };
    let x = ins[0].try_astype(work)?;
    if x.size() == 0 {
        return Ok(Concrete::zeros(x.shape(), dtype));
    }
    let shape = x.shape().to_vec();
    Concrete::routine(
        "fft",
        RoutineKind::FFT,
        vec![p.inverse as i64, 1],
        &[&x],
        &[(work, &shape)],
    )?
    .remove(0)
    .try_astype(dtype)
}

/// Binds the primitive on a packed `[..., n, 2]` array.
pub fn fft(x: &Array, inverse: bool) -> Array {
    let n = x.shape()[x.ndim() - 2];
    bind1(Prim::Fft(FftPrim { inverse, n }), &[x])
}

/// Linear: the same transform of the tangent.
pub(crate) fn jvp(p: &FftPrim, t: &[Option<Array>]) -> Option<Array> {
    t[0].as_ref().map(|t0| fft(t0, p.inverse))
}

/// The transpose for the real packing's inner product is the adjoint
/// `conj(F)` of the (symmetric) DFT matrix `F`: `n · ifft` for `fft`,
/// `fft / n` for `ifft`.
pub(crate) fn transpose(p: &FftPrim, ct: &Array) -> Vec<Option<Array>> {
    let y = fft(ct, !p.inverse);
    let k = if p.inverse {
        1.0 / p.n as f64
    } else {
        p.n as f64
    };
    vec![Some(
        &y * Array::scalar_of(oxjax_abi::Scalar::F64(k).cast(y.dtype())),
    )]
}

/// The leading axes are independent transforms: the batch axis goes first.
pub(crate) fn batch(p: &FftPrim, vals: &[Array], bdims: &[Option<usize>], size: usize) -> Array {
    fft(&super::vmap::front(&vals[0], bdims[0], size), p.inverse)
}
