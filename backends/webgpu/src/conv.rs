//! Native CONV: `conv_general_dilated` as an implicit GEMM in one WGSL
//! compute shader.
//!
//! For output image `n` and group `g` (a feature group, or a batch group
//! when `batch_group_count > 1`) the output is the matrix product
//! `out[rows, positions] = rhs[rows, depth] · col[depth, positions]`,
//! `depth = I · window`, where `col[(ch, kpos), pos]` is the input element
//! that window position `kpos` of output position `pos` reads in channel
//! `ch` (0 in padding and in the holes of lhs dilation). `col` is never
//! stored: the shader computes each element's address while staging it
//! (the spatial index math is unrolled per axis with the geometry as
//! constants, so any rank works).
//!
//! Each workgroup (64 invocations, `WY = min(TM, 8)` rows of `WX`)
//! computes a tile of `TM` output channels × `TN` output positions, each
//! invocation a `TM/WY × TN/WX` block (rows `lid.y + WY·i`, positions
//! `lid.x + WX·j`, so neighbouring invocations read neighbouring words),
//! looping over the depth in slices of `TK` with both operands staged in
//! workgroup memory (the staging and the products are unrolled: the depth
//! loop is the shader's only loop). Tile sizes follow the problem: 4 to 64
//! channels (an input gradient has few), 8 to 64 positions (a weight
//! gradient has few), deeper slices when the tiles are small. Every
//! output sums its products in depth order. When the tiles are too few to
//! fill a device (a weight gradient: few channels and positions, a long
//! depth) the depth is split over several workgroups per tile, each
//! writing its sums to a scratch buffer that a second pass (`reduce`) adds
//! up in split order. Workgroups are numbered linearly over a 2-D grid
//! (WebGPU allows 65,535 per dimension).

use oxjax_abi::{BackendError, DType, ErrorKind, Routine, RoutineKind};
use std::fmt::Write;

/// Iterations of the shader's depth loop at most. llvmpipe (lavapipe)
/// ends an invocation's loops after 65,535 iterations in all and carries
/// on with a wrong result (see `codegen::LOOP_BUDGET`), so that loop is
/// the shader's only one and its body runs several depth slices when the
/// depth is long.
const LOOP_BUDGET: u32 = 16_384;

/// Depth slices per loop iteration at most (code size).
const MAX_UNROLL: u32 = 8;

/// Invocations per workgroup, in at most `WY_MAX` rows (output channels)
/// of `THREADS / WY` (positions). 64 rather than 256: on lavapipe the
/// layer of `tests/conv.rs`'s timing ran 1.4-1.7x faster (fewer
/// invocations to switch between at each barrier); 64 is still a whole
/// wavefront on GPUs.
const THREADS: u32 = 64;
const WY_MAX: u32 = 8;

/// Workgroups a conv should have at least before it splits the depth.
const SPLIT_TARGET: u64 = 128;

/// A checked CONV routine, with its tiling.
#[derive(Clone, Debug)]
pub struct ConvPlan {
    /// Per spatial axis: input length, window length, output length,
    /// stride, pad low, lhs dilation, rhs dilation.
    axes: Vec<[i64; 7]>,
    c: u32,
    o: u32,
    i: u32,
    /// Output images (`N / batch_group_count`).
    out_n: u32,
    batch_groups: u32,
    /// Groups per image and output channels per group.
    per: u32,
    rows: u32,
    spatial_in: u32,
    window: u32,
    positions: u32,
    depth: u32,
    tm: u32,
    tn: u32,
    tk: u32,
    /// Depth slices per iteration of the shader's one loop.
    unroll: u32,
    /// Workgroups per output tile, each summing `chunk` of the depth into
    /// its own slice of a scratch buffer (split-K; 1: no scratch).
    pub splits: u32,
    chunk: u32,
    lhs_elems: u64,
    rhs_elems: u64,
    out_elems: u64,
}

fn invalid(r: &Routine, msg: impl std::fmt::Display) -> BackendError {
    BackendError::new(
        ErrorKind::INVALID_ARGUMENT,
        format!("routine conv: {msg} (descriptor: {r:?})"),
    )
}

/// The smallest power of two `>= n`, clamped to `lo..=64`.
fn tile(n: u32, lo: u32) -> u32 {
    n.next_power_of_two().clamp(lo, 64)
}

impl ConvPlan {
    /// Checks `r` against the CONV contract; `max_elems` bounds every
    /// operand (the device's largest binding, in f32 elements).
    pub fn new(r: &Routine, max_elems: u64) -> Result<ConvPlan, BackendError> {
        let mut plan = Self::tiled(r, max_elems)?;
        // Split the depth when the tiles are too few to fill a device (a
        // weight gradient: few channels and positions, a long depth), each
        // split at least 8 loop iterations long.
        let tiles = plan.tiles();
        let iters = plan.depth.div_ceil(plan.tk * plan.unroll);
        let want = SPLIT_TARGET.div_ceil(tiles.max(1)) as u32;
        let fits = (max_elems / plan.out_elems.max(1)).min(u32::MAX as u64) as u32;
        let splits = want.min(iters / 8).min(fits).max(1);
        if splits > 1 {
            let chunk = iters.div_ceil(splits) * plan.tk * plan.unroll;
            plan.chunk = chunk;
            plan.splits = plan.depth.div_ceil(chunk);
        }
        Ok(plan)
    }

    fn tiled(r: &Routine, max_elems: u64) -> Result<ConvPlan, BackendError> {
        debug_assert_eq!(r.kind, RoutineKind::CONV);
        let (x, k, y) = match (r.inputs.as_slice(), r.outputs.as_slice()) {
            ([x, k], [y]) => (x, k, y),
            (i, o) => {
                return Err(invalid(
                    r,
                    format!(
                        "takes 2 inputs (lhs, rhs) and 1 output, got {} and {}",
                        i.len(),
                        o.len()
                    ),
                ));
            }
        };
        if x.dtype != DType::F32 || k.dtype != DType::F32 || y.dtype != DType::F32 {
            return Err(BackendError::new(
                ErrorKind::UNSUPPORTED,
                format!(
                    "conv of {} x {} -> {} is not supported by the webgpu backend (f32 only)",
                    x.dtype, k.dtype, y.dtype
                ),
            ));
        }
        let p = r.params.as_slice();
        let s = p.first().copied().unwrap_or(-1);
        if s < 0
            || p.len() != 3 + 5 * s as usize
            || x.shape.len() != s as usize + 2
            || k.shape.len() != s as usize + 2
            || y.shape.len() != s as usize + 2
        {
            return Err(invalid(
                r,
                format!(
                    "params {p:?} do not fit lhs {:?}, rhs {:?}, out {:?}",
                    x.shape, k.shape, y.shape
                ),
            ));
        }
        let s = s as usize;
        let (g, b) = (p[1], p[2]);
        let (n, c, o, i) = (x.shape[0], x.shape[1], k.shape[0], k.shape[1]);
        let groups_ok = g >= 1
            && b >= 1
            && (g == 1 || b == 1)
            && c == i * g as u64
            && o % (g * b) as u64 == 0
            && n % b as u64 == 0
            && y.shape[0] == n / b as u64
            && y.shape[1] == o;
        if !groups_ok {
            return Err(invalid(
                r,
                format!(
                    "lhs {:?}, rhs {:?}, out {:?} do not fit feature_group_count {g} and \
                     batch_group_count {b}",
                    x.shape, k.shape, y.shape
                ),
            ));
        }
        let mut axes = Vec::with_capacity(s);
        for d in 0..s {
            let q = &p[3 + 5 * d..8 + 5 * d];
            let (len, win, out) = (
                x.shape[2 + d] as i64,
                k.shape[2 + d] as i64,
                y.shape[2 + d] as i64,
            );
            let (stride, lo, hi, ld, rd) = (q[0], q[1], q[2], q[3], q[4]);
            if stride < 1 || ld < 1 || rd < 1 {
                return Err(invalid(
                    r,
                    format!("axis {d}: stride and dilations must be >= 1, got {q:?}"),
                ));
            }
            let dlen = if len == 0 { 0 } else { (len - 1) * ld + 1 };
            let dwin = if win == 0 { 0 } else { (win - 1) * rd + 1 };
            let span = dlen + lo + hi - dwin;
            let want = if span < 0 { 0 } else { span / stride + 1 };
            if out != want {
                return Err(invalid(
                    r,
                    format!("axis {d}: the output has {out} positions, the geometry gives {want}"),
                ));
            }
            axes.push([len, win, out, stride, lo, ld, rd]);
        }
        let prod = |v: &[u64]| v.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let too_big = || {
            BackendError::new(
                ErrorKind::UNSUPPORTED,
                format!("routine conv: operands too large for the webgpu conv ({r:?})"),
            )
        };
        let (lhs_elems, rhs_elems, out_elems) = (
            prod(&x.shape).ok_or_else(too_big)?,
            prod(&k.shape).ok_or_else(too_big)?,
            prod(&y.shape).ok_or_else(too_big)?,
        );
        // Index math is u32 (i32 for dilated coordinates).
        let limit = max_elems.min(i32::MAX as u64);
        if lhs_elems > limit || rhs_elems > limit || out_elems > limit {
            return Err(too_big());
        }
        let spatial_in = prod(&x.shape[2..]).ok_or_else(too_big)? as u32;
        let window = prod(&k.shape[2..]).ok_or_else(too_big)? as u32;
        let positions = prod(&y.shape[2..]).ok_or_else(too_big)? as u32;
        let dilated_ok = axes.iter().all(|a| {
            let reach = (a[2].max(1) - 1) * a[3] + (a[1].max(1) - 1) * a[6] + a[4].abs();
            reach < i32::MAX as i64 / 2 && a[0] * a[5] < i32::MAX as i64 / 2
        });
        if !dilated_ok {
            return Err(too_big());
        }
        let (per, rows) = if b > 1 {
            (b as u32, (o / b as u64) as u32)
        } else {
            (g as u32, (o / g as u64) as u32)
        };
        // 4 to 64 channels (an input gradient has few), then WY_MAX rows
        // of invocations (fewer for fewer channels) and enough positions
        // to give each invocation at least one.
        let tm = tile(rows, 4);
        let tn = tile(positions, THREADS / tm.min(WY_MAX));
        // Deeper slices when the tiles are small: fewer barriers per
        // product, the staged bytes stay at most 8 KiB.
        let tk = 2048 / (tm + tn).max(32);
        let tk = 1 << (31 - tk.leading_zeros()).min(6);
        let depth = u32::try_from(i * window as u64)
            .ok()
            .filter(|&d| d <= i32::MAX as u32)
            .ok_or_else(too_big)?;
        let steps = depth.div_ceil(tk);
        let unroll = steps.div_ceil(LOOP_BUDGET).next_power_of_two();
        if unroll > MAX_UNROLL {
            return Err(BackendError::new(
                ErrorKind::UNSUPPORTED,
                format!(
                    "routine conv: a depth (input channels x window) of {} exceeds what \
                     the webgpu conv runs correctly ({}) ({r:?})",
                    depth,
                    LOOP_BUDGET * MAX_UNROLL * tk
                ),
            ));
        }
        Ok(ConvPlan {
            axes,
            c: c as u32,
            o: o as u32,
            i: i as u32,
            out_n: y.shape[0] as u32,
            batch_groups: b as u32,
            per,
            rows,
            spatial_in,
            window,
            positions,
            depth,
            tm,
            tn,
            tk,
            unroll,
            splits: 1,
            chunk: depth,
            lhs_elems,
            rhs_elems,
            out_elems,
        })
    }

    /// Bytes of (lhs, rhs, out).
    pub fn bytes(&self) -> [u64; 3] {
        [self.lhs_elems * 4, self.rhs_elems * 4, self.out_elems * 4]
    }

    /// Output tiles: position tiles × channel tiles × groups × output
    /// images.
    fn tiles(&self) -> u64 {
        self.positions.div_ceil(self.tn) as u64
            * self.rows.div_ceil(self.tm) as u64
            * self.per as u64
            * self.out_n as u64
    }

    /// Workgroups of `main` in all: every tile, `splits` times.
    pub fn workgroups(&self) -> u64 {
        self.tiles() * self.splits as u64
    }

    /// Bytes of the split sums (`reduce`'s input).
    pub fn part_bytes(&self) -> u64 {
        self.out_elems * 4 * self.splits as u64
    }

    /// Workgroups of `reduce`: one invocation per output element.
    pub fn reduce_workgroups(&self) -> u64 {
        self.out_elems.div_ceil(THREADS as u64)
    }

    /// `w` workgroups over a grid of at most 65,535 per dimension.
    pub fn grid(w: u64) -> [u32; 3] {
        if w <= 65535 {
            [w as u32, 1, 1]
        } else {
            [65535, w.div_ceil(65535) as u32, 1]
        }
    }

    pub fn wgsl(&self) -> String {
        let (tm, tn, tk) = (self.tm, self.tn, self.tk);
        // Invocations: wy rows of wx, THREADS in all.
        let wy = tm.min(WY_MAX);
        let wx = THREADS / wy;
        let (rm, rn) = (tm / wy, tn / wx);
        // Divisors in the shader stay nonzero (a constant division by zero
        // is a WGSL error); empty problems are never dispatched.
        let nz = |v: u32| v.max(1);
        let (window, positions, depth, rows) =
            (nz(self.window), nz(self.positions), self.depth, self.rows);
        let ptiles = nz(positions.div_ceil(tn));
        let ctiles = nz(rows.div_ceil(tm));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "// oxjax conv: {} images x {} groups of {rows} channels x {positions} positions, depth {depth}; tile {tm}x{tn}x{tk}",
            self.out_n, self.per
        );
        s.push_str(
            "@group(0) @binding(0) var<storage, read> lhs: array<f32>;\n\
             @group(0) @binding(1) var<storage, read> rhs: array<f32>;\n\
             @group(0) @binding(2) var<storage, read_write> outp: array<f32>;\n",
        );
        let splits = self.splits;
        let out_elems = self.out_elems;
        if splits > 1 {
            // Split sums land in `part`; `reduce` adds them in split order.
            let _ = writeln!(
                s,
                "@group(0) @binding(3) var<storage, read_write> part: array<f32>;\n@compute @workgroup_size({THREADS})\nfn reduce(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {{\n    let i = (wg.y * nwg.x + wg.x) * {THREADS}u + li;\n    if (i >= {out_elems}u) {{ return; }}\n    var acc = part[i];\n    for (var k = 1u; k < {splits}u; k = k + 1u) {{ acc = acc + part[k * {out_elems}u + i]; }}\n    outp[i] = acc;\n}}"
            );
        }
        let _ = writeln!(s, "var<workgroup> ws: array<f32, {}>;", tm * tk);
        let _ = writeln!(s, "var<workgroup> xs: array<f32, {}>;", tk * tn);
        // col(xbase, r, pb...): the input element at depth r for the
        // position whose first dilated coordinate on axis d is pb{d}
        // (`o * stride - pad_lo`, computed once per invocation: an
        // invocation stages the same position of every depth slice).
        let pbs: Vec<String> = (0..self.axes.len())
            .map(|d| format!(", pb{d}: i32"))
            .collect();
        let _ = writeln!(
            s,
            "fn col(xbase: u32, r: u32{}) -> f32 {{\n    var kq = r % {window}u;\n    var off = 0u;\n    var st = 1u;",
            pbs.concat()
        );
        for (d, &[len, win, _, _, _, ld, rd]) in self.axes.iter().enumerate().rev() {
            let dlen = if len == 0 { 0 } else { (len - 1) * ld + 1 };
            let _ = writeln!(
                s,
                "    {{\n        let k = i32(kq % {win}u);\n        kq = kq / {win}u;\n        let at = pb{d} + k * {rd}i;\n        if (at < 0i || at >= {dlen}i) {{ return 0.0; }}",
                win = win.max(1),
            );
            if ld != 1 {
                let _ = writeln!(
                    s,
                    "        if (at % {ld}i != 0i) {{ return 0.0; }}\n        off = off + u32(at / {ld}i) * st;"
                );
            } else {
                s.push_str("        off = off + u32(at) * st;\n");
            }
            let _ = writeln!(s, "        st = st * {len}u;\n    }}");
        }
        let _ = writeln!(
            s,
            "    return lhs[xbase + (r / {window}u) * {}u + off];\n}}",
            self.spatial_in
        );
        let _ = writeln!(
            s,
            "@compute @workgroup_size({wx}, {wy})\nfn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {{"
        );
        let _ = writeln!(
            s,
            "    let t0 = wg.y * nwg.x + wg.x;\n    if (t0 >= {}u) {{ return; }}\n    let t = t0 % {tiles}u;\n    let kbeg = (t0 / {tiles}u) * {chunk}u;\n    let kend = min(kbeg + {chunk}u, {depth}u);",
            self.workgroups(),
            tiles = nz(self.tiles() as u32),
            chunk = self.chunk,
        );
        let _ = writeln!(
            s,
            "    let p0 = (t % {ptiles}u) * {tn}u;\n    let r0 = ((t / {ptiles}u) % {ctiles}u) * {tm}u;\n    let grp = (t / {}u) % {}u;\n    let n = t / {}u;",
            ptiles * ctiles,
            self.per,
            ptiles * ctiles * self.per
        );
        if self.batch_groups > 1 {
            let _ = writeln!(
                s,
                "    let xbase = (grp * {}u + n) * {}u;",
                self.out_n,
                self.c * self.spatial_in
            );
        } else {
            let _ = writeln!(
                s,
                "    let xbase = (n * {}u + grp * {}u) * {}u;",
                self.c, self.i, self.spatial_in
            );
        }
        // First output channel of the tile, absolute.
        let _ = writeln!(s, "    let o0 = grp * {rows}u + r0;");
        // The position this invocation stages (tn divides THREADS) and its
        // first dilated coordinate per axis.
        let _ = writeln!(
            s,
            "    let sp = p0 + li % {tn}u;\n    let sp_ok = sp < {}u;\n    var pq = sp;",
            self.positions
        );
        for (d, &[_, _, out, stride, lo, _, _]) in self.axes.iter().enumerate().rev() {
            let _ = writeln!(
                s,
                "    let pb{d} = i32(pq % {out}u) * {stride}i - ({lo}i);\n    pq = pq / {out}u;",
                out = out.max(1)
            );
        }
        let args: String = (0..self.axes.len()).map(|d| format!(", pb{d}")).collect();
        for a in 0..rm * rn {
            let _ = writeln!(s, "    var c{a} = 0.0f;");
        }
        let u = self.unroll;
        let _ = writeln!(
            s,
            "    for (var k0 = kbeg; k0 < kend; k0 = k0 + {}u) {{",
            u * tk
        );
        // Only this loop loops (see `LOOP_BUDGET`): its body runs `u`
        // slices, each staged and multiplied without a loop.
        for slice in 0..u {
            let _ = writeln!(s, "        let ks{slice} = k0 + {}u;", slice * tk);
            // Stage rhs[o0 + m, ks + kk] as ws[kk * tm + m] (consecutive
            // invocations read consecutive depth entries of one row).
            for q in 0..(tm * tk).div_ceil(THREADS) {
                let _ = writeln!(
                    s,
                    "        if (li + {0}u < {1}u) {{\n            let el = li + {0}u;\n            let m = el / {tk}u;\n            let kk = ks{slice} + el % {tk}u;\n            var v = 0.0f;\n            if (r0 + m < {rows}u && kk < {depth}u) {{ v = rhs[(o0 + m) * {depth}u + kk]; }}\n            ws[(el % {tk}u) * {tm}u + m] = v;\n        }}",
                    THREADS * q,
                    tm * tk
                );
            }
            for q in 0..(tk * tn).div_ceil(THREADS) {
                let _ = writeln!(
                    s,
                    "        {{\n            let el = li + {}u;\n            let kk = ks{slice} + el / {tn}u;\n            var v = 0.0f;\n            if (sp_ok && kk < {depth}u) {{ v = col(xbase, kk{args}); }}\n            xs[el] = v;\n        }}",
                    THREADS * q,
                );
            }
            s.push_str("        workgroupBarrier();\n");
            for kq in 0..tk {
                for ii in 0..rm {
                    let _ = writeln!(
                        s,
                        "        let a{slice}_{kq}_{ii} = ws[{}u + lid.y];",
                        kq * tm + wy * ii
                    );
                }
                for jj in 0..rn {
                    let _ = writeln!(
                        s,
                        "        let b{slice}_{kq}_{jj} = xs[{}u + lid.x];",
                        kq * tn + wx * jj
                    );
                }
                for ii in 0..rm {
                    for jj in 0..rn {
                        let a = ii * rn + jj;
                        let _ = writeln!(
                            s,
                            "        c{a} = c{a} + a{slice}_{kq}_{ii} * b{slice}_{kq}_{jj};"
                        );
                    }
                }
            }
            s.push_str("        workgroupBarrier();\n");
        }
        s.push_str("    }\n");
        let (dst, split) = if splits > 1 {
            (
                "part",
                format!("(t0 / {}u) * {out_elems}u + ", nz(self.tiles() as u32)),
            )
        } else {
            ("outp", String::new())
        };
        for ii in 0..rm {
            for jj in 0..rn {
                let a = ii * rn + jj;
                let _ = writeln!(
                    s,
                    "    {{\n        let m = lid.y + {}u;\n        let q = p0 + lid.x + {}u;\n        if (r0 + m < {rows}u && q < {}u) {{ {dst}[{split}(n * {}u + o0 + m) * {}u + q] = c{a}; }}\n    }}",
                    wy * ii,
                    wx * jj,
                    self.positions,
                    self.o,
                    self.positions
                );
            }
        }
        s.push_str("}\n");
        s
    }
}
