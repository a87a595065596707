//! Programs that are big or long rather than wrong: long reductions, many
//! axes, long loops, varying scalars. Each once aborted, hung, compiled
//! without bound or returned a wrong number on some device.

mod common;

use common::{plugin_devices, registry};
use oxjax::{Array, Axes, DType, jit, with_default_device};

/// The value of a 0-d array, as f64 (every device has f32).
fn val(x: &Array) -> f64 {
    x.astype(DType::F32).item::<f32>() as f64
}

/// Every plugin device, then the embedded one.
fn devices() -> Vec<oxjax::Device> {
    let mut d = plugin_devices();
    d.push(registry().device("embedded").unwrap());
    d
}

/// The scalar interpreters (the reference plugin and the embedded device)
/// take seconds per op at 2^24 elements, so they run the checks that
/// concern them (accumulation past 2^24), not the whole battery.
fn interpreter(dev: &oxjax::Device) -> bool {
    matches!(dev.name(), "reference" | "embedded")
}

/// `[n]` values 1 except 7 at `peak`.
fn with_peak(n: usize, peak: usize, dtype: DType) -> Array {
    let seven = Array::full(&[1], 7.0f32).astype(dtype);
    let at = Array::scalar(peak as i32);
    oxjax::lax::dynamic_update_slice(&Array::ones(&[n], dtype), &seven, &[&at])
}

/// Sum, mean, max and argmax of `n` elements, eager and jitted. A peak near
/// the end catches a loop that stops early; one at the start a loop that
/// starts late.
fn check_long(dev: &str, n: usize, dtype: DType, all: bool) {
    let ones = Array::ones(&[n], dtype);
    let want = n as f64;
    let close = |got: f64, what: &str| {
        assert!(
            (got - want).abs() <= want * 1e-6,
            "{dev} {dtype:?} n={n}: {what} = {got}, want {want}"
        );
    };
    close(
        val(&jit(|x: &Array| x.sum(Axes::All, false))(&ones)),
        "jit sum",
    );
    let mean = val(&jit(|x: &Array| x.mean(Axes::All, false))(&ones));
    assert!((mean - 1.0).abs() < 1e-6, "{dev} n={n}: jit mean = {mean}");
    if !all {
        return;
    }
    close(val(&ones.sum(Axes::All, false)), "sum");
    for peak in [n - 2, 1] {
        let x = with_peak(n, peak, dtype);
        let am = x.argmax(None).item::<i32>();
        assert_eq!(am, peak as i32, "{dev} {dtype:?} n={n}: argmax");
        let jam = jit(|x: &Array| x.argmax(None))(&x).item::<i32>();
        assert_eq!(jam, peak as i32, "{dev} {dtype:?} n={n}: jit argmax");
        let mx = val(&jit(|x: &Array| x.max(Axes::All, false))(&x));
        assert_eq!(mx, 7.0, "{dev} {dtype:?} n={n}: jit max");
    }
}

/// Reductions longer than 2^24 steps (where an f32 accumulator stops
/// growing) and than 65,535 loop iterations (where llvmpipe silently ends
/// a shader's loops).
#[test]
fn reductions_past_2_24_elements_are_exact_on_every_device() {
    for dev in devices() {
        let all = !interpreter(&dev);
        with_default_device(&dev, || {
            check_long(dev.name(), (1 << 24) + 3, DType::F32, all)
        });
    }
}

/// 2^26 elements on the devices that run them quickly. A device that
/// cannot hold 2^26 f32 in one buffer (lavapipe binds 128 MiB) refuses
/// them with a clear error and is checked in f16.
#[test]
fn reductions_of_2_26_elements() {
    let n = 1usize << 26;
    for dev in plugin_devices() {
        if interpreter(&dev) {
            continue;
        }
        with_default_device(&dev, || {
            let name = dev.name().to_string();
            let f32_run = std::panic::catch_unwind(|| big(&name, n, DType::F32));
            if let Err(p) = f32_run {
                let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
                assert!(msg.contains("bytes"), "{name}: {msg}");
                big(&name, n, DType::F16);
            }
        });
    }
}

/// Mean, max and argmax of `n` elements of `dtype`, and the sums of
/// [`check_long`] (on 2048 elements for f16, whose sums overflow past 65504).
fn big(dev: &str, n: usize, dtype: DType) {
    check_long(dev, if dtype == DType::F16 { 2048 } else { n }, dtype, true);
    let x = with_peak(n, n - 2, dtype);
    assert_eq!(x.argmax(None).item::<i32>(), (n - 2) as i32, "{dev}");
    let mx = val(&jit(|x: &Array| x.max(Axes::All, false))(&x));
    assert_eq!(mx, 7.0, "{dev} {dtype:?}");
    let mean = val(&jit(|x: &Array| x.mean(Axes::All, false))(&x));
    let want = (n as f64 + 6.0) / n as f64;
    assert!((mean - want).abs() < 1e-6, "{dev} {dtype:?} mean {mean}");
}

/// 2^24 elements spread over 24 axes of length 2.
#[test]
fn rank_24_reductions() {
    let shape: Vec<isize> = vec![2; 24];
    let n = 1usize << 24;
    for dev in plugin_devices().into_iter().filter(|d| !interpreter(d)) {
        with_default_device(&dev, || {
            let x = with_peak(n, n - 3, DType::F32).reshape(&shape);
            assert_eq!(
                x.argmax(None).item::<i32>(),
                (n - 3) as i32,
                "{}",
                dev.name()
            );
            let s = val(&jit(|x: &Array| x.sum(Axes::All, false))(&x));
            assert_eq!(s, (n + 6) as f64, "{}", dev.name());
        });
    }
}

/// Many outputs each reducing more than 65,535 steps in one invocation.
#[test]
fn long_row_sums() {
    for dev in devices() {
        with_default_device(&dev, || {
            let x = Array::ones(&[64, 100_000], DType::F32);
            let r = x.sum(1, false).to_vec::<f32>();
            assert!(r.iter().all(|&v| v == 100_000.0), "{}: {r:?}", dev.name());
            let j = jit(|x: &Array| x.sum(1, false))(&x).to_vec::<f32>();
            assert!(j.iter().all(|&v| v == 100_000.0), "{}: {j:?}", dev.name());
        });
    }
}

/// An eager and a jitted `scan` of many steps: each step reads `xs[i]`
/// with the index as data, so the steps share their kernels (they once
/// compiled one copy kernel per step: 16,000 steps took minutes). 100,000 steps where a step costs microseconds; fewer on the
/// interpreter and on webgpu (lavapipe spends ~0.2 ms per dispatch).
#[test]
fn long_scans_compile_their_kernels_once() {
    for dev in common::own_devices() {
        let n = match dev.name() {
            "wasm" | "embedded" => 100_000,
            "reference" => 20_000,
            _ => 2_000,
        };
        with_default_device(&dev, || {
            let xs = Array::arange(0.0, n as f64, 1.0, DType::I32).remainder(Array::scalar(7i32));
            let body = |c: &Array, x: &Array| {
                let s = c + x;
                (s.clone(), &s * 2i32)
            };
            let want_total: i64 = (0..n as i64).map(|i| i % 7).sum();
            let eager = |xs: &Array| oxjax::lax::scan(body, &Array::scalar(0i32), xs, None, false);
            let jitted =
                jit(|xs: &Array| oxjax::lax::scan(body, &Array::scalar(0i32), xs, None, false));
            let before = dev.cached_kernels();
            for (how, (total, ys)) in [("eager", eager(&xs)), ("jit", jitted(&xs))] {
                assert_eq!(
                    total.item::<i32>() as i64,
                    want_total,
                    "{} {how}",
                    dev.name()
                );
                let ys = ys.to_vec::<i32>();
                assert_eq!(ys.len(), n);
                assert_eq!(ys[n - 1] as i64, 2 * want_total, "{} {how}", dev.name());
                assert_eq!(ys[2], 2 * (1 + 2), "{} {how}", dev.name());
            }
            let compiled = dev.cached_kernels() - before;
            assert!(
                compiled < 64,
                "{}: {compiled} kernels for {n} steps",
                dev.name()
            );
        });
    }
}
