//! Reverse mode: linearize by partially evaluating a traced JVP, then
//! transpose the linear part with a transpose rule per linear primitive.
//!
//! `vjp(f, x)` traces `(x, t) ↦ jvp(f)(x, t)` into a jaxpr with abstract
//! values, evaluates every equation that does not depend on the tangents
//! (the forward pass, binding at the caller's trace levels so it nests), and
//! keeps the rest: a linear program in the tangents whose known operands
//! are residuals. Pulling back a cotangent walks it in reverse.

use super::jaxpr::{Atom, Eqn, Jaxpr, literal, trace_to_jaxpr};
use super::jvp::jvp_flat;
use super::prim::{Aval, BinOp, Prim, RedOp, UnOp};
use crate::array::Array;

/// An operand of a linear equation: a residual or a linear variable.
#[derive(Clone)]
enum Operand {
    Known(Array),
    Linear(usize),
}

/// The linear part of a function at a point (what `linearize` returns).
pub struct Linear {
    jaxpr_avals: Vec<Aval>,
    eqns: Vec<(Prim, Vec<Operand>, Vec<usize>)>,
    /// The variable of each tangent input.
    inputs: Vec<usize>,
    /// Each output tangent: a linear variable, or `None` when it does not
    /// depend on the inputs (its cotangent is dropped).
    outputs: Vec<Option<usize>>,
    out_avals: Vec<Aval>,
}

/// Runs `f` at `primals` and returns its outputs and its linearization.
pub(crate) fn linearize_flat(
    f: impl Fn(&[Array]) -> Vec<Array>,
    primals: &[Array],
) -> (Vec<Array>, Linear) {
    let n = primals.len();
    let avals: Vec<Aval> = primals
        .iter()
        .map(|p| Aval {
            weak: false,
            ..p.aval()
        })
        .collect();
    let mut in_avals = avals.clone();
    in_avals.extend(avals.iter().cloned());
    let mut n_out = 0;
    let jaxpr = trace_to_jaxpr(&in_avals, |ins| {
        let (outs, tangents) = jvp_flat(&f, &ins[..n], &ins[n..]);
        n_out = outs.len();
        let mut all = outs;
        // A symbolic-zero tangent output becomes a known zero (no linear var).
        all.extend(
            tangents
                .into_iter()
                .zip(&all.clone())
                .map(|(t, o)| t.unwrap_or_else(|| o.zeros_like())),
        );
        all
    });
    partial_eval(&jaxpr, primals, n_out)
}

fn partial_eval(jaxpr: &Jaxpr, primals: &[Array], n_out: usize) -> (Vec<Array>, Linear) {
    let n = primals.len();
    let mut known: Vec<Option<Array>> = vec![None; jaxpr.avals.len()];
    let mut linear = vec![false; jaxpr.avals.len()];
    for (&v, p) in jaxpr.invars[..n].iter().zip(primals) {
        known[v] = Some(p.clone());
    }
    for &v in &jaxpr.invars[n..] {
        linear[v] = true;
    }
    for (v, a) in &jaxpr.constvars {
        known[*v] = Some(a.clone());
    }
    let value = |known: &[Option<Array>], a: &Atom| match a {
        Atom::Var(v) => known[*v].clone(),
        Atom::Lit(s, aval) => Some(literal(*s, aval)),
    };
    let mut eqns = Vec::new();
    for Eqn { prim, ins, outs } in &jaxpr.eqns {
        let is_linear = ins.iter().any(|a| matches!(a, Atom::Var(v) if linear[*v]));
        if is_linear {
            if let Prim::Control(c) = prim
                && c.0.linear.is_none()
            {
                crate::error::raise(super::control::while_not_reversible());
            }
            let ops = ins
                .iter()
                .map(|a| match a {
                    Atom::Var(v) if linear[*v] => Operand::Linear(*v),
                    a => Operand::Known(value(&known, a).expect("residual computed")),
                })
                .collect();
            for &o in outs {
                linear[o] = true;
            }
            eqns.push((prim.clone(), ops, outs.clone()));
        } else {
            let args: Vec<Array> = ins
                .iter()
                .map(|a| value(&known, a).expect("known operand"))
                .collect();
            let refs: Vec<&Array> = args.iter().collect();
            let res = super::bind(prim.clone(), &refs).unwrap_or_else(|e| crate::error::raise(e));
            for (&v, r) in outs.iter().zip(res) {
                known[v] = Some(r);
            }
        }
    }
    let outs = jaxpr.outs[..n_out]
        .iter()
        .map(|a| value(&known, a).expect("primal outputs do not depend on tangents"))
        .collect();
    let outputs = jaxpr.outs[n_out..]
        .iter()
        .map(|a| match a {
            Atom::Var(v) if linear[*v] => Some(*v),
            _ => None,
        })
        .collect();
    let out_avals = jaxpr.outs[n_out..].iter().map(|a| jaxpr.aval(a)).collect();
    let linear = Linear {
        out_avals,
        jaxpr_avals: jaxpr.avals.clone(),
        eqns,
        inputs: jaxpr.invars[n..].to_vec(),
        outputs,
    };
    (outs, linear)
}

impl Linear {
    /// Evaluates the linear map on tangents (forward).
    pub fn apply(&self, tangents: &[Array]) -> Vec<Array> {
        let mut env: Vec<Option<Array>> = vec![None; self.jaxpr_avals.len()];
        for (&v, t) in self.inputs.iter().zip(tangents) {
            env[v] = Some(t.clone());
        }
        for (prim, ops, outs) in &self.eqns {
            let args: Vec<Array> = ops
                .iter()
                .map(|o| match o {
                    Operand::Known(a) => a.clone(),
                    Operand::Linear(v) => env[*v].clone().expect("linear variable defined"),
                })
                .collect();
            let refs: Vec<&Array> = args.iter().collect();
            let res = super::bind(prim.clone(), &refs).unwrap_or_else(|e| crate::error::raise(e));
            for (&o, r) in outs.iter().zip(res) {
                env[o] = Some(r);
            }
        }
        self.outputs
            .iter()
            .zip(&self.out_avals)
            .map(|(o, aval)| {
                o.and_then(|v| env[v].clone())
                    .unwrap_or_else(|| Array::zeros(&aval.shape, aval.dtype))
            })
            .collect()
    }

    /// Pulls cotangents of the outputs back to cotangents of the inputs.
    pub fn transpose(&self, cotangents: &[Array]) -> Vec<Array> {
        let mut ct: Vec<Option<Array>> = vec![None; self.jaxpr_avals.len()];
        let accumulate = |ct: &mut Vec<Option<Array>>, v: usize, c: Array| {
            ct[v] = Some(match ct[v].take() {
                Some(prev) => &prev + &c,
                None => c,
            });
        };
        for (o, c) in self.outputs.iter().zip(cotangents) {
            if let Some(v) = o {
                accumulate(&mut ct, *v, c.clone());
            }
        }
        for (prim, ops, outs) in self.eqns.iter().rev() {
            let cs: Vec<Option<Array>> = outs.iter().map(|&o| ct[o].take()).collect();
            if cs.iter().all(Option::is_none) {
                continue;
            }
            let avals: Vec<Aval> = ops
                .iter()
                .map(|o| match o {
                    Operand::Known(a) => a.aval(),
                    Operand::Linear(v) => self.jaxpr_avals[*v].clone(),
                })
                .collect();
            let known: Vec<Option<&Array>> = ops
                .iter()
                .map(|o| match o {
                    Operand::Known(a) => Some(a),
                    Operand::Linear(_) => None,
                })
                .collect();
            let cts = match prim {
                Prim::Control(c) => super::control::transpose(&c.0, &cs, &known, &avals),
                _ => {
                    let c = cs.into_iter().next().flatten().expect("one cotangent");
                    transpose_rule(prim, &c, &known, &avals)
                }
            };
            for (o, c) in ops.iter().zip(cts) {
                if let (Operand::Linear(v), Some(c)) = (o, c) {
                    accumulate(&mut ct, *v, c);
                }
            }
        }
        self.inputs
            .iter()
            .map(|&v| {
                let aval = &self.jaxpr_avals[v];
                ct[v]
                    .take()
                    .unwrap_or_else(|| Array::zeros(&aval.shape, aval.dtype))
            })
            .collect()
    }
}

/// Sums `ct` (of a broadcast result) back to `shape`.
fn unbroadcast(ct: &Array, shape: &[usize]) -> Array {
    let lead = ct.ndim() - shape.len();
    let mut axes: Vec<isize> = (0..lead as isize).collect();
    for (d, &n) in shape.iter().enumerate() {
        if n == 1 && ct.shape()[lead + d] != 1 {
            axes.push((lead + d) as isize);
        }
    }
    let summed = if axes.is_empty() {
        ct.clone()
    } else {
        ct.sum(axes, false)
    };
    let s: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
    summed.reshape(&s)
}

/// The cotangent of each linear operand (`None` for known ones) of a
/// linear primitive, given the output cotangent `ct`.
fn transpose_rule(
    prim: &Prim,
    ct: &Array,
    known: &[Option<&Array>],
    avals: &[Aval],
) -> Vec<Option<Array>> {
    let lin = |i: usize| known[i].is_none();
    match prim {
        Prim::Unary(UnOp::Neg) => vec![Some(-ct)],
        Prim::Binary(BinOp::Add) => vec![lin(0).then(|| ct.clone()), lin(1).then(|| ct.clone())],
        Prim::Binary(BinOp::Sub) => vec![lin(0).then(|| ct.clone()), lin(1).then(|| -ct)],
        Prim::Binary(BinOp::Mul) => match (known[0], known[1]) {
            (None, Some(b)) => vec![Some(ct * b), None],
            (Some(a), None) => vec![None, Some(ct * a)],
            _ => panic!("mul of two linear values is not linear"),
        },
        Prim::Binary(BinOp::Div) => match known[1] {
            Some(b) => vec![Some(ct / b), None],
            None => panic!("division by a linear value is not linear"),
        },
        Prim::Select => {
            let c = known[0].expect("select's condition is known");
            let z = ct.zeros_like();
            vec![
                None,
                lin(1).then(|| Array::where_(c, ct, &z)),
                lin(2).then(|| Array::where_(c, &z, ct)),
            ]
        }
        Prim::Cast(_) => vec![Some(ct.astype(avals[0].dtype))],
        Prim::Reduce(RedOp::Sum, axes) | Prim::Reduce(RedOp::Mean, axes) => {
            let shape = &avals[0].shape;
            let keep: Vec<isize> = (0..shape.len())
                .map(|d| {
                    if axes.contains(&d) {
                        1
                    } else {
                        shape[d] as isize
                    }
                })
                .collect();
            let mut g = ct.reshape(&keep).broadcast_to(shape);
            if matches!(prim, Prim::Reduce(RedOp::Mean, _)) {
                let n: usize = axes.iter().map(|&d| shape[d]).product();
                g = g / n as f64;
            }
            vec![Some(g)]
        }
        Prim::Matmul => {
            let swap = |a: &Array| a.moveaxis(-1, -2);
            vec![
                lin(0).then(|| ct.matmul(&swap(known[1].expect("one matmul operand is known")))),
                lin(1).then(|| swap(known[0].expect("one matmul operand is known")).matmul(ct)),
            ]
        }
        Prim::Reshape(_) => {
            let s: Vec<isize> = avals[0].shape.iter().map(|&d| d as isize).collect();
            vec![Some(ct.reshape(&s))]
        }
        Prim::Transpose(perm) => {
            let mut inv = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inv[p] = i;
            }
            vec![Some(ct.transpose(&inv))]
        }
        Prim::BroadcastTo(_) => vec![Some(unbroadcast(ct, &avals[0].shape))],
        Prim::Slice(spec) => {
            let widths: Vec<(usize, usize, usize)> = spec
                .iter()
                .zip(&avals[0].shape)
                .map(|(&(start, len, step), &n)| {
                    if len == 0 {
                        (n, 0, 0)
                    } else {
                        (start, n - (start + (len - 1) * step + 1), step - 1)
                    }
                })
                .collect();
            let zero = oxjax_abi::Scalar::zero(ct.dtype());
            vec![Some(super::bind1(Prim::Pad(widths, zero), &[ct]))]
        }
        Prim::Flip(axes) => vec![Some(super::bind1(Prim::Flip(axes.clone()), &[ct]))],
        Prim::Pad(widths, _) => {
            let spec = widths
                .iter()
                .zip(&avals[0].shape)
                .map(|(&(lo, _, int), &n)| (lo, n, int + 1))
                .collect();
            vec![Some(super::bind1(Prim::Slice(spec), &[ct]))]
        }
        Prim::Concatenate(axis) => {
            let mut start = 0;
            let mut out = Vec::with_capacity(known.len());
            for (i, aval) in avals.iter().enumerate() {
                let n = aval.shape[*axis];
                let mut spec: Vec<(usize, usize, usize)> =
                    ct.shape().iter().map(|&d| (0, d, 1)).collect();
                spec[*axis] = (start, n, 1);
                out.push(lin(i).then(|| super::bind1(Prim::Slice(spec), &[ct])));
                start += n;
            }
            out
        }
        Prim::Custom(c) => super::custom::transpose(&c.0, ct, known),
        Prim::Control(c) => super::control::transpose(&c.0, &[Some(ct.clone())], known, avals),
        Prim::Indexing(p) => super::indexing_rules::transpose(p, ct, known, avals),
        Prim::Linalg(p) => super::linalg_rules::transpose(*p, ct, known),
        Prim::Conv(p) => super::conv_rules::transpose(p, ct, known, avals),
        Prim::Fft(p) => super::fft_rules::transpose(p, ct),
        Prim::Callback(_)
        | Prim::Unary(_)
        | Prim::Binary(_)
        | Prim::Reduce(..)
        | Prim::ArgReduce(..)
        | Prim::StopGradient
        | Prim::Softmax => {
            panic!("internal error: {prim} is not linear, so it has no transpose rule")
        }
    }
}
