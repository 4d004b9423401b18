//! `cpd` command line: parses arguments, calls the library, prints.
//!
//! Exit codes, for every command: 0 success; 1 `cpd check` found a record
//! that moved beyond tolerance or is missing; 2 usage or input error (bad
//! arguments, unreadable or inconsistent files).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use cpd::analysis::LearningCurve;
use cpd::analysis::{
    analyze_with_progress, AnalyzeConfig, CompositionSource, EmbeddingSpec, FoldSpec, NoProgress,
    Progress,
};
use cpd::check::{check, LoadedReport, Metric, Row, Status};
use cpd::controls::DEFAULT_INFLATION_THRESHOLD;
use cpd::dataset::CompositionMode;
use cpd::inspect::inspect;
use cpd::io::peratom::Pool;
use cpd::manifest::{channel_spec, Manifest, DEFAULT_CURVE_REPEATS};
use cpd::probe::gbt::GbtParams;
use cpd::probe::mlp::MlpParams;
use cpd::probe::ridge::RidgeParams;
use cpd::probe::scale::Scale;
use cpd::probe::ProbeKind;
use cpd::report::markdown::text_table;
use cpd::report::write::{predictions_csv, prepare_out_dir, write_outputs, PREDICTIONS_CSV};

#[derive(Parser)]
#[command(
    name = "cpd",
    version,
    about = "Composition Projection Decomposition: what do atomistic embeddings encode beyond composition?"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
}

/// `cpd pool` (per-atom).
#[derive(clap::Args)]
struct PoolArgs {
    /// Per-atom .npz (a `structure` or `n_atoms` array).
    file: PathBuf,
    /// Output .npz.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// mean, sum or max [default: mean].
    #[arg(long, value_name = "MODE", value_parser = parse_pool)]
    pool: Option<Pool>,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompositionArg {
    /// Atom counts per element (molecules).
    Counts,
    /// Atom fractions per element (crystals).
    Fractions,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScaleArg {
    /// StandardScaler on the training fold (scikit-learn parity).
    Standard,
    /// StandardScaler, then held-out features clipped to the training fold's range.
    Clip,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum InvariantsArg {
    /// The norm of each copy's 2L+1 components.
    Norms,
    /// The raw components.
    Components,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProgressArg {
    /// A progress bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// Always report progress: a bar on a terminal, one line per layer otherwise.
    Always,
    /// Never.
    Never,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Run manifest (TOML): dataset, models and settings; paths relative to it. Flags given beside it override its settings.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["embeddings", "compositions", "structures", "targets", "folds_file"])]
    manifest: Option<PathBuf>,
    /// Embedding file as NAME=PATH (.npy, .npz with one array per layer, or .csv with an id column); repeatable. NAME defaults to the file stem.
    #[arg(long = "embeddings", value_name = "NAME=PATH")]
    embeddings: Vec<String>,
    /// Composition CSV: an id column and one count column per element symbol.
    #[arg(long, value_name = "FILE", conflicts_with = "structures")]
    compositions: Option<PathBuf>,
    /// Extended-XYZ structures to derive compositions from (id from each frame's id=, else its index).
    #[arg(long, value_name = "FILE")]
    structures: Option<PathBuf>,
    /// Targets CSV: an id column and one column per target.
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// Target column to probe; repeatable or comma-separated [default: all].
    #[arg(long = "target", value_name = "T", value_delimiter = ',')]
    target: Vec<String>,
    /// Probes to run, comma-separated: ridge, mlp, gbt [default: ridge].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    probes: Option<Vec<String>>,
    /// Number of shuffled cross-validation folds [default: 5].
    #[arg(long, value_name = "K")]
    folds: Option<usize>,
    /// Seed of the fold shuffle and of the MLP networks [default: 0].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Use this fold assignment (CSV with columns id,fold) instead of shuffled folds.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["folds", "seed"])]
    folds_file: Option<PathBuf>,
    /// Fixed ridge alpha (no selection).
    #[arg(long, value_name = "A", conflicts_with = "alphas")]
    alpha: Option<f64>,
    /// Ridge alpha grid for leave-one-out selection, comma-separated [default: logspace(-3,3,13)].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    alphas: Option<Vec<f64>>,
    /// GBT probe: boosting rounds [default: 300].
    #[arg(long, value_name = "N")]
    gbt_rounds: Option<usize>,
    /// GBT probe: learning rate (shrinkage) [default: 0.1].
    #[arg(long, value_name = "ETA")]
    gbt_lr: Option<f64>,
    /// GBT probe: maximum leaves per tree, grown leaf-wise [default: 31].
    #[arg(long, value_name = "N")]
    gbt_leaves: Option<usize>,
    /// GBT probe: maximum tree depth [default: unlimited].
    #[arg(long, value_name = "N")]
    gbt_depth: Option<usize>,
    /// GBT probe: minimum training rows per leaf [default: 20].
    #[arg(long, value_name = "N")]
    gbt_min_leaf: Option<usize>,
    /// GBT probe: L2 penalty on leaf values [default: 0].
    #[arg(long, value_name = "LAMBDA")]
    gbt_l2: Option<f64>,
    /// GBT probe: maximum bins per feature (2..=255), from training-fold quantiles [default: 255].
    #[arg(long, value_name = "N")]
    gbt_bins: Option<usize>,
    /// GBT probe: hold out this fraction of each training fold and stop boosting when its error stops falling [default: off, all rounds].
    #[arg(long, value_name = "FRACTION")]
    gbt_validation: Option<f64>,
    /// GBT probe: rounds without a lower validation error before stopping (with --gbt-validation) [default: 10].
    #[arg(long, value_name = "N")]
    gbt_patience: Option<usize>,
    /// MLP probe: hidden ReLU units [default: 128].
    #[arg(long, value_name = "N")]
    mlp_hidden: Option<usize>,
    /// MLP probe: L2 penalty on the weights [default: 1e-4].
    #[arg(long, value_name = "ALPHA")]
    mlp_alpha: Option<f64>,
    /// MLP probe: Adam learning rate [default: 1e-3].
    #[arg(long, value_name = "LR")]
    mlp_lr: Option<f64>,
    /// MLP probe: minibatch size, capped at the rows trained on [default: 200].
    #[arg(long, value_name = "N")]
    mlp_batch: Option<usize>,
    /// MLP probe: maximum epochs [default: 200].
    #[arg(long, value_name = "N")]
    mlp_max_epochs: Option<usize>,
    /// MLP probe: early-stopping patience in epochs [default: 10].
    #[arg(long, value_name = "N")]
    mlp_patience: Option<usize>,
    /// Feature scaling of the ridge and MLP probes: standard (StandardScaler), or clip (the same, then every held-out row's standardised features clipped to the training fold's per-column range: bounded extrapolation for rare elements). GBT bins its inputs and is unaffected [default: standard].
    #[arg(long, value_enum, value_name = "MODE")]
    scale: Option<ScaleArg>,
    /// Also write predictions.csv: every record's out-of-fold prediction per structure (needs --out).
    #[arg(long)]
    predictions: bool,
    /// Also remove the composition-linear part of the target.
    #[arg(long)]
    residualize_target: bool,
    /// Add control targets computed from composition alone (atoms, mass, atoms², H fraction) and flag probes that are inflated on them.
    #[arg(long)]
    controls: bool,
    /// R²_geom on a control above which a probe is flagged inflated [default: 0.1].
    #[arg(long, value_name = "T")]
    inflation_threshold: Option<f64>,
    /// Also probe each irrep group of the layers, from an e3nn irreps string such as 128x0e+64x1o+32x2e.
    #[arg(long, value_name = "IRREPS", conflicts_with = "channels")]
    irreps: Option<String>,
    /// Also probe named column groups: name=start:end,... (0-based, end exclusive).
    #[arg(long, value_name = "SPEC")]
    channels: Option<String>,
    /// L > 0 irreps as the norm of each copy's components (norms) or raw (components) [default: norms].
    #[arg(long, value_enum)]
    invariants: Option<InvariantsArg>,
    /// Layers the channel groups apply to, comma-separated [default: every layer].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    channel_layers: Option<Vec<String>>,
    /// Learning curves at these training sizes, comma-separated (e.g. 100,200,500,1000,2000).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    learning_curve: Option<Vec<usize>>,
    /// Subsamples per learning-curve size and fold [default: 5].
    #[arg(long, value_name = "N")]
    curve_repeats: Option<usize>,
    /// Composition as atom counts or fractions [default: counts].
    #[arg(long, value_enum)]
    composition: Option<CompositionArg>,
    /// Pooling of per-atom .npz layers (a `structure` or `n_atoms` array) into one row per structure: mean, sum or max [default: mean].
    #[arg(long, value_name = "MODE", value_parser = parse_pool)]
    pool: Option<Pool>,
    /// Write report.json, results.csv, report.md and folds.csv here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Worker threads (default: RAYON_NUM_THREADS or all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Progress on stderr.
    #[arg(long, value_enum, default_value = "auto")]
    progress: ProgressArg,
    /// Print nothing but errors (implies --progress never).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The reference report.json (records may carry their own "tol").
    #[arg(long, value_name = "FILE")]
    baseline: PathBuf,
    /// The new report.json.
    #[arg(long, value_name = "FILE")]
    report: PathBuf,
    /// Largest accepted |new − baseline| for records without their own tol.
    #[arg(long, value_name = "T", default_value_t = 0.02)]
    tol: f64,
    /// Record field compared: r2_mean, r2_pooled, r2_std, mae, rmse.
    #[arg(long, value_name = "NAME", default_value = "r2_mean")]
    metric: String,
    /// List every record, not only those that moved, are missing or are new.
    #[arg(long)]
    all: bool,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// Embedding file (.npy, .npz or .csv).
    file: PathBuf,
    /// Also print every column's statistics.
    #[arg(long)]
    columns: bool,
    /// Print the summary as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// Return freed large blocks to the system at once.
///
/// glibc raises its mmap threshold each time a large block is freed (up to
/// 32 MiB), after which blocks of that size come from per-thread heaps that
/// are rarely given back: a run that frees many d×d and row-block buffers
/// then holds tens of MB it no longer uses (40 MB on a 40 000 × 512 layer).
/// Fixing the threshold at its default (128 KiB) keeps the peak at what is
/// live.
fn fix_malloc_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> ExitCode {
    fix_malloc_threshold();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => run_analyze(*args),
        Command::Check(args) => run_check(args),
        Command::Inspect(args) => run_inspect(args),
        Command::Pool(args) => run_pool(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The bundled demo manifest: `./data/demo.toml` if present, else the crate's own.
fn demo_manifest() -> PathBuf {
    let local = Path::new("data").join(DEMO_MANIFEST);
    if local.is_file() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(DEMO_MANIFEST)
    }
}

const DEMO_MANIFEST: &str = "demo.toml";

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("embedding")
        .to_owned()
}

fn parse_embedding(arg: &str) -> anyhow::Result<EmbeddingSpec> {
    // An existing file is a path even if it contains '=' (e.g. runs/lr=1e-3/e.npy).
    let (model, path) = if Path::new(arg).is_file() {
        (stem(Path::new(arg)), PathBuf::from(arg))
    } else {
        match arg.split_once('=') {
            Some((name, path)) if !name.is_empty() && !path.is_empty() => {
                (name.to_owned(), PathBuf::from(path))
            }
            Some(_) => bail!("--embeddings '{arg}': expected NAME=PATH"),
            None => (stem(Path::new(arg)), PathBuf::from(arg)),
        }
    };
    Ok(EmbeddingSpec {
        model,
        path,
        layers: None,
        channels: None,
        channel_layers: None,
    })
}

/// The run described by the flags alone (no manifest).
fn config_from_flags(args: &AnalyzeArgs) -> anyhow::Result<AnalyzeConfig> {
    if args.embeddings.is_empty() {
        bail!("--embeddings NAME=PATH or --manifest FILE is required (run `cpd analyze` without arguments for the bundled demo)");
    }
    let composition = match (&args.compositions, &args.structures) {
        (Some(c), None) => CompositionSource::Table(c.clone()),
        (None, Some(s)) => CompositionSource::Structures(s.clone()),
        // per-atom: counts from the first embedding file's `numbers`
        (None, None) => CompositionSource::Atoms(parse_embedding(&args.embeddings[0])?.path),
        _ => bail!("give one of --compositions FILE or --structures FILE"),
    };
    let Some(targets) = args.targets.clone() else {
        bail!("--targets FILE is required");
    };
    Ok(AnalyzeConfig {
        embeddings: args
            .embeddings
            .iter()
            .map(|e| parse_embedding(e))
            .collect::<anyhow::Result<Vec<_>>>()?,
        composition,
        composition_mode: CompositionMode::Counts,
        targets,
        target_names: Vec::new(),
        probes: vec![ProbeKind::Ridge],
        folds: match &args.folds_file {
            Some(p) => FoldSpec::File(p.clone()),
            None => FoldSpec::Shuffled { k: 5, seed: 0 },
        },
        ridge: RidgeParams::default(),
        gbt: GbtParams::default(),
        mlp: MlpParams::default(),
        residualize_target: false,
        controls: false,
        inflation_threshold: DEFAULT_INFLATION_THRESHOLD,
        learning_curve: None,
        scale: Scale::Standard,
        predictions: false,
        pool: Pool::Mean,
    })
}

/// Settings given on the command line win over the manifest's.
fn apply_flags(args: &AnalyzeArgs, c: &mut AnalyzeConfig) -> anyhow::Result<()> {
    if !args.target.is_empty() {
        c.target_names = args.target.clone();
    }
    if let Some(p) = &args.probes {
        c.probes = p
            .iter()
            .map(|p| ProbeKind::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
    }
    if args.folds.is_some() || args.seed.is_some() {
        match &mut c.folds {
            FoldSpec::Shuffled { k, seed } => {
                *k = args.folds.unwrap_or(*k);
                *seed = args.seed.unwrap_or(*seed);
            }
            FoldSpec::File(p) => bail!(
                "--folds/--seed conflict with the manifest's folds_file {}",
                p.display()
            ),
        }
    }
    match (&args.alpha, &args.alphas) {
        (Some(a), _) => c.ridge = RidgeParams::fixed(*a),
        (None, Some(grid)) => c.ridge = RidgeParams::grid(grid.clone()),
        (None, None) => {}
    }
    let g = &mut c.gbt;
    g.rounds = args.gbt_rounds.unwrap_or(g.rounds);
    g.learning_rate = args.gbt_lr.unwrap_or(g.learning_rate);
    g.max_leaves = args.gbt_leaves.unwrap_or(g.max_leaves);
    g.max_depth = args.gbt_depth.or(g.max_depth);
    g.min_leaf = args.gbt_min_leaf.unwrap_or(g.min_leaf);
    g.l2 = args.gbt_l2.unwrap_or(g.l2);
    g.max_bins = args.gbt_bins.unwrap_or(g.max_bins);
    g.validation = args.gbt_validation.or(g.validation);
    if args.gbt_patience.is_some() && g.validation.is_none() {
        bail!("--gbt-patience needs --gbt-validation (or [settings.gbt] validation)");
    }
    g.patience = args.gbt_patience.unwrap_or(g.patience);
    g.seed = args.seed.unwrap_or(g.seed);
    let m = &mut c.mlp;
    m.hidden = args.mlp_hidden.unwrap_or(m.hidden);
    m.alpha = args.mlp_alpha.unwrap_or(m.alpha);
    m.learning_rate = args.mlp_lr.unwrap_or(m.learning_rate);
    m.batch = args.mlp_batch.unwrap_or(m.batch);
    m.max_epochs = args.mlp_max_epochs.unwrap_or(m.max_epochs);
    m.patience = args.mlp_patience.unwrap_or(m.patience);
    m.seed = args.seed.unwrap_or(m.seed);
    if let Some(scale) = args.scale {
        c.scale = match scale {
            ScaleArg::Standard => Scale::Standard,
            ScaleArg::Clip => Scale::Clip,
        };
    }
    c.predictions |= args.predictions;
    c.pool = args.pool.unwrap_or(c.pool); // per-atom
    c.residualize_target |= args.residualize_target;
    c.controls |= args.controls;
    c.inflation_threshold = args.inflation_threshold.unwrap_or(c.inflation_threshold);
    if let Some(sizes) = &args.learning_curve {
        c.learning_curve = Some(LearningCurve {
            sizes: sizes.clone(),
            repeats: DEFAULT_CURVE_REPEATS,
        });
    }
    if let Some(r) = args.curve_repeats {
        match &mut c.learning_curve {
            Some(lc) => lc.repeats = r,
            None => bail!("--curve-repeats needs --learning-curve"),
        }
    }
    let invariants = args.invariants.map(|i| match i {
        InvariantsArg::Norms => "norms",
        InvariantsArg::Components => "components",
    });
    if args.irreps.is_some() || args.channels.is_some() {
        let spec = channel_spec(args.irreps.as_deref(), args.channels.as_deref(), invariants)?;
        for e in &mut c.embeddings {
            e.channels = spec.clone();
            e.channel_layers = args.channel_layers.clone();
        }
    } else if args.invariants.is_some() || args.channel_layers.is_some() {
        bail!("--invariants and --channel-layers need --irreps or --channels");
    }
    if let Some(mode) = args.composition {
        c.composition_mode = match mode {
            CompositionArg::Counts => CompositionMode::Counts,
            CompositionArg::Fractions => CompositionMode::Fractions,
        };
    }
    Ok(())
}

fn run_pool(args: PoolArgs) -> anyhow::Result<ExitCode> {
    let pool = args.pool.unwrap_or_default();
    let file = cpd::io::embeddings::load_pooled(&args.file, pool)?;
    let Some(atoms) = file.atoms else {
        bail!(
            "{}: not a per-atom file (no 'structure' or 'n_atoms' array)",
            args.file.display()
        );
    };
    cpd::io::peratom::write_npz(&file, &args.out)?;
    let layers: Vec<String> = file
        .layers
        .iter()
        .map(|l| format!("{} ({})", l.name, l.data.ncols()))
        .collect();
    let rows = file.layers[0].data.nrows();
    println!(
        "wrote {}: {atoms} atoms pooled ({}) into {rows} structures; layers {}",
        args.out.display(),
        pool.name(),
        layers.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// `--pool`: the library's parser, for clap.
fn parse_pool(text: &str) -> Result<Pool, String> {
    Pool::parse(text).map_err(|e| e.to_string())
}

/// A terminal progress bar.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn add_work(&self, n: u64) {
        self.0.inc_length(n);
    }
    fn stage(&self, what: &str) {
        self.0.set_message(what.to_owned());
    }
    fn done(&self) {
        self.0.inc(1);
    }
}

/// Plain progress lines for a stderr that is not a terminal
/// (`--progress always` in a batch log).
struct Lines {
    total: AtomicU64,
    done: AtomicU64,
}

impl Progress for Lines {
    fn add_work(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }
    fn stage(&self, what: &str) {
        eprintln!(
            "cpd: {}/{} fits done; {what}",
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed)
        );
    }
    fn done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

fn progress_sink(mode: ProgressArg, quiet: bool) -> Box<dyn Progress> {
    let tty = std::io::stderr().is_terminal();
    match (mode, quiet, tty) {
        (ProgressArg::Never, _, _) | (_, true, _) | (ProgressArg::Auto, false, false) => {
            Box::new(NoProgress)
        }
        (_, false, true) => {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} fits, eta {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            Box::new(Bar(bar))
        }
        (ProgressArg::Always, false, false) => Box::new(Lines {
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }),
    }
}

fn run_analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting up the thread pool")?;
    }
    let demo = args.manifest.is_none()
        && args.embeddings.is_empty()
        && args.compositions.is_none()
        && args.structures.is_none()
        && args.targets.is_none();
    let manifest = if demo {
        Some(demo_manifest())
    } else {
        args.manifest.clone()
    };
    let mut config = match &manifest {
        Some(path) => Manifest::load(path)?.to_config()?,
        None => config_from_flags(&args)?,
    };
    apply_flags(&args, &mut config)?;
    let out = match (&args.out, demo) {
        (Some(dir), _) => Some(dir.clone()),
        (None, true) => Some(PathBuf::from("reports")),
        (None, false) => None,
    };
    if config.predictions && out.is_none() {
        bail!("--predictions writes predictions.csv and needs --out DIR");
    }
    if let Some(dir) = &out {
        prepare_out_dir(dir).context("output directory is not writable")?;
    }
    let progress = progress_sink(args.progress, args.quiet);
    let analysis = analyze_with_progress(&config, progress.as_ref());
    drop(progress); // a finished bar is cleared before anything else prints
    let analysis = analysis?;
    if let Some(dir) = &out {
        let extra = if config.predictions {
            vec![(
                PREDICTIONS_CSV.to_string(),
                predictions_csv(
                    &analysis.report,
                    &analysis.ids,
                    &analysis.folds.assignment,
                    analysis.targets.view(),
                    &analysis.predictions,
                )?,
            )]
        } else {
            Vec::new()
        };
        let written = write_outputs(
            dir,
            &analysis.report,
            &analysis.ids,
            &analysis.folds.assignment,
            extra,
        )?;
        if !args.quiet {
            let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            eprintln!("wrote {}", names.join(", "));
        }
    }
    if !args.quiet {
        let r = &analysis.report;
        println!(
            "cpd {}: {} structures, {} folds ({}), composition rank {} ({}{}), {:.2} s",
            r.tool.version,
            analysis.ids.len(),
            r.settings.folds,
            r.settings
                .seed
                .map_or_else(|| "from file".to_string(), |s| format!("seed {s}")),
            r.composition.rank,
            r.composition.columns.join(" "),
            if r.composition.dropped.is_empty() {
                String::new()
            } else {
                format!("; dropped {}", r.composition.dropped.join(" "))
            },
            r.timing.seconds
        );
        print!("{}", text_table(r));
    }
    Ok(ExitCode::SUCCESS)
}

fn fmt_value(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

fn run_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let metric = Metric::parse(&args.metric)?;
    let baseline = LoadedReport::load(&args.baseline)?;
    let new = LoadedReport::load(&args.report)?;
    let outcome = check(&baseline, &new, metric, args.tol)?;
    let shown: Vec<&Row> = outcome
        .rows
        .iter()
        .filter(|r| args.all || r.status != Status::Ok)
        .collect();
    if !shown.is_empty() {
        let width = shown.iter().map(|r| r.key.len()).max().unwrap_or(6).max(6);
        println!(
            "{:<8} {:<width$} {:>10} {:>10} {:>10} {:>8}",
            "status", "record", "baseline", "new", "delta", "tol"
        );
        for r in &shown {
            println!(
                "{:<8} {:<width$} {:>10} {:>10} {:>10} {:>8}",
                r.status.label(),
                r.key,
                fmt_value(r.baseline),
                fmt_value(r.new),
                r.delta().map_or_else(|| "-".into(), |d| format!("{d:+.4}")),
                format!("{}", r.tol)
            );
        }
    }
    for d in &outcome.settings_differ {
        println!("note: settings differ: {d}");
    }
    for (key, which) in &outcome.unstable {
        let which = match *which {
            "both" => "in both reports",
            "baseline" => "in the baseline",
            _ => "in the new report",
        };
        println!(
            "note: unstable {which}: {key} (a few structures decide its mean R²; gate it with --metric r2_median or a per-record \"tol\")"
        );
    }
    println!(
        "check {}: {} within tolerance, {} moved, {} missing, {} new ({} against {}, {}, tol {})",
        if outcome.passed() { "passed" } else { "FAILED" },
        outcome.count(Status::Ok),
        outcome.count(Status::Moved),
        outcome.count(Status::Missing),
        outcome.count(Status::New),
        new.path(),
        baseline.path(),
        metric.name(),
        args.tol
    );
    Ok(if outcome.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let info = inspect(&args.file)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} layer(s), {}",
        info.path,
        info.layers.len(),
        match info.ids {
            Some(n) => format!("{n} row ids"),
            None => "no row ids (rows follow the compositions' order)".into(),
        }
    );
    if let Some(atoms) = info.atoms {
        println!("per atom: {atoms} atom rows, mean-pooled into one row per structure below");
    }
    for l in info.layers.iter().filter(|l| !l.groups.is_empty()) {
        let groups: Vec<String> = l
            .groups
            .iter()
            .map(|g| format!("{} = columns {}..{}", g.name, g.start, g.end))
            .collect();
        println!(
            "layer '{}': irreps {}: {}",
            l.name,
            l.irreps.as_deref().unwrap_or(""),
            groups.join(", ")
        );
    }
    let g = |v: f64| format!("{v:.4e}");
    let mut rows = vec![[
        "layer", "rows", "cols", "dtype", "order", "NaN", "Inf", "constant", "zero", "min", "max",
    ]
    .map(String::from)
    .to_vec()];
    for l in &info.layers {
        rows.push(vec![
            l.name.clone(),
            l.rows.to_string(),
            l.cols.to_string(),
            l.dtype.clone(),
            l.order.clone(),
            l.nan.to_string(),
            l.inf.to_string(),
            l.constant_columns.to_string(),
            l.zero_columns.to_string(),
            g(l.min),
            g(l.max),
        ]);
    }
    print_aligned(&rows);
    for l in &info.layers {
        if l.nan + l.inf > 0 {
            println!(
                "layer '{}': {} NaN and {} Inf values; cpd analyze refuses non-finite embeddings",
                l.name, l.nan, l.inf
            );
        }
        if !l.sparse_columns.is_empty() {
            let shown: Vec<String> = l
                .sparse_owners
                .iter()
                .take(10)
                .map(|o| {
                    let who = o.id.clone().unwrap_or_else(|| format!("row {}", o.row));
                    format!("{who} ({})", o.columns)
                })
                .collect();
            println!(
                "layer '{}': {} sparse column(s) (non-zero in fewer than 1 % of rows), owned by {} row(s): {}{}",
                l.name,
                l.sparse_columns.len(),
                l.sparse_owners.len(),
                shown.join(", "),
                if l.sparse_owners.len() > 10 { ", …" } else { "" }
            );
            println!(
                "  a held-out owner lands far outside its training fold's range: see the instability section of cpd analyze, or try --scale clip"
            );
        }
        if args.columns {
            println!("\nlayer '{}':", l.name);
            let mut rows = vec![["column", "mean", "std", "min", "max", "NaN", "Inf"]
                .map(String::from)
                .to_vec()];
            for c in &l.columns {
                rows.push(vec![
                    c.column.to_string(),
                    g(c.mean),
                    g(c.std),
                    g(c.min),
                    g(c.max),
                    c.nan.to_string(),
                    c.inf.to_string(),
                ]);
            }
            print_aligned(&rows);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Print rows as left-aligned columns.
fn print_aligned(rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|j| {
            rows.iter()
                .map(|r| r.get(j).map_or(0, |c| c.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
