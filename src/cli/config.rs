//! Stage two of the command line: validated arguments (and a manifest)
//! into the run's [`AnalyzeConfig`]. Flags given beside a manifest override
//! its settings.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::args::{AnalyzeArgs, CompositionArg, InvariantsArg};
use cpd::analyses::controls::DEFAULT_INFLATION_THRESHOLD;
use cpd::commands::analyze::{
    AnalyzeConfig, CompositionSource, EmbeddingSpec, FoldSpec, LearningCurve,
};
use cpd::commands::manifest::{channel_spec, DEFAULT_CURVE_REPEATS};
use cpd::flow::dataset::CompositionMode;
use cpd::io::peratom::Pool;
use cpd::probe::gbt::GbtParams;
use cpd::probe::mlp::MlpParams;
use cpd::probe::ridge::RidgeParams;
use cpd::probe::scale::Scale;
use cpd::probe::ProbeKind;

/// The bundled demo manifest: `./data/demo.toml` if present, else the crate's own.
pub fn demo_manifest() -> PathBuf {
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
        paths: embedding_paths(&path)?,
        layers: None,
        channels: None,
        channel_layers: None,
    })
}

/// The files of `--embeddings NAME=PATH`: PATH itself when it is a file,
/// else a comma-separated list of files or globs (`emb_*.npy`), in order.
fn embedding_paths(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let text = path.to_string_lossy();
    if path.is_file() || !(text.contains(',') || text.contains(['*', '?'])) {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        out.extend(cpd::io::expand_glob(Path::new(part))?);
    }
    Ok(out)
}

/// The run described by the flags alone (no manifest).
pub fn config_from_flags(args: &AnalyzeArgs) -> anyhow::Result<AnalyzeConfig> {
    if args.embeddings.is_empty() {
        bail!("--embeddings NAME=PATH or --manifest FILE is required (run `cpd analyze` without arguments for the bundled demo)");
    }
    let composition = match (&args.compositions, &args.structures) {
        (Some(c), None) => CompositionSource::Table(c.clone()),
        (None, Some(s)) => CompositionSource::Structures(s.clone()),
        // Counts from the first embedding file's per-atom `numbers`.
        (None, None) => {
            CompositionSource::Atoms(parse_embedding(&args.embeddings[0])?.paths[0].clone())
        }
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
        scale: Scale::default(),
        predictions: false,
        pool: Pool::Mean,
        similarity: false,
        max_rows: None,
        group_folds: None,
        permutations: 0,
        bootstrap: cpd::flow::bootstrap::DEFAULT_REPLICATES,
        conditional: true,
    })
}

/// Settings given on the command line win over the manifest's.
pub fn apply_flags(args: &AnalyzeArgs, c: &mut AnalyzeConfig) -> anyhow::Result<()> {
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
        c.scale = scale;
    }
    c.group_folds = args.group_folds.or(c.group_folds);
    c.permutations = args.permutations.unwrap_or(c.permutations);
    c.bootstrap = args.bootstrap.unwrap_or(c.bootstrap);
    c.predictions |= args.predictions;
    c.similarity |= args.similarity;
    c.pool = args.pool.unwrap_or(c.pool);
    c.max_rows = args.max_rows.or(c.max_rows);
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
