//! The outcome of `cpd check` as one value, [`Gate`] (a comparison with a
//! baseline, the manifest's assertions, or both), and the forms CI systems
//! read: text for a terminal or a log, JSON, JUnit XML (one test case per
//! compared record and per assertion) and GitHub Actions workflow commands
//! (`::error` annotations) with a Markdown table for the step summary.
//! Every rendering is a string; the command line prints or writes it.

use serde::Serialize;

use super::assertions::{Assertion, Value};
use super::compare::{fmt_ci, Mode, Outcome, Row, Status};

/// A report compared with a baseline.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The baseline's path.
    pub baseline: String,
    /// What the comparison found.
    pub outcome: Outcome,
}

/// The manifest's assertions on a report.
#[derive(Debug, Clone)]
pub struct Assertions {
    /// The manifest's path.
    pub manifest: String,
    /// Number of `[[checks]]` tables.
    pub checks: usize,
    /// Every rule of every check on every record it selected.
    pub results: Vec<Assertion>,
}

/// Everything `cpd check` found about one report.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The new report's path.
    pub report: String,
    /// The comparison with a baseline (`--baseline`).
    pub comparison: Option<Comparison>,
    /// The manifest's assertions (`--manifest`).
    pub assertions: Option<Assertions>,
}

/// An output format of `cpd check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables and a summary line for a terminal or a CI log.
    Text,
    /// One JSON object with every compared record and every assertion.
    Json,
    /// JUnit XML: a test suite for the comparison and one for the
    /// assertions.
    Junit,
    /// The text, then GitHub Actions workflow commands: an `::error` line
    /// per failure and a `::notice` line per note.
    Github,
}

impl Gate {
    /// No record moved or is missing, and every assertion held.
    pub fn passed(&self) -> bool {
        self.comparison.as_ref().is_none_or(|c| c.outcome.passed())
            && self
                .assertions
                .as_ref()
                .is_none_or(|a| a.results.iter().all(|a| a.passed))
    }

    /// What the reader should know that is not a failure: settings that
    /// differ, unstable records, intervals unused by tol mode, baseline
    /// records that interval mode judged by the tolerance.
    pub fn notes(&self) -> Vec<String> {
        let Some(c) = &self.comparison else {
            return Vec::new();
        };
        let o = &c.outcome;
        let mut notes: Vec<String> = o
            .settings_differ
            .iter()
            .map(|d| format!("settings differ: {d}"))
            .collect();
        for (key, which) in &o.unstable {
            let which = match *which {
                "both" => "in both reports",
                "baseline" => "in the baseline",
                _ => "in the new report",
            };
            let hint = match o.mode {
                Mode::Tol => {
                    "a few structures decide its mean R²; gate it with --metric r2_median or a per-record \"tol\""
                }
                Mode::Interval => "a few structures decide its mean R²",
            };
            notes.push(format!("unstable {which}: {key} ({hint})"));
        }
        if o.mode == Mode::Tol && o.baseline_has_intervals {
            notes.push(
                "the baseline carries 95 % intervals: --mode interval gates each record on its own noise instead of one tolerance"
                    .into(),
            );
        }
        if !o.no_interval.is_empty() {
            let shown: Vec<&str> = o.no_interval.iter().take(5).map(String::as_str).collect();
            notes.push(format!(
                "{} baseline record(s) without an interval judged by tol {} instead: {}{}",
                o.no_interval.len(),
                o.tol,
                shown.join(", "),
                if o.no_interval.len() > 5 { ", …" } else { "" }
            ));
        }
        notes
    }

    /// The summary line of the comparison.
    fn comparison_summary(&self) -> Option<String> {
        let c = self.comparison.as_ref()?;
        let o = &c.outcome;
        let (within, how) = match o.mode {
            Mode::Tol => ("within tolerance", format!("tol {}", o.tol)),
            Mode::Interval => ("within the baseline's interval", "interval mode".into()),
        };
        Some(format!(
            "check {}: {} {within}, {} moved, {} missing, {} new ({} against {}, {}, {how})",
            if o.passed() { "passed" } else { "FAILED" },
            o.count(Status::Ok),
            o.count(Status::Moved),
            o.count(Status::Missing),
            o.count(Status::New),
            self.report,
            c.baseline,
            o.metric.name(),
        ))
    }

    /// The summary line of the assertions.
    fn assertions_summary(&self) -> Option<String> {
        let a = self.assertions.as_ref()?;
        let held = a.results.iter().filter(|a| a.passed).count();
        let failed = a.results.len() - held;
        Some(format!(
            "assertions {}: {held} held, {failed} failed ({} checks of {} on {})",
            if failed == 0 { "passed" } else { "FAILED" },
            a.checks,
            a.manifest,
            self.report
        ))
    }

    /// The rendering in `format`; `all` lists every record and assertion
    /// in the text and the step summary, not only failures and new records.
    pub fn render(&self, format: Format, all: bool) -> String {
        match format {
            Format::Text => self.text(all),
            Format::Json => self.json(),
            Format::Junit => self.junit(),
            Format::Github => self.github(all),
        }
    }

    /// Tables of the failed (with `all`, every) records and assertions,
    /// the notes and one summary line per part.
    pub fn text(&self, all: bool) -> String {
        let mut out = String::new();
        if let Some(c) = &self.comparison {
            let rows: Vec<Vec<String>> = shown_rows(&c.outcome, all).map(row_cells).collect();
            out.push_str(&table(&ROW_COLUMNS, &rows));
        }
        if let Some(a) = &self.assertions {
            let rows: Vec<Vec<String>> = a
                .results
                .iter()
                .filter(|a| all || !a.passed)
                .map(assertion_cells)
                .collect();
            if !out.is_empty() && !rows.is_empty() {
                out.push('\n');
            }
            out.push_str(&table(&ASSERTION_COLUMNS, &rows));
        }
        for n in self.notes() {
            out.push_str(&format!("note: {n}\n"));
        }
        for line in [self.comparison_summary(), self.assertions_summary()]
            .into_iter()
            .flatten()
        {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// One JSON object: `passed`, `report`, `comparison` (mode, metric,
    /// tol, counts and every record), `assertions` (every rule on every
    /// selected record) and `notes`.
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct Counts {
            ok: usize,
            moved: usize,
            missing: usize,
            new: usize,
        }
        #[derive(Serialize)]
        struct Record<'a> {
            key: &'a str,
            status: String,
            rule: &'static str,
            baseline: Option<f64>,
            baseline_ci: Option<[f64; 2]>,
            new: Option<f64>,
            new_ci: Option<[f64; 2]>,
            delta: Option<f64>,
            tol: f64,
            message: String,
        }
        #[derive(Serialize)]
        struct Compared<'a> {
            baseline: &'a str,
            passed: bool,
            mode: &'static str,
            metric: &'static str,
            tol: f64,
            counts: Counts,
            records: Vec<Record<'a>>,
        }
        #[derive(Serialize)]
        struct Asserted<'a> {
            manifest: &'a str,
            passed: bool,
            checks: usize,
            results: &'a [Assertion],
        }
        #[derive(Serialize)]
        struct Out<'a> {
            passed: bool,
            report: &'a str,
            comparison: Option<Compared<'a>>,
            assertions: Option<Asserted<'a>>,
            notes: Vec<String>,
        }
        let comparison = self.comparison.as_ref().map(|c| {
            let o = &c.outcome;
            Compared {
                baseline: &c.baseline,
                passed: o.passed(),
                mode: o.mode.name(),
                metric: o.metric.name(),
                tol: o.tol,
                counts: Counts {
                    ok: o.count(Status::Ok),
                    moved: o.count(Status::Moved),
                    missing: o.count(Status::Missing),
                    new: o.count(Status::New),
                },
                records: o
                    .rows
                    .iter()
                    .map(|r| Record {
                        key: &r.key,
                        status: r.status.label().to_lowercase(),
                        rule: r.rule.name(),
                        baseline: r.baseline,
                        baseline_ci: r.baseline_ci,
                        new: r.new,
                        new_ci: r.new_ci,
                        delta: r.delta(),
                        tol: r.tol,
                        message: r.message(),
                    })
                    .collect(),
            }
        });
        let assertions = self.assertions.as_ref().map(|a| Asserted {
            manifest: &a.manifest,
            passed: a.results.iter().all(|a| a.passed),
            checks: a.checks,
            results: &a.results,
        });
        let mut text = serde_json::to_string_pretty(&Out {
            passed: self.passed(),
            report: &self.report,
            comparison,
            assertions,
            notes: self.notes(),
        })
        .expect("plain data serialises");
        text.push('\n');
        text
    }

    /// JUnit XML: `<testsuites>` with a `<testsuite>` for the comparison
    /// (a `<testcase>` per record; `<failure>` for a moved or missing one,
    /// `<skipped>` for a new one) and one for the assertions (a
    /// `<testcase>` per rule and selected record); the notes in the
    /// suites' `<system-out>`. Failure messages hold the rule and the
    /// numbers.
    pub fn junit(&self) -> String {
        struct Case {
            class: String,
            name: String,
            failure: Option<(String, String)>,
            skipped: Option<String>,
        }
        let mut suites: Vec<(String, Vec<Case>, Vec<String>)> = Vec::new();
        if let Some(c) = &self.comparison {
            let o = &c.outcome;
            let cases = o
                .rows
                .iter()
                .map(|r| Case {
                    class: "cpd check".into(),
                    name: r.key.clone(),
                    failure: matches!(r.status, Status::Moved | Status::Missing)
                        .then(|| (r.rule.name().to_string(), r.message())),
                    skipped: (r.status == Status::New).then(|| r.message()),
                })
                .collect();
            let how = match o.mode {
                Mode::Tol => format!("tol {}", o.tol),
                Mode::Interval => "interval mode".into(),
            };
            suites.push((
                format!(
                    "cpd check: {} against {} ({}, {how})",
                    self.report,
                    c.baseline,
                    o.metric.name()
                ),
                cases,
                self.notes(),
            ));
        }
        if let Some(a) = &self.assertions {
            let cases = a
                .results
                .iter()
                .map(|a| Case {
                    class: format!("{} ({})", a.check, a.selector),
                    name: format!("{}: {}", a.subject, a.rule),
                    failure: (!a.passed).then(|| ("assertion".to_string(), a.message.clone())),
                    skipped: None,
                })
                .collect();
            suites.push((
                format!("cpd check: [[checks]] of {} on {}", a.manifest, self.report),
                cases,
                Vec::new(),
            ));
        }
        let count = |cases: &[Case]| {
            (
                cases.len(),
                cases.iter().filter(|c| c.failure.is_some()).count(),
                cases.iter().filter(|c| c.skipped.is_some()).count(),
            )
        };
        let (mut tests, mut failures, mut skipped) = (0, 0, 0);
        for (_, cases, _) in &suites {
            let (t, f, s) = count(cases);
            tests += t;
            failures += f;
            skipped += s;
        }
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(&format!(
            "<testsuites name=\"cpd check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n"
        ));
        for (name, cases, notes) in &suites {
            let (t, f, s) = count(cases);
            x.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{f}\" errors=\"0\" skipped=\"{s}\">\n",
                xml_escape(name)
            ));
            for c in cases {
                let open = format!(
                    "    <testcase classname=\"{}\" name=\"{}\"",
                    xml_escape(&c.class),
                    xml_escape(&c.name)
                );
                match (&c.failure, &c.skipped) {
                    (Some((kind, message)), _) => x.push_str(&format!(
                        "{open}>\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                        xml_escape(kind),
                        xml_escape(message),
                        xml_escape(message)
                    )),
                    (None, Some(message)) => x.push_str(&format!(
                        "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        xml_escape(message)
                    )),
                    (None, None) => x.push_str(&format!("{open}/>\n")),
                }
            }
            if !notes.is_empty() {
                x.push_str(&format!(
                    "    <system-out>{}</system-out>\n",
                    xml_escape(&notes.join("\n"))
                ));
            }
            x.push_str("  </testsuite>\n");
        }
        x.push_str("</testsuites>\n");
        x
    }

    /// The text, then an `::error` workflow command per moved or missing
    /// record and per failed assertion, and a `::notice` per note.
    pub fn github(&self, all: bool) -> String {
        let mut out = self.text(all);
        if let Some(c) = &self.comparison {
            for r in c
                .outcome
                .rows
                .iter()
                .filter(|r| matches!(r.status, Status::Moved | Status::Missing))
            {
                out.push_str(&format!(
                    "::error title={}::{}\n",
                    gh_property(&format!("{} {}", r.status.label(), r.key)),
                    gh_data(&r.message())
                ));
            }
        }
        if let Some(a) = &self.assertions {
            for a in a.results.iter().filter(|a| !a.passed) {
                out.push_str(&format!(
                    "::error title={}::{}\n",
                    gh_property(&format!("check '{}' failed", a.check)),
                    gh_data(&a.message)
                ));
            }
        }
        for n in self.notes() {
            out.push_str(&format!("::notice title=cpd check note::{}\n", gh_data(&n)));
        }
        out
    }

    /// Markdown for `$GITHUB_STEP_SUMMARY`: a heading with the verdict,
    /// each part's summary line and a table of its failed (with `all`,
    /// every) records or assertions, and the notes.
    pub fn step_summary(&self, all: bool) -> String {
        let mut out = format!(
            "### cpd check {}: {}\n\n",
            if self.passed() { "passed" } else { "FAILED" },
            md(&self.report)
        );
        if let (Some(c), Some(line)) = (&self.comparison, self.comparison_summary()) {
            out.push_str(&format!("{}\n\n", md(&line)));
            let rows: Vec<Vec<String>> = shown_rows(&c.outcome, all).map(row_cells).collect();
            out.push_str(&md_table(&ROW_COLUMNS, &rows));
        }
        if let (Some(a), Some(line)) = (&self.assertions, self.assertions_summary()) {
            out.push_str(&format!("{}\n\n", md(&line)));
            let rows: Vec<Vec<String>> = a
                .results
                .iter()
                .filter(|a| all || !a.passed)
                .map(assertion_cells)
                .collect();
            out.push_str(&md_table(&ASSERTION_COLUMNS, &rows));
        }
        for n in self.notes() {
            out.push_str(&format!("- note: {}\n", md(&n)));
        }
        out.push('\n');
        out
    }
}

/// Columns of the comparison's table.
const ROW_COLUMNS: [&str; 8] = [
    "status",
    "record",
    "baseline",
    "baseline 95 % CI",
    "new",
    "new 95 % CI",
    "delta",
    "rule",
];

/// Columns of the assertions' table.
const ASSERTION_COLUMNS: [&str; 5] = ["status", "check", "subject", "rule", "value"];

/// The rows a table shows: every one with `all`, else those that are not ok.
fn shown_rows(o: &Outcome, all: bool) -> impl Iterator<Item = &Row> {
    o.rows.iter().filter(move |r| all || r.status != Status::Ok)
}

fn row_cells(r: &Row) -> Vec<String> {
    let v = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"));
    let ci = |c: Option<[f64; 2]>| c.map_or_else(|| "-".to_string(), fmt_ci);
    vec![
        r.status.label().into(),
        r.key.clone(),
        v(r.baseline),
        ci(r.baseline_ci),
        v(r.new),
        ci(r.new_ci),
        r.delta().map_or_else(|| "-".into(), |d| format!("{d:+.4}")),
        r.rule_text(),
    ]
}

fn assertion_cells(a: &Assertion) -> Vec<String> {
    vec![
        if a.passed { "ok" } else { "FAILED" }.into(),
        a.check.clone(),
        a.subject.clone(),
        a.rule.clone(),
        match a.value {
            Value::Number(Some(v)) => format!("{v:.4}"),
            Value::Number(None) => "null".into(),
            Value::Flag(f) => f.to_string(),
        },
    ]
}

/// A left-aligned plain-text table (nothing when there are no rows).
fn table(columns: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|j| {
            rows.iter()
                .map(|r| r[j].chars().count())
                .chain([columns[j].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut s: String = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(columns.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// A Markdown table (nothing when there are no rows).
fn md_table(columns: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out = format!("| {} |\n", columns.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(columns.len())));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push('\n');
    out
}

/// Text for a Markdown table cell or paragraph: HTML's special characters
/// as entities, Markdown's punctuation escaped, `|` escaped (it would end
/// the cell), line breaks as spaces.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}

/// Text for an XML attribute value or element content: the five
/// predefined entities for `&`, `<`, `>`, `"` and `'`; tab, line feed and
/// carriage return as character references (so an attribute keeps them
/// through attribute-value normalisation); other characters XML 1.0 does
/// not allow (the remaining C0 controls, lone surrogates cannot occur in a
/// `str`, U+FFFE and U+FFFF) as U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(ch),
        }
    }
    out
}

/// The message of a workflow command (after `::`), escaped as the GitHub
/// Actions toolkit escapes it: `%`, CR and LF as `%25`, `%0D`, `%0A`.
pub fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value of a workflow command (`title=…`): as [`gh_data`],
/// and `:` and `,` as `%3A` and `%2C`.
pub fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_covers_the_five_entities_and_controls() {
        assert_eq!(xml_escape(r#"a<b>&"c'd"#), "a&lt;b&gt;&amp;&quot;c&apos;d");
        assert_eq!(xml_escape("x\ny\tz\r"), "x&#10;y&#9;z&#13;");
        assert_eq!(xml_escape("bell\u{7}"), "bell\u{fffd}");
        // Already-escaped text is escaped again, not passed through.
        assert_eq!(xml_escape("&amp;"), "&amp;amp;");
        assert_eq!(xml_escape("R² ≥ 0.3 — ok"), "R² ≥ 0.3 — ok");
    }

    #[test]
    fn workflow_command_escaping() {
        assert_eq!(gh_data("50% a\nb\r"), "50%25 a%0Ab%0D");
        assert_eq!(gh_property("MOVED a:b,c%"), "MOVED a%3Ab%2Cc%25");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(md("a|b <i>&</i>"), "a\\|b &lt;i&gt;&amp;&lt;/i&gt;");
        assert_eq!(md("gap_ev*2\nx"), "gap\\_ev\\*2 x");
    }
}
