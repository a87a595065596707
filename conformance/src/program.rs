//! Layer 3 — programs through the transformations.
//!
//! What runs now (cases of [`crate::eager`] with a [`crate::eager::Mode`]):
//!
//! - `jit:<op>`: the op under `oxjax::jit` (traced to a jaxpr, fused,
//!   compiled) on the backend under test vs eagerly on the reference;
//! - `grad:<op>`: `grad(|xs| sum(op(xs)))` on the backend vs on the
//!   reference (float dtypes, the differentiable ops of
//!   [`crate::eager::GRAD_OPS`]), with the op's ULP budget widened for the
//!   derivative's extra operations.
//!
//! **Extension point** for what is still to come, as more entries of
//! layer `program` in `runner::plan` (each with a serde case type, a
//! strategy and a `check(dut, oracle, case) -> Result<Outcome, Failure>`,
//! and a variant of `runner::Case` so failures are saved and replayed):
//!
//! - random small programs (built like [`crate::case::DagCase`], from API
//!   calls), eager vs `jit`, the failure printing the jaxpr (`make_jaxpr`);
//! - `grad` vs central finite differences in f64 on the reference;
//! - `vmap(f)` vs a loop of `f` over the mapped axis, stacked.

/// The program-level checks that run (see the module docs).
pub const PROGRAM_CHECKS: &[&str] = &["jit", "grad"];
