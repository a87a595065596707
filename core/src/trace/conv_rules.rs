//! The convolution primitive (`conv_general_dilated` with JAX's
//! parameters) with all its rules in one place: shape rule, eager
//! evaluation (the CONV routine), jvp (bilinear), the transposes (each a
//! convolution with rearranged dimension numbers, dilations and padding, as
//! JAX defines them) and batching (the vmapped axis folded into the batch
//! or a group dimension).

use super::bind1;
use super::prim::{Aval, Prim};
use crate::array::Array;
use crate::eager::Concrete;
use crate::error::{Error, ErrorKind, Result};
use oxjax_abi::{DType, RoutineKind};
use std::fmt;

/// The static parameters of `conv_general_dilated`, normalised: explicit
/// `(low, high)` padding and one stride/dilation per spatial axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvParams {
    /// Stride per spatial axis.
    pub window_strides: Vec<usize>,
    /// `(low, high)` padding per spatial axis (negative crops).
    pub padding: Vec<(isize, isize)>,
    /// Input dilation per spatial axis (transposed convolutions).
    pub lhs_dilation: Vec<usize>,
    /// Kernel dilation per spatial axis (atrous convolutions).
    pub rhs_dilation: Vec<usize>,
    /// Which axes are batch, feature and spatial.
    pub dimension_numbers: ConvDimensionNumbers,
    /// Input feature groups (grouped and depthwise convolutions).
    pub feature_group_count: usize,
    /// Batch groups (the kernel gradient of a grouped convolution).
    pub batch_group_count: usize,
}

fn tuple<T: fmt::Debug>(v: &[T]) -> String {
    let s: Vec<String> = v.iter().map(|d| format!("{d:?}")).collect();
    format!("({}{})", s.join(", "), if s.len() == 1 { "," } else { "" })
}

impl fmt::Display for ConvParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dn = &self.dimension_numbers;
        write!(
            f,
            "conv_general_dilated[window_strides={}, padding={}, lhs_dilation={}, rhs_dilation={}, \
             dimension_numbers=({}, {}, {}), feature_group_count={}, batch_group_count={}]",
            tuple(&self.window_strides),
            tuple(&self.padding),
            tuple(&self.lhs_dilation),
            tuple(&self.rhs_dilation),
            tuple(&dn.lhs),
            tuple(&dn.rhs),
            tuple(&dn.out),
            self.feature_group_count,
            self.batch_group_count
        )
    }
}

/// `0` for an empty axis, else `1 + d * (n - 1)`.
fn dilate(n: usize, d: usize) -> usize {
    if n == 0 { 0 } else { 1 + d * (n - 1) }
}

/// The result shape (in the `out` layout), or an error naming the shapes.
pub fn shape(p: &ConvParams, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    let err = |why: String| {
        Err(Error::new(
            ErrorKind::Shape,
            format!("conv_general_dilated: lhs {lhs:?} and rhs {rhs:?}: {why}"),
        ))
    };
    let rank = lhs.len();
    if rank < 2 || rhs.len() != rank {
        return err("need one rank of at least 2".into());
    }
    let s = rank - 2;
    let dn = &p.dimension_numbers;
    let is_perm = |v: &[usize]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v == (0..rank).collect::<Vec<_>>()
    };
    if !(is_perm(&dn.lhs) && is_perm(&dn.rhs) && is_perm(&dn.out)) {
        return err(format!(
            "dimension numbers {dn:?} are not permutations of {rank} axes"
        ));
    }
    let counts: [(&str, Vec<String>); 4] = [
        (
            "window_strides",
            p.window_strides.iter().map(|v| v.to_string()).collect(),
        ),
        (
            "padding",
            p.padding.iter().map(|v| format!("{v:?}")).collect(),
        ),
        (
            "lhs_dilation",
            p.lhs_dilation.iter().map(|v| v.to_string()).collect(),
        ),
        (
            "rhs_dilation",
            p.rhs_dilation.iter().map(|v| v.to_string()).collect(),
        ),
    ];
    for (name, v) in counts {
        if v.len() != s {
            return err(format!(
                "{name} [{}] needs {s} entries (one per spatial axis)",
                v.join(", ")
            ));
        }
    }
    let zero = |v: &[usize]| v.contains(&0);
    if zero(&p.window_strides) || zero(&p.lhs_dilation) || zero(&p.rhs_dilation) {
        return err("strides and dilations must be positive".into());
    }
    let x: Vec<usize> = dn.lhs.iter().map(|&a| lhs[a]).collect();
    let k: Vec<usize> = dn.rhs.iter().map(|&a| rhs[a]).collect();
    let (n, c, o, i) = (x[0], x[1], k[0], k[1]);
    let (g, bg) = (p.feature_group_count, p.batch_group_count);
    if g == 0 || c % g != 0 || o % g != 0 || c / g != i {
        return Err(Error::new(
            ErrorKind::Value,
            format!(
                "conv_general_dilated: lhs {lhs:?} ({c} features) and rhs {rhs:?} ({o} out, {i} in features) \
             do not fit feature_group_count {g}"
            ),
        ));
    }
    if bg == 0 || (bg > 1 && g > 1) || n % bg != 0 || o % bg != 0 {
        return Err(Error::new(
            ErrorKind::Value,
            format!(
                "conv_general_dilated: lhs {lhs:?} (batch {n}) and rhs {rhs:?} ({o} out features) \
             do not fit batch_group_count {bg} (with feature_group_count {g}; one of them must be 1)"
            ),
        ));
    }
    let mut canon = vec![n / bg, o];
    for d in 0..s {
        let padded = dilate(x[2 + d], p.lhs_dilation[d]) as isize + p.padding[d].0 + p.padding[d].1;
        let window = dilate(k[2 + d], p.rhs_dilation[d]) as isize;
        if padded < 0 {
            return err(format!(
                "padding {:?} crops spatial axis {d} below 0",
                p.padding[d]
            ));
        }
        canon.push(if padded >= window {
            ((padded - window) / p.window_strides[d] as isize + 1) as usize
        } else {
            0
        });
    }
    let mut out = vec![0; rank];
    for (j, &a) in dn.out.iter().enumerate() {
        out[a] = canon[j];
    }
    Ok(out)
}

pub(crate) fn abstract_eval(p: &ConvParams, ins: &[Aval]) -> Aval {
    Aval {
        shape: shape(p, &ins[0].shape, &ins[1].shape).unwrap_or_else(|e| crate::error::raise(e)),
        dtype: ins[0].dtype,
        weak: false,
    }
}

/// Runs the CONV routine in the canonical layout (f32 or f64; other
/// dtypes compute in f32 and convert back).
pub(crate) fn eval_eager(p: &ConvParams, ins: &[Concrete]) -> Result<Concrete> {
    let out_shape = shape(p, ins[0].shape(), ins[1].shape())?;
    let dn = &p.dimension_numbers;
    let dtype = ins[0].dtype();
    let work = if dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    };
    let x = ins[0].transpose(&dn.lhs).try_astype(work)?;
    let k = ins[1].transpose(&dn.rhs).try_astype(work)?;
    let canon: Vec<usize> = dn.out.iter().map(|&a| out_shape[a]).collect();
    let mut inv = vec![0; canon.len()];
    for (j, &a) in dn.out.iter().enumerate() {
        inv[a] = j;
    }
    let y = if canon.contains(&0) || x.size() == 0 || k.size() == 0 {
        Concrete::zeros(&canon, work)
    } else {
        let mut params = vec![
            p.window_strides.len() as i64,
            p.feature_group_count as i64,
            p.batch_group_count as i64,
        ];
        for d in 0..p.window_strides.len() {
            params.extend([
                p.window_strides[d] as i64,
                p.padding[d].0 as i64,
                p.padding[d].1 as i64,
                p.lhs_dilation[d] as i64,
                p.rhs_dilation[d] as i64,
            ]);
        }
        Concrete::routine(
            "conv_general_dilated",
            RoutineKind::CONV,
            params,
            &[&x, &k],
            &[(work, &canon)],
        )?
        .remove(0)
    };
    y.transpose(&inv).try_astype(dtype)
}

/// Binds the primitive.
pub fn conv(lhs: &Array, rhs: &Array, p: &ConvParams) -> Array {
    bind1(Prim::Conv(p.clone()), &[lhs, rhs])
}

// ---- jvp -----------------------------------------------------------------

/// The tangent of `conv(x0, x1)`: bilinear, one conv per nonzero tangent.
pub(crate) fn jvp(p: &ConvParams, x: &[Array], t: &[Option<Array>]) -> Option<Array> {
    let a = t[0].as_ref().map(|t0| conv(t0, &x[1], p));
    let b = t[1].as_ref().map(|t1| conv(&x[0], t1, p));
    match (a, b) {
        (Some(a), Some(b)) => Some(&a + &b),
        (a, b) => a.or(b),
    }
}

// ---- reshape helpers (JAX's `_reshape_axis_out_of` / `_reshape_axis_into`)

/// Splits axis `src` into `(size1, n / size1)`.
fn axis_out_of(src: usize, size1: usize, x: &Array) -> Array {
    let mut s: Vec<isize> = x.shape().iter().map(|&d| d as isize).collect();
    let n = s[src];
    s.splice(src..=src, [size1 as isize, n / size1 as isize]);
    x.reshape(&s)
}

/// Merges axis `src` into axis `dst` (numbered without `src`) as its
/// major part.
fn axis_into(src: usize, dst: usize, x: &Array) -> Array {
    let mut perm: Vec<usize> = (0..x.ndim()).filter(|&d| d != src).collect();
    perm.insert(dst, src);
    let y = x.transpose(&perm);
    let mut s: Vec<isize> = x
        .shape()
        .iter()
        .enumerate()
        .filter(|&(d, _)| d != src)
        .map(|(_, &d)| d as isize)
        .collect();
    s[dst] *= x.shape()[src] as isize;
    y.reshape(&s)
}

/// Swaps the batch/feature (or out/in feature) entries of a spec.
fn swap01(v: &[usize]) -> Vec<usize> {
    let mut v = v.to_vec();
    v.swap(0, 1);
    v
}

fn spatial(shape: &[usize], spec: &[usize]) -> Vec<usize> {
    spec[2..].iter().map(|&a| shape[a]).collect()
}

// ---- transpose -----------------------------------------------------------

/// Cotangents of the linear operand(s) given the output's `ct`.
pub(crate) fn transpose(
    p: &ConvParams,
    ct: &Array,
    known: &[Option<&Array>],
    avals: &[Aval],
) -> Vec<Option<Array>> {
    let lhs_ct = known[0].is_none().then(|| {
        let rhs = known[1].expect("internal error: conv is bilinear, one operand is known");
        transpose_lhs(p, ct, &avals[0].shape, rhs)
    });
    let rhs_ct = known[1].is_none().then(|| {
        let lhs = known[0].expect("internal error: conv is bilinear, one operand is known");
        transpose_rhs(p, ct, lhs, &avals[1].shape)
    });
    vec![lhs_ct, rhs_ct]
}

fn transpose_lhs(p: &ConvParams, g: &Array, lhs_shape: &[usize], rhs: &Array) -> Array {
    let dn = &p.dimension_numbers;
    let (mut fg, bg) = (p.feature_group_count, p.batch_group_count);
    let mut rhs = rhs.clone();
    if fg > 1 || bg > 1 {
        // The group axis moves from the kernel's out features into its
        // (transposed) out features, i.e. the in-feature axis.
        let groups = fg.max(bg);
        rhs = axis_out_of(dn.rhs[0], groups, &rhs);
        rhs = axis_into(dn.rhs[0], dn.rhs[1], &rhs);
        fg = groups;
    }
    let (lhs_s, rhs_s, out_s) = (
        spatial(lhs_shape, &dn.lhs),
        spatial(rhs.shape(), &dn.rhs),
        spatial(g.shape(), &dn.out),
    );
    let padding = (0..lhs_s.len())
        .map(|d| {
            let ld = dilate(lhs_s[d], p.lhs_dilation[d]) as isize;
            let rd = dilate(rhs_s[d], p.rhs_dilation[d]) as isize;
            let od = dilate(out_s[d], p.window_strides[d]) as isize;
            let before = rd - p.padding[d].0 - 1;
            (before, ld + rd - 1 - od - before)
        })
        .collect();
    let spatial_axes: Vec<isize> = dn.rhs[2..].iter().map(|&a| a as isize).collect();
    let q = ConvParams {
        window_strides: p.lhs_dilation.clone(),
        padding,
        lhs_dilation: p.window_strides.clone(),
        rhs_dilation: p.rhs_dilation.clone(),
        dimension_numbers: ConvDimensionNumbers {
            lhs: dn.out.clone(),
            rhs: swap01(&dn.rhs),
            out: dn.lhs.clone(),
        },
        feature_group_count: fg,
        batch_group_count: 1,
    };
    // (`flip(&[])` would flip every axis.)
    let flipped = if spatial_axes.is_empty() {
        rhs
    } else {
        rhs.flip(&spatial_axes)
    };
    let mut out = conv(g, &flipped, &q);
    if bg > 1 {
        out = axis_out_of(dn.lhs[1], bg, &out);
        out = axis_into(dn.lhs[1], dn.lhs[0], &out);
    }
    out
}

fn transpose_rhs(p: &ConvParams, g: &Array, lhs: &Array, rhs_shape: &[usize]) -> Array {
    let dn = &p.dimension_numbers;
    if g.size() == 0 {
        return Array::zeros(rhs_shape, g.dtype());
    }
    let (fg, bg) = if p.batch_group_count > 1 {
        (p.batch_group_count, 1)
    } else {
        (1, p.feature_group_count)
    };
    let (lhs_s, rhs_s, out_s) = (
        spatial(lhs.shape(), &dn.lhs),
        spatial(rhs_shape, &dn.rhs),
        spatial(g.shape(), &dn.out),
    );
    let padding = (0..lhs_s.len())
        .map(|d| {
            let ld = dilate(lhs_s[d], p.lhs_dilation[d]) as isize;
            let rd = dilate(rhs_s[d], p.rhs_dilation[d]) as isize;
            let od = dilate(out_s[d], p.window_strides[d]) as isize;
            let lo = p.padding[d].0;
            (lo, (od - ld) + (rd - lo - 1))
        })
        .collect();
    let q = ConvParams {
        window_strides: p.rhs_dilation.clone(),
        padding,
        lhs_dilation: p.lhs_dilation.clone(),
        rhs_dilation: p.window_strides.clone(),
        dimension_numbers: ConvDimensionNumbers {
            lhs: swap01(&dn.lhs),
            rhs: swap01(&dn.out),
            out: swap01(&dn.rhs),
        },
        feature_group_count: fg,
        batch_group_count: bg,
    };
    conv(lhs, g, &q)
}

// ---- batching ------------------------------------------------------------

/// Applies the conv to operands with batch axes `bdims` (at least one
/// some); the result's batch axis is 0.
pub(crate) fn batch(p: &ConvParams, vals: &[Array], bdims: &[Option<usize>]) -> Array {
    let dn = &p.dimension_numbers;
    let (mut fg, mut bg) = (p.feature_group_count, p.batch_group_count);
    let fr = |k: usize| bdims[k].map(|b| vals[k].moveaxis(b as isize, 0));
    let (out, at) = match (fr(0), fr(1)) {
        (Some(lhs), Some(rhs)) => {
            let b = lhs.shape()[0];
            let new_lhs = if bg > 1 {
                bg *= b;
                axis_into(0, dn.lhs[0], &lhs)
            } else {
                fg *= b;
                axis_into(0, dn.lhs[1], &lhs)
            };
            let new_rhs = axis_into(0, dn.rhs[0], &rhs);
            let q = ConvParams {
                feature_group_count: fg,
                batch_group_count: bg,
                ..p.clone()
            };
            let out = conv(&new_lhs, &new_rhs, &q);
            (axis_out_of(dn.out[1], b, &out), dn.out[1])
        }
        (Some(lhs), None) => {
            let b = lhs.shape()[0];
            let new_lhs = if bg == 1 {
                axis_into(0, dn.lhs[0], &lhs)
            } else {
                // Keep the batch groups outermost: [B, G, N/G] -> [G, B * N/G].
                let l = axis_out_of(dn.lhs[0] + 1, bg, &lhs);
                let l = axis_into(0, dn.lhs[0] + 1, &l);
                axis_into(dn.lhs[0], dn.lhs[0], &l)
            };
            let out = conv(&new_lhs, &vals[1], p);
            (axis_out_of(dn.out[0], b, &out), dn.out[0])
        }
        (None, Some(rhs)) => {
            let b = rhs.shape()[0];
            if fg == 1 && bg == 1 {
                let out = conv(&vals[0], &axis_into(0, dn.rhs[0], &rhs), p);
                (axis_out_of(dn.out[1], b, &out), dn.out[1])
            } else {
                let groups = fg.max(bg);
                let r = axis_out_of(dn.rhs[0] + 1, groups, &rhs);
                let r = axis_into(0, dn.rhs[0] + 1, &r);
                let r = axis_into(dn.rhs[0], dn.rhs[0], &r);
                let out = conv(&vals[0], &r, p);
                let out = axis_out_of(dn.out[1], groups, &out);
                let out = axis_out_of(dn.out[1] + 1, b, &out);
                (axis_into(dn.out[1], dn.out[1] + 1, &out), dn.out[1])
            }
        }
        (None, None) => unreachable!("batch rules run with a batched operand"),
    };
    out.moveaxis(at as isize, 0)
}

/// Which axes of the operands and the result are batch, feature and
/// spatial. Each spec lists axis positions: `lhs = [batch, feature,
/// spatial...]`, `rhs = [out feature, in feature, spatial...]`, `out =
/// [batch, feature, spatial...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvDimensionNumbers {
    /// Input axes: batch, feature, spatial....
    pub lhs: Vec<usize>,
    /// Kernel axes: output feature, input feature, spatial....
    pub rhs: Vec<usize>,
    /// Result axes: batch, feature, spatial....
    pub out: Vec<usize>,
}

impl ConvDimensionNumbers {
    /// The default layout for `n` spatial axes: NCH..., OIH..., NCH....
    pub fn default_for(n: usize) -> ConvDimensionNumbers {
        let id: Vec<usize> = (0..n + 2).collect();
        ConvDimensionNumbers {
            lhs: id.clone(),
            rhs: id.clone(),
            out: id,
        }
    }

    /// The channels-last layout for `n` spatial axes: NH...C, H...IO,
    /// NH...C (`("NHWC", "HWIO", "NHWC")` for 2-d), JAX's default for
    /// `lax::conv_transpose`.
    pub fn channels_last(n: usize) -> ConvDimensionNumbers {
        let spatial = 1..n + 1;
        let mut io = vec![0; 2];
        io[0] = n + 1;
        io[1] = n;
        let lhs: Vec<usize> = [0, n + 1].into_iter().chain(spatial.clone()).collect();
        ConvDimensionNumbers {
            lhs: lhs.clone(),
            rhs: io.into_iter().chain(0..n).collect(),
            out: lhs,
        }
    }

    /// From layout strings as in JAX, e.g. `("NHWC", "HWIO", "NHWC")`:
    /// `N`/`C` (`O`/`I` for the kernel) name batch and feature axes, other
    /// letters are spatial axes matched by name (ordered as in `rhs`).
    ///
    /// ```
    /// use oxjax_core::primitive::conv_rules::ConvDimensionNumbers;
    /// let dn = ConvDimensionNumbers::from_strings("NHWC", "HWIO", "NHWC");
    /// assert_eq!(dn.lhs, vec![0, 3, 1, 2]);
    /// assert_eq!(dn.rhs, vec![3, 2, 0, 1]);
    /// ```
    pub fn from_strings(lhs: &str, rhs: &str, out: &str) -> ConvDimensionNumbers {
        let r: Vec<char> = rhs.chars().collect();
        let spatial: Vec<char> = r
            .iter()
            .filter(|c| !matches!(c, 'O' | 'I'))
            .copied()
            .collect();
        let spec = |s: &str, b: char, f: char| -> Vec<usize> {
            let v: Vec<char> = s.chars().collect();
            let pos = |c: char| {
                v.iter().position(|&d| d == c).unwrap_or_else(|| {
                    crate::error::fail(
                        crate::ErrorKind::Shape,
                        format!(
                            "conv dimension numbers: {c:?} is missing from {s:?} (rhs {rhs:?})"
                        ),
                    )
                })
            };
            assert_eq!(
                v.len(),
                r.len(),
                "conv dimension numbers: {s:?} and {rhs:?} have different ranks"
            );
            let mut out = vec![pos(b), pos(f)];
            out.extend(spatial.iter().map(|&c| pos(c)));
            out
        };
        ConvDimensionNumbers {
            lhs: spec(lhs, 'N', 'C'),
            rhs: spec(rhs, 'O', 'I'),
            out: spec(out, 'N', 'C'),
        }
    }
}
