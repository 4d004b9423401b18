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
    /// Gate CI on a report: compare it with a baseline report, assert a manifest's [[checks]], or both.
    ///
    /// Exit status: 0 pass; 1 a baseline record moved or is missing, or an assertion failed; 2 bad input (an unreadable report, a bad manifest, a check whose selector matches no record).
    Check(CheckArgs),
    /// Describe an embedding file: shape, dtype, layout, NaN/Inf counts, column statistics.
    Inspect(InspectArgs),
    /// Pool a per-atom .npz into a per-structure .npz (ids, layers, irreps), to analyse it many times.
    Pool(PoolArgs),
    /// Join the partial reports of `cpd analyze --shard I/N` into the full report.
    Merge(MergeArgs),
    /// Write (and with --submit, submit) a SLURM array job of shards and a dependent merge job.
    Slurm(SlurmArgs),
    /// Print a generated reference page (Markdown): `cli` (docs/cli.md) or `settings` (docs/settings.md).
    #[command(hide = true)]
    Reference(ReferenceArgs),
}

/// `cpd reference`.
#[derive(clap::Args)]
pub struct ReferenceArgs {
    /// `cli` or `settings`.
    #[arg(value_enum)]
    pub page: Page,
}

/// A generated reference page.
#[derive(Clone, Copy, ValueEnum)]
pub enum Page {
    /// Every command and flag (docs/cli.md).
    Cli,
    /// Every setting (docs/settings.md).
    Settings,
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
    /// Resume a run in DIR: find the shards whose part is missing or incomplete and (with --submit) run those tasks alone, then the merge.
    #[arg(long)]
    pub resume: bool,
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
    #[arg(long, value_name = "MODE", value_enum)]
    pub pool: Option<Pool>,
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
    /// Run manifest (TOML): dataset, models and settings; paths relative to it. Settings given beside it override its own.
    #[arg(help_heading = "Inputs", long, value_name = "FILE", conflicts_with_all = ["embeddings", "compositions", "structures", "targets"])]
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
    /// Every setting (manifest `[settings]`; `cpd::settings`).
    #[command(flatten)]
    pub settings: cpd::settings::Settings,
    /// Print the effective settings as a manifest's [settings] table and exit; a manifest with them runs the same analysis.
    #[arg(help_heading = "Output", long)]
    pub print_settings: bool,
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
    pub shard: Option<cpd::run::shard::Shard>,
}

/// `--shard`: the library's parser, for clap.
fn parse_shard(text: &str) -> Result<cpd::run::shard::Shard, String> {
    cpd::run::shard::Shard::parse(text).map_err(|e| e.to_string())
}

/// `cpd check`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("against").args(["baseline", "manifest"]).required(true).multiple(true)))]
pub struct CheckArgs {
    /// The new report.json.
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// Compare with this report.json: every baseline record must be present and not have moved (records may carry their own "tol").
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Assert the [[checks]] of this run manifest on the report (a check that matches no record is an error).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// How a record is compared with the baseline: tol (|new − baseline| ≤ --tol, on any --metric; reports of any age) or interval (the new r2_mean lies in the baseline record's 95 % interval, r2_ci; records without one are judged by --tol).
    #[arg(long, value_enum, default_value_t = ModeArg::Tol, requires = "baseline")]
    pub mode: ModeArg,
    /// Largest accepted |new − baseline| for records without their own tol.
    #[arg(long, value_name = "T", default_value_t = 0.02, requires = "baseline")]
    pub tol: f64,
    /// Record field compared: r2_mean, r2_median (robust to one bad fold), r2_pooled, r2_std, mae, rmse (interval mode: r2_mean).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "r2_mean",
        requires = "baseline"
    )]
    pub metric: String,
    /// Output: text, json, junit (JUnit XML) or github (text, then ::error/::notice workflow commands; with $GITHUB_STEP_SUMMARY set, a Markdown table is appended to that file).
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Write the --format output to FILE (through a temporary file renamed into place) and print the text output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// List every record and assertion, not only those that failed or are new.
    #[arg(long)]
    pub all: bool,
}

/// `cpd check --mode`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// |new − baseline| ≤ tol.
    Tol,
    /// The new r2_mean lies in the baseline's 95 % interval.
    Interval,
}

/// `cpd check --format`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Tables and summary lines.
    Text,
    /// One JSON object.
    Json,
    /// JUnit XML.
    Junit,
    /// GitHub Actions workflow commands.
    Github,
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
