//! One-hidden-layer perceptron probe, trained as scikit-learn's
//! `MLPRegressor(solver="adam", early_stopping=True)` trains it, with inputs
//! and target standardised on the training fold.
//!
//! # Objective
//! For standardised inputs `x` (d) and standardised target `y`, the network
//! `f(x) = w₂ᵀ relu(W₁ᵀ x + b₁) + b₂` (`W₁`: d × h) minimises, per minibatch
//! `B`, `Σ_B (f(x) − y)² / (2|B|) + α (‖W₁‖² + ‖w₂‖²) / (2|B|)` — the loss
//! and the L2 scaling of `_multilayer_perceptron.py` (`_backprop`,
//! `_compute_loss_grad`: gradients `(Aᵀδ + αW)/|B|`, biases unpenalised).
//!
//! # Algorithm (scikit-learn 1.9 `_fit_stochastic`, rule for rule)
//! * Initial weights Glorot-uniform with the ReLU factor:
//!   `U(−√(6/(fan_in+fan_out)), +…)`, biases from the same interval.
//! * Before training, `⌈validation_fraction · n⌉` rows (a seeded random
//!   subset, as `train_test_split`) are set aside for early stopping; at
//!   least 2 are needed.
//! * Each epoch visits the other rows in a fresh seeded order, in
//!   minibatches of `min(batch, n_train)` (the last one smaller), with one
//!   Adam step per minibatch (Kingma & Ba 2014; β₁ 0.9, β₂ 0.999, ε 1e-8,
//!   bias correction folded into the step size, `_stochastic_optimizers.py`).
//! * After each epoch the validation R² is computed; an epoch whose score is
//!   below `best + tol` counts as not improving, a score above `best` saves
//!   the weights; training stops when more than `patience` consecutive
//!   epochs did not improve, or after `max_epochs`. The best weights are
//!   restored.
//!
//! The arithmetic is single precision (as `MLPRegressor` on `float32` input;
//! the standardisation, the scores and the un-standardised predictions are in
//! `f64`). Both products of a step — `X_B·W₁` (with the bias and the ReLU)
//! and `X_Bᵀ·δ₁` — go through [`linalg::select_times`] and
//! [`linalg::select_t_times`], which read the minibatch's rows of `X` in
//! place and sum every element in one fixed order whatever the processor;
//! every buffer is allocated once per fit, so a minibatch allocates
//! nothing.
//!
//! # Parameters
//! | name | default | range |
//! |------|---------|-------|
//! | `hidden` | 128 | ≥ 1 |
//! | `alpha` | 1e-4 | finite, ≥ 0 |
//! | `learning_rate` | 1e-3 | finite, > 0 |
//! | `batch` | 200 (capped at the rows trained on) | ≥ 1 |
//! | `max_epochs` | 200 | ≥ 1 |
//! | `patience` | 10 | ≥ 1 |
//! | `tol` | 1e-4 | finite, ≥ 0 |
//! | `validation_fraction` | 0.1 | in (0, 1) |
//! | `seed` | 0 | any |
//!
//! # Randomness
//! One ChaCha8 stream per fit, from `seed` and the (fold, target) pair, so
//! every network of a run has its own reproducible stream and the numbers do
//! not depend on which thread fits what. The representation does not enter
//! the stream: like a fixed `random_state`, the same fold and target get the
//! same split and minibatch order on every representation of the same width.
//!
//! # Degenerate input
//! Constant input columns standardise to zero (scikit-learn's
//! `_is_constant_feature` rule); on a constant training target no network is
//! trained and the constant is predicted. A training fold too small for a validation set of 2 rows and a
//! training set of 1 is an error naming the sizes.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::ridge::standardisation;
use super::scale::{ClipBounds, Scale};
use super::{FoldPrediction, Probe, Split};
use crate::error::{CpdError, Result};
use crate::flow::rows::Rows;
use crate::linalg::{select_t_times, select_times};
use clap::Args;
use serde::{Deserialize, Serialize};

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

/// Unchecked MLP hyper-parameters (defaults as in `DESIGN.md`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpParams {
    /// Hidden ReLU units.
    pub hidden: usize,
    /// L2 penalty on the weights (not the biases).
    pub alpha: f64,
    /// Adam step size.
    pub learning_rate: f64,
    /// Minibatch size (capped at the rows trained on).
    pub batch: usize,
    /// Maximum epochs.
    pub max_epochs: usize,
    /// Epochs without a validation improvement of at least `tol` tolerated.
    pub patience: usize,
    /// Improvement in validation R² that counts.
    pub tol: f64,
    /// Fraction of the training fold held out for early stopping.
    pub validation_fraction: f64,
    /// Seed of the weights, the validation split and the minibatch order.
    pub seed: u64,
}

impl Default for MlpParams {
    fn default() -> Self {
        MlpParams {
            hidden: 128,
            alpha: 1e-4,
            learning_rate: 1e-3,
            batch: 200,
            max_epochs: 200,
            patience: 10,
            tol: 1e-4,
            validation_fraction: 0.1,
            seed: 0,
        }
    }
}

impl MlpParams {
    /// One line for the report's settings.
    pub fn describe(&self) -> String {
        format!(
            "{} ReLU units, Adam lr {}, L2 {}, batch {}, ≤ {} epochs, early stopping on {} of the \
             training fold (patience {}, tol {}), seed {}",
            self.hidden,
            self.learning_rate,
            self.alpha,
            self.batch,
            self.max_epochs,
            self.validation_fraction,
            self.patience,
            self.tol,
            self.seed
        )
    }

    /// Validate the ranges in the module table.
    pub fn check(self) -> Result<Mlp> {
        let bad = |m: String| Err(CpdError::Invalid(m));
        if self.hidden == 0 {
            return bad("setting `mlp.hidden` must be at least 1".into());
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return bad(format!(
                "setting `mlp.alpha` must be ≥ 0, got {}",
                self.alpha
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "setting `mlp.learning_rate` must be > 0, got {}",
                self.learning_rate
            ));
        }
        if self.batch == 0 {
            return bad("setting `mlp.batch` must be at least 1".into());
        }
        if self.max_epochs == 0 {
            return bad("setting `mlp.max_epochs` must be at least 1".into());
        }
        if self.patience == 0 {
            return bad("setting `mlp.patience` must be at least 1".into());
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return bad(format!("mlp tol must be ≥ 0, got {}", self.tol));
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return bad(format!(
                "mlp validation_fraction must be in (0, 1), got {}",
                self.validation_fraction
            ));
        }
        Ok(Mlp {
            params: self,
            scale: Scale::Standard,
        })
    }
}

/// `[settings.mlp]`: the one-hidden-layer perceptron (scikit-learn's
/// `MLPRegressor` defaults with early stopping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct MlpSettings {
    /// MLP: hidden ReLU units.
    #[arg(id = "mlp_hidden", help_heading = "MLP", long = "mlp-hidden", value_name = "N", default_value_t = MlpParams::default().hidden)]
    pub hidden: usize,
    /// MLP: L2 penalty on the weights.
    #[arg(id = "mlp_alpha", help_heading = "MLP", long = "mlp-alpha", value_name = "ALPHA", default_value_t = MlpParams::default().alpha)]
    pub alpha: f64,
    /// MLP: Adam learning rate.
    #[arg(id = "mlp_learning_rate", help_heading = "MLP", long = "mlp-learning-rate", alias = "mlp-lr", value_name = "LR", default_value_t = MlpParams::default().learning_rate)]
    #[serde(alias = "lr")]
    pub learning_rate: f64,
    /// MLP: minibatch size, capped at the rows trained on.
    #[arg(id = "mlp_batch", help_heading = "MLP", long = "mlp-batch", value_name = "N", default_value_t = MlpParams::default().batch)]
    pub batch: usize,
    /// MLP: maximum epochs.
    #[arg(id = "mlp_max_epochs", help_heading = "MLP", long = "mlp-max-epochs", value_name = "N", default_value_t = MlpParams::default().max_epochs)]
    pub max_epochs: usize,
    /// MLP: early-stopping patience in epochs.
    #[arg(id = "mlp_patience", help_heading = "MLP", long = "mlp-patience", value_name = "N", default_value_t = MlpParams::default().patience)]
    pub patience: usize,
    /// MLP: seed of the weights, the validation split and the minibatch order [default: `seed`].
    #[arg(
        id = "mlp_seed",
        help_heading = "MLP",
        long = "mlp-seed",
        value_name = "N"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for MlpSettings {
    fn default() -> Self {
        let p = MlpParams::default();
        MlpSettings {
            hidden: p.hidden,
            alpha: p.alpha,
            learning_rate: p.learning_rate,
            batch: p.batch,
            max_epochs: p.max_epochs,
            patience: p.patience,
            seed: None,
        }
    }
}

impl MlpSettings {
    /// The probe's hyper-parameters (`run_seed` where `seed` is not set).
    pub fn params(&self, run_seed: u64) -> MlpParams {
        MlpParams {
            hidden: self.hidden,
            alpha: self.alpha,
            learning_rate: self.learning_rate,
            batch: self.batch,
            max_epochs: self.max_epochs,
            patience: self.patience,
            seed: self.seed.unwrap_or(run_seed),
            ..MlpParams::default()
        }
    }
}

/// Validated MLP probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    params: MlpParams,
    scale: Scale,
}

/// A trained network for one target, on standardised inputs and target.
#[derive(Debug, Clone)]
pub struct Network {
    /// `d × h` input weights.
    pub w1: Array2<f32>,
    /// Hidden biases.
    pub b1: Array1<f32>,
    /// Output weights.
    pub w2: Array1<f32>,
    /// Output bias.
    pub b2: f32,
    /// Epochs run.
    pub epochs: usize,
    /// Best validation R² (the epoch whose weights were kept).
    pub best_validation_r2: f64,
}

impl Network {
    /// Predict standardised targets for standardised rows `x` (`n × d`).
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Array1<f32> {
        let x = x.as_standard_layout();
        let rows: Vec<usize> = (0..x.nrows()).collect();
        let mut a = vec![0.0f32; x.nrows() * self.b1.len()];
        let mut out = Array1::<f32>::zeros(x.nrows());
        forward(
            x.as_slice().expect("standard layout"),
            &rows,
            self.w1.view(),
            self.b1.as_slice().expect("contiguous"),
            self.w2.as_slice().expect("contiguous"),
            self.b2,
            &mut a,
            out.as_slice_mut().expect("contiguous"),
        );
        out
    }
}

/// `a = relu(X[rows]·W₁ + b₁)`, `out = a·w₂ + b₂` into preallocated buffers,
/// for row-major `x` (`· × d`) and `W₁` (`d × h`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn forward(
    x: &[f32],
    rows: &[usize],
    w1: ArrayView2<'_, f32>,
    b1: &[f32],
    w2: &[f32],
    b2: f32,
    a: &mut [f32],
    out: &mut [f32],
) {
    let (n, d, h) = (rows.len(), w1.nrows(), w1.ncols());
    let w1 = w1.as_slice().expect("standard layout");
    select_times(a, x, d, rows, w1, h, Some(b1), true);
    for (row, o) in a[..n * h].chunks_exact(h).zip(out.iter_mut()) {
        *o = b2 + dot(row, w2);
    }
}

/// `Σ aᵢbᵢ` with eight partial sums (vectorisable; a fixed order, so the
/// result does not depend on anything but the inputs).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// R² of `pred` against `y` (scikit-learn `r2_score`; constant `y`: 1 for a
/// perfect prediction, else 0).
fn r2(y: &[f32], pred: &[f32]) -> f64 {
    let n = y.len() as f64;
    let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n;
    let (mut ss_res, mut ss_tot) = (0.0, 0.0);
    for (&t, &p) in y.iter().zip(pred) {
        ss_res += (t as f64 - p as f64).powi(2);
        ss_tot += (t as f64 - mean).powi(2);
    }
    if !ss_res.is_finite() {
        return f64::NAN;
    }
    if ss_tot == 0.0 {
        return if ss_res == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - ss_res / ss_tot
}

/// Adam moments of one parameter block.
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Moments {
    fn new(len: usize) -> Self {
        Moments {
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    /// One Adam step on `p` with gradient `(g + alpha·p)·inv_b` (`alpha` 0
    /// for biases) and the bias-corrected step size `lr_t`.
    #[inline(always)]
    fn step(&mut self, p: &mut [f32], g: &[f32], alpha: f32, inv_b: f32, lr_t: f32) {
        for (((p, &g), m), v) in p
            .iter_mut()
            .zip(g)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            let g = (g + alpha * *p) * inv_b;
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            *p -= lr_t * *m / (v.sqrt() + EPS);
        }
    }
}

impl Mlp {
    /// The validated parameters.
    pub fn params(&self) -> &MlpParams {
        &self.params
    }

    /// The same probe with feature scaling `scale`.
    pub fn with_scale(mut self, scale: Scale) -> Self {
        self.scale = scale.for_mlp();
        self
    }

    /// The random stream of the network for `target` on `fold`.
    pub fn rng(&self, fold: usize, target: usize) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.params.seed);
        rng.set_stream(((fold as u64) << 32) | target as u64);
        rng
    }

    /// Train one network on standardised rows `x` (`n × d`, row-major is
    /// fastest) and standardised target `y`.
    ///
    /// On an x86-64 processor with AVX-512 or AVX2 the loop is compiled for
    /// it as well and that copy runs: the element-wise loops (the Adam step,
    /// the activations, the bias sums) then work on 16 or 8 lanes instead of
    /// SSE's 4, with the same operations in the same order on each element,
    /// so the numbers are bit for bit the same on every copy (no fused
    /// multiply-add: LLVM contracts none without fast-math flags).
    pub fn train(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Network> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F (checked just above).
            return unsafe { self.train_avx512(x, y, rng) };
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2 (checked just above).
            return unsafe { self.train_avx2(x, y, rng) };
        }
        self.train_loop(x, y, rng)
    }

    /// [`Mlp::train`] compiled for AVX-512.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn train_avx512(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Network> {
        self.train_loop(x, y, rng)
    }

    /// [`Mlp::train`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn train_avx2(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Network> {
        self.train_loop(x, y, rng)
    }

    /// The body of [`Mlp::train`], inlined into each compiled copy.
    #[inline(always)]
    fn train_loop(
        &self,
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Network> {
        let p = &self.params;
        let (n, d, h) = (x.nrows(), x.ncols(), p.hidden);
        assert_eq!(y.len(), n, "x and y row counts differ");
        let n_val = (p.validation_fraction * n as f64).ceil() as usize;
        if n_val < 2 || n_val >= n {
            return Err(CpdError::Invalid(format!(
                "mlp: {n} training rows leave {n_val} for early-stopping validation \
                 (need ≥ 2, and ≥ 1 row to train on)"
            )));
        }
        let n_tr = n - n_val;

        // Validation split first, then the weights (scikit-learn draws the
        // weights first; the order of draws is immaterial for a seeded run).
        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(rng);
        let (val_rows, tr_rows) = perm.split_at(n_val);
        // The products read the rows of `x` the split and each minibatch
        // name, in place.
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout");
        let y_tr: Vec<f32> = tr_rows.iter().map(|&i| y[i]).collect();
        let y_val: Vec<f32> = val_rows.iter().map(|&i| y[i]).collect();

        let glorot = |fan_in: usize, fan_out: usize| (6.0 / (fan_in + fan_out) as f64).sqrt();
        let mut uniform = |bound: f64, len: usize| -> Vec<f32> {
            (0..len)
                .map(|_| rng.random_range(-bound..bound) as f32)
                .collect()
        };
        let (bound1, bound2) = (glorot(d, h), glorot(h, 1));
        let mut w1 = Array2::from_shape_vec((d, h), uniform(bound1, d * h)).expect("shape");
        let mut b1 = uniform(bound1, h);
        let mut w2 = uniform(bound2, h);
        let mut b2 = uniform(bound2, 1)[0];

        let bs = p.batch.min(n_tr);
        let alpha = p.alpha as f32;
        // Every buffer of the loop, allocated once.
        let mut brows = vec![0usize; bs];
        let mut yb = vec![0.0f32; bs];
        let mut act = vec![0.0f32; bs.max(n_val) * h];
        let mut out = vec![0.0f32; bs.max(n_val)];
        let mut g_w1 = vec![0.0f32; d * h];
        let mut g_b1 = vec![0.0f32; h];
        let mut g_w2 = vec![0.0f32; h];
        let (mut m_w1, mut m_b1, mut m_w2, mut m_b2) = (
            Moments::new(d * h),
            Moments::new(h),
            Moments::new(h),
            Moments::new(1),
        );
        let mut best = (w1.clone(), b1.clone(), w2.clone(), b2);
        let mut best_score = f64::NEG_INFINITY;
        let mut no_improve = 0usize;
        let mut order: Vec<usize> = (0..n_tr).collect();
        let mut t = 0i32;
        let mut epochs = 0;

        for _ in 0..p.max_epochs {
            order.shuffle(rng);
            for batch in order.chunks(bs) {
                let nb = batch.len();
                for ((r, yv), &i) in brows.iter_mut().zip(&mut yb).zip(batch) {
                    *r = tr_rows[i];
                    *yv = y_tr[i];
                }
                let rows = &brows[..nb];
                forward(xs, rows, w1.view(), &b1, &w2, b2, &mut act, &mut out);
                let a = &mut act[..nb * h];
                // Output layer: δ = f(x) − y; ∂/∂w₂ = Aᵀδ; ∂/∂b₂ = Σδ.
                // Hidden layer: δ₁ = δ w₂ᵀ ⊙ [a > 0], in place of the
                // activations; ∂/∂W₁ = X_Bᵀ δ₁; ∂/∂b₁ = Σ δ₁. One pass over
                // the activations for both layers.
                let mut g_b2 = 0.0f32;
                g_w2.fill(0.0);
                g_b1.fill(0.0);
                for ((&o, &yv), row) in out.iter().zip(&yb).zip(a.chunks_exact_mut(h)) {
                    let dl = o - yv;
                    g_b2 += dl;
                    let (row, w2, g_w2, g_b1) =
                        (&mut row[..h], &w2[..h], &mut g_w2[..h], &mut g_b1[..h]);
                    for j in 0..h {
                        g_w2[j] += dl * row[j];
                        // A select by bit mask: vectorises, where a branch did not.
                        let keep = ((row[j] > 0.0) as u32).wrapping_neg();
                        row[j] = f32::from_bits(keep & (dl * w2[j]).to_bits());
                        g_b1[j] += row[j];
                    }
                }
                select_t_times(&mut g_w1, xs, d, rows, a, h);

                t += 1;
                let lr_t = (p.learning_rate * (1.0 - (BETA2 as f64).powi(t)).sqrt()
                    / (1.0 - (BETA1 as f64).powi(t))) as f32;
                let inv_b = 1.0 / nb as f32;
                m_w1.step(
                    w1.as_slice_mut().expect("standard layout"),
                    &g_w1,
                    alpha,
                    inv_b,
                    lr_t,
                );
                m_b1.step(&mut b1, &g_b1, 0.0, inv_b, lr_t);
                m_w2.step(&mut w2, &g_w2, alpha, inv_b, lr_t);
                m_b2.step(std::slice::from_mut(&mut b2), &[g_b2], 0.0, inv_b, lr_t);
            }
            epochs += 1;

            forward(xs, val_rows, w1.view(), &b1, &w2, b2, &mut act, &mut out);
            let score = r2(&y_val, &out[..n_val]);
            // NaN compares false both ways, as in scikit-learn.
            if score < best_score + p.tol {
                no_improve += 1;
            } else {
                no_improve = 0;
            }
            if score > best_score {
                best_score = score;
                best.0.assign(&w1);
                best.1.copy_from_slice(&b1);
                best.2.copy_from_slice(&w2);
                best.3 = b2;
            }
            if no_improve > p.patience {
                break;
            }
        }
        let (w1, b1, w2, b2) = best;
        Ok(Network {
            w1,
            b1: Array1::from(b1),
            w2: Array1::from(w2),
            b2,
            epochs,
            best_validation_r2: best_score,
        })
    }

    /// Standardise, train one network per target column of `y_train` (in
    /// parallel; each on its own stream) and predict `x_test`.
    pub fn fit_predict_fold(
        &self,
        x_train: ArrayView2<'_, f64>,
        y_train: ArrayView2<'_, f64>,
        x_test: ArrayView2<'_, f64>,
        fold: usize,
    ) -> Result<FoldPrediction> {
        let (mean, scale) = standardisation(x_train, self.scale);
        let to_f32 = |x: ArrayView2<'_, f64>| {
            let mut out = Array2::<f32>::zeros(x.raw_dim());
            for (mut o, row) in out.rows_mut().into_iter().zip(x.rows()) {
                for (((o, &v), &m), &s) in o.iter_mut().zip(row).zip(&mean).zip(&scale) {
                    *o = ((v - m) / s) as f32;
                }
            }
            out
        };
        let xs_train = to_f32(x_train);
        let xs_test = match self.scale.clips() {
            false => to_f32(x_test),
            // Clip in f64 to the training extremes, then round: rounding
            // to f32 is monotone, so this equals clipping the f32 values.
            true => {
                let mut extremes = ClipBounds::empty(x_train.ncols());
                extremes.extend(x_train);
                let bounds =
                    ClipBounds::from_raw_extremes(&extremes.lo, &extremes.hi, &mean, &scale);
                let mut xs = (&x_test - &mean.view().insert_axis(Axis(0)))
                    / scale.view().insert_axis(Axis(0));
                bounds.clip(xs.view_mut());
                xs.mapv(|v| v as f32)
            }
        };
        let cols = (0..y_train.ncols())
            .into_par_iter()
            .map(|t| {
                let y = y_train.column(t);
                let mu = y.mean().unwrap_or(0.0);
                let sd = y.std(0.0);
                if sd == 0.0 || sd.is_nan() {
                    return Ok(Array1::from_elem(x_test.nrows(), mu));
                }
                let ys: Array1<f32> = y.mapv(|v| ((v - mu) / sd) as f32);
                let net = self.train(xs_train.view(), ys.view(), &mut self.rng(fold, t))?;
                Ok(net.predict(xs_test.view()).mapv(|v| v as f64 * sd + mu))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut pred = Array2::<f64>::zeros((x_test.nrows(), y_train.ncols()));
        for (mut c, p) in pred.axis_iter_mut(Axis(1)).zip(cols) {
            c.assign(&p);
        }
        Ok(FoldPrediction { pred, alpha: None })
    }
}

impl Probe for Mlp {
    fn fit_predict(
        &self,
        x: &dyn Rows,
        split: Split<'_>,
        y_train: ArrayView2<'_, f64>,
    ) -> Result<FoldPrediction> {
        let (x_train, x_test) = (x.gather(split.train), x.gather(split.test));
        self.fit_predict_fold(x_train.view(), y_train, x_test.view(), split.fold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    fn lcg(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut s = seed;
        Array2::from_shape_fn((n, d), |_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
    }

    fn r2_f64(y: &[f64], p: &[f64]) -> f64 {
        crate::flow::metrics::r2(y, p)
    }

    #[test]
    fn fits_a_linear_target() {
        let x = lcg(1000, 5, 1);
        let w = [1.0, -2.0, 0.5, 3.0, 0.0];
        let y = x.dot(&Array1::from(w.to_vec())).mapv(|v| 10.0 * v + 4.0);
        let y2 = y.clone().insert_axis(Axis(1));
        let mlp = MlpParams::default().check().unwrap();
        let p = mlp
            .fit_predict_fold(
                x.slice(s![..800, ..]),
                y2.slice(s![..800, ..]),
                x.slice(s![800.., ..]),
                0,
            )
            .unwrap();
        let r2 = r2_f64(&y.slice(s![800..]).to_vec(), &p.pred.column(0).to_vec());
        assert!(r2 > 0.99, "R² {r2}");
    }

    #[test]
    fn fits_a_nonlinear_target_that_ridge_cannot() {
        let x = lcg(2000, 2, 2);
        let y: Array1<f64> = x
            .rows()
            .into_iter()
            .map(|r| r[0].abs() + r[1] * r[1])
            .collect();
        let y2 = y.clone().insert_axis(Axis(1));
        let mlp = MlpParams::default().check().unwrap();
        let p = mlp
            .fit_predict_fold(
                x.slice(s![..1600, ..]),
                y2.slice(s![..1600, ..]),
                x.slice(s![1600.., ..]),
                0,
            )
            .unwrap();
        let r2 = r2_f64(&y.slice(s![1600..]).to_vec(), &p.pred.column(0).to_vec());
        assert!(r2 > 0.95, "R² {r2}");
    }

    #[test]
    fn early_stopping_stops_on_noise_and_keeps_the_best_epoch() {
        // A pure-noise target: validation R² cannot improve for long, so
        // training stops after patience + 1 non-improving epochs.
        let x = lcg(500, 10, 3);
        let y = lcg(500, 1, 4).column(0).mapv(|v| v as f32);
        let xs = x.mapv(|v| v as f32);
        let mlp = MlpParams::default().check().unwrap();
        let net = mlp.train(xs.view(), y.view(), &mut mlp.rng(0, 0)).unwrap();
        assert!(net.epochs < 200, "ran {} epochs", net.epochs);
        assert!(net.epochs >= 11);
        // The kept weights give exactly the best validation score: retrain
        // the same stream for that many epochs and compare.
        let one = MlpParams {
            max_epochs: 1,
            ..Default::default()
        }
        .check()
        .unwrap();
        let net1 = one.train(xs.view(), y.view(), &mut one.rng(0, 0)).unwrap();
        assert_eq!(net1.epochs, 1);
        assert!(net.best_validation_r2 >= net1.best_validation_r2);
        assert!(net.best_validation_r2 < 0.1, "{}", net.best_validation_r2);
    }

    #[test]
    fn same_stream_same_network_and_streams_differ() {
        let x = lcg(300, 4, 5).mapv(|v| v as f32);
        let y = x.column(0).mapv(|v| v * 2.0);
        let mlp = MlpParams::default().check().unwrap();
        let a = mlp.train(x.view(), y.view(), &mut mlp.rng(1, 2)).unwrap();
        let b = mlp.train(x.view(), y.view(), &mut mlp.rng(1, 2)).unwrap();
        let c = mlp.train(x.view(), y.view(), &mut mlp.rng(2, 2)).unwrap();
        assert_eq!(a.w1, b.w1);
        assert_eq!(a.b2, b.b2);
        assert_ne!(a.w1, c.w1);
    }

    #[test]
    fn clip_moves_only_rows_outside_the_training_box() {
        let x = lcg(300, 4, 5);
        let y = Array2::from_shape_fn((300, 1), |(i, _)| x[(i, 0)] * x[(i, 1)] + x[(i, 2)]);
        let standard = MlpParams {
            max_epochs: 20,
            ..Default::default()
        }
        .check()
        .unwrap();
        let clip = standard.clone().with_scale(Scale::Clip);
        let inside = x.slice(s![..10, ..]).to_owned();
        let a = standard
            .fit_predict_fold(x.view(), y.view(), inside.view(), 0)
            .unwrap();
        let b = clip
            .fit_predict_fold(x.view(), y.view(), inside.view(), 0)
            .unwrap();
        assert_eq!(
            a.pred, b.pred,
            "rows inside the training range are not moved"
        );
        let mut far = inside.clone();
        far[(0, 0)] = 1e3;
        let mut by_hand = far.clone();
        let max0 = x
            .column(0)
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        by_hand[(0, 0)] = max0;
        let c = clip
            .fit_predict_fold(x.view(), y.view(), far.view(), 0)
            .unwrap();
        let d = standard
            .fit_predict_fold(x.view(), y.view(), by_hand.view(), 0)
            .unwrap();
        assert_eq!(c.pred, d.pred, "clip = predicting the clamped row");
        let e = standard
            .fit_predict_fold(x.view(), y.view(), far.view(), 0)
            .unwrap();
        assert!((e.pred[(0, 0)] - c.pred[(0, 0)]).abs() > 1.0);
    }

    #[test]
    fn bad_parameters_and_tiny_folds_are_errors() {
        for (p, msg) in [
            (
                MlpParams {
                    hidden: 0,
                    ..Default::default()
                },
                "`mlp.hidden`",
            ),
            (
                MlpParams {
                    batch: 0,
                    ..Default::default()
                },
                "`mlp.batch`",
            ),
            (
                MlpParams {
                    learning_rate: 0.0,
                    ..Default::default()
                },
                "`mlp.learning_rate`",
            ),
            (
                MlpParams {
                    alpha: f64::NAN,
                    ..Default::default()
                },
                "`mlp.alpha`",
            ),
            (
                MlpParams {
                    max_epochs: 0,
                    ..Default::default()
                },
                "`mlp.max_epochs`",
            ),
            (
                MlpParams {
                    patience: 0,
                    ..Default::default()
                },
                "`mlp.patience`",
            ),
        ] {
            let e = p.check().unwrap_err().to_string();
            assert!(e.contains(msg), "{e}");
        }
        let mlp = MlpParams::default().check().unwrap();
        let x = lcg(5, 2, 1);
        let y = lcg(5, 1, 2);
        let e = mlp
            .fit_predict_fold(x.view(), y.view(), x.view(), 0)
            .unwrap_err();
        assert!(e.to_string().contains("validation"), "{e}");
    }

    #[test]
    fn constant_target_and_columns_give_finite_predictions() {
        let mut x = lcg(200, 3, 7);
        x.column_mut(1).fill(5.0);
        let mut y = Array2::<f64>::from_elem((200, 2), 3.0);
        y.column_mut(1).assign(&x.column(0));
        let mlp = MlpParams::default().check().unwrap();
        let p = mlp
            .fit_predict_fold(x.view(), y.view(), x.view(), 0)
            .unwrap();
        assert!(p.pred.column(1).iter().all(|v| v.is_finite()));
        let p = p.pred.slice(s![.., ..1]).to_owned();
        assert!(p.iter().all(|&v| v == 3.0), "{:?}", &p.slice(s![..3, ..]));
    }
}
