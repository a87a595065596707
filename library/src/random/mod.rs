//! `oxjax::random`: JAX's counter-based random numbers.
//!
//! A key is a plain `u32[2]` array ([`key`]), exactly like the raw keys of
//! `jax.random.PRNGKey`; functions never mutate it: [`split`] or [`fold_in`]
//! derive new keys, and each sampler turns one key into one array. Bits come
//! from Threefry-2x32 (20 rounds) over a counter per element, composed of
//! u32 array ops, so every backend produces the same stream, eager or under
//! `jit` (where the hash fuses into one kernel).
//!
//! The streams equal JAX's default ones (`jax_threefry_partitionable = True`,
//! the default since JAX 0.5; checked against JAX 0.10.2 by
//! `library/tests/fixtures/make_random.py`): element `i` of a sample hashes the
//! counter `(hi(i), lo(i))`, [`bits`] is the xor of the two output words,
//! and floats fill the mantissa exactly as JAX's bit-cast does.
//! [`normal`], [`randint`], [`permutation`], [`uniform`], [`bernoulli`],
//! [`categorical`], [`truncated_normal`], [`exponential`], [`laplace`] and
//! [`logistic`] follow JAX's algorithms; [`gamma`] and [`beta`] have JAX's
//! distributions but not its streams (JAX rejects in a data-dependent loop;
//! oxjax draws a fixed number of candidates).
//! The samplers of `distributions` and `matrix` say in their docs which
//! kind they are: transforms of the above match JAX's streams (to ~1e-5
//! where a factorization is involved); those built on gamma, `poisson` and
//! `binomial` have JAX's distributions, tested by moments.
//!
//! ```
//! use oxjax::{random, DType};
//! let key = random::key(42);
//! let (k1, k2) = random::split2(&key);
//! let x = random::normal(&k1, &[2, 3], DType::F32);
//! let i = random::randint(&k2, &[4], 0, 10, DType::I32);
//! assert_eq!(random::bits(&key, &[2], DType::U32).to_vec::<u32>(), [2098992034, 2919706841]);
//! # let _ = (x, i);
//! ```

mod distributions;
mod matrix;
mod sample;
mod shuffle;
mod threefry;

pub use distributions::{
    binomial, cauchy, chisquare, dirichlet, double_sided_maxwell, f, generalized_normal, geometric,
    gumbel, loggamma, lognormal, maxwell, pareto, poisson, rademacher, rayleigh, t, triangular,
    try_binomial, try_dirichlet, try_gumbel, try_poisson, wald, weibull_min,
};
pub use matrix::{ball, multivariate_normal, orthogonal, try_multivariate_normal, try_orthogonal};

pub use sample::{
    bernoulli, beta, categorical, exponential, gamma, laplace, logistic, normal, truncated_normal,
    try_categorical, try_gamma, try_normal, try_truncated_normal,
};
pub use shuffle::{choice, permutation, shuffle, try_choice, try_permutation, try_shuffle};

use crate::Slice;
use crate::error::{ErrorKind, Result, err};
use crate::primitive::or_panic;
use crate::{Array, DType, Scalar};
use threefry::threefry2x32;

/// A new key from a seed: `u32[2]` holding the seed's high and low 32-bit
/// words, like `jax.random.PRNGKey(seed)`.
///
/// ```
/// let k = oxjax::random::key((7 << 32) | 5);
/// assert_eq!(k.to_vec::<u32>(), [7, 5]);
/// ```
pub fn key(seed: u64) -> Array {
    Array::from_vec(vec![(seed >> 32) as u32, seed as u32], &[2])
}

/// [`key`] under JAX's legacy name (`jax.random.PRNGKey`).
///
/// ```
/// assert_eq!(oxjax::random::prng_key(3).to_vec::<u32>(), [0, 3]);
/// ```
pub fn prng_key(seed: u64) -> Array {
    key(seed)
}

/// The raw `u32[..., 2]` words of keys (`jax.random.key_data`). oxjax keys
/// are raw already, so this checks the shape and returns them.
///
/// ```
/// use oxjax::random;
/// assert_eq!(random::key_data(&random::key(9)).to_vec::<u32>(), [0, 9]);
/// ```
pub fn key_data(keys: &Array) -> Array {
    or_panic(try_wrap("key_data", keys))
}

/// Keys from raw `u32[..., 2]` words (`jax.random.wrap_key_data`): the
/// inverse of [`key_data`], an identity on oxjax's raw keys after
/// checking the dtype and shape.
///
/// ```
/// use oxjax::{random, Array};
/// let k = random::wrap_key_data(&Array::from_vec(vec![0u32, 42], &[2]));
/// assert_eq!(random::bits(&k, &[1], oxjax::DType::U32).to_vec::<u32>(),
///            random::bits(&random::key(42), &[1], oxjax::DType::U32).to_vec::<u32>());
/// ```
pub fn wrap_key_data(data: &Array) -> Array {
    or_panic(try_wrap_key_data(data))
}

/// [`wrap_key_data`], returning misuse as an error.
pub fn try_wrap_key_data(data: &Array) -> Result<Array> {
    try_wrap("wrap_key_data", data)
}

fn try_wrap(op: &str, data: &Array) -> Result<Array> {
    if data.dtype() != DType::U32 || data.shape().last() != Some(&2) {
        return err(
            ErrorKind::DType,
            format!(
                "random.{op}: expected raw key data u32[..., 2], got {}{:?}",
                data.dtype(),
                data.shape()
            ),
        );
    }
    Ok(data.clone())
}

/// A copy of a key (`jax.random.clone`); keys are immutable values, so
/// this is the key itself, kept for API parity.
///
/// ```
/// let k = oxjax::random::key(1);
/// assert_eq!(oxjax::random::clone(&k).to_vec::<u32>(), k.to_vec::<u32>());
/// ```
pub fn clone(key: &Array) -> Array {
    key.clone()
}

/// The two words of a key, as u32 scalars; the error names `op`.
fn key_words(op: &str, key: &Array) -> Result<(Array, Array)> {
    if key.dtype() != DType::U32 || key.shape() != [2] {
        return err(
            ErrorKind::DType,
            format!(
                "random.{op}: expected a key (u32[2], from random::key or random::split), got {}{:?}",
                key.dtype(),
                key.shape()
            ),
        );
    }
    let word = |i: isize| key.slice(&[Slice::from(i..i + 1)]).reshape(&[]);
    Ok((word(0), word(1)))
}

/// Threefry of the key over the row-major element counters of `shape`
/// (JAX's `iota_2x32_shape`: high words are zero below 2^32 elements).
fn hash_shape(op: &str, key: &Array, shape: &[usize]) -> Result<(Array, Array)> {
    let (k0, k1) = key_words(op, key)?;
    let n: usize = shape.iter().product();
    if n as u64 >= 1 << 32 {
        return err(
            ErrorKind::Shape,
            format!("random.{op}: {n} elements {shape:?}; at most 2^32 - 1 are supported"),
        );
    }
    let shape_i: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
    let lo = iota_u32(n).reshape(&shape_i);
    let hi = Array::zeros(shape, DType::U32);
    Ok(threefry2x32(&k0, &k1, &hi, &lo))
}

/// `n` new keys from `key`, as a `u32[n, 2]` array (`jax.random.split`).
///
/// ```
/// let keys = oxjax::random::split(&oxjax::random::key(0), 3);
/// assert_eq!(keys.shape(), [3, 2]);
/// ```
pub fn split(key: &Array, n: usize) -> Array {
    or_panic(try_split(key, n))
}

/// [`split`], returning bad keys as an error.
pub fn try_split(key: &Array, n: usize) -> Result<Array> {
    let (a, b) = hash_shape("split", key, &[n])?;
    Ok(Array::concatenate(
        &[&a.reshape(&[n as isize, 1]), &b.reshape(&[n as isize, 1])],
        1,
    ))
}

/// Two new keys from `key` (`jax.random.split(key)` unpacked).
///
/// ```
/// let (a, b) = oxjax::random::split2(&oxjax::random::key(0));
/// assert_ne!(a.to_vec::<u32>(), b.to_vec::<u32>());
/// ```
pub fn split2(key: &Array) -> (Array, Array) {
    let keys = split(key, 2);
    (key_row(&keys, 0), key_row(&keys, 1))
}

/// `x[i]`: the sub-array at index `i` of the first axis.
pub(crate) fn index0(x: &Array, i: usize) -> Array {
    let i = i as isize;
    let mut s = vec![Slice::from(i..i + 1)];
    s.extend(std::iter::repeat_n(Slice::all(), x.ndim() - 1));
    x.slice(&s).squeeze(&[0])
}

/// Row `i` of a `u32[n, 2]` array of keys (what [`split`] returns).
///
/// ```
/// use oxjax::random;
/// let keys = random::split(&random::key(1), 4);
/// let k3 = random::key_row(&keys, 3);
/// assert_eq!(k3.shape(), [2]);
/// ```
pub fn key_row(keys: &Array, i: usize) -> Array {
    let n = keys.shape().first().copied().unwrap_or(0);
    if keys.dtype() != DType::U32 || keys.ndim() != 2 || keys.shape()[1] != 2 || i >= n {
        crate::error::fail(
            crate::ErrorKind::DType,
            format!(
                "random.key_row: row {i} of {}{:?}; expected keys u32[n, 2] (from random::split) and i < n",
                keys.dtype(),
                keys.shape()
            ),
        );
    }
    index0(keys, i)
}

/// A key derived from `key` and the integer `data` (`jax.random.fold_in`):
/// for streams indexed by step, device or example.
///
/// ```
/// use oxjax::random;
/// let k = random::fold_in(&random::key(0), 7);
/// assert_eq!(k.shape(), [2]);
/// ```
pub fn fold_in(key: &Array, data: u32) -> Array {
    or_panic(try_fold_in(key, data))
}

/// [`fold_in`], returning bad keys as an error.
pub fn try_fold_in(key: &Array, data: u32) -> Result<Array> {
    let (k0, k1) = key_words("fold_in", key)?;
    let c = |v| Array::scalar_of(Scalar::U32(v));
    let (a, b) = threefry2x32(&k0, &k1, &c(0), &c(data));
    Ok(Array::concatenate(&[&a.reshape(&[1]), &b.reshape(&[1])], 0))
}

/// Uniformly random bits (`jax.random.bits`); `dtype` must be u32.
///
/// ```
/// let b = oxjax::random::bits(&oxjax::random::key(0), &[4], oxjax::DType::U32);
/// assert_eq!(b.dtype(), oxjax::DType::U32);
/// ```
pub fn bits(key: &Array, shape: &[usize], dtype: DType) -> Array {
    or_panic(try_bits(key, shape, dtype))
}

/// [`bits`], returning misuse as an error.
pub fn try_bits(key: &Array, shape: &[usize], dtype: DType) -> Result<Array> {
    if dtype != DType::U32 {
        return err(
            ErrorKind::DType,
            format!("random.bits: dtype must be u32 (the only unsigned dtype), got {dtype}"),
        );
    }
    let (a, b) = hash_shape("bits", key, shape)?;
    Ok(a ^ b)
}

/// A scalar constant of a float dtype, rounded on the host (so no f64
/// value reaches a device without f64).
pub(crate) fn fconst(v: f64, dtype: DType) -> Array {
    Array::scalar_of(match dtype {
        DType::F64 => Scalar::F64(v),
        DType::F16 | DType::BF16 => Scalar::F64(v).cast(dtype),
        _ => Scalar::F32(v as f32),
    })
}

/// `0, 1, …, n-1` as u32.
pub(crate) fn iota_u32(n: usize) -> Array {
    Array::arange(0.0, n as f64, 1.0, DType::U32)
}

fn check_float(op: &str, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        err(
            ErrorKind::DType,
            format!("random.{op}: dtype must be a float dtype, got {dtype}"),
        )
    }
}

/// Uniform floats in [0, 1) with JAX's bit layout: the top mantissa-width
/// bits of the random bits, scaled (the same value as JAX's bit-cast of
/// `1.m` minus one).
fn unit_floats(op: &str, key: &Array, shape: &[usize], dtype: DType) -> Result<Array> {
    check_float(op, dtype)?;
    let (a, b) = hash_shape(op, key, shape)?;
    Ok(match dtype {
        DType::F64 => {
            // 64 bits = a:b; the top 52 are a (32) and the top 20 of b.
            a.astype(DType::F64) * 2f64.powi(-32) + (b >> 12).astype(DType::F64) * 2f64.powi(-52)
        }
        DType::F16 => (((a ^ b) & 0xFFFF) >> 6).astype(DType::F16) * 2f64.powi(-10),
        DType::BF16 => (((a ^ b) & 0xFFFF) >> 9).astype(DType::BF16) * 2f64.powi(-7),
        _ => ((a ^ b) >> 9).astype(DType::F32) * 2f64.powi(-23),
    })
}

/// Uniform samples in `[minval, maxval)`, computed like JAX: unit floats
/// `u`, then `max(minval, u * (maxval - minval) + minval)` in `dtype`.
pub(crate) fn uniform_between(
    op: &str,
    key: &Array,
    shape: &[usize],
    dtype: DType,
    minval: &Array,
    maxval: &Array,
) -> Result<Array> {
    let u = unit_floats(op, key, shape, dtype)?;
    let (lo, hi) = (minval.astype(dtype), maxval.astype(dtype));
    Ok(lo.maximum(u * (&hi - &lo) + &lo))
}

/// Uniform floats in `[minval, maxval)` (`jax.random.uniform`).
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let u = random::uniform(&random::key(0), &[1000], DType::F32, -1.0, 1.0);
/// assert!(u.min(Axes::All, false).item::<f32>() >= -1.0);
/// ```
pub fn uniform(key: &Array, shape: &[usize], dtype: DType, minval: f64, maxval: f64) -> Array {
    or_panic(try_uniform(key, shape, dtype, minval, maxval))
}

/// [`uniform`], returning misuse as an error.
pub fn try_uniform(
    key: &Array,
    shape: &[usize],
    dtype: DType,
    minval: f64,
    maxval: f64,
) -> Result<Array> {
    check_float("uniform", dtype)?;
    uniform_between(
        "uniform",
        key,
        shape,
        dtype,
        &fconst(minval, dtype),
        &fconst(maxval, dtype),
    )
}

/// Uniform integers in `[minval, maxval)` (`jax.random.randint`), i32 (the
/// default, `None`) or u32. Bounds are clipped to the dtype; `maxval <=
/// minval` gives `minval`. Like JAX, two words of bits per element keep
/// the modulo bias small.
///
/// ```
/// use oxjax::{random, DType};
/// let dice = random::randint(&random::key(3), &[5], 1, 7, None);
/// assert!(dice.to_vec::<i32>().iter().all(|d| (1..7).contains(d)));
/// let words = random::randint(&random::key(3), &[5], 0, 7, DType::U32);
/// assert_eq!(words.dtype(), DType::U32);
/// ```
pub fn randint(
    key: &Array,
    shape: &[usize],
    minval: i64,
    maxval: i64,
    dtype: impl Into<Option<DType>>,
) -> Array {
    or_panic(try_randint(key, shape, minval, maxval, dtype))
}

/// [`randint`], returning misuse as an error.
pub fn try_randint(
    key: &Array,
    shape: &[usize],
    minval: i64,
    maxval: i64,
    dtype: impl Into<Option<DType>>,
) -> Result<Array> {
    let dtype = dtype.into().unwrap_or(DType::I32);
    let (lo, hi) = match dtype {
        DType::I32 => (i32::MIN as i64, i32::MAX as i64),
        DType::U32 => (0, u32::MAX as i64),
        _ => {
            return err(
                ErrorKind::DType,
                format!("random.randint: dtype must be i32 or u32, got {dtype}"),
            );
        }
    };
    key_words("randint", key)?;
    let (k1, k2) = split2(key);
    let high = try_bits(&k1, shape, DType::U32)?;
    let low = try_bits(&k2, shape, DType::U32)?;
    // The span and the multiplier 2^32 mod span are host constants, with
    // XLA's `x % 0 = x` when the span wraps to zero (the full range).
    let (min, max) = (minval.clamp(lo, hi), maxval.clamp(lo, hi));
    let mut span = if max <= min { 1 } else { (max - min) as u32 };
    if maxval > hi && max > min {
        span = span.wrapping_add(1);
    }
    let rem = |a: u32| if span == 0 { a } else { a % span };
    let multiplier = rem(rem(1 << 16).wrapping_mul(rem(1 << 16)));
    let c = |v: u32| Array::scalar_of(Scalar::U32(v));
    let (s, m) = (c(span), c(multiplier));
    let offset = ((&high % &s) * &m + (&low % &s)) % &s;
    Ok(match dtype {
        DType::I32 => offset.astype(DType::I32) + Array::scalar_of(Scalar::I32(min as i32)),
        _ => offset + c(min as u32),
    })
}
