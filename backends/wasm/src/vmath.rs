//! f32x4 transcendentals for SIMD kernels: every float unary op but the
//! f32-exact ones, atan2, pow and fmod (exact).
//!
//! Each takes and returns a v128 of four f32. Scalar f32 code calls the
//! same functions on a splatted value and takes lane 0, so an element gets
//! the same bits whether it is computed in a vector step or in the scalar
//! tail (and so with any number of threads). Accuracy: a few ULP (see the
//! accuracy test). The reductions use the textbook splits of ln 2 (exact
//! products in f32) and, for sin/cos, a two-part π/2 evaluated in f64
//! (exact products up to |k| < 2^20); lanes with |x| >= 1e6, Inf or NaN
//! take the scalar f64 helper. The polynomials are minimax fits of the
//! degree f32 needs (`backends/wasm/tools/fit_vmath.py` computes them).
//! Where a function has a cheap side and an expensive one (tanh and erf
//! below and above a threshold, erfc), the expensive side runs only when
//! a lane of the group needs it.
//!
//! tan, atan, asin, acos, atan2, erfc and pow compute in f64x2 (two lanes
//! at a time) with polynomials of f32 grade: the f64 result is within
//! 1e-10 of the truth, so rounding it gives the correctly rounded f32 or
//! its neighbour, as the scalar f64 helpers do, without their tables and
//! lane-by-lane calls.
//!
//! With [`Helpers::fma`] (the host fuses multiply-add) the polynomials and
//! reductions use relaxed-SIMD `madd`/`nmadd`: one rounding per step and
//! fewer instructions. The reduction products stay exact, so only the
//! polynomial's last bits depend on it.
//!
//! Every f32 checked (example `exhaustive`, both signs): exp (|x| < 90),
//! log, log2, log1p, atan (all x), asin, acos, tan (|x| < 1e6), erfc (|x|
//! < 10.1) and tanh (|x| < 9) are within 1 ULP of the correctly rounded
//! result, with or without fma; sin and cos (|x| < 1e5) too but for 120
//! inputs each at 2 ULP with fma, 1184 (sin) and 1874 (cos) without (of
//! 2.4e9); erf (|x| < 5, run with fma) within 4 ULP. fmod (`exhaustive
//! fmod inf`): every finite x below 2^31 |y| for 24 y from 1e-45 to
//! f32::MAX, ±0, ±Inf and NaN, 7.2e10 results, all bit for bit C's fmod.
//!
//! SIMD kernels emit these bodies inline ([`emit`]) rather than calling
//! the helper: the same instructions, so the same bits, but several groups
//! of lanes computed one after the other then overlap in the CPU.

use crate::erf_coeffs::ERF_TAYLOR;
use crate::fb::Fb;
use crate::math::{H, Helpers, LN2_HI, LN2_LO};
use wasm_encoder::{BlockType, Instruction as I, ValType as V};

const LN2_HI_F: f32 = 0.693_359_4; // 0x3f318000: exact products with small ints
const LN2_LO_F: f32 = -2.121_944_4e-4;
const PIO2_1: f64 = 1.570_796_326_734_125_6; // 33 bits: k PIO2_1 exact for |k| < 2^20
const PIO2_2: f64 = 6.077_100_506_303_966e-11;
/// exp(r) = 1 + r + r^2 Q(r) on |r| <= ln2/2 (relative error 3e-9).
const EXP_Q: [f32; 5] = [
    0.499_999_94,
    0.166_665_2,
    0.041_668_4,
    0.008_368_913,
    0.001_381_462,
];
/// sin(r) = r + r z S(z), z = r^2, on |r| <= pi/4 (relative error 4e-9).
const SIN_S: [f32; 3] = [-0.166_666_54, 0.008_332_1, -1.950_692e-4];
/// cos(r) = 1 - z/2 + z^2 C(z) on |r| <= pi/4 (relative error 1.3e-10).
const COS_C: [f32; 3] = [0.041_666_646, -0.001_388_723_1, 2.442_349_3e-5];

/// ln(1 + f) = f - f^2/2 + f^3 P(f) on [sqrt(1/2) - 1, sqrt(2) - 1]
/// (relative error 5.9e-9).
const LOG_P: [f32; 8] = [
    0.333_333_3,
    -0.250_008_23,
    0.200_012_34,
    -0.166_232_99,
    0.142_015_53,
    -0.131_605_82,
    0.127_633_27,
    -0.076_356_575,
];

/// tanh(x) = x + x z T(z), z = x^2, on |x| <= 0.625 (relative error 4.4e-9).
const TANH_T: [f32; 5] = [
    -0.333_332_8,
    0.133_314_42,
    -0.053_739_715,
    0.020_639_088,
    -0.005_704_987,
];

/// erf(x) = x P(x^2) on |x| < 1 (relative error 1.2e-9). The first
/// coefficient is fitted (it only happens to be near 2/sqrt(pi)).
#[allow(clippy::approx_constant)]
const ERF_P: [f32; 7] = [
    1.128_379_1,
    -0.376_126_26,
    0.112_835_854,
    -0.026_853_811,
    0.005_188_327,
    -8.010_191e-4,
    7.853_851e-5,
];
/// erfc(x) = exp(Q(x - 2.5)) on [1, 4] (weighted so that 1 - erfc, erf,
/// has relative error 2e-11).
const ERF_Q: [f32; 8] = [
    -7.806_815,
    -5.352_681,
    -0.943_891_8,
    -0.010_853_502,
    0.002_166_457_5,
    -4.310_087e-4,
    6.176_328e-5,
    -2.169_785_5e-5,
];

/// 1.5 * 2^23: `v + ROUNDER` is `ROUNDER + (v rounded to the nearest
/// integer, ties to even)` exactly for |v| < 2^22, and that integer sits in
/// the low mantissa bits. One add replaces a rounding and a saturating
/// conversion (whose NaN and overflow fix-ups cost x86 several
/// instructions); lanes beyond 2^22 are overridden by the callers.
const ROUNDER: f32 = 12_582_912.0;

/// `t = v + ROUNDER` for the `v` on the stack; leaves `t - ROUNDER` (the
/// rounded `v`) on the stack.
fn round_via(fb: &mut Fb, t: u32) {
    splat(fb, ROUNDER);
    fb.i(I::F32x4Add).tee(t);
    splat(fb, ROUNDER);
    fb.i(I::F32x4Sub);
}

fn splat(fb: &mut Fb, v: f32) {
    fb.f32c(v).i(I::F32x4Splat);
}

fn isplat(fb: &mut Fb, v: i32) {
    fb.i32c(v).i(I::I32x4Splat);
}

/// `a b + c` on f32x4 for `a`, `b` on the stack and `c` pushed by `push_c`
/// (`a b - c` negated, `c - a b`, when `neg`): fused when `fma`.
fn madd(fb: &mut Fb, fma: bool, neg: bool, push_c: impl FnOnce(&mut Fb)) {
    if fma {
        push_c(fb);
        fb.i(if neg {
            I::F32x4RelaxedNmadd
        } else {
            I::F32x4RelaxedMadd
        });
    } else if neg {
        let t = fb.local(V::V128);
        fb.i(I::F32x4Mul).set(t);
        push_c(fb);
        fb.get(t).i(I::F32x4Sub);
    } else {
        fb.i(I::F32x4Mul);
        push_c(fb);
        fb.i(I::F32x4Add);
    }
}

/// `c[0] + c[1] x + ...` on f32x4.
fn vhorner(fb: &mut Fb, fma: bool, x: u32, c: &[f32]) {
    let n = c.len();
    splat(fb, c[n - 1]);
    for &ci in c[..n - 1].iter().rev() {
        fb.get(x);
        madd(fb, fma, false, |fb| splat(fb, ci));
    }
}

/// `select(a, b, mask)` with a, b and a comparison mask on the stack.
fn sel(fb: &mut Fb) {
    fb.i(I::V128Bitselect);
}

/// 2^k for i32x4 k in [-126, 127].
fn vpow2(fb: &mut Fb, k: u32) {
    fb.get(k);
    isplat(fb, 127);
    fb.i(I::I32x4Add).i32c(23).i(I::I32x4Shl);
}

/// Emits the body of a vector helper (`VExp`, `VLog`, `VSin`, `VCos`, ...)
/// for the arguments in locals `args` (`VAtan2`: y, x), leaving the result
/// on the stack.
pub(crate) fn emit(h: H, fb: &mut Fb, hs: &mut dyn Helpers, args: &[u32]) {
    let x = args[0];
    match h {
        H::VExp => exp(fb, hs.fma(), x, false),
        H::VExp2 => exp(fb, hs.fma(), x, true),
        H::VExpm1 => expm1(fb, hs.fma(), x),
        H::VLog => log(fb, hs.fma(), x, false),
        H::VLog2 => log(fb, hs.fma(), x, true),
        H::VLog1p => log1p(fb, hs.fma(), x),
        H::VSinh => sinh_cosh(fb, hs.fma(), x, false),
        H::VCosh => sinh_cosh(fb, hs.fma(), x, true),
        H::VTanh => tanh(fb, hs.fma(), x),
        H::VErf => erf(fb, hs.fma(), x),
        H::VSin => sincos(fb, hs, x, false),
        H::VCos => sincos(fb, hs, x, true),
        H::VTan => tan(fb, hs, x),
        H::VAtan => in_f64(fb, &[x], |fb, d| atan_d(fb, hs.fma(), d[0])),
        H::VAsin => asin_acos(fb, hs.fma(), x, false),
        H::VAcos => asin_acos(fb, hs.fma(), x, true),
        H::VAtan2 => atan2(fb, hs, args[0], args[1]),
        H::VErfc => in_f64(fb, &[x], |fb, d| erfc_d(fb, hs.fma(), d[0])),
        H::VPow => pow(fb, hs, args[0], args[1]),
        H::VFmod => fmod(fb, hs, args[0], args[1]),
        other => unreachable!("{other:?} is not a vector helper"),
    }
}

/// e^x, or 2^x when `base2`.
fn exp(fb: &mut Fb, fma: bool, x: u32, base2: bool) {
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (k, r, ki, k1, p, t) = (l(fb), l(fb), l(fb), l(fb), l(fb), l(fb));
    fb.get(x);
    if !base2 {
        splat(fb, std::f32::consts::LOG2_E);
        fb.i(I::F32x4Mul);
    }
    round_via(fb, t);
    fb.set(k);
    if base2 {
        // r = (x - k) ln 2: the difference is exact, the product's rounding
        // a third of an ULP of e^r
        fb.get(x).get(k).i(I::F32x4Sub);
        splat(fb, std::f32::consts::LN_2);
        fb.i(I::F32x4Mul).set(r);
    } else {
        reduce_ln2(fb, fma, x, k, r);
    }
    // 1 + (r + r^2 Q(r))
    fb.get(r).get(r).i(I::F32x4Mul);
    vhorner(fb, fma, r, &EXP_Q);
    madd(fb, fma, false, |fb| {
        fb.get(r);
    });
    splat(fb, 1.0);
    fb.i(I::F32x4Add).set(p);
    // Every lane |x| < 86 (k in [-124, 124]): p 2^k is normal, so adding k
    // to p's exponent bits is the exact product, the same bits the general
    // two-step scaling gives. NaN lanes fail the test.
    // (2^x: the same bounds in units of ln 2)
    fb.get(x).i(I::F32x4Abs);
    splat(fb, if base2 { 124.0 } else { 86.0 });
    fb.i(I::F32x4Lt)
        .i(I::I32x4AllTrue)
        .i(I::If(BlockType::Result(V::V128)));
    fb.get(p).get(t);
    isplat(fb, ROUNDER.to_bits() as i32);
    fb.i(I::I32x4Sub).i32c(23).i(I::I32x4Shl).i(I::I32x4Add);
    fb.else_();
    // the integer k: |x| > 89 (and NaN) lanes are replaced below
    fb.get(t);
    isplat(fb, ROUNDER.to_bits() as i32);
    fb.i(I::I32x4Sub).set(ki);
    // clamp k so both halves stay normal; out-of-range x is fixed below
    fb.get(ki);
    isplat(fb, -150);
    fb.i(I::I32x4MaxS);
    isplat(fb, 150);
    fb.i(I::I32x4MinS).set(ki);
    fb.get(ki).i32c(1).i(I::I32x4ShrS).set(k1);
    fb.get(p);
    vpow2(fb, k1);
    fb.i(I::F32x4Mul);
    fb.get(ki).get(k1).i(I::I32x4Sub).set(k1);
    vpow2(fb, k1);
    fb.i(I::F32x4Mul).set(p);
    // x > 89: Inf; x < -104: 0 (NaN passes through p)
    splat(fb, f32::INFINITY);
    fb.get(p).get(x);
    splat(fb, if base2 { 128.0 } else { 89.0 });
    fb.i(I::F32x4Gt);
    sel(fb);
    fb.set(p);
    splat(fb, 0.0);
    fb.get(p).get(x);
    splat(fb, if base2 { -150.0 } else { -104.0 });
    fb.i(I::F32x4Lt);
    sel(fb);
    fb.end();
}

/// `r = x - k ln2_hi - k ln2_lo` (the first product is exact).
fn reduce_ln2(fb: &mut Fb, fma: bool, x: u32, k: u32, r: u32) {
    fb.get(k);
    splat(fb, LN2_HI_F);
    madd(fb, fma, true, |fb| {
        fb.get(x);
    });
    fb.set(r);
    fb.get(k);
    splat(fb, LN2_LO_F);
    madd(fb, fma, true, |fb| {
        fb.get(r);
    });
    fb.set(r);
}

/// ln x, or log2 x when `base2`: x = 2^e (1 + f) with 1 + f in
/// [sqrt(1/2), sqrt(2)), and ln(1 + f) = f - f^2/2 + f^3 P(f) (no
/// division). Subnormal lanes are scaled by 2^23, and zero, negative, Inf
/// and NaN lanes replaced, only when a lane is not a positive normal.
fn log(fb: &mut Fb, fma: bool, x: u32, base2: bool) {
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (sub, bits, eoff, ei, e, f, z, hfsq, res) = (
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
    );
    let normal = fb.local(V::I32);
    fb.get(x);
    splat(fb, f32::MIN_POSITIVE);
    fb.i(I::F32x4Ge).get(x);
    splat(fb, f32::INFINITY);
    fb.i(I::F32x4Lt)
        .i(I::V128And)
        .i(I::I32x4AllTrue)
        .set(normal);
    fb.get(x).set(bits);
    isplat(fb, 0);
    fb.set(eoff);
    fb.get(normal).i(I::I32Eqz).if_();
    fb.get(x);
    splat(fb, f32::MIN_POSITIVE);
    fb.i(I::F32x4Lt).set(sub);
    fb.get(x);
    splat(fb, 8_388_608.0);
    fb.i(I::F32x4Mul).get(x).get(sub);
    sel(fb);
    fb.set(bits);
    fb.get(sub);
    isplat(fb, 23);
    fb.i(I::V128And).set(eoff);
    fb.end();
    // e = (bits - bits(sqrt(1/2))) >> 23 (arithmetic); 1 + f = bits - (e << 23)
    fb.get(bits);
    isplat(fb, 0x3f35_04f3);
    fb.i(I::I32x4Sub).i32c(23).i(I::I32x4ShrS).set(ei);
    fb.get(bits).get(ei).i32c(23).i(I::I32x4Shl).i(I::I32x4Sub);
    splat(fb, 1.0);
    fb.i(I::F32x4Sub).set(f);
    fb.get(f).get(f).i(I::F32x4Mul).set(z);
    splat(fb, 0.5);
    fb.get(f).i(I::F32x4Mul).get(f).i(I::F32x4Mul).set(hfsq);
    fb.get(ei).get(eoff).i(I::I32x4Sub);
    fb.i(I::F32x4ConvertI32x4S).set(e);
    // r = f^3 P(f)
    let r = fb.local(V::V128);
    fb.get(f).get(z).i(I::F32x4Mul);
    vhorner(fb, fma, f, &LOG_P);
    fb.i(I::F32x4Mul).set(r);
    if base2 {
        log2_tail(fb, [e, f, hfsq, r, res]);
    } else {
        // e ln2_hi + (f - (hfsq - (r + e ln2_lo)))
        fb.get(e);
        splat(fb, LN2_HI_F);
        fb.i(I::F32x4Mul);
        fb.get(f).get(hfsq).get(r);
        fb.get(e);
        splat(fb, LN2_LO_F);
        fb.i(I::F32x4Mul).i(I::F32x4Add);
        fb.i(I::F32x4Sub).i(I::F32x4Sub);
        fb.i(I::F32x4Add).set(res);
    }
    // specials: x < 0 NaN, 0 -Inf, +Inf, NaN
    fb.get(normal).i(I::I32Eqz).if_();
    let special = |fb: &mut Fb, v: f32, cmp: I<'static>, c: f32| {
        splat(fb, v);
        fb.get(res).get(x);
        splat(fb, c);
        fb.i(cmp);
        sel(fb);
        fb.set(res);
    };
    special(fb, f32::NAN, I::F32x4Lt, 0.0);
    special(fb, f32::NEG_INFINITY, I::F32x4Eq, 0.0);
    special(fb, f32::INFINITY, I::F32x4Eq, f32::INFINITY);
    fb.get(x).get(res).get(x).get(x).i(I::F32x4Ne);
    sel(fb);
    fb.set(res);
    fb.end();
    fb.get(res);
}

/// log2(e) in two parts, the first of 12 bits (exact products with
/// 12-bit values).
const IVLN2_HI: f32 = 1.442_871_1; // 0x3fb8b000
const IVLN2_LO: f32 = -1.760_528_5e-4;

/// log2 x = e + (f - hfsq + r) log2(e) into local `res`, with f - hfsq
/// split into a 12-bit head (its product with the head of log2(e) exact)
/// and a tail, and e added last with its rounding error kept, so the one
/// big product is not rounded twice (from `[e, f, hfsq, r, res]`).
fn log2_tail(fb: &mut Fb, l: [u32; 5]) {
    let [e, f, hfsq, r, res] = l;
    let (hi, lo, vhi, w) = (
        fb.local(V::V128),
        fb.local(V::V128),
        fb.local(V::V128),
        fb.local(V::V128),
    );
    fb.get(f).get(hfsq).i(I::F32x4Sub);
    isplat(fb, 0xffff_f000_u32 as i32);
    fb.i(I::V128And).set(hi);
    fb.get(f).get(hi).i(I::F32x4Sub).get(hfsq).i(I::F32x4Sub);
    fb.get(r).i(I::F32x4Add).set(lo);
    fb.get(hi);
    splat(fb, IVLN2_HI);
    fb.i(I::F32x4Mul).set(vhi);
    // val_lo = (lo + hi) ivln2_lo + lo ivln2_hi + ((e - w) + val_hi)
    fb.get(e).get(vhi).i(I::F32x4Add).set(w);
    fb.get(lo).get(hi).i(I::F32x4Add);
    splat(fb, IVLN2_LO);
    fb.i(I::F32x4Mul).get(lo);
    splat(fb, IVLN2_HI);
    fb.i(I::F32x4Mul).i(I::F32x4Add);
    fb.get(e).get(w).i(I::F32x4Sub).get(vhi).i(I::F32x4Add);
    fb.i(I::F32x4Add).get(w).i(I::F32x4Add).set(res);
}

const LO_TO_HI: [u8; 16] = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const JOIN: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

fn sincos(fb: &mut Fb, hs: &mut dyn Helpers, x: u32, cos: bool) {
    let fma = hs.fma();
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (kf, r, z, s, c, n, v, halves, slow) = (
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        [l(fb), l(fb)],
        l(fb),
    );
    let t = fb.local(V::V128);
    fb.get(x);
    splat(fb, std::f32::consts::FRAC_2_PI);
    fb.i(I::F32x4Mul);
    round_via(fb, t);
    fb.set(kf);
    // r = x - k pi/2 in f64, two lanes at a time
    for (h, &half) in halves.iter().enumerate() {
        let promote = |fb: &mut Fb, v: u32| {
            fb.get(v);
            if h == 1 {
                fb.get(v).i(I::I8x16Shuffle(LO_TO_HI));
            }
            fb.i(I::F64x2PromoteLowF32x4);
        };
        let k64 = fb.local(V::V128);
        promote(fb, kf);
        fb.set(k64);
        promote(fb, x);
        for p in [PIO2_1, PIO2_2] {
            if fma {
                fb.set(half);
                fb.get(k64)
                    .f64c(p)
                    .i(I::F64x2Splat)
                    .get(half)
                    .i(I::F64x2RelaxedNmadd);
            } else {
                fb.get(k64)
                    .f64c(p)
                    .i(I::F64x2Splat)
                    .i(I::F64x2Mul)
                    .i(I::F64x2Sub);
            }
        }
        fb.i(I::F32x4DemoteF64x2Zero).set(half);
    }
    fb.get(halves[0])
        .get(halves[1])
        .i(I::I8x16Shuffle(JOIN))
        .set(r);
    // k mod 4 from the low bits (lanes with |x| >= 1e6 take the slow path)
    fb.get(t);
    isplat(fb, 3);
    fb.i(I::V128And).set(n);
    fb.get(r).get(r).i(I::F32x4Mul).set(z);
    // sin r = r + r z S(z); cos r = (1 - z/2) + z^2 C(z)
    fb.get(r).get(z).i(I::F32x4Mul);
    vhorner(fb, fma, z, &SIN_S);
    madd(fb, fma, false, |fb| {
        fb.get(r);
    });
    fb.set(s);
    fb.get(z).get(z).i(I::F32x4Mul);
    vhorner(fb, fma, z, &COS_C);
    madd(fb, fma, false, |fb| {
        // 1 - z/2 carries most of cos r: fused, it is 1 - (r/2) r with the
        // exact square instead of the rounded z
        if fma {
            fb.get(r);
            splat(fb, 0.5);
            fb.i(I::F32x4Mul).get(r);
        } else {
            splat(fb, 0.5);
            fb.get(z);
        }
        madd(fb, fma, true, |fb| splat(fb, 1.0));
    });
    fb.set(c);
    // quadrant: odd n swaps sin and cos; the sign flips by n (sin) or n+1 (cos)
    let (a, b) = if cos { (s, c) } else { (c, s) };
    fb.get(a).get(b);
    fb.get(n);
    isplat(fb, 1);
    fb.i(I::V128And);
    isplat(fb, 0);
    fb.i(I::I32x4Ne);
    sel(fb);
    fb.get(n);
    if cos {
        isplat(fb, 1);
        fb.i(I::I32x4Add);
    }
    isplat(fb, 2);
    fb.i(I::V128And)
        .i32c(30)
        .i(I::I32x4Shl)
        .i(I::V128Xor)
        .set(v);
    if !cos {
        // tiny x: sin x = x (keeps -0)
        fb.get(x).get(v).get(x).i(I::F32x4Abs);
        splat(fb, 2.4414062e-4);
        fb.i(I::F32x4Lt);
        sel(fb);
        fb.set(v);
    }
    // |x| >= 1e6, Inf, NaN: the scalar f64 helper, lane by lane
    fb.get(x).i(I::F32x4Abs);
    splat(fb, 1.0e6);
    fb.i(I::F32x4Lt).i(I::V128Not).set(slow);
    scalar_lanes(fb, hs, if cos { H::Cos } else { H::Sin }, slow, v, &[x]);
    fb.get(v);
}

/// Replaces the lanes of local `v` where local `mask` is set by the
/// scalar f64 helper `h` of the same lanes of `args` (f32x4 locals).
fn scalar_lanes(fb: &mut Fb, hs: &mut dyn Helpers, h: H, mask: u32, v: u32, args: &[u32]) {
    let lane = fb.local(V::I32);
    fb.get(mask).i(I::V128AnyTrue).if_();
    let f = hs.helper(h);
    for ln in 0..4u8 {
        fb.get(mask).i(I::I32x4ExtractLane(ln)).set(lane);
        fb.get(lane).if_();
        fb.get(v);
        for &a in args {
            fb.get(a).i(I::F32x4ExtractLane(ln)).i(I::F64PromoteF32);
        }
        fb.i(I::Call(f)).i(I::F32DemoteF64);
        fb.i(I::F32x4ReplaceLane(ln)).set(v);
        fb.end();
    }
    fb.end();
}

/// A new local holding |x|.
fn abs_to(fb: &mut Fb, x: u32) -> u32 {
    let a = fb.local(V::V128);
    fb.get(x).i(I::F32x4Abs).set(a);
    a
}

/// The value on the stack with the sign of local `x`.
fn copysign(fb: &mut Fb, x: u32) {
    let v = fb.local(V::V128);
    fb.set(v).get(x).get(v);
    isplat(fb, i32::MIN);
    sel(fb);
}

/// e^x - 1: `2^k q + (2^k - 1)` with `q = e^r - 1` the exp polynomial
/// without its leading 1, so small results keep their relative accuracy.
/// For k > 24 the -1 vanishes and it is exp's two-step scaling.
fn expm1(fb: &mut Fb, fma: bool, x: u32) {
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (xc, k, r, t, q, ki, kk, s, res) = (
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
        l(fb),
    );
    // e^-25 is below half an ULP of -1; past 89 everything overflows
    // (pmin/pmax: one instruction, and NaN still passes)
    fb.get(x);
    splat(fb, -25.0);
    fb.i(I::F32x4PMax);
    splat(fb, 89.0);
    fb.i(I::F32x4PMin).set(xc);
    fb.get(xc);
    splat(fb, std::f32::consts::LOG2_E);
    fb.i(I::F32x4Mul);
    round_via(fb, t);
    fb.set(k);
    reduce_ln2(fb, fma, xc, k, r);
    fb.get(r).get(r).i(I::F32x4Mul);
    vhorner(fb, fma, r, &EXP_Q);
    madd(fb, fma, false, |fb| {
        fb.get(r);
    });
    fb.set(q);
    fb.get(t);
    isplat(fb, ROUNDER.to_bits() as i32);
    fb.i(I::I32x4Sub).set(ki);
    // k <= 24: 2^k - 1 is exact
    fb.get(ki);
    isplat(fb, 24);
    fb.i(I::I32x4MinS).set(kk);
    vpow2(fb, kk);
    fb.set(s);
    fb.get(s).get(q);
    madd(fb, fma, false, |fb| {
        fb.get(s);
        splat(fb, 1.0);
        fb.i(I::F32x4Sub);
    });
    fb.set(res);
    // k > 24 (k <= 129): (1 + q) 2^(k/2) 2^(k - k/2)
    fb.get(q);
    splat(fb, 1.0);
    fb.i(I::F32x4Add);
    fb.get(ki).i32c(1).i(I::I32x4ShrS).set(kk);
    vpow2(fb, kk);
    fb.i(I::F32x4Mul);
    fb.get(ki).get(kk).i(I::I32x4Sub).set(kk);
    vpow2(fb, kk);
    fb.i(I::F32x4Mul);
    fb.get(res).get(ki);
    isplat(fb, 24);
    fb.i(I::I32x4GtS);
    sel(fb);
    fb.set(res);
    // |x| < 2^-26: x itself (keeps -0 and subnormals)
    fb.get(x).get(res).get(x).i(I::F32x4Abs);
    splat(fb, 1.490_116_1e-8);
    fb.i(I::F32x4Lt);
    sel(fb);
}

/// tanh x: x + x z T(z), z = x^2, below |x| = 0.625; above, where tanh
/// |x| > 0.55 so that the rounding of the small `2 / (e + 1)` costs under
/// an ULP of the result, 1 - 2 / (e + 1) with e = exp(2 min(|x|, 9))
/// (tanh rounds to 1 from 9). The exp side runs only when a lane needs it.
fn tanh(fb: &mut Fb, fma: bool, x: u32) {
    let a = abs_to(fb, x);
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (z, y, big, res) = (l(fb), l(fb), l(fb), l(fb));
    fb.get(x).get(x).i(I::F32x4Mul).set(z);
    fb.get(x).get(z).i(I::F32x4Mul);
    vhorner(fb, fma, z, &TANH_T);
    madd(fb, fma, false, |fb| {
        fb.get(x);
    });
    fb.set(res);
    fb.get(a);
    splat(fb, 0.625);
    fb.i(I::F32x4Ge).tee(big).i(I::V128AnyTrue).if_();
    fb.get(a);
    splat(fb, 9.0);
    fb.i(I::F32x4PMin).tee(y).get(y).i(I::F32x4Add).set(y);
    splat(fb, 1.0);
    splat(fb, 2.0);
    exp(fb, fma, y, false);
    splat(fb, 1.0);
    fb.i(I::F32x4Add).i(I::F32x4Div).i(I::F32x4Sub);
    fb.get(res).get(big);
    sel(fb);
    fb.set(res);
    fb.end();
    // the sign of x on both sides (fused, the polynomial side loses -0)
    fb.get(res);
    copysign(fb, x);
}

/// sinh |x| = (m + m / (m + 1)) / 2 with m = expm1 |x|; cosh x =
/// (e + 1/e) / 2 with e = exp |x|. Past |x| = 88, where e^|x| overflows
/// before the result does, (e/2) e with e of |x|/2.
fn sinh_cosh(fb: &mut Fb, fma: bool, x: u32, cosh: bool) {
    let a = abs_to(fb, x);
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (big, h, m, e) = (l(fb), l(fb), l(fb), l(fb));
    fb.get(a);
    splat(fb, 88.0);
    fb.i(I::F32x4Gt).set(big);
    fb.get(a);
    splat(fb, 0.5);
    fb.i(I::F32x4Mul).get(a).get(big);
    sel(fb);
    fb.set(h);
    if cosh {
        exp(fb, fma, h, false);
        fb.tee(e);
        splat(fb, 0.5);
        fb.i(I::F32x4Mul);
        splat(fb, 0.5);
        fb.get(e).i(I::F32x4Div).i(I::F32x4Add);
    } else {
        expm1(fb, fma, h);
        fb.tee(m);
        splat(fb, 1.0);
        fb.i(I::F32x4Add).set(e);
        fb.get(m).get(m).get(e).i(I::F32x4Div).i(I::F32x4Add);
        splat(fb, 0.5);
        fb.i(I::F32x4Mul);
    }
    fb.set(m);
    fb.get(e);
    splat(fb, 0.5);
    fb.i(I::F32x4Mul).get(e).i(I::F32x4Mul);
    fb.get(m).get(big);
    sel(fb);
    if !cosh {
        copysign(fb, x);
    }
}

/// log1p x = ln(u) + c / u with u = 1 + x and c = x - (u - 1) the
/// rounding error of u (exact): ln(u + c) to within (c / u)^2. Below
/// u = 0.5, where u is exact and c = 0, the divisor is 1, so x = -1 gives
/// -Inf rather than NaN; x = +Inf, where c is NaN, and u = 1 (x = -0) are
/// x itself.
fn log1p(fb: &mut Fb, fma: bool, x: u32) {
    let (u, res) = (fb.local(V::V128), fb.local(V::V128));
    fb.get(x);
    splat(fb, 1.0);
    fb.i(I::F32x4Add).set(u);
    log(fb, fma, u, false);
    fb.get(x).get(u);
    splat(fb, 1.0);
    fb.i(I::F32x4Sub).i(I::F32x4Sub);
    fb.get(u);
    splat(fb, 1.0);
    fb.get(u);
    splat(fb, 0.5);
    fb.i(I::F32x4Ge);
    sel(fb);
    fb.i(I::F32x4Div).i(I::F32x4Add).set(res);
    // x itself where u = 1 (keeps -0) and at +Inf
    fb.get(x).get(res).get(x);
    splat(fb, f32::INFINITY);
    fb.i(I::F32x4Eq).get(u);
    splat(fb, 1.0);
    fb.i(I::F32x4Eq).i(I::V128Or);
    sel(fb);
}

/// erf |x|: |x| P(x^2) below 1, else 1 - exp(Q(min(|x|, 4) - 2.5)) (the
/// exp side only when a lane needs it).
fn erf(fb: &mut Fb, fma: bool, x: u32) {
    let a = abs_to(fb, x);
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (z, u, q, big, res) = (l(fb), l(fb), l(fb), l(fb), l(fb));
    fb.get(a).get(a).i(I::F32x4Mul).set(z);
    vhorner(fb, fma, z, &ERF_P);
    fb.get(a).i(I::F32x4Mul).set(res);
    fb.get(a);
    splat(fb, 1.0);
    fb.i(I::F32x4Ge).tee(big).i(I::V128AnyTrue).if_();
    fb.get(a);
    splat(fb, 4.0);
    fb.i(I::F32x4PMin);
    splat(fb, 2.5);
    fb.i(I::F32x4Sub).set(u);
    vhorner(fb, fma, u, &ERF_Q);
    fb.set(q);
    splat(fb, 1.0);
    exp(fb, fma, q, false);
    fb.i(I::F32x4Sub);
    fb.get(res).get(big);
    sel(fb);
    fb.set(res);
    fb.end();
    fb.get(res);
    copysign(fb, x);
}

// ---- f64x2: tan, atan, asin, acos, atan2 ----------------------------------
//
// These compute in f64, two lanes at a time, with polynomials of f32 grade
// (relative error below 1e-10): the f64 result is within 1e-10 of the
// truth, so its rounding to f32 is the correctly rounded f32 or, within
// 1e-10 of a tie, its neighbour — the 1 ULP bound of the scalar f64
// helpers, at a fraction of their cost (no table, no lane-by-lane calls).

/// atan(t) = t + t z A(z), z = t^2, on |t| <= tan(pi/8) (relative error
/// 2.3e-11).
const ATAN_A: [f64; 6] = [
    -0.333_333_324_990_519_65,
    0.199_999_039_012_637_57,
    -0.142_820_075_669_798_5,
    0.110_446_893_071_587_06,
    -0.084_762_567_165_744_66,
    0.047_440_235_085_169_126,
];
/// sin(r) = r + r z S(z) on |r| <= pi/4 (relative error 5.2e-12).
const SIN_D: [f64; 4] = [
    -0.166_666_666_407_891_82,
    0.008_333_329_304_026_227,
    -1.983_931_203_829_497_3e-4,
    2.718_119_699_681_689_4e-6,
];
/// cos(r) = 1 + z C(z) on |r| <= pi/4 (relative error 6.4e-11).
const COS_D: [f64; 4] = [
    -0.499_999_996_929_143_9,
    0.041_666_620_198_808_07,
    -0.001_388_667_731_408_752_5,
    2.438_321_636_521_945_2e-5,
];
/// Third part of pi/2 after `PIO2_1` and `PIO2_2` (33 bits each: their
/// products with |k| < 2^20 are exact).
const PIO2_3: f64 = 2.022_266_248_795_950_6e-21;

fn dsplat(fb: &mut Fb, v: f64) {
    fb.f64c(v).i(I::F64x2Splat);
}

/// `c[0] + c[1] x + ...` on f64x2.
fn dhorner(fb: &mut Fb, fma: bool, x: u32, c: &[f64]) {
    let n = c.len();
    dsplat(fb, c[n - 1]);
    for &ci in c[..n - 1].iter().rev() {
        fb.get(x);
        if fma {
            dsplat(fb, ci);
            fb.i(I::F64x2RelaxedMadd);
        } else {
            fb.i(I::F64x2Mul);
            dsplat(fb, ci);
            fb.i(I::F64x2Add);
        }
    }
}

/// Runs `body` on the f32x4 locals `xs` as two halves promoted to f64x2
/// (locals passed to `body`, which leaves an f64x2 on the stack) and
/// leaves the two results demoted and joined as one f32x4.
fn in_f64(fb: &mut Fb, xs: &[u32], mut body: impl FnMut(&mut Fb, &[u32])) {
    let halves = [fb.local(V::V128), fb.local(V::V128)];
    for (h, &half) in halves.iter().enumerate() {
        let ds: Vec<u32> = xs
            .iter()
            .map(|&x| {
                let d = fb.local(V::V128);
                fb.get(x);
                if h == 1 {
                    fb.get(x).i(I::I8x16Shuffle(LO_TO_HI));
                }
                fb.i(I::F64x2PromoteLowF32x4).set(d);
                d
            })
            .collect();
        body(fb, &ds);
        fb.i(I::F32x4DemoteF64x2Zero).set(half);
    }
    fb.get(halves[0]).get(halves[1]).i(I::I8x16Shuffle(JOIN));
}

/// The f64x2 on the stack with the sign of f64x2 local `t`.
fn dcopysign(fb: &mut Fb, t: u32) {
    let v = fb.local(V::V128);
    fb.set(v).get(t).get(v);
    fb.i64c(i64::MIN).i(I::I64x2Splat);
    sel(fb);
}

/// atan of the f64x2 local `t`: |t| above tan(3pi/8) is pi/2 + atan(-1/|t|),
/// above tan(pi/8) pi/4 + atan((|t| - 1)/(|t| + 1)) (one division either
/// way), then the odd polynomial; Inf gives pi/2, NaN NaN.
fn atan_d(fb: &mut Fb, fma: bool, t: u32) {
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (a, big, mid, r, z) = (l(fb), l(fb), l(fb), l(fb), l(fb));
    fb.get(t).i(I::F64x2Abs).set(a);
    fb.get(a);
    dsplat(fb, 2.414_213_562_373_095);
    fb.i(I::F64x2Gt).set(big);
    fb.get(a);
    dsplat(fb, 0.414_213_562_373_095_03);
    fb.i(I::F64x2Gt).set(mid);
    let pick = |fb: &mut Fb, hi: &dyn Fn(&mut Fb), mi: &dyn Fn(&mut Fb), lo: &dyn Fn(&mut Fb)| {
        hi(fb);
        mi(fb);
        lo(fb);
        fb.get(mid);
        sel(fb);
        fb.get(big);
        sel(fb);
    };
    // numerator: -1, |t| - 1, |t|
    pick(
        fb,
        &|fb| dsplat(fb, -1.0),
        &|fb| {
            fb.get(a);
            dsplat(fb, 1.0);
            fb.i(I::F64x2Sub);
        },
        &|fb| {
            fb.get(a);
        },
    );
    // denominator: |t|, |t| + 1, 1
    pick(
        fb,
        &|fb| {
            fb.get(a);
        },
        &|fb| {
            fb.get(a);
            dsplat(fb, 1.0);
            fb.i(I::F64x2Add);
        },
        &|fb| dsplat(fb, 1.0),
    );
    fb.i(I::F64x2Div).set(r);
    pick(
        fb,
        &|fb| dsplat(fb, std::f64::consts::FRAC_PI_2),
        &|fb| dsplat(fb, std::f64::consts::FRAC_PI_4),
        &|fb| dsplat(fb, 0.0),
    );
    fb.get(r).get(r).i(I::F64x2Mul).set(z);
    fb.get(r).get(z).i(I::F64x2Mul);
    dhorner(fb, fma, z, &ATAN_A);
    fb.i(I::F64x2Mul).get(r).i(I::F64x2Add);
    fb.i(I::F64x2Add);
    dcopysign(fb, t);
}

/// asin x = atan(x / sqrt((1 - x)(1 + x))), acos x = 2 atan(sqrt((1 - x) /
/// (1 + x))): the differences and the product are exact in f64; |x| > 1
/// gives NaN through the square root, x = -1 acos pi through Inf.
fn asin_acos(fb: &mut Fb, fma: bool, x: u32, acos: bool) {
    in_f64(fb, &[x], |fb, d| {
        let t = fb.local(V::V128);
        if !acos {
            fb.get(d[0]);
        }
        dsplat(fb, 1.0);
        fb.get(d[0]).i(I::F64x2Sub);
        dsplat(fb, 1.0);
        fb.get(d[0]).i(I::F64x2Add);
        if acos {
            fb.i(I::F64x2Div).i(I::F64x2Sqrt).set(t);
        } else {
            fb.i(I::F64x2Mul).i(I::F64x2Sqrt).i(I::F64x2Div).set(t);
        }
        atan_d(fb, fma, t);
        if acos {
            fb.set(t).get(t).get(t).i(I::F64x2Add);
        }
    });
}

/// atan2(y, x) = atan(y / x), plus pi with the sign of y where x has its
/// sign bit set (the quotient is exact enough in f64, and cannot overflow
/// for f32 operands). Where it is 0/0 or Inf/Inf the scalar f64 helper
/// gives the IEEE values.
fn atan2(fb: &mut Fb, hs: &mut dyn Helpers, y: u32, x: u32) {
    let fma = hs.fma();
    let (v, slow) = (fb.local(V::V128), fb.local(V::V128));
    in_f64(fb, &[y, x], |fb, d| {
        let (q, a) = (fb.local(V::V128), fb.local(V::V128));
        fb.get(d[0]).get(d[1]).i(I::F64x2Div).set(q);
        atan_d(fb, fma, q);
        // + copysign(pi, y) where x is negative (or -0); elsewhere the
        // atan itself (adding 0 would turn -0 into +0)
        fb.tee(a);
        dsplat(fb, std::f64::consts::PI);
        dcopysign(fb, d[0]);
        fb.i(I::F64x2Add).get(a);
        fb.get(d[1]).i32c(63).i(I::I64x2ShrS);
        sel(fb);
    });
    fb.set(v);
    let both = |fb: &mut Fb, v: f32, cmp: I<'static>| {
        for a in [y, x] {
            fb.get(a).i(I::F32x4Abs);
            splat(fb, v);
            fb.i(cmp.clone());
        }
        fb.i(I::V128And);
    };
    both(fb, 0.0, I::F32x4Eq);
    both(fb, f32::INFINITY, I::F32x4Eq);
    fb.i(I::V128Or).set(slow);
    scalar_lanes(fb, hs, H::Atan2, slow, v, &[y, x]);
    fb.get(v);
}

/// tan x: r = x - k pi/2 in f64 (three parts of pi/2, exact products for
/// |k| < 2^20), sin and cos of r by polynomials, and s / c or -c / s by
/// the parity of k. Tiny x is x (keeps -0); |x| >= 1e6, Inf and NaN take
/// the scalar f64 helper.
fn tan(fb: &mut Fb, hs: &mut dyn Helpers, x: u32) {
    let fma = hs.fma();
    let (v, slow) = (fb.local(V::V128), fb.local(V::V128));
    in_f64(fb, &[x], |fb, d| {
        let l = |fb: &mut Fb| fb.local(V::V128);
        let (k, r, z, s, c, even) = (l(fb), l(fb), l(fb), l(fb), l(fb), l(fb));
        fb.get(d[0]);
        dsplat(fb, std::f64::consts::FRAC_2_PI);
        fb.i(I::F64x2Mul).i(I::F64x2Nearest).set(k);
        fb.get(d[0]);
        for p in [PIO2_1, PIO2_2, PIO2_3] {
            fb.get(k);
            dsplat(fb, p);
            fb.i(I::F64x2Mul).i(I::F64x2Sub);
        }
        fb.set(r);
        fb.get(r).get(r).i(I::F64x2Mul).set(z);
        fb.get(r).get(z).i(I::F64x2Mul);
        dhorner(fb, fma, z, &SIN_D);
        fb.i(I::F64x2Mul).get(r).i(I::F64x2Add).set(s);
        fb.get(z);
        dhorner(fb, fma, z, &COS_D);
        fb.i(I::F64x2Mul);
        dsplat(fb, 1.0);
        fb.i(I::F64x2Add).set(c);
        // k even: lanes of the i64 (k & 1) == 0
        fb.get(k)
            .i(I::I32x4TruncSatF64x2SZero)
            .i(I::I64x2ExtendLowI32x4S);
        fb.i64c(1).i(I::I64x2Splat).i(I::V128And);
        fb.i64c(0).i(I::I64x2Splat).i(I::I64x2Eq).set(even);
        fb.get(s).get(c).i(I::F64x2Neg).get(even);
        sel(fb);
        fb.get(c).get(s).get(even);
        sel(fb);
        fb.i(I::F64x2Div);
    });
    fb.set(v);
    fb.get(x).get(v).get(x).i(I::F32x4Abs);
    splat(fb, 2.441_406_2e-4);
    fb.i(I::F32x4Lt);
    sel(fb);
    fb.set(v);
    fb.get(x).i(I::F32x4Abs);
    splat(fb, 1.0e6);
    fb.i(I::F32x4Lt).i(I::V128Not).set(slow);
    scalar_lanes(fb, hs, H::Tan, slow, v, &[x]);
    fb.get(v);
}

/// erfc(x) = exp(-x^2) R(u) on [0.5, 10.1] with u = (1/(1 + x) - C) / H
/// mapping the interval to [-1, 1] (relative error 3.4e-10); erfc
/// underflows f32 beyond 10.1.
const ERFC_R: [f64; 13] = [
    0.299_674_089_061_172_16,
    0.289_427_051_950_389_3,
    0.037_100_949_952_286_71,
    -0.010_347_208_220_234_664,
    -9.954_057_300_790_85e-4,
    0.001_036_016_334_091_209,
    -1.812_933_027_322_747e-4,
    -5.813_241_824_070_399e-5,
    4.547_979_350_121_416e-5,
    -1.014_528_853_253_981e-5,
    -3.174_554_029_570_614e-6,
    2.346_347_642_943_748_6e-6,
    -2.295_244_857_566_306_5e-7,
];
const ERFC_C: f64 = (1.0 / 1.5 + 1.0 / 11.1) / 2.0;
const ERFC_H: f64 = (1.0 / 1.5 - 1.0 / 11.1) / 2.0;

/// e^v for the f64x2 local `v`, |v| <= 700: v = k ln 2 + r (two-part ln 2,
/// exact products), the Taylor series of e^r to r^11 (relative error 2e-13
/// on |r| <= ln2/2), and k added to the exponent bits.
fn exp_d(fb: &mut Fb, fma: bool, v: u32) {
    let (k, r) = (fb.local(V::V128), fb.local(V::V128));
    fb.get(v);
    dsplat(fb, std::f64::consts::LOG2_E);
    fb.i(I::F64x2Mul).i(I::F64x2Nearest).set(k);
    fb.get(v);
    for p in [LN2_HI, LN2_LO] {
        fb.get(k);
        dsplat(fb, p);
        fb.i(I::F64x2Mul).i(I::F64x2Sub);
    }
    fb.set(r);
    let mut c = [1.0f64; 12];
    for i in 1..12 {
        c[i] = c[i - 1] / i as f64;
    }
    dhorner(fb, fma, r, &c);
    fb.get(k)
        .i(I::I32x4TruncSatF64x2SZero)
        .i(I::I64x2ExtendLowI32x4S)
        .i32c(52)
        .i(I::I64x2Shl)
        .i(I::I64x2Add);
}

/// erfc of the f64x2 local `x` (an f32): 1 - x P(x^2) (erf's Taylor series)
/// below |x| = 0.5, where erfc > 0.47; above, exp(-x^2) R(u) with |x|
/// capped at 10.1 (x^2 is exact), and 2 minus that for negative x.
fn erfc_d(fb: &mut Fb, fma: bool, x: u32) {
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (a, z, t, w, res, near) = (l(fb), l(fb), l(fb), l(fb), l(fb), l(fb));
    fb.get(x).i(I::F64x2Abs).tee(a);
    dsplat(fb, 0.5);
    fb.i(I::F64x2Lt).set(near);
    // each side only where a lane needs it
    fb.get(near).i(I::I64x2AllTrue).i(I::I32Eqz).if_();
    fb.get(a);
    dsplat(fb, 10.1);
    fb.i(I::F64x2PMin).set(t);
    dsplat(fb, 1.0);
    dsplat(fb, 1.0);
    fb.get(t).i(I::F64x2Add).i(I::F64x2Div);
    dsplat(fb, ERFC_C);
    fb.i(I::F64x2Sub);
    dsplat(fb, 1.0 / ERFC_H);
    fb.i(I::F64x2Mul).set(z);
    fb.get(t).get(t).i(I::F64x2Mul).i(I::F64x2Neg).set(w);
    exp_d(fb, fma, w);
    dhorner(fb, fma, z, &ERFC_R);
    fb.i(I::F64x2Mul).set(w);
    // negative x: 2 - erfc(|x|)
    dsplat(fb, 2.0);
    fb.get(w).i(I::F64x2Sub).get(w);
    fb.get(x).i32c(63).i(I::I64x2ShrS);
    sel(fb);
    fb.set(res);
    fb.end();
    fb.get(near).i(I::V128AnyTrue).if_();
    fb.get(x).get(x).i(I::F64x2Mul).set(z);
    dsplat(fb, 1.0);
    fb.get(x);
    dhorner(fb, fma, z, &ERF_TAYLOR[..10]);
    fb.i(I::F64x2Mul).i(I::F64x2Sub);
    fb.get(res).get(near);
    sel(fb);
    fb.set(res);
    fb.end();
    fb.get(res);
}

/// ln of the f64x2 local `x` (a positive finite f32, so normal in f64):
/// x = 2^e m with m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact),
/// s = f / (2 + f), ln m = 2 atanh s = 2s + s z Q(z) with z = s^2 and Q the
/// series to z^7 (relative error 6e-14 for s^2 <= 0.03).
fn log_d(fb: &mut Fb, fma: bool, x: u32) {
    let l = |fb: &mut Fb| fb.local(V::V128);
    let (e, s, z) = (l(fb), l(fb), l(fb));
    fb.get(x);
    fb.i64c(0x3fe6_a09e_667f_3bcd).i(I::I64x2Splat);
    fb.i(I::I64x2Sub).i32c(52).i(I::I64x2ShrS).set(e);
    // f / (2 + f), f = m - 1
    fb.get(x).get(e).i32c(52).i(I::I64x2Shl).i(I::I64x2Sub);
    dsplat(fb, 1.0);
    fb.i(I::F64x2Sub).set(s);
    fb.get(s);
    dsplat(fb, 2.0);
    fb.get(s).i(I::F64x2Add).i(I::F64x2Div).set(s);
    fb.get(s).get(s).i(I::F64x2Mul).set(z);
    let q: Vec<f64> = (1..=7).map(|k| 2.0 / (2 * k + 1) as f64).collect();
    fb.get(s).get(z).i(I::F64x2Mul);
    dhorner(fb, fma, z, &q);
    fb.i(I::F64x2Mul);
    fb.get(s).get(s).i(I::F64x2Add).i(I::F64x2Add);
    // + e ln 2 (e from the i64 lanes' low words)
    fb.get(e)
        .get(e)
        .i(I::I8x16Shuffle([
            0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11,
        ]))
        .i(I::F64x2ConvertLowI32x4S);
    dsplat(fb, std::f64::consts::LN_2);
    fb.i(I::F64x2Mul).i(I::F64x2Add);
}

/// pow(x, y) = exp(y ln x) in f64 where x is positive and finite and y
/// finite (y ln x capped at ±200, beyond f32's range either way); other
/// lanes (x <= 0, Inf, NaN) take the scalar f64 helper.
fn pow(fb: &mut Fb, hs: &mut dyn Helpers, x: u32, y: u32) {
    let fma = hs.fma();
    let (v, slow) = (fb.local(V::V128), fb.local(V::V128));
    in_f64(fb, &[x, y], |fb, d| {
        let w = fb.local(V::V128);
        log_d(fb, fma, d[0]);
        fb.get(d[1]).i(I::F64x2Mul);
        dsplat(fb, -200.0);
        fb.i(I::F64x2PMax);
        dsplat(fb, 200.0);
        fb.i(I::F64x2PMin).set(w);
        exp_d(fb, fma, w);
    });
    fb.set(v);
    fb.get(x);
    splat(fb, 0.0);
    fb.i(I::F32x4Gt).get(x);
    splat(fb, f32::INFINITY);
    fb.i(I::F32x4Lt).i(I::V128And).get(y).i(I::F32x4Abs);
    splat(fb, f32::INFINITY);
    fb.i(I::F32x4Lt).i(I::V128And).i(I::V128Not).set(slow);
    scalar_lanes(fb, hs, H::Pow, slow, v, &[x, y]);
    fb.get(v);
}

/// fmod(x, y), exact (bit for bit C's fmod). Where |x| < 2^28 |y| (an
/// exact test: the product only scales) the f64 quotient |x| / |y|
/// truncates to the integer quotient q: its rounding error, at most 2^-26,
/// is smaller than the distance of a non-integral quotient from the next
/// integer, over 2^-24 since |x| - q |y| is a multiple of |y|'s ULP. Then
/// q |y| (28 + 24 bits) and |x| - q |y|, in [0, |y|) and a multiple of that
/// ULP, are exact in f64 and the result is an f32 with x's sign. |x| < |y|
/// (y = Inf included) is x. The other lanes (y = 0, Inf or NaN x, NaN y,
/// quotients of 2^28 and more) take the scalar helper, which scalar f32
/// code calls too: exact, so the same bits. 4M f32 of fmod(x, 0.7) take
/// 4.5 ms of one thread's CPU, 51 ms lane by lane (`bench -- --cpu-time`).
fn fmod(fb: &mut Fb, hs: &mut dyn Helpers, x: u32, y: u32) {
    let (ax, ay) = (abs_to(fb, x), abs_to(fb, y));
    let (v, slow) = (fb.local(V::V128), fb.local(V::V128));
    in_f64(fb, &[ax, ay], |fb, d| {
        fb.get(d[0]);
        fb.get(d[0]).get(d[1]).i(I::F64x2Div).i(I::F64x2Trunc);
        fb.get(d[1]).i(I::F64x2Mul).i(I::F64x2Sub);
    });
    copysign(fb, x);
    fb.set(v);
    fb.get(x).get(v).get(ax).get(ay).i(I::F32x4Lt);
    sel(fb);
    fb.set(v);
    fb.get(ax).get(ay);
    splat(fb, 268_435_456.0); // 2^28
    fb.i(I::F32x4Mul).i(I::F32x4Lt).i(I::V128Not).set(slow);
    scalar_lanes(fb, hs, H::Fmod, slow, v, &[x, y]);
    fb.get(v);
}
