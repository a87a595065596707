//! Batching: the vmap trace and a batching rule for every primitive.
//!
//! A batched value carries its batch axis (`bdim`); rules move it to the
//! front, apply the primitive to the whole batch at once, and report where
//! the batch axis of the result is (always the front here).

use super::custom::{Custom, CustomRef};
use super::prim::{Aval, Prim};
use super::{MainTrace, TraceKind, TracerData, bind1, with_main};
use crate::array::Array;
use crate::error::{ErrorKind, Result, err};
use std::sync::Arc;

/// Every operand with its batch axis first (see [`front`]).
pub(crate) fn all_front(vals: &[Array], bdims: &[Option<usize>], size: usize) -> Vec<Array> {
    vals.iter()
        .zip(bdims)
        .map(|(v, &b)| front(v, b, size))
        .collect()
}

/// `x` with its batch axis first; an unbatched `x` is broadcast to `size`.
pub(crate) fn front(x: &Array, bdim: Option<usize>, size: usize) -> Array {
    match bdim {
        Some(0) => x.clone(),
        Some(d) => x.moveaxis(d as isize, 0),
        None => {
            let mut shape = vec![size];
            shape.extend_from_slice(x.shape());
            x.expand_dims(0).broadcast_to(&shape)
        }
    }
}

fn shift(axes: &[usize]) -> Vec<usize> {
    axes.iter().map(|a| a + 1).collect()
}

/// The batching rule: applies `prim` to batched operands; the result's
/// batch axis is 0.
fn rule(prim: &Prim, vals: &[Array], bdims: &[Option<usize>], size: usize) -> Array {
    let x = || front(&vals[0], bdims[0], size);
    match prim {
        Prim::Unary(_) | Prim::Cast(_) | Prim::StopGradient => bind1(prim.clone(), &[&x()]),
        Prim::Binary(_) | Prim::Select | Prim::Matmul | Prim::Concatenate(_) => {
            let all = all_front(vals, bdims, size);
            let refs: Vec<&Array> = all.iter().collect();
            let p = match prim {
                Prim::Concatenate(axis) => Prim::Concatenate(axis + 1),
                p => p.clone(),
            };
            bind1(p, &refs)
        }
        Prim::Reduce(r, axes) => bind1(Prim::Reduce(*r, shift(axes)), &[&x()]),
        Prim::ArgReduce(max, axis) => bind1(Prim::ArgReduce(*max, axis + 1), &[&x()]),
        Prim::Reshape(shape) | Prim::BroadcastTo(shape) => {
            let mut s = vec![size];
            s.extend_from_slice(shape);
            let x = x();
            if let Prim::BroadcastTo(_) = prim {
                // Align the operand's axes right of the batch axis.
                let mut padded = vec![size];
                padded.extend(std::iter::repeat_n(1, shape.len() + 1 - x.ndim()));
                padded.extend_from_slice(&x.shape()[1..]);
                let x = bind1(Prim::Reshape(padded), &[&x]);
                return bind1(Prim::BroadcastTo(s), &[&x]);
            }
            bind1(Prim::Reshape(s), &[&x])
        }
        Prim::Transpose(perm) => {
            let mut p = vec![0];
            p.extend(shift(perm));
            bind1(Prim::Transpose(p), &[&x()])
        }
        Prim::Slice(spec) => {
            let mut s = vec![(0, size, 1)];
            s.extend_from_slice(spec);
            bind1(Prim::Slice(s), &[&x()])
        }
        Prim::Flip(axes) => bind1(Prim::Flip(shift(axes)), &[&x()]),
        Prim::Pad(w, v) => {
            let mut widths = vec![(0, 0, 0)];
            widths.extend_from_slice(w);
            bind1(Prim::Pad(widths, *v), &[&x()])
        }
        Prim::Custom(c) => {
            let all = all_front(vals, bdims, size);
            let refs: Vec<&Array> = all.iter().collect();
            bind1(Prim::Custom(batched_custom(&c.0, size)), &refs)
        }
        Prim::Control(_) | Prim::Callback(_) | Prim::Linalg(_) => {
            unreachable!("several results: see process")
        }
        Prim::Indexing(p) => super::indexing_rules::batch(p, vals, bdims, size),
        Prim::Conv(p) => super::conv_rules::batch(p, vals, bdims),
        Prim::Fft(p) => super::fft_rules::batch(p, vals, bdims, size),
        Prim::Softmax => super::softmax_rules::batch(vals, bdims, size),
    }
}

/// `f` over a batch: every operand (and result) batched along axis 0.
fn over_batch(xs: &[Array], f: impl Fn(&[Array]) -> Vec<Array>) -> Vec<Array> {
    let axes = vec![Some(0); xs.len()];
    vmap_flat(f, xs, &axes, None).unwrap_or_else(|e| crate::error::raise(e))
}

/// A custom function over a batch: its function and its rules vmapped, so
/// the user's derivative still applies under an outer transformation
/// (`grad(vmap(custom_vjp))` keeps the user's `bwd`, as JAX does).
fn batched_custom(c: &Arc<Custom>, size: usize) -> CustomRef {
    use super::custom::{Bwd, Flat};
    let batch_f = |f: &Flat| -> Flat {
        let f = f.clone();
        Arc::new(move |xs: &[Array]| over_batch(xs, |a| vec![f(a)]).remove(0))
    };
    let batch_bwd = |bwd: &Bwd| -> Bwd {
        let bwd = bwd.clone();
        Arc::new(move |res: &[Array], ct: &Array| {
            let n = res.len();
            let mut all = res.to_vec();
            all.push(ct.clone());
            over_batch(&all, |a| bwd(&a[..n], &a[n]))
        })
    };
    let batched = match &**c {
        Custom::Jvp { name, f, rule } => {
            let rule = rule.clone();
            let rule_b: super::custom::JvpRule = Arc::new(move |xs: &[Array], ts: &[Array]| {
                let n = xs.len();
                let mut all = xs.to_vec();
                all.extend_from_slice(ts);
                let mut out = over_batch(&all, |a| {
                    let (y, t) = rule(&a[..n], &a[n..]);
                    vec![y, t]
                });
                let t = out.remove(1);
                (out.remove(0), t)
            });
            Custom::Jvp {
                name: name.clone(),
                f: batch_f(f),
                rule: rule_b,
            }
        }
        Custom::Vjp {
            name,
            f,
            fwd,
            bwd,
            remat,
        } => {
            let fwd = fwd.clone();
            let fwd_b: super::custom::Fwd = Arc::new(move |xs: &[Array]| {
                let mut out = over_batch(xs, |a| {
                    let (y, res) = fwd(a);
                    let mut v = vec![y];
                    v.extend(res);
                    v
                });
                let y = out.remove(0);
                (y, out)
            });
            Custom::Vjp {
                name: name.clone(),
                f: batch_f(f),
                fwd: fwd_b,
                bwd: batch_bwd(bwd),
                remat: *remat,
            }
        }
        Custom::Lin {
            name,
            n_res,
            out,
            bwd,
            forward,
        } => Custom::Lin {
            name: name.clone(),
            n_res: *n_res,
            out: Aval {
                shape: std::iter::once(size)
                    .chain(out.shape.iter().copied())
                    .collect(),
                ..out.clone()
            },
            bwd: batch_bwd(bwd),
            forward: forward.as_ref().map(batch_f),
        },
    };
    CustomRef(Arc::new(batched))
}

/// The batch trace's rule for one primitive.
pub(crate) fn process(
    main: &MainTrace,
    size: usize,
    prim: &Prim,
    args: &[Array],
) -> Result<Vec<Array>> {
    let (vals, bdims): (Vec<Array>, Vec<Option<usize>>) = args
        .iter()
        .map(|a| match main.own(a) {
            Some(TracerData::Batch { val, bdim }) => (val.clone(), *bdim),
            _ => (a.clone(), None),
        })
        .unzip();
    let multi = match prim {
        Prim::Control(c) => Some(super::control::vmap(&c.0, &vals, &bdims, size)),
        Prim::Callback(c) => Some(crate::effects::vmap(&c.0, &vals, &bdims, size)),
        Prim::Linalg(p) => Some(super::linalg_rules::batch(*p, &vals, &bdims, size)),
        _ => None,
    };
    if let Some(outs) = multi {
        return Ok(outs
            .into_iter()
            .map(|val| {
                let mut aval = val.aval();
                aval.shape.remove(0);
                main.tracer(aval, TracerData::Batch { val, bdim: Some(0) })
            })
            .collect());
    }
    let out = rule(prim, &vals, &bdims, size);
    let mut aval = out.aval();
    aval.shape.remove(0);
    Ok(vec![main.tracer(
        aval,
        TracerData::Batch {
            val: out,
            bdim: Some(0),
        },
    )])
}

/// Maps a flat function over axis `in_axes[i]` of each input (`None`:
/// broadcast) and stacks results along `out_axes[j]` (all 0 when `None`).
pub(crate) fn vmap_flat(
    f: impl FnOnce(&[Array]) -> Vec<Array>,
    args: &[Array],
    in_axes: &[Option<isize>],
    out_axes: Option<&dyn Fn() -> Result<Vec<Option<isize>>>>,
) -> Result<Vec<Array>> {
    if args.len() != in_axes.len() {
        return err(
            ErrorKind::Shape,
            format!("vmap: {} in_axes for {} inputs", in_axes.len(), args.len()),
        );
    }
    // Negative axes count from the end of each leaf, as in JAX.
    let mut axes = Vec::with_capacity(args.len());
    for (i, (a, ax)) in args.iter().zip(in_axes).enumerate() {
        axes.push(match *ax {
            None => None,
            Some(ax) => {
                let r = a.ndim() as isize;
                if ax >= r || ax < -r {
                    return err(ErrorKind::Shape, format!(
                        "vmap: in_axes {ax} (input leaf {i}) is out of range for an input of shape {:?}",
                        a.shape()
                    ));
                }
                Some(ax.rem_euclid(r.max(1)) as usize)
            }
        });
    }
    let mut size = None;
    for (i, (a, ax)) in args.iter().zip(&axes).enumerate() {
        if let Some(ax) = *ax {
            let n = a.shape()[ax];
            match size {
                None => size = Some(n),
                Some(m) if m != n => {
                    return err(
                        ErrorKind::Shape,
                        format!(
                            "vmap: mapped axes have different sizes: {m} and {n} (input {i} of shape {:?}, axis {ax})",
                            a.shape()
                        ),
                    );
                }
                _ => {}
            }
        }
    }
    let Some(size) = size else {
        return err(
            ErrorKind::Shape,
            "vmap: in_axes maps no input (every entry is None)",
        );
    };
    with_main(TraceKind::Batch { size }, |main| {
        let ins: Vec<Array> = args
            .iter()
            .zip(&axes)
            .map(|(a, ax)| match ax {
                Some(ax) => {
                    let mut aval = a.aval();
                    aval.shape.remove(*ax);
                    main.tracer(
                        aval,
                        TracerData::Batch {
                            val: a.clone(),
                            bdim: Some(*ax),
                        },
                    )
                }
                None => a.clone(),
            })
            .collect();
        let outs = f(&ins);
        let out_axes = match out_axes {
            Some(g) => g()?,
            None => vec![Some(0); outs.len()],
        };
        if out_axes.len() != outs.len() {
            return err(
                ErrorKind::Shape,
                format!(
                    "vmap: {} out_axes for {} outputs",
                    out_axes.len(),
                    outs.len()
                ),
            );
        }
        outs.iter()
            .zip(out_axes)
            .map(|(o, ax)| {
                let (val, bdim) = match main.own(o) {
                    Some(TracerData::Batch { val, bdim }) => (val.clone(), *bdim),
                    _ => (o.clone(), None),
                };
                match ax {
                    Some(ax) => {
                        let v = front(&val, bdim, size);
                        let r = v.ndim() as isize;
                        if ax >= r || ax < -r {
                            return err(
                                ErrorKind::Shape,
                                format!(
                                    "vmap: out_axes {ax} is out of range for an output of rank {}",
                                    r - 1
                                ),
                            );
                        }
                        Ok(v.moveaxis(0, ax))
                    }
                    None if bdim.is_none() => Ok(val),
                    None => err(
                        ErrorKind::Shape,
                        "vmap: out_axes None for an output that depends on the mapped inputs",
                    ),
                }
            })
            .collect()
    })
}
