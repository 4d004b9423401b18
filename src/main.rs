//! `cpd` command line: parses arguments, calls the library, prints (see
//! [`cli`]).
//!
//! Exit codes, for every command: 0 success; 1 `cpd check` failed (a
//! baseline record moved or is missing, or an assertion of the manifest's
//! `[[checks]]` failed); 2 usage or input error (bad arguments, unreadable
//! or inconsistent files, a check whose selector matches no record).

mod cli;

use std::process::ExitCode;

/// Return freed large blocks to the system at once.
///
/// glibc raises its mmap threshold each time a large block is freed (up to
/// 32 MiB), after which blocks of that size come from per-thread heaps that
/// are rarely given back: a run that frees many d×d and row-block buffers
/// then holds tens of MB it no longer uses (40 MB on a 40 000 × 512 layer).
/// Fixing the threshold at its default (128 KiB) keeps the peak at what is
/// live.
fn fix_malloc_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> ExitCode {
    fix_malloc_threshold();
    cli::run()
}
