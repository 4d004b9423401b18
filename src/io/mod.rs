//! Loading inputs: embedding matrices (`.npy`, `.npz`, CSV), tables with an
//! `id` column (compositions, targets, folds) and extended-XYZ structures.
//!
//! Loaders only parse and validate; matching rows across files happens in
//! [`crate::flow::dataset`].

pub mod elements;
pub mod embeddings;
pub mod ids;
pub mod layout;
pub mod npy;
pub mod peratom;
pub mod stream;
pub mod table;
pub mod xyz;

use std::io::Read;
use std::path::{Path, PathBuf};

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

/// The files `pattern` names: itself, or, when its file name holds `*`
/// (any run of characters) or `?` (one character), the files of its
/// directory whose names match, sorted by name (so `emb_*.npy` lists
/// `emb_000.npy`, `emb_001.npy`, ... in order). A pattern that matches
/// nothing is an error.
pub fn expand_glob(pattern: &Path) -> Result<Vec<PathBuf>> {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return Ok(vec![pattern.to_owned()]);
    };
    if !name.contains(['*', '?']) {
        return Ok(vec![pattern.to_owned()]);
    }
    let dir = match pattern.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let entries = std::fs::read_dir(&dir).map_err(|e| CpdError::io(&dir, e))?;
    let pat: Vec<char> = name.chars().collect();
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| wildcard(&pat, &n.chars().collect::<Vec<_>>()))
        })
        .map(|e| pattern.with_file_name(e.file_name()))
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(CpdError::Invalid(format!(
            "no file matches '{}'",
            pattern.display()
        )));
    }
    Ok(found)
}

/// `*` / `?` matching of a whole name.
fn wildcard(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => (0..=s.len()).any(|k| wildcard(&p[1..], &s[k..])),
        Some('?') => !s.is_empty() && wildcard(&p[1..], &s[1..]),
        Some(c) => s.first() == Some(c) && wildcard(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod glob_tests {
    use super::*;

    #[test]
    fn globs_list_matching_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "emb_010.npy",
            "emb_002.npy",
            "emb_001.npy",
            "other.npy",
            "emb_1.csv",
        ] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        let got = expand_glob(&dir.path().join("emb_*.npy")).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["emb_001.npy", "emb_002.npy", "emb_010.npy"]);
        assert_eq!(
            expand_glob(&dir.path().join("emb_00?.npy")).unwrap().len(),
            2
        );
        let plain = dir.path().join("other.npy");
        assert_eq!(expand_glob(&plain).unwrap(), vec![plain]);
        let e = expand_glob(&dir.path().join("x_*.npy"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no file matches") && e.contains("x_*.npy"),
            "{e}"
        );
    }
}
