//! Indexing: take, take_along_axis, NumPy indexing, `.at[]` updates,
//! lax gather/scatter/dynamic_slice/dynamic_update_slice/select_n — NumPy's
//! values on every device (eager and jit), gradients against finite
//! differences, vmap against a loop, fusion of gather under jit, and the
//! misuse messages.

#[path = "fixtures/cases.rs"]
mod cases;

use cases::{assert_same, check_case, check_grad, embedded, input, weights};
use oxjax::numpy::{self as jnp, Ellipsis, Idx, NewAxis, TakeMode};
use oxjax::{Array, Axes, DType, Slice, idx, jit, lax, lower, with_default_device};

fn wsum(y: &Array) -> Array {
    (y * &weights(y.shape())).sum(Axes::All, false)
}

// ---- known values on every device ---------------------------------------

#[test]
fn take_matches_numpy() {
    check_case("take_axis1", |a| jnp::take(&a[0], &a[1], Some(1)));
    check_case("take_flat", |a| jnp::take(&a[0], &a[1], None));
    check_case("take_clip_axis0", |a| {
        jnp::take_mode(&a[0], &a[1], Some(0), TakeMode::Clip)
    });
    check_case("take_wrap_axis1", |a| {
        jnp::take_mode(&a[0], &a[1], Some(-1), TakeMode::Wrap)
    });
    check_case("take_along_axis1", |a| {
        jnp::take_along_axis(&a[0], &a[1], 1)
    });
    check_case("take_along_axis0", |a| {
        jnp::take_along_axis(&a[0], &a[1], 0)
    });
}

#[test]
fn take_fills_out_of_range_with_nan() {
    with_default_device(&embedded(), || {
        let x = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
        let i = Array::from_vec(vec![3i32, -4, -3], &[3]);
        let y = jnp::take(&x, &i, None).to_vec::<f32>();
        assert!(y[0].is_nan() && y[1].is_nan());
        assert_eq!(y[2], 1.0);
        let xi = Array::from_vec(vec![1i32, 2], &[2]);
        let yi = jnp::take(&xi, &Array::from_vec(vec![5i32], &[1]), None);
        assert_eq!(yi.to_vec::<i32>(), vec![i32::MIN]);
    });
}

fn ints(v: &[i32]) -> Array {
    Array::from_vec(v.to_vec(), &[v.len()])
}

/// The index of each `ix_*` fixture case (the same as in make_indexing.py).
fn numpy_index(name: &str) -> Vec<Idx> {
    let (a20, a13) = (ints(&[2, 0]), ints(&[1, 3]));
    match name {
        "ix_basic_int_step_neg" => idx![1, Slice::all().step(2), -1].to_vec(),
        "ix_ellipsis_step" => idx![Ellipsis, Slice::from(1..4).step(2)].to_vec(),
        "ix_newaxis" => idx![NewAxis, 0, .., 3].to_vec(),
        "ix_reverse" => idx![Slice::all().step(-1), 1].to_vec(),
        "ix_adv_separated" => idx![&a20, .., &a13].to_vec(),
        "ix_adv_adjacent" => idx![.., ints(&[1, 0, 2]), ints(&[4, 4, 0])].to_vec(),
        "ix_adv_broadcast" => idx![Array::from_vec(vec![0i32, 2], &[2, 1]), &a13].to_vec(),
        "ix_int_and_array" => idx![1, &a20].to_vec(),
        "ix_array_int_slice" => idx![&a20, 1, ..].to_vec(),
        "ix_array_slice_int" => idx![&a20, .., 2].to_vec(),
        _ => unreachable!(),
    }
}

#[test]
fn numpy_indexing_matches_numpy() {
    macro_rules! case {
        ($($name:literal),*) => {$(
            check_case($name, |a| a[0].index(&numpy_index($name)));
        )*};
    }
    case!(
        "ix_basic_int_step_neg",
        "ix_ellipsis_step",
        "ix_newaxis",
        "ix_reverse",
        "ix_adv_separated",
        "ix_adv_adjacent",
        "ix_adv_broadcast",
        "ix_int_and_array",
        "ix_array_int_slice",
        "ix_array_slice_int"
    );
    // A boolean mask with JAX's static size (here: the number of trues).
    check_case("ix_mask", |a| a[0].index(&[Idx::mask(&a[1], 4)]));
}

#[test]
fn at_updates_match_numpy() {
    check_case("at_add_rows", |a| a[0].at(&idx![&a[1]]).add(&a[2]));
    check_case("at_mul_rows", |a| a[0].at(&idx![&a[1]]).mul(&a[2]));
    check_case("at_min_rows", |a| a[0].at(&idx![&a[1]]).min(&a[2]));
    check_case("at_max_rows", |a| a[0].at(&idx![&a[1]]).max(&a[2]));
    check_case("at_set_rows", |a| a[0].at(&idx![&a[1]]).set(&a[2]));
    check_case("at_set_slice", |a| {
        a[0].at(&idx![1.., Slice::all().step(2)]).set(&a[1])
    });
    check_case("at_add_points", |a| a[0].at(&idx![&a[1], &a[2]]).add(10.0));
}

#[test]
fn at_drops_out_of_range_and_reads_back() {
    with_default_device(&embedded(), || {
        let x = Array::zeros(&[3], DType::F32);
        let i = ints(&[5, -1, -7]);
        // -1 counts from the end; 5 and -7 are dropped (JAX's FILL_OR_DROP).
        let y = x.at(&idx![&i]).set(1.0);
        assert_eq!(y.to_vec::<f32>(), vec![0.0, 0.0, 1.0]);
        assert_eq!(y.at(&idx![2]).get().item::<f32>(), 1.0);
        // A mask's padding slots read position 0 and update nothing.
        let x = Array::from_vec(vec![5.0f32, 6.0, 7.0, 8.0], &[2, 2]);
        let m = Array::from_vec(vec![false, true, false, true], &[2, 2]);
        let sel = Idx::mask(&m, 3);
        assert_eq!(
            x.index(std::slice::from_ref(&sel)).to_vec::<f32>(),
            vec![6.0, 8.0, 5.0]
        );
        let y = x.at(&[sel]).set(0.0);
        assert_eq!(y.to_vec::<f32>(), vec![5.0, 0.0, 7.0, 0.0]);
    });
}

#[test]
fn lax_ops_match_numpy() {
    for name in ["dynamic_slice_1_1", "dynamic_slice_5_-3"] {
        check_case(name, |a| {
            let s = &a[1];
            let (r, c) = (s.index(&idx![0]), s.index(&idx![1]));
            lax::dynamic_slice(&a[0], &[&r, &c], &[2, 3])
        });
    }
    for name in ["dynamic_update_slice_1_1", "dynamic_update_slice_5_-3"] {
        check_case(name, |a| {
            let s = &a[1];
            let (r, c) = (s.index(&idx![0]), s.index(&idx![1]));
            lax::dynamic_update_slice(&a[0], &a[2], &[&r, &c])
        });
    }
    // lax.gather/scatter are take (clip) and .at[] along one axis.
    check_case("take_clip_axis0", |a| {
        let i = a[1].maximum(0);
        lax::gather(&a[0], &i, 0)
    });
    check_case("at_add_rows", |a| lax::scatter_add(&a[0], &a[1], &a[2], 0));
}

#[test]
fn select_n_picks_cases() {
    with_default_device(&embedded(), || {
        let w = Array::from_vec(vec![true, false], &[2]);
        let a = ints(&[1, 2]);
        let b = ints(&[3, 4]);
        assert_eq!(lax::select_n(&w, &[&a, &b]).to_vec::<i32>(), vec![3, 2]);
        let e = lax::try_select_n(&Array::from_vec(vec![0.5f32], &[1]), &[&a, &b]).unwrap_err();
        assert!(
            e.to_string()
                .contains("select_n: the selector must be bool or integer")
        );
    });
}

// ---- gradients -------------------------------------------------------------

#[test]
fn gradients_match_finite_differences() {
    with_default_device(&embedded(), || {
        let x = input("take_axis1", 0).f64();
        let i = ints(&[0, 3, 3, -1, 2]);
        check_grad("take", |x| wsum(&jnp::take(x, &i, Some(1))), &x);
        let j = Array::from_vec(vec![3i32, 0, 1, 1, 0, 2], &[3, 2]);
        check_grad(
            "take_along_axis",
            |x| wsum(&jnp::take_along_axis(x, &j, 1)),
            &x,
        );
        let r = ints(&[2, 0]);
        check_grad("index (advanced)", |x| wsum(&x.index(&idx![&r, 1..])), &x);
        let rows = ints(&[0, 2, 0]);
        let v = weights(&[3, 4]) * 0.7;
        check_grad(
            "at[].add (operand)",
            |x| wsum(&x.at(&idx![&rows]).add(&v)),
            &x,
        );
        check_grad(
            "at[].add (updates)",
            |u| wsum(&x.at(&idx![&rows]).add(u)),
            &v,
        );
        let uniq = ints(&[2, 0]);
        let v2 = weights(&[2, 4]) * 1.3;
        check_grad(
            "at[].set (operand)",
            |x| wsum(&x.at(&idx![&uniq]).set(&v2)),
            &x,
        );
        // Duplicate indices: only the winning (last) update gets a gradient.
        check_grad(
            "at[].set (updates, duplicates)",
            |u| wsum(&x.at(&idx![&rows]).set(u)),
            &v,
        );
        check_grad(
            "at[].mul (both)",
            |x| wsum(&x.at(&idx![&uniq]).mul(&(x.index(&idx![1..]) * 0.5))),
            &x,
        );
        check_grad(
            "at[].max (both)",
            |x| wsum(&x.at(&idx![&uniq]).max(&(x.index(&idx![..2]) * 0.9))),
            &x,
        );
        let r0 = Array::scalar(1i32);
        let c0 = Array::scalar(-2i32);
        check_grad(
            "dynamic_slice",
            |x| wsum(&lax::dynamic_slice(x, &[&r0, &c0], &[2, 3])),
            &x,
        );
        let u = weights(&[2, 3]);
        check_grad(
            "dynamic_update_slice (operand)",
            |x| wsum(&lax::dynamic_update_slice(x, &u, &[&r0, &c0])),
            &x,
        );
        check_grad(
            "dynamic_update_slice (update)",
            |u| wsum(&lax::dynamic_update_slice(&x, u, &[&r0, &c0])),
            &u,
        );
    });
}

// ---- vmap against a loop -----------------------------------------------------

fn stack(xs: &[Array]) -> Array {
    let e: Vec<Array> = xs.iter().map(|x| x.expand_dims(0)).collect();
    let refs: Vec<&Array> = e.iter().collect();
    Array::concatenate(&refs, 0)
}

fn lane(x: &Array, b: usize) -> Array {
    x.index(&idx![b as isize])
}

#[test]
fn vmap_matches_a_loop() {
    with_default_device(&embedded(), || {
        let xs = stack(&[weights(&[3, 4]), weights(&[3, 4]) * -2.0 + 1.0]);
        let is = Array::from_vec(vec![2i32, 0, 5, 1, 1, -1], &[2, 3]);
        let us = stack(&[weights(&[3, 3]), weights(&[3, 3]) * 3.0]);
        // Operand and indices batched, each alone, for gather and scatter.
        type F = fn(&Array, &Array, &Array) -> Array;
        let ops: [(&str, F); 4] = [
            ("gather", |x, i, _| lax::gather(x, i, 1)),
            ("take_along_axis", |x, i, _| {
                jnp::take_along_axis(x, &i.reshape(&[1, 3]).maximum(0).minimum(2), 1)
            }),
            ("scatter_add", |x, i, u| lax::scatter_add(x, i, u, 1)),
            ("at[].set", |x, i, u| x.at(&idx![.., i]).set(u)),
        ];
        for (name, f) in ops {
            for (bx, bi, bu) in [
                (true, true, true),
                (true, false, false),
                (false, true, true),
                (false, false, true),
            ] {
                let pick = |a: &Array, batched: bool, b: usize| {
                    if batched { lane(a, b) } else { lane(a, 0) }
                };
                let want = stack(
                    &[0, 1].map(|b| f(&pick(&xs, bx, b), &pick(&is, bi, b), &pick(&us, bu, b))),
                );
                let axes = [bx, bi, bu].map(|b| if b { Some(0) } else { None });
                let args = vec![
                    if bx { xs.clone() } else { lane(&xs, 0) },
                    if bi { is.clone() } else { lane(&is, 0) },
                    if bu { us.clone() } else { lane(&us, 0) },
                ];
                let got = oxjax::vmap_axes(
                    |a: &Vec<Array>| f(&a[0], &a[1], &a[2]),
                    axes.to_vec(),
                    vec![Some(0)],
                )(&args);
                assert_same(&got, &want, &format!("vmap {name} {axes:?}"));
            }
        }
    });
}

// ---- jit fusion ------------------------------------------------------------

#[test]
fn gather_fuses_into_an_elementwise_chain() {
    with_default_device(&embedded(), || {
        let x = weights(&[64, 8]);
        let i = Array::from_vec(vec![3i32, 1, 60, 7], &[4]);
        let f = |a: &Vec<Array>| (jnp::take(&(a[0].exp() * 2.0), &a[1], Some(0)) + 1.0).sin();
        // exp, mul, the gather (with negative-index normalisation and the
        // fill mask), add and sin: one kernel.
        let c = lower(f, &vec![x.clone(), i.clone()]);
        assert_eq!(c.kernel_count(), 1, "{:?}", c.kernels_text());
        let eager = f(&vec![x.clone(), i.clone()]);
        assert_same(&jit(f)(&vec![x, i]), &eager, "fused gather");
    });
}

// ---- misuse ----------------------------------------------------------------

fn message(r: oxjax::Result<Array>) -> String {
    r.expect_err("an error").to_string()
}

#[test]
fn misuse_is_reported_clearly() {
    with_default_device(&embedded(), || {
        let x = Array::zeros(&[3, 4], DType::F32);
        let f = Array::from_vec(vec![1.0f32], &[1]);
        let m = message(jnp::try_take(&x, &f, Some(0), TakeMode::Fill));
        assert!(
            m.contains("take: indices must be an integer array, got f32"),
            "{m}"
        );
        let m = message(lax::try_gather(&x, &f, 0));
        assert!(m.contains("gather: indices must be integers"), "{m}");
        let i = ints(&[0, 1]);
        let m = message(lax::try_scatter(
            &x,
            &i,
            &Array::zeros(&[3, 3], DType::F32),
            1,
            lax::ScatterMode::Add,
        ));
        assert!(m.contains("scatter: updates must have shape [3, 2]"), "{m}");
        let m = message(jnp::try_take_along_axis(&x, &i, 0));
        assert!(
            m.contains("take_along_axis: indices of shape [2] must have the rank"),
            "{m}"
        );
        let m = message(x.try_index(&idx![3]));
        assert!(
            m.contains("index: index 3 is out of bounds for axis 0 with size 3"),
            "{m}"
        );
        let m = message(x.try_index(&idx![0, 0, 0]));
        assert!(
            m.contains("index: an index of 3 entries for an array of shape [3, 4]"),
            "{m}"
        );
        let mask = Array::full(&[3, 4], true);
        let m = message(x.try_index(&idx![&mask]));
        assert!(m.contains("needs a static size"), "{m}");
        let m = message(x.try_index(&[Idx::mask(&Array::full(&[4], true), 2)]));
        assert!(m.contains("index: a boolean mask of shape [4] does not match the axes it indexes of an array of shape [3, 4]"), "{m}");
        let ok = x.try_index(&[Idx::Ellipsis, Idx::mask(&Array::full(&[4], true), 2)]);
        assert_eq!(ok.unwrap().shape(), &[3, 2]);
        let m = message(
            x.at(&idx![&i])
                .try_apply(lax::ScatterMode::Set, &Array::zeros(&[3], DType::F32)),
        );
        assert!(
            m.contains("values of shape [3] cannot broadcast to the indexed shape [2, 4]"),
            "{m}"
        );
        let s = Array::scalar(0i32);
        let m = message(lax::try_dynamic_slice(&x, &[&s], &[1]));
        assert!(
            m.contains("dynamic_slice: 1 start indices and 1 sizes for an operand of shape [3, 4]"),
            "{m}"
        );
        let m = message(lax::try_dynamic_slice(&x, &[&s, &s], &[1, 5]));
        assert!(m.contains("dynamic_slice: size 5 exceeds axis 1"), "{m}");
    });
}
