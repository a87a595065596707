//! Fusion: partitions a jaxpr into kernels.
//!
//! Only some variables are *materialised* (written to a buffer): inputs,
//! constants, outputs, results of primitives that cannot be fused, and
//! reductions that cannot join their consumer's kernel. Every other value
//! — elementwise ops and movement — is recomputed inline, as index
//! arithmetic and ALU nodes, inside each kernel that reads it. A reduction
//! (or matmul) with a single consumer joins that consumer's kernel as its
//! reduction loop, so the elementwise chain after it becomes the epilogue
//! (`relu(x @ W + b)` is one kernel).

use crate::eager::{binary_expr, clamp_index, to_float, two_stage_chunk, unary_expr, unravel};
use crate::trace::indexing_rules::IxPrim;
use crate::trace::jaxpr::{Atom, Eqn, Jaxpr};
use crate::trace::prim::{Aval, BinOp, Prim, RedOp};
use oxjax_abi::{DType, Kernel, KernelBuilder, Op, ReduceOp, Scalar, Val};
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
    matches!(
        p,
        Prim::Unary(_)
            | Prim::Binary(_)
            | Prim::Select
            | Prim::Cast(_)
            | Prim::StopGradient
            | Prim::Reshape(_)
            | Prim::Transpose(_)
            | Prim::BroadcastTo(_)
            | Prim::Slice(_)
            | Prim::Flip(_)
            | Prim::Concatenate(_)
            | Prim::Indexing(IxPrim::Gather { .. })
    ) || matches!(p, Prim::Pad(w, _) if w.iter().all(|w| w.2 == 0))
}

fn is_reduction(p: &Prim) -> bool {
    matches!(p, Prim::Reduce(..) | Prim::Matmul)
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

/// The planner's state.
pub(crate) struct Planner<'a> {
    jaxpr: &'a Jaxpr,
    /// The equation defining each variable.
    def: HashMap<usize, usize>,
    consumers: Vec<usize>,
    pub materialised: Vec<bool>,
    pub steps: Vec<Step>,
    /// The backend's limit on a kernel's input buffers.
    max_inputs: usize,
}

impl<'a> Planner<'a> {
    pub fn new(jaxpr: &'a Jaxpr, live: &[bool], max_inputs: usize) -> Planner<'a> {
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
            materialised,
            steps: Vec::new(),
            max_inputs,
        }
    }

    /// Plans an equation as an eager step of its own (effects, which may
    /// have no results), after the steps computing its operands.
    pub fn materialise_eqn(&mut self, e: usize) {
        if self.jaxpr.eqns[e]
            .outs
            .iter()
            .any(|&o| self.materialised[o])
        {
            return;
        }
        for a in self.jaxpr.eqns[e].ins.clone() {
            if let Atom::Var(u) = a {
                self.materialise(u);
            }
        }
        self.steps.push(Step::Eager { eqn: e });
        for &o in &self.jaxpr.eqns[e].outs {
            self.materialised[o] = true;
        }
    }

    /// Makes sure `v` is in a buffer, planning the steps that compute it.
    pub fn materialise(&mut self, v: usize) {
        self.materialise_group(&[v]);
    }

    /// Computes several variables of one shape in one kernel where their
    /// reductions can share a loop (sibling fusion: `mean` and `var` of one
    /// input); each still gets a buffer of its own.
    pub fn materialise_group(&mut self, vs: &[usize]) {
        let fusible = |p: &Planner, v: usize| {
            let prim = &p.jaxpr.eqns[p.def[&v]].prim;
            inlinable(prim) || is_reduction(prim)
        };
        let (vs, eager): (Vec<usize>, Vec<usize>) = vs
            .iter()
            .copied()
            .filter(|&v| !self.materialised[v])
            .partition(|&v| fusible(self, v));
        for v in eager {
            // All results of a multi-result equation at once (one routine call).
            self.materialise_eqn(self.def[&v]);
        }
        let Some(&first) = vs.first() else { return };
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
        };
        let idx = {
            let g = k.b.gidx();
            unravel(&mut k.b, g, &aval.shape)
        };
        let outs: Vec<Val> = vs.iter().map(|&v| k.emit(v, &idx, false)).collect();
        let KernelGen {
            mut b,
            inputs,
            rsize,
            ..
        } = k;
        if inputs.len() > self.max_inputs {
            // Too many buffers for the backend: compute the targets'
            // operands first (each in kernels of their own), then retry.
            let pending: usize = vs.iter().map(|&v| self.pending_operands(v)).sum();
            if pending > 0 {
                for &v in &vs {
                    for a in self.jaxpr.eqns[self.def[&v]].ins.clone() {
                        if let Atom::Var(u) = a {
                            self.materialise(u);
                        }
                    }
                }
                return self.materialise_group(&vs);
            }
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
    }
}

impl Planner<'_> {
    /// How many operands of `v`'s equation are not yet in buffers.
    fn pending_operands(&self, v: usize) -> usize {
        self.jaxpr.eqns[self.def[&v]]
            .ins
            .iter()
            .filter(|a| matches!(a, Atom::Var(u) if !self.materialised[*u]))
            .count()
    }
}

/// Emits one kernel.
struct KernelGen<'p, 'a> {
    p: &'p mut Planner<'a>,
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
    memo: HashMap<(usize, Vec<u32>, bool), Val>,
    /// The variables this kernel computes, and their element count.
    targets: Vec<usize>,
    size: usize,
}

fn ravel(b: &mut KernelBuilder, idx: &[Val], shape: &[usize]) -> Val {
    let mut lin = b.i32(0);
    let mut stride = 1usize;
    for d in (0..shape.len()).rev() {
        if shape[d] != 1 {
            let s = b.i32(stride as i32);
            let t = b.op(Op::MUL, &[idx[d], s]);
            lin = b.op(Op::ADD, &[lin, t]);
        }
        stride *= shape[d];
    }
    lin
}

fn reduce_dtypes(r: RedOp, d: DType) -> (ReduceOp, DType, DType) {
    let widen = |d: DType| if d == DType::F16 { DType::F32 } else { d };
    match r {
        RedOp::Sum | RedOp::Prod => {
            let out = if d == DType::BOOL { DType::I32 } else { d };
            (
                if r == RedOp::Sum {
                    ReduceOp::ADD
                } else {
                    ReduceOp::MUL
                },
                widen(out),
                out,
            )
        }
        RedOp::Mean => (ReduceOp::ADD, widen(to_float(d)), to_float(d)),
        RedOp::Max => (ReduceOp::MAX, d, d),
        RedOp::Min => (ReduceOp::MIN, d, d),
        RedOp::All => (ReduceOp::MIN, DType::BOOL, DType::BOOL),
        RedOp::Any => (ReduceOp::MAX, DType::BOOL, DType::BOOL),
    }
}

impl KernelGen<'_, '_> {
    fn aval(&self, a: &Atom) -> Aval {
        self.p.jaxpr.aval(a)
    }

    /// The value of atom `a` at multi-index `idx`; `in_body` is true inside
    /// the reduction loop.
    fn atom(&mut self, a: &Atom, idx: &[Val], in_body: bool) -> Val {
        match a {
            Atom::Lit(s, aval) => self.b.constant(s.cast(aval.dtype)),
            Atom::Var(v) => self.emit(*v, idx, in_body),
        }
    }

    fn load(&mut self, v: usize, idx: &[Val]) -> Val {
        let k = match self.inputs.iter().position(|&u| u == v) {
            Some(k) => k as u32,
            None => {
                self.inputs.push(v);
                self.b.input(self.p.jaxpr.avals[v].dtype)
            }
        };
        let shape = self.p.jaxpr.avals[v].shape.clone();
        let lin = ravel(&mut self.b, idx, &shape);
        self.b.load(k, lin)
    }

    fn emit(&mut self, v: usize, idx: &[Val], in_body: bool) -> Val {
        let key = (v, idx.iter().map(|x| x.id).collect::<Vec<_>>(), in_body);
        if let Some(&x) = self.memo.get(&key) {
            return x;
        }
        let x = self.emit_uncached(v, idx, in_body);
        self.memo.insert(key, x);
        x
    }

    fn emit_uncached(&mut self, v: usize, idx: &[Val], in_body: bool) -> Val {
        if self.p.materialised[v] {
            return self.load(v, idx);
        }
        let e = self.p.def[&v];
        let eqn = self.p.jaxpr.eqns[e].clone();
        let prim = &eqn.prim;
        let ins = &eqn.ins;
        let out_aval = self.p.jaxpr.avals[v].clone();
        // A reduction joins this kernel only as its one loop, feeding the epilogue.
        if is_reduction(prim) {
            // It fits when it is a target of this kernel, or its only
            // consumer reads it one-to-one (a broadcast would recompute the
            // loop), and the kernel's loop is free or iterates the same way.
            let one_to_one = self.p.consumers[v] <= 1 && out_aval.size() == self.size;
            let wanted = self.targets.contains(&v) || one_to_one;
            let sig = match prim {
                Prim::Reduce(_, axes) => Some((
                    self.aval(&ins[0]).shape,
                    axes.clone(),
                    idx.iter().map(|x| x.id).collect(),
                )),
                _ => None,
            };
            let loop_ok = self.rsize.is_none() || (sig.is_some() && sig == self.loop_sig);
            if in_body || !wanted || !loop_ok {
                self.p.materialise(v);
                return self.load(v, idx);
            }
            self.loop_sig = sig;
            return self.reduction(prim, ins, idx, &out_aval);
        }
        if !inlinable(prim) {
            self.p.materialise(v);
            return self.load(v, idx);
        }
        let jaxpr = self.p.jaxpr;
        let in_aval = |k: usize| jaxpr.aval(&ins[k]);
        match prim {
            Prim::Unary(u) => {
                let x = self.atom(&ins[0], idx, in_body);
                unary_expr(*u, &mut self.b, x)
            }
            Prim::Binary(op) => {
                let x = self.atom(&ins[0], idx, in_body);
                let y = self.atom(&ins[1], idx, in_body);
                binary_expr(*op, &mut self.b, x, y).expect("primitive operands are canonical")
            }
            Prim::Select => {
                let c = self.atom(&ins[0], idx, in_body);
                let x = self.atom(&ins[1], idx, in_body);
                let y = self.atom(&ins[2], idx, in_body);
                self.b.select(c, x, y)
            }
            Prim::Cast(d) => {
                let x = self.atom(&ins[0], idx, in_body);
                self.b.cast(x, *d)
            }
            Prim::StopGradient => self.atom(&ins[0], idx, in_body),
            Prim::Reshape(_) => {
                let lin = ravel(&mut self.b, idx, &out_aval.shape);
                let src = unravel(&mut self.b, lin, &in_aval(0).shape);
                self.atom(&ins[0], &src, in_body)
            }
            Prim::Transpose(perm) => {
                let mut src = idx.to_vec();
                for (i, &p) in perm.iter().enumerate() {
                    src[p] = idx[i];
                }
                self.atom(&ins[0], &src, in_body)
            }
            Prim::BroadcastTo(shape) => {
                let s = in_aval(0).shape;
                let lead = shape.len() - s.len();
                let zero = self.b.i32(0);
                let src: Vec<Val> = (0..s.len())
                    .map(|d| if s[d] == 1 { zero } else { idx[lead + d] })
                    .collect();
                self.atom(&ins[0], &src, in_body)
            }
            Prim::Slice(spec) => {
                let src: Vec<Val> = spec
                    .iter()
                    .zip(idx)
                    .map(|(&(start, _, step), &i)| {
                        let st = self.b.i32(step as i32);
                        let m = self.b.op(Op::MUL, &[i, st]);
                        let o = self.b.i32(start as i32);
                        self.b.op(Op::ADD, &[m, o])
                    })
                    .collect();
                self.atom(&ins[0], &src, in_body)
            }
            Prim::Flip(axes) => {
                let s = in_aval(0).shape;
                let mut src = idx.to_vec();
                for &d in axes {
                    let last = self.b.i32(s[d] as i32 - 1);
                    src[d] = self.b.op(Op::SUB, &[last, idx[d]]);
                }
                self.atom(&ins[0], &src, in_body)
            }
            Prim::Pad(widths, value) => {
                let s = in_aval(0).shape;
                let mut src = idx.to_vec();
                let mut valid = None;
                for (d, &(lo, _, _)) in widths.iter().enumerate() {
                    if lo == 0 && widths[d].1 == 0 {
                        continue;
                    }
                    let l = self.b.i32(lo as i32);
                    src[d] = self.b.op(Op::SUB, &[idx[d], l]);
                    let zero = self.b.i32(0);
                    let n = self.b.i32(s[d] as i32);
                    let ge = self.b.op(Op::GE, &[src[d], zero]);
                    let lt = self.b.op(Op::LT, &[src[d], n]);
                    let ok = self.b.op(Op::AND, &[ge, lt]);
                    valid = Some(match valid {
                        Some(v) => self.b.op(Op::AND, &[v, ok]),
                        None => ok,
                    });
                }
                let x = self.atom(&ins[0], &src, in_body);
                match valid {
                    Some(ok) => {
                        let f = self.b.constant(value.cast(out_aval.dtype));
                        self.b.select(ok, x, f)
                    }
                    None => x,
                }
            }
            Prim::Concatenate(axis) => {
                let mut value = None;
                let mut start = out_aval.shape[*axis];
                let offsets: Vec<usize> = ins
                    .iter()
                    .scan(0, |acc, a| {
                        let o = *acc;
                        *acc += self.p.jaxpr.aval(a).shape[*axis];
                        Some(o)
                    })
                    .collect();
                for (a, &off) in ins.iter().zip(&offsets).rev() {
                    if self.aval(a).shape[*axis] == 0 {
                        continue;
                    }
                    let mut src = idx.to_vec();
                    let o = self.b.i32(off as i32);
                    src[*axis] = self.b.op(Op::SUB, &[idx[*axis], o]);
                    let piece = self.atom(a, &src, in_body);
                    value = Some(match value {
                        None => piece,
                        Some(rest) => {
                            let bound = self.b.i32(start as i32);
                            let inside = self.b.op(Op::LT, &[idx[*axis], bound]);
                            self.b.select(inside, piece, rest)
                        }
                    });
                    start = off;
                }
                value.unwrap_or_else(|| self.b.constant(Scalar::zero(out_aval.dtype)))
            }
            Prim::Indexing(IxPrim::Gather { axis }) => {
                // A load at a data-dependent index: the index is itself
                // an inlined expression of the indices operand.
                let k = in_aval(1).shape.len();
                let j = self.atom(&ins[1], &idx[*axis..*axis + k], in_body);
                let j = clamp_index(&mut self.b, j, in_aval(0).shape[*axis]);
                let mut src = idx[..*axis].to_vec();
                src.push(j);
                src.extend_from_slice(&idx[*axis + k..]);
                self.atom(&ins[0], &src, in_body)
            }
            _ => unreachable!("inlinable primitives are handled above"),
        }
    }

    /// Makes `prim` this kernel's reduction loop; returns the epilogue value.
    fn reduction(&mut self, prim: &Prim, ins: &[Atom], idx: &[Val], out: &Aval) -> Val {
        // ridx is hash-consed, so siblings share the loop index.
        let r = self.b.ridx();
        match prim {
            Prim::Reduce(op, axes) => {
                let shape = self.aval(&ins[0]).shape;
                let red: Vec<usize> = axes.iter().map(|&d| shape[d]).collect();
                let rsize: usize = red.iter().product();
                self.rsize = Some(rsize);
                let ridx = unravel(&mut self.b, r, &red);
                let mut full = Vec::with_capacity(shape.len());
                let (mut k, mut j) = (0, 0);
                for d in 0..shape.len() {
                    if axes.contains(&d) {
                        full.push(ridx[j]);
                        j += 1;
                    } else {
                        full.push(idx[k]);
                        k += 1;
                    }
                }
                let (rop, acc, out_dtype) = reduce_dtypes(*op, self.aval(&ins[0]).dtype);
                let x = self.atom(&ins[0], &full, true);
                let x = self.b.cast(x, acc);
                let total = self.b.reduce(rop, x);
                let v = if *op == RedOp::Mean {
                    let n = self.b.constant(Scalar::F64(rsize as f64).cast(acc));
                    self.b.op(Op::DIV, &[total, n])
                } else {
                    total
                };
                self.b.cast(v, out_dtype)
            }
            Prim::Matmul => {
                let a = self.aval(&ins[0]).shape;
                let k = a[a.len() - 1];
                self.rsize = Some(k);
                let nb = idx.len() - 2;
                let mut ai = idx[..nb].to_vec();
                ai.extend([idx[nb], r]);
                let mut bi = idx[..nb].to_vec();
                bi.extend([r, idx[nb + 1]]);
                let acc = if out.dtype == DType::F16 {
                    DType::F32
                } else {
                    out.dtype
                };
                let x = self.atom(&ins[0], &ai, true);
                let y = self.atom(&ins[1], &bi, true);
                let (x, y) = (self.b.cast(x, acc), self.b.cast(y, acc));
                let (prod, rop) = if acc == DType::BOOL {
                    (self.b.op(Op::AND, &[x, y]), ReduceOp::MAX)
                } else {
                    (self.b.op(Op::MUL, &[x, y]), ReduceOp::ADD)
                };
                let total = self.b.reduce(rop, prod);
                self.b.cast(total, out.dtype)
            }
            _ => unreachable!(),
        }
    }
}
