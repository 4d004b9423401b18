//! Typed errors of the library. Every variant names the file (and where it
//! applies the row, column and id) so the CLI can print one clear line.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = CpdError> = std::result::Result<T, E>;

/// Everything that can go wrong between reading inputs and writing a report.
#[derive(Debug, thiserror::Error)]
pub enum CpdError {
    /// A file could not be opened, read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error. Part of the message, and not also
        /// the error's source: a chain printed whole (`{:#}`) would say it
        /// twice.
        error: std::io::Error,
    },
    /// A file's content does not have the expected format.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the expected and found values.
        message: String,
    },
    /// A cell of a table is wrong (not numeric, not finite, empty, ...).
    #[error("{path}: row {row}, column '{column}': {message}")]
    Cell {
        /// The file.
        path: PathBuf,
        /// 1-based data row (the header is row 0).
        row: usize,
        /// Column name.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// Rows of two inputs cannot be matched.
    #[error("{path}: {message}")]
    Alignment {
        /// The file whose rows do not match the reference file.
        path: PathBuf,
        /// Which id or count is wrong, and in which other file.
        message: String,
    },
    /// Settings or arguments that cannot be used together or are out of range.
    #[error("invalid setting: {0}")]
    Invalid(String),
    /// Partial reports that are not every shard of one run, once each.
    #[error("cannot merge: {0}")]
    Merge(String),
    /// A numerical routine failed (for example an eigendecomposition did not converge).
    #[error("numerical failure: {0}")]
    Numerical(String),
}

impl CpdError {
    /// Build an [`CpdError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        CpdError::Io {
            path: path.into(),
            error,
        }
    }

    /// Build a [`CpdError::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        CpdError::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
