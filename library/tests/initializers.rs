//! `oxjax::nn::initializers` against JAX's own outputs
//! (fixtures/initializers.json, made by fixtures/make_initializers.py) on
//! every device of the repository's plugins.toml plus the embedded one,
//! eager and under `jit`; the variances they promise; misuse messages.

use oxjax::nn::initializers::{self as init, Distribution, FanMode, Initializer};
use oxjax::random::{self, key};
use oxjax::{Array, Axes, DType, jit, with_default_device};
use serde_json::Value;
use std::sync::OnceLock;
mod common;
use common::registry;

fn fixture() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| serde_json::from_str(include_str!("fixtures/initializers.json")).unwrap())
}

fn case(name: &str) -> (Vec<usize>, Vec<f64>) {
    let c = &fixture()["cases"][name];
    let nums = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap_or_else(|| panic!("fixture case {name} is missing"))
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let shape = nums(&c["shape"]).into_iter().map(|d| d as usize).collect();
    (shape, nums(&c["values"]))
}

fn read(a: &Array) -> Vec<f64> {
    match a.dtype() {
        DType::F64 => a.to_vec::<f64>(),
        _ => a
            .astype(DType::F32)
            .to_vec::<f32>()
            .into_iter()
            .map(f64::from)
            .collect(),
    }
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: element {i} is {g}, JAX gives {w} (tolerance {tol})"
        );
    }
}

/// `init` with the fixture's seed and shape, on every device that supports
/// `dtype`, eagerly and jitted, against JAX's values.
fn check(name: &str, seed: u64, dtype: DType, tol: f64, init: Initializer) {
    let (shape, want) = case(name);
    for dev in registry().devices() {
        if !dev.info().caps.supports_dtype(dtype) {
            continue;
        }
        with_default_device(&dev, || {
            let what = format!("{name} on {}", dev.name());
            let k = key(seed);
            let eager = init.init(&k, &shape, dtype);
            assert_eq!(eager.shape(), shape, "{what}: shape");
            assert_close(&format!("{what} (eager)"), &read(&eager), &want, tol);
            let jitted = jit(|k: &Array| init.init(k, &shape, dtype))(&k);
            assert_close(&format!("{what} (jit)"), &read(&jitted), &want, tol);
        });
    }
}

#[test]
fn fixtures_come_from_jax() {
    assert_eq!(fixture()["jax_version"], Value::from("0.10.2"));
}

#[test]
fn simple_initializers_match_jax() {
    check("constant_m7", 0, DType::F32, 0.0, init::constant(-7.0));
    check("uniform_05", 42, DType::F32, 1e-7, init::uniform(0.5));
    check("normal_2", 42, DType::F32, 2e-6, init::normal(2.0));
    check(
        "truncated_normal_15_m1_2",
        42,
        DType::F32,
        2e-6,
        init::truncated_normal(1.5, -1.0, 2.0),
    );
    let z = init::zeros(&key(0), &[2, 3], DType::F32);
    assert_eq!(read(&z), vec![0.0; 6]);
    let o = Initializer::from(init::ones).init(&key(0), &[4], DType::F64);
    assert_eq!((o.dtype(), read(&o)), (DType::F64, vec![1.0; 4]));
    let row = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    let c = init::constant(&row).init(&key(0), &[2, 3], DType::F32);
    assert_eq!(read(&c), [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
}

#[test]
fn variance_scaling_family_matches_jax() {
    let t = 2e-6;
    check("glorot_uniform", 1, DType::F32, t, init::glorot_uniform());
    check("glorot_normal", 1, DType::F32, t, init::glorot_normal());
    check(
        "glorot_normal_f64",
        1,
        DType::F64,
        1e-12,
        init::xavier_normal(),
    );
    check(
        "xavier_uniform_conv",
        2,
        DType::F32,
        t,
        init::xavier_uniform(),
    );
    check("lecun_uniform", 3, DType::F32, t, init::lecun_uniform());
    check("lecun_normal", 3, DType::F32, t, init::lecun_normal());
    check("he_uniform_conv", 4, DType::F32, t, init::kaiming_uniform());
    check("he_normal_conv", 4, DType::F32, t, init::he_normal());
    check("kaiming_normal", 5, DType::F32, t, init::kaiming_normal());
    let vs = init::variance_scaling;
    check(
        "vs_fan_out_normal",
        6,
        DType::F32,
        t,
        vs(0.5, FanMode::FanOut, Distribution::Normal),
    );
    check(
        "vs_fan_geo_avg_uniform",
        6,
        DType::F32,
        t,
        vs(3.0, FanMode::FanGeoAvg, Distribution::Uniform),
    );
    check(
        "vs_axes",
        7,
        DType::F32,
        t,
        vs(1.0, FanMode::FanIn, Distribution::TruncatedNormal).fan_axes(&[0], &[1, 2], &[3]),
    );
    check(
        "vs_1d_in_axis",
        8,
        DType::F32,
        t,
        vs(1.0, FanMode::FanIn, Distribution::Uniform).fan_axes(&[0], &[0], &[]),
    );
}

#[test]
fn orthogonal_initializers_match_jax() {
    let t = 1e-5;
    check(
        "orthogonal_5x3",
        9,
        DType::F32,
        t,
        init::orthogonal(1.0, -1),
    );
    check(
        "orthogonal_3x5_scale2",
        9,
        DType::F32,
        t,
        init::orthogonal(2.0, -1),
    );
    check(
        "orthogonal_2x3x4_axis0",
        10,
        DType::F32,
        t,
        init::orthogonal(1.0, 0),
    );
    check(
        "orthogonal_6x4_f64",
        9,
        DType::F64,
        1e-12,
        init::orthogonal(1.0, -1),
    );
    check(
        "delta_orthogonal_3x3x4x6",
        11,
        DType::F32,
        t,
        init::delta_orthogonal(1.0, -1),
    );
    check(
        "delta_orthogonal_3x2x2",
        12,
        DType::F32,
        t,
        init::delta_orthogonal(1.5, -1),
    );
}

/// Empirical variance of a large draw against `scale / fan`, within five
/// standard errors (the variance of `w²` is at most `2σ⁴` for these).
fn assert_variance(what: &str, w: &Array, want: f64) {
    let n = w.size() as f64;
    let mean = w.mean(Axes::All, false).item::<f32>() as f64;
    let var = (w * w).mean(Axes::All, false).item::<f32>() as f64 - mean * mean;
    assert!(mean.abs() < 5.0 * (want / n).sqrt(), "{what}: mean {mean}");
    assert!(
        (var - want).abs() < 5.0 * want * (2.0 / n).sqrt(),
        "{what}: variance {var}, expected {want}"
    );
}

#[test]
fn variances_are_scale_over_fan() {
    // A conv kernel HWIO 5x5x16x32: fan_in = 400, fan_out = 800.
    let shape = [5, 5, 16, 32];
    let (fan_in, fan_out) = (400.0, 800.0);
    let k = |i| random::fold_in(&key(21), i);
    let cases: [(&str, Initializer, f64); 6] = [
        (
            "glorot_uniform",
            init::glorot_uniform(),
            2.0 / (fan_in + fan_out),
        ),
        (
            "glorot_normal",
            init::glorot_normal(),
            2.0 / (fan_in + fan_out),
        ),
        ("he_uniform", init::he_uniform(), 2.0 / fan_in),
        ("he_normal", init::he_normal(), 2.0 / fan_in),
        ("lecun_normal", init::lecun_normal(), 1.0 / fan_in),
        (
            "fan_out normal",
            init::variance_scaling(3.0, FanMode::FanOut, Distribution::Normal),
            3.0 / fan_out,
        ),
    ];
    for (i, (name, f, want)) in cases.into_iter().enumerate() {
        assert_variance(name, &f.init(&k(i as u32), &shape, DType::F32), want);
    }
    // Orthogonal: Q^T Q = I for the short side, scaled.
    let q = init::orthogonal(3.0, -1).init(&key(3), &[40, 8], DType::F32);
    let gram = read(&q.t().matmul(&q));
    for (i, g) in gram.iter().enumerate() {
        let want = if i / 8 == i % 8 { 9.0 } else { 0.0 };
        assert!((g - want).abs() < 1e-4, "gram[{i}] = {g}");
    }
}

#[test]
fn misuse_is_reported() {
    let msg = |r: oxjax::Result<Array>| r.unwrap_err().to_string();
    let k = key(0);
    assert_eq!(
        msg(init::glorot_uniform().try_init(&k, &[7], DType::F32)),
        "nn.initializers.variance_scaling: cannot find the input and output sizes of a \
         1-dimensional shape [7] with the default axes; weights need at least 2 axes, or set \
         them with Initializer::fan_axes"
    );
    assert_eq!(
        msg(init::he_normal()
            .fan_axes(&[3], &[0], &[])
            .try_init(&k, &[2, 2], DType::F32)),
        "nn.initializers.variance_scaling: axis 3 is out of range for shape [2, 2]"
    );
    assert_eq!(
        msg(init::normal(1.0).try_init(&k, &[2], DType::I32)),
        "nn.initializers.normal: dtype must be a float dtype, got i32"
    );
    assert_eq!(
        msg(init::orthogonal(1.0, -1).try_init(&k, &[4], DType::F32)),
        "nn.initializers.orthogonal: needs a shape of at least 2 axes with column_axis -1 in range, got [4]"
    );
    assert_eq!(
        msg(init::delta_orthogonal(1.0, -1).try_init(&k, &[3, 3, 8, 4], DType::F32)),
        "nn.initializers.delta_orthogonal: needs a 3-, 4- or 5-axis kernel with in <= out \
         (the last two axes), got [3, 3, 8, 4]"
    );
    let row = Array::from_vec(vec![1.0f32, 2.0], &[2]);
    assert_eq!(
        msg(init::constant(&row).try_init(&k, &[3], DType::F32)),
        "nn.initializers.constant: value of shape [2] does not broadcast to [3]"
    );
    let bad_key = Array::from_vec(vec![1.0f32, 2.0], &[2]);
    assert!(
        msg(init::lecun_uniform().try_init(&bad_key, &[2, 2], DType::F32))
            .contains("expected a key")
    );
    let panic = std::panic::catch_unwind(|| init::uniform(1.0).init(&k, &[2], DType::BOOL));
    let text = panic.unwrap_err().downcast_ref::<String>().unwrap().clone();
    assert_eq!(
        text,
        "nn.initializers.uniform: dtype must be a float dtype, got bool"
    );
    // Empty shapes give empty (zero) orthogonal matrices, as in JAX.
    let e = init::orthogonal(1.0, -1).init(&k, &[0, 3], DType::F32);
    assert_eq!(e.shape(), [0, 3]);
}
