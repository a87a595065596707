//! The lowering of primitives to kernel IR, one for eager and jit.
//!
//! Eager (`eager/`) builds one kernel per op and reads its operands
//! through their views; jit (`jit/fusion.rs`) inlines chains of primitives
//! into one kernel and reads each operand as a value it emitted earlier.
//! Both lower a primitive with the functions here, so the two cannot
//! drift apart: the op vocabulary (vocab), dtype and accumulation rules
//! (dtype), elementwise expressions (expr), index arithmetic with one
//! function per movement op (index), views (view) and the reduction plans
//! and bodies below. The one difference between the callers — where an
//! operand's value comes from — is the [`Operands`] trait.

mod dtype;
mod expr;
mod index;
mod view;
mod vocab;

pub(crate) use dtype::{accumulator, sum_dtype};
pub use dtype::{promote, to_float};
pub(crate) use expr::{binary_expr, unary_expr};
pub use index::gather_shape;
pub(crate) use index::{masked, ravel, unravel};
pub(crate) use view::View;
pub use vocab::{BinOp, CumOp, RedOp, ScatterMode, UnOp};

/// Index arithmetic of the movement ops (one function per op).
pub(crate) mod movement {
    pub(crate) use super::index::{
        broadcast, concat_piece, concat_pieces, flip, gather_indices, gather_source, pad, reshape,
        slice, transpose,
    };
}

use oxjax_abi::{DType, KernelBuilder, Op, ReduceOp, Scalar, Val};

/// Where a lowering gets its operands' values. Eager reads an array
/// through its view (a load at the view's index arithmetic, masked,
/// converted: `EagerKernel`); jit answers with the value its emitter
/// already produced for that operand at that index (`fusion::Emitted`),
/// because it emits every operand before its consumer without recursing.
/// A lowering computes each operand's index with the [`movement`]
/// functions, which jit also uses to request them, and reads them in a
/// fixed order.
pub(crate) trait Operands {
    /// The kernel under construction.
    fn builder(&mut self) -> &mut KernelBuilder;
    /// Operand `k` at multi-index `idx`, converted to `dtype`.
    fn read(&mut self, k: usize, idx: &[Val], dtype: DType) -> Val;
}

/// Reductions to one value at least this long run in two stages.
const SPLIT_AT: usize = 1 << 16;
/// Elements per partial result of a two-stage reduction.
const CHUNK: usize = 1 << 12;

/// The plan for reducing `rsize` elements to each of `out_size` results:
/// `Some(chunk)` when it runs in two stages (`chunk`-element partial
/// results over many outputs, which backends spread over threads and SIMD
/// lanes, then their reduction; the tail padded with the identity), `None`
/// for one kernel. One long sequential loop would use one thread and
/// accumulate an error growing with `rsize`.
pub(crate) fn two_stage_chunk(out_size: usize, rsize: usize) -> Option<usize> {
    (out_size == 1 && rsize >= SPLIT_AT).then_some(CHUNK)
}

/// How reduction `op` of a `d` operand runs: the accumulator's op, the
/// dtype it accumulates in and the dtype of the result.
pub(crate) fn reduce_dtypes(op: RedOp, d: DType) -> (ReduceOp, DType, DType) {
    match op {
        RedOp::Sum | RedOp::Prod => {
            let out = sum_dtype(d);
            let rop = if op == RedOp::Sum {
                ReduceOp::ADD
            } else {
                ReduceOp::MUL
            };
            (rop, accumulator(out), out)
        }
        RedOp::Mean => (ReduceOp::ADD, accumulator(to_float(d)), to_float(d)),
        RedOp::Max => (ReduceOp::MAX, d, d),
        RedOp::Min => (ReduceOp::MIN, d, d),
        RedOp::All => (ReduceOp::MIN, DType::BOOL, DType::BOOL),
        RedOp::Any => (ReduceOp::MAX, DType::BOOL, DType::BOOL),
    }
}

/// The operand index a reduction over `axes` of `in_shape` reads: kept
/// axes from the output index `idx`, reduced axes from the loop index.
pub(crate) fn reduce_index(
    b: &mut KernelBuilder,
    idx: &[Val],
    axes: &[usize],
    in_shape: &[usize],
) -> Vec<Val> {
    let r = b.ridx();
    let red: Vec<usize> = axes.iter().map(|&d| in_shape[d]).collect();
    let ridx = unravel(b, r, &red);
    let (mut kept, mut reduced) = (idx.iter(), ridx.into_iter());
    (0..in_shape.len())
        .map(|d| match axes.contains(&d) {
            true => reduced.next().expect("one loop index per reduced axis"),
            false => *kept.next().expect("one output index per kept axis"),
        })
        .collect()
}

/// A reduction's loop over `axes` of operand 0 (of `in_shape`), read as
/// `acc` and accumulated by `rop`; returns the accumulator, which
/// [`reduce_epilogue`] finishes.
pub(crate) fn reduce_loop(
    o: &mut impl Operands,
    rop: ReduceOp,
    acc: DType,
    idx: &[Val],
    axes: &[usize],
    in_shape: &[usize],
) -> Val {
    let src = reduce_index(o.builder(), idx, axes, in_shape);
    let x = o.read(0, &src, acc);
    o.builder().reduce(rop, x)
}

/// The end of reduction `op`: `mean` divides by the element count `count`,
/// then the result is converted to `out`.
pub(crate) fn reduce_epilogue(
    b: &mut KernelBuilder,
    op: RedOp,
    total: Val,
    count: usize,
    out: DType,
) -> Val {
    let v = if op == RedOp::Mean {
        let n = b.constant(Scalar::F64(count as f64).cast(total.dtype));
        b.op(Op::DIV, &[total, n])
    } else {
        total
    };
    b.cast(v, out)
}

/// Where `[..., n, k] @ [..., k, m]` reads its operands for output
/// element `idx` (the loop index runs over `k`).
pub(crate) fn matmul_indices(b: &mut KernelBuilder, idx: &[Val]) -> [Vec<Val>; 2] {
    let r = b.ridx();
    let nb = idx.len() - 2;
    let mut ai = idx[..nb].to_vec();
    ai.extend([idx[nb], r]);
    let mut bi = idx[..nb].to_vec();
    bi.extend([r, idx[nb + 1]]);
    [ai, bi]
}

/// `matmul`: one reduction of a product of two loads (backends recognise
/// the affine loads and tile them), accumulated per [`accumulator`] and
/// converted to `out`; bool is or-of-and.
pub(crate) fn matmul(o: &mut impl Operands, idx: &[Val], out: DType) -> Val {
    let [ai, bi] = matmul_indices(o.builder(), idx);
    let acc = accumulator(out);
    let x = o.read(0, &ai, acc);
    let y = o.read(1, &bi, acc);
    let b = o.builder();
    let (prod, rop) = if acc == DType::BOOL {
        (b.op(Op::AND, &[x, y]), ReduceOp::MAX)
    } else {
        (b.op(Op::MUL, &[x, y]), ReduceOp::ADD)
    };
    let total = b.reduce(rop, prod);
    b.cast(total, out)
}

/// `concatenate` along `axis` of operands with `lens` elements along it,
/// as `dtype`: each non-empty piece is read where the output index falls
/// in it (the last piece first, each earlier one selected in front).
pub(crate) fn concatenate(
    o: &mut impl Operands,
    idx: &[Val],
    axis: usize,
    lens: &[usize],
    dtype: DType,
) -> Val {
    let mut value = None;
    let mut later_start: usize = lens.iter().sum();
    for (k, off) in movement::concat_pieces(lens) {
        let src = movement::concat_piece(o.builder(), idx, axis, off);
        let piece = o.read(k, &src, dtype);
        let b = o.builder();
        value = Some(match value {
            None => piece,
            Some(rest) => {
                let bound = b.i32(later_start as i32);
                let inside = b.op(Op::LT, &[idx[axis], bound]);
                b.select(inside, piece, rest)
            }
        });
        later_start = off;
    }
    value.unwrap_or_else(|| o.builder().constant(Scalar::zero(dtype)))
}

/// `pad` by `(low, high, interior)` per axis with `fill`, as `dtype`.
pub(crate) fn pad(
    o: &mut impl Operands,
    idx: &[Val],
    widths: &[(usize, usize, usize)],
    in_shape: &[usize],
    fill: Scalar,
    dtype: DType,
) -> Val {
    let (src, valid) = movement::pad(o.builder(), idx, widths, in_shape);
    let x = o.read(0, &src, dtype);
    masked(o.builder(), x, valid, fill)
}

/// `gather` along `axis` of data (operand 0, `n` long on that axis) by
/// i32 indices (operand 1, of rank `k`), as `dtype`: a load at an index
/// read first.
pub(crate) fn gather(
    o: &mut impl Operands,
    idx: &[Val],
    axis: usize,
    k: usize,
    n: usize,
    dtype: DType,
) -> Val {
    let at = movement::gather_indices(idx, axis, k);
    let j = o.read(1, &at, DType::I32);
    let src = movement::gather_source(o.builder(), idx, j, axis, k, n);
    o.read(0, &src, dtype)
}
