//! `cpd` command line: parses arguments, calls the library, prints.
//!
//! Exit codes: 0 success; 1 a check failed (reserved for `cpd check`);
//! 2 usage or input error (bad arguments, unreadable or inconsistent files).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};

use cpd::analysis::{analyze, AnalyzeConfig, CompositionSource, EmbeddingSpec, FoldSpec};
use cpd::dataset::CompositionMode;
use cpd::probe::gbt::GbtParams;
use cpd::probe::ridge::RidgeParams;
use cpd::probe::ProbeKind;
use cpd::report::markdown::text_table;
use cpd::report::write::{prepare_out_dir, write_outputs};

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
    /// Without arguments, runs the bundled QM9 demo (data/) and writes to reports/.
    Analyze(AnalyzeArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum CompositionArg {
    /// Atom counts per element (molecules).
    Counts,
    /// Atom fractions per element (crystals).
    Fractions,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
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
    /// Target column to probe; repeatable or comma-separated (default: all).
    #[arg(long = "target", value_name = "T", value_delimiter = ',')]
    target: Vec<String>,
    /// Probes to run, comma-separated: ridge, gbt.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "ridge"
    )]
    probes: Vec<String>,
    /// Number of shuffled cross-validation folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the fold shuffle.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Use this fold assignment (CSV with columns id,fold) instead of shuffled folds.
    #[arg(long, value_name = "FILE")]
    folds_file: Option<PathBuf>,
    /// Fixed ridge alpha (no selection).
    #[arg(long, value_name = "A", conflicts_with = "alphas")]
    alpha: Option<f64>,
    /// Ridge alpha grid for leave-one-out selection, comma-separated [default: logspace(-3,3,13)].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    alphas: Option<Vec<f64>>,
    /// GBT probe: boosting rounds.
    #[arg(long, value_name = "N", default_value_t = 300)]
    gbt_rounds: usize,
    /// GBT probe: learning rate (shrinkage).
    #[arg(long, value_name = "ETA", default_value_t = 0.1)]
    gbt_lr: f64,
    /// GBT probe: maximum leaves per tree (grown leaf-wise).
    #[arg(long, value_name = "N", default_value_t = 31)]
    gbt_leaves: usize,
    /// GBT probe: maximum tree depth [default: unlimited].
    #[arg(long, value_name = "N")]
    gbt_depth: Option<usize>,
    /// GBT probe: minimum training rows per leaf.
    #[arg(long, value_name = "N", default_value_t = 20)]
    gbt_min_leaf: usize,
    /// GBT probe: L2 penalty on leaf values.
    #[arg(long, value_name = "LAMBDA", default_value_t = 0.0)]
    gbt_l2: f64,
    /// GBT probe: maximum bins per feature (2..=255), from training-fold quantiles.
    #[arg(long, value_name = "N", default_value_t = 255)]
    gbt_bins: usize,
    /// Also remove the composition-linear part of the target.
    #[arg(long)]
    residualize_target: bool,
    /// Composition as atom counts or fractions.
    #[arg(long, value_enum, default_value = "counts")]
    composition: CompositionArg,
    /// Write report.json, results.csv, report.md and folds.csv here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Worker threads (default: RAYON_NUM_THREADS or all cores). Results do not depend on it.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => run_analyze(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The bundled data directory: `./data` if present, else the crate's own.
fn demo_dir() -> PathBuf {
    let local = PathBuf::from("data");
    if local.join("compositions.csv").is_file() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
    }
}

fn demo_embeddings(dir: &Path) -> anyhow::Result<Vec<EmbeddingSpec>> {
    let emb_dir = dir.join("embeddings");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&emb_dir)
        .with_context(|| format!("reading the demo embeddings in {}", emb_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("npy" | "npz")))
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .map(|path| EmbeddingSpec {
            model: stem(&path),
            path,
        })
        .collect())
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("embedding")
        .to_owned()
}

fn parse_embedding(arg: &str) -> anyhow::Result<EmbeddingSpec> {
    // An existing file is a path even if it contains '=' (e.g. runs/lr=1e-3/e.npy).
    if Path::new(arg).is_file() {
        return Ok(EmbeddingSpec {
            model: stem(Path::new(arg)),
            path: PathBuf::from(arg),
        });
    }
    match arg.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok(EmbeddingSpec {
            model: name.to_owned(),
            path: PathBuf::from(path),
        }),
        Some(_) => bail!("--embeddings '{arg}': expected NAME=PATH"),
        None => Ok(EmbeddingSpec {
            model: stem(Path::new(arg)),
            path: PathBuf::from(arg),
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
    let demo = args.embeddings.is_empty()
        && args.compositions.is_none()
        && args.structures.is_none()
        && args.targets.is_none();
    let (embeddings, composition, targets, out) = if demo {
        let dir = demo_dir();
        (
            demo_embeddings(&dir)?,
            CompositionSource::Table(dir.join("compositions.csv")),
            dir.join("targets.csv"),
            Some(args.out.clone().unwrap_or_else(|| PathBuf::from("reports"))),
        )
    } else {
        if args.embeddings.is_empty() {
            bail!("--embeddings NAME=PATH is required (run `cpd analyze` without arguments for the bundled demo)");
        }
        let composition = match (&args.compositions, &args.structures) {
            (Some(c), None) => CompositionSource::Table(c.clone()),
            (None, Some(s)) => CompositionSource::Structures(s.clone()),
            _ => bail!("one of --compositions FILE or --structures FILE is required"),
        };
        let Some(targets) = args.targets.clone() else {
            bail!("--targets FILE is required");
        };
        let embeddings = args
            .embeddings
            .iter()
            .map(|e| parse_embedding(e))
            .collect::<anyhow::Result<Vec<_>>>()?;
        (embeddings, composition, targets, args.out.clone())
    };
    if let Some(dir) = &out {
        prepare_out_dir(dir).context("output directory is not writable")?;
    }
    let probes = args
        .probes
        .iter()
        .map(|p| ProbeKind::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let ridge = match (&args.alpha, &args.alphas) {
        (Some(a), _) => RidgeParams::fixed(*a),
        (None, Some(grid)) => RidgeParams::grid(grid.clone()),
        (None, None) => RidgeParams::default(),
    };
    let folds = match &args.folds_file {
        Some(p) => FoldSpec::File(p.clone()),
        None => FoldSpec::Shuffled {
            k: args.folds,
            seed: args.seed,
        },
    };
    let config = AnalyzeConfig {
        embeddings,
        composition,
        composition_mode: match args.composition {
            CompositionArg::Counts => CompositionMode::Counts,
            CompositionArg::Fractions => CompositionMode::Fractions,
        },
        targets,
        target_names: args.target.clone(),
        probes,
        folds,
        ridge,
        gbt: GbtParams {
            rounds: args.gbt_rounds,
            learning_rate: args.gbt_lr,
            max_leaves: args.gbt_leaves,
            max_depth: args.gbt_depth,
            min_leaf: args.gbt_min_leaf,
            l2: args.gbt_l2,
            max_bins: args.gbt_bins,
        },
        residualize_target: args.residualize_target,
    };
    let analysis = analyze(&config)?;
    if let Some(dir) = &out {
        let written = write_outputs(
            dir,
            &analysis.report,
            &analysis.ids,
            &analysis.folds.assignment,
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
