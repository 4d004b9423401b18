//! Layer and model profiles: the models ranked by their score, each with
//! its best and most nonlinear layer per target — their section,
//! `profiles.csv` and the layer profile, R²_geom per layer and model, one
//! figure per (target, probe).

use super::Part;
use crate::error::Result;
use crate::report::cells::{col, csv_file, opt, ReportFile};
use crate::report::figures::{clamp_r2, distinct, figure, panels, r2_ticks, LEFT, R2, TOP};
use crate::report::grid::{Section, Table};
use crate::report::plot::Figure;
use crate::report::svg::{colour, frame, Anchor, Scale, Svg};
use crate::report::{LayerPick, Report};

/// The profiles' section, `profiles.csv` and the layer profiles.
pub(super) const PART: Part = Part {
    sections: |report| section(report).into_iter().collect(),
    csv,
    figures: layer_profiles,
};

/// `profiles.csv`.
const PROFILES_CSV: &str = "profiles.csv";

/// "Layer and model profiles": one row per model, in ranking order.
fn section(report: &Report) -> Option<Section> {
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

/// `profiles.csv`: one row per model and layer pick (best layer, then most
/// nonlinear layer, per target).
fn csv(report: &Report) -> Result<Vec<ReportFile>> {
    let Some(p) = &report.profiles else {
        return Ok(Vec::new());
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
    Ok(vec![csv_file(PROFILES_CSV, &header, rows)?])
}

/// R²_geom per layer, a line per model, one figure per (target, probe).
fn layer_profiles(report: &Report) -> Vec<Figure> {
    let models: Vec<(&str, Vec<&str>)> = distinct(report.results.iter().map(|r| r.model.as_str()))
        .into_iter()
        .map(|m| {
            let layers = report
                .results
                .iter()
                .filter(|r| r.model == m && r.channels.is_none())
                .map(|r| r.layer.as_str());
            (m, distinct(layers))
        })
        .collect();
    let max_layers = models.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    if max_layers < 2 {
        return Vec::new();
    }
    panels(report)
        .into_iter()
        .map(|(target, probe)| layer_profile(report, &models, max_layers, target, probe))
        .collect()
}

/// The layer profile of one (target, probe): `models` with their layers,
/// in file order, on an axis of `max_layers` layers.
fn layer_profile(
    report: &Report,
    models: &[(&str, Vec<&str>)],
    max_layers: usize,
    target: &str,
    probe: &str,
) -> Figure {
    let (pw, ph) = (640.0, 300.0);
    let legend_h = 22.0 * models.len() as f64 + 10.0;
    let mut svg = Svg::new(LEFT + pw + 40.0, TOP + ph + 56.0 + legend_h);
    let title = format!("Layer profile · R² geom · target {target} · probe {probe}");
    svg.title(&title);
    let x = Scale {
        lo: 0.6,
        hi: max_layers as f64 + 0.4,
        px0: LEFT,
        px1: LEFT + pw,
        log: false,
    };
    let y = Scale {
        lo: R2.0,
        hi: R2.1,
        px0: TOP + ph,
        px1: TOP,
        log: false,
    };
    let xt: Vec<(f64, String)> = (1..=max_layers)
        .map(|i| (i as f64, format!("layer {i}")))
        .collect();
    frame(
        &mut svg,
        &x,
        &y,
        &xt,
        &r2_ticks(),
        "layer (file order; names below)",
        "R² geom (mean over folds)",
    );
    svg.line((x.px0, y.px(0.0)), (x.px1, y.px(0.0)), "#000000", 1.0, "");
    for (mi, (m, layers)) in models.iter().enumerate() {
        let c = colour(mi);
        let pts: Vec<(f64, f64, f64, bool)> = layers
            .iter()
            .enumerate()
            .filter_map(|(li, l)| {
                profile_r2(report, m, l, target, probe).map(|v| {
                    let (cv, clipped) = clamp_r2(v);
                    (x.px((li + 1) as f64), y.px(cv), v, clipped)
                })
            })
            .collect();
        draw_profile_line(&mut svg, &pts, c);
        profile_legend(&mut svg, TOP + ph + 58.0 + 22.0 * mi as f64, c, m, layers);
    }
    figure(format!("profile_{target}_{probe}.svg"), title, svg)
}

/// R²_geom (mean over folds) of one whole layer on (target, probe).
fn profile_r2(report: &Report, model: &str, layer: &str, target: &str, probe: &str) -> Option<f64> {
    report
        .results
        .iter()
        .find(|r| {
            r.model == model
                && r.layer == layer
                && r.channels.is_none()
                && r.target == target
                && r.probe == probe
                && r.representation == "geom"
        })
        .and_then(|r| r.r2_mean)
}

/// One model's legend line at height `ly`: its colour, its name and its
/// layers numbered as on the x axis.
fn profile_legend(svg: &mut Svg, ly: f64, c: &str, model: &str, layers: &[&str]) {
    svg.line((LEFT, ly), (LEFT + 24.0, ly), c, 2.5, "");
    let names: Vec<String> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{} {l}", i + 1))
        .collect();
    svg.text(
        LEFT + 32.0,
        ly,
        &format!("{model}: {}", names.join(" · ")),
        13.0,
        Anchor::Start,
        "",
    );
}

/// One model's line of a layer profile: `pts` are (x px, y px, value,
/// clipped); a clipped point is hollow, with its value beside it.
fn draw_profile_line(svg: &mut Svg, pts: &[(f64, f64, f64, bool)], c: &str) {
    let line: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1)).collect();
    svg.polyline(&line, c, 2.0, "");
    for &(px, py, v, clipped) in pts {
        svg.circle((px, py), 4.5, c, clipped);
        if clipped {
            let dy = if v < 0.0 { -12.0 } else { 12.0 };
            svg.text(
                px + 7.0,
                py + dy,
                &format!("{v:.2}"),
                12.0,
                Anchor::Start,
                "",
            );
        }
    }
}
