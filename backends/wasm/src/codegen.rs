//! Kernel IR -> one wasm module.
//!
//! The module imports the backend's shared linear memory (`env.memory`) and
//! the host helpers of `math::HOST_IMPORTS`, and exports `run(start, end)`,
//! which computes output elements `gidx` in `start..end`. Buffer addresses
//! and element counts are read from the argument block at [`ARGS_ADDR`]:
//! for input `i`, its byte address at `8 i` and its element count at
//! `8 i + 4`; then the byte address of each output.
//!
//! Functions, in index order after the imports: the tiled matmul run (if
//! the kernel is matmul-shaped, see `matmul`), the SIMD run (if every
//! value is 32-bit), the scalar run, the per-element epilogue (matmul
//! only), then the math helpers the kernel uses. The first is exported.
//!
//! Values live in wasm locals, one per node: bool, i32 and u32 as i32, i8
//! and u8 as i32 sign- or zero-extended (every op on them wraps to 8 bits
//! after computing in 32), f16, bf16 and f32 as f32 (an f16 or bf16 value
//! is an f32 that is exactly representable in its width), f64 as f64; in
//! the SIMD run every node is a v128 of four lanes.
//! Nodes that depend neither on `ridx` nor on an accumulator are evaluated
//! once per `gidx` before the reduction loop.

use crate::fb::{Fb, mem};
use crate::math::{H, HOST_IMPORTS, Helpers};
use oxjax_abi::analysis::{self, Indices, Stage};
use oxjax_abi::{DType, Kernel, Op, Phase, ReduceOp, Scalar};
use std::collections::HashMap;
use wasm_encoder as we;
use we::{BlockType, Instruction as I, ValType as V};

/// Lanes (0, 1, 2, 3) as i32x4.
const IOTA: i128 = (3i128 << 96) | (2i128 << 64) | (1i128 << 32);

/// Where the argument block lives in linear memory.
pub const ARGS_ADDR: u32 = 0;
/// Bytes reserved for the argument block (and the zero-length buffers, at 0).
pub const ARGS_BYTES: u32 = 64 * 1024;
/// The largest number of inputs + outputs a kernel may bind.
pub const MAX_BINDINGS: u32 = ARGS_BYTES / 8 - 8;
/// Pages the memory import declares as its maximum (4 GiB).
pub const MAX_PAGES: u64 = 65536;

/// How the four lanes of a load index relate, known from the IR.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IndexKind {
    /// Does not depend on gidx: the same in every lane.
    Invariant,
    /// gidx plus or minus an invariant: consecutive lanes.
    Consecutive,
    /// Anything else: checked at run time.
    General,
}

fn index_kind(k: &Kernel, dep: &[bool], i: usize) -> IndexKind {
    if !dep[i] {
        return IndexKind::Invariant;
    }
    if gidx_slope(k, dep, i) == Some(1) {
        IndexKind::Consecutive
    } else {
        IndexKind::General
    }
}

/// `c` when node `i` is `c * gidx + (something independent of gidx)` in
/// i32 arithmetic (`gidx * 1 + 0` and the like, as views produce).
fn gidx_slope(k: &Kernel, dep: &[bool], i: usize) -> Option<i32> {
    if !dep[i] {
        return Some(0);
    }
    let n = &k.nodes[i];
    if !matches!(n.dtype, DType::I32 | DType::U32) {
        return None;
    }
    let a = k.args(i);
    let slope = |x: u32| gidx_slope(k, dep, x as usize);
    let konst = |x: u32| {
        let c = &k.nodes[x as usize];
        (c.op == Op::CONST).then_some(c.imm as u32 as i32)
    };
    match n.op {
        Op::GIDX => Some(1),
        Op::ADD => Some(slope(a[0])?.wrapping_add(slope(a[1])?)),
        Op::SUB => Some(slope(a[0])?.wrapping_sub(slope(a[1])?)),
        Op::MUL => match (konst(a[0]), konst(a[1])) {
            (Some(c), _) => Some(slope(a[1])?.wrapping_mul(c)),
            (_, Some(c)) => Some(slope(a[0])?.wrapping_mul(c)),
            _ => None,
        },
        _ => None,
    }
}

/// The byte shuffle of a shuffle of 32-bit lanes (0..4: first operand,
/// 4..8: second).
fn lanes32(l: [u8; 4]) -> [u8; 16] {
    std::array::from_fn(|b| l[b / 4] * 4 + (b % 4) as u8)
}

/// The divisor of an i32/u32 `idiv`/`rem` node when it is a constant that
/// needs none of the IR's zero and overflow rules: positive for i32,
/// non-zero for u32.
fn const_divisor(k: &Kernel, i: usize) -> Option<u32> {
    let n = &k.nodes[i];
    let d = &k.nodes[n.args[1] as usize];
    let c = d.imm as u32;
    let ok = match n.dtype {
        DType::I32 => (c as i32) > 0,
        DType::U32 => c != 0,
        _ => false,
    };
    (d.op == Op::CONST && ok).then_some(c)
}

/// The f32x4 helper of an op, for the ops that have one.
fn vector_helper(op: Op) -> Option<H> {
    match op {
        Op::EXP => Some(H::VExp),
        Op::EXP2 => Some(H::VExp2),
        Op::EXPM1 => Some(H::VExpm1),
        Op::LOG => Some(H::VLog),
        Op::LOG2 => Some(H::VLog2),
        Op::LOG1P => Some(H::VLog1p),
        Op::SIN => Some(H::VSin),
        Op::COS => Some(H::VCos),
        Op::SINH => Some(H::VSinh),
        Op::COSH => Some(H::VCosh),
        Op::TANH => Some(H::VTanh),
        Op::ERF => Some(H::VErf),
        Op::TAN => Some(H::VTan),
        Op::ATAN => Some(H::VAtan),
        Op::ASIN => Some(H::VAsin),
        Op::ACOS => Some(H::VAcos),
        Op::ERFC => Some(H::VErfc),
        _ => None,
    }
}

/// The f32x4 helper of a binary op, for the ops that have one.
fn vector_helper2(op: Op) -> Option<H> {
    match op {
        Op::ATAN2 => Some(H::VAtan2),
        Op::POW => Some(H::VPow),
        Op::REM => Some(H::VFmod),
        _ => None,
    }
}

/// The wasm value type holding a dtype.
pub fn vt(d: DType) -> V {
    match d {
        DType::F16 | DType::BF16 | DType::F32 => V::F32,
        DType::F64 => V::F64,
        _ => V::I32,
    }
}

/// The module being assembled: types and helper functions.
struct Mb {
    target: Target,
    /// Function index of the first helper (after `run` and `run_scalar`).
    first_helper: u32,
    types: Vec<(Vec<V>, Vec<V>)>,
    helpers: Vec<(H, Option<we::Function>)>,
    index: HashMap<H, u32>,
}

/// Groups of four lanes an elementwise kernel's main loop interleaves: on
/// the 2-core x86-64 development machine the chain kernel (sin, exp,
/// sqrt) takes 15.1 ms of CPU for 4M elements with two groups, 12.2–13
/// with four to eight (`bench -- --cpu-time`).
const GROUPS: u32 = 4;
/// Kernels with more nodes than this interleave two groups only.
const GROUPS_MAX_NODES: usize = 64;

/// Function index of the first defined function (`run`).
const FIRST_DEFINED: u32 = HOST_IMPORTS.len() as u32;

impl Mb {
    fn ty(&mut self, params: Vec<V>, results: Vec<V>) -> u32 {
        let sig = (params, results);
        if let Some(i) = self.types.iter().position(|t| *t == sig) {
            return i as u32;
        }
        self.types.push(sig);
        self.types.len() as u32 - 1
    }
}

impl Helpers for Mb {
    fn fma(&self) -> bool {
        self.target.fma
    }

    fn helper(&mut self, h: H) -> u32 {
        if let Some(&i) = self.index.get(&h) {
            return i;
        }
        let idx = self.first_helper + self.helpers.len() as u32;
        self.index.insert(h, idx);
        let slot = self.helpers.len();
        self.helpers.push((h, None));
        let body = h.body(self);
        self.helpers[slot].1 = Some(body);
        idx
    }
}

/// True when the kernel runs four output elements per step in SIMD lanes:
/// every live node is bool, i32, u32 or f32 (one 32-bit lane each).
pub fn vectorizable(k: &Kernel) -> bool {
    let phases = k.phases();
    k.nodes.iter().enumerate().all(|(i, n)| {
        phases[i] == Phase::Dead
            || matches!(n.dtype, DType::BOOL | DType::I32 | DType::U32 | DType::F32)
    })
}

/// Generates the module of a validated kernel.
pub fn generate(k: &Kernel, target: Target) -> Vec<u8> {
    generate_with(k, target).0
}

/// What the generated code may use beyond SIMD128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// Relaxed-SIMD fused multiply-add in the vector transcendentals'
    /// polynomials and argument reductions: one rounding instead of two,
    /// and fewer instructions. Only worth emitting when the host fuses it;
    /// elsewhere wasmtime would lower it to a multiply and an add anyway.
    pub fma: bool,
}

impl Target {
    /// The running CPU's abilities.
    pub fn host() -> Target {
        #[cfg(target_arch = "x86_64")]
        let fma = std::arch::is_x86_feature_detected!("fma");
        #[cfg(target_arch = "aarch64")]
        let fma = true; // NEON always has fused multiply-add
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let fma = false;
        Target { fma }
    }
}

/// Generates the module and says how `gidx` ranges given to threads
/// should be aligned (a multiple of this, but for the last).
pub fn generate_with(k: &Kernel, target: Target) -> (Vec<u8>, u32) {
    let mm = crate::matmul::analyse(k);
    let simd = vectorizable(k);
    // Function layout: [run_matmul], [run_simd], run_scalar, [epilogue], helpers.
    let mut next = FIRST_DEFINED;
    let mut take = |on: bool| {
        on.then(|| {
            next += 1;
            next - 1
        })
    };
    let f_mm = take(mm.is_some());
    debug_assert!(
        f_mm.is_none_or(|f| f == FIRST_DEFINED),
        "run is exported first"
    );
    let f_vec = take(simd);
    let f_scalar = take(true).expect("scalar run");
    let f_epi = take(mm.is_some());
    let mut mb = Mb {
        target,
        first_helper: next,
        types: Vec::new(),
        helpers: Vec::new(),
        index: HashMap::new(),
    };
    let mut defined = Vec::new();
    // The epilogue takes four adjacent elements of a row (an f32x4 of
    // sums) where the kernel vectorizes: a tile's 32 results in 8 calls.
    let vepi = simd && mm.as_ref().is_some_and(|m| m.n.is_multiple_of(4));
    if let (Some(mm), Some(epi)) = (&mm, f_epi) {
        defined.push(crate::matmul::run_function(
            k,
            mm,
            f_vec.unwrap_or(f_scalar),
            epi,
            vepi,
        ));
    }
    if simd {
        // four elements at a time; the tail goes to `run_scalar`
        defined.push(Gen::new(k, &mut mb, true, f_scalar).run_function());
    }
    defined.push(Gen::new(k, &mut mb, false, f_scalar).run_function());
    if mm.is_some() {
        defined.push(Gen::new(k, &mut mb, vepi, f_scalar).epilogue_function());
    }
    // SIMD groups of four stay aligned (see `Gen::rows`)
    let granule = mm.as_ref().map_or(if simd { 4 } else { 1 }, |m| {
        if crate::matmul::flat(k, m) {
            crate::matmul::ROW_N
        } else {
            m.n * crate::matmul::TILE_M
        }
    });

    let mut module = we::Module::new();
    let run_ty = mb.ty(vec![V::I32, V::I32], vec![]);
    let host_ty = mb.ty(vec![V::F64], vec![V::F64]);
    let helper_tys: Vec<u32> = mb
        .helpers
        .iter()
        .map(|(h, _)| h.sig())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(p, r)| mb.ty(p, r))
        .collect();

    let epi_ty = f_epi.map(|_| {
        let acc = if vepi {
            V::V128
        } else {
            vt(k.nodes[k.reductions[0].body as usize].dtype)
        };
        mb.ty(vec![V::I32, acc], vec![])
    });
    let mut types = we::TypeSection::new();
    for (p, r) in &mb.types {
        types.ty().function(p.iter().copied(), r.iter().copied());
    }
    module.section(&types);

    let mut imports = we::ImportSection::new();
    imports.import(
        "env",
        "memory",
        we::MemoryType {
            minimum: 1,
            maximum: Some(MAX_PAGES),
            memory64: false,
            shared: true,
            page_size_log2: None,
        },
    );
    for name in HOST_IMPORTS {
        imports.import("env", name, we::EntityType::Function(host_ty));
    }
    module.section(&imports);

    let mut funcs = we::FunctionSection::new();
    for f in 0..defined.len() {
        let is_epi = f_epi == Some(FIRST_DEFINED + f as u32);
        funcs.function(if is_epi {
            epi_ty.expect("epilogue type")
        } else {
            run_ty
        });
    }
    for &t in &helper_tys {
        funcs.function(t);
    }
    module.section(&funcs);

    // A matmul that packs B panels or sums row-vector chunks gets its
    // thread's scratch address in a global the host sets (0: no scratch).
    let packs = mm
        .as_ref()
        .is_some_and(|m| crate::matmul::uses_scratch(k, m));
    if packs {
        let mut globals = we::GlobalSection::new();
        globals.global(
            we::GlobalType {
                val_type: V::I32,
                mutable: true,
                shared: false,
            },
            &we::ConstExpr::i32_const(0),
        );
        module.section(&globals);
    }
    let mut exports = we::ExportSection::new();
    exports.export("run", we::ExportKind::Func, FIRST_DEFINED);
    if packs {
        exports.export(crate::matmul::SCRATCH_GLOBAL, we::ExportKind::Global, 0);
    }
    module.section(&exports);

    if mm.is_some() {
        // marks the tiled matmul for tests and `OXJAX_DEBUG` readers
        module.section(&we::CustomSection {
            name: "oxjax-tiled-matmul".into(),
            data: (&[][..]).into(),
        });
    }
    let mut code = we::CodeSection::new();
    for f in &defined {
        code.function(f);
    }
    for (_, body) in &mb.helpers {
        code.function(body.as_ref().expect("helper generated"));
    }
    module.section(&code);
    (module.finish(), granule)
}

struct Gen<'a> {
    k: &'a Kernel,
    mb: &'a mut Mb,
    fb: Fb,
    /// The local holding each node's value.
    val: Vec<u32>,
    gidx: u32,
    ridx: u32,
    ptr: Vec<u32>,
    len: Vec<u32>,
    out: Vec<u32>,
    acc: Vec<u32>,
    /// Per accumulator, the outer levels of blocked accumulation (float
    /// sums and products only; see [`BLOCK`]), innermost first.
    levels: Vec<Vec<u32>>,
    /// SIMD mode: four consecutive `gidx` per step, one per lane.
    simd: bool,
    /// The scalar run function (SIMD mode hands it the tail).
    tail_fn: u32,
    /// Whether each node depends on gidx.
    dep_g: Vec<bool>,
    /// SIMD mode over rows (`gidx = i N + j`, N a multiple of 4, groups of
    /// four aligned): a load index whose affine form steps by 0 or 1 per
    /// lane of an aligned group (`Affine::lane_step`) is one load and a
    /// splat or one vector load.
    rows: Option<u32>,
    /// Affine forms of load indices (for `rows`).
    indices: Indices<'a>,
}

impl<'a> Gen<'a> {
    fn new(k: &'a Kernel, mb: &'a mut Mb, simd: bool, tail_fn: u32) -> Gen<'a> {
        let mut fb = Fb::new(2);
        let gidx = fb.local(V::I32);
        let ridx = fb.local(V::I32);
        let ptr = k.inputs.iter().map(|_| fb.local(V::I32)).collect();
        let len = k.inputs.iter().map(|_| fb.local(V::I32)).collect();
        let out = k.outputs.iter().map(|_| fb.local(V::I32)).collect();
        let acc = k
            .reductions
            .iter()
            .map(|r| {
                if simd {
                    fb.local(V::V128)
                } else {
                    fb.local(vt(k.nodes[r.body as usize].dtype))
                }
            })
            .collect();
        let depth = block_levels(k.rsize as usize);
        let levels = k
            .reductions
            .iter()
            .map(|r| {
                let d = k.nodes[r.body as usize].dtype;
                let t = if simd { V::V128 } else { vt(d) };
                let n = if blocked(r.op, d) { depth } else { 0 };
                (0..n).map(|_| fb.local(t)).collect()
            })
            .collect();
        let val = k
            .nodes
            .iter()
            .map(|n| fb.local(if simd { V::V128 } else { vt(n.dtype) }))
            .collect();
        Gen {
            k,
            mb,
            fb,
            val,
            gidx,
            ridx,
            ptr,
            len,
            out,
            acc,
            levels,
            simd,
            tail_fn,
            dep_g: analysis::dependence(k).gidx,
            rows: analysis::row_length(k).filter(|&n| simd && n.is_multiple_of(4)),
            indices: Indices::new(k),
        }
    }

    fn call(&mut self, h: H) {
        let f = self.mb.helper(h);
        self.fb.i(I::Call(f));
    }

    /// `epilogue(gidx, acc)`: the part of a one-reduction kernel after the
    /// loop, for one element whose accumulator the caller computed — or,
    /// in SIMD mode, for the four elements `gidx..gidx + 4` of one row.
    fn epilogue_function(mut self) -> we::Function {
        let (pre, _, post) = self.plan();
        self.load_args();
        self.fb.get(0).set(self.gidx);
        self.fb.get(1).set(self.acc[0]);
        for &i in pre.iter().chain(&post) {
            self.node(i);
        }
        if self.simd {
            for o in 0..self.k.outputs.len() {
                self.vstore(o);
            }
        } else {
            self.scalar_stores();
        }
        self.fb.finish()
    }

    /// The live nodes evaluated before the reduction loop, inside it and after it.
    fn plan(&self) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let stages = analysis::schedule(self.k);
        let of = |s: Stage| {
            (0..stages.len())
                .filter(|&i| stages[i] == Some(s))
                .collect()
        };
        (of(Stage::Before), of(Stage::Loop), of(Stage::After))
    }

    /// Reads buffer addresses and lengths from the argument block.
    fn load_args(&mut self) {
        let k = self.k;
        let nin = k.inputs.len() as u32;
        for j in 0..k.inputs.len() {
            self.fb
                .i32c(0)
                .i(I::I32Load(mem((ARGS_ADDR + 8 * j as u32) as u64, 2)))
                .set(self.ptr[j]);
            self.fb
                .i32c(0)
                .i(I::I32Load(mem((ARGS_ADDR + 8 * j as u32 + 4) as u64, 2)))
                .set(self.len[j]);
        }
        for o in 0..k.outputs.len() {
            self.fb
                .i32c(0)
                .i(I::I32Load(mem(
                    (ARGS_ADDR + 8 * nin + 4 * o as u32) as u64,
                    2,
                )))
                .set(self.out[o]);
        }
    }

    fn run_function(mut self) -> we::Function {
        let k = self.k;
        let (pre, body, post) = self.plan();
        self.load_args();
        if self.rows.is_some() {
            // groups must not straddle rows: an unaligned start (never given
            // by the backend, whose thread ranges are multiples of 4) runs
            // one element at a time
            self.fb.get(0).i32c(3).i(I::I32And).if_();
            self.fb.get(0).get(1).i(I::Call(self.tail_fn)).i(I::Return);
            self.fb.end();
        }
        self.fb.get(0).set(self.gidx);
        if self.simd && k.reductions.is_empty() {
            self.grouped_loop(&pre);
        }
        self.fb.i(I::Block(BlockType::Empty));
        if self.simd {
            // while gidx + 4 <= end
            self.fb
                .get(self.gidx)
                .i32c(4)
                .i(I::I32Add)
                .get(1)
                .i(I::I32GtU)
                .i(I::BrIf(0));
        } else {
            self.fb.get(0).get(1).i(I::I32GeS).i(I::BrIf(0));
        }
        self.fb.i(I::Loop(BlockType::Empty));
        for &i in &pre {
            self.node(i);
        }
        if !k.reductions.is_empty() {
            for r in 0..k.reductions.len() {
                for l in 0..=self.levels[r].len() {
                    self.identity(r);
                    let local = if l == 0 {
                        self.acc[r]
                    } else {
                        self.levels[r][l - 1]
                    };
                    self.fb.set(local);
                }
            }
            if k.rsize > 0 {
                let rows = if self.simd && k.rsize >= 4 {
                    self.row_loads(&body)
                } else {
                    Vec::new()
                };
                self.fb.i32c(0).set(self.ridx);
                if rows.is_empty() {
                    self.reduction_loop(&body, &[]);
                } else {
                    self.row_check(&rows);
                    self.fb.if_();
                    self.blocked_loop(&body, &rows);
                    // the last rsize % 4 steps
                    self.fb
                        .get(self.ridx)
                        .i32c(k.rsize as i32)
                        .i(I::I32LtS)
                        .if_();
                    self.reduction_loop(&body, &[]);
                    self.fb.end();
                    self.fb.else_();
                    self.reduction_loop(&body, &[]);
                    self.fb.end();
                }
            }
        }
        // the blocks' partial results, innermost last
        for r in 0..k.reductions.len() {
            for l in 0..self.levels[r].len() {
                self.fb.get(self.levels[r][l]).get(self.acc[r]);
                self.combine_acc(r);
                self.fb.set(self.acc[r]);
            }
        }
        for &i in &post {
            self.node(i);
        }
        if self.simd {
            for o in 0..k.outputs.len() {
                self.vstore(o);
            }
            self.fb
                .get(self.gidx)
                .i32c(4)
                .i(I::I32Add)
                .tee(self.gidx)
                .i32c(4)
                .i(I::I32Add)
                .get(1)
                .i(I::I32LeU)
                .i(I::BrIf(0));
            self.fb.end(); // loop
            self.fb.end(); // block
            // the tail, one element at a time
            self.fb.get(self.gidx).get(1).i(I::I32LtS).if_();
            self.fb.get(self.gidx).get(1).i(I::Call(self.tail_fn)).end();
            return self.fb.finish();
        }
        self.scalar_stores();
        self.fb
            .get(self.gidx)
            .i32c(1)
            .i(I::I32Add)
            .tee(self.gidx)
            .get(1)
            .i(I::I32LtS)
            .i(I::BrIf(0));
        self.fb.end(); // loop
        self.fb.end(); // block
        self.fb.finish()
    }

    /// Elementwise SIMD kernels first run [`GROUPS`] groups of four
    /// elements per step, computed node by node in turn: the groups'
    /// dependency chains (a polynomial of each, say) are independent, so
    /// the CPU overlaps them. Each element's arithmetic is unchanged.
    /// Large kernels take two groups, to bound code size and locals.
    fn grouped_loop(&mut self, nodes: &[usize]) {
        let groups = if self.k.nodes.len() > GROUPS_MAX_NODES {
            2
        } else {
            GROUPS
        };
        let mut vals: Vec<Vec<u32>> = (1..groups)
            .map(|_| {
                self.k
                    .nodes
                    .iter()
                    .map(|_| self.fb.local(V::V128))
                    .collect()
            })
            .collect();
        let mut gidxs: Vec<u32> = (1..groups).map(|_| self.fb.local(V::I32)).collect();
        let step = 4 * groups as i32;
        self.fb.i(I::Block(BlockType::Empty));
        self.fb
            .get(self.gidx)
            .i32c(step)
            .i(I::I32Add)
            .get(1)
            .i(I::I32GtU)
            .i(I::BrIf(0));
        self.fb.i(I::Loop(BlockType::Empty));
        for (g, &l) in gidxs.iter().enumerate() {
            self.fb
                .get(self.gidx)
                .i32c(4 * (g as i32 + 1))
                .i(I::I32Add)
                .set(l);
        }
        let mut all = |s: &mut Self, f: &dyn Fn(&mut Self)| {
            f(s);
            for g in 0..vals.len() {
                std::mem::swap(&mut s.val, &mut vals[g]);
                std::mem::swap(&mut s.gidx, &mut gidxs[g]);
                f(s);
                std::mem::swap(&mut s.val, &mut vals[g]);
                std::mem::swap(&mut s.gidx, &mut gidxs[g]);
            }
        };
        for &i in nodes {
            all(self, &|s| s.node(i));
        }
        for o in 0..self.k.outputs.len() {
            all(self, &|s| s.vstore(o));
        }
        self.fb
            .get(self.gidx)
            .i32c(step)
            .i(I::I32Add)
            .tee(self.gidx)
            .i32c(step)
            .i(I::I32Add)
            .get(1)
            .i(I::I32LeU)
            .i(I::BrIf(0));
        self.fb.end().end();
    }

    /// One reduction step: the body's nodes (those in `given` already hold
    /// their value), then every accumulator combined with its body value.
    fn reduction_step(&mut self, body: &[usize], given: &[usize]) {
        let k = self.k;
        for &i in body {
            if !given.contains(&i) {
                self.node(i);
            }
        }
        for r in 0..k.reductions.len() {
            let red = k.reductions[r];
            self.fb.get(self.acc[r]).get(self.val[red.body as usize]);
            self.combine_acc(r);
            self.fb.set(self.acc[r]);
        }
        self.close_blocks(0);
    }

    /// Pushes accumulator `r`'s identity (splatted in SIMD mode).
    fn identity(&mut self, r: usize) {
        let red = self.k.reductions[r];
        let d = self.k.nodes[red.body as usize].dtype;
        self.constant(red.op.identity(d));
        if self.simd {
            self.splat(d);
        }
    }

    /// Combines the two values on the stack with accumulator `r`'s op.
    fn combine_acc(&mut self, r: usize) {
        let red = self.k.reductions[r];
        let d = self.k.nodes[red.body as usize].dtype;
        if self.simd {
            self.vbinary(red.op.combine_op(), d);
        } else {
            self.combine(red.op, d);
        }
    }

    /// After step `ridx`: when `ridx + 1` ends a block of `BLOCK^(l+1)`
    /// steps, folds level `l` (the accumulator itself for `l = 0`) into
    /// level `l + 1`, resets it, and checks the next level.
    fn close_blocks(&mut self, l: usize) {
        let k = self.k;
        let rs: Vec<usize> = (0..k.reductions.len())
            .filter(|&r| self.levels[r].len() > l)
            .collect();
        if rs.is_empty() {
            return;
        }
        let mask = BLOCK.pow(l as u32 + 1) as i32 - 1;
        self.fb
            .get(self.ridx)
            .i32c(1)
            .i(I::I32Add)
            .i32c(mask)
            .i(I::I32And)
            .i(I::I32Eqz)
            .if_();
        for r in rs {
            let inner = if l == 0 {
                self.acc[r]
            } else {
                self.levels[r][l - 1]
            };
            let outer = self.levels[r][l];
            self.fb.get(outer).get(inner);
            self.combine_acc(r);
            self.fb.set(outer);
            self.identity(r);
            self.fb.set(inner);
        }
        self.close_blocks(l + 1);
        self.fb.end();
    }

    /// `do { step; ridx += 1 } while ridx < rsize`, from the current `ridx`.
    fn reduction_loop(&mut self, body: &[usize], given: &[usize]) {
        self.fb.i(I::Loop(BlockType::Empty));
        self.reduction_step(body, given);
        self.fb
            .get(self.ridx)
            .i32c(1)
            .i(I::I32Add)
            .tee(self.ridx)
            .i32c(self.k.rsize as i32)
            .i(I::I32LtS)
            .i(I::BrIf(0));
        self.fb.end();
    }

    /// SIMD body loads that read a row: index `base + ridx` with `base`
    /// independent of `ridx` (e.g. `gidx * rsize + ridx`). Returns
    /// `(load, base)` node pairs.
    fn row_loads(&self, body: &[usize]) -> Vec<(usize, usize)> {
        let k = self.k;
        body.iter()
            .filter_map(|&i| {
                let n = &k.nodes[i];
                if n.op != Op::LOAD || !matches!(n.dtype, DType::F32 | DType::I32 | DType::U32) {
                    return None;
                }
                let idx = n.args[0] as usize;
                let a = k.args(idx);
                if k.nodes[idx].op != Op::ADD {
                    return None;
                }
                let is_r = |x: u32| k.nodes[x as usize].op == Op::RIDX;
                let base = match (is_r(a[0]), is_r(a[1])) {
                    (true, false) => a[1],
                    (false, true) => a[0],
                    _ => return None,
                } as usize;
                body.binary_search(&base).is_err().then_some((i, base))
            })
            .collect()
    }

    /// Pushes whether every lane's whole row `base .. base + rsize` of every
    /// row load is in bounds (then they are read four steps at a time).
    fn row_check(&mut self, rows: &[(usize, usize)]) {
        let k = self.k;
        self.fb.i32c(1);
        for &(load, base) in rows {
            let len = self.len[k.nodes[load].imm as usize];
            self.fb.get(self.val[base]);
            self.fb.get(len).i(I::I32x4Splat).i(I::I32x4LtU);
            self.fb.get(self.val[base]);
            self.fb
                .i32c(k.rsize as i32 - 1)
                .i(I::I32x4Splat)
                .i(I::I32x4Add);
            self.fb.get(len).i(I::I32x4Splat).i(I::I32x4LtU);
            self.fb.i(I::V128And).i(I::I32x4AllTrue).i(I::I32And);
        }
    }

    /// The reduction four steps at a time while `ridx + 4 <= rsize`: each
    /// row load reads four vectors (one per lane: its row at `ridx..+4`)
    /// and transposes them into the values of the four steps, which then
    /// run in order, so every accumulator sees the same sequence.
    fn blocked_loop(&mut self, body: &[usize], rows: &[(usize, usize)]) {
        let k = self.k;
        let given: Vec<usize> = rows.iter().map(|r| r.0).collect();
        let steps: Vec<[u32; 4]> = rows
            .iter()
            .map(|_| std::array::from_fn(|_| self.fb.local(V::V128)))
            .collect();
        let (lane, t) = (
            self.fb.local(V::V128),
            [self.fb.local(V::V128), self.fb.local(V::V128)],
        );
        let ridx0 = self.fb.local(V::I32);
        self.fb.i(I::Loop(BlockType::Empty));
        for (&(load, base), step) in rows.iter().zip(&steps) {
            let input = k.nodes[load].imm as usize;
            // byte addresses of the four rows at ridx
            self.fb
                .get(self.val[base])
                .get(self.ridx)
                .i(I::I32x4Splat)
                .i(I::I32x4Add);
            self.fb.i32c(2).i(I::I32x4Shl);
            self.fb
                .get(self.ptr[input])
                .i(I::I32x4Splat)
                .i(I::I32x4Add)
                .set(lane);
            let rowv: Vec<u32> = (0..4u8)
                .map(|l| {
                    let v = self.fb.local(V::V128);
                    self.fb.get(lane).i(I::I32x4ExtractLane(l));
                    self.fb.i(I::V128Load(mem(0, 2))).set(v);
                    v
                })
                .collect();
            // 4x4 transpose: interleave pairs of rows, then pairs of pairs
            for (h, lo) in [(0, [0u8, 4, 1, 5]), (1, [2, 6, 3, 7])] {
                for (p, dst) in [(0, t[0]), (2, t[1])] {
                    self.fb.get(rowv[p]).get(rowv[p + 1]);
                    self.fb.i(I::I8x16Shuffle(lanes32(lo))).set(dst);
                }
                for (q, sel) in [(0, [0u8, 1, 4, 5]), (1, [2, 3, 6, 7])] {
                    self.fb.get(t[0]).get(t[1]);
                    self.fb
                        .i(I::I8x16Shuffle(lanes32(sel)))
                        .set(step[2 * h + q]);
                }
            }
        }
        self.fb.get(self.ridx).set(ridx0);
        for s in 0..4 {
            for (&(load, _), step) in rows.iter().zip(&steps) {
                self.fb.get(step[s]).set(self.val[load]);
            }
            self.fb
                .get(ridx0)
                .i32c(s as i32)
                .i(I::I32Add)
                .set(self.ridx);
            self.reduction_step(body, &given);
        }
        self.fb
            .get(ridx0)
            .i32c(4)
            .i(I::I32Add)
            .tee(self.ridx)
            .i32c(4)
            .i(I::I32Add)
            .i32c(k.rsize as i32)
            .i(I::I32LeS)
            .i(I::BrIf(0));
        self.fb.end();
    }

    /// Stores every output's value at `gidx`.
    fn scalar_stores(&mut self) {
        let k = self.k;
        for o in 0..k.outputs.len() {
            let node = k.outputs[o] as usize;
            let d = k.nodes[node].dtype;
            self.fb
                .get(self.out[o])
                .get(self.gidx)
                .i32c(d.size().trailing_zeros() as i32)
                .i(I::I32Shl)
                .i(I::I32Add);
            self.fb.get(self.val[node]);
            self.store(d);
        }
    }

    fn store(&mut self, d: DType) {
        match d {
            DType::BOOL => self.fb.i(I::I32Store8(mem(0, 0))),
            DType::I8 | DType::U8 => self.fb.i(I::I32Store8(mem(0, 0))),
            DType::F16 => {
                self.call(H::F32ToF16);
                self.fb.i(I::I32Store16(mem(0, 1)))
            }
            // the value is exactly a bf16: its upper half
            DType::BF16 => self
                .fb
                .i(I::I32ReinterpretF32)
                .i32c(16)
                .i(I::I32ShrU)
                .i(I::I32Store16(mem(0, 1))),
            DType::F32 => self.fb.i(I::F32Store(mem(0, 2))),
            DType::F64 => self.fb.i(I::F64Store(mem(0, 3))),
            _ => self.fb.i(I::I32Store(mem(0, 2))),
        };
    }

    /// Pushes a constant of any dtype (f16 and bf16 as their f32 value, i8
    /// and u8 extended to i32).
    fn constant(&mut self, s: Scalar) {
        match s {
            Scalar::Bool(b) => self.fb.i32c(b as i32),
            Scalar::I32(v) => self.fb.i32c(v),
            Scalar::U32(v) => self.fb.i32c(v as i32),
            Scalar::F16(v) => self.fb.f32c(v.to_f32()),
            Scalar::F32(v) => self.fb.f32c(v),
            Scalar::F64(v) => self.fb.f64c(v),
            Scalar::BF16(v) => self.fb.f32c(v.to_f32()),
            Scalar::I8(v) => self.fb.i32c(v.into()),
            Scalar::U8(v) => self.fb.i32c(v.into()),
        };
    }

    // ---- SIMD mode: every value is a v128 of four 32-bit lanes ----------

    /// Splats the scalar on the stack (of dtype `d`) to four lanes.
    fn splat(&mut self, d: DType) {
        self.fb.i(if vt(d) == V::F32 {
            I::F32x4Splat
        } else {
            I::I32x4Splat
        });
    }

    fn extract(&mut self, d: DType, lane: u8) {
        self.fb.i(if vt(d) == V::F32 {
            I::F32x4ExtractLane(lane)
        } else {
            I::I32x4ExtractLane(lane)
        });
    }

    fn replace(&mut self, d: DType, lane: u8) {
        self.fb.i(if vt(d) == V::F32 {
            I::F32x4ReplaceLane(lane)
        } else {
            I::I32x4ReplaceLane(lane)
        });
    }

    /// A comparison mask (all ones / zeros per lane) to bool lanes (1 / 0).
    fn mask_to_bool(&mut self) {
        self.fb.i(I::I32x4Neg);
    }

    fn vnode(&mut self, i: usize) {
        let k = self.k;
        let node = k.nodes[i];
        let d = node.dtype;
        let args: Vec<u32> = k.args(i).iter().map(|&a| self.val[a as usize]).collect();
        let t = k.args(i).first().map(|&a| k.nodes[a as usize].dtype);
        match node.op {
            Op::CONST => {
                self.constant(Scalar::from_bits(d, node.imm));
                self.splat(d);
            }
            Op::GIDX => {
                self.fb.get(self.gidx).i(I::I32x4Splat);
                self.fb.i(I::V128Const(IOTA)).i(I::I32x4Add);
            }
            Op::RIDX => {
                self.fb.get(self.ridx).i(I::I32x4Splat);
            }
            Op::ACC => {
                self.fb.get(self.acc[node.imm as usize]);
            }
            Op::LOAD => {
                let idx = node.args[0] as usize;
                let mut kind = index_kind(k, &self.dep_g, idx);
                // rows mode keeps groups of four aligned, so a lane step
                // over aligned groups is the step of every group
                if kind == IndexKind::General
                    && self.rows.is_some()
                    && let Some(step) = self.indices.affine(idx as u32).and_then(|f| f.lane_step(4))
                {
                    kind = match step {
                        0 => IndexKind::Invariant,
                        1 => IndexKind::Consecutive,
                        _ => IndexKind::General,
                    };
                }
                self.vload(node.imm as usize, args[0], d, kind)
            }
            Op::SELECT => {
                self.fb.get(args[1]).get(args[2]).get(args[0]);
                self.mask_to_bool();
                self.fb.i(I::V128Bitselect);
            }
            Op::BITCAST => {
                self.fb.get(args[0]);
            }
            Op::CAST => {
                let from = t.expect("cast operand");
                self.fb.get(args[0]);
                match (from, d) {
                    (a, b) if a == b => {}
                    (DType::F32, DType::BOOL) => {
                        self.fb.f32c(0.0).i(I::F32x4Splat).i(I::F32x4Ne);
                        self.mask_to_bool();
                    }
                    (_, DType::BOOL) => {
                        self.fb.i32c(0).i(I::I32x4Splat).i(I::I32x4Ne);
                        self.mask_to_bool();
                    }
                    (DType::F32, DType::I32) => {
                        self.fb.i(I::I32x4TruncSatF32x4S);
                    }
                    (DType::F32, _) => {
                        self.fb.i(I::I32x4TruncSatF32x4U);
                    }
                    (DType::I32, DType::F32) => {
                        self.fb.i(I::F32x4ConvertI32x4S);
                    }
                    (_, DType::F32) => {
                        self.fb.i(I::F32x4ConvertI32x4U);
                    }
                    _ => {} // bool/i32/u32 -> i32/u32 keep the bits
                }
            }
            op @ (Op::IDIV | Op::REM) if const_divisor(k, i).is_some() => {
                let c = const_divisor(k, i).expect("checked");
                self.vdiv_const(op, args[0], c, d == DType::I32);
            }
            op => {
                for &a in &args {
                    self.fb.get(a);
                }
                let t = t.expect("operand");
                if args.len() == 2 {
                    if !self.vbinary(op, t) {
                        self.lanewise(i);
                    }
                } else if !self.vunary(op, t) {
                    self.lanewise(i);
                }
            }
        }
        self.fb.set(self.val[i]);
    }

    /// `x / c` or `x % c` (truncating) on four lanes for a constant `c`
    /// (positive when signed, non-zero): shifts for a power of two, else an
    /// f64 division, which is exact here (an i32 quotient's distance to the
    /// next integer exceeds half an f64 ulp, so rounding never crosses it).
    /// Index arithmetic divides by constants in every element, and wasm
    /// SIMD has no integer division.
    fn vdiv_const(&mut self, op: Op, x: u32, c: u32, signed: bool) {
        let q = self.fb.local(V::V128);
        if c.is_power_of_two() {
            let s = c.trailing_zeros() as i32;
            if signed && s > 0 {
                // bias negatives by c - 1 so the shift truncates
                self.fb.get(x).get(x).i32c(31).i(I::I32x4ShrS);
                self.fb.i32c(32 - s).i(I::I32x4ShrU).i(I::I32x4Add);
                self.fb.i32c(s).i(I::I32x4ShrS).set(q);
            } else {
                self.fb.get(x).i32c(s).i(I::I32x4ShrU).set(q);
            }
        } else {
            let (convert, trunc) = if signed {
                (I::F64x2ConvertLowI32x4S, I::I32x4TruncSatF64x2SZero)
            } else {
                (I::F64x2ConvertLowI32x4U, I::I32x4TruncSatF64x2UZero)
            };
            let div = self.fb.local(V::V128);
            self.fb.f64c(c as f64).i(I::F64x2Splat).set(div);
            // lanes 0, 1 and lanes 2, 3, each through two f64 lanes
            self.fb.get(x).i(convert.clone()).get(div).i(I::F64x2Div);
            self.fb.i(trunc.clone());
            self.fb
                .get(x)
                .get(x)
                .i(I::I8x16Shuffle(lanes32([2, 3, 2, 3])));
            self.fb.i(convert).get(div).i(I::F64x2Div).i(trunc);
            self.fb.i(I::I8x16Shuffle(lanes32([0, 1, 4, 5]))).set(q);
        }
        if op == Op::IDIV {
            self.fb.get(q);
        } else {
            let c = c as i32;
            self.fb
                .get(x)
                .get(q)
                .i32c(c)
                .i(I::I32x4Splat)
                .i(I::I32x4Mul);
            self.fb.i(I::I32x4Sub);
        }
    }

    /// The scalar `x / c` or `x % c` for a constant `c` (see
    /// [`Gen::vdiv_const`]): no zero or overflow checks, shifts for a
    /// power of two (`c = 1` takes the unsigned form: the signed bias would
    /// shift by 32, which wasm reads as 0).
    fn div_const(&mut self, op: Op, x: u32, c: u32, signed: bool) {
        let c32 = c as i32;
        if c.is_power_of_two() && c > 1 && signed {
            let s = c.trailing_zeros() as i32;
            let q = self.fb.local(V::I32);
            self.fb.get(x).get(x).i32c(31).i(I::I32ShrS);
            self.fb.i32c(32 - s).i(I::I32ShrU).i(I::I32Add);
            self.fb.i32c(s).i(I::I32ShrS).set(q);
            match op {
                Op::IDIV => self.fb.get(q),
                _ => self.fb.get(x).get(q).i32c(s).i(I::I32Shl).i(I::I32Sub),
            };
        } else if c.is_power_of_two() {
            let s = c.trailing_zeros() as i32;
            match op {
                Op::IDIV => self.fb.get(x).i32c(s).i(I::I32ShrU),
                _ => self.fb.get(x).i32c(c32.wrapping_sub(1)).i(I::I32And),
            };
        } else {
            self.fb.get(x).i32c(c32);
            self.fb.i(match (op, signed) {
                (Op::IDIV, true) => I::I32DivS,
                (Op::IDIV, false) => I::I32DivU,
                (_, true) => I::I32RemS,
                _ => I::I32RemU,
            });
        }
    }

    /// Computes node `i` lane by lane with the scalar code (the operands,
    /// already pushed as vectors, are dropped and re-read from their locals).
    fn lanewise(&mut self, i: usize) {
        let k = self.k;
        let node = k.nodes[i];
        for _ in k.args(i) {
            self.fb.i(I::Drop);
        }
        let res = self.fb.local(V::V128);
        self.fb.i(I::V128Const(0)).set(res);
        for lane in 0..4u8 {
            self.fb.get(res);
            for &a in k.args(i) {
                self.fb.get(self.val[a as usize]);
                self.extract(k.nodes[a as usize].dtype, lane);
            }
            let t = k.nodes[k.args(i)[0] as usize].dtype;
            match node.op {
                Op::THREEFRY2X32 => self.call(H::Threefry(node.imm as u8)),
                Op::CAST => self.cast(t, node.dtype),
                _ if k.args(i).len() == 1 => self.unary(node.op, t),
                op => self.binary(op, t),
            }
            self.replace(node.dtype, lane);
            self.fb.set(res);
        }
        self.fb.get(res);
    }

    /// A native SIMD form of a unary op, if there is one (operand pushed).
    fn vunary(&mut self, op: Op, t: DType) -> bool {
        if let (Some(v), DType::F32) = (vector_helper(op), t) {
            let x = self.fb.local(V::V128);
            self.fb.set(x);
            crate::vmath::emit(v, &mut self.fb, self.mb, &[x]);
            return true;
        }
        let ins = match (op, t) {
            (Op::NEG, DType::F32) => I::F32x4Neg,
            (Op::ABS, DType::F32) => I::F32x4Abs,
            (Op::SQRT, DType::F32) => I::F32x4Sqrt,
            (Op::FLOOR, DType::F32) => I::F32x4Floor,
            (Op::CEIL, DType::F32) => I::F32x4Ceil,
            (Op::TRUNC, DType::F32) => I::F32x4Trunc,
            (Op::ROUND, DType::F32) => I::F32x4Nearest,
            (Op::RECIP | Op::RSQRT, DType::F32) => {
                let x = self.fb.local(V::V128);
                if op == Op::RSQRT {
                    self.fb.i(I::F32x4Sqrt);
                }
                self.fb.set(x).f32c(1.0).i(I::F32x4Splat).get(x);
                I::F32x4Div
            }
            (Op::ISNAN, DType::F32) => {
                let x = self.fb.local(V::V128);
                self.fb.tee(x).get(x).i(I::F32x4Ne);
                self.mask_to_bool();
                return true;
            }
            (Op::ISINF, DType::F32) => {
                self.fb.i(I::F32x4Abs).f32c(f32::INFINITY).i(I::F32x4Splat);
                self.fb.i(I::F32x4Eq);
                self.mask_to_bool();
                return true;
            }
            (Op::NOT, DType::BOOL) => {
                self.fb.i32c(1).i(I::I32x4Splat).i(I::V128Xor);
                return true;
            }
            (Op::NOT, _) => I::V128Not,
            (Op::NEG, DType::I32 | DType::U32) => I::I32x4Neg,
            (Op::ABS, DType::I32) => I::I32x4Abs,
            (Op::ABS, DType::U32) => return true,
            _ => return false,
        };
        self.fb.i(ins);
        true
    }

    /// A native SIMD form of a binary op, if there is one (operands pushed).
    fn vbinary(&mut self, op: Op, t: DType) -> bool {
        if let (Some(h), DType::F32) = (vector_helper2(op), t) {
            let (a, b) = (self.fb.local(V::V128), self.fb.local(V::V128));
            self.fb.set(b).set(a);
            crate::vmath::emit(h, &mut self.fb, self.mb, &[a, b]);
            return true;
        }
        let cmp = matches!(op, Op::LT | Op::LE | Op::GT | Op::GE | Op::EQ | Op::NE);
        let ins = if t == DType::F32 {
            match op {
                Op::ADD => I::F32x4Add,
                Op::SUB => I::F32x4Sub,
                Op::MUL => I::F32x4Mul,
                Op::DIV => I::F32x4Div,
                Op::MIN => I::F32x4Min,
                Op::MAX => I::F32x4Max,
                Op::LT => I::F32x4Lt,
                Op::LE => I::F32x4Le,
                Op::GT => I::F32x4Gt,
                Op::GE => I::F32x4Ge,
                Op::EQ => I::F32x4Eq,
                Op::NE => I::F32x4Ne,
                _ => return false,
            }
        } else {
            let signed = t == DType::I32;
            match op {
                Op::ADD => I::I32x4Add,
                Op::SUB => I::I32x4Sub,
                Op::MUL => I::I32x4Mul,
                Op::AND => I::V128And,
                Op::OR => I::V128Or,
                Op::XOR => I::V128Xor,
                Op::MIN if signed => I::I32x4MinS,
                Op::MIN => I::I32x4MinU,
                Op::MAX if signed => I::I32x4MaxS,
                Op::MAX => I::I32x4MaxU,
                Op::EQ => I::I32x4Eq,
                Op::NE => I::I32x4Ne,
                Op::LT if signed => I::I32x4LtS,
                Op::LT => I::I32x4LtU,
                Op::LE if signed => I::I32x4LeS,
                Op::LE => I::I32x4LeU,
                Op::GT if signed => I::I32x4GtS,
                Op::GT => I::I32x4GtU,
                Op::GE if signed => I::I32x4GeS,
                Op::GE => I::I32x4GeU,
                _ => return false,
            }
        };
        self.fb.i(ins);
        if cmp {
            self.mask_to_bool();
        }
        true
    }

    /// Loads four elements at the lane indices `idx`: one vector load when
    /// the indices are consecutive and in bounds, else lane by lane.
    fn vload(&mut self, input: usize, idx: u32, d: DType, kind: IndexKind) {
        let (i0, c) = (self.fb.local(V::I32), self.fb.local(V::I32));
        if kind == IndexKind::Invariant {
            // the same element in every lane
            self.fb.get(idx).i(I::I32x4ExtractLane(0)).set(i0);
            self.load(input, i0, d);
            self.splat(d);
            return;
        }
        if d != DType::BOOL {
            self.fb.get(idx).i(I::I32x4ExtractLane(0)).set(i0);
            if kind == IndexKind::Consecutive {
                self.fb.i32c(1);
            } else {
                // consecutive: idx == splat(i0) + iota
                self.fb.get(idx);
                self.fb
                    .get(i0)
                    .i(I::I32x4Splat)
                    .i(I::V128Const(IOTA))
                    .i(I::I32x4Add);
                self.fb.i(I::I32x4Eq).i(I::I32x4AllTrue);
            }
            // i0 and i0 + 3 in bounds (unsigned compare also rejects negatives)
            self.fb
                .get(i0)
                .get(self.len[input])
                .i(I::I32LtU)
                .i(I::I32And);
            self.fb
                .get(i0)
                .i32c(3)
                .i(I::I32Add)
                .get(self.len[input])
                .i(I::I32LtU)
                .i(I::I32And)
                .set(c);
            self.fb.get(c).i(I::If(BlockType::Result(V::V128)));
            self.fb
                .get(self.ptr[input])
                .get(i0)
                .i32c(2)
                .i(I::I32Shl)
                .i(I::I32Add)
                .i(I::V128Load(mem(0, 2)));
            self.fb.else_();
        }
        let (res, li) = (self.fb.local(V::V128), self.fb.local(V::I32));
        self.fb.i(I::V128Const(0)).set(res);
        for lane in 0..4u8 {
            self.fb.get(idx).i(I::I32x4ExtractLane(lane)).set(li);
            self.fb.get(res);
            self.load(input, li, d);
            self.replace(d, lane);
            self.fb.set(res);
        }
        self.fb.get(res);
        if d != DType::BOOL {
            self.fb.end();
        }
    }

    /// Stores the four lanes of output `o` at `gidx..gidx + 4`.
    fn vstore(&mut self, o: usize) {
        let node = self.k.outputs[o] as usize;
        let d = self.k.nodes[node].dtype;
        if d == DType::BOOL {
            for lane in 0..4u8 {
                self.fb.get(self.out[o]).get(self.gidx).i(I::I32Add);
                self.fb.get(self.val[node]).i(I::I32x4ExtractLane(lane));
                self.fb.i(I::I32Store8(mem(lane as u64, 0)));
            }
            return;
        }
        self.fb
            .get(self.out[o])
            .get(self.gidx)
            .i32c(2)
            .i(I::I32Shl)
            .i(I::I32Add);
        self.fb.get(self.val[node]).i(I::V128Store(mem(0, 2)));
    }

    /// Rounds the f32 on the stack to f16 or bf16 when `d` is one, and
    /// wraps the i32 on the stack to 8 bits when `d` is i8 or u8.
    fn round(&mut self, d: DType) {
        match d {
            DType::F16 => self.call(H::RoundF16),
            DType::BF16 => self.call(H::RoundBf16),
            DType::I8 => {
                self.fb.i(I::I32Extend8S);
            }
            DType::U8 => {
                self.fb.i32c(0xff).i(I::I32And);
            }
            _ => {}
        }
    }

    /// `acc (op) x` with both on the stack.
    fn combine(&mut self, op: ReduceOp, d: DType) {
        let binop = op.combine_op();
        self.binary(binop, d);
        if d.is_byte_int() {
            self.round(d);
        }
    }

    fn node(&mut self, i: usize) {
        if self.simd {
            return self.vnode(i);
        }
        let k = self.k;
        let node = k.nodes[i];
        let d = node.dtype;
        let args: Vec<u32> = k.args(i).iter().map(|&a| self.val[a as usize]).collect();
        let t = k.args(i).first().map(|&a| k.nodes[a as usize].dtype);
        match node.op {
            Op::CONST => self.constant(Scalar::from_bits(d, node.imm)),
            Op::GIDX => {
                self.fb.get(self.gidx);
            }
            Op::RIDX => {
                self.fb.get(self.ridx);
            }
            Op::ACC => {
                self.fb.get(self.acc[node.imm as usize]);
            }
            Op::LOAD => self.load(node.imm as usize, args[0], d),
            Op::SELECT => {
                self.fb.get(args[1]).get(args[2]).get(args[0]).i(I::Select);
            }
            Op::CAST => {
                self.fb.get(args[0]);
                self.cast(t.expect("cast operand"), d);
            }
            Op::BITCAST => {
                self.fb.get(args[0]);
                let from = t.expect("bitcast operand");
                match (vt(from), vt(d)) {
                    (V::I32, V::F32) if d == DType::F32 => {
                        self.fb.i(I::F32ReinterpretI32);
                    }
                    (V::F32, V::I32) if from == DType::F32 => {
                        self.fb.i(I::I32ReinterpretF32);
                    }
                    // i8 <-> u8: re-extend the byte
                    (V::I32, V::I32) => self.round(d),
                    // f16 <-> bf16: through the 16 stored bits
                    (V::F32, V::F32) if from == DType::F16 && d == DType::BF16 => {
                        self.call(H::F32ToF16);
                        self.fb.i32c(16).i(I::I32Shl).i(I::F32ReinterpretI32);
                    }
                    (V::F32, V::F32) if from == DType::BF16 && d == DType::F16 => {
                        self.fb.i(I::I32ReinterpretF32).i32c(16).i(I::I32ShrU);
                        self.call(H::F16ToF32);
                    }
                    _ => {}
                }
            }
            Op::THREEFRY2X32 => {
                for &a in &args {
                    self.fb.get(a);
                }
                self.call(H::Threefry(node.imm as u8));
            }
            op @ (Op::IDIV | Op::REM) if const_divisor(k, i).is_some() => {
                let c = const_divisor(k, i).expect("checked");
                self.div_const(op, args[0], c, d == DType::I32);
            }
            op => {
                let t = t.expect("operand");
                for &a in &args {
                    self.fb.get(a);
                }
                match args.len() {
                    1 => self.unary(op, t),
                    _ => self.binary(op, t),
                }
                if d.is_byte_int() {
                    self.round(d);
                }
            }
        }
        self.fb.set(self.val[i]);
    }

    fn load(&mut self, input: usize, idx: u32, d: DType) {
        let c = self.fb.local(V::I32);
        self.fb.get(idx).get(self.len[input]).i(I::I32LtU).set(c);
        // address of element select(idx, 0, in range): always readable
        self.fb.get(self.ptr[input]);
        self.fb.get(idx).i32c(0).get(c).i(I::Select);
        self.fb
            .i32c(d.size().trailing_zeros() as i32)
            .i(I::I32Shl)
            .i(I::I32Add);
        match d {
            DType::BOOL => {
                self.fb.i(I::I32Load8U(mem(0, 0)));
            }
            DType::I8 => {
                self.fb.i(I::I32Load8S(mem(0, 0)));
            }
            DType::U8 => {
                self.fb.i(I::I32Load8U(mem(0, 0)));
            }
            DType::F16 => {
                self.fb.i(I::I32Load16U(mem(0, 1)));
                self.call(H::F16ToF32);
            }
            DType::BF16 => {
                self.fb
                    .i(I::I32Load16U(mem(0, 1)))
                    .i32c(16)
                    .i(I::I32Shl)
                    .i(I::F32ReinterpretI32);
            }
            DType::F32 => {
                self.fb.i(I::F32Load(mem(0, 2)));
            }
            DType::F64 => {
                self.fb.i(I::F64Load(mem(0, 3)));
            }
            _ => {
                self.fb.i(I::I32Load(mem(0, 2)));
            }
        }
        self.constant(Scalar::zero(d));
        self.fb.get(c).i(I::Select);
    }

    /// Converts the value on the stack; the narrow types ride in their
    /// wide carriers (i8/u8 in i32, f16/bf16 in f32), so most casts are a
    /// conversion between carriers followed by [`Self::round`] to the target.
    fn cast(&mut self, from: DType, to: DType) {
        use DType as D;
        let f32_carried = matches!(from, D::F16 | D::BF16 | D::F32);
        let signed = matches!(from, D::I32 | D::I8);
        let fb = &mut self.fb;
        match (from, to) {
            (a, b) if a == b => {}
            (_, D::BOOL) if f32_carried => {
                fb.f32c(0.0).i(I::F32Ne);
            }
            (D::F64, D::BOOL) => {
                fb.f64c(0.0).i(I::F64Ne);
            }
            (_, D::BOOL) => {
                fb.i32c(0).i(I::I32Ne);
            }
            // float → int: truncate and saturate to 32 bits, then clamp to 8
            (_, D::I32 | D::I8) if from.is_float() => {
                fb.i(if from == D::F64 {
                    I::I32TruncSatF64S
                } else {
                    I::I32TruncSatF32S
                });
                if to == D::I8 {
                    let x = fb.local(V::I32);
                    fb.tee(x)
                        .i32c(-128)
                        .get(x)
                        .i32c(-128)
                        .i(I::I32GtS)
                        .i(I::Select);
                    fb.tee(x)
                        .i32c(127)
                        .get(x)
                        .i32c(127)
                        .i(I::I32LtS)
                        .i(I::Select);
                }
            }
            (_, D::U32 | D::U8) if from.is_float() => {
                fb.i(if from == D::F64 {
                    I::I32TruncSatF64U
                } else {
                    I::I32TruncSatF32U
                });
                if to == D::U8 {
                    let x = fb.local(V::I32);
                    fb.tee(x)
                        .i32c(255)
                        .get(x)
                        .i32c(255)
                        .i(I::I32LtU)
                        .i(I::Select);
                }
            }
            // int → int: the carrier already holds the (sign-extended) value
            (_, D::I32 | D::U32) => {}
            (_, D::I8 | D::U8) => self.round(to),
            // int → f64 is exact
            (_, D::F64) if signed => {
                fb.i(I::F64ConvertI32S);
            }
            (_, D::F64) if !from.is_float() => {
                fb.i(I::F64ConvertI32U);
            }
            (_, D::F64) => {
                fb.i(I::F64PromoteF32);
            }
            // 32-bit ints can have more digits than bf16 keeps: round once,
            // from the exact f64
            (D::I32 | D::U32, D::BF16) => {
                fb.i(if signed {
                    I::F64ConvertI32S
                } else {
                    I::F64ConvertI32U
                });
                self.call(H::F64ToBf16);
            }
            (D::F64, D::BF16) => self.call(H::F64ToBf16),
            (D::F64, D::F32) => {
                fb.i(I::F32DemoteF64);
            }
            (D::F64, D::F16) => {
                self.call(H::F64ToF16);
                self.call(H::F16ToF32);
            }
            // everything else reaches the f32 carrier exactly (or, for
            // i32/u32 → f16, beyond f16's range) and rounds once
            (_, D::F32 | D::F16 | D::BF16) => {
                if signed {
                    fb.i(I::F32ConvertI32S);
                } else if !f32_carried {
                    fb.i(I::F32ConvertI32U);
                }
                self.round(to);
            }
            (a, b) => unreachable!("cast {a} -> {b}"),
        }
    }

    /// A float op computed in f64 by a helper: promote, call, demote.
    fn via_f64(&mut self, h: H, t: DType, arity: usize) {
        if t != DType::F64 {
            if arity == 2 {
                let y = self.fb.local(V::F32);
                self.fb
                    .set(y)
                    .i(I::F64PromoteF32)
                    .get(y)
                    .i(I::F64PromoteF32);
            } else {
                self.fb.i(I::F64PromoteF32);
            }
        }
        self.call(h);
        if t != DType::F64 {
            self.fb.i(I::F32DemoteF64);
            self.round(t);
        }
    }

    fn unary(&mut self, op: Op, t: DType) {
        let f64_ = t == DType::F64;
        // picks the f32 or f64 form of an instruction
        macro_rules! fop {
            ($a:ident, $b:ident) => {
                if f64_ { I::$b } else { I::$a }
            };
        }
        if t.is_float() {
            let helper = match op {
                Op::EXP => Some(H::Exp),
                Op::EXP2 => Some(H::Exp2),
                Op::LOG => Some(H::Log),
                Op::LOG2 => Some(H::Log2),
                Op::LOG1P => Some(H::Log1p),
                Op::EXPM1 => Some(H::Expm1),
                Op::SIN => Some(H::Sin),
                Op::COS => Some(H::Cos),
                Op::TAN => Some(H::Tan),
                Op::ASIN => Some(H::Asin),
                Op::ACOS => Some(H::Acos),
                Op::ATAN => Some(H::Atan),
                Op::SINH => Some(H::Sinh),
                Op::COSH => Some(H::Cosh),
                Op::TANH => Some(H::Tanh),
                Op::ERF => Some(H::Erf),
                Op::ERFC => Some(H::Erfc),
                _ => None,
            };
            if let (Some(v), DType::F32) = (vector_helper(op), t) {
                self.fb.i(I::F32x4Splat);
                self.call(v);
                self.fb.i(I::F32x4ExtractLane(0));
                return;
            }
            if let Some(h) = helper {
                self.via_f64(h, t, 1);
                return;
            }
            let one = |s: &mut Self| {
                if f64_ {
                    s.fb.f64c(1.0);
                } else {
                    s.fb.f32c(1.0);
                }
            };
            match op {
                Op::NEG => {
                    self.fb.i(fop!(F32Neg, F64Neg));
                }
                Op::ABS => {
                    self.fb.i(fop!(F32Abs, F64Abs));
                }
                Op::SIGN => {
                    let x = self.fb.local(vt(t));
                    self.fb.set(x);
                    one(self);
                    self.fb.get(x).i(fop!(F32Copysign, F64Copysign)).get(x);
                    self.fb.get(x).i(fop!(F32Abs, F64Abs));
                    if f64_ {
                        self.fb.f64c(0.0);
                    } else {
                        self.fb.f32c(0.0);
                    }
                    self.fb.i(fop!(F32Gt, F64Gt)).i(I::Select);
                }
                Op::SQRT => {
                    self.fb.i(fop!(F32Sqrt, F64Sqrt));
                    self.round(t);
                }
                Op::RSQRT => {
                    self.fb.i(fop!(F32Sqrt, F64Sqrt));
                    let x = self.fb.local(vt(t));
                    self.fb.set(x);
                    one(self);
                    self.fb.get(x).i(fop!(F32Div, F64Div));
                    self.round(t);
                }
                Op::RECIP => {
                    let x = self.fb.local(vt(t));
                    self.fb.set(x);
                    one(self);
                    self.fb.get(x).i(fop!(F32Div, F64Div));
                    self.round(t);
                }
                Op::FLOOR => {
                    self.fb.i(fop!(F32Floor, F64Floor));
                }
                Op::CEIL => {
                    self.fb.i(fop!(F32Ceil, F64Ceil));
                }
                Op::ROUND => {
                    self.fb.i(fop!(F32Nearest, F64Nearest));
                }
                Op::TRUNC => {
                    self.fb.i(fop!(F32Trunc, F64Trunc));
                }
                Op::ISNAN => {
                    let x = self.fb.local(vt(t));
                    self.fb.tee(x).get(x).i(fop!(F32Ne, F64Ne));
                }
                Op::ISINF => {
                    self.fb.i(fop!(F32Abs, F64Abs));
                    if f64_ {
                        self.fb.f64c(f64::INFINITY);
                    } else {
                        self.fb.f32c(f32::INFINITY);
                    }
                    self.fb.i(fop!(F32Eq, F64Eq));
                }
                _ => unreachable!("unary {op} on {t}"),
            }
            return;
        }
        // bool and the integers (i8/u8 are rounded to 8 bits by the caller)
        match (op, t) {
            (Op::NOT, DType::BOOL) => {
                self.fb.i32c(1).i(I::I32Xor);
            }
            (Op::NOT, _) => {
                self.fb.i32c(-1).i(I::I32Xor);
            }
            (Op::NEG, _) => {
                let x = self.fb.local(V::I32);
                self.fb.set(x).i32c(0).get(x).i(I::I32Sub);
            }
            (Op::ABS, DType::I32 | DType::I8) => {
                let x = self.fb.local(V::I32);
                self.fb.tee(x).i32c(0).get(x).i(I::I32Sub);
                self.fb.get(x).i32c(0).i(I::I32GeS).i(I::Select);
            }
            (Op::ABS, _) => {}
            (Op::SIGN, DType::I32 | DType::I8) => {
                let x = self.fb.local(V::I32);
                self.fb.tee(x).i32c(0).i(I::I32GtS);
                self.fb.get(x).i32c(0).i(I::I32LtS).i(I::I32Sub);
            }
            (Op::SIGN, _) => {
                self.fb.i32c(0).i(I::I32Ne);
            }
            _ => unreachable!("unary {op} on {t}"),
        }
    }

    /// A binary op with both operands (dtype `t`) on the stack.
    fn binary(&mut self, op: Op, t: DType) {
        use DType as D;
        let f64_ = t == D::F64;
        macro_rules! fop {
            ($a:ident, $b:ident) => {
                if f64_ { I::$b } else { I::$a }
            };
        }
        let cmp = matches!(op, Op::LT | Op::LE | Op::GT | Op::GE | Op::EQ | Op::NE);
        if t.is_float() {
            let ins = match op {
                Op::ADD => fop!(F32Add, F64Add),
                Op::SUB => fop!(F32Sub, F64Sub),
                Op::MUL => fop!(F32Mul, F64Mul),
                Op::DIV => fop!(F32Div, F64Div),
                Op::MIN => fop!(F32Min, F64Min),
                Op::MAX => fop!(F32Max, F64Max),
                Op::LT => fop!(F32Lt, F64Lt),
                Op::LE => fop!(F32Le, F64Le),
                Op::GT => fop!(F32Gt, F64Gt),
                Op::GE => fop!(F32Ge, F64Ge),
                Op::EQ => fop!(F32Eq, F64Eq),
                Op::NE => fop!(F32Ne, F64Ne),
                Op::ATAN2 | Op::POW if t == D::F32 => {
                    // the f32x4 helper on splats: the vector path's bits
                    let b = self.fb.local(V::F32);
                    self.fb.set(b).i(I::F32x4Splat);
                    self.fb.get(b).i(I::F32x4Splat);
                    self.call(vector_helper2(op).expect("has one"));
                    self.fb.i(I::F32x4ExtractLane(0));
                    return;
                }
                Op::REM => return self.via_f64(H::Fmod, t, 2),
                Op::POW => return self.via_f64(H::Pow, t, 2),
                Op::ATAN2 => return self.via_f64(H::Atan2, t, 2),
                _ => unreachable!("binary {op} on {t}"),
            };
            self.fb.i(ins);
            if matches!(op, Op::ADD | Op::SUB | Op::MUL | Op::DIV) {
                self.round(t);
            }
            return;
        }
        let signed = matches!(t, D::I32 | D::I8);
        if cmp {
            let ins = match (op, signed) {
                (Op::LT, true) => I::I32LtS,
                (Op::LT, false) => I::I32LtU,
                (Op::LE, true) => I::I32LeS,
                (Op::LE, false) => I::I32LeU,
                (Op::GT, true) => I::I32GtS,
                (Op::GT, false) => I::I32GtU,
                (Op::GE, true) => I::I32GeS,
                (Op::GE, false) => I::I32GeU,
                (Op::EQ, _) => I::I32Eq,
                _ => I::I32Ne,
            };
            self.fb.i(ins);
            return;
        }
        let (x, y) = (self.fb.local(V::I32), self.fb.local(V::I32));
        let fb = &mut self.fb;
        match op {
            Op::ADD => {
                fb.i(I::I32Add);
            }
            Op::SUB => {
                fb.i(I::I32Sub);
            }
            Op::MUL => {
                fb.i(I::I32Mul);
            }
            Op::AND => {
                fb.i(I::I32And);
            }
            Op::OR => {
                fb.i(I::I32Or);
            }
            Op::XOR => {
                fb.i(I::I32Xor);
            }
            Op::MIN | Op::MAX => {
                fb.set(y).set(x);
                fb.get(x).get(y).get(x).get(y);
                let lt = if signed { I::I32LtS } else { I::I32LtU };
                let gt = if signed { I::I32GtS } else { I::I32GtU };
                fb.i(if op == Op::MIN { lt } else { gt }).i(I::Select);
            }
            Op::IDIV | Op::REM => {
                fb.set(y).set(x);
                let (bad, ys) = (fb.local(V::I32), fb.local(V::I32));
                fb.get(y).i(I::I32Eqz).set(bad);
                // divisor with 0 (and MIN / -1) replaced by 1
                fb.i32c(1).get(y).get(bad);
                if signed {
                    fb.get(x).i32c(i32::MIN).i(I::I32Eq);
                    fb.get(y).i32c(-1).i(I::I32Eq).i(I::I32And).i(I::I32Or);
                }
                fb.i(I::Select).set(ys);
                if op == Op::IDIV {
                    fb.i32c(-1).get(x).get(ys);
                    fb.i(if signed { I::I32DivS } else { I::I32DivU });
                } else {
                    fb.get(x).get(x).get(ys);
                    fb.i(if signed { I::I32RemS } else { I::I32RemU });
                }
                fb.get(bad).i(I::Select);
            }
            Op::SHL | Op::SHR => {
                fb.set(y).set(x);
                fb.get(x).get(y);
                fb.i(match (op, signed) {
                    (Op::SHL, _) => I::I32Shl,
                    (_, true) => I::I32ShrS,
                    _ => I::I32ShrU,
                });
                // out-of-range amounts: 0, or the sign fill for SHR on i32
                if op == Op::SHR && signed {
                    fb.get(x).i32c(31).i(I::I32ShrS);
                } else {
                    fb.i32c(0);
                }
                fb.get(y).i32c(32).i(I::I32LtU).i(I::Select);
            }
            _ => unreachable!("binary {op} on {t}"),
        }
    }
}

/// Steps per block of blocked accumulation: a float sum or product
/// accumulates `BLOCK` steps, folds that into the next level, and so on
/// (a `BLOCK`-ary tree), so its error grows like `BLOCK · log_BLOCK(rsize)`
/// roundings instead of `rsize` (the contract in docs/backend-authors.md).
const BLOCK: usize = 16;

/// Outer levels a reduction of `rsize` steps needs.
fn block_levels(rsize: usize) -> usize {
    let mut levels = 0;
    while BLOCK.pow(levels as u32 + 1) < rsize {
        levels += 1;
    }
    levels
}

/// Whether an accumulator is blocked: float sums and products round;
/// min, max and integer ops are exact in any order.
fn blocked(op: ReduceOp, d: DType) -> bool {
    matches!(op, ReduceOp::ADD | ReduceOp::MUL) && d.is_float()
}
