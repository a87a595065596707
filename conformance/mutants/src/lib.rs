//! A deliberately wrong backend, for testing that conformance catches
//! wrong backends. A straightforward scalar interpreter of the kernel IR
//! (the template backend's `interp` module, compiled in) with one bug chosen by the
//! plugin options, `mutation = "NAME"`:
//!
//! - `none`: no bug (the control);
//! - `shr_logical`: `shr` on i32 shifts in zeros (logical, not arithmetic);
//! - `rem_divisor_sign`: `rem` takes the divisor's sign (Python's `%`);
//! - `sin_inaccurate`: `sin` is off by a relative 2^-12;
//! - `broadcast_load`: a load from a buffer shorter than the output (a
//!   broadcast operand) reads `buffer[gidx % len]`, as if the operand
//!   were tiled instead of broadcast along its own axes;
//! - `max_drops_nan`: float `max` returns the other operand when one is NaN
//!   (C's `fmax` instead of IEEE `maximum`);
//! - `dirty_alloc`: `alloc` hands back a freed buffer of the same size
//!   without zeroing it;
//! - `offset_ignored`: `write`, `read` and `read_into` ignore the offset;
//! - `weak_cache`: `compile` returns the executable of an earlier kernel
//!   with the same signature, size, rsize and node count (a cache keyed
//!   too weakly);
//! - `big_wrap`: output elements past 65,535 × 16 are computed as the
//!   element 65,535 × 16 before them (a dispatch that wraps);
//! - `tail_drop`: reductions longer than 4096 drop the last `rsize % 4096`
//!   elements (a chunked loop without its tail);
//! - `argsort_unstable`: declares the ARGSORT routine and breaks ties in
//!   reverse index order (an unstable sort);
//! - `softmax_unshifted`: declares the SOFTMAX routine and computes
//!   `exp(x) / sum(exp(x))` without subtracting the row's maximum (inf /
//!   inf = NaN on rows of large values);
//! - `naive_tanh`: `tanh(x)` as `(e^x - e^-x) / (e^x + e^-x)` in the
//!   dtype's precision (thousands of ULP off near 0; zero and large
//!   arguments exact);
//! - `lost_sign_zero`: the transcendentals that are odd functions (`sin`,
//!   `tan`, `sinh`, `tanh`, `asin`, `atan`, `erf`, `expm1`, `log1p`)
//!   return `+0` where the result is `-0`;
//! - `flush_declared`, `flush_undeclared`: every float op reads subnormal
//!   operands as zero and flushes subnormal results to zero (the sign
//!   kept), as GPUs do; the first declares `Semantics::SUBNORMALS_FLUSHED`
//!   (conformance must pass it, visibly), the second does not (it must
//!   fail);
//! - `racy_execute`: `execute` passes results through one staging area
//!   shared by all calls and unlocked while it works (a data race between
//!   concurrent executes; single-threaded use is correct);
//! - `loop_stale`: `execute_loop` repeats the first half of its body (the
//!   first iteration's bindings, as if the carried buffers never swapped);
//! - `hang_sin`, `abort_cos`, `segfault_tan`: executing a kernel that uses
//!   `sin` never returns, one with `cos` aborts the process, one with `tan`
//!   writes through a null pointer (the conformance binary must report each
//!   as that entry's failure and go on).
//!
//! With `limited = true` it declares neither f64 nor `sin` (conformance
//! must report those entries as unsupported). With `max_inputs = N` it
//! declares that kernels bind at most N buffers (the jit planner must
//! split, conformance's model layer must pass). With
//! `nonfinite_undefined = true` it declares
//! `Semantics::NONFINITE_UNDEFINED` (as WGSL backends do), which should make
//! conformance accept its NaN-related deviations, visibly.

use oxjax_abi::{
    Backend, BackendError, BackendInfo, BufferId, Capabilities, DType, ErrorKind, ExecutableId,
    Kernel, Launch, Op, Phase, Routine, RoutineKind, Scalar, Semantics, f16,
};
/// The template backend's interpreter (templates/backend/src/interp.rs):
/// a correct, independent implementation of every op.
#[path = "../../../templates/backend/src/interp.rs"]
#[allow(dead_code)]
mod eval;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mutation {
    None,
    ShrLogical,
    RemDivisorSign,
    SinInaccurate,
    BroadcastLoad,
    MaxDropsNan,
    DirtyAlloc,
    OffsetIgnored,
    WeakCache,
    BigWrap,
    TailDrop,
    HangSin,
    AbortCos,
    SegfaultTan,
    ArgsortUnstable,
    SoftmaxUnshifted,
    NaiveTanh,
    LostSignZero,
    FlushDeclared,
    FlushUndeclared,
    RacyExecute,
    LoopStale,
}

struct Mutant {
    mutation: Mutation,
    nonfinite_undefined: bool,
    limited: bool,
    /// The declared `max_inputs` (option; default: no limit).
    max_inputs: u32,
    name: String,
    state: Mutex<State>,
    /// The shared result staging of racy_execute.
    staging: Mutex<Vec<Vec<u8>>>,
}

#[derive(Default)]
struct State {
    buffers: HashMap<u64, Vec<u8>>,
    kernels: HashMap<u64, Kernel>,
    routines: HashMap<u64, Routine>,
    next: u64,
    /// Freed buffers (dirty_alloc hands them back as they are).
    freed: Vec<Vec<u8>>,
}

/// Where big_wrap wraps.
const WRAP: usize = 65_535 * 16;

fn err(msg: String) -> BackendError {
    BackendError::new(ErrorKind::INVALID_ARGUMENT, msg)
}

fn new(options: &str) -> Result<Mutant, BackendError> {
    let name = options
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "mutation").then(|| v.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "none".into());
    let nonfinite_undefined = options.lines().any(|l| {
        l.split_once('=')
            .is_some_and(|(k, v)| k.trim() == "nonfinite_undefined" && v.trim() == "true")
    });
    let limited = options.lines().any(|l| {
        l.split_once('=')
            .is_some_and(|(k, v)| k.trim() == "limited" && v.trim() == "true")
    });
    let max_inputs = match options.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "max_inputs").then(|| v.trim().to_string())
    }) {
        None => u32::MAX,
        Some(v) => v
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| err(format!("max_inputs wants a positive integer, got {v:?}")))?,
    };
    let mutation = match name.as_str() {
        "none" => Mutation::None,
        "shr_logical" => Mutation::ShrLogical,
        "rem_divisor_sign" => Mutation::RemDivisorSign,
        "sin_inaccurate" => Mutation::SinInaccurate,
        "broadcast_load" => Mutation::BroadcastLoad,
        "max_drops_nan" => Mutation::MaxDropsNan,
        "dirty_alloc" => Mutation::DirtyAlloc,
        "offset_ignored" => Mutation::OffsetIgnored,
        "weak_cache" => Mutation::WeakCache,
        "big_wrap" => Mutation::BigWrap,
        "tail_drop" => Mutation::TailDrop,
        "hang_sin" => Mutation::HangSin,
        "abort_cos" => Mutation::AbortCos,
        "segfault_tan" => Mutation::SegfaultTan,
        "argsort_unstable" => Mutation::ArgsortUnstable,
        "softmax_unshifted" => Mutation::SoftmaxUnshifted,
        "naive_tanh" => Mutation::NaiveTanh,
        "lost_sign_zero" => Mutation::LostSignZero,
        "flush_declared" => Mutation::FlushDeclared,
        "flush_undeclared" => Mutation::FlushUndeclared,
        "racy_execute" => Mutation::RacyExecute,
        "loop_stale" => Mutation::LoopStale,
        other => return Err(err(format!("unknown mutation {other:?}"))),
    };
    Ok(Mutant {
        mutation,
        nonfinite_undefined,
        limited,
        max_inputs,
        name,
        state: Mutex::new(State::default()),
        staging: Mutex::new(Vec::new()),
    })
}

/// `x` with a subnormal float value replaced by a zero of its sign.
fn flush(x: Scalar) -> Scalar {
    let tiny = match x {
        Scalar::F16(v) => v.to_f32().abs() < f16::MIN_POSITIVE.to_f32(),
        Scalar::F32(v) => v.abs() < f32::MIN_POSITIVE,
        Scalar::F64(v) => v.abs() < f64::MIN_POSITIVE,
        _ => false,
    };
    if tiny {
        let zero = Scalar::zero(x.dtype());
        if x.as_f64().is_sign_negative() {
            eval::apply(Op::NEG, x.dtype(), &[zero], 0)
        } else {
            zero
        }
    } else {
        x
    }
}

/// `tanh` by its definition, in the precision of `x`'s dtype.
fn naive_tanh(x: Scalar) -> Scalar {
    fn t64(x: f64) -> f64 {
        if x == 0.0 || x.abs() > 20.0 {
            return if x == 0.0 { x } else { x.signum() };
        }
        let (a, b) = (x.exp(), (-x).exp());
        (a - b) / (a + b)
    }
    fn t32(x: f32) -> f32 {
        if x == 0.0 || x.abs() > 10.0 {
            return if x == 0.0 { x } else { x.signum() };
        }
        let (a, b) = (x.exp(), (-x).exp());
        (a - b) / (a + b)
    }
    match x {
        Scalar::F16(v) => Scalar::F16(f16::from_f32(t32(v.to_f32()))),
        Scalar::F32(v) => Scalar::F32(t32(v)),
        Scalar::F64(v) => Scalar::F64(t64(v)),
        other => other,
    }
}

impl Mutant {
    fn flushes(&self) -> bool {
        matches!(
            self.mutation,
            Mutation::FlushDeclared | Mutation::FlushUndeclared
        )
    }

    fn apply(&self, op: Op, dtype: DType, args: &[Scalar], imm: u64) -> Scalar {
        if self.flushes() && op != Op::BITCAST {
            let args: Vec<Scalar> = args.iter().map(|&a| flush(a)).collect();
            return flush(eval::apply(op, dtype, &args, imm));
        }
        let right = || eval::apply(op, dtype, args, imm);
        match (self.mutation, op, args) {
            (Mutation::ShrLogical, Op::SHR, &[Scalar::I32(x), Scalar::I32(y)]) => {
                Scalar::I32(if (0..32).contains(&y) {
                    ((x as u32) >> y) as i32
                } else {
                    0
                })
            }
            (Mutation::RemDivisorSign, Op::REM, &[x, y]) => {
                let r = right();
                let zero = Scalar::zero(r.dtype());
                let (rv, yv) = (r.as_f64(), y.as_f64());
                if rv != 0.0 && yv != 0.0 && (rv < 0.0) != (yv < 0.0) && x.dtype() != DType::U32 {
                    eval::apply(Op::ADD, dtype, &[r, y], 0)
                } else if rv == 0.0 {
                    zero
                } else {
                    r
                }
            }
            (Mutation::SinInaccurate, Op::SIN, _) => {
                let r = right();
                let scale = 1.0 + f64::powi(2.0, -12);
                match r {
                    Scalar::F16(v) => Scalar::F16(f16::from_f32(v.to_f32() * scale as f32)),
                    Scalar::F32(v) => Scalar::F32(v * scale as f32),
                    Scalar::F64(v) => Scalar::F64(v * scale),
                    other => other,
                }
            }
            (Mutation::NaiveTanh, Op::TANH, &[x]) => naive_tanh(x),
            (
                Mutation::LostSignZero,
                Op::SIN
                | Op::TAN
                | Op::SINH
                | Op::TANH
                | Op::ASIN
                | Op::ATAN
                | Op::ERF
                | Op::EXPM1
                | Op::LOG1P,
                _,
            ) => {
                let r = right();
                if r.as_f64() == 0.0 {
                    Scalar::zero(r.dtype())
                } else {
                    r
                }
            }
            (Mutation::MaxDropsNan, Op::MAX, &[x, y]) if dtype.is_float() => {
                if x.as_f64().is_nan() {
                    y
                } else if y.as_f64().is_nan() {
                    x
                } else {
                    right()
                }
            }
            _ => right(),
        }
    }

    fn run(&self, k: &Kernel, inputs: &[&[u8]]) -> Vec<Vec<u8>> {
        let phases = k.phases();
        let mut outs: Vec<Vec<u8>> = (0..k.outputs.len())
            .map(|o| vec![0u8; k.size as usize * k.output_dtype(o).size()])
            .collect();
        let mut vals = vec![Scalar::Bool(false); k.nodes.len()];
        for gidx in 0..k.size as i32 {
            let mut accs: Vec<Scalar> = k
                .reductions
                .iter()
                .map(|r| r.op.identity(k.nodes[r.body as usize].dtype))
                .collect();
            let rsize = match self.mutation {
                Mutation::TailDrop if k.rsize > 4096 => k.rsize - k.rsize % 4096,
                _ => k.rsize,
            };
            for ridx in 0..rsize as i32 {
                for i in 0..k.nodes.len() {
                    if matches!(phases[i], Phase::Body | Phase::Both) {
                        vals[i] = self.node(k, i, gidx, ridx, &accs, &vals, inputs);
                    }
                }
                for (a, r) in accs.iter_mut().zip(k.reductions.iter()) {
                    *a = eval::combine(r.op, *a, vals[r.body as usize]);
                    if self.flushes() {
                        *a = flush(*a);
                    }
                }
            }
            for i in 0..k.nodes.len() {
                if matches!(phases[i], Phase::Epilogue | Phase::Both) {
                    vals[i] = self.node(k, i, gidx, 0, &accs, &vals, inputs);
                }
            }
            for (out, &o) in outs.iter_mut().zip(k.outputs.iter()) {
                let v = vals[o as usize];
                v.write(&mut out[gidx as usize * v.dtype().size()..]);
            }
        }
        if self.mutation == Mutation::BigWrap {
            for (o, out) in outs.iter_mut().enumerate() {
                let w = k.output_dtype(o).size();
                for i in WRAP * w..out.len() {
                    out[i] = out[i - WRAP * w];
                }
            }
        }
        outs
    }

    #[allow(clippy::too_many_arguments)]
    fn node(
        &self,
        k: &Kernel,
        i: usize,
        gidx: i32,
        ridx: i32,
        accs: &[Scalar],
        vals: &[Scalar],
        inputs: &[&[u8]],
    ) -> Scalar {
        let n = &k.nodes[i];
        match n.op {
            Op::CONST => Scalar::from_bits(n.dtype, n.imm),
            Op::GIDX => Scalar::I32(gidx),
            Op::RIDX => Scalar::I32(ridx),
            Op::ACC => accs[n.imm as usize],
            Op::LOAD => {
                let Scalar::I32(mut index) = vals[n.args[0] as usize] else {
                    unreachable!("validated")
                };
                let buf = inputs[n.imm as usize];
                let len = buf.len() / n.dtype.size();
                if self.mutation == Mutation::BroadcastLoad && len > 1 && len < k.size as usize {
                    index = gidx % len as i32;
                }
                match usize::try_from(index) {
                    Ok(j) if j < len => Scalar::read(n.dtype, &buf[j * n.dtype.size()..]),
                    _ => Scalar::zero(n.dtype),
                }
            }
            op => {
                // No allocation per element: the size ladder runs 2^20.
                let ids = k.args(i);
                let mut args = [Scalar::Bool(false); 4];
                for (a, &id) in args.iter_mut().zip(ids) {
                    *a = vals[id as usize];
                }
                self.apply(op, n.dtype, &args[..ids.len()], n.imm)
            }
        }
    }
}

impl Mutant {
    fn capabilities(&self) -> Capabilities {
        let routines: &[RoutineKind] = match self.mutation {
            Mutation::ArgsortUnstable => &[RoutineKind::ARGSORT],
            Mutation::SoftmaxUnshifted => &[RoutineKind::SOFTMAX],
            _ => &[],
        };
        let mut caps = Capabilities::everything(routines);
        caps.max_inputs = self.max_inputs;
        // The template's interpreter implements no 8- or 16-bit storage
        // type but f16.
        caps.dtypes = caps
            .dtypes
            .into_iter()
            .filter(|d| ![DType::BF16, DType::I8, DType::U8].contains(d))
            .collect();
        if self.limited {
            caps.dtypes = caps
                .dtypes
                .into_iter()
                .filter(|&d| d != DType::F64)
                .collect();
            caps.ops = caps.ops.into_iter().filter(|&o| o != Op::SIN).collect();
        }
        caps
    }
}

impl Backend for Mutant {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: format!("mutant-{}", self.name).into(),
            version: env!("CARGO_PKG_VERSION").into(),
            device: "host CPU (deliberately wrong)".into(),
            caps: Capabilities {
                semantics: Semantics(
                    if self.nonfinite_undefined {
                        Semantics::NONFINITE_UNDEFINED
                    } else {
                        0
                    } | if self.mutation == Mutation::FlushDeclared {
                        Semantics::SUBNORMALS_FLUSHED
                    } else {
                        0
                    },
                ),
                ..self.capabilities()
            },
        }
    }
    fn alloc(&self, bytes: u64) -> Result<BufferId, BackendError> {
        let mut st = self.state.lock().unwrap();
        st.next += 1;
        let id = st.next;
        let reused = match self.mutation {
            Mutation::DirtyAlloc => st
                .freed
                .iter()
                .position(|b| b.len() == bytes as usize)
                .map(|i| st.freed.swap_remove(i)),
            _ => None,
        };
        st.buffers
            .insert(id, reused.unwrap_or_else(|| vec![0; bytes as usize]));
        Ok(BufferId(id))
    }
    fn free(&self, buffer: BufferId) {
        let mut st = self.state.lock().unwrap();
        if let Some(b) = st.buffers.remove(&buffer.0)
            && self.mutation == Mutation::DirtyAlloc
        {
            st.freed.push(b);
        }
    }
    fn write(&self, buffer: BufferId, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        let mut st = self.state.lock().unwrap();
        let b = st
            .buffers
            .get_mut(&buffer.0)
            .ok_or_else(|| err("bad buffer".into()))?;
        let o = if self.mutation == Mutation::OffsetIgnored {
            0
        } else {
            offset as usize
        };
        b.get_mut(o..o + data.len())
            .ok_or_else(|| err("write out of range".into()))?
            .copy_from_slice(data);
        Ok(())
    }
    fn read(&self, buffer: BufferId, offset: u64, len: u64) -> Result<Vec<u8>, BackendError> {
        let st = self.state.lock().unwrap();
        let b = st
            .buffers
            .get(&buffer.0)
            .ok_or_else(|| err("bad buffer".into()))?;
        let o = if self.mutation == Mutation::OffsetIgnored {
            0
        } else {
            offset as usize
        };
        let n = len as usize;
        Ok(b.get(o..o + n)
            .ok_or_else(|| err("read out of range".into()))?
            .to_vec())
    }
    fn compile(&self, kernel: &Kernel) -> Result<ExecutableId, BackendError> {
        kernel
            .validate()
            .map_err(|e| BackendError::new(ErrorKind::COMPILE, e))?;
        let mut st = self.state.lock().unwrap();
        if self.mutation == Mutation::WeakCache {
            // The signature, size and node count: not the nodes themselves.
            let key = |k: &Kernel| {
                let outs: Vec<DType> = (0..k.outputs.len()).map(|o| k.output_dtype(o)).collect();
                (k.size, k.rsize, k.nodes.len(), k.inputs.to_vec(), outs)
            };
            if let Some((&id, _)) = st.kernels.iter().find(|(_, k)| key(k) == key(kernel)) {
                return Ok(ExecutableId(id));
            }
        }
        st.next += 1;
        let id = st.next;
        st.kernels.insert(id, kernel.clone());
        Ok(ExecutableId(id))
    }
    fn compile_routine(&self, routine: &Routine) -> Result<ExecutableId, BackendError> {
        if !self.capabilities().supports_routine(routine.kind) {
            return Err(err(format!("routine {:?} not declared", routine.kind)));
        }
        let mut st = self.state.lock().unwrap();
        st.next += 1;
        let id = st.next;
        st.routines.insert(id, routine.clone());
        Ok(ExecutableId(id))
    }
    fn execute(
        &self,
        exe: ExecutableId,
        inputs: &[BufferId],
        outputs: &[BufferId],
    ) -> Result<(), BackendError> {
        let mut st = self.state.lock().unwrap();
        if let Some(r) = st.routines.get(&exe.0).cloned() {
            let data = st
                .buffers
                .get(&inputs[0].0)
                .cloned()
                .ok_or_else(|| err("bad buffer".into()))?;
            let out = if r.kind == RoutineKind::SOFTMAX {
                softmax_unshifted(&r, &data)
            } else {
                argsort_unstable(&r, &data)
            };
            let buf = st
                .buffers
                .get_mut(&outputs[0].0)
                .ok_or_else(|| err("bad buffer".into()))?;
            buf[..out.len()].copy_from_slice(&out);
            return Ok(());
        }
        let k = st
            .kernels
            .get(&exe.0)
            .ok_or_else(|| err("bad executable".into()))?
            .clone();
        let uses = |op: Op| k.nodes.iter().any(|n| n.op == op);
        match self.mutation {
            Mutation::HangSin if uses(Op::SIN) => {
                drop(st);
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                }
            }
            Mutation::AbortCos if uses(Op::COS) => std::process::abort(),
            Mutation::SegfaultTan if uses(Op::TAN) => {
                // SAFETY: none; this mutant exists to crash the way a buggy
                // native backend does.
                unsafe { std::ptr::null_mut::<u8>().write_volatile(1) }
            }
            _ => {}
        }
        let data: Vec<Vec<u8>> = inputs
            .iter()
            .map(|b| {
                st.buffers
                    .get(&b.0)
                    .cloned()
                    .ok_or_else(|| err("bad buffer".into()))
            })
            .collect::<Result<_, _>>()?;
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut results = self.run(&k, &refs);
        if self.mutation == Mutation::RacyExecute {
            // Results pass through one staging area shared by all calls,
            // unlocked while "the device works": concurrent executes
            // overwrite each other's results.
            drop(st);
            *self.staging.lock().unwrap() = results;
            std::thread::sleep(std::time::Duration::from_millis(2));
            results = self.staging.lock().unwrap().clone();
            st = self.state.lock().unwrap();
        }
        for (b, r) in outputs.iter().zip(results) {
            let buf = st
                .buffers
                .get_mut(&b.0)
                .ok_or_else(|| err("bad buffer".into()))?;
            // A wrong executable (weak_cache) may compute more than fits.
            let n = r.len().min(buf.len());
            buf[..n].copy_from_slice(&r[..n]);
        }
        Ok(())
    }
    fn execute_loop(&self, body: &[Launch], count: u64) -> Result<(), BackendError> {
        let body = match self.mutation {
            Mutation::LoopStale => &body[..body.len().div_ceil(2)],
            _ => body,
        };
        oxjax_abi::launch_by_launch(body, count, |l| self.execute(l.exe, &l.inputs, &l.outputs))
    }
    fn release(&self, exe: ExecutableId) {
        self.state.lock().unwrap().kernels.remove(&exe.0);
    }
}

/// SOFTMAX along the last axis as `exp(x) / sum(exp(x))` in the dtype's
/// precision: no shift by the maximum, the deliberate bug.
fn softmax_unshifted(r: &Routine, data: &[u8]) -> Vec<u8> {
    let d = &r.inputs[0];
    let n = *d.shape.last().unwrap_or(&1) as usize;
    let size = d.dtype.size();
    let x: Vec<Scalar> = data
        .chunks_exact(size)
        .map(|c| Scalar::read(d.dtype, c))
        .collect();
    let mut out = vec![0u8; data.len()];
    for (row, xs) in x.chunks(n.max(1)).enumerate() {
        let e: Vec<Scalar> = xs
            .iter()
            .map(|v| Scalar::F64(v.as_f64().exp()).cast(d.dtype))
            .collect();
        let sum = e.iter().fold(Scalar::zero(d.dtype), |a, &b| {
            Scalar::F64(a.as_f64() + b.as_f64()).cast(d.dtype)
        });
        for (i, v) in e.iter().enumerate() {
            let y = Scalar::F64(v.as_f64() / sum.as_f64()).cast(d.dtype);
            y.write(&mut out[(row * n + i) * size..]);
        }
    }
    out
}

/// ARGSORT along `params[0]` (descending if `params[1]`), NaN last, ties in
/// reverse index order: the deliberate bug.
fn argsort_unstable(r: &Routine, data: &[u8]) -> Vec<u8> {
    let d = &r.inputs[0];
    let shape: Vec<usize> = d.shape.iter().map(|&n| n as usize).collect();
    let (axis, desc) = (r.params[0] as usize, r.params[1] == 1);
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let value = |i: usize| Scalar::read(d.dtype, &data[i * d.dtype.size()..]).as_f64();
    let mut out = vec![0u8; outer * n * inner * 4];
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * n + j) * inner + i;
            let mut idx: Vec<usize> = (0..n).collect();
            idx.sort_by(|&a, &b| {
                let (x, y) = (value(at(a)), value(at(b)));
                let order = match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if desc => y.partial_cmp(&x).unwrap(),
                    _ => x.partial_cmp(&y).unwrap(),
                };
                order.then(b.cmp(&a))
            });
            for (j, &k) in idx.iter().enumerate() {
                out[at(j) * 4..at(j) * 4 + 4].copy_from_slice(&(k as i32).to_le_bytes());
            }
        }
    }
    out
}

oxjax_abi::export_backend!(new);
