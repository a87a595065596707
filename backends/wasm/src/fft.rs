//! The FFT routine on linear memory: the input rows are copied into the
//! output buffer and `rustfft` transforms them there, in place — no round
//! trip through the core, no copy out of the memory and back.
//!
//! It takes what the core sends, `[..., n, 2]` f32 or f64 (interleaved
//! re, im) with params `[0 fft | 1 ifft, 1]`; ifft scales by `1/n`.

use oxjax_abi::{BackendError, DType, ErrorKind, Routine, RoutineKind};
use rustfft::num_complex::Complex;
use rustfft::{FftNum, FftPlanner};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

thread_local! {
    /// FFT scratch space of the calling thread, as 16-byte words.
    static SCRATCH: RefCell<Vec<u128>> = const { RefCell::new(Vec::new()) };
}

/// A checked FFT descriptor with its plan.
#[derive(Clone)]
pub(crate) struct FftPlan {
    pub routine: Routine,
    rows: usize,
    n: usize,
    inverse: bool,
    plan: Plans,
}

#[derive(Clone)]
enum Plans {
    F32(Arc<dyn rustfft::Fft<f32>>),
    F64(Arc<dyn rustfft::Fft<f64>>),
}

/// One planner per element type for the backend's life: plans (twiddles,
/// factorisation) cost more than a small transform.
pub(crate) struct Planners {
    f32: Mutex<FftPlanner<f32>>,
    f64: Mutex<FftPlanner<f64>>,
}

impl Default for Planners {
    fn default() -> Planners {
        Planners {
            f32: Mutex::new(FftPlanner::new()),
            f64: Mutex::new(FftPlanner::new()),
        }
    }
}

fn plan<T: FftNum>(p: &Mutex<FftPlanner<T>>, n: usize, inverse: bool) -> Arc<dyn rustfft::Fft<T>> {
    let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
    if inverse {
        p.plan_fft_inverse(n)
    } else {
        p.plan_fft_forward(n)
    }
}

impl FftPlan {
    pub fn new(r: &Routine, planners: &Planners) -> Result<FftPlan, BackendError> {
        let bad = |msg: String| {
            BackendError::new(
                ErrorKind::INVALID_ARGUMENT,
                format!("routine fft: {msg} (descriptor: {r:?})"),
            )
        };
        debug_assert_eq!(r.kind, RoutineKind::FFT);
        let ([input], [output]) = (r.inputs.as_slice(), r.outputs.as_slice()) else {
            return Err(bad("takes one input and one output".into()));
        };
        let shape = input.shape.as_slice();
        let p = r.params.as_slice();
        if p.len() != 2 || !matches!(p[0], 0 | 1) || p[1] != 1 {
            return Err(bad(format!(
                "runs fft/ifft over one axis (params [0 | 1, 1]), got {p:?}"
            )));
        }
        if shape.len() < 2 || shape[shape.len() - 1] != 2 {
            return Err(bad(format!("the input must be [..., n, 2], got {shape:?}")));
        }
        if output.shape != input.shape || output.dtype != input.dtype {
            return Err(bad(
                "the output must have the input's shape and dtype".into()
            ));
        }
        let total = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&t| t < 1 << 31)
            .ok_or_else(|| bad("shape too large".into()))?;
        let n = shape[shape.len() - 2] as usize;
        let rows = (total as usize / 2).checked_div(n).unwrap_or(0);
        let inverse = p[0] == 1;
        let plan = match input.dtype {
            DType::F32 => Plans::F32(plan(&planners.f32, n, inverse)),
            DType::F64 => Plans::F64(plan(&planners.f64, n, inverse)),
            d => return Err(bad(format!("dtype {d} is not f32 or f64"))),
        };
        Ok(FftPlan {
            routine: r.clone(),
            rows,
            n,
            inverse,
            plan,
        })
    }

    /// Bytes of the input (and of the output).
    pub fn bytes(&self) -> u64 {
        let size = match self.plan {
            Plans::F32(_) => 4,
            Plans::F64(_) => 8,
        };
        (self.rows * self.n * 2 * size) as u64
    }

    /// Transforms the rows held in `data` ([`FftPlan::bytes`] long) in
    /// place.
    ///
    /// # Safety
    /// `data` must be aligned for the element type and not be read or
    /// written by anything else during the call.
    pub unsafe fn run(&self, data: *mut u8) {
        if self.rows == 0 {
            return;
        }
        let len = self.rows * self.n;
        // SAFETY: `Complex<T>` is `#[repr(C)] { re, im }`; the caller
        // guarantees the bytes, their alignment and exclusive access.
        unsafe {
            match &self.plan {
                Plans::F32(p) => transform(p.as_ref(), data.cast(), len, self.n, self.inverse),
                Plans::F64(p) => transform(p.as_ref(), data.cast(), len, self.n, self.inverse),
            }
        }
    }
}

unsafe fn transform<T: FftNum>(
    p: &dyn rustfft::Fft<T>,
    data: *mut Complex<T>,
    len: usize,
    n: usize,
    inverse: bool,
) {
    // SAFETY: as in `FftPlan::run`.
    let z = unsafe { std::slice::from_raw_parts_mut(data, len) };
    // The plan's scratch, kept between calls: `process` would allocate
    // and zero it every time (half the cost of a 2^16 transform).
    SCRATCH.with_borrow_mut(|bytes| {
        let want = p.get_inplace_scratch_len();
        let need = want * std::mem::size_of::<Complex<T>>();
        if bytes.len() < need.div_ceil(16) {
            bytes.resize(need.div_ceil(16), 0);
        }
        // SAFETY: `u128` storage is aligned for any `Complex<T>` of f32 or
        // f64, and every bit pattern is a valid float.
        let s: &mut [Complex<T>] =
            unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast(), want) };
        p.process_with_scratch(z, s);
    });
    if inverse {
        let k = T::from_f64(1.0 / n as f64).expect("a float");
        for v in z {
            *v = *v * k;
        }
    }
}
