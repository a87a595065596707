//! Structured control flow: `cond`, `switch`, `while_loop`, `fori_loop`,
//! `scan` (JAX's `lax` functions, over pytrees).
//!
//! Each traces its function(s) once into sub-jaxprs and binds one
//! control-flow primitive (`trace::control`), so loops work eagerly (bodies
//! compiled once per device, the loop driven from the host), under `jit`
//! (the loop is a step of the compiled program), `jvp`, `grad` (not
//! `while_loop`, whose trip count is unknown) and `vmap`. Values a function
//! captures from its environment become operands of the primitive, so
//! differentiating with respect to them works.

use crate::array::Array;
use crate::eager::or_panic;
use crate::error::{ErrorKind, Result, err};
use crate::trace::control::{Control, ControlRef, avals_of, out_avals, trace};
use crate::trace::jaxpr::Jaxpr;
use crate::trace::prim::{Aval, Prim};
use crate::tree::Tree;
use oxjax_abi::DType;
use std::cell::RefCell;

/// A leaf without its weak type (loop state has a fixed type).
fn strong(x: &Array) -> Array {
    if x.is_weak() {
        x.astype(x.dtype())
    } else {
        x.clone()
    }
}

fn show(avals: &[Aval]) -> String {
    let v: Vec<String> = avals.iter().map(|a| a.to_string()).collect();
    format!("({})", v.join(", "))
}

/// Traces `f` into a closed jaxpr whose captured values are its leading
/// inputs; returns it with those values.
fn trace_closed(in_avals: &[Aval], f: impl FnOnce(&[Array]) -> Vec<Array>) -> (Jaxpr, Vec<Array>) {
    let mut j = trace(in_avals, |ins| f(ins).iter().map(strong).collect());
    let (vars, consts): (Vec<usize>, Vec<Array>) = j.constvars.drain(..).unzip();
    j.invars = vars.into_iter().chain(j.invars).collect();
    (j, consts)
}

/// Checks a loop body keeps the carry's shapes and dtypes.
fn check_carry(what: &str, want: &[Aval], got: &[Aval]) -> Result<()> {
    let same = want.len() == got.len()
        && want
            .iter()
            .zip(got)
            .all(|(w, g)| w.shape == g.shape && w.dtype == g.dtype);
    if same {
        Ok(())
    } else {
        err(
            ErrorKind::DType,
            format!(
                "{what}: the body must return a carry of the input carry's shapes and dtypes: \
             input {} but output {}",
                show(want),
                show(got)
            ),
        )
    }
}

fn bind(kind: Control, args: &[Array]) -> Vec<Array> {
    let refs: Vec<&Array> = args.iter().collect();
    or_panic(crate::trace::bind(
        Prim::Control(ControlRef::new(kind, None)),
        &refs,
    ))
}

/// Applies `branches[index]` to `operands` (`lax.switch`); the index is
/// clamped into range. Every branch must return the same shapes and dtypes.
///
/// ```
/// use oxjax_core::{Array, control as lax};
/// let x = Array::scalar(2.0f32);
/// let fs: [&dyn Fn(&Array) -> Array; 3] = [&|x| x + 1.0, &|x| x * 10.0, &|x| -x];
/// assert_eq!(lax::switch(&Array::scalar(1i32), &fs, &x).item::<f32>(), 20.0);
/// ```
pub fn switch<X: Tree, Y: Tree>(index: &Array, branches: &[&dyn Fn(&X) -> Y], operands: &X) -> Y {
    or_panic(try_switch(index, branches, operands))
}

/// [`switch`] returning misuse as an error.
pub fn try_switch<X: Tree, Y: Tree>(
    index: &Array,
    branches: &[&dyn Fn(&X) -> Y],
    operands: &X,
) -> Result<Y> {
    if branches.is_empty() {
        return err(ErrorKind::Value, "switch: no branches");
    }
    if !index.shape().is_empty() || index.dtype().is_float() {
        return err(
            ErrorKind::DType,
            format!(
                "switch: the index must be an integer or bool scalar, got {}",
                index.aval()
            ),
        );
    }
    let n = branches.len() as i32;
    if !index.is_traced() && operands.leaves().iter().all(|x| !x.is_traced()) {
        // Eagerly, only the chosen branch runs.
        let i = index.astype(DType::I32).item::<i32>().clamp(0, n - 1);
        return Ok(branches[i as usize](operands));
    }
    let leaves: Vec<Array> = operands.leaves();
    let in_av = avals_of(&leaves);
    let template: RefCell<Option<Y>> = RefCell::new(None);
    let traced: Vec<(Jaxpr, Vec<Array>)> = branches
        .iter()
        .map(|b| {
            trace_closed(&in_av, |ins| {
                let y = b(&operands.unflatten(ins.to_vec()));
                let l = y.leaves();
                template.borrow_mut().get_or_insert(y);
                l
            })
        })
        .collect();
    let first = out_avals(&traced[0].0);
    for (i, (j, _)) in traced.iter().enumerate().skip(1) {
        let got = out_avals(j);
        let same = got.len() == first.len()
            && got
                .iter()
                .zip(&first)
                .all(|(a, b)| a.shape == b.shape && a.dtype == b.dtype);
        if !same {
            return err(
                ErrorKind::DType,
                format!(
                    "switch/cond: every branch must return the same shapes and dtypes: branch 0 \
                 returns {} but branch {i} returns {}",
                    show(&first),
                    show(&got)
                ),
            );
        }
    }
    // Every branch takes all branches' captured values, then the operands.
    let all_consts: Vec<Array> = traced.iter().flat_map(|(_, c)| c.iter().cloned()).collect();
    let const_av = avals_of(&all_consts);
    let mut offset = 0;
    let bodies: Vec<Jaxpr> = traced
        .iter()
        .map(|(j, c)| {
            let (lo, hi) = (offset, offset + c.len());
            offset = hi;
            let mut av = const_av.clone();
            av.extend(in_av.iter().cloned());
            trace(&av, |a| {
                let mut ins = a[lo..hi].to_vec();
                ins.extend(a[const_av.len()..].iter().cloned());
                j.eval(&ins)
            })
        })
        .collect();
    let mut args = vec![index.astype(DType::I32)];
    args.extend(all_consts);
    args.extend(leaves);
    let outs = bind(Control::Cond { branches: bodies }, &args);
    Ok(template
        .into_inner()
        .expect("a branch was traced")
        .unflatten(outs))
}

/// `true_fn(operands)` if `pred` else `false_fn(operands)` (`lax.cond`);
/// `pred` is a scalar (bool, or a number compared with zero).
///
/// ```
/// use oxjax_core::{Array, control as lax};
/// let x = Array::scalar(3.0f32);
/// let y = lax::cond(&x.greater(0.0), |x: &Array| x.sqrt(), |x: &Array| -x, &x);
/// assert!((y.item::<f32>() - 3f32.sqrt()).abs() < 1e-6);
/// ```
pub fn cond<X: Tree, Y: Tree>(
    pred: &Array,
    true_fn: impl Fn(&X) -> Y,
    false_fn: impl Fn(&X) -> Y,
    operands: &X,
) -> Y {
    if !pred.shape().is_empty() {
        crate::error::fail(
            crate::ErrorKind::Shape,
            format!("cond: the predicate must be a scalar, got {}", pred.aval()),
        );
    }
    let p = if pred.dtype() == DType::BOOL {
        pred.clone()
    } else {
        pred.not_equal(0.0)
    };
    switch(&p.astype(DType::I32), &[&false_fn, &true_fn], operands)
}

/// Repeats `body_fn` while `cond_fn` holds (`lax.while_loop`). `cond_fn`
/// returns a bool scalar; the body keeps the carry's shapes and dtypes.
/// Forward-mode differentiable; reverse mode is refused (unknown trip
/// count) — use [`fori_loop`] or [`scan`].
///
/// ```
/// use oxjax_core::{Array, control as lax};
/// let (i, x) = lax::while_loop(
///     |(i, _): &(Array, Array)| i.less(5),
///     |(i, x): &(Array, Array)| (i + 1, x * 2.0),
///     &(Array::scalar(0i32), Array::scalar(1.0f32)),
/// );
/// assert_eq!((i.item::<i32>(), x.item::<f32>()), (5, 32.0));
/// ```
pub fn while_loop<C: Tree>(
    cond_fn: impl Fn(&C) -> Array,
    body_fn: impl Fn(&C) -> C,
    init: &C,
) -> C {
    or_panic(try_while_loop(cond_fn, body_fn, init))
}

/// [`while_loop`] returning misuse as an error.
pub fn try_while_loop<C: Tree>(
    cond_fn: impl Fn(&C) -> Array,
    body_fn: impl Fn(&C) -> C,
    init: &C,
) -> Result<C> {
    let leaves: Vec<Array> = init.leaves().iter().map(strong).collect();
    let av = avals_of(&leaves);
    let (cj, cc) = trace_closed(&av, |a| vec![cond_fn(&init.unflatten(a.to_vec()))]);
    let c_out = out_avals(&cj);
    if c_out[0].dtype != DType::BOOL || !c_out[0].shape.is_empty() {
        return err(
            ErrorKind::DType,
            format!(
                "while_loop: cond_fun must return a bool scalar, got {}",
                c_out[0]
            ),
        );
    }
    let (bj, bc) = trace_closed(&av, |a| body_fn(&init.unflatten(a.to_vec())).leaves());
    check_carry("while_loop", &av, &out_avals(&bj))?;
    let (n_cond, n_body) = (cc.len(), bc.len());
    let mut args = cc;
    args.extend(bc);
    args.extend(leaves);
    let outs = bind(
        Control::While {
            cond: cj,
            body: bj,
            n_cond,
            n_body,
        },
        &args,
    );
    Ok(init.unflatten(outs))
}

/// `body(i, carry)` for `i` in `lower..upper` (`lax.fori_loop` with static
/// bounds, so it is a [`scan`] and reverse-mode differentiable); `i` is an
/// i32 scalar.
///
/// ```
/// use oxjax_core::{Array, control as lax};
/// let s = lax::fori_loop(0, 10, |i, s: &Array| s + &i.astype(oxjax_core::DType::F32), &Array::scalar(0.0f32));
/// assert_eq!(s.item::<f32>(), 45.0);
/// ```
pub fn fori_loop<C: Tree>(lower: i64, upper: i64, body: impl Fn(&Array, &C) -> C, init: &C) -> C {
    let n = (upper - lower).max(0) as usize;
    let idx = Array::arange(lower as f64, (lower + n as i64) as f64, 1.0, DType::I32);
    scan(
        |c: &C, i: &Array| (body(i, c), ()),
        init,
        &idx,
        Some(n),
        false,
    )
    .0
}

/// Loops `f(carry, x) -> (carry, y)` over the leading axis of `xs`,
/// returning the final carry and the stacked `y`s (`lax.scan`). `length`
/// is required when `xs` has no arrays; `reverse` walks from the end
/// (the `y`s stay aligned with the `x`s).
///
/// ```
/// use oxjax_core::{Array, control as lax};
/// let xs = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]);
/// let (total, partial) = lax::scan(|c: &Array, x: &Array| { let s = c + x; (s.clone(), s) },
///                                  &Array::scalar(0.0f32), &xs, None, false);
/// assert_eq!(total.item::<f32>(), 10.0);
/// assert_eq!(partial.to_vec::<f32>(), vec![1.0, 3.0, 6.0, 10.0]);
/// ```
pub fn scan<C: Tree, X: Tree, Y: Tree>(
    f: impl Fn(&C, &X) -> (C, Y),
    init: &C,
    xs: &X,
    length: Option<usize>,
    reverse: bool,
) -> (C, Y) {
    or_panic(try_scan(f, init, xs, length, reverse))
}

/// [`scan`] returning misuse as an error.
pub fn try_scan<C: Tree, X: Tree, Y: Tree>(
    f: impl Fn(&C, &X) -> (C, Y),
    init: &C,
    xs: &X,
    length: Option<usize>,
    reverse: bool,
) -> Result<(C, Y)> {
    let xl = xs.leaves();
    let mut n = length;
    for x in &xl {
        let Some(&m) = x.shape().first() else {
            return err(
                ErrorKind::Shape,
                format!(
                    "scan: every xs array needs a leading axis to scan over, got a scalar {}",
                    x.aval()
                ),
            );
        };
        match n {
            None => n = Some(m),
            Some(k) if k != m => {
                return err(
                    ErrorKind::Shape,
                    format!(
                        "scan: xs arrays must all have leading axis length {k} (the scan length), \
                     got {}",
                        x.aval()
                    ),
                );
            }
            _ => {}
        }
    }
    let Some(length) = n else {
        return err(
            ErrorKind::Shape,
            "scan: `length` is required when xs has no arrays",
        );
    };
    let carry: Vec<Array> = init.leaves().iter().map(strong).collect();
    let nc = carry.len();
    let mut av = avals_of(&carry);
    av.extend(avals_of(&xl).into_iter().map(|mut a| {
        a.shape.remove(0);
        a
    }));
    let template: RefCell<Option<Y>> = RefCell::new(None);
    let (body, consts) = trace_closed(&av, |a| {
        let (c, y) = f(
            &init.unflatten(a[..nc].to_vec()),
            &xs.unflatten(a[nc..].to_vec()),
        );
        let mut outs = c.leaves();
        outs.extend(y.leaves());
        *template.borrow_mut() = Some(y);
        outs
    });
    check_carry(
        "scan",
        &av[..nc],
        &out_avals(&body)[..nc.min(body.outs.len())],
    )?;
    let n_consts = consts.len();
    let mut args = consts;
    args.extend(carry);
    args.extend(xl);
    let mut outs = bind(
        Control::Scan {
            body,
            length,
            reverse,
            n_consts,
            n_carry: nc,
        },
        &args,
    );
    let ys = outs.split_off(nc);
    let y = template.into_inner().expect("the body was traced");
    Ok((init.unflatten(outs), y.unflatten(ys)))
}
