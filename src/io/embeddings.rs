//! Embedding matrices: `.npy` (one layer), `.npz` (one layer per array, plus
//! an optional integer `ids` array) or CSV with an `id` column.
//!
//! Values are widened to `f64` on load (all arithmetic accumulates in f64);
//! NaN and Inf are rejected with the row and column of the first offender.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use ndarray_npy::{NpzReader, ReadNpyError, ReadNpyExt, ReadNpzError};

use crate::error::{CpdError, Result};
use crate::io::table::read_table;

/// One embedding matrix (a layer) read from a file.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Layer name: the array name inside an `.npz`, else the file stem.
    pub name: String,
    /// On-disk element type (`float32`, `float64`).
    pub dtype: &'static str,
    /// `n × d` values in f64.
    pub data: Array2<f64>,
}

/// Everything read from one embedding file.
#[derive(Debug, Clone)]
pub struct EmbeddingFile {
    /// The file.
    pub path: PathBuf,
    /// Row ids when the file carries them (`.npz` `ids` array, CSV `id` column).
    pub ids: Option<Vec<String>>,
    /// Layers in file order.
    pub layers: Vec<Layer>,
}

/// Name of the optional id array in an `.npz` file.
pub const IDS_ARRAY: &str = "ids";

/// Load an embedding file, choosing the reader by extension.
pub fn load(path: &Path) -> Result<EmbeddingFile> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("embedding")
        .to_owned();
    if !path.is_file() {
        return Err(CpdError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let file = match ext.as_str() {
        "npy" => {
            let (data, dtype) = read_npy_matrix(path)?;
            EmbeddingFile {
                path: path.to_owned(),
                ids: None,
                layers: vec![Layer {
                    name: stem,
                    dtype,
                    data,
                }],
            }
        }
        "npz" => read_npz(path)?,
        "csv" => {
            let t = read_table(path)?;
            EmbeddingFile {
                path: path.to_owned(),
                ids: Some(t.ids),
                layers: vec![Layer {
                    name: stem,
                    dtype: "float64",
                    data: t.values,
                }],
            }
        }
        _ => {
            return Err(CpdError::format(
                path,
                format!("unknown embedding format '.{ext}': expected .npy, .npz or .csv"),
            ))
        }
    };
    for layer in &file.layers {
        check_finite(path, &layer.name, &layer.data)?;
        if layer.data.ncols() == 0 {
            return Err(CpdError::format(
                path,
                format!("layer '{}' has 0 columns", layer.name),
            ));
        }
    }
    if let Some(ids) = &file.ids {
        for layer in &file.layers {
            if layer.data.nrows() != ids.len() {
                return Err(CpdError::format(
                    path,
                    format!(
                        "layer '{}' has {} rows but the ids array has {}",
                        layer.name,
                        layer.data.nrows(),
                        ids.len()
                    ),
                ));
            }
        }
    }
    Ok(file)
}

fn npy_error(path: &Path, what: &str, e: ReadNpyError) -> CpdError {
    let message = match e {
        ReadNpyError::WrongNdim(_, got) => {
            format!("{what}: expected a 2-D array (rows × features), found {got} dimension(s)")
        }
        ReadNpyError::WrongDescriptor(d) => {
            format!("{what}: unsupported dtype {d}, expected float32 or float64")
        }
        ReadNpyError::MissingData => {
            format!("{what}: the file is shorter than its header's shape says (truncated?)")
        }
        ReadNpyError::ExtraBytes(n) => {
            format!("{what}: {n} bytes beyond the data the header's shape describes")
        }
        other => format!("{what}: {other}"),
    };
    CpdError::format(path, message)
}

/// Read a 2-D float array, trying float64 and then float32 (either byte
/// order, C or Fortran layout).
fn read_npy_matrix(path: &Path) -> Result<(Array2<f64>, &'static str)> {
    let open = || -> Result<BufReader<File>> {
        Ok(BufReader::new(
            File::open(path).map_err(|e| CpdError::io(path, e))?,
        ))
    };
    match Array2::<f64>::read_npy(open()?) {
        Ok(a) => return Ok((a, "float64")),
        Err(ReadNpyError::WrongDescriptor(_)) => {}
        Err(e) => return Err(npy_error(path, "array", e)),
    }
    match Array2::<f32>::read_npy(open()?) {
        Ok(a) => Ok((a.mapv(f64::from), "float32")),
        Err(e) => Err(npy_error(path, "array", e)),
    }
}

fn npz_error(path: &Path, name: &str, e: ReadNpzError) -> CpdError {
    match e {
        ReadNpzError::Npy(inner) => npy_error(path, &format!("array '{name}'"), inner),
        other => CpdError::format(path, format!("array '{name}': {other}")),
    }
}

fn read_npz(path: &Path) -> Result<EmbeddingFile> {
    let open = || -> Result<NpzReader<BufReader<File>>> {
        let f = File::open(path).map_err(|e| CpdError::io(path, e))?;
        NpzReader::new(BufReader::new(f))
            .map_err(|e| CpdError::format(path, format!("not a valid .npz (zip) file: {e}")))
    };
    let mut npz = open()?;
    let names = npz
        .names()
        .map_err(|e| CpdError::format(path, format!("cannot list arrays: {e}")))?;
    let mut ids = None;
    let mut layers = Vec::new();
    for name in names {
        if name == IDS_ARRAY {
            ids = Some(read_npz_ids(path, &mut npz)?);
            continue;
        }
        let data = match npz.by_name::<ndarray::OwnedRepr<f64>, ndarray::Ix2>(&name) {
            Ok(a) => (a, "float64"),
            Err(ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_))) => {
                let a = open()?
                    .by_name::<ndarray::OwnedRepr<f32>, ndarray::Ix2>(&name)
                    .map_err(|e| npz_error(path, &name, e))?;
                (a.mapv(f64::from), "float32")
            }
            Err(e) => return Err(npz_error(path, &name, e)),
        };
        layers.push(Layer {
            name,
            dtype: data.1,
            data: data.0,
        });
    }
    if layers.is_empty() {
        return Err(CpdError::format(
            path,
            "no embedding arrays in the .npz (only an 'ids' array or nothing)",
        ));
    }
    Ok(EmbeddingFile {
        path: path.to_owned(),
        ids,
        layers,
    })
}

/// The `ids` array of an `.npz`: any integer type, rendered in decimal.
fn read_npz_ids(path: &Path, npz: &mut NpzReader<BufReader<File>>) -> Result<Vec<String>> {
    macro_rules! try_int {
        ($t:ty) => {
            match npz.by_name::<ndarray::OwnedRepr<$t>, ndarray::Ix1>(IDS_ARRAY) {
                Ok(a) => return Ok(a.iter().map(|v| v.to_string()).collect()),
                Err(ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_))) => {}
                Err(e) => return Err(npz_error(path, IDS_ARRAY, e)),
            }
        };
    }
    try_int!(i64);
    try_int!(i32);
    try_int!(u64);
    try_int!(u32);
    Err(CpdError::format(
        path,
        "array 'ids' must be a 1-D integer array (string ids: use a CSV embedding or drop 'ids' and follow the compositions' row order)",
    ))
}

fn check_finite(path: &Path, layer: &str, data: &Array2<f64>) -> Result<()> {
    let bad = data.iter().filter(|v| !v.is_finite()).count();
    if bad == 0 {
        return Ok(());
    }
    let ((row, col), v) = data
        .indexed_iter()
        .find(|(_, v)| !v.is_finite())
        .expect("counted at least one");
    Err(CpdError::format(
        path,
        format!(
            "layer '{layer}': {bad} non-finite value(s); first is {v} at row {row}, column {col} (0-based)"
        ),
    ))
}
