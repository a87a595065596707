//! Sliding windows: padding rules, strided window extraction (im2col) and
//! `reduce_window`. A window's elements are strided slices of the padded
//! (and dilated) operand, so transformations see only slices, pads and
//! reductions.

use crate::error::{ErrorKind, Result, err};
use crate::{Array, DType, Slice};

/// How a convolution or window pads its spatial axes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: only windows that fit.
    Valid,
    /// Output size `ceil(in / stride)`, the extra padding after (XLA's `SAME`).
    Same,
    /// As `Same` with the extra padding before.
    SameLower,
    /// `(low, high)` per spatial axis; negative values crop.
    Explicit(Vec<(isize, isize)>),
}

/// The `(low, high)` padding of each axis for a padding rule, given input
/// sizes, (dilated) window sizes and strides.
///
/// ```
/// use oxjax::lax::{Padding, padtype_to_pads};
/// assert_eq!(padtype_to_pads(&[5], &[3], &[2], &Padding::Same), vec![(1, 1)]);
/// assert_eq!(padtype_to_pads(&[4], &[3], &[1], &Padding::Same), vec![(1, 1)]);
/// assert_eq!(padtype_to_pads(&[4], &[2], &[1], &Padding::SameLower), vec![(1, 0)]);
/// ```
pub fn padtype_to_pads(
    in_shape: &[usize],
    window: &[usize],
    strides: &[usize],
    padding: &Padding,
) -> Vec<(isize, isize)> {
    match padding {
        Padding::Valid => vec![(0, 0); in_shape.len()],
        Padding::Explicit(p) => p.clone(),
        Padding::Same | Padding::SameLower => in_shape
            .iter()
            .zip(window)
            .zip(strides)
            .map(|((&n, &k), &s)| {
                let out = n.div_ceil(s.max(1));
                let total = ((out.max(1) - 1) * s + k).saturating_sub(n) as isize;
                let small = total / 2;
                if *padding == Padding::Same {
                    (small, total - small)
                } else {
                    (total - small, small)
                }
            })
            .collect(),
    }
}

/// Normalised window geometry for the axes `first..first + n` of an operand.
pub(crate) struct Windows {
    pub strides: Vec<usize>,
    pub pads: Vec<(isize, isize)>,
    pub base_dilation: Vec<usize>,
    pub window_dilation: Vec<usize>,
}

fn ones_or(name: &str, v: Option<&[usize]>, n: usize, what: &str) -> Result<Vec<usize>> {
    match v {
        None => Ok(vec![1; n]),
        Some(v) if v.len() == n && v.iter().all(|&d| d >= 1) => Ok(v.to_vec()),
        Some(v) => err(
            ErrorKind::Value,
            format!("{name}: {what} {v:?} needs {n} entries, each at least 1"),
        ),
    }
}

impl Windows {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: &str,
        in_sizes: &[usize],
        window: &[usize],
        strides: &[usize],
        padding: &Padding,
        base_dilation: Option<&[usize]>,
        window_dilation: Option<&[usize]>,
    ) -> Result<Windows> {
        let n = in_sizes.len();
        let strides = ones_or(name, Some(strides), n, "window_strides")?;
        let base_dilation = ones_or(name, base_dilation, n, "lhs/base dilation")?;
        let window_dilation = ones_or(name, window_dilation, n, "rhs/window dilation")?;
        let eff: Vec<usize> = window
            .iter()
            .zip(&window_dilation)
            .map(|(&k, &d)| if k == 0 { 0 } else { (k - 1) * d + 1 })
            .collect();
        let pads = padtype_to_pads(in_sizes, &eff, &strides, padding);
        if pads.len() != n {
            return err(
                ErrorKind::Value,
                format!("{name}: padding {padding:?} needs {n} (low, high) pairs"),
            );
        }
        Ok(Windows {
            strides,
            pads,
            base_dilation,
            window_dilation,
        })
    }

    /// The operand padded (value `fill`) and base-dilated on axes `first..`,
    /// then every window element as a strided slice of shape
    /// `[..., out sizes...]`, in row-major order of the window position.
    pub(crate) fn slices(
        &self,
        x: &Array,
        first: usize,
        window: &[usize],
        fill: f64,
    ) -> Result<(Vec<Array>, Vec<usize>)> {
        let n = window.len();
        let mut config = vec![(0isize, 0isize, 0usize); x.ndim()];
        for i in 0..n {
            let (lo, hi) = self.pads[i];
            config[first + i] = (lo, hi, self.base_dilation[i] - 1);
        }
        let xp = super::elementwise::try_pad(x, fill, &config)?;
        let out: Vec<usize> = window
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let size = xp.shape()[first + i];
                let eff = if k == 0 {
                    0
                } else {
                    (k - 1) * self.window_dilation[i] + 1
                };
                if size >= eff && k > 0 {
                    (size - eff) / self.strides[i] + 1
                } else {
                    0
                }
            })
            .collect();
        let count: usize = window.iter().product();
        let mut pieces = Vec::with_capacity(count);
        for flat in 0..count {
            let mut rem = flat;
            let mut pos = vec![0; n];
            for i in (0..n).rev() {
                pos[i] = rem % window[i];
                rem /= window[i];
            }
            let mut s = vec![Slice::all(); x.ndim()];
            for i in 0..n {
                let start = pos[i] * self.window_dilation[i];
                let len = out[i];
                s[first + i] = Slice {
                    start: Some(start as isize),
                    stop: Some(if len == 0 {
                        start as isize
                    } else {
                        (start + (len - 1) * self.strides[i] + 1) as isize
                    }),
                    step: self.strides[i] as isize,
                };
            }
            pieces.push(xp.try_slice(&s)?);
        }
        Ok((pieces, out))
    }
}

/// What [`reduce_window`] computes over each window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowReduction {
    /// Sum (padding adds 0): sum pooling; divide for average pooling.
    Sum,
    /// Maximum (padding is -Inf, or the dtype's minimum): max pooling.
    Max,
    /// Minimum (padding is +Inf, or the dtype's maximum).
    Min,
    /// Product (padding is 1).
    Prod,
}

/// Reduces each window of `window_dimensions` (one per axis of `x`), moved
/// by `window_strides`, with padding filled by the reduction's identity.
///
/// [`reduce_window_with`] takes a user computation and init value (JAX's
/// general form).
///
/// ```
/// use oxjax::{Array, lax};
/// use lax::{Padding, WindowReduction};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0], &[5]);
/// let s = lax::reduce_window(&x, WindowReduction::Sum, &[2], &[1], &Padding::Valid, None, None);
/// assert_eq!(s.to_vec::<f32>(), vec![3.0, 5.0, 7.0, 9.0]);
/// let m = lax::reduce_window(&x, WindowReduction::Max, &[3], &[2], &Padding::Same, None, None);
/// assert_eq!(m.to_vec::<f32>(), vec![2.0, 4.0, 5.0]);
/// ```
pub fn reduce_window(
    x: &Array,
    op: WindowReduction,
    window_dimensions: &[usize],
    window_strides: &[usize],
    padding: &Padding,
    base_dilation: Option<&[usize]>,
    window_dilation: Option<&[usize]>,
) -> Array {
    try_reduce_window(
        x,
        op,
        window_dimensions,
        window_strides,
        padding,
        base_dilation,
        window_dilation,
    )
    .unwrap_or_else(|e| crate::error::raise(e))
}

/// [`reduce_window`], returning misuse as an error.
pub fn try_reduce_window(
    x: &Array,
    op: WindowReduction,
    window_dimensions: &[usize],
    window_strides: &[usize],
    padding: &Padding,
    base_dilation: Option<&[usize]>,
    window_dilation: Option<&[usize]>,
) -> Result<Array> {
    let name = "reduce_window";
    if window_dimensions.len() != x.ndim() {
        return err(
            ErrorKind::Shape,
            format!(
                "{name}: window {window_dimensions:?} needs one size per axis of shape {:?}",
                x.shape()
            ),
        );
    }
    let geometry = Windows::new(
        name,
        x.shape(),
        window_dimensions,
        window_strides,
        padding,
        base_dilation,
        window_dilation,
    )?;
    let int = !x.dtype().is_float();
    let fill = match op {
        WindowReduction::Sum => 0.0,
        WindowReduction::Prod => 1.0,
        WindowReduction::Max if x.dtype() == DType::BOOL => 0.0,
        WindowReduction::Min if x.dtype() == DType::BOOL => 1.0,
        WindowReduction::Max if x.dtype() == DType::U32 => 0.0,
        WindowReduction::Min if x.dtype() == DType::U32 => u32::MAX as f64,
        WindowReduction::Max if int => i32::MIN as f64,
        WindowReduction::Min if int => i32::MAX as f64,
        WindowReduction::Max => f64::NEG_INFINITY,
        WindowReduction::Min => f64::INFINITY,
    };
    let (pieces, _) = geometry.slices(x, 0, window_dimensions, fill)?;
    let stacked: Vec<Array> = pieces.iter().map(|p| p.expand_dims(-1)).collect();
    let all = Array::try_concatenate(&stacked.iter().collect::<Vec<_>>(), -1)?;
    Ok(match op {
        WindowReduction::Sum => all.sum(-1, false),
        WindowReduction::Prod => all.prod(-1, false),
        WindowReduction::Max => all.max(-1, false),
        WindowReduction::Min => all.min(-1, false),
    })
}

/// `lax.reduce_window(operand, init_value, computation, ...)` with a user
/// binary `computation`: the padding holds `init_value`, and each window's
/// elements (strided slices of the operand) are combined by a pairwise tree
/// of `computation` calls, then once with `init_value` (XLA requires the
/// computation to be a monoid with that identity, so the order does not
/// matter). Composed of slices and the user's ops, it is differentiable
/// wherever they are (JAX differentiates only the built-in monoids:
/// [`reduce_window`]).
///
/// ```
/// use oxjax::{Array, lax, numpy as jnp};
/// use lax::Padding;
/// let x = Array::from_vec(vec![1.0f32, -4.0, 3.0, 2.0, -5.0], &[5]);
/// // The largest magnitude in each window of 2.
/// let f = |a: &Array, b: &Array| jnp::where_(&a.abs().greater_equal(b.abs()), a, b);
/// let y = lax::reduce_window_with(&x, 0.0, f, &[2], &[1], &Padding::Valid, None, None);
/// assert_eq!(y.to_vec::<f32>(), vec![-4.0, -4.0, 3.0, -5.0]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn reduce_window_with(
    x: &Array,
    init_value: f64,
    computation: impl Fn(&Array, &Array) -> Array,
    window_dimensions: &[usize],
    window_strides: &[usize],
    padding: &Padding,
    base_dilation: Option<&[usize]>,
    window_dilation: Option<&[usize]>,
) -> Array {
    let name = "reduce_window";
    if window_dimensions.len() != x.ndim() {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!(
                "{name}: window {window_dimensions:?} needs one size per axis of shape {:?}",
                x.shape()
            ),
        );
    }
    let geometry = Windows::new(
        name,
        x.shape(),
        window_dimensions,
        window_strides,
        padding,
        base_dilation,
        window_dilation,
    )
    .unwrap_or_else(|e| crate::error::raise(e));
    let (mut pieces, out) = geometry
        .slices(x, 0, window_dimensions, init_value)
        .unwrap_or_else(|e| crate::error::raise(e));
    let init = Array::scalar_of(crate::Scalar::F64(init_value).cast(x.dtype()));
    if pieces.is_empty() {
        return init.broadcast_to(&out);
    }
    while pieces.len() > 1 {
        let mut next: Vec<Array> = pieces
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| computation(&c[0], &c[1]))
            .collect();
        if pieces.len() % 2 == 1 {
            next.push(pieces.pop().expect("an odd last piece"));
        }
        pieces = next;
    }
    computation(&init.broadcast_to(pieces[0].shape()), &pieces[0])
}
