//! Scans and reductions with a user function: `associative_scan` (and
//! `cumlogsumexp` on it), `reduce`, `map`. Each is a composite of slices,
//! concatenations and the user's function, so every transformation
//! applies unchanged.

use super::elementwise::slice_in_dim;
use crate::Array;
use crate::primitive::or_panic;

/// `lax.associative_scan`: the inclusive scan of `elems` along `axis` with
/// an associative `f` (`f(a, b)` combines a prefix `a` with what follows
/// it), in log-depth (pairs, a scan of the pairs, then the even positions),
/// so `f` runs O(log n) times on whole slices. `reverse` scans from the
/// end.
///
/// Partial: one array (no pytrees of elements).
///
/// ```
/// use oxjax::{Array, lax, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0], &[5]);
/// let s = lax::associative_scan(|a, b| jnp::add(a, b), &x, false, 0);
/// assert_eq!(s.to_vec::<f32>(), vec![1.0, 3.0, 6.0, 10.0, 15.0]);
/// ```
pub fn associative_scan(
    f: impl Fn(&Array, &Array) -> Array,
    elems: &Array,
    reverse: bool,
    axis: isize,
) -> Array {
    let ax = or_panic(crate::primitive::axis(
        "associative_scan",
        axis,
        elems.ndim(),
    ));
    let flip = |x: &Array| x.flip(&[ax as isize]);
    if reverse {
        flip(&scan_along(&f, &flip(elems), ax))
    } else {
        scan_along(&f, elems, ax)
    }
}

fn scan_along(f: &dyn Fn(&Array, &Array) -> Array, x: &Array, ax: usize) -> Array {
    let n = x.shape()[ax];
    if n < 2 {
        return x.clone();
    }
    let s = |a: &Array, start: usize, limit: usize| slice_in_dim(a, start, limit, 2, ax);
    // Prefixes ending at the odd positions 1, 3, ...: a scan of the pairs.
    let odd = scan_along(f, &f(&s(x, 0, n - 1), &s(x, 1, n)), ax);
    let o = odd.shape()[ax];
    // The even positions 2, 4, ...: the prefix before them, then them.
    let first = slice_in_dim(x, 0, 1, 1, ax);
    let even = if n > 2 {
        let before = slice_in_dim(&odd, 0, if n.is_multiple_of(2) { o - 1 } else { o }, 1, ax);
        Array::concatenate(&[&first, &f(&before, &s(x, 2, n))], ax as isize)
    } else {
        first
    };
    // Interleave: even[0], odd[0], even[1], odd[1], ... (`odd` padded to
    // the length of `even`, the pad cut off again).
    let e = even.shape()[ax];
    let odd = if e > o {
        Array::concatenate(&[&odd, &slice_in_dim(&even, 0, 1, 1, ax)], ax as isize)
    } else {
        odd
    };
    let pairs = Array::stack(&[&even, &odd], ax as isize + 1);
    let mut shape: Vec<isize> = x.shape().iter().map(|&d| d as isize).collect();
    shape[ax] = 2 * e as isize;
    slice_in_dim(&pairs.reshape(&shape), 0, n, 1, ax)
}

/// `lax.cumlogsumexp`: `log(cumsum(exp(x)))` along `axis` without
/// overflow or underflow (an associative scan of `logaddexp`), from the end
/// when `reverse`.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![-200.0f32, 0.0, 1000.0], &[3]);
/// let y = lax::cumlogsumexp(&x, 0, false).to_vec::<f32>();
/// assert_eq!(y, vec![-200.0, 0.0, 1000.0]);
/// ```
pub fn cumlogsumexp(operand: &Array, axis: isize, reverse: bool) -> Array {
    associative_scan(|a, b| super::logaddexp(a, b), operand, reverse, axis)
}

/// `lax.reduce` with a binary `computation`: `operand` reduced over
/// `dimensions` by a pairwise tree of `computation` calls (log-depth
/// slices), then combined once with `init_value` (JAX requires it to be
/// the identity of `computation`, so where it enters does not matter).
///
/// Partial: one operand (no tuples of operands).
///
/// ```
/// use oxjax::{Array, lax, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 5.0, 3.0, 2.0, 4.0, 6.0], &[2, 3]);
/// let m = lax::reduce(&x, &Array::scalar(f32::NEG_INFINITY), |a, b| jnp::maximum(a, b), &[1]);
/// assert_eq!(m.to_vec::<f32>(), vec![5.0, 6.0]);
/// ```
pub fn reduce(
    operand: &Array,
    init_value: &Array,
    computation: impl Fn(&Array, &Array) -> Array,
    dimensions: &[usize],
) -> Array {
    let mut dims = dimensions.to_vec();
    dims.sort_unstable();
    dims.dedup();
    if let Some(&d) = dims.iter().find(|&&d| d >= operand.ndim()) {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "reduce: dimension {d} is out of range for an operand of shape {:?}",
                operand.shape()
            ),
        );
    }
    if !init_value.shape().is_empty() {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "reduce: init_value must be a scalar, got shape {:?}",
                init_value.shape()
            ),
        );
    }
    let mut x = operand.clone();
    for &d in dims.iter().rev() {
        let mut n = x.shape()[d];
        if n == 0 {
            let mut shape = x.shape().to_vec();
            shape.remove(d);
            x = init_value.astype(operand.dtype()).broadcast_to(&shape);
            continue;
        }
        while n > 1 {
            let pairs = computation(
                &slice_in_dim(&x, 0, n - 1, 2, d),
                &slice_in_dim(&x, 1, n, 2, d),
            );
            x = if !n.is_multiple_of(2) {
                Array::concatenate(&[&pairs, &slice_in_dim(&x, n - 1, n, 1, d)], d as isize)
            } else {
                pairs
            };
            n = x.shape()[d];
        }
        x = x.squeeze(&[d as isize]);
    }
    computation(
        &init_value.astype(operand.dtype()).broadcast_to(x.shape()),
        &x,
    )
}

/// `lax.map`: `f` applied to each slice of `xs` along its leading axis,
/// the results stacked (a loop unrolled at trace time: `f` is traced once
/// per slice).
///
/// Partial: one array in and out; no batch_size.
///
/// ```
/// use oxjax::{Array, lax};
/// let xs = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let s = lax::map(|x| x.sum(oxjax::Axes::All, false), &xs);
/// assert_eq!(s.to_vec::<f32>(), vec![3.0, 7.0]);
/// ```
pub fn map(f: impl Fn(&Array) -> Array, xs: &Array) -> Array {
    if xs.ndim() == 0 {
        crate::error::fail(
            crate::ErrorKind::Shape,
            "map: xs must have a leading axis to map over, got a scalar",
        );
    }
    let ys: Vec<Array> = (0..xs.shape()[0])
        .map(|i| f(&super::elementwise::index_in_dim(xs, i, 0, false)))
        .collect();
    if ys.is_empty() {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!("map: xs of shape {:?} has no slice to map over", xs.shape()),
        );
    }
    let refs: Vec<&Array> = ys.iter().collect();
    Array::stack(&refs, 0)
}
