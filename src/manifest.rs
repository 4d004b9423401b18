//! Run manifests: one TOML file describing the dataset, any number of models
//! and the shared settings of a `cpd analyze` run, so that a batch over many
//! models is one command and one report.
//!
//! ```toml
//! [dataset]                      # paths are relative to this file
//! compositions = "compositions.csv"   # or: structures = "structures.xyz"
//!                                     # or neither: counts from the first model's per-atom `numbers`
//! targets = "targets.csv"
//!
//! [settings]                     # every key optional: crate::settings::Settings
//! probes = ["ridge", "mlp"]
//! folds = 5
//! # folds_file = "folds.csv"          # id,fold; instead of shuffled folds
//! # [settings.gbt] max_leaves = 31    [settings.mlp] hidden = 128
//!
//! [[models]]
//! name = "sevennet0"
//! file = "embeddings/sevennet0.npz"
//! layers = ["l_last"]            # optional: default every layer in the file
//! # irreps = "128x0e+64x1o"  or  channels = "a=0:128,b=128:320"
//! # channel_layers = ["l_prev"]   invariants = "norms"   # or "components"
//!
//! [[checks]]                     # optional: asserted by `cpd check --manifest`
//! model = "sevennet0"            # selector: model, layer, channels, target,
//! layer = "l_last"               #   representation, probe (absent: any)
//! target = "gap_ev"
//! representation = "geom"
//! probe = "ridge"
//! min = 0.25                     # or max, max_gap, inflation, geom_inflation
//! ```
//!
//! `[[checks]]` are described in [`crate::report::assertions`].
//!
//! Unknown keys are errors (a misspelt setting must not be silently ignored).
//! `[dataset]` may also hold `folds_file` and `composition`, settings kept
//! there by older manifests.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analyses::channels::Invariants;
use crate::error::{CpdError, Result};
use crate::flow::dataset::CompositionMode;
use crate::report::assertions::CheckSpec;
use crate::run::{AnalyzeConfig, CompositionSource, EmbeddingSpec};
use crate::settings::{channel_spec, Given, Inputs, Settings};

/// A parsed manifest, paths already resolved against its directory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Compositions, targets and folds.
    pub dataset: DatasetSection,
    /// Shared settings (read here for their types and line numbers; the
    /// run takes them from [`Manifest::given`], layered under the command
    /// line's).
    #[serde(default)]
    pub settings: Settings,
    /// The models, in report order.
    #[serde(default)]
    pub models: Vec<ModelSection>,
    /// Properties the run's report must have (`cpd check --manifest`).
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// The settings `[settings]` gave, by name.
    #[serde(skip)]
    pub given: Given,
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
    /// `id,fold` CSV (the setting `folds_file`, kept here by older
    /// manifests).
    pub folds_file: Option<PathBuf>,
    /// The setting `composition`, kept here by older manifests.
    pub composition: Option<CompositionMode>,
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
    /// L > 0 irreps as `norms` (the default) or `components`.
    pub invariants: Option<Invariants>,
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
        let mut m: Manifest =
            toml::from_str(text).map_err(|e| format!("not a valid manifest: {e}"))?;
        let raw: toml::Table =
            toml::from_str(text).map_err(|e| format!("not a valid manifest: {e}"))?;
        let table = match raw.get("settings") {
            Some(toml::Value::Table(t)) => t.clone(),
            _ => toml::Table::new(),
        };
        m.given = Given::from_table(&table).map_err(|e| e.to_string())?;
        Ok(m)
    }

    /// The settings the manifest gave (`[settings]`, and the two settings
    /// older manifests keep in `[dataset]`), paths resolved.
    pub fn given(&self) -> std::result::Result<Given, String> {
        let mut given = self.given.clone();
        let d = &self.dataset;
        if let Some(p) = &d.folds_file {
            if given.has("folds_file") {
                return Err("`folds_file` is in both [dataset] and [settings]: give one".into());
            }
            given.set("folds_file", path_value(p));
        }
        if let Some(c) = d.composition {
            if given.has("composition") {
                return Err("`composition` is in both [dataset] and [settings]: give one".into());
            }
            given.set(
                "composition",
                serde_json::to_value(c).map_err(|e| e.to_string())?,
            );
        }
        Ok(given)
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
        if let Some(p) = &mut self.settings.folds_file {
            join(p);
            self.given.set("folds_file", path_value(p));
        }
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
        self.given()?.check().map_err(|e| e.to_string())?;
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
        for (i, c) in self.checks.iter().enumerate() {
            c.validate(i)?;
        }
        Ok(())
    }

    /// What the run reads: the dataset's files and every model's.
    pub fn inputs(&self) -> Result<Inputs> {
        let d = &self.dataset;
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
                        m.invariants.unwrap_or(Invariants::Norms),
                    )
                    .map_err(|e| CpdError::Invalid(format!("model '{}': {e}", m.name)))?,
                    channel_layers: m.channel_layers.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Inputs {
            embeddings,
            composition,
            targets: d.targets.clone(),
        })
    }

    /// The run this manifest describes, with cpd's defaults where it is
    /// silent.
    pub fn to_config(&self) -> Result<AnalyzeConfig> {
        let settings = self.given().map_err(CpdError::Invalid)?.resolve()?;
        settings.config(self.inputs()?)
    }
}

/// A path as a setting's value.
fn path_value(p: &Path) -> serde_json::Value {
    serde_json::Value::String(p.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::gbt::GbtParams;
    use crate::probe::mlp::MlpParams;
    use crate::probe::ridge::RidgeParams;
    use crate::probe::ProbeKind;
    use crate::run::FoldSpec;

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
        assert_eq!(c.params.ridge, RidgeParams::grid(vec![0.1, 10.0]));
        assert_eq!(c.params.gbt.rounds, 12);
        assert_eq!(c.params.gbt.max_depth, Some(4));
        assert_eq!(c.params.gbt.max_leaves, GbtParams::default().max_leaves);
        assert_eq!(c.params.gbt.validation, Some(0.15));
        assert_eq!(c.params.gbt.patience, GbtParams::default().patience);
        assert_eq!(
            c.params.gbt.seed, 7,
            "the early-stopping seed follows the run's seed"
        );
        assert_eq!(c.params.mlp.hidden, 32);
        assert_eq!(c.params.mlp.learning_rate, 0.01);
        assert_eq!(c.params.mlp.patience, 3);
        assert_eq!(c.params.mlp.seed, 7, "the MLP seed follows the run's seed");
        assert_eq!(c.params.mlp.batch, MlpParams::default().batch);
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
        assert!(
            e.contains("settings `alpha` and `alphas` exclude each other"),
            "{e}"
        );
        let e = invalid(&format!("{base}composition = \"moles\"\n{model}"));
        assert!(e.contains("unknown variant `moles`"), "{e}");
        let e = invalid(&format!("{base}[[models]]\nname = \"a\"\n"));
        assert!(e.contains("missing field `file`"), "{e}");
        let e = invalid(&format!(
            "{base}{model}irreps = \"128x0e\"\nchannels = \"a=0:1\"\n"
        ));
        assert!(
            e.contains("model 'a': give `irreps` or `channels`, not both"),
            "{e}"
        );
        let e = invalid(&format!(
            "{base}folds_file = \"f.csv\"\n[settings]\nseed = 3\n{model}"
        ));
        assert!(
            e.contains("settings `folds_file` and `seed` exclude each other"),
            "{e}"
        );
        let e = invalid(&format!("{base}[settings.gbt]\npatience = 3\n{model}"));
        assert!(
            e.contains("setting `gbt.patience` needs `gbt.validation`"),
            "{e}"
        );
        let e = invalid(&format!("{base}[settings]\nfolds = \"five\"\n{model}"));
        assert!(e.contains("invalid type"), "{e}");
        // [[checks]]: unknown keys and checks without a rule are named.
        let e = invalid(&format!(
            "{base}{model}[[checks]]\nlayr = \"l\"\nmin = 0.1\n"
        ));
        assert!(e.contains("unknown field `layr`"), "{e}");
        assert!(e.contains("line 8"), "{e}");
        let e = invalid(&format!(
            "{base}{model}[[checks]]\nname = \"x\"\nlayer = \"l\"\n"
        ));
        assert!(e.contains("[[checks]] 'x': nothing to assert"), "{e}");
    }

    #[test]
    fn checks_are_read_in_order() {
        let text = format!(
            "{FULL}\n[[checks]]\nmodel = \"a\"\nmin = 0.2\n\n[[checks]]\nname = \"gap\"\nmax_gap = 0.1\n"
        );
        let m = Manifest::parse(&text).unwrap();
        m.validate().unwrap();
        assert_eq!(m.checks.len(), 2);
        assert_eq!(m.checks[0].model.as_deref(), Some("a"));
        assert_eq!(m.checks[0].min, Some(0.2));
        assert_eq!(m.checks[1].label(1), "gap");
        assert_eq!(m.checks[1].max_gap, Some(0.1));
        assert!(Manifest::parse(FULL).unwrap().checks.is_empty());
    }
}
