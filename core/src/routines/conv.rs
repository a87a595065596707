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

    /// For each spatial axis, `[window pos][output pos]` -> input index or -1.
    fn tables(&self) -> Vec<Vec<isize>> {
        self.axes
            .iter()
            .map(|&[len, k, out, stride, lo, ld, rd]| {
                let mut t = Vec::with_capacity((k * out) as usize);
                for kk in 0..k {
                    for oo in 0..out {
                        let at = oo * stride - lo + kk * rd;
                        let dilated = if len == 0 { 0 } else { (len - 1) * ld + 1 };
                        t.push(if at >= 0 && at < dilated && at % ld == 0 {
                            at / ld
                        } else {
                            -1
                        });
                    }
                }
                t
            })
            .collect()
    }
}

/// Element types the routine computes in.
trait Elem: Copy + Default + Send + Sync + 'static {
    const SIZE: usize;
    const ONE: Self;
    fn read(b: &[u8]) -> Self;
    fn write(self, out: &mut Vec<u8>);
}

macro_rules! elem {
    ($t:ty) => {
        impl Elem for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            const ONE: Self = 1.0;
            fn read(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().unwrap())
            }
            fn write(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
elem!(f32);
elem!(f64);

fn decode<T: Elem>(b: &[u8]) -> Vec<T> {
    b.chunks_exact(T::SIZE).map(T::read).collect()
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
    let x: Vec<T> = decode(inputs[0]);
    let k: Vec<T> = decode(inputs[1]);
    let out_shape = &r.outputs[0].shape;
    let out_n = out_shape[0] as usize;
    let spatial_in: usize = g.axes.iter().map(|a| a[0] as usize).product();
    let window: usize = g.axes.iter().map(|a| a[1] as usize).product();
    let positions: usize = g.axes.iter().map(|a| a[2] as usize).product();
    let mut y = vec![T::default(); out_n * g.o * positions];
    let tables = g.tables();
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
            im2col(img, g, &tables, spatial_in, window, positions, col);
            let o0 = grp * rows;
            let kmat = &k[o0 * g.i * window..][..rows * g.i * window];
            let out = &mut dst[o0 * positions..][..rows * positions];
            let depth = g.i * window;
            if depth == 0 {
                continue; // an empty sum: zeros
            }
            // out[rows, positions] = kmat[rows, depth] @ col[depth, positions]
            // SAFETY: the three row-major matrices are in bounds of their
            // slices (lengths checked by the slicing above) and `out` does
            // not alias the inputs.
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
                    1,
                    positions as isize,
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
    let mut bytes = Vec::with_capacity(y.len() * T::SIZE);
    for v in y {
        v.write(&mut bytes);
    }
    bytes
}

/// `col[(ch * window + kpos), pos]` = the input element that window
/// position `kpos` of output position `pos` reads in channel `ch` (0 in
/// padding and in the holes of lhs dilation).
fn im2col<T: Elem>(
    img: &[T],
    g: &Geometry,
    tables: &[Vec<isize>],
    spatial_in: usize,
    window: usize,
    positions: usize,
    col: &mut Vec<T>,
) {
    col.clear();
    col.resize(g.i * window * positions, T::default());
    let s = g.axes.len();
    // Input strides of the spatial axes.
    let mut stride = vec![1isize; s];
    for d in (0..s.saturating_sub(1)).rev() {
        stride[d] = stride[d + 1] * g.axes[d + 1][0];
    }
    let (inner_out, inner_tab) = match s {
        0 => (1, None),
        _ => (g.axes[s - 1][2] as usize, Some(s - 1)),
    };
    let outer_positions = positions / inner_out.max(1);
    let mut kidx = vec![0isize; s];
    for kpos in 0..window {
        // Multi-index of kpos.
        let mut rem = kpos as isize;
        for d in (0..s).rev() {
            kidx[d] = rem % g.axes[d][1];
            rem /= g.axes[d][1];
        }
        for op in 0..outer_positions {
            // Offset from the outer output axes, or None if out of range.
            let mut base = 0isize;
            let mut rem = op as isize;
            let mut valid = true;
            for d in (0..s.saturating_sub(1)).rev() {
                let out_d = g.axes[d][2];
                let od = rem % out_d;
                rem /= out_d;
                let at = tables[d][(kidx[d] * out_d + od) as usize];
                if at < 0 {
                    valid = false;
                }
                base += at * stride[d];
            }
            if !valid {
                continue;
            }
            let row_start = op * inner_out;
            for ch in 0..g.i {
                let src = &img[ch * spatial_in..][..spatial_in];
                let dst = &mut col[(ch * window + kpos) * positions + row_start..][..inner_out];
                match inner_tab {
                    None => dst[0] = src[0],
                    Some(d) => {
                        let tab = &tables[d][(kidx[d] as usize) * inner_out..][..inner_out];
                        for (v, &at) in dst.iter_mut().zip(tab) {
                            if at >= 0 {
                                *v = src[(base + at) as usize];
                            }
                        }
                    }
                }
            }
        }
    }
}
