//! The SOFTMAX routine, native on the plugin's linear memory: per row (the
//! last axis, contiguous) one pass for the maximum, one computing `e =
//! exp(x - m)` into the output while summing, one scaling by `1 / sum` —
//! the row is in cache for the last two, so the routine runs at about
//! memory speed, where the composed form is four kernels with a 4-wide
//! `exp` in wasm. Rows are split over the configured threads.
//!
//! f32 rows use an 8-wide AVX2+FMA `exp` where the CPU has it, else the
//! same polynomial in plain Rust; f64 rows use `f64::exp`. Only `exp` of
//! `x - m <= 0` (or NaN) is ever needed, so the `exp` here is written for
//! that domain. A NaN anywhere, or +inf, makes the sum NaN and so the whole
//! row; an all -inf row shifts by -inf to NaN (as the contract says).

use oxjax_abi::{BackendError, DType, ErrorKind, Routine, analysis};

/// Rows are split over threads only above this many elements: a thread's
/// start costs tens of microseconds.
const PARALLEL_ELEMENTS: usize = 1 << 16;

/// A checked SOFTMAX descriptor.
#[derive(Clone, Debug)]
pub(crate) struct SoftmaxPlan {
    pub routine: Routine,
    dtype: DType,
    rows: usize,
    n: usize,
}

impl SoftmaxPlan {
    pub fn new(r: &Routine) -> Result<SoftmaxPlan, BackendError> {
        let bad = |msg: String| {
            BackendError::new(
                ErrorKind::INVALID_ARGUMENT,
                format!("routine softmax: {msg} (descriptor: {r:?})"),
            )
        };
        let p = analysis::axis_routine(r).map_err(bad)?;
        // one 32-bit linear memory: every count below 2^31
        if p.outer * p.len >= 1 << 31 {
            return Err(bad("shape too large".into()));
        }
        Ok(SoftmaxPlan {
            routine: r.clone(),
            dtype: p.dtype,
            rows: p.outer as usize,
            n: p.len as usize,
        })
    }

    /// Bytes of the input (and of the output).
    pub fn bytes(&self) -> u64 {
        (self.rows * self.n * self.dtype.size()) as u64
    }

    /// Writes the softmax of the rows at `x` to `y` ([`Self::bytes`] each),
    /// over up to `threads` threads.
    ///
    /// # Safety
    /// `x` and `y` must be aligned for the dtype, hold [`Self::bytes`]
    /// bytes each, be equal or not overlap, and not be accessed by anything
    /// else during the call.
    pub unsafe fn run(&self, x: *const u8, y: *mut u8, threads: usize) {
        let (rows, n) = (self.rows, self.n);
        if rows == 0 || n == 0 {
            return;
        }
        let parts = if rows * n < PARALLEL_ELEMENTS {
            1
        } else {
            threads.clamp(1, rows)
        };
        let size = self.dtype.size();
        let f64s = self.dtype == DType::F64;
        // Raw pointers are not Send: the addresses cross as integers.
        let (x, y) = (x as usize, y as usize);
        let part = move |p: usize| {
            let (r0, r1) = (rows * p / parts, rows * (p + 1) / parts);
            let off = r0 * n * size;
            // SAFETY: rows r0..r1 of both regions, disjoint from other parts'.
            unsafe {
                let (x, y) = ((x + off) as *const u8, (y + off) as *mut u8);
                if f64s {
                    rows_f64(x.cast(), y.cast(), r1 - r0, n);
                } else {
                    rows_f32(x.cast(), y.cast(), r1 - r0, n);
                }
            }
        };
        if parts == 1 {
            part(0);
            return;
        }
        std::thread::scope(|scope| {
            for p in 1..parts {
                scope.spawn(move || part(p));
            }
            part(0);
        });
    }
}

/// # Safety
/// As [`SoftmaxPlan::run`], for `rows × n` f32 values.
unsafe fn rows_f32(x: *const f32, y: *mut f32, rows: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        for r in 0..rows {
            // SAFETY: the features are present; row `r` is in bounds.
            unsafe { avx2::row(x.add(r * n), y.add(r * n), n) };
        }
        return;
    }
    for r in 0..rows {
        // SAFETY: row `r` is in bounds.
        unsafe { row_portable(x.add(r * n), y.add(r * n), n) };
    }
}

/// # Safety
/// As [`SoftmaxPlan::run`], for `rows × n` f64 values.
unsafe fn rows_f64(x: *const f64, y: *mut f64, rows: usize, n: usize) {
    for r in 0..rows {
        let (x, y) = unsafe { (x.add(r * n), y.add(r * n)) };
        // Reads of `x[i]` precede the write of `y[i]` at the same index,
        // so `x == y` is fine; raw pointers since they may alias.
        let mut m = f64::NEG_INFINITY;
        for i in 0..n {
            m = m.max(unsafe { *x.add(i) });
        }
        let mut sum = 0.0;
        for i in 0..n {
            let e = (unsafe { *x.add(i) } - m).exp();
            unsafe { *y.add(i) = e };
            sum += e;
        }
        for i in 0..n {
            unsafe { *y.add(i) /= sum };
        }
    }
}

// exp(r) on r = x - n ln2 in [-ln2/2, ln2/2]: Cephes' expf polynomial
// (within 1 ULP on a sweep of 11M points of the domain; the test allows
// 2), 2^n put into
// the exponent in two halves so results below f32's normal range are
// denormals rounded once.
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 in two parts: `LN2_HI` has few bits, so `n * LN2_HI` is exact.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];
/// Below this `exp` is 0 in f32 (`exp(-104) < 2^-150`).
const LOW: f32 = -104.0;

/// `exp(x)` for `x <= 0` or NaN (NaN gives NaN, -inf gives 0): the scalar
/// twin of the AVX2 version, for tails and other CPUs.
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    let x = if x < LOW { LOW } else { x }; // NaN stays NaN
    let k = (x * LOG2E).round();
    let r = x - k * LN2_HI - k * LN2_LO;
    let mut p = P[0];
    for c in &P[1..] {
        p = p * r + c;
    }
    let p = p * r * r + r + 1.0;
    // k in [-150, 0] (0 for NaN: `as` saturates it to 0)
    let k = k as i32;
    let (k1, k2) = (k >> 1, k - (k >> 1));
    p * f32::from_bits(((k1 + 127) as u32) << 23) * f32::from_bits(((k2 + 127) as u32) << 23)
}

/// One row in plain Rust.
///
/// # Safety
/// `x` and `y` hold `n` f32 each and are equal or disjoint.
unsafe fn row_portable(x: *const f32, y: *mut f32, n: usize) {
    let mut m = f32::NEG_INFINITY;
    for i in 0..n {
        m = m.max(unsafe { *x.add(i) });
    }
    let mut sum = 0.0f32;
    for i in 0..n {
        let e = exp_nonpositive(unsafe { *x.add(i) } - m);
        unsafe { *y.add(i) = e };
        sum += e;
    }
    let inv = 1.0 / sum;
    for i in 0..n {
        unsafe { *y.add(i) *= inv };
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::{LN2_HI, LN2_LO, LOG2E, LOW, P, exp_nonpositive};
    use std::arch::x86_64::*;

    /// 8 lanes of [`exp_nonpositive`].
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn exp8(x: __m256) -> __m256 {
        // max(LOW, x) keeps a NaN `x` (the second operand wins on NaN)
        let x = _mm256_max_ps(_mm256_set1_ps(LOW), x);
        let k = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
        );
        let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_HI), x);
        let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_LO), r);
        let mut p = _mm256_set1_ps(P[0]);
        for &c in &P[1..] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r);
        let p = _mm256_add_ps(p, _mm256_set1_ps(1.0));
        // NaN converts to i32::MIN: the scale is then garbage, but p is NaN
        let k = _mm256_cvtps_epi32(k);
        let k1 = _mm256_srai_epi32::<1>(k);
        let k2 = _mm256_sub_epi32(k, k1);
        let bias = _mm256_set1_epi32(127);
        let s1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(k1, bias)));
        let s2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(k2, bias)));
        _mm256_mul_ps(_mm256_mul_ps(p, s1), s2)
    }

    fn hmax(v: __m256) -> f32 {
        let mut a = [0f32; 8];
        // SAFETY: 8 f32 into an 8-f32 array.
        unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) };
        a.into_iter().fold(f32::NEG_INFINITY, f32::max)
    }

    fn hsum(v: __m256) -> f32 {
        let mut a = [0f32; 8];
        // SAFETY: as in `hmax`.
        unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) };
        ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
    }

    /// One row, 16 elements a step (two independent chains), the tail of
    /// fewer than 16 scalar.
    ///
    /// # Safety
    /// `x` and `y` hold `n` f32 each and are equal or disjoint.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn row(x: *const f32, y: *mut f32, n: usize) {
        let body = n / 16 * 16;
        let (mut m0, mut m1) = (
            _mm256_set1_ps(f32::NEG_INFINITY),
            _mm256_set1_ps(f32::NEG_INFINITY),
        );
        let mut i = 0;
        // SAFETY (all loads and stores): indices below `n`.
        while i < body {
            unsafe {
                m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x.add(i)));
                m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x.add(i + 8)));
            }
            i += 16;
        }
        let mut m = hmax(_mm256_max_ps(m0, m1));
        for j in body..n {
            m = m.max(unsafe { *x.add(j) });
        }
        let mv = _mm256_set1_ps(m);
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i < body {
            unsafe {
                let e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x.add(i)), mv));
                let e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(x.add(i + 8)), mv));
                _mm256_storeu_ps(y.add(i), e0);
                _mm256_storeu_ps(y.add(i + 8), e1);
                s0 = _mm256_add_ps(s0, e0);
                s1 = _mm256_add_ps(s1, e1);
            }
            i += 16;
        }
        let mut sum = hsum(_mm256_add_ps(s0, s1));
        for j in body..n {
            let e = exp_nonpositive(unsafe { *x.add(j) } - m);
            unsafe { *y.add(j) = e };
            sum += e;
        }
        let inv = 1.0 / sum;
        let iv = _mm256_set1_ps(inv);
        let mut i = 0;
        while i < body {
            unsafe {
                _mm256_storeu_ps(y.add(i), _mm256_mul_ps(_mm256_loadu_ps(y.add(i)), iv));
                _mm256_storeu_ps(
                    y.add(i + 8),
                    _mm256_mul_ps(_mm256_loadu_ps(y.add(i + 8)), iv),
                );
            }
            i += 16;
        }
        for j in body..n {
            unsafe { *y.add(j) *= inv };
        }
    }
}
