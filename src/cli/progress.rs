//! Progress on stderr: a bar on a terminal, one line per layer in a batch
//! log (`--progress always`), nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::ProgressArg;
use cpd::run::{NoProgress, Progress};

/// A terminal progress bar.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn add_work(&self, n: u64) {
        self.0.inc_length(n);
    }
    fn stage(&self, what: &str) {
        self.0.set_message(what.to_owned());
    }
    fn done(&self) {
        self.0.inc(1);
    }
}

/// Plain progress lines for a stderr that is not a terminal
/// (`--progress always` in a batch log).
struct Lines {
    total: AtomicU64,
    done: AtomicU64,
}

impl Progress for Lines {
    fn add_work(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }
    fn stage(&self, what: &str) {
        eprintln!(
            "cpd: {}/{} fits done; {what}",
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed)
        );
    }
    fn done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn progress_sink(mode: ProgressArg, quiet: bool) -> Box<dyn Progress> {
    let tty = std::io::stderr().is_terminal();
    match (mode, quiet, tty) {
        (ProgressArg::Never, _, _) | (_, true, _) | (ProgressArg::Auto, false, false) => {
            Box::new(NoProgress)
        }
        (_, false, true) => {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} fits, eta {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            Box::new(Bar(bar))
        }
        (ProgressArg::Always, false, false) => Box::new(Lines {
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }),
    }
}
