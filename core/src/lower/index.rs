//! Index arithmetic: how each movement op maps the multi-index of an
//! output element to the multi-index of its operand element, as kernel
//! values — one function per op. Jit's fusion emits exactly these for the
//! movement it inlines, and eager's kernels (concatenate, interior
//! padding, gather) read through them. Eager's views compose the same maps
//! symbolically (strides, an offset and masks, so a chain of movement
//! folds into one affine load) and emit with the helpers below; a test
//! checks the two agree op by op.

use oxjax_abi::{KernelBuilder, Op, Scalar, Val};

fn is_const(b: &KernelBuilder, v: Val, value: i32) -> bool {
    b.constant_value(v) == Some(Scalar::I32(value))
}

/// `a + b` with the obvious folds of a zero.
pub(crate) fn add(b: &mut KernelBuilder, x: Val, y: Val) -> Val {
    if is_const(b, x, 0) {
        return y;
    }
    if is_const(b, y, 0) {
        return x;
    }
    b.op(Op::ADD, &[x, y])
}

/// `x + c` for a constant `c`, folding 0.
pub(crate) fn add_const(b: &mut KernelBuilder, x: Val, c: i32) -> Val {
    let c = b.i32(c);
    add(b, x, c)
}

/// `x * c` for a constant `c`, folding 0 and 1.
pub(crate) fn mul_const(b: &mut KernelBuilder, x: Val, c: i32) -> Val {
    match c {
        0 => b.i32(0),
        1 => x,
        _ => {
            let c = b.i32(c);
            b.op(Op::MUL, &[x, c])
        }
    }
}

/// `lo <= i < hi`.
pub(crate) fn in_range(b: &mut KernelBuilder, i: Val, lo: usize, hi: usize) -> Val {
    let lo = b.i32(lo as i32);
    let hi = b.i32(hi as i32);
    let ge = b.op(Op::GE, &[i, lo]);
    let lt = b.op(Op::LT, &[i, hi]);
    b.op(Op::AND, &[ge, lt])
}

/// `all && ok`, where `None` is true.
pub(crate) fn and(b: &mut KernelBuilder, all: Option<Val>, ok: Val) -> Val {
    match all {
        Some(v) => b.op(Op::AND, &[v, ok]),
        None => ok,
    }
}

/// The multi-index of linear index `linear` in a row-major `shape`.
pub(crate) fn unravel(b: &mut KernelBuilder, linear: Val, shape: &[usize]) -> Vec<Val> {
    let mut out = vec![linear; shape.len()];
    let mut inner = 1usize;
    for d in (0..shape.len()).rev() {
        out[d] = if shape[d] == 1 {
            b.i32(0)
        } else {
            let mut v = linear;
            if inner != 1 {
                let c = b.i32(inner as i32);
                v = b.op(Op::IDIV, &[v, c]);
            }
            if d != 0 {
                let c = b.i32(shape[d] as i32);
                v = b.op(Op::REM, &[v, c]);
            }
            v
        };
        inner *= shape[d];
    }
    out
}

/// The row-major linear index of multi-index `idx` in `shape`.
pub(crate) fn ravel(b: &mut KernelBuilder, idx: &[Val], shape: &[usize]) -> Val {
    let mut lin = b.i32(0);
    let mut stride = 1usize;
    for d in (0..shape.len()).rev() {
        if shape[d] != 1 {
            let t = mul_const(b, idx[d], stride as i32);
            lin = add(b, lin, t);
        }
        stride *= shape[d];
    }
    lin
}

/// Reads a masked or unmasked element: `value` where valid, `fill` elsewhere.
pub(crate) fn masked(b: &mut KernelBuilder, value: Val, valid: Option<Val>, fill: Scalar) -> Val {
    match valid {
        None => value,
        Some(ok) => {
            let f = b.constant(fill.cast(value.dtype));
            b.select(ok, value, f)
        }
    }
}

// ---- one function per movement op ------------------------------------

/// `reshape`: the same row-major position in the operand's shape.
pub(crate) fn reshape(
    b: &mut KernelBuilder,
    idx: &[Val],
    out_shape: &[usize],
    in_shape: &[usize],
) -> Vec<Val> {
    let lin = ravel(b, idx, out_shape);
    unravel(b, lin, in_shape)
}

/// `transpose`: output axis `i` is operand axis `perm[i]`.
pub(crate) fn transpose(idx: &[Val], perm: &[usize]) -> Vec<Val> {
    let mut src = idx.to_vec();
    for (i, &p) in perm.iter().enumerate() {
        src[p] = idx[i];
    }
    src
}

/// `broadcast_to`: leading new axes are dropped, axes of length 1 read 0.
pub(crate) fn broadcast(b: &mut KernelBuilder, idx: &[Val], in_shape: &[usize]) -> Vec<Val> {
    let lead = idx.len() - in_shape.len();
    (0..in_shape.len())
        .map(|d| {
            if in_shape[d] == 1 {
                b.i32(0)
            } else {
                idx[lead + d]
            }
        })
        .collect()
}

/// `slice` (`(start, len, step)` per axis, a positive step): `start + i*step`.
pub(crate) fn slice(
    b: &mut KernelBuilder,
    idx: &[Val],
    spec: &[(usize, usize, usize)],
) -> Vec<Val> {
    spec.iter()
        .zip(idx)
        .map(|(&(start, _, step), &i)| {
            let m = mul_const(b, i, step as i32);
            add_const(b, m, start as i32)
        })
        .collect()
}

/// `flip` of `axes`: `n - 1 - i`.
pub(crate) fn flip(
    b: &mut KernelBuilder,
    idx: &[Val],
    in_shape: &[usize],
    axes: &[usize],
) -> Vec<Val> {
    let mut src = idx.to_vec();
    for &d in axes {
        let last = b.i32(in_shape[d] as i32 - 1);
        src[d] = b.op(Op::SUB, &[last, idx[d]]);
    }
    src
}

/// `pad` by `(low, high, interior)` per axis: the operand index and the
/// condition that it is an operand element (not padding). Edge padding is
/// a shift and a range check; interior padding divides by the stride.
pub(crate) fn pad(
    b: &mut KernelBuilder,
    idx: &[Val],
    widths: &[(usize, usize, usize)],
    in_shape: &[usize],
) -> (Vec<Val>, Option<Val>) {
    let mut src = idx.to_vec();
    let mut valid = None;
    for (d, &(lo, hi, int)) in widths.iter().enumerate() {
        if (lo, hi, int) == (0, 0, 0) {
            continue;
        }
        let n = in_shape[d];
        let ok = if int == 0 {
            src[d] = add_const(b, idx[d], -(lo as i32));
            in_range(b, idx[d], lo, lo + n)
        } else {
            let p = add_const(b, idx[d], -(lo as i32));
            let zero = b.i32(0);
            let stride = b.i32(int as i32 + 1);
            let nc = b.i32(n as i32);
            let q = b.op(Op::IDIV, &[p, stride]);
            let r = b.op(Op::REM, &[p, stride]);
            let c1 = b.op(Op::GE, &[p, zero]);
            let c2 = b.op(Op::EQ, &[r, zero]);
            let c3 = b.op(Op::LT, &[q, nc]);
            let c12 = b.op(Op::AND, &[c1, c2]);
            src[d] = q;
            b.op(Op::AND, &[c12, c3])
        };
        valid = Some(and(b, valid, ok));
    }
    (src, valid)
}

/// The non-empty pieces of a concatenation, from their lengths along the
/// axis: `(operand, offset)`, last to first (the order
/// [`concatenate`](super::concatenate) reads them in).
pub(crate) fn concat_pieces(lens: &[usize]) -> Vec<(usize, usize)> {
    let mut offsets = Vec::with_capacity(lens.len());
    let mut acc = 0;
    for &n in lens {
        offsets.push(acc);
        acc += n;
    }
    (0..lens.len())
        .rev()
        .filter(|&k| lens[k] != 0)
        .map(|k| (k, offsets[k]))
        .collect()
}

/// `concatenate` along `axis`: the index into the piece starting at `offset`.
pub(crate) fn concat_piece(
    b: &mut KernelBuilder,
    idx: &[Val],
    axis: usize,
    offset: usize,
) -> Vec<Val> {
    let mut src = idx.to_vec();
    let o = b.i32(offset as i32);
    src[axis] = b.op(Op::SUB, &[idx[axis], o]);
    src
}

/// `x.shape[..axis] ++ idx ++ x.shape[axis+1..]`.
pub fn gather_shape(x: &[usize], idx: &[usize], axis: usize) -> Vec<usize> {
    let mut s = x[..axis].to_vec();
    s.extend_from_slice(idx);
    s.extend_from_slice(&x[axis + 1..]);
    s
}

/// An i32 index clamped into `0..n` (JAX's clip mode).
pub(crate) fn clamp_index(b: &mut KernelBuilder, j: Val, n: usize) -> Val {
    let hi = b.i32(n as i32 - 1);
    let zero = b.i32(0);
    let j = b.op(Op::MIN, &[j, hi]);
    b.op(Op::MAX, &[j, zero])
}

/// `gather` along `axis` with an index array of rank `k`: where the
/// output element reads the index array.
pub(crate) fn gather_indices(idx: &[Val], axis: usize, k: usize) -> Vec<Val> {
    idx[axis..axis + k].to_vec()
}

/// `gather`: where the output element reads the data, given the index `j`
/// read at [`gather_indices`] (clamped into the axis of length `n`).
pub(crate) fn gather_source(
    b: &mut KernelBuilder,
    idx: &[Val],
    j: Val,
    axis: usize,
    k: usize,
    n: usize,
) -> Vec<Val> {
    let j = clamp_index(b, j, n);
    let mut src = idx[..axis].to_vec();
    src.push(j);
    src.extend_from_slice(&idx[axis + k..]);
    src
}
