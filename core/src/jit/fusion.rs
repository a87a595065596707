//! Fusion: partitions a jaxpr into kernels.
//!
//! Only some variables are *materialised* (written to a buffer): inputs,
//! constants, outputs, results of primitives that cannot be fused,
//! reductions that cannot join their consumer's kernel, the operands of
//! contractions, and what the cost model picks. Every other value —
//! elementwise ops and movement — is recomputed inline, as index
//! arithmetic and ALU nodes, inside each kernel that reads it. A reduction
//! (or matmul) with a single consumer joins that consumer's kernel as its
//! reduction loop, so the elementwise chain after it becomes the epilogue
//! (`relu(x @ W + b)` is one kernel).
//!
//! Two rules keep inlining from costing more than it saves:
//!
//! - **Contractions read buffers.** A matmul (or a sum over a product of
//!   two broadcast operands) reads each operand element once per output
//!   row or column, so an inlined producer would be recomputed that many
//!   times, and the backends' tiled fast paths want their operands as plain
//!   loads (wasm: a product of two loads at affine indices). A computed
//!   operand is materialised and read through the views above it
//!   (transpose, broadcast, reshape, slice, flip: affine indices). Its
//!   producer's own chain stays fused as that kernel's epilogue.
//! - **The cost model** ([`COSTS`], [`worth_storing`]): the planner counts
//!   how many times each inlined value is evaluated per element over the
//!   whole program (each kernel that inlines it, each index it is read at,
//!   each loop iteration and each broadcast copy that reads it) and what
//!   one evaluation costs; a value whose extra evaluations cost more than a
//!   buffer write and read and a launch is materialised, and the program
//!   is planned again. Softmax's `exp` (read by the sum and by the division) is
//!   computed once; `x - m` (one subtraction) is still recomputed.

use crate::lower::{
    self, BinOp, Operands, RedOp, binary_expr, movement, ravel, reduce_dtypes, two_stage_chunk,
    unary_expr, unravel,
};
use crate::trace::indexing_rules::IxPrim;
use crate::trace::jaxpr::{Atom, Eqn, Jaxpr};
use crate::trace::prim::{Aval, Fusion, Prim};
use oxjax_abi::{DType, Kernel, KernelBuilder, Scalar, Val};
use std::collections::HashMap;

/// One step of a compiled program.
pub(crate) enum Step {
    /// Run a kernel reading materialised variables, writing `outputs`.
    Kernel {
        kernel: Kernel,
        inputs: Vec<usize>,
        outputs: Vec<usize>,
    },
    /// Evaluate one equation eagerly (primitives fusion does not cover).
    Eager { eqn: usize },
}

/// Whether an equation's result can be recomputed inline by a consumer.
fn inlinable(p: &Prim) -> bool {
    matches!(p.facts().fusion, Fusion::Inline | Fusion::AffineView)
}

fn is_reduction(p: &Prim) -> bool {
    p.facts().fusion == Fusion::Reduction
}

/// Movement that reads its operand at an affine index (what the backends'
/// matmul fast paths accept around a load).
fn is_affine_view(p: &Prim) -> bool {
    p.facts().fusion == Fusion::AffineView
}

/// The cost model's unit: one add, multiply, compare, select or cast of one
/// element. Movement costs nothing (index arithmetic, shared by the whole
/// kernel and often folded by the backend).
const CHEAP: u64 = 1;

/// The cost model's table: what computing one element of an op inline
/// costs, in [`CHEAP`] units, by primitive name; ops not listed cost
/// [`CHEAP`]. The figures are rough instruction counts of the backends'
/// implementations: a division or square root is a slow instruction (or a
/// Newton step on a vector path); integer division and remainder add sign
/// fixes; a transcendental function is a range reduction and a polynomial
/// of about ten terms; `pow` is `exp(y log x)` with its special cases.
pub(crate) const COSTS: &[(&str, u64)] = &[
    ("div", 4),
    ("sqrt", 4),
    ("rsqrt", 4),
    ("reciprocal", 4),
    ("floor_divide", 4),
    ("remainder", 4),
    ("fmod", 4),
    ("exp", 16),
    ("exp2", 16),
    ("log", 16),
    ("log2", 16),
    ("log1p", 16),
    ("expm1", 16),
    ("sin", 16),
    ("cos", 16),
    ("tan", 16),
    ("asin", 16),
    ("acos", 16),
    ("atan", 16),
    ("atan2", 16),
    ("sinh", 16),
    ("cosh", 16),
    ("tanh", 16),
    ("erf", 16),
    ("erfc", 16),
    ("pow", 32),
];

/// What materialising a value costs per element, in [`CHEAP`] units: a
/// store and the loads that replace its evaluations.
pub(crate) const MATERIALISE: u64 = 8;

/// What materialising a value costs once, in [`CHEAP`] units: a kernel
/// launch (a few microseconds of dispatch), so tiny values stay inlined.
pub(crate) const LAUNCH: u64 = 2048;

/// The cost model's rule: a value is materialised when the evaluations it
/// would save (all but one per element, each costing `cost`) cost more
/// than storing it: `(evaluations - size) × cost ≥ MATERIALISE × size +
/// LAUNCH`. So a shared `exp` (16) of a few thousand elements or more is
/// stored, as is an `exp` of a row broadcast over many rows, or a shared
/// chain of ten cheap ops; a subtraction read twice (1), a short cheap
/// chain, or a handful of index computations broadcast over a small
/// array stay inlined.
fn worth_storing(evals: f64, size: usize, cost: u64) -> bool {
    let size = size.max(1) as f64;
    (evals - size) * cost as f64 >= (MATERIALISE as f64) * size + LAUNCH as f64
}

/// The cost of one element of `p` inline (reductions are priced by their
/// loop, in the emitter).
fn op_cost(p: &Prim) -> u64 {
    let name = match p {
        Prim::Unary(u) => u.name(),
        Prim::Binary(b) => b.name(),
        p if is_affine_view(p) => return 0,
        _ => return CHEAP,
    };
    COSTS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(CHEAP, |&(_, c)| c)
}

/// Rewrites each long reduction to one value into the two-stage plan eager
/// uses ([`two_stage_chunk`]): flatten, pad to whole chunks with the
/// identity, reduce `[m, chunk]` over its rows, then reduce the `m`
/// partials. The partial kernel has `m` outputs, so backends spread it over
/// threads, and no accumulator runs longer than one chunk (a jitted
/// `sum` of 20M ones otherwise stops at 2^24). `mean` sums in both stages
/// and divides once; f16 and integer means accumulate in the widened dtype.
pub(crate) fn split_long_reductions(mut j: Jaxpr) -> Jaxpr {
    let mut eqns = Vec::with_capacity(j.eqns.len());
    for e in std::mem::take(&mut j.eqns) {
        let Prim::Reduce(op, axes) = &e.prim else {
            eqns.push(e);
            continue;
        };
        let x_aval = j.aval(&e.ins[0]);
        let out = e.outs[0];
        let out_aval = j.avals[out].clone();
        let rsize: usize = axes.iter().map(|&d| x_aval.shape[d]).product();
        let Some(chunk) = two_stage_chunk(out_aval.size(), rsize) else {
            eqns.push(e);
            continue;
        };
        let (rop, acc, out_dtype) = reduce_dtypes(*op, x_aval.dtype);
        let stage = if *op == RedOp::Mean { RedOp::Sum } else { *op };
        let m = rsize.div_ceil(chunk);
        let mut add = |prim: Prim, ins: Vec<Atom>, shape: Vec<usize>, dtype: DType| {
            j.avals.push(Aval {
                shape,
                dtype,
                weak: false,
            });
            let v = j.avals.len() - 1;
            eqns.push(Eqn {
                prim,
                ins,
                outs: vec![v],
            });
            Atom::Var(v)
        };
        let mut x = e.ins[0].clone();
        if acc != x_aval.dtype {
            x = add(Prim::Cast(acc), vec![x], x_aval.shape.clone(), acc);
        }
        x = add(Prim::Reshape(vec![rsize]), vec![x], vec![rsize], acc);
        if m * chunk > rsize {
            let fill = rop.identity(acc);
            x = add(
                Prim::Pad(vec![(0, m * chunk - rsize, 0)], fill),
                vec![x],
                vec![m * chunk],
                acc,
            );
        }
        x = add(Prim::Reshape(vec![m, chunk]), vec![x], vec![m, chunk], acc);
        x = add(Prim::Reduce(stage, vec![1]), vec![x], vec![m], acc);
        x = add(Prim::Reduce(stage, vec![0]), vec![x], vec![], acc);
        if *op == RedOp::Mean {
            let scalar = Aval {
                shape: vec![],
                dtype: acc,
                weak: false,
            };
            let n = Atom::Lit(Scalar::F64(rsize as f64).cast(acc), scalar);
            x = add(Prim::Binary(BinOp::Div), vec![x, n], vec![], acc);
        }
        if out_dtype != acc {
            x = add(Prim::Cast(out_dtype), vec![x], vec![], out_dtype);
        }
        eqns.push(Eqn {
            prim: Prim::Reshape(out_aval.shape.clone()),
            ins: vec![x],
            outs: vec![out],
        });
    }
    j.eqns = eqns;
    j
}

/// Work on the planner's explicit stack. Planning never recurses (a
/// program of 100k ops must not overflow the thread's stack): a kernel
/// whose emission finds operands that must be in buffers first is
/// discarded, those operands are planned, and the kernel is emitted again.
enum Task {
    /// Compute these variables (of one shape) in one kernel.
    Group(Vec<usize>),
    /// Evaluate one equation eagerly, after its operands.
    Eqn(usize),
}

/// The planner's state.
pub(crate) struct Planner<'a> {
    jaxpr: &'a Jaxpr,
    /// The equation defining each variable.
    def: HashMap<usize, usize>,
    consumers: Vec<usize>,
    live: &'a [bool],
    pub materialised: Vec<bool>,
    pub steps: Vec<Step>,
    /// The backend's limit on a kernel's input buffers.
    max_inputs: usize,
    /// Variables the cost model chose to materialise (from an earlier plan).
    force: Vec<bool>,
    /// Per variable, over the kernels planned so far: how many elements
    /// were evaluated inline, and the most one evaluation cost (its own op
    /// plus the inlined operands it computed).
    work: Vec<(f64, u64)>,
}

impl<'a> Planner<'a> {
    pub fn new(
        jaxpr: &'a Jaxpr,
        live: &'a [bool],
        max_inputs: usize,
        force: Vec<bool>,
    ) -> Planner<'a> {
        let n = jaxpr.avals.len();
        let mut def = HashMap::new();
        let mut consumers = vec![0; n];
        for (i, e) in jaxpr.eqns.iter().enumerate() {
            if !live[i] {
                continue;
            }
            for &o in &e.outs {
                def.insert(o, i);
            }
            let mut seen = Vec::new();
            for a in &e.ins {
                if let Atom::Var(v) = a
                    && !seen.contains(v)
                {
                    seen.push(*v);
                    consumers[*v] += 1;
                }
            }
        }
        for a in &jaxpr.outs {
            if let Atom::Var(v) = a {
                consumers[*v] += 1;
            }
        }
        let mut materialised = vec![false; n];
        for &v in &jaxpr.invars {
            materialised[v] = true;
        }
        for (v, _) in &jaxpr.constvars {
            materialised[*v] = true;
        }
        Planner {
            jaxpr,
            def,
            consumers,
            live,
            materialised,
            steps: Vec::new(),
            max_inputs,
            force,
            work: vec![(0.0, 0); n],
        }
    }

    /// The cost model's verdict on this plan: the variables evaluated
    /// inline so often that a buffer is cheaper (see [`worth_storing`]). Of a
    /// chain of such values only the last is returned (storing it stops
    /// the recomputation of what it inlines); the next plan finds the rest.
    pub fn recomputed(&self) -> Vec<usize> {
        let j = self.jaxpr;
        let wasteful: Vec<bool> = (0..j.avals.len())
            .map(|v| {
                let (evals, cost) = self.work[v];
                !self.force[v] && worth_storing(evals, j.avals[v].size(), cost)
            })
            .collect();
        let mut covered = vec![false; j.avals.len()];
        for (e, eqn) in j.eqns.iter().enumerate() {
            if self.live[e] && inlinable(&eqn.prim) && eqn.outs.iter().any(|&o| wasteful[o]) {
                for a in &eqn.ins {
                    if let Atom::Var(u) = a {
                        covered[*u] = true;
                    }
                }
            }
        }
        (0..j.avals.len())
            .filter(|&v| wasteful[v] && !covered[v])
            .collect()
    }

    /// Plans an equation as an eager step of its own (effects, which may
    /// have no results), after the steps computing its operands.
    pub fn materialise_eqn(&mut self, e: usize) {
        self.run(Task::Eqn(e));
    }

    /// Computes several variables of one shape in one kernel where their
    /// reductions can share a loop (sibling fusion: `mean` and `var` of one
    /// input); each still gets a buffer of its own.
    pub fn materialise_group(&mut self, vs: &[usize]) {
        self.run(Task::Group(vs.to_vec()));
    }

    /// Runs a task and everything it turns out to depend on, depth first,
    /// on an explicit stack.
    fn run(&mut self, task: Task) {
        let mut stack = vec![task];
        while let Some(task) = stack.pop() {
            let first = match &task {
                Task::Eqn(e) => self.attempt_eqn(*e),
                Task::Group(vs) => self.attempt_group(vs),
            };
            if let Some(first) = first {
                // Each prerequisite is a variable not yet in a buffer (or an
                // equation not yet run), and planning it puts it in one, so
                // this terminates.
                debug_assert!(!first.is_empty());
                stack.push(task);
                // The first prerequisite found is planned first.
                stack.extend(first.into_iter().rev());
            }
        }
    }

    /// The operands of equations `eqns` not yet in buffers, each a task to
    /// plan first; `None` when there are none.
    fn unplanned_operands(&self, eqns: &[usize]) -> Option<Vec<Task>> {
        let mut pending: Vec<usize> = Vec::new();
        for &e in eqns {
            for a in &self.jaxpr.eqns[e].ins {
                if let Atom::Var(u) = a
                    && !self.materialised[*u]
                    && !pending.contains(u)
                {
                    pending.push(*u);
                }
            }
        }
        (!pending.is_empty()).then(|| pending.into_iter().map(|u| Task::Group(vec![u])).collect())
    }

    /// Plans equation `e` eagerly, or returns what must be planned first.
    fn attempt_eqn(&mut self, e: usize) -> Option<Vec<Task>> {
        let eqn = &self.jaxpr.eqns[e];
        if eqn.outs.iter().any(|&o| self.materialised[o]) {
            return None;
        }
        if let Some(first) = self.unplanned_operands(&[e]) {
            return Some(first);
        }
        self.steps.push(Step::Eager { eqn: e });
        for &o in &eqn.outs {
            self.materialised[o] = true;
        }
        None
    }

    /// Plans one kernel computing `vs`, or returns what must be planned
    /// first: results of primitives that run eagerly, variables the
    /// emission found must be in buffers, or (when the kernel would bind
    /// more buffers than the backend allows) the targets' operands.
    fn attempt_group(&mut self, vs: &[usize]) -> Option<Vec<Task>> {
        let fusible = |p: &Planner, v: usize| {
            let prim = &p.jaxpr.eqns[p.def[&v]].prim;
            inlinable(prim) || is_reduction(prim)
        };
        let (vs, eager): (Vec<usize>, Vec<usize>) = vs
            .iter()
            .copied()
            .filter(|&v| !self.materialised[v])
            .partition(|&v| fusible(self, v));
        if !eager.is_empty() {
            // All results of a multi-result equation at once (one routine call).
            let mut eqns: Vec<usize> = eager.iter().map(|v| self.def[v]).collect();
            eqns.dedup();
            return Some(eqns.into_iter().map(Task::Eqn).collect());
        }
        let &first = vs.first()?;
        let aval = self.jaxpr.avals[first].clone();
        let mut k = KernelGen {
            p: self,
            b: KernelBuilder::new(),
            inputs: Vec::new(),
            rsize: None,
            loop_sig: None,
            memo: HashMap::new(),
            targets: vs.clone(),
            size: aval.size(),
            needs: Vec::new(),
            work: Vec::new(),
        };
        let idx = {
            let g = k.b.gidx();
            unravel(&mut k.b, g, &aval.shape)
        };
        let outs: Vec<Val> = vs.iter().map(|&v| k.emit(v, &idx)).collect();
        let KernelGen {
            mut b,
            inputs,
            rsize,
            needs,
            work,
            ..
        } = k;
        if !needs.is_empty() {
            return Some(needs.into_iter().map(|u| Task::Group(vec![u])).collect());
        }
        if inputs.len() > self.max_inputs {
            // Too many buffers for the backend: compute the targets'
            // operands first (each in kernels of their own), then retry.
            let eqns: Vec<usize> = vs.iter().map(|v| self.def[v]).collect();
            if let Some(first) = self.unplanned_operands(&eqns) {
                return Some(first);
            }
            // Every operand is in a buffer already. Siblings that read too
            // many together (the bias gradients of a layer, one column sum
            // each) are planned in halves; a lone target (an n-ary
            // primitive, concatenate) runs eagerly, where it splits itself.
            if vs.len() > 1 {
                let (a, b) = vs.split_at(vs.len() / 2);
                return Some(vec![Task::Group(a.to_vec()), Task::Group(b.to_vec())]);
            }
            return Some(vec![Task::Eqn(eqns[0])]);
        }
        for o in outs {
            b.output(o);
        }
        let kernel = b.finish(aval.size(), rsize.unwrap_or(0));
        self.steps.push(Step::Kernel {
            kernel,
            inputs,
            outputs: vs.clone(),
        });
        for v in vs {
            self.materialised[v] = true;
        }
        for (v, evals, cost) in work {
            let w = &mut self.work[v];
            w.0 += evals;
            w.1 = w.1.max(cost);
        }
        None
    }
}

/// A request for an operand's value: the atom, the multi-index to read it
/// at, and whether it is read inside the reduction loop.
type Req = (Atom, Vec<Val>, bool);

/// Memo key of an emitted value: variable, index node ids, in the loop body.
type MemoKey = (usize, Vec<u32>, bool);

/// A value being emitted whose operands are not all emitted yet: the
/// emitter's explicit stack holds these instead of recursing.
struct Frame {
    v: usize,
    key: MemoKey,
    idx: Vec<Val>,
    in_body: bool,
    /// Primitives that read in two steps (gather: the indices first, then
    /// the data at them) count their stages here.
    stage: u8,
    reqs: Vec<Req>,
    /// The values of `reqs` emitted so far, in order.
    got: Vec<Val>,
    /// The cost of the operands this frame computed (not loaded or reused).
    cost: u64,
}

/// A value started by [`KernelGen::enter`]: ready, or waiting on operands.
enum Entered {
    Value(Val),
    Frame(Frame),
}

/// What a frame does once its requests are answered.
enum Next {
    Done(Val),
    More(Vec<Req>),
}

/// Emits one kernel.
struct KernelGen<'p, 'a> {
    p: &'p Planner<'a>,
    b: KernelBuilder,
    /// Materialised variables read, in input order.
    inputs: Vec<usize>,
    /// The reduction loop's length, once the kernel has one.
    rsize: Option<usize>,
    /// What the reduction loop iterates: the reduced operand's shape, the
    /// reduced axes and the kept indices (siblings must match all three).
    loop_sig: Option<(Vec<usize>, Vec<usize>, Vec<u32>)>,
    /// Emitted values by variable, index and phase: a value computed in the
    /// epilogue may read an accumulator, so the loop body must not reuse it
    /// (`var` reads `mean` at the same index when both are scalars).
    memo: HashMap<MemoKey, Val>,
    /// The variables this kernel computes, and their element count.
    targets: Vec<usize>,
    size: usize,
    /// Variables found to need buffers of their own before this kernel can
    /// run (the kernel is then discarded and emitted again).
    needs: Vec<usize>,
    /// The values computed inline: variable, element evaluations, cost of one.
    work: Vec<(usize, f64, u64)>,
}

fn ids(idx: &[Val]) -> Vec<u32> {
    idx.iter().map(|x| x.id).collect()
}

impl KernelGen<'_, '_> {
    fn aval(&self, a: &Atom) -> Aval {
        self.p.jaxpr.aval(a)
    }

    fn load(&mut self, v: usize, idx: &[Val]) -> Val {
        let k = match self.inputs.iter().position(|&u| u == v) {
            Some(k) => k as u32,
            None => {
                self.inputs.push(v);
                self.b.input(self.p.jaxpr.avals[v].dtype)
            }
        };
        let shape = &self.p.jaxpr.avals[v].shape;
        let lin = ravel(&mut self.b, idx, shape);
        self.b.load(k, lin)
    }

    /// Records that `v` must be in a buffer before this kernel runs, and
    /// reads it from there (the kernel is emitted again once it is).
    fn need(&mut self, v: usize, idx: &[Val]) -> Val {
        self.mark_needed(v);
        self.load(v, idx)
    }

    fn mark_needed(&mut self, v: usize) {
        if !self.needs.contains(&v) {
            self.needs.push(v);
        }
    }

    /// The variable an operand of a contraction reads through affine views,
    /// when it would be computed in this kernel rather than loaded.
    fn computed_base(&self, a: &Atom) -> Option<usize> {
        let mut a = a;
        loop {
            let Atom::Var(u) = a else { return None };
            if self.p.materialised[*u] || self.needs.contains(u) {
                return None;
            }
            let eqn = &self.p.jaxpr.eqns[self.p.def[u]];
            if is_affine_view(&eqn.prim) {
                a = &eqn.ins[0];
                continue;
            }
            return inlinable(&eqn.prim).then_some(*u);
        }
    }

    /// Whether `a` is read through a broadcast (each of its elements is
    /// reused), looking through affine views.
    fn broadcast_view(&self, a: &Atom) -> bool {
        let mut a = a;
        while let Atom::Var(u) = a
            && !self.p.materialised[*u]
        {
            let eqn = &self.p.jaxpr.eqns[self.p.def[u]];
            if matches!(eqn.prim, Prim::BroadcastTo(_)) {
                return true;
            }
            if !is_affine_view(&eqn.prim) {
                break;
            }
            a = &eqn.ins[0];
        }
        false
    }

    /// The two factors of a contraction: a matmul's operands, or the
    /// operands of a product summed over when both are read through
    /// broadcasts (`(x[:, :, None] * w[None]).sum(1)`).
    fn contraction_factors(&self, prim: &Prim, ins: &[Atom]) -> Option<[Atom; 2]> {
        match prim {
            Prim::Matmul => Some([ins[0].clone(), ins[1].clone()]),
            Prim::Reduce(RedOp::Sum, _) => {
                let Atom::Var(u) = &ins[0] else { return None };
                if self.p.materialised[*u] {
                    return None;
                }
                let eqn = &self.p.jaxpr.eqns[self.p.def[u]];
                let product = matches!(eqn.prim, Prim::Binary(BinOp::Mul));
                (product && eqn.ins.iter().all(|a| self.broadcast_view(a)))
                    .then(|| [eqn.ins[0].clone(), eqn.ins[1].clone()])
            }
            _ => None,
        }
    }

    /// The value of variable `v` at multi-index `idx` (outside the
    /// reduction loop), emitting what it depends on. Iterative: operands
    /// wait on an explicit stack of frames.
    fn emit(&mut self, v: usize, idx: &[Val]) -> Val {
        let mut stack: Vec<Frame> = match self.enter(v, idx.to_vec(), false) {
            Entered::Value(x) => return x,
            Entered::Frame(f) => vec![f],
        };
        loop {
            let top = stack.last_mut().expect("a frame is pending");
            if top.got.len() < top.reqs.len() {
                let (a, i, body) = top.reqs[top.got.len()].clone();
                let r = match a {
                    Atom::Lit(s, aval) => Entered::Value(self.b.constant(s.cast(aval.dtype))),
                    Atom::Var(u) => self.enter(u, i, body),
                };
                match r {
                    Entered::Value(x) => stack.last_mut().expect("the requester").got.push(x),
                    Entered::Frame(f) => stack.push(f),
                }
                continue;
            }
            let mut f = stack.pop().expect("a frame is pending");
            match self.combine(&mut f) {
                Next::More(reqs) => {
                    // The answers so far stay: the lowering reads them all.
                    f.stage += 1;
                    f.reqs.extend(reqs);
                    stack.push(f);
                }
                Next::Done(x) => {
                    let cost = self.record(&f);
                    self.memo.insert(f.key, x);
                    match stack.last_mut() {
                        Some(parent) => {
                            parent.got.push(x);
                            parent.cost = parent.cost.saturating_add(cost);
                        }
                        None => return x,
                    }
                }
            }
        }
    }

    /// Records a finished frame's evaluations for the cost model; returns
    /// the cost of one evaluation (a reduction pays for its whole loop).
    fn record(&mut self, f: &Frame) -> u64 {
        let prim = &self.p.jaxpr.eqns[self.p.def[&f.v]].prim;
        let rsize = self.rsize.unwrap_or(1).max(1) as u64;
        let cost = if is_reduction(prim) {
            rsize.saturating_mul(f.cost.saturating_add(CHEAP))
        } else {
            op_cost(prim).saturating_add(f.cost)
        };
        let evals = self.size as f64 * if f.in_body { rsize as f64 } else { 1.0 };
        self.work.push((f.v, evals, cost));
        cost
    }

    /// Starts emitting `v` at `idx`: its value when it needs no operands
    /// emitted (memoised, loaded, or needing a buffer first), else a frame
    /// with the operand requests.
    fn enter(&mut self, v: usize, idx: Vec<Val>, in_body: bool) -> Entered {
        let key = (v, ids(&idx), in_body);
        if let Some(&x) = self.memo.get(&key) {
            return Entered::Value(x);
        }
        if self.p.materialised[v] || self.needs.contains(&v) {
            let x = self.load(v, &idx);
            self.memo.insert(key, x);
            return Entered::Value(x);
        }
        let jaxpr = self.p.jaxpr;
        let eqn = &jaxpr.eqns[self.p.def[&v]];
        let (prim, ins) = (&eqn.prim, &eqn.ins);
        let out_aval = &jaxpr.avals[v];
        let mut frame = Frame {
            v,
            key,
            idx,
            in_body,
            stage: 0,
            reqs: Vec::new(),
            got: Vec::new(),
            cost: 0,
        };
        let idx = frame.idx.clone();
        if self.p.force[v] && !self.targets.contains(&v) {
            let x = self.need(v, &idx);
            self.memo.insert(frame.key, x);
            return Entered::Value(x);
        }
        // A reduction joins this kernel only as its one loop, feeding the epilogue.
        if is_reduction(prim) {
            // It fits when it is a target of this kernel, or its only
            // consumer reads it one-to-one (a broadcast would recompute the
            // loop), and the kernel's loop is free or iterates the same way.
            let one_to_one = self.p.consumers[v] <= 1 && out_aval.size() == self.size;
            let wanted = self.targets.contains(&v) || one_to_one;
            let sig = match prim {
                Prim::Reduce(_, axes) => Some((self.aval(&ins[0]).shape, axes.clone(), ids(&idx))),
                _ => None,
            };
            let loop_ok = self.rsize.is_none() || (sig.is_some() && sig == self.loop_sig);
            if in_body || !wanted || !loop_ok {
                let x = self.need(v, &idx);
                self.memo.insert(frame.key, x);
                return Entered::Value(x);
            }
            self.loop_sig = sig;
            // A contraction reads its operands from buffers (through affine
            // views): an inlined producer would run once per output row or
            // column, and the backends' matmul fast paths want plain loads.
            if let Some(factors) = self.contraction_factors(prim, ins) {
                for a in &factors {
                    if let Some(u) = self.computed_base(a) {
                        self.mark_needed(u);
                    }
                }
            }
            frame.reqs = self.reduction_reqs(prim, ins, &idx);
            return Entered::Frame(frame);
        }
        if !inlinable(prim) {
            let x = self.need(v, &idx);
            self.memo.insert(frame.key, x);
            return Entered::Value(x);
        }
        let in_shape = |k: usize| jaxpr.aval(&ins[k]).shape;
        let b = &mut self.b;
        let req = |a: &Atom, src: Vec<Val>| (a.clone(), src, in_body);
        frame.reqs = match prim {
            Prim::Unary(_) | Prim::Cast(_) | Prim::StopGradient => vec![req(&ins[0], idx)],
            Prim::Binary(_) => vec![req(&ins[0], idx.clone()), req(&ins[1], idx)],
            Prim::Select => ins.iter().map(|a| req(a, idx.clone())).collect(),
            Prim::Reshape(_) => {
                let src = movement::reshape(b, &idx, &out_aval.shape, &in_shape(0));
                vec![req(&ins[0], src)]
            }
            Prim::Transpose(perm) => vec![req(&ins[0], movement::transpose(&idx, perm))],
            Prim::BroadcastTo(_) => vec![req(&ins[0], movement::broadcast(b, &idx, &in_shape(0)))],
            Prim::Slice(spec) => vec![req(&ins[0], movement::slice(b, &idx, spec))],
            Prim::Flip(axes) => vec![req(&ins[0], movement::flip(b, &idx, &in_shape(0), axes))],
            Prim::Pad(widths, _) => {
                let (src, _) = movement::pad(b, &idx, widths, &in_shape(0));
                vec![req(&ins[0], src)]
            }
            // The pieces in the order `lower::concatenate` reads them.
            Prim::Concatenate(axis) => movement::concat_pieces(&concat_lens(jaxpr, ins, *axis))
                .into_iter()
                .map(|(k, off)| req(&ins[k], movement::concat_piece(b, &idx, *axis, off)))
                .collect(),
            Prim::Indexing(IxPrim::Gather { axis }) => {
                // A load at a data-dependent index: the index is itself an
                // inlined expression of the indices operand (stage 0), the
                // data is read at it (stage 1).
                let k = in_shape(1).len();
                vec![req(&ins[1], movement::gather_indices(&idx, *axis, k))]
            }
            _ => unreachable!("inlinable primitives are handled above"),
        };
        Entered::Frame(frame)
    }

    /// The loop body's operand requests of reduction `prim`, making it this
    /// kernel's loop.
    fn reduction_reqs(&mut self, prim: &Prim, ins: &[Atom], idx: &[Val]) -> Vec<Req> {
        // ridx is hash-consed, so siblings share the loop index.
        match prim {
            Prim::Reduce(_, axes) => {
                let shape = self.aval(&ins[0]).shape;
                self.rsize = Some(axes.iter().map(|&d| shape[d]).product());
                let src = lower::reduce_index(&mut self.b, idx, axes, &shape);
                vec![(ins[0].clone(), src, true)]
            }
            Prim::Matmul => {
                let a = self.aval(&ins[0]).shape;
                self.rsize = Some(a[a.len() - 1]);
                let [ai, bi] = lower::matmul_indices(&mut self.b, idx);
                vec![(ins[0].clone(), ai, true), (ins[1].clone(), bi, true)]
            }
            _ => unreachable!(),
        }
    }

    /// Finishes a frame whose requests are answered: its value, or the
    /// requests of its next stage.
    fn combine(&mut self, f: &mut Frame) -> Next {
        let jaxpr = self.p.jaxpr;
        let eqn = &jaxpr.eqns[self.p.def[&f.v]];
        let (prim, ins) = (&eqn.prim, &eqn.ins);
        let out = &jaxpr.avals[f.v];
        let in_shape = |k: usize| jaxpr.aval(&ins[k]).shape;
        if let Prim::Indexing(IxPrim::Gather { axis }) = prim
            && f.stage == 0
        {
            // The index is read; now the data at it.
            let (k, n) = (in_shape(1).len(), in_shape(0)[*axis]);
            let src = movement::gather_source(&mut self.b, &f.idx, f.got[0], *axis, k, n);
            return Next::More(vec![(ins[0].clone(), src, f.in_body)]);
        }
        let o = &mut Emitted {
            b: &mut self.b,
            ins,
            reqs: &f.reqs,
            got: &f.got,
            next: 0,
        };
        let got = &f.got;
        Next::Done(match prim {
            Prim::Unary(u) => unary_expr(*u, o.b, got[0]),
            Prim::Binary(op) => {
                binary_expr(*op, o.b, got[0], got[1]).expect("primitive operands are canonical")
            }
            Prim::Select => o.b.select(got[0], got[1], got[2]),
            Prim::Cast(d) => o.b.cast(got[0], *d),
            Prim::StopGradient
            | Prim::Reshape(_)
            | Prim::Transpose(_)
            | Prim::BroadcastTo(_)
            | Prim::Slice(_)
            | Prim::Flip(_) => got[0],
            Prim::Pad(widths, value) => {
                lower::pad(o, &f.idx, widths, &in_shape(0), *value, out.dtype)
            }
            Prim::Concatenate(axis) => {
                let lens = concat_lens(jaxpr, ins, *axis);
                lower::concatenate(o, &f.idx, *axis, &lens, out.dtype)
            }
            Prim::Indexing(IxPrim::Gather { axis }) => {
                let (k, n) = (in_shape(1).len(), in_shape(0)[*axis]);
                lower::gather(o, &f.idx, *axis, k, n, out.dtype)
            }
            Prim::Reduce(op, axes) => {
                let shape = in_shape(0);
                let rsize: usize = axes.iter().map(|&d| shape[d]).product();
                let (rop, acc, out_dtype) = reduce_dtypes(*op, jaxpr.aval(&ins[0]).dtype);
                let total = lower::reduce_loop(o, rop, acc, &f.idx, axes, &shape);
                lower::reduce_epilogue(o.b, *op, total, rsize, out_dtype)
            }
            Prim::Matmul => lower::matmul(o, &f.idx, out.dtype),
            _ => unreachable!("emitted primitives are handled above"),
        })
    }
}

/// Values already emitted: jit's side of [`Operands`]. The emitter
/// answered the frame's requests (operand, index) in order before the
/// lowering runs, so each read takes the next answer; the lowering
/// computes the same indices (hash-consed to the same nodes), which debug
/// builds check.
struct Emitted<'k> {
    b: &'k mut KernelBuilder,
    ins: &'k [Atom],
    reqs: &'k [Req],
    got: &'k [Val],
    next: usize,
}

impl Operands for Emitted<'_> {
    fn builder(&mut self) -> &mut KernelBuilder {
        self.b
    }

    fn read(&mut self, k: usize, idx: &[Val], dtype: DType) -> Val {
        let (atom, at, _) = &self.reqs[self.next];
        let same_operand = match (atom, &self.ins[k]) {
            (Atom::Var(u), Atom::Var(v)) => u == v,
            // Literals compare by index alone (a NaN literal is unequal to itself).
            (Atom::Lit(..), Atom::Lit(..)) => true,
            _ => false,
        };
        debug_assert!(
            same_operand && ids(at) == ids(idx),
            "the lowering reads operand {k} where the emitter did not request it"
        );
        let v = self.got[self.next];
        self.next += 1;
        self.b.cast(v, dtype)
    }
}

/// The lengths of a concatenation's operands along `axis`.
fn concat_lens(jaxpr: &Jaxpr, ins: &[Atom], axis: usize) -> Vec<usize> {
    ins.iter().map(|a| jaxpr.aval(a).shape[axis]).collect()
}

#[cfg(test)]
mod tests {
    use crate::jit::compile;
    use crate::trace::prim::Aval;
    use crate::{Array, Axes, Registry, with_default_device};

    /// Sibling reductions share one loop but each reads its own buffer: the
    /// column sums of five inputs (a layer's bias gradients) under a limit
    /// of three are split into groups that fit, with the same values.
    #[test]
    fn sibling_reductions_split_at_the_input_limit() {
        let reg = Registry::embedded();
        with_default_device(&reg.default_device(), || {
            let xs: Vec<Array> = (0..5)
                .map(|i| {
                    Array::arange(i as f64, i as f64 + 12.0, 1.0, oxjax_abi::DType::F32)
                        .reshape(&[4, 3])
                })
                .collect();
            let f = |v: &[Array]| -> Vec<Array> {
                v.iter()
                    .map(|x| x.sum(Axes::from(vec![0]), false))
                    .collect()
            };
            let avals: Vec<Aval> = xs.iter().map(Array::aval).collect();
            let jaxpr = crate::trace::jaxpr::trace_to_jaxpr(&avals, f);
            let unlimited = compile(jaxpr.clone(), usize::MAX);
            let widest = |p: &crate::jit::Compiled| {
                p.kernels().iter().map(|k| k.inputs.len()).max().unwrap()
            };
            assert_eq!(widest(&unlimited), 5, "the sums fuse into one kernel");
            let limited = compile(jaxpr, 3);
            assert!(widest(&limited) <= 3);
            let got = limited.run(&xs, &crate::default_device()).unwrap();
            for (g, w) in got.iter().zip(f(&xs)) {
                assert_eq!(g.to_vec::<f32>(), w.to_vec::<f32>());
            }
        });
    }

    /// One primitive that reads more buffers than allowed (a concatenate
    /// of five inputs under a limit of three) runs eagerly, where the
    /// movement op splits itself; no kernel exceeds the limit.
    #[test]
    fn a_lone_over_wide_primitive_runs_within_the_limit() {
        let reg = Registry::embedded();
        with_default_device(&reg.default_device(), || {
            let xs: Vec<Array> = (0..5)
                .map(|i| Array::from_vec(vec![i as f32, 10.0 + i as f32], &[2]))
                .collect();
            let f = |v: &[Array]| -> Vec<Array> {
                let refs: Vec<&Array> = v.iter().collect();
                vec![Array::concatenate(&refs, 0)]
            };
            let avals: Vec<Aval> = xs.iter().map(Array::aval).collect();
            let program = compile(crate::trace::jaxpr::trace_to_jaxpr(&avals, f), 3);
            assert!(program.kernels().iter().all(|k| k.inputs.len() <= 3));
            let got = program.run(&xs, &crate::default_device()).unwrap();
            assert_eq!(got[0].to_vec::<f32>(), f(&xs)[0].to_vec::<f32>());
        });
    }
}
