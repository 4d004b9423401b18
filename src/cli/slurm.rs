//! `cpd slurm`: write the array and merge job scripts, and submit them with
//! `--submit` (`sbatch --parsable`, the merge `--dependency=afterany` on
//! the array); with `--resume`, only the tasks of the shards whose part is
//! missing or incomplete, then the merge.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};

use super::args::SlurmArgs;

use cpd::run::jobs::{parse_job_id, SlurmJob, ARRAY_SH, MERGE_SH};

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
}

pub fn run(args: SlurmArgs) -> anyhow::Result<ExitCode> {
    if !args.manifest.is_file() {
        bail!("manifest {} does not exist", args.manifest.display());
    }
    let job = SlurmJob {
        cpd: std::env::current_exe().context("finding the cpd binary")?,
        manifest: absolute(&args.manifest)?,
        shards: args.shards,
        out: absolute(&args.out)?,
        sbatch_args: args
            .sbatch_args
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    };
    // Plan now, so a bad manifest fails here and not in N jobs.
    let config = cpd::manifest::Manifest::load(&job.manifest)?.to_config()?;
    let plan = cpd::run::shard::plan(&config)?;
    let written = job.write()?;
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    eprintln!("wrote {}", names.join(", "));
    if args.resume {
        println!("{} work units over {} shards", plan.len(), job.shards);
    } else {
        println!(
            "{} work units over {} shards; submit with: sh {}",
            plan.len(),
            job.shards,
            job.out.join(cpd::run::jobs::SUBMIT_SH).display()
        );
    }
    let tasks = if args.resume {
        let incomplete = job.incomplete(&plan);
        for (i, why) in &incomplete {
            println!("shard {i}: to run again: {why}");
        }
        if incomplete.is_empty() {
            println!("every shard's part is complete: only the merge is left");
        }
        Some(
            incomplete
                .iter()
                .map(|(i, _)| i.to_string())
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    if args.submit {
        let array = match &tasks {
            None => Some(sbatch(&[], &job.out.join(ARRAY_SH))?),
            Some(t) if t.is_empty() => None,
            Some(t) => Some(sbatch(
                &[format!("--array={}", t.join(","))],
                &job.out.join(ARRAY_SH),
            )?),
        };
        let dependency: Vec<String> = array
            .iter()
            .map(|a| format!("--dependency=afterany:{a}"))
            .collect();
        let merge = sbatch(&dependency, &job.out.join(MERGE_SH))?;
        match &array {
            Some(array) => {
                let n = tasks.as_ref().map_or(job.shards, Vec::len);
                let s = if n == 1 { "" } else { "s" };
                println!(
                    "submitted array job {array} ({n} task{s}) and merge job {merge} (afterany:{array})"
                )
            }
            None => println!("submitted merge job {merge}"),
        }
        println!("merged report: {}", job.out.join("report.json").display());
    } else if let Some(t) = tasks {
        if t.is_empty() {
            println!(
                "submit it with: sbatch {} (or add --submit)",
                job.out.join(MERGE_SH).display()
            );
        } else {
            println!(
                "submit them with: sbatch --array={} {}, then sbatch --dependency=afterany:<its job id> {} (or add --submit)",
                t.join(","),
                job.out.join(ARRAY_SH).display(),
                job.out.join(MERGE_SH).display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sbatch --parsable ARGS SCRIPT`; the job id.
fn sbatch(args: &[String], script: &Path) -> anyhow::Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .context("running sbatch (is SLURM installed and on PATH?)")?;
    if !out.status.success() {
        bail!(
            "sbatch {} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(parse_job_id(&String::from_utf8_lossy(&out.stdout))?)
}
