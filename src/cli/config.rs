//! Stage two of the command line: validated arguments (and a manifest)
//! into the run's settings and inputs. Settings given on the command line
//! are layered over a manifest's ([`cpd::settings::Given`]).

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::ArgMatches;

use super::args::AnalyzeArgs;
use cpd::manifest::Manifest;
use cpd::run::{CompositionSource, EmbeddingSpec};
use cpd::settings::{Given, Inputs, Settings};

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

/// The inputs named by the flags alone (no manifest).
fn inputs_from_flags(args: &AnalyzeArgs) -> anyhow::Result<Inputs> {
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
    Ok(Inputs {
        embeddings: args
            .embeddings
            .iter()
            .map(|e| parse_embedding(e))
            .collect::<anyhow::Result<Vec<_>>>()?,
        composition,
        targets,
    })
}

/// The run's settings and inputs: from `manifest` (if any) with the
/// settings the command line gave over its own, else from the flags.
/// `matches` are `cpd analyze`'s.
pub fn settings_and_inputs(
    args: &AnalyzeArgs,
    matches: &ArgMatches,
    manifest: Option<&Path>,
) -> anyhow::Result<(Settings, Inputs)> {
    let flags = Given::from_matches(&args.settings, matches)?;
    Ok(match manifest {
        Some(path) => {
            let m = Manifest::load(path)?;
            let given = m
                .given()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                .overlay(flags);
            (given.resolve()?, m.inputs()?)
        }
        None => (flags.resolve()?, inputs_from_flags(args)?),
    })
}
