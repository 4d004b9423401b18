//! Cross-validated scoring: fit a probe on each training fold, predict the
//! held-out fold, and score per fold and pooled over all out-of-fold rows.

use std::sync::Mutex;

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::{FoldPrediction, FoldTargets, Probe, Split};
use crate::error::Result;
use crate::flow::folds::Folds;
use crate::flow::metrics::{self, worst_share};
use crate::flow::moments::FoldGrams;
use crate::flow::rows::Rows;

/// Cross-validated scores of one probe on one representation for one target.
#[derive(Debug, Clone)]
pub struct CvScores {
    /// R² on each held-out fold (scikit-learn `r2_score`), in fold order.
    pub r2_folds: Vec<f64>,
    /// Regularisation chosen on each training fold, when the probe has one.
    pub alphas: Option<Vec<f64>>,
    /// R² of all out-of-fold predictions pooled.
    pub r2_pooled: f64,
    /// Mean absolute error of the pooled out-of-fold predictions.
    pub mae: f64,
    /// Root mean squared error of the pooled out-of-fold predictions.
    pub rmse: f64,
    /// Per fold, the held-out row with the largest share of the fold's
    /// squared error, and that share ([`metrics::worst_share`]).
    pub worst: Vec<Option<(usize, f64)>>,
    /// Out-of-fold prediction of every row, in row order.
    pub oof: Vec<f64>,
}

/// Run `probe` over every fold for every target column of `y`.
///
/// The probe runs the folds ([`Probe::fit_predict_folds`]: in parallel,
/// with sequential arithmetic in each, so the numbers do not depend on the
/// thread count).
pub fn cross_validate(
    probe: &dyn Probe,
    x: &dyn Rows,
    y: ArrayView2<'_, f64>,
    folds: &Folds,
) -> Result<Vec<CvScores>> {
    cross_validate_with(probe, x, y, folds, None, &|| {})
}

/// [`cross_validate`] given the per-fold Gram sums of `x` when the caller
/// has them (ridge reads them instead of computing its own), calling
/// `fold_done` as each fold finishes (from whichever thread fitted it).
pub fn cross_validate_with(
    probe: &dyn Probe,
    x: &dyn Rows,
    y: ArrayView2<'_, f64>,
    folds: &Folds,
    grams: Option<&FoldGrams<'_>>,
    fold_done: &(dyn Fn() + Sync),
) -> Result<Vec<CvScores>> {
    scored(probe, x, y, None, folds, grams, fold_done)
}

/// A baseline's predictions on every fold: `[f]` is `n × t`, the
/// predictions of the baseline fitted on fold `f`'s training rows for
/// every row (its own training rows included).
pub type Baseline = [Array2<f64>];

/// The baseline's fold predictions of [`Baseline`]: `probe` fitted on the
/// training rows of every fold of `x`, predicting every row (one fit per
/// fold, the folds in parallel). With a `prior` baseline, `probe` is fitted
/// to what the prior leaves on each fold and the prior's predictions are
/// added to its own (a nonlinear probe started from a linear model).
pub fn baseline(
    probe: &dyn Probe,
    x: &dyn Rows,
    y: ArrayView2<'_, f64>,
    folds: &Folds,
    prior: Option<&Baseline>,
) -> Result<Vec<Array2<f64>>> {
    let all: Vec<usize> = (0..x.nrows()).collect();
    (0..folds.k)
        .into_par_iter()
        .map(|fold| {
            let (train, _) = folds.split(fold);
            let mut y_train = y.select(Axis(0), &train);
            if let Some(p) = prior {
                y_train -= &p[fold].select(Axis(0), &train);
            }
            let split = Split {
                train: &train,
                test: &all,
                fold,
            };
            let mut pred = probe.fit_predict(x, split, y_train.view())?.pred;
            if let Some(p) = prior {
                pred += &p[fold];
            }
            Ok(pred)
        })
        .collect()
}

/// Cross-validated scores of `probe` on `x` conditional on a baseline
/// (conditional probing): on each fold `probe` is fitted to what the
/// baseline fitted on that fold leaves, `y − base[f]`, on the training
/// rows, and the held-out prediction is the baseline's plus the probe's.
/// The scores are those of that sum against `y`; the conditional R² is
/// their fold-mean R² minus the baseline's own ([`baseline_r2`]).
pub fn cross_validate_conditional(
    probe: &dyn Probe,
    x: &dyn Rows,
    y: ArrayView2<'_, f64>,
    base: &Baseline,
    folds: &Folds,
    grams: Option<&FoldGrams<'_>>,
    fold_done: &(dyn Fn() + Sync),
) -> Result<Vec<CvScores>> {
    scored(probe, x, y, Some(base), folds, grams, fold_done)
}

/// The baseline's R² on every held-out fold, per target (target, then
/// fold), and its out-of-fold predictions (target, then row).
pub fn baseline_r2(
    y: ArrayView2<'_, f64>,
    base: &Baseline,
    folds: &Folds,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let (n, t) = y.dim();
    let mut oof = vec![vec![0.0; n]; t];
    let r2 = (0..t)
        .map(|c| {
            (0..folds.k)
                .map(|f| {
                    let test = folds.test(f);
                    let y_test: Vec<f64> = test.iter().map(|&i| y[(i, c)]).collect();
                    let p: Vec<f64> = test.iter().map(|&i| base[f][(i, c)]).collect();
                    for (&i, &v) in test.iter().zip(&p) {
                        oof[c][i] = v;
                    }
                    metrics::r2(&y_test, &p)
                })
                .collect()
        })
        .collect();
    (r2, oof)
}

/// One fold's scores of every target.
#[derive(Clone)]
struct FoldScores {
    /// R² on the held-out rows.
    r2: Vec<f64>,
    /// The held-out row with the largest share of the squared error, and
    /// that share.
    worst: Vec<Option<(usize, f64)>>,
    /// The alpha chosen, where the probe chooses one.
    alpha: Option<Vec<f64>>,
}

/// Fit `probe` on every fold and score it against `y`: fitted to `y`
/// itself, or with a baseline to what the baseline leaves (its held-out
/// predictions added back before scoring).
fn scored(
    probe: &dyn Probe,
    x: &dyn Rows,
    y: ArrayView2<'_, f64>,
    base: Option<&Baseline>,
    folds: &Folds,
    grams: Option<&FoldGrams<'_>>,
    fold_done: &(dyn Fn() + Sync),
) -> Result<Vec<CvScores>> {
    let (n, targets) = (x.nrows(), y.ncols());
    let left: Option<Vec<Array2<f64>>> = base.map(|b| b.iter().map(|p| &y - p).collect::<Vec<_>>());
    // Filled fold by fold as the folds finish (each fold's predictions are
    // dropped once copied out): per fold, its scores of every target; per
    // target, every row's out-of-fold prediction.
    let per_fold: Mutex<Vec<Option<FoldScores>>> = Mutex::new(vec![None; folds.k]);
    let oof = Mutex::new(vec![vec![0.0; n]; targets]);
    let sink = |f: usize, pred: FoldPrediction| {
        let test = folds.test(f);
        let mut r2 = Vec::with_capacity(targets);
        let mut worst = Vec::with_capacity(targets);
        for t in 0..targets {
            let y_test: Vec<f64> = test.iter().map(|&i| y[(i, t)]).collect();
            let mut p: Vec<f64> = pred.pred.column(t).to_vec();
            if let Some(b) = base {
                for (v, &i) in p.iter_mut().zip(&test) {
                    *v += b[f][(i, t)];
                }
            }
            r2.push(metrics::r2(&y_test, &p));
            worst.push(worst_share(&y_test, &p).map(|(i, share)| (test[i], share)));
            let mut oof = oof.lock().expect("no panic while held");
            for (&i, &v) in test.iter().zip(&p) {
                oof[t][i] = v;
            }
        }
        per_fold.lock().expect("no panic while held")[f] = Some(FoldScores {
            r2,
            worst,
            alpha: pred.alpha,
        });
        fold_done();
    };
    let fit = match &left {
        Some(l) => FoldTargets::PerFold(l),
        None => FoldTargets::Same(y),
    };
    probe.fit_predict_folds(x, fit, folds, grams, &sink)?;
    let per_fold: Vec<FoldScores> = per_fold
        .into_inner()
        .expect("no panic while held")
        .into_iter()
        .map(|s| s.expect("every fold predicted"))
        .collect();
    let oof = oof.into_inner().expect("no panic while held");
    let r2_folds = (0..targets).map(|t| per_fold.iter().map(|s| s.r2[t]).collect::<Vec<_>>());
    let worst = (0..targets).map(|t| per_fold.iter().map(|s| s.worst[t]).collect::<Vec<_>>());
    let alphas = (0..targets).map(|t| {
        per_fold
            .iter()
            .filter_map(|s| s.alpha.as_ref().map(|a| a[t]))
            .collect::<Vec<_>>()
    });
    let mut out = Vec::with_capacity(targets);
    for (t, (((oof, r2_folds), worst), alphas)) in oof
        .into_iter()
        .zip(r2_folds)
        .zip(worst)
        .zip(alphas)
        .enumerate()
    {
        out.push(CvScores {
            r2_folds,
            alphas: (!alphas.is_empty()).then_some(alphas),
            r2_pooled: metrics::r2(y.column(t), &oof),
            mae: metrics::mae(y.column(t), &oof),
            rmse: metrics::rmse(y.column(t), &oof),
            worst,
            oof,
        });
    }
    Ok(out)
}
