//! The FFT routine on the host (`rustfft`): complex `fft`/`ifft` over the
//! second-to-last axis of interleaved (re, im) data, one plan per size
//! and process, every row transformed in place.

use oxjax_abi::{BackendError, DType, ErrorKind, Routine};
use rustfft::num_complex::Complex;
use rustfft::{FftNum, FftPlanner};
use std::sync::{LazyLock, Mutex};

fn bad(msg: String) -> BackendError {
    BackendError::new(ErrorKind::INVALID_ARGUMENT, format!("fft routine: {msg}"))
}

/// Runs FFT with params `[0 fft | 1 ifft, 1]` on `[..., n, 2]`.
pub(crate) fn run(r: &Routine, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, BackendError> {
    let shape = &r.inputs[0].shape;
    let p = &r.params;
    if p.len() != 2 || p[0] > 1 || p[1] != 1 || shape.len() < 2 || shape[shape.len() - 1] != 2 {
        return Err(bad(format!(
            "the host runs fft/ifft over one axis of [..., n, 2], got params {p:?} and shape {shape:?}"
        )));
    }
    let n = shape[shape.len() - 2] as usize;
    let inverse = p[0] == 1;
    match r.inputs[0].dtype {
        DType::F32 => Ok(vec![transform::<f32>(inputs[0], n, inverse)]),
        DType::F64 => Ok(vec![transform::<f64>(inputs[0], n, inverse)]),
        d => Err(bad(format!("dtype {d} is not f32 or f64"))),
    }
}

/// Element types the routine computes in, with their planners: plans
/// (twiddles, factorisation) cost more than a transform of a few thousand
/// points, so each size is planned once per process (`FftPlanner` keeps
/// the plans it made).
trait Elem: FftNum + bytemuck::Pod {
    fn planner() -> &'static Mutex<FftPlanner<Self>>;
}
impl Elem for f32 {
    fn planner() -> &'static Mutex<FftPlanner<f32>> {
        static P: LazyLock<Mutex<FftPlanner<f32>>> =
            LazyLock::new(|| Mutex::new(FftPlanner::new()));
        &P
    }
}
impl Elem for f64 {
    fn planner() -> &'static Mutex<FftPlanner<f64>> {
        static P: LazyLock<Mutex<FftPlanner<f64>>> =
            LazyLock::new(|| Mutex::new(FftPlanner::new()));
        &P
    }
}

fn transform<T: Elem>(bytes: &[u8], n: usize, inverse: bool) -> Vec<u8> {
    // The copy aligns the values for `T`.
    let mut flat: Vec<T> = super::values(bytes);
    // SAFETY: `Complex<T>` is `#[repr(C)] { re: T, im: T }`: two `T`s with
    // `T`'s alignment, so each (re, im) pair of the `[T]` is one, in place.
    let data: &mut [Complex<T>] =
        unsafe { std::slice::from_raw_parts_mut(flat.as_mut_ptr().cast(), flat.len() / 2) };
    if n > 0 && !data.is_empty() {
        let plan = {
            let mut planner = T::planner().lock().unwrap_or_else(|e| e.into_inner());
            if inverse {
                planner.plan_fft_inverse(n)
            } else {
                planner.plan_fft_forward(n)
            }
        };
        plan.process(data);
        if inverse {
            let k = T::from_f64(1.0 / n as f64).unwrap();
            for z in data.iter_mut() {
                *z = *z * k;
            }
        }
    }
    bytemuck::cast_slice(&flat).to_vec()
}
