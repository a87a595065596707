//! Native CONV plumbing: the option that lists it, the shader behind the
//! executable, refused descriptors. Its values are checked against a
//! direct convolution by the conformance suite (`contract:routines`).

mod common;

use common::*;
use oxjax_abi::{Backend, DType, ErrorKind, Routine, RoutineKind, TensorDesc};

fn t(d: DType, s: &[u64]) -> TensorDesc {
    TensorDesc {
        dtype: d,
        shape: s.to_vec().into(),
    }
}

/// 1-d: lhs [1, 2, 4], rhs [1, 2, 2], stride 1, no padding.
fn conv1d(d: DType, out: &[u64]) -> Routine {
    Routine {
        kind: RoutineKind::CONV,
        inputs: vec![t(d, &[1, 2, 4]), t(d, &[1, 2, 2])].into(),
        outputs: vec![t(d, out)].into(),
        params: vec![1, 1, 1, 1, 0, 0, 1, 1].into(),
    }
}

#[test]
fn conv_runs_as_one_shader_and_is_listed_by_option() {
    let Some(be) = backend() else { return };
    let r = conv1d(DType::F32, &[1, 1, 3]);
    let exe = be.compile_routine(&r).unwrap();
    assert!(be.source(exe).contains("oxjax conv"), "{}", be.source(exe));
    let f = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let x = be.alloc(32).unwrap();
    let k = be.alloc(16).unwrap();
    let y = be.alloc(12).unwrap();
    be.write(x, 0, &f(&[1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0]))
        .unwrap();
    be.write(k, 0, &f(&[1.0, -1.0, 0.5, 2.0])).unwrap();
    be.execute(exe, &[x, k], &[y]).unwrap();
    // out[p] = x0[p] - x0[p+1] + 0.5 x1[p] + 2 x1[p+1]
    assert_eq!(be.read(y, 0, 12).unwrap(), f(&[44.0, 69.0, 94.0]));
    for b in [x, k, y] {
        be.free(b);
    }
    be.release(exe);

    // Listed by default except on CPU adapters; `native_conv` decides.
    let cpu = be.adapter_info().device_type == oxjax_backend_webgpu::DeviceType::Cpu;
    assert_eq!(be.info().caps.supports_routine(RoutineKind::CONV), !cpu);
    for (opt, listed) in [("native_conv = true", true), ("native_conv = false", false)] {
        let b = oxjax_backend_webgpu::new(opt).unwrap();
        assert_eq!(b.info().caps.supports_routine(RoutineKind::CONV), listed);
    }
    assert_eq!(
        oxjax_backend_webgpu::new("native_conv = 1")
            .err()
            .unwrap()
            .kind,
        ErrorKind::INVALID_ARGUMENT
    );
}

#[test]
fn bad_conv_descriptors_are_refused() {
    let Some(be) = backend() else { return };
    let wrong_out = be
        .compile_routine(&conv1d(DType::F32, &[1, 1, 4]))
        .unwrap_err();
    assert_eq!(wrong_out.kind, ErrorKind::INVALID_ARGUMENT);
    assert!(wrong_out.message.contains("conv"), "{}", wrong_out.message);
    let f64s = be
        .compile_routine(&conv1d(DType::F64, &[1, 1, 3]))
        .unwrap_err();
    assert_eq!(f64s.kind, ErrorKind::UNSUPPORTED);
    let mut groups = conv1d(DType::F32, &[1, 1, 3]);
    groups.params[1] = 2; // 2 channels in 2 groups of rhs's 2: 4 needed
    assert_eq!(
        be.compile_routine(&groups).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
}

/// The three convolutions of a conv layer's training step (the bench
/// `conv_fwd_bwd`: forward, input gradient, weight gradient), timed:
/// `cargo test -p oxjax-backend-webgpu --test conv -- --ignored --nocapture`.
#[test]
#[ignore]
fn conv_layer_timing() {
    let Some(be) = backend() else { return };
    let same = vec![2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    for (name, lhs, rhs, out) in [
        ("forward", [32, 3, 32, 32], [16, 3, 3, 3], [32, 16, 32, 32]),
        (
            "input grad",
            [32, 16, 32, 32],
            [3, 16, 3, 3],
            [32, 3, 32, 32],
        ),
        (
            "weight grad",
            [3, 32, 32, 32],
            [16, 32, 32, 32],
            [3, 16, 3, 3],
        ),
    ] {
        let r = Routine {
            kind: RoutineKind::CONV,
            inputs: vec![t(DType::F32, &lhs), t(DType::F32, &rhs)].into(),
            outputs: vec![t(DType::F32, &out)].into(),
            params: same.clone().into(),
        };
        let exe = be.compile_routine(&r).unwrap();
        let bufs: Vec<_> = [&lhs, &rhs, &out]
            .iter()
            .map(|s| be.alloc(4 * s.iter().product::<u64>()).unwrap())
            .collect();
        let mut best = f64::MAX;
        for _ in 0..4 {
            let t0 = std::time::Instant::now();
            be.execute(exe, &bufs[..2], &bufs[2..]).unwrap();
            be.synchronize().unwrap();
            best = best.min(t0.elapsed().as_secs_f64() * 1e3);
        }
        eprintln!("{name}: {best:.2} ms");
        for b in bufs {
            be.free(b);
        }
        be.release(exe);
    }
}
