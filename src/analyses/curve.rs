//! Sample efficiency: learning curves. For each training size `m`, each
//! fold's training rows are subsampled `repeats` times (seeded, without
//! replacement), the probe is fitted on the subsample and scored on the
//! whole held-out fold. R² mean and std are over folds × repeats.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use ndarray::{ArrayView2, Axis};

use crate::error::{CpdError, Result};
use crate::flow::folds::Folds;
use crate::flow::metrics::{mean_std, r2};
use crate::flow::rows::Rows;
use crate::probe::{Probe, Split};

/// Training sizes and repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveSpec {
    /// Training-set sizes, increasing.
    pub sizes: Vec<usize>,
    /// Subsamples per size and fold.
    pub repeats: usize,
    /// Seed of the subsampling.
    pub seed: u64,
}

impl CurveSpec {
    /// Check the sizes against the smallest training fold.
    pub fn check(&self, folds: &Folds) -> Result<()> {
        if self.sizes.is_empty() || self.repeats == 0 {
            return Err(CpdError::Invalid(
                "setting `learning_curve` needs at least one size, and `curve_repeats` at least 1"
                    .into(),
            ));
        }
        let smallest = (0..folds.k)
            .map(|f| folds.split(f).0.len())
            .min()
            .unwrap_or(0);
        for (i, &m) in self.sizes.iter().enumerate() {
            if m < 2 {
                return Err(CpdError::Invalid(format!(
                    "setting `learning_curve`: size {m}: at least 2 training rows are needed"
                )));
            }
            if m > smallest {
                return Err(CpdError::Invalid(format!(
                    "setting `learning_curve`: size {m} exceeds the smallest training fold ({smallest} rows)"
                )));
            }
            if i > 0 && m <= self.sizes[i - 1] {
                return Err(CpdError::Invalid(
                    "setting `learning_curve`: sizes must increase".into(),
                ));
            }
        }
        Ok(())
    }
}

/// R² at one training size, for one target.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    /// Training rows.
    pub n_train: usize,
    /// Mean R² over folds × repeats.
    pub r2_mean: f64,
    /// Population std of the same.
    pub r2_std: f64,
}

/// The curve of `probe` on `x` for every target of `y` (outer: target,
/// inner: size). Subsamples are drawn from a seed derived from
/// (`seed`, size, fold, repeat) and fitted in parallel; the numbers do not
/// depend on the thread count.
pub fn learning_curve(
    probe: &dyn Probe,
    x: &dyn Rows,
    y: ArrayView2<'_, f64>,
    folds: &Folds,
    spec: &CurveSpec,
) -> Result<Vec<Vec<CurvePoint>>> {
    let jobs: Vec<(usize, usize, usize)> = spec
        .sizes
        .iter()
        .enumerate()
        .flat_map(|(s, _)| {
            (0..folds.k).flat_map(move |f| (0..spec.repeats).map(move |r| (s, f, r)))
        })
        .collect();
    let scores = jobs
        .par_iter()
        .map(|&(s, f, r)| {
            let m = spec.sizes[s];
            let (train, test) = folds.split(f);
            let seed = spec
                .seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(((m as u64) << 32) ^ ((f as u64) << 16) ^ r as u64);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            // Partial Fisher–Yates: the first m of a seeded shuffle.
            let mut pool = train.clone();
            for i in 0..m {
                let j = rng.random_range(i..pool.len());
                pool.swap(i, j);
            }
            let mut pick = pool[..m].to_vec();
            pick.sort_unstable();
            let y_train = y.select(Axis(0), &pick);
            // Fold 0's stream for every fit (as the seeds above already vary).
            let split = Split {
                train: &pick,
                test: &test,
                fold: 0,
            };
            let pred = probe.fit_predict(x, split, y_train.view())?;
            Ok((0..y.ncols())
                .map(|t| {
                    let truth: Vec<f64> = test.iter().map(|&i| y[(i, t)]).collect();
                    r2(&truth, &pred.pred.column(t).to_vec())
                })
                .collect::<Vec<f64>>())
        })
        .collect::<Result<Vec<Vec<f64>>>>()?;
    let per_size = folds.k * spec.repeats;
    Ok((0..y.ncols())
        .map(|t| {
            spec.sizes
                .iter()
                .enumerate()
                .map(|(s, &m)| {
                    let vals: Vec<f64> = scores[s * per_size..(s + 1) * per_size]
                        .iter()
                        .map(|v| v[t])
                        .collect();
                    let (mean, std) = mean_std(&vals);
                    CurvePoint {
                        n_train: m,
                        r2_mean: mean,
                        r2_std: std,
                    }
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::rows::Dense;
    use crate::probe::ridge::RidgeParams;
    use ndarray::Array2;

    #[test]
    fn a_linear_targets_ridge_curve_rises_to_the_full_data_r2() {
        let n = 600;
        let mut s = 7u64;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let x = Array2::from_shape_fn((n, 40), |_| next());
        let mut y = Array2::zeros((n, 1));
        for i in 0..n {
            y[(i, 0)] = (0..40)
                .map(|j| x[(i, j)] * ((j % 7) as f64 - 3.0))
                .sum::<f64>()
                + 0.3 * next();
        }
        let folds = Folds::shuffled(n, 5, 0).unwrap();
        let spec = CurveSpec {
            sizes: vec![30, 60, 120, 240, 480],
            repeats: 3,
            seed: 0,
        };
        spec.check(&folds).unwrap();
        let ridge = RidgeParams::default().check().unwrap();
        let curve = learning_curve(&ridge, &Dense(x.view()), y.view(), &folds, &spec).unwrap();
        let r2s: Vec<f64> = curve[0].iter().map(|p| p.r2_mean).collect();
        for w in r2s.windows(2) {
            assert!(w[1] > w[0], "{r2s:?}");
        }
        let full =
            crate::probe::cv::cross_validate(&ridge, &Dense(x.view()), y.view(), &folds).unwrap();
        let full_mean = full[0].r2_folds.iter().sum::<f64>() / 5.0;
        assert!(r2s[0] < full_mean - 0.1, "{r2s:?} vs {full_mean}");
        assert!((r2s[4] - full_mean).abs() < 0.01, "{r2s:?} vs {full_mean}");
        // Sizes are validated.
        let bad = CurveSpec {
            sizes: vec![100, 50],
            ..spec.clone()
        };
        assert!(bad.check(&folds).is_err());
        let big = CurveSpec {
            sizes: vec![481],
            ..spec
        };
        let e = big.check(&folds).unwrap_err().to_string();
        assert!(
            e.contains("exceeds the smallest training fold (480 rows)"),
            "{e}"
        );
    }
}
