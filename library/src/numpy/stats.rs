//! Statistics and numerical helpers: covariance, correlation, the
//! trapezoid rule, gradients, binning and interpolation by comparison
//! (no sorting), membership, piecewise functions and per-axis application.

use super::{float_of, lit, shape::slice_axis};
use crate::{Array, AsArray, DType};

fn ax(name: &str, a: isize, rank: usize) -> usize {
    crate::primitive::axis(name, a, rank).unwrap_or_else(|e| crate::error::raise(e))
}

/// The covariance matrix of the variables in the rows of `m` (columns
/// when `rowvar` is false), normalised by `n - ddof`.
///
/// Partial: no fweights, aweights or bias arguments.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let m = Array::from_vec(vec![0.0f32, 1.0, 2.0, 2.0, 1.0, 0.0], &[2, 3]);
/// assert_eq!(jnp::cov(&m, true, 1).to_vec::<f32>(), vec![1.0, -1.0, -1.0, 1.0]);
/// ```
pub fn cov(m: &Array, rowvar: bool, ddof: usize) -> Array {
    let x = super::atleast_2d(&float_of(m));
    let x = if rowvar { x } else { x.t() };
    let n = x.shape()[1];
    let xc = &x - x.mean(1, true);
    xc.matmul(&xc.t()) / lit(&xc, n.saturating_sub(ddof) as f64)
}

/// Pearson correlation coefficients of the rows of `x` (columns when
/// `rowvar` is false).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let m = Array::from_vec(vec![0.0f32, 1.0, 2.0, 2.0, 1.0, 0.0], &[2, 3]);
/// assert_eq!(jnp::corrcoef(&m, true).to_vec::<f32>(), vec![1.0, -1.0, -1.0, 1.0]);
/// ```
pub fn corrcoef(x: &Array, rowvar: bool) -> Array {
    let c = cov(x, rowvar, 0);
    let d = super::diagonal(&c, 0, 0, 1).sqrt();
    let r = &c / super::outer(&d, &d);
    r.maximum(-1.0).minimum(1.0)
}

/// The integral of `y` along `axis` by the trapezoid rule, at sample
/// points `x` (1-d, or the shape of `y`) or with spacing `dx`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let y = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// assert_eq!(jnp::trapezoid(&y, None, 1.0, -1).item::<f32>(), 4.0);
/// let x = Array::from_vec(vec![0.0f32, 1.0, 3.0], &[3]);
/// assert_eq!(jnp::trapezoid(&y, Some(&x), 1.0, -1).item::<f32>(), 6.5);
/// ```
pub fn trapezoid(y: &Array, x: Option<&Array>, dx: f64, axis: isize) -> Array {
    let y = float_of(y);
    let a = ax("trapezoid", axis, y.ndim());
    let n = y.shape()[a];
    if n < 2 {
        return y.sum(a as isize, false) * 0.0;
    }
    let avg = (slice_axis(&y, a, 1, n - 1, 1) + slice_axis(&y, a, 0, n - 1, 1)) * 0.5;
    let widths = match x {
        None => lit(&y, dx),
        Some(x) if x.ndim() == 1 => {
            let d = super::diff(x, 1, 0);
            let mut s = vec![1isize; y.ndim()];
            s[a] = (n - 1) as isize;
            d.reshape(&s)
        }
        Some(x) => super::diff(x, 1, a as isize),
    };
    (avg * widths).sum(a as isize, false)
}

/// The gradient of sampled values along `axis` with unit spacing: central
/// differences inside, one-sided at the ends (NumPy's `edge_order=1`).
///
/// Partial: unit spacing along one axis, edge_order 1.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let f = Array::from_vec(vec![1.0f32, 2.0, 4.0, 7.0], &[4]);
/// assert_eq!(jnp::gradient(&f, 0).to_vec::<f32>(), vec![1.0, 1.5, 2.5, 3.0]);
/// ```
pub fn gradient(f: &Array, axis: isize) -> Array {
    let f = float_of(f);
    let a = ax("gradient", axis, f.ndim());
    let n = f.shape()[a];
    assert!(
        n >= 2,
        "gradient: axis {a} of shape {:?} needs at least 2 samples",
        f.shape()
    );
    let first = slice_axis(&f, a, 1, 1, 1) - slice_axis(&f, a, 0, 1, 1);
    let last = slice_axis(&f, a, n - 1, 1, 1) - slice_axis(&f, a, n - 2, 1, 1);
    if n == 2 {
        return Array::concatenate(&[&first, &last], a as isize);
    }
    let mid = (slice_axis(&f, a, 2, n - 2, 1) - slice_axis(&f, a, 0, n - 2, 1)) * 0.5;
    Array::concatenate(&[&first, &mid, &last], a as isize)
}

/// The index of the bin of each value of `x` for increasing `bins`:
/// `i` such that `bins[i-1] <= x < bins[i]` (`<` and `<=` swap with `right`).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![0.5f32, 1.0, 2.5, 9.0], &[4]);
/// let bins = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
/// assert_eq!(jnp::digitize(&x, &bins, false).to_vec::<i32>(), vec![0, 1, 2, 3]);
/// assert_eq!(jnp::digitize(&x, &bins, true).to_vec::<i32>(), vec![0, 0, 2, 3]);
/// ```
pub fn digitize(x: &Array, bins: &Array, right: bool) -> Array {
    assert_eq!(
        bins.ndim(),
        1,
        "digitize: bins must be 1-d, got shape {:?}",
        bins.shape()
    );
    let xe = x.expand_dims(-1);
    let hit = if right {
        xe.greater(bins)
    } else {
        xe.greater_equal(bins)
    };
    hit.astype(DType::I32).sum(-1, false)
}

/// Linear interpolation of the points `(xp, fp)` (`xp` increasing) at `x`;
/// outside the range, `left` and `right` (default: the end values).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let xp = Array::from_vec(vec![0.0f32, 1.0, 3.0], &[3]);
/// let fp = Array::from_vec(vec![0.0f32, 10.0, 30.0], &[3]);
/// let x = Array::from_vec(vec![-1.0f32, 0.5, 2.0, 5.0], &[4]);
/// assert_eq!(jnp::interp(&x, &xp, &fp, None, None).to_vec::<f32>(), vec![0.0, 5.0, 20.0, 30.0]);
/// ```
pub fn interp(x: &Array, xp: &Array, fp: &Array, left: Option<f64>, right: Option<f64>) -> Array {
    assert!(
        xp.ndim() == 1 && fp.shape() == xp.shape() && xp.size() >= 1,
        "interp: xp and fp must be 1-d of one non-zero length, got shapes {:?} and {:?}",
        xp.shape(),
        fp.shape()
    );
    let n = xp.size();
    let d = super::result_type(&[&float_of(x), &float_of(fp)]);
    let (x, xp, fp) = (x.astype(d), xp.astype(d), fp.astype(d));
    if n == 1 {
        return Array::full(x.shape(), 0.0).astype(d) + &fp;
    }
    // Segment i covers [xp[i], xp[i+1]]; picked by a one-hot contraction.
    let i = (x
        .expand_dims(-1)
        .greater_equal(&xp)
        .astype(DType::I32)
        .sum(-1, false)
        - 1)
    .maximum(0)
    .minimum(n as i32 - 2);
    let pick = |v: &Array, k: &Array| indicator(k, n, d).matmul(v);
    let (x0, x1) = (pick(&xp, &i), pick(&xp, &(&i + 1)));
    let (f0, f1) = (pick(&fp, &i), pick(&fp, &(&i + 1)));
    let t = (&x - &x0) / (&x1 - &x0);
    let y = &f0 + (&f1 - &f0) * t;
    let first = super::reshape_to(&slice_axis(&fp, 0, 0, 1, 1), &[]);
    let last = super::reshape_to(&slice_axis(&fp, 0, n - 1, 1, 1), &[]);
    let lo = left.map_or(first, |v| lit(&y, v));
    let hi = right.map_or(last, |v| lit(&y, v));
    let x_first = super::reshape_to(&slice_axis(&xp, 0, 0, 1, 1), &[]);
    let x_last = super::reshape_to(&slice_axis(&xp, 0, n - 1, 1, 1), &[]);
    let y = Array::where_(&x.less(&x_first), &lo, &y);
    Array::where_(&x.greater(&x_last), &hi, &y)
}

/// True where an element of `element` occurs in `test_elements`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3], &[3]);
/// let t = Array::from_vec(vec![3i32, 1], &[2]);
/// assert_eq!(jnp::isin(&x, &t, false).to_vec::<bool>(), vec![true, false, true]);
/// ```
pub fn isin(element: &Array, test_elements: &Array, invert: bool) -> Array {
    let t = test_elements.reshape(&[-1]);
    let hit = element.expand_dims(-1).equal(&t).any(-1, false);
    if invert { hit.logical_not() } else { hit }
}

/// Evaluates `funclist[i](x)` where `condlist[i]` holds (the first true
/// condition wins); an extra function is the default, else 0.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![-2.0f32, 3.0], &[2]);
/// let neg = x.less(0.0);
/// let y = jnp::piecewise(&x, &[&neg], &[&|x: &Array| -x, &|x: &Array| x * 10.0]);
/// assert_eq!(y.to_vec::<f32>(), vec![2.0, 30.0]);
/// ```
pub fn piecewise(x: &Array, condlist: &[&Array], funclist: &[&dyn Fn(&Array) -> Array]) -> Array {
    let n = condlist.len();
    assert!(
        funclist.len() == n || funclist.len() == n + 1,
        "piecewise: {n} conditions need {n} or {} functions, got {}",
        n + 1,
        funclist.len()
    );
    let mut out = if funclist.len() == n + 1 {
        funclist[n](x)
    } else {
        x.zeros_like()
    };
    for (c, f) in condlist.iter().zip(funclist).rev() {
        out = Array::where_(c, f(x), &out);
    }
    out.astype(x.dtype())
}

/// Applies `f` to every 1-d slice along `axis` (vectorised with `vmap`);
/// the axes `f` returns replace `axis`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let y = jnp::apply_along_axis(|v| v.sum(0, false), 0, &x);
/// assert_eq!(y.to_vec::<f32>(), vec![4.0, 6.0]);
/// ```
pub fn apply_along_axis(f: impl Fn(&Array) -> Array, axis: isize, arr: &Array) -> Array {
    let a = ax("apply_along_axis", axis, arr.ndim());
    let moved = super::moveaxis(arr, a as isize, -1);
    let lead: Vec<usize> = moved.shape()[..arr.ndim() - 1].to_vec();
    let flat = moved.reshape(&[-1, arr.shape()[a] as isize]);
    let ys = crate::vmap(|v: &Array| f(v))(&flat);
    let tail: Vec<usize> = ys.shape()[1..].to_vec();
    let y = super::reshape_to(&ys, &[lead.clone(), tail.clone()].concat());
    // Move the result's own axes to where `axis` was.
    let mut perm: Vec<usize> = (0..a).collect();
    perm.extend(lead.len()..lead.len() + tail.len());
    perm.extend(a..lead.len());
    y.transpose(&perm)
}

/// Applies `f(a, axis)` for each axis in turn, keeping the rank (a result
/// with one axis fewer gets it back as length 1).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let y = jnp::apply_over_axes(|a, ax| a.sum(ax, false), &x, &[0, 1]);
/// assert_eq!((y.shape(), y.to_vec::<f32>()), (&[1usize, 1][..], vec![10.0]));
/// ```
pub fn apply_over_axes(f: impl Fn(&Array, isize) -> Array, a: &Array, axes: &[isize]) -> Array {
    let mut out = a.clone();
    for &axis in axes {
        let r = f(&out, axis);
        out = if r.ndim() == out.ndim() - 1 {
            r.expand_dims(axis)
        } else {
            r
        };
    }
    out
}

/// Values of a polynomial with coefficients `p` (highest power first) at
/// `x`, by Horner's rule.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let p = Array::from_vec(vec![1.0f32, 0.0, -2.0], &[3]);
/// assert_eq!(jnp::polyval(&p, 3.0).item::<f32>(), 7.0);
/// ```
pub fn polyval(p: &Array, x: impl AsArray) -> Array {
    let x = x.as_array();
    assert_eq!(
        p.ndim(),
        1,
        "polyval: coefficients must be 1-d, got shape {:?}",
        p.shape()
    );
    let coeffs = super::unstack(p, 0);
    let mut y = (&x * 0.0).astype(super::result_type(&[&x, p])) + &coeffs[0];
    for c in &coeffs[1..] {
        y = y * &x + c;
    }
    y
}

fn pad_front(a: &Array, n: usize) -> Array {
    a.pad(&[(n - a.size(), 0)], 0.0)
}

/// The sum of two polynomials (highest power first).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1i32, 2], &[2]);
/// let b = Array::from_vec(vec![1i32, 0, 0], &[3]);
/// assert_eq!(jnp::polyadd(&a, &b).to_vec::<i32>(), vec![1, 1, 2]);
/// assert_eq!(jnp::polysub(&a, &b).to_vec::<i32>(), vec![-1, 1, 2]);
/// assert_eq!(jnp::polymul(&a, &a).to_vec::<i32>(), vec![1, 4, 4]);
/// ```
pub fn polyadd(a: &Array, b: &Array) -> Array {
    let n = a.size().max(b.size());
    pad_front(a, n) + pad_front(b, n)
}

/// The difference of two polynomials.
pub fn polysub(a: &Array, b: &Array) -> Array {
    let n = a.size().max(b.size());
    pad_front(a, n) - pad_front(b, n)
}

/// The product of two polynomials (the full convolution of their coefficients).
pub fn polymul(a: &Array, b: &Array) -> Array {
    super::convolve(a, b, super::ConvMode::Full)
}

/// The `m`-th derivative of a polynomial.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let p = Array::from_vec(vec![1.0f32, 1.0, 1.0, 1.0], &[4]);
/// assert_eq!(jnp::polyder(&p, 1).to_vec::<f32>(), vec![3.0, 2.0, 1.0]);
/// assert_eq!(jnp::polyint(&jnp::polyder(&p, 1), 1, 1.0).to_vec::<f32>(), vec![1.0, 1.0, 1.0, 1.0]);
/// ```
pub fn polyder(p: &Array, m: usize) -> Array {
    let mut p = p.clone();
    for _ in 0..m {
        let n = p.size();
        if n <= 1 {
            return Array::zeros(&[1], p.dtype());
        }
        let powers = Array::arange(n as f64 - 1.0, 0.0, -1.0, p.dtype());
        p = slice_axis(&p, 0, 0, n - 1, 1) * powers;
    }
    p
}

/// The `m`-th antiderivative of a polynomial, with integration constant `k`.
pub fn polyint(p: &Array, m: usize, k: f64) -> Array {
    let mut p = float_of(p);
    for _ in 0..m {
        let n = p.size();
        let powers = Array::arange(n as f64, 0.0, -1.0, p.dtype());
        let c = Array::full(&[1], 0.0).astype(p.dtype()) + lit(&p, k);
        p = Array::concatenate(&[&(&p / powers), &c], 0);
    }
    p
}

/// Counts of each value `0..length` in the non-negative integers `x`
/// (weighted by `weights` if given); values outside the range are dropped.
/// `length` is static, as JAX requires under `jit`.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![0i32, 1, 1, 3], &[4]);
/// assert_eq!(jnp::bincount(&x, None, 5).to_vec::<i32>(), vec![1, 2, 0, 1, 0]);
/// ```
pub fn bincount(x: &Array, weights: Option<&Array>, length: usize) -> Array {
    assert!(
        x.ndim() == 1 && !x.dtype().is_float(),
        "bincount: x must be a 1-d integer array, got {} {:?}",
        x.dtype(),
        x.shape()
    );
    match weights {
        None => indicator(x, length, DType::I32).sum(0, false),
        Some(w) => {
            let w = float_of(w);
            let hot = indicator(x, length, w.dtype());
            (hot * w.expand_dims(-1)).sum(0, false)
        }
    }
}

/// How [`histogram`] chooses its bins.
#[derive(Clone, Debug)]
pub enum Bins {
    /// This many equal-width bins over the range (default: the data's min..max).
    Count(usize),
    /// These increasing edges.
    Edges(Array),
}

impl From<usize> for Bins {
    fn from(n: usize) -> Bins {
        Bins::Count(n)
    }
}

impl From<&Array> for Bins {
    fn from(e: &Array) -> Bins {
        Bins::Edges(e.clone())
    }
}

/// The bin edges [`histogram`] would use.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1.0f32, 3.0, 2.0], &[3]);
/// assert_eq!(jnp::histogram_bin_edges(&a, 4, None).to_vec::<f32>(), vec![1.0, 1.5, 2.0, 2.5, 3.0]);
/// ```
pub fn histogram_bin_edges(a: &Array, bins: impl Into<Bins>, range: Option<(f64, f64)>) -> Array {
    let a = float_of(a);
    match bins.into() {
        Bins::Edges(e) => float_of(&e),
        Bins::Count(n) => {
            assert!(n > 0, "histogram: needs at least one bin");
            let (lo, hi) = match range {
                Some((l, h)) => (lit(&a, l), lit(&a, h)),
                None => (
                    a.min(crate::Axes::All, false),
                    a.max(crate::Axes::All, false),
                ),
            };
            // Equal lo and hi widen to lo - 0.5 .. hi + 0.5, as NumPy does.
            let same = lo.equal(&hi);
            let lo = Array::where_(&same, &lo - 0.5, &lo);
            let hi = Array::where_(&same, &hi + 0.5, &hi);
            let t = super::linspace(0.0, 1.0, n + 1, true, a.dtype());
            &lo + (&hi - &lo) * t
        }
    }
}

/// Counts (or weighted sums) of `a` in each bin, and the edges. Bins are
/// half-open except the last, which includes its right edge; values
/// outside the edges are ignored. With `density`, the result integrates to 1.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let a = Array::from_vec(vec![1.0f32, 2.0, 2.0, 3.0, 9.0], &[5]);
/// let (h, e) = jnp::histogram(&a, 2, Some((1.0, 3.0)), None, false);
/// assert_eq!(h.to_vec::<f32>(), vec![1.0, 3.0]);
/// assert_eq!(e.to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
/// ```
pub fn histogram(
    a: &Array,
    bins: impl Into<Bins>,
    range: Option<(f64, f64)>,
    weights: Option<&Array>,
    density: bool,
) -> (Array, Array) {
    let edges = histogram_bin_edges(a, bins, range);
    let a = float_of(a).reshape(&[-1]);
    let n = edges.size() - 1;
    let inner = slice_axis(&edges, 0, 1, n.saturating_sub(1), 1);
    let first = super::reshape_to(&slice_axis(&edges, 0, 0, 1, 1), &[]);
    let last = super::reshape_to(&slice_axis(&edges, 0, n, 1, 1), &[]);
    let idx = digitize(&a, &inner, false);
    let inside = a.greater_equal(&first).bitwise_and(a.less_equal(&last));
    let mut w = inside.astype(a.dtype());
    if let Some(wt) = weights {
        w = w * wt.reshape(&[-1]);
    }
    let hist = (indicator(&idx, n, a.dtype()) * w.expand_dims(-1)).sum(0, false);
    let hist = if density {
        let widths = super::diff(&edges, 1, 0);
        &hist / hist.sum(crate::Axes::All, false) / widths
    } else {
        hist
    };
    (hist, edges)
}

/// The coefficients (highest power first) of the monic polynomial with
/// the given roots.
///
/// Partial: 1-d roots only (not the characteristic polynomial of a matrix).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let r = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// assert_eq!(jnp::poly(&r).to_vec::<f32>(), vec![1.0, -3.0, 2.0]);
/// ```
pub fn poly(roots: &Array) -> Array {
    assert_eq!(
        roots.ndim(),
        1,
        "poly: roots must be 1-d, got shape {:?}",
        roots.shape()
    );
    let r = float_of(roots);
    let mut p = Array::ones(&[1], r.dtype());
    for root in super::unstack(&r, 0) {
        let factor =
            Array::concatenate(&[&Array::ones(&[1], r.dtype()), &(-root).reshape(&[1])], 0);
        p = super::convolve(&p, &factor, super::ConvMode::Full);
    }
    p
}

/// Quotient and remainder of polynomial division `u / v` (highest power
/// first; lengths are static, so the remainder keeps `len(u)` entries
/// with leading zeros as in JAX).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let u = Array::from_vec(vec![1.0f32, -3.0, 2.0], &[3]);
/// let v = Array::from_vec(vec![1.0f32, -1.0], &[2]);
/// let (q, r) = jnp::polydiv(&u, &v);
/// assert_eq!(q.to_vec::<f32>(), vec![1.0, -2.0]);
/// assert_eq!(r.to_vec::<f32>(), vec![0.0, 0.0, 0.0]);
/// ```
pub fn polydiv(u: &Array, v: &Array) -> (Array, Array) {
    assert!(
        u.ndim() == 1 && v.ndim() == 1 && v.size() >= 1,
        "polydiv: needs 1-d coefficient arrays, got shapes {:?} and {:?}",
        u.shape(),
        v.shape()
    );
    let d = super::result_type(&[&float_of(u), &float_of(v)]);
    let (u, v) = (u.astype(d), v.astype(d));
    let (m, n) = (u.size(), v.size());
    if m < n {
        return (Array::zeros(&[1], d), u);
    }
    let lead = super::reshape_to(&slice_axis(&v, 0, 0, 1, 1), &[]);
    let mut rem: Vec<Array> = super::unstack(&u, 0);
    let vs = super::unstack(&v, 0);
    let mut q = Vec::with_capacity(m - n + 1);
    for k in 0..=m - n {
        let c = &rem[k] / &lead;
        for j in 0..n {
            rem[k + j] = &rem[k + j] - &c * &vs[j];
        }
        q.push(c);
    }
    let q = super::stack(&q.iter().collect::<Vec<_>>(), 0);
    let r = super::stack(&rem.iter().collect::<Vec<_>>(), 0);
    (q, r)
}

/// A 2-d histogram of the points `(x, y)` with `bins` equal bins per axis
/// over `range` (default: the data's extent); returns counts (or
/// weighted sums) and the edges of both axes.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![0.0f32, 0.2, 0.9, 1.0], &[4]);
/// let (h, _, _) = jnp::histogram2d(&x, &x, 2, None, None);
/// assert_eq!(h.to_vec::<f32>(), vec![2.0, 0.0, 0.0, 2.0]);
/// ```
pub fn histogram2d(
    x: &Array,
    y: &Array,
    bins: usize,
    range: Option<[(f64, f64); 2]>,
    weights: Option<&Array>,
) -> (Array, Array, Array) {
    let one_axis = |v: &Array, r: Option<(f64, f64)>| {
        let edges = histogram_bin_edges(v, bins, r);
        let v = float_of(v).reshape(&[-1]);
        let inner = slice_axis(&edges, 0, 1, bins - 1, 1);
        let first = super::reshape_to(&slice_axis(&edges, 0, 0, 1, 1), &[]);
        let last = super::reshape_to(&slice_axis(&edges, 0, bins, 1, 1), &[]);
        let inside = v.greater_equal(&first).bitwise_and(v.less_equal(&last));
        let hot = indicator(&digitize(&v, &inner, false), bins, v.dtype());
        (hot * inside.astype(v.dtype()).expand_dims(-1), edges)
    };
    let (hx, ex) = one_axis(x, range.map(|r| r[0]));
    let (hy, ey) = one_axis(y, range.map(|r| r[1]));
    let hx = match weights {
        Some(w) => hx * float_of(w).reshape(&[-1, 1]),
        None => hx,
    };
    (hx.t().matmul(&hy), ex, ey)
}

/// `x[..., None] == arange(n)` as `dtype`: the one-hot rows of integer
/// `x` (`nn::one_hot` with the new axis last) that counts and histograms
/// sum.
pub(crate) fn indicator(x: &Array, n: usize, dtype: DType) -> Array {
    let classes = Array::arange(0.0, n as f64, 1.0, x.dtype());
    x.expand_dims(-1).equal(&classes).astype(dtype)
}
