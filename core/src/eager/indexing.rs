//! Eager indexing primitives: gather as one kernel (a load at a computed
//! index), and scatter, sort and scans as device routines, run natively
//! where the device lists them and on the host otherwise
//! (`Device::run_routine`).

use super::Concrete;
use super::kernel::EagerKernel;
use super::ops::common_device;
use crate::error::Result;
use crate::lower::{self, CumOp, ScatterMode, gather_shape};
use oxjax_abi::{DType, Routine, RoutineKind, TensorDesc};

fn desc(dtype: DType, shape: &[usize]) -> TensorDesc {
    TensorDesc {
        dtype,
        shape: shape.iter().map(|&d| d as u64).collect(),
    }
}

impl Concrete {
    /// `out[pre, J, post] = self[pre, clamp(idx[J]), post]`: one kernel.
    pub(crate) fn gather(&self, idx: &Concrete, axis: usize) -> Result<Concrete> {
        let device = common_device("gather", &[self, idx])?;
        let shape = gather_shape(self.shape(), idx.shape(), axis);
        let mut fuse = EagerKernel::new(&device);
        let out = fuse.out_index(&shape);
        let (k, n) = (idx.ndim(), self.shape()[axis]);
        let v = lower::gather(
            &mut fuse.operands(&[self, idx]),
            &out,
            axis,
            k,
            n,
            self.dtype,
        );
        let mut r = fuse.run(&shape, 0, &[v])?.remove(0);
        r.weak = self.weak;
        Ok(r)
    }

    /// Runs routine `kind` on `inputs` (moved to their common device,
    /// dense) into outputs of the given dtypes and shapes: natively or on
    /// the host (`Device::run_routine`). The one entry point for every
    /// routine-backed primitive.
    pub(crate) fn routine(
        name: &str,
        kind: RoutineKind,
        params: Vec<i64>,
        inputs: &[&Concrete],
        outputs: &[(DType, &[usize])],
    ) -> Result<Vec<Concrete>> {
        let device = common_device(name, inputs)?;
        let dense = inputs
            .iter()
            .map(|c| c.try_device_put(&device)?.dense_buffer())
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&crate::device::Buffer> = dense.iter().map(|b| &**b).collect();
        let routine = Routine {
            kind,
            inputs: inputs.iter().map(|c| desc(c.dtype, c.shape())).collect(),
            outputs: outputs.iter().map(|&(d, s)| desc(d, s)).collect(),
            params: params.into(),
        };
        let outs = device.run_routine(&routine, &refs)?;
        Ok(outs
            .into_iter()
            .zip(outputs)
            .map(|(buf, &(d, s))| Concrete::from_dense(buf, s, d, device.clone()))
            .collect())
    }

    /// `out = self; out[pre, idx[J], post] (mode)= upd[pre, J, post]`.
    pub(crate) fn scatter(
        &self,
        idx: &Concrete,
        upd: &Concrete,
        mode: ScatterMode,
        axis: usize,
    ) -> Result<Concrete> {
        if self.size() == 0 || upd.size() == 0 {
            return self.materialize();
        }
        let params = vec![mode.code(), axis as i64];
        let mut out = Concrete::routine(
            "scatter",
            RoutineKind::SCATTER,
            params,
            &[self, idx, upd],
            &[(self.dtype, self.shape())],
        )?
        .remove(0);
        out.weak = self.weak && upd.weak;
        Ok(out)
    }

    /// Stable sort (or argsort) along `axis`, NaNs last.
    pub(crate) fn sort_routine(
        &self,
        axis: usize,
        descending: bool,
        argsort: bool,
    ) -> Result<Concrete> {
        let (kind, dtype) = if argsort {
            (RoutineKind::ARGSORT, DType::I32)
        } else {
            (RoutineKind::SORT, self.dtype)
        };
        if self.size() == 0 {
            return Ok(Concrete::zeros(self.shape(), dtype));
        }
        let params = vec![axis as i64, descending as i64];
        let mut out =
            Concrete::routine("sort", kind, params, &[self], &[(dtype, self.shape())])?.remove(0);
        out.weak = self.weak && !argsort;
        Ok(out)
    }

    /// Inclusive scan along `axis`.
    pub(crate) fn cumulative(&self, op: CumOp, axis: usize, reverse: bool) -> Result<Concrete> {
        if self.size() == 0 {
            return self.materialize();
        }
        let params = vec![axis as i64, reverse as i64];
        let mut out = Concrete::routine(
            op.name(),
            op.routine(),
            params,
            &[self],
            &[(self.dtype, self.shape())],
        )?
        .remove(0);
        out.weak = self.weak;
        Ok(out)
    }
}
