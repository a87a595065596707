//! Kernel IR → WGSL.
//!
//! Every buffer is bound as `array<u32>` (buffers are byte arrays). i32, u32
//! and f32 elements are whole words; bool (one byte) and f16 (two bytes) are
//! extracted from words on load. An invocation that writes bool or f16
//! outputs computes 4 (bool) or 2 (f16 only) consecutive elements and writes
//! whole words, so no two invocations write the same word; the last,
//! partial word keeps the bytes beyond `size` (read-modify-write by its one
//! owner).
//!
//! f16 values are held in f32 registers and rounded to binary16 (nearest
//! even, in integer arithmetic) after every op, which is exactly the ABI's
//! "compute in f32, round to f16" rule; so f16 never needs `shader-f16`.
//!
//! Nodes are emitted as `let` bindings in three blocks: loop-invariant nodes
//! (no `ridx`, no `acc`) before the reduction loop, `ridx`-dependent nodes
//! inside it, and `acc`-dependent nodes (the epilogue) after it.
//!
//! Two shapes of kernel:
//! - [`Mode::Elementwise`]: one invocation per output element (or per
//!   group of 2/4 packed elements), each running the whole reduction loop
//!   itself; dispatched 2-D when there are more than 65535 workgroups.
//! - [`Mode::Tree`]: reductions with few outputs and a long loop: one
//!   workgroup of [`TREE_WG`] invocations per output element, each folding
//!   a strided share of `ridx`, then a tree in workgroup memory.

use crate::matmul;
use crate::wgsl_lib;
use oxjax_abi::{DType, Kernel, Op, ReduceOp, Scalar};
use std::fmt::Write;

/// Workgroup size of elementwise kernels.
pub const WG: u32 = 256;
/// Workgroup size of tree reductions.
pub const TREE_WG: u32 = 256;

/// The first statement of every `main`: sets `ZO`, a zero the driver
/// cannot constant-fold (see [`wgsl_lib`]).
/// (Every dispatch has one workgroup along z; Mesa's range analysis sees
/// through values like `arrayLength(..) >> 31`.)
pub const PROLOGUE: &str = "    ZO = nwg.z - 1u;\n";

/// How a kernel is dispatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `units` invocations (each `group` consecutive elements), workgroups
    /// of [`WG`], 2-D beyond 65535 workgroups.
    Elementwise { units: u32 },
    /// One workgroup per output element.
    Tree,
    /// Tiled matmul: a grid of `(x, y, z)` workgroups.
    Tiled { groups: [u32; 3] },
}

/// A generated kernel.
#[derive(Clone, Debug)]
pub struct Generated {
    pub wgsl: String,
    pub mode: Mode,
}

pub fn ty(d: DType) -> &'static str {
    match d {
        DType::BOOL => "bool",
        DType::I32 => "i32",
        DType::U32 => "u32",
        _ => "f32",
    }
}

/// A WGSL expression for a constant. `let` bindings are not constant
/// expressions, so integer arithmetic on constants may overflow (it wraps
/// at run time).
pub fn constant(s: Scalar) -> String {
    // Float constants go through ZO, the zero the driver cannot see: a
    // known 0.0 lets Mesa fold `x * 0.0` to +0 and `0.0 + x` to x, which
    // are wrong for -0, and a non-finite constant expression is a WGSL
    // error.
    let float = |bits: u32| format!("bitcast<f32>({bits:#x}u | ZO)");
    match s {
        Scalar::Bool(b) => format!("{b}"),
        Scalar::I32(v) if v >= 0 => format!("{v}i"),
        Scalar::I32(v) => format!("bitcast<i32>({:#x}u)", v as u32),
        Scalar::U32(v) => format!("{v}u"),
        Scalar::F16(v) => float(v.to_f32().to_bits()),
        Scalar::F32(v) => float(v.to_bits()),
        Scalar::F64(v) => float((v as f32).to_bits()),
        // WGSL has no 8/16-bit storage without extensions: the capabilities
        // leave these out, so no kernel carries one.
        Scalar::BF16(_) | Scalar::I8(_) | Scalar::U8(_) => {
            unreachable!("webgpu declares no {} (capabilities)", s.dtype())
        }
    }
}

/// Emits the code of one kernel's scalar expression.
pub(crate) struct Emitter<'k> {
    pub k: &'k Kernel,
    pub helpers: Vec<&'static str>,
}

impl<'k> Emitter<'k> {
    pub fn new(k: &'k Kernel) -> Self {
        Emitter {
            k,
            helpers: Vec::new(),
        }
    }

    fn need(&mut self, h: &'static str) {
        if !self.helpers.contains(&h) {
            self.helpers.push(h);
        }
    }

    /// `fn ld{i}(idx: i32) -> T` for input `i`.
    pub fn load_fn(&mut self, i: usize) -> String {
        let d = self.k.inputs[i];
        match d {
            DType::BOOL => format!(
                "fn ld{i}(idx: i32) -> bool {{\n    let w = u32(idx) >> 2u;\n    if (idx < 0 || w >= arrayLength(&in{i})) {{ return false; }}\n    return ((in{i}[w] >> ((u32(idx) & 3u) * 8u)) & 0xffu) != 0u;\n}}\n"
            ),
            DType::F16 => {
                self.need("f16_bits_to_f32");
                format!(
                    "fn ld{i}(idx: i32) -> f32 {{\n    let w = u32(idx) >> 1u;\n    if (idx < 0 || w >= arrayLength(&in{i})) {{ return 0.0; }}\n    return f16_bits_to_f32((in{i}[w] >> ((u32(idx) & 1u) * 16u)) & 0xffffu);\n}}\n"
                )
            }
            _ => {
                let t = ty(d);
                let conv = if d == DType::U32 {
                    format!("in{i}[u32(idx)]")
                } else {
                    format!("bitcast<{t}>(in{i}[u32(idx)])")
                };
                format!(
                    "fn ld{i}(idx: i32) -> {t} {{\n    if (idx < 0 || u32(idx) >= arrayLength(&in{i})) {{ return {t}(); }}\n    return {conv};\n}}\n"
                )
            }
        }
    }

    /// The WGSL expression of node `i` (its operands are `v{arg}`).
    pub fn expr(&mut self, i: usize) -> String {
        let n = self.k.nodes[i];
        let a: Vec<String> = self.k.args(i).iter().map(|x| format!("v{x}")).collect();
        let at = |k: usize| self.k.nodes[n.args[k] as usize].dtype;
        match n.op {
            Op::CONST => constant(Scalar::from_bits(n.dtype, n.imm)),
            Op::GIDX => "gidx".into(),
            Op::RIDX => "ridx".into(),
            Op::ACC => format!("acc{}", n.imm),
            Op::LOAD => format!("ld{}({})", n.imm, a[0]),
            Op::SELECT => format!("select({}, {}, {})", a[2], a[1], a[0]),
            Op::THREEFRY2X32 => {
                self.need("threefry");
                let c = if n.imm == 0 { "x" } else { "y" };
                format!("threefry({}, {}, {}, {}).{c}", a[0], a[1], a[2], a[3])
            }
            Op::CAST => self.cast(&a[0], at(0), n.dtype),
            Op::BITCAST => {
                if at(0) == n.dtype {
                    a[0].clone()
                } else {
                    format!("bitcast<{}>({})", ty(n.dtype), a[0])
                }
            }
            Op::ISNAN => {
                self.need("isnan_f");
                format!("isnan_f({})", a[0])
            }
            Op::ISINF => {
                self.need("isinf_f");
                format!("isinf_f({})", a[0])
            }
            Op::LT | Op::LE | Op::GT | Op::GE | Op::EQ | Op::NE => {
                let sym = match n.op {
                    Op::LT => "<",
                    Op::LE => "<=",
                    Op::GT => ">",
                    Op::GE => ">=",
                    Op::EQ => "==",
                    _ => "!=",
                };
                if at(0) == DType::BOOL {
                    format!("(u32({}) {sym} u32({}))", a[0], a[1])
                } else if n.op == Op::NE {
                    // `!=` is an ordered comparison on some drivers.
                    format!("!({} == {})", a[0], a[1])
                } else {
                    format!("({} {sym} {})", a[0], a[1])
                }
            }
            op => {
                let t = at(0);
                if t.is_float() {
                    let (e, exact) = self.float_op(op, &a);
                    if t == DType::F16 && !exact {
                        self.need("rf16");
                        format!("rf16({e})")
                    } else {
                        e
                    }
                } else if t == DType::BOOL {
                    match op {
                        Op::NOT => format!("!{}", a[0]),
                        Op::AND | Op::MIN => format!("({} & {})", a[0], a[1]),
                        Op::OR | Op::MAX => format!("({} | {})", a[0], a[1]),
                        Op::XOR => format!("({} != {})", a[0], a[1]),
                        _ => unreachable!("{op} on bool"),
                    }
                } else {
                    self.int_op(op, t, &a)
                }
            }
        }
    }

    fn h(&mut self, name: &'static str, a: &[String]) -> String {
        self.need(name);
        format!("{name}({})", a.join(", "))
    }

    /// A float op on f32 registers; the flag says the result needs no
    /// rounding to f16 (it is exact on f16 operands).
    fn float_op(&mut self, op: Op, a: &[String]) -> (String, bool) {
        let x = a[0].as_str();
        let exact = matches!(
            op,
            Op::NEG
                | Op::ABS
                | Op::SIGN
                | Op::FLOOR
                | Op::CEIL
                | Op::ROUND
                | Op::TRUNC
                | Op::MIN
                | Op::MAX
        );
        let e = match op {
            Op::NEG => format!("(-{x})"),
            Op::ABS => self.h("abs_f", a),
            Op::SIGN => self.h("sign_f", a),
            Op::SQRT => self.h("sqrt_f", a),
            Op::RSQRT => {
                let s = self.h("sqrt_f", a);
                format!("(1.0 / {s})")
            }
            Op::RECIP => format!("(1.0 / {x})"),
            Op::EXP => self.h("exp_f", a),
            Op::EXP2 => self.h("exp2_f", a),
            Op::LOG => self.h("log_f", a),
            Op::LOG2 => self.h("log2_f", a),
            Op::LOG1P => self.h("log1p_f", a),
            Op::EXPM1 => self.h("expm1_f", a),
            Op::SIN => self.h("sin_f", a),
            Op::COS => self.h("cos_f", a),
            Op::TAN => self.h("tan_f", a),
            Op::ASIN => self.h("asin_f", a),
            Op::ACOS => self.h("acos_f", a),
            Op::ATAN => self.h("atan_f", a),
            Op::SINH => self.h("sinh_f", a),
            Op::COSH => self.h("cosh_f", a),
            Op::TANH => self.h("tanh_f", a),
            Op::ERF => self.h("erf_f", a),
            Op::ERFC => self.h("erfc_f", a),
            Op::FLOOR => format!("floor({x})"),
            Op::CEIL => format!("ceil({x})"),
            Op::ROUND => format!("round({x})"),
            Op::TRUNC => format!("trunc({x})"),
            // opaque(): no reassociation, contraction into fma or
            // "x * 0 = 0"-style folding across IR ops (Mesa does all three
            // to plain WGSL arithmetic), so each op rounds once, like IEEE.
            Op::ADD => {
                self.need("opaque");
                format!("opaque({x} + {})", a[1])
            }
            Op::SUB => {
                self.need("opaque");
                format!("opaque({x} - {})", a[1])
            }
            Op::MUL => {
                self.need("opaque");
                format!("opaque({x} * {})", a[1])
            }
            Op::DIV => {
                self.need("opaque");
                format!("opaque({x} / {})", a[1])
            }
            Op::REM => self.h("rem_f", a),
            Op::MIN => self.h("min_f", a),
            Op::MAX => self.h("max_f", a),
            Op::POW => self.h("pow_f", a),
            Op::ATAN2 => self.h("atan2_f", a),
            _ => unreachable!("{op} on floats"),
        };
        (e, exact)
    }

    fn int_op(&mut self, op: Op, t: DType, a: &[String]) -> String {
        let x = a[0].as_str();
        let signed = t == DType::I32;
        match op {
            Op::NEG if signed => format!("bitcast<i32>(0u - bitcast<u32>({x}))"),
            Op::NEG => format!("(0u - {x})"),
            Op::ABS if signed => {
                format!("select({x}, bitcast<i32>(0u - bitcast<u32>({x})), {x} < 0)")
            }
            Op::ABS => x.to_string(),
            Op::SIGN if signed => format!("select(select(0, 1, {x} > 0), -1, {x} < 0)"),
            Op::SIGN => format!("select(0u, 1u, {x} != 0u)"),
            Op::NOT => format!("(~{x})"),
            Op::ADD => format!("({x} + {})", a[1]),
            Op::SUB => format!("({x} - {})", a[1]),
            Op::MUL => format!("({x} * {})", a[1]),
            Op::AND => format!("({x} & {})", a[1]),
            Op::OR => format!("({x} | {})", a[1]),
            Op::XOR => format!("({x} ^ {})", a[1]),
            Op::MIN => format!("min({x}, {})", a[1]),
            Op::MAX => format!("max({x}, {})", a[1]),
            Op::IDIV => self.h(if signed { "idiv_i" } else { "idiv_u" }, a),
            Op::REM => self.h(if signed { "rem_i" } else { "rem_u" }, a),
            Op::SHL => self.h(if signed { "shl_i" } else { "shl_u" }, a),
            Op::SHR => self.h(if signed { "shr_i" } else { "shr_u" }, a),
            _ => unreachable!("{op} on integers"),
        }
    }

    fn cast(&mut self, x: &str, from: DType, to: DType) -> String {
        if from == to {
            return x.to_string();
        }
        match (from, to) {
            (_, DType::BOOL) if from.is_float() => {
                format!("((bitcast<u32>({x}) & 0x7fffffffu) != 0u)")
            }
            (DType::I32, DType::BOOL) => format!("({x} != 0)"),
            (DType::U32, DType::BOOL) => format!("({x} != 0u)"),
            (DType::BOOL, DType::I32) => format!("select(0, 1, {x})"),
            (DType::BOOL, DType::U32) => format!("select(0u, 1u, {x})"),
            (DType::BOOL, _) => format!("select(0.0, 1.0, {x})"),
            (DType::I32, DType::U32) => format!("bitcast<u32>({x})"),
            (DType::U32, DType::I32) => format!("bitcast<i32>({x})"),
            (DType::I32 | DType::U32, DType::F32) => format!("f32({x})"),
            (DType::I32 | DType::U32, DType::F16) => {
                self.need("rf16");
                format!("rf16(f32({x}))")
            }
            (DType::F16, DType::F32) => x.to_string(),
            (DType::F32, DType::F16) => {
                self.need("rf16");
                format!("rf16({x})")
            }
            (_, DType::I32) => self.h("f2i", &[x.to_string()]),
            (_, DType::U32) => self.h("f2u", &[x.to_string()]),
            _ => unreachable!("cast {from} -> {to}"),
        }
    }

    /// The combining step of a reduction: `acc = combine(acc, v)`.
    pub fn combine(&mut self, op: ReduceOp, d: DType, acc: &str, v: &str) -> String {
        let e = match (op, d) {
            (ReduceOp::MIN, DType::BOOL) => format!("({acc} & {v})"),
            (ReduceOp::MAX, DType::BOOL) => format!("({acc} | {v})"),
            (ReduceOp::MIN, d) if d.is_float() => self.h("min_f", &[acc.into(), v.into()]),
            (ReduceOp::MAX, d) if d.is_float() => self.h("max_f", &[acc.into(), v.into()]),
            (ReduceOp::MIN, _) => format!("min({acc}, {v})"),
            (ReduceOp::MAX, _) => format!("max({acc}, {v})"),
            (ReduceOp::MUL, _) => format!("({acc} * {v})"),
            _ => format!("({acc} + {v})"),
        };
        if d == DType::F16 && matches!(op, ReduceOp::ADD | ReduceOp::MUL) {
            self.need("rf16");
            format!("rf16({e})")
        } else {
            e
        }
    }

    /// The u32 word holding value `v` of dtype `d` (bool/f16: the low byte /
    /// halfword).
    pub fn store_bits(&mut self, d: DType, v: &str) -> String {
        match d {
            DType::BOOL => format!("select(0u, 1u, {v})"),
            DType::F16 => self.h("f32_to_f16_bits", &[v.into()]),
            DType::U32 => v.to_string(),
            _ => format!("bitcast<u32>({v})"),
        }
    }

    /// Which block each node goes to: 0 before the loop, 1 in it, 2 after
    /// it; `None` for dead nodes.
    pub fn blocks(&self) -> Vec<Option<u8>> {
        oxjax_abi::analysis::schedule(self.k)
            .into_iter()
            .map(|s| s.map(|s| s as u8))
            .collect()
    }

    /// The `let` statements of one block.
    pub fn block(&mut self, which: u8, blocks: &[Option<u8>], indent: &str) -> String {
        let mut s = String::new();
        for (i, b) in blocks.iter().enumerate() {
            if *b == Some(which) {
                let n = self.k.nodes[i];
                let e = self.expr(i);
                let _ = writeln!(s, "{indent}let v{i}: {} = {e};", ty(n.dtype));
            }
        }
        s
    }

    /// The bindings, the load functions and the used helpers, prepended to
    /// `body`.
    pub fn finish(mut self, body: &str) -> String {
        let k = self.k;
        let mut loads = String::new();
        for i in 0..k.inputs.len() {
            loads.push_str(&self.load_fn(i));
        }
        let mut s = String::new();
        let _ = writeln!(s, "// oxjax kernel: size={} rsize={}", k.size, k.rsize);
        for (i, _) in k.inputs.iter().enumerate() {
            let _ = writeln!(
                s,
                "@group(0) @binding({i}) var<storage, read> in{i}: array<u32>;"
            );
        }
        for (o, _) in k.outputs.iter().enumerate() {
            let _ = writeln!(
                s,
                "@group(0) @binding({}) var<storage, read_write> out{o}: array<u32>;",
                k.inputs.len() + o
            );
        }
        s.push_str("var<private> ZU: u32 = 0u;\nvar<private> ZO: u32 = 0u;\n");
        wgsl_lib::emit(&self.helpers, &mut s);
        s.push_str(&loads);
        s.push_str(body);
        s
    }
}

/// Elements per invocation: 4 with a bool output, 2 with an f16 output.
fn group_of(k: &Kernel) -> u32 {
    let ds: Vec<DType> = (0..k.outputs.len()).map(|o| k.output_dtype(o)).collect();
    if ds.contains(&DType::BOOL) {
        4
    } else if ds.contains(&DType::F16) {
        2
    } else {
        1
    }
}

/// Whether a reduction kernel should use a workgroup tree.
fn wants_tree(k: &Kernel) -> bool {
    !k.reductions.is_empty()
        && group_of(k) == 1
        && k.size <= 65535
        && k.rsize >= 512
        && (k.size as u64) < 2048
}

pub fn generate(k: &Kernel) -> Result<Generated, String> {
    if let Some(g) = matmul::generate(k) {
        return Ok(g);
    }
    if wants_tree(k) {
        return tree(k);
    }
    elementwise(k)
}

/// The `compute(gidx) -> Outs` function: pre-loop nodes, the reduction
/// loop, the epilogue.
fn compute_fn(e: &mut Emitter, loop_start: &str, loop_step: &str, unroll: u32) -> String {
    let k = e.k;
    let blocks = e.blocks();
    let mut s = String::new();
    s.push_str("struct Outs {\n");
    for o in 0..k.outputs.len() {
        let _ = writeln!(s, "    o{o}: {},", ty(k.output_dtype(o)));
    }
    s.push_str("}\n");
    s.push_str("fn compute(gidx: i32) -> Outs {\n");
    s.push_str(&e.block(0, &blocks, "    "));
    s.push_str(&reduction_loop(e, &blocks, loop_start, loop_step, unroll));
    s.push_str(&e.block(2, &blocks, "    "));
    let outs: Vec<String> = k.outputs.iter().map(|o| format!("v{o}")).collect();
    let _ = writeln!(s, "    return Outs({});", outs.join(", "));
    s.push_str("}\n");
    s
}

/// Accumulator declarations and the loop over `ridx`.
fn reduction_loop(
    e: &mut Emitter,
    blocks: &[Option<u8>],
    start: &str,
    step: &str,
    unroll: u32,
) -> String {
    let k = e.k;
    let mut s = String::new();
    if k.reductions.is_empty() {
        return s;
    }
    // Float sums and products accumulate in blocks of BLOCK steps, each
    // folded into the next level (a BLOCK-ary tree): error ~ BLOCK log n.
    let depth = block_levels(k.rsize as usize);
    let levels = |r: usize| {
        let red = k.reductions[r];
        let d = k.nodes[red.body as usize].dtype;
        if matches!(red.op, ReduceOp::ADD | ReduceOp::MUL) && d.is_float() {
            depth
        } else {
            0
        }
    };
    let name = |r: usize, l: usize| {
        if l == 0 {
            format!("acc{r}")
        } else {
            format!("lv{r}_{l}")
        }
    };
    for (r, red) in k.reductions.iter().enumerate() {
        let d = k.nodes[red.body as usize].dtype;
        for l in 0..=levels(r) {
            let _ = writeln!(
                s,
                "    var {}: {} = {};",
                name(r, l),
                ty(d),
                constant(red.op.identity(d))
            );
        }
    }
    if depth > 0 {
        s.push_str("    var steps: u32 = 0u;\n");
    }
    // One step of the loop at `ridx`: the body's nodes, the accumulators
    // and the blocked flushes.
    let one_step = |e: &mut Emitter, ind: &str| {
        let mut t = e.block(1, blocks, ind);
        for (r, red) in k.reductions.iter().enumerate() {
            let d = k.nodes[red.body as usize].dtype;
            let c = e.combine(red.op, d, &format!("acc{r}"), &format!("v{}", red.body));
            let _ = writeln!(t, "{ind}acc{r} = {c};");
        }
        if depth > 0 {
            let _ = writeln!(t, "{ind}steps = steps + 1u;");
            let mut closing = String::new();
            for l in 0..depth {
                let mask = BLOCK.pow(l as u32 + 1) - 1;
                let _ = writeln!(t, "{ind}if ((steps & {mask}u) == 0u) {{");
                for (r, red) in k.reductions.iter().enumerate() {
                    if levels(r) <= l {
                        continue;
                    }
                    let d = k.nodes[red.body as usize].dtype;
                    let (inner, outer) = (name(r, l), name(r, l + 1));
                    let c = e.combine(red.op, d, &outer, &inner);
                    let _ = writeln!(t, "{ind}{outer} = {c};");
                    let _ = writeln!(t, "{ind}{inner} = {};", constant(red.op.identity(d)));
                }
                let _ = writeln!(closing, "{ind}}}");
            }
            t.push_str(&closing);
        }
        t
    };
    let rsize = k.rsize as i32;
    if unroll == 1 {
        let _ = writeln!(
            s,
            "    for (var ridx: i32 = {start}; ridx < {rsize}; ridx = ridx + {step}) {{"
        );
        s.push_str(&one_step(e, "        "));
    } else {
        // Unrolled: `unroll` guarded steps per iteration (see `unroll_for`).
        let _ = writeln!(
            s,
            "    for (var rb: i32 = {start}; rb < {rsize}; rb = rb + {unroll} * {step}) {{"
        );
        for j in 0..unroll {
            let _ = writeln!(
                s,
                "        {{\n        let ridx = rb + {j} * {step};\n        if (ridx < {rsize}) {{"
            );
            s.push_str(&one_step(e, "            "));
            s.push_str("        }\n        }\n");
        }
    }
    s.push_str("    }\n");
    for (r, red) in k.reductions.iter().enumerate() {
        let d = k.nodes[red.body as usize].dtype;
        for l in 1..=levels(r) {
            let c = e.combine(red.op, d, &name(r, l), &format!("acc{r}"));
            let _ = writeln!(s, "    acc{r} = {c};");
        }
    }
    s
}

/// Loop iterations one invocation may run. llvmpipe (lavapipe) ends every
/// loop of an invocation after 65,535 iterations in all (one counter shared
/// by all loops, a guard against hung shaders) and carries on with a wrong
/// result, so a long reduction is unrolled to stay well under it (the rest
/// is headroom for helper loops, e.g. `rem_f`'s, inside the body).
const LOOP_BUDGET: u64 = 16_384;

/// The most a reduction loop is unrolled; longer loops are refused.
const MAX_UNROLL: u64 = 64;

/// How many steps of a reduction each loop iteration runs, when one
/// invocation runs `steps` steps in all (a power of two).
fn unroll_for(steps: u64) -> Result<u32, String> {
    let u = steps.div_ceil(LOOP_BUDGET).next_power_of_two();
    if u > MAX_UNROLL {
        return Err(format!(
            "a reduction of {steps} steps in one invocation exceeds what this backend \
             runs correctly ({} steps); split the reduction",
            LOOP_BUDGET * MAX_UNROLL
        ));
    }
    Ok(u as u32)
}

/// Steps per block of blocked accumulation (see `reduction_loop`).
const BLOCK: usize = 16;

/// Outer levels a loop of `rsize` steps needs.
fn block_levels(rsize: usize) -> usize {
    let mut levels = 0;
    while BLOCK.pow(levels as u32 + 1) < rsize {
        levels += 1;
    }
    levels
}

fn elementwise(k: &Kernel) -> Result<Generated, String> {
    let g = group_of(k);
    // Each invocation runs the whole loop once per element of its group.
    let unroll = unroll_for(g as u64 * k.rsize as u64)?;
    let mut e = Emitter::new(k);
    let mut s = compute_fn(&mut e, "0", "1", unroll);
    let units = k.size.div_ceil(g);
    let size = k.size;
    let _ = writeln!(
        s,
        "@compute @workgroup_size({WG})\nfn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {{"
    );
    s.push_str(PROLOGUE);
    let _ = writeln!(s, "    let u = (wg.y * nwg.x + wg.x) * {WG}u + li;");
    let _ = writeln!(s, "    if (u >= {units}u) {{ return; }}");
    if g == 1 {
        s.push_str("    let r = compute(i32(u));\n");
        for o in 0..k.outputs.len() {
            let bits = e.store_bits(k.output_dtype(o), &format!("r.o{o}"));
            let _ = writeln!(s, "    out{o}[u] = {bits};");
        }
    } else {
        // Packed words of the narrow outputs: bool has 4 lanes per word,
        // f16 2; g lanes per invocation.
        for o in 0..k.outputs.len() {
            let d = k.output_dtype(o);
            if d.size() < 4 {
                for w in 0..g as usize / (4 / d.size()) {
                    let _ = writeln!(s, "    var p{o}_{w}: u32 = 0u;");
                }
            }
        }
        for j in 0..g {
            let _ = writeln!(s, "    if (u * {g}u + {j}u < {size}u) {{");
            let _ = writeln!(s, "        let r = compute(i32(u * {g}u + {j}u));");
            for o in 0..k.outputs.len() {
                let d = k.output_dtype(o);
                let bits = e.store_bits(d, &format!("r.o{o}"));
                if d.size() == 4 {
                    let _ = writeln!(s, "        out{o}[u * {g}u + {j}u] = {bits};");
                } else {
                    let lanes = 4 / d.size() as u32;
                    let (w, lane) = (j / lanes, j % lanes);
                    let sh = lane * 8 * d.size() as u32;
                    let _ = writeln!(s, "        p{o}_{w} = p{o}_{w} | ({bits} << {sh}u);");
                }
            }
            s.push_str("    }\n");
        }
        for o in 0..k.outputs.len() {
            let d = k.output_dtype(o);
            if d.size() == 4 {
                continue;
            }
            let lanes = 4 / d.size() as u32;
            let words = g / lanes;
            for w in 0..words {
                let _ = writeln!(s, "    {{");
                let _ = writeln!(s, "        let lo = u * {g}u + {}u;", w * lanes);
                let _ = writeln!(s, "        let wi = u * {words}u + {w}u;");
                let _ = writeln!(s, "        if (lo + {lanes}u <= {size}u) {{");
                let _ = writeln!(s, "            out{o}[wi] = p{o}_{w};");
                let _ = writeln!(s, "        }} else if (lo < {size}u) {{");
                let _ = writeln!(
                    s,
                    "            let m = (1u << (({size}u - lo) * {}u)) - 1u;",
                    8 * d.size()
                );
                let _ = writeln!(
                    s,
                    "            out{o}[wi] = (out{o}[wi] & ~m) | (p{o}_{w} & m);"
                );
                s.push_str("        }\n    }\n");
            }
        }
    }
    s.push_str("}\n");
    Ok(Generated {
        wgsl: e.finish(&s),
        mode: Mode::Elementwise { units },
    })
}

fn tree(k: &Kernel) -> Result<Generated, String> {
    let unroll = unroll_for((k.rsize as u64).div_ceil(TREE_WG as u64))?;
    let mut e = Emitter::new(k);
    let blocks = e.blocks();
    let mut s = String::new();
    for (r, red) in k.reductions.iter().enumerate() {
        let d = k.nodes[red.body as usize].dtype;
        let _ = writeln!(s, "var<workgroup> sh{r}: array<{}, {TREE_WG}>;", ty(d));
    }
    let _ = writeln!(
        s,
        "@compute @workgroup_size({TREE_WG})\nfn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {{"
    );
    s.push_str(PROLOGUE);
    s.push_str("    let gidx = i32(wg.x);\n");
    s.push_str(&e.block(0, &blocks, "    "));
    s.push_str(&reduction_loop(
        &mut e,
        &blocks,
        "i32(li)",
        &format!("{TREE_WG}"),
        unroll,
    ));
    for r in 0..k.reductions.len() {
        let _ = writeln!(s, "    sh{r}[li] = acc{r};");
    }
    s.push_str("    workgroupBarrier();\n");
    let _ = writeln!(
        s,
        "    for (var st = {}u; st > 0u; st = st >> 1u) {{\n        if (li < st) {{",
        TREE_WG / 2
    );
    for (r, red) in k.reductions.iter().enumerate() {
        let d = k.nodes[red.body as usize].dtype;
        let c = e.combine(red.op, d, &format!("sh{r}[li]"), &format!("sh{r}[li + st]"));
        let _ = writeln!(s, "            sh{r}[li] = {c};");
    }
    s.push_str("        }\n        workgroupBarrier();\n    }\n");
    s.push_str("    if (li == 0u) {\n");
    for r in 0..k.reductions.len() {
        let _ = writeln!(s, "        acc{r} = sh{r}[0];");
    }
    s.push_str(&e.block(2, &blocks, "        "));
    for (o, &node) in k.outputs.iter().enumerate() {
        let bits = e.store_bits(k.output_dtype(o), &format!("v{node}"));
        let _ = writeln!(s, "        out{o}[wg.x] = {bits};");
    }
    s.push_str("    }\n}\n");
    Ok(Generated {
        wgsl: e.finish(&s),
        mode: Mode::Tree,
    })
}
