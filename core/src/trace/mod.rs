//! Tracing: the trace stack, tracers and `bind`, the one entry point of
//! every primitive (JAX's autodidax design).
//!
//! Each active transformation owns a *main trace* at a level of a
//! thread-local stack. An [`Array`] is either concrete or a tracer of one
//! main trace. `bind` sends a primitive to the highest-level trace among its
//! operands (or the innermost dynamic trace, `make_jaxpr`/`jit`, which
//! stages even operations on constants); that trace applies its rule, whose
//! own operations bind at lower levels. With no trace active, the primitive
//! runs eagerly as one kernel.

pub mod control;
pub mod conv_rules;
pub mod custom;
pub mod fft_rules;
pub mod indexing_rules;
pub mod jaxpr;
pub mod jvp;
pub mod linalg_rules;
pub mod prim;
pub mod softmax_rules;
pub mod vjp;
pub mod vmap;

use crate::array::{Array, Repr};
use crate::error::{Error, ErrorKind, Result};
use jaxpr::JaxprBuilder;
use prim::{Aval, Prim};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A traced value: which main trace it belongs to and its payload.
#[derive(Clone)]
pub(crate) struct Tracer {
    pub level: usize,
    pub id: u64,
    pub aval: Aval,
    pub data: Arc<TracerData>,
}

pub(crate) enum TracerData {
    /// Forward mode: a primal and its tangent (`None`: a symbolic zero).
    Jvp {
        primal: Array,
        tangent: Option<Array>,
    },
    /// Batching: the value with the batch axis at `bdim` (`None`: unbatched).
    Batch { val: Array, bdim: Option<usize> },
    /// Staging: a variable of the jaxpr being built.
    Jaxpr { var: usize },
}

/// What a main trace does with primitives.
pub(crate) enum TraceKind {
    Jvp,
    Batch {
        size: usize,
    },
    Jaxpr {
        builder: RefCell<JaxprBuilder>,
        dynamic: bool,
    },
}

pub(crate) struct MainTrace {
    pub level: usize,
    pub id: u64,
    pub kind: TraceKind,
}

thread_local! {
    static STACK: RefCell<Vec<Rc<MainTrace>>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Pushes a main trace for the duration of `f`.
pub(crate) fn with_main<R>(kind: TraceKind, f: impl FnOnce(&Rc<MainTrace>) -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            STACK.with(|s| s.borrow_mut().pop());
        }
    }
    let main = STACK.with(|s| {
        let mut s = s.borrow_mut();
        let main = Rc::new(MainTrace {
            level: s.len() + 1,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            kind,
        });
        s.push(main.clone());
        main
    });
    let _pop = Pop;
    f(&main)
}

/// The level of the innermost dynamic (staging) trace, 0 if none.
fn dynamic_level() -> usize {
    STACK.with(|s| {
        s.borrow()
            .iter()
            .rev()
            .find(|m| matches!(m.kind, TraceKind::Jaxpr { dynamic: true, .. }))
            .map_or(0, |m| m.level)
    })
}

/// Whether a dynamic trace (`make_jaxpr`, `jit` tracing) is staging every
/// operation on this thread, constants included.
pub(crate) fn staging() -> bool {
    dynamic_level() > 0
}

fn main_at(level: usize) -> Option<Rc<MainTrace>> {
    STACK.with(|s| s.borrow().get(level - 1).cloned())
}

impl MainTrace {
    /// Wraps a payload as a tracer of this trace.
    pub fn tracer(&self, aval: Aval, data: TracerData) -> Array {
        Array(Repr::Traced(Tracer {
            level: self.level,
            id: self.id,
            aval,
            data: Arc::new(data),
        }))
    }

    /// The payload of `x` if it is a tracer of this very trace.
    pub fn own<'a>(&self, x: &'a Array) -> Option<&'a TracerData> {
        match &x.0 {
            Repr::Traced(t) if t.id == self.id => Some(&t.data),
            _ => None,
        }
    }
}

/// Applies a primitive to operands; the heart of every transformation. An
/// error records the primitive and its operands as context.
pub fn bind(prim: Prim, args: &[&Array]) -> Result<Vec<Array>> {
    dispatch(&prim, args).map_err(|e| {
        e.with_op(&prim)
            .with_operands(args.iter().map(|a| (a.shape(), a.dtype())))
    })
}

fn dispatch(prim: &Prim, args: &[&Array]) -> Result<Vec<Array>> {
    if let Prim::Callback(c) = prim
        && crate::effects::muted(&c.0)
    {
        return Ok(Vec::new());
    }
    let mut level = dynamic_level();
    for a in args {
        if let Repr::Traced(t) = &a.0 {
            match main_at(t.level) {
                Some(m) if m.id == t.id => level = level.max(t.level),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Value,
                        format!(
                            "{prim}: an operand is a tracer that escaped its transformation \
                         (a traced value of shape {:?} was stored outside the function being transformed)",
                            t.aval.shape
                        ),
                    ));
                }
            }
        }
    }
    if level == 0 {
        match prim {
            Prim::Custom(c) => {
                let args: Vec<Array> = args.iter().map(|a| (*a).clone()).collect();
                return Ok(vec![custom::call(&c.0, &args)]);
            }
            Prim::Control(c) => {
                let args: Vec<Array> = args.iter().map(|a| (*a).clone()).collect();
                return control::eval(&c.0, &args);
            }
            Prim::Callback(c) => {
                let args: Vec<Array> = args.iter().map(|a| (*a).clone()).collect();
                return crate::effects::eval(&c.0, &args);
            }
            _ => {}
        }
        let concrete: Vec<crate::eager::Concrete> = args
            .iter()
            .map(|a| a.concrete().expect("no tracer at level 0").clone())
            .collect();
        let outs = prim::eval_eager(prim, &concrete)?;
        return Ok(outs.into_iter().map(|c| Array(Repr::Concrete(c))).collect());
    }
    let main = main_at(level).expect("trace level exists");
    let args: Vec<Array> = args.iter().map(|a| (*a).clone()).collect();
    match &main.kind {
        TraceKind::Jvp => jvp::process(&main, prim, &args),
        TraceKind::Batch { size } => vmap::process(&main, *size, prim, &args),
        TraceKind::Jaxpr { builder, .. } => jaxpr::process(&main, builder, prim, &args),
    }
}

/// `bind` for single-output primitives, panicking with the message on misuse.
pub fn bind1(prim: Prim, args: &[&Array]) -> Array {
    match bind(prim, args) {
        Ok(mut v) => v.remove(0),
        Err(e) => crate::error::raise(e),
    }
}

#[cfg(test)]
mod tests {
    //! Walks every primitive kind and exercises each of its rules: a new
    //! primitive cannot arrive without jvp, batching and (if linear)
    //! transpose rules that run and agree with evaluation.
    use super::prim::{BinOp, Prim, UnOp, all_kinds};
    use super::vjp::linearize_flat;
    use super::{bind1, jvp::jvp_flat, vmap::vmap_flat};
    use crate::{Array, Axes, DType, Registry, with_default_device};

    fn f64s(shape: &[usize], seed: f64) -> Array {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n)
            .map(|i| 0.2 + 0.6 * ((i as f64 * 0.37 + seed) % 1.0))
            .collect();
        Array::from_vec(v, shape)
    }

    /// The primitive with parameters that fit, and its operands.
    fn instance(kind: &Prim) -> (Prim, Vec<Array>) {
        let x = f64s(&[2, 3], 0.1);
        let y = f64s(&[2, 3], 0.5);
        let ints = || Array::from_vec(vec![1i32, 2, 3, 4, 5, 6], &[2, 3]);
        match kind {
            Prim::Unary(UnOp::Not) => (kind.clone(), vec![ints()]),
            Prim::Unary(_) | Prim::Cast(_) | Prim::StopGradient | Prim::Custom(_) => {
                (kind.clone(), vec![x])
            }
            Prim::Binary(BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Shl | BinOp::Shr) => {
                (kind.clone(), vec![ints(), ints()])
            }
            Prim::Binary(_) => (kind.clone(), vec![x, y]),
            Prim::Select => (kind.clone(), vec![x.greater(&y), x, y]),
            Prim::Reduce(r, _) => (Prim::Reduce(*r, vec![1]), vec![x]),
            Prim::ArgReduce(m, _) => (Prim::ArgReduce(*m, 1), vec![x]),
            Prim::Matmul => (kind.clone(), vec![x, f64s(&[2, 3, 2], 0.3).sum(0, false)]),
            Prim::Reshape(_) => (Prim::Reshape(vec![3, 2]), vec![x]),
            Prim::Transpose(_) => (Prim::Transpose(vec![1, 0]), vec![x]),
            Prim::BroadcastTo(_) => (Prim::BroadcastTo(vec![4, 2, 3]), vec![x]),
            Prim::Slice(_) => (Prim::Slice(vec![(0, 1, 1), (1, 2, 1)]), vec![x]),
            Prim::Flip(_) => (Prim::Flip(vec![1]), vec![x]),
            Prim::Pad(_, v) => (Prim::Pad(vec![(1, 0, 1), (0, 2, 0)], *v), vec![x]),
            Prim::Concatenate(_) => (Prim::Concatenate(1), vec![x, y]),
            Prim::Control(c) => match &c.0.kind {
                super::control::Control::Cond { .. } => {
                    (kind.clone(), vec![Array::scalar(1i32), x])
                }
                super::control::Control::While { .. } => (kind.clone(), vec![x]),
                super::control::Control::Scan { .. } => (kind.clone(), vec![x.sum(0, false), y]),
            },
            Prim::Callback(_) => unreachable!("callbacks are covered by tests/control.rs"),
            Prim::Indexing(p) => (kind.clone(), super::indexing_rules::operands(p, x)),
            Prim::Linalg(p) => (kind.clone(), super::linalg_rules::operands(*p)),
            Prim::Conv(_) => (kind.clone(), vec![x, f64s(&[4, 3], 0.2)]),
            Prim::Fft(_) => (kind.clone(), vec![f64s(&[2, 3, 2], 0.4)]),
            Prim::Softmax => (kind.clone(), vec![x]),
        }
    }

    /// The values as text, so NaNs compare equal.
    fn values(a: &Array) -> String {
        format!("{:?}", a.astype(DType::F64).to_vec::<f64>())
    }

    #[test]
    fn every_primitive_has_working_rules() {
        let reg = Registry::embedded();
        with_default_device(&reg.default_device(), || {
            for kind in all_kinds() {
                let (prim, args) = instance(&kind);
                let call = |ins: &[Array]| {
                    let refs: Vec<&Array> = ins.iter().collect();
                    vec![bind1(prim.clone(), &refs)]
                };
                let want = call(&args).remove(0);
                // jvp: same primal, a tangent of the output's shape (or none).
                let tangents: Vec<Array> = args.iter().map(|a| a.ones_like()).collect();
                let (outs, touts) = jvp_flat(call, &args, &tangents);
                assert_eq!(values(&outs[0]), values(&want), "{prim}: jvp primal");
                if let Some(t) = &touts[0] {
                    assert_eq!(t.shape(), want.shape(), "{prim}: tangent shape");
                }
                // Batching: a batch of two (the operands and their doubles)
                // equals the two separate results.
                let doubled: Vec<Array> = args
                    .iter()
                    .map(|a| {
                        if a.dtype().is_float() {
                            a * 2.0
                        } else {
                            a.clone()
                        }
                    })
                    .collect();
                let stacked: Vec<Array> = args
                    .iter()
                    .zip(&doubled)
                    .map(|(a, d)| Array::concatenate(&[&a.expand_dims(0), &d.expand_dims(0)], 0))
                    .collect();
                let axes = vec![Some(0); args.len()];
                let batched = vmap_flat(call, &stacked, &axes, None).unwrap().remove(0);
                let second = call(&doubled).remove(0);
                assert_eq!(
                    values(&batched.slice(&[(0..1).into()]).squeeze(&[0])),
                    values(&want),
                    "{prim}: vmap lane 0"
                );
                assert_eq!(
                    values(&batched.slice(&[(1..2).into()]).squeeze(&[0])),
                    values(&second),
                    "{prim}: vmap lane 1"
                );
                // Transpose: <ct, L t> == <L^T ct, t> for the linear ones.
                if prim.facts().linear {
                    let float_args: Vec<usize> = (0..args.len())
                        .filter(|&i| args[i].dtype().is_float())
                        .collect();
                    let fixed = args.clone();
                    let lin_call = |ins: &[Array]| {
                        let mut all = fixed.clone();
                        for (k, &i) in float_args.iter().enumerate() {
                            all[i] = ins[k].clone();
                        }
                        call(&all)
                    };
                    let primals: Vec<Array> = float_args.iter().map(|&i| args[i].clone()).collect();
                    let (_, lin) = linearize_flat(lin_call, &primals);
                    let t: Vec<Array> = primals.iter().map(|p| p * 0.5 + 0.25).collect();
                    let lt = lin.apply(&t).remove(0);
                    let ct = want.ones_like() * 1.5;
                    let back = lin.transpose(std::slice::from_ref(&ct));
                    let lhs = (&ct * &lt)
                        .sum(Axes::All, false)
                        .astype(DType::F64)
                        .item::<f64>();
                    let rhs: f64 = back
                        .iter()
                        .zip(&t)
                        .map(|(b, t)| {
                            (b * t)
                                .sum(Axes::All, false)
                                .astype(DType::F64)
                                .item::<f64>()
                        })
                        .sum();
                    assert!(
                        (lhs - rhs).abs() < 1e-5 * (1.0 + lhs.abs()),
                        "{prim}: transpose disagrees: {lhs} vs {rhs}"
                    );
                }
            }
        });
    }
}
