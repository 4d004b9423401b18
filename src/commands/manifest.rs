//! Run manifests: one TOML file describing the dataset, any number of models
//! and the shared settings of a `cpd analyze` run, so that a batch over many
//! models is one command and one report.
//!
//! ```toml
//! [dataset]                      # paths are relative to this file
//! compositions = "compositions.csv"   # or: structures = "structures.xyz"
//!                                     # or neither: counts from the first model's per-atom `numbers`
//! targets = "targets.csv"
//! # folds_file = "folds.csv"          # id,fold; else shuffled folds
//! # composition = "counts"            # or "fractions"
//!
//! [settings]                     # every key optional; defaults as the CLI's
//! probes = ["ridge"]
//! folds = 5
//! seed = 0
//! # targets = ["gap_ev"]  alpha = 1.0  alphas = [0.1, 1, 10]
//! # residualize_target = false
//! # controls = true  inflation_threshold = 0.1
//! # learning_curve = [100, 500, 2000]  curve_repeats = 5
//! # scale = "standard"                # ridge/MLP: standard, clip, global or global-clip
//! # predictions = true                # write predictions.csv (out-of-fold predictions)
//! # pool = "mean"                     # per-atom .npz layers: "mean", "sum" or "max"
//! # similarity = true                 # linear CKA between every pair of layers
//! # max_rows = 20000                  # MLP/GBT: fit on a seeded subsample of each training fold
//! # group_folds = "composition"       # every structure of one composition in one fold
//! # permutations = 100                # every record's permutation null and p-value
//! # bootstrap = 1000                  # replicates of every 95 % interval (0: none)
//! # [settings.gbt] rounds = 300  lr = 0.1  leaves = 31  depth = 6
//! #                min_leaf = 20  l2 = 0.0  bins = 255
//! #                validation = 0.1  patience = 10  seed = 0  # early stopping; off by default
//! # [settings.mlp] hidden = 128  alpha = 1e-4  lr = 1e-3  batch = 200
//! #                max_epochs = 200  patience = 10  seed = 0  # seed: default `seed`
//!
//! [[models]]
//! name = "sevennet0"
//! file = "embeddings/sevennet0.npz"
//! layers = ["l_last"]            # optional: default every layer in the file
//! # irreps = "128x0e+64x1o"  or  channels = "a=0:128,b=128:320"
//! # channel_layers = ["l_prev"]   invariants = "norms"   # or "components"
//! ```
//!
//! Unknown keys are errors (a misspelt setting must not be silently ignored).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analyses::channels::{ChannelSpec, Invariants};
use crate::analyses::controls::DEFAULT_INFLATION_THRESHOLD;
use crate::commands::analyze::{
    AnalyzeConfig, CompositionSource, EmbeddingSpec, FoldSpec, LearningCurve,
};
use crate::error::{CpdError, Result};
use crate::flow::bootstrap::DEFAULT_REPLICATES;
use crate::flow::dataset::CompositionMode;
use crate::flow::folds::GroupFolds;
use crate::io::peratom::Pool;
use crate::probe::gbt::GbtParams;
use crate::probe::mlp::MlpParams;
use crate::probe::ridge::RidgeParams;
use crate::probe::scale::Scale;
use crate::probe::ProbeKind;

/// A parsed manifest, paths already resolved against its directory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Compositions, targets and folds.
    pub dataset: DatasetSection,
    /// Shared settings.
    #[serde(default)]
    pub settings: SettingsSection,
    /// The models, in report order.
    #[serde(default)]
    pub models: Vec<ModelSection>,
}

/// `[dataset]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSection {
    /// Composition CSV (`id` + one column per element).
    pub compositions: Option<PathBuf>,
    /// Extended-XYZ structures (instead of `compositions`).
    pub structures: Option<PathBuf>,
    /// Targets CSV.
    pub targets: PathBuf,
    /// `id,fold` CSV.
    pub folds_file: Option<PathBuf>,
    /// `counts` (default) or `fractions`.
    pub composition: Option<String>,
}

/// `[settings]`: every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsSection {
    /// Probes to run.
    pub probes: Option<Vec<String>>,
    /// Number of shuffled folds.
    pub folds: Option<usize>,
    /// Fold shuffle seed.
    pub seed: Option<u64>,
    /// Targets to probe (default: all columns).
    pub targets: Option<Vec<String>>,
    /// Fixed ridge alpha.
    pub alpha: Option<f64>,
    /// Ridge alpha grid.
    pub alphas: Option<Vec<f64>>,
    /// Residualise the target against composition.
    pub residualize_target: Option<bool>,
    /// GBT hyper-parameters.
    pub gbt: Option<GbtSection>,
    /// Add the compositional control targets.
    pub controls: Option<bool>,
    /// R²_geom on a control above which a probe is flagged inflated.
    pub inflation_threshold: Option<f64>,
    /// Learning-curve training sizes.
    pub learning_curve: Option<Vec<usize>>,
    /// Subsamples per size and fold.
    pub curve_repeats: Option<usize>,
    /// MLP hyper-parameters.
    pub mlp: Option<MlpSection>,
    /// Feature scaling of the ridge and MLP probes ([`Scale`]).
    pub scale: Option<Scale>,
    /// Keep the out-of-fold predictions (`predictions.csv`).
    pub predictions: Option<bool>,
    /// Pooling of per-atom embedding files: `mean`, `sum` or `max`.
    pub pool: Option<Pool>,
    /// Linear CKA between every pair of layers (`similarity.csv`).
    pub similarity: Option<bool>,
    /// MLP and GBT: fit on a seeded subsample of at most this many rows of
    /// each training fold.
    pub max_rows: Option<usize>,
    /// Keep every structure of one composition in one fold: `composition`.
    pub group_folds: Option<GroupFolds>,
    /// Within-fold permutations of the targets: every record's null.
    pub permutations: Option<usize>,
    /// Bootstrap replicates of every interval (0: none).
    pub bootstrap: Option<usize>,
}

/// `[settings.mlp]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpSection {
    /// Hidden units.
    pub hidden: Option<usize>,
    /// L2 penalty.
    pub alpha: Option<f64>,
    /// Adam step size.
    pub lr: Option<f64>,
    /// Minibatch size.
    pub batch: Option<usize>,
    /// Maximum epochs.
    pub max_epochs: Option<usize>,
    /// Early-stopping patience (epochs).
    pub patience: Option<usize>,
    /// Seed of the networks (default: the run's `seed`).
    pub seed: Option<u64>,
}

/// `[settings.gbt]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GbtSection {
    /// Boosting rounds.
    pub rounds: Option<usize>,
    /// Learning rate.
    pub lr: Option<f64>,
    /// Maximum leaves per tree.
    pub leaves: Option<usize>,
    /// Maximum depth.
    pub depth: Option<usize>,
    /// Minimum rows per leaf.
    pub min_leaf: Option<usize>,
    /// L2 penalty on leaf values.
    pub l2: Option<f64>,
    /// Maximum bins per feature.
    pub bins: Option<usize>,
    /// Fraction of the training fold held out for early stopping.
    pub validation: Option<f64>,
    /// Early-stopping patience (rounds).
    pub patience: Option<usize>,
    /// Seed of the early-stopping split (default: the run's `seed`).
    pub seed: Option<u64>,
}

/// One `[[models]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Model name in the report.
    pub name: String,
    /// Embedding file (`.npy`, `.npz`, `.csv`), or a list of files (or
    /// globs such as `emb_*.npy`) whose rows concatenate in order.
    pub file: Files,
    /// Layers to probe (default: all).
    pub layers: Option<Vec<String>>,
    /// e3nn irreps string of the columns: probe each irrep group too.
    pub irreps: Option<String>,
    /// Named column ranges `name=start:end,...`: probe each group too.
    pub channels: Option<String>,
    /// Layers the groups apply to (default: every layer probed).
    pub channel_layers: Option<Vec<String>>,
    /// `norms` (default for irreps) or `components`.
    pub invariants: Option<String>,
}

/// One embedding file or a list of them (a sharded layer set).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Files {
    /// One file (or a glob).
    One(PathBuf),
    /// Files (or globs) whose rows concatenate in order.
    Many(Vec<PathBuf>),
}

impl Files {
    /// The paths as written (globs unexpanded).
    pub fn as_slice(&self) -> &[PathBuf] {
        match self {
            Files::One(p) => std::slice::from_ref(p),
            Files::Many(v) => v,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [PathBuf] {
        match self {
            Files::One(p) => std::slice::from_mut(p),
            Files::Many(v) => v,
        }
    }

    /// The files, globs expanded, in order.
    pub fn expand(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for p in self.as_slice() {
            out.extend(crate::io::expand_glob(p)?);
        }
        Ok(out)
    }
}

impl Manifest {
    /// Read and parse `path`; relative paths inside are resolved against
    /// the manifest's directory.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| CpdError::io(path, e))?;
        let mut m = Manifest::parse(&text).map_err(|e| CpdError::format(path, e))?;
        let base = path.parent().unwrap_or(Path::new(""));
        m.resolve(base);
        m.validate().map_err(|e| CpdError::format(path, e))?;
        Ok(m)
    }

    /// Parse manifest text (paths left as written).
    pub fn parse(text: &str) -> std::result::Result<Manifest, String> {
        toml::from_str(text).map_err(|e| format!("not a valid manifest: {e}"))
    }

    fn resolve(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let d = &mut self.dataset;
        for p in [&mut d.compositions, &mut d.structures, &mut d.folds_file]
            .into_iter()
            .flatten()
        {
            join(p);
        }
        join(&mut d.targets);
        for m in &mut self.models {
            for p in m.file.as_mut_slice() {
                join(p);
            }
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let d = &self.dataset;
        if d.compositions.is_some() && d.structures.is_some() {
            return Err("[dataset] has both `compositions` and `structures`; choose one (or neither, for per-atom `numbers`)".into());
        }
        if self.models.is_empty() {
            return Err("no [[models]] entries: add at least one model".into());
        }
        if let Some(mode) = &d.composition {
            composition_mode(mode)?;
        }
        if self.settings.alpha.is_some() && self.settings.alphas.is_some() {
            return Err("[settings] has both `alpha` and `alphas`; choose one".into());
        }
        if self.dataset.folds_file.is_some()
            && (self.settings.folds.is_some() || self.settings.seed.is_some())
        {
            return Err(
                "[settings] `folds`/`seed` and [dataset] `folds_file` exclude each other".into(),
            );
        }
        for m in &self.models {
            if m.name.trim().is_empty() {
                return Err(format!(
                    "model with file {} has an empty name",
                    m.file
                        .as_slice()
                        .first()
                        .map_or("[]".into(), |p| p.display().to_string())
                ));
            }
            if m.file.as_slice().is_empty() {
                return Err(format!("model '{}': `file` is an empty list", m.name));
            }
            if m.irreps.is_some() && m.channels.is_some() {
                return Err(format!(
                    "model '{}': give `irreps` or `channels`, not both",
                    m.name
                ));
            }
            if m.irreps.is_none()
                && m.channels.is_none()
                && (m.invariants.is_some() || m.channel_layers.is_some())
            {
                return Err(format!(
                    "model '{}': `invariants`/`channel_layers` need `irreps` or `channels`",
                    m.name
                ));
            }
            if let Some(layers) = &m.layers {
                if layers.is_empty() {
                    return Err(format!("model '{}': `layers` is empty", m.name));
                }
            }
        }
        Ok(())
    }

    /// The run this manifest describes, with cpd's defaults where it is
    /// silent.
    pub fn to_config(&self) -> Result<AnalyzeConfig> {
        let d = &self.dataset;
        let s = &self.settings;
        let composition = match (&d.compositions, &d.structures) {
            (Some(c), _) => CompositionSource::Table(c.clone()),
            (None, Some(x)) => CompositionSource::Structures(x.clone()),
            // per-atom: counts from the first model's `numbers`
            (None, None) => CompositionSource::Atoms(
                self.models[0]
                    .file
                    .as_slice()
                    .first()
                    .cloned()
                    .unwrap_or_default(),
            ),
        };
        let probes = s
            .probes
            .clone()
            .unwrap_or_else(|| vec!["ridge".into()])
            .iter()
            .map(|p| ProbeKind::parse(p))
            .collect::<Result<Vec<_>>>()?;
        let ridge = match (&s.alpha, &s.alphas) {
            (Some(a), _) => RidgeParams::fixed(*a),
            (None, Some(g)) => RidgeParams::grid(g.clone()),
            (None, None) => RidgeParams::default(),
        };
        let g = s.gbt.clone().unwrap_or_default();
        let dg = GbtParams::default();
        let mp = s.mlp.clone().unwrap_or_default();
        let dm = MlpParams::default();
        let embeddings = self
            .models
            .iter()
            .map(|m| {
                Ok(EmbeddingSpec {
                    model: m.name.clone(),
                    paths: m.file.expand()?,
                    layers: m.layers.clone(),
                    channels: channel_spec(
                        m.irreps.as_deref(),
                        m.channels.as_deref(),
                        m.invariants.as_deref(),
                    )?,
                    channel_layers: m.channel_layers.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AnalyzeConfig {
            embeddings,
            composition,
            composition_mode: composition_mode(d.composition.as_deref().unwrap_or("counts"))
                .map_err(CpdError::Invalid)?,
            targets: d.targets.clone(),
            target_names: s.targets.clone().unwrap_or_default(),
            probes,
            folds: match &d.folds_file {
                Some(p) => FoldSpec::File(p.clone()),
                None => FoldSpec::Shuffled {
                    k: s.folds.unwrap_or(5),
                    seed: s.seed.unwrap_or(0),
                },
            },
            ridge,
            gbt: GbtParams {
                rounds: g.rounds.unwrap_or(dg.rounds),
                learning_rate: g.lr.unwrap_or(dg.learning_rate),
                max_leaves: g.leaves.unwrap_or(dg.max_leaves),
                max_depth: g.depth.or(dg.max_depth),
                min_leaf: g.min_leaf.unwrap_or(dg.min_leaf),
                l2: g.l2.unwrap_or(dg.l2),
                max_bins: g.bins.unwrap_or(dg.max_bins),
                validation: g.validation.or(dg.validation),
                patience: g.patience.unwrap_or(dg.patience),
                seed: g.seed.or(s.seed).unwrap_or(dg.seed),
            },
            mlp: MlpParams {
                hidden: mp.hidden.unwrap_or(dm.hidden),
                alpha: mp.alpha.unwrap_or(dm.alpha),
                learning_rate: mp.lr.unwrap_or(dm.learning_rate),
                batch: mp.batch.unwrap_or(dm.batch),
                max_epochs: mp.max_epochs.unwrap_or(dm.max_epochs),
                patience: mp.patience.unwrap_or(dm.patience),
                seed: mp.seed.or(s.seed).unwrap_or(dm.seed),
                ..dm
            },
            residualize_target: s.residualize_target.unwrap_or(false),
            controls: s.controls.unwrap_or(false),
            inflation_threshold: s.inflation_threshold.unwrap_or(DEFAULT_INFLATION_THRESHOLD),
            learning_curve: s.learning_curve.clone().map(|sizes| LearningCurve {
                sizes,
                repeats: s.curve_repeats.unwrap_or(DEFAULT_CURVE_REPEATS),
            }),
            scale: s.scale.unwrap_or_default(),
            predictions: s.predictions.unwrap_or(false),
            pool: s.pool.unwrap_or_default(),
            similarity: s.similarity.unwrap_or(false),
            max_rows: s.max_rows,
            group_folds: s.group_folds,
            permutations: s.permutations.unwrap_or(0),
            bootstrap: s.bootstrap.unwrap_or(DEFAULT_REPLICATES),
            conditional: true,
        })
    }
}

/// Default subsamples per learning-curve size and fold.
pub const DEFAULT_CURVE_REPEATS: usize = 5;

/// The channel groups of `--irreps`/`--channels` (at most one given) with
/// `--invariants` (`norms`, the default for irreps, or `components`).
pub fn channel_spec(
    irreps: Option<&str>,
    channels: Option<&str>,
    invariants: Option<&str>,
) -> Result<Option<ChannelSpec>> {
    let inv = match invariants {
        None | Some("norms") => Invariants::Norms,
        Some("components") => Invariants::Components,
        Some(other) => {
            return Err(CpdError::Invalid(format!(
                "invariants '{other}': expected \"norms\" or \"components\""
            )))
        }
    };
    match (irreps, channels) {
        (Some(_), Some(_)) => Err(CpdError::Invalid(
            "give --irreps or --channels, not both".into(),
        )),
        (Some(i), None) => ChannelSpec::irreps(i, inv).map(Some),
        (None, Some(c)) => ChannelSpec::ranges(c).map(Some),
        (None, None) => Ok(None),
    }
}

/// `counts` or `fractions`.
pub fn composition_mode(name: &str) -> std::result::Result<CompositionMode, String> {
    match name {
        "counts" => Ok(CompositionMode::Counts),
        "fractions" => Ok(CompositionMode::Fractions),
        other => Err(format!(
            "composition mode '{other}': expected \"counts\" or \"fractions\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[dataset]
structures = "s.xyz"
targets = "/abs/t.csv"
composition = "fractions"

[settings]
probes = ["ridge", "gbt"]
folds = 3
seed = 7
targets = ["gap"]
alphas = [0.1, 10.0]
residualize_target = true
[settings.gbt]
rounds = 12
depth = 4
validation = 0.15
[settings.mlp]
hidden = 32
lr = 0.01
patience = 3

[[models]]
name = "a"
file = "emb/a.npz"
layers = ["l1"]

[[models]]
name = "b"
file = "b.npy"
"#;

    #[test]
    fn full_manifest_resolves_paths_and_settings() {
        let mut m = Manifest::parse(FULL).unwrap();
        m.resolve(Path::new("/runs/x"));
        m.validate().unwrap();
        let c = m.to_config().unwrap();
        assert!(
            matches!(&c.composition, CompositionSource::Structures(p) if p == Path::new("/runs/x/s.xyz"))
        );
        assert_eq!(c.targets, PathBuf::from("/abs/t.csv"));
        assert_eq!(c.composition_mode, CompositionMode::Fractions);
        assert_eq!(c.probes, vec![ProbeKind::Ridge, ProbeKind::Gbt]);
        assert!(matches!(c.folds, FoldSpec::Shuffled { k: 3, seed: 7 }));
        assert_eq!(c.target_names, vec!["gap".to_string()]);
        assert_eq!(c.ridge, RidgeParams::grid(vec![0.1, 10.0]));
        assert_eq!(c.gbt.rounds, 12);
        assert_eq!(c.gbt.max_depth, Some(4));
        assert_eq!(c.gbt.max_leaves, GbtParams::default().max_leaves);
        assert_eq!(c.gbt.validation, Some(0.15));
        assert_eq!(c.gbt.patience, GbtParams::default().patience);
        assert_eq!(
            c.gbt.seed, 7,
            "the early-stopping seed follows the run's seed"
        );
        assert_eq!(c.mlp.hidden, 32);
        assert_eq!(c.mlp.learning_rate, 0.01);
        assert_eq!(c.mlp.patience, 3);
        assert_eq!(c.mlp.seed, 7, "the MLP seed follows the run's seed");
        assert_eq!(c.mlp.batch, MlpParams::default().batch);
        assert!(c.residualize_target);
        assert_eq!(c.embeddings.len(), 2);
        assert_eq!(c.embeddings[0].paths[0], PathBuf::from("/runs/x/emb/a.npz"));
        assert_eq!(c.embeddings[0].layers, Some(vec!["l1".to_string()]));
        assert_eq!(c.embeddings[1].model, "b");
        assert_eq!(c.embeddings[1].layers, None);
    }

    fn invalid(text: &str) -> String {
        match Manifest::parse(text) {
            Err(e) => e,
            Ok(m) => m.validate().unwrap_err(),
        }
    }

    #[test]
    fn mistakes_are_named() {
        let base = "[dataset]\ncompositions = \"c.csv\"\ntargets = \"t.csv\"\n";
        let model = "[[models]]\nname = \"a\"\nfile = \"a.npy\"\n";
        let e = invalid(&format!("{base}[settings]\nprobs = [\"ridge\"]\n{model}"));
        assert!(e.contains("unknown field `probs`"), "{e}");
        assert!(e.contains("line 5"), "{e}");
        let e = invalid(base);
        assert!(e.contains("no [[models]]"), "{e}");
        let e = invalid(&format!("{base}structures = \"s.xyz\"\n{model}"));
        assert!(e.contains("both `compositions` and `structures`"), "{e}");
        let e = invalid(&format!(
            "{base}[settings]\nalpha = 1.0\nalphas = [1.0]\n{model}"
        ));
        assert!(e.contains("both `alpha` and `alphas`"), "{e}");
        let e = invalid(&format!("{base}composition = \"moles\"\n{model}"));
        assert!(e.contains("'moles'"), "{e}");
        let e = invalid(&format!("{base}[[models]]\nname = \"a\"\n"));
        assert!(e.contains("missing field `file`"), "{e}");
        let e = invalid(&format!(
            "{base}{model}irreps = \"128x0e\"\nchannels = \"a=0:1\"\n"
        ));
        assert!(
            e.contains("model 'a': give `irreps` or `channels`, not both"),
            "{e}"
        );
        let e = invalid(&format!("{base}[settings]\nfolds = \"five\"\n{model}"));
        assert!(e.contains("invalid type"), "{e}");
    }
}
