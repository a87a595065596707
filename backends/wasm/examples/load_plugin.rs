//! Loads the built plugin library the way the core's loader does and runs
//! one kernel through the FFI-safe interface:
//! `cargo build -p oxjax-backend-wasm && cargo run -p oxjax-backend-wasm --example load_plugin [-- PATH]`.

use oxjax_abi::__private::lib_header_from_path;
use oxjax_abi::{DType, KernelBuilder, Op, PluginModuleRef, Scalar};

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        let dir = std::env::current_exe().unwrap();
        // target/<profile>/examples/load_plugin -> target/<profile>/
        let profile = dir.parent().unwrap().parent().unwrap();
        profile
            .join("liboxjax_backend_wasm.so")
            .to_string_lossy()
            .into_owned()
    });
    let module = lib_header_from_path(path.as_ref())
        .and_then(|h| h.init_root_module::<PluginModuleRef>())
        .unwrap_or_else(|e| panic!("cannot load {path}: {e}"));
    let be = (module.create())("threads = 2".into())
        .into_result()
        .expect("create");
    println!("{:?}", be.info().into_result().unwrap().device);
    let bad = (module.create())("colour = 3".into()).into_result();
    println!("unknown option: {}", bad.err().expect("rejected"));
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let c = b.constant(Scalar::F32(2.0));
    let y = b.op(Op::MUL, &[x, c]);
    let z = b.op(Op::EXP, &[y]);
    b.output(z);
    let k = b.finish(5, 0);
    let exe = be.compile(&k).into_result().unwrap();
    let inp = be.alloc(20).into_result().unwrap();
    let out = be.alloc(20).into_result().unwrap();
    let data: Vec<u8> = [0.0f32, 0.5, 1.0, -1.0, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    be.write(inp, 0, data.as_slice().into())
        .into_result()
        .unwrap();
    be.execute(exe, [inp].as_slice().into(), [out].as_slice().into())
        .into_result()
        .unwrap();
    let bytes = be.read(out, 0, 20).into_result().unwrap();
    let v: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    println!("exp(2x) = {v:?}");
    println!(
        "{}",
        be.source(exe)
            .into_result()
            .unwrap()
            .lines()
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
