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

/// The views against the per-op index maps of `index`: for chains of
/// movement ops, every element of the result reads the same base element
/// (or is padding in both), evaluated by the reference interpreter.
#[cfg(test)]
mod tests {
    use super::super::index::{and, ravel};
    use super::super::movement;
    use super::View;
    use oxjax_abi::{KernelBuilder, Val};

    #[derive(Clone, Debug)]
    enum Move {
        Reshape(Vec<usize>),
        Transpose(Vec<usize>),
        /// To this shape (new leading axes, axes of length 1 stretched).
        Broadcast(Vec<usize>),
        Slice(Vec<(usize, usize, usize)>),
        Flip(Vec<usize>),
        Pad(Vec<(usize, usize)>),
    }

    fn shape_after(s: &[usize], m: &Move) -> Vec<usize> {
        match m {
            Move::Reshape(t) | Move::Broadcast(t) => t.clone(),
            Move::Transpose(p) => p.iter().map(|&d| s[d]).collect(),
            Move::Slice(spec) => spec.iter().map(|&(_, len, _)| len).collect(),
            Move::Flip(_) => s.to_vec(),
            Move::Pad(w) => s.iter().zip(w).map(|(&n, &(lo, hi))| n + lo + hi).collect(),
        }
    }

    /// Runs a kernel of `size` elements writing `value`; the i32 results.
    fn run(mut b: KernelBuilder, value: Val, size: usize) -> Vec<i32> {
        b.output(value);
        let out = oxjax_reference::run_kernel(&b.finish(size, 0), &[]).expect("runs");
        out[0]
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    /// The base element each result element reads, -1 for padding.
    fn finish(mut b: KernelBuilder, lin: Val, valid: Option<Val>, size: usize) -> Vec<i32> {
        let v = match valid {
            Some(ok) => {
                let none = b.i32(-1);
                b.select(ok, lin, none)
            }
            None => lin,
        };
        run(b, v, size)
    }

    fn through_view(base: &[usize], moves: &[Move]) -> (Vec<usize>, Vec<i32>) {
        let mut v = View::contiguous(base);
        for m in moves {
            let s = v.shape().to_vec();
            v = match m {
                Move::Reshape(t) => v.reshape(t),
                Move::Transpose(p) => v.permute(p),
                Move::Broadcast(t) => {
                    let mut padded = vec![1; t.len() - s.len()];
                    padded.extend_from_slice(&s);
                    v.reshape(&padded).expand(t)
                }
                Move::Slice(spec) => spec.iter().enumerate().fold(v, |v, (d, &(st, len, step))| {
                    v.stride_slice(d, st, len, step as isize)
                }),
                Move::Flip(axes) => axes.iter().fold(v, |v, &d| match s[d] {
                    n if n > 1 => v.stride_slice(d, n - 1, n, -1),
                    _ => v,
                }),
                Move::Pad(w) => w
                    .iter()
                    .enumerate()
                    .fold(v, |v, (d, &(lo, hi))| match lo + hi {
                        0 => v,
                        _ => v.pad(d, lo, hi),
                    }),
            };
        }
        let shape = v.shape().to_vec();
        let size = shape.iter().product();
        let mut b = KernelBuilder::new();
        let g = b.gidx();
        let idx = super::unravel(&mut b, g, &shape);
        let (lin, valid) = v.index(&mut b, &idx, None);
        (shape, finish(b, lin, valid, size))
    }

    fn through_maps(base: &[usize], moves: &[Move]) -> Vec<i32> {
        let mut shapes = vec![base.to_vec()];
        for m in moves {
            shapes.push(shape_after(shapes.last().unwrap(), m));
        }
        let out = shapes.last().unwrap().clone();
        let mut b = KernelBuilder::new();
        let g = b.gidx();
        let mut idx = super::unravel(&mut b, g, &out);
        let mut valid = None;
        for (k, m) in moves.iter().enumerate().rev() {
            let (s_in, s_out) = (&shapes[k], &shapes[k + 1]);
            idx = match m {
                Move::Reshape(_) => movement::reshape(&mut b, &idx, s_out, s_in),
                Move::Transpose(p) => movement::transpose(&idx, p),
                Move::Broadcast(_) => movement::broadcast(&mut b, &idx, s_in),
                Move::Slice(spec) => movement::slice(&mut b, &idx, spec),
                Move::Flip(axes) => movement::flip(&mut b, &idx, s_in, axes),
                Move::Pad(w) => {
                    let w: Vec<_> = w.iter().map(|&(lo, hi)| (lo, hi, 0)).collect();
                    let (src, ok) = movement::pad(&mut b, &idx, &w, s_in);
                    if let Some(ok) = ok {
                        valid = Some(and(&mut b, valid, ok));
                    }
                    src
                }
            };
        }
        let lin = ravel(&mut b, &idx, base);
        finish(b, lin, valid, out.iter().product())
    }

    /// A random movement op valid on `s` (a small LCG drives the choices).
    fn random_move(s: &[usize], r: &mut impl FnMut(usize) -> usize) -> Move {
        let rank = s.len();
        let size: usize = s.iter().product();
        loop {
            match r(7) {
                0 => return Move::Reshape(vec![size]),
                1 if rank >= 2 => {
                    let d = r(rank - 1);
                    let mut t = s[..d].to_vec();
                    t.push(s[d] * s[d + 1]);
                    t.extend_from_slice(&s[d + 2..]);
                    return Move::Reshape(t);
                }
                2 if (1..4).contains(&rank) => {
                    let d = r(rank);
                    if s[d].is_multiple_of(2) && s[d] > 2 {
                        let mut t = s[..d].to_vec();
                        t.extend([2, s[d] / 2]);
                        t.extend_from_slice(&s[d + 1..]);
                        return Move::Reshape(t);
                    }
                }
                3 if rank >= 2 => {
                    let mut p: Vec<usize> = (0..rank).collect();
                    p.rotate_left(1 + r(rank - 1));
                    if r(2) == 0 {
                        p.swap(0, rank - 1);
                    }
                    return Move::Transpose(p);
                }
                4 if size * 3 <= 3000 && rank < 4 => {
                    let mut t = vec![3];
                    t.extend(s.iter().map(|&n| if n == 1 { 2 } else { n }));
                    return Move::Broadcast(t);
                }
                5 if rank >= 1 => {
                    let spec = s
                        .iter()
                        .map(|&n| {
                            let start = r(n);
                            let step = 1 + r(3);
                            let most = (n - start).div_ceil(step);
                            (start, 1 + r(most), step)
                        })
                        .collect();
                    return Move::Slice(spec);
                }
                6 if rank >= 1 && size * 4 <= 3000 => {
                    if r(2) == 0 {
                        return Move::Flip((0..rank).filter(|_| r(2) == 0).collect());
                    }
                    return Move::Pad(s.iter().map(|_| (r(3), r(2))).collect());
                }
                _ => {}
            }
        }
    }

    #[test]
    fn views_compose_the_movement_index_maps() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut r = move |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n.max(1)
        };
        for case in 0..300 {
            let base = [2 + r(4), 1 + r(4), 3];
            let mut moves = Vec::new();
            let mut s = base.to_vec();
            for _ in 0..1 + r(5) {
                let m = random_move(&s, &mut r);
                s = shape_after(&s, &m);
                moves.push(m);
            }
            let (shape, view) = through_view(&base, &moves);
            assert_eq!(shape, s, "case {case}: {moves:?}");
            let maps = through_maps(&base, &moves);
            assert_eq!(view, maps, "case {case}: base {base:?}, {moves:?}");
        }
    }
}
