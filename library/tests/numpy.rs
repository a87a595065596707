//! `oxjax::numpy` and `oxjax::nn` against known values: every case of
//! fixtures/numpy.json (inputs and outputs from NumPy, and from `jax.nn` in
//! x64 mode for activations; regenerate with fixtures/make_numpy.py) runs
//! in f64 on the embedded device, and a representative subset runs in f32
//! on every plugin device of plugins.toml.

mod common;

use common::{close, fd_grad, on_embedded, plugin_devices};
use oxjax::numpy::{self as jnp, ConvMode, PadMode};
use oxjax::{Array, Axes, DType, Registry, nn, with_default_device};
use serde_json::Value;
use std::path::Path;

fn fixtures() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/numpy.json");
    let text = std::fs::read_to_string(&path).expect("fixtures/numpy.json");
    let v: Value = serde_json::from_str(&text).expect("valid JSON");
    v["cases"].as_array().expect("cases").clone()
}

fn number(v: &Value) -> f64 {
    match v {
        Value::String(s) => match s.as_str() {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            _ => panic!("bad number {s}"),
        },
        Value::Bool(b) => *b as u8 as f64,
        v => v.as_f64().expect("number"),
    }
}

/// A fixture array as an oxjax array (floats as `float`).
fn decode(v: &Value, float: DType) -> Array {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"].as_array().unwrap();
    match v["dtype"].as_str().unwrap() {
        "bool" => Array::from_vec(
            data.iter()
                .map(|b| b.as_bool().unwrap())
                .collect::<Vec<_>>(),
            &shape,
        ),
        "i32" => Array::from_vec(
            data.iter()
                .map(|i| i.as_i64().unwrap() as i32)
                .collect::<Vec<_>>(),
            &shape,
        ),
        _ if float == DType::F32 => Array::from_vec(
            data.iter().map(|v| number(v) as f32).collect::<Vec<_>>(),
            &shape,
        ),
        _ => Array::from_vec(data.iter().map(number).collect::<Vec<f64>>(), &shape),
    }
}

fn expected(v: &Value) -> (Vec<usize>, &str, Vec<f64>) {
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"].as_array().unwrap().iter().map(number).collect();
    (shape, v["dtype"].as_str().unwrap(), data)
}

fn vals(x: &Array) -> Vec<f64> {
    match x.dtype() {
        DType::F64 => x.to_vec::<f64>(),
        DType::BOOL => x
            .to_vec::<bool>()
            .into_iter()
            .map(|b| b as u8 as f64)
            .collect(),
        DType::I32 => x.to_vec::<i32>().into_iter().map(f64::from).collect(),
        _ => x
            .astype(DType::F32)
            .to_vec::<f32>()
            .into_iter()
            .map(f64::from)
            .collect(),
    }
}

fn int(p: &Value, k: &str) -> isize {
    p[k].as_i64().unwrap_or_else(|| panic!("param {k}")) as isize
}

fn flt(p: &Value, k: &str) -> f64 {
    p[k].as_f64().unwrap_or_else(|| panic!("param {k}"))
}

fn ints(p: &Value, k: &str) -> Vec<isize> {
    p[k].as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap() as isize)
        .collect()
}

fn usizes(p: &Value, k: &str) -> Vec<usize> {
    ints(p, k).into_iter().map(|v| v as usize).collect()
}

/// Calls the oxjax function a fixture names.
fn call(f: &str, a: &[Array], p: &Value, float: DType) -> Vec<Array> {
    let x = || &a[0];
    let y = || &a[1];
    let ax = || int(p, "axis");
    let one = |r: Array| vec![r];
    match f {
        "hypot" => one(jnp::hypot(x(), y())),
        "logaddexp" => one(jnp::logaddexp(x(), y())),
        "logaddexp2" => one(jnp::logaddexp2(x(), y())),
        "sinc" => one(jnp::sinc(x())),
        "cbrt" => one(jnp::cbrt(x())),
        "arcsinh" => one(jnp::arcsinh(x())),
        "arccosh" => one(jnp::arccosh(x())),
        "arctanh" => one(jnp::arctanh(x())),
        "log10" => one(jnp::log10(x())),
        "exp2" => one(jnp::exp2(x())),
        "deg2rad" => one(jnp::deg2rad(x())),
        "rad2deg" => one(jnp::rad2deg(x())),
        "square" => one(jnp::square(x())),
        "reciprocal" => one(jnp::reciprocal(x())),
        "fabs" => one(jnp::fabs(x())),
        "signbit" => one(jnp::signbit(x())),
        "copysign" => one(jnp::copysign(x(), y())),
        "heaviside" => one(jnp::heaviside(x(), y())),
        "nan_to_num" => one(jnp::nan_to_num(x(), 0.0, None, None)),
        "round" => one(jnp::round(x(), int(p, "decimals") as i32)),
        "fmod" => one(jnp::fmod(x(), y())),
        "remainder" => one(jnp::remainder(x(), y())),
        "floor_divide" => one(jnp::floor_divide(x(), y())),
        "float_power" => one(jnp::float_power(x(), y())),
        "fmax" => one(jnp::fmax(x(), y())),
        "fmin" => one(jnp::fmin(x(), y())),
        "isclose" => one(jnp::isclose(x(), y(), 1e-5, 1e-8, false)),
        "isclose_nan" => one(jnp::isclose(x(), y(), 1e-5, 1e-8, true)),
        "clip" => one(jnp::clip(x(), Some(-1.0), Some(2.0))),
        "ldexp" => one(jnp::ldexp(x(), y())),
        "modf" => {
            let (f, i) = jnp::modf(x());
            vec![f, i]
        }
        "logical_xor" => one(jnp::logical_xor(x(), y())),
        "var" | "std" => {
            let axes = if p.get("axis").is_some() {
                Axes::from(ax())
            } else {
                Axes::All
            };
            let d = int(p, "ddof") as usize;
            one(if f == "var" {
                jnp::var(x(), axes, d, false)
            } else {
                jnp::std(x(), axes, d, false)
            })
        }
        "ptp" => one(jnp::ptp(x(), ax(), false)),
        "average" => one(jnp::average(x(), ax(), Some(y()), false)),
        "nansum" => one(jnp::nansum(x(), ax(), false)),
        "nanprod" => one(jnp::nanprod(x(), ax(), false)),
        "nanmean" => one(jnp::nanmean(x(), ax(), false)),
        "nanvar" => one(jnp::nanvar(x(), ax(), int(p, "ddof") as usize, false)),
        "nanstd" => one(jnp::nanstd(x(), ax(), int(p, "ddof") as usize, false)),
        "nanmax" => one(jnp::nanmax(x(), ax(), false)),
        "nanmin" => one(jnp::nanmin(x(), ax(), false)),
        "nanargmax" => one(jnp::nanargmax(x(), Some(ax()), false)),
        "nanargmin" => one(jnp::nanargmin(x(), Some(ax()), false)),
        "count_nonzero" => one(jnp::count_nonzero(x(), ax(), false)),
        "linspace" => one(jnp::linspace(
            flt(p, "start"),
            flt(p, "stop"),
            int(p, "num") as usize,
            false,
            float,
        )),
        "logspace" => one(jnp::logspace(
            flt(p, "start"),
            flt(p, "stop"),
            int(p, "num") as usize,
            true,
            flt(p, "base"),
            float,
        )),
        "geomspace" => one(jnp::geomspace(
            flt(p, "start"),
            flt(p, "stop"),
            int(p, "num") as usize,
            true,
            float,
        )),
        "tri" => one(jnp::tri(
            int(p, "n") as usize,
            Some(int(p, "m") as usize),
            int(p, "k"),
            float,
        )),
        "vander" => one(jnp::vander(x(), Some(int(p, "n") as usize), false)),
        "bartlett" => one(jnp::bartlett(int(p, "m") as usize, float)),
        "hanning" => one(jnp::hanning(int(p, "m") as usize, float)),
        "hamming" => one(jnp::hamming(int(p, "m") as usize, float)),
        "blackman" => one(jnp::blackman(int(p, "m") as usize, float)),
        "tile" => one(jnp::tile(x(), &usizes(p, "reps"))),
        "repeat" => one(jnp::repeat(
            x(),
            &usizes(p, "repeats"),
            p.get("axis").map(|_| ax()),
        )),
        "roll" => one(jnp::roll(x(), int(p, "shift"), p.get("axis").map(|_| ax()))),
        "rot90" => {
            let axes = ints(p, "axes");
            one(jnp::rot90(x(), int(p, "k"), (axes[0], axes[1])))
        }
        "pad" => {
            let w: Vec<(usize, usize)> = p["widths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    (
                        v[0].as_u64().unwrap() as usize,
                        v[1].as_u64().unwrap() as usize,
                    )
                })
                .collect();
            let mode = match p["mode"].as_str().unwrap() {
                "edge" => PadMode::Edge,
                "reflect" => PadMode::Reflect,
                "symmetric" => PadMode::Symmetric,
                "wrap" => PadMode::Wrap,
                "maximum" => PadMode::Maximum,
                "minimum" => PadMode::Minimum,
                "mean" => PadMode::Mean,
                "linear_ramp" => PadMode::LinearRamp(flt(p, "end")),
                "constant" => PadMode::Constant(flt(p, "value")),
                m => panic!("mode {m}"),
            };
            one(jnp::pad(x(), &w, mode))
        }
        "array_split" => jnp::array_split(x(), int(p, "sections") as usize, 0),
        "split" => jnp::split(x(), ints(p, "indices").as_slice(), ax()),
        "moveaxis" => one(jnp::moveaxis(
            x(),
            ints(p, "source"),
            ints(p, "destination"),
        )),
        "diff" => one(jnp::diff(x(), int(p, "n") as usize, ax())),
        "ediff1d" => one(jnp::ediff1d(x(), Some(y()), Some(&a[2]))),
        "kron" => one(jnp::kron(x(), y())),
        "diagonal" => one(jnp::diagonal(
            x(),
            int(p, "offset"),
            int(p, "axis1"),
            int(p, "axis2"),
        )),
        "diag" => one(jnp::diag(x(), int(p, "k"))),
        "trace" => one(jnp::trace(
            x(),
            int(p, "offset"),
            int(p, "axis1"),
            int(p, "axis2"),
        )),
        "triu" => one(jnp::triu(x(), int(p, "k"))),
        "tril" => one(jnp::tril(x(), int(p, "k"))),
        "tensordot" => one(jnp::tensordot(
            x(),
            y(),
            jnp::TensorAxes::Pairs(ints(p, "a"), ints(p, "b")),
        )),
        "inner" => one(jnp::inner(x(), y())),
        "dot" => one(jnp::dot(x(), y())),
        "outer" => one(jnp::outer(x(), y())),
        "cross" => one(jnp::cross(x(), y(), -1)),
        "select" => one(jnp::select(&[&a[0], &a[1]], &[&a[2], &a[3]], 0.5)),
        "resize" => one(jnp::resize(x(), &usizes(p, "shape"))),
        "convolve" | "correlate" => {
            let mode = match p["mode"].as_str().unwrap() {
                "full" => ConvMode::Full,
                "same" => ConvMode::Same,
                _ => ConvMode::Valid,
            };
            one(if f == "convolve" {
                jnp::convolve(x(), y(), mode)
            } else {
                jnp::correlate(x(), y(), mode)
            })
        }
        "einsum" => one(jnp::einsum(
            p["spec"].as_str().unwrap(),
            &a.iter().collect::<Vec<_>>(),
        )),
        "cov" => one(jnp::cov(
            x(),
            p["rowvar"].as_bool().unwrap(),
            int(p, "ddof") as usize,
        )),
        "corrcoef" => one(jnp::corrcoef(x(), true)),
        "trapezoid" => one(jnp::trapezoid(x(), Some(y()), 1.0, ax())),
        "trapezoid_dx" => one(jnp::trapezoid(x(), None, flt(p, "dx"), ax())),
        "gradient" => one(jnp::gradient(x(), ax())),
        "digitize" => one(jnp::digitize(x(), y(), p["right"].as_bool().unwrap())),
        "interp" => one(jnp::interp(x(), y(), &a[2], None, None)),
        "interp_lr" => one(jnp::interp(x(), y(), &a[2], Some(-9.0), Some(9.0))),
        "isin" => one(jnp::isin(x(), y(), false)),
        "polyval" => one(jnp::polyval(x(), y())),
        "polyadd" => one(jnp::polyadd(x(), y())),
        "polysub" => one(jnp::polysub(x(), y())),
        "polymul" => one(jnp::polymul(x(), y())),
        "polyder" => one(jnp::polyder(x(), int(p, "m") as usize)),
        "polyint" => one(jnp::polyint(x(), int(p, "m") as usize, flt(p, "k"))),
        "gcd" => one(jnp::gcd(x(), y())),
        "lcm" => one(jnp::lcm(x(), y())),
        "frexp" => {
            let (m, e) = jnp::frexp(x());
            vec![m, e]
        }
        "angle" => one(jnp::angle(x(), false)),
        "i0" => one(jnp::i0(x())),
        "kaiser" => one(jnp::kaiser(int(p, "m") as usize, flt(p, "beta"), float)),
        "nn.attention" => one(nn::dot_product_attention(
            x(),
            y(),
            &a[2],
            None,
            None,
            None,
            false,
        )),
        "nn.attention_masked" => one(nn::dot_product_attention(
            x(),
            y(),
            &a[2],
            None,
            Some(&a[3]),
            None,
            true,
        )),
        "bincount" => one(jnp::bincount(x(), None, int(p, "length") as usize)),
        "bincount_w" => one(jnp::bincount(x(), Some(y()), int(p, "length") as usize)),
        "histogram" => {
            let (h, e) = jnp::histogram(x(), int(p, "bins") as usize, None, None, false);
            vec![h, e]
        }
        "histogram_w" => {
            let range = Some((flt(p, "lo"), flt(p, "hi")));
            let (h, e) = jnp::histogram(x(), int(p, "bins") as usize, range, Some(y()), true);
            vec![h, e]
        }
        "choose" => one(jnp::choose(
            x(),
            &[&a[1], &a[2], &a[3]],
            jnp::ChooseMode::Clip,
        )),
        "delete" => one(jnp::delete(x(), &ints(p, "indices"), Some(ax()))),
        "insert" => one(jnp::insert(x(), int(p, "index"), y(), Some(ax()))),
        "bitwise_count" => one(jnp::bitwise_count(x())),
        "lax.population_count" => one(oxjax::lax::population_count(x())),
        "lax.clz" => one(oxjax::lax::clz(x())),
        "lax.lgamma" => one(oxjax::lax::lgamma(x())),
        "lax.digamma" => one(oxjax::lax::digamma(x())),
        "lax.erf_inv" => one(oxjax::lax::erf_inv(x())),
        "meshgrid" => {
            let ix = if p["indexing"] == "xy" {
                jnp::MeshIndexing::Xy
            } else {
                jnp::MeshIndexing::Ij
            };
            jnp::meshgrid(&a.iter().collect::<Vec<_>>(), ix)
        }
        "indices" => one(jnp::indices(&usizes(p, "dims"), None)),
        "poly" => one(jnp::poly(x())),
        "polydiv" => {
            let (q, r) = jnp::polydiv(x(), y());
            vec![q, r]
        }
        "histogram2d" => {
            let (h, ex, ey) =
                jnp::histogram2d(x(), y(), int(p, "bins") as usize, None, Some(&a[2]));
            vec![h, ex, ey]
        }
        "fill_diagonal" => one(jnp::fill_diagonal(x(), flt(p, "val"))),
        "vectorize" => one(jnp::vectorize(|t: &Array| {
            Array::where_(&t.greater(0.0), t * t, -t)
        })(x())),
        "nn.relu" => one(nn::relu(x())),
        "nn.relu6" => one(nn::relu6(x())),
        "nn.sigmoid" => one(nn::sigmoid(x())),
        "nn.log_sigmoid" => one(nn::log_sigmoid(x())),
        "nn.softplus" => one(nn::softplus(x())),
        "nn.silu" => one(nn::silu(x())),
        "nn.selu" => one(nn::selu(x())),
        "nn.soft_sign" => one(nn::soft_sign(x())),
        "nn.hard_tanh" => one(nn::hard_tanh(x())),
        "nn.hard_sigmoid" => one(nn::hard_sigmoid(x())),
        "nn.hard_silu" => one(nn::hard_silu(x())),
        "nn.mish" => one(nn::mish(x())),
        "nn.sparse_plus" => one(nn::sparse_plus(x())),
        "nn.sparse_sigmoid" => one(nn::sparse_sigmoid(x())),
        "nn.gelu" => one(nn::gelu(x(), p["approximate"].as_bool().unwrap())),
        "nn.elu" => one(nn::elu(x(), flt(p, "alpha"))),
        "nn.celu" => one(nn::celu(x(), flt(p, "alpha"))),
        "nn.leaky_relu" => one(nn::leaky_relu(x(), flt(p, "slope"))),
        "nn.squareplus" => one(nn::squareplus(x(), flt(p, "b"))),
        "nn.log1mexp" => one(nn::log1mexp(x())),
        "nn.glu" => one(nn::glu(x(), ax())),
        "nn.softmax" => one(nn::softmax(x(), ax())),
        "nn.log_softmax" => one(nn::log_softmax(x(), ax())),
        "nn.logsumexp" => one(nn::logsumexp(x(), ax(), false, None)),
        "nn.logsumexp_b" => one(nn::logsumexp(x(), ax(), false, Some(y()))),
        "nn.standardize" => one(nn::standardize(x(), ax(), None, None, 1e-5)),
        "nn.one_hot" => one(nn::one_hot(x(), int(p, "classes") as usize, float)),
        other => panic!("fixture names an unknown function {other}"),
    }
}

/// Compares within `tol` (relative to magnitude); NaN matches NaN and
/// infinities must match exactly.
fn check(what: &str, got: &Array, want: &Value, tol: f64) -> Result<(), String> {
    let (shape, kind, data) = expected(want);
    if got.shape() != shape.as_slice() {
        return Err(format!(
            "{what}: shape {:?}, expected {shape:?}",
            got.shape()
        ));
    }
    let want_dtype = match kind {
        "bool" => Some(DType::BOOL),
        "i32" => Some(DType::I32),
        _ => None,
    };
    if let Some(d) = want_dtype
        && got.dtype() != d
    {
        return Err(format!("{what}: dtype {}, expected {d}", got.dtype()));
    }
    let g = vals(got);
    for (i, (a, b)) in g.iter().zip(&data).enumerate() {
        let okay = (a.is_nan() && b.is_nan())
            || a == b
            || (a.is_finite() && b.is_finite() && (a - b).abs() <= tol * (1.0 + b.abs()));
        if !okay {
            return Err(format!(
                "{what}: element {i}: got {a}, expected {b}\n got {g:?}\nwant {data:?}"
            ));
        }
    }
    Ok(())
}

fn run_case(c: &Value, float: DType, tol: f64) -> Result<(), String> {
    let f = c["fn"].as_str().unwrap();
    let args: Vec<Array> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| decode(a, float))
        .collect();
    let what = format!("{f} {}", c["params"]);
    let outs = call(f, &args, &c["params"], float);
    let want = c["out"].as_array().unwrap();
    if outs.len() != want.len() {
        return Err(format!(
            "{what}: {} outputs, expected {}",
            outs.len(),
            want.len()
        ));
    }
    for (o, w) in outs.iter().zip(want) {
        check(&what, o, w, tol)?;
    }
    Ok(())
}

#[test]
fn numpy_fixtures_f64_embedded() {
    let reg = Registry::embedded();
    with_default_device(&reg.default_device(), || {
        let failures: Vec<String> = fixtures()
            .iter()
            .filter_map(|c| run_case(c, DType::F64, 1e-9).err())
            .collect();
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    });
}

/// A representative subset (one per family) in f32 on every plugin device.
#[test]
fn numpy_fixtures_f32_every_device() {
    let families = [
        "logaddexp",
        "sinc",
        "arcsinh",
        "heaviside",
        "round",
        "var",
        "average",
        "nanmean",
        "nanargmax",
        "geomspace",
        "tile",
        "repeat",
        "roll",
        "pad",
        "split",
        "kron",
        "diagonal",
        "diag",
        "triu",
        "tensordot",
        "einsum",
        "convolve",
        "nn.gelu",
        "nn.softmax",
        "nn.logsumexp",
        "nn.one_hot",
        "nn.log_softmax",
        "cov",
        "interp",
        "gcd",
        "digitize",
        "polyval",
        "nn.attention_masked",
    ];
    let cases: Vec<Value> = fixtures()
        .into_iter()
        .filter(|c| families.contains(&c["fn"].as_str().unwrap()))
        .collect();
    for dev in plugin_devices() {
        with_default_device(&dev, || {
            let failures: Vec<String> = cases
                .iter()
                .filter_map(|c| run_case(c, DType::F32, 2e-4).err())
                .collect();
            assert!(
                failures.is_empty(),
                "on {}: {}",
                dev.name(),
                failures.join("\n")
            );
        });
    }
}

#[test]
fn weak_scalars_and_promotion() {
    let i = Array::from_vec(vec![1i32, 2], &[2]);
    let h = Array::from_vec(vec![1.0f32, 2.0], &[2]).astype(DType::F16);
    assert_eq!(jnp::add(&i, 1).dtype(), DType::I32);
    assert_eq!(jnp::multiply(&h, 2.0).dtype(), DType::F16);
    assert_eq!(jnp::hypot(&h, 1.0).dtype(), DType::F16);
    assert_eq!(jnp::logaddexp(&i, &i).dtype(), DType::F32);
    assert_eq!(jnp::mean(&i, Axes::All, false).dtype(), DType::F32);
    assert_eq!(jnp::var(&i, Axes::All, 0, false).dtype(), DType::F32);
    assert_eq!(
        jnp::sum(&i.greater(1), Axes::All, false).dtype(),
        DType::I32
    );
    assert_eq!(jnp::full(&[2], 1.5, None).dtype(), DType::F32);
    assert!(!jnp::asarray(1.5, None).is_weak());
    assert_eq!(jnp::arange(0, 3, 1, None).dtype(), DType::I32);
    assert_eq!(jnp::arange(0.0, 3.0, 1.0, None).dtype(), DType::F32);
    assert_eq!(jnp::einsum("i,i", &[&i, &i]).item::<i32>(), 5);
}

#[test]
fn keepdims_and_axes() {
    let x = jnp::arange(0.0, 24.0, 1.0, DType::F32).reshape(&[2, 3, 4]);
    assert_eq!(jnp::var(&x, [0, 2], 0, true).shape(), &[1, 3, 1]);
    assert_eq!(jnp::nanmax(&x, -1, true).shape(), &[2, 3, 1]);
    assert_eq!(jnp::argmax(&x, Some(1), true).shape(), &[2, 1, 4]);
    assert_eq!(jnp::argmax(&x, None, true).shape(), &[1, 1, 1]);
    assert_eq!(jnp::nanargmin(&x, None, false).item::<i32>(), 0);
    assert_eq!(jnp::count_nonzero(&x, Axes::All, false).item::<i32>(), 23);
    assert_eq!(nn::logsumexp(&x, [0, 2], true, None).shape(), &[1, 3, 1]);
    assert_eq!(nn::logsumexp(&x, [0, 2], false, None).shape(), &[3]);
    // All-NaN rows: NaN for the value, -1 for the index (as JAX).
    let n = Array::from_vec(vec![f32::NAN, f32::NAN, 1.0, f32::NAN], &[2, 2]);
    assert!(jnp::nanmax(&n, 1, false).to_vec::<f32>()[0].is_nan());
    assert_eq!(
        jnp::nanargmax(&n, Some(1), false).to_vec::<i32>(),
        vec![-1, 0]
    );
}

#[test]
fn misuse_messages() {
    let x = jnp::zeros(&[2, 3], None);
    let msg = |f: &dyn Fn()| {
        let e =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("should panic");
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    };
    assert!(
        msg(&|| {
            jnp::split(&x, 2, 1);
        })
        .contains("split: axis 1 of length 3 does not split into 2 equal sections")
    );
    let e = jnp::try_einsum("ij,jk->ik", &[&x, &x])
        .unwrap_err()
        .to_string();
    assert!(e.contains("einsum: label 'j' has sizes 3 and 2"), "{e}");
    let e = jnp::try_einsum("ij->iz", &[&x]).unwrap_err().to_string();
    assert!(e.contains("output label 'z'"), "{e}");
    let e = jnp::try_pad(&x, &[(1, 1); 3], PadMode::Edge)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pad: 3 (before, after) pairs for an array of shape [2, 3]"),
        "{e}"
    );
    assert!(
        msg(&|| {
            jnp::stack(&[&x, &x.t()], 0);
        })
        .contains("stack: arrays must have one shape, got [2, 3], [3, 2]")
    );
    let e = oxjax::lax::try_dot_general(&x, &x, (&[1], &[0]), (&[], &[]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dot_general: lhs axis 1 (3) and rhs axis 0 (2) differ"),
        "{e}"
    );
}

// ---- transformations: grad vs finite differences, jit vs eager, vmap ----

use oxjax::{Slice, grad, jit, vmap};

/// Inputs in (0.2, 0.95) without ties, shape (3, 4), f64.
fn smooth_input() -> Array {
    let v: Vec<f64> = (0..12)
        .map(|i| 0.2 + 0.061 * i as f64 + 0.013 * ((i * 7) % 5) as f64)
        .collect();
    Array::from_vec(v, &[3, 4])
}

/// A weighted sum, so every output element matters to the gradient.
fn scalarize(y: &Array) -> Array {
    let w = Array::arange(1.0, y.size() as f64 + 1.0, 1.0, DType::F64).sin();
    let w = w.reshape(&y.shape().iter().map(|&d| d as isize).collect::<Vec<_>>());
    (y * &w).sum(Axes::All, false)
}

type Fun = (&'static str, fn(&Array) -> Array);

/// Every differentiable composite of `oxjax::numpy`, on a (3, 4) input.
const COMPOSITES: &[Fun] = &[
    ("hypot", |x| jnp::hypot(x, x.flip(&[]) - 0.5)),
    ("logaddexp", |x| jnp::logaddexp(x * 3.0, x.flip(&[]))),
    ("logaddexp2", |x| jnp::logaddexp2(x * 3.0, x.flip(&[]))),
    ("sinc", |x| jnp::sinc(x * 2.0 - 1.0)),
    ("cbrt", |x| jnp::cbrt(x)),
    ("arcsinh", |x| jnp::arcsinh(x * 4.0 - 2.0)),
    ("arccosh", |x| jnp::arccosh(x + 1.2)),
    ("arctanh", |x| jnp::arctanh(x - 0.5)),
    ("log10", |x| jnp::log10(x)),
    ("deg2rad", |x| jnp::deg2rad(x)),
    ("float_power", |x| jnp::float_power(x, x.flip(&[]))),
    ("square", |x| jnp::square(x)),
    ("clip", |x| jnp::clip(x, Some(0.3), Some(0.8))),
    ("copysign", |x| jnp::copysign(x, x - 0.5)),
    ("fmax", |x| jnp::fmax(x, x.flip(&[]))),
    ("ldexp", |x| jnp::ldexp(x, 3)),
    ("var", |x| jnp::var(x, 1, 1, false)),
    ("std", |x| jnp::std(x, Axes::All, 0, true) * x),
    ("average", |x| {
        jnp::average(x, 0, Some(&x.flip(&[]).exp()), false)
    }),
    ("nanmean", |x| jnp::nanmean(x, 1, true) * x),
    ("nanvar", |x| jnp::nanvar(x, 0, 0, false)),
    ("nanmax", |x| jnp::nanmax(x, 1, false)),
    ("ptp", |x| jnp::ptp(x, 0, false)),
    ("einsum trace", |x| jnp::einsum("ij,kj->ik", &[x, x]).sin()),
    ("einsum diag", |x| {
        jnp::einsum("ii,ij->j", &[&x.slice(&[Slice::all(), (0..3).into()]), x])
    }),
    ("tensordot", |x| jnp::tensordot(x, &x.t(), 1)),
    ("kron", |x| {
        jnp::kron(x, &x.slice(&[(0..2).into(), (0..2).into()]))
    }),
    ("diagonal", |x| jnp::diagonal(x, 1, 0, 1)),
    ("diag", |x| jnp::diag(&jnp::diagonal(x, 0, 0, 1), -1)),
    ("trace", |x| jnp::trace(x, 0, 0, 1) * x),
    ("triu", |x| jnp::triu(x, 1) * x),
    ("pad reflect", |x| {
        jnp::pad(x, &[(2, 1), (1, 3)], PadMode::Reflect)
    }),
    ("pad symmetric", |x| {
        jnp::pad(x, &[(2, 1), (1, 3)], PadMode::Symmetric)
    }),
    ("pad linear_ramp", |x| {
        jnp::pad(x, &[(2, 1), (1, 3)], PadMode::LinearRamp(0.5))
    }),
    ("pad mean", |x| {
        jnp::pad(x, &[(1, 1), (2, 0)], PadMode::Mean)
    }),
    ("roll", |x| jnp::roll(x, 5, None) * x),
    ("tile", |x| jnp::tile(x, &[2, 1, 2])),
    ("repeat", |x| jnp::repeat(x, &[2, 0, 1, 3], Some(1))),
    ("rot90", |x| jnp::rot90(x, 1, (0, 1))),
    ("diff", |x| jnp::diff(x, 2, 1)),
    ("cross", |x| {
        jnp::cross(
            &x.slice(&[Slice::all(), (0..3).into()]),
            &x.slice(&[Slice::all(), (1..4).into()]),
            -1,
        )
    }),
    ("convolve", |x| {
        jnp::convolve(
            &x.reshape(&[-1]),
            &x.slice(&[(0..1).into()]).reshape(&[-1]),
            ConvMode::Same,
        )
    }),
    ("outer", |x| jnp::outer(x, &x.sum(0, false))),
    ("select", |x| {
        jnp::select(&[&x.greater(0.5)], &[&x.sin()], x * x)
    }),
    ("split+stack", |x| {
        jnp::stack(&jnp::split(x, 2, 1).iter().collect::<Vec<_>>(), 0).exp()
    }),
    ("moveaxis", |x| {
        jnp::moveaxis(&x.reshape(&[3, 2, 2]), [0, 1], [2, 0]) * 2.0
    }),
    ("vdot", |x| jnp::vdot(x, &x.exp())),
    ("cov", |x| jnp::cov(x, true, 1)),
    ("corrcoef", |x| jnp::corrcoef(x, false)),
    ("trapezoid", |x| jnp::trapezoid(x, None, 0.5, 1)),
    ("gradient", |x| jnp::gradient(&x.exp(), 0)),
    ("interp", |x| {
        let xp = Array::from_vec(vec![0.0, 0.3, 0.6, 1.0], &[4]);
        jnp::interp(x, &xp, &xp.sin(), None, None)
    }),
    ("polyval", |x| {
        jnp::polyval(&x.slice(&[(0..1).into()]).reshape(&[-1]), x)
    }),
    ("polyint", |x| jnp::polyint(&x.reshape(&[-1]), 2, 0.5)),
    ("i0", |x| jnp::i0(x * 3.0)),
    ("logaddexp via softplus", |x| jnp::logaddexp(x, 0.0)),
    ("lgamma", |x| oxjax::lax::lgamma(&(x * 3.0 - 1.2))),
    ("digamma", |x| oxjax::lax::digamma(&(x * 3.0 + 0.1))),
    ("erf_inv", |x| oxjax::lax::erf_inv(&(x - 0.55))),
    ("delete", |x| {
        jnp::delete(x, &[0, 2], Some(1)) * x.sum(1, true)
    }),
    ("insert", |x| {
        jnp::insert(x, 1, &x.sum(1, false), Some(1)).sin()
    }),
    ("choose", |x| {
        jnp::choose(
            &Array::from_vec(vec![0i32, 1, 1, 0], &[4]),
            &[x, &x.exp()],
            jnp::ChooseMode::Clip,
        )
    }),
    ("vander", |x| jnp::vander(&x.reshape(&[-1]), Some(4), true)),
    ("nanstd", |x| jnp::nanstd(x, 1, 1, false)),
    ("nansum", |x| {
        jnp::nansum(x, 0, false) * jnp::nanprod(x, 0, false)
    }),
    ("nanmin", |x| jnp::nanmin(x, Axes::All, true) * x),
    ("polymul", |x| {
        jnp::polymul(&x.reshape(&[-1]), &x.slice(&[(1..2).into()]).reshape(&[-1]))
    }),
    ("polyadd+polyder", |x| {
        jnp::polyder(
            &jnp::polyadd(&x.reshape(&[-1]), &x.slice(&[(0..1).into()]).reshape(&[-1])),
            2,
        )
    }),
    ("resize", |x| jnp::resize(x, &[5, 3])),
    ("matvec", |x| {
        jnp::matvec(x, &x.slice(&[(0..1).into()]).reshape(&[-1]).exp())
    }),
    ("integer_pow", |x| oxjax::lax::integer_pow(x, -3)),
    ("clamp", |x| oxjax::lax::clamp(0.3, x, 0.75)),
    ("select_n", |x| {
        oxjax::lax::select_n(&x.greater(0.5), &[x, &(x * x)])
    }),
    ("lax.pad interior", |x| {
        oxjax::lax::pad(x, 0.5, &[(1, -1, 1), (0, 2, 2)]).sin()
    }),
    ("reduce_window sum", |x| {
        oxjax::lax::reduce_window(
            x,
            oxjax::lax::WindowReduction::Sum,
            &[2, 2],
            &[1, 2],
            &oxjax::lax::Padding::Same,
            None,
            None,
        )
    }),
    ("histogram weights", |x| {
        jnp::histogram(&x.t(), 3, Some((0.0, 1.0)), Some(&x.t().exp()), false).0
    }),
];

/// Every differentiable function of `oxjax::nn`.
const ACTIVATIONS: &[Fun] = &[
    ("relu", |x| nn::relu(&(x - 0.5))),
    // Off the kink at 0: the derivative there is 0 (as JAX), finite
    // differences see half the slope.
    ("relu6", |x| nn::relu6(&(x * 10.0 - 2.05))),
    ("sigmoid", |x| nn::sigmoid(&(x * 6.0 - 3.0))),
    ("log_sigmoid", |x| nn::log_sigmoid(&(x * 6.0 - 3.0))),
    ("softplus", |x| nn::softplus(&(x * 6.0 - 3.0))),
    ("silu", |x| nn::silu(&(x * 6.0 - 3.0))),
    ("mish", |x| nn::mish(&(x * 6.0 - 3.0))),
    ("gelu", |x| nn::gelu(&(x * 6.0 - 3.0), false)),
    ("gelu tanh", |x| nn::gelu(&(x * 6.0 - 3.0), true)),
    ("elu", |x| nn::elu(&(x * 6.0 - 3.0), 0.7)),
    ("celu", |x| nn::celu(&(x * 6.0 - 3.0), 1.3)),
    ("selu", |x| nn::selu(&(x * 6.0 - 3.0))),
    ("leaky_relu", |x| nn::leaky_relu(&(x * 6.0 - 3.0), 0.1)),
    ("hard_tanh", |x| nn::hard_tanh(&(x * 3.0 - 1.65))),
    ("hard_sigmoid", |x| nn::hard_sigmoid(&(x * 8.0 - 4.1))),
    ("hard_silu", |x| nn::hard_silu(&(x * 8.0 - 4.1))),
    ("soft_sign", |x| nn::soft_sign(&(x * 6.0 - 3.0))),
    ("squareplus", |x| nn::squareplus(&(x * 6.0 - 3.0), 4.0)),
    ("sparse_plus", |x| nn::sparse_plus(&(x * 4.0 - 2.05))),
    ("log1mexp", |x| nn::log1mexp(&(x * 2.0))),
    ("glu", |x| nn::glu(x, -1)),
    ("softmax", |x| nn::softmax(&(x * 5.0), -1)),
    ("log_softmax", |x| nn::log_softmax(&(x * 5.0), 0)),
    ("logsumexp", |x| {
        nn::logsumexp(&(x * 5.0), 1, false, Some(&x.flip(&[])))
    }),
    ("logmeanexp", |x| nn::logmeanexp(x, Axes::All, false)),
    ("standardize", |x| nn::standardize(x, -1, None, None, 1e-5)),
    ("sparse_sigmoid", |x| nn::sparse_sigmoid(&(x * 4.0 - 2.05))),
    ("dot_product_attention", |x| {
        let q = x.reshape(&[1, 3, 1, 4]);
        nn::dot_product_attention(&q, &q.exp(), &q.sin(), None, None, None, true)
    }),
];

#[test]
fn grads_match_finite_differences() {
    on_embedded(|| {
        let x = smooth_input();
        let mut failures = Vec::new();
        for (name, g) in COMPOSITES.iter().chain(ACTIVATIONS) {
            let f = |x: &Array| scalarize(&g(x));
            let got = grad(f)(&x).to_vec::<f64>();
            let want = fd_grad(&f, &x);
            if let Err(e) = close(&got, &want, 1e-6) {
                failures.push(format!("{name}: {e}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}

#[test]
fn jit_matches_eager() {
    on_embedded(|| {
        let x = smooth_input();
        let mut failures = Vec::new();
        for (name, g) in COMPOSITES.iter().chain(ACTIVATIONS) {
            let eager = g(&x);
            let compiled = jit(|x: &Array| g(x))(&x);
            if eager.shape() != compiled.shape() {
                failures.push(format!(
                    "{name}: shapes {:?} vs {:?}",
                    eager.shape(),
                    compiled.shape()
                ));
                continue;
            }
            if let Err(e) = close(&compiled.to_vec::<f64>(), &eager.to_vec::<f64>(), 1e-12) {
                failures.push(format!("{name}: {e}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}

/// `einsum` against explicit loops over every index.
#[test]
fn einsum_matches_loops() {
    on_embedded(|| {
        let a: Vec<f64> = (0..24).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..40).map(|i| (i as f64 * 0.11).cos()).collect();
        let (aa, bb) = (
            Array::from_vec(a.clone(), &[2, 3, 4]),
            Array::from_vec(b.clone(), &[2, 4, 5]),
        );
        // bij,bjk->bki
        let got = jnp::einsum("bij,bjk->bki", &[&aa, &bb]).to_vec::<f64>();
        let mut want = vec![0.0; 2 * 5 * 3];
        for bi in 0..2 {
            for i in 0..3 {
                for k in 0..5 {
                    let s: f64 = (0..4)
                        .map(|j| a[bi * 12 + i * 4 + j] * b[bi * 20 + j * 5 + k])
                        .sum();
                    want[bi * 15 + k * 3 + i] = s;
                }
            }
        }
        close(&got, &want, 1e-12).unwrap();
        // ijk,ikj->i (diagonal-free contraction over two axes with a batch)
        let c = Array::from_vec(a[..18].to_vec(), &[2, 3, 3]);
        let got = jnp::einsum("ijk,ikj->i", &[&c, &c]).to_vec::<f64>();
        let want: Vec<f64> = (0..2)
            .map(|i| {
                let mut s = 0.0;
                for j in 0..3 {
                    for k in 0..3 {
                        s += a[i * 9 + j * 3 + k] * a[i * 9 + k * 3 + j];
                    }
                }
                s
            })
            .collect();
        close(&got, &want, 1e-12).unwrap();
        // iij->ji with a repeated label
        let d = Array::from_vec(a[..18].to_vec(), &[3, 3, 2]);
        let got = jnp::einsum("iij->ji", &[&d]).to_vec::<f64>();
        let mut want = vec![0.0; 6];
        for i in 0..3 {
            for j in 0..2 {
                want[j * 3 + i] = a[i * 6 + i * 2 + j];
            }
        }
        close(&got, &want, 1e-12).unwrap();
        // outer product of three vectors, broadcast ellipsis with a size-1 axis
        let u = Array::from_vec(a[..2].to_vec(), &[1, 2]);
        let v = Array::from_vec(b[..6].to_vec(), &[3, 2]);
        let got = jnp::einsum("...i,...i->...", &[&u, &v]).to_vec::<f64>();
        let want: Vec<f64> = (0..3)
            .map(|r| a[0] * b[r * 2] + a[1] * b[r * 2 + 1])
            .collect();
        close(&got, &want, 1e-12).unwrap();
    });
}

/// `vmap` of einsum and of a reduction family against a loop over the batch.
#[test]
fn vmap_matches_loop() {
    on_embedded(|| {
        let xs = Array::from_vec(
            (0..24).map(|i| (i as f64 * 0.7).sin()).collect::<Vec<_>>(),
            &[2, 3, 4],
        );
        let m = Array::from_vec(
            (0..20).map(|i| (i as f64 * 0.3).cos()).collect::<Vec<_>>(),
            &[4, 5],
        );
        type Batched<'a> = (&'a str, Box<dyn Fn(&Array) -> Array + 'a>);
        let fs: Vec<Batched> = vec![
            (
                "einsum",
                Box::new(|x: &Array| jnp::einsum("ij,jk->ki", &[x, &m])),
            ),
            (
                "einsum trace",
                Box::new(|x: &Array| jnp::einsum("ij,ij", &[x, x])),
            ),
            ("var", Box::new(|x: &Array| jnp::var(x, 1, 1, false))),
            (
                "pad wrap",
                Box::new(|x: &Array| jnp::pad(x, &[(1, 2), (3, 0)], PadMode::Wrap)),
            ),
            ("softmax", Box::new(|x: &Array| nn::softmax(x, 0))),
            ("diagonal", Box::new(|x: &Array| jnp::diagonal(x, 1, 0, 1))),
        ];
        for (name, f) in &fs {
            let batched = vmap(|x: &Array| f(x))(&xs);
            for b in 0..2 {
                let one = f(&xs.slice(&[(b..b + 1).into()]).squeeze(&[0]));
                let got = batched.slice(&[(b..b + 1).into()]).squeeze(&[0]);
                assert_eq!(got.shape(), one.shape(), "{name}");
                close(&got.to_vec::<f64>(), &one.to_vec::<f64>(), 1e-12)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    });
}
