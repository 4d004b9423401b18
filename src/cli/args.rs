//! Stage one of the command line: the arguments as clap parses and checks
//! them (types, ranges, conflicts), grouped under help headings. Nothing
//! here reads a file; [`super::config`] turns them into the run.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use cpd::io::peratom::Pool;

#[derive(Parser)]
#[command(
    name = "cpd",
    version,
    about = "Composition Projection Decomposition: what do atomistic embeddings encode beyond composition?"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Probe embeddings on composition alone, raw, and the composition-free residual.
    ///
    /// Without arguments, runs the bundled QM9 demo (data/demo.toml) and writes to reports/.
    Analyze(Box<AnalyzeArgs>),
    /// Compare a report with a baseline report: exit 0 when every baseline record is present and within tolerance, 1 otherwise.
    Check(CheckArgs),
    /// Describe an embedding file: shape, dtype, layout, NaN/Inf counts, column statistics.
    Inspect(InspectArgs),
    /// Pool a per-atom .npz into a per-structure .npz (ids, layers, irreps), to analyse it many times.
    Pool(PoolArgs),
    /// Join the partial reports of `cpd analyze --shard I/N` into the full report.
    Merge(MergeArgs),
    /// Write (and with --submit, submit) a SLURM array job of shards and a dependent merge job.
    Slurm(SlurmArgs),
}

/// `cpd merge`.
#[derive(clap::Args)]
pub struct MergeArgs {
    /// The parts: each shard's output directory (or its report.json), every shard of the run once.
    #[arg(required = true, value_name = "PART")]
    pub parts: Vec<PathBuf>,
    /// Write the merged report (every file `cpd analyze --out` writes) here.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `cpd slurm`.
#[derive(clap::Args)]
pub struct SlurmArgs {
    /// Run manifest (TOML) to analyse.
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// Number of shards (array tasks).
    #[arg(long, value_name = "N")]
    pub shards: usize,
    /// Directory for the scripts, the parts (DIR/parts/I), the logs (DIR/logs) and the merged report.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Extra sbatch options for both jobs, whitespace-separated (no quoting), e.g. "--partition=cpu --time=02:00:00".
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub sbatch_args: Option<String>,
    /// Submit both jobs (sbatch must be on PATH).
    #[arg(long)]
    pub submit: bool,
}

/// `cpd pool`.
#[derive(clap::Args)]
pub struct PoolArgs {
    /// Per-atom .npz (a `structure` or `n_atoms` array).
    pub file: PathBuf,
    /// Output .npz.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// mean, sum or max [default: mean].
    #[arg(long, value_name = "MODE", value_parser = parse_pool)]
    pub pool: Option<Pool>,
}

/// `--pool`: the library's parser, for clap.
fn parse_pool(text: &str) -> Result<Pool, String> {
    Pool::parse(text).map_err(|e| e.to_string())
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CompositionArg {
    /// Atom counts per element (molecules).
    Counts,
    /// Atom fractions per element (crystals).
    Fractions,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InvariantsArg {
    /// The norm of each copy's 2L+1 components.
    Norms,
    /// The raw components.
    Components,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// A progress bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// Always report progress: a bar on a terminal, one line per layer otherwise.
    Always,
    /// Never.
    Never,
}

#[derive(clap::Args)]
pub struct AnalyzeArgs {
    /// Run manifest (TOML): dataset, models and settings; paths relative to it. Flags given beside it override its settings.
    #[arg(help_heading = "Inputs", long, value_name = "FILE", conflicts_with_all = ["embeddings", "compositions", "structures", "targets", "folds_file"])]
    pub manifest: Option<PathBuf>,
    /// Embedding file as NAME=PATH (.npy, .npz with one array per layer, or .csv with an id column); repeatable. NAME defaults to the file stem.
    #[arg(help_heading = "Inputs", long = "embeddings", value_name = "NAME=PATH")]
    pub embeddings: Vec<String>,
    /// Composition CSV: an id column and one count column per element symbol.
    #[arg(
        help_heading = "Inputs",
        long,
        value_name = "FILE",
        conflicts_with = "structures"
    )]
    pub compositions: Option<PathBuf>,
    /// Extended-XYZ structures to derive compositions from (id from each frame's id=, else its index).
    #[arg(help_heading = "Inputs", long, value_name = "FILE")]
    pub structures: Option<PathBuf>,
    /// Targets CSV: an id column and one column per target.
    #[arg(help_heading = "Inputs", long, value_name = "FILE")]
    pub targets: Option<PathBuf>,
    /// Target column to probe; repeatable or comma-separated [default: all].
    #[arg(
        help_heading = "Inputs",
        long = "target",
        value_name = "T",
        value_delimiter = ','
    )]
    pub target: Vec<String>,
    /// Probes to run, comma-separated: ridge, mlp, gbt [default: ridge].
    #[arg(
        help_heading = "Probes",
        long,
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub probes: Option<Vec<String>>,
    /// Number of shuffled cross-validation folds [default: 5].
    #[arg(help_heading = "Probes", long, value_name = "K")]
    pub folds: Option<usize>,
    /// Seed of the fold shuffle and of the MLP networks [default: 0].
    #[arg(help_heading = "Probes", long, value_name = "N")]
    pub seed: Option<u64>,
    /// Use this fold assignment (CSV with columns id,fold) instead of shuffled folds.
    #[arg(help_heading = "Inputs", long, value_name = "FILE", conflicts_with_all = ["folds", "seed"])]
    pub folds_file: Option<PathBuf>,
    /// Fixed ridge alpha (no selection).
    #[arg(
        help_heading = "Ridge",
        long,
        value_name = "A",
        conflicts_with = "alphas"
    )]
    pub alpha: Option<f64>,
    /// Ridge alpha grid for leave-one-out selection, comma-separated [default: logspace(-3,3,13)].
    #[arg(
        help_heading = "Ridge",
        long,
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub alphas: Option<Vec<f64>>,
    /// GBT probe: boosting rounds [default: 300].
    #[arg(help_heading = "GBT", long, value_name = "N")]
    pub gbt_rounds: Option<usize>,
    /// GBT probe: learning rate (shrinkage) [default: 0.1].
    #[arg(help_heading = "GBT", long, value_name = "ETA")]
    pub gbt_lr: Option<f64>,
    /// GBT probe: maximum leaves per tree, grown leaf-wise [default: 31].
    #[arg(help_heading = "GBT", long, value_name = "N")]
    pub gbt_leaves: Option<usize>,
    /// GBT probe: maximum tree depth [default: unlimited].
    #[arg(help_heading = "GBT", long, value_name = "N")]
    pub gbt_depth: Option<usize>,
    /// GBT probe: minimum training rows per leaf [default: 20].
    #[arg(help_heading = "GBT", long, value_name = "N")]
    pub gbt_min_leaf: Option<usize>,
    /// GBT probe: L2 penalty on leaf values [default: 0].
    #[arg(help_heading = "GBT", long, value_name = "LAMBDA")]
    pub gbt_l2: Option<f64>,
    /// GBT probe: maximum bins per feature (2..=255), from training-fold quantiles [default: 255].
    #[arg(help_heading = "GBT", long, value_name = "N")]
    pub gbt_bins: Option<usize>,
    /// GBT probe: hold out this fraction of each training fold and stop boosting when its error stops falling [default: off, all rounds].
    #[arg(help_heading = "GBT", long, value_name = "FRACTION")]
    pub gbt_validation: Option<f64>,
    /// GBT probe: rounds without a lower validation error before stopping (with --gbt-validation) [default: 10].
    #[arg(help_heading = "GBT", long, value_name = "N")]
    pub gbt_patience: Option<usize>,
    /// MLP probe: hidden ReLU units [default: 128].
    #[arg(help_heading = "MLP", long, value_name = "N")]
    pub mlp_hidden: Option<usize>,
    /// MLP probe: L2 penalty on the weights [default: 1e-4].
    #[arg(help_heading = "MLP", long, value_name = "ALPHA")]
    pub mlp_alpha: Option<f64>,
    /// MLP probe: Adam learning rate [default: 1e-3].
    #[arg(help_heading = "MLP", long, value_name = "LR")]
    pub mlp_lr: Option<f64>,
    /// MLP probe: minibatch size, capped at the rows trained on [default: 200].
    #[arg(help_heading = "MLP", long, value_name = "N")]
    pub mlp_batch: Option<usize>,
    /// MLP probe: maximum epochs [default: 200].
    #[arg(help_heading = "MLP", long, value_name = "N")]
    pub mlp_max_epochs: Option<usize>,
    /// MLP probe: early-stopping patience in epochs [default: 10].
    #[arg(help_heading = "MLP", long, value_name = "N")]
    pub mlp_patience: Option<usize>,
    /// Feature scaling of the ridge and MLP probes, on each training fold: standard (StandardScaler, per column), global (centred, one scale shared by every column), and clip / global-clip (the same, then every held-out row clipped to the training fold's per-column range: bounded extrapolation for rare elements). GBT bins its inputs and is unaffected [default: standard].
    #[arg(help_heading = "Probes", long, value_name = "MODE", value_parser = parse_scale)]
    pub scale: Option<cpd::probe::scale::Scale>,
    /// Also write predictions.csv: every record's out-of-fold prediction per structure (needs --out).
    #[arg(help_heading = "Output", long)]
    pub predictions: bool,
    /// Also compute linear CKA between every pair of layers of every model, on raw and geom (report.json 'similarity', similarity.csv, a heatmap).
    #[arg(help_heading = "Analyses", long)]
    pub similarity: bool,
    /// Also remove the composition-linear part of the target.
    #[arg(help_heading = "Probes", long)]
    pub residualize_target: bool,
    /// Add control targets computed from composition alone (atoms, mass, atoms², H fraction) and flag probes that are inflated on them.
    #[arg(help_heading = "Analyses", long)]
    pub controls: bool,
    /// R²_geom on a control above which a probe is flagged inflated [default: 0.1].
    #[arg(help_heading = "Analyses", long, value_name = "T")]
    pub inflation_threshold: Option<f64>,
    /// Also probe each irrep group of the layers, from an e3nn irreps string such as 128x0e+64x1o+32x2e.
    #[arg(
        help_heading = "Analyses",
        long,
        value_name = "IRREPS",
        conflicts_with = "channels"
    )]
    pub irreps: Option<String>,
    /// Also probe named column groups: name=start:end,... (0-based, end exclusive).
    #[arg(help_heading = "Analyses", long, value_name = "SPEC")]
    pub channels: Option<String>,
    /// L > 0 irreps as the norm of each copy's components (norms) or raw (components) [default: norms].
    #[arg(help_heading = "Analyses", long, value_enum)]
    pub invariants: Option<InvariantsArg>,
    /// Layers the channel groups apply to, comma-separated [default: every layer].
    #[arg(
        help_heading = "Analyses",
        long,
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub channel_layers: Option<Vec<String>>,
    /// Learning curves at these training sizes, comma-separated (e.g. 100,200,500,1000,2000).
    #[arg(
        help_heading = "Analyses",
        long,
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub learning_curve: Option<Vec<usize>>,
    /// Subsamples per learning-curve size and fold [default: 5].
    #[arg(help_heading = "Analyses", long, value_name = "N")]
    pub curve_repeats: Option<usize>,
    /// Composition as atom counts or fractions [default: counts].
    #[arg(help_heading = "Inputs", long, value_enum)]
    pub composition: Option<CompositionArg>,
    /// Pooling of per-atom .npz layers (a `structure` or `n_atoms` array) into one row per structure: mean, sum or max [default: mean].
    #[arg(help_heading = "Inputs", long, value_name = "MODE", value_parser = parse_pool)]
    pub pool: Option<Pool>,
    /// MLP and GBT probes: fit on a seeded subsample of at most N rows of each training fold (they hold their training rows in memory; every held-out row is still scored; ridge always uses every row) [default: every row].
    #[arg(help_heading = "Probes", long, value_name = "N")]
    pub max_rows: Option<usize>,
    /// Keep every structure of one composition in one fold (folds balanced by size, seeded), so no probe trains on an isomer of a held-out structure [default: ungrouped].
    #[arg(help_heading = "Probes", long, value_name = "BY", value_parser = parse_group_folds)]
    pub group_folds: Option<cpd::flow::folds::GroupFolds>,
    /// Refit every probe on N within-fold permutations of the targets: each record's null mean, 95th percentile and p-value [default: 0, none].
    #[arg(help_heading = "Probes", long, value_name = "N")]
    pub permutations: Option<usize>,
    /// Bootstrap replicates (over structures, of the out-of-fold predictions) behind every 95 % interval and paired comparison; 0: none [default: 1000].
    #[arg(help_heading = "Probes", long, value_name = "N")]
    pub bootstrap: Option<usize>,
    /// Write report.json, results.csv, report.md and folds.csv here.
    #[arg(help_heading = "Output", long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: RAYON_NUM_THREADS or all cores). Results do not depend on it.
    #[arg(help_heading = "Output", long, value_name = "N")]
    pub threads: Option<usize>,
    /// Progress on stderr.
    #[arg(help_heading = "Output", long, value_enum, default_value = "auto")]
    pub progress: ProgressArg,
    /// Print nothing but errors (implies --progress never).
    #[arg(help_heading = "Output", long, short)]
    pub quiet: bool,
    /// Run only shard I (from 0) of N of the run's work units (model × layer × probe, balanced by cost) and write a partial report to --out; `cpd merge` joins the N parts.
    #[arg(help_heading = "Output", long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<cpd::commands::analyze::shard::Shard>,
}

/// `--shard`: the library's parser, for clap.
fn parse_shard(text: &str) -> Result<cpd::commands::analyze::shard::Shard, String> {
    cpd::commands::analyze::shard::Shard::parse(text).map_err(|e| e.to_string())
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The reference report.json (records may carry their own "tol").
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// The new report.json.
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// Largest accepted |new − baseline| for records without their own tol.
    #[arg(long, value_name = "T", default_value_t = 0.02)]
    pub tol: f64,
    /// Record field compared: r2_mean, r2_median (robust to one bad fold), r2_pooled, r2_std, mae, rmse.
    #[arg(long, value_name = "NAME", default_value = "r2_mean")]
    pub metric: String,
    /// List every record, not only those that moved, are missing or are new.
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// Embedding file (.npy, .npz or .csv).
    pub file: PathBuf,
    /// Also print every column's statistics.
    #[arg(long)]
    pub columns: bool,
    /// Print the summary as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn parse_scale(s: &str) -> Result<cpd::probe::scale::Scale, String> {
    cpd::probe::scale::Scale::parse(s).map_err(|e| e.to_string())
}

fn parse_group_folds(s: &str) -> Result<cpd::flow::folds::GroupFolds, String> {
    cpd::flow::folds::GroupFolds::parse(s).map_err(|e| e.to_string())
}
