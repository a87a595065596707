//! Host implementations of routines that backends do not declare: the
//! core runs them here on the downloaded operands (native crates where
//! they pay), and everything else on the reference backend's versions.

mod conv;
mod fft;

use oxjax_abi::{BackendError, Routine, RoutineKind};

/// Runs `routine` on the host on little-endian input bytes.
pub(crate) fn run_host(routine: &Routine, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, BackendError> {
    match routine.kind {
        RoutineKind::CONV => conv::run(routine, inputs),
        RoutineKind::FFT => fft::run(routine, inputs),
        _ => oxjax_backend_reference::run_routine(routine, inputs),
    }
}
