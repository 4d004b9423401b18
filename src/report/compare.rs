//! `cpd check`: the CI regression gate. A new report passes against a
//! baseline report when every baseline record is present in the new one and
//! its metric did not move by more than the rule of its [`Mode`] allows.
//! Records only in the new report are listed as new and do not fail the
//! check.
//!
//! - [`Mode::Tol`] (the default, for reports of any age): a record passes
//!   when `|new − baseline| ≤ tol`, on any [`Metric`].
//! - [`Mode::Interval`]: a record passes when its new `r2_mean` lies in the
//!   baseline record's 95 % interval (`r2_ci`, [`crate::flow::bootstrap`]),
//!   so each record is gated on its own noise. Only the baseline's interval
//!   is read: a paired test (the interval of the difference) would need the
//!   bootstrap replicates of both runs on the same draws, and a report does
//!   not keep its replicates (and two runs share draws only when they share
//!   seed, folds and structures). A baseline record without an interval is
//!   judged by the tolerance and named in [`Outcome::no_interval`]; a
//!   baseline with no interval at all is an error.
//!
//! A baseline record may carry its own `"tol"` (same units as the metric),
//! which decides that record in either mode.

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

    pub(crate) fn of(self, r: &CheckRecord) -> Option<f64> {
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
pub(crate) struct CheckRecord {
    pub(crate) model: String,
    pub(crate) layer: String,
    pub(crate) channels: Option<String>,
    pub(crate) target: String,
    pub(crate) representation: String,
    pub(crate) probe: String,
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
    /// 95 % interval of `r2_mean` (absent from reports written before
    /// intervals, `null` with `--bootstrap 0`).
    #[serde(default)]
    pub(crate) r2_ci: Option<[f64; 2]>,
    /// Per-record tolerance (baseline only).
    tol: Option<f64>,
}

impl CheckRecord {
    pub(crate) fn key(&self) -> String {
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

/// The fields of a `gaps` entry that the manifest's checks read.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CheckGap {
    pub(crate) model: String,
    pub(crate) layer: String,
    pub(crate) channels: Option<String>,
    pub(crate) target: String,
    pub(crate) gap: Option<f64>,
    #[serde(default)]
    pub(crate) gap_ci: Option<[f64; 2]>,
}

/// The fields of an `inflation` entry that the manifest's checks read.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CheckInflation {
    pub(crate) model: String,
    pub(crate) layer: String,
    pub(crate) channels: Option<String>,
    pub(crate) probe: String,
    pub(crate) control: String,
    pub(crate) r2_geom: Option<f64>,
    #[serde(default)]
    pub(crate) r2_cond: Option<f64>,
    pub(crate) threshold: f64,
    pub(crate) inflated: bool,
    #[serde(default)]
    pub(crate) geom_inflated: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct CheckReport {
    schema_version: u32,
    settings: serde_json::Value,
    results: Vec<CheckRecord>,
    #[serde(default)]
    gaps: Vec<CheckGap>,
    #[serde(default)]
    inflation: Vec<CheckInflation>,
}

/// A report read for comparison.
#[derive(Debug, Clone)]
pub struct LoadedReport {
    path: String,
    settings: serde_json::Value,
    pub(crate) records: Vec<(String, CheckRecord)>,
    pub(crate) gaps: Vec<CheckGap>,
    pub(crate) inflation: Vec<CheckInflation>,
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
            if let Some([lo, hi]) = rec.r2_ci {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    return Err(format!(
                        "results[{i}] ({key}): r2_ci must be two finite numbers, low ≤ high, got [{lo}, {hi}]"
                    ));
                }
            }
            records.push((key, rec));
        }
        Ok(LoadedReport {
            path: path.into(),
            settings: r.settings,
            records,
            gaps: r.gaps,
            inflation: r.inflation,
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

/// How a baseline record is compared with the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `|new − baseline| ≤ tol` on any metric (reports of any age).
    Tol,
    /// The new `r2_mean` lies in the baseline record's 95 % interval.
    Interval,
}

impl Mode {
    /// The name of `--mode`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Tol => "tol",
            Mode::Interval => "interval",
        }
    }
}

/// Values closer than this are one number (floating-point rounding, not a
/// change): an interval is widened by it on both sides, so that a record
/// whose replicates all equal its score (an interval of zero width, as a
/// target exactly linear in composition gives) does not fail on the
/// sixteenth digit.
pub const ROUNDING: f64 = 1e-9;

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Within tolerance (or within the baseline's interval).
    Ok,
    /// Moved by more than the rule allows (or became / stopped being finite).
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

/// The rule that decides a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `|new − baseline| ≤ tol`, the run-wide `--tol`.
    Tol,
    /// `|new − baseline| ≤ tol`, the baseline record's own `"tol"`.
    RecordTol,
    /// The new value lies in the baseline's 95 % interval.
    Interval,
    /// `|new − baseline| ≤ tol` in interval mode: the baseline record has
    /// no interval.
    TolNoInterval,
}

impl Rule {
    /// Short name (JSON, JUnit failure type).
    pub fn name(self) -> &'static str {
        match self {
            Rule::Tol => "tol",
            Rule::RecordTol => "record_tol",
            Rule::Interval => "interval",
            Rule::TolNoInterval => "tol_no_interval",
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
    /// Tolerance of the tolerance rules (the record's own or `--tol`).
    pub tol: f64,
    /// The baseline record's 95 % interval of `r2_mean`.
    pub baseline_ci: Option<[f64; 2]>,
    /// The new record's 95 % interval of `r2_mean`.
    pub new_ci: Option<[f64; 2]>,
    /// The rule that decided it (for a missing record: the one that would
    /// have).
    pub rule: Rule,
    /// Outcome.
    pub status: Status,
}

impl Row {
    /// `new − baseline`, when both are finite.
    pub fn delta(&self) -> Option<f64> {
        Some(self.new? - self.baseline?)
    }

    /// The rule as applied to this record: `|delta| ≤ tol 0.02`,
    /// `in the baseline's interval`, …, with the comparison that held or
    /// failed.
    pub fn rule_text(&self) -> String {
        let ok = self.status == Status::Ok;
        match (self.status, self.rule) {
            (Status::Missing, _) => "not in the new report".into(),
            (Status::New, _) => "not in the baseline".into(),
            _ if self.baseline.is_none() != self.new.is_none() => {
                if self.new.is_none() {
                    "became null".into()
                } else {
                    "was null".into()
                }
            }
            _ if self.baseline.is_none() => "null in both".into(),
            (_, Rule::Interval) => if ok {
                "in the baseline's interval"
            } else {
                "outside the baseline's interval"
            }
            .into(),
            (_, rule) => {
                let why = match rule {
                    Rule::RecordTol => " (the record's own)",
                    Rule::TolNoInterval => " (no baseline interval)",
                    _ => "",
                };
                format!(
                    "|delta| {} tol {}{why}",
                    if ok { "≤" } else { ">" },
                    self.tol
                )
            }
        }
    }

    /// One sentence with every number: the rule, the baseline and new
    /// values, both intervals and the difference.
    pub fn message(&self) -> String {
        let side = |name: &str, x: Option<f64>, c: Option<[f64; 2]>| {
            let v = x.map_or_else(|| "null".to_string(), |x| format!("{x:.4}"));
            let c = c.map_or_else(
                || "no interval".to_string(),
                |c| format!("95 % CI {}", fmt_ci(c)),
            );
            format!("{name} {v}, {c}")
        };
        let delta = self
            .delta()
            .map_or(String::new(), |d| format!("; delta {d:+.4}"));
        format!(
            "{}: {}: {}; {}{delta}",
            self.key,
            self.rule_text(),
            side("baseline", self.baseline, self.baseline_ci),
            side("new", self.new, self.new_ci),
        )
    }
}

/// An interval as `[lo, hi]` with four decimals.
pub fn fmt_ci(c: [f64; 2]) -> String {
    format!("[{:.4}, {:.4}]", c[0], c[1])
}

/// The result of a check.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Metric compared.
    pub metric: Metric,
    /// Comparison mode.
    pub mode: Mode,
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
    /// Whether some baseline record carries an interval.
    pub baseline_has_intervals: bool,
    /// Interval mode: the baseline records with a value but no interval,
    /// judged by the tolerance instead.
    pub no_interval: Vec<String>,
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

/// How a check compares: mode, metric and default tolerance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Comparison mode.
    pub mode: Mode,
    /// Metric compared (interval mode: `r2_mean`, the metric the intervals
    /// are of).
    pub metric: Metric,
    /// Default tolerance of the tolerance rules.
    pub tol: f64,
}

/// Compare `new` against `baseline` on `metric` with default tolerance `tol`
/// ([`Mode::Tol`]).
pub fn check(
    baseline: &LoadedReport,
    new: &LoadedReport,
    metric: Metric,
    tol: f64,
) -> Result<Outcome> {
    compare(
        baseline,
        new,
        Options {
            mode: Mode::Tol,
            metric,
            tol,
        },
    )
}

/// Compare `new` against `baseline` under `options`. Errors: a tolerance
/// that is negative or not finite; interval mode on a metric other than
/// `r2_mean`, or with a baseline none of whose records has an interval.
pub fn compare(baseline: &LoadedReport, new: &LoadedReport, options: Options) -> Result<Outcome> {
    let Options { mode, metric, tol } = options;
    if !(tol.is_finite() && tol >= 0.0) {
        return Err(CpdError::Invalid(format!(
            "--tol must be a finite number ≥ 0, got {tol}"
        )));
    }
    let baseline_has_intervals = baseline.records.iter().any(|(_, r)| r.r2_ci.is_some());
    if mode == Mode::Interval {
        if metric != Metric::R2Mean {
            return Err(CpdError::Invalid(format!(
                "--mode interval compares r2_mean, the metric the intervals are of; --metric {} needs --mode tol",
                metric.name()
            )));
        }
        let valued = baseline
            .records
            .iter()
            .any(|(_, r)| r.r2_mean.is_some_and(f64::is_finite));
        if valued && !baseline_has_intervals {
            return Err(CpdError::format(
                &baseline.path,
                "--mode interval needs the baseline's 95 % intervals (r2_ci), and no record has one \
                 (a report written with --bootstrap 0, or by a cpd without intervals): \
                 rerun the baseline with --bootstrap N (default 1000) or use --mode tol",
            ));
        }
    }
    let index: HashMap<&str, &CheckRecord> =
        new.records.iter().map(|(k, r)| (k.as_str(), r)).collect();
    let mut rows = Vec::with_capacity(baseline.len().max(new.len()));
    let mut no_interval = Vec::new();
    for (key, b) in &baseline.records {
        let bv = metric.of(b).filter(|v| v.is_finite());
        let rule = match (b.tol, mode, b.r2_ci) {
            (Some(_), _, _) => Rule::RecordTol,
            (None, Mode::Tol, _) => Rule::Tol,
            (None, Mode::Interval, Some(_)) => Rule::Interval,
            (None, Mode::Interval, None) => {
                if bv.is_some() {
                    no_interval.push(key.clone());
                }
                Rule::TolNoInterval
            }
        };
        let tol = b.tol.unwrap_or(tol);
        let n = index.get(key.as_str());
        let nv = n.and_then(|n| metric.of(n)).filter(|v| v.is_finite());
        let status = if n.is_none() {
            Status::Missing
        } else {
            let within = match (bv, nv) {
                (Some(bv), Some(nv)) => match (rule, b.r2_ci) {
                    (Rule::Interval, Some([lo, hi])) => lo - ROUNDING <= nv && nv <= hi + ROUNDING,
                    _ => (nv - bv).abs() <= tol,
                },
                (None, None) => true,
                _ => false,
            };
            if within {
                Status::Ok
            } else {
                Status::Moved
            }
        };
        rows.push(Row {
            key: key.clone(),
            baseline: bv,
            new: nv,
            tol,
            baseline_ci: b.r2_ci,
            new_ci: n.and_then(|n| n.r2_ci),
            rule,
            status,
        });
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
    let new_rule = match mode {
        Mode::Tol => Rule::Tol,
        Mode::Interval => Rule::Interval,
    };
    for (key, n) in &new.records {
        if !in_baseline.contains(key.as_str()) {
            rows.push(Row {
                key: key.clone(),
                baseline: None,
                new: metric.of(n).filter(|v| v.is_finite()),
                tol,
                baseline_ci: None,
                new_ci: n.r2_ci,
                rule: new_rule,
                status: Status::New,
            });
        }
    }
    Ok(Outcome {
        metric,
        mode,
        tol,
        rows,
        settings_differ: settings_differ(&baseline.settings, &new.settings),
        unstable,
        baseline_has_intervals,
        no_interval,
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

    /// A test record: target, r2_mean, r2_ci, tol.
    type Spec<'a> = (&'a str, Option<f64>, Option<[f64; 2]>, Option<f64>);

    /// A report whose records carry intervals.
    fn with_ci(records: &[Spec]) -> LoadedReport {
        let results: Vec<String> = records
            .iter()
            .map(|(target, r2, ci, tol)| {
                let r2 = r2.map_or("null".into(), |v| v.to_string());
                let ci = ci.map_or("null".into(), |[lo, hi]| format!("[{lo}, {hi}]"));
                let tol = tol.map_or(String::new(), |t| format!(", \"tol\": {t}"));
                format!(
                    r#"{{"model": "m", "layer": "l", "channels": null, "target": "{target}",
                       "representation": "geom", "probe": "ridge", "r2_mean": {r2},
                       "r2_std": 0.0, "r2_pooled": {r2}, "mae": 1.0, "rmse": 1.0,
                       "r2_ci": {ci}{tol}}}"#
                )
            })
            .collect();
        load(&format!(
            r#"{{"schema_version": 1, "settings": {{}}, "results": [{}]}}"#,
            results.join(",")
        ))
    }

    fn interval() -> Options {
        Options {
            mode: Mode::Interval,
            metric: Metric::R2Mean,
            tol: 0.02,
        }
    }

    #[test]
    fn interval_mode_gates_on_the_baselines_interval() {
        let ci = Some([0.4, 0.6]);
        let base = with_ci(&[
            ("in", Some(0.5), ci, None),
            ("low_edge", Some(0.5), ci, None),
            ("below", Some(0.5), ci, None),
            ("above", Some(0.5), ci, None),
            ("far_but_own_tol", Some(0.5), ci, Some(0.5)),
            ("no_ci", Some(0.5), None, None),
            ("no_ci_moved", Some(0.5), None, None),
            ("degenerate", Some(1.0), Some([1.0, 1.0]), None),
            ("null", None, None, None),
        ]);
        let new = with_ci(
            &[
                ("in", Some(0.45), Some([0.3, 0.5])),
                ("low_edge", Some(0.4), None),
                ("below", Some(0.3999), None),
                ("above", Some(0.6001), None),
                ("far_but_own_tol", Some(0.1), None),
                ("no_ci", Some(0.51), None),
                ("no_ci_moved", Some(0.45), None),
                ("degenerate", Some(1.0 - 1e-12), None),
                ("null", None, None),
            ]
            .map(|(t, v, c)| (t, v, c, None)),
        );
        let out = compare(&base, &new, interval()).unwrap();
        let got: Vec<(&str, Status, Rule)> = out
            .rows
            .iter()
            .map(|r| (r.key.split('/').nth(3).unwrap(), r.status, r.rule))
            .collect();
        assert_eq!(
            got,
            vec![
                ("in", Status::Ok, Rule::Interval),
                ("low_edge", Status::Ok, Rule::Interval),
                ("below", Status::Moved, Rule::Interval),
                ("above", Status::Moved, Rule::Interval),
                ("far_but_own_tol", Status::Ok, Rule::RecordTol),
                ("no_ci", Status::Ok, Rule::TolNoInterval),
                ("no_ci_moved", Status::Moved, Rule::TolNoInterval),
                ("degenerate", Status::Ok, Rule::Interval),
                ("null", Status::Ok, Rule::TolNoInterval),
            ]
        );
        // Only records with a value and no interval fell back.
        let keys: Vec<&str> = out
            .no_interval
            .iter()
            .map(|k| k.split('/').nth(3).unwrap())
            .collect();
        assert_eq!(keys, vec!["no_ci", "no_ci_moved"]);
        assert!(!out.passed());
        assert_eq!(out.rows[0].new_ci, Some([0.3, 0.5]));
        assert_eq!(out.rows[2].rule_text(), "outside the baseline's interval");
        assert_eq!(
            out.rows[2].message(),
            "m/l/-/below/geom/ridge: outside the baseline's interval: baseline 0.5000, 95 % CI [0.4000, 0.6000]; new 0.3999, no interval; delta -0.1001"
        );
        assert_eq!(
            out.rows[6].rule_text(),
            "|delta| > tol 0.02 (no baseline interval)"
        );
        assert_eq!(
            out.rows[4].rule_text(),
            "|delta| ≤ tol 0.5 (the record's own)"
        );
        // The same pair under tol mode: the interval is not read.
        let tol = compare(
            &base,
            &new,
            Options {
                mode: Mode::Tol,
                ..interval()
            },
        )
        .unwrap();
        assert_eq!(tol.count(Status::Moved), 5);
        assert!(tol.baseline_has_intervals && tol.no_interval.is_empty());
    }

    #[test]
    fn interval_mode_needs_intervals_and_r2_mean() {
        let bare = with_ci(&[("a", Some(0.5), None, None)]);
        let e = compare(&bare, &bare, interval()).unwrap_err().to_string();
        assert!(
            e.contains("r.json: --mode interval needs the baseline's 95 % intervals"),
            "{e}"
        );
        assert!(e.contains("--bootstrap N"), "{e}");
        // A baseline with nothing to compare has nothing to lack.
        let nulls = with_ci(&[("a", None, None, None)]);
        assert!(compare(&nulls, &nulls, interval()).unwrap().passed());
        let ci = with_ci(&[("a", Some(0.5), Some([0.4, 0.6]), None)]);
        let e = compare(
            &ci,
            &ci,
            Options {
                metric: Metric::R2Pooled,
                ..interval()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--metric r2_pooled needs --mode tol"), "{e}");
        let bad = r#"{"schema_version": 1, "settings": {}, "results": [{"model": "m", "layer": "l",
            "channels": null, "target": "t", "representation": "geom", "probe": "ridge",
            "r2_mean": 0.5, "r2_std": 0.0, "r2_pooled": 0.5, "mae": 1.0, "rmse": 1.0,
            "r2_ci": [0.6, 0.4]}]}"#;
        let e = LoadedReport::parse(bad, "x").err().unwrap();
        assert!(
            e.contains("r2_ci must be two finite numbers, low ≤ high, got [0.6, 0.4]"),
            "{e}"
        );
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
