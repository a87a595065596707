//! Whole kernels against the reference: reductions (several accumulators,
//! epilogues, empty loops, the workgroup tree), loads outside their buffer,
//! packed bool/f16 outputs of odd sizes, several outputs, huge 1-D grids,
//! buffers, batching, options and errors.

mod common;

use common::*;
use oxjax_abi::{Backend, DType, ErrorKind, Kernel, KernelBuilder, Op, ReduceOp, Scalar, f16};

fn close(got: &[Scalar], want: &[Scalar], rel: f64) -> Result<(), String> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if same(*g, *w) {
            continue;
        }
        let (a, b) = (g.as_f64(), w.as_f64());
        // rel == 0 means bit-exact (signed zeros included).
        let ok = match g {
            Scalar::F32(_) | Scalar::F16(_) if rel > 0.0 => (a - b).abs() <= rel * b.abs().max(1.0),
            _ => false,
        };
        if !ok {
            return Err(format!("element {i}: got {g:?}, want {w:?}"));
        }
    }
    Ok(())
}

fn data(d: DType, n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let vals: Vec<Scalar> = (0..n)
        .map(|_| match d {
            DType::BOOL => Scalar::Bool(!rng.u32().is_multiple_of(3)),
            DType::I32 => Scalar::I32((rng.u32() % 21) as i32 - 10),
            DType::U32 => Scalar::U32(rng.u32() % 17),
            DType::F16 => Scalar::F16(f16::from_f32(rng.f32_in(-2.0, 2.0))),
            _ => Scalar::F32(rng.f32_in(-2.0, 2.0)),
        })
        .collect();
    bytes(&vals)
}

/// Checks a kernel against the reference, floats within `rel`.
fn check(k: &Kernel, inputs: &[Vec<u8>], rel: f64) {
    let Some(b) = backend() else { return };
    let got = run(b, k, inputs);
    let want = reference(k, inputs);
    for o in 0..k.outputs.len() {
        let d = k.output_dtype(o);
        if let Err(e) = close(&scalars(d, &got[o]), &scalars(d, &want[o]), rel) {
            panic!("output {o}: {e}\n{k}");
        }
    }
}

/// Row reductions of an [m, n] matrix with every reduce op at once, and an
/// epilogue combining them.
fn row_reduce(d: DType, m: usize, n: usize) -> Kernel {
    let mut b = KernelBuilder::new();
    let x = b.input(d);
    let g = b.gidx();
    let r = b.ridx();
    let nn = b.i32(n as i32);
    let row = b.op(Op::MUL, &[g, nn]);
    let idx = b.op(Op::ADD, &[row, r]);
    let v = b.load(x, idx);
    if d == DType::BOOL {
        let all = b.reduce(ReduceOp::MIN, v);
        let any = b.reduce(ReduceOp::MAX, v);
        let both = b.op(Op::XOR, &[all, any]);
        b.output(both);
        b.output(all);
    } else {
        let s = b.reduce(ReduceOp::ADD, v);
        let p = b.reduce(ReduceOp::MUL, v);
        let lo = b.reduce(ReduceOp::MIN, v);
        let hi = b.reduce(ReduceOp::MAX, v);
        let span = b.op(Op::SUB, &[hi, lo]);
        let e = b.op(Op::ADD, &[s, span]);
        b.output(e);
        b.output(p);
        b.output(lo);
    }
    b.finish(m, n)
}

#[test]
fn reductions_every_dtype() {
    for d in [DType::BOOL, DType::I32, DType::U32, DType::F16, DType::F32] {
        for (m, n) in [(1, 1), (7, 5), (33, 64), (5, 3)] {
            let k = row_reduce(d, m, n);
            // Float sums may reassociate (blocks of 16 here, pairwise in
            // the reference); an f16 row of 64 terms that cancels to ~0.2
            // moves by several percent under reordering.
            let rel = if d == DType::F16 { 1e-1 } else { 1e-5 };
            check(&k, &[data(d, m * n, 3)], rel);
        }
    }
}

#[test]
fn reduction_over_nothing_gives_identities() {
    for d in [DType::BOOL, DType::I32, DType::U32, DType::F16, DType::F32] {
        let k = row_reduce(d, 6, 0);
        check(&k, &[data(d, 4, 1)], 0.0);
    }
}

#[test]
fn tree_reduction_small_size_long_loop() {
    // size 3, rsize 10000: one workgroup per output, tree in shared memory.
    for d in [DType::I32, DType::U32, DType::F32] {
        let (m, n) = (3, 10_000);
        let k = row_reduce(d, m, n);
        let src = {
            let Some(b) = backend() else { return };
            let exe = b.compile(&k).unwrap();
            b.source(exe)
        };
        assert!(
            src.contains("var<workgroup>"),
            "expected a tree reduction:\n{src}"
        );
        let mut b = KernelBuilder::new();
        let x = b.input(d);
        let g = b.gidx();
        let r = b.ridx();
        let nn = b.i32(n as i32);
        let row = b.op(Op::MUL, &[g, nn]);
        let idx = b.op(Op::ADD, &[row, r]);
        let v = b.load(x, idx);
        let s = b.reduce(ReduceOp::ADD, v);
        let lo = b.reduce(ReduceOp::MIN, v);
        let hi = b.reduce(ReduceOp::MAX, v);
        let e = b.op(Op::SUB, &[hi, lo]);
        b.output(s);
        b.output(e);
        let k2 = b.finish(m, n);
        check(&k2, &[data(d, m * n, 9)], 1e-4);
        // Mean of a NaN-free row: bias + scale epilogue.
        check(&k, &[data(d, m * n, 10)], 1e-4);
    }
}

#[test]
fn loads_outside_the_buffer_read_zero() {
    for d in [DType::BOOL, DType::I32, DType::F16, DType::F32] {
        let mut b = KernelBuilder::new();
        let x = b.input(d);
        let g = b.gidx();
        let off = b.i32(-3);
        let idx = b.op(Op::ADD, &[g, off]);
        let v = b.load(x, idx);
        b.output(v);
        let k = b.finish(13, 0);
        // 5 elements: indices -3..10 are read, most outside.
        check(&k, &[data(d, 5, 4)], 0.0);
    }
}

#[test]
fn packed_outputs_of_odd_sizes_keep_the_bytes_beyond() {
    let Some(be) = backend() else { return };
    for d in [DType::BOOL, DType::F16] {
        for size in [1usize, 2, 3, 5, 7, 63, 64, 65, 1001] {
            let mut b = KernelBuilder::new();
            let x = b.input(DType::F32);
            let g = b.gidx();
            let v = b.load(x, g);
            let zero = b.constant(Scalar::F32(0.0));
            let o = if d == DType::BOOL {
                b.op(Op::GT, &[v, zero])
            } else {
                b.cast(v, DType::F16)
            };
            b.output(o);
            let k = b.finish(size, 0);
            let input = data(DType::F32, size, size as u64);
            let want = reference(&k, std::slice::from_ref(&input))[0].clone();
            // An output buffer 6 bytes longer than needed, pre-filled.
            let n = size * d.size() + 6;
            let exe = be.compile(&k).unwrap();
            let ib = be.alloc(input.len() as u64).unwrap();
            be.write(ib, 0, &input).unwrap();
            let ob = be.alloc(n as u64).unwrap();
            be.write(ob, 0, &vec![0xA5u8; n]).unwrap();
            be.execute(exe, &[ib], &[ob]).unwrap();
            let got = be.read(ob, 0, n as u64).unwrap();
            assert_eq!(&got[..want.len()], &want[..], "{d} size {size}");
            assert!(
                got[want.len()..].iter().all(|&x| x == 0xA5),
                "{d} size {size}: bytes beyond the output changed: {:?}",
                &got[want.len()..]
            );
            be.free(ib);
            be.free(ob);
        }
    }
}

#[test]
fn several_outputs_of_mixed_dtypes() {
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let y = b.input(DType::I32);
    let g = b.gidx();
    let xv = b.load(x, g);
    let yv = b.load(y, g);
    let yf = b.cast(yv, DType::F32);
    let s = b.op(Op::ADD, &[xv, yf]);
    let z = b.constant(Scalar::F32(0.0));
    let pos = b.op(Op::GT, &[s, z]);
    let h = b.cast(s, DType::F16);
    let i = b.cast(s, DType::I32);
    b.output(s);
    b.output(pos);
    b.output(h);
    b.output(i);
    let k = b.finish(999, 0);
    check(
        &k,
        &[data(DType::F32, 999, 1), data(DType::I32, 999, 2)],
        0.0,
    );
}

#[test]
fn more_than_65535_workgroups() {
    let Some(be) = backend() else { return };
    let wg = oxjax_backend_webgpu::codegen::WG as usize;
    // 65536 workgroups and more: a 2-D dispatch.
    let n = 65536 * wg + 1000;
    let mut b = KernelBuilder::new();
    let g = b.gidx();
    let c = b.i32(3);
    let v = b.op(Op::MUL, &[g, c]);
    b.output(v);
    let k = b.finish(n, 0);
    let out = run(be, &k, &[]);
    let words = words(&out[0]);
    assert_eq!(words.len(), n);
    for (i, &w) in words.iter().enumerate() {
        assert_eq!(w, (i as i32).wrapping_mul(3), "element {i}");
    }
    // Bool outputs (4 per invocation) beyond 65535 workgroups too.
    let n = 65536 * wg * 4 + 3;
    let mut b = KernelBuilder::new();
    let g = b.gidx();
    let seven = b.i32(7);
    let r = b.op(Op::REM, &[g, seven]);
    let zero = b.i32(0);
    let v = b.op(Op::EQ, &[r, zero]);
    b.output(v);
    let k = b.finish(n, 0);
    let out = run(be, &k, &[]);
    assert_eq!(out[0].len(), n);
    for (i, &x) in out[0].iter().enumerate() {
        assert_eq!(x, (i % 7 == 0) as u8, "element {i}");
    }
}

fn words(b: &[u8]) -> Vec<i32> {
    assert_eq!(b.len() % 4, 0);
    b.chunks(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn buffers_unaligned_writes_reads_and_pool_reuse() {
    let Some(be) = backend() else { return };
    let b = be.alloc(11).unwrap();
    assert_eq!(be.read(b, 0, 11).unwrap(), vec![0; 11]);
    be.write(b, 0, &[1; 11]).unwrap();
    be.write(b, 3, &[7, 8, 9]).unwrap();
    be.write(b, 10, &[5]).unwrap();
    assert_eq!(
        be.read(b, 0, 11).unwrap(),
        vec![1, 1, 1, 7, 8, 9, 1, 1, 1, 1, 5]
    );
    assert_eq!(be.read(b, 2, 5).unwrap(), vec![1, 7, 8, 9, 1]);
    // read_into: the same bytes, straight into the caller's slice
    let mut dst = [0u8; 5];
    be.read_into(b, 2, &mut dst).unwrap();
    assert_eq!(dst, [1, 7, 8, 9, 1]);
    let mut over = [0u8; 4];
    assert_eq!(
        be.read_into(b, 9, &mut over).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    assert_eq!(
        be.write(b, 9, &[0; 3]).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    assert_eq!(
        be.read(b, 0, 12).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    be.free(b);
    // A pooled buffer comes back zeroed.
    let c = be.alloc(11).unwrap();
    assert_eq!(be.read(c, 0, 11).unwrap(), vec![0; 11]);
    be.free(c);
    let z = be.alloc(0).unwrap();
    assert_eq!(be.read(z, 0, 0).unwrap(), Vec::<u8>::new());
    be.free(z);
    assert_eq!(
        be.read(oxjax_abi::BufferId(u64::MAX), 0, 1)
            .unwrap_err()
            .kind,
        ErrorKind::INVALID_ARGUMENT
    );
}

#[test]
fn many_kernels_batched_in_order() {
    let Some(be) = backend() else { return };
    let mut b = KernelBuilder::new();
    let x = b.input(DType::I32);
    let g = b.gidx();
    let v = b.load(x, g);
    let one = b.i32(1);
    let w = b.op(Op::ADD, &[v, one]);
    b.output(w);
    let k = b.finish(1000, 0);
    let exe = be.compile(&k).unwrap();
    let bufs = [be.alloc(4000).unwrap(), be.alloc(4000).unwrap()];
    for i in 0..101 {
        be.execute(exe, &[bufs[i % 2]], &[bufs[(i + 1) % 2]])
            .unwrap();
    }
    let out = be.read(bufs[1], 0, 4000).unwrap();
    assert!(words(&out).iter().all(|&x| x == 101));
    // A write after queued kernels lands after them.
    be.execute(exe, &[bufs[1]], &[bufs[0]]).unwrap();
    be.write(bufs[1], 0, &[0u8; 4000]).unwrap();
    be.synchronize().unwrap();
    assert!(
        words(&be.read(bufs[0], 0, 4000).unwrap())
            .iter()
            .all(|&x| x == 102)
    );
    for b in bufs {
        be.free(b);
    }
    be.release(exe);
}

#[test]
fn capabilities_and_source() {
    let Some(be) = backend() else { return };
    let info = be.info();
    assert_eq!(info.name.as_str(), "webgpu");
    let caps = &info.caps;
    assert!(!caps.supports_dtype(DType::F64));
    for d in [DType::BOOL, DType::I32, DType::U32, DType::F16, DType::F32] {
        assert!(caps.supports_dtype(d));
    }
    assert!(
        caps.semantics
            .has(oxjax_abi::Semantics::NONFINITE_UNDEFINED)
    );
    println!("device: {}, semantics {:?}", info.device, caps.semantics);
    let mut b = KernelBuilder::new();
    let g = b.gidx();
    b.output(g);
    let k = b.finish(4, 0);
    let exe = be.compile(&k).unwrap();
    assert!(be.source(exe).contains("@compute"));
    // A second compile of the same kernel hits the pipeline cache.
    let built = be.pipelines_built();
    let exe2 = be.compile(&k.clone()).unwrap();
    assert_eq!(be.pipelines_built(), built);
    assert_eq!(be.source(exe2), be.source(exe));
    be.release(exe);
    be.release(exe2);
}

#[test]
fn bad_options_are_invalid_arguments() {
    for opts in [
        "colour = \"red\"",
        "power_preference = \"medium\"",
        "backends = [\"opengl\"]",
        "backends = \"vulkan\"",
        "backends = []",
        "adapter = 3",
        "native_sort = \"yes\"",
        "this is not toml",
    ] {
        match oxjax_backend_webgpu::new(opts) {
            Err(e) => assert_eq!(e.kind, ErrorKind::INVALID_ARGUMENT, "{opts}: {e}"),
            Ok(_) => panic!("{opts} was accepted"),
        }
    }
    let o = oxjax_backend_webgpu::Options::parse(
        "power_preference = \"low\"\nbackends = [\"vulkan\", \"gl\"]\nadapter = \"llvmpipe\"\n# comment",
    )
    .unwrap();
    assert_eq!(o.backends, vec!["vulkan", "gl"]);
    assert_eq!(o.adapter.as_deref(), Some("llvmpipe"));
}

#[test]
fn no_adapter_is_a_clear_device_error() {
    let cases: &[&str] = if cfg!(target_os = "linux") {
        &[
            "backends = [\"metal\"]",
            "adapter = \"no-such-gpu-anywhere\"",
        ]
    } else {
        &["adapter = \"no-such-gpu-anywhere\""]
    };
    for opts in cases {
        let e = match oxjax_backend_webgpu::new(opts) {
            Err(e) => e,
            Ok(_) => panic!("{opts}: found an adapter"),
        };
        assert_eq!(e.kind, ErrorKind::DEVICE, "{e}");
        let msg = e.message.as_str();
        assert!(msg.contains("tried backends"), "{msg}");
        if cfg!(target_os = "linux") {
            assert!(msg.contains("apt-get install mesa-vulkan-drivers"), "{msg}");
        }
        println!("{msg}");
    }
}

#[test]
fn execute_checks_its_arguments() {
    let Some(be) = backend() else { return };
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let g = b.gidx();
    let v = b.load(x, g);
    b.output(v);
    let k = b.finish(8, 0);
    let exe = be.compile(&k).unwrap();
    let i = be.alloc(32).unwrap();
    let small = be.alloc(16).unwrap();
    assert_eq!(
        be.execute(exe, &[], &[small]).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    assert_eq!(
        be.execute(exe, &[i], &[small]).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    assert_eq!(
        be.execute(oxjax_abi::ExecutableId(999_999), &[i], &[i])
            .unwrap_err()
            .kind,
        ErrorKind::INVALID_ARGUMENT
    );
    be.free(i);
    be.free(small);
    // f64 is refused at compile time.
    let mut b = KernelBuilder::new();
    let c = b.constant(Scalar::F64(1.0));
    b.output(c);
    let k = b.finish(1, 0);
    assert_eq!(be.compile(&k).unwrap_err().kind, ErrorKind::UNSUPPORTED);
}

/// The driver may not fold or reassociate float arithmetic: `x * 0.0` keeps
/// the sign of x, `0.0 + x` rounds -0 to +0, `(x + y) - y` rounds twice, and
/// `x * y + z` is not fused.
#[test]
fn float_arithmetic_is_not_folded_or_reassociated() {
    let mut b = KernelBuilder::new();
    let xi = b.input(DType::F32);
    let yi = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(xi, g);
    let y = b.load(yi, g);
    let zero = b.constant(Scalar::F32(0.0));
    let t0 = b.op(Op::MUL, &[x, zero]);
    let t1 = b.op(Op::ADD, &[zero, x]);
    let s = b.op(Op::ADD, &[x, y]);
    let t2 = b.op(Op::SUB, &[s, y]);
    let p = b.op(Op::MUL, &[x, y]);
    let t3 = b.op(Op::ADD, &[p, y]);
    let h = b.cast(x, DType::F16);
    let hz = b.constant(Scalar::F16(f16::from_f32(0.0)));
    let t4 = b.op(Op::MUL, &[h, hz]);
    b.output(t0);
    b.output(t1);
    b.output(t2);
    b.output(t3);
    b.output(t4);
    let k = b.finish(4, 0);
    let xs = bytes(&[-2.5f32, -0.0, 1e-8, 1.0 + f32::EPSILON].map(Scalar::F32));
    let ys = bytes(&[1.0f32, 3.0, 1.0, 1.0 - f32::EPSILON / 2.0].map(Scalar::F32));
    check(&k, &[xs, ys], 0.0);
    // A sum starting at +0 over [-0.0] is +0.
    let mut b = KernelBuilder::new();
    let xi = b.input(DType::F32);
    let r = b.ridx();
    let x = b.load(xi, r);
    let s = b.reduce(ReduceOp::ADD, x);
    b.output(s);
    let k = b.finish(1, 1);
    check(&k, &[bytes(&[Scalar::F32(-0.0)])], 0.0);
}
