//! Routines the backend runs itself, on its linear memory (no round trip
//! through the core): stable sort and argsort, and the inclusive scans
//! cumsum, cumprod, cummax and cummin, along one axis of a row-major
//! tensor, with the semantics written on [`RoutineKind`] and the reduction
//! combining rules of the kernel IR (f16 computes in f32 and rounds; float
//! min/max propagate NaN and order -0 < +0; integers wrap).

use oxjax_abi::{
    BackendError, DType, ErrorKind, ReduceOp, Routine, RoutineKind, Scalar, analysis, bf16, f16,
};
use std::cmp::Ordering;

pub(crate) const KINDS: [RoutineKind; 6] = [
    RoutineKind::SORT,
    RoutineKind::ARGSORT,
    RoutineKind::CUMSUM,
    RoutineKind::CUMPROD,
    RoutineKind::CUMMAX,
    RoutineKind::CUMMIN,
];

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub routine: Routine,
    dtype: DType,
    out_dtype: DType,
    outer: usize,
    len: usize,
    inner: usize,
    flip: bool,
}

impl Plan {
    pub fn new(r: &Routine) -> Result<Plan, BackendError> {
        let bad = |msg: String| {
            BackendError::new(
                ErrorKind::INVALID_ARGUMENT,
                format!("routine {}: {msg} (descriptor: {r:?})", r.kind.name()),
            )
        };
        if !KINDS.contains(&r.kind) {
            return Err(BackendError::new(
                ErrorKind::UNSUPPORTED,
                format!(
                    "routine {} is not implemented by the wasm backend",
                    r.kind.name()
                ),
            ));
        }
        let p = analysis::axis_routine(r).map_err(bad)?;
        // one 32-bit linear memory: every count below 2^31
        let limit = 1u64 << 31;
        if p.len >= limit || p.outer * p.inner >= limit || p.outer * p.len * p.inner >= limit {
            return Err(bad("shape too large".into()));
        }
        Ok(Plan {
            routine: r.clone(),
            dtype: p.dtype,
            out_dtype: p.out_dtype,
            outer: p.outer as usize,
            len: p.len as usize,
            inner: p.inner as usize,
            flip: p.flip,
        })
    }

    fn elements(&self) -> usize {
        self.outer * self.len * self.inner
    }

    pub fn input_bytes(&self) -> u64 {
        (self.elements() * self.dtype.size()) as u64
    }

    pub fn output_bytes(&self) -> u64 {
        (self.elements() * self.out_dtype.size()) as u64
    }

    /// Computes the output bytes from the input bytes.
    pub fn run(&self, input: &[u8]) -> Vec<u8> {
        let size = self.dtype.size();
        let x: Vec<Scalar> = input
            .chunks_exact(size)
            .take(self.elements())
            .map(|c| Scalar::read(self.dtype, c))
            .collect();
        let mut out = vec![0u8; self.output_bytes() as usize];
        let osize = self.out_dtype.size();
        let pos = |lane: usize, i: usize| {
            let (o, j) = (lane / self.inner.max(1), lane % self.inner.max(1));
            (o * self.len + i) * self.inner + j
        };
        let mut order: Vec<usize> = Vec::with_capacity(self.len);
        for lane in 0..self.outer * self.inner {
            match analysis::scan_op(self.routine.kind) {
                Some(op) => {
                    let mut acc: Option<Scalar> = None;
                    for step in 0..self.len {
                        let i = if self.flip { self.len - 1 - step } else { step };
                        let p = pos(lane, i);
                        let v = match acc {
                            None => x[p],
                            Some(a) => combine(op, a, x[p]),
                        };
                        v.write(&mut out[p * osize..]);
                        acc = Some(v);
                    }
                }
                None => {
                    order.clear();
                    order.extend(0..self.len);
                    order.sort_by(|&a, &b| {
                        let o = sort_order(x[pos(lane, a)], x[pos(lane, b)]);
                        if self.flip { o.reverse() } else { o }
                    });
                    for (i, &from) in order.iter().enumerate() {
                        let v = if self.routine.kind == RoutineKind::ARGSORT {
                            Scalar::I32(from as i32)
                        } else {
                            x[pos(lane, from)]
                        };
                        v.write(&mut out[pos(lane, i) * osize..]);
                    }
                }
            }
        }
        out
    }
}

/// Ascending order: by value, -0 == +0, NaN after everything (NaNs equal).
fn sort_order(a: Scalar, b: Scalar) -> Ordering {
    let (x, y) = (a.as_f64(), b.as_f64());
    match (x.is_nan(), y.is_nan()) {
        (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (p, q) => p.cmp(&q),
    }
}

fn minimum(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == y {
        if x.is_sign_negative() { x } else { y }
    } else {
        x.min(y)
    }
}

fn maximum(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == y {
        if x.is_sign_positive() { x } else { y }
    } else {
        x.max(y)
    }
}

/// The reduction's combining step on one dtype.
fn combine(op: ReduceOp, a: Scalar, b: Scalar) -> Scalar {
    use Scalar as S;
    let f32op = |x: f32, y: f32| -> f32 {
        match op {
            ReduceOp::ADD => x + y,
            ReduceOp::MUL => x * y,
            ReduceOp::MIN => minimum(x.into(), y.into()) as f32,
            _ => maximum(x.into(), y.into()) as f32,
        }
    };
    match (a, b) {
        (S::Bool(x), S::Bool(y)) => S::Bool(if op == ReduceOp::MIN { x & y } else { x | y }),
        (S::I32(x), S::I32(y)) => S::I32(match op {
            ReduceOp::ADD => x.wrapping_add(y),
            ReduceOp::MUL => x.wrapping_mul(y),
            ReduceOp::MIN => x.min(y),
            _ => x.max(y),
        }),
        (S::U32(x), S::U32(y)) => S::U32(match op {
            ReduceOp::ADD => x.wrapping_add(y),
            ReduceOp::MUL => x.wrapping_mul(y),
            ReduceOp::MIN => x.min(y),
            _ => x.max(y),
        }),
        (S::F16(x), S::F16(y)) => S::F16(f16::from_f32(f32op(x.to_f32(), y.to_f32()))),
        (S::BF16(x), S::BF16(y)) => S::BF16(bf16::from_f32(f32op(x.to_f32(), y.to_f32()))),
        (S::I8(x), S::I8(y)) => S::I8(match op {
            ReduceOp::ADD => x.wrapping_add(y),
            ReduceOp::MUL => x.wrapping_mul(y),
            ReduceOp::MIN => x.min(y),
            _ => x.max(y),
        }),
        (S::U8(x), S::U8(y)) => S::U8(match op {
            ReduceOp::ADD => x.wrapping_add(y),
            ReduceOp::MUL => x.wrapping_mul(y),
            ReduceOp::MIN => x.min(y),
            _ => x.max(y),
        }),
        (S::F32(x), S::F32(y)) => S::F32(f32op(x, y)),
        (S::F64(x), S::F64(y)) => S::F64(match op {
            ReduceOp::ADD => x + y,
            ReduceOp::MUL => x * y,
            ReduceOp::MIN => minimum(x, y),
            _ => maximum(x, y),
        }),
        _ => unreachable!("combine on mixed dtypes"),
    }
}
