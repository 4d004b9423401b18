//! Report sections of the isomer test, the layer statistics and the
//! representation similarity (tables for `report.md` / `report.html`, and
//! their CSV files), and the verdict that opens the reports.

use std::fmt::Write;

use super::cells::{col, csv_file, fixed, opt};
use super::grid::{Section, Table};
use super::Report;
use crate::error::Result;

/// Layer statistics, one row per whole layer.
pub const LAYER_STATS_CSV: &str = "layer_stats.csv";
/// Linear CKA, one row per pair of layers and representation.
pub const SIMILARITY_CSV: &str = "similarity.csv";

/// The verdict as a Markdown list under its heading.
pub fn verdict_markdown(report: &Report) -> String {
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

/// Model/layer labels of the similarity records, in run order.
pub(super) fn similarity_layers(report: &Report) -> Vec<(String, String)> {
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
pub(super) fn cka_of(
    report: &Report,
    rep: &str,
    a: &(String, String),
    b: &(String, String),
) -> Option<f64> {
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

/// Sections present in this report, each as (title, lead text, table):
/// isomer accuracy per target, layer statistics, then representation
/// similarity on raw and on geom.
pub(super) fn sections(report: &Report) -> Vec<Section> {
    let mut out = Vec::new();
    for t in &report.settings.targets {
        out.extend(isomer_section(report, t));
    }
    out.extend(layer_stats_section(report));
    let layers = similarity_layers(report);
    for rep in ["raw", "geom"] {
        out.extend(similarity_section(report, &layers, rep));
    }
    out
}

/// "Isomer pairwise accuracy" of one target, when it has scored pairs.
fn isomer_section(report: &Report, target: &str) -> Option<Section> {
    let rows = isomer_rows(report, target);
    if rows.is_empty() {
        return None;
    }
    Some((
        format!("Isomer pairwise accuracy · {target}"),
        "Pairs of structures with identical composition held out in the same fold, with \
         different targets: the fraction whose out-of-fold predictions are in the same order \
         as the targets (a tie counts ½). Composition alone cannot tell isomers apart, so it \
         scores 0.5; a representation that holds geometry orders them."
            .to_string(),
        Table {
            columns: vec![
                col("model", false),
                col("layer", false),
                col("probe", false),
                col("comp", true),
                col("raw", true),
                col("geom", true),
                col("pairs", true),
            ],
            rows,
        },
    ))
}

/// "Layer statistics": one row per whole layer.
fn layer_stats_section(report: &Report) -> Option<Section> {
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

/// Rows of the isomer table of one target: per model/layer/probe, the
/// accuracy of comp, raw and geom and the pairs scored.
fn isomer_rows(report: &Report, target: &str) -> Vec<Vec<String>> {
    let mut keys: Vec<(&str, &str, &str)> = Vec::new();
    for r in report
        .results
        .iter()
        .filter(|r| r.target == target && r.channels.is_none() && r.isomer_pairs > 0)
    {
        let k = (r.model.as_str(), r.layer.as_str(), r.probe.as_str());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|(m, l, p)| {
            let find = |rep: &str| {
                report.results.iter().find(|r| {
                    r.target == target
                        && r.channels.is_none()
                        && r.model == m
                        && r.layer == l
                        && r.probe == p
                        && r.representation == rep
                })
            };
            let acc = |rep: &str| fixed(find(rep).and_then(|r| r.isomer_accuracy), 3);
            vec![
                m.to_string(),
                l.to_string(),
                p.to_string(),
                acc("composition"),
                acc("raw"),
                acc("geom"),
                find("geom").map_or(0, |r| r.isomer_pairs).to_string(),
            ]
        })
        .collect()
}

/// The CSV files of these sections present in this report: layer
/// statistics, then similarity.
pub fn csv_files(report: &Report) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    out.extend(layer_stats_csv(report)?);
    out.extend(similarity_csv(report)?);
    Ok(out)
}

/// `layer_stats.csv`: one row per whole layer.
fn layer_stats_csv(report: &Report) -> Result<Option<(String, Vec<u8>)>> {
    if report.layer_stats.is_empty() {
        return Ok(None);
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
    csv_file(LAYER_STATS_CSV, &header, rows).map(Some)
}

/// `similarity.csv`: one row per pair of layers and representation.
fn similarity_csv(report: &Report) -> Result<Option<(String, Vec<u8>)>> {
    if report.similarity.is_empty() {
        return Ok(None);
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
    csv_file(SIMILARITY_CSV, &header, rows).map(Some)
}
