//! Best split of a leaf from its histogram, for squared loss (hessian 1 per
//! row) with L2 regularisation λ on leaf values (XGBoost, Chen & Guestrin
//! 2016, eqs. 5–7; LightGBM's `FeatureHistogram`; scikit-learn's
//! `splitting.pyx`).

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

/// `1/(k + λ)` for every row count `k` a leaf of a fit can hold, so that
/// the two divisions per candidate bin of the split search become one
/// lookup (division dominated the search).
#[derive(Debug, Clone)]
pub struct Reciprocals {
    inv: Vec<f64>,
}

impl Reciprocals {
    /// Table for leaves of at most `n` rows and penalty `l2`. With λ = 0
    /// the entry for 0 rows is +∞; it is never read, since both children
    /// of a candidate keep at least `min_leaf ≥ 1` rows.
    pub fn new(n: usize, l2: f64) -> Reciprocals {
        Reciprocals {
            inv: (0..=n).map(|k| 1.0 / (k as f64 + l2)).collect(),
        }
    }
}

/// What the split search of one leaf needs besides its histogram.
#[derive(Debug, Clone, Copy)]
pub struct LeafTotals<'a> {
    grad: f64,
    count: u32,
    min_leaf: u32,
    /// `G²/(n+λ)` of the leaf itself.
    parent: f64,
    /// `(1/(k+λ), 1/(n−k+λ))` for every admissible left count `k`.
    pairs: &'a [[f64; 2]],
}

impl<'a> LeafTotals<'a> {
    /// A leaf with gradient sum `grad` over `count` rows, or `None` when it
    /// is too small to leave `min_leaf` rows on both sides. `buf` holds
    /// the leaf's reciprocal pairs.
    pub fn new(
        grad: f64,
        count: u32,
        min_leaf: u32,
        inv: &Reciprocals,
        buf: &'a mut Vec<[f64; 2]>,
    ) -> Option<LeafTotals<'a>> {
        if (count as u64) < 2 * min_leaf as u64 {
            return None;
        }
        let n = count as usize;
        buf.clear();
        buf.extend((0..=n - min_leaf as usize).map(|k| [inv.inv[k], inv.inv[n - k]]));
        Some(LeafTotals {
            grad,
            count,
            min_leaf,
            parent: grad * grad * inv.inv[n],
            pairs: buf,
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

/// Best split of binned feature `f` of a leaf, from that feature's
/// gradient sums `g` and row counts `c` per bin, or `None` when no
/// admissible split has a positive gain.
///
/// The bins are scanned once, left to right, with running sums: the scan
/// starts at the first bin whose prefix holds `min_leaf` rows and stops past
/// the last that leaves `min_leaf` on the right, and each candidate's score
/// `G_L²/(n_L+λ) + G_R²/(n_R+λ)` takes both reciprocals from one table
/// entry. An empty bin would repeat the previous candidate's partition; it
/// is skipped (its gradient sum need not be exactly 0 after a subtraction,
/// so its score could differ from the previous one by rounding), which
/// keeps the lowest threshold. Equal to maximising [`split_gain`] up to
/// rounding (the tests keep that naive search to check this one).
pub fn best_split_feature(leaf: &LeafTotals<'_>, f: usize, g: &[f64], c: &[u32]) -> Option<Split> {
    // Candidates are bins 0..nb−1 (the last bin would send every row left).
    let m = c.len().saturating_sub(1);
    let (g, c) = (&g[..m], &c[..m]);
    let max_left = leaf.count - leaf.min_leaf;
    let (mut gl, mut nl) = (0.0, 0u32);
    let mut b = 0;
    while b < m {
        gl += g[b];
        nl += c[b];
        if nl >= leaf.min_leaf {
            break;
        }
        b += 1;
    }
    let (mut top, mut arg) = (leaf.parent, usize::MAX);
    let (mut top_gl, mut top_nl) = (0.0, 0);
    while b < m && nl <= max_left {
        let gr = leaf.grad - gl;
        let [il, ir] = leaf.pairs[nl as usize];
        let v = gl * gl * il + gr * gr * ir;
        if v > top && c[b] != 0 {
            (top, arg, top_gl, top_nl) = (v, b, gl, nl);
        }
        b += 1;
        if b < m {
            gl += g[b];
            nl += c[b];
        }
    }
    let gain = top - leaf.parent;
    (arg != usize::MAX && gain > 0.0).then_some(Split {
        gain,
        feature: f,
        bin: arg,
        left_grad: top_gl,
        left_count: top_nl,
    })
}

/// The best split of a leaf over all binned features (see
/// [`best_split_feature`] and [`better`]).
pub fn best_split(hist: &Histogram, offsets: &[usize], leaf: &LeafTotals<'_>) -> Option<Split> {
    (0..offsets.len() - 1).fold(None, |best, f| {
        let (g, c) = hist.feature(offsets, f);
        better(best, best_split_feature(leaf, f, g, c))
    })
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
        // One feature, 4 bins of 10 rows with gradient sums (−30, −30, 10, 50).
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
        let (inv, mut buf) = (Reciprocals::new(40, 0.0), Vec::new());
        let leaf = LeafTotals::new(0.0, 40, 1, &inv, &mut buf).unwrap();
        let s = best_split(&h, &offsets, &leaf).unwrap();
        // Split after bin 1: left g = −60 (20 rows), right +60 (20 rows): 180 + 180.
        assert_eq!((s.feature, s.bin, s.left_count), (0, 1, 20));
        assert!((s.gain - 360.0).abs() < 1e-9);
        // With min_leaf 20 only the middle split is allowed; with 21 none.
        let leaf = LeafTotals::new(0.0, 40, 20, &inv, &mut buf).unwrap();
        assert_eq!(best_split(&h, &offsets, &leaf).map(|s| s.bin), Some(1));
        assert!(LeafTotals::new(0.0, 40, 21, &inv, &mut buf).is_none());
        assert!(LeafTotals::new(0.0, 40, u32::MAX, &inv, &mut buf).is_none());

        // An empty bin whose gradient sum is subtraction residue, not 0,
        // must not move the threshold past it.
        let offsets = [0, 5];
        let mut h = Histogram {
            grad: vec![-30.0, -30.0, -1e-13, 10.0, 50.0],
            count: vec![10, 10, 0, 10, 10],
        };
        let leaf = LeafTotals::new(0.0, 40, 1, &inv, &mut buf).unwrap();
        assert_eq!(best_split(&h, &offsets, &leaf).map(|s| s.bin), Some(1));
        h.count[2] = 1;
        h.count[3] = 9;
        assert_eq!(best_split(&h, &offsets, &leaf).map(|s| s.bin), Some(2));
    }

    /// Every bin of every feature through [`split_gain`]: the search the
    /// fast scan must reproduce.
    fn naive(
        hist: &Histogram,
        n_bins: &[usize],
        offsets: &[usize],
        n: u32,
        min_leaf: u32,
        l2: f64,
    ) -> Option<(usize, usize, f64)> {
        let g_total: f64 = hist.grad[offsets[0]..offsets[1]].iter().sum();
        let mut best: Option<(usize, usize, f64)> = None;
        for (f, &nb) in n_bins.iter().enumerate() {
            let (g, c) = hist.feature(offsets, f);
            let (mut gl, mut nl) = (0.0, 0u32);
            for b in 0..nb - 1 {
                gl += g[b];
                nl += c[b];
                if c[b] == 0 || nl < min_leaf || n - nl < min_leaf {
                    continue;
                }
                let gain = split_gain(gl, nl as f64, g_total, n as f64, l2);
                if gain > 0.0 && best.is_none_or(|(_, _, top)| gain > top) {
                    best = Some((f, b, gain));
                }
            }
        }
        best
    }

    #[test]
    fn fast_scan_matches_the_naive_search() {
        // Sparse and dense histograms, several min_leaf and λ.
        let (n_bins, n) = ([255usize, 7, 60, 2, 255], 300u32);
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
            let mut h = Histogram {
                grad: vec![0.0; offsets[5]],
                count: vec![0; offsets[5]],
            };
            let rows: Vec<(u32, f64)> = (0..n)
                .map(|_| (next(), (next() % 2001) as f64 / 1000.0 - 1.0))
                .collect();
            for (f, &nb) in n_bins.iter().enumerate() {
                for &(r, g) in &rows {
                    // Trial-dependent clustering leaves many bins empty.
                    let span = 1 + (nb as u32 - 1) / (1 + trial % 4);
                    let b = offsets[f] + ((r ^ (f as u32 * 7919)) % span) as usize;
                    h.grad[b] += g + f as f64 * 0.01 * (r % 3) as f64;
                    h.count[b] += 1;
                }
            }
            // Make every feature's gradient sum the same total.
            for f in 1..5 {
                let sum0: f64 = h.grad[offsets[0]..offsets[1]].iter().sum();
                let sumf: f64 = h.grad[offsets[f]..offsets[f + 1]].iter().sum();
                h.grad[offsets[f]] += sum0 - sumf;
            }
            let total: f64 = h.grad[offsets[0]..offsets[1]].iter().sum();
            for (min_leaf, l2) in [(1, 0.0), (20, 0.0), (20, 3.0), (149, 0.5), (151, 0.0)] {
                let (inv, mut buf) = (Reciprocals::new(n as usize, l2), Vec::new());
                let fast = LeafTotals::new(total, n, min_leaf, &inv, &mut buf)
                    .and_then(|leaf| best_split(&h, &offsets, &leaf));
                let slow = naive(&h, &n_bins, &offsets, n, min_leaf, l2);
                match (fast, slow) {
                    (None, None) => {}
                    (Some(s), Some((f, b, gain))) => {
                        assert_eq!((s.feature, s.bin), (f, b), "trial {trial}");
                        assert!((s.gain - gain).abs() <= 1e-9 * gain.max(1.0));
                        let (g, c) = h.feature(&offsets, f);
                        assert_eq!(s.left_count, c[..=b].iter().sum::<u32>());
                        assert!((s.left_grad - g[..=b].iter().sum::<f64>()).abs() < 1e-9);
                    }
                    other => panic!("trial {trial} min_leaf {min_leaf}: {other:?}"),
                }
            }
        }
    }
}
