//! How a probe scales its features: scikit-learn's `StandardScaler`
//! (`standard`), or the same followed by bounded extrapolation (`clip`).
//!
//! # Why `clip`
//! A rare element makes a sparse column: a held-out structure that owns it
//! (C2F6, the one QM9 molecule with six F atoms) lands at |z| ≈ 100 against
//! a training fold where the column is nearly constant, and a linear or MLP
//! probe extrapolates wildly from it — one molecule turns a fold's R² to
//! −100. `clip` standardises on the training fold exactly as `standard`
//! does, then clamps every predicted row's standardised features to the
//! training fold's per-column `[min, max]` of the standardised training
//! values (`np.clip(X_te_s, X_tr_s.min(0), X_tr_s.max(0))`). Training rows
//! are never changed, so the fit is identical; only predictions outside the
//! training box move. Trees bin their inputs and are unaffected.

use ndarray::{Array1, ArrayViewMut2, Zip};

use crate::error::{CpdError, Result};

/// The feature scaling of the ridge and MLP probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// `StandardScaler`: centre and scale by the training fold (the default,
    /// for parity with scikit-learn).
    #[default]
    Standard,
    /// `StandardScaler`, then every predicted row clipped to the training
    /// fold's per-column range of standardised values.
    Clip,
}

impl Scale {
    /// The name used on the command line, in manifests and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Standard => "standard",
            Scale::Clip => "clip",
        }
    }

    /// Parse `standard` or `clip`.
    pub fn parse(s: &str) -> Result<Scale> {
        match s.trim() {
            "standard" => Ok(Scale::Standard),
            "clip" => Ok(Scale::Clip),
            other => Err(CpdError::Invalid(format!(
                "unknown scale '{other}' (expected standard or clip)"
            ))),
        }
    }
}

/// Per-column bounds of standardised training values, in standardised
/// units, accumulated row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipBounds {
    /// Smallest standardised training value per column.
    pub lo: Array1<f64>,
    /// Largest standardised training value per column.
    pub hi: Array1<f64>,
}

impl ClipBounds {
    /// Bounds that admit nothing yet (`+∞`, `−∞`), for [`ClipBounds::extend`].
    pub fn empty(d: usize) -> Self {
        ClipBounds {
            lo: Array1::from_elem(d, f64::INFINITY),
            hi: Array1::from_elem(d, f64::NEG_INFINITY),
        }
    }

    /// Widen the bounds to cover the rows of `block` (already standardised).
    pub fn extend(&mut self, block: ndarray::ArrayView2<'_, f64>) {
        for row in block.rows() {
            Zip::from(&mut self.lo)
                .and(&mut self.hi)
                .and(&row)
                .for_each(|lo, hi, &v| {
                    *lo = lo.min(v);
                    *hi = hi.max(v);
                });
        }
    }

    /// The bounds of raw per-column extremes after standardisation.
    ///
    /// `(v − m)/s` is monotone in `v` (and so is its rounding), so the
    /// standardised extremes are the extremes of the standardised values,
    /// bit for bit.
    pub fn from_raw_extremes(
        min: &Array1<f64>,
        max: &Array1<f64>,
        mean: &Array1<f64>,
        scale: &Array1<f64>,
    ) -> Self {
        let f = |x: &Array1<f64>| {
            Zip::from(x)
                .and(mean)
                .and(scale)
                .map_collect(|&v, &m, &s| (v - m) / s)
        };
        ClipBounds {
            lo: f(min),
            hi: f(max),
        }
    }

    /// Clamp every row of standardised `block` to the bounds, in place.
    pub fn clip(&self, mut block: ArrayViewMut2<'_, f64>) {
        for mut row in block.rows_mut() {
            Zip::from(&mut row)
                .and(&self.lo)
                .and(&self.hi)
                .for_each(|v, &lo, &hi| *v = v.clamp(lo, hi));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn bounds_from_raw_extremes_equal_bounds_of_standardised_rows() {
        let x = array![[1.0, -3.0], [4.0, 0.5], [2.5, 7.25]];
        let mean = array![2.5, 1.5833333333333333];
        let scale = array![1.224744871391589, 4.2];
        let xs = (&x - &mean.view().insert_axis(ndarray::Axis(0)))
            / scale.view().insert_axis(ndarray::Axis(0));
        let mut b = ClipBounds::empty(2);
        b.extend(xs.view());
        let r =
            ClipBounds::from_raw_extremes(&array![1.0, -3.0], &array![4.0, 7.25], &mean, &scale);
        assert_eq!(b, r);
        let mut q = array![[-10.0, 0.0], [10.0, 100.0]];
        b.clip(q.view_mut());
        assert_eq!(q, array![[b.lo[0], 0.0], [b.hi[0], b.hi[1]]]);
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for s in [Scale::Standard, Scale::Clip] {
            assert_eq!(Scale::parse(s.name()).unwrap(), s);
        }
        assert!(Scale::parse("minmax")
            .unwrap_err()
            .to_string()
            .contains("standard or clip"));
        assert_eq!(Scale::default(), Scale::Standard);
    }
}
