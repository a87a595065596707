//! Replays tests/fixtures/jax_edges.json (JAX's outputs, written by
//! make_jax_edges.py) on the embedded device and every plugin, eagerly and
//! under `jit`: the inputs where oxjax once disagreed with JAX. A device
//! that declares non-finite arithmetic undefined (WGSL) is held to the
//! cases whose inputs and outputs are all finite, visibly.

mod common;

use common::{json_fixture, num, plugin_devices, registry};
use oxjax::abi::Semantics;
use oxjax::{Array, DType, Device, grad, jit, lax, nn, numpy as jnp, vmap, with_default_device};
use serde_json::Value;

fn dtype(name: &str) -> DType {
    match name {
        "float32" => DType::F32,
        "int32" => DType::I32,
        "uint32" => DType::U32,
        other => panic!("fixture dtype {other}"),
    }
}

/// The shape of a fixture value: its `shape`, or 1-d when it has none.
fn shape(v: &Value) -> Vec<usize> {
    match v.get("shape") {
        Some(s) => s
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect(),
        None => vec![v["data"].as_array().unwrap().len()],
    }
}

/// An array from a fixture value `{dtype, data, shape?}`.
fn array(v: &Value) -> Array {
    let data: Vec<f64> = v["data"].as_array().unwrap().iter().map(num).collect();
    let s = shape(v);
    match dtype(v["dtype"].as_str().unwrap()) {
        DType::F32 => Array::from_vec(data.iter().map(|&x| x as f32).collect(), &s),
        DType::I32 => Array::from_vec(data.iter().map(|&x| x as i32).collect(), &s),
        DType::U32 => Array::from_vec(data.iter().map(|&x| x as u32).collect(), &s),
        _ => unreachable!(),
    }
}

fn values(a: &Array) -> Vec<f64> {
    match a.dtype() {
        DType::F32 => a.to_vec::<f32>().into_iter().map(f64::from).collect(),
        DType::I32 => a.to_vec::<i32>().into_iter().map(f64::from).collect(),
        DType::U32 => a.to_vec::<u32>().into_iter().map(f64::from).collect(),
        d => panic!("unexpected result dtype {d}"),
    }
}

/// The oxjax spelling of each fixture case.
fn apply(name: &str, a: &[Array]) -> Array {
    let two = |f: fn(&Array, &Array) -> Array| f(&a[0], &a[1]);
    match name {
        "arcsinh" => jnp::arcsinh(&a[0]),
        "arccosh" => jnp::arccosh(&a[0]),
        "sigmoid" => nn::sigmoid(&a[0]),
        "hypot" => two(|x, y| jnp::hypot(x, y)),
        "floor_divide" | "floor_divide_i32" | "floor_divide_u32" => {
            two(|x, y| jnp::floor_divide(x, y))
        }
        "remainder_i32" | "remainder_u32" => two(|x, y| jnp::remainder(x, y)),
        "fmod_i32" | "fmod_u32" => two(|x, y| jnp::fmod(x, y)),
        "power_i32" => two(|x, y| jnp::power(x, y)),
        "lgamma" => lax::lgamma(&a[0]),
        "softmax" => nn::softmax(&a[0], -1),
        "log_softmax" => nn::log_softmax(&a[0], -1),
        "rint_i32" => jnp::rint(&a[0]),
        // JAX's default layout: channels last (NHWC / HWIO).
        "conv_transpose_2d_same" => lax::conv_transpose(
            &a[0],
            &a[1],
            &[2, 2],
            &lax::Padding::Same,
            None,
            None,
            false,
        ),
        "conv_transpose_2d_valid_tk" => lax::conv_transpose(
            &a[0],
            &a[1],
            &[1, 2],
            &lax::Padding::Valid,
            None,
            None,
            true,
        ),
        "conv_transpose_1d_valid" => {
            lax::conv_transpose(&a[0], &a[1], &[3], &lax::Padding::Valid, None, None, false)
        }
        "irfft2_one_bin" => oxjax::fft::irfft2(&oxjax::fft::Complex::from_real(&a[0]), None, None),
        "irfftn_one_bin" => oxjax::fft::irfftn(&oxjax::fft::Complex::from_real(&a[0]), None, None),
        "var_offset" => jnp::var(&a[0], oxjax::Axes::All, 0, true).reshape(&[1]),
        "grad_abs" => vmap(grad(|x: &Array| x.abs()))(&a[0]),
        "grad_relu" => vmap(grad(nn::relu))(&a[0]),
        "grad_hard_tanh" => vmap(grad(nn::hard_tanh))(&a[0]),
        "grad_prod" => vmap(grad(|x: &Array| x.prod(oxjax::Axes::All, false)))(&a[0]),
        "grad_cbrt" => vmap(grad(|x: &Array| jnp::cbrt(x)))(&a[0]),
        "grad_logaddexp_x" | "grad_logaddexp_y" => {
            let g = vmap(grad(|p: &(Array, Array)| jnp::logaddexp(&p.0, &p.1)));
            let (gx, gy) = g(&(a[0].clone(), a[1].clone()));
            if name.ends_with('x') { gx } else { gy }
        }
        n if n.starts_with("special_") => special(&n["special_".len()..], a),
        "quantile_q_axis1" | "quantile_nan" => jnp::quantile(&a[0], &qs(), Some(1), false),
        "nanquantile" => jnp::nanquantile(&a[0], &qs(), Some(1), false),
        "percentile_all" => jnp::percentile(&a[0], &Array::scalar(37.0f32), None, false),
        "nanpercentile_0_keep" => jnp::nanpercentile(&a[0], &Array::scalar(75.0f32), Some(0), true),
        "median_0_keep" => jnp::median(&a[0], Some(0), true),
        "median_all" => jnp::median(&a[0], None, false),
        "nanmedian_1" => jnp::nanmedian(&a[0], Some(1), false),
        "tril_indices_rows" => jnp::tril_indices(4, -1, Some(5)).0,
        "tril_indices_cols" => jnp::tril_indices(4, -1, Some(5)).1,
        "triu_indices_rows" => jnp::triu_indices(3, 1, None).0,
        "triu_indices_cols" => jnp::triu_indices(3, 1, None).1,
        "diag_indices" => jnp::diag_indices(3, 2).remove(1),
        "unravel_index_0" => jnp::unravel_index(&a[0], &[2, 3]).remove(0),
        "unravel_index_1" => jnp::unravel_index(&a[0], &[2, 3]).remove(1),
        "flatnonzero" => jnp::flatnonzero(&a[0], 4, -1),
        "argwhere" => jnp::argwhere(&a[0], 4, -1),
        "ravel_multi_index_clip" => {
            jnp::ravel_multi_index(&[&a[0], &a[1]], &[2, 3], jnp::ChooseMode::Clip)
        }
        "ravel_multi_index_wrap" => {
            jnp::ravel_multi_index(&[&a[0], &a[1]], &[2, 3], jnp::ChooseMode::Wrap)
        }
        "ix_" => {
            let r = Array::from_vec(vec![0i32, 2], &[2]);
            let c = Array::from_vec(vec![1i32, 3, 4], &[3]);
            let ix = jnp::ix_(&[&r, &c]);
            // x[ix_(r, c)]: the [2, 1] and [1, 3] index arrays broadcast
            // to the [2, 3] block of flat positions r * 5 + c.
            let flat = &ix[0] * 5 + &ix[1];
            jnp::take(&a[0], &flat, None)
        }
        "top_k_values" => lax::top_k(&a[0], 3).0,
        "top_k_indices" => lax::top_k(&a[0], 3).1,
        "sort_key_val_keys" => lax::sort_key_val(&a[0], &a[1], 1).0,
        "sort_key_val_values" => lax::sort_key_val(&a[0], &a[1], 1).1,
        "cumlogsumexp" => lax::cumlogsumexp(&a[0], 0, false),
        "cumlogsumexp_reverse" => lax::cumlogsumexp(&a[0], 0, true),
        "associative_scan_add_1" => lax::associative_scan(|x, y| x + y, &a[0], false, 1),
        "associative_scan_max_0r" => {
            lax::associative_scan(|x, y| jnp::maximum(x, y), &a[0], true, 0)
        }
        "reduce_max_1" => {
            let init = Array::scalar(f32::NEG_INFINITY);
            lax::reduce(&a[0], &init, |x, y| jnp::maximum(x, y), &[1])
        }
        "reduce_add_01" => lax::reduce(&a[0], &Array::scalar(0.0f32), |x, y| x + y, &[0, 1]),
        "map_sumsq" => lax::map(|r| (r * r).sum(oxjax::Axes::All, false), &a[0]),
        "dynamic_slice_in_dim" => lax::dynamic_slice_in_dim(&a[0], &Array::scalar(3i32), 2, 1),
        "dynamic_index_in_dim" => lax::dynamic_index_in_dim(&a[0], &Array::scalar(-1i32), 0, false),
        "dynamic_update_slice_in_dim" => {
            let u = Array::full(&[3, 2], 9.0f32);
            lax::dynamic_update_slice_in_dim(&a[0], &u, &Array::scalar(4i32), 1)
        }
        n if n.starts_with("scatter_") => {
            let idx = Array::from_vec(vec![1i32, 3, 1, 0], &[4]);
            let f = match n {
                "scatter_mul" => lax::scatter_mul,
                "scatter_min" => lax::scatter_min,
                "scatter_max" => lax::scatter_max,
                _ => lax::scatter_sub,
            };
            f(&a[0], &idx, &a[1], 0)
        }
        n => {
            let (op, start) = n.rsplit_once('_').expect("a dynamic slice case");
            let s = Array::scalar(start.parse::<i32>().expect("a start index"));
            match op {
                "dynamic_slice" => lax::dynamic_slice(&a[0], &[&s], &[2]),
                "dynamic_update_slice" => {
                    let u = Array::from_vec(vec![9.0f32, 9.0], &[2]);
                    lax::dynamic_update_slice(&a[0], &u, &[&s])
                }
                _ => panic!("no oxjax spelling for fixture case {n}"),
            }
        }
    }
}

/// The quantiles of the quantile cases.
fn qs() -> Array {
    Array::from_vec(vec![0.1f32, 0.5, 0.9, 1.0], &[4])
}

/// The `oxjax::scipy::special` cases, by SciPy name.
fn special(name: &str, a: &[Array]) -> Array {
    use oxjax::scipy::special as sp;
    match name {
        "erf" => sp::erf(&a[0]),
        "erfc" => sp::erfc(&a[0]),
        "erfinv" => sp::erfinv(&a[0]),
        "gammaln" => sp::gammaln(&a[0]),
        "digamma" => sp::digamma(&a[0]),
        "expit" => sp::expit(&a[0]),
        "logit" => sp::logit(&a[0]),
        "xlogy" => sp::xlogy(&a[0], &a[1]),
        "xlog1py" => sp::xlog1py(&a[0], &a[1]),
        "ndtr" => sp::ndtr(&a[0]),
        "ndtri" => sp::ndtri(&a[0]),
        "i0e" => sp::i0e(&a[0]),
        "i1e" => sp::i1e(&a[0]),
        "logsumexp" => sp::logsumexp(&a[0], 1, false, None),
        "softmax" => sp::softmax(&a[0], 0),
        other => panic!("no oxjax spelling for special.{other}"),
    }
}

/// How far from JAX a finite value may be: `(ulps, floor)` — within `ulps`
/// f32 ulps of `max(|JAX|, floor)`. lgamma gets an absolute floor: near its
/// zeros neither side is relatively accurate (JAX is 64 ulps from the truth
/// at -2.5, oxjax 1), and JAX's own error is several ulps elsewhere.
/// var_offset: the truth is 1398102.75; JAX is 2 ulps from it, oxjax 9
/// (f32 sums of squares; it was 33% off before the shifted two-pass form).
fn tolerance(name: &str) -> (f64, f64) {
    match name {
        "lgamma" => (16.0, 1.0),
        "var_offset" => (16.0, 0.0),
        // Different polynomial approximations (XLA's vs oxjax's), or
        // composites with a few roundings more.
        "special_erfinv" | "special_digamma" | "special_i0e" | "special_i1e" | "special_erfc"
        | "special_ndtr" | "special_gammaln" => (64.0, 1e-6),
        // Through erfinv(2p - 1): see its Partial note.
        "special_ndtri" => (1024.0, 0.0),
        "cumlogsumexp" | "cumlogsumexp_reverse" | "special_logsumexp" => (8.0, 1e-6),
        _ => (4.0, 0.0),
    }
}

/// Same value: NaN with NaN, the same infinity, zeros with their sign, else
/// within the tolerance.
fn agrees(got: f64, want: f64, (ulps, floor): (f64, f64)) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want == 0.0 && floor == 0.0 {
        return got == 0.0 && got.is_sign_negative() == want.is_sign_negative();
    }
    got == want || (got - want).abs() <= ulps * f32::EPSILON as f64 * want.abs().max(floor)
}

fn check_on(dev: &Device, cases: &[Value]) -> Vec<String> {
    let finite_only = dev
        .info()
        .caps
        .semantics
        .has(Semantics::NONFINITE_UNDEFINED);
    let mut failures = Vec::new();
    with_default_device(dev, || {
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let args: Vec<Array> = c["args"].as_array().unwrap().iter().map(array).collect();
            let want_dtype = dtype(c["out"]["dtype"].as_str().unwrap());
            let want_shape = shape(&c["out"]);
            let want: Vec<f64> = c["out"]["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(num)
                .collect();
            let all_finite = want.iter().all(|v| v.is_finite())
                && args.iter().all(|a| values(a).iter().all(|v| v.is_finite()));
            if finite_only && !all_finite {
                continue;
            }
            let eager = apply(name, &args);
            let jitted = jit(|a: &Vec<Array>| apply(name, a))(&args);
            for (how, got) in [("eager", &eager), ("jit", &jitted)] {
                let vals = values(got);
                let ok = got.dtype() == want_dtype
                    && got.shape() == want_shape.as_slice()
                    && vals
                        .iter()
                        .zip(&want)
                        .all(|(&g, &w)| agrees(g, w, tolerance(name)));
                if !ok {
                    failures.push(format!(
                        "{} {how} {name}: got {} {:?} {vals:?}, JAX {want_dtype} {want_shape:?} {want:?}",
                        dev.name(),
                        got.dtype(),
                        got.shape()
                    ));
                }
            }
        }
    });
    failures
}

#[test]
fn oxjax_agrees_with_jax_at_the_edges() {
    let doc = json_fixture("jax_edges.json");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "the fixture has {} cases", cases.len());
    let mut devices = vec![registry().device("embedded").unwrap()];
    devices.extend(plugin_devices());
    let failures: Vec<String> = devices.iter().flat_map(|d| check_on(d, cases)).collect();
    assert!(
        failures.is_empty(),
        "{} disagreements with JAX {}:\n{}",
        failures.len(),
        doc["jax"],
        failures.join("\n")
    );
}

/// `arange`'s default dtype follows the Rust type of its arguments, as
/// JAX's follows the Python type (not the values).
#[test]
fn arange_takes_its_dtype_from_the_argument_type() {
    assert_eq!(jnp::arange(0.0, 3.0, 1.0, None).dtype(), DType::F32);
    assert_eq!(jnp::arange(0, 3, 1, None).dtype(), DType::I32);
}

/// Weak types survive an op between weak values, as in JAX:
/// `(1 + 2.5) + f16_array` is f16, eagerly and under `jit`.
#[test]
fn an_op_between_weak_values_stays_weak() {
    let x = Array::from_vec(vec![oxjax::f16::from_f32(1.5)], &[1]);
    let f = |x: &Array| jnp::add(jnp::add(1, 2.5), x);
    let eager = f(&x);
    assert_eq!(eager.dtype(), DType::F16);
    assert_eq!(eager.to_vec::<oxjax::f16>()[0].to_f32(), 5.0);
    assert_eq!(jit(f)(&x).dtype(), DType::F16);
    let w = jnp::add(1, 2.5);
    assert!(w.is_weak(), "1 + 2.5 is weak");
    assert_eq!(w.dtype(), DType::F32);
    assert_eq!(jnp::multiply(jnp::add(2, 1), &x).dtype(), DType::F16);
}
