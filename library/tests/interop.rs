//! `oxjax::interop`: ndarray conversion, `.npy` files written by numpy and
//! round trips, safetensors files written by Python's `safetensors` and
//! round trips, and the error messages (fixtures/interop, made by
//! fixtures/make_interop.py).

use oxjax::interop::{self, load_npy, load_safetensors, read_npy, save_npy, write_npy};
use oxjax::{Array, DType, bf16, f16};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/interop")
        .join(name)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxjax-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// One array of every dtype, with edge values.
fn samples() -> Vec<Array> {
    vec![
        Array::from_vec(vec![true, false, true], &[3]),
        Array::from_vec(vec![i32::MIN, -1, 0, i32::MAX], &[2, 2]),
        Array::from_vec(vec![0u32, 1, u32::MAX], &[3, 1]),
        Array::from_vec(vec![f16::from_f32(0.5), f16::MAX, f16::NEG_INFINITY], &[3]),
        Array::from_vec(
            vec![-0.0f32, f32::NAN, 1e-45, f32::MAX, 2.5, -7.0],
            &[1, 2, 3],
        ),
        Array::from_vec(vec![std::f64::consts::PI, -1e300], &[2]),
        Array::from_vec(
            vec![
                bf16::from_f32(-0.0),
                bf16::NAN,
                bf16::MAX,
                bf16::from_bits(1),
            ],
            &[2, 2],
        ),
        Array::from_vec(vec![i8::MIN, -1, 0, i8::MAX], &[4, 1]),
        Array::from_vec(vec![0u8, 1, u8::MAX], &[3]),
        Array::scalar(42.0f32),
        Array::zeros(&[0, 4], DType::F32),
    ]
}

/// The `.npy` encoding: dtype, shape and every bit of the data.
fn npy_bytes(a: &Array) -> Vec<u8> {
    let mut buf = Vec::new();
    write_npy(&mut buf, a).unwrap();
    buf
}

/// Bit-level equality of two arrays (NaN and -0.0 included).
fn same(a: &Array, b: &Array) -> bool {
    npy_bytes(a) == npy_bytes(b)
}

#[test]
fn npy_round_trips_every_dtype() {
    for (i, a) in samples().iter().enumerate() {
        let path = temp(&format!("a{i}.npy"));
        save_npy(&path, a).unwrap();
        let b = load_npy(&path).unwrap();
        assert!(same(a, &b), "{a:?} came back as {b:?}");
        // A strided view writes its logical elements.
        if a.ndim() == 2 {
            let t = a.t();
            let back = read_npy(&mut npy_bytes(&t).as_slice()).unwrap();
            assert_eq!(back.shape(), t.shape());
            assert!(same(&back, &t));
        }
    }
}

#[test]
fn npy_headers_are_what_numpy_writes() {
    let mut buf = Vec::new();
    write_npy(&mut buf, &Array::zeros(&[2, 3], DType::F32)).unwrap();
    let fixture_bytes = std::fs::read(fixture("f32_2x3.npy")).unwrap();
    // Same header as numpy's for the same dtype and shape (data differs).
    assert_eq!(buf[..128], fixture_bytes[..128]);
    let mut one = Vec::new();
    write_npy(&mut one, &Array::zeros(&[5], DType::BOOL)).unwrap();
    assert_eq!(
        std::fs::read(fixture("bool_5.npy")).unwrap()[..128],
        one[..128]
    );
}

#[test]
fn npy_files_written_by_numpy() {
    let x = load_npy(fixture("f32_2x3.npy")).unwrap();
    assert_eq!(x.shape(), [2, 3]);
    assert_eq!(x.to_vec::<f32>(), [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]);
    let x = load_npy(fixture("f64_4.npy")).unwrap();
    assert_eq!(x.to_vec::<f64>(), [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]);
    let x = load_npy(fixture("f16_3.npy")).unwrap();
    assert_eq!(
        x.to_vec::<f16>(),
        [f16::from_f32(0.5), f16::from_f32(-2.0), f16::MAX]
    );
    let x = load_npy(fixture("i32_2x2.npy")).unwrap();
    assert_eq!(x.to_vec::<i32>(), [1, -2, i32::MAX, i32::MIN]);
    let x = load_npy(fixture("u32_3.npy")).unwrap();
    assert_eq!(x.to_vec::<u32>(), [0, 7, u32::MAX]);
    let x = load_npy(fixture("bool_5.npy")).unwrap();
    assert_eq!(x.to_vec::<bool>(), [true, false, true, true, false]);
    let x = load_npy(fixture("scalar_f32.npy")).unwrap();
    assert_eq!((x.shape(), x.item::<f32>()), (&[][..], 3.25));
    let x = load_npy(fixture("empty_0x3.npy")).unwrap();
    assert_eq!(x.shape(), [0, 3]);
    let x = load_npy(fixture("v2_f32_3.npy")).unwrap();
    assert_eq!(x.to_vec::<f32>(), [1.5, 2.5, 3.5]);
    // ml_dtypes' bfloat16 is saved as the opaque '<V2'.
    let x = load_npy(fixture("bf16_3.npy")).unwrap();
    assert_eq!(x.to_vec::<bf16>(), [1.5, -2.0, 3.0e38].map(bf16::from_f32));
    let x = load_npy(fixture("i8_4.npy")).unwrap();
    assert_eq!(x.to_vec::<i8>(), [1, -2, 127, -128]);
    let x = load_npy(fixture("u8_3.npy")).unwrap();
    assert_eq!(x.to_vec::<u8>(), [0, 7, 255]);
    // and oxjax writes the headers numpy writes for them
    for (name, a) in [
        ("bf16_3.npy", load_npy(fixture("bf16_3.npy")).unwrap()),
        ("u8_3.npy", x),
    ] {
        let mut buf = Vec::new();
        write_npy(&mut buf, &a).unwrap();
        assert_eq!(buf, std::fs::read(fixture(name)).unwrap(), "{name}");
    }
}

#[test]
fn npy_errors_name_the_file_and_the_problem() {
    let err = |name: &str| load_npy(fixture(name)).unwrap_err().to_string();
    let path = |name: &str| fixture(name).display().to_string();
    assert_eq!(
        err("i64_3.npy"),
        format!(
            "load_npy: {}: dtype '<i8' is not supported; oxjax reads |b1, |i1, |u1, <i4, <u4, <V2, <f2, <f4, <f8",
            path("i64_3.npy")
        )
    );
    assert_eq!(
        err("fortran_2x3.npy"),
        format!(
            "load_npy: {}: Fortran-order arrays are not supported; save a C-order array (np.ascontiguousarray)",
            path("fortran_2x3.npy")
        )
    );
    assert!(err("big_endian_2.npy").contains("dtype '>f4' is not supported"));
    assert!(err("no-such.npy").starts_with(&format!("load_npy: {}:", path("no-such.npy"))));
    let bad = read_npy(&mut &b"PK\x03\x04 not npy"[..]).unwrap_err();
    assert_eq!(
        bad.to_string(),
        "npy: not a .npy file (no \\x93NUMPY magic)"
    );
    let mut truncated = std::fs::read(fixture("f32_2x3.npy")).unwrap();
    truncated.truncate(140);
    assert_eq!(
        read_npy(&mut truncated.as_slice()).unwrap_err().to_string(),
        "npy: 12 bytes of data for f32[2, 3], which needs 24"
    );
}

#[test]
fn ndarray_conversion() {
    let x = Array::arange(0.0, 24.0, 1.0, DType::F32).reshape(&[2, 3, 4]);
    let nd = interop::to_ndarray::<f32>(&x);
    assert_eq!(nd.shape(), [2, 3, 4]);
    assert_eq!(nd[[1, 2, 3]], 23.0);
    let back = interop::from_ndarray(&nd);
    assert_eq!(back.to_vec::<f32>(), x.to_vec::<f32>());
    // Non-contiguous ndarray views come in logical order.
    let view = nd
        .slice(ndarray::s![.., 1.., ..;2])
        .permuted_axes([2, 0, 1]);
    let y = interop::from_ndarray(&view);
    assert_eq!(y.shape(), [2, 2, 2]);
    assert_eq!(y.to_vec::<f32>(), view.iter().copied().collect::<Vec<_>>());
    // A transposed oxjax view converts in logical order too.
    let t = interop::to_ndarray::<f32>(&x.transpose(&[2, 1, 0]));
    assert_eq!(t[[3, 2, 1]], 23.0);
    let b = interop::to_ndarray::<bool>(&Array::from_vec(vec![true, false], &[2]));
    assert_eq!(b.as_slice().unwrap(), [true, false]);
    let err = interop::try_to_ndarray::<f64>(&x).unwrap_err().to_string();
    assert_eq!(
        err,
        "to_vec::<f64>: the array has dtype f32; convert it with astype first"
    );
}

#[test]
fn safetensors_written_by_python() {
    let m = load_safetensors(fixture("numpy.safetensors")).unwrap();
    assert_eq!(
        m.keys().collect::<Vec<_>>(),
        ["bias", "half", "mask", "steps", "weight"]
    );
    assert_eq!(m["weight"].shape(), [3, 2]);
    assert_eq!(
        m["weight"].to_vec::<f32>(),
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    );
    assert_eq!(m["bias"].to_vec::<f64>(), [1.0, -1.0]);
    assert_eq!(m["steps"].to_vec::<i32>(), [3]);
    assert_eq!(m["mask"].shape(), [1, 2]);
    assert_eq!(m["mask"].to_vec::<bool>(), [true, false]);
    assert_eq!(
        m["half"].to_vec::<f16>(),
        [f16::from_f32(0.5), f16::from_f32(1.5)]
    );
    let m = load_safetensors(fixture("narrow.safetensors")).unwrap();
    assert_eq!(
        m["bf"].to_vec::<bf16>(),
        [0.5, -1.25, 3.0e38].map(bf16::from_f32)
    );
    assert_eq!(
        (m["i8"].shape(), m["i8"].to_vec::<i8>()),
        (&[1, 2][..], vec![-128, 127])
    );
    assert_eq!(m["u8"].to_vec::<u8>(), [255, 0, 9]);
}

#[test]
fn safetensors_round_trip_and_errors() {
    let m: BTreeMap<String, Array> = samples()
        .into_iter()
        .enumerate()
        .map(|(i, a)| (format!("t{i}"), a))
        .collect();
    let path = temp("all.safetensors");
    interop::save_safetensors(&path, &m).unwrap();
    let back = load_safetensors(&path).unwrap();
    assert_eq!(back.len(), m.len());
    for (k, a) in &m {
        assert!(same(a, &back[k]), "{k}: {a:?} came back as {:?}", back[k]);
    }
    // A hand-built file: 8-byte header length, JSON header, data.
    let header = br#"{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(7i64.to_le_bytes());
    assert_eq!(
        interop::safetensors_from_bytes(&bytes)
            .unwrap_err()
            .to_string(),
        "safetensors: tensor x has dtype I64, which oxjax does not support (BOOL, I8, U8, I32, U32, BF16, F16, F32, F64)"
    );
    let header = br#"{"y":{"dtype":"U32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend([1, 0, 0, 0, 2, 0, 0, 0]);
    let m = interop::safetensors_from_bytes(&bytes).unwrap();
    assert_eq!(m["y"].to_vec::<u32>(), [1, 2]);
    let err = interop::safetensors_from_bytes(&bytes[..bytes.len() - 3])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("safetensors: not a valid file:"), "{err}");
    let err = load_safetensors(fixture("f32_2x3.npy"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "load_safetensors: {}: safetensors: not a valid file",
            fixture("f32_2x3.npy").display()
        )),
        "{err}"
    );
}
