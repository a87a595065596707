//! Factorisations by elimination: Cholesky, triangular solves, LU with
//! partial pivoting and Householder QR. Each unrolls one step per row or
//! column; a step is a few whole-matrix operations (a masked column, an
//! outer-product update) over every batch element at once.

use super::{batch, broadcast_batch, eye, float, host_const, matrix, mt, ok, sl, square, with};
use crate::error::{Result, op_err};
use crate::{Array, DType, custom_jvp};

/// `[n, 1]` column constant: `f(row index)`.
fn rows(n: usize, like: &Array, f: impl Fn(usize) -> f64) -> Array {
    let v: Vec<f64> = (0..n).map(f).collect();
    host_const(&v, &[n, 1], like)
}

/// `[1, n]` row constant: `f(column index)`.
fn cols(n: usize, like: &Array, f: impl Fn(usize) -> f64) -> Array {
    let v: Vec<f64> = (0..n).map(f).collect();
    host_const(&v, &[1, n], like)
}

fn mask(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The upper triangle (`k = 0`) of the last two axes.
fn triu(a: &Array) -> Array {
    let s = a.shape();
    let (m, n) = (s[s.len() - 2], s[s.len() - 1]);
    let v: Vec<f64> = (0..m * n).map(|i| mask(i % n >= i / n)).collect();
    a * &host_const(&v, &[m, n], a)
}

fn concat(parts: &[Array], axis: isize) -> Array {
    let refs: Vec<&Array> = parts.iter().collect();
    Array::concatenate(&refs, axis)
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
    ok(square("cholesky", &a));
    let sym = (&a + &mt(&a)) * 0.5;
    cholesky_custom(&sym)
}

fn cholesky_custom(a: &Array) -> Array {
    custom_jvp("cholesky", cholesky_raw, |a: &Array, t: &Array| {
        let l = cholesky_custom(a);
        let n = l.shape()[l.ndim() - 1];
        // L⁻¹ dA L⁻ᵀ: dA is symmetric, so (L⁻¹ dA)ᵀ = dA L⁻ᵀ.
        let x = lower_solve(&l, t, false);
        let y = lower_solve(&l, &mt(&x), false);
        let v: Vec<f64> = (0..n * n)
            .map(|i| match (i / n).cmp(&(i % n)) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            })
            .collect();
        let phi = &y * &host_const(&v, &[n, n], &y);
        (l.clone(), l.matmul(&phi))
    })(a)
}

/// Right-looking Cholesky: column `j` of `L` is the Schur complement's
/// column `j` over the square root of its pivot; then the complement loses
/// that column's outer product. Reads the lower triangle only.
fn cholesky_raw(a: &Array) -> Array {
    let n = a.shape()[a.ndim() - 1];
    if n == 0 {
        return a.clone();
    }
    let mut s = a.clone();
    let mut out = Vec::with_capacity(n);
    for j in 0..n {
        let col = sl(&s, -1, j, j + 1);
        let piv = sl(&col, -2, j, j + 1);
        let c = &col * &rows(n, &s, |i| mask(i >= j)) / piv.sqrt();
        if j + 1 < n {
            s = &s - &c.matmul(&mt(&c));
        }
        out.push(c);
    }
    concat(&out, -1)
}

// ---- triangular solves -----------------------------------------------------------

/// Solves `l x = b` for lower-triangular `l` `[..., n, n]` and `b`
/// `[..., n, k]` (batch axes already equal) by forward substitution: one
/// row of `x` per step, then the remaining right-hand side is updated by
/// an outer product. Reads the lower triangle (and diagonal unless `unit`).
pub(crate) fn lower_solve(l: &Array, b: &Array, unit: bool) -> Array {
    let n = l.shape()[l.ndim() - 1];
    if n == 0 {
        return b.clone();
    }
    let mut rest = b.clone();
    let mut out = Vec::with_capacity(n);
    for j in 0..n {
        let bj = sl(&rest, -2, 0, 1);
        let lcol = sl(l, -1, j, j + 1);
        let xj = if unit {
            bj
        } else {
            &bj / &sl(&lcol, -2, j, j + 1)
        };
        if j + 1 < n {
            rest = &sl(&rest, -2, 1, n - j) - &sl(&lcol, -2, j + 1, n).matmul(&xj);
        }
        out.push(xj);
    }
    concat(&out, -2)
}

/// `u x = b` for upper-triangular `u`: reversing both axes of `u` makes it
/// lower triangular.
fn upper_solve(u: &Array, b: &Array, unit: bool) -> Array {
    lower_solve(&u.flip(&[-2, -1]), &b.flip(&[-2]), unit).flip(&[-2])
}

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
/// chosen triangle of `a` is read. `n` substitution steps.
///
/// ```
/// use oxjax::{Array, linalg::{self, Triangular}};
/// let a = Array::from_vec(vec![2.0f64, 0.0, 1.0, 4.0], &[2, 2]);
/// let b = Array::from_vec(vec![2.0f64, 9.0], &[2, 1]);
/// let opts = Triangular { left_side: true, lower: true, ..Default::default() };
/// assert_eq!(linalg::triangular_solve(&a, &b, opts).to_vec::<f64>(), vec![1.0, 2.0]);
/// ```
pub fn triangular_solve(a: &Array, b: &Array, opts: Triangular) -> Array {
    ok(try_triangular_solve(a, b, opts))
}

/// [`triangular_solve`], returning shape errors.
pub fn try_triangular_solve(a: &Array, b: &Array, opts: Triangular) -> Result<Array> {
    let (a, b) = super::common(a, b);
    let n = square("triangular_solve", &a)?;
    let (br, bc) = matrix("triangular_solve", &b)?;
    let inner = if opts.left_side { br } else { bc };
    if inner != n {
        return op_err(format!(
            "triangular_solve: a has shape {:?} but b has shape {:?} ({} side needs b's {} dimension to be {n})",
            a.shape(),
            b.shape(),
            if opts.left_side { "left" } else { "right" },
            if opts.left_side { "row" } else { "column" },
        ));
    }
    let (a, b) = broadcast_batch("triangular_solve", &a, &b)?;
    if !opts.left_side {
        // x op(a) = b  <=>  op(a)ᵀ xᵀ = bᵀ.
        let flipped = Triangular {
            left_side: true,
            transpose_a: !opts.transpose_a,
            ..opts
        };
        return Ok(mt(&triangular_solve(&a, &mt(&b), flipped)));
    }
    let m = if opts.transpose_a { mt(&a) } else { a };
    Ok(if opts.lower != opts.transpose_a {
        lower_solve(&m, &b, opts.unit_diagonal)
    } else {
        upper_solve(&m, &b, opts.unit_diagonal)
    })
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

/// An LU factorisation `a[perm] = l u`.
pub(crate) struct Lu {
    /// `[..., m, k]` unit lower triangular.
    pub l: Array,
    /// `[..., k, n]` upper triangular.
    pub u: Array,
    /// `[..., m]` i32: row `i` of `l u` is row `perm[i]` of `a`.
    pub perm: Array,
    /// `[..., k]` i32, LAPACK style: step `j` swapped rows `j` and `piv[j]`.
    pub piv: Array,
}

/// Gaussian elimination with partial pivoting, one column per step: the
/// pivot row is found with `argmax` over the masked column, swapped with
/// row `j` in `u`, `l` and the permutation by a rank-one update with the
/// one-hot difference `e_j - e_p` (no gather needed), then the rows below
/// are eliminated.
pub(crate) fn lu_raw(a: &Array) -> Lu {
    let s = a.shape();
    let (m, n) = (s[s.len() - 2], s[s.len() - 1]);
    let k = m.min(n);
    let iota = rows(m, a, |i| i as f64);
    let mut u = a.clone();
    let mut l = Array::zeros(&with(&batch(a), &[m, k]), a.dtype());
    let mut perm = iota.clone();
    let mut piv = Vec::with_capacity(k);
    for j in 0..k {
        let col = sl(&u, -1, j, j + 1);
        let cand = Array::where_(&iota.greater_equal(j as f64), col.abs(), -1.0);
        let p = cand.argmax(Some(-2)).expand_dims(-1);
        let ep = iota.equal(p.astype(a.dtype())).astype(a.dtype());
        let d = &rows(m, a, |i| mask(i == j)) - &ep;
        // Row j <-> row p: x - d dᵀ x with d = e_j - e_p, as matmuls so that
        // under jit each step is materialised (an elementwise chain over all
        // steps would grow every fused kernel).
        let swap = |x: &Array| x - &d.matmul(&mt(&d).matmul(x));
        u = swap(&u);
        l = swap(&l);
        perm = swap(&perm);
        let row = sl(&u, -2, j, j + 1);
        let pivot = sl(&row, -1, j, j + 1);
        let safe = Array::where_(&pivot.equal(0.0), 1.0, &pivot);
        let lj = &sl(&u, -1, j, j + 1) * &rows(m, a, |i| mask(i > j)) / safe;
        u = &u - &lj.matmul(&row);
        l = &l + &(&lj * &cols(k, a, |c| mask(c == j)));
        piv.push(p.squeeze(&[-1]));
    }
    let b = batch(a);
    let perm = perm.broadcast_to(&with(&b, &[m, 1]));
    Lu {
        l: &l + &eye(m, k, a),
        u: triu(&sl(&u, -2, 0, k)),
        perm: perm.squeeze(&[-1]).astype(DType::I32),
        piv: if k == 0 {
            Array::zeros(&with(&b, &[0]), DType::I32)
        } else {
            concat(&piv, -1)
        },
    }
}

/// The permutation matrix `P` with `P[i, r] = (perm[i] == r)`, so `P a = l u`.
fn perm_matrix(perm: &Array, m: usize, like: &Array) -> Array {
    let r = cols(m, like, |c| c as f64);
    perm.astype(like.dtype())
        .expand_dims(-1)
        .equal(&r)
        .astype(like.dtype())
}

/// `a⁻¹ b` from a square factorisation: permute, forward- then back-substitute.
pub(crate) fn lu_solve(f: &Lu, b: &Array) -> Array {
    let m = f.l.shape()[f.l.ndim() - 2];
    let pb = perm_matrix(&f.perm, m, &f.u).matmul(b);
    upper_solve(&f.u, &lower_solve(&f.l, &pb, true), false)
}

/// `(p, l, u)` with `a = p l u` (`jax.scipy.linalg.lu`), partial pivoting,
/// for `[..., m, n]`: `p` `[..., m, m]`, `l` `[..., m, k]` unit lower, `u`
/// `[..., k, n]`, `k = min(m, n)`. Differentiable through the elimination.
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
    let (m, _) = ok(matrix("lu", &a));
    let f = lu_raw(&a);
    (mt(&perm_matrix(&f.perm, m, &a)), f.l, f.u)
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
    let (m, n) = ok(matrix("lu_factor", &a));
    let f = lu_raw(&a);
    let k = m.min(n);
    // Place l's strict lower part into an [m, n] matrix beside u.
    let l = &f.l - &eye(m, k, &a);
    let l = if n > k {
        l.pad(&pad_last(l.ndim(), n - k), 0.0)
    } else {
        sl(&l, -1, 0, n)
    };
    let u = if m > k {
        f.u.pad(&pad_rows(f.u.ndim(), m - k), 0.0)
    } else {
        f.u.clone()
    };
    (&l + &u, f.piv)
}

fn pad_last(rank: usize, extra: usize) -> Vec<(usize, usize)> {
    let mut w = vec![(0, 0); rank];
    w[rank - 1] = (0, extra);
    w
}

fn pad_rows(rank: usize, extra: usize) -> Vec<(usize, usize)> {
    let mut w = vec![(0, 0); rank];
    w[rank - 2] = (0, extra);
    w
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
/// LAPACK's sign convention (so results match NumPy's). `min(m - 1, n)`
/// reflection steps; differentiable through them.
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
    ok(matrix("qr", &a));
    qr_raw(&a, mode == QrMode::Complete)
}

/// Householder QR: step `j` reflects the masked column `j` (rows `>= j`)
/// onto `∓‖x‖ e_j`, applied to `r` from the left and accumulated into `q`
/// from the right. A column with nothing below the diagonal is left alone
/// (LAPACK's `tau = 0`).
pub(crate) fn qr_raw(a: &Array, complete: bool) -> (Array, Array) {
    let s = a.shape();
    let (m, n) = (s[s.len() - 2], s[s.len() - 1]);
    let k = m.min(n);
    let mut r = a.clone();
    let mut q = eye(m, m, a);
    for j in 0..m.saturating_sub(1).min(n) {
        let x = &sl(&r, -1, j, j + 1) * &rows(m, a, |i| mask(i >= j));
        let xj = sl(&x, -2, j, j + 1);
        let tail = &x * &rows(m, a, |i| mask(i > j));
        let tail2 = (&tail * &tail).sum(-2, true);
        let norm = (&tail2 + &(&xj * &xj)).sqrt();
        let alpha = Array::where_(&xj.greater_equal(0.0), -&norm, &norm);
        let v = &x - &(&alpha * &rows(m, a, |i| mask(i == j)));
        let vn2 = (&v * &v).sum(-2, true);
        let flat = tail2.equal(0.0);
        let v = Array::where_(&flat, 0.0, &v * &Array::where_(&flat, 1.0, &vn2).rsqrt());
        // H = I - 2 v vᵀ.
        r = &r - &v.matmul(&(mt(&v).matmul(&r) * 2.0));
        q = &q - &q.matmul(&v).matmul(&(mt(&v) * 2.0));
    }
    let r = triu(&r);
    let q = q.broadcast_to(&with(&batch(a), &[m, m]));
    if complete {
        (q, r)
    } else {
        (sl(&q, -1, 0, k), sl(&r, -2, 0, k))
    }
}
