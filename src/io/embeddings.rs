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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// A version-1.0 `.npy` file with the given header fields and raw data.
    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn le64(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn npy_dtypes_orders_and_byte_orders_read_correctly() {
        let dir = tempfile::tempdir().unwrap();
        let want = array![[0., 1., 2.], [3., 4., 5.]];
        let f32c: Vec<u8> = (0..6).flat_map(|v| (v as f32).to_le_bytes()).collect();
        let f64f = le64(&[0., 3., 1., 4., 2., 5.]);
        let f64be: Vec<u8> = (0..6).flat_map(|v| (v as f64).to_be_bytes()).collect();
        for (name, bytes, dtype) in [
            ("c32.npy", npy("<f4", false, "(2, 3)", &f32c), "float32"),
            ("f64.npy", npy("<f8", true, "(2, 3)", &f64f), "float64"),
            ("be.npy", npy(">f8", false, "(2, 3)", &f64be), "float64"),
        ] {
            let e = load(&file(&dir, name, &bytes)).unwrap();
            assert_eq!(e.layers[0].data, want, "{name}");
            assert_eq!(e.layers[0].dtype, dtype);
            assert_eq!(e.layers[0].name, name.trim_end_matches(".npy"));
            assert!(e.ids.is_none());
        }
    }

    #[test]
    fn malformed_npy_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let mut nan = le64(&[0., 1., 2., 3., 4., 5.]);
        nan[40..48].copy_from_slice(&f64::NAN.to_le_bytes());
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "int.npy",
                npy("|i1", false, "(2, 3)", &[0; 6]),
                "unsupported dtype",
            ),
            (
                "short.npy",
                npy("<f8", false, "(2, 3)", &le64(&[0.; 5])),
                "truncated",
            ),
            (
                "long.npy",
                npy("<f8", false, "(2, 3)", &le64(&[0.; 7])),
                "8 bytes beyond",
            ),
            (
                "vec.npy",
                npy("<f8", false, "(6,)", &le64(&[0.; 6])),
                "expected a 2-D array",
            ),
            (
                "nan.npy",
                npy("<f8", false, "(2, 3)", &nan),
                "first is NaN at row 1, column 2",
            ),
            ("empty.npy", Vec::new(), "short.npy"),
            (
                "magic.npy",
                b"PK\x03\x04 this is a zip".to_vec(),
                "magic.npy",
            ),
            ("cols.npy", npy("<f8", false, "(2, 0)", &[]), "0 columns"),
            ("x.txt", b"1,2".to_vec(), "unknown embedding format"),
        ];
        for (name, bytes, expected) in cases {
            let p = file(&dir, name, &bytes);
            let e = load(&p).unwrap_err().to_string();
            let expected = if name == "empty.npy" {
                "empty.npy"
            } else {
                expected
            };
            assert!(e.contains(expected), "{name}: {e}");
            assert!(e.contains(name), "{name}: {e}");
        }
    }

    #[test]
    fn npz_layers_and_integer_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.npz");
        let mut w = ndarray_npy::NpzWriter::new(File::create(&p).unwrap());
        w.add_array("ids", &array![7i64, 3, 5]).unwrap();
        w.add_array("a", &array![[1f32, 2.], [3., 4.], [5., 6.]])
            .unwrap();
        w.add_array("b", &array![[1f64], [2.], [3.]]).unwrap();
        w.finish().unwrap();
        let e = load(&p).unwrap();
        assert_eq!(e.ids, Some(vec!["7".into(), "3".into(), "5".into()]));
        let names: Vec<&str> = e.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(e.layers[0].dtype, "float32");
        assert_eq!(e.layers[1].data, array![[1.], [2.], [3.]]);

        let q = dir.path().join("only_ids.npz");
        let mut w = ndarray_npy::NpzWriter::new(File::create(&q).unwrap());
        w.add_array("ids", &array![1i64, 2]).unwrap();
        w.finish().unwrap();
        assert!(load(&q)
            .unwrap_err()
            .to_string()
            .contains("no embedding arrays"));

        let r = dir.path().join("mismatch.npz");
        let mut w = ndarray_npy::NpzWriter::new(File::create(&r).unwrap());
        w.add_array("ids", &array![1i64, 2]).unwrap();
        w.add_array("a", &array![[1f64], [2.], [3.]]).unwrap();
        w.finish().unwrap();
        let e = load(&r).unwrap_err().to_string();
        assert!(
            e.contains("layer 'a' has 3 rows but the ids array has 2"),
            "{e}"
        );
    }
}
