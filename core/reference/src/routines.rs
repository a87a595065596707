//! The routines the reference backend implements: stable sort and argsort,
//! inclusive scans (cumsum, cumprod, cummax, cummin), each along one axis of
//! a row-major tensor, scatter along one axis, and softmax along the last. Scans and scatter combine
//! with [`eval::combine`], so they agree with kernel reductions bit for bit.
//! This is also the core's host fallback for devices without a routine.

use crate::eval;
use oxjax_abi::{BackendError, DType, ErrorKind, ReduceOp, Routine, RoutineKind, Scalar, analysis};
use std::cmp::Ordering;

/// The routine kinds implemented here.
pub(crate) const KINDS: [RoutineKind; 8] = [
    RoutineKind::SORT,
    RoutineKind::ARGSORT,
    RoutineKind::CUMSUM,
    RoutineKind::CUMPROD,
    RoutineKind::CUMMAX,
    RoutineKind::CUMMIN,
    RoutineKind::SCATTER,
    RoutineKind::SOFTMAX,
];

/// A checked routine descriptor, ready to run.
#[derive(Clone, Debug)]
pub(crate) struct CompiledRoutine {
    pub routine: Routine,
    kind: RoutineKind,
    /// The input's dtype.
    dtype: DType,
    out_dtype: DType,
    lanes: Lanes,
    /// Descending (sorts) or reversed (scans).
    flip: bool,
    /// SCATTER: the combining op (`None`: set) and the number of indices.
    scatter: Option<(Option<ReduceOp>, usize)>,
}

/// A row-major shape seen as `outer × len × inner`, `len` being the axis:
/// `outer * inner` lanes of `len` elements each.
#[derive(Clone, Copy, Debug)]
struct Lanes {
    outer: usize,
    len: usize,
    inner: usize,
}

impl Lanes {
    fn count(self) -> usize {
        self.outer * self.inner
    }

    /// Flat position of element `i` of lane `lane`.
    fn position(self, lane: usize, i: usize) -> usize {
        let (o, j) = (lane / self.inner, lane % self.inner);
        (o * self.len + i) * self.inner + j
    }
}

fn invalid(routine: &Routine, msg: impl std::fmt::Display) -> BackendError {
    BackendError::new(
        ErrorKind::INVALID_ARGUMENT,
        format!(
            "routine {}: {msg} (descriptor: {routine:?})",
            routine.kind.name()
        ),
    )
}

impl CompiledRoutine {
    /// Checks a descriptor: a kind from [`KINDS`], then the contract of
    /// sorts, scans and softmax ([`analysis::axis_routine`]).
    pub fn new(r: &Routine) -> Result<CompiledRoutine, BackendError> {
        if r.kind == RoutineKind::SCATTER {
            return CompiledRoutine::scatter(r);
        }
        if !KINDS.contains(&r.kind) {
            return Err(BackendError::new(
                ErrorKind::UNSUPPORTED,
                format!(
                    "routine {} is not implemented by the reference backend",
                    r.kind.name()
                ),
            ));
        }
        let p = analysis::axis_routine(r).map_err(|m| invalid(r, m))?;
        let count =
            |n: u64| usize::try_from(n).map_err(|_| invalid(r, "shape does not fit in memory"));
        let lanes = Lanes {
            outer: count(p.outer)?,
            len: count(p.len)?,
            inner: count(p.inner)?,
        };
        let (dtype, out_dtype) = (p.dtype, p.out_dtype);
        Ok(CompiledRoutine {
            routine: r.clone(),
            kind: r.kind,
            dtype,
            out_dtype,
            lanes,
            flip: p.flip,
            scatter: None,
        })
    }

    /// Checks a SCATTER descriptor: inputs (operand, indices i32, updates),
    /// one output like the operand, params `[mode, axis]`, and updates of
    /// shape `operand[..axis] ++ indices ++ operand[axis+1..]`.
    fn scatter(r: &Routine) -> Result<CompiledRoutine, BackendError> {
        let ([op, idx, upd], [out]) = (r.inputs.as_slice(), r.outputs.as_slice()) else {
            return Err(invalid(
                r,
                "takes 3 inputs (operand, indices, updates) and 1 output",
            ));
        };
        let (mode, axis) = match r.params.as_slice() {
            &[mode, axis] => (mode, axis),
            p => return Err(invalid(r, format!("takes params [mode, axis], got {p:?}"))),
        };
        let mode = match mode {
            0 => None,
            1 => Some(ReduceOp::ADD),
            2 => Some(ReduceOp::MUL),
            3 => Some(ReduceOp::MIN),
            4 => Some(ReduceOp::MAX),
            m => return Err(invalid(r, format!("mode {m} is not 0..=4"))),
        };
        let dtype = op.dtype;
        if !dtype.is_known() || idx.dtype != DType::I32 || upd.dtype != dtype || out.dtype != dtype
        {
            return Err(invalid(
                r,
                "dtypes must be (T, i32, T) -> T for a known dtype T",
            ));
        }
        let rank = op.shape.len();
        if axis < 0 || axis as usize >= rank {
            return Err(invalid(
                r,
                format!("axis {axis} out of range for rank {rank}"),
            ));
        }
        let axis = axis as usize;
        let mut want: Vec<u64> = op.shape[..axis].to_vec();
        want.extend_from_slice(&idx.shape);
        want.extend_from_slice(&op.shape[axis + 1..]);
        if upd.shape.as_slice() != want.as_slice() || out.shape != op.shape {
            return Err(invalid(
                r,
                format!(
                    "updates must have shape {want:?} and the output {:?}",
                    op.shape
                ),
            ));
        }
        let dims = |s: &[u64]| -> Option<Vec<usize>> {
            s.iter().map(|&d| usize::try_from(d).ok()).collect()
        };
        let (Some(shape), Some(ishape)) = (dims(&op.shape), dims(&idx.shape)) else {
            return Err(invalid(r, "shape does not fit in memory"));
        };
        let all = shape.iter().chain(&ishape);
        if all
            .clone()
            .try_fold(8usize, |n, &d| n.checked_mul(d.max(1)))
            .is_none()
        {
            return Err(invalid(r, "shape does not fit in memory"));
        }
        let product = |ds: &[usize]| ds.iter().product::<usize>();
        Ok(CompiledRoutine {
            routine: r.clone(),
            kind: r.kind,
            dtype,
            out_dtype: dtype,
            lanes: Lanes {
                outer: product(&shape[..axis]),
                len: shape[axis],
                inner: product(&shape[axis + 1..]),
            },
            flip: false,
            scatter: Some((mode, product(&ishape))),
        })
    }

    /// Elements of the (single) input and output.
    fn elements(&self) -> usize {
        self.lanes.count() * self.lanes.len
    }

    /// Bytes the input buffer must hold.
    pub fn input_bytes(&self) -> Vec<usize> {
        let operand = self.elements() * self.dtype.size();
        match self.scatter {
            Some((_, m)) => {
                let updates = self.lanes.count() * m * self.dtype.size();
                vec![operand, m * 4, updates]
            }
            None => vec![operand],
        }
    }

    /// Bytes of each output buffer.
    pub fn output_bytes(&self) -> Vec<usize> {
        vec![self.elements() * self.out_dtype.size()]
    }

    /// Runs the routine on its input buffer (at least [`Self::input_bytes`]
    /// long) and returns the output buffers.
    pub fn run(&self, inputs: &[&[u8]]) -> Vec<Vec<u8>> {
        let size = self.dtype.size();
        let x: Vec<Scalar> = (0..self.elements())
            .map(|i| Scalar::read(self.dtype, &inputs[0][i * size..]))
            .collect();
        let y = match (self.scatter, analysis::scan_op(self.kind)) {
            (Some((mode, m)), _) => {
                let idx: Vec<i32> = (0..m)
                    .map(|i| i32::from_le_bytes(inputs[1][i * 4..i * 4 + 4].try_into().unwrap()))
                    .collect();
                let upd: Vec<Scalar> = (0..self.lanes.count() * m)
                    .map(|i| Scalar::read(self.dtype, &inputs[2][i * size..]))
                    .collect();
                scatter(mode, self.lanes, x, &idx, &upd)
            }
            (None, Some(op)) => scan(op, self.flip, self.lanes, &x),
            (None, None) if self.kind == RoutineKind::SOFTMAX => softmax(self.lanes, &x),
            (None, None) => sort(self.kind == RoutineKind::ARGSORT, self.flip, self.lanes, &x),
        };
        let out_size = self.out_dtype.size();
        let mut out = vec![0; y.len() * out_size];
        for (i, v) in y.iter().enumerate() {
            v.write(&mut out[i * out_size..]);
        }
        vec![out]
    }
}

/// The combining op of a scan kind; `None` for the sorts.
/// The ascending sort order: by value, `-0 == +0`, NaN after everything
/// else and all NaNs equal; `false < true`. (`as_f64` is exact for every
/// dtype.)
fn sort_order(a: Scalar, b: Scalar) -> Ordering {
    let (x, y) = (a.as_f64(), b.as_f64());
    match (x.is_nan(), y.is_nan()) {
        (false, false) => x.partial_cmp(&y).expect("neither is NaN"),
        (a_nan, b_nan) => a_nan.cmp(&b_nan),
    }
}

/// Stable sort of every lane: the sorted values, or (`indices`) the i32
/// positions along the axis they came from. Descending reverses the order
/// but keeps equal elements in their original order.
fn sort(indices: bool, descending: bool, lanes: Lanes, x: &[Scalar]) -> Vec<Scalar> {
    let mut out = vec![Scalar::I32(0); x.len()];
    for lane in 0..lanes.count() {
        let at = |i: usize| lanes.position(lane, i);
        let mut order: Vec<usize> = (0..lanes.len).collect();
        // `sort_by` is stable.
        order.sort_by(|&a, &b| {
            let o = sort_order(x[at(a)], x[at(b)]);
            if descending { o.reverse() } else { o }
        });
        for (i, &from) in order.iter().enumerate() {
            out[at(i)] = if indices {
                Scalar::I32(from as i32)
            } else {
                x[at(from)]
            };
        }
    }
    out
}

/// Inclusive scan of every lane, from the last element backwards when
/// `reverse`: element `i` is the combination of elements `0..=i` (or
/// `i..len`), starting from the first element itself.
fn scan(op: ReduceOp, reverse: bool, lanes: Lanes, x: &[Scalar]) -> Vec<Scalar> {
    let mut out = x.to_vec();
    for lane in 0..lanes.count() {
        let steps: Vec<usize> = if reverse {
            (0..lanes.len).rev().collect()
        } else {
            (0..lanes.len).collect()
        };
        let mut acc: Option<Scalar> = None;
        for i in steps {
            let p = lanes.position(lane, i);
            let value = match acc {
                None => x[p],
                Some(a) => eval::combine(op, a, x[p]),
            };
            out[p] = value;
            acc = Some(value);
        }
    }
    out
}

/// Softmax of every lane (the last axis, so lanes are contiguous), in f64
/// and rounded once: `e = exp(x - max)`, `e / sum(e)`, the max NaN when any
/// element is (so +inf, NaN and all -inf rows are NaN, as written on
/// [`RoutineKind::SOFTMAX`]).
fn softmax(lanes: Lanes, x: &[Scalar]) -> Vec<Scalar> {
    let mut out = x.to_vec();
    for lane in 0..lanes.count() {
        let at = |i: usize| lanes.position(lane, i);
        let v: Vec<f64> = (0..lanes.len).map(|i| x[at(i)].as_f64()).collect();
        let m = v.iter().fold(f64::NEG_INFINITY, |m, &a| {
            if m.is_nan() || a.is_nan() {
                f64::NAN
            } else {
                m.max(a)
            }
        });
        let e: Vec<f64> = v.iter().map(|&a| (a - m).exp()).collect();
        let sum: f64 = e.iter().sum();
        for (i, &e) in e.iter().enumerate() {
            out[at(i)] = Scalar::F64(e / sum).cast(x[at(i)].dtype());
        }
    }
    out
}

/// `out = x; out[o, idx[k], i] (op)= upd[o, k, i]` in row-major order of the
/// updates (so with `set` the last duplicate wins); indices outside
/// `0..len` are dropped.
fn scatter(
    mode: Option<ReduceOp>,
    lanes: Lanes,
    mut out: Vec<Scalar>,
    idx: &[i32],
    upd: &[Scalar],
) -> Vec<Scalar> {
    let m = idx.len();
    for o in 0..lanes.outer {
        for (k, &j) in idx.iter().enumerate() {
            if j < 0 || j as usize >= lanes.len {
                continue;
            }
            for i in 0..lanes.inner {
                let p = (o * lanes.len + j as usize) * lanes.inner + i;
                let u = upd[(o * m + k) * lanes.inner + i];
                out[p] = match mode {
                    None => u,
                    Some(op) => eval::combine(op, out[p], u),
                };
            }
        }
    }
    out
}
