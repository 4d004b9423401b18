//! `cpd inspect`: print what an embedding file holds.

use std::process::ExitCode;

use super::args::InspectArgs;
use cpd::describe::inspect;

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let info = inspect(&args.file)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} layer(s), {}",
        info.path,
        info.layers.len(),
        match info.ids {
            Some(n) => format!("{n} row ids"),
            None => "no row ids (rows follow the compositions' order)".into(),
        }
    );
    if let Some(atoms) = info.atoms {
        println!("per atom: {atoms} atom rows, mean-pooled into one row per structure below");
    }
    for l in info.layers.iter().filter(|l| !l.groups.is_empty()) {
        let groups: Vec<String> = l
            .groups
            .iter()
            .map(|g| format!("{} = columns {}..{}", g.name, g.start, g.end))
            .collect();
        println!(
            "layer '{}': irreps {}: {}",
            l.name,
            l.irreps.as_deref().unwrap_or(""),
            groups.join(", ")
        );
    }
    let g = |v: f64| format!("{v:.4e}");
    let mut rows = vec![[
        "layer", "rows", "cols", "dtype", "order", "NaN", "Inf", "constant", "zero", "min", "max",
    ]
    .map(String::from)
    .to_vec()];
    for l in &info.layers {
        rows.push(vec![
            l.name.clone(),
            l.rows.to_string(),
            l.cols.to_string(),
            l.dtype.clone(),
            l.order.clone(),
            l.nan.to_string(),
            l.inf.to_string(),
            l.constant_columns.to_string(),
            l.zero_columns.to_string(),
            g(l.min),
            g(l.max),
        ]);
    }
    print_aligned(&rows);
    for l in &info.layers {
        if l.nan + l.inf > 0 {
            println!(
                "layer '{}': {} NaN and {} Inf values; cpd analyze refuses non-finite embeddings",
                l.name, l.nan, l.inf
            );
        }
        if !l.sparse_columns.is_empty() {
            let shown: Vec<String> = l
                .sparse_owners
                .iter()
                .take(10)
                .map(|o| {
                    let who = o.id.clone().unwrap_or_else(|| format!("row {}", o.row));
                    format!("{who} ({})", o.columns)
                })
                .collect();
            println!(
                "layer '{}': {} sparse column(s) (non-zero in fewer than 1 % of rows), owned by {} row(s): {}{}",
                l.name,
                l.sparse_columns.len(),
                l.sparse_owners.len(),
                shown.join(", "),
                if l.sparse_owners.len() > 10 { ", …" } else { "" }
            );
            println!(
                "  a held-out owner lands far outside its training fold's range: see the instability section of cpd analyze (the default --scale robust keeps such columns from deciding a fold)"
            );
        }
        if args.columns {
            println!("\nlayer '{}':", l.name);
            let mut rows = vec![["column", "mean", "std", "min", "max", "NaN", "Inf"]
                .map(String::from)
                .to_vec()];
            for c in &l.columns {
                rows.push(vec![
                    c.column.to_string(),
                    g(c.mean),
                    g(c.std),
                    g(c.min),
                    g(c.max),
                    c.nan.to_string(),
                    c.inf.to_string(),
                ]);
            }
            print_aligned(&rows);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Print rows as left-aligned columns.
fn print_aligned(rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|j| {
            rows.iter()
                .map(|r| r.get(j).map_or(0, |c| c.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
