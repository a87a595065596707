//! Matmul-shaped reductions: recognition and a tiled kernel.
//!
//! A kernel qualifies when [`oxjax_abi::analysis::matmul`] recognises it:
//! its only reduction is an `add` over `mul(X, Y)` (i32, u32 or f32; the
//! operands in either order) and, for some row length `N` and matrix
//! size `M·N`, the output index `gidx = b·M·N + i·N + j` splits so that
//! X's index expression reads `gidx` only through `gidx / c` with `c` a
//! multiple of `N` (so X depends on the batch `b` and row `i`, never on the
//! column `j`) and Y's only through `gidx % c` with `c` dividing `N` or
//! `gidx / c` with `c` a multiple of `M·N` (so Y depends on `b` and `j`,
//! never on `i`). These are checked on the IR, not guessed: X and Y may be
//! any expressions of loads, constants, `gidx` and `ridx` (casts, views,
//! padding masks), and they are evaluated with the IR's own code.
//!
//! The kernel: workgroups of 16×16 invocations, each computing a 4×4 block
//! of a 64×64 output tile (rows `ty + 16·ii`, columns `tx + 16·jj`, so that
//! neighbouring invocations read neighbouring words); X and Y tiles of
//! depth 16 are staged in workgroup memory. Every output element still sums
//! its products in `ridx` order, like the reference. Outputs must be 4-byte
//! dtypes (packed bool/f16 outputs use the generic path).

use crate::codegen::{Emitter, Generated, Mode, PROLOGUE, ty};
use oxjax_abi::analysis::{self, closure};
use oxjax_abi::{DType, Kernel};
use std::fmt::Write;

/// Output tile edge and reduction tile depth.
const TILE: u32 = 64;
const TK: u32 = 16;

/// The recognised structure.
struct Shape {
    m: u32,
    n: u32,
    batches: u32,
    x: u32,
    y: u32,
    /// The nodes the outputs need.
    epilogue: Vec<bool>,
}

/// The shared [`analysis::matmul`] description, within what the tiles
/// take: 4-byte product and outputs, a reduction at least one tile deep,
/// matrices of at least 16 x 16 and a grid within the dispatch limits.
fn recognise(k: &Kernel) -> Option<Shape> {
    if k.rsize < TK || (0..k.outputs.len()).any(|o| k.output_dtype(o).size() != 4) {
        return None;
    }
    let mm = analysis::matmul(k)?;
    if !matches!(mm.dtype, DType::F32 | DType::I32 | DType::U32)
        || mm.m < 16
        || mm.n < 16
        || mm.m / TILE >= 65535
        || mm.batch > 65535
    {
        return None;
    }
    Some(Shape {
        m: mm.m,
        n: mm.n,
        batches: mm.batch,
        x: mm.a.node,
        y: mm.b.node,
        epilogue: mm.epilogue,
    })
}

/// `let` statements for the nodes in `set`, in arena order.
fn stmts(e: &mut Emitter, set: &[bool], indent: &str) -> String {
    let mut s = String::new();
    for (i, &inside) in set.iter().enumerate() {
        if inside {
            let d = e.k.nodes[i].dtype;
            let ex = e.expr(i);
            let _ = writeln!(s, "{indent}let v{i}: {} = {ex};", ty(d));
        }
    }
    s
}

/// Whether tiling is on: `OXJAX_WEBGPU_TILING=0` turns it off (to compare
/// against the generic kernel).
fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("OXJAX_WEBGPU_TILING").map_or(true, |v| v != "0"))
}

pub fn generate(k: &Kernel) -> Option<Generated> {
    if !enabled() {
        return None;
    }
    let sh = recognise(k)?;
    let t = ty(k.nodes[k.reductions[0].body as usize].dtype);
    let (m, n, kk, mn) = (sh.m, sh.n, k.rsize, sh.m * sh.n);
    let mut e = Emitter::new(k);
    let mut s = String::new();
    // Operand loaders and the epilogue as functions of (gidx, ridx) / acc.
    let _ = writeln!(s, "fn tile_x(gidx: i32, ridx: i32) -> {t} {{");
    s.push_str(&stmts(&mut e, &closure(k, &[sh.x]), "    "));
    let _ = writeln!(s, "    return v{};\n}}", sh.x);
    let _ = writeln!(s, "fn tile_y(gidx: i32, ridx: i32) -> {t} {{");
    s.push_str(&stmts(&mut e, &closure(k, &[sh.y]), "    "));
    let _ = writeln!(s, "    return v{};\n}}", sh.y);
    s.push_str("struct Outs {\n");
    for o in 0..k.outputs.len() {
        let _ = writeln!(s, "    o{o}: {},", ty(k.output_dtype(o)));
    }
    s.push_str("}\n");
    let _ = writeln!(s, "fn epilogue(gidx: i32, acc0: {t}) -> Outs {{");
    s.push_str(&stmts(&mut e, &sh.epilogue, "    "));
    let outs: Vec<String> = k.outputs.iter().map(|o| format!("v{o}")).collect();
    let _ = writeln!(s, "    return Outs({});\n}}", outs.join(", "));

    let _ = writeln!(s, "var<workgroup> xs: array<{t}, {}>;", TILE * TK);
    let _ = writeln!(s, "var<workgroup> ys: array<{t}, {}>;", TILE * TK);
    let _ = writeln!(
        s,
        "@compute @workgroup_size(16, 16)\nfn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {{"
    );
    s.push_str(PROLOGUE);
    let _ = writeln!(
        s,
        "    let row0 = wg.y * {TILE}u;\n    let col0 = wg.x * {TILE}u;"
    );
    let _ = writeln!(s, "    let base = i32(wg.z * {mn}u);");
    for a in 0..16 {
        let _ = writeln!(s, "    var c{a}: {t} = {t}();");
    }
    let _ = writeln!(
        s,
        "    for (var k0: u32 = 0u; k0 < {kk}u; k0 = k0 + {TK}u) {{"
    );
    // Stage the tiles: 1024 elements each, 4 per invocation.
    let _ = writeln!(s, "        for (var q = 0u; q < 4u; q = q + 1u) {{");
    let _ = writeln!(s, "            let el = li + 256u * q;");
    let _ = writeln!(
        s,
        "            let xr = el / {TK}u;\n            let xk = el % {TK}u;\n            var xv: {t} = {t}();"
    );
    let _ = writeln!(
        s,
        "            if (row0 + xr < {m}u && k0 + xk < {kk}u) {{ xv = tile_x(base + i32((row0 + xr) * {n}u), i32(k0 + xk)); }}"
    );
    let _ = writeln!(s, "            xs[xk * {TILE}u + xr] = xv;");
    let _ = writeln!(
        s,
        "            let yc = el % {TILE}u;\n            let yk = el / {TILE}u;\n            var yv: {t} = {t}();"
    );
    let _ = writeln!(
        s,
        "            if (col0 + yc < {n}u && k0 + yk < {kk}u) {{ yv = tile_y(base + i32(col0 + yc), i32(k0 + yk)); }}"
    );
    let _ = writeln!(s, "            ys[yk * {TILE}u + yc] = yv;");
    s.push_str("        }\n        workgroupBarrier();\n");
    let _ = writeln!(s, "        for (var kq = 0u; kq < {TK}u; kq = kq + 1u) {{");
    for ii in 0..4 {
        let _ = writeln!(
            s,
            "            let a{ii} = xs[kq * {TILE}u + lid.y + {}u];",
            16 * ii
        );
    }
    for jj in 0..4 {
        let _ = writeln!(
            s,
            "            let b{jj} = ys[kq * {TILE}u + lid.x + {}u];",
            16 * jj
        );
    }
    for ii in 0..4 {
        for jj in 0..4 {
            let c = ii * 4 + jj;
            let _ = writeln!(s, "            c{c} = c{c} + a{ii} * b{jj};");
        }
    }
    s.push_str("        }\n        workgroupBarrier();\n    }\n");
    for ii in 0..4 {
        for jj in 0..4 {
            let c = ii * 4 + jj;
            let _ = writeln!(
                s,
                "    {{\n        let i = row0 + lid.y + {}u;\n        let j = col0 + lid.x + {}u;",
                16 * ii,
                16 * jj
            );
            let _ = writeln!(s, "        if (i < {m}u && j < {n}u) {{");
            let _ = writeln!(s, "            let g = base + i32(i * {n}u + j);");
            let _ = writeln!(s, "            let r = epilogue(g, c{c});");
            for o in 0..k.outputs.len() {
                let bits = e.store_bits(k.output_dtype(o), &format!("r.o{o}"));
                let _ = writeln!(s, "            out{o}[u32(g)] = {bits};");
            }
            s.push_str("        }\n    }\n");
        }
    }
    s.push_str("}\n");
    let groups = [n.div_ceil(TILE), m.div_ceil(TILE), sh.batches];
    Some(Generated {
        wgsl: e.finish(&s),
        mode: Mode::Tiled { groups },
    })
}
