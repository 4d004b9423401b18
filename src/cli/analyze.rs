//! `cpd analyze`: build the run's configuration, run it with progress,
//! write the report files and print the table.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use clap::ArgMatches;

use super::args::AnalyzeArgs;
use super::config::{demo_manifest, settings_and_inputs};
use super::progress::progress_sink;
use cpd::report::markdown::verdict_text;
use cpd::report::markdown::{run_line, text_table};
use cpd::report::write::{predictions_csv, prepare_out_dir, write_outputs, PREDICTIONS_CSV};
use cpd::run::analyze_with_progress;

pub fn run(args: AnalyzeArgs, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting up the thread pool")?;
    }
    let demo = args.manifest.is_none()
        && args.embeddings.is_empty()
        && args.compositions.is_none()
        && args.structures.is_none()
        && args.targets.is_none();
    let manifest = if demo {
        Some(demo_manifest())
    } else {
        args.manifest.clone()
    };
    let (settings, inputs) = settings_and_inputs(&args, matches, manifest.as_deref())?;
    if args.print_settings {
        print!("{}", settings.to_toml()?);
        return Ok(ExitCode::SUCCESS);
    }
    let config = settings.config(inputs)?;
    let out = match (&args.out, demo) {
        (Some(dir), _) => Some(dir.clone()),
        (None, true) => Some(PathBuf::from("reports")),
        (None, false) => None,
    };
    if config.predictions && out.is_none() {
        bail!("setting `predictions` writes predictions.csv and needs --out DIR");
    }
    if let Some(dir) = &out {
        prepare_out_dir(dir).context("output directory is not writable")?;
    }
    if let Some(shard) = args.shard {
        let Some(dir) = &out else {
            bail!("--shard writes a partial report and needs --out DIR");
        };
        return super::merge::run_shard(&args, &config, shard, dir);
    }
    let progress = progress_sink(args.progress, args.quiet);
    let analysis = analyze_with_progress(&config, progress.as_ref());
    drop(progress); // a finished bar is cleared before anything else prints
    let analysis = analysis?;
    if let Some(dir) = &out {
        let extra = if config.predictions {
            vec![(
                PREDICTIONS_CSV.to_string(),
                predictions_csv(
                    &analysis.report,
                    &analysis.ids,
                    &analysis.folds.assignment,
                    analysis.targets.view(),
                    &analysis.predictions,
                )?,
            )]
        } else {
            Vec::new()
        };
        let written = write_outputs(
            dir,
            &analysis.report,
            &analysis.ids,
            &analysis.folds.assignment,
            extra,
        )?;
        if !args.quiet {
            let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            eprintln!("wrote {}", names.join(", "));
        }
    }
    if !args.quiet {
        let r = &analysis.report;
        for s in &r.settings.skipped {
            eprintln!("skipped target '{}': {}", s.target, s.reason);
        }
        if !r.verdict.is_empty() {
            println!("Verdict:\n{}", verdict_text(r));
        }
        println!(
            "{}, {:.2} s",
            run_line(r, analysis.ids.len()),
            r.timing.seconds
        );
        print!("{}", text_table(r));
    }
    Ok(ExitCode::SUCCESS)
}
