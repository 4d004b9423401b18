//! Probes: estimators fitted on a training fold and scored on the held-out
//! fold. Each probe lives in its own module (its [`Probe`] implementation,
//! its hyper-parameters, their settings table and their description);
//! [`ProbeKind`], [`ProbeParams`] and [`ProbeSet`] are the registry that
//! names them; [`cv`] runs a probe over every fold and scores it.
//!
//! A new probe is its module plus one line in each `match` below and a
//! field of [`ProbeParams`] (and of `crate::settings::Settings`) if it has
//! hyper-parameters.

pub mod cv;
pub mod gbt;
pub mod mlp;
pub mod ridge;
pub mod scale;

use ndarray::{Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Deserialize;

use crate::error::{CpdError, Result};
use crate::flow::folds::Folds;
use crate::flow::moments::FoldGrams;
use crate::flow::rows::Rows;
use gbt::{Gbt, GbtParams};
use mlp::{Mlp, MlpParams};
use ridge::{Ridge, RidgeParams};
use scale::Scale;

/// The probes cpd knows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// Ridge regression, alpha by leave-one-out on each training fold, or fixed.
    #[serde(alias = "linear")]
    #[value(alias = "linear")]
    Ridge,
    /// Histogram gradient-boosted trees (squared loss).
    Gbt,
    /// One-hidden-layer ReLU perceptron (Adam, early stopping).
    Mlp,
}

impl ProbeKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Ridge => "ridge",
            ProbeKind::Gbt => "gbt",
            ProbeKind::Mlp => "mlp",
        }
    }

    /// Relative cost of the probe per layer column (a shard plan's
    /// balance), measured on the bundled demo at default settings (2,500
    /// rows, 5 folds, 6 targets, widths 64–1,008, one thread): ridge 8.6 s,
    /// MLP 92 s; GBT more than 370 s of CPU (stopped there), so about
    /// 1 : 10 : 50.
    pub fn cost_weight(self) -> u64 {
        match self {
            ProbeKind::Ridge => 1,
            ProbeKind::Mlp => 10,
            ProbeKind::Gbt => 50,
        }
    }

    /// Whether the probe holds its training rows in memory (and so is
    /// fitted on a subsample under `max_rows`); ridge streams them.
    pub fn gathers(self) -> bool {
        match self {
            ProbeKind::Ridge => false,
            ProbeKind::Gbt | ProbeKind::Mlp => true,
        }
    }

    /// Every probe, in the order of the report's settings.
    pub const ALL: [ProbeKind; 3] = [ProbeKind::Ridge, ProbeKind::Gbt, ProbeKind::Mlp];

    /// The probe's hyper-parameters as the report records them, or `None`
    /// for ridge, whose settings the report keeps apart (`settings.ridge`).
    fn report_params(self, set: &ProbeSet) -> Option<serde_json::Value> {
        match self {
            ProbeKind::Ridge => None,
            ProbeKind::Gbt => serde_json::to_value(set.gbt.params()).ok(),
            ProbeKind::Mlp => serde_json::to_value(set.mlp.params()).ok(),
        }
    }

    /// One line describing the hyper-parameters a report recorded for
    /// this probe (`None` when they do not read as this probe's).
    pub fn describe(self, params: &serde_json::Value) -> Option<String> {
        match self {
            ProbeKind::Ridge => None,
            ProbeKind::Gbt => GbtParams::deserialize(params).ok().map(|p| p.describe()),
            ProbeKind::Mlp => MlpParams::deserialize(params).ok().map(|p| p.describe()),
        }
    }
}

/// The hyper-parameters of every probe (a run uses those of the probes it
/// selects).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeParams {
    /// Ridge.
    pub ridge: RidgeParams,
    /// Gradient-boosted trees.
    pub gbt: GbtParams,
    /// MLP.
    pub mlp: MlpParams,
}

/// The probes of a run, validated, in the order asked for.
#[derive(Debug, Clone)]
pub struct ProbeSet {
    kinds: Vec<ProbeKind>,
    ridge: Ridge,
    gbt: Gbt,
    mlp: Mlp,
    /// `(max_rows, seed)`: the probes that gather their rows are fitted
    /// on a subsample of each training fold ([`Subsampled`]).
    cap: Option<(usize, u64)>,
}

impl ProbeSet {
    /// Check the selection (at least one probe, none twice) and every
    /// probe's hyper-parameters; `scale` is the run's feature scaling,
    /// `cap` as in [`ProbeSet`].
    pub fn new(
        kinds: &[ProbeKind],
        params: &ProbeParams,
        scale: Scale,
        cap: Option<(usize, u64)>,
    ) -> Result<ProbeSet> {
        if kinds.is_empty() {
            return Err(CpdError::Invalid("no probes selected".into()));
        }
        for (i, p) in kinds.iter().enumerate() {
            if kinds[..i].contains(p) {
                return Err(CpdError::Invalid(format!(
                    "probe '{}' is selected twice",
                    p.name()
                )));
            }
        }
        Ok(ProbeSet {
            kinds: kinds.to_vec(),
            gbt: params.gbt.clone().check()?,
            mlp: params.mlp.clone().check()?.with_scale(scale),
            ridge: params.ridge.clone().check()?.with_scale(scale),
            cap,
        })
    }

    /// The probe of `kind`, as configured (without the subsample).
    fn probe(&self, kind: ProbeKind) -> &dyn Probe {
        match kind {
            ProbeKind::Ridge => &self.ridge,
            ProbeKind::Gbt => &self.gbt,
            ProbeKind::Mlp => &self.mlp,
        }
    }

    /// The ridge probe (the baseline of the conditional fits and the
    /// alpha grid of the report), selected or not.
    pub fn ridge(&self) -> &Ridge {
        &self.ridge
    }

    /// The selected probes, in the order asked for, each subsampled where
    /// the run caps the rows it fits on.
    pub fn list(&self) -> Vec<(ProbeKind, Box<dyn Probe + '_>)> {
        self.kinds
            .iter()
            .map(|&k| {
                let p = self.probe(k);
                let boxed: Box<dyn Probe + '_> = match self.cap {
                    Some((max_rows, seed)) if k.gathers() => Box::new(Subsampled {
                        inner: p,
                        max_rows,
                        seed,
                    }),
                    _ => Box::new(p),
                };
                (k, boxed)
            })
            .collect()
    }

    /// The report's record of the probes' hyper-parameters: one entry per
    /// probe that has them, `null` for those not selected.
    pub fn report_params(&self) -> std::collections::BTreeMap<String, serde_json::Value> {
        ProbeKind::ALL
            .iter()
            .filter_map(|&k| {
                let v = k.report_params(self)?;
                let v = if self.kinds.contains(&k) {
                    v
                } else {
                    serde_json::Value::Null
                };
                Some((k.name().to_string(), v))
            })
            .collect()
    }
}

/// What a probe returns for one fold: predictions for the test rows (one
/// column per target) and, where the probe selects one, the regularisation
/// strength chosen per target.
#[derive(Debug, Clone)]
pub struct FoldPrediction {
    /// `n_test × t` predictions.
    pub pred: Array2<f64>,
    /// Per-target selected alpha, if the probe has one.
    pub alpha: Option<Vec<f64>>,
}

/// Which rows a probe fits on and predicts, and which fold of the run they
/// are (a probe with randomness seeds from it, so that the numbers do not
/// depend on which thread fits which fold; learning-curve fits use fold 0).
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// Rows to fit on.
    pub train: &'a [usize],
    /// Rows to predict.
    pub test: &'a [usize],
    /// Fold number of the run.
    pub fold: usize,
}

/// A validated probe, ready to be fitted on any training fold.
///
/// One way in: fit on the rows `split.train` of `x` and predict the rows
/// `split.test`. How the rows are read is the probe's own business: ridge
/// streams them in blocks (its memory does not grow with the fold), the MLP
/// and the GBT gather them.
pub trait Probe: Sync {
    /// Fit on the rows `split.train` of `x` (`y_train` their targets, all
    /// targets at once, in that order) and predict the rows `split.test`.
    fn fit_predict(
        &self,
        x: &dyn Rows,
        split: Split<'_>,
        y_train: ArrayView2<'_, f64>,
    ) -> Result<FoldPrediction>;

    /// Fit on the training rows of every fold of `folds` and predict its
    /// held-out rows (`y`: the targets of every row), handing each fold's
    /// predictions to `fold_done(fold, prediction)` as the fold finishes
    /// (from whichever thread fitted it, in any order: the receiver keeps
    /// a fold's rows only as long as it needs them). `grams`: the per-fold
    /// Gram sums of `x`, when the caller has them.
    ///
    /// By default each fold is [`Probe::fit_predict`], the folds in
    /// parallel. A probe that shares work between the folds overrides it
    /// (ridge: every fold's Gram matrix from one pass over the rows). The
    /// numbers must not depend on the thread count.
    fn fit_predict_folds(
        &self,
        x: &dyn Rows,
        y: FoldTargets<'_>,
        folds: &Folds,
        grams: Option<&FoldGrams<'_>>,
        fold_done: &FoldSink<'_>,
    ) -> Result<()> {
        let _ = grams;
        each_fold(self, x, y, folds, fold_done)
    }
}

/// The targets a probe is fitted to on each training fold.
#[derive(Debug, Clone, Copy)]
pub enum FoldTargets<'a> {
    /// The same targets on every fold: `n × t`, one row per row of `x`.
    Same(ArrayView2<'a, f64>),
    /// Fold `f`'s training rows are fitted to the rows of `[f]` (each
    /// `n × t`; what they hold on fold `f`'s held-out rows is never
    /// fitted). The conditional probe's targets: what the composition
    /// model of each fold leaves ([`cv::cross_validate_conditional`]).
    PerFold(&'a [Array2<f64>]),
}

impl<'a> FoldTargets<'a> {
    /// The targets fold `f`'s training rows are fitted to (`n × t`, by row).
    pub fn of(&self, f: usize) -> ArrayView2<'a, f64> {
        match *self {
            FoldTargets::Same(y) => y,
            FoldTargets::PerFold(ys) => ys[f].view(),
        }
    }
}

/// Receives each fold's predictions: `(fold, prediction)`.
pub type FoldSink<'a> = dyn Fn(usize, FoldPrediction) + Sync + 'a;

/// [`Probe::fit_predict`] on every fold of `folds`, the folds in parallel
/// (the default [`Probe::fit_predict_folds`]).
pub fn each_fold<P: Probe + ?Sized>(
    probe: &P,
    x: &dyn Rows,
    y: FoldTargets<'_>,
    folds: &Folds,
    fold_done: &FoldSink<'_>,
) -> Result<()> {
    (0..folds.k).into_par_iter().try_for_each(|fold| {
        let (train, test) = folds.split(fold);
        let y_train = y.of(fold).select(Axis(0), &train);
        let split = Split {
            train: &train,
            test: &test,
            fold,
        };
        let p = probe.fit_predict(x, split, y_train.view())?;
        fold_done(fold, p);
        Ok(())
    })
}

/// A probe fitted on at most `max_rows` rows of each training fold
/// (`--max-rows`, for the MLP and GBT, which hold their training rows in
/// memory); every held-out row is still predicted and scored.
///
/// The subsample of fold `f` is [`subsample`]`(n_train, max_rows, seed, f)`:
/// deterministic given the run's seed, whatever the thread count.
#[derive(Debug, Clone)]
pub struct Subsampled<P> {
    /// The probe.
    pub inner: P,
    /// Largest training fold fitted.
    pub max_rows: usize,
    /// Seed of the subsample (the run's fold seed).
    pub seed: u64,
}

/// `m` of the positions `0..n` (all of them when `m ≥ n`), increasing: the
/// first `m` of a ChaCha8 Fisher–Yates shuffle seeded with
/// `seed + 1_000_003·(fold + 1)`.
pub fn subsample(n: usize, m: usize, seed: u64, fold: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    if m >= n {
        return all;
    }
    let stream = seed.wrapping_add(1_000_003u64.wrapping_mul(fold as u64 + 1));
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(stream));
    all.truncate(m);
    all.sort_unstable();
    all
}

impl<P: Probe + ?Sized> Probe for &P {
    fn fit_predict(
        &self,
        x: &dyn Rows,
        split: Split<'_>,
        y_train: ArrayView2<'_, f64>,
    ) -> Result<FoldPrediction> {
        (**self).fit_predict(x, split, y_train)
    }

    fn fit_predict_folds(
        &self,
        x: &dyn Rows,
        y: FoldTargets<'_>,
        folds: &Folds,
        grams: Option<&FoldGrams<'_>>,
        fold_done: &FoldSink<'_>,
    ) -> Result<()> {
        (**self).fit_predict_folds(x, y, folds, grams, fold_done)
    }
}

impl<P: Probe> Probe for Subsampled<P> {
    fn fit_predict(
        &self,
        x: &dyn Rows,
        split: Split<'_>,
        y_train: ArrayView2<'_, f64>,
    ) -> Result<FoldPrediction> {
        if split.train.len() <= self.max_rows {
            return self.inner.fit_predict(x, split, y_train);
        }
        let keep = subsample(split.train.len(), self.max_rows, self.seed, split.fold);
        let train: Vec<usize> = keep.iter().map(|&i| split.train[i]).collect();
        let y = y_train.select(Axis(0), &keep);
        self.inner.fit_predict(
            x,
            Split {
                train: &train,
                ..split
            },
            y.view(),
        )
    }
}

#[cfg(test)]
mod subsample_tests {
    use super::*;

    #[test]
    fn subsamples_are_seeded_sorted_distinct_and_differ_by_fold() {
        let a = subsample(1000, 100, 7, 0);
        assert_eq!(a, subsample(1000, 100, 7, 0), "deterministic");
        assert_eq!(a.len(), 100);
        assert!(a.windows(2).all(|w| w[0] < w[1]), "increasing, distinct");
        assert!(a.iter().all(|&i| i < 1000));
        assert_ne!(
            a,
            subsample(1000, 100, 7, 1),
            "another fold, another subsample"
        );
        assert_ne!(
            a,
            subsample(1000, 100, 8, 0),
            "another seed, another subsample"
        );
        assert_eq!(subsample(50, 100, 7, 0), (0..50).collect::<Vec<_>>());
    }
}
