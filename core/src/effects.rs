//! Host callbacks and side effects inside traced code: `debug_print`,
//! `io_callback` and `pure_callback` (JAX's `jax.debug.print`,
//! `jax.experimental.io_callback`, `jax.pure_callback`).
//!
//! Each is one `callback` primitive holding a host closure and the declared
//! result avals. Evaluation hands the closure concrete arrays, checks what
//! it returns against the declaration and turns a panic into an error.
//! `debug_print` and `io_callback` are *effects*: printed in the jaxpr,
//! never removed by dead-code elimination nor merged by CSE, and run in
//! program order by `jit`; a `pure_callback` whose result is unused is
//! removed. Under `vmap` a callback runs once per lane (lane order); under
//! `jvp`/`grad` `debug_print` prints the primal values and the callbacks
//! refuse to be differentiated (wrap them in `custom_jvp`).

use crate::array::Array;
use crate::error::{Error, ErrorKind, Result};
use crate::trace::prim::{Aval, Prim};
use crate::tree::Tree;
use std::cell::RefCell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Which effect a callback has.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// `debug_print`: output only, printed per call.
    Debug,
    /// `io_callback`; `ordered` ones keep their order relative to each other.
    Io { ordered: bool },
    /// `pure_callback`: no effect, may be removed or re-run.
    Pure,
}

// Shared by jaxprs and programs, which cross threads.
type HostFn = Arc<dyn Fn(&[Array]) -> Vec<Array> + Send + Sync>;

/// A callback primitive: its closure, effect and declared results.
pub struct Callback {
    pub name: String,
    pub effect: Effect,
    pub out: Vec<Aval>,
    f: HostFn,
}

/// A shared handle, equal only to itself.
#[derive(Clone)]
pub struct CallbackRef(pub Arc<Callback>);

impl PartialEq for CallbackRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for CallbackRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.0;
        match &c.effect {
            Effect::Debug => write!(f, "debug_callback[fmt={:?}, effect=Debug]", c.name),
            Effect::Io { ordered } => {
                write!(
                    f,
                    "io_callback[name={}, ordered={ordered}, effect=IO]",
                    c.name
                )
            }
            Effect::Pure => write!(f, "pure_callback[name={}]", c.name),
        }
    }
}

impl Callback {
    /// Effects are kept, ordered and never merged; pure callbacks are not.
    pub fn has_effects(&self) -> bool {
        self.effect != Effect::Pure
    }

    fn kind_name(&self) -> &'static str {
        match self.effect {
            Effect::Debug => "debug_print",
            Effect::Io { .. } => "io_callback",
            Effect::Pure => "pure_callback",
        }
    }
}

/// Runs a callback on concrete arrays, checking its results.
pub(crate) fn eval(c: &Callback, args: &[Array]) -> Result<Vec<Array>> {
    let outs = catch_unwind(AssertUnwindSafe(|| (c.f)(args))).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".into());
        Error::new(
            ErrorKind::Panic,
            format!("{}: the host callback panicked: {msg}", c.kind_name()),
        )
    })?;
    let got: Vec<Aval> = outs.iter().map(Array::aval).collect();
    let fits = got.len() == c.out.len()
        && got
            .iter()
            .zip(&c.out)
            .all(|(g, w)| g.shape == w.shape && g.dtype == w.dtype);
    if !fits {
        let show = |v: &[Aval]| {
            v.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::new(
            ErrorKind::Shape,
            format!(
                "{} `{}`: the callback returned ({}) but its declared result shapes are ({})",
                c.kind_name(),
                c.name,
                show(&got),
                show(&c.out)
            ),
        ));
    }
    Ok(outs)
}

/// The jvp rule: callbacks run on the primals; their results have no
/// derivative, so a tangent flowing into one is refused.
pub(crate) fn jvp(
    c: &Arc<Callback>,
    x: &[Array],
    t: &[Option<Array>],
) -> (Vec<Array>, Vec<Option<Array>>) {
    if c.effect != Effect::Debug
        && t.iter().any(Option::is_some)
        && c.out.iter().any(|a| a.dtype.is_float())
    {
        crate::error::fail(
            crate::ErrorKind::Unsupported,
            format!(
                "{} `{}`: a host callback cannot be differentiated; give it a derivative \
             with custom_jvp (or stop_gradient its inputs)",
                c.kind_name(),
                c.name
            ),
        );
    }
    let outs = bind(c, x);
    let n = outs.len();
    (outs, vec![None; n])
}

/// The batching rule: one call per lane, in lane order; results stacked.
pub(crate) fn vmap(
    c: &Arc<Callback>,
    vals: &[Array],
    bdims: &[Option<usize>],
    size: usize,
) -> Vec<Array> {
    let mut per_out: Vec<Vec<Array>> = vec![Vec::new(); c.out.len()];
    for lane in 0..size {
        let l = lane as isize;
        let args: Vec<Array> = vals
            .iter()
            .zip(bdims)
            .map(|(v, b)| match b {
                Some(d) => v
                    .moveaxis(*d as isize, 0)
                    .slice(&[(l..l + 1).into()])
                    .squeeze(&[0]),
                None => v.clone(),
            })
            .collect();
        for (acc, o) in per_out.iter_mut().zip(bind(c, &args)) {
            acc.push(o);
        }
    }
    per_out
        .into_iter()
        .zip(&c.out)
        .map(|(parts, aval)| crate::trace::control::stack(parts, aval, size))
        .collect()
}

fn bind(c: &Arc<Callback>, args: &[Array]) -> Vec<Array> {
    let refs: Vec<&Array> = args.iter().collect();
    crate::trace::bind(Prim::Callback(CallbackRef(c.clone())), &refs)
        .unwrap_or_else(|e| crate::error::raise(e))
}

fn call<Y: Tree>(name: &str, effect: Effect, result: &Y, args: &[Array], f: HostFn) -> Y {
    let out: Vec<Aval> = result.leaves().iter().map(Array::aval).collect();
    let c = Arc::new(Callback {
        name: name.to_string(),
        effect,
        out,
        f,
    });
    result.unflatten(bind(&c, args))
}

thread_local! {
    static CAPTURE: RefCell<Option<String>> = const { RefCell::new(None) };
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether `c` is a `debug_print` inside [`quiet`].
pub(crate) fn muted(c: &Callback) -> bool {
    c.effect == Effect::Debug && QUIET.with(|q| q.get())
}

/// Traces `f` with `debug_print` disabled: for the tangent and transposed
/// copies of a loop body that differentiation builds, so a body's prints
/// appear once per step of the primal loop, not again in the derivative.
pub(crate) fn quiet<R>(f: impl FnOnce() -> R) -> R {
    let prev = QUIET.with(|q| q.replace(true));
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            QUIET.with(|q| q.set(self.0));
        }
    }
    let _restore = Restore(prev);
    f()
}

/// Runs `f`, collecting what `debug_print` prints on this thread instead
/// of writing it to stdout (for tests and logs).
pub fn capture_debug_output<R>(f: impl FnOnce() -> R) -> (R, String) {
    let prev = CAPTURE.with(|c| c.borrow_mut().replace(String::new()));
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CAPTURE.with(|c| *c.borrow_mut() = prev);
        }
    }
    let restore = Restore(prev);
    let r = f();
    let text = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    drop(restore);
    (r, text)
}

fn emit(line: &str) {
    let captured = CAPTURE.with(|c| {
        if let Some(buf) = c.borrow_mut().as_mut() {
            buf.push_str(line);
            buf.push('\n');
            true
        } else {
            false
        }
    });
    if !captured {
        println!("{line}");
    }
}

/// Fills the `{}` placeholders of `format` with the values, in order.
fn render(format: &str, args: &[Array]) -> String {
    let mut out = String::new();
    let mut vals = args.iter();
    let mut rest = format;
    while let Some(i) = rest.find("{}") {
        out.push_str(&rest[..i]);
        match vals.next() {
            Some(v) => out.push_str(&v.to_string()),
            None => out.push_str("{}"),
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

/// Prints runtime values from eager, jitted, differentiated or vmapped code
/// (`jax.debug.print`): each `{}` in `format` is replaced by the next value.
/// Under `jit` it prints when the compiled program runs, in program order;
/// under `vmap` once per lane; under `grad` the forward pass's values.
///
/// ```
/// use oxjax_core::{Array, debug_print, capture_debug_output, jit};
/// let f = jit(|x: &Array| {
///     debug_print("x = {}", &[x]);
///     x * 2.0
/// });
/// let (_, out) = capture_debug_output(|| f(&Array::scalar(3.0f32)));
/// assert_eq!(out, "x = 3.0\n");
/// ```
pub fn debug_print(format: &str, args: &[&Array]) {
    let fmt = format.to_string();
    let f: HostFn = Arc::new(move |vals: &[Array]| {
        emit(&render(&fmt, vals));
        Vec::new()
    });
    let args: Vec<Array> = args.iter().map(|a| (*a).clone()).collect();
    call(format, Effect::Debug, &(), &args, f);
}

/// Calls a host function with side effects from traced code
/// (`jax.experimental.io_callback`). `result` is a pytree of arrays whose
/// shapes and dtypes declare what `f` returns (the values are ignored);
/// a mismatch, or a panic inside `f`, is an error of the call (under
/// [`try_jit`](crate::try_jit), an `Err`). The call is never removed;
/// `ordered` calls keep their program order.
///
/// ```
/// use oxjax_core::{Array, io_callback, jit};
/// use std::sync::{Arc, Mutex};
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let f = jit(move |x: &Array| {
///     let log = log.clone();
///     io_callback("log", move |v: &Array| { log.lock().unwrap().push(v.item::<f32>()); v.clone() },
///                 x, x, true)
/// });
/// f(&Array::scalar(1.0f32));
/// f(&Array::scalar(2.0f32));
/// assert_eq!(*seen.lock().unwrap(), vec![1.0, 2.0]);
/// ```
pub fn io_callback<X: Tree + Send + Sync + 'static, Y: Tree + 'static>(
    name: &str,
    f: impl Fn(&X) -> Y + Send + Sync + 'static,
    result: &Y,
    args: &X,
    ordered: bool,
) -> Y {
    host(name, Effect::Io { ordered }, f, result, args)
}

/// Calls a pure host function from traced code (`jax.pure_callback`): like
/// [`io_callback`] but without effects, so an unused call is removed and
/// it may be called once per lane under `vmap`.
///
/// ```
/// use oxjax_core::{Array, pure_callback};
/// let x = Array::from_vec(vec![1.0f32, 4.0], &[2]);
/// let y = pure_callback("host_sqrt", |v: &Array| {
///     let r: Vec<f32> = v.to_vec::<f32>().iter().map(|a| a.sqrt()).collect();
///     Array::from_vec(r, &[2])
/// }, &x, &x);
/// assert_eq!(y.to_vec::<f32>(), vec![1.0, 2.0]);
/// ```
pub fn pure_callback<X: Tree + Send + Sync + 'static, Y: Tree + 'static>(
    name: &str,
    f: impl Fn(&X) -> Y + Send + Sync + 'static,
    result: &Y,
    args: &X,
) -> Y {
    host(name, Effect::Pure, f, result, args)
}

fn host<X: Tree + Send + Sync + 'static, Y: Tree + 'static>(
    name: &str,
    effect: Effect,
    f: impl Fn(&X) -> Y + Send + Sync + 'static,
    result: &Y,
    args: &X,
) -> Y {
    let tmpl = args.unflatten(args.leaves());
    let flat: HostFn = Arc::new(move |vals: &[Array]| f(&tmpl.unflatten(vals.to_vec())).leaves());
    call(name, effect, result, &args.leaves(), flat)
}
