//! Building and running the one kernel of an eager op.

use super::view::{masked, unravel};
use super::{Concrete, Source};
use crate::device::{Buffer, Device};
use crate::error::{Result, op_err};
use oxjax_abi::{BufferId, DType, KernelBuilder, Val};
use std::sync::Arc;

/// The most elements (or reduction steps) one kernel covers: `gidx` and
/// `ridx` are i32 in the kernel IR.
pub(crate) const MAX_KERNEL_SIZE: usize = i32::MAX as usize;

/// A kernel under construction, with the buffers it reads.
pub(crate) struct Fuse {
    pub b: KernelBuilder,
    device: Device,
    buffers: Vec<Arc<Buffer>>,
}

impl Fuse {
    pub fn new(device: &Device) -> Fuse {
        Fuse {
            b: KernelBuilder::new(),
            device: device.clone(),
            buffers: Vec::new(),
        }
    }

    /// The multi-index of the output element `gidx` in an output of `shape`.
    pub fn out_index(&mut self, shape: &[usize]) -> Vec<Val> {
        let g = self.b.gidx();
        unravel(&mut self.b, g, shape)
    }

    /// The element of `a` at multi-index `idx` (one i32 per axis of `a`).
    pub fn read(&mut self, a: &Concrete, idx: &[Val]) -> Val {
        self.read_as(a, idx, a.dtype)
    }

    /// Like [`Fuse::read`], converted to `dtype`. A weak constant converts
    /// from its full-precision value, so it is rounded once.
    pub fn read_as(&mut self, a: &Concrete, idx: &[Val], dtype: DType) -> Val {
        let (value, valid) = match &a.src {
            Source::Const(s) => {
                let s = if a.weak { *s } else { s.cast(a.dtype) };
                let v = self.b.constant(s.cast(dtype));
                let (_, valid) = if a.view.has_mask() {
                    a.view.index(&mut self.b, idx)
                } else {
                    (v, None)
                };
                return masked(&mut self.b, v, valid, a.fill.cast(dtype));
            }
            Source::Buffer(buf) => {
                let k = match self.buffers.iter().position(|x| Arc::ptr_eq(x, buf)) {
                    Some(k) => k as u32,
                    None => {
                        self.buffers.push(buf.clone());
                        self.b.input(a.dtype)
                    }
                };
                let (linear, valid) = a.view.index(&mut self.b, idx);
                (self.b.load(k, linear), valid)
            }
        };
        let v = masked(&mut self.b, value, valid, a.fill);
        self.b.cast(v, dtype)
    }

    /// Finishes the kernel (outputs `values`, each of `shape`), runs it and
    /// returns the outputs as dense arrays.
    pub fn run(self, shape: &[usize], rsize: usize, values: &[Val]) -> Result<Vec<Concrete>> {
        let size: usize = shape.iter().product();
        if size > MAX_KERNEL_SIZE || rsize > MAX_KERNEL_SIZE {
            return op_err(format!(
                "an op producing shape {shape:?} ({size} elements, reducing {rsize} each) \
                 exceeds what one kernel covers ({MAX_KERNEL_SIZE} elements: kernels index \
                 with i32); split the array into smaller pieces"
            ));
        }
        let mut b = self.b;
        for &v in values {
            b.output(v);
        }
        let kernel = b.finish(size, rsize);
        let mut outs = Vec::with_capacity(values.len());
        for &v in values {
            outs.push(self.device.alloc(size * v.dtype.size())?);
        }
        let inputs: Vec<BufferId> = self.buffers.iter().map(|x| x.id).collect();
        let outputs: Vec<BufferId> = outs.iter().map(|x| x.id).collect();
        if size > 0 {
            self.device.launch(&kernel, &inputs, &outputs)?;
        }
        Ok(outs
            .into_iter()
            .zip(values)
            .map(|(buf, v)| Concrete::new(Source::Buffer(buf), shape, v.dtype, self.device.clone()))
            .collect())
    }
}
