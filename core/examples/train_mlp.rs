//! The demo: an MLP learns to tell three interleaved spirals apart.
//!
//! Run: `cargo xtask demo` (or `cargo run --example train_mlp`);
//! `OXJAX_DEVICE=<name>` picks another device of `plugins.toml`. The data
//! (1500 training and 1000 held-out points from `oxjax::random`), the model
//! (2-32-32-3, ReLU), the jitted `value_and_grad` step and the Adam +
//! warm-up/cosine schedule live in `examples/common/spirals.rs`, which
//! `tests/demo.rs` runs on a smaller budget. Writes the loss curve to
//! `target/demo/loss.png`.

#[path = "common/spirals.rs"]
mod spirals;

use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The test accuracy this run must reach.
const TARGET: f32 = 0.95;

fn main() {
    let (dev, why) = oxjax::default_device_choice().unwrap_or_else(|e| {
        eprintln!("oxjax: {e}\n(`cargo xtask devices` lists every device and its status)");
        std::process::exit(1)
    });
    println!(
        "device '{}': {} {} on {}\n  chosen by {why}",
        dev.name(),
        dev.info().name,
        dev.info().version,
        dev.info().device
    );
    let cfg = spirals::Config {
        seed: 42,
        train_points: 1500,
        test_points: 1000,
        hidden: 32,
        steps: 600,
        peak_lr: 0.02,
    };
    println!(
        "training a 2-{h}-{h}-3 MLP on {} spiral points ({} held out), {} full-batch Adam steps",
        cfg.train_points,
        cfg.test_points,
        cfg.steps,
        h = cfg.hidden
    );

    let bar = ProgressBar::new(cfg.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos:>4}/{len} [{elapsed}<{eta}] loss {msg}")
            .expect("a valid template"),
    );
    let start = Instant::now();
    let mut first_step = None;
    let out = spirals::run(&cfg, |i, loss| {
        if i == 0 {
            first_step = Some(start.elapsed());
        }
        bar.set_message(format!("{loss:.4}"));
        bar.inc(1);
    });
    bar.finish();
    let total = start.elapsed();
    let compile = first_step.unwrap_or_default();
    let steady = (total - compile).as_secs_f64() / (cfg.steps.max(2) - 1) as f64;

    let weights: usize = oxjax::Tree::leaves(&out.params)
        .iter()
        .map(|a| a.size())
        .sum();
    println!(
        "{weights} parameters; loss {:.4} -> {:.4}; accuracy: train {:.1}%, test {:.1}% (target {:.0}%)",
        out.losses[0],
        out.losses.last().unwrap(),
        out.train_accuracy * 100.0,
        out.test_accuracy * 100.0,
        TARGET * 100.0
    );
    println!(
        "time: {:.2?} in all (data, tracing and compiling the step: {:.2?}); {:.2} ms per step after",
        total,
        compile,
        steady * 1e3
    );
    let png = out_dir().join("loss.png");
    match plot_losses(&out.losses, &png) {
        Ok(()) => println!("loss curve: {}", png.display()),
        Err(e) => eprintln!("could not write {}: {e}", png.display()),
    }
    assert!(
        out.test_accuracy >= TARGET,
        "test accuracy {:.3} is below the target {TARGET}",
        out.test_accuracy
    );
}

/// `target/demo/` of this workspace.
fn out_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ is in the workspace");
    let dir = root.join("target/demo");
    std::fs::create_dir_all(&dir).expect("create target/demo");
    dir
}

/// The log-loss curve as a line on a white background with a grey frame
/// and a gridline per decade (no text: nothing here needs a font).
fn plot_losses(losses: &[f32], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let logs: Vec<f32> = losses.iter().map(|l| l.max(1e-6).log10()).collect();
    let lo = logs.iter().copied().fold(f32::INFINITY, f32::min).floor();
    let hi = logs
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
        .ceil();
    let n = losses.len() as f32;
    let mut chart = ChartBuilder::on(&root)
        .margin(20)
        .build_cartesian_2d(0f32..n, lo..hi)?;
    let grey = RGBColor(200, 200, 200);
    for decade in (lo as i32)..=(hi as i32) {
        let y = decade as f32;
        chart.draw_series(LineSeries::new([(0.0, y), (n, y)], grey.stroke_width(1)))?;
    }
    chart.draw_series(LineSeries::new(
        [(0.0, lo), (n, lo), (n, hi), (0.0, hi), (0.0, lo)],
        BLACK.stroke_width(1),
    ))?;
    chart.draw_series(LineSeries::new(
        logs.iter().enumerate().map(|(i, &l)| (i as f32, l)),
        BLUE.stroke_width(2),
    ))?;
    root.present()?;
    Ok(())
}
