//! One `cpd analyze` run: load → align → project → split → probe → score →
//! report. The caller gets a [`Report`] and the fold assignment; writing files
//! and printing are left to it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::ArrayView2;

use crate::channels::{ChannelSpec, Invariants};
use crate::controls::{control_targets, is_linear, CONTROLS};
use crate::curve::{learning_curve, CurveSpec};
use crate::cv::{cross_validate_with, CvScores};
use crate::dataset::{CompositionMode, Dataset};
use crate::diagnostics::{extrapolation, is_culprit, is_unstable, median, Extrapolation, RULE};
use crate::error::{CpdError, Result};
use crate::folds::Folds;
use crate::io::embeddings::{self, EmbeddingFile};
use crate::io::peratom::{self, Pool};
use crate::io::{self, table::read_table, xyz};
use crate::linalg;
use crate::metrics::mean_std;
use crate::probe::gbt::GbtParams;
use crate::probe::mlp::MlpParams;
use crate::probe::ridge::RidgeParams;
use crate::probe::scale::Scale;
use crate::probe::{Probe, ProbeKind};
use crate::profile::profiles;
use crate::projection::{residual_zero_tol, Projection};
use crate::report::{
    finite_or_none, CompositionInfo, Culprit, CurveRecord, FoldDiagnostic, GapRecord,
    InflationRecord, InputInfo, Instability, Report, ResultRecord, RidgeSettings, RoutingRecord,
    Settings, Timing, ToolInfo, SCHEMA_VERSION,
};
use crate::rows::{Dense, Rows, Stored};

/// An embedding file and the model name it is reported under.
#[derive(Debug, Clone)]
pub struct EmbeddingSpec {
    /// Model name.
    pub model: String,
    /// `.npy`, `.npz` or `.csv` file.
    pub path: PathBuf,
    /// Layers to probe, in this order (`None`: every layer in file order).
    pub layers: Option<Vec<String>>,
    /// Channel groups to probe besides the whole layer.
    pub channels: Option<ChannelSpec>,
    /// Layers the channel groups apply to (`None`: every layer).
    pub channel_layers: Option<Vec<String>>,
}

/// Where compositions come from.
#[derive(Debug, Clone)]
pub enum CompositionSource {
    /// CSV with `id` and one column per element.
    Table(PathBuf),
    /// Extended-XYZ structures; counts are derived.
    Structures(PathBuf),
    /// A per-atom `.npz` with `numbers`; counts are derived from them.
    Atoms(PathBuf),
}

/// How folds are made.
#[derive(Debug, Clone)]
pub enum FoldSpec {
    /// Shuffled k-fold from a seed.
    Shuffled {
        /// Number of folds.
        k: usize,
        /// Seed.
        seed: u64,
    },
    /// `id,fold` CSV.
    File(PathBuf),
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct AnalyzeConfig {
    /// Embedding files, in report order.
    pub embeddings: Vec<EmbeddingSpec>,
    /// Compositions.
    pub composition: CompositionSource,
    /// Counts or fractions.
    pub composition_mode: CompositionMode,
    /// Targets CSV.
    pub targets: PathBuf,
    /// Targets to probe (empty: all columns).
    pub target_names: Vec<String>,
    /// Probes to run.
    pub probes: Vec<ProbeKind>,
    /// Fold scheme.
    pub folds: FoldSpec,
    /// Ridge hyper-parameters.
    pub ridge: RidgeParams,
    /// Gradient-boosted-tree hyper-parameters.
    pub gbt: GbtParams,
    /// MLP hyper-parameters.
    pub mlp: MlpParams,
    /// Residualise the target against composition too.
    pub residualize_target: bool,
    /// Add the compositional control targets ([`crate::controls`]).
    pub controls: bool,
    /// R²_geom on a control above which a probe is flagged inflated.
    pub inflation_threshold: f64,
    /// Learning curves to compute (whole layers).
    pub learning_curve: Option<LearningCurve>,
    /// Feature scaling of the ridge and MLP probes.
    pub scale: Scale,
    /// Keep every record's out-of-fold predictions ([`Analysis::predictions`]).
    pub predictions: bool,
    /// How per-atom embedding files are pooled ([`crate::io::peratom`]).
    pub pool: Pool,
}

/// Learning-curve request: training sizes and repeats (the seed is the
/// fold seed).
#[derive(Debug, Clone, PartialEq)]
pub struct LearningCurve {
    /// Training sizes, increasing.
    pub sizes: Vec<usize>,
    /// Subsamples per size and fold.
    pub repeats: usize,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The report.
    pub report: Report,
    /// Row ids in report order.
    pub ids: Vec<String>,
    /// Fold assignment used.
    pub folds: Folds,
    /// With [`AnalyzeConfig::predictions`], the out-of-fold predictions of
    /// every record (in row order, `ids`' order), parallel to
    /// `report.results`; empty otherwise.
    pub predictions: Vec<Vec<f64>>,
    /// The targets' values in row order, one column per target in
    /// `report.settings.targets` (after `--residualize-target`).
    pub targets: ndarray::Array2<f64>,
}

fn input_info(role: &str, path: &Path, rows: usize, cols: usize) -> Result<InputInfo> {
    Ok(InputInfo {
        role: role.into(),
        path: path.display().to_string(),
        sha256: io::sha256_file(path)?,
        rows,
        cols,
        model: None,
        layer: None,
        dtype: None,
        atoms: None,
    })
}

/// Where a run reports how far it has got. The library never prints; a
/// front end turns these calls into a progress bar (or ignores them).
///
/// The unit of work is one probe fitted on one fold of one representation
/// of one layer (all targets at once).
pub trait Progress: Sync {
    /// `n` more units of work became known (one layer was loaded).
    fn add_work(&self, n: u64);
    /// The run moved on to `what` (`model/layer`).
    fn stage(&self, what: &str);
    /// One unit of work finished.
    fn done(&self);
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn add_work(&self, _: u64) {}
    fn stage(&self, _: &str) {}
    fn done(&self) {}
}

/// Run the analysis.
pub fn analyze(config: &AnalyzeConfig) -> Result<Analysis> {
    analyze_with_progress(config, &NoProgress)
}

/// Run the analysis, reporting progress to `progress`.
pub fn analyze_with_progress(config: &AnalyzeConfig, progress: &dyn Progress) -> Result<Analysis> {
    let start = Instant::now();
    if config.embeddings.is_empty() {
        return Err(CpdError::Invalid("no embeddings given".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for e in &config.embeddings {
        if !seen.insert(e.model.as_str()) {
            return Err(CpdError::Invalid(format!(
                "model name '{}' is used twice",
                e.model
            )));
        }
    }
    if config.probes.is_empty() {
        return Err(CpdError::Invalid("no probes selected".into()));
    }
    for (i, p) in config.probes.iter().enumerate() {
        if config.probes[..i].contains(p) {
            return Err(CpdError::Invalid(format!(
                "probe '{}' is selected twice",
                p.name()
            )));
        }
    }
    let ridge = config.ridge.clone().check()?.with_scale(config.scale);
    let gbt = config.gbt.clone().check()?;
    let mlp = config.mlp.clone().check()?.with_scale(config.scale);

    // load
    let mut inputs = Vec::new();
    let (comp_table, role) = match &config.composition {
        CompositionSource::Table(p) => (read_table(p)?, "compositions"),
        CompositionSource::Structures(p) => (xyz::read_compositions(p)?, "structures"),
        CompositionSource::Atoms(p) => (peratom::read_compositions(p)?, "atoms"),
    };
    inputs.push(input_info(
        role,
        &comp_table.path,
        comp_table.ids.len(),
        comp_table.columns.len(),
    )?);
    let targets = read_table(&config.targets)?;
    inputs.push(input_info(
        "targets",
        &targets.path,
        targets.ids.len(),
        targets.columns.len(),
    )?);

    // align
    let mut ds = Dataset::new(
        comp_table,
        config.composition_mode,
        targets,
        &config.target_names,
    )?;
    if config.controls {
        add_controls(&mut ds)?;
    }
    if !(config.inflation_threshold.is_finite()) {
        return Err(CpdError::Invalid(format!(
            "--inflation-threshold must be a finite number, got {}",
            config.inflation_threshold
        )));
    }

    // split
    let folds = match &config.folds {
        FoldSpec::Shuffled { k, seed } => Folds::shuffled(ds.n(), *k, *seed)?,
        FoldSpec::File(p) => {
            let t = read_table(p)?;
            inputs.push(input_info("folds", p, t.ids.len(), t.columns.len())?);
            Folds::from_table(&t, &ds.ids, &ds.composition_path)?
        }
    };

    let curve = match &config.learning_curve {
        None => None,
        Some(c) => {
            let spec = CurveSpec {
                sizes: c.sizes.clone(),
                repeats: c.repeats,
                seed: match &config.folds {
                    FoldSpec::Shuffled { seed, .. } => *seed,
                    FoldSpec::File(_) => 0,
                },
            };
            spec.check(&folds)?;
            Some(spec)
        }
    };

    // project
    let projection = Projection::new(ds.composition.view(), &ds.composition_columns);
    let y = if config.residualize_target {
        projection.residual_raw(ds.targets.view())
    } else {
        ds.targets.clone()
    };

    let probes: Vec<(ProbeKind, &dyn Probe)> = config
        .probes
        .iter()
        .map(|&k| match k {
            ProbeKind::Ridge => (k, &ridge as &dyn Probe),
            ProbeKind::Gbt => (k, &gbt as &dyn Probe),
            ProbeKind::Mlp => (k, &mlp as &dyn Probe),
        })
        .collect();

    // probe + score: composition alone once, then each embedding layer.
    // One embedding file is in memory at a time.
    let per_rep = (probes.len() * folds.k) as u64;
    progress.add_work(per_rep);
    progress.stage("composition");
    let comp_scores = score_all(
        &probes,
        &Dense(ds.composition.view()),
        y.view(),
        &folds,
        progress,
    )?;
    let grid = ridge.alphas().to_vec();
    let mut results = Vec::new();
    let mut predictions = Vec::new();
    let mut curves = Vec::new();
    let mut pooled = false; // per-atom: whether any file was per atom
    for spec in &config.embeddings {
        if let Some(names) = &spec.channel_layers {
            if spec.channels.is_none() {
                return Err(CpdError::Invalid(format!(
                    "model '{}': channel layers {names:?} given without --irreps or --channels",
                    spec.model
                )));
            }
        }
        progress.stage(&format!("{}: loading", spec.model));
        let file = embeddings::load_pooled(&spec.path, config.pool)?;
        let file = select_layers(file, spec.layers.as_deref())?;
        let atoms = file.atoms; // per-atom
        pooled |= atoms.is_some(); // per-atom
        let sha = io::sha256_file(&spec.path)?;
        let layers = ds.align_embedding(file)?;
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
        progress.add_work(2 * per_rep * layers.len() as u64);
        for layer in layers {
            progress.stage(&format!("{}/{}", spec.model, layer.name));
            inputs.push(InputInfo {
                role: "embeddings".into(),
                path: spec.path.display().to_string(),
                sha256: sha.clone(),
                rows: layer.data.nrows(),
                cols: layer.data.ncols(),
                model: Some(spec.model.clone()),
                layer: Some(layer.name.clone()),
                dtype: Some(layer.dtype().into()),
                atoms,
            });
            let ctx = LayerCtx {
                model: &spec.model,
                layer: &layer.name,
                probes: &probes,
                projection: &projection,
                y: y.view(),
                folds: &folds,
                targets: &ds.target_names,
                comp_scores: &comp_scores,
                n: ds.n(),
                zero_tol: residual_zero_tol(layer.dtype()),
                progress,
                ids: &ds.ids,
                grid: &grid,
                keep_predictions: config.predictions,
            };
            // per-atom: a layer's own irreps (`irreps/LAYER`) when none are given
            let own = match (&spec.channels, &layer.irreps) {
                (None, Some(t)) => Some(ChannelSpec::irreps(t, Invariants::Norms)?),
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
            let geom = projection.residual_rows(&raw, ctx.zero_tol);
            let (recs, preds) = ctx.probe_pair(&raw, &geom, None)?;
            results.extend(recs);
            predictions.extend(preds);
            if let Some(c) = &curve {
                let comp = Dense(ds.composition.view());
                for (rep, x) in [
                    ("composition", &comp as &dyn Rows),
                    ("raw", &raw),
                    ("geom", &geom),
                ] {
                    for (kind, p) in &probes {
                        let points = learning_curve(*p, x, y.view(), &folds, c)?;
                        for (t, target) in ds.target_names.iter().enumerate() {
                            curves.extend(points[t].iter().map(|pt| CurveRecord {
                                model: spec.model.clone(),
                                layer: layer.name.clone(),
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
            }
            if let Some(ch) = split {
                for group in &ch.groups {
                    let features = ch.features(group, &layer.data);
                    progress.add_work(2 * per_rep);
                    let (recs, preds) = ctx.probe(&Dense(features.view()), Some(&group.name))?;
                    results.extend(recs);
                    predictions.extend(preds);
                }
            }
        }
    }

    let alphas = grid;
    let instability = instability(&results, &ds);
    let report = Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "cpd".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        settings: Settings {
            folds: folds.k,
            seed: match &config.folds {
                FoldSpec::Shuffled { seed, .. } => Some(*seed),
                FoldSpec::File(_) => None,
            },
            folds_file: match &config.folds {
                FoldSpec::File(p) => Some(p.display().to_string()),
                _ => None,
            },
            fold_sizes: folds.sizes(),
            probes: config.probes.iter().map(|p| p.name().to_string()).collect(),
            targets: ds.target_names.clone(),
            ridge: RidgeSettings {
                selection: if alphas.len() > 1 { "loo" } else { "fixed" }.into(),
                alphas,
            },
            gbt: config
                .probes
                .contains(&ProbeKind::Gbt)
                .then(|| gbt.params().clone()),
            mlp: config
                .probes
                .contains(&ProbeKind::Mlp)
                .then(|| mlp.params().clone()),
            residualize_target: config.residualize_target,
            composition_mode: mode_name(config.composition_mode).into(),
            residual_zero_tol: ["float32", "float64"]
                .iter()
                .map(|t| (t.to_string(), residual_zero_tol(t)))
                .collect(),
            linalg_backend: linalg::BACKEND.into(),
            scale: config.scale,
            pool: pooled.then(|| config.pool.name().to_owned()),
        },
        inputs,
        composition: CompositionInfo {
            columns: ds.composition_columns.clone(),
            mode: mode_name(config.composition_mode).into(),
            rank: projection.rank,
            dropped: projection.dropped.clone(),
            rank_tol: projection.rank_tol,
        },
        gaps: gaps(&results),
        inflation: inflation(&results, config.inflation_threshold),
        channel_routing: channel_routing(&results),
        learning_curves: curves,
        profiles: profiles(&results),
        instability,
        results,
        timing: Timing {
            seconds: start.elapsed().as_secs_f64(),
        },
    };
    Ok(Analysis {
        report,
        ids: ds.ids,
        folds,
        predictions,
        targets: y,
    })
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
type Probed = (Vec<ResultRecord>, Vec<Vec<f64>>);

impl LayerCtx<'_> {
    /// Every probe on `raw` and its residual; records for every target,
    /// probe and representation (composition, raw, geom).
    fn probe(&self, raw: &dyn Rows, channels: Option<&str>) -> Result<Probed> {
        let geom = self.projection.residual_rows(raw, self.zero_tol);
        self.probe_pair(raw, &geom, channels)
    }

    /// [`LayerCtx::probe`] with the residual already built.
    fn probe_pair(
        &self,
        raw: &dyn Rows,
        geom: &dyn Rows,
        channels: Option<&str>,
    ) -> Result<Probed> {
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

/// Append the control targets to the data set's targets.
fn add_controls(ds: &mut Dataset) -> Result<()> {
    if ds.composition_mode != CompositionMode::Counts {
        return Err(CpdError::Invalid(
            "--controls needs atom counts (--composition counts)".into(),
        ));
    }
    if let Some(clash) = ds
        .target_names
        .iter()
        .find(|t| CONTROLS.contains(&t.as_str()))
    {
        return Err(CpdError::Invalid(format!(
            "target '{clash}' in {} has the name of a control target; rename it to use --controls",
            ds.targets_path.display()
        )));
    }
    let c = control_targets(ds.composition.view(), &ds.composition_columns)?;
    ds.targets = ndarray::concatenate![ndarray::Axis(1), ds.targets, c];
    ds.target_names
        .extend(CONTROLS.iter().map(|s| s.to_string()));
    Ok(())
}

/// The inflation verdict of every probe on every control's residual record.
fn inflation(results: &[ResultRecord], threshold: f64) -> Vec<InflationRecord> {
    results
        .iter()
        .filter(|r| r.representation == "geom" && CONTROLS.contains(&r.target.as_str()))
        .map(|r| InflationRecord {
            model: r.model.clone(),
            layer: r.layer.clone(),
            channels: r.channels.clone(),
            probe: r.probe.clone(),
            control: r.target.clone(),
            linear: is_linear(&r.target),
            r2_geom: r.r2_mean,
            threshold,
            inflated: r.r2_mean.is_some_and(|v| v > threshold),
        })
        .collect()
}

/// R²_geom of every channel-group record.
fn channel_routing(results: &[ResultRecord]) -> Vec<RoutingRecord> {
    results
        .iter()
        .filter(|r| r.representation == "geom")
        .filter_map(|r| {
            Some(RoutingRecord {
                model: r.model.clone(),
                layer: r.layer.clone(),
                group: r.channels.clone()?,
                target: r.target.clone(),
                probe: r.probe.clone(),
                r2_geom: r.r2_mean,
            })
        })
        .collect()
}

/// The linear–nonlinear gap on the residual for every (model, layer,
/// channels, target) that has both a ridge and an mlp `geom` record, in the
/// order of the results.
pub fn gaps(results: &[ResultRecord]) -> Vec<GapRecord> {
    let find = |r: &ResultRecord, probe: &str| {
        results.iter().find(|o| {
            o.probe == probe
                && o.representation == "geom"
                && o.model == r.model
                && o.layer == r.layer
                && o.channels == r.channels
                && o.target == r.target
        })
    };
    results
        .iter()
        .filter(|r| r.probe == "ridge" && r.representation == "geom")
        .filter_map(|ridge| {
            let mlp = find(ridge, "mlp")?;
            let gap = match (mlp.r2_mean, ridge.r2_mean) {
                (Some(m), Some(l)) => Some(m - l),
                _ => None,
            };
            Some(GapRecord {
                model: ridge.model.clone(),
                layer: ridge.layer.clone(),
                channels: ridge.channels.clone(),
                target: ridge.target.clone(),
                r2_geom_ridge: ridge.r2_mean,
                r2_geom_mlp: mlp.r2_mean,
                gap,
                disentanglement: match (ridge.r2_mean, gap) {
                    (Some(l), Some(g)) => Some(l - g.abs()),
                    _ => None,
                },
            })
        })
        .collect()
}

fn mode_name(mode: CompositionMode) -> &'static str {
    match mode {
        CompositionMode::Counts => "counts",
        CompositionMode::Fractions => "fractions",
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

/// The run's instability summary: unstable records, the structures that
/// dominate their folds, and the ridge records whose alpha hit the grid's edge.
fn instability(results: &[ResultRecord], ds: &Dataset) -> Instability {
    let mut culprits: Vec<Culprit> = Vec::new();
    let mut z_of: std::collections::HashMap<(&str, usize), f64> = Default::default();
    for r in results {
        for d in &r.fold_diagnostics {
            if let (Some(id), Some(z)) = (&d.extrapolation_id, d.extrapolation_z) {
                let e = z_of.entry((id.as_str(), d.fold)).or_insert(z);
                *e = e.max(z);
            }
        }
    }
    for r in results.iter().filter(|r| r.unstable) {
        for d in &r.fold_diagnostics {
            let (Some(id), Some(share)) = (&d.worst_id, d.worst_share) else {
                continue;
            };
            if !d.r2.is_some_and(|r2| is_culprit(share, r2, r.r2_median)) {
                continue;
            }
            let pos = match culprits
                .iter()
                .position(|c| &c.id == id && c.fold == d.fold)
            {
                Some(p) => p,
                None => {
                    culprits.push(Culprit {
                        id: id.clone(),
                        formula: formula(ds, id),
                        fold: d.fold,
                        records: Vec::new(),
                        max_share: share,
                        max_z: z_of.get(&(id.as_str(), d.fold)).copied(),
                    });
                    culprits.len() - 1
                }
            };
            let c = &mut culprits[pos];
            c.records.push(r.key());
            c.max_share = c.max_share.max(share);
        }
    }
    // Most records first; the sort is stable, so ties keep first appearance.
    culprits.sort_by_key(|c| std::cmp::Reverse(c.records.len()));
    Instability {
        rule: RULE.into(),
        unstable: results
            .iter()
            .filter(|r| r.unstable)
            .map(|r| r.key())
            .collect(),
        culprits,
        alpha_at_edge: results
            .iter()
            .filter(|r| r.alpha_at_edge == Some(true))
            .map(|r| r.key())
            .collect(),
    }
}

/// A structure's formula from its counts in Hill order (C, then H, then
/// the other elements alphabetically; alphabetically throughout without
/// carbon), e.g. `C2F6`; `None` for fractions.
fn formula(ds: &Dataset, id: &str) -> Option<String> {
    if ds.composition_mode != CompositionMode::Counts {
        return None;
    }
    let row = ds.ids.iter().position(|i| i == id)?;
    let mut parts: Vec<(&str, f64)> = ds
        .composition_columns
        .iter()
        .enumerate()
        .map(|(j, el)| (el.as_str(), ds.composition[(row, j)]))
        .filter(|&(_, c)| c > 0.0)
        .collect();
    let has_carbon = parts.iter().any(|&(el, _)| el == "C");
    let rank = |el: &str| match (has_carbon, el) {
        (true, "C") => 0,
        (true, "H") => 1,
        _ => 2,
    };
    parts.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then(a.0.cmp(b.0)));
    let mut f = String::new();
    for (el, c) in parts {
        f.push_str(el);
        if c != 1.0 {
            f.push_str(&c.to_string());
        }
    }
    Some(f)
}

/// Keep the requested layers, in the requested order; a name the file does
/// not have is an error listing the ones it has.
fn select_layers(mut file: EmbeddingFile, wanted: Option<&[String]>) -> Result<EmbeddingFile> {
    let Some(wanted) = wanted else {
        return Ok(file);
    };
    let mut layers = Vec::with_capacity(wanted.len());
    for (i, name) in wanted.iter().enumerate() {
        if wanted[..i].contains(name) {
            return Err(CpdError::Invalid(format!(
                "layer '{name}' of {} is selected twice",
                file.path.display()
            )));
        }
        let Some(pos) = file.layers.iter().position(|l| &l.name == name) else {
            let have: Vec<&str> = file.layers.iter().map(|l| l.name.as_str()).collect();
            return Err(CpdError::format(
                &file.path,
                format!("no layer '{name}' (the file has: {})", have.join(", ")),
            ));
        };
        layers.push(file.layers.swap_remove(pos));
    }
    file.layers = layers;
    Ok(file)
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
