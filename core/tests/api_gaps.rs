//! The API gaps of issue 18: `block`, `put_along_axis`, `lexsort`,
//! `partition`, set routines and `unique_*`, against values derived by hand
//! or by plain Rust loops over the same inputs; jit and vmap where JAX
//! supports them (set routines with a static `size`).

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
        // A static size: padded with fill_value (or the smallest value).
        let pad = |mut v: Vec<i32>, n: usize, f: i32| {
            v.resize(n, f);
            v
        };
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
        let dfill = diff.first().copied().unwrap_or(0);
        assert_eq!(jitted.2.to_vec::<i32>(), pad(diff.clone(), n, dfill));
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
}
