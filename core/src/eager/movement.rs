//! Movement ops. All but `concatenate` only change the view: no kernel, no
//! copy; the index arithmetic lands in the next kernel that reads them.

use super::kernel::EagerKernel;
use super::ops::{common_device, result_type};
use super::{Concrete, or_panic};
use crate::error::{ErrorKind, Result, err};
use crate::lower;
use oxjax_abi::Scalar;
use std::ops::{Range, RangeFrom, RangeFull, RangeTo};

/// Resolves a possibly negative axis against `rank`.
pub fn axis(op: &str, axis: isize, rank: usize) -> Result<usize> {
    let a = if axis < 0 { axis + rank as isize } else { axis };
    if a < 0 || a >= rank as isize {
        return err(
            ErrorKind::Shape,
            format!("{op}: axis {axis} is out of range for an array of rank {rank}"),
        );
    }
    Ok(a as usize)
}

/// One axis of a slice ([`Array::slice`](crate::Array::slice)): `start..stop` by `step`, NumPy's rules
/// (negative indices count from the end; a negative step walks backwards).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    /// First index (negative counts from the end); `None`: the start for the step's direction.
    pub start: Option<isize>,
    /// One past the last index; `None`: through the end for the step's direction.
    pub stop: Option<isize>,
    /// Stride, non-zero; negative walks backwards.
    pub step: isize,
}

impl Slice {
    /// The whole axis.
    pub fn all() -> Slice {
        Slice {
            start: None,
            stop: None,
            step: 1,
        }
    }

    /// The same range with another step.
    pub fn step(self, step: isize) -> Slice {
        Slice { step, ..self }
    }

    /// (start, len) of this slice on an axis of length `n`.
    pub fn resolve(self, n: usize) -> Result<(usize, usize)> {
        if self.step == 0 {
            return err(ErrorKind::Value, "slice: step must not be zero");
        }
        let n = n as isize;
        let clamp = |i: isize, lo: isize, hi: isize| i.clamp(lo, hi);
        let norm = |i: isize| if i < 0 { i + n } else { i };
        let (start, stop) = if self.step > 0 {
            (
                self.start.map_or(0, |s| clamp(norm(s), 0, n)),
                self.stop.map_or(n, |s| clamp(norm(s), 0, n)),
            )
        } else {
            (
                self.start.map_or(n - 1, |s| clamp(norm(s), -1, n - 1)),
                self.stop.map_or(-1, |s| clamp(norm(s), -1, n - 1)),
            )
        };
        let span = if self.step > 0 {
            stop - start
        } else {
            start - stop
        };
        let step = self.step.abs();
        let len = if span <= 0 {
            0
        } else {
            (span + step - 1) / step
        };
        Ok((if len == 0 { 0 } else { start as usize }, len as usize))
    }
}

impl From<RangeFull> for Slice {
    fn from(_: RangeFull) -> Slice {
        Slice::all()
    }
}

impl From<Range<isize>> for Slice {
    fn from(r: Range<isize>) -> Slice {
        Slice {
            start: Some(r.start),
            stop: Some(r.end),
            step: 1,
        }
    }
}

impl From<RangeFrom<isize>> for Slice {
    fn from(r: RangeFrom<isize>) -> Slice {
        Slice {
            start: Some(r.start),
            stop: None,
            step: 1,
        }
    }
}

impl From<RangeTo<isize>> for Slice {
    fn from(r: RangeTo<isize>) -> Slice {
        Slice {
            start: None,
            stop: Some(r.end),
            step: 1,
        }
    }
}

impl Concrete {
    /// The same elements in `shape` (of the same size; the API checks).
    pub(crate) fn reshape(&self, shape: &[usize]) -> Concrete {
        debug_assert_eq!(shape.iter().product::<usize>(), self.size());
        self.with_view(self.view.reshape(shape))
    }

    pub(crate) fn transpose(&self, perm: &[usize]) -> Concrete {
        let rank = self.ndim();
        let mut seen = vec![false; rank];
        if perm.len() != rank
            || perm
                .iter()
                .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
        {
            crate::error::fail(
                crate::ErrorKind::Shape,
                format!(
                    "transpose: {perm:?} is not a permutation of the axes of shape {:?}",
                    self.shape()
                ),
            );
        }
        self.with_view(self.view.permute(perm))
    }

    /// Broadcasts to `shape` (NumPy's rule).
    pub(crate) fn broadcast_to(&self, shape: &[usize]) -> Concrete {
        let target = or_panic(super::ops::broadcast_shapes(
            "broadcast_to",
            &[self.shape(), shape],
        ));
        if target != shape {
            crate::error::fail(
                crate::ErrorKind::Shape,
                format!(
                    "broadcast_to: cannot broadcast shape {:?} to {shape:?}",
                    self.shape()
                ),
            );
        }
        self.broadcast_view(shape)
    }

    /// Broadcast without checks (the shape is already known to fit).
    pub(crate) fn broadcast_view(&self, shape: &[usize]) -> Concrete {
        if self.shape() == shape {
            return self.clone();
        }
        let mut padded = vec![1usize; shape.len() - self.ndim()];
        padded.extend_from_slice(self.shape());
        self.with_view(self.view.reshape(&padded).expand(shape))
    }

    /// Takes `len` elements from `start` by a positive `step` on each axis
    /// (the canonical form the `slice` primitive carries).
    pub(crate) fn slice_canonical(&self, spec: &[(usize, usize, usize)]) -> Concrete {
        let mut view = self.view.clone();
        for (d, &(start, len, step)) in spec.iter().enumerate() {
            view = view.stride_slice(d, start, len, step as isize);
        }
        self.with_view(view)
    }

    /// Pads with `(low, high, interior)` elements of `value` per axis, as
    /// `lax.pad`. Without interior padding this is a view; with it, one kernel.
    pub(crate) fn pad_interior(
        &self,
        widths: &[(usize, usize, usize)],
        value: Scalar,
    ) -> Result<Concrete> {
        if widths.iter().all(|w| w.2 == 0) {
            let edges: Vec<(usize, usize)> = widths.iter().map(|w| (w.0, w.1)).collect();
            return self.try_pad(&edges, value.as_f64());
        }
        let shape: Vec<usize> = self
            .shape()
            .iter()
            .zip(widths)
            .map(|(&n, &(lo, hi, int))| lo + hi + if n == 0 { 0 } else { n + (n - 1) * int })
            .collect();
        let mut fuse = EagerKernel::new(&self.device);
        let idx = fuse.out_index(&shape);
        let (shape_in, dtype) = (self.shape(), self.dtype);
        let v = lower::pad(
            &mut fuse.operands(&[self]),
            &idx,
            widths,
            shape_in,
            value,
            dtype,
        );
        let mut out = fuse.run(&shape, 0, &[v])?.remove(0);
        out.weak = self.weak;
        Ok(out)
    }

    /// Reverses the given axes (all for an empty list).
    pub(crate) fn flip(&self, axes: &[isize]) -> Concrete {
        let rank = self.ndim();
        let axes: Vec<usize> = if axes.is_empty() {
            (0..rank).collect()
        } else {
            axes.iter()
                .map(|&a| or_panic(axis("flip", a, rank)))
                .collect()
        };
        let mut view = self.view.clone();
        for d in axes {
            let n = self.shape()[d];
            if n > 1 {
                view = view.stride_slice(d, n - 1, n, -1);
            }
        }
        self.with_view(view)
    }

    pub(crate) fn try_pad(&self, widths: &[(usize, usize)], value: f64) -> Result<Concrete> {
        if widths.len() != self.ndim() {
            return err(
                ErrorKind::Shape,
                format!(
                    "pad: {} (before, after) pairs for an array of rank {}",
                    widths.len(),
                    self.ndim()
                ),
            );
        }
        let fill = Scalar::F64(value).cast(self.dtype);
        // A view has one fill value; padding with another one copies first.
        let base = if self.view.has_mask() && fill != self.fill {
            self.materialize()?
        } else {
            self.clone()
        };
        let mut view = base.view.clone();
        for (d, &(before, after)) in widths.iter().enumerate() {
            if before + after > 0 {
                view = view.pad(d, before, after);
            }
        }
        let mut out = base.with_view(view);
        out.fill = fill;
        Ok(out)
    }

    pub(crate) fn try_concatenate(arrays: &[&Concrete], axis: isize) -> Result<Concrete> {
        let Some(first) = arrays.first() else {
            return err(ErrorKind::Value, "concatenate: needs at least one array");
        };
        let rank = first.ndim();
        let ax = self::axis("concatenate", axis, rank)?;
        for a in arrays {
            let same =
                a.ndim() == rank && (0..rank).all(|d| d == ax || a.shape()[d] == first.shape()[d]);
            if !same {
                let shapes: Vec<String> =
                    arrays.iter().map(|a| format!("{:?}", a.shape())).collect();
                return err(
                    ErrorKind::Shape,
                    format!(
                        "concatenate: shapes {} differ outside axis {ax}",
                        shapes.join(", ")
                    ),
                );
            }
        }
        let device = common_device("concatenate", arrays)?;
        // More pieces than the device binds in one kernel: concatenate in
        // groups, then the groups (promotion is associative, so the result
        // type is the same). One input is kept for the kernel's parameters
        // (see `EagerKernel`).
        let most = (device.info().caps.max_inputs as usize)
            .saturating_sub(1)
            .max(2);
        if arrays.len() > most {
            let groups: Vec<Concrete> = arrays
                .chunks(most)
                .map(|g| Concrete::try_concatenate(g, ax as isize))
                .collect::<Result<_>>()?;
            let refs: Vec<&Concrete> = groups.iter().collect();
            return Concrete::try_concatenate(&refs, ax as isize);
        }
        let (dtype, weak) = result_type(arrays);
        let mut shape = first.shape().to_vec();
        shape[ax] = arrays.iter().map(|a| a.shape()[ax]).sum();
        let mut fuse = EagerKernel::new(&device);
        let idx = fuse.out_index(&shape);
        let lens: Vec<usize> = arrays.iter().map(|a| a.shape()[ax]).collect();
        let v = lower::concatenate(&mut fuse.operands(arrays), &idx, ax, &lens, dtype);
        let mut out = fuse.run(&shape, 0, &[v])?.remove(0);
        out.weak = weak;
        Ok(out)
    }
}
