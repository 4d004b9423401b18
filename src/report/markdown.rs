//! Human-readable renderings: the text table and the verdict printed by
//! the CLI, and `report.md`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::grid::{markdown_table, Column, Table};
use super::{Report, ResultRecord};

/// One line of the pivoted view: a (model, layer, channels, target, probe)
/// with its composition / raw / geom records.
pub(super) struct Row<'a> {
    pub model: &'a str,
    pub layer: &'a str,
    pub channels: Option<&'a str>,
    pub target: &'a str,
    pub probe: &'a str,
    pub comp: Option<&'a ResultRecord>,
    pub raw: Option<&'a ResultRecord>,
    pub geom: Option<&'a ResultRecord>,
}

pub(super) fn pivot(report: &Report) -> Vec<Row<'_>> {
    type Key = (String, String, Option<String>, String, String);
    let mut order: Vec<Key> = Vec::new();
    let mut rows: BTreeMap<Key, Row<'_>> = BTreeMap::new();
    for r in &report.results {
        let key = (
            r.model.clone(),
            r.layer.clone(),
            r.channels.clone(),
            r.target.clone(),
            r.probe.clone(),
        );
        let row = rows.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Row {
                model: &r.model,
                layer: &r.layer,
                channels: r.channels.as_deref(),
                target: &r.target,
                probe: &r.probe,
                comp: None,
                raw: None,
                geom: None,
            }
        });
        match r.representation.as_str() {
            "composition" => row.comp = Some(r),
            "raw" => row.raw = Some(r),
            _ => row.geom = Some(r),
        }
    }
    order
        .into_iter()
        .map(|k| rows.remove(&k).expect("inserted"))
        .collect()
}

impl Row<'_> {
    /// The layer, with the channel group in brackets when there is one.
    pub fn layer_label(&self) -> String {
        match self.channels {
            Some(g) => format!("{}[{g}]", self.layer),
            None => self.layer.to_string(),
        }
    }
}

/// A record's R²: the mean over folds with its 95 % interval
/// (`0.322 [0.281, 0.360]`), or with the per-fold std (`0.322 ± 0.037`)
/// when the report has no intervals.
pub(super) fn cell(r: Option<&ResultRecord>) -> String {
    match r.and_then(|r| r.r2_mean.map(|m| (m, r.r2_ci, r.r2_std))) {
        Some((m, Some([lo, hi]), _)) => format!("{m:.3} [{lo:.3}, {hi:.3}]"),
        Some((m, None, Some(s))) => format!("{m:.3} ± {s:.3}"),
        _ => "—".into(),
    }
}

/// A residual record's conditional R² with its interval (`0.378 [0.35,
/// 0.40]`), `—` without one.
pub(super) fn cond_cell(r: Option<&ResultRecord>) -> String {
    match r.and_then(|r| r.r2_cond.map(|m| (m, r.r2_cond_ci))) {
        Some((m, Some([lo, hi]))) => format!("{m:.3} [{lo:.3}, {hi:.3}]"),
        Some((m, None)) => format!("{m:.3}"),
        None => "—".into(),
    }
}

/// [`cell`] with `!` after an unstable record (the text table).
fn marked(r: Option<&ResultRecord>) -> String {
    let mark = if r.is_some_and(|r| r.unstable) {
        " !"
    } else {
        "  "
    };
    format!("{}{mark}", cell(r))
}

/// The line that heads the stdout table: tool, rows, folds and the
/// composition basis (`cpd 0.1.0: 2500 structures, 5 folds (seed 0),
/// composition rank 6 (H C N O F)`).
pub fn run_line(report: &Report, rows: usize) -> String {
    let r = report;
    format!(
        "cpd {}: {} structures, {} folds ({}), composition rank {} ({}{})",
        r.tool.version,
        rows,
        r.settings.folds,
        r.settings
            .seed
            .map_or_else(|| "from file".to_string(), |s| format!("seed {s}")),
        r.composition.rank,
        r.composition.columns.join(" "),
        if r.composition.dropped.is_empty() {
            String::new()
        } else {
            format!("; dropped {}", r.composition.dropped.join(" "))
        },
    )
}

/// The short table printed on stdout: R² (mean over folds, [`cell`]) of the
/// composition-only, raw and residual representations side by side.
pub fn text_table(report: &Report) -> String {
    let rows = pivot(report);
    let header = [
        "model", "layer", "target", "probe", "R² comp", "R² raw", "R² geom", "R² cond",
    ];
    let body: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.model.to_string(),
                r.layer_label(),
                r.target.to_string(),
                r.probe.to_string(),
                marked(r.comp),
                marked(r.raw),
                marked(r.geom),
                cond_cell(r.geom),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count() + if h.starts_with("R²") { 2 } else { 0 });
    for row in &body {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = w - c.chars().count();
                if i >= 4 {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    // Numeric cells end in a two-character mark column (` !` or blank).
    line(
        &mut out,
        &header.map(|h| {
            if h.starts_with("R²") {
                format!("{h}  ")
            } else {
                h.to_string()
            }
        }),
    );
    for row in &body {
        line(&mut out, row);
    }
    out.push_str(&instability_lines(report));
    out
}

/// Culprit lines shown at most, after the text table.
const MAX_CULPRIT_LINES: usize = 8;

/// The end of the text table: what the `!` marks mean, one line per
/// structure that decides a fold, the remedy, and the ridge records whose
/// alpha sits at the grid's edge. Empty when nothing is flagged.
pub fn instability_lines(report: &Report) -> String {
    let ins = &report.instability;
    let mut out = String::new();
    if !ins.unstable.is_empty() {
        let _ = writeln!(
            out,
            "! unstable, {} of {} records: {}",
            ins.unstable.len(),
            report.results.len(),
            ins.rule
        );
        for c in ins.culprits.iter().take(MAX_CULPRIT_LINES) {
            let what = match c.formula.as_deref() {
                Some(f) if !f.is_empty() => format!("{} ({f})", c.id),
                _ => c.id.clone(),
            };
            let z = c
                .max_z
                .map(|z| format!("; |z| = {z:.1} against its training fold"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {what}, fold {}: up to {:.0} % of the fold's squared error in {} record(s), e.g. {}{z}",
                c.fold,
                100.0 * c.max_share,
                c.records.len(),
                c.records[0],
            );
        }
        if ins.culprits.len() > MAX_CULPRIT_LINES {
            let _ = writeln!(
                out,
                "  … and {} more structure(s): see report.md",
                ins.culprits.len() - MAX_CULPRIT_LINES
            );
        }
        use crate::probe::scale::Scale;
        let _ = if matches!(report.settings.scale, Scale::Standard | Scale::Clip) {
            writeln!(
                out,
                "  try the default --scale robust (one scale shared by every column, so a rare element's \
                 sparse columns are not blown up); --predictions writes every out-of-fold prediction"
            )
        } else {
            writeln!(out, "  --predictions writes every out-of-fold prediction")
        };
    }
    if !ins.alpha_at_edge.is_empty() {
        let grid = &report.settings.ridge.alphas;
        let _ = writeln!(
            out,
            "alpha at the edge of the grid [{}, {}] on some fold: {} ridge record(s), e.g. {}; widen --alphas",
            grid.first().copied().unwrap_or(f64::NAN),
            grid.last().copied().unwrap_or(f64::NAN),
            ins.alpha_at_edge.len(),
            ins.alpha_at_edge[0]
        );
    }
    out
}

fn col(name: &str, numeric: bool, code: bool) -> Column {
    Column {
        name: name.to_owned(),
        numeric,
        code,
    }
}

/// The results, one row per (model, layer, channels, target, probe).
pub(super) fn results_table(report: &Report) -> Table {
    let columns = vec![
        col("model", false, false),
        col("layer", false, false),
        col("target", false, false),
        col("probe", false, false),
        col("R² comp", true, false),
        col("R² raw", true, false),
        col("R² geom", true, false),
        col("R² cond", true, false),
        col("R² geom pooled", true, false),
        col("alpha geom", true, false),
    ];
    let rows = pivot(report)
        .into_iter()
        .map(|r| {
            vec![
                r.model.to_string(),
                r.layer_label(),
                r.target.to_string(),
                r.probe.to_string(),
                cell(r.comp),
                cell(r.raw),
                cell(r.geom),
                cond_cell(r.geom),
                r.geom
                    .and_then(|g| g.r2_pooled)
                    .map_or("—".into(), |v| format!("{v:.3}")),
                r.geom
                    .and_then(|g| g.alpha)
                    .map_or("—".into(), significant4),
            ]
        })
        .collect();
    Table { columns, rows }
}

/// A positive number to 4 significant digits, trailing zeros dropped
/// (`316.2`, `0.03162`, `1000`); the exact value is in `report.json`.
fn significant4(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The input files, checksums shortened to 12 hex digits.
pub(super) fn inputs_table(report: &Report) -> Table {
    let columns = vec![
        col("role", false, false),
        col("path", false, true),
        col("model", false, false),
        col("layer", false, false),
        col("rows", true, false),
        col("cols", true, false),
        col("sha256", false, true),
    ];
    let rows = report
        .inputs
        .iter()
        .map(|i| {
            vec![
                i.role.clone(),
                i.path.clone(),
                i.model.clone().unwrap_or_default(),
                i.layer.clone().unwrap_or_default(),
                i.rows.to_string(),
                i.cols.to_string(),
                i.sha256[..12.min(i.sha256.len())].to_string(),
            ]
        })
        .collect();
    Table { columns, rows }
}

/// How the folds were made: `shuffled, seed 0`, `from FILE` or `given`.
pub(super) fn folds_description(report: &Report) -> String {
    match (&report.settings.folds_file, report.settings.seed) {
        (Some(f), _) => format!("from {f}"),
        (None, Some(seed)) => format!("shuffled, seed {seed}"),
        _ => "given".into(),
    }
}

/// `rank 6` or `rank 5, dropped F`.
pub(super) fn rank_description(report: &Report) -> String {
    let c = &report.composition;
    if c.dropped.is_empty() {
        format!("rank {}", c.rank)
    } else {
        format!("rank {}, dropped {}", c.rank, c.dropped.join(", "))
    }
}

/// The verdict as a Markdown list under its heading.
fn verdict_markdown(report: &Report) -> String {
    let mut md = String::new();
    if report.verdict.is_empty() {
        return md;
    }
    let _ = writeln!(md, "## Verdict\n");
    for line in &report.verdict {
        let _ = writeln!(md, "- {line}");
    }
    md.push('\n');
    md
}

/// The verdict as text for a terminal.
pub fn verdict_text(report: &Report) -> String {
    let mut s = String::new();
    for line in &report.verdict {
        let _ = writeln!(s, "* {line}");
    }
    s
}

/// `report.md`: settings, the verdict, the results, each analysis's
/// sections (in the order of `PARTS` in `src/report/parts/`), the inputs
/// and the composition basis.
pub fn report_markdown(report: &Report) -> String {
    let s = &report.settings;
    let mut md = String::new();
    let _ = writeln!(md, "# cpd report\n");
    let _ = writeln!(
        md,
        "{} {} · {} folds ({}) · probes: {} · scale: {} · composition: {} ({}) · target residualised: {}{}{}\n",
        report.tool.name,
        report.tool.version,
        s.folds,
        folds_description(report),
        s.probes.join(", "),
        s.scale.name(),
        s.composition_mode,
        rank_description(report),
        if s.residualize_target { "yes" } else { "no" },
        if s.similarity { " · similarity: linear CKA" } else { "" },
        if s.compare.is_empty() {
            String::new()
        } else {
            format!(
                " · compared: {} ({} structures at most)",
                s.compare.join(", "),
                s.compare_rows.unwrap_or_default()
            )
        },
    );
    let _ = writeln!(
        md,
        "R² is the mean over folds of scikit-learn's `r2_score` on each held-out fold, with its \
         95 % interval in brackets (a bootstrap over structures of the out-of-fold predictions; \
         ± std over folds in a report without intervals). *comp*: probe on composition alone; *raw*: on the embedding; *geom*: on the embedding \
         after removing everything linear in composition (`H − Q Qᵀ H`); *cond*: what the residual adds \
         to composition, the R² of the probe fitted on composition and then on the residual to what \
         composition leaves, minus the R² of composition alone.\n"
    );
    md.push_str(&verdict_markdown(report));
    let _ = writeln!(md, "## Results\n");
    markdown_table(&mut md, &results_table(report));
    for (title, lead, table) in super::parts::sections(report) {
        let _ = writeln!(md, "\n## {title}\n\n{lead}\n");
        markdown_table(&mut md, &table);
    }
    let _ = writeln!(md, "\n## Inputs\n");
    markdown_table(&mut md, &inputs_table(report));
    let _ = writeln!(
        md,
        "\nComposition columns: {} (mode {}, rank {} of {} with the intercept).",
        report.composition.columns.join(", "),
        report.composition.mode,
        report.composition.rank,
        report.composition.columns.len() + 1
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphas_are_shown_to_four_significant_digits() {
        let cases = [
            (316.22776601683796, "316.2"),
            (0.31622776601683794, "0.3162"),
            (0.03162277660168379, "0.03162"),
            (3.1622776601683795, "3.162"),
            (1000.0, "1000"),
            (1.0, "1"),
            (0.001, "0.001"),
            (2.5, "2.5"),
            (123456.0, "123456"),
        ];
        for (v, want) in cases {
            assert_eq!(significant4(v), want, "{v}");
        }
    }
}
