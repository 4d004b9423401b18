//! Scores, as scikit-learn computes them.

use ndarray::ArrayView1;

/// Coefficient of determination `1 − SS_res / SS_tot` (scikit-learn's
/// `r2_score`), except that a constant `y` has none: NaN (scikit-learn's
/// `force_finite=False`), where scikit-learn's default reports 1.0 or 0.0.
///
/// `y` is a slice or a column view (a target column of a row-major table
/// is read in place rather than copied).
pub fn r2<'a>(y: impl Into<ArrayView1<'a, f64>>, pred: &[f64]) -> f64 {
    let y = y.into();
    assert_eq!(y.len(), pred.len());
    if y.len() < 2 {
        // scikit-learn: R² is not well-defined with fewer than two samples.
        return f64::NAN;
    }
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_tot: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
    let ss_res: f64 = y.iter().zip(pred).map(|(a, b)| (a - b) * (a - b)).sum();
    if ss_tot == 0.0 {
        return f64::NAN;
    }
    1.0 - ss_res / ss_tot
}

/// Mean absolute error.
pub fn mae<'a>(y: impl Into<ArrayView1<'a, f64>>, pred: &[f64]) -> f64 {
    let y = y.into();
    y.iter().zip(pred).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64
}

/// Root mean squared error.
pub fn rmse<'a>(y: impl Into<ArrayView1<'a, f64>>, pred: &[f64]) -> f64 {
    let y = y.into();
    (y.iter()
        .zip(pred)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / y.len() as f64)
        .sqrt()
}

/// Mean and population standard deviation (ddof = 0, NumPy's default).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The held-out row with the largest squared error and its share of the
/// fold's sum of squared errors: `(position in the fold, share)`.
///
/// `None` when the fold has no rows or its squared error is zero or not
/// finite (a perfect or a broken fit: no structure dominates it).
pub fn worst_share(y: &[f64], pred: &[f64]) -> Option<(usize, f64)> {
    let mut sse = 0.0;
    let mut worst = (0, -1.0);
    for (i, (a, b)) in y.iter().zip(pred).enumerate() {
        let e = (a - b) * (a - b);
        sse += e;
        if e > worst.1 {
            worst = (i, e);
        }
    }
    (sse > 0.0 && sse.is_finite()).then(|| (worst.0, worst.1 / sse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_share_names_the_dominant_row() {
        // Errors 0.1, 3, 0.2: squared 0.01, 9, 0.04, share 9/9.05.
        let (i, share) = worst_share(&[1.0, 2.0, 3.0], &[1.1, 5.0, 2.8]).unwrap();
        assert_eq!(i, 1);
        assert!((share - 9.0 / 9.05).abs() < 1e-12);
        assert_eq!(worst_share(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(worst_share(&[], &[]), None);
    }

    #[test]
    fn r2_matches_closed_forms() {
        assert_eq!(r2(&[1., 2., 3.], &[1., 2., 3.]), 1.0);
        // Predicting the mean scores 0.
        assert_eq!(r2(&[1., 2., 3.], &[2., 2., 2.]), 0.0);
        // SS_res = 1+1+1 = 3, SS_tot = 2  →  1 − 3/2 = −0.5.
        assert!((r2(&[1., 2., 3.], &[2., 3., 2.]) + 0.5).abs() < 1e-15);
        // A constant target has no R², however it is predicted.
        assert!(r2(&[5., 5.], &[5., 5.]).is_nan());
        assert!(r2(&[5., 5.], &[4., 5.]).is_nan());
    }

    #[test]
    fn errors_and_moments() {
        assert!((mae(&[0., 0.], &[1., -3.]) - 2.0).abs() < 1e-15);
        assert!((rmse(&[0., 0.], &[3., 4.]) - 12.5f64.sqrt()).abs() < 1e-15);
        let (m, s) = mean_std(&[1., 3.]);
        assert_eq!((m, s), (2.0, 1.0));
    }
}
