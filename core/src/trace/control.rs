//! Structured control flow: `cond`/`switch`, `while_loop` and `scan` as
//! primitives holding closed sub-jaxprs (captured values are explicit
//! leading operands, so outer transformations see them).
//!
//! Every rule builds new sub-jaxprs by tracing the old ones under a
//! transformation (`jvp_flat`, `vmap_flat`, `linearize_flat`), so the rules
//! of the other primitives do all the work:
//! - evaluation compiles each sub-jaxpr once per device with `jit`'s
//!   compiler and drives the loop from the host;
//! - jvp of `scan` and `cond` emits the primal loop and a separate *linear*
//!   loop over the tangents (marked by `linear`, which says which operands
//!   are tangents), so reverse mode can partially evaluate and transpose
//!   it; `while_loop` gets one mixed loop, which reverse mode refuses;
//! - batching moves every operand's batch axis to the front (scan's `xs`
//!   to axis 1); a batched `cond` index becomes a select of all branches,
//!   a batched `while_loop` predicate keeps iterating until no lane goes on.

use super::jaxpr::{Jaxpr, trace_to_jaxpr};
use super::jvp::jvp_flat;
use super::prim::{Aval, Prim};
use super::vjp::linearize_flat;
use super::vmap::{all_front, vmap_flat};
use crate::array::Array;
use crate::device::Device;
use crate::error::{Error, ErrorKind, Result};
use crate::jit::Compiled;
use oxjax_abi::DType;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Which loop or branch, with its sub-jaxprs.
#[derive(Clone)]
pub enum Control {
    /// Operand 0 is the i32 branch index (clamped into range, as
    /// `lax.switch` does); the others are every branch's inputs.
    Cond { branches: Vec<Jaxpr> },
    /// Operands: `n_cond` constants of `cond`, `n_body` constants of
    /// `body`, then the carry. `cond(consts, carry) -> bool[]`,
    /// `body(consts, carry) -> carry`.
    While {
        cond: Jaxpr,
        body: Jaxpr,
        n_cond: usize,
        n_body: usize,
    },
    /// Operands: `n_consts` constants, `n_carry` carries, then the stacked
    /// `xs` (leading axis `length`). `body(consts, carry, x) -> (carry, y)`;
    /// results: the final carry, then the stacked `ys`.
    Scan {
        body: Jaxpr,
        length: usize,
        reverse: bool,
        n_consts: usize,
        n_carry: usize,
    },
}

/// A control-flow primitive: what it is, which operands it is linear in
/// (set on the tangent loops jvp emits), and its compiled sub-programs.
pub struct ControlPrim {
    pub kind: Control,
    pub linear: Option<Vec<bool>>,
    effects: bool,
    compiled: Mutex<Vec<(Device, Arc<Vec<Compiled>>)>>,
}

/// A shared handle, equal only to itself.
#[derive(Clone)]
pub struct ControlRef(pub Arc<ControlPrim>);

impl PartialEq for ControlRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl ControlRef {
    pub fn new(kind: Control, linear: Option<Vec<bool>>) -> ControlRef {
        let effects = kind.jaxprs().iter().any(|j| j.has_effects());
        ControlRef(Arc::new(ControlPrim {
            kind,
            linear,
            effects,
            compiled: Mutex::new(Vec::new()),
        }))
    }
}

impl ControlPrim {
    /// Whether a sub-jaxpr has side effects (so the loop must not be
    /// removed, merged or folded).
    pub fn has_effects(&self) -> bool {
        self.effects
    }

    /// The compiled sub-programs for `device`, compiled on first use (two
    /// threads missing at once both compile; the first stored is kept).
    fn programs(&self, device: &Device) -> Arc<Vec<Compiled>> {
        let lookup = |c: &Vec<(Device, Arc<Vec<Compiled>>)>| {
            c.iter().find(|(d, _)| d == device).map(|(_, p)| p.clone())
        };
        if let Some(p) = lookup(&self.compiled.lock().unwrap_or_else(|e| e.into_inner())) {
            return p;
        }
        let max_inputs = device.info().caps.max_inputs as usize;
        let mut progs: Vec<Compiled> = self
            .kind
            .jaxprs()
            .into_iter()
            .map(|j| crate::jit::compile(j.clone(), max_inputs))
            .collect();
        if let Some(step) = self.kind.scan_step() {
            progs.push(crate::jit::compile(step, max_inputs));
        }
        let mut cache = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = lookup(&cache) {
            return p;
        }
        let progs = Arc::new(progs);
        cache.push((device.clone(), progs.clone()));
        progs
    }
}

impl Control {
    /// For a scan with `xs`: its body reading step `i` of the whole `xs`
    /// itself — operands `consts, carry, xs, i` (an i32 scalar) — so the
    /// gather fuses into the body's kernels instead of a copy kernel per
    /// step and per `x`. It returns `carry, i ± 1, ys`: the step index is
    /// carried on the device like the rest, so a loop uploads nothing per
    /// step.
    fn scan_step(&self) -> Option<Jaxpr> {
        let Control::Scan {
            body,
            length,
            reverse,
            n_consts,
            n_carry,
        } = self
        else {
            return None;
        };
        let ins = in_avals(body);
        let head = n_consts + n_carry;
        if ins.len() == head {
            return None;
        }
        let mut avals = ins[..head].to_vec();
        avals.extend(ins[head..].iter().map(|a| {
            let mut shape = vec![*length];
            shape.extend_from_slice(&a.shape);
            Aval { shape, ..a.clone() }
        }));
        avals.push(Aval {
            shape: vec![],
            dtype: DType::I32,
            weak: false,
        });
        Some(trace(&avals, |a| {
            let (i, a) = a.split_last().expect("the step index");
            let mut args = a[..head].to_vec();
            for x in &a[head..] {
                // x[i] (the step index is always in range; clamped as
                // lax.dynamic_slice would).
                let row = super::indexing_rules::arange(1)
                    + super::indexing_rules::clamp(i, x.shape()[0]);
                args.push(super::indexing_rules::gather(x, &row, 0).squeeze(&[0]));
            }
            let mut outs = body.eval(&args);
            outs.insert(*n_carry, i + if *reverse { -1 } else { 1 });
            outs
        }))
    }

    fn jaxprs(&self) -> Vec<&Jaxpr> {
        match self {
            Control::Cond { branches } => branches.iter().collect(),
            Control::While { cond, body, .. } => vec![cond, body],
            Control::Scan { body, .. } => vec![body],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Control::Cond { .. } => "cond",
            Control::While { .. } => "while",
            Control::Scan { .. } => "scan",
        }
    }
}

impl fmt::Debug for ControlRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.0;
        let lin = if c.linear.is_some() { ", linear" } else { "" };
        let indent = |j: &Jaxpr| j.to_string().replace('\n', "\n      ");
        match &c.kind {
            Control::Cond { branches } => {
                write!(f, "cond[branches=(")?;
                for b in branches {
                    write!(f, "\n      {}", indent(b))?;
                }
                write!(f, "){lin}]")
            }
            Control::While {
                cond,
                body,
                n_cond,
                n_body,
            } => write!(
                f,
                "while[cond_nconsts={n_cond}, body_nconsts={n_body}{lin},\n      cond={}\n      body={}]",
                indent(cond),
                indent(body)
            ),
            Control::Scan {
                body,
                length,
                reverse,
                n_consts,
                n_carry,
            } => write!(
                f,
                "scan[length={length}, reverse={reverse}, num_consts={n_consts}, num_carry={n_carry}{lin},\n      jaxpr={}]",
                indent(body)
            ),
        }
    }
}

/// The avals of a jaxpr's outputs.
pub(crate) fn out_avals(j: &Jaxpr) -> Vec<Aval> {
    j.outs.iter().map(|a| j.aval(a)).collect()
}

fn in_avals(j: &Jaxpr) -> Vec<Aval> {
    j.invars.iter().map(|&v| j.avals[v].clone()).collect()
}

fn strong(a: &Aval) -> Aval {
    Aval {
        weak: false,
        ..a.clone()
    }
}

fn zeros(a: &Aval) -> Array {
    Array::zeros(&a.shape, a.dtype)
}

/// The output avals of a control primitive.
pub(crate) fn abstract_eval(c: &ControlPrim, ins: &[Aval]) -> Vec<Aval> {
    match &c.kind {
        Control::Cond { branches } => out_avals(&branches[0]),
        Control::While { n_cond, n_body, .. } => ins[n_cond + n_body..].to_vec(),
        Control::Scan {
            body,
            length,
            n_carry,
            ..
        } => {
            let outs = out_avals(body);
            let mut v = outs[..*n_carry].to_vec();
            v.extend(outs[*n_carry..].iter().map(|a| {
                let mut shape = vec![*length];
                shape.extend_from_slice(&a.shape);
                Aval { shape, ..strong(a) }
            }));
            v
        }
    }
}

/// Stacks equal-shape arrays along a new leading axis, in chunks so no
/// kernel exceeds a backend's input limit.
pub(crate) fn stack(parts: Vec<Array>, aval: &Aval, length: usize) -> Array {
    if parts.is_empty() {
        let mut shape = vec![length];
        shape.extend_from_slice(&aval.shape);
        return Array::zeros(&shape, aval.dtype);
    }
    let mut level: Vec<Array> = parts.into_iter().map(|p| p.expand_dims(0)).collect();
    while level.len() > 1 {
        level = level
            .chunks(8)
            .map(|c| {
                let refs: Vec<&Array> = c.iter().collect();
                Array::concatenate(&refs, 0)
            })
            .collect();
    }
    level.remove(0)
}

/// Runs a control primitive on concrete operands: sub-programs compiled
/// once per device, the loop driven from here.
pub(crate) fn eval(c: &ControlPrim, args: &[Array]) -> Result<Vec<Array>> {
    let device = args
        .first()
        .map_or_else(crate::default_device, Array::device);
    let progs = c.programs(&device);
    let run = |p: &Compiled, ins: &[Array]| p.run(ins, &device);
    match &c.kind {
        Control::Cond { branches } => {
            let i = args[0].try_to_vec::<i32>()?[0].clamp(0, branches.len() as i32 - 1);
            run(&progs[i as usize], &args[1..])
        }
        Control::While { n_cond, n_body, .. } => {
            let (cc, rest) = args.split_at(*n_cond);
            let (bc, init) = rest.split_at(*n_body);
            let mut carry = init.to_vec();
            loop {
                let mut ins = cc.to_vec();
                ins.extend(carry.iter().cloned());
                if !run(&progs[0], &ins)?[0].try_to_vec::<bool>()?[0] {
                    return Ok(carry);
                }
                let mut ins = bc.to_vec();
                ins.extend(carry);
                carry = run(&progs[1], &ins)?;
            }
        }
        Control::Scan {
            body,
            length,
            reverse,
            n_consts,
            n_carry,
        } => {
            let (consts, rest) = args.split_at(*n_consts);
            let (init, xs) = rest.split_at(*n_carry);
            let y_avals = &out_avals(body)[*n_carry..];
            // Step `i` read by the body itself (see `scan_step`), its
            // index carried after the carry.
            let step = progs.get(1);
            let mut index = match step {
                Some(_) => {
                    let first = if *reverse { *length as i32 - 1 } else { 0 };
                    Some(Array::try_from_slice(&[first], &[], &device)?)
                }
                None => None,
            };
            let ins = |carry: Vec<Array>, index: &Option<Array>| {
                let mut ins = consts.to_vec();
                ins.extend(carry);
                if let Some(i) = index {
                    ins.extend(xs.iter().cloned());
                    ins.push(i.clone());
                }
                ins
            };
            let prog = step.unwrap_or(&progs[0]);
            if y_avals.is_empty() {
                // No `ys` to stack: the loop runs on bound buffers.
                let args = ins(init.to_vec(), &index);
                let mut feed: Vec<(usize, usize)> =
                    (0..*n_carry).map(|c| (c, n_consts + c)).collect();
                if index.is_some() {
                    feed.push((*n_carry, args.len() - 1));
                }
                if let Some(mut outs) = prog.iterate(&args, &feed, *length, &device)? {
                    outs.truncate(*n_carry);
                    return Ok(outs);
                }
            }
            let mut carry = init.to_vec();
            let mut ys: Vec<Vec<Array>> = vec![Vec::with_capacity(*length); y_avals.len()];
            for _ in 0..*length {
                let mut outs = run(prog, &ins(carry, &index))?;
                let y = outs.split_off(*n_carry + usize::from(index.is_some()));
                if index.is_some() {
                    index = outs.pop();
                }
                carry = outs;
                for (acc, y) in ys.iter_mut().zip(y) {
                    acc.push(y);
                }
            }
            let mut outs = carry;
            for (mut parts, aval) in ys.into_iter().zip(y_avals) {
                if *reverse {
                    parts.reverse();
                }
                outs.push(stack(parts, aval, *length));
            }
            Ok(outs)
        }
    }
}

fn bind(kind: Control, linear: Option<Vec<bool>>, args: &[Array]) -> Vec<Array> {
    let refs: Vec<&Array> = args.iter().collect();
    super::bind(Prim::Control(ControlRef::new(kind, linear)), &refs)
        .unwrap_or_else(|e| crate::error::raise(e))
}

/// Traces `f` over inputs of the given avals (made strong) into a jaxpr.
pub(crate) fn trace(avals: &[Aval], f: impl FnOnce(&[Array]) -> Vec<Array>) -> Jaxpr {
    let avals: Vec<Aval> = avals.iter().map(strong).collect();
    trace_to_jaxpr(&avals, f)
}

/// [`trace`] for a derivative's copy of a body: its `debug_print`s are
/// dropped (the primal loop prints them).
fn trace_quiet(avals: &[Aval], f: impl FnOnce(&[Array]) -> Vec<Array>) -> Jaxpr {
    crate::effects::quiet(|| trace(avals, f))
}

/// Tangent outputs made concrete (zeros for symbolic zeros).
fn instantiate(ts: Vec<Option<Array>>, like: &[Array]) -> Vec<Array> {
    ts.into_iter()
        .zip(like)
        .map(|(t, x)| t.unwrap_or_else(|| x.zeros_like()))
        .collect()
}

fn cat<T: Clone>(parts: &[&[T]]) -> Vec<T> {
    parts.iter().flat_map(|p| p.iter().cloned()).collect()
}

pub(crate) fn avals_of(xs: &[Array]) -> Vec<Aval> {
    xs.iter().map(Array::aval).collect()
}

/// The jvp rule: primal outputs and their tangents (`None` for non-float
/// outputs and when no input has a tangent).
pub(crate) fn jvp(
    c: &ControlPrim,
    x: &[Array],
    t: &[Option<Array>],
) -> (Vec<Array>, Vec<Option<Array>>) {
    let plain = || bind(c.kind.clone(), c.linear.clone(), x);
    if t.iter().all(Option::is_none) {
        let outs = plain();
        let n = outs.len();
        return (outs, vec![None; n]);
    }
    let ts: Vec<Array> = instantiate(t.to_vec(), x);
    let (outs, touts) = match &c.kind {
        Control::Cond { branches } => {
            let primal = plain();
            let ops = &x[1..];
            let m = ops.len();
            let lin: Vec<Jaxpr> = branches
                .iter()
                .map(|b| {
                    trace_quiet(&cat(&[&avals_of(ops), &avals_of(ops)]), |a| {
                        let (outs, ts) = jvp_flat(|v| b.eval(v), &a[..m], &a[m..]);
                        instantiate(ts, &outs)
                    })
                })
                .collect();
            let mut spec = vec![false; 1 + m];
            spec.extend(vec![true; m]);
            let touts = bind(
                Control::Cond { branches: lin },
                Some(spec),
                &cat(&[&x[..1], ops, &ts[1..]]),
            );
            (primal, touts)
        }
        Control::While {
            cond,
            body,
            n_cond,
            n_body,
        } => {
            let (nc, nb) = (*n_cond, *n_body);
            let carry = &x[nc + nb..];
            let k = carry.len();
            let cond2 = trace(
                &cat(&[&avals_of(&x[..nc]), &avals_of(carry), &avals_of(carry)]),
                |a| cond.eval(&a[..nc + k]),
            );
            let body2 = trace(
                &cat(&[
                    &avals_of(&x[nc..nc + nb]),
                    &avals_of(&x[nc..nc + nb]),
                    &avals_of(carry),
                    &avals_of(carry),
                ]),
                |a| {
                    let (bc, tbc, c, tc) = (
                        &a[..nb],
                        &a[nb..2 * nb],
                        &a[2 * nb..2 * nb + k],
                        &a[2 * nb + k..],
                    );
                    let (outs, ts) = jvp_flat(|v| body.eval(v), &cat(&[bc, c]), &cat(&[tbc, tc]));
                    let ts = instantiate(ts, &outs);
                    cat(&[&outs, &ts])
                },
            );
            let mut all = bind(
                Control::While {
                    cond: cond2,
                    body: body2,
                    n_cond: nc,
                    n_body: 2 * nb,
                },
                None,
                &cat(&[&x[..nc + nb], &ts[nc..nc + nb], carry, &ts[nc + nb..]]),
            );
            let touts = all.split_off(k);
            (all, touts)
        }
        Control::Scan {
            body,
            length,
            reverse,
            n_consts,
            n_carry,
        } => {
            let (nk, nc) = (*n_consts, *n_carry);
            let nx = x.len() - nk - nc;
            let ny = body.outs.len() - nc;
            // The primal loop, also stacking the carry each step starts from.
            let body_res = trace(&in_avals(body), |a| {
                let mut outs = body.eval(a);
                outs.extend(a[nk..nk + nc].iter().cloned());
                outs
            });
            let mut outs = bind(
                Control::Scan {
                    body: body_res,
                    length: *length,
                    reverse: *reverse,
                    n_consts: nk,
                    n_carry: nc,
                },
                c.linear.clone(),
                x,
            );
            let res = outs.split_off(nc + ny);
            // The tangent loop: linear in the tangents, the primal values
            // at each step are its known operands.
            let b_in = in_avals(body);
            let (consts_av, carry_av, x_av) = (&b_in[..nk], &b_in[nk..nk + nc], &b_in[nk + nc..]);
            let body_lin = trace_quiet(
                &cat(&[consts_av, consts_av, carry_av, carry_av, x_av, x_av]),
                |a| {
                    let (k, tk) = (&a[..nk], &a[nk..2 * nk]);
                    let tc = &a[2 * nk..2 * nk + nc];
                    let ci = &a[2 * nk + nc..2 * nk + 2 * nc];
                    let (xi, txi) = (
                        &a[2 * nk + 2 * nc..2 * nk + 2 * nc + nx],
                        &a[2 * nk + 2 * nc + nx..],
                    );
                    let (outs, ts) =
                        jvp_flat(|v| body.eval(v), &cat(&[k, ci, xi]), &cat(&[tk, tc, txi]));
                    instantiate(ts, &outs)
                },
            );
            let mut spec = vec![false; nk];
            spec.extend(vec![true; nk + nc]);
            spec.extend(vec![false; nc + nx]);
            spec.extend(vec![true; nx]);
            let touts = bind(
                Control::Scan {
                    body: body_lin,
                    length: *length,
                    reverse: *reverse,
                    n_consts: 2 * nk,
                    n_carry: nc,
                },
                Some(spec),
                &cat(&[
                    &x[..nk],
                    &ts[..nk],
                    &ts[nk..nk + nc],
                    &res,
                    &x[nk + nc..],
                    &ts[nk + nc..],
                ]),
            );
            (outs, touts)
        }
    };
    let touts = touts
        .into_iter()
        .zip(&outs)
        .map(|(t, o)| o.dtype().is_float().then_some(t))
        .collect();
    (outs, touts)
}

fn batched(avals: &[Aval], size: usize) -> Vec<Aval> {
    avals
        .iter()
        .map(|a| {
            let mut shape = vec![size];
            shape.extend_from_slice(&a.shape);
            Aval { shape, ..strong(a) }
        })
        .collect()
}

/// `f` of a jaxpr, mapped over axis 0 of every input.
fn vmapped(j: &Jaxpr, a: &[Array]) -> Vec<Array> {
    let axes = vec![Some(0); a.len()];
    vmap_flat(|v| j.eval(v), a, &axes, None).unwrap_or_else(|e| crate::error::raise(e))
}

/// The batching rule: every result has its batch axis first.
pub(crate) fn vmap(
    c: &ControlPrim,
    vals: &[Array],
    bdims: &[Option<usize>],
    size: usize,
) -> Vec<Array> {
    let all = all_front(vals, bdims, size);
    match &c.kind {
        Control::Cond { branches } => {
            let ops = &all[1..];
            if bdims[0].is_none() {
                let bs = branches
                    .iter()
                    .map(|b| trace(&batched(&in_avals(b), size), |a| vmapped(b, a)))
                    .collect();
                let mut args = vec![vals[0].clone()];
                args.extend(ops.iter().cloned());
                return bind(Control::Cond { branches: bs }, c.linear.clone(), &args);
            }
            // A batched index: every branch runs, each lane selects its own.
            let n = branches.len() as i32;
            let idx = all[0].maximum(0).minimum(n - 1);
            let results: Vec<Vec<Array>> = branches.iter().map(|b| vmapped(b, ops)).collect();
            (0..results[0].len())
                .map(|k| {
                    let mut out = results[0][k].clone();
                    for (i, r) in results.iter().enumerate().skip(1) {
                        let mut shape = vec![size];
                        shape.extend(std::iter::repeat_n(1, r[k].ndim() - 1));
                        let s: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
                        let hit = idx.equal(i as f64).reshape(&s).broadcast_to(r[k].shape());
                        out = Array::where_(&hit, &r[k], &out);
                    }
                    out
                })
                .collect()
        }
        Control::While {
            cond,
            body,
            n_cond,
            n_body,
        } => {
            let (nc, nb) = (*n_cond, *n_body);
            let av: Vec<Aval> = all
                .iter()
                .map(|a| Aval {
                    weak: false,
                    ..a.aval()
                })
                .collect();
            let lanes_go_on =
                |cc: &[Array], carry: &[Array]| vmapped(cond, &cat(&[cc, carry])).remove(0);
            let cond2 = trace(&cat(&[&av[..nc], &av[nc + nb..]]), |a| {
                vec![lanes_go_on(&a[..nc], &a[nc..]).any(crate::Axes::All, false)]
            });
            let body2 = trace(&av, |a| {
                let (cc, bc, carry) = (&a[..nc], &a[nc..nc + nb], &a[nc + nb..]);
                let go = lanes_go_on(cc, carry);
                let next = vmapped(body, &cat(&[bc, carry]));
                next.iter()
                    .zip(carry)
                    .map(|(n, old)| {
                        let mut s = vec![size as isize];
                        s.extend(std::iter::repeat_n(1, n.ndim() - 1));
                        Array::where_(&go.reshape(&s).broadcast_to(n.shape()), n, old)
                    })
                    .collect()
            });
            bind(
                Control::While {
                    cond: cond2,
                    body: body2,
                    n_cond: nc,
                    n_body: nc + nb,
                },
                c.linear.clone(),
                &cat(&[&all[..nc], &all[..nc + nb], &all[nc + nb..]]),
            )
        }
        Control::Scan {
            body,
            length,
            reverse,
            n_consts,
            n_carry,
        } => {
            let (nk, nc) = (*n_consts, *n_carry);
            let body_b = trace(&batched(&in_avals(body), size), |a| vmapped(body, a));
            let mut args = all[..nk + nc].to_vec();
            args.extend(all[nk + nc..].iter().map(|x| x.moveaxis(0, 1)));
            let outs = bind(
                Control::Scan {
                    body: body_b,
                    length: *length,
                    reverse: *reverse,
                    n_consts: nk,
                    n_carry: nc,
                },
                c.linear.clone(),
                &args,
            );
            outs.into_iter()
                .enumerate()
                .map(|(i, o)| if i < nc { o } else { o.moveaxis(1, 0) })
                .collect()
        }
    }
}

/// The transpose of a linear control primitive (one jvp emitted): the
/// cotangents of its operands (`None` for the known ones).
pub(crate) fn transpose(
    c: &ControlPrim,
    cts: &[Option<Array>],
    known: &[Option<&Array>],
    avals: &[Aval],
) -> Vec<Option<Array>> {
    let Some(spec) = &c.linear else {
        panic!(
            "internal error: {} is not linear in any operand, so it has no transpose",
            c.kind.name()
        );
    };
    let outs_av = abstract_eval(c, avals);
    let cts: Vec<Array> = cts
        .iter()
        .zip(&outs_av)
        .map(|(c, a)| c.clone().unwrap_or_else(|| zeros(a)))
        .collect();
    let value = |i: usize| -> Array {
        known[i]
            .unwrap_or_else(|| {
                panic!("internal error: a non-linear operand of a linear loop is not known")
            })
            .clone()
    };
    // Assembles a full operand list from the known values and the linear ones.
    let assemble = |known_vals: &[Array], lin: &[Array], range: std::ops::Range<usize>| {
        let (mut k, mut l) = (known_vals.iter(), lin.iter());
        range
            .map(|i| {
                if spec[i] {
                    l.next().unwrap().clone()
                } else {
                    k.next().unwrap().clone()
                }
            })
            .collect::<Vec<Array>>()
    };
    match &c.kind {
        Control::Cond { branches } => {
            let n = avals.len();
            let kidx: Vec<usize> = (1..n).filter(|&i| !spec[i]).collect();
            let lidx: Vec<usize> = (1..n).filter(|&i| spec[i]).collect();
            let k_av: Vec<Aval> = kidx.iter().map(|&i| avals[i].clone()).collect();
            let l_av: Vec<Aval> = lidx.iter().map(|&i| avals[i].clone()).collect();
            let nk = kidx.len();
            let bt: Vec<Jaxpr> = branches
                .iter()
                .map(|b| {
                    trace_quiet(&cat(&[&k_av, &outs_av]), |a| {
                        let (kv, ct) = (&a[..nk], &a[nk..]);
                        let f = |lin: &[Array]| b.eval(&assemble(kv, lin, 1..n));
                        let z: Vec<Array> = l_av.iter().map(zeros).collect();
                        let (_, lm) = linearize_flat(f, &z);
                        lm.transpose(ct)
                    })
                })
                .collect();
            let mut args = vec![value(0)];
            args.extend(kidx.iter().map(|&i| value(i)));
            args.extend(cts);
            let mut spec_t = vec![false; 1 + nk];
            spec_t.extend(vec![true; outs_av.len()]);
            let res = bind(Control::Cond { branches: bt }, Some(spec_t), &args);
            let mut out = vec![None; n];
            for (&i, r) in lidx.iter().zip(res) {
                out[i] = known[i].is_none().then_some(r);
            }
            out
        }
        Control::While { .. } => panic!("internal error: while loops are never linear"),
        Control::Scan {
            body,
            length,
            reverse,
            n_consts,
            n_carry,
        } => {
            let (nk, nc) = (*n_consts, *n_carry);
            let n = avals.len();
            assert!(
                spec[nk..nk + nc].iter().all(|&s| s),
                "internal error: a linear scan's carries are all tangents"
            );
            let kc: Vec<usize> = (0..nk).filter(|&i| !spec[i]).collect();
            let lc: Vec<usize> = (0..nk).filter(|&i| spec[i]).collect();
            let kx: Vec<usize> = (nk + nc..n).filter(|&i| !spec[i]).collect();
            let lx: Vec<usize> = (nk + nc..n).filter(|&i| spec[i]).collect();
            let b_in = in_avals(body);
            let av =
                |idx: &[usize]| -> Vec<Aval> { idx.iter().map(|&i| b_in[i].clone()).collect() };
            let y_av: Vec<Aval> = out_avals(body)[nc..].to_vec();
            let carry_av: Vec<Aval> = b_in[nk..nk + nc].to_vec();
            let lin_av = cat(&[&av(&lc), &carry_av, &av(&lx)]);
            let (nkc, nlc, nkx) = (kc.len(), lc.len(), kx.len());
            let body_t = trace_quiet(
                &cat(&[&av(&kc), &carry_av, &av(&lc), &av(&kx), &y_av]),
                |a| {
                    let kcv = &a[..nkc];
                    let ctc = &a[nkc..nkc + nc];
                    let acc = &a[nkc + nc..nkc + nc + nlc];
                    let kxv = &a[nkc + nc + nlc..nkc + nc + nlc + nkx];
                    let cty = &a[nkc + nc + nlc + nkx..];
                    let f = |lin: &[Array]| {
                        let (lcv, rest) = lin.split_at(nlc);
                        let (lcarry, lxv) = rest.split_at(nc);
                        let mut ins = assemble(kcv, lcv, 0..nk);
                        ins.extend(lcarry.iter().cloned());
                        ins.extend(assemble(kxv, lxv, nk + nc..n));
                        body.eval(&ins)
                    };
                    let z: Vec<Array> = lin_av.iter().map(zeros).collect();
                    let (_, lm) = linearize_flat(f, &z);
                    let back = lm.transpose(&cat(&[ctc, cty]));
                    let (bc, rest) = back.split_at(nlc);
                    let (bcarry, bx) = rest.split_at(nc);
                    let mut outs = bcarry.to_vec();
                    outs.extend(acc.iter().zip(bc).map(|(a, b)| a + b));
                    outs.extend(bx.iter().cloned());
                    outs
                },
            );
            let mut args: Vec<Array> = kc.iter().map(|&i| value(i)).collect();
            args.extend(cts[..nc].iter().cloned());
            args.extend(lc.iter().map(|&i| zeros(&avals[i])));
            args.extend(kx.iter().map(|&i| value(i)));
            args.extend(cts[nc..].iter().cloned());
            let mut spec_t = vec![false; nkc];
            spec_t.extend(vec![true; nc + nlc]);
            spec_t.extend(vec![false; nkx]);
            spec_t.extend(vec![true; cts.len() - nc]);
            let res = bind(
                Control::Scan {
                    body: body_t,
                    length: *length,
                    reverse: !*reverse,
                    n_consts: nkc,
                    n_carry: nc + nlc,
                },
                Some(spec_t),
                &args,
            );
            let mut out = vec![None; n];
            let (rc, rest) = res.split_at(nc);
            let (rlc, rlx) = rest.split_at(nlc);
            for (i, r) in (nk..nk + nc).zip(rc) {
                out[i] = Some(r.clone());
            }
            for (&i, r) in lc.iter().zip(rlc) {
                out[i] = Some(r.clone());
            }
            for (&i, r) in lx.iter().zip(rlx) {
                out[i] = Some(r.clone());
            }
            for (i, o) in out.iter_mut().enumerate() {
                if known[i].is_some() {
                    *o = None;
                }
            }
            out
        }
    }
}

/// The error reverse mode gives for a `while_loop` with tangents.
pub(crate) fn while_not_reversible() -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "grad/vjp: reverse-mode differentiation of while_loop is not supported, because its \
         trip count is not known ahead of time (as in JAX); use fori_loop with static bounds \
         or scan, or forward mode (jvp, jacfwd)",
    )
}
