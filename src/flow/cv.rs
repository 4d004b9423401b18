//! Cross-validated scoring: fit a probe on each training fold, predict the
//! held-out fold, and score per fold and pooled over all out-of-fold rows.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::Result;
use crate::flow::folds::Folds;
use crate::flow::metrics::{self, worst_share};
use crate::flow::rows::Rows;
use crate::probe::{Probe, Split};

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
/// Folds run in parallel; each fold's arithmetic is sequential, so the
/// numbers do not depend on the thread count.
pub fn cross_validate(
    probe: &dyn Probe,
    x: &dyn Rows,
    y: ArrayView2<'_, f64>,
    folds: &Folds,
) -> Result<Vec<CvScores>> {
    cross_validate_with(probe, x, y, folds, &|| {})
}

/// [`cross_validate`], calling `fold_done` as each fold finishes (from
/// whichever thread fitted it).
pub fn cross_validate_with(
    probe: &dyn Probe,
    x: &dyn Rows,
    y: ArrayView2<'_, f64>,
    folds: &Folds,
    fold_done: &(dyn Fn() + Sync),
) -> Result<Vec<CvScores>> {
    let per_fold = (0..folds.k)
        .into_par_iter()
        .map(|f| {
            let (train, test) = folds.split(f);
            let y_train = y.select(Axis(0), &train);
            probe
                .fit_predict(
                    x,
                    Split {
                        train: &train,
                        test: &test,
                        fold: f,
                    },
                    y_train.view(),
                )
                .map(|p| {
                    fold_done();
                    (test, p)
                })
        })
        .collect::<Result<Vec<_>>>()?;

    let n = x.nrows();
    let mut out = Vec::with_capacity(y.ncols());
    for t in 0..y.ncols() {
        let mut oof = vec![0.0; n];
        let mut r2_folds = Vec::with_capacity(folds.k);
        let mut alphas = Vec::new();
        let mut worst = Vec::with_capacity(folds.k);
        for (test, pred) in &per_fold {
            let y_test: Vec<f64> = test.iter().map(|&i| y[(i, t)]).collect();
            let p: Vec<f64> = pred.pred.column(t).to_vec();
            r2_folds.push(metrics::r2(&y_test, &p));
            worst.push(worst_share(&y_test, &p).map(|(i, share)| (test[i], share)));
            for (&i, &v) in test.iter().zip(&p) {
                oof[i] = v;
            }
            if let Some(a) = &pred.alpha {
                alphas.push(a[t]);
            }
        }
        let y_all: Vec<f64> = y.column(t).to_vec();
        out.push(CvScores {
            r2_folds,
            alphas: (!alphas.is_empty()).then_some(alphas),
            r2_pooled: metrics::r2(&y_all, &oof),
            mae: metrics::mae(&y_all, &oof),
            rmse: metrics::rmse(&y_all, &oof),
            worst,
            oof,
        });
    }
    Ok(out)
}
