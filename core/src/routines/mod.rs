//! Host implementations of routines, for backends that do not declare a
//! routine kind (`Device::run_routine` sends the data here and back).
//! Sort, scans and scatter run the reference backend's code; linear
//! algebra runs on `faer` (`linalg.rs`).

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
        _ => Ok(oxjax_backend_reference::run_routine(routine, inputs)?),
    }
}
