//! The kernel IR: what a backend compiles and runs.
//!
//! A kernel computes `size` output elements. Element `gidx` of every output
//! is a scalar expression over `gidx`: constants, loads from input buffers at
//! computed i32 indices, and ALU ops. Nodes live in one flat arena in
//! topological order and refer to earlier nodes by index, so the IR has no
//! pointers and crosses the plugin boundary as plain data.
//!
//! A kernel may carry a reduction loop over `ridx` in `0..rsize` with one or
//! more accumulators ([`Reduction`]), all over the same loop; the nodes that
//! feed the accumulators form the *body* (they may use `ridx`), the nodes
//! that read accumulators with `acc` form the *epilogue* (they may not use
//! `ridx`). Several outputs of the same size are allowed. Index arithmetic is
//! i32 and wraps, so `size` and every buffer length are below 2^31.

use crate::analysis::Phase;
use crate::{DType, Op, ReduceOp, ResultType, Scalar};
use abi_stable::StableAbi;
use abi_stable::std_types::RVec;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast, non-cryptographic hasher (FxHash's multiply-rotate) for the
/// maps on the dispatch path: kernel caches and the builder's node table.
/// Keys are ours, so flooding resistance buys nothing there.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(n as u64);
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` using [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// "No operand" in a node's `args`.
pub const NO_ARG: u32 = u32::MAX;

/// One node of the arena.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Node {
    pub op: Op,
    /// The dtype of the value this node produces.
    pub dtype: DType,
    /// Operand node indices (earlier in the arena); unused slots are [`NO_ARG`].
    pub args: [u32; 4],
    /// Immediate: constant bits (`const`), input number (`load`), reduction
    /// number (`acc`), output word (`threefry2x32`); 0 otherwise.
    pub imm: u64,
}

/// One accumulator of the reduction loop.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Reduction {
    pub op: ReduceOp,
    /// The node whose value (per `ridx`) is accumulated.
    pub body: u32,
}

/// A whole kernel. Equality and hashing are structural, so kernels are
/// their own cache keys.
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Kernel {
    /// The dtype of each input buffer, in binding order.
    pub inputs: RVec<DType>,
    pub nodes: RVec<Node>,
    /// Number of output elements (`gidx` in `0..size`).
    pub size: u32,
    /// Length of the reduction loop; 0 when there is no reduction.
    pub rsize: u32,
    pub reductions: RVec<Reduction>,
    /// The node computing each output; output `k` is written to output
    /// buffer `k` at `gidx`, in that node's dtype.
    pub outputs: RVec<u32>,
}

impl Kernel {
    /// The operand indices of node `i`.
    pub fn args(&self, i: usize) -> &[u32] {
        let n = &self.nodes[i];
        let arity = n.op.info().map_or(0, |info| info.arity);
        &n.args[..arity]
    }

    /// The dtype of output `k`.
    pub fn output_dtype(&self, k: usize) -> DType {
        self.nodes[self.outputs[k] as usize].dtype
    }

    /// The phase of every node: what a backend evaluates inside the
    /// reduction loop and what after it ([`crate::analysis::phases`]).
    pub fn phases(&self) -> Vec<Phase> {
        crate::analysis::phases(self)
    }

    /// Checks every structural and typing rule of the IR; the error names the
    /// offending node. Backends may rely on a validated kernel.
    pub fn validate(&self) -> Result<(), String> {
        let err = |i: usize, msg: String| Err(format!("node %{i}: {msg}"));
        if self.outputs.is_empty() {
            return Err("kernel has no outputs".into());
        }
        if self.size > i32::MAX as u32 || self.rsize > i32::MAX as u32 {
            return Err("size and rsize must be below 2^31".into());
        }
        for d in self.inputs.iter() {
            if !d.is_known() {
                return Err(format!("input of unknown dtype {d}"));
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(info) = n.op.info() else {
                return err(i, format!("unknown op code {}", n.op.0));
            };
            if !n.dtype.is_known() {
                return err(i, format!("unknown dtype {}", n.dtype));
            }
            for (slot, &a) in n.args.iter().enumerate() {
                if slot < info.arity {
                    if a as usize >= i {
                        return err(i, format!("operand %{a} is not an earlier node"));
                    }
                } else if a != NO_ARG {
                    return err(i, format!("{} takes {} operands", info.name, info.arity));
                }
            }
            let arg = |k: usize| self.nodes[n.args[k] as usize].dtype;
            match n.op {
                Op::CONST => {
                    if Scalar::from_bits(n.dtype, n.imm).to_bits() != n.imm {
                        return err(
                            i,
                            format!("constant bits {:#x} do not fit {}", n.imm, n.dtype),
                        );
                    }
                }
                Op::GIDX | Op::RIDX => {
                    if n.dtype != DType::I32 {
                        return err(i, format!("{} must be i32", info.name));
                    }
                    if n.op == Op::RIDX && self.reductions.is_empty() {
                        return err(i, "ridx in a kernel without reduction".into());
                    }
                }
                Op::ACC => match self.reductions.get(n.imm as usize) {
                    None => return err(i, format!("acc of missing reduction {}", n.imm)),
                    Some(r)
                        if self
                            .nodes
                            .get(r.body as usize)
                            .is_some_and(|b| b.dtype != n.dtype) =>
                    {
                        return err(i, "acc dtype differs from its reduction's".into());
                    }
                    _ => {}
                },
                Op::LOAD => {
                    let Some(&d) = self.inputs.get(n.imm as usize) else {
                        return err(i, format!("load from missing input {}", n.imm));
                    };
                    if d != n.dtype || arg(0) != DType::I32 {
                        return err(
                            i,
                            "load must have its input's dtype and an i32 index".into(),
                        );
                    }
                }
                Op::SELECT => {
                    if arg(0) != DType::BOOL || arg(1) != arg(2) || arg(1) != n.dtype {
                        return err(i, "select takes (bool, T, T) -> T".into());
                    }
                }
                Op::CAST => {}
                Op::BITCAST => {
                    if arg(0).size() != n.dtype.size() || n.dtype == DType::BOOL {
                        return err(i, format!("bitcast {} -> {} changes size", arg(0), n.dtype));
                    }
                }
                Op::THREEFRY2X32 => {
                    if (0..4).any(|k| arg(k) != DType::U32) || n.dtype != DType::U32 || n.imm > 1 {
                        return err(i, "threefry2x32 takes four u32 and imm 0 or 1".into());
                    }
                }
                _ => {
                    let t = arg(0);
                    for k in 1..info.arity {
                        if arg(k) != t {
                            return err(i, format!("{} operands differ in dtype", info.name));
                        }
                    }
                    if !info.domain.contains(t) {
                        return err(i, format!("{} is not defined on {t}", info.name));
                    }
                    let want = if info.result == ResultType::Bool {
                        DType::BOOL
                    } else {
                        t
                    };
                    if n.dtype != want {
                        return err(
                            i,
                            format!("{} of {t} yields {want}, not {}", info.name, n.dtype),
                        );
                    }
                }
            }
        }
        for (k, r) in self.reductions.iter().enumerate() {
            let Some(b) = self.nodes.get(r.body as usize) else {
                return Err(format!("reduction {k}: body %{} does not exist", r.body));
            };
            if !ReduceOp::ALL.contains(&r.op) {
                return Err(format!("reduction {k}: unknown reduce op {}", r.op.0));
            }
            if b.dtype == DType::BOOL && matches!(r.op, ReduceOp::ADD | ReduceOp::MUL) {
                return Err(format!(
                    "reduction {k}: {} is not defined on bool",
                    r.op.name()
                ));
            }
        }
        for &o in self.outputs.iter() {
            if o as usize >= self.nodes.len() {
                return Err(format!("output %{o} does not exist"));
            }
        }
        // Phase rules: body nodes may not read accumulators, epilogue nodes
        // may not read ridx.
        let phases = self.phases();
        for (i, n) in self.nodes.iter().enumerate() {
            let p = phases[i];
            if n.op == Op::ACC && matches!(p, Phase::Body | Phase::Both) {
                return err(i, "acc used inside a reduction body".into());
            }
            if n.op == Op::RIDX && matches!(p, Phase::Epilogue | Phase::Both) {
                return err(i, "ridx used after the reduction loop".into());
            }
        }
        Ok(())
    }
}

/// The IR text form, used in errors, debug output and conformance reports:
///
/// ```text
/// kernel size=4 rsize=3 inputs=[f32, f32]
///   %0 = gidx : i32
///   ...
///   reduce add %5 -> acc0
///   out %8
/// ```
impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inputs: Vec<String> = self.inputs.iter().map(|d| d.to_string()).collect();
        write!(f, "kernel size={}", self.size)?;
        if !self.reductions.is_empty() {
            write!(f, " rsize={}", self.rsize)?;
        }
        writeln!(f, " inputs=[{}]", inputs.join(", "))?;
        for (i, n) in self.nodes.iter().enumerate() {
            write!(f, "  %{i} = {}", n.op)?;
            match n.op {
                Op::CONST if n.dtype.is_known() => {
                    write!(f, " {}", Scalar::from_bits(n.dtype, n.imm))?
                }
                Op::CONST => write!(f, " bits={:#x}", n.imm)?,
                Op::LOAD => write!(f, " in{}[%{}]", n.imm, n.args[0])?,
                Op::ACC => write!(f, " {}", n.imm)?,
                _ => {
                    for a in self.args(i) {
                        write!(f, " %{a}")?;
                    }
                    if n.op == Op::THREEFRY2X32 {
                        write!(f, " word={}", n.imm)?;
                    }
                }
            }
            writeln!(f, " : {}", n.dtype)?;
        }
        for (k, r) in self.reductions.iter().enumerate() {
            writeln!(f, "  reduce {} %{} -> acc{k}", r.op.name(), r.body)?;
        }
        let outs: Vec<String> = self.outputs.iter().map(|o| format!("%{o}")).collect();
        write!(f, "  out {}", outs.join(" "))
    }
}

/// Builds a kernel node by node, computing result dtypes from the op table
/// and sharing identical nodes (hash-consing), so builders never emit the
/// same subexpression twice.
#[derive(Default, Clone, Debug)]
pub struct KernelBuilder {
    inputs: Vec<DType>,
    nodes: Vec<Node>,
    memo: FastMap<Node, u32>,
    reductions: Vec<Reduction>,
    outputs: Vec<u32>,
}

/// A node handle inside a [`KernelBuilder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Val {
    pub id: u32,
    pub dtype: DType,
}

impl KernelBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares an input buffer; returns its number for [`KernelBuilder::load`].
    pub fn input(&mut self, dtype: DType) -> u32 {
        self.inputs.push(dtype);
        (self.inputs.len() - 1) as u32
    }

    /// Adds a node (or returns the identical node already present).
    pub fn node(&mut self, op: Op, dtype: DType, args: &[Val], imm: u64) -> Val {
        let mut a = [NO_ARG; 4];
        for (slot, v) in args.iter().enumerate() {
            a[slot] = v.id;
        }
        let node = Node {
            op,
            dtype,
            args: a,
            imm,
        };
        if let Some(&id) = self.memo.get(&node) {
            return Val { id, dtype };
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(node);
        self.memo.insert(node, id);
        Val { id, dtype }
    }

    pub fn constant(&mut self, value: Scalar) -> Val {
        self.node(Op::CONST, value.dtype(), &[], value.to_bits())
    }

    /// The value of `v` if it is a constant node.
    pub fn constant_value(&self, v: Val) -> Option<Scalar> {
        let n = &self.nodes[v.id as usize];
        (n.op == Op::CONST).then(|| Scalar::from_bits(n.dtype, n.imm))
    }

    pub fn i32(&mut self, value: i32) -> Val {
        self.constant(Scalar::I32(value))
    }

    pub fn gidx(&mut self) -> Val {
        self.node(Op::GIDX, DType::I32, &[], 0)
    }

    pub fn ridx(&mut self) -> Val {
        self.node(Op::RIDX, DType::I32, &[], 0)
    }

    pub fn load(&mut self, input: u32, index: Val) -> Val {
        let dtype = self.inputs[input as usize];
        self.node(Op::LOAD, dtype, &[index], input as u64)
    }

    /// An elementwise op whose result dtype follows from the op table.
    pub fn op(&mut self, op: Op, args: &[Val]) -> Val {
        let info = op.info().expect("KernelBuilder::op: unknown op");
        let dtype = match info.result {
            ResultType::Bool => DType::BOOL,
            _ => args[args.len() - 1].dtype,
        };
        self.node(op, dtype, args, 0)
    }

    pub fn cast(&mut self, x: Val, to: DType) -> Val {
        if x.dtype == to {
            return x;
        }
        self.node(Op::CAST, to, &[x], 0)
    }

    pub fn select(&mut self, cond: Val, a: Val, b: Val) -> Val {
        self.op(Op::SELECT, &[cond, a, b])
    }

    /// Adds an accumulator over `body` and returns the node reading its
    /// final value (for the epilogue).
    pub fn reduce(&mut self, op: ReduceOp, body: Val) -> Val {
        self.reductions.push(Reduction { op, body: body.id });
        let k = self.reductions.len() - 1;
        self.node(Op::ACC, body.dtype, &[], k as u64)
    }

    pub fn output(&mut self, v: Val) {
        self.outputs.push(v.id);
    }

    /// Finishes the kernel. In debug builds it panics (naming the node) if
    /// the kernel breaks an IR rule, since that is a bug in the builder.
    pub fn finish(self, size: usize, rsize: usize) -> Kernel {
        let kernel = Kernel {
            inputs: self.inputs.into(),
            nodes: self.nodes.into(),
            size: size as u32,
            rsize: rsize as u32,
            reductions: self.reductions.into(),
            outputs: self.outputs.into(),
        };
        // Builders are trusted code; checking every kernel costs eager
        // dispatch time, so release builds leave it to `compile` (backends
        // validate on a cache miss).
        #[cfg(debug_assertions)]
        if let Err(e) = kernel.validate() {
            panic!("invalid kernel built: {e}\n{kernel}");
        }
        kernel
    }
}
