//! # oxjax-conformance
//!
//! Differential testing of a backend plugin against the reference backend.
//! This first layer runs kernel IR directly on two devices and compares the
//! outputs bit for bit; the op table, strategies and report build on it.

use oxjax::{Device, Kernel};

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
            let (a, b) = (oxjax::Scalar::read(dtype, a), oxjax::Scalar::read(dtype, b));
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
