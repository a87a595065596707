//! Native routines against the reference backend.

use super::common::*;
use oxjax_abi::{Backend, DType, Routine, RoutineKind, Scalar, TensorDesc};

fn desc(dtype: DType, shape: &[u64]) -> TensorDesc {
    TensorDesc {
        dtype,
        shape: shape.to_vec().into(),
    }
}

#[test]
fn routines_match_the_reference() {
    let b = backend("threads = 1");
    for kind in [
        RoutineKind::SORT,
        RoutineKind::ARGSORT,
        RoutineKind::CUMSUM,
        RoutineKind::CUMPROD,
        RoutineKind::CUMMAX,
        RoutineKind::CUMMIN,
    ] {
        for d in DType::ALL {
            if d == DType::BOOL && matches!(kind, RoutineKind::CUMSUM | RoutineKind::CUMPROD) {
                continue;
            }
            for (shape, axis, flag) in [
                (vec![37u64], 0i64, 0i64),
                (vec![5, 9], 1, 1),
                (vec![4, 6, 3], 1, 0),
                (vec![4, 6, 3], -3, 1),
                (vec![3, 0, 2], 1, 0),
            ] {
                let n: u64 = shape.iter().product();
                let s = specials(d);
                let x: Vec<Scalar> = (0..n as usize)
                    .map(|i| s[(i * 7 + i / 3) % s.len()])
                    .collect();
                let out_d = if kind == RoutineKind::ARGSORT {
                    DType::I32
                } else {
                    d
                };
                let r = Routine {
                    kind,
                    inputs: vec![desc(d, &shape)].into(),
                    outputs: vec![desc(out_d, &shape)].into(),
                    params: vec![axis, flag].into(),
                };
                let input = to_bytes(&x);
                let want = oxjax_reference::run_routine(&r, &[&input]).unwrap();
                let exe = b.compile_routine(&r).unwrap();
                let i = b.alloc(input.len() as u64).unwrap();
                b.write(i, 0, &input).unwrap();
                let o = b.alloc(want[0].len() as u64).unwrap();
                b.execute(exe, &[i], &[o]).unwrap();
                let got = b.read(o, 0, want[0].len() as u64).unwrap();
                let (g, w) = (from_bytes(out_d, &got), from_bytes(out_d, &want[0]));
                for e in 0..g.len() {
                    assert_eq!(
                        ulps(g[e], w[e]),
                        0,
                        "{kind:?} {d} {shape:?} axis {axis} flag {flag} [{e}]"
                    );
                }
                b.release(exe);
            }
        }
    }
    // a bad descriptor is an error, not a panic
    let r = Routine {
        kind: RoutineKind::SORT,
        inputs: vec![desc(DType::F32, &[3])].into(),
        outputs: vec![desc(DType::F32, &[4])].into(),
        params: vec![0].into(),
    };
    assert!(b.compile_routine(&r).is_err());
    assert!(b.info().caps.supports_routine(RoutineKind::CUMMAX));
    assert!(b.info().caps.supports_routine(RoutineKind::FFT));
    assert!(!b.info().caps.supports_routine(RoutineKind::CHOLESKY));
}

/// The softmax routine's `exp` on its domain (`x <= 0`): within 2 ULP of
/// the rounded f64 `exp`, denormal results included, in both the portable
/// and the AVX2 version; NaN stays NaN and -inf gives 0.
#[test]
fn softmax_exp_is_within_two_ulp() {
    use crate::softmax::exp_nonpositive;
    // every 101st f32 from -0 down to -110, then the specials
    let mut xs: Vec<f32> = ((-0.0f32).to_bits()..=(-110.0f32).to_bits())
        .step_by(101)
        .map(f32::from_bits)
        .collect();
    xs.extend([
        0.0,
        -0.0,
        f32::NEG_INFINITY,
        f32::NAN,
        -1e-30,
        -87.0,
        -103.9,
    ]);
    let check = |name: &str, f: &dyn Fn(f32) -> f32| {
        let mut worst = 0;
        for &x in &xs {
            let (g, w) = (f(x), (x as f64).exp() as f32);
            let u = ulps(Scalar::F32(g), Scalar::F32(w));
            assert!(u <= 2, "{name} exp({x:e}) = {g:e}, want {w:e}");
            worst = worst.max(u);
        }
        println!("{name}: exp within {worst} ULP on {} points", xs.len());
    };
    check("portable", &exp_nonpositive);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        use std::arch::x86_64::*;
        // SAFETY: the features are present.
        let avx = |x: f32| unsafe {
            let v = crate::softmax::avx2::exp8(_mm256_set1_ps(x));
            _mm256_cvtss_f32(v)
        };
        check("avx2", &avx);
    }
}

/// Softmax rows (every length around the 16-wide step, long rows split
/// over threads, specials: -inf entries, +inf, NaN and all -inf rows, huge
/// values) against the reference, f32 and f64; in place too.
#[test]
fn softmax_matches_the_reference() {
    let b = backend("threads = 2");
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    let rows = |n: usize, r: usize, next: &mut dyn FnMut() -> f64| -> Vec<f64> {
        let mut v: Vec<f64> = (0..n * r).map(|_| next() * 40.0 - 20.0).collect();
        // row 1: some -inf; row 2: +inf; row 3: a NaN; row 4: all -inf;
        // row 5: huge values
        let special = |row: usize, v: &mut Vec<f64>, f: &dyn Fn(usize) -> Option<f64>| {
            if row < r {
                for i in 0..n {
                    if let Some(x) = f(i) {
                        v[row * n + i] = x;
                    }
                }
            }
        };
        special(1, &mut v, &|i| (i % 3 == 0).then_some(f64::NEG_INFINITY));
        special(2, &mut v, &|i| (i == n / 2).then_some(f64::INFINITY));
        special(3, &mut v, &|i| (i == n - 1).then_some(f64::NAN));
        special(4, &mut v, &|_| Some(f64::NEG_INFINITY));
        special(5, &mut v, &|i| Some(1e30 * (1.0 + i as f64 * 1e-7)));
        v
    };
    for d in [DType::F32, DType::F64] {
        for (n, r) in [
            (1, 6),
            (3, 6),
            (8, 7),
            (15, 6),
            (16, 6),
            (17, 6),
            (33, 9),
            (1000, 6),
            (1024, 130),
        ] {
            let x: Vec<Scalar> = rows(n, r, &mut next)
                .into_iter()
                .map(|v| Scalar::F64(v).cast(d))
                .collect();
            let shape = [r as u64, n as u64];
            let routine = Routine {
                kind: RoutineKind::SOFTMAX,
                inputs: vec![desc(d, &shape)].into(),
                outputs: vec![desc(d, &shape)].into(),
                params: vec![].into(),
            };
            let input = to_bytes(&x);
            let want = oxjax_reference::run_routine(&routine, &[&input]).unwrap();
            let w = from_bytes(d, &want[0]);
            let exe = b.compile_routine(&routine).unwrap();
            let i = b.alloc(input.len() as u64).unwrap();
            let o = b.alloc(input.len() as u64).unwrap();
            b.write(i, 0, &input).unwrap();
            for (into, what) in [(o, "out of place"), (i, "in place")] {
                b.execute(exe, &[i], &[into]).unwrap();
                let g = from_bytes(d, &b.read(into, 0, input.len() as u64).unwrap());
                let tol = if d == DType::F32 { 4e-6 } else { 1e-14 };
                for e in 0..g.len() {
                    let (gv, wv) = (g[e].as_f64(), w[e].as_f64());
                    let ok =
                        (gv.is_nan() && wv.is_nan()) || (gv - wv).abs() <= tol * wv.abs() + 1e-37;
                    assert!(ok, "{d} [{r}, {n}] {what} [{e}]: {gv:e}, want {wv:e}");
                }
            }
            b.release(exe);
        }
    }
    // a bad descriptor is an error, not a panic
    let r = Routine {
        kind: RoutineKind::SOFTMAX,
        inputs: vec![desc(DType::I32, &[3])].into(),
        outputs: vec![desc(DType::I32, &[3])].into(),
        params: vec![].into(),
    };
    assert!(b.compile_routine(&r).is_err());
    assert!(b.info().caps.supports_routine(RoutineKind::SOFTMAX));
}
