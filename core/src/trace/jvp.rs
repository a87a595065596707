//! Forward mode: the JVP trace and a jvp rule for every primitive.
//!
//! Tangents are `Option<Array>`; `None` is a symbolic zero, so inputs that
//! are not differentiated cost nothing. Rules are written with the public
//! array API on primals and tangents (which bind at lower levels), and only
//! ever apply *linear* primitives to tangents, so `vjp` can transpose them.

use super::prim::{BinOp, Prim, RedOp, UnOp};
use super::{MainTrace, TraceKind, TracerData, with_main};
use crate::array::Array;
use crate::error::{ErrorKind, Result};

type T = Option<Array>;

fn scale(t: &T, by: impl FnOnce() -> Array) -> T {
    t.as_ref().map(|t| t * &by())
}

fn add(a: T, b: T) -> T {
    match (a, b) {
        (Some(a), Some(b)) => Some(&a + &b),
        (a, None) => a,
        (None, b) => b,
    }
}

fn neg(a: T) -> T {
    a.map(|a| -&a)
}

/// A zero tangent made concrete where a rule needs an array.
fn instantiate(t: &T, like: &Array) -> Array {
    t.clone().unwrap_or_else(|| like.zeros_like())
}

/// Tangents exist only for floats.
fn is_differentiable(x: &Array) -> bool {
    x.dtype().is_float()
}

/// The jvp rule of `prim`: output primal and tangent.
pub(crate) fn rule(prim: &Prim, x: &[Array], t: &[T]) -> (Array, T) {
    if let Prim::Custom(c) = prim {
        return super::custom::jvp(&c.0, x, t);
    }
    let refs: Vec<&Array> = x.iter().collect();
    let out = super::bind1(prim.clone(), &refs);
    if !is_differentiable(&out) {
        return (out, None);
    }
    let y = out.clone();
    let tangent = match prim {
        Prim::Unary(u) => unary(*u, &x[0], &y, &t[0]),
        Prim::Binary(b) => binary(*b, &x[0], &x[1], &y, &t[0], &t[1]),
        Prim::Select => {
            if t[1].is_none() && t[2].is_none() {
                None
            } else {
                Some(Array::where_(
                    &x[0],
                    instantiate(&t[1], &x[1]),
                    instantiate(&t[2], &x[2]),
                ))
            }
        }
        Prim::Cast(d) => match &t[0] {
            Some(t0) if d.is_float() && x[0].dtype().is_float() => Some(t0.astype(*d)),
            _ => None,
        },
        Prim::Reduce(r, axes) => {
            let axes: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
            match r {
                RedOp::Sum | RedOp::Mean => {
                    t[0].as_ref().map(|t0| super::bind1(prim.clone(), &[t0]))
                }
                RedOp::Prod => t[0].as_ref().map(|t0| prod_jvp(&x[0], t0, &axes)),
                RedOp::Max | RedOp::Min => t[0].as_ref().map(|t0| {
                    // The tangent of the elements that attain the extremum,
                    // averaged over ties (as JAX does).
                    let yk = y.reshape(&keep_shape(&x[0], &axes));
                    let hit = x[0].equal(&yk).astype(x[0].dtype());
                    let count = hit.sum(axes.clone(), false);
                    (t0 * &hit).sum(axes.clone(), false) / count
                }),
                RedOp::All | RedOp::Any => None,
            }
        }
        Prim::ArgReduce(..) => None,
        Prim::Matmul => add(
            t[0].as_ref().map(|ta| ta.matmul(&x[1])),
            t[1].as_ref().map(|tb| x[0].matmul(tb)),
        ),
        Prim::Pad(w, v) => t[0].as_ref().map(|t0| {
            super::bind1(
                Prim::Pad(w.clone(), oxjax_abi::Scalar::zero(v.dtype())),
                &[t0],
            )
        }),
        Prim::Reshape(_)
        | Prim::Transpose(_)
        | Prim::BroadcastTo(_)
        | Prim::Slice(_)
        | Prim::Flip(_) => t[0].as_ref().map(|t0| super::bind1(prim.clone(), &[t0])),
        Prim::Concatenate(_) => {
            if t.iter().all(Option::is_none) {
                None
            } else {
                let ts: Vec<Array> = t.iter().zip(x).map(|(t, x)| instantiate(t, x)).collect();
                let refs: Vec<&Array> = ts.iter().collect();
                Some(super::bind1(prim.clone(), &refs))
            }
        }
        Prim::StopGradient | Prim::Custom(_) => None,
        Prim::Control(_) | Prim::Callback(_) | Prim::Linalg(_) => {
            unreachable!("several results: see process")
        }
        Prim::Indexing(p) => super::indexing_rules::jvp(p, x, &y, t),
        Prim::Conv(p) => super::conv_rules::jvp(p, x, t),
        Prim::Fft(p) => super::fft_rules::jvp(p, t),
        Prim::Softmax => super::softmax_rules::jvp(&y, t),
    };
    (out, tangent)
}

/// The shape of `x` with `axes` set to 1 (a reduction's keepdims shape).
/// The tangent of a product over `axes`, exact where `x` has zeros (no
/// division, as JAX): the reduced axes flattened into one, then the last
/// entry of the cumulative product's tangent.
fn prod_jvp(x: &Array, t: &Array, axes: &[isize]) -> Array {
    use super::indexing_rules::{CumOp, cumprod_jvp, cumulative};
    let axes: Vec<usize> = axes.iter().map(|&a| a as usize).collect();
    let kept: Vec<usize> = (0..x.ndim()).filter(|d| !axes.contains(d)).collect();
    let out: Vec<usize> = kept.iter().map(|&d| x.shape()[d]).collect();
    let m: usize = axes.iter().map(|&d| x.shape()[d]).product();
    if m == 0 {
        return Array::zeros(&out, t.dtype());
    }
    let perm: Vec<usize> = kept.iter().chain(&axes).copied().collect();
    let mut shape: Vec<isize> = out.iter().map(|&d| d as isize).collect();
    shape.push(m as isize);
    let flat = |a: &Array| a.transpose(&perm).reshape(&shape);
    let (xf, tf) = (flat(x), flat(t));
    let last = kept.len();
    let d = cumprod_jvp(
        &xf,
        &cumulative(&xf, CumOp::Prod, last, false),
        &tf,
        last,
        false,
    );
    let mut s = vec![crate::Slice::all(); last + 1];
    s[last] = crate::Slice {
        start: Some(m as isize - 1),
        stop: Some(m as isize),
        step: 1,
    };
    d.slice(&s).squeeze(&[last as isize])
}

fn keep_shape(x: &Array, axes: &[isize]) -> Vec<isize> {
    (0..x.ndim())
        .map(|d| {
            if axes.contains(&(d as isize)) {
                1
            } else {
                x.shape()[d] as isize
            }
        })
        .collect()
}

fn unary(u: UnOp, x: &Array, y: &Array, t: &T) -> T {
    use std::f64::consts::{LN_2, PI};
    match u {
        UnOp::Neg => neg(t.clone()),
        // 1 at 0, as JAX (select(x >= 0, t, -t)).
        UnOp::Abs => scale(t, || {
            Array::where_(&x.greater_equal(0.0), x.ones_like(), -x.ones_like())
        }),
        UnOp::Sqrt => t.as_ref().map(|t| t / &(y * 2.0)),
        UnOp::Rsqrt => scale(t, || y / x * -0.5),
        UnOp::Recip => scale(t, || -(y * y)),
        UnOp::Exp => scale(t, || y.clone()),
        UnOp::Exp2 => scale(t, || y * LN_2),
        UnOp::Log => t.as_ref().map(|t| t / x),
        UnOp::Log2 => t.as_ref().map(|t| t / &(x * LN_2)),
        UnOp::Log1p => t.as_ref().map(|t| t / &(x + 1.0)),
        UnOp::Expm1 => scale(t, || y + 1.0),
        UnOp::Sin => scale(t, || x.cos()),
        UnOp::Cos => scale(t, || -x.sin()),
        UnOp::Tan => scale(t, || y * y + 1.0),
        UnOp::Asin => scale(t, || (1.0 - x * x).rsqrt()),
        UnOp::Acos => scale(t, || -(1.0 - x * x).rsqrt()),
        UnOp::Atan => t.as_ref().map(|t| t / &(x * x + 1.0)),
        UnOp::Sinh => scale(t, || x.cosh()),
        UnOp::Cosh => scale(t, || x.sinh()),
        UnOp::Tanh => scale(t, || 1.0 - y * y),
        UnOp::Erf => scale(t, || (-(x * x)).exp() * (2.0 / PI.sqrt())),
        UnOp::Erfc => scale(t, || (-(x * x)).exp() * (-2.0 / PI.sqrt())),
        UnOp::Sign
        | UnOp::Floor
        | UnOp::Ceil
        | UnOp::Round
        | UnOp::Trunc
        | UnOp::IsNan
        | UnOp::IsInf
        | UnOp::IsFinite
        | UnOp::Not => None,
    }
}

fn binary(b: BinOp, x: &Array, y: &Array, out: &Array, tx: &T, ty: &T) -> T {
    match b {
        BinOp::Add => add(tx.clone(), ty.clone()),
        BinOp::Sub => add(tx.clone(), neg(ty.clone())),
        BinOp::Mul => add(scale(tx, || y.clone()), scale(ty, || x.clone())),
        BinOp::Div => add(tx.as_ref().map(|t| t / y), scale(ty, || -(out / y))),
        BinOp::Pow => {
            let dx = scale(tx, || y * x.power(y - 1.0));
            // d/dy x^y = x^y log x, taken as 0 where x == 0.
            let dy = scale(ty, || Array::where_(&x.equal(0.0), 0.0, out * x.log()));
            add(dx, dy)
        }
        BinOp::Min | BinOp::Max => {
            if tx.is_none() && ty.is_none() {
                return None;
            }
            // The winner's tangent; at a tie, the average (as JAX does).
            let (tx, ty) = (instantiate(tx, x), instantiate(ty, y));
            let pick_x = if b == BinOp::Min {
                x.less(y)
            } else {
                x.greater(y)
            };
            let one = Array::where_(&pick_x, &tx, &ty);
            Some(Array::where_(&x.equal(y), (&tx + &ty) * 0.5, &one))
        }
        BinOp::Atan2 => {
            // atan2(x, y): d/dx = y / (x² + y²), d/dy = -x / (x² + y²).
            let r = x * x + y * y;
            add(scale(tx, || y / &r), scale(ty, || -(x / &r)))
        }
        BinOp::Rem => add(tx.clone(), scale(ty, || -x.floor_divide(y))),
        BinOp::Fmod => add(tx.clone(), scale(ty, || -(x / y).trunc())),
        BinOp::FloorDiv
        | BinOp::And
        | BinOp::Or
        | BinOp::Xor
        | BinOp::Shl
        | BinOp::Shr
        | BinOp::Lt
        | BinOp::Le
        | BinOp::Gt
        | BinOp::Ge
        | BinOp::Eq
        | BinOp::Ne => None,
    }
}

/// The JVP trace's rule for one primitive.
pub(crate) fn process(main: &MainTrace, prim: &Prim, args: &[Array]) -> Result<Vec<Array>> {
    let (primals, tangents): (Vec<Array>, Vec<T>) = args
        .iter()
        .map(|a| match main.own(a) {
            Some(TracerData::Jvp { primal, tangent }) => (primal.clone(), tangent.clone()),
            _ => (a.clone(), None),
        })
        .unzip();
    let multi = match prim {
        Prim::Control(c) => Some(super::control::jvp(&c.0, &primals, &tangents)),
        Prim::Callback(c) => Some(crate::effects::jvp(&c.0, &primals, &tangents)),
        Prim::Linalg(p) => Some(super::linalg_rules::jvp(*p, &primals, &tangents)),
        _ => None,
    };
    if let Some((outs, ts)) = multi {
        return Ok(outs
            .into_iter()
            .zip(ts)
            .map(|(primal, tangent)| {
                main.tracer(primal.aval(), TracerData::Jvp { primal, tangent })
            })
            .collect());
    }
    let (out, tangent) = rule(prim, &primals, &tangents);
    let aval = out.aval();
    Ok(vec![main.tracer(
        aval,
        TracerData::Jvp {
            primal: out,
            tangent,
        },
    )])
}

/// Forward-mode derivative of a flat function: outputs and their tangents
/// (`None` where an output does not depend on the inputs).
pub(crate) fn jvp_flat(
    f: impl FnOnce(&[Array]) -> Vec<Array>,
    primals: &[Array],
    tangents: &[Array],
) -> (Vec<Array>, Vec<T>) {
    with_main(TraceKind::Jvp, |main| {
        let ins: Vec<Array> = primals
            .iter()
            .zip(tangents)
            .map(|(p, t)| {
                main.tracer(
                    p.aval(),
                    TracerData::Jvp {
                        primal: p.clone(),
                        tangent: Some(t.clone()),
                    },
                )
            })
            .collect();
        let outs = f(&ins);
        outs.iter()
            .map(|o| match main.own(o) {
                Some(TracerData::Jvp { primal, tangent }) => (primal.clone(), tangent.clone()),
                _ => (o.clone(), None),
            })
            .unzip()
    })
}

/// Checks that an input can be differentiated.
pub(crate) fn check_differentiable(what: &str, x: &Array) -> Result<()> {
    if x.dtype().is_float() {
        Ok(())
    } else {
        Err(crate::Error::new(
            ErrorKind::Unsupported,
            format!(
                "{what}: cannot differentiate with respect to an input of dtype {} (shape {:?}); \
             only float inputs have derivatives — convert it with astype(DType::F32) or leave it out",
                x.dtype(),
                x.shape()
            ),
        ))
    }
}
