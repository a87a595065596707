//! Semantics tests of the reference backend: single ops on their edge cases,
//! hand-built kernels run through the `Backend` trait, routines, and errors.

use oxjax_abi::{
    Backend, BackendError, BufferId, DType, ErrorKind, ExecutableId, Kernel, KernelBuilder, NO_ARG,
    Node, Op, ReduceOp, Reduction, Routine, RoutineKind, Scalar, TensorDesc, f16,
};
use oxjax_reference::{ReferenceBackend, eval, new, run_kernel, run_routine};

// ---- helpers -------------------------------------------------------------

fn backend() -> ReferenceBackend {
    new("").expect("empty options")
}

fn bytes(values: &[Scalar]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        let mut b = [0u8; 8];
        v.write(&mut b);
        out.extend_from_slice(&b[..v.dtype().size()]);
    }
    out
}

fn scalars(dtype: DType, data: &[u8]) -> Vec<Scalar> {
    data.chunks_exact(dtype.size())
        .map(|c| Scalar::read(dtype, c))
        .collect()
}

fn f32s(values: &[f32]) -> Vec<Scalar> {
    values.iter().map(|&v| Scalar::F32(v)).collect()
}

fn i32s(values: &[i32]) -> Vec<Scalar> {
    values.iter().map(|&v| Scalar::I32(v)).collect()
}

/// Compares scalars bit for bit (so NaN equals NaN and -0 differs from +0).
fn assert_bits(got: &[Scalar], want: &[Scalar]) {
    let g: Vec<_> = got.iter().map(|s| (s.dtype(), s.to_bits())).collect();
    let w: Vec<_> = want.iter().map(|s| (s.dtype(), s.to_bits())).collect();
    assert_eq!(g, w, "\n got: {got:?}\nwant: {want:?}");
}

/// Runs a kernel through the `Backend` trait: alloc, write, compile,
/// execute, read back, free.
fn run(kernel: &Kernel, inputs: &[Vec<Scalar>]) -> Vec<Vec<Scalar>> {
    let b = backend();
    let ins: Vec<BufferId> = inputs
        .iter()
        .map(|values| {
            let data = bytes(values);
            let id = b.alloc(data.len() as u64).unwrap();
            b.write(id, 0, &data).unwrap();
            id
        })
        .collect();
    let outs: Vec<BufferId> = (0..kernel.outputs.len())
        .map(|k| {
            let n = kernel.size as usize * kernel.output_dtype(k).size();
            b.alloc(n as u64).unwrap()
        })
        .collect();
    let exe = b.compile(kernel).unwrap();
    b.execute(exe, &ins, &outs).unwrap();
    b.synchronize().unwrap();
    let result = outs
        .iter()
        .enumerate()
        .map(|(k, &id)| {
            let n = kernel.size as u64 * kernel.output_dtype(k).size() as u64;
            scalars(kernel.output_dtype(k), &b.read(id, 0, n).unwrap())
        })
        .collect();
    b.release(exe);
    for id in ins.into_iter().chain(outs) {
        b.free(id);
    }
    result
}

fn op1(op: Op, x: Scalar) -> Scalar {
    eval::apply(op, x.dtype(), &[x], 0)
}

fn op2(op: Op, x: Scalar, y: Scalar) -> Scalar {
    let dtype = match op.info().unwrap().result {
        oxjax_abi::ResultType::Bool => DType::BOOL,
        _ => x.dtype(),
    };
    eval::apply(op, dtype, &[x, y], 0)
}

fn cast(x: Scalar, to: DType) -> Scalar {
    eval::apply(Op::CAST, to, &[x], 0)
}

use Scalar::{Bool, F16, F32, F64, I32, U32};

// ---- integer ops ---------------------------------------------------------

#[test]
fn idiv_edge_cases() {
    assert_eq!(op2(Op::IDIV, I32(7), I32(0)), I32(-1));
    assert_eq!(op2(Op::IDIV, I32(-7), I32(0)), I32(-1));
    assert_eq!(op2(Op::IDIV, U32(7), U32(0)), U32(u32::MAX));
    assert_eq!(op2(Op::IDIV, I32(i32::MIN), I32(-1)), I32(i32::MIN));
    assert_eq!(op2(Op::IDIV, I32(-7), I32(2)), I32(-3));
    assert_eq!(op2(Op::IDIV, I32(7), I32(-2)), I32(-3));
    assert_eq!(op2(Op::IDIV, U32(u32::MAX), U32(2)), U32(u32::MAX / 2));
}

#[test]
fn rem_edge_cases() {
    assert_eq!(op2(Op::REM, I32(7), I32(0)), I32(7));
    assert_eq!(op2(Op::REM, U32(7), U32(0)), U32(7));
    assert_eq!(op2(Op::REM, I32(i32::MIN), I32(-1)), I32(0));
    assert_eq!(op2(Op::REM, I32(-7), I32(2)), I32(-1));
    assert_eq!(op2(Op::REM, I32(7), I32(-2)), I32(1));
    // Floats: C fmod, the sign of the dividend.
    assert_eq!(op2(Op::REM, F32(-7.5), F32(2.0)), F32(-1.5));
    assert_eq!(op2(Op::REM, F64(7.5), F64(-2.0)), F64(1.5));
    assert_eq!(op2(Op::REM, F32(5.0), F32(f32::INFINITY)), F32(5.0));
    assert_bits(&[op2(Op::REM, F32(-4.0), F32(2.0))], &[F32(-0.0)]);
    assert!(matches!(op2(Op::REM, F32(1.0), F32(0.0)), F32(v) if v.is_nan()));
}

#[test]
fn integer_arithmetic_wraps() {
    assert_eq!(op2(Op::ADD, I32(i32::MAX), I32(1)), I32(i32::MIN));
    assert_eq!(op2(Op::SUB, U32(0), U32(1)), U32(u32::MAX));
    assert_eq!(op2(Op::MUL, I32(65536), I32(65536)), I32(0));
    assert_eq!(op1(Op::NEG, I32(i32::MIN)), I32(i32::MIN));
    assert_eq!(op1(Op::NEG, U32(1)), U32(u32::MAX));
    assert_eq!(op1(Op::ABS, I32(i32::MIN)), I32(i32::MIN));
    assert_eq!(op1(Op::ABS, I32(-5)), I32(5));
    assert_eq!(op1(Op::ABS, U32(u32::MAX)), U32(u32::MAX));
    assert_eq!(op1(Op::NOT, I32(0)), I32(-1));
    assert_eq!(op1(Op::NOT, U32(1)), U32(u32::MAX - 1));
    assert_eq!(op1(Op::NOT, Bool(true)), Bool(false));
}

#[test]
fn shifts() {
    assert_eq!(op2(Op::SHL, I32(1), I32(31)), I32(i32::MIN));
    assert_eq!(op2(Op::SHL, I32(1), I32(32)), I32(0));
    assert_eq!(op2(Op::SHL, I32(1), I32(-1)), I32(0));
    assert_eq!(op2(Op::SHL, U32(1), U32(32)), U32(0));
    assert_eq!(op2(Op::SHL, U32(3), U32(1)), U32(6));
    assert_eq!(op2(Op::SHR, I32(-8), I32(1)), I32(-4));
    assert_eq!(op2(Op::SHR, I32(-8), I32(32)), I32(-1));
    assert_eq!(op2(Op::SHR, I32(-8), I32(-1)), I32(-1));
    assert_eq!(op2(Op::SHR, I32(8), I32(32)), I32(0));
    assert_eq!(op2(Op::SHR, I32(8), I32(-1)), I32(0));
    assert_eq!(op2(Op::SHR, U32(0x8000_0000), U32(31)), U32(1));
    assert_eq!(op2(Op::SHR, U32(u32::MAX), U32(32)), U32(0));
}

#[test]
fn sign() {
    assert_eq!(op1(Op::SIGN, I32(-5)), I32(-1));
    assert_eq!(op1(Op::SIGN, I32(0)), I32(0));
    assert_eq!(op1(Op::SIGN, I32(i32::MIN)), I32(-1));
    assert_eq!(op1(Op::SIGN, U32(0)), U32(0));
    assert_eq!(op1(Op::SIGN, U32(7)), U32(1));
    assert_bits(
        &[
            op1(Op::SIGN, F32(-3.5)),
            op1(Op::SIGN, F32(0.0)),
            op1(Op::SIGN, F32(-0.0)),
            op1(Op::SIGN, F64(f64::NEG_INFINITY)),
            op1(Op::SIGN, F16(f16::from_f32(-0.0))),
            op1(Op::SIGN, F16(f16::from_f32(1e-7))),
        ],
        &[
            F32(-1.0),
            F32(0.0),
            F32(-0.0),
            F64(-1.0),
            F16(f16::from_f32(-0.0)),
            F16(f16::from_f32(1.0)),
        ],
    );
    assert!(matches!(op1(Op::SIGN, F32(f32::NAN)), F32(v) if v.is_nan()));
}

// ---- float ops -----------------------------------------------------------

#[test]
fn min_max_nan_and_signed_zero() {
    for (x, y) in [(f32::NAN, 1.0), (1.0, f32::NAN), (f32::NAN, f32::NAN)] {
        assert!(matches!(op2(Op::MIN, F32(x), F32(y)), F32(v) if v.is_nan()));
        assert!(matches!(op2(Op::MAX, F32(x), F32(y)), F32(v) if v.is_nan()));
    }
    assert!(matches!(op2(Op::MAX, F64(f64::NAN), F64(f64::INFINITY)), F64(v) if v.is_nan()));
    assert_bits(
        &[
            op2(Op::MIN, F32(0.0), F32(-0.0)),
            op2(Op::MIN, F32(-0.0), F32(0.0)),
            op2(Op::MAX, F32(0.0), F32(-0.0)),
            op2(Op::MAX, F32(-0.0), F32(0.0)),
            op2(Op::MIN, F64(-0.0), F64(0.0)),
            op2(Op::MAX, F64(0.0), F64(-0.0)),
            op2(Op::MIN, F32(2.0), F32(-3.0)),
            op2(Op::MAX, F32(2.0), F32(-3.0)),
        ],
        &[
            F32(-0.0),
            F32(-0.0),
            F32(0.0),
            F32(0.0),
            F64(-0.0),
            F64(0.0),
            F32(-3.0),
            F32(2.0),
        ],
    );
    assert_eq!(op2(Op::MIN, Bool(true), Bool(false)), Bool(false));
    assert_eq!(op2(Op::MAX, Bool(true), Bool(false)), Bool(true));
    assert_eq!(op2(Op::MIN, I32(-2), I32(1)), I32(-2));
    assert_eq!(op2(Op::MAX, U32(u32::MAX), U32(1)), U32(u32::MAX));
}

#[test]
fn comparisons_are_ieee() {
    let nan = F32(f32::NAN);
    for op in [Op::LT, Op::LE, Op::GT, Op::GE, Op::EQ] {
        assert_eq!(op2(op, nan, nan), Bool(false), "{op}");
        assert_eq!(op2(op, nan, F32(1.0)), Bool(false), "{op}");
    }
    assert_eq!(op2(Op::NE, nan, nan), Bool(true));
    assert_eq!(op2(Op::EQ, F32(-0.0), F32(0.0)), Bool(true));
    assert_eq!(op2(Op::LT, F32(-0.0), F32(0.0)), Bool(false));
    assert_eq!(op2(Op::LE, F16(f16::ONE), F16(f16::ONE)), Bool(true));
    assert_eq!(op2(Op::LT, Bool(false), Bool(true)), Bool(true));
    assert_eq!(op2(Op::GT, U32(u32::MAX), U32(0)), Bool(true));
    assert_eq!(op2(Op::GT, I32(-1), I32(0)), Bool(false));
}

#[test]
fn round_ties_to_even() {
    let r = |x: f32| op1(Op::ROUND, F32(x));
    assert_bits(
        &[r(0.5), r(1.5), r(2.5), r(-0.5), r(-1.5), r(-2.5), r(2.6)],
        &f32s(&[0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 3.0]),
    );
    assert_eq!(op1(Op::ROUND, F64(2.5)), F64(2.0));
    assert_eq!(op1(Op::ROUND, F64(3.5)), F64(4.0));
    assert_eq!(op1(Op::TRUNC, F32(-3.7)), F32(-3.0));
    assert_eq!(op1(Op::FLOOR, F32(-3.2)), F32(-4.0));
    assert_eq!(op1(Op::CEIL, F64(-3.7)), F64(-3.0));
}

#[test]
fn f16_computes_in_f32_and_rounds() {
    let h = |x: f32| F16(f16::from_f32(x));
    // The f16 ulp at 1 is 2^-10: adding half an ulp is a tie, to even.
    assert_eq!(op2(Op::ADD, h(1.0), h(2f32.powi(-11))), h(1.0));
    let odd = 1.0 + 2f32.powi(-10);
    assert_eq!(
        op2(Op::ADD, h(odd), h(2f32.powi(-11))),
        h(1.0 + 2f32.powi(-9))
    );
    assert_eq!(op1(Op::EXP, h(1.0)), h(2.71875));
    assert_eq!(op2(Op::MUL, h(300.0), h(300.0)), h(f32::INFINITY));
    assert_eq!(op2(Op::DIV, h(1.0), h(3.0)), h(1.0 / 3.0));
    assert_eq!(op1(Op::ISINF, h(70000.0)), Bool(true));
    assert_eq!(op1(Op::ISNAN, F16(f16::NAN)), Bool(true));
    assert_eq!(op1(Op::ISNAN, h(1.0)), Bool(false));
}

#[test]
fn transcendentals_use_libm() {
    assert_eq!(op1(Op::EXP, F32(1.0)), F32(libm::expf(1.0)));
    assert_eq!(op1(Op::SIN, F64(1.0)), F64(libm::sin(1.0)));
    assert_eq!(op1(Op::ERF, F32(0.5)), F32(libm::erff(0.5)));
    assert_eq!(op1(Op::ERFC, F64(3.0)), F64(libm::erfc(3.0)));
    assert_eq!(op1(Op::LOG, F32(0.0)), F32(f32::NEG_INFINITY));
    assert!(matches!(op1(Op::LOG, F32(-1.0)), F32(v) if v.is_nan()));
    assert_eq!(op1(Op::LOG2, F64(8.0)), F64(3.0));
    assert_eq!(op1(Op::EXP2, F32(10.0)), F32(1024.0));
    assert_eq!(op1(Op::SQRT, F32(9.0)), F32(3.0));
    assert_eq!(op1(Op::RSQRT, F64(4.0)), F64(0.5));
    assert_eq!(op1(Op::RECIP, F32(0.0)), F32(f32::INFINITY));
    assert_eq!(op1(Op::RECIP, F32(-0.0)), F32(f32::NEG_INFINITY));
    assert_eq!(op1(Op::LOG1P, F64(1e-20)), F64(1e-20));
    assert_eq!(op1(Op::EXPM1, F32(1e-20)), F32(1e-20));
    // pow(x, 0) is 1 even for NaN; atan2 takes (y, x).
    assert_eq!(op2(Op::POW, F32(f32::NAN), F32(0.0)), F32(1.0));
    assert_eq!(op2(Op::POW, F64(2.0), F64(10.0)), F64(1024.0));
    assert_eq!(
        op2(Op::ATAN2, F64(1.0), F64(0.0)),
        F64(std::f64::consts::FRAC_PI_2)
    );
    assert_eq!(
        op2(Op::ATAN2, F32(0.0), F32(-1.0)),
        F32(std::f32::consts::PI)
    );
    assert_bits(&[op1(Op::ABS, F32(-0.0))], &[F32(0.0)]);
    assert_bits(&[op1(Op::NEG, F64(0.0))], &[F64(-0.0)]);
    assert_eq!(op2(Op::DIV, F32(1.0), F32(-0.0)), F32(f32::NEG_INFINITY));
}

// ---- cast, bitcast, select -----------------------------------------------

#[test]
fn casts() {
    assert_eq!(cast(F32(f32::NAN), DType::I32), I32(0));
    assert_eq!(cast(F64(f64::NAN), DType::U32), U32(0));
    assert_eq!(cast(F32(3e9), DType::I32), I32(i32::MAX));
    assert_eq!(cast(F32(-3e9), DType::I32), I32(i32::MIN));
    assert_eq!(cast(F32(f32::INFINITY), DType::I32), I32(i32::MAX));
    assert_eq!(cast(F64(5e9), DType::U32), U32(u32::MAX));
    assert_eq!(cast(F32(-1.0), DType::U32), U32(0));
    assert_eq!(cast(F32(3.7), DType::I32), I32(3));
    assert_eq!(cast(F32(-3.7), DType::I32), I32(-3));
    assert_eq!(cast(F16(f16::from_f32(-3.7)), DType::I32), I32(-3));
    assert_eq!(cast(F32(f32::NAN), DType::BOOL), Bool(true));
    assert_eq!(cast(F32(-0.0), DType::BOOL), Bool(false));
    assert_eq!(cast(F64(0.25), DType::BOOL), Bool(true));
    assert_eq!(cast(I32(-2), DType::BOOL), Bool(true));
    assert_eq!(cast(U32(0), DType::BOOL), Bool(false));
    assert_eq!(cast(Bool(true), DType::F32), F32(1.0));
    assert_eq!(cast(Bool(true), DType::I32), I32(1));
    assert_eq!(cast(I32(-1), DType::U32), U32(u32::MAX));
    assert_eq!(cast(U32(u32::MAX), DType::I32), I32(-1));
    assert_eq!(cast(I32(16_777_217), DType::F32), F32(16_777_216.0));
    assert_eq!(cast(U32(u32::MAX), DType::F32), F32(4_294_967_296.0));
    assert_eq!(
        cast(F64(65520.0), DType::F16),
        F16(f16::from_f32(f32::INFINITY))
    );
    assert_eq!(cast(F64(1.0 + 1e-10), DType::F32), F32(1.0));
    assert_eq!(cast(F16(f16::from_f32(0.5)), DType::F64), F64(0.5));
}

#[test]
fn bitcasts_and_select() {
    assert_eq!(
        eval::apply(Op::BITCAST, DType::U32, &[F32(1.0)], 0),
        U32(0x3f80_0000)
    );
    assert_eq!(
        eval::apply(Op::BITCAST, DType::I32, &[U32(u32::MAX)], 0),
        I32(-1)
    );
    assert_eq!(
        eval::apply(Op::BITCAST, DType::F32, &[I32(0x4000_0000)], 0),
        F32(2.0)
    );
    let sel = |c| eval::apply(Op::SELECT, DType::I32, &[Bool(c), I32(1), I32(2)], 0);
    assert_eq!((sel(true), sel(false)), (I32(1), I32(2)));
}

#[test]
#[should_panic(expected = "not defined")]
fn apply_rejects_ops_outside_their_domain() {
    op2(Op::ADD, Bool(true), Bool(true));
}

// ---- threefry --------------------------------------------------------------

#[test]
fn threefry_known_answers() {
    // Random123's known-answer tests for threefry2x32_20.
    let cases = [
        ([0, 0], [0, 0], [0x6b20_0159, 0x99ba_4efe]),
        (
            [0xffff_ffff, 0xffff_ffff],
            [0xffff_ffff, 0xffff_ffff],
            [0x1cb9_96fc, 0xbb00_2be7],
        ),
        (
            [0x1319_8a2e, 0x0370_7344],
            [0x243f_6a88, 0x85a3_08d3],
            [0xc492_3a9c, 0x483d_f7a0],
        ),
    ];
    for (key, counter, want) in cases {
        assert_eq!(eval::threefry2x32(key, counter), want);
        let args = [U32(key[0]), U32(key[1]), U32(counter[0]), U32(counter[1])];
        for (word, &w) in want.iter().enumerate() {
            let got = eval::apply(Op::THREEFRY2X32, DType::U32, &args, word as u64);
            assert_eq!(got, U32(w));
        }
    }
}

#[test]
fn combine_follows_the_binary_ops() {
    assert_eq!(
        eval::combine(ReduceOp::ADD, I32(i32::MAX), I32(1)),
        I32(i32::MIN)
    );
    assert!(matches!(
        eval::combine(ReduceOp::MAX, F32(f32::NAN), F32(1.0)),
        F32(v) if v.is_nan()
    ));
    assert_bits(
        &[eval::combine(ReduceOp::MIN, F32(0.0), F32(-0.0))],
        &[F32(-0.0)],
    );
    assert_eq!(
        eval::combine(ReduceOp::MIN, Bool(true), Bool(false)),
        Bool(false)
    );
    assert_eq!(eval::combine(ReduceOp::MUL, U32(3), U32(5)), U32(15));
}

// ---- kernels ---------------------------------------------------------------

#[test]
fn broadcast_add() {
    // out[i, j] = x[i, j] + y[j] for x: [2, 3], y: [3].
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let y = b.input(DType::F32);
    let g = b.gidx();
    let three = b.i32(3);
    let j = b.op(Op::REM, &[g, three]);
    let xv = b.load(x, g);
    let yv = b.load(y, j);
    let sum = b.op(Op::ADD, &[xv, yv]);
    b.output(sum);
    let k = b.finish(6, 0);
    let out = run(
        &k,
        &[
            f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            f32s(&[10.0, 20.0, 30.0]),
        ],
    );
    assert_bits(&out[0], &f32s(&[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]));
}

#[test]
fn matmul_as_reduction() {
    // c[i, j] = sum_r a[i, r] * b[r, j], a: [2, 3], b: [3, 2].
    let mut kb = KernelBuilder::new();
    let a = kb.input(DType::F32);
    let bm = kb.input(DType::F32);
    let g = kb.gidx();
    let r = kb.ridx();
    let (two, three) = (kb.i32(2), kb.i32(3));
    let i = kb.op(Op::IDIV, &[g, two]);
    let j = kb.op(Op::REM, &[g, two]);
    let i3 = kb.op(Op::MUL, &[i, three]);
    let ai = kb.op(Op::ADD, &[i3, r]);
    let r2 = kb.op(Op::MUL, &[r, two]);
    let bi = kb.op(Op::ADD, &[r2, j]);
    let av = kb.load(a, ai);
    let bv = kb.load(bm, bi);
    let prod = kb.op(Op::MUL, &[av, bv]);
    let acc = kb.reduce(ReduceOp::ADD, prod);
    kb.output(acc);
    let k = kb.finish(4, 3);
    let out = run(
        &k,
        &[
            f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            f32s(&[7.0, 8.0, 9.0, 10.0, 11.0, 12.0]),
        ],
    );
    assert_bits(&out[0], &f32s(&[58.0, 64.0, 139.0, 154.0]));
}

#[test]
fn two_reductions_with_epilogue() {
    // Per row of x: [3, 4]: mean and variance (E[x^2] - E[x]^2), plus the
    // row's first element plus its sum (epilogue using a Both node).
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let g = b.gidx();
    let r = b.ridx();
    let four = b.i32(4);
    let row = b.op(Op::MUL, &[g, four]);
    let idx = b.op(Op::ADD, &[row, r]);
    let v = b.load(x, idx);
    let sq = b.op(Op::MUL, &[v, v]);
    let s = b.reduce(ReduceOp::ADD, v);
    let ss = b.reduce(ReduceOp::ADD, sq);
    let n = b.constant(F32(4.0));
    let mean = b.op(Op::DIV, &[s, n]);
    let msq = b.op(Op::DIV, &[ss, n]);
    let mean2 = b.op(Op::MUL, &[mean, mean]);
    let var = b.op(Op::SUB, &[msq, mean2]);
    let first = b.load(x, row);
    let first_plus_sum = b.op(Op::ADD, &[first, s]);
    b.output(mean);
    b.output(var);
    b.output(first_plus_sum);
    let k = b.finish(3, 4);
    let out = run(
        &k,
        &[f32s(&[
            1.0, 2.0, 3.0, 4.0, //
            2.0, 2.0, 2.0, 2.0, //
            -1.0, 1.0, -1.0, 1.0,
        ])],
    );
    assert_bits(&out[0], &f32s(&[2.5, 2.0, 0.0]));
    assert_bits(&out[1], &f32s(&[1.25, 0.0, 1.0]));
    assert_bits(&out[2], &f32s(&[11.0, 10.0, -1.0]));
}

#[test]
fn out_of_bounds_loads_give_zero() {
    // out[i] = x[i - 1] + x[i + 2] for x of length 3 and i in 0..5.
    let mut b = KernelBuilder::new();
    let x = b.input(DType::I32);
    let g = b.gidx();
    let (one, two) = (b.i32(1), b.i32(2));
    let before = b.op(Op::SUB, &[g, one]);
    let after = b.op(Op::ADD, &[g, two]);
    let l = b.load(x, before);
    let r = b.load(x, after);
    let sum = b.op(Op::ADD, &[l, r]);
    b.output(sum);
    // A far-out index too: i32::MIN.
    let min = b.i32(i32::MIN);
    let far = b.load(x, min);
    b.output(far);
    let k = b.finish(5, 0);
    let out = run(&k, &[i32s(&[10, 20, 30])]);
    assert_eq!(out[0], i32s(&[30, 10, 20, 30, 0]));
    assert_eq!(out[1], i32s(&[0; 5]));
}

#[test]
fn several_outputs_of_several_dtypes() {
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let g = b.gidx();
    let v = b.load(x, g);
    let two = b.constant(F32(2.0));
    let doubled = b.op(Op::MUL, &[v, two]);
    let zero = b.constant(F32(0.0));
    let positive = b.op(Op::GT, &[v, zero]);
    let truncated = b.cast(v, DType::I32);
    let half = b.cast(v, DType::F16);
    b.output(doubled);
    b.output(positive);
    b.output(truncated);
    b.output(half);
    let k = b.finish(3, 0);
    let out = run(&k, &[f32s(&[1.5, -2.7, f32::NAN])]);
    assert_eq!(out[0][..2], f32s(&[3.0, -5.4])[..]);
    assert!(matches!(out[0][2], F32(v) if v.is_nan()));
    assert_eq!(out[1], vec![Bool(true), Bool(false), Bool(false)]);
    assert_eq!(out[2], i32s(&[1, -2, 0]));
    assert_eq!(
        out[3][..2],
        [F16(f16::from_f32(1.5)), F16(f16::from_f32(-2.7))]
    );
}

#[test]
fn empty_reductions_give_the_identity() {
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let y = b.input(DType::I32);
    let r = b.ridx();
    let xv = b.load(x, r);
    let yv = b.load(y, r);
    let mx = b.reduce(ReduceOp::MAX, xv);
    let mn = b.reduce(ReduceOp::MIN, yv);
    let pr = b.reduce(ReduceOp::MUL, yv);
    b.output(mx);
    b.output(mn);
    b.output(pr);
    let k = b.finish(2, 0);
    let out = run(&k, &[f32s(&[1.0]), i32s(&[1])]);
    assert_eq!(out[0], f32s(&[f32::NEG_INFINITY; 2]));
    assert_eq!(out[1], i32s(&[i32::MAX; 2]));
    assert_eq!(out[2], i32s(&[1; 2]));
}

#[test]
fn reductions_propagate_nan_and_round_f16_each_step() {
    let mut b = KernelBuilder::new();
    let x = b.input(DType::F32);
    let h = b.input(DType::F16);
    let r = b.ridx();
    let xv = b.load(x, r);
    let hv = b.load(h, r);
    let mx = b.reduce(ReduceOp::MAX, xv);
    let sum = b.reduce(ReduceOp::ADD, hv);
    b.output(mx);
    b.output(sum);
    let k = b.finish(1, 3);
    let hs = |v: &[f32]| -> Vec<Scalar> { v.iter().map(|&x| F16(f16::from_f32(x))).collect() };
    // 2048 + 1 rounds back to 2048 in f16 (ties to even), twice.
    let out = run(&k, &[f32s(&[1.0, f32::NAN, 3.0]), hs(&[2048.0, 1.0, 1.0])]);
    assert!(matches!(out[0][0], F32(v) if v.is_nan()));
    assert_eq!(out[1], hs(&[2048.0]));
}

#[test]
fn threefry_kernel_and_bool_reduction() {
    // Two random words per element, keyed by (0, 0), counter (gidx, 0); and
    // "any element of y is true" as a max over bool.
    let mut b = KernelBuilder::new();
    let y = b.input(DType::BOOL);
    let g = b.gidx();
    let c = b.cast(g, DType::U32);
    let z = b.constant(U32(0));
    let w0 = b.node(Op::THREEFRY2X32, DType::U32, &[z, z, c, z], 0);
    let w1 = b.node(Op::THREEFRY2X32, DType::U32, &[z, z, c, z], 1);
    let r = b.ridx();
    let yv = b.load(y, r);
    let any = b.reduce(ReduceOp::MAX, yv);
    b.output(w0);
    b.output(w1);
    b.output(any);
    let k = b.finish(2, 3);
    let out = run(&k, &[vec![Bool(false), Bool(true), Bool(false)]]);
    assert_eq!(out[0][0], U32(0x6b20_0159));
    assert_eq!(out[1][0], U32(0x99ba_4efe));
    let [a, bb] = eval::threefry2x32([0, 0], [1, 0]);
    assert_eq!((out[0][1], out[1][1]), (U32(a), U32(bb)));
    assert_eq!(out[2], vec![Bool(true); 2]);
}

#[test]
fn run_kernel_without_an_instance() {
    let mut b = KernelBuilder::new();
    let x = b.input(DType::U32);
    let g = b.gidx();
    let v = b.load(x, g);
    let n = b.op(Op::NEG, &[v]);
    b.output(n);
    let k = b.finish(2, 0);
    let out = run_kernel(&k, &[&bytes(&[U32(1), U32(0)])]).unwrap();
    assert_eq!(scalars(DType::U32, &out[0]), vec![U32(u32::MAX), U32(0)]);
}

// ---- routines ---------------------------------------------------------------

fn routine(kind: RoutineKind, dtype: DType, shape: &[u64], params: &[i64]) -> Routine {
    let out_dtype = if kind == RoutineKind::ARGSORT {
        DType::I32
    } else {
        dtype
    };
    Routine {
        kind,
        inputs: vec![TensorDesc {
            dtype,
            shape: shape.to_vec().into(),
        }]
        .into(),
        outputs: vec![TensorDesc {
            dtype: out_dtype,
            shape: shape.to_vec().into(),
        }]
        .into(),
        params: params.to_vec().into(),
    }
}

/// Runs a routine through the `Backend` trait.
fn run_r(r: &Routine, input: &[Scalar]) -> Vec<Scalar> {
    let b = backend();
    let data = bytes(input);
    let inp = b.alloc(data.len() as u64).unwrap();
    b.write(inp, 0, &data).unwrap();
    let out_dtype = r.outputs[0].dtype;
    let n = input.len() * out_dtype.size();
    let out = b.alloc(n as u64).unwrap();
    let exe = b.compile_routine(r).unwrap();
    b.execute(exe, &[inp], &[out]).unwrap();
    let via_trait = scalars(out_dtype, &b.read(out, 0, n as u64).unwrap());
    // The instance-free entry point agrees.
    let direct = run_routine(r, &[&data]).unwrap();
    assert_eq!(bytes(&via_trait), direct[0]);
    via_trait
}

#[test]
fn sort_puts_nan_last_and_reverses_for_descending() {
    let x = f32s(&[3.0, f32::NAN, -1.0, f32::NEG_INFINITY, 2.0, -0.0, 0.0]);
    let up = run_r(&routine(RoutineKind::SORT, DType::F32, &[7], &[0, 0]), &x);
    assert_bits(
        &up,
        &f32s(&[f32::NEG_INFINITY, -1.0, -0.0, 0.0, 2.0, 3.0, f32::NAN]),
    );
    let down = run_r(&routine(RoutineKind::SORT, DType::F32, &[7], &[0, 1]), &x);
    // Stable: -0 and +0 compare equal and keep their order.
    assert_bits(
        &down,
        &f32s(&[f32::NAN, 3.0, 2.0, -0.0, 0.0, -1.0, f32::NEG_INFINITY]),
    );
    let idx = run_r(&routine(RoutineKind::ARGSORT, DType::F32, &[7], &[0]), &x);
    assert_eq!(idx, i32s(&[3, 2, 5, 6, 4, 0, 1]));
}

#[test]
fn argsort_is_stable_both_ways() {
    let x = i32s(&[2, 1, 2, 1, 3]);
    let up = run_r(
        &routine(RoutineKind::ARGSORT, DType::I32, &[5], &[0, 0]),
        &x,
    );
    assert_eq!(up, i32s(&[1, 3, 0, 2, 4]));
    let down = run_r(
        &routine(RoutineKind::ARGSORT, DType::I32, &[5], &[0, 1]),
        &x,
    );
    assert_eq!(down, i32s(&[4, 0, 2, 1, 3]));
    let u = [U32(u32::MAX), U32(0), U32(7)];
    let sorted = run_r(&routine(RoutineKind::SORT, DType::U32, &[3], &[0, 0]), &u);
    assert_eq!(sorted, [U32(0), U32(7), U32(u32::MAX)]);
}

#[test]
fn sort_along_each_axis() {
    // x: [2, 3] = [[3, 1, 2], [0, 5, -1]].
    let x = i32s(&[3, 1, 2, 0, 5, -1]);
    let last = run_r(
        &routine(RoutineKind::SORT, DType::I32, &[2, 3], &[-1, 0]),
        &x,
    );
    assert_eq!(last, i32s(&[1, 2, 3, -1, 0, 5]));
    let first = run_r(
        &routine(RoutineKind::SORT, DType::I32, &[2, 3], &[0, 0]),
        &x,
    );
    assert_eq!(first, i32s(&[0, 1, -1, 3, 5, 2]));
    let idx = run_r(
        &routine(RoutineKind::ARGSORT, DType::I32, &[2, 3], &[-2, 1]),
        &x,
    );
    assert_eq!(idx, i32s(&[0, 1, 0, 1, 0, 1]));
    let bools = [Bool(true), Bool(false), Bool(true)];
    let sorted = run_r(&routine(RoutineKind::SORT, DType::BOOL, &[3], &[0]), &bools);
    assert_eq!(sorted, [Bool(false), Bool(true), Bool(true)]);
}

#[test]
fn scans() {
    // x: [2, 3] = [[1, 2, 3], [4, 5, 6]].
    let x = i32s(&[1, 2, 3, 4, 5, 6]);
    let r = |kind, params: &[i64]| run_r(&routine(kind, DType::I32, &[2, 3], params), &x);
    assert_eq!(r(RoutineKind::CUMSUM, &[1, 0]), i32s(&[1, 3, 6, 4, 9, 15]));
    assert_eq!(
        r(RoutineKind::CUMSUM, &[-1, 1]),
        i32s(&[6, 5, 3, 15, 11, 6])
    );
    assert_eq!(r(RoutineKind::CUMSUM, &[0]), i32s(&[1, 2, 3, 5, 7, 9]));
    assert_eq!(
        r(RoutineKind::CUMPROD, &[1, 0]),
        i32s(&[1, 2, 6, 4, 20, 120])
    );
    assert_eq!(r(RoutineKind::CUMMAX, &[0, 1]), i32s(&[4, 5, 6, 4, 5, 6]));
    assert_eq!(r(RoutineKind::CUMMIN, &[1, 1]), i32s(&[1, 2, 3, 4, 5, 6]));
    // Wrapping, NaN propagation, and -0 kept as the first element.
    let big = i32s(&[i32::MAX, 1]);
    assert_eq!(
        run_r(&routine(RoutineKind::CUMSUM, DType::I32, &[2], &[0]), &big),
        i32s(&[i32::MAX, i32::MIN])
    );
    let f = f32s(&[-0.0, 1.0, f32::NAN, 5.0]);
    assert_bits(
        &run_r(&routine(RoutineKind::CUMMAX, DType::F32, &[4], &[0]), &f),
        &f32s(&[-0.0, 1.0, f32::NAN, f32::NAN]),
    );
    assert_bits(
        &run_r(&routine(RoutineKind::CUMSUM, DType::F32, &[4], &[0, 1]), &f),
        &f32s(&[f32::NAN, f32::NAN, f32::NAN, 5.0]),
    );
}

#[test]
fn empty_routines() {
    let r = routine(RoutineKind::SORT, DType::F32, &[0, 3], &[1]);
    assert_eq!(run_routine(&r, &[&[]]).unwrap(), vec![Vec::<u8>::new()]);
    let r = routine(RoutineKind::CUMSUM, DType::F32, &[2, 0], &[1]);
    assert_eq!(run_routine(&r, &[&[]]).unwrap(), vec![Vec::<u8>::new()]);
}

#[test]
fn bad_routines_are_refused() {
    let b = backend();
    let kind = |r: &Routine| b.compile_routine(r).unwrap_err().kind;
    let unsupported = routine(RoutineKind::CHOLESKY, DType::F32, &[2, 2], &[]);
    assert_eq!(kind(&unsupported), ErrorKind::UNSUPPORTED);
    for bad in [
        routine(RoutineKind::SORT, DType::F32, &[3], &[1, 0]),
        routine(RoutineKind::SORT, DType::F32, &[3], &[-2, 0]),
        routine(RoutineKind::SORT, DType::F32, &[3], &[0, 2]),
        routine(RoutineKind::SORT, DType::F32, &[3], &[]),
        routine(RoutineKind::SORT, DType::F32, &[], &[0]),
        routine(RoutineKind::CUMSUM, DType::BOOL, &[3], &[0]),
        routine(RoutineKind::CUMSUM, DType(99), &[3], &[0]),
    ] {
        assert_eq!(kind(&bad), ErrorKind::INVALID_ARGUMENT, "{bad:?}");
    }
    let mut wrong_dtype = routine(RoutineKind::ARGSORT, DType::F32, &[3], &[0]);
    wrong_dtype.outputs[0].dtype = DType::F32;
    assert_eq!(kind(&wrong_dtype), ErrorKind::INVALID_ARGUMENT);
    let mut wrong_shape = routine(RoutineKind::CUMMAX, DType::F32, &[3], &[0]);
    wrong_shape.outputs[0].shape = vec![4].into();
    assert_eq!(kind(&wrong_shape), ErrorKind::INVALID_ARGUMENT);
    let mut two_inputs = routine(RoutineKind::SORT, DType::F32, &[3], &[0]);
    let extra = two_inputs.inputs[0].clone();
    two_inputs.inputs.push(extra);
    assert_eq!(kind(&two_inputs), ErrorKind::INVALID_ARGUMENT);

    // Executing with a too-small input buffer.
    let exe = b
        .compile_routine(&routine(RoutineKind::SORT, DType::F32, &[4], &[0]))
        .unwrap();
    let (small, out) = (b.alloc(8).unwrap(), b.alloc(16).unwrap());
    let err = b.execute(exe, &[small], &[out]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::INVALID_ARGUMENT);
    assert!(err.message.contains("needs 16"), "{err}");
}

// ---- errors and the trait surface --------------------------------------------

fn node(op: Op, dtype: DType, args: &[u32], imm: u64) -> Node {
    let mut a = [NO_ARG; 4];
    a[..args.len()].copy_from_slice(args);
    Node {
        op,
        dtype,
        args: a,
        imm,
    }
}

fn kernel(nodes: Vec<Node>, reductions: Vec<Reduction>, outputs: Vec<u32>) -> Kernel {
    Kernel {
        inputs: vec![DType::F32].into(),
        nodes: nodes.into(),
        size: 4,
        rsize: 2,
        reductions: reductions.into(),
        outputs: outputs.into(),
    }
}

#[test]
fn invalid_kernels_fail_to_compile_with_the_ir_text() {
    let b = backend();
    // add of f32 and i32.
    let bad = kernel(
        vec![
            node(Op::GIDX, DType::I32, &[], 0),
            node(Op::LOAD, DType::F32, &[0], 0),
            node(Op::ADD, DType::F32, &[1, 0], 0),
        ],
        vec![],
        vec![2],
    );
    let err = b.compile(&bad).unwrap_err();
    assert_eq!(err.kind, ErrorKind::COMPILE);
    assert!(err.message.contains("node %2"), "{err}");
    assert!(err.message.contains("kernel size=4"), "{err}");
    assert!(err.message.contains("%2 = add %1 %0 : f32"), "{err}");
    assert!(run_kernel(&bad, &[&[]]).is_err());

    // An accumulator whose reduction body does not exist, and a constant of
    // an unknown dtype: errors, not panics.
    let missing_body = kernel(
        vec![node(Op::ACC, DType::F32, &[], 0)],
        vec![Reduction {
            op: ReduceOp::ADD,
            body: 7,
        }],
        vec![0],
    );
    assert_eq!(
        b.compile(&missing_body).unwrap_err().kind,
        ErrorKind::COMPILE
    );
    let unknown_dtype = kernel(vec![node(Op::CONST, DType(42), &[], 1)], vec![], vec![0]);
    let err = b.compile(&unknown_dtype).unwrap_err();
    assert_eq!(err.kind, ErrorKind::COMPILE);
    assert!(err.message.contains("dtype#42"), "{err}");
}

#[test]
fn buffer_bounds_and_ids() {
    let b = backend();
    let id = b.alloc(8).unwrap();
    assert_eq!(b.read(id, 0, 8).unwrap(), vec![0; 8]);
    b.write(id, 4, &[1, 2, 3, 4]).unwrap();
    assert_eq!(b.read(id, 2, 4).unwrap(), vec![0, 0, 1, 2]);
    assert_eq!(b.read(id, 8, 0).unwrap(), Vec::<u8>::new());

    let err = b.read(id, 6, 4).unwrap_err();
    assert_eq!(err.kind, ErrorKind::INVALID_ARGUMENT);
    for needle in ["buffer", "offset 6", "len 4", "size 8"] {
        assert!(err.message.contains(needle), "{needle}: {err}");
    }
    let err = b.write(id, u64::MAX, &[1]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::INVALID_ARGUMENT);
    assert_eq!(
        b.read(id, 9, 0).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );

    b.free(id);
    let err = b.read(id, 0, 1).unwrap_err();
    assert_eq!(err.kind, ErrorKind::INVALID_ARGUMENT);
    assert!(err.message.contains("unknown buffer"), "{err}");
    assert_eq!(
        b.write(BufferId(12345), 0, &[]).unwrap_err().kind,
        ErrorKind::INVALID_ARGUMENT
    );
    let err = b.alloc(5 << 30).unwrap_err();
    assert_eq!(err.kind, ErrorKind::OUT_OF_MEMORY);
    assert_eq!(b.alloc(0).map(|id| b.read(id, 0, 0)), Ok(Ok(vec![])));
}

#[test]
fn execute_checks_its_buffers() {
    let b = backend();
    let mut kb = KernelBuilder::new();
    let x = kb.input(DType::F32);
    let g = kb.gidx();
    let v = kb.load(x, g);
    kb.output(v);
    let k = kb.finish(4, 0);
    let exe = b.compile(&k).unwrap();
    let input = b.alloc(16).unwrap();
    let out = b.alloc(16).unwrap();
    let small = b.alloc(12).unwrap();
    let is_invalid = |r: Result<(), BackendError>, needle: &str| {
        let err = r.unwrap_err();
        assert_eq!(err.kind, ErrorKind::INVALID_ARGUMENT, "{err}");
        assert!(err.message.contains(needle), "{needle}: {err}");
    };
    is_invalid(b.execute(exe, &[], &[out]), "1 input");
    is_invalid(b.execute(exe, &[input], &[]), "1 output");
    is_invalid(b.execute(exe, &[input], &[small]), "needs 16");
    is_invalid(
        b.execute(exe, &[BufferId(999)], &[out]),
        "unknown buffer id 999",
    );
    is_invalid(
        b.execute(exe, &[input], &[BufferId(998)]),
        "unknown buffer id 998",
    );
    is_invalid(
        b.execute(ExecutableId(997), &[input], &[out]),
        "unknown executable",
    );
    // A larger output buffer is fine; the rest is left alone.
    let big = b.alloc(20).unwrap();
    b.write(big, 16, &[9; 4]).unwrap();
    b.write(input, 0, &bytes(&f32s(&[1.0, 2.0, 3.0, 4.0])))
        .unwrap();
    b.execute(exe, &[input], &[big]).unwrap();
    let data = b.read(big, 0, 20).unwrap();
    assert_eq!(
        scalars(DType::F32, &data[..16]),
        f32s(&[1.0, 2.0, 3.0, 4.0])
    );
    assert_eq!(data[16..], [9; 4]);
    // Input element counts come from the buffer sizes: reads past a short
    // input give zero.
    b.execute(exe, &[small], &[out]).unwrap();
    let got = scalars(DType::F32, &b.read(out, 0, 16).unwrap());
    assert_eq!(got, f32s(&[0.0; 4]));
    assert!(b.source(exe).starts_with("kernel size=4"));
    b.release(exe);
    is_invalid(b.execute(exe, &[input], &[out]), "unknown executable");
    assert_eq!(b.source(exe), "");
}

#[test]
fn options_and_info() {
    assert!(new("  \n# no options\n\t").is_ok());
    let err = new("threads = 4").unwrap_err();
    assert_eq!(err.kind, ErrorKind::INVALID_ARGUMENT);
    assert!(err.message.contains("threads = 4"), "{err}");
    let info = backend().info();
    assert_eq!(info.name.as_str(), "reference");
    assert_eq!(info.version.as_str(), env!("CARGO_PKG_VERSION"));
    assert!(info.caps.supports_routine(RoutineKind::ARGSORT));
    assert!(!info.caps.supports_routine(RoutineKind::FFT));
    assert!(info.caps.supports_op(Op::THREEFRY2X32));
    assert!(DType::ALL.iter().all(|&d| info.caps.supports_dtype(d)));
}

#[test]
fn works_as_a_plugin_object() {
    let obj = oxjax_abi::into_object(backend());
    let id = obj.alloc(4).unwrap();
    obj.write(id, 0, [1u8, 2, 3, 4][..].into()).unwrap();
    assert_eq!(obj.read(id, 1, 2).unwrap().as_slice(), &[2, 3]);
    assert_eq!(obj.info().unwrap().name.as_str(), "reference");
}

fn scatter_routine(mode: i64, axis: i64, shape: &[u64], idx: &[u64], upd: &[u64]) -> Routine {
    let t = |dtype: DType, s: &[u64]| TensorDesc {
        dtype,
        shape: s.to_vec().into(),
    };
    Routine {
        kind: RoutineKind::SCATTER,
        inputs: vec![t(DType::F32, shape), t(DType::I32, idx), t(DType::F32, upd)].into(),
        outputs: vec![t(DType::F32, shape)].into(),
        params: vec![mode, axis].into(),
    }
}

#[test]
fn scatter_combines_in_order_and_drops_out_of_range() {
    // Operand 2x3, scattering along axis 1 at [2, 0, 2, 3, -1].
    let x = bytes(&f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    let idx = bytes(&i32s(&[2, 0, 2, 3, -1]));
    let upd = bytes(&f32s(&[
        10.0, 20.0, 30.0, 40.0, 50.0, //
        60.0, 70.0, 80.0, 90.0, 100.0,
    ]));
    let run = |mode| {
        let r = scatter_routine(mode, 1, &[2, 3], &[5], &[2, 5]);
        let out = run_routine(&r, &[&x, &idx, &upd]).unwrap();
        scalars(DType::F32, &out[0])
    };
    // set: the last duplicate wins; 3 and -1 are dropped.
    assert_eq!(run(0), f32s(&[20.0, 2.0, 30.0, 70.0, 5.0, 80.0]));
    assert_eq!(run(1), f32s(&[21.0, 2.0, 43.0, 74.0, 5.0, 146.0]));
    assert_eq!(run(2), f32s(&[20.0, 2.0, 900.0, 280.0, 5.0, 28800.0]));
    assert_eq!(run(3), f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    assert_eq!(run(4), f32s(&[20.0, 2.0, 30.0, 70.0, 5.0, 80.0]));
    // Through the Backend trait too.
    let b = backend();
    let r = scatter_routine(1, 1, &[2, 3], &[5], &[2, 5]);
    let ins: Vec<_> = [&x, &idx, &upd]
        .iter()
        .map(|d| {
            let h = b.alloc(d.len() as u64).unwrap();
            b.write(h, 0, d).unwrap();
            h
        })
        .collect();
    let out = b.alloc(24).unwrap();
    let exe = b.compile_routine(&r).unwrap();
    b.execute(exe, &ins, &[out]).unwrap();
    assert_eq!(
        scalars(DType::F32, &b.read(out, 0, 24).unwrap()),
        f32s(&[21.0, 2.0, 43.0, 74.0, 5.0, 146.0])
    );
}

#[test]
fn scatter_descriptor_errors_are_clear() {
    let bad = scatter_routine(1, 1, &[2, 3], &[5], &[2, 4]);
    let e = run_routine(&bad, &[&[], &[], &[]]).unwrap_err();
    assert!(
        e.message.contains("updates must have shape [2, 5]"),
        "{}",
        e.message
    );
    let bad = scatter_routine(7, 0, &[2, 3], &[5], &[5, 3]);
    let e = run_routine(&bad, &[&[], &[], &[]]).unwrap_err();
    assert!(e.message.contains("mode 7 is not 0..=4"), "{}", e.message);
}
