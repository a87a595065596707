//! `oxjax::fft`: values against NumPy fixtures (tests/fixtures/
//! make_linalg.py) for power-of-two, mixed and prime lengths, n-d
//! transforms, round trips and Parseval in f32 and f64, gradients against
//! finite differences, vmap against a loop, jit against eager, and every
//! plugin device against the embedded one.

use oxjax::fft::{self, Complex};
use oxjax::{Array, Axes, DType, Device, Tree, jit, vmap, with_default_device};
use serde_json::Value;
use std::sync::OnceLock;
mod common;
use common::{
    check_grad, close_v, json_fixture, nums, on_embedded, plugin_devices, registry, uniform,
};

fn fixtures() -> &'static Value {
    static FX: OnceLock<Value> = OnceLock::new();
    FX.get_or_init(|| json_fixture("fft.json"))
}

fn shape_of(v: &Value) -> Vec<usize> {
    nums(&v["shape"]).iter().map(|&d| d as usize).collect()
}

fn real(name: &str) -> Array {
    let v = &fixtures()[name];
    Array::from_vec(nums(&v["data"]), &shape_of(v))
}

fn cplx(name: &str) -> Complex {
    let v = &fixtures()[name];
    let s = shape_of(v);
    Complex::new(
        &Array::from_vec(nums(&v["re"]), &s),
        &Array::from_vec(nums(&v["im"]), &s),
    )
}

fn vals(x: &Array) -> Vec<f64> {
    x.try_scalars()
        .unwrap()
        .iter()
        .map(|s| s.as_f64())
        .collect()
}

#[track_caller]
fn close(a: &Array, b: &Array, tol: f64) {
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    close_v(&vals(a), &vals(b), tol);
}

#[track_caller]
fn close_c(a: &Complex, b: &Complex, tol: f64) {
    close(&a.re, &b.re, tol);
    close(&a.im, &b.im, tol);
}

fn rand(shape: &[usize], seed: u64, dtype: DType) -> Array {
    let n = shape.iter().product();
    let v = uniform(n, seed);
    if dtype == DType::F32 {
        Array::from_vec(v.iter().map(|&x| x as f32).collect(), shape)
    } else {
        Array::from_vec(v, shape)
    }
}

fn rand_c(shape: &[usize], seed: u64, dtype: DType) -> Complex {
    Complex::new(&rand(shape, seed, dtype), &rand(shape, seed + 1, dtype))
}

// ---- values against NumPy ------------------------------------------------------

#[test]
fn one_dimensional_transforms_match_numpy() {
    on_embedded(|| {
        for n in [8, 12, 7, 1, 2, 30] {
            let x = cplx(&format!("x{n}"));
            close_c(&fft::fft(&x, None, -1), &cplx(&format!("fft{n}")), 1e-12);
            close_c(&fft::ifft(&x, None, -1), &cplx(&format!("ifft{n}")), 1e-12);
        }
        let x = cplx("xpad");
        close_c(&fft::fft(&x, Some(12), -1), &cplx("fft_n12"), 1e-12);
        close_c(&fft::fft(&x, Some(5), 0), &cplx("fft_n5"), 1e-12);
        let r = real("r10");
        close_c(&fft::rfft(&r, None, -1), &cplx("rfft10"), 1e-12);
        close_c(&fft::rfft(&r, None, 0), &cplx("rfft10_axis0"), 1e-12);
        let spec = cplx("spec");
        close(&fft::irfft(&spec, None, -1), &real("irfft_default"), 1e-12);
        close(&fft::irfft(&spec, Some(11), -1), &real("irfft_n11"), 1e-12);
    });
}

#[test]
fn n_dimensional_transforms_match_numpy() {
    on_embedded(|| {
        let m2 = cplx("m2");
        close_c(&fft::fft2(&m2, None, None), &cplx("fft2d"), 1e-12);
        close_c(&fft::ifft2(&m2, None, None), &cplx("ifft2d"), 1e-12);
        let t3 = real("t3");
        close_c(&fft::rfftn(&t3, None, None), &cplx("rfftn"), 1e-12);
        close_c(&fft::rfft2(&t3, None, None), &cplx("rfft2"), 1e-12);
        close_c(
            &fft::fftn(&Complex::from_real(&t3), None, Some(&[0, 2])),
            &cplx("fftn_axes"),
            1e-12,
        );
        let spec = fft::rfftn(&t3, None, None);
        close(
            &fft::irfftn(&spec, Some(&[3, 4, 8]), Some(&[0, 1, 2])),
            &real("irfftn_s"),
            1e-12,
        );
        close(
            &fft::irfft2(&fft::rfft2(&t3, None, None), None, None),
            &real("irfft2"),
            1e-12,
        );
        close(
            &fft::ifftn(&fft::fftn(&m2, None, None), None, None).re,
            &m2.re,
            1e-12,
        );
    });
}

#[test]
fn frequencies_and_shifts_match_numpy() {
    on_embedded(|| {
        close(&fft::fftfreq(7, 0.1, DType::F64), &real("fftfreq7"), 1e-15);
        close(&fft::fftfreq(8, 1.0, DType::F64), &real("fftfreq8"), 1e-15);
        close(
            &fft::rfftfreq(9, 2.0, DType::F64),
            &real("rfftfreq9"),
            1e-15,
        );
        assert_eq!(fft::fftfreq(4, 1.0, DType::F32).dtype(), DType::F32);
        let x = Array::arange(0.0, 12.0, 1.0, DType::F64).reshape(&[3, 4]);
        close(&fft::fftshift(&x, None), &real("fftshift"), 0.0);
        close(&fft::ifftshift(&x, None), &real("ifftshift"), 0.0);
        close(&fft::fftshift(&x, Some(&[1])), &real("fftshift_axis1"), 0.0);
        close(&fft::ifftshift(&fft::fftshift(&x, None), None), &x, 0.0);
        // A Complex shifts through Tree::map.
        let z = Complex::new(&x, &(-&x));
        let zs = z.map(|a| fft::fftshift(a, None));
        close(&zs.im, &(-fft::fftshift(&x, None)), 0.0);
    });
}

// ---- properties ------------------------------------------------------------------

#[test]
fn round_trips_and_parseval() {
    on_embedded(|| {
        for dtype in [DType::F32, DType::F64] {
            let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
            for n in [16, 24, 9, 64] {
                let x = rand_c(&[3, n], n as u64, dtype);
                let y = fft::fft(&x, None, -1);
                assert_eq!(y.re.dtype(), dtype);
                close_c(&fft::ifft(&y, None, -1), &x, tol);
                // Parseval: Σ|x|² = Σ|X|² / n.
                let ex = (&x.re * &x.re + &x.im * &x.im).sum(-1, false);
                let ey = (&y.re * &y.re + &y.im * &y.im).sum(-1, false) / n as f64;
                close(&ex, &ey, tol * 10.0);
                let r = rand(&[2, n], 3 * n as u64, dtype);
                close(&fft::irfft(&fft::rfft(&r, None, -1), Some(n), -1), &r, tol);
                // Along axis 0, and linear: fft(2x + z) = 2 fft(x) + fft(z).
                let z = rand_c(&[3, n], 5 * n as u64, dtype);
                let lhs = fft::fft(&x.scale(2.0).add(&z), None, 0);
                let rhs = fft::fft(&x, None, 0).scale(2.0).add(&fft::fft(&z, None, 0));
                close_c(&lhs, &rhs, tol * 10.0);
            }
        }
    });
}

#[test]
fn real_input_gives_hermitian_spectrum() {
    on_embedded(|| {
        let n = 12;
        let r = rand(&[n], 77, DType::F64);
        let y = fft::fft(&Complex::from_real(&r), None, -1);
        let (re, im) = (vals(&y.re), vals(&y.im));
        for k in 1..n {
            assert!((re[k] - re[n - k]).abs() < 1e-12 && (im[k] + im[n - k]).abs() < 1e-12);
        }
        close_v(&vals(&fft::rfft(&r, None, 0).re), &re[..n / 2 + 1], 1e-15);
    });
}

// ---- transformations ------------------------------------------------------------------

#[test]
fn gradients_match_finite_differences() {
    on_embedded(|| {
        let w = |shape: &[usize], seed| rand(shape, seed, DType::F64);
        for n in [8, 6, 5] {
            let x = rand(&[2, n], n as u64, DType::F64);
            // A non-linear function of the spectrum: Σ w |X|².
            let wn = w(&[2, n], 100 + n as u64);
            check_grad(
                "fft",
                |x| {
                    let y = fft::fft(&Complex::new(x, &(x * 0.5)), None, -1);
                    ((&y.re * &y.re + &y.im * &y.im) * &wn).sum(Axes::All, false)
                },
                &x,
            );
            let wr = w(&[2, n / 2 + 1], 200 + n as u64);
            check_grad(
                "rfft",
                |x| {
                    let y = fft::rfft(x, None, -1);
                    ((&y.re * &wr) + (&y.im * &y.im)).sum(Axes::All, false)
                },
                &x,
            );
            let wi = w(&[2, n], 300 + n as u64);
            check_grad(
                "irfft",
                |x| {
                    let m = n / 2 + 1;
                    let s = x.slice(&[
                        oxjax::Slice::all(),
                        oxjax::Slice {
                            start: Some(0),
                            stop: Some(m as isize),
                            step: 1,
                        },
                    ]);
                    let y = fft::irfft(&Complex::new(&s, &(&s * &s)), Some(n), -1);
                    (&y * &y * &wi).sum(Axes::All, false)
                },
                &x,
            );
        }
        let t = rand(&[3, 4], 9, DType::F64);
        let wt = w(&[3, 3], 10);
        check_grad(
            "rfftn",
            |x| {
                let y = fft::rfftn(x, None, None);
                ((&y.re * &y.re - &y.im) * &wt).sum(Axes::All, false)
            },
            &t,
        );
    });
}

#[test]
fn vmap_and_jit_match_eager() {
    on_embedded(|| {
        let x = rand_c(&[4, 12], 1, DType::F32);
        let f = |z: &Complex| fft::fft(z, None, -1);
        let v = vmap(f)(&x);
        let eager = f(&x);
        close_c(&v, &eager, 1e-6);
        let rows: Vec<Complex> = (0..4)
            .map(|i| {
                let row = |a: &Array| {
                    a.slice(&[oxjax::Slice {
                        start: Some(i),
                        stop: Some(i + 1),
                        step: 1,
                    }])
                };
                f(&x.map(row))
            })
            .collect();
        for (i, r) in rows.iter().enumerate() {
            close_v(&vals(&r.re), &vals(&eager.re)[i * 12..(i + 1) * 12], 1e-6);
        }
        let g = |z: &Complex| fft::irfft(&fft::fft2(z, None, None), Some(12), -1);
        close(&jit(g)(&x), &g(&x), 1e-5);
        let k = oxjax::lower(
            |z: &Complex| fft::fft(z, None, -1),
            &rand_c(&[1024], 2, DType::F32),
        )
        .kernel_count();
        // One routine call plus the packing and unpacking kernels.
        assert!(k <= 4, "a 1024-point fft under jit runs {k} kernels");
        // A transform is one equation (the packing is a concatenation).
        let text = oxjax::make_jaxpr(|z: &Complex| fft::fft(z, None, -1))(&x).to_string();
        assert_eq!(text.matches("fft[fft_type=FFT").count(), 1, "{text}");
    });
}

#[test]
fn every_device_agrees_with_embedded() {
    let x0 = on_embedded(|| rand_c(&[2, 64], 3, DType::F32));
    let y0 = on_embedded(|| rand_c(&[3, 12], 4, DType::F32));
    let run = |dev: &Device| {
        with_default_device(dev, || {
            let x = x0.map(|a| a.device_put(dev));
            let y = y0.map(|a| a.device_put(dev));
            let a = fft::fft(&x, None, -1);
            let b = fft::ifft2(&y, None, None);
            let c = fft::irfft(&fft::rfft(&x.re, None, -1), Some(64), -1);
            [a.re, a.im, b.re, b.im, c]
                .iter()
                .map(vals)
                .collect::<Vec<_>>()
        })
    };
    let want = run(&registry().device("embedded").unwrap());
    for dev in plugin_devices() {
        for (g, w) in run(&dev).iter().zip(&want) {
            close_v(g, w, 1e-4);
        }
    }
}

#[test]
fn bad_arguments_are_named() {
    on_embedded(|| {
        let msg = |f: Box<dyn FnOnce() + std::panic::UnwindSafe>| {
            let e = std::panic::catch_unwind(f).expect_err("expected a panic");
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        };
        let x = Complex::from_real(&Array::zeros(&[4], DType::F32));
        let m = msg(Box::new(move || drop(fft::fft(&x, None, 1))));
        assert!(m.contains("fft") && m.contains("axis 1"), "{m}");
        let m = msg(Box::new(|| {
            drop(fft::rfft(&Array::scalar(1.0f32), None, -1))
        }));
        assert!(m.contains("rfft") && m.contains("scalar"), "{m}");
        let z = Complex::from_real(&Array::zeros(&[2, 4], DType::F32));
        let m = msg(Box::new(move || {
            drop(fft::fftn(&z, Some(&[4]), Some(&[0, 1])))
        }));
        assert!(m.contains("fftn") && m.contains("same length"), "{m}");
    });
}
