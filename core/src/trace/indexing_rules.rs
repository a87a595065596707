//! The indexing primitives — gather, scatter, sort and cumulative scans —
//! with all their rules in one place (shape rule, eager evaluation, jvp,
//! batching, transpose), so `prim`/`jvp`/`vmap`/`vjp` each need one arm.
//!
//! Gather and scatter work along one axis with an i32 index array of any
//! shape (`x.shape[..axis] ++ idx.shape ++ x.shape[axis+1..]`); the public
//! API reduces NumPy indexing to them by flattening (a "point" gather on
//! the raveled operand). Sort and scans are device routines.

use super::bind1;
use super::prim::Aval;
use crate::array::Array;
use crate::eager::Concrete;
use crate::error::{ErrorKind, Result, err};
use oxjax_abi::DType;
use std::fmt;

// The scan and scatter ops and the gather shape rule are the lowering's
// (lower/), kept at their old paths.
pub use crate::lower::gather_shape;
pub use crate::lower::{CumOp, ScatterMode};

/// The indexing primitives and their static parameters.
#[allow(missing_docs)] // the fields are named as in JAX and described per variant
#[derive(Clone, Debug, PartialEq)]
pub enum IxPrim {
    /// `(x, idx: i32)`: `out[pre, J, post] = x[pre, idx[J], post]` along
    /// `axis`, indices clamped into the axis (JAX's clip mode).
    Gather { axis: usize },
    /// `(x, idx: i32, updates)`: `out = x; out[pre, idx[J], post] (mode)=
    /// updates[pre, J, post]`; out-of-range indices are dropped, a `Set`'s
    /// last duplicate wins (JAX's `.at[]` with FILL_OR_DROP).
    Scatter { mode: ScatterMode, axis: usize },
    /// Stable sort along `axis`, NaNs last; the i32 permutation instead of
    /// the values when `argsort`.
    Sort {
        axis: usize,
        descending: bool,
        argsort: bool,
    },
    /// Inclusive scan along `axis` (from the end when `reverse`).
    Cumulative {
        op: CumOp,
        axis: usize,
        reverse: bool,
    },
}

impl fmt::Display for IxPrim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IxPrim::Gather { axis } => write!(f, "gather[axis={axis}]"),
            IxPrim::Scatter { mode, axis } => {
                let m = format!("{mode:?}").to_lowercase();
                write!(f, "scatter-{m}[axis={axis}]")
            }
            IxPrim::Sort {
                axis,
                descending,
                argsort,
            } => write!(
                f,
                "{}[dimension={axis}, descending={descending}]",
                if *argsort { "argsort" } else { "sort" }
            ),
            IxPrim::Cumulative { op, axis, reverse } => {
                write!(f, "{}[axis={axis}, reverse={reverse}]", op.name())
            }
        }
    }
}

pub(crate) fn abstract_eval(p: &IxPrim, ins: &[Aval]) -> Aval {
    let x = &ins[0];
    match p {
        IxPrim::Gather { axis } => Aval {
            shape: gather_shape(&x.shape, &ins[1].shape, *axis),
            ..x.clone()
        },
        IxPrim::Scatter { .. } => Aval {
            weak: x.weak && ins[2].weak,
            ..x.clone()
        },
        IxPrim::Sort { argsort: true, .. } => Aval {
            shape: x.shape.clone(),
            dtype: DType::I32,
            weak: false,
        },
        IxPrim::Sort { .. } | IxPrim::Cumulative { .. } => x.clone(),
    }
}

pub(crate) fn eval_eager(p: &IxPrim, ins: &[Concrete]) -> Result<Concrete> {
    let x = &ins[0];
    match *p {
        IxPrim::Gather { axis } => x.gather(&ins[1], axis),
        IxPrim::Scatter { mode, axis } => x.scatter(&ins[1], &ins[2], mode, axis),
        IxPrim::Sort {
            axis,
            descending,
            argsort,
        } => x.sort_routine(axis, descending, argsort),
        IxPrim::Cumulative { op, axis, reverse } => x.cumulative(op, axis, reverse),
    }
}

// ---- helpers built from primitives --------------------------------------

fn ix(p: IxPrim, args: &[&Array]) -> Array {
    bind1(super::prim::Prim::Indexing(p), args)
}

/// Binds [`IxPrim::Gather`].
pub fn gather(x: &Array, idx: &Array, axis: usize) -> Array {
    ix(IxPrim::Gather { axis }, &[x, idx])
}

/// Binds [`IxPrim::Scatter`].
pub fn scatter(x: &Array, idx: &Array, upd: &Array, mode: ScatterMode, axis: usize) -> Array {
    ix(IxPrim::Scatter { mode, axis }, &[x, idx, upd])
}

/// Binds [`IxPrim::Cumulative`].
pub fn cumulative(x: &Array, op: CumOp, axis: usize, reverse: bool) -> Array {
    ix(IxPrim::Cumulative { op, axis, reverse }, &[x])
}

/// Binds [`IxPrim::Sort`] for the permutation.
pub fn argsort(x: &Array, axis: usize, descending: bool) -> Array {
    let p = IxPrim::Sort {
        axis,
        descending,
        argsort: true,
    };
    ix(p, &[x])
}

/// `0 <= idx < n` as bool.
pub fn in_range(idx: &Array, n: usize) -> Array {
    idx.greater_equal(0).bitwise_and(idx.less(n as i32))
}

/// Indices clamped into `0..n`.
pub fn clamp(idx: &Array, n: usize) -> Array {
    idx.minimum(n as i32 - 1).maximum(0)
}

/// `0..n` as i32 (a constant, like `arange`, but computed in i32 so every
/// device can make it).
pub fn arange(n: usize) -> Array {
    Array::arange(0.0, n as f64, 1.0, DType::I32)
}

/// `i` along axis `d` of an array of `shape`, shaped to broadcast against it.
pub fn iota(shape: &[usize], d: usize) -> Array {
    let mut s = vec![1isize; shape.len()];
    s[d] = shape[d] as isize;
    arange(shape[d]).reshape(&s)
}

/// A `mask` of the index shape broadcast to updates' shape
/// (`pre ++ idx ++ post` around `axis` of an operand of rank `rank`).
fn spread(mask: &Array, rank: usize, axis: usize, upd_shape: &[usize]) -> Array {
    let mut s: Vec<isize> = vec![1; axis];
    s.extend(mask.shape().iter().map(|&d| d as isize));
    s.extend(std::iter::repeat_n(1, rank - axis - 1));
    mask.reshape(&s).broadcast_to(upd_shape)
}

/// NumPy's `take_along_axis` for in-range indices of `x`'s rank, whose
/// shape matches `x` except along `axis`: one point gather on the raveled
/// operand (indices clamped first, so they never leak into another row).
pub fn take_along(x: &Array, idx: &Array, axis: usize) -> Array {
    gather(&x.reshape(&[-1]), &flat_along(x.shape(), idx, axis), 0)
}

/// The row-major flat index into an array of `shape` of each
/// `idx[.., i, ..]` along `axis` (indices clamped into the axis), for
/// [`take_along`] and NumPy's `put_along_axis`.
pub fn flat_along(shape: &[usize], idx: &Array, axis: usize) -> Array {
    let ishape = idx.shape().to_vec();
    let mut flat = clamp(idx, shape[axis]);
    let mut stride = 1usize;
    let mut strides = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        strides[d] = stride;
        stride *= shape[d];
    }
    flat = flat * strides[axis] as i32;
    for d in 0..shape.len() {
        if d != axis && shape[d] > 1 {
            flat = flat + iota(&ishape, d) * strides[d] as i32;
        }
    }
    flat
}

// ---- jvp -----------------------------------------------------------------

type T = Option<Array>;

fn inst(t: &T, like: &Array) -> Array {
    t.clone().unwrap_or_else(|| like.zeros_like())
}

/// The tangent of `y = p(x)`.
pub(crate) fn jvp(p: &IxPrim, x: &[Array], y: &Array, t: &[T]) -> T {
    match *p {
        IxPrim::Gather { axis } => t[0].as_ref().map(|t0| gather(t0, &x[1], axis)),
        IxPrim::Scatter { mode, axis } => {
            if t[0].is_none() && t[2].is_none() {
                return None;
            }
            let (tx, tu) = (inst(&t[0], &x[0]), inst(&t[2], &x[2]));
            let i = &x[1];
            let zeros = x[0].zeros_like();
            Some(match mode {
                ScatterMode::Set | ScatterMode::Add => scatter(&tx, i, &tu, mode, axis),
                // d(x * u) at a written position, exact for unique indices
                // (as JAX requires for scatter_mul's derivative).
                ScatterMode::Mul => {
                    let own = scatter(&tx, i, &x[2], ScatterMode::Mul, axis);
                    match &t[2] {
                        None => own,
                        Some(tu) => {
                            let d = &gather(&x[0], i, axis) * tu;
                            &own + &scatter(&zeros, i, &d, ScatterMode::Add, axis)
                        }
                    }
                }
                // The tangent of whatever attains the extremum, averaged
                // over ties (like reduce_max).
                ScatterMode::Min | ScatterMode::Max => {
                    let f = x[0].dtype();
                    let hit_x = x[0].equal(y);
                    let hit_u = x[2].equal(gather(y, i, axis));
                    let add = |u: &Array| scatter(&zeros, i, u, ScatterMode::Add, axis);
                    let count = &hit_x.astype(f) + &add(&hit_u.astype(f));
                    let num =
                        &Array::where_(&hit_x, &tx, 0.0) + &add(&Array::where_(&hit_u, &tu, 0.0));
                    &num / &count
                }
            })
        }
        IxPrim::Sort {
            axis, descending, ..
        } => t[0]
            .as_ref()
            .map(|t0| take_along(t0, &argsort(&x[0], axis, descending), axis)),
        IxPrim::Cumulative { op, axis, reverse } => {
            let t0 = t[0].as_ref()?;
            Some(match op {
                CumOp::Sum => cumulative(t0, op, axis, reverse),
                CumOp::Prod => cumprod_jvp(&x[0], y, t0, axis, reverse),
                CumOp::Max | CumOp::Min => {
                    let flip = |a: &Array| {
                        if reverse {
                            a.flip(&[axis as isize])
                        } else {
                            a.clone()
                        }
                    };
                    let (xf, yf) = (flip(&x[0]), flip(y));
                    // The last position so far that set the running extremum.
                    let at =
                        Array::where_(&xf.equal(&yf), iota(xf.shape(), axis), 0).astype(DType::I32);
                    let arg = cumulative(&at, CumOp::Max, axis, false);
                    flip(&take_along(&flip(t0), &arg, axis))
                }
            })
        }
    }
}

/// The tangent of `y = cumprod(x)`: the linear recurrence
/// `dy[i] = x[i] dy[i-1] + y[i-1] t[i]`, solved by a Hillis–Steele scan of
/// `(a, b)` pairs (`log2 n` shifted multiply-adds). Unlike `y * cumsum(t /
/// x)` it is exact at zeros, and it is built from linear primitives in `t`,
/// so its transpose comes for free.
pub(crate) fn cumprod_jvp(x: &Array, y: &Array, t: &Array, axis: usize, reverse: bool) -> Array {
    let ax = axis as isize;
    let flip = |a: &Array| if reverse { a.flip(&[ax]) } else { a.clone() };
    let (x, y, t) = (flip(x), flip(y), flip(t));
    let n = x.shape()[axis];
    // Shift by `d` along the axis, filling with `fill`.
    let shift = |a: &Array, d: usize, fill: f64| {
        let mut w = vec![(0, 0); a.ndim()];
        w[axis] = (d, 0);
        let mut s = vec![crate::Slice::all(); a.ndim()];
        s[axis] = crate::Slice {
            start: Some(0),
            stop: Some((n - d) as isize),
            step: 1,
        };
        a.slice(&s).pad(&w, fill)
    };
    let (mut a, mut b) = (x.clone(), &shift(&y, 1, 1.0) * &t);
    let mut d = 1;
    while d < n {
        b = &b + &(&a * &shift(&b, d, 0.0));
        a = &a * &shift(&a, d, 1.0);
        d *= 2;
    }
    flip(&b)
}

// ---- batching ------------------------------------------------------------

/// Applies `p` to operands with batch axes `bdims` (at least one some);
/// the result's batch axis is 0.
pub(crate) fn batch(p: &IxPrim, vals: &[Array], bdims: &[Option<usize>], size: usize) -> Array {
    let front = |k: usize| super::vmap::front(&vals[k], bdims[k], size);
    match *p {
        IxPrim::Sort {
            axis,
            descending,
            argsort,
        } => {
            let p = IxPrim::Sort {
                axis: axis + 1,
                descending,
                argsort,
            };
            ix(p, &[&front(0)])
        }
        IxPrim::Cumulative { op, axis, reverse } => cumulative(&front(0), op, axis + 1, reverse),
        IxPrim::Gather { axis } => match bdims {
            [_, None] => gather(&front(0), &vals[1], axis + 1),
            [None, _] => gather(&vals[0], &front(1), axis).moveaxis(axis as isize, 0),
            _ => {
                // Both batched: fold the batch into the gathered axis and
                // offset each lane's indices by its row.
                let (x, idx) = (front(0), front(1));
                let n = x.shape()[axis + 1];
                let rest: Vec<usize> = x.shape()[1..]
                    .iter()
                    .enumerate()
                    .filter(|&(d, _)| d != axis)
                    .map(|(_, &s)| s)
                    .collect();
                let mut folded: Vec<isize> = vec![(size * n) as isize];
                folded.extend(rest.iter().map(|&s| s as isize));
                let xm = x.moveaxis(axis as isize + 1, 1).reshape(&folded);
                let lane = iota(idx.shape(), 0) * n as i32;
                let out = gather(&xm, &(&clamp(&idx, n) + &lane), 0);
                // [B, idx.., pre.., post..] -> [B, pre.., idx.., post..]
                let k = idx.ndim() - 1;
                let mut perm = vec![0];
                perm.extend(1 + k..1 + k + axis);
                perm.extend(1..1 + k);
                perm.extend(1 + k + axis..out.ndim());
                out.transpose(&perm)
            }
        },
        IxPrim::Scatter { mode, axis } => {
            // Every operand batched; the batch folded into the scattered
            // axis, each lane's in-range indices offset by its row.
            let (x, idx, upd) = (front(0), front(1), front(2));
            let n = x.shape()[axis + 1];
            let xm = x.moveaxis(axis as isize + 1, 1);
            let mshape = xm.shape().to_vec();
            let mut folded: Vec<isize> = vec![(size * n) as isize];
            folded.extend(mshape[2..].iter().map(|&s| s as isize));
            let lane = iota(idx.shape(), 0) * n as i32;
            let flat = Array::where_(&in_range(&idx, n), &idx + &lane, -1).astype(DType::I32);
            // updates [B, pre.., idx.., post..] -> [B, idx.., pre.., post..]
            let k = idx.ndim() - 1;
            let mut perm = vec![0];
            perm.extend(1 + axis..1 + axis + k);
            perm.extend(1..1 + axis);
            perm.extend(1 + axis + k..upd.ndim());
            let out = scatter(&xm.reshape(&folded), &flat, &upd.transpose(&perm), mode, 0);
            let back: Vec<isize> = mshape.iter().map(|&s| s as isize).collect();
            out.reshape(&back).moveaxis(1, axis as isize + 1)
        }
    }
}

// ---- transpose -----------------------------------------------------------

/// Whether `p` is linear in its float operands (has a transpose rule).
pub(crate) fn is_linear(p: &IxPrim) -> bool {
    matches!(
        p,
        IxPrim::Gather { .. }
            | IxPrim::Scatter {
                mode: ScatterMode::Set | ScatterMode::Add | ScatterMode::Mul,
                ..
            }
            | IxPrim::Cumulative { op: CumOp::Sum, .. }
    )
}

/// Cotangents of the linear operands given the output's `ct`.
pub(crate) fn transpose(
    p: &IxPrim,
    ct: &Array,
    known: &[Option<&Array>],
    avals: &[Aval],
) -> Vec<Option<Array>> {
    let lin = |i: usize| known[i].is_none();
    let idx = || known[1].expect("indices are known");
    match *p {
        IxPrim::Gather { axis } => {
            let x = &avals[0];
            let n = x.shape[axis];
            let zeros = Array::zeros(&x.shape, ct.dtype());
            vec![
                Some(scatter(
                    &zeros,
                    &clamp(idx(), n),
                    ct,
                    ScatterMode::Add,
                    axis,
                )),
                None,
            ]
        }
        IxPrim::Scatter { mode, axis } => {
            let (x, i) = (&avals[0], idx());
            let n = x.shape[axis];
            let rank = x.shape.len();
            let upd_shape = &avals[2].shape;
            match mode {
                ScatterMode::Add => vec![
                    lin(0).then(|| ct.clone()),
                    None,
                    lin(2).then(|| {
                        let ok = spread(&in_range(i, n), rank, axis, upd_shape);
                        Array::where_(&ok, gather(ct, i, axis), 0.0)
                    }),
                ],
                ScatterMode::Set => {
                    // Which update wins each position: scatter the update
                    // ids, read them back.
                    let m = i.size();
                    let ids = arange(m)
                        .reshape(&i.shape().iter().map(|&d| d as isize).collect::<Vec<_>>());
                    let none = Array::full(&[n], -1i32);
                    let won =
                        gather(&scatter(&none, i, &ids, ScatterMode::Set, 0), i, 0).equal(&ids);
                    vec![
                        lin(0).then(|| {
                            scatter(
                                ct,
                                i,
                                &Array::zeros(upd_shape, ct.dtype()),
                                ScatterMode::Set,
                                axis,
                            )
                        }),
                        None,
                        lin(2).then(|| {
                            Array::where_(
                                &spread(&won, rank, axis, upd_shape),
                                gather(ct, i, axis),
                                0.0,
                            )
                        }),
                    ]
                }
                ScatterMode::Mul => {
                    assert!(
                        !lin(2),
                        "internal error: scatter-mul is linear in its operand only"
                    );
                    vec![
                        Some(scatter(ct, i, known[2].unwrap(), ScatterMode::Mul, axis)),
                        None,
                        None,
                    ]
                }
                ScatterMode::Min | ScatterMode::Max => {
                    panic!("internal error: {p} is not linear, so it has no transpose rule")
                }
            }
        }
        IxPrim::Cumulative {
            op: CumOp::Sum,
            axis,
            reverse,
        } => vec![Some(cumulative(ct, CumOp::Sum, axis, !reverse))],
        IxPrim::Sort { .. } | IxPrim::Cumulative { .. } => {
            panic!("internal error: {p} is not linear, so it has no transpose rule")
        }
    }
}

// ---- rule-table test support ---------------------------------------------

/// Every indexing primitive kind once.
#[cfg(test)]
pub(crate) fn all_kinds() -> Vec<IxPrim> {
    let mut v = vec![IxPrim::Gather { axis: 1 }];
    for mode in [
        ScatterMode::Set,
        ScatterMode::Add,
        ScatterMode::Mul,
        ScatterMode::Min,
        ScatterMode::Max,
    ] {
        v.push(IxPrim::Scatter { mode, axis: 1 });
    }
    for (descending, argsort) in [(false, false), (true, false), (false, true)] {
        v.push(IxPrim::Sort {
            axis: 1,
            descending,
            argsort,
        });
    }
    for op in [CumOp::Sum, CumOp::Prod, CumOp::Max, CumOp::Min] {
        for reverse in [false, true] {
            v.push(IxPrim::Cumulative {
                op,
                axis: 1,
                reverse,
            });
        }
    }
    v
}

/// Operands that fit `p` (`x` is a `[2, 3]` f64 array).
#[cfg(test)]
pub(crate) fn operands(p: &IxPrim, x: Array) -> Vec<Array> {
    match p {
        IxPrim::Gather { .. } => vec![x, Array::from_vec(vec![2i32, 0, 5, -1], &[2, 2])],
        IxPrim::Scatter { .. } => {
            let u = Array::from_vec(vec![0.5f64, 0.25, 0.75, 0.3, 0.9, 0.1], &[2, 3]);
            vec![x, Array::from_vec(vec![2i32, 0, 7], &[3]), u]
        }
        _ => vec![x],
    }
}

// ---- index helpers the library and `Array::index` share ------------------

/// Checks that `idx` is an integer array and returns it as i32.
pub fn int_index(name: &str, idx: &Array, x: &Array) -> Result<Array> {
    match idx.dtype() {
        DType::I32 => Ok(idx.clone()),
        d if d.is_int() => Ok(idx.astype(DType::I32)),
        d => err(
            ErrorKind::DType,
            format!(
                "{name}: indices must be an integer array, got {d} indices of shape {:?} \
             (for an array of shape {:?})",
                idx.shape(),
                x.shape()
            ),
        ),
    }
}

/// `(array, axis)`: flattened for `None`, else the resolved axis.
fn along(name: &str, a: &Array, axis: Option<isize>) -> Result<(Array, usize)> {
    match axis {
        None => Ok((a.reshape(&[-1]), 0)),
        Some(ax) => Ok((a.clone(), crate::eager::axis(name, ax, a.ndim())?)),
    }
}

/// A stable sort (or argsort) along `axis` (`None`: of the flattened array).
pub fn sort_along(
    name: &str,
    a: &Array,
    axis: Option<isize>,
    descending: bool,
    argsort: bool,
) -> Result<Array> {
    let (x, axis) = along(name, a, axis)?;
    let p = IxPrim::Sort {
        axis,
        descending,
        argsort,
    };
    Ok(bind1(super::prim::Prim::Indexing(p), &[&x]))
}

/// A cumulative op along `axis` (`None`: of the flattened array); sums and
/// products of bool count in i32.
pub fn cumulative_along(name: &str, a: &Array, axis: Option<isize>, op: CumOp) -> Result<Array> {
    let (x, ax) = along(name, a, axis)?;
    // Sums and products of bool count in i32 (as JAX does).
    let x = if x.dtype() == DType::BOOL && matches!(op, CumOp::Sum | CumOp::Prod) {
        x.astype(DType::I32)
    } else {
        x
    };
    Ok(cumulative(&x, op, ax, false))
}

/// Compacts the elements of 1-d `vals` where `keep` is true into the first
/// slots of a `size`-long array filled with `fill`: one scatter at the
/// running count.
pub fn compact(vals: &Array, keep: &Array, size: usize, fill: &Array) -> Array {
    let pos = cumulative(&keep.astype(DType::I32), CumOp::Sum, 0, false) - 1;
    let pos = Array::where_(keep, &pos, -1).astype(DType::I32);
    let base = fill.astype(vals.dtype()).broadcast_to(&[size]);
    scatter(&base, &pos, vals, ScatterMode::Set, 0)
}

/// `jnp.nonzero(a, size=size, fill_value=fill)` (see `numpy::nonzero`).
pub fn nonzero(a: &Array, size: usize, fill_value: i32) -> Vec<Array> {
    let flat = a.reshape(&[-1]);
    let n = flat.size();
    let keep = flat.astype(DType::BOOL);
    let ids = arange(n);
    let pos = compact(&ids, &keep, size, &Array::scalar(-1i32));
    let valid = pos.greater_equal(0);
    let mut stride = 1usize;
    let mut out = Vec::with_capacity(a.ndim());
    for &d in a.shape().iter().rev() {
        let i = pos.floor_divide(stride as i32);
        let i = if d > 0 { i.remainder(d as i32) } else { i };
        out.push(Array::where_(&valid, &i, fill_value).astype(DType::I32));
        stride *= d.max(1);
    }
    out.reverse();
    out
}
