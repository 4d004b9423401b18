//! Best split of a leaf from its histogram, for squared loss (hessian 1 per
//! row) with L2 regularisation λ on leaf values (XGBoost, Chen & Guestrin
//! 2016, eqs. 5–7; LightGBM's `FeatureHistogram`; scikit-learn's
//! `splitting.pyx`).
//!
//! Gradient sums here are the histograms' integer gradients (see
//! [`super::grower`]): the gradients divided by one scale per tree, so
//! every gain is the true one divided by the scale squared, which leaves
//! the ranking of candidates as it is.

use super::binning::MAX_BINS;
use super::histogram::{Histogram, Packing};

/// Optimal value of a leaf with gradient sum `g` over `n` rows: `−g/(n+λ)`.
pub fn leaf_value(g: f64, n: f64, l2: f64) -> f64 {
    -g / (n + l2)
}

/// Loss reduction of a leaf (up to a constant): `g²/(n+λ)`.
fn leaf_score(g: f64, n: f64, l2: f64) -> f64 {
    g * g / (n + l2)
}

/// Gain of splitting `(g, n)` into `(gl, nl)` and `(g − gl, n − nl)`.
pub fn split_gain(gl: f64, nl: f64, g: f64, n: f64, l2: f64) -> f64 {
    leaf_score(gl, nl, l2) + leaf_score(g - gl, n - nl, l2) - leaf_score(g, n, l2)
}

/// A candidate split: rows with `bin ≤ bin` of `feature` go left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// Loss reduction.
    pub gain: f64,
    /// Feature index.
    pub feature: usize,
    /// Last bin of the left child.
    pub bin: usize,
    /// Integer gradient sum of the left child.
    pub left_grad: i64,
    /// Rows in the left child.
    pub left_count: u32,
}

/// What the split search of one leaf needs besides its histogram.
#[derive(Debug, Clone, Copy)]
pub struct LeafTotals {
    grad: f64,
    packing: Packing,
    count: u32,
    min_leaf: u32,
    l2: f64,
    /// `G²/(n+λ)` of the leaf itself.
    parent: f64,
}

impl LeafTotals {
    /// A leaf with integer gradient sum `grad` over `count` rows, whose
    /// histogram is packed by `packing`, or `None` when it is too small to
    /// leave `min_leaf` rows on both sides.
    pub fn new(
        grad: i64,
        packing: Packing,
        count: u32,
        min_leaf: u32,
        l2: f64,
    ) -> Option<LeafTotals> {
        if (count as u64) < 2 * min_leaf as u64 {
            return None;
        }
        let grad = grad as f64;
        Some(LeafTotals {
            grad,
            packing,
            count,
            min_leaf,
            l2,
            parent: leaf_score(grad, count as f64, l2),
        })
    }
}

/// The better of two candidates: larger gain, then lower feature, then
/// lower bin. Being a total order, it gives the same answer in any
/// grouping, so features can be searched in parallel.
pub fn better(a: Option<Split>, b: Option<Split>) -> Option<Split> {
    match (a, b) {
        (Some(x), Some(y)) => {
            let y_wins =
                y.gain > x.gain || (y.gain == x.gain && (y.feature, y.bin) < (x.feature, x.bin));
            Some(if y_wins { y } else { x })
        }
        (x, None) => x,
        (None, y) => y,
    }
}

/// Best split of binned feature `f` of a leaf, from that feature's packed
/// gradient sums and row counts per bin `h`, or `None` when no admissible
/// split has a positive gain.
///
/// Three passes over the feature's bins, each simple enough to run on
/// vector lanes: the prefix sums (one integer addition per bin carries both
/// the gradient and the count), every candidate's score `G_L²/(n_L+λ) +
/// G_R²/(n_R+λ)` (−∞ where a side would hold fewer than `min_leaf` rows, or
/// where the bin is empty: it would repeat the previous candidate's
/// partition, and skipping it keeps the lowest threshold), and the first
/// largest score. Equal to maximising [`split_gain`] up to rounding (the
/// tests keep that naive search to check this one). On x86-64 processors
/// with AVX2 the passes are compiled for it; IEEE division and
/// multiplication round the same on every lane width, so the result is the
/// same on either copy.
pub fn best_split_feature(leaf: &LeafTotals, f: usize, h: &[i64]) -> Option<Split> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2 (checked just above).
        return unsafe { best_split_feature_avx2(leaf, f, h) };
    }
    scan(leaf, f, h)
}

/// [`best_split_feature`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn best_split_feature_avx2(leaf: &LeafTotals, f: usize, h: &[i64]) -> Option<Split> {
    scan(leaf, f, h)
}

/// The body of [`best_split_feature`], inlined into each compiled copy.
#[inline(always)]
fn scan(leaf: &LeafTotals, f: usize, h: &[i64]) -> Option<Split> {
    let pk = leaf.packing;
    // Candidates are bins 0..nb−1 (the last bin would send every row left).
    let m = h.len().saturating_sub(1).min(MAX_BINS);
    let h = &h[..m];
    let mut sums = [0i64; MAX_BINS];
    let mut score = [0f64; MAX_BINS];
    let (sums, score) = (&mut sums[..m], &mut score[..m]);
    let (lo, hi) = (leaf.min_leaf as i64, (leaf.count - leaf.min_leaf) as i64);
    let (total, n, l2) = (leaf.grad, leaf.count as f64, leaf.l2);
    let score_of = |s: i64| {
        let gl = pk.grad(s) as f64;
        let gr = total - gl;
        let nlf = pk.count(s) as f64;
        gl * gl / (nlf + l2) + gr * gr / ((n - nlf) + l2)
    };
    if (leaf.count as usize) < m {
        // Fewer rows than bins: most bins are empty. The first pass keeps
        // only the admissible candidates (bin numbers in `at`), the second
        // scores just those.
        let mut at = [0u8; MAX_BINS];
        let (mut acc, mut w) = (0i64, 0usize);
        for (b, &v) in h.iter().enumerate() {
            acc += v;
            sums[w] = acc;
            at[w] = b as u8;
            let nl = pk.count(acc) as i64;
            w += (v != 0 && nl >= lo && nl <= hi) as usize;
        }
        for (v, &s) in score[..w].iter_mut().zip(&sums[..w]) {
            *v = score_of(s);
        }
        let (mut top, mut arg) = (leaf.parent, usize::MAX);
        for (j, &v) in score[..w].iter().enumerate() {
            if v > top {
                (top, arg) = (v, j);
            }
        }
        let gain = top - leaf.parent;
        return (arg != usize::MAX && gain > 0.0).then(|| Split {
            gain,
            feature: f,
            bin: at[arg] as usize,
            left_grad: pk.grad(sums[arg]),
            left_count: pk.count(sums[arg]),
        });
    }
    let mut acc = 0i64;
    for (s, &v) in sums.iter_mut().zip(h) {
        acc += v;
        *s = acc;
    }
    for ((v, &s), &c) in score.iter_mut().zip(&*sums).zip(h) {
        let nl = pk.count(s) as i64;
        let ok = nl >= lo && nl <= hi && c != 0;
        let x = score_of(s);
        *v = if ok { x } else { f64::NEG_INFINITY };
    }
    let (mut top, mut arg) = (leaf.parent, usize::MAX);
    for (b, &v) in score.iter().enumerate() {
        if v > top {
            (top, arg) = (v, b);
        }
    }
    let gain = top - leaf.parent;
    (arg != usize::MAX && gain > 0.0).then(|| Split {
        gain,
        feature: f,
        bin: arg,
        left_grad: pk.grad(sums[arg]),
        left_count: pk.count(sums[arg]),
    })
}

/// The best split of a leaf over all binned features (see
/// [`best_split_feature`] and [`better`]).
pub fn best_split(hist: &Histogram, offsets: &[usize], leaf: &LeafTotals) -> Option<Split> {
    (0..offsets.len() - 1).fold(None, |best, f| {
        better(best, best_split_feature(leaf, f, hist.feature(offsets, f)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Integer gradient sums and counts per bin, packed.
    fn packed(pk: Packing, grad: &[i64], count: &[u32]) -> Histogram {
        Histogram {
            bins: grad
                .iter()
                .zip(count)
                .map(|(&g, &c)| pk.change(g) + c as i64)
                .collect(),
        }
    }

    #[test]
    fn gain_and_leaf_value_by_hand() {
        // Left: g = −6 over 3 rows; right: g = 4 over 2 rows; λ = 1.
        // Scores: 36/4 + 16/3 − 4/6 = 9 + 5.3333 − 0.6667 = 13.6667.
        let gain = split_gain(-6.0, 3.0, -2.0, 5.0, 1.0);
        assert!((gain - (9.0 + 16.0 / 3.0 - 4.0 / 6.0)).abs() < 1e-12);
        assert_eq!(leaf_value(-6.0, 3.0, 1.0), 1.5);
        assert_eq!(leaf_value(4.0, 2.0, 0.0), -2.0);
    }

    #[test]
    fn best_split_respects_min_leaf_and_picks_the_largest_gain() {
        // One feature, 4 bins of 10 rows with gradient sums (−30, −30, 10, 50);
        // feature 1 is constant (one bin).
        let pk = Packing::for_rows(40);
        let offsets = [0, 4, 5];
        let h = packed(pk, &[-30, -30, 10, 50, 0], &[10, 10, 10, 10, 40]);
        let leaf = LeafTotals::new(0, pk, 40, 1, 0.0).unwrap();
        let s = best_split(&h, &offsets, &leaf).unwrap();
        // Split after bin 1: left g = −60 (20 rows), right +60 (20 rows): 180 + 180.
        assert_eq!(
            (s.feature, s.bin, s.left_count, s.left_grad),
            (0, 1, 20, -60)
        );
        assert!((s.gain - 360.0).abs() < 1e-9);
        // With min_leaf 20 only the middle split is allowed; with 21 none.
        let leaf = LeafTotals::new(0, pk, 40, 20, 0.0).unwrap();
        assert_eq!(best_split(&h, &offsets, &leaf).map(|s| s.bin), Some(1));
        assert!(LeafTotals::new(0, pk, 40, 21, 0.0).is_none());
        assert!(LeafTotals::new(0, pk, 40, u32::MAX, 0.0).is_none());

        // An empty bin would repeat the previous partition: the threshold
        // stays at the lower bin.
        let offsets = [0, 5];
        let h = packed(pk, &[-30, -30, 0, 10, 50], &[10, 10, 0, 10, 10]);
        let leaf = LeafTotals::new(0, pk, 40, 1, 0.0).unwrap();
        assert_eq!(best_split(&h, &offsets, &leaf).map(|s| s.bin), Some(1));
        let h = packed(pk, &[-30, -30, 0, 10, 50], &[10, 10, 1, 9, 10]);
        assert_eq!(best_split(&h, &offsets, &leaf).map(|s| s.bin), Some(2));
    }

    /// Every bin of every feature through [`split_gain`]: the search the
    /// fast scan must reproduce.
    fn naive(
        grad: &[i64],
        count: &[u32],
        n_bins: &[usize],
        offsets: &[usize],
        n: u32,
        min_leaf: u32,
        l2: f64,
    ) -> Option<(usize, usize, f64)> {
        let g_total = grad[offsets[0]..offsets[1]].iter().sum::<i64>() as f64;
        let mut best: Option<(usize, usize, f64)> = None;
        for (f, &nb) in n_bins.iter().enumerate() {
            let (g, c) = (&grad[offsets[f]..], &count[offsets[f]..]);
            let (mut gl, mut nl) = (0i64, 0u32);
            for b in 0..nb - 1 {
                gl += g[b];
                nl += c[b];
                if c[b] == 0 || nl < min_leaf || n - nl < min_leaf {
                    continue;
                }
                let gain = split_gain(gl as f64, nl as f64, g_total, n as f64, l2);
                if gain > 0.0 && best.is_none_or(|(_, _, top)| gain > top) {
                    best = Some((f, b, gain));
                }
            }
        }
        best
    }

    #[test]
    fn fast_scan_matches_the_naive_search() {
        // Sparse and dense histograms, several min_leaf and λ, gradients of
        // both signs up to the packing's limit.
        // 300 rows fill the bins; 100 rows, fewer than the bins, take the
        // sparse scan.
        for n in [300u32, 100] {
            let n_bins = [255usize, 7, 60, 2, 255];
            let pk = Packing::for_rows(n as usize);
            let mut offsets = vec![0];
            for nb in n_bins {
                offsets.push(offsets.last().unwrap() + nb);
            }
            let mut state = 12345u64;
            let mut next = || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) as u32
            };
            for trial in 0..40 {
                let (mut grad, mut count) = (vec![0i64; offsets[5]], vec![0u32; offsets[5]]);
                let scale = if trial % 5 == 0 { pk.limit() } else { 1000 };
                let rows: Vec<(u32, i64)> = (0..n)
                    .map(|_| (next(), (next() as i64 % (2 * scale + 1)) - scale))
                    .collect();
                for (f, &nb) in n_bins.iter().enumerate() {
                    for &(r, g) in &rows {
                        // Trial-dependent clustering leaves many bins empty.
                        let span = 1 + (nb as u32 - 1) / (1 + trial % 4);
                        let b = offsets[f] + ((r ^ (f as u32 * 7919)) % span) as usize;
                        grad[b] += g;
                        count[b] += 1;
                    }
                }
                let h = packed(pk, &grad, &count);
                let total: i64 = rows.iter().map(|r| r.1).sum();
                for (min_leaf, l2) in [(1, 0.0), (20, 0.0), (20, 3.0), (149, 0.5), (151, 0.0)] {
                    let fast = LeafTotals::new(total, pk, n, min_leaf, l2)
                        .and_then(|leaf| best_split(&h, &offsets, &leaf));
                    let slow = naive(&grad, &count, &n_bins, &offsets, n, min_leaf, l2);
                    match (fast, slow) {
                        (None, None) => {}
                        (Some(s), Some((f, b, gain))) => {
                            assert_eq!((s.feature, s.bin), (f, b), "trial {trial}");
                            assert!((s.gain - gain).abs() <= 1e-9 * gain.max(1.0));
                            let r = offsets[f]..=offsets[f] + b;
                            assert_eq!(s.left_count, count[r.clone()].iter().sum::<u32>());
                            assert_eq!(s.left_grad, grad[r].iter().sum::<i64>());
                        }
                        other => panic!("trial {trial} min_leaf {min_leaf}: {other:?}"),
                    }
                }
            }
        }
    }
}
