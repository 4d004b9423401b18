//! Intervals on cross-validated scores: a seeded bootstrap over structures
//! of the out-of-fold predictions, which costs no refit.
//!
//! # What is resampled
//! A record's score is the mean over folds of the held-out R²
//! ([`crate::flow::metrics::r2`]). Replicate `b` draws, within every fold,
//! as many held-out rows as the fold has, uniformly with replacement, and
//! recomputes each fold's R² on its draw (the fitted probes stay as they
//! are) and their mean. The 95 % interval is the bias-corrected
//! percentile interval of the replicates ([`interval_bc`]; Efron 1981):
//! the plain 2.5th and 97.5th percentiles cover a known R² in 90 % of
//! seeded data sets, the bias-corrected ones in 96 % (tested). It
//! measures how much the score depends on which structures were held out,
//! given the fitted probes, not the spread of refits on other training
//! sets (the per-fold standard deviation shows that).
//!
//! # Paired by construction
//! Replicate `b` draws the same rows for every record of a run (the draws
//! depend only on the seed, `b` and the folds). So the difference of two
//! records' replicate vectors, element by element, is the paired bootstrap
//! of their difference on the same structures, and any statistic of
//! several records (a gap, a model's score) has its replicates as the
//! statistic of theirs: [`difference`] and the verdict use that.
//!
//! # Degenerate input
//! A draw whose targets are all equal scores as `r2_score` does
//! (`force_finite`: 1 when predicted exactly, else 0). Non-finite
//! replicates (a broken fit) are left out of the percentiles; with fewer
//! than half of them finite there is no interval.

use ndarray::ArrayView1;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::flow::folds::Folds;

/// Bootstrap replicates of a run, unless set otherwise (`--bootstrap`).
pub const DEFAULT_REPLICATES: usize = 1000;

/// Largest number of drawn row numbers kept in memory between records;
/// past it every record draws them again (the same ones: they are seeded).
const CACHE_ROWS: usize = 1 << 23;

/// The draws of a run: replicate count, seed and the folds' held-out rows.
#[derive(Debug, Clone)]
pub struct Resamples {
    replicates: usize,
    seed: u64,
    /// Held-out rows of every fold, in increasing order.
    tests: Vec<Vec<u32>>,
    /// Every replicate's draws (positions within each fold, fold after
    /// fold), when they fit in [`CACHE_ROWS`].
    cache: Option<Vec<u32>>,
}

impl Resamples {
    /// `replicates` draws over the held-out folds of `folds`, seeded with
    /// `seed` (0 replicates: no intervals).
    pub fn new(folds: &Folds, replicates: usize, seed: u64) -> Resamples {
        let tests: Vec<Vec<u32>> = (0..folds.k)
            .map(|f| folds.test(f).into_iter().map(|i| i as u32).collect())
            .collect();
        let mut r = Resamples {
            replicates,
            seed,
            tests,
            cache: None,
        };
        let n: usize = r.tests.iter().map(Vec::len).sum();
        if replicates.saturating_mul(n) <= CACHE_ROWS {
            let mut all = Vec::with_capacity(replicates * n);
            for b in 0..replicates {
                r.draw(b, |_, pos| all.push(pos));
            }
            r.cache = Some(all);
        }
        r
    }

    /// Number of replicates.
    pub fn replicates(&self) -> usize {
        self.replicates
    }

    /// The draws of replicate `b`: `visit(fold, position in the fold)`, the
    /// fold's size times per fold, folds in order. The stream of replicate
    /// `b` is ChaCha8 seeded with the run's seed, stream `b`.
    fn draw(&self, b: usize, mut visit: impl FnMut(usize, u32)) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xB007_57A9_0000_0000);
        rng.set_stream(b as u64);
        for (f, rows) in self.tests.iter().enumerate() {
            let m = rows.len() as u32;
            for _ in 0..m {
                visit(f, rng.random_range(0..m));
            }
        }
    }

    /// Replicates of the mean over folds of the held-out R² of `pred`
    /// against `y` (both in row order).
    pub fn r2(&self, y: ArrayView1<'_, f64>, pred: &[f64]) -> Vec<f64> {
        let k = self.tests.len();
        // Per fold: the targets centred on the fold's mean (SS_tot without
        // cancellation) and the residuals.
        let (yc, res): (Vec<Vec<f64>>, Vec<Vec<f64>>) = self
            .tests
            .iter()
            .map(|rows| {
                let m = rows.iter().map(|&i| y[i as usize]).sum::<f64>() / rows.len() as f64;
                rows.iter()
                    .map(|&i| (y[i as usize] - m, y[i as usize] - pred[i as usize]))
                    .unzip()
            })
            .unzip();
        let mut out = Vec::with_capacity(self.replicates);
        let mut acc = vec![[0.0f64; 3]; k];
        let mut finish = |acc: &mut Vec<[f64; 3]>| {
            let mut sum = 0.0;
            for (a, rows) in acc.iter_mut().zip(&self.tests) {
                let m = rows.len() as f64;
                let ss_tot = a[1] - a[0] * a[0] / m;
                let ss_res = a[2];
                sum += if ss_tot > 0.0 {
                    1.0 - ss_res / ss_tot
                } else if ss_res == 0.0 {
                    1.0
                } else {
                    0.0
                };
                *a = [0.0; 3];
            }
            out.push(sum / k as f64);
        };
        let add = |acc: &mut Vec<[f64; 3]>, f: usize, pos: u32| {
            let (c, e) = (yc[f][pos as usize], res[f][pos as usize]);
            let a = &mut acc[f];
            a[0] += c;
            a[1] += c * c;
            a[2] += e * e;
        };
        match &self.cache {
            Some(all) => {
                let n: usize = self.tests.iter().map(Vec::len).sum();
                for draws in all.chunks(n.max(1)).take(self.replicates) {
                    let mut at = 0;
                    for (f, rows) in self.tests.iter().enumerate() {
                        for &pos in &draws[at..at + rows.len()] {
                            add(&mut acc, f, pos);
                        }
                        at += rows.len();
                    }
                    finish(&mut acc);
                }
            }
            None => {
                for b in 0..self.replicates {
                    self.draw(b, |f, pos| add(&mut acc, f, pos));
                    finish(&mut acc);
                }
            }
        }
        out
    }
}

/// The 95 % percentile interval of `replicates` (2.5th and 97.5th
/// percentiles, linear interpolation), over the finite ones; `None` when
/// fewer than half are finite.
pub fn interval(replicates: &[f64]) -> Option<[f64; 2]> {
    let mut v: Vec<f64> = replicates
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() || 2 * v.len() < replicates.len() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some([percentile(&v, 2.5), percentile(&v, 97.5)])
}

/// The bias-corrected (BC) 95 % percentile interval of `replicates`
/// around the estimate `point` (Efron 1981): with `z0 = Φ⁻¹(share of
/// finite replicates below point, ties counting half)`, the percentiles
/// `Φ(2·z0 ∓ 1.96)` instead of 2.5 and 97.5. `None` as [`interval`].
pub fn interval_bc(replicates: &[f64], point: f64) -> Option<[f64; 2]> {
    let mut v: Vec<f64> = replicates
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() || 2 * v.len() < replicates.len() || !point.is_finite() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let b = v.len() as f64;
    let below = v.iter().filter(|&&x| x < point).count() as f64;
    let ties = v.iter().filter(|&&x| x == point).count() as f64;
    let p0 = ((below + 0.5 * ties) / b).clamp(0.5 / b, 1.0 - 0.5 / b);
    let z0 = normal_quantile(p0);
    let q = |z: f64| 100.0 * normal_cdf(2.0 * z0 + z);
    Some([percentile(&v, q(-Z95)), percentile(&v, q(Z95))])
}

/// The standard normal's 97.5th percentile.
const Z95: f64 = 1.959_963_984_540_054;

/// Standard normal CDF, `Φ(x) = erfc(−x/√2)/2` (erfc by W. J. Cody's
/// rational approximation as in Numerical Recipes' `erfcc`, relative error
/// below 1.2e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = (x / std::f64::consts::SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// Standard normal quantile by bisection on [`normal_cdf`] (60 halvings of
/// [−10, 10]: far below the replicates' resolution).
fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0f64, 10.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Percentile `q` (0–100) of sorted `v`, linear interpolation between the
/// closest ranks (NumPy's default `method="linear"`).
pub fn percentile(v: &[f64], q: f64) -> f64 {
    let pos = (v.len() - 1) as f64 * q / 100.0;
    let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
    if lo + 1 < v.len() {
        v[lo] + (v[lo + 1] - v[lo]) * frac
    } else {
        v[lo]
    }
}

/// Replicates of `a − b`, element by element (the paired bootstrap of a
/// difference when both come from one run's [`Resamples`]).
pub fn difference(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// A difference and its interval: whether the interval holds 0.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Difference {
    /// The difference of the two scores.
    pub delta: f64,
    /// Its 95 % paired-bootstrap interval (`null` without replicates).
    pub ci: Option<[f64; 2]>,
    /// Whether the interval holds 0 (`false` without an interval).
    pub tied: bool,
}

impl Difference {
    /// The difference `delta` with the bias-corrected interval of its
    /// replicates ([`interval_bc`]).
    pub fn of(delta: f64, replicates: &[f64]) -> Difference {
        let ci = interval_bc(replicates, delta);
        Difference {
            delta,
            ci,
            tied: ci.is_some_and(|[lo, hi]| lo <= 0.0 && 0.0 <= hi),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::metrics::r2;
    use ndarray::Array1;
    use rand::RngExt;

    /// The score the replicates resample: the mean over folds of the
    /// held-out R² of `pred`.
    fn fold_mean_r2(folds: &Folds, y: ndarray::ArrayView1<'_, f64>, pred: &[f64]) -> f64 {
        let per_fold = (0..folds.k).map(|f| {
            let t = folds.test(f);
            let yt: Vec<f64> = t.iter().map(|&i| y[i]).collect();
            let pt: Vec<f64> = t.iter().map(|&i| pred[i]).collect();
            r2(yt.as_slice(), &pt)
        });
        per_fold.sum::<f64>() / folds.k as f64
    }

    fn normal(rng: &mut ChaCha8Rng) -> f64 {
        // Box–Muller.
        let (u, v): (f64, f64) = (rng.random(), rng.random());
        (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    #[test]
    fn percentiles_follow_numpy_linear_interpolation() {
        let v = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 100.0), 8.0);
        // np.percentile([1, 2, 4, 8], 2.5) = 1.075; 97.5 → 7.7
        assert!((percentile(&v, 2.5) - 1.075).abs() < 1e-12);
        assert!((percentile(&v, 97.5) - 7.7).abs() < 1e-12);
        assert_eq!(interval(&[f64::NAN, f64::NAN, 1.0]), None);
    }

    #[test]
    fn replicates_are_seeded_paired_and_cached_or_not_alike() {
        let folds = Folds::shuffled(200, 5, 1).unwrap();
        let y = Array1::from_shape_fn(200, |i| (i as f64 * 0.37).sin());
        let p: Vec<f64> = y.iter().map(|v| 0.8 * v + 0.05).collect();
        let a = Resamples::new(&folds, 300, 7);
        assert!(a.cache.is_some());
        let mut b = a.clone();
        b.cache = None;
        assert_eq!(
            a.r2(y.view(), &p),
            b.r2(y.view(), &p),
            "cache changes nothing"
        );
        let other = Resamples::new(&folds, 300, 8).r2(y.view(), &p);
        assert_ne!(a.r2(y.view(), &p), other, "another seed, other draws");
        // A record against itself: every paired difference is exactly 0.
        let d = difference(&a.r2(y.view(), &p), &a.r2(y.view(), &p));
        let diff = Difference::of(0.0, &d);
        assert!(diff.tied && diff.ci == Some([0.0, 0.0]));
        // The replicates scatter around the fold-mean R².
        let r = a.r2(y.view(), &p);
        let point = fold_mean_r2(&folds, y.view(), &p);
        let [lo, hi] = interval(&r).unwrap();
        assert!(lo < point && point < hi, "{lo} {point} {hi}");
    }

    #[test]
    fn normal_cdf_and_quantile_match_tables() {
        assert!((normal_cdf(Z95) - 0.975).abs() < 1e-7);
        assert!((normal_cdf(-1.0) - 0.158_655_253_931_457).abs() < 1e-7);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_quantile(0.975) - Z95).abs() < 1e-5);
        assert!(normal_quantile(0.5).abs() < 1e-6);
        // Replicates centred on the estimate: the plain percentiles.
        let reps: Vec<f64> = (0..=100).map(|i| i as f64).collect();
        let [lo, hi] = interval_bc(&reps, 50.0).unwrap();
        assert!(
            (lo - 2.5).abs() < 1e-3 && (hi - 97.5).abs() < 1e-3,
            "{lo} {hi}"
        );
        // An estimate above most replicates shifts both ends up.
        let [lo2, hi2] = interval_bc(&reps, 70.0).unwrap();
        assert!(lo2 > lo && hi2 > hi);
    }

    /// Coverage on synthetic data with a known R²: y = s + e with s and e
    /// independent standard normals scaled so that the population R² of the
    /// prediction s is 0.6; 200 seeded data sets of 400 rows in 5 folds. The
    /// bias-corrected intervals must cover it in at least 93 % of them.
    #[test]
    fn intervals_cover_a_known_r2_in_at_least_93_percent_of_data_sets() {
        let truth = 0.6f64;
        let noise = ((1.0 - truth) / truth).sqrt();
        let (mut covered, sets) = (0, 200);
        let mut covered_bc = 0;
        for set in 0..sets {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + set);
            let s: Vec<f64> = (0..400).map(|_| normal(&mut rng)).collect();
            let y = Array1::from_shape_fn(400, |i| s[i] + noise * normal(&mut rng));
            let folds = Folds::shuffled(400, 5, set).unwrap();
            let reps = Resamples::new(&folds, 1000, set).r2(y.view(), &s);
            let [lo, hi] = interval(&reps).unwrap();
            covered += usize::from(lo <= truth && truth <= hi);
            let point = fold_mean_r2(&folds, y.view(), &s);
            let [lo, hi] = interval_bc(&reps, point).unwrap();
            covered_bc += usize::from(lo <= truth && truth <= hi);
        }
        eprintln!("{sets} data sets: R² = {truth} covered {covered_bc} times (bias-corrected, the intervals cpd reports), {covered} times (plain percentiles)");
        assert!(
            covered_bc >= 186,
            "{covered_bc} of {sets} bias-corrected intervals cover R² = {truth}"
        );
        assert!(covered >= 180, "{covered} of {sets} plain intervals");
    }
}
