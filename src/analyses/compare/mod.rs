//! Comparisons between representations of the same structures: how much of
//! one representation another contains, on the raw embeddings and on the
//! composition residuals, where the shared composition signal no longer
//! decides the answer.
//!
//! | measure | what | direction | reference |
//! |---|---|---|---|
//! | `gfre` | held-out error of the best linear map `A → B` | asymmetric | scikit-matter `global_reconstruction_error` |
//! | `gfrd` | held-out distortion of that map from the best orthogonal one | asymmetric | scikit-matter `global_reconstruction_distortion` |
//! | `lfre` | held-out error of local linear maps on `A`'s nearest neighbours | asymmetric | scikit-matter `local_reconstruction_error` |
//! | `imbalance` | information imbalance `Δ(A → B)` from nearest-neighbour ranks | asymmetric | DADApy `MetricComparisons` |
//! | `cka_unbiased` | linear CKA with the unbiased HSIC estimator | symmetric | Song et al. 2012; Kornblith et al. 2019 |
//!
//! The reconstruction errors are held-out on the run's folds: fit on the
//! training folds, scored on the held-out one ([`reconstruction`]). The
//! neighbourhood measures and the TwoNN intrinsic dimension use every row
//! given ([`knn`]); unbiased CKA too ([`cka`]).

pub mod cka;
pub mod knn;
pub mod reconstruction;

use std::collections::HashMap;

use ndarray::{Array2, ArrayView2, Axis};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Structures the comparisons use at most, by default: the neighbourhood
/// measures cost `n²·d`, and a seeded subsample of this size keeps a run
/// with many layers to minutes.
pub const DEFAULT_COMPARE_ROWS: usize = 10_000;

/// A comparison measure.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Global feature reconstruction error (held-out).
    Gfre,
    /// Global feature reconstruction distortion (held-out).
    Gfrd,
    /// Local feature reconstruction error (held-out).
    Lfre,
    /// Information imbalance.
    Imbalance,
    /// Unbiased linear CKA.
    #[value(name = "cka_unbiased")]
    CkaUnbiased,
}

impl Measure {
    /// Every measure, in report order.
    pub const ALL: [Measure; 5] = [
        Measure::Gfre,
        Measure::Gfrd,
        Measure::Lfre,
        Measure::Imbalance,
        Measure::CkaUnbiased,
    ];

    /// The name in reports and settings.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Gfre => "gfre",
            Measure::Gfrd => "gfrd",
            Measure::Lfre => "lfre",
            Measure::Imbalance => "imbalance",
            Measure::CkaUnbiased => "cka_unbiased",
        }
    }

    /// Whether `value(A, B) = value(B, A)`.
    pub fn symmetric(self) -> bool {
        self == Measure::CkaUnbiased
    }

    /// Whether a larger value means more alike (CKA), not less (the
    /// errors and the imbalance).
    pub fn higher_is_closer(self) -> bool {
        self == Measure::CkaUnbiased
    }

    /// Whether it is scored on held-out folds.
    pub fn held_out(self) -> bool {
        matches!(self, Measure::Gfre | Measure::Gfrd | Measure::Lfre)
    }
}

/// The defaults of the measures, from their reference packages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareParams {
    /// LFRE's neighbourhood size (scikit-matter's `n_local_points`).
    pub local_points: usize,
    /// TwoNN: the share of the smallest distance ratios kept (DADApy's
    /// `fraction`).
    pub two_nn_fraction: f64,
    /// Bootstrap replicates behind the intervals (0: none).
    pub bootstrap: usize,
    /// Seed of the bootstrap draws.
    pub seed: u64,
}

impl Default for CompareParams {
    fn default() -> Self {
        CompareParams {
            local_points: reconstruction::LOCAL_POINTS,
            two_nn_fraction: 0.9,
            bootstrap: crate::flow::bootstrap::DEFAULT_REPLICATES,
            seed: 0,
        }
    }
}

/// One measure from one representation to another.
#[derive(Debug, Clone, PartialEq)]
pub struct PairValue {
    pub measure: Measure,
    /// Index of the `from` representation.
    pub from: usize,
    /// Index of the `to` representation.
    pub to: usize,
    /// The value (`None`: undefined, e.g. a constant representation).
    pub value: Option<f64>,
    /// Held-out measures: the value on each fold (empty otherwise).
    pub folds: Vec<f64>,
    /// 95 % bootstrap interval over the rows (reconstruction errors and
    /// imbalance; `None` for CKA or without replicates).
    pub interval: Option<[f64; 2]>,
}

/// Bootstrap draws over the rows: replicate `b` counts how often each row
/// is drawn (n draws with replacement, ChaCha8 seeded with the run's seed,
/// stream `b`). A per-row statistic's replicate is `f(Σ count_i v_i / n)`;
/// its 95 % interval is the bias-corrected percentile interval
/// ([`crate::flow::bootstrap::interval_bc`]), as for every R².
struct Draws {
    counts: Vec<Vec<u8>>,
}

impl Draws {
    fn new(n: usize, replicates: usize, seed: u64) -> Draws {
        let counts = (0..replicates)
            .map(|b| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC0A4_9A7E_0000_0000);
                rng.set_stream(b as u64);
                let mut c = vec![0u8; n];
                for _ in 0..n {
                    let i = rng.random_range(0..n);
                    c[i] = c[i].saturating_add(1);
                }
                c
            })
            .collect();
        Draws { counts }
    }

    fn interval(
        &self,
        values: &[f64],
        point: f64,
        f: impl Fn(f64) -> f64 + Sync,
    ) -> Option<[f64; 2]> {
        if self.counts.is_empty() || values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let reps: Vec<f64> = self
            .counts
            .par_iter()
            .map(|c| {
                let s: f64 = c.iter().zip(values).map(|(&k, v)| f64::from(k) * v).sum();
                f(s / n)
            })
            .collect();
        crate::flow::bootstrap::interval_bc(&reps, point)
    }
}

/// Every measure of `measures` between the representations `x` (rows
/// aligned, the same structures) for the ordered pairs `pairs`, and, when
/// `two_nn`, the TwoNN intrinsic dimension of each representation.
/// `fold[i]` is row `i`'s fold among `k`. Values come in the order of
/// `measures`, then of `pairs`.
pub fn compare(
    x: &[ArrayView2<'_, f64>],
    pairs: &[(usize, usize)],
    measures: &[Measure],
    fold: &[usize],
    k: usize,
    params: CompareParams,
    two_nn: bool,
) -> Result<(Vec<PairValue>, Vec<Option<f64>>)> {
    let held = held_out_measures(x, pairs, measures, fold, k, params)?;
    let needs_knn = two_nn || measures.contains(&Measure::Imbalance);
    let points: Vec<knn::Points<'_>> = if needs_knn {
        x.iter().map(|v| knn::Points::new(*v)).collect()
    } else {
        Vec::new()
    };
    let nearest: Vec<knn::Nearest> = points.iter().map(knn::nearest).collect();
    let ids = if two_nn {
        nearest
            .iter()
            .map(|nn| knn::two_nn(nn, params.two_nn_fraction))
            .collect()
    } else {
        vec![None; x.len()]
    };
    let ranks = if measures.contains(&Measure::Imbalance) {
        knn::ranks(&points, &nearest)
    } else {
        Vec::new()
    };
    let draws = Draws::new(
        x.first().map_or(0, |v| v.nrows()),
        params.bootstrap,
        params.seed,
    );
    let centred: Vec<Array2<f64>> = if measures.contains(&Measure::CkaUnbiased) {
        x.iter()
            .map(|v| match v.mean_axis(Axis(0)) {
                Some(m) => v - &m,
                None => v.to_owned(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let terms: Vec<cka::Terms<'_>> = centred.iter().map(|c| cka::Terms::new(c.view())).collect();
    let n = x.first().map_or(0, |v| v.nrows());
    let mut out = Vec::new();
    for &m in measures {
        for (p, &(a, b)) in pairs.iter().enumerate() {
            let (value, folds, interval) = match m {
                Measure::Gfre | Measure::Gfrd | Measure::Lfre => {
                    let h = &held[&(m, p)];
                    let interval = h
                        .value
                        .and_then(|v| draws.interval(&h.squared, v, f64::sqrt));
                    (h.value, h.folds.clone(), interval)
                }
                Measure::Imbalance => {
                    // With itself every row's nearest neighbour has rank 1.
                    let ones;
                    let r: &[u32] = if a == b {
                        ones = vec![1u32; n];
                        &ones
                    } else {
                        &ranks[a][b]
                    };
                    let v = knn::imbalance(knn::mean_rank(r), n);
                    let as_f64: Vec<f64> = r.iter().map(|&q| f64::from(q)).collect();
                    let interval = draws.interval(&as_f64, v, |mean| knn::imbalance(mean, n));
                    (Some(v), Vec::new(), interval)
                }
                Measure::CkaUnbiased => (cka::cka_unbiased(&terms[a], &terms[b]), Vec::new(), None),
            };
            out.push(PairValue {
                measure: m,
                from: a,
                to: b,
                value,
                folds,
                interval,
            });
        }
    }
    Ok((out, ids))
}

/// GFRE, GFRD and LFRE of every pair: each fold's source side is fitted
/// once for every target it is compared with.
fn held_out_measures(
    x: &[ArrayView2<'_, f64>],
    pairs: &[(usize, usize)],
    measures: &[Measure],
    fold: &[usize],
    k: usize,
    params: CompareParams,
) -> Result<HashMap<(Measure, usize), reconstruction::HeldOut>> {
    let global = measures.contains(&Measure::Gfre) || measures.contains(&Measure::Gfrd);
    let local = measures.contains(&Measure::Lfre);
    // Per measure and pair: each fold's squared pointwise values, or None
    // once a fold had no scale.
    type Sums = Option<Vec<Vec<f64>>>;
    let mut sums: HashMap<(Measure, usize), Sums> = HashMap::new();
    for &m in measures.iter().filter(|m| m.held_out()) {
        for p in 0..pairs.len() {
            sums.insert((m, p), Some(Vec::new()));
        }
    }
    let mut push = |m: Measure, p: usize, v: Option<Vec<f64>>| {
        if let Some(slot) = sums.get_mut(&(m, p)) {
            match (slot.as_mut(), v) {
                (Some(list), Some(v)) => list.push(v),
                _ => *slot = None,
            }
        }
    };
    if global || local {
        let mut sources: Vec<usize> = pairs.iter().map(|p| p.0).collect();
        sources.sort_unstable();
        sources.dedup();
        for f in 0..k {
            let targets: Vec<Option<reconstruction::Target>> = x
                .iter()
                .map(|v| reconstruction::Target::new(*v, fold, f))
                .collect();
            for &a in &sources {
                let src = reconstruction::Source::new(x[a], fold, f, global)?;
                let mine: Vec<(usize, usize)> = pairs
                    .iter()
                    .enumerate()
                    .filter(|(_, q)| q.0 == a)
                    .map(|(p, q)| (p, q.1))
                    .collect();
                let Some(src) = src else {
                    for &(p, _) in &mine {
                        for m in [Measure::Gfre, Measure::Gfrd, Measure::Lfre] {
                            push(m, p, None);
                        }
                    }
                    continue;
                };
                if global {
                    // Each target's squared GFRE and GFRD per held-out row.
                    type Rows2 = Option<(Vec<f64>, Vec<f64>)>;
                    let values: Vec<Result<Rows2>> = mine
                        .par_iter()
                        .map(|&(_, b)| match &targets[b] {
                            Some(t) => reconstruction::global_fold(&src, t).map(Some),
                            None => Ok(None),
                        })
                        .collect();
                    for (&(p, _), v) in mine.iter().zip(values) {
                        match v? {
                            Some((e, d)) => {
                                push(Measure::Gfre, p, Some(e));
                                push(Measure::Gfrd, p, Some(d));
                            }
                            None => {
                                push(Measure::Gfre, p, None);
                                push(Measure::Gfrd, p, None);
                            }
                        }
                    }
                }
                if local {
                    let scaled: Vec<(usize, &reconstruction::Target)> = mine
                        .iter()
                        .filter_map(|&(p, b)| targets[b].as_ref().map(|t| (p, t)))
                        .collect();
                    let ts: Vec<&reconstruction::Target> = scaled.iter().map(|s| s.1).collect();
                    let mut v = reconstruction::local_fold(&src, &ts, params.local_points)?;
                    for &(p, _) in &mine {
                        match scaled.iter().position(|s| s.0 == p) {
                            Some(i) => push(Measure::Lfre, p, Some(std::mem::take(&mut v[i]))),
                            None => push(Measure::Lfre, p, None),
                        }
                    }
                }
            }
        }
    }
    Ok(sums
        .into_iter()
        .map(|(key, s)| (key, reconstruction::held_out(s)))
        .collect())
}
