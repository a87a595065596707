//! Domain-aware minimisation after proptest's shrinking.
//!
//! proptest shrinks each generated value, but a case built with
//! `prop_flat_map` (values depend on shapes, shapes on view chains) cannot
//! simplify its outer layers without regenerating the inner ones. This
//! pass finishes the job greedily on the case itself: it drops view steps,
//! removes axes or sets them to 1, shortens reductions and DAGs, and
//! replaces values by 0 or 1, keeping each change that still fails.

use crate::case::{DagCase, OpCase};
use crate::eager::EagerCase;
use crate::runner::Case;
use oxjax_abi::{DType, Scalar};
use std::time::{Duration, Instant};

/// `values` resized to `n` by repetition.
fn cycle(values: &[u64], n: usize) -> Vec<u64> {
    if values.is_empty() {
        return vec![0; n];
    }
    values.iter().copied().cycle().take(n).collect()
}

/// Simpler replacements of one value: zero, one, then halfway toward
/// zero (integers) or the integer part (floats).
fn simpler(dtype: DType, bits: u64) -> Vec<u64> {
    let zero = Scalar::zero(dtype).to_bits();
    let one = Scalar::F64(1.0).cast(dtype).to_bits();
    let mut out = vec![zero, one];
    match Scalar::from_bits(dtype, bits) {
        Scalar::I32(v) if v.unsigned_abs() > 1 => out.push(Scalar::I32(v / 2).to_bits()),
        Scalar::U32(v) if v > 1 => out.push(Scalar::U32(v / 2).to_bits()),
        s if dtype.is_float() => {
            let v = s.as_f64();
            if v.is_finite() && v.trunc() != v {
                out.push(Scalar::F64(v.trunc()).cast(dtype).to_bits());
            } else if v.is_finite() && v.abs() > 2.0 {
                out.push(Scalar::F64((v / 2.0).trunc()).cast(dtype).to_bits());
            }
        }
        _ => {}
    }
    // Only ever move toward simpler values (zero is simplest, then one).
    let rank = |b: u64| {
        if b == zero {
            0
        } else if b == one {
            1
        } else {
            2
        }
    };
    out.into_iter()
        .filter(|&b| b != bits && rank(b) <= rank(bits))
        .collect()
}

/// Shape sets (aligned at the right, broadcasting) with one axis of the
/// full shape removed or set to 1, for every axis.
fn shape_candidates(shapes: &[Vec<usize>]) -> Vec<Vec<Vec<usize>>> {
    let full = shapes.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for axis in 0..full {
        for remove in [true, false] {
            let mut changed = false;
            let cand: Vec<Vec<usize>> = shapes
                .iter()
                .map(|s| {
                    let off = full - s.len();
                    let mut s = s.clone();
                    if axis >= off {
                        let j = axis - off;
                        if remove {
                            s.remove(j);
                            changed = true;
                        } else if s[j] > 1 {
                            s[j] = 1;
                            changed = true;
                        }
                    }
                    s
                })
                .collect();
            if changed {
                out.push(cand);
            }
        }
    }
    out
}

fn op_candidates(c: &OpCase) -> Vec<Case> {
    let mut out = Vec::new();
    let with = |f: &dyn Fn(&mut OpCase)| {
        let mut n = c.clone();
        f(&mut n);
        Case::Op(n)
    };
    // One element: the operands as scalars taken from their values at the
    // same position (a tiny argument that one formula gets wrong survives,
    // where shrinking axes by repetition may lose it).
    let scalar =
        c.out.iter().product::<usize>() > 1 || c.operands.iter().any(|o| !o.shape.is_empty());
    if scalar && !c.entry.starts_with("reduce_") {
        let longest = c.operands.iter().map(|o| o.values.len()).max().unwrap_or(0);
        let mut seen = std::collections::HashSet::new();
        for j in 0..longest {
            let vals: Vec<u64> = c
                .operands
                .iter()
                .map(|o| o.values.get(j).or(o.values.last()).copied().unwrap_or(0))
                .collect();
            if seen.len() >= 64 || !seen.insert(vals.clone()) {
                continue;
            }
            out.push(with(&|n: &mut OpCase| {
                n.out = vec![];
                for (o, &v) in n.operands.iter_mut().zip(&vals) {
                    o.shape = vec![];
                    o.view.clear();
                    o.values = vec![v];
                }
            }));
        }
    }
    // Read an operand without any view (same logical shape).
    for k in 0..c.operands.len() {
        if c.operands[k].view.len() > 1 {
            out.push(with(&|n: &mut OpCase| {
                let o = &mut n.operands[k];
                o.view.clear();
                o.values = cycle(&o.values, o.shape.iter().product());
            }));
        }
    }
    // Drop the innermost view step of an operand.
    for k in 0..c.operands.len() {
        if !c.operands[k].view.is_empty() {
            out.push(with(&|n: &mut OpCase| {
                let o = &mut n.operands[k];
                o.view.pop();
                let len = o.base().iter().product();
                o.values = cycle(&o.values, len);
            }));
        }
    }
    let plain = c.operands.iter().all(|o| o.view.is_empty());
    let reduce = c.entry.starts_with("reduce_");
    if plain {
        // Fewer or shorter axes (the reduced axis stays last).
        let mut shapes: Vec<Vec<usize>> = vec![c.out.clone()];
        shapes.extend(c.operands.iter().map(|o| {
            let mut s = o.shape.clone();
            if reduce {
                s.pop();
            }
            s
        }));
        for cand in shape_candidates(&shapes) {
            out.push(with(&|n: &mut OpCase| {
                n.out = cand[0].clone();
                for (o, s) in n.operands.iter_mut().zip(&cand[1..]) {
                    let last = o.shape.last().copied();
                    o.shape = s.clone();
                    if reduce {
                        o.shape.push(last.unwrap_or(1));
                    }
                    o.values = cycle(&o.values, o.shape.iter().product());
                }
            }));
        }
        if reduce && c.rsize > 1 {
            for r in [1, c.rsize / 2, c.rsize - 1] {
                out.push(with(&|n: &mut OpCase| {
                    n.rsize = r;
                    for o in &mut n.operands {
                        if let Some(l) = o.shape.last_mut()
                            && *l != 1
                        {
                            *l = r;
                        }
                        o.values = cycle(&o.values, o.shape.iter().product());
                    }
                }));
            }
        }
    }
    out
}

/// A program with one step fewer, or fewer slices, rows or columns.
fn program_candidates(c: &crate::program::ProgCase) -> Vec<Case> {
    let mut out = Vec::new();
    for i in 0..c.steps.len() {
        if c.steps.len() > 1 {
            let mut n = c.clone();
            n.steps.remove(i);
            out.push(Case::Program(n));
        }
    }
    let resized = |batch: usize, rows: usize, cols: usize| {
        let pick = |v: &[u64]| -> Vec<u64> {
            let mut out = Vec::new();
            for b in 0..batch {
                for r in 0..rows {
                    for k in 0..cols {
                        out.push(v[(b * c.rows + r) * c.cols + k]);
                    }
                }
            }
            out
        };
        let mut n = c.clone();
        (n.batch, n.rows, n.cols) = (batch, rows, cols);
        (n.x, n.y) = (pick(&c.x), pick(&c.y));
        Case::Program(n)
    };
    if c.batch > 1 {
        out.push(resized(1, c.rows, c.cols));
    }
    if c.rows > 1 {
        out.push(resized(c.batch, c.rows - 1, c.cols));
    }
    if c.cols > 1 {
        out.push(resized(c.batch, c.rows, c.cols - 1));
    }
    out
}

fn eager_candidates(c: &EagerCase) -> Vec<Case> {
    let mut out = Vec::new();
    for k in 0..c.inputs.len() {
        for flag in [0, 1] {
            let i = &c.inputs[k];
            if (flag == 0 && i.transposed) || (flag == 1 && i.flipped) {
                let mut n = c.clone();
                if flag == 0 {
                    n.inputs[k].transposed = false;
                } else {
                    n.inputs[k].flipped = false;
                }
                out.push(Case::Eager(n));
            }
        }
    }
    let shapes: Vec<Vec<usize>> = c.inputs.iter().map(|i| i.shape.clone()).collect();
    for cand in shape_candidates(&shapes) {
        let mut n = c.clone();
        for (i, s) in n.inputs.iter_mut().zip(cand) {
            i.values = cycle(&i.values, s.iter().product());
            i.shape = s;
        }
        out.push(Case::Eager(n));
    }
    if c.axis.is_some_and(|a| a > 0) {
        let mut n = c.clone();
        n.axis = Some(0);
        out.push(Case::Eager(n));
    }
    out
}

fn dag_candidates(reduce: bool, c: &DagCase) -> Vec<Case> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<Case>, n: DagCase| out.push(Case::Dag { reduce, case: n });
    for k in 0..c.outputs.len() {
        if c.outputs.len() > 1 {
            let mut n = c.clone();
            n.outputs.remove(k);
            push(&mut out, n);
        }
    }
    for k in 0..c.epilogue.len() {
        let mut n = c.clone();
        n.epilogue.remove(k);
        push(&mut out, n);
    }
    for k in 0..c.reduce.len() {
        if c.reduce.len() > 1 {
            let mut n = c.clone();
            n.reduce.remove(k);
            push(&mut out, n);
        }
    }
    for k in 0..c.body.len() {
        let mut n = c.clone();
        n.body.remove(k);
        push(&mut out, n);
    }
    for s in [1, c.size / 2, c.size.saturating_sub(1)] {
        if s < c.size && s > 0 {
            let mut n = c.clone();
            n.size = s;
            push(&mut out, n);
        }
    }
    if let Some(r) = c.rsize {
        for s in [1, r / 2, r.saturating_sub(1)] {
            if s < r {
                let mut n = c.clone();
                n.rsize = Some(s);
                push(&mut out, n);
            }
        }
    }
    for k in 0..c.inputs.len() {
        let len = c.inputs[k].1.len();
        for l in [len / 2, len.saturating_sub(1)] {
            if l < len {
                let mut n = c.clone();
                n.inputs[k].1.truncate(l);
                push(&mut out, n);
            }
        }
    }
    out
}

/// Simpler variants of a case's structure, most drastic first.
pub fn candidates(case: &Case) -> Vec<Case> {
    match case {
        Case::Op(c) => op_candidates(c),
        Case::Eager(c) => eager_candidates(c),
        Case::Dag { reduce, case } => dag_candidates(*reduce, case),
        Case::Program(c) => program_candidates(c),
    }
}

/// The value vectors of a case, with their dtypes.
fn value_slots(case: &mut Case) -> Vec<(DType, &mut Vec<u64>)> {
    match case {
        Case::Op(c) => c
            .operands
            .iter_mut()
            .map(|o| (DType(o.dtype), &mut o.values))
            .collect(),
        Case::Eager(c) => {
            let d = DType(c.dtype);
            c.inputs.iter_mut().map(|i| (d, &mut i.values)).collect()
        }
        Case::Dag { case, .. } => case
            .inputs
            .iter_mut()
            .map(|(d, v)| (DType(*d), v))
            .collect(),
        Case::Program(c) => vec![(DType::F32, &mut c.x), (DType::F32, &mut c.y)],
    }
}

/// Greedily applies structural simplifications while `fails` holds, then
/// replaces values by 0 or 1 one at a time, for at most `budget` checks
/// and `time`.
pub fn minimize(case: Case, fails: &dyn Fn(&Case) -> bool, budget: usize, time: Duration) -> Case {
    let start = Instant::now();
    let mut checks = 0usize;
    let mut current = case;
    let more = |checks: &mut usize| {
        *checks += 1;
        *checks <= budget && start.elapsed() < time
    };
    for _round in 0..2 {
        'structure: loop {
            for cand in candidates(&current) {
                if !more(&mut checks) {
                    return current;
                }
                if fails(&cand) {
                    current = cand;
                    continue 'structure;
                }
            }
            break;
        }
        let mut slots = current.clone();
        let count: Vec<(DType, usize)> = value_slots(&mut slots)
            .iter()
            .map(|(d, v)| (*d, v.len()))
            .collect();
        let mut changed = false;
        for (k, (dtype, len)) in count.into_iter().enumerate() {
            for i in 0..len {
                let bits = value_slots(&mut current)[k].1[i];
                for s in simpler(dtype, bits) {
                    if !more(&mut checks) {
                        return current;
                    }
                    let mut cand = current.clone();
                    value_slots(&mut cand)[k].1[i] = s;
                    if fails(&cand) {
                        current = cand;
                        changed = true;
                        break;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    current
}
