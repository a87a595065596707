//! Sorting, searching and cumulative ops: NumPy's values on every device
//! (eager and jit), gradients against finite differences, vmap against a
//! loop, routines running as eager steps of a jit program, and misuse.

#[path = "fixtures/cases.rs"]
mod cases;

use cases::{assert_same, check_case, check_grad, embedded, input, weights};
use oxjax::numpy::{self as jnp, Side};
use oxjax::{Array, Axes, DType, idx, lax, lower, vmap, with_default_device};

fn wsum(y: &Array) -> Array {
    (y * &weights(y.shape())).sum(Axes::All, false)
}

#[test]
fn sort_and_argsort_match_numpy() {
    check_case("sort_axis1", |a| jnp::sort(&a[0], Some(1), false));
    check_case("sort_axis0", |a| a[0].sort(Some(0)));
    check_case("argsort_axis1", |a| jnp::argsort(&a[0], Some(-1), false));
    check_case("sort_desc_axis1", |a| jnp::sort(&a[0], Some(1), true));
    check_case("argsort_desc_axis1", |a| jnp::argsort(&a[0], Some(1), true));
    check_case("argsort_int", |a| a[0].argsort(None));
    check_case("sort_axis1", |a| lax::sort(&a[0], -1));
}

#[test]
fn searching_matches_numpy() {
    check_case("searchsorted_left", |a| {
        jnp::searchsorted(&a[0], &a[1], Side::Left)
    });
    check_case("searchsorted_right", |a| {
        jnp::searchsorted(&a[0], &a[1], Side::Right)
    });
    check_case("unique_pad7", |a| jnp::unique(&a[0], 7, Some(-9.0)));
    check_case("unique_trunc2", |a| jnp::unique(&a[0], 2, None));
    check_case("nonzero_rows", |a| jnp::nonzero(&a[0], 5, -1).remove(0));
    check_case("nonzero_cols", |a| jnp::nonzero(&a[0], 5, -1).remove(1));
}

#[test]
fn cumulative_ops_match_numpy() {
    type F = fn(&Array, Option<isize>) -> Array;
    type L = fn(&Array, isize, bool) -> Array;
    let ops: [(&str, F, L); 4] = [
        ("cumsum", jnp::cumsum, lax::cumsum),
        ("cumprod", jnp::cumprod, lax::cumprod),
        ("cummax", jnp::cummax, lax::cummax),
        ("cummin", jnp::cummin, lax::cummin),
    ];
    for (name, np_op, lax_op) in ops {
        for ax in [0isize, 1] {
            let case = format!("{name}_axis{ax}");
            // check_case takes a plain fn: dispatch on the (static) name.
            match (name, ax) {
                ("cumsum", 0) => check_case(&case, |a| jnp::cumsum(&a[0], Some(0))),
                ("cumsum", 1) => check_case(&case, |a| a[0].cumsum(Some(1))),
                ("cumprod", 0) => check_case(&case, |a| a[0].cumprod(Some(0))),
                ("cumprod", 1) => check_case(&case, |a| jnp::cumprod(&a[0], Some(-1))),
                ("cummax", 0) => check_case(&case, |a| jnp::cummax(&a[0], Some(0))),
                ("cummax", 1) => check_case(&case, |a| jnp::cummax(&a[0], Some(1))),
                ("cummin", 0) => check_case(&case, |a| jnp::cummin(&a[0], Some(0))),
                _ => check_case(&case, |a| jnp::cummin(&a[0], Some(1))),
            }
            // Reverse through lax (embedded + every device via the fixture).
            let rev = format!("{name}_axis{ax}_reverse");
            let c = &cases::fixture()[&rev];
            for dev in cases::devices() {
                with_default_device(&dev, || {
                    let x = c[0].on(&dev);
                    let want = c[1].on(&embedded());
                    assert_same(
                        &lax_op(&x, ax, true),
                        &want,
                        &format!("{rev} on {}", dev.name()),
                    );
                    let what = format!("lax {name} == jnp {name} on {}", dev.name());
                    assert_same(&lax_op(&x, ax, false), &np_op(&x, Some(ax)), &what);
                });
            }
        }
    }
    check_case("nancumsum", |a| jnp::nancumsum(&a[0], None));
    check_case("nancumprod", |a| jnp::nancumprod(&a[0], None));
    check_case("cumsum_int_flat", |a| a[0].cumsum(None));
}

#[test]
fn gradients_match_finite_differences() {
    with_default_device(&embedded(), || {
        let x = input("cumsum_axis0", 0).f64();
        let s = input("take_axis1", 0).f64() * 0.37 + 0.1;
        check_grad("sort", |x| wsum(&jnp::sort(x, Some(1), false)), &s);
        check_grad(
            "sort descending",
            |x| wsum(&jnp::sort(x, Some(0), true)),
            &s,
        );
        check_grad("cumsum", |x| wsum(&jnp::cumsum(x, Some(1))), &x);
        check_grad("cumsum reverse", |x| wsum(&lax::cumsum(x, 0, true)), &x);
        // cumprod with zeros in the input: the exact (scan) tangent.
        check_grad("cumprod (zeros)", |x| wsum(&jnp::cumprod(x, Some(1))), &x);
        check_grad(
            "cumprod reverse",
            |x| wsum(&lax::cumprod(x, 1, true)),
            &(&x + 0.5),
        );
        // No ties (the derivative is one-sided there).
        let z = [
            0.3, -0.2, 0.9, 0.5, 1.4, 0.1, 0.2, -0.5, 0.8, 0.7, 1.1, 0.05,
        ];
        let z = Array::from_vec(z.to_vec(), &[3, 4]);
        check_grad("cummax", |x| wsum(&jnp::cummax(x, Some(1))), &z);
        check_grad("cummax axis 0", |x| wsum(&jnp::cummax(x, Some(0))), &z);
        check_grad("cummin reverse", |x| wsum(&lax::cummin(x, 0, true)), &z);
        check_grad(
            "cummin reverse axis 1",
            |x| wsum(&lax::cummin(x, 1, true)),
            &z,
        );
    });
}

#[test]
fn vmap_matches_a_loop() {
    with_default_device(&embedded(), || {
        let xs = input("sort_axis1", 0).on(&embedded());
        type F = fn(&Array) -> Array;
        let ops: [(&str, F); 5] = [
            ("sort", |x| jnp::sort(x, Some(0), false)),
            ("argsort desc", |x| jnp::argsort(x, Some(0), true)),
            ("cumsum", |x| jnp::cumsum(x, Some(0))),
            ("cummax reverse", |x| lax::cummax(x, 0, true)),
            ("unique", |x| jnp::unique(x, 4, Some(0.0))),
        ];
        for (name, f) in ops {
            let want: Vec<Array> = (0..2).map(|b| f(&xs.index(&idx![b]))).collect();
            let got = vmap(f)(&xs);
            for (b, w) in want.iter().enumerate() {
                assert_same(
                    &got.index(&idx![b as isize]),
                    w,
                    &format!("vmap {name} lane {b}"),
                );
            }
        }
        // searchsorted with batched queries and batched sorted arrays.
        let a = Array::from_vec(vec![1.0f32, 2.0, 4.0, 0.0, 3.0, 3.0], &[2, 3]);
        let v = Array::from_vec(vec![3.0f32, 0.5, 3.0, 9.0], &[2, 2]);
        let got = vmap(|p: &Vec<Array>| jnp::searchsorted(&p[0], &p[1], Side::Right))(&vec![
            a.clone(),
            v.clone(),
        ]);
        for b in 0..2isize {
            let w = jnp::searchsorted(&a.index(&idx![b]), &v.index(&idx![b]), Side::Right);
            assert_same(&got.index(&idx![b]), &w, "vmap searchsorted");
        }
    });
}

#[test]
fn routines_are_eager_steps_of_a_jit_program() {
    with_default_device(&embedded(), || {
        let x = weights(&[16]);
        // exp before the sort (one kernel), the sort routine, then the
        // cumsum routine, then the elementwise tail (one kernel).
        let f = |x: &Array| (jnp::cumsum(&jnp::sort(&x.exp(), None, false), None) * 2.0).sin();
        let c = lower(f, &x);
        assert_eq!(c.kernels_text().len(), 2, "{:?}", c.kernels_text());
        assert_eq!(c.kernel_count(), 4, "two kernels and two routine steps");
        assert_same(&oxjax::jit(f)(&x), &f(&x), "jit with routines");
    });
}

#[test]
fn misuse_is_reported_clearly() {
    with_default_device(&embedded(), || {
        let x = Array::zeros(&[3, 4], DType::F32);
        let e = jnp::try_sort(&x, Some(2), false).unwrap_err().to_string();
        assert!(e.contains("sort") && e.contains("axis 2"), "{e}");
        let e = jnp::try_searchsorted(&x, &x, Side::Left)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("searchsorted: the sorted array must be 1-d, got shape [3, 4]"),
            "{e}"
        );
        let b = Array::full(&[3], true);
        let r = std::panic::catch_unwind(|| lax::cumsum(&b, 0, false));
        let msg = r
            .err()
            .and_then(|p| p.downcast::<String>().ok())
            .map(|s| *s)
            .unwrap_or_default();
        assert!(msg.contains("cumsum: not defined on bool"), "{msg}");
        // jnp.cumsum counts bools as i32 instead.
        assert_eq!(jnp::cumsum(&b, None).to_vec::<i32>(), vec![1, 2, 3]);
    });
}

// ---- random shapes: every device against the embedded reference ----------

mod random {
    use super::cases::{assert_same, devices, embedded};
    use oxjax::numpy as jnp;
    use oxjax::{Array, lax, with_default_device};
    use proptest::prelude::*;

    /// A shape of rank 1–3 (dims 1–5), an axis of it, and small integer
    /// values with NaNs, so every op is exact and ties are common.
    fn input() -> impl Strategy<Value = (Vec<usize>, usize, Vec<f32>)> {
        prop::collection::vec(1usize..=5, 1..=3).prop_flat_map(|shape| {
            let n: usize = shape.iter().product();
            let rank = shape.len();
            let value = prop_oneof![9 => (-3i32..=3).prop_map(|v| v as f32), 1 => Just(f32::NAN)];
            (Just(shape), 0..rank, prop::collection::vec(value, n))
        })
    }

    type Op = fn(&Array, isize) -> Array;
    const OPS: [(&str, Op); 9] = [
        ("sort", |x, a| jnp::sort(x, Some(a), false)),
        ("sort desc", |x, a| jnp::sort(x, Some(a), true)),
        ("argsort", |x, a| jnp::argsort(x, Some(a), false)),
        ("argsort desc", |x, a| jnp::argsort(x, Some(a), true)),
        ("cumsum reverse", |x, a| lax::cumsum(x, a, true)),
        ("cumprod", |x, a| jnp::cumprod(x, Some(a))),
        ("cummax", |x, a| jnp::cummax(x, Some(a))),
        ("take_along_axis(argsort)", |x, a| {
            jnp::take_along_axis(x, &jnp::argsort(x, Some(a), true), a)
        }),
        ("scatter-add of the first row", |x, a| {
            let n = x.shape()[a as usize] as i32;
            let i = Array::from_vec(vec![n - 1, 0, n - 1, n], &[4]);
            let u = lax::gather(x, &Array::from_vec(vec![0i32; 4], &[4]), a);
            lax::scatter_add(x, &i, &u, a)
        }),
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn routines_agree_with_embedded((shape, axis, v) in input()) {
            let want: Vec<Array> = with_default_device(&embedded(), || {
                let x = Array::from_vec(v.clone(), &shape);
                OPS.iter().map(|(_, f)| f(&x, axis as isize)).collect()
            });
            for dev in devices() {
                with_default_device(&dev, || {
                    let x = Array::try_from_slice(&v, &shape, &dev).unwrap();
                    for ((name, f), w) in OPS.iter().zip(&want) {
                        let what = format!("{name} on {} along {axis} of {shape:?}", dev.name());
                        assert_same(&f(&x, axis as isize), w, &what);
                    }
                });
            }
        }
    }
}
