//! The tables of the paper's analyses — compositional controls, channel
//! routing, learning curves and model profiles — as report sections
//! (Markdown for `report.md` and, through the shared [`Table`],
//! `report.html`) and as tidy CSV files. [`sections`] and [`csv_files`] also
//! add those of [`super::sections`] (isomers, layer statistics, similarity)
//! and [`super::instability_tables`], in the reports' order.

use std::fmt::Write;

use super::cells::{col, csv_file, layer_label, num, opt, r2};
use super::grid::{markdown_table, Section, Table};
use super::{LayerPick, Report};
use crate::error::Result;

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

/// Sections present in this report, each as (title, lead text, table):
/// controls, channel routing, learning curves, profiles, then those of
/// [`super::sections`] and [`super::instability_tables`].
pub(super) fn sections(report: &Report) -> Vec<Section> {
    let mut out = Vec::new();
    out.extend(controls_section(report));
    out.extend(channel_routing_section(report));
    out.extend(learning_curve_section(report));
    out.extend(profiles_section(report));
    out.extend(super::sections::sections(report));
    out.extend(super::instability_tables::sections(report));
    out
}

/// "Compositional controls": one row per control record, with its verdict.
fn controls_section(report: &Report) -> Option<Section> {
    let threshold = report.inflation.first()?.threshold;
    let rows = report
        .inflation
        .iter()
        .map(|r| {
            vec![
                r.model.clone(),
                layer_label(&r.layer, r.channels.as_deref()),
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
    Some((
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
    ))
}

/// "Channel routing": one row per model/layer/group/probe, one R² geom
/// column per target, both in run order.
fn channel_routing_section(report: &Report) -> Option<Section> {
    if report.channel_routing.is_empty() {
        return None;
    }
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
    let r2_geom = |k: (&str, &str, &str, &str), t: &str| {
        report
            .channel_routing
            .iter()
            .find(|r| {
                (
                    r.model.as_str(),
                    r.layer.as_str(),
                    r.group.as_str(),
                    r.probe.as_str(),
                ) == k
                    && r.target == t
            })
            .and_then(|r| r.r2_geom)
    };
    let rows = keys
        .iter()
        .map(|&k| {
            let (m, l, g, p) = k;
            let mut row = vec![m.to_string(), l.to_string(), g.to_string(), p.to_string()];
            row.extend(targets.iter().map(|&t| r2(r2_geom(k, t))));
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
    Some((
        "Channel routing (R² geom per channel group)".to_string(),
        "Each channel group probed on its own after CPD (for L > 0 irreps with \
         --invariants norms, one norm per copy): where each target's signal lives."
            .to_string(),
        Table { columns, rows },
    ))
}

/// "Learning curves": one row per curve point, R² as mean ± std.
fn learning_curve_section(report: &Report) -> Option<Section> {
    let repeats = report.learning_curves.first()?.repeats;
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
    Some((
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
    ))
}

/// "Layer and model profiles": one row per model, in ranking order.
fn profiles_section(report: &Report) -> Option<Section> {
    let p = report.profiles.as_ref()?;
    let rows = p
        .ranking
        .iter()
        .enumerate()
        .map(|(i, m)| {
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
    Some((
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
    ))
}

/// Layer picks as `target: layer (value)`, joined by "; ".
fn picks(v: &[LayerPick]) -> String {
    v.iter()
        .map(|l| format!("{}: {} ({:.3})", l.target, l.layer, l.value))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A value with its interval, `v [lo, hi]`, three decimals each.
fn interval(v: f64, ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
        None => format!("{v:.3}"),
    }
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

/// The analyses' CSV files present in this report: (file name, bytes) —
/// controls, channels, learning curve, those of [`super::sections`], then
/// profiles.
pub fn csv_files(report: &Report) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    out.extend(controls_csv(report)?);
    out.extend(channels_csv(report)?);
    out.extend(curve_csv(report)?);
    out.extend(super::sections::csv_files(report)?);
    out.extend(profiles_csv(report)?);
    Ok(out)
}

/// `controls.csv`: one row per control record.
fn controls_csv(report: &Report) -> Result<Option<(String, Vec<u8>)>> {
    if report.inflation.is_empty() {
        return Ok(None);
    }
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
    let header = [
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
    ];
    csv_file(CONTROLS_CSV, &header, rows).map(Some)
}

/// `channels.csv`: one row per channel-routing record.
fn channels_csv(report: &Report) -> Result<Option<(String, Vec<u8>)>> {
    if report.channel_routing.is_empty() {
        return Ok(None);
    }
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
    let header = ["model", "layer", "group", "target", "probe", "r2_geom"];
    csv_file(CHANNELS_CSV, &header, rows).map(Some)
}

/// `learning_curve.csv`: one row per curve point.
fn curve_csv(report: &Report) -> Result<Option<(String, Vec<u8>)>> {
    if report.learning_curves.is_empty() {
        return Ok(None);
    }
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
    let header = [
        "model",
        "layer",
        "target",
        "representation",
        "probe",
        "n_train",
        "repeats",
        "r2_mean",
        "r2_std",
    ];
    csv_file(CURVE_CSV, &header, rows).map(Some)
}

/// `profiles.csv`: one row per model and layer pick (best layer, then most
/// nonlinear layer, per target).
fn profiles_csv(report: &Report) -> Result<Option<(String, Vec<u8>)>> {
    let Some(p) = &report.profiles else {
        return Ok(None);
    };
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
    let header = ["rank", "model", "score", "kind", "target", "layer", "value"];
    csv_file(PROFILES_CSV, &header, rows).map(Some)
}
