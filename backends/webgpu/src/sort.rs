//! Native sort and argsort: a bitonic network over (key, index) pairs.
//!
//! Every lane (the routine's axis, of length `len`) is padded to `p`, the
//! next power of two. `init` turns each element into an order-preserving
//! u32 key (NaNs equal and last, `-0 == +0`; complemented for descending
//! order) paired with its position; padding pairs compare after every real
//! one. Comparing pairs lexicographically makes every pair distinct, so
//! the bitonic network yields exactly the stable order. `step` is one
//! compare-exchange stage (`k`, `j` read from a uniform at a dynamic
//! offset, one dispatch per stage); `finish` writes each output position
//! (for bool/f16 one whole word per invocation, keeping bytes beyond the
//! end).

use crate::codegen::WG;
use oxjax_abi::{BackendError, DType, ErrorKind, Routine, RoutineKind, analysis};
use std::fmt::Write;

/// Pairs sorted together in workgroup memory (256 invocations, 2 each).
pub const BLOCK: u32 = 512;

/// One dispatch of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Sorts each block of `BLOCK` pairs (every `k` up to `BLOCK`).
    LocalSort,
    /// One compare-exchange stage with a partner distance `j >= BLOCK`.
    Global { k: u32, j: u32 },
    /// The stages `j < BLOCK` of `k`, in workgroup memory.
    LocalMerge { k: u32 },
}

impl Stage {
    /// The (k, j) written to its uniform slot.
    pub fn params(self) -> (u32, u32) {
        match self {
            Stage::LocalSort => (0, 0),
            Stage::Global { k, j } => (k, j),
            Stage::LocalMerge { k } => (k, 0),
        }
    }
}

/// A checked sort routine.
#[derive(Clone, Debug)]
pub struct SortPlan {
    pub argsort: bool,
    pub descending: bool,
    pub dtype: DType,
    pub outer: u32,
    pub len: u32,
    pub inner: u32,
    /// `len` rounded up to a power of two.
    pub padded: u32,
}

fn invalid(r: &Routine, msg: impl std::fmt::Display) -> BackendError {
    BackendError::new(
        ErrorKind::INVALID_ARGUMENT,
        format!("routine {}: {msg} (descriptor: {r:?})", r.kind.name()),
    )
}

impl SortPlan {
    pub fn new(r: &Routine, max_pairs: u64) -> Result<SortPlan, BackendError> {
        if !matches!(r.kind, RoutineKind::SORT | RoutineKind::ARGSORT) {
            return Err(BackendError::new(
                ErrorKind::UNSUPPORTED,
                format!(
                    "routine {} is not implemented by the webgpu backend",
                    r.kind.name()
                ),
            ));
        }
        if let [input] = r.inputs.as_slice()
            && !matches!(
                input.dtype,
                DType::BOOL | DType::I32 | DType::U32 | DType::F16 | DType::F32
            )
        {
            return Err(BackendError::new(
                ErrorKind::UNSUPPORTED,
                format!(
                    "sort of {} is not supported by the webgpu backend",
                    input.dtype
                ),
            ));
        }
        let p = analysis::axis_routine(r).map_err(|m| invalid(r, m))?;
        let too_big = || invalid(r, "too large for the webgpu sort");
        let padded = p.len.max(1).next_power_of_two();
        let pairs = (p.outer * p.inner)
            .checked_mul(padded)
            .ok_or_else(too_big)?;
        if pairs > max_pairs
            || p.len > i32::MAX as u64
            || p.outer * p.inner * p.len > u32::MAX as u64
        {
            return Err(too_big());
        }
        Ok(SortPlan {
            argsort: r.kind == RoutineKind::ARGSORT,
            descending: p.flip,
            dtype: p.dtype,
            outer: p.outer as u32,
            len: p.len as u32,
            inner: p.inner as u32,
            padded: padded as u32,
        })
    }

    pub fn lanes(&self) -> u32 {
        self.outer * self.inner
    }

    pub fn elements(&self) -> u64 {
        self.lanes() as u64 * self.len as u64
    }

    /// Bytes of the output buffer.
    pub fn output_bytes(&self) -> u64 {
        self.elements()
            * if self.argsort {
                4
            } else {
                self.dtype.size() as u64
            }
    }

    pub fn input_bytes(&self) -> u64 {
        self.elements() * self.dtype.size() as u64
    }

    /// The dispatches after `init`, in order: the first `local` sort of
    /// every block of [`BLOCK`] pairs, then for each larger `k` the global
    /// stages `j >= BLOCK` one by one and a `local` merge of the rest.
    pub fn stages(&self) -> Vec<Stage> {
        let mut v = Vec::new();
        if self.padded < 2 {
            return v;
        }
        v.push(Stage::LocalSort);
        let mut k = 2 * BLOCK;
        while k <= self.padded {
            let mut j = k / 2;
            while j >= BLOCK {
                v.push(Stage::Global { k, j });
                j /= 2;
            }
            v.push(Stage::LocalMerge { k });
            k *= 2;
        }
        v
    }

    /// Invocations of `init` and `step`, and of `finish`.
    pub fn invocations(&self) -> (u32, u32) {
        let fin = if self.argsort || self.dtype.size() == 4 {
            self.elements() as u32
        } else {
            (self.elements() as u32).div_ceil(4 / self.dtype.size() as u32)
        };
        (self.lanes() * self.padded, fin)
    }

    pub fn wgsl(&self) -> String {
        // Zero-element sorts are never dispatched; keep divisors nonzero
        // (a constant division by zero is a WGSL error).
        let (len, inner, p) = (self.len.max(1), self.inner.max(1), self.padded);
        let (pairs, fin) = self.invocations();
        let n = self.elements();
        let d = self.dtype;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "// oxjax {}: {} lanes of {len} {d} ({})",
            if self.argsort { "argsort" } else { "sort" },
            self.lanes(),
            if self.descending {
                "descending"
            } else {
                "ascending"
            }
        );
        s.push_str(
            "@group(0) @binding(0) var<storage, read> inp: array<u32>;\n\
             @group(0) @binding(1) var<storage, read_write> outp: array<u32>;\n\
             @group(0) @binding(2) var<storage, read_write> keys: array<u32>;\n\
             struct Stage { k: u32, j: u32 }\n\
             @group(0) @binding(3) var<uniform> stage: Stage;\n",
        );
        let _ = writeln!(
            s,
            "fn pos(lane: u32, i: u32) -> u32 {{ return ((lane / {inner}u) * {len}u + i) * {inner}u + lane % {inner}u; }}"
        );
        // The raw bits of element p (low bits for bool / f16).
        let raw = match d.size() {
            1 => "(inp[p >> 2u] >> ((p & 3u) * 8u)) & 0xffu",
            2 => "(inp[p >> 1u] >> ((p & 1u) * 16u)) & 0xffffu",
            _ => "inp[p]",
        };
        let _ = writeln!(s, "fn raw(p: u32) -> u32 {{ return {raw}; }}");
        let key = match d {
            DType::BOOL => "b & 1u".to_string(),
            DType::I32 => "b ^ 0x80000000u".to_string(),
            DType::U32 => "b".to_string(),
            DType::F16 => "select(select(select(b | 0x8000u, ~b & 0xffffu, (b & 0x8000u) != 0u), 0x8000u, (b & 0x7fffu) == 0u), 0xffffffffu, (b & 0x7fffu) > 0x7c00u)".to_string(),
            _ => "select(select(select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u), 0x80000000u, (b & 0x7fffffffu) == 0u), 0xffffffffu, (b & 0x7fffffffu) > 0x7f800000u)".to_string(),
        };
        let key = if self.descending {
            format!("~({key})")
        } else {
            key
        };
        let _ = writeln!(s, "fn key(b: u32) -> u32 {{ return {key}; }}");
        let id = format!("let t = (wg.y * nwg.x + wg.x) * {WG}u + li;");
        let sig = "@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32";
        let _ = writeln!(
            s,
            "@compute @workgroup_size({WG})\nfn init({sig}) {{\n    {id}\n    if (t >= {pairs}u) {{ return; }}\n    let lane = t / {p}u;\n    let i = t % {p}u;\n    if (i < {len}u) {{\n        keys[2u * t] = key(raw(pos(lane, i)));\n        keys[2u * t + 1u] = i;\n    }} else {{\n        keys[2u * t] = 0xffffffffu;\n        keys[2u * t + 1u] = 0xffffffffu;\n    }}\n}}"
        );
        let _ = writeln!(
            s,
            "@compute @workgroup_size({WG})\nfn step({sig}) {{\n    {id}\n    if (t >= {pairs}u) {{ return; }}\n    let i = t % {p}u;\n    let l = i ^ stage.j;\n    if (l <= i) {{ return; }}\n    let a = 2u * t;\n    let b = 2u * (t - i + l);\n    let ka = keys[a];\n    let ia = keys[a + 1u];\n    let kb = keys[b];\n    let ib = keys[b + 1u];\n    let a_gt_b = ka > kb || (ka == kb && ia > ib);\n    let up = (i & stage.k) == 0u;\n    if (a_gt_b == up) {{\n        keys[a] = kb;\n        keys[a + 1u] = ib;\n        keys[b] = ka;\n        keys[b + 1u] = ia;\n    }}\n}}"
        );
        // Workgroup-memory stages: 256 invocations, one pair each, on a
        // block of BLOCK consecutive entries (all inside one lane when
        // p >= BLOCK; whole lanes otherwise).
        let _ = writeln!(
            s,
            "var<workgroup> sk: array<u32, {BLOCK}>;\nvar<workgroup> si: array<u32, {BLOCK}>;\nfn cmpx(base: u32, i: u32, l: u32, k: u32) {{\n    let up = ((base + i) % {p}u & k) == 0u;\n    let ka = sk[i];\n    let ia = si[i];\n    let kb = sk[l];\n    let ib = si[l];\n    let a_gt_b = ka > kb || (ka == kb && ia > ib);\n    if (a_gt_b == up) {{\n        sk[i] = kb;\n        si[i] = ib;\n        sk[l] = ka;\n        si[l] = ia;\n    }}\n}}"
        );
        let last_k = p.min(BLOCK);
        for (name, body) in [
            (
                "lsort",
                format!(
                    "    for (var k = 2u; k <= {last_k}u; k = k << 1u) {{\n        for (var j = k >> 1u; j > 0u; j = j >> 1u) {{\n            let i = 2u * j * (li / j) + li % j;\n            cmpx(base, i, i + j, k);\n            workgroupBarrier();\n        }}\n    }}\n"
                ),
            ),
            (
                "lmerge",
                format!(
                    "    for (var j = {}u; j > 0u; j = j >> 1u) {{\n        let i = 2u * j * (li / j) + li % j;\n        cmpx(base, i, i + j, stage.k);\n        workgroupBarrier();\n    }}\n",
                    BLOCK / 2
                ),
            ),
        ] {
            let _ = writeln!(
                s,
                "@compute @workgroup_size(256)\nfn {name}(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {{\n    let base = (wg.y * nwg.x + wg.x) * {BLOCK}u;\n    for (var e = li; e < {BLOCK}u; e = e + 256u) {{\n        if (base + e < {pairs}u) {{\n            sk[e] = keys[2u * (base + e)];\n            si[e] = keys[2u * (base + e) + 1u];\n        }} else {{\n            sk[e] = 0xffffffffu;\n            si[e] = 0xffffffffu;\n        }}\n    }}\n    workgroupBarrier();\n{body}    for (var e = li; e < {BLOCK}u; e = e + 256u) {{\n        if (base + e < {pairs}u) {{\n            keys[2u * (base + e)] = sk[e];\n            keys[2u * (base + e) + 1u] = si[e];\n        }}\n    }}\n}}"
            );
        }
        // finish: output position q -> (lane, i) -> source index.
        let _ = writeln!(
            s,
            "fn lane_of(q: u32) -> u32 {{ return (q / ({inner}u * {len}u)) * {inner}u + q % {inner}u; }}\nfn source(q: u32) -> u32 {{ return keys[2u * (lane_of(q) * {p}u + (q / {inner}u) % {len}u) + 1u]; }}"
        );
        let _ = writeln!(
            s,
            "@compute @workgroup_size({WG})\nfn finish({sig}) {{\n    {id}\n    if (t >= {fin}u) {{ return; }}"
        );
        if self.argsort {
            s.push_str("    outp[t] = source(t);\n");
        } else if d.size() == 4 {
            s.push_str("    outp[t] = raw(pos(lane_of(t), source(t)));\n");
        } else {
            let lanes = 4 / d.size() as u32;
            let bits = 8 * d.size() as u32;
            let _ = writeln!(s, "    var w = 0u;\n    var m = 0u;");
            for e in 0..lanes {
                let _ = writeln!(
                    s,
                    "    if (t * {lanes}u + {e}u < {n}u) {{\n        let q = t * {lanes}u + {e}u;\n        w = w | (raw(pos(lane_of(q), source(q))) << {}u);\n        m = m | ({:#x}u << {}u);\n    }}",
                    e * bits,
                    (1u64 << bits) - 1,
                    e * bits
                );
            }
            s.push_str("    outp[t] = (outp[t] & ~m) | w;\n");
        }
        s.push_str("}\n");
        s
    }
}
