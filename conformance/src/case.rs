//! Test cases of the kernel-IR layer and the kernels they become.
//!
//! - [`OpCase`]: one op (or one reduction) applied to operands read through
//!   broadcasting and random view chains over random base buffers.
//! - [`DagCase`]: a random expression DAG over several inputs, with or
//!   without a reduction (one or two accumulators and an epilogue), with
//!   one to three outputs. DAGs are built from *choices* (small integers)
//!   interpreted against the backend's capabilities, so every choice
//!   sequence is a valid kernel and shrinking keeps it valid.
//!
//! Cases are plain data (serde), so a shrunk failure is saved as a
//! regression file and replayed exactly.

use crate::optable::{EntryKind, OpEntry, ValueDomain};
use crate::values;
use crate::view::{self, Ix, ViewStep};
use oxjax_abi::{Capabilities, DType, Kernel, KernelBuilder, Op, ReduceOp, Scalar, Val};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// An operand: a base buffer seen through a view chain, broadcast to the
/// case's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operand {
    pub dtype: u8,
    /// Logical shape (a broadcast partner of the output shape).
    pub shape: Vec<usize>,
    pub view: Vec<ViewStep>,
    /// The base buffer's values, as bits.
    pub values: Vec<u64>,
}

impl Operand {
    pub fn dtype(&self) -> DType {
        DType(self.dtype)
    }
    pub fn base(&self) -> Vec<usize> {
        view::base_shape(&self.shape, &self.view).to_vec()
    }
}

/// One op or reduction on operands through views.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpCase {
    /// The op table entry (`sin`, `reduce_add`).
    pub entry: String,
    /// The operand dtype (the matrix column).
    pub dtype: u8,
    /// The node dtype of cast/bitcast; the word of threefry2x32.
    pub target: u8,
    pub imm: u64,
    /// Output shape (for reductions: the kept axes).
    pub out: Vec<usize>,
    /// Reduction length (reductions only).
    pub rsize: usize,
    pub operands: Vec<Operand>,
}

fn operand(dtype: DType, shape: Vec<usize>, domain: ValueDomain) -> BoxedStrategy<Operand> {
    view::partner(shape)
        .prop_flat_map(move |s| (Just(s.clone()), view::chain(s, 3)))
        .prop_flat_map(move |(shape, steps)| {
            let n: usize = view::base_shape(&shape, &steps).iter().product();
            (Just(shape), Just(steps), values::values(dtype, domain, n))
        })
        .prop_map(move |(shape, view, values)| Operand {
            dtype: dtype.0,
            shape,
            view,
            values,
        })
        .boxed()
}

/// Same-size dtypes a bitcast of `d` may produce (among `dtypes`).
fn bitcast_targets(d: DType, dtypes: &[DType]) -> Vec<DType> {
    dtypes
        .iter()
        .copied()
        .filter(|t| t.size() == d.size() && *t != DType::BOOL)
        .collect()
}

/// The strategy of an op-table entry on `dtype`; `dtypes` are the dtypes the
/// backend supports (targets of casts).
pub fn op_case(entry: &OpEntry, dtype: DType, dtypes: &[DType]) -> BoxedStrategy<OpCase> {
    let name = entry.name.to_string();
    let domain = entry.domain;
    let targets: Vec<DType> = match entry.kind {
        EntryKind::Elementwise(Op::CAST) => dtypes.to_vec(),
        EntryKind::Elementwise(Op::BITCAST) => bitcast_targets(dtype, dtypes),
        _ => vec![dtype],
    };
    // Operand dtypes, and the reduction length for reductions.
    let (dts, rsize): (Vec<DType>, BoxedStrategy<usize>) = match entry.kind {
        EntryKind::Elementwise(Op::SELECT) => (vec![DType::BOOL, dtype, dtype], Just(0).boxed()),
        EntryKind::Elementwise(op) => {
            let arity = op.info().map_or(1, |i| i.arity);
            (vec![dtype; arity], Just(0).boxed())
        }
        EntryKind::Reduce(_) => (vec![dtype], (0usize..=17).boxed()),
    };
    let paired = match entry.kind {
        EntryKind::Elementwise(op) if op.info().is_some_and(|i| i.arity == 2) => {
            Some(paired_case(entry.name, dtype))
        }
        _ => None,
    };
    let general = (view::shape(), rsize, prop::sample::select(targets), 0u64..2)
        .prop_flat_map(move |(out, rsize, target, imm)| {
            let mut logical = out.clone();
            if entry_is_reduce(&name) {
                logical.push(rsize);
            }
            let ops: Vec<BoxedStrategy<Operand>> = dts
                .iter()
                .map(|&d| operand(d, logical.clone(), domain))
                .collect();
            let name = name.clone();
            ops.prop_map(move |operands| OpCase {
                entry: name.clone(),
                dtype: dtype.0,
                target: target.0,
                imm,
                out: out.clone(),
                rsize,
                operands,
            })
        })
        .boxed();
    match paired {
        Some(p) => prop_oneof![2 => general, 1 => p].boxed(),
        None => general,
    }
}

/// A binary op on edge-value pairs drawn jointly ([`values::pairs`]): a
/// vector of 1 to 64 elements, both operands plain (no views).
fn paired_case(name: &'static str, dtype: DType) -> BoxedStrategy<OpCase> {
    prop::collection::vec(prop::sample::select(values::pairs(dtype)), 1..=64)
        .prop_map(move |pairs| {
            let n = pairs.len();
            let operand = |values: Vec<u64>| Operand {
                dtype: dtype.0,
                shape: vec![n],
                view: vec![],
                values,
            };
            OpCase {
                entry: name.to_string(),
                dtype: dtype.0,
                target: dtype.0,
                imm: 0,
                out: vec![n],
                rsize: 0,
                operands: vec![
                    operand(pairs.iter().map(|p| p.0).collect()),
                    operand(pairs.iter().map(|p| p.1).collect()),
                ],
            }
        })
        .boxed()
}

fn entry_is_reduce(name: &str) -> bool {
    name.starts_with("reduce_")
}

/// Multi-index of operand `shape` (a broadcast partner of `full`) from
/// the full multi-index.
fn broadcast_index(ix: &mut Ix, full_idx: &[Val], full: &[usize], shape: &[usize]) -> Vec<Val> {
    let off = full.len() - shape.len();
    shape
        .iter()
        .enumerate()
        .map(|(j, &d)| if d == 1 { ix.c(0) } else { full_idx[j + off] })
        .collect()
}

impl OpCase {
    pub fn dtype(&self) -> DType {
        DType(self.dtype)
    }

    pub fn entry(&self) -> OpEntry {
        crate::optable::entry(&self.entry)
            .unwrap_or_else(|| panic!("unknown op table entry {}", self.entry))
    }

    /// Output elements.
    pub fn size(&self) -> usize {
        self.out.iter().product()
    }

    /// The base buffers' bytes, one per operand.
    pub fn inputs(&self) -> Vec<Vec<u8>> {
        self.operands
            .iter()
            .map(|o| values::to_bytes(o.dtype(), &o.values))
            .collect()
    }

    /// The kernel this case runs.
    pub fn kernel(&self) -> Kernel {
        let entry = self.entry();
        let mut b = KernelBuilder::new();
        let ids: Vec<u32> = self.operands.iter().map(|o| b.input(o.dtype())).collect();
        let mut full = self.out.clone();
        let reduce = matches!(entry.kind, EntryKind::Reduce(_));
        if reduce {
            full.push(self.rsize);
        }
        let mut ix = Ix(&mut b);
        let g = ix.0.gidx();
        let mut idx = ix.unravel(g, &self.out);
        if reduce {
            let r = ix.0.ridx();
            idx.push(r);
        }
        let args: Vec<Val> = self
            .operands
            .iter()
            .zip(&ids)
            .map(|(o, &id)| {
                let i = broadcast_index(&mut ix, &idx, &full, &o.shape);
                ix.load(id, o.dtype(), &o.shape, &o.view, i)
            })
            .collect();
        let result = match entry.kind {
            EntryKind::Reduce(r) => b.reduce(r, args[0]),
            EntryKind::Elementwise(op) => match op {
                Op::CAST | Op::BITCAST => b.node(op, DType(self.target), &args, 0),
                Op::THREEFRY2X32 => b.node(op, DType::U32, &args, self.imm),
                Op::SELECT => b.select(args[0], args[1], args[2]),
                _ => b.op(op, &args),
            },
        };
        b.output(result);
        // Without the index arithmetic the builder made but the case did
        // not use, so a shrunk kernel reads well.
        b.finish(self.size(), if reduce { self.rsize } else { 0 })
            .pruned()
    }
}

// ---- random DAGs -----------------------------------------------------------

/// One DAG instruction: which kind of node and three choices that pick
/// its op and operands (interpreted modulo what is available).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instr {
    pub kind: u8,
    pub a: u16,
    pub b: u16,
    pub c: u16,
}

/// A random kernel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DagCase {
    /// Input buffers: dtype and values (lengths vary, so loads past the
    /// end, which read zero, are exercised).
    pub inputs: Vec<(u8, Vec<u64>)>,
    pub size: usize,
    /// Reduction length; `None` for a kernel without reduction.
    pub rsize: Option<usize>,
    /// Nodes evaluated per element (and per `ridx` when reducing).
    pub body: Vec<Instr>,
    /// Accumulators: each picks a body value and a reduce op.
    pub reduce: Vec<(u16, u8)>,
    /// Nodes after the reduction loop.
    pub epilogue: Vec<Instr>,
    /// Output choices (one to three).
    pub outputs: Vec<u16>,
}

/// The ALU ops random DAGs draw from: the exact ones (so any correct
/// backend agrees bit for bit, whatever the DAG).
pub const DAG_OPS: &[Op] = &[
    Op::NEG,
    Op::ABS,
    Op::SIGN,
    Op::NOT,
    Op::SQRT,
    Op::RECIP,
    Op::FLOOR,
    Op::CEIL,
    Op::ROUND,
    Op::TRUNC,
    Op::ISNAN,
    Op::ISINF,
    Op::CAST,
    Op::BITCAST,
    Op::ADD,
    Op::SUB,
    Op::MUL,
    Op::DIV,
    Op::IDIV,
    Op::REM,
    Op::MIN,
    Op::MAX,
    Op::AND,
    Op::OR,
    Op::XOR,
    Op::SHL,
    Op::SHR,
    Op::LT,
    Op::LE,
    Op::GT,
    Op::GE,
    Op::EQ,
    Op::NE,
    Op::SELECT,
    Op::THREEFRY2X32,
];

fn instr() -> impl Strategy<Value = Instr> {
    (0u8..10, any::<u16>(), any::<u16>(), any::<u16>()).prop_map(|(kind, a, b, c)| Instr {
        kind,
        a,
        b,
        c,
    })
}

/// Random DAG kernels over the dtypes in `dtypes`, with a reduction or not;
/// one case in four binds many inputs (up to `max_inputs`, at most 16), with
/// a body long enough to load from most of them.
pub fn dag_case(dtypes: Vec<DType>, reduce: bool, max_inputs: usize) -> BoxedStrategy<DagCase> {
    let wide = max_inputs.clamp(1, 16);
    let rsize = if reduce {
        (0usize..9).prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    };
    let nreduce = if reduce { 1..3usize } else { 0..1usize };
    let nepi = if reduce { 1..6usize } else { 0..1usize };
    let few = prop::collection::vec(prop::sample::select(dtypes.clone()), 1..4.min(wide + 1));
    let many = prop::collection::vec(prop::sample::select(dtypes), wide.min(4)..=wide);
    (0usize..24, rsize, prop_oneof![3 => few, 1 => many])
        .prop_flat_map(move |(size, rsize, dts)| {
            let total = size * rsize.unwrap_or(1).max(1) + 2;
            let inputs: Vec<BoxedStrategy<(u8, Vec<u64>)>> = dts
                .iter()
                .map(|&d| {
                    (0..=total)
                        .prop_flat_map(move |n| values::values(d, ValueDomain::Full, n))
                        .prop_map(move |v| (d.0, v))
                        .boxed()
                })
                .collect();
            (
                inputs,
                Just(size),
                Just(rsize),
                prop::collection::vec(instr(), 1..10 + dts.len()),
                prop::collection::vec((any::<u16>(), 0u8..4), nreduce.clone()),
                prop::collection::vec(instr(), nepi.clone()),
                prop::collection::vec(any::<u16>(), 1..4),
            )
        })
        .prop_map(
            |(inputs, size, rsize, body, reduce, epilogue, outputs)| DagCase {
                inputs,
                size,
                rsize,
                body,
                reduce,
                epilogue,
                outputs,
            },
        )
        .boxed()
}

/// Interprets choices into nodes.
struct DagBuilder<'a> {
    b: KernelBuilder,
    caps: &'a Capabilities,
    dtypes: Vec<DType>,
    ops: Vec<Op>,
    inputs: Vec<u32>,
    size: usize,
    rsize: Option<usize>,
}

fn pick<T: Copy>(xs: &[T], c: u16) -> T {
    xs[c as usize % xs.len()]
}

/// Picks counting from the end, so small choices (what shrinking tends
/// to) use the most recent, most derived values.
fn pick_last<T: Copy>(xs: &[T], c: u16) -> T {
    xs[xs.len() - 1 - c as usize % xs.len()]
}

impl DagBuilder<'_> {
    fn index(&mut self, pattern: u16, body: bool) -> Val {
        let mut ix = Ix(&mut self.b);
        let g = ix.0.gidx();
        let n = self.size.max(1) as i64;
        match (self.rsize, body) {
            (Some(r), true) => {
                let ridx = ix.0.ridx();
                match pattern % 4 {
                    0 => {
                        let row = ix.mulc(g, r as i64);
                        ix.add(row, ridx)
                    }
                    1 => ridx,
                    2 => {
                        let col = ix.mulc(ridx, n);
                        ix.add(col, g)
                    }
                    _ => {
                        let s = ix.add(g, ridx);
                        ix.remc(s, n)
                    }
                }
            }
            _ => match pattern % 6 {
                0 => g,
                1 => {
                    let neg = ix.mulc(g, -1);
                    ix.addc(neg, n - 1)
                }
                2 => ix.divc(g, 2),
                3 => ix.remc(g, 3),
                4 => ix.mulc(g, 2),
                _ => ix.addc(g, -1),
            },
        }
    }

    /// Converts `v` to a dtype in `domain`-compatible `want` if needed.
    fn to(&mut self, v: Val, want: DType) -> Val {
        if v.dtype == want {
            v
        } else {
            self.b.node(Op::CAST, want, &[v], 0)
        }
    }

    fn of_dtype(&mut self, pool: &[Val], want: DType, c: u16) -> Val {
        let same: Vec<Val> = pool.iter().copied().filter(|v| v.dtype == want).collect();
        if same.is_empty() {
            let v = pick(pool, c);
            self.to(v, want)
        } else {
            pick(&same, c)
        }
    }

    fn step(&mut self, ins: Instr, pool: &mut Vec<Val>, body: bool) {
        let v = match ins.kind {
            // Load.
            0 | 1 if !self.inputs.is_empty() => {
                let input = pick(&self.inputs, ins.a);
                let index = self.index(ins.b, body);
                self.b.load(input, index)
            }
            // Constant.
            2 => {
                let d = pick(&self.dtypes, ins.a);
                let bits = pick(&values::edges(d, ValueDomain::Full), ins.b);
                self.b.constant(Scalar::from_bits(d, bits))
            }
            _ if pool.is_empty() => return,
            _ => {
                let op = pick(&self.ops, ins.a);
                let x = pick_last(pool, ins.b);
                let info = op.info().expect("op in OPS");
                match op {
                    Op::CAST => {
                        let t = pick(&self.dtypes, ins.c);
                        self.b.node(Op::CAST, t, &[x], 0)
                    }
                    Op::BITCAST => {
                        let ts = bitcast_targets(x.dtype, &self.dtypes);
                        if x.dtype == DType::BOOL || ts.is_empty() {
                            return;
                        }
                        let t = pick(&ts, ins.c);
                        self.b.node(Op::BITCAST, t, &[x], 0)
                    }
                    Op::SELECT => {
                        if !self.dtypes.contains(&DType::BOOL) {
                            return;
                        }
                        let cond = self.of_dtype(pool, DType::BOOL, ins.a / 7);
                        let y = self.of_dtype(pool, x.dtype, ins.c);
                        self.b.select(cond, x, y)
                    }
                    Op::THREEFRY2X32 => {
                        if !self.dtypes.contains(&DType::U32) {
                            return;
                        }
                        let args: Vec<Val> = [ins.b, ins.c, ins.a / 3, ins.b / 5]
                            .iter()
                            .map(|&c| self.of_dtype(pool, DType::U32, c))
                            .collect();
                        self.b
                            .node(Op::THREEFRY2X32, DType::U32, &args, (ins.c % 2) as u64)
                    }
                    _ => {
                        let t = if info.domain.contains(x.dtype) {
                            x.dtype
                        } else {
                            match self.dtypes.iter().find(|&&d| info.domain.contains(d)) {
                                Some(&d) => d,
                                None => return,
                            }
                        };
                        let result = if info.result == oxjax_abi::ResultType::Bool {
                            DType::BOOL
                        } else {
                            t
                        };
                        if !self.caps.supports_dtype(result) {
                            return;
                        }
                        let x = self.to(x, t);
                        let mut args = vec![x];
                        for k in 1..info.arity {
                            let c = if k == 1 { ins.c } else { ins.c / 3 };
                            args.push(self.of_dtype(pool, t, c));
                        }
                        self.b.op(op, &args)
                    }
                }
            }
        };
        pool.push(v);
    }
}

impl DagCase {
    /// The input buffers' bytes.
    pub fn input_bytes(&self) -> Vec<Vec<u8>> {
        self.inputs
            .iter()
            .map(|(d, v)| values::to_bytes(DType(*d), v))
            .collect()
    }

    /// The kernel these choices make on a backend with `caps`.
    pub fn kernel(&self, caps: &Capabilities) -> Kernel {
        let dtypes: Vec<DType> = DType::ALL
            .into_iter()
            .filter(|&d| caps.supports_dtype(d))
            .collect();
        let ops: Vec<Op> = DAG_OPS
            .iter()
            .copied()
            .filter(|&o| caps.supports_op(o))
            .collect();
        let mut d = DagBuilder {
            b: KernelBuilder::new(),
            caps,
            dtypes,
            ops: if ops.is_empty() { vec![Op::ADD] } else { ops },
            inputs: vec![],
            size: self.size,
            rsize: self.rsize,
        };
        for (dt, _) in &self.inputs {
            let id = d.b.input(DType(*dt));
            d.inputs.push(id);
        }
        let mut pool = Vec::new();
        for &ins in &self.body {
            d.step(ins, &mut pool, true);
        }
        if pool.is_empty() {
            let zero = d.b.i32(0);
            pool.push(zero);
        }
        let mut finals = pool;
        if self.rsize.is_some() {
            let mut epi: Vec<Val> = Vec::new();
            for &(choice, rop) in &self.reduce {
                let v = pick_last(&finals, choice);
                let rop = reduce_op_for(v.dtype, rop);
                epi.push(d.b.reduce(rop, v));
            }
            if epi.is_empty() {
                let v = pick(&finals, 0);
                let rop = reduce_op_for(v.dtype, 2);
                epi.push(d.b.reduce(rop, v));
            }
            for &ins in &self.epilogue {
                d.step(ins, &mut epi, false);
            }
            finals = epi;
        }
        for (k, &o) in self.outputs.iter().enumerate() {
            let v = pick_last(&finals, o.wrapping_add(k as u16));
            d.b.output(v);
        }
        d.b.finish(self.size, self.rsize.unwrap_or(0))
    }
}

/// An exact reduce op for `dtype`: floats only min/max (sums would be
/// order-dependent), integers all four, bool min/max.
fn reduce_op_for(dtype: DType, choice: u8) -> ReduceOp {
    if dtype.is_int() {
        ReduceOp::ALL[choice as usize % 4]
    } else if choice.is_multiple_of(2) {
        ReduceOp::MIN
    } else {
        ReduceOp::MAX
    }
}
