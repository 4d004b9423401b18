//! The report: one serialisable structure (schema version 1, see
//! `DESIGN.md`) and its exporters — JSON, tidy CSV, Markdown, SVG figures,
//! a self-contained HTML page, and the short text table the CLI prints.

pub mod assertions;
mod cells;
pub mod compare;
pub mod figures;
pub mod gate;
mod grid;
pub mod html;
pub mod markdown;
mod parts;
pub mod plot;
mod svg;
pub mod write;

use serde::{Deserialize, Serialize};

/// Version of the `report.json` layout. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A complete run: what was asked, what was read, what was found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`] when written by this version.
    pub schema_version: u32,
    /// Tool name and version.
    pub tool: ToolInfo,
    /// Every setting that affects the numbers.
    pub settings: Settings,
    /// Input files with checksums.
    pub inputs: Vec<InputInfo>,
    /// The composition basis used for the projection.
    pub composition: CompositionInfo,
    /// One record per (model, layer, channels, target, representation, probe).
    pub results: Vec<ResultRecord>,
    /// Linear–nonlinear gap on the residual per (model, layer, channels,
    /// target); empty unless both the ridge and the mlp probe ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<GapRecord>,
    /// Probe inflation on the compositional control targets (empty without
    /// `--controls`).
    #[serde(default)]
    pub inflation: Vec<InflationRecord>,
    /// R²_geom per channel group (empty without `--irreps`/`--channels`).
    #[serde(default)]
    pub channel_routing: Vec<RoutingRecord>,
    /// Learning curves (empty without `--learning-curve`).
    #[serde(default)]
    pub learning_curves: Vec<CurveRecord>,
    /// Best layers and the ranking of models.
    #[serde(default)]
    pub profiles: Option<Profiles>,
    /// Unstable records and the structures that make them so.
    #[serde(default)]
    pub instability: Instability,
    /// Per whole layer: composition's share of the centred variance and the
    /// effective dimension of raw and geom ([`crate::analyses::layerstats`]).
    #[serde(default)]
    pub layer_stats: Vec<LayerStatsRecord>,
    /// Linear CKA between every pair of layers, on raw and on geom (empty
    /// without `--similarity`; [`crate::analyses::similarity`]).
    #[serde(default)]
    pub similarity: Vec<SimilarityRecord>,
    /// The comparison measures between every ordered pair of layers (and
    /// of same-named channel groups), on raw and on geom (empty without
    /// `--compare`; [`crate::analyses::compare`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comparison: Vec<ComparisonRecord>,
    /// The few lines a researcher can quote, in order: model ranking, best
    /// layer per model, inflated and unstable records, the largest
    /// linear–nonlinear gap ([`crate::analyses::verdict`]).
    #[serde(default)]
    pub verdict: Vec<String>,
    /// The verdict's paired comparisons: model ranking and best layers,
    /// with the interval of every difference.
    #[serde(default)]
    pub comparisons: Vec<Comparison>,
    /// Wall-clock time of the analysis (the only field that varies between
    /// identical runs).
    pub timing: Timing,
}

impl Report {
    /// Drop every record's bootstrap replicates (once the analyses that
    /// pair records have read them).
    pub fn drop_replicates(&mut self) {
        for r in &mut self.results {
            r.replicates = Vec::new();
            r.cond_replicates = Vec::new();
        }
    }
}

/// Tool identification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolInfo {
    /// `"cpd"`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// A target left out of a run, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SkippedTarget {
    /// Target name.
    pub target: String,
    /// Why it was left out.
    pub reason: String,
}

/// Settings of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    /// Number of cross-validation folds.
    pub folds: usize,
    /// Seed of the shuffled k-fold split (`null` when folds came from a file).
    pub seed: Option<u64>,
    /// File the fold assignment came from, if any.
    pub folds_file: Option<String>,
    /// Rows per fold.
    pub fold_sizes: Vec<usize>,
    /// Probes run.
    pub probes: Vec<String>,
    /// Targets probed.
    pub targets: Vec<String>,
    /// Targets left out, each with its reason (constant targets, controls
    /// that do not vary on the data).
    #[serde(default)]
    pub skipped: Vec<SkippedTarget>,
    /// Ridge settings.
    pub ridge: RidgeSettings,
    /// The hyper-parameters of every probe that has them, under the
    /// probe's name (`gbt`, `mlp`; `null` when the probe did not run).
    #[serde(flatten)]
    pub probe_params: std::collections::BTreeMap<String, serde_json::Value>,
    /// Whether the target was residualised against composition (all representations).
    pub residualize_target: bool,
    /// `counts` or `fractions`.
    pub composition_mode: String,
    /// Residual columns with `‖h_geom‖ ≤ tol·‖h‖` are set to zero; `tol`
    /// by the embedding's on-disk type.
    pub residual_zero_tol: std::collections::BTreeMap<String, f64>,
    /// Linear-algebra backend (`faer` or `lapack`).
    pub linalg_backend: String,
    /// Feature scaling of the ridge and MLP probes
    /// ([`crate::probe::scale::Scale`]; the GBT probe bins its inputs and
    /// does not scale them).
    /// (A report written before the setting existed used `standard`.)
    #[serde(default = "standard_scale")]
    pub scale: crate::probe::scale::Scale,
    /// How per-atom layers were pooled (`mean`, `sum` or `max`); absent
    /// when no input was per atom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Whether linear CKA between layers was computed (`--similarity`).
    #[serde(default)]
    pub similarity: bool,
    /// The comparison measures computed (`--compare`; absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<String>,
    /// The structures the comparisons used at most (`--compare-rows`;
    /// absent without comparisons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_rows: Option<usize>,
    /// `--max-rows`: the MLP and GBT were fitted on a seeded subsample of
    /// at most this many rows of each training fold (seed: `seed`, or 0
    /// with a folds file); absent when every row was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<usize>,
    /// `composition` when every structure of one composition was kept in
    /// one fold (`--group-folds`); `null`: ungrouped folds.
    #[serde(default)]
    pub group_folds: Option<crate::flow::folds::GroupFolds>,
    /// Within-fold permutations of the targets behind every record's
    /// `null` (0: none).
    #[serde(default)]
    pub permutations: usize,
    /// Bootstrap replicates behind every interval (0: none).
    #[serde(default)]
    pub bootstrap: usize,
}

/// Ridge probe settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RidgeSettings {
    /// Candidate alphas (one value: fixed alpha).
    pub alphas: Vec<f64>,
    /// `loo` (efficient leave-one-out per training fold) or `fixed`.
    pub selection: String,
}

/// An input file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputInfo {
    /// `compositions`, `structures`, `targets`, `folds` or `embeddings`.
    pub role: String,
    /// Path as given.
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Rows read.
    pub rows: usize,
    /// Columns read (for embeddings, of this layer).
    pub cols: usize,
    /// Model name (embeddings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Layer name (embeddings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Element type on disk (embeddings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// Atom rows pooled into this layer's `rows` (per-atom embeddings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atoms: Option<usize>,
}

/// The composition basis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompositionInfo {
    /// Element columns (without the intercept).
    pub columns: Vec<String>,
    /// `counts` or `fractions`.
    pub mode: String,
    /// Numerical rank of `[1 | C]`.
    pub rank: usize,
    /// Columns of `[1 | C]` dropped as linearly dependent.
    pub dropped: Vec<String>,
    /// Relative tolerance of the rank decision.
    pub rank_tol: f64,
    /// Elements in fewer than 5 training structures of some fold
    /// ([`crate::analyses::rare`]), rarest first; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rare: Vec<RareElement>,
}

/// An element in few training structures of some fold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RareElement {
    /// Element (composition column).
    pub element: String,
    /// Structures that contain it.
    pub structures: usize,
    /// Fewest training structures that contain it, over the folds.
    pub fewest_training: usize,
    /// Folds whose training rows contain it in fewer than 5 structures.
    pub folds: Vec<usize>,
}

/// Scores of one probe on one representation of one target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResultRecord {
    /// Model name (the NAME of `--embeddings NAME=PATH`).
    pub model: String,
    /// Layer (array name in an `.npz`, else the file stem).
    pub layer: String,
    /// Channel group, when the layer was split (`null`: all columns).
    pub channels: Option<String>,
    /// Target column.
    pub target: String,
    /// `composition`, `raw` or `geom`.
    pub representation: String,
    /// Probe name.
    pub probe: String,
    /// Mean of the per-fold R².
    #[serde(with = "finite")]
    pub r2_mean: Option<f64>,
    /// Population standard deviation (ddof 0) of the per-fold R².
    #[serde(with = "finite")]
    pub r2_std: Option<f64>,
    /// R² of all out-of-fold predictions pooled.
    #[serde(with = "finite")]
    pub r2_pooled: Option<f64>,
    /// Pooled out-of-fold mean absolute error (target units).
    #[serde(with = "finite")]
    pub mae: Option<f64>,
    /// Pooled out-of-fold root mean squared error (target units).
    #[serde(with = "finite")]
    pub rmse: Option<f64>,
    /// Rows scored.
    pub n: usize,
    /// Number of folds.
    pub folds: usize,
    /// Median of the per-fold alphas (the lower middle one for an even
    /// number of folds); `null` for probes without one.
    pub alpha: Option<f64>,
    /// Alpha chosen on each training fold.
    pub alphas: Option<Vec<f64>>,
    /// R² on each held-out fold.
    pub r2_folds: Vec<f64>,
    /// Median of the per-fold R² (mean of the middle two for an even
    /// number of folds), robust to one bad fold where the mean is not.
    #[serde(default, with = "finite")]
    pub r2_median: Option<f64>,
    /// Whether the record is flagged by the instability rule
    /// ([`crate::analyses::instability::RULE`]): its mean R² is decided by a few
    /// structures, not by the representation.
    #[serde(default)]
    pub unstable: bool,
    /// Ridge with an alpha grid: whether some training fold chose the
    /// smallest or the largest alpha of the grid (the grid, not the data,
    /// set the penalty); `null` for other probes and a fixed alpha.
    #[serde(default)]
    pub alpha_at_edge: Option<bool>,
    /// Per held-out fold: its R², the structure with the largest share of
    /// its squared error, and its largest extrapolation.
    #[serde(default)]
    pub fold_diagnostics: Vec<FoldDiagnostic>,
    /// Pairwise accuracy on held-out isomers ([`crate::analyses::isomer`]):
    /// among pairs of structures with identical composition in the same
    /// held-out fold and different targets, the fraction whose out-of-fold
    /// predictions are in the same order (ties ½); `null` without pairs.
    #[serde(default, with = "finite")]
    pub isomer_accuracy: Option<f64>,
    /// Isomer pairs scored.
    #[serde(default)]
    pub isomer_pairs: usize,
    /// 95 % interval of the isomer accuracy: a bootstrap over the isomer
    /// groups ([`crate::analyses::isomer::Isomers::interval`]).
    #[serde(default)]
    pub isomer_ci: Option<[f64; 2]>,
    /// 95 % interval of `r2_mean`: a seeded bootstrap over structures of
    /// the out-of-fold predictions ([`crate::flow::bootstrap`]); `null`
    /// with `--bootstrap 0`.
    #[serde(default)]
    pub r2_ci: Option<[f64; 2]>,
    /// Permutation null of `r2_mean` (`--permutations N`,
    /// [`crate::flow::permutation`]); `null` without permutations.
    #[serde(default)]
    pub null: Option<crate::flow::permutation::Null>,
    /// The bootstrap replicates of `r2_mean`, paired across the records of
    /// a run. Kept in a shard's partial report, for `cpd merge`'s paired
    /// comparisons; a whole report leaves them out.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "nan_vec")]
    pub replicates: Vec<f64>,
    /// Conditional R² of a residual (`geom`) record: what the residual adds
    /// to composition for this probe ([`crate::probe::cv::cross_validate_conditional`]).
    /// The same probe fitted on composition alone, then fitted on the
    /// residual to what the composition model leaves; the fold-mean R² of
    /// the two together minus that of the composition model alone, on the
    /// same folds. `null` for `composition` and `raw` records.
    #[serde(default, with = "finite")]
    pub r2_cond: Option<f64>,
    /// The conditional R² on each held-out fold (the same difference).
    #[serde(default)]
    pub r2_cond_folds: Vec<f64>,
    /// 95 % interval of `r2_cond` (paired bootstrap: both terms on the same
    /// draws); `null` with `--bootstrap 0`.
    #[serde(default)]
    pub r2_cond_ci: Option<[f64; 2]>,
    /// The bootstrap replicates of `r2_cond` (kept as `replicates` is).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "nan_vec")]
    pub cond_replicates: Vec<f64>,
}

/// What decided one held-out fold's score.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FoldDiagnostic {
    /// Fold number (from 0).
    pub fold: usize,
    /// R² on the fold.
    #[serde(with = "finite")]
    pub r2: Option<f64>,
    /// Id of the held-out structure with the largest squared error
    /// (`null` when the fold's squared error is zero).
    pub worst_id: Option<String>,
    /// Its share of the fold's sum of squared errors, in [0, 1].
    #[serde(with = "finite")]
    pub worst_share: Option<f64>,
    /// Id of the held-out structure with the largest `|z|` against the
    /// training fold (`null` when every held-out value is at the mean).
    pub extrapolation_id: Option<String>,
    /// The column (0-based, of this representation) where it lies.
    pub extrapolation_column: Option<usize>,
    /// `|x − mean| / scale` with the training fold's `StandardScaler`
    /// statistics, before any clipping.
    #[serde(with = "finite")]
    pub extrapolation_z: Option<f64>,
}

/// A structure that dominates some fold of some record: the run's
/// instability summary, one entry per distinct structure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Culprit {
    /// Structure id.
    pub id: String,
    /// Its composition, e.g. `C2F6` (`null` for fractions).
    pub formula: Option<String>,
    /// The fold it is held out in.
    pub fold: usize,
    /// Keys of the unstable records whose fold it decides
    /// ([`crate::analyses::instability::is_culprit`]).
    pub records: Vec<String>,
    /// Its largest share of its fold's squared error over those records.
    pub max_share: f64,
    /// Its largest `|z|` against the training fold, over every
    /// representation where it is the fold's largest extrapolation
    /// (`null` when it is not).
    #[serde(with = "finite")]
    pub max_z: Option<f64>,
}

/// The run's instability summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Instability {
    /// The rule that flags a record `unstable`.
    pub rule: String,
    /// Keys of the unstable records.
    pub unstable: Vec<String>,
    /// Structures that decide a fold of an unstable record
    /// ([`crate::analyses::instability::is_culprit`]), most records first.
    pub culprits: Vec<Culprit>,
    /// Keys of the ridge records whose alpha sits at an edge of the grid
    /// on some fold.
    pub alpha_at_edge: Vec<String>,
}

impl ResultRecord {
    /// The identity of a record, used to match records across reports.
    pub fn key(&self) -> String {
        record_key(
            &self.model,
            &self.layer,
            self.channels.as_deref(),
            &self.target,
            &self.representation,
            &self.probe,
        )
    }
}

/// `model/layer/channels/target/representation/probe`, channels `-` when
/// the record covers the whole layer.
pub fn record_key(
    model: &str,
    layer: &str,
    channels: Option<&str>,
    target: &str,
    representation: &str,
    probe: &str,
) -> String {
    format!(
        "{model}/{layer}/{}/{target}/{representation}/{probe}",
        channels.unwrap_or("-")
    )
}

/// One probe's verdict on one control target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InflationRecord {
    /// Model.
    pub model: String,
    /// Layer.
    pub layer: String,
    /// Channel group, if any.
    pub channels: Option<String>,
    /// Probe.
    pub probe: String,
    /// Control target (`ctrl_*`).
    pub control: String,
    /// Whether the control is linear in the counts (the projection removes
    /// it, so any probe should score ≈ 0 on it).
    pub linear: bool,
    /// R²_geom of the probe on the control.
    #[serde(with = "finite")]
    pub r2_geom: Option<f64>,
    /// Conditional R² of the probe on the control (≈ 0 for every probe
    /// when the conditional numbers can be trusted).
    #[serde(default, with = "finite")]
    pub r2_cond: Option<f64>,
    /// The threshold applied.
    pub threshold: f64,
    /// `r2_cond > threshold`: the probe's conditional numbers read
    /// composition (the lead of the controls' section in `report.md` says
    /// what each flag means).
    pub inflated: bool,
    /// `r2_geom > threshold`: the probe reads composition out of the
    /// residual, so its R²_geom on real targets is inflated.
    #[serde(default)]
    pub geom_inflated: bool,
}

/// R²_geom of one channel group for one target and probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RoutingRecord {
    /// Model.
    pub model: String,
    /// Layer.
    pub layer: String,
    /// Channel group.
    pub group: String,
    /// Target.
    pub target: String,
    /// Probe.
    pub probe: String,
    /// R²_geom (mean over folds).
    #[serde(with = "finite")]
    pub r2_geom: Option<f64>,
}

/// One point of a learning curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CurveRecord {
    /// Model.
    pub model: String,
    /// Layer.
    pub layer: String,
    /// Target.
    pub target: String,
    /// `composition`, `raw` or `geom`.
    pub representation: String,
    /// Probe.
    pub probe: String,
    /// Training rows.
    pub n_train: usize,
    /// Subsamples per fold.
    pub repeats: usize,
    /// Mean R² over folds × repeats.
    #[serde(with = "finite")]
    pub r2_mean: Option<f64>,
    /// Population std over folds × repeats.
    #[serde(with = "finite")]
    pub r2_std: Option<f64>,
}

/// The disentanglement diagnostic of one (model, layer, channels, target):
/// how much a nonlinear probe reads from the residual beyond a linear one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GapRecord {
    /// Model name.
    pub model: String,
    /// Layer.
    pub layer: String,
    /// Channel group (`null`: all columns).
    pub channels: Option<String>,
    /// Target column.
    pub target: String,
    /// Mean per-fold R² of ridge on the residual.
    #[serde(with = "finite")]
    pub r2_geom_ridge: Option<f64>,
    /// Mean per-fold R² of the MLP on the residual.
    #[serde(with = "finite")]
    pub r2_geom_mlp: Option<f64>,
    /// Conditional R² of ridge on the residual (what it adds to
    /// composition, [`ResultRecord::r2_cond`]).
    #[serde(default, with = "finite")]
    pub r2_cond_ridge: Option<f64>,
    /// Conditional R² of the MLP on the residual.
    #[serde(default, with = "finite")]
    pub r2_cond_mlp: Option<f64>,
    /// The nonlinear excess `r2_cond_mlp − r2_cond_ridge`: positive when
    /// the residual holds signal beyond composition that a linear probe
    /// cannot read.
    #[serde(with = "finite")]
    pub gap: Option<f64>,
    /// The paper's gap on the residual, `r2_geom_mlp − r2_geom_ridge`: it
    /// counts composition that the MLP reads back out of the residual.
    #[serde(default, with = "finite")]
    pub gap_geom: Option<f64>,
    /// `r2_cond_ridge − |gap|`: high when the residual adds to composition
    /// and what it adds is linearly readable.
    #[serde(with = "finite")]
    pub disentanglement: Option<f64>,
    /// 95 % interval of `gap`: the paired bootstrap of the two records
    /// ([`crate::flow::bootstrap`]).
    #[serde(default)]
    pub gap_ci: Option<[f64; 2]>,
}

/// One paired comparison behind the verdict: two candidates scored on the
/// same structures, their difference and its paired-bootstrap interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    /// `ranking` (adjacent models of the model ranking, by their score) or
    /// `best_layer` (a model's best layer against its runner-up, by mean
    /// ridge R²_geom over targets).
    pub kind: String,
    /// The higher-scored candidate (`model` or `model/layer`).
    pub a: String,
    /// The lower-scored candidate.
    pub b: String,
    /// Score of `a` minus score of `b`, its interval and whether that
    /// holds 0 ("tied").
    #[serde(flatten)]
    pub difference: crate::flow::bootstrap::Difference,
}

/// The best layer of a model for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerPick {
    /// Target.
    pub target: String,
    /// Layer.
    pub layer: String,
    /// The value that picked it (R²_geom for `best`, the gap for `most_nonlinear`).
    #[serde(with = "nan_as_null")]
    pub value: f64,
}

/// One model's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelProfile {
    /// Model.
    pub model: String,
    /// Per target, the layer with the highest ridge R²_geom.
    pub best_layer: Vec<LayerPick>,
    /// Per target, the layer with the largest gap R²_geom,mlp − R²_geom,ridge
    /// (empty when the MLP probe did not run).
    pub most_nonlinear_layer: Vec<LayerPick>,
    /// The model's score (see [`Profiles::score`]; computed by
    /// [`crate::analyses::profile`]); NaN (`null`) when a probe it needs
    /// did not run on the model, as in a shard of a run.
    #[serde(with = "nan_as_null")]
    pub score: f64,
    /// 95 % interval of the score: the score of the picked layers'
    /// bootstrap replicates ([`crate::flow::bootstrap`]).
    #[serde(default)]
    pub score_ci: Option<[f64; 2]>,
    /// Whether the model's residual adds to composition: the score's
    /// interval lies above 0 ([`crate::analyses::profile::has_signal`]).
    /// A model without is "no geometric signal" and ranks last.
    #[serde(default = "yes")]
    pub signal: bool,
    /// Mean over targets of the best layers' nonlinear excess
    /// R²_cond,mlp − R²_cond,ridge (`null` without the MLP probe).
    #[serde(default, with = "finite")]
    pub nonlinear_excess: Option<f64>,
    /// 95 % interval of `nonlinear_excess` (paired bootstrap).
    #[serde(default)]
    pub nonlinear_excess_ci: Option<[f64; 2]>,
    /// The score's bootstrap replicates (for the ranking's paired
    /// comparisons; never written).
    #[serde(skip)]
    pub replicates: Vec<f64>,
}

/// Profiles of every model, ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profiles {
    /// What the ranking score is.
    pub score: String,
    /// Probes the profiles used.
    pub probes: Vec<String>,
    /// Models, best first.
    pub ranking: Vec<ModelProfile>,
}

/// Statistics of one whole layer ([`crate::analyses::layerstats`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerStatsRecord {
    /// Model.
    pub model: String,
    /// Layer.
    pub layer: String,
    /// Rows.
    pub n: usize,
    /// Columns.
    pub dim: usize,
    /// `1 − ‖H_geom‖²_F / ‖H − mean‖²_F`: the share of the centred variance
    /// that is linear in composition (`null` for a constant layer).
    #[serde(with = "finite")]
    pub composition_share: Option<f64>,
    /// Participation ratio `(Σλ)²/Σλ²` of the raw covariance spectrum.
    #[serde(with = "finite")]
    pub effective_dim_raw: Option<f64>,
    /// The same of the residual's covariance spectrum.
    #[serde(with = "finite")]
    pub effective_dim_geom: Option<f64>,
    /// TwoNN intrinsic dimension of the raw rows compared (with
    /// `--compare`; [`crate::analyses::compare::knn::two_nn`]).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "finite")]
    pub intrinsic_dim_raw: Option<f64>,
    /// The same of the residual.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "finite")]
    pub intrinsic_dim_geom: Option<f64>,
}

/// A layer's TwoNN intrinsic dimension on raw and geom, as the comparison
/// stage measured it (a sharded run's shard 0 carries it for every layer
/// in its `shard` section; `layer_stats` holds it in a report).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntrinsicDims {
    /// Model.
    pub model: String,
    /// Layer.
    pub layer: String,
    /// On raw.
    #[serde(with = "finite")]
    pub raw: Option<f64>,
    /// On geom.
    #[serde(with = "finite")]
    pub geom: Option<f64>,
}

/// One comparison measure from one layer (or channel group) to another,
/// on one representation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ComparisonRecord {
    /// `gfre`, `gfrd`, `lfre`, `imbalance` or `cka_unbiased`.
    pub measure: String,
    /// `raw` or `geom`.
    pub representation: String,
    /// The model compared from (the source of a reconstruction).
    pub model_from: String,
    /// Its layer.
    pub layer_from: String,
    /// Its channel group (absent: the whole layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels_from: Option<String>,
    /// The model compared to (the target of a reconstruction).
    pub model_to: String,
    /// Its layer.
    pub layer_to: String,
    /// Its channel group (absent: the whole layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels_to: Option<String>,
    /// The value (`null`: undefined, e.g. a representation without variance).
    #[serde(with = "finite")]
    pub value: Option<f64>,
    /// 95 % bootstrap interval over the structures (the reconstruction
    /// errors and the imbalance; absent otherwise or without replicates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
    /// The held-out value on each fold (reconstruction errors only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<f64>,
    /// Structures compared.
    pub n: usize,
}

/// Linear CKA between two layers on one representation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SimilarityRecord {
    /// `raw` or `geom`.
    pub representation: String,
    /// First layer's model.
    pub model_a: String,
    /// First layer.
    pub layer_a: String,
    /// Second layer's model.
    pub model_b: String,
    /// Second layer.
    pub layer_b: String,
    /// `‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)` on centred rows (`null` when a layer
    /// is constant).
    #[serde(with = "finite")]
    pub cka: Option<f64>,
}

/// Wall-clock timing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timing {
    /// Seconds spent in the analysis (loading to scoring).
    pub seconds: f64,
}

/// Serialise non-finite floats as `null` (JSON has no NaN).
/// `true`: the serde default of a flag that old reports lack.
fn yes() -> bool {
    true
}

mod finite {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) if x.is_finite() => s.serialize_f64(*x),
            _ => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<f64>::deserialize(d)
    }
}

fn standard_scale() -> crate::probe::scale::Scale {
    crate::probe::scale::Scale::Standard
}

/// Floats that may be NaN: each written as `null` and read back as NaN.
mod nan_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.is_finite().then_some(*x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}

/// A float that may be NaN: written as `null` (as serde_json writes any
/// non-finite float) and read back from `null` as NaN, so that a report
/// holding one reads back (`cpd merge`, `cpd check`).
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// `Some(x)` when finite, else `None`.
pub fn finite_or_none(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Hand-made reports for the exporters' unit tests.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    /// A record with the given mean R² (std 0.02, or `None` when the mean is).
    pub fn record(
        model: &str,
        layer: &str,
        target: &str,
        rep: &str,
        r2: Option<f64>,
    ) -> ResultRecord {
        ResultRecord {
            model: model.into(),
            layer: layer.into(),
            channels: None,
            target: target.into(),
            representation: rep.into(),
            probe: "ridge".into(),
            r2_mean: r2,
            r2_std: r2.map(|_| 0.02),
            r2_pooled: r2,
            mae: Some(0.5),
            rmse: Some(0.7),
            n: 100,
            folds: 5,
            alpha: Some(10.0),
            alphas: Some(vec![10.0; 5]),
            r2_folds: vec![r2.unwrap_or(f64::NAN); 5],
            r2_median: r2,
            unstable: false,
            alpha_at_edge: Some(false),
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

    /// comp / raw / geom records of one model/layer and target.
    pub fn triple(
        model: &str,
        layer: &str,
        target: &str,
        r2: [Option<f64>; 3],
    ) -> Vec<ResultRecord> {
        ["composition", "raw", "geom"]
            .into_iter()
            .zip(r2)
            .map(|(rep, v)| record(model, layer, target, rep, v))
            .collect()
    }

    /// A report around `results`.
    pub fn report(results: Vec<ResultRecord>) -> Report {
        let mut targets: Vec<String> = Vec::new();
        for r in &results {
            if !targets.contains(&r.target) {
                targets.push(r.target.clone());
            }
        }
        Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "cpd".into(),
                version: "0.1.0".into(),
            },
            settings: Settings {
                folds: 5,
                seed: Some(0),
                folds_file: None,
                fold_sizes: vec![20; 5],
                probes: vec!["ridge".into()],
                targets,
                skipped: Vec::new(),
                ridge: RidgeSettings {
                    alphas: vec![0.1, 1.0, 10.0],
                    selection: "loo".into(),
                },
                probe_params: Default::default(),
                residualize_target: false,
                composition_mode: "counts".into(),
                residual_zero_tol: [("float32".to_string(), 1e-5), ("float64".to_string(), 1e-9)]
                    .into_iter()
                    .collect(),
                linalg_backend: "faer".into(),
                scale: Default::default(),
                pool: None,
                similarity: false,
                compare: Vec::new(),
                compare_rows: None,
                max_rows: None,
                group_folds: None,
                permutations: 0,
                bootstrap: 0,
            },
            inputs: vec![InputInfo {
                role: "embeddings".into(),
                path: "data/<emb> & co.npz".into(),
                sha256: "0123456789abcdef0123456789abcdef".into(),
                rows: 100,
                cols: 8,
                model: Some("m".into()),
                layer: Some("l".into()),
                dtype: Some("float32".into()),
                atoms: None,
            }],
            composition: CompositionInfo {
                columns: vec!["H".into(), "C".into()],
                mode: "counts".into(),
                rank: 3,
                dropped: vec![],
                rank_tol: 1e-12,
                rare: Vec::new(),
            },
            inflation: Vec::new(),
            channel_routing: Vec::new(),
            learning_curves: Vec::new(),
            profiles: None,
            instability: Default::default(),
            layer_stats: Vec::new(),
            similarity: Vec::new(),
            comparison: Vec::new(),
            verdict: Vec::new(),
            comparisons: Vec::new(),
            gaps: Vec::new(),
            results,
            timing: Timing { seconds: 1.25 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A shard's profile of a model can lack a probe, so its score is NaN:
    // the partial report must read back for `cpd merge`.
    #[test]
    fn a_nan_profile_score_is_written_as_null_and_read_back_as_nan() {
        let p = ModelProfile {
            model: "m".into(),
            best_layer: vec![LayerPick {
                target: "t".into(),
                layer: "l".into(),
                value: f64::NAN,
            }],
            most_nonlinear_layer: Vec::new(),
            score: f64::NAN,
            score_ci: None,
            signal: false,
            nonlinear_excess: None,
            nonlinear_excess_ci: None,
            replicates: Vec::new(),
        };
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"score\":null"), "{json}");
        let back: ModelProfile = serde_json::from_str(&json).unwrap();
        assert!(back.score.is_nan() && back.best_layer[0].value.is_nan());
        let finite = ModelProfile { score: 0.25, ..p };
        let back: ModelProfile =
            serde_json::from_str(&serde_json::to_string(&finite).unwrap()).unwrap();
        assert_eq!(back.score, 0.25);
    }
}
