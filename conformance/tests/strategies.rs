//! The strategies build valid kernels for every entry and every dtype, and
//! cover what they promise (views, reductions, several outputs).

use oxjax_abi::{Capabilities, DType, Op};
use oxjax_conformance::case::{dag_case, op_case};
use oxjax_conformance::optable;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

#[test]
fn every_entry_builds_valid_kernels() {
    let mut runner = TestRunner::deterministic();
    for e in optable::table() {
        for d in e.dtypes() {
            let s = op_case(&e, d, &DType::ALL);
            for _ in 0..20 {
                let case = s.new_tree(&mut runner).unwrap().current();
                let k = case.kernel();
                k.validate().unwrap();
                assert_eq!(k.inputs.len(), case.operands.len());
            }
        }
    }
}

#[test]
fn dags_have_reductions_outputs_and_varied_ops() {
    let caps = Capabilities::everything(&[]);
    let mut runner = TestRunner::deterministic();
    let (mut multi, mut reduced, mut ops) = (0, 0, std::collections::HashSet::new());
    for reduce in [false, true] {
        let s = dag_case(DType::ALL.to_vec(), reduce, 16);
        for _ in 0..200 {
            let case = s.new_tree(&mut runner).unwrap().current();
            let k = case.kernel(&caps);
            k.validate().unwrap();
            multi += (k.outputs.len() > 1) as usize;
            reduced += (!k.reductions.is_empty()) as usize;
            ops.extend(k.nodes.iter().map(|n| n.op));
        }
    }
    assert!(multi > 50 && reduced >= 200, "{multi} {reduced}");
    // Some kernels bind many inputs (up to the cap of 16) and load from
    // most of them.
    let s = dag_case(DType::ALL.to_vec(), false, 16);
    let widest = (0..200)
        .map(|_| s.new_tree(&mut runner).unwrap().current().kernel(&caps))
        .map(|k| {
            let loaded: std::collections::HashSet<u64> = k
                .nodes
                .iter()
                .filter(|n| n.op == Op::LOAD)
                .map(|n| n.imm)
                .collect();
            (k.inputs.len(), loaded.len())
        })
        .filter(|&(inputs, _)| inputs >= 12)
        .max_by_key(|&(_, loaded)| loaded)
        .expect("some kernel binds 12 inputs or more");
    assert!(widest.1 >= 4, "{widest:?}");
    let s = dag_case(DType::ALL.to_vec(), false, 3);
    for _ in 0..100 {
        let k = s.new_tree(&mut runner).unwrap().current().kernel(&caps);
        assert!(k.inputs.len() <= 3);
    }
    for op in [
        Op::SELECT,
        Op::CAST,
        Op::SHR,
        Op::DIV,
        Op::THREEFRY2X32,
        Op::BITCAST,
    ] {
        assert!(ops.contains(&op), "{op} never generated");
    }
}

/// Binary ops meet edge values in pairs, in one element: (-0, +0),
/// (NaN, 0), (+Inf, -Inf), (MIN, -1) within 64 cases of one entry.
#[test]
fn binary_ops_draw_edge_pairs_jointly() {
    use oxjax_abi::Scalar;
    let mut runner = TestRunner::deterministic();
    let bits = |d: DType, v: f64| Scalar::F64(v).cast(d).to_bits();
    let mut seen = std::collections::HashSet::new();
    for (name, d) in [("add", DType::F32), ("idiv", DType::I32)] {
        let s = op_case(&optable::entry(name).unwrap(), d, &DType::ALL);
        for _ in 0..64 {
            let c = s.new_tree(&mut runner).unwrap().current();
            if let [a, b] = &c.operands[..]
                && a.view.is_empty()
                && b.view.is_empty()
                && a.shape == b.shape
            {
                seen.extend(a.values.iter().zip(&b.values).map(|(&x, &y)| (d, x, y)));
            }
        }
    }
    let f = DType::F32;
    for want in [
        (f, bits(f, -0.0), bits(f, 0.0)),
        (f, bits(f, f64::INFINITY), bits(f, f64::NEG_INFINITY)),
        (f, bits(f, -0.0), bits(f, -2.5)),
        (
            DType::I32,
            Scalar::I32(i32::MIN).to_bits(),
            Scalar::I32(-1).to_bits(),
        ),
    ] {
        assert!(seen.contains(&want), "pair {want:?} never drawn");
    }
}

#[test]
#[ignore = "prints sample kernels"]
fn print_samples() {
    let mut runner = TestRunner::deterministic();
    let e = optable::entry("add").unwrap();
    for _ in 0..3 {
        let c = op_case(&e, DType::F32, &DType::ALL)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        println!("{c:?}\n{}\n", c.kernel());
    }
    let s = dag_case(DType::ALL.to_vec(), true, 16);
    for _ in 0..3 {
        let c = s.new_tree(&mut runner).unwrap().current();
        println!("{}\n", c.kernel(&Capabilities::everything(&[])));
    }
}
