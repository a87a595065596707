//! Matrix products: one kernel, the `matmul` lowering.

use super::Concrete;
use super::kernel::EagerKernel;
use super::ops::{common_device, result_type};
use crate::error::Result;
use crate::lower;

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
        let v = lower::matmul(&mut fuse.operands(&[self, other]), &idx, dtype);
        let mut out = fuse.run(&out_shape, k, &[v])?.remove(0);
        out.weak = weak;
        Ok(out)
    }
}
