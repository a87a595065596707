//! The API gaps of issue 18: `block`, `put_along_axis`, `lexsort`,
//! `partition`, set routines and `unique_*`, against values derived by hand
//! or by plain Rust loops over the same inputs; jit and vmap where JAX
//! supports them (set routines with a static `size`). They run on the
//! default device; f64 work (finite differences, eig in f64) runs on the
//! embedded device, which has every dtype.

#[path = "fixtures/cases.rs"]
mod cases;

use oxjax::numpy as jnp;
use oxjax::{Array, jit, vmap};

fn f32s(v: &[f32], shape: &[usize]) -> Array {
    Array::from_vec(v.to_vec(), shape)
}

fn i32s(v: &[i32], shape: &[usize]) -> Array {
    Array::from_vec(v.to_vec(), shape)
}

/// A deterministic pseudo-random i32 vector in `0..m` (a small LCG).
fn ints(n: usize, m: i32, seed: u64) -> Vec<i32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % m as u64) as i32
        })
        .collect()
}

// ---- block ---------------------------------------------------------------

#[test]
fn block_assembles_nested_lists() {
    let a = f32s(&[1., 2., 3., 4.], &[2, 2]);
    let b = f32s(&[5., 6.], &[2, 1]);
    let c = f32s(&[7., 8., 9.], &[1, 3]);
    let m = jnp::block(vec![vec![&a, &b], vec![&c]]);
    assert_eq!(m.shape(), &[3, 3]);
    assert_eq!(m.to_vec::<f32>(), vec![1., 2., 5., 3., 4., 6., 7., 8., 9.]);
    // Depth 1: a 1-d concatenation; scalars become length-1 vectors.
    let s = Array::scalar(0.5f32);
    let v = jnp::block(vec![&s, &c.reshape(&[-1])]);
    assert_eq!(v.to_vec::<f32>(), vec![0.5, 7., 8., 9.]);
    // Depth below the rank: the innermost list joins the last axis.
    let w = jnp::block(vec![&a, &b]);
    assert_eq!(w.shape(), &[2, 3]);
    // Depth 3 over 2-d blocks: a leading axis appears.
    let d = jnp::block(vec![vec![vec![&a]], vec![vec![&a]]]);
    assert_eq!(d.shape(), &[2, 2, 2]);
    // Under jit, the same.
    let j = jit(|x: &Array| jnp::block(vec![vec![x, x], vec![x, x]]))(&a);
    assert_eq!(j.shape(), &[4, 4]);
    assert_eq!(j.to_vec::<f32>()[..8], [1., 2., 1., 2., 3., 4., 3., 4.]);
}

#[test]
#[should_panic(expected = "block: lists nested to different depths")]
fn block_rejects_ragged_depths() {
    let a = f32s(&[1.], &[1]);
    jnp::block(oxjax::numpy::Block::List(vec![
        (&a).into(),
        vec![&a].into(),
    ]));
}

// ---- put_along_axis --------------------------------------------------------

#[test]
fn put_along_axis_is_the_inverse_of_take_along_axis() {
    let a = f32s(&[3., 1., 2., 9., 7., 8.], &[2, 3]);
    let idx = i32s(&[2, -3, 0, 1], &[2, 2]);
    let v = f32s(&[10., 20., 30., 40.], &[2, 2]);
    let got = jnp::put_along_axis(&a, &idx, &v, 1);
    // By hand: row 0 writes col 2 <- 10, col 0 <- 20; row 1 col 0 <- 30, col 1 <- 40.
    assert_eq!(got.to_vec::<f32>(), vec![20., 1., 10., 30., 40., 8.]);
    // Reading back what was written.
    let back = jnp::take_along_axis(&got, &idx, 1);
    assert_eq!(back.to_vec::<f32>(), v.to_vec::<f32>());
    // Along axis 0 with a broadcast index row and a scalar value.
    let r = jnp::put_along_axis(&a, &i32s(&[1, 0, 1], &[1, 3]), &Array::scalar(0.0f32), 0);
    assert_eq!(r.to_vec::<f32>(), vec![3., 0., 2., 0., 7., 0.]);
    // Out of range: dropped.
    let d = jnp::put_along_axis(&a, &i32s(&[5], &[1, 1]), &Array::scalar(0.0f32), 1);
    assert_eq!(d.to_vec::<f32>(), a.to_vec::<f32>());
    // jit, and grad flows to the values (and the untouched elements).
    let j = jit(|(x, v): &(Array, Array)| jnp::put_along_axis(x, &i32s(&[2, 0], &[2, 1]), v, 1));
    assert_eq!(
        j(&(a.clone(), f32s(&[-1., -2.], &[2, 1]))).to_vec::<f32>(),
        vec![3., 1., -1., -2., 7., 8.]
    );
    let g = oxjax::grad(|(x, v): &(Array, Array)| {
        (jnp::put_along_axis(x, &i32s(&[2, 0], &[2, 1]), v, 1) * 2.0).sum(oxjax::Axes::All, false)
    })(&(a.clone(), f32s(&[-1., -2.], &[2, 1])));
    assert_eq!(g.0.to_vec::<f32>(), vec![2., 2., 0., 0., 2., 2.]);
    assert_eq!(g.1.to_vec::<f32>(), vec![2., 2.]);
}

#[test]
fn put_along_axis_and_unique_batch_under_vmap() {
    let a = f32s(&reals(12, 61), &[3, 4]);
    let idx = i32s(&[3, 0, 1, 1, 2, -1], &[3, 2]);
    let v = f32s(&[7., 8., 9., 10., 11., 12.], &[3, 2]);
    let f = |(a, i, v): &(Array, Array, Array)| jnp::put_along_axis(a, i, v, 0);
    let got = vmap(f)(&(a.clone(), idx.clone(), v.clone()));
    let want = jnp::put_along_axis(&a, &idx, &v, 1);
    assert_eq!(got.to_vec::<f32>(), want.to_vec::<f32>());
    let x = i32s(&ints(24, 5, 62), &[3, 8]);
    let g = |x: &Array| jnp::unique_counts(x, Some(6), Some(-1.0));
    let (bv, bc) = vmap(g)(&x);
    for r in 0..3isize {
        let (wv, wc) = g(&x.index(&oxjax::idx![r]));
        assert_eq!(
            bv.index(&oxjax::idx![r]).to_vec::<i32>(),
            wv.to_vec::<i32>()
        );
        assert_eq!(
            bc.index(&oxjax::idx![r]).to_vec::<i32>(),
            wc.to_vec::<i32>()
        );
    }
}

#[test]
fn put_along_axis_names_the_shapes_on_misuse() {
    let a = f32s(&[1., 2., 3.], &[3]);
    let e = jnp::try_put_along_axis(&a, &i32s(&[0], &[1, 1]), &a, 0).unwrap_err();
    assert!(e.to_string().contains("put_along_axis") && e.to_string().contains("[1, 1]"));
    let e = jnp::try_put_along_axis(&a, &f32s(&[0.], &[1]), &a, 0).unwrap_err();
    assert!(e.to_string().contains("integer"));
}

// ---- lexsort and partition -------------------------------------------------

#[test]
fn lexsort_matches_a_tuple_sort() {
    let (k0, k1, k2) = (ints(40, 3, 1), ints(40, 4, 2), ints(40, 2, 3));
    let keys = [i32s(&k0, &[40]), i32s(&k1, &[40]), i32s(&k2, &[40])];
    let got = jnp::lexsort(&[&keys[0], &keys[1], &keys[2]], -1).to_vec::<i32>();
    let mut want: Vec<i32> = (0..40).collect();
    // The last key is primary; a stable sort keeps the index order in ties.
    want.sort_by_key(|&i| (k2[i as usize], k1[i as usize], k0[i as usize]));
    assert_eq!(got, want);
    // 2-d, along axis 0, and under jit and vmap (rows independent).
    let a = i32s(&ints(12, 3, 4), &[4, 3]);
    let b = i32s(&ints(12, 2, 5), &[4, 3]);
    let cols = jnp::lexsort(&[&a, &b], 0);
    let av = a.to_vec::<i32>();
    let bv = b.to_vec::<i32>();
    for c in 0..3 {
        let mut w: Vec<i32> = (0..4).collect();
        w.sort_by_key(|&r| (bv[r as usize * 3 + c], av[r as usize * 3 + c]));
        let g: Vec<i32> = (0..4).map(|r| cols.to_vec::<i32>()[r * 3 + c]).collect();
        assert_eq!(g, w, "column {c}");
    }
    let f = |(a, b): &(Array, Array)| jnp::lexsort(&[a, b], -1);
    let want = f(&(a.clone(), b.clone())).to_vec::<i32>();
    assert_eq!(jit(f)(&(a.clone(), b.clone())).to_vec::<i32>(), want);
    assert_eq!(vmap(f)(&(a.clone(), b.clone())).to_vec::<i32>(), want);
}

/// JAX's documented guarantee for `partition`: the kth element is the
/// sorted one, nothing before it is larger, nothing after it smaller, and
/// the row is a permutation of the input.
fn check_partition(row: &[f32], part: &[f32], k: usize) {
    let mut s = row.to_vec();
    s.sort_by(f32::total_cmp);
    assert_eq!(part[k], s[k], "kth element");
    assert!(part[..k].iter().all(|&v| v <= part[k]));
    assert!(part[k + 1..].iter().all(|&v| v >= part[k]));
    let mut p = part.to_vec();
    p.sort_by(f32::total_cmp);
    assert_eq!(p, s, "a permutation");
}

#[test]
fn partition_keeps_jaxs_guarantee() {
    let v: Vec<f32> = ints(30, 7, 9).iter().map(|&i| i as f32 - 3.0).collect();
    let a = f32s(&v, &[3, 10]);
    for kth in [0isize, 4, 9, -1] {
        let k = kth.rem_euclid(10) as usize;
        let p = jnp::partition(&a, kth, -1).to_vec::<f32>();
        let ip = jnp::argpartition(&a, kth, -1);
        let via = jnp::take_along_axis(&a, &ip, 1).to_vec::<f32>();
        for r in 0..3 {
            check_partition(&v[r * 10..r * 10 + 10], &p[r * 10..r * 10 + 10], k);
            check_partition(&v[r * 10..r * 10 + 10], &via[r * 10..r * 10 + 10], k);
        }
    }
    // Along axis 0, and under jit and vmap.
    let p0 = jnp::partition(&a, 1, 0).to_vec::<f32>();
    for c in 0..10 {
        let col: Vec<f32> = (0..3).map(|r| v[r * 10 + c]).collect();
        let pc: Vec<f32> = (0..3).map(|r| p0[r * 10 + c]).collect();
        check_partition(&col, &pc, 1);
    }
    let f = |x: &Array| jnp::partition(x, 3, -1);
    let j = jit(f)(&a).to_vec::<f32>();
    let b = vmap(f)(&a).to_vec::<f32>();
    for r in 0..3 {
        check_partition(&v[r * 10..r * 10 + 10], &j[r * 10..r * 10 + 10], 3);
        check_partition(&v[r * 10..r * 10 + 10], &b[r * 10..r * 10 + 10], 3);
    }
}

#[test]
#[should_panic(expected = "partition: kth=5 is out of range for axis 0 of length 3")]
fn partition_rejects_a_kth_outside_the_axis() {
    jnp::partition(&f32s(&[1., 2., 3.], &[3]), 5, 0);
}

// ---- set routines ----------------------------------------------------------

/// Sorted distinct values of a vector (the reference for the set routines).
fn distinct(mut v: Vec<i32>) -> Vec<i32> {
    v.sort();
    v.dedup();
    v
}

#[test]
fn set_routines_match_sorted_vectors() {
    for seed in 0..6u64 {
        let (x, y) = (ints(17, 9, seed), ints(11, 12, seed + 100));
        let (a, b) = (i32s(&x, &[17]), i32s(&y, &[11]));
        let pad = |mut v: Vec<i32>, n: usize, f: i32| {
            v.resize(n, f);
            v
        };
        let ux = distinct(x.clone());
        let uy = distinct(y.clone());
        let union = distinct([x.clone(), y.clone()].concat());
        let inter: Vec<i32> = ux.iter().copied().filter(|v| uy.contains(v)).collect();
        let diff: Vec<i32> = ux.iter().copied().filter(|v| !uy.contains(v)).collect();
        let xor: Vec<i32> = union
            .iter()
            .copied()
            .filter(|v| ux.contains(v) != uy.contains(v))
            .collect();
        assert_eq!(jnp::union1d(&a, &b, None, None).to_vec::<i32>(), union);
        assert_eq!(
            jnp::intersect1d(&a, &b, false, None, None).to_vec::<i32>(),
            inter
        );
        assert_eq!(
            jnp::setdiff1d(&a, &b, false, None, None).to_vec::<i32>(),
            diff
        );
        assert_eq!(
            jnp::setxor1d(&a, &b, false, None, None).to_vec::<i32>(),
            xor
        );
        let (v, i, j) = jnp::intersect1d_indices(&a, &b, false, None, None);
        assert_eq!(v.to_vec::<i32>(), inter);
        let first = |s: &[i32], v: i32| s.iter().position(|&e| e == v).unwrap() as i32;
        let wi: Vec<i32> = inter.iter().map(|&v| first(&x, v)).collect();
        let wj: Vec<i32> = inter.iter().map(|&v| first(&y, v)).collect();
        assert_eq!(i.to_vec::<i32>(), wi);
        assert_eq!(j.to_vec::<i32>(), wj);
        // With a size, the index padding is out of range (len of each input).
        let m = inter.len() + 2;
        let (pv, pi, pj) = jnp::intersect1d_indices(&a, &b, false, Some(m), None);
        let small = inter.first().copied().unwrap_or(0);
        assert_eq!(pv.to_vec::<i32>(), pad(inter.clone(), m, small));
        assert_eq!(pi.to_vec::<i32>(), pad(wi.clone(), m, 17));
        assert_eq!(pj.to_vec::<i32>(), pad(wj.clone(), m, 11));
        // A static size: padded with fill_value (or the smallest value).
        let n = 20;
        let jitted = jit(move |(a, b): &(Array, Array)| {
            (
                jnp::union1d(a, b, Some(n), Some(-1.0)),
                jnp::intersect1d(a, b, false, Some(n), Some(-1.0)),
                jnp::setdiff1d(a, b, false, Some(n), None),
                jnp::setxor1d(a, b, false, Some(n), Some(-1.0)),
            )
        })(&(a.clone(), b.clone()));
        assert_eq!(jitted.0.to_vec::<i32>(), pad(union.clone(), n, -1));
        assert_eq!(jitted.1.to_vec::<i32>(), pad(inter.clone(), n, -1));
        // setdiff1d pads with 0 by default (JAX's code, whatever its doc says).
        assert_eq!(jitted.2.to_vec::<i32>(), pad(diff.clone(), n, 0));
        assert_eq!(jitted.3.to_vec::<i32>(), pad(xor.clone(), n, -1));
        // isin, against contains.
        let want: Vec<bool> = x.iter().map(|v| y.contains(v)).collect();
        assert_eq!(jnp::isin(&a, &b, false).to_vec::<bool>(), want);
    }
    // assume_unique keeps ar1's order in setdiff1d (as JAX).
    let a = i32s(&[5, 1, 4, 2], &[4]);
    let b = i32s(&[4], &[1]);
    assert_eq!(
        jnp::setdiff1d(&a, &b, true, None, None).to_vec::<i32>(),
        vec![5, 1, 2]
    );
    // Truncation to a smaller size.
    assert_eq!(
        jnp::union1d(&a, &b, Some(2), None).to_vec::<i32>(),
        vec![1, 2]
    );
    // Mixed dtypes promote; NaN is in no intersection.
    let fa = f32s(&[1.5, f32::NAN, 2.0], &[3]);
    let fb = i32s(&[2, 7], &[2]);
    assert_eq!(
        jnp::intersect1d(&fa, &fb, false, None, None).to_vec::<f32>(),
        vec![2.0]
    );
    let u = jnp::union1d(&fa, &fb, None, None).to_vec::<f32>();
    assert_eq!(&u[..3], &[1.5, 2.0, 7.0]);
    assert!(u[3].is_nan() && u.len() == 4);
}

#[test]
fn set_routines_batch_under_vmap_with_a_size() {
    let x = i32s(&ints(24, 6, 7), &[3, 8]);
    let y = i32s(&ints(15, 6, 8), &[3, 5]);
    let f = |(a, b): &(Array, Array)| {
        (
            jnp::union1d(a, b, Some(8), Some(-1.0)),
            jnp::setdiff1d(a, b, false, Some(8), Some(-1.0)),
            jnp::intersect1d_indices(a, b, false, Some(8), Some(-1.0)),
        )
    };
    let got = vmap(f)(&(x.clone(), y.clone()));
    for r in 0..3usize {
        let a = x.index(&oxjax::idx![r as isize]);
        let b = y.index(&oxjax::idx![r as isize]);
        let want = f(&(a, b));
        let row = |z: &Array| z.index(&oxjax::idx![r as isize]).to_vec::<i32>();
        assert_eq!(row(&got.0), want.0.to_vec::<i32>());
        assert_eq!(row(&got.1), want.1.to_vec::<i32>());
        assert_eq!(row(&got.2.0), want.2.0.to_vec::<i32>());
        assert_eq!(row(&got.2.1), want.2.1.to_vec::<i32>());
        assert_eq!(row(&got.2.2), want.2.2.to_vec::<i32>());
    }
}

#[test]
#[should_panic(expected = "pass a static `size`")]
fn set_routines_need_a_size_under_jit() {
    let a = i32s(&[1, 2], &[2]);
    jit(|a: &Array| jnp::union1d(a, a, None, None))(&a);
}

#[test]
fn unique_all_matches_a_loop() {
    let v = ints(23, 7, 11);
    let x = i32s(&v, &[23]).reshape(&[23]);
    let vals = distinct(v.clone());
    let counts: Vec<i32> = vals
        .iter()
        .map(|&u| v.iter().filter(|&&e| e == u).count() as i32)
        .collect();
    let first: Vec<i32> = vals
        .iter()
        .map(|&u| v.iter().position(|&e| e == u).unwrap() as i32)
        .collect();
    let inv: Vec<i32> = v
        .iter()
        .map(|e| vals.iter().position(|u| u == e).unwrap() as i32)
        .collect();
    let u = jnp::unique_all(&x, None, None);
    assert_eq!(u.values.to_vec::<i32>(), vals);
    assert_eq!(u.counts.to_vec::<i32>(), counts);
    assert_eq!(u.indices.to_vec::<i32>(), first);
    assert_eq!(u.inverse_indices.to_vec::<i32>(), inv);
    assert_eq!(jnp::unique_values(&x, None, None).to_vec::<i32>(), vals);
    let (cv, cc) = jnp::unique_counts(&x, None, None);
    assert_eq!(
        (cv.to_vec::<i32>(), cc.to_vec::<i32>()),
        (vals.clone(), counts.clone())
    );
    // The inverse keeps x's shape and rebuilds it.
    let x2 = x.reshape(&[23, 1]);
    let (iv, ii) = jnp::unique_inverse(&x2, None, None);
    assert_eq!(ii.shape(), &[23, 1]);
    assert_eq!(jnp::take(&iv, &ii, None).to_vec::<i32>(), v);
    // With a size (under jit): values padded with fill, counts with 0, indices
    // with the smallest value's (JAX gathers the permutation at 0 there).
    let n = vals.len() + 3;
    let j = jit(move |x: &Array| {
        let u = jnp::unique_all(x, Some(n), Some(-5.0));
        (u.values, u.indices, u.inverse_indices, u.counts)
    })(&x);
    let pad = |mut w: Vec<i32>, f: i32| {
        w.resize(n, f);
        w
    };
    assert_eq!(j.0.to_vec::<i32>(), pad(vals.clone(), -5));
    assert_eq!(j.1.to_vec::<i32>(), pad(first.clone(), first[0]));
    assert_eq!(j.2.to_vec::<i32>(), inv);
    assert_eq!(j.3.to_vec::<i32>(), pad(counts.clone(), 0));
    // Truncated, and default fill (the smallest value).
    let (tv, tc) = jnp::unique_counts(&x, Some(2), None);
    assert_eq!(tv.to_vec::<i32>(), vals[..2].to_vec());
    assert_eq!(tc.to_vec::<i32>(), counts[..2].to_vec());
    assert_eq!(
        jnp::unique_values(&x, Some(n), None).to_vec::<i32>(),
        pad(vals.clone(), vals[0])
    );
}

#[test]
fn unique_values_keeps_nans_distinct() {
    // The array API's rule (JAX's unique_* pass equal_nan=False).
    let x = f32s(&[f32::NAN, 1.0, f32::NAN, 1.0], &[4]);
    let (v, c) = jnp::unique_counts(&x, None, None);
    let v = v.to_vec::<f32>();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0], 1.0);
    assert!(v[1].is_nan() && v[2].is_nan());
    assert_eq!(c.to_vec::<i32>(), vec![2, 1, 1]);
    // Empty input: empty results (or all padding).
    let e = Array::from_vec(Vec::<f32>::new(), &[0]);
    assert_eq!(jnp::unique_values(&e, None, None).shape(), &[0]);
    assert_eq!(
        jnp::unique_values(&e, Some(2), Some(3.0)).to_vec::<f32>(),
        vec![3.0, 3.0]
    );
    let u = jnp::unique_all(&e.reshape(&[0, 3]), Some(2), Some(1.0));
    assert_eq!(u.values.to_vec::<f32>(), vec![1.0, 1.0]);
    assert_eq!(u.counts.to_vec::<i32>(), vec![0, 0]);
    assert_eq!(u.inverse_indices.shape(), &[0, 3]);
    // Empty set inputs: setdiff1d pads with 0, intersect1d's indices are out of range.
    let a = f32s(&[2.0, 1.0], &[2]);
    assert_eq!(
        jnp::setdiff1d(&e, &a, false, Some(2), None).to_vec::<f32>(),
        vec![0.0, 0.0]
    );
    let (v, i, j) = jnp::intersect1d_indices(&e, &a, false, Some(1), Some(9.0));
    assert_eq!(
        (v.to_vec::<f32>(), i.to_vec::<i32>(), j.to_vec::<i32>()),
        (vec![9.0], vec![0], vec![2])
    );
}

#[test]
#[should_panic(expected = "unique_values: an empty input padded to size 2 needs a fill_value")]
fn unique_of_an_empty_input_needs_a_fill_value_to_pad() {
    jnp::unique_values(&Array::from_vec(Vec::<f32>::new(), &[0]), Some(2), None);
}

// ---- arguments: where=, return_sign=, per-side pad constants, reduce_window --

/// Pseudo-random f32 values in [-3, 3).
fn reals(n: usize, seed: u64) -> Vec<f32> {
    ints(n, 6000, seed)
        .iter()
        .map(|&i| i as f32 / 1000.0 - 3.0)
        .collect()
}

/// `sum(w * f(x))` with fixed weights, for gradient checks.
fn weighted(y: &Array) -> Array {
    let n = y.size();
    let w: Vec<f32> = (0..n).map(|i| 0.5 + (i % 5) as f32 * 0.25).collect();
    let w = Array::from_vec(w, y.shape());
    let y = Array::where_(&y.isfinite(), y, 0.0f32);
    (y * w).sum(oxjax::Axes::All, false)
}

/// The gradient of `f` at `x` against central differences in f64.
fn check_grad_fd(what: &str, f: impl Fn(&Array) -> Array + Copy, x: &[f32], shape: &[usize]) {
    oxjax::with_default_device(&cases::embedded(), || grad_fd(what, f, x, shape));
}

fn grad_fd(what: &str, f: impl Fn(&Array) -> Array + Copy, x: &[f32], shape: &[usize]) {
    let xa = f32s(x, shape).astype(oxjax::DType::F64);
    let g = oxjax::grad(f)(&xa).to_vec::<f64>();
    let h = 1e-6;
    for i in 0..x.len() {
        let mut p = xa.to_vec::<f64>();
        let mut m = p.clone();
        p[i] += h;
        m[i] -= h;
        let fp = f(&Array::from_vec(p, shape)).item::<f64>();
        let fm = f(&Array::from_vec(m, shape)).item::<f64>();
        let fd = (fp - fm) / (2.0 * h);
        assert!(
            (g[i] - fd).abs() < 1e-5 * (1.0 + fd.abs()),
            "{what}: d/dx{i} {} vs {fd}",
            g[i]
        );
    }
}

#[test]
fn softmax_where_matches_a_masked_loop() {
    let x = reals(12, 21);
    let mask: Vec<bool> = ints(12, 3, 22).iter().map(|&i| i > 0).collect();
    let (xa, ma) = (f32s(&x, &[3, 4]), Array::from_vec(mask.clone(), &[3, 4]));
    let sm = oxjax::nn::softmax_where(&xa, -1, &ma).to_vec::<f32>();
    let lsm = oxjax::nn::log_softmax_where(&xa, -1, &ma).to_vec::<f32>();
    for r in 0..3 {
        let row = r * 4..r * 4 + 4;
        let z: f64 = row
            .clone()
            .filter(|&i| mask[i])
            .map(|i| (x[i] as f64).exp())
            .sum();
        for i in row {
            if mask[i] {
                let p = (x[i] as f64).exp() / z;
                assert!((sm[i] as f64 - p).abs() < 1e-6, "softmax {i}");
                assert!((lsm[i] as f64 - p.ln()).abs() < 1e-5, "log_softmax {i}");
            } else {
                assert_eq!((sm[i], lsm[i]), (0.0, f32::NEG_INFINITY), "masked {i}");
            }
        }
    }
    // A mask that broadcasts (per column), under jit and vmap.
    let cols = Array::from_vec(vec![true, false, true, true], &[4]);
    let f = |x: &Array| {
        oxjax::nn::softmax_where(x, -1, &Array::from_vec(vec![true, false, true, true], &[4]))
    };
    let want = oxjax::nn::softmax_where(&xa, -1, &cols).to_vec::<f32>();
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-6);
    assert!(close(&jit(f)(&xa).to_vec::<f32>(), &want));
    assert!(close(&vmap(f)(&xa).to_vec::<f32>(), &want));
    // An all-true mask is plain softmax; gradients against differences.
    let all = Array::full(&[3, 4], true);
    assert!(close(
        &oxjax::nn::softmax_where(&xa, -1, &all).to_vec::<f32>(),
        &oxjax::nn::softmax(&xa, -1).to_vec::<f32>()
    ));
    // A large masked value changes nothing and leaves the gradient finite;
    // an all-masked row is all 0 (softmax) / -inf (log_softmax), gradient 0.
    let xb = f32s(&[1.0, 1000.0, 2.0, -1.0, 5.0, 6.0], &[2, 3]);
    let mb = Array::from_vec(vec![true, false, true, false, false, false], &[2, 3]);
    let p = oxjax::nn::softmax_where(&xb, -1, &mb).to_vec::<f32>();
    let e = 1.0f32.exp() + 2.0f32.exp();
    assert!((p[0] - 1.0f32.exp() / e).abs() < 1e-6 && p[1] == 0.0);
    assert_eq!(&p[3..], &[0.0, 0.0, 0.0]);
    let lp = oxjax::nn::log_softmax_where(&xb, -1, &mb).to_vec::<f32>();
    assert!(lp[3..].iter().all(|&v| v == f32::NEG_INFINITY));
    for f in [oxjax::nn::softmax_where, oxjax::nn::log_softmax_where] {
        let g = oxjax::grad(|x: &Array| weighted(&f(x, -1, &mb)))(&xb).to_vec::<f32>();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        assert_eq!((g[1], &g[3..]), (0.0, &[0.0f32, 0.0, 0.0][..]));
    }
    let g = oxjax::grad(|x: &Array| {
        oxjax::nn::logsumexp_where(x, -1, false, None, Some(&mb)).index(&oxjax::idx![0])
    })(&xb)
    .to_vec::<f32>();
    assert!(g.iter().all(|v| v.is_finite()) && g[1] == 0.0, "{g:?}");
    check_grad_fd(
        "softmax_where",
        |x| {
            weighted(&oxjax::nn::softmax_where(
                x,
                -1,
                &Array::from_vec(vec![true, false, true, true], &[4]),
            ))
        },
        &x,
        &[3, 4],
    );
    check_grad_fd(
        "log_softmax_where",
        |x| {
            weighted(&oxjax::nn::log_softmax_where(
                x,
                -1,
                &Array::from_vec(vec![true, false, true, true], &[4]),
            ))
        },
        &x,
        &[3, 4],
    );
}

#[test]
fn logsumexp_sign_and_where_match_a_loop() {
    let x = reals(8, 31);
    let b: Vec<f32> = reals(8, 32);
    let (xa, ba) = (f32s(&x, &[2, 4]), f32s(&b, &[2, 4]));
    let (l, s) = oxjax::nn::logsumexp_sign(&xa, -1, false, Some(&ba), None);
    let (l, s) = (l.to_vec::<f32>(), s.to_vec::<f32>());
    let plain = oxjax::nn::logsumexp(&xa, -1, false, Some(&ba)).to_vec::<f32>();
    for r in 0..2 {
        let t: f64 = (r * 4..r * 4 + 4)
            .map(|i| b[i] as f64 * (x[i] as f64).exp())
            .sum();
        assert!((l[r] as f64 - t.abs().ln()).abs() < 1e-5, "row {r}");
        assert_eq!(s[r] as f64, t.signum());
        // Without return_sign a negative sum is NaN (as JAX).
        assert!(if t < 0.0 {
            plain[r].is_nan()
        } else {
            (plain[r] - l[r]).abs() < 1e-6
        });
    }
    // where=: masked terms drop out; an all-masked row is -inf with sign 0.
    let m = Array::from_vec(
        vec![true, false, false, true, false, false, false, false],
        &[2, 4],
    );
    let (lw, sw) = oxjax::nn::logsumexp_sign(&xa, -1, true, None, Some(&m));
    assert_eq!(lw.shape(), &[2, 1]);
    let t = (x[0] as f64).exp() + (x[3] as f64).exp();
    assert!((lw.to_vec::<f32>()[0] as f64 - t.ln()).abs() < 1e-5);
    assert_eq!(lw.to_vec::<f32>()[1], f32::NEG_INFINITY);
    assert_eq!(sw.to_vec::<f32>(), vec![1.0, 0.0]);
    // A zero weight masks an infinite term (no NaN).
    let xi = f32s(&[f32::INFINITY, 0.0], &[2]);
    let bi = f32s(&[0.0, 1.0], &[2]);
    assert_eq!(
        oxjax::nn::logsumexp(&xi, -1, false, Some(&bi)).item::<f32>(),
        0.0
    );
    // jit and vmap agree; the gradient of log|s| matches differences.
    let f = |x: &Array| {
        oxjax::nn::logsumexp_where(
            x,
            -1,
            false,
            None,
            Some(&Array::from_vec(vec![true, true, false, true], &[4])),
        )
    };
    let e = f(&xa).to_vec::<f32>();
    assert!(
        jit(f)(&xa)
            .to_vec::<f32>()
            .iter()
            .zip(&e)
            .all(|(a, b)| (a - b).abs() < 1e-6)
    );
    assert!(
        vmap(f)(&xa)
            .to_vec::<f32>()
            .iter()
            .zip(&e)
            .all(|(a, b)| (a - b).abs() < 1e-6)
    );
    check_grad_fd(
        "logsumexp_sign",
        |x| {
            let b = Array::from_vec(vec![1.0f64, -0.5, 2.0, 0.25], &[4]);
            weighted(&oxjax::nn::logsumexp_sign(x, -1, false, Some(&b), None).0)
        },
        &x,
        &[2, 4],
    );
}

#[test]
fn pad_constant_per_side_follows_numpy() {
    let x = i32s(&[1, 2, 3, 4, 5, 6], &[2, 3]);
    let y = jnp::pad_constant(&x, &[(1, 1), (2, 1)], &[(-1.0, -2.0), (8.0, 9.0)]);
    // By hand: rows first, then columns (the later axis owns the corners).
    #[rustfmt::skip]
    let want = vec![
        8, 8, -1, -1, -1, 9,
        8, 8,  1,  2,  3, 9,
        8, 8,  4,  5,  6, 9,
        8, 8, -2, -2, -2, 9,
    ];
    assert_eq!(y.shape(), &[4, 6]);
    assert_eq!(y.to_vec::<i32>(), want);
    // One pair for every axis; jit; the gradient reaches only the interior.
    let one = jnp::pad_constant(&x, &[(0, 1)], &[(0.0, 7.0)]);
    assert_eq!(
        one.to_vec::<i32>(),
        vec![1, 2, 3, 7, 4, 5, 6, 7, 7, 7, 7, 7]
    );
    let xf = x.astype(oxjax::DType::F32);
    let f = |x: &Array| jnp::pad_constant(x, &[(1, 1), (2, 1)], &[(-1.0, -2.0), (8.0, 9.0)]);
    assert_eq!(jit(f)(&xf).to_vec::<f32>(), f(&xf).to_vec::<f32>());
    let g = oxjax::grad(|x: &Array| f(x).sum(oxjax::Axes::All, false))(&xf);
    assert_eq!(g.to_vec::<f32>(), vec![1.0; 6]);
    let e = jnp::try_pad_constant(&x, &[(1, 1)], &[(0.0, 0.0); 3]).unwrap_err();
    assert!(e.to_string().contains("constant_values") && e.to_string().contains("[2, 3]"));
}

#[test]
fn reduce_window_with_a_user_computation() {
    use oxjax::lax::{self, Padding, WindowReduction};
    let x = reals(20, 41);
    let xa = f32s(&x, &[4, 5]);
    // The built-in monoids as user computations agree with reduce_window.
    for (op, init, f) in [
        (
            WindowReduction::Sum,
            0.0,
            (|a: &Array, b: &Array| a + b) as fn(&Array, &Array) -> Array,
        ),
        (WindowReduction::Max, f64::NEG_INFINITY, |a, b| a.maximum(b)),
        (WindowReduction::Min, f64::INFINITY, |a, b| a.minimum(b)),
    ] {
        for (win, strides, pad) in [
            ([2, 3], [1, 2], Padding::Valid),
            ([3, 2], [2, 1], Padding::Same),
            ([1, 4], [1, 1], Padding::Explicit(vec![(1, 0), (2, 1)])),
        ] {
            let want = lax::reduce_window(&xa, op, &win, &strides, &pad, None, None);
            let got = lax::reduce_window_with(&xa, init, f, &win, &strides, &pad, None, None);
            assert_eq!(got.shape(), want.shape());
            let (g, w) = (got.to_vec::<f32>(), want.to_vec::<f32>());
            assert!(
                g.iter()
                    .zip(&w)
                    .all(|(a, b)| a == b || (a - b).abs() < 1e-5),
                "{op:?} {win:?}"
            );
        }
    }
    // A non-built-in computation (largest magnitude) against a loop, jit and vmap.
    let big = |a: &Array, b: &Array| jnp::where_(&a.abs().greater_equal(b.abs()), a, b);
    let y = lax::reduce_window_with(&xa, 0.0, big, &[2, 2], &[2, 1], &Padding::Valid, None, None);
    assert_eq!(y.shape(), &[2, 4]);
    let yv = y.to_vec::<f32>();
    for i in 0..2 {
        for j in 0..4 {
            let w = [
                x[2 * i * 5 + j],
                x[2 * i * 5 + j + 1],
                x[(2 * i + 1) * 5 + j],
                x[(2 * i + 1) * 5 + j + 1],
            ];
            let m = w
                .iter()
                .copied()
                .fold(0.0f32, |a, b| if a.abs() >= b.abs() { a } else { b });
            assert_eq!(yv[i * 4 + j].abs(), m.abs(), "window {i},{j}");
        }
    }
    let f = move |x: &Array| {
        lax::reduce_window_with(x, 0.0, big, &[2], &[1], &Padding::Valid, None, None)
    };
    let want = xa.to_vec::<f32>();
    let rows: Vec<f32> = (0..4)
        .flat_map(|r| (0..4).map(move |j| (r, j)))
        .map(|(r, j)| {
            if want[r * 5 + j].abs() >= want[r * 5 + j + 1].abs() {
                want[r * 5 + j]
            } else {
                want[r * 5 + j + 1]
            }
        })
        .collect();
    assert_eq!(vmap(f)(&xa).to_vec::<f32>(), rows);
    assert_eq!(jit(vmap(f))(&xa).to_vec::<f32>(), rows);
    // Gradients: the built-in max pooling (JAX's differentiable form) and a
    // user sum of squares, against differences.
    check_grad_fd(
        "reduce_window max",
        |x| {
            weighted(&lax::reduce_window(
                x,
                WindowReduction::Max,
                &[2, 2],
                &[1, 2],
                &Padding::Same,
                None,
                None,
            ))
        },
        &x,
        &[4, 5],
    );
    check_grad_fd(
        "reduce_window_with",
        |x| {
            weighted(&lax::reduce_window_with(
                x,
                0.0,
                |a, b| a * a + b * b,
                &[1, 2],
                &[1, 1],
                &Padding::Valid,
                None,
                None,
            ))
        },
        &x,
        &[4, 5],
    );
}

// ---- linalg.eig ------------------------------------------------------------

#[test]
fn eig_satisfies_av_equals_lambda_v() {
    oxjax::with_default_device(&cases::embedded(), eig_f64);
    // f32 in, f32 out (on the default device); a triangular matrix's
    // eigenvalues are its diagonal.
    let t = Array::from_vec(
        vec![2.0f32, 7.0, -1.0, 0.0, -3.0, 4.0, 0.0, 0.0, 0.5],
        &[3, 3],
    );
    let tw = oxjax::linalg::eigvals(&t);
    assert_eq!(tw.re.dtype(), oxjax::DType::F32);
    let mut d = tw.re.to_vec::<f32>();
    d.sort_by(f32::total_cmp);
    assert!(
        d.iter()
            .zip([-3.0, 0.5, 2.0])
            .all(|(a, b)| (a - b).abs() < 1e-5)
    );
    assert!(tw.im.to_vec::<f32>().iter().all(|v| v.abs() < 1e-6));
    let (_, v) = oxjax::linalg::eig(&t);
    assert_eq!(v.re.shape(), &[3, 3]);
}

fn eig_f64() {
    use oxjax::linalg;
    let n = 5;
    let data: Vec<f64> = reals(3 * n * n, 51).iter().map(|&v| v as f64).collect();
    let a = Array::from_vec(data.clone(), &[3, n, n]);
    let (w, v) = linalg::eig(&a);
    assert_eq!(w.re.shape(), &[3, n]);
    assert_eq!(v.im.shape(), &[3, n, n]);
    let (wr, wi) = (w.re.to_vec::<f64>(), w.im.to_vec::<f64>());
    let (vr, vi) = (v.re.to_vec::<f64>(), v.im.to_vec::<f64>());
    let mut complex_pairs = 0;
    for b in 0..3 {
        let m = |i: usize, j: usize| data[b * n * n + i * n + j];
        // Sum of eigenvalues = trace (imaginary parts cancel).
        let tr: f64 = (0..n).map(|i| m(i, i)).sum();
        let sr: f64 = (0..n).map(|j| wr[b * n + j]).sum();
        let si: f64 = (0..n).map(|j| wi[b * n + j]).sum();
        assert!((sr - tr).abs() < 1e-9 && si.abs() < 1e-9, "trace");
        complex_pairs += (0..n).filter(|&j| wi[b * n + j] > 1e-12).count();
        for j in 0..n {
            let (lr, li) = (wr[b * n + j], wi[b * n + j]);
            let x = |i: usize| (vr[b * n * n + i * n + j], vi[b * n * n + i * n + j]);
            let norm: f64 = (0..n).map(|i| x(i).0.powi(2) + x(i).1.powi(2)).sum();
            assert!((norm - 1.0).abs() < 1e-9, "unit norm");
            let big = (0..n).max_by(|&p, &q| x(p).0.hypot(x(p).1).total_cmp(&x(q).0.hypot(x(q).1)));
            assert!(x(big.unwrap()).1.abs() < 1e-12, "largest component real");
            for i in 0..n {
                // (A v)_i against λ v_i, in complex arithmetic.
                let (ar, ai) = (0..n).fold((0.0, 0.0), |(r, s), k| {
                    (r + m(i, k) * x(k).0, s + m(i, k) * x(k).1)
                });
                let (br, bi) = (lr * x(i).0 - li * x(i).1, lr * x(i).1 + li * x(i).0);
                assert!(
                    (ar - br).abs() < 1e-9 && (ai - bi).abs() < 1e-9,
                    "A v = λ v at {b},{i},{j}"
                );
            }
        }
    }
    assert!(
        complex_pairs > 0,
        "the test matrices have complex eigenvalues"
    );
    // eigvals agrees.
    let ev = linalg::eigvals(&a);
    assert_eq!(ev.re.to_vec::<f64>(), wr);
}

#[test]
#[should_panic(expected = "eig: runs eagerly on the host")]
fn eig_is_eager_only() {
    let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    jit(|a: &Array| oxjax::linalg::eig(a).0.re)(&a);
}

#[test]
#[should_panic(expected = "eigvals: needs square matrices [..., n, n], got shape [2, 3]")]
fn eig_rejects_non_square() {
    oxjax::linalg::eigvals(&Array::zeros(&[2, 3], oxjax::DType::F32));
}
