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
//! | `validation` | none (no early stopping) | in (0, 1) |
//! | `patience` | 10 | ≥ 1 |
//! | `seed` | 0 | any |
//!
//! # Early stopping
//! Without `validation` every round is boosted (LightGBM's and the paper's
//! setting). With it, that fraction of the training fold (`⌈f·n⌉` rows, at
//! least 1, drawn from a ChaCha8 stream of `seed` and the fold number, the
//! same for every target and representation) is held out; the bins and
//! trees are fitted on the rest, and boosting stops once the validation
//! mean squared error has not decreased for `patience` rounds. The model
//! keeps the trees up to its best round (LightGBM's `early_stopping`
//! callback with `min_delta = 0`, and its `best_iteration` at prediction).
//!
//! Apart from that split there is no randomness (no row or feature
//! subsampling), so a fit is fully determined by its data. Training also
//! stops when a round's tree cannot split (all further trees would be the
//! same single leaf).

pub mod binning;
pub mod grower;
pub mod histogram;
pub mod predictor;
pub mod splitting;

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::{FoldPrediction, Probe, Split};
use crate::error::{CpdError, Result};
use crate::flow::rows::Rows;
use binning::{BinMapper, Binned, MAX_BINS};
use clap::Args;
use grower::{grow, TreeParams, Workspace};
use predictor::{Node, Tree};
use serde::{Deserialize, Serialize};

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
    /// Fraction of the training fold held out for early stopping; `None`
    /// boosts all rounds.
    #[serde(default)]
    pub validation: Option<f64>,
    /// Rounds without a lower validation error before boosting stops.
    #[serde(default = "default_patience")]
    pub patience: usize,
    /// Seed of the early-stopping split.
    #[serde(default)]
    pub seed: u64,
}

fn default_patience() -> usize {
    10
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
            validation: None,
            patience: default_patience(),
            seed: 0,
        }
    }
}

impl GbtParams {
    /// One line for the report's settings.
    pub fn describe(&self) -> String {
        format!(
            "{} rounds, learning rate {}, {} leaves, depth {}, min {} per leaf, L2 {}, {} bins, {}",
            self.rounds,
            self.learning_rate,
            self.max_leaves,
            self.max_depth.map_or("unlimited".into(), |d| d.to_string()),
            self.min_leaf,
            self.l2,
            self.max_bins,
            self.validation
                .map_or("no early stopping".into(), |f| format!(
                    "early stopping on {f} of each training fold (patience {}, seed {})",
                    self.patience, self.seed
                )),
        )
    }

    /// Validate the ranges in the module table.
    pub fn check(self) -> Result<Gbt> {
        let bad = |m: String| Err(CpdError::Invalid(m));
        if self.rounds == 0 {
            return bad("setting `gbt.rounds` must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "setting `gbt.learning_rate` must be > 0, got {}",
                self.learning_rate
            ));
        }
        if !(2..=65536).contains(&self.max_leaves) {
            return bad(format!(
                "setting `gbt.max_leaves` must be in 2..=65536, got {}",
                self.max_leaves
            ));
        }
        if self.max_depth == Some(0) {
            return bad("setting `gbt.max_depth` must be at least 1".into());
        }
        if self.min_leaf == 0 || self.min_leaf > u32::MAX as usize {
            return bad(format!(
                "setting `gbt.min_leaf` must be at least 1, got {}",
                self.min_leaf
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad(format!("setting `gbt.l2` must be ≥ 0, got {}", self.l2));
        }
        if !(2..=MAX_BINS).contains(&self.max_bins) {
            return bad(format!(
                "setting `gbt.max_bins` must be in 2..=255, got {}",
                self.max_bins
            ));
        }
        if let Some(f) = self.validation {
            if !(f > 0.0 && f < 1.0) {
                return bad(format!(
                    "setting `gbt.validation` must be in (0, 1), got {f}"
                ));
            }
        }
        if self.patience == 0 {
            return bad("setting `gbt.patience` must be at least 1".into());
        }
        Ok(Gbt { params: self })
    }
}

/// `[settings.gbt]`: the gradient-boosted trees (LightGBM's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct GbtSettings {
    /// GBT: boosting rounds.
    #[arg(id = "gbt_rounds", help_heading = "GBT", long = "gbt-rounds", value_name = "N", default_value_t = GbtParams::default().rounds)]
    pub rounds: usize,
    /// GBT: learning rate (shrinkage).
    #[arg(id = "gbt_learning_rate", help_heading = "GBT", long = "gbt-learning-rate", alias = "gbt-lr", value_name = "ETA", default_value_t = GbtParams::default().learning_rate)]
    #[serde(alias = "lr")]
    pub learning_rate: f64,
    /// GBT: maximum leaves per tree, grown leaf-wise.
    #[arg(id = "gbt_max_leaves", help_heading = "GBT", long = "gbt-max-leaves", alias = "gbt-leaves", value_name = "N", default_value_t = GbtParams::default().max_leaves)]
    #[serde(alias = "leaves")]
    pub max_leaves: usize,
    /// GBT: maximum tree depth [default: unlimited].
    #[arg(
        id = "gbt_max_depth",
        help_heading = "GBT",
        long = "gbt-max-depth",
        alias = "gbt-depth",
        value_name = "N"
    )]
    #[serde(alias = "depth", skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    /// GBT: minimum training rows per leaf.
    #[arg(id = "gbt_min_leaf", help_heading = "GBT", long = "gbt-min-leaf", value_name = "N", default_value_t = GbtParams::default().min_leaf)]
    pub min_leaf: usize,
    /// GBT: L2 penalty on leaf values.
    #[arg(id = "gbt_l2", help_heading = "GBT", long = "gbt-l2", value_name = "LAMBDA", default_value_t = GbtParams::default().l2)]
    pub l2: f64,
    /// GBT: maximum bins per feature (2..=255), from training-fold quantiles.
    #[arg(id = "gbt_max_bins", help_heading = "GBT", long = "gbt-max-bins", alias = "gbt-bins", value_name = "N", default_value_t = GbtParams::default().max_bins)]
    #[serde(alias = "bins")]
    pub max_bins: usize,
    /// GBT: hold out this fraction of each training fold and stop boosting when its error stops falling [default: off, every round].
    #[arg(
        id = "gbt_validation",
        help_heading = "GBT",
        long = "gbt-validation",
        value_name = "FRACTION"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<f64>,
    /// GBT: rounds without a lower validation error before stopping (needs `gbt.validation`).
    #[arg(id = "gbt_patience", help_heading = "GBT", long = "gbt-patience", value_name = "N", default_value_t = GbtParams::default().patience)]
    pub patience: usize,
    /// GBT: seed of the early-stopping split [default: `seed`].
    #[arg(
        id = "gbt_seed",
        help_heading = "GBT",
        long = "gbt-seed",
        value_name = "N"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for GbtSettings {
    fn default() -> Self {
        let p = GbtParams::default();
        GbtSettings {
            rounds: p.rounds,
            learning_rate: p.learning_rate,
            max_leaves: p.max_leaves,
            max_depth: p.max_depth,
            min_leaf: p.min_leaf,
            l2: p.l2,
            max_bins: p.max_bins,
            validation: p.validation,
            patience: p.patience,
            seed: None,
        }
    }
}

impl GbtSettings {
    /// The probe's hyper-parameters (`run_seed` where `seed` is not set).
    pub fn params(&self, run_seed: u64) -> GbtParams {
        GbtParams {
            rounds: self.rounds,
            learning_rate: self.learning_rate,
            max_leaves: self.max_leaves,
            max_depth: self.max_depth,
            min_leaf: self.min_leaf,
            l2: self.l2,
            max_bins: self.max_bins,
            validation: self.validation,
            patience: self.patience,
            seed: self.seed.unwrap_or(run_seed),
        }
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
    /// Trees with shrinkage applied to their leaf values (with early
    /// stopping, those up to the best round).
    pub trees: Vec<Tree>,
    /// Validation mean squared error after each boosted round (empty
    /// without early stopping).
    pub validation_mse: Vec<f64>,
}

/// Held-out rows for early stopping: raw features and target.
pub struct Validation<'a> {
    /// `n_val × d` raw features.
    pub x: ArrayView2<'a, f64>,
    /// Targets.
    pub y: ArrayView1<'a, f64>,
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

    /// Boost on an already binned training fold for one target, stopping
    /// early on `validation` if given (see the module docs).
    pub fn fit_binned(
        &self,
        binned: &Binned,
        mapper: &BinMapper,
        y: ArrayView1<'_, f64>,
        validation: Option<&Validation<'_>>,
    ) -> FittedGbt {
        let n = binned.n;
        let init = y.sum() / n as f64;
        let mut val_pred = validation.map(|v| vec![init; v.y.len()]);
        let mut validation_mse = Vec::new();
        let (mut best_mse, mut best_len) = (f64::INFINITY, 0);
        let mut pred = vec![init; n];
        let mut grad = vec![0.0; n];
        let tp = self.tree_params();
        let lr = self.params.learning_rate;
        let mut trees = Vec::with_capacity(self.params.rounds);
        let mut ws = Workspace::new(binned);
        for _ in 0..self.params.rounds {
            for ((g, &p), &t) in grad.iter_mut().zip(&pred).zip(y.iter()) {
                *g = p - t;
            }
            let grown = grow(binned, mapper, &grad, &tp, Some(lr), &mut ws);
            let single_leaf = grown.leaves.len() == 1;
            for (rows, value) in &grown.leaves {
                let v = lr * value;
                for &r in ws.rows(rows) {
                    pred[r as usize] += v;
                }
            }
            let mut tree = grown.tree;
            for node in &mut tree.nodes {
                if let Node::Leaf { value } = node {
                    *value *= lr;
                }
            }
            if let (Some(v), Some(vp)) = (validation, val_pred.as_mut()) {
                let mut sse = 0.0;
                for ((p, row), &t) in vp.iter_mut().zip(v.x.rows()).zip(v.y.iter()) {
                    *p += tree.predict_row(row);
                    sse += (*p - t) * (*p - t);
                }
                let mse = sse / v.y.len() as f64;
                validation_mse.push(mse);
                if mse < best_mse {
                    (best_mse, best_len) = (mse, trees.len() + 1);
                }
            }
            trees.push(tree);
            if single_leaf
                || (validation.is_some() && trees.len() - best_len >= self.params.patience)
            {
                break;
            }
        }
        if validation.is_some() {
            trees.truncate(best_len);
        }
        FittedGbt {
            init,
            trees,
            validation_mse,
        }
    }

    /// Rows of a training fold of `n` held out for early stopping on fold
    /// `fold` (sorted), or none without early stopping.
    pub fn validation_rows(&self, n: usize, fold: usize) -> Result<Vec<usize>> {
        let Some(frac) = self.params.validation else {
            return Ok(Vec::new());
        };
        let n_val = ((frac * n as f64).ceil() as usize).max(1);
        if n_val + 2 > n {
            return Err(CpdError::Invalid(format!(
                "gbt: {n} training rows leave {n_val} for early-stopping validation \
                 (need ≥ 2 rows to train on)"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.params.seed);
        rng.set_stream(fold as u64);
        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut rng);
        let mut rows = perm[..n_val].to_vec();
        rows.sort_unstable();
        Ok(rows)
    }

    /// Fit on `(x_train, y_train)` (all targets) and predict `x_test`, as
    /// fold number `fold` of the run (which seeds the early-stopping split).
    pub fn fit_predict_fold(
        &self,
        x_train: ArrayView2<'_, f64>,
        y_train: ArrayView2<'_, f64>,
        x_test: ArrayView2<'_, f64>,
        fold: usize,
    ) -> Result<FoldPrediction> {
        let n = x_train.nrows();
        if n < 2 {
            return Err(CpdError::Invalid(format!(
                "gbt needs at least 2 training rows, got {n}"
            )));
        }
        let val_rows = self.validation_rows(n, fold)?;
        let val_x = x_train.select(Axis(0), &val_rows);
        let val_y = y_train.select(Axis(0), &val_rows);
        let fit = (!val_rows.is_empty()).then(|| {
            let mut is_val = vec![false; n];
            for &r in &val_rows {
                is_val[r] = true;
            }
            let rows: Vec<usize> = (0..n).filter(|&r| !is_val[r]).collect();
            (
                x_train.select(Axis(0), &rows),
                y_train.select(Axis(0), &rows),
            )
        });
        let (x_fit, y_fit) = match &fit {
            Some((x, y)) => (x.view(), y.view()),
            None => (x_train, y_train),
        };
        let mapper = BinMapper::fit(x_fit, self.params.max_bins);
        let binned = mapper.transform(x_fit);
        // Targets are independent boosters: fit them in parallel.
        let columns: Vec<Vec<f64>> = (0..y_train.ncols())
            .into_par_iter()
            .map(|t| {
                let validation = (!val_rows.is_empty()).then(|| Validation {
                    x: val_x.view(),
                    y: val_y.column(t),
                });
                let model = self.fit_binned(&binned, &mapper, y_fit.column(t), validation.as_ref());
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

impl Probe for Gbt {
    fn fit_predict(
        &self,
        x: &dyn Rows,
        split: Split<'_>,
        y_train: ArrayView2<'_, f64>,
    ) -> Result<FoldPrediction> {
        let (x_train, x_test) = (x.gather(split.train), x.gather(split.test));
        self.fit_predict_fold(x_train.view(), y_train, x_test.view(), split.fold)
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
        let out = gbt
            .fit_predict_fold(x.view(), y.view(), x.view(), 0)
            .unwrap();
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
        let m = gbt.fit_binned(&mapper.transform(x.view()), &mapper, y.view(), None);
        assert_eq!(m.trees.len(), 1);
        assert_eq!(m.predict_row(x.row(3)), 2.5);
    }

    #[test]
    fn early_stopping_keeps_the_best_round() {
        // y = step(x0) + noise: after the step is learnt, further trees fit
        // noise and the held-out error rises again.
        let n = 400;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (7 + 4 * j)) % 101) as f64);
        let noise = |i: usize| (((i * 7919) % 23) as f64 - 11.0) / 4.0;
        let step = |i: usize| if x[(i, 0)] < 50.0 { 0.0 } else { 4.0 };
        let y = ndarray::Array1::from_shape_fn(n, |i| step(i) + noise(i));
        let gbt = GbtParams {
            rounds: 300,
            validation: Some(0.2),
            patience: 5,
            ..GbtParams::default()
        }
        .check()
        .unwrap();
        let val = gbt.validation_rows(n, 0).unwrap();
        assert_eq!(val.len(), 80);
        assert!(val.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(val, gbt.validation_rows(n, 0).unwrap(), "seeded");
        assert_ne!(val, gbt.validation_rows(n, 1).unwrap(), "per fold");
        let fit: Vec<usize> = (0..n).filter(|r| val.binary_search(r).is_err()).collect();
        let (xf, yf) = (x.select(Axis(0), &fit), y.select(Axis(0), &fit));
        let (xv, yv) = (x.select(Axis(0), &val), y.select(Axis(0), &val));
        let mapper = BinMapper::fit(xf.view(), 255);
        let v = Validation {
            x: xv.view(),
            y: yv.view(),
        };
        let m = gbt.fit_binned(&mapper.transform(xf.view()), &mapper, yf.view(), Some(&v));
        let mse = &m.validation_mse;
        let best = mse.iter().cloned().fold(f64::INFINITY, f64::min);
        // Stopped `patience` rounds after the best one, well before 300,
        // and kept the trees up to the best.
        assert!(mse.len() < 300, "{} rounds", mse.len());
        assert_eq!(mse[m.trees.len() - 1], best);
        assert_eq!(mse.len(), m.trees.len() + 5);
        assert!(mse[m.trees.len()..].iter().all(|&e| e >= best));
        // The kept model reproduces the best validation error.
        let again: f64 = xv
            .rows()
            .into_iter()
            .zip(yv.iter())
            .map(|(r, t)| (m.predict_row(r) - t).powi(2))
            .sum::<f64>()
            / 80.0;
        assert!((again - best).abs() < 1e-9 * best);
        for bad in [0.0, 1.0, f64::NAN] {
            let p = GbtParams {
                validation: Some(bad),
                ..GbtParams::default()
            };
            assert!(p.check().is_err(), "{bad}");
        }
        assert!(GbtParams {
            patience: 0,
            ..GbtParams::default()
        }
        .check()
        .is_err());
        let tiny = GbtParams {
            validation: Some(0.5),
            ..GbtParams::default()
        }
        .check()
        .unwrap();
        assert!(tiny.validation_rows(3, 0).is_err());
    }
}
