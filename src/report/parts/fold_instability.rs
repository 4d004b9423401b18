//! Fold instability: the records whose mean R² a few structures decide,
//! the structures that decide a fold, and the ridge records whose alpha
//! sits at the edge of the grid — three sections, no CSV file of their own
//! (`results.csv` has `unstable` and `alpha_at_edge`) and no figure.

use super::{no_csv, no_figures, Part};
use crate::report::cells::{col, layer_label, num, r2};
use crate::report::grid::{Section, Table};
use crate::report::{FoldDiagnostic, Report, ResultRecord};

/// The three instability sections.
pub(super) const PART: Part = Part {
    sections,
    csv: no_csv,
    figures: no_figures,
};

/// Sections present in this report: unstable records, culprit
/// structures, ridge alpha at the edge.
fn sections(report: &Report) -> Vec<Section> {
    let mut out = Vec::new();
    out.extend(unstable_section(report));
    out.extend(culprits_section(report));
    out.extend(alpha_edge_section(report));
    out
}

/// Largest share of squared error of a record's folds, with its fold.
fn worst_fold(r: &ResultRecord) -> Option<&FoldDiagnostic> {
    r.fold_diagnostics
        .iter()
        .filter(|d| d.worst_share.is_some())
        .max_by(|a, b| a.worst_share.partial_cmp(&b.worst_share).expect("finite"))
}

/// "Unstable records": one row per unstable record, with its R² per fold
/// and the structure that weighs most on its worst fold.
fn unstable_section(report: &Report) -> Option<Section> {
    let unstable: Vec<&ResultRecord> = report.results.iter().filter(|r| r.unstable).collect();
    if unstable.is_empty() {
        return None;
    }
    let rows = unstable.iter().map(|r| unstable_row(r)).collect();
    Some((
        "Unstable records".to_string(),
        format!(
            "{} of {} records are unstable: {}. Their mean R² is decided by a few \
             structures, not by the representation; read the median and the interval. \
             The default scaling (--scale robust: one scale shared by every column, the \
             MLP's held-out features clipped to the training fold's range) keeps a rare \
             element's sparse columns from deciding a fold. Scale: {}.",
            unstable.len(),
            report.results.len(),
            report.instability.rule,
            report.settings.scale.name(),
        ),
        Table {
            columns: vec![
                col("model", false),
                col("layer", false),
                col("target", false),
                col("representation", false),
                col("probe", false),
                col("R² mean", true),
                col("R² median", true),
                col("R² per fold", false),
                col("worst structure", false),
                col("its fold", true),
                col("its share of squared error", true),
            ],
            rows,
        },
    ))
}

/// A row of "Unstable records".
fn unstable_row(r: &ResultRecord) -> Vec<String> {
    let w = worst_fold(r);
    vec![
        r.model.clone(),
        layer_label(&r.layer, r.channels.as_deref()),
        r.target.clone(),
        r.representation.clone(),
        r.probe.clone(),
        r2(r.r2_mean),
        r2(r.r2_median),
        r.r2_folds
            .iter()
            .map(|&v| num(v))
            .collect::<Vec<_>>()
            .join(", "),
        w.and_then(|d| d.worst_id.clone()).unwrap_or_default(),
        w.map(|d| d.fold.to_string()).unwrap_or_default(),
        w.and_then(|d| d.worst_share)
            .map(|s| format!("{:.0} %", 100.0 * s))
            .unwrap_or_default(),
    ]
}

/// "Structures that decide a fold": one row per culprit structure.
fn culprits_section(report: &Report) -> Option<Section> {
    let culprits = &report.instability.culprits;
    if culprits.is_empty() {
        return None;
    }
    let rows = culprits
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.formula.clone().unwrap_or_default(),
                c.fold.to_string(),
                c.records.len().to_string(),
                format!("{:.0} %", 100.0 * c.max_share),
                c.max_z
                    .map(|z| format!("{z:.1}"))
                    .unwrap_or_else(|| "—".into()),
                c.records
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
                    + if c.records.len() > 3 { ", …" } else { "" },
            ]
        })
        .collect();
    Some((
        "Structures that decide a fold".to_string(),
        "Each decides its held-out fold in the records listed: it carries more than half of the \
         fold's squared error and more than 0.1 of its R², or the fold's R² lies more than 0.5 \
         below the median and it alone costs more than 0.1 of it; |z| is its largest standardised value against the training fold when it is \
         the fold's largest extrapolation (— when another structure is). predictions.csv \
         (--predictions) has every out-of-fold prediction."
            .to_string(),
        Table {
            columns: vec![
                col("id", false),
                col("formula", false),
                col("fold", true),
                col("records", true),
                col("max share", true),
                col("max |z|", true),
                col("records (first 3)", false),
            ],
            rows,
        },
    ))
}

/// "Ridge alpha at the edge of the grid": one row per such ridge record,
/// with the alpha each fold chose.
fn alpha_edge_section(report: &Report) -> Option<Section> {
    if report.instability.alpha_at_edge.is_empty() {
        return None;
    }
    let rows = report
        .results
        .iter()
        .filter(|r| r.alpha_at_edge == Some(true))
        .map(|r| {
            vec![
                r.key(),
                r.alphas
                    .iter()
                    .flatten()
                    .map(|a| format!("{a}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let grid = &report.settings.ridge.alphas;
    Some((
        "Ridge alpha at the edge of the grid".to_string(),
        format!(
            "On some training fold these ridge records chose the smallest ({}) or largest ({}) \
             alpha of the grid: the grid, not the data, set the penalty. Widen it with \
             --alphas.",
            grid.first().copied().unwrap_or(f64::NAN),
            grid.last().copied().unwrap_or(f64::NAN)
        ),
        Table {
            columns: vec![col("record", false), col("alpha per fold", false)],
            rows,
        },
    ))
}
