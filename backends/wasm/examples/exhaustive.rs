//! Every f32 of a range through the backend's real vector kernels, against
//! libm's f64 function rounded to f32:
//! `cargo run --release -p oxjax-backend-wasm --example exhaustive -- sin 1e5 [fma = false]`
//! counts the inputs 1 and 2+ ULP from the rounded truth (both signs of
//! every |x| < the bound; the accuracy test only samples).
//! `-- fmod inf` runs fmod(x, y) for each y of [`FMOD_YS`] and every such x
//! below 2^31 |y| (past the vector form's limit, 2^28 |y|) and counts the
//! results that differ from Rust's `%` in any bit (fmod is exact; any NaN
//! matches a NaN).

use oxjax_abi::{Backend, BufferId, DType, ExecutableId, KernelBuilder, Op};

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

/// The divisors of `exhaustive fmod`: full mantissas (0.1, 1/3, 0.7, pi,
/// 1 + 2^-23, 2^24 - 1, f32::MAX, the largest subnormal) whose products
/// with the integer quotient need all of f64's mantissa, powers of two,
/// subnormals, signed zeros, infinities and NaN; both signs. Ordered so
/// the small y, whose huge quotients make most x take the scalar helper
/// (slow), come last.
const FMOD_YS: [f32; 24] = [
    0.7,
    0.1,
    -0.333_333_34,
    std::f32::consts::PI,
    -std::f32::consts::TAU,
    1.000_000_1,
    16_777_215.0,
    1.0,
    -2.0,
    3.0,
    -1e10,
    6.02e23,
    1.7e30,
    1.267_650_6e30, // 2^100
    -f32::MAX,
    -9.536_743e-7, // 2^-20
    f32::MIN_POSITIVE,
    -1.1754942e-38, // largest subnormal
    1e-45,
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
];

/// Runs `exe` on every f32 with |x| < `bound` (both signs) in chunks
/// written to `ins[0]` (the other inputs already filled); `check` sees
/// each chunk's inputs and outputs. Returns the number of x.
fn sweep(
    be: &dyn Backend,
    exe: ExecutableId,
    ins: &[BufferId],
    out: BufferId,
    bound: f32,
    mut check: impl FnMut(&[f32], &[f32]),
) -> u64 {
    let mut total = 0u64;
    let end = bound.to_bits();
    // buffers reused across chunks (fresh 16 MB vectors cost page faults)
    let (mut xs, mut got) = (vec![0f32; CHUNK as usize], vec![0f32; CHUNK as usize]);
    let mut bytes = vec![0u8; CHUNK as usize * 4];
    for sign in [0u32, 0x8000_0000] {
        let mut start = 0u32;
        while start < end {
            for (k, (x, b)) in xs.iter_mut().zip(bytes.chunks_exact_mut(4)).enumerate() {
                *x = f32::from_bits(start.saturating_add(k as u32).min(end - 1) | sign);
                b.copy_from_slice(&x.to_le_bytes());
            }
            be.write(ins[0], 0, &bytes).unwrap();
            be.execute(exe, ins, &[out]).unwrap();
            be.read_into(out, 0, &mut bytes).unwrap();
            for (g, b) in got.iter_mut().zip(bytes.chunks_exact(4)) {
                *g = f32::from_le_bytes(b.try_into().unwrap());
            }
            check(&xs, &got);
            total += (end - start).min(CHUNK) as u64;
            start = start.saturating_add(CHUNK);
        }
    }
    total
}

const CHUNK: u32 = 1 << 22;

/// The f64 function an f32 op is measured against.
type Truth = fn(f64) -> f64;

fn fmod_main(be: &dyn Backend, bound: f32) {
    let mut b = KernelBuilder::default();
    let (i, j) = (b.input(DType::F32), b.input(DType::F32));
    let g = b.gidx();
    let (x, y) = (b.load(i, g), b.load(j, g));
    let r = b.op(Op::REM, &[x, y]);
    b.output(r);
    let exe = be.compile(&b.finish(CHUNK as usize, 0)).expect("compile");
    let bufs: Vec<_> = (0..3)
        .map(|_| be.alloc(CHUNK as u64 * 4).unwrap())
        .collect();
    let mut wrong_all = 0u64;
    for y in FMOD_YS {
        let ys: Vec<u8> = (0..CHUNK).flat_map(|_| y.to_le_bytes()).collect();
        be.write(bufs[1], 0, &ys).unwrap();
        let (mut wrong, mut first) = (0u64, None);
        // beyond 2^31 |y| every x takes the scalar helper (from 2^28 |y|),
        // whose loop, and Rust's, would take hours over all of them
        let bound = match y != 0.0 && y.is_finite() {
            true => bound.min(y.abs() * 2_147_483_648.0),
            false => bound,
        };
        let total = sweep(be, exe, &bufs[..2], bufs[2], bound, |xs, got| {
            for (&x, &g) in xs.iter().zip(got) {
                let w = x % y;
                if g.to_bits() != w.to_bits() && !(g.is_nan() && w.is_nan()) {
                    wrong += 1;
                    first.get_or_insert((x, g, w));
                }
            }
        });
        wrong_all += wrong;
        print!("fmod(x, {y:e}) over {total} f32 with |x| < {bound:e}: {wrong} differ");
        match first {
            Some((x, g, w)) => println!(" (first at x = {x:e}: {g:e}, not {w:e})"),
            None => println!(),
        }
    }
    println!("fmod: {wrong_all} results differ in all");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: exhaustive exp|exp2|expm1|log|log2|log1p|sin|cos|sinh|cosh|tanh|erf|tan|atan|asin|acos|erfc|fmod BOUND [OPTIONS]";
    let name = args.first().expect(usage).as_str();
    let bound: f32 = args
        .get(1)
        .expect(usage)
        .parse()
        .expect("BOUND is a number");
    let unary: Option<(Op, Truth)> = match name {
        "fmod" => None,
        "exp" => Some((Op::EXP, f64::exp)),
        "log" => Some((Op::LOG, f64::ln)),
        "sin" => Some((Op::SIN, f64::sin)),
        "cos" => Some((Op::COS, f64::cos)),
        "exp2" => Some((Op::EXP2, f64::exp2)),
        "expm1" => Some((Op::EXPM1, f64::exp_m1)),
        "log2" => Some((Op::LOG2, f64::log2)),
        "log1p" => Some((Op::LOG1P, f64::ln_1p)),
        "sinh" => Some((Op::SINH, f64::sinh)),
        "cosh" => Some((Op::COSH, f64::cosh)),
        "tanh" => Some((Op::TANH, f64::tanh)),
        "erf" => Some((Op::ERF, libm::erf)),
        "tan" => Some((Op::TAN, f64::tan)),
        "atan" => Some((Op::ATAN, f64::atan)),
        "asin" => Some((Op::ASIN, f64::asin)),
        "acos" => Some((Op::ACOS, f64::acos)),
        "erfc" => Some((Op::ERFC, libm::erfc)),
        _ => panic!("{usage}"),
    };
    let options = format!(
        "cache_dir = \"\"\n{}",
        args.get(2).map_or("", |s| s.as_str())
    );
    let be = oxjax_backend_wasm::new(&options).expect("backend");
    let Some((op, f)) = unary else {
        return fmod_main(&be, bound);
    };
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
    let (mut worst, mut at, mut over1) = (0, 0f32, 0u64);
    let total = sweep(&be, exe, &[inp], out, bound, |xs, got| {
        for (&x, &g) in xs.iter().zip(got) {
            let u = ulps(g, f(x as f64) as f32);
            over1 += (u > 1) as u64;
            if u > worst {
                (worst, at) = (u, x);
            }
        }
    });
    println!(
        "{name} over {total} f32 with |x| < {bound} ({}): worst {worst} ULP (at {at:e}), {over1} inputs over 1 ULP",
        if options.contains("fma = false") {
            "no fma"
        } else {
            "fma if the host has it"
        }
    );
}
