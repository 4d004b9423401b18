//! Splitting a run over machines (`cpd analyze --shard I/N`): the run's
//! work units, their cost, a deterministic balanced partition into `N`
//! shards, and the `shard` section of a partial report that `cpd merge`
//! ([`crate::run::join`]) checks and joins.
//!
//! A **work unit** is one probe on one layer of one model: its records for
//! every target, representation and channel group, and its learning
//! curves. Units are listed in report order (models as given, layers as
//! probed, probes as selected), so a study heavy in MLP or GBT fits spreads
//! them over every shard. Each shard also fits the composition-only probes
//! its units need (a handful of columns: cheap next to a layer), so the
//! composition records of every layer come out of the shard that holds the
//! layer, exactly as in a single run.
//!
//! **Cost** of a unit: `probe weight × layer width` ([`ProbeKind::cost_weight`]), the
//! leading term of each probe's cost at fixed rows (ridge's Gram and
//! leverages grow with d², but its constant is so much smaller that within
//! the widths of real embeddings, 64–1,024, a linear term with measured
//! weights ranks units correctly). Channel groups are not counted.
//!
//! **Partition**: longest processing time first. Units in decreasing cost
//! (ties in report order) each go to the shard with the least cost so far
//! (ties: the lowest index); each shard then runs its units in report
//! order. The partition depends only on the list of units and `N`, never on
//! the machine, so every shard computes the same one.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{AnalyzeConfig, EmbeddingSpec};
use crate::error::{CpdError, Result};
use crate::io::embeddings;
use crate::probe::ProbeKind;
use crate::report::Report;

/// Shard `index` (from 0) of `count`: `--shard I/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 0 (SLURM's `$SLURM_ARRAY_TASK_ID` with `--array=0-(N-1)`).
    pub index: usize,
    /// How many shards the run is split into.
    pub count: usize,
}

impl Shard {
    /// Parse `I/N` (0 ≤ I < N).
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = |why: &str| CpdError::Invalid(format!("--shard '{text}': {why}"));
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| bad("expected I/N, e.g. 0/4 (shard I, from 0, of N)"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| bad("I is not a whole number"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| bad("N is not a whole number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad(&format!(
                "I counts from 0 and must be below N ({count})"
            )));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One probe on one layer of one model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkUnit {
    /// Model name.
    pub model: String,
    /// Layer name.
    pub layer: String,
    /// Probe name.
    pub probe: String,
    /// Layer width (columns), from the file's header.
    pub cols: usize,
    /// Cost estimate: [`ProbeKind::cost_weight`] × `cols`.
    pub cost: u64,
}

/// The run's work units, in report order, from the embedding files'
/// headers (no data is read).
pub fn plan(config: &AnalyzeConfig) -> Result<Vec<WorkUnit>> {
    let mut units = Vec::new();
    for spec in &config.embeddings {
        for (layer, cols) in spec_layers(spec)? {
            for &p in &config.probes {
                units.push(WorkUnit {
                    model: spec.model.clone(),
                    layer: layer.clone(),
                    probe: p.name().into(),
                    cols,
                    cost: p.cost_weight() * cols as u64,
                });
            }
        }
    }
    Ok(units)
}

/// Longest processing time first: the indices of the units of each of
/// `count` shards, each in increasing (report) order. Every unit is in
/// exactly one shard.
pub fn partition(costs: &[u64], count: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0u64; count];
    let mut shards = vec![Vec::new(); count];
    for u in order {
        let s = (0..count).min_by_key(|&s| (load[s], s)).expect("count ≥ 1");
        load[s] += costs[u];
        shards[s].push(u);
    }
    for s in &mut shards {
        s.sort_unstable();
    }
    shards
}

/// The units of shard `shard` of `plan`.
pub fn units_of(plan: &[WorkUnit], shard: Shard) -> Vec<WorkUnit> {
    let costs: Vec<u64> = plan.iter().map(|u| u.cost).collect();
    partition(&costs, shard.count)[shard.index]
        .iter()
        .map(|&i| plan[i].clone())
        .collect()
}

/// The layers (name, width) a model's file will be probed on, in the order
/// a run probes them: the selected layers in their order, else every layer
/// in file order. A layer split over several files has the first file's
/// layers (the others are checked against it when the run opens them).
fn spec_layers(spec: &EmbeddingSpec) -> Result<Vec<(String, usize)>> {
    let first = &spec.paths[0];
    let have = embeddings::file_layers(first)?;
    let Some(wanted) = &spec.layers else {
        return Ok(have);
    };
    wanted
        .iter()
        .map(|name| {
            have.iter()
                .find(|(n, _)| n == name)
                .cloned()
                .ok_or_else(|| {
                    let names: Vec<&str> = have.iter().map(|(n, _)| n.as_str()).collect();
                    CpdError::format(
                        first,
                        format!("no layer '{name}' (the file has: {})", names.join(", ")),
                    )
                })
        })
        .collect()
}

/// An input file as a shard saw it: its size always, its SHA-256 when the
/// shard read it (tables always; an embedding file only when the shard
/// probes one of its layers, so that no shard reads every file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Path as given.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the bytes (`null`: not read by this shard).
    pub sha256: Option<String>,
}

/// The `shard` section of a partial report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Which shard, from 0.
    pub index: usize,
    /// How many shards.
    pub count: usize,
    /// The units this shard ran, in report order.
    pub units: Vec<WorkUnit>,
    /// Every unit of the run, in report order (the same in every shard).
    pub plan: Vec<WorkUnit>,
    /// Every input file of the run.
    pub inputs: Vec<FileDigest>,
    /// Settings that shape the report but are not in `settings`.
    pub settings: ShardSettings,
    /// SHA-256 of the `folds.csv` written beside this report.
    pub folds_sha256: String,
    /// Shard 0, with comparisons: every layer's intrinsic dimension.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intrinsic: Vec<crate::report::IntrinsicDims>,
}

/// Settings of a sharded run that `report.settings` does not hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSettings {
    /// `--inflation-threshold`.
    pub inflation_threshold: f64,
    /// `--pool` (`settings.pool` records it only when a file read was per atom).
    pub pool: String,
    /// `--predictions`.
    pub predictions: bool,
}

/// A partial report: the report of the shard's own records (its analyses
/// are of those records only; `cpd merge` recomputes them over all) and
/// the `shard` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialReport {
    /// The shard's report.
    #[serde(flatten)]
    pub report: Report,
    /// What shard it is, of what run.
    pub shard: ShardInfo,
}

/// The digests of every input of `config`: the tables as `report` read
/// them, the embedding files with a SHA-256 when `report` read them.
pub(super) fn digests(config: &AnalyzeConfig, report: &Report) -> Result<Vec<FileDigest>> {
    let size = |p: &Path| -> Result<u64> {
        Ok(std::fs::metadata(p).map_err(|e| CpdError::io(p, e))?.len())
    };
    let mut out = Vec::new();
    for i in report.inputs.iter().filter(|i| i.role != "embeddings") {
        out.push(FileDigest {
            path: i.path.clone(),
            bytes: size(Path::new(&i.path))?,
            sha256: Some(i.sha256.clone()),
        });
    }
    for file in config.embeddings.iter().flat_map(|spec| &spec.paths) {
        let path = file.display().to_string();
        let sha = report
            .inputs
            .iter()
            .find(|i| i.role == "embeddings" && i.path == path)
            .map(|i| i.sha256.clone());
        out.push(FileDigest {
            bytes: size(file)?,
            path,
            sha256: sha,
        });
    }
    Ok(out)
}

/// What a shard holds, for the probing stage.
pub(super) struct Units<'a>(pub &'a [WorkUnit]);

impl Units<'_> {
    /// Whether the shard holds some probe of `model` (its file is loaded).
    pub fn model(&self, model: &str) -> bool {
        self.0.iter().any(|u| u.model == model)
    }
    /// Whether the shard holds `probe` on `model`/`layer`.
    pub fn holds(&self, model: &str, layer: &str, probe: ProbeKind) -> bool {
        self.0
            .iter()
            .any(|u| u.model == model && u.layer == layer && u.probe == probe.name())
    }
    /// Whether the shard holds `probe` on any layer.
    pub fn probe(&self, probe: ProbeKind) -> bool {
        self.0.iter().any(|u| u.probe == probe.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_partition(costs: &[u64], count: usize) -> Vec<Vec<usize>> {
        let p = partition(costs, count);
        assert_eq!(p.len(), count);
        let mut all: Vec<usize> = p.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..costs.len()).collect::<Vec<_>>(), "every unit once");
        for s in &p {
            assert!(s.windows(2).all(|w| w[0] < w[1]), "report order: {s:?}");
        }
        assert_eq!(p, partition(costs, count), "deterministic");
        p
    }

    fn loads(costs: &[u64], p: &[Vec<usize>]) -> Vec<u64> {
        p.iter()
            .map(|s| s.iter().map(|&i| costs[i]).sum())
            .collect()
    }

    #[test]
    fn parses_shard_specs_and_refuses_bad_ones() {
        assert_eq!(Shard::parse("0/4").unwrap(), Shard { index: 0, count: 4 });
        assert_eq!(Shard::parse("3/4").unwrap().to_string(), "3/4");
        for (bad, why) in [
            ("4/4", "must be below N (4)"),
            ("1/0", "at least 1"),
            ("x/2", "I is not"),
            ("1-2", "expected I/N"),
            ("-1/2", "I is not"),
        ] {
            let e = Shard::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn partition_is_deterministic_complete_and_balanced() {
        // The demo's plan with every probe: ani2x aev (1008), chgnet's five
        // layers (64), sevennet0 l_prev (320) and l_last (128).
        let widths = [1008u64, 64, 64, 64, 64, 64, 320, 128];
        let costs: Vec<u64> = widths
            .iter()
            .flat_map(|&w| [1, 10, 50].map(|p| p * w))
            .collect();
        for n in 1..=8 {
            let p = check_partition(&costs, n);
            let l = loads(&costs, &p);
            let (max, min) = (*l.iter().max().unwrap(), *l.iter().min().unwrap());
            let biggest = *costs.iter().max().unwrap();
            // LPT: no shard exceeds the mean by more than the largest unit.
            let mean = costs.iter().sum::<u64>() as f64 / n as f64;
            assert!(max as f64 <= mean + biggest as f64, "n={n}: {l:?}");
            if n == 1 {
                assert_eq!(p[0], (0..costs.len()).collect::<Vec<_>>());
            }
            assert!(min > 0 || n > costs.len(), "n={n}: {l:?}");
        }
        // Equal costs: round robin, sizes differ by at most one.
        let p = check_partition(&[1; 10], 4);
        assert_eq!(
            p,
            vec![vec![0, 4, 8], vec![1, 5, 9], vec![2, 6], vec![3, 7]]
        );
        // More shards than units: the extra shards are empty.
        let p = check_partition(&[5, 3], 3);
        assert_eq!(p, vec![vec![0], vec![1], vec![]]);
    }

    #[test]
    fn partition_balances_a_heavy_study_exactly_where_it_can() {
        // Four equal GBT units and four equal ridge units over 4 shards:
        // each shard gets one of each.
        let costs = [250, 10, 250, 10, 250, 10, 250, 10];
        let p = check_partition(&costs, 4);
        assert_eq!(loads(&costs, &p), vec![260; 4]);
        // 2 shards: the greedy optimum.
        let costs = [7, 5, 4, 3, 3, 2];
        let p = check_partition(&costs, 2);
        assert_eq!(loads(&costs, &p), vec![12, 12]);
    }
}
