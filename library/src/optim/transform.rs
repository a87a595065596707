//! The building blocks: each a [`GradientTransformation`] over the flat
//! list of leaves, with the state it needs. Formulas follow optax.

use super::{GradientTransformation, Schedule};
use crate::{Array, DType, Scalar, Tree};

fn zeros_like(params: &[Array]) -> Vec<Array> {
    params.iter().map(Array::zeros_like).collect()
}

/// `count + 1`, saturating at `i32::MAX` (optax's `safe_increment`).
fn increment(count: &Array) -> Array {
    Array::where_(&count.less(i32::MAX), count + 1, count)
}

fn f32c(v: f64) -> Array {
    Array::scalar_of(Scalar::F32(v as f32))
}

/// Multiplies updates by a constant (`optax.scale`).
#[derive(Clone, Debug)]
pub struct Scale(pub f64);

impl GradientTransformation for Scale {
    type State = ();
    fn init_leaves(&self, _: &[Array]) {}
    fn update_leaves(&self, u: Vec<Array>, _: &(), _: &[Array]) -> (Vec<Array>, ()) {
        (u.iter().map(|g| g * self.0).collect(), ())
    }
}

/// Multiplies updates by a schedule of the step count
/// (`optax.scale_by_schedule`); the state is the count.
#[derive(Clone, Debug)]
pub struct ScaleBySchedule(pub Schedule);

impl GradientTransformation for ScaleBySchedule {
    type State = Array;
    fn init_leaves(&self, _: &[Array]) -> Array {
        Array::zeros(&[], DType::I32)
    }
    fn update_leaves(&self, u: Vec<Array>, count: &Array, _: &[Array]) -> (Vec<Array>, Array) {
        let step = self.0.at(count);
        let u = u.iter().map(|g| (g * &step).astype(g.dtype())).collect();
        (u, increment(count))
    }
}

/// Scales by `-learning_rate` (a number or a [`Schedule`]): the last link
/// of every optimizer (`optax.scale_by_learning_rate`).
///
/// ```
/// use oxjax::optim::{self, GradientTransformation};
/// let opt = optim::scale_by_learning_rate(0.5);
/// let g = oxjax::Array::from_vec(vec![2.0f32], &[1]);
/// let (u, _) = opt.update(&g, &opt.init(&g), &g);
/// assert_eq!(u.to_vec::<f32>(), [-1.0]);
/// ```
pub fn scale_by_learning_rate(learning_rate: impl Into<Schedule>) -> ScaleBySchedule {
    ScaleBySchedule(learning_rate.into().negated())
}

/// Momentum: keeps `trace = g + decay · trace` and returns it, or
/// `g + decay · trace` with Nesterov (`optax.trace`).
#[derive(Clone, Debug)]
pub struct Trace {
    /// The momentum coefficient (β).
    pub decay: f64,
    /// Look ahead: return `g + decay · trace` instead of the trace.
    pub nesterov: bool,
}

impl GradientTransformation for Trace {
    type State = Vec<Array>;
    fn init_leaves(&self, params: &[Array]) -> Vec<Array> {
        zeros_like(params)
    }
    fn update_leaves(
        &self,
        u: Vec<Array>,
        trace: &Vec<Array>,
        _: &[Array],
    ) -> (Vec<Array>, Vec<Array>) {
        let new: Vec<Array> = u
            .iter()
            .zip(trace)
            .map(|(g, t)| g + t * self.decay)
            .collect();
        let out = if self.nesterov {
            u.iter()
                .zip(&new)
                .map(|(g, t)| g + t * self.decay)
                .collect()
        } else {
            new.clone()
        };
        (out, new)
    }
}

/// The state of [`ScaleByAdam`]: step count and first and second moments.
#[derive(Clone, Debug, Tree)]
pub struct AdamState {
    /// Steps taken (i32 scalar).
    pub count: Array,
    /// First-moment estimates, one per parameter leaf.
    pub mu: Vec<Array>,
    /// Second-moment estimates, one per parameter leaf.
    pub nu: Vec<Array>,
}

/// Adam's rescaling (`optax.scale_by_adam`): bias-corrected moment
/// estimates, `m̂ / (sqrt(v̂ + eps_root) + eps)`.
#[derive(Clone, Debug)]
pub struct ScaleByAdam {
    /// Decay of the first moment.
    pub b1: f64,
    /// Decay of the second moment.
    pub b2: f64,
    /// Added to the denominator, outside the square root.
    pub eps: f64,
    /// Added inside the square root.
    pub eps_root: f64,
}

impl Default for ScaleByAdam {
    /// optax's defaults: `b1 = 0.9, b2 = 0.999, eps = 1e-8, eps_root = 0`.
    fn default() -> Self {
        ScaleByAdam {
            b1: 0.9,
            b2: 0.999,
            eps: 1e-8,
            eps_root: 0.0,
        }
    }
}

impl GradientTransformation for ScaleByAdam {
    type State = AdamState;
    fn init_leaves(&self, params: &[Array]) -> AdamState {
        AdamState {
            count: Array::zeros(&[], DType::I32),
            mu: zeros_like(params),
            nu: zeros_like(params),
        }
    }
    fn update_leaves(&self, u: Vec<Array>, s: &AdamState, _: &[Array]) -> (Vec<Array>, AdamState) {
        let (b1, b2) = (self.b1, self.b2);
        let mu: Vec<Array> = u
            .iter()
            .zip(&s.mu)
            .map(|(g, m)| g * (1.0 - b1) + m * b1)
            .collect();
        let nu: Vec<Array> = u
            .iter()
            .zip(&s.nu)
            .map(|(g, v)| g * g * (1.0 - b2) + v * b2)
            .collect();
        let count = increment(&s.count);
        let c = count.astype(DType::F32);
        let (bc1, bc2) = (1.0 - f32c(b1).power(&c), 1.0 - f32c(b2).power(&c));
        let out = mu
            .iter()
            .zip(&nu)
            .map(|(m, v)| {
                let m_hat = m / bc1.astype(m.dtype());
                let v_hat = v / bc2.astype(v.dtype());
                m_hat / ((v_hat + self.eps_root).sqrt() + self.eps)
            })
            .collect();
        (out, AdamState { count, mu, nu })
    }
}

/// RMSProp's rescaling (`optax.scale_by_rms`): `g / sqrt(ν + eps)` with
/// `ν` a moving average of `g²` started at `initial_scale`.
#[derive(Clone, Debug)]
pub struct ScaleByRms {
    /// Decay of the moving average of `g²`.
    pub decay: f64,
    /// Added inside the square root.
    pub eps: f64,
    /// The average's initial value.
    pub initial_scale: f64,
}

impl GradientTransformation for ScaleByRms {
    type State = Vec<Array>;
    fn init_leaves(&self, params: &[Array]) -> Vec<Array> {
        params
            .iter()
            .map(|p| p.zeros_like() + self.initial_scale)
            .collect()
    }
    fn update_leaves(
        &self,
        u: Vec<Array>,
        nu: &Vec<Array>,
        _: &[Array],
    ) -> (Vec<Array>, Vec<Array>) {
        let d = self.decay;
        let nu: Vec<Array> = u
            .iter()
            .zip(nu)
            .map(|(g, v)| g * g * (1.0 - d) + v * d)
            .collect();
        let out = u
            .iter()
            .zip(&nu)
            .map(|(g, v)| (v + self.eps).rsqrt() * g)
            .collect();
        (out, nu)
    }
}

/// Adds `weight_decay · params` to the updates (decoupled weight decay,
/// `optax.add_decayed_weights`).
#[derive(Clone, Debug)]
pub struct AddDecayedWeights(pub f64);

impl GradientTransformation for AddDecayedWeights {
    type State = ();
    fn init_leaves(&self, _: &[Array]) {}
    fn update_leaves(&self, u: Vec<Array>, _: &(), params: &[Array]) -> (Vec<Array>, ()) {
        assert_eq!(
            u.len(),
            params.len(),
            "add_decayed_weights: {} updates for {} parameters",
            u.len(),
            params.len()
        );
        (
            u.iter().zip(params).map(|(g, p)| g + p * self.0).collect(),
            (),
        )
    }
}

/// Clips every update to `[-max_delta, max_delta]` (`optax.clip`).
#[derive(Clone, Debug)]
pub struct Clip(pub f64);

impl GradientTransformation for Clip {
    type State = ();
    fn init_leaves(&self, _: &[Array]) {}
    fn update_leaves(&self, u: Vec<Array>, _: &(), _: &[Array]) -> (Vec<Array>, ()) {
        let out = u
            .iter()
            .map(|g| g.maximum(-self.0).minimum(self.0))
            .collect();
        (out, ())
    }
}

/// Rescales all updates together so their global L2 norm is at most
/// `max_norm` (`optax.clip_by_global_norm`).
#[derive(Clone, Debug)]
pub struct ClipByGlobalNorm(pub f64);

impl GradientTransformation for ClipByGlobalNorm {
    type State = ();
    fn init_leaves(&self, _: &[Array]) {}
    fn update_leaves(&self, u: Vec<Array>, _: &(), _: &[Array]) -> (Vec<Array>, ()) {
        let norm = super::global_norm(&u);
        let keep = norm.less(self.0);
        let out = u
            .iter()
            .map(|g| Array::where_(&keep, g, g / norm.astype(g.dtype()) * self.0))
            .collect();
        (out, ())
    }
}
