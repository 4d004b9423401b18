//! Embedding matrices: `.npy` (one layer), `.npz` (one layer per array, plus
//! an optional integer `ids` array) or CSV with an `id` column.
//!
//! Values stay in their on-disk type in memory (float32 is not widened: the
//! embedding is the largest thing cpd holds); arithmetic widens to f64 as it
//! reads. Arrays are streamed from the file (or the zip entry) straight into
//! their final buffer. NaN and Inf are rejected with the row and column of
//! the first offender.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use ndarray::{s, Array1, Array2, ArrayViewMut1, ShapeBuilder, Zip};
use ndarray_npy::npy::header::Header;
use ndarray_npy::{ReadNpyError, ReadNpyExt};
use py_literal::Value as PyValue;

use crate::error::{CpdError, Result};
use crate::io::peratom::{self, Pool};
use crate::io::MAX_ABS_VALUE;
use crate::io::{layout, table::read_table};

/// One embedding matrix (a layer) read from a file.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Layer name: the array name inside an `.npz`, else the file stem.
    pub name: String,
    /// On-disk layout: `C` or `Fortran` for `.npy` arrays, `csv` for a table.
    pub order: &'static str,
    /// `n × d` values in their on-disk type.
    pub data: Values,
    /// e3nn irreps of the columns, from the file's `irreps/LAYER` member.
    pub irreps: Option<String>,
}

impl Layer {
    /// On-disk element type (`float32`, `float64`).
    pub fn dtype(&self) -> &'static str {
        self.data.dtype()
    }
}

/// An `n × d` matrix of float32 or float64 values, in its on-disk layout.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// float32.
    F32(Array2<f32>),
    /// float64.
    F64(Array2<f64>),
}

macro_rules! with_values {
    ($v:expr, $a:ident => $body:expr) => {
        match $v {
            Values::F32($a) => $body,
            Values::F64($a) => $body,
        }
    };
}

// `f64::from` is the identity on the float64 arm of `with_values!`.
#[allow(clippy::useless_conversion)]
impl Values {
    /// Rows.
    pub fn nrows(&self) -> usize {
        with_values!(self, a => a.nrows())
    }

    /// Columns.
    pub fn ncols(&self) -> usize {
        with_values!(self, a => a.ncols())
    }

    /// `float32` or `float64`.
    pub fn dtype(&self) -> &'static str {
        match self {
            Values::F32(_) => "float32",
            Values::F64(_) => "float64",
        }
    }

    /// Element `(i, j)` widened to f64.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        with_values!(self, a => f64::from(a[(i, j)]))
    }

    /// Row `i` widened to f64 into `out` (length `ncols`).
    pub fn row_into(&self, i: usize, out: ArrayViewMut1<'_, f64>) {
        with_values!(self, a => Zip::from(out).and(a.row(i)).for_each(|o, &v| *o = f64::from(v)))
    }

    /// Column `j` widened to f64.
    pub fn column_f64(&self, j: usize) -> Array1<f64> {
        with_values!(self, a => a.column(j).mapv(f64::from))
    }

    /// An f64 copy (column-major).
    pub fn to_f64(&self) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((self.nrows(), self.ncols()).f());
        with_values!(self, a => Zip::from(&mut out).and(a).for_each(|o, &v| *o = f64::from(v)));
        out
    }

    /// Reorder rows in place so that new row `i` is old row `order[i]`
    /// (`order` a permutation), following its cycles with one row of scratch.
    pub fn permute_rows(&mut self, order: &[usize]) {
        with_values!(self, a => permute_rows(a, order))
    }

    /// Position and value of the first element (row-major order) for which
    /// `bad` holds, with the number of such elements.
    fn find(&self, bad: impl Fn(f64) -> bool) -> Option<((usize, usize), f64, usize)> {
        with_values!(self, a => {
            let count = a.iter().filter(|&&v| bad(f64::from(v))).count();
            (count > 0).then(|| {
                let (pos, v) = a
                    .indexed_iter()
                    .find(|(_, &v)| bad(f64::from(v)))
                    .expect("counted at least one");
                (pos, f64::from(*v), count)
            })
        })
    }
}

fn permute_rows<T: Copy>(a: &mut Array2<T>, order: &[usize]) {
    let n = a.nrows();
    assert_eq!(order.len(), n, "permutation length");
    let mut done = vec![false; n];
    for start in 0..n {
        if done[start] || order[start] == start {
            done[start] = true;
            continue;
        }
        let scratch = a.row(start).to_owned();
        let mut j = start;
        loop {
            done[j] = true;
            let k = order[j];
            if k == start {
                a.row_mut(j).assign(&scratch);
                break;
            }
            let (mut dst, src) = a.multi_slice_mut((s![j, ..], s![k, ..]));
            dst.assign(&src);
            j = k;
        }
    }
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
    /// Atom rows pooled into each layer (`None`: the file is per structure).
    pub atoms: Option<usize>,
}

/// Name of the optional id array in an `.npz` file.
pub const IDS_ARRAY: &str = "ids";

/// Load an embedding file, choosing the reader by extension, and check that
/// every value is finite and every layer has columns.
pub fn load(path: &Path) -> Result<EmbeddingFile> {
    load_pooled(path, Pool::Mean)
}

/// [`load`], pooling a per-atom `.npz` with `pool` ([`crate::io::peratom`]).
pub fn load_pooled(path: &Path, pool: Pool) -> Result<EmbeddingFile> {
    let file = read_pooled(path, pool)?;
    for layer in &file.layers {
        check_finite(path, &layer.name, &layer.data)?;
        if layer.data.ncols() == 0 {
            return Err(CpdError::format(
                path,
                format!("layer '{}' has 0 columns", layer.name),
            ));
        }
    }
    Ok(file)
}

/// Read an embedding file with its structure checked (shapes, dtypes, ids)
/// but not its values: NaN and Inf are kept, for `cpd inspect` to count.
pub fn read(path: &Path) -> Result<EmbeddingFile> {
    read_pooled(path, Pool::Mean)
}

/// [`read`], pooling a per-atom `.npz` with `pool`.
pub fn read_pooled(path: &Path, pool: Pool) -> Result<EmbeddingFile> {
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
            let f = File::open(path).map_err(|e| CpdError::io(path, e))?;
            let len = f.metadata().map_err(|e| CpdError::io(path, e))?.len();
            let (data, order) = read_npy_stream(BufReader::new(f), len, path, "array")?;
            EmbeddingFile {
                path: path.to_owned(),
                ids: None,
                layers: vec![Layer {
                    name: stem,
                    order,
                    data,
                    irreps: None,
                }],
                atoms: None,
            }
        }
        "npz" => {
            let f = File::open(path).map_err(|e| CpdError::io(path, e))?;
            read_npz(BufReader::new(f), path, pool)?
        }
        "csv" => {
            let t = read_table(path)?;
            EmbeddingFile {
                path: path.to_owned(),
                ids: Some(t.ids),
                layers: vec![Layer {
                    name: stem,
                    order: "csv",
                    data: Values::F64(t.values),
                    irreps: None,
                }],
                atoms: None,
            }
        }
        _ => {
            return Err(CpdError::format(
                path,
                format!("unknown embedding format '.{ext}': expected .npy, .npz or .csv"),
            ))
        }
    };
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

/// Element type of a float `.npy` from its type descriptor.
fn float_kind(descr: &PyValue) -> Option<(&'static str, u64)> {
    match descr {
        PyValue::String(s) => match s.as_str() {
            "<f8" | ">f8" | "=f8" | "|f8" => Some(("float64", 8)),
            "<f4" | ">f4" | "=f4" | "|f4" => Some(("float32", 4)),
            _ => None,
        },
        _ => None,
    }
}

/// Read a 2-D float32/float64 `.npy` (either byte order, C or Fortran
/// layout) of `total` bytes from a stream, straight into its final buffer.
///
/// The header is checked against the byte count *before* any allocation, so
/// a header claiming a huge shape is an error, not an out-of-memory abort;
/// a stream that ends early (a lying zip entry) is reported as truncated.
fn read_npy_stream<R: Read>(
    r: R,
    total: u64,
    path: &Path,
    what: &str,
) -> Result<(Values, &'static str)> {
    let (layout, mut r) = read_npy_header(r, total, path, what)?;
    let NpyLayout {
        shape,
        itemsize,
        big_endian,
        fortran,
    } = layout;
    let truncated = |e: std::io::Error| layout.read_error(e, path, what);
    let values = if itemsize == 4 {
        let v = read_elements(&mut r, shape.0 * shape.1, |b: [u8; 4]| {
            if big_endian {
                f32::from_be_bytes(b)
            } else {
                f32::from_le_bytes(b)
            }
        })
        .map_err(truncated)?;
        Values::F32(into_array(v, shape, fortran))
    } else {
        let v = read_elements(&mut r, shape.0 * shape.1, |b: [u8; 8]| {
            if big_endian {
                f64::from_be_bytes(b)
            } else {
                f64::from_le_bytes(b)
            }
        })
        .map_err(truncated)?;
        Values::F64(into_array(v, shape, fortran))
    };
    layout.check_end(&mut r, path, what)?;
    Ok((values, layout.order()))
}

/// Shape and encoding of a 2-D float `.npy`, from its validated header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NpyLayout {
    /// `(rows, columns)`.
    pub shape: (usize, usize),
    /// 4 (float32) or 8 (float64).
    pub itemsize: u64,
    /// Big-endian elements.
    pub big_endian: bool,
    /// Column-major data.
    pub fortran: bool,
}

impl NpyLayout {
    /// `C` or `Fortran`.
    pub fn order(&self) -> &'static str {
        if self.fortran {
            "Fortran"
        } else {
            "C"
        }
    }

    /// An error while reading the data: a stream that ends early is
    /// reported as truncated.
    pub fn read_error(&self, e: std::io::Error, path: &Path, what: &str) -> CpdError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            CpdError::format(
                path,
                format!(
                    "{what}: the data ends before the header's shape {:?} is filled (truncated?)",
                    self.shape
                ),
            )
        } else {
            CpdError::io(path, e)
        }
    }

    /// Nothing may follow the data (a zip entry longer than it declares).
    pub fn check_end<R: Read>(&self, r: &mut R, path: &Path, what: &str) -> Result<()> {
        let mut extra = [0u8; 1];
        if r.read(&mut extra).map_err(|e| CpdError::io(path, e))? > 0 {
            return Err(CpdError::format(
                path,
                format!(
                    "{what}: bytes beyond the data the header's shape {:?} describes",
                    self.shape
                ),
            ));
        }
        Ok(())
    }
}

/// Read and validate the header of a 2-D float32/float64 `.npy` of `total`
/// bytes; returns its layout and the stream positioned at the data.
///
/// The header is checked against the byte count *before* any allocation, so
/// a header claiming a huge shape is an error, not an out-of-memory abort.
pub(crate) fn read_npy_header<R: Read>(
    r: R,
    total: u64,
    path: &Path,
    what: &str,
) -> Result<(NpyLayout, impl Read)> {
    let io_err = |e: std::io::Error| CpdError::io(path, e);
    let mut r = r;
    let mut prefix = [0u8; 12];
    let mut got = 0;
    while got < prefix.len() {
        let k = r.read(&mut prefix[got..]).map_err(io_err)?;
        if k == 0 {
            break;
        }
        got += k;
    }
    let header_len = check_header_len(&prefix[..got], total, path, what)?;
    let mut r = Cursor::new(prefix[..got].to_vec()).chain(r);
    let header = Header::from_reader(&mut r)
        .map_err(|e| CpdError::format(path, format!("{what}: not a valid .npy: {e}")))?;
    let available = total - header_len;
    if header.shape.len() != 2 {
        return Err(CpdError::format(
            path,
            format!(
                "{what}: expected a 2-D array (rows × features), found shape {:?}",
                header.shape
            ),
        ));
    }
    let Some((_, itemsize)) = float_kind(&header.type_descriptor) else {
        return Err(CpdError::format(
            path,
            format!(
                "{what}: unsupported dtype {}, expected float32 or float64",
                header.type_descriptor
            ),
        ));
    };
    let needed = (header.shape[0] as u64)
        .checked_mul(header.shape[1] as u64)
        .and_then(|n| n.checked_mul(itemsize));
    match needed {
        Some(n) if n == available => {}
        Some(n) if n > available => {
            return Err(CpdError::format(
                path,
                format!(
                    "{what}: header shape {:?} needs {n} bytes of data but only {available} follow (truncated?)",
                    header.shape
                ),
            ))
        }
        Some(n) => {
            return Err(CpdError::format(
                path,
                format!(
                    "{what}: {} bytes beyond the data the header's shape {:?} describes",
                    available - n,
                    header.shape
                ),
            ))
        }
        None => {
            return Err(CpdError::format(
                path,
                format!("{what}: header shape {:?} is too large", header.shape),
            ))
        }
    }
    let big_endian = matches!(&header.type_descriptor, PyValue::String(d) if d.starts_with('>'));
    let layout = NpyLayout {
        shape: (header.shape[0], header.shape[1]),
        itemsize,
        big_endian,
        fortran: header.layout.is_fortran(),
    };
    Ok((layout, r))
}

/// Read `count` elements of `N` bytes each, decoding each with `decode`.
fn read_elements<R: Read, T, const N: usize>(
    r: &mut R,
    count: usize,
    decode: impl Fn([u8; N]) -> T,
) -> std::io::Result<Vec<T>> {
    let mut out = Vec::with_capacity(count);
    let mut buf = vec![0u8; 1 << 16];
    let mut left = count;
    while left > 0 {
        let k = left.min(buf.len() / N);
        let bytes = &mut buf[..k * N];
        r.read_exact(bytes)?;
        out.extend(
            bytes
                .chunks_exact(N)
                .map(|c| decode(c.try_into().expect("chunk of N bytes"))),
        );
        left -= k;
    }
    Ok(out)
}

fn into_array<T>(v: Vec<T>, shape: (usize, usize), fortran: bool) -> Array2<T> {
    let result = if fortran {
        Array2::from_shape_vec(shape.f(), v)
    } else {
        Array2::from_shape_vec(shape, v)
    };
    result.expect("element count checked against the shape")
}

/// Largest `.npy` header accepted (NumPy itself refuses headers over 10 kB
/// by default); checked before the header is read, because the header
/// parser allocates the length the file claims.
const MAX_HEADER_LEN: u64 = 1 << 16;

/// Check the first (up to 12) bytes of a `.npy` of `total` bytes: the magic
/// string, and a header length within [`MAX_HEADER_LEN`] and the bytes
/// present. Returns the length of the whole header (prefix included).
pub(crate) fn check_header_len(prefix: &[u8], total: u64, path: &Path, what: &str) -> Result<u64> {
    let got = prefix.len();
    if got < 10 || &prefix[..6] != b"\x93NUMPY" {
        return Err(CpdError::format(
            path,
            format!("{what}: not a valid .npy: missing the \\x93NUMPY magic string"),
        ));
    }
    let (len, fixed) = match prefix[6] {
        1 => (u16::from_le_bytes([prefix[8], prefix[9]]) as u64, 10),
        _ if got == 12 => (
            u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as u64,
            12,
        ),
        _ => (u64::MAX, 12),
    };
    if len > MAX_HEADER_LEN || fixed + len > total {
        return Err(CpdError::format(
            path,
            format!("{what}: not a valid .npy: header length {len} exceeds the file or {MAX_HEADER_LEN} bytes"),
        ));
    }
    Ok(fixed + len)
}

/// Parse the bytes of a `.npy` file (used by the fuzz targets).
pub fn parse_npy_bytes(bytes: &[u8]) -> Result<Values> {
    read_npy_stream(bytes, bytes.len() as u64, Path::new("<bytes>"), "array").map(|(a, _)| a)
}

/// Parse the bytes of a `.npz` file (used by the fuzz targets).
pub fn parse_npz_bytes(bytes: &[u8]) -> Result<EmbeddingFile> {
    read_npz(Cursor::new(bytes), Path::new("<bytes>"), Pool::Mean)
}

/// Read an `.npz`: each 2-D float array is a layer, `ids` (integers) the row
/// ids. Each layer is decompressed straight into its array and validated
/// like a `.npy`. A per-atom file ([`crate::io::peratom`]) has its layers
/// pooled with `pool` as they stream; `irreps/LAYER` members
/// ([`crate::io::layout`]) give layers their layout.
fn read_npz<R: Read + Seek>(reader: R, path: &Path, pool: Pool) -> Result<EmbeddingFile> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| CpdError::format(path, format!("not a valid .npz (zip) file: {e}")))?;
    // per-atom: begin
    let atoms = peratom::read_index(&mut zip, path)?;
    let mut irreps = Vec::new();
    // per-atom: end
    let mut ids = None;
    let mut layers = Vec::new();
    let mut starts = std::collections::HashSet::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| CpdError::format(path, format!("entry {i}: {e}")))?;
        // Entries sharing their data are a zip-bomb construction, never numpy's.
        if !starts.insert(entry.header_start()) {
            return Err(CpdError::format(
                path,
                format!(
                    "entry {i} ('{}') overlaps an earlier entry: not a valid .npz",
                    entry.name()
                ),
            ));
        }
        let name = entry.name().to_owned();
        let name = name.strip_suffix(".npy").unwrap_or(&name).to_owned();
        // Never decompress more than the entry declares (a zip bomb stops
        // there and then fails validation as a size mismatch).
        let declared = entry.size();
        let limited = (&mut entry).take(declared.saturating_add(1));
        // per-atom: begin
        if peratom::is_atom_member(&name) || (name == IDS_ARRAY && atoms.is_some()) {
            continue; // read by peratom::read_index
        }
        if let Some(layer) = layout::irreps_layer(&name) {
            let text = layout::read_string_member(limited, declared, path, &name)?;
            irreps.push((layer.to_owned(), text));
            continue;
        }
        if let Some(index) = &atoms {
            let what = format!("array '{name}'");
            let (npy, data) = read_npy_header(limited, declared, path, &what)
                .and_then(|(npy, mut r)| {
                    let data = peratom::pool_stream(&mut r, npy, index, pool, path, &what)?;
                    Ok((npy, data))
                })
                .map_err(|e| match e {
                    CpdError::Io { source, .. } => {
                        CpdError::format(path, format!("{what}: {source}"))
                    }
                    other => other,
                })?;
            layers.push(Layer {
                name,
                order: npy.order(),
                data,
                irreps: None,
            });
            continue;
        }
        // per-atom: end
        if name == IDS_ARRAY {
            let mut bytes = Vec::new();
            { limited }
                .read_to_end(&mut bytes)
                .map_err(|e| CpdError::format(path, format!("array '{name}': {e}")))?;
            ids = Some(read_ids(&bytes, path)?);
            continue;
        }
        let (data, order) = read_npy_stream(limited, declared, path, &format!("array '{name}'"))
            .map_err(|e| match e {
                CpdError::Io { source, .. } => {
                    CpdError::format(path, format!("array '{name}': {source}"))
                }
                other => other,
            })?;
        layers.push(Layer {
            name,
            order,
            data,
            irreps: None,
        });
    }
    if layers.is_empty() {
        return Err(CpdError::format(
            path,
            "no embedding arrays in the .npz (only an 'ids' array or nothing)",
        ));
    }
    layout::attach_irreps(&mut layers, irreps, path)?;
    if let Some(index) = &atoms {
        ids = index.ids.clone();
    }
    Ok(EmbeddingFile {
        path: path.to_owned(),
        ids,
        layers,
        atoms: atoms.as_ref().map(|a| a.atoms()),
    })
}

/// The `ids` array of an `.npz`: 1-D, any integer type, rendered in decimal.
pub(crate) fn read_ids(bytes: &[u8], path: &Path) -> Result<Vec<String>> {
    check_header_len(
        &bytes[..bytes.len().min(12)],
        bytes.len() as u64,
        path,
        "array 'ids'",
    )?;
    let mut cur = Cursor::new(bytes);
    let header = Header::from_reader(&mut cur)
        .map_err(|e| CpdError::format(path, format!("array 'ids': not a valid .npy: {e}")))?;
    let itemsize: u64 = match &header.type_descriptor {
        PyValue::String(s) if s.len() == 3 && matches!(s.as_bytes()[1], b'i' | b'u') => {
            (s.as_bytes()[2] as char).to_digit(10).unwrap_or(0) as u64
        }
        _ => 0,
    };
    let expected = header
        .shape
        .first()
        .and_then(|&n| (n as u64).checked_mul(itemsize));
    if header.shape.len() != 1
        || itemsize == 0
        || expected != Some(bytes.len() as u64 - cur.position())
    {
        return Err(CpdError::format(
            path,
            format!(
                "array 'ids' must be a complete 1-D integer array, found dtype {} shape {:?} (string ids: use a CSV embedding, or drop 'ids' and follow the compositions' row order)",
                header.type_descriptor, header.shape
            ),
        ));
    }
    macro_rules! as_strings {
        ($t:ty) => {
            Array1::<$t>::read_npy(Cursor::new(bytes))
                .map(|a| a.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        };
    }
    let result = match (&header.type_descriptor, itemsize) {
        (PyValue::String(s), _) if s.as_bytes()[1] == b'u' => match itemsize {
            1 => as_strings!(u8),
            2 => as_strings!(u16),
            4 => as_strings!(u32),
            _ => as_strings!(u64),
        },
        (_, 1) => as_strings!(i8),
        (_, 2) => as_strings!(i16),
        (_, 4) => as_strings!(i32),
        _ => as_strings!(i64),
    };
    let ids = result.map_err(|e| npy_error(path, "array 'ids'", e))?;
    let mut seen = std::collections::HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id.as_str(), i) {
            return Err(CpdError::format(
                path,
                format!("array 'ids': duplicate id {id} at positions {first} and {i}"),
            ));
        }
    }
    Ok(ids)
}

fn check_finite(path: &Path, layer: &str, data: &Values) -> Result<()> {
    if let Some(((row, col), v, bad)) = data.find(|v| !v.is_finite()) {
        return Err(CpdError::format(
            path,
            format!(
                "layer '{layer}': {bad} non-finite value(s); first is {v} at row {row}, column {col} (0-based)"
            ),
        ));
    }
    if let Some(((row, col), v, _)) = data.find(|v| v.abs() > MAX_ABS_VALUE) {
        return Err(CpdError::format(
            path,
            format!(
                "layer '{layer}': value {v} at row {row}, column {col} (0-based) exceeds {MAX_ABS_VALUE:e} in magnitude; rescale the embedding"
            ),
        ));
    }
    Ok(())
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
            assert_eq!(e.layers[0].data.to_f64(), want, "{name}");
            assert_eq!(e.layers[0].dtype(), dtype);
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
    fn rows_permute_in_place_through_every_cycle() {
        // Cycles (0 3 1), (2), (4 5) in both memory orders.
        let order = [3, 0, 2, 1, 5, 4];
        let c = Array2::from_shape_fn((6, 3), |(i, j)| (10 * i + j) as f32);
        let mut f = Array2::<f64>::zeros((6, 3).f());
        f.assign(&c.mapv(f64::from));
        let (mut vc, mut vf) = (Values::F32(c.clone()), Values::F64(f));
        vc.permute_rows(&order);
        vf.permute_rows(&order);
        for (i, &o) in order.iter().enumerate() {
            for j in 0..3 {
                assert_eq!(vc.get(i, j), f64::from(c[(o, j)]));
                assert_eq!(vf.get(i, j), f64::from(c[(o, j)]));
            }
        }
    }

    #[test]
    fn npz_layers_and_integer_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.npz");
        let mut w = ndarray_npy::NpzWriter::new_compressed(File::create(&p).unwrap());
        w.add_array("ids", &array![7i64, 3, 5]).unwrap();
        w.add_array("a", &array![[1f32, 2.], [3., 4.], [5., 6.]])
            .unwrap();
        w.add_array("b", &array![[1f64], [2.], [3.]]).unwrap();
        w.finish().unwrap();
        let e = load(&p).unwrap();
        assert_eq!(e.ids, Some(vec!["7".into(), "3".into(), "5".into()]));
        let names: Vec<&str> = e.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(e.layers[0].dtype(), "float32");
        assert_eq!(e.layers[1].data.to_f64(), array![[1.], [2.], [3.]]);

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
