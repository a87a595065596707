//! `lax::conv_general_dilated`, `reduce_window` and `dot_general` against
//! direct nested-loop reference implementations (strides, padding,
//! dilations, feature groups, layouts), plus gradients against finite
//! differences, vmap against a loop, jit against eager, and every device.

use oxjax::lax::{self, ConvDimensionNumbers, Padding, WindowReduction};
use oxjax::{Array, DType, grad, jit, vmap, with_default_device};
mod common;
use common::{close, fd_grad, on_embedded, plugin_devices};

fn data(n: usize, seed: f64) -> Vec<f64> {
    (0..n).map(|i| ((i as f64 + seed) * 0.731).sin()).collect()
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Every multi-index of a shape, row-major.
fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|mut f| {
            let mut idx = vec![0; shape.len()];
            for d in (0..shape.len()).rev() {
                idx[d] = f % shape[d];
                f /= shape[d];
            }
            idx
        })
        .collect()
}

struct ConvCase {
    lhs: Vec<usize>, // N, C, spatial...
    rhs: Vec<usize>, // O, I, spatial...
    strides: Vec<usize>,
    padding: Padding,
    lhs_dil: Vec<usize>,
    rhs_dil: Vec<usize>,
    groups: usize,
    batch_groups: usize,
}

/// `(low, high)` per spatial axis, computed independently of the library.
fn pads(c: &ConvCase) -> Vec<(isize, isize)> {
    let n = c.lhs.len() - 2;
    (0..n)
        .map(|d| {
            let (size, k, s) = (c.lhs[2 + d], c.rhs[2 + d], c.strides[d]);
            let eff = (k - 1) * c.rhs_dil[d] + 1;
            match &c.padding {
                Padding::Valid => (0, 0),
                Padding::Explicit(p) => p[d],
                Padding::Same | Padding::SameLower => {
                    let out = size.div_ceil(s);
                    let total = ((out - 1) * s + eff).saturating_sub(size) as isize;
                    if c.padding == Padding::Same {
                        (total / 2, total - total / 2)
                    } else {
                        (total - total / 2, total / 2)
                    }
                }
            }
        })
        .collect()
}

/// The convolution by its definition: every output element a sum over
/// input features of the group and kernel positions.
#[allow(clippy::needless_range_loop)] // index arithmetic reads best with indices
fn reference(c: &ConvCase, x: &[f64], w: &[f64]) -> (Vec<usize>, Vec<f64>) {
    let n = c.lhs.len() - 2;
    let p = pads(c);
    let (batch, feat) = (c.lhs[0], c.lhs[1]);
    let (o, i) = (c.rhs[0], c.rhs[1]);
    let og = o / c.groups;
    let ob = o / c.batch_groups;
    let mut out_shape = vec![batch / c.batch_groups, o];
    for d in 0..n {
        let dil = (c.lhs[2 + d] - 1) * c.lhs_dil[d] + 1;
        let padded = dil as isize + p[d].0 + p[d].1;
        let eff = ((c.rhs[2 + d] - 1) * c.rhs_dil[d] + 1) as isize;
        out_shape.push(if padded >= eff {
            ((padded - eff) / c.strides[d] as isize + 1) as usize
        } else {
            0
        });
    }
    let (xs, ws) = (strides(&c.lhs), strides(&c.rhs));
    let mut out = Vec::new();
    for idx in indices(&out_shape) {
        let (b, oc) = (idx[0], idx[1]);
        let g = oc / og;
        // Batch groups: output feature group k reads the k-th batch slice.
        let b = (oc / ob) * (batch / c.batch_groups) + b;
        let mut acc = 0.0;
        for ic in 0..i {
            let cin = g * i + ic;
            assert!(cin < feat);
            'k: for k in indices(&c.rhs[2..]) {
                let mut xoff = b * xs[0] + cin * xs[1];
                for d in 0..n {
                    let q = (idx[2 + d] * c.strides[d] + k[d] * c.rhs_dil[d]) as isize - p[d].0;
                    let ld = c.lhs_dil[d] as isize;
                    if q < 0 || q % ld != 0 || q / ld >= c.lhs[2 + d] as isize {
                        continue 'k;
                    }
                    xoff += (q / ld) as usize * xs[2 + d];
                }
                let mut woff = oc * ws[0] + ic * ws[1];
                for d in 0..n {
                    woff += k[d] * ws[2 + d];
                }
                acc += x[xoff] * w[woff];
            }
        }
        out.push(acc);
    }
    (out_shape, out)
}

/// (lhs shape, rhs shape, strides, padding, lhs dilation, rhs dilation,
/// feature groups, batch groups).
type CaseRow<'a> = (
    &'a [usize],
    &'a [usize],
    &'a [usize],
    Padding,
    &'a [usize],
    &'a [usize],
    usize,
    usize,
);

#[rustfmt::skip]
fn cases() -> Vec<ConvCase> {
    let rows: Vec<CaseRow> = vec![
        (&[2, 3, 7], &[4, 3, 3], &[1], Padding::Valid, &[1], &[1], 1, 1),
        (&[1, 2, 9], &[2, 2, 4], &[2], Padding::Same, &[1], &[1], 1, 1),
        (&[1, 2, 8], &[3, 2, 3], &[3], Padding::SameLower, &[1], &[2], 1, 1),
        (&[2, 2, 5, 6], &[3, 2, 3, 2], &[1, 1], Padding::Valid, &[1, 1], &[1, 1], 1, 1),
        (&[1, 3, 7, 6], &[2, 3, 3, 3], &[2, 1], Padding::Same, &[1, 1], &[1, 2], 1, 1),
        (&[1, 2, 4, 5], &[2, 2, 3, 3], &[1, 2], Padding::Explicit(vec![(2, 1), (-1, 2)]), &[2, 1], &[1, 1], 1, 1),
        (&[2, 4, 5, 5], &[6, 2, 3, 3], &[1, 1], Padding::Same, &[1, 1], &[1, 1], 2, 1),
        (&[1, 3, 6, 5], &[3, 1, 2, 2], &[2, 2], Padding::Explicit(vec![(1, 1), (0, 1)]), &[1, 1], &[2, 1], 3, 1),
        (&[1, 2, 3, 4, 3], &[2, 2, 2, 3, 2], &[1, 2, 1], Padding::Same, &[1, 1, 2], &[1, 1, 1], 1, 1),
        (&[1, 1, 3, 3], &[1, 1, 3, 3], &[1, 1], Padding::Explicit(vec![(2, 2), (2, 2)]), &[2, 2], &[1, 1], 1, 1),
        (&[4, 2, 5, 4], &[6, 2, 2, 3], &[1, 1], Padding::Same, &[1, 1], &[1, 1], 1, 2),
        (&[6, 3, 7], &[3, 3, 3], &[2], Padding::Valid, &[1], &[2], 1, 3),
    ];
    rows.into_iter()
        .map(|(lhs, rhs, strides, padding, ld, rd, groups, batch_groups)| ConvCase {
            lhs: lhs.to_vec(),
            rhs: rhs.to_vec(),
            strides: strides.to_vec(),
            padding,
            lhs_dil: ld.to_vec(),
            rhs_dil: rd.to_vec(),
            groups,
            batch_groups,
        })
        .collect()
}

fn run(c: &ConvCase, x: &Array, w: &Array) -> Array {
    lax::conv_general_dilated(
        x,
        w,
        &c.strides,
        &c.padding,
        Some(&c.lhs_dil),
        Some(&c.rhs_dil),
        None,
        c.groups,
        c.batch_groups,
    )
}

#[test]
fn conv_matches_nested_loops() {
    on_embedded(|| {
        for (k, c) in cases().iter().enumerate() {
            let xv = data(c.lhs.iter().product(), k as f64);
            let wv = data(c.rhs.iter().product(), 10.0 + k as f64);
            let (shape, want) = reference(c, &xv, &wv);
            let got = run(
                c,
                &Array::from_vec(xv, &c.lhs),
                &Array::from_vec(wv, &c.rhs),
            );
            assert_eq!(got.shape(), shape.as_slice(), "case {k}");
            close(&got.to_vec::<f64>(), &want, 1e-12).unwrap_or_else(|e| panic!("case {k}: {e}"));
        }
    });
}

/// NHWC / HWIO / NHWC layouts give the canonical result, transposed.
#[test]
fn conv_dimension_numbers() {
    on_embedded(|| {
        let c = &cases()[4];
        let xv = data(c.lhs.iter().product(), 1.0);
        let wv = data(c.rhs.iter().product(), 2.0);
        let (x, w) = (Array::from_vec(xv, &c.lhs), Array::from_vec(wv, &c.rhs));
        let want = run(c, &x, &w).transpose(&[0, 2, 3, 1]);
        let dn = ConvDimensionNumbers::from_strings("NHWC", "HWIO", "NHWC");
        let got = lax::conv_general_dilated(
            &x.transpose(&[0, 2, 3, 1]),
            &w.transpose(&[2, 3, 1, 0]),
            &c.strides,
            &c.padding,
            None,
            Some(&c.rhs_dil),
            Some(&dn),
            1,
            1,
        );
        assert_eq!(got.shape(), want.shape());
        close(&got.to_vec::<f64>(), &want.to_vec::<f64>(), 1e-12).unwrap();
        // Channels-first input, channels-last output.
        let dn = ConvDimensionNumbers::from_strings("NCHW", "OIHW", "NHWC");
        let got = lax::conv_general_dilated(
            &x,
            &w,
            &c.strides,
            &c.padding,
            None,
            Some(&c.rhs_dil),
            Some(&dn),
            1,
            1,
        );
        close(&got.to_vec::<f64>(), &want.to_vec::<f64>(), 1e-12).unwrap();
    });
}

/// Directions that mix every coordinate (a wrong gradient component
/// changes the directional derivative along almost every direction).
fn directions(n: usize) -> Vec<Vec<f64>> {
    (0..3)
        .map(|d| {
            (0..n)
                .map(|i| ((i * 7 + d * 13) as f64 * 0.917).cos())
                .collect()
        })
        .collect()
}

/// The gradient's directional derivatives along [`directions`].
fn directional(g: &Array, x: &Array) -> Vec<f64> {
    let g = g.to_vec::<f64>();
    directions(x.size())
        .iter()
        .map(|v| v.iter().zip(&g).map(|(a, b)| a * b).sum())
        .collect()
}

/// Central differences along [`directions`]: two evaluations each, so
/// large convolutions stay fast.
fn fd_directional(f: &dyn Fn(&Array) -> Array, x: &Array) -> Vec<f64> {
    let base = x.to_vec::<f64>();
    let h = 1e-6;
    directions(x.size())
        .iter()
        .map(|v| {
            let p: Vec<f64> = base.iter().zip(v).map(|(a, d)| a + h * d).collect();
            let m: Vec<f64> = base.iter().zip(v).map(|(a, d)| a - h * d).collect();
            let fp = f(&Array::from_vec(p, x.shape())).item::<f64>();
            let fm = f(&Array::from_vec(m, x.shape())).item::<f64>();
            (fp - fm) / (2.0 * h)
        })
        .collect()
}

/// Gradients with respect to input and kernel, for strided, padded,
/// dilated, feature- and batch-grouped cases (directional derivatives
/// against central differences).
#[test]
fn conv_grads_match_finite_differences() {
    on_embedded(|| {
        for k in [1, 2, 4, 5, 7, 10, 11] {
            let c = &cases()[k];
            let x = Array::from_vec(data(c.lhs.iter().product(), 3.0), &c.lhs);
            let w = Array::from_vec(data(c.rhs.iter().product(), 4.0), &c.rhs);
            let weight = |y: &Array| y.sin().sum(oxjax::Axes::All, false);
            let fx = |x: &Array| weight(&run(c, x, &w));
            let fw = |w: &Array| weight(&run(c, &x, w));
            close(
                &directional(&grad(fx)(&x), &x),
                &fd_directional(&fx, &x),
                1e-6,
            )
            .unwrap_or_else(|e| panic!("case {k} d/dx: {e}"));
            close(
                &directional(&grad(fw)(&w), &w),
                &fd_directional(&fw, &w),
                1e-6,
            )
            .unwrap_or_else(|e| panic!("case {k} d/dw: {e}"));
        }
    });
}

#[test]
fn conv_vmap_and_jit() {
    on_embedded(|| {
        let c = &cases()[6];
        let xs = Array::from_vec(
            data(3 * c.lhs.iter().product::<usize>(), 5.0),
            &[&[3][..], &c.lhs].concat(),
        );
        let w = Array::from_vec(data(c.rhs.iter().product(), 6.0), &c.rhs);
        let f = |x: &Array| run(c, x, &w);
        let batched = vmap(f)(&xs);
        let compiled = jit(f);
        for b in 0..3 {
            let x = xs.slice(&[(b..b + 1).into()]).squeeze(&[0]);
            let one = f(&x);
            let got = batched.slice(&[(b..b + 1).into()]).squeeze(&[0]);
            close(&got.to_vec::<f64>(), &one.to_vec::<f64>(), 1e-12).unwrap();
            close(&compiled(&x).to_vec::<f64>(), &one.to_vec::<f64>(), 1e-12).unwrap();
        }
    });
}

/// The reduction of every window by its definition (NaN-free input).
#[allow(clippy::needless_range_loop)]
fn window_reference(
    shape: &[usize],
    x: &[f64],
    win: &[usize],
    st: &[usize],
    p: &[(isize, isize)],
    max: bool,
) -> (Vec<usize>, Vec<f64>) {
    let out_shape: Vec<usize> = (0..shape.len())
        .map(|d| {
            ((shape[d] as isize + p[d].0 + p[d].1 - win[d] as isize) / st[d] as isize + 1) as usize
        })
        .collect();
    let xs = strides(shape);
    let out = indices(&out_shape)
        .iter()
        .map(|o| {
            let mut acc = if max { f64::NEG_INFINITY } else { 0.0 };
            'k: for k in indices(win) {
                let mut off = 0;
                for d in 0..shape.len() {
                    let q = (o[d] * st[d] + k[d]) as isize - p[d].0;
                    if q < 0 || q >= shape[d] as isize {
                        continue 'k;
                    }
                    off += q as usize * xs[d];
                }
                acc = if max { acc.max(x[off]) } else { acc + x[off] };
            }
            acc
        })
        .collect();
    (out_shape, out)
}

#[test]
fn reduce_window_matches_loops() {
    on_embedded(|| {
        let shape = [2, 5, 6];
        let xv = data(60, 7.0);
        let x = Array::from_vec(xv.clone(), &shape);
        for (win, st, pad) in [
            ([1, 2, 2], [1, 2, 2], Padding::Valid),
            ([1, 3, 3], [1, 2, 1], Padding::Same),
            (
                [2, 2, 3],
                [1, 1, 2],
                Padding::Explicit(vec![(0, 1), (1, 1), (2, 0)]),
            ),
        ] {
            let p = lax::padtype_to_pads(&shape, &win, &st, &pad);
            for (op, max) in [(WindowReduction::Max, true), (WindowReduction::Sum, false)] {
                let (s, want) = window_reference(&shape, &xv, &win, &st, &p, max);
                let got = lax::reduce_window(&x, op, &win, &st, &pad, None, None);
                assert_eq!(got.shape(), s.as_slice());
                close(&got.to_vec::<f64>(), &want, 1e-12)
                    .unwrap_or_else(|e| panic!("{op:?} {win:?} {pad:?}: {e}"));
            }
        }
        // Average pooling's gradient spreads evenly; max pooling's picks the maximum.
        let f = |x: &Array| {
            lax::reduce_window(
                x,
                WindowReduction::Max,
                &[1, 2, 3],
                &[1, 2, 3],
                &Padding::Valid,
                None,
                None,
            )
            .sum(oxjax::Axes::All, false)
        };
        close(&grad(f)(&x).to_vec::<f64>(), &fd_grad(&f, &x), 1e-6).unwrap();
    });
}

#[test]
fn dot_general_matches_loops() {
    on_embedded(|| {
        // lhs [b=2, i=3, k=4], rhs [k=4, b=2, j=5]: batch b, contract k.
        let (a, bv) = (data(24, 1.0), data(40, 2.0));
        let lhs = Array::from_vec(a.clone(), &[2, 3, 4]);
        let rhs = Array::from_vec(bv.clone(), &[4, 2, 5]);
        let got = lax::dot_general(&lhs, &rhs, (&[2], &[0]), (&[0], &[1]));
        assert_eq!(got.shape(), &[2, 3, 5]);
        let mut want = Vec::new();
        for b in 0..2 {
            for i in 0..3 {
                for j in 0..5 {
                    want.push(
                        (0..4)
                            .map(|k| a[b * 12 + i * 4 + k] * bv[k * 10 + b * 5 + j])
                            .sum(),
                    );
                }
            }
        }
        close(&got.to_vec::<f64>(), &want, 1e-12).unwrap();
        // No contraction: an outer product with a batch axis.
        let got = lax::dot_general(&lhs, &lhs, (&[], &[]), (&[0], &[0]));
        assert_eq!(got.shape(), &[2, 3, 4, 3, 4]);
    });
}

/// Each convolution case in f32 on every plugin device, against the f64 reference.
#[test]
fn conv_on_every_device() {
    for dev in plugin_devices() {
        with_default_device(&dev, || {
            for (k, c) in cases().iter().enumerate() {
                let xv = data(c.lhs.iter().product(), k as f64);
                let wv = data(c.rhs.iter().product(), 10.0 + k as f64);
                let (_, want) = reference(c, &xv, &wv);
                let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
                let got = run(
                    c,
                    &Array::from_vec(f32s(&xv), &c.lhs),
                    &Array::from_vec(f32s(&wv), &c.rhs),
                );
                assert_eq!(got.dtype(), DType::F32);
                let got: Vec<f64> = got.to_vec::<f32>().into_iter().map(f64::from).collect();
                close(&got, &want, 1e-4).unwrap_or_else(|e| panic!("{} case {k}: {e}", dev.name()));
            }
        });
    }
}

#[test]
fn conv_misuse_messages() {
    let x = Array::zeros(&[1, 4, 5, 5], DType::F32);
    let w = Array::zeros(&[6, 3, 3, 3], DType::F32);
    let e = lax::try_conv_general_dilated(&x, &w, &[1, 1], &Padding::Valid, None, None, None, 2, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv_general_dilated: lhs [1, 4, 5, 5] (4 features) and rhs [6, 3, 3, 3] (6 out, 3 in features) do not fit feature_group_count 2"), "{e}");
    let e = lax::try_conv_general_dilated(
        &x,
        &w.slice(&[(0..4).into(), (0..2).into()]),
        &[1],
        &Padding::Valid,
        None,
        None,
        None,
        2,
        1,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("window_strides [1] needs 2 entries"), "{e}");
    let w4 = Array::zeros(&[6, 4, 3, 3], DType::F32);
    let e =
        lax::try_conv_general_dilated(&x, &w4, &[1, 1], &Padding::Valid, None, None, None, 1, 4)
            .unwrap_err()
            .to_string();
    assert!(e.contains("do not fit batch_group_count 4"), "{e}");
}

/// `conv_transpose(g, w, transpose_kernel)` is the input gradient of a
/// strided VALID convolution, as in JAX.
#[test]
fn conv_transpose_is_the_conv_gradient() {
    on_embedded(|| {
        for (lhs, rhs, s) in [
            ([1, 2, 7], [3, 2, 3], 2),
            ([2, 3, 9], [2, 3, 3], 3),
            ([1, 1, 6], [1, 1, 2], 2),
        ] {
            let x = Array::from_vec(data(lhs.iter().product(), 1.0), &lhs);
            let w = Array::from_vec(data(rhs.iter().product(), 2.0), &rhs);
            let f = |x: &Array| lax::conv(x, &w, &[s], &Padding::Valid);
            let (y, pullback) = oxjax::vjp(f, &x);
            let g = Array::from_vec(data(y.size(), 3.0), y.shape());
            let want = pullback(&g);
            let nch = ConvDimensionNumbers::default_for(1);
            let got = lax::conv_transpose(&g, &w, &[s], &Padding::Valid, None, Some(&nch), true);
            assert_eq!(got.shape(), want.shape(), "{lhs:?} {rhs:?} stride {s}");
            close(&got.to_vec::<f64>(), &want.to_vec::<f64>(), 1e-12).unwrap();
        }
    });
}

/// Patches times the flattened kernel is the convolution.
#[test]
fn patches_times_kernel_is_conv() {
    on_embedded(|| {
        let c = &cases()[4];
        let x = Array::from_vec(data(c.lhs.iter().product(), 1.0), &c.lhs);
        let w = Array::from_vec(data(c.rhs.iter().product(), 2.0), &c.rhs);
        let p = lax::conv_general_dilated_patches(
            &x,
            &c.rhs[2..],
            &c.strides,
            &c.padding,
            None,
            Some(&c.rhs_dil),
            None,
        );
        let y = oxjax::numpy::einsum("npxy,op->noxy", &[&p, &w.reshape(&[c.rhs[0] as isize, -1])]);
        close(&y.to_vec::<f64>(), &run(c, &x, &w).to_vec::<f64>(), 1e-12).unwrap();
        assert_eq!(
            lax::conv_shape_tuple(&c.lhs, &c.rhs, &c.strides, &Padding::Valid),
            vec![1, 2, 3, 4]
        );
    });
}

/// `xs[b]` of a stacked array.
fn lane(xs: &Array, b: usize) -> Array {
    let b = b as isize;
    xs.slice(&[(b..b + 1).into()]).squeeze(&[0])
}

/// vmap over the kernel only and over both operands (plain, strided and
/// dilated, feature- and batch-grouped): the batching rule folds the
/// mapped axis into the batch or a group dimension; compared with a loop.
#[test]
fn conv_vmap_kernel_and_both_match_a_loop() {
    on_embedded(|| {
        for k in [0, 4, 5, 6, 7, 10, 11] {
            let c = &cases()[k];
            let stack = |s: &[usize], seed| {
                Array::from_vec(
                    data(3 * s.iter().product::<usize>(), seed),
                    &[&[3][..], s].concat(),
                )
            };
            let (xs, ws) = (stack(&c.lhs, 1.0), stack(&c.rhs, 2.0));
            let x0 = lane(&xs, 0);
            let by_kernel = vmap(|w: &Array| run(c, &x0, w))(&ws);
            let both = vmap(|(x, w): &(Array, Array)| run(c, x, w))(&(xs.clone(), ws.clone()));
            let by_input = oxjax::vmap_axes(
                |x: &Array| run(c, x, &lane(&ws, 0)),
                vec![Some(1)],
                vec![Some(0)],
            )(&xs.moveaxis(0, 1));
            for b in 0..3 {
                let want = run(c, &x0, &lane(&ws, b)).to_vec::<f64>();
                close(&lane(&by_kernel, b).to_vec::<f64>(), &want, 1e-12)
                    .unwrap_or_else(|e| panic!("case {k} kernel lane {b}: {e}"));
                let want = run(c, &lane(&xs, b), &lane(&ws, b)).to_vec::<f64>();
                close(&lane(&both, b).to_vec::<f64>(), &want, 1e-12)
                    .unwrap_or_else(|e| panic!("case {k} both lane {b}: {e}"));
                let want = run(c, &lane(&xs, b), &lane(&ws, 0)).to_vec::<f64>();
                close(&lane(&by_input, b).to_vec::<f64>(), &want, 1e-12)
                    .unwrap_or_else(|e| panic!("case {k} input lane {b}: {e}"));
            }
        }
    });
}

/// Gradients through a channels-last layout (the transpose rules rearrange
/// dimension numbers), and `jit(grad)` agrees with eager `grad`.
#[test]
fn conv_grads_channels_last_and_jit() {
    on_embedded(|| {
        let dn = ConvDimensionNumbers::from_strings("NHWC", "HWIO", "NHWC");
        let x = Array::from_vec(data(2 * 6 * 5 * 4, 1.0), &[2, 6, 5, 4]);
        let w = Array::from_vec(data(3 * 2 * 2 * 6, 2.0), &[3, 2, 2, 6]);
        let conv = |x: &Array, w: &Array| {
            lax::conv_general_dilated(
                x,
                w,
                &[2, 1],
                &Padding::Same,
                None,
                Some(&[1, 2]),
                Some(&dn),
                2,
                1,
            )
        };
        let weight = |y: &Array| y.sin().sum(oxjax::Axes::All, false);
        let fx = |x: &Array| weight(&conv(x, &w));
        let fw = |w: &Array| weight(&conv(&x, w));
        close(
            &directional(&grad(fx)(&x), &x),
            &fd_directional(&fx, &x),
            1e-6,
        )
        .unwrap();
        close(
            &directional(&grad(fw)(&w), &w),
            &fd_directional(&fw, &w),
            1e-6,
        )
        .unwrap();
        close(
            &jit(grad(fw))(&w).to_vec::<f64>(),
            &grad(fw)(&w).to_vec::<f64>(),
            1e-12,
        )
        .unwrap();
    });
}

/// A convolution is one equation, with JAX's parameters.
#[test]
fn conv_is_one_equation() {
    on_embedded(|| {
        let w = Array::zeros(&[4, 3, 3, 3], DType::F32);
        let f = |x: &Array| lax::conv(x, &w, &[1, 1], &Padding::Same);
        let text = oxjax::make_jaxpr(f)(&Array::zeros(&[2, 3, 8, 8], DType::F32)).to_string();
        assert_eq!(text.matches("conv_general_dilated[").count(), 1, "{text}");
        assert!(
            text.contains("window_strides=(1, 1), padding=((1, 1), (1, 1))"),
            "{text}"
        );
        let eqns = text.lines().filter(|l| l.contains(" = ")).count();
        assert_eq!(eqns, 1, "{text}");
    });
}
