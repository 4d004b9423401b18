//! Probes: estimators fitted on a training fold and scored on the held-out
//! fold. Each probe lives in its own module; [`ProbeKind`] is the registry.

pub mod gbt;
pub mod mlp;
pub mod ridge;
pub mod scale;

use ndarray::{Array2, ArrayView2};

use crate::error::{CpdError, Result};
use crate::flow::rows::Rows;

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
}
