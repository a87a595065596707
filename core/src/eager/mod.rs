//! Eager arrays.
//!
//! A [`Concrete`] (device/concrete.rs) is a device buffer or a constant,
//! seen through a [`View`]. Movement ops only change the view; every other
//! op builds one kernel that reads its inputs through their views (with
//! the lowering of `lower/`), and runs it through the plugin ABI.

mod indexing;
mod kernel;
mod matmul;
mod movement;
mod ops;
mod reduce;

pub use movement::Slice;
pub use movement::axis;
pub use ops::broadcast_shapes;
pub use reduce::Axes;
// The old paths of what moved to the lowering (the library uses them).
pub(crate) use crate::device::Concrete;
pub(crate) use crate::lower::{accumulator, sum_dtype};
pub use crate::lower::{promote, to_float};

use crate::device::{Buffer, Device, Source, default_device};
use crate::element::Element;
use crate::error::{Error, ErrorKind, Result, err};
use crate::lower::View;
use kernel::EagerKernel;
use oxjax_abi::{DType, Op, Scalar};
use std::fmt;
use std::sync::Arc;

/// Unwraps an op's result; a misuse panics with the op's message.
pub fn or_panic<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| crate::error::raise(e))
}

impl Concrete {
    fn new(src: Source, shape: &[usize], dtype: DType, device: Device) -> Concrete {
        Concrete {
            src,
            view: View::contiguous(shape),
            dtype,
            weak: false,
            fill: Scalar::zero(dtype),
            device,
        }
    }

    /// The same source seen through another view.
    fn with_view(&self, view: View) -> Concrete {
        Concrete {
            view,
            ..self.clone()
        }
    }

    // ---- creation ------------------------------------------------------

    /// Like [`Concrete::from_vec`], copying from a slice.
    pub(crate) fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Concrete {
        or_panic(Concrete::try_from_slice(data, shape, &default_device()))
    }

    /// Creates an array on a given device; errors on a length mismatch or an
    /// unsupported dtype.
    pub(crate) fn try_from_slice<T: Element>(
        data: &[T],
        shape: &[usize],
        device: &Device,
    ) -> Result<Concrete> {
        let n = checked_size("from_slice", shape)?;
        if n != data.len() {
            return err(
                ErrorKind::Shape,
                format!(
                    "from_slice: {} elements do not fill shape {shape:?} ({n} elements)",
                    data.len()
                ),
            );
        }
        check_dtype("from_slice", T::DTYPE, device)?;
        let mut bytes = Vec::with_capacity(n * T::DTYPE.size());
        for v in data {
            v.put_le(&mut bytes);
        }
        let buf = device.upload(&bytes)?;
        Ok(Concrete::new(
            Source::Buffer(buf),
            shape,
            T::DTYPE,
            device.clone(),
        ))
    }

    /// A 0-d array (strongly typed).
    pub(crate) fn scalar<T: Element>(value: T) -> Concrete {
        Concrete::full(&[], value)
    }

    /// A strongly typed 0-d constant of the scalar's dtype.
    pub(crate) fn scalar_of(value: Scalar) -> Concrete {
        Concrete::full_scalar(&[], value)
    }

    /// A weakly typed 0-d array: how Rust literals enter ops (`&x * 2.0`).
    pub(crate) fn weak(value: Scalar) -> Concrete {
        let dtype = match value.dtype() {
            d if d.is_float() => DType::F32,
            d if d.is_int() => DType::I32,
            d => d,
        };
        let mut a = Concrete::new(Source::Const(value), &[], dtype, default_device());
        a.weak = true;
        a
    }

    /// An array of `shape` filled with `value`. No buffer is allocated
    /// until something needs one.
    pub(crate) fn full<T: Element>(shape: &[usize], value: T) -> Concrete {
        Concrete::full_scalar(shape, value.to_scalar())
    }

    fn full_scalar(shape: &[usize], value: Scalar) -> Concrete {
        let device = default_device();
        or_panic(checked_size("full", shape));
        or_panic(check_dtype("full", value.dtype(), &device));
        Concrete::new(Source::Const(value), &[], value.dtype(), device).with_view(
            View::contiguous(&[])
                .reshape(&vec![1; shape.len()])
                .expand(shape),
        )
    }

    pub(crate) fn zeros(shape: &[usize], dtype: DType) -> Concrete {
        Concrete::full_scalar(shape, Scalar::zero(dtype))
    }

    pub(crate) fn ones(shape: &[usize], dtype: DType) -> Concrete {
        Concrete::full_scalar(shape, Scalar::F64(1.0).cast(dtype))
    }

    /// `start, start+step, ...` below `stop` (one kernel, nothing uploaded).
    pub(crate) fn arange(start: f64, stop: f64, step: f64, dtype: DType) -> Concrete {
        or_panic(Concrete::try_arange(start, stop, step, dtype))
    }

    fn try_arange(start: f64, stop: f64, step: f64, dtype: DType) -> Result<Concrete> {
        if step == 0.0 || !step.is_finite() {
            return err(
                ErrorKind::Value,
                format!("arange: step must be finite and non-zero, got {step}"),
            );
        }
        let n = ((stop - start) / step).ceil().max(0.0) as usize;
        // Integer ranges that fit compute in i32 (devices without f64 run them).
        let int = |v: f64| v.fract() == 0.0 && v.abs() < 2f64.powi(31);
        let exact_i32 = int(start) && int(step) && int(start + step * n as f64);
        Concrete::iota("arange", n, dtype, move |b, i| {
            let c = if dtype.is_float() {
                dtype
            } else if exact_i32 {
                DType::I32
            } else {
                DType::F64
            };
            let i = b.cast(i, c);
            let s = b.constant(Scalar::F64(step).cast(c));
            let o = b.constant(Scalar::F64(start).cast(c));
            let m = b.op(Op::MUL, &[i, s]);
            let v = b.op(Op::ADD, &[m, o]);
            b.cast(v, dtype)
        })
    }

    /// `num` evenly spaced values from `start` to `stop` inclusive.
    pub(crate) fn linspace(start: f64, stop: f64, num: usize, dtype: DType) -> Concrete {
        let step = if num > 1 {
            (stop - start) / (num - 1) as f64
        } else {
            0.0
        };
        or_panic(Concrete::iota("linspace", num, dtype, move |b, i| {
            let c = if dtype == DType::F64 {
                DType::F64
            } else {
                DType::F32
            };
            let i = b.cast(i, c);
            let s = b.constant(Scalar::F64(step).cast(c));
            let o = b.constant(Scalar::F64(start).cast(c));
            let m = b.op(Op::MUL, &[i, s]);
            let v = b.op(Op::ADD, &[m, o]);
            // The last point is `stop` exactly, as in NumPy.
            let last = b.i32(num as i32 - 1);
            let gidx = b.gidx();
            let is_last = b.op(Op::EQ, &[gidx, last]);
            let stop = b.constant(Scalar::F64(stop).cast(c));
            let v = b.select(is_last, stop, v);
            b.cast(v, dtype)
        }))
    }

    /// The `n × m` matrix with ones on diagonal `k`.
    pub(crate) fn eye(n: usize, m: usize, k: isize, dtype: DType) -> Concrete {
        let a = or_panic(Concrete::iota("eye", n * m, dtype, move |b, i| {
            let mc = b.i32(m as i32);
            let row = b.op(Op::IDIV, &[i, mc]);
            let col = b.op(Op::REM, &[i, mc]);
            let kc = b.i32(k as i32);
            let diag = b.op(Op::ADD, &[row, kc]);
            let on = b.op(Op::EQ, &[col, diag]);
            b.cast(on, dtype)
        }));
        a.reshape(&[n, m])
    }

    /// A 1-d array of `n` elements computed from the element index.
    fn iota(
        name: &str,
        n: usize,
        dtype: DType,
        f: impl FnOnce(&mut oxjax_abi::KernelBuilder, oxjax_abi::Val) -> oxjax_abi::Val,
    ) -> Result<Concrete> {
        let device = default_device();
        check_dtype(name, dtype, &device)?;
        let mut fuse = EagerKernel::new(&device);
        let i = fuse.b.gidx();
        let v = f(&mut fuse.b, i);
        Ok(fuse.run(&[n], 0, &[v])?.remove(0))
    }

    /// The value of a 0-d constant (a literal in jaxpr text): the stored
    /// scalar for weak values, else converted to the dtype.
    pub(crate) fn scalar_constant(&self) -> Option<Scalar> {
        match self.src {
            Source::Const(s) if self.shape().is_empty() => {
                Some(if self.weak { s } else { s.cast(self.dtype) })
            }
            _ => None,
        }
    }

    /// True when both are the same view of the same buffer.
    pub(crate) fn same_value(&self, other: &Concrete) -> bool {
        match (&self.src, &other.src) {
            (Source::Buffer(a), Source::Buffer(b)) => {
                Arc::ptr_eq(a, b) && self.view == other.view && self.dtype == other.dtype
            }
            _ => false,
        }
    }

    // ---- properties ----------------------------------------------------

    pub(crate) fn shape(&self) -> &[usize] {
        self.view.shape()
    }

    pub(crate) fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    pub(crate) fn size(&self) -> usize {
        self.shape().iter().product()
    }

    pub(crate) fn dtype(&self) -> DType {
        self.dtype
    }

    /// True for weakly typed values (Rust scalars and results computed only from them).
    pub(crate) fn is_weak(&self) -> bool {
        self.weak
    }

    /// The same value, weakly typed (a weak operand cast for promotion).
    pub(crate) fn into_weak(mut self) -> Concrete {
        self.weak = true;
        self
    }

    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    // ---- reading back --------------------------------------------------

    /// The elements in row-major order. Panics if `T` is not the array's dtype.
    pub(crate) fn to_vec<T: Element>(&self) -> Vec<T> {
        or_panic(self.try_to_vec())
    }

    pub(crate) fn try_to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype {
            return err(
                ErrorKind::DType,
                format!(
                    "to_vec::<{}>: the array has dtype {}; convert it with astype first",
                    T::DTYPE,
                    self.dtype
                ),
            );
        }
        let buf = self.dense_buffer()?;
        T::read_with(self.size(), |dst| self.device.read_into(&buf, dst))
    }

    /// The single element of a size-1 array.
    pub(crate) fn item<T: Element>(&self) -> T {
        if self.size() != 1 {
            crate::error::fail(
                crate::ErrorKind::Shape,
                format!(
                    "item: the array has shape {:?}, not one element",
                    self.shape()
                ),
            );
        }
        self.to_vec::<T>()[0]
    }

    /// The elements as host scalars.
    pub(crate) fn try_scalars(&self) -> Result<Vec<Scalar>> {
        let dense = self.materialize()?;
        let Source::Buffer(buf) = &dense.src else {
            unreachable!("materialize returns a buffer")
        };
        let bytes = self.device.download(buf)?;
        let size = self.dtype.size();
        Ok(bytes
            .chunks_exact(size)
            .map(|c| Scalar::read(self.dtype, c))
            .collect())
    }

    /// This array with a dense buffer of its own (one copy kernel if it is a
    /// view, a constant or a slice of a larger buffer).
    pub(crate) fn materialize(&self) -> Result<Concrete> {
        if let Source::Buffer(buf) = &self.src
            && self.view.is_contiguous()
            && buf.bytes == self.size() * self.dtype.size()
        {
            return Ok(self.clone());
        }
        let mut fuse = EagerKernel::new(&self.device);
        let idx = fuse.out_index(self.shape());
        let v = fuse.read(self, &idx);
        let mut out = fuse.run(self.shape(), 0, &[v])?.remove(0);
        out.weak = self.weak;
        Ok(out)
    }

    /// The dense buffer holding this array (copying a view first).
    pub(crate) fn dense_buffer(&self) -> Result<Arc<Buffer>> {
        match self.materialize()?.src {
            Source::Buffer(b) => Ok(b),
            Source::Const(_) => unreachable!("materialize returns a buffer"),
        }
    }

    /// An array over a dense buffer (what a compiled program produced).
    pub(crate) fn from_dense(
        buf: Arc<Buffer>,
        shape: &[usize],
        dtype: DType,
        device: Device,
    ) -> Concrete {
        Concrete::new(Source::Buffer(buf), shape, dtype, device)
    }

    pub(crate) fn try_device_put(&self, device: &Device) -> Result<Concrete> {
        if self.device.same(device) {
            return Ok(self.clone());
        }
        check_dtype("device_put", self.dtype, device)?;
        let dense = self.materialize()?;
        let Source::Buffer(buf) = &dense.src else {
            unreachable!("materialize returns a buffer")
        };
        let bytes = self.device.download(buf)?;
        let moved = device.upload(&bytes)?;
        let mut out = Concrete::new(
            Source::Buffer(moved),
            self.shape(),
            self.dtype,
            device.clone(),
        );
        out.weak = self.weak;
        Ok(out)
    }

    // ---- dtype ---------------------------------------------------------

    /// The array converted to `dtype` (the `cast` op's rules: float→int
    /// truncates and saturates, NaN→0).
    pub(crate) fn astype(&self, dtype: DType) -> Concrete {
        or_panic(self.try_astype(dtype))
    }

    pub(crate) fn try_astype(&self, dtype: DType) -> Result<Concrete> {
        if dtype == self.dtype {
            // Only the weak type changes: constants are converted where
            // they are read, so no kernel is needed.
            return Ok(Concrete {
                weak: false,
                ..self.clone()
            });
        }
        check_dtype("astype", dtype, &self.device)?;
        if let Source::Const(s) = self.src {
            // Constants convert on the host, exactly as the kernel would; a
            // weak literal keeps its full value until its dtype is decided
            // (`f64_array * 0.1` multiplies by the f64 nearest 0.1).
            let s = if self.weak { s } else { s.cast(self.dtype) };
            return Ok(Concrete {
                src: Source::Const(s.cast(dtype)),
                dtype,
                weak: false,
                fill: self.fill.cast(dtype),
                ..self.clone()
            });
        }
        let mut out = ops::zip("astype", &[self], dtype, |_, v| v[0])?;
        out.weak = false;
        Ok(out)
    }
}

/// The element count of `shape`, or an error naming `op` and the shape when
/// it does not fit in a `usize` (an overflow would silently wrap to a
/// small or empty array).
pub fn checked_size(op: &str, shape: &[usize]) -> Result<usize> {
    if shape.contains(&0) {
        return Ok(0);
    }
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Shape,
                format!("{op}: shape {shape:?} has more elements than a usize can count"),
            )
        })
}

/// Errors unless `device` supports `dtype`.
fn check_dtype(op: &str, dtype: DType, device: &Device) -> Result<()> {
    if device.info().caps.supports_dtype(dtype) {
        Ok(())
    } else {
        let have: Vec<String> = device
            .info()
            .caps
            .dtypes
            .iter()
            .map(|d| d.to_string())
            .collect();
        Err(Error::new(
            ErrorKind::DType,
            format!(
                "{op}: device '{}' ({}) does not support {dtype}; it supports {}. Use one of \
             those dtypes, or compute on a device that has {dtype} (`with_default_device`, \
             `device_put`; the built-in 'embedded' device has every dtype)",
                device.name(),
                device.info().name,
                have.join(", ")
            ),
        ))
    }
}

impl fmt::Debug for Concrete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Concrete({self}, dtype={}, device={})",
            self.dtype,
            self.device.name()
        )
    }
}

/// NumPy-style nested brackets: `[[1.0, 2.0], [3.0, 4.0]]`.
impl fmt::Display for Concrete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = match self.try_scalars() {
            Ok(v) => v,
            Err(e) => return write!(f, "<unreadable: {e}>"),
        };
        fn rec(f: &mut fmt::Formatter<'_>, v: &[Scalar], shape: &[usize]) -> fmt::Result {
            let Some((&n, rest)) = shape.split_first() else {
                return write!(f, "{}", v[0]);
            };
            let inner: usize = rest.iter().product();
            f.write_str("[")?;
            for i in 0..n {
                if i > 0 {
                    f.write_str(", ")?;
                }
                rec(f, &v[i * inner..(i + 1) * inner], rest)?;
            }
            f.write_str("]")
        }
        rec(f, &values, self.shape())
    }
}
