//! `cpd check`: the CI regression gate. A new report passes against a
//! baseline report when every baseline record is present in the new one and
//! its metric moved by at most the tolerance. Records only in the new report
//! are listed as new and do not fail the check.
//!
//! A baseline record may carry its own `"tol"` (same units as the metric),
//! which overrides the run-wide tolerance for that record.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::error::{CpdError, Result};
use crate::report::{record_key, SCHEMA_VERSION};

/// The metric compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Mean of the per-fold R².
    R2Mean,
    /// Median of the per-fold R² (robust to one bad fold: the gate for
    /// unstable records).
    R2Median,
    /// Pooled out-of-fold R².
    R2Pooled,
    /// Standard deviation of the per-fold R².
    R2Std,
    /// Pooled MAE.
    Mae,
    /// Pooled RMSE.
    Rmse,
}

impl Metric {
    /// Every metric, in documentation order.
    pub const ALL: [Metric; 6] = [
        Metric::R2Mean,
        Metric::R2Median,
        Metric::R2Pooled,
        Metric::R2Std,
        Metric::Mae,
        Metric::Rmse,
    ];

    /// The report field name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::R2Mean => "r2_mean",
            Metric::R2Median => "r2_median",
            Metric::R2Pooled => "r2_pooled",
            Metric::R2Std => "r2_std",
            Metric::Mae => "mae",
            Metric::Rmse => "rmse",
        }
    }

    /// Parse a report field name.
    pub fn parse(name: &str) -> Result<Metric> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
                CpdError::Invalid(format!(
                    "unknown metric '{name}' (available: {})",
                    names.join(", ")
                ))
            })
    }

    fn of(self, r: &CheckRecord) -> Option<f64> {
        match self {
            Metric::R2Mean => r.r2_mean,
            Metric::R2Median => r.r2_median,
            Metric::R2Pooled => r.r2_pooled,
            Metric::R2Std => r.r2_std,
            Metric::Mae => r.mae,
            Metric::Rmse => r.rmse,
        }
    }
}

/// The fields of a report record that `check` reads.
#[derive(Debug, Clone, Deserialize)]
struct CheckRecord {
    model: String,
    layer: String,
    channels: Option<String>,
    target: String,
    representation: String,
    probe: String,
    r2_mean: Option<f64>,
    /// Absent from reports written before instability diagnostics.
    #[serde(default)]
    r2_median: Option<f64>,
    /// Flagged unstable (absent: not flagged).
    #[serde(default)]
    unstable: bool,
    r2_pooled: Option<f64>,
    r2_std: Option<f64>,
    mae: Option<f64>,
    rmse: Option<f64>,
    /// Per-record tolerance (baseline only).
    tol: Option<f64>,
}

impl CheckRecord {
    fn key(&self) -> String {
        record_key(
            &self.model,
            &self.layer,
            self.channels.as_deref(),
            &self.target,
            &self.representation,
            &self.probe,
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
struct CheckReport {
    schema_version: u32,
    settings: serde_json::Value,
    results: Vec<CheckRecord>,
}

/// A report read for comparison.
#[derive(Debug, Clone)]
pub struct LoadedReport {
    path: String,
    settings: serde_json::Value,
    records: Vec<(String, CheckRecord)>,
}

impl LoadedReport {
    /// Read a `report.json`; duplicate records and bad tolerances are errors.
    pub fn load(path: &Path) -> Result<LoadedReport> {
        let text = std::fs::read_to_string(path).map_err(|e| CpdError::io(path, e))?;
        LoadedReport::parse(&text, &path.display().to_string())
            .map_err(|e| CpdError::format(path, e))
    }

    /// Parse report JSON; `path` names it in messages.
    pub fn parse(text: &str, path: &str) -> std::result::Result<LoadedReport, String> {
        let r: CheckReport =
            serde_json::from_str(text).map_err(|e| format!("not a cpd report: {e}"))?;
        if r.schema_version != SCHEMA_VERSION {
            return Err(format!(
                "schema_version {} is not supported (this cpd reads {SCHEMA_VERSION})",
                r.schema_version
            ));
        }
        let mut seen = HashMap::new();
        let mut records = Vec::with_capacity(r.results.len());
        for (i, rec) in r.results.into_iter().enumerate() {
            let key = rec.key();
            if let Some(first) = seen.insert(key.clone(), i) {
                return Err(format!(
                    "results[{i}] repeats record {key} (first at results[{first}])"
                ));
            }
            if let Some(t) = rec.tol {
                if !(t.is_finite() && t >= 0.0) {
                    return Err(format!(
                        "results[{i}] ({key}): tol must be a finite number ≥ 0, got {t}"
                    ));
                }
            }
            records.push((key, rec));
        }
        Ok(LoadedReport {
            path: path.into(),
            settings: r.settings,
            records,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the report holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Within tolerance.
    Ok,
    /// Moved by more than the tolerance (or became / stopped being finite).
    Moved,
    /// In the baseline, not in the new report.
    Missing,
    /// In the new report only (does not fail the check).
    New,
}

impl Status {
    /// Upper-case label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Moved => "MOVED",
            Status::Missing => "MISSING",
            Status::New => "NEW",
        }
    }
}

/// One compared record.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `model/layer/channels/target/representation/probe`.
    pub key: String,
    /// Baseline value (`None`: absent record or null metric).
    pub baseline: Option<f64>,
    /// New value.
    pub new: Option<f64>,
    /// Tolerance applied.
    pub tol: f64,
    /// Outcome.
    pub status: Status,
}

impl Row {
    /// `new − baseline`, when both are finite.
    pub fn delta(&self) -> Option<f64> {
        Some(self.new? - self.baseline?)
    }
}

/// The result of a check.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Metric compared.
    pub metric: Metric,
    /// Default tolerance.
    pub tol: f64,
    /// Every baseline record in baseline order, then the new records.
    pub rows: Vec<Row>,
    /// Top-level settings that differ between the reports (a hint for why
    /// numbers moved; not a failure by itself).
    pub settings_differ: Vec<String>,
    /// Records flagged `unstable` in either report, with where: `baseline`,
    /// `new` or `both` (a note, not a failure: their mean R² is decided by
    /// a few structures; gate them on `r2_median` or with a per-record
    /// `"tol"`).
    pub unstable: Vec<(String, &'static str)>,
}

impl Outcome {
    /// True when nothing moved and nothing is missing.
    pub fn passed(&self) -> bool {
        !self
            .rows
            .iter()
            .any(|r| matches!(r.status, Status::Moved | Status::Missing))
    }

    /// Rows with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.rows.iter().filter(|r| r.status == status).count()
    }
}

/// Compare `new` against `baseline` on `metric` with default tolerance `tol`.
pub fn check(
    baseline: &LoadedReport,
    new: &LoadedReport,
    metric: Metric,
    tol: f64,
) -> Result<Outcome> {
    if !(tol.is_finite() && tol >= 0.0) {
        return Err(CpdError::Invalid(format!(
            "--tol must be a finite number ≥ 0, got {tol}"
        )));
    }
    let index: HashMap<&str, &CheckRecord> =
        new.records.iter().map(|(k, r)| (k.as_str(), r)).collect();
    let mut rows = Vec::with_capacity(baseline.len().max(new.len()));
    for (key, b) in &baseline.records {
        let tol = b.tol.unwrap_or(tol);
        let bv = metric.of(b).filter(|v| v.is_finite());
        let row = match index.get(key.as_str()) {
            None => Row {
                key: key.clone(),
                baseline: bv,
                new: None,
                tol,
                status: Status::Missing,
            },
            Some(n) => {
                let nv = metric.of(n).filter(|v| v.is_finite());
                let within = match (bv, nv) {
                    (Some(b), Some(n)) => (n - b).abs() <= tol,
                    (None, None) => true,
                    _ => false,
                };
                Row {
                    key: key.clone(),
                    baseline: bv,
                    new: nv,
                    tol,
                    status: if within { Status::Ok } else { Status::Moved },
                }
            }
        };
        rows.push(row);
    }
    let in_baseline: std::collections::HashSet<&str> =
        baseline.records.iter().map(|(k, _)| k.as_str()).collect();
    let mut unstable = Vec::new();
    for (key, b) in &baseline.records {
        let n = index.get(key.as_str()).is_some_and(|n| n.unstable);
        match (b.unstable, n) {
            (true, true) => unstable.push((key.clone(), "both")),
            (true, false) => unstable.push((key.clone(), "baseline")),
            (false, true) => unstable.push((key.clone(), "new")),
            (false, false) => {}
        }
    }
    for (key, n) in &new.records {
        if n.unstable && !in_baseline.contains(key.as_str()) {
            unstable.push((key.clone(), "new"));
        }
    }
    for (key, n) in &new.records {
        if !in_baseline.contains(key.as_str()) {
            rows.push(Row {
                key: key.clone(),
                baseline: None,
                new: metric.of(n).filter(|v| v.is_finite()),
                tol,
                status: Status::New,
            });
        }
    }
    Ok(Outcome {
        metric,
        tol,
        rows,
        settings_differ: settings_differ(&baseline.settings, &new.settings),
        unstable,
    })
}

fn settings_differ(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let a = a.as_object().unwrap_or(&empty);
    let b = b.as_object().unwrap_or(&empty);
    let mut keys: BTreeMap<&str, ()> = BTreeMap::new();
    for k in a.keys().chain(b.keys()) {
        keys.insert(k, ());
    }
    keys.into_keys()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| {
                v.map_or_else(|| "absent".to_string(), |v| v.to_string())
            };
            format!("{k}: {} → {}", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(records: &[(&str, Option<f64>, Option<f64>)], folds: usize) -> String {
        let results: Vec<String> = records
            .iter()
            .map(|(target, r2, tol)| {
                let r2 = r2.map_or("null".into(), |v| v.to_string());
                let tol = tol.map_or(String::new(), |t| format!(", \"tol\": {t}"));
                format!(
                    r#"{{"model": "m", "layer": "l", "channels": null, "target": "{target}",
                       "representation": "geom", "probe": "ridge", "r2_mean": {r2},
                       "r2_std": 0.0, "r2_pooled": {r2}, "mae": 1.0, "rmse": 1.0{tol}}}"#
                )
            })
            .collect();
        format!(
            r#"{{"schema_version": 1, "settings": {{"folds": {folds}}}, "results": [{}]}}"#,
            results.join(",")
        )
    }

    fn load(text: &str) -> LoadedReport {
        LoadedReport::parse(text, "r.json").unwrap()
    }

    #[test]
    fn tolerance_edges_and_statuses() {
        let base = load(&report(
            &[
                ("a", Some(0.5), None),
                ("b", Some(0.5), None),
                ("c", Some(0.5), Some(0.1)),
                ("d", None, None),
                ("e", Some(0.5), None),
                ("f", None, None),
            ],
            5,
        ));
        let new = load(&report(
            &[
                ("a", Some(0.52), None), // exactly at the tolerance edge: ok
                ("b", Some(0.4), None),  // moved by 0.1 > 0.02
                ("c", Some(0.45), None), // within its own tol 0.1
                ("d", None, None),       // null both: ok
                ("f", Some(0.1), None),  // null → finite: moved
                ("g", Some(0.9), None),  // new
            ],
            3,
        ));
        let out = check(&base, &new, Metric::R2Mean, 0.02 + 1e-12).unwrap();
        let status: Vec<(&str, Status)> = out
            .rows
            .iter()
            .map(|r| (r.key.split('/').nth(3).unwrap(), r.status))
            .collect();
        assert_eq!(
            status,
            vec![
                ("a", Status::Ok),
                ("b", Status::Moved),
                ("c", Status::Ok),
                ("d", Status::Ok),
                ("e", Status::Missing),
                ("f", Status::Moved),
                ("g", Status::New),
            ]
        );
        assert!(!out.passed());
        assert!((out.rows[1].delta().unwrap() + 0.1).abs() < 1e-12);
        assert_eq!(out.rows[2].tol, 0.1);
        assert_eq!(out.settings_differ, vec!["folds: 5 → 3".to_string()]);
        assert!(check(&base, &base, Metric::R2Mean, 0.0).unwrap().passed());
        // Only new records: passes.
        let sub = load(&report(&[("a", Some(0.5), None)], 5));
        let out = check(&sub, &base, Metric::Mae, 0.0).unwrap();
        assert!(out.passed());
        assert_eq!(out.count(Status::New), 5);
    }

    #[test]
    fn bad_reports_are_named() {
        let e = LoadedReport::parse("{}", "x").err().unwrap();
        assert!(e.contains("not a cpd report"), "{e}");
        let dup = report(&[("a", Some(0.5), None), ("a", Some(0.6), None)], 5);
        let e = LoadedReport::parse(&dup, "x").err().unwrap();
        assert!(
            e.contains("results[1] repeats record m/l/-/a/geom/ridge"),
            "{e}"
        );
        let bad_tol = report(&[("a", Some(0.5), Some(-1.0))], 5);
        let e = LoadedReport::parse(&bad_tol, "x").err().unwrap();
        assert!(e.contains("tol must be"), "{e}");
        let v2 = report(&[], 5).replace("\"schema_version\": 1", "\"schema_version\": 2");
        let e = LoadedReport::parse(&v2, "x").err().unwrap();
        assert!(e.contains("schema_version 2"), "{e}");
        assert!(Metric::parse("r2").is_err());
        assert_eq!(Metric::parse("rmse").unwrap(), Metric::Rmse);
    }
}
