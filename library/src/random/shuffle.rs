//! Permutations and sampling of indices. JAX shuffles by sorting on random
//! 32-bit keys (repeated while collisions are likely); so does oxjax, with
//! the stable sort primitive and a gather, so the streams are JAX's.

use super::sample::gumbel;
use super::{split2, try_bits, try_randint, try_uniform};
use crate::error::{ErrorKind, Result, err};
use crate::primitive::or_panic;
use crate::{Array, DType};

fn iota(n: usize) -> Array {
    Array::arange(0.0, n as f64, 1.0, DType::I32)
}

/// The indices that sort the 1-D `keys` ascending, ties in index order
/// (what `lax.sort_key_val` does to an iota).
fn argsort_stable(keys: &Array) -> Array {
    crate::numpy::argsort(keys, Some(0), false)
}

/// `x[idx]` along axis 0 for i32 indices `idx` (1-D).
fn take_rows(x: &Array, idx: &Array) -> Array {
    crate::numpy::take(x, idx, Some(0))
}

/// A random permutation of `0..n` as i32 (`jax.random.permutation(key, n)`):
/// the same result as JAX.
///
/// ```
/// let p = oxjax::random::permutation(&oxjax::random::key(42), 5);
/// let mut v = p.to_vec::<i32>();
/// v.sort();
/// assert_eq!(v, [0, 1, 2, 3, 4]);
/// ```
pub fn permutation(key: &Array, n: usize) -> Array {
    or_panic(try_permutation(key, n))
}

/// [`permutation`], returning misuse as an error.
pub fn try_permutation(key: &Array, n: usize) -> Result<Array> {
    super::key_words("permutation", key)?;
    // Enough rounds that all n keys are distinct in some round with high
    // probability: ceil(3 ln n / ln(2^32 - 1)), JAX's rule.
    let rounds = (3.0 * (n.max(1) as f64).ln() / (u32::MAX as f64).ln()).ceil() as usize;
    let mut x = iota(n);
    let mut key = key.clone();
    for _ in 0..rounds {
        let (next, sub) = split2(&key);
        key = next;
        let sort_keys = try_bits(&sub, &[n], DType::U32)?;
        x = take_rows(&x, &argsort_stable(&sort_keys));
    }
    Ok(x)
}

/// `x` permuted along `axis` (`jax.random.permutation(key, x, axis)`, the
/// functional form of a shuffle): every slice along `axis` moves as a whole.
///
/// ```
/// use oxjax::{random, Array, DType};
/// let x = Array::arange(0.0, 6.0, 1.0, DType::F32).reshape(&[3, 2]);
/// let y = random::shuffle(&random::key(0), &x, 0);
/// assert_eq!(y.shape(), [3, 2]);
/// ```
pub fn shuffle(key: &Array, x: &Array, axis: isize) -> Array {
    or_panic(try_shuffle(key, x, axis))
}

/// [`shuffle`], returning misuse as an error.
pub fn try_shuffle(key: &Array, x: &Array, axis: isize) -> Result<Array> {
    let nd = x.ndim() as isize;
    if axis < -nd || axis >= nd {
        return err(
            ErrorKind::Shape,
            format!(
                "random.shuffle: axis {axis} is out of range for an array of shape {:?}",
                x.shape()
            ),
        );
    }
    let axis = if axis < 0 { axis + nd } else { axis };
    let moved = x.moveaxis(axis, 0);
    let idx = try_permutation(key, moved.shape()[0])?;
    Ok(take_rows(&moved, &idx).moveaxis(0, axis))
}

/// Random indices into `0..n` (`jax.random.choice` with an integer `a`):
/// with or without replacement, uniformly or with probabilities `p`
/// (`[n]`, need not be normalised). Uniform draws with replacement are
/// [`randint`](super::randint); without, a prefix of a [`permutation`];
/// weighted draws invert the cumulative sum, or take the top `k` of
/// Gumbel-perturbed log-probabilities when not replacing. Index an array
/// with the result to choose its elements.
///
/// ```
/// use oxjax::random;
/// let hand = random::choice(&random::key(7), 52, &[5], false, None);
/// let mut v = hand.to_vec::<i32>();
/// v.dedup();
/// assert_eq!(v.len(), 5);
/// ```
pub fn choice(key: &Array, n: usize, shape: &[usize], replace: bool, p: Option<&Array>) -> Array {
    or_panic(try_choice(key, n, shape, replace, p))
}

/// [`choice`], returning misuse as an error.
pub fn try_choice(
    key: &Array,
    n: usize,
    shape: &[usize],
    replace: bool,
    p: Option<&Array>,
) -> Result<Array> {
    let draws: usize = shape.iter().product();
    let shape_i: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
    if draws == 0 {
        return Ok(Array::zeros(shape, DType::I32));
    }
    if n == 0 {
        return err(
            ErrorKind::Value,
            "random.choice: cannot draw from an empty population (n = 0)",
        );
    }
    if !replace && draws > n {
        return err(
            ErrorKind::Shape,
            format!(
                "random.choice: cannot take {draws} samples {shape:?} from {n} without replacement"
            ),
        );
    }
    let Some(p) = p else {
        return if replace {
            try_randint(key, shape, 0, n as i64, DType::I32)
        } else {
            let perm = try_permutation(key, n)?;
            Ok(perm
                .slice(&[crate::Slice::from(0..draws as isize)])
                .reshape(&shape_i))
        };
    };
    if p.shape() != [n] {
        return err(
            ErrorKind::Shape,
            format!(
                "random.choice: p must have shape [{n}], got {:?}",
                p.shape()
            ),
        );
    }
    let dtype = if p.dtype().is_float() {
        p.dtype()
    } else {
        DType::F32
    };
    let p = p.astype(dtype);
    let ni = n as isize;
    if replace {
        // cumsum by a triangular mask; searchsorted = #{j : cum[j] < r}.
        let tri = iota(n)
            .reshape(&[1, ni])
            .less_equal(iota(n).reshape(&[ni, 1]));
        let cum = Array::where_(&tri, p.reshape(&[1, ni]), 0.0).sum(1, false);
        let total = cum.slice(&[crate::Slice::from(ni - 1..ni)]).reshape(&[]);
        let r = total * (1.0 - try_uniform(key, shape, dtype, 0.0, 1.0)?);
        let below = cum.less(r.expand_dims(-1));
        Ok(below.astype(DType::I32).sum(-1, false))
    } else {
        let g = gumbel(key, &[n], dtype)? + p.log();
        let order = argsort_stable(&(-g));
        Ok(order
            .slice(&[crate::Slice::from(0..draws as isize)])
            .reshape(&shape_i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argsort_is_stable_and_exact() {
        let k = Array::from_vec(vec![3u32, 1, 3, 0, 1], &[5]);
        assert_eq!(argsort_stable(&k).to_vec::<i32>(), [3, 1, 4, 0, 2]);
        let x = Array::from_vec(vec![-0.0f32, f32::NAN, f32::NEG_INFINITY], &[3]);
        let y = take_rows(&x, &Array::from_vec(vec![2i32, 0, 1], &[3])).to_vec::<f32>();
        assert_eq!(y[0], f32::NEG_INFINITY);
        assert!(y[1] == 0.0 && y[1].is_sign_negative());
        assert!(y[2].is_nan());
    }
}
