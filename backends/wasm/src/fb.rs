//! A small function builder over `wasm_encoder`: locals, instructions and a
//! few shorthands used by the kernel code generator and the math helpers.

use wasm_encoder as we;
use we::{BlockType, Instruction as I, MemArg, MemArgTarget, ValType as V};

/// Builds one wasm function body.
pub(crate) struct Fb {
    nparams: u32,
    locals: Vec<V>,
    code: Vec<I<'static>>,
}

/// A memory immediate for linear memory 0.
pub(crate) fn mem(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        target: MemArgTarget::Memory(0),
        ordering: None,
    }
}

impl Fb {
    pub fn new(nparams: u32) -> Fb {
        Fb {
            nparams,
            locals: Vec::new(),
            code: Vec::new(),
        }
    }

    /// A fresh local of type `t`.
    pub fn local(&mut self, t: V) -> u32 {
        self.locals.push(t);
        self.nparams + self.locals.len() as u32 - 1
    }

    pub fn i(&mut self, ins: I<'static>) -> &mut Self {
        self.code.push(ins);
        self
    }

    pub fn get(&mut self, l: u32) -> &mut Self {
        self.i(I::LocalGet(l))
    }

    pub fn set(&mut self, l: u32) -> &mut Self {
        self.i(I::LocalSet(l))
    }

    pub fn tee(&mut self, l: u32) -> &mut Self {
        self.i(I::LocalTee(l))
    }

    pub fn f64c(&mut self, v: f64) -> &mut Self {
        self.i(I::F64Const(v.into()))
    }

    pub fn f32c(&mut self, v: f32) -> &mut Self {
        self.i(I::F32Const(v.into()))
    }

    pub fn i32c(&mut self, v: i32) -> &mut Self {
        self.i(I::I32Const(v))
    }

    /// `l += c` on an i32 local.
    pub fn add_i32(&mut self, l: u32, c: i32) -> &mut Self {
        self.get(l).i32c(c).i(I::I32Add).set(l)
    }

    /// `acc += a * b` on f32x4 locals (a product, then a sum: not fused).
    pub fn mul_add_f32x4(&mut self, acc: u32, a: u32, b: u32) -> &mut Self {
        self.get(acc)
            .get(a)
            .get(b)
            .i(I::F32x4Mul)
            .i(I::F32x4Add)
            .set(acc)
    }

    pub fn i64c(&mut self, v: i64) -> &mut Self {
        self.i(I::I64Const(v))
    }

    /// `if` with no result.
    pub fn if_(&mut self) -> &mut Self {
        self.i(I::If(BlockType::Empty))
    }

    pub fn else_(&mut self) -> &mut Self {
        self.i(I::Else)
    }

    pub fn end(&mut self) -> &mut Self {
        self.i(I::End)
    }

    /// `if (cond on the stack) { push v; return }` for an f64 function.
    pub fn ret_if_f64(&mut self, v: f64) -> &mut Self {
        self.if_().f64c(v).i(I::Return).end()
    }

    /// `if (cond on the stack) { local.get l; return }`.
    pub fn ret_if_local(&mut self, l: u32) -> &mut Self {
        self.if_().get(l).i(I::Return).end()
    }

    /// Horner evaluation of `c[0] + c[1] x + c[2] x^2 + ...` in f64.
    pub fn horner(&mut self, x: u32, c: &[f64]) -> &mut Self {
        let n = c.len();
        self.f64c(c[n - 1]);
        for &ci in c[..n - 1].iter().rev() {
            self.get(x).i(I::F64Mul).f64c(ci).i(I::F64Add);
        }
        self
    }

    pub fn finish(self) -> we::Function {
        let mut f = we::Function::new_with_locals_types(self.locals);
        for ins in &self.code {
            f.instruction(ins);
        }
        f.instruction(&I::End);
        f
    }
}
