//! The linear-algebra primitives — cholesky, triangular_solve, lu, qr, eigh
//! and svd, as `jax.lax.linalg` has them — with all their rules in one
//! place (shape rule, eager evaluation, jvp, batching, transpose), so
//! `prim`/`jvp`/`vmap`/`vjp` each need one arm.
//!
//! Each is one equation of a jaxpr (several results where JAX has them)
//! and runs as one routine call over the whole batch: leading axes are
//! batch axes, so `vmap` only moves its axis to the front. Under `jit` the
//! equation is an eager step of the program. Backends may implement the
//! routines; otherwise they run on the host on `faer` (`crate::routines`).

use super::bind;
use super::prim::Aval;
use super::vmap::all_front;
use crate::array::Array;
use crate::eager::Concrete;
use crate::error::{ErrorKind, Result, err};
use oxjax_abi::{DType, RoutineKind};
use std::fmt;

/// The linear-algebra primitives and their static parameters.
#[allow(missing_docs)] // the fields are named as in `jax.lax.linalg`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinalgPrim {
    /// `a` `[..., n, n]` → lower `l`, `l lᵀ = a` (reads the lower triangle).
    Cholesky,
    /// `(a [..., n, n], b)` → `x` with `op(a) x = b` (left side) or
    /// `x op(a) = b`; linear in `b`.
    TriangularSolve {
        lower: bool,
        transpose_a: bool,
        unit_diagonal: bool,
        left_side: bool,
    },
    /// `a` `[..., m, n]` → `(lu, pivots i32, permutation i32)`.
    Lu,
    /// `a` `[..., m, n]` → `(q, r)`.
    Qr { full_matrices: bool },
    /// `a` `[..., n, n]` → `(eigenvectors, eigenvalues ascending)`.
    Eigh,
    /// `a` `[..., m, n]` → `(s, u, vt)`, or `(s)` without `compute_uv`.
    Svd {
        full_matrices: bool,
        compute_uv: bool,
    },
}

impl LinalgPrim {
    fn name(self) -> &'static str {
        self.kind().name()
    }

    fn kind(self) -> RoutineKind {
        match self {
            LinalgPrim::Cholesky => RoutineKind::CHOLESKY,
            LinalgPrim::TriangularSolve { .. } => RoutineKind::TRIANGULAR_SOLVE,
            LinalgPrim::Lu => RoutineKind::LU,
            LinalgPrim::Qr { .. } => RoutineKind::QR,
            LinalgPrim::Eigh => RoutineKind::EIGH,
            LinalgPrim::Svd { .. } => RoutineKind::SVD,
        }
    }

    /// The routine's params (documented on each `RoutineKind`).
    fn params(self) -> Vec<i64> {
        match self {
            LinalgPrim::TriangularSolve {
                lower,
                transpose_a,
                unit_diagonal,
                left_side,
            } => vec![
                lower as i64,
                transpose_a as i64,
                unit_diagonal as i64,
                left_side as i64,
            ],
            LinalgPrim::Qr { full_matrices } => vec![full_matrices as i64],
            LinalgPrim::Svd {
                full_matrices,
                compute_uv,
            } => vec![full_matrices as i64, compute_uv as i64],
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for LinalgPrim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinalgPrim::TriangularSolve {
                lower,
                transpose_a,
                unit_diagonal,
                left_side,
            } => write!(
                f,
                "triangular_solve[lower={lower}, transpose_a={transpose_a}, \
                 unit_diagonal={unit_diagonal}, left_side={left_side}]"
            ),
            LinalgPrim::Qr { full_matrices } => write!(f, "qr[full_matrices={full_matrices}]"),
            LinalgPrim::Svd {
                full_matrices,
                compute_uv,
            } => write!(
                f,
                "svd[full_matrices={full_matrices}, compute_uv={compute_uv}]"
            ),
            p => f.write_str(p.name()),
        }
    }
}

/// The shape rule: result avals, or an error naming the op and shapes.
pub(crate) fn shape_rule(p: LinalgPrim, ins: &[Aval]) -> Result<Vec<Aval>> {
    let name = p.name();
    let a = &ins[0];
    let r = a.shape.len();
    if r < 2 {
        return err(
            ErrorKind::Shape,
            format!(
                "{name}: expected a matrix or a stack of matrices (shape [..., m, n]), got shape {:?}",
                a.shape
            ),
        );
    }
    if !matches!(a.dtype, DType::F32 | DType::F64) {
        return err(
            ErrorKind::DType,
            format!(
                "{name}: expected f32 or f64 operands, got {:?} of shape {:?}",
                a.dtype, a.shape
            ),
        );
    }
    let (m, n) = (a.shape[r - 2], a.shape[r - 1]);
    let batch = &a.shape[..r - 2];
    let k = m.min(n);
    let out = |dtype: DType, tail: &[usize]| Aval {
        shape: [batch, tail].concat(),
        dtype,
        weak: false,
    };
    let square = || {
        if m == n {
            Ok(())
        } else {
            err(
                ErrorKind::Shape,
                format!(
                    "{name}: expected a square matrix or a stack of them (shape [..., n, n]), got shape {:?}",
                    a.shape
                ),
            )
        }
    };
    let f = a.dtype;
    Ok(match p {
        LinalgPrim::Cholesky => {
            square()?;
            vec![out(f, &[n, n])]
        }
        LinalgPrim::TriangularSolve { left_side, .. } => {
            square()?;
            let b = &ins[1];
            let side = if left_side { "left" } else { "right" };
            let fits = b.shape.len() == r
                && b.shape[..r - 2] == *batch
                && b.shape[if left_side { r - 2 } else { r - 1 }] == n;
            if !fits {
                return err(
                    ErrorKind::Shape,
                    format!(
                        "{name}: a has shape {:?} but b has shape {:?}; with {side}_side b must be \
                     [..., {}] with a's batch axes",
                        a.shape,
                        b.shape,
                        if left_side { "n, k" } else { "k, n" }
                    ),
                );
            }
            if b.dtype != f {
                return err(
                    ErrorKind::DType,
                    format!(
                        "{name}: a is {f:?} but b is {:?} (shapes {:?} and {:?})",
                        b.dtype, a.shape, b.shape
                    ),
                );
            }
            vec![out(f, &b.shape[r - 2..])]
        }
        LinalgPrim::Lu => vec![
            out(f, &[m, n]),
            out(DType::I32, &[k]),
            out(DType::I32, &[m]),
        ],
        LinalgPrim::Qr { full_matrices } => {
            let c = if full_matrices { m } else { k };
            vec![out(f, &[m, c]), out(f, &[c, n])]
        }
        LinalgPrim::Eigh => {
            square()?;
            vec![out(f, &[n, n]), out(f, &[n])]
        }
        LinalgPrim::Svd {
            full_matrices,
            compute_uv,
        } => {
            let s = out(f, &[k]);
            if !compute_uv {
                vec![s]
            } else if full_matrices {
                vec![s, out(f, &[m, m]), out(f, &[n, n])]
            } else {
                vec![s, out(f, &[m, k]), out(f, &[k, n])]
            }
        }
    })
}

pub(crate) fn abstract_eval(p: LinalgPrim, ins: &[Aval]) -> Vec<Aval> {
    shape_rule(p, ins).unwrap_or_else(|e| crate::error::raise(e))
}

/// Binds `p` after checking its operands (the public entry point).
pub fn apply(p: LinalgPrim, args: &[&Array]) -> Result<Vec<Array>> {
    let avals: Vec<Aval> = args.iter().map(|a| a.aval()).collect();
    shape_rule(p, &avals)?;
    bind(super::prim::Prim::Linalg(p), args)
}

fn apply1(p: LinalgPrim, args: &[&Array]) -> Array {
    crate::eager::or_panic(apply(p, args)).remove(0)
}

/// One routine call over the whole batch.
pub(crate) fn eval_eager(p: LinalgPrim, ins: &[Concrete]) -> Result<Vec<Concrete>> {
    let avals: Vec<Aval> = ins
        .iter()
        .map(|c| Aval {
            shape: c.shape().to_vec(),
            dtype: c.dtype(),
            weak: false,
        })
        .collect();
    let outs = shape_rule(p, &avals)?;
    if ins.iter().any(|c| c.size() == 0) || outs.iter().any(|o| o.shape.contains(&0)) {
        return Ok(outs
            .iter()
            .map(|o| Concrete::zeros(&o.shape, o.dtype))
            .collect());
    }
    let refs: Vec<&Concrete> = ins.iter().collect();
    let shapes: Vec<(DType, &[usize])> = outs.iter().map(|o| (o.dtype, &o.shape[..])).collect();
    Concrete::routine(p.name(), p.kind(), p.params(), &refs, &shapes)
}

/// Batching: the routine batches over leading axes, so the vmapped axis
/// goes to the front of every operand.
pub(crate) fn batch(
    p: LinalgPrim,
    vals: &[Array],
    bdims: &[Option<usize>],
    size: usize,
) -> Vec<Array> {
    let all = all_front(vals, bdims, size);
    let refs: Vec<&Array> = all.iter().collect();
    crate::eager::or_panic(bind(super::prim::Prim::Linalg(p), &refs))
}

// ---- constants and views the rules (and `linalg`) build with ---------------

/// A constant computed on the host in f64, in `like`'s float dtype and on its device.
pub fn host_const(values: &[f64], shape: &[usize], like: &Array) -> Array {
    let dev = like.device();
    let a = if like.dtype() == DType::F64 {
        Array::try_from_slice(values, shape, &dev)
    } else {
        let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        Array::try_from_slice(&v, shape, &dev)
    };
    crate::eager::or_panic(a).astype(like.dtype())
}

/// The `n × m` identity-like constant with ones on diagonal 0.
pub fn eye(n: usize, m: usize, like: &Array) -> Array {
    let v: Vec<f64> = (0..n * m)
        .map(|i| if i / m == i % m { 1.0 } else { 0.0 })
        .collect();
    host_const(&v, &[n, m], like)
}

/// Swaps the last two axes.
pub fn mt(a: &Array) -> Array {
    let r = a.ndim();
    let mut perm: Vec<usize> = (0..r).collect();
    perm.swap(r - 2, r - 1);
    a.transpose(&perm)
}

// ---- derivatives -------------------------------------------------------------

/// `[n, n]` 0/1 mask from a predicate on (row, column), in `like`'s dtype.
fn mask(n: usize, like: &Array, f: impl Fn(usize, usize) -> bool) -> Array {
    let v: Vec<f64> = (0..n * n)
        .map(|i| if f(i / n, i % n) { 1.0 } else { 0.0 })
        .collect();
    host_const(&v, &[n, n], like)
}

fn last2(a: &Array) -> (usize, usize) {
    let s = a.shape();
    (s[s.len() - 2], s[s.len() - 1])
}

/// `op(a)⁻¹ b` (left) or `b op(a)⁻¹` (right) with the given triangle.
fn solve(a: &Array, b: &Array, lower: bool, transpose_a: bool, unit: bool, left: bool) -> Array {
    let p = LinalgPrim::TriangularSolve {
        lower,
        transpose_a,
        unit_diagonal: unit,
        left_side: left,
    };
    apply1(p, &[a, b])
}

/// The jvp rule: results and their tangents (`None`: zero), following
/// JAX's formulas. Tangents use only linear primitives (matmul, products
/// with primal-derived values, triangular solves in their right-hand side).
pub(crate) fn jvp(
    p: LinalgPrim,
    x: &[Array],
    t: &[Option<Array>],
) -> (Vec<Array>, Vec<Option<Array>>) {
    let refs: Vec<&Array> = x.iter().collect();
    let outs = crate::eager::or_panic(apply(p, &refs));
    if t.iter().all(Option::is_none) {
        let n = outs.len();
        return (outs, vec![None; n]);
    }
    let zero = |i: usize| t[i].clone().unwrap_or_else(|| x[i].zeros_like());
    let da = zero(0);
    let tangents = match p {
        LinalgPrim::Cholesky => {
            // dL = L Φ(L⁻¹ sym(dA) L⁻ᵀ), Φ: lower triangle, diagonal halved.
            let l = &outs[0];
            let n = last2(l).0;
            let sym = (&da + &mt(&da)) * 0.5;
            let tmp = solve(l, &sym, true, true, false, false);
            let inner = solve(l, &tmp, true, false, false, true);
            let phi = mask(n, l, |i, j| i >= j) - mask(n, l, |i, j| i == j) * 0.5;
            vec![Some(l.matmul(&(&inner * &phi)))]
        }
        LinalgPrim::TriangularSolve {
            lower,
            transpose_a,
            unit_diagonal,
            left_side,
        } => {
            // dx = op(a)⁻¹ (db - op(da) x)  (left), or (db - x op(da)) op(a)⁻¹.
            let xs = &outs[0];
            let n = last2(&x[0]).0;
            let mut rhs = zero(1);
            if t[0].is_some() {
                let keep = mask(n, &x[0], |i, j| {
                    (if lower { i >= j } else { i <= j }) && !(unit_diagonal && i == j)
                });
                let d = &da * &keep;
                let d = if transpose_a { mt(&d) } else { d };
                rhs = if left_side {
                    &rhs - &d.matmul(xs)
                } else {
                    &rhs - &xs.matmul(&d)
                };
            }
            vec![Some(apply1(p, &[&x[0], &rhs]))]
        }
        LinalgPrim::Lu => {
            let (m, n) = last2(&x[0]);
            if m != n {
                crate::error::fail(
                    crate::ErrorKind::Shape,
                    format!(
                        "lu: differentiation needs a square matrix, got shape {:?}",
                        x[0].shape()
                    ),
                );
            }
            // P dA = dL U + L dU: with X = L⁻¹ P dA U⁻¹, dL = L tril(X, -1), dU = triu(X) U.
            let (lu, perm) = (&outs[0], &outs[2]);
            let pda = super::indexing_rules::take_along(
                &da,
                &perm.expand_dims(-1).broadcast_to(da.shape()),
                da.ndim() - 2,
            );
            let l = &(lu * &mask(n, lu, |i, j| i > j)) + &eye(n, n, lu);
            let y = solve(&l, &pda, true, false, true, true);
            let xx = solve(lu, &y, false, false, false, false);
            let upper = mask(n, lu, |i, j| i <= j);
            let dl = l.matmul(&(&xx * &mask(n, lu, |i, j| i > j)));
            let du = (&xx * &upper).matmul(&(lu * &upper));
            vec![Some(&dl + &du), None, None]
        }
        LinalgPrim::Qr { full_matrices } => {
            let (m, n) = last2(&x[0]);
            if m < n || (full_matrices && m != n) {
                crate::error::fail(
                    crate::ErrorKind::Shape,
                    format!(
                        "qr: differentiation needs m >= n and reduced factors (as in JAX), got \
                     shape {:?} with full_matrices={full_matrices}",
                        x[0].shape()
                    ),
                );
            }
            let (q, r) = (&outs[0], &outs[1]);
            let dx_rinv = solve(r, &da, false, false, false, false);
            let qt = mt(q).matmul(&dx_rinv);
            let low = &qt * &mask(n, &qt, |i, j| i > j);
            let omega = &low - &mt(&low);
            let dq = &q.matmul(&(&omega - &qt)) + &dx_rinv;
            let dr = (&qt - &omega).matmul(r);
            vec![Some(dq), Some(dr)]
        }
        LinalgPrim::Eigh => {
            // dw = diag(Vᵀ dA V), dV = V (F ∘ Vᵀ dA V), F_ij = 1/(w_j - w_i), F_ii = 0.
            let (v, w) = (&outs[0], &outs[1]);
            let n = w.shape()[w.ndim() - 1];
            let vav = mt(v).matmul(&da).matmul(v);
            let e = eye(n, n, w);
            let diff = &w.expand_dims(-2) - &w.expand_dims(-1) + &e;
            let f = &diff.reciprocal() - &e;
            let dv = v.matmul(&(&f * &vav));
            let dw = (&vav * &e).sum(-1, false);
            vec![Some(dv), Some(dw)]
        }
        LinalgPrim::Svd {
            full_matrices,
            compute_uv,
        } => {
            let (m, n) = last2(&x[0]);
            if full_matrices && compute_uv && m != n {
                crate::error::fail(
                    crate::ErrorKind::Shape,
                    format!(
                        "svd: differentiation needs full_matrices=false for a non-square matrix \
                     (as in JAX), got shape {:?}",
                        x[0].shape()
                    ),
                );
            }
            let thin = if compute_uv {
                outs.clone()
            } else {
                crate::eager::or_panic(apply(
                    LinalgPrim::Svd {
                        full_matrices: false,
                        compute_uv: true,
                    },
                    &[&x[0]],
                ))
            };
            let (s, u, vt) = (&thin[0], &thin[1], &thin[2]);
            let k = s.shape()[s.ndim() - 1];
            let v = mt(vt);
            let ds_mat = mt(u).matmul(&da).matmul(&v);
            let e = eye(k, k, s);
            let ds = (&ds_mat * &e).sum(-1, false);
            if !compute_uv {
                return (outs, vec![Some(ds)]);
            }
            let sr = s.expand_dims(-2);
            let sc = s.expand_dims(-1);
            let diffs = (&sr + &sc) * (&sr - &sc);
            let f = &(&diffs + &e).reciprocal() - &e;
            let dss = &ds_mat * &sr;
            let sds = &sc * &ds_mat;
            let mut du = u.matmul(&(&f * &(&dss + &mt(&dss))));
            let mut dv = v.matmul(&(&f * &(&sds + &mt(&sds))));
            let s_safe = Array::where_(&sr.equal(0.0), 1.0, &sr);
            if m > n {
                let dav = da.matmul(&v);
                du = &du + &((&dav - &u.matmul(&mt(u).matmul(&dav))) / &s_safe);
            }
            if n > m {
                let dahu = mt(&da).matmul(u);
                dv = &dv + &((&dahu - &v.matmul(&vt.matmul(&dahu))) / &s_safe);
            }
            vec![Some(ds), Some(du), Some(mt(&dv))]
        }
    };
    (outs, tangents)
}

/// Transpose of triangular_solve in `b` (its only linear operand):
/// `ct_b = op(a)⁻ᵀ ct` (left) or `ct op(a)⁻ᵀ` (right).
pub(crate) fn transpose(p: LinalgPrim, ct: &Array, known: &[Option<&Array>]) -> Vec<Option<Array>> {
    let LinalgPrim::TriangularSolve {
        lower,
        transpose_a,
        unit_diagonal,
        left_side,
    } = p
    else {
        panic!("internal error: {p} is not linear, so it has no transpose rule")
    };
    let a = known[0].expect("triangular_solve is linear in b only; a must be known");
    let flipped = LinalgPrim::TriangularSolve {
        lower,
        transpose_a: !transpose_a,
        unit_diagonal,
        left_side,
    };
    vec![None, Some(apply1(flipped, &[a, ct]))]
}

/// Whether `p` is linear (has a transpose rule).
pub(crate) fn is_linear(p: LinalgPrim) -> bool {
    matches!(p, LinalgPrim::TriangularSolve { .. })
}

/// Every linalg primitive once (for the rule-table completeness test).
#[cfg(test)]
pub(crate) fn all_kinds() -> Vec<LinalgPrim> {
    let ts = |lower, transpose_a, left_side| LinalgPrim::TriangularSolve {
        lower,
        transpose_a,
        unit_diagonal: false,
        left_side,
    };
    vec![
        LinalgPrim::Cholesky,
        ts(true, false, true),
        ts(false, true, false),
        LinalgPrim::Lu,
        LinalgPrim::Qr {
            full_matrices: false,
        },
        LinalgPrim::Eigh,
        LinalgPrim::Svd {
            full_matrices: false,
            compute_uv: true,
        },
    ]
}

/// Operands that fit `p` for the rule-table test: a well-conditioned
/// symmetric positive definite `[3, 3]` matrix (and a `[3, 3]` right-hand side).
#[cfg(test)]
pub(crate) fn operands(p: LinalgPrim) -> Vec<Array> {
    let a = Array::from_vec(
        vec![4.0f64, 1.0, 0.5, 1.0, 3.0, 0.25, 0.5, 0.25, 2.0],
        &[3, 3],
    );
    match p {
        LinalgPrim::TriangularSolve { .. } => {
            let b = Array::from_vec(
                vec![0.3f64, 0.7, 0.1, 0.9, 0.2, 0.6, 0.4, 0.8, 0.5],
                &[3, 3],
            );
            vec![a, b]
        }
        _ => vec![a],
    }
}
