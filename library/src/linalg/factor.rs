//! Factorisations and decompositions: thin wrappers that check shapes,
//! apply JAX's conventions (symmetrised inputs, output order) and bind the
//! linear-algebra primitives (`trace::linalg_rules`), which run as one
//! routine over the whole batch (on the host on `faer` unless the backend
//! implements it) and carry JAX's derivative rules.

use super::{broadcast_batch, eye, float, host_const, matrix, mt, or_panic, sl, square};
use crate::Array;
use crate::error::{ErrorKind, Result, err};
use crate::primitive::linalg_rules::{LinalgPrim, apply};

/// The primitive's results, panicking with its message on misuse.
fn prim(p: LinalgPrim, args: &[&Array]) -> Vec<Array> {
    or_panic(apply(p, args))
}

/// `[m, n]` 0/1 constant from a predicate on (row, column).
fn mask(m: usize, n: usize, like: &Array, f: impl Fn(usize, usize) -> bool) -> Array {
    let v: Vec<f64> = (0..m * n)
        .map(|i| if f(i / n, i % n) { 1.0 } else { 0.0 })
        .collect();
    host_const(&v, &[m, n], like)
}

// ---- Cholesky ----------------------------------------------------------------

/// The lower Cholesky factor `L` with `L Lᵀ = a` (`jnp.linalg.cholesky`),
/// batched. The input is symmetrised first (`(a + aᵀ)/2`, as JAX does); a
/// matrix that is not positive definite gives NaNs. Derivative:
/// `dL = L Φ(L⁻¹ dA L⁻ᵀ)` with `Φ` the lower triangle, diagonal halved.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![4.0f64, 2.0, 2.0, 5.0], &[2, 2]);
/// assert_eq!(linalg::cholesky(&a).to_vec::<f64>(), vec![2.0, 0.0, 1.0, 2.0]);
/// ```
pub fn cholesky(a: &Array) -> Array {
    let a = float(a);
    or_panic(square("cholesky", &a));
    let sym = (&a + &mt(&a)) * 0.5;
    prim(LinalgPrim::Cholesky, &[&sym]).remove(0)
}

// ---- triangular solves -----------------------------------------------------------

/// Options of [`triangular_solve`] (`jax.lax.linalg.triangular_solve`).
/// The default solves `x a = b` with `a` upper triangular.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Triangular {
    /// Solve `op(a) x = b` (true) or `x op(a) = b` (false).
    pub left_side: bool,
    /// Read the lower triangle of `a` (true) or the upper one.
    pub lower: bool,
    /// `op(a) = aᵀ` instead of `a`.
    pub transpose_a: bool,
    /// Assume ones on the diagonal (it is not read).
    pub unit_diagonal: bool,
}

/// Solves a triangular system with `a` `[..., n, n]` and `b` `[..., n, k]`
/// (left side) or `[..., k, n]` (right side), batch axes broadcast. Only the
/// chosen triangle of `a` is read. Linear in `b`.
///
/// ```
/// use oxjax::{Array, linalg::{self, Triangular}};
/// let a = Array::from_vec(vec![2.0f64, 0.0, 1.0, 4.0], &[2, 2]);
/// let b = Array::from_vec(vec![2.0f64, 9.0], &[2, 1]);
/// let opts = Triangular { left_side: true, lower: true, ..Default::default() };
/// assert_eq!(linalg::triangular_solve(&a, &b, opts).to_vec::<f64>(), vec![1.0, 2.0]);
/// ```
pub fn triangular_solve(a: &Array, b: &Array, opts: Triangular) -> Array {
    or_panic(try_triangular_solve(a, b, opts))
}

/// [`triangular_solve`], returning shape errors.
pub fn try_triangular_solve(a: &Array, b: &Array, opts: Triangular) -> Result<Array> {
    let (a, b) = super::common(a, b);
    let n = square("triangular_solve", &a)?;
    let (br, bc) = matrix("triangular_solve", &b)?;
    let inner = if opts.left_side { br } else { bc };
    if inner != n {
        return err(
            ErrorKind::Shape,
            format!(
                "triangular_solve: a has shape {:?} but b has shape {:?} ({} side needs b's {} dimension to be {n})",
                a.shape(),
                b.shape(),
                if opts.left_side { "left" } else { "right" },
                if opts.left_side { "row" } else { "column" },
            ),
        );
    }
    let (a, b) = broadcast_batch("triangular_solve", &a, &b)?;
    let p = LinalgPrim::TriangularSolve {
        lower: opts.lower,
        transpose_a: opts.transpose_a,
        unit_diagonal: opts.unit_diagonal,
        left_side: opts.left_side,
    };
    Ok(apply(p, &[&a, &b])?.remove(0))
}

/// Solves `a x = b` for triangular `a` (`jax.scipy.linalg.solve_triangular`
/// with `trans=0`): `b` is `[..., n]` (one vector per matrix) or `[..., n, k]`.
///
/// ```
/// use oxjax::{Array, linalg};
/// let u = Array::from_vec(vec![1.0f64, 2.0, 0.0, 4.0], &[2, 2]);
/// let b = Array::from_vec(vec![5.0f64, 8.0], &[2]);
/// assert_eq!(linalg::solve_triangular(&u, &b, false).to_vec::<f64>(), vec![1.0, 2.0]);
/// ```
pub fn solve_triangular(a: &Array, b: &Array, lower: bool) -> Array {
    let vector = b.ndim() + 1 == a.ndim();
    let b2 = if vector { b.expand_dims(-1) } else { b.clone() };
    let opts = Triangular {
        left_side: true,
        lower,
        ..Default::default()
    };
    let x = triangular_solve(a, &b2, opts);
    if vector { x.squeeze(&[-1]) } else { x }
}

// ---- LU --------------------------------------------------------------------------

/// An LU factorisation `a[perm] = l u` (the LU primitive's results).
pub(crate) struct Lu {
    /// `[..., m, n]`: `l` below the diagonal (unit diagonal implied), `u` on and above.
    pub lu: Array,
    /// `[..., k]` i32, LAPACK style: step `j` swapped rows `j` and `piv[j]`.
    pub piv: Array,
    /// `[..., m]` i32: row `i` of `l u` is row `perm[i]` of `a`.
    pub perm: Array,
}

/// LU with partial pivoting: one primitive.
pub(crate) fn lu_raw(a: &Array) -> Lu {
    let mut r = prim(LinalgPrim::Lu, &[a]);
    let perm = r.pop().unwrap();
    let piv = r.pop().unwrap();
    Lu {
        lu: r.pop().unwrap(),
        piv,
        perm,
    }
}

/// `a⁻¹ b` from a square factorisation: permute the rows of `b`, then a
/// unit-lower and an upper triangular solve.
pub(crate) fn lu_solve(f: &Lu, b: &Array) -> Array {
    let axis = b.ndim() - 2;
    let idx = f.perm.expand_dims(-1).broadcast_to(b.shape());
    let pb = crate::primitive::indexing_rules::take_along(b, &idx, axis);
    let left = |lower, unit| Triangular {
        left_side: true,
        lower,
        transpose_a: false,
        unit_diagonal: unit,
    };
    let y = triangular_solve(&f.lu, &pb, left(true, true));
    triangular_solve(&f.lu, &y, left(false, false))
}

/// The permutation matrix `P` with `P[i, r] = (perm[i] == r)`, so `P a = l u`.
fn perm_matrix(perm: &Array, m: usize, like: &Array) -> Array {
    let v: Vec<f64> = (0..m).map(|c| c as f64).collect();
    let r = host_const(&v, &[1, m], like);
    perm.astype(like.dtype())
        .expand_dims(-1)
        .equal(&r)
        .astype(like.dtype())
}

/// `(p, l, u)` with `a = p l u` (`jax.scipy.linalg.lu`), partial pivoting,
/// for `[..., m, n]`: `p` `[..., m, m]`, `l` `[..., m, k]` unit lower, `u`
/// `[..., k, n]`, `k = min(m, n)`. Differentiable for square `a` (JAX's rule).
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]);
/// let (p, l, u) = linalg::lu(&a);
/// assert_eq!(p.to_vec::<f64>(), vec![0.0, 1.0, 1.0, 0.0]);
/// assert_eq!(p.matmul(&l).matmul(&u).to_vec::<f64>(), vec![1.0, 2.0, 3.0, 4.0]);
/// ```
pub fn lu(a: &Array) -> (Array, Array, Array) {
    let a = float(a);
    let (m, n) = or_panic(matrix("lu", &a));
    let k = m.min(n);
    let f = lu_raw(&a);
    let l = &(&sl(&f.lu, -1, 0, k) * &mask(m, k, &a, |i, j| i > j)) + &eye(m, k, &a);
    let u = &sl(&f.lu, -2, 0, k) * &mask(k, n, &a, |i, j| i <= j);
    (mt(&perm_matrix(&f.perm, m, &a)), l, u)
}

/// `(lu, piv)` (`jax.scipy.linalg.lu_factor`): `l` (without its unit
/// diagonal) and `u` in one matrix, and LAPACK-style i32 pivots: step `j`
/// swapped rows `j` and `piv[j]`.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]);
/// let (lu, piv) = linalg::lu_factor(&a);
/// assert_eq!(piv.to_vec::<i32>(), vec![1, 1]);
/// let v = lu.to_vec::<f64>();
/// assert_eq!((v[0], v[1], v[3]), (3.0, 4.0, 2.0 - 4.0 / 3.0));
/// ```
pub fn lu_factor(a: &Array) -> (Array, Array) {
    let a = float(a);
    or_panic(matrix("lu_factor", &a));
    let f = lu_raw(&a);
    (f.lu, f.piv)
}

// ---- QR --------------------------------------------------------------------------

/// Which factors [`qr`] returns (NumPy's `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QrMode {
    /// `q` `[..., m, k]`, `r` `[..., k, n]`, `k = min(m, n)`.
    Reduced,
    /// `q` `[..., m, m]`, `r` `[..., m, n]`.
    Complete,
}

/// The QR decomposition by Householder reflections (`jnp.linalg.qr`):
/// `a = q r`, `q` with orthonormal columns, `r` upper triangular, with
/// LAPACK's sign convention (so results match NumPy's). Differentiable for
/// `m >= n` with reduced factors (JAX's rule).
///
/// ```
/// use oxjax::{Array, linalg::{self, QrMode}};
/// let a = Array::from_vec(vec![3.0f64, 1.0, 4.0, 2.0], &[2, 2]);
/// let (q, r) = linalg::qr(&a, QrMode::Reduced);
/// let back = q.matmul(&r).to_vec::<f64>();
/// assert!(back.iter().zip([3.0, 1.0, 4.0, 2.0]).all(|(x, y)| (x - y).abs() < 1e-12));
/// assert!((r.to_vec::<f64>()[0] + 5.0).abs() < 1e-12);
/// ```
pub fn qr(a: &Array, mode: QrMode) -> (Array, Array) {
    let a = float(a);
    or_panic(matrix("qr", &a));
    let full_matrices = mode == QrMode::Complete;
    let mut qr = prim(LinalgPrim::Qr { full_matrices }, &[&a]);
    let r = qr.pop().unwrap();
    (qr.pop().unwrap(), r)
}

// ---- eigh and SVD ------------------------------------------------------------------

/// `(w, v)`: eigenvalues ascending and eigenvectors (columns) of symmetric
/// `[..., n, n]` (`jnp.linalg.eigh`); the input is symmetrised first
/// (`(a + aᵀ)/2`). Derivatives need distinct eigenvalues for the
/// eigenvectors (as in JAX).
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![2.0f64, 1.0, 1.0, 2.0], &[2, 2]);
/// let (w, v) = linalg::eigh(&a);
/// let w = w.to_vec::<f64>();
/// assert!((w[0] - 1.0).abs() < 1e-12 && (w[1] - 3.0).abs() < 1e-12);
/// let av = a.matmul(&v).to_vec::<f64>();
/// let vw = (&v * &Array::from_vec(w, &[1, 2])).to_vec::<f64>();
/// assert!(av.iter().zip(vw).all(|(x, y)| (x - y).abs() < 1e-12));
/// ```
pub fn eigh(a: &Array) -> (Array, Array) {
    let a = float(a);
    or_panic(square("eigh", &a));
    let sym = (&a + &mt(&a)) * 0.5;
    let mut vw = prim(LinalgPrim::Eigh, &[&sym]);
    let w = vw.pop().unwrap();
    (w, vw.pop().unwrap())
}

/// The eigenvalues of symmetric matrices, ascending (`jnp.linalg.eigvalsh`).
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![5.0f32, 0.0, 0.0, -1.0], &[2, 2]);
/// assert_eq!(linalg::eigvalsh(&a).to_vec::<f32>(), vec![-1.0, 5.0]);
/// ```
pub fn eigvalsh(a: &Array) -> Array {
    eigh(a).0
}

/// The singular value decomposition `a = u · diag(s) · vh`
/// (`jnp.linalg.svd` with `compute_uv=True`), batched: `s` descending;
/// `full_matrices` makes `u` `[..., m, m]` and `vh` `[..., n, n]`, else
/// `k = min(m, n)` columns/rows. Derivatives need distinct non-zero
/// singular values for `u`/`vh`, and `full_matrices=false` unless `a` is
/// square (as JAX).
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![3.0f64, 0.0, 0.0, -4.0], &[2, 2]);
/// let (u, s, vh) = linalg::svd(&a, false);
/// assert_eq!(s.to_vec::<f64>(), vec![4.0, 3.0]);
/// let back = (&u * &s.expand_dims(0)).matmul(&vh).to_vec::<f64>();
/// assert!(back.iter().zip([3.0, 0.0, 0.0, -4.0]).all(|(x, y)| (x - y).abs() < 1e-12));
/// ```
pub fn svd(a: &Array, full_matrices: bool) -> (Array, Array, Array) {
    let a = float(a);
    or_panic(matrix("svd", &a));
    let p = LinalgPrim::Svd {
        full_matrices,
        compute_uv: true,
    };
    let mut suv = prim(p, &[&a]);
    let vh = suv.pop().unwrap();
    let u = suv.pop().unwrap();
    (u, suv.pop().unwrap(), vh)
}

/// The singular values, descending (`jnp.linalg.svd` with
/// `compute_uv=False`, `jnp.linalg.svdvals`); no vectors are computed.
///
/// ```
/// use oxjax::{Array, linalg};
/// let a = Array::from_vec(vec![0.0f32, 2.0, 1.0, 0.0, 0.0, 0.0], &[3, 2]);
/// assert_eq!(linalg::svdvals(&a).to_vec::<f32>(), vec![2.0, 1.0]);
/// ```
pub fn svdvals(a: &Array) -> Array {
    let a = float(a);
    or_panic(matrix("svdvals", &a));
    let p = LinalgPrim::Svd {
        full_matrices: false,
        compute_uv: false,
    };
    prim(p, &[&a]).remove(0)
}
