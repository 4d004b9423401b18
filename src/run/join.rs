//! `cpd merge`: join the partial reports of a sharded run
//! ([`crate::run::shard`]) into the report the run would
//! have written on one machine.
//!
//! The parts are checked first: one run (the same tool version, settings,
//! composition basis, plan of work units and inputs — tables by SHA-256,
//! embedding files by size everywhere and by SHA-256 wherever two parts
//! read the same file), the same shard count, every shard exactly once,
//! each holding the units the partition gives it, and the same
//! `folds.csv`. Then the records are put back in report order and every
//! analysis of them is run again over the union
//! ([`crate::run::analyze_records`]): analyses that span
//! records (controls, instability, profiles, gaps) come out as in a single
//! run. Only `timing` differs: the merged report's is the sum of the
//! parts' (compute time, not wall time).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{CpdError, Result};
use crate::io::table::read_table;
use crate::report::write::{FOLDS_CSV, PREDICTIONS_CSV, REPORT_JSON};
use crate::report::Report;
use crate::run::analyze_records;
use crate::run::shard::{units_of, PartialReport, Shard};

/// One partial report as read from disk.
#[derive(Debug, Clone)]
pub struct Part {
    /// Its `report.json`.
    pub path: PathBuf,
    /// The partial report.
    pub partial: PartialReport,
    /// The bytes of the `folds.csv` beside it.
    pub folds_csv: Vec<u8>,
    /// The bytes of the `predictions.csv` beside it (parts of a run with
    /// `--predictions`).
    pub predictions_csv: Option<Vec<u8>>,
}

/// Read a part: a shard's output directory or its `report.json`.
pub fn read_part(path: &Path) -> Result<Part> {
    let json = if path.is_dir() {
        path.join(REPORT_JSON)
    } else {
        path.to_owned()
    };
    let text = std::fs::read_to_string(&json).map_err(|e| CpdError::io(&json, e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CpdError::format(&json, format!("not valid JSON: {e}")))?;
    if value.get("shard").is_none() {
        return Err(CpdError::format(
            &json,
            "not a partial report (no 'shard' section): write parts with `cpd analyze --shard I/N`",
        ));
    }
    let partial: PartialReport = serde_json::from_str(&text)
        .map_err(|e| CpdError::format(&json, format!("not a partial report of this cpd: {e}")))?;
    let folds = json.with_file_name(FOLDS_CSV);
    let folds_csv = std::fs::read(&folds).map_err(|e| CpdError::io(&folds, e))?;
    if sha256_hex(&folds_csv) != partial.shard.folds_sha256 {
        return Err(CpdError::format(
            &folds,
            format!(
                "does not match the folds.csv its report {} was written with (SHA-256 differs)",
                json.display()
            ),
        ));
    }
    let predictions_csv = if partial.shard.settings.predictions {
        let p = json.with_file_name(PREDICTIONS_CSV);
        Some(std::fs::read(&p).map_err(|e| CpdError::io(&p, e))?)
    } else {
        None
    };
    Ok(Part {
        path: json,
        partial,
        folds_csv,
        predictions_csv,
    })
}

/// The merged run: the report, and the rows' ids and folds (`folds.csv`).
#[derive(Debug, Clone)]
pub struct Merged {
    /// The report, as one machine would have written it (but `timing`).
    pub report: Report,
    /// Row ids in report order.
    pub ids: crate::io::ids::Ids,
    /// Fold of each row.
    pub assignment: Vec<usize>,
    /// `predictions.csv` of the whole run (a run with `--predictions`).
    pub predictions_csv: Option<Vec<u8>>,
}

/// Check that `parts` are every shard of one run, once each, and merge them.
pub fn merge(parts: &[Part]) -> Result<Merged> {
    let Some(first) = parts.first() else {
        return Err(CpdError::Merge("no parts to merge".into()));
    };
    let name = |p: &Part| p.path.display().to_string();
    let (f, fs) = (&first.partial.report, &first.partial.shard);
    let foreign = |p: &Part, what: &str| {
        CpdError::Merge(format!(
            "{} is not a part of the same run as {}: {what} differ",
            name(p),
            name(first)
        ))
    };
    let mut at: Vec<Option<&Part>> = vec![None; fs.count];
    for p in parts {
        let (r, s) = (&p.partial.report, &p.partial.shard);
        if s.count != fs.count {
            return Err(CpdError::Merge(format!(
                "{} is shard {}/{} but {} is shard {}/{}: parts of one run share the shard count",
                name(p),
                s.index,
                s.count,
                name(first),
                fs.index,
                fs.count
            )));
        }
        if s.index >= s.count {
            return Err(CpdError::format(
                &p.path,
                format!("shard index {} is not below the count {}", s.index, s.count),
            ));
        }
        if r.tool != f.tool {
            return Err(foreign(
                p,
                &format!(
                    "the tool versions ({} and {})",
                    r.tool.version, f.tool.version
                ),
            ));
        }
        let diff = settings_diff(r, f);
        if !diff.is_empty() || s.settings != fs.settings {
            let mut what = diff;
            if s.settings.inflation_threshold != fs.settings.inflation_threshold {
                what.push("inflation_threshold".into());
            }
            if s.settings.pool != fs.settings.pool {
                what.push("pool".into());
            }
            if s.settings.predictions != fs.settings.predictions {
                what.push("predictions".into());
            }
            return Err(foreign(p, &format!("the settings ({})", what.join(", "))));
        }
        if r.composition != f.composition {
            return Err(foreign(p, "the composition bases"));
        }
        if s.plan != fs.plan {
            return Err(foreign(
                p,
                "the work units (models, layers, widths or probes)",
            ));
        }
        check_inputs(p, first)?;
        if p.folds_csv != first.folds_csv {
            return Err(foreign(p, "the fold assignments (folds.csv)"));
        }
        let expected = units_of(
            &s.plan,
            Shard {
                index: s.index,
                count: s.count,
            },
        );
        if s.units != expected {
            return Err(CpdError::format(
                &p.path,
                format!(
                    "holds other work units than shard {}/{} of its plan",
                    s.index, s.count
                ),
            ));
        }
        if let Some(other) = at[s.index] {
            return Err(CpdError::Merge(format!(
                "shard {}/{} is given twice: {} and {}",
                s.index,
                s.count,
                name(other),
                name(p)
            )));
        }
        at[s.index] = Some(p);
    }
    let missing: Vec<String> = (0..fs.count)
        .filter(|&i| at[i].is_none())
        .map(|i| format!("{i}/{}", fs.count))
        .collect();
    if !missing.is_empty() {
        let given: Vec<String> = parts.iter().map(name).collect();
        return Err(CpdError::Merge(format!(
            "missing shard(s) {} (given: {})",
            missing.join(", "),
            given.join(", ")
        )));
    }
    let parts: Vec<&Part> = at.into_iter().map(|p| p.expect("checked")).collect();
    let report = join(&parts)?;
    let folds = read_table(&parts[0].path.with_file_name(FOLDS_CSV))?;
    let assignment = folds.values.column(0).iter().map(|&v| v as usize).collect();
    let predictions_csv = if base_predictions(&parts) {
        Some(predictions(&parts, &report)?)
    } else {
        None
    };
    Ok(Merged {
        report,
        ids: folds.ids,
        assignment,
        predictions_csv,
    })
}

fn base_predictions(parts: &[&Part]) -> bool {
    parts[0].partial.shard.settings.predictions
}

/// The parts' `predictions.csv` rows, record by record in the merged
/// report's order (each record's rows as its part wrote them).
fn predictions(parts: &[&Part], report: &Report) -> Result<Vec<u8>> {
    let mut rows: HashMap<Vec<String>, Vec<csv::StringRecord>> = HashMap::new();
    let mut header = None;
    for p in parts {
        let path = p.path.with_file_name(PREDICTIONS_CSV);
        let bytes = p.predictions_csv.as_deref().unwrap_or_default();
        let mut r = csv::Reader::from_reader(bytes);
        let err = |e: csv::Error| CpdError::format(&path, e.to_string());
        header = Some(r.headers().map_err(err)?.clone());
        for row in r.records() {
            let row = row.map_err(err)?;
            let key: Vec<String> = (2..8)
                .map(|i| row.get(i).unwrap_or("").to_owned())
                .collect();
            rows.entry(key).or_default().push(row);
        }
    }
    let err = |e: csv::Error| CpdError::format(PREDICTIONS_CSV, e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some(h) = &header {
        w.write_record(h).map_err(err)?;
    }
    for r in &report.results {
        let key = vec![
            r.model.clone(),
            r.layer.clone(),
            r.channels.clone().unwrap_or_default(),
            r.target.clone(),
            r.representation.clone(),
            r.probe.clone(),
        ];
        let Some(found) = rows.get(&key) else {
            return Err(CpdError::Merge(format!(
                "no part's predictions.csv holds record {}",
                r.key()
            )));
        };
        for row in found {
            w.write_record(row).map_err(err)?;
        }
    }
    w.into_inner()
        .map_err(|e| CpdError::format(PREDICTIONS_CSV, e.to_string()))
}

/// The names of the settings in which `a` and `b` differ (`pool` aside:
/// a shard records it only when it read a per-atom file).
fn settings_diff(a: &Report, b: &Report) -> Vec<String> {
    let value = |r: &Report| {
        let mut s = r.settings.clone();
        s.pool = None;
        serde_json::to_value(s).expect("settings serialise")
    };
    let (va, vb) = (value(a), value(b));
    match (va.as_object(), vb.as_object()) {
        (Some(ma), Some(mb)) => ma
            .iter()
            .filter(|(k, v)| mb.get(*k) != Some(v))
            .map(|(k, _)| k.clone())
            .collect(),
        _ => Vec::new(),
    }
}

/// Same table inputs; embedding files of the same size, and the same
/// SHA-256 where both parts read them.
fn check_inputs(p: &Part, first: &Part) -> Result<()> {
    let (a, b) = (&p.partial.shard.inputs, &first.partial.shard.inputs);
    let differ = |what: String| {
        CpdError::Merge(format!(
            "{} and {} were run on different inputs: {what}",
            p.path.display(),
            first.path.display()
        ))
    };
    if a.len() != b.len() || a.iter().zip(b).any(|(x, y)| x.path != y.path) {
        let list = |v: &[crate::run::shard::FileDigest]| {
            v.iter()
                .map(|d| d.path.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(differ(format!(
            "input files [{}] vs [{}]",
            list(a),
            list(b)
        )));
    }
    for (x, y) in a.iter().zip(b) {
        if x.bytes != y.bytes {
            return Err(differ(format!(
                "{} has {} bytes in one and {} in the other",
                x.path, x.bytes, y.bytes
            )));
        }
        if let (Some(sx), Some(sy)) = (&x.sha256, &y.sha256) {
            if sx != sy {
                return Err(differ(format!("{} has SHA-256 {sx} vs {sy}", x.path)));
            }
        }
    }
    Ok(())
}

/// The report of the union of the parts' records, in report order, with
/// every analysis run again over them.
fn join(parts: &[&Part]) -> Result<Report> {
    let base = &parts[0].partial;
    let plan = &base.shard.plan;
    let settings = &base.report.settings;
    // Layers in report order.
    let mut layers: Vec<(&str, &str)> = Vec::new();
    for u in plan {
        if !layers.contains(&(u.model.as_str(), u.layer.as_str())) {
            layers.push((&u.model, &u.layer));
        }
    }
    let layer_pos = |model: &str, layer: &str, what: &str| {
        layers
            .iter()
            .position(|&l| l == (model, layer))
            .ok_or_else(|| {
                CpdError::Merge(format!(
                    "{what}: layer {model}/{layer} is not in the run's plan"
                ))
            })
    };
    let pos = |list: &[String], v: &str, what: &str| {
        list.iter().position(|x| x == v).ok_or_else(|| {
            CpdError::Merge(format!("{what}: '{v}' is not among {}", list.join(", ")))
        })
    };
    let reps: Vec<String> = ["composition", "raw", "geom"].map(String::from).to_vec();
    // Channel groups per layer, in the order the layer's records give them
    // (the whole layer first).
    let mut groups: HashMap<(String, String), Vec<Option<String>>> = HashMap::new();
    for p in parts {
        for r in &p.partial.report.results {
            let g = groups
                .entry((r.model.clone(), r.layer.clone()))
                .or_default();
            if !g.contains(&r.channels) {
                g.push(r.channels.clone());
            }
        }
    }
    let mut results = Vec::new();
    let mut curves = Vec::new();
    for p in parts {
        let what = p.path.display().to_string();
        for r in &p.partial.report.results {
            let g = &groups[&(r.model.clone(), r.layer.clone())];
            let key = (
                layer_pos(&r.model, &r.layer, &what)?,
                g.iter().position(|c| c == &r.channels).expect("listed"),
                pos(&settings.targets, &r.target, &what)?,
                pos(&settings.probes, &r.probe, &what)?,
                pos(&reps, &r.representation, &what)?,
            );
            results.push((key, r.clone()));
        }
        for c in &p.partial.report.learning_curves {
            let key = (
                layer_pos(&c.model, &c.layer, &what)?,
                pos(&reps, &c.representation, &what)?,
                pos(&settings.probes, &c.probe, &what)?,
                pos(&settings.targets, &c.target, &what)?,
            );
            curves.push((key, c.clone()));
        }
    }
    // Stable: the points of one curve keep their order.
    results.sort_by_key(|(k, _)| *k);
    curves.sort_by_key(|(k, _)| *k);
    if let Some(w) = results.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(CpdError::Merge(format!(
            "record {} comes from more than one part",
            w[0].1.key()
        )));
    }
    // Inputs: the tables as every part read them, then each layer's file.
    let mut inputs: Vec<_> = base
        .report
        .inputs
        .iter()
        .filter(|i| i.role != "embeddings")
        .cloned()
        .collect();
    for &(model, layer) in &layers {
        let found = parts.iter().find_map(|p| {
            p.partial.report.inputs.iter().find(|i| {
                i.role == "embeddings"
                    && i.model.as_deref() == Some(model)
                    && i.layer.as_deref() == Some(layer)
            })
        });
        let Some(info) = found else {
            return Err(CpdError::Merge(format!(
                "no part read layer {model}/{layer} of the plan"
            )));
        };
        inputs.push(info.clone());
    }
    // Formulas of the structures the parts named as culprits: every
    // culprit of the union is a culprit of the part that holds its record.
    let mut formulas: HashMap<String, Option<String>> = HashMap::new();
    for p in parts {
        for c in &p.partial.report.instability.culprits {
            formulas.insert(c.id.clone(), c.formula.clone());
        }
    }
    // Layer statistics: from the part that holds each layer's first probe,
    // in report order. Similarity: from shard 0, which computed it.
    let mut layer_stats = Vec::new();
    for &(model, layer) in &layers {
        let found = parts.iter().find_map(|p| {
            p.partial
                .report
                .layer_stats
                .iter()
                .find(|s| s.model == model && s.layer == layer)
        });
        let Some(stats) = found else {
            return Err(CpdError::Merge(format!(
                "no part holds the statistics of layer {model}/{layer}"
            )));
        };
        layer_stats.push(stats.clone());
    }
    // Similarity, the comparisons and the intrinsic dimensions behind
    // them: from shard 0, which computed them.
    let first = parts.iter().find(|p| p.partial.shard.index == 0);
    let similarity = first
        .map(|p| p.partial.report.similarity.clone())
        .unwrap_or_default();
    let comparison = first
        .map(|p| p.partial.report.comparison.clone())
        .unwrap_or_default();
    if let Some(p) = first {
        for s in &mut layer_stats {
            if let Some(d) = p
                .partial
                .shard
                .intrinsic
                .iter()
                .find(|d| d.model == s.model && d.layer == s.layer)
            {
                s.intrinsic_dim_raw = d.raw;
                s.intrinsic_dim_geom = d.geom;
            }
        }
    }
    let mut report = base.report.clone();
    report.layer_stats = layer_stats;
    report.similarity = similarity;
    report.comparison = comparison;
    report.settings.pool = parts
        .iter()
        .find_map(|p| p.partial.report.settings.pool.clone());
    report.inputs = inputs;
    report.results = results.into_iter().map(|(_, r)| r).collect();
    report.learning_curves = curves.into_iter().map(|(_, c)| c).collect();
    report.timing.seconds = parts.iter().map(|p| p.partial.report.timing.seconds).sum();
    analyze_records(
        &mut report,
        base.shard.settings.inflation_threshold,
        &|id| formulas.get(id).cloned().flatten(),
    );
    report.drop_replicates();
    Ok(report)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
