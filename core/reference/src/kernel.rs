//! The kernel interpreter: runs a validated [`Kernel`] one output element at
//! a time, with the semantics written on the IR in core/abi/src/kernel.rs.
//!
//! For each `gidx` in `0..size`:
//! 1. every accumulator starts at its [`ReduceOp::identity`](oxjax_abi::ReduceOp::identity);
//! 2. for each `ridx` in `0..rsize`, the body nodes (phase `Body` or `Both`)
//!    are evaluated in arena order and each reduction folds its body value
//!    into its accumulator with [`eval::combine`], pairwise ([`Pairwise`]:
//!    the error of an f32 sum grows with log rsize, not rsize);
//! 3. the epilogue nodes (phase `Epilogue` or `Both`) are evaluated, `acc k`
//!    reading accumulator `k`;
//! 4. output `k`'s node value is written to output buffer `k` at `gidx`.
//!
//! Dead nodes are never evaluated.

use crate::eval;
use oxjax_abi::{Kernel, Op, Phase, Scalar};

/// A kernel ready to run: the kernel and which nodes each phase evaluates.
#[derive(Clone, Debug)]
pub(crate) struct CompiledKernel {
    pub kernel: Kernel,
    /// Nodes evaluated once per `(gidx, ridx)`, in arena order.
    body: Vec<usize>,
    /// Nodes evaluated once per `gidx` after the loop, in arena order.
    epilogue: Vec<usize>,
    /// The operand count of every node.
    arity: Vec<usize>,
}

impl CompiledKernel {
    /// Plans a kernel that has passed [`Kernel::validate`].
    pub fn new(kernel: &Kernel) -> CompiledKernel {
        let phases = kernel.phases();
        let nodes_in = |wanted: [Phase; 2]| -> Vec<usize> {
            (0..phases.len())
                .filter(|&i| wanted.contains(&phases[i]))
                .collect()
        };
        CompiledKernel {
            kernel: kernel.clone(),
            body: nodes_in([Phase::Body, Phase::Both]),
            epilogue: nodes_in([Phase::Epilogue, Phase::Both]),
            arity: (0..kernel.nodes.len())
                .map(|i| kernel.args(i).len())
                .collect(),
        }
    }

    /// Bytes of each output buffer.
    pub fn output_bytes(&self) -> Vec<usize> {
        let k = &self.kernel;
        (0..k.outputs.len())
            .map(|o| k.size as usize * k.output_dtype(o).size())
            .collect()
    }

    /// Runs the kernel over input buffers (one per kernel input, element
    /// counts taken from their lengths) and returns the output buffers.
    pub fn run(&self, inputs: &[&[u8]]) -> Vec<Vec<u8>> {
        let k = &self.kernel;
        assert_eq!(inputs.len(), k.inputs.len(), "input buffer count");
        let mut outputs: Vec<Vec<u8>> = self
            .output_bytes()
            .into_iter()
            .map(|n| vec![0; n])
            .collect();
        let mut values = vec![Scalar::Bool(false); k.nodes.len()];
        let mut accs: Vec<Scalar> = Vec::with_capacity(k.reductions.len());
        let mut trees: Vec<Pairwise> = k.reductions.iter().map(|_| Pairwise::default()).collect();
        for gidx in 0..k.size as i32 {
            for ridx in 0..k.rsize as i32 {
                for &i in &self.body {
                    values[i] = self.eval_node(i, gidx, Some(ridx), &accs, &values, inputs);
                }
                for (tree, r) in trees.iter_mut().zip(k.reductions.iter()) {
                    tree.push(r.op, values[r.body as usize]);
                }
            }
            accs.clear();
            accs.extend(
                k.reductions.iter().zip(&mut trees).map(|(r, tree)| {
                    tree.finish(r.op, r.op.identity(k.nodes[r.body as usize].dtype))
                }),
            );
            for &i in &self.epilogue {
                values[i] = self.eval_node(i, gidx, None, &accs, &values, inputs);
            }
            for (out, &node) in outputs.iter_mut().zip(k.outputs.iter()) {
                let value = values[node as usize];
                let size = value.dtype().size();
                value.write(&mut out[gidx as usize * size..]);
            }
        }
        outputs
    }

    /// The value of node `i`, its operands being already in `values`.
    /// `ridx` is `None` after the reduction loop.
    fn eval_node(
        &self,
        i: usize,
        gidx: i32,
        ridx: Option<i32>,
        accs: &[Scalar],
        values: &[Scalar],
        inputs: &[&[u8]],
    ) -> Scalar {
        let node = &self.kernel.nodes[i];
        let value = match node.op {
            Op::CONST => Scalar::from_bits(node.dtype, node.imm),
            Op::GIDX => Scalar::I32(gidx),
            Op::RIDX => Scalar::I32(ridx.expect("ridx after the reduction loop (validated)")),
            Op::ACC => accs[node.imm as usize],
            Op::LOAD => {
                let Scalar::I32(index) = values[node.args[0] as usize] else {
                    unreachable!("load index is i32 (validated)")
                };
                load(inputs[node.imm as usize], node.dtype, index)
            }
            op => {
                let mut args = [Scalar::Bool(false); 4];
                let arity = self.arity[i];
                for (slot, &a) in args.iter_mut().zip(&node.args[..arity]) {
                    *slot = values[a as usize];
                }
                eval::apply(op, node.dtype, &args[..arity], node.imm)
            }
        };
        debug_assert_eq!(
            value.dtype(),
            node.dtype,
            "node %{i} produced the wrong dtype"
        );
        value
    }
}

/// Element `index` of a buffer of `dtype` elements; zero outside the buffer.
fn load(buffer: &[u8], dtype: oxjax_abi::DType, index: i32) -> Scalar {
    let size = dtype.size();
    let len = buffer.len() / size;
    match usize::try_from(index) {
        Ok(i) if i < len => Scalar::read(dtype, &buffer[i * size..]),
        _ => Scalar::zero(dtype),
    }
}

/// A pairwise (cascade) accumulator: partial results of 1, 2, 4, ...
/// values kept on a stack like the digits of a binary counter, so every
/// value passes through about log2(n) additions. Exact reductions (min,
/// max, integers) give the same result as a left fold.
#[derive(Default)]
struct Pairwise {
    /// (partial result, log2 of the values it holds), largest first.
    stack: Vec<(Scalar, u32)>,
}

impl Pairwise {
    fn push(&mut self, op: oxjax_abi::ReduceOp, x: Scalar) {
        let (mut v, mut level) = (x, 0);
        while let Some(&(top, l)) = self.stack.last()
            && l == level
        {
            self.stack.pop();
            v = eval::combine(op, top, v);
            level += 1;
        }
        self.stack.push((v, level));
    }

    /// The total (`identity` when empty); leaves the accumulator empty.
    fn finish(&mut self, op: oxjax_abi::ReduceOp, identity: Scalar) -> Scalar {
        let mut total = identity;
        while let Some((v, _)) = self.stack.pop() {
            total = eval::combine(op, v, total);
        }
        total
    }
}
