//! Samplers for continuous and discrete distributions, built on
//! [`uniform_between`] the way JAX builds them (so the streams match where
//! JAX's algorithm is loop-free).

use super::{check_float, fconst, key_words, split, split2, uniform_between};
use crate::error::{ErrorKind, Result, err};
use crate::primitive::or_panic;
use crate::{Array, AsArray, DType, Scalar};

/// The next representable value after `v` (rounded to `dtype`) toward
/// `+inf` (`up`) or `-inf`: the bounds JAX clips truncated normals to.
fn next_after(v: f64, dtype: DType, up: bool) -> f64 {
    let step = |bits: u64, neg: bool| if neg != up { bits + 1 } else { bits - 1 };
    match dtype {
        DType::F64 if v == 0.0 => f64::from_bits(1) * if up { 1.0 } else { -1.0 },
        DType::F64 => f64::from_bits(step(v.to_bits(), v < 0.0)),
        DType::F16 | DType::BF16 => {
            let h = Scalar::F64(v).cast(dtype).to_bits();
            if v == 0.0 {
                return Scalar::from_bits(dtype, 1).as_f64() * if up { 1.0 } else { -1.0 };
            }
            Scalar::from_bits(dtype, step(h, v < 0.0)).as_f64()
        }
        _ => {
            let f = v as f32;
            if f == 0.0 {
                return f32::from_bits(1) as f64 * if up { 1.0 } else { -1.0 };
            }
            f32::from_bits(step(f.to_bits() as u64, f < 0.0) as u32) as f64
        }
    }
}

/// `2^-(mantissa bits + 1)`: half an ulp of 1, JAX's `finfo.epsneg`.
pub(super) fn epsneg(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 2f64.powi(-11),
        DType::BF16 => 2f64.powi(-8),
        DType::F64 => 2f64.powi(-53),
        _ => 2f64.powi(-24),
    }
}

/// The smallest positive normal value (`finfo.tiny`).
pub(super) fn tiny(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 2f64.powi(-14),
        DType::BF16 => f32::MIN_POSITIVE as f64,
        DType::F64 => f64::MIN_POSITIVE,
        _ => f32::MIN_POSITIVE as f64,
    }
}

/// Uniform samples between two numbers, misuse reported as `random.{op}`.
pub(super) fn uniform_in(
    op: &str,
    key: &Array,
    shape: &[usize],
    dtype: DType,
    lo: f64,
    hi: f64,
) -> Result<Array> {
    uniform_between(
        op,
        key,
        shape,
        dtype,
        &fconst(lo, dtype),
        &fconst(hi, dtype),
    )
}

/// Giles' single-precision erfinv ("Approximating the erfinv function",
/// GPU Computing Gems, 2011): a degree-8 polynomial in `w = -log(1 - x²)`,
/// shifted, for the centre (`w < 5`) and the tails. The same evaluation
/// order as XLA's f32 `ErfInv`, so normals agree with JAX to an ulp or two.
const ERFINV_CENTRE: [f64; 9] = [
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
];
const ERFINV_TAIL: [f64; 9] = [
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
];

fn erfinv_poly(x: &Array) -> Array {
    let d = x.dtype();
    let w = -(-(x * x)).log1p();
    let centre = w.less(5.0);
    let w = Array::where_(&centre, &w - 2.5, w.sqrt() - 3.0);
    let coef = |i: usize| {
        Array::where_(
            &centre,
            fconst(ERFINV_CENTRE[i], d),
            fconst(ERFINV_TAIL[i], d),
        )
    };
    let mut p = coef(0);
    for i in 1..9 {
        p = coef(i) + p * &w;
    }
    p * x
}

/// The inverse error function, elementwise on a float array: the f32
/// polynomial (f16 computes in f32); for f64 three Newton steps refine it,
/// each solving `erfc(y) = 1 - |x|` so the tails keep full precision.
pub(crate) fn erfinv(x: &Array) -> Array {
    let inf = f64::INFINITY;
    match x.dtype() {
        DType::F64 => {
            let a = x.abs();
            let mut y = erfinv_poly(&a);
            let two_over_sqrt_pi = 2.0 / std::f64::consts::PI.sqrt();
            for _ in 0..3 {
                let residual = (1.0 - &a) - y.erfc();
                y = &y - residual / ((-(&y * &y)).exp() * two_over_sqrt_pi);
            }
            let y = Array::where_(&a.equal(1.0), inf, &y);
            Array::where_(&x.less(0.0), -&y, y)
        }
        d @ (DType::F16 | DType::BF16) => erfinv(&x.astype(DType::F32)).astype(d),
        _ => Array::where_(&x.abs().equal(1.0), x * inf, erfinv_poly(x)),
    }
}

/// Standard normal samples (`jax.random.normal`): `√2 · erfinv(u)` for `u`
/// uniform in `(-1, 1)`.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let z = random::normal(&random::key(0), &[10_000], DType::F32);
/// assert!(z.mean(Axes::All, false).item::<f32>().abs() < 0.05);
/// ```
pub fn normal(key: &Array, shape: &[usize], dtype: DType) -> Array {
    or_panic(try_normal(key, shape, dtype))
}

/// [`normal`], returning misuse as an error.
pub fn try_normal(key: &Array, shape: &[usize], dtype: DType) -> Result<Array> {
    check_float("normal", dtype)?;
    let lo = fconst(-1.0 + epsneg(dtype), dtype);
    let u = uniform_between("normal", key, shape, dtype, &lo, &fconst(1.0, dtype))?;
    Ok(erfinv(&u) * fconst(std::f64::consts::SQRT_2, dtype))
}

/// Normal samples conditioned on `lower < x < upper`
/// (`jax.random.truncated_normal`): inverse-CDF sampling between
/// `erf(lower/√2)` and `erf(upper/√2)`, clipped inside the open interval.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let z = random::truncated_normal(&random::key(0), -1.0, 2.0, &[1000], DType::F32);
/// assert!(z.min(Axes::All, false).item::<f32>() > -1.0);
/// ```
pub fn truncated_normal(
    key: &Array,
    lower: f64,
    upper: f64,
    shape: &[usize],
    dtype: DType,
) -> Array {
    or_panic(try_truncated_normal(key, lower, upper, shape, dtype))
}

/// [`truncated_normal`], returning misuse as an error.
pub fn try_truncated_normal(
    key: &Array,
    lower: f64,
    upper: f64,
    shape: &[usize],
    dtype: DType,
) -> Result<Array> {
    check_float("truncated_normal", dtype)?;
    let sqrt2 = fconst(std::f64::consts::SQRT_2, dtype);
    let a = (fconst(lower, dtype) / &sqrt2).erf();
    let b = (fconst(upper, dtype) / &sqrt2).erf();
    let u = uniform_between("truncated_normal", key, shape, dtype, &a, &b)?;
    let out = erfinv(&u) * &sqrt2;
    let lo = fconst(next_after(lower, dtype, true), dtype);
    let hi = fconst(next_after(upper, dtype, false), dtype);
    Ok(out.maximum(&lo).minimum(&hi))
}

/// True with probability `p` (`jax.random.bernoulli`): `uniform < p` in f32.
/// `p` is a number or an array broadcasting to `shape`.
///
/// ```
/// use oxjax::random;
/// let coin = random::bernoulli(&random::key(0), 0.5, &[8]);
/// assert_eq!(coin.dtype(), oxjax::DType::BOOL);
/// ```
pub fn bernoulli(key: &Array, p: impl AsArray, shape: &[usize]) -> Array {
    let p = p.as_array();
    let dtype = if p.dtype().is_float() && !p.is_weak() {
        p.dtype()
    } else {
        DType::F32
    };
    let u = or_panic(uniform_between(
        "bernoulli",
        key,
        shape,
        dtype,
        &fconst(0.0, dtype),
        &fconst(1.0, dtype),
    ));
    u.less(p.astype(dtype))
}

/// `-log(-log(u))`, `u` uniform in `[tiny, 1)`: Gumbel noise as JAX's
/// default ("low") mode draws it.
pub(crate) fn gumbel(key: &Array, shape: &[usize], dtype: DType) -> Result<Array> {
    let u = uniform_between(
        "gumbel",
        key,
        shape,
        dtype,
        &fconst(tiny(dtype), dtype),
        &fconst(1.0, dtype),
    )?;
    Ok(-(-u.log()).log())
}

/// Samples class indices (i32) from unnormalised log-probabilities along
/// `axis` (`jax.random.categorical`, with replacement), by the Gumbel-max
/// trick. `shape` defaults to the batch shape (`logits` without `axis`); a
/// longer shape draws several samples per batch entry.
///
/// ```
/// use oxjax::{random, Array};
/// let logits = Array::from_vec(vec![0.0f32, 10.0, 0.0], &[3]);
/// assert_eq!(random::categorical(&random::key(0), &logits, -1, None).item::<i32>(), 1);
/// ```
pub fn categorical(key: &Array, logits: &Array, axis: isize, shape: Option<&[usize]>) -> Array {
    or_panic(try_categorical(key, logits, axis, shape))
}

/// [`categorical`], returning misuse as an error.
pub fn try_categorical(
    key: &Array,
    logits: &Array,
    axis: isize,
    shape: Option<&[usize]>,
) -> Result<Array> {
    let nd = logits.ndim() as isize;
    if nd == 0 || axis < -nd || axis >= nd {
        return err(
            ErrorKind::Shape,
            format!(
                "random.categorical: axis {axis} is out of range for logits of shape {:?}",
                logits.shape()
            ),
        );
    }
    let dtype = if logits.dtype().is_float() {
        logits.dtype()
    } else {
        DType::F32
    };
    let axis = if axis >= 0 { axis - nd } else { axis };
    let pos = (axis + nd) as usize;
    let mut batch = logits.shape().to_vec();
    let classes = batch.remove(pos);
    let shape = shape.unwrap_or(&batch);
    if shape.len() < batch.len() || shape[shape.len() - batch.len()..] != batch[..] {
        return err(
            ErrorKind::Shape,
            format!(
                "random.categorical: shape {shape:?} must end with the batch shape {batch:?} of logits {:?}",
                logits.shape()
            ),
        );
    }
    let prefix = shape.len() - batch.len();
    let mut noise_shape = shape.to_vec();
    noise_shape.insert(prefix + pos, classes);
    let noise = gumbel(key, &noise_shape, dtype)?;
    let mut l = logits.astype(dtype);
    for _ in 0..prefix {
        l = l.expand_dims(0);
    }
    Ok((noise + l).argmax(Some(axis)))
}

/// Exponential samples with rate 1 (`jax.random.exponential`): `-log1p(-u)`.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let e = random::exponential(&random::key(0), &[100], DType::F32);
/// assert!(e.min(Axes::All, false).item::<f32>() >= 0.0);
/// ```
pub fn exponential(key: &Array, shape: &[usize], dtype: DType) -> Array {
    let u = or_panic(uniform_in("exponential", key, shape, dtype, 0.0, 1.0));
    -(-u).log1p()
}

/// Laplace samples with scale 1 (`jax.random.laplace`).
///
/// ```
/// let x = oxjax::random::laplace(&oxjax::random::key(0), &[4], oxjax::DType::F32);
/// assert_eq!(x.shape(), [4]);
/// ```
pub fn laplace(key: &Array, shape: &[usize], dtype: DType) -> Array {
    let u = or_panic(uniform_in(
        "laplace",
        key,
        shape,
        dtype,
        -1.0 + epsneg(dtype),
        1.0,
    ));
    u.sign() * (-u.abs()).log1p()
}

/// Standard logistic samples (`jax.random.logistic`): `log(u) - log1p(-u)`.
///
/// ```
/// let x = oxjax::random::logistic(&oxjax::random::key(0), &[4], oxjax::DType::F32);
/// assert_eq!(x.shape(), [4]);
/// ```
pub fn logistic(key: &Array, shape: &[usize], dtype: DType) -> Array {
    let u = or_panic(uniform_in("logistic", key, shape, dtype, tiny(dtype), 1.0));
    u.log() - (-&u).log1p()
}

/// Candidates per element in [`gamma`]: Marsaglia–Tsang accepts each with
/// probability above 0.95, so all 12 fail with probability below 1e-15.
const GAMMA_CANDIDATES: usize = 12;

/// Gamma samples with shape `alpha` and scale 1 (`jax.random.gamma`'s
/// distribution). Marsaglia and Tsang's method with a fixed number of
/// candidates per element (the first accepted one wins), so it is loop-free
/// and jit-friendly; `alpha < 1` samples `alpha + 1` and multiplies by
/// `u^(1/alpha)`. `alpha` is a number or an array broadcasting to `shape`.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let g = random::gamma(&random::key(0), 2.0, &[4000], DType::F32);
/// assert!((g.mean(Axes::All, false).item::<f32>() - 2.0).abs() < 0.15);
/// ```
pub fn gamma(key: &Array, alpha: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    or_panic(try_gamma(key, alpha, shape, dtype))
}

/// [`gamma`], returning misuse as an error.
pub fn try_gamma(key: &Array, alpha: impl AsArray, shape: &[usize], dtype: DType) -> Result<Array> {
    let (out, ub, boosted, alpha) = gamma_core("gamma", key, alpha, shape, dtype)?;
    let boost = Array::where_(&boosted, ub.power(alpha.reciprocal()), 1.0);
    Ok(out * boost)
}

/// Gamma samples as `(x, log_boost)` with `log(sample) = log(x) + log_boost`,
/// for samplers that work in log space (`loggamma`, `dirichlet`).
pub(super) fn gamma_parts(
    op: &str,
    key: &Array,
    alpha: impl AsArray,
    shape: &[usize],
    dtype: DType,
) -> Result<(Array, Array)> {
    let (out, ub, boosted, alpha) = gamma_core(op, key, alpha, shape, dtype)?;
    Ok((out, Array::where_(&boosted, ub.log() / alpha, 0.0)))
}

/// Whether an array of shape `from` broadcasts to `to`.
pub(super) fn broadcasts(from: &[usize], to: &[usize]) -> bool {
    from.len() <= to.len()
        && from
            .iter()
            .rev()
            .zip(to.iter().rev())
            .all(|(a, s)| a == s || *a == 1)
}

/// Marsaglia–Tsang for `max(alpha, alpha + 1)`: the samples, the uniform
/// draws `ub` that boost `alpha < 1`, the mask of boosted elements and
/// `alpha` broadcast to `shape`.
fn gamma_core(
    op: &str,
    key: &Array,
    alpha: impl AsArray,
    shape: &[usize],
    dtype: DType,
) -> Result<(Array, Array, Array, Array)> {
    check_float(op, dtype)?;
    key_words(op, key)?;
    let alpha = alpha.as_array().astype(dtype);
    if !broadcasts(alpha.shape(), shape) {
        return err(
            ErrorKind::Shape,
            format!(
                "random.{op}: alpha of shape {:?} does not broadcast to {shape:?}",
                alpha.shape()
            ),
        );
    }
    let alpha = alpha.broadcast_to(shape);
    let keys = split(key, 3);
    let row = |i| super::key_row(&keys, i);
    let mut cand_shape = vec![GAMMA_CANDIDATES];
    cand_shape.extend_from_slice(shape);
    let z = try_normal(&row(0), &cand_shape, dtype)?;
    let u = super::try_uniform(&row(1), &cand_shape, dtype, 0.0, 1.0)?;
    let boosted = alpha.less(1.0);
    let a = Array::where_(&boosted, &alpha + 1.0, &alpha);
    let d = &a - 1.0 / 3.0;
    let c = (&d * 9.0).rsqrt();
    let v = (&z * &c + 1.0).power(3.0);
    let log_ratio = &z * &z * 0.5 + &d - &d * &v + &d * v.maximum(tiny(dtype)).log();
    let accept = v.greater(0.0) & u.log().less(&log_ratio);
    let cand = &d * &v;
    // Walk candidates from last to first so the first accepted one wins;
    // the fallback (all rejected) is the mode-ish value `d`.
    let mut out = d.clone();
    for i in (0..GAMMA_CANDIDATES).rev() {
        let at = |x: &Array| super::index0(x, i);
        out = Array::where_(&at(&accept), at(&cand), out);
    }
    let ub = super::try_uniform(&row(2), shape, dtype, 0.0, 1.0)?;
    Ok((out, ub, boosted, alpha))
}

/// Beta(a, b) samples (`jax.random.beta`'s distribution): `x / (x + y)`
/// with `x ~ Gamma(a)`, `y ~ Gamma(b)`.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let b = random::beta(&random::key(0), 2.0, 5.0, &[4000], DType::F32);
/// assert!((b.mean(Axes::All, false).item::<f32>() - 2.0 / 7.0).abs() < 0.02);
/// ```
pub fn beta(key: &Array, a: impl AsArray, b: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    let (ka, kb) = split2(key);
    let x = gamma(&ka, a, shape, dtype);
    let y = gamma(&kb, b, shape, dtype);
    &x / (&x + &y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_after_steps_one_ulp() {
        assert_eq!(next_after(1.0, DType::F32, true), 1.0 + f32::EPSILON as f64);
        assert_eq!(
            next_after(-1.0, DType::F32, true),
            -1.0 + f32::EPSILON as f64 / 2.0
        );
        assert_eq!(next_after(2.0, DType::F64, false), 2.0 - f64::EPSILON);
        assert_eq!(
            next_after(0.0, DType::F32, false),
            -(f32::from_bits(1) as f64)
        );
        assert_eq!(next_after(1.0, DType::F16, true), 1.0 + 2f64.powi(-10));
    }

    #[test]
    fn erfinv_inverts_erf() {
        let xs = vec![-0.999999f64, -0.9, -0.3, 0.0, 0.2, 0.75, 0.99, 0.9999999999];
        let x = Array::from_vec(xs.clone(), &[xs.len()]);
        let y = erfinv(&x).erf().to_vec::<f64>();
        for (a, b) in xs.iter().zip(&y) {
            assert!((a - b).abs() <= 1e-15, "erf(erfinv({a})) = {b}");
        }
        let x32 = x.astype(DType::F32);
        let y32 = erfinv(&x32).astype(DType::F64).erf().to_vec::<f64>();
        for (a, b) in x32.to_vec::<f32>().iter().zip(&y32) {
            assert!((*a as f64 - b).abs() <= 2e-7, "erf(erfinv32({a})) = {b}");
        }
        let edge = Array::from_vec(vec![1.0f64, -1.0], &[2]);
        assert_eq!(
            erfinv(&edge).to_vec::<f64>(),
            [f64::INFINITY, f64::NEG_INFINITY]
        );
    }
}
