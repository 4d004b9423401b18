//! The analyses' report sections — compositional controls, channel routing,
//! learning curves and profiles — as Markdown (for `report.md` and, through
//! the shared [`Table`], `report.html`) and as tidy CSV files.

use std::fmt::Write;

use super::table::{markdown_table, Column, Table};
use super::Report;
use crate::error::{CpdError, Result};

/// `controls.csv`.
pub const CONTROLS_CSV: &str = "controls.csv";
/// `channels.csv`.
pub const CHANNELS_CSV: &str = "channels.csv";
/// `learning_curve.csv`.
pub const CURVE_CSV: &str = "learning_curve.csv";
/// `profiles.csv`.
pub const PROFILES_CSV: &str = "profiles.csv";

/// What an inflation flag means, for reports.
pub const INFLATION_NOTE: &str = "a probe whose R²_geom on a control is high reads nonlinear composition signal out of the composition-free residual, so its R²_geom on real targets overstates geometric information (R²_geom flag); its R²_cond, what the residual adds to composition, should stay near 0 on every control (R²_cond flag: inflated).";

fn col(name: &str, numeric: bool) -> Column {
    Column {
        name: name.to_owned(),
        numeric,
        code: false,
    }
}

/// Three decimals, or scientific notation beyond ±10⁴ (a linear probe on
/// a few hundred rows of a sparse embedding can reach R² of −10⁴⁹).
fn num(v: f64) -> String {
    if v.abs() >= 1e4 {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

fn r2(v: Option<f64>) -> String {
    v.map_or("—".into(), num)
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Sections present in this report, each as (title, lead text, table).
pub(super) fn sections(report: &Report) -> Vec<(String, String, Table)> {
    let mut out: Vec<(String, String, Table)> = Vec::new();
    if !report.inflation.is_empty() {
        let threshold = report.inflation[0].threshold;
        let rows = report
            .inflation
            .iter()
            .map(|r| {
                vec![
                    r.model.clone(),
                    match &r.channels {
                        Some(g) => format!("{}[{g}]", r.layer),
                        None => r.layer.clone(),
                    },
                    r.probe.clone(),
                    r.control.clone(),
                    if r.linear { "linear" } else { "nonlinear" }.into(),
                    r2(r.r2_geom),
                    r2(r.r2_cond),
                    if r.inflated {
                        "INFLATED"
                    } else if r.geom_inflated {
                        "R²_geom misleads"
                    } else {
                        "ok"
                    }
                    .into(),
                ]
            })
            .collect();
        out.push((
            "Compositional controls".to_string(),
            format!(
                "Targets computed from composition alone, probed on the residual; threshold \
                 {threshold}: {INFLATION_NOTE}"
            ),
            Table {
                columns: vec![
                    col("model", false),
                    col("layer", false),
                    col("probe", false),
                    col("control", false),
                    col("kind", false),
                    col("R² geom", true),
                    col("R² cond", true),
                    col("verdict", false),
                ],
                rows,
            },
        ));
    }
    if !report.channel_routing.is_empty() {
        let mut targets: Vec<&str> = Vec::new();
        let mut keys: Vec<(&str, &str, &str, &str)> = Vec::new();
        for r in &report.channel_routing {
            if !targets.contains(&r.target.as_str()) {
                targets.push(&r.target);
            }
            let k = (
                r.model.as_str(),
                r.layer.as_str(),
                r.group.as_str(),
                r.probe.as_str(),
            );
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let rows = keys
            .iter()
            .map(|&(m, l, g, p)| {
                let mut row = vec![m.to_string(), l.to_string(), g.to_string(), p.to_string()];
                row.extend(targets.iter().map(|&t| {
                    r2(report
                        .channel_routing
                        .iter()
                        .find(|r| {
                            (
                                r.model.as_str(),
                                r.layer.as_str(),
                                r.group.as_str(),
                                r.probe.as_str(),
                            ) == (m, l, g, p)
                                && r.target == t
                        })
                        .and_then(|r| r.r2_geom))
                }));
                row
            })
            .collect();
        let mut columns = vec![
            col("model", false),
            col("layer", false),
            col("group", false),
            col("probe", false),
        ];
        columns.extend(targets.iter().map(|t| col(t, true)));
        out.push((
            "Channel routing (R² geom per channel group)".to_string(),
            "Each channel group probed on its own after CPD (for L > 0 irreps with \
             --invariants norms, one norm per copy): where each target's signal lives."
                .to_string(),
            Table { columns, rows },
        ));
    }
    if !report.learning_curves.is_empty() {
        let rows = report
            .learning_curves
            .iter()
            .map(|c| {
                vec![
                    c.model.clone(),
                    c.layer.clone(),
                    c.target.clone(),
                    c.representation.clone(),
                    c.probe.clone(),
                    c.n_train.to_string(),
                    match (c.r2_mean, c.r2_std) {
                        (Some(m), Some(s)) => format!("{} ± {}", num(m), num(s)),
                        _ => "—".into(),
                    },
                ]
            })
            .collect();
        let repeats = report.learning_curves[0].repeats;
        out.push((
            "Learning curves".to_string(),
            format!(
                "R² on the held-out fold of a probe fitted on n_train rows drawn from the \
                 training fold; mean ± std over folds × {repeats} subsamples."
            ),
            Table {
                columns: vec![
                    col("model", false),
                    col("layer", false),
                    col("target", false),
                    col("representation", false),
                    col("probe", false),
                    col("n_train", true),
                    col("R²", true),
                ],
                rows,
            },
        ));
    }
    if let Some(p) = &report.profiles {
        let rows = p
            .ranking
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let picks = |v: &[super::LayerPick]| {
                    v.iter()
                        .map(|l| format!("{}: {} ({:.3})", l.target, l.layer, l.value))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let interval = |v: f64, ci: Option<[f64; 2]>| match ci {
                    Some([lo, hi]) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
                    None => format!("{v:.3}"),
                };
                vec![
                    if m.signal {
                        (i + 1).to_string()
                    } else {
                        "—".into()
                    },
                    m.model.clone(),
                    if m.score.is_finite() {
                        interval(m.score, m.score_ci)
                    } else {
                        "—".into()
                    },
                    if m.signal {
                        "yes"
                    } else {
                        "no geometric signal"
                    }
                    .into(),
                    m.nonlinear_excess
                        .map_or("—".into(), |e| interval(e, m.nonlinear_excess_ci)),
                    picks(&m.best_layer),
                    if m.most_nonlinear_layer.is_empty() {
                        "— (no mlp)".into()
                    } else {
                        picks(&m.most_nonlinear_layer)
                    },
                ]
            })
            .collect();
        out.push((
            "Layer and model profiles".to_string(),
            format!(
                "Models ranked by the {} (probes: {}); a model whose score's interval does not clear 0.001 \
                 has no geometric signal and is not ranked. Nonlinear excess: the same layers' \
                 R²_cond,mlp − R²_cond,ridge, beside the score. Best layer: highest ridge \
                 R²_cond per target; most nonlinear layer: largest nonlinear excess.",
                p.score,
                p.probes.join(", ")
            ),
            Table {
                columns: vec![
                    col("rank", true),
                    col("model", false),
                    col("score", true),
                    col("signal", false),
                    col("nonlinear excess", true),
                    col("best layer per target (R² cond)", false),
                    col("most nonlinear layer per target (excess)", false),
                ],
                rows,
            },
        ));
    }
    out.extend(super::sections::sections(report));
    out.extend(
        instability_sections(report)
            .into_iter()
            .map(|(t, l, tb)| (t.to_string(), l, tb)),
    );
    out
}

/// Largest share of squared error of a record's folds, with its fold.
fn worst_fold(r: &super::ResultRecord) -> Option<&super::FoldDiagnostic> {
    r.fold_diagnostics
        .iter()
        .filter(|d| d.worst_share.is_some())
        .max_by(|a, b| a.worst_share.partial_cmp(&b.worst_share).expect("finite"))
}

/// The instability sections: the unstable records, and the structures that
/// decide their folds.
fn instability_sections(report: &Report) -> Vec<(&'static str, String, Table)> {
    let ins = &report.instability;
    let mut out = Vec::new();
    let unstable: Vec<&super::ResultRecord> =
        report.results.iter().filter(|r| r.unstable).collect();
    if !unstable.is_empty() {
        let rows = unstable
            .iter()
            .map(|r| {
                let w = worst_fold(r);
                vec![
                    r.model.clone(),
                    match &r.channels {
                        Some(g) => format!("{}[{g}]", r.layer),
                        None => r.layer.clone(),
                    },
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
            })
            .collect();
        out.push((
            "Unstable records",
            format!(
                "{} of {} records are unstable: {}. Their mean R² is decided by a few \
                 structures, not by the representation; read the median and the interval. \
                 The default scaling (--scale robust: one scale shared by every column, the \
                 MLP's held-out features clipped to the training fold's range) keeps a rare \
                 element's sparse columns from deciding a fold. Scale: {}.",
                unstable.len(),
                report.results.len(),
                ins.rule,
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
        ));
    }
    if !ins.culprits.is_empty() {
        let rows = ins
            .culprits
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
        out.push((
            "Structures that decide a fold",
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
        ));
    }
    if !ins.alpha_at_edge.is_empty() {
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
        out.push((
            "Ridge alpha at the edge of the grid",
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
        ));
    }
    out
}

/// The sections as Markdown.
pub fn markdown(report: &Report) -> String {
    let mut md = String::new();
    for (title, lead, table) in sections(report) {
        let _ = writeln!(md, "\n## {title}\n\n{lead}\n");
        markdown_table(&mut md, &table);
    }
    md
}

fn csv_bytes(name: &str, header: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let err = |e: csv::Error| CpdError::format(name, e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| CpdError::format(name, e.to_string()))
}

/// The analyses' CSV files present in this report: (file name, bytes).
pub fn csv_files(report: &Report) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if !report.inflation.is_empty() {
        let rows = report
            .inflation
            .iter()
            .map(|r| {
                vec![
                    r.model.clone(),
                    r.layer.clone(),
                    r.channels.clone().unwrap_or_default(),
                    r.probe.clone(),
                    r.control.clone(),
                    r.linear.to_string(),
                    opt(r.r2_geom),
                    r.threshold.to_string(),
                    r.inflated.to_string(),
                    opt(r.r2_cond),
                    r.geom_inflated.to_string(),
                ]
            })
            .collect();
        out.push((
            CONTROLS_CSV.into(),
            csv_bytes(
                CONTROLS_CSV,
                &[
                    "model",
                    "layer",
                    "channels",
                    "probe",
                    "control",
                    "linear",
                    "r2_geom",
                    "threshold",
                    "inflated",
                    "r2_cond",
                    "geom_inflated",
                ],
                rows,
            )?,
        ));
    }
    if !report.channel_routing.is_empty() {
        let rows = report
            .channel_routing
            .iter()
            .map(|r| {
                vec![
                    r.model.clone(),
                    r.layer.clone(),
                    r.group.clone(),
                    r.target.clone(),
                    r.probe.clone(),
                    opt(r.r2_geom),
                ]
            })
            .collect();
        out.push((
            CHANNELS_CSV.into(),
            csv_bytes(
                CHANNELS_CSV,
                &["model", "layer", "group", "target", "probe", "r2_geom"],
                rows,
            )?,
        ));
    }
    if !report.learning_curves.is_empty() {
        let rows = report
            .learning_curves
            .iter()
            .map(|c| {
                vec![
                    c.model.clone(),
                    c.layer.clone(),
                    c.target.clone(),
                    c.representation.clone(),
                    c.probe.clone(),
                    c.n_train.to_string(),
                    c.repeats.to_string(),
                    opt(c.r2_mean),
                    opt(c.r2_std),
                ]
            })
            .collect();
        out.push((
            CURVE_CSV.into(),
            csv_bytes(
                CURVE_CSV,
                &[
                    "model",
                    "layer",
                    "target",
                    "representation",
                    "probe",
                    "n_train",
                    "repeats",
                    "r2_mean",
                    "r2_std",
                ],
                rows,
            )?,
        ));
    }
    out.extend(super::sections::csv_files(report)?);
    if let Some(p) = &report.profiles {
        let mut rows = Vec::new();
        for (i, m) in p.ranking.iter().enumerate() {
            for (kind, picks) in [
                ("best_layer", &m.best_layer),
                ("most_nonlinear_layer", &m.most_nonlinear_layer),
            ] {
                for l in picks {
                    rows.push(vec![
                        (i + 1).to_string(),
                        m.model.clone(),
                        opt(Some(m.score).filter(|s| s.is_finite())),
                        kind.into(),
                        l.target.clone(),
                        l.layer.clone(),
                        l.value.to_string(),
                    ]);
                }
            }
        }
        out.push((
            PROFILES_CSV.into(),
            csv_bytes(
                PROFILES_CSV,
                &["rank", "model", "score", "kind", "target", "layer", "value"],
                rows,
            )?,
        ));
    }
    Ok(out)
}
