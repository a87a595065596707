//! Transformations: gradients against finite differences, jvp against vjp,
//! vmap against a loop, compositions, jaxpr text, and misuse messages.
//! Everything runs on the embedded reference backend in f64.

use oxjax::{
    Array, Axes, DType, Slice, Tree, grad, grad_with, hessian, jacfwd, jacrev, jvp, make_jaxpr,
    value_and_grad, vjp, vmap, vmap_axes,
};
use proptest::prelude::*;
mod common;
use common::{close, fd_grad, on_embedded};

fn vec64(x: &Array) -> Vec<f64> {
    x.astype(DType::F64).to_vec::<f64>()
}

fn arr(v: &[f64], shape: &[usize]) -> Array {
    Array::from_slice(v, shape)
}

type Fun = (&'static str, fn(&Array) -> Array);

/// Every differentiable primitive, reached through the public API, on
/// inputs in (0.1, 0.9) so every op is smooth there.
const FUNS: &[Fun] = &[
    ("neg", |x| -x),
    ("abs", |x| (x - 0.5).abs()),
    ("sqrt", |x| x.sqrt()),
    ("rsqrt", |x| x.rsqrt()),
    ("reciprocal", |x| x.reciprocal()),
    ("exp", |x| x.exp()),
    ("exp2", |x| x.exp2()),
    ("log", |x| x.log()),
    ("log2", |x| x.log2()),
    ("log1p", |x| x.log1p()),
    ("expm1", |x| x.expm1()),
    ("sin", |x| x.sin()),
    ("cos", |x| x.cos()),
    ("tan", |x| x.tan()),
    ("arcsin", |x| x.arcsin()),
    ("arccos", |x| x.arccos()),
    ("arctan", |x| x.arctan()),
    ("sinh", |x| x.sinh()),
    ("cosh", |x| x.cosh()),
    ("tanh", |x| x.tanh()),
    ("erf", |x| x.erf()),
    ("erfc", |x| x.erfc()),
    ("add", |x| x + &x.flip(&[])),
    ("subtract", |x| x - &(x * x)),
    ("multiply", |x| x * &x.flip(&[])),
    ("divide", |x| x / &(x.flip(&[]) + 1.0)),
    ("power", |x| x.power(&(x.flip(&[]) + 0.5))),
    ("remainder", |x| (x * 3.0) % &(x.flip(&[]) + 0.3)),
    ("fmod", |x| (x * 3.0).fmod(&(x.flip(&[]) + 0.3))),
    ("minimum", |x| x.minimum(x.flip(&[]))),
    ("maximum", |x| x.maximum(&(x.flip(&[]) * 0.9))),
    ("arctan2", |x| x.arctan2(x.flip(&[]))),
    ("where", |x| Array::where_(&x.greater(0.5), x * x, x.sin())),
    ("sum", |x| x.sum(0, true) * x),
    ("prod", |x| x.prod(Axes::All, false) + x),
    ("max", |x| x.max(0, false).sum(Axes::All, true) * x),
    ("min", |x| x.min(Axes::All, false) * x),
    ("mean", |x| x.mean(-1, true) * x),
    ("matmul", |x| {
        x.reshape(&[-1, 1]).matmul(&x.reshape(&[1, -1])).tanh()
    }),
    ("reshape+transpose", |x| {
        x.reshape(&[-1]).expand_dims(0).t().sin()
    }),
    ("broadcast", |x| {
        x.broadcast_to(&[3, x.shape()[0], x.shape()[1]])
            .sum(0, false)
            * x
    }),
    ("slice", |x| {
        x.slice(&[Slice::all().step(2), Slice::all().step(-1)])
            .exp()
            .sum(Axes::All, false)
            + x
    }),
    ("pad", |x| x.pad(&[(1, 2), (0, 1)], 3.0).sin()),
    ("concatenate", |x| {
        Array::concatenate(&[x, &x.exp(), &x.slice(&[(0..1).into()])], 0).cos()
    }),
];

/// A random (2, 3) input in (0.1, 0.97) without ties (where min, max and
/// abs have kinks that finite differences cannot see).
fn input() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(0.1f64..0.9, 6).prop_map(|v| {
        v.iter()
            .enumerate()
            .map(|(i, x)| x + 0.0131 * i as f64)
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn grad_matches_finite_differences(v in input(), w in prop::collection::vec(-1.0f64..1.0, 64)) {
        on_embedded(|| -> Result<(), TestCaseError> {
            let x = arr(&v, &[2, 3]);
            for (name, op) in FUNS {
                // A weighted sum makes every output element matter.
                let f = |x: &Array| {
                    let y = op(x);
                    let wts = arr(&w[..y.size()], y.shape());
                    (&y * &wts).sum(Axes::All, false)
                };
                let g = vec64(&grad(f)(&x));
                let fd = fd_grad(&f, &x);
                close(&g, &fd, 1e-5).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
            }
            Ok(())
        })?;
    }

    #[test]
    fn jvp_and_vjp_agree(v in input(), t in prop::collection::vec(-1.0f64..1.0, 6), w in prop::collection::vec(-1.0f64..1.0, 64)) {
        on_embedded(|| -> Result<(), TestCaseError> {
            let x = arr(&v, &[2, 3]);
            let tv = arr(&t, &[2, 3]);
            for (name, op) in FUNS {
                let (y, jv) = jvp(op, &x, &tv);
                let wts = arr(&w[..y.size()], y.shape());
                let (_, pull) = vjp(op, &x);
                let jtw = pull(&wts);
                let lhs = (&wts * &jv).sum(Axes::All, false).item::<f64>();
                let rhs = (&jtw * &tv).sum(Axes::All, false).item::<f64>();
                prop_assert!((lhs - rhs).abs() < 1e-6 * (1.0 + lhs.abs()), "{name}: <w, Jv> = {lhs}, <J^T w, v> = {rhs}");
            }
            Ok(())
        })?;
    }

    #[test]
    fn vmap_equals_a_loop(v in prop::collection::vec(0.1f64..0.9, 24), axis in 0usize..3) {
        on_embedded(|| -> Result<(), TestCaseError> {
            // A stack of four (2, 3) inputs with the batch axis at `axis`.
            let stacked = arr(&v, &[4, 2, 3]).moveaxis(0, axis as isize);
            for (name, op) in FUNS {
                let batched = vmap_axes(op, vec![Some(axis)], vec![Some(0)])(&stacked);
                for i in 0..4 {
                    let xi = arr(&v[i * 6..(i + 1) * 6], &[2, 3]);
                    let want = vec64(&op(&xi));
                    let got = vec64(&batched.slice(&[(i as isize..i as isize + 1).into()]).squeeze(&[0]));
                    close(&got, &want, 1e-12).map_err(|e| TestCaseError::fail(format!("{name} lane {i}: {e}")))?;
                }
            }
            Ok(())
        })?;
    }
}

#[test]
fn compositions() {
    on_embedded(|| {
        let f = |x: &Array| (x.sin() * x * x).sum(Axes::All, false);
        let x = arr(&[0.3, -1.2, 2.0], &[3]);
        // grad(grad): d²/dx² of sum(x² sin x) per element, as a diagonal.
        let g2 = grad(|x: &Array| grad(f)(x).sum(Axes::All, false))(&x);
        let want: Vec<f64> = vec64(&x)
            .iter()
            .map(|&a| 2.0 * a.sin() + 4.0 * a * a.cos() - a * a * a.sin())
            .collect();
        close(&vec64(&g2), &want, 1e-10).unwrap();
        // hessian == jacfwd(jacrev) == jacrev(jacfwd), diagonal here.
        let h = hessian(f)(&x);
        assert_eq!(h.shape(), &[3, 3]);
        let h2 = jacrev(jacfwd(f))(&x);
        close(&vec64(&h), &vec64(&h2), 1e-10).unwrap();
        let hv = vec64(&h);
        for i in 0..3 {
            for j in 0..3 {
                let w = if i == j { want[i] } else { 0.0 };
                assert!(
                    (hv[i * 3 + j] - w).abs() < 1e-10,
                    "H[{i},{j}] = {}",
                    hv[i * 3 + j]
                );
            }
        }
        // vmap(grad) equals per-row grads; grad(vmap) equals grad of the sum.
        let rows = arr(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]);
        let per_row = vmap(grad(f))(&rows);
        for i in 0..2 {
            let r = rows
                .slice(&[(i as isize..i as isize + 1).into()])
                .squeeze(&[0]);
            close(
                &vec64(
                    &per_row
                        .slice(&[(i as isize..i as isize + 1).into()])
                        .squeeze(&[0]),
                ),
                &vec64(&grad(f)(&r)),
                1e-12,
            )
            .unwrap();
        }
        let gv = grad(|m: &Array| vmap(f)(m).sum(Axes::All, false))(&rows);
        close(&vec64(&gv), &vec64(&per_row), 1e-12).unwrap();
        // Casts carry tangents between float dtypes, and cut them at integers.
        let g = grad(|x: &Array| (x.astype(DType::F32) * 3.0).sum(Axes::All, false))(&x);
        assert_eq!((g.dtype(), vec64(&g)), (DType::F64, vec![3.0; 3]));
        let g =
            grad(|x: &Array| (x.astype(DType::I32).astype(DType::F64) + x).sum(Axes::All, false))(
                &x,
            );
        assert_eq!(vec64(&g), vec![1.0; 3]);
        // stop_gradient hides its operand from differentiation.
        let g = grad(|x: &Array| (x.stop_gradient() * x).sum(Axes::All, false))(&x);
        assert_eq!(vec64(&g), vec64(&x));
        // jacfwd of a vector function.
        let j = jacfwd(|x: &Array| x * x)(&x);
        assert_eq!(
            vec64(&j),
            vec![0.6, 0.0, 0.0, 0.0, -2.4, 0.0, 0.0, 0.0, 4.0]
        );
    });
}

#[test]
fn pytrees_of_parameters() {
    on_embedded(|| {
        let w = arr(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let b = arr(&[0.5, -0.5], &[2]);
        let batch = arr(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
        let loss =
            |p: &(Array, Array), x: &Array| (x.matmul(&p.0) + &p.1).tanh().sum(Axes::All, false);
        let (gw, gb) = grad_with(loss)(&(w.clone(), b.clone()), &batch);
        assert_eq!(gw.shape(), &[2, 2]);
        assert_eq!(gb.shape(), &[2]);
        let fd = fd_grad(&|b: &Array| loss(&(w.clone(), b.clone()), &batch), &b);
        close(&vec64(&gb), &fd, 1e-6).unwrap();
        // Vec and BTreeMap trees round-trip through value_and_grad.
        let params = vec![w.clone(), b.clone()];
        let (v, g) = value_and_grad(|p: &Vec<Array>| {
            (&p[0] * 2.0).sum(Axes::All, false) + p[1].sum(Axes::All, false)
        })(&params);
        assert_eq!(v.item::<f64>(), 20.0);
        assert_eq!(vec64(&g[0]), vec![2.0; 4]);
        assert_eq!(vec64(&g[1]), vec![1.0; 2]);
        let mut map = std::collections::BTreeMap::new();
        map.insert("w", w.clone());
        map.insert("b", b.clone());
        assert_eq!(map.leaves().len(), 2);
        let g = grad(|m: &std::collections::BTreeMap<&str, Array>| {
            (&m["w"] * &m["w"]).sum(Axes::All, false)
        })(&map);
        assert_eq!(vec64(&g["w"]), vec![2.0, 4.0, 6.0, 8.0]);
        assert_eq!(vec64(&g["b"]), vec![0.0, 0.0]);
    });
}

/// `where_(c, a, b)` prints as JAX's `select_n c b a`: the case for false
/// first, so the text reads as JAX's would.
#[test]
fn select_prints_in_jax_operand_order() {
    on_embedded(|| {
        let x = Array::zeros(&[2], DType::F32);
        let f = |x: &Array| Array::where_(&x.greater(0.0), x.sin(), x.cos());
        let text = make_jaxpr(f)(&x).to_string();
        assert!(
            text.contains("d:f32[2] = sin a\n    e:f32[2] = cos a\n    f:f32[2] = select_n c e d"),
            "{text}"
        );
    });
}

#[test]
fn jaxpr_text_of_a_gradient() {
    on_embedded(|| {
        let x = Array::zeros(&[3], DType::F32);
        let w = Array::zeros(&[3, 4], DType::F32);
        let f = |p: &(Array, Array)| p.0.matmul(&p.1).tanh().sum(Axes::All, false);
        let fwd = make_jaxpr(f)(&(x.clone(), w.clone())).to_string();
        assert_eq!(
            fwd,
            "{ lambda ; a:f32[3] b:f32[3,4]. let\n    c:f32[1,3] = reshape[new_sizes=(1, 3)] a\n    d:f32[1,4] = dot_general c b\n    e:f32[4] = reshape[new_sizes=(4,)] d\n    f:f32[4] = tanh e\n    g:f32[] = reduce_sum[axes=(0,)] f\n  in (g,) }"
        );
        let g = make_jaxpr(grad(f))(&(x, w)).to_string();
        assert_eq!(
            g,
            "{ lambda ; a:f32[3] b:f32[3,4]. let
    c:f32[1,3] = reshape[new_sizes=(1, 3)] a
    d:f32[1,4] = dot_general c b
    e:f32[4] = reshape[new_sizes=(4,)] d
    f:f32[4] = tanh e
    g:f32[4] = mul f f
    h:f32[4] = broadcast_in_dim[shape=(4,)] 1.0
    i:f32[4] = sub h g
    j:f32[] = reduce_sum[axes=(0,)] f
    k:f32[1] = reshape[new_sizes=(1,)] 1.0
    l:f32[4] = broadcast_in_dim[shape=(4,)] k
    m:f32[4] = mul l i
    n:f32[1,4] = reshape[new_sizes=(1, 4)] m
    o:f32[3,1] = transpose[permutation=(1, 0)] c
    p:f32[3,4] = dot_general o n
    q:f32[4,3] = transpose[permutation=(1, 0)] b
    r:f32[1,3] = dot_general n q
    s:f32[3] = reshape[new_sizes=(3,)] r
  in (s, p) }"
        );
    });
}

fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let e = std::panic::catch_unwind(f).expect_err("expected a panic");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

#[test]
fn misuse_is_explained() {
    on_embedded(|| {
        let x = arr(&[1.0, 2.0], &[2]);
        let m = panic_text(|| drop(grad(|x: &Array| x * 2.0)(&x)));
        assert!(
            m.contains("grad: the function must return a scalar (shape []), got shape [2]"),
            "{m}"
        );
        let i = Array::from_vec(vec![1i32, 2], &[2]);
        let m =
            panic_text(|| drop(grad(|x: &Array| x.sum(Axes::All, false).astype(DType::F32))(&i)));
        assert!(
            m.contains("cannot differentiate with respect to an input of dtype i32"),
            "{m}"
        );
        let m = panic_text(|| {
            drop(vmap_axes(
                |x: &Array| x.clone(),
                vec![Some(0), Some(0)],
                vec![Some(0)],
            )(&x))
        });
        assert!(m.contains("vmap: 2 in_axes for 1 inputs"), "{m}");
        let pair = (x.clone(), arr(&[1.0, 2.0, 3.0], &[3]));
        let m = panic_text(|| {
            drop(vmap(|p: &(Array, Array)| {
                &p.0.sum(Axes::All, false) + &p.1.sum(Axes::All, false)
            })(&pair))
        });
        assert!(
            m.contains("vmap: mapped axes have different sizes: 2 and 3"),
            "{m}"
        );
        // A tracer stored outside its transformation cannot be used later.
        let leaked = std::cell::RefCell::new(None);
        let _ = grad(|x: &Array| {
            *leaked.borrow_mut() = Some(x.clone());
            x.sum(Axes::All, false)
        })(&x);
        let t = leaked.into_inner().unwrap();
        let m = panic_text(move || drop(&t + 1.0));
        assert!(m.contains("tracer that escaped its transformation"), "{m}");
        let m = panic_text(|| {
            drop(grad(|x: &Array| {
                Array::scalar(x.sum(Axes::All, false).item::<f64>())
            })(&x))
        });
        assert!(m.contains("cannot read the value of a traced array"), "{m}");
    });
}

#[test]
fn custom_jvp_rule_is_used_by_every_transformation() {
    on_embedded(|| {
        // softplus with a stable rule: the naive derivative is inf/inf at 1000.
        let softplus = oxjax::custom_jvp(
            "softplus",
            |x: &Array| x.exp().log1p(),
            |x: &Array, t: &Array| (x.exp().log1p(), t * &(1.0 / ((-x).exp() + 1.0))),
        );
        let x = arr(&[0.0, 1000.0], &[2]);
        let g = grad(|x: &Array| softplus(x).sum(Axes::All, false))(&x);
        assert_eq!(vec64(&g), vec![0.5, 1.0]);
        let naive = grad(|x: &Array| x.exp().log1p().sum(Axes::All, false))(&x);
        assert!(vec64(&naive)[1].is_nan(), "the naive gradient overflows");
        // jvp, vmap(grad) and grad(vmap) all see the rule.
        let (_, t) = jvp(&softplus, &x, &arr(&[2.0, 2.0], &[2]));
        assert_eq!(vec64(&t), vec![1.0, 2.0]);
        let rows = arr(&[0.0, 1000.0, 1000.0, 0.0], &[2, 2]);
        let vg = vmap(grad(|x: &Array| softplus(x).sum(Axes::All, false)))(&rows);
        assert_eq!(vec64(&vg), vec![0.5, 1.0, 1.0, 0.5]);
        let gv = grad(|m: &Array| vmap(&softplus)(m).sum(Axes::All, false))(&rows);
        assert_eq!(vec64(&gv), vec![0.5, 1.0, 1.0, 0.5]);
    });
}

#[test]
fn custom_vjp_and_checkpoint() {
    on_embedded(|| {
        // Gradient clipping: identity forward, clipped cotangent backward.
        let clip = oxjax::custom_vjp(
            "clip_gradient",
            |x: &Array| x.clone(),
            |x: &Array| (x.clone(), ()),
            |_: &(), ct: &Array| ct.minimum(1.0).maximum(-1.0),
        );
        let x = arr(&[1.0, 2.0], &[2]);
        let g = grad(|x: &Array| (clip(x) * 10.0).sum(Axes::All, false))(&x);
        assert_eq!(vec64(&g), vec![1.0, 1.0]);
        let m = panic_text(|| drop(jvp(&clip, &x, &x)));
        assert!(
            m.contains(
                "clip_gradient: a custom_vjp function supports reverse mode (grad, vjp) only"
            ),
            "{m}"
        );
        // Residuals flow from fwd to bwd.
        let cube = oxjax::custom_vjp(
            "cube",
            |x: &Array| x * x * x,
            |x: &Array| (x * x * x, x * x),
            |sq: &Array, ct: &Array| ct * sq * 3.0,
        );
        assert_eq!(
            vec64(&grad(|x: &Array| cube(x).sum(Axes::All, false))(&x)),
            vec![3.0, 12.0]
        );
        // checkpoint: same derivatives, forward and reverse.
        let f = |x: &Array| (x.sin() * x).exp().sum(Axes::All, false);
        let cf = oxjax::checkpoint(f);
        close(&vec64(&grad(&cf)(&x)), &vec64(&grad(f)(&x)), 1e-12).unwrap();
        let (_, t1) = jvp(&cf, &x, &x.ones_like());
        let (_, t2) = jvp(f, &x, &x.ones_like());
        close(&vec64(&t1), &vec64(&t2), 1e-12).unwrap();
        close(&vec64(&hessian(&cf)(&x)), &vec64(&hessian(f)(&x)), 1e-10).unwrap();
    });
}

/// JAX batches custom_vjp and checkpoint; `grad(vmap(...))` and
/// `vmap(grad(...))` keep the user's backward rule.
#[test]
fn vmap_of_custom_vjp_and_checkpoint() {
    on_embedded(|| {
        let clip = oxjax::custom_vjp(
            "clip_gradient",
            |x: &Array| x.clone(),
            |x: &Array| (x.clone(), ()),
            |_: &(), ct: &Array| ct.minimum(1.0).maximum(-1.0),
        );
        let xs = arr(&[1.0, 2.0, -3.0, 0.5, 4.0, -1.0], &[3, 2]);
        // Forward: vmap of the function is the function.
        assert_eq!(vec64(&vmap(&clip)(&xs)), vec64(&xs));
        // Reverse through vmap: the clipped cotangent (10 -> 1) per element.
        let g = grad(|x: &Array| (vmap(&clip)(x) * 10.0).sum(Axes::All, false))(&xs);
        assert_eq!(vec64(&g), vec![1.0; 6]);
        // vmap of grad: one clipped gradient per row.
        let per_row = vmap(grad(|x: &Array| (clip(x) * 10.0).sum(Axes::All, false)))(&xs);
        assert_eq!(vec64(&per_row), vec![1.0; 6]);
        // Residuals are batched with their rows.
        let cube = oxjax::custom_vjp(
            "cube",
            |x: &Array| x * x * x,
            |x: &Array| (x * x * x, x * x),
            |sq: &Array, ct: &Array| ct * sq * 3.0,
        );
        let g = grad(|x: &Array| vmap(&cube)(x).sum(Axes::All, false))(&xs);
        let want: Vec<f64> = vec64(&xs).iter().map(|v| 3.0 * v * v).collect();
        close(&vec64(&g), &want, 1e-12).unwrap();
        // checkpoint under vmap, both directions and inside grad.
        let f = |x: &Array| (x.sin() * x).exp().sum(Axes::All, false);
        let cf = oxjax::checkpoint(f);
        close(&vec64(&vmap(&cf)(&xs)), &vec64(&vmap(f)(&xs)), 1e-12).unwrap();
        close(
            &vec64(&vmap(grad(&cf))(&xs)),
            &vec64(&vmap(grad(f))(&xs)),
            1e-12,
        )
        .unwrap();
        let vcf = vmap(&cf);
        let vf = vmap(f);
        close(
            &vec64(&grad(|x: &Array| vcf(x).sum(Axes::All, false))(&xs)),
            &vec64(&grad(|x: &Array| vf(x).sum(Axes::All, false))(&xs)),
            1e-12,
        )
        .unwrap();
    });
}

#[derive(Clone, oxjax::Tree)]
struct Mlp {
    w: Array,
    b: Array,
    #[tree(skip)]
    name: String,
}

#[test]
fn derived_trees() {
    on_embedded(|| {
        let p = Mlp {
            w: arr(&[1.0, 2.0], &[2]),
            b: arr(&[3.0], &[1]),
            name: "m".into(),
        };
        assert_eq!(p.leaves().len(), 2);
        let g = grad(|p: &Mlp| (&p.w * &p.w).sum(Axes::All, false) + p.b.sum(Axes::All, false))(&p);
        assert_eq!(
            (vec64(&g.w), vec64(&g.b), g.name.as_str()),
            (vec![2.0, 4.0], vec![1.0], "m")
        );
    });
}

#[test]
fn has_aux_linearize_and_out_axes() {
    on_embedded(|| {
        let x = arr(&[1.0, 2.0, 3.0], &[3]);
        // has_aux: the auxiliary output is returned, not differentiated.
        let (g, aux) = oxjax::grad_has_aux(|x: &Array| {
            let y = (x * x).sum(Axes::All, false);
            (y, x.exp())
        })(&x);
        assert_eq!(vec64(&g), vec![2.0, 4.0, 6.0]);
        close(&vec64(&aux), &[1f64.exp(), 2f64.exp(), 3f64.exp()], 1e-12).unwrap();
        // linearize: the linear map equals jvp at the same point.
        let f = |x: &Array| x.sin() * x;
        let (y, lin) = oxjax::linearize(f, &x);
        let t = arr(&[0.5, -1.0, 2.0], &[3]);
        let (y2, jt) = jvp(f, &x, &t);
        assert_eq!(vec64(&y), vec64(&y2));
        close(&vec64(&lin(&t)), &vec64(&jt), 1e-12).unwrap();
        // out_axes moves the batch axis of the result; None broadcasts an input.
        let m = arr(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let f2 = |p: &(Array, Array)| &p.0 * &p.1;
        let r = vmap_axes(f2, vec![Some(0), None], vec![Some(1)])(&(m.clone(), x.clone()));
        assert_eq!(r.shape(), &[3, 2]);
        assert_eq!(vec64(&r), vec![1.0, 4.0, 4.0, 10.0, 9.0, 18.0]);
    });
}

/// Several arguments, as JAX: a tuple of pytrees, `argnums` picking the
/// gradients (checked against finite differences and the one-argument form),
/// an integer argument left alone, and `jit`/`vjp`/`value_and_grad` over
/// the same tuple agreeing with their one-argument forms.
#[test]
fn several_arguments_and_argnums() {
    use oxjax::{argnums, grad_argnums, jit, value_and_grad_argnums};
    on_embedded(|| {
        let w = arr(&[0.3, -0.2, 0.5, 0.1, 0.4, -0.6], &[3, 2]);
        let b = arr(&[0.1, -0.1], &[2]);
        let x = arr(&[1.0, 2.0, -1.0, 0.5, 0.0, 1.5], &[2, 3]);
        let labels = Array::from_vec(vec![1i32, 0], &[2]);
        // params (a tuple), a batch, integer labels.
        type A = ((Array, Array), Array, Array);
        let loss = |(p, x, y): &A| {
            let logits = x.matmul(&p.0) + &p.1;
            let picked = oxjax::numpy::take_along_axis(&logits, &y.expand_dims(1), 1);
            (logits.exp().sum(1, false).log() - picked.squeeze(&[1])).mean(Axes::All, false)
        };
        let args: A = ((w.clone(), b.clone()), x.clone(), labels.clone());
        // argnums=0: the gradient has the parameters' type.
        let (gw, gb) = grad_argnums(loss, argnums![0])(&args);
        let fd_w = fd_grad(
            &|w: &Array| loss(&((w.clone(), b.clone()), x.clone(), labels.clone())),
            &w,
        );
        close(&vec64(&gw), &fd_w, 1e-6).unwrap();
        let fd_b = fd_grad(
            &|b: &Array| loss(&((w.clone(), b.clone()), x.clone(), labels.clone())),
            &b,
        );
        close(&vec64(&gb), &fd_b, 1e-6).unwrap();
        // Equal to the single-argument form over the parameters alone.
        let (g1w, g1b) = grad(|p: &(Array, Array)| loss(&(p.clone(), x.clone(), labels.clone())))(
            &(w.clone(), b.clone()),
        );
        assert_eq!(vec64(&gw), vec64(&g1w));
        assert_eq!(vec64(&gb), vec64(&g1b));
        // argnums=(1, 0): a tuple in the order asked.
        let (v, (gx, (gw2, _))) = value_and_grad_argnums(loss, argnums![1, 0])(&args);
        close(&[v.item::<f64>()], &vec64(&loss(&args)), 1e-12).unwrap();
        assert_eq!(vec64(&gw2), vec64(&gw));
        let fd_x = fd_grad(
            &|x: &Array| loss(&((w.clone(), b.clone()), x.clone(), labels.clone())),
            &x,
        );
        close(&vec64(&gx), &fd_x, 1e-6).unwrap();
        // A 1-tuple of argnums gives a 1-tuple of gradients.
        let (only_x,) = grad_argnums(loss, argnums![1,])(&args);
        assert_eq!(vec64(&only_x), vec64(&gx));
        // jit and vjp take the same tuple; jit agrees with eager.
        let jl = jit(loss)(&args);
        close(&vec64(&jl), &vec64(&loss(&args)), 1e-12).unwrap();
        let f2 = |(a, b): &(Array, Array)| a.sin() * b;
        let pair = (w.clone(), w.clone() * 2.0);
        let (y, pull) = vjp(f2, &pair);
        let (ga, gb2) = pull(&y.ones_like());
        close(&vec64(&ga), &vec64(&(w.cos() * &w * 2.0)), 1e-12).unwrap();
        close(&vec64(&gb2), &vec64(&w.sin()), 1e-12).unwrap();
        // Four arguments, the last two picked.
        let f4 =
            |(a, b, c, d): &(Array, Array, Array, Array)| (a * b * c * d).sum(Axes::All, false);
        let s = |v: f64| Array::scalar(v);
        let (gc, gd) = grad_argnums(f4, argnums![2, 3])(&(s(2.0), s(3.0), s(5.0), s(7.0)));
        assert_eq!((gc.item::<f64>(), gd.item::<f64>()), (42.0, 30.0));
    });
}

/// `vmap_in_axes`: one axis per argument (a prefix tree), `None`
/// broadcasting, nested specs, negative in and out axes; each against a
/// loop over the batch.
#[test]
fn vmap_in_axes_prefix_trees_and_negative_axes() {
    use oxjax::{AxisSpec, vmap_in_axes};
    on_embedded(|| {
        let m = arr(
            &[
                1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0,
            ],
            &[4, 3],
        );
        let v = arr(&[0.5, -1.0, 2.0], &[3]);
        let f = |(a, b): &(Array, Array)| (a * b).sum(Axes::All, false) + a.sin();
        let lane = |i: usize| {
            m.slice(&[(i as isize..i as isize + 1).into()])
                .squeeze(&[0])
        };
        let lane_t = |i: usize| {
            m.slice(&[Slice::all(), (i as isize..i as isize + 1).into()])
                .squeeze(&[1])
        };
        let rows: Vec<Array> = (0..4).map(|i| f(&(lane(i), v.clone()))).collect();
        let refs: Vec<&Array> = rows.iter().collect();
        let want = Array::stack(&refs, 0);
        // One axis per argument: map the rows of `m`, broadcast `v`.
        let got = vmap_in_axes(f, (0, None), 0)(&(m.clone(), v.clone()));
        close(&vec64(&got), &vec64(&want), 1e-12).unwrap();
        // The same from the transposed matrix with in_axes = -1.
        let got = vmap_in_axes(f, (-1, None), 0)(&(m.transpose(&[1, 0]), v.clone()));
        close(&vec64(&got), &vec64(&want), 1e-12).unwrap();
        // out_axes = -1 puts the batch last.
        let got = vmap_in_axes(f, (0, None), -1)(&(m.clone(), v.clone()));
        assert_eq!(got.shape(), &[3, 4]);
        close(&vec64(&got), &vec64(&want.transpose(&[1, 0])), 1e-12).unwrap();
        // A nested prefix: the first argument is a (matrix, vector) pair
        // mapped over (columns, not at all), the second mapped on axis 0.
        let g = |((a, c), b): &((Array, Array), Array)| (a * c).sum(Axes::All, false) * b;
        let s = arr(&[1.0, -2.0, 3.0], &[3]);
        let got = vmap_in_axes(g, ((1, None), 0), 0)(&(
            (m.clone(), arr(&[1.0, 0.0, 2.0, 1.0], &[4])),
            s.clone(),
        ));
        let rows: Vec<Array> = (0..3)
            .map(|i| {
                g(&(
                    (lane_t(i), arr(&[1.0, 0.0, 2.0, 1.0], &[4])),
                    s.slice(&[(i as isize..i as isize + 1).into()])
                        .squeeze(&[0]),
                ))
            })
            .collect();
        let refs: Vec<&Array> = rows.iter().collect();
        close(&vec64(&got), &vec64(&Array::stack(&refs, 0)), 1e-12).unwrap();
        // An output tree: the first output unbatched (None), the second batched.
        let h = |(a, b): &(Array, Array)| (b * 2.0, a + b);
        let (u, w) = vmap_in_axes(h, (0, None), (None, 0))(&(m.clone(), v.clone()));
        assert_eq!(vec64(&u), vec64(&(&v * 2.0)));
        assert_eq!(w.shape(), &[4, 3]);
        // A derived struct's fields are its children, in order; a Vec's
        // items too. `w` is mapped on its last axis, `b` broadcast.
        #[derive(Tree)]
        struct Layer {
            w: Array,
            b: Array,
        }
        let layer = Layer {
            w: m.transpose(&[1, 0]),
            b: arr(&[0.5, 1.5, -1.0], &[3]),
        };
        let xs = vec![v.clone(), &v * 2.0];
        let apply =
            |(l, xs): &(Layer, Vec<Array>)| (&l.w * &xs[0] + &l.b + &xs[1]).sum(Axes::All, false);
        let axis: isize = -1;
        let got = vmap_in_axes(apply, ((axis, None), (None, None)), 0)(&(layer, xs.clone()));
        let rows: Vec<Array> = (0..4)
            .map(|i| (&lane(i) * &v + arr(&[0.5, 1.5, -1.0], &[3]) + &xs[1]).sum(Axes::All, false))
            .collect();
        let refs: Vec<&Array> = rows.iter().collect();
        close(&vec64(&got), &vec64(&Array::stack(&refs, 0)), 1e-12).unwrap();
        // A spec equal to the one-argument form.
        let one = vmap(|a: &Array| a.sin())(&m);
        let spec = vmap_in_axes(|a: &Array| a.sin(), AxisSpec::Axis(0), 0)(&m);
        assert_eq!(vec64(&one), vec64(&spec));
    });
}

/// Bad specs are refused with the argument's structure named.
#[test]
fn vmap_in_axes_misuse() {
    use oxjax::vmap_in_axes;
    on_embedded(|| {
        let m = arr(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let f = |(a, b): &(Array, Array)| a + b;
        let msg = panic_text(|| {
            vmap_in_axes(f, (0, None, 0), 0)(&(m.clone(), m.clone()));
        });
        assert!(
            msg.contains("in_axes has 3 entries for a value with 2 children"),
            "{msg}"
        );
        let msg = panic_text(|| {
            vmap_in_axes(f, (2, 0), 0)(&(m.clone(), m.clone()));
        });
        assert!(
            msg.contains("in_axes 2") && msg.contains("out of range"),
            "{msg}"
        );
        let msg = panic_text(|| {
            vmap_in_axes(|a: &Array| a.sin(), (0, 0), 0)(&m);
        });
        assert!(msg.contains("single array"), "{msg}");
    });
}
