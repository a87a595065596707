//! The Mandelbrot set by escape-time iteration, jitted: a block of
//! iterations of `z ← z² + c` over the whole grid (with `where` freezing the
//! points that escaped) compiles once and runs repeatedly; the iteration
//! counts become a PNG.
//!
//! Run: `cargo run --example mandelbrot`; writes `target/demo/mandelbrot.png`.

use oxjax::{Array, Axes, DType, jit};
use plotters::prelude::*;
use std::path::Path;
use std::time::Instant;

const WIDTH: usize = 600;
const HEIGHT: usize = 400;
const BLOCK: usize = 16;
const BLOCKS: usize = 8;

/// `BLOCK` escape-time iterations: `(zr, zi, count)` for every pixel.
fn iterate((cr, ci, zr, zi, count): &(Array, Array, Array, Array, Array)) -> (Array, Array, Array) {
    let (mut zr, mut zi, mut count) = (zr.clone(), zi.clone(), count.clone());
    for _ in 0..BLOCK {
        let inside = (&zr * &zr + &zi * &zi).less_equal(4.0);
        let (nr, ni) = (&zr * &zr - &zi * &zi + cr, &zr * &zi * 2.0 + ci);
        zr = Array::where_(&inside, nr, &zr);
        zi = Array::where_(&inside, ni, &zi);
        count = count + inside.astype(DType::I32);
    }
    (zr, zi, count)
}

fn main() {
    let cr = Array::linspace(-2.2, 0.8, WIDTH, DType::F32)
        .reshape(&[1, WIDTH as isize])
        .broadcast_to(&[HEIGHT, WIDTH]);
    let ci = Array::linspace(-1.0, 1.0, HEIGHT, DType::F32)
        .reshape(&[HEIGHT as isize, 1])
        .broadcast_to(&[HEIGHT, WIDTH]);
    let zero = Array::zeros(&[HEIGHT, WIDTH], DType::F32);
    let (mut zr, mut zi) = (zero.clone(), zero);
    let mut count = Array::zeros(&[HEIGHT, WIDTH], DType::I32);
    let block = jit(iterate);
    let start = Instant::now();
    for _ in 0..BLOCKS {
        (zr, zi, count) = block(&(cr.clone(), ci.clone(), zr, zi, count));
    }
    let counts = count.to_vec::<i32>();
    let max = (BLOCK * BLOCKS) as i32;
    let inside = count
        .equal(max)
        .astype(DType::F32)
        .mean(Axes::All, false)
        .item::<f32>();
    println!(
        "{WIDTH}x{HEIGHT} pixels, {max} iterations in {:.2?} on '{}'; {:.1}% of the view is in the set",
        start.elapsed(),
        oxjax::default_device().name(),
        inside * 100.0
    );

    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("target/demo");
    std::fs::create_dir_all(&dir).expect("create target/demo");
    let path = dir.join("mandelbrot.png");
    let root = BitMapBackend::new(&path, (WIDTH as u32, HEIGHT as u32)).into_drawing_area();
    for (i, &c) in counts.iter().enumerate() {
        let color = if c == max {
            RGBColor(0, 0, 0)
        } else {
            // A blue-to-gold ramp on log(count) so the outer bands stay visible.
            let s = (c as f64).ln_1p() / (max as f64).ln_1p();
            RGBColor(
                (255.0 * s) as u8,
                (200.0 * s) as u8,
                (80.0 + 120.0 * (1.0 - s)) as u8,
            )
        };
        root.draw_pixel(((i % WIDTH) as i32, (i / WIDTH) as i32), &color)
            .expect("draw a pixel");
    }
    root.present().expect("write the PNG");
    println!("image: {}", path.display());
    assert!(
        inside > 0.05 && inside < 0.5,
        "the set should cover part of the view"
    );
}
