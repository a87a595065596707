//! The CONV routine on the host: im2col into a scratch matrix per
//! (image, group), then one blocked GEMM (`gemm` crate) against the kernel,
//! whose `[O, I * window]` rows are already contiguous. Images are split
//! across threads when the work pays for them.

use oxjax_abi::{BackendError, DType, ErrorKind, Routine};

/// The CONV routine's geometry, decoded from its params (see
/// `RoutineKind::CONV`).
struct Geometry {
    /// Per spatial axis: (input len, window len, output len, stride,
    /// pad low, lhs dilation, rhs dilation).
    axes: Vec<[isize; 7]>,
    c: usize,
    o: usize,
    i: usize,
    groups: usize,
    batch_groups: usize,
}

fn bad(msg: String) -> BackendError {
    BackendError::new(ErrorKind::INVALID_ARGUMENT, format!("conv routine: {msg}"))
}

impl Geometry {
    fn new(r: &Routine) -> Result<Geometry, BackendError> {
        let (x, k, y) = match (&r.inputs[..], &r.outputs[..]) {
            ([x, k], [y]) => (x, k, y),
            _ => return Err(bad("takes (lhs, rhs) and returns one output".into())),
        };
        let p = &r.params;
        let s = p.first().copied().unwrap_or(-1);
        if s < 0 || p.len() != 3 + 5 * s as usize || x.shape.len() != s as usize + 2 {
            return Err(bad(format!("params {p:?} do not fit lhs {:?}", x.shape)));
        }
        let s = s as usize;
        let axes = (0..s)
            .map(|d| {
                let q = &p[3 + 5 * d..8 + 5 * d];
                [
                    x.shape[2 + d] as isize,
                    k.shape[2 + d] as isize,
                    y.shape[2 + d] as isize,
                    q[0] as isize,
                    q[1] as isize,
                    q[3] as isize,
                    q[4] as isize,
                ]
            })
            .collect();
        Ok(Geometry {
            axes,
            c: x.shape[1] as usize,
            o: k.shape[0] as usize,
            i: k.shape[1] as usize,
            groups: p[1] as usize,
            batch_groups: p[2] as usize,
        })
    }

    /// Whether im2col stores its matrix transposed (see [`im2col`]): when
    /// the last axis's window is longer than its output.
    fn transposed(&self) -> bool {
        self.axes.last().is_some_and(|a| a[1] > a[2])
    }
}

/// Element types the routine computes in (little-endian hosts: the
/// buffers' bytes are the values).
trait Elem: bytemuck::Pod + Default + Send + Sync {
    const ONE: Self;
}
impl Elem for f32 {
    const ONE: Self = 1.0;
}
impl Elem for f64 {
    const ONE: Self = 1.0;
}

/// Runs CONV: `inputs` = (lhs, rhs) bytes; returns the output's bytes.
pub(crate) fn run(r: &Routine, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, BackendError> {
    let g = Geometry::new(r)?;
    match r.inputs[0].dtype {
        DType::F32 => Ok(vec![conv::<f32>(&g, inputs, r)]),
        DType::F64 => Ok(vec![conv::<f64>(&g, inputs, r)]),
        d => Err(bad(format!("dtype {d} is not f32 or f64"))),
    }
}

fn conv<T: Elem>(g: &Geometry, inputs: &[&[u8]], r: &Routine) -> Vec<u8> {
    let x: Vec<T> = super::values(inputs[0]);
    let k: Vec<T> = super::values(inputs[1]);
    let out_shape = &r.outputs[0].shape;
    let out_n = out_shape[0] as usize;
    let spatial_in: usize = g.axes.iter().map(|a| a[0] as usize).product();
    let window: usize = g.axes.iter().map(|a| a[1] as usize).product();
    let positions: usize = g.axes.iter().map(|a| a[2] as usize).product();
    let mut y = vec![T::default(); out_n * g.o * positions];
    let transposed = g.transposed();
    // One job per output image: (image, [(input image, first input
    // channel, first output channel, output channels)]).
    let (per, rows) = if g.batch_groups > 1 {
        (g.batch_groups, g.o / g.batch_groups)
    } else {
        (g.groups, g.o / g.groups)
    };
    let job = |n: usize, dst: &mut [T], col: &mut Vec<T>| {
        for grp in 0..per {
            let (nin, c0) = if g.batch_groups > 1 {
                (grp * out_n + n, 0)
            } else {
                (n, grp * g.i)
            };
            let img = &x[(nin * g.c + c0) * spatial_in..][..g.i * spatial_in];
            im2col(img, g, spatial_in, window, positions, transposed, col);
            let o0 = grp * rows;
            let kmat = &k[o0 * g.i * window..][..rows * g.i * window];
            let out = &mut dst[o0 * positions..][..rows * positions];
            let depth = g.i * window;
            if depth == 0 {
                continue; // an empty sum: zeros
            }
            // out[rows, positions] = kmat[rows, depth] @ col[depth, positions]
            // (col stored [positions, depth] when transposed)
            let (col_cs, col_rs) = if transposed {
                (depth as isize, 1)
            } else {
                (1, positions as isize)
            };
            // SAFETY: the three matrices are in bounds of their slices
            // (lengths checked by the slicing above and by `im2col`) and
            // `out` does not alias the inputs.
            unsafe {
                gemm::gemm(
                    rows,
                    positions,
                    depth,
                    out.as_mut_ptr(),
                    1,
                    positions as isize,
                    false,
                    kmat.as_ptr(),
                    1,
                    depth as isize,
                    col.as_ptr(),
                    col_cs,
                    col_rs,
                    T::default(),
                    T::ONE,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
    };
    let per_image = g.o * positions;
    let flops = out_n * g.o * positions * g.i * window;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = if flops < 1 << 20 {
        1
    } else {
        threads.min(out_n)
    };
    if threads <= 1 || per_image == 0 {
        let mut col = Vec::new();
        for (n, dst) in y.chunks_mut(per_image.max(1)).enumerate().take(out_n) {
            job(n, dst, &mut col);
        }
    } else {
        let chunk = out_n.div_ceil(threads);
        std::thread::scope(|s| {
            for (t, dsts) in y.chunks_mut(chunk * per_image).enumerate() {
                let job = &job;
                s.spawn(move || {
                    let mut col = Vec::new();
                    for (j, dst) in dsts.chunks_mut(per_image).enumerate() {
                        job(t * chunk + j, dst, &mut col);
                    }
                });
            }
        });
    }
    bytemuck::cast_slice(&y).to_vec()
}

/// `col[(ch * window + kpos), pos]` = the input element that window
/// position `kpos` of output position `pos` reads in channel `ch` (0 in
/// padding and in the holes of lhs dilation); stored `[pos, ch * window +
/// kpos]` when `transposed`. Either way the copies run along the last
/// spatial axis, over output positions or over window positions, whichever
/// is longer (a weight gradient has a large window and few positions).
fn im2col<T: Elem>(
    img: &[T],
    g: &Geometry,
    spatial_in: usize,
    window: usize,
    positions: usize,
    transposed: bool,
    col: &mut Vec<T>,
) {
    let depth = g.i * window;
    // Every entry is written below: no zero fill needed.
    col.resize(depth * positions, T::default());
    let s = g.axes.len();
    if s == 0 {
        col[..g.i].copy_from_slice(&img[..g.i]);
        return;
    }
    let last = s - 1;
    let [len, kl, ol, stride, lo, ld, rd] = g.axes[last];
    let (kl, ol) = (kl as usize, ol as usize);
    let dlen = dilated(len, ld);
    // Input strides of the spatial axes.
    let mut istride = vec![1isize; s];
    for d in (0..last).rev() {
        istride[d] = istride[d + 1] * g.axes[d + 1][0];
    }
    let mut kidx = vec![0isize; last];
    let mut oidx = vec![0isize; last];
    for ko in 0..window / kl.max(1) {
        unravel(ko, &g.axes[..last], 1, &mut kidx);
        for oo in 0..positions / ol.max(1) {
            unravel(oo, &g.axes[..last], 2, &mut oidx);
            // Offset of the outer spatial axes, None in padding.
            let base = (0..last).try_fold(0isize, |b, d| {
                let a = g.axes[d];
                let at = oidx[d] * a[3] - a[4] + kidx[d] * a[6];
                (at >= 0 && at < dilated(a[0], a[5]) && at % a[5] == 0)
                    .then(|| b + at / a[5] * istride[d])
            });
            for ch in 0..g.i {
                let src = &img[ch * spatial_in..][..spatial_in];
                let row0 = ch * window + ko * kl;
                let runs = if transposed { ol } else { kl };
                for r in 0..runs {
                    let (dst, a0, step) = if transposed {
                        let p = oo * ol + r;
                        let a0 = r as isize * stride - lo;
                        (&mut col[p * depth + row0..][..kl], a0, rd)
                    } else {
                        let a0 = r as isize * rd - lo;
                        (
                            &mut col[(row0 + r) * positions + oo * ol..][..ol],
                            a0,
                            stride,
                        )
                    };
                    match base {
                        None => dst.fill(T::default()),
                        Some(b) => copy_run(dst, src, b, a0, step, dlen, ld),
                    }
                }
            }
        }
    }
}

/// The length of an axis of `len` elements dilated by `ld` (holes between).
fn dilated(len: isize, ld: isize) -> isize {
    if len == 0 { 0 } else { (len - 1) * ld + 1 }
}

/// The multi-index of `flat` over `axes` (row-major), using each axis's
/// field `f` as its length.
fn unravel(mut flat: usize, axes: &[[isize; 7]], f: usize, idx: &mut [isize]) {
    for d in (0..axes.len()).rev() {
        let n = axes[d][f] as usize;
        idx[d] = (flat % n) as isize;
        flat /= n;
    }
}

/// `dst[t]` = the input at dilated position `a0 + t * step` of the last
/// axis (`base` is the offset of the other axes), 0 outside the `dlen`
/// dilated positions and in the holes of dilation `ld`.
fn copy_run<T: Elem>(
    dst: &mut [T],
    src: &[T],
    base: isize,
    a0: isize,
    step: isize,
    dlen: isize,
    ld: isize,
) {
    let n = dst.len() as isize;
    if ld != 1 {
        for (t, v) in dst.iter_mut().enumerate() {
            let at = a0 + t as isize * step;
            *v = if at >= 0 && at < dlen && at % ld == 0 {
                src[(base + at / ld) as usize]
            } else {
                T::default()
            };
        }
        return;
    }
    // The valid t form one range: 0 <= a0 + t * step < dlen.
    let t0 = if a0 >= 0 { 0 } else { (-a0 + step - 1) / step }.min(n);
    let t1 = if a0 >= dlen {
        t0
    } else {
        ((dlen - 1 - a0) / step + 1).clamp(t0, n)
    };
    let (t0, t1) = (t0 as usize, t1 as usize);
    dst[..t0].fill(T::default());
    dst[t1..].fill(T::default());
    let first = base + a0 + t0 as isize * step;
    if step == 1 {
        let first = first as usize;
        dst[t0..t1].copy_from_slice(&src[first..first + (t1 - t0)]);
    } else {
        for (k, v) in dst[t0..t1].iter_mut().enumerate() {
            *v = src[(first + k as isize * step) as usize];
        }
    }
}
