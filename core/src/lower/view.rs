//! Views: how an eager array's logical elements map onto its buffer, so
//! movement ops (reshape, transpose, broadcast, slice, flip, pad) never
//! copy. Each op composes its index map (see `index`) into the view
//! symbolically; `tests` checks the two agree.
//!
//! A view is a stack of strided layouts (the idea of tinygrad's
//! ShapeTracker). The last layout maps the array's multi-index to a linear
//! index; when a reshape cannot be expressed by strides, a new layout is
//! pushed and that linear index is unravelled into the previous layout's
//! shape. Each layout may carry a mask (a valid range per axis) for padding:
//! masked-out elements read as the array's fill value.

use super::index::{add, and, in_range, mul_const, unravel};
use oxjax_abi::{KernelBuilder, Val};

#[derive(Clone, Debug, PartialEq)]
struct Layout {
    shape: Vec<usize>,
    strides: Vec<isize>,
    offset: isize,
    /// Valid index range per axis; `None` when everything is valid.
    mask: Option<Vec<(usize, usize)>>,
}

fn contiguous_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc = 1isize;
    for d in (0..shape.len()).rev() {
        strides[d] = if shape[d] == 1 { 0 } else { acc };
        acc *= shape[d] as isize;
    }
    strides
}

impl Layout {
    fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
            mask: None,
        }
    }

    fn is_contiguous(&self) -> bool {
        self.offset == 0 && self.mask.is_none() && self.strides == contiguous_strides(&self.shape)
    }
}

/// The mapping from an array's multi-index to its buffer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct View {
    layouts: Vec<Layout>,
}

impl View {
    pub fn contiguous(shape: &[usize]) -> View {
        View {
            layouts: vec![Layout::contiguous(shape)],
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.last().shape
    }

    fn last(&self) -> &Layout {
        self.layouts.last().expect("a view has a layout")
    }

    fn last_mut(&mut self) -> &mut Layout {
        self.layouts.last_mut().expect("a view has a layout")
    }

    /// True when element `i` of the array is element `i` of the buffer.
    pub fn is_contiguous(&self) -> bool {
        self.layouts.len() == 1 && self.last().is_contiguous()
    }

    pub fn has_mask(&self) -> bool {
        self.layouts.iter().any(|l| l.mask.is_some())
    }

    pub fn reshape(&self, shape: &[usize]) -> View {
        let mut v = self.clone();
        let last = v.last_mut();
        if last.mask.is_none() && last.strides == contiguous_strides(&last.shape) {
            let offset = last.offset;
            *last = Layout::contiguous(shape);
            last.offset = offset;
        } else {
            v.layouts.push(Layout::contiguous(shape));
        }
        v
    }

    pub fn permute(&self, perm: &[usize]) -> View {
        let mut v = self.clone();
        let l = v.last_mut();
        l.shape = perm.iter().map(|&p| l.shape[p]).collect();
        l.strides = perm.iter().map(|&p| l.strides[p]).collect();
        if let Some(m) = &l.mask {
            l.mask = Some(perm.iter().map(|&p| m[p]).collect());
        }
        v
    }

    /// Broadcasts axes of size 1 to `shape` (same rank).
    pub fn expand(&self, shape: &[usize]) -> View {
        let mut v = self.clone();
        let l = v.last_mut();
        for (d, &n) in shape.iter().enumerate() {
            if l.shape[d] != n {
                debug_assert_eq!(l.shape[d], 1);
                l.strides[d] = 0;
                if let Some(m) = &mut l.mask {
                    m[d] = if m[d] == (0, 1) { (0, n) } else { (0, 0) };
                }
            }
        }
        l.shape = shape.to_vec();
        v
    }

    /// Takes `start, start+step, ...` (`len` elements) along `axis`;
    /// `step` may be negative (flip is `start = n-1, step = -1`).
    pub fn stride_slice(&self, axis: usize, start: usize, len: usize, step: isize) -> View {
        let mut v = self.clone();
        let l = v.last_mut();
        l.offset += start as isize * l.strides[axis];
        l.strides[axis] *= step;
        l.shape[axis] = len;
        if len == 1 {
            l.strides[axis] = 0;
        }
        if let Some(m) = &mut l.mask {
            let (lo, hi) = m[axis];
            // New index i is valid where lo <= start + i*step < hi.
            let valid = (0..len).filter(|&i| {
                let p = start as isize + i as isize * step;
                p >= lo as isize && p < hi as isize
            });
            let (mut a, mut b) = (usize::MAX, 0);
            for i in valid {
                a = a.min(i);
                b = b.max(i + 1);
            }
            m[axis] = if a == usize::MAX { (0, 0) } else { (a, b) };
        }
        v
    }

    /// Pads axis `axis` with `before` and `after` masked-out elements.
    pub fn pad(&self, axis: usize, before: usize, after: usize) -> View {
        let mut v = self.clone();
        let l = v.last_mut();
        let n = l.shape[axis];
        let rank = l.shape.len();
        l.offset -= before as isize * l.strides[axis];
        l.shape[axis] = n + before + after;
        let mask = l.mask.get_or_insert_with(|| {
            let mut m: Vec<(usize, usize)> = Vec::with_capacity(rank);
            for d in 0..rank {
                m.push((0, if d == axis { n } else { l.shape[d] }));
            }
            m
        });
        let (lo, hi) = mask[axis];
        mask[axis] = (lo + before, hi + before);
        v
    }

    /// Where element 0 of the innermost layout sits in the buffer (a
    /// slice's start); [`View::index`] may take it as a kernel value.
    pub fn buffer_offset(&self) -> isize {
        self.layouts[0].offset
    }

    /// Emits the buffer index of the element at `idx` (one i32 value per
    /// axis), and the validity condition when the view is masked. `base`,
    /// when given, stands for [`View::buffer_offset`] (a value computed in
    /// the kernel instead of a constant).
    pub fn index(
        &self,
        b: &mut KernelBuilder,
        idx: &[Val],
        base: Option<Val>,
    ) -> (Val, Option<Val>) {
        let mut idx = idx.to_vec();
        let mut valid: Option<Val> = None;
        let mut linear = b.i32(0);
        for (k, l) in self.layouts.iter().enumerate().rev() {
            if let Some(mask) = &l.mask {
                for (d, &(lo, hi)) in mask.iter().enumerate() {
                    if (lo, hi) == (0, l.shape[d]) {
                        continue;
                    }
                    let ok = in_range(b, idx[d], lo, hi);
                    valid = Some(and(b, valid, ok));
                }
            }
            linear = match base {
                Some(v) if k == 0 => v,
                _ => b.i32(l.offset as i32),
            };
            for (d, &s) in l.strides.iter().enumerate() {
                if s != 0 {
                    let term = mul_const(b, idx[d], s as i32);
                    linear = add(b, linear, term);
                }
            }
            if k > 0 {
                idx = unravel(b, linear, &self.layouts[k - 1].shape);
            }
        }
        (linear, valid)
    }
}
