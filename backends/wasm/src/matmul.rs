//! Matmul-shaped reductions: register-tiled micro-kernel, cache blocking
//! and packed panels.
//!
//! A kernel qualifies when it has one f32 `add` reduction whose body is the
//! product of two loads, the output index splits as `gidx = i * N + j`
//! (the kernel computes `i` and `j` with `idiv`/`rem` by the constant `N`),
//! and each load's index is affine in `(i, j, ridx)` — all proven on the IR
//! by [`oxjax_abi::analysis::matmul`]. One operand (A) must not depend on
//! `j`, the other (B) not on `i`. Any epilogue is allowed: it runs through the module's
//! `epilogue(gidx, acc)` function, on four adjacent elements of a row at a
//! time (`acc` an f32x4) when the kernel's nodes are all vectorizable, else
//! on one.
//!
//! `run(start, end)` takes whole rows: blocks of [`TILE_M`] rows ×
//! [`TILE_N`] columns keep their 32 accumulators in eight f32x4 registers;
//! each `ridx` step broadcasts four A values and loads eight B values (one
//! vector pair when B is contiguous in `j`, lanes otherwise). Products and
//! sums are separate IEEE operations in `ridx` order (no fused
//! multiply-add), so every thread count and path gives the same bits, as
//! the reference's for sums short enough that it does not fold them
//! pairwise, and within the reordering bound of `docs/backend-authors.md`
//! beyond. Ragged edges, ranges that
//! are not whole rows and operands whose index range exceeds their buffer
//! (the out-of-bounds-reads-zero rule) go to the generic run function.
//!
//! Caches: the columns run in blocks of NC (`column_block`: a K x NC
//! panel of B is about 512 KiB, half an L2); every row group of the
//! thread's range passes over a block before the next, so the panel is
//! read from L2, not memory, and a row group's A rows stay in L1 across
//! the block. When B is contiguous in `j` the block is first packed into
//! the thread's scratch memory ([`SCRATCH_BYTES`], its address in the
//! exported global [`SCRATCH_GLOBAL`], set by the host per thread; 0 means
//! none, and B is then read in place): 32 bytes per `ridx` step per tile,
//! one sequential stream instead of rows a power-of-two stride apart that
//! fight over a few L1 sets.
//!
//! A product of fewer rows than a tile (a batch-1 layer) reads each element
//! of B once, so it is bound by how fast B streams in: it runs in axpy form
//! ([`axpy`]), adding rows of B, in order, to a chunk of sums in scratch
//! memory (a 1x784x512 product went from 61 to 36 us on one thread).

use crate::fb::{Fb, mem};
use oxjax_abi::{DType, Kernel, Op, analysis};
use wasm_encoder::{BlockType, Instruction as I, ValType as V};

pub const TILE_M: u32 = 4;
pub const TILE_N: u32 = 8;
/// Bytes of scratch memory per thread for a packed B panel.
pub const SCRATCH_BYTES: u32 = 512 * 1024;
/// The export name of a packing module's scratch-address global.
pub const SCRATCH_GLOBAL: &str = "scratch";

/// One operand: `index = c0 + ci i + cj j + cr r` into input `input`.
#[derive(Clone, Copy, Debug)]
pub struct Operand {
    pub input: usize,
    pub c0: i64,
    pub ci: i64,
    pub cj: i64,
    pub cr: i64,
    /// The largest index over the iteration box.
    pub max: i64,
}

#[derive(Clone, Copy, Debug)]
pub struct MatMul {
    pub n: u32,
    pub k: u32,
    pub a: Operand,
    pub b: Operand,
}

/// Recognises a matmul-shaped kernel the tiles can run: the shared
/// [`analysis::matmul`] description with f32 operands that are plain loads
/// at indices affine in (i, j, ridx), A free of `j` and B of `i`, and
/// index ranges that fit the byte addresses.
pub fn analyse(k: &Kernel) -> Option<MatMul> {
    let mm = analysis::matmul(k)?;
    if mm.dtype != DType::F32 {
        return None;
    }
    let operand = |o: &analysis::Operand| {
        let s = o.load?;
        let ok =
            k.inputs[s.input as usize] == DType::F32 && s.lo >= 0 && s.hi <= i32::MAX as i64 / 4;
        ok.then_some(Operand {
            input: s.input as usize,
            c0: s.offset,
            ci: s.row,
            cj: s.col,
            cr: s.depth,
            max: s.hi,
        })
    };
    let (a, b) = (operand(&mm.a)?, operand(&mm.b)?);
    if a.cj != 0 || b.ci != 0 {
        return None;
    }
    Some(MatMul {
        n: mm.n,
        k: mm.k,
        a,
        b,
    })
}

/// The tiled `run(start, end)`; `generic` is the untiled run function and
/// `epi` the epilogue, of four elements when `vector`, else of one.
pub fn run_function(
    k: &Kernel,
    mm: &MatMul,
    generic: u32,
    epi: u32,
    vector: bool,
) -> wasm_encoder::Function {
    let (start, end) = (0, 1);
    let mut fb = Fb::new(2);
    let l = |fb: &mut Fb, t: V| fb.local(t);
    let (pa, la, pb, lb) = (
        l(&mut fb, V::I32),
        l(&mut fb, V::I32),
        l(&mut fb, V::I32),
        l(&mut fb, V::I32),
    );
    let (i, i0, i1, j, r) = (
        l(&mut fb, V::I32),
        l(&mut fb, V::I32),
        l(&mut fb, V::I32),
        l(&mut fb, V::I32),
        l(&mut fb, V::I32),
    );
    let (jc, jend) = (l(&mut fb, V::I32), l(&mut fb, V::I32));
    let (aaddr, baddr) = (l(&mut fb, V::I32), l(&mut fb, V::I32));
    let (scratch, bstep) = (l(&mut fb, V::I32), l(&mut fb, V::I32));
    let acc: Vec<u32> = (0..TILE_M * 2).map(|_| l(&mut fb, V::V128)).collect();
    let (b0, b1, av) = (
        l(&mut fb, V::V128),
        l(&mut fb, V::V128),
        l(&mut fb, V::V128),
    );
    let (bv2, bv3) = (l(&mut fb, V::V128), l(&mut fb, V::V128));
    let n = mm.n as i32;
    // The output is the sum itself: store the accumulators, no epilogue.
    let direct = k.outputs.len() == 1 && k.nodes[k.outputs[0] as usize].op == Op::ACC;
    // Otherwise an output of 4-byte elements holds a tile's sums until the
    // epilogue reads them back: a call clobbers every vector register, so
    // sums still live at a call are kept on the stack through the whole
    // `ridx` loop (x @ w + b ran at a third of x @ w's speed).
    let stage = if direct {
        Some(0)
    } else {
        k.outputs
            .iter()
            .position(|&o| k.nodes[o as usize].dtype.size() == 4)
    };
    let out = l(&mut fb, V::I32);
    if let Some(o) = stage {
        fb.i32c(0)
            .i(I::I32Load(mem(8 * k.inputs.len() as u64 + 4 * o as u64, 2)))
            .set(out);
    }
    let epi = if direct {
        Epilogue::Store(out)
    } else {
        Epilogue::Call {
            f: epi,
            vector,
            stage: stage.map(|_| out),
        }
    };
    for (op, p, len) in [(mm.a, pa, la), (mm.b, pb, lb)] {
        let at = 8 * op.input as u64;
        fb.i32c(0).i(I::I32Load(mem(at, 2))).set(p);
        fb.i32c(0).i(I::I32Load(mem(at + 4, 2))).set(len);
    }
    // The thread's scratch memory (global 0; 0 when it has none) holds the
    // packed B panel: 8 columns x K rows per tile, 32 bytes per row.
    let pack = packs(mm);
    if uses_scratch(k, mm) {
        fb.i(I::GlobalGet(0)).set(scratch);
    }
    fb.i32c((mm.b.cr * 4) as i32).set(bstep);
    if pack {
        fb.get(scratch).if_().i32c(32).set(bstep).end();
    }
    // Fewer rows than a tile (a batch-1 product): the threads take ranges
    // of whole row steps, not whole rows (see `granule`), run in axpy
    // chunks (the row micro-kernel when there is no scratch memory);
    // elements at a row's ragged end go generic.
    if flat(k, mm) {
        fb.get(la).i32c(mm.a.max as i32).i(I::I32LeU);
        fb.get(lb).i32c(mm.b.max as i32).i(I::I32LeU).i(I::I32Or);
        fb.if_()
            .get(start)
            .get(end)
            .i(I::Call(generic))
            .i(I::Return)
            .end();
        let g = r; // the element at hand (`r` is free until a step runs)
        fb.get(start).set(g);
        fb.i(I::Block(BlockType::Empty))
            .i(I::Loop(BlockType::Empty));
        fb.get(g).get(end).i(I::I32GeS).i(I::BrIf(1));
        fb.get(g).i32c(n).i(I::I32DivU).set(i);
        fb.get(g).i32c(n).i(I::I32RemU).set(j);
        // a whole step inside the row and the range
        fb.get(j)
            .i32c(ROW_N as i32)
            .i(I::I32Add)
            .i32c(n)
            .i(I::I32LeS);
        fb.get(g)
            .i32c(ROW_N as i32)
            .i(I::I32Add)
            .get(end)
            .i(I::I32LeS);
        fb.i(I::I32And).if_();
        // the step's width: an axpy chunk of up to CHUNK_N columns (whole
        // steps inside the row and the range) where there is scratch
        // memory, else one step of the row micro-kernel
        let w = l(&mut fb, V::I32);
        let chunks = axpy_ok(mm);
        if chunks {
            let (s, send, bq) = (l(&mut fb, V::I32), l(&mut fb, V::I32), l(&mut fb, V::I32));
            fb.get(end).get(g).i(I::I32Sub).set(w);
            fb.i32c(n).get(j).i(I::I32Sub).set(s);
            fb.get(w)
                .get(s)
                .get(w)
                .get(s)
                .i(I::I32LtS)
                .i(I::Select)
                .set(w);
            fb.get(w).i32c(CHUNK_N as i32).get(w).i32c(CHUNK_N as i32);
            fb.i(I::I32LtS).i(I::Select);
            fb.i32c(-(ROW_N as i32)).i(I::I32And).set(w);
            fb.get(scratch).if_();
            axpy(
                &mut fb,
                mm,
                [pa, pb, i, j, r, aaddr, baddr, scratch, w, s, send, bq, jc],
                &acc,
                epi,
            );
            fb.else_();
        }
        fb.i32c(ROW_N as i32).set(w);
        row_tile(
            &mut fb,
            mm,
            [pa, pb, i, j, r, aaddr, baddr, av],
            [b0, b1, bv2, bv3],
            &acc[..4],
            epi,
        );
        if chunks {
            fb.end();
        }
        fb.get(i).i32c(n).i(I::I32Mul).get(j).i(I::I32Add);
        fb.get(w).i(I::I32Add).set(g);
        fb.else_();
        fb.get(g).get(g).i32c(1).i(I::I32Add).i(I::Call(generic));
        fb.get(g).i32c(1).i(I::I32Add).set(g);
        fb.end();
        fb.i(I::Br(0)).end().end();
        return fb.finish();
    }
    // Not whole rows, or an operand shorter than its index range: generic.
    fb.get(start).i32c(n).i(I::I32RemU);
    fb.get(end).i32c(n).i(I::I32RemU).i(I::I32Or);
    fb.get(la).i32c(mm.a.max as i32).i(I::I32LeU).i(I::I32Or);
    fb.get(lb).i32c(mm.b.max as i32).i(I::I32LeU).i(I::I32Or);
    fb.if_()
        .get(start)
        .get(end)
        .i(I::Call(generic))
        .i(I::Return)
        .end();
    fb.get(start).i32c(n).i(I::I32DivU).set(i0);
    fb.get(end).i32c(n).i(I::I32DivU).set(i1);
    // Whole tiles, a block of NC columns at a time: the block's B panel
    // (K x NC) stays in the L2 cache while every row of the range passes
    // over it, and each row group's A rows stay in L1 across the block.
    let full = (mm.n / TILE_N * TILE_N) as i32;
    let nc = column_block(mm);
    if full > 0 {
        fb.i32c(0).set(jc);
        fb.i(I::Loop(BlockType::Empty));
        fb.get(jc).i32c(nc).i(I::I32Add).tee(jend);
        fb.i32c(full)
            .get(jend)
            .i32c(full)
            .i(I::I32LtS)
            .i(I::Select)
            .set(jend);
        if pack {
            fb.get(scratch).if_();
            pack_panel(&mut fb, mm, [pb, scratch, jc, jend, j, r, aaddr, baddr, b0]);
            fb.end();
        }
        fb.get(i0).set(i);
        fb.i(I::Block(BlockType::Empty))
            .i(I::Loop(BlockType::Empty));
        fb.get(i)
            .i32c(TILE_M as i32)
            .i(I::I32Add)
            .get(i1)
            .i(I::I32GtS)
            .i(I::BrIf(1));
        fb.get(jc).set(j);
        fb.i(I::Loop(BlockType::Empty));
        tile(
            &mut fb,
            mm,
            [
                pa, pb, i, j, r, aaddr, baddr, b0, b1, av, scratch, jc, bstep,
            ],
            &acc,
            epi,
        );
        fb.get(j)
            .i32c(TILE_N as i32)
            .i(I::I32Add)
            .tee(j)
            .get(jend)
            .i(I::I32LtS)
            .i(I::BrIf(0));
        fb.end();
        fb.get(i).i32c(TILE_M as i32).i(I::I32Add).set(i);
        fb.i(I::Br(0)).end().end();
        fb.get(jend).tee(jc).i32c(full).i(I::I32LtS).i(I::BrIf(0));
        fb.end();
    }
    // ragged columns of the whole row groups
    if full < n {
        fb.get(i0).set(i);
        fb.i(I::Block(BlockType::Empty))
            .i(I::Loop(BlockType::Empty));
        fb.get(i)
            .i32c(TILE_M as i32)
            .i(I::I32Add)
            .get(i1)
            .i(I::I32GtS)
            .i(I::BrIf(1));
        for row in 0..TILE_M as i32 {
            fb.get(i).i32c(row).i(I::I32Add).i32c(n).i(I::I32Mul);
            fb.i32c(full).i(I::I32Add);
            fb.get(i)
                .i32c(row + 1)
                .i(I::I32Add)
                .i32c(n)
                .i(I::I32Mul)
                .i(I::Call(generic));
        }
        fb.get(i).i32c(TILE_M as i32).i(I::I32Add).set(i);
        fb.i(I::Br(0)).end().end();
    }
    // ragged rows: those after the last whole group of TILE_M (all of a
    // batch-1 product), one at a time: 16 columns per step of the row
    // micro-kernel where B is contiguous in `j`, the rest generic
    fb.get(i1)
        .get(i1)
        .get(i0)
        .i(I::I32Sub)
        .i32c(TILE_M as i32)
        .i(I::I32RemU)
        .i(I::I32Sub)
        .set(i);
    let wide = if mm.b.cj == 1 {
        (mm.n / ROW_N * ROW_N) as i32
    } else {
        0
    };
    fb.i(I::Block(BlockType::Empty))
        .i(I::Loop(BlockType::Empty));
    fb.get(i).get(i1).i(I::I32GeS).i(I::BrIf(1));
    if wide > 0 {
        fb.i32c(0).set(j);
        fb.i(I::Loop(BlockType::Empty));
        row_tile(
            &mut fb,
            mm,
            [pa, pb, i, j, r, aaddr, baddr, av],
            [b0, b1, bv2, bv3],
            &acc[..4],
            epi,
        );
        fb.get(j)
            .i32c(ROW_N as i32)
            .i(I::I32Add)
            .tee(j)
            .i32c(wide)
            .i(I::I32LtS)
            .i(I::BrIf(0));
        fb.end();
    }
    if wide < n {
        fb.get(i).i32c(n).i(I::I32Mul).i32c(wide).i(I::I32Add);
        fb.get(i).i32c(1).i(I::I32Add).i32c(n).i(I::I32Mul);
        fb.i(I::Call(generic));
    }
    fb.get(i).i32c(1).i(I::I32Add).set(i);
    fb.i(I::Br(0)).end().end();
    fb.finish()
}

/// Columns per step of the one-row micro-kernel: a 64-byte line of B per
/// `ridx` step, so a row-vector product reads each line of B once.
pub const ROW_N: u32 = 16;

/// Whether a kernel has fewer rows than a tile and B contiguous in `j`:
/// then it runs on the row micro-kernel alone, and its threads split the
/// row into steps of [`ROW_N`] columns.
pub fn flat(k: &Kernel, mm: &MatMul) -> bool {
    k.size / mm.n < TILE_M && mm.b.cj == 1
}

/// Closes a loop over `ridx`: `r += 1`, again while `r < k`.
fn next_ridx(fb: &mut Fb, r: u32, k: u32) {
    fb.get(r)
        .i32c(1)
        .i(I::I32Add)
        .tee(r)
        .i32c(k as i32)
        .i(I::I32LtS)
        .i(I::BrIf(0));
    fb.end();
}

/// One row `i` times B's columns `j..j + ROW_N` (B contiguous in `j`, read
/// in place): four f32x4 sums, products and sums in `ridx` order as in the
/// tile.
fn row_tile(fb: &mut Fb, mm: &MatMul, l: [u32; 8], bv: [u32; 4], acc: &[u32], epi: Epilogue) {
    let [pa, pb, i, j, r, aaddr, baddr, av] = l;
    let (a, b) = (mm.a, mm.b);
    start(fb, mm, [pa, pb, i, j, aaddr, baddr], acc);
    fb.i32c(0).set(r);
    fb.i(I::Loop(BlockType::Empty));
    fb.get(aaddr)
        .i(I::F32Load(mem(0, 2)))
        .i(I::F32x4Splat)
        .set(av);
    for (q, &v) in bv.iter().enumerate() {
        fb.get(baddr).i(I::V128Load(mem(16 * q as u64, 2))).set(v);
    }
    for (&x, &v) in acc.iter().zip(&bv) {
        fb.mul_add_f32x4(x, av, v);
    }
    fb.add_i32(aaddr, (a.cr * 4) as i32);
    fb.add_i32(baddr, (b.cr * 4) as i32);
    next_ridx(fb, r, mm.k);
    finish(fb, mm, i, j, acc, epi, 1, (ROW_N / 4) as i32);
}

/// Columns of one chunk of the row-vector kernel ([`axpy`]): its sums
/// (4 KiB) stay in L1 while B's rows stream past.
pub const CHUNK_N: u32 = 1024;
/// Rows of B per pass over a chunk's sums.
const CHUNK_K: u32 = 4;

/// Whether the row-vector kernel can take the product: B contiguous in `j`
/// with rows at increasing addresses (its row offsets are memory
/// immediates) and a chunk's sums fit in the scratch memory.
fn axpy_ok(mm: &MatMul) -> bool {
    mm.b.cj == 1 && mm.b.cr > 0 && CHUNK_N * 4 <= SCRATCH_BYTES
}

/// One row `i` times B's columns `j .. j + w` (`w` whole [`ROW_N`] steps,
/// at most [`CHUNK_N`]) in axpy form: the chunk's sums live in the
/// thread's scratch memory and each pass adds [`CHUNK_K`] rows of B to
/// them, read front to back. A batch-1 product thus streams B's rows in
/// order (the hardware prefetcher's favourite pattern) instead of reading
/// a 64-byte line per row, rows a power-of-two stride apart. Each sum still
/// adds its products in `ridx` order, one rounding each, as the reference.
fn axpy(fb: &mut Fb, mm: &MatMul, l: [u32; 13], acc: &[u32], epi: Epilogue) {
    let [pa, pb, i, j, r, aaddr, baddr, scratch, w, s, send, bq, jq] = l;
    let (a, b) = (mm.a, mm.b);
    let (sums, av) = acc.split_at(4);
    start(fb, mm, [pa, pb, i, j, aaddr, baddr], &[]);
    fb.get(scratch)
        .get(w)
        .i32c(2)
        .i(I::I32Shl)
        .i(I::I32Add)
        .set(send);
    // zero the sums
    fb.get(scratch).set(s);
    fb.i(I::Loop(BlockType::Empty));
    fb.get(s).i(I::V128Const(0)).i(I::V128Store(mem(0, 2)));
    fb.add_i32(s, 16);
    fb.get(s).get(send).i(I::I32LtU).i(I::BrIf(0));
    fb.end();
    // `rows` rows of B from `ridx = r` on, over the chunk
    let pass = |fb: &mut Fb, rows: u32| {
        for (t, &v) in av.iter().take(rows as usize).enumerate() {
            let off = t as i64 * a.cr * 4;
            at(fb, aaddr, off);
            fb.i(I::F32Load(mem(off.max(0) as u64, 2)))
                .i(I::F32x4Splat)
                .set(v);
        }
        fb.get(scratch).set(s);
        fb.get(baddr).set(bq);
        fb.i(I::Loop(BlockType::Empty));
        for (h, &x) in sums.iter().enumerate() {
            fb.get(s).i(I::V128Load(mem(16 * h as u64, 2))).set(x);
        }
        for (t, &v) in av.iter().take(rows as usize).enumerate() {
            for (h, &x) in sums.iter().enumerate() {
                let off = t as u64 * b.cr as u64 * 4 + 16 * h as u64;
                fb.get(x).get(v);
                fb.get(bq).i(I::V128Load(mem(off, 2)));
                fb.i(I::F32x4Mul).i(I::F32x4Add).set(x);
            }
        }
        for (h, &x) in sums.iter().enumerate() {
            fb.get(s).get(x).i(I::V128Store(mem(16 * h as u64, 2)));
        }
        fb.add_i32(s, 64);
        fb.add_i32(bq, 64);
        fb.get(s).get(send).i(I::I32LtU).i(I::BrIf(0));
        fb.end();
        fb.add_i32(aaddr, (rows as i64 * a.cr * 4) as i32);
        fb.add_i32(baddr, (rows as i64 * b.cr * 4) as i32);
    };
    let blocks = mm.k / CHUNK_K * CHUNK_K;
    fb.i32c(0).set(r);
    if blocks > 0 {
        fb.i(I::Loop(BlockType::Empty));
        pass(fb, CHUNK_K);
        fb.get(r)
            .i32c(CHUNK_K as i32)
            .i(I::I32Add)
            .tee(r)
            .i32c(blocks as i32)
            .i(I::I32LtS)
            .i(I::BrIf(0));
        fb.end();
    }
    if blocks < mm.k {
        fb.i(I::Loop(BlockType::Empty));
        pass(fb, 1);
        next_ridx(fb, r, mm.k);
    }
    // the epilogue, four columns at a time
    fb.get(scratch).set(s);
    fb.get(j).set(jq);
    fb.i(I::Loop(BlockType::Empty));
    fb.get(s).i(I::V128Load(mem(0, 2))).set(sums[0]);
    finish(fb, mm, i, jq, &sums[..1], epi, 1, 1);
    fb.add_i32(s, 16);
    fb.add_i32(jq, 4);
    fb.get(s).get(send).i(I::I32LtU).i(I::BrIf(0));
    fb.end();
}

/// Copies B's columns `jc..jend` (whole tiles, all K rows) to the
/// scratch memory: tile by tile, each row's 8 values in 32 bytes, so the
/// micro-kernel then reads one contiguous stream per tile.
fn pack_panel(fb: &mut Fb, mm: &MatMul, l: [u32; 9]) {
    let [pb, scratch, jc, jend, p, r, src, dst, v] = l;
    let b = mm.b;
    fb.get(scratch).set(dst);
    fb.get(jc).set(p);
    fb.i(I::Loop(BlockType::Empty));
    fb.get(pb);
    fb.get(p)
        .i32c(b.c0 as i32)
        .i(I::I32Add)
        .i32c(2)
        .i(I::I32Shl);
    fb.i(I::I32Add).set(src);
    fb.i32c(0).set(r);
    fb.i(I::Loop(BlockType::Empty));
    for h in 0..2u64 {
        fb.get(src).i(I::V128Load(mem(16 * h, 2))).set(v);
        fb.get(dst).get(v).i(I::V128Store(mem(16 * h, 2)));
    }
    fb.add_i32(src, (b.cr * 4) as i32);
    fb.add_i32(dst, 32);
    next_ridx(fb, r, mm.k);
    fb.get(p).i32c(TILE_N as i32).i(I::I32Add).tee(p);
    fb.get(jend).i(I::I32LtS).i(I::BrIf(0));
    fb.end();
}

/// Pushes the address local `base` for an access `off` bytes further: a
/// non-negative `off` goes in the memory immediate (`off.max(0)`), a
/// negative one is added here.
fn at(fb: &mut Fb, base: u32, off: i64) {
    fb.get(base);
    if off < 0 {
        fb.i32c(off as i32).i(I::I32Add);
    }
}

/// Whether the kernel packs its B panels into the thread's scratch memory
/// (B contiguous in `j`, and a column block's panel fits).
pub fn packs(mm: &MatMul) -> bool {
    mm.b.cj == 1 && mm.k as u64 * column_block(mm) as u64 * 4 <= SCRATCH_BYTES as u64
}

/// Whether the module gets a scratch memory per thread: for packed B
/// panels, or for the sums of a row-vector chunk ([`axpy`]).
pub fn uses_scratch(k: &Kernel, mm: &MatMul) -> bool {
    packs(mm) || (flat(k, mm) && axpy_ok(mm))
}

/// Columns per block: the B panel of a block (K x NC f32) fills about
/// half of a typical 1 MiB L2 cache; a multiple of TILE_N.
fn column_block(mm: &MatMul) -> i32 {
    let nc = (128 * 1024 / mm.k.max(1)).clamp(TILE_N, mm.n.max(TILE_N));
    (nc / TILE_N * TILE_N) as i32
}

/// What happens to the finished accumulators of a tile.
#[derive(Clone, Copy)]
enum Epilogue {
    /// `epilogue(gidx, acc)` per element, or per four elements of a row
    /// when `vector`; the sums first stored at the output address in
    /// `stage` and read back one call at a time, where there is one.
    Call {
        f: u32,
        vector: bool,
        stage: Option<u32>,
    },
    /// Vector stores at the output address in this local.
    Store(u32),
}

/// Zeroes a tile's sums and points `aaddr` at A's element (i, 0) and
/// `baddr` at B's (0, j): `p + 4 (c0 + ci i)`, `p + 4 (c0 + cj j)` (row
/// `row` of a group is then `4 ci row` bytes further).
fn start(fb: &mut Fb, mm: &MatMul, l: [u32; 6], acc: &[u32]) {
    let [pa, pb, i, j, aaddr, baddr] = l;
    for &x in acc {
        fb.i(I::V128Const(0)).set(x);
    }
    let (a, b) = (mm.a, mm.b);
    for (p, at, step, c0, addr) in [(pa, i, a.ci, a.c0, aaddr), (pb, j, b.cj, b.c0, baddr)] {
        fb.get(p);
        fb.get(at)
            .i32c(step as i32)
            .i(I::I32Mul)
            .i32c(c0 as i32)
            .i(I::I32Add)
            .i32c(2)
            .i(I::I32Shl)
            .i(I::I32Add)
            .set(addr);
    }
}

/// One TILE_M x TILE_N block at rows i.., columns j...
fn tile(fb: &mut Fb, mm: &MatMul, l: [u32; 13], acc: &[u32], epi: Epilogue) {
    let [
        pa,
        pb,
        i,
        j,
        r,
        aaddr,
        baddr,
        b0,
        b1,
        av,
        scratch,
        jc,
        bstep,
    ] = l;
    let (a, b) = (mm.a, mm.b);
    start(fb, mm, [pa, pb, i, j, aaddr, baddr], acc);
    if packs(mm) {
        // the tile's packed rows: scratch + (j - jc) K 4
        fb.get(scratch).if_();
        fb.get(scratch);
        fb.get(j)
            .get(jc)
            .i(I::I32Sub)
            .i32c(mm.k as i32 * 4)
            .i(I::I32Mul);
        fb.i(I::I32Add).set(baddr);
        fb.end();
    }
    fb.i32c(0).set(r);
    fb.i(I::Loop(BlockType::Empty));
    if b.cj == 1 {
        fb.get(baddr).i(I::V128Load(mem(0, 2))).set(b0);
        fb.get(baddr).i(I::V128Load(mem(16, 2))).set(b1);
    } else {
        for (h, v) in [b0, b1].into_iter().enumerate() {
            fb.i(I::V128Const(0)).set(v);
            for lane in 0..4u8 {
                let col = (4 * h as i64 + lane as i64) * b.cj * 4;
                fb.get(v);
                at(fb, baddr, col);
                fb.i(I::F32Load(mem(col.max(0) as u64, 2)));
                fb.i(I::F32x4ReplaceLane(lane)).set(v);
            }
        }
    }
    for row in 0..TILE_M as usize {
        let off = row as i64 * a.ci * 4;
        at(fb, aaddr, off);
        // f32 load + splat: x86 gets a load and one broadcast (Cranelift
        // turns `v128.load32_splat` into a GPR load, a move and a broadcast)
        fb.i(I::F32Load(mem(off.max(0) as u64, 2)))
            .i(I::F32x4Splat)
            .set(av);
        for (h, bv) in [b0, b1].into_iter().enumerate() {
            fb.mul_add_f32x4(acc[row * 2 + h], av, bv);
        }
    }
    fb.add_i32(aaddr, (a.cr * 4) as i32);
    fb.get(baddr).get(bstep).i(I::I32Add).set(baddr);
    next_ridx(fb, r, mm.k);
    finish(fb, mm, i, j, acc, epi, TILE_M as i32, 2);
}

/// Hands a finished tile's sums (`rows` x `quads` f32x4 accumulators, row
/// major, at rows `i..`, columns `j..`) to the epilogue or stores them.
#[allow(clippy::too_many_arguments)]
fn finish(
    fb: &mut Fb,
    mm: &MatMul,
    i: u32,
    j: u32,
    acc: &[u32],
    epi: Epilogue,
    rows: i32,
    quads: i32,
) {
    // `gidx` of the tile's element (row, col) on the stack
    let gidx = |fb: &mut Fb, row: i32, col: i32| {
        fb.get(i)
            .i32c(row)
            .i(I::I32Add)
            .i32c(mm.n as i32)
            .i(I::I32Mul);
        fb.get(j).i(I::I32Add).i32c(col).i(I::I32Add);
    };
    // its address in the output at `out`
    let addr = |fb: &mut Fb, out: u32, row: i32, col: i32| {
        fb.get(out);
        gidx(fb, row, col);
        fb.i32c(2).i(I::I32Shl).i(I::I32Add);
    };
    let store_only = matches!(epi, Epilogue::Store(_));
    let (epi, vector, stage) = match epi {
        Epilogue::Call { f, vector, stage } => (f, vector, stage),
        Epilogue::Store(out) => (0, true, Some(out)),
    };
    let quad = |row: i32, h: i32| acc[(row * quads + h) as usize];
    if let Some(out) = stage {
        for row in 0..rows {
            for h in 0..quads {
                addr(fb, out, row, 4 * h);
                fb.get(quad(row, h)).i(I::V128Store(mem(0, 2)));
            }
        }
        if store_only {
            return;
        }
    }
    // the epilogue of each element (or four)
    for row in 0..rows {
        for h in 0..quads {
            let lanes: &[i32] = if vector { &[0] } else { &[0, 1, 2, 3] };
            for &lane in lanes {
                gidx(fb, row, 4 * h + lane);
                match stage {
                    Some(out) if vector => {
                        addr(fb, out, row, 4 * h);
                        fb.i(I::V128Load(mem(0, 2)));
                    }
                    Some(out) => {
                        addr(fb, out, row, 4 * h + lane);
                        fb.i(I::F32Load(mem(0, 2)));
                    }
                    None if vector => {
                        fb.get(quad(row, h));
                    }
                    None => {
                        fb.get(quad(row, h)).i(I::F32x4ExtractLane(lane as u8));
                    }
                }
                fb.i(I::Call(epi));
            }
        }
    }
}
