//! Per-fold sums and Gram matrices of a representation, from one pass over
//! its rows.
//!
//! The held-out folds partition the rows, so the sums of any training fold
//! are the sums of the other folds. Taken about one shift `μ` (the mean of
//! every row), each fold's `Σ (x − μ)` and `Σ (x − μ)(x − μ)ᵀ` are computed
//! once; a training fold's centred Gram matrix is then
//! `Σ_{g≠f} G_g − S Sᵀ/n` with `S = Σ_{g≠f} s_g` over its `n` rows, and the
//! whole representation's is the same sum over every fold. Ridge's
//! cross-validation ([`crate::probe::ridge`], given them by
//! [`crate::probe::cv::cross_validate_with`]) and the layer statistics
//! ([`crate::analyses::layerstats`]) read them, so a layer's rows are
//! multiplied into a Gram matrix once for both (`n·d²` flops, against
//! `k − 1` times that for one Gram matrix per training fold).
//!
//! Memory: `k` lower-triangular `d × d` matrices (5 × 8 MB at `d = 1024`).

use ndarray::{s, Array1, Array2, ArrayViewMut2, Axis, ShapeBuilder};
use rayon::prelude::*;

use crate::flow::folds::Folds;
use crate::flow::rows::{Rows, BLOCK};
use crate::linalg;

/// Rows per matrix product of a Gram pass: several [`BLOCK`]s, read one
/// block at a time, so that the product's operands are packed once per
/// 1024 rows rather than once per block.
pub const PRODUCT_ROWS: usize = 4 * BLOCK;

/// The rows `rows` of `x` into `out`, read [`BLOCK`] rows at a time.
pub fn fill_blocks(x: &dyn Rows, rows: &[usize], mut out: ArrayViewMut2<'_, f64>) {
    for (k, chunk) in rows.chunks(BLOCK).enumerate() {
        x.fill(
            chunk,
            out.slice_mut(s![k * BLOCK..k * BLOCK + chunk.len(), ..]),
        );
    }
}

/// Column sums and per-column extremes of a set of rows.
#[derive(Debug, Clone)]
pub struct Sums {
    /// Rows.
    pub n: usize,
    /// `Σ x`.
    pub sum: Array1<f64>,
    /// Smallest value per column (`+∞` for no rows).
    pub lo: Array1<f64>,
    /// Largest value per column (`−∞` for no rows).
    pub hi: Array1<f64>,
}

impl Sums {
    /// The sums of the rows `rows` of `x`, streamed in blocks.
    pub fn of(x: &dyn Rows, rows: &[usize]) -> Sums {
        let d = x.ncols();
        let mut out = Sums {
            n: rows.len(),
            sum: Array1::zeros(d),
            lo: Array1::from_elem(d, f64::INFINITY),
            hi: Array1::from_elem(d, f64::NEG_INFINITY),
        };
        let mut buf = Array2::<f64>::zeros((BLOCK.min(rows.len()).max(1), d));
        for chunk in rows.chunks(BLOCK) {
            let mut b = buf.slice_mut(s![..chunk.len(), ..]);
            x.fill(chunk, b.view_mut());
            for row in b.rows() {
                out.sum += &row;
                for ((lo, hi), &v) in out.lo.iter_mut().zip(out.hi.iter_mut()).zip(row) {
                    *lo = lo.min(v);
                    *hi = hi.max(v);
                }
            }
        }
        out
    }
}

/// The sums of a set of rows about a shift `μ`: `n`, `Σ (x − μ)` and the
/// lower triangle of `Σ (x − μ)(x − μ)ᵀ`. Sums of disjoint sets add.
#[derive(Debug, Clone)]
pub struct Gram {
    /// Rows.
    pub n: usize,
    /// `Σ (x − μ)`.
    pub s: Array1<f64>,
    /// `Σ (x − μ)(x − μ)ᵀ`, lower triangle (column-major `d × d`; what the
    /// upper triangle holds depends on the linear-algebra backend and is
    /// never read).
    pub g: Array2<f64>,
}

impl Gram {
    /// The Gram sums of the rows `rows` of `x` about `mu`.
    pub fn of(x: &dyn Rows, rows: &[usize], mu: &Array1<f64>) -> Gram {
        let d = x.ncols();
        let mut out = Gram {
            n: rows.len(),
            s: Array1::zeros(d),
            g: Array2::zeros((d, d).f()),
        };
        let mut buf = Array2::<f64>::zeros((PRODUCT_ROWS.min(rows.len()).max(1), d));
        for chunk in rows.chunks(PRODUCT_ROWS) {
            let mut b = buf.slice_mut(s![..chunk.len(), ..]);
            fill_blocks(x, chunk, b.view_mut());
            b -= &mu.view().insert_axis(Axis(0));
            for row in b.rows() {
                out.s += &row;
            }
            linalg::gram_lower_add(b.view(), &mut out.g);
        }
        out
    }

    /// The sums of the union of disjoint sets, added in order.
    pub fn sum<'a>(mut parts: impl Iterator<Item = &'a Gram>) -> Gram {
        let mut out = parts.next().expect("at least one part").clone();
        for p in parts {
            out.n += p.n;
            out.s += &p.s;
            out.g += &p.g;
        }
        out
    }

    /// The centred Gram matrix, lower triangle: `Σ (x − μ)(x − μ)ᵀ − S Sᵀ/n`,
    /// which is `Σ (x − x̄)(x − x̄)ᵀ`.
    pub fn centred_lower(mut self) -> Array2<f64> {
        let nf = self.n as f64;
        let d = self.s.len();
        for j in 0..d {
            for i in j..d {
                self.g[(i, j)] -= self.s[i] * self.s[j] / nf;
            }
        }
        self.g
    }
}

/// Every held-out fold's [`Sums`] and [`Gram`] sums about the mean of every
/// row, for the folds `folds`.
pub struct FoldGrams<'f> {
    folds: &'f Folds,
    /// The mean of every row: the shift of the Gram sums.
    pub mu: Array1<f64>,
    /// Each fold's column sums and extremes, in fold order.
    pub sums: Vec<Sums>,
    /// Each fold's Gram sums about `mu`, in fold order.
    pub grams: Vec<Gram>,
}

impl<'f> FoldGrams<'f> {
    /// Two passes over the rows of `x` (sums, then Gram sums), the folds in
    /// parallel, each fold's arithmetic sequential: the numbers do not
    /// depend on the thread count.
    pub fn compute(x: &dyn Rows, folds: &'f Folds) -> FoldGrams<'f> {
        // Each task lists its fold's rows itself (with millions of rows,
        // the lists of every fold at once would weigh).
        let sums: Vec<Sums> = (0..folds.k)
            .into_par_iter()
            .map(|f| Sums::of(x, &folds.test(f)))
            .collect();
        let mut mu = Array1::<f64>::zeros(x.ncols());
        for s in &sums {
            mu += &s.sum;
        }
        mu /= x.nrows() as f64;
        let grams = (0..folds.k)
            .into_par_iter()
            .map(|f| Gram::of(x, &folds.test(f), &mu))
            .collect();
        FoldGrams {
            folds,
            mu,
            sums,
            grams,
        }
    }

    /// Whether these are the sums of `folds` (the very same folds).
    pub fn of(&self, folds: &Folds) -> bool {
        std::ptr::eq(self.folds, folds)
    }

    /// The Gram sums of the training rows of fold `f` (every fold but `f`).
    pub fn training(&self, f: usize) -> Gram {
        Gram::sum(
            (0..self.grams.len())
                .filter(|&g| g != f)
                .map(|g| &self.grams[g]),
        )
    }

    /// The Gram sums of every row.
    pub fn all(&self) -> Gram {
        Gram::sum(self.grams.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::rows::Dense;

    #[test]
    fn fold_sums_add_up_to_each_training_fold_and_to_the_whole() {
        let n = 3 * PRODUCT_ROWS + 37;
        let x = Array2::from_shape_fn((n, 4), |(i, j)| {
            ((i * 7 + j * 13) % 11) as f64 * (j + 1) as f64 + 1e3
        });
        let folds = Folds::shuffled(n, 5, 3).unwrap();
        let fg = FoldGrams::compute(&Dense(x.view()), &folds);
        assert!(fg.of(&folds));
        assert!(!fg.of(&Folds::shuffled(n, 5, 3).unwrap()), "other folds");
        let centred = |rows: &[usize]| {
            let sub = x.select(Axis(0), rows);
            let c = &sub - &sub.mean_axis(Axis(0)).unwrap();
            c.t().dot(&c)
        };
        for f in 0..5 {
            let (train, _) = folds.split(f);
            let got = fg.training(f).centred_lower();
            let want = centred(&train);
            for j in 0..4 {
                for i in j..4 {
                    let (u, v) = (got[(i, j)], want[(i, j)]);
                    assert!((u - v).abs() <= 1e-9 * v.abs().max(1.0), "{u} vs {v}");
                }
            }
            let s = &fg.sums;
            let lo = (0..5)
                .filter(|&g| g != f)
                .map(|g| s[g].lo[2])
                .fold(f64::INFINITY, f64::min);
            let want_lo = train
                .iter()
                .map(|&i| x[(i, 2)])
                .fold(f64::INFINITY, f64::min);
            assert_eq!(lo, want_lo);
        }
        let all: Vec<usize> = (0..n).collect();
        let (got, want) = (fg.all().centred_lower(), centred(&all));
        assert!((got[(3, 1)] - want[(3, 1)]).abs() <= 1e-9 * want[(3, 1)].abs());
        assert_eq!(fg.all().n, n);
    }
}
