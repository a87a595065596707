//! The on-disk module cache: found by a second backend and by a second
//! process; corrupt entries are ignored and rebuilt.

use super::common::*;
use oxjax_abi::{Backend, DType, Kernel, KernelBuilder, Op, Scalar};
use std::path::PathBuf;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("oxjax-wasm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn kernel(c: f32) -> Kernel {
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let k = b.constant(Scalar::F32(c));
    let y = b.op(Op::MUL, &[x, k]);
    let z = b.op(Op::TANH, &[y]);
    b.output(z);
    b.finish(64, 0)
}

fn opts(dir: &std::path::Path) -> String {
    format!("threads = 1\ncache_dir = {:?}", dir.to_str().unwrap())
}

fn check_runs(options: &str, k: &Kernel) {
    let inputs = [to_bytes(
        &(0..64)
            .map(|v| Scalar::F32(v as f32 / 7.0 - 4.0))
            .collect::<Vec<_>>(),
    )];
    // The cached module must compute what a freshly compiled one does
    // (tanh is a vector polynomial here, within 4 ulp of the reference).
    let b = backend(options);
    let fresh = backend("threads = 1\ncache_dir = \"\"");
    assert_eq!(run_wasm(&b, k, &inputs), run_wasm(&fresh, k, &inputs));
}

#[test]
fn a_second_backend_finds_the_disk_cache() {
    let dir = temp_dir("second");
    let k = kernel(1.5);
    let a = backend(&opts(&dir));
    a.compile(&k).unwrap();
    assert_eq!(a.disk_cache_hits(), 0);
    let path = a.disk_cache_path(&k).unwrap();
    assert!(path.exists(), "{path:?}");
    let b = backend(&opts(&dir));
    b.compile(&k).unwrap();
    assert_eq!(b.disk_cache_hits(), 1);
    check_runs(&opts(&dir), &k);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_entries_are_ignored_and_rebuilt() {
    let dir = temp_dir("corrupt");
    let k = kernel(2.5);
    backend(&opts(&dir)).compile(&k).unwrap();
    let path = backend(&opts(&dir)).disk_cache_path(&k).unwrap();
    let good = std::fs::read(&path).unwrap();
    // flipped bytes in the code, a truncated file, garbage
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 100] ^= 0x5a;
    for bad in [
        flipped,
        good[..good.len() / 2].to_vec(),
        b"garbage".to_vec(),
    ] {
        std::fs::write(&path, &bad).unwrap();
        let b = backend(&opts(&dir));
        b.compile(&k).unwrap();
        assert_eq!(b.disk_cache_hits(), 0, "a corrupt entry was used");
        check_runs(&opts(&dir), &k);
        // rebuilt: the next backend finds a sound entry
        let c = backend(&opts(&dir));
        c.compile(&k).unwrap();
        assert_eq!(c.disk_cache_hits(), 1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_process_finds_the_disk_cache() {
    if let Some(dir) = std::env::var_os("OXJAX_WASM_CACHE_CHILD") {
        let b = backend(&opts(std::path::Path::new(&dir)));
        b.compile(&kernel(3.5)).unwrap();
        println!("DISK_HITS={}", b.disk_cache_hits());
        return;
    }
    let dir = temp_dir("process");
    // libtest names each test's thread after the test
    let name = std::thread::current()
        .name()
        .expect("test thread name")
        .to_string();
    let child = || {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &name, "--nocapture", "--test-threads=1"])
            .env("OXJAX_WASM_CACHE_CHILD", &dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{text}");
        text
    };
    let first = child();
    assert!(first.contains("DISK_HITS=0"), "{first}");
    assert!(child().contains("DISK_HITS=1"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_cache_dir_turns_the_cache_off() {
    let b = backend("cache_dir = \"\"");
    assert!(b.disk_cache_path(&kernel(1.0)).is_none());
    b.compile(&kernel(1.0)).unwrap();
    assert_eq!(b.disk_cache_hits(), 0);
}
