//! `oxjax::random` against JAX's own streams (fixtures/random.json, made by
//! fixtures/make_random.py with the installed JAX) on every device of the
//! repository's plugins.toml plus the embedded one, eager and under `jit`;
//! moments of the samplers whose streams differ from JAX; misuse messages.

use oxjax::random::{self, key};
use oxjax::{Array, DType, Device, jit, lower, with_default_device};
use serde_json::Value;
use std::sync::OnceLock;
mod common;
use common::registry;

fn fixture() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| serde_json::from_str(include_str!("fixtures/random.json")).unwrap())
}

fn case(name: &str) -> Vec<f64> {
    fixture()["cases"][name]
        .as_array()
        .unwrap_or_else(|| panic!("fixture case {name} is missing"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// Every device: the plugins of plugins.toml and the embedded reference.
fn devices() -> Vec<Device> {
    registry().devices().to_vec()
}

/// Values of any dtype as f64 (integers and f16/f32 convert exactly).
fn read(a: &Array) -> Vec<f64> {
    match a.dtype() {
        DType::F64 => a.to_vec::<f64>(),
        DType::F32 => a.to_vec::<f32>().into_iter().map(f64::from).collect(),
        DType::F16 => a
            .to_vec::<oxjax::f16>()
            .into_iter()
            .map(|h| h.to_f64())
            .collect(),
        DType::I32 => a.to_vec::<i32>().into_iter().map(f64::from).collect(),
        DType::U32 => a.to_vec::<u32>().into_iter().map(f64::from).collect(),
        _ => a
            .to_vec::<bool>()
            .into_iter()
            .map(|b| b as u8 as f64)
            .collect(),
    }
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = if tol == 0.0 {
            g == w
        } else {
            (g - w).abs() <= tol * (1.0 + w.abs())
        };
        assert!(
            ok,
            "{what}: element {i} is {g}, JAX gives {w} (tolerance {tol})"
        );
    }
}

/// Runs `f(key)` on every device that supports `dtype`, eagerly and jitted,
/// and compares with the fixture `name`.
fn check(name: &str, seed: u64, dtype: DType, tol: f64, f: impl Fn(&Array) -> Array + Copy) {
    let want = case(name);
    for dev in devices() {
        if !dev.info().caps.supports_dtype(dtype) {
            continue;
        }
        with_default_device(&dev, || {
            let k = key(seed);
            let what = format!("{name} on {}", dev.name());
            assert_close(&format!("{what} (eager)"), &read(&f(&k)), &want, tol);
            assert_close(&format!("{what} (jit)"), &read(&jit(f)(&k)), &want, tol);
        });
    }
}

#[test]
fn fixtures_come_from_the_partitionable_stream() {
    assert_eq!(fixture()["jax_threefry_partitionable"], Value::Bool(true));
}

#[test]
fn keys_are_the_seed_words() {
    for (seed, name) in [
        (0, "key_0"),
        (42, "key_42"),
        (0xDEAD_BEEF, "key_big"),
        ((1 << 32) + 5, "key_2p32_plus_5"),
    ] {
        assert_close(name, &read(&key(seed)), &case(name), 0.0);
    }
}

#[test]
fn split_fold_in_and_bits_are_bit_exact() {
    check("split_42_3", 42, DType::U32, 0.0, |k| random::split(k, 3));
    check("split_0_2", 0, DType::U32, 0.0, |k| random::split(k, 2));
    check("fold_in_42_7", 42, DType::U32, 0.0, |k| {
        random::fold_in(k, 7)
    });
    check("fold_in_0_big", 0, DType::U32, 0.0, |k| {
        random::fold_in(k, 0xFFFF_FFF0)
    });
    check("bits_42_2x3", 42, DType::U32, 0.0, |k| {
        random::bits(k, &[2, 3], DType::U32)
    });
}

#[test]
fn uniform_matches_jax() {
    check("uniform_42_f32_100", 42, DType::F32, 0.0, |k| {
        random::uniform(k, &[100], DType::F32, 0.0, 1.0)
    });
    check("uniform_0_f32_2x3_m2_3", 0, DType::F32, 1e-7, |k| {
        random::uniform(k, &[2, 3], DType::F32, -2.0, 3.0)
    });
    check("uniform_42_f16_50", 42, DType::F16, 0.0, |k| {
        random::uniform(k, &[50], DType::F16, 0.0, 1.0)
    });
    check("uniform_42_f64_50", 42, DType::F64, 0.0, |k| {
        random::uniform(k, &[50], DType::F64, 0.0, 1.0)
    });
}

#[test]
fn normal_matches_jax() {
    check("normal_42_f32_200", 42, DType::F32, 2e-6, |k| {
        random::normal(k, &[200], DType::F32)
    });
    check("normal_7_f32_4x5", 7, DType::F32, 2e-6, |k| {
        random::normal(k, &[4, 5], DType::F32)
    });
    check("normal_42_f64_100", 42, DType::F64, 1e-12, |k| {
        random::normal(k, &[100], DType::F64)
    });
}

#[test]
fn integer_samplers_are_bit_exact() {
    check("randint_42_0_10_20", 42, DType::I32, 0.0, |k| {
        random::randint(k, &[20], 0, 10, DType::I32)
    });
    check("randint_0_m5_1000_3x4", 0, DType::I32, 0.0, |k| {
        random::randint(k, &[3, 4], -5, 1000, DType::I32)
    });
    check("randint_1_full_16", 1, DType::I32, 0.0, |k| {
        random::randint(k, &[16], i32::MIN as i64, i32::MAX as i64, DType::I32)
    });
    check("permutation_42_10", 42, DType::I32, 0.0, |k| {
        random::permutation(k, 10)
    });
    check("permutation_3_37", 3, DType::I32, 0.0, |k| {
        random::permutation(k, 37)
    });
    check("bernoulli_42_03_30", 42, DType::BOOL, 0.0, |k| {
        random::bernoulli(k, 0.3, &[30])
    });
    check("categorical_42_3x5", 42, DType::I32, 0.0, |k| {
        let logits = Array::arange(1.0, 16.0, 1.0, DType::F32)
            .reshape(&[3, 5])
            .log();
        random::categorical(k, &logits, -1, None)
    });
}

/// Above 1625 elements JAX sorts twice (two rounds of sort + gather).
#[test]
fn two_round_permutation_matches_jax() {
    let p = random::permutation(&key(5), 1700);
    assert_close(
        "permutation_5_1700",
        &read(&p),
        &case("permutation_5_1700"),
        0.0,
    );
}

#[test]
fn other_continuous_samplers_match_jax() {
    check("exponential_42_f32_20", 42, DType::F32, 2e-6, |k| {
        random::exponential(k, &[20], DType::F32)
    });
    check("laplace_42_f32_20", 42, DType::F32, 2e-6, |k| {
        random::laplace(k, &[20], DType::F32)
    });
    check("logistic_42_f32_20", 42, DType::F32, 2e-6, |k| {
        random::logistic(k, &[20], DType::F32)
    });
    check(
        "truncated_normal_42_f32_m1_2_20",
        42,
        DType::F32,
        2e-6,
        |k| random::truncated_normal(k, -1.0, 2.0, &[20], DType::F32),
    );
}

#[test]
fn jitted_bits_are_one_kernel() {
    let k = key(0);
    let n = lower(|k: &Array| random::bits(k, &[1000], DType::U32), &k).kernel_count();
    assert_eq!(n, 1, "threefry should fuse into one kernel");
    let n = lower(|k: &Array| random::normal(k, &[1000], DType::F32), &k).kernel_count();
    assert_eq!(n, 1, "normal should fuse into one kernel");
}

fn mean_var(x: &Array) -> (f64, f64) {
    let v = read(x);
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0),
    )
}

/// Sample moments within 5 standard errors (variance's error uses the
/// kurtosis bound 10σ⁴/n, generous for these distributions).
fn assert_moments(what: &str, x: &Array, mean: f64, var: f64) {
    let n = x.size() as f64;
    let (m, v) = mean_var(x);
    assert!(
        (m - mean).abs() < 5.0 * (var / n).sqrt(),
        "{what}: mean {m}, expected {mean}"
    );
    assert!(
        (v - var).abs() < 5.0 * (10.0 * var * var / n).sqrt(),
        "{what}: variance {v}, expected {var}"
    );
}

#[test]
fn gamma_and_beta_have_the_right_moments() {
    let n = 20_000;
    for (i, a) in [0.3, 1.0, 2.5, 9.0].into_iter().enumerate() {
        let g = random::gamma(&random::fold_in(&key(1), i as u32), a, &[n], DType::F32);
        assert!(read(&g).iter().all(|x| *x >= 0.0 && x.is_finite()));
        assert_moments(&format!("gamma({a})"), &g, a, a);
    }
    let g64 = random::gamma(&key(5), 4.0, &[n], DType::F64);
    assert_moments("gamma(4) f64", &g64, 4.0, 4.0);
    let (a, b) = (2.0, 5.0);
    let x = random::beta(&key(2), a, b, &[n], DType::F32);
    let var = a * b / ((a + b) * (a + b) * (a + b + 1.0));
    assert_moments("beta(2, 5)", &x, a / (a + b), var);
    // Per-element alpha broadcasting against the shape.
    let alphas = Array::from_vec(vec![1.0f32, 50.0], &[2, 1]);
    let g = random::gamma(&key(3), &alphas, &[2, 5000], DType::F32);
    let m = read(&g.mean(1, false));
    assert!(
        (m[0] - 1.0).abs() < 0.1 && (m[1] - 50.0).abs() < 1.0,
        "{m:?}"
    );
}

#[test]
fn truncated_normal_and_categorical_statistics() {
    let n = 20_000;
    let z = random::truncated_normal(&key(9), -1.0, 2.0, &[n], DType::F32);
    let v = read(&z);
    assert!(v.iter().all(|x| *x > -1.0 && *x < 2.0));
    // Moments of the standard normal truncated to (-1, 2), from its density.
    let pdf = |x: f64| (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let (mut z0, mut z1, mut z2) = (0.0, 0.0, 0.0);
    let steps = 100_000;
    for i in 0..steps {
        let x = -1.0 + 3.0 * (i as f64 + 0.5) / steps as f64;
        let w = pdf(x) * 3.0 / steps as f64;
        (z0, z1, z2) = (z0 + w, z1 + w * x, z2 + w * x * x);
    }
    let mean = z1 / z0;
    assert_moments("truncated_normal", &z, mean, z2 / z0 - mean * mean);

    let p = [0.1f32, 0.2, 0.3, 0.4];
    let logits = Array::from_vec(p.to_vec(), &[4]).log();
    let draws = random::categorical(&key(4), &logits, 0, Some(&[n]));
    assert_eq!(draws.shape(), [n]);
    let counts = read(&draws).iter().fold([0.0; 4], |mut c, &i| {
        c[i as usize] += 1.0;
        c
    });
    for (c, p) in counts.iter().zip(p) {
        let p = p as f64;
        let sd = (p * (1.0 - p) * n as f64).sqrt();
        assert!(
            (c - p * n as f64).abs() < 5.0 * sd,
            "categorical counts {counts:?}"
        );
    }
}

#[test]
fn choice_and_shuffle() {
    let n = 10;
    let w = Array::from_vec(
        vec![0.0f32, 1.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        &[n],
    );
    let draws = read(&random::choice(&key(0), n, &[4000], true, Some(&w)));
    assert!(
        draws.iter().all(|&i| i == 1.0 || i == 3.0),
        "zero weights drawn"
    );
    let ones = draws.iter().filter(|&&i| i == 1.0).count() as f64;
    assert!(
        (ones / 4000.0 - 0.25).abs() < 0.04,
        "P(1) = {}",
        ones / 4000.0
    );
    for replace in [false, true] {
        let c = read(&random::choice(&key(1), n, &[2, 3], replace, None));
        assert!(c.iter().all(|&i| (0.0..n as f64).contains(&i)));
        if !replace {
            let mut s = c.clone();
            s.sort_by(f64::total_cmp);
            s.dedup();
            assert_eq!(s.len(), 6, "without replacement: {c:?}");
        }
    }
    let top = read(&random::choice(&key(2), n, &[2], false, Some(&w)));
    let mut top_sorted = top.clone();
    top_sorted.sort_by(f64::total_cmp);
    assert_eq!(top_sorted, [1.0, 3.0], "the only two nonzero weights");
    // choice without p and replacement is a prefix of the permutation.
    let perm = read(&random::permutation(&key(1), n));
    let c = read(&random::choice(&key(1), n, &[6], false, None));
    assert_eq!(c, perm[..6]);
    // shuffle moves whole slices, the same way on every axis.
    let x = Array::arange(0.0, 12.0, 1.0, DType::F32).reshape(&[4, 3]);
    let rows = read(&random::shuffle(&key(3), &x, 0));
    let p = read(&random::permutation(&key(3), 4));
    let want: Vec<f64> = p
        .iter()
        .flat_map(|&r| (0..3).map(move |c| r * 3.0 + c as f64))
        .collect();
    assert_eq!(rows, want);
    let cols = random::shuffle(&key(3), &x.t(), 1);
    assert_eq!(read(&cols.t()), want);
}

#[test]
fn misuse_is_reported() {
    let bad_dtype = Array::from_vec(vec![0.0f32, 1.0], &[2]);
    let bad_shape = Array::from_vec(vec![0u32, 1, 2], &[3]);
    let k = key(0);
    let msg = |r: oxjax::Result<Array>| r.unwrap_err().to_string();
    assert_eq!(
        msg(random::try_split(&bad_dtype, 2)),
        "random.split: expected a key (u32[2], from random::key or random::split), got f32[2]"
    );
    assert!(msg(random::try_fold_in(&bad_shape, 1)).contains("random.fold_in: expected a key"));
    assert!(msg(random::try_fold_in(&bad_shape, 1)).contains("got u32[3]"));
    assert_eq!(
        msg(random::try_bits(&k, &[2], DType::I32)),
        "random.bits: dtype must be u32 (the only unsigned dtype), got i32"
    );
    assert_eq!(
        msg(random::try_uniform(&k, &[2], DType::I32, 0.0, 1.0)),
        "random.uniform: dtype must be a float dtype, got i32"
    );
    assert_eq!(
        msg(random::try_randint(&k, &[2], 0, 5, DType::F32)),
        "random.randint: dtype must be i32 or u32, got f32"
    );
    assert_eq!(
        msg(random::try_choice(&k, 3, &[4], false, None)),
        "random.choice: cannot take 4 samples [4] from 3 without replacement"
    );
    assert!(msg(random::try_normal(&bad_shape, &[2], DType::F32)).contains("random.normal"));
    let panic = std::panic::catch_unwind(|| random::laplace(&k, &[2], DType::I32)).unwrap_err();
    assert_eq!(
        panic.downcast_ref::<String>().unwrap(),
        "random.laplace: dtype must be a float dtype, got i32"
    );
    let panic = std::panic::catch_unwind(|| random::split(&bad_dtype, 2)).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(text.starts_with("random.split: expected a key"), "{text}");
}

#[test]
fn more_samplers_match_jax() {
    type Sampler = fn(&Array) -> Array;
    let f32s: [(&str, Sampler); 11] = [
        ("gumbel_42_f32_20", |k| random::gumbel(k, &[20], DType::F32)),
        ("cauchy_42_f32_20", |k| random::cauchy(k, &[20], DType::F32)),
        ("pareto_42_3_f32_20", |k| {
            random::pareto(k, 3.0, &[20], DType::F32)
        }),
        ("weibull_min_42_2_15_f32_20", |k| {
            random::weibull_min(k, 2.0, 1.5, &[20], DType::F32)
        }),
        ("rayleigh_42_2_f32_20", |k| {
            random::rayleigh(k, 2.0, &[20], DType::F32)
        }),
        ("maxwell_42_f32_20", |k| {
            random::maxwell(k, &[20], DType::F32)
        }),
        ("double_sided_maxwell_42_1_2_f32_20", |k| {
            random::double_sided_maxwell(k, 1.0, 2.0, &[20], DType::F32)
        }),
        ("lognormal_42_05_f32_20", |k| {
            random::lognormal(k, 0.5, &[20], DType::F32)
        }),
        ("triangular_42_0_1_3_f32_20", |k| {
            random::triangular(k, 0.0, 1.0, 3.0, &[20], DType::F32)
        }),
        ("wald_42_2_f32_20", |k| {
            random::wald(k, 2.0, &[20], DType::F32)
        }),
        ("multivariate_normal_42_b4_f32", |k| {
            let mean = Array::from_vec(vec![1.0f32, -2.0, 0.5], &[3]);
            let cov = Array::from_vec(
                vec![2.0f32, 0.3, -0.4, 0.3, 1.0, 0.2, -0.4, 0.2, 0.5],
                &[3, 3],
            );
            random::multivariate_normal(k, &mean, &cov, Some(&[4]), DType::F32)
        }),
    ];
    for (name, f) in f32s {
        check(name, 42, DType::F32, 1e-5, f);
    }
    // Parameters may be arrays broadcasting to the shape.
    check("rayleigh_42_2_f32_20", 42, DType::F32, 1e-5, |k| {
        random::rayleigh(k, Array::full(&[20], 2.0f32), &[20], DType::F32)
    });
    check("triangular_42_0_1_3_f32_20", 42, DType::F32, 1e-5, |k| {
        let right = Array::full(&[20], 3.0f32);
        random::triangular(k, 0.0, Array::full(&[1], 1.0f32), &right, &[20], DType::F32)
    });
    check("rademacher_42_i32_20", 42, DType::I32, 0.0, |k| {
        random::rademacher(k, &[20], DType::I32)
    });
    check("geometric_42_03_i32_20", 42, DType::I32, 0.0, |k| {
        random::geometric(k, 0.3, &[20], DType::I32)
    });
}

#[test]
fn orthogonal_matches_jax() {
    check("orthogonal_42_4_b2_f32", 42, DType::F32, 1e-5, |k| {
        random::orthogonal(k, 4, &[2], DType::F32, None)
    });
    check("orthogonal_7_3x5_f32", 7, DType::F32, 1e-5, |k| {
        random::orthogonal(k, 3, &[], DType::F32, Some(5))
    });
    check("orthogonal_7_5x3_f32", 7, DType::F32, 1e-5, |k| {
        random::orthogonal(k, 5, &[], DType::F32, Some(3))
    });
    check("orthogonal_42_6_f64", 42, DType::F64, 1e-12, |k| {
        random::orthogonal(k, 6, &[], DType::F64, None)
    });
}

#[test]
fn keys_round_trip_through_key_data() {
    let k = random::prng_key(42);
    assert_eq!(read(&k), read(&key(42)));
    let data = random::key_data(&random::split(&k, 3));
    assert_eq!(data.shape(), [3, 2]);
    let back = random::wrap_key_data(&data);
    assert_eq!(read(&back), read(&random::split(&k, 3)));
    assert_eq!(read(&random::clone(&k)), read(&k));
    let bad = Array::from_vec(vec![1.0f32, 2.0], &[2]);
    assert_eq!(
        random::try_wrap_key_data(&bad).unwrap_err().to_string(),
        "random.wrap_key_data: expected raw key data u32[..., 2], got f32[2]"
    );
}

/// Distribution-only samplers (built on the fixed-candidate gamma or on
/// loop-free Poisson sampling, not JAX's data-dependent loops): moments.
#[test]
fn gamma_based_samplers_have_the_right_moments() {
    let n = 20_000;
    let k = |i: u32| random::fold_in(&key(11), i);
    let df = 5.0;
    let x = random::chisquare(&k(0), df, &[n], DType::F32);
    assert_moments("chisquare(5)", &x, df, 2.0 * df);
    let x = random::t(&k(1), df, &[n], DType::F32);
    assert_moments("t(5)", &x, 0.0, df / (df - 2.0));
    let (d1, d2) = (6.0f64, 12.0f64);
    let x = random::f(&k(2), d1, d2, &[n], DType::F32);
    let var = 2.0 * d2 * d2 * (d1 + d2 - 2.0) / (d1 * (d2 - 2.0).powi(2) * (d2 - 4.0));
    assert_moments("f(6, 12)", &x, d2 / (d2 - 2.0), var);
    // loggamma agrees with gamma's draws and stays finite for tiny shapes.
    let lg = random::loggamma(&k(3), 2.5, &[1000], DType::F32);
    let g = random::gamma(&k(3), 2.5, &[1000], DType::F32);
    assert_close("exp(loggamma)", &read(&lg.exp()), &read(&g), 1e-5);
    let tiny = random::loggamma(&k(4), 1e-3, &[1000], DType::F32);
    assert!(read(&tiny).iter().all(|v| v.is_finite()));
    // Dirichlet: rows on the simplex with mean alpha / sum(alpha).
    let alpha = Array::from_vec(vec![1.0f32, 2.0, 7.0], &[3]);
    let x = random::dirichlet(&k(5), &alpha, Some(&[n]), DType::F32);
    assert_eq!(x.shape(), [n, 3]);
    let sums = read(&x.sum(-1, false));
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
    let first = x.slice(&[oxjax::Slice::all(), oxjax::Slice::from(0..1)]);
    assert_moments("dirichlet[0]", &first, 0.1, 0.1 * 0.9 / 11.0);
    let small = Array::from_vec(vec![1e-3f32, 1e-3], &[2]);
    let x = random::dirichlet(&k(6), &small, Some(&[100]), DType::F32);
    assert!(
        read(&x).iter().all(|v| v.is_finite()),
        "tiny alpha stays finite"
    );
    // Generalized normal with p = 2 is N(0, 1/2); p = 1 is Laplace.
    let x = random::generalized_normal(&k(7), 2.0, &[n], DType::F32);
    assert_moments("generalized_normal(2)", &x, 0.0, 0.5);
    let x = random::generalized_normal(&k(8), 1.0, &[n], DType::F32);
    assert_moments("generalized_normal(1)", &x, 0.0, 2.0);
}

#[test]
fn poisson_has_the_right_moments() {
    let n = 20_000;
    for (i, lam) in [0.5, 3.0, 9.5, 10.0, 40.0, 500.0].into_iter().enumerate() {
        let x = random::poisson(&random::fold_in(&key(12), i as u32), lam, &[n], DType::I32);
        assert!(read(&x).iter().all(|v| *v >= 0.0), "poisson({lam}) >= 0");
        assert_moments(&format!("poisson({lam})"), &x, lam, lam);
    }
    let zero = random::poisson(&key(0), 0.0, &[10], DType::I32);
    assert_eq!(read(&zero), vec![0.0; 10]);
    // Per-element rates broadcasting against the shape.
    let lam = Array::from_vec(vec![2.0f32, 200.0], &[2, 1]);
    let m = read(&random::poisson(&key(1), &lam, &[2, 5000], DType::F32).mean(1, false));
    assert!(
        (m[0] - 2.0).abs() < 0.1 && (m[1] - 200.0).abs() < 1.0,
        "{m:?}"
    );
    let err = random::try_poisson(&key(0), &lam, &[3, 4], DType::I32).unwrap_err();
    assert_eq!(
        err.to_string(),
        "random.poisson: lam of shape [2, 1] does not broadcast to [3, 4]"
    );
}

#[test]
fn binomial_has_the_right_moments() {
    let n = 20_000;
    let cases = [
        (5.0, 0.3),
        (40.0, 0.1),
        (20.0, 0.9),
        (100.0, 0.4),
        (1000.0, 0.75),
    ];
    for (i, (trials, p)) in cases.into_iter().enumerate() {
        let k = random::binomial(
            &random::fold_in(&key(15), i as u32),
            trials,
            p,
            &[n],
            DType::I32,
        );
        let v = read(&k);
        assert!(
            v.iter().all(|x| (0.0..=trials).contains(x)),
            "binomial({trials}, {p}) range"
        );
        assert_moments(
            &format!("binomial({trials}, {p})"),
            &k,
            trials * p,
            trials * p * (1.0 - p),
        );
    }
    let edge = read(&random::binomial(&key(0), 7.0, 1.0, &[4], DType::I32));
    assert_eq!(edge, [7.0; 4]);
    let edge = read(&random::binomial(&key(0), 7.0, 0.0, &[4], DType::I32));
    assert_eq!(edge, [0.0; 4]);
    let trials = Array::from_vec(vec![10.0f32, 300.0], &[2, 1]);
    let m = read(&random::binomial(&key(1), &trials, 0.5, &[2, 5000], DType::F32).mean(1, false));
    assert!(
        (m[0] - 5.0).abs() < 0.1 && (m[1] - 150.0).abs() < 0.5,
        "{m:?}"
    );
    let err = random::try_binomial(&key(0), &trials, 0.5, &[3], DType::I32).unwrap_err();
    assert_eq!(
        err.to_string(),
        "random.binomial: n of shape [2, 1] does not broadcast to [3]"
    );
}

#[test]
fn vector_samplers_have_the_right_geometry() {
    let n = 20_000;
    // Uniform in the unit disc: radius r has P(r <= x) = x^2, mean 2/3.
    let x = random::ball(&key(13), 2, 2.0, &[n], DType::F32);
    let r = (&x * &x).sum(-1, false).sqrt();
    assert!(read(&r).iter().all(|v| *v <= 1.0));
    assert_moments("ball radius", &r, 2.0 / 3.0, 0.5 - 4.0 / 9.0);
    // multivariate_normal's sample covariance is cov.
    let mean = Array::from_vec(vec![1.0f32, -1.0], &[2]);
    let cov = Array::from_vec(vec![2.0f32, 0.6, 0.6, 0.5], &[2, 2]);
    let x = random::multivariate_normal(&key(14), &mean, &cov, Some(&[n]), DType::F32);
    let c = &x - x.mean(0, true);
    let emp = read(&(c.t().matmul(&c) / (n as f64 - 1.0)));
    for (e, w) in emp.iter().zip([2.0, 0.6, 0.6, 0.5]) {
        assert!((e - w).abs() < 0.06, "covariance {emp:?}");
    }
    let err = random::try_multivariate_normal(&key(0), &mean, &mean, None, DType::F32);
    assert_eq!(
        err.unwrap_err().to_string(),
        "random.multivariate_normal: expected mean [..., n] and cov [..., n, n], got mean [2] and cov [2]"
    );
    let err = random::try_orthogonal(&key(0), 0, &[], DType::F32, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "random.orthogonal: matrices must be at least 1 x 1, got 0 x 0"
    );
    let err = random::try_dirichlet(&key(0), &Array::scalar(1.0f32), None, DType::F32);
    assert!(
        err.unwrap_err()
            .to_string()
            .starts_with("random.dirichlet: alpha must have")
    );
}
