//! WGSL helper functions the generated kernels call, each with the helpers
//! it depends on. Only the helpers a kernel uses are emitted.
//!
//! Conventions: f16 values live in f32 registers, always holding a value
//! exactly representable in binary16 (`rf16` rounds after every op). Storage
//! buffers are `array<u32>`; narrower elements are extracted from words.
//! Non-finite constants are built from `ZU`, a private variable that is
//! always 0, so that no WGSL constant expression ever evaluates to NaN/Inf or
//! overflows (both are shader-creation errors in WGSL). `ZO` is another 0
//! that the driver cannot see through (`num_workgroups.z - 1`, set at the
//! start of `main`): `opaque(x)` stops drivers that reassociate
//! float arithmetic (Mesa's NIR does) from undoing an exact step.

/// `(name, dependencies, code)`.
pub(crate) const HELPERS: &[(&str, &[&str], &str)] = &[
    (
        "opaque",
        &[],
        "fn opaque(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) | ZO); }",
    ),
    (
        "pow2i",
        &[],
        r#"fn pow2i(k: i32) -> f32 { return bitcast<f32>(u32(k + 127) << 23u); }
// x * 2^k for k in [-300, 300], in two normal steps so that a subnormal
// result is rounded once.
fn scale2(x: f32, k: i32) -> f32 {
    let k1 = clamp(k / 2, -126, 127);
    return x * pow2i(k1) * pow2i(clamp(k - k1, -126, 127));
}"#,
    ),
    (
        "exp_poly",
        &[],
        r#"// e^r for |r| <= 0.35: Taylor series to degree 7 (truncation < 2^-27).
fn exp_poly(r: f32) -> f32 {
    var p = 1.9841270e-4;
    p = p * r + 1.3888889e-3;
    p = p * r + 8.3333333e-3;
    p = p * r + 4.1666667e-2;
    p = p * r + 1.6666667e-1;
    p = p * r + 0.5;
    p = p * r + 1.0;
    return p * r + 1.0;
}"#,
    ),
    (
        "exp_f",
        &["isnan_f", "inff", "exp_poly", "pow2i", "opaque"],
        r#"// e^(a + b) where a + b is in range, a may be large and exact, b small.
fn exp_sum(a: f32, b: f32) -> f32 {
    let n = round((a + b) * 1.4426950);
    // ln 2 = LN2_HI + LN2_LO with n * LN2_HI exact (Cody-Waite).
    // opaque(): keeps the driver from reassociating the exact step.
    let r = (opaque(a - n * 0.693145751953125) + b) - n * 1.4286068e-6;
    return scale2(exp_poly(r), i32(n));
}
fn exp_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    if (x > 88.72284) { return inff(); }
    if (x < -103.97209) { return 0.0; }
    return exp_sum(x, 0.0);
}"#,
    ),
    (
        "exp2_f",
        &["isnan_f", "inff", "exp_poly", "pow2i"],
        r#"fn exp2_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    if (x >= 128.0) { return inff(); }
    if (x < -151.0) { return 0.0; }
    let n = round(x);
    return scale2(exp_poly((x - n) * 0.69314718), i32(n));
}"#,
    ),
    (
        "log1p_core",
        &[],
        r#"// log(1 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1]: 2 atanh(s) with
// s = f / (2 + f), written as f - hfsq + s (hfsq + R(s^2)) so that the
// exact f carries the bulk.
fn log1p_core(f: f32) -> f32 {
    let s = f / (2.0 + f);
    let z = s * s;
    var r = 0.18181818;
    r = r * z + 0.22222222;
    r = r * z + 0.28571429;
    r = r * z + 0.4;
    r = r * z + 0.66666667;
    r = r * z;
    let hfsq = 0.5 * f * f;
    return f - (hfsq - s * (hfsq + r));
}"#,
    ),
    (
        "log_parts",
        &["log1p_core"],
        r#"// For finite x > 0: (e, log(m)) with x = m 2^e, m in [sqrt(1/2), sqrt(2)).
fn log_parts(x: f32) -> vec2<f32> {
    var b = bitcast<u32>(x);
    var e = 0;
    if (b < 0x00800000u) {
        b = bitcast<u32>(x * 8388608.0);
        e = -23;
    }
    e = e + i32(b >> 23u) - 127;
    var m = bitcast<f32>((b & 0x007fffffu) | 0x3f800000u);
    if (m > 1.4142135) {
        m = m * 0.5;
        e = e + 1;
    }
    return vec2<f32>(f32(e), log1p_core(m - 1.0));
}"#,
    ),
    (
        "log_f",
        &["isnan_f", "nanf", "inff", "log_parts"],
        r#"fn log_f(x: f32) -> f32 {
    if (isnan_f(x) || x < 0.0) { return nanf(); }
    if (x == 0.0) { return -inff(); }
    if (x == inff()) { return x; }
    let p = log_parts(x);
    return p.x * 0.693145751953125 + (p.x * 1.4286068e-6 + p.y);
}"#,
    ),
    (
        "log2_f",
        &["isnan_f", "nanf", "inff", "log_parts"],
        r#"fn log2_f(x: f32) -> f32 {
    if (isnan_f(x) || x < 0.0) { return nanf(); }
    if (x == 0.0) { return -inff(); }
    if (x == inff()) { return x; }
    let p = log_parts(x);
    return p.x + p.y * 1.4426950;
}"#,
    ),
    (
        "mul_wide",
        &[],
        r#"// The 64-bit product of two u32 as (low, high).
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return vec2<u32>((p00 & 0xffffu) | (mid << 16u), a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}"#,
    ),
    (
        "trig_red",
        &["mul_wide", "pow2i"],
        r#"struct Red {
    r: f32,
    q: u32,
}
// Reduces a finite x >= 0 to r in [-pi/4, pi/4] and the quadrant q (mod 4)
// with x = r + q pi/2: exact integer arithmetic on the bits of 2/pi
// (Payne-Hanek), good for every f32.
fn trig_red(x: f32) -> Red {
    if (x <= 0.78539816) { return Red(x, 0u); }
    let twoopi = array<u32, 8>(0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u, 0x3c439041u, 0xfe5163abu, 0xdebbc561u);
    let b = bitcast<u32>(x);
    let m = (b & 0x7fffffu) | 0x800000u;
    let s = i32(b >> 23u) - 150;
    var i0 = 0;
    if (s > 44) { i0 = (s - 44 + 31) / 32; }
    let w0 = mul_wide(m, twoopi[i0]);
    let w1 = mul_wide(m, twoopi[i0 + 1]);
    let w2 = mul_wide(m, twoopi[i0 + 2]);
    let w3 = mul_wide(m, twoopi[i0 + 3]);
    // p = m * (four words of 2/pi), 160 bits, least significant first.
    var p = array<u32, 5>(w3.x, 0u, 0u, 0u, 0u);
    let t1 = w3.y + w2.x;
    var c = select(0u, 1u, t1 < w2.x);
    p[1] = t1;
    let t2 = w2.y + w1.x;
    let c2 = select(0u, 1u, t2 < w1.x);
    p[2] = t2 + c;
    c = c2 + select(0u, 1u, p[2] < c);
    let t3 = w1.y + w0.x;
    let c3 = select(0u, 1u, t3 < w0.x);
    p[3] = t3 + c;
    c = c3 + select(0u, 1u, p[3] < c);
    p[4] = w0.y + c;
    // X = 64 bits of p starting at bit sh: 2 integer bits (mod 4), 62
    // fraction bits.
    let sh = u32(32 * i0 + 66 - s);
    let wi = sh / 32u;
    let bb = sh % 32u;
    var lo = p[wi] >> bb;
    var hi = p[wi + 1u] >> bb;
    if (bb != 0u) {
        lo = lo | (p[wi + 1u] << (32u - bb));
        hi = hi | (p[wi + 2u] << (32u - bb));
    }
    var q = hi >> 30u;
    hi = hi & 0x3fffffffu;
    var neg = false;
    if ((hi & 0x20000000u) != 0u) {
        q = q + 1u;
        neg = true;
        lo = ~lo + 1u;
        hi = (~hi + select(0u, 1u, lo == 0u)) & 0x3fffffffu;
    }
    var r = 0.0;
    if (hi != 0u || lo != 0u) {
        var l: u32;
        var t: u32;
        if (hi != 0u) {
            l = countLeadingZeros(hi);
            t = (hi << l) | (lo >> (32u - l));
        } else {
            l = 32u + countLeadingZeros(lo);
            t = lo << (l - 32u);
        }
        let th = f32(t & 0xffffff00u);
        let tl = f32(t & 0xffu);
        let v = th * 1.5707964 + (th * -4.3711390e-8 + tl * 1.5707964);
        r = scale2(v, -30 - i32(l));
    }
    if (neg) { r = -r; }
    return Red(r, q & 3u);
}"#,
    ),
    (
        "sin_poly",
        &[],
        r#"fn sin_poly(r: f32) -> f32 {
    let z = r * r;
    var p = 2.7557319e-6;
    p = p * z - 1.9841270e-4;
    p = p * z + 8.3333333e-3;
    p = p * z - 1.6666667e-1;
    return r + r * z * p;
}
fn cos_poly(r: f32) -> f32 {
    let z = r * r;
    var p = -2.7557319e-7;
    p = p * z + 2.4801587e-5;
    p = p * z - 1.3888889e-3;
    p = p * z + 4.1666667e-2;
    return (1.0 - 0.5 * z) + z * z * p;
}"#,
    ),
    (
        "sin_f",
        &[
            "isnan_f", "isinf_f", "nanf", "trig_red", "sin_poly", "signbit",
        ],
        r#"fn sin_f(x: f32) -> f32 {
    if (isnan_f(x) || isinf_f(x)) { return nanf(); }
    let red = trig_red(abs(x));
    var v: f32;
    switch red.q {
        case 0u: { v = sin_poly(red.r); }
        case 1u: { v = cos_poly(red.r); }
        case 2u: { v = -sin_poly(red.r); }
        default: { v = -cos_poly(red.r); }
    }
    return select(v, -v, signbit(x));
}"#,
    ),
    (
        "cos_f",
        &["isnan_f", "isinf_f", "nanf", "trig_red", "sin_poly"],
        r#"fn cos_f(x: f32) -> f32 {
    if (isnan_f(x) || isinf_f(x)) { return nanf(); }
    let red = trig_red(abs(x));
    switch red.q {
        case 0u: { return cos_poly(red.r); }
        case 1u: { return -sin_poly(red.r); }
        case 2u: { return -cos_poly(red.r); }
        default: { return sin_poly(red.r); }
    }
}"#,
    ),
    (
        "tan_f",
        &[
            "isnan_f", "isinf_f", "nanf", "trig_red", "sin_poly", "signbit",
        ],
        r#"fn tan_f(x: f32) -> f32 {
    if (isnan_f(x) || isinf_f(x)) { return nanf(); }
    let red = trig_red(abs(x));
    let s = sin_poly(red.r);
    let c = cos_poly(red.r);
    var v = s / c;
    if ((red.q & 1u) == 1u) { v = -c / s; }
    return select(v, -v, signbit(x));
}"#,
    ),
    (
        "atan_core",
        &[],
        r#"// atan of t >= 0 (or +inf).
fn atan_core(t: f32) -> f32 {
    var a = t;
    var flip = false;
    if (a > 1.0) {
        a = 1.0 / a;
        flip = true;
    }
    var quarter = false;
    if (a > 0.41421356) {
        a = (a - 1.0) / (a + 1.0);
        quarter = true;
    }
    let z = a * a;
    var p = -5.2631579e-2;
    p = p * z + 5.8823529e-2;
    p = p * z - 6.6666667e-2;
    p = p * z + 7.6923077e-2;
    p = p * z - 9.0909091e-2;
    p = p * z + 1.1111111e-1;
    p = p * z - 1.4285714e-1;
    p = p * z + 2.0e-1;
    p = p * z - 3.3333333e-1;
    var r = a + a * z * p;
    if (quarter) { r = 0.78539819 + (r - 2.1855695e-8); }
    if (flip) { r = (1.5707964 - r) - 4.3711390e-8; }
    return r;
}"#,
    ),
    (
        "atan_f",
        &["isnan_f", "atan_core", "copysign_f"],
        r#"fn atan_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    return copysign_f(atan_core(abs(x)), x);
}"#,
    ),
    (
        "atan2_f",
        &[
            "isnan_f",
            "isinf_f",
            "nanf",
            "signbit",
            "copysign_f",
            "atan_core",
        ],
        r#"fn atan2_f(y: f32, x: f32) -> f32 {
    if (isnan_f(x) || isnan_f(y)) { return nanf(); }
    if (y == 0.0) {
        if (signbit(x)) { return copysign_f(3.1415927, y); }
        return y;
    }
    if (isinf_f(x)) {
        if (isinf_f(y)) {
            if (x > 0.0) { return copysign_f(0.78539819, y); }
            return copysign_f(2.3561945, y);
        }
        if (x > 0.0) { return copysign_f(0.0, y); }
        return copysign_f(3.1415927, y);
    }
    if (isinf_f(y) || x == 0.0) { return copysign_f(1.5707964, y); }
    let ax = abs(x);
    let ay = abs(y);
    var a: f32;
    if (ay > ax) {
        a = (1.5707964 - atan_core(ax / ay)) - 4.3711390e-8;
    } else {
        a = atan_core(ay / ax);
    }
    if (x < 0.0) { a = (3.1415927 - a) - 8.7422777e-8; }
    return copysign_f(a, y);
}"#,
    ),
    (
        "asin_f",
        &["isnan_f", "nanf", "atan2_f"],
        r#"fn asin_f(x: f32) -> f32 {
    if (isnan_f(x) || abs(x) > 1.0) { return nanf(); }
    return atan2_f(x, sqrt((1.0 - x) * (1.0 + x)));
}"#,
    ),
    (
        "acos_f",
        &["isnan_f", "nanf", "atan2_f"],
        r#"fn acos_f(x: f32) -> f32 {
    if (isnan_f(x) || abs(x) > 1.0) { return nanf(); }
    return atan2_f(sqrt((1.0 - x) * (1.0 + x)), x);
}"#,
    ),
    (
        "isnan_f",
        &[],
        "fn isnan_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }",
    ),
    (
        "isinf_f",
        &[],
        "fn isinf_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }",
    ),
    (
        "nanf",
        &[],
        "fn nanf() -> f32 { return bitcast<f32>(0x7fc00000u | ZU); }",
    ),
    (
        "inff",
        &[],
        "fn inff() -> f32 { return bitcast<f32>(0x7f800000u | ZU); }",
    ),
    (
        "abs_f",
        &[],
        "fn abs_f(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) & 0x7fffffffu); }",
    ),
    (
        "signbit",
        &[],
        "fn signbit(x: f32) -> bool { return (bitcast<u32>(x) & 0x80000000u) != 0u; }",
    ),
    (
        "copysign_f",
        &[],
        "fn copysign_f(x: f32, s: f32) -> f32 { return bitcast<f32>((bitcast<u32>(x) & 0x7fffffffu) | (bitcast<u32>(s) & 0x80000000u)); }",
    ),
    (
        "f32_to_f16_bits",
        &[],
        r#"fn f32_to_f16_bits(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    let s = (b >> 16u) & 0x8000u;
    let a = b & 0x7fffffffu;
    if (a > 0x7f800000u) { return s | 0x7e00u | ((a >> 13u) & 0x3ffu); }
    if (a >= 0x477ff000u) { return s | 0x7c00u; }
    if (a >= 0x38800000u) {
        let m = a - 0x38000000u;
        return s | ((m + 0xfffu + ((m >> 13u) & 1u)) >> 13u);
    }
    if (a < 0x33000000u) { return s; }
    let e = a >> 23u;
    let mant = (a & 0x7fffffu) | 0x800000u;
    let sh = 126u - e;
    let q = mant >> sh;
    let rem = mant & ((1u << sh) - 1u);
    let half = 1u << (sh - 1u);
    var r = q;
    if (rem > half || (rem == half && (q & 1u) == 1u)) { r = q + 1u; }
    return s | r;
}"#,
    ),
    (
        "f16_bits_to_f32",
        &[],
        r#"fn f16_bits_to_f32(h: u32) -> f32 {
    let s = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if (e == 0x1fu) { return bitcast<f32>(s | 0x7f800000u | (m << 13u) | ZU); }
    if (e == 0u) {
        let v = f32(m) * 5.9604644775390625e-8;
        return select(v, -v, s != 0u);
    }
    return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}"#,
    ),
    (
        "rf16",
        &["f32_to_f16_bits", "f16_bits_to_f32"],
        "fn rf16(x: f32) -> f32 { return f16_bits_to_f32(f32_to_f16_bits(x)); }",
    ),
    (
        "sign_f",
        &[],
        "fn sign_f(x: f32) -> f32 { if (x > 0.0) { return 1.0; } if (x < 0.0) { return -1.0; } return x; }",
    ),
    (
        "sqrt_f",
        &["nanf"],
        "fn sqrt_f(x: f32) -> f32 { if (x < 0.0) { return nanf(); } return sqrt(x); }",
    ),
    (
        "min_f",
        &["isnan_f", "nanf"],
        r#"fn min_f(x: f32, y: f32) -> f32 {
    if (isnan_f(x) || isnan_f(y)) { return nanf(); }
    if (x < y) { return x; }
    if (y < x) { return y; }
    return bitcast<f32>(bitcast<u32>(x) | bitcast<u32>(y));
}"#,
    ),
    (
        "max_f",
        &["isnan_f", "nanf"],
        r#"fn max_f(x: f32, y: f32) -> f32 {
    if (isnan_f(x) || isnan_f(y)) { return nanf(); }
    if (x > y) { return x; }
    if (y > x) { return y; }
    return bitcast<f32>(bitcast<u32>(x) & bitcast<u32>(y));
}"#,
    ),
    (
        "log1p_f",
        &["isnan_f", "nanf", "inff", "log_f", "log1p_core"],
        r#"fn log1p_f(x: f32) -> f32 {
    if (isnan_f(x) || x < -1.0) { return nanf(); }
    if (x == -1.0) { return -inff(); }
    if (x == inff()) { return x; }
    if (x > -0.29289322 && x < 0.41421356) { return log1p_core(x); }
    return log_f(1.0 + x);
}"#,
    ),
    (
        "expm1_f",
        &["isnan_f", "exp_f"],
        r#"fn expm1_f(x: f32) -> f32 {
    // NaN and ±0 are their own expm1 (the series below turns -0 into +0).
    if (isnan_f(x) || x == 0.0) { return x; }
    if (abs(x) < 0.35) {
        var p = 2.48015873e-5;
        p = p * x + 1.98412698e-4;
        p = p * x + 1.38888889e-3;
        p = p * x + 8.33333333e-3;
        p = p * x + 4.16666667e-2;
        p = p * x + 1.66666667e-1;
        p = p * x + 0.5;
        return x + x * x * p;
    }
    if (x < -17.5) { return -1.0; }
    return exp_f(x) - 1.0;
}"#,
    ),
    (
        "sinh_f",
        &[
            "isnan_f",
            "isinf_f",
            "expm1_f",
            "exp_f",
            "copysign_f",
            "inff",
        ],
        r#"fn sinh_f(x: f32) -> f32 {
    if (isnan_f(x) || isinf_f(x)) { return x; }
    let a = abs(x);
    if (a > 89.5) { return copysign_f(inff(), x); }
    if (a > 10.0) { let e = exp_f(0.5 * a); return copysign_f((0.5 * e) * e, x); }
    let t = expm1_f(a);
    return copysign_f(0.5 * (t + t / (t + 1.0)), x);
}"#,
    ),
    (
        "cosh_f",
        &["isnan_f", "isinf_f", "exp_f", "inff"],
        r#"fn cosh_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    let a = abs(x);
    if (a > 89.5) { return inff(); }
    if (a > 10.0) { let e = exp_f(0.5 * a); return (0.5 * e) * e; }
    let e = exp_f(a);
    return 0.5 * (e + 1.0 / e);
}"#,
    ),
    (
        "tanh_f",
        &["isnan_f", "expm1_f", "copysign_f"],
        r#"fn tanh_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    let a = abs(x);
    if (a > 9.1) { return copysign_f(1.0, x); }
    let t = expm1_f(2.0 * a);
    return copysign_f(t / (t + 2.0), x);
}"#,
    ),
    // erfc for x >= 1: the published Chebyshev fit erfc(z) ~ t exp(-z^2 + P(t)),
    // t = 1/(1 + z/2) (Press et al., Numerical Recipes, section 6.2; fractional
    // error below 1.2e-7 in exact arithmetic). exp(-z^2) is split so that the
    // square is exact. erf for |x| < 1 is its Taylor series (12 terms).
    (
        "erfc_big",
        &["exp_f"],
        r#"fn erfc_big(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    var p = 0.17087277;
    p = p * t - 0.82215223;
    p = p * t + 1.48851587;
    p = p * t - 1.13520398;
    p = p * t + 0.27886807;
    p = p * t - 0.18628806;
    p = p * t + 0.09678418;
    p = p * t + 0.37409196;
    p = p * t + 1.00002368;
    p = p * t - 1.26551223;
    let hi = bitcast<f32>(bitcast<u32>(z) & 0xfffff000u);
    let lo = z - hi;
    return t * exp_sum(-hi * hi, p - lo * (z + hi));
}"#,
    ),
    (
        "erf_small",
        &[],
        r#"fn erf_small(x: f32) -> f32 {
    let x2 = x * x;
    var p = -1.229055530e-09;
    p = p * x2 + 1.480719282e-08;
    p = p * x2 - 1.636584469e-07;
    p = p * x2 + 1.646211437e-06;
    p = p * x2 - 1.492565036e-05;
    p = p * x2 + 1.205533298e-04;
    p = p * x2 - 8.548327023e-04;
    p = p * x2 + 5.223977625e-03;
    p = p * x2 - 2.686617065e-02;
    p = p * x2 + 1.128379167e-01;
    p = p * x2 - 3.761263890e-01;
    p = p * x2 + 1.283791671e-01;
    return x + x * p;
}"#,
    ),
    (
        "erf_f",
        &["isnan_f", "erf_small", "erfc_big", "copysign_f"],
        r#"fn erf_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    let a = abs(x);
    if (a < 1.0) { return erf_small(x); }
    if (a > 4.0) { return copysign_f(1.0, x); }
    return copysign_f(1.0 - erfc_big(a), x);
}"#,
    ),
    (
        "erfc_f",
        &["isnan_f", "erf_small", "erfc_big"],
        r#"fn erfc_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    let a = abs(x);
    if (a < 1.0) { return 1.0 - erf_small(x); }
    if (x > 10.1) { return 0.0; }
    if (x < -4.0) { return 2.0; }
    let e = erfc_big(a);
    if (x < 0.0) { return 2.0 - e; }
    return e;
}"#,
    ),
    (
        "pow_core",
        &["log_parts", "exp_poly", "pow2i", "opaque", "inff"],
        r#"// x^y for finite x > 0 and finite y: 2^(y e + y log2(m)) with y e split
// into two exact products, so only y log2(m) (|log2 m| <= 1/2) rounds.
fn pow_core(x: f32, y: f32) -> f32 {
    let p = log_parts(x);
    let l = p.y * 1.4426950;
    let yh = bitcast<f32>(bitcast<u32>(y) & 0xfffff000u);
    let yl = y - yh;
    let a = yh * p.x;
    let b = yl * p.x;
    let c = y * l;
    let t = a + b + c;
    // t rounds to 128 for x near f32::MAX and y = 1: overflow only past it.
    if (t > 128.5) { return inff(); }
    if (t < -151.0) { return 0.0; }
    let n = round(t);
    let r = (opaque(a - n) + b) + c;
    return scale2(exp_poly(r * 0.69314718), i32(n));
}"#,
    ),
    (
        "pow_f",
        &["isnan_f", "isinf_f", "nanf", "inff", "signbit", "pow_core"],
        r#"fn pow_f(x: f32, y: f32) -> f32 {
    if (y == 0.0 || x == 1.0) { return 1.0; }
    if (isnan_f(x) || isnan_f(y)) { return nanf(); }
    let ax = abs(x);
    if (isinf_f(y)) {
        if (ax == 1.0) { return 1.0; }
        if ((ax > 1.0) == (y > 0.0)) { return inff(); }
        return 0.0;
    }
    let yint = floor(y) == y;
    let yodd = yint && abs(y) < 16777216.0 && fract(y * 0.5) != 0.0;
    var r: f32;
    if (ax == 0.0) {
        r = select(0.0, inff(), y < 0.0);
    } else if (isinf_f(ax)) {
        r = select(inff(), 0.0, y < 0.0);
    } else {
        r = pow_core(ax, y);
    }
    if (x < 0.0 && !yint && !isinf_f(x)) { return nanf(); }
    if (signbit(x) && yodd) { return -r; }
    return r;
}"#,
    ),
    (
        "rem_f",
        &["isnan_f", "isinf_f", "nanf"],
        r#"fn rem_f(x: f32, y: f32) -> f32 {
    if (isnan_f(x) || isnan_f(y) || isinf_f(x) || y == 0.0) { return nanf(); }
    if (isinf_f(y)) { return x; }
    let ax = abs(x);
    let ay = abs(y);
    if (ax < ay) { return x; }
    // Long division on the exponent: subtract ay * 2^k for decreasing k;
    // every subtraction is exact (Sterbenz).
    var d = ay;
    loop {
        let d2 = d * 2.0;
        if (d2 > ax || isinf_f(d2)) { break; }
        d = d2;
    }
    var r = ax;
    loop {
        if (r >= d) { r = r - d; }
        if (d <= ay) { break; }
        d = d * 0.5;
    }
    return select(r, -r, x < 0.0);
}"#,
    ),
    (
        "f2i",
        &["isnan_f"],
        r#"fn f2i(x: f32) -> i32 {
    if (isnan_f(x)) { return 0; }
    if (x >= 2147483648.0) { return 2147483647; }
    if (x <= -2147483648.0) { return bitcast<i32>(0x80000000u | ZU); }
    return i32(x);
}"#,
    ),
    (
        "f2u",
        &["isnan_f"],
        r#"fn f2u(x: f32) -> u32 {
    if (isnan_f(x) || x < 1.0) { return 0u; }
    if (x >= 4294967296.0) { return 0xffffffffu | ZU; }
    return u32(x);
}"#,
    ),
    (
        "idiv_i",
        &[],
        r#"fn idiv_i(x: i32, y: i32) -> i32 {
    if (y == 0) { return -1; }
    if (y == -1) { return bitcast<i32>(0u - bitcast<u32>(x)); }
    return x / y;
}"#,
    ),
    (
        "rem_i",
        &[],
        r#"fn rem_i(x: i32, y: i32) -> i32 {
    if (y == 0) { return x; }
    if (y == -1) { return 0; }
    return x % y;
}"#,
    ),
    (
        "idiv_u",
        &[],
        "fn idiv_u(x: u32, y: u32) -> u32 { if (y == 0u) { return 0xffffffffu | ZU; } return x / y; }",
    ),
    (
        "rem_u",
        &[],
        "fn rem_u(x: u32, y: u32) -> u32 { if (y == 0u) { return x; } return x % y; }",
    ),
    (
        "shl_i",
        &[],
        "fn shl_i(x: i32, y: i32) -> i32 { if (bitcast<u32>(y) >= 32u) { return 0; } return x << bitcast<u32>(y); }",
    ),
    (
        "shr_i",
        &[],
        "fn shr_i(x: i32, y: i32) -> i32 { if (bitcast<u32>(y) >= 32u) { return select(0, -1, x < 0); } return x >> bitcast<u32>(y); }",
    ),
    (
        "shl_u",
        &[],
        "fn shl_u(x: u32, y: u32) -> u32 { if (y >= 32u) { return 0u; } return x << y; }",
    ),
    (
        "shr_u",
        &[],
        "fn shr_u(x: u32, y: u32) -> u32 { if (y >= 32u) { return 0u; } return x >> y; }",
    ),
    (
        "threefry",
        &[],
        r#"fn rotl(x: u32, r: u32) -> u32 { return (x << r) | (x >> (32u - r)); }
fn threefry(k0: u32, k1: u32, c0: u32, c1: u32) -> vec2<u32> {
    let ks = array<u32, 3>(k0, k1, 0x1bd11bdau ^ k0 ^ k1);
    let rot = array<u32, 8>(13u, 15u, 26u, 6u, 17u, 29u, 16u, 24u);
    var x0 = c0 + k0;
    var x1 = c1 + k1;
    for (var i = 0u; i < 20u; i = i + 1u) {
        x0 = x0 + x1;
        x1 = rotl(x1, rot[i % 8u]) ^ x0;
        if (i % 4u == 3u) {
            let s = i / 4u + 1u;
            x0 = x0 + ks[s % 3u];
            x1 = x1 + ks[(s + 1u) % 3u] + s;
        }
    }
    return vec2<u32>(x0, x1);
}"#,
    ),
];

/// Emits the named helpers and everything they depend on, each once, in a
/// dependency-respecting order.
pub(crate) fn emit(names: &[&str], out: &mut String) {
    let mut done: Vec<&str> = Vec::new();
    fn visit<'a>(name: &'a str, done: &mut Vec<&'a str>, out: &mut String) {
        if done.contains(&name) {
            return;
        }
        let (_, deps, code) = HELPERS
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("unknown WGSL helper {name}"));
        done.push(name);
        for d in deps.iter() {
            visit(d, done, out);
        }
        out.push_str(code);
        out.push('\n');
    }
    for n in names {
        visit(n, &mut done, out);
    }
}
