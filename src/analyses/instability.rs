//! Instability diagnostics: which held-out structures decide a fold's score.
//!
//! A fold's R² is `1 − SSE/SST`; when one structure carries most of the
//! fold's squared error, that structure, not the representation, decides
//! the score. The usual cause is extrapolation: a structure that owns a
//! sparse column (a rare element) sits far outside the training fold's range
//! of that column once standardised, and a linear or MLP probe extrapolates
//! from it. For every fold this module finds
//! * the held-out structure with the largest share of the fold's squared
//!   error ([`crate::flow::metrics::worst_share`]), and
//! * the largest extrapolation, `|z| = |x − mean| / scale` against the
//!   training fold's `StandardScaler` statistics ([`extrapolation`]),
//!
//! and [`is_unstable`] turns the per-fold figures into a verdict.

use std::collections::HashMap;

use ndarray::{s, Array1, Array2};
use rayon::prelude::*;

use crate::flow::dataset::{CompositionMode, Dataset};
use crate::flow::folds::Folds;
use crate::flow::rows::{Rows, BLOCK};
use crate::io::ids::Ids;
use crate::report::{Culprit, Instability, ResultRecord};

/// A record is unstable when one held-out structure carries more than this
/// share of some fold's squared error (and costs it [`COST_LIMIT`]).
pub const SHARE_LIMIT: f64 = 0.5;

/// ... and when that structure alone costs the fold more than this much R²:
/// `e_i² / SST = share · (1 − R²)`. A structure that carries most of a
/// near-perfect fold's tiny error (R² = 0.998) decides nothing.
pub const COST_LIMIT: f64 = 0.1;

/// A record is unstable when some fold's R² lies more than this below the
/// median fold R².
pub const DROP_LIMIT: f64 = 0.5;

/// The rule [`is_unstable`] applies, in words (for reports).
pub const RULE: &str = "one held-out structure carries more than 50 % of a fold's squared error \
and costs it more than 0.1 of R², or a fold's R² lies more than 0.5 below the median fold R²";

/// The largest standardised value of a held-out fold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extrapolation {
    /// Row (of the data set) that holds it.
    pub row: usize,
    /// Column of the representation.
    pub column: usize,
    /// `|x − mean| / scale` with the training fold's `StandardScaler`
    /// statistics (scale 1 for a column constant on the training fold).
    pub z: f64,
}

/// For every fold, the held-out value furthest from the training fold's
/// mean in standard deviations (`None` for a fold whose values are all
/// at the mean). Ties keep the first row, then the first column.
///
/// Statistics as `StandardScaler` computes them (corrected two-pass
/// variance, scale 1 for columns constant within rounding). The held-out
/// folds partition the rows, so the rows are read three times whatever the
/// number of folds, in blocks: each fold's column sums, then its sums of
/// `x − μ` and `(x − μ)²` about the mean `μ` of every row (a training
/// fold's are the sum of the other folds'), then each fold's held-out rows.
/// Memory is a few `d`-vectors per fold.
pub fn extrapolation(x: &dyn Rows, folds: &Folds) -> Vec<Option<Extrapolation>> {
    let d = x.ncols();
    // Each task lists its fold's rows itself (with millions of rows, the
    // lists of every fold at once would weigh).
    let sizes = folds.sizes();
    let sums: Vec<Array1<f64>> = (0..folds.k)
        .into_par_iter()
        .map(|f| {
            let rows = &folds.test(f);
            let mut sum = Array1::<f64>::zeros(d);
            for_blocks(x, rows, |_, b| {
                for row in b.rows() {
                    sum += &row;
                }
            });
            sum
        })
        .collect();
    let mut mu = Array1::<f64>::zeros(d);
    for s in &sums {
        mu += s;
    }
    mu /= x.nrows() as f64;
    // Per fold: Σ (x − μ) and Σ (x − μ)² over its rows.
    let moments: Vec<(Array1<f64>, Array1<f64>)> = (0..folds.k)
        .into_par_iter()
        .map(|f| {
            let rows = &folds.test(f);
            let (mut lin, mut sq) = (Array1::<f64>::zeros(d), Array1::<f64>::zeros(d));
            for_blocks(x, rows, |_, b| {
                for row in b.rows() {
                    for j in 0..d {
                        let t = row[j] - mu[j];
                        lin[j] += t;
                        sq[j] += t * t;
                    }
                }
            });
            (lin, sq)
        })
        .collect();
    (0..folds.k)
        .into_par_iter()
        .map(|f| {
            let (mean, scale) = training_standardisation(&moments, &sizes, f, &mu);
            let test = &folds.test(f);
            let mut best: Option<Extrapolation> = None;
            for_blocks(x, test, |chunk, b| {
                for (row, values) in chunk.iter().zip(b.rows()) {
                    for (column, ((&v, &m), &sc)) in
                        values.iter().zip(&mean).zip(&scale).enumerate()
                    {
                        let z = ((v - m) / sc).abs();
                        if z > best.map_or(0.0, |e| e.z) {
                            best = Some(Extrapolation {
                                row: *row,
                                column,
                                z,
                            });
                        }
                    }
                }
            });
            best
        })
        .collect()
}

/// Call `f` with each block of the rows `rows` of `x` (the block's rows
/// and their values).
fn for_blocks(
    x: &dyn Rows,
    rows: &[usize],
    mut f: impl FnMut(&[usize], ndarray::ArrayView2<'_, f64>),
) {
    let mut buf = Array2::<f64>::zeros((BLOCK.min(rows.len()).max(1), x.ncols()));
    for chunk in rows.chunks(BLOCK) {
        let mut b = buf.slice_mut(s![..chunk.len(), ..]);
        x.fill(chunk, b.view_mut());
        f(chunk, b.view());
    }
}

/// Mean and `StandardScaler` scale of the training rows of fold `f` (every
/// fold but `f`), from each fold's sums about `mu`: with `S = Σ (x − μ)`
/// and `Q = Σ (x − μ)²` over the `n` training rows, the mean is `μ + S/n`
/// and the variance `(Q − S²/n)/n`.
fn training_standardisation(
    moments: &[(Array1<f64>, Array1<f64>)],
    sizes: &[usize],
    f: usize,
    mu: &Array1<f64>,
) -> (Array1<f64>, Array1<f64>) {
    let d = mu.len();
    let (mut lin, mut sq, mut n) = (Array1::<f64>::zeros(d), Array1::<f64>::zeros(d), 0usize);
    for (g, (l, q)) in moments.iter().enumerate() {
        if g != f {
            lin += l;
            sq += q;
            n += sizes[g];
        }
    }
    let n = n as f64;
    let mean = mu + &(&lin / n);
    let eps = f64::EPSILON;
    let scale = Array1::from_shape_fn(d, |j| {
        let var = (sq[j] - lin[j] * lin[j] / n) / n;
        let bound = n * eps * var + (n * mean[j] * eps).powi(2);
        if var > bound {
            var.sqrt()
        } else {
            1.0
        }
    });
    (mean, scale)
}

/// Median of finite values (the mean of the middle two for an even count);
/// `None` when there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    })
}

/// Whether one structure with share `share` of a fold's squared error
/// decides a fold whose R² is `r2`: more than [`SHARE_LIMIT`] of the error
/// and more than [`COST_LIMIT`] of R².
pub fn dominates(share: f64, r2: f64) -> bool {
    share > SHARE_LIMIT && share * (1.0 - r2) > COST_LIMIT
}

/// Whether a fold's worst structure is named as a culprit of an unstable
/// record: it dominates the fold, or the fold's R² dropped more than
/// [`DROP_LIMIT`] below the median and this one structure costs it more
/// than [`COST_LIMIT`] of R² (a fold of 500 at R² = −2.4 whose worst
/// structure carries 49 % of the error loses 1.7 of R² to it alone).
pub fn is_culprit(share: f64, r2: f64, median: Option<f64>) -> bool {
    let dropped = median.is_some_and(|m| r2 < m - DROP_LIMIT);
    dominates(share, r2) || (dropped && share * (1.0 - r2) > COST_LIMIT)
}

/// The verdict: some fold is dominated by one structure ([`dominates`]),
/// or has an R² more than [`DROP_LIMIT`] below the median fold R² (a
/// non-finite fold R² counts as such a drop).
pub fn is_unstable(r2_folds: &[f64], shares: &[Option<f64>]) -> bool {
    if shares
        .iter()
        .zip(r2_folds)
        .any(|(s, &r2)| s.is_some_and(|s| dominates(s, r2)))
    {
        return true;
    }
    match median(r2_folds) {
        Some(m) => r2_folds
            .iter()
            .any(|&r| !r.is_finite() || r < m - DROP_LIMIT),
        None => false,
    }
}

/// The run's instability summary: unstable records, the structures that
/// dominate their folds (with their formulas given by `formula`, e.g.
/// [`Formulas::of_id`]), and the ridge records whose alpha hit the grid's
/// edge.
pub fn summary_with(
    results: &[ResultRecord],
    formula: &dyn Fn(&str) -> Option<String>,
) -> Instability {
    let mut culprits: Vec<Culprit> = Vec::new();
    let mut z_of: HashMap<(&str, usize), f64> = Default::default();
    for r in results {
        for d in &r.fold_diagnostics {
            if let (Some(id), Some(z)) = (&d.extrapolation_id, d.extrapolation_z) {
                let e = z_of.entry((id.as_str(), d.fold)).or_insert(z);
                *e = e.max(z);
            }
        }
    }
    for r in results.iter().filter(|r| r.unstable) {
        for d in &r.fold_diagnostics {
            let (Some(id), Some(share)) = (&d.worst_id, d.worst_share) else {
                continue;
            };
            if !d.r2.is_some_and(|r2| is_culprit(share, r2, r.r2_median)) {
                continue;
            }
            let pos = match culprits
                .iter()
                .position(|c| &c.id == id && c.fold == d.fold)
            {
                Some(p) => p,
                None => {
                    culprits.push(Culprit {
                        id: id.clone(),
                        formula: formula(id),
                        fold: d.fold,
                        records: Vec::new(),
                        max_share: share,
                        max_z: z_of.get(&(id.as_str(), d.fold)).copied(),
                    });
                    culprits.len() - 1
                }
            };
            let c = &mut culprits[pos];
            c.records.push(r.key());
            c.max_share = c.max_share.max(share);
        }
    }
    // Most records first; the sort is stable, so ties keep first appearance.
    culprits.sort_by_key(|c| std::cmp::Reverse(c.records.len()));
    Instability {
        rule: RULE.into(),
        unstable: results
            .iter()
            .filter(|r| r.unstable)
            .map(|r| r.key())
            .collect(),
        culprits,
        alpha_at_edge: results
            .iter()
            .filter(|r| r.alpha_at_edge == Some(true))
            .map(|r| r.key())
            .collect(),
    }
}

/// Every structure's formula (Hill order, [`hill`]), kept once per distinct
/// composition plus one index per row: the composition matrix itself is
/// freed once composition alone is scored, and with millions of rows it
/// weighs (`8·k` bytes a row against 4 here). Empty for fractions, which
/// have no formula.
#[derive(Debug, Clone, Default)]
pub struct Formulas {
    /// The distinct formulas, in order of first appearance.
    names: Vec<String>,
    /// `names[of_row[i]]` is row `i`'s formula.
    of_row: Vec<u32>,
}

impl Formulas {
    /// The formulas of the rows of `ds.composition`: counts as they are,
    /// fractions as the reduced formula ([`reduced_counts`]).
    ///
    /// # Panics
    /// With more than 2³² distinct compositions.
    pub fn new(ds: &Dataset) -> Formulas {
        let fractions = ds.composition_mode == CompositionMode::Fractions;
        let mut index: HashMap<Vec<u64>, u32> = HashMap::new();
        let mut names = Vec::new();
        let of_row = ds
            .composition
            .rows()
            .into_iter()
            .map(|row| {
                // +0.0 and −0.0 are the same count.
                let bits: Vec<u64> = row.iter().map(|v| (v + 0.0).to_bits()).collect();
                *index.entry(bits).or_insert_with(|| {
                    names.push(if fractions {
                        hill(&ds.composition_columns, reduced_counts(row).into_iter())
                    } else {
                        hill(&ds.composition_columns, row.iter().copied())
                    });
                    u32::try_from(names.len() - 1).expect("at most 2^32 compositions")
                })
            })
            .collect();
        Formulas { names, of_row }
    }

    /// The formula of the structure `id` of `ids` (the data set's ids);
    /// `None` for an unknown id.
    pub fn of_id(&self, ids: &Ids, id: &str) -> Option<String> {
        if self.of_row.is_empty() {
            return None;
        }
        let row = ids.iter().position(|i| i == id)?;
        Some(self.names[self.of_row[row] as usize].clone())
    }
}

/// The smallest whole counts in the proportions of `fractions` (the
/// reduced formula: `[0.2, 0.8]` → `[1, 4]`), found among multiples up to
/// [`MAX_FORMULA_UNIT`]; the fractions themselves when none is whole.
pub fn reduced_counts(fractions: ndarray::ArrayView1<'_, f64>) -> Vec<f64> {
    let smallest = fractions
        .iter()
        .copied()
        .filter(|&f| f > 0.0)
        .fold(f64::INFINITY, f64::min);
    if !smallest.is_finite() {
        return fractions.to_vec();
    }
    (1..=MAX_FORMULA_UNIT)
        .map(|m| m as f64 / smallest)
        .find(|&scale| {
            fractions
                .iter()
                .all(|&f| (f * scale - (f * scale).round()).abs() < 1e-6)
        })
        .map_or_else(
            || fractions.to_vec(),
            |scale| fractions.iter().map(|&f| (f * scale).round()).collect(),
        )
}

/// The largest multiple of the rarest element tried by [`reduced_counts`].
pub const MAX_FORMULA_UNIT: usize = 64;

/// A formula from counts in Hill order (C, then H, then the other elements
/// alphabetically; alphabetically throughout without carbon), e.g. `C2F6`.
pub fn hill(columns: &[String], counts: impl Iterator<Item = f64>) -> String {
    let mut parts: Vec<(&str, f64)> = columns
        .iter()
        .map(String::as_str)
        .zip(counts)
        .filter(|&(_, c)| c > 0.0)
        .collect();
    let has_carbon = parts.iter().any(|&(el, _)| el == "C");
    let rank = |el: &str| match (has_carbon, el) {
        (true, "C") => 0,
        (true, "H") => 1,
        _ => 2,
    };
    parts.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then(a.0.cmp(b.0)));
    let mut f = String::new();
    for (el, c) in parts {
        f.push_str(el);
        if c != 1.0 {
            f.push_str(&c.to_string());
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_named_by_their_reduced_formula() {
        let cols: Vec<String> = ["Li", "O", "S"].iter().map(|s| s.to_string()).collect();
        let f = |v: [f64; 3]| hill(&cols, reduced_counts(ndarray::arr1(&v).view()).into_iter());
        assert_eq!(f([0.2, 0.0, 0.8]), "LiS4");
        assert_eq!(f([2.0 / 7.0, 0.0, 5.0 / 7.0]), "Li2S5");
        assert_eq!(f([0.0, 0.5, 0.5]), "OS");
        assert_eq!(f([1.0, 0.0, 0.0]), "Li");
    }
    use crate::flow::rows::Dense;
    use ndarray::array;

    #[test]
    fn extrapolation_is_measured_against_the_training_fold() {
        // Fold 1 holds rows 1 and 3; row 3's second column is 10 against a
        // training fold (rows 0, 2, 4) with mean 1 and std sqrt(2/3).
        let x = array![[0.0, 0.0], [0.5, 1.0], [1.0, 1.0], [0.2, 10.0], [2.0, 2.0]];
        let folds = Folds {
            k: 2,
            assignment: vec![0, 1, 0, 1, 0],
        };
        let e = extrapolation(&Dense(x.view()), &folds);
        let hit = e[1].unwrap();
        assert_eq!((hit.row, hit.column), (3, 1));
        assert!((hit.z - 9.0 / (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // Fold 0's training rows (1, 3): column 0 mean 0.35, std 0.15.
        let hit = e[0].unwrap();
        assert_eq!(hit.column, 0);
        assert_eq!(hit.row, 4);
        assert!((hit.z - (2.0 - 0.35) / 0.15).abs() < 1e-9);
    }

    #[test]
    fn formulas_are_hill_ordered_and_kept_once_per_composition() {
        let columns: Vec<String> = ["H", "C", "N", "O", "F"].map(String::from).to_vec();
        let ds = |mode| Dataset {
            ids: ["a", "b", "c", "d"].into_iter().collect(),
            composition_columns: columns.clone(),
            composition: array![
                [0.0, 2.0, 0.0, 0.0, 6.0],
                [4.0, 1.0, 0.0, 0.0, 0.0],
                [0.0, 2.0, 0.0, 0.0, 6.0],
                [-0.0, 0.0, 2.0, 1.0, 0.0]
            ],
            composition_mode: mode,
            composition_path: Default::default(),
            target_names: Vec::new(),
            targets: Array2::zeros((4, 0)),
            targets_path: Default::default(),
            skipped: Vec::new(),
        };
        let counts = ds(CompositionMode::Counts);
        let f = Formulas::new(&counts);
        let got: Vec<Option<String>> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|id| f.of_id(&counts.ids, id))
            .collect();
        let want = [Some("C2F6"), Some("CH4"), Some("C2F6"), Some("N2O"), None];
        assert_eq!(got, want.map(|w| w.map(String::from)));
        // One name per distinct composition, −0.0 counted as 0.
        assert_eq!(f.names.len(), 3);
        assert_eq!(f.of_row, [0, 1, 0, 2]);
        // Without carbon: alphabetical, H among the others.
        assert_eq!(hill(&columns, [2.0, 0.0, 0.0, 1.0, 0.0].into_iter()), "H2O");
        assert_eq!(hill(&columns, [1.0, 0.0, 0.0, 0.0, 1.0].into_iter()), "FH");
        // With fractions a row is named by its reduced formula (C2F6: CF3).
        let fractions = ds(CompositionMode::Fractions);
        assert_eq!(
            Formulas::new(&fractions)
                .of_id(&fractions.ids, "a")
                .as_deref(),
            Some("CF3")
        );
    }

    #[test]
    fn the_rule_fires_on_a_dominant_structure_or_a_fold_far_below_the_median() {
        let calm = [0.3, 0.35, 0.32, 0.29, 0.31];
        assert!(!is_unstable(&calm, &[Some(0.1); 5]));
        // Share 0.51 of a fold with R² 0.35: it costs 0.33 of R².
        assert!(is_unstable(
            &calm,
            &[Some(0.1), Some(0.51), None, None, None]
        ));
        // Most of a near-perfect fold's error decides nothing (the bundled
        // composition MLP on mass: share 0.587, fold R² 0.998).
        let perfect = [0.999, 0.998, 0.999, 0.999, 0.999];
        assert!(!is_unstable(
            &perfect,
            &[None, Some(0.587), None, None, None]
        ));
        assert!(!dominates(0.5, 0.0) && dominates(0.51, 0.0) && !dominates(0.9, 0.9));
        // The bundled ANI-2x residual, gap, ridge, fold 4: R² −2.43 against
        // a median of 0.23, worst structure 49 % of the error.
        assert!(is_culprit(0.49, -2.43, Some(0.23)));
        assert!(!is_culprit(0.49, -2.43, None));
        assert!(!is_culprit(0.01, -2.43, Some(0.23)));
        assert!(is_unstable(
            &[0.25, 0.37, -3.77, 0.29, 0.32],
            &[Some(0.1); 5]
        ));
        assert!(!is_unstable(&[0.25, 0.37, -0.2, 0.29, 0.32], &[None; 5]));
        assert!(is_unstable(&[0.25, f64::NAN, 0.3], &[None; 3]));
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
    }
}
