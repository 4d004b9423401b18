//! Human-readable renderings: the text table printed by the CLI and
//! `report.md`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Report, ResultRecord};

/// One line of the pivoted view: a (model, layer, channels, target, probe)
/// with its composition / raw / geom records.
struct Row<'a> {
    model: &'a str,
    layer: &'a str,
    target: &'a str,
    probe: &'a str,
    comp: Option<&'a ResultRecord>,
    raw: Option<&'a ResultRecord>,
    geom: Option<&'a ResultRecord>,
}

fn pivot(report: &Report) -> Vec<Row<'_>> {
    let mut order: Vec<(String, String, String, String, String)> = Vec::new();
    let mut rows: BTreeMap<(String, String, String, String, String), Row<'_>> = BTreeMap::new();
    for r in &report.results {
        let key = (
            r.model.clone(),
            r.layer.clone(),
            r.channels.clone().unwrap_or_default(),
            r.target.clone(),
            r.probe.clone(),
        );
        let row = rows.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Row {
                model: &r.model,
                layer: &r.layer,
                target: &r.target,
                probe: &r.probe,
                comp: None,
                raw: None,
                geom: None,
            }
        });
        match r.representation.as_str() {
            "composition" => row.comp = Some(r),
            "raw" => row.raw = Some(r),
            _ => row.geom = Some(r),
        }
    }
    order
        .into_iter()
        .map(|k| rows.remove(&k).expect("inserted"))
        .collect()
}

fn cell(r: Option<&ResultRecord>) -> String {
    match r.and_then(|r| r.r2_mean.zip(r.r2_std)) {
        Some((m, s)) => format!("{m:.3} ± {s:.3}"),
        None => "—".into(),
    }
}

/// The short table printed on stdout: R² (mean ± std over folds) of the
/// composition-only, raw and residual representations side by side.
pub fn text_table(report: &Report) -> String {
    let rows = pivot(report);
    let header = [
        "model", "layer", "target", "probe", "R² comp", "R² raw", "R² geom",
    ];
    let body: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.model.to_string(),
                r.layer.to_string(),
                r.target.to_string(),
                r.probe.to_string(),
                cell(r.comp),
                cell(r.raw),
                cell(r.geom),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &body {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = w - c.chars().count();
                if i >= 4 {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut out, &header.map(String::from));
    for row in &body {
        line(&mut out, row);
    }
    out
}

/// `report.md`: settings, inputs, composition basis and the results.
pub fn report_markdown(report: &Report) -> String {
    let s = &report.settings;
    let mut md = String::new();
    let _ = writeln!(md, "# cpd report\n");
    let _ = writeln!(
        md,
        "{} {} · {} folds ({}) · probes: {} · composition: {} (rank {}{}) · target residualised: {}\n",
        report.tool.name,
        report.tool.version,
        s.folds,
        match (&s.folds_file, s.seed) {
            (Some(f), _) => format!("from {f}"),
            (None, Some(seed)) => format!("shuffled, seed {seed}"),
            _ => "given".into(),
        },
        s.probes.join(", "),
        s.composition_mode,
        report.composition.rank,
        if report.composition.dropped.is_empty() {
            String::new()
        } else {
            format!(", dropped {}", report.composition.dropped.join(", "))
        },
        if s.residualize_target { "yes" } else { "no" },
    );
    let _ = writeln!(
        md,
        "R² is the mean ± std over folds of scikit-learn's `r2_score` on each held-out fold. \
         *comp*: probe on composition alone; *raw*: on the embedding; *geom*: on the embedding \
         after removing everything linear in composition (`H − Q Qᵀ H`).\n"
    );
    let _ = writeln!(md, "## Results\n");
    let _ = writeln!(md, "| model | layer | target | probe | R² comp | R² raw | R² geom | R² geom pooled | alpha geom |");
    let _ = writeln!(md, "|---|---|---|---|---:|---:|---:|---:|---:|");
    for r in pivot(report) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.model,
            r.layer,
            r.target,
            r.probe,
            cell(r.comp),
            cell(r.raw),
            cell(r.geom),
            r.geom
                .and_then(|g| g.r2_pooled)
                .map_or("—".into(), |v| format!("{v:.3}")),
            r.geom
                .and_then(|g| g.alpha)
                .map_or("—".into(), |v| format!("{v}")),
        );
    }
    let _ = writeln!(md, "\n## Inputs\n");
    let _ = writeln!(md, "| role | path | model | layer | rows | cols | sha256 |");
    let _ = writeln!(md, "|---|---|---|---|---:|---:|---|");
    for i in &report.inputs {
        let _ = writeln!(
            md,
            "| {} | `{}` | {} | {} | {} | {} | `{}` |",
            i.role,
            i.path,
            i.model.as_deref().unwrap_or(""),
            i.layer.as_deref().unwrap_or(""),
            i.rows,
            i.cols,
            &i.sha256[..12.min(i.sha256.len())]
        );
    }
    let _ = writeln!(
        md,
        "\nComposition columns: {} (mode {}, rank {} of {} with the intercept).",
        report.composition.columns.join(", "),
        report.composition.mode,
        report.composition.rank,
        report.composition.columns.len() + 1
    );
    md
}
