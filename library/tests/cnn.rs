//! The CNN example on a tiny budget (examples/common/cnn.rs): a few Adam
//! steps must already tell the four kinds of pictures apart well above
//! chance, and the loss must fall.

#[path = "../examples/common/cnn.rs"]
#[allow(dead_code)] // NAMES is for the example's printout
mod cnn;

#[test]
fn cnn_learns_the_pictures() {
    let mut losses = Vec::new();
    let params = cnn::train(3, 16, 30, |_, l| losses.push(l));
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    let (first, last) = (
        losses[..5].iter().sum::<f32>(),
        losses[25..].iter().sum::<f32>(),
    );
    assert!(last < 0.9 * first, "loss did not fall: {losses:?}");
    let test = cnn::pictures(&oxjax::random::key(99), 256, cnn::NOISE);
    let acc = cnn::accuracy(&params, &test);
    println!("accuracy after 30 steps: {acc}");
    // Chance is 0.25; with 256 pictures its 5-sigma band ends below 0.39.
    // (The example's 120 steps of 32 reach about 95%.)
    assert!(acc > 0.4, "accuracy {acc}");
}
