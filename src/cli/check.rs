//! `cpd check`: compare a report with a baseline and/or assert a
//! manifest's `[[checks]]` on it, print (or write) the outcome in the
//! chosen format, and exit 0 (pass), 1 (a record moved or is missing, an
//! assertion failed) or 2 (bad input, through the error path).

use std::process::ExitCode;

use anyhow::Context;

use super::args::{CheckArgs, FormatArg, ModeArg};
use cpd::error::CpdError;
use cpd::manifest::Manifest;
use cpd::report::assertions::assert_checks;
use cpd::report::compare::{compare, LoadedReport, Metric, Mode, Options};
use cpd::report::gate::{Assertions, Comparison, Format, Gate};
use cpd::report::write::{append_file, write_file};

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let new = LoadedReport::load(&args.report)?;
    let comparison = match &args.baseline {
        Some(path) => {
            let options = Options {
                mode: match args.mode {
                    ModeArg::Tol => Mode::Tol,
                    ModeArg::Interval => Mode::Interval,
                },
                metric: Metric::parse(&args.metric)?,
                tol: args.tol,
            };
            let baseline = LoadedReport::load(path)?;
            let outcome = compare(&baseline, &new, options)?;
            Some(Comparison {
                baseline: baseline.path().to_string(),
                outcome,
            })
        }
        None => None,
    };
    let assertions = match &args.manifest {
        Some(path) => {
            let manifest = Manifest::load(path)?;
            if manifest.checks.is_empty() {
                return Err(CpdError::format(
                    path,
                    "no [[checks]] tables: nothing to assert (add one, or leave out --manifest)",
                )
                .into());
            }
            let results = assert_checks(&manifest.checks, &new)
                .map_err(|e| CpdError::format(path, e.to_string()))?;
            Some(Assertions {
                manifest: path.display().to_string(),
                checks: manifest.checks.len(),
                results,
            })
        }
        None => None,
    };
    let gate = Gate {
        report: new.path().to_string(),
        comparison,
        assertions,
    };
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Junit => Format::Junit,
        FormatArg::Github => Format::Github,
    };
    let rendered = gate.render(format, args.all);
    match &args.output {
        Some(path) => {
            write_file(path, rendered.as_bytes())?;
            print!("{}", gate.text(args.all));
        }
        None => print!("{rendered}"),
    }
    if format == Format::Github {
        if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
            let path = std::path::PathBuf::from(summary);
            append_file(&path, &gate.step_summary(args.all))
                .with_context(|| "appending the step summary ($GITHUB_STEP_SUMMARY)")?;
        }
    }
    Ok(if gate.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
