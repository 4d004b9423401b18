//! A permutation null for cross-validated scores (`--permutations N`).
//!
//! Each permutation shuffles the targets among the rows of every fold
//! (within folds, so every held-out fold keeps its own target values),
//! and the probe is fitted and scored on the shuffled targets exactly as on
//! the real ones: same folds, same alpha selection, same seeds. A record's
//! null is the distribution of its score (mean over folds of the held-out
//! R²) over the permutations; its p-value is `(1 + #{null ≥ observed}) /
//! (N + 1)` (Phipson & Smyth 2010: never 0, exact for exchangeable rows).
//!
//! The shuffled targets ride along as extra target columns, so ridge fits
//! them from the factorisation it already has (one more cross-product per
//! permutation), while the MLP and the GBT fit one more model each.

use ndarray::{Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::flow::bootstrap::percentile;
use crate::flow::folds::Folds;

/// `y` (`n × t`) followed by `permutations` copies whose rows are shuffled
/// within every fold: columns `t·(1 + p) .. t·(2 + p)` are permutation `p`
/// of every target (one shuffle of the rows per permutation, shared by
/// the targets). Permutation `p` is ChaCha8 seeded with `seed`, stream
/// `p`, shuffling each fold's rows in fold order (Fisher–Yates).
pub fn with_permutations(
    y: ArrayView2<'_, f64>,
    folds: &Folds,
    permutations: usize,
    seed: u64,
) -> Array2<f64> {
    let (n, t) = y.dim();
    let mut out = Array2::<f64>::zeros((n, t * (1 + permutations)));
    out.slice_mut(ndarray::s![.., ..t]).assign(&y);
    let tests: Vec<Vec<usize>> = (0..folds.k).map(|f| folds.test(f)).collect();
    for p in 0..permutations {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
        rng.set_stream(p as u64);
        for rows in &tests {
            let mut from = rows.clone();
            from.shuffle(&mut rng);
            for (&to, &src) in rows.iter().zip(&from) {
                for c in 0..t {
                    out[(to, t * (1 + p) + c)] = y[(src, c)];
                }
            }
        }
    }
    out
}

/// A record's permutation null.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Null {
    /// Number of permutations.
    pub permutations: usize,
    /// Mean score over the permutations.
    pub mean: f64,
    /// 95th percentile of the scores over the permutations.
    pub q95: f64,
    /// `(1 + #{null ≥ observed}) / (N + 1)`.
    pub p: f64,
}

impl Null {
    /// The null of `observed` from the permuted scores (non-finite ones
    /// count as at most the observed score only if it is not finite
    /// either: a broken fit on shuffled targets is no evidence against
    /// the real score). `None` without permutations.
    pub fn of(observed: f64, null: &[f64]) -> Option<Null> {
        if null.is_empty() {
            return None;
        }
        let mut finite: Vec<f64> = null.iter().copied().filter(|v| v.is_finite()).collect();
        finite.sort_by(f64::total_cmp);
        let at_least = null
            .iter()
            .filter(|&&v| {
                if observed.is_finite() {
                    v >= observed
                } else {
                    true
                }
            })
            .count();
        let (mean, q95) = if finite.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            (
                finite.iter().sum::<f64>() / finite.len() as f64,
                percentile(&finite, 95.0),
            )
        };
        Some(Null {
            permutations: null.len(),
            mean,
            q95,
            p: (1 + at_least) as f64 / (null.len() + 1) as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn permutations_shuffle_within_folds_and_are_seeded() {
        let folds = Folds {
            k: 2,
            assignment: vec![0, 1, 0, 1, 0, 1],
        };
        let y = array![
            [1.0, 10.0],
            [2.0, 20.0],
            [3.0, 30.0],
            [4.0, 40.0],
            [5.0, 50.0],
            [6.0, 60.0]
        ];
        let a = with_permutations(y.view(), &folds, 3, 5);
        assert_eq!(a.ncols(), 8);
        assert_eq!(a.slice(ndarray::s![.., ..2]), y);
        for p in 0..3 {
            let c = 2 * (1 + p);
            for f in 0..2 {
                let mut got: Vec<f64> = folds.test(f).iter().map(|&i| a[(i, c)]).collect();
                let mut want: Vec<f64> = folds.test(f).iter().map(|&i| y[(i, 0)]).collect();
                got.sort_by(f64::total_cmp);
                want.sort_by(f64::total_cmp);
                assert_eq!(got, want, "fold {f} keeps its own values");
            }
            for i in 0..6 {
                assert_eq!(
                    a[(i, c + 1)],
                    10.0 * a[(i, c)],
                    "one shuffle for every target"
                );
            }
        }
        assert_eq!(a, with_permutations(y.view(), &folds, 3, 5));
        assert_ne!(a, with_permutations(y.view(), &folds, 3, 6));
    }

    #[test]
    fn p_value_counts_permutations_at_least_as_good() {
        let n = Null::of(0.5, &[0.1, 0.6, -0.2, 0.5]).unwrap();
        assert_eq!(n.permutations, 4);
        assert!((n.mean - 0.25).abs() < 1e-15);
        assert!((n.p - 3.0 / 5.0).abs() < 1e-15);
        assert_eq!(Null::of(0.9, &[0.1; 99]).unwrap().p, 0.01);
        assert_eq!(Null::of(0.9, &[]), None);
    }
}
