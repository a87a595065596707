//! `oxjax::nn::initializers`: weight initializers with
//! `jax.nn.initializers`' names, defaults and numbers.
//!
//! An [`Initializer`] is a value built once (`glorot_uniform()`,
//! `normal(0.02)`, ...) and called with a key, a shape and a dtype, like
//! JAX's `init(key, shape, dtype)`. Samples come from `oxjax::random`, so
//! for the same raw key they equal JAX's (checked against JAX 0.10.2 by
//! `library/tests/fixtures/make_initializers.py`).
//!
//! ```
//! use oxjax::nn::initializers as init;
//! use oxjax::{random, DType};
//! let (k1, k2) = random::split2(&random::key(0));
//! let w = init::glorot_uniform().init(&k1, &[3, 3, 1, 8], DType::F32); // a conv kernel, HWIO
//! let b = init::zeros(&k2, &[8], DType::F32);
//! assert_eq!((w.shape(), b.shape()), (&[3, 3, 1, 8][..], &[8][..]));
//! ```

use crate::error::{ErrorKind, Result, err};
use crate::primitive::or_panic;
use crate::random::{self, fconst};
use crate::{Array, AsArray, DType};
use std::sync::Arc;

// `Send + Sync`, as `optim::Schedule`: models holding initializers cross threads.
type InitFn = dyn Fn(&Array, &[usize], DType, &FanAxes) -> Result<Array> + Send + Sync;

/// A weight initializer: call [`Initializer::init`] with a key, a shape and
/// a float dtype. Cheap to clone.
#[derive(Clone)]
pub struct Initializer {
    f: Arc<InitFn>,
    axes: FanAxes,
}

/// Which axes of a weight shape count as inputs, outputs and batch; the
/// rest are the receptive field (a convolution's spatial axes).
#[derive(Clone, Debug, PartialEq)]
struct FanAxes {
    input: Vec<isize>,
    output: Vec<isize>,
    batch: Vec<isize>,
}

impl Default for FanAxes {
    /// JAX's defaults: inputs on axis -2, outputs on axis -1 (dense `[in, out]`
    /// and convolution `HWIO` kernels).
    fn default() -> Self {
        FanAxes {
            input: vec![-2],
            output: vec![-1],
            batch: vec![],
        }
    }
}

impl Initializer {
    fn new(
        f: impl Fn(&Array, &[usize], DType, &FanAxes) -> Result<Array> + Send + Sync + 'static,
    ) -> Self {
        Initializer {
            f: Arc::new(f),
            axes: FanAxes::default(),
        }
    }

    /// An array of `shape` and `dtype` drawn with `key`.
    ///
    /// ```
    /// use oxjax::{nn::initializers as init, random, DType};
    /// let w = init::he_normal().init(&random::key(0), &[64, 32], DType::F32);
    /// assert_eq!(w.shape(), [64, 32]);
    /// ```
    pub fn init(&self, key: &Array, shape: &[usize], dtype: DType) -> Array {
        or_panic(self.try_init(key, shape, dtype))
    }

    /// [`Initializer::init`], returning misuse (bad keys, dtypes, shapes) as
    /// an error.
    pub fn try_init(&self, key: &Array, shape: &[usize], dtype: DType) -> Result<Array> {
        (self.f)(key, shape, dtype, &self.axes)
    }

    /// The same initializer with other input, output and batch axes for its
    /// fan computation (JAX's `in_axis`, `out_axis` and `batch_axis`
    /// arguments of [`variance_scaling`] and the initializers built on it;
    /// the others ignore them).
    ///
    /// ```
    /// use oxjax::{nn::initializers as init, random, DType};
    /// // An OIHW kernel: inputs on axis 1, outputs on axis 0.
    /// let w = init::lecun_normal().fan_axes(&[1], &[0], &[]).init(&random::key(0), &[8, 4, 3, 3], DType::F32);
    /// assert_eq!(w.shape(), [8, 4, 3, 3]);
    /// ```
    pub fn fan_axes(mut self, in_axis: &[isize], out_axis: &[isize], batch_axis: &[isize]) -> Self {
        self.axes = FanAxes {
            input: in_axis.to_vec(),
            output: out_axis.to_vec(),
            batch: batch_axis.to_vec(),
        };
        self
    }
}

impl<F: Fn(&Array, &[usize], DType) -> Array + Send + Sync + 'static> From<F> for Initializer {
    /// Wraps a plain function such as [`zeros`] or [`ones`].
    fn from(f: F) -> Self {
        Initializer::new(move |k, s, d, _| Ok(f(k, s, d)))
    }
}

fn float_dtype(op: &str, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        err(
            ErrorKind::DType,
            format!("nn.initializers.{op}: dtype must be a float dtype, got {dtype}"),
        )
    }
}

/// An array of zeros; the key is unused (`jax.nn.initializers.zeros`).
///
/// ```
/// use oxjax::{nn::initializers as init, random, DType};
/// assert_eq!(init::zeros(&random::key(0), &[2], DType::F32).to_vec::<f32>(), [0.0, 0.0]);
/// ```
pub fn zeros(_key: &Array, shape: &[usize], dtype: DType) -> Array {
    Array::zeros(shape, dtype)
}

/// An array of ones; the key is unused (`jax.nn.initializers.ones`).
///
/// ```
/// use oxjax::{nn::initializers as init, random, DType};
/// assert_eq!(init::ones(&random::key(0), &[2], DType::F32).to_vec::<f32>(), [1.0, 1.0]);
/// ```
pub fn ones(_key: &Array, shape: &[usize], dtype: DType) -> Array {
    Array::ones(shape, dtype)
}

/// Arrays full of `value` (a number, or an array broadcasting to the shape)
/// (`jax.nn.initializers.constant`).
///
/// ```
/// use oxjax::{nn::initializers as init, random, DType};
/// let b = init::constant(0.1).init(&random::key(0), &[3], DType::F32);
/// assert_eq!(b.to_vec::<f32>(), [0.1, 0.1, 0.1]);
/// ```
pub fn constant(value: impl AsArray) -> Initializer {
    let value = value.as_array();
    Initializer::new(move |_, shape, dtype, _| {
        let fits = value.ndim() <= shape.len()
            && value
                .shape()
                .iter()
                .rev()
                .zip(shape.iter().rev())
                .all(|(a, s)| a == s || *a == 1);
        if !fits {
            return err(
                ErrorKind::Shape,
                format!(
                    "nn.initializers.constant: value of shape {:?} does not broadcast to {shape:?}",
                    value.shape()
                ),
            );
        }
        Ok(value.astype(dtype).broadcast_to(shape))
    })
}

/// Uniform samples in `[0, scale)` (`jax.nn.initializers.uniform`; JAX's
/// default scale is `1e-2`).
///
/// ```
/// use oxjax::{nn::initializers as init, random, Axes, DType};
/// let w = init::uniform(1e-2).init(&random::key(0), &[100], DType::F32);
/// assert!(w.max(Axes::All, false).item::<f32>() < 1e-2);
/// ```
pub fn uniform(scale: f64) -> Initializer {
    Initializer::new(move |key, shape, dtype, _| {
        float_dtype("uniform", dtype)?;
        Ok(random::try_uniform(key, shape, dtype, 0.0, 1.0)? * fconst(scale, dtype))
    })
}

/// Normal samples with standard deviation `stddev`
/// (`jax.nn.initializers.normal`; JAX's default is `1e-2`).
///
/// ```
/// use oxjax::{nn::initializers as init, random, DType};
/// let w = init::normal(0.02).init(&random::key(0), &[4, 4], DType::F32);
/// assert_eq!(w.shape(), [4, 4]);
/// ```
pub fn normal(stddev: f64) -> Initializer {
    Initializer::new(move |key, shape, dtype, _| {
        float_dtype("normal", dtype)?;
        Ok(random::try_normal(key, shape, dtype)? * fconst(stddev, dtype))
    })
}

/// `stddev` times standard normal samples truncated to `(lower, upper)`
/// (`jax.nn.initializers.truncated_normal`; JAX's defaults are `1e-2`,
/// `-2` and `2`).
///
/// ```
/// use oxjax::{nn::initializers as init, random, Axes, DType};
/// let w = init::truncated_normal(1.0, -2.0, 2.0).init(&random::key(0), &[100], DType::F32);
/// assert!(w.abs().max(Axes::All, false).item::<f32>() < 2.0);
/// ```
pub fn truncated_normal(stddev: f64, lower: f64, upper: f64) -> Initializer {
    Initializer::new(move |key, shape, dtype, _| {
        float_dtype("truncated_normal", dtype)?;
        let z = random::try_truncated_normal(key, lower, upper, shape, dtype)?;
        Ok(z * fconst(stddev, dtype))
    })
}

/// Which fan [`variance_scaling`] divides the scale by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// The number of inputs (times the receptive field).
    FanIn,
    /// The number of outputs (times the receptive field).
    FanOut,
    /// The mean of the two.
    FanAvg,
    /// Their geometric mean.
    FanGeoAvg,
}

/// The distribution [`variance_scaling`] draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// A normal truncated at two standard deviations, rescaled so the
    /// truncated variance is the target.
    TruncatedNormal,
    /// A normal.
    Normal,
    /// A uniform on `[-√(3v), √(3v))`.
    Uniform,
}

/// `(fan_in, fan_out)` of a weight shape: the input and output sizes, each
/// times the receptive field (the size of the axes that are neither input,
/// output nor batch).
fn fans(shape: &[usize], axes: &FanAxes) -> Result<(f64, f64)> {
    let rank = shape.len();
    if axes == &FanAxes::default() && rank <= 1 {
        return err(
            ErrorKind::Shape,
            format!(
                "nn.initializers.variance_scaling: cannot find the input and output sizes of a \
             {rank}-dimensional shape {shape:?} with the default axes; weights need at least 2 \
             axes, or set them with Initializer::fan_axes"
            ),
        );
    }
    let size = |ax: &[isize]| -> Result<f64> {
        ax.iter().try_fold(1.0, |p, &a| {
            let i = if a < 0 { a + rank as isize } else { a };
            if i < 0 || i >= rank as isize {
                return err(ErrorKind::Shape, format!(
                    "nn.initializers.variance_scaling: axis {a} is out of range for shape {shape:?}"
                ));
            }
            Ok(p * shape[i as usize] as f64)
        })
    };
    let (fan_in, fan_out, batch) = (size(&axes.input)?, size(&axes.output)?, size(&axes.batch)?);
    let total: f64 = shape.iter().map(|&d| d as f64).product();
    let receptive = total / fan_in / fan_out / batch;
    Ok((fan_in * receptive, fan_out * receptive))
}

/// The standard deviation of a standard normal truncated to `(-2, 2)`.
const TRUNCATED_STDDEV: f64 = 0.879_625_661_034_239_8;

/// Samples with variance `scale / n`, `n` the fan picked by `mode`
/// (`jax.nn.initializers.variance_scaling`), from a truncated normal, a
/// normal or a uniform. The fans use the last two axes as inputs and
/// outputs, the others as the receptive field; [`Initializer::fan_axes`]
/// changes that.
///
/// ```
/// use oxjax::nn::initializers::{self as init, Distribution, FanMode};
/// use oxjax::{random, Axes, DType};
/// let w = init::variance_scaling(2.0, FanMode::FanIn, Distribution::Normal)
///     .init(&random::key(0), &[400, 300], DType::F32);
/// let var = (&w * &w).mean(Axes::All, false).item::<f32>();
/// assert!((var - 2.0 / 400.0).abs() < 2e-4);
/// ```
pub fn variance_scaling(scale: f64, mode: FanMode, distribution: Distribution) -> Initializer {
    Initializer::new(move |key, shape, dtype, axes| {
        float_dtype("variance_scaling", dtype)?;
        let (fan_in, fan_out) = fans(shape, axes)?;
        let n = match mode {
            FanMode::FanIn => fan_in,
            FanMode::FanOut => fan_out,
            FanMode::FanAvg => (fan_in + fan_out) / 2.0,
            FanMode::FanGeoAvg => (fan_in * fan_out).sqrt(),
        };
        // Rounded to `dtype` before the square root, as JAX does.
        let variance = fconst(scale / n, dtype);
        Ok(match distribution {
            Distribution::TruncatedNormal => {
                let std = variance.sqrt() / fconst(TRUNCATED_STDDEV, dtype);
                random::try_truncated_normal(key, -2.0, 2.0, shape, dtype)? * std
            }
            Distribution::Normal => random::try_normal(key, shape, dtype)? * variance.sqrt(),
            Distribution::Uniform => {
                let bound = (variance * fconst(3.0, dtype)).sqrt();
                random::try_uniform(key, shape, dtype, -1.0, 1.0)? * bound
            }
        })
    })
}

/// Glorot/Xavier uniform (`jax.nn.initializers.glorot_uniform`):
/// variance `1 / fan_avg`, uniform.
///
/// ```
/// use oxjax::{nn::initializers as init, random, Axes, DType};
/// let w = init::glorot_uniform().init(&random::key(0), &[30, 70], DType::F32);
/// assert!(w.abs().max(Axes::All, false).item::<f32>() <= (6.0f32 / 100.0).sqrt());
/// ```
pub fn glorot_uniform() -> Initializer {
    variance_scaling(1.0, FanMode::FanAvg, Distribution::Uniform)
}

/// Glorot/Xavier normal (`jax.nn.initializers.glorot_normal`): variance
/// `1 / fan_avg`, truncated normal.
///
/// ```
/// let w = oxjax::nn::initializers::glorot_normal().init(&oxjax::random::key(0), &[3, 4], oxjax::DType::F32);
/// assert_eq!(w.shape(), [3, 4]);
/// ```
pub fn glorot_normal() -> Initializer {
    variance_scaling(1.0, FanMode::FanAvg, Distribution::TruncatedNormal)
}

/// [`glorot_uniform`] under its other name (`jax.nn.initializers.xavier_uniform`).
///
/// ```
/// let w = oxjax::nn::initializers::xavier_uniform().init(&oxjax::random::key(0), &[3, 4], oxjax::DType::F32);
/// assert_eq!(w.shape(), [3, 4]);
/// ```
pub fn xavier_uniform() -> Initializer {
    glorot_uniform()
}

/// [`glorot_normal`] under its other name (`jax.nn.initializers.xavier_normal`).
///
/// ```
/// let w = oxjax::nn::initializers::xavier_normal().init(&oxjax::random::key(0), &[3, 4], oxjax::DType::F32);
/// assert_eq!(w.shape(), [3, 4]);
/// ```
pub fn xavier_normal() -> Initializer {
    glorot_normal()
}

/// LeCun uniform (`jax.nn.initializers.lecun_uniform`): variance
/// `1 / fan_in`, uniform.
///
/// ```
/// let w = oxjax::nn::initializers::lecun_uniform().init(&oxjax::random::key(0), &[3, 4], oxjax::DType::F32);
/// assert_eq!(w.shape(), [3, 4]);
/// ```
pub fn lecun_uniform() -> Initializer {
    variance_scaling(1.0, FanMode::FanIn, Distribution::Uniform)
}

/// LeCun normal (`jax.nn.initializers.lecun_normal`): variance
/// `1 / fan_in`, truncated normal; the partner of SELU.
///
/// ```
/// let w = oxjax::nn::initializers::lecun_normal().init(&oxjax::random::key(0), &[3, 4], oxjax::DType::F32);
/// assert_eq!(w.shape(), [3, 4]);
/// ```
pub fn lecun_normal() -> Initializer {
    variance_scaling(1.0, FanMode::FanIn, Distribution::TruncatedNormal)
}

/// He/Kaiming uniform (`jax.nn.initializers.he_uniform`): variance
/// `2 / fan_in`, uniform; for ReLU networks.
///
/// ```
/// let w = oxjax::nn::initializers::he_uniform().init(&oxjax::random::key(0), &[3, 4], oxjax::DType::F32);
/// assert_eq!(w.shape(), [3, 4]);
/// ```
pub fn he_uniform() -> Initializer {
    variance_scaling(2.0, FanMode::FanIn, Distribution::Uniform)
}

/// He/Kaiming normal (`jax.nn.initializers.he_normal`): variance
/// `2 / fan_in`, truncated normal; for ReLU networks.
///
/// ```
/// let w = oxjax::nn::initializers::he_normal().init(&oxjax::random::key(0), &[3, 4], oxjax::DType::F32);
/// assert_eq!(w.shape(), [3, 4]);
/// ```
pub fn he_normal() -> Initializer {
    variance_scaling(2.0, FanMode::FanIn, Distribution::TruncatedNormal)
}

/// [`he_uniform`] under its other name (`jax.nn.initializers.kaiming_uniform`).
///
/// ```
/// let w = oxjax::nn::initializers::kaiming_uniform().init(&oxjax::random::key(0), &[3, 4], oxjax::DType::F32);
/// assert_eq!(w.shape(), [3, 4]);
/// ```
pub fn kaiming_uniform() -> Initializer {
    he_uniform()
}

/// [`he_normal`] under its other name (`jax.nn.initializers.kaiming_normal`).
///
/// ```
/// let w = oxjax::nn::initializers::kaiming_normal().init(&oxjax::random::key(0), &[3, 4], oxjax::DType::F32);
/// assert_eq!(w.shape(), [3, 4]);
/// ```
pub fn kaiming_normal() -> Initializer {
    he_normal()
}

/// `scale` times a random orthogonal matrix (`jax.nn.initializers.orthogonal`;
/// JAX's defaults are `1.0` and `-1`): axis `column_axis` holds the columns,
/// the other axes flatten into rows, and the shorter side is orthonormal.
/// Needs at least two axes.
///
/// ```
/// use oxjax::{nn::initializers as init, random, Array, Axes, DType};
/// let q = init::orthogonal(1.0, -1).init(&random::key(0), &[5, 3], DType::F32);
/// let err = (q.t().matmul(&q) - Array::eye(3, 3, 0, DType::F32)).abs().max(Axes::All, false);
/// assert!(err.item::<f32>() < 1e-5);
/// ```
pub fn orthogonal(scale: f64, column_axis: isize) -> Initializer {
    Initializer::new(move |key, shape, dtype, _| {
        orthogonal_init("orthogonal", key, shape, dtype, scale, column_axis)
    })
}

fn orthogonal_init(
    op: &str,
    key: &Array,
    shape: &[usize],
    dtype: DType,
    scale: f64,
    column_axis: isize,
) -> Result<Array> {
    float_dtype(op, dtype)?;
    let rank = shape.len() as isize;
    let axis = if column_axis < 0 {
        column_axis + rank
    } else {
        column_axis
    };
    if rank < 2 || axis < 0 || axis >= rank {
        return err(
            ErrorKind::Shape,
            format!(
                "nn.initializers.{op}: needs a shape of at least 2 axes with column_axis {column_axis} in range, got {shape:?}"
            ),
        );
    }
    if shape.contains(&0) {
        return Ok(Array::zeros(shape, dtype));
    }
    let cols = shape[axis as usize];
    let rows = shape.iter().product::<usize>() / cols;
    let q = random::try_orthogonal(key, rows, &[], dtype, Some(cols))?;
    let mut flat: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
    flat.remove(axis as usize);
    flat.push(cols as isize);
    Ok(fconst(scale, dtype) * q.reshape(&flat).moveaxis(-1, axis))
}

/// Delta-orthogonal convolution kernels (`jax.nn.initializers.delta_orthogonal`,
/// Xiao et al. 2018): zero except at the spatial centre, which holds an
/// orthogonal `[in, out]` matrix times `scale`, so the convolution starts
/// as an isometry. For 3-, 4- and 5-axis kernels with spatial axes first
/// (`WIO`, `HWIO`, `DHWIO`) and `in <= out`.
///
/// ```
/// use oxjax::{nn::initializers as init, random, DType};
/// let w = init::delta_orthogonal(1.0, -1).init(&random::key(0), &[3, 3, 4, 4], DType::F32);
/// assert_eq!(w.shape(), [3, 3, 4, 4]);
/// ```
pub fn delta_orthogonal(scale: f64, column_axis: isize) -> Initializer {
    Initializer::new(move |key, shape, dtype, _| {
        let rank = shape.len();
        if !(3..=5).contains(&rank) || shape[rank - 1] < shape[rank - 2] {
            return err(
                ErrorKind::Shape,
                format!(
                    "nn.initializers.delta_orthogonal: needs a 3-, 4- or 5-axis kernel with in <= out \
                 (the last two axes), got {shape:?}"
                ),
            );
        }
        let m = orthogonal_init(
            "delta_orthogonal",
            key,
            &shape[rank - 2..],
            dtype,
            scale,
            column_axis,
        )?;
        let spatial = &shape[..rank - 2];
        let centre = spatial.iter().fold(0, |i, &k| i * k + (k - 1) / 2);
        let mut one_hot = vec![0.0f32; spatial.iter().product()];
        one_hot[centre] = 1.0;
        let mut mask_shape = spatial.to_vec();
        mask_shape.extend([1, 1]);
        Ok(Array::from_vec(one_hot, &mask_shape).astype(dtype) * m)
    })
}
