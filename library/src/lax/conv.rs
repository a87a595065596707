//! Convolutions: `conv_general_dilated` is one primitive (rules in
//! `trace::conv_rules`, evaluated by the CONV routine); `conv`,
//! `conv_transpose` and friends are conveniences over it. Patches are
//! still strided slices of the padded input.

use super::window::{Padding, Windows, padtype_to_pads};
use crate::Array;
use crate::error::{ErrorKind, Result, err};
pub use crate::primitive::conv_rules::ConvDimensionNumbers;
use crate::primitive::conv_rules::{self, ConvParams};

/// N-d convolution (cross-correlation, as in XLA) of `lhs` with the kernel
/// `rhs`: `window_strides`, `padding`, `lhs_dilation` (interior zeros in
/// the input: transposed convolutions), `rhs_dilation` (atrous kernels),
/// `dimension_numbers` (`None`: NCH.../OIH.../NCH...) and
/// `feature_group_count` (grouped and depthwise convolutions),
/// `batch_group_count` (output feature group `k` reads the `k`-th slice of
/// the batch: how JAX differentiates grouped convolutions with respect to
/// the kernel). Dilations default to 1 when `None`.
///
/// Partial: no precision or preferred_element_type.
///
/// ```
/// use oxjax::{Array, lax};
/// // One 1-d signal, one channel, kernel [1, 1]: sums of neighbours.
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 1, 4]);
/// let k = Array::from_vec(vec![1.0f32, 1.0], &[1, 1, 2]);
/// let y = lax::conv_general_dilated(&x, &k, &[1], &lax::Padding::Valid, None, None, None, 1, 1);
/// assert_eq!(y.to_vec::<f32>(), vec![3.0, 5.0, 7.0]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn conv_general_dilated(
    lhs: &Array,
    rhs: &Array,
    window_strides: &[usize],
    padding: &Padding,
    lhs_dilation: Option<&[usize]>,
    rhs_dilation: Option<&[usize]>,
    dimension_numbers: Option<&ConvDimensionNumbers>,
    feature_group_count: usize,
    batch_group_count: usize,
) -> Array {
    try_conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        dimension_numbers,
        feature_group_count,
        batch_group_count,
    )
    .unwrap_or_else(|e| crate::error::raise(e))
}

/// [`conv_general_dilated`], returning misuse as an error.
#[allow(clippy::too_many_arguments)]
pub fn try_conv_general_dilated(
    lhs: &Array,
    rhs: &Array,
    window_strides: &[usize],
    padding: &Padding,
    lhs_dilation: Option<&[usize]>,
    rhs_dilation: Option<&[usize]>,
    dimension_numbers: Option<&ConvDimensionNumbers>,
    feature_group_count: usize,
    batch_group_count: usize,
) -> Result<Array> {
    let rank = lhs.ndim();
    if rank < 2 || rhs.ndim() != rank {
        return err(
            ErrorKind::Shape,
            format!(
                "conv_general_dilated: lhs {:?} and rhs {:?} need one rank of at least 2",
                lhs.shape(),
                rhs.shape()
            ),
        );
    }
    let n = rank - 2;
    let dn = dimension_numbers
        .cloned()
        .unwrap_or_else(|| ConvDimensionNumbers::default_for(n));
    let ones = vec![1; n];
    let ld = lhs_dilation.unwrap_or(&ones).to_vec();
    let rd = rhs_dilation.unwrap_or(&ones).to_vec();
    // Padding rules apply to the dilated input and window (as in JAX).
    let spatial = |shape: &[usize], spec: &[usize], dil: &[usize]| -> Vec<usize> {
        spec[2..]
            .iter()
            .zip(dil.iter().chain(std::iter::repeat(&1)))
            .map(|(&a, &d)| {
                if shape[a] == 0 {
                    0
                } else {
                    1 + d * (shape[a] - 1)
                }
            })
            .collect()
    };
    let valid = |v: &[usize]| v.len() == rank;
    let pads = if valid(&dn.lhs) && valid(&dn.rhs) && window_strides.len() == n {
        padtype_to_pads(
            &spatial(lhs.shape(), &dn.lhs, &ld),
            &spatial(rhs.shape(), &dn.rhs, &rd),
            window_strides,
            padding,
        )
    } else {
        vec![]
    };
    let p = ConvParams {
        window_strides: window_strides.to_vec(),
        padding: pads,
        lhs_dilation: ld,
        rhs_dilation: rd,
        dimension_numbers: dn,
        feature_group_count,
        batch_group_count,
    };
    conv_rules::shape(&p, lhs.shape(), rhs.shape())?;
    let dtype =
        crate::primitive::promote((lhs.dtype(), lhs.is_weak()), (rhs.dtype(), rhs.is_weak())).0;
    Ok(conv_rules::conv(&lhs.astype(dtype), &rhs.astype(dtype), &p))
}

/// Convolution with the default layout (NCH.../OIH...), no dilation.
///
/// ```
/// use oxjax::{lax, numpy as jnp};
/// let x = jnp::ones(&[1, 2, 5, 5], None);
/// let k = jnp::ones(&[3, 2, 3, 3], None);
/// let y = lax::conv(&x, &k, &[2, 2], &lax::Padding::Same);
/// assert_eq!(y.shape(), &[1, 3, 3, 3]);
/// assert_eq!(y.to_vec::<f32>()[4], 18.0); // centre: a full 2×3×3 window
/// ```
pub fn conv(lhs: &Array, rhs: &Array, window_strides: &[usize], padding: &Padding) -> Array {
    conv_general_dilated(lhs, rhs, window_strides, padding, None, None, None, 1, 1)
}

/// Convolution with explicit padding and dilations in the default layout.
pub fn conv_with_general_padding(
    lhs: &Array,
    rhs: &Array,
    window_strides: &[usize],
    padding: &[(isize, isize)],
    lhs_dilation: Option<&[usize]>,
    rhs_dilation: Option<&[usize]>,
) -> Array {
    conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        &Padding::Explicit(padding.to_vec()),
        lhs_dilation,
        rhs_dilation,
        None,
        1,
        1,
    )
}

/// The dimension numbers for layout strings (JAX's `conv_dimension_numbers`).
pub fn conv_dimension_numbers(lhs: &str, rhs: &str, out: &str) -> ConvDimensionNumbers {
    ConvDimensionNumbers::from_strings(lhs, rhs, out)
}

/// The output shape of [`conv_general_dilated`] in the default layout.
///
/// ```
/// use oxjax::lax::{self, Padding};
/// assert_eq!(lax::conv_shape_tuple(&[1, 3, 8, 8], &[4, 3, 3, 3], &[2, 2], &Padding::Same), vec![1, 4, 4, 4]);
/// ```
pub fn conv_shape_tuple(
    lhs_shape: &[usize],
    rhs_shape: &[usize],
    strides: &[usize],
    padding: &Padding,
) -> Vec<usize> {
    let n = lhs_shape.len() - 2;
    let pads = super::padtype_to_pads(&lhs_shape[2..], &rhs_shape[2..], strides, padding);
    let mut out = vec![lhs_shape[0], rhs_shape[0]];
    for d in 0..n {
        let padded = lhs_shape[2 + d] as isize + pads[d].0 + pads[d].1;
        let k = rhs_shape[2 + d] as isize;
        out.push(if padded >= k {
            ((padded - k) / strides[d] as isize + 1) as usize
        } else {
            0
        });
    }
    out
}

/// Extracts each kernel-sized patch: the result has `C * prod(filter_shape)`
/// features (feature-major, then window position) per output position, in
/// the layout of `dimension_numbers` (default NCH...). Convolving is then a
/// matrix product with the flattened kernel.
///
/// ```
/// use oxjax::{Array, lax};
/// let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 1, 4]);
/// let p = lax::conv_general_dilated_patches(&x, &[2], &[1], &lax::Padding::Valid, None, None, None);
/// assert_eq!(p.shape(), &[1, 2, 3]);
/// assert_eq!(p.to_vec::<f32>(), vec![1.0, 2.0, 3.0, 2.0, 3.0, 4.0]);
/// ```
pub fn conv_general_dilated_patches(
    lhs: &Array,
    filter_shape: &[usize],
    window_strides: &[usize],
    padding: &Padding,
    lhs_dilation: Option<&[usize]>,
    rhs_dilation: Option<&[usize]>,
    dimension_numbers: Option<&ConvDimensionNumbers>,
) -> Array {
    let rank = lhs.ndim();
    let default = ConvDimensionNumbers::default_for(rank - 2);
    let dn = dimension_numbers.unwrap_or(&default);
    let x = lhs.transpose(&dn.lhs);
    let geometry = Windows::new(
        "conv_general_dilated_patches",
        &x.shape()[2..],
        filter_shape,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
    )
    .unwrap_or_else(|e| crate::error::raise(e));
    let (pieces, out) = geometry
        .slices(&x, 2, filter_shape, 0.0)
        .unwrap_or_else(|e| crate::error::raise(e));
    let stacked: Vec<Array> = pieces.iter().map(|p| p.expand_dims(2)).collect();
    let patches = Array::concatenate(&stacked.iter().collect::<Vec<_>>(), 2);
    let mut s = vec![x.shape()[0] as isize, -1];
    s.extend(out.iter().map(|&d| d as isize));
    let y = patches.reshape(&s);
    let mut inv = vec![0; rank];
    for (j, &p) in dn.out.iter().enumerate() {
        inv[p] = j;
    }
    y.transpose(&inv)
}

/// Transposed convolution (the gradient of a strided convolution with
/// respect to its input): the input is dilated by `strides` and convolved
/// with stride 1. `padding` `Same`/`Valid` follow JAX's rule for the
/// transposed case; with `transpose_kernel` the kernel's spatial axes are
/// flipped and its feature axes swapped. Layout: `dimension_numbers`,
/// by default JAX's channels-last one ([`ConvDimensionNumbers::channels_last`]:
/// NHWC / HWIO / NHWC for 2-d); pass
/// `Some(&ConvDimensionNumbers::default_for(n))` for NCH.../OIH....
///
/// Partial: no precision or preferred_element_type.
///
/// ```
/// use oxjax::{Array, lax};
/// // NHC input [1, 2, 1], HIO kernel [3, 1, 1].
/// let x = Array::from_vec(vec![1.0f32, 2.0], &[1, 2, 1]);
/// let k = Array::from_vec(vec![1.0f32, 1.0, 1.0], &[3, 1, 1]);
/// let y = lax::conv_transpose(&x, &k, &[2], &lax::Padding::Valid, None, None, false);
/// assert_eq!(y.to_vec::<f32>(), vec![1.0, 1.0, 3.0, 2.0, 2.0]);
/// ```
pub fn conv_transpose(
    lhs: &Array,
    rhs: &Array,
    strides: &[usize],
    padding: &Padding,
    rhs_dilation: Option<&[usize]>,
    dimension_numbers: Option<&ConvDimensionNumbers>,
    transpose_kernel: bool,
) -> Array {
    let n = lhs.ndim() - 2;
    let default = ConvDimensionNumbers::channels_last(n);
    let dn = dimension_numbers.unwrap_or(&default);
    let rd = rhs_dilation.map_or(vec![1; n], |r| r.to_vec());
    let k_spatial: Vec<usize> = dn.rhs[2..].iter().map(|&a| rhs.shape()[a]).collect();
    let pads = match padding {
        Padding::Explicit(p) => p.clone(),
        _ => (0..n)
            .map(|d| {
                let (k, s) = (
                    ((k_spatial[d] - 1) * rd[d] + 1) as isize,
                    strides[d] as isize,
                );
                let (len, a) = if *padding == Padding::Valid {
                    (k + s - 2 + (k - s).max(0), k - 1)
                } else if s > k - 1 {
                    (k + s - 2, k - 1)
                } else {
                    (k + s - 2, (k + s - 2 + 1) / 2)
                };
                (a, len - a)
            })
            .collect(),
    };
    let rhs = if transpose_kernel {
        let spatial: Vec<isize> = dn.rhs[2..].iter().map(|&a| a as isize).collect();
        rhs.flip(&spatial)
    } else {
        rhs.clone()
    };
    let dn_t = if transpose_kernel {
        let mut r = dn.rhs.clone();
        r.swap(0, 1);
        ConvDimensionNumbers {
            lhs: dn.lhs.clone(),
            rhs: r,
            out: dn.out.clone(),
        }
    } else {
        dn.clone()
    };
    conv_general_dilated(
        lhs,
        &rhs,
        &vec![1; n],
        &Padding::Explicit(pads),
        Some(strides),
        Some(&rd),
        Some(&dn_t),
        1,
        1,
    )
}

/// The permutations that bring the operands and the result to the
/// canonical layout (batch/feature first): `(lhs, rhs, out)`.
pub fn conv_general_permutations(
    dn: &ConvDimensionNumbers,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    (dn.lhs.clone(), dn.rhs.clone(), dn.out.clone())
}

/// The output shape of [`conv_general_dilated`] (no dilation) in the
/// layout of `dimension_numbers`.
///
/// ```
/// use oxjax::lax::{self, ConvDimensionNumbers, Padding};
/// let dn = ConvDimensionNumbers::from_strings("NHWC", "HWIO", "NHWC");
/// let s = lax::conv_general_shape_tuple(&[1, 8, 8, 3], &[3, 3, 3, 4], &[2, 2], &Padding::Same, &dn);
/// assert_eq!(s, vec![1, 4, 4, 4]);
/// ```
pub fn conv_general_shape_tuple(
    lhs_shape: &[usize],
    rhs_shape: &[usize],
    window_strides: &[usize],
    padding: &Padding,
    dimension_numbers: &ConvDimensionNumbers,
) -> Vec<usize> {
    let dn = dimension_numbers;
    let l: Vec<usize> = dn.lhs.iter().map(|&a| lhs_shape[a]).collect();
    let r: Vec<usize> = dn.rhs.iter().map(|&a| rhs_shape[a]).collect();
    let canon = conv_shape_tuple(&l, &r, window_strides, padding);
    let mut out = vec![0; canon.len()];
    for (j, &p) in dn.out.iter().enumerate() {
        out[p] = canon[j];
    }
    out
}
