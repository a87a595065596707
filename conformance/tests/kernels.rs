//! The kernel-IR layer against the reference plugin library: random
//! expression kernels run on the loaded plugin and on the embedded backend
//! must agree exactly.

use oxjax_conformance::check_kernel;
use oxjax_core::abi::{DType, KernelBuilder, Op, ReduceOp, Scalar};
use oxjax_core::{Device, Registry};
use proptest::prelude::*;

fn devices() -> (Device, Device) {
    let file = oxjax_core::config_file().expect("no plugins.toml (OXJAX_PLUGINS or upward)");
    let reg = Registry::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    (
        reg.device("reference").unwrap(),
        reg.device("embedded").unwrap(),
    )
}

const BINARY: &[Op] = &[
    Op::ADD,
    Op::SUB,
    Op::MUL,
    Op::DIV,
    Op::MIN,
    Op::MAX,
    Op::POW,
    Op::ATAN2,
    Op::REM,
];
const UNARY: &[Op] = &[
    Op::NEG,
    Op::EXP,
    Op::LOG,
    Op::SIN,
    Op::TANH,
    Op::SQRT,
    Op::ERF,
    Op::FLOOR,
    Op::ABS,
];

/// Steps (unary?, op, x, y), reduce?, and the two inputs.
type KernelCase = (Vec<(bool, usize, usize, usize)>, bool, Vec<f32>, Vec<f32>);

/// A random f32 expression DAG over two inputs, optionally reduced.
fn kernel_case() -> impl Strategy<Value = KernelCase> {
    (
        prop::collection::vec((any::<bool>(), 0usize..16, 0usize..64, 0usize..64), 1..12),
        any::<bool>(),
        prop::collection::vec(
            prop_oneof![-4.0f32..4.0, Just(f32::NAN), Just(0.0), Just(f32::INFINITY)],
            12,
        ),
        prop::collection::vec(-4.0f32..4.0, 12),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_kernels_agree((steps, reduce, a, b) in kernel_case()) {
        let (dut, oracle) = devices();
        let mut k = KernelBuilder::new();
        let (ia, ib) = (k.input(DType::F32), k.input(DType::F32));
        let (size, rsize) = if reduce { (3usize, 4usize) } else { (12, 0) };
        let g = k.gidx();
        let index = if reduce {
            let r = k.ridx();
            let four = k.i32(4);
            let row = k.op(Op::MUL, &[g, four]);
            k.op(Op::ADD, &[row, r])
        } else {
            g
        };
        let mut vals = vec![k.load(ia, index), k.load(ib, index)];
        for (unary, op, x, y) in steps {
            let x = vals[x % vals.len()];
            let y = vals[y % vals.len()];
            let v = if unary { k.op(UNARY[op % UNARY.len()], &[x]) } else { k.op(BINARY[op % BINARY.len()], &[x, y]) };
            vals.push(v);
        }
        let last = *vals.last().unwrap();
        let out = if reduce {
            let acc = k.reduce(ReduceOp::ADD, last);
            let half = k.constant(Scalar::F32(0.5));
            k.op(Op::MUL, &[acc, half])
        } else {
            last
        };
        k.output(out);
        let kernel = k.finish(size, rsize);
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let r = check_kernel(&dut, &oracle, &kernel, &[bytes(&a), bytes(&b)]);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

#[test]
fn a_mismatch_report_names_position_values_and_kernel() {
    let m = oxjax_conformance::Mismatch {
        output: 0,
        element: 3,
        expected: "1.0".into(),
        found: "2.0".into(),
        kernel: "kernel size=4 inputs=[]".into(),
    };
    assert_eq!(
        m.to_string(),
        "output 0 element 3: expected 1.0, found 2.0\nkernel size=4 inputs=[]"
    );
}
