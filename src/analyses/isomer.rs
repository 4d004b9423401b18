//! The paper's structural-isomer test: isomers (structures with identical
//! composition rows) cannot be told apart by composition, so a probe on
//! composition alone orders their targets at chance, while a representation
//! that holds geometry orders them well.
//!
//! Pairwise accuracy of a record: among all pairs of isomers held out in the
//! same fold whose true targets differ, the fraction whose out-of-fold
//! predictions are in the same order as the targets; a tie in prediction
//! counts ½. Isomers in the same held-out fold get their predictions from
//! the same fitted probe, and a probe on composition alone sees identical
//! inputs for them, so every composition record scores exactly 0.5.
//!
//! Cost: the groups are found once per run (a hash of each row's
//! composition bits); each record then takes O(Σ m²) over groups of m
//! isomers, which stays far below a probe's cost (QM9's largest group,
//! C7H10O2, has about 6,100 members: ~1,200 per fold, ~0.7 M pairs).

use std::collections::HashMap;

use ndarray::{ArrayView1, ArrayView2};

/// Groups of rows with identical composition held out in the same fold
/// (only groups of two or more).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Isomers {
    groups: Vec<Vec<usize>>,
}

impl Isomers {
    /// Group the rows of `composition` (`n × k`, counts or fractions) by
    /// their exact values and by their fold in `assignment`.
    pub fn new(composition: ArrayView2<'_, f64>, assignment: &[usize]) -> Isomers {
        assert_eq!(composition.nrows(), assignment.len(), "rows and folds");
        let mut by_key: HashMap<(usize, Vec<u64>), Vec<usize>> = HashMap::new();
        for (i, row) in composition.rows().into_iter().enumerate() {
            // +0.0 and −0.0 are the same count.
            let bits = row.iter().map(|v| (v + 0.0).to_bits()).collect();
            by_key.entry((assignment[i], bits)).or_default().push(i);
        }
        let mut groups: Vec<Vec<usize>> = by_key.into_values().filter(|g| g.len() > 1).collect();
        groups.sort_unstable();
        Isomers { groups }
    }

    /// Number of groups (of two or more isomers in one fold).
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Pairwise accuracy of `prediction` against `target` (both in row
    /// order) and the number of pairs scored; `None` when no isomer pair in
    /// a fold has different targets (or a prediction is not finite).
    pub fn accuracy(
        &self,
        target: ArrayView1<'_, f64>,
        prediction: &[f64],
    ) -> (Option<f64>, usize) {
        let (mut score, mut pairs) = (0.0f64, 0usize);
        let mut finite = true;
        for g in &self.groups {
            for (a, &i) in g.iter().enumerate() {
                for &j in &g[a + 1..] {
                    let dy = target[i] - target[j];
                    if dy == 0.0 || dy.is_nan() {
                        continue;
                    }
                    let dp = prediction[i] - prediction[j];
                    finite &= dp.is_finite();
                    pairs += 1;
                    if dp == 0.0 {
                        score += 0.5;
                    } else if (dp > 0.0) == (dy > 0.0) {
                        score += 1.0;
                    }
                }
            }
        }
        let acc = (pairs > 0 && finite).then(|| score / pairs as f64);
        (acc, pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn pairs_are_isomers_in_the_same_fold_with_different_targets() {
        // Rows 0, 1, 2, 4 share a composition; row 4 is in another fold;
        // row 3 has its own composition.
        let c = array![[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [0.0, 3.0], [1.0, 2.0]];
        let folds = [0, 0, 0, 0, 1];
        let iso = Isomers::new(c.view(), &folds);
        assert_eq!(iso.groups(), 1);
        let y = array![1.0, 2.0, 3.0, 9.0, 0.0];
        // Pairs (0,1), (0,2), (1,2): all in order.
        assert_eq!(
            iso.accuracy(y.view(), &[0.1, 0.2, 0.3, 5.0, 7.0]),
            (Some(1.0), 3)
        );
        // (0,1) reversed, (0,2) tied, (1,2) in order: (0 + 0.5 + 1) / 3.
        let (acc, n) = iso.accuracy(y.view(), &[0.3, 0.2, 0.3, 0.0, 0.0]);
        assert_eq!(n, 3);
        assert!((acc.unwrap() - 0.5).abs() < 1e-15);
        // Equal targets are not scored.
        let y_eq = array![1.0, 1.0, 2.0, 9.0, 0.0];
        assert_eq!(
            iso.accuracy(y_eq.view(), &[0.0, 1.0, 2.0, 0.0, 0.0]),
            (Some(1.0), 2)
        );
        // No pairs at all.
        let lone = Isomers::new(c.view(), &[0, 1, 2, 0, 3]);
        assert_eq!(lone.accuracy(y.view(), &[0.0; 5]), (None, 0));
    }

    #[test]
    fn constant_predictions_per_composition_score_one_half() {
        let c = array![[1.0], [1.0], [2.0], [2.0], [2.0], [-0.0], [0.0]];
        let iso = Isomers::new(c.view(), &[0; 7]);
        assert_eq!(iso.groups(), 3, "-0.0 and 0.0 are the same composition");
        let y = array![1.0, 5.0, 2.0, -3.0, 8.0, 1.0, 2.0];
        let pred = [4.0, 4.0, -1.0, -1.0, -1.0, 0.5, 0.5];
        assert_eq!(iso.accuracy(y.view(), &pred), (Some(0.5), 5));
    }
}
