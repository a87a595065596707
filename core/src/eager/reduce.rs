//! Reductions: one kernel each (argmax/argmin: two), over any set of axes.

use super::kernel::EagerKernel;
use super::movement::axis;
use super::{Concrete, or_panic};
use crate::error::{ErrorKind, Result, err};
use crate::lower::{self, RedOp, reduce_dtypes, reduce_epilogue, two_stage_chunk};
use oxjax_abi::{DType, KernelBuilder, Op, ReduceOp, Val};

/// Which axes a reduction runs over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Axes {
    /// Every axis.
    All,
    /// These axes (negative counts from the end). Empty reduces nothing.
    Some(Vec<isize>),
}

impl From<isize> for Axes {
    fn from(a: isize) -> Axes {
        Axes::Some(vec![a])
    }
}

impl From<&[isize]> for Axes {
    fn from(a: &[isize]) -> Axes {
        Axes::Some(a.to_vec())
    }
}

impl<const N: usize> From<[isize; N]> for Axes {
    fn from(a: [isize; N]) -> Axes {
        Axes::Some(a.to_vec())
    }
}

impl From<Vec<isize>> for Axes {
    fn from(a: Vec<isize>) -> Axes {
        Axes::Some(a)
    }
}

impl Axes {
    /// Sorted, de-duplicated, non-negative axes of an array of rank `rank`.
    pub fn resolve(&self, op: &str, rank: usize) -> Result<Vec<usize>> {
        let mut out = match self {
            Axes::All => (0..rank).collect(),
            Axes::Some(v) => v
                .iter()
                .map(|&a| axis(op, a, rank))
                .collect::<Result<Vec<_>>>()?,
        };
        let n = out.len();
        out.sort_unstable();
        out.dedup();
        if out.len() != n {
            return err(ErrorKind::Shape, format!("{op}: repeated axis in {self:?}"));
        }
        Ok(out)
    }
}

impl Concrete {
    /// Reduces `axes` with `rop`, reading elements as `acc` and finishing
    /// each result with `epilogue(accumulator, count)`.
    fn reduce(
        &self,
        name: &str,
        axes: &Axes,
        keepdims: bool,
        rop: ReduceOp,
        acc: DType,
        epilogue: &dyn Fn(&mut KernelBuilder, Val, usize) -> Val,
    ) -> Result<Concrete> {
        let reduced = axes.resolve(name, self.ndim())?;
        let shape = self.shape();
        let kept: Vec<usize> = (0..self.ndim()).filter(|d| !reduced.contains(d)).collect();
        let out_shape: Vec<usize> = kept.iter().map(|&d| shape[d]).collect();
        let red_shape: Vec<usize> = reduced.iter().map(|&d| shape[d]).collect();
        let rsize: usize = red_shape.iter().product();
        // Min and max have no identity, except over bool (`all`, `any`:
        // true and false, as NumPy and JAX).
        if rsize == 0
            && matches!(rop, ReduceOp::MIN | ReduceOp::MAX)
            && acc != DType::BOOL
            && out_shape.iter().product::<usize>() > 0
        {
            return err(
                ErrorKind::Shape,
                format!(
                    "{name}: zero-size reduction over axes {reduced:?} of shape {shape:?} has no identity"
                ),
            );
        }
        super::check_dtype(name, acc, &self.device)?;
        if let Some(chunk) = two_stage_chunk(out_shape.iter().product(), rsize) {
            return self.reduce_in_two_stages(name, keepdims, rop, acc, rsize, chunk, epilogue);
        }
        let mut fuse = EagerKernel::new(&self.device);
        let out_idx = fuse.out_index(&out_shape);
        let total = lower::reduce_loop(
            &mut fuse.operands(&[self]),
            rop,
            acc,
            &out_idx,
            &reduced,
            shape,
        );
        let v = epilogue(&mut fuse.b, total, rsize);
        let out = fuse.run(&out_shape, rsize, &[v])?.remove(0);
        Ok(if keepdims {
            out.keep_dims(shape, &reduced)
        } else {
            out
        })
    }

    /// A long reduction to one value runs as two kernels (see
    /// [`two_stage_chunk`]).
    #[allow(clippy::too_many_arguments)]
    fn reduce_in_two_stages(
        &self,
        name: &str,
        keepdims: bool,
        rop: ReduceOp,
        acc: DType,
        rsize: usize,
        chunk: usize,
        epilogue: &dyn Fn(&mut KernelBuilder, Val, usize) -> Val,
    ) -> Result<Concrete> {
        let m = rsize.div_ceil(chunk);
        let identity = rop.identity(self.dtype).as_f64();
        let flat = self
            .reshape(&[rsize])
            .try_pad(&[(0, m * chunk - rsize)], identity)?;
        let partial = flat.reshape(&[m, chunk]).reduce(
            name,
            &Axes::Some(vec![1]),
            false,
            rop,
            acc,
            &|_, v, _| v,
        )?;
        let total = partial.reduce(name, &Axes::All, false, rop, acc, &|b, v, _| {
            epilogue(b, v, rsize)
        })?;
        Ok(if keepdims {
            total.reshape(&vec![1; self.ndim()])
        } else {
            total
        })
    }

    /// Reinserts reduced axes as length 1.
    fn keep_dims(&self, full: &[usize], reduced: &[usize]) -> Concrete {
        let shape: Vec<usize> = (0..full.len())
            .map(|d| if reduced.contains(&d) { 1 } else { full[d] })
            .collect();
        self.reshape(&shape)
    }

    /// Reduction `op` over `axes`, with the lowering's dtype rules and
    /// epilogue.
    fn reduce_op(&self, op: RedOp, axes: impl Into<Axes>, keepdims: bool) -> Concrete {
        let (rop, acc, out) = reduce_dtypes(op, self.dtype);
        let name = match op {
            RedOp::Sum => "sum",
            RedOp::Prod => "prod",
            RedOp::Max => "max",
            RedOp::Min => "min",
            RedOp::Mean => "mean",
            RedOp::All => "all",
            RedOp::Any => "any",
        };
        or_panic(
            self.reduce(name, &axes.into(), keepdims, rop, acc, &|b, v, n| {
                reduce_epilogue(b, op, v, n, out)
            }),
        )
    }

    /// Sum over `axes` (bool and i8 sum to i32, u8 to u32; f16 and bf16
    /// accumulate in f32).
    pub(crate) fn sum(&self, axes: impl Into<Axes>, keepdims: bool) -> Concrete {
        self.reduce_op(RedOp::Sum, axes, keepdims)
    }

    /// Product over `axes`.
    pub(crate) fn prod(&self, axes: impl Into<Axes>, keepdims: bool) -> Concrete {
        self.reduce_op(RedOp::Prod, axes, keepdims)
    }

    /// Maximum over `axes`; NaN propagates.
    pub(crate) fn max(&self, axes: impl Into<Axes>, keepdims: bool) -> Concrete {
        self.reduce_op(RedOp::Max, axes, keepdims)
    }

    /// Minimum over `axes`; NaN propagates.
    pub(crate) fn min(&self, axes: impl Into<Axes>, keepdims: bool) -> Concrete {
        self.reduce_op(RedOp::Min, axes, keepdims)
    }

    /// Arithmetic mean over `axes` (integers give f32).
    pub(crate) fn mean(&self, axes: impl Into<Axes>, keepdims: bool) -> Concrete {
        self.reduce_op(RedOp::Mean, axes, keepdims)
    }

    /// True where every element along `axes` is non-zero.
    pub(crate) fn all(&self, axes: impl Into<Axes>, keepdims: bool) -> Concrete {
        self.reduce_op(RedOp::All, axes, keepdims)
    }

    /// True where some element along `axes` is non-zero.
    pub(crate) fn any(&self, axes: impl Into<Axes>, keepdims: bool) -> Concrete {
        self.reduce_op(RedOp::Any, axes, keepdims)
    }

    /// Index (i32) of the first maximum along `axis` (`None`: of the
    /// flattened array). A NaN counts as the maximum.
    pub(crate) fn argmax(&self, axis: Option<isize>) -> Concrete {
        or_panic(self.arg_extremum("argmax", axis, ReduceOp::MAX))
    }

    /// Index (i32) of the first minimum; see [`Concrete::argmax`].
    pub(crate) fn argmin(&self, axis: Option<isize>) -> Concrete {
        or_panic(self.arg_extremum("argmin", axis, ReduceOp::MIN))
    }

    /// Two kernels: the extremum, then the first index that holds it.
    fn arg_extremum(&self, name: &str, ax: Option<isize>, rop: ReduceOp) -> Result<Concrete> {
        let (x, ax) = match ax {
            None => (self.reshape(&[self.size()]), 0usize),
            Some(a) => (self.clone(), axis(name, a, self.ndim())?),
        };
        let n = x.shape()[ax];
        if n == 0 {
            return err(
                ErrorKind::Shape,
                format!(
                    "{name}: attempt to get {name} of an empty axis (shape {:?})",
                    x.shape()
                ),
            );
        }
        let axes = Axes::Some(vec![ax as isize]);
        let best = x.reduce(name, &axes, true, rop, x.dtype, &|_, v, _| v)?;
        let best = best.broadcast_view(x.shape());
        let mut shape: Vec<usize> = x.shape().to_vec();
        shape.remove(ax);
        // min over ridx of (x == best ? ridx : n), evaluated in one kernel.
        let mut fuse = EagerKernel::new(&x.device);
        let out_idx = fuse.out_index(&shape);
        let r = fuse.b.ridx();
        let mut idx = out_idx.clone();
        idx.insert(ax, r);
        let xv = fuse.read(&x, &idx);
        let bv = fuse.read(&best, &idx);
        let mut hit = fuse.b.op(Op::EQ, &[xv, bv]);
        if x.dtype.is_float() {
            let xn = fuse.b.op(Op::ISNAN, &[xv]);
            let bn = fuse.b.op(Op::ISNAN, &[bv]);
            let both = fuse.b.op(Op::AND, &[xn, bn]);
            hit = fuse.b.op(Op::OR, &[hit, both]);
        }
        let big = fuse.b.i32(n as i32);
        let cand = fuse.b.select(hit, r, big);
        let first = fuse.b.reduce(ReduceOp::MIN, cand);
        Ok(fuse.run(&shape, n, &[first])?.remove(0))
    }
}
