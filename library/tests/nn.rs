//! `oxjax::nn` at the edges: no overflow or NaN for extreme inputs, finite
//! gradients where a naive formula would give NaN, masking, out-of-range
//! classes, and the same results under `jit` on every device. Known values
//! and finite-difference gradients are in tests/numpy.rs (fixtures from
//! jax.nn).

use oxjax::{Array, Axes, DType, grad, jit, nn, with_default_device};
mod common;
use common::{on_embedded, plugin_devices};

fn v64(x: &Array) -> Vec<f64> {
    x.to_vec::<f64>()
}

#[test]
fn extreme_inputs_stay_finite() {
    on_embedded(|| {
        let x = Array::from_vec(vec![1e4f64, 0.0, -1e4], &[3]);
        assert_eq!(v64(&nn::softmax(&x, -1)), vec![1.0, 0.0, 0.0]);
        assert_eq!(v64(&nn::log_softmax(&x, -1)), vec![0.0, -1e4, -2e4]);
        assert_eq!(nn::logsumexp(&x, Axes::All, false, None).item::<f64>(), 1e4);
        assert_eq!(v64(&nn::sigmoid(&x)), vec![1.0, 0.5, 0.0]);
        assert_eq!(
            v64(&nn::softplus(&x)),
            vec![1e4, std::f64::consts::LN_2, 0.0]
        );
        assert_eq!(
            v64(&nn::log_sigmoid(&x)),
            vec![0.0, -std::f64::consts::LN_2, -1e4]
        );
        assert_eq!(v64(&nn::elu(&x, 1.0)), vec![1e4, 0.0, -1.0]);
        // A row of -inf has logsumexp -inf (no NaN from inf - inf).
        let ninf = Array::full(&[2], f64::NEG_INFINITY);
        assert_eq!(
            nn::logsumexp(&ninf, Axes::All, false, None).item::<f64>(),
            f64::NEG_INFINITY
        );
        // b = 0 masks a term out.
        let b = Array::from_vec(vec![1.0f64, 0.0, 1.0], &[3]);
        let y = nn::logsumexp(
            &Array::from_vec(vec![0.0f64, 50.0, 0.0], &[3]),
            Axes::All,
            false,
            Some(&b),
        );
        assert!((y.item::<f64>() - std::f64::consts::LN_2).abs() < 1e-12);
    });
}

#[test]
fn gradients_finite_where_naive_formulas_fail() {
    on_embedded(|| {
        let x = Array::from_vec(vec![-800.0f64, -30.0, 30.0, 800.0], &[4]);
        let sum = |f: fn(&Array) -> Array| move |x: &Array| f(x).sum(Axes::All, false);
        // sigmoid' = s (1 - s), softplus' = sigmoid.
        let s: Vec<f64> = v64(&x).iter().map(|&t| 1.0 / (1.0 + (-t).exp())).collect();
        let gs = v64(&grad(sum(nn::sigmoid))(&x));
        for (g, s) in gs.iter().zip(&s) {
            assert!((g - s * (1.0 - s)).abs() < 1e-12, "{gs:?}");
        }
        let gp = v64(&grad(sum(nn::softplus))(&x));
        for (g, s) in gp.iter().zip(&s) {
            assert!((g - s).abs() < 1e-12, "{gp:?}");
        }
        // elu evaluates expm1 only on the clamped branch: no inf * 0.
        let ge = v64(&grad(sum(|x| nn::elu(x, 1.0)))(&x));
        assert!(ge.iter().all(|g| g.is_finite()), "{ge:?}");
        assert_eq!(ge[3], 1.0);
        // softmax's shift is a constant for differentiation: rows sum to 1,
        // so the gradient of the sum is zero.
        let g = v64(&grad(|x: &Array| nn::softmax(x, -1).sum(Axes::All, false))(
            &x,
        ));
        assert!(g.iter().all(|g| g.abs() < 1e-12), "{g:?}");
        let sinc0 = grad(|x: &Array| oxjax::numpy::sinc(x).sum(Axes::All, false))(&Array::zeros(
            &[1],
            DType::F64,
        ));
        assert_eq!(v64(&sinc0), vec![0.0]);
    });
}

#[test]
fn one_hot_and_masks() {
    on_embedded(|| {
        let i = Array::from_vec(vec![-1i32, 0, 3, 2], &[2, 2]);
        let h = nn::one_hot(&i, 3, DType::I32);
        assert_eq!(h.shape(), &[2, 2, 3]);
        assert_eq!(h.to_vec::<i32>(), vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        // A fully masked row attends uniformly (as JAX), no NaN.
        let q = Array::ones(&[1, 2, 1, 2], DType::F64);
        let v = Array::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[1, 2, 1, 2]);
        let mask = Array::from_vec(vec![false, false, true, true], &[1, 1, 2, 2]);
        let o = nn::dot_product_attention(&q, &q, &v, None, Some(&mask), None, false);
        assert_eq!(v64(&o), vec![2.0, 3.0, 2.0, 3.0]);
        let b = Array::from_vec(vec![0.0f64, -1e9, 0.0, 0.0], &[1, 1, 2, 2]);
        let o = nn::dot_product_attention(&q, &q, &v, Some(&b), None, None, false);
        assert_eq!(v64(&o), vec![1.0, 2.0, 2.0, 3.0]);
    });
}

/// A small network block under `jit` on every device matches eager on the
/// embedded device.
#[test]
fn jit_block_on_every_device() {
    let xs: Vec<f32> = (0..24).map(|i| ((i as f32) * 0.37).sin() * 3.0).collect();
    let block = |x: &Array| {
        let h = nn::gelu(&nn::standardize(x, -1, None, None, 1e-5), false);
        let p = nn::log_softmax(&(nn::silu(&h) + nn::softplus(&h)), -1);
        (p, nn::logsumexp(&h, -1, false, None))
    };
    let (want_p, want_l) = on_embedded(|| {
        let (p, l) = block(&Array::from_vec(xs.clone(), &[4, 6]));
        (p.to_vec::<f32>(), l.to_vec::<f32>())
    });
    for dev in plugin_devices() {
        with_default_device(&dev, || {
            let x = Array::from_vec(xs.clone(), &[4, 6]);
            let (p, l) = jit(block)(&x);
            for (a, b) in p
                .to_vec::<f32>()
                .iter()
                .zip(&want_p)
                .chain(l.to_vec::<f32>().iter().zip(&want_l))
            {
                assert!(
                    (a - b).abs() < 1e-4 * (1.0 + b.abs()),
                    "{}: {a} vs {b}",
                    dev.name()
                );
            }
        });
    }
}

/// Pooling over NHWC against loops over each window (SAME padding, strides,
/// averages with and without the padded positions, gradients through max).
#[test]
fn pooling_matches_loops() {
    use oxjax::lax::Padding;
    on_embedded(|| {
        let (n, h, w, c) = (2, 5, 4, 3);
        let xv: Vec<f64> = (0..n * h * w * c)
            .map(|i| ((i * 37 % 101) as f64 * 0.13).sin())
            .collect();
        let x = Array::from_vec(xv.clone(), &[n, h, w, c]);
        let (kh, kw, sh, sw) = (3, 2, 2, 1);
        // SAME: out = ceil(in / stride), padding split low-first.
        let (oh, ow) = (h.div_ceil(sh), w.div_ceil(sw));
        let pad = |i: usize, k: usize, s: usize, o: usize| {
            (((o - 1) * s + k).saturating_sub(i) / 2) as isize
        };
        let (ph, pw) = (pad(h, kh, sh, oh), pad(w, kw, sw, ow));
        let mut mx = vec![];
        let (mut avg_in, mut avg_ex) = (vec![], vec![]);
        for b in 0..n {
            for i in 0..oh {
                for j in 0..ow {
                    for f in 0..c {
                        let (mut m, mut s, mut cnt) = (f64::NEG_INFINITY, 0.0, 0.0);
                        for di in 0..kh {
                            for dj in 0..kw {
                                let (y, z) =
                                    ((i * sh + di) as isize - ph, (j * sw + dj) as isize - pw);
                                if y < 0 || z < 0 || y >= h as isize || z >= w as isize {
                                    continue;
                                }
                                let v = xv[((b * h + y as usize) * w + z as usize) * c + f];
                                m = m.max(v);
                                s += v;
                                cnt += 1.0;
                            }
                        }
                        mx.push(m);
                        avg_in.push(s / (kh * kw) as f64);
                        avg_ex.push(s / cnt);
                    }
                }
            }
        }
        let same = Padding::Same;
        let got = nn::max_pool(&x, &[kh, kw], Some(&[sh, sw]), &same);
        assert_eq!(got.shape(), &[n, oh, ow, c]);
        assert_eq!(v64(&got), mx);
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(
            &v64(&nn::avg_pool(&x, &[kh, kw], Some(&[sh, sw]), &same, true)),
            &avg_in
        ));
        assert!(close(
            &v64(&nn::avg_pool(&x, &[kh, kw], Some(&[sh, sw]), &same, false)),
            &avg_ex
        ));
        // Max pooling sends each window's gradient to its maximum.
        let g = grad(|x: &Array| {
            nn::max_pool(x, &[kh, kw], Some(&[sh, sw]), &same).sum(Axes::All, false)
        })(&x);
        let total: f64 = v64(&g).iter().sum();
        assert_eq!(total, (n * oh * ow * c) as f64);
    });
}

/// JAX's defaults and `one_hot(axis=)`: `one_hot(x, n)` is f32 with the
/// new axis last; `axis=k` puts it at `k` of the result (checked against
/// the definition `out[.., c at k, ..] = (x[..] == c)`); `take` accepts a
/// bare axis; `randint` defaults to i32 and draws what the explicit form
/// draws.
#[test]
fn jax_defaults_for_one_hot_take_randint() {
    on_embedded(|| {
        let x = Array::from_vec(vec![0i32, 2, 1, 3, -1, 2], &[2, 3]);
        let n = 3usize;
        let last = nn::one_hot(&x, n, None);
        assert_eq!(last.dtype(), DType::F32);
        assert_eq!(last.shape(), &[2, 3, 3]);
        let xs = x.to_vec::<i32>();
        for axis in [0isize, 1, 2, -1, -3] {
            let h = nn::one_hot_axis(&x, n, DType::I32, axis);
            let k = axis.rem_euclid(3) as usize;
            let mut shape = vec![2, 3];
            shape.insert(k, n);
            assert_eq!(h.shape(), shape.as_slice(), "axis {axis}");
            let hv = h.to_vec::<i32>();
            // Walk the result's indices; remove the class axis to find x.
            for (flat, &got) in hv.iter().enumerate() {
                let idx = [
                    flat / (shape[1] * shape[2]),
                    flat / shape[2] % shape[1],
                    flat % shape[2],
                ];
                let c = idx[k] as i32;
                let rest: Vec<usize> = (0..3).filter(|&d| d != k).map(|d| idx[d]).collect();
                let want = (xs[rest[0] * 3 + rest[1]] == c) as i32;
                assert_eq!(got, want, "axis {axis} at {idx:?}");
            }
        }
        let e = std::panic::catch_unwind(|| nn::one_hot_axis(&x, n, None, 3))
            .expect_err("axis 3 of a rank-3 result");
        let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("one_hot"), "{msg}");
        // take: a bare axis is Some(axis); None flattens.
        let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let i = Array::from_vec(vec![2i32, 0], &[2]);
        let t1 = oxjax::numpy::take(&a, &i, 1);
        assert_eq!(
            t1.to_vec::<f32>(),
            oxjax::numpy::take(&a, &i, Some(1)).to_vec::<f32>()
        );
        assert_eq!(t1.to_vec::<f32>(), vec![3.0, 1.0, 6.0, 4.0]);
        assert_eq!(
            oxjax::numpy::take(&a, &i, None).to_vec::<f32>(),
            vec![3.0, 1.0]
        );
        // randint: i32 by default, the same draws as the explicit dtype.
        let k = oxjax::random::key(5);
        let d = oxjax::random::randint(&k, &[16], -3, 9, None);
        assert_eq!(d.dtype(), DType::I32);
        assert_eq!(
            d.to_vec::<i32>(),
            oxjax::random::randint(&k, &[16], -3, 9, DType::I32).to_vec::<i32>()
        );
    });
}
