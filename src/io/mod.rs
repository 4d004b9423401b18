//! Loading inputs: embedding matrices (`.npy`, `.npz`, CSV), tables with an
//! `id` column (compositions, targets, folds) and extended-XYZ structures.
//!
//! Loaders only parse and validate; matching rows across files happens in
//! [`crate::flow::dataset`].

pub mod elements;
pub mod embeddings;
pub mod layout;
pub mod npy;
pub mod peratom;
pub mod table;
pub mod xyz;

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{CpdError, Result};

/// Magnitudes beyond this overflow sums of squares in f64.
pub const MAX_ABS_VALUE: f64 = 1e100;

/// Hex SHA-256 of a file's bytes, recorded in reports so a run can be traced
/// to the exact inputs.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| CpdError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| CpdError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
