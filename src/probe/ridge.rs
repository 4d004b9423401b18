//! Ridge regression on standardised features with an unpenalised intercept,
//! the regularisation strength chosen per target by efficient leave-one-out
//! cross-validation (scikit-learn's `StandardScaler` + `RidgeCV`).
//!
//! # Objective
//! For standardised training features `X` (n × d, centred) and centred target
//! `y`: `min_w ‖y − X w‖² + α ‖w‖²`, intercept `ȳ`.
//!
//! # Algorithm
//! One eigendecomposition per training fold serves every alpha and every
//! target (Golub, Heath & Wahba 1979; scikit-learn `_RidgeGCV`):
//! * `n > d`: `XᵀX = V diag(λ) Vᵀ`, `A = X V`, weights `w_j(α) = 1/(λ_j + α)`;
//! * `n ≤ d`: `X Xᵀ = U diag(s) Uᵀ`, `A = U`, weights `w_j(α) = s_j/(s_j + α)`.
//!
//! The hat matrix including the intercept is `1/n + A diag(w) Aᵀ`, so the
//! leverages are `h_i = 1/n + Σ_j A_ij² w_j` and the fitted values
//! `ŷ = ȳ + A diag(w) Aᵀ y_c`; the leave-one-out residual is
//! `(y_i − ŷ_i) / (1 − h_i)` without refitting. The alpha with the smallest
//! mean squared leave-one-out residual wins; ties keep the first alpha in the
//! grid, as scikit-learn does.
//!
//! # Parameters
//! | name | default | range |
//! |------|---------|-------|
//! | `alphas` | `logspace(-3, 3, 13)` | non-empty, each finite and > 0; one value = fixed alpha |
//!
//! # Scaling
//! Features are centred on the training fold and divided by the scales of
//! [`Scale::scales`]: per column (`standard`, `clip`) or one shared scale
//! (`global`, `global-clip`). The clipping variants clamp every predicted
//! row's scaled features to the training fold's per-column range (see
//! [`super::scale`]); the fit, and so the chosen alphas, are those of the
//! same scaling without clipping.
//!
//! # Degenerate input
//! Constant training columns (scikit-learn's `_is_constant_feature` rule)
//! standardise to zeros. Eigenvalues below zero from rounding are clamped to 0.

use ndarray::{s, Array1, Array2, ArrayView2, Axis, ShapeBuilder, Zip};
use rayon::prelude::*;

use super::scale::{ClipBounds, Scale};
use super::{each_fold, FoldPrediction, FoldSink, FoldTargets, Probe, Split};
use crate::error::{CpdError, Result};
use crate::flow::folds::Folds;
use crate::flow::moments::{fill_blocks, FoldGrams, Gram, Sums, PRODUCT_ROWS};
use crate::flow::rows::{Dense, Rows, BLOCK};
use crate::linalg;

/// `logspace(-3, 3, 13)`: scikit-learn's usual `RidgeCV` grid, cpd's default.
pub fn default_alphas() -> Vec<f64> {
    (0..13).map(|i| 10f64.powf(-3.0 + 0.5 * i as f64)).collect()
}

/// Unchecked ridge hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeParams {
    alphas: Vec<f64>,
}

impl Default for RidgeParams {
    fn default() -> Self {
        RidgeParams {
            alphas: default_alphas(),
        }
    }
}

impl RidgeParams {
    /// Choose alpha from `alphas` by leave-one-out on each training fold.
    pub fn grid(alphas: Vec<f64>) -> Self {
        RidgeParams { alphas }
    }

    /// Use one fixed alpha.
    pub fn fixed(alpha: f64) -> Self {
        RidgeParams {
            alphas: vec![alpha],
        }
    }

    /// Validate: at least one alpha, each finite and positive.
    pub fn check(self) -> Result<Ridge> {
        if self.alphas.is_empty() {
            return Err(CpdError::Invalid("ridge needs at least one alpha".into()));
        }
        if let Some(a) = self.alphas.iter().find(|a| !(a.is_finite() && **a > 0.0)) {
            return Err(CpdError::Invalid(format!(
                "ridge alpha must be finite and > 0, got {a}"
            )));
        }
        Ok(Ridge {
            alphas: self.alphas,
            scale: Scale::Standard,
        })
    }
}

/// Validated ridge probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Ridge {
    alphas: Vec<f64>,
    scale: Scale,
}

impl Ridge {
    /// The candidate alphas (one value: fixed).
    pub fn alphas(&self) -> &[f64] {
        &self.alphas
    }

    /// The same probe with feature scaling `scale`.
    pub fn with_scale(mut self, scale: Scale) -> Self {
        self.scale = scale.for_ridge();
        self
    }

    /// The feature scaling.
    pub fn scale(&self) -> Scale {
        self.scale
    }

    /// Fit every target column of `y` on `x`.
    pub fn fit(&self, x: ArrayView2<'_, f64>, y: ArrayView2<'_, f64>) -> Result<FittedRidge> {
        let all: Vec<usize> = (0..x.nrows()).collect();
        self.fit_rows(&Dense(x), &all, y)
    }

    /// Fit every target column of `y` on the rows `train` of `x` (`y` holds
    /// those rows' targets, in that order).
    ///
    /// With more rows than columns the rows are streamed in blocks (three
    /// passes: means; centred Gram and cross-products; leave-one-out
    /// residuals), so memory is a few `d × d` matrices whatever `n` is.
    /// Otherwise the (at most `d × d`) training rows are gathered and the
    /// `n × n` kernel form is used.
    pub fn fit_rows(
        &self,
        x: &dyn Rows,
        train: &[usize],
        y: ArrayView2<'_, f64>,
    ) -> Result<FittedRidge> {
        let n = train.len();
        if n < 2 {
            return Err(CpdError::Invalid(format!(
                "ridge needs at least 2 training rows, got {n}"
            )));
        }
        assert_eq!(y.nrows(), n, "x and y row counts differ");
        if n > x.ncols() {
            self.fit_streaming(x, train, y)
        } else {
            self.fit_kernel(x.gather(train).view(), y)
        }
    }

    /// The primal (`n > d`) fit, streaming the training rows: a pass for
    /// their sums, one for their Gram sums, one for their cross-products
    /// with the targets, then [`Ridge::fit_moments`].
    fn fit_streaming(
        &self,
        x: &dyn Rows,
        train: &[usize],
        y: ArrayView2<'_, f64>,
    ) -> Result<FittedRidge> {
        let sums = Sums::of(x, train);
        let shift = Shift {
            x: &sums.sum / train.len() as f64,
            y: y.mean_axis(Axis(0)).expect("n ≥ 2"),
        };
        let gram = Gram::of(x, train, &shift.x);
        let cross = Cross::of(x, train, Targets::InOrder(y), &shift);
        let extremes = self.scale.clips().then_some((sums.lo, sums.hi));
        self.fit_moments(
            x,
            Train::List(train),
            Targets::InOrder(y),
            &shift,
            gram,
            cross,
            extremes,
        )
    }

    /// The primal fit from the training rows' sums about `shift` (their
    /// [`Gram`] and [`Cross`] sums, and under a clipping [`Scale`] their raw
    /// per-column extremes): standardisation, one eigendecomposition of the
    /// standardised Gram matrix `XᵀX = V diag(λ) Vᵀ`, a pass over the
    /// training rows for the leave-one-out residuals of every alpha, and the
    /// coefficients.
    ///
    /// With `S = Σ (x − μ)` over `n` rows, the mean is `μ + S/n`, the
    /// centred Gram matrix `Σ (x − μ)(x − μ)ᵀ − S Sᵀ/n` and the variance its
    /// diagonal over `n`: the corrected two-pass formula `StandardScaler`
    /// uses, about `μ` instead of the mean, as accurate while `μ` is close
    /// to the mean.
    #[allow(clippy::too_many_arguments)]
    fn fit_moments(
        &self,
        x: &dyn Rows,
        train: Train<'_>,
        y: Targets<'_>,
        shift: &Shift,
        gram: Gram,
        cross: Cross,
        extremes: Option<(Array1<f64>, Array1<f64>)>,
    ) -> Result<FittedRidge> {
        let (n, d, t) = (train.len(), x.ncols(), shift.y.len());
        assert_eq!(gram.n, n, "Gram sums of other rows");
        let nf = n as f64;
        let mean = &shift.x + &(&gram.s / nf);
        let y_mean = &shift.y + &(&cross.ys / nf);
        // Xcᵀ y_c = Σ (x − μ)(y − ν)ᵀ − S Yᵀ/n, with Y = Σ (y − ν).
        let mut xty = cross.c;
        for j in 0..d {
            for k in 0..t {
                xty[(j, k)] -= gram.s[j] * cross.ys[k] / nf;
            }
        }
        let mut g = gram.centred_lower();
        let var = Array1::from_shape_fn(d, |j| g[(j, j)] / nf);
        let scale = self.scale.scales(n, &mean, &var);
        // Standardise: S⁻¹ G S⁻¹ and S⁻¹ Xcᵀ y_c.
        for j in 0..d {
            for i in j..d {
                g[(i, j)] /= scale[i] * scale[j];
            }
        }
        linalg::mirror_lower(&mut g);
        xty /= &scale.view().insert_axis(Axis(1));
        let (lam, v) = linalg::sym_eigen(g.view())?;
        drop(g);
        let spectrum = lam.mapv(|l| l.max(0.0));
        let p = linalg::matmul_tn(v.view(), xty.view()); // d × t

        // Leave-one-out residuals of every alpha and target.
        let mut best_alpha = vec![self.alphas[0]; t];
        if self.alphas.len() > 1 {
            let (w_all, wp_all) = weight_matrices(&self.alphas, p.view(), |alpha| {
                spectrum.mapv(|l| 1.0 / (l + alpha))
            });
            let mut sse = Array2::<f64>::zeros((self.alphas.len(), t));
            let rows = PRODUCT_ROWS.min(n);
            let (mut buf, mut a_buf) = (Array2::zeros((rows, d)), Array2::zeros((rows, d)));
            train.chunks(PRODUCT_ROWS, |start, chunk| {
                let mut b = buf.slice_mut(s![..chunk.len(), ..]);
                fill_blocks(x, chunk, b.view_mut());
                standardise_in_place(b.view_mut(), &mean, &scale);
                let mut a = a_buf.slice_mut(s![..chunk.len(), ..]);
                linalg::matmul_into(a.view_mut(), b.view(), v.view(), false);
                let yc = y.block(start, chunk) - y_mean.view().insert_axis(Axis(0));
                add_loo_sse(
                    &mut sse,
                    yc.view(),
                    a.view(),
                    b.view_mut(),
                    &w_all,
                    &wp_all,
                    nf,
                );
            });
            best_alpha = best_alphas(&self.alphas, &sse, nf);
        }

        let mut coef = Array2::<f64>::zeros((d, t));
        for (target, &alpha) in best_alpha.iter().enumerate() {
            let inv = spectrum.mapv(|l| 1.0 / (l + alpha));
            coef.column_mut(target)
                .assign(&v.dot(&(&p.column(target) * &inv)));
        }
        let clip = extremes.map(|(lo, hi)| ClipBounds::from_raw_extremes(&lo, &hi, &mean, &scale));
        Ok(FittedRidge {
            mean,
            scale,
            coef,
            y_mean,
            alpha: best_alpha,
            clip,
        })
    }

    /// Cross-validation from every fold's sums ([`FoldGrams`], computed here
    /// unless the caller has them): a training fold's Gram sums are the
    /// other folds', so the rows are multiplied into a Gram matrix once for
    /// all folds, and each fold needs only its eigendecomposition and its
    /// leave-one-out pass. Used when every training fold has more rows than
    /// columns (the primal form).
    fn fit_folds_shared(
        &self,
        x: &dyn Rows,
        y: FoldTargets<'_>,
        folds: &Folds,
        grams: Option<&FoldGrams<'_>>,
        fold_done: &FoldSink<'_>,
    ) -> Result<()> {
        let computed;
        let fg = match grams.filter(|g| g.of(folds)) {
            Some(g) => g,
            None => {
                computed = FoldGrams::compute(x, folds);
                &computed
            }
        };
        let shift_of = |y: ArrayView2<'_, f64>| Shift {
            x: fg.mu.clone(),
            y: y.mean_axis(Axis(0)).expect("n ≥ 2"),
        };
        // The same targets on every fold: each fold's cross-products once,
        // a training fold's the sum of the others'. Targets that differ by
        // fold: each training fold's own, in its task.
        let shared = match y {
            FoldTargets::Same(y) => {
                let shift = shift_of(y);
                let crosses: Vec<Cross> = (0..folds.k)
                    .into_par_iter()
                    .map(|f| Cross::of(x, &folds.test(f), Targets::ByRow(y), &shift))
                    .collect();
                Some((shift, crosses))
            }
            FoldTargets::PerFold(_) => None,
        };
        let clip = self.scale.clips();
        // A fold's rows are listed in its own task: with many rows, the
        // index lists of every fold at once would outweigh everything else.
        (0..folds.k).into_par_iter().try_for_each(|f| {
            let test = folds.test(f);
            let others = || (0..folds.k).filter(move |&g| g != f);
            let yf = y.of(f);
            let own;
            let (shift, cross) = match &shared {
                Some((shift, crosses)) => (shift, Cross::sum(others().map(|g| &crosses[g]))),
                None => {
                    own = shift_of(yf);
                    let parts: Vec<Cross> = others()
                        .map(|g| Cross::of(x, &folds.test(g), Targets::ByRow(yf), &own))
                        .collect();
                    (&own, Cross::sum(parts.iter()))
                }
            };
            let extremes = clip.then(|| {
                let d = x.ncols();
                let mut lo = Array1::from_elem(d, f64::INFINITY);
                let mut hi = Array1::from_elem(d, f64::NEG_INFINITY);
                for g in others() {
                    Zip::from(&mut lo)
                        .and(&mut hi)
                        .and(&fg.sums[g].lo)
                        .and(&fg.sums[g].hi)
                        .for_each(|lo, hi, &l, &h| {
                            *lo = lo.min(l);
                            *hi = hi.max(h);
                        });
                }
                (lo, hi)
            });
            let train = Train::AllBut {
                folds,
                fold: f,
                rows: x.nrows() - test.len(),
            };
            let fitted = self.fit_moments(
                x,
                train,
                Targets::ByRow(yf),
                shift,
                fg.training(f),
                cross,
                extremes,
            )?;
            let p = FoldPrediction {
                pred: fitted.predict_rows(x, &test),
                alpha: Some(fitted.alpha),
            };
            fold_done(f, p);
            Ok(())
        })
    }

    /// The dual (`n ≤ d`) fit on training rows held in memory: one
    /// eigendecomposition of the `n × n` kernel `X Xᵀ = U diag(s) Uᵀ`.
    fn fit_kernel(&self, x: ArrayView2<'_, f64>, y: ArrayView2<'_, f64>) -> Result<FittedRidge> {
        let (n, d) = x.dim();
        let t = y.ncols();
        let (mean, scale) = standardisation(x, self.scale);
        let xs = standardised(x, &mean, &scale);
        let y_mean = y.mean_axis(Axis(0)).expect("n ≥ 2");
        let yc = &y - &y_mean.view().insert_axis(Axis(0));
        let (s, u) = linalg::sym_eigen(linalg::gram(xs.t()).view())?;
        let spectrum = s.mapv(|l| l.max(0.0));
        let p = linalg::matmul_tn(u.view(), yc.view()); // n × t

        let mut best_alpha = vec![self.alphas[0]; t];
        if self.alphas.len() > 1 {
            let (w_all, wp_all) = weight_matrices(&self.alphas, p.view(), |alpha| {
                spectrum.mapv(|s| s / (s + alpha))
            });
            let mut sse = Array2::<f64>::zeros((self.alphas.len(), t));
            let mut scratch = Array2::<f64>::zeros(u.raw_dim());
            add_loo_sse(
                &mut sse,
                yc.view(),
                u.view(),
                scratch.view_mut(),
                &w_all,
                &wp_all,
                n as f64,
            );
            best_alpha = best_alphas(&self.alphas, &sse, n as f64);
        }

        let mut coef = Array2::<f64>::zeros((d, t));
        for (target, &alpha) in best_alpha.iter().enumerate() {
            let inv = spectrum.mapv(|s| 1.0 / (s + alpha));
            coef.column_mut(target)
                .assign(&xs.t().dot(&u.dot(&(&p.column(target) * &inv))));
        }
        let clip = self.scale.clips().then(|| {
            let mut b = ClipBounds::empty(d);
            b.extend(xs.view());
            b
        });
        Ok(FittedRidge {
            mean,
            scale,
            coef,
            y_mean,
            alpha: best_alpha,
            clip,
        })
    }
}

/// The training rows of a fit: a list, or (in cross-validation) every row
/// outside one fold, listed a chunk at a time (with millions of rows the
/// whole list would weigh).
#[derive(Clone, Copy)]
enum Train<'a> {
    List(&'a [usize]),
    AllBut {
        folds: &'a Folds,
        fold: usize,
        rows: usize,
    },
}

impl Train<'_> {
    fn len(&self) -> usize {
        match self {
            Train::List(rows) => rows.len(),
            Train::AllBut { rows, .. } => *rows,
        }
    }

    /// `f(position, rows)` for consecutive chunks of at most `size` rows,
    /// in order.
    fn chunks(&self, size: usize, mut f: impl FnMut(usize, &[usize])) {
        match self {
            Train::List(rows) => {
                for (k, chunk) in rows.chunks(size).enumerate() {
                    f(k * size, chunk);
                }
            }
            Train::AllBut { folds, fold, .. } => {
                let (mut chunk, mut start) = (Vec::with_capacity(size), 0);
                for (i, &a) in folds.assignment.iter().enumerate() {
                    if a != *fold {
                        chunk.push(i);
                        if chunk.len() == size {
                            f(start, &chunk);
                            start += size;
                            chunk.clear();
                        }
                    }
                }
                if !chunk.is_empty() {
                    f(start, &chunk);
                }
            }
        }
    }
}

/// The targets of the training rows: in the order of the training rows,
/// or indexed by row of the representation.
#[derive(Clone, Copy)]
enum Targets<'a> {
    InOrder(ArrayView2<'a, f64>),
    ByRow(ArrayView2<'a, f64>),
}

impl Targets<'_> {
    /// The targets of `rows`, the training rows from position `start` on.
    fn block(&self, start: usize, rows: &[usize]) -> Array2<f64> {
        match self {
            Targets::InOrder(y) => y.slice(s![start..start + rows.len(), ..]).to_owned(),
            Targets::ByRow(y) => y.select(Axis(0), rows),
        }
    }
}

/// The shift the sums are taken about: a representation's mean and the
/// targets' (over the training rows, or over every row when the folds
/// share their sums).
struct Shift {
    x: Array1<f64>,
    y: Array1<f64>,
}

/// The cross-products of a set of rows with their targets about a
/// [`Shift`] `(μ, ν)`: `Σ (x − μ)(y − ν)ᵀ` and `Σ (y − ν)`. Sums of
/// disjoint sets add.
struct Cross {
    c: Array2<f64>,
    ys: Array1<f64>,
}

impl Cross {
    /// The cross-products of the rows `rows` of `x` (`y`: their targets,
    /// in that order), streamed in blocks.
    fn of(x: &dyn Rows, rows: &[usize], y: Targets<'_>, shift: &Shift) -> Cross {
        let (d, t) = (x.ncols(), shift.y.len());
        let mut out = Cross {
            c: Array2::zeros((d, t)),
            ys: Array1::zeros(t),
        };
        let mut buf = Array2::<f64>::zeros((BLOCK.min(rows.len()).max(1), d));
        for (k, chunk) in rows.chunks(BLOCK).enumerate() {
            let yc = y.block(k * BLOCK, chunk) - shift.y.view().insert_axis(Axis(0));
            for row in yc.rows() {
                out.ys += &row;
            }
            let mut b = buf.slice_mut(s![..chunk.len(), ..]);
            x.fill(chunk, b.view_mut());
            b -= &shift.x.view().insert_axis(Axis(0));
            linalg::matmul_into(out.c.view_mut(), b.t(), yc.view(), true);
        }
        out
    }

    /// The cross-products of the union of disjoint sets, added in order.
    fn sum<'a>(mut parts: impl Iterator<Item = &'a Cross>) -> Cross {
        let first = parts.next().expect("at least one part");
        let mut out = Cross {
            c: first.c.clone(),
            ys: first.ys.clone(),
        };
        for p in parts {
            out.c += &p.c;
            out.ys += &p.ys;
        }
        out
    }
}

/// The weights `w(α)` of every alpha as columns (`m × na`), and `w(α) ∘ p_t`
/// for every (alpha, target) pair (`m × na·t`, alpha-major), so that every
/// alpha's leverages and fitted values come from two products.
fn weight_matrices(
    alphas: &[f64],
    p: ArrayView2<'_, f64>,
    weights: impl Fn(f64) -> Array1<f64>,
) -> (Array2<f64>, Array2<f64>) {
    let (m, t) = p.dim();
    let mut w_all = Array2::<f64>::zeros((m, alphas.len()).f());
    let mut wp_all = Array2::<f64>::zeros((m, alphas.len() * t).f());
    for (k, &alpha) in alphas.iter().enumerate() {
        let w = weights(alpha);
        for target in 0..t {
            Zip::from(wp_all.column_mut(k * t + target))
                .and(&w)
                .and(p.column(target))
                .for_each(|o, &wv, &pv| *o = wv * pv);
        }
        w_all.column_mut(k).assign(&w);
    }
    (w_all, wp_all)
}

/// Add the squared leave-one-out residuals of a block of rows to `sse`
/// (`na × t`): with `A` the rows' coordinates in the eigenbasis, leverage
/// `h = 1/n + (A∘A) w` and fitted `ŷ = A (w ∘ p)`, the residual is
/// `(y_c − ŷ) / (1 − h)`. `scratch` (the shape of `a`) is overwritten.
fn add_loo_sse(
    sse: &mut Array2<f64>,
    yc: ArrayView2<'_, f64>,
    a: ArrayView2<'_, f64>,
    mut scratch: ndarray::ArrayViewMut2<'_, f64>,
    w_all: &Array2<f64>,
    wp_all: &Array2<f64>,
    n: f64,
) {
    let (na, t) = sse.dim();
    Zip::from(&mut scratch).and(&a).for_each(|s, &v| *s = v * v);
    let lev = linalg::matmul(scratch.view(), w_all.view()); // rows × na
    let fitted = linalg::matmul(a, wp_all.view()); // rows × (na·t)
    for k in 0..na {
        for target in 0..t {
            let mut acc = sse[(k, target)];
            Zip::from(yc.column(target))
                .and(fitted.column(k * t + target))
                .and(lev.column(k))
                .for_each(|&yv, &f, &hv| {
                    let e = (yv - f) / (1.0 - (hv + 1.0 / n));
                    acc += e * e;
                });
            sse[(k, target)] = acc;
        }
    }
}

/// Per target, the alpha with the smallest mean squared leave-one-out error
/// over `n` rows; strictly smaller only, so ties keep the earlier alpha
/// (scikit-learn).
fn best_alphas(alphas: &[f64], sse: &Array2<f64>, n: f64) -> Vec<f64> {
    sse.columns()
        .into_iter()
        .map(|col| {
            let mut best = (f64::INFINITY, alphas[0]);
            for (&e, &alpha) in col.iter().zip(alphas) {
                let mse = e / n;
                if mse < best.0 {
                    best = (mse, alpha);
                }
            }
            best.1
        })
        .collect()
}

impl Probe for Ridge {
    fn fit_predict(
        &self,
        x: &dyn Rows,
        split: Split<'_>,
        y_train: ArrayView2<'_, f64>,
    ) -> Result<FoldPrediction> {
        let fitted = self.fit_rows(x, split.train, y_train)?;
        Ok(FoldPrediction {
            pred: fitted.predict_rows(x, split.test),
            alpha: Some(fitted.alpha.clone()),
        })
    }

    /// Every training fold with more rows than columns: one pass for the
    /// moments of all of them ([`Ridge::fit_folds_shared`]); otherwise
    /// each fold on its own.
    fn fit_predict_folds(
        &self,
        x: &dyn Rows,
        y: FoldTargets<'_>,
        folds: &Folds,
        grams: Option<&FoldGrams<'_>>,
        fold_done: &FoldSink<'_>,
    ) -> Result<()> {
        let sizes = folds.sizes();
        let primal = sizes
            .iter()
            .all(|&test| x.nrows() - test > x.ncols() && x.nrows() - test >= 2);
        if primal {
            self.fit_folds_shared(x, y, folds, grams, fold_done)
        } else {
            each_fold(self, x, y, folds, fold_done)
        }
    }
}

/// A fitted ridge model (all targets).
#[derive(Debug, Clone)]
pub struct FittedRidge {
    /// Training means of the features.
    pub mean: Array1<f64>,
    /// Training scales ([`Scale::scales`]).
    pub scale: Array1<f64>,
    /// `d × t` coefficients on the standardised features.
    pub coef: Array2<f64>,
    /// Training means of the targets (the intercepts).
    pub y_mean: Array1<f64>,
    /// Alpha used per target.
    pub alpha: Vec<f64>,
    /// Under a clipping [`Scale`], the training fold's scaled range that
    /// predicted rows are clamped to.
    pub clip: Option<ClipBounds>,
}

impl FittedRidge {
    /// Predict all targets for `x` (`n × d` in original units).
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let all: Vec<usize> = (0..x.nrows()).collect();
        self.predict_rows(&Dense(x), &all)
    }

    /// Predict all targets for the rows `rows` of `x`, streaming them.
    pub fn predict_rows(&self, x: &dyn Rows, rows: &[usize]) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((rows.len(), self.coef.ncols()));
        let mut buf = Array2::<f64>::zeros((BLOCK.min(rows.len()), x.ncols()));
        for (k, chunk) in rows.chunks(BLOCK).enumerate() {
            let mut b = buf.slice_mut(s![..chunk.len(), ..]);
            x.fill(chunk, b.view_mut());
            standardise_in_place(b.view_mut(), &self.mean, &self.scale);
            if let Some(c) = &self.clip {
                c.clip(b.view_mut());
            }
            let p = linalg::matmul(b.view(), self.coef.view());
            out.slice_mut(s![k * BLOCK..k * BLOCK + chunk.len(), ..])
                .assign(&p);
        }
        out += &self.y_mean.view().insert_axis(Axis(0));
        out
    }
}

/// `(x − mean) / scale`, row block in place.
fn standardise_in_place(
    mut b: ndarray::ArrayViewMut2<'_, f64>,
    mean: &Array1<f64>,
    scale: &Array1<f64>,
) {
    for mut row in b.rows_mut() {
        Zip::from(&mut row)
            .and(mean)
            .and(scale)
            .for_each(|v, &m, &s| *v = (*v - m) / s);
    }
}

/// Per-column mean and scale of the rows of `x` under `rule`
/// ([`Scale::scales`]), the variance by the corrected two-pass formula
/// scikit-learn's `StandardScaler` uses (so `standard` is its scaler, bit
/// for bit).
///
/// Works column by column: fastest on column-major input, which is how cpd
/// stores representations.
pub fn standardisation(x: ArrayView2<'_, f64>, rule: Scale) -> (Array1<f64>, Array1<f64>) {
    let n = x.nrows() as f64;
    let mut mean = Array1::<f64>::zeros(x.ncols());
    let mut var = Array1::<f64>::zeros(x.ncols());
    for (j, col) in x.columns().into_iter().enumerate() {
        let m = col.sum() / n;
        let (mut corr, mut sq) = (0.0, 0.0);
        for &v in col {
            let t = v - m;
            corr += t;
            sq += t * t;
        }
        var[j] = (sq - corr * corr / n) / n;
        mean[j] = m;
    }
    let scale = rule.scales(x.nrows(), &mean, &var);
    (mean, scale)
}

/// `(x − mean) / scale` as a column-major matrix (the layout the Gram and
/// product kernels read fastest).
fn standardised(x: ArrayView2<'_, f64>, mean: &Array1<f64>, scale: &Array1<f64>) -> Array2<f64> {
    let mut xs = Array2::<f64>::zeros(x.raw_dim().f());
    for ((mut col, src), (&m, &s)) in xs
        .columns_mut()
        .into_iter()
        .zip(x.columns())
        .zip(mean.iter().zip(scale.iter()))
    {
        Zip::from(&mut col)
            .and(&src)
            .for_each(|o, &v| *o = (v - m) / s);
    }
    xs
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    fn data(n: usize, d: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
        let mut st = seed;
        let mut next = || {
            st = st
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (st >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let x = Array2::from_shape_fn((n, d), |(_, j)| next() * (j + 1) as f64 + j as f64);
        let y = Array2::from_shape_fn((n, 2), |(i, t)| {
            (t as f64 + 1.0) * x[(i, 0)] - x[(i, d - 1)] * 0.3 + next()
        });
        (x, y)
    }

    /// Ridge weights for centred features `xc` and centred target `y − ym`:
    /// `(XcᵀXc + αI) w = Xcᵀ(y − ym)` by Gaussian elimination (SPD system).
    fn normal_equations(xc: &Array2<f64>, y: &[f64], ym: f64, alpha: f64) -> Vec<f64> {
        let d = xc.ncols();
        let mut a = xc.t().dot(xc) + Array2::<f64>::eye(d) * alpha;
        let mut b: Vec<f64> = (0..d)
            .map(|j| xc.column(j).iter().zip(y).map(|(u, v)| u * (v - ym)).sum())
            .collect();
        for k in 0..d {
            for i in (k + 1)..d {
                let f = a[(i, k)] / a[(k, k)];
                for j in k..d {
                    a[(i, j)] -= f * a[(k, j)];
                }
                b[i] -= f * b[k];
            }
        }
        let mut w = vec![0.0; d];
        for k in (0..d).rev() {
            let s: f64 = ((k + 1)..d).map(|j| a[(k, j)] * w[j]).sum();
            w[k] = (b[k] - s) / a[(k, k)];
        }
        w
    }

    /// Reference: solve the normal equations of the standardised problem.
    fn naive_fit_predict(x: &Array2<f64>, y: &[f64], alpha: f64, xq: &Array2<f64>) -> Vec<f64> {
        let (mean, scale) = standardisation(x.view(), Scale::Standard);
        let xs = (x - &mean.view().insert_axis(Axis(0))) / scale.view().insert_axis(Axis(0));
        let ym = y.iter().sum::<f64>() / y.len() as f64;
        let w = normal_equations(&xs, y, ym, alpha);
        let xqs = (xq - &mean.view().insert_axis(Axis(0))) / scale.view().insert_axis(Axis(0));
        xqs.rows()
            .into_iter()
            .map(|r| ym + r.iter().zip(&w).map(|(u, v)| u * v).sum::<f64>())
            .collect()
    }

    #[test]
    fn fixed_alpha_matches_the_normal_equations_in_both_regimes() {
        for &(n, d) in &[(40, 5), (12, 30)] {
            let (x, y) = data(n, d, (n * d) as u64);
            let model = RidgeParams::fixed(0.7)
                .check()
                .unwrap()
                .fit(x.view(), y.view())
                .unwrap();
            let pred = model.predict(x.view());
            for t in 0..2 {
                let yt: Vec<f64> = y.column(t).to_vec();
                let naive = naive_fit_predict(&x, &yt, 0.7, &x);
                for i in 0..n {
                    assert!((pred[(i, t)] - naive[i]).abs() < 1e-9, "n={n} d={d}");
                }
            }
        }
    }

    #[test]
    fn leave_one_out_choice_matches_brute_force_refits() {
        for &(n, d) in &[(30, 4), (10, 25)] {
            let (x, y) = data(n, d, 3 + n as u64);
            let alphas = default_alphas();
            let model = RidgeParams::grid(alphas.clone())
                .check()
                .unwrap()
                .fit(x.view(), y.view())
                .unwrap();
            for t in 0..2 {
                // The fast rule equals explicit leave-one-out only when each refit
                // re-standardises with the full-fold statistics, so hold them fixed.
                let (mean, scale) = standardisation(x.view(), Scale::Standard);
                let xs =
                    (&x - &mean.view().insert_axis(Axis(0))) / scale.view().insert_axis(Axis(0));
                let mut best = (f64::INFINITY, 0.0);
                for &alpha in &alphas {
                    let mut sse = 0.0;
                    for i in 0..n {
                        let keep: Vec<usize> = (0..n).filter(|&r| r != i).collect();
                        let xtr = xs.select(Axis(0), &keep);
                        let ytr: Vec<f64> = keep.iter().map(|&r| y[(r, t)]).collect();
                        let pred = naive_fit_unscaled(
                            &xtr,
                            &ytr,
                            alpha,
                            &xs.slice(s![i..i + 1, ..]).to_owned(),
                        );
                        sse += (y[(i, t)] - pred).powi(2);
                    }
                    if sse / (n as f64) < best.0 {
                        best = (sse / n as f64, alpha);
                    }
                }
                assert_eq!(model.alpha[t], best.1, "n={n} d={d} target {t}");
            }
        }
    }

    /// Ridge with intercept on already-scaled features (no re-standardisation).
    fn naive_fit_unscaled(x: &Array2<f64>, y: &[f64], alpha: f64, xq: &Array2<f64>) -> f64 {
        let n = x.nrows();
        let d = x.ncols();
        let xm = x.mean_axis(Axis(0)).unwrap();
        let ym = y.iter().sum::<f64>() / n as f64;
        let xc = x - &xm.view().insert_axis(Axis(0));
        let w = normal_equations(&xc, y, ym, alpha);
        ym + (0..d).map(|j| (xq[(0, j)] - xm[j]) * w[j]).sum::<f64>()
    }

    #[test]
    fn constant_columns_standardise_to_zero_and_do_not_change_predictions() {
        let (x, y) = data(25, 3, 9);
        let mut xc = Array2::zeros((25, 4));
        xc.slice_mut(s![.., ..3]).assign(&x);
        xc.column_mut(3).fill(4.2);
        let (_, scale) = standardisation(xc.view(), Scale::Standard);
        assert_eq!(scale[3], 1.0);
        let r = RidgeParams::fixed(1.0).check().unwrap();
        let a = r.fit(x.view(), y.view()).unwrap().predict(x.view());
        let b = r.fit(xc.view(), y.view()).unwrap().predict(xc.view());
        assert!(a.iter().zip(b.iter()).all(|(u, v)| (u - v).abs() < 1e-10));
    }

    #[test]
    fn clip_moves_only_rows_outside_the_training_box_in_both_regimes() {
        for &(n, d) in &[(40, 5), (12, 30)] {
            let (x, y) = data(n, d, 11 + n as u64);
            let standard = RidgeParams::default().check().unwrap();
            let clip = standard.clone().with_scale(Scale::Clip);
            let (fs, fc) = (
                standard.fit(x.view(), y.view()).unwrap(),
                clip.fit(x.view(), y.view()).unwrap(),
            );
            assert_eq!(fs.coef, fc.coef, "the fit does not depend on the scaling");
            assert_eq!(fs.alpha, fc.alpha);
            // Training rows are inside the box: identical predictions.
            assert_eq!(fs.predict(x.view()), fc.predict(x.view()));
            // A row far outside: clip equals predicting the row clamped to
            // the training extremes by hand.
            let mut far = x.slice(s![0..1, ..]).to_owned();
            far[(0, 0)] = 1e6;
            far[(0, d - 1)] = -1e6;
            let mut by_hand = far.clone();
            for j in 0..d {
                let col = x.column(j);
                let (lo, hi) = col
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    });
                by_hand[(0, j)] = by_hand[(0, j)].clamp(lo, hi);
            }
            let got = fc.predict(far.view());
            let want = fs.predict(by_hand.view());
            for t in 0..2 {
                assert!((got[(0, t)] - want[(0, t)]).abs() < 1e-9, "n={n} d={d}");
                assert!((got[(0, t)] - fs.predict(far.view())[(0, t)]).abs() > 1.0);
            }
        }
    }

    #[test]
    fn invalid_alphas_are_rejected() {
        assert!(RidgeParams::grid(vec![]).check().is_err());
        assert!(RidgeParams::fixed(0.0).check().is_err());
        assert!(RidgeParams::fixed(f64::NAN).check().is_err());
        assert_eq!(default_alphas().len(), 13);
        assert!((default_alphas()[12] - 1000.0).abs() < 1e-9);
    }
}
