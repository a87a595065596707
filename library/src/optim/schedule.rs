//! Learning-rate schedules: functions of the step count (an i32 scalar
//! array, so they run inside `jit`), with optax's definitions.

use crate::{Array, DType, Scalar};
use std::f64::consts::PI;
use std::fmt;
use std::sync::Arc;

/// A value that depends on the optimizer's step count. Build one with the
/// functions of this module or [`Schedule::new`]; a plain number converts
/// into a constant schedule, so every `learning_rate` argument takes
/// either.
///
/// ```
/// use oxjax::optim::{Schedule, cosine_decay};
/// let s = cosine_decay(1.0, 10, 0.0);
/// assert_eq!(s.value(0), 1.0);
/// assert!(s.value(10).abs() < 1e-6);
/// let c: Schedule = 0.1.into();
/// assert_eq!(c.value(123), 0.1);
/// ```
#[derive(Clone)]
pub struct Schedule(Arc<dyn Fn(&Array) -> Array + Send + Sync>);

impl Schedule {
    /// A schedule from a function of the step count (i32 scalar) to a
    /// float scalar.
    pub fn new(f: impl Fn(&Array) -> Array + Send + Sync + 'static) -> Schedule {
        Schedule(Arc::new(f))
    }

    /// The value at `count` (an i32 scalar array, possibly traced).
    pub fn at(&self, count: &Array) -> Array {
        (self.0)(count)
    }

    /// The value at step `step`, read back as f32.
    pub fn value(&self, step: i32) -> f32 {
        self.at(&Array::scalar(step))
            .astype(DType::F32)
            .item::<f32>()
    }

    /// The schedule with its values negated (a descent direction).
    pub(crate) fn negated(&self) -> Schedule {
        let s = self.clone();
        Schedule::new(move |c| -s.at(c))
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Schedule(..)")
    }
}

impl From<f64> for Schedule {
    fn from(v: f64) -> Schedule {
        constant(v)
    }
}

impl From<f32> for Schedule {
    fn from(v: f32) -> Schedule {
        constant(v as f64)
    }
}

/// The count as f32 (schedules compute in f32, like optax).
fn steps(count: &Array) -> Array {
    count.astype(DType::F32)
}

fn f32c(v: f64) -> Array {
    Array::scalar_of(Scalar::F32(v as f32))
}

/// Always `value` (weakly typed, so it takes the dtype of what it scales).
///
/// ```
/// assert_eq!(oxjax::optim::constant(0.5).value(7), 0.5);
/// ```
pub fn constant(value: f64) -> Schedule {
    Schedule::new(move |_| Array::weak(Scalar::F64(value)))
}

/// `init · rate^((count - begin) / transition_steps)` after `begin`, `init`
/// before; `staircase` floors the exponent (optax's `exponential_decay`
/// without `end_value`).
///
/// ```
/// let s = oxjax::optim::exponential_decay(1.0, 2, 0.5, 0, true);
/// assert_eq!([s.value(1), s.value(2), s.value(5)], [1.0, 0.5, 0.25]);
/// ```
pub fn exponential_decay(
    init: f64,
    transition_steps: u32,
    decay_rate: f64,
    transition_begin: u32,
    staircase: bool,
) -> Schedule {
    if transition_steps == 0 || decay_rate == 0.0 {
        return constant(init);
    }
    Schedule::new(move |count| {
        let t = steps(count) - transition_begin as f64;
        let mut p = &t / transition_steps as f64;
        if staircase {
            p = p.floor();
        }
        let decayed = f32c(decay_rate).power(&p) * init;
        Array::where_(&t.less_equal(0.0), f32c(init), decayed)
    })
}

/// Cosine decay from `init` to `alpha · init` over `decay_steps`, then
/// constant (optax's `cosine_decay_schedule`, exponent 1).
///
/// ```
/// let s = oxjax::optim::cosine_decay(2.0, 10, 0.1);
/// assert!((s.value(5) - 1.1).abs() < 1e-6);
/// ```
pub fn cosine_decay(init: f64, decay_steps: u32, alpha: f64) -> Schedule {
    assert!(
        decay_steps > 0,
        "cosine_decay: decay_steps must be positive"
    );
    Schedule::new(move |count| {
        let t = steps(count).minimum(decay_steps as f64);
        let cosine = ((t * PI / decay_steps as f64).cos() + 1.0) * 0.5;
        (cosine * (1.0 - alpha) + alpha) * init
    })
}

/// Linear from `init` to `end` over `transition_steps`, starting at step
/// `transition_begin` (optax's `linear_schedule`).
///
/// ```
/// let s = oxjax::optim::linear(1.0, 0.0, 4, 0);
/// assert_eq!([s.value(0), s.value(2), s.value(9)], [1.0, 0.5, 0.0]);
/// ```
pub fn linear(init: f64, end: f64, transition_steps: u32, transition_begin: u32) -> Schedule {
    if transition_steps == 0 {
        return constant(init);
    }
    Schedule::new(move |count| {
        let t = (steps(count) - transition_begin as f64)
            .maximum(0.0)
            .minimum(transition_steps as f64);
        let frac = 1.0 - t / transition_steps as f64;
        frac * (init - end) + end
    })
}

/// `init` times every `scale` whose boundary the count has reached
/// (optax's `piecewise_constant_schedule`).
///
/// ```
/// let s = oxjax::optim::piecewise_constant(1.0, &[(3, 0.5), (7, 0.1)]);
/// assert_eq!([s.value(2), s.value(3), s.value(8)], [1.0, 0.5, 0.05]);
/// ```
pub fn piecewise_constant(init: f64, boundaries_and_scales: &[(u32, f64)]) -> Schedule {
    let mut table = boundaries_and_scales.to_vec();
    table.sort_by_key(|&(b, _)| b);
    Schedule::new(move |count| {
        let t = steps(count);
        table.iter().fold(f32c(init), |v, &(boundary, scale)| {
            Array::where_(&t.less(boundary as f64), &v, &v * scale)
        })
    })
}

/// Linear warm-up from `init` to `peak` over `warmup_steps`, then cosine
/// decay to `end` at step `decay_steps` (which includes the warm-up), as
/// optax's `warmup_cosine_decay_schedule`.
///
/// ```
/// let s = oxjax::optim::warmup_cosine_decay(0.0, 1.0, 2, 10, 0.0);
/// assert_eq!([s.value(0), s.value(1), s.value(2), s.value(10)], [0.0, 0.5, 1.0, 0.0]);
/// ```
pub fn warmup_cosine_decay(
    init: f64,
    peak: f64,
    warmup_steps: u32,
    decay_steps: u32,
    end: f64,
) -> Schedule {
    let alpha = if peak == 0.0 { 0.0 } else { end / peak };
    let warmup = linear(init, peak, warmup_steps, 0);
    let decay = cosine_decay(peak, decay_steps.saturating_sub(warmup_steps).max(1), alpha);
    Schedule::new(move |count| {
        let after = count - warmup_steps as i32;
        Array::where_(
            &count.less(warmup_steps as i32),
            warmup.at(count),
            decay.at(&after),
        )
    })
}
