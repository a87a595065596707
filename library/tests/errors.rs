//! Errors as values: a misuse or a backend failure inside an op comes back
//! from `catch` typed, with its context; entry points return `Result`.

mod common;

use common::{library, toml_path, write_config};
use oxjax::primitive::{Prim, bind};
use oxjax::{Array, DType, ErrorKind, Registry, catch, with_default_device};

#[test]
fn a_misuse_inside_an_expression_comes_back_typed_with_its_context() {
    let a = Array::zeros(&[2, 3], DType::F32);
    let b = Array::ones(&[4, 5], DType::F32);
    let e = catch(|| (&a * 2.0).matmul(&b) + 1.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e:?}");
    assert_eq!(e.context().op.as_deref(), Some("matmul"));
    assert_eq!(e.context().shapes, vec![vec![2, 3], vec![4, 5]]);
    assert_eq!(e.context().dtypes, vec![DType::F32, DType::F32]);
    assert!(
        e.to_string().contains("contracting dimensions differ"),
        "{e}"
    );

    let e = catch(|| &a + &b).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert_eq!(e.context().shapes, vec![vec![2, 3], vec![4, 5]]);

    let e = catch(|| a.sum(5, false)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e:?}");
    assert!(e.to_string().contains("axis 5"), "{e}");

    let i = Array::from_vec(vec![0.5f32], &[1]);
    let e = catch(|| oxjax::numpy::take(&a, &i, 0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DType, "{e:?}");

    // Nothing raised: the value.
    assert_eq!(catch(|| a.sum(0, false).shape().to_vec()).unwrap(), vec![3]);
}

#[test]
fn a_primitive_bound_with_bad_operands_records_the_primitive_and_operands() {
    let a = Array::zeros(&[2, 3], DType::F32);
    let b = Array::zeros(&[2, 4], DType::I32);
    let e = bind(Prim::Concatenate(0), &[&a, &b]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e:?}");
    assert!(e.context().op.is_some(), "{e:?}");
    assert_eq!(e.context().shapes, vec![vec![2, 3], vec![2, 4]]);
    assert_eq!(e.context().dtypes, vec![DType::F32, DType::I32]);
}

#[test]
fn a_device_out_of_memory_inside_an_op_is_an_error_value_and_the_device_lives_on() {
    let lib = library("oxjax-backend-wasm");
    let cfg = write_config(
        "oom",
        &format!(
            "[plugins.small]\npath = {}\noptions = {{ threads = 1, max_memory_mb = 80 }}\n",
            toml_path(&lib)
        ),
    );
    let reg = Registry::from_file(&cfg).unwrap();
    let dev = reg.device("small").unwrap();
    // 48 MB fits; its doubled copy does not.
    let x = with_default_device(&dev, || {
        Array::from_vec(vec![1.0f32; 12 << 20], &[12 << 20])
    });
    let e = catch(|| (&x * 2.0).sum(0, false)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfMemory, "{e:?}");
    assert_eq!(e.context().device.as_deref(), Some("small"));
    // The device still runs what fits.
    let y = with_default_device(&dev, || Array::from_vec(vec![1.0f32, 2.0], &[2]));
    assert_eq!((&y * 2.0).to_vec::<f32>(), vec![2.0, 4.0]);
}

#[test]
fn a_plugin_panic_inside_an_op_is_an_error_value() {
    let lib = library("oxjax-test-plugin-panicking");
    let cfg = write_config(
        "panicking-catch",
        &format!("[plugins.p]\npath = {}\n", toml_path(&lib)),
    );
    let reg = Registry::from_file(&cfg).unwrap();
    let p = reg.device("p").unwrap();
    let x = with_default_device(&p, || Array::from_vec(vec![1i32, 2, 3], &[3]));
    let e = catch(|| &x + &x).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Panic, "{e:?}");
    assert_eq!(e.context().device.as_deref(), Some("p"));
    assert!(e.to_string().contains("deliberate panic"), "{e}");
}

#[test]
fn a_foreign_panic_in_catch_is_kind_panic_and_catches_nest() {
    let e = catch(|| -> i32 { panic!("my own bug {}", 7) }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Panic);
    assert_eq!(e.to_string(), "my own bug 7");
    // An inner catch takes the inner error; the outer block goes on.
    let a = Array::zeros(&[2], DType::F32);
    let out = catch(|| {
        let inner = catch(|| a.reshape(&[3]));
        assert_eq!(inner.unwrap_err().kind(), ErrorKind::Shape);
        a.sum(0, false).item::<f32>()
    });
    assert_eq!(out.unwrap(), 0.0);
}

#[test]
fn uncaught_errors_still_panic_with_their_message() {
    let a = Array::zeros(&[2, 3], DType::F32);
    let p = std::panic::catch_unwind(|| a.matmul(&a)).unwrap_err();
    let msg = p.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("matmul: contracting dimensions differ"),
        "{msg}"
    );
}
