//! Value strategies: every dtype's ordinary ranges mixed with its edge
//! cases (±0, ±Inf, NaN, subnormals, extremes, integer MIN and -1).
//! Values travel as raw bits (`Scalar::to_bits`) so that cases serialise
//! exactly, NaN payloads and signed zeros included.

use crate::optable::ValueDomain;
use oxjax_abi::{DType, Scalar, bf16, f16};
use proptest::prelude::*;

fn f32_edges(domain: ValueDomain) -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        3.0,
        1.5,
        2.5,
        -2.5,
        0.49999997,
        std::f32::consts::PI,
        -std::f32::consts::FRAC_PI_2,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::MIN_POSITIVE,
        f32::MIN_POSITIVE / 4.0,
        -f32::MIN_POSITIVE / 8.0,
        f32::from_bits(1),
        f32::EPSILON,
        1e-30,
        100.0,
    ];
    if domain == ValueDomain::Full {
        v.extend([
            f32::MAX,
            f32::MIN,
            65504.0,
            -65520.0,
            1e30,
            16777217.0,
            2147483648.0,
        ]);
    }
    v
}

fn f64_edges(domain: ValueDomain) -> Vec<f64> {
    let mut v: Vec<f64> = f32_edges(domain).into_iter().map(f64::from).collect();
    v.extend([
        f64::MIN_POSITIVE,
        f64::MIN_POSITIVE / 16.0,
        f64::from_bits(1),
        f64::EPSILON,
    ]);
    if domain == ValueDomain::Full {
        v.extend([f64::MAX, f64::MIN, 1e300, -4294967296.5]);
    }
    v
}

fn f16_edges(domain: ValueDomain) -> Vec<f16> {
    let mut v: Vec<f16> = f32_edges(ValueDomain::Moderate)
        .into_iter()
        .map(f16::from_f32)
        .collect();
    v.extend([
        f16::MIN_POSITIVE,
        f16::from_bits(1),
        f16::from_bits(0x8003),
        f16::EPSILON,
    ]);
    if domain == ValueDomain::Full {
        v.extend([f16::MAX, f16::MIN, f16::from_f32(30000.0)]);
    }
    v
}

/// bf16 shares f32's exponent range: f32's edges rounded, plus its own
/// smallest subnormal, epsilon and extremes.
fn bf16_edges(domain: ValueDomain) -> Vec<bf16> {
    let mut v: Vec<bf16> = f32_edges(domain).into_iter().map(bf16::from_f32).collect();
    v.extend([
        bf16::from_bits(1),
        bf16::from_bits(0x8003),
        bf16::EPSILON,
        bf16::MAX,
        bf16::MIN,
        bf16::from_f32(1.0 + 1.0 / 256.0),
    ]);
    v
}

const I8_EDGES: [i8; 12] = [0, 1, -1, 2, i8::MIN, i8::MAX, i8::MIN + 1, 7, 8, 9, -8, -7];
const U8_EDGES: [u8; 9] = [0, 1, 2, 7, 8, 9, u8::MAX, 0x80, 100];

const I32_EDGES: [i32; 14] = [
    0,
    1,
    -1,
    2,
    i32::MIN,
    i32::MAX,
    i32::MIN + 1,
    31,
    32,
    33,
    -32,
    7,
    -7,
    16777217,
];
const U32_EDGES: [u32; 10] = [0, 1, 2, 31, 32, 33, u32::MAX, 0x8000_0000, 7, 16777217];

/// The edge values of a dtype as bits (constants in random kernels use them).
pub fn edges(dtype: DType, domain: ValueDomain) -> Vec<u64> {
    match dtype {
        DType::BOOL => vec![0, 1],
        DType::I32 => I32_EDGES
            .iter()
            .map(|&v| Scalar::I32(v).to_bits())
            .collect(),
        DType::U32 => U32_EDGES
            .iter()
            .map(|&v| Scalar::U32(v).to_bits())
            .collect(),
        DType::I8 => I8_EDGES.iter().map(|&v| Scalar::I8(v).to_bits()).collect(),
        DType::U8 => U8_EDGES.iter().map(|&v| v as u64).collect(),
        DType::F16 => f16_edges(domain)
            .into_iter()
            .map(|v| v.to_bits() as u64)
            .collect(),
        DType::BF16 => bf16_edges(domain)
            .into_iter()
            .map(|v| v.to_bits() as u64)
            .collect(),
        DType::F32 => f32_edges(domain)
            .into_iter()
            .map(|v| v.to_bits() as u64)
            .collect(),
        _ => f64_edges(domain).into_iter().map(f64::to_bits).collect(),
    }
}

/// The values whose combinations binary ops get wrong: both zeros, ones,
/// a negative, NaN, both infinities, the extremes and the subnormals (for
/// floats); zero, ±1, MIN, MAX and shift amounts around 32 (integers).
fn pair_values(dtype: DType) -> Vec<u64> {
    let f = |v: &[f64]| -> Vec<u64> {
        v.iter()
            .map(|&x| Scalar::F64(x).cast(dtype).to_bits())
            .collect()
    };
    match dtype {
        DType::BOOL => vec![0, 1],
        DType::I32 => [0, 1, -1, -7, i32::MIN, i32::MAX, 31, 32, 33]
            .iter()
            .map(|&v| Scalar::I32(v).to_bits())
            .collect(),
        DType::U32 => [0u32, 1, 7, u32::MAX, 0x8000_0000, 31, 32, 33]
            .iter()
            .map(|&v| v as u64)
            .collect(),
        DType::I8 => [0, 1, -1, -7, i8::MIN, i8::MAX, 7, 8, 9]
            .iter()
            .map(|&v| Scalar::I8(v).to_bits())
            .collect(),
        DType::U8 => [0u8, 1, 7, u8::MAX, 0x80, 7, 8, 9]
            .iter()
            .map(|&v| v as u64)
            .collect(),
        _ => {
            let (max, min_normal) = match dtype {
                DType::F16 => (65504.0, f64::powi(2.0, -14)),
                DType::BF16 => (bf16::MAX.to_f64(), f64::from(f32::MIN_POSITIVE)),
                DType::F32 => (f64::from(f32::MAX), f64::from(f32::MIN_POSITIVE)),
                _ => (f64::MAX, f64::MIN_POSITIVE),
            };
            let mut v = f(&[
                0.0,
                -0.0,
                1.0,
                -1.0,
                -2.5,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                max,
                -max,
                min_normal,
            ]);
            // The smallest subnormals of the dtype itself, both signs.
            let sign = (dtype.size() * 8 - 1) as u32;
            v.extend([1, 1 | (1u64 << sign)]);
            v
        }
    }
}

/// Every ordered pair of [`pair_values`] of `dtype` (values as bits), so
/// that binary ops meet (−0, +0), (−0, x<0), (NaN, 0), (x, ±Inf),
/// (±Inf, ±Inf), (min, max) and the like in one element.
pub fn pairs(dtype: DType) -> Vec<(u64, u64)> {
    let v = pair_values(dtype);
    v.iter()
        .flat_map(|&a| v.iter().map(move |&b| (a, b)))
        .collect()
}

/// A float with a random sign, mantissa and a binary exponent in `exp`.
fn wide(exp: std::ops::Range<i32>) -> impl Strategy<Value = f64> {
    (any::<bool>(), exp, 1.0f64..2.0).prop_map(|(neg, e, m)| {
        let v = m * f64::powi(2.0, e);
        if neg { -v } else { v }
    })
}

/// One value of `dtype`, as bits.
pub fn value(dtype: DType, domain: ValueDomain) -> BoxedStrategy<u64> {
    let full = domain == ValueDomain::Full;
    match dtype {
        DType::BOOL => any::<bool>().prop_map(|b| b as u64).boxed(),
        DType::I32 => prop_oneof![
            5 => (-20i32..20).prop_map(|v| Scalar::I32(v).to_bits()),
            2 => any::<i32>().prop_map(|v| Scalar::I32(v).to_bits()),
            2 => prop::sample::select(edges(dtype, domain)),
        ]
        .boxed(),
        DType::U32 => prop_oneof![
            5 => (0u32..40).prop_map(|v| v as u64),
            2 => any::<u32>().prop_map(|v| v as u64),
            2 => prop::sample::select(edges(dtype, domain)),
        ]
        .boxed(),
        DType::I8 => prop_oneof![
            5 => (-12i8..12).prop_map(|v| Scalar::I8(v).to_bits()),
            2 => any::<i8>().prop_map(|v| Scalar::I8(v).to_bits()),
            2 => prop::sample::select(edges(dtype, domain)),
        ]
        .boxed(),
        DType::U8 => prop_oneof![
            5 => (0u8..12).prop_map(|v| v as u64),
            2 => any::<u8>().prop_map(|v| v as u64),
            2 => prop::sample::select(edges(dtype, domain)),
        ]
        .boxed(),
        _ => {
            let exp = match (dtype, full) {
                (_, false) => -8..7,
                (DType::F16, true) => -24..16,
                (DType::F32 | DType::BF16, true) => -150..128,
                _ => -1075..1024,
            };
            let to_bits = move |v: f64| Scalar::F64(v).cast(dtype).to_bits();
            prop_oneof![
                5 => (-10.0f64..10.0).prop_map(move |v| {
                    // Round to a few binary digits sometimes-exact values.
                    to_bits(v)
                }),
                2 => wide(exp).prop_map(to_bits),
                2 => prop::sample::select(edges(dtype, domain)),
                1 => prop::sample::select(vec![f64::NAN, -f64::NAN, f64::INFINITY, f64::NEG_INFINITY])
                    .prop_map(to_bits),
            ]
            .boxed()
        }
    }
}

/// `n` values of `dtype`, as bits.
pub fn values(dtype: DType, domain: ValueDomain, n: usize) -> BoxedStrategy<Vec<u64>> {
    prop::collection::vec(value(dtype, domain), n).boxed()
}

/// Little-endian buffer bytes of values given as bits.
pub fn to_bytes(dtype: DType, bits: &[u64]) -> Vec<u8> {
    let size = dtype.size();
    let mut out = vec![0u8; bits.len() * size];
    for (i, &b) in bits.iter().enumerate() {
        Scalar::from_bits(dtype, b).write(&mut out[i * size..]);
    }
    out
}

/// The scalars in a buffer of `dtype` elements.
pub fn from_bytes(dtype: DType, bytes: &[u8]) -> Vec<Scalar> {
    bytes
        .chunks_exact(dtype.size())
        .map(|c| Scalar::read(dtype, c))
        .collect()
}

/// `[a, b, ...]`, at most `max` values shown.
pub fn show(values: &[Scalar], max: usize) -> String {
    let mut parts: Vec<String> = values.iter().take(max).map(|v| v.to_string()).collect();
    if values.len() > max {
        parts.push(format!("... ({} more)", values.len() - max));
    }
    format!("[{}]", parts.join(", "))
}

/// A small deterministic generator (splitmix64) for the layers that make
/// their own data (contract, ladder) rather than proptest cases.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Uniform in [-1, 1).
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Little-endian bytes of f32 values (a buffer's contents).
pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
