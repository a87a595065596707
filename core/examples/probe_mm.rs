use oxjax::{Array, jit};
use std::time::Instant;
fn main() {
    let r =
        |s: &[usize], k: u64| oxjax::random::normal(&oxjax::random::key(k), s, oxjax::DType::F32);
    let x = r(&[128, 784], 1);
    let w = r(&[784, 512], 2);
    let b = r(&[512], 3);
    let g = r(&[128, 512], 4);
    let fs: Vec<(&str, Box<dyn Fn() -> Array>)> = vec![
        (
            "x@w",
            Box::new({
                let f = jit(|(x, w): &(Array, Array)| x.matmul(w));
                let a = (x.clone(), w.clone());
                move || f(&a)
            }),
        ),
        (
            "x@w+b",
            Box::new({
                let f = jit(|(x, w, b): &(Array, Array, Array)| x.matmul(w) + b);
                let a = (x.clone(), w.clone(), b.clone());
                move || f(&a)
            }),
        ),
        (
            "x@w+1",
            Box::new({
                let f = jit(|(x, w): &(Array, Array)| x.matmul(w) + 1.0);
                let a = (x.clone(), w.clone());
                move || f(&a)
            }),
        ),
        (
            "relu(x@w)",
            Box::new({
                let f = jit(|(x, w): &(Array, Array)| x.matmul(w).maximum(0.0));
                let a = (x.clone(), w.clone());
                move || f(&a)
            }),
        ),
        (
            "xT@g",
            Box::new({
                let f = jit(|(x, g): &(Array, Array)| x.transpose(&[1, 0]).matmul(g));
                let a = (x.clone(), g.clone());
                move || f(&a)
            }),
        ),
        (
            "w-xT@g",
            Box::new({
                let f = jit(|(x, g, w): &(Array, Array, Array)| {
                    w - x.transpose(&[1, 0]).matmul(g) * 0.1
                });
                let a = (x.clone(), g.clone(), w.clone());
                move || f(&a)
            }),
        ),
    ];
    for (name, f) in &fs {
        drop(f().to_vec::<f32>());
        let mut ts = vec![];
        for _ in 0..15 {
            let t = Instant::now();
            drop(f().block_until_ready());
            ts.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{name:8} median {:.2} ms  min {:.2}", ts[7], ts[0]);
    }
}
