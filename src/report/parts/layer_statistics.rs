//! Layer statistics: per whole layer, the share of its variance that is
//! linear in composition and its effective dimension, raw and on the
//! residual — their section and `layer_stats.csv`.

use super::{no_figures, Part};
use crate::error::Result;
use crate::report::cells::{col, csv_file, fixed, opt, ReportFile};
use crate::report::grid::{Section, Table};
use crate::report::Report;

/// The statistics' section and `layer_stats.csv`.
pub(super) const PART: Part = Part {
    sections: |report| section(report).into_iter().collect(),
    csv,
    figures: no_figures,
};

/// Layer statistics, one row per whole layer.
const LAYER_STATS_CSV: &str = "layer_stats.csv";

/// "Layer statistics": one row per whole layer.
fn section(report: &Report) -> Option<Section> {
    if report.layer_stats.is_empty() {
        return None;
    }
    let rows = report
        .layer_stats
        .iter()
        .map(|s| {
            vec![
                s.model.clone(),
                s.layer.clone(),
                s.dim.to_string(),
                fixed(s.composition_share, 3),
                fixed(s.effective_dim_raw, 2),
                fixed(s.effective_dim_geom, 2),
            ]
        })
        .collect();
    Some((
        "Layer statistics".to_string(),
        "Composition share: 1 − ‖H_geom‖²/‖H − mean‖², the share of the layer's centred \
         variance that is linear in composition. Effective dimension: participation ratio \
         (Σλ)²/Σλ² of the covariance spectrum, of the raw layer and of its residual."
            .to_string(),
        Table {
            columns: vec![
                col("model", false),
                col("layer", false),
                col("dim", true),
                col("composition share", true),
                col("eff. dim raw", true),
                col("eff. dim geom", true),
            ],
            rows,
        },
    ))
}

/// `layer_stats.csv`: one row per whole layer.
fn csv(report: &Report) -> Result<Vec<ReportFile>> {
    if report.layer_stats.is_empty() {
        return Ok(Vec::new());
    }
    let rows = report
        .layer_stats
        .iter()
        .map(|s| {
            vec![
                s.model.clone(),
                s.layer.clone(),
                s.n.to_string(),
                s.dim.to_string(),
                opt(s.composition_share),
                opt(s.effective_dim_raw),
                opt(s.effective_dim_geom),
            ]
        })
        .collect();
    let header = [
        "model",
        "layer",
        "n",
        "dim",
        "composition_share",
        "effective_dim_raw",
        "effective_dim_geom",
    ];
    Ok(vec![csv_file(LAYER_STATS_CSV, &header, rows)?])
}
