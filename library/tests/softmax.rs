//! The softmax primitive (the SOFTMAX routine where a device lists it)
//! against the composition it replaces, on every device of plugins.toml
//! and the embedded one: values at the edges (-inf entries, +inf and NaN
//! rows, all -inf rows, huge values, lengths around the 16-wide step),
//! f32 and f64, under `jit`; its jvp against finite differences and the
//! composition's; batching over a leading and a middle axis; and on wasm,
//! that a jitted `nn::softmax` is the one routine step.

use oxjax::primitive::softmax_rules;
use oxjax::{Array, Axes, DType, Device, grad, jit, nn, vmap_in_axes, with_default_device};
mod common;
use common::{check_grad, own_devices, plugin_devices, uniform};

/// What `nn::softmax` computed before the primitive (and still does where
/// the device lacks the routine).
fn composed(x: &Array) -> Array {
    let e = (x - x.max(-1, true).stop_gradient()).exp();
    &e / e.sum(-1, true)
}

fn devices() -> Vec<Device> {
    let mut d = plugin_devices();
    d.push(oxjax::Registry::embedded().default_device());
    d
}

fn values(a: &Array) -> Vec<f64> {
    match a.dtype() {
        DType::F32 => a.to_vec::<f32>().into_iter().map(f64::from).collect(),
        _ => a.to_vec::<f64>(),
    }
}

/// Equal within `tol` relative to `1e-30 + |want|`, NaN where the other is.
#[track_caller]
fn same(got: &Array, want: &Array, tol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    let (g, w) = (values(got), values(want));
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol * (1e-30 + b.abs());
        assert!(ok, "{what}: element {i}: {a:e} vs {b:e}");
    }
}

/// `[rows, n]` random rows in [-20, 20), then (where there are rows for
/// them) a row with -inf entries, a +inf row, a NaN row, an all -inf row
/// and a row of values near 1e30.
fn edge_rows(rows: usize, n: usize, seed: u64) -> Vec<f64> {
    let mut v: Vec<f64> = uniform(rows * n, seed).iter().map(|u| u * 20.0).collect();
    let mut set = |row: usize, f: &dyn Fn(usize) -> Option<f64>| {
        if row < rows {
            for i in 0..n {
                if let Some(x) = f(i) {
                    v[row * n + i] = x;
                }
            }
        }
    };
    set(1, &|i| (i % 3 == 1 || n == 1).then_some(f64::NEG_INFINITY));
    set(2, &|i| (i == n / 2).then_some(f64::INFINITY));
    set(3, &|i| (i == n - 1).then_some(f64::NAN));
    set(4, &|_| Some(f64::NEG_INFINITY));
    set(5, &|i| Some(1e30 * (1.0 + i as f64 * 1e-6)));
    v
}

/// `v` as an array of `dtype` made there (webgpu has no f64 to convert from).
fn array(v: &[f64], shape: &[usize], dtype: DType) -> Array {
    match dtype {
        DType::F32 => Array::from_vec(v.iter().map(|&x| x as f32).collect(), shape),
        _ => Array::from_vec(v.to_vec(), shape),
    }
}

fn floats(dev: &Device) -> Vec<(DType, f64)> {
    let mut d = vec![(DType::F32, 2e-5)];
    if dev.info().caps.supports_dtype(DType::F64) {
        d.push((DType::F64, 1e-12));
    }
    d
}

#[test]
fn the_primitive_equals_the_composition_on_every_device() {
    for dev in devices() {
        with_default_device(&dev, || {
            for (dtype, tol) in floats(&dev) {
                for (rows, n) in [
                    (6, 1),
                    (7, 3),
                    (6, 8),
                    (6, 17),
                    (9, 33),
                    (6, 1000),
                    (8, 1024),
                ] {
                    let x = array(&edge_rows(rows, n, n as u64), &[rows, n], dtype);
                    let what = format!("{} {dtype} [{rows}, {n}]", dev.name());
                    let want = composed(&x);
                    same(&softmax_rules::softmax(&x), &want, tol, &what);
                    same(&nn::softmax(&x, -1), &want, tol, &format!("{what} nn"));
                    let jitted = jit(softmax_rules::softmax)(&x);
                    same(&jitted, &want, tol, &format!("{what} jit"));
                }
                // rank 3, and rank 1
                let x = array(&uniform(2 * 3 * 5, 9), &[2, 3, 5], dtype);
                same(&nn::softmax(&x, 2), &composed(&x), tol, "rank 3");
                let v = array(&uniform(5, 10), &[5], dtype);
                same(&nn::softmax(&v, Axes::All), &composed(&v), tol, "rank 1");
                // another axis: the composition, transposed
                let y = nn::softmax(&x, 1);
                let want = composed(&x.moveaxis(1, 2)).moveaxis(2, 1);
                same(&y, &want, tol, "axis 1");
            }
        });
    }
}

#[test]
fn its_gradient_is_the_composition_s() {
    let w: Vec<f64> = uniform(4 * 7, 3);
    let x: Vec<f64> = uniform(4 * 7, 4).iter().map(|v| v * 3.0).collect();
    for dev in devices() {
        with_default_device(&dev, || {
            for (dtype, tol) in floats(&dev) {
                let w = array(&w, &[4, 7], dtype);
                let loss = |f: fn(&Array) -> Array| {
                    let w = w.clone();
                    move |x: &Array| (f(x) * &w).sum(Axes::All, false)
                };
                let x = array(&x, &[4, 7], dtype);
                let what = format!("{} {dtype}", dev.name());
                let g = grad(loss(softmax_rules::softmax))(&x);
                same(&g, &grad(loss(composed))(&x), tol * 10.0, &what);
                let gj = jit(grad(loss(softmax_rules::softmax)))(&x);
                same(&gj, &g, tol * 10.0, &format!("{what} jit(grad)"));
                if dtype == DType::F64 {
                    check_grad(&what, loss(softmax_rules::softmax), &x);
                }
            }
        });
    }
}

#[test]
fn it_batches_over_any_axis() {
    for dev in devices() {
        with_default_device(&dev, || {
            let v: Vec<f64> = uniform(3 * 4 * 5, 5).iter().map(|v| v * 5.0).collect();
            let x = array(&v, &[3, 4, 5], DType::F32);
            // over the leading axis
            let y = oxjax::vmap(softmax_rules::softmax)(&x);
            same(&y, &composed(&x), 1e-5, "vmap axis 0");
            // over a middle axis (the batch axis is moved off the last)
            let y = vmap_in_axes(softmax_rules::softmax, 1, 1)(&x);
            same(&y, &composed(&x), 1e-5, "vmap axis 1");
            // over the last axis: rows are then the middle axis
            let y = vmap_in_axes(softmax_rules::softmax, 2, 0)(&x);
            let want = composed(&x.moveaxis(2, 0));
            same(&y, &want, 1e-5, "vmap axis 2");
            // under jit, with a gradient inside
            let f = |x: &Array| {
                grad(|r: &Array| {
                    softmax_rules::softmax(r)
                        .max(-1, false)
                        .sum(Axes::All, false)
                })(x)
            };
            let g = jit(oxjax::vmap(f))(&x);
            let want = oxjax::vmap(grad(|r: &Array| {
                composed(r).max(-1, false).sum(Axes::All, false)
            }))(&x);
            same(&g, &want, 1e-4, "jit(vmap(grad))");
        });
    }
}

/// On wasm a jitted `nn::softmax` over rows is one routine launch (it was
/// four kernels); where the device lacks the routine (webgpu) the library
/// keeps the composition, so the program has no softmax step.
#[test]
fn a_jitted_softmax_runs_the_routine_where_listed() {
    for dev in own_devices() {
        with_default_device(&dev, || {
            let listed = dev
                .info()
                .caps
                .supports_routine(oxjax::abi::RoutineKind::SOFTMAX);
            let x = array(&uniform(64 * 256, 7), &[64, 256], DType::F32);
            let jaxpr = oxjax::make_jaxpr(|x: &Array| nn::softmax(x, -1))(&x).to_string();
            assert_eq!(
                jaxpr.contains("softmax"),
                listed,
                "{}:\n{jaxpr}",
                dev.name()
            );
            let f = jit(|x: &Array| nn::softmax(x, -1));
            let want = composed(&x);
            same(&f(&x), &want, 2e-5, dev.name());
            let before = dev.kernel_launches();
            let y = f(&x);
            let launches = dev.kernel_launches() - before;
            same(&y, &want, 2e-5, dev.name());
            if listed {
                assert_eq!(launches, 1, "{}: one routine launch", dev.name());
            } else {
                assert!(launches >= 2, "{}: {launches} kernels", dev.name());
            }
        });
    }
    let wasm = own_devices().into_iter().find(|d| d.name() == "wasm");
    let wasm = wasm.expect("plugins.toml names the wasm device");
    assert!(
        wasm.info()
            .caps
            .supports_routine(oxjax::abi::RoutineKind::SOFTMAX)
    );
}
