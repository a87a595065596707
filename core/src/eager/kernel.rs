//! Building and running the one kernel of an eager op.

use super::Concrete;
use crate::device::{Buffer, Device, Source};
use crate::error::{ErrorKind, Result, err};
use crate::lower::{Operands, masked, unravel};
use oxjax_abi::{BufferId, DType, KernelBuilder, Op, Scalar, Val};
use std::sync::Arc;

/// The most elements (or reduction steps) one kernel covers: `gidx` and
/// `ridx` are i32 in the kernel IR.
pub(crate) const MAX_KERNEL_SIZE: usize = i32::MAX as usize;

/// A kernel under construction, with the buffers it reads.
///
/// Values that vary between otherwise identical kernels — the offset of a
/// view into its buffer (`x[i]` for each `i` of a loop) and 32-bit scalar
/// constants other than 0 and 1 (a learning rate that changes each step) —
/// are not baked into the kernel: they are *parameters*, words of one extra
/// u32 input written at launch. So a loop compiles its kernels once, and
/// the kernel cache does not fill with copies that differ in one constant.
pub(crate) struct EagerKernel {
    pub b: KernelBuilder,
    device: Device,
    /// The buffer of each input, in input order; `None` marks the
    /// parameter input, made at launch from `params`.
    buffers: Vec<Option<Arc<Buffer>>>,
    params: Vec<u32>,
    params_input: Option<u32>,
}

impl EagerKernel {
    pub fn new(device: &Device) -> EagerKernel {
        EagerKernel {
            b: KernelBuilder::new(),
            device: device.clone(),
            buffers: Vec::new(),
            params: Vec::new(),
            params_input: None,
        }
    }

    /// The value `v` in the kernel: a parameter word when it is a 32-bit
    /// value that may vary (see [`EagerKernel`]), else a constant.
    pub fn scalar(&mut self, v: Scalar) -> Val {
        let d = v.dtype();
        let fixed = v == Scalar::zero(d) || v == Scalar::F64(1.0).cast(d);
        // A backend without `BITCAST` cannot reinterpret a parameter word.
        if d.size() != 4 || fixed || !self.device.info().caps.supports_op(Op::BITCAST) {
            return self.b.constant(v);
        }
        let bits = v.to_bits() as u32;
        let input = match self.params_input {
            Some(i) => i,
            None => {
                self.buffers.push(None);
                let i = self.b.input(DType::U32);
                self.params_input = Some(i);
                i
            }
        };
        let word = match self.params.iter().position(|&w| w == bits) {
            Some(j) => j,
            None => {
                self.params.push(bits);
                self.params.len() - 1
            }
        };
        let at = self.b.i32(word as i32);
        let w = self.b.load(input, at);
        if d == DType::U32 {
            w
        } else {
            self.b.node(Op::BITCAST, d, &[w], 0)
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

    /// Like [`EagerKernel::read`], converted to `dtype`. A weak constant converts
    /// from its full-precision value, so it is rounded once.
    pub fn read_as(&mut self, a: &Concrete, idx: &[Val], dtype: DType) -> Val {
        let (value, valid) = match &a.src {
            Source::Const(s) => {
                let s = if a.weak { *s } else { s.cast(a.dtype) };
                let v = self.scalar(s.cast(dtype));
                let (_, valid) = if a.view.has_mask() {
                    a.view.index(&mut self.b, idx, None)
                } else {
                    (v, None)
                };
                return masked(&mut self.b, v, valid, a.fill.cast(dtype));
            }
            Source::Buffer(buf) => {
                let known = self
                    .buffers
                    .iter()
                    .position(|x| x.as_ref().is_some_and(|x| Arc::ptr_eq(x, buf)));
                let k = match known {
                    Some(k) => k as u32,
                    None => {
                        self.buffers.push(Some(buf.clone()));
                        self.b.input(a.dtype)
                    }
                };
                let offset = a.view.buffer_offset();
                let base = (offset != 0).then(|| self.scalar(Scalar::I32(offset as i32)));
                let (linear, valid) = a.view.index(&mut self.b, idx, base);
                (self.b.load(k, linear), valid)
            }
        };
        let v = masked(&mut self.b, value, valid, a.fill);
        self.b.cast(v, dtype)
    }

    /// The arrays `arrays` as the operands of a lowering (read through
    /// their views).
    pub fn operands<'k, 'a>(&'k mut self, arrays: &'a [&'a Concrete]) -> Viewed<'k, 'a> {
        Viewed {
            kernel: self,
            arrays,
        }
    }

    /// Finishes the kernel (outputs `values`, each of `shape`), runs it and
    /// returns the outputs as dense arrays.
    pub fn run(self, shape: &[usize], rsize: usize, values: &[Val]) -> Result<Vec<Concrete>> {
        let size: usize = shape.iter().product();
        if size > MAX_KERNEL_SIZE || rsize > MAX_KERNEL_SIZE {
            return err(
                ErrorKind::DType,
                format!(
                    "an op producing shape {shape:?} ({size} elements, reducing {rsize} each) \
                 exceeds what one kernel covers ({MAX_KERNEL_SIZE} elements: kernels index \
                 with i32); split the array into smaller pieces"
                ),
            );
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
        let params = match self.params.is_empty() {
            true => None,
            false => {
                let bytes: Vec<u8> = self.params.iter().flat_map(|w| w.to_le_bytes()).collect();
                Some(self.device.upload(&bytes)?)
            }
        };
        let inputs: Vec<BufferId> = self
            .buffers
            .iter()
            .map(|x| x.as_ref().or(params.as_ref()).expect("params made").id)
            .collect();
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

/// Arrays read through their views: eager's side of [`Operands`].
pub(crate) struct Viewed<'k, 'a> {
    kernel: &'k mut EagerKernel,
    arrays: &'a [&'a Concrete],
}

impl Operands for Viewed<'_, '_> {
    fn builder(&mut self) -> &mut KernelBuilder {
        &mut self.kernel.b
    }

    fn read(&mut self, k: usize, idx: &[Val], dtype: DType) -> Val {
        self.kernel.read_as(self.arrays[k], idx, dtype)
    }
}
