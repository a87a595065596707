//! Matrix products: one reduction kernel over a product of two broadcast
//! loads (backends recognise the affine loads and tile them).

use super::fuse::Fuse;
use super::ops::{broadcast_shapes, common_device, result_type};
use super::{Concrete, ok};
use crate::error::{Result, op_err};
use oxjax_abi::{DType, Op, ReduceOp};

impl Concrete {
    /// NumPy's `matmul`: batched over leading axes (broadcast); a 1-d
    /// operand is a vector. f16 accumulates in f32; bool is or-of-and.
    pub fn matmul(&self, other: &Concrete) -> Concrete {
        ok(self.try_matmul(other))
    }

    pub fn try_matmul(&self, other: &Concrete) -> Result<Concrete> {
        if self.ndim() == 0 || other.ndim() == 0 {
            return op_err(format!(
                "matmul: operands must be at least 1-d, got shapes {:?} and {:?}",
                self.shape(),
                other.shape()
            ));
        }
        let a = if self.ndim() == 1 {
            self.try_reshape(&[1, -1])?
        } else {
            self.clone()
        };
        let b = if other.ndim() == 1 {
            other.try_reshape(&[-1, 1])?
        } else {
            other.clone()
        };
        let (ar, br) = (a.ndim(), b.ndim());
        let (n, k) = (a.shape()[ar - 2], a.shape()[ar - 1]);
        let (k2, m) = (b.shape()[br - 2], b.shape()[br - 1]);
        if k != k2 {
            return op_err(format!(
                "matmul: contracting dimensions differ: shapes {:?} and {:?} ({k} != {k2})",
                self.shape(),
                other.shape()
            ));
        }
        let batch = broadcast_shapes("matmul", &[&a.shape()[..ar - 2], &b.shape()[..br - 2]])?;
        let device = common_device("matmul", &[&a, &b])?;
        let (dtype, weak) = result_type(&[&a, &b]);
        let acc = match dtype {
            DType::F16 => DType::F32,
            d => d,
        };
        super::check_dtype("matmul", acc, &device)?;
        let mut a_shape = batch.clone();
        a_shape.extend([n, k]);
        let mut b_shape = batch.clone();
        b_shape.extend([k, m]);
        let (a, b) = (a.broadcast_view(&a_shape), b.broadcast_view(&b_shape));
        let mut out_shape = batch.clone();
        out_shape.extend([n, m]);

        let mut fuse = Fuse::new(&device);
        let idx = fuse.out_index(&out_shape);
        let r = fuse.b.ridx();
        let nb = batch.len();
        let mut ai = idx[..nb].to_vec();
        ai.extend([idx[nb], r]);
        let mut bi = idx[..nb].to_vec();
        bi.extend([r, idx[nb + 1]]);
        let x = fuse.read_as(&a, &ai, acc);
        let y = fuse.read_as(&b, &bi, acc);
        let (prod, rop) = if acc == DType::BOOL {
            (fuse.b.op(Op::AND, &[x, y]), ReduceOp::MAX)
        } else {
            (fuse.b.op(Op::MUL, &[x, y]), ReduceOp::ADD)
        };
        let total = fuse.b.reduce(rop, prod);
        let v = fuse.b.cast(total, dtype);
        let mut out = fuse.run(&out_shape, k, &[v])?.remove(0);
        out.weak = weak;
        // Drop the axes that 1-d operands gained.
        let mut shape: Vec<isize> = batch.iter().map(|&d| d as isize).collect();
        if self.ndim() > 1 {
            shape.push(n as isize);
        }
        if other.ndim() > 1 {
            shape.push(m as isize);
        }
        out.try_reshape(&shape)
    }

    /// `dot` for 1-d and 2-d operands (inner product, matrix-vector,
    /// matrix-matrix); use `matmul` for batches.
    pub fn dot(&self, other: &Concrete) -> Concrete {
        if self.ndim() > 2 || other.ndim() > 2 {
            panic!(
                "dot: operands of shapes {:?} and {:?}: dot takes 1-d or 2-d arrays; use matmul for batches",
                self.shape(),
                other.shape()
            );
        }
        self.matmul(other)
    }
}
