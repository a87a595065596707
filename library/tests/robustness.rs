//! Inputs found by trying to break the library: each once refused with a
//! confusing message, accepted with a wrong result, or crashed. Every
//! case runs on the embedded device and every plugin of plugins.toml.

mod common;

use common::{own_devices, plugin_devices, registry};
use oxjax::{Array, Axes, DType, Slice, jit, with_default_device};

fn every_device(f: impl Fn(&str)) {
    let mut devices = vec![registry().device("embedded").unwrap()];
    devices.extend(plugin_devices());
    for d in &devices {
        with_default_device(d, || f(d.name()));
    }
}

/// The panic message of `f`.
fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let e = std::panic::catch_unwind(f).expect_err("expected a panic");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn all_and_any_over_an_empty_axis_are_true_and_false() {
    every_device(|dev| {
        let x = Array::zeros(&[3, 0], DType::F32);
        let all = x.all(1, false);
        let any = x.any(1, false);
        assert_eq!(all.to_vec::<bool>(), vec![true; 3], "{dev}");
        assert_eq!(any.to_vec::<bool>(), vec![false; 3], "{dev}");
        let f = jit(|x: &Array| (x.all(Axes::All, false), x.any(1, false)));
        let (a, b) = f(&x);
        assert!(a.item::<bool>(), "{dev}");
        assert_eq!(b.to_vec::<bool>(), vec![false; 3], "{dev}");
        // min/max still have no identity.
        let msg = panic_text(|| {
            x.max(1, false);
        });
        assert!(msg.contains("max: zero-size reduction"), "{msg}");
    });
}

#[test]
fn shapes_whose_size_overflows_are_refused_naming_the_op_and_shape() {
    let msg = panic_text(|| {
        Array::from_vec(Vec::<f32>::new(), &[1 << 62, 4]);
    });
    assert!(
        msg.contains("from_slice") && msg.contains("[4611686018427387904, 4]"),
        "{msg}"
    );
    let msg = panic_text(|| {
        Array::zeros(&[1 << 32, 1 << 32], DType::F32);
    });
    assert!(msg.contains("full") && msg.contains("usize"), "{msg}");
    let msg = panic_text(|| {
        let a = Array::zeros(&[1 << 32, 1], DType::F32);
        let b = Array::zeros(&[1, 1 << 32], DType::F32);
        let _ = &a + &b;
    });
    assert!(msg.contains("add") && msg.contains("usize"), "{msg}");
    // A zero-sized axis makes any shape empty, never an overflow.
    assert_eq!(Array::zeros(&[1 << 40, 0, 1 << 40], DType::F32).size(), 0);
}

#[test]
fn more_elements_than_a_kernel_covers_is_a_clear_error() {
    // A constant needs no buffer until something reads it; the first kernel
    // over it is refused before anything is allocated.
    let x = Array::full(&[1 << 31, 2], true);
    let msg = panic_text(|| {
        x.logical_not();
    });
    assert!(
        msg.contains("[2147483648, 2]") && msg.contains("one kernel covers"),
        "{msg}"
    );
}

#[test]
fn concatenating_more_arrays_than_a_kernel_binds_is_split() {
    every_device(|dev| {
        let parts: Vec<Array> = (0..200)
            .map(|i| Array::from_vec(vec![i as f32, -(i as f32)], &[2]))
            .collect();
        let refs: Vec<&Array> = parts.iter().collect();
        let c = Array::concatenate(&refs, 0);
        let want: Vec<f32> = (0..200).flat_map(|i| [i as f32, -(i as f32)]).collect();
        assert_eq!(c.to_vec::<f32>(), want, "{dev}");
    });
}

#[test]
fn an_npy_header_whose_shape_overflows_is_refused() {
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }";
    let mut padded = header.to_string();
    while !(10 + padded.len() + 1).is_multiple_of(64) {
        padded.push(' ');
    }
    padded.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((padded.len() as u16).to_le_bytes());
    bytes.extend(padded.as_bytes());
    let e = oxjax::interop::read_npy(&mut bytes.as_slice()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("npy") && msg.contains("usize"), "{msg}");
}

#[test]
fn a_dtype_the_device_lacks_is_an_error_with_the_fix() {
    for dev in plugin_devices() {
        if dev.info().caps.supports_dtype(DType::F64) {
            continue;
        }
        with_default_device(&dev, || {
            let x = Array::from_vec(vec![1.0f32, 2.0], &[2]);
            let e = x.try_astype(DType::F64).unwrap_err().to_string();
            assert!(
                e.contains("does not support f64") && e.contains("embedded"),
                "{e}"
            );
            let e = Array::try_from_slice(&[1.0f64], &[1], &dev)
                .unwrap_err()
                .to_string();
            assert!(e.contains("does not support f64"), "{e}");
            // The same values on a device that has f64.
            let host = registry().device("embedded").unwrap();
            let y = x.device_put(&host).astype(DType::F64);
            assert_eq!(y.to_vec::<f64>(), vec![1.0, 2.0]);
        });
    }
}

/// Kernels that differ in shape each compile once; the device keeps at
/// most 1024 of them (least recently used released), so a long-running
/// program does not grow without bound, and an evicted kernel compiles
/// again when it returns.
#[test]
fn the_kernel_cache_is_bounded() {
    let dev = registry().device("reference").unwrap();
    with_default_device(&dev, || {
        let x = Array::from_vec(vec![1.0f32, 2.0], &[2]);
        let first = (&x + &x).to_vec::<f32>();
        for n in 3..1103usize {
            let y = Array::ones(&[n], DType::F32).sum(Axes::All, false);
            assert_eq!(y.item::<f32>(), n as f32);
        }
        assert!(dev.cached_kernels() <= 1024, "{}", dev.cached_kernels());
        assert!(dev.cached_kernels() > 700, "{}", dev.cached_kernels());
        assert_eq!((&x + &x).to_vec::<f32>(), first);
    });
}

/// A Rust scalar that changes every step (a learning-rate schedule) and a
/// slice that moves (`x[i]` in a loop) are kernel parameters, not
/// constants: 2,000 steps compile the kernels of one step.
#[test]
fn varying_scalars_and_offsets_compile_once() {
    for dev in own_devices() {
        with_default_device(&dev, || varying_steps(dev.name(), &dev));
    }
}

/// 2,000 steps of `w - x[i] * lr_i` on `dev`.
fn varying_steps(name: &str, dev: &oxjax::Device) {
    let w = Array::from_vec(vec![1.0f32; 8], &[8]);
    let xs = Array::arange(0.0, 16_000.0, 1.0, DType::F32).reshape(&[2000, 8]);
    let step = |i: usize| {
        let lr = 0.1f32 / (1.0 + i as f32);
        let row = xs
            .slice(&[Slice::from(i as isize..i as isize + 1)])
            .reshape(&[8]);
        &w - &(&row * lr)
    };
    let first = step(0).to_vec::<f32>();
    assert_eq!(first[1], 1.0 - 0.1, "{name}");
    let before = dev.cached_kernels();
    for i in 1..2000 {
        let got = step(i).to_vec::<f32>();
        let want = 1.0 - (8 * i + 3) as f32 * (0.1 / (1.0 + i as f32));
        assert!(
            (got[3] - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{name} step {i}"
        );
    }
    assert!(
        dev.cached_kernels() <= before + 2,
        "{name}: {} kernels after 2000 steps, {before} after one",
        dev.cached_kernels()
    );
}
