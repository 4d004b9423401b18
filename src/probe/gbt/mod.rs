//! Histogram gradient-boosted trees for squared loss, as LightGBM and
//! scikit-learn's `HistGradientBoostingRegressor` build them: the training
//! fold is binned once ([`binning`]), each round grows a leaf-wise tree
//! ([`grower`]) from gradient histograms ([`histogram`], sibling by
//! subtraction) and best splits ([`splitting`]), and the fitted model is a
//! list of flat trees ([`predictor`]).
//!
//! # Objective
//! `Σ (y_i − F(x_i))²/2` with `F = mean(y) + η Σ_t f_t`, each tree `f_t`
//! fitted to the gradients `F(x_i) − y_i` with leaf values `−G/(n + λ)`.
//!
//! # Parameters
//! | name | default | range |
//! |------|---------|-------|
//! | `rounds` | 300 | ≥ 1 |
//! | `learning_rate` | 0.1 | finite, > 0 |
//! | `max_leaves` | 31 | 2 ..= 65536 |
//! | `max_depth` | none | ≥ 1 |
//! | `min_leaf` | 20 | ≥ 1 |
//! | `l2` | 0 | finite, ≥ 0 |
//! | `max_bins` | 255 | 2 ..= 255 |
//!
//! There is no randomness (no row or feature subsampling), so a fit is fully
//! determined by its data. Training stops early when a round's tree cannot
//! split (all further trees would be the same single leaf).

pub mod binning;
pub mod grower;
pub mod histogram;
pub mod predictor;
pub mod splitting;

use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

use super::{FoldPrediction, Probe};
use crate::error::{CpdError, Result};
use binning::{BinMapper, Binned, MAX_BINS};
use grower::{grow, HistPool, TreeParams};
use predictor::{Node, Tree};

/// Unchecked GBT hyper-parameters (defaults as in `DESIGN.md`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GbtParams {
    /// Boosting rounds.
    pub rounds: usize,
    /// Shrinkage η.
    pub learning_rate: f64,
    /// Maximum leaves per tree.
    pub max_leaves: usize,
    /// Maximum depth, `None` for unlimited.
    pub max_depth: Option<usize>,
    /// Minimum rows per leaf.
    pub min_leaf: usize,
    /// L2 penalty λ on leaf values.
    pub l2: f64,
    /// Maximum bins per feature.
    pub max_bins: usize,
}

impl Default for GbtParams {
    fn default() -> Self {
        GbtParams {
            rounds: 300,
            learning_rate: 0.1,
            max_leaves: 31,
            max_depth: None,
            min_leaf: 20,
            l2: 0.0,
            max_bins: MAX_BINS,
        }
    }
}

impl GbtParams {
    /// Validate the ranges in the module table.
    pub fn check(self) -> Result<Gbt> {
        let bad = |m: String| Err(CpdError::Invalid(m));
        if self.rounds == 0 {
            return bad("--gbt-rounds must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!("--gbt-lr must be > 0, got {}", self.learning_rate));
        }
        if !(2..=65536).contains(&self.max_leaves) {
            return bad(format!(
                "--gbt-leaves must be in 2..=65536, got {}",
                self.max_leaves
            ));
        }
        if self.max_depth == Some(0) {
            return bad("--gbt-depth must be at least 1".into());
        }
        if self.min_leaf == 0 || self.min_leaf > u32::MAX as usize {
            return bad(format!(
                "--gbt-min-leaf must be at least 1, got {}",
                self.min_leaf
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad(format!("--gbt-l2 must be ≥ 0, got {}", self.l2));
        }
        if !(2..=MAX_BINS).contains(&self.max_bins) {
            return bad(format!(
                "--gbt-bins must be in 2..=255, got {}",
                self.max_bins
            ));
        }
        Ok(Gbt { params: self })
    }
}

/// Validated GBT probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Gbt {
    params: GbtParams,
}

/// A fitted booster for one target.
#[derive(Debug, Clone)]
pub struct FittedGbt {
    /// Initial prediction (training mean).
    pub init: f64,
    /// Trees with shrinkage applied to their leaf values.
    pub trees: Vec<Tree>,
}

impl FittedGbt {
    /// Predict one row of raw features.
    pub fn predict_row(&self, x: ArrayView1<'_, f64>) -> f64 {
        self.init + self.trees.iter().map(|t| t.predict_row(x)).sum::<f64>()
    }
}

impl Gbt {
    /// The validated parameters.
    pub fn params(&self) -> &GbtParams {
        &self.params
    }

    fn tree_params(&self) -> TreeParams {
        TreeParams {
            max_leaves: self.params.max_leaves,
            max_depth: self.params.max_depth,
            min_leaf: self.params.min_leaf as u32,
            l2: self.params.l2,
        }
    }

    /// Boost on an already binned training fold for one target.
    pub fn fit_binned(
        &self,
        binned: &Binned,
        mapper: &BinMapper,
        y: ArrayView1<'_, f64>,
    ) -> FittedGbt {
        let n = binned.n;
        let init = y.sum() / n as f64;
        let mut pred = vec![init; n];
        let mut grad = vec![0.0; n];
        let tp = self.tree_params();
        let lr = self.params.learning_rate;
        let mut trees = Vec::with_capacity(self.params.rounds);
        let mut pool = HistPool::default();
        for _ in 0..self.params.rounds {
            for ((g, &p), &t) in grad.iter_mut().zip(&pred).zip(y.iter()) {
                *g = p - t;
            }
            let grown = grow(binned, mapper, &grad, &tp, &mut pool);
            let single_leaf = grown.leaves.len() == 1;
            for (rows, value) in &grown.leaves {
                let v = lr * value;
                for &r in rows {
                    pred[r as usize] += v;
                }
            }
            let mut tree = grown.tree;
            for node in &mut tree.nodes {
                if let Node::Leaf { value } = node {
                    *value *= lr;
                }
            }
            trees.push(tree);
            if single_leaf {
                break;
            }
        }
        FittedGbt { init, trees }
    }
}

impl Probe for Gbt {
    fn fit_predict(
        &self,
        x_train: ArrayView2<'_, f64>,
        y_train: ArrayView2<'_, f64>,
        x_test: ArrayView2<'_, f64>,
    ) -> Result<FoldPrediction> {
        if x_train.nrows() < 2 {
            return Err(CpdError::Invalid(format!(
                "gbt needs at least 2 training rows, got {}",
                x_train.nrows()
            )));
        }
        let mapper = BinMapper::fit(x_train, self.params.max_bins);
        let binned = mapper.transform(x_train);
        // Targets are independent boosters: fit them in parallel.
        let columns: Vec<Vec<f64>> = (0..y_train.ncols())
            .into_par_iter()
            .map(|t| {
                let model = self.fit_binned(&binned, &mapper, y_train.column(t));
                x_test
                    .rows()
                    .into_iter()
                    .map(|row| model.predict_row(row))
                    .collect()
            })
            .collect();
        let mut pred = Array2::<f64>::zeros((x_test.nrows(), y_train.ncols()));
        for (t, col) in columns.into_iter().enumerate() {
            pred.column_mut(t).assign(&ndarray::Array1::from(col));
        }
        Ok(FoldPrediction { pred, alpha: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn boosting_fits_a_step_function_and_respects_parameters() {
        let x = Array2::from_shape_fn((200, 2), |(i, j)| {
            if j == 0 {
                i as f64
            } else {
                ((i * 7) % 13) as f64
            }
        });
        let y = Array2::from_shape_fn((200, 1), |(i, _)| if i < 100 { 1.0 } else { 3.0 });
        let gbt = GbtParams {
            rounds: 50,
            ..GbtParams::default()
        }
        .check()
        .unwrap();
        let out = gbt.fit_predict(x.view(), y.view(), x.view()).unwrap();
        let err: f64 = out
            .pred
            .iter()
            .zip(y.iter())
            .map(|(p, t)| (p - t).abs())
            .fold(0.0, f64::max);
        // After 50 rounds of η = 0.1 the residual shrinks by 0.9^50 ≈ 0.005.
        assert!(err < 0.01, "max error {err}");
        assert!(GbtParams {
            rounds: 0,
            ..GbtParams::default()
        }
        .check()
        .is_err());
        assert!(GbtParams {
            max_bins: 256,
            ..GbtParams::default()
        }
        .check()
        .is_err());
        assert!(GbtParams {
            l2: -1.0,
            ..GbtParams::default()
        }
        .check()
        .is_err());
    }

    #[test]
    fn constant_target_stops_after_one_tree() {
        let x = Array2::from_shape_fn((50, 3), |(i, j)| (i * (j + 1)) as f64);
        let y = ndarray::Array1::from_elem(50, 2.5);
        let gbt = GbtParams::default().check().unwrap();
        let mapper = BinMapper::fit(x.view(), 255);
        let m = gbt.fit_binned(&mapper.transform(x.view()), &mapper, y.view());
        assert_eq!(m.trees.len(), 1);
        assert_eq!(m.predict_row(x.row(3)), 2.5);
    }
}
