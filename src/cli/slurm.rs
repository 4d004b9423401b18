//! `cpd slurm`: write the array and merge job scripts, and submit them with
//! `--submit` (`sbatch --parsable`, the merge `--dependency=afterok` on
//! the array).

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
    println!(
        "{} work units over {} shards; submit with: sh {}",
        plan.len(),
        job.shards,
        job.out.join(cpd::run::jobs::SUBMIT_SH).display()
    );
    if args.submit {
        let array = sbatch(&[], &job.out.join(ARRAY_SH))?;
        let merge = sbatch(
            &[format!("--dependency=afterok:{array}")],
            &job.out.join(MERGE_SH),
        )?;
        println!(
            "submitted array job {array} ({} tasks) and merge job {merge} (afterok:{array})",
            job.shards
        );
        println!("merged report: {}", job.out.join("report.json").display());
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
