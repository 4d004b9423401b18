//! Feature reconstruction measures (Goscinski et al. 2021, "The role of
//! feature space in atomistic learning"), held out on the run's folds, with
//! scikit-matter 0.4.1's defaults.
//!
//! For representations `A` (n × d_a) and `B` (n × d_b) and each fold: the
//! training rows of each are centred and divided by one scale, `√Σ_j var_j`
//! (scikit-matter's `StandardFlexibleScaler`, not column-wise; a
//! representation with total variance below 1e-12 has none and gives no
//! value), both fitted on the training rows and applied to the held-out
//! ones. Then:
//!
//! * **GFRE(A → B)**: `W` is the least-squares map of scikit-matter's
//!   `Ridge2FoldCV` (below) from scaled `A` to scaled `B` on the training
//!   rows; the pointwise error of a held-out row is `‖b_i − a_i W‖`.
//! * **GFRD(A → B)**: both sides padded with zero columns to
//!   `D = max(d_a, d_b)`, `Ω` is the best orthogonal map from `A` onto the
//!   training predictions `A W` (orthogonal Procrustes), and the pointwise
//!   distortion is `‖(a_i W, 0) − (a_i, 0) Ω‖`. With the thin SVD
//!   `AᵀA W = U Σ Vᵀ`, `Ω`'s first rows are `R = U Vᵀ`; for `d_a > d_b` the
//!   rest of `Ω` adds `‖a_i‖² − ‖a_i U‖²` to the squared distortion, the
//!   same for any completion of `Ω`. scikit-matter computes the `d_a ≤ d_b`
//!   case and stops on a shape error for `d_a > d_b`; the padding extends
//!   it.
//! * **LFRE(A → B)**: for each held-out row, its [`LOCAL_POINTS`] nearest
//!   training rows under `A` (squared Euclidean distance, ties to the lower
//!   row; in order of distance, which decides the local 2-fold split), both representations centred on those rows' means, the same
//!   estimator fitted on them; the pointwise error is
//!   `‖b_i − (b̄ + (a_i − ā) W_i)‖`.
//!
//! Each fold's value is `√(mean over its held-out rows of the pointwise
//! error²)` (scikit-matter's `norm / √n`); the run's value pools every
//! held-out row the same way.
//!
//! # The estimator
//! scikit-matter's default `Ridge2FoldCV(alphas = geomspace(1e-9, 0.9, 20),
//! alpha_type = "relative", regularization_method = "cutoff",
//! random_state = 0x5F3759DF, shuffle = True, scoring =
//! "neg_root_mean_squared_error")`: the training rows are split in two by
//! scikit-learn's `KFold(2, shuffle=True)` with that seed (NumPy's legacy
//! Mersenne-Twister shuffle, reproduced here: [`numpy_permutation`]); for
//! each alpha, scaled by the largest singular value of the two halves, the
//! pseudo-inverse of each half keeping the singular values above it (and
//! above `max(m, d)·ε`) predicts the other half; the alpha of the best mean
//! of the two halves' RMSE (averaged over output columns; the first on a
//! tie) is kept, and the pseudo-inverse of all training rows with that
//! cutoff (the same scaled alpha) gives `W`.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rand_mt::Mt;
use rayon::prelude::*;

use crate::error::{CpdError, Result};
use crate::linalg;

/// LFRE's neighbourhood: training rows per local fit (scikit-matter's
/// `n_local_points` has no default; 20 is its LFRE example's).
pub const LOCAL_POINTS: usize = 20;

/// The seed of scikit-matter's 2-fold split.
const SPLIT_SEED: u32 = 0x5F37_59DF;

/// `StandardFlexibleScaler`'s `atol`: a total variance below it has no scale.
const SCALE_ATOL: f64 = 1e-12;

/// `numpy.geomspace(1e-9, 0.9, 20)`.
fn alphas() -> Vec<f64> {
    let (lo, hi) = (1e-9f64.log10(), 0.9f64.log10());
    (0..20)
        .map(|i| 10f64.powf(lo + (hi - lo) * i as f64 / 19.0))
        .collect()
}

/// `numpy.random.RandomState(seed).permutation(m)`: the legacy Fisher–Yates
/// shuffle of `0..m` with MT19937 and rejection sampling on a bit mask.
pub fn numpy_permutation(m: usize, seed: u32) -> Vec<usize> {
    let mut rng = Mt::new(seed);
    let mut out: Vec<usize> = (0..m).collect();
    for i in (1..m).rev() {
        let max = i as u64;
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        let j = loop {
            let v = if max <= u32::MAX as u64 {
                u64::from(rng.next_u32()) & mask
            } else {
                rng.next_u64() & mask
            };
            if v <= max {
                break v as usize;
            }
        };
        out.swap(i, j);
    }
    out
}

/// scikit-learn's first `KFold(2, shuffle=True, random_state=seed)` split
/// of `m` rows as scikit-matter uses it: (its training rows, its test
/// rows), each ascending. The test rows are the first `⌈m/2⌉` of the
/// permutation.
pub fn two_fold(m: usize) -> (Vec<usize>, Vec<usize>) {
    let perm = numpy_permutation(m, SPLIT_SEED);
    let cut = m / 2 + m % 2;
    let mut test = perm[..cut].to_vec();
    let mut train = perm[cut..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

/// The scaler of the rows `rows` of `x`: their column means and `√Σ var`.
fn scaler(x: ArrayView2<'_, f64>, rows: &[usize]) -> Option<(Array1<f64>, f64)> {
    let sub = x.select(Axis(0), rows);
    let mean = sub.mean_axis(Axis(0))?;
    let var: f64 = sub
        .axis_iter(Axis(1))
        .zip(mean.iter())
        .map(|(c, m)| c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / rows.len() as f64)
        .sum();
    // scikit-matter: var_sum < |mean(mean)|·rtol + atol, rtol = 0.
    (var >= SCALE_ATOL).then(|| (mean, var.sqrt()))
}

fn scaled(x: ArrayView2<'_, f64>, rows: &[usize], mean: &Array1<f64>, scale: f64) -> Array2<f64> {
    let mut out = x.select(Axis(0), rows);
    for mut r in out.rows_mut() {
        r.zip_mut_with(mean, |v, m| *v = (*v - m) / scale);
    }
    out
}

/// One half's pseudo-inverse pieces, predicting the other half.
struct Half {
    rows: Vec<usize>,
    u: Array2<f64>,
    s: Array1<f64>,
    /// The other half's rows times `V` (its rows × kept).
    other_v: Array2<f64>,
    kept: usize,
}

/// `Ridge2FoldCV`'s source side, fitted once for every target.
pub struct CutoffFit {
    halves: [Half; 2],
    scaled_alphas: Vec<f64>,
    u: Array2<f64>,
    s: Array1<f64>,
    v: Array2<f64>,
    kept: usize,
}

fn count_above(s: &Array1<f64>, t: f64) -> usize {
    s.iter().filter(|&&v| v > t).count()
}

impl CutoffFit {
    /// The source rows `x` (m × d, already scaled), m ≥ 2.
    pub fn new(x: ArrayView2<'_, f64>, split: &(Vec<usize>, Vec<usize>)) -> Result<CutoffFit> {
        let (m, d) = x.dim();
        if m < 2 {
            return Err(CpdError::Invalid(
                "a reconstruction fit needs at least 2 rows".into(),
            ));
        }
        let rcond = m.max(d) as f64 * f64::EPSILON;
        let (f1, f2) = split;
        let x1 = x.select(Axis(0), f1);
        let x2 = x.select(Axis(0), f2);
        let (u1, s1, v1) = linalg::svd_thin(x1.view())?;
        let (u2, s2, v2) = linalg::svd_thin(x2.view())?;
        let k1 = count_above(&s1, rcond);
        let k2 = count_above(&s2, rcond);
        let top = s1.iter().chain(s2.iter()).fold(0.0f64, |a, &b| a.max(b));
        let scaled_alphas = alphas().iter().map(|a| a * top).collect();
        let x2v1 = linalg::matmul(x2.view(), v1.slice(s![.., ..k1]));
        let x1v2 = linalg::matmul(x1.view(), v2.slice(s![.., ..k2]));
        let (u, s, v) = linalg::svd_thin(x)?;
        // scikit-matter counts `len(s > rcond)` here: every singular value.
        let kept = s.len();
        Ok(CutoffFit {
            halves: [
                Half {
                    rows: f1.clone(),
                    u: u1,
                    s: s1,
                    other_v: x2v1,
                    kept: k1,
                },
                Half {
                    rows: f2.clone(),
                    u: u2,
                    s: s2,
                    other_v: x1v2,
                    kept: k2,
                },
            ],
            scaled_alphas,
            u,
            s,
            v,
            kept,
        })
    }

    /// The map `W` (d × d_y) to the target rows `y` (m × d_y, scaled).
    pub fn coef(&self, y: ArrayView2<'_, f64>) -> Array2<f64> {
        let na = self.scaled_alphas.len();
        let mut loss = vec![0.0; na];
        for (h, half) in self.halves.iter().enumerate() {
            let other = &self.halves[1 - h];
            let yh = y.select(Axis(0), &half.rows);
            let yo = y.select(Axis(0), &other.rows);
            let uty = linalg::matmul_tn(half.u.slice(s![.., ..half.kept]), yh.view());
            // Kept singular values per alpha; predictions grow by blocks of
            // components from the largest cutoff down.
            let ks: Vec<usize> = self
                .scaled_alphas
                .iter()
                .map(|&a| half.kept.min(count_above(&half.s, a)))
                .collect();
            let mut order: Vec<usize> = (0..na).collect();
            order.sort_by_key(|&i| ks[i]);
            let mut pred = Array2::<f64>::zeros((yo.nrows(), yo.ncols()));
            let mut done = 0;
            let mut last: Option<(usize, f64)> = None;
            for &i in &order {
                let k = ks[i];
                // Alphas keeping the same components predict the same.
                if let Some((lk, l)) = last {
                    if lk == k {
                        loss[i] += l;
                        continue;
                    }
                }
                if k > done {
                    let mut xv = half.other_v.slice(s![.., done..k]).to_owned();
                    for (mut c, &sv) in xv.columns_mut().into_iter().zip(half.s.slice(s![done..k]))
                    {
                        c.mapv_inplace(|v| v / sv);
                    }
                    linalg::matmul_into(
                        pred.view_mut(),
                        xv.view(),
                        uty.slice(s![done..k, ..]),
                        true,
                    );
                    done = k;
                }
                let l = rmse_mean(yo.view(), pred.view()) / 2.0;
                last = Some((k, l));
                loss[i] += l;
            }
        }
        // The best score is the lowest mean RMSE; the first alpha on a tie.
        let mut best = 0;
        for i in 1..na {
            if loss[i] < loss[best] {
                best = i;
            }
        }
        let k = self
            .kept
            .min(count_above(&self.s, self.scaled_alphas[best]));
        let uty = linalg::matmul_tn(self.u.slice(s![.., ..k]), y);
        let mut vs = self.v.slice(s![.., ..k]).to_owned();
        for (mut c, sv) in vs.columns_mut().into_iter().zip(self.s.iter()) {
            c.mapv_inplace(|v| v / sv);
        }
        linalg::matmul(vs.view(), uty.view())
    }
}

/// Mean over columns of each column's RMSE.
fn rmse_mean(y: ArrayView2<'_, f64>, p: ArrayView2<'_, f64>) -> f64 {
    let n = y.nrows() as f64;
    let mut sse = vec![0.0; y.ncols()];
    for (yr, pr) in y.rows().into_iter().zip(p.rows()) {
        for ((s, a), b) in sse.iter_mut().zip(yr.iter()).zip(pr.iter()) {
            *s += (a - b) * (a - b);
        }
    }
    sse.iter().map(|s| (s / n).sqrt()).sum::<f64>() / sse.len() as f64
}

/// Squared norms of the rows of `a − b`.
fn row_sq(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Vec<f64> {
    a.rows()
        .into_iter()
        .zip(b.rows())
        .map(|(x, y)| x.iter().zip(y.iter()).map(|(p, q)| (p - q) * (p - q)).sum())
        .collect()
}

/// A held-out measure: pooled, per fold, and every held-out row's squared
/// pointwise value (for intervals).
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOut {
    /// Pooled over every held-out row (`None`: a fold had no scale).
    pub value: Option<f64>,
    /// Each fold's value, in fold order (empty when `value` is `None`).
    pub folds: Vec<f64>,
    /// Squared pointwise values, fold by fold (empty when `value` is `None`).
    pub squared: Vec<f64>,
}

/// [`HeldOut`] from each fold's squared pointwise values (`None`: a fold
/// had no scale).
pub fn held_out(per_fold: Option<Vec<Vec<f64>>>) -> HeldOut {
    let root_mean = |v: &[f64]| (v.iter().sum::<f64>() / v.len() as f64).sqrt();
    match per_fold {
        Some(v) if !v.is_empty() && v.iter().all(|f| !f.is_empty()) => {
            let squared: Vec<f64> = v.concat();
            HeldOut {
                value: Some(root_mean(&squared)),
                folds: v.iter().map(|f| root_mean(f)).collect(),
                squared,
            }
        }
        _ => HeldOut {
            value: None,
            folds: Vec::new(),
            squared: Vec::new(),
        },
    }
}

/// Training and held-out rows of fold `f`.
fn split(fold: &[usize], f: usize) -> (Vec<usize>, Vec<usize>) {
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    for (i, &g) in fold.iter().enumerate() {
        if g == f {
            te.push(i);
        } else {
            tr.push(i);
        }
    }
    (tr, te)
}

/// A fold's source side, scaled, with its fit: shared by every target.
pub struct Source {
    train: Array2<f64>,
    test: Array2<f64>,
    /// GFRE and GFRD only: the fit on every training row and their Gram.
    global: Option<(CutoffFit, Array2<f64>)>,
}

/// A fold's target side, scaled.
pub struct Target {
    train: Array2<f64>,
    test: Array2<f64>,
}

/// The scaled training and held-out rows of `x` for fold `f`.
fn sides(x: ArrayView2<'_, f64>, fold: &[usize], f: usize) -> Option<(Array2<f64>, Array2<f64>)> {
    let (tr, te) = split(fold, f);
    let (mean, scale) = scaler(x, &tr)?;
    Some((scaled(x, &tr, &mean, scale), scaled(x, &te, &mean, scale)))
}

impl Source {
    /// The source side of fold `f`; with `global`, fitted for
    /// [`global_fold`] too (LFRE fits locally only).
    pub fn new(
        x: ArrayView2<'_, f64>,
        fold: &[usize],
        f: usize,
        global: bool,
    ) -> Result<Option<Source>> {
        let Some((train, test)) = sides(x, fold, f) else {
            return Ok(None);
        };
        let global = if global {
            let fit = CutoffFit::new(train.view(), &two_fold(train.nrows()))?;
            Some((fit, linalg::gram(train.view())))
        } else {
            None
        };
        Ok(Some(Source {
            train,
            test,
            global,
        }))
    }
}

impl Target {
    pub fn new(y: ArrayView2<'_, f64>, fold: &[usize], f: usize) -> Option<Target> {
        sides(y, fold, f).map(|(train, test)| Target { train, test })
    }
}

/// Squared pointwise GFRE and GFRD of one fold's held-out rows (`src`
/// made with `global`).
pub fn global_fold(src: &Source, tgt: &Target) -> Result<(Vec<f64>, Vec<f64>)> {
    let (fit, gram) = src.global.as_ref().ok_or_else(|| {
        CpdError::Invalid("a global reconstruction needs its source fitted globally".into())
    })?;
    let w = fit.coef(tgt.train.view());
    let pred = linalg::matmul(src.test.view(), w.view());
    let err = row_sq(tgt.test.view(), pred.view());
    // Procrustes onto the training predictions: AᵀÂ = AᵀA W = U Σ Vᵀ
    // (thin), R = U Vᵀ.
    let m = linalg::matmul(gram.view(), w.view());
    let (u, _, v) = linalg::svd_thin(m.view())?;
    let r = linalg::matmul(u.view(), v.t());
    let orth = linalg::matmul(src.test.view(), r.view());
    let mut dist = row_sq(pred.view(), orth.view());
    let (da, db) = w.dim();
    if da > db {
        // Both sides padded to d_a columns: the orthogonal map's remaining
        // columns, an orthonormal complement of U, add ‖a_i‖² − ‖a_i U‖²
        // (whatever complement: the distortion does not depend on it).
        let au = linalg::matmul(src.test.view(), u.view());
        for ((g, a), p) in dist.iter_mut().zip(src.test.rows()).zip(au.rows()) {
            *g += (a.dot(&a) - p.dot(&p)).max(0.0);
        }
    }
    Ok((err, dist))
}

/// Squared pointwise LFRE of held-out row `i` for each target, from its
/// inner products with every training row (`cross`).
#[allow(clippy::too_many_arguments)]
fn local_row(
    src: &Source,
    targets: &[&Target],
    points: usize,
    local_split: &(Vec<usize>, Vec<usize>),
    sq: &[f64],
    test_sq: f64,
    cross: ndarray::ArrayView1<'_, f64>,
    i: usize,
) -> Result<Vec<f64>> {
    let mut idx: Vec<(f64, usize)> = cross
        .iter()
        .enumerate()
        .map(|(j, c)| (sq[j] + test_sq - 2.0 * c, j))
        .collect();
    // The local rows in order of distance: the 2-fold split of the local
    // fit takes them by position.
    let by = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    idx.select_nth_unstable_by(points - 1, by);
    idx.truncate(points);
    idx.sort_unstable_by(by);
    let near: Vec<usize> = idx.iter().map(|p| p.1).collect();
    let xl = src.train.select(Axis(0), &near);
    let xm = xl.mean_axis(Axis(0)).expect("rows");
    let xc = &xl - &xm;
    let fit = CutoffFit::new(xc.view(), local_split)?;
    let xi = (&src.test.row(i) - &xm).insert_axis(Axis(0));
    Ok(targets
        .iter()
        .map(|t| {
            let yl = t.train.select(Axis(0), &near);
            let ym = yl.mean_axis(Axis(0)).expect("rows");
            let yc = &yl - &ym;
            let w = fit.coef(yc.view());
            let p = linalg::matmul(xi.view(), w.view());
            t.test
                .row(i)
                .iter()
                .zip(p.iter().zip(ym.iter()))
                .map(|(y, (p, m))| (y - (m + p)) * (y - (m + p)))
                .sum()
        })
        .collect())
}

/// Squared pointwise LFRE of one fold's held-out rows, for each target.
pub fn local_fold(src: &Source, targets: &[&Target], points: usize) -> Result<Vec<Vec<f64>>> {
    let m = src.train.nrows();
    if m < points {
        return Err(CpdError::Invalid(format!(
            "LFRE needs at least {points} training rows per fold, got {m}"
        )));
    }
    let sq: Vec<f64> = src.train.rows().into_iter().map(|r| r.dot(&r)).collect();
    let local_split = two_fold(points);
    let test_sq: Vec<f64> = src.test.rows().into_iter().map(|r| r.dot(&r)).collect();
    // Held-out rows in chunks, each chunk's distances to every training row
    // at once (at most 2^24 of them, 128 MB): never held-out × training.
    let chunk = ((1usize << 24) / m).clamp(16, 1024);
    let starts: Vec<usize> = (0..src.test.nrows()).step_by(chunk).collect();
    let per_chunk: Vec<Vec<Result<Vec<f64>>>> = starts
        .into_par_iter()
        .map(|start| {
            let end = (start + chunk).min(src.test.nrows());
            let cross = linalg::matmul(src.test.slice(s![start..end, ..]), src.train.t());
            (start..end)
                .map(|i| {
                    local_row(
                        src,
                        targets,
                        points,
                        &local_split,
                        &sq,
                        test_sq[i],
                        cross.row(i - start),
                        i,
                    )
                })
                .collect()
        })
        .collect();
    let mut out = vec![Vec::with_capacity(src.test.nrows()); targets.len()];
    for r in per_chunk.into_iter().flatten() {
        for (o, v) in out.iter_mut().zip(r?) {
            o.push(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_numpy_legacy_shuffle_and_sklearn_kfold() {
        // numpy.random.RandomState(0x5F3759DF).permutation(10) and
        // next(KFold(2, shuffle=True, random_state=0x5F3759DF).split(...)).
        assert_eq!(
            numpy_permutation(10, SPLIT_SEED),
            vec![3, 5, 4, 8, 7, 1, 9, 2, 0, 6]
        );
        assert_eq!(two_fold(10), (vec![0, 1, 2, 6, 9], vec![3, 4, 5, 7, 8]));
        let (train, test) = two_fold(37);
        assert_eq!(
            train,
            vec![2, 5, 7, 9, 11, 12, 15, 16, 18, 19, 22, 26, 30, 32, 33, 34, 35, 36]
        );
        assert_eq!(test.len(), 19);
        assert_eq!(&test[..5], &[0, 1, 3, 4, 6]);
    }

    #[test]
    fn alphas_are_numpy_geomspace() {
        let a = alphas();
        assert_eq!(a.len(), 20);
        assert!((a[0] - 1e-9).abs() < 1e-24);
        assert!((a[19] - 0.9).abs() < 1e-15);
        assert!((a[1] / a[0] - a[19] / a[18]).abs() < 1e-9);
    }
}
