//! Native sort / argsort (bitonic) against the reference: stability,
//! NaNs last, ±0 equal, descending, every axis, odd and empty lengths.

mod common;

use common::*;
use oxjax_abi::{Backend, DType, Routine, RoutineKind, Scalar, TensorDesc, f16};

fn values(d: DType, n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let f = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        2.5,
        -2.5,
        1e-3,
    ];
    let v: Vec<Scalar> = (0..n)
        .map(|i| {
            let r = rng.u32();
            // Many duplicates, so stability matters.
            let pick = f[(r % 10) as usize];
            match d {
                DType::BOOL => Scalar::Bool(r & 1 == 1),
                DType::I32 => Scalar::I32(match i % 5 {
                    0 => i32::MIN,
                    1 => i32::MAX,
                    _ => (r % 7) as i32 - 3,
                }),
                DType::U32 => Scalar::U32(if i % 4 == 0 { u32::MAX } else { r % 6 }),
                DType::F16 => Scalar::F16(f16::from_f32(pick)),
                _ => Scalar::F32(if i % 3 == 0 {
                    rng.f32_in(-5.0, 5.0)
                } else {
                    pick
                }),
            }
        })
        .collect();
    bytes(&v)
}

fn check(kind: RoutineKind, d: DType, shape: &[u64], axis: i64, desc: bool) {
    let Some(be) = backend() else { return };
    let out_d = if kind == RoutineKind::ARGSORT {
        DType::I32
    } else {
        d
    };
    let r = Routine {
        kind,
        inputs: vec![TensorDesc {
            dtype: d,
            shape: shape.to_vec().into(),
        }]
        .into(),
        outputs: vec![TensorDesc {
            dtype: out_d,
            shape: shape.to_vec().into(),
        }]
        .into(),
        params: vec![axis, desc as i64].into(),
    };
    let n: u64 = shape.iter().product();
    let input = values(d, n as usize, n.wrapping_add(axis as u64) | 1);
    let want = oxjax_reference::run_routine(&r, &[&input])
        .unwrap()
        .remove(0);
    let exe = be.compile_routine(&r).unwrap();
    let ib = be.alloc(input.len() as u64).unwrap();
    be.write(ib, 0, &input).unwrap();
    // Two spare bytes that must survive.
    let ob = be.alloc(want.len() as u64 + 2).unwrap();
    be.write(ob, 0, &vec![0x5A; want.len() + 2]).unwrap();
    be.execute(exe, &[ib], &[ob]).unwrap();
    let got = be.read(ob, 0, want.len() as u64 + 2).unwrap();
    let ctx = format!("{kind:?} {d} shape {shape:?} axis {axis} desc {desc}");
    if d.is_float() && kind == RoutineKind::SORT {
        // NaN payloads aside, the bytes must match exactly.
        let (g, w) = (scalars(d, &got[..want.len()]), scalars(d, &want));
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            assert!(same(*a, *b), "{ctx}: element {i}: got {a:?}, want {b:?}");
        }
    } else {
        assert_eq!(&got[..want.len()], &want[..], "{ctx}");
    }
    assert_eq!(
        &got[want.len()..],
        &[0x5A, 0x5A],
        "{ctx}: bytes beyond the output changed"
    );
    if n > 0 {
        assert!(be.source(exe).contains("fn step"));
    }
    be.free(ib);
    be.free(ob);
    be.release(exe);
}

#[test]
fn sort_and_argsort_every_dtype() {
    for kind in [RoutineKind::SORT, RoutineKind::ARGSORT] {
        for d in [DType::BOOL, DType::I32, DType::U32, DType::F16, DType::F32] {
            for desc in [false, true] {
                check(kind, d, &[37], 0, desc);
                check(kind, d, &[3, 7], 1, desc);
                check(kind, d, &[6, 5], 0, desc);
                check(kind, d, &[2, 5, 3], 1, desc);
            }
        }
    }
}

#[test]
fn edge_lengths_and_axes() {
    for kind in [RoutineKind::SORT, RoutineKind::ARGSORT] {
        check(kind, DType::F32, &[0], 0, false);
        check(kind, DType::F32, &[1], 0, false);
        check(kind, DType::I32, &[4, 0, 3], 2, false);
        check(kind, DType::F32, &[2, 64], -1, true);
        check(kind, DType::F32, &[4097], 0, false);
        check(kind, DType::BOOL, &[3, 5], -1, false);
    }
}

#[test]
fn large_sort() {
    check(RoutineKind::ARGSORT, DType::F32, &[1 << 16], 0, false);
    check(RoutineKind::SORT, DType::I32, &[8, 3000], 1, true);
}

fn wgpu_device_type_cpu() -> oxjax_backend_webgpu::DeviceType {
    oxjax_backend_webgpu::DeviceType::Cpu
}

#[test]
fn bad_routines_are_refused() {
    let Some(be) = backend() else { return };
    let t = |d: DType, s: &[u64]| TensorDesc {
        dtype: d,
        shape: s.to_vec().into(),
    };
    let cumsum = Routine {
        kind: RoutineKind::CUMSUM,
        inputs: vec![t(DType::F32, &[4])].into(),
        outputs: vec![t(DType::F32, &[4])].into(),
        params: vec![0].into(),
    };
    assert_eq!(
        be.compile_routine(&cumsum).unwrap_err().kind,
        oxjax_abi::ErrorKind::UNSUPPORTED
    );
    let bad_axis = Routine {
        kind: RoutineKind::SORT,
        params: vec![3].into(),
        ..cumsum.clone()
    };
    assert_eq!(
        be.compile_routine(&bad_axis).unwrap_err().kind,
        oxjax_abi::ErrorKind::INVALID_ARGUMENT
    );
    let wrong_out = Routine {
        kind: RoutineKind::ARGSORT,
        outputs: vec![t(DType::F32, &[4])].into(),
        ..cumsum
    };
    assert_eq!(
        be.compile_routine(&wrong_out).unwrap_err().kind,
        oxjax_abi::ErrorKind::INVALID_ARGUMENT
    );
    // Listed by default except on CPU adapters; `native_sort` decides.
    let cpu = be.adapter_info().device_type == wgpu_device_type_cpu();
    let caps = be.info().caps;
    assert_eq!(caps.supports_routine(RoutineKind::SORT), !cpu);
    assert!(!caps.supports_routine(RoutineKind::CUMSUM));
    for (opt, listed) in [("native_sort = true", true), ("native_sort = false", false)] {
        let b = oxjax_backend_webgpu::new(opt).unwrap();
        let caps = b.info().caps;
        assert_eq!(caps.supports_routine(RoutineKind::SORT), listed, "{opt}");
        assert_eq!(caps.supports_routine(RoutineKind::ARGSORT), listed, "{opt}");
    }
}
