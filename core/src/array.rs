//! The public [`Array`]: a concrete device array or a tracer. Every op here
//! validates and canonicalises its operands (promotion, broadcasting, axes)
//! and binds one primitive (see `trace`); with no transformation active the
//! primitive runs eagerly as one kernel.

use crate::device::{Device, default_device};
use crate::eager::{Axes, Concrete, Slice, broadcast_shapes, or_panic, promote, to_float};
use crate::element::Element;
use crate::error::{Error, ErrorKind, Result, err};
use crate::trace::prim::{Aval, BinOp, Prim, RedOp, UnOp};
use crate::trace::{Tracer, bind, bind1};
use oxjax_abi::{DType, Scalar};
use std::fmt;

/// An n-dimensional array: concrete on a device, or traced inside a
/// transformation (`grad`, `vmap`, `make_jaxpr`, ...).
#[derive(Clone)]
pub struct Array(pub(crate) Repr);

#[derive(Clone)]
pub(crate) enum Repr {
    Concrete(Concrete),
    Traced(Tracer),
}

impl From<Concrete> for Array {
    fn from(c: Concrete) -> Array {
        Array(Repr::Concrete(c))
    }
}

impl Array {
    pub(crate) fn concrete(&self) -> Option<&Concrete> {
        match &self.0 {
            Repr::Concrete(c) => Some(c),
            Repr::Traced(_) => None,
        }
    }

    /// The concrete array, or an error saying a traced value cannot be read.
    fn require(&self, op: &str) -> Result<&Concrete> {
        self.concrete().ok_or_else(|| {
            Error::new(
                ErrorKind::Value,
                format!(
                    "{op}: cannot read the value of a traced array {} inside a transformation \
                 (grad, vmap, jvp, make_jaxpr); return it from the transformed function instead",
                    self.aval()
                ),
            )
        })
    }

    /// Shape, dtype and weak type.
    pub fn aval(&self) -> Aval {
        match &self.0 {
            Repr::Concrete(c) => Aval {
                shape: c.shape().to_vec(),
                dtype: c.dtype(),
                weak: c.is_weak(),
            },
            Repr::Traced(t) => t.aval.clone(),
        }
    }

    /// True when this array is a tracer of some transformation.
    pub fn is_traced(&self) -> bool {
        matches!(self.0, Repr::Traced(_))
    }

    // ---- creation ------------------------------------------------------

    /// An array of `shape` holding `data` in row-major order, on the default device.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Array {
        Concrete::from_slice(&data, shape).into()
    }

    /// An array copied from a host slice in row-major order (see [`Array::from_vec`]).
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Array {
        Concrete::from_slice(data, shape).into()
    }

    /// Creates an array on a given device; errors on a length mismatch or an
    /// unsupported dtype.
    pub fn try_from_slice<T: Element>(
        data: &[T],
        shape: &[usize],
        device: &Device,
    ) -> Result<Array> {
        Ok(Concrete::try_from_slice(data, shape, device)?.into())
    }

    /// A 0-d array (strongly typed).
    pub fn scalar<T: Element>(value: T) -> Array {
        Concrete::scalar(value).into()
    }

    /// A strongly typed 0-d array of the scalar's dtype.
    pub fn scalar_of(value: Scalar) -> Array {
        Concrete::scalar_of(value).into()
    }

    /// True when both are the same value (the same buffer view or tracer).
    pub(crate) fn same_value(&self, other: &Array) -> bool {
        match (&self.0, &other.0) {
            (Repr::Concrete(a), Repr::Concrete(b)) => a.same_value(b),
            (Repr::Traced(a), Repr::Traced(b)) => std::sync::Arc::ptr_eq(&a.data, &b.data),
            _ => false,
        }
    }

    /// A weakly typed 0-d array: how Rust literals enter ops (`&x * 2.0`).
    pub fn weak(value: Scalar) -> Array {
        Concrete::weak(value).into()
    }

    /// An array of `shape` filled with `value`; no buffer until read.
    pub fn full<T: Element>(shape: &[usize], value: T) -> Array {
        Concrete::full(shape, value).into()
    }

    /// Zeros of a shape and dtype (a constant: no buffer until read).
    pub fn zeros(shape: &[usize], dtype: DType) -> Array {
        Concrete::zeros(shape, dtype).into()
    }

    /// Ones of a shape and dtype (a constant: no buffer until read).
    pub fn ones(shape: &[usize], dtype: DType) -> Array {
        Concrete::ones(shape, dtype).into()
    }

    /// Zeros with the shape and dtype of `self`.
    pub fn zeros_like(&self) -> Array {
        Array::zeros(self.shape(), self.dtype())
    }

    /// Ones with the shape and dtype of `self`.
    pub fn ones_like(&self) -> Array {
        Array::ones(self.shape(), self.dtype())
    }

    /// `start, start+step, ...` below `stop` (one kernel, nothing uploaded).
    pub fn arange(start: f64, stop: f64, step: f64, dtype: DType) -> Array {
        Concrete::arange(start, stop, step, dtype).into()
    }

    /// `num` evenly spaced values from `start` to `stop` inclusive.
    pub fn linspace(start: f64, stop: f64, num: usize, dtype: DType) -> Array {
        Concrete::linspace(start, stop, num, dtype).into()
    }

    /// The `n × m` matrix with ones on diagonal `k`.
    pub fn eye(n: usize, m: usize, k: isize, dtype: DType) -> Array {
        Concrete::eye(n, m, k, dtype).into()
    }

    // ---- properties ----------------------------------------------------

    /// The dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        match &self.0 {
            Repr::Concrete(c) => c.shape(),
            Repr::Traced(t) => &t.aval.shape,
        }
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    pub fn size(&self) -> usize {
        self.shape().iter().product()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match &self.0 {
            Repr::Concrete(c) => c.dtype(),
            Repr::Traced(t) => t.aval.dtype,
        }
    }

    /// True for weakly typed values (Rust scalars and results computed only from them).
    pub fn is_weak(&self) -> bool {
        match &self.0 {
            Repr::Concrete(c) => c.is_weak(),
            Repr::Traced(t) => t.aval.weak,
        }
    }

    /// The device holding the array (the default device for a tracer).
    pub fn device(&self) -> Device {
        match &self.0 {
            Repr::Concrete(c) => c.device().clone(),
            Repr::Traced(_) => default_device(),
        }
    }

    // ---- reading back --------------------------------------------------

    /// The elements in row-major order. Panics if `T` is not the array's dtype.
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        or_panic(self.try_to_vec())
    }

    /// [`Array::to_vec`] returning a wrong element type or a device failure as an error.
    pub fn try_to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.require(&format!("to_vec::<{}>", T::DTYPE))?
            .try_to_vec()
    }

    /// The single element of a size-1 array.
    pub fn item<T: Element>(&self) -> T {
        or_panic(self.require("item")).item()
    }

    /// The elements as host scalars.
    pub fn try_scalars(&self) -> Result<Vec<Scalar>> {
        self.require("try_scalars")?.try_scalars()
    }

    /// A copy of this array on `device`.
    pub fn device_put(&self, device: &Device) -> Array {
        or_panic(self.try_device_put(device))
    }

    /// [`Array::device_put`] returning a device failure as an error.
    pub fn try_device_put(&self, device: &Device) -> Result<Array> {
        Ok(self.require("device_put")?.try_device_put(device)?.into())
    }

    // ---- dtype ---------------------------------------------------------

    /// The array converted to `dtype` (float→int truncates and saturates, NaN→0).
    /// Panics where [`Array::try_astype`] errors.
    pub fn astype(&self, dtype: DType) -> Array {
        or_panic(self.try_astype(dtype))
    }

    /// [`Array::astype`] returning an error, e.g. for a dtype the array's
    /// device does not support (the message names the fix).
    pub fn try_astype(&self, dtype: DType) -> Result<Array> {
        if dtype == self.dtype() && !self.is_weak() {
            return Ok(self.clone());
        }
        Ok(bind(Prim::Cast(dtype), &[self])?.remove(0))
    }

    /// Cast for promotion: a weak operand stays weak, as in JAX, so that
    /// `(1 + 2.5) + f16_array` is f16 (the sum of two weak values is weak).
    /// Weakness only steers promotion while tracing, so a traced cast is
    /// marked weak on its tracer (the staged `Cast` itself is unchanged).
    fn promoted(&self, dtype: DType) -> Array {
        if dtype == self.dtype() {
            return self.clone();
        }
        let out = bind1(Prim::Cast(dtype), &[self]);
        if !self.is_weak() {
            return out;
        }
        match out.0 {
            Repr::Concrete(c) => c.into_weak().into(),
            Repr::Traced(mut t) => {
                t.aval.weak = true;
                Array(Repr::Traced(t))
            }
        }
    }

    fn broadcast_view(&self, shape: &[usize]) -> Array {
        if self.shape() == shape {
            self.clone()
        } else {
            bind1(Prim::BroadcastTo(shape.to_vec()), &[self])
        }
    }

    /// A value treated as a constant by differentiation.
    pub fn stop_gradient(&self) -> Array {
        bind1(Prim::StopGradient, &[self])
    }
}

// ---- elementwise -------------------------------------------------------

/// How a unary op treats dtypes.
#[derive(Clone, Copy)]
enum UnKind {
    /// Computes in a float dtype (ints and bool become f32).
    Float,
    /// Any numeric dtype; bool is an error.
    Numeric,
    /// Rounding: integers and bool pass through unchanged.
    Rounding,
}

macro_rules! unary_api {
    ($($(#[$doc:meta])* $name:ident => $op:ident, $kind:ident;)*) => {
        impl Array {
            $(
                #[doc = concat!("Elementwise `", stringify!($name), "` (`jax.numpy.", stringify!($name), "`).")]
                ///
                $(#[$doc])*
                ///
                #[doc = concat!("```\nlet x = oxjax_core::Array::from_vec(vec![0.25f32, 0.5, 2.0], &[3]);\nassert_eq!(x.", stringify!($name), "().shape(), &[3]);\n```")]
                pub fn $name(&self) -> Array {
                    self.unary(stringify!($name), UnOp::$op, UnKind::$kind)
                }
            )*
        }
    };
}

unary_api! {
    /// `-x` (wraps on integers).
    neg => Neg, Numeric;
    abs => Abs, Numeric;
    /// -1, 0 or 1; `sign(±0) = ±0`, `sign(NaN) = NaN`.
    sign => Sign, Numeric;
    sqrt => Sqrt, Float;
    /// `1/sqrt(x)`.
    rsqrt => Rsqrt, Float;
    /// `1/x`.
    reciprocal => Recip, Float;
    exp => Exp, Float;
    exp2 => Exp2, Float;
    log => Log, Float;
    log2 => Log2, Float;
    log1p => Log1p, Float;
    expm1 => Expm1, Float;
    sin => Sin, Float;
    cos => Cos, Float;
    tan => Tan, Float;
    arcsin => Asin, Float;
    arccos => Acos, Float;
    arctan => Atan, Float;
    sinh => Sinh, Float;
    cosh => Cosh, Float;
    tanh => Tanh, Float;
    erf => Erf, Float;
    erfc => Erfc, Float;
    floor => Floor, Rounding;
    ceil => Ceil, Rounding;
    /// Round half to even.
    round => Round, Rounding;
    trunc => Trunc, Rounding;
}

impl Array {
    fn unary(&self, name: &str, op: UnOp, kind: UnKind) -> Array {
        let d = self.dtype();
        match kind {
            UnKind::Float => bind1(Prim::Unary(op), &[&self.promoted(to_float(d))]),
            UnKind::Numeric if d == DType::BOOL => crate::error::fail(
                crate::ErrorKind::DType,
                format!("{name}: not defined on bool"),
            ),
            UnKind::Rounding if !d.is_float() => self.clone(),
            _ => bind1(Prim::Unary(op), &[self]),
        }
    }

    fn classify(&self, op: UnOp, non_float: bool) -> Array {
        if self.dtype().is_float() {
            bind1(Prim::Unary(op), &[self])
        } else {
            Array::full(self.shape(), non_float)
        }
    }

    /// True where NaN (always false for integers and bool).
    pub fn isnan(&self) -> Array {
        self.classify(UnOp::IsNan, false)
    }

    /// True where ±Inf (always false for integers and bool).
    pub fn isinf(&self) -> Array {
        self.classify(UnOp::IsInf, false)
    }

    /// True where neither NaN nor ±Inf.
    pub fn isfinite(&self) -> Array {
        self.classify(UnOp::IsFinite, true)
    }

    /// Logical not on bool, bitwise not on integers, `x == 0` on floats.
    pub fn logical_not(&self) -> Array {
        if self.dtype().is_float() {
            self.equal(0.0)
        } else {
            bind1(Prim::Unary(UnOp::Not), &[self])
        }
    }
}

/// How a binary op treats dtypes.
#[derive(Clone, Copy, PartialEq)]
enum BinKind {
    /// Any numeric dtype; on bool only add (or) and multiply (and).
    Arith,
    /// Promoted to a float dtype.
    Float,
    /// Bool and integers.
    Logic,
    /// Integers only.
    Shift,
    /// Any dtype; the result is bool.
    Compare,
}

macro_rules! binary_api {
    ($($(#[$doc:meta])* $name:ident => $op:ident, $kind:ident;)*) => {
        impl Array {
            $(
                #[doc = concat!("Elementwise `", stringify!($name), "` with NumPy broadcasting and JAX promotion (`jax.numpy.", stringify!($name), "`).")]
                ///
                $(#[$doc])*
                ///
                #[doc = concat!("```\nlet x = oxjax_core::Array::from_vec(vec![1i32, 6, 7, 8, 9, 10], &[2, 3]);\nlet y = oxjax_core::Array::from_vec(vec![3i32, 2, 1], &[3]);\nassert_eq!(x.", stringify!($name), "(&y).shape(), &[2, 3]);\n```")]
                pub fn $name(&self, other: impl AsArray) -> Array {
                    or_panic(self.binary(stringify!($name), &other.as_array(), BinOp::$op, BinKind::$kind))
                }
            )*
        }
    };
}

binary_api! {
    /// `x + y`; or on bool.
    add => Add, Arith;
    /// `x - y`.
    subtract => Sub, Arith;
    /// `x * y`; and on bool.
    multiply => Mul, Arith;
    /// True division: integers are promoted to float.
    divide => Div, Float;
    /// Division rounding toward -Inf (NumPy's `//`).
    floor_divide => FloorDiv, Arith;
    /// Remainder with the sign of the divisor (NumPy's `%`, Rust's `%` on arrays).
    remainder => Rem, Arith;
    /// Remainder with the sign of the dividend (C's `fmod`).
    fmod => Fmod, Arith;
    /// `x ** y`; integer powers by repeated squaring (a negative exponent gives 0).
    power => Pow, Arith;
    /// Elementwise minimum; NaN propagates.
    minimum => Min, Arith;
    /// Elementwise maximum; NaN propagates.
    maximum => Max, Arith;
    /// `atan2(self, other)`: the angle of the point (other, self).
    arctan2 => Atan2, Float;
    bitwise_and => And, Logic;
    bitwise_or => Or, Logic;
    bitwise_xor => Xor, Logic;
    left_shift => Shl, Shift;
    /// Arithmetic on i32, logical on u32.
    right_shift => Shr, Shift;
    less => Lt, Compare;
    less_equal => Le, Compare;
    greater => Gt, Compare;
    greater_equal => Ge, Compare;
    equal => Eq, Compare;
    not_equal => Ne, Compare;
}

impl Array {
    fn binary(&self, name: &str, other: &Array, op: BinOp, kind: BinKind) -> Result<Array> {
        let (dtype, _) = promote(
            (self.dtype(), self.is_weak()),
            (other.dtype(), other.is_weak()),
        );
        let not_defined = || err(ErrorKind::DType, format!("{name}: not defined on {dtype}"));
        let (compute, op) = match kind {
            BinKind::Float => (to_float(dtype), op),
            BinKind::Logic if dtype.is_float() => return not_defined(),
            BinKind::Shift if !dtype.is_int() => return not_defined(),
            BinKind::Arith if dtype == DType::BOOL => match op {
                BinOp::Add => (dtype, BinOp::Or),
                BinOp::Mul => (dtype, BinOp::And),
                BinOp::Min => (dtype, BinOp::And),
                BinOp::Max => (dtype, BinOp::Or),
                _ => return not_defined(),
            },
            _ => (dtype, op),
        };
        let shape = broadcast_shapes(name, &[self.shape(), other.shape()])?;
        let x = self.promoted(compute).broadcast_view(&shape);
        let y = other.promoted(compute).broadcast_view(&shape);
        Ok(bind1(Prim::Binary(op), &[&x, &y]))
    }

    /// `cond ? x : y` elementwise, broadcasting all three.
    pub fn where_(cond: &Array, x: impl AsArray, y: impl AsArray) -> Array {
        let (x, y) = (x.as_array(), y.as_array());
        let (dtype, _) = promote((x.dtype(), x.is_weak()), (y.dtype(), y.is_weak()));
        let shape = or_panic(broadcast_shapes(
            "where",
            &[cond.shape(), x.shape(), y.shape()],
        ));
        let c = cond.astype(DType::BOOL).broadcast_view(&shape);
        let x = x.promoted(dtype).broadcast_view(&shape);
        let y = y.promoted(dtype).broadcast_view(&shape);
        bind1(Prim::Select, &[&c, &x, &y])
    }
}

// ---- reductions ----------------------------------------------------------

impl Array {
    fn reduce(&self, name: &str, op: RedOp, axes: Axes, keepdims: bool) -> Result<Array> {
        let axes = axes.resolve(name, self.ndim())?;
        let rsize: usize = axes.iter().map(|&d| self.shape()[d]).product();
        let kept: usize = (0..self.ndim())
            .filter(|d| !axes.contains(d))
            .map(|d| self.shape()[d])
            .product();
        if rsize == 0 && kept > 0 && matches!(op, RedOp::Max | RedOp::Min) {
            return err(
                ErrorKind::Shape,
                format!(
                    "{name}: zero-size reduction over axes {axes:?} of shape {:?} has no identity",
                    self.shape()
                ),
            );
        }
        let out = bind1(Prim::Reduce(op, axes.clone()), &[self]);
        if !keepdims {
            return Ok(out);
        }
        let shape: Vec<usize> = (0..self.ndim())
            .map(|d| {
                if axes.contains(&d) {
                    1
                } else {
                    self.shape()[d]
                }
            })
            .collect();
        Ok(out.reshape_exact(&shape))
    }

    /// Sum over `axes` (bool sums to i32; f16 accumulates in f32).
    pub fn sum(&self, axes: impl Into<Axes>, keepdims: bool) -> Array {
        or_panic(self.reduce("sum", RedOp::Sum, axes.into(), keepdims))
    }

    /// Product over `axes` (bool and integers: i32 products).
    pub fn prod(&self, axes: impl Into<Axes>, keepdims: bool) -> Array {
        or_panic(self.reduce("prod", RedOp::Prod, axes.into(), keepdims))
    }

    /// Maximum over `axes`; NaN propagates.
    pub fn max(&self, axes: impl Into<Axes>, keepdims: bool) -> Array {
        or_panic(self.reduce("max", RedOp::Max, axes.into(), keepdims))
    }

    /// Minimum over `axes`; NaN propagates.
    pub fn min(&self, axes: impl Into<Axes>, keepdims: bool) -> Array {
        or_panic(self.reduce("min", RedOp::Min, axes.into(), keepdims))
    }

    /// Arithmetic mean over `axes` (integers give f32).
    pub fn mean(&self, axes: impl Into<Axes>, keepdims: bool) -> Array {
        or_panic(self.reduce("mean", RedOp::Mean, axes.into(), keepdims))
    }

    /// True where every element along `axes` is non-zero.
    pub fn all(&self, axes: impl Into<Axes>, keepdims: bool) -> Array {
        or_panic(
            self.astype(DType::BOOL)
                .reduce("all", RedOp::All, axes.into(), keepdims),
        )
    }

    /// True where some element along `axes` is non-zero.
    pub fn any(&self, axes: impl Into<Axes>, keepdims: bool) -> Array {
        or_panic(
            self.astype(DType::BOOL)
                .reduce("any", RedOp::Any, axes.into(), keepdims),
        )
    }

    /// Index (i32) of the first maximum along `axis` (`None`: of the
    /// flattened array). A NaN counts as the maximum.
    pub fn argmax(&self, axis: Option<isize>) -> Array {
        or_panic(self.arg_reduce("argmax", true, axis))
    }

    /// Index (i32) of the first minimum; see [`Array::argmax`].
    pub fn argmin(&self, axis: Option<isize>) -> Array {
        or_panic(self.arg_reduce("argmin", false, axis))
    }

    fn arg_reduce(&self, name: &str, max: bool, axis: Option<isize>) -> Result<Array> {
        let (x, ax) = match axis {
            None => (self.reshape_exact(&[self.size()]), 0),
            Some(a) => (self.clone(), crate::eager::axis(name, a, self.ndim())?),
        };
        if x.shape()[ax] == 0 {
            return err(
                ErrorKind::Shape,
                format!(
                    "{name}: attempt to get {name} of an empty axis (shape {:?})",
                    x.shape()
                ),
            );
        }
        Ok(bind1(Prim::ArgReduce(max, ax), &[&x]))
    }
}

// ---- linear algebra ------------------------------------------------------

impl Array {
    /// NumPy's `matmul`: batched over leading axes (broadcast); a 1-d
    /// operand is a vector. f16 accumulates in f32; bool is or-of-and.
    pub fn matmul(&self, other: &Array) -> Array {
        or_panic(self.try_matmul(other))
    }

    /// [`Array::matmul`] returning misuse as an error.
    pub fn try_matmul(&self, other: &Array) -> Result<Array> {
        self.matmul_checked(other).map_err(|e| {
            e.with_operands([(self.shape(), self.dtype()), (other.shape(), other.dtype())])
        })
    }

    fn matmul_checked(&self, other: &Array) -> Result<Array> {
        if self.ndim() == 0 || other.ndim() == 0 {
            return err(
                ErrorKind::Shape,
                format!(
                    "matmul: operands must be at least 1-d, got shapes {:?} and {:?}",
                    self.shape(),
                    other.shape()
                ),
            );
        }
        let a = if self.ndim() == 1 {
            self.reshape_exact(&[1, self.size()])
        } else {
            self.clone()
        };
        let b = if other.ndim() == 1 {
            other.reshape_exact(&[other.size(), 1])
        } else {
            other.clone()
        };
        let (ar, br) = (a.ndim(), b.ndim());
        let (n, k) = (a.shape()[ar - 2], a.shape()[ar - 1]);
        let (k2, m) = (b.shape()[br - 2], b.shape()[br - 1]);
        if k != k2 {
            return err(
                ErrorKind::Shape,
                format!(
                    "matmul: contracting dimensions differ: shapes {:?} and {:?} ({k} != {k2})",
                    self.shape(),
                    other.shape()
                ),
            );
        }
        let batch = broadcast_shapes("matmul", &[&a.shape()[..ar - 2], &b.shape()[..br - 2]])?;
        let (dtype, _) = promote((a.dtype(), a.is_weak()), (b.dtype(), b.is_weak()));
        let with = |tail: [usize; 2]| {
            let mut s = batch.clone();
            s.extend(tail);
            s
        };
        let a = a.promoted(dtype).broadcast_view(&with([n, k]));
        let b = b.promoted(dtype).broadcast_view(&with([k, m]));
        let out = bind1(Prim::Matmul, &[&a, &b]);
        let mut shape = batch.clone();
        if self.ndim() > 1 {
            shape.push(n);
        }
        if other.ndim() > 1 {
            shape.push(m);
        }
        Ok(out.reshape_exact(&shape))
    }

    /// `dot` for 1-d and 2-d operands; use `matmul` for batches.
    pub fn dot(&self, other: &Array) -> Array {
        if self.ndim() > 2 || other.ndim() > 2 {
            crate::error::fail(
                crate::ErrorKind::Shape,
                format!(
                    "dot: operands of shapes {:?} and {:?}: dot takes 1-d or 2-d arrays; use matmul for batches",
                    self.shape(),
                    other.shape()
                ),
            );
        }
        self.matmul(other)
    }
}

// ---- movement ------------------------------------------------------------

impl Array {
    fn reshape_exact(&self, shape: &[usize]) -> Array {
        if self.shape() == shape {
            self.clone()
        } else {
            bind1(Prim::Reshape(shape.to_vec()), &[self])
        }
    }

    /// The same elements in a new shape; one axis may be `-1` (inferred).
    pub fn reshape(&self, shape: &[isize]) -> Array {
        or_panic(self.try_reshape(shape))
    }

    /// [`Array::reshape`] returning misuse as an error.
    pub fn try_reshape(&self, shape: &[isize]) -> Result<Array> {
        let size = self.size();
        let known: isize = shape.iter().filter(|&&d| d != -1).product();
        let holes = shape.iter().filter(|&&d| d == -1).count();
        let bad = shape.iter().any(|&d| d < -1) || holes > 1;
        let new: Vec<usize> = shape
            .iter()
            .map(|&d| {
                if d == -1 && known > 0 {
                    size / known as usize
                } else {
                    d.max(0) as usize
                }
            })
            .collect();
        if bad || new.iter().product::<usize>() != size {
            return err(
                ErrorKind::Shape,
                format!(
                    "reshape: cannot reshape an array of shape {:?} ({size} elements) into {shape:?}",
                    self.shape()
                ),
            );
        }
        Ok(self.reshape_exact(&new))
    }

    /// Permutes the axes; `perm[i]` is the input axis that becomes axis `i`.
    pub fn transpose(&self, perm: &[usize]) -> Array {
        let rank = self.ndim();
        let mut seen = vec![false; rank];
        if perm.len() != rank
            || perm
                .iter()
                .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
        {
            crate::error::fail(
                crate::ErrorKind::Shape,
                format!(
                    "transpose: {perm:?} is not a permutation of the axes of shape {:?}",
                    self.shape()
                ),
            );
        }
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return self.clone();
        }
        bind1(Prim::Transpose(perm.to_vec()), &[self])
    }

    /// `x * x` (`jnp.square` as a method).
    pub fn square(&self) -> Array {
        self * self
    }

    /// Joins arrays of one shape along a new axis (`jnp.stack`).
    pub fn stack(arrays: &[&Array], axis: isize) -> Array {
        let Some(first) = arrays.first() else {
            crate::error::fail(crate::ErrorKind::Value, "stack: needs at least one array");
        };
        if arrays.iter().any(|a| a.shape() != first.shape()) {
            let shapes: Vec<String> = arrays.iter().map(|a| format!("{:?}", a.shape())).collect();
            crate::error::fail(
                crate::ErrorKind::Shape,
                format!(
                    "stack: arrays must have one shape, got {}",
                    shapes.join(", ")
                ),
            );
        }
        let a =
            crate::eager::or_panic(crate::eager::axis("stack", axis, first.ndim() + 1)) as isize;
        let ex: Vec<Array> = arrays.iter().map(|x| x.expand_dims(a)).collect();
        Array::concatenate(&ex.iter().collect::<Vec<_>>(), a)
    }

    /// Waits until the device has finished computing this array and
    /// returns it (JAX's `block_until_ready`): launches are asynchronous, so
    /// time a step with this rather than with the call's return. A traced
    /// array is returned as is.
    pub fn block_until_ready(&self) -> &Array {
        if !self.is_traced() {
            self.device()
                .synchronize()
                .unwrap_or_else(|e| crate::error::raise(e.prefixed("block_until_ready")));
        }
        self
    }

    /// Reverses the axes (matrix transpose for 2-d).
    pub fn t(&self) -> Array {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.transpose(&perm)
    }

    /// Moves axis `from` to position `to`.
    pub fn moveaxis(&self, from: isize, to: isize) -> Array {
        let r = self.ndim();
        let (f, t) = (
            or_panic(crate::eager::axis("moveaxis", from, r)),
            or_panic(crate::eager::axis("moveaxis", to, r)),
        );
        let mut perm: Vec<usize> = (0..r).filter(|&d| d != f).collect();
        perm.insert(t, f);
        self.transpose(&perm)
    }

    /// Broadcasts to `shape` (NumPy's rule).
    pub fn broadcast_to(&self, shape: &[usize]) -> Array {
        let target = or_panic(broadcast_shapes("broadcast_to", &[self.shape(), shape]));
        if target != shape {
            crate::error::fail(
                crate::ErrorKind::Shape,
                format!(
                    "broadcast_to: cannot broadcast shape {:?} to {shape:?}",
                    self.shape()
                ),
            );
        }
        self.broadcast_view(shape)
    }

    /// Inserts an axis of length 1 at `axis`.
    pub fn expand_dims(&self, axis: isize) -> Array {
        let a = or_panic(crate::eager::axis("expand_dims", axis, self.ndim() + 1));
        let mut shape = self.shape().to_vec();
        shape.insert(a, 1);
        self.reshape_exact(&shape)
    }

    /// Removes the given axes of length 1 (all of them for an empty list).
    pub fn squeeze(&self, axes: &[isize]) -> Array {
        let rank = self.ndim();
        let drop: Vec<usize> = if axes.is_empty() {
            (0..rank).filter(|&d| self.shape()[d] == 1).collect()
        } else {
            axes.iter()
                .map(|&a| or_panic(crate::eager::axis("squeeze", a, rank)))
                .collect()
        };
        for &d in &drop {
            if self.shape()[d] != 1 {
                crate::error::fail(
                    crate::ErrorKind::Shape,
                    format!(
                        "squeeze: axis {d} of shape {:?} has length {}, not 1",
                        self.shape(),
                        self.shape()[d]
                    ),
                );
            }
        }
        let shape: Vec<usize> = (0..rank)
            .filter(|d| !drop.contains(d))
            .map(|d| self.shape()[d])
            .collect();
        self.reshape_exact(&shape)
    }

    /// Basic slicing, one [`Slice`] per leading axis (missing ones are whole).
    pub fn slice(&self, slices: &[Slice]) -> Array {
        or_panic(self.try_slice(slices))
    }

    /// [`Array::slice`] returning misuse as an error.
    pub fn try_slice(&self, slices: &[Slice]) -> Result<Array> {
        if slices.len() > self.ndim() {
            return err(
                ErrorKind::Shape,
                format!(
                    "slice: {} slices for an array of shape {:?}",
                    slices.len(),
                    self.shape()
                ),
            );
        }
        let mut flips = Vec::new();
        let mut spec: Vec<(usize, usize, usize)> =
            self.shape().iter().map(|&n| (0, n, 1)).collect();
        for (d, s) in slices.iter().enumerate() {
            let n = self.shape()[d];
            let (start, len) = s.resolve(n)?;
            spec[d] = if s.step > 0 {
                (start, len, s.step as usize)
            } else {
                flips.push(d);
                (
                    if len == 0 { 0 } else { n - 1 - start },
                    len,
                    s.step.unsigned_abs(),
                )
            };
        }
        let x = if flips.is_empty() {
            self.clone()
        } else {
            bind1(Prim::Flip(flips), &[self])
        };
        if spec
            .iter()
            .zip(self.shape())
            .all(|(&(s, l, st), &n)| s == 0 && l == n && st == 1)
        {
            return Ok(x);
        }
        Ok(bind1(Prim::Slice(spec), &[&x]))
    }

    /// Reverses the given axes (all for an empty list).
    pub fn flip(&self, axes: &[isize]) -> Array {
        let rank = self.ndim();
        let axes: Vec<usize> = if axes.is_empty() {
            (0..rank).collect()
        } else {
            axes.iter()
                .map(|&a| or_panic(crate::eager::axis("flip", a, rank)))
                .collect()
        };
        bind1(Prim::Flip(axes), &[self])
    }

    /// Pads each axis with `(before, after)` elements equal to `value`.
    pub fn pad(&self, widths: &[(usize, usize)], value: impl Into<f64>) -> Array {
        or_panic(self.try_pad(widths, value.into()))
    }

    /// [`Array::pad`] returning misuse as an error.
    pub fn try_pad(&self, widths: &[(usize, usize)], value: f64) -> Result<Array> {
        if widths.len() != self.ndim() {
            return err(
                ErrorKind::Shape,
                format!(
                    "pad: {} (before, after) pairs for an array of rank {}",
                    widths.len(),
                    self.ndim()
                ),
            );
        }
        let w = widths.iter().map(|&(l, h)| (l, h, 0)).collect();
        Ok(bind1(
            Prim::Pad(w, Scalar::F64(value).cast(self.dtype())),
            &[self],
        ))
    }

    /// Joins arrays along an existing axis (one kernel).
    pub fn concatenate(arrays: &[&Array], axis: isize) -> Array {
        or_panic(Array::try_concatenate(arrays, axis))
    }

    /// [`Array::concatenate`] returning misuse as an error.
    pub fn try_concatenate(arrays: &[&Array], axis: isize) -> Result<Array> {
        let Some(first) = arrays.first() else {
            return err(ErrorKind::Value, "concatenate: needs at least one array");
        };
        let rank = first.ndim();
        let ax = crate::eager::axis("concatenate", axis, rank)?;
        for a in arrays {
            let same =
                a.ndim() == rank && (0..rank).all(|d| d == ax || a.shape()[d] == first.shape()[d]);
            if !same {
                let shapes: Vec<String> =
                    arrays.iter().map(|a| format!("{:?}", a.shape())).collect();
                return err(
                    ErrorKind::Shape,
                    format!(
                        "concatenate: shapes {} differ outside axis {ax}",
                        shapes.join(", ")
                    ),
                );
            }
        }
        let dtype = arrays
            .iter()
            .map(|a| (a.dtype(), a.is_weak()))
            .reduce(promote)
            .unwrap()
            .0;
        let cast: Vec<Array> = arrays.iter().map(|a| a.promoted(dtype)).collect();
        let refs: Vec<&Array> = cast.iter().collect();
        Ok(bind1(Prim::Concatenate(ax), &refs))
    }
}

// ---- operands and operators ---------------------------------------------

/// Anything usable as an operand: arrays and Rust scalars (weakly typed).
pub trait AsArray {
    /// The operand as an array (a Rust scalar becomes a weak scalar).
    fn as_array(&self) -> Array;
}

impl AsArray for Array {
    fn as_array(&self) -> Array {
        self.clone()
    }
}

impl AsArray for &Array {
    fn as_array(&self) -> Array {
        (*self).clone()
    }
}

macro_rules! weak_scalar {
    ($($t:ty => $v:ident),*) => {$(
        impl AsArray for $t {
            fn as_array(&self) -> Array {
                Array::weak(Scalar::$v((*self).into()))
            }
        }
    )*};
}

weak_scalar!(f64 => F64, f32 => F64, i32 => I32, bool => Bool);

macro_rules! operator {
    ($trait:ident, $method:ident, $fn:ident) => {
        impl<T: AsArray> std::ops::$trait<T> for &Array {
            type Output = Array;
            fn $method(self, rhs: T) -> Array {
                self.$fn(rhs)
            }
        }
        impl<T: AsArray> std::ops::$trait<T> for Array {
            type Output = Array;
            fn $method(self, rhs: T) -> Array {
                (&self).$fn(rhs)
            }
        }
        impl std::ops::$trait<&Array> for f64 {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array {
                self.as_array().$fn(rhs)
            }
        }
        impl std::ops::$trait<Array> for f64 {
            type Output = Array;
            fn $method(self, rhs: Array) -> Array {
                self.as_array().$fn(rhs)
            }
        }
        impl std::ops::$trait<&Array> for i32 {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array {
                self.as_array().$fn(rhs)
            }
        }
    };
}

operator!(Add, add, add);
operator!(Sub, sub, subtract);
operator!(Mul, mul, multiply);
operator!(Div, div, divide);
operator!(Rem, rem, remainder);
operator!(BitAnd, bitand, bitwise_and);
operator!(BitOr, bitor, bitwise_or);
operator!(BitXor, bitxor, bitwise_xor);
operator!(Shl, shl, left_shift);
operator!(Shr, shr, right_shift);

impl std::ops::Neg for &Array {
    type Output = Array;
    fn neg(self) -> Array {
        Array::neg(self)
    }
}

impl std::ops::Neg for Array {
    type Output = Array;
    fn neg(self) -> Array {
        Array::neg(&self)
    }
}

impl std::ops::Not for &Array {
    type Output = Array;
    fn not(self) -> Array {
        self.logical_not()
    }
}

impl std::ops::Not for Array {
    type Output = Array;
    fn not(self) -> Array {
        self.logical_not()
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Concrete(c) => fmt::Debug::fmt(c, f),
            Repr::Traced(t) => write!(f, "Traced<{}>(level {})", t.aval, t.level),
        }
    }
}

/// NumPy-style nested brackets: `[[1.0, 2.0], [3.0, 4.0]]`.
impl fmt::Display for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Concrete(c) => fmt::Display::fmt(c, f),
            Repr::Traced(t) => write!(f, "Traced<{}>", t.aval),
        }
    }
}
