//! The FFT routine on the host (`rustfft`): complex `fft`/`ifft` over the
//! second-to-last axis of interleaved (re, im) data, one cached plan per
//! call, every row transformed in place.

use oxjax_abi::{BackendError, DType, ErrorKind, Routine};
use rustfft::num_complex::Complex;
use rustfft::{FftNum, FftPlanner};

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
        DType::F32 => Ok(vec![transform::<f32, 4>(
            inputs[0],
            n,
            inverse,
            f32::from_le_bytes,
        )]),
        DType::F64 => Ok(vec![transform::<f64, 8>(
            inputs[0],
            n,
            inverse,
            f64::from_le_bytes,
        )]),
        d => Err(bad(format!("dtype {d} is not f32 or f64"))),
    }
}

trait Bytes: FftNum {
    fn put(self, out: &mut Vec<u8>);
}
impl Bytes for f32 {
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
impl Bytes for f64 {
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

fn transform<T: Bytes, const W: usize>(
    bytes: &[u8],
    n: usize,
    inverse: bool,
    read: fn([u8; W]) -> T,
) -> Vec<u8> {
    let vals: Vec<T> = bytes
        .chunks_exact(W)
        .map(|c| read(c.try_into().unwrap()))
        .collect();
    let mut data: Vec<Complex<T>> = vals
        .chunks_exact(2)
        .map(|c| Complex::new(c[0], c[1]))
        .collect();
    if n > 0 && !data.is_empty() {
        let mut planner = FftPlanner::<T>::new();
        let plan = if inverse {
            planner.plan_fft_inverse(n)
        } else {
            planner.plan_fft_forward(n)
        };
        plan.process(&mut data);
        if inverse {
            let k = T::from_f64(1.0 / n as f64).unwrap();
            for z in &mut data {
                *z = *z * k;
            }
        }
    }
    let mut out = Vec::with_capacity(bytes.len());
    for z in data {
        z.re.put(&mut out);
        z.im.put(&mut out);
    }
    out
}
