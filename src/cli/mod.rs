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

use clap::{CommandFactory, FromArgMatches};

use args::{Cli, Command};

/// Parse the arguments, run the command, print an error once at the top
/// with its chain of context. Exit codes: 0 success; 1 `cpd check` failed
/// (a record moved or is missing, an assertion failed); 2 usage or input
/// error.
pub fn run() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Analyze(args) => {
            let sub = matches
                .subcommand_matches("analyze")
                .expect("the analyze subcommand was parsed");
            analyze::run(*args, sub)
        }
        Command::Check(args) => check::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Pool(args) => pool::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Slurm(args) => slurm::run(args),
        Command::Reference(args) => reference(args.page),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", with_flags(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Print a generated reference page.
fn reference(page: args::Page) -> anyhow::Result<ExitCode> {
    match page {
        args::Page::Cli => {
            let options = clap_markdown::MarkdownOptions::new()
                .title("Command reference".into())
                .show_footer(false)
                .show_table_of_contents(true);
            print!("{}", clap_markdown::help_markdown_custom::<Cli>(&options));
        }
        args::Page::Settings => print!("{}", cpd::settings::reference_markdown()?),
    }
    Ok(ExitCode::SUCCESS)
}

/// A message with the flag after every setting it names: "setting
/// `gbt.max_leaves`" becomes "setting `gbt.max_leaves` (--gbt-max-leaves)".
fn with_flags(message: &str) -> String {
    let mut out = message.to_owned();
    for name in cpd::settings::names() {
        let quoted = format!("`{}`", cpd::settings::key(&name));
        let with = format!("{quoted} ({})", cpd::settings::flag(&name));
        if out.contains(&quoted) && !out.contains(&with) {
            out = out.replace(&quoted, &with);
        }
    }
    out
}
