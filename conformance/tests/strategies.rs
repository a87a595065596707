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
        let s = dag_case(DType::ALL.to_vec(), reduce);
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
    let s = dag_case(DType::ALL.to_vec(), true);
    for _ in 0..3 {
        let c = s.new_tree(&mut runner).unwrap().current();
        println!("{}\n", c.kernel(&Capabilities::everything(&[])));
    }
}
