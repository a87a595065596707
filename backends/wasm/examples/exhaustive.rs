//! Every f32 of a range through the backend's real vector kernels, against
//! libm's f64 function rounded to f32:
//! `cargo run --release -p oxjax-backend-wasm --example exhaustive -- sin 1e5 [fma = false]`
//! counts the inputs 1 and 2+ ULP from the rounded truth (both signs of
//! every |x| < the bound; the accuracy test only samples).

use oxjax_abi::{Backend, DType, KernelBuilder, Op};

fn ulps(a: f32, b: f32) -> u64 {
    let key = |v: f32| {
        let i = v.to_bits() as i32;
        if i < 0 {
            i32::MIN as i64 - i as i64
        } else {
            i as i64
        }
    };
    if a.is_nan() && b.is_nan() {
        return 0;
    }
    (key(a) - key(b)).unsigned_abs()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: exhaustive exp|exp2|expm1|log|log2|log1p|sin|cos|sinh|cosh|tanh|erf|tan|atan|asin|acos|erfc BOUND [OPTIONS]";
    let name = args.first().expect(usage).as_str();
    let bound: f32 = args
        .get(1)
        .expect(usage)
        .parse()
        .expect("BOUND is a number");
    let (op, f): (Op, fn(f64) -> f64) = match name {
        "exp" => (Op::EXP, f64::exp),
        "log" => (Op::LOG, f64::ln),
        "sin" => (Op::SIN, f64::sin),
        "cos" => (Op::COS, f64::cos),
        "exp2" => (Op::EXP2, f64::exp2),
        "expm1" => (Op::EXPM1, f64::exp_m1),
        "log2" => (Op::LOG2, f64::log2),
        "log1p" => (Op::LOG1P, f64::ln_1p),
        "sinh" => (Op::SINH, f64::sinh),
        "cosh" => (Op::COSH, f64::cosh),
        "tanh" => (Op::TANH, f64::tanh),
        "erf" => (Op::ERF, libm::erf),
        "tan" => (Op::TAN, f64::tan),
        "atan" => (Op::ATAN, f64::atan),
        "asin" => (Op::ASIN, f64::asin),
        "acos" => (Op::ACOS, f64::acos),
        "erfc" => (Op::ERFC, libm::erfc),
        _ => panic!("{usage}"),
    };
    let options = format!(
        "cache_dir = \"\"\n{}",
        args.get(2).map_or("", |s| s.as_str())
    );
    let be = oxjax_backend_wasm::new(&options).expect("backend");
    const CHUNK: u32 = 1 << 22;
    let mut b = KernelBuilder::default();
    let i = b.input(DType::F32);
    let g = b.gidx();
    let x = b.load(i, g);
    let y = b.op(op, &[x]);
    b.output(y);
    let exe = be.compile(&b.finish(CHUNK as usize, 0)).expect("compile");
    let (inp, out) = (
        be.alloc(CHUNK as u64 * 4).unwrap(),
        be.alloc(CHUNK as u64 * 4).unwrap(),
    );
    let (mut worst, mut at, mut over1, mut total) = (0, 0f32, 0u64, 0u64);
    let end = bound.to_bits();
    for sign in [0u32, 0x8000_0000] {
        let mut start = 0u32;
        while start < end {
            let xs: Vec<f32> = (start..start.saturating_add(CHUNK))
                .map(|b| f32::from_bits(b.min(end - 1) | sign))
                .collect();
            let bytes: Vec<u8> = xs.iter().flat_map(|v| v.to_le_bytes()).collect();
            be.write(inp, 0, &bytes).unwrap();
            be.execute(exe, &[inp], &[out]).unwrap();
            let got = be.read(out, 0, CHUNK as u64 * 4).unwrap();
            for (x, g) in xs.iter().zip(got.chunks_exact(4)) {
                let g = f32::from_le_bytes(g.try_into().unwrap());
                let u = ulps(g, f(*x as f64) as f32);
                over1 += (u > 1) as u64;
                if u > worst {
                    (worst, at) = (u, *x);
                }
            }
            total += (end - start).min(CHUNK) as u64;
            start = start.saturating_add(CHUNK);
        }
    }
    println!(
        "{name} over {total} f32 with |x| < {bound} ({}): worst {worst} ULP (at {at:e}), {over1} inputs over 1 ULP",
        if options.contains("fma = false") {
            "no fma"
        } else {
            "fma if the host has it"
        }
    );
}
