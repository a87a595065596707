//! Differential tests: every eager op on each plugin device named in the
//! repository's `plugins.toml` against the embedded reference backend, on
//! random shapes with broadcasting and values that include the edge cases.
//! The reference plugin must agree bit for bit; other backends within the
//! op's tolerance (exact ops stay exact).

mod common;

use common::{plugin_devices, registry};
use oxjax::{Array, DType, Device, Scalar, Slice};
use proptest::prelude::*;

fn oracle() -> Device {
    registry().device("embedded").unwrap()
}

/// A host-side input: values and shape.
#[derive(Clone, Debug)]
enum Data {
    F32(Vec<f32>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
}

#[derive(Clone, Debug)]
struct Input {
    data: Data,
    shape: Vec<usize>,
}

impl Input {
    fn on(&self, device: &Device) -> Array {
        match &self.data {
            Data::F32(v) => Array::try_from_slice(v, &self.shape, device),
            Data::I32(v) => Array::try_from_slice(v, &self.shape, device),
            Data::Bool(v) => Array::try_from_slice(v, &self.shape, device),
        }
        .unwrap()
    }
}

fn f32_value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -10.0f32..10.0,
        1 => prop::sample::select(vec![
            0.0f32, -0.0, 1.0, -1.0, 0.5, f32::INFINITY, f32::NEG_INFINITY, f32::NAN,
            f32::MIN_POSITIVE / 4.0, f32::MAX, f32::MIN, 1e-30, 3.0,
        ]),
    ]
}

fn i32_value() -> impl Strategy<Value = i32> {
    prop_oneof![
        6 => -20i32..20,
        1 => prop::sample::select(vec![0, 1, -1, i32::MIN, i32::MAX, 31, 32, 7]),
    ]
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![1 => Just(0usize), 2 => Just(1usize), 6 => 2usize..5],
        0..=4,
    )
}

/// A shape that broadcasts with `s`: a suffix of it with some axes set to 1.
fn partner(s: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let n = s.len();
    (0..=n, prop::collection::vec(any::<bool>(), n)).prop_map(move |(drop, ones)| {
        s[drop..]
            .iter()
            .zip(&ones[drop..])
            .map(|(&d, &one)| if one { 1 } else { d })
            .collect()
    })
}

fn data_for(dtype: DType, shape: Vec<usize>) -> BoxedStrategy<Input> {
    let n: usize = shape.iter().product();
    match dtype {
        DType::F32 => prop::collection::vec(f32_value(), n)
            .prop_map(move |v| Input {
                data: Data::F32(v),
                shape: shape.clone(),
            })
            .boxed(),
        DType::I32 => prop::collection::vec(i32_value(), n)
            .prop_map(move |v| Input {
                data: Data::I32(v),
                shape: shape.clone(),
            })
            .boxed(),
        _ => prop::collection::vec(any::<bool>(), n)
            .prop_map(move |v| Input {
                data: Data::Bool(v),
                shape: shape.clone(),
            })
            .boxed(),
    }
}

/// Two broadcast-compatible inputs of `dtype` (either may be the larger).
fn pair(dtype: DType) -> impl Strategy<Value = (Input, Input)> {
    shape()
        .prop_flat_map(|s| (Just(s.clone()), partner(s), any::<bool>()))
        .prop_flat_map(move |(a, b, swap)| {
            let (a, b) = if swap { (b, a) } else { (a, b) };
            (data_for(dtype, a), data_for(dtype, b))
        })
}

fn one(dtype: DType) -> impl Strategy<Value = Input> {
    shape().prop_flat_map(move |s| data_for(dtype, s))
}

/// Relative tolerance of an op off the reference implementation (0: exact).
fn tolerance(device: &Device, op: &str) -> f64 {
    if device.info().name.as_str() == "reference" {
        return 0.0;
    }
    match op {
        "exp"
        | "log"
        | "sin"
        | "cos"
        | "tanh"
        | "erf"
        | "sqrt"
        | "power"
        | "mean"
        | "sum"
        | "prod"
        | "matmul"
        | "divide"
        | "sum(i32) + f32"
        | "expand_dims+broadcast" => 1e-5,
        // These run in f16 too: one f16 ULP is about 1e-3.
        "cast+mul+exp" | "cast+sum" => 2e-3,
        _ => 0.0,
    }
}

fn same(a: Scalar, b: Scalar, tol: f64) -> bool {
    let (x, y) = (a.as_f64(), b.as_f64());
    a.to_bits() == b.to_bits()
        || (x.is_nan() && y.is_nan())
        || (tol > 0.0
            && x.is_finite()
            && y.is_finite()
            && (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs())))
}

/// True when an input holds a value whose arithmetic a backend may leave
/// undefined by declaring it (non-finite values, subnormals).
fn has_special_values(inputs: &[Input]) -> bool {
    inputs.iter().any(|i| match &i.data {
        Data::F32(v) => v
            .iter()
            .any(|x| !x.is_finite() || (x.abs() < f32::MIN_POSITIVE && *x != 0.0)),
        _ => false,
    })
}

/// True when `op` is a float sum or product whose partial results overflow
/// f32 in some order of accumulation: the accuracy contract lets backends
/// reorder sums and products, and then one order gives ±inf or NaN (or a
/// cancellation of ±inf-sized partials) where another gives a finite value.
fn order_dependent(op: &str, inputs: &[Input]) -> bool {
    let Some(Data::F32(v)) = inputs.first().map(|i| &i.data) else {
        return false;
    };
    match op {
        "sum" | "mean" => v.iter().map(|x| x.abs() as f64).sum::<f64>() >= f32::MAX as f64,
        "prod" => {
            let big = v.iter().filter(|x| x.abs() > 1.0).map(|x| x.abs() as f64);
            big.product::<f64>() >= f32::MAX as f64
        }
        _ => false,
    }
}

/// Runs `f` on the oracle and on every plugin device and compares.
fn check(op: &str, inputs: &[Input], f: impl Fn(&[Array]) -> Array) -> Result<(), TestCaseError> {
    let oracle = oracle();
    let args: Vec<Array> = inputs.iter().map(|i| i.on(&oracle)).collect();
    let want = f(&args);
    let want_values = want.try_scalars().unwrap();
    for dev in plugin_devices() {
        // A backend that declares non-IEEE semantics (WGSL) is held to them
        // only on ordinary values; conformance reports the rest per op.
        if dev.info().caps.semantics.0 != 0
            && (has_special_values(inputs) || want_values.iter().any(|v| !v.as_f64().is_finite()))
        {
            continue;
        }
        let args: Vec<Array> = inputs.iter().map(|i| i.on(&dev)).collect();
        let got = f(&args);
        prop_assert_eq!(&got.device(), &dev);
        prop_assert_eq!(got.shape(), want.shape(), "{} on {}", op, dev.name());
        prop_assert_eq!(got.dtype(), want.dtype(), "{} on {}", op, dev.name());
        let tol = tolerance(&dev, op);
        if tol > 0.0 && order_dependent(op, inputs) {
            continue;
        }
        for (i, (w, g)) in want_values
            .iter()
            .zip(got.try_scalars().unwrap())
            .enumerate()
        {
            prop_assert!(
                same(*w, g, tol),
                "{op} on '{}': element {i}: reference {w}, got {g}; inputs {inputs:?}",
                dev.name()
            );
        }
    }
    Ok(())
}

type Unary = (&'static str, fn(&Array) -> Array);
type Binary = (&'static str, fn(&Array, &Array) -> Array);

const FLOAT_UNARY: &[Unary] = &[
    ("neg", |x| x.neg()),
    ("abs", |x| x.abs()),
    ("sign", |x| x.sign()),
    ("sqrt", |x| x.sqrt()),
    ("exp", |x| x.exp()),
    ("log", |x| x.log()),
    ("sin", |x| x.sin()),
    ("cos", |x| x.cos()),
    ("tanh", |x| x.tanh()),
    ("erf", |x| x.erf()),
    ("floor", |x| x.floor()),
    ("round", |x| x.round()),
    ("isnan", |x| x.isnan()),
    ("isinf", |x| x.isinf()),
    ("astype_i32", |x| x.astype(DType::I32)),
    ("astype_bool", |x| x.astype(DType::BOOL)),
];

const INT_UNARY: &[Unary] = &[
    ("neg", |x| x.neg()),
    ("abs", |x| x.abs()),
    ("sign", |x| x.sign()),
    ("logical_not", |x| x.logical_not()),
    ("astype_f32", |x| x.astype(DType::F32)),
    ("astype_u32", |x| x.astype(DType::U32)),
];

const FLOAT_BINARY: &[Binary] = &[
    ("add", |x, y| x + y),
    ("subtract", |x, y| x - y),
    ("multiply", |x, y| x * y),
    ("divide", |x, y| x / y),
    ("floor_divide", |x, y| x.floor_divide(y)),
    ("remainder", |x, y| x % y),
    ("power", |x, y| x.power(y)),
    ("minimum", |x, y| x.minimum(y)),
    ("maximum", |x, y| x.maximum(y)),
    ("less", |x, y| x.less(y)),
    ("equal", |x, y| x.equal(y)),
    ("where", |x, y| Array::where_(&x.greater(y), x, y)),
];

const INT_BINARY: &[Binary] = &[
    ("add", |x, y| x + y),
    ("subtract", |x, y| x - y),
    ("multiply", |x, y| x * y),
    ("floor_divide", |x, y| x.floor_divide(y)),
    ("remainder", |x, y| x % y),
    ("fmod", |x, y| x.fmod(y)),
    ("minimum", |x, y| x.minimum(y)),
    ("bitwise_xor", |x, y| x ^ y),
    ("right_shift", |x, y| x >> y),
    ("left_shift", |x, y| x << y),
    ("greater_equal", |x, y| x.greater_equal(y)),
    ("divide", |x, y| x / y),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn float_unary_ops(x in one(DType::F32)) {
        for (name, f) in FLOAT_UNARY {
            check(name, std::slice::from_ref(&x), |a| f(&a[0]))?;
        }
    }

    #[test]
    fn int_unary_ops(x in one(DType::I32)) {
        for (name, f) in INT_UNARY {
            check(name, std::slice::from_ref(&x), |a| f(&a[0]))?;
        }
    }

    #[test]
    fn float_binary_ops_broadcast((x, y) in pair(DType::F32)) {
        for (name, f) in FLOAT_BINARY {
            check(name, &[x.clone(), y.clone()], |a| f(&a[0], &a[1]))?;
        }
    }

    #[test]
    fn int_binary_ops_broadcast((x, y) in pair(DType::I32)) {
        for (name, f) in INT_BINARY {
            check(name, &[x.clone(), y.clone()], |a| f(&a[0], &a[1]))?;
        }
    }

    #[test]
    fn bool_ops((x, y) in pair(DType::BOOL)) {
        check("and", &[x.clone(), y.clone()], |a| &a[0] & &a[1])?;
        check("add", &[x.clone(), y.clone()], |a| &a[0] + &a[1])?;
        check("not", std::slice::from_ref(&x), |a| !&a[0])?;
        check("sum", std::slice::from_ref(&x), |a| a[0].sum(oxjax::Axes::All, false))?;
    }

    #[test]
    fn reductions(x in one(DType::F32), axis_seed in any::<usize>(), keep in any::<bool>()) {
        let rank = x.shape.len();
        let axes: Vec<isize> = if rank == 0 { vec![] } else { vec![(axis_seed % rank) as isize] };
        let nonempty = x.shape.iter().all(|&d| d > 0);
        check("sum", std::slice::from_ref(&x), |a| a[0].sum(axes.clone(), keep))?;
        check("prod", std::slice::from_ref(&x), |a| a[0].prod(axes.clone(), keep))?;
        check("mean", std::slice::from_ref(&x), |a| a[0].mean(oxjax::Axes::All, keep))?;
        if nonempty {
            check("max", std::slice::from_ref(&x), |a| a[0].max(axes.clone(), keep))?;
            check("min", std::slice::from_ref(&x), |a| a[0].min(oxjax::Axes::All, keep))?;
            check("argmax", std::slice::from_ref(&x), |a| a[0].argmax(axes.first().copied()))?;
        }
    }

    #[test]
    fn int_reductions(x in one(DType::I32)) {
        check("sum", std::slice::from_ref(&x), |a| a[0].sum(oxjax::Axes::All, false))?;
        if x.shape.iter().all(|&d| d > 0) {
            check("argmin", std::slice::from_ref(&x), |a| a[0].argmin(None))?;
        }
    }

    #[test]
    fn matmul(
        (n, k, m, batch) in (0usize..5, 0usize..6, 0usize..5, prop::collection::vec(1usize..3, 0..2)),
        seed in any::<u64>(),
        transpose_b in any::<bool>(),
    ) {
        let mut rng = seed;
        let mut next = || { rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((rng >> 33) % 17) as f32 - 8.0 };
        let mut sa = batch.clone(); sa.extend([n, k]);
        let sb = if transpose_b { vec![m, k] } else { vec![k, m] };
        let a = Input { data: Data::F32((0..sa.iter().product::<usize>()).map(|_| next()).collect()), shape: sa };
        let b = Input { data: Data::F32((0..sb.iter().product::<usize>()).map(|_| next()).collect()), shape: sb };
        check("matmul", &[a, b], |x| {
            let b = if transpose_b { x[1].t() } else { x[1].clone() };
            x[0].matmul(&b)
        })?;
    }

    #[test]
    fn movement_chains(x in one(DType::F32), step in prop_oneof![Just(1isize), Just(2), Just(-1), Just(-2)]) {
        let rank = x.shape.len();
        check("transpose+add", std::slice::from_ref(&x), |a| {
            let t = a[0].t();
            &t + &t.flip(&[])
        })?;
        if rank > 0 {
            check("slice+pad+flip", std::slice::from_ref(&x), |a| {
                let s = a[0].slice(&[Slice::all().step(step)]);
                let widths: Vec<(usize, usize)> = (0..rank).map(|d| (d % 2, 1)).collect();
                s.pad(&widths, 1.5).flip(&[0]) * 2.0
            })?;
            check("reshape+concatenate", std::slice::from_ref(&x), |a| {
                let flat = a[0].reshape(&[-1]);
                Array::concatenate(&[&flat, &flat.flip(&[]), &flat.slice(&[Slice::all().step(2)])], 0)
            })?;
            check("expand_dims+broadcast", std::slice::from_ref(&x), |a| {
                let e = a[0].expand_dims(0);
                let mut shape = vec![2usize];
                shape.extend_from_slice(a[0].shape());
                e.broadcast_to(&shape).sum(0, false)
            })?;
        }
    }

    #[test]
    fn mixed_dtype_promotion(x in one(DType::I32), f in one(DType::F32)) {
        check("sum(i32) + f32", &[x.clone(), f], |a| &a[0].sum(oxjax::Axes::All, false) + &a[1])?;
        check("i32 * 2.5", std::slice::from_ref(&x), |a| &a[0] * 2.5)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// f16, f64 and u32 through conversions, arithmetic and reductions.
    #[test]
    fn other_dtypes((x, y) in pair(DType::F32), i in one(DType::I32)) {
        for dtype in [DType::F16, DType::F64] {
            let supported = |d: &Device| d.info().caps.supports_dtype(dtype);
            if !plugin_devices().iter().all(supported) {
                continue;
            }
            check("cast+mul+exp", &[x.clone(), y.clone()], |a| (&a[0].astype(dtype) * &a[1].astype(dtype)).exp())?;
            check("cast+sum", std::slice::from_ref(&x), |a| a[0].astype(dtype).sum(oxjax::Axes::All, false))?;
            check("cast back", std::slice::from_ref(&x), |a| a[0].astype(dtype).astype(DType::I32))?;
        }
        check("u32 ops", std::slice::from_ref(&i), |a| {
            let u = a[0].astype(DType::U32);
            (&u >> &u).maximum(&(&u * 3)) % 7
        })?;
    }
}

#[test]
fn creation_ops_agree() {
    for dev in plugin_devices() {
        let make = |d: &Device| {
            oxjax::with_default_device(d, || {
                vec![
                    Array::arange(-3.0, 7.0, 1.5, DType::F32),
                    Array::linspace(0.0, 1.0, 7, DType::F32),
                    Array::eye(3, 4, 1, DType::I32),
                    Array::full(&[2, 3], 2.5f32),
                    Array::zeros(&[0, 3], DType::BOOL),
                ]
            })
        };
        for (w, g) in make(&oracle()).iter().zip(make(&dev)) {
            assert_eq!(
                w.try_scalars().unwrap(),
                g.try_scalars().unwrap(),
                "on {}",
                dev.name()
            );
        }
    }
}
