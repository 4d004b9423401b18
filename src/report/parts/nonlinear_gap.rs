//! The linear–nonlinear gap on the residual: per (model, layer, channels,
//! target), what the MLP's R²_cond adds to the ridge's — its section (the
//! first after the results table), `gaps.csv` and the disentanglement map,
//! ridge R²_cond against MLP R²_cond, one per target. Present when both
//! ridge and mlp ran.

use super::Part;
use crate::error::Result;
use crate::report::cells::{col, csv_file, opt, ReportFile};
use crate::report::figures::{clamp_r2, distinct, figure, label_offset, LEFT, TOP};
use crate::report::grid::{Section, Table};
use crate::report::plot::Figure;
use crate::report::svg::{colour, frame, tick_label, ticks, Anchor, Scale, Svg};
use crate::report::{GapRecord, Report};

/// The gap's section, `gaps.csv` and the disentanglement maps.
pub(super) const PART: Part = Part {
    sections,
    csv,
    figures: disentanglement_maps,
};

/// Linear–nonlinear gap per (model, layer, channels, target), written when
/// both ridge and mlp ran.
const GAPS_CSV: &str = "gaps.csv";

/// The sentence that explains the gap table.
const GAP_NOTE: &str = "*excess* = R²_cond(mlp) − R²_cond(ridge): what the residual adds \
     to composition that a linear probe cannot read (95 % paired interval); *disentanglement* = \
     R²_cond(ridge) − |excess|: high when the residual adds to composition and what it adds is \
     linearly readable. *gap geom* = R²_geom(mlp) − R²_geom(ridge), the paper's gap: it also counts \
     composition that the MLP reads back out of the residual, so it overstates the excess.";

/// "Linear–nonlinear gap on the residual", when the report has gaps.
fn sections(report: &Report) -> Vec<Section> {
    if report.gaps.is_empty() {
        return Vec::new();
    }
    vec![(
        "Linear–nonlinear gap on the residual".to_string(),
        GAP_NOTE.to_string(),
        gaps_table(report),
    )]
}

/// The linear–nonlinear gap on the residual, one row per (model, layer,
/// channels, target).
fn gaps_table(report: &Report) -> Table {
    let columns = vec![
        col("model", false),
        col("layer", false),
        col("target", false),
        col("R² cond ridge", true),
        col("R² cond mlp", true),
        col("excess", true),
        col("disentanglement", true),
        col("R² geom ridge", true),
        col("R² geom mlp", true),
        col("gap geom", true),
    ];
    let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.3}"));
    let rows = report
        .gaps
        .iter()
        .map(|g| {
            let layer = match &g.channels {
                Some(c) => format!("{} [{c}]", g.layer),
                None => g.layer.clone(),
            };
            vec![
                g.model.clone(),
                layer,
                g.target.clone(),
                f(g.r2_cond_ridge),
                f(g.r2_cond_mlp),
                match (g.gap, g.gap_ci) {
                    (Some(v), Some([lo, hi])) => format!("{v:+.3} [{lo:+.3}, {hi:+.3}]"),
                    (Some(v), None) => format!("{v:+.3}"),
                    _ => "—".into(),
                },
                f(g.disentanglement),
                f(g.r2_geom_ridge),
                f(g.r2_geom_mlp),
                g.gap_geom.map_or("—".into(), |v| format!("{v:+.3}")),
            ]
        })
        .collect();
    Table { columns, rows }
}

/// `gaps.csv`: one row per gap record (`gaps` of `report.json`), when the
/// report has gaps.
fn csv(report: &Report) -> Result<Vec<ReportFile>> {
    if report.gaps.is_empty() {
        return Ok(Vec::new());
    }
    let rows = report
        .gaps
        .iter()
        .map(|g| {
            vec![
                g.model.clone(),
                g.layer.clone(),
                g.channels.clone().unwrap_or_default(),
                g.target.clone(),
                opt(g.r2_geom_ridge),
                opt(g.r2_geom_mlp),
                opt(g.gap),
                opt(g.disentanglement),
                opt(g.gap_ci.map(|c| c[0])),
                opt(g.gap_ci.map(|c| c[1])),
                opt(g.r2_cond_ridge),
                opt(g.r2_cond_mlp),
                opt(g.gap_geom),
            ]
        })
        .collect();
    let header = [
        "model",
        "layer",
        "channels",
        "target",
        "r2_geom_ridge",
        "r2_geom_mlp",
        "gap",
        "disentanglement",
        "gap_ci_lo",
        "gap_ci_hi",
        "r2_cond_ridge",
        "r2_cond_mlp",
        "gap_geom",
    ];
    Ok(vec![csv_file(GAPS_CSV, &header, rows)?])
}

/// Ridge R²_cond against MLP R²_cond (what the residual adds to
/// composition) per model/layer, with the diagonal, one figure per target
/// (when both probes ran).
fn disentanglement_maps(report: &Report) -> Vec<Figure> {
    let gaps: Vec<&GapRecord> = report
        .gaps
        .iter()
        .filter(|g| g.channels.is_none() && !g.target.starts_with("ctrl_"))
        .collect();
    let targets = distinct(gaps.iter().map(|g| g.target.as_str()));
    let models = distinct(gaps.iter().map(|g| g.model.as_str()));
    targets
        .into_iter()
        .map(|t| {
            let of_t: Vec<&GapRecord> = gaps.iter().copied().filter(|g| g.target == t).collect();
            disentanglement_map(&of_t, &models, t)
        })
        .collect()
}

/// The disentanglement map of target `t` from its gap records; `models`
/// (of every target) pick the colours.
fn disentanglement_map(gaps: &[&GapRecord], models: &[&str], t: &str) -> Figure {
    let side = 380.0;
    let mut svg = Svg::new(LEFT + side + 250.0, TOP + side + 60.0);
    let title = format!("Disentanglement map · target {t}");
    svg.title(&title);
    let (lo, hi) = square_range(gaps);
    let x = Scale {
        lo,
        hi,
        px0: LEFT,
        px1: LEFT + side,
        log: false,
    };
    let y = Scale {
        lo,
        hi,
        px0: TOP + side,
        px1: TOP,
        log: false,
    };
    let tick_marks: Vec<(f64, String)> = ticks(lo, hi, 4)
        .into_iter()
        .map(|v| (v, tick_label(v)))
        .collect();
    frame(
        &mut svg,
        &x,
        &y,
        &tick_marks,
        &tick_marks,
        "R² cond, ridge (linear)",
        "R² cond, MLP (nonlinear)",
    );
    draw_diagonal(&mut svg, &x, &y);
    draw_map_points(&mut svg, gaps, models, &x, &y);
    map_legend(&mut svg, models, LEFT + side);
    figure(format!("disentanglement_{t}.svg"), title, svg)
}

/// One square range for both axes of a disentanglement map: 0 and every
/// point, to the next 0.1, within [−1, 1].
fn square_range(gaps: &[&GapRecord]) -> (f64, f64) {
    let values = gaps
        .iter()
        .flat_map(|g| [g.r2_cond_ridge, g.r2_cond_mlp])
        .flatten()
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo = ((lo - 0.05) * 10.0).floor().max(-10.0) / 10.0;
    let hi = ((hi + 0.05) * 10.0).ceil().min(10.0) / 10.0;
    (lo, hi)
}

/// The dashed diagonal of a disentanglement map and what lies above it.
fn draw_diagonal(svg: &mut Svg, x: &Scale, y: &Scale) {
    let (lo, hi) = (x.lo, x.hi);
    svg.line(
        (x.px(lo), y.px(lo)),
        (x.px(hi), y.px(hi)),
        "#999999",
        1.0,
        "5,4",
    );
    let span = hi - lo;
    svg.text(
        x.px(lo + 0.025 * span),
        y.px(hi - 0.04 * span),
        "above the diagonal: what only",
        11.0,
        Anchor::Start,
        "fill=\"#777777\"",
    );
    svg.text(
        x.px(lo + 0.025 * span),
        y.px(hi - 0.08 * span),
        "a nonlinear probe adds",
        11.0,
        Anchor::Start,
        "fill=\"#777777\"",
    );
}

/// A point per gap record with both R²_cond, coloured by model and
/// labelled with its layer (and its values when clipped to ±1), labels
/// kept apart.
fn draw_map_points(svg: &mut Svg, gaps: &[&GapRecord], models: &[&str], x: &Scale, y: &Scale) {
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    for g in gaps {
        let (Some(a), Some(b)) = (g.r2_cond_ridge, g.r2_cond_mlp) else {
            continue;
        };
        let mi = models.iter().position(|m| *m == g.model).unwrap_or(0);
        let ((ca, xa), (cb, xb)) = (clamp_r2(a), clamp_r2(b));
        let p = (x.px(ca), y.px(cb));
        svg.circle(p, 5.0, colour(mi), xa || xb);
        let label = if xa || xb {
            format!("{} ({a:.2}, {b:.2})", g.layer)
        } else {
            g.layer.clone()
        };
        let w = 6.2 * label.chars().count() as f64;
        let dy = label_offset(&placed, p.0 + 7.0, p.1, w);
        placed.push((p.0 + 7.0, p.1 + dy, w));
        if dy.abs() > 8.0 {
            svg.line(p, (p.0 + 6.0, p.1 + dy), "#bbbbbb", 0.8, "");
        }
        svg.text(p.0 + 7.0, p.1 + dy, &label, 11.0, Anchor::Start, "");
    }
}

/// The models' colours right of a disentanglement map whose plot ends at
/// `right`, and what a hollow point means.
fn map_legend(svg: &mut Svg, models: &[&str], right: f64) {
    for (mi, m) in models.iter().enumerate() {
        let ly = TOP + 20.0 + 22.0 * mi as f64;
        svg.circle((right + 30.0, ly), 5.0, colour(mi), false);
        svg.text(right + 42.0, ly, m, 13.0, Anchor::Start, "");
    }
    let ly = TOP + 20.0 + 22.0 * models.len() as f64 + 10.0;
    svg.text(
        right + 24.0,
        ly,
        "hollow: beyond ±1, at the edge",
        11.0,
        Anchor::Start,
        "fill=\"#555555\"",
    );
    svg.text(
        right + 24.0,
        ly + 16.0,
        "(true values in brackets)",
        11.0,
        Anchor::Start,
        "fill=\"#555555\"",
    );
}
