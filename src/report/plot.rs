//! SVG figures of a report, drawn with `plotters`' SVG backend (text is
//! written as SVG `<text>` elements, so no font library is needed).
//!
//! The *disentanglement gradient* — for each (target, probe), R²_comp,
//! R²_raw and R²_geom side by side for every model/layer — is drawn here;
//! the analysis figures (layer profiles, isomer accuracy, disentanglement
//! maps, learning curves, routing and similarity heatmaps) are in
//! `figures.rs`, which also lists every kind.

use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::markdown::{pivot, Row};
use super::{Report, ResultRecord};
use crate::error::{CpdError, Result};

/// One SVG figure, written as `file_name` beside the reports and inlined in
/// `report.html`.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File name (characters outside `[A-Za-z0-9_.-]` replaced by `_`).
    pub file_name: String,
    /// Human-readable title (also drawn as the figure's caption).
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

/// Replace every character outside `[A-Za-z0-9_.-]` by `_`.
pub fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The three representations, in bar order, with their colours
/// (matplotlib's tab10 grey, blue, orange).
pub const SERIES: [(&str, RGBColor); 3] = [
    ("R² comp", RGBColor(0x7f, 0x7f, 0x7f)),
    ("R² raw", RGBColor(0x1f, 0x77, 0xb4)),
    ("R² geom", RGBColor(0xff, 0x7f, 0x0e)),
];

/// The y axis shows R² in [−`Y_LIMIT`, `Y_LIMIT`]; bars beyond it are
/// clipped at the edge and labelled with their value.
pub const Y_LIMIT: f64 = 1.0;

const FONT: &str = "sans-serif";
/// Height of the strip above the plot with the title and legend.
const HEADER_PX: u32 = 64;
const HEIGHT_PX: u32 = 440;
const Y_LABEL_AREA_PX: u32 = 64;
const X_LABEL_AREA_PX: u32 = 36;
const RIGHT_MARGIN_PX: u32 = 16;
/// Width of a group on the x axis, in axis units (integer, so that the
/// group centres can be the axis' key points).
const GROUP: i32 = 1200;
/// Width of one bar in axis units: the three bars take 3/4 of the group.
const SLOT: i32 = 300;

/// R²_comp / R²_raw / R²_geom per model/layer, one figure per
/// (target, probe) in the order they first appear in the report. Records of
/// a channel group (`channels` set) are left out.
pub(super) fn disentanglement_figures(report: &Report) -> Result<Vec<Figure>> {
    let rows: Vec<Row<'_>> = pivot(report)
        .into_iter()
        .filter(|r| r.channels.is_none())
        .collect();
    let mut panels: Vec<((&str, &str), Vec<&Row<'_>>)> = Vec::new();
    for row in &rows {
        let key = (row.target, row.probe);
        match panels.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(row),
            None => panels.push((key, vec![row])),
        }
    }
    panels
        .into_iter()
        .map(|((target, probe), rows)| {
            let file_name = sanitise(&format!("r2_{target}_{probe}.svg"));
            let title = format!("R² by representation · target {target} · probe {probe}");
            let groups: Vec<Group> = rows
                .iter()
                .map(|r| Group {
                    label: format!("{}/{}", r.model, r.layer),
                    bars: [r.comp, r.raw, r.geom].map(Bar::of),
                })
                .collect();
            let svg = grouped_bars(&title, &groups)
                .map_err(|e| CpdError::format(&file_name, format!("drawing the figure: {e}")))?;
            Ok(Figure {
                file_name,
                title,
                svg,
            })
        })
        .collect()
}

/// One bar: the mean R² over folds and its error bar, the 95 % interval
/// (or mean ± std for a report without intervals); `None` when undefined.
#[derive(Debug, Clone, Copy)]
struct Bar {
    mean: Option<f64>,
    range: Option<(f64, f64)>,
}

impl Bar {
    fn of(r: Option<&ResultRecord>) -> Bar {
        let mean = r.and_then(|r| r.r2_mean).filter(|v| v.is_finite());
        let range = r.and_then(|r| match (r.r2_ci, r.r2_mean, r.r2_std) {
            (Some([lo, hi]), _, _) => Some((lo, hi)),
            (None, Some(m), Some(s)) if s > 0.0 && s.is_finite() => Some((m - s, m + s)),
            _ => None,
        });
        Bar {
            mean,
            range: range.filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && hi > lo),
        }
    }
}

/// A model/layer with its three bars ([`SERIES`] order).
struct Group {
    label: String,
    bars: [Bar; 3],
}

/// Text of a clipped bar's label: its true value, as in the tables.
fn value_label(v: f64) -> String {
    format!("{v:.3}")
}

type DrawResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A grouped bar chart on a fixed [−1, 1] axis, as an SVG document.
fn grouped_bars(title: &str, groups: &[Group]) -> DrawResult<String> {
    let n = groups.len().max(1);
    // Groups wide enough for their horizontal "model/layer" label
    // (≈ 7 px per character at the label size).
    let longest = groups
        .iter()
        .map(|g| g.label.chars().count())
        .max()
        .unwrap_or(0);
    let group_px = (7 * longest as u32 + 16).max(96);
    // At least wide enough for the legend line.
    let width = (Y_LABEL_AREA_PX + RIGHT_MARGIN_PX + 8 + group_px * n as u32).max(860);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, HEIGHT_PX)).into_drawing_area();
        root.fill(&WHITE)?;
        let (header, body) = root.split_vertically(HEADER_PX);
        draw_header(&header, title)?;

        let n_i = n as i32;
        let centres: Vec<i32> = (0..n_i).map(|i| i * GROUP + GROUP / 2).collect();
        let mut chart = ChartBuilder::on(&body)
            .margin_top(8)
            .margin_right(RIGHT_MARGIN_PX)
            .x_label_area_size(X_LABEL_AREA_PX)
            .y_label_area_size(Y_LABEL_AREA_PX)
            .build_cartesian_2d((0..n_i * GROUP).with_key_points(centres), -Y_LIMIT..Y_LIMIT)?;
        let x_label = |x: &i32| {
            groups
                .get((x / GROUP).max(0) as usize)
                .map_or_else(String::new, |g| g.label.clone())
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(RGBColor(0xd0, 0xd0, 0xd0))
            .max_light_lines(1)
            .x_label_formatter(&x_label)
            .y_labels(5)
            .y_label_formatter(&|y: &f64| format!("{y:.1}"))
            .y_desc("R² (mean over folds; bars: 95 % interval)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 15))
            .draw()?;

        // The zero line.
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0, 0.0), (n_i * GROUP, 0.0)],
            BLACK.stroke_width(1),
        )))?;

        for (gi, g) in (0..).zip(groups) {
            for (si, (bar, (_, colour))) in (0..).zip(g.bars.iter().zip(SERIES)) {
                let x0 = gi * GROUP + (GROUP - 3 * SLOT) / 2 + si * SLOT;
                let (x1, xc) = (x0 + SLOT, x0 + SLOT / 2);
                let Some(v) = bar.mean else {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((xc, 0.0))
                            + Text::new(
                                "n/a",
                                (0, -4),
                                TextStyle::from((FONT, 13).into_font())
                                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
                            ),
                    ))?;
                    continue;
                };
                let shown = v.clamp(-Y_LIMIT, Y_LIMIT);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x1, shown)],
                    colour.filled(),
                )))?;
                if shown != v {
                    draw_clipped_mark(&mut chart, x0, x1, v)?;
                } else if let Some(range) = bar.range {
                    draw_error_bar(&mut chart, xc, SLOT / 4, range)?;
                }
            }
        }
        root.present()?;
    }
    Ok(svg)
}

/// Title and legend above the plot.
fn draw_header(area: &DrawingArea<SVGBackend<'_>, Shift>, title: &str) -> DrawResult<()> {
    area.draw(&Text::new(
        title,
        (12, 10),
        (FONT, 20).into_font().style(FontStyle::Bold),
    ))?;
    let mut x = Y_LABEL_AREA_PX as i32;
    let y = 40;
    for (name, colour) in SERIES {
        area.draw(&Rectangle::new([(x, y), (x + 14, y + 14)], colour.filled()))?;
        area.draw(&Text::new(
            name,
            (x + 20, y + 7),
            TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += 110;
    }
    area.draw(&Text::new(
        "bars beyond ±1 are cut at the axis and labelled with their value",
        (x + 10, y + 7),
        (FONT, 13)
            .into_font()
            .color(&RGBColor(0x55, 0x55, 0x55))
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    Ok(())
}

type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<WithKeyPoints<RangedCoordi32>, RangedCoordf64>>;

/// A bar cut at the axis: a white break across its end and its true value
/// written along it.
fn draw_clipped_mark(chart: &mut Chart<'_, '_>, x0: i32, x1: i32, v: f64) -> DrawResult<()> {
    let edge = Y_LIMIT.copysign(v);
    let inward = -edge.signum();
    // A zigzag break 4 % of the axis from the edge.
    let y = edge + inward * 0.04;
    let d = 0.015;
    let xs = [x0, x0 + (x1 - x0) / 3, x0 + 2 * (x1 - x0) / 3, x1];
    let zigzag: Vec<(i32, f64)> = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| (x, if i % 2 == 0 { y - d } else { y + d }))
        .collect();
    chart.draw_series(std::iter::once(PathElement::new(
        zigzag,
        WHITE.stroke_width(3),
    )))?;
    // The value, reading upwards, starting just inside the edge beyond the break.
    let xc = (x0 + x1) / 2;
    let (anchor, offset) = if v < 0.0 {
        (HPos::Left, -8)
    } else {
        (HPos::Right, 8)
    };
    let label_y = edge + inward * 0.1;
    chart.draw_series(std::iter::once(
        EmptyElement::at((xc, label_y))
            + Text::new(
                value_label(v),
                (0, offset),
                (FONT, 14)
                    .into_font()
                    .color(&BLACK)
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(anchor, VPos::Center)),
            ),
    ))?;
    Ok(())
}

/// An error bar from `lo` to `hi` as a vertical line with caps, cut to the
/// axis range (no cap where it is cut).
fn draw_error_bar(
    chart: &mut Chart<'_, '_>,
    xc: i32,
    half_cap: i32,
    (lo, hi): (f64, f64),
) -> DrawResult<()> {
    let (lo_c, hi_c) = (lo.max(-Y_LIMIT), hi.min(Y_LIMIT));
    let style = BLACK.stroke_width(1);
    let mut lines = vec![vec![(xc, lo_c), (xc, hi_c)]];
    for (end, cut) in [(lo_c, lo_c != lo), (hi_c, hi_c != hi)] {
        if !cut {
            lines.push(vec![(xc - half_cap, end), (xc + half_cap, end)]);
        }
    }
    chart.draw_series(lines.into_iter().map(|l| PathElement::new(l, style)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{record, report, triple};

    /// The R² bar figures.
    fn r2_figures(r: &Report) -> Vec<Figure> {
        disentanglement_figures(r).unwrap()
    }

    /// Attributes of every `<tag …>` element, with the text up to the next
    /// `<` (the content of a `<text>`), in document order.
    fn elements(svg: &str, tag: &str) -> Vec<(Vec<(String, String)>, String)> {
        let open = format!("<{tag} ");
        let mut out = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find(&open) {
            rest = &rest[i + open.len()..];
            let end = rest.find('>').unwrap();
            let attrs_text = rest[..end].trim_end_matches('/');
            let mut attrs = Vec::new();
            for part in attrs_text.split('"').collect::<Vec<_>>().chunks(2) {
                if let [k, v] = part {
                    attrs.push((k.trim().trim_end_matches('=').to_string(), v.to_string()));
                }
            }
            let content = rest[end + 1..]
                .split('<')
                .next()
                .unwrap()
                .trim()
                .to_string();
            out.push((attrs, content));
        }
        out
    }

    fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> &'a str {
        &attrs.iter().find(|(k, _)| k == name).unwrap().1
    }

    fn num(attrs: &[(String, String)], name: &str) -> f64 {
        attr(attrs, name).parse().unwrap()
    }

    /// Pixel row of a y tick label ("1.0", "0.0", …).
    fn tick_y(svg: &str, label: &str) -> f64 {
        let ticks: Vec<f64> = elements(svg, "text")
            .into_iter()
            .filter(|(_, c)| c == label)
            .map(|(a, _)| num(&a, "y"))
            .collect();
        assert_eq!(ticks.len(), 1, "tick {label}: {ticks:?}");
        ticks[0]
    }

    /// (x, top, height) of the bars of one colour inside the plot, by x.
    fn bars(svg: &str, colour: RGBColor, top_of_plot: f64) -> Vec<(f64, f64, f64)> {
        let hex = format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2);
        let mut v: Vec<(f64, f64, f64)> = elements(svg, "rect")
            .into_iter()
            .filter(|(a, _)| attr(a, "fill").eq_ignore_ascii_case(&hex))
            .map(|(a, _)| (num(&a, "x"), num(&a, "y"), num(&a, "height")))
            .filter(|&(_, y, _)| y >= top_of_plot - 1.0)
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    }

    #[test]
    fn bar_heights_follow_the_axis_scale_and_clipped_bars_carry_their_value() {
        let mut results = triple("m", "l1", "gap", [Some(0.404), Some(0.75), Some(-1.424)]);
        results.extend(triple("m", "l2", "gap", [Some(1.0), Some(-0.25), None]));
        results.extend(triple(
            "n",
            "x",
            "gap",
            [Some(0.1), Some(0.2), Some(-1620.5)],
        ));
        let figs = r2_figures(&report(results));
        assert_eq!(figs.len(), 1);
        let svg = &figs[0].svg;

        // The axis: tick labels at equal steps.
        let y = |v: f64| tick_y(svg, &format!("{v:.1}"));
        let (top, zero, bottom) = (y(1.0), y(0.0), y(-1.0));
        let scale = (bottom - top) / 2.0; // pixels per unit of R²
        assert!(scale > 100.0, "{scale}");
        assert!((y(0.5) - (zero - 0.5 * scale)).abs() <= 1.0);
        assert!((y(-0.5) - (zero + 0.5 * scale)).abs() <= 1.0);

        // Every bar starts at the zero line and is |R²| × scale long,
        // except the clipped ones, which end at the axis' edge.
        let check = |colour, expected: &[f64]| {
            let got = bars(svg, colour, top);
            assert_eq!(got.len(), expected.len(), "{got:?}");
            for (&(_, t, h), &v) in got.iter().zip(expected) {
                let shown = v.clamp(-1.0, 1.0);
                assert!(
                    (h - shown.abs() * scale).abs() <= 1.5,
                    "R² {v}: height {h}, scale {scale}"
                );
                let (y0, y1) = (t, t + h);
                let (edge_at_zero, far_edge) = if v >= 0.0 { (y1, y0) } else { (y0, y1) };
                assert!(
                    (edge_at_zero - zero).abs() <= 1.0,
                    "R² {v}: {y0}..{y1}, zero {zero}"
                );
                assert!((far_edge - (zero - shown * scale)).abs() <= 1.5, "R² {v}");
            }
        };
        check(SERIES[0].1, &[0.404, 1.0, 0.1]);
        check(SERIES[1].1, &[0.75, -0.25, 0.2]);
        // The geom bar of m/l2 is n/a: no bar, a label.
        check(SERIES[2].1, &[-1.424, -1620.5]);
        let texts: Vec<String> = elements(svg, "text").into_iter().map(|(_, c)| c).collect();
        assert_eq!(texts.iter().filter(|t| *t == "n/a").count(), 1);
        // Clipped bars are labelled with their true value, written along the bar.
        for label in ["-1.424", "-1620.500"] {
            let (a, _) = elements(svg, "text")
                .into_iter()
                .find(|(_, c)| c == label)
                .unwrap_or_else(|| panic!("no label {label}: {texts:?}"));
            assert!(attr(&a, "transform").starts_with("rotate(270"));
            let ly = num(&a, "y");
            assert!(
                ly > zero && ly <= bottom,
                "label at {ly}, plot {zero}..{bottom}"
            );
        }
        // Unclipped values have no value label.
        assert!(!texts.iter().any(|t| t == "0.404" || t == "-0.250"));
        // Group labels in report order, left to right.
        let labels: Vec<(f64, String)> = elements(svg, "text")
            .into_iter()
            .filter(|(_, c)| c.contains('/') && c != "n/a")
            .map(|(a, c)| (num(&a, "x"), c))
            .collect();
        let names: Vec<&str> = labels.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(names, ["m/l1", "m/l2", "n/x"]);
        assert!(labels.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn one_figure_per_target_and_probe_in_report_order_without_channel_groups() {
        let mut results = triple("m", "l", "b", [Some(0.1), Some(0.2), Some(0.3)]);
        results.extend(triple("m", "l", "a", [Some(0.1), Some(0.2), Some(0.3)]));
        let mut gbt = triple("m", "l", "b", [Some(0.1), Some(0.2), Some(0.3)]);
        for r in &mut gbt {
            r.probe = "gbt".into();
        }
        results.extend(gbt);
        let mut chan = record("m", "l", "a", "geom", Some(0.9));
        chan.channels = Some("L1".into());
        chan.model = "channelled".into();
        results.push(chan);
        let figs = r2_figures(&report(results));
        let names: Vec<&str> = figs.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(names, ["r2_b_ridge.svg", "r2_a_ridge.svg", "r2_b_gbt.svg"]);
        assert!(figs[0].title.contains("target b") && figs[2].title.contains("probe gbt"));
        assert!(figs.iter().all(|f| !f.svg.contains("channelled")));
        assert!(figs
            .iter()
            .all(|f| f.svg.starts_with("<svg ") && f.svg.trim_end().ends_with("</svg>")));
    }

    #[test]
    fn markup_in_names_is_escaped_in_the_svg() {
        let results = triple("<m&>", "l", "t", [Some(0.1), Some(0.2), Some(0.3)]);
        let svg = &r2_figures(&report(results))[0].svg;
        assert!(svg.contains("&lt;m&amp;&gt;/l"));
        assert!(!svg.contains("<m&>"));
    }
}
