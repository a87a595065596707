//! `oxjax::fft`: discrete Fourier transforms with NumPy's/JAX's names and
//! conventions (unnormalised forward transform, `1/n` on the inverse).
//!
//! oxjax has no complex dtype, so complex values are a [`Complex`] pytree
//! of two real arrays; it goes through `jit`, `vmap` and `grad` like any
//! tree. Every 1-d complex transform is one FFT primitive (rules in
//! `trace::fft_rules`; re/im packed as a trailing axis of 2 at its
//! boundary) run by the FFT routine — on the host with `rustfft` unless
//! the backend declares it. `rfft` is the complex transform of the real
//! input cut to `n/2 + 1` bins; `irfft` mirrors the Hermitian half and
//! takes the real part; n-d transforms apply 1-d ones axis by axis.
//!
//! ```
//! use oxjax::{Array, fft};
//! let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]);
//! let y = fft::rfft(&x, None, -1);
//! assert_eq!(y.re.to_vec::<f32>(), vec![10.0, -2.0, -2.0]);
//! assert_eq!(y.im.to_vec::<f32>(), vec![0.0, 2.0, 0.0]);
//! ```

use crate::lax::slice_in_dim;
use crate::primitive::linalg_rules::host_const;
use crate::primitive::{float_of as float, lit};
use crate::{Array, DType, Tree};

/// A complex array as two real arrays of one shape and float dtype.
#[derive(Clone, Debug, Tree)]
pub struct Complex {
    /// The real part.
    pub re: Array,
    /// The imaginary part.
    pub im: Array,
}

impl Complex {
    /// `re + i·im`, broadcast to one shape and promoted to one float dtype.
    ///
    /// ```
    /// use oxjax::{Array, fft::Complex};
    /// let z = Complex::new(&Array::from_vec(vec![1.0f32, 2.0], &[2]), &Array::scalar(0.5f32));
    /// assert_eq!(z.im.to_vec::<f32>(), vec![0.5, 0.5]);
    /// ```
    pub fn new(re: &Array, im: &Array) -> Complex {
        let sum = &float(re) + &float(im);
        Complex {
            re: float(re).astype(sum.dtype()).broadcast_to(sum.shape()),
            im: float(im).astype(sum.dtype()).broadcast_to(sum.shape()),
        }
    }

    /// A real array as complex (zero imaginary part, no buffer for it).
    ///
    /// ```
    /// use oxjax::{Array, fft::Complex};
    /// let z = Complex::from_real(&Array::from_vec(vec![3.0f32], &[1]));
    /// assert_eq!(z.im.to_vec::<f32>(), vec![0.0]);
    /// ```
    pub fn from_real(re: &Array) -> Complex {
        let re = float(re);
        Complex {
            im: re.zeros_like(),
            re,
        }
    }

    /// The common shape of both parts.
    pub fn shape(&self) -> &[usize] {
        self.re.shape()
    }

    /// The complex conjugate.
    ///
    /// ```
    /// use oxjax::{Array, fft::Complex};
    /// let z = Complex::new(&Array::scalar(1.0f32), &Array::scalar(2.0f32)).conj();
    /// assert_eq!(z.im.item::<f32>(), -2.0);
    /// ```
    pub fn conj(&self) -> Complex {
        Complex {
            re: self.re.clone(),
            im: -&self.im,
        }
    }

    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Complex) -> Complex {
        Complex::new(&(&self.re + &other.re), &(&self.im + &other.im))
    }

    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Complex) -> Complex {
        Complex::new(&(&self.re - &other.re), &(&self.im - &other.im))
    }

    /// The complex product, broadcasting.
    ///
    /// ```
    /// use oxjax::{Array, fft::Complex};
    /// let i = Complex::new(&Array::scalar(0.0f32), &Array::scalar(1.0f32));
    /// let m = i.mul(&i);
    /// assert_eq!((m.re.item::<f32>(), m.im.item::<f32>()), (-1.0, 0.0));
    /// ```
    pub fn mul(&self, other: &Complex) -> Complex {
        Complex::new(
            &(&self.re * &other.re - &self.im * &other.im),
            &(&self.re * &other.im + &self.im * &other.re),
        )
    }

    /// Both parts multiplied by a real factor.
    pub fn scale(&self, k: f64) -> Complex {
        let k = lit(&self.re, k);
        Complex {
            re: &self.re * &k,
            im: &self.im * &k,
        }
    }

    /// The modulus `|z|`.
    ///
    /// ```
    /// use oxjax::{Array, fft::Complex};
    /// let z = Complex::new(&Array::scalar(3.0f32), &Array::scalar(4.0f32));
    /// assert_eq!(z.abs().item::<f32>(), 5.0);
    /// ```
    pub fn abs(&self) -> Array {
        (&self.re * &self.re + &self.im * &self.im).sqrt()
    }

    /// The argument (phase) in `(-π, π]`.
    pub fn angle(&self) -> Array {
        self.im.arctan2(&self.re)
    }
}

// ---- the transform on the last axis ---------------------------------------------

/// `fft` (or `ifft`) along the last axis: the parts packed as (re, im)
/// pairs on a new trailing axis for the FFT primitive, and unpacked.
fn dft_last(x: &Complex, inverse: bool) -> Complex {
    let packed = Array::concatenate(&[&x.re.expand_dims(-1), &x.im.expand_dims(-1)], -1);
    let y = crate::primitive::fft_rules::fft(&packed, inverse);
    let part = |k: usize| slice_in_dim(&y, k, k + 1, 1, y.ndim() - 1).squeeze(&[-1]);
    Complex {
        re: part(0),
        im: part(1),
    }
}

/// Resolves `axis` for an array of rank `rank`, naming `name` in errors.
fn axis_of(name: &str, axis: isize, rank: usize) -> usize {
    let a = if axis < 0 { axis + rank as isize } else { axis };
    if a < 0 || a >= rank as isize {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!("{name}: axis {axis} is out of range for an array of rank {rank}"),
        );
    }
    a as usize
}

/// `x` cut or zero-padded to length `n` along `axis`.
fn resize(x: &Array, axis: usize, n: usize) -> Array {
    let len = x.shape()[axis];
    if n < len {
        slice_in_dim(x, 0, n, 1, axis)
    } else if n > len {
        let mut w = vec![(0, 0); x.ndim()];
        w[axis] = (0, n - len);
        x.pad(&w, 0.0)
    } else {
        x.clone()
    }
}

/// Applies `f` (a transform of the last axis) along `axis`.
fn along(x: &Complex, axis: usize, f: impl Fn(&Complex) -> Complex) -> Complex {
    let last = x.shape().len() - 1;
    if axis == last {
        return f(x);
    }
    let moved = x.map(|a| a.moveaxis(axis as isize, -1));
    f(&moved).map(|a| a.moveaxis(-1, axis as isize))
}

fn transform(name: &str, x: &Complex, n: Option<usize>, axis: isize, inverse: bool) -> Complex {
    if x.shape().is_empty() {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!("{name}: needs an array of rank >= 1, got a scalar"),
        );
    }
    let ax = axis_of(name, axis, x.shape().len());
    let n = n.unwrap_or(x.shape()[ax]);
    if n == 0 {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!("{name}: invalid number of points 0 along axis {axis}"),
        );
    }
    let x = x.map(|a| resize(a, ax, n));
    along(&x, ax, |c| dft_last(c, inverse))
}

/// The 1-d DFT along `axis` (`jnp.fft.fft`); `n` cuts or zero-pads the input
/// first.
///
/// ```
/// use oxjax::{Array, fft::{self, Complex}};
/// let x = Complex::from_real(&Array::from_vec(vec![1.0f32, 0.0, 0.0, 0.0], &[4]));
/// assert_eq!(fft::fft(&x, None, -1).re.to_vec::<f32>(), vec![1.0; 4]);
/// ```
pub fn fft(x: &Complex, n: Option<usize>, axis: isize) -> Complex {
    transform("fft", x, n, axis, false)
}

/// The inverse 1-d DFT (`jnp.fft.ifft`), scaled by `1/n`.
///
/// ```
/// use oxjax::{Array, fft::{self, Complex}};
/// let x = Complex::from_real(&Array::from_vec(vec![1.0f64, 2.0, 3.0], &[3]));
/// let back = fft::ifft(&fft::fft(&x, None, -1), None, -1).re.to_vec::<f64>();
/// assert!(back.iter().zip([1.0, 2.0, 3.0]).all(|(a, b)| (a - b).abs() < 1e-12));
/// ```
pub fn ifft(x: &Complex, n: Option<usize>, axis: isize) -> Complex {
    transform("ifft", x, n, axis, true)
}

/// The DFT of a real array, non-negative frequencies only: `n/2 + 1` bins
/// along `axis` (`jnp.fft.rfft`).
///
/// ```
/// use oxjax::{Array, fft};
/// let y = fft::rfft(&Array::from_vec(vec![1.0f32, 1.0, 1.0, 1.0], &[4]), None, 0);
/// assert_eq!(y.re.to_vec::<f32>(), vec![4.0, 0.0, 0.0]);
/// ```
pub fn rfft(x: &Array, n: Option<usize>, axis: isize) -> Complex {
    if x.ndim() == 0 {
        crate::error::fail(
            crate::ErrorKind::Shape,
            "rfft: needs an array of rank >= 1, got a scalar",
        );
    }
    let ax = axis_of("rfft", axis, x.ndim());
    let n = n.unwrap_or(x.shape()[ax]);
    let full = transform("rfft", &Complex::from_real(x), Some(n), axis, false);
    full.map(|a| slice_in_dim(a, 0, n / 2 + 1, 1, ax))
}

/// The inverse of [`rfft`] (`jnp.fft.irfft`): a real array of length `n`
/// (default `2 (m - 1)` for `m` input bins) along `axis`, from the
/// non-negative frequencies of a Hermitian spectrum.
///
/// ```
/// use oxjax::{Array, fft};
/// let x = Array::from_vec(vec![1.0f64, 5.0, 2.0, 0.0, 3.0], &[5]);
/// let back = fft::irfft(&fft::rfft(&x, None, 0), Some(5), 0).to_vec::<f64>();
/// assert!(back.iter().zip([1.0, 5.0, 2.0, 0.0, 3.0]).all(|(a, b)| (a - b).abs() < 1e-12));
/// ```
pub fn irfft(x: &Complex, n: Option<usize>, axis: isize) -> Array {
    if x.shape().is_empty() {
        crate::error::fail(
            crate::ErrorKind::Shape,
            "irfft: needs an array of rank >= 1, got a scalar",
        );
    }
    let ax = axis_of("irfft", axis, x.shape().len());
    let m_in = x.shape()[ax];
    // As JAX: a single bin (or none) with the default length gives an
    // empty axis; only an explicit `n = 0` is an error.
    if n.is_none() && m_in <= 1 {
        return slice_in_dim(&x.re, 0, 0, 1, ax);
    }
    let n = n.unwrap_or(2 * m_in.saturating_sub(1));
    if n == 0 {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "irfft: invalid number of output points 0 (input has {m_in} bins along axis {axis})"
            ),
        );
    }
    let m = n / 2 + 1;
    let half = x.map(|a| resize(a, ax, m));
    // Bins m..n are the conjugates of bins n-m..1.
    let mirror = half
        .map(|a| slice_in_dim(a, 1, n - m + 1, 1, ax).flip(&[ax as isize]))
        .conj();
    let full = Complex {
        re: Array::concatenate(&[&half.re, &mirror.re], ax as isize),
        im: Array::concatenate(&[&half.im, &mirror.im], ax as isize),
    };
    transform("irfft", &full, None, axis, true).re
}

// ---- n-d transforms --------------------------------------------------------------

/// `(sizes, axes)` of an n-d transform: NumPy's defaults (all axes, or the
/// last `len(s)` axes when only `s` is given).
fn plan(
    name: &str,
    shape: &[usize],
    s: Option<&[usize]>,
    axes: Option<&[isize]>,
) -> Vec<(Option<usize>, isize)> {
    let rank = shape.len() as isize;
    let axes: Vec<isize> = match (axes, s) {
        (Some(a), _) => a.to_vec(),
        (None, Some(s)) => (rank - s.len() as isize..rank).collect(),
        (None, None) => (0..rank).collect(),
    };
    if let Some(s) = s
        && s.len() != axes.len()
    {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "{name}: s {s:?} and axes {axes:?} must have the same length (shape {shape:?})"
            ),
        );
    }
    axes.iter()
        .enumerate()
        .map(|(i, &a)| (s.map(|s| s[i]), a))
        .collect()
}

/// The n-d DFT over `axes` (`jnp.fft.fftn`), one 1-d transform per axis;
/// `s` gives the lengths (cut or zero-padded).
///
/// ```
/// use oxjax::{Array, fft::{self, Complex}};
/// let x = Complex::from_real(&Array::ones(&[2, 4], oxjax::DType::F32));
/// let y = fft::fftn(&x, None, None);
/// assert_eq!(y.re.to_vec::<f32>()[0], 8.0);
/// ```
pub fn fftn(x: &Complex, s: Option<&[usize]>, axes: Option<&[isize]>) -> Complex {
    plan("fftn", x.shape(), s, axes)
        .into_iter()
        .fold(x.clone(), |y, (n, a)| transform("fftn", &y, n, a, false))
}

/// The inverse n-d DFT (`jnp.fft.ifftn`).
pub fn ifftn(x: &Complex, s: Option<&[usize]>, axes: Option<&[isize]>) -> Complex {
    plan("ifftn", x.shape(), s, axes)
        .into_iter()
        .fold(x.clone(), |y, (n, a)| transform("ifftn", &y, n, a, true))
}

/// The n-d DFT of a real array (`jnp.fft.rfftn`): [`rfft`] over the last
/// of `axes`, then full transforms over the others.
///
/// ```
/// use oxjax::{Array, fft};
/// let y = fft::rfftn(&Array::ones(&[2, 4], oxjax::DType::F32), None, None);
/// assert_eq!(y.shape(), &[2, 3]);
/// ```
pub fn rfftn(x: &Array, s: Option<&[usize]>, axes: Option<&[isize]>) -> Complex {
    let mut p = plan("rfftn", x.shape(), s, axes);
    let Some((n, a)) = p.pop() else {
        crate::error::fail(crate::ErrorKind::Shape, "rfftn: needs at least one axis");
    };
    let y = rfft(x, n, a);
    p.into_iter()
        .fold(y, |y, (n, a)| transform("rfftn", &y, n, a, false))
}

/// The inverse of [`rfftn`] (`jnp.fft.irfftn`): inverse transforms over all
/// but the last of `axes`, then [`irfft`] over it (length `s[-1]`, default
/// `2 (m - 1)`).
///
/// ```
/// use oxjax::{Array, fft};
/// let x = Array::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
/// let back = fft::irfftn(&fft::rfftn(&x, None, None), Some(&[2, 3]), None).to_vec::<f64>();
/// assert!(back.iter().zip(1..=6).all(|(a, b)| (a - b as f64).abs() < 1e-12));
/// ```
pub fn irfftn(x: &Complex, s: Option<&[usize]>, axes: Option<&[isize]>) -> Array {
    let mut p = plan("irfftn", x.shape(), s, axes);
    let Some((n, a)) = p.pop() else {
        crate::error::fail(crate::ErrorKind::Shape, "irfftn: needs at least one axis");
    };
    let y = p
        .into_iter()
        .fold(x.clone(), |y, (n, a)| transform("irfftn", &y, n, a, true));
    irfft(&y, n, a)
}

const LAST_TWO: &[isize] = &[-2, -1];

/// [`fftn`] over `axes` (default the last two; `jnp.fft.fft2`).
pub fn fft2(x: &Complex, s: Option<&[usize]>, axes: Option<&[isize]>) -> Complex {
    fftn(x, s, Some(axes.unwrap_or(LAST_TWO)))
}

/// [`ifftn`] over `axes` (default the last two; `jnp.fft.ifft2`).
pub fn ifft2(x: &Complex, s: Option<&[usize]>, axes: Option<&[isize]>) -> Complex {
    ifftn(x, s, Some(axes.unwrap_or(LAST_TWO)))
}

/// [`rfftn`] over `axes` (default the last two; `jnp.fft.rfft2`).
pub fn rfft2(x: &Array, s: Option<&[usize]>, axes: Option<&[isize]>) -> Complex {
    rfftn(x, s, Some(axes.unwrap_or(LAST_TWO)))
}

/// [`irfftn`] over `axes` (default the last two; `jnp.fft.irfft2`).
pub fn irfft2(x: &Complex, s: Option<&[usize]>, axes: Option<&[isize]>) -> Array {
    irfftn(x, s, Some(axes.unwrap_or(LAST_TWO)))
}

// ---- frequencies and shifts ------------------------------------------------------

fn host_vec(values: &[f64], dtype: DType) -> Array {
    let like = Array::zeros(&[], if dtype.is_float() { dtype } else { DType::F32 });
    host_const(values, &[values.len()], &like)
}

/// The sample frequencies of an `n`-point DFT with spacing `d`:
/// `[0, 1, ..., -(n/2), ..., -1] / (d n)` (`jnp.fft.fftfreq`).
///
/// ```
/// use oxjax::{DType, fft};
/// assert_eq!(fft::fftfreq(4, 1.0, DType::F32).to_vec::<f32>(), vec![0.0, 0.25, -0.5, -0.25]);
/// ```
pub fn fftfreq(n: usize, d: f64, dtype: DType) -> Array {
    let pos = n.div_ceil(2);
    let v: Vec<f64> = (0..n)
        .map(|i| {
            let k = if i < pos {
                i as f64
            } else {
                i as f64 - n as f64
            };
            k / (d * n as f64)
        })
        .collect();
    host_vec(&v, dtype)
}

/// The non-negative sample frequencies of [`rfft`]:
/// `[0, 1, ..., n/2] / (d n)` (`jnp.fft.rfftfreq`).
///
/// ```
/// use oxjax::{DType, fft};
/// assert_eq!(fft::rfftfreq(5, 0.5, DType::F32).to_vec::<f32>(), vec![0.0, 0.4, 0.8]);
/// ```
pub fn rfftfreq(n: usize, d: f64, dtype: DType) -> Array {
    let v: Vec<f64> = (0..n / 2 + 1).map(|i| i as f64 / (d * n as f64)).collect();
    host_vec(&v, dtype)
}

/// `x` rolled by `shift(len)` along each of `axes` (all axes when `None`).
fn roll(name: &str, x: &Array, axes: Option<&[isize]>, shift: impl Fn(usize) -> usize) -> Array {
    let all: Vec<isize> = (0..x.ndim() as isize).collect();
    axes.unwrap_or(&all).iter().fold(x.clone(), |y, &a| {
        let ax = axis_of(name, a, y.ndim());
        let n = y.shape()[ax];
        let k = shift(n) % n.max(1);
        if k == 0 {
            return y;
        }
        let (head, tail) = (
            slice_in_dim(&y, 0, n - k, 1, ax),
            slice_in_dim(&y, n - k, n, 1, ax),
        );
        Array::concatenate(&[&tail, &head], ax as isize)
    })
}

/// Moves the zero frequency to the centre: rolls each axis by `n/2`
/// (`jnp.fft.fftshift`). Use `Tree::map` to shift a [`Complex`].
///
/// ```
/// use oxjax::{Array, fft};
/// let x = Array::from_vec(vec![0i32, 1, 2, -2, -1], &[5]);
/// assert_eq!(fft::fftshift(&x, None).to_vec::<i32>(), vec![-2, -1, 0, 1, 2]);
/// ```
pub fn fftshift(x: &Array, axes: Option<&[isize]>) -> Array {
    roll("fftshift", x, axes, |n| n / 2)
}

/// The inverse of [`fftshift`] (`jnp.fft.ifftshift`).
///
/// ```
/// use oxjax::{Array, fft};
/// let x = Array::from_vec(vec![-2i32, -1, 0, 1, 2], &[5]);
/// assert_eq!(fft::ifftshift(&x, None).to_vec::<i32>(), vec![0, 1, 2, -2, -1]);
/// ```
pub fn ifftshift(x: &Array, axes: Option<&[isize]>) -> Array {
    roll("ifftshift", x, axes, |n| n - n / 2)
}
