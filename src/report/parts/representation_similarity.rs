//! Representation similarity: linear CKA between every pair of layers, on
//! the raw embeddings and on the composition residuals — a section and a
//! heatmap per representation, and `similarity.csv`.

use super::Part;
use crate::error::Result;
use crate::report::cells::{col, csv_file, fixed, opt, ReportFile};
use crate::report::figures::{figure, heatmap};
use crate::report::grid::{Section, Table};
use crate::report::plot::Figure;
use crate::report::svg::sequential;
use crate::report::Report;

/// The similarity sections, `similarity.csv` and the CKA heatmaps.
pub(super) const PART: Part = Part {
    sections,
    csv,
    figures: similarity_heatmaps,
};

/// Linear CKA, one row per pair of layers and representation.
const SIMILARITY_CSV: &str = "similarity.csv";

/// "Representation similarity" on raw, then on geom, each when the report
/// has records of it.
fn sections(report: &Report) -> Vec<Section> {
    let layers = similarity_layers(report);
    ["raw", "geom"]
        .into_iter()
        .filter_map(|rep| similarity_section(report, &layers, rep))
        .collect()
}

/// Model/layer labels of the similarity records, in run order.
fn similarity_layers(report: &Report) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in &report.similarity {
        for k in [
            (r.model_a.clone(), r.layer_a.clone()),
            (r.model_b.clone(), r.layer_b.clone()),
        ] {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

/// CKA of two layers on one representation (the records hold one triangle).
fn cka_of(report: &Report, rep: &str, a: &(String, String), b: &(String, String)) -> Option<f64> {
    report
        .similarity
        .iter()
        .find(|r| {
            r.representation == rep
                && ((r.model_a == a.0 && r.layer_a == a.1 && r.model_b == b.0 && r.layer_b == b.1)
                    || (r.model_a == b.0
                        && r.layer_a == b.1
                        && r.model_b == a.0
                        && r.layer_b == a.1))
        })
        .and_then(|r| r.cka)
}

/// "Representation similarity" on one representation (`raw` or `geom`): the
/// CKA matrix of `layers`, when the report has records of it.
fn similarity_section(report: &Report, layers: &[(String, String)], rep: &str) -> Option<Section> {
    if !report.similarity.iter().any(|r| r.representation == rep) {
        return None;
    }
    let label = |k: &(String, String)| format!("{}/{}", k.0, k.1);
    let mut columns = vec![col("layer", false)];
    columns.extend(layers.iter().map(|k| col(&label(k), true)));
    let rows = layers
        .iter()
        .map(|a| {
            let mut row = vec![label(a)];
            row.extend(layers.iter().map(|b| fixed(cka_of(report, rep, a, b), 3)));
            row
        })
        .collect();
    Some((
        format!("Representation similarity (linear CKA, {rep})"),
        format!(
            "Linear CKA (Kornblith et al. 2019) between every pair of layers on {}: \
             ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) on centred rows; 1 for identical representations \
             up to rotation and scale.",
            if rep == "raw" {
                "the raw embeddings"
            } else {
                "the composition residuals"
            }
        ),
        Table { columns, rows },
    ))
}

/// `similarity.csv`: one row per pair of layers and representation.
fn csv(report: &Report) -> Result<Vec<ReportFile>> {
    if report.similarity.is_empty() {
        return Ok(Vec::new());
    }
    let rows = report
        .similarity
        .iter()
        .map(|r| {
            vec![
                r.representation.clone(),
                r.model_a.clone(),
                r.layer_a.clone(),
                r.model_b.clone(),
                r.layer_b.clone(),
                opt(r.cka),
            ]
        })
        .collect();
    let header = [
        "representation",
        "model_a",
        "layer_a",
        "model_b",
        "layer_b",
        "cka",
    ];
    Ok(vec![csv_file(SIMILARITY_CSV, &header, rows)?])
}

/// Linear CKA between every pair of layers, one heatmap per representation.
fn similarity_heatmaps(report: &Report) -> Vec<Figure> {
    let layers = similarity_layers(report);
    let labels: Vec<String> = layers.iter().map(|(m, l)| format!("{m}/{l}")).collect();
    ["raw", "geom"]
        .into_iter()
        .filter(|rep| report.similarity.iter().any(|r| r.representation == *rep))
        .map(|rep| {
            let value = |i: usize, j: usize| cka_of(report, rep, &layers[i], &layers[j]);
            let title = format!("Representation similarity · linear CKA · {rep}");
            let svg = heatmap(
                &title,
                &labels,
                &labels,
                &value,
                &|v| sequential(v),
                "colour: CKA from 0 (white) to 1 (dark blue)",
                (52.0, 30.0),
            );
            figure(format!("similarity_{rep}.svg"), title, svg)
        })
        .collect()
}
