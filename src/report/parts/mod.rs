//! The paper's analyses as the report files show them. Each analysis is a
//! [`Part`] in its own file here — its sections of `report.md` and
//! `report.html`, its CSV files and its figures, each read from the
//! [`Report`] — and [`PARTS`] lists them in report order. Every writer
//! iterates [`PARTS`]: `report.md` ([`super::markdown::report_markdown`])
//! and `report.html` ([`super::html::report_html`]) for the sections, after
//! the results table; [`super::write::write_outputs`] for the CSV files;
//! [`super::figures::figures`] for the figures, after the R² bars.
//!
//! A new analysis is its file here plus one line in [`PARTS`] (plus its data
//! in the report schema, `src/report/mod.rs`, and its computation under
//! `src/analyses/`). The shared pieces stay shared: table cells and CSV
//! bytes in `cells.rs`, tables and sections in `grid.rs`, drawing helpers
//! (axes, ticks, heatmaps, label placement) in `figures.rs` and `svg.rs`.

use super::cells::ReportFile;
use super::grid::Section;
use super::plot::Figure;
use super::Report;
use crate::error::Result;

mod channel_routing;
mod compositional_controls;
mod fold_instability;
mod isomer_accuracy;
mod layer_statistics;
mod learning_curves;
mod model_profiles;
mod nonlinear_gap;
mod representation_comparison;
mod representation_similarity;

/// What one analysis shows in the report files, each read from the report.
pub(super) struct Part {
    /// Its sections of `report.md` and `report.html`, in order; none when
    /// the report has no data for it.
    pub sections: fn(&Report) -> Vec<Section>,
    /// Its CSV files present in this report, as (file name, bytes).
    pub csv: fn(&Report) -> Result<Vec<ReportFile>>,
    /// Its figures the report has data for.
    pub figures: fn(&Report) -> Vec<Figure>,
}

/// The analyses in report order: their sections follow one another in
/// this order, and so do their figures.
pub(super) const PARTS: &[Part] = &[
    nonlinear_gap::PART,
    compositional_controls::PART,
    channel_routing::PART,
    learning_curves::PART,
    model_profiles::PART,
    isomer_accuracy::PART,
    layer_statistics::PART,
    representation_similarity::PART,
    representation_comparison::PART,
    fold_instability::PART,
];

/// Every part's sections present in this report, in [`PARTS`] order.
pub(super) fn sections(report: &Report) -> Vec<Section> {
    PARTS.iter().flat_map(|p| (p.sections)(report)).collect()
}

/// Every part's CSV files present in this report: (file name, bytes).
pub(super) fn csv_files(report: &Report) -> Result<Vec<ReportFile>> {
    let mut out = Vec::new();
    for p in PARTS {
        out.extend((p.csv)(report)?);
    }
    Ok(out)
}

/// Every part's figures, in [`PARTS`] order.
pub(super) fn figures(report: &Report) -> Vec<Figure> {
    PARTS.iter().flat_map(|p| (p.figures)(report)).collect()
}

/// The CSV files of a part that writes none.
fn no_csv(_: &Report) -> Result<Vec<ReportFile>> {
    Ok(Vec::new())
}

/// The figures of a part that draws none.
fn no_figures(_: &Report) -> Vec<Figure> {
    Vec::new()
}
