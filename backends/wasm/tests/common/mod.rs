//! Shared helpers of the differential tests: run a kernel on the wasm
//! backend and on the reference, compare element by element.
#![allow(dead_code)]

use oxjax_abi::{Backend, DType, Kernel, Scalar};
use oxjax_backend_wasm::WasmBackend;

pub fn backend(options: &str) -> WasmBackend {
    oxjax_backend_wasm::new(options).expect("create the wasm backend")
}

/// Runs `k` on the wasm backend with the given input buffers.
pub fn run_wasm(b: &WasmBackend, k: &Kernel, inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let exe = b.compile(k).expect("compile");
    let ins: Vec<_> = inputs
        .iter()
        .map(|d| {
            let id = b.alloc(d.len() as u64).expect("alloc");
            b.write(id, 0, d).expect("write");
            id
        })
        .collect();
    let outs: Vec<_> = (0..k.outputs.len())
        .map(|o| {
            b.alloc(k.size as u64 * k.output_dtype(o).size() as u64)
                .expect("alloc output")
        })
        .collect();
    b.execute(exe, &ins, &outs).expect("execute");
    let result = outs
        .iter()
        .enumerate()
        .map(|(o, &id)| {
            b.read(id, 0, k.size as u64 * k.output_dtype(o).size() as u64)
                .expect("read")
        })
        .collect();
    for id in ins.into_iter().chain(outs) {
        b.free(id);
    }
    b.release(exe);
    result
}

pub fn run_ref(k: &Kernel, inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let refs: Vec<&[u8]> = inputs.iter().map(|v| v.as_slice()).collect();
    oxjax_reference::run_kernel(k, &refs).expect("reference")
}

pub fn to_bytes(values: &[Scalar]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        let mut b = vec![0u8; v.dtype().size()];
        v.write(&mut b);
        out.extend(b);
    }
    out
}

pub fn from_bytes(d: DType, bytes: &[u8]) -> Vec<Scalar> {
    bytes.chunks(d.size()).map(|c| Scalar::read(d, c)).collect()
}

/// Distance in units in the last place (ordered bit patterns); 0 when both
/// are NaN; u64::MAX when only one is.
/// Whether `got` may stand for the reference's `want` in output `o` of
/// `k`: the same value, or — where the kernel has a float sum or product,
/// which both backends may reassociate (the wasm backend accumulates in
/// blocks of 16, the reference pairwise) — within the reordering bound
/// `2 (n + 1) ε max(|want|, 100 n)` (inputs of these tests are within ±10).
pub fn reduction_close(k: &oxjax_abi::Kernel, got: Scalar, want: Scalar) -> bool {
    if ulps(got, want) == 0 {
        return true;
    }
    let reassociates = k.reductions.iter().any(|r| {
        matches!(r.op, oxjax_abi::ReduceOp::ADD | oxjax_abi::ReduceOp::MUL)
            && k.nodes[r.body as usize].dtype.is_float()
    });
    let eps = match want.dtype() {
        oxjax_abi::DType::F16 => 9.77e-4,
        oxjax_abi::DType::F32 => f32::EPSILON as f64,
        oxjax_abi::DType::F64 => f64::EPSILON,
        _ => return false,
    };
    let n = k.rsize as f64;
    let (g, w) = (got.as_f64(), want.as_f64());
    // A long product of ±10s overflows (or meets 0 · inf) in an order that
    // depends on the grouping; either outcome is a valid reassociation.
    let product = k
        .reductions
        .iter()
        .any(|r| r.op == oxjax_abi::ReduceOp::MUL);
    let order_dependent = product && !(g.is_finite() && w.is_finite() && g != 0.0 && w != 0.0);
    reassociates
        && (order_dependent || (g - w).abs() <= 2.0 * (n + 1.0) * eps * w.abs().max(100.0 * n))
}

pub fn ulps(a: Scalar, b: Scalar) -> u64 {
    fn ord(bits: u64, sign: u64) -> i128 {
        if bits & sign != 0 {
            -((bits & !sign) as i128)
        } else {
            bits as i128
        }
    }
    let (x, y) = (a.as_f64(), b.as_f64());
    if x.is_nan() || y.is_nan() {
        return if x.is_nan() && y.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    let (ba, bb, sign) = match (a, b) {
        (Scalar::F16(p), Scalar::F16(q)) => (p.to_bits() as u64, q.to_bits() as u64, 0x8000),
        (Scalar::F32(p), Scalar::F32(q)) => (p.to_bits() as u64, q.to_bits() as u64, 1 << 31),
        (Scalar::F64(p), Scalar::F64(q)) => (p.to_bits(), q.to_bits(), 1 << 63),
        _ => return if a == b { 0 } else { u64::MAX },
    };
    (ord(ba, sign) - ord(bb, sign)).unsigned_abs() as u64
}

/// Interesting values of a dtype: zeros, ±1, extremes, subnormals, Inf, NaN.
pub fn specials(d: DType) -> Vec<Scalar> {
    let f64s = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        3.0,
        -3.5,
        0.1,
        -0.7,
        1.5,
        7.25,
        -10.0,
        100.0,
        -1234.5,
        65504.0,
        1e-5,
        1e-7,
        6.0e-8,
        1e10,
        -3e38,
        1e-40,
        -1e-45,
        1e300,
        -5e-324,
        2.2250738585072014e-308,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        std::f64::consts::PI,
        -std::f64::consts::FRAC_PI_2,
        710.0,
        -745.5,
        88.7,
        -103.0,
        11.5,
        0.9999,
    ];
    match d {
        DType::BOOL => vec![Scalar::Bool(false), Scalar::Bool(true)],
        DType::I32 => [
            0,
            1,
            -1,
            2,
            -2,
            3,
            7,
            -7,
            31,
            32,
            33,
            100,
            -100,
            i32::MIN,
            i32::MAX,
            i32::MIN + 1,
        ]
        .into_iter()
        .map(Scalar::I32)
        .collect(),
        DType::U32 => [
            0,
            1,
            2,
            3,
            7,
            31,
            32,
            33,
            100,
            u32::MAX,
            0x8000_0000,
            u32::MAX - 1,
        ]
        .into_iter()
        .map(Scalar::U32)
        .collect(),
        DType::F16 => {
            let mut v: Vec<Scalar> = f64s
                .iter()
                .map(|&x| Scalar::F64(x).cast(DType::F16))
                .collect();
            v.push(Scalar::F16(oxjax_abi::f16::from_bits(1)));
            v.push(Scalar::F16(oxjax_abi::f16::from_bits(0x83ff)));
            v.push(Scalar::F16(oxjax_abi::f16::MAX));
            v
        }
        DType::F32 => {
            let mut v: Vec<Scalar> = f64s.iter().map(|&x| Scalar::F32(x as f32)).collect();
            v.push(Scalar::F32(f32::MAX));
            v.push(Scalar::F32(f32::MIN_POSITIVE));
            v.push(Scalar::F32(f32::from_bits(1)));
            v
        }
        _ => f64s.iter().map(|&x| Scalar::F64(x)).collect(),
    }
}
