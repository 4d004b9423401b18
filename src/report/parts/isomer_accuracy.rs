//! The isomer test: how often a probe orders pairs of isomers (same
//! composition, different targets) as their targets are ordered — one
//! section per target and one bar figure per (target, probe). The
//! accuracies are columns of `results.csv`.

use super::{no_csv, Part};
use crate::report::cells::{col, fixed};
use crate::report::figures::{distinct_pairs, figure, panels, LEFT, TOP};
use crate::report::grid::{Section, Table};
use crate::report::plot::Figure;
use crate::report::svg::{frame, tick_label, ticks, Anchor, Scale, Svg};
use crate::report::{Report, ResultRecord};

/// The isomer sections and bars.
pub(super) const PART: Part = Part {
    sections,
    csv: no_csv,
    figures: isomer_bars,
};

/// One "Isomer pairwise accuracy" section per target with scored pairs.
fn sections(report: &Report) -> Vec<Section> {
    report
        .settings
        .targets
        .iter()
        .filter_map(|t| isomer_section(report, t))
        .collect()
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
