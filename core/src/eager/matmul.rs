//! Matrix products: one reduction kernel over a product of two loads
//! (backends recognise the affine loads and tile them).

use super::Concrete;
use super::kernel::EagerKernel;
use super::ops::{common_device, result_type};
use crate::error::Result;
use oxjax_abi::{DType, Op, ReduceOp};

impl Concrete {
    /// `[..., n, k] @ [..., k, m]` with equal batch axes and one dtype (the
    /// `matmul` primitive's canonical operands; the API broadcasts and
    /// promotes first). f16 accumulates in f32; bool is or-of-and.
    pub(crate) fn try_matmul(&self, other: &Concrete) -> Result<Concrete> {
        let r = self.ndim();
        let (n, k, m) = (
            self.shape()[r - 2],
            self.shape()[r - 1],
            other.shape()[r - 1],
        );
        let batch = &self.shape()[..r - 2];
        debug_assert_eq!(batch, &other.shape()[..r - 2]);
        let device = common_device("matmul", &[self, other])?;
        let (dtype, weak) = result_type(&[self, other]);
        let acc = super::accumulator(dtype);
        super::check_dtype("matmul", acc, &device)?;
        let mut out_shape = batch.to_vec();
        out_shape.extend([n, m]);
        let mut fuse = EagerKernel::new(&device);
        let idx = fuse.out_index(&out_shape);
        let ridx = fuse.b.ridx();
        let nb = batch.len();
        let mut ai = idx[..nb].to_vec();
        ai.extend([idx[nb], ridx]);
        let mut bi = idx[..nb].to_vec();
        bi.extend([ridx, idx[nb + 1]]);
        let x = fuse.read_as(self, &ai, acc);
        let y = fuse.read_as(other, &bi, acc);
        let (prod, rop) = if acc == DType::BOOL {
            (fuse.b.op(Op::AND, &[x, y]), ReduceOp::MAX)
        } else {
            (fuse.b.op(Op::MUL, &[x, y]), ReduceOp::ADD)
        };
        let total = fuse.b.reduce(rop, prod);
        let v = fuse.b.cast(total, dtype);
        let mut out = fuse.run(&out_shape, k, &[v])?.remove(0);
        out.weak = weak;
        Ok(out)
    }
}
