//! The compositional controls: targets computed from composition alone,
//! probed on the residual, each with its inflation verdict — their section
//! and `controls.csv`.

use super::{no_figures, Part};
use crate::error::Result;
use crate::report::cells::{col, csv_file, layer_label, opt, r2, ReportFile};
use crate::report::grid::{Section, Table};
use crate::report::Report;

/// The controls' section and `controls.csv`; no figure (the R² bars of the
/// `ctrl_*` targets are drawn with the others).
pub(super) const PART: Part = Part {
    sections: |report| section(report).into_iter().collect(),
    csv,
    figures: no_figures,
};

/// `controls.csv`.
const CONTROLS_CSV: &str = "controls.csv";

/// What an inflation flag means, for reports.
const INFLATION_NOTE: &str = "a probe whose R²_geom on a control is high reads nonlinear composition signal out of the composition-free residual, so its R²_geom on real targets overstates geometric information (R²_geom flag); its R²_cond, what the residual adds to composition, should stay near 0 on every control (R²_cond flag: inflated).";

/// "Compositional controls": one row per control record, with its verdict.
fn section(report: &Report) -> Option<Section> {
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

/// `controls.csv`: one row per control record.
fn csv(report: &Report) -> Result<Vec<ReportFile>> {
    if report.inflation.is_empty() {
        return Ok(Vec::new());
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
    Ok(vec![csv_file(CONTROLS_CSV, &header, rows)?])
}
