//! The training demo on a small budget: the MLP of `cargo xtask demo`
//! (examples/common/spirals.rs) must learn the three spirals.

#[path = "../examples/common/spirals.rs"]
mod spirals;

#[test]
fn mlp_learns_the_spirals() {
    let cfg = spirals::Config {
        seed: 0,
        train_points: 600,
        test_points: 600,
        hidden: 32,
        steps: 300,
        peak_lr: 0.03,
    };
    let start = std::time::Instant::now();
    let out = spirals::run(&cfg, |_, l| assert!(l.is_finite()));
    let first = out.losses[0];
    let last = *out.losses.last().unwrap();
    println!(
        "{} steps in {:.1?}: loss {first:.3} -> {last:.3}, train {:.3}, test {:.3}",
        cfg.steps,
        start.elapsed(),
        out.train_accuracy,
        out.test_accuracy
    );
    assert!(last < first / 5.0, "loss {first} -> {last}");
    for leaf in oxjax::Tree::leaves(&out.params) {
        let v = leaf.to_vec::<f32>();
        assert!(v.iter().all(|x| x.is_finite()), "non-finite parameters");
    }
    assert!(
        out.test_accuracy >= 0.95,
        "test accuracy {} below 0.95",
        out.test_accuracy
    );
}
