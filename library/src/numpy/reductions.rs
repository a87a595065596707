//! Reductions over any set of axes, with `keepdims`, including statistics
//! (`var`, `std` with `ddof`, weighted `average`) and the NaN-ignoring
//! variants.

use super::float_of;
use crate::{Array, Axes, DType};

/// The number of elements a reduction over `axes` combines.
fn count(name: &str, x: &Array, axes: &Axes) -> usize {
    let axes = axes
        .resolve(name, x.ndim())
        .unwrap_or_else(|e| crate::error::raise(e));
    axes.iter().map(|&d| x.shape()[d]).product()
}

/// Sum over `axes` (bool sums to i32).
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::sum(&x, 0, false).to_vec::<f32>(), vec![4.0, 6.0]);
/// assert_eq!(jnp::sum(&x, Axes::All, true).shape(), &[1, 1]);
/// ```
pub fn sum(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.sum(axes, keepdims)
}

/// Product over `axes`.
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::prod(&x, Axes::All, false).item::<f32>(), 24.0);
/// ```
pub fn prod(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.prod(axes, keepdims)
}

/// Arithmetic mean (integers give f32).
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
/// assert_eq!(jnp::mean(&x, 1, false).to_vec::<f32>(), vec![1.5, 3.5]);
/// ```
pub fn mean(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.mean(axes, keepdims)
}

/// Maximum over `axes`; NaN propagates.
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 5.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::max(&x, 1, false).to_vec::<f32>(), vec![5.0, 4.0]);
/// ```
pub fn max(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.max(axes, keepdims)
}

/// Minimum over `axes`; NaN propagates.
///
/// Partial: no dtype, out, initial or where arguments.
pub fn min(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.min(axes, keepdims)
}

/// Alias of [`max`].
///
/// Partial: no dtype, out, initial or where arguments.
pub fn amax(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.max(axes, keepdims)
}

/// Alias of [`min`].
///
/// Partial: no dtype, out, initial or where arguments.
pub fn amin(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.min(axes, keepdims)
}

/// True where all elements along `axes` are non-zero.
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![1i32, 0], &[2]);
/// assert!(!jnp::all(&x, Axes::All, false).item::<bool>());
/// assert!(jnp::any(&x, Axes::All, false).item::<bool>());
/// ```
pub fn all(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.all(axes, keepdims)
}

/// True where some element along `axes` is non-zero.
///
/// Partial: no dtype, out, initial or where arguments.
pub fn any(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.any(axes, keepdims)
}

fn keep_axis(r: Array, x: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    if !keepdims {
        return r;
    }
    match axis {
        None => r.reshape(&vec![1; x.ndim()]),
        Some(a) => r.expand_dims(a),
    }
}

/// Index (i32) of the first maximum along `axis` (`None`: flattened).
///
/// ```
/// use oxjax::{Array, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 5.0, 7.0, 4.0], &[2, 2]);
/// assert_eq!(jnp::argmax(&x, Some(1), false).to_vec::<i32>(), vec![1, 0]);
/// assert_eq!(jnp::argmax(&x, None, false).item::<i32>(), 2);
/// ```
pub fn argmax(x: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    keep_axis(x.argmax(axis), x, axis, keepdims)
}

/// Index (i32) of the first minimum along `axis` (`None`: flattened).
pub fn argmin(x: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    keep_axis(x.argmin(axis), x, axis, keepdims)
}

/// Peak to peak: `max - min`.
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![3.0f32, -1.0, 2.0], &[3]);
/// assert_eq!(jnp::ptp(&x, Axes::All, false).item::<f32>(), 4.0);
/// ```
pub fn ptp(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    let axes = axes.into();
    x.max(axes.clone(), keepdims) - x.min(axes, keepdims)
}

/// Number of non-zero elements (i32).
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![3.0f32, 0.0, 2.0], &[3]);
/// assert_eq!(jnp::count_nonzero(&x, Axes::All, false).item::<i32>(), 2);
/// ```
pub fn count_nonzero(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    x.astype(DType::BOOL).sum(axes, keepdims)
}

/// Variance with `ddof` delta degrees of freedom: the mean squared
/// deviation times `n / (n - ddof)`.
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]);
/// assert_eq!(jnp::var(&x, Axes::All, 0, false).item::<f32>(), 1.25);
/// assert!((jnp::std(&x, Axes::All, 1, false).item::<f32>() - 1.2909944).abs() < 1e-6);
/// ```
pub fn var(x: &Array, axes: impl Into<Axes>, ddof: usize, keepdims: bool) -> Array {
    let axes = axes.into();
    let x = float_of(x);
    let n = count("var", &x, &axes);
    // Shifted by one sample (the first along the reduced axes) before the
    // two passes: the variance does not change, but a large common offset
    // (16777216 + arange(4096) in f32) no longer swamps the mean's sum.
    let reduced = axes
        .resolve("var", x.ndim())
        .unwrap_or_else(|e| crate::error::raise(e));
    let first: Vec<crate::Slice> = (0..x.ndim())
        .map(|d| {
            if reduced.contains(&d) && x.shape()[d] > 0 {
                crate::Slice::from(0..1)
            } else {
                crate::Slice::all()
            }
        })
        .collect();
    let x = &x - x.slice(&first).stop_gradient();
    let d = &x - x.mean(axes.clone(), true);
    (&d * &d).sum(axes, keepdims) / (n.saturating_sub(ddof) as f64)
}

/// Standard deviation: `sqrt(var(x, axes, ddof))`.
///
/// Partial: no dtype, out, initial or where arguments.
pub fn std(x: &Array, axes: impl Into<Axes>, ddof: usize, keepdims: bool) -> Array {
    var(x, axes, ddof, keepdims).sqrt()
}

/// Weighted mean: `sum(x * w) / sum(w)` over `axes`. `weights` has the
/// shape of `x`, or is 1-d along the single reduced axis.
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let w = Array::from_vec(vec![3.0f32, 1.0], &[2]);
/// assert_eq!(jnp::average(&x, 1, Some(&w), false).to_vec::<f32>(), vec![1.25, 3.25]);
/// ```
pub fn average(x: &Array, axes: impl Into<Axes>, weights: Option<&Array>, keepdims: bool) -> Array {
    let axes = axes.into();
    let Some(w) = weights else {
        return x.mean(axes, keepdims);
    };
    let x = float_of(x);
    let w = if w.shape() == x.shape() {
        w.clone()
    } else {
        match &axes {
            Axes::Some(a) if a.len() == 1 && w.ndim() == 1 && x.ndim() > 0 => {
                let ax = crate::primitive::axis("average", a[0], x.ndim())
                    .unwrap_or_else(|e| crate::error::raise(e));
                let mut shape = vec![1; x.ndim()];
                shape[ax] = w.size();
                if w.size() != x.shape()[ax] {
                    crate::error::fail(
                        crate::ErrorKind::Shape,
                        format!(
                            "average: weights of shape {:?} do not fit axis {ax} of shape {:?}",
                            w.shape(),
                            x.shape()
                        ),
                    );
                }
                super::reshape_to(w, &shape)
            }
            _ => crate::error::fail(
                crate::ErrorKind::Shape,
                format!(
                    "average: weights of shape {:?} must have the shape of x {:?} or be 1-d along one axis",
                    w.shape(),
                    x.shape()
                ),
            ),
        }
    };
    (&x * &w).sum(axes.clone(), keepdims) / w.broadcast_to(x.shape()).sum(axes, keepdims)
}

/// `x` with NaN replaced by `fill` (integers: unchanged).
fn fill_nan(x: &Array, fill: f64) -> Array {
    if x.dtype().is_float() {
        Array::where_(&x.isnan(), fill, x)
    } else {
        x.clone()
    }
}

/// Sum treating NaN as 0.
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, f32::NAN, 3.0], &[3]);
/// assert_eq!(jnp::nansum(&x, Axes::All, false).item::<f32>(), 4.0);
/// assert_eq!(jnp::nanmean(&x, Axes::All, false).item::<f32>(), 2.0);
/// assert_eq!(jnp::nanmax(&x, Axes::All, false).item::<f32>(), 3.0);
/// assert_eq!(jnp::nanargmin(&x, None, false).item::<i32>(), 0);
/// ```
pub fn nansum(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    fill_nan(x, 0.0).sum(axes, keepdims)
}

/// Product treating NaN as 1.
///
/// Partial: no dtype, out, initial or where arguments.
pub fn nanprod(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    fill_nan(x, 1.0).prod(axes, keepdims)
}

/// How many non-NaN elements each reduction combines (in `x`'s float dtype).
fn nan_count(x: &Array, axes: Axes, keepdims: bool) -> Array {
    let x = float_of(x);
    x.isnan()
        .logical_not()
        .astype(x.dtype())
        .sum(axes, keepdims)
}

/// Mean of the non-NaN elements (NaN where there are none).
///
/// Partial: no dtype, out, initial or where arguments.
pub fn nanmean(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    let axes = axes.into();
    let x = float_of(x);
    nansum(&x, axes.clone(), keepdims) / nan_count(&x, axes, keepdims)
}

/// Variance of the non-NaN elements with `ddof`.
///
/// Partial: no dtype, out, initial or where arguments.
///
/// ```
/// use oxjax::{Array, Axes, numpy as jnp};
/// let x = Array::from_vec(vec![1.0f32, f32::NAN, 3.0], &[3]);
/// assert_eq!(jnp::nanvar(&x, Axes::All, 0, false).item::<f32>(), 1.0);
/// ```
pub fn nanvar(x: &Array, axes: impl Into<Axes>, ddof: usize, keepdims: bool) -> Array {
    let axes = axes.into();
    let x = float_of(x);
    let d = &x - nanmean(&x, axes.clone(), true);
    let n = nan_count(&x, axes.clone(), keepdims) - ddof as f64;
    nansum(&(&d * &d), axes, keepdims) / n.maximum(0.0)
}

/// Standard deviation of the non-NaN elements with `ddof`.
///
/// Partial: no dtype, out, initial or where arguments.
pub fn nanstd(x: &Array, axes: impl Into<Axes>, ddof: usize, keepdims: bool) -> Array {
    nanvar(x, axes, ddof, keepdims).sqrt()
}

fn nan_extreme(x: &Array, axes: Axes, keepdims: bool, max: bool) -> Array {
    if !x.dtype().is_float() {
        return if max {
            x.max(axes, keepdims)
        } else {
            x.min(axes, keepdims)
        };
    }
    let fill = if max {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };
    let filled = fill_nan(x, fill);
    let r = if max {
        filled.max(axes.clone(), keepdims)
    } else {
        filled.min(axes.clone(), keepdims)
    };
    let none = x.isnan().all(axes, keepdims);
    Array::where_(&none, f64::NAN, &r)
}

/// Maximum ignoring NaN (NaN where every element is NaN).
///
/// Partial: no dtype, out, initial or where arguments.
pub fn nanmax(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    nan_extreme(x, axes.into(), keepdims, true)
}

/// Minimum ignoring NaN (NaN where every element is NaN).
///
/// Partial: no dtype, out, initial or where arguments.
pub fn nanmin(x: &Array, axes: impl Into<Axes>, keepdims: bool) -> Array {
    nan_extreme(x, axes.into(), keepdims, false)
}

fn nan_arg(x: &Array, axis: Option<isize>, keepdims: bool, max: bool) -> Array {
    if !x.dtype().is_float() {
        return if max {
            argmax(x, axis, keepdims)
        } else {
            argmin(x, axis, keepdims)
        };
    }
    let fill = if max {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };
    let filled = fill_nan(x, fill);
    let i = if max {
        filled.argmax(axis)
    } else {
        filled.argmin(axis)
    };
    let none = match axis {
        None => x.isnan().all(Axes::All, false),
        Some(a) => x.isnan().all(a, false),
    };
    keep_axis(Array::where_(&none, -1, &i), x, axis, keepdims)
}

/// Index of the first maximum ignoring NaN (-1 where all are NaN).
pub fn nanargmax(x: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    nan_arg(x, axis, keepdims, true)
}

/// Index of the first minimum ignoring NaN (-1 where all are NaN).
pub fn nanargmin(x: &Array, axis: Option<isize>, keepdims: bool) -> Array {
    nan_arg(x, axis, keepdims, false)
}
