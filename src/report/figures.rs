//! The list of every figure ([`figures`]: the R² bars of [`super::plot`],
//! then each analysis's figures in the order of
//! [`super::parts::PARTS`]), and the drawing helpers the analyses' figures
//! share: the R² axis, plot margins, tick marks, the heatmap, label
//! placement. Each figure is a plain SVG document drawn with
//! [`super::svg`]; an analysis yields no figure when the report has no data
//! for it.

use std::collections::BTreeSet;

use super::plot::{disentanglement_figures, sanitise, Figure};
use super::svg::{dark, tick_label, ticks, Anchor, Svg};
use super::Report;
use crate::error::Result;

/// R² axes show [−1, 1]; points beyond are drawn hollow at the edge with
/// their value.
pub(super) const R2: (f64, f64) = (-1.0, 1.0);
/// Left margin of a plot, for the y axis and its labels.
pub(super) const LEFT: f64 = 78.0;
/// Top margin of a plot, for the title.
pub(super) const TOP: f64 = 44.0;

/// Every figure the report has data for: the R² bars, then each analysis's
/// figures in [`super::parts::PARTS`] order. File names are unique (a clash
/// after sanitising gets a `_2`, `_3`, … suffix).
pub fn figures(report: &Report) -> Result<Vec<Figure>> {
    let mut out = disentanglement_figures(report)?;
    out.extend(super::parts::figures(report));
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

/// A figure from its drawing, under its file name made safe ([`sanitise`]).
pub(super) fn figure(file: String, title: String, svg: Svg) -> Figure {
    Figure {
        file_name: sanitise(&file),
        title,
        svg: svg.finish(),
    }
}

/// Distinct values in first-seen order.
pub(super) fn distinct<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
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
pub(super) fn panels(report: &Report) -> Vec<(&str, &str)> {
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
pub(super) fn clamp_r2(v: f64) -> (f64, bool) {
    let c = v.clamp(R2.0, R2.1);
    (c, c != v)
}

/// The tick marks of an R² axis over [−1, 1].
pub(super) fn r2_ticks() -> Vec<(f64, String)> {
    ticks(R2.0, R2.1, 4)
        .into_iter()
        .map(|v| (v, tick_label(v)))
        .collect()
}

/// A vertical offset for a label of width `w` starting at (x, y) that keeps
/// it off the labels already `placed` (x, y, width), trying nearby rows.
pub(super) fn label_offset(placed: &[(f64, f64, f64)], x: f64, y: f64, w: f64) -> f64 {
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

/// Distinct pairs in first-seen order.
pub(super) fn distinct_pairs<'a>(
    it: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
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
pub(super) fn heatmap(
    title: &str,
    rows: &[String],
    cols: &[String],
    value: &dyn Fn(usize, usize) -> Option<f64>,
    fill: &dyn Fn(f64) -> String,
    scale_note: &str,
    cell: (f64, f64),
) -> Svg {
    heatmap_panels(title, rows, cols, &[("", value)], fill, scale_note, cell)
}

/// A heat map panel: its name and the value of each cell.
pub(super) type Panel<'a> = (&'a str, &'a dyn Fn(usize, usize) -> Option<f64>);

/// Heatmaps side by side over the same rows and columns, each under its
/// panel name (the row labels drawn once, on the left).
#[allow(clippy::too_many_arguments)]
pub(super) fn heatmap_panels(
    title: &str,
    rows: &[String],
    cols: &[String],
    panels: &[Panel<'_>],
    fill: &dyn Fn(f64) -> String,
    scale_note: &str,
    cell: (f64, f64),
) -> Svg {
    let label_w = 8.0 * rows.iter().map(|r| r.chars().count()).max().unwrap_or(0) as f64 + 16.0;
    let top_h = 7.5 * cols.iter().map(|c| c.chars().count()).max().unwrap_or(0) as f64 + 20.0;
    let named = panels.iter().any(|(name, _)| !name.is_empty());
    let name_h = if named { 22.0 } else { 0.0 };
    let (cw, ch) = cell;
    let gap = 24.0;
    // A panel is at least as wide as its name.
    let name_w = panels
        .iter()
        .map(|(name, _)| 8.0 * name.chars().count() as f64 + 12.0)
        .fold(0.0, f64::max);
    let panel_w = (cw * cols.len() as f64).max(name_w);
    let all_w = panel_w * panels.len() as f64 + gap * (panels.len().max(1) - 1) as f64;
    let width = (label_w + all_w + 30.0).max(620.0);
    let mut svg = Svg::new(
        width,
        TOP + 20.0 + name_h + top_h + ch * rows.len() as f64 + 20.0,
    );
    svg.title(title);
    svg.text(
        12.0,
        TOP + 4.0,
        scale_note,
        12.0,
        Anchor::Start,
        "fill=\"#555555\"",
    );
    let y0 = TOP + 20.0 + name_h + top_h;
    for (i, r) in rows.iter().enumerate() {
        let y = y0 + ch * i as f64;
        svg.text(label_w - 8.0, y + ch / 2.0, r, 13.0, Anchor::End, "");
    }
    for (p, (name, value)) in panels.iter().enumerate() {
        let x0 = label_w + (panel_w + gap) * p as f64;
        if named {
            svg.text(
                x0 + panel_w / 2.0,
                TOP + 26.0,
                name,
                13.0,
                Anchor::Middle,
                "font-weight=\"bold\"",
            );
        }
        for (j, c) in cols.iter().enumerate() {
            let cx = x0 + cw * (j as f64 + 0.5);
            svg_text_diag(&mut svg, cx, y0 - 6.0, c);
        }
        for i in 0..rows.len() {
            let y = y0 + ch * i as f64;
            for j in 0..cols.len() {
                let x = x0 + cw * j as f64;
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
    }
    svg
}

/// A column label reading upwards from just above its column.
fn svg_text_diag(svg: &mut Svg, x: f64, y_bottom: f64, s: &str) {
    let len = 7.5 * s.chars().count() as f64;
    svg.text_up(x, y_bottom - len / 2.0, s, 13.0);
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
        let figs = crate::report::parts::figures(&rep);
        let names: Vec<&str> = figs.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "disentanglement_y.svg",
                "profile_y_ridge.svg",
                "isomers_y_ridge.svg",
                "similarity_geom.svg"
            ]
        );
        for f in &figs {
            assert_eq!(unbalanced(&f.svg), 0, "{}", f.file_name);
            assert!(!f.svg.contains("m<1>") && f.svg.contains("m&lt;1&gt;"));
        }
        // The clipped ridge point is hollow at the edge, with its value.
        assert!(figs[0].svg.contains("l1 (-3.00, 0.50)"));
        // Isomer bars carry their value; the similarity cell too.
        assert!(figs[2].svg.contains(">0.75<"));
        assert!(figs[3].svg.contains(">0.25<"));
    }
}
