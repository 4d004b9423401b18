//! `cpd analyze --shard I/N` (one shard, written as a partial report) and
//! `cpd merge` (the parts joined into the full report).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use super::args::{AnalyzeArgs, MergeArgs};
use super::progress::progress_sink;
use cpd::report::markdown::text_table;
use cpd::report::markdown::verdict_text;
use cpd::report::write::{
    folds_csv, predictions_csv, write_files, write_outputs, FOLDS_CSV, PREDICTIONS_CSV, REPORT_JSON,
};
use cpd::run::join::{merge, read_part, sha256_hex};
use cpd::run::shard::{PartialReport, Shard};
use cpd::run::{analyze_shard, AnalyzeConfig, Progress};

/// Progress messages that name the shard.
struct ShardProgress<'a> {
    inner: &'a dyn Progress,
    shard: Shard,
}

impl Progress for ShardProgress<'_> {
    fn add_work(&self, n: u64) {
        self.inner.add_work(n);
    }
    fn stage(&self, what: &str) {
        self.inner.stage(&format!("shard {}: {what}", self.shard));
    }
    fn done(&self) {
        self.inner.done();
    }
}

/// Run one shard and write its partial report (`folds.csv`, then
/// `report.json` with its `shard` section) into `dir`.
pub fn run_shard(
    args: &AnalyzeArgs,
    config: &AnalyzeConfig,
    shard: Shard,
    dir: &Path,
) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let sink = progress_sink(args.progress, args.quiet);
    let progress = ShardProgress {
        inner: sink.as_ref(),
        shard,
    };
    let result = analyze_shard(config, shard, &progress);
    drop(sink);
    let sa = result.with_context(|| format!("shard {shard}"))?;
    let folds = folds_csv(&sa.analysis.ids, &sa.analysis.folds.assignment)?;
    let predictions = if config.predictions {
        let a = &sa.analysis;
        Some(predictions_csv(
            &a.report,
            &a.ids,
            &a.folds.assignment,
            a.targets.view(),
            &a.predictions,
        )?)
    } else {
        None
    };
    let mut info = sa.shard;
    info.folds_sha256 = sha256_hex(&folds);
    let units: Vec<String> = info
        .units
        .iter()
        .map(|u| format!("{}/{}/{}", u.model, u.layer, u.probe))
        .collect();
    let (n_units, n_plan) = (info.units.len(), info.plan.len());
    let partial = PartialReport {
        report: sa.analysis.report,
        shard: info,
    };
    let mut json = serde_json::to_string_pretty(&partial).context("serialising the report")?;
    json.push('\n');
    let mut files = vec![(FOLDS_CSV.to_string(), folds)];
    if let Some(p) = predictions {
        files.push((PREDICTIONS_CSV.to_string(), p));
    }
    files.push((REPORT_JSON.to_string(), json.into_bytes()));
    let written = write_files(dir, files)?;
    if !args.quiet {
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        eprintln!("wrote {}", names.join(", "));
        println!(
            "cpd {}: shard {shard}: {n_units} of {n_plan} work units ({}), {} records, {:.2} s",
            partial.report.tool.version,
            if units.is_empty() {
                "none".to_string()
            } else {
                units.join(", ")
            },
            partial.report.results.len(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `cpd merge PARTS… --out DIR`.
pub fn run(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let parts = args
        .parts
        .iter()
        .map(|p| read_part(p))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = merge(&parts)?;
    let extra = match merged.predictions_csv.clone() {
        Some(p) => vec![(PREDICTIONS_CSV.to_string(), p)],
        None => Vec::new(),
    };
    let written = write_outputs(
        &args.out,
        &merged.report,
        &merged.ids,
        &merged.assignment,
        extra,
    )?;
    if !args.quiet {
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        eprintln!("wrote {}", names.join(", "));
        let r = &merged.report;
        if !r.verdict.is_empty() {
            println!("Verdict:\n{}", verdict_text(r));
        }
        println!(
            "cpd {}: merged {} shards: {} structures, {} folds, {} records, {:.2} s of compute",
            r.tool.version,
            parts.len(),
            merged.ids.len(),
            r.settings.folds,
            r.results.len(),
            r.timing.seconds
        );
        print!("{}", text_table(r));
    }
    Ok(ExitCode::SUCCESS)
}
