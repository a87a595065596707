//! `oxjax::linalg`: values against NumPy/SciPy fixtures
//! (tests/fixtures/make_linalg.py), reconstruction properties on random
//! well-conditioned batches in f32 and f64, vmap against a loop, jit
//! against eager, every plugin device against the embedded one, gradients
//! against central finite differences (f64), and misuse messages.

use oxjax::linalg::{self, NormOrd, QrMode, Triangular};
use oxjax::{Array, Axes, DType, Device, grad, jit, make_jaxpr, vmap, with_default_device};
use serde_json::Value;
use std::sync::OnceLock;
mod common;
use common::{
    check_grad, close_v, json_fixture, nums, on_embedded, plugin_devices, registry, uniform,
};

fn fixtures() -> &'static Value {
    static FX: OnceLock<Value> = OnceLock::new();
    FX.get_or_init(|| json_fixture("linalg.json"))
}

/// A fixture array as f64.
fn fx(name: &str) -> Array {
    let v = &fixtures()[name];
    let shape: Vec<usize> = nums(&v["shape"]).iter().map(|&d| d as usize).collect();
    Array::from_vec(nums(&v["data"]), &shape)
}

fn vals(x: &Array) -> Vec<f64> {
    x.try_scalars()
        .unwrap()
        .iter()
        .map(|s| s.as_f64())
        .collect()
}

#[track_caller]
fn close(a: &Array, b: &Array, tol: f64) {
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    close_v(&vals(a), &vals(b), tol);
}

fn rand(shape: &[usize], seed: u64, dtype: DType) -> Array {
    let n = shape.iter().product();
    Array::from_vec(uniform(n, seed), shape).astype(dtype)
}

/// A batch of well-conditioned square matrices: `I·n/2 + noise`.
fn well(batch: usize, n: usize, seed: u64, dtype: DType) -> Array {
    let x = rand(&[batch, n, n], seed, DType::F64);
    (x + Array::eye(n, n, 0, DType::F64) * (n as f64 / 2.0 + 1.0)).astype(dtype)
}

/// Symmetric positive definite: `x xᵀ + n I`.
fn spd(batch: usize, n: usize, seed: u64, dtype: DType) -> Array {
    let x = rand(&[batch, n, n], seed, DType::F64);
    let s = x.matmul(&x.moveaxis(-1, -2)) + Array::eye(n, n, 0, DType::F64) * n as f64;
    s.astype(dtype)
}

fn t(a: &Array) -> Array {
    a.moveaxis(-1, -2)
}

fn eye_b(n: usize, like: &Array) -> Array {
    Array::eye(n, n, 0, like.dtype())
}

fn tol(dtype: DType) -> f64 {
    if dtype == DType::F64 { 1e-10 } else { 1e-5 }
}

// ---- values against NumPy / SciPy ---------------------------------------------

#[test]
fn matches_numpy_and_scipy() {
    on_embedded(|| {
        let (a, s, r) = (fx("a"), fx("spd"), fx("rect"));
        let e = 1e-10;
        close(&linalg::cholesky(&s), &fx("cholesky"), e);
        let (p, l, u) = linalg::lu(&a);
        close(&p, &fx("lu_p"), 0.0);
        close(&l, &fx("lu_l"), e);
        close(&u, &fx("lu_u"), e);
        let (lu, piv) = linalg::lu_factor(&a);
        close(&lu, &fx("lu_factor"), e);
        close(&piv, &fx("lu_piv"), 0.0);
        let (p, l, u) = linalg::lu(&r);
        close(&p, &fx("lu_rect_p"), 0.0);
        close(&l, &fx("lu_rect_l"), e);
        close(&u, &fx("lu_rect_u"), e);
        close(&linalg::solve(&a, &fx("b")), &fx("solve"), e);
        close(&linalg::solve(&a, &fx("bv")), &fx("solve_vec"), e);
        close(&linalg::inv(&a), &fx("inv"), e);
        close(&linalg::det(&a), &fx("det"), e);
        let (sign, logdet) = linalg::slogdet(&a);
        close(&sign, &fx("slogdet_sign"), 0.0);
        close(&logdet, &fx("slogdet_logdet"), e);
        let (low, upp, b) = (fx("low"), fx("upp"), fx("b"));
        close(
            &linalg::solve_triangular(&low, &b, true),
            &fx("solve_triangular_lower"),
            e,
        );
        let left = |lower, transpose_a, unit_diagonal| Triangular {
            left_side: true,
            lower,
            transpose_a,
            unit_diagonal,
        };
        close(
            &linalg::triangular_solve(&upp, &b, left(false, true, false)),
            &fx("solve_triangular_upper_trans"),
            e,
        );
        close(
            &linalg::triangular_solve(&low, &b, left(true, false, true)),
            &fx("solve_triangular_unit"),
            e,
        );
        let (q, rr) = linalg::qr(&r, QrMode::Reduced);
        close(&q, &fx("qr_q"), e);
        close(&rr, &fx("qr_r"), e);
        let (q, rr) = linalg::qr(&r, QrMode::Complete);
        close(&q, &fx("qr_q_complete"), e);
        close(&rr, &fx("qr_r_complete"), e);
        close(&linalg::eigh(&s).0, &fx("eigh_w"), e);
        close(&linalg::eigvalsh(&s), &fx("eigh_w"), e);
        close(&linalg::svd(&r, false).1, &fx("svd_s"), e);
        close(&linalg::svdvals(&r), &fx("svd_s"), e);
        close(&linalg::svdvals(&fx("wide")), &fx("svd_s_wide"), e);
        close(&linalg::pinv(&r, None), &fx("pinv"), e);
        let (x, res, rank, _) = linalg::lstsq(&r, &fx("y"), None);
        close(&x, &fx("lstsq_x"), e);
        close(&res, &fx("lstsq_res"), e);
        assert_eq!(rank.item::<i32>(), 4);
        close(&linalg::matrix_power(&a, 3), &fx("matrix_power_3"), e);
        close(&linalg::matrix_power(&a, -2), &fx("matrix_power_-2"), e);
        let rank = linalg::matrix_rank(&fx("lowrank"), None);
        assert_eq!(
            rank.item::<i32>() as f64,
            fixtures()["matrix_rank_lowrank"].as_f64().unwrap()
        );
    });
}

#[test]
fn norms_match_numpy() {
    on_embedded(|| {
        let norms = &fixtures()["norms"];
        let want = |k: &str| norms[k].as_f64().unwrap();
        let v = fx("vec");
        for (k, ord) in [
            ("2", NormOrd::Default),
            ("1", NormOrd::P(1.0)),
            ("inf", NormOrd::P(f64::INFINITY)),
            ("-inf", NormOrd::P(f64::NEG_INFINITY)),
            ("0", NormOrd::P(0.0)),
            ("3", NormOrd::P(3.0)),
            ("0.5", NormOrd::P(0.5)),
        ] {
            let got = linalg::norm(&v, ord, None, false).item::<f64>();
            let w = want(&format!("vec_{k}"));
            assert!(
                (got - w).abs() <= 1e-12 * w.abs(),
                "vector norm {k}: {got} vs {w}"
            );
        }
        let r = fx("rect");
        for (k, ord) in [
            ("fro", NormOrd::Fro),
            ("nuc", NormOrd::Nuc),
            ("1", NormOrd::P(1.0)),
            ("-1", NormOrd::P(-1.0)),
            ("inf", NormOrd::P(f64::INFINITY)),
            ("-inf", NormOrd::P(f64::NEG_INFINITY)),
            ("2", NormOrd::P(2.0)),
            ("-2", NormOrd::P(-2.0)),
        ] {
            let got = linalg::norm(&r, ord, None, false).item::<f64>();
            let w = want(&format!("mat_{k}"));
            assert!(
                (got - w).abs() <= 1e-10 * w.abs(),
                "matrix norm {k}: {got} vs {w}"
            );
            // The same norm over axes (0, 1) of a stack, transposed: axes
            // are honoured and keepdims keeps both.
            let stack = Array::concatenate(&[&r.expand_dims(-1), &(&r * 2.0).expand_dims(-1)], -1);
            let per = linalg::norm(&stack, ord, Some(&[0, 1]), true);
            assert_eq!(per.shape(), &[1, 1, 2], "norm {k}");
            close_v(&vals(&per), &[got, 2.0 * got], 1e-10);
        }
        // ord=None over a 3-d array: the flattened 2-norm.
        let x = Array::from_vec(vec![1.0f64; 8], &[2, 2, 2]);
        close_v(
            &vals(&linalg::norm(&x, NormOrd::Default, None, false)),
            &[8f64.sqrt()],
            1e-15,
        );
    });
}

// ---- reconstruction properties -----------------------------------------------------

#[test]
fn reconstructions_hold_on_random_batches() {
    on_embedded(|| {
        for dtype in [DType::F32, DType::F64] {
            for n in [1, 3, 6] {
                let e = tol(dtype) * n as f64;
                let a = well(3, n, 7 + n as u64, dtype);
                let s = spd(3, n, 11 + n as u64, dtype);
                let id = eye_b(n, &a).broadcast_to(a.shape());
                // Cholesky: L Lᵀ = S, L lower.
                let l = linalg::cholesky(&s);
                close(&l.matmul(&t(&l)), &s, e);
                // LU: P L U = A.
                let (p, l, u) = linalg::lu(&a);
                close(&p.matmul(&l).matmul(&u), &a, e);
                // inv and solve.
                close(&a.matmul(&linalg::inv(&a)), &id, e);
                let b = rand(&[3, n, 2], 5, dtype);
                close(&a.matmul(&linalg::solve(&a, &b)), &b, e);
                // det = product of eigenvalues of an SPD matrix; slogdet agrees.
                let w = linalg::eigvalsh(&s);
                close(&linalg::det(&s), &w.prod(-1, false), e * 10.0);
                let (sign, logdet) = linalg::slogdet(&a);
                close(&(sign * logdet.exp()), &linalg::det(&a), e);
                // eigh: S V = V diag(w), Vᵀ V = I, w ascending.
                let (w, v) = linalg::eigh(&s);
                close(&s.matmul(&v), &(&v * &w.expand_dims(-2)), e * 10.0);
                close(&t(&v).matmul(&v), &id, e);
                let wv = vals(&w);
                assert!(wv.chunks(n).all(|c| c.windows(2).all(|p| p[0] <= p[1])));
                // QR of tall, square and wide matrices.
                for (m, k) in [(n + 2, n), (n, n), (n, n + 3)] {
                    let x = rand(&[2, m, k], (m * 31 + k) as u64, dtype);
                    let (q, r) = linalg::qr(&x, QrMode::Reduced);
                    close(&q.matmul(&r), &x, e);
                    let kk = m.min(k);
                    close(
                        &t(&q).matmul(&q),
                        &eye_b(kk, &q).broadcast_to(&[2, kk, kk]),
                        e,
                    );
                    let (q, r) = linalg::qr(&x, QrMode::Complete);
                    close(&q.matmul(&r), &x, e);
                    close(&t(&q).matmul(&q), &eye_b(m, &q).broadcast_to(&[2, m, m]), e);
                    let below = vals(&r);
                    for (i, v) in below.iter().enumerate() {
                        let (row, col) = ((i / k) % m, i % k);
                        if row > col {
                            assert_eq!(*v, 0.0, "r is upper triangular");
                        }
                    }
                    // SVD: U S Vh = A with orthonormal factors, s descending.
                    for full in [false, true] {
                        let (u, s, vh) = linalg::svd(&x, full);
                        let uk = linalg_slice_cols(&u, kk);
                        let vk = linalg_slice_rows(&vh, kk);
                        close(&(&uk * &s.expand_dims(-2)).matmul(&vk), &x, e * 10.0);
                        let (cu, cv) = (u.shape()[2], vh.shape()[1]);
                        close(
                            &t(&u).matmul(&u),
                            &eye_b(cu, &u).broadcast_to(&[2, cu, cu]),
                            e,
                        );
                        close(
                            &vh.matmul(&t(&vh)),
                            &eye_b(cv, &u).broadcast_to(&[2, cv, cv]),
                            e,
                        );
                        let sv = vals(&s);
                        assert!(sv.chunks(kk).all(|c| c.windows(2).all(|p| p[0] >= p[1])));
                        if full {
                            assert_eq!((cu, cv), (m, k));
                        } else {
                            assert_eq!((cu, cv), (kk, kk));
                        }
                    }
                }
            }
        }
    });
}

fn linalg_slice_cols(a: &Array, k: usize) -> Array {
    a.slice(&[
        oxjax::Slice::all(),
        oxjax::Slice::all(),
        oxjax::Slice {
            start: Some(0),
            stop: Some(k as isize),
            step: 1,
        },
    ])
}

fn linalg_slice_rows(a: &Array, k: usize) -> Array {
    a.slice(&[
        oxjax::Slice::all(),
        oxjax::Slice {
            start: Some(0),
            stop: Some(k as isize),
            step: 1,
        },
    ])
}

#[test]
fn eigh_and_svd_reach_working_precision_at_n_16() {
    on_embedded(|| {
        let s = spd(1, 16, 99, DType::F64);
        let (w, v) = linalg::eigh(&s);
        close(&s.matmul(&v), &(&v * &w.expand_dims(-2)), 1e-11);
        let x = rand(&[1, 18, 15], 98, DType::F64);
        let (u, sv, vh) = linalg::svd(&x, false);
        close(&(&u * &sv.expand_dims(-2)).matmul(&vh), &x, 1e-11);
    });
}

#[test]
fn rank_deficient_and_singular_inputs() {
    on_embedded(|| {
        // A rank-1 matrix: svd still gives orthonormal U (completed by QR).
        let a = Array::from_vec(vec![1.0f64, 2.0, 2.0, 4.0, 3.0, 6.0], &[3, 2]);
        let (u, s, vh) = linalg::svd(&a, true);
        close(&t(&u).matmul(&u), &eye_b(3, &u), 1e-12);
        close_v(&vals(&s)[1..], &[0.0], 1e-12);
        close(
            &(&linalg_slice_cols(&u.expand_dims(0), 2).squeeze(&[0]) * &s.expand_dims(0))
                .matmul(&vh),
            &a,
            1e-12,
        );
        // A singular matrix: det 0, slogdet (0, -inf), matrix_rank 1.
        let sing = Array::from_vec(vec![1.0f64, 2.0, 2.0, 4.0], &[2, 2]);
        assert_eq!(linalg::det(&sing).item::<f64>(), 0.0);
        let (sign, logdet) = linalg::slogdet(&sing);
        assert_eq!(sign.item::<f64>(), 0.0);
        assert_eq!(logdet.item::<f64>(), f64::NEG_INFINITY);
        assert_eq!(linalg::matrix_rank(&sing, None).item::<i32>(), 1);
        // Equal diagonal entries (θ = 0) and an already diagonal input.
        let ev = linalg::eigvalsh(&Array::from_vec(vec![1.0f64, 2.0, 2.0, 1.0], &[2, 2]));
        close_v(&vals(&ev), &[-1.0, 3.0], 1e-15);
        let ev = linalg::eigvalsh(&Array::from_vec(
            vec![3.0f64, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0],
            &[3, 3],
        ));
        close_v(&vals(&ev), &[1.0, 2.0, 3.0], 0.0);
    });
}

// ---- transformations ---------------------------------------------------------------

#[test]
fn vmap_matches_a_loop_and_native_batching() {
    on_embedded(|| {
        let a = well(3, 4, 3, DType::F64);
        let s = spd(3, 4, 4, DType::F64);
        let b = rand(&[3, 4], 6, DType::F64);
        let row = |x: &Array, i: usize| {
            x.slice(&[oxjax::Slice {
                start: Some(i as isize),
                stop: Some(i as isize + 1),
                step: 1,
            }])
            .squeeze(&[0])
        };
        let stack = |f: &dyn Fn(usize) -> Array| -> Array {
            let parts: Vec<Array> = (0..3).map(|i| f(i).expand_dims(0)).collect();
            let refs: Vec<&Array> = parts.iter().collect();
            Array::concatenate(&refs, 0)
        };
        let vs = vmap(|p: &(Array, Array)| linalg::solve(&p.0, &p.1))(&(a.clone(), b.clone()));
        close(
            &vs,
            &stack(&|i| linalg::solve(&row(&a, i), &row(&b, i))),
            1e-12,
        );
        let (w, v) = vmap(|x: &Array| linalg::eigh(x))(&s);
        let (w0, v0) = linalg::eigh(&s);
        close(&w, &w0, 1e-12);
        close(&v, &v0, 1e-12);
        close(&w, &stack(&|i| linalg::eigvalsh(&row(&s, i))), 1e-12);
        let l = vmap(|x: &Array| linalg::cholesky(x))(&s);
        close(&l, &stack(&|i| linalg::cholesky(&row(&s, i))), 1e-12);
        let d = vmap(|x: &Array| linalg::det(x))(&a);
        close(&d, &stack(&|i| linalg::det(&row(&a, i))), 1e-12);
        let sv = vmap(|x: &Array| linalg::svdvals(x))(&a);
        close(&sv, &stack(&|i| linalg::svdvals(&row(&a, i))), 1e-12);
        // vmap of a gradient with a custom rule inside.
        let g = vmap(grad(|x: &Array| linalg::det(x)))(&a);
        let g0 = stack(&|i| grad(|x: &Array| linalg::det(x))(&row(&a, i)));
        close(&g, &g0, 1e-12);
    });
}

#[test]
fn jit_matches_eager() {
    on_embedded(|| {
        let s = spd(2, 5, 21, DType::F32);
        let a = well(2, 5, 22, DType::F32);
        let f = |p: &(Array, Array)| {
            let (w, v) = linalg::eigh(&p.0);
            let (q, r) = linalg::qr(&p.1, QrMode::Reduced);
            (
                w,
                v,
                linalg::solve(&p.1, &p.0),
                q.matmul(&r),
                linalg::cholesky(&p.0),
            )
        };
        let x = (s, a);
        let (e1, e2, e3, e4, e5) = f(&x);
        let (j1, j2, j3, j4, j5) = jit(f)(&x);
        for (e, j) in [(e1, j1), (e2, j2), (e3, j3), (e4, j4), (e5, j5)] {
            close(&e, &j, 1e-4);
        }
    });
}

#[test]
fn every_device_agrees_with_embedded() {
    let (s0, a0) = on_embedded(|| (spd(2, 6, 31, DType::F32), well(2, 6, 32, DType::F32)));
    let run = |dev: &Device| {
        with_default_device(dev, || {
            let (s, a) = (s0.device_put(dev), a0.device_put(dev));
            let (w, v) = linalg::eigh(&s);
            let (u, sv, _) = linalg::svd(&a, false);
            let outs = [
                linalg::cholesky(&s),
                linalg::solve(&a, &s),
                linalg::qr(&a, QrMode::Reduced).1,
                w,
                // Gauge-free: v vᵀ per eigenvector, |u|.
                (&v * &v),
                u.abs(),
                sv,
                linalg::det(&a),
            ];
            // Jitted too: the routines are eager steps of the program.
            let (c, x) =
                jit(|p: &(Array, Array)| (linalg::cholesky(&p.0), linalg::solve(&p.1, &p.0)))(&(
                    s.clone(),
                    a.clone(),
                ));
            outs.iter().chain([&c, &x]).map(vals).collect::<Vec<_>>()
        })
    };
    let want = run(&registry().device("embedded").unwrap());
    for dev in plugin_devices() {
        let got = run(&dev);
        for (g, w) in got.iter().zip(&want) {
            close_v(g, w, 1e-4);
        }
    }
}

// ---- gradients -------------------------------------------------------------------------

fn weights(shape: &[usize], seed: u64) -> Array {
    rand(shape, seed, DType::F64)
}

fn wsum(x: &Array, seed: u64) -> Array {
    (x * &weights(x.shape(), seed)).sum(Axes::All, false)
}

#[test]
fn gradients_match_finite_differences() {
    on_embedded(|| {
        let a = well(1, 4, 41, DType::F64).squeeze(&[0]);
        let s = spd(1, 4, 42, DType::F64).squeeze(&[0]);
        let r = rand(&[5, 3], 43, DType::F64);
        let w = rand(&[3, 5], 44, DType::F64);
        let b = rand(&[4, 2], 45, DType::F64);
        check_grad("cholesky", |x| wsum(&linalg::cholesky(x), 1), &s);
        check_grad("solve(a)", |x| wsum(&linalg::solve(x, &b), 2), &a);
        check_grad("solve(b)", |x| wsum(&linalg::solve(&a, x), 3), &b);
        check_grad("inv", |x| wsum(&linalg::inv(x), 4), &a);
        check_grad("det", linalg::det, &a);
        check_grad("slogdet", |x| linalg::slogdet(x).1, &a);
        check_grad(
            "lu",
            |x| {
                let (_, l, u) = linalg::lu(x);
                wsum(&l, 5) + wsum(&u, 6)
            },
            &a,
        );
        check_grad(
            "triangular_solve",
            |x| {
                let opts = Triangular {
                    left_side: true,
                    lower: true,
                    ..Default::default()
                };
                wsum(&linalg::triangular_solve(x, &b, opts), 7)
            },
            &a,
        );
        // JAX's QR rule: m >= n, and full matrices only when square.
        for (x, mode) in [(&r, QrMode::Reduced), (&a, QrMode::Complete)] {
            check_grad(
                "qr",
                |x| {
                    let (q, rr) = linalg::qr(x, mode);
                    wsum(&q, 8) + wsum(&rr, 9)
                },
                x,
            );
        }
        // eigh: eigenvalues, and eigenvector functions invariant to sign.
        check_grad(
            "eigh",
            |x| {
                let (w, v) = linalg::eigh(x);
                wsum(&w, 10) + wsum(&(&v * &v), 11)
            },
            &s,
        );
        check_grad("eigvalsh", |x| wsum(&linalg::eigvalsh(x), 12), &s);
        // svd of tall, wide and square inputs (distinct singular values):
        // s, and u/vh entries squared (invariant to the sign of each pair).
        for (x, full) in [(&r, false), (&w, false), (&a, false), (&a, true)] {
            check_grad(
                "svd",
                |x| {
                    let (u, sv, vh) = linalg::svd(x, full);
                    wsum(&sv, 13) + wsum(&(&u * &u), 14) + wsum(&(&vh * &vh), 15)
                },
                x,
            );
        }
        check_grad("svdvals", |x| wsum(&linalg::svdvals(x), 16), &r);
        check_grad("pinv", |x| wsum(&linalg::pinv(x, None), 17), &r);
        let y = rand(&[5], 46, DType::F64);
        check_grad("lstsq", |x| wsum(&linalg::lstsq(x, &y, None).0, 18), &r);
        check_grad(
            "matrix_power",
            |x| wsum(&linalg::matrix_power(x, 3), 19),
            &a,
        );
        check_grad(
            "matrix_power(-1)",
            |x| wsum(&linalg::matrix_power(x, -1), 20),
            &a,
        );
        for ord in [
            NormOrd::Default,
            NormOrd::Nuc,
            NormOrd::P(2.0),
            NormOrd::P(1.0),
        ] {
            check_grad("norm", |x| linalg::norm(x, ord, None, false), &r);
        }
        check_grad(
            "norm(vector)",
            |x| linalg::norm(x, NormOrd::P(3.0), None, false),
            &y,
        );
    });
}

#[test]
fn second_order_through_a_custom_rule() {
    on_embedded(|| {
        // d²/dt² det(a + t b) at 0 (a polynomial in t) by grad(grad).
        let a = well(1, 3, 51, DType::F64).squeeze(&[0]);
        let b = rand(&[3, 3], 52, DType::F64);
        let f = |t: &Array| linalg::det(&(&a + &(&b * t)));
        let h = 1e-4;
        let at = |x: f64| f(&Array::scalar(x)).item::<f64>();
        let want = (at(h) - 2.0 * at(0.0) + at(-h)) / (h * h);
        let got = grad(grad(f))(&Array::scalar(0.0f64)).item::<f64>();
        assert!(
            (got - want).abs() < 1e-5 * (1.0 + want.abs()),
            "{got} vs {want}"
        );
    });
}

// ---- the primitives ---------------------------------------------------------------------

/// How many equations of `f`'s jaxpr name `prim` (as `prim[` or `prim `).
fn equations<X: oxjax::Tree, Y: oxjax::Tree>(f: impl Fn(&X) -> Y, x: &X, prim: &str) -> usize {
    make_jaxpr(f)(x)
        .to_string()
        .lines()
        .filter(|l| l.contains(&format!("= {prim}[")) || l.contains(&format!("= {prim} ")))
        .count()
}

#[test]
fn each_factorisation_is_one_equation() {
    on_embedded(|| {
        let s = spd(2, 4, 61, DType::F32);
        let a = well(2, 4, 62, DType::F32);
        assert_eq!(
            equations(|x: &Array| linalg::cholesky(x), &s, "cholesky"),
            1
        );
        assert_eq!(equations(|x: &Array| linalg::eigh(x), &s, "eigh"), 1);
        assert_eq!(equations(|x: &Array| linalg::svd(x, false), &a, "svd"), 1);
        assert_eq!(equations(|x: &Array| linalg::svdvals(x), &a, "svd"), 1);
        assert_eq!(
            equations(|x: &Array| linalg::qr(x, QrMode::Complete), &a, "qr"),
            1
        );
        assert_eq!(equations(|x: &Array| linalg::lu(x), &a, "lu"), 1);
        // solve: one LU and two triangular solves, however large n is.
        let f = |p: &(Array, Array)| linalg::solve(&p.0, &p.1);
        let ab = (a.clone(), s.clone());
        assert_eq!(equations(f, &ab, "lu"), 1);
        assert_eq!(equations(f, &ab, "triangular_solve"), 2);
        let lines = |n: usize| {
            let ab = (well(2, n, 63, DType::F32), spd(2, n, 64, DType::F32));
            make_jaxpr(f)(&ab).to_string().lines().count()
        };
        assert_eq!(lines(4), lines(32), "the staged solve must not grow with n");
    });
}

/// Each primitive under vmap (batch axis not first, one operand unbatched)
/// against a loop over the batch.
#[test]
fn vmap_of_each_primitive_matches_a_loop() {
    on_embedded(|| {
        let a = well(3, 4, 71, DType::F64).moveaxis(0, 1); // batch on axis 1
        let b = rand(&[4, 2], 72, DType::F64); // unbatched
        let lane = |x: &Array, i: usize| {
            x.moveaxis(1, 0)
                .slice(&[(i as isize..i as isize + 1).into()])
                .squeeze(&[0])
        };
        let stack = |parts: Vec<Array>| {
            let parts: Vec<Array> = parts.iter().map(|p| p.expand_dims(0)).collect();
            let refs: Vec<&Array> = parts.iter().collect();
            Array::concatenate(&refs, 0)
        };
        let each = |f: &dyn Fn(&Array) -> Array| {
            let got = oxjax::vmap_axes(|x: &Array| f(x), vec![Some(1)], vec![Some(0)])(&a);
            let want = stack((0..3).map(|i| f(&lane(&a, i))).collect());
            close(&got, &want, 1e-10);
        };
        let opts = Triangular {
            left_side: true,
            lower: false,
            transpose_a: true,
            unit_diagonal: false,
        };
        each(&|x| linalg::triangular_solve(x, &b, opts));
        each(&|x| linalg::lu_factor(x).0);
        each(&|x| linalg::lu_factor(x).1.astype(DType::F64));
        each(&|x| {
            let (q, r) = linalg::qr(x, QrMode::Complete);
            &q.abs() + &r.abs().sum(0, false)
        });
        each(&|x| linalg::svd(x, false).1);
        each(&|x| {
            let (u, _, vh) = linalg::svd(x, true);
            &u.abs() + &vh.abs()
        });
        each(&|x| linalg::cholesky(&x.matmul(&t(x))));
        each(&|x| {
            let (w, v) = linalg::eigh(&x.matmul(&t(x)));
            &(&v * &v) + &w.expand_dims(0)
        });
    });
}

/// Every triangular_solve mode: values against a dense solve, and the
/// gradient in both operands against finite differences.
#[test]
fn triangular_solve_modes_and_gradients() {
    on_embedded(|| {
        let a = well(1, 4, 81, DType::F64).squeeze(&[0]);
        let b = rand(&[4, 3], 82, DType::F64);
        for lower in [true, false] {
            for transpose_a in [false, true] {
                for unit_diagonal in [false, true] {
                    for left_side in [true, false] {
                        let opts = Triangular {
                            left_side,
                            lower,
                            transpose_a,
                            unit_diagonal,
                        };
                        let rhs = if left_side { b.clone() } else { t(&b) };
                        // Dense reference: op(tri(a)) by masking.
                        let tri = if lower {
                            oxjax::numpy::tril(&a, 0)
                        } else {
                            oxjax::numpy::triu(&a, 0)
                        };
                        let tri = if unit_diagonal {
                            &(&tri * &(1.0 - Array::eye(4, 4, 0, DType::F64)))
                                + &Array::eye(4, 4, 0, DType::F64)
                        } else {
                            tri
                        };
                        let op = if transpose_a { t(&tri) } else { tri };
                        let x = linalg::triangular_solve(&a, &rhs, opts);
                        let back = if left_side {
                            op.matmul(&x)
                        } else {
                            x.matmul(&op)
                        };
                        close(&back, &rhs, 1e-12);
                        let name = format!("triangular_solve {opts:?}");
                        check_grad(
                            &name,
                            |m| wsum(&linalg::triangular_solve(m, &rhs, opts), 90),
                            &a,
                        );
                        check_grad(
                            &name,
                            |r| wsum(&linalg::triangular_solve(&a, r, opts), 91),
                            &rhs,
                        );
                    }
                }
            }
        }
        // The LU rule through lu_factor, and solve in both operands.
        check_grad("lu_factor", |x| wsum(&linalg::lu_factor(x).0, 92), &a);
        check_grad("solve(b)", |r| wsum(&linalg::solve(&a, r), 93), &b);
    });
}

#[test]
fn half_precision_and_escaping_shapes_are_named() {
    on_embedded(|| {
        let h = Array::zeros(&[2, 2], DType::F16);
        let msg = panic_message(|| drop(linalg::cholesky(&h)));
        assert!(
            msg.contains("cholesky") && msg.contains("f32 or f64") && msg.contains("[2, 2]"),
            "{msg}"
        );
        let msg = panic_message(|| drop(linalg::lu(&Array::zeros(&[3], DType::F32))));
        assert!(msg.contains("lu") && msg.contains("[3]"), "{msg}");
        let msg = panic_message(|| {
            let r = rand(&[2, 4], 1, DType::F64);
            drop(grad(|x: &Array| {
                linalg::qr(x, QrMode::Reduced).1.sum(Axes::All, false)
            })(&r));
        });
        assert!(msg.contains("qr") && msg.contains("m >= n"), "{msg}");
    });
}

// ---- misuse ------------------------------------------------------------------------------

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn bad_shapes_are_named() {
    on_embedded(|| {
        let rect = Array::zeros(&[2, 3], DType::F32);
        let sq = Array::zeros(&[3, 3], DType::F32);
        for (name, msg) in [
            ("cholesky", panic_message(|| drop(linalg::cholesky(&rect)))),
            ("eigh", panic_message(|| drop(linalg::eigh(&rect)))),
            ("inv", panic_message(|| drop(linalg::inv(&rect)))),
            ("det", panic_message(|| drop(linalg::det(&rect)))),
            ("slogdet", panic_message(|| drop(linalg::slogdet(&rect)))),
        ] {
            assert!(
                msg.contains(name) && msg.contains("[2, 3]") && msg.contains("square"),
                "{msg}"
            );
        }
        let msg = panic_message(|| drop(linalg::solve(&sq, &Array::zeros(&[2], DType::F32))));
        assert!(
            msg.contains("solve") && msg.contains("[3, 3]") && msg.contains("[2]"),
            "{msg}"
        );
        let msg = panic_message(|| drop(linalg::svd(&Array::zeros(&[3], DType::F32), false)));
        assert!(msg.contains("svd") && msg.contains("[3]"), "{msg}");
        let msg = panic_message(|| {
            drop(linalg::solve(
                &Array::zeros(&[2, 3, 3], DType::F32),
                &Array::zeros(&[4, 3, 1], DType::F32),
            ))
        });
        assert!(msg.contains("batch") && msg.contains("[2, 3, 3]"), "{msg}");
        let msg = panic_message(|| {
            drop(linalg::norm(&sq, NormOrd::P(3.0), None, false));
        });
        assert!(msg.contains("norm") && msg.contains("matrix norm"), "{msg}");
        let msg = panic_message(|| {
            let opts = Triangular {
                left_side: true,
                ..Default::default()
            };
            drop(linalg::triangular_solve(&sq, &rect, opts));
        });
        assert!(
            msg.contains("triangular_solve") && msg.contains("[2, 3]"),
            "{msg}"
        );
        let msg = panic_message(|| {
            let r = Array::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 7.0], &[3, 2]);
            drop(grad(|x: &Array| {
                linalg::svd(x, true).0.sum(Axes::All, false)
            })(&r));
        });
        assert!(msg.contains("full_matrices"), "{msg}");
    });
}

/// The array-API names: multi_dot against left-to-right products,
/// vector_norm over several axes against a flat norm, cond of a diagonal
/// matrix, tensorsolve/tensorinv round trips.
#[test]
fn array_api_names_agree_with_their_definitions() {
    let reg = oxjax::Registry::embedded();
    oxjax::with_default_device(&reg.default_device(), || {
        let m = |r: usize, c: usize, s: f64| {
            let v: Vec<f64> = (0..r * c).map(|i| ((i as f64 + s) * 0.7).sin()).collect();
            Array::from_vec(v, &[r, c])
        };
        let (a, b, c, d) = (m(3, 7, 0.1), m(7, 2, 0.2), m(2, 5, 0.3), m(5, 4, 0.4));
        let want = a.matmul(&b).matmul(&c).matmul(&d).to_vec::<f64>();
        let got = linalg::multi_dot(&[&a, &b, &c, &d]).to_vec::<f64>();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12, "multi_dot {g} vs {w}");
        }
        let x = m(6, 4, 0.5).reshape(&[2, 3, 4]);
        let n = linalg::vector_norm(&x, linalg::NormOrd::Default, Some(&[0, 2]), false);
        let manual = (&x * &x).sum(vec![0, 2], false).sqrt().to_vec::<f64>();
        assert_eq!(n.shape(), &[3]);
        for (g, w) in n.to_vec::<f64>().iter().zip(&manual) {
            assert!((g - w).abs() < 1e-12);
        }
        let diag = Array::from_vec(
            vec![3.0f64, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 1.0],
            &[3, 3],
        );
        assert!((linalg::cond(&diag).item::<f64>() - 6.0).abs() < 1e-10);
        let t = m(6, 6, 0.9) + Array::eye(6, 6, 0, DType::F64) * 3.0;
        let tens = t.reshape(&[2, 3, 2, 3]);
        let rhs = m(2, 3, 1.1);
        let sol = linalg::tensorsolve(&tens, &rhs);
        let back = t
            .matmul(&sol.reshape(&[6, 1]))
            .reshape(&[2, 3])
            .to_vec::<f64>();
        for (g, w) in back.iter().zip(rhs.to_vec::<f64>()) {
            assert!((g - w).abs() < 1e-10, "tensorsolve");
        }
        let tinv = linalg::tensorinv(&tens, 2).reshape(&[6, 6]);
        let eye = t.matmul(&tinv).to_vec::<f64>();
        for (i, v) in eye.iter().enumerate() {
            let w = if i % 7 == 0 { 1.0 } else { 0.0 };
            assert!((v - w).abs() < 1e-10, "tensorinv");
        }
    });
}
