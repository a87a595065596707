//! Routines: named whole operations (sort, scans, linear algebra, FFT) that
//! do not fit the one-expression-per-element kernel IR. A backend lists the
//! kinds it implements in its capabilities; for any other kind the core runs
//! the routine on the host, so every backend runs every program.

use crate::DType;
use abi_stable::StableAbi;
use abi_stable::std_types::RVec;
use std::fmt;

/// Which routine. Integer newtype so minor versions can append kinds.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoutineKind(pub u16);

impl RoutineKind {
    /// Stable sort along `params[0]` (axis); `params[1]` = 1 for descending.
    /// NaNs sort last.
    pub const SORT: RoutineKind = RoutineKind(0);
    /// Indices (i32) of a stable sort, same params as SORT.
    pub const ARGSORT: RoutineKind = RoutineKind(1);
    /// Inclusive cumulative sum along `params[0]`; `params[1]` = 1 reverses.
    pub const CUMSUM: RoutineKind = RoutineKind(2);
    pub const CUMPROD: RoutineKind = RoutineKind(3);
    pub const CUMMAX: RoutineKind = RoutineKind(4);
    pub const CUMMIN: RoutineKind = RoutineKind(5);
    /// `out = operand; out[.., indices[k], ..] (op)= updates[.., k, ..]` along
    /// axis `params[1]`; inputs (operand, indices i32 of any shape, updates
    /// of shape `operand[..axis] ++ indices ++ operand[axis+1..]`);
    /// `params[0]`: 0 set, 1 add, 2 mul, 3 min, 4 max. Updates apply in
    /// row-major order (the last duplicate wins a set); indices outside the
    /// axis are dropped.
    pub const SCATTER: RoutineKind = RoutineKind(6);
    // Linear algebra (CHOLESKY, TRIANGULAR_SOLVE, LU, EIGH, QR, SVD): every
    // operand is f32 or f64 (all float inputs and outputs of one call share
    // the dtype), row-major `[..., rows, cols]` with the leading axes a batch
    // (equal for every operand). Numerical failure (not positive definite,
    // no convergence) fills that batch element's outputs with NaN.
    /// Input `a` `[..., n, n]`; output the lower Cholesky factor `l`
    /// `[..., n, n]` (`l lᵀ = a`, zeros above the diagonal). Reads the
    /// lower triangle of `a` only. No params.
    pub const CHOLESKY: RoutineKind = RoutineKind(7);
    /// Inputs `a` `[..., n, n]` and `b` (`[..., n, k]` when left_side,
    /// `[..., k, n]` otherwise); output `x` shaped like `b` with
    /// `op(a) x = b` (left) or `x op(a) = b` (right), `op(a) = aᵀ` when
    /// transpose_a. Reads only the chosen triangle of `a` (and not its
    /// diagonal when unit_diagonal). Params (lower, transpose_a,
    /// unit_diagonal, left_side), each 0 or 1.
    pub const TRIANGULAR_SOLVE: RoutineKind = RoutineKind(8);
    /// LU with partial pivoting of `a` `[..., m, n]`, `k = min(m, n)`.
    /// Outputs `lu` `[..., m, n]` (strict lower part: `l` without its unit
    /// diagonal; upper part: `u`), `pivots` `[..., k]` i32 (LAPACK style:
    /// step `j` swapped rows `j` and `pivots[j]`) and `permutation`
    /// `[..., m]` i32 (row `i` of `l u` is row `permutation[i]` of `a`).
    /// No params.
    pub const LU: RoutineKind = RoutineKind(9);
    /// Symmetric eigendecomposition of `a` `[..., n, n]` (lower triangle
    /// read). Outputs the eigenvectors `v` `[..., n, n]` (column `j` for
    /// eigenvalue `j`) and the eigenvalues `w` `[..., n]`, ascending. No
    /// params.
    pub const EIGH: RoutineKind = RoutineKind(10);
    /// FFT over the trailing `params[1]` axes; `params[0]`: 0 fft, 1 ifft,
    /// 2 rfft, 3 irfft. Complex values are interleaved (re, im) pairs on a
    /// trailing axis of length 2; ifft and irfft scale by `1/n` (JAX's
    /// normalisation). The core's host version runs `[0 | 1, 1]` only.
    pub const FFT: RoutineKind = RoutineKind(11);
    /// Householder QR of `a` `[..., m, n]`, `k = min(m, n)`; `params[0]` =
    /// 1 for full matrices. Outputs `q` `[..., m, m]` (full) or `[..., m,
    /// k]` with orthonormal columns, and upper-triangular `r` `[..., m, n]`
    /// (full) or `[..., k, n]`, `a = q r`. Signs are the implementation's
    /// (LAPACK's: `r`'s diagonal may be negative).
    pub const QR: RoutineKind = RoutineKind(12);
    /// Singular value decomposition of `a` `[..., m, n]`, `k = min(m, n)`;
    /// params (full_matrices, compute_uv). Outputs `s` `[..., k]`
    /// (non-negative, descending), then when compute_uv `u` `[..., m, m]`
    /// (full) or `[..., m, k]` and `vt` `[..., n, n]` (full) or `[..., k,
    /// n]`, `a = u diag(s) vt`.
    pub const SVD: RoutineKind = RoutineKind(13);

    /// `conv_general_dilated` in the canonical layout (ABI 1.2): inputs
    /// `lhs [N, C, S...]`, `rhs [O, I, K...]` of one float dtype; output
    /// `[N / batch_group_count, O, Out...]` of that dtype. Params:
    /// `[s, feature_group_count, batch_group_count]` then, per spatial
    /// axis, `stride, pad_lo, pad_hi, lhs_dilation, rhs_dilation` (pads may
    /// be negative). Output position `o` reads dilated-input coordinate
    /// `o * stride - pad_lo + k * rhs_dilation` for window position `k`;
    /// coordinates outside the dilated input or between its elements read
    /// 0. Feature group `g` pairs input channels `g*I..(g+1)*I` with output
    /// channels `g*O/G..`; batch group `b` pairs input images
    /// `b*N/B..(b+1)*N/B` with output channels `b*O/B..`.
    pub const CONV: RoutineKind = RoutineKind(14);

    /// Softmax along the last axis (ABI 1.4): input `x [..., n]` f32 or
    /// f64, output of the same shape and dtype. Per row, `m = max(x)` (NaN
    /// if any element is NaN), `e = exp(x - m)`, `y = e / sum(e)`. So a row
    /// holding +inf or NaN is all NaN, a row of only -inf is all NaN (`-inf
    /// - -inf`), and other -inf elements give 0, as the composed
    /// `exp(x - max) / sum` does. No params.
    pub const SOFTMAX: RoutineKind = RoutineKind(15);

    pub const ALL: [RoutineKind; 16] = [
        RoutineKind::SORT,
        RoutineKind::ARGSORT,
        RoutineKind::CUMSUM,
        RoutineKind::CUMPROD,
        RoutineKind::CUMMAX,
        RoutineKind::CUMMIN,
        RoutineKind::SCATTER,
        RoutineKind::CHOLESKY,
        RoutineKind::TRIANGULAR_SOLVE,
        RoutineKind::LU,
        RoutineKind::EIGH,
        RoutineKind::FFT,
        RoutineKind::QR,
        RoutineKind::SVD,
        RoutineKind::CONV,
        RoutineKind::SOFTMAX,
    ];

    pub fn name(self) -> &'static str {
        const NAMES: [&str; 16] = [
            "sort",
            "argsort",
            "cumsum",
            "cumprod",
            "cummax",
            "cummin",
            "scatter",
            "cholesky",
            "triangular_solve",
            "lu",
            "eigh",
            "fft",
            "qr",
            "svd",
            "conv",
            "softmax",
        ];
        NAMES.get(self.0 as usize).copied().unwrap_or("unknown")
    }
}

impl fmt::Debug for RoutineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Dtype and shape of one routine operand (contiguous, row-major).
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq, Hash, Debug)]
pub struct TensorDesc {
    pub dtype: DType,
    pub shape: RVec<u64>,
}

/// A routine call's full description; compiled like a kernel, executed with
/// the same `execute` call (inputs, then outputs, in the listed order).
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Routine {
    pub kind: RoutineKind,
    pub inputs: RVec<TensorDesc>,
    pub outputs: RVec<TensorDesc>,
    /// Kind-specific integer parameters, documented on each kind.
    pub params: RVec<i64>,
}
