//! Composition Projection Decomposition: remove from an embedding everything
//! that is linear in composition.
//!
//! With `C1 = [1 | C]` and its pivoted QR `C1 P = Q R` truncated to numerical
//! rank, the geometric residual is `H_geom = H − Q (Qᵀ H)`: the part of every
//! column of `H` orthogonal to the constant and to every composition column.

use ndarray::{Array2, ArrayView2, Axis, Zip};

use crate::linalg;

/// Relative size below which a residual column is rounding noise, by the
/// embedding's on-disk type.
///
/// A column of `H` that is a linear function of composition (a count, a
/// constant) leaves a residual at the rounding level of its storage,
/// ~ε‖h‖; left in place, the probes would standardise it to unit variance
/// and read it as a feature — and float32 rounding of a compositional
/// column is itself a (nonlinear) function of composition. Columns with
/// `‖h_geom‖ ≤ tol · ‖h‖` are therefore set to exactly zero: `tol` = 1e-5
/// for float32 (ε ≈ 6e-8, so ~170 ε) and 1e-9 for float64. A genuine
/// geometric part below that could not be told from rounding anyway.
pub fn residual_zero_tol(dtype: &str) -> f64 {
    if dtype == "float32" {
        1e-5
    } else {
        1e-9
    }
}

/// The composition basis of a data set.
#[derive(Debug, Clone)]
pub struct Projection {
    /// `n × rank` orthonormal basis of span(`[1 | C]`).
    pub q: Array2<f64>,
    /// Numerical rank of `[1 | C]`.
    pub rank: usize,
    /// Names of the columns of `[1 | C]`: `"intercept"` then the elements.
    pub columns: Vec<String>,
    /// Columns of `[1 | C]` found linearly dependent on the others (for
    /// fractions, one of them, since fractions sum to the intercept).
    pub dropped: Vec<String>,
    /// Relative rank tolerance on `|R_jj| / |R_00|`.
    pub rank_tol: f64,
}

impl Projection {
    /// Build the basis from an `n × k` composition matrix and its column names.
    ///
    /// Each column of `[1 | C]` is divided by its largest absolute value
    /// first: the span (hence `Q`) is unchanged, the rank decision becomes
    /// independent of units, and norms cannot overflow.
    pub fn new(composition: ArrayView2<'_, f64>, names: &[String]) -> Projection {
        let (n, k) = composition.dim();
        let mut c1 = Array2::<f64>::ones((n, k + 1));
        c1.slice_mut(ndarray::s![.., 1..]).assign(&composition);
        for mut col in c1.columns_mut() {
            let m = col.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if m > 0.0 {
                col /= m;
            }
        }
        let qr = linalg::qr_pivoted(c1.view(), None);
        let mut columns = vec!["intercept".to_string()];
        columns.extend(names.iter().cloned());
        let dropped = qr.perm[qr.rank..]
            .iter()
            .map(|&j| columns[j].clone())
            .collect();
        Projection {
            q: qr.q,
            rank: qr.rank,
            columns,
            dropped,
            rank_tol: qr.tol,
        }
    }

    /// `H − Q (Qᵀ H)`, with columns that composition explains entirely
    /// (`‖h_geom‖ ≤ zero_tol · ‖h‖`, see [`residual_zero_tol`]) set to zero.
    pub fn residual(&self, h: ArrayView2<'_, f64>, zero_tol: f64) -> Array2<f64> {
        let mut r = self.residual_raw(h);
        for (j, mut col) in r.axis_iter_mut(Axis(1)).enumerate() {
            let norm_h = h.column(j).iter().map(|v| v * v).sum::<f64>().sqrt();
            let norm_r = col.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm_r <= zero_tol * norm_h {
                col.fill(0.0);
            }
        }
        r
    }

    /// `H − Q (Qᵀ H)` without the noise clean-up (used for targets), as a
    /// column-major matrix.
    pub fn residual_raw(&self, h: ArrayView2<'_, f64>) -> Array2<f64> {
        let qth = linalg::matmul_tn(self.q.view(), h);
        let mut r = linalg::matmul(self.q.view(), qth.view());
        Zip::from(&mut r).and(&h).for_each(|f, &v| *f = v - *f);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn pseudo_random(n: usize, m: usize, seed: u64) -> Array2<f64> {
        let mut s = seed;
        Array2::from_shape_fn((n, m), |_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
    }

    fn counts(n: usize) -> Array2<f64> {
        pseudo_random(n, 4, 11).mapv(|v| (v * 9.0).floor())
    }

    #[test]
    fn residual_is_orthogonal_to_every_composition_column_and_the_constant() {
        let n = 500;
        let c = counts(n);
        let names: Vec<String> = ["H", "C", "N", "O"].iter().map(|s| s.to_string()).collect();
        let p = Projection::new(c.view(), &names);
        assert_eq!(p.rank, 5);
        assert!(p.dropped.is_empty());
        // H = composition signal + geometry.
        let geo = pseudo_random(n, 20, 5);
        let h = c.dot(&pseudo_random(4, 20, 7)) * 3.0 + &geo;
        let r = p.residual(h.view(), 1e-9);
        let mut c1 = Array2::ones((n, 5));
        c1.slice_mut(ndarray::s![.., 1..]).assign(&c);
        for j in 0..r.ncols() {
            let rj = r.column(j);
            let rn = rj.dot(&rj).sqrt();
            for k in 0..5 {
                let ck = c1.column(k);
                let rel = rj.dot(&ck).abs() / (rn * ck.dot(&ck).sqrt());
                assert!(rel < 1e-10, "column {j} vs composition {k}: {rel}");
            }
        }
    }

    #[test]
    fn fractions_are_rank_deficient_and_reported() {
        let c = counts(100).mapv(|v| v + 1.0);
        let sums = c.sum_axis(Axis(1));
        let f = &c / &sums.insert_axis(Axis(1));
        let names: Vec<String> = ["H", "C", "N", "O"].iter().map(|s| s.to_string()).collect();
        let p = Projection::new(f.view(), &names);
        assert_eq!(p.rank, 4);
        assert_eq!(p.dropped.len(), 1);
    }

    #[test]
    fn columns_explained_by_composition_become_exact_zeros() {
        let c = counts(50);
        let names: Vec<String> = ["H", "C", "N", "O"].iter().map(|s| s.to_string()).collect();
        let p = Projection::new(c.view(), &names);
        let mut h = pseudo_random(50, 3, 2);
        for i in 0..50 {
            h[(i, 0)] = 2.0 * c[(i, 1)] - 0.5; // purely compositional
            h[(i, 2)] = 7.0; // constant
        }
        let r = p.residual(h.view(), 1e-9);
        assert!(r.column(0).iter().all(|&v| v == 0.0));
        assert!(r.column(2).iter().all(|&v| v == 0.0));
        assert!(r.column(1).iter().any(|&v| v != 0.0));
    }
}
