//! `einsum`: parses the subscripts, takes diagonals for repeated labels,
//! sums labels used by one operand only, then contracts operands left to
//! right with [`dot_general`] (shared labels still needed later are batch
//! axes) and finally transposes to the output order.

use super::products::diagonal;
use crate::Array;
use crate::error::{Error, ErrorKind, Result};
use crate::lax::dot_general;

type Labels = Vec<char>;

/// Einstein summation over the labelled axes of `operands`.
///
/// `subscripts` is NumPy's notation: `"ij,jk->ik"` (explicit output),
/// `"ij,jk"` (implicit: labels used once, sorted), repeated labels within
/// an operand for diagonals (`"ii->i"`, `"ii"` is the trace), and `...` for
/// broadcast leading axes.
///
/// Partial: no optimize, precision or preferred_element_type; operands contract left to right.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::einsum("ii", &[&a]).item::<f32>(), 5.0);
/// assert_eq!(jnp::einsum("ij->ji", &[&a]).to_vec::<f32>(), vec![1.0, 3.0, 2.0, 4.0]);
/// assert_eq!(jnp::einsum("ij,jk", &[&a, &a]).to_vec::<f32>(), vec![7.0, 10.0, 15.0, 22.0]);
/// assert_eq!(jnp::einsum("...j,j->...", &[&a, &a.slice(&[oxjax::Slice::all()]).sum(0, false)]).shape(), &[2]);
/// ```
pub fn einsum(subscripts: &str, operands: &[&Array]) -> Array {
    crate::primitive::or_panic(try_einsum(subscripts, operands))
}

/// [`einsum`], returning malformed subscripts or mismatched shapes as errors.
pub fn try_einsum(subscripts: &str, operands: &[&Array]) -> Result<Array> {
    let err = |why: String| -> Error {
        let shapes: Vec<String> = operands
            .iter()
            .map(|a| format!("{:?}", a.shape()))
            .collect();
        Error::new(
            ErrorKind::Shape,
            format!(
                "einsum: {why} (subscripts {subscripts:?}, shapes {})",
                shapes.join(", ")
            ),
        )
    };
    let spec: String = subscripts.chars().filter(|c| !c.is_whitespace()).collect();
    let (ins, out) = match spec.split_once("->") {
        Some((i, o)) => (i.to_string(), Some(o.to_string())),
        None => (spec.clone(), None),
    };
    let terms: Vec<&str> = ins.split(',').collect();
    if terms.len() != operands.len() {
        return Err(err(format!(
            "{} terms for {} operands",
            terms.len(),
            operands.len()
        )));
    }
    // Ellipsis axes get private labels, aligned from the right.
    let ell_rank = terms
        .iter()
        .zip(operands)
        .filter(|(t, _)| t.contains("..."))
        .map(|(t, a)| a.ndim() + 3 - t.chars().count())
        .max()
        .unwrap_or(0);
    let ell: Labels = (0..ell_rank)
        .map(|i| char::from_u32(0x10000 + i as u32).unwrap())
        .collect();
    let parse = |t: &str, rank: Option<usize>| -> Result<Labels> {
        let mut v = Labels::new();
        let mut rest = t;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("...") {
                let named = t.chars().count() - 3;
                let k = match rank {
                    Some(r) if r >= named => r - named,
                    Some(_) => return Err(err(format!("term {t:?} has more labels than axes"))),
                    None => ell_rank,
                };
                v.extend_from_slice(&ell[ell_rank - k..]);
                rest = r;
            } else {
                let c = rest.chars().next().unwrap();
                if !c.is_ascii_alphabetic() {
                    return Err(err(format!("invalid label {c:?}")));
                }
                v.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        Ok(v)
    };
    let mut ops: Vec<(Labels, Array)> = Vec::new();
    for (t, a) in terms.iter().zip(operands) {
        let l = parse(t, Some(a.ndim()))?;
        if l.len() != a.ndim() {
            return Err(err(format!(
                "term {t:?} labels {} axes of a rank-{} operand",
                l.len(),
                a.ndim()
            )));
        }
        ops.push((l, (*a).clone()));
    }
    let all: Labels = ops.iter().flat_map(|(l, _)| l.clone()).collect();
    let out: Labels = match out {
        Some(o) => {
            let o = parse(&o, None)?;
            for c in &o {
                if !all.contains(c) {
                    return Err(err(format!("output label {c:?} is not in any input")));
                }
            }
            o
        }
        None => {
            let mut once: Labels = all
                .iter()
                .filter(|c| c.is_ascii() && all.iter().filter(|d| d == c).count() == 1)
                .copied()
                .collect();
            once.sort_unstable();
            let mut o = ell.clone();
            o.retain(|c| all.contains(c));
            o.extend(once);
            o
        }
    };
    // Every label's size (1 broadcasts).
    let mut size = std::collections::HashMap::new();
    for (l, a) in &ops {
        for (c, &d) in l.iter().zip(a.shape()) {
            let s = size.entry(*c).or_insert(d);
            if *s == 1 {
                *s = d;
            } else if d != 1 && d != *s {
                return Err(err(format!("label {c:?} has sizes {s} and {d}")));
            }
        }
    }
    // Repeated labels within an operand: take diagonals.
    for (l, a) in ops.iter_mut() {
        while let Some((i, j)) = repeated(l) {
            if a.shape()[i] != a.shape()[j] {
                return Err(err(format!(
                    "repeated label {:?} has sizes {} and {}",
                    l[i],
                    a.shape()[i],
                    a.shape()[j]
                )));
            }
            *a = diagonal(a, 0, i as isize, j as isize);
            let c = l[i];
            l.remove(j);
            l.remove(i);
            l.push(c);
        }
        // Size-1 axes of broadcast labels stretch to the label's size.
        let full: Vec<usize> = l.iter().map(|c| size[c]).collect();
        if full != a.shape() {
            *a = a.broadcast_to(&full);
        }
    }
    // Contract left to right.
    let needed = |ops: &[(Labels, Array)], skip: usize, c: char| {
        out.contains(&c) || ops.iter().skip(skip).any(|(l, _)| l.contains(&c))
    };
    let (mut acc_l, mut acc) = ops[0].clone();
    acc = sum_unused(&mut acc_l, &acc, |c| needed(&ops, 1, c));
    for k in 1..ops.len() {
        let (mut l, b) = ops[k].clone();
        let b = sum_unused(&mut l, &b, |c| acc_l.contains(&c) || needed(&ops, k + 1, c));
        let shared: Labels = acc_l.iter().filter(|c| l.contains(c)).copied().collect();
        let (batch, contract): (Labels, Labels) =
            shared.iter().partition(|&&c| needed(&ops, k + 1, c));
        let pos = |l: &Labels, cs: &Labels| -> Vec<usize> {
            cs.iter()
                .map(|c| l.iter().position(|d| d == c).unwrap())
                .collect()
        };
        let r = dot_general(
            &acc,
            &b,
            (&pos(&acc_l, &contract), &pos(&l, &contract)),
            (&pos(&acc_l, &batch), &pos(&l, &batch)),
        );
        let mut nl = batch.clone();
        nl.extend(acc_l.iter().filter(|c| !shared.contains(c)));
        nl.extend(l.iter().filter(|c| !shared.contains(c)));
        acc_l = nl;
        acc = r;
    }
    let acc = sum_unused(&mut acc_l, &acc, |c| out.contains(&c));
    let perm: Vec<usize> = out
        .iter()
        .map(|c| acc_l.iter().position(|d| d == c).unwrap())
        .collect();
    Ok(acc.transpose(&perm))
}

/// The first pair of positions holding the same label.
fn repeated(l: &Labels) -> Option<(usize, usize)> {
    (0..l.len()).find_map(|i| (i + 1..l.len()).find(|&j| l[j] == l[i]).map(|j| (i, j)))
}

/// Sums the axes whose labels are not `keep`, dropping them from `l`.
fn sum_unused(l: &mut Labels, a: &Array, keep: impl Fn(char) -> bool) -> Array {
    let drop: Vec<isize> = (0..l.len())
        .filter(|&i| !keep(l[i]))
        .map(|i| i as isize)
        .collect();
    if drop.is_empty() {
        return a.clone();
    }
    let mut i = 0;
    l.retain(|&c| {
        i += 1;
        keep(c)
    });
    a.sum(drop, false)
}
