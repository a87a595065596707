//! The demo: an MLP learns to tell three interleaved spirals apart.
//!
//! Run: `cargo xtask demo` (or `cargo run --example train_mlp`);
//! `OXJAX_DEVICE=<name>` picks another device of `plugins.toml`. The data
//! (1500 training and 1000 held-out points from `oxjax::random`), the model
//! (2-32-32-3, ReLU), the jitted `value_and_grad` step and the Adam +
//! warm-up/cosine schedule live in `examples/common/spirals.rs`, which
//! `tests/demo.rs` runs on a smaller budget. Writes the loss curve to
//! `target/demo/loss.png` (`$CARGO_TARGET_DIR/demo/` when that is set).

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
    // The other configured devices that do not work here, and why (a
    // missing GPU driver disables only its own device).
    if let Ok(report) = oxjax::device_report() {
        for e in &report.entries {
            if let Some(err) = &e.error {
                println!("  device '{}' is unavailable ({}): {err}", e.name, e.status);
            }
        }
    }
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
    match plot_losses(&out.losses, out.test_accuracy, dev.name(), &png) {
        Ok(()) => println!("loss curve: {}", png.display()),
        Err(e) => eprintln!("could not write {}: {e}", png.display()),
    }
    assert!(
        out.test_accuracy >= TARGET,
        "test accuracy {:.3} is below the target {TARGET}",
        out.test_accuracy
    );
}

/// `demo/` in the target dir: `CARGO_TARGET_DIR` when set (cargo xtask
/// passes it on), else `target/` of this workspace.
fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("core/ is in the workspace")
                .join("target")
        });
    let dir = target.join("demo");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// The training loss per step on a log scale, with a title, labelled axes
/// and the held-out accuracy in the legend. The font is embedded (DejaVu
/// Sans through plotters' ab_glyph renderer), so no system font is needed.
fn plot_losses(
    losses: &[f32],
    test_accuracy: f32,
    device: &str,
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "the embedded font did not load")?;
    let root = BitMapBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let positive: Vec<f32> = losses.iter().map(|l| l.max(1e-6)).collect();
    let lo = positive.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = positive.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // Whole decades around the curve.
    let (lo, hi) = (
        10f32.powf(lo.log10().floor()),
        10f32.powf(hi.log10().ceil()),
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("oxjax demo: 2-32-32-3 MLP on three spirals ({device})"),
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0usize..losses.len(), (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("Adam step")
        .y_desc("training loss (cross-entropy, log scale)")
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            positive.iter().enumerate().map(|(i, &l)| (i, l)),
            BLUE.stroke_width(2),
        ))?
        .label(format!(
            "training loss; held-out accuracy {:.1}%",
            test_accuracy * 100.0
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], BLUE.stroke_width(2)));
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}
