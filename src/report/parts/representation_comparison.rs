//! Comparisons between layers (reconstruction errors, information
//! imbalance, unbiased CKA) on the raw embeddings and on the composition
//! residuals — a section per measure and representation, one heat map per
//! measure with raw beside geom (and one per channel-group label), and
//! `comparison.csv`.

use super::Part;
use crate::analyses::channels::group_key;
use crate::analyses::compare::Measure;
use crate::error::Result;
use crate::report::cells::{col, csv_file, fixed, opt, ReportFile};
use crate::report::figures::{figure, heatmap_panels, Panel};
use crate::report::grid::{Section, Table};
use crate::report::plot::Figure;
use crate::report::svg::sequential;
use crate::report::{ComparisonRecord, Report};

/// The comparison sections, `comparison.csv` and the heat maps.
pub(super) const PART: Part = Part {
    sections,
    csv,
    figures,
};

/// Every comparison record, one row each.
const COMPARISON_CSV: &str = "comparison.csv";

/// A compared unit: model, layer and channel group.
type Unit = (String, String, Option<String>);

fn from(r: &ComparisonRecord) -> Unit {
    (
        r.model_from.clone(),
        r.layer_from.clone(),
        r.channels_from.clone(),
    )
}

fn to(r: &ComparisonRecord) -> Unit {
    (
        r.model_to.clone(),
        r.layer_to.clone(),
        r.channels_to.clone(),
    )
}

fn label(u: &Unit) -> String {
    match &u.2 {
        Some(g) => format!("{}/{}[{g}]", u.0, u.1),
        None => format!("{}/{}", u.0, u.1),
    }
}

/// The measures of the report, in run order.
fn measures(report: &Report) -> Vec<Measure> {
    report
        .settings
        .compare
        .iter()
        .filter_map(|n| Measure::ALL.into_iter().find(|m| m.name() == n))
        .collect()
}

/// Units of `measure` in run order, grouped: whole layers (`None`), and
/// each channel-group label's units ([`group_key`]).
fn unit_groups(report: &Report, measure: Measure) -> Vec<(Option<String>, Vec<Unit>)> {
    let mut groups: Vec<(Option<String>, Vec<Unit>)> = Vec::new();
    for r in report
        .comparison
        .iter()
        .filter(|r| r.measure == measure.name())
    {
        let u = from(r);
        let key = u.2.as_deref().map(|g| group_key(g).to_owned());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => {
                if !list.contains(&u) {
                    list.push(u);
                }
            }
            None => groups.push((key, vec![u])),
        }
    }
    groups
}

fn value_of(report: &Report, m: Measure, rep: &str, a: &Unit, b: &Unit) -> Option<f64> {
    report
        .comparison
        .iter()
        .find(|r| r.measure == m.name() && r.representation == rep && from(r) == *a && to(r) == *b)
        .and_then(|r| r.value)
}

fn describe(m: Measure) -> &'static str {
    match m {
        Measure::Gfre => {
            "GFRE (row → column): held-out error of the best linear map from the row's layer to the column's, both scaled to unit total variance on the training folds (scikit-matter's global feature reconstruction error); 0: the row contains the column linearly, about 1: it explains none of it."
        }
        Measure::Gfrd => {
            "GFRD (row → column): held-out distance between that linear map's reconstruction and the best orthogonal one (scikit-matter's global feature reconstruction distortion); 0: the column is a rotation of the row."
        }
        Measure::Lfre => {
            "LFRE (row → column): held-out error of local linear maps fitted on each structure's 20 nearest training neighbours under the row's layer (scikit-matter's local feature reconstruction error)."
        }
        Measure::Imbalance => {
            "Information imbalance Δ(row → column) (DADApy): 2/n × the mean rank, under the column's distances, of each structure's nearest neighbour under the row's; 2/n: the row's neighbourhoods are the column's, about 1: unrelated."
        }
        Measure::CkaUnbiased => {
            "Unbiased linear CKA (the unbiased HSIC estimator of Song et al. 2012): symmetric, 1 for identical layers up to rotation and scale, about 0 (it can be negative) for unrelated ones."
        }
    }
}

fn sections(report: &Report) -> Vec<Section> {
    let mut out = Vec::new();
    for m in measures(report) {
        let Some((_, units)) = unit_groups(report, m)
            .into_iter()
            .find(|(k, _)| k.is_none())
        else {
            continue;
        };
        for rep in ["raw", "geom"] {
            if !report
                .comparison
                .iter()
                .any(|r| r.measure == m.name() && r.representation == rep)
            {
                continue;
            }
            let mut columns = vec![col("from \\ to", false)];
            columns.extend(units.iter().map(|u| col(&label(u), true)));
            let rows = units
                .iter()
                .map(|a| {
                    let mut row = vec![label(a)];
                    row.extend(
                        units
                            .iter()
                            .map(|b| fixed(value_of(report, m, rep, a, b), 3)),
                    );
                    row
                })
                .collect();
            let n = report.comparison.first().map_or(0, |r| r.n);
            out.push((
                format!("Layer comparison ({}, {rep})", m.name()),
                format!(
                    "{} On {}, {n} structures.",
                    describe(m),
                    if rep == "raw" {
                        "the raw embeddings"
                    } else {
                        "the composition residuals"
                    }
                ),
                Table { columns, rows },
            ));
        }
    }
    out
}

fn csv(report: &Report) -> Result<Vec<ReportFile>> {
    if report.comparison.is_empty() {
        return Ok(Vec::new());
    }
    let rows = report
        .comparison
        .iter()
        .map(|r| {
            vec![
                r.measure.clone(),
                r.representation.clone(),
                r.model_from.clone(),
                r.layer_from.clone(),
                r.channels_from.clone().unwrap_or_default(),
                r.model_to.clone(),
                r.layer_to.clone(),
                r.channels_to.clone().unwrap_or_default(),
                opt(r.value),
                opt(r.interval.map(|c| c[0])),
                opt(r.interval.map(|c| c[1])),
                r.folds
                    .iter()
                    .map(|v| format!("{v}"))
                    .collect::<Vec<_>>()
                    .join(";"),
                r.n.to_string(),
            ]
        })
        .collect();
    let header = [
        "measure",
        "representation",
        "model_from",
        "layer_from",
        "channels_from",
        "model_to",
        "layer_to",
        "channels_to",
        "value",
        "ci_low",
        "ci_high",
        "folds",
        "n",
    ];
    Ok(vec![csv_file(COMPARISON_CSV, &header, rows)?])
}

fn figures(report: &Report) -> Vec<Figure> {
    let mut out = Vec::new();
    for m in measures(report) {
        // A channel-group label with one unit compares it with itself only.
        for (key, units) in unit_groups(report, m)
            .into_iter()
            .filter(|(k, u)| k.is_none() || u.len() > 1)
        {
            let labels: Vec<String> = units.iter().map(label).collect();
            let panel = |rep: &'static str| {
                let units = &units;
                move |i: usize, j: usize| value_of(report, m, rep, &units[i], &units[j])
            };
            let (raw, geom) = (panel("raw"), panel("geom"));
            let panels: [Panel<'_>; 2] = [("raw", &raw), ("geom (composition removed)", &geom)];
            let (fill, note): (&dyn Fn(f64) -> String, &str) = if m.higher_is_closer() {
                (
                    &|v| sequential(v),
                    "colour: from 0 (white) to 1 (dark blue, alike); row ↔ column",
                )
            } else {
                (
                    &|v| sequential(1.0 - v),
                    "colour: from 1 or more (white) to 0 (dark blue, alike); row → column",
                )
            };
            let what = key
                .as_deref()
                .map_or(String::new(), |k| format!(" · groups {k}"));
            let title = format!("Layer comparison · {}{what}", m.name());
            let svg = heatmap_panels(&title, &labels, &labels, &panels, fill, note, (52.0, 30.0));
            let file = match &key {
                None => format!("comparison_{}.svg", m.name()),
                Some(k) => format!("comparison_{}_{k}.svg", m.name()),
            };
            out.push(figure(file, title, svg));
        }
    }
    out
}
