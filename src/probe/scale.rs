//! How a probe scales its features, on each training fold: scikit-learn's
//! `StandardScaler` (`standard`), one scale shared by every column
//! (`global`), and either of them followed by bounded extrapolation
//! (`clip`, `global-clip`).
//!
//! # Why `global`
//! Per-column standardisation gives a sparse column (a rare element's
//! channels) a tiny scale, so its held-out owners land at |z| of 100 and
//! more; ridge's penalty, which would have discounted those low-variance
//! directions, no longer does. `global` centres every column on the
//! training fold and divides all of them by one number, the root mean
//! variance of its non-constant columns, `s = sqrt(Σ_j var_j / d')`:
//! the geometry of the embedding is kept, and the alpha grid keeps its meaning (ridge on
//! `X/s` with penalty α is ridge on `X` with penalty α·s²).
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

/// The feature scaling of the ridge and MLP probes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scale {
    /// The default: `global` for ridge, `global-clip` for the MLP.
    #[default]
    Robust,
    /// `StandardScaler`: centre and scale every column by the training
    /// fold (scikit-learn's pipeline, bit for bit).
    Standard,
    /// `StandardScaler`, then every predicted row clipped to the training
    /// fold's per-column range of standardised values.
    Clip,
    /// Centre every column; divide all by the root mean column variance.
    Global,
    /// `global`, then every predicted row clipped to the training fold's
    /// per-column range.
    GlobalClip,
}

impl Scale {
    /// The name used on the command line, in manifests and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Robust => "robust",
            Scale::Standard => "standard",
            Scale::Clip => "clip",
            Scale::Global => "global",
            Scale::GlobalClip => "global-clip",
        }
    }

    /// Every scaling, in the order the docs list them.
    pub const ALL: [Scale; 5] = [
        Scale::Robust,
        Scale::Standard,
        Scale::Clip,
        Scale::Global,
        Scale::GlobalClip,
    ];

    /// What `self` means for ridge: `robust` is `global` (no clipping).
    pub fn for_ridge(self) -> Scale {
        match self {
            Scale::Robust => Scale::Global,
            s => s,
        }
    }

    /// What `self` means for the MLP: `robust` is `global-clip`.
    pub fn for_mlp(self) -> Scale {
        match self {
            Scale::Robust => Scale::GlobalClip,
            s => s,
        }
    }

    /// One line on what the scaling does, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Scale::Robust => {
                "robust (centred on the training fold, one scale shared by every column; the MLP \
                 also clips held-out features to the training fold's range)"
            }
            Scale::Standard => "standard (StandardScaler on the training fold)",
            Scale::Clip => {
                "clip (StandardScaler, then held-out features clipped to the training fold's range)"
            }
            Scale::Global => {
                "global (centred on the training fold, one scale shared by every column)"
            }
            Scale::GlobalClip => {
                "global-clip (centred, one shared scale, then held-out features clipped to the \
                 training fold's range)"
            }
        }
    }

    /// Whether predicted rows are clipped to the training fold's range.
    ///
    /// `robust` is resolved by the probe first ([`Scale::for_ridge`],
    /// [`Scale::for_mlp`]); unresolved it clips nothing.
    pub fn clips(self) -> bool {
        matches!(self, Scale::Clip | Scale::GlobalClip)
    }

    /// Per-column scales of `n` training rows from their per-column means
    /// and variances (ddof 0).
    ///
    /// Per column (`standard`, `clip`): the standard deviation, and 1 for a
    /// column whose variance is within rounding of zero (scikit-learn's
    /// `_is_constant_feature`: `var ≤ n·ε·var + (n·mean·ε)²`). Shared
    /// (`robust`, `global`, `global-clip`): `sqrt(Σ_j var_j / d')` over the
    /// `d'` columns that are not constant by that rule, for every column;
    /// 1 when every column is constant.
    pub fn scales(self, n: usize, mean: &Array1<f64>, var: &Array1<f64>) -> Array1<f64> {
        match self {
            Scale::Standard | Scale::Clip => {
                Zip::from(mean)
                    .and(var)
                    .map_collect(|&m, &v| if constant(n, m, v) { 1.0 } else { v.sqrt() })
            }
            Scale::Robust | Scale::Global | Scale::GlobalClip => {
                // Constant columns (a dead channel, an absent element's
                // block) do not dilute the shared scale.
                let (sum, live) = Zip::from(mean)
                    .and(var)
                    .fold((0.0, 0usize), |(s, k), &m, &v| {
                        if constant(n, m, v) {
                            (s, k)
                        } else {
                            (s + v, k + 1)
                        }
                    });
                let s = (sum / live.max(1) as f64).sqrt();
                Array1::from_elem(var.len(), if s > 0.0 && s.is_finite() { s } else { 1.0 })
            }
        }
    }
}

/// scikit-learn's `_is_constant_feature`: a variance within rounding of
/// zero, `var ≤ n·ε·var + (n·mean·ε)²`.
fn constant(n: usize, mean: f64, var: f64) -> bool {
    let (nf, eps) = (n as f64, f64::EPSILON);
    var <= nf * eps * var + (nf * mean * eps).powi(2)
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
    fn per_column_and_shared_scales() {
        let mean = array![1.0, 5.0, 2.0];
        let var = array![4.0, 0.0, 0.25];
        assert_eq!(
            Scale::Standard.scales(10, &mean, &var),
            array![2.0, 1.0, 0.5]
        );
        assert_eq!(Scale::Clip.scales(10, &mean, &var), array![2.0, 1.0, 0.5]);
        // The constant middle column leaves the shared scale alone.
        let s = (4.25f64 / 2.0).sqrt();
        assert_eq!(Scale::Global.scales(10, &mean, &var), array![s, s, s]);
        assert_eq!(Scale::GlobalClip.scales(10, &mean, &var), array![s, s, s]);
        let zero = array![0.0, 0.0];
        assert_eq!(
            Scale::Global.scales(3, &array![1.0, 2.0], &zero),
            array![1.0, 1.0]
        );
        assert!(Scale::GlobalClip.clips() && Scale::Clip.clips());
        assert!(!Scale::Global.clips() && !Scale::Standard.clips());
    }

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
        for s in Scale::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.name()));
            assert_eq!(serde_json::from_str::<Scale>(&json).unwrap(), s);
        }
        assert!(serde_json::from_str::<Scale>("\"minmax\"")
            .unwrap_err()
            .to_string()
            .contains("unknown variant `minmax`"));
        assert_eq!(Scale::default(), Scale::Robust);
        assert_eq!(Scale::Robust.for_ridge(), Scale::Global);
        assert_eq!(Scale::Robust.for_mlp(), Scale::GlobalClip);
        assert_eq!(Scale::Clip.for_ridge(), Scale::Clip);
    }
}
