//! Composition Projection Decomposition: remove from an embedding everything
//! that is linear in composition.
//!
//! With `C1 = [1 | C]` and its pivoted QR `C1 P = Q R` truncated to numerical
//! rank, the geometric residual is `H_geom = H − Q (Qᵀ H)`: the part of every
//! column of `H` orthogonal to the constant and to every composition column.

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder, Zip};

use crate::flow::rows::{Dense, Rows, BLOCK};
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
        let mut c1 = Array2::<f64>::ones((n, k + 1).f());
        c1.slice_mut(ndarray::s![.., 1..]).assign(&composition);
        for mut col in c1.columns_mut() {
            let m = col.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if m > 0.0 {
                col /= m;
            }
        }
        let qr = linalg::qr_pivoted_owned(c1, None);
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
        self.residual_rows(&Dense(h), zero_tol).materialize()
    }

    /// The residual of `h` as a row source: `QᵀH` and the column norms take
    /// two streaming passes over `h`; rows are then computed on demand, so
    /// the residual is never held whole.
    pub fn residual_rows<'a>(&'a self, h: &'a dyn Rows, zero_tol: f64) -> Residual<'a> {
        let (n, d) = (h.nrows(), h.ncols());
        assert_eq!(
            n,
            self.q.nrows(),
            "embedding and composition row counts differ"
        );
        let r = self.q.ncols();
        let mut buf = Array2::<f64>::zeros((BLOCK, d));
        let mut qth = Array2::<f64>::zeros((r, d));
        let mut norm_h = Array1::<f64>::zeros(d);
        let blocks = || (0..n).step_by(BLOCK).map(move |i| i..(i + BLOCK).min(n));
        for range in blocks() {
            let rows: Vec<usize> = range.clone().collect();
            let mut b = buf.slice_mut(s![..rows.len(), ..]);
            h.fill(&rows, b.view_mut());
            qth += &linalg::matmul_tn(self.q.slice(s![range, ..]), b.view());
            for row in b.rows() {
                Zip::from(&mut norm_h)
                    .and(&row)
                    .for_each(|a, &v| *a += v * v);
            }
        }
        let mut res = Residual {
            h,
            q: self.q.view(),
            neg_qth: -qth,
            keep: vec![true; d],
        };
        let mut norm_r = Array1::<f64>::zeros(d);
        for range in blocks() {
            let rows: Vec<usize> = range.collect();
            let mut b = buf.slice_mut(s![..rows.len(), ..]);
            res.fill(&rows, b.view_mut());
            for row in b.rows() {
                Zip::from(&mut norm_r)
                    .and(&row)
                    .for_each(|a, &v| *a += v * v);
            }
        }
        for (j, keep) in res.keep.iter_mut().enumerate() {
            *keep = norm_r[j].sqrt() > zero_tol * norm_h[j].sqrt();
        }
        res
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

/// `H − Q (Qᵀ H)` computed row by row from `H` (see
/// [`Projection::residual_rows`]).
pub struct Residual<'a> {
    h: &'a dyn Rows,
    q: ArrayView2<'a, f64>,
    /// `−Qᵀ H` (`rank × d`).
    neg_qth: Array2<f64>,
    /// False for columns set to zero (explained by composition).
    keep: Vec<bool>,
}

impl Residual<'_> {
    /// Columns set to zero because composition explains them entirely.
    pub fn zeroed_columns(&self) -> usize {
        self.keep.iter().filter(|k| !**k).count()
    }
}

impl Rows for Residual<'_> {
    fn nrows(&self) -> usize {
        self.h.nrows()
    }

    fn ncols(&self) -> usize {
        self.h.ncols()
    }

    fn fill(&self, rows: &[usize], mut out: ArrayViewMut2<'_, f64>) {
        self.h.fill(rows, out.view_mut());
        let q_rows = self.q.select(ndarray::Axis(0), rows);
        // out += Q_rows (−QᵀH), in place (no n × d temporary).
        linalg::matmul_into(out.view_mut(), q_rows.view(), self.neg_qth.view(), true);
        for (mut col, &keep) in out.columns_mut().into_iter().zip(&self.keep) {
            if !keep {
                col.fill(0.0);
            }
        }
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
    fn streamed_residual_equals_the_direct_product() {
        // Direct H − Q(QᵀH) over the whole matrix vs the blocked row source,
        // across several blocks and in a shuffled row order.
        let n = 2 * BLOCK + 37;
        let c = counts(n);
        let names: Vec<String> = ["H", "C", "N", "O"].iter().map(|s| s.to_string()).collect();
        let p = Projection::new(c.view(), &names);
        let h = c.dot(&pseudo_random(4, 9, 3)) * 5.0 + pseudo_random(n, 9, 4);
        let direct = p.residual_raw(h.view());
        let src = Dense(h.view());
        let res = p.residual_rows(&src, 1e-9);
        assert_eq!(res.zeroed_columns(), 0);
        let rows: Vec<usize> = (0..n).map(|i| (i * 7919) % n).collect();
        let streamed = res.gather(&rows);
        for (k, &i) in rows.iter().enumerate() {
            for j in 0..9 {
                assert!((streamed[(k, j)] - direct[(i, j)]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn fractions_are_rank_deficient_and_reported() {
        let c = counts(100).mapv(|v| v + 1.0);
        let sums = c.sum_axis(ndarray::Axis(1));
        let f = &c / &sums.insert_axis(ndarray::Axis(1));
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
