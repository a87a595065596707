//! bfloat16, int8 and uint8 end to end, on every device of plugins.toml
//! (webgpu declares none of them and must say so): wrapping, saturating
//! casts, JAX's promotion on arrays, f32 accumulation of bf16 sums and
//! matmuls, and an MLP that trains with bf16 parameters.

mod common;

use common::{own_devices, uniform};
use oxjax::{
    Array, Axes, DType, Device, Tree, bf16, jit, value_and_grad_with, with_default_device,
};

/// The devices that declare all three dtypes, and those that do not.
fn split_devices() -> (Vec<Device>, Vec<Device>) {
    own_devices().into_iter().partition(|d| {
        [DType::BF16, DType::I8, DType::U8]
            .iter()
            .all(|&t| d.info().caps.supports_dtype(t))
    })
}

#[test]
fn narrow_integers_wrap_and_casts_saturate() {
    let (with, _) = split_devices();
    assert!(
        with.len() >= 3,
        "embedded, reference and wasm declare i8/u8/bf16"
    );
    for dev in with {
        with_default_device(&dev, || {
            let name = dev.name().to_string();
            let i = Array::from_vec(vec![100i8, -128, 127, -7], &[4]);
            let u = Array::from_vec(vec![200u8, 0, 255, 7], &[4]);
            assert_eq!((&i + &i).to_vec::<i8>(), [-56, 0, -2, -14], "{name}");
            assert_eq!((&u + 100).to_vec::<u8>(), [44, 100, 99, 107], "{name}");
            assert_eq!((-&u).to_vec::<u8>(), [56, 0, 1, 249], "{name}");
            assert_eq!((&i * &i).to_vec::<i8>(), [16, 0, 1, 49], "{name}");
            assert_eq!(i.abs().to_vec::<i8>(), [100, -128, 127, 7], "{name}");
            assert_eq!(
                i.floor_divide(-3).to_vec::<i8>(),
                [-34, 42, -43, 2],
                "{name}"
            );
            // sums widen (JAX's promote_integers), so they do not wrap
            let s = i.sum(Axes::All, false);
            assert_eq!((s.dtype(), s.item::<i32>()), (DType::I32, 92), "{name}");
            let s = u.sum(Axes::All, false);
            assert_eq!((s.dtype(), s.item::<u32>()), (DType::U32, 462), "{name}");
            let f = Array::from_vec(vec![300.7f32, -3.9, -1e9, f32::NAN, 2.5], &[5]);
            assert_eq!(
                f.astype(DType::U8).to_vec::<u8>(),
                [255, 0, 0, 0, 2],
                "{name}"
            );
            assert_eq!(
                f.astype(DType::I8).to_vec::<i8>(),
                [127, -3, -128, 0, 2],
                "{name}"
            );
            let w = Array::from_vec(vec![300i32, -1, 128], &[3]);
            assert_eq!(w.astype(DType::U8).to_vec::<u8>(), [44, 255, 128], "{name}");
            assert_eq!(w.astype(DType::I8).to_vec::<i8>(), [44, -1, -128], "{name}");
            assert_eq!(
                i.astype(DType::U32).to_vec::<u32>()[1],
                0xFFFF_FF80,
                "{name}"
            );
            assert_eq!(i.right_shift(9).to_vec::<i8>(), [0, -1, 0, -1], "{name}");
            assert_eq!(u.left_shift(1).to_vec::<u8>(), [144, 0, 254, 14], "{name}");
        });
    }
}

#[test]
fn promotion_on_arrays_is_jaxs() {
    let i8a = Array::from_vec(vec![1i8], &[1]);
    let u8a = Array::from_vec(vec![1u8], &[1]);
    let bf = Array::from_vec(vec![bf16::ONE], &[1]);
    let h = Array::from_vec(vec![oxjax::f16::ONE], &[1]);
    let cases = [
        (&i8a + &u8a, DType::I32), // JAX: i16, which oxjax lacks
        (&i8a + 1, DType::I8),
        (&u8a * 2.5, DType::F32),
        (&bf + &h, DType::F32),
        (&bf * 2.5, DType::BF16),
        (&bf + &i8a, DType::BF16),
        (&u8a + Array::from_vec(vec![1u32], &[1]), DType::U32),
        (&i8a + Array::from_vec(vec![1u32], &[1]), DType::I32),
    ];
    for (k, (got, want)) in cases.iter().enumerate() {
        assert_eq!(got.dtype(), *want, "case {k}");
    }
}

#[test]
fn bf16_sums_and_matmuls_accumulate_in_f32() {
    let (with, _) = split_devices();
    for dev in with {
        with_default_device(&dev, || {
            // 256 + 1 rounds back to 256 in bf16: a bf16 accumulator stalls.
            let ones = Array::ones(&[1, 512], DType::BF16);
            let name = dev.name().to_string();
            let s = ones.sum(Axes::All, false);
            assert_eq!(
                (s.dtype(), s.item::<bf16>().to_f32()),
                (DType::BF16, 512.0),
                "{name}"
            );
            let m = ones.matmul(&ones.t());
            assert_eq!(
                (m.dtype(), m.item::<bf16>().to_f32()),
                (DType::BF16, 512.0),
                "{name}"
            );
            let jm = jit(|x: &Array| x.matmul(&x.t()).sum(Axes::All, false))(&ones);
            assert_eq!(jm.item::<bf16>().to_f32(), 512.0, "{name} under jit");
        });
    }
}

#[test]
fn devices_without_the_dtypes_refuse_them_by_name() {
    let (_, without) = split_devices();
    for dev in without {
        let err = Array::try_from_slice(&[1u8, 2], &[2], &dev)
            .map(|a| a.try_to_vec::<u8>())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| panic!("{} accepted a u8 array", dev.name()));
        assert!(err.contains("does not support u8"), "{err}");
    }
}

#[derive(Clone, Tree)]
struct Mlp {
    w1: Array,
    b1: Array,
    w2: Array,
    b2: Array,
}

fn forward(p: &Mlp, x: &Array) -> Array {
    let h = (x.matmul(&p.w1) + &p.b1).tanh();
    h.matmul(&p.w2) + &p.b2
}

/// Mean squared error computed in f32 from the (bf16 or f32) predictions:
/// mixed precision as usually done, the loss and its reduction in f32.
fn loss(p: &Mlp, batch: &(Array, Array)) -> Array {
    let d = forward(p, &batch.0).astype(DType::F32) - &batch.1;
    (&d * &d).mean(Axes::All, false)
}

fn data() -> (Array, Array) {
    let n = 64;
    let x = Array::from_vec(
        uniform(n * 4, 7).iter().map(|&v| v as f32).collect(),
        &[n, 4],
    );
    let y = (x.sum(-1, true) * 0.7).sin();
    (x, y)
}

/// `steps` of plain SGD from the same initial values, with parameters of
/// `dtype`; the losses.
fn train(dtype: DType, steps: usize) -> Vec<f32> {
    let init = |shape: &[usize], seed: u64, scale: f64| {
        let n = shape.iter().product();
        let v: Vec<f32> = uniform(n, seed)
            .iter()
            .map(|&v| (v * scale) as f32)
            .collect();
        Array::from_vec(v, shape).astype(dtype)
    };
    let mut p = Mlp {
        w1: init(&[4, 16], 1, 0.5),
        b1: init(&[16], 2, 0.1),
        w2: init(&[16, 1], 3, 0.5),
        b2: init(&[1], 4, 0.1),
    };
    let (x, y) = data();
    let batch = (x.astype(dtype), y);
    let step = jit(|q: &(Mlp, (Array, Array))| {
        let (l, g) = value_and_grad_with(loss)(&q.0, &q.1);
        let new: Vec<Array> =
            q.0.leaves()
                .iter()
                .zip(g.leaves())
                .map(|(w, g)| w - g * 0.2)
                .collect();
        let p = q.0.unflatten(new);
        (l, p)
    });
    let mut losses = Vec::new();
    for _ in 0..steps {
        let (l, next) = step(&(p, batch.clone()));
        losses.push(l.item::<f32>());
        p = next;
    }
    for w in Tree::leaves(&p) {
        assert_eq!(w.dtype(), dtype, "parameters keep their dtype");
    }
    losses
}

/// The MLP trains with bf16 parameters (bf16 matmuls accumulating in f32,
/// bf16 gradients and updates) and follows the f32 run within bf16's
/// precision.
#[test]
fn mlp_trains_with_bf16_parameters() {
    let (with, _) = split_devices();
    for dev in with {
        with_default_device(&dev, || {
            let name = dev.name().to_string();
            let steps = 60;
            let lb = train(DType::BF16, steps);
            let lf = train(DType::F32, steps);
            let (first, last) = (lb[0], lb[steps - 1]);
            println!(
                "{name}: bf16 loss {first:.4} -> {last:.4}, f32 {:.4} -> {:.4}",
                lf[0],
                lf[steps - 1]
            );
            assert!(last < first / 4.0, "{name}: bf16 loss {first} -> {last}");
            for (k, (b, f)) in lb.iter().zip(&lf).enumerate() {
                // bf16 keeps 8 significant bits: parameters and
                // activations differ by ~2^-8 relative, which the loss
                // sees as a few percent of its scale.
                assert!(
                    (b - f).abs() <= 0.03 * lf[0] + 0.05 * f,
                    "{name}: step {k}: bf16 {b} vs f32 {f}"
                );
            }
        });
    }
}
