use oxjax::{Array, jit};
use std::time::Instant;
fn main() {
    let n = 1 << 22;
    let v: Vec<f32> = (0..n)
        .map(|i| ((i as f32) * 0.000_37).sin() * 3.0)
        .collect();
    let x = Array::from_vec(v, &[n]);
    let only = std::env::var("ONLY").unwrap_or_default();
    let fs: Vec<(&str, Box<dyn Fn(&Array) -> Array>)> = vec![
        ("copy", Box::new(jit(|x: &Array| x * 2.0))),
        ("tanh", Box::new(jit(|x: &Array| x.tanh()))),
        ("log1p", Box::new(jit(|x: &Array| x.log1p()))),
        ("erf", Box::new(jit(|x: &Array| x.erf()))),
        ("exp", Box::new(jit(|x: &Array| x.exp()))),
        ("log", Box::new(jit(|x: &Array| x.abs().log()))),
        (
            "chain",
            Box::new(jit(|x: &Array| (x.tanh() * (x * x).log1p()).erf())),
        ),
    ];
    for (name, f) in &fs {
        if !only.is_empty() && only != *name {
            continue;
        }
        drop(f(&x).to_vec::<f32>());
        let mut ts = vec![];
        for _ in 0..15 {
            let t = Instant::now();
            drop(f(&x).to_vec::<f32>());
            ts.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{name:8} median {:.2} ms  min {:.2}", ts[7], ts[0]);
    }
}
