//! Shared test helpers: one backend per test binary, running kernels, and
//! comparing against the reference backend.
#![allow(dead_code)]

use oxjax_abi::{Backend, DType, Kernel, Scalar};
use oxjax_backend_webgpu::WebGpuBackend;
use std::sync::OnceLock;

/// The shared backend, or `None` (with a loud message) when no adapter
/// exists here. Under `CI` a missing adapter fails the test instead.
pub fn backend() -> Option<&'static WebGpuBackend> {
    static B: OnceLock<Option<WebGpuBackend>> = OnceLock::new();
    B.get_or_init(|| {
        match oxjax_backend_webgpu::new("") {
            Ok(b) => Some(b),
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("CI is set but no WebGPU adapter could be created: {e}");
                }
                // Straight to the stderr handle: libtest captures the
                // print macros, and a skip must be seen.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                     !!! SKIPPING WebGPU tests: no adapter: {e}\n\
                     !!! (set CI=1 to make this a failure)\n\
                     !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
                );
                None
            }
        }
    })
    .as_ref()
}

/// Runs a kernel on the backend: fresh buffers, write, execute, read.
pub fn run(b: &WebGpuBackend, k: &Kernel, inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let exe = b.compile(k).unwrap_or_else(|e| panic!("compile: {e}"));
    let ins: Vec<_> = inputs
        .iter()
        .map(|d| {
            let id = b.alloc(d.len() as u64).unwrap();
            b.write(id, 0, d).unwrap();
            id
        })
        .collect();
    let outs: Vec<_> = (0..k.outputs.len())
        .map(|o| {
            b.alloc(k.size as u64 * k.output_dtype(o).size() as u64)
                .unwrap()
        })
        .collect();
    b.execute(exe, &ins, &outs)
        .unwrap_or_else(|e| panic!("execute: {e}"));
    let res = outs
        .iter()
        .enumerate()
        .map(|(o, &id)| {
            b.read(id, 0, k.size as u64 * k.output_dtype(o).size() as u64)
                .unwrap()
        })
        .collect();
    for id in ins.into_iter().chain(outs) {
        b.free(id);
    }
    b.release(exe);
    res
}

pub fn reference(k: &Kernel, inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let refs: Vec<&[u8]> = inputs.iter().map(|v| v.as_slice()).collect();
    oxjax_reference::run_kernel(k, &refs).unwrap()
}

pub fn bytes(vals: &[Scalar]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in vals {
        let mut b = vec![0u8; v.dtype().size()];
        v.write(&mut b);
        out.extend(b);
    }
    out
}

pub fn scalars(d: DType, data: &[u8]) -> Vec<Scalar> {
    data.chunks(d.size()).map(|c| Scalar::read(d, c)).collect()
}

/// Distance in units in the last place between two floats of the same
/// dtype (as f64 bits ordering of the dtype); NaN vs NaN is 0, NaN vs a
/// number is infinite.
pub fn ulps(a: Scalar, b: Scalar) -> f64 {
    let (x, y, bits) = match (a, b) {
        (Scalar::F32(x), Scalar::F32(y)) => (x.to_bits() as i64, y.to_bits() as i64, 32),
        (Scalar::F16(x), Scalar::F16(y)) => (x.to_bits() as i64, y.to_bits() as i64, 16),
        _ => return if a == b { 0.0 } else { f64::INFINITY },
    };
    let nan = |v: i64| {
        if bits == 32 {
            f32::from_bits(v as u32).is_nan()
        } else {
            half::f16::from_bits(v as u16).is_nan()
        }
    };
    match (nan(x), nan(y)) {
        (true, true) => return 0.0,
        (true, false) | (false, true) => return f64::INFINITY,
        _ => {}
    }
    let ord = |v: i64| {
        let sign = 1i64 << (bits - 1);
        if v & sign != 0 { -(v & (sign - 1)) } else { v }
    };
    (ord(x) - ord(y)).abs() as f64
}

/// Exact equality of scalars, NaN equal to NaN (any payload).
pub fn same(a: Scalar, b: Scalar) -> bool {
    match (a, b) {
        (Scalar::F32(x), Scalar::F32(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Scalar::F16(x), Scalar::F16(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        _ => a == b,
    }
}

/// A small deterministic generator (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    pub fn f32_in(&mut self, lo: f32, hi: f32) -> f32 {
        let t = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * t
    }
}
