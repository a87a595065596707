//! The linear-algebra routines on the host, on `faer`: CHOLESKY,
//! TRIANGULAR_SOLVE, LU, QR, EIGH and SVD, batched over the leading axes,
//! f32 and f64 (the contracts are documented on each `RoutineKind`).
//! Failures of the numerics (a matrix that is not positive definite, an
//! SVD or eigensolver that does not converge) give NaNs, as in JAX.

use crate::error::{ErrorKind, Result, err};
use faer::traits::RealField;
use faer::{Mat, MatRef, Side};
use oxjax_abi::{DType, Routine, RoutineKind as R};

/// An element type the routines compute in.
trait Elem: RealField + Copy + bytemuck::Pod {
    fn nan() -> Self;
}
impl Elem for f32 {
    fn nan() -> Self {
        f32::NAN
    }
}
impl Elem for f64 {
    fn nan() -> Self {
        f64::NAN
    }
}

/// `(batch, m, n)` of a routine operand `[..., m, n]`.
fn dims(shape: &[u64]) -> (usize, usize, usize) {
    let r = shape.len();
    let (m, n) = (shape[r - 2] as usize, shape[r - 1] as usize);
    let batch = shape[..r - 2].iter().product::<u64>() as usize;
    (batch, m, n)
}

/// Appends `a` row-major.
fn push<T: Elem>(a: MatRef<'_, T>, out: &mut Vec<T>) {
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            out.push(a[(i, j)]);
        }
    }
}

pub(super) fn run(routine: &Routine, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
    let name = routine.kind.name();
    if routine.inputs.is_empty() || routine.inputs[0].shape.len() < 2 {
        return err(
            ErrorKind::Shape,
            format!(
                "{name} routine: expected [..., m, n] operands, got {:?}",
                routine.inputs
            ),
        );
    }
    match routine.inputs[0].dtype {
        DType::F32 => typed::<f32>(routine, inputs),
        DType::F64 => typed::<f64>(routine, inputs),
        d => err(
            ErrorKind::DType,
            format!("{name} routine: operands must be f32 or f64, got {d:?}"),
        ),
    }
}

fn typed<T: Elem>(routine: &Routine, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>> {
    let p = |i: usize| routine.params.get(i).copied().unwrap_or(0) != 0;
    let (batch, m, n) = dims(&routine.inputs[0].shape);
    let a = super::values::<T>(inputs[0]);
    let mat = |b: usize| MatRef::from_row_major_slice(&a[b * m * n..(b + 1) * m * n], m, n);
    let k = m.min(n);
    // One Vec of elements per float output, and the i32 outputs as usize.
    let mut outs: Vec<Vec<T>> = Vec::new();
    let mut ints: Vec<Vec<usize>> = Vec::new();
    match routine.kind {
        R::CHOLESKY => {
            let mut l = Vec::with_capacity(a.len());
            for b in 0..batch {
                match mat(b).llt(Side::Lower) {
                    Ok(f) => push(f.L(), &mut l),
                    Err(_) => l.extend(std::iter::repeat_n(T::nan(), n * n)),
                }
            }
            outs.push(l);
        }
        R::TRIANGULAR_SOLVE => {
            let (lower, transpose_a, unit, left) = (p(0), p(1), p(2), p(3));
            let (_, r, c) = dims(&routine.inputs[1].shape);
            let rhs = super::values::<T>(inputs[1]);
            let mut x = Vec::with_capacity(rhs.len());
            for b in 0..batch {
                // Solve M X = B with M = op(a) (left) or op(a)ᵀ on Bᵀ (right).
                let t = transpose_a == left;
                let low = lower != t;
                let src = mat(b);
                let tri = Mat::from_fn(n, n, |i, j| {
                    let v = if t { src[(j, i)] } else { src[(i, j)] };
                    if (low && j <= i) || (!low && j >= i) {
                        v
                    } else {
                        T::zero_impl()
                    }
                });
                let bm = MatRef::from_row_major_slice(&rhs[b * r * c..(b + 1) * r * c], r, c);
                let mut xm = if left {
                    bm.to_owned()
                } else {
                    bm.transpose().to_owned()
                };
                match (low, unit) {
                    (true, false) => tri.solve_lower_triangular_in_place(&mut xm),
                    (true, true) => tri.solve_unit_lower_triangular_in_place(&mut xm),
                    (false, false) => tri.solve_upper_triangular_in_place(&mut xm),
                    (false, true) => tri.solve_unit_upper_triangular_in_place(&mut xm),
                }
                if left {
                    push(xm.as_ref(), &mut x);
                } else {
                    push(xm.transpose(), &mut x);
                }
            }
            outs.push(x);
        }
        R::LU => {
            let (mut lu, mut piv, mut perm) = (Vec::new(), Vec::new(), Vec::new());
            for b in 0..batch {
                let f = mat(b).partial_piv_lu();
                let (l, u) = (f.L(), f.U());
                push(
                    Mat::from_fn(m, n, |i, j| if j < i { l[(i, j)] } else { u[(i, j)] }).as_ref(),
                    &mut lu,
                );
                let fwd = f.P().arrays().0;
                // LAPACK pivots: replay the permutation as row swaps.
                let mut order: Vec<usize> = (0..m).collect();
                let mut at: Vec<usize> = (0..m).collect();
                for j in 0..k {
                    let q = at[fwd[j]];
                    piv.push(q);
                    let (rj, rq) = (order[j], order[q]);
                    order.swap(j, q);
                    at[rj] = q;
                    at[rq] = j;
                }
                perm.extend_from_slice(fwd);
            }
            outs.push(lu);
            ints.push(piv);
            ints.push(perm);
        }
        R::QR => {
            let full = p(0);
            let (mut q, mut r) = (Vec::new(), Vec::new());
            for b in 0..batch {
                let f = mat(b).qr();
                if full {
                    push(f.compute_Q().as_ref(), &mut q);
                    // faer keeps `k` rows of `r`; the full factor has `m`.
                    let fr = f.thin_R();
                    let rows =
                        Mat::from_fn(m, n, |i, j| if i < k { fr[(i, j)] } else { T::zero_impl() });
                    push(rows.as_ref(), &mut r);
                } else {
                    push(f.compute_thin_Q().as_ref(), &mut q);
                    push(f.thin_R(), &mut r);
                }
            }
            outs.push(q);
            outs.push(r);
        }
        R::EIGH => {
            let (mut v, mut w) = (Vec::new(), Vec::new());
            for b in 0..batch {
                match mat(b).self_adjoint_eigen(Side::Lower) {
                    Ok(f) => {
                        push(f.U(), &mut v);
                        w.extend(f.S().column_vector().iter().copied());
                    }
                    Err(_) => {
                        v.extend(std::iter::repeat_n(T::nan(), n * n));
                        w.extend(std::iter::repeat_n(T::nan(), n));
                    }
                }
            }
            outs.push(v);
            outs.push(w);
        }
        R::SVD => {
            let (full, uv) = (p(0), p(1));
            let (mut s, mut u, mut vt) = (Vec::new(), Vec::new(), Vec::new());
            let (ur, vr) = if full { (m, n) } else { (k, k) };
            for b in 0..batch {
                let f = if full {
                    mat(b).svd()
                } else {
                    mat(b).thin_svd()
                };
                match f {
                    Ok(f) => {
                        s.extend(f.S().column_vector().iter().copied());
                        if uv {
                            push(f.U(), &mut u);
                            push(f.V().transpose(), &mut vt);
                        }
                    }
                    Err(_) => {
                        s.extend(std::iter::repeat_n(T::nan(), k));
                        if uv {
                            u.extend(std::iter::repeat_n(T::nan(), m * ur));
                            vt.extend(std::iter::repeat_n(T::nan(), vr * n));
                        }
                    }
                }
            }
            outs.push(s);
            if uv {
                outs.push(u);
                outs.push(vt);
            }
        }
        kind => {
            return err(
                ErrorKind::Value,
                format!("routine {kind:?} is not a linear-algebra routine"),
            );
        }
    }
    let lens = outs.iter().map(Vec::len).chain(ints.iter().map(Vec::len));
    for (len, d) in lens.zip(&routine.outputs) {
        let want = d.shape.iter().product::<u64>() as usize;
        if len != want {
            return err(
                ErrorKind::Shape,
                format!(
                    "{:?} routine: output of shape {:?} got {len} elements (inputs {:?})",
                    routine.kind, d.shape, routine.inputs
                ),
            );
        }
    }
    let mut bytes: Vec<Vec<u8>> = outs
        .iter()
        .map(|o| bytemuck::cast_slice(o).to_vec())
        .collect();
    for i in &ints {
        let i32s: Vec<i32> = i.iter().map(|&x| x as i32).collect();
        bytes.push(bytemuck::cast_slice(&i32s).to_vec());
    }
    Ok(bytes)
}
