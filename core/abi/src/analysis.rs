//! Kernel analyses every backend needs, in one place: plain functions over
//! a validated [`Kernel`], no new FFI types.
//!
//! - [`phases`] / [`schedule`]: which nodes run before, inside and after
//!   the reduction loop (and which are dead);
//! - [`dependence`] and [`closure`]: what each node reads;
//! - [`Indices::affine`]: an index expression as `c0 + Σ c · ((v / d) % m)`
//!   over `v` = `gidx` or `ridx`, derived from the IR's structure (the
//!   linear forms of `Kernel::simplified`) with a range proof that no step
//!   wraps, so the form *equals* the expression on the whole iteration box
//!   — not merely at sampled points;
//! - [`matmul`]: one description of a matmul-shaped reduction (shape,
//!   operands, their strides when they are plain loads) for the backends'
//!   tiled kernels;
//! - [`axis_routine`]: the descriptor contract of sorts, scans and softmax.
//!
//! The wasm and webgpu backends use these instead of their own copies;
//! third-party backends may too.

use crate::simplify::{Linearize, NONE};
use crate::{DType, Kernel, Op, ReduceOp, Routine, RoutineKind};

/// Which phase of a kernel a node belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Needed neither by a reduction body nor by an output.
    Dead,
    /// Evaluated once per `(gidx, ridx)`: feeds an accumulator.
    Body,
    /// Evaluated once per `gidx`, after the loop.
    Epilogue,
    /// Needed by both (does not depend on `ridx` or `acc`).
    Both,
}

/// The phase of every node: what a backend needs inside the reduction
/// loop and what after it.
pub fn phases(k: &Kernel) -> Vec<Phase> {
    let n = k.nodes.len();
    let mut body = vec![false; n];
    let mut epi = vec![false; n];
    for r in k.reductions.iter() {
        body[r.body as usize] = true;
    }
    for &o in k.outputs.iter() {
        epi[o as usize] = true;
    }
    for i in (0..n).rev() {
        for &a in k.args(i) {
            body[a as usize] |= body[i];
            epi[a as usize] |= epi[i];
        }
    }
    (0..n)
        .map(|i| match (body[i], epi[i]) {
            (false, false) => Phase::Dead,
            (true, false) => Phase::Body,
            (false, true) => Phase::Epilogue,
            (true, true) => Phase::Both,
        })
        .collect()
}

/// Where a live node is evaluated (the discriminants order the stages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Once per `gidx`, before the reduction loop (reads neither `ridx`
    /// nor an accumulator).
    Before = 0,
    /// Once per `(gidx, ridx)`, inside the loop (reads `ridx`).
    Loop = 1,
    /// Once per `gidx`, after the loop (reads an accumulator).
    After = 2,
}

/// The stage of every node, `None` for dead ones. A validated kernel never
/// has a node reading both `ridx` and an accumulator.
pub fn schedule(k: &Kernel) -> Vec<Option<Stage>> {
    let dep = dependence(k);
    phases(k)
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            (p != Phase::Dead).then_some(if dep.acc[i] {
                Stage::After
            } else if dep.ridx[i] {
                Stage::Loop
            } else {
                Stage::Before
            })
        })
        .collect()
}

/// For every node, whether its value depends on `gidx`, on `ridx`, on an
/// accumulator (directly or through its operands).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependence {
    pub gidx: Vec<bool>,
    pub ridx: Vec<bool>,
    pub acc: Vec<bool>,
}

pub fn dependence(k: &Kernel) -> Dependence {
    let n = k.nodes.len();
    let mut d = Dependence {
        gidx: vec![false; n],
        ridx: vec![false; n],
        acc: vec![false; n],
    };
    for i in 0..n {
        let op = k.nodes[i].op;
        d.gidx[i] = op == Op::GIDX;
        d.ridx[i] = op == Op::RIDX;
        d.acc[i] = op == Op::ACC;
        for &a in k.args(i) {
            d.gidx[i] |= d.gidx[a as usize];
            d.ridx[i] |= d.ridx[a as usize];
            d.acc[i] |= d.acc[a as usize];
        }
    }
    d
}

/// The nodes the `roots` depend on (themselves included).
pub fn closure(k: &Kernel, roots: &[u32]) -> Vec<bool> {
    let mut set = vec![false; k.nodes.len()];
    for &r in roots {
        set[r as usize] = true;
    }
    for i in (0..k.nodes.len()).rev() {
        if set[i] {
            for &a in k.args(i) {
                set[a as usize] = true;
            }
        }
    }
    set
}

/// How a set of nodes reads `gidx`: only as the dividend of i32 `gidx / c`
/// (`divs`) and `gidx % c` (`mods`) with constant `c > 0`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GidxReads {
    pub divs: Vec<u32>,
    pub mods: Vec<u32>,
}

/// The digit reads of `gidx` by the nodes in `set`; `None` when one of them
/// reads `gidx` any other way or reads an accumulator (so the set is not a
/// function of the output's coordinates alone).
pub fn gidx_reads(k: &Kernel, set: &[bool]) -> Option<GidxReads> {
    let mut reads = GidxReads::default();
    for (i, n) in k.nodes.iter().enumerate() {
        if !set[i] {
            continue;
        }
        if n.op == Op::ACC {
            return None;
        }
        for (slot, &a) in k.args(i).iter().enumerate() {
            if k.nodes[a as usize].op != Op::GIDX {
                continue;
            }
            let divisor = matches!(n.op, Op::IDIV | Op::REM)
                .then(|| const_divisor(k, i))
                .flatten();
            match (n.op, slot, divisor) {
                (Op::IDIV, 0, Some(c)) => reads.divs.push(c),
                (Op::REM, 0, Some(c)) => reads.mods.push(c),
                _ => return None,
            }
        }
    }
    Some(reads)
}

/// The divisor of i32 `idiv`/`rem` node `i` when it is a positive constant.
fn const_divisor(k: &Kernel, i: usize) -> Option<u32> {
    let n = &k.nodes[i];
    let d = &k.nodes[n.args[1] as usize];
    let c = d.imm as u32 as i32;
    (n.dtype == DType::I32 && d.op == Op::CONST && c > 0).then_some(c as u32)
}

/// The row length `N` when every i32 `gidx / c` and `gidx % c` of the
/// kernel (live or not) uses the same positive constant `c`: the kernel
/// then works on rows `gidx = i N + j`.
pub fn row_length(k: &Kernel) -> Option<u32> {
    let mut n = None;
    for (i, node) in k.nodes.iter().enumerate() {
        if matches!(node.op, Op::IDIV | Op::REM)
            && node.dtype == DType::I32
            && k.nodes[node.args[0] as usize].op == Op::GIDX
            && k.nodes[node.args[1] as usize].op == Op::CONST
        {
            let c = const_divisor(k, i)?;
            if n.is_some_and(|m| m != c) {
                return None;
            }
            n = Some(c);
        }
    }
    n
}

/// A loop variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    Gidx,
    Ridx,
}

/// `coef · ((var / div) % modulo)` (no modulus when `modulo` is `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term {
    pub var: Var,
    pub div: u32,
    pub modulo: Option<u32>,
    pub coef: i64,
}

impl Term {
    /// The digit's value at `v` (a value of `var`, non-negative).
    pub fn digit(&self, v: i64) -> i64 {
        let q = v / self.div as i64;
        self.modulo.map_or(q, |m| q % m as i64)
    }
}

/// An index `offset + Σ terms` that equals its IR expression for every
/// `gidx < size`, `ridx < rsize` (wrapping never happens: `lo..=hi`, the
/// form's range over that box, lies inside i32).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Affine {
    pub offset: i64,
    /// At most one term per `(var, div, modulo)`, no zero coefficients.
    pub terms: Vec<Term>,
    pub lo: i64,
    pub hi: i64,
    /// The kernel's `size` and `rsize` (the extents of `gidx`, `ridx`).
    pub size: u32,
    pub rsize: u32,
}

/// Coefficients of an index in row coordinates: `c0 + ci i + cj j + cr
/// ridx` with `gidx = i N + j`, `j < N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowForm {
    pub c0: i64,
    pub ci: i64,
    pub cj: i64,
    pub cr: i64,
}

impl Affine {
    /// The form's value at `(gidx, ridx)`.
    pub fn eval(&self, gidx: i64, ridx: i64) -> i64 {
        self.offset
            + self
                .terms
                .iter()
                .map(|t| {
                    let v = if t.var == Var::Gidx { gidx } else { ridx };
                    t.coef * t.digit(v)
                })
                .sum::<i64>()
    }

    /// The form in row coordinates for rows of length `n` (`i = gidx / n`
    /// over all rows, `j = gidx % n`): `None` when a digit of `gidx` is
    /// not `i`, `j` or `gidx`, or `ridx` appears other than plainly.
    pub fn rows(&self, n: u32) -> Option<RowForm> {
        let mut f = RowForm {
            c0: self.offset,
            ci: 0,
            cj: 0,
            cr: 0,
        };
        for t in &self.terms {
            match (t.var, t.div, t.modulo) {
                (Var::Ridx, 1, None) => f.cr += t.coef,
                (Var::Gidx, 1, None) => {
                    f.ci += t.coef * n as i64;
                    f.cj += t.coef;
                }
                (Var::Gidx, d, None) if d == n => f.ci += t.coef,
                (Var::Gidx, 1, Some(m)) if m == n => f.cj += t.coef,
                _ => return None,
            }
        }
        // A coordinate with one value (one row, one column, one step)
        // has no stride: 0, whatever the expression multiplies it by.
        if self.size <= n {
            f.ci = 0;
        }
        if n == 1 {
            f.cj = 0;
        }
        if self.rsize <= 1 {
            f.cr = 0;
        }
        Some(f)
    }

    /// How the index steps across the lanes of a group of `width`
    /// consecutive `gidx` starting at a multiple of `width`: `Some(s)` when
    /// lane `l` reads `index(lane 0) + s l`.
    pub fn lane_step(&self, width: u32) -> Option<i64> {
        let mut step = 0;
        for t in self.terms.iter().filter(|t| t.var == Var::Gidx) {
            if t.div.is_multiple_of(width) {
                continue; // the same in every lane
            }
            if t.div != 1 || t.modulo.is_some_and(|m| !m.is_multiple_of(width)) {
                return None;
            }
            step += t.coef;
        }
        Some(step)
    }
}

/// Affine forms of a kernel's index expressions (one analysis of the
/// kernel's value ranges shared by every query).
pub struct Indices<'a> {
    k: &'a Kernel,
    lin: Linearize<'a>,
}

impl<'a> Indices<'a> {
    pub fn new(k: &'a Kernel) -> Self {
        Indices {
            k,
            lin: Linearize::new(k),
        }
    }

    /// Node `i` (i32) as an affine form of `gidx` and `ridx` digits, or
    /// `None` if it is not one (it reads a load, a non-constant product, a
    /// digit of anything but `gidx` / `ridx`, …) or its range may wrap.
    pub fn affine(&mut self, i: u32) -> Option<Affine> {
        let k = self.k;
        if k.nodes[i as usize].dtype != DType::I32 {
            return None;
        }
        let l = self.lin.form(i);
        let mut terms: Vec<Term> = Vec::new();
        for &(d, c) in &l.terms {
            let var = match k.nodes[d.base as usize].op {
                Op::GIDX => Var::Gidx,
                Op::RIDX => Var::Ridx,
                _ => return None,
            };
            let modulo = (d.modulo != NONE).then_some(d.modulo as u32);
            let (div, coef) = (d.div as u32, c as i64);
            match terms
                .iter_mut()
                .find(|t| (t.var, t.div, t.modulo) == (var, div, modulo))
            {
                Some(t) => t.coef += coef,
                None => terms.push(Term {
                    var,
                    div,
                    modulo,
                    coef,
                }),
            }
        }
        terms.retain(|t| t.coef != 0);
        let (mut lo, mut hi) = (l.konst as i64, l.konst as i64);
        for t in &terms {
            let extent = if t.var == Var::Gidx { k.size } else { k.rsize };
            let top = (extent.max(1) as i64 - 1) / t.div as i64;
            let top = t.modulo.map_or(top, |m| top.min(m as i64 - 1));
            let (a, b) = (0, t.coef * top);
            lo += a.min(b);
            hi += a.max(b);
        }
        // The form is exact modulo 2^32; inside i32 it is the value itself.
        if lo < i32::MIN as i64 || hi > i32::MAX as i64 {
            return None;
        }
        Some(Affine {
            offset: l.konst as i64,
            terms,
            lo,
            hi,
            size: k.size,
            rsize: k.rsize,
        })
    }
}

/// One operand of a matmul's product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operand {
    /// The operand's node (any expression of loads, constants and digits).
    pub node: u32,
    /// When the node is one load at an affine index in row coordinates
    /// (`i = gidx / n` counting rows across batches): where it reads.
    pub load: Option<Strided>,
}

/// A load `input[offset + row i + col j + depth ridx]`; `lo..=hi` is the
/// index's range over the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strided {
    pub input: u32,
    pub offset: i64,
    pub row: i64,
    pub col: i64,
    pub depth: i64,
    pub lo: i64,
    pub hi: i64,
}

/// A matmul-shaped kernel: one `add` reduction of `mul(a, b)` over
/// `ridx < k`, whose output index splits as `gidx = (b · m + i) · n + j`
/// with `a` reading `gidx` only through `gidx / c` (`c` a multiple of `n`:
/// batch and row; or not at all) and `b` only through `gidx % c` (`c` dividing `n`) or
/// `gidx / c` (`c` a multiple of `m n`: column and batch). These are
/// structural facts of the IR, not samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatMul {
    pub batch: u32,
    pub m: u32,
    pub n: u32,
    pub k: u32,
    /// The product's dtype.
    pub dtype: DType,
    /// The row operand (may be either argument of the product).
    pub a: Operand,
    /// The column operand.
    pub b: Operand,
    /// The nodes the outputs need (the epilogue and what it reads).
    pub epilogue: Vec<bool>,
}

/// Recognises a matmul-shaped kernel (see [`MatMul`]).
pub fn matmul(k: &Kernel) -> Option<MatMul> {
    if k.reductions.len() != 1 || k.reductions[0].op != ReduceOp::ADD || k.rsize == 0 {
        return None;
    }
    let body = k.nodes[k.reductions[0].body as usize];
    if body.op != Op::MUL || k.size == 0 {
        return None;
    }
    let (p, q) = (body.args[0], body.args[1]);
    let (x, y, xr, yr) = [(p, q), (q, p)].into_iter().find_map(|(x, y)| {
        let xr = gidx_reads(k, &closure(k, &[x]))?;
        let yr = gidx_reads(k, &closure(k, &[y]))?;
        (xr.mods.is_empty() && !yr.mods.is_empty()).then_some((x, y, xr, yr))
    })?;
    let n = *yr.mods.iter().max()?;
    let mn = yr.divs.iter().copied().min().unwrap_or(k.size);
    let ok = yr.mods.iter().all(|&c| n.is_multiple_of(c))
        && xr.divs.iter().all(|&c| c.is_multiple_of(n))
        && mn.is_multiple_of(n)
        && yr.divs.iter().all(|&c| c.is_multiple_of(mn))
        && k.size.is_multiple_of(mn);
    if !ok {
        return None;
    }
    let mut ix = Indices::new(k);
    let mut operand = |node: u32| {
        let l = k.nodes[node as usize];
        let load = (l.op == Op::LOAD)
            .then(|| ix.affine(l.args[0]))
            .flatten()
            .and_then(|f| {
                let r = f.rows(n)?;
                Some(Strided {
                    input: l.imm as u32,
                    offset: r.c0,
                    row: r.ci,
                    col: r.cj,
                    depth: r.cr,
                    lo: f.lo,
                    hi: f.hi,
                })
            });
        Operand { node, load }
    };
    let (a, b) = (operand(x), operand(y));
    Some(MatMul {
        batch: k.size / mn,
        m: mn / n,
        n,
        k: k.rsize,
        dtype: body.dtype,
        a,
        b,
        epilogue: closure(k, &k.outputs),
    })
}

/// The accumulating op of a scan routine (`None` for other kinds).
pub fn scan_op(kind: RoutineKind) -> Option<ReduceOp> {
    match kind {
        RoutineKind::CUMSUM => Some(ReduceOp::ADD),
        RoutineKind::CUMPROD => Some(ReduceOp::MUL),
        RoutineKind::CUMMAX => Some(ReduceOp::MAX),
        RoutineKind::CUMMIN => Some(ReduceOp::MIN),
        _ => None,
    }
}

/// A sort, argsort or scan routine that meets its descriptor contract, as
/// `outer × len × inner` lanes (`len` the routine's axis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisRoutine {
    pub dtype: DType,
    /// i32 for argsort, else the input's dtype.
    pub out_dtype: DType,
    pub outer: u64,
    pub len: u64,
    pub inner: u64,
    /// `params[1] == 1`: descending (sorts) or reversed (scans).
    pub flip: bool,
}

/// Checks a sort, argsort, scan or softmax descriptor against its contract
/// (see [`RoutineKind`]): one input of a known dtype (not bool for cumsum
/// and cumprod; f32 or f64 for softmax), one output of its shape (i32 for
/// argsort), params `[axis]` or `[axis, flag]` with the axis in range
/// (negative counts from the end) and the flag 0 or 1 (softmax: no params,
/// the last axis of a rank ≥ 1 input), element and byte counts within u64
/// and an argsort axis within i32. The message says what is wrong; a
/// backend adds the routine's name and descriptor, and its own size limits.
pub fn axis_routine(r: &Routine) -> Result<AxisRoutine, String> {
    let scan = scan_op(r.kind);
    let softmax = r.kind == RoutineKind::SOFTMAX;
    if scan.is_none() && !softmax && !matches!(r.kind, RoutineKind::SORT | RoutineKind::ARGSORT) {
        return Err(format!("{} is not a sort, scan or softmax", r.kind.name()));
    }
    let ([input], [output]) = (r.inputs.as_slice(), r.outputs.as_slice()) else {
        return Err(format!(
            "takes 1 input and 1 output, got {} and {}",
            r.inputs.len(),
            r.outputs.len()
        ));
    };
    let dtype = input.dtype;
    if !dtype.is_known() {
        return Err(format!("unknown input dtype {dtype}"));
    }
    if dtype == DType::BOOL && matches!(scan, Some(ReduceOp::ADD | ReduceOp::MUL)) {
        return Err("not defined on bool".into());
    }
    if softmax && !matches!(dtype, DType::F32 | DType::F64) {
        return Err(format!("takes f32 or f64, not {dtype}"));
    }
    let out_dtype = if r.kind == RoutineKind::ARGSORT {
        DType::I32
    } else {
        dtype
    };
    if output.dtype != out_dtype {
        return Err(format!(
            "output dtype must be {out_dtype}, not {}",
            output.dtype
        ));
    }
    if output.shape != input.shape {
        return Err(format!(
            "output shape {:?} differs from input shape {:?}",
            output.shape, input.shape
        ));
    }
    let shape = input.shape.as_slice();
    let rank = shape.len() as i64;
    let (axis, flag) = match r.params.as_slice() {
        &[] if softmax => (rank - 1, 0),
        _ if softmax => return Err(format!("takes no params, got {:?}", r.params)),
        &[axis] => (axis, 0),
        &[axis, flag] => (axis, flag),
        p => return Err(format!("takes params [axis, flag], got {p:?}")),
    };
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&axis) {
        return Err(match r.params.first() {
            Some(a) => format!("axis {a} out of range for rank {rank}"),
            None => "needs an input of rank at least 1".into(),
        });
    }
    if !matches!(flag, 0 | 1) {
        return Err(format!("flag params[1] must be 0 or 1, not {flag}"));
    }
    // Every element and byte count, of any sub-shape too (zero-length
    // axes count as 1 here), fits in u64.
    if shape
        .iter()
        .try_fold(8u64, |n, &d| n.checked_mul(d.max(1)))
        .is_none()
    {
        return Err("shape too large".into());
    }
    let axis = axis as usize;
    if r.kind == RoutineKind::ARGSORT && shape[axis] > i32::MAX as u64 {
        return Err("axis too long for i32 indices".into());
    }
    Ok(AxisRoutine {
        dtype,
        out_dtype,
        outer: shape[..axis].iter().product(),
        len: shape[axis],
        inner: shape[axis + 1..].iter().product(),
        flip: flag == 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KernelBuilder, Scalar, Val};

    use crate::simplify::index_values as values;

    fn op(b: &mut KernelBuilder, op: Op, x: Val, c: i32) -> Val {
        let c = b.i32(c);
        b.op(op, &[x, c])
    }

    /// A kernel loading input 0 at `idx` and summing over `rsize`.
    fn reading(b: KernelBuilder, idx: Val, size: usize, rsize: usize) -> Kernel {
        let mut b = b;
        let v = b.load(0, idx);
        let v = if rsize > 0 {
            b.reduce(ReduceOp::ADD, v)
        } else {
            v
        };
        b.output(v);
        b.finish(size, rsize)
    }

    fn builder() -> KernelBuilder {
        let mut b = KernelBuilder::new();
        b.input(DType::F32);
        b
    }

    #[test]
    fn a_transposed_view_is_affine_and_equals_its_expression() {
        // [6, 8] read from a [8, 6] buffer: (gidx % 8) * 6 + gidx / 8,
        // plus a ridx stride of 48.
        let mut b = builder();
        let (g, r) = (b.gidx(), b.ridx());
        let col = op(&mut b, Op::REM, g, 8);
        let row = op(&mut b, Op::IDIV, g, 8);
        let t = op(&mut b, Op::MUL, col, 6);
        let t = b.op(Op::ADD, &[t, row]);
        let rr = op(&mut b, Op::MUL, r, 48);
        let idx = b.op(Op::ADD, &[t, rr]);
        let k = reading(b, idx, 48, 3);
        let f = Indices::new(&k).affine(idx.id).expect("affine");
        assert_eq!(f.terms.len(), 3, "{f:?}");
        assert_eq!((f.lo, f.hi), (0, 47 + 96));
        assert_eq!(
            f.rows(8),
            Some(RowForm {
                c0: 0,
                ci: 1,
                cj: 6,
                cr: 48
            })
        );
        for g in 0..48 {
            for r in 0..3 {
                assert_eq!(
                    f.eval(g, r),
                    values(&k, g as i32, r as i32)[idx.id as usize] as i64
                );
            }
        }
        // the lanes of an aligned group of four: column steps of 6
        assert_eq!(f.lane_step(4), Some(6));
    }

    #[test]
    fn non_affine_indices_are_refused() {
        // gidx * gidx
        let mut b = builder();
        let g = b.gidx();
        let sq = b.op(Op::MUL, &[g, g]);
        let k = reading(b, sq, 16, 0);
        assert_eq!(Indices::new(&k).affine(sq.id), None);
        // an index read from memory
        let mut b = builder();
        b.input(DType::I32);
        let g = b.gidx();
        let at = b.load(1, g);
        let k = reading(b, at, 16, 0);
        assert_eq!(Indices::new(&k).affine(at.id), None);
        // a digit of a sum: (3 gidx + ridx) / 2
        let mut b = builder();
        let (g, r) = (b.gidx(), b.ridx());
        let t = op(&mut b, Op::MUL, g, 3);
        let t = b.op(Op::ADD, &[t, r]);
        let h = op(&mut b, Op::IDIV, t, 2);
        let k = reading(b, h, 16, 4);
        assert_eq!(Indices::new(&k).affine(h.id), None);
        // gidx * 2^29 wraps for gidx >= 4: not the integer form
        let mut b = builder();
        let g = b.gidx();
        let big = op(&mut b, Op::MUL, g, 1 << 29);
        let k = reading(b, big, 16, 0);
        assert_eq!(Indices::new(&k).affine(big.id), None);
        let k2 = {
            let mut b = builder();
            let g = b.gidx();
            let big = op(&mut b, Op::MUL, g, 1 << 29);
            reading(b, big, 4, 0)
        };
        assert!(
            Indices::new(&k2).affine(big.id).is_some(),
            "fits for gidx < 4"
        );
    }

    #[test]
    fn random_affine_forms_equal_the_ir_everywhere() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (mut proven, mut refused) = (0, 0);
        for _ in 0..300 {
            let mut b = builder();
            let size = 1 + next(200) as usize;
            let rsize = 1 + next(6) as usize;
            let vals = crate::simplify::random_indices(&mut b, 8, &mut next);
            let idx = *vals.last().unwrap();
            let k = reading(b, idx, size, rsize);
            let Some(f) = Indices::new(&k).affine(idx.id) else {
                refused += 1;
                continue;
            };
            proven += 1;
            for g in 0..size as i64 {
                for r in 0..rsize as i64 {
                    let want = values(&k, g as i32, r as i32)[idx.id as usize] as i64;
                    assert_eq!(f.eval(g, r), want, "at ({g}, {r}): {f:?}\n{k}");
                    assert!(f.lo <= want && want <= f.hi, "range {f:?} misses {want}");
                }
            }
        }
        assert!(
            proven > 100 && refused > 20,
            "{proven} proven, {refused} refused"
        );
    }

    /// `out[i, j] = Σ_r x[i K + r] · w[r stride + j]` over an M x N output,
    /// or with the product's operands swapped.
    fn matmul_kernel(m: i32, n: i32, kk: i32, stride: i32, swap: bool) -> Kernel {
        let mut b = builder();
        b.input(DType::F32);
        let (g, r) = (b.gidx(), b.ridx());
        let i = op(&mut b, Op::IDIV, g, n);
        let j = op(&mut b, Op::REM, g, n);
        let ai = op(&mut b, Op::MUL, i, kk);
        let ai = b.op(Op::ADD, &[ai, r]);
        let bi = op(&mut b, Op::MUL, r, stride);
        let bi = b.op(Op::ADD, &[bi, j]);
        let (x, w) = (b.load(0, ai), b.load(1, bi));
        let p = if swap {
            b.op(Op::MUL, &[w, x])
        } else {
            b.op(Op::MUL, &[x, w])
        };
        let acc = b.reduce(ReduceOp::ADD, p);
        let one = b.constant(Scalar::F32(1.0));
        let y = b.op(Op::ADD, &[acc, one]);
        b.output(y);
        b.finish((m * n) as usize, kk as usize)
    }

    #[test]
    fn a_matmul_is_described_in_either_operand_order() {
        for swap in [false, true] {
            let k = matmul_kernel(5, 12, 7, 12, swap);
            let mm = matmul(&k).expect("matmul");
            assert_eq!((mm.batch, mm.m, mm.n, mm.k), (1, 5, 12, 7));
            let (a, b) = (mm.a.load.unwrap(), mm.b.load.unwrap());
            assert_eq!((a.input, a.offset, a.row, a.col, a.depth), (0, 0, 7, 0, 1));
            assert_eq!((b.input, b.offset, b.row, b.col, b.depth), (1, 0, 0, 1, 12));
            assert_eq!((a.hi, b.hi), (4 * 7 + 6, 6 * 12 + 11));
            // the epilogue: the add, the accumulator and the constant
            assert_eq!(mm.epilogue.iter().filter(|&&e| e).count(), 3);
        }
    }

    #[test]
    fn a_matmul_with_a_non_unit_inner_stride_says_so() {
        // w read with 3 columns per row step: depth stride 36, and the
        // column stride stays 1 (no false claim of a contiguous panel).
        let k = matmul_kernel(4, 12, 5, 36, false);
        let b = matmul(&k).unwrap().b.load.unwrap();
        assert_eq!((b.col, b.depth), (1, 36));
        // B read with a column stride of 2: still a matmul, col 2
        let mut bld = builder();
        bld.input(DType::F32);
        let (g, r) = (bld.gidx(), bld.ridx());
        let i = op(&mut bld, Op::IDIV, g, 8);
        let j = op(&mut bld, Op::REM, g, 8);
        let ai = op(&mut bld, Op::MUL, i, 3);
        let ai = bld.op(Op::ADD, &[ai, r]);
        let j2 = op(&mut bld, Op::MUL, j, 2);
        let bi = op(&mut bld, Op::MUL, r, 16);
        let bi = bld.op(Op::ADD, &[bi, j2]);
        let (x, w) = (bld.load(0, ai), bld.load(1, bi));
        let p = bld.op(Op::MUL, &[x, w]);
        let acc = bld.reduce(ReduceOp::ADD, p);
        bld.output(acc);
        let k = bld.finish(32, 3);
        let b = matmul(&k).unwrap().b.load.unwrap();
        assert_eq!((b.col, b.depth), (2, 16));
    }

    #[test]
    fn reductions_that_are_not_matmuls_are_refused() {
        // A reads gidx directly (x[gidx + ridx]): not a digit read
        let mut b = builder();
        b.input(DType::F32);
        let (g, r) = (b.gidx(), b.ridx());
        let j = op(&mut b, Op::REM, g, 8);
        let ai = b.op(Op::ADD, &[g, r]);
        let bi = op(&mut b, Op::MUL, r, 8);
        let bi = b.op(Op::ADD, &[bi, j]);
        let (x, w) = (b.load(0, ai), b.load(1, bi));
        let p = b.op(Op::MUL, &[x, w]);
        let acc = b.reduce(ReduceOp::ADD, p);
        b.output(acc);
        assert_eq!(matmul(&b.finish(32, 4)), None);
        // both operands read the column: no row operand
        let mut b = builder();
        b.input(DType::F32);
        let (g, r) = (b.gidx(), b.ridx());
        let j = op(&mut b, Op::REM, g, 8);
        let x = b.load(0, j);
        let bi = op(&mut b, Op::MUL, r, 8);
        let bi = b.op(Op::ADD, &[bi, j]);
        let w = b.load(1, bi);
        let p = b.op(Op::MUL, &[x, w]);
        let acc = b.reduce(ReduceOp::ADD, p);
        b.output(acc);
        assert_eq!(matmul(&b.finish(32, 4)), None);
        // an operand reading gidx through a unary op (a cast)
        let mut b = builder();
        b.input(DType::F32);
        let (g, r) = (b.gidx(), b.ridx());
        let j = op(&mut b, Op::REM, g, 8);
        let gf = b.cast(g, DType::F32);
        let bi = op(&mut b, Op::MUL, r, 8);
        let bi = b.op(Op::ADD, &[bi, j]);
        let w = b.load(1, bi);
        let p = b.op(Op::MUL, &[gf, w]);
        let acc = b.reduce(ReduceOp::ADD, p);
        b.output(acc);
        assert_eq!(matmul(&b.finish(32, 4)), None);
        // a max reduction
        let k = matmul_kernel(4, 8, 3, 8, false);
        let mut k2 = k.clone();
        k2.reductions[0].op = ReduceOp::MAX;
        assert!(matmul(&k).is_some());
        assert_eq!(matmul(&k2), None);
    }

    #[test]
    fn a_row_digit_that_is_not_the_row_has_no_row_form() {
        // x[(gidx / 16) * 3 + ridx] with rows of 8: i / 2, not affine in i
        let mut b = builder();
        let (g, r) = (b.gidx(), b.ridx());
        let q = op(&mut b, Op::IDIV, g, 16);
        let q = op(&mut b, Op::MUL, q, 3);
        let idx = b.op(Op::ADD, &[q, r]);
        let k = reading(b, idx, 64, 3);
        let f = Indices::new(&k).affine(idx.id).unwrap();
        assert_eq!(f.rows(8), None);
        assert!(f.rows(16).is_some());
        assert_eq!(f.lane_step(4), Some(0));
        assert_eq!(f.lane_step(32), None);
    }

    #[test]
    fn axis_routines_are_checked_once_for_every_backend() {
        use crate::TensorDesc;
        let desc = |dtype, shape: &[u64]| TensorDesc {
            dtype,
            shape: shape.to_vec().into(),
        };
        let routine = |kind, i: TensorDesc, o: TensorDesc, params: &[i64]| Routine {
            kind,
            inputs: vec![i].into(),
            outputs: vec![o].into(),
            params: params.to_vec().into(),
        };
        let x = desc(DType::F32, &[2, 3, 4]);
        let ok = axis_routine(&routine(
            RoutineKind::ARGSORT,
            x.clone(),
            desc(DType::I32, &[2, 3, 4]),
            &[-2, 1],
        ))
        .unwrap();
        assert_eq!((ok.outer, ok.len, ok.inner, ok.flip), (2, 3, 4, true));
        assert_eq!(ok.out_dtype, DType::I32);
        let err = |kind, o: TensorDesc, params: &[i64]| {
            axis_routine(&routine(kind, x.clone(), o, params)).unwrap_err()
        };
        assert!(err(RoutineKind::SORT, desc(DType::I32, &[2, 3, 4]), &[0]).contains("dtype"));
        assert!(err(RoutineKind::CUMSUM, desc(DType::F32, &[2, 3]), &[0]).contains("shape"));
        assert!(err(RoutineKind::CUMMAX, x.clone(), &[3]).contains("out of range"));
        assert!(err(RoutineKind::CUMMAX, x.clone(), &[0, 2]).contains("flag"));
        assert!(err(RoutineKind::CUMMAX, x.clone(), &[]).contains("params"));
        assert!(err(RoutineKind::FFT, x.clone(), &[0]).contains("not a sort, scan"));
        // softmax: the last axis, no params, floats only, rank >= 1
        let ok = axis_routine(&routine(RoutineKind::SOFTMAX, x.clone(), x.clone(), &[])).unwrap();
        assert_eq!((ok.outer, ok.len, ok.inner, ok.flip), (6, 4, 1, false));
        assert!(err(RoutineKind::SOFTMAX, x.clone(), &[2]).contains("no params"));
        let i = desc(DType::I32, &[4]);
        let bad = routine(RoutineKind::SOFTMAX, i.clone(), i, &[]);
        assert!(axis_routine(&bad).unwrap_err().contains("f32 or f64"));
        let s = desc(DType::F64, &[]);
        let bad = routine(RoutineKind::SOFTMAX, s.clone(), s, &[]);
        assert!(axis_routine(&bad).unwrap_err().contains("rank"));
        let b = desc(DType::BOOL, &[4]);
        let bad = routine(RoutineKind::CUMSUM, b.clone(), b.clone(), &[0]);
        assert!(axis_routine(&bad).unwrap_err().contains("bool"));
        let huge = desc(DType::F32, &[1 << 40, 1 << 40]);
        let bad = routine(RoutineKind::SORT, huge.clone(), huge, &[0]);
        assert!(axis_routine(&bad).unwrap_err().contains("too large"));
    }

    #[test]
    fn the_schedule_splits_before_loop_and_after() {
        let k = matmul_kernel(4, 8, 3, 8, false);
        let s = schedule(&k);
        let dep = dependence(&k);
        for (i, n) in k.nodes.iter().enumerate() {
            match n.op {
                Op::GIDX => assert_eq!(s[i], Some(Stage::Before)),
                Op::RIDX | Op::LOAD | Op::MUL if n.dtype != DType::I32 || n.op == Op::RIDX => {
                    assert_eq!(s[i], Some(Stage::Loop), "%{i}")
                }
                Op::ACC => assert_eq!(s[i], Some(Stage::After)),
                _ => {}
            }
            assert_eq!(s[i] == Some(Stage::Loop), dep.ridx[i] && !dep.acc[i]);
        }
        assert_eq!(phases(&k).len(), k.nodes.len());
    }
}
