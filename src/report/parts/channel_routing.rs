//! Channel routing: each channel group of a layer probed on its own after
//! CPD — its section, `channels.csv` and one heatmap per probe.

use super::Part;
use crate::error::Result;
use crate::report::cells::{col, csv_file, opt, r2, ReportFile};
use crate::report::figures::{distinct, figure, heatmap};
use crate::report::grid::{Section, Table};
use crate::report::plot::Figure;
use crate::report::svg::diverging;
use crate::report::Report;

/// The routing section, `channels.csv` and the routing heatmaps.
pub(super) const PART: Part = Part {
    sections: |report| section(report).into_iter().collect(),
    csv,
    figures: routing_heatmaps,
};

/// `channels.csv`.
const CHANNELS_CSV: &str = "channels.csv";

/// "Channel routing": one row per model/layer/group/probe, one R² geom
/// column per target, both in run order.
fn section(report: &Report) -> Option<Section> {
    if report.channel_routing.is_empty() {
        return None;
    }
    let mut targets: Vec<&str> = Vec::new();
    let mut keys: Vec<(&str, &str, &str, &str)> = Vec::new();
    for r in &report.channel_routing {
        if !targets.contains(&r.target.as_str()) {
            targets.push(&r.target);
        }
        let k = (
            r.model.as_str(),
            r.layer.as_str(),
            r.group.as_str(),
            r.probe.as_str(),
        );
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let r2_geom = |k: (&str, &str, &str, &str), t: &str| {
        report
            .channel_routing
            .iter()
            .find(|r| {
                (
                    r.model.as_str(),
                    r.layer.as_str(),
                    r.group.as_str(),
                    r.probe.as_str(),
                ) == k
                    && r.target == t
            })
            .and_then(|r| r.r2_geom)
    };
    let rows = keys
        .iter()
        .map(|&k| {
            let (m, l, g, p) = k;
            let mut row = vec![m.to_string(), l.to_string(), g.to_string(), p.to_string()];
            row.extend(targets.iter().map(|&t| r2(r2_geom(k, t))));
            row
        })
        .collect();
    let mut columns = vec![
        col("model", false),
        col("layer", false),
        col("group", false),
        col("probe", false),
    ];
    columns.extend(targets.iter().map(|t| col(t, true)));
    Some((
        "Channel routing (R² geom per channel group)".to_string(),
        "Each channel group probed on its own after CPD (for L > 0 irreps with \
         --invariants norms, one norm per copy): where each target's signal lives."
            .to_string(),
        Table { columns, rows },
    ))
}

/// `channels.csv`: one row per channel-routing record.
fn csv(report: &Report) -> Result<Vec<ReportFile>> {
    if report.channel_routing.is_empty() {
        return Ok(Vec::new());
    }
    let rows = report
        .channel_routing
        .iter()
        .map(|r| {
            vec![
                r.model.clone(),
                r.layer.clone(),
                r.group.clone(),
                r.target.clone(),
                r.probe.clone(),
                opt(r.r2_geom),
            ]
        })
        .collect();
    let header = ["model", "layer", "group", "target", "probe", "r2_geom"];
    Ok(vec![csv_file(CHANNELS_CSV, &header, rows)?])
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
