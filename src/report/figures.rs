//! The analysis figures, beside the R² bars of [`super::plot`]: layer
//! profiles, learning curves, channel routing and similarity heatmaps, the
//! disentanglement map and the isomer accuracy. Each is a plain SVG document
//! drawn with [`super::svg`]; a kind yields no figure when the report has no
//! data for it. [`figures`] lists every kind, the R² bars first.

use std::collections::BTreeSet;

use super::plot::{disentanglement_figures, sanitise, Figure};
use super::svg::{
    colour, dark, diverging, frame, log_ticks, sequential, tick_label, ticks, Anchor, Scale, Svg,
};
use super::{CurveRecord, GapRecord, Report, ResultRecord};
use crate::error::Result;

/// R² axes show [−1, 1]; points beyond are drawn hollow at the edge with
/// their value.
const R2: (f64, f64) = (-1.0, 1.0);
const LEFT: f64 = 78.0;
const TOP: f64 = 44.0;

/// A figure kind: every figure of that kind the report has data for.
type FigureKind = fn(&Report) -> Result<Vec<Figure>>;

/// The figure kinds, in the order their figures are listed.
const KINDS: &[FigureKind] = &[disentanglement_figures, all];

/// Every figure the report has data for, kind by kind, in report order.
/// File names are unique (a clash after sanitising gets a `_2`, `_3`, …
/// suffix).
pub fn figures(report: &Report) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    for kind in KINDS {
        out.extend(kind(report)?);
    }
    let mut seen = BTreeSet::new();
    for f in &mut out {
        if !seen.insert(f.file_name.clone()) {
            let (stem, ext) = f
                .file_name
                .rsplit_once('.')
                .map_or((f.file_name.clone(), String::new()), |(s, e)| {
                    (s.to_string(), format!(".{e}"))
                });
            let mut k = 2;
            while !seen.insert(format!("{stem}_{k}{ext}")) {
                k += 1;
            }
            f.file_name = format!("{stem}_{k}{ext}");
        }
    }
    Ok(out)
}

/// The analysis figure kinds, in the order they are listed.
fn all(report: &Report) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    out.extend(layer_profiles(report));
    out.extend(isomer_bars(report));
    out.extend(disentanglement_maps(report));
    out.extend(learning_curves(report));
    out.extend(routing_heatmaps(report));
    out.extend(similarity_heatmaps(report));
    Ok(out)
}

fn figure(file: String, title: String, svg: Svg) -> Figure {
    Figure {
        file_name: sanitise(&file),
        title,
        svg: svg.finish(),
    }
}

/// Distinct values in first-seen order.
fn distinct<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = Vec::new();
    for s in it {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// (target, probe) pairs of whole-layer records on real targets (the
/// `ctrl_*` controls have their own table), in report order.
fn panels(report: &Report) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = Vec::new();
    for r in report
        .results
        .iter()
        .filter(|r| r.channels.is_none() && !r.target.starts_with("ctrl_"))
    {
        let k = (r.target.as_str(), r.probe.as_str());
        if !v.contains(&k) {
            v.push(k);
        }
    }
    v
}

/// A point on an R² axis: its pixel and whether it was clamped.
fn clamp_r2(v: f64) -> (f64, bool) {
    let c = v.clamp(R2.0, R2.1);
    (c, c != v)
}

fn r2_ticks() -> Vec<(f64, String)> {
    ticks(R2.0, R2.1, 4)
        .into_iter()
        .map(|v| (v, tick_label(v)))
        .collect()
}

/// R²_geom per layer, a line per model, one figure per (target, probe).
fn layer_profiles(report: &Report) -> Vec<Figure> {
    let models = distinct(report.results.iter().map(|r| r.model.as_str()));
    let layers: Vec<Vec<&str>> = models
        .iter()
        .map(|m| {
            distinct(
                report
                    .results
                    .iter()
                    .filter(|r| r.model == *m && r.channels.is_none())
                    .map(|r| r.layer.as_str()),
            )
        })
        .collect();
    let max_layers = layers.iter().map(Vec::len).max().unwrap_or(0);
    if max_layers < 2 {
        return Vec::new();
    }
    panels(report)
        .into_iter()
        .map(|(target, probe)| {
            let models: Vec<(&str, &[&str])> = models
                .iter()
                .zip(&layers)
                .map(|(m, l)| (*m, l.as_slice()))
                .collect();
            layer_profile(report, &models, max_layers, target, probe)
        })
        .collect()
}

/// The layer profile of one (target, probe): `models` with their layers,
/// in file order, on an axis of `max_layers` layers.
fn layer_profile(
    report: &Report,
    models: &[(&str, &[&str])],
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
    for (mi, &(m, layers)) in models.iter().enumerate() {
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
        let ly = TOP + ph + 58.0 + 22.0 * mi as f64;
        svg.line((LEFT, ly), (LEFT + 24.0, ly), c, 2.5, "");
        let names: Vec<String> = layers
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{} {l}", i + 1))
            .collect();
        svg.text(
            LEFT + 32.0,
            ly,
            &format!("{m}: {}", names.join(" · ")),
            13.0,
            Anchor::Start,
            "",
        );
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

/// The representations of the isomer bars, in bar order: (representation,
/// legend name, colour).
const ISOMER_REPS: [(&str, &str, &str); 3] = [
    ("composition", "comp", "#7f7f7f"),
    ("raw", "raw", "#1f77b4"),
    ("geom", "geom", "#ff7f0e"),
];

/// Isomer pairwise accuracy of comp, raw and geom per model/layer, one
/// figure per (target, probe), with chance (0.5) marked.
fn isomer_bars(report: &Report) -> Vec<Figure> {
    panels(report)
        .into_iter()
        .filter_map(|(target, probe)| isomer_figure(report, target, probe))
        .collect()
}

/// The isomer bars of one (target, probe), when a record of it has an
/// isomer accuracy.
fn isomer_figure(report: &Report, target: &str, probe: &str) -> Option<Figure> {
    let recs: Vec<&ResultRecord> = report
        .results
        .iter()
        .filter(|r| r.channels.is_none() && r.target == target && r.probe == probe)
        .collect();
    if !recs.iter().any(|r| r.isomer_accuracy.is_some()) {
        return None;
    }
    let groups = distinct_pairs(recs.iter().map(|r| (r.model.as_str(), r.layer.as_str())));
    let longest = groups
        .iter()
        .map(|(m, l)| m.len() + l.len() + 1)
        .max()
        .unwrap_or(0) as f64;
    let gw = (7.0 * longest + 16.0).max(90.0);
    let pw = gw * groups.len() as f64;
    let ph = 260.0;
    let mut svg = Svg::new((LEFT + pw + 30.0).max(760.0), TOP + 30.0 + ph + 50.0);
    let title = format!("Isomer pairwise accuracy · target {target} · probe {probe}");
    svg.title(&title);
    let top = TOP + 30.0;
    let y = Scale {
        lo: 0.0,
        hi: 1.0,
        px0: top + ph,
        px1: top,
        log: false,
    };
    let x = Scale {
        lo: 0.0,
        hi: groups.len() as f64,
        px0: LEFT,
        px1: LEFT + pw,
        log: false,
    };
    let yt: Vec<(f64, String)> = ticks(0.0, 1.0, 5)
        .into_iter()
        .map(|v| (v, tick_label(v)))
        .collect();
    let xt: Vec<(f64, String)> = groups
        .iter()
        .enumerate()
        .map(|(i, (m, l))| (i as f64 + 0.5, format!("{m}/{l}")))
        .collect();
    frame(&mut svg, &x, &y, &xt, &yt, "", "pairs ordered correctly");
    let pairs = recs
        .iter()
        .find(|r| r.representation == "geom")
        .map_or(0, |r| r.isomer_pairs);
    isomer_legend(&mut svg, pairs);
    let slot = gw * 0.75 / 3.0;
    for (gi, &(m, l)) in groups.iter().enumerate() {
        let x0 = x.px(gi as f64) + gw * 0.125;
        isomer_group(&mut svg, &recs, (m, l), x0, slot, &y);
    }
    svg.line(
        (x.px0, y.px(0.5)),
        (x.px1, y.px(0.5)),
        "#000000",
        1.2,
        "6,4",
    );
    Some(figure(format!("isomers_{target}_{probe}.svg"), title, svg))
}

/// The legend of the isomer bars: a swatch per representation, then what
/// the dashed line is and how many pairs were scored.
fn isomer_legend(svg: &mut Svg, pairs: usize) {
    let mut lx = LEFT;
    for (_, name, c) in ISOMER_REPS {
        svg.rect(lx, TOP + 2.0, 14.0, 14.0, c, None);
        svg.text(lx + 20.0, TOP + 9.0, name, 14.0, Anchor::Start, "");
        lx += 80.0;
    }
    svg.text(
        lx + 10.0,
        TOP + 9.0,
        &format!("dashed: chance (0.5, composition by construction) · {pairs} pairs"),
        13.0,
        Anchor::Start,
        "fill=\"#555555\"",
    );
}

/// One model/layer's bars (comp, raw, geom), `slot` wide each from `x0`,
/// with their values; "n/a" where a representation has no accuracy.
fn isomer_group(
    svg: &mut Svg,
    recs: &[&ResultRecord],
    (m, l): (&str, &str),
    x0: f64,
    slot: f64,
    y: &Scale,
) {
    for (si, (rep, _, c)) in ISOMER_REPS.iter().enumerate() {
        let acc = recs
            .iter()
            .find(|r| r.model == m && r.layer == l && r.representation == *rep)
            .and_then(|r| r.isomer_accuracy);
        let x0 = x0 + slot * si as f64;
        match acc {
            Some(a) => {
                svg.rect(x0, y.px(a), slot - 2.0, y.px(0.0) - y.px(a), c, None);
                svg.text(
                    x0 + slot / 2.0 - 1.0,
                    y.px(a) - 8.0,
                    &format!("{a:.2}"),
                    10.0,
                    Anchor::Middle,
                    "",
                );
            }
            None => svg.text(
                x0 + slot / 2.0,
                y.px(0.0) - 8.0,
                "n/a",
                11.0,
                Anchor::Middle,
                "",
            ),
        }
    }
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

/// A vertical offset for a label of width `w` starting at (x, y) that keeps
/// it off the labels already `placed` (x, y, width), trying nearby rows.
fn label_offset(placed: &[(f64, f64, f64)], x: f64, y: f64, w: f64) -> f64 {
    let clash = |dy: f64| {
        placed
            .iter()
            .any(|&(px, py, pw)| (py - (y + dy)).abs() < 12.0 && x < px + pw && px < x + w)
    };
    let mut k = 0.0;
    loop {
        for dy in [-7.0 - 13.0 * k, 7.0 + 13.0 * k] {
            if !clash(dy) || k > 12.0 {
                return dy;
            }
        }
        k += 1.0;
    }
}

/// A learning curve drawn in a figure: (legend name, its points, dashed).
type Series<'a> = (String, Vec<&'a CurveRecord>, bool);

/// R² against training size (log axis) with a ± std band, one figure per
/// (target, probe): composition dashed, and per model the geom curve of its
/// layer with the highest R² at the largest size (every layer and
/// representation is in `learning_curve.csv`), so that bands stay readable.
fn learning_curves(report: &Report) -> Vec<Figure> {
    let c = &report.learning_curves;
    let keys = distinct_pairs(
        c.iter()
            .filter(|r| !r.target.starts_with("ctrl_"))
            .map(|r| (r.target.as_str(), r.probe.as_str())),
    );
    keys.into_iter()
        .filter_map(|(target, probe)| {
            let pts: Vec<&CurveRecord> = c
                .iter()
                .filter(|r| r.target == target && r.probe == probe)
                .collect();
            learning_curve(&pts, target, probe)
        })
        .collect()
}

/// The learning-curve figure of one (target, probe) from its points; none
/// without points.
fn learning_curve(pts: &[&CurveRecord], target: &str, probe: &str) -> Option<Figure> {
    let lo = pts.iter().map(|r| r.n_train).min()? as f64;
    let hi = pts.iter().map(|r| r.n_train).max()? as f64;
    let series = curve_series(pts, hi);
    let (pw, ph) = (600.0, 320.0);
    let legend_h = 20.0 * series.len() as f64;
    let mut svg = Svg::new(
        LEFT + pw + 260.0,
        (TOP + ph + 60.0).max(TOP + legend_h + 20.0),
    );
    let title = format!("Learning curve · target {target} · probe {probe}");
    svg.title(&title);
    let x = Scale {
        lo: lo / 1.2,
        hi: hi * 1.2,
        px0: LEFT,
        px1: LEFT + pw,
        log: true,
    };
    let y = Scale {
        lo: R2.0,
        hi: R2.1,
        px0: TOP + ph,
        px1: TOP,
        log: false,
    };
    let xt: Vec<(f64, String)> = log_ticks(x.lo, x.hi)
        .into_iter()
        .map(|v| (v, tick_label(v)))
        .collect();
    frame(
        &mut svg,
        &x,
        &y,
        &xt,
        &r2_ticks(),
        "training rows (log scale)",
        "R² (mean ± std)",
    );
    svg.line((x.px0, y.px(0.0)), (x.px1, y.px(0.0)), "#000000", 1.0, "");
    for (si, s) in series.iter().enumerate() {
        draw_curve(&mut svg, &x, &y, si, s);
    }
    curve_notes(&mut svg, LEFT + pw + 20.0, series.len());
    Some(figure(format!("curve_{target}_{probe}.svg"), title, svg))
}

/// The curves of one (target, probe): composition (of the first
/// model/layer), then per model the geom curve of its layer with the
/// highest R² at the largest size `hi`.
fn curve_series<'a>(pts: &[&'a CurveRecord], hi: f64) -> Vec<Series<'a>> {
    let mut series: Vec<Series<'a>> = Vec::new();
    if let Some(first) = pts.first() {
        let comp: Vec<&CurveRecord> = pts
            .iter()
            .copied()
            .filter(|r| {
                r.representation == "composition"
                    && r.model == first.model
                    && r.layer == first.layer
            })
            .collect();
        series.push(("composition".into(), comp, true));
    }
    let pairs = distinct_pairs(pts.iter().map(|r| (r.model.as_str(), r.layer.as_str())));
    for m in distinct(pairs.iter().map(|p| p.0)) {
        let at_max = |l: &str| {
            pts.iter()
                .find(|r| {
                    r.representation == "geom"
                        && r.model == m
                        && r.layer == l
                        && r.n_train as f64 == hi
                })
                .and_then(|r| r.r2_mean)
                .unwrap_or(f64::NEG_INFINITY)
        };
        let Some(&(_, l)) = pairs
            .iter()
            .filter(|p| p.0 == m)
            .max_by(|a, b| at_max(a.1).total_cmp(&at_max(b.1)))
        else {
            continue;
        };
        let s: Vec<&CurveRecord> = pts
            .iter()
            .copied()
            .filter(|r| r.representation == "geom" && r.model == m && r.layer == l)
            .collect();
        series.push((format!("{m}/{l} geom"), s, false));
    }
    series
}

/// Curve `si` of a learning-curve figure: its ± std band, its line and
/// points (hollow when clipped), and its legend entry.
fn draw_curve(svg: &mut Svg, x: &Scale, y: &Scale, si: usize, (name, s, dashed): &Series) {
    let col = if *dashed { "#555555" } else { colour(si - 1) };
    let dash = if *dashed { "6,4" } else { "" };
    let ok: Vec<(f64, f64, f64)> = s
        .iter()
        .filter_map(|r| Some((r.n_train as f64, r.r2_mean?, r.r2_std.unwrap_or(0.0))))
        .collect();
    let mut band: Vec<(f64, f64)> = ok
        .iter()
        .map(|&(n, m, sd)| (x.px(n), y.px(clamp_r2(m + sd).0)))
        .collect();
    band.extend(
        ok.iter()
            .rev()
            .map(|&(n, m, sd)| (x.px(n), y.px(clamp_r2(m - sd).0))),
    );
    svg.polygon(&band, col, 0.15);
    let line: Vec<(f64, f64)> = ok
        .iter()
        .map(|&(n, m, _)| (x.px(n), y.px(clamp_r2(m).0)))
        .collect();
    svg.polyline(&line, col, 2.0, dash);
    for &(n, m, _) in &ok {
        svg.circle((x.px(n), y.px(clamp_r2(m).0)), 3.0, col, clamp_r2(m).1);
    }
    let right = x.px1;
    let ly = TOP + 10.0 + 20.0 * si as f64;
    svg.line((right + 20.0, ly), (right + 44.0, ly), col, 2.5, dash);
    svg.text(right + 50.0, ly, name, 13.0, Anchor::Start, "");
}

/// The note under the legend of `n` curves, from `lx`: which curves are
/// drawn and where the others are.
fn curve_notes(svg: &mut Svg, lx: f64, n: usize) {
    let ly = TOP + 16.0 + 20.0 * n as f64;
    for (k, note) in [
        "per model: its layer with the highest",
        "R² geom at the largest size; bands ± std",
        "(every layer: learning_curve.csv)",
    ]
    .iter()
    .enumerate()
    {
        let grey = "fill=\"#555555\"";
        svg.text(lx, ly + 15.0 * k as f64, note, 11.0, Anchor::Start, grey);
    }
}

fn distinct_pairs<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = Vec::new();
    for k in it {
        if !v.contains(&k) {
            v.push(k);
        }
    }
    v
}

/// A heatmap with row and column labels and the value in each cell.
#[allow(clippy::too_many_arguments)]
fn heatmap(
    title: &str,
    rows: &[String],
    cols: &[String],
    value: &dyn Fn(usize, usize) -> Option<f64>,
    fill: &dyn Fn(f64) -> String,
    scale_note: &str,
    cell: (f64, f64),
) -> Svg {
    let label_w = 8.0 * rows.iter().map(|r| r.chars().count()).max().unwrap_or(0) as f64 + 16.0;
    let top_h = 7.5 * cols.iter().map(|c| c.chars().count()).max().unwrap_or(0) as f64 + 20.0;
    let (cw, ch) = cell;
    let width = (label_w + cw * cols.len() as f64 + 30.0).max(620.0);
    let mut svg = Svg::new(width, TOP + 20.0 + top_h + ch * rows.len() as f64 + 20.0);
    svg.title(title);
    svg.text(
        12.0,
        TOP + 4.0,
        scale_note,
        12.0,
        Anchor::Start,
        "fill=\"#555555\"",
    );
    let y0 = TOP + 20.0 + top_h;
    for (j, c) in cols.iter().enumerate() {
        let cx = label_w + cw * (j as f64 + 0.5);
        let _ = &c;
        svg_text_diag(&mut svg, cx, y0 - 6.0, c);
    }
    for (i, r) in rows.iter().enumerate() {
        let y = y0 + ch * i as f64;
        svg.text(label_w - 8.0, y + ch / 2.0, r, 13.0, Anchor::End, "");
        for j in 0..cols.len() {
            let x = label_w + cw * j as f64;
            match value(i, j) {
                Some(v) => {
                    let f = fill(v);
                    svg.rect(x, y, cw, ch, &f, Some("#ffffff"));
                    let style = if dark(&f) { "fill=\"#ffffff\"" } else { "" };
                    svg.text(
                        x + cw / 2.0,
                        y + ch / 2.0,
                        &format!("{v:.2}"),
                        12.0,
                        Anchor::Middle,
                        style,
                    );
                }
                None => {
                    svg.rect(x, y, cw, ch, "#eeeeee", Some("#ffffff"));
                    svg.text(x + cw / 2.0, y + ch / 2.0, "—", 12.0, Anchor::Middle, "");
                }
            }
        }
    }
    svg
}

/// A column label reading upwards from just above its column.
fn svg_text_diag(svg: &mut Svg, x: f64, y_bottom: f64, s: &str) {
    let len = 7.5 * s.chars().count() as f64;
    svg.text_up(x, y_bottom - len / 2.0, s, 13.0);
}

/// R²_geom per channel group and target, one heatmap per probe.
fn routing_heatmaps(report: &Report) -> Vec<Figure> {
    let rr = &report.channel_routing;
    let probes = distinct(rr.iter().map(|r| r.probe.as_str()));
    probes
        .into_iter()
        .map(|p| {
            let recs: Vec<_> = rr.iter().filter(|r| r.probe == p).collect();
            let targets: Vec<String> = distinct(recs.iter().map(|r| r.target.as_str()))
                .into_iter()
                .map(String::from)
                .collect();
            let mut keys: Vec<(&str, &str, &str)> = Vec::new();
            for r in &recs {
                let k = (r.model.as_str(), r.layer.as_str(), r.group.as_str());
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            let rows: Vec<String> = keys
                .iter()
                .map(|(m, l, g)| format!("{m}/{l} [{g}]"))
                .collect();
            let value = |i: usize, j: usize| {
                let (m, l, g) = keys[i];
                recs.iter()
                    .find(|r| {
                        r.model == m && r.layer == l && r.group == g && r.target == targets[j]
                    })
                    .and_then(|r| r.r2_geom)
            };
            let title = format!("Channel routing · R² geom per channel group · probe {p}");
            let svg = heatmap(
                &title,
                &rows,
                &targets,
                &value,
                &|v| diverging(v),
                "colour: R² geom from −1 (blue) through 0 (white) to 1 (red), clipped",
                (92.0, 34.0),
            );
            figure(format!("routing_{p}.svg"), title, svg)
        })
        .collect()
}

/// Linear CKA between every pair of layers, one heatmap per representation.
fn similarity_heatmaps(report: &Report) -> Vec<Figure> {
    let layers = super::sections::similarity_layers(report);
    let labels: Vec<String> = layers.iter().map(|(m, l)| format!("{m}/{l}")).collect();
    ["raw", "geom"]
        .into_iter()
        .filter(|rep| report.similarity.iter().any(|r| r.representation == *rep))
        .map(|rep| {
            let value =
                |i: usize, j: usize| super::sections::cka_of(report, rep, &layers[i], &layers[j]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{report, triple};
    use crate::report::{GapRecord, SimilarityRecord};

    #[test]
    fn file_names_are_sanitised_and_unique() {
        assert_eq!(sanitise("gap ev/ü<x>.1-2_3"), "gap_ev___x_.1-2_3");
        let mut results = triple("m", "l", "a b", [Some(0.1), Some(0.2), Some(0.3)]);
        results.extend(triple("m", "l", "a_b", [Some(0.1), Some(0.2), Some(0.3)]));
        results.extend(triple("m", "l", "a/b", [Some(0.1), Some(0.2), Some(0.3)]));
        let mut figs = figures(&report(results)).unwrap();
        figs.retain(|f| f.file_name.starts_with("r2_"));
        let names: Vec<&str> = figs.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "r2_a_b_ridge.svg",
                "r2_a_b_ridge_2.svg",
                "r2_a_b_ridge_3.svg"
            ]
        );
    }

    /// `<tag` opening elements minus closings and self-closings: 0 when
    /// every element is closed.
    fn unbalanced(svg: &str) -> i64 {
        let opens = svg.matches('<').count() as i64 - 2 * svg.matches("</").count() as i64;
        opens - svg.matches("/>").count() as i64
    }

    #[test]
    fn each_kind_draws_when_it_has_data_and_escapes_names() {
        let mut results = triple("m<1>", "l1", "y", [Some(0.1), Some(0.5), Some(-3.0)]);
        results.extend(triple("m<1>", "l2", "y", [Some(0.1), Some(0.6), Some(0.4)]));
        for r in &mut results {
            (r.isomer_accuracy, r.isomer_pairs) = (Some(0.75), 10);
        }
        let mut rep = report(results);
        rep.gaps = vec![GapRecord {
            model: "m<1>".into(),
            layer: "l1".into(),
            channels: None,
            target: "y".into(),
            r2_geom_ridge: Some(-3.0),
            r2_geom_mlp: Some(0.5),
            r2_cond_ridge: Some(-3.0),
            r2_cond_mlp: Some(0.5),
            gap_geom: Some(3.5),
            gap: Some(3.5),
            disentanglement: Some(-6.5),
            gap_ci: None,
        }];
        rep.similarity = vec![SimilarityRecord {
            representation: "geom".into(),
            model_a: "m<1>".into(),
            layer_a: "l1".into(),
            model_b: "m<1>".into(),
            layer_b: "l2".into(),
            cka: Some(0.25),
        }];
        let figs = all(&rep).unwrap();
        let names: Vec<&str> = figs.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "profile_y_ridge.svg",
                "isomers_y_ridge.svg",
                "disentanglement_y.svg",
                "similarity_geom.svg"
            ]
        );
        for f in &figs {
            assert_eq!(unbalanced(&f.svg), 0, "{}", f.file_name);
            assert!(!f.svg.contains("m<1>") && f.svg.contains("m&lt;1&gt;"));
        }
        // The clipped ridge point is hollow at the edge, with its value.
        assert!(figs[2].svg.contains("l1 (-3.00, 0.50)"));
        // Isomer bars carry their value; the similarity cell too.
        assert!(figs[1].svg.contains(">0.75<"));
        assert!(figs[3].svg.contains(">0.25<"));
    }
}
