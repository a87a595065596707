//! `jax.scipy.special`: the special functions under SciPy's names. Most
//! are the `lax` / `nn` functions under another name; the rest are
//! composites of elementwise ops, so every transformation applies.

use crate::numpy::{self as jnp, float_of, lit};
use crate::{Array, Axes, lax, nn};

/// The error function (`lax.erf`).
pub fn erf(x: &Array) -> Array {
    lax::erf(x)
}

/// `1 - erf(x)`, accurate where `erf(x)` is near 1 (`lax.erfc`).
pub fn erfc(x: &Array) -> Array {
    lax::erfc(x)
}

/// The inverse error function (`lax.erf_inv`).
pub fn erfinv(x: &Array) -> Array {
    lax::erf_inv(x)
}

/// `log |Γ(x)|` (`lax.lgamma`).
pub fn gammaln(x: &Array) -> Array {
    lax::lgamma(x)
}

/// The digamma function `Γ'(x) / Γ(x)` (`lax.digamma`).
pub fn digamma(x: &Array) -> Array {
    lax::digamma(x)
}

/// The logistic sigmoid `1 / (1 + exp(-x))` (`nn.sigmoid`).
pub fn expit(x: &Array) -> Array {
    nn::sigmoid(x)
}

/// The inverse of [`expit`]: `log(x / (1 - x))`.
///
/// ```
/// use oxjax::{Array, scipy::special};
/// let p = Array::from_vec(vec![0.5f32, 0.0, 1.0], &[3]);
/// let l = special::logit(&p).to_vec::<f32>();
/// assert_eq!(l, vec![0.0, f32::NEG_INFINITY, f32::INFINITY]);
/// ```
pub fn logit(x: &Array) -> Array {
    let x = float_of(x);
    (&x / (lit(&x, 1.0) - &x)).log()
}

/// `x * log(y)`, 0 where `x == 0` (even where `log(y)` is not finite).
///
/// ```
/// use oxjax::{Array, scipy::special};
/// let x = Array::from_vec(vec![0.0f32, 2.0], &[2]);
/// let y = Array::from_vec(vec![0.0f32, 1.0], &[2]);
/// assert_eq!(special::xlogy(&x, &y).to_vec::<f32>(), vec![0.0, 0.0]);
/// ```
pub fn xlogy(x: &Array, y: &Array) -> Array {
    x_times(x, &jnp::log(y))
}

/// `x * log1p(y)`, 0 where `x == 0`.
pub fn xlog1py(x: &Array, y: &Array) -> Array {
    x_times(x, &jnp::log1p(y))
}

/// `x * v`, 0 where `x == 0`, with the derivative JAX gives (`v` at
/// `x == 0` is not looked at: a safe stand-in keeps gradients finite).
fn x_times(x: &Array, v: &Array) -> Array {
    let x = float_of(x);
    let zero = jnp::equal(&x, 0.0);
    let safe = Array::where_(&zero, lit(v, 1.0), v);
    Array::where_(&zero, lit(&x, 0.0), &x * &safe)
}

/// The standard normal CDF: `(1 + erf(x / √2)) / 2`, switching to `erfc`
/// in the tails (as JAX) so small probabilities keep their precision.
///
/// ```
/// use oxjax::{Array, scipy::special};
/// let p = special::ndtr(&Array::from_vec(vec![0.0f32], &[1]));
/// assert_eq!(p.to_vec::<f32>(), vec![0.5]);
/// ```
pub fn ndtr(x: &Array) -> Array {
    let x = float_of(x);
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs() * lit(&x, h);
    let inner = lit(&x, 1.0) + (&x * lit(&x, h)).erf();
    let tail = Array::where_(&jnp::greater(&x, 0.0), lit(&x, 2.0) - z.erfc(), z.erfc());
    Array::where_(&jnp::less(&z, h), inner, tail) * lit(&x, 0.5)
}

/// The inverse of [`ndtr`]: `√2 · erfinv(2p - 1)`.
///
/// Partial: computed through erfinv, so below p = 1e-3 (and above 1 - 1e-3)
/// it is a few hundred ulps less accurate than JAX's rational approximation.
pub fn ndtri(p: &Array) -> Array {
    let p = float_of(p);
    lax::erf_inv(&(&p * lit(&p, 2.0) - lit(&p, 1.0))) * lit(&p, std::f64::consts::SQRT_2)
}

/// `log(sum(b · exp(x)))` over `axes` (`nn.logsumexp`).
///
/// Partial: no return_sign or where.
pub fn logsumexp(x: &Array, axes: impl Into<Axes>, keepdims: bool, b: Option<&Array>) -> Array {
    nn::logsumexp(x, axes, keepdims, b)
}

/// Softmax over `axis` (`nn.softmax`).
pub fn softmax(x: &Array, axis: impl Into<Axes>) -> Array {
    nn::softmax(x, axis)
}

/// `log_softmax` over `axis` (`nn.log_softmax`).
pub fn log_softmax(x: &Array, axis: impl Into<Axes>) -> Array {
    nn::log_softmax(x, axis)
}

/// `exp(-|x|) I₀(x)`, the exponentially scaled modified Bessel function
/// of order 0.
///
/// ```
/// use oxjax::{Array, scipy::special};
/// let y = special::i0e(&Array::from_vec(vec![0.0f32], &[1]));
/// assert_eq!(y.to_vec::<f32>(), vec![1.0]);
/// ```
pub fn i0e(x: &Array) -> Array {
    bessel_ie(x, 0)
}

/// `exp(-|x|) I₁(x)`, the exponentially scaled modified Bessel function
/// of order 1 (odd in `x`).
pub fn i1e(x: &Array) -> Array {
    bessel_ie(x, 1)
}

/// Where the power series hands over to the asymptotic expansion.
const SERIES_LIMIT: f64 = 15.0;

/// `exp(-|x|) I_ν(x)` for ν = 0 or 1: the power series
/// `Σ (x/2)^(2k+ν) / (k! (k+ν)!)` up to |x| = 15 (positive terms, no
/// cancellation; 32 terms reach f64 precision there), the asymptotic
/// expansion `Σ (-1)^k a_k(ν) / x^k / √(2π|x|)` beyond (12 terms).
fn bessel_ie(x: &Array, nu: u32) -> Array {
    let x = float_of(x);
    let ax = x.abs();
    let c = |v: f64| lit(&x, v);
    // Series on |x| clamped into its range.
    let s = ax.minimum(c(SERIES_LIMIT));
    let q = &s * &s * c(0.25);
    let mut term = if nu == 0 {
        c(1.0) + &s * c(0.0)
    } else {
        &s * c(0.5)
    };
    let mut sum = term.clone();
    for k in 0..32u32 {
        term = &term * &q * c(1.0 / f64::from((k + 1) * (k + 1 + nu)));
        sum = sum + &term;
    }
    let series = sum * (-&s).exp();
    // Asymptotic expansion on |x| clamped above the limit.
    let a = ax.maximum(c(SERIES_LIMIT));
    let mu = f64::from(4 * nu * nu);
    let (mut coef, mut poly) = (1.0f64, c(1.0) + &a * c(0.0));
    let inv = a.reciprocal();
    let mut pow = c(1.0) + &a * c(0.0);
    for k in 1..=12u32 {
        let odd = f64::from(2 * k - 1);
        coef *= (mu - odd * odd) / (8.0 * f64::from(k));
        pow = &pow * &inv;
        poly = poly + &pow * c(if k % 2 == 1 { -coef } else { coef });
    }
    let asym = poly * (&a * c(2.0 * std::f64::consts::PI)).rsqrt();
    let y = Array::where_(&jnp::less_equal(&ax, SERIES_LIMIT), series, asym);
    if nu == 1 { jnp::sign(&x) * y } else { y }
}
