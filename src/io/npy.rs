//! The `.npy` format underneath every embedding file: the in-memory layer
//! types ([`Layer`], [`Values`]), header parsing and element streaming, and
//! the `ids` member. `embeddings` (files), `peratom` (per-atom pooling) and
//! `layout` (irreps members) build on it.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut1, ShapeBuilder, Zip};
use ndarray_npy::npy::header::Header;
use ndarray_npy::{ReadNpyError, ReadNpyExt};
use py_literal::Value as PyValue;

use crate::error::{CpdError, Result};
pub use crate::io::stream::DiskLayer;

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

/// An `n × d` matrix of float32 or float64 values, in its on-disk layout,
/// or held by someone else and read in place.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// float32.
    F32(Array2<f32>),
    /// float64.
    F64(Array2<f64>),
    /// Rows read from disk in blocks as they are needed
    /// ([`crate::io::stream`]); never held whole.
    Disk(DiskLayer),
    /// float32 owned elsewhere (a NumPy array of the Python package).
    SharedF32(Shared<f32>),
    /// float64 owned elsewhere.
    SharedF64(Shared<f64>),
}

/// An `n × d` matrix owned by someone else (a NumPy array, for the Python
/// package), read in place, in any layout (C, Fortran or strided): no copy.
/// Cloning shares it. It is copied only when its rows must be reordered
/// ([`Values::permute_rows`]).
#[derive(Clone)]
pub struct Shared<T: 'static> {
    view: ArrayView2<'static, T>,
    _owner: Arc<dyn std::any::Any + Send + Sync>,
}

impl<T> Shared<T> {
    /// Share `view`, whose memory `owner` keeps alive.
    ///
    /// # Safety
    /// The memory `view` reads must stay valid, and must not be written,
    /// for as long as `owner` (or any clone of the result) lives.
    pub unsafe fn new(
        view: ArrayView2<'_, T>,
        owner: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Self {
        // SAFETY: the caller ties the memory's lifetime to `owner`, which
        // the result holds.
        let view =
            unsafe { std::mem::transmute::<ArrayView2<'_, T>, ArrayView2<'static, T>>(view) };
        Shared {
            view,
            _owner: owner,
        }
    }

    /// The data.
    pub fn view(&self) -> ArrayView2<'_, T> {
        self.view.view()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Shared").field(&self.view).finish()
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        self.view == other.view
    }
}

macro_rules! with_values {
    ($v:expr, $a:ident => $body:expr) => {
        match $v {
            Values::F32($a) => $body,
            Values::F64($a) => $body,
            Values::Disk(_) => unreachable!("on-disk layers are handled first"),
            Values::SharedF32(s) => {
                let $a = &s.view();
                $body
            }
            Values::SharedF64(s) => {
                let $a = &s.view();
                $body
            }
        }
    };
}

// `f64::from` is the identity on the float64 arm of `with_values!`.
#[allow(clippy::useless_conversion)]
impl Values {
    /// Rows.
    pub fn nrows(&self) -> usize {
        if let Values::Disk(d) = self {
            return d.nrows();
        }
        with_values!(self, a => a.nrows())
    }

    /// Columns.
    pub fn ncols(&self) -> usize {
        if let Values::Disk(d) = self {
            return d.ncols();
        }
        with_values!(self, a => a.ncols())
    }

    /// `float32` or `float64`.
    pub fn dtype(&self) -> &'static str {
        match self {
            Values::F32(_) | Values::SharedF32(_) => "float32",
            Values::F64(_) | Values::SharedF64(_) => "float64",
            Values::Disk(d) => d.dtype(),
        }
    }

    /// Element `(i, j)` widened to f64.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        if let Values::Disk(d) = self {
            let mut row = Array2::<f64>::zeros((1, d.ncols()));
            d.fill(&[i], row.view_mut());
            return row[(0, j)];
        }
        with_values!(self, a => f64::from(a[(i, j)]))
    }

    /// Row `i` widened to f64 into `out` (length `ncols`).
    pub fn row_into(&self, i: usize, out: ArrayViewMut1<'_, f64>) {
        if let Values::Disk(d) = self {
            d.fill(&[i], out.insert_axis(ndarray::Axis(0)));
            return;
        }
        with_values!(self, a => Zip::from(out).and(a.row(i)).for_each(|o, &v| *o = f64::from(v)))
    }

    /// Column `j` widened to f64.
    pub fn column_f64(&self, j: usize) -> Array1<f64> {
        if let Values::Disk(d) = self {
            return d.to_f64().column(j).to_owned();
        }
        with_values!(self, a => a.column(j).mapv(f64::from))
    }

    /// The values in memory: an on-disk layer is read whole (in its
    /// on-disk type), an in-memory one is cloned.
    pub fn in_memory(&self) -> Values {
        match self {
            Values::Disk(d) => d.load(),
            other => other.clone(),
        }
    }

    /// Whether the rows are read from disk as needed.
    pub fn is_on_disk(&self) -> bool {
        matches!(self, Values::Disk(_))
    }

    /// The first fault of a read of an on-disk layer
    /// ([`super::stream::DiskLayer::fault`]); in memory, none.
    pub fn fault(&self) -> crate::error::Result<()> {
        match self {
            Values::Disk(d) => d.fault(),
            _ => Ok(()),
        }
    }

    /// An f64 copy (column-major).
    pub fn to_f64(&self) -> Array2<f64> {
        if let Values::Disk(d) = self {
            return d.to_f64();
        }
        let mut out = Array2::<f64>::zeros((self.nrows(), self.ncols()).f());
        with_values!(self, a => Zip::from(&mut out).and(a).for_each(|o, &v| *o = f64::from(v)));
        out
    }

    /// Reorder rows in place so that new row `i` is old row `order[i]`
    /// (`order` a permutation), following its cycles with one row of scratch.
    /// Shared values are copied first (unless `order` is the identity).
    pub fn permute_rows(&mut self, order: &[usize]) {
        if let Values::Disk(d) = self {
            d.permute_rows(order);
            return;
        }
        if order.iter().enumerate().all(|(i, &o)| i == o) {
            return;
        }
        match self {
            Values::F32(a) => permute_rows(a, order),
            Values::F64(a) => permute_rows(a, order),
            Values::SharedF32(s) => {
                let mut a = s.view().to_owned();
                permute_rows(&mut a, order);
                *self = Values::F32(a);
            }
            Values::SharedF64(s) => {
                let mut a = s.view().to_owned();
                permute_rows(&mut a, order);
                *self = Values::F64(a);
            }
            Values::Disk(_) => unreachable!("handled above"),
        }
    }

    /// Memory layout: `C`, `Fortran`, or `strided` (shared values only);
    /// `disk` for a layer read from disk in blocks.
    pub fn layout(&self) -> &'static str {
        if self.is_on_disk() {
            return "disk";
        }
        with_values!(self, a => if a.is_standard_layout() {
            "C"
        } else if a.t().is_standard_layout() {
            "Fortran"
        } else {
            "strided"
        })
    }

    /// Position and value of the first element (row-major order) for which
    /// `bad` holds, with the number of such elements.
    pub(crate) fn find(&self, bad: impl Fn(f64) -> bool) -> Option<((usize, usize), f64, usize)> {
        if let Values::Disk(d) = self {
            return d.find(bad);
        }
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

pub(crate) fn permute_rows<T: Copy>(a: &mut Array2<T>, order: &[usize]) {
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

pub(crate) fn npy_error(path: &Path, what: &str, e: ReadNpyError) -> CpdError {
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
pub(crate) fn float_kind(descr: &PyValue) -> Option<(&'static str, u64)> {
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
pub(crate) fn read_npy_stream<R: Read>(
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
pub(crate) fn read_elements<R: Read, T, const N: usize>(
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

pub(crate) fn into_array<T>(v: Vec<T>, shape: (usize, usize), fortran: bool) -> Array2<T> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn shared_values_read_in_place_and_copy_only_to_reorder() {
        let owned = array![[1.5f32, -2.0, 0.25], [0.1, 3.0, 7.0]];
        let mut fortran = Array2::<f32>::zeros((2, 3).f()); // same values, column-major
        fortran.assign(&owned);
        for (data, layout) in [(&owned, "C"), (&fortran, "Fortran")] {
            let owner: Arc<dyn std::any::Any + Send + Sync> = Arc::new(data.clone());
            // SAFETY: `data` outlives `v` in this test and is not written.
            let v = Values::SharedF32(unsafe { Shared::new(data.view(), owner) });
            assert_eq!(v.layout(), layout);
            assert_eq!(v.dtype(), "float32");
            assert_eq!((v.nrows(), v.ncols()), (2, 3));
            assert_eq!(v.to_f64(), owned.mapv(f64::from));
            assert_eq!(v.get(1, 2), 7.0);
            let mut same = v.clone();
            same.permute_rows(&[0, 1]);
            assert!(matches!(same, Values::SharedF32(_)), "identity: no copy");
            let mut swapped = v.clone();
            swapped.permute_rows(&[1, 0]);
            assert!(
                matches!(swapped, Values::F32(_)),
                "reordered: an owned copy"
            );
            assert_eq!(swapped.get(0, 0), f64::from(0.1f32));
            assert_eq!(v.get(0, 0), 1.5, "the shared data is untouched");
        }
        let wide = array![[1.5, 9.0, -2.0, 9.0, 0.25], [0.1, 9.0, 3.0, 9.0, 7.0]];
        let owner: Arc<dyn std::any::Any + Send + Sync> = Arc::new(());
        // SAFETY: `wide` outlives `v` in this test and is not written.
        let v = Values::SharedF64(unsafe { Shared::new(wide.slice(s![.., ..;2]), owner) });
        assert_eq!(v.layout(), "strided");
        assert_eq!(v.to_f64(), array![[1.5, -2.0, 0.25], [0.1, 3.0, 7.0]]);
        assert_eq!(v.find(|x| x > 5.0), Some(((1, 2), 7.0, 1)));
    }
}
