//! The run manifest's `[[checks]]`: properties a report must have, asserted
//! by `cpd check --manifest`. A check selects records by `model`, `layer`,
//! `channels`, `target`, `representation` and `probe` (each optional; absent
//! matches any) and bounds what it selects:
//!
//! | key | what it asserts | on |
//! |---|---|---|
//! | `min`, `max` | `metric` (default `r2_mean`) ≥ min, ≤ max | every selected record (`results`) |
//! | `max_gap` | the linear–nonlinear gap `gap` ≤ max_gap | every selected `gaps` entry |
//! | `inflation` | the control's `inflated` flag (R²_cond above the threshold) equals it | every selected `inflation` entry |
//! | `geom_inflation` | the control's `geom_inflated` flag (R²_geom above the threshold) equals it | every selected `inflation` entry |
//!
//! A gap (MLP against ridge) and an inflation flag are both about the
//! residual: with `max_gap`, `inflation` or `geom_inflation` a check's
//! `representation`, if given, is `geom`, and `max_gap` takes no `probe`.
//! For an inflation flag, `target` selects the control (`ctrl_mass`, …).
//!
//! A check whose selector matches nothing is an error, not a pass: a
//! misspelt layer must not make the gate green.
//!
//! ```toml
//! [[checks]]
//! name = "the gap stays readable on the last layer"   # optional
//! model = "sevennet0"
//! layer = "l_last"
//! target = "gap_ev"
//! representation = "geom"
//! probe = "ridge"
//! min = 0.25
//! ```

use serde::{Deserialize, Serialize};

use crate::report::compare::{fmt_ci, CheckRecord, LoadedReport, Metric};
use crate::report::record_key;

/// One `[[checks]]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Name shown in the check's output (default `checks[i]`, i from 0).
    pub name: Option<String>,
    /// Model to select (absent: any).
    pub model: Option<String>,
    /// Layer to select (absent: any).
    pub layer: Option<String>,
    /// Channel group to select (absent: any, whole layers and groups).
    pub channels: Option<String>,
    /// Target to select; for `inflation`/`geom_inflation`, the control.
    pub target: Option<String>,
    /// `composition`, `raw` or `geom` (absent: any).
    pub representation: Option<String>,
    /// Probe to select (absent: any).
    pub probe: Option<String>,
    /// The record field `min` and `max` bound (default `r2_mean`).
    pub metric: Option<String>,
    /// Lower bound of `metric` on every selected record.
    pub min: Option<f64>,
    /// Upper bound of `metric` on every selected record.
    pub max: Option<f64>,
    /// Upper bound of the linear–nonlinear gap (`gaps[].gap`, the MLP's
    /// R²_cond minus ridge's) on every selected gap.
    pub max_gap: Option<f64>,
    /// The `inflated` flag (R²_cond on the control above the threshold)
    /// every selected control record must have.
    pub inflation: Option<bool>,
    /// The `geom_inflated` flag (R²_geom on the control above the
    /// threshold) every selected control record must have.
    pub geom_inflation: Option<bool>,
}

impl CheckSpec {
    /// The name in output and messages: `name`, else `checks[index]`.
    pub fn label(&self, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("checks[{index}]"))
    }

    /// The selector as written: `model = "m", layer = "l"`, or `every
    /// record` when it selects everything.
    pub fn selector(&self) -> String {
        let parts: Vec<String> = self
            .fields()
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k} = {v:?}")))
            .collect();
        if parts.is_empty() {
            "every record".into()
        } else {
            parts.join(", ")
        }
    }

    fn fields(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("model", self.model.as_deref()),
            ("layer", self.layer.as_deref()),
            ("channels", self.channels.as_deref()),
            ("target", self.target.as_deref()),
            ("representation", self.representation.as_deref()),
            ("probe", self.probe.as_deref()),
        ]
    }

    fn metric(&self) -> std::result::Result<Metric, String> {
        Metric::parse(self.metric.as_deref().unwrap_or("r2_mean")).map_err(|e| e.to_string())
    }

    fn on_residual(&self) -> bool {
        self.max_gap.is_some() || self.inflation.is_some() || self.geom_inflation.is_some()
    }

    /// The rules that do not need a report: something to assert, finite
    /// bounds with `min ≤ max`, a known metric, and a selector a gap or an
    /// inflation flag can match.
    pub fn validate(&self, index: usize) -> std::result::Result<(), String> {
        let at = || format!("[[checks]] '{}'", self.label(index));
        if self.min.is_none() && self.max.is_none() && !self.on_residual() {
            return Err(format!(
                "{}: nothing to assert: give `min`, `max`, `max_gap`, `inflation` or `geom_inflation`",
                at()
            ));
        }
        for (k, v) in [
            ("min", self.min),
            ("max", self.max),
            ("max_gap", self.max_gap),
        ] {
            if let Some(v) = v {
                if !v.is_finite() {
                    return Err(format!("{}: `{k}` must be a finite number, got {v}", at()));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max) {
            if lo > hi {
                return Err(format!("{}: `min` {lo} is above `max` {hi}", at()));
            }
        }
        if self.metric.is_some() && self.min.is_none() && self.max.is_none() {
            return Err(format!(
                "{}: `metric` is what `min` and `max` bound: give one",
                at()
            ));
        }
        self.metric().map_err(|e| format!("{}: {e}", at()))?;
        if self.on_residual() {
            if let Some(rep) = self.representation.as_deref().filter(|r| *r != "geom") {
                return Err(format!(
                    "{}: gaps and inflation flags are about the residual: `representation` \"{rep}\" cannot select them (give \"geom\", or put `max_gap`/`inflation` in a check of their own)",
                    at()
                ));
            }
        }
        if self.max_gap.is_some() && self.probe.is_some() {
            return Err(format!(
                "{}: a gap compares the mlp probe with ridge: `max_gap` takes no `probe` (put it in a check of its own)",
                at()
            ));
        }
        Ok(())
    }
}

/// What an assertion compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A number (`null`: the report has none).
    Number(Option<f64>),
    /// A flag.
    Flag(bool),
}

/// One rule of one check on one selected record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assertion {
    /// The check's name ([`CheckSpec::label`]).
    pub check: String,
    /// Its selector ([`CheckSpec::selector`]).
    pub selector: String,
    /// The record: a result's key; a gap's `model/layer/channels/target/geom/mlp-ridge`;
    /// a control's `model/layer/channels/control/geom/probe`.
    pub subject: String,
    /// The rule: `r2_mean ≥ 0.25`, `gap ≤ 0.1`, `inflated = true`, ….
    pub rule: String,
    /// The value the rule read.
    pub value: Value,
    /// Whether it held.
    pub passed: bool,
    /// The subject, the rule and the numbers, in one sentence.
    pub message: String,
}

/// A check whose selector matches nothing (or nothing of one kind).
#[derive(Debug, Clone, PartialEq)]
pub struct NoMatch {
    /// The check's name.
    pub check: String,
    /// Its selector.
    pub selector: String,
    /// The report it looked in.
    pub report: String,
    /// Why nothing matched: the field that ruled out the last candidates
    /// and the values it could have taken, or the empty section.
    pub why: String,
}

impl std::fmt::Display for NoMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[[checks]] '{}' ({}) matches nothing in {}: {}",
            self.check, self.selector, self.report, self.why
        )
    }
}

/// The values of `field` over `items`, in order of first appearance.
fn distinct<'a>(items: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in items {
        let v = v.unwrap_or("(whole layer)").to_string();
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Filter `items` field by field; when a field leaves nothing, say which,
/// with the values it could have taken. `what` names one item and many;
/// `hint` says what an empty section needs.
fn select<'a, T>(
    items: &'a [T],
    wanted: &[(&'static str, Option<&str>)],
    get: impl Fn(&'a T, &str) -> Option<&'a str>,
    what: (&str, &str),
    hint: &str,
) -> std::result::Result<Vec<&'a T>, String> {
    let (one, many) = what;
    if items.is_empty() {
        return Err(format!("the report has no {many}{hint}"));
    }
    let mut kept: Vec<&T> = items.iter().collect();
    for (field, value) in wanted {
        let Some(value) = value else { continue };
        let next: Vec<&T> = kept
            .iter()
            .copied()
            .filter(|t| get(t, field) == Some(*value))
            .collect();
        if next.is_empty() {
            let seen = distinct(kept.iter().map(|t| get(t, field)));
            let shown: Vec<String> = seen.iter().take(12).map(|s| format!("{s:?}")).collect();
            let more = if seen.len() > 12 { ", …" } else { "" };
            return Err(format!(
                "no {one} with {field} = {value:?} (the {many} selected so far have {field} {}{more})",
                shown.join(", ")
            ));
        }
        kept = next;
    }
    Ok(kept)
}

fn record_field<'a>(r: &'a CheckRecord, field: &str) -> Option<&'a str> {
    match field {
        "model" => Some(&r.model),
        "layer" => Some(&r.layer),
        "channels" => r.channels.as_deref(),
        "target" => Some(&r.target),
        "representation" => Some(&r.representation),
        "probe" => Some(&r.probe),
        _ => None,
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "null".to_string(), |v| format!("{v:.4}"))
}

fn bound(v: f64) -> String {
    format!("{v}")
}

/// Why checks could not be asserted: the caller's error (exit 2), never
/// a pass or a failure.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckError {
    /// A check that breaks a rule of [`CheckSpec::validate`].
    Invalid(String),
    /// A check whose selector matches nothing.
    NoMatch(NoMatch),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Invalid(m) => f.write_str(m),
            CheckError::NoMatch(n) => n.fmt(f),
        }
    }
}

/// Assert `specs` on `report`: every rule of every check on every record
/// it selects, in check order. A check that breaks a rule of
/// [`CheckSpec::validate`] or selects nothing is a [`CheckError`].
pub fn assert_checks(
    specs: &[CheckSpec],
    report: &LoadedReport,
) -> std::result::Result<Vec<Assertion>, CheckError> {
    let mut out = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        spec.validate(i).map_err(CheckError::Invalid)?;
        let check = spec.label(i);
        let selector = spec.selector();
        let no_match = |why: String| {
            CheckError::NoMatch(NoMatch {
                check: check.clone(),
                selector: selector.clone(),
                report: report.path().to_string(),
                why,
            })
        };
        let mut push =
            |subject: String, rule: String, value: Value, passed: bool, detail: String| {
                out.push(Assertion {
                    check: check.clone(),
                    selector: selector.clone(),
                    message: format!(
                        "{subject}: {rule} {} ({detail})",
                        if passed { "holds" } else { "FAILS" }
                    ),
                    subject,
                    rule,
                    value,
                    passed,
                })
            };
        if spec.min.is_some() || spec.max.is_some() {
            let metric = spec.metric().map_err(CheckError::Invalid)?;
            let selected = select(
                &report.records,
                &spec.fields(),
                |(_, r), f| record_field(r, f),
                ("record", "records"),
                "",
            )
            .map_err(no_match)?;
            for (_, r) in selected {
                let v = metric.of(r).filter(|v| v.is_finite());
                let ci = if metric == Metric::R2Mean {
                    r.r2_ci
                        .map_or(String::new(), |c| format!(", 95 % CI {}", fmt_ci(c)))
                } else {
                    String::new()
                };
                for (name, b, holds) in [
                    ("≥", spec.min, v.zip(spec.min).map(|(v, b)| v >= b)),
                    ("≤", spec.max, v.zip(spec.max).map(|(v, b)| v <= b)),
                ] {
                    let Some(b) = b else { continue };
                    push(
                        r.key(),
                        format!("{} {name} {}", metric.name(), bound(b)),
                        Value::Number(v),
                        holds.unwrap_or(false),
                        format!("{} {}{ci}", metric.name(), num(v)),
                    );
                }
            }
        }
        if let Some(max_gap) = spec.max_gap {
            let fields: Vec<(&'static str, Option<&str>)> = spec
                .fields()
                .into_iter()
                .filter(|(k, _)| !matches!(*k, "representation" | "probe"))
                .collect();
            let selected = select(
                &report.gaps,
                &fields,
                |g, f| match f {
                    "model" => Some(&g.model),
                    "layer" => Some(&g.layer),
                    "channels" => g.channels.as_deref(),
                    "target" => Some(&g.target),
                    _ => None,
                },
                ("gap", "gaps"),
                " (gaps need the ridge and the mlp probe)",
            )
            .map_err(no_match)?;
            for g in selected {
                let ci = g
                    .gap_ci
                    .map_or(String::new(), |c| format!(", 95 % CI {}", fmt_ci(c)));
                push(
                    format!(
                        "{}/{}/{}/{}/geom/mlp-ridge",
                        g.model,
                        g.layer,
                        g.channels.as_deref().unwrap_or("-"),
                        g.target
                    ),
                    format!("gap ≤ {}", bound(max_gap)),
                    Value::Number(g.gap),
                    g.gap.is_some_and(|v| v.is_finite() && v <= max_gap),
                    format!("gap {}{ci}", num(g.gap)),
                );
            }
        }
        for (flag, want) in [
            ("inflated", spec.inflation),
            ("geom_inflated", spec.geom_inflation),
        ] {
            let Some(want) = want else { continue };
            let fields: Vec<(&'static str, Option<&str>)> = spec
                .fields()
                .into_iter()
                .filter(|(k, _)| *k != "representation")
                .collect();
            let selected = select(
                &report.inflation,
                &fields,
                |c, f| match f {
                    "model" => Some(&c.model),
                    "layer" => Some(&c.layer),
                    "channels" => c.channels.as_deref(),
                    "target" => Some(&c.control),
                    "probe" => Some(&c.probe),
                    _ => None,
                },
                ("control record", "control records"),
                " (they need --controls)",
            )
            .map_err(no_match)?;
            for c in selected {
                let got = if flag == "inflated" {
                    c.inflated
                } else {
                    c.geom_inflated
                };
                let (which, v) = if flag == "inflated" {
                    ("R²_cond", c.r2_cond)
                } else {
                    ("R²_geom", c.r2_geom)
                };
                push(
                    record_key(
                        &c.model,
                        &c.layer,
                        c.channels.as_deref(),
                        &c.control,
                        "geom",
                        &c.probe,
                    ),
                    format!("{flag} = {want}"),
                    Value::Flag(got),
                    got == want,
                    format!(
                        "{flag} = {got}: {which} {} against threshold {}",
                        num(v),
                        c.threshold
                    ),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report with two layers' geom/ridge records of `gap_ev`, one gap
    /// and two control records.
    fn report() -> LoadedReport {
        let rec = |layer: &str, rep: &str, probe: &str, r2: &str| {
            format!(
                r#"{{"model": "m", "layer": "{layer}", "channels": null, "target": "gap_ev",
                    "representation": "{rep}", "probe": "{probe}", "r2_mean": {r2},
                    "r2_std": 0.01, "r2_pooled": {r2}, "mae": 1.0, "rmse": 1.0,
                    "r2_ci": [0.25, 0.35]}}"#
            )
        };
        let text = format!(
            r#"{{"schema_version": 1, "settings": {{}}, "results": [{}, {}, {}, {}],
                "gaps": [{{"model": "m", "layer": "b", "channels": null, "target": "gap_ev",
                           "gap": 0.12, "gap_ci": [0.05, 0.2]}}],
                "inflation": [
                  {{"model": "m", "layer": "b", "channels": null, "probe": "gbt",
                    "control": "ctrl_mass", "linear": true, "r2_geom": 0.7, "r2_cond": 0.01,
                    "threshold": 0.1, "inflated": false, "geom_inflated": true}},
                  {{"model": "m", "layer": "b", "channels": null, "probe": "ridge",
                    "control": "ctrl_mass", "linear": true, "r2_geom": -0.02, "r2_cond": 0.0,
                    "threshold": 0.1, "inflated": false, "geom_inflated": false}}]}}"#,
            rec("a", "geom", "ridge", "0.3"),
            rec("b", "geom", "ridge", "0.29999"),
            rec("b", "geom", "mlp", "0.6"),
            rec("b", "raw", "ridge", "null"),
        );
        LoadedReport::parse(&text, "r.json").unwrap()
    }

    fn spec(toml_text: &str) -> CheckSpec {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn bounds_on_the_metric_hold_at_the_edge_and_fail_past_it() {
        let s = spec("representation = \"geom\"\nprobe = \"ridge\"\nmin = 0.3\nmax = 0.9");
        s.validate(0).unwrap();
        let a = assert_checks(&[s], &report()).unwrap();
        let got: Vec<(&str, &str, bool)> = a
            .iter()
            .map(|a| (a.subject.as_str(), a.rule.as_str(), a.passed))
            .collect();
        assert_eq!(
            got,
            vec![
                ("m/a/-/gap_ev/geom/ridge", "r2_mean ≥ 0.3", true),
                ("m/a/-/gap_ev/geom/ridge", "r2_mean ≤ 0.9", true),
                ("m/b/-/gap_ev/geom/ridge", "r2_mean ≥ 0.3", false),
                ("m/b/-/gap_ev/geom/ridge", "r2_mean ≤ 0.9", true),
            ]
        );
        assert_eq!(a[2].value, Value::Number(Some(0.29999)));
        assert_eq!(
            a[2].message,
            "m/b/-/gap_ev/geom/ridge: r2_mean ≥ 0.3 FAILS (r2_mean 0.3000, 95 % CI [0.2500, 0.3500])"
        );
        assert_eq!(a[0].check, "checks[0]");
        assert_eq!(
            a[0].selector,
            "representation = \"geom\", probe = \"ridge\""
        );
        // A null metric fails a bound.
        let a = assert_checks(&[spec("representation = \"raw\"\nmin = -1.0")], &report()).unwrap();
        assert_eq!(a.len(), 1);
        assert!(!a[0].passed);
        assert_eq!(a[0].value, Value::Number(None));
        // Another metric.
        let a = assert_checks(
            &[spec("layer = \"a\"\nmetric = \"rmse\"\nmax = 0.5")],
            &report(),
        )
        .unwrap();
        assert_eq!(a[0].rule, "rmse ≤ 0.5");
        assert!(!a[0].passed);
    }

    #[test]
    fn gaps_and_inflation_flags_are_asserted() {
        let a = assert_checks(
            &[
                spec("name = \"gap\"\nlayer = \"b\"\nmax_gap = 0.1"),
                spec("max_gap = 0.12"),
                spec("target = \"ctrl_mass\"\nprobe = \"gbt\"\ngeom_inflation = true\ninflation = false"),
            ],
            &report(),
        )
        .unwrap();
        let got: Vec<(&str, &str, &str, bool)> = a
            .iter()
            .map(|a| {
                (
                    a.check.as_str(),
                    a.subject.as_str(),
                    a.rule.as_str(),
                    a.passed,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("gap", "m/b/-/gap_ev/geom/mlp-ridge", "gap ≤ 0.1", false),
                (
                    "checks[1]",
                    "m/b/-/gap_ev/geom/mlp-ridge",
                    "gap ≤ 0.12",
                    true
                ),
                (
                    "checks[2]",
                    "m/b/-/ctrl_mass/geom/gbt",
                    "inflated = false",
                    true
                ),
                (
                    "checks[2]",
                    "m/b/-/ctrl_mass/geom/gbt",
                    "geom_inflated = true",
                    true
                ),
            ]
        );
        assert_eq!(
            a[0].message,
            "m/b/-/gap_ev/geom/mlp-ridge: gap ≤ 0.1 FAILS (gap 0.1200, 95 % CI [0.0500, 0.2000])"
        );
        assert_eq!(
            a[3].message,
            "m/b/-/ctrl_mass/geom/gbt: geom_inflated = true holds (geom_inflated = true: R²_geom 0.7000 against threshold 0.1)"
        );
        let a = assert_checks(
            &[spec("probe = \"ridge\"\ngeom_inflation = true")],
            &report(),
        )
        .unwrap();
        assert_eq!(a.len(), 1);
        assert!(!a[0].passed);
        assert_eq!(a[0].value, Value::Flag(false));
    }

    #[test]
    fn a_selector_that_matches_nothing_is_an_error_naming_the_field() {
        let e = assert_checks(
            &[spec("model = \"m\"\nlayer = \"l_lst\"\nmin = 0.3")],
            &report(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "[[checks]] 'checks[0]' (model = \"m\", layer = \"l_lst\") matches nothing in r.json: no record with layer = \"l_lst\" (the records selected so far have layer \"a\", \"b\")"
        );
        let why = |e: CheckError| match e {
            CheckError::NoMatch(n) => n.why,
            CheckError::Invalid(m) => panic!("{m}"),
        };
        let e =
            assert_checks(&[spec("target = \"gap_ev\"\ninflation = true")], &report()).unwrap_err();
        assert!(
            why(e.clone()).starts_with("no control record with target = \"gap_ev\" (the control records selected so far have target \"ctrl_mass\")"),
            "{e}"
        );
        let empty = LoadedReport::parse(
            r#"{"schema_version": 1, "settings": {}, "results": []}"#,
            "e.json",
        )
        .unwrap();
        let e = assert_checks(&[spec("max_gap = 0.1")], &empty).unwrap_err();
        assert_eq!(
            why(e),
            "the report has no gaps (gaps need the ridge and the mlp probe)"
        );
        // An unvalidated check is refused, not read with defaults.
        let e = assert_checks(&[spec("metric = \"r2\"\nmin = 0.1")], &report()).unwrap_err();
        assert!(
            matches!(&e, CheckError::Invalid(m) if m.contains("unknown metric 'r2'")),
            "{e}"
        );
    }

    #[test]
    fn bad_checks_are_named() {
        let bad = |t: &str| spec(t).validate(2).unwrap_err();
        assert_eq!(
            bad("model = \"m\""),
            "[[checks]] 'checks[2]': nothing to assert: give `min`, `max`, `max_gap`, `inflation` or `geom_inflation`"
        );
        assert!(bad("min = 0.5\nmax = 0.4").contains("`min` 0.5 is above `max` 0.4"));
        assert!(bad("min = nan").contains("`min` must be a finite number"));
        assert!(bad("metric = \"r2\"\nmin = 0.1").contains("unknown metric 'r2'"));
        assert!(bad("metric = \"rmse\"\nmax_gap = 0.1")
            .contains("`metric` is what `min` and `max` bound"));
        assert!(bad("representation = \"raw\"\nmax_gap = 0.1").contains("about the residual"));
        assert!(bad("probe = \"ridge\"\nmax_gap = 0.1").contains("`max_gap` takes no `probe`"));
        assert!(
            spec("name = \"x\"\nrepresentation = \"geom\"\nmax_gap = 0.1")
                .validate(0)
                .is_ok()
        );
        assert!(toml::from_str::<CheckSpec>("mni = 0.3")
            .unwrap_err()
            .to_string()
            .contains("unknown field `mni`"));
    }
}
