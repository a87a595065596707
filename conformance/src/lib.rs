//! # oxjax-conformance
//!
//! Certifies a backend plugin against the reference backend, op by op, or
//! finds a minimal failing case. `cargo xtask conformance` drives it; see
//! `docs/backend-authors.md`.
//!
//! - [`contract`]: layer 0, every `Backend` call on its own (allocation,
//!   offsets, caches, ordering, threads, sizes past the usual limits);
//! - [`optable`]: the op table as data (dtypes, value domain, accuracy class);
//! - [`values`], [`view`]: proptest strategies for values with edge cases,
//!   shapes, broadcast partners and view chains;
//! - [`case`]: kernel-IR cases (one op through views; random DAGs);
//! - [`judge`]: running a kernel on both devices and judging the outputs;
//! - [`ladder`]: the kernel layer's size ladder (2^16 and 2^20 outputs,
//!   long reductions) judged against host math;
//! - [`eager`]: layer 2, eager ops through the public API;
//! - [`program`]: layer 3, the extension point for `jit` / `grad` / `vmap`;
//! - [`model`]: layer 4, real jitted programs (an MLP training step, a
//!   transformer block and its gradient) under the backend's declared limits;
//! - [`shrink`]: minimisation of a failing case beyond proptest's shrinking;
//! - [`runner`], [`report`]: the suite, regressions, matrix and JSON.

// A `Failure` is the report of a failed case, built once per failure:
// passing it by value costs nothing that matters.
#![allow(clippy::result_large_err)]

pub mod case;
pub mod contract;
pub mod eager;
pub mod judge;
pub mod ladder;
pub mod model;
pub mod optable;
pub mod program;
pub mod report;
pub mod runner;
pub mod shrink;
pub mod values;
pub mod view;

pub use judge::Failure;
pub use runner::{Fresh, Options, Report, Status, run};

use oxjax_core::{Device, Kernel};

/// Where a device under test disagreed with the oracle.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub output: usize,
    pub element: usize,
    pub expected: String,
    pub found: String,
    /// The kernel's IR text.
    pub kernel: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "output {} element {}: expected {}, found {}\n{}",
            self.output, self.element, self.expected, self.found, self.kernel
        )
    }
}

/// Runs `kernel` on both devices with the same input bytes and compares the
/// outputs exactly (NaNs of any payload are equal). Errors from either
/// device are returned as text.
pub fn check_kernel(
    dut: &Device,
    oracle: &Device,
    kernel: &Kernel,
    inputs: &[Vec<u8>],
) -> Result<(), String> {
    let want = oracle
        .run_kernel(kernel, inputs)
        .map_err(|e| format!("oracle: {e}"))?;
    let got = dut
        .run_kernel(kernel, inputs)
        .map_err(|e| format!("{}: {e}", dut.name()))?;
    for (k, (w, g)) in want.iter().zip(&got).enumerate() {
        let dtype = kernel.output_dtype(k);
        let size = dtype.size();
        for (i, (a, b)) in w.chunks(size).zip(g.chunks(size)).enumerate() {
            let (a, b) = (
                oxjax_core::Scalar::read(dtype, a),
                oxjax_core::Scalar::read(dtype, b),
            );
            let both_nan = a.as_f64().is_nan() && b.as_f64().is_nan();
            if a.to_bits() != b.to_bits() && !both_nan {
                return Err(Mismatch {
                    output: k,
                    element: i,
                    expected: a.to_string(),
                    found: b.to_string(),
                    kernel: kernel.to_string(),
                }
                .to_string());
            }
        }
    }
    Ok(())
}
