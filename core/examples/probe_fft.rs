use oxjax::{Array, fft::Complex};
use std::time::Instant;
fn main() {
    let n = 1 << 16;
    let re = Array::from_vec(
        (0..n)
            .map(|i| (i as f32 * 0.37).sin())
            .collect::<Vec<f32>>(),
        &[n],
    );
    let im = Array::from_vec(
        (0..n)
            .map(|i| (i as f32 * 0.11).cos())
            .collect::<Vec<f32>>(),
        &[n],
    );
    let z = Complex::new(&re, &im);
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut ts = vec![];
    for _ in 0..iters {
        let t = Instant::now();
        let y = oxjax::fft::fft(&z, None, -1);
        drop((y.re.to_vec::<f32>(), y.im.to_vec::<f32>()));
        ts.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("fft 2^16 median {:.3} ms  min {:.3}", ts[iters / 2], ts[0]);
}
