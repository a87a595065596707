//! A scalar interpreter of the kernel IR, written from the semantics in
//! the `oxjax-abi` docs. Floats of every width compute in f64 and round to
//! the node's dtype once (exact for the IEEE basic operations, within an
//! ULP for the transcendentals); integers use Rust's wrapping operations.

use oxjax_abi::{DType, Kernel, Op, Phase, ReduceOp, Scalar, f16};

/// A compiled kernel: the kernel and the nodes each phase evaluates.
pub struct Program {
    kernel: Kernel,
    in_loop: Vec<usize>,
    after_loop: Vec<usize>,
}

impl Program {
    pub fn new(kernel: &Kernel) -> Program {
        let phases = kernel.phases();
        let pick = |a: Phase, b: Phase| -> Vec<usize> {
            (0..phases.len())
                .filter(|&i| phases[i] == a || phases[i] == b)
                .collect()
        };
        Program {
            kernel: kernel.clone(),
            in_loop: pick(Phase::Body, Phase::Both),
            after_loop: pick(Phase::Epilogue, Phase::Both),
        }
    }

    /// Runs over the input buffers; returns one buffer per output.
    pub fn run(&self, inputs: &[&[u8]]) -> Vec<Vec<u8>> {
        let k = &self.kernel;
        let size = k.size as usize;
        let mut outputs: Vec<Vec<u8>> = (0..k.outputs.len())
            .map(|o| vec![0; size * k.output_dtype(o).size()])
            .collect();
        let mut values = vec![Scalar::Bool(false); k.nodes.len()];
        for gidx in 0..size {
            let mut accs: Vec<Scalar> = k
                .reductions
                .iter()
                .map(|r| r.op.identity(k.nodes[r.body as usize].dtype))
                .collect();
            for ridx in 0..k.rsize as usize {
                for &i in &self.in_loop {
                    values[i] = self.eval(i, gidx, ridx, &accs, &values, inputs);
                }
                for (acc, r) in accs.iter_mut().zip(k.reductions.iter()) {
                    *acc = combine(r.op, *acc, values[r.body as usize]);
                }
            }
            for &i in &self.after_loop {
                values[i] = self.eval(i, gidx, 0, &accs, &values, inputs);
            }
            for (out, &node) in outputs.iter_mut().zip(k.outputs.iter()) {
                let v = values[node as usize];
                v.write(&mut out[gidx * v.dtype().size()..]);
            }
        }
        outputs
    }

    fn eval(
        &self,
        i: usize,
        gidx: usize,
        ridx: usize,
        accs: &[Scalar],
        values: &[Scalar],
        inputs: &[&[u8]],
    ) -> Scalar {
        let node = &self.kernel.nodes[i];
        match node.op {
            Op::CONST => Scalar::from_bits(node.dtype, node.imm),
            Op::GIDX => Scalar::I32(gidx as i32),
            Op::RIDX => Scalar::I32(ridx as i32),
            Op::ACC => accs[node.imm as usize],
            Op::LOAD => {
                let index = match values[node.args[0] as usize] {
                    Scalar::I32(v) => v,
                    _ => unreachable!("a validated load index is i32"),
                };
                let buffer = inputs[node.imm as usize];
                let width = node.dtype.size();
                // Outside the buffer a load reads zero.
                match usize::try_from(index) {
                    Ok(j) if (j + 1) * width <= buffer.len() => {
                        Scalar::read(node.dtype, &buffer[j * width..])
                    }
                    _ => Scalar::zero(node.dtype),
                }
            }
            op => {
                let args: Vec<Scalar> = self
                    .kernel
                    .args(i)
                    .iter()
                    .map(|&a| values[a as usize])
                    .collect();
                apply(op, node.dtype, &args, node.imm)
            }
        }
    }
}

/// One reduction step.
pub fn combine(op: ReduceOp, acc: Scalar, x: Scalar) -> Scalar {
    apply(op.combine_op(), acc.dtype(), &[acc, x], 0)
}

/// A float scalar as f64.
fn float(x: Scalar) -> f64 {
    x.as_f64()
}

/// An f64 rounded (once) to the float dtype `d`.
fn to_float(d: DType, v: f64) -> Scalar {
    match d {
        DType::F16 => Scalar::F16(f16::from_f64(v)),
        DType::F32 => Scalar::F32(v as f32),
        _ => Scalar::F64(v),
    }
}

/// One ALU op. `dtype` is the node's dtype.
pub fn apply(op: Op, dtype: DType, args: &[Scalar], imm: u64) -> Scalar {
    match op {
        Op::CAST => return args[0].cast(dtype),
        Op::BITCAST => return Scalar::from_bits(dtype, args[0].to_bits()),
        Op::SELECT => {
            return if args[0] == Scalar::Bool(true) {
                args[1]
            } else {
                args[2]
            };
        }
        Op::THREEFRY2X32 => {
            let w: Vec<u32> = args.iter().map(|a| a.to_bits() as u32).collect();
            return Scalar::U32(threefry([w[0], w[1]], [w[2], w[3]])[imm as usize & 1]);
        }
        Op::ISNAN => return Scalar::Bool(float(args[0]).is_nan()),
        Op::ISINF => return Scalar::Bool(float(args[0]).is_infinite()),
        Op::LT | Op::LE | Op::GT | Op::GE | Op::EQ | Op::NE => {
            return Scalar::Bool(compare(op, args[0], args[1]));
        }
        _ => {}
    }
    match (args, dtype) {
        (&[Scalar::Bool(x)], _) => Scalar::Bool(!x), // `not` is bool's only unary op
        (&[Scalar::Bool(x), Scalar::Bool(y)], _) => Scalar::Bool(match op {
            Op::AND | Op::MIN => x && y,
            Op::OR | Op::MAX => x || y,
            _ => x != y, // xor
        }),
        (&[Scalar::I32(x)], _) => Scalar::I32(int_unary(op, x)),
        (&[Scalar::U32(x)], _) => Scalar::U32(uint_unary(op, x)),
        (&[Scalar::I32(x), Scalar::I32(y)], _) => Scalar::I32(int_binary(op, x, y)),
        (&[Scalar::U32(x), Scalar::U32(y)], _) => Scalar::U32(uint_binary(op, x, y)),
        (&[x], d) => to_float(d, float_unary(op, float(x))),
        (&[x, y], d) => to_float(d, float_binary(op, float(x), float(y))),
        _ => panic!("{op} is not defined on {args:?}"),
    }
}

fn compare(op: Op, x: Scalar, y: Scalar) -> bool {
    // Every dtype converts to f64 exactly; bool is 0/1.
    let (a, b) = (x.as_f64(), y.as_f64());
    match op {
        Op::LT => a < b,
        Op::LE => a <= b,
        Op::GT => a > b,
        Op::GE => a >= b,
        Op::EQ => a == b,
        _ => a != b,
    }
}

fn int_unary(op: Op, x: i32) -> i32 {
    match op {
        Op::NEG => x.wrapping_neg(),
        Op::ABS => x.wrapping_abs(),
        Op::SIGN => x.signum(),
        _ => !x,
    }
}

fn uint_unary(op: Op, x: u32) -> u32 {
    match op {
        Op::NEG => x.wrapping_neg(),
        Op::ABS => x,
        Op::SIGN => u32::from(x != 0),
        _ => !x,
    }
}

fn int_binary(op: Op, x: i32, y: i32) -> i32 {
    match op {
        Op::ADD => x.wrapping_add(y),
        Op::SUB => x.wrapping_sub(y),
        Op::MUL => x.wrapping_mul(y),
        // XLA's rules: x / 0 = -1, x % 0 = x, MIN / -1 = MIN, MIN % -1 = 0.
        Op::IDIV => x.checked_div(y).unwrap_or(if y == 0 { -1 } else { x }),
        Op::REM => x.checked_rem(y).unwrap_or(if y == 0 { x } else { 0 }),
        Op::MIN => x.min(y),
        Op::MAX => x.max(y),
        Op::AND => x & y,
        Op::OR => x | y,
        Op::XOR => x ^ y,
        Op::SHL if (0..32).contains(&y) => x << y,
        Op::SHL => 0,
        // Arithmetic: an amount outside 0..32 leaves only the sign bits.
        Op::SHR if (0..32).contains(&y) => x >> y,
        Op::SHR => x >> 31,
        _ => panic!("{op} is not defined on i32"),
    }
}

fn uint_binary(op: Op, x: u32, y: u32) -> u32 {
    match op {
        Op::ADD => x.wrapping_add(y),
        Op::SUB => x.wrapping_sub(y),
        Op::MUL => x.wrapping_mul(y),
        Op::IDIV => x.checked_div(y).unwrap_or(u32::MAX),
        Op::REM => x.checked_rem(y).unwrap_or(x),
        Op::MIN => x.min(y),
        Op::MAX => x.max(y),
        Op::AND => x & y,
        Op::OR => x | y,
        Op::XOR => x ^ y,
        Op::SHL => x.checked_shl(y).unwrap_or(0),
        Op::SHR => x.checked_shr(y).unwrap_or(0),
        _ => panic!("{op} is not defined on u32"),
    }
}

fn float_unary(op: Op, x: f64) -> f64 {
    match op {
        Op::NEG => -x,
        Op::ABS => x.abs(),
        Op::SIGN if x.is_nan() || x == 0.0 => x,
        Op::SIGN => x.signum(),
        Op::SQRT => x.sqrt(),
        Op::RSQRT => 1.0 / x.sqrt(),
        Op::RECIP => 1.0 / x,
        Op::EXP => libm::exp(x),
        Op::EXP2 => libm::exp2(x),
        Op::LOG => libm::log(x),
        Op::LOG2 => libm::log2(x),
        Op::LOG1P => libm::log1p(x),
        Op::EXPM1 => libm::expm1(x),
        Op::SIN => libm::sin(x),
        Op::COS => libm::cos(x),
        Op::TAN => libm::tan(x),
        Op::ASIN => libm::asin(x),
        Op::ACOS => libm::acos(x),
        Op::ATAN => libm::atan(x),
        Op::SINH => libm::sinh(x),
        Op::COSH => libm::cosh(x),
        Op::TANH => libm::tanh(x),
        Op::ERF => libm::erf(x),
        Op::ERFC => libm::erfc(x),
        Op::FLOOR => x.floor(),
        Op::CEIL => x.ceil(),
        Op::ROUND => x.round_ties_even(),
        Op::TRUNC => x.trunc(),
        _ => panic!("{op} is not a float unary op"),
    }
}

fn float_binary(op: Op, x: f64, y: f64) -> f64 {
    match op {
        Op::ADD => x + y,
        Op::SUB => x - y,
        Op::MUL => x * y,
        Op::DIV => x / y,
        Op::REM => x % y,
        Op::POW => libm::pow(x, y),
        Op::ATAN2 => libm::atan2(x, y),
        // IEEE 754-2019 minimum/maximum: NaN wins, -0 < +0.
        Op::MIN | Op::MAX if x.is_nan() || y.is_nan() => f64::NAN,
        Op::MIN if x == y => {
            if x.is_sign_negative() {
                x
            } else {
                y
            }
        }
        Op::MAX if x == y => {
            if x.is_sign_positive() {
                x
            } else {
                y
            }
        }
        Op::MIN => x.min(y),
        Op::MAX => x.max(y),
        _ => panic!("{op} is not a float binary op"),
    }
}

/// Threefry-2x32, 20 rounds (Salmon et al., "Parallel random numbers: as
/// easy as 1, 2, 3", SC 2011).
pub fn threefry(key: [u32; 2], counter: [u32; 2]) -> [u32; 2] {
    const R: [u32; 8] = [13, 15, 26, 6, 17, 29, 16, 24];
    let k = [key[0], key[1], key[0] ^ key[1] ^ 0x1BD1_1BDA];
    let (mut a, mut b) = (counter[0].wrapping_add(k[0]), counter[1].wrapping_add(k[1]));
    for block in 0..5u32 {
        for r in 0..4 {
            a = a.wrapping_add(b);
            b = b.rotate_left(R[(4 * block as usize + r) % 8]) ^ a;
        }
        let s = block as usize + 1;
        a = a.wrapping_add(k[s % 3]);
        b = b.wrapping_add(k[(s + 1) % 3]).wrapping_add(s as u32);
    }
    [a, b]
}
