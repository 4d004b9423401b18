//! `cpd check`: compare a report with a baseline and print the records
//! that moved, are missing or are new, with notes.

use std::process::ExitCode;

use super::args::CheckArgs;
use cpd::report::compare::{check, LoadedReport, Metric, Row, Status};

fn fmt_value(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let metric = Metric::parse(&args.metric)?;
    let baseline = LoadedReport::load(&args.baseline)?;
    let new = LoadedReport::load(&args.report)?;
    let outcome = check(&baseline, &new, metric, args.tol)?;
    let shown: Vec<&Row> = outcome
        .rows
        .iter()
        .filter(|r| args.all || r.status != Status::Ok)
        .collect();
    if !shown.is_empty() {
        let width = shown.iter().map(|r| r.key.len()).max().unwrap_or(6).max(6);
        println!(
            "{:<8} {:<width$} {:>10} {:>10} {:>10} {:>8}",
            "status", "record", "baseline", "new", "delta", "tol"
        );
        for r in &shown {
            println!(
                "{:<8} {:<width$} {:>10} {:>10} {:>10} {:>8}",
                r.status.label(),
                r.key,
                fmt_value(r.baseline),
                fmt_value(r.new),
                r.delta().map_or_else(|| "-".into(), |d| format!("{d:+.4}")),
                format!("{}", r.tol)
            );
        }
    }
    for d in &outcome.settings_differ {
        println!("note: settings differ: {d}");
    }
    for (key, which) in &outcome.unstable {
        let which = match *which {
            "both" => "in both reports",
            "baseline" => "in the baseline",
            _ => "in the new report",
        };
        println!(
            "note: unstable {which}: {key} (a few structures decide its mean R²; gate it with --metric r2_median or a per-record \"tol\")"
        );
    }
    println!(
        "check {}: {} within tolerance, {} moved, {} missing, {} new ({} against {}, {}, tol {})",
        if outcome.passed() { "passed" } else { "FAILED" },
        outcome.count(Status::Ok),
        outcome.count(Status::Moved),
        outcome.count(Status::Missing),
        outcome.count(Status::New),
        new.path(),
        baseline.path(),
        metric.name(),
        args.tol
    );
    Ok(if outcome.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
