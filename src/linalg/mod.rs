//! The few dense linear-algebra kernels cpd needs, behind one small interface
//! so the backend can change without touching the numerical code that calls it.
//!
//! * Default backend: [`faer`] (pure Rust, builds with plain cargo).
//! * Feature `lapack`: `ndarray-linalg` on the system OpenBLAS/LAPACK.
//!
//! All kernels take `ndarray` views of any memory layout and return owned
//! arrays in column-major (Fortran) order, the layout the backends prefer.
//! They run on the calling thread: cpd parallelises across independent jobs
//! (folds × representations), which keeps results bit-identical whatever the
//! thread count.

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};

use crate::error::{CpdError, Result};

#[cfg(not(feature = "lapack"))]
mod faer_backend;
#[cfg(not(feature = "lapack"))]
use faer_backend as backend;

#[cfg(feature = "lapack")]
mod lapack_backend;
#[cfg(feature = "lapack")]
use lapack_backend as backend;

mod select_f32;
pub use select_f32::{select_t_times, select_times};

/// Name of the compiled backend, recorded in reports.
pub const BACKEND: &str = backend::NAME;

/// `XᵀX` for an `n × d` matrix, as a full symmetric `d × d` matrix.
///
/// Only the lower triangle is computed (a SYRK-shaped product) and mirrored.
pub fn gram(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut g = backend::gram_lower(x);
    let d = g.nrows();
    for j in 0..d {
        for i in (j + 1)..d {
            g[(j, i)] = g[(i, j)];
        }
    }
    g
}

/// `G += XᵀX` on the lower triangle of `g` only (its upper triangle is left
/// as it is); finish with [`mirror_lower`]. For Gram matrices accumulated
/// over blocks of rows.
pub fn gram_lower_add(x: ArrayView2<'_, f64>, g: &mut Array2<f64>) {
    assert_eq!(g.dim(), (x.ncols(), x.ncols()), "gram_lower_add: shape");
    backend::gram_lower_add(x, g)
}

/// Copy the lower triangle of a square matrix onto its upper triangle.
pub fn mirror_lower(g: &mut Array2<f64>) {
    let d = g.nrows();
    for j in 0..d {
        for i in (j + 1)..d {
            g[(j, i)] = g[(i, j)];
        }
    }
}

/// `A·B`.
pub fn matmul(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
    assert_eq!(a.ncols(), b.nrows(), "matmul: inner dimensions differ");
    backend::matmul(a, b)
}

/// `Aᵀ·B`.
pub fn matmul_tn(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
    assert_eq!(a.nrows(), b.nrows(), "matmul_tn: row counts differ");
    backend::matmul(a.t(), b)
}

/// `C = A·B`, or `C += A·B` with `accumulate`, written into `c` (no
/// allocation; any strides). For loops that must not allocate per step.
pub fn matmul_into(
    c: ArrayViewMut2<'_, f64>,
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
    accumulate: bool,
) {
    check_into(c.dim(), a.dim(), b.dim());
    backend::matmul_into(c, a, b, accumulate, 1.0)
}

/// [`matmul_into`] in single precision (the MLP probe's arithmetic).
pub fn matmul_into_f32(
    c: ArrayViewMut2<'_, f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    accumulate: bool,
) {
    check_into(c.dim(), a.dim(), b.dim());
    backend::matmul_into(c, a, b, accumulate, 1.0)
}

fn check_into(c: (usize, usize), a: (usize, usize), b: (usize, usize)) {
    assert!(
        a.1 == b.0 && c == (a.0, b.1),
        "matmul_into: shapes {c:?} = {a:?} x {b:?} do not agree"
    );
}

/// Thin singular value decomposition `A = U diag(s) Vᵀ` (`k = min(m, n)`
/// triplets), singular values in non-increasing order. Computed by faer
/// under either backend.
pub fn svd_thin(a: ArrayView2<'_, f64>) -> Result<(Array2<f64>, Array1<f64>, Array2<f64>)> {
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Ok((
            Array2::zeros((m, 0)),
            Array1::zeros(0),
            Array2::zeros((n, 0)),
        ));
    }
    let mat = faer::Mat::<f64>::from_fn(m, n, |i, j| a[(i, j)]);
    let svd = mat
        .thin_svd()
        .map_err(|e| CpdError::Numerical(format!("singular value decomposition: {e:?}")))?;
    let (u, s, v) = (svd.U(), svd.S().column_vector(), svd.V());
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&p, &q| s[q].total_cmp(&s[p]));
    let uo = Array2::from_shape_fn((m, k).f(), |(i, j)| u[(i, order[j])]);
    let so = Array1::from_shape_fn(k, |j| s[order[j]]);
    let vo = Array2::from_shape_fn((n, k).f(), |(i, j)| v[(i, order[j])]);
    Ok((uo, so, vo))
}

/// Eigendecomposition of a symmetric matrix `A = V diag(λ) Vᵀ`.
///
/// Only the lower triangle of `a` is read. Eigenvalues are returned in
/// non-decreasing order, eigenvectors as the columns of `V` (orthonormal).
/// The sign of each eigenvector is unspecified.
pub fn sym_eigen(a: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>)> {
    if a.nrows() != a.ncols() {
        return Err(CpdError::Numerical(format!(
            "eigendecomposition of a non-square {}x{} matrix",
            a.nrows(),
            a.ncols()
        )));
    }
    if a.nrows() == 0 {
        return Ok((Array1::zeros(0), Array2::zeros((0, 0))));
    }
    backend::sym_eigen(a)
}

/// Thin QR decomposition with column pivoting, truncated to numerical rank.
#[derive(Debug, Clone)]
pub struct PivotedQr {
    /// `n × rank` matrix with orthonormal columns spanning the column space.
    pub q: Array2<f64>,
    /// Diagonal of `R` for every column (non-increasing in magnitude).
    pub r_diag: Vec<f64>,
    /// Column permutation: `perm[j]` is the original index of pivot column `j`.
    pub perm: Vec<usize>,
    /// Numerical rank: the number of `|R_jj| > tol · |R_00|`.
    pub rank: usize,
    /// The relative tolerance used for the rank decision.
    pub tol: f64,
}

/// Householder QR with column pivoting (Businger & Golub 1965; Golub & Van
/// Loan, *Matrix Computations* 4th ed., Alg. 5.4.1): `A P = Q R`.
///
/// At each step the remaining column of largest norm is moved to the front,
/// so `|R_00| ≥ |R_11| ≥ …` and the numerical rank is read off the diagonal:
/// columns with `|R_jj| ≤ tol · |R_00|` are dependent on earlier ones. With
/// `tol = None` the tolerance is `max(n, m) · ε`, NumPy's `matrix_rank` rule.
/// Column norms are recomputed at every step rather than downdated, which is
/// exact and cheap for the narrow matrices (a composition has a handful of
/// columns) this is written for. A zero matrix has rank 0.
pub fn qr_pivoted(a: ArrayView2<'_, f64>, tol: Option<f64>) -> PivotedQr {
    let mut w = Array2::<f64>::zeros(a.raw_dim().f());
    w.assign(&a);
    qr_pivoted_owned(w, tol)
}

/// [`qr_pivoted`] factoring `w` in place (fastest column-major): with `n`
/// rows, the only other `n`-sized allocation is `Q` itself. Each
/// Householder vector is kept in the column it zeroed, below the rows of
/// `R` it left alone.
pub fn qr_pivoted_owned(mut w: Array2<f64>, tol: Option<f64>) -> PivotedQr {
    let (n, m) = w.dim();
    let tol = tol.unwrap_or(n.max(m) as f64 * f64::EPSILON);
    let mut perm: Vec<usize> = (0..m).collect();
    let steps = n.min(m);
    let mut r_diag = Vec::with_capacity(steps);
    // β of each reflector; its vector is w[j.., j].
    let mut betas: Vec<f64> = Vec::with_capacity(steps);

    for j in 0..steps {
        let mut best = j;
        let mut best_norm = -1.0;
        for c in j..m {
            let norm = w.slice(s![j.., c]).iter().map(|v| v * v).sum::<f64>();
            if norm > best_norm {
                best_norm = norm;
                best = c;
            }
        }
        if best != j {
            for i in 0..n {
                w.swap((i, j), (i, best));
            }
            perm.swap(j, best);
        }
        let norm_x = w
            .slice(s![j.., j])
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt();
        if norm_x == 0.0 {
            // Everything left is exactly zero: R_jj = 0, identity reflector.
            r_diag.push(0.0);
            betas.push(0.0);
            continue;
        }
        let alpha = if w[(j, j)] >= 0.0 { -norm_x } else { norm_x };
        w[(j, j)] -= alpha;
        let (done, mut rest) = w.view_mut().split_at(ndarray::Axis(1), j + 1);
        let v = done.slice(s![j.., j]);
        let vnorm2 = v.iter().map(|t| t * t).sum::<f64>();
        let beta = if vnorm2 > 0.0 { 2.0 / vnorm2 } else { 0.0 };
        for mut col in rest.slice_mut(s![j.., ..]).columns_mut() {
            let dot = col.iter().zip(v.iter()).map(|(a, b)| a * b).sum::<f64>();
            col.scaled_add(-beta * dot, &v);
        }
        r_diag.push(alpha);
        betas.push(beta);
    }

    let r00 = r_diag.first().map(|v| v.abs()).unwrap_or(0.0);
    let rank = r_diag
        .iter()
        .take_while(|v| r00 > 0.0 && v.abs() > tol * r00)
        .count();

    // Q = H_0 H_1 … H_{k-1} applied to the first `rank` unit vectors.
    let mut q = Array2::<f64>::zeros((n, rank).f());
    for c in 0..rank {
        q[(c, c)] = 1.0;
    }
    for (j, &beta) in betas.iter().enumerate().rev() {
        if beta == 0.0 {
            continue;
        }
        let v = w.slice(s![j.., j]);
        for c in 0..rank {
            let mut col = q.slice_mut(s![j.., c]);
            let dot = col.iter().zip(v.iter()).map(|(a, b)| a * b).sum::<f64>();
            col.scaled_add(-beta * dot, &v);
        }
    }
    drop(w);
    PivotedQr {
        q,
        r_diag,
        perm,
        rank,
        tol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn lcg_matrix(n: usize, m: usize, seed: u64) -> Array2<f64> {
        let mut state = seed;
        Array2::from_shape_fn((n, m), |_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        })
    }

    fn naive_matmul(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let mut c = Array2::zeros((a.nrows(), b.ncols()));
        for i in 0..a.nrows() {
            for j in 0..b.ncols() {
                let mut s = 0.0;
                for k in 0..a.ncols() {
                    s += a[(i, k)] * b[(k, j)];
                }
                c[(i, j)] = s;
            }
        }
        c
    }

    fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        a.iter()
            .zip(b.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn gram_and_matmul_match_naive_products_around_block_sizes() {
        for &(n, d) in &[(1, 1), (7, 3), (63, 64), (65, 129), (300, 17)] {
            let x = lcg_matrix(n, d, n as u64 * 31 + d as u64);
            let naive = naive_matmul(&x.t().to_owned(), &x);
            let tol = 128.0 * f64::EPSILON * n as f64;
            assert!(max_abs_diff(&gram(x.view()), &naive) <= tol, "gram {n}x{d}");
            let y = lcg_matrix(d, 5, 7);
            assert!(max_abs_diff(&matmul(x.view(), y.view()), &naive_matmul(&x, &y)) <= tol);
            let z = lcg_matrix(n, 4, 9);
            let tn = naive_matmul(&x.t().to_owned(), &z);
            assert!(max_abs_diff(&matmul_tn(x.view(), z.view()), &tn) <= tol);
        }
    }

    #[test]
    fn matmul_into_replaces_and_accumulates_for_any_layout() {
        for &(n, k, m) in &[(1, 1, 1), (200, 37, 128), (65, 129, 3)] {
            let a = lcg_matrix(n, k, 1);
            let b = lcg_matrix(k, m, 2);
            let want = naive_matmul(&a, &b);
            let tol = 128.0 * f64::EPSILON * k as f64;
            let mut c = Array2::<f64>::from_elem((n, m).f(), 7.0);
            matmul_into(c.view_mut(), a.view(), b.view(), false);
            assert!(max_abs_diff(&c, &want) <= tol);
            matmul_into(c.view_mut(), a.view(), b.view(), true);
            assert!(max_abs_diff(&c, &(&want * 2.0)) <= 2.0 * tol);
            // Transposed operand (a strided view), single precision.
            let at = a.t().to_owned();
            let (a32, b32) = (at.mapv(|v| v as f32), b.mapv(|v| v as f32));
            let mut c32 = Array2::<f32>::zeros((n, m));
            matmul_into_f32(c32.view_mut(), a32.t(), b32.view(), false);
            let err = c32
                .iter()
                .zip(want.iter())
                .map(|(x, y)| (*x as f64 - y).abs())
                .fold(0.0, f64::max);
            assert!(err <= 1e-5 * k as f64, "f32 {n}x{k}x{m}: {err}");
        }
    }

    #[test]
    fn eigen_reconstructs_and_is_sorted() {
        for &d in &[1usize, 2, 33, 100] {
            let x = lcg_matrix(d + 10, d, d as u64);
            let a = gram(x.view());
            let (lam, v) = sym_eigen(a.view()).unwrap();
            assert!(lam.windows(2).into_iter().all(|w| w[0] <= w[1]));
            let vl = &v * &lam.view().insert_axis(ndarray::Axis(0));
            let rec = naive_matmul(&vl, &v.t().to_owned());
            let scale = lam.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(max_abs_diff(&rec, &a) <= 128.0 * f64::EPSILON * scale * d as f64);
            let vtv = naive_matmul(&v.t().to_owned(), &v);
            assert!(max_abs_diff(&vtv, &Array2::eye(d)) <= 1e-12);
        }
    }

    #[test]
    fn pivoted_qr_reconstructs_a_p_and_q_is_orthonormal() {
        for &(n, m) in &[(5, 5), (40, 6), (200, 12), (3, 7)] {
            let a = lcg_matrix(n, m, (n * m) as u64);
            let qr = qr_pivoted(a.view(), None);
            assert_eq!(qr.rank, n.min(m));
            let qtq = naive_matmul(&qr.q.t().to_owned(), &qr.q);
            assert!(max_abs_diff(&qtq, &Array2::eye(qr.rank)) <= 1e-13);
            // Q Qᵀ A P = A P when A has full column rank (n ≥ m).
            if n >= m {
                let proj = naive_matmul(&qr.q, &naive_matmul(&qr.q.t().to_owned(), &a));
                assert!(max_abs_diff(&proj, &a) <= 128.0 * f64::EPSILON * n as f64);
                let rd: Vec<f64> = qr.r_diag.iter().map(|v| v.abs()).collect();
                assert!(rd.windows(2).all(|w| w[0] >= w[1] * (1.0 - 1e-12)));
            }
        }
    }

    #[test]
    fn pivoted_qr_reports_rank_deficiency_and_zero_matrix() {
        // Third column = first + second; fourth column all zero.
        let mut a = lcg_matrix(30, 4, 3);
        for i in 0..30 {
            a[(i, 2)] = a[(i, 0)] + a[(i, 1)];
            a[(i, 3)] = 0.0;
        }
        let qr = qr_pivoted(a.view(), None);
        assert_eq!(qr.rank, 2);
        assert!(qr.perm[2..].contains(&3));
        let zero = Array2::<f64>::zeros((4, 3));
        let qz = qr_pivoted(zero.view(), None);
        assert_eq!(qz.rank, 0);
        assert_eq!(qz.q.ncols(), 0);
    }
}
