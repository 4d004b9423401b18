//! Probes: estimators fitted on a training fold and scored on the held-out
//! fold. Each probe lives in its own module; [`ProbeKind`] is the registry.

pub mod gbt;
pub mod mlp;
pub mod ridge;
pub mod scale;

use ndarray::{Array2, ArrayView2};

use crate::error::{CpdError, Result};
use crate::rows::Rows;

/// The probes cpd knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// Standardised ridge regression, alpha by leave-one-out/GCV or fixed.
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

    /// Parse a probe name.
    pub fn parse(name: &str) -> Result<ProbeKind> {
        match name.trim() {
            "ridge" | "linear" => Ok(ProbeKind::Ridge),
            "gbt" => Ok(ProbeKind::Gbt),
            "mlp" => Ok(ProbeKind::Mlp),
            other => Err(CpdError::Invalid(format!(
                "unknown probe '{other}' (available: ridge, mlp, gbt)"
            ))),
        }
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

/// A validated probe, ready to be fitted on any training fold.
pub trait Probe: Sync {
    /// Fit on `(x_train, y_train)` (all targets at once) and predict `x_test`.
    fn fit_predict(
        &self,
        x_train: ArrayView2<'_, f64>,
        y_train: ArrayView2<'_, f64>,
        x_test: ArrayView2<'_, f64>,
    ) -> Result<FoldPrediction>;

    /// Fit on the rows `train` of `x` (`y_train` their targets, in that
    /// order) and predict the rows `test`. The default gathers both sets of
    /// rows and calls [`Probe::fit_predict`]; a probe that can stream rows
    /// overrides it.
    fn fit_predict_rows(
        &self,
        x: &dyn Rows,
        train: &[usize],
        test: &[usize],
        y_train: ArrayView2<'_, f64>,
    ) -> Result<FoldPrediction> {
        let x_train = x.gather(train);
        let x_test = x.gather(test);
        self.fit_predict(x_train.view(), y_train, x_test.view())
    }

    /// [`Probe::fit_predict_rows`] for fold number `fold` of the run. A
    /// probe with randomness seeds from it (so that the numbers do not depend
    /// on which thread fits which fold); the default ignores it.
    fn fit_predict_fold_rows(
        &self,
        x: &dyn Rows,
        train: &[usize],
        test: &[usize],
        y_train: ArrayView2<'_, f64>,
        fold: usize,
    ) -> Result<FoldPrediction> {
        let _ = fold;
        self.fit_predict_rows(x, train, test, y_train)
    }
}
