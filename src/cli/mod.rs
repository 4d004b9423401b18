//! The command line, built as ripgrep builds its own: clap parses the
//! arguments into validated values ([`args`]); [`config`] turns them, with a
//! manifest, into the run's configuration; one module per command calls the
//! library and prints ([`analyze`], [`check`], [`inspect`], [`pool`],
//! [`merge`], [`slurm`]). Only this layer
//! prints and chooses exit codes.

mod analyze;
mod args;
mod check;
mod config;
mod inspect;
mod merge;
mod pool;
mod progress;
mod slurm;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Parse the arguments, run the command, print an error once at the top
/// with its chain of context. Exit codes: 0 success; 1 `cpd check` found a
/// record that moved beyond tolerance or is missing; 2 usage or input error.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(*args),
        Command::Check(args) => check::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Pool(args) => pool::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Slurm(args) => slurm::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
