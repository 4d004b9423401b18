//! Every setting of a run, defined once.
//!
//! [`Settings`] is the `[settings]` table of a manifest (serde, unknown keys
//! refused), the flags of `cpd analyze` (clap, flattened into its
//! arguments) and the keyword arguments of the Python package's `analyze`.
//! Its [`Default`] holds every default; the help text, the command
//! reference and the Python signature read them from there.
//!
//! A setting has one name, its key: `folds`, or `gbt.max_leaves` in the
//! `[settings.gbt]` table. The flag is the key with `-` for `_` and `.`
//! (`--folds`, `--gbt-max-leaves`); the Python keyword is the key with `_`
//! for `.` (`gbt_max_leaves`), which is also how [`Given`] spells it.
//!
//! Sources are layered: a manifest's table, then what the command line (or
//! the Python call) gave. [`Given::resolve`] checks every rule that links
//! settings on what was given ([`Given::check`]: a default never conflicts
//! with anything), then fills in the defaults and checks the ranges
//! ([`Settings::check`]). [`Settings::config`] turns the settings and the
//! run's inputs into the [`AnalyzeConfig`] the library runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::analyses::channels::{ChannelSpec, Invariants};
use crate::analyses::compare::{Measure, DEFAULT_COMPARE_ROWS};
use crate::analyses::controls::DEFAULT_INFLATION_THRESHOLD;
use crate::error::{CpdError, Result};
use crate::flow::bootstrap::DEFAULT_REPLICATES;
use crate::flow::dataset::CompositionMode;
use crate::flow::folds::GroupFolds;
use crate::io::peratom::Pool;
use crate::probe::gbt::GbtSettings;
use crate::probe::mlp::MlpSettings;
use crate::probe::ridge::RidgeParams;
use crate::probe::scale::Scale;
use crate::probe::{ProbeKind, ProbeParams};
use crate::run::{AnalyzeConfig, CompositionSource, EmbeddingSpec, FoldSpec, LearningCurve};

/// The settings of a `cpd analyze` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Targets to probe; repeatable or comma-separated [default: every column of the targets file].
    #[arg(
        help_heading = "Inputs",
        long = "target",
        value_name = "T",
        value_delimiter = ','
    )]
    #[serde(alias = "targets", skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    /// Composition as atom counts per element (molecules) or fractions (crystals).
    #[arg(help_heading = "Inputs", long, value_enum, default_value_t = Settings::default().composition)]
    pub composition: CompositionMode,
    /// Pooling of per-atom .npz layers (a `structure` or `n_atoms` array) into one row per structure.
    #[arg(help_heading = "Inputs", long, value_enum, default_value_t = Settings::default().pool)]
    pub pool: Pool,
    /// Probes to run, comma-separated, in report order.
    #[arg(help_heading = "Probes", long, value_name = "LIST", value_enum, value_delimiter = ',', default_values_t = Settings::default().probes)]
    pub probes: Vec<ProbeKind>,
    /// Number of shuffled cross-validation folds.
    #[arg(help_heading = "Probes", long, value_name = "K", default_value_t = Settings::default().folds)]
    pub folds: usize,
    /// Seed of the fold shuffle, and of the MLP and GBT unless they have their own; learning curves, permutations and bootstrap draws derive from it.
    #[arg(help_heading = "Probes", long, value_name = "N", default_value_t = Settings::default().seed)]
    pub seed: u64,
    /// Use this fold assignment (CSV with columns id,fold) instead of shuffled folds; excludes `folds` and `seed`.
    #[arg(help_heading = "Probes", long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folds_file: Option<PathBuf>,
    /// Keep every structure of one composition in one fold (folds balanced by size, seeded), so no probe trains on an isomer of a held-out structure [default: ungrouped].
    #[arg(help_heading = "Probes", long, value_name = "BY", value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_folds: Option<GroupFolds>,
    /// Feature scaling of the ridge and MLP probes on each training fold: robust (centred, one scale shared by every column; the MLP also clips held-out rows to the training fold's range), standard (StandardScaler), clip, global, global-clip. GBT bins its inputs and is unaffected.
    #[arg(help_heading = "Probes", long, value_name = "MODE", value_enum, default_value_t = Settings::default().scale)]
    pub scale: Scale,
    /// MLP and GBT probes: fit on a seeded subsample of at most N rows of each training fold (every held-out row is still scored; ridge always uses every row) [default: every row].
    #[arg(help_heading = "Probes", long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<usize>,
    /// Also remove the composition-linear part of the targets.
    #[arg(help_heading = "Probes", long)]
    pub residualize_target: bool,
    /// Bootstrap replicates (over structures, of the out-of-fold predictions) behind every 95 % interval and paired comparison; 0: none.
    #[arg(help_heading = "Probes", long, value_name = "N", default_value_t = Settings::default().bootstrap)]
    pub bootstrap: usize,
    /// Refit every probe on N within-fold permutations of the targets: each record's null mean, 95th percentile and p-value; 0: none.
    #[arg(help_heading = "Probes", long, value_name = "N", default_value_t = Settings::default().permutations)]
    pub permutations: usize,
    /// Ridge: one fixed alpha (no selection); excludes `alphas`.
    #[arg(help_heading = "Ridge", long, value_name = "A")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Ridge: the alpha grid of the leave-one-out selection on each training fold, comma-separated [default: logspace(-3, 3, 13)].
    #[arg(
        help_heading = "Ridge",
        long,
        value_name = "LIST",
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alphas: Option<Vec<f64>>,
    /// The GBT probe.
    #[command(flatten)]
    pub gbt: GbtSettings,
    /// The MLP probe.
    #[command(flatten)]
    pub mlp: MlpSettings,
    /// Add control targets computed from composition alone (mass, mean electronegativity, seeded random functions, ...) and flag probes whose R²_cond on them is inflated.
    #[arg(help_heading = "Analyses", long)]
    pub controls: bool,
    /// R²_cond on a control above which a probe is flagged inflated.
    #[arg(help_heading = "Analyses", long, value_name = "T", default_value_t = Settings::default().inflation_threshold)]
    pub inflation_threshold: f64,
    /// Linear CKA between every pair of layers of every model, on raw and geom (report.json `similarity`, similarity.csv, a heat map).
    #[arg(help_heading = "Analyses", long)]
    pub similarity: bool,
    /// Compare every pair of layers (and same-named channel groups) of every model, on raw and geom, comma-separated: gfre, gfrd, lfre (held-out reconstruction errors), imbalance (information imbalance), cka_unbiased; with the TwoNN intrinsic dimension of each layer (report.json `comparison`, comparison.csv, heat maps).
    #[arg(
        help_heading = "Analyses",
        long,
        value_name = "LIST",
        value_enum,
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<Measure>,
    /// Rows the comparisons use: a seeded subsample of at most N structures (every structure when there are fewer), each kept in its fold; at least 100.
    #[arg(help_heading = "Analyses", long, value_name = "N", default_value_t = Settings::default().compare_rows)]
    pub compare_rows: usize,
    /// Learning curves at these training sizes, comma-separated (e.g. 100,200,500,1000,2000).
    #[arg(
        help_heading = "Analyses",
        long,
        value_name = "LIST",
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_curve: Option<Vec<usize>>,
    /// Subsamples per learning-curve size and fold (needs `learning_curve`).
    #[arg(help_heading = "Analyses", long, value_name = "N", default_value_t = Settings::default().curve_repeats)]
    pub curve_repeats: usize,
    /// Also probe each irrep group of the layers, from an e3nn irreps string such as 128x0e+64x1o+32x2e (every model; excludes `channels`).
    #[arg(help_heading = "Analyses", long, value_name = "IRREPS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub irreps: Option<String>,
    /// Also probe named column groups: name=start:end,... (0-based, end exclusive; every model; excludes `irreps`).
    #[arg(help_heading = "Analyses", long, value_name = "SPEC")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<String>,
    /// L > 0 irreps as the norm of each copy's components, or the raw components (needs `irreps` or `channels`).
    #[arg(help_heading = "Analyses", long, value_enum, default_value_t = Settings::default().invariants)]
    pub invariants: Invariants,
    /// Layers the channel groups apply to, comma-separated (needs `irreps` or `channels`) [default: every layer].
    #[arg(
        help_heading = "Analyses",
        long,
        value_name = "LIST",
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_layers: Option<Vec<String>>,
    /// Also write predictions.csv: every record's out-of-fold prediction per structure (needs an output directory).
    #[arg(help_heading = "Output", long)]
    pub predictions: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            target: Vec::new(),
            composition: CompositionMode::Counts,
            pool: Pool::Mean,
            probes: vec![ProbeKind::Ridge],
            folds: 5,
            seed: 0,
            folds_file: None,
            group_folds: None,
            scale: Scale::Robust,
            max_rows: None,
            residualize_target: false,
            bootstrap: DEFAULT_REPLICATES,
            permutations: 0,
            alpha: None,
            alphas: None,
            gbt: GbtSettings::default(),
            mlp: MlpSettings::default(),
            controls: false,
            inflation_threshold: DEFAULT_INFLATION_THRESHOLD,
            similarity: false,
            compare: Vec::new(),
            compare_rows: DEFAULT_COMPARE_ROWS,
            learning_curve: None,
            curve_repeats: 5,
            irreps: None,
            channels: None,
            invariants: Invariants::Norms,
            channel_layers: None,
            predictions: false,
        }
    }
}

/// Keys of the tables nested in `[settings]`: their settings are spelt
/// `TABLE_KEY` in [`Given`] and as flags and keywords.
const TABLES: [&str; 2] = ["gbt", "mlp"];

/// Pairs of settings that exclude each other (flat names).
pub const EXCLUDES: [(&str, &str); 4] = [
    ("alpha", "alphas"),
    ("folds_file", "folds"),
    ("folds_file", "seed"),
    ("irreps", "channels"),
];

/// Settings that mean something only beside one of others (flat names).
pub const NEEDS: [(&str, &[&str]); 5] = [
    ("gbt_patience", &["gbt_validation"]),
    ("compare_rows", &["compare"]),
    ("curve_repeats", &["learning_curve"]),
    ("invariants", &["irreps", "channels"]),
    ("channel_layers", &["irreps", "channels"]),
];

/// Names still accepted for a setting, and its key.
pub const ALIASES: [(&str, &str); 6] = [
    ("targets", "target"),
    ("gbt_lr", "gbt_learning_rate"),
    ("gbt_leaves", "gbt_max_leaves"),
    ("gbt_depth", "gbt_max_depth"),
    ("gbt_bins", "gbt_max_bins"),
    ("mlp_lr", "mlp_learning_rate"),
];

/// A setting's key (`gbt.max_leaves`) from its flat name (`gbt_max_leaves`).
pub fn key(name: &str) -> String {
    for t in TABLES {
        if let Some(rest) = name.strip_prefix(t).and_then(|r| r.strip_prefix('_')) {
            return format!("{t}.{rest}");
        }
    }
    name.to_owned()
}

/// A setting's command-line flag (`--gbt-max-leaves`) from its flat name.
pub fn flag(name: &str) -> String {
    format!("--{}", name.replace('_', "-"))
}

/// The flat name of every setting, in the order of the help text.
pub fn names() -> Vec<String> {
    Settings::augment_args(clap::Command::new("cpd"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect()
}

/// The settings a source gave, by flat name (`folds`, `gbt_max_leaves`),
/// as JSON values; what it left out takes the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Given(BTreeMap<String, Value>);

impl Given {
    /// What a `[settings]` table gave (its `gbt` and `mlp` tables
    /// included); old names are read as their keys.
    pub fn from_table(table: &toml::Table) -> Result<Given> {
        let value = serde_json::to_value(table)
            .map_err(|e| CpdError::Invalid(format!("[settings]: {e}")))?;
        Given::from_flat(flatten(value))
    }

    /// What keyword arguments gave (flat names, old names read as their
    /// keys); an unknown name is an error.
    pub fn from_flat(map: Map<String, Value>) -> Result<Given> {
        let known = names();
        let mut out = BTreeMap::new();
        for (name, v) in map {
            let name = ALIASES
                .iter()
                .find(|(old, _)| *old == name)
                .map_or(name, |(_, new)| (*new).to_owned());
            if !known.contains(&name) {
                return Err(CpdError::Invalid(unknown(&name, &known)));
            }
            if out.insert(name.clone(), v).is_some() {
                return Err(CpdError::Invalid(format!(
                    "setting `{}` is given twice (under an old name too)",
                    key(&name)
                )));
            }
        }
        Ok(Given(out))
    }

    /// What the command line gave: the flags whose value came from it.
    /// Every value is a finite number where it is a number (JSON has no
    /// NaN: a NaN given on the command line is refused here, not dropped).
    pub fn from_matches(settings: &Settings, matches: &ArgMatches) -> Result<Given> {
        let all = settings.flat()?;
        let mut out = BTreeMap::new();
        for n in names() {
            if matches.value_source(&n) != Some(ValueSource::CommandLine) {
                continue;
            }
            match all.get(&n) {
                Some(v) if !v.is_null() => {
                    out.insert(n, v.clone());
                }
                _ => {
                    let raw: Vec<String> = matches
                        .get_raw(&n)
                        .into_iter()
                        .flatten()
                        .map(|s| s.to_string_lossy().into_owned())
                        .collect();
                    return Err(CpdError::Invalid(format!(
                        "setting `{}` must be a finite number, got {}",
                        key(&n),
                        raw.join(",")
                    )));
                }
            }
        }
        Ok(Given(out))
    }

    /// `self`, with what `over` gave in place of it: a setting of `over`
    /// also replaces what excludes it here (`folds_file` over `folds`).
    pub fn overlay(mut self, over: Given) -> Given {
        for (a, b) in EXCLUDES {
            if over.has(a) {
                self.0.remove(b);
            }
            if over.has(b) {
                self.0.remove(a);
            }
        }
        self.0.extend(over.0);
        self
    }

    /// Whether a source gave the setting of flat name `name`.
    pub fn has(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| !v.is_null())
    }

    /// Set the flat name `name` (as a source would have).
    pub fn set(&mut self, name: &str, value: Value) {
        self.0.insert(name.to_owned(), value);
    }

    /// The rules that link settings ([`EXCLUDES`], [`NEEDS`]), on what
    /// was given: a default never breaks one.
    pub fn check(&self) -> Result<()> {
        for (a, b) in EXCLUDES {
            if self.has(a) && self.has(b) {
                return Err(CpdError::Invalid(format!(
                    "settings `{}` and `{}` exclude each other: give one",
                    key(a),
                    key(b)
                )));
            }
        }
        for (a, any) in NEEDS {
            if self.has(a) && !any.iter().any(|b| self.has(b)) {
                let any: Vec<String> = any.iter().map(|b| format!("`{}`", key(b))).collect();
                return Err(CpdError::Invalid(format!(
                    "setting `{}` needs {}",
                    key(a),
                    any.join(" or ")
                )));
            }
        }
        Ok(())
    }

    /// The settings: the rules checked on what was given, the rest filled
    /// from the defaults, the ranges checked.
    pub fn resolve(&self) -> Result<Settings> {
        self.check()?;
        let nested = nest(self.0.iter().filter(|(_, v)| !v.is_null()));
        let settings: Settings = serde_json::from_value(Value::Object(nested)).map_err(|e| {
            // Name the setting: the first one that does not read alone.
            let bad = self.0.iter().find(|(n, v)| {
                let mut one = Given::default();
                one.set(n, (*v).clone());
                one.resolve_unchecked().is_err()
            });
            match bad {
                Some((n, v)) => CpdError::Invalid(format!("setting `{}` = {v}: {e}", key(n))),
                None => CpdError::Invalid(format!("settings: {e}")),
            }
        })?;
        settings.check()?;
        Ok(settings)
    }

    fn resolve_unchecked(&self) -> std::result::Result<Settings, serde_json::Error> {
        serde_json::from_value(Value::Object(nest(self.0.iter())))
    }
}

/// Settings by flat name from their nested form (`{"gbt": {"rounds": 5}}`
/// is `gbt_rounds`).
fn flatten(value: Value) -> Map<String, Value> {
    let Value::Object(map) = value else {
        return Map::new();
    };
    let mut flat = Map::new();
    for (k, v) in map {
        match v {
            Value::Object(inner) if TABLES.contains(&k.as_str()) => {
                for (k2, v2) in inner {
                    flat.insert(format!("{k}_{k2}"), v2);
                }
            }
            v => {
                flat.insert(k, v);
            }
        }
    }
    flat
}

/// The nested form of settings given by flat name ([`flatten`] undone).
fn nest<'a>(flat: impl Iterator<Item = (&'a String, &'a Value)>) -> Map<String, Value> {
    let mut nested = Map::new();
    for (name, v) in flat {
        match key(name).split_once('.') {
            Some((table, k)) => {
                let t = nested
                    .entry(table.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(t) = t {
                    t.insert(k.to_owned(), v.clone());
                }
            }
            None => {
                nested.insert(name.clone(), v.clone());
            }
        }
    }
    nested
}

/// "unknown setting" with the closest known name, when one is close.
fn unknown(name: &str, known: &[String]) -> String {
    let close = known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(d, _)| *d <= 2)
        .min();
    match close {
        Some((_, k)) => format!(
            "unknown setting `{}` (did you mean `{}`?)",
            key(name),
            key(k)
        ),
        None => format!("unknown setting `{}`", key(name)),
    }
}

/// The inputs of a run: what it reads, as opposed to how.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Embedding files, in report order.
    pub embeddings: Vec<EmbeddingSpec>,
    /// Compositions.
    pub composition: CompositionSource,
    /// Targets CSV.
    pub targets: PathBuf,
}

impl Settings {
    /// The settings by flat name, as JSON values (absent options left out).
    pub fn flat(&self) -> Result<Map<String, Value>> {
        let value =
            serde_json::to_value(self).map_err(|e| CpdError::Invalid(format!("settings: {e}")))?;
        Ok(flatten(value))
    }

    /// The ranges of the settings checked nowhere else (the probes', the
    /// ridge grid's, the folds' and the threshold's are checked where
    /// they are used).
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(CpdError::Invalid(m));
        if self.probes.is_empty() {
            return bad("setting `probes` is empty: give at least one probe".into());
        }
        if self.compare_rows < 100 {
            return bad(format!(
                "setting `compare_rows` = {}: must be at least 100 (LFRE fits on 20 neighbours within each training fold)",
                self.compare_rows
            ));
        }
        Ok(())
    }

    /// The effective settings as a manifest's `[settings]` table (TOML);
    /// a manifest with it runs the same analysis. Settings that mean
    /// nothing here ([`NEEDS`] unmet, `folds` and `seed` beside a folds
    /// file) are left out; paths are absolute.
    pub fn to_toml(&self) -> Result<String> {
        let err = |e: String| CpdError::Invalid(format!("settings as TOML: {e}"));
        let mut s = self.clone();
        if let Some(p) = &s.folds_file {
            s.folds_file = Some(std::path::absolute(p).map_err(|e| CpdError::io(p, e))?);
        }
        let mut table = toml::Table::try_from(&s).map_err(|e| err(e.to_string()))?;
        let present = s.flat()?;
        let has = |n: &str| present.get(n).is_some_and(|v| !v.is_null());
        let mut drop: Vec<&str> = NEEDS
            .iter()
            .filter(|(_, any)| !any.iter().any(|b| has(b)))
            .map(|(a, _)| *a)
            .collect();
        if has("folds_file") {
            drop.extend(["folds", "seed"]);
        }
        for name in drop {
            match key(name).split_once('.') {
                Some((t, k)) => {
                    if let Some(toml::Value::Table(inner)) = table.get_mut(t) {
                        inner.remove(k);
                    }
                }
                None => {
                    table.remove(name);
                }
            }
        }
        let mut wrap = toml::Table::new();
        wrap.insert("settings".into(), toml::Value::Table(table));
        toml::to_string(&wrap).map_err(|e| err(e.to_string()))
    }

    /// The run: these settings on `inputs`. Channel groups given here
    /// apply to every model (in place of a model's own).
    pub fn config(&self, mut inputs: Inputs) -> Result<AnalyzeConfig> {
        let ridge = match (self.alpha, &self.alphas) {
            (Some(a), _) => RidgeParams::fixed(a),
            (None, Some(grid)) => RidgeParams::grid(grid.clone()),
            (None, None) => RidgeParams::default(),
        };
        if let Some(spec) = self.channel_spec()? {
            for e in &mut inputs.embeddings {
                e.channels = Some(spec.clone());
                e.channel_layers = self.channel_layers.clone();
            }
        }
        Ok(AnalyzeConfig {
            embeddings: inputs.embeddings,
            composition: inputs.composition,
            composition_mode: self.composition,
            targets: inputs.targets,
            target_names: self.target.clone(),
            probes: self.probes.clone(),
            folds: match &self.folds_file {
                Some(p) => FoldSpec::File(p.clone()),
                None => FoldSpec::Shuffled {
                    k: self.folds,
                    seed: self.seed,
                },
            },
            params: ProbeParams {
                ridge,
                gbt: self.gbt.params(self.seed),
                mlp: self.mlp.params(self.seed),
            },
            residualize_target: self.residualize_target,
            controls: self.controls,
            inflation_threshold: self.inflation_threshold,
            learning_curve: self.learning_curve.clone().map(|sizes| LearningCurve {
                sizes,
                repeats: self.curve_repeats,
            }),
            scale: self.scale,
            predictions: self.predictions,
            pool: self.pool,
            similarity: self.similarity,
            compare: self.compare.clone(),
            compare_rows: self.compare_rows,
            max_rows: self.max_rows,
            group_folds: self.group_folds,
            permutations: self.permutations,
            bootstrap: self.bootstrap,
            conditional: true,
        })
    }

    /// The channel groups of `irreps` or `channels` (`None`: neither).
    pub fn channel_spec(&self) -> Result<Option<ChannelSpec>> {
        channel_spec(
            self.irreps.as_deref(),
            self.channels.as_deref(),
            self.invariants,
        )
    }
}

/// The channel groups of `irreps` or `channels` (at most one given), with
/// `invariants` for the L > 0 irreps.
pub fn channel_spec(
    irreps: Option<&str>,
    channels: Option<&str>,
    invariants: Invariants,
) -> Result<Option<ChannelSpec>> {
    match (irreps, channels) {
        (Some(_), Some(_)) => Err(CpdError::Invalid(
            "settings `irreps` and `channels` exclude each other: give one".into(),
        )),
        (Some(i), None) => ChannelSpec::irreps(i, invariants).map(Some),
        (None, Some(c)) => ChannelSpec::ranges(c).map(Some),
        (None, None) => Ok(None),
    }
}

/// The `cpd analyze` command with only its settings (for the generated
/// reference and the Python signature).
pub fn command() -> clap::Command {
    Settings::augment_args(clap::Command::new("settings"))
}

/// One setting, as the reference pages and the Python signature show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Flat name: the Python keyword (`gbt_max_leaves`).
    pub name: String,
    /// Key in `[settings]` (`gbt.max_leaves`).
    pub key: String,
    /// Command-line flag (`--gbt-max-leaves`).
    pub flag: String,
    /// Default (`null` where there is none).
    pub default: Value,
    /// Help text.
    pub help: String,
}

/// Every setting, in the order of `cpd analyze --help`.
pub fn reference() -> Result<Vec<Entry>> {
    let defaults = Settings::default().flat()?;
    Ok(command()
        .get_arguments()
        .map(|a| {
            let name = a.get_id().to_string();
            Entry {
                key: key(&name),
                flag: flag(&name),
                default: defaults.get(&name).cloned().unwrap_or(Value::Null),
                help: a.get_help().map(|h| h.to_string()).unwrap_or_default(),
                name,
            }
        })
        .collect())
}

/// The settings reference page (`docs/settings.md`), generated from the
/// definitions above: `cpd reference settings` prints it, and a test holds
/// the committed page to it.
pub fn reference_markdown() -> Result<String> {
    let mut out = String::from(
        "# Settings\n\n\
         Every setting of `cpd analyze`, generated from `src/settings.rs` \
         (`cpd reference settings`; a test fails when this page drifts from \
         the code). One setting has one name, its key in a manifest's \
         `[settings]` table (`[settings.gbt]`, `[settings.mlp]` for the \
         dotted ones). The flag is the key with `-` for `_` and `.`; the \
         Python keyword of `cpd.analyze` is the key with `_` for `.`. Flags \
         given beside a manifest replace its settings; a setting left out \
         takes the default. `cpd analyze --print-settings` prints the \
         effective settings as a `[settings]` table.\n\n",
    );
    out.push_str("| key | flag | Python | default | meaning |\n|---|---|---|---|---|\n");
    for e in reference()? {
        let default = match &e.default {
            Value::Null => "—".to_owned(),
            v => format!("`{v}`"),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} | {} |\n",
            e.key,
            e.flag,
            e.name,
            default,
            e.help.replace('|', "\\|")
        ));
    }
    out.push_str("\n## Rules\n\n");
    for (a, b) in EXCLUDES {
        out.push_str(&format!(
            "- `{}` and `{}` exclude each other; given on the command line, \
             one replaces the other from a manifest.\n",
            key(a),
            key(b)
        ));
    }
    for (a, any) in NEEDS {
        let any: Vec<String> = any.iter().map(|b| format!("`{}`", key(b))).collect();
        out.push_str(&format!("- `{}` needs {}.\n", key(a), any.join(" or ")));
    }
    out.push_str("\n## Older names\n\nStill read, as the setting named:\n\n");
    for (old, new) in ALIASES {
        let old_flag = if old == "targets" {
            "—".to_owned()
        } else {
            format!("`{}`", flag(old))
        };
        out.push_str(&format!(
            "- `{}` (flag {old_flag}, Python `{old}`): `{}`\n",
            key(old),
            key(new)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    /// The settings a command line gives (`cpd analyze ARGS`).
    fn from_args(args: &[&str]) -> Result<Given> {
        let m = command()
            .try_get_matches_from(std::iter::once("cpd").chain(args.iter().copied()))
            .map_err(|e| CpdError::Invalid(e.to_string()))?;
        let s = Settings::from_arg_matches(&m).map_err(|e| CpdError::Invalid(e.to_string()))?;
        Given::from_matches(&s, &m)
    }

    fn table(text: &str) -> Given {
        Given::from_table(&toml::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn every_source_has_the_same_defaults() {
        command().debug_assert();
        let d = Settings::default();
        let m = command().get_matches_from(["cpd"]);
        assert_eq!(
            Settings::from_arg_matches(&m).unwrap(),
            d,
            "clap's defaults"
        );
        assert_eq!(
            toml::from_str::<Settings>("").unwrap(),
            d,
            "serde's defaults"
        );
        assert_eq!(Given::default().resolve().unwrap(), d);
        assert_eq!(from_args(&[]).unwrap(), Given::default(), "nothing given");
        assert_eq!(
            d.gbt.max_leaves,
            crate::probe::gbt::GbtParams::default().max_leaves
        );
        assert_eq!(
            d.mlp.learning_rate,
            crate::probe::mlp::MlpParams::default().learning_rate
        );
    }

    #[test]
    fn a_setting_reads_the_same_from_a_table_a_flag_and_a_keyword() {
        let t = table("folds = 3\nprobes = [\"ridge\", \"gbt\"]\n[gbt]\nmax_leaves = 7\n");
        let f = from_args(&[
            "--folds",
            "3",
            "--probes",
            "ridge,gbt",
            "--gbt-max-leaves",
            "7",
        ])
        .unwrap();
        let k = Given::from_flat(
            serde_json::from_str(
                r#"{"folds": 3, "probes": ["ridge", "gbt"], "gbt_max_leaves": 7}"#,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(t, f);
        assert_eq!(f, k);
        let s = k.resolve().unwrap();
        assert_eq!((s.folds, s.gbt.max_leaves), (3, 7));
        assert_eq!(s.probes, vec![ProbeKind::Ridge, ProbeKind::Gbt]);
    }

    #[test]
    fn old_names_are_read_as_their_keys() {
        for (old, new) in ALIASES {
            let (value, flag_value) = match new {
                "target" => (r#"["gap"]"#, "gap"),
                "gbt_learning_rate" | "mlp_learning_rate" => ("0.25", "0.25"),
                _ => ("7", "7"),
            };
            let kw = |n: &str| {
                Given::from_flat(serde_json::from_str(&format!(r#"{{"{n}": {value}}}"#)).unwrap())
                    .unwrap()
                    .resolve()
                    .unwrap()
            };
            assert_eq!(kw(old), kw(new), "{old}");
            // The manifest's typed reading (serde's aliases) agrees.
            let toml_key = |n: &str| match key(n).split_once('.') {
                Some((t, k)) => format!("[{t}]\n{k} = {value}\n"),
                None => format!("{n} = {value}\n"),
            };
            let typed: Settings = toml::from_str(&toml_key(old)).unwrap();
            assert_eq!(typed, kw(new), "{old} in a manifest");
            // The command line's old flags (targets' is --target itself).
            if old != "targets" {
                let s = from_args(&[&flag(old), flag_value])
                    .unwrap()
                    .resolve()
                    .unwrap();
                assert_eq!(s, kw(new), "{}", flag(old));
            }
        }
        let e = Given::from_flat(
            serde_json::from_str(r#"{"gbt_lr": 0.2, "gbt_learning_rate": 0.3}"#).unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`gbt.learning_rate` is given twice"), "{e}");
    }

    #[test]
    fn rules_apply_to_what_was_given_not_to_defaults() {
        // At its default, a given `folds` still excludes a folds file.
        let e = from_args(&["--folds", "5", "--folds-file", "f.csv"])
            .unwrap()
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("settings `folds_file` and `folds` exclude each other"),
            "{e}"
        );
        let s = from_args(&["--folds-file", "f.csv"])
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(s.folds_file, Some(PathBuf::from("f.csv")));
        for (args, want) in [
            (
                &["--gbt-patience", "10"][..],
                "`gbt.patience` needs `gbt.validation`",
            ),
            (
                &["--curve-repeats", "5"][..],
                "`curve_repeats` needs `learning_curve`",
            ),
            (
                &["--invariants", "norms"][..],
                "`invariants` needs `irreps` or `channels`",
            ),
            (
                &["--alpha", "1", "--alphas", "1,2"][..],
                "`alpha` and `alphas` exclude",
            ),
            (
                &["--irreps", "8x0e", "--channels", "a=0:8"][..],
                "`irreps` and `channels` exclude",
            ),
        ] {
            let e = from_args(args).unwrap().resolve().unwrap_err().to_string();
            assert!(e.contains(want), "{args:?}: {e}");
        }
        assert!(
            from_args(&["--gbt-patience", "3", "--gbt-validation", "0.1"])
                .unwrap()
                .resolve()
                .is_ok()
        );
    }

    #[test]
    fn a_layer_above_replaces_what_excludes_its_settings() {
        let manifest = table("folds = 3\nseed = 2\nalpha = 1.0\n");
        let flags = from_args(&["--folds-file", "f.csv", "--alphas", "0.1,1"]).unwrap();
        let s = manifest.clone().overlay(flags).resolve().unwrap();
        assert_eq!(s.folds_file, Some(PathBuf::from("f.csv")));
        assert_eq!((s.alpha, s.alphas), (None, Some(vec![0.1, 1.0])));
        let s = manifest
            .overlay(from_args(&["--folds", "4"]).unwrap())
            .resolve()
            .unwrap();
        assert_eq!((s.folds, s.seed, s.alpha), (4, 2, Some(1.0)));
    }

    #[test]
    fn mistakes_name_the_setting() {
        let e = Given::from_flat(serde_json::from_str(r#"{"fold": 3}"#).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown setting `fold` (did you mean `folds`?)"),
            "{e}"
        );
        let e = Given::from_table(&toml::from_str("[gbt]\nleafs = 3\n").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("unknown setting `gbt.leafs`"), "{e}");
        let e = table("folds = \"five\"\n")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("setting `folds` = \"five\""), "{e}");
        let e = table("scale = \"loud\"\n")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("setting `scale`") && e.contains("unknown variant `loud`"),
            "{e}"
        );
    }

    #[test]
    fn printed_settings_read_back_to_the_same_settings() {
        let given = from_args(&[
            "--probes",
            "ridge,mlp,gbt",
            "--folds",
            "4",
            "--seed",
            "9",
            "--target",
            "a,b",
            "--scale",
            "standard",
            "--gbt-max-leaves",
            "7",
            "--gbt-validation",
            "0.2",
            "--gbt-patience",
            "4",
            "--mlp-seed",
            "3",
            "--learning-curve",
            "10,20",
            "--irreps",
            "8x0e+4x1o",
            "--invariants",
            "components",
            "--alphas",
            "0.5,5",
            "--group-folds",
            "composition",
            "--max-rows",
            "100",
            "--controls",
        ])
        .unwrap();
        let s = given.resolve().unwrap();
        let text = s.to_toml().unwrap();
        let back: toml::Table = toml::from_str(&text).unwrap();
        let toml::Value::Table(t) = &back["settings"] else {
            panic!("{text}")
        };
        let again = Given::from_table(t).unwrap().resolve().unwrap();
        assert_eq!(again, s, "{text}");
        assert_eq!(again.to_toml().unwrap(), text);
        // Without their partners, the dependent settings are left out.
        let d = Settings::default().to_toml().unwrap();
        for k in [
            "curve_repeats",
            "invariants",
            "patience = 10\n\n[settings.mlp]",
        ] {
            assert!(!d.contains(k), "{k} in\n{d}");
        }
        let back: toml::Table = toml::from_str(&d).unwrap();
        let toml::Value::Table(t) = &back["settings"] else {
            panic!()
        };
        assert_eq!(
            Given::from_table(t).unwrap().resolve().unwrap(),
            Settings::default()
        );
    }
}
