//! One `cpd analyze` run, in named stages, each a function of its own:
//!
//! 1. check the settings ([`check`]);
//! 2. load the compositions and targets ([`load::tables`]) and align them
//!    by id ([`load::align`]);
//! 3. split the rows into folds ([`split::folds`]);
//! 4. project composition out ([`Projection`]);
//! 5. probe and score every representation of every layer, one embedding
//!    file in memory at a time ([`probing::Run`]), with each layer's
//!    statistics; with `--similarity`, CKA between every pair of layers
//!    ([`layer_similarity::similarity`]);
//! 6. analyse the records and assemble the report ([`assemble::report`]).
//!
//! The caller gets a [`Report`] and the fold assignment; writing files and
//! printing are left to it. [`analyze_shard`] runs one shard of the work
//! ([`shard`]); [`analyze_records`] is stage 6's analyses alone, for
//! `cpd merge` to run over every shard's records.
//! [`analyze_in_memory`] runs the same stages on
//! arrays already in memory (the Python package) instead of files.

mod assemble;
pub mod jobs;
pub mod join;
mod layer_compare;
mod layer_similarity;
mod load;
mod probing;
mod residual;
pub mod shard;
mod split;

pub use assemble::analyze_records;
pub use residual::{residual_in_memory, ResidualRecord, ResidualScores};

use std::path::PathBuf;

use ndarray::Array2;
use std::time::Instant;

use crate::analyses::channels::ChannelSpec;
use crate::analyses::controls::constant_reason;
use crate::analyses::instability::Formulas;
use crate::analyses::isomer::Isomers;
use crate::analyses::rare::rare_elements;
use crate::error::{CpdError, Result};
use crate::flow::bootstrap::Resamples;
use crate::flow::dataset::{CompositionMode, Dataset};
use crate::flow::folds::{Folds, GroupFolds};
use crate::flow::projection::Projection;
use crate::io::embeddings::EmbeddingFile;
use crate::io::peratom::Pool;
use crate::io::table::Table;
use crate::probe::scale::Scale;
use crate::probe::{ProbeKind, ProbeParams, ProbeSet};
use crate::report::Report;

/// An embedding file (or a layer sharded over several files) and the model
/// name it is reported under.
#[derive(Debug, Clone)]
pub struct EmbeddingSpec {
    /// Model name.
    pub model: String,
    /// `.npy`, `.npz` or `.csv` file; several files are one sharded layer
    /// set whose rows concatenate in this order ([`crate::io::embeddings::open`]).
    pub paths: Vec<PathBuf>,
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
    /// Every probe's hyper-parameters.
    pub params: ProbeParams,
    /// Residualise the target against composition too.
    pub residualize_target: bool,
    /// Add the compositional control targets ([`crate::analyses::controls`]).
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
    /// Compute linear CKA between every pair of layers
    /// ([`crate::analyses::similarity`]).
    pub similarity: bool,
    /// Comparisons between every pair of layers
    /// ([`crate::analyses::compare`]; empty: none).
    pub compare: Vec<crate::analyses::compare::Measure>,
    /// Structures the comparisons use at most (a seeded subsample).
    pub compare_rows: usize,
    /// Fit the MLP and GBT probes on at most this many rows of each
    /// training fold (a seeded subsample, [`crate::probe::subsample`]);
    /// `None`: every row. Ridge always uses every row.
    pub max_rows: Option<usize>,
    /// Keep the rows of a group in one fold (`--group-folds`).
    pub group_folds: Option<GroupFolds>,
    /// Permutations of the targets for every record's null
    /// ([`crate::flow::permutation`]); 0: none.
    pub permutations: usize,
    /// Bootstrap replicates for every interval ([`crate::flow::bootstrap`]);
    /// 0: no intervals.
    pub bootstrap: usize,
    /// Compute every residual record's conditional R² (`r2_cond`): the
    /// verdict, the ranking, the gaps and the inflation flags read it, so
    /// the command line and the Python package always do. Off, a run fits
    /// no baselines and leaves `r2_cond` empty: for a caller that reads
    /// only R²_geom (the parity tests of the probes against scikit-learn
    /// and LightGBM), at about 1/1.4 of the cost.
    pub conditional: bool,
}

impl AnalyzeConfig {
    /// The run's seed: the fold seed, or 0 with a folds file. Learning
    /// curves, permutations and bootstrap draws derive from it.
    pub fn seed(&self) -> u64 {
        match &self.folds {
            FoldSpec::Shuffled { seed, .. } => *seed,
            FoldSpec::File(_) => 0,
        }
    }
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
    pub ids: crate::io::ids::Ids,
    /// Fold assignment used.
    pub folds: Folds,
    /// With [`AnalyzeConfig::predictions`], the out-of-fold predictions of
    /// every record (in row order, `ids`' order), parallel to
    /// `report.results`; empty otherwise.
    pub predictions: Vec<Vec<f64>>,
    /// The targets' values in row order, one column per target in
    /// `report.settings.targets` (after `--residualize-target`).
    pub targets: ndarray::Array2<f64>,
    /// Every compared layer's intrinsic dimension (with `compare`), also
    /// in `report.layer_stats` for the layers whose statistics it holds.
    pub intrinsic: Vec<crate::report::IntrinsicDims>,
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

/// Inputs already in memory (the Python package), used in place of the
/// files an [`AnalyzeConfig`] names: its `composition`, `targets` and each
/// embedding's `path` are then not read (the `path` of each table and
/// file here labels messages and the report's inputs). Everything else in
/// the config applies as it does to files, and the same data gives the
/// same report records as from files.
///
/// What is copied: nothing of an embedding held as [`Values::SharedF32`] or
/// [`Values::SharedF64`] whose rows are already in the compositions' order
/// (no `ids`, or the same ids in the same order); with other ids its
/// layers are copied once, reordered. The tables are cloned (they are
/// small).
///
/// [`Values::SharedF32`]: crate::io::embeddings::Values::SharedF32
/// [`Values::SharedF64`]: crate::io::embeddings::Values::SharedF64
#[derive(Debug, Clone)]
pub struct InMemory {
    /// Compositions: ids, element columns, values (as a compositions CSV
    /// would give them).
    pub compositions: Table,
    /// Targets: ids, names, values.
    pub targets: Table,
    /// One per `config.embeddings` entry, in the same order; layers are
    /// checked as a loaded file's are (finite values, at least one column).
    pub embeddings: Vec<EmbeddingFile>,
}

/// Run the analysis.
pub fn analyze(config: &AnalyzeConfig) -> Result<Analysis> {
    analyze_with_progress(config, &NoProgress)
}

/// Run the analysis, reporting progress to `progress`.
pub fn analyze_with_progress(config: &AnalyzeConfig, progress: &dyn Progress) -> Result<Analysis> {
    run(config, None, None, true, progress)
}

/// One shard of a run and its partial report.
#[derive(Debug, Clone)]
pub struct ShardAnalysis {
    /// The shard's records, analysed on their own, as a run of its units.
    pub analysis: Analysis,
    /// The `shard` section of its partial report (`folds_sha256` is left
    /// empty for the writer of `folds.csv` to fill).
    pub shard: shard::ShardInfo,
}

/// Run shard `which` of the run: the work units [`shard::partition`] gives
/// it, with the composition-only fits they need.
pub fn analyze_shard(
    config: &AnalyzeConfig,
    which: shard::Shard,
    progress: &dyn Progress,
) -> Result<ShardAnalysis> {
    check(config)?;
    let plan = shard::plan(config)?;
    let units = shard::units_of(&plan, which);
    // Similarity and the comparisons span every layer of every model:
    // shard 0 computes them and `cpd merge` takes them from there.
    let analysis = run(
        config,
        Some(&shard::Units(&units)),
        None,
        which.index == 0,
        progress,
    )?;
    for u in &units {
        if !analysis
            .report
            .results
            .iter()
            .any(|r| r.model == u.model && r.layer == u.layer && r.probe == u.probe)
        {
            return Err(CpdError::Invalid(format!(
                "shard {which}: layer '{}' of model '{}' was planned from the file's header but not probed",
                u.layer, u.model
            )));
        }
    }
    let inputs = shard::digests(config, &analysis.report)?;
    Ok(ShardAnalysis {
        shard: shard::ShardInfo {
            index: which.index,
            count: which.count,
            units,
            plan,
            inputs,
            intrinsic: analysis.intrinsic.clone(),
            settings: shard::ShardSettings {
                inflation_threshold: config.inflation_threshold,
                pool: config.pool.name().into(),
                predictions: config.predictions,
            },
            folds_sha256: String::new(),
        },
        analysis,
    })
}

/// Run the analysis on inputs in memory ([`InMemory`]) instead of the
/// files `config` names, reporting progress to `progress`.
pub fn analyze_in_memory(
    config: &AnalyzeConfig,
    data: &InMemory,
    progress: &dyn Progress,
) -> Result<Analysis> {
    check_memory(config, data)?;
    run(config, None, Some(data), true, progress)
}

/// One in-memory embedding per model of `config`.
fn check_memory(config: &AnalyzeConfig, data: &InMemory) -> Result<()> {
    if data.embeddings.len() != config.embeddings.len() {
        return Err(CpdError::Invalid(format!(
            "{} embedding(s) in memory for {} model(s)",
            data.embeddings.len(),
            config.embeddings.len()
        )));
    }
    Ok(())
}

/// What the first stages give every run: the probes (settings checked),
/// the inputs read so far, the aligned data set, the folds (and learning
/// curves' sizes), the projection and the targets to probe.
struct Prepared {
    probes: ProbeSet,
    inputs: Vec<crate::report::InputInfo>,
    ds: Dataset,
    folds: Folds,
    curve: Option<crate::analyses::curve::CurveSpec>,
    projection: Projection,
    y: Array2<f64>,
}

/// Stages 1 to 4: check the settings, load and align the tables, split
/// the folds, build the projection, and take the targets out of the data
/// set (residualised when asked; constant ones dropped).
fn prepare(config: &AnalyzeConfig, data: Option<&InMemory>) -> Result<Prepared> {
    let probes = check(config)?;
    let mut inputs = Vec::new();
    let tables = load::tables(config, data, &mut inputs)?;
    let mut ds = load::align(config, tables)?;
    let (folds, curve) = split::folds(config, &ds, &mut inputs)?;
    let projection = Projection::new(ds.composition.view(), &ds.composition_columns);
    // The targets move out of the data set (nothing after reads them
    // there): with millions of rows a copy would weigh.
    let y = if config.residualize_target {
        projection.residual_raw(ds.targets.view())
    } else {
        std::mem::take(&mut ds.targets)
    };
    let y = drop_constant_targets(&mut ds, y)?;
    Ok(Prepared {
        probes,
        inputs,
        ds,
        folds,
        curve,
        projection,
        y,
    })
}

/// The stages, for the whole run or for a shard's units, on files or on
/// inputs in memory.
/// `cross`: this run also computes what spans every layer of every model
/// (similarity, comparisons), as a whole run does and shard 0 of a
/// sharded one.
fn run(
    config: &AnalyzeConfig,
    only: Option<&shard::Units>,
    data: Option<&InMemory>,
    cross: bool,
    progress: &dyn Progress,
) -> Result<Analysis> {
    let start = Instant::now();
    let Prepared {
        probes,
        mut inputs,
        mut ds,
        folds,
        curve,
        projection,
        y,
    } = prepare(config, data)?;
    let isomers = Isomers::new(ds.composition.view(), &folds.assignment);
    let rare = rare_elements(ds.composition.view(), &ds.composition_columns, &folds);
    let formulas = Formulas::new(&ds);
    // The composition moves to the probing stage, which frees it once
    // composition alone is scored (unless learning curves need it again):
    // with millions of rows it weighs. Nothing after reads it in the data
    // set (the culprits' formulas come from `formulas`).
    let composition = std::mem::take(&mut ds.composition);
    let boxed = probes.list();
    let listed: Vec<(ProbeKind, &dyn crate::probe::Probe)> =
        boxed.iter().map(|(k, p)| (*k, p.as_ref())).collect();
    let run = probing::Run {
        config,
        probes: &listed,
        ridge: probes.ridge(),
        grid: probes.ridge().alphas(),
        ds: &ds,
        folds: &folds,
        curve: curve.as_ref(),
        projection: &projection,
        y: y.view(),
        progress,
        isomers: &isomers,
        only,
        memory: data.map(|d| d.embeddings.as_slice()),
        resamples: &Resamples::new(&folds, config.bootstrap, config.seed()),
        seed: config.seed(),
    };
    let probed = run.all(composition, &mut inputs)?;
    let similarity = if cross && config.similarity {
        progress.stage("similarity");
        layer_similarity::similarity(
            config,
            data.map(|d| d.embeddings.as_slice()),
            &ds,
            &projection,
            &inputs,
        )?
    } else {
        Vec::new()
    };
    let mut layer_stats = probed.layer_stats;
    let mut intrinsic = Vec::new();
    let comparison = if cross && !config.compare.is_empty() {
        progress.stage("comparisons");
        let compared = layer_compare::comparison(
            config,
            data.map(|d| d.embeddings.as_slice()),
            &ds,
            &projection,
            &folds,
            &inputs,
        )?;
        for d in &compared.intrinsic {
            if let Some(s) = layer_stats
                .iter_mut()
                .find(|s| s.model == d.model && s.layer == d.layer)
            {
                s.intrinsic_dim_raw = d.raw;
                s.intrinsic_dim_geom = d.geom;
            }
        }
        intrinsic = compared.intrinsic;
        compared.records
    } else {
        Vec::new()
    };
    let mut report = assemble::report(
        config,
        &probes,
        &ds,
        &folds,
        &projection,
        rare,
        &formulas,
        inputs,
        probed.results,
        probed.curves,
        probed.pooled,
        layer_stats,
        similarity,
        comparison,
        start,
    );
    // A shard's partial report keeps the replicates for `cpd merge`'s
    // paired comparisons; a whole run's report has used them.
    if only.is_none() {
        report.drop_replicates();
    }
    Ok(Analysis {
        report,
        ids: ds.ids,
        folds,
        predictions: probed.predictions,
        targets: y,
        intrinsic,
    })
}

/// The targets `y` without those that are constant (a constant target has
/// no R²), each recorded in `ds.skipped`; an error when none is left.
fn drop_constant_targets(ds: &mut Dataset, y: Array2<f64>) -> Result<Array2<f64>> {
    let mut keep = Vec::new();
    for (j, name) in ds.target_names.iter().enumerate() {
        match constant_reason(y.column(j)) {
            Some(reason) => ds.skipped.push((name.clone(), reason)),
            None => keep.push(j),
        }
    }
    if keep.len() == y.ncols() {
        return Ok(y);
    }
    if keep.is_empty() {
        let why: Vec<String> = ds
            .skipped
            .iter()
            .map(|(t, r)| format!("{t}: {r}"))
            .collect();
        return Err(CpdError::Invalid(format!(
            "no target left to probe in {} ({})",
            ds.targets_path.display(),
            why.join("; ")
        )));
    }
    ds.target_names = keep.iter().map(|&j| ds.target_names[j].clone()).collect();
    Ok(y.select(ndarray::Axis(1), &keep))
}

/// Check the settings that need no data: at least one embedding, unique
/// model names, one file per model when compositions come from its atoms,
/// and the probes ([`ProbeSet::new`]).
fn check(config: &AnalyzeConfig) -> Result<ProbeSet> {
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
    if matches!(config.composition, CompositionSource::Atoms(_))
        && config.embeddings[0].paths.len() > 1
    {
        return Err(CpdError::Invalid(format!(
            "model '{}' has {} files: compositions from per-atom `numbers` need one file; give the compositions (--compositions FILE)",
            config.embeddings[0].model,
            config.embeddings[0].paths.len()
        )));
    }
    let cap = match config.max_rows {
        Some(0) | Some(1) => {
            return Err(CpdError::Invalid(
                "setting `max_rows` must be at least 2".into(),
            ))
        }
        Some(max_rows) => Some((
            max_rows,
            match config.folds {
                FoldSpec::Shuffled { seed, .. } => seed,
                FoldSpec::File(_) => 0,
            },
        )),
        None => None,
    };
    ProbeSet::new(&config.probes, &config.params, config.scale, cap)
}
