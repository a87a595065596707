//! Elementwise ops: NumPy broadcasting, JAX type promotion, one kernel each,
//! and the std operator overloads.

use super::kernel::EagerKernel;
use super::{Concrete, or_panic};
use crate::device::Source;
use crate::error::{Error, ErrorKind, Result};
use crate::lower::{BinOp, UnOp, binary_expr, promote, unary_expr};
use oxjax_abi::{DType, KernelBuilder, Val};

/// The broadcast of several shapes, NumPy's rule (align right; 1 stretches).
pub fn broadcast_shapes(name: &str, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        for (i, &n) in s.iter().enumerate() {
            let o = &mut out[rank - s.len() + i];
            if *o == 1 {
                *o = n;
            } else if n != 1 && n != *o {
                let all: Vec<String> = shapes.iter().map(|s| format!("{s:?}")).collect();
                return Err(Error::new(
                    ErrorKind::Shape,
                    format!("{name}: shapes {} do not broadcast", all.join(" and ")),
                )
                .with_shapes(shapes));
            }
        }
    }
    super::checked_size(name, &out)?;
    Ok(out)
}

/// Runs `f` elementwise over `inputs` broadcast together, each read as
/// `compute`. Weak constants take any device; other inputs must share one.
pub(crate) fn zip(
    name: &str,
    inputs: &[&Concrete],
    compute: DType,
    f: impl FnOnce(&mut KernelBuilder, &[Val]) -> Val,
) -> Result<Concrete> {
    let device = common_device(name, inputs)?;
    super::check_dtype(name, compute, &device)?;
    let shapes: Vec<&[usize]> = inputs.iter().map(|a| a.shape()).collect();
    let shape = broadcast_shapes(name, &shapes)?;
    let mut fuse = EagerKernel::new(&device);
    let idx = fuse.out_index(&shape);
    let vals: Vec<Val> = inputs
        .iter()
        .map(|a| {
            let a = a.broadcast_view(&shape);
            fuse.read_as(&a, &idx, compute)
        })
        .collect();
    let r = f(&mut fuse.b, &vals);
    let mut out = fuse.run(&shape, 0, &[r])?.remove(0);
    out.weak = inputs.iter().all(|a| a.weak);
    Ok(out)
}

/// The device the inputs live on (constants live anywhere).
pub(crate) fn common_device(name: &str, inputs: &[&Concrete]) -> Result<crate::Device> {
    let mut placed = inputs.iter().filter(|a| matches!(a.src, Source::Buffer(_)));
    let Some(first) = placed.next() else {
        return Ok(inputs[0].device.clone());
    };
    for a in placed {
        if !a.device.same(&first.device) {
            return Err(Error::new(
                ErrorKind::Value,
                format!(
                    "{name}: arrays are on different devices ('{}' and '{}'); move one with device_put",
                    first.device.name(),
                    a.device.name()
                ),
            ));
        }
    }
    Ok(first.device.clone())
}

/// Promotes the dtypes (and weakness) of all inputs.
pub(crate) fn result_type(inputs: &[&Concrete]) -> (DType, bool) {
    inputs
        .iter()
        .map(|a| (a.dtype, a.weak))
        .reduce(promote)
        .expect("at least one input")
}

/// How the `Unary` and `Binary` primitives run eagerly: one kernel each
/// (operands are canonical: the API has promoted and broadcast them).
impl Concrete {
    pub(crate) fn unary_prim(&self, op: UnOp) -> Result<Concrete> {
        zip(op.name(), &[self], self.dtype, |b, v| {
            unary_expr(op, b, v[0])
        })
    }

    pub(crate) fn binary_prim(&self, op: BinOp, other: &Concrete) -> Result<Concrete> {
        let (dtype, _) = result_type(&[self, other]);
        let mut failed = None;
        let out = zip(op.name(), &[self, other], dtype, |b, v| {
            binary_expr(op, b, v[0], v[1]).unwrap_or_else(|e| {
                failed = Some(e);
                v[0]
            })
        })?;
        match failed {
            Some(e) => Err(e.prefixed(op.name())),
            None => Ok(out),
        }
    }
}

impl Concrete {
    /// `cond ? x : y` elementwise, broadcasting all three.
    pub(crate) fn where_(cond: &Concrete, x: &Concrete, y: &Concrete) -> Concrete {
        let (dtype, _) = result_type(&[x, y]);
        let c = if cond.dtype == DType::BOOL {
            cond.clone()
        } else {
            cond.astype(DType::BOOL)
        };
        or_panic(zip("where", &[&c, x, y], dtype, |b, v| {
            let c = b.cast(v[0], DType::BOOL);
            b.select(c, v[1], v[2])
        }))
    }
}
