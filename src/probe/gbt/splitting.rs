//! Best split of a leaf from its histogram, for squared loss (hessian 1 per
//! row) with L2 regularisation λ on leaf values (XGBoost, Chen & Guestrin
//! 2016, eqs. 5–7; LightGBM's `FeatureHistogram`; scikit-learn's
//! `splitting.pyx`).

use super::binning::MAX_BINS;
use super::histogram::Histogram;

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
    /// Gradient sum of the left child.
    pub left_grad: f64,
    /// Rows in the left child.
    pub left_count: u32,
}

/// The split with the largest positive gain such that both children keep
/// at least `min_leaf` rows; ties keep the lowest feature, then the lowest
/// bin. `None` when no split improves the loss.
///
/// Per feature, prefix sums of the histogram are formed first and the gains
/// of all bins are then computed in one branch-free loop the compiler
/// vectorises; empty bins (which move no row) and bins leaving fewer than
/// `min_leaf` rows on a side are masked out.
pub fn best_split(
    hist: &Histogram,
    n_bins: &[usize],
    offsets: &[usize],
    total_grad: f64,
    total_count: u32,
    min_leaf: u32,
    l2: f64,
) -> Option<Split> {
    let parent = leaf_score(total_grad, total_count as f64, l2);
    let (n_total, min_leaf_f) = (total_count as f64, min_leaf as f64);
    let mut best: Option<Split> = None;
    let mut pg = [0.0f64; MAX_BINS];
    let mut pn = [0.0f64; MAX_BINS];
    let mut gains = [0.0f64; MAX_BINS];
    for (f, &nb) in n_bins.iter().enumerate() {
        if nb < 2 {
            continue;
        }
        let (g, c) = hist.feature(offsets, f);
        let m = nb - 1;
        let (mut gl, mut nl) = (0.0, 0.0);
        for b in 0..m {
            gl += g[b];
            nl += c[b] as f64;
            pg[b] = gl;
            pn[b] = nl;
        }
        for b in 0..m {
            let (gl, nl) = (pg[b], pn[b]);
            let (gr, nr) = (total_grad - gl, n_total - nl);
            let v = gl * gl / (nl + l2) + gr * gr / (nr + l2);
            let ok = c[b] > 0 && nl >= min_leaf_f && nr >= min_leaf_f;
            gains[b] = if ok { v } else { f64::NEG_INFINITY };
        }
        let mut arg = None;
        let mut top = parent;
        for (b, &v) in gains[..m].iter().enumerate() {
            if v > top {
                top = v;
                arg = Some(b);
            }
        }
        if let Some(b) = arg {
            let gain = top - parent;
            if gain > 0.0 && best.is_none_or(|s| gain > s.gain) {
                best = Some(Split {
                    gain,
                    feature: f,
                    bin: b,
                    left_grad: pg[b],
                    left_count: pn[b] as u32,
                });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // One feature, 4 bins with gradients (−3, −3, +1, +5), one row each... scaled.
        let offsets = [0, 4, 5];
        let mut h = Histogram {
            grad: vec![0.0; 5],
            count: vec![0; 5],
        };
        for (b, (g, c)) in [(-30.0, 10u32), (-30.0, 10), (10.0, 10), (50.0, 10)]
            .into_iter()
            .enumerate()
        {
            h.grad[b] = g;
            h.count[b] = c;
        }
        // Feature 1 is constant (one bin).
        h.count[4] = 40;
        let s = best_split(&h, &[4, 1], &offsets, 0.0, 40, 1, 0.0).unwrap();
        // Split after bin 1: left g = −60 (20 rows), right +60 (20 rows): 180 + 180.
        assert_eq!((s.feature, s.bin, s.left_count), (0, 1, 20));
        assert!((s.gain - 360.0).abs() < 1e-9);
        // With min_leaf 25 no split is allowed.
        assert!(best_split(&h, &[4, 1], &offsets, 0.0, 40, 25, 0.0).is_none());
    }
}
