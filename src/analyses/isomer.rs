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
//! Cost: the groups are found once per run (the rows sorted by fold and
//! composition bits); each record then takes O(Σ m²) over groups of m
//! isomers, which stays far below a probe's cost (QM9's largest group,
//! C7H10O2, has about 6,100 members: ~1,200 per fold, ~0.7 M pairs). The
//! groups are kept as one list of row numbers and the offsets where each
//! group starts: with millions of rows, a list per group would weigh more
//! than the rows themselves.

use std::cmp::Ordering;

use ndarray::{ArrayView1, ArrayView2};

/// Groups of rows with identical composition held out in the same fold
/// (only groups of two or more), ordered by their first row; the rows of a
/// group in increasing order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Isomers {
    /// The rows of every group, group after group.
    rows: Vec<u32>,
    /// Group `g` is `rows[starts[g]..starts[g + 1]]`.
    starts: Vec<usize>,
}

impl Isomers {
    /// Group the rows of `composition` (`n × k`, counts or fractions) by
    /// their exact values and by their fold in `assignment`.
    ///
    /// # Panics
    /// When the lengths differ, or with more than 2³² rows.
    pub fn new(composition: ArrayView2<'_, f64>, assignment: &[usize]) -> Isomers {
        assert_eq!(composition.nrows(), assignment.len(), "rows and folds");
        let n = u32::try_from(composition.nrows()).expect("at most 2^32 rows");
        // +0.0 and −0.0 are the same count.
        let bits = |v: &f64| (v + 0.0).to_bits();
        let key = |a: u32, b: u32| {
            let (a, b) = (a as usize, b as usize);
            assignment[a].cmp(&assignment[b]).then_with(|| {
                let (ra, rb) = (composition.row(a), composition.row(b));
                ra.iter().map(bits).cmp(rb.iter().map(bits))
            })
        };
        let mut order: Vec<u32> = (0..n).collect();
        // Stable: the rows of a group stay in increasing order.
        order.sort_by(|&a, &b| key(a, b));
        let mut groups: Vec<(u32, usize, usize)> = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let end = start
                + order[start..]
                    .iter()
                    .take_while(|&&r| key(order[start], r) == Ordering::Equal)
                    .count();
            if end - start > 1 {
                groups.push((order[start], start, end));
            }
            start = end;
        }
        groups.sort_unstable();
        let mut rows = Vec::with_capacity(groups.iter().map(|g| g.2 - g.1).sum());
        let mut starts = Vec::with_capacity(groups.len() + 1);
        starts.push(0);
        for &(_, a, b) in &groups {
            rows.extend_from_slice(&order[a..b]);
            starts.push(rows.len());
        }
        Isomers { rows, starts }
    }

    /// Number of groups (of two or more isomers in one fold).
    pub fn groups(&self) -> usize {
        self.starts.len() - 1
    }

    /// Pairwise accuracy of `prediction` against `target` (both in row
    /// order) and the number of pairs scored; `None` when no isomer pair in
    /// a fold has different targets (or a prediction is not finite).
    pub fn accuracy(
        &self,
        target: ArrayView1<'_, f64>,
        prediction: &[f64],
    ) -> (Option<f64>, usize) {
        let (groups, finite) = self.group_scores(target, prediction);
        let score: f64 = groups.iter().map(|g| g.0).sum();
        let pairs: usize = groups.iter().map(|g| g.1).sum();
        let acc = (pairs > 0 && finite).then(|| score / pairs as f64);
        (acc, pairs)
    }

    /// Per group, the score of its pairs with different targets (1 for the
    /// same order, ½ for a tie in prediction) and their number; and whether
    /// every scored prediction difference is finite.
    fn group_scores(
        &self,
        target: ArrayView1<'_, f64>,
        prediction: &[f64],
    ) -> (Vec<(f64, usize)>, bool) {
        let mut finite = true;
        let groups = self
            .starts
            .windows(2)
            .map(|w| {
                let (mut score, mut pairs) = (0.0f64, 0usize);
                let g = &self.rows[w[0]..w[1]];
                for (a, &i) in g.iter().enumerate() {
                    for &j in &g[a + 1..] {
                        let (i, j) = (i as usize, j as usize);
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
                (score, pairs)
            })
            .collect();
        (groups, finite)
    }

    /// The 95 % interval of [`Isomers::accuracy`]: a cluster bootstrap
    /// over the groups (pairs of one group share structures, so the group
    /// is the unit resampled). Replicate `b` draws as many groups as there
    /// are, uniformly with replacement (ChaCha8 seeded with `seed`, stream
    /// `b`), and scores the pairs of the drawn groups; the interval is the
    /// bias-corrected percentile interval around the accuracy
    /// ([`crate::flow::bootstrap::interval_bc`]). `None` without scored pairs, with a
    /// non-finite prediction, or without replicates.
    pub fn interval(
        &self,
        target: ArrayView1<'_, f64>,
        prediction: &[f64],
        replicates: usize,
        seed: u64,
    ) -> Option<[f64; 2]> {
        use rand::{RngExt, SeedableRng};
        let (groups, finite) = self.group_scores(target, prediction);
        let m = groups.len() as u32;
        if !finite || m == 0 || replicates == 0 || groups.iter().all(|g| g.1 == 0) {
            return None;
        }
        let point = groups.iter().map(|g| g.0).sum::<f64>()
            / groups.iter().map(|g| g.1).sum::<usize>() as f64;
        let mut reps = Vec::with_capacity(replicates);
        for b in 0..replicates {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x1503_3E55_0000_0000);
            rng.set_stream(b as u64);
            let (mut score, mut pairs) = (0.0, 0usize);
            for _ in 0..m {
                let g = groups[rng.random_range(0..m) as usize];
                score += g.0;
                pairs += g.1;
            }
            reps.push(if pairs > 0 {
                score / pairs as f64
            } else {
                f64::NAN
            });
        }
        crate::flow::bootstrap::interval_bc(&reps, point)
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

    #[test]
    fn groups_are_every_set_of_equal_rows_in_a_fold_by_first_row() {
        // Brute force on a small seeded table with many repeats.
        let (n, k) = (300, 3);
        let mut state = 7u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let c = ndarray::Array2::from_shape_fn((n, k), |_| next(3) as f64);
        let folds: Vec<usize> = (0..n).map(|_| next(2) as usize).collect();
        let mut expect: Vec<Vec<u32>> = Vec::new();
        let mut seen = vec![false; n];
        for i in 0..n {
            if seen[i] {
                continue;
            }
            let g: Vec<u32> = (i..n)
                .filter(|&j| folds[j] == folds[i] && c.row(j) == c.row(i))
                .map(|j| j as u32)
                .collect();
            for &j in &g {
                seen[j as usize] = true;
            }
            if g.len() > 1 {
                expect.push(g);
            }
        }
        let iso = Isomers::new(c.view(), &folds);
        let got: Vec<Vec<u32>> = iso
            .starts
            .windows(2)
            .map(|w| iso.rows[w[0]..w[1]].to_vec())
            .collect();
        assert!(expect.len() > 10, "the table has repeats");
        assert_eq!(got, expect);
    }
}
