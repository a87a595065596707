//! More of `jax.random`'s samplers, each a short transform of uniform,
//! normal, exponential or gamma samples. Those built on JAX's loop-free
//! algorithms reproduce its streams (checked by `tests/random.rs`); those
//! built on [`gamma`] (`chisquare`, `t`, `f`, `dirichlet`,
//! `generalized_normal`) and [`poisson`] have JAX's distributions, checked
//! by moments.

use super::sample::{epsneg, gamma_parts, uniform_in};
use super::{fconst, key_words, split2};
use crate::error::{ErrorKind, Result, err};
use crate::primitive::or_panic;
use crate::{Array, AsArray, DType};

/// Standard Gumbel samples (`jax.random.gumbel`, its default "low" mode):
/// `-log(-log(u))` with `u` uniform in `[tiny, 1)`.
///
/// Partial: no mode argument (always JAX's default "low").
///
/// ```
/// let g = oxjax::random::gumbel(&oxjax::random::key(0), &[3], oxjax::DType::F32);
/// assert_eq!(g.shape(), [3]);
/// ```
pub fn gumbel(key: &Array, shape: &[usize], dtype: DType) -> Array {
    or_panic(try_gumbel(key, shape, dtype))
}

/// [`gumbel`], returning misuse as an error.
pub fn try_gumbel(key: &Array, shape: &[usize], dtype: DType) -> Result<Array> {
    super::sample::gumbel(key, shape, dtype)
}

/// Standard Cauchy samples (`jax.random.cauchy`): `tan(π(u - ½))` with `u`
/// uniform in `[eps, 1)`.
///
/// ```
/// let c = oxjax::random::cauchy(&oxjax::random::key(0), &[3], oxjax::DType::F32);
/// assert_eq!(c.shape(), [3]);
/// ```
pub fn cauchy(key: &Array, shape: &[usize], dtype: DType) -> Array {
    let u = or_panic(uniform_in(
        "cauchy",
        key,
        shape,
        dtype,
        2.0 * epsneg(dtype),
        1.0,
    ));
    ((u - 0.5) * fconst(std::f64::consts::PI, dtype)).tan()
}

/// Random signs, -1 or +1 with equal probability, in `dtype`
/// (`jax.random.rademacher`).
///
/// ```
/// use oxjax::{random, DType};
/// let s = random::rademacher(&random::key(0), &[6], DType::I32);
/// assert!(s.to_vec::<i32>().iter().all(|v| v.abs() == 1));
/// ```
pub fn rademacher(key: &Array, shape: &[usize], dtype: DType) -> Array {
    let b = super::bernoulli(key, 0.5, shape).astype(dtype);
    (&b + &b - b.ones_like()).astype(dtype)
}

/// Pareto samples with shape `b` (`jax.random.pareto`): `exp(e / b)` for
/// standard exponential `e`. `b` is a number or a broadcasting array.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let x = random::pareto(&random::key(0), 3.0, &[100], DType::F32);
/// assert!(x.min(Axes::All, false).item::<f32>() >= 1.0);
/// ```
pub fn pareto(key: &Array, b: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    let e = super::exponential(key, shape, dtype);
    (e / b.as_array().astype(dtype)).exp()
}

/// Weibull samples (`jax.random.weibull_min`):
/// `scale · (-log1p(-u))^(1/concentration)`.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let x = random::weibull_min(&random::key(0), 2.0, 1.5, &[100], DType::F32);
/// assert!(x.min(Axes::All, false).item::<f32>() >= 0.0);
/// ```
pub fn weibull_min(
    key: &Array,
    scale: impl AsArray,
    concentration: impl AsArray,
    shape: &[usize],
    dtype: DType,
) -> Array {
    let u = or_panic(uniform_in("weibull_min", key, shape, dtype, 0.0, 1.0));
    let inv = fconst(1.0, dtype) / param(concentration, dtype);
    (-(-u).log1p()).power(inv) * param(scale, dtype)
}

/// Rayleigh samples (`jax.random.rayleigh`): `scale · √(-2 log u)`.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let x = random::rayleigh(&random::key(0), 1.0, &[100], DType::F32);
/// assert!(x.min(Axes::All, false).item::<f32>() >= 0.0);
/// ```
pub fn rayleigh(key: &Array, scale: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    let u = or_panic(uniform_in("rayleigh", key, shape, dtype, 0.0, 1.0));
    param(scale, dtype) * (u.log() * fconst(-2.0, dtype)).sqrt()
}

/// Maxwell samples (`jax.random.maxwell`): the length of a standard normal
/// 3-vector, one per element of `shape`.
///
/// ```
/// let x = oxjax::random::maxwell(&oxjax::random::key(0), &[5], oxjax::DType::F32);
/// assert_eq!(x.shape(), [5]);
/// ```
pub fn maxwell(key: &Array, shape: &[usize], dtype: DType) -> Array {
    let mut s = shape.to_vec();
    s.push(3);
    let z = or_panic(super::try_normal(key, &s, dtype).map_err(|e| rename(e, "normal", "maxwell")));
    (&z * &z).sum(-1, false).sqrt()
}

/// A distribution parameter (a number or a broadcasting array) in `dtype`.
fn param(v: impl AsArray, dtype: DType) -> Array {
    v.as_array().astype(dtype)
}

/// An error of an inner sampler, reported under the caller's name.
fn rename(e: crate::Error, inner: &str, outer: &str) -> crate::Error {
    crate::Error::new(
        e.kind(),
        e.to_string()
            .replacen(&format!("random.{inner}"), &format!("random.{outer}"), 1),
    )
}

/// Double-sided Maxwell samples (`jax.random.double_sided_maxwell`): a
/// Maxwell sample with a random sign, times `scale`, plus `loc`.
///
/// ```
/// let x = oxjax::random::double_sided_maxwell(&oxjax::random::key(0), 0.0, 1.0, &[5], oxjax::DType::F32);
/// assert_eq!(x.shape(), [5]);
/// ```
pub fn double_sided_maxwell(
    key: &Array,
    loc: impl AsArray,
    scale: impl AsArray,
    shape: &[usize],
    dtype: DType,
) -> Array {
    let (km, kr) = split2(key);
    let m = maxwell(&km, shape, dtype);
    rademacher(&kr, shape, dtype) * m * param(scale, dtype) + param(loc, dtype)
}

/// The float dtype a probability computes in: its own if it is a strong
/// float array, f32 otherwise (as JAX promotes Python floats).
fn prob_dtype(p: &Array) -> DType {
    if p.dtype().is_float() && !p.is_weak() {
        p.dtype()
    } else {
        DType::F32
    }
}

/// Geometric samples, the number of Bernoulli(`p`) trials up to the first
/// success (`jax.random.geometric`), as `dtype` (i32 or a float).
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let g = random::geometric(&random::key(0), 0.3, &[100], DType::I32);
/// assert!(g.min(Axes::All, false).item::<i32>() >= 1);
/// ```
pub fn geometric(key: &Array, p: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    let p = p.as_array();
    let fd = prob_dtype(&p);
    let u = or_panic(uniform_in("geometric", key, shape, fd, 0.0, 1.0));
    let u = Array::where_(&u.equal(0.0), fconst(1.0, fd), &u);
    let log_q = (-p.astype(fd)).log1p().broadcast_to(shape);
    ((u.log() / log_q).floor() + fconst(1.0, fd)).astype(dtype)
}

/// Log-normal samples (`jax.random.lognormal`): `exp(sigma · z)`.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let x = random::lognormal(&random::key(0), 0.5, &[10], DType::F32);
/// assert!(x.min(Axes::All, false).item::<f32>() > 0.0);
/// ```
pub fn lognormal(key: &Array, sigma: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    let z = or_panic(
        super::try_normal(key, shape, dtype).map_err(|e| rename(e, "normal", "lognormal")),
    );
    (z * param(sigma, dtype)).exp()
}

/// Triangular samples on `[left, right]` peaking at `mode`
/// (`jax.random.triangular`), by inverting the CDF.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let x = random::triangular(&random::key(0), 0.0, 1.0, 3.0, &[50], DType::F32);
/// assert!(x.max(Axes::All, false).item::<f32>() <= 3.0);
/// ```
pub fn triangular(
    key: &Array,
    left: impl AsArray,
    mode: impl AsArray,
    right: impl AsArray,
    shape: &[usize],
    dtype: DType,
) -> Array {
    let c = |v: f64| fconst(v, dtype);
    let p = |v: Array| v.astype(dtype).broadcast_to(shape);
    let (l, m, r) = (p(left.as_array()), p(mode.as_array()), p(right.as_array()));
    let fc = (&m - &l) / (&r - &l);
    let u = or_panic(uniform_in("triangular", key, shape, dtype, 0.0, 1.0));
    let lower = &l + (&u * (&r - &l) * (&m - &l)).sqrt();
    let upper = &r - ((c(1.0) - &u) * (&r - &l) * (&r - &m)).sqrt();
    Array::where_(&u.less(&fc), lower, upper)
}

/// Wald (inverse Gaussian) samples with the given `mean` and shape 1
/// (`jax.random.wald`), by Michael, Schucany and Haas' transformation.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let x = random::wald(&random::key(0), 2.0, &[50], DType::F32);
/// assert!(x.min(Axes::All, false).item::<f32>() > 0.0);
/// ```
pub fn wald(key: &Array, mean: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    let (k1, k2) = split2(key);
    let mu = param(mean, dtype).broadcast_to(shape);
    let v = or_panic(super::try_normal(&k1, shape, dtype).map_err(|e| rename(e, "normal", "wald")));
    let z = or_panic(uniform_in("wald", &k2, shape, dtype, 0.0, 1.0));
    let y = &v * &v;
    let mu2 = &mu * &mu;
    let root = (&mu * &y * 4.0 + &mu2 * (&y * &y)).sqrt();
    let x = &mu + &mu2 * &y / 2.0 - &mu / 2.0 * root;
    Array::where_(&z.less_equal(&mu / (&mu + &x)), &x, &mu2 / &x)
}

/// Logarithms of Gamma(`a`) samples (`jax.random.loggamma`), accurate
/// for small `a` where the samples themselves underflow. Same draws as
/// [`gamma`](super::gamma): `loggamma(k, a, ..).exp() ≈ gamma(k, a, ..)`.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let lg = random::loggamma(&random::key(0), 0.01, &[100], DType::F32);
/// assert!(lg.min(Axes::All, false).item::<f32>().is_finite());
/// ```
pub fn loggamma(key: &Array, a: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    let (x, log_boost) = or_panic(gamma_parts("loggamma", key, a, shape, dtype));
    x.log() + log_boost
}

/// Chi-square samples with `df` degrees of freedom
/// (`jax.random.chisquare`): twice a Gamma(`df/2`) sample.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let x = random::chisquare(&random::key(0), 3.0, &[4000], DType::F32);
/// assert!((x.mean(Axes::All, false).item::<f32>() - 3.0).abs() < 0.25);
/// ```
pub fn chisquare(key: &Array, df: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    let half = df.as_array().astype(dtype) / 2.0;
    loggamma(key, &half, shape, dtype).exp() * 2.0
}

/// Student's t samples with `df` degrees of freedom (`jax.random.t`):
/// `z · √(df / 2 / g)` with `z` normal and `g ~ Gamma(df/2)`.
///
/// ```
/// let x = oxjax::random::t(&oxjax::random::key(0), 5.0, &[10], oxjax::DType::F32);
/// assert_eq!(x.shape(), [10]);
/// ```
pub fn t(key: &Array, df: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    let (kn, kg) = split2(key);
    let z = or_panic(super::try_normal(&kn, shape, dtype).map_err(|e| rename(e, "normal", "t")));
    let half = df.as_array().astype(dtype) / 2.0;
    let g = super::gamma(&kg, &half, shape, dtype);
    z * (half / g).sqrt()
}

/// F-distribution samples (`jax.random.f`): the ratio of two chi-square
/// samples, each divided by its degrees of freedom.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let x = random::f(&random::key(0), 4.0, 9.0, &[10], DType::F32);
/// assert!(x.min(Axes::All, false).item::<f32>() > 0.0);
/// ```
pub fn f(
    key: &Array,
    dfnum: impl AsArray,
    dfden: impl AsArray,
    shape: &[usize],
    dtype: DType,
) -> Array {
    let (kd, kn) = split2(key);
    let (dn, dd) = (
        dfnum.as_array().astype(dtype),
        dfden.as_array().astype(dtype),
    );
    let num = chisquare(&kn, &dn, shape, dtype) / &dn;
    let den = chisquare(&kd, &dd, shape, dtype) / &dd;
    num / den
}

/// Dirichlet samples (`jax.random.dirichlet`): normalised Gamma(`alpha_i`)
/// draws, computed from their logarithms so small concentrations stay
/// finite. `alpha` is `[..., k]`; `shape` (default: `alpha`'s batch
/// shape) is the batch shape of the result, which gains `alpha`'s last axis.
///
/// ```
/// use oxjax::{random, Array, DType};
/// let alpha = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// let x = random::dirichlet(&random::key(0), &alpha, Some(&[4]), DType::F32);
/// assert_eq!(x.shape(), [4, 3]);
/// ```
pub fn dirichlet(key: &Array, alpha: &Array, shape: Option<&[usize]>, dtype: DType) -> Array {
    or_panic(try_dirichlet(key, alpha, shape, dtype))
}

/// [`dirichlet`], returning misuse as an error.
pub fn try_dirichlet(
    key: &Array,
    alpha: &Array,
    shape: Option<&[usize]>,
    dtype: DType,
) -> Result<Array> {
    let Some((&k, batch)) = alpha.shape().split_last() else {
        return err(
            ErrorKind::Shape,
            "random.dirichlet: alpha must have at least one axis, got a scalar",
        );
    };
    let mut full = shape.unwrap_or(batch).to_vec();
    full.push(k);
    let (x, log_boost) = gamma_parts("dirichlet", key, alpha, &full, dtype)?;
    Ok(crate::nn::softmax(&(x.log() + log_boost), -1))
}

/// Generalized normal samples with exponent `p` (`jax.random.generalized_normal`),
/// density ∝ `exp(-|x|^p)`: `±g^(1/p)` with `g ~ Gamma(1/p)`.
///
/// ```
/// let x = oxjax::random::generalized_normal(&oxjax::random::key(0), 1.5, &[10], oxjax::DType::F32);
/// assert_eq!(x.shape(), [10]);
/// ```
pub fn generalized_normal(key: &Array, p: f64, shape: &[usize], dtype: DType) -> Array {
    let (kg, kr) = split2(key);
    let g = super::gamma(&kg, 1.0 / p, shape, dtype);
    rademacher(&kr, shape, dtype) * g.power(fconst(1.0 / p, dtype))
}

/// Terms of the Poisson CDF summed by inversion, enough for rates below
/// [`POISSON_INVERSION_MAX`]: the mass beyond is below 1e-11.
const POISSON_TERMS: usize = 40;
/// Rates from here use transformed rejection (JAX switches at the same rate).
const POISSON_INVERSION_MAX: f64 = 10.0;
/// Candidates per element of the rejection sampler; each is accepted with
/// probability above 0.85, so all fail with probability below 1e-13.
const POISSON_CANDIDATES: usize = 16;

/// Poisson samples with rate `lam` (`jax.random.poisson`'s distribution,
/// not its stream), as i32 or a float `dtype`. Rates below 10 invert the
/// CDF with a fixed number of terms; larger ones use Hörmann's transformed
/// rejection (PTRS) with a fixed number of candidates, so the sampler is
/// loop-free and jit-friendly. `lam` is a number or a broadcasting array.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let k = random::poisson(&random::key(0), 3.0, &[4000], DType::I32);
/// assert!((k.astype(DType::F32).mean(Axes::All, false).item::<f32>() - 3.0).abs() < 0.2);
/// ```
pub fn poisson(key: &Array, lam: impl AsArray, shape: &[usize], dtype: DType) -> Array {
    or_panic(try_poisson(key, lam, shape, dtype))
}

/// [`poisson`], returning misuse as an error.
pub fn try_poisson(key: &Array, lam: impl AsArray, shape: &[usize], dtype: DType) -> Result<Array> {
    key_words("poisson", key)?;
    let lam = lam.as_array();
    let fd = prob_dtype(&lam);
    let lam = lam.astype(fd);
    if !super::sample::broadcasts(lam.shape(), shape) {
        return err(
            ErrorKind::Shape,
            format!(
                "random.poisson: lam of shape {:?} does not broadcast to {shape:?}",
                lam.shape()
            ),
        );
    }
    let lam = lam.broadcast_to(shape);
    let (ki, kr) = split2(key);
    let small = lam.less(POISSON_INVERSION_MAX);
    // Inversion: count the CDF terms below a uniform draw, scaled by the
    // summed terms so that rounding in the sum can never leave the draw
    // above the last partial sum.
    let lam_s = Array::where_(&small, &lam, fconst(0.0, fd));
    let mut terms = vec![(-&lam_s).exp()];
    for i in 1..POISSON_TERMS {
        terms.push(&terms[i - 1] * &lam_s / i as f64);
    }
    let total = terms.iter().skip(1).fold(terms[0].clone(), |s, t| s + t);
    let u = uniform_in("poisson", &ki, shape, fd, 0.0, 1.0)? * total;
    let mut cdf = terms[0].clone();
    let mut count = Array::zeros(shape, fd);
    for t in &terms[1..] {
        count = count + cdf.less(&u).astype(fd);
        cdf = cdf + t;
    }
    // PTRS for the large rates.
    let lam_r = Array::where_(&small, fconst(100.0, fd), &lam);
    let rejected = ptrs(&kr, &lam_r, shape, fd)?;
    let out = Array::where_(&small, count, rejected);
    Ok(Array::where_(&lam.equal(0.0), fconst(0.0, fd), out).astype(dtype))
}

/// Hörmann's PTRS ("The transformed rejection method for generating
/// Poisson random variables", 1993) for rates of 10 and more, with
/// [`POISSON_CANDIDATES`] candidates per element; the first accepted wins.
fn ptrs(key: &Array, lam: &Array, shape: &[usize], fd: DType) -> Result<Array> {
    let mut cand = vec![POISSON_CANDIDATES];
    cand.extend_from_slice(shape);
    let (ku, kv) = split2(key);
    let u = uniform_in("poisson", &ku, &cand, fd, -0.5, 0.5)?;
    let v = uniform_in("poisson", &kv, &cand, fd, 0.0, 1.0)?;
    let slam = lam.sqrt();
    let b = &slam * 2.53 + 0.931;
    let a = &b * 0.02483 - 0.059;
    let inv_alpha = (&b - 3.4).reciprocal() * 1.1328 + 1.1239;
    let vr = 0.9277 - (&b - 2.0).reciprocal() * 3.6224;
    let us = 0.5 - u.abs();
    let k = ((&a * 2.0 / &us + &b) * &u + lam + 0.43).floor();
    let quick = us.greater_equal(0.07) & v.less_equal(&vr);
    let bad = k.less(0.0) | (us.less(0.013) & v.greater(&us));
    let log_lhs = v.log() + inv_alpha.log() - (&a / (&us * &us) + &b).log();
    let log_rhs = -lam + &k * lam.log() - crate::lax::lgamma(&(&k + 1.0));
    let accept = quick | (bad.logical_not() & log_lhs.less_equal(&log_rhs));
    let mut out = lam.floor();
    for i in (0..POISSON_CANDIDATES).rev() {
        let at = |x: &Array| super::index0(x, i);
        out = Array::where_(&at(&accept), at(&k), out);
    }
    Ok(out)
}

/// Candidates per element of the binomial rejection sampler (BTRS accepts
/// each with probability above 0.8 where it is used).
const BINOMIAL_CANDIDATES: usize = 20;

/// Binomial samples: successes in `n` trials of probability `p`
/// (`jax.random.binomial`'s distribution, not its stream), as i32 or a
/// float `dtype`. Loop-free like [`poisson`]: with `q = min(p, 1 - p)`,
/// `n·q < 10` inverts the CDF over a fixed number of terms, larger means
/// use Hörmann's BTRS with a fixed number of candidates; `p > ½` samples
/// the failures. `n` and `p` are numbers or arrays broadcasting to `shape`.
///
/// ```
/// use oxjax::{random, Axes, DType};
/// let k = random::binomial(&random::key(0), 20.0, 0.3, &[4000], DType::I32);
/// assert!((k.astype(DType::F32).mean(Axes::All, false).item::<f32>() - 6.0).abs() < 0.2);
/// ```
pub fn binomial(
    key: &Array,
    n: impl AsArray,
    p: impl AsArray,
    shape: &[usize],
    dtype: DType,
) -> Array {
    or_panic(try_binomial(key, n, p, shape, dtype))
}

/// [`binomial`], returning misuse as an error.
pub fn try_binomial(
    key: &Array,
    n: impl AsArray,
    p: impl AsArray,
    shape: &[usize],
    dtype: DType,
) -> Result<Array> {
    key_words("binomial", key)?;
    let (n, p) = (n.as_array(), p.as_array());
    let fd = prob_dtype(&p);
    for (what, a) in [("n", &n), ("p", &p)] {
        if !super::sample::broadcasts(a.shape(), shape) {
            return err(
                ErrorKind::Shape,
                format!(
                    "random.binomial: {what} of shape {:?} does not broadcast to {shape:?}",
                    a.shape()
                ),
            );
        }
    }
    let n = n.astype(fd).broadcast_to(shape);
    let p = p.astype(fd).broadcast_to(shape);
    let flip = p.greater(0.5);
    let q = Array::where_(&flip, fconst(1.0, fd) - &p, &p);
    let small = (&n * &q).less(POISSON_INVERSION_MAX);
    let (ki, kr) = split2(key);
    // Inversion over the pmf recurrence f(k+1) = f(k) (n-k)/(k+1) q/(1-q).
    let qs = Array::where_(&small, &q, fconst(0.0, fd));
    let ratio = &qs / (fconst(1.0, fd) - &qs);
    let mut terms = vec![(&n * (-&qs).log1p()).exp()];
    for i in 1..POISSON_TERMS {
        let k = (i - 1) as f64;
        let next = &terms[i - 1] * (&n - k).maximum(0.0) / (k + 1.0) * &ratio;
        terms.push(next);
    }
    let total = terms.iter().skip(1).fold(terms[0].clone(), |s, t| s + t);
    let u = uniform_in("binomial", &ki, shape, fd, 0.0, 1.0)? * total;
    let mut cdf = terms[0].clone();
    let mut count = Array::zeros(shape, fd);
    for t in &terms[1..] {
        count = count + cdf.less(&u).astype(fd);
        cdf = cdf + t;
    }
    // BTRS for the rest (safe stand-in parameters where inversion is used).
    let nr = Array::where_(&small, fconst(100.0, fd), &n);
    let qr = Array::where_(&small, fconst(0.5, fd), &q);
    let rejected = btrs(&kr, &nr, &qr, shape, fd)?;
    let k = Array::where_(&small, count, rejected);
    let k = Array::where_(&flip, &n - &k, k);
    Ok(Array::where_(&q.equal(0.0), Array::where_(&flip, &n, 0.0), k).astype(dtype))
}

/// Hörmann's BTRS ("The generation of binomial random variates", 1993)
/// for `n·p >= 10`, `p <= ½`, with [`BINOMIAL_CANDIDATES`] candidates.
fn btrs(key: &Array, n: &Array, p: &Array, shape: &[usize], fd: DType) -> Result<Array> {
    use crate::lax::lgamma;
    let mut cand = vec![BINOMIAL_CANDIDATES];
    cand.extend_from_slice(shape);
    let (ku, kv) = split2(key);
    let u = uniform_in("binomial", &ku, &cand, fd, -0.5, 0.5)?;
    let v = uniform_in("binomial", &kv, &cand, fd, 0.0, 1.0)?;
    let q = fconst(1.0, fd) - p;
    let spq = (n * p * &q).sqrt();
    let b = &spq * 2.53 + 1.15;
    let a = &b * 0.0248 + p * 0.01 - 0.0873;
    let c = n * p + 0.5;
    let vr = 0.92 - b.reciprocal() * 4.2;
    let alpha = (b.reciprocal() * 5.1 + 2.83) * &spq;
    let lpq = (p / &q).log();
    let m = ((n + 1.0) * p).floor();
    let h = lgamma(&(&m + 1.0)) + lgamma(&(n - &m + 1.0));
    let us = 0.5 - u.abs();
    let k = ((&a * 2.0 / &us + &b) * &u + &c).floor();
    let inside = k.greater_equal(0.0) & k.less_equal(n);
    let quick = us.greater_equal(0.07) & v.less_equal(&vr);
    let lhs = (&v * &alpha / (&a / (&us * &us) + &b)).log();
    let rhs = &h - lgamma(&(&k + 1.0)) - lgamma(&(n - &k + 1.0)) + (&k - &m) * &lpq;
    let accept = inside & (quick | lhs.less_equal(&rhs));
    let mut out = m.clone();
    for i in (0..BINOMIAL_CANDIDATES).rev() {
        let at = |x: &Array| super::index0(x, i);
        out = Array::where_(&at(&accept), at(&k), out);
    }
    Ok(out)
}
