//! `dot_general`: contraction over any pairs of axes with batch axes,
//! reduced to one batched `matmul` between two transposes and reshapes
//! (so it is differentiable and batchable like `matmul`).

use crate::Array;
use crate::error::{ErrorKind, Result, err};

/// Contracts `contracting.0[i]` of `lhs` with `contracting.1[i]` of `rhs`,
/// batching over `batch.0[i]` / `batch.1[i]`. The result's axes are the
/// batch axes, then `lhs`'s remaining axes, then `rhs`'s (as in XLA).
/// Operands are promoted to a common dtype.
///
/// ```
/// use oxjax::{Array, lax};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
/// let b = Array::from_vec(vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
/// // Plain matrix product: contract a's axis 1 with b's axis 0.
/// let c = lax::dot_general(&a, &b, (&[1], &[0]), (&[], &[]));
/// assert_eq!(c.to_vec::<f32>(), vec![4.0, 5.0, 10.0, 11.0]);
/// ```
pub fn dot_general(
    lhs: &Array,
    rhs: &Array,
    contracting: (&[usize], &[usize]),
    batch: (&[usize], &[usize]),
) -> Array {
    crate::primitive::or_panic(try_dot_general(lhs, rhs, contracting, batch))
}

/// [`dot_general`], returning misuse as an error.
pub fn try_dot_general(
    lhs: &Array,
    rhs: &Array,
    contracting: (&[usize], &[usize]),
    batch: (&[usize], &[usize]),
) -> Result<Array> {
    let (ls, rs) = (lhs.shape(), rhs.shape());
    let bad = |why: String| {
        err(
            ErrorKind::Shape,
            format!(
                "dot_general: {why} (shapes {ls:?} and {rs:?}, contracting {contracting:?}, batch {batch:?})"
            ),
        )
    };
    if contracting.0.len() != contracting.1.len() || batch.0.len() != batch.1.len() {
        return bad("lhs and rhs need as many contracting and batch axes".into());
    }
    for (side, shape, dims) in [
        ("lhs", ls, [contracting.0, batch.0].concat()),
        ("rhs", rs, [contracting.1, batch.1].concat()),
    ] {
        let mut seen = vec![false; shape.len()];
        for &d in &dims {
            if d >= shape.len() || std::mem::replace(&mut seen[d], true) {
                return bad(format!("{side} axis {d} is out of range or repeated"));
            }
        }
    }
    for (&a, &b) in contracting
        .0
        .iter()
        .zip(contracting.1)
        .chain(batch.0.iter().zip(batch.1))
    {
        if ls[a] != rs[b] {
            return bad(format!(
                "lhs axis {a} ({}) and rhs axis {b} ({}) differ",
                ls[a], rs[b]
            ));
        }
    }
    let free = |rank: usize, c: &[usize], b: &[usize]| -> Vec<usize> {
        (0..rank)
            .filter(|d| !c.contains(d) && !b.contains(d))
            .collect()
    };
    let lf = free(ls.len(), contracting.0, batch.0);
    let rf = free(rs.len(), contracting.1, batch.1);
    let prod = |shape: &[usize], dims: &[usize]| dims.iter().map(|&d| shape[d]).product::<usize>();
    let (nb, nk) = (prod(ls, batch.0), prod(ls, contracting.0));
    let (nl, nr) = (prod(ls, &lf), prod(rs, &rf));
    let lperm = [batch.0, &lf, contracting.0].concat();
    let rperm = [batch.1, contracting.1, &rf].concat();
    let to = |x: &Array, perm: &[usize], shape: [usize; 3]| {
        let s: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
        x.transpose(perm).reshape(&s)
    };
    let a = to(lhs, &lperm, [nb, nl, nk]);
    let b = to(rhs, &rperm, [nb, nk, nr]);
    let out = a.try_matmul(&b)?;
    let shape: Vec<isize> = batch
        .0
        .iter()
        .map(|&d| ls[d])
        .chain(lf.iter().map(|&d| ls[d]))
        .chain(rf.iter().map(|&d| rs[d]))
        .map(|d| d as isize)
        .collect();
    out.try_reshape(&shape)
}
