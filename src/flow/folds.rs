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
                "setting `folds` must be at least 2, got {k}"
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

    /// Composition-grouped k-fold: every row of one group (`group[i]`, the
    /// group of row `i`, e.g. from [`composition_groups`]) in the same
    /// fold, so a probe never trains on an isomer (or polymorph) of a
    /// held-out structure.
    ///
    /// The groups are shuffled by a ChaCha8 generator seeded with `seed`
    /// (Fisher–Yates), then sorted by decreasing size (stable, so groups of
    /// one size keep their shuffled order), and each goes to the fold with
    /// the fewest rows so far, the lowest-numbered on ties: scikit-learn's
    /// `GroupKFold` balancing, on a seeded order.
    pub fn grouped(group: &[u32], k: usize, seed: u64) -> Result<Folds> {
        let n = group.len();
        if k < 2 {
            return Err(CpdError::Invalid(format!(
                "setting `folds` must be at least 2, got {k}"
            )));
        }
        let groups = group.iter().map(|&g| g as usize + 1).max().unwrap_or(0);
        if groups < k {
            return Err(CpdError::Invalid(format!(
                "{groups} distinct compositions are fewer than the {k} folds requested: \
                 grouped folds need at least one composition per fold"
            )));
        }
        let mut size = vec![0usize; groups];
        for &g in group {
            size[g as usize] += 1;
        }
        let mut order: Vec<usize> = (0..groups).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        order.sort_by_key(|&g| std::cmp::Reverse(size[g]));
        let mut fold_of = vec![0usize; groups];
        let mut load = vec![0usize; k];
        for g in order {
            let f = (0..k).min_by_key(|&f| (load[f], f)).expect("k ≥ 2");
            fold_of[g] = f;
            load[f] += size[g];
        }
        if let Some(f) = load.iter().position(|&l| l < 2) {
            return Err(CpdError::Invalid(format!(
                "grouped folds: fold {f} gets {} row(s) ({n} rows in {groups} compositions): \
                 every fold needs at least 2 rows for R² to be defined",
                load[f]
            )));
        }
        Ok(Folds {
            k,
            assignment: group.iter().map(|&g| fold_of[g as usize]).collect(),
        })
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

/// The group of every row of `composition`: rows with identical values
/// (`+0.0` and `−0.0` alike) share a group; groups are numbered from 0 in
/// order of their first row.
pub fn composition_groups(composition: ndarray::ArrayView2<'_, f64>) -> Vec<u32> {
    let mut seen: std::collections::HashMap<Vec<u64>, u32> = std::collections::HashMap::new();
    composition
        .rows()
        .into_iter()
        .map(|row| {
            let key: Vec<u64> = row.iter().map(|v| (v + 0.0).to_bits()).collect();
            let next = seen.len() as u32;
            *seen.entry(key).or_insert(next)
        })
        .collect()
}

/// How rows are grouped when folds are made (`--group-folds`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum GroupFolds {
    /// Rows of identical composition share a fold.
    Composition,
}

impl GroupFolds {
    /// The name used on the command line, in manifests and in reports.
    pub fn name(self) -> &'static str {
        "composition"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_folds_keep_every_composition_in_one_fold_and_balance_sizes() {
        // 40 groups of sizes 1..=8 (cycling), 180 rows.
        let group: Vec<u32> = (0..40u32)
            .flat_map(|g| std::iter::repeat_n(g, (g % 8 + 1) as usize))
            .collect();
        let f = Folds::grouped(&group, 5, 3).unwrap();
        assert_eq!(f.assignment.len(), group.len());
        for (i, &g) in group.iter().enumerate() {
            let first = group.iter().position(|&h| h == g).unwrap();
            assert_eq!(f.assignment[i], f.assignment[first], "group {g} split");
        }
        let sizes = f.sizes();
        assert_eq!(sizes.iter().sum::<usize>(), 180);
        let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(
            hi - lo <= 8,
            "greedy balance within the largest group: {sizes:?}"
        );
        assert_eq!(f, Folds::grouped(&group, 5, 3).unwrap(), "seeded");
        assert_ne!(f, Folds::grouped(&group, 5, 4).unwrap(), "another seed");
        let e = Folds::grouped(&[0, 0, 1, 1], 3, 0).unwrap_err().to_string();
        assert!(
            e.contains("2 distinct compositions are fewer than the 3 folds"),
            "{e}"
        );
        let e = Folds::grouped(&[0, 0, 0, 0, 1, 2], 3, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 2 rows"), "{e}");
    }

    #[test]
    fn composition_groups_number_identical_rows_alike() {
        let c = ndarray::array![[1.0, 2.0], [0.0, 1.0], [1.0, 2.0], [-0.0, 1.0], [3.0, 0.0]];
        assert_eq!(composition_groups(c.view()), vec![0, 1, 0, 1, 2]);
    }

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
