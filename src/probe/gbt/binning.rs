//! Feature → `u8` bin codes, fitted on the training fold
//! (scikit-learn's `_BinMapper`, `sklearn/ensemble/_hist_gradient_boosting/binning.py`).
//!
//! Thresholds per feature: with at most `max_bins` distinct values, the
//! midpoints between consecutive distinct values; otherwise the
//! `linspace(0, 100, max_bins + 1)[1:-1]` percentiles with NumPy's
//! `midpoint` interpolation, de-duplicated. A value's bin is the number of
//! thresholds strictly below it, so `x ≤ thresholds[b]` ⟺ `bin(x) ≤ b`.
//! A constant feature has no threshold (one bin) and is never split, so
//! [`BinMapper::transform`] leaves it out of the binned matrix altogether
//! (LightGBM drops such "trivial" features the same way): its histogram
//! would cost a pass over the rows for nothing.

use ndarray::ArrayView2;

/// Largest number of bins (codes are `u8`).
pub const MAX_BINS: usize = 255;

/// Per-feature bin thresholds learned from training data.
#[derive(Debug, Clone)]
pub struct BinMapper {
    /// `thresholds[f]` is sorted ascending, at most `max_bins − 1` long.
    pub thresholds: Vec<Vec<f64>>,
}

/// A binned matrix of the splittable (non-constant) features, column-major:
/// `codes[f * n + i]` is row `i` of binned feature `f`, which is column
/// `features[f]` of the input.
#[derive(Debug, Clone)]
pub struct Binned {
    /// Rows.
    pub n: usize,
    /// Binned (non-constant) features.
    pub d: usize,
    /// Input column of each binned feature.
    pub features: Vec<usize>,
    /// Bin codes, column-major.
    pub codes: Vec<u8>,
    /// Number of bins used by each binned feature (≥ 2).
    pub n_bins: Vec<usize>,
    /// Start of each feature's bins in a histogram (prefix sums of
    /// `n_bins`, `d + 1` entries), so histograms hold only the bins in use.
    pub offsets: Vec<usize>,
}

impl Binned {
    /// Codes of feature `f`.
    pub fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.n..(f + 1) * self.n]
    }
}

impl BinMapper {
    /// Learn thresholds from `x` (`n × d`), `2 ≤ max_bins ≤ 255`.
    pub fn fit(x: ArrayView2<'_, f64>, max_bins: usize) -> BinMapper {
        assert!((2..=MAX_BINS).contains(&max_bins));
        let thresholds = x
            .columns()
            .into_iter()
            .map(|col| {
                let mut v: Vec<f64> = col.to_vec();
                v.sort_unstable_by(f64::total_cmp);
                feature_thresholds(&v, max_bins)
            })
            .collect();
        BinMapper { thresholds }
    }

    /// Bin `x` with the learned thresholds, keeping only the features that
    /// have at least one threshold.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Binned {
        let n = x.nrows();
        assert_eq!(x.ncols(), self.thresholds.len());
        let features: Vec<usize> = (0..self.thresholds.len())
            .filter(|&f| !self.thresholds[f].is_empty())
            .collect();
        let d = features.len();
        let mut codes = vec![0u8; n * d];
        for (k, &f) in features.iter().enumerate() {
            let t = &self.thresholds[f];
            let out = &mut codes[k * n..(k + 1) * n];
            for (o, &v) in out.iter_mut().zip(x.column(f).iter()) {
                *o = t.partition_point(|&th| th < v) as u8;
            }
        }
        let n_bins: Vec<usize> = features
            .iter()
            .map(|&f| self.thresholds[f].len() + 1)
            .collect();
        let mut offsets = Vec::with_capacity(d + 1);
        offsets.push(0);
        for nb in &n_bins {
            offsets.push(offsets.last().unwrap() + nb);
        }
        Binned {
            n,
            d,
            features,
            codes,
            n_bins,
            offsets,
        }
    }
}

/// Thresholds of one feature from its sorted values.
fn feature_thresholds(sorted: &[f64], max_bins: usize) -> Vec<f64> {
    let mut distinct: Vec<f64> = sorted.to_vec();
    distinct.dedup();
    let mut t: Vec<f64> = if distinct.len() <= max_bins {
        distinct.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
    } else {
        let n = sorted.len();
        (1..max_bins)
            .map(|k| {
                let pos = (k as f64 / max_bins as f64) * (n - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                0.5 * (sorted[lo] + sorted[hi])
            })
            .collect()
    };
    t.dedup();
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn few_distinct_values_split_at_midpoints() {
        let x = array![[1.0, 5.0], [3.0, 5.0], [3.0, 5.0], [7.0, 5.0]];
        let m = BinMapper::fit(x.view(), 255);
        assert_eq!(m.thresholds[0], vec![2.0, 5.0]);
        assert!(m.thresholds[1].is_empty(), "constant feature: one bin");
        let b = m.transform(x.view());
        assert_eq!(b.column(0), &[0, 1, 1, 2]);
        // The constant feature is not binned at all.
        assert_eq!(
            (b.d, b.features.clone(), b.n_bins.clone()),
            (1, vec![0], vec![3])
        );
        assert_eq!(b.offsets, vec![0, 3]);
        // Unseen values: below, at a threshold (goes left), above.
        let t = m.transform(array![[-9.0, 0.0], [2.0, 0.0], [100.0, 0.0]].view());
        assert_eq!(t.column(0), &[0, 0, 2]);
        // A constant first column shifts the binned index, not the input one.
        let y = array![[4.0, 1.0], [4.0, 2.0], [4.0, 3.0]];
        let by = BinMapper::fit(y.view(), 255).transform(y.view());
        assert_eq!((by.d, by.features.clone()), (1, vec![1]));
        assert_eq!(by.column(0), &[0, 1, 2]);
    }

    #[test]
    fn many_values_use_midpoint_percentiles() {
        // 0..9 with 4 bins: percentiles 25, 50, 75 of 10 values sit at
        // positions 2.25, 4.5, 6.75 → midpoints (2+3)/2, (4+5)/2, (6+7)/2.
        let x = ndarray::Array2::from_shape_fn((10, 1), |(i, _)| i as f64);
        let m = BinMapper::fit(x.view(), 4);
        assert_eq!(m.thresholds[0], vec![2.5, 4.5, 6.5]);
        let b = m.transform(x.view());
        assert_eq!(b.column(0), &[0, 0, 0, 1, 1, 2, 2, 3, 3, 3]);
    }
}
