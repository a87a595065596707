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
