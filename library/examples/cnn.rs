//! A small CNN learns to tell four kinds of 12x12 pictures apart:
//! horizontal bars, vertical bars, crosses and box outlines, drawn at random
//! places and sizes with Gaussian noise, all from `oxjax::random`.
//!
//! Run: `cargo run --release --example cnn` (add `-- <batch> <steps>` to
//! change the budget; the defaults are 32 and 120);
//! `OXJAX_DEVICE=<name>` picks another device of `plugins.toml`.
//!
//! The model is conv 3x3 (8) → ReLU → max pool 2x2 → conv 3x3 (16) → ReLU
//! → global max pool → dense (4), in `lax::conv`'s NCHW/OIHW layout,
//! with He-initialised kernels (`nn::initializers`, fan axes set for OIHW).
//! Each step draws a fresh batch from its own key inside one jitted
//! program with `value_and_grad` and Adam; the end reports the accuracy on
//! held-out pictures.

#[path = "common/cnn.rs"]
mod cnn;

use oxjax::{Tree, random};
use std::time::Instant;

/// Held-out pictures for the final accuracy.
const TEST: usize = 512;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let batch = args.first().copied().unwrap_or(32);
    let steps = args.get(1).copied().unwrap_or(120) as u32;
    let dev = oxjax::default_device();
    println!("device '{}': {}", dev.name(), dev.info().name);
    let start = Instant::now();
    let weights: usize = Tree::leaves(&cnn::init_params(&random::key(0)))
        .iter()
        .map(|a| a.size())
        .sum();
    println!(
        "{weights} parameters; {steps} Adam steps on batches of {batch} fresh pictures ({})",
        cnn::NAMES.join(", ")
    );
    let params = cnn::train(0, batch, steps, |i, l| {
        if i % 10 == 0 || i + 1 == steps {
            println!("step {i:>4}  loss {l:.4}  ({:.1?})", start.elapsed());
        }
    });
    let test = cnn::pictures(&random::key(1), TEST, cnn::NOISE);
    println!(
        "test accuracy on {TEST} new pictures: {:.1}% (chance 25%); {:.1?} in all",
        cnn::accuracy(&params, &test) * 100.0,
        start.elapsed()
    );
}
