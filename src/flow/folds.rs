//! Cross-validation folds: shuffled k-fold from a seed, or a user's own
//! assignment (`id,fold` CSV, e.g. scaffold splits). The same folds serve
//! every representation, probe and target of a run.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{CpdError, Result};
use crate::flow::dataset::align_ids;
use crate::io::ids::Ids;
use crate::io::table::Table;

/// A fold index per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folds {
    /// Number of folds.
    pub k: usize,
    /// `assignment[i]` is the fold of row `i` (0-based).
    pub assignment: Vec<usize>,
}

impl Folds {
    /// Shuffled k-fold: rows are permuted by a ChaCha8 generator seeded with
    /// `seed` (Fisher–Yates), then cut into `k` consecutive blocks whose sizes
    /// differ by at most one, the larger first (scikit-learn's `KFold` sizes).
    pub fn shuffled(n: usize, k: usize, seed: u64) -> Result<Folds> {
        if k < 2 {
            return Err(CpdError::Invalid(format!(
                "--folds must be at least 2, got {k}"
            )));
        }
        if n < k {
            return Err(CpdError::Invalid(format!(
                "{n} rows are fewer than the {k} folds requested"
            )));
        }
        if n < 2 * k {
            return Err(CpdError::Invalid(format!(
                "{n} rows are too few for {k} folds: every fold needs at least 2 rows for R² to be defined"
            )));
        }
        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut assignment = vec![0; n];
        let mut start = 0;
        for f in 0..k {
            let size = n / k + usize::from(f < n % k);
            for &row in &perm[start..start + size] {
                assignment[row] = f;
            }
            start += size;
        }
        Ok(Folds { k, assignment })
    }

    /// Folds from an `id,fold` table, aligned to `ids`. Fold labels must be
    /// the integers `0..k` with every fold non-empty and `k ≥ 2`.
    pub fn from_table(table: &Table, ids: &Ids, ids_path: &std::path::Path) -> Result<Folds> {
        let col = table.column_index("fold").ok_or_else(|| {
            CpdError::format(
                &table.path,
                "no 'fold' column (expected a CSV with columns id,fold)",
            )
        })?;
        let order = align_ids(ids, ids_path, &table.ids, &table.path)?;
        let mut assignment = Vec::with_capacity(ids.len());
        for &r in &order {
            let v = table.values[(r, col)];
            if v < 0.0 || v.fract() != 0.0 || v >= ids.len() as f64 {
                return Err(CpdError::Cell {
                    path: table.path.clone(),
                    row: r + 1,
                    column: "fold".into(),
                    message: format!(
                        "fold '{v}' is not an integer in 0..{} (one per row at most)",
                        ids.len()
                    ),
                });
            }
            assignment.push(v as usize);
        }
        let k = assignment.iter().max().map_or(0, |m| m + 1);
        if k < 2 {
            return Err(CpdError::format(&table.path, "at least 2 folds are needed"));
        }
        let folds = Folds { k, assignment };
        for (f, size) in folds.sizes().into_iter().enumerate() {
            if size == 0 {
                return Err(CpdError::format(
                    &table.path,
                    format!("fold {f} is empty (folds must be numbered 0..{})", k - 1),
                ));
            }
            if size < 2 {
                return Err(CpdError::format(
                    &table.path,
                    format!(
                        "fold {f} has 1 row: every fold needs at least 2 rows for R² to be defined"
                    ),
                ));
            }
        }
        Ok(folds)
    }

    /// Training and test row indices of fold `f`, each in increasing order.
    pub fn split(&self, f: usize) -> (Vec<usize>, Vec<usize>) {
        let mut train = Vec::new();
        let mut test = Vec::new();
        for (i, &a) in self.assignment.iter().enumerate() {
            if a == f {
                test.push(i);
            } else {
                train.push(i);
            }
        }
        (train, test)
    }

    /// The held-out rows of fold `f`, in increasing order.
    pub fn test(&self, f: usize) -> Vec<usize> {
        (0..self.assignment.len())
            .filter(|&i| self.assignment[i] == f)
            .collect()
    }

    /// Number of rows in each fold.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![0; self.k];
        for &a in &self.assignment {
            s[a] += 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffled_folds_have_kfold_sizes_and_depend_on_seed_only() {
        let f = Folds::shuffled(23, 5, 0).unwrap();
        assert!(Folds::shuffled(9, 5, 0)
            .unwrap_err()
            .to_string()
            .contains("at least 2 rows"));
        assert_eq!(f.sizes(), vec![5, 5, 5, 4, 4]);
        assert_eq!(f, Folds::shuffled(23, 5, 0).unwrap());
        assert_ne!(f, Folds::shuffled(23, 5, 1).unwrap());
        let (train, test) = f.split(3);
        assert_eq!(train.len() + test.len(), 23);
        assert!(test.iter().all(|&i| f.assignment[i] == 3));
        assert!(Folds::shuffled(4, 5, 0)
            .unwrap_err()
            .to_string()
            .contains("fewer than the 5 folds"));
        assert!(Folds::shuffled(10, 1, 0).is_err());
    }

    #[test]
    fn folds_from_a_table_are_validated() {
        let ids: Ids = ["a", "b", "c", "d"].into_iter().collect();
        let t = |vals: [f64; 4]| Table {
            path: "folds.csv".into(),
            ids: ["d", "c", "b", "a"].into_iter().collect(),
            columns: vec!["fold".into()],
            values: ndarray::Array2::from_shape_vec((4, 1), vals.to_vec()).unwrap(),
        };
        let f = Folds::from_table(&t([1., 0., 1., 0.]), &ids, "c.csv".as_ref()).unwrap();
        assert_eq!(f.assignment, vec![0, 1, 0, 1]);
        let e = Folds::from_table(&t([2., 0., 0., 2.]), &ids, "c.csv".as_ref()).unwrap_err();
        assert!(e.to_string().contains("fold 1 is empty"), "{e}");
        let e = Folds::from_table(&t([0.5, 0., 1., 1.]), &ids, "c.csv".as_ref()).unwrap_err();
        assert!(e.to_string().contains("is not an integer in 0..4"), "{e}");
        let e = Folds::from_table(&t([1., 0., 0., 0.]), &ids, "c.csv".as_ref()).unwrap_err();
        assert!(e.to_string().contains("fold 1 has 1 row"), "{e}");
        let e = Folds::from_table(&t([1e300, 0., 0., 0.]), &ids, "c.csv".as_ref()).unwrap_err();
        assert!(e.to_string().contains("is not an integer"), "{e}");
    }
}
