//! Stage 5: probe and score. Composition alone once; then, one embedding
//! file in memory at a time, every layer's raw and residual representation
//! (and channel groups), with the instability diagnostics of every record,
//! and the learning curves when asked for.

use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

use super::load::{channel_split, select_layers, sha256_values};
use super::shard::Units;
use super::{AnalyzeConfig, EmbeddingSpec, Progress};
use crate::analyses::curve::{learning_curve, CurveSpec};
use crate::analyses::instability::{extrapolation, is_unstable, median, Extrapolation};
use crate::analyses::isomer::Isomers;
use crate::analyses::layerstats::layer_stats;
use crate::error::{CpdError, Result};
use crate::flow::bootstrap::{interval_bc, Resamples};
use crate::flow::dataset::Dataset;
use crate::flow::folds::Folds;
use crate::flow::metrics::mean_std;
use crate::flow::moments::FoldGrams;
use crate::flow::permutation::{with_permutations, Null};
use crate::flow::projection::{residual_zero_tol, Projection};
use crate::flow::rows::{Dense, Rows, Stored};
use crate::io;
use crate::io::embeddings::{self, Layer};
use crate::probe::cv::{
    baseline, baseline_r2, cross_validate_conditional, cross_validate_with, CvScores,
};
use crate::probe::{Probe, ProbeKind};
use crate::report::{
    finite_or_none, CurveRecord, FoldDiagnostic, InputInfo, LayerStatsRecord, ResultRecord,
};

/// Everything the probing stage reads.
pub(super) struct Run<'a> {
    pub config: &'a AnalyzeConfig,
    pub probes: &'a [(ProbeKind, &'a dyn Probe)],
    /// The run's ridge (the linear start of every conditional baseline).
    pub ridge: &'a dyn Probe,
    /// The ridge alpha grid (for the alpha-at-edge flag).
    pub grid: &'a [f64],
    pub ds: &'a Dataset,
    pub folds: &'a Folds,
    pub curve: Option<&'a CurveSpec>,
    pub projection: &'a Projection,
    /// Targets, after `--residualize-target`.
    pub y: ArrayView2<'a, f64>,
    pub progress: &'a dyn Progress,
    /// Isomer groups of the held-out folds (every record's isomer accuracy).
    pub isomers: &'a Isomers,
    /// A shard's units (`None`: the whole run): only they are probed.
    pub only: Option<&'a Units<'a>>,
    /// Embeddings in memory, parallel to `config.embeddings` (read
    /// instead of their files).
    pub memory: Option<&'a [embeddings::EmbeddingFile]>,
    /// The bootstrap draws shared by every record (intervals).
    pub resamples: &'a Resamples,
    /// The run's seed (permutations, isomer intervals).
    pub seed: u64,
}

/// What the probing stage produced.
#[derive(Default)]
pub(super) struct Probed {
    /// Every record, in report order.
    pub results: Vec<ResultRecord>,
    /// Out-of-fold predictions parallel to `results` (when kept).
    pub predictions: Vec<Vec<f64>>,
    /// Learning-curve points.
    pub curves: Vec<CurveRecord>,
    /// Whether any embedding file was per atom (and so pooled).
    pub pooled: bool,
    /// Statistics of every whole layer, in probing order.
    pub layer_stats: Vec<LayerStatsRecord>,
}

impl Run<'_> {
    /// Probe `composition` (the data set's, `n × k`), then every model in
    /// order; embedding layers are recorded in `inputs` as they are probed.
    /// The composition is dropped once scored, unless learning curves need
    /// it for every layer.
    pub fn all(&self, composition: Array2<f64>, inputs: &mut Vec<InputInfo>) -> Result<Probed> {
        // A shard fits on composition only the probes its units need.
        let comp_probes: Vec<(ProbeKind, &dyn Probe)> = self
            .probes
            .iter()
            .filter(|(k, _)| self.only.is_none_or(|u| u.probe(*k)))
            .copied()
            .collect();
        self.progress.add_work(self.per_rep(comp_probes.len()));
        self.progress.stage("composition");
        let mut comp = score_all(
            &comp_probes,
            &Dense(composition.view()),
            None,
            self.y,
            self.folds,
            self.progress,
            (self.config.permutations, self.seed),
        )?;
        // The composition records repeat in every layer: their isomer
        // accuracy is computed once, and their out-of-fold predictions are
        // kept only to be written (with millions of rows they weigh).
        let mut replicates = Vec::new();
        let isomer = comp
            .scores
            .iter_mut()
            .map(|per_target| {
                let mut reps = Vec::new();
                let acc = per_target
                    .iter_mut()
                    .enumerate()
                    .map(|(t, s)| {
                        let acc = self.isomer_score(t, &s.oof);
                        reps.push(self.resamples.r2(self.y.column(t), &s.oof));
                        if !self.config.predictions {
                            s.oof = Vec::new();
                        }
                        acc
                    })
                    .collect();
                replicates.push(reps);
                acc
            })
            .collect();
        // Each probe's composition model of every fold, predicting every
        // row: the baseline of the residual's conditional R². Ridge's is
        // ridge on composition; a nonlinear probe's starts from it (the
        // probe fitted to what ridge leaves), so that composition it fits
        // poorly on its own (a tree, a linear trend) is not left for the
        // residual to supply.
        let base = if self.config.conditional {
            self.progress
                .stage("composition: baselines of the conditional R²");
            let c = Dense(composition.view());
            let linear = baseline(self.ridge, &c, self.y, self.folds, None)?;
            comp_probes
                .iter()
                .map(|(k, p)| {
                    let fits = match k {
                        ProbeKind::Ridge => linear.clone(),
                        _ => baseline(*p, &c, self.y, self.folds, Some(&linear))?,
                    };
                    let (r2, oof) = baseline_r2(self.y, &fits, self.folds);
                    let reps = oof
                        .iter()
                        .enumerate()
                        .map(|(t, o)| self.resamples.r2(self.y.column(t), o))
                        .collect();
                    Ok(Baseline { fits, r2, reps })
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let comp = CompScores {
            kinds: comp_probes.iter().map(|(k, _)| *k).collect(),
            scores: comp,
            isomer,
            replicates,
            base,
            composition: self.curve.is_some().then_some(composition),
        };
        let mut out = Probed::default();
        for (i, spec) in self.config.embeddings.iter().enumerate() {
            if self.only.is_some_and(|u| !u.model(&spec.model)) {
                continue;
            }
            self.model(spec, self.memory.map(|m| &m[i]), &comp, inputs, &mut out)?;
        }
        Ok(out)
    }

    /// Isomer accuracy, pairs and interval of out-of-fold predictions
    /// `oof` of target `t`.
    fn isomer_score(&self, t: usize, oof: &[f64]) -> IsomerScore {
        isomer_score(
            self.isomers,
            self.y.column(t),
            oof,
            self.resamples,
            self.seed,
        )
    }

    /// Units of progress per representation: every probe on every fold.
    fn per_rep(&self, probes: usize) -> u64 {
        (probes * self.folds.k) as u64
    }

    /// Probe fits per fold on each layer: raw, geom and, with the
    /// conditional R², the residual fitted beyond composition.
    fn representations(&self) -> u64 {
        2 + u64::from(self.config.conditional)
    }

    /// The probes run on `model`/`layer`: all, or a shard's.
    fn layer_probes(&self, model: &str, layer: &str) -> Vec<(ProbeKind, &dyn Probe)> {
        self.probes
            .iter()
            .filter(|(k, _)| self.only.is_none_or(|u| u.holds(model, layer, *k)))
            .copied()
            .collect()
    }

    /// Load one model's file, align it, and probe its layers.
    fn model(
        &self,
        spec: &EmbeddingSpec,
        memory: Option<&embeddings::EmbeddingFile>,
        comp: &CompScores,
        inputs: &mut Vec<InputInfo>,
        out: &mut Probed,
    ) -> Result<()> {
        if let Some(names) = &spec.channel_layers {
            if spec.channels.is_none() {
                return Err(CpdError::Invalid(format!(
                    "model '{}': channel layers {names:?} given without the setting `irreps` or `channels`",
                    spec.model
                )));
            }
        }
        let (file, files) = match memory {
            Some(m) => {
                self.progress.stage(&format!("{}: in memory", spec.model));
                embeddings::check(m)?;
                (m.clone(), Vec::new()) // shared layers are not copied
            }
            None => {
                self.progress.stage(&format!(
                    "{}: opening {} file(s)",
                    spec.model,
                    spec.paths.len()
                ));
                embeddings::open(&spec.paths, self.config.pool)?
            }
        };
        let file = select_layers(file, spec.layers.as_deref())?;
        let atoms = file.atoms;
        out.pooled |= atoms.is_some();
        let shas = files
            .iter()
            .map(|(p, _)| io::sha256_file(p))
            .collect::<Result<Vec<_>>>()?;
        let path = file.path.clone();
        let layers = self.ds.align_embedding(file)?;
        for name in spec.channel_layers.iter().flatten() {
            if !layers.iter().any(|l| &l.name == name) {
                let have: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
                return Err(CpdError::format(
                    &path,
                    format!(
                        "channel layer '{name}' is not among the layers probed ({})",
                        have.join(", ")
                    ),
                ));
            }
        }
        let probed: u64 = layers
            .iter()
            .map(|l| self.per_rep(self.layer_probes(&spec.model, &l.name).len()))
            .sum();
        self.progress.add_work(self.representations() * probed);
        for layer in &layers {
            if self.layer_probes(&spec.model, &layer.name).is_empty() {
                continue; // another shard's
            }
            let info = |path: String, sha256: String, rows: usize| InputInfo {
                role: "embeddings".into(),
                path,
                sha256,
                rows,
                cols: layer.data.ncols(),
                model: Some(spec.model.clone()),
                layer: Some(layer.name.clone()),
                dtype: Some(layer.dtype().into()),
                atoms,
            };
            if memory.is_some() {
                inputs.push(info(
                    path.display().to_string(),
                    sha256_values(&layer.data),
                    layer.data.nrows(),
                ));
            }
            // One input per file of the layer (a sharded layer has several).
            for ((file, rows), sha) in files.iter().zip(&shas) {
                inputs.push(info(file.display().to_string(), sha.clone(), *rows));
            }
            // A read's fault explains whatever else went wrong with it.
            let done = self.layer(spec, &path, layer, comp, out);
            layer.data.fault()?;
            done?;
        }
        Ok(())
    }

    /// Probe one layer: the whole layer, its learning curves, then its
    /// channel groups.
    fn layer(
        &self,
        spec: &EmbeddingSpec,
        path: &std::path::Path,
        layer: &Layer,
        comp: &CompScores,
        out: &mut Probed,
    ) -> Result<()> {
        let probes = self.layer_probes(&spec.model, &layer.name);
        let comp_pos = probes
            .iter()
            .map(|(k, _)| comp.kinds.iter().position(|c| c == k).expect("fitted"))
            .collect();
        let ctx = LayerCtx {
            model: &spec.model,
            layer: &layer.name,
            probes: &probes,
            comp_pos,
            projection: self.projection,
            y: self.y,
            folds: self.folds,
            targets: &self.ds.target_names,
            comp_scores: &comp.scores,
            comp_isomer: &comp.isomer,
            comp_replicates: &comp.replicates,
            base: &comp.base,
            n: self.ds.n(),
            zero_tol: residual_zero_tol(layer.dtype()),
            progress: self.progress,
            ids: &self.ds.ids,
            grid: self.grid,
            keep_predictions: self.config.predictions,
            isomers: self.isomers,
            resamples: self.resamples,
            permutations: self.config.permutations,
            seed: self.seed,
        };
        // Channel groups are checked before any work on the layer.
        let split = channel_split(spec, path, layer)?;
        // The layer stays in memory once, in its on-disk type, or on disk
        // (read in row blocks at every pass); probes read rows of it, and
        // of its residual, as they need them.
        let raw = Stored(&layer.data);
        let place = if layer.data.is_on_disk() {
            "from disk"
        } else {
            "in memory"
        };
        let what = format!("{}/{}", spec.model, layer.name);
        self.progress
            .stage(&format!("{what}: projecting (2 passes, {place})"));
        let geom = self.projection.residual_rows(&raw, ctx.zero_tol);
        self.progress.stage(&format!(
            "{what}: probing raw, geom and geom given composition, {} folds ({place})",
            self.folds.k
        ));
        // A layer's statistics come from the shard that holds its first
        // probe (in a whole run: always). They and ridge read the per-fold
        // Gram sums of raw and geom: one Gram pass over the layer for both.
        let stats = self
            .only
            .is_none_or(|u| u.holds(&spec.model, &layer.name, self.probes[0].0));
        let ridge = probes.iter().any(|(k, _)| *k == ProbeKind::Ridge);
        let grams = (stats || ridge).then(|| {
            rayon::join(
                || FoldGrams::compute(&raw, self.folds),
                || FoldGrams::compute(&geom, self.folds),
            )
        });
        if let (true, Some((r, g))) = (stats, &grams) {
            out.layer_stats
                .push(layer_stats(&spec.model, &layer.name, r.all(), g.all()));
        }
        let (recs, preds) = ctx.probe_pair(&raw, &geom, grams.as_ref(), None)?;
        out.results.extend(recs);
        out.predictions.extend(preds);
        if let Some(c) = self.curve {
            let composition = comp.composition.as_ref().expect("kept for learning curves");
            let reps: [(&str, &dyn Rows); 3] = [
                ("composition", &Dense(composition.view())),
                ("raw", &raw),
                ("geom", &geom),
            ];
            out.curves
                .extend(self.curves(&spec.model, &layer.name, &probes, c, reps)?);
        }
        if let Some(ch) = split {
            // Channel features are column subsets: read the layer whole.
            let loaded;
            let data = if layer.data.is_on_disk() {
                self.progress
                    .stage(&format!("{what}: loading for channel groups"));
                loaded = layer.data.in_memory();
                &loaded
            } else {
                &layer.data
            };
            for group in &ch.groups {
                self.progress
                    .stage(&format!("{what}: channel group {}", group.name));
                let features = ch.features(group, data);
                self.progress
                    .add_work(self.representations() * self.per_rep(probes.len()));
                let (recs, preds) = ctx.probe(&Dense(features.view()), Some(&group.name))?;
                out.results.extend(recs);
                out.predictions.extend(preds);
            }
        }
        Ok(())
    }

    /// Learning curves of every probe on the representations `reps`
    /// (composition, raw and residual, by name).
    fn curves(
        &self,
        model: &str,
        layer: &str,
        probes: &[(ProbeKind, &dyn Probe)],
        c: &CurveSpec,
        reps: [(&str, &dyn Rows); 3],
    ) -> Result<Vec<CurveRecord>> {
        let mut curves = Vec::new();
        for (rep, x) in reps {
            for (kind, p) in probes {
                let points = learning_curve(*p, x, self.y, self.folds, c)?;
                for (t, target) in self.ds.target_names.iter().enumerate() {
                    curves.extend(points[t].iter().map(|pt| CurveRecord {
                        model: model.into(),
                        layer: layer.into(),
                        target: target.clone(),
                        representation: rep.into(),
                        probe: kind.name().into(),
                        n_train: pt.n_train,
                        repeats: c.repeats,
                        r2_mean: finite_or_none(pt.r2_mean),
                        r2_std: finite_or_none(pt.r2_std),
                    }));
                }
            }
        }
        Ok(curves)
    }
}

/// What one layer (or channel group) needs to be probed.
struct LayerCtx<'a> {
    model: &'a str,
    layer: &'a str,
    probes: &'a [(ProbeKind, &'a dyn Probe)],
    /// Where each of `probes` sits in `comp_scores`.
    comp_pos: Vec<usize>,
    projection: &'a Projection,
    y: ArrayView2<'a, f64>,
    folds: &'a Folds,
    targets: &'a [String],
    comp_scores: &'a RepScores,
    /// Isomer accuracy and pairs of `comp_scores` (probe, then target).
    comp_isomer: &'a [Vec<IsomerScore>],
    /// Bootstrap replicates of `comp_scores` (probe, then target).
    comp_replicates: &'a [Vec<Vec<f64>>],
    /// The conditional R²'s composition baseline of every probe (in the
    /// order of `comp_scores`).
    base: &'a [Baseline],
    n: usize,
    zero_tol: f64,
    progress: &'a dyn Progress,
    ids: &'a crate::io::ids::Ids,
    grid: &'a [f64],
    keep_predictions: bool,
    isomers: &'a Isomers,
    resamples: &'a Resamples,
    permutations: usize,
    seed: u64,
}

/// Records of one layer (or channel group) and, when kept, their
/// out-of-fold predictions.
type LayerRecords = (Vec<ResultRecord>, Vec<Vec<f64>>);

impl LayerCtx<'_> {
    /// Every probe on `raw` and its residual; records for every target,
    /// probe and representation (composition, raw, geom).
    fn probe(&self, raw: &dyn Rows, channels: Option<&str>) -> Result<LayerRecords> {
        let geom = self.projection.residual_rows(raw, self.zero_tol);
        self.probe_pair(raw, &geom, None, channels)
    }

    /// [`LayerCtx::probe`] with the residual already built (and, when
    /// computed, the per-fold Gram sums of raw and geom).
    fn probe_pair(
        &self,
        raw: &dyn Rows,
        geom: &dyn Rows,
        grams: Option<&(FoldGrams<'_>, FoldGrams<'_>)>,
        channels: Option<&str>,
    ) -> Result<LayerRecords> {
        let (raw_g, geom_g) = (grams.map(|g| &g.0), grams.map(|g| &g.1));
        let conditional = || {
            if self.base.is_empty() {
                return Ok(Vec::new()); // no conditional R² in this run
            }
            self.probes
                .iter()
                .zip(&self.comp_pos)
                .map(|((_, p), &i)| {
                    cross_validate_conditional(
                        *p,
                        geom,
                        self.y,
                        &self.base[i].fits,
                        self.folds,
                        geom_g,
                        &|| self.progress.done(),
                    )
                })
                .collect::<Result<Vec<Vec<CvScores>>>>()
        };
        let ((raw_scores, geom_scores), cond_scores) = rayon::join(
            || {
                rayon::join(
                    || {
                        let null = (self.permutations, self.seed);
                        score_all(
                            self.probes,
                            raw,
                            raw_g,
                            self.y,
                            self.folds,
                            self.progress,
                            null,
                        )
                    },
                    || {
                        let null = (self.permutations, self.seed);
                        score_all(
                            self.probes,
                            geom,
                            geom_g,
                            self.y,
                            self.folds,
                            self.progress,
                            null,
                        )
                    },
                )
            },
            conditional,
        );
        let (raw_scores, geom_scores, cond_scores) = (raw_scores?, geom_scores?, cond_scores?);
        // The conditional R² of every probe (outer) and target (inner): per
        // fold, and the replicates (paired with the baseline's).
        let cond: Vec<Vec<(Vec<f64>, Vec<f64>)>> = cond_scores
            .par_iter()
            .zip(&self.comp_pos)
            .map(|(per_target, &i)| {
                per_target
                    .par_iter()
                    .enumerate()
                    .map(|(t, s)| {
                        let base = &self.base[i];
                        let folds = s.r2_folds.iter().zip(&base.r2[t]).map(|(j, b)| j - b);
                        let reps = self.resamples.r2(self.y.column(t), &s.oof);
                        let reps = reps.iter().zip(&base.reps[t]).map(|(j, b)| j - b);
                        (folds.collect(), reps.collect())
                    })
                    .collect()
            })
            .collect();
        // Intervals of every record, computed in parallel: (isomer score,
        // replicates) per representation (raw, geom), probe and target.
        let intervals = |scores: &RepScores| -> Vec<Vec<(IsomerScore, Vec<f64>)>> {
            scores
                .scores
                .par_iter()
                .map(|per_target| {
                    per_target
                        .par_iter()
                        .enumerate()
                        .map(|(t, s)| {
                            let y = self.y.column(t);
                            (
                                isomer_score(self.isomers, y, &s.oof, self.resamples, self.seed),
                                self.resamples.r2(y, &s.oof),
                            )
                        })
                        .collect()
                })
                .collect()
        };
        let (raw_iv, geom_iv) = rayon::join(|| intervals(&raw_scores), || intervals(&geom_scores));
        let mut out = Vec::new();
        let mut preds = Vec::new();
        for (t, target) in self.targets.iter().enumerate() {
            for (p, (kind, _)) in self.probes.iter().enumerate() {
                for (rep, scores) in [
                    ("composition", self.comp_scores),
                    ("raw", &raw_scores),
                    ("geom", &geom_scores),
                ] {
                    let i = if rep == "composition" {
                        self.comp_pos[p]
                    } else {
                        p
                    };
                    let s = &scores.scores[i][t];
                    let mut r = record(
                        self.model,
                        self.layer,
                        target,
                        rep,
                        kind.name(),
                        s,
                        self.n,
                        self.folds.k,
                    );
                    r.channels = channels.map(str::to_owned);
                    diagnose(&mut r, s, &scores.extrapolation, self.ids);
                    let (isomer, replicates) = match rep {
                        "composition" => {
                            (self.comp_isomer[i][t], self.comp_replicates[i][t].clone())
                        }
                        "raw" => raw_iv[i][t].clone(),
                        _ => geom_iv[i][t].clone(),
                    };
                    (r.isomer_accuracy, r.isomer_pairs, r.isomer_ci) = isomer;
                    r.replicates = replicates;
                    r.r2_ci = interval_bc(&r.replicates, r.r2_mean.unwrap_or(f64::NAN));
                    r.null = scores.null[i][t];
                    if rep == "geom" && !cond.is_empty() {
                        let (folds, reps) = &cond[p][t];
                        r.r2_cond = finite_or_none(mean_std(folds).0);
                        r.r2_cond_folds = folds.clone();
                        r.cond_replicates = reps.clone();
                        r.r2_cond_ci =
                            interval_bc(&r.cond_replicates, r.r2_cond.unwrap_or(f64::NAN));
                    }
                    if *kind == ProbeKind::Ridge && self.grid.len() > 1 {
                        r.alpha_at_edge = Some(s.alphas.iter().flatten().any(|a| {
                            a == self.grid.first().expect("grid")
                                || a == self.grid.last().expect("grid")
                        }));
                    }
                    if self.keep_predictions {
                        preds.push(s.oof.clone());
                    }
                    out.push(r);
                }
            }
        }
        Ok((out, preds))
    }
}

/// The composition-only scores and the probes they are of.
struct CompScores {
    kinds: Vec<ProbeKind>,
    scores: RepScores,
    /// Isomer accuracy and pairs of every score (probe, then target).
    isomer: Vec<Vec<IsomerScore>>,
    /// Bootstrap replicates of every score (probe, then target).
    replicates: Vec<Vec<Vec<f64>>>,
    /// Every probe's baseline of the conditional R².
    base: Vec<Baseline>,
    /// The composition, kept only for learning curves.
    composition: Option<Array2<f64>>,
}

/// One probe's composition model of every fold, as the conditional R²'s
/// baseline.
struct Baseline {
    /// Fold `f`'s fit predicting every row (`n × t`).
    fits: Vec<Array2<f64>>,
    /// Its R² on every held-out fold (target, then fold).
    r2: Vec<Vec<f64>>,
    /// Bootstrap replicates of its fold-mean R² (target, then replicate).
    reps: Vec<Vec<f64>>,
}

/// Isomer accuracy, pairs and interval of a record ([`Isomers::accuracy`],
/// [`Isomers::interval`]).
type IsomerScore = (Option<f64>, usize, Option<[f64; 2]>);

fn isomer_score(
    isomers: &Isomers,
    y: ArrayView1<'_, f64>,
    oof: &[f64],
    resamples: &Resamples,
    seed: u64,
) -> IsomerScore {
    let (acc, pairs) = isomers.accuracy(y, oof);
    let ci = acc.and_then(|_| isomers.interval(y, oof, resamples.replicates(), seed));
    (acc, pairs, ci)
}

/// What was measured on one representation: the scores of every probe
/// (outer) for every target (inner), and each fold's largest extrapolation.
struct RepScores {
    scores: Vec<Vec<CvScores>>,
    extrapolation: Vec<Option<Extrapolation>>,
    /// The permutation null of every score (probe, then target).
    null: Vec<Vec<Option<Null>>>,
}

/// Score every probe on one representation; with `null = (N, seed)` and
/// `N > 0`, each also on `N` within-fold permutations of the targets
/// (fitted beside the real targets: [`with_permutations`]).
fn score_all(
    probes: &[(ProbeKind, &dyn Probe)],
    x: &dyn Rows,
    grams: Option<&FoldGrams<'_>>,
    y: ArrayView2<'_, f64>,
    folds: &Folds,
    progress: &dyn Progress,
    null: (usize, u64),
) -> Result<RepScores> {
    let (permutations, seed) = null;
    let t = y.ncols();
    let shuffled = (permutations > 0).then(|| with_permutations(y, folds, permutations, seed));
    let y_all = shuffled.as_ref().map_or(y, |a| a.view());
    let (scores, extrapolation) = rayon::join(
        || {
            probes
                .iter()
                .map(|(_, p)| cross_validate_with(*p, x, y_all, folds, grams, &|| progress.done()))
                .collect::<Result<Vec<Vec<CvScores>>>>()
        },
        || extrapolation(x, folds),
    );
    let mut scores = scores?;
    let null = scores
        .iter_mut()
        .map(|per_target| {
            let fold_mean = |s: &CvScores| mean_std(&s.r2_folds).0;
            let nulls: Vec<Option<Null>> = (0..t)
                .map(|c| {
                    let permuted: Vec<f64> = (0..permutations)
                        .map(|p| fold_mean(&per_target[t * (1 + p) + c]))
                        .collect();
                    Null::of(fold_mean(&per_target[c]), &permuted)
                })
                .collect();
            per_target.truncate(t);
            nulls
        })
        .collect();
    Ok(RepScores {
        scores,
        extrapolation,
        null,
    })
}

/// Fill a record's median, per-fold diagnostics and instability verdict.
fn diagnose(
    r: &mut ResultRecord,
    s: &CvScores,
    extrap: &[Option<Extrapolation>],
    ids: &crate::io::ids::Ids,
) {
    r.r2_median = median(&s.r2_folds);
    let shares: Vec<Option<f64>> = s.worst.iter().map(|w| w.map(|(_, share)| share)).collect();
    r.unstable = is_unstable(&s.r2_folds, &shares);
    r.fold_diagnostics = (0..s.r2_folds.len())
        .map(|f| {
            let worst = s.worst[f];
            let e = extrap[f];
            FoldDiagnostic {
                fold: f,
                r2: finite_or_none(s.r2_folds[f]),
                worst_id: worst.map(|(row, _)| ids[row].to_owned()),
                worst_share: worst.map(|(_, share)| share),
                extrapolation_id: e.map(|e| ids[e.row].to_owned()),
                extrapolation_column: e.map(|e| e.column),
                extrapolation_z: e.map(|e| e.z),
            }
        })
        .collect();
}

#[allow(clippy::too_many_arguments)]
fn record(
    model: &str,
    layer: &str,
    target: &str,
    representation: &str,
    probe: &str,
    s: &CvScores,
    n: usize,
    k: usize,
) -> ResultRecord {
    let (mean, std) = mean_std(&s.r2_folds);
    let alpha = s.alphas.as_ref().map(|a| {
        let mut sorted = a.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[(sorted.len() - 1) / 2]
    });
    ResultRecord {
        model: model.into(),
        layer: layer.into(),
        channels: None,
        target: target.into(),
        representation: representation.into(),
        probe: probe.into(),
        r2_mean: finite_or_none(mean),
        r2_std: finite_or_none(std),
        r2_pooled: finite_or_none(s.r2_pooled),
        mae: finite_or_none(s.mae),
        rmse: finite_or_none(s.rmse),
        n,
        folds: k,
        alpha,
        alphas: s.alphas.clone(),
        r2_folds: s.r2_folds.clone(),
        r2_median: None,
        unstable: false,
        alpha_at_edge: None,
        fold_diagnostics: Vec::new(),
        isomer_accuracy: None,
        isomer_pairs: 0,
        isomer_ci: None,
        r2_ci: None,
        null: None,
        replicates: Vec::new(),
        r2_cond: None,
        r2_cond_folds: Vec::new(),
        r2_cond_ci: None,
        cond_replicates: Vec::new(),
    }
}
