//! The public transformations: `jvp`, `linearize`, `vjp`, `grad`,
//! `value_and_grad`, `vmap`, `jacfwd`, `jacrev`, `hessian`, `make_jaxpr`.
//! Each takes and returns pytrees ([`Tree`]) and composes with the others in
//! any order, because each is a trace on the shared stack.

use crate::eager::or_panic;
use crate::error::{Error, ErrorKind, Result};
use crate::trace::bind1;
use crate::trace::custom::{Bwd, Custom, CustomRef, Flat, Fwd, JvpRule};
use crate::trace::jaxpr::{Jaxpr, trace_to_jaxpr};
use crate::trace::jvp::{check_differentiable, jvp_flat};
use crate::trace::prim::Prim;
use crate::trace::vjp::{Linear, linearize_flat};
use crate::trace::vmap::vmap_flat;
use crate::tree::{Args, Nth, Tree};
use crate::{Array, DType};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

/// Calls `f` on leaves, recording its output tree as a template.
fn flat<X: Tree, Y: Tree>(
    f: &impl Fn(&X) -> Y,
    x: &X,
    out: &RefCell<Option<Y>>,
) -> impl Fn(&[Array]) -> Vec<Array> {
    move |leaves: &[Array]| {
        let y = f(&x.unflatten(leaves.to_vec()));
        let l = y.leaves();
        *out.borrow_mut() = Some(y);
        l
    }
}

fn check_inputs(what: &str, leaves: &[Array]) -> Result<()> {
    leaves
        .iter()
        .try_for_each(|l| check_differentiable(what, l))
}

/// Forward mode: `f(primals)` and the directional derivative along `tangents`.
pub fn jvp<X: Tree, Y: Tree>(f: impl Fn(&X) -> Y, primals: &X, tangents: &X) -> (Y, Y) {
    let (p, t) = (primals.leaves(), tangents.leaves());
    or_panic(check_inputs("jvp", &p));
    for (a, b) in p.iter().zip(&t) {
        if a.shape() != b.shape() || a.dtype() != b.dtype() {
            crate::error::fail(
                crate::ErrorKind::Value,
                format!(
                    "jvp: tangent {} does not match primal {}",
                    b.aval(),
                    a.aval()
                ),
            );
        }
    }
    let template = RefCell::new(None);
    let (outs, touts) = jvp_flat(flat(&f, primals, &template), &p, &t);
    let y = template.into_inner().expect("f was called");
    let touts: Vec<Array> = touts
        .into_iter()
        .zip(&outs)
        .map(|(t, o)| t.unwrap_or_else(|| o.zeros_like()))
        .collect();
    (y.unflatten(outs), y.unflatten(touts))
}

/// `f(primals)` and its linear map (the JVP at `primals`), evaluated once.
pub fn linearize<X: Tree, Y: Tree>(f: impl Fn(&X) -> Y, primals: &X) -> (Y, impl Fn(&X) -> Y) {
    let (y, lin) = linearize_tree("linearize", &f, primals);
    let template = y.unflatten(y.leaves());
    (y, move |t: &X| template.unflatten(lin.apply(&t.leaves())))
}

fn linearize_tree<X: Tree, Y: Tree>(what: &str, f: &impl Fn(&X) -> Y, primals: &X) -> (Y, Linear) {
    let p = primals.leaves();
    or_panic(check_inputs(what, &p));
    let template = RefCell::new(None);
    let (outs, lin) = linearize_flat(flat(f, primals, &template), &p);
    let y = template.into_inner().expect("f was called");
    (y.unflatten(outs), lin)
}

/// Reverse mode: `f(primals)` and the pullback of output cotangents.
pub fn vjp<X: Tree, Y: Tree>(f: impl Fn(&X) -> Y, primals: &X) -> (Y, impl Fn(&Y) -> X) {
    let (y, lin) = linearize_tree("vjp", &f, primals);
    let x = primals.unflatten(primals.leaves());
    (y, move |ct: &Y| x.unflatten(lin.transpose(&ct.leaves())))
}

fn scalar_output(what: &str, y: &Array) -> Result<()> {
    if !y.shape().is_empty() {
        return Err(Error::new(
            ErrorKind::Shape,
            format!(
                "{what}: the function must return a scalar (shape []), got shape {:?}; \
             use vjp or jacrev for non-scalar outputs",
                y.shape()
            ),
        ));
    }
    if !y.dtype().is_float() {
        return Err(Error::new(
            ErrorKind::DType,
            format!(
                "{what}: the function must return a float scalar, got {}",
                y.dtype()
            ),
        ));
    }
    Ok(())
}

/// The value and gradient of a scalar function of a tree.
pub fn value_and_grad<X: Tree>(f: impl Fn(&X) -> Array) -> impl Fn(&X) -> (Array, X) {
    move |x: &X| {
        let (y, lin) = linearize_tree("grad", &f, x);
        or_panic(scalar_output("grad", &y));
        let g = lin.transpose(&[y.ones_like()]);
        (y, x.unflatten(g))
    }
}

/// The gradient of a scalar function of a tree (`jax.grad`).
pub fn grad<X: Tree>(f: impl Fn(&X) -> Array) -> impl Fn(&X) -> X {
    let vg = value_and_grad(f);
    move |x: &X| vg(x).1
}

/// The gradient with respect to the first argument of a two-argument
/// function (`jax.grad` with `argnums=0`): `grad_with(loss)(&params, &batch)`.
pub fn grad_with<X: Tree, A>(f: impl Fn(&X, &A) -> Array) -> impl Fn(&X, &A) -> X {
    move |x: &X, a: &A| grad(|x: &X| f(x, a))(x)
}

/// Value and gradient with respect to the first argument.
pub fn value_and_grad_with<X: Tree, A>(
    f: impl Fn(&X, &A) -> Array,
) -> impl Fn(&X, &A) -> (Array, X) {
    move |x: &X, a: &A| value_and_grad(|x: &X| f(x, a))(x)
}

/// Which arguments [`grad_argnums`] differentiates: one [`Argnum`] (the
/// gradient is that argument's type, as JAX's `argnums=0`) or a tuple of
/// them (a tuple of gradients in the order given, as `argnums=(0, 2)`).
/// Write them with [`argnums!`](crate::argnums): `argnums![1]`, `argnums![0, 2]`.
pub trait Argnums<X> {
    /// The gradients' type.
    type Grads: Tree;
    /// The chosen positions, in order.
    fn positions(&self) -> Vec<usize>;
    /// A value of the gradients' structure (the chosen arguments of `x`).
    fn template(&self, x: &X) -> Self::Grads;
}

/// Argument number `I` of a function of a tuple of arguments.
#[derive(Clone, Copy, Debug, Default)]
pub struct Argnum<const I: usize>;

/// The argument itself, rebuilt from its leaves (trees need not be `Clone`).
fn copy_of<T: Tree>(x: &T) -> T {
    x.unflatten(x.leaves())
}

impl<X: Nth<I>, const I: usize> Argnums<X> for Argnum<I> {
    type Grads = <X as Nth<I>>::Arg;
    fn positions(&self) -> Vec<usize> {
        vec![I]
    }
    fn template(&self, x: &X) -> Self::Grads {
        copy_of(<X as Nth<I>>::nth(x))
    }
}

macro_rules! argnums_tuple {
    ($($c:ident)*) => {
        impl<X: $(Nth<$c> +)* Args, $(const $c: usize),*> Argnums<X> for ($(Argnum<$c>,)*) {
            type Grads = ($(<X as Nth<$c>>::Arg,)*);
            fn positions(&self) -> Vec<usize> {
                vec![$($c),*]
            }
            fn template(&self, x: &X) -> Self::Grads {
                ($(copy_of(<X as Nth<$c>>::nth(x)),)*)
            }
        }
    };
}
argnums_tuple!(I);
argnums_tuple!(I J);
argnums_tuple!(I J K);
argnums_tuple!(I J K L);

/// `argnums![0, 2]`: the arguments [`grad_argnums`] differentiates, as
/// JAX's `argnums` (`argnums![1]` is one argument, its gradient unwrapped).
#[macro_export]
macro_rules! argnums {
    ($i:literal) => {
        $crate::Argnum::<$i>
    };
    ($($i:literal),+ $(,)?) => {
        ($($crate::Argnum::<$i>,)+)
    };
}

/// The value and gradient of a scalar function of several arguments (a
/// tuple of pytrees) with respect to the arguments `argnums` picks (JAX's
/// `value_and_grad(f, argnums=...)`); the other arguments are constants,
/// so they may be integer arrays (labels, indices).
pub fn value_and_grad_argnums<X: Args, N: Argnums<X>>(
    f: impl Fn(&X) -> Array,
    argnums: N,
) -> impl Fn(&X) -> (Array, N::Grads) {
    move |x: &X| {
        let counts = x.arg_leaf_counts();
        let starts: Vec<usize> = counts
            .iter()
            .scan(0, |s, &c| {
                *s += c;
                Some(*s - c)
            })
            .collect();
        let range = |a: usize| starts[a]..starts[a] + counts[a];
        let pos = argnums.positions();
        let mut wrt: Vec<usize> = pos.clone();
        wrt.sort_unstable();
        wrt.dedup();
        let leaves = x.leaves();
        let chosen: Vec<Array> = wrt
            .iter()
            .flat_map(|&a| leaves[range(a)].to_vec())
            .collect();
        let (y, g) = value_and_grad(|w: &Vec<Array>| {
            let mut all = leaves.clone();
            let mut w = w.iter();
            for &a in &wrt {
                for slot in &mut all[range(a)] {
                    *slot = w.next().expect("one leaf per chosen slot").clone();
                }
            }
            f(&x.unflatten(all))
        })(&chosen);
        // The gradient leaves of each chosen argument, in `pos` order.
        let mut by_arg = vec![Vec::new(); counts.len()];
        let mut g = g.into_iter();
        for &a in &wrt {
            by_arg[a] = g.by_ref().take(counts[a]).collect();
        }
        let out: Vec<Array> = pos.iter().flat_map(|&a| by_arg[a].clone()).collect();
        (y, argnums.template(x).unflatten(out))
    }
}

/// The gradient of a scalar function of several arguments with respect to
/// those `argnums` picks (`jax.grad(f, argnums=...)`).
///
/// ```
/// use oxjax_core::{Array, Axes, argnums, grad_argnums};
/// let loss = |(w, x, labels): &(Array, Array, Array)| {
///     ((x * w).sum(-1, false) - labels.astype(oxjax_core::DType::F32)).square().sum(Axes::All, false)
/// };
/// let args = (Array::ones(&[3], oxjax_core::DType::F32), Array::ones(&[2, 3], oxjax_core::DType::F32),
///             Array::from_vec(vec![1i32, 2], &[2]));
/// let dw: Array = grad_argnums(loss, argnums![0])(&args);          // JAX's argnums=0
/// let (dw2, dx) = grad_argnums(loss, argnums![0, 1])(&args);      // argnums=(0, 1)
/// assert_eq!((dw.shape(), dx.shape()), (&[3][..], &[2, 3][..]));
/// assert_eq!(dw.to_vec::<f32>(), dw2.to_vec::<f32>());
/// ```
pub fn grad_argnums<X: Args, N: Argnums<X>>(
    f: impl Fn(&X) -> Array,
    argnums: N,
) -> impl Fn(&X) -> N::Grads {
    let vg = value_and_grad_argnums(f, argnums);
    move |x: &X| vg(x).1
}

/// The gradient of a function returning `(scalar, aux)` (`has_aux=True`).
pub fn grad_has_aux<X: Tree, Aux: Tree>(f: impl Fn(&X) -> (Array, Aux)) -> impl Fn(&X) -> (X, Aux) {
    move |x: &X| {
        let ((y, aux), pull) = vjp(&f, x);
        or_panic(scalar_output("grad", &y));
        let ct = (y.ones_like(), aux.map(|a| a.zeros_like()));
        (pull(&ct), aux)
    }
}

/// Maps `f` over axis 0 of every input leaf and stacks outputs on axis 0.
pub fn vmap<X: Tree, Y: Tree>(f: impl Fn(&X) -> Y) -> impl Fn(&X) -> Y {
    vmap_in_axes(f, 0, 0)
}

/// `vmap` with an axis per input leaf (`None`: not mapped, broadcast) and
/// per output leaf (`None`: the output must not depend on mapped inputs).
/// [`vmap_in_axes`] takes the JAX form (one axis per argument, a prefix tree).
pub fn vmap_axes<X: Tree, Y: Tree>(
    f: impl Fn(&X) -> Y,
    in_axes: Vec<Option<usize>>,
    out_axes: Vec<Option<usize>>,
) -> impl Fn(&X) -> Y {
    let signed = |v: &[Option<usize>]| -> Vec<Option<isize>> {
        v.iter().map(|a| a.map(|a| a as isize)).collect()
    };
    let (ins, outs) = (signed(&in_axes), signed(&out_axes));
    move |x: &X| or_panic(vmap_impl(&f, x, &ins, &|_: &Y| Ok(outs.clone())))
}

/// Which axis `vmap` maps, for a whole subtree or each of its children
/// (JAX's `in_axes`/`out_axes`): `0`, `-1` (counted from the end of each
/// leaf), `None` (not mapped: broadcast in, unbatched out), or a tuple
/// matching the children of a tuple / fields of a struct / items of a
/// `Vec` in order, whose entries may themselves be trees. A spec is a
/// *prefix* of the value's tree: an entry stands for every leaf below it.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisSpec {
    /// The mapped axis of every leaf below (negative: from the end).
    Axis(isize),
    /// Not mapped.
    None,
    /// One spec per child, in order.
    Each(Vec<AxisSpec>),
}

impl From<i32> for AxisSpec {
    fn from(a: i32) -> Self {
        AxisSpec::Axis(a as isize)
    }
}

impl From<isize> for AxisSpec {
    fn from(a: isize) -> Self {
        AxisSpec::Axis(a)
    }
}

impl From<usize> for AxisSpec {
    fn from(a: usize) -> Self {
        AxisSpec::Axis(a as isize)
    }
}

impl From<Option<i32>> for AxisSpec {
    fn from(a: Option<i32>) -> Self {
        a.map_or(AxisSpec::None, AxisSpec::from)
    }
}

impl From<Vec<AxisSpec>> for AxisSpec {
    fn from(v: Vec<AxisSpec>) -> Self {
        AxisSpec::Each(v)
    }
}

macro_rules! axis_spec_tuple {
    ($($name:ident $idx:tt),*) => {
        impl<$($name: Into<AxisSpec>),*> From<($($name,)*)> for AxisSpec {
            fn from(t: ($($name,)*)) -> Self {
                AxisSpec::Each(vec![$(t.$idx.into()),*])
            }
        }
    };
}
axis_spec_tuple!(A 0);
axis_spec_tuple!(A 0, B 1);
axis_spec_tuple!(A 0, B 1, C 2);
axis_spec_tuple!(A 0, B 1, C 2, D 3);
axis_spec_tuple!(A 0, B 1, C 2, D 3, E 4);

impl AxisSpec {
    /// The axis of each leaf of `tree` (still possibly negative).
    fn per_leaf<T: Tree>(&self, what: &str, tree: &T) -> Result<Vec<Option<isize>>> {
        match self {
            AxisSpec::Axis(a) => return Ok(vec![Some(*a); tree.leaves().len()]),
            AxisSpec::None => return Ok(vec![None; tree.leaves().len()]),
            AxisSpec::Each(_) => {}
        }
        let paths: Vec<Vec<String>> = tree
            .leaf_paths()
            .iter()
            .map(|p| {
                p.split('.')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .collect();
        let mut out = Vec::with_capacity(paths.len());
        let refs: Vec<&[String]> = paths.iter().map(|p| p.as_slice()).collect();
        self.assign(what, &refs, &mut out)?;
        Ok(out)
    }

    /// Assigns axes to leaves given by their paths below this spec's node.
    fn assign(&self, what: &str, paths: &[&[String]], out: &mut Vec<Option<isize>>) -> Result<()> {
        let children = match self {
            AxisSpec::Axis(a) => {
                out.extend(std::iter::repeat_n(Some(*a), paths.len()));
                return Ok(());
            }
            AxisSpec::None => {
                out.extend(std::iter::repeat_n(None, paths.len()));
                return Ok(());
            }
            AxisSpec::Each(c) => c,
        };
        // Group consecutive leaves by their first path component.
        let mut groups: Vec<(&str, Vec<&[String]>)> = Vec::new();
        for p in paths {
            let Some((head, rest)) = p.split_first() else {
                return Err(Error::new(
                    ErrorKind::Value,
                    format!(
                        "vmap: {what} has a tuple of {} entries where the value is a single array",
                        children.len()
                    ),
                ));
            };
            match groups.last_mut() {
                Some((h, g)) if *h == head.as_str() => g.push(rest),
                _ => groups.push((head, vec![rest])),
            }
        }
        if groups.len() != children.len() {
            return Err(Error::new(
                ErrorKind::Value,
                format!(
                    "vmap: {what} has {} entries for a value with {} children ({})",
                    children.len(),
                    groups.len(),
                    groups.iter().map(|g| g.0).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        for ((_, g), spec) in groups.iter().zip(children) {
            spec.assign(what, g, out)?;
        }
        Ok(())
    }
}

/// `vmap` as JAX spells it: `in_axes` a prefix tree of the argument (for a
/// function of several arguments, a tuple with one entry per argument:
/// `vmap_in_axes(f, (0, None), 0)` maps the first and broadcasts the
/// second), `out_axes` a prefix tree of the result; negative axes count
/// from the end of each leaf (`-1`: the last axis).
///
/// ```
/// use oxjax_core::{Array, vmap_in_axes};
/// let m = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
/// let v = Array::from_vec(vec![1.0f32, 0.0, -1.0], &[3]);
/// // Rows of `m` against the one `v`: in_axes = (0, None).
/// let dots = vmap_in_axes(|(r, v): &(Array, Array)| r.dot(v), (0, None), 0)(&(m.clone(), v));
/// assert_eq!(dots.to_vec::<f32>(), vec![-2.0, -2.0]);
/// // Columns: in_axes = -1 maps the last axis.
/// let sums = vmap_in_axes(|c: &Array| c.sum(oxjax_core::Axes::All, false), -1, 0)(&m);
/// assert_eq!(sums.to_vec::<f32>(), vec![5.0, 7.0, 9.0]);
/// ```
pub fn vmap_in_axes<X: Tree, Y: Tree>(
    f: impl Fn(&X) -> Y,
    in_axes: impl Into<AxisSpec>,
    out_axes: impl Into<AxisSpec>,
) -> impl Fn(&X) -> Y {
    let (ins, outs) = (in_axes.into(), out_axes.into());
    move |x: &X| {
        or_panic(
            ins.per_leaf("in_axes", x)
                .and_then(|axes| vmap_impl(&f, x, &axes, &|y: &Y| outs.per_leaf("out_axes", y))),
        )
    }
}

fn vmap_impl<X: Tree, Y: Tree>(
    f: &impl Fn(&X) -> Y,
    x: &X,
    in_axes: &[Option<isize>],
    out_axes: &dyn Fn(&Y) -> Result<Vec<Option<isize>>>,
) -> Result<Y> {
    let template = RefCell::new(None);
    let outs = vmap_flat(
        flat(f, x, &template),
        &x.leaves(),
        in_axes,
        Some(&|| out_axes(template.borrow().as_ref().expect("f was called"))),
    )?;
    Ok(template.into_inner().expect("f was called").unflatten(outs))
}

/// The Jacobian by forward mode: shape `out.shape + x.shape`.
pub fn jacfwd(f: impl Fn(&Array) -> Array) -> impl Fn(&Array) -> Array {
    move |x: &Array| {
        or_panic(check_differentiable("jacfwd", x));
        let n = x.size();
        let mut basis_shape = vec![n];
        basis_shape.extend_from_slice(x.shape());
        let basis = Array::eye(n, n, 0, x.dtype()).reshape(&to_isize(&basis_shape));
        let cols = vmap(|e: &Array| jvp(&f, x, e).1)(&basis);
        // cols: [n, out...] -> [out..., x...]
        let out_rank = cols.ndim() - 1;
        let moved = if out_rank == 0 {
            cols
        } else {
            cols.moveaxis(0, -1)
        };
        let mut shape = moved.shape()[..out_rank].to_vec();
        shape.extend_from_slice(x.shape());
        moved.reshape(&to_isize(&shape))
    }
}

/// The Jacobian by reverse mode: shape `out.shape + x.shape`.
pub fn jacrev(f: impl Fn(&Array) -> Array) -> impl Fn(&Array) -> Array {
    move |x: &Array| {
        let (y, pull) = vjp(&f, x);
        let m = y.size();
        let mut basis_shape = vec![m];
        basis_shape.extend_from_slice(y.shape());
        let dtype = if y.dtype().is_float() {
            y.dtype()
        } else {
            DType::F32
        };
        let basis = Array::eye(m, m, 0, dtype).reshape(&to_isize(&basis_shape));
        let rows = vmap(|c: &Array| pull(c))(&basis);
        let mut shape = y.shape().to_vec();
        shape.extend_from_slice(x.shape());
        rows.reshape(&to_isize(&shape))
    }
}

/// The Hessian of a scalar function: `jacfwd(jacrev(f))`.
pub fn hessian(f: impl Fn(&Array) -> Array) -> impl Fn(&Array) -> Array {
    jacfwd(jacrev(f))
}

/// Traces `f` with abstract values of the example inputs' shapes and dtypes.
pub fn make_jaxpr<X: Tree, Y: Tree>(f: impl Fn(&X) -> Y) -> impl Fn(&X) -> Jaxpr {
    move |x: &X| {
        let avals: Vec<_> = x.leaves().iter().map(|l| l.aval()).collect();
        trace_to_jaxpr(&avals, |ins| f(&x.unflatten(ins.to_vec())).leaves())
    }
}

fn to_isize(s: &[usize]) -> Vec<isize> {
    s.iter().map(|&d| d as isize).collect()
}

/// A function with a user-written JVP rule (`jax.custom_jvp`): `rule(x, t)`
/// returns `(f(x), J t)`. Transformations use the rule instead of
/// differentiating `f`'s body (e.g. for numerical stability).
pub fn custom_jvp<X: Tree + Send + Sync + 'static>(
    name: &str,
    f: impl Fn(&X) -> Array + Send + Sync + 'static,
    rule: impl Fn(&X, &X) -> (Array, Array) + Send + Sync + 'static,
) -> impl Fn(&X) -> Array {
    let (f, rule) = (Arc::new(f), Arc::new(rule));
    let name = name.to_string();
    move |x: &X| {
        let tmpl = Arc::new(x.unflatten(x.leaves()));
        let (t1, t2, t3, f, rule) = (tmpl.clone(), tmpl.clone(), tmpl, f.clone(), rule.clone());
        let flat_f: Flat = Arc::new(move |a: &[Array]| f(&t1.unflatten(a.to_vec())));
        let flat_rule: JvpRule = Arc::new(move |a: &[Array], t: &[Array]| {
            rule(&t2.unflatten(a.to_vec()), &t3.unflatten(t.to_vec()))
        });
        let c = Custom::Jvp {
            name: name.clone(),
            f: flat_f,
            rule: flat_rule,
        };
        let leaves = x.leaves();
        let refs: Vec<&Array> = leaves.iter().collect();
        bind1(Prim::Custom(CustomRef(Arc::new(c))), &refs)
    }
}

/// A function with a user-written VJP (`jax.custom_vjp`): `fwd(x)` returns
/// `(f(x), residuals)`, `bwd(residuals, ct)` the cotangent of `x`. Reverse
/// mode uses them; forward mode is refused, as in JAX.
pub fn custom_vjp<X: Tree + Send + Sync + 'static, R: Tree + Send + 'static>(
    name: &str,
    f: impl Fn(&X) -> Array + Send + Sync + 'static,
    fwd: impl Fn(&X) -> (Array, R) + Send + Sync + 'static,
    bwd: impl Fn(&R, &Array) -> X + Send + Sync + 'static,
) -> impl Fn(&X) -> Array {
    let (f, fwd, bwd) = (Arc::new(f), Arc::new(fwd), Arc::new(bwd));
    let name = name.to_string();
    move |x: &X| {
        let tmpl = Arc::new(x.unflatten(x.leaves()));
        let res_tmpl: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
        let (t1, t2) = (tmpl.clone(), tmpl.clone());
        let (f, fwd, bwd, r1, r2) = (
            f.clone(),
            fwd.clone(),
            bwd.clone(),
            res_tmpl.clone(),
            res_tmpl,
        );
        let flat_f: Flat = Arc::new(move |a: &[Array]| f(&t1.unflatten(a.to_vec())));
        let flat_fwd: Fwd = Arc::new(move |a: &[Array]| {
            let (y, r) = fwd(&t2.unflatten(a.to_vec()));
            let leaves = r.leaves();
            *r1.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            (y, leaves)
        });
        let flat_bwd: Bwd = Arc::new(move |res: &[Array], ct: &Array| {
            let r = r2
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .expect("fwd ran before bwd")
                .unflatten(res.to_vec());
            bwd(&r, ct).leaves()
        });
        let c = Custom::Vjp {
            name: name.clone(),
            f: flat_f,
            fwd: flat_fwd,
            bwd: flat_bwd,
            remat: false,
        };
        let leaves = x.leaves();
        let refs: Vec<&Array> = leaves.iter().collect();
        bind1(Prim::Custom(CustomRef(Arc::new(c))), &refs)
    }
}

/// Rematerialisation (`jax.checkpoint`): reverse mode keeps only `f`'s
/// inputs and recomputes its intermediates in the backward pass, trading
/// compute for memory. Forward mode works as for `f` itself.
pub fn checkpoint<X: Tree + Send + Sync + 'static>(
    f: impl Fn(&X) -> Array + Send + Sync + 'static,
) -> impl Fn(&X) -> Array {
    let f = Arc::new(f);
    move |x: &X| {
        let tmpl = Arc::new(x.unflatten(x.leaves()));
        let (t1, t2) = (tmpl.clone(), tmpl);
        let (f1, f2) = (f.clone(), f.clone());
        let flat_f: Flat = Arc::new(move |a: &[Array]| f1(&t1.unflatten(a.to_vec())));
        let ff = flat_f.clone();
        let flat_fwd: Fwd = Arc::new(move |a: &[Array]| (ff(a), a.to_vec()));
        let flat_bwd: Bwd = Arc::new(move |res: &[Array], ct: &Array| {
            let x = t2.unflatten(res.to_vec());
            let (_, pull) = vjp(|x: &X| f2(x), &x);
            pull(ct).leaves()
        });
        let c = Custom::Vjp {
            name: "checkpoint".into(),
            f: flat_f,
            fwd: flat_fwd,
            bwd: flat_bwd,
            remat: true,
        };
        let leaves = x.leaves();
        let refs: Vec<&Array> = leaves.iter().collect();
        bind1(Prim::Custom(CustomRef(Arc::new(c))), &refs)
    }
}
