//! `oxjax::optim`: optax-style optimizers over pytrees.
//!
//! An optimizer is a [`GradientTransformation`]: `init(&params)` makes its
//! state, `update(&grads, &state, &params)` turns gradients into updates
//! and a new state, and [`apply_updates`] adds the updates to the
//! parameters. Everything is a pure function of arrays, and states are
//! pytrees ([`Tree`]), so a whole training step — loss, gradients, update —
//! goes through [`jit`](crate::jit) with the state as input and output.
//! Transformations compose by [`chain`] (tuples of transformations are
//! transformations); the usual optimizers ([`sgd`], [`momentum`], [`adam`],
//! [`adamw`], [`rmsprop`]) are such chains, with optax's formulas and
//! defaults, and any learning rate may be a [`Schedule`].
//!
//! ```
//! use oxjax::{optim::{self, GradientTransformation}, Array, Axes, grad};
//!
//! let loss = |x: &Array| ((x - 3.0) * (x - 3.0)).sum(Axes::All, false);
//! let opt = optim::adam(0.1);
//! let mut x = Array::from_vec(vec![0.0f32, 10.0], &[2]);
//! let mut state = opt.init(&x);
//! for _ in 0..300 {
//!     let (updates, s) = opt.update(&grad(loss)(&x), &state, &x);
//!     (x, state) = (optim::apply_updates(&x, &updates), s);
//! }
//! assert!(x.to_vec::<f32>().iter().all(|v| (v - 3.0).abs() < 1e-2));
//! ```

mod schedule;
mod transform;

pub use schedule::{
    Schedule, constant, cosine_decay, exponential_decay, linear, piecewise_constant,
    warmup_cosine_decay,
};
pub use transform::{
    AdamState, AddDecayedWeights, Clip, ClipByGlobalNorm, Scale, ScaleByAdam, ScaleByRms,
    ScaleBySchedule, Trace, scale_by_learning_rate,
};

use crate::{Array, Axes, DType, Tree};

/// Gradients in, updates out, with a state carried between steps (optax's
/// `GradientTransformation`). Implementors work on the flat list of leaves;
/// [`init`](Self::init) and [`update`](Self::update) take any pytree.
pub trait GradientTransformation {
    /// What the transformation carries between steps (a pytree, so it can
    /// cross a `jit` boundary).
    type State: Tree + Clone;

    /// The initial state for parameters with these leaves.
    fn init_leaves(&self, params: &[Array]) -> Self::State;

    /// Transforms `updates` (one per parameter leaf, in order).
    fn update_leaves(
        &self,
        updates: Vec<Array>,
        state: &Self::State,
        params: &[Array],
    ) -> (Vec<Array>, Self::State);

    /// The initial state for `params`.
    fn init<P: Tree>(&self, params: &P) -> Self::State {
        self.init_leaves(&params.leaves())
    }

    /// Updates (of the same structure as `grads`) and the next state.
    fn update<P: Tree>(&self, grads: &P, state: &Self::State, params: &P) -> (P, Self::State) {
        let (u, s) = self.update_leaves(grads.leaves(), state, &params.leaves());
        (grads.unflatten(u), s)
    }
}

macro_rules! chain_tuple {
    ($($t:ident $i:tt),+) => {
        /// Applies the transformations in order; the state is the tuple of
        /// their states.
        impl<$($t: GradientTransformation),+> GradientTransformation for ($($t,)+) {
            type State = ($($t::State,)+);
            fn init_leaves(&self, params: &[Array]) -> Self::State {
                ($(self.$i.init_leaves(params),)+)
            }
            fn update_leaves(
                &self,
                updates: Vec<Array>,
                state: &Self::State,
                params: &[Array],
            ) -> (Vec<Array>, Self::State) {
                $(let (updates, $t) = self.$i.update_leaves(updates, &state.$i, params);)+
                (updates, ($($t,)+))
            }
        }
    };
}

#[allow(non_snake_case)]
mod chains {
    use super::*;
    chain_tuple!(A 0);
    chain_tuple!(A 0, B 1);
    chain_tuple!(A 0, B 1, C 2);
    chain_tuple!(A 0, B 1, C 2, D 3);
    chain_tuple!(A 0, B 1, C 2, D 3, E 4);
}

/// Composes transformations given as a tuple, applied left to right
/// (`optax.chain`); tuples of up to five are transformations themselves,
/// so this only names the intent.
///
/// ```
/// use oxjax::optim::{self, ClipByGlobalNorm, GradientTransformation};
/// let opt = optim::chain((ClipByGlobalNorm(1.0), optim::adam(1e-3)));
/// let p = oxjax::Array::zeros(&[3], oxjax::DType::F32);
/// let _state = opt.init(&p);
/// ```
pub fn chain<T: GradientTransformation>(transforms: T) -> T {
    transforms
}

/// `params + updates`, leaf by leaf, keeping each parameter's dtype
/// (`optax.apply_updates`).
///
/// ```
/// use oxjax::{optim, Array};
/// let p = Array::from_vec(vec![1.0f32, 2.0], &[2]);
/// let u = Array::from_vec(vec![0.5f32, -1.0], &[2]);
/// assert_eq!(optim::apply_updates(&p, &u).to_vec::<f32>(), [1.5, 1.0]);
/// ```
pub fn apply_updates<P: Tree>(params: &P, updates: &P) -> P {
    let (p, u) = (params.leaves(), updates.leaves());
    assert_eq!(
        p.len(),
        u.len(),
        "apply_updates: {} updates for {} parameters",
        u.len(),
        p.len()
    );
    params.unflatten(
        p.iter()
            .zip(&u)
            .map(|(p, u)| (p + u).astype(p.dtype()))
            .collect(),
    )
}

/// The L2 norm of all leaves together, as an f32 (or wider) scalar
/// (`optax.global_norm`).
///
/// ```
/// use oxjax::{optim, Array};
/// let t = (Array::from_vec(vec![3.0f32], &[1]), Array::from_vec(vec![4.0f32], &[1]));
/// assert_eq!(optim::global_norm(&t.leaves()).item::<f32>(), 5.0);
/// # use oxjax::Tree;
/// ```
pub fn global_norm(leaves: &[Array]) -> Array {
    leaves
        .iter()
        .map(|x| (x * x).sum(Axes::All, false))
        .fold(Array::zeros(&[], DType::F32), |acc, s| acc + s)
        .sqrt()
}

/// Stochastic gradient descent: `-learning_rate · g` (`optax.sgd`).
pub type Sgd = ScaleBySchedule;
/// SGD with (Nesterov) momentum.
pub type Momentum = (Trace, ScaleBySchedule);
/// Adam.
pub type Adam = (ScaleByAdam, ScaleBySchedule);
/// Adam with decoupled weight decay.
pub type AdamW = (ScaleByAdam, AddDecayedWeights, ScaleBySchedule);
/// RMSProp.
pub type RmsProp = (ScaleByRms, ScaleBySchedule);

/// Plain SGD (`optax.sgd(learning_rate)`).
///
/// ```
/// let opt = oxjax::optim::sgd(0.1);
/// ```
pub fn sgd(learning_rate: impl Into<Schedule>) -> Sgd {
    scale_by_learning_rate(learning_rate)
}

/// SGD with momentum `beta`, optionally Nesterov
/// (`optax.sgd(learning_rate, momentum=beta, nesterov=...)`).
///
/// ```
/// let opt = oxjax::optim::momentum(0.1, 0.9, true);
/// ```
pub fn momentum(learning_rate: impl Into<Schedule>, beta: f64, nesterov: bool) -> Momentum {
    (
        Trace {
            decay: beta,
            nesterov,
        },
        scale_by_learning_rate(learning_rate),
    )
}

/// Adam with optax's defaults (`b1 = 0.9, b2 = 0.999, eps = 1e-8`); change
/// them on the returned value's first element (a [`ScaleByAdam`]).
///
/// ```
/// let mut opt = oxjax::optim::adam(1e-3);
/// opt.0.b2 = 0.99;
/// ```
pub fn adam(learning_rate: impl Into<Schedule>) -> Adam {
    (
        ScaleByAdam::default(),
        scale_by_learning_rate(learning_rate),
    )
}

/// AdamW: Adam plus `weight_decay · params`, scaled by the learning rate
/// (`optax.adamw`).
///
/// ```
/// let opt = oxjax::optim::adamw(1e-3, 1e-4);
/// ```
pub fn adamw(learning_rate: impl Into<Schedule>, weight_decay: f64) -> AdamW {
    (
        ScaleByAdam::default(),
        AddDecayedWeights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )
}

/// RMSProp with optax's defaults (`decay = 0.9, eps = 1e-8`, initial
/// scale 0).
///
/// ```
/// let opt = oxjax::optim::rmsprop(1e-2);
/// ```
pub fn rmsprop(learning_rate: impl Into<Schedule>) -> RmsProp {
    (
        ScaleByRms {
            decay: 0.9,
            eps: 1e-8,
            initial_scale: 0.0,
        },
        scale_by_learning_rate(learning_rate),
    )
}
