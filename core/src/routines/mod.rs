//! Host implementations of routines, for backends that do not declare a
//! routine kind (`Device::run_routine` sends the data here and back).
//! Sort, scans and scatter run the reference backend's code; linear
//! algebra runs on `faer` (`linalg.rs`), convolution on a blocked GEMM
//! (`conv.rs`), FFT on `rustfft` (`fft.rs`).

mod conv;
mod fft;
mod linalg;

use crate::error::Result;
use oxjax_abi::{Routine, RoutineKind as R};

/// Runs `routine` on host byte buffers (dense, row-major, little-endian),
/// returning its outputs' bytes in the routine's order.
pub(crate) fn run_host(routine: &Routine, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
    match routine.kind {
        R::CHOLESKY | R::TRIANGULAR_SOLVE | R::LU | R::QR | R::EIGH | R::SVD => {
            linalg::run(routine, inputs)
        }
        R::CONV => Ok(conv::run(routine, inputs)?),
        R::FFT => Ok(fft::run(routine, inputs)?),
        _ => Ok(oxjax_reference::run_routine(routine, inputs)?),
    }
}

/// The values of a dense little-endian buffer (the hosts we build for are
/// little-endian, so the bytes are the values; the copy aligns them).
fn values<T: bytemuck::Pod>(bytes: &[u8]) -> Vec<T> {
    let mut v = vec![T::zeroed(); bytes.len() / std::mem::size_of::<T>()];
    bytemuck::cast_slice_mut::<T, u8>(&mut v).copy_from_slice(bytes);
    v
}
