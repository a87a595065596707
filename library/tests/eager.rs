//! Eager arrays: values checked against hand-computed results and a host
//! model of movement ops, kernel counts, promotion, and every misuse message.

mod common;
use common::on_embedded;
use oxjax::{Array, Axes, DType, Registry, Slice, f16, with_default_device};
use proptest::prelude::*;

/// Runs `f` on the embedded reference device, independent of plugins.toml.
fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let e = std::panic::catch_unwind(f).expect_err("expected a panic");
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

#[test]
fn arithmetic_broadcasts_and_promotes() {
    on_embedded(|| {
        let x = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let b = Array::from_vec(vec![10i32, 20, 30], &[3]);
        let y = &x + &b;
        assert_eq!(y.dtype(), DType::F32);
        assert_eq!(y.to_vec::<f32>(), vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        let col = Array::from_vec(vec![1.0f32, -1.0], &[2, 1]);
        assert_eq!(
            (&x * &col).to_vec::<f32>(),
            vec![1.0, 2.0, 3.0, -4.0, -5.0, -6.0]
        );
        // Weak scalars adapt; integer true division gives f32.
        let h = Array::from_vec(vec![f16::from_f32(1.5)], &[1]);
        assert_eq!((&h * 2.0).dtype(), DType::F16);
        assert_eq!((&b + 1).dtype(), DType::I32);
        assert_eq!((&b * 0.5).dtype(), DType::F32);
        assert_eq!((&b / &b).to_vec::<f32>(), vec![1.0, 1.0, 1.0]);
        assert_eq!(
            (1.0 - &x.slice(&[(0..1).into()])).to_vec::<f32>(),
            vec![0.0, -1.0, -2.0]
        );
        // NumPy floor division and remainder on negative integers.
        let a = Array::from_vec(vec![-7i32, 7, -7, 7], &[4]);
        let d = Array::from_vec(vec![2i32, -2, -2, 2], &[4]);
        assert_eq!(a.floor_divide(&d).to_vec::<i32>(), vec![-4, -4, 3, 3]);
        assert_eq!((&a % &d).to_vec::<i32>(), vec![1, -1, -1, 1]);
        assert_eq!(a.fmod(&d).to_vec::<i32>(), vec![-1, 1, -1, 1]);
        assert_eq!(
            Array::from_vec(vec![3i32, -2], &[2])
                .power(3)
                .to_vec::<i32>(),
            vec![27, -8]
        );
    });
}

#[test]
fn nan_rules() {
    on_embedded(|| {
        let x = Array::from_vec(vec![1.0f32, f32::NAN, 3.0], &[3]);
        assert!(x.max(Axes::All, false).item::<f32>().is_nan());
        assert_eq!(x.argmax(None).item::<i32>(), 1);
        assert_eq!(x.maximum(2.0).to_vec::<f32>()[2], 3.0);
        assert!(x.maximum(2.0).to_vec::<f32>()[1].is_nan());
        assert_eq!(x.isnan().to_vec::<bool>(), vec![false, true, false]);
        assert_eq!(x.astype(DType::I32).to_vec::<i32>(), vec![1, 0, 3]);
        let big = Array::from_vec(vec![1e10f32, -1e10], &[2]);
        assert_eq!(
            big.astype(DType::I32).to_vec::<i32>(),
            vec![i32::MAX, i32::MIN]
        );
    });
}

#[test]
fn reductions_over_axes() {
    on_embedded(|| {
        let x = Array::arange(0.0, 24.0, 1.0, DType::F32).reshape(&[2, 3, 4]);
        assert_eq!(x.sum(Axes::All, false).item::<f32>(), 276.0);
        let s = x.sum([0, 2], true);
        assert_eq!(s.shape(), &[1, 3, 1]);
        assert_eq!(s.to_vec::<f32>(), vec![60.0, 92.0, 124.0]);
        assert_eq!(
            x.max(-1, false).to_vec::<f32>(),
            vec![3.0, 7.0, 11.0, 15.0, 19.0, 23.0]
        );
        assert_eq!(x.mean(1, false).shape(), &[2, 4]);
        assert_eq!(x.mean(1, false).to_vec::<f32>()[0], 4.0);
        assert_eq!(x.argmin(Some(1)).to_vec::<i32>(), vec![0; 8]);
        let b = Array::from_vec(vec![true, false, true, true], &[2, 2]);
        assert_eq!(b.sum(Axes::All, false).item::<i32>(), 3);
        assert_eq!(b.all(1, false).to_vec::<bool>(), vec![false, true]);
        assert_eq!(b.any(0, false).to_vec::<bool>(), vec![true, true]);
        assert_eq!(
            Array::zeros(&[0], DType::F32)
                .sum(Axes::All, false)
                .item::<f32>(),
            0.0
        );
        assert_eq!(x.prod(Axes::Some(vec![]), false).shape(), x.shape());
    });
}

#[test]
fn matmul_and_dot() {
    on_embedded(|| {
        let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let b = Array::from_vec(vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
        assert_eq!(a.matmul(&b).to_vec::<f32>(), vec![4.0, 5.0, 10.0, 11.0]);
        let v = Array::from_vec(vec![1.0f32, 1.0, 1.0], &[3]);
        assert_eq!(a.dot(&v).to_vec::<f32>(), vec![6.0, 15.0]);
        assert_eq!(v.dot(&v).shape(), &[] as &[usize]);
        // Batched with a broadcast batch axis and a transposed operand.
        let batch = Array::stack_for_test(&a, 2);
        let c = batch.matmul(&a.t());
        assert_eq!(c.shape(), &[2, 2, 2]);
        assert_eq!(c.to_vec::<f32>()[..4], [14.0, 32.0, 32.0, 77.0]);
    });
}

trait StackForTest {
    fn stack_for_test(a: &Array, n: usize) -> Array;
}

impl StackForTest for Array {
    fn stack_for_test(a: &Array, n: usize) -> Array {
        let mut shape = vec![n];
        shape.extend_from_slice(a.shape());
        a.expand_dims(0).broadcast_to(&shape)
    }
}

#[test]
fn movement_builds_no_kernel_and_fuses_into_the_next_op() {
    let reg = Registry::embedded();
    let dev = reg.default_device();
    with_default_device(&dev, || {
        let x = Array::arange(0.0, 12.0, 1.0, DType::F32).reshape(&[3, 4]);
        let before = dev.kernel_launches();
        let v = x
            .t()
            .flip(&[0])
            .slice(&[Slice::all().step(2)])
            .pad(&[(1, 0), (0, 0)], 0.0)
            .reshape(&[-1]);
        let full = Array::full(&[9], 1.0f32);
        assert_eq!(
            dev.kernel_launches(),
            before,
            "movement and full must not launch kernels"
        );
        let y = &v + &full;
        assert_eq!(dev.kernel_launches(), before + 1, "one op, one kernel");
        assert_eq!(
            y.to_vec::<f32>(),
            vec![1.0, 1.0, 1.0, 4.0, 8.0, 12.0, 2.0, 6.0, 10.0]
        );
        let before = dev.kernel_launches();
        let _ = y.argmax(None);
        assert_eq!(
            dev.kernel_launches(),
            before + 2,
            "argmax is max then first-index"
        );
    });
}

#[test]
fn concatenate_pad_where() {
    on_embedded(|| {
        let a = Array::from_vec(vec![1i32, 2, 3, 4], &[2, 2]);
        let b = Array::from_vec(vec![5i32, 6], &[1, 2]);
        let c = Array::concatenate(&[&a, &b, &a.slice(&[(1..2).into()])], 0);
        assert_eq!(c.shape(), &[4, 2]);
        assert_eq!(c.to_vec::<i32>(), vec![1, 2, 3, 4, 5, 6, 3, 4]);
        let d = Array::concatenate(&[&a, &a.flip(&[1])], 1);
        assert_eq!(d.to_vec::<i32>(), vec![1, 2, 2, 1, 3, 4, 4, 3]);
        let p = a.pad(&[(0, 1), (1, 0)], 9.0);
        assert_eq!(p.to_vec::<i32>(), vec![9, 1, 2, 9, 3, 4, 9, 9, 9]);
        // Padding a padded view with another value keeps both fills.
        let q = p.pad(&[(0, 0), (0, 1)], -1.0);
        assert_eq!(
            q.to_vec::<i32>(),
            vec![9, 1, 2, -1, 9, 3, 4, -1, 9, 9, 9, -1]
        );
        let w = Array::where_(&a.greater(2), &a, -1);
        assert_eq!(w.to_vec::<i32>(), vec![-1, -1, 3, 4]);
    });
}

#[test]
fn creation() {
    on_embedded(|| {
        assert_eq!(
            Array::arange(0.0, 5.0, 2.0, DType::I32).to_vec::<i32>(),
            vec![0, 2, 4]
        );
        assert_eq!(
            Array::linspace(0.0, 1.0, 5, DType::F32).to_vec::<f32>(),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(
            Array::eye(2, 3, 1, DType::F32).to_vec::<f32>(),
            vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        );
        assert_eq!(Array::ones(&[2], DType::U32).to_vec::<u32>(), vec![1, 1]);
        assert_eq!(Array::scalar(7i32).shape(), &[] as &[usize]);
        assert_eq!(Array::full(&[2, 2], true).to_vec::<bool>(), vec![true; 4]);
        assert_eq!(Array::from_vec(vec![1.5f64], &[]).item::<f64>(), 1.5);
        assert_eq!(
            format!("{}", Array::eye(2, 2, 0, DType::I32)),
            "[[1, 0], [0, 1]]"
        );
    });
}

#[test]
fn misuse_names_the_op_and_shapes() {
    on_embedded(|| {
        let a = Array::zeros(&[2, 3], DType::F32);
        let b = Array::zeros(&[4], DType::F32);
        assert_eq!(
            panic_text(|| drop(&a + &b)),
            "add: shapes [2, 3] and [4] do not broadcast"
        );
        assert!(
            panic_text(|| drop(a.matmul(&a)))
                .contains("matmul: contracting dimensions differ: shapes [2, 3] and [2, 3]")
        );
        assert!(panic_text(|| drop(a.reshape(&[4, -1]))).contains(
            "reshape: cannot reshape an array of shape [2, 3] (6 elements) into [4, -1]"
        ));
        assert!(
            panic_text(|| drop(a.sum(2, false)))
                .contains("sum: axis 2 is out of range for an array of rank 2")
        );
        assert!(
            panic_text(|| drop(a.to_vec::<i32>()))
                .contains("to_vec::<i32>: the array has dtype f32")
        );
        assert!(panic_text(|| drop(a.bitwise_and(&a))).contains("bitwise_and: not defined on f32"));
        let i = Array::zeros(&[2], DType::BOOL);
        assert!(panic_text(|| drop(&i - &i)).contains("subtract: not defined on bool"));
        assert!(
            panic_text(|| drop(Array::zeros(&[0], DType::F32).max(Axes::All, false)))
                .contains("max: zero-size reduction")
        );
        assert!(
            panic_text(|| drop(Array::from_vec(vec![1.0f32], &[2])))
                .contains("from_slice: 1 elements do not fill shape [2]")
        );
        assert!(
            panic_text(|| drop(a.transpose(&[0, 0])))
                .contains("transpose: [0, 0] is not a permutation")
        );
        assert!(
            panic_text(|| drop(Array::concatenate(&[&a, &b], 0)))
                .contains("concatenate: shapes [2, 3], [4] differ")
        );
        assert!(
            panic_text(|| drop(a.squeeze(&[0])))
                .contains("squeeze: axis 0 of shape [2, 3] has length 2")
        );
    });
}

/// A host model of a row-major array, for checking views.
#[derive(Clone, Debug)]
struct Host {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Host {
    fn index(&self, idx: &[usize]) -> usize {
        idx.iter()
            .zip(&self.shape)
            .fold(0, |acc, (&i, &n)| acc * n + i)
    }
    fn map_indices(
        &self,
        shape: Vec<usize>,
        src: impl Fn(&[usize]) -> Option<Vec<usize>>,
        fill: f32,
    ) -> Host {
        let n: usize = shape.iter().product();
        let mut data = Vec::with_capacity(n);
        let mut idx = vec![0usize; shape.len()];
        for _ in 0..n {
            data.push(src(&idx).map_or(fill, |s| self.data[self.index(&s)]));
            for d in (0..shape.len()).rev() {
                idx[d] += 1;
                if idx[d] < shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        Host { shape, data }
    }
}

#[derive(Clone, Debug)]
enum Move {
    Reverse,
    Flip(usize),
    Step(usize, isize),
    Pad(usize, usize, usize),
    Flatten,
    SplitFirst,
}

fn apply_host(h: &Host, m: &Move) -> Host {
    let r = h.shape.len();
    match *m {
        Move::Reverse => {
            let shape: Vec<usize> = h.shape.iter().rev().copied().collect();
            h.map_indices(shape, |i| Some(i.iter().rev().copied().collect()), 0.0)
        }
        Move::Flip(a) => {
            let a = a % r.max(1);
            h.map_indices(
                h.shape.clone(),
                |i| {
                    let mut s = i.to_vec();
                    s[a] = h.shape[a] - 1 - i[a];
                    Some(s)
                },
                0.0,
            )
        }
        Move::Step(a, step) => {
            let a = a % r.max(1);
            let n = h.shape[a];
            let len = n.div_ceil(step.unsigned_abs());
            let mut shape = h.shape.clone();
            shape[a] = len;
            h.map_indices(
                shape,
                |i| {
                    let mut s = i.to_vec();
                    s[a] = if step > 0 {
                        i[a] * step as usize
                    } else {
                        n - 1 - i[a] * step.unsigned_abs()
                    };
                    Some(s)
                },
                0.0,
            )
        }
        Move::Pad(a, before, after) => {
            let a = a % r.max(1);
            let mut shape = h.shape.clone();
            shape[a] += before + after;
            h.map_indices(
                shape,
                |i| {
                    let p = i[a] as isize - before as isize;
                    (p >= 0 && (p as usize) < h.shape[a]).then(|| {
                        let mut s = i.to_vec();
                        s[a] = p as usize;
                        s
                    })
                },
                0.0,
            )
        }
        Move::Flatten => Host {
            shape: vec![h.data.len()],
            data: h.data.clone(),
        },
        Move::SplitFirst => {
            let mut shape = h.shape.clone();
            if shape.first().is_some_and(|&d| d % 2 == 0 && d > 0) {
                shape[0] /= 2;
                shape.insert(0, 2);
            }
            Host {
                shape,
                data: h.data.clone(),
            }
        }
    }
}

fn apply_array(x: &Array, m: &Move) -> Array {
    let r = x.ndim();
    match *m {
        Move::Reverse => x.t(),
        Move::Flip(a) => x.flip(&[(a % r.max(1)) as isize]),
        Move::Step(a, step) => {
            let mut s = vec![Slice::all(); r];
            s[a % r.max(1)] = Slice::all().step(step);
            x.slice(&s)
        }
        Move::Pad(a, before, after) => {
            let mut w = vec![(0, 0); r];
            w[a % r.max(1)] = (before, after);
            x.pad(&w, 0.0)
        }
        Move::Flatten => x.reshape(&[-1]),
        Move::SplitFirst => {
            let mut shape: Vec<isize> = x.shape().iter().map(|&d| d as isize).collect();
            if shape.first().is_some_and(|&d| d % 2 == 0 && d > 0) {
                shape[0] /= 2;
                shape.insert(0, 2);
            }
            x.reshape(&shape)
        }
    }
}

fn moves() -> impl Strategy<Value = Vec<Move>> {
    let m = prop_oneof![
        Just(Move::Reverse),
        (0usize..4).prop_map(Move::Flip),
        (
            0usize..4,
            prop_oneof![Just(2isize), Just(3), Just(-1), Just(-2)]
        )
            .prop_map(|(a, s)| Move::Step(a, s)),
        (0usize..4, 0usize..3, 0usize..3).prop_map(|(a, b, c)| Move::Pad(a, b, c)),
        Just(Move::Flatten),
        Just(Move::SplitFirst),
    ];
    prop::collection::vec(m, 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Any chain of views reads the same elements as the host model.
    #[test]
    fn view_chains_match_a_host_model(shape in prop::collection::vec(1usize..5, 1..4), ms in moves()) {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
        let mut host = Host { shape: shape.clone(), data: data.clone() };
        let got = on_embedded(|| {
            let mut x = Array::from_vec(data, &shape);
            for m in &ms {
                host = apply_host(&host, m);
                x = apply_array(&x, m);
            }
            (x.shape().to_vec(), (&x + 0.0).to_vec::<f32>())
        });
        prop_assert_eq!(&got.0, &host.shape);
        prop_assert_eq!(&got.1, &host.data);
    }
}

#[test]
fn long_reductions_run_in_two_stages() {
    let reg = Registry::embedded();
    let dev = reg.default_device();
    with_default_device(&dev, || {
        let n = 100_003;
        let v: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
        let x = Array::from_vec(v.clone(), &[n]);
        let before = dev.kernel_launches();
        let s = x.sum(Axes::All, false);
        assert_eq!(
            dev.kernel_launches() - before,
            2,
            "partial sums, then their sum"
        );
        let want: f64 = v.iter().map(|&a| a as f64).sum();
        assert_eq!(s.item::<f32>() as f64, want);
        assert!((x.mean(Axes::All, true).to_vec::<f32>()[0] as f64 - want / n as f64).abs() < 1e-6);
        assert_eq!(x.mean(Axes::All, true).shape(), &[1]);
        assert_eq!(x.max(Axes::All, false).item::<f32>(), 3.0);
        assert_eq!(x.min(Axes::All, false).item::<f32>(), -3.0);
        assert_eq!(x.argmax(None).item::<i32>(), 6);
        let mut with_nan = v.clone();
        with_nan[n - 1] = f32::NAN;
        let y = Array::from_vec(with_nan, &[n]);
        assert!(
            y.max(Axes::All, false).item::<f32>().is_nan(),
            "NaN in the padded tail chunk propagates"
        );
        // f16 accumulates in f32: 61440 ones sum exactly (an f16 running
        // sum would stall at 2048).
        let ones = Array::ones(&[240, 256], DType::F16);
        assert_eq!(
            ones.sum(Axes::All, false).item::<f16>(),
            f16::from_f32(61440.0)
        );
        let b = x.greater(-3.5);
        assert!(b.all(Axes::All, false).item::<bool>());
        assert_eq!(b.sum(Axes::All, false).item::<i32>(), n as i32);
    });
}

/// A weak float literal keeps its value until promotion picks the dtype:
/// with an f64 array it is the f64 nearest the literal (as JAX with x64).
#[test]
fn weak_literals_are_exact_in_f64() {
    let reg = oxjax::Registry::embedded();
    oxjax::with_default_device(&reg.default_device(), || {
        let x = Array::from_vec(vec![1.0f64, 3.0], &[2]);
        assert_eq!((&x * 0.1).to_vec::<f64>(), vec![0.1, 3.0 * 0.1]);
        assert_eq!((&x + 1e-10).to_vec::<f64>(), vec![1.0 + 1e-10, 3.0 + 1e-10]);
        // With f32 arrays the literal rounds to f32, as before.
        let y = Array::from_vec(vec![1.0f32], &[1]);
        assert_eq!((&y * 0.1).to_vec::<f32>(), vec![0.1f32]);
        // Under jit the literal is staged with the same value.
        let f = oxjax::jit(|x: &Array| x * 0.1);
        assert_eq!(f(&x).to_vec::<f64>(), vec![0.1, 3.0 * 0.1]);
    });
}
