//! `jit`: trace a function once per input signature into a jaxpr, simplify
//! it, fuse it into as few kernels as the fusion rules allow, and run the
//! compiled program on later calls.
//!
//! Under another transformation (an input is a tracer), `jit(f)` traces
//! through `f`, so `grad(jit(f))` and `vmap(jit(f))` compose; `jit(grad(f))`
//! compiles the whole gradient program.

mod fusion;
mod iterate;

use crate::array::Array;
use crate::device::{Concrete, Device, default_device};
use crate::error::Result;
use crate::trace::jaxpr::{Atom, Jaxpr, literal, trace_to_jaxpr};
use crate::trace::prim::{Aval, Prim};
use crate::tree::Tree;
use fusion::Planner;
pub(crate) use fusion::Step;
use oxjax_abi::{BufferId, Kernel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A compiled program: the jaxpr, its steps, and counts for inspection.
pub struct Compiled {
    jaxpr: Jaxpr,
    steps: Vec<Step>,
    /// The variables whose buffers can be dropped after each step.
    frees: Vec<Vec<usize>>,
}

impl Compiled {
    /// The (simplified) jaxpr this program computes.
    pub fn jaxpr(&self) -> &Jaxpr {
        &self.jaxpr
    }

    /// How many kernels one call runs (eager fallback steps count as one each).
    pub fn kernel_count(&self) -> usize {
        self.steps.len()
    }

    /// Bytes of intermediate and output buffers alive at once at the worst
    /// point of a call (buffers are freed after their last use; the backend's
    /// allocator reuses them).
    pub fn peak_bytes(&self) -> usize {
        let j = &self.jaxpr;
        let last = self.last_use();
        let (mut live, mut peak) = (0usize, 0usize);
        let mut alive: Vec<usize> = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            for v in self.step_outputs(step) {
                live += j.avals[v].size() * j.avals[v].dtype.size();
                alive.push(v);
            }
            peak = peak.max(live);
            alive.retain(|&v| {
                let dead = last[v] <= i;
                if dead {
                    live -= j.avals[v].size() * j.avals[v].dtype.size();
                }
                !dead
            });
        }
        peak
    }

    fn step_outputs(&self, step: &Step) -> Vec<usize> {
        match step {
            Step::Kernel { outputs, .. } => outputs.clone(),
            Step::Eager { eqn } => self.jaxpr.eqns[*eqn].outs.clone(),
        }
    }

    /// The last step reading each variable (`usize::MAX` for outputs).
    fn last_use(&self) -> Vec<usize> {
        let j = &self.jaxpr;
        let mut last = vec![0usize; j.avals.len()];
        for (i, step) in self.steps.iter().enumerate() {
            let reads: Vec<usize> = match step {
                Step::Kernel { inputs, .. } => inputs.clone(),
                Step::Eager { eqn } => j.eqns[*eqn]
                    .ins
                    .iter()
                    .filter_map(|a| match a {
                        Atom::Var(v) => Some(*v),
                        Atom::Lit(..) => None,
                    })
                    .collect(),
            };
            for v in reads {
                last[v] = i;
            }
        }
        for a in &j.outs {
            if let Atom::Var(v) = a {
                last[*v] = usize::MAX;
            }
        }
        last
    }

    /// Every fused kernel, in launch order.
    pub fn kernels(&self) -> Vec<&Kernel> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Kernel { kernel, .. } => Some(kernel),
                Step::Eager { .. } => None,
            })
            .collect()
    }

    /// The IR text of every fused kernel.
    pub fn kernels_text(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Kernel { kernel, .. } => Some(kernel.to_string()),
                Step::Eager { .. } => None,
            })
            .collect()
    }
}

/// Dead-code elimination: which equations feed an output.
fn live_eqns(j: &Jaxpr) -> Vec<bool> {
    let mut needed = vec![false; j.avals.len()];
    for a in &j.outs {
        if let Atom::Var(v) = a {
            needed[*v] = true;
        }
    }
    let mut live = vec![false; j.eqns.len()];
    for (i, e) in j.eqns.iter().enumerate().rev() {
        if e.prim.has_effects() || e.outs.iter().any(|&o| needed[o]) {
            live[i] = true;
            for a in &e.ins {
                if let Atom::Var(v) = a {
                    needed[*v] = true;
                }
            }
        }
    }
    live
}

/// Common-subexpression elimination and folding of scalar constants: an
/// equation equal to an earlier one reuses its result; one whose operands
/// are all literals and whose result is a scalar becomes a literal.
fn simplify(mut j: Jaxpr) -> Jaxpr {
    let mut subst: Vec<Option<Atom>> = vec![None; j.avals.len()];
    let mut seen: HashMap<String, usize> = HashMap::new();
    let rename = |a: &Atom, subst: &[Option<Atom>]| match a {
        Atom::Var(v) => subst[*v].clone().unwrap_or(a.clone()),
        lit => lit.clone(),
    };
    let mut eqns = Vec::with_capacity(j.eqns.len());
    for mut e in std::mem::take(&mut j.eqns) {
        e.ins = e.ins.iter().map(|a| rename(a, &subst)).collect();
        let opaque = matches!(
            e.prim,
            Prim::Custom(_) | Prim::Control(_) | Prim::Callback(_)
        );
        if !opaque && e.outs.len() == 1 {
            if e.ins.iter().all(|a| matches!(a, Atom::Lit(..)))
                && j.avals[e.outs[0]].shape.is_empty()
            {
                let args: Vec<Array> = e
                    .ins
                    .iter()
                    .map(|a| match a {
                        Atom::Lit(s, aval) => literal(*s, aval),
                        Atom::Var(_) => unreachable!(),
                    })
                    .collect();
                let refs: Vec<&Array> = args.iter().collect();
                if let Ok(mut r) = crate::trace::bind(e.prim.clone(), &refs)
                    && let Some(s) = r
                        .remove(0)
                        .concrete()
                        .and_then(|c| c.try_scalars().ok())
                        .map(|v| v[0])
                {
                    subst[e.outs[0]] = Some(Atom::Lit(s, j.avals[e.outs[0]].clone()));
                    continue;
                }
            }
            let key = format!("{} {:?}", e.prim, e.ins);
            if let Some(&v) = seen.get(&key) {
                subst[e.outs[0]] = Some(Atom::Var(v));
                continue;
            }
            seen.insert(key, e.outs[0]);
        }
        eqns.push(e);
    }
    j.eqns = eqns;
    j.outs = j.outs.iter().map(|a| rename(a, &subst)).collect();
    j
}

/// One plan of the program, materialising `force` as well.
fn plan<'a>(
    jaxpr: &'a Jaxpr,
    live: &'a [bool],
    max_inputs: usize,
    force: Vec<bool>,
) -> Planner<'a> {
    let mut planner = Planner::new(jaxpr, live, max_inputs, force);
    // Effects first, in program order (each after what it reads).
    for (i, e) in jaxpr.eqns.iter().enumerate() {
        if live[i] && e.prim.has_effects() {
            planner.materialise_eqn(i);
        }
    }
    // Outputs of one shape are attempted as one multi-output kernel.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for a in &jaxpr.outs {
        if let Atom::Var(v) = a {
            let shape = &jaxpr.avals[*v].shape;
            match groups
                .iter_mut()
                .find(|g| &jaxpr.avals[g[0]].shape == shape)
            {
                Some(g) if !g.contains(v) => g.push(*v),
                Some(_) => {}
                None => groups.push(vec![*v]),
            }
        }
    }
    for g in groups {
        planner.materialise_group(&g);
    }
    planner
}

/// How many times a program is planned at most: each plan after the first
/// also materialises what the cost model found recomputed in the one before.
const PLANS: usize = 4;

/// Plans the kernels of a jaxpr.
pub(crate) fn compile(jaxpr: Jaxpr, max_inputs: usize) -> Compiled {
    let jaxpr = fusion::split_long_reductions(simplify(jaxpr));
    let live = live_eqns(&jaxpr);
    let mut force = vec![false; jaxpr.avals.len()];
    let mut planner = plan(&jaxpr, &live, max_inputs, force.clone());
    for _ in 1..PLANS {
        let more = planner.recomputed();
        if more.is_empty() {
            break;
        }
        for v in more {
            force[v] = true;
        }
        planner = plan(&jaxpr, &live, max_inputs, force.clone());
    }
    let steps = std::mem::take(&mut planner.steps);
    let mut compiled = Compiled {
        jaxpr,
        steps,
        frees: Vec::new(),
    };
    let last = compiled.last_use();
    compiled.frees = vec![Vec::new(); compiled.steps.len()];
    for (v, &i) in last.iter().enumerate() {
        if i < compiled.steps.len() && !compiled.jaxpr.invars.contains(&v) {
            compiled.frees[i].push(v);
        }
    }
    match crate::debug::level() {
        0 => {}
        1 => eprintln!(
            "[oxjax] jit: {} equation(s) -> {} kernel(s)",
            compiled.jaxpr.eqns.len(),
            compiled.kernel_count()
        ),
        _ => {
            eprintln!(
                "[oxjax] jit: {}\n[oxjax] {} kernel(s)",
                compiled.jaxpr,
                compiled.kernel_count()
            );
            for k in compiled.kernels_text() {
                eprintln!("{k}");
            }
        }
    }
    compiled
}

impl Compiled {
    /// Runs the program on concrete arguments.
    pub(crate) fn run(&self, args: &[Array], device: &Device) -> Result<Vec<Array>> {
        let j = &self.jaxpr;
        let mut env: Vec<Option<Array>> = vec![None; j.avals.len()];
        for (&v, a) in j.invars.iter().zip(args) {
            env[v] = Some(a.clone());
        }
        for (v, a) in &j.constvars {
            env[*v] = Some(a.clone());
        }
        for (i, (step, frees)) in self.steps.iter().zip(&self.frees).enumerate() {
            // OXJAX_PROFILE: waits for the step, then records its time.
            let profiled = |start: std::time::Instant, bytes: u64| -> Result<()> {
                device.synchronize()?;
                crate::profile::record(
                    self as *const Compiled as usize,
                    i,
                    device.name(),
                    start.elapsed(),
                    bytes,
                    || crate::profile::origin(j, step),
                );
                Ok(())
            };
            match step {
                Step::Kernel {
                    kernel,
                    inputs,
                    outputs,
                } => {
                    let mut bufs = Vec::with_capacity(inputs.len());
                    for &v in inputs {
                        let a = env[v].as_ref().expect("kernel input computed");
                        let c = a.concrete().expect("jit runs on concrete arrays");
                        bufs.push(c.dense_buffer()?);
                    }
                    let outs = outputs
                        .iter()
                        .map(|&v| device.alloc(j.avals[v].size() * j.avals[v].dtype.size()))
                        .collect::<Result<Vec<_>>>()?;
                    let ins: Vec<BufferId> = bufs.iter().map(|b| b.id).collect();
                    let out_ids: Vec<BufferId> = outs.iter().map(|b| b.id).collect();
                    if kernel.size > 0 && crate::profile::enabled() {
                        // Compiled first and waited for, so the time is
                        // this kernel's run alone.
                        device.compile(kernel)?;
                        let start = std::time::Instant::now();
                        device.launch(kernel, &ins, &out_ids)?;
                        let bytes = inputs
                            .iter()
                            .chain(outputs)
                            .map(|&v| (j.avals[v].size() * j.avals[v].dtype.size()) as u64)
                            .sum();
                        profiled(start, bytes)?;
                    } else if kernel.size > 0 {
                        device.launch(kernel, &ins, &out_ids)?;
                    }
                    for (&v, buf) in outputs.iter().zip(outs) {
                        let aval = &j.avals[v];
                        env[v] = Some(
                            Concrete::from_dense(buf, &aval.shape, aval.dtype, device.clone())
                                .into(),
                        );
                    }
                }
                Step::Eager { eqn } => {
                    let e = &j.eqns[*eqn];
                    let ins: Vec<Array> = e
                        .ins
                        .iter()
                        .map(|a| match a {
                            Atom::Var(v) => env[*v].clone().expect("eager input computed"),
                            Atom::Lit(s, aval) => literal(*s, aval),
                        })
                        .collect();
                    let refs: Vec<&Array> = ins.iter().collect();
                    // Profiled like kernels (routines run here: softmax,
                    // sort, linalg...), the step waited for.
                    let start = crate::profile::enabled().then(std::time::Instant::now);
                    let outs = crate::trace::bind(e.prim.clone(), &refs)?;
                    if let Some(start) = start {
                        let bytes = ins
                            .iter()
                            .chain(&outs)
                            .map(|a| (a.size() * a.dtype().size()) as u64)
                            .sum();
                        profiled(start, bytes)?;
                    }
                    for (&v, o) in e.outs.iter().zip(outs) {
                        env[v] = Some(o);
                    }
                }
            }
            // Free intermediates after their last use.
            for &v in frees {
                env[v] = None;
            }
        }
        Ok(j.outs
            .iter()
            .map(|a| match a {
                Atom::Var(v) => env[*v].clone().expect("output computed"),
                Atom::Lit(s, aval) => literal(*s, aval),
            })
            .collect())
    }
}

/// A compiled program and the output structure it rebuilds.
struct Program<Y> {
    compiled: Arc<Compiled>,
    template: Y,
}

/// One cache slot: the signature and its program, compiled once (the slot
/// is filled outside the cache's lock, so one signature compiling does not
/// hold up calls of the others).
type Slot<Y> = (Vec<Aval>, Device, Arc<OnceLock<Program<Y>>>);

/// A jitted function as a value (what [`jit`] wraps): `f`, and a cache of
/// compiled programs keyed by the input signature (shapes, dtypes, weak
/// types, device; compared by equality, not by hash). `Send + Sync` when
/// `f` and the output tree are, so one `Jitted` model can serve a thread
/// pool: each signature is traced and planned once, whichever thread asks
/// first, and every thread runs the same program.
///
/// ```
/// use oxjax_core::{Array, Jitted};
/// let double = Jitted::new(|x: &Array| x * 2.0);
/// let x = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// std::thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| assert_eq!(double.call(&x).to_vec::<f32>(), vec![2.0, 4.0]));
///     }
/// });
/// assert_eq!(double.compilations(), 1);
/// ```
pub struct Jitted<F, X, Y> {
    f: F,
    cache: Mutex<Vec<Slot<Y>>>,
    compilations: AtomicUsize,
    _args: PhantomData<fn(&X)>,
}

impl<F: Fn(&X) -> Y, X: Tree, Y: Tree> Jitted<F, X, Y> {
    /// `f`, compiled on its first call for each input signature.
    pub fn new(f: F) -> Self {
        Jitted {
            f,
            cache: Mutex::new(Vec::new()),
            compilations: AtomicUsize::new(0),
            _args: PhantomData,
        }
    }

    /// Runs `f` compiled for `x`'s signature; panics with the message of a
    /// failure (see [`Jitted::try_call`]).
    pub fn call(&self, x: &X) -> Y {
        self.try_call(x).unwrap_or_else(|e| crate::error::raise(e))
    }

    /// Runs `f` compiled for `x`'s signature, returning the errors of
    /// running the program (a backend failure, a host callback that
    /// panicked or returned the wrong shapes) as `Err`.
    ///
    /// Under a transformation (a traced input) or while an outer trace is
    /// staging (`make_jaxpr`, another `jit`: even on concrete inputs) `f`
    /// is simply called, so its operations join the outer program, as a
    /// nested `jax.jit` stages into its caller's.
    pub fn try_call(&self, x: &X) -> Result<Y> {
        let leaves = x.leaves();
        if leaves.iter().any(Array::is_traced) || crate::trace::staging() {
            return Ok((self.f)(x));
        }
        let avals: Vec<Aval> = leaves.iter().map(Array::aval).collect();
        let device = leaves.first().map_or_else(default_device, Array::device);
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            match cache.iter().find(|e| e.0 == avals && e.1 == device) {
                Some(e) => e.2.clone(),
                None => {
                    let slot = Arc::new(OnceLock::new());
                    cache.push((avals.clone(), device.clone(), slot.clone()));
                    slot
                }
            }
        };
        let program = slot.get_or_init(|| self.compile(x, &avals, &device));
        // The program's literals and eager steps go to the inputs' device,
        // on any thread (the default device is per thread).
        let outs = crate::with_default_device(&device, || program.compiled.run(&leaves, &device))?;
        Ok(program.template.unflatten(outs))
    }

    /// How many programs have been compiled (one per input signature seen).
    pub fn compilations(&self) -> usize {
        self.compilations.load(Ordering::Relaxed)
    }

    fn compile(&self, x: &X, avals: &[Aval], device: &Device) -> Program<Y> {
        let template = RefCell::new(None);
        let jaxpr = crate::with_default_device(device, || {
            trace_to_jaxpr(avals, |ins| {
                let y = (self.f)(&x.unflatten(ins.to_vec()));
                let l = y.leaves();
                *template.borrow_mut() = Some(y);
                l
            })
        });
        let compiled = Arc::new(compile(jaxpr, device.info().caps.max_inputs as usize));
        self.compilations.fetch_add(1, Ordering::Relaxed);
        Program {
            compiled,
            template: template.into_inner().expect("f was called"),
        }
    }
}

/// Compiles `f` for each new input signature (shapes, dtypes, weak types,
/// device) and runs the compiled program; eager stays the default
/// elsewhere. The result is a cheap-to-clone function over one shared
/// [`Jitted`], `Send + Sync` when `f` is, so it can be called from many
/// threads and compiles each signature once.
pub fn jit<X: Tree, Y: Tree>(f: impl Fn(&X) -> Y) -> impl Fn(&X) -> Y + Clone {
    let j = Arc::new(Jitted::new(f));
    move |x: &X| j.call(x)
}

/// [`jit`] returning the errors of running the program (a backend failure,
/// a host callback that panicked or returned the wrong shapes) as `Err`.
pub fn try_jit<X: Tree, Y: Tree>(f: impl Fn(&X) -> Y) -> impl Fn(&X) -> Result<Y> + Clone {
    let j = Arc::new(Jitted::new(f));
    move |x: &X| j.try_call(x)
}

/// The compiled program `jit(f)` would run for these inputs (for tests and
/// inspection: its jaxpr, kernel count and kernels).
pub fn lower<X: Tree, Y: Tree>(f: impl Fn(&X) -> Y, x: &X) -> Compiled {
    let avals: Vec<Aval> = x.leaves().iter().map(Array::aval).collect();
    let max_inputs = default_device().info().caps.max_inputs as usize;
    let jaxpr = trace_to_jaxpr(&avals, |ins| f(&x.unflatten(ins.to_vec())).leaves());
    compile(jaxpr, max_inputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Axes, Registry, with_default_device};

    /// A backend that binds at most two inputs per kernel still runs
    /// every program: fusion splits where the limit would be exceeded.
    #[test]
    fn kernels_respect_the_input_limit() {
        let reg = Registry::embedded();
        with_default_device(&reg.default_device(), || {
            let xs: Vec<Array> = (0..5)
                .map(|i| Array::from_vec(vec![i as f32, 1.0, 2.0], &[3]))
                .collect();
            let f = |v: &Vec<Array>| {
                (&(&v[0] * &v[1]) + &(&v[2] - &v[3]).exp()).sum(Axes::All, false)
                    + v[4].max(Axes::All, false)
            };
            let avals: Vec<Aval> = xs.iter().map(Array::aval).collect();
            let program = compile(trace_to_jaxpr(&avals, |ins| vec![f(&ins.to_vec())]), 2);
            for step in &program.steps {
                if let Step::Kernel { kernel, .. } = step {
                    assert!(kernel.inputs.len() <= 2, "{kernel}");
                }
            }
            assert!(program.kernel_count() > 1);
            let got = program
                .run(&xs, &default_device())
                .unwrap()
                .remove(0)
                .to_vec::<f32>();
            assert_eq!(got, f(&xs).to_vec::<f32>());
        });
    }
}
