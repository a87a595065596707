//! Control flow (`cond`, `switch`, `while_loop`, `fori_loop`, `scan`) and
//! host effects (`debug_print`, `io_callback`, `pure_callback`): values
//! against closed forms and loops on the host, derivatives against finite
//! differences, vmap against per-lane loops, jit against eager, on the
//! embedded reference and on every plugin of plugins.toml.

use oxjax::{
    Array, Axes, DType, Registry, capture_debug_output, debug_print, grad, io_callback, jit, jvp,
    lax, make_jaxpr, pure_callback, try_jit, vmap, with_default_device,
};
use std::sync::{Arc, Mutex};
mod common;
use common::{fd_grad, on_embedded};

/// Runs `f` on the embedded device and on every plugin of plugins.toml.
fn on_every_device(f: impl Fn(&str)) {
    let file = oxjax::config_file().expect("no plugins.toml (OXJAX_PLUGINS or upward)");
    let reg = Registry::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    for dev in &reg.try_devices().unwrap_or_else(|e| panic!("{e}")) {
        with_default_device(dev, || f(dev.name()));
    }
}

fn f64s(v: &[f64]) -> Array {
    Array::from_vec(v.to_vec(), &[v.len()])
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

fn values(a: &Array) -> Vec<f64> {
    if a.dtype() == DType::F64 {
        a.to_vec::<f64>()
    } else {
        a.astype(DType::F32)
            .to_vec::<f32>()
            .into_iter()
            .map(f64::from)
            .collect()
    }
}

#[test]
fn jitted_fori_loop_sum_equals_the_closed_form() {
    on_every_device(|dev| {
        let f = jit(|n: &Array| {
            lax::fori_loop(
                0,
                100,
                |i, s: &Array| s + &(i.astype(DType::F32) * n),
                &Array::scalar(0.0f32),
            )
        });
        // sum_{i<100} i*n = 4950 n
        let got = f(&Array::scalar(2.0f32)).item::<f32>();
        assert_eq!(got, 9900.0, "{dev}");
        // The program is cached: a second call gives the same.
        assert_eq!(f(&Array::scalar(1.0f32)).item::<f32>(), 4950.0, "{dev}");
    });
}

/// Loops without stacked outputs run on buffers bound once (carries in two
/// alternating sets, the step index carried on the device); these check
/// that path against a loop on the host, forwards and in reverse, with a
/// carry passed through unchanged (which takes the general path).
#[test]
fn loops_on_bound_buffers_equal_a_host_loop() {
    on_every_device(|dev| {
        let v0: Vec<f32> = (0..16).map(|i| (i as f32 * 0.7).cos()).collect();
        let xs: Vec<f32> = (0..40).map(|i| (i as f32 * 0.31).sin()).collect();
        let v = Array::from_vec(v0.clone(), &[16]);
        let f = jit(|v: &Array| {
            lax::fori_loop(
                3,
                300,
                |i, (v, s): &(Array, Array)| {
                    let v2 = v * 0.99 + v.sin() * 0.01 + i.astype(DType::F32) * 1e-3;
                    let s2 = s + &v2.sum(Axes::All, false);
                    (v2, s2)
                },
                &(v.clone(), Array::scalar(0.0f32)),
            )
        });
        let (gv, gs) = f(&v);
        let (mut hv, mut hs) = (v0.clone(), 0.0f32);
        for i in 3..300 {
            for x in hv.iter_mut() {
                *x = *x * 0.99 + x.sin() * 0.01 + i as f32 * 1e-3;
            }
            hs += hv.iter().sum::<f32>();
        }
        let gv = gv.to_vec::<f32>();
        for (g, h) in gv.iter().zip(&hv) {
            assert!(
                (g - h).abs() <= 1e-4 * h.abs().max(1.0),
                "{dev}: {g} vs {h}"
            );
        }
        let gs = gs.item::<f32>();
        assert!((gs - hs).abs() <= 1e-4 * hs.abs(), "{dev}: {gs} vs {hs}");

        // Reverse scan without ys; the second carry passes through.
        let xa = Array::from_vec(xs.clone(), &[40]);
        let g = jit(|(c, k, xs): &(Array, Array, Array)| {
            lax::scan(
                |(c, k): &(Array, Array), x: &Array| ((c * 0.5 + x * k, k.clone()), ()),
                &(c.clone(), k.clone()),
                xs,
                None,
                true,
            )
            .0
        });
        let (c, k) = g(&(Array::scalar(1.0f32), Array::scalar(3.0f32), xa));
        let mut hc = 1.0f32;
        for x in xs.iter().rev() {
            hc = hc * 0.5 + x * 3.0;
        }
        assert!((c.item::<f32>() - hc).abs() <= 1e-5, "{dev}");
        assert_eq!(k.item::<f32>(), 3.0, "{dev}");
    });
}

/// A `fori_loop` on bound buffers is one `execute_loop` call into the
/// backend (iteration 0, then a body of two iterations for the rest): its
/// result equals the same compiled step run one program call per step (the
/// path `profile` forces) bit for bit, at trip counts 0 to 3, 8 and 51, with
/// the same number of kernel launches.
#[test]
fn fori_loop_in_the_backend_equals_the_step_by_step_loop() {
    let file = oxjax::config_file().expect("no plugins.toml (OXJAX_PLUGINS or upward)");
    let reg = Registry::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    for dev in &reg.try_devices().unwrap_or_else(|e| panic!("{e}")) {
        with_default_device(dev, || {
            let v0: Vec<f32> = (0..16).map(|i| (i as f32 * 0.3).sin()).collect();
            let v = Array::from_vec(v0, &[16]);
            for n in [0, 1, 2, 3, 8, 51] {
                let f = jit(move |v: &Array| {
                    lax::fori_loop(
                        0,
                        n,
                        |i, (v, s): &(Array, Array)| {
                            let v2 = v * 0.9 + v.cos() * 0.1 + i.astype(DType::F32) * 1e-2;
                            let s2 = s + &v2.max(Axes::All, false);
                            (v2, s2)
                        },
                        &(v.clone(), Array::scalar(0.5f32)),
                    )
                });
                let bits = |(v, s): (Array, Array)| {
                    let mut b: Vec<u32> = v.to_vec::<f32>().iter().map(|x| x.to_bits()).collect();
                    b.push(s.item::<f32>().to_bits());
                    b
                };
                let _ = f(&v); // compiled, so both runs below only launch
                let before = dev.kernel_launches();
                let looped = bits(f(&v));
                let in_backend = dev.kernel_launches() - before;
                let before = dev.kernel_launches();
                let (stepped, _) = oxjax::profile(|| bits(f(&v)));
                let by_step = dev.kernel_launches() - before;
                assert_eq!(looped, stepped, "{}: {n} steps", dev.name());
                assert_eq!(in_backend, by_step, "{}: {n} steps, launches", dev.name());
            }
        });
    }
}

#[test]
fn scan_cumulative_sum_equals_cumsum() {
    on_every_device(|dev| {
        let data: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let xs = Array::from_vec(data.clone(), &[37]);
        let cumsum = |c: &Array, x: &Array| {
            let s = c + x;
            (s.clone(), s)
        };
        let mut acc = 0.0f32;
        let want: Vec<f32> = data
            .iter()
            .map(|x| {
                acc += x;
                acc
            })
            .collect();
        let (total, ys) = lax::scan(cumsum, &Array::scalar(0.0f32), &xs, None, false);
        assert_eq!(ys.to_vec::<f32>(), want, "{dev}: eager");
        // The same as the cumsum primitive (sequential f32 sums on both).
        assert_eq!(
            ys.to_vec::<f32>(),
            oxjax::numpy::cumsum(&xs, None).to_vec::<f32>(),
            "{dev}"
        );
        assert_eq!(total.item::<f32>(), acc, "{dev}: eager total");
        let jitted = jit(|xs: &Array| lax::scan(cumsum, &Array::scalar(0.0f32), xs, None, false).1);
        assert_eq!(jitted(&xs).to_vec::<f32>(), want, "{dev}: jit");
        // reverse = suffix sums, aligned with the inputs.
        let (_, rs) = lax::scan(cumsum, &Array::scalar(0.0f32), &xs, None, true);
        let mut acc = 0.0f32;
        let mut want_r: Vec<f32> = data
            .iter()
            .rev()
            .map(|x| {
                acc += x;
                acc
            })
            .collect();
        want_r.reverse();
        assert_eq!(rs.to_vec::<f32>(), want_r, "{dev}: reverse");
    });
}

#[test]
fn scan_over_pytrees_with_stacked_outputs_and_length() {
    on_embedded(|| {
        // Fibonacci with a tuple carry and no xs.
        let ((a, _), fib) = lax::scan(
            |(a, b): &(Array, Array), _: &()| ((b.clone(), a + b), a.clone()),
            &(Array::scalar(0i32), Array::scalar(1i32)),
            &(),
            Some(10),
            false,
        );
        assert_eq!(fib.to_vec::<i32>(), vec![0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
        assert_eq!(a.item::<i32>(), 55);
        // Matrix rows as xs, two outputs per step.
        let m = Array::arange(0.0, 6.0, 1.0, DType::F32).reshape(&[3, 2]);
        let (_, (sums, maxes)) = lax::scan(
            |c: &Array, row: &Array| {
                (
                    c.clone(),
                    (row.sum(Axes::All, false), row.max(Axes::All, false)),
                )
            },
            &Array::scalar(0.0f32),
            &m,
            None,
            false,
        );
        assert_eq!(sums.to_vec::<f32>(), vec![1.0, 5.0, 9.0]);
        assert_eq!(maxes.to_vec::<f32>(), vec![1.0, 3.0, 5.0]);
    });
}

/// A nonlinear recurrence with a captured parameter: h <- tanh(w*h + x).
fn rnn(params: &Array) -> Array {
    let w = params.slice(&[(0..1).into()]).reshape(&[]);
    let xs = params.slice(&[(1..).into()]);
    let (h, ys) = lax::scan(
        |h: &Array, x: &Array| {
            let h2 = (&w * h + x).tanh();
            (h2.clone(), &h2 * &h2)
        },
        &Array::scalar(0.5f64),
        &xs,
        None,
        false,
    );
    h + ys.sum(Axes::All, false)
}

#[test]
fn grad_through_scan_matches_finite_differences() {
    on_embedded(|| {
        let p = [0.8, 0.3, -0.2, 0.5, 0.1, -0.7];
        let g = values(&grad(rnn)(&f64s(&p)));
        assert_close(&g, &fd_grad(&rnn, &f64s(&p)), 1e-6, "grad(scan)");
        // The same under jit, and reverse-mode through a reversed scan.
        let gj = values(&jit(grad(rnn))(&f64s(&p)));
        assert_close(&gj, &g, 1e-9, "jit(grad(scan))");
        let rev = |p: &Array| {
            let (c, _) = lax::scan(
                |c: &Array, x: &Array| ((c * x).sin() + x, ()),
                &Array::scalar(0.3f64),
                p,
                None,
                true,
            );
            c
        };
        assert_close(
            &values(&grad(rev)(&f64s(&p))),
            &fd_grad(&rev, &f64s(&p)),
            1e-6,
            "grad(reverse scan)",
        );
        // Forward mode agrees with reverse mode.
        let v = f64s(&[1.0, 0.0, 0.5, 0.0, -1.0, 2.0]);
        let (_, t) = jvp(rnn, &f64s(&p), &v);
        let dot: f64 = g.iter().zip(values(&v)).map(|(a, b)| a * b).sum();
        assert!((t.item::<f64>() - dot).abs() < 1e-9, "jvp vs grad");
    });
}

#[test]
fn grad_through_fori_loop_and_cond() {
    on_embedded(|| {
        // x <- x - 0.1 * sin(x) ten times, then a branch on the result.
        let f = |x: &Array| {
            let y = lax::fori_loop(0, 10, |_, x: &Array| x - &(x.sin() * 0.1), x);
            lax::cond(
                &y.sum(Axes::All, false).greater(0.0),
                |y: &Array| (y * y).sum(Axes::All, false),
                |y: &Array| y.exp().sum(Axes::All, false),
                &y,
            )
        };
        for p in [[0.4, 1.3, -0.2], [-2.0, -1.0, 0.5]] {
            let g = values(&grad(f)(&f64s(&p)));
            assert_close(&g, &fd_grad(&f, &f64s(&p)), 1e-6, "grad(fori+cond)");
            let gj = values(&jit(grad(f))(&f64s(&p)));
            assert_close(&gj, &g, 1e-9, "jit(grad(fori+cond))");
        }
    });
}

#[test]
fn switch_picks_clamped_branches_under_jit_and_vmap() {
    on_every_device(|dev| {
        let fs: [&dyn Fn(&Array) -> Array; 3] = [&|x| x + 1.0, &|x| x * 10.0, &|x| -x];
        let f = |(i, x): &(Array, Array)| lax::switch(i, &fs, x);
        let x = Array::scalar(2.0f32);
        for (i, want) in [(-5, 3.0), (0, 3.0), (1, 20.0), (2, -2.0), (9, -2.0)] {
            let args = (Array::scalar(i), x.clone());
            assert_eq!(f(&args).item::<f32>(), want, "{dev}: eager {i}");
            assert_eq!(jit(f)(&args).item::<f32>(), want, "{dev}: jit {i}");
        }
        // A batched index selects per lane.
        let idx = Array::from_vec(vec![0i32, 1, 2, 1], &[4]);
        let xs = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]);
        let out = vmap(f)(&(idx, xs));
        assert_eq!(
            out.to_vec::<f32>(),
            vec![2.0, 20.0, -3.0, 40.0],
            "{dev}: vmap"
        );
    });
}

#[test]
fn vmap_of_while_loop_runs_each_lane_its_own_trip_count() {
    on_every_device(|dev| {
        // Collatz steps to reach 1, per lane.
        let steps = |n: &Array| {
            let (_, k) = lax::while_loop(
                |(n, _): &(Array, Array)| n.greater(1),
                |(n, k): &(Array, Array)| {
                    let even = n.remainder(2).equal(0);
                    (Array::where_(&even, n.floor_divide(2), n * 3 + 1), k + 1)
                },
                &(n.clone(), Array::scalar(0i32)),
            );
            k
        };
        let ns = [1i32, 2, 3, 6, 7, 27];
        let want: Vec<i32> = ns
            .iter()
            .map(|&n| {
                let (mut n, mut k) = (n, 0);
                while n > 1 {
                    n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
                    k += 1;
                }
                k
            })
            .collect();
        let batch = Array::from_vec(ns.to_vec(), &[ns.len()]);
        assert_eq!(vmap(steps)(&batch).to_vec::<i32>(), want, "{dev}: vmap");
        assert_eq!(
            jit(vmap(steps))(&batch).to_vec::<i32>(),
            want,
            "{dev}: jit(vmap)"
        );
        assert_eq!(
            steps(&Array::scalar(27i32)).item::<i32>(),
            111,
            "{dev}: eager"
        );
    });
}

#[test]
fn while_loop_differentiates_forward_but_refuses_reverse() {
    on_embedded(|| {
        // Doubling until above 10: d/dx of x * 2^k with k fixed by the data.
        let f = |x: &Array| lax::while_loop(|x: &Array| x.less(10.0), |x: &Array| x * 2.0, x);
        let (y, t) = jvp(f, &Array::scalar(1.5f64), &Array::scalar(1.0f64));
        assert_eq!((y.item::<f64>(), t.item::<f64>()), (12.0, 8.0));
        let err = std::panic::catch_unwind(|| grad(f)(&Array::scalar(1.5f64)))
            .expect_err("grad of while_loop must fail");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("while_loop") && msg.contains("fori_loop"),
            "{msg}"
        );
    });
}

#[test]
fn misuse_is_reported_with_shapes() {
    on_embedded(|| {
        let e = lax::try_while_loop(
            |x: &Array| x.sum(Axes::All, false).less(3.0),
            |x: &Array| Array::concatenate(&[x, x], 0),
            &Array::from_vec(vec![1.0f32], &[1]),
        )
        .expect_err("a growing carry is refused")
        .to_string();
        assert!(
            e.contains("while_loop") && e.contains("f32[1]") && e.contains("f32[2]"),
            "{e}"
        );
        let e = lax::try_scan(
            |c: &Array, x: &(Array, Array)| (c.clone(), &x.0 + &x.1),
            &Array::scalar(0.0f32),
            &(
                Array::zeros(&[3], DType::F32),
                Array::zeros(&[4], DType::F32),
            ),
            None,
            false,
        )
        .expect_err("xs of different lengths are refused")
        .to_string();
        assert!(e.contains("scan") && e.contains("f32[4]"), "{e}");
        let fs: [&dyn Fn(&Array) -> Array; 2] = [&|x| x.clone(), &|x| x.sum(Axes::All, false)];
        let e = lax::try_switch(
            &Array::scalar(0i32),
            &fs,
            &Array::zeros(&[2], DType::F32).stop_gradient(),
        )
        .map(|_| ())
        .err();
        // Eagerly the chosen branch runs without tracing the others.
        assert!(e.is_none());
        let x = Array::zeros(&[2], DType::F32);
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            jit(|x: &Array| lax::switch(&Array::scalar(0i32), &fs, x))(&x)
        }))
        .expect_err("branches of different shapes are refused");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("branch 1") && msg.contains("f32[2]") && msg.contains("f32[]"),
            "{msg}"
        );
    });
}

#[test]
fn debug_print_prints_in_order_under_jit_vmap_and_grad() {
    on_embedded(|| {
        let f = |x: &Array| {
            debug_print("x = {}", &[x]);
            let y = x.sin();
            debug_print("y = {}", &[&y]);
            y.sum(Axes::All, false)
        };
        let x = Array::from_vec(vec![0.0f64, 1.0], &[2]);
        let (_, eager) = capture_debug_output(|| f(&x));
        let (_, jitted) = capture_debug_output(|| jit(f)(&x));
        assert_eq!(jitted, eager);
        assert!(
            eager.starts_with("x = [0") && eager.contains("\ny = [0"),
            "{eager}"
        );
        // grad prints the forward pass's values once.
        let (_, g) = capture_debug_output(|| jit(grad(f))(&x));
        assert_eq!(g, eager);
        // vmap prints per lane: x then y for each lane, in lane order.
        let m = Array::from_vec(vec![0.0f64, 1.0, 2.0, 3.0], &[2, 2]);
        let (_, v) = capture_debug_output(|| jit(vmap(f))(&m));
        let lines: Vec<&str> = v.lines().collect();
        assert_eq!(lines.len(), 4, "{v}");
        assert!(
            lines[0].starts_with("x = [0") && lines[1].starts_with("x = [2"),
            "{v}"
        );
        assert!(
            lines[2].starts_with("y = [0") && lines[3].starts_with("y = [0.9"),
            "{v}"
        );
        // Inside a loop, every iteration prints, in order.
        let (_, l) = capture_debug_output(|| {
            jit(|x: &Array| {
                lax::fori_loop(
                    0,
                    3,
                    |i, x: &Array| {
                        debug_print("step {}", &[i]);
                        x + 1.0
                    },
                    x,
                )
            })(&Array::scalar(0.0f32))
        });
        assert_eq!(l, "step 0\nstep 1\nstep 2\n");
    });
}

#[test]
fn io_callback_sees_every_call_in_order() {
    on_every_device(|dev| {
        let log: Arc<Mutex<Vec<f32>>> = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let f = jit(move |x: &Array| {
            let sink = sink.clone();
            let record = move |v: &Array| {
                sink.lock().unwrap().push(v.item::<f32>());
            };
            // The results are unused: effects still run, in program order.
            let r = record.clone();
            io_callback("first", move |v: &Array| r(v), &(), x, true);
            io_callback("second", move |v: &Array| record(&(v * 10.0)), &(), x, true);
            x * 2.0
        });
        for i in 0..3 {
            f(&Array::scalar(i as f32));
        }
        assert_eq!(
            *log.lock().unwrap(),
            vec![0.0, 0.0, 1.0, 10.0, 2.0, 20.0],
            "{dev}"
        );
    });
}

#[test]
fn pure_callbacks_are_removed_when_unused_and_checked_when_used() {
    on_embedded(|| {
        let calls = Arc::new(Mutex::new(0));
        let c = calls.clone();
        let host_square = move |v: &Array| {
            *c.lock().unwrap() += 1;
            let d: Vec<f32> = v.to_vec::<f32>().iter().map(|a| a * a).collect();
            Array::from_vec(d, v.shape())
        };
        let h = host_square.clone();
        let unused = jit(move |x: &Array| {
            let _ = pure_callback("sq", h.clone(), x, x);
            x + 1.0
        });
        let x = Array::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
        unused(&x);
        assert_eq!(
            *calls.lock().unwrap(),
            0,
            "an unused pure_callback is removed"
        );
        let used = jit(move |x: &Array| pure_callback("sq", host_square.clone(), x, x) + 1.0);
        assert_eq!(used(&x).to_vec::<f32>(), vec![2.0, 5.0, 10.0]);
        assert_eq!(*calls.lock().unwrap(), 1);
        // vmap calls it once per lane.
        let m = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
        let lanes = vmap(|x: &Array| pure_callback("neg", |v: &Array| -v, x, x))(&m);
        assert_eq!(lanes.to_vec::<f32>(), vec![-1.0, -2.0, -3.0, -4.0]);
    });
}

#[test]
fn a_callback_with_the_wrong_shape_or_a_panic_is_an_error() {
    on_embedded(|| {
        let wrong = try_jit(|x: &Array| {
            pure_callback("bad_shape", |v: &Array| v.sum(Axes::All, false), x, x)
        });
        let e = wrong(&Array::zeros(&[3], DType::F32))
            .expect_err("shape mismatch")
            .to_string();
        assert!(
            e.contains("bad_shape") && e.contains("f32[]") && e.contains("f32[3]"),
            "{e}"
        );
        let panics = try_jit(|x: &Array| {
            io_callback(
                "boom",
                |_: &Array| -> Array { panic!("host exploded") },
                x,
                x,
                true,
            )
        });
        let e = panics(&Array::zeros(&[2], DType::F32))
            .expect_err("panic")
            .to_string();
        assert!(
            e.contains("host exploded") && e.contains("io_callback"),
            "{e}"
        );
        // The process and the library keep working afterwards.
        assert_eq!(
            jit(|x: &Array| x + 1.0)(&Array::scalar(1.0f32)).item::<f32>(),
            2.0
        );
    });
}

#[test]
fn effects_and_loops_are_visible_in_the_jaxpr() {
    on_embedded(|| {
        let f = |x: &Array| {
            debug_print("x={}", &[x]);
            let y = io_callback("log", |v: &Array| v.clone(), x, x, true);
            lax::fori_loop(0, 4, |_, c: &Array| c * 2.0, &y)
        };
        let text = make_jaxpr(f)(&Array::scalar(1.0f32)).to_string();
        assert!(
            text.contains("debug_callback") && text.contains("effect=Debug"),
            "{text}"
        );
        assert!(
            text.contains("io_callback") && text.contains("effect=IO"),
            "{text}"
        );
        assert!(text.contains("scan[length=4"), "{text}");
    });
}

#[test]
fn loops_and_branches_agree_on_every_device() {
    // A heavier body: a few Newton steps for sqrt inside a scan over rows.
    on_every_device(|dev| {
        let data: Vec<f32> = (1..=12).map(|i| i as f32 * 0.75).collect();
        let xs = Array::from_vec(data.clone(), &[4, 3]);
        let f = |xs: &Array| {
            lax::scan(
                |c: &Array, row: &Array| {
                    let r = lax::fori_loop(
                        0,
                        8,
                        |_, g: &Array| (g + &(row / g)) * 0.5,
                        &row.ones_like(),
                    );
                    let big = lax::cond(
                        &r.sum(Axes::All, false).greater(5.0),
                        |r: &Array| r * 2.0,
                        |r: &Array| r.clone(),
                        &r,
                    );
                    (c + &big.sum(Axes::All, false), big)
                },
                &Array::scalar(0.0f32),
                xs,
                None,
                false,
            )
        };
        let (te, ye) = f(&xs);
        let (tj, yj) = jit(f)(&xs);
        assert_close(&values(&ye), &values(&yj), 1e-6, dev);
        assert_close(
            &[te.item::<f32>() as f64],
            &[tj.item::<f32>() as f64],
            1e-6,
            dev,
        );
        let want: Vec<f64> = data
            .chunks(3)
            .flat_map(|row| {
                let s: f64 = row.iter().map(|&v| (v as f64).sqrt()).sum();
                let k = if s > 5.0 { 2.0 } else { 1.0 };
                row.iter()
                    .map(move |&v| k * (v as f64).sqrt())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_close(&values(&yj), &want, 1e-5, dev);
    });
}

#[test]
fn scan_composes_with_vmap_of_grad_and_second_derivatives() {
    on_embedded(|| {
        let p = [0.8, 0.3, -0.2, 0.5, 0.1, -0.7];
        // vmap(grad) equals per-lane grads.
        let q = [0.5, -0.1, 0.4, 0.2, 0.3, 0.9];
        let both = Array::from_vec([p, q].concat(), &[2, 6]);
        let g = values(&vmap(grad(rnn))(&both));
        let want = [values(&grad(rnn)(&f64s(&p))), values(&grad(rnn)(&f64s(&q)))].concat();
        assert_close(&g, &want, 1e-9, "vmap(grad(scan))");
        // The Hessian (forward over reverse) against differences of the gradient.
        let h = values(&oxjax::hessian(rnn)(&f64s(&p)));
        let eps = 1e-5;
        for i in 0..p.len() {
            let (mut a, mut b) = (p.to_vec(), p.to_vec());
            a[i] += eps;
            b[i] -= eps;
            let (ga, gb) = (values(&grad(rnn)(&f64s(&a))), values(&grad(rnn)(&f64s(&b))));
            let col: Vec<f64> = ga
                .iter()
                .zip(&gb)
                .map(|(x, y)| (x - y) / (2.0 * eps))
                .collect();
            let row: Vec<f64> = (0..p.len()).map(|j| h[j * p.len() + i]).collect();
            assert_close(&row, &col, 1e-5, "hessian(scan)");
        }
    });
}

#[test]
fn a_loop_body_prints_once_per_step_under_grad() {
    on_embedded(|| {
        let f = |x: &Array| {
            lax::fori_loop(
                0,
                3,
                |i, c: &Array| {
                    debug_print("step {}", &[i]);
                    (c * 1.5).sin()
                },
                x,
            )
        };
        let (_, plain) = capture_debug_output(|| f(&Array::scalar(0.5f64)));
        assert_eq!(plain, "step 0\nstep 1\nstep 2\n");
        let (_, g) = capture_debug_output(|| grad(f)(&Array::scalar(0.5f64)));
        assert_eq!(g, plain, "grad prints the forward steps once");
        let (_, gj) = capture_debug_output(|| jit(grad(f))(&Array::scalar(0.5f64)));
        assert_eq!(gj, plain, "jit(grad) prints the forward steps once");
    });
}
