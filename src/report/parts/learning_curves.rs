//! Learning curves: R² against the number of training rows — their
//! section, `learning_curve.csv` and one figure per (target, probe).

use super::Part;
use crate::error::Result;
use crate::report::cells::{col, csv_file, num, opt, ReportFile};
use crate::report::figures::{clamp_r2, distinct, distinct_pairs, figure, r2_ticks, LEFT, R2, TOP};
use crate::report::grid::{Section, Table};
use crate::report::plot::Figure;
use crate::report::svg::{colour, frame, log_ticks, tick_label, Anchor, Scale, Svg};
use crate::report::{CurveRecord, Report};

/// The curves' section, `learning_curve.csv` and the curve figures.
pub(super) const PART: Part = Part {
    sections: |report| section(report).into_iter().collect(),
    csv,
    figures: learning_curves,
};

/// `learning_curve.csv`.
const CURVE_CSV: &str = "learning_curve.csv";

/// "Learning curves": one row per curve point, R² as mean ± std.
fn section(report: &Report) -> Option<Section> {
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

/// `learning_curve.csv`: one row per curve point.
fn csv(report: &Report) -> Result<Vec<ReportFile>> {
    if report.learning_curves.is_empty() {
        return Ok(Vec::new());
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
    Ok(vec![csv_file(CURVE_CSV, &header, rows)?])
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
