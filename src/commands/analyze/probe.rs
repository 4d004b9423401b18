//! Stage 5: probe and score. Composition alone once; then, one embedding
//! file in memory at a time, every layer's raw and residual representation
//! (and channel groups), with the instability diagnostics of every record,
//! and the learning curves when asked for.

use ndarray::ArrayView2;

use super::load::{check_memory, select_layers, sha256_values};
use super::{AnalyzeConfig, EmbeddingSpec, Progress};
use crate::analyses::channels::file_irreps;
use crate::analyses::curve::{learning_curve, CurveSpec};
use crate::analyses::instability::{extrapolation, is_unstable, median, Extrapolation};
use crate::error::{CpdError, Result};
use crate::flow::cv::{cross_validate_with, CvScores};
use crate::flow::dataset::Dataset;
use crate::flow::folds::Folds;
use crate::flow::metrics::mean_std;
use crate::flow::projection::{residual_zero_tol, Projection};
use crate::flow::rows::{Dense, Rows, Stored};
use crate::io;
use crate::io::embeddings::{self, Layer};
use crate::probe::{Probe, ProbeKind};
use crate::report::{finite_or_none, CurveRecord, FoldDiagnostic, InputInfo, ResultRecord};

/// Everything the probing stage reads.
pub(super) struct Run<'a> {
    pub config: &'a AnalyzeConfig,
    pub probes: &'a [(ProbeKind, &'a dyn Probe)],
    /// The ridge alpha grid (for the alpha-at-edge flag).
    pub grid: &'a [f64],
    pub ds: &'a Dataset,
    pub folds: &'a Folds,
    pub curve: Option<&'a CurveSpec>,
    pub projection: &'a Projection,
    /// Targets, after `--residualize-target`.
    pub y: ArrayView2<'a, f64>,
    pub progress: &'a dyn Progress,
    /// Embeddings in memory, parallel to `config.embeddings` (read
    /// instead of their files).
    pub memory: Option<&'a [embeddings::EmbeddingFile]>,
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
}

impl Run<'_> {
    /// Probe composition, then every model in order; embedding layers are
    /// recorded in `inputs` as they are probed.
    pub fn all(&self, inputs: &mut Vec<InputInfo>) -> Result<Probed> {
        let per_rep = self.per_rep();
        self.progress.add_work(per_rep);
        self.progress.stage("composition");
        let comp = score_all(
            self.probes,
            &Dense(self.ds.composition.view()),
            self.y,
            self.folds,
            self.progress,
        )?;
        let mut out = Probed::default();
        for (i, spec) in self.config.embeddings.iter().enumerate() {
            self.model(spec, self.memory.map(|m| &m[i]), &comp, inputs, &mut out)?;
        }
        Ok(out)
    }

    /// Units of progress per representation: every probe on every fold.
    fn per_rep(&self) -> u64 {
        (self.probes.len() * self.folds.k) as u64
    }

    /// Load one model's file, align it, and probe its layers.
    fn model(
        &self,
        spec: &EmbeddingSpec,
        memory: Option<&embeddings::EmbeddingFile>,
        comp: &RepScores,
        inputs: &mut Vec<InputInfo>,
        out: &mut Probed,
    ) -> Result<()> {
        if let Some(names) = &spec.channel_layers {
            if spec.channels.is_none() {
                return Err(CpdError::Invalid(format!(
                    "model '{}': channel layers {names:?} given without --irreps or --channels",
                    spec.model
                )));
            }
        }
        self.progress.stage(&format!("{}: loading", spec.model));
        let file = match memory {
            Some(m) => {
                check_memory(m)?;
                m.clone() // shared layers are not copied
            }
            None => embeddings::load_pooled(&spec.path, self.config.pool)?,
        };
        let file = select_layers(file, spec.layers.as_deref())?;
        let atoms = file.atoms;
        out.pooled |= atoms.is_some();
        let sha = match memory {
            Some(_) => String::new(), // per layer, below
            None => io::sha256_file(&spec.path)?,
        };
        let layers = self.ds.align_embedding(file)?;
        for name in spec.channel_layers.iter().flatten() {
            if !layers.iter().any(|l| &l.name == name) {
                let have: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
                return Err(CpdError::format(
                    &spec.path,
                    format!(
                        "channel layer '{name}' is not among the layers probed ({})",
                        have.join(", ")
                    ),
                ));
            }
        }
        self.progress
            .add_work(2 * self.per_rep() * layers.len() as u64);
        for layer in &layers {
            inputs.push(InputInfo {
                role: "embeddings".into(),
                path: match memory {
                    Some(m) => m.path.display().to_string(),
                    None => spec.path.display().to_string(),
                },
                sha256: match memory {
                    Some(_) => sha256_values(&layer.data),
                    None => sha.clone(),
                },
                rows: layer.data.nrows(),
                cols: layer.data.ncols(),
                model: Some(spec.model.clone()),
                layer: Some(layer.name.clone()),
                dtype: Some(layer.dtype().into()),
                atoms,
            });
            self.layer(spec, layer, comp, out)?;
        }
        Ok(())
    }

    /// Probe one layer: the whole layer, its learning curves, then its
    /// channel groups.
    fn layer(
        &self,
        spec: &EmbeddingSpec,
        layer: &Layer,
        comp: &RepScores,
        out: &mut Probed,
    ) -> Result<()> {
        self.progress
            .stage(&format!("{}/{}", spec.model, layer.name));
        let ctx = LayerCtx {
            model: &spec.model,
            layer: &layer.name,
            probes: self.probes,
            projection: self.projection,
            y: self.y,
            folds: self.folds,
            targets: &self.ds.target_names,
            comp_scores: comp,
            n: self.ds.n(),
            zero_tol: residual_zero_tol(layer.dtype()),
            progress: self.progress,
            ids: &self.ds.ids,
            grid: self.grid,
            keep_predictions: self.config.predictions,
        };
        // A layer's own irreps (`irreps/LAYER` in the file) when none are given.
        let own = match (&spec.channels, &layer.irreps) {
            (None, Some(t)) => Some(file_irreps(t, layer.data.ncols(), &layer.name, &spec.path)?),
            _ => None,
        };
        // Channel groups are checked before any work on the layer.
        let split = spec.channels.as_ref().or(own.as_ref()).filter(|_| {
            spec.channel_layers
                .as_ref()
                .is_none_or(|ls| ls.contains(&layer.name))
        });
        if let Some(ch) = split {
            ch.check_width(
                layer.data.ncols(),
                &format!("layer '{}' of {}", layer.name, spec.path.display()),
            )?;
        }
        // The layer stays in memory once, in its on-disk type; probes
        // read rows of it, and of its residual, as they need them.
        let raw = Stored(&layer.data);
        let geom = self.projection.residual_rows(&raw, ctx.zero_tol);
        let (recs, preds) = ctx.probe_pair(&raw, &geom, None)?;
        out.results.extend(recs);
        out.predictions.extend(preds);
        if let Some(c) = self.curve {
            out.curves
                .extend(self.curves(&spec.model, &layer.name, c, &raw, &geom)?);
        }
        if let Some(ch) = split {
            for group in &ch.groups {
                let features = ch.features(group, &layer.data);
                self.progress.add_work(2 * self.per_rep());
                let (recs, preds) = ctx.probe(&Dense(features.view()), Some(&group.name))?;
                out.results.extend(recs);
                out.predictions.extend(preds);
            }
        }
        Ok(())
    }

    /// Learning curves of every probe on composition, raw and residual.
    fn curves(
        &self,
        model: &str,
        layer: &str,
        c: &CurveSpec,
        raw: &dyn Rows,
        geom: &dyn Rows,
    ) -> Result<Vec<CurveRecord>> {
        let mut curves = Vec::new();
        let comp = Dense(self.ds.composition.view());
        for (rep, x) in [
            ("composition", &comp as &dyn Rows),
            ("raw", raw),
            ("geom", geom),
        ] {
            for (kind, p) in self.probes {
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
    projection: &'a Projection,
    y: ArrayView2<'a, f64>,
    folds: &'a Folds,
    targets: &'a [String],
    comp_scores: &'a RepScores,
    n: usize,
    zero_tol: f64,
    progress: &'a dyn Progress,
    ids: &'a [String],
    grid: &'a [f64],
    keep_predictions: bool,
}

/// Records of one layer (or channel group) and, when kept, their
/// out-of-fold predictions.
type LayerRecords = (Vec<ResultRecord>, Vec<Vec<f64>>);

impl LayerCtx<'_> {
    /// Every probe on `raw` and its residual; records for every target,
    /// probe and representation (composition, raw, geom).
    fn probe(&self, raw: &dyn Rows, channels: Option<&str>) -> Result<LayerRecords> {
        let geom = self.projection.residual_rows(raw, self.zero_tol);
        self.probe_pair(raw, &geom, channels)
    }

    /// [`LayerCtx::probe`] with the residual already built.
    fn probe_pair(
        &self,
        raw: &dyn Rows,
        geom: &dyn Rows,
        channels: Option<&str>,
    ) -> Result<LayerRecords> {
        let (raw_scores, geom_scores) = rayon::join(
            || score_all(self.probes, raw, self.y, self.folds, self.progress),
            || score_all(self.probes, geom, self.y, self.folds, self.progress),
        );
        let (raw_scores, geom_scores) = (raw_scores?, geom_scores?);
        let mut out = Vec::new();
        let mut preds = Vec::new();
        for (t, target) in self.targets.iter().enumerate() {
            for (p, (kind, _)) in self.probes.iter().enumerate() {
                for (rep, scores) in [
                    ("composition", self.comp_scores),
                    ("raw", &raw_scores),
                    ("geom", &geom_scores),
                ] {
                    let s = &scores.scores[p][t];
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

/// What was measured on one representation: the scores of every probe
/// (outer) for every target (inner), and each fold's largest extrapolation.
struct RepScores {
    scores: Vec<Vec<CvScores>>,
    extrapolation: Vec<Option<Extrapolation>>,
}

/// Score every probe on one representation.
fn score_all(
    probes: &[(ProbeKind, &dyn Probe)],
    x: &dyn Rows,
    y: ArrayView2<'_, f64>,
    folds: &Folds,
    progress: &dyn Progress,
) -> Result<RepScores> {
    Ok(RepScores {
        scores: probes
            .iter()
            .map(|(_, p)| cross_validate_with(*p, x, y, folds, &|| progress.done()))
            .collect::<Result<_>>()?,
        extrapolation: extrapolation(x, folds),
    })
}

/// Fill a record's median, per-fold diagnostics and instability verdict.
fn diagnose(r: &mut ResultRecord, s: &CvScores, extrap: &[Option<Extrapolation>], ids: &[String]) {
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
                worst_id: worst.map(|(row, _)| ids[row].clone()),
                worst_share: worst.map(|(_, share)| share),
                extrapolation_id: e.map(|e| ids[e.row].clone()),
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
    }
}
