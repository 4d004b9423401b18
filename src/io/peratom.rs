//! Per-atom embeddings: an `.npz` whose layers hold one row per atom,
//! pooled to one row per structure while they stream from the file.
//!
//! # Format
//!
//! Besides its layers (2-D float32/float64 arrays of `n_atoms_total × d`,
//! one row per atom), a per-atom `.npz` carries exactly one of
//!
//! - `structure`: 1-D integer array, one entry per atom: the id of the
//!   atom's structure. Structures are the distinct values in order of first
//!   appearance; their atoms need not be contiguous. No `ids` array.
//! - `n_atoms`: 1-D integer array, one entry (≥ 1) per structure, in row
//!   order: structure 0 owns the first `n_atoms[0]` atom rows, and so on.
//!   An optional `ids` array (one integer per structure) names them;
//!   without it, structures follow the compositions' row order.
//!
//! and optionally `numbers`: 1-D integer array of atomic numbers (1–118),
//! one per atom. From `numbers`, compositions (atom counts per element) are
//! derived when no compositions file is given ([`read_compositions`]).
//!
//! # Pooling
//!
//! Each structure's row is a reduction over its atoms' rows ([`Pool`]):
//! `sum` adds the atoms' values in file order in f64; `mean` is that sum
//! divided by the atom count (one f64 division); `max` is the largest value.
//! The pooled layer is stored in the per-atom layer's on-disk type: a
//! float32 layer's pooled values are the f64 results rounded once to
//! float32 (so float32 stays float32 in memory, and the residual's zero
//! tolerance stays that of float32 data); float64 stays float64. The result
//! is deterministic: it depends only on the file, not on threads. It is the
//! same as numpy's `np.add.at(acc, rows, x.astype(np.float64))` followed by
//! `acc / counts[:, None]` and `.astype(x.dtype)`.
//!
//! The layer is never held per atom: values are read from the zip entry in
//! blocks and folded into the `structures × d` f64 accumulator; NaN, ±Inf
//! and magnitudes above [`MAX_ABS_VALUE`] are refused with their atom row,
//! column and structure.

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

use ndarray::{Array1, Array2};
use ndarray_npy::npy::header::Header;
use ndarray_npy::ReadNpyExt;
use py_literal::Value as PyValue;

use crate::error::{CpdError, Result};
use crate::io::elements::SYMBOLS;
use crate::io::embeddings::Format;
use crate::io::npy::{check_header_len, read_ids, NpyLayout, Values};
use crate::io::table::Table;
use crate::io::MAX_ABS_VALUE;

/// Per-atom member: the structure id of each atom.
pub const STRUCTURE: &str = "structure";
/// Per-structure member: the atom count of each structure, in row order.
pub const N_ATOMS: &str = "n_atoms";
/// Per-atom member: atomic numbers.
pub const NUMBERS: &str = "numbers";

/// Whether an `.npz` member name (without `.npy`) is one of the per-atom
/// bookkeeping arrays rather than a layer.
pub fn is_atom_member(name: &str) -> bool {
    matches!(name, STRUCTURE | N_ATOMS | NUMBERS)
}

/// How a structure's atom rows become its row.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    /// Sum in f64, divided by the number of atoms (the default).
    #[default]
    Mean,
    /// Sum in f64 (extensive: a target additive over atoms is linear in it).
    Sum,
    /// Largest value per column.
    Max,
}

impl Pool {
    /// The name used on the command line, in manifests and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Pool::Mean => "mean",
            Pool::Sum => "sum",
            Pool::Max => "max",
        }
    }
}

/// How the atom rows of a per-atom file map to structures.
#[derive(Debug, Clone, PartialEq)]
pub struct AtomIndex {
    /// The member the mapping came from: [`STRUCTURE`] or [`N_ATOMS`].
    pub source: &'static str,
    /// For each atom row, the row of its structure.
    pub row_of_atom: Vec<u32>,
    /// Atoms per structure, in row order.
    pub counts: Vec<usize>,
    /// Structure ids in row order (`None`: `n_atoms` without `ids`).
    pub ids: Option<Vec<String>>,
    /// Atomic number of each atom, when the file carries `numbers`.
    pub numbers: Option<Vec<u8>>,
}

impl AtomIndex {
    /// Atom rows.
    pub fn atoms(&self) -> usize {
        self.row_of_atom.len()
    }

    /// Structures (pooled rows).
    pub fn structures(&self) -> usize {
        self.counts.len()
    }

    /// What the atom count was checked against, for error messages.
    fn atoms_from(&self) -> String {
        match self.source {
            STRUCTURE => format!("'{STRUCTURE}' has {} atoms", self.atoms()),
            _ => format!("'{N_ATOMS}' sums to {} atoms", self.atoms()),
        }
    }

    /// Atom counts per element from `numbers`: one row per structure (ids
    /// as [`AtomIndex::ids`], else the 0-based structure index, as for
    /// extended XYZ without `id=`), one column per element present, ordered
    /// by atomic number.
    pub fn compositions(&self, path: &Path) -> Result<Table> {
        let numbers = self.numbers.as_ref().ok_or_else(|| {
            CpdError::format(
                path,
                format!(
                    "no '{NUMBERS}' array (atomic numbers per atom) to derive compositions \
                     from: add one, or give a compositions or structures file"
                ),
            )
        })?;
        let mut present = [false; 119];
        for &z in numbers {
            present[z as usize] = true;
        }
        let zs: Vec<usize> = (1..=118).filter(|&z| present[z]).collect();
        let mut column = [usize::MAX; 119];
        for (c, &z) in zs.iter().enumerate() {
            column[z] = c;
        }
        let mut values = Array2::<f64>::zeros((self.structures(), zs.len()));
        for (&row, &z) in self.row_of_atom.iter().zip(numbers) {
            values[(row as usize, column[z as usize])] += 1.0;
        }
        let ids = self
            .ids
            .clone()
            .unwrap_or_else(|| (0..self.structures()).map(|i| i.to_string()).collect());
        Ok(Table {
            path: path.to_owned(),
            ids: ids.iter().collect(),
            columns: zs.iter().map(|&z| SYMBOLS[z - 1].to_owned()).collect(),
            values,
        })
    }
}

/// The bytes of the member `name` (`name.npy`), or `None` when absent.
/// Never decompresses more than the entry declares.
fn member_bytes<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    path: &Path,
) -> Result<Option<Vec<u8>>> {
    let file_name = format!("{name}.npy");
    let Some(i) = zip.index_for_name(&file_name) else {
        return Ok(None);
    };
    let entry = zip
        .by_index(i)
        .map_err(|e| CpdError::format(path, format!("array '{name}': {e}")))?;
    let declared = entry.size();
    let mut bytes = Vec::new();
    entry
        .take(declared.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| CpdError::format(path, format!("array '{name}': {e}")))?;
    if bytes.len() as u64 != declared {
        return Err(CpdError::format(
            path,
            format!(
                "array '{name}': {} bytes where the zip entry declares {declared}",
                bytes.len()
            ),
        ));
    }
    Ok(Some(bytes))
}

/// A complete 1-D integer `.npy` (any width, signed or not) as i64.
fn read_ints(bytes: &[u8], path: &Path, name: &str) -> Result<Vec<i64>> {
    let what = format!("array '{name}'");
    check_header_len(
        &bytes[..bytes.len().min(12)],
        bytes.len() as u64,
        path,
        &what,
    )?;
    let mut cur = Cursor::new(bytes);
    let header = Header::from_reader(&mut cur)
        .map_err(|e| CpdError::format(path, format!("{what}: not a valid .npy: {e}")))?;
    let (unsigned, itemsize) = match &header.type_descriptor {
        PyValue::String(s) if s.len() == 3 && matches!(s.as_bytes()[1], b'i' | b'u') => (
            s.as_bytes()[1] == b'u',
            (s.as_bytes()[2] as char).to_digit(10).unwrap_or(0) as u64,
        ),
        _ => (false, 0),
    };
    let expected = header
        .shape
        .first()
        .and_then(|&n| (n as u64).checked_mul(itemsize));
    if header.shape.len() != 1
        || !matches!(itemsize, 1 | 2 | 4 | 8)
        || expected != Some(bytes.len() as u64 - cur.position())
    {
        return Err(CpdError::format(
            path,
            format!(
                "{what} must be a complete 1-D integer array, found dtype {} shape {:?}",
                header.type_descriptor, header.shape
            ),
        ));
    }
    macro_rules! widen {
        ($t:ty) => {
            Array1::<$t>::read_npy(Cursor::new(bytes)).map(|a| {
                a.iter()
                    .map(|&v| i64::try_from(v).unwrap_or(i64::MAX))
                    .collect::<Vec<i64>>()
            })
        };
    }
    let result = match (unsigned, itemsize) {
        (true, 1) => widen!(u8),
        (true, 2) => widen!(u16),
        (true, 4) => widen!(u32),
        (true, _) => widen!(u64),
        (false, 1) => widen!(i8),
        (false, 2) => widen!(i16),
        (false, 4) => widen!(i32),
        (false, _) => widen!(i64),
    };
    result.map_err(|e| CpdError::format(path, format!("{what}: {e}")))
}

/// Read the per-atom bookkeeping of an `.npz` (`structure` or `n_atoms`,
/// `numbers`, and `ids` when it names the structures of `n_atoms`).
/// `Ok(None)`: the file is per structure.
pub fn read_index<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    path: &Path,
) -> Result<Option<AtomIndex>> {
    let structure = member_bytes(zip, STRUCTURE, path)?;
    let n_atoms = member_bytes(zip, N_ATOMS, path)?;
    let numbers = member_bytes(zip, NUMBERS, path)?;
    let has_ids = zip.index_for_name("ids.npy").is_some();
    let err = |m: String| CpdError::format(path, m);
    let mut index = match (structure, n_atoms) {
        (Some(_), Some(_)) => {
            let both = format!("both '{STRUCTURE}' (per atom) and '{N_ATOMS}' (per structure)");
            return Err(err(format!("{both} are present: keep one")));
        }
        (None, None) => {
            if numbers.is_some() {
                return Err(err(format!(
                    "'{NUMBERS}' is per atom, but there is no '{STRUCTURE}' (structure id per \
                     atom) or '{N_ATOMS}' (atoms per structure) to say which atoms form a structure"
                )));
            }
            return Ok(None);
        }
        (Some(bytes), None) => {
            if has_ids {
                return Err(err(format!(
                    "'ids' and '{STRUCTURE}' are both present: with '{STRUCTURE}' the structure \
                     ids are its values; drop 'ids' (it is per structure, for '{N_ATOMS}')"
                )));
            }
            let values = read_ints(&bytes, path, STRUCTURE)?;
            if values.is_empty() {
                return Err(err(format!("array '{STRUCTURE}' is empty: no atoms")));
            }
            let mut row_of: HashMap<i64, u32> = HashMap::new();
            let mut ids = Vec::new();
            let mut counts: Vec<usize> = Vec::new();
            let mut row_of_atom = Vec::with_capacity(values.len());
            for &v in &values {
                let next = row_of.len();
                let row = *row_of.entry(v).or_insert_with(|| {
                    ids.push(v.to_string());
                    counts.push(0);
                    next as u32
                });
                counts[row as usize] += 1;
                row_of_atom.push(row);
            }
            AtomIndex {
                source: STRUCTURE,
                row_of_atom,
                counts,
                ids: Some(ids),
                numbers: None,
            }
        }
        (None, Some(bytes)) => {
            let values = read_ints(&bytes, path, N_ATOMS)?;
            if values.is_empty() {
                return Err(err(format!("array '{N_ATOMS}' is empty: no structures")));
            }
            let mut counts = Vec::with_capacity(values.len());
            for (k, &v) in values.iter().enumerate() {
                if v < 1 {
                    return Err(err(format!(
                        "array '{N_ATOMS}': entry {k} (0-based) is {v}; every structure needs at least one atom"
                    )));
                }
                counts.push(usize::try_from(v).unwrap_or(usize::MAX));
            }
            let total = counts
                .iter()
                .try_fold(0usize, |a, &c| a.checked_add(c))
                .filter(|&t| t <= isize::MAX as usize / 8)
                .ok_or_else(|| {
                    err(format!(
                        "array '{N_ATOMS}': the atom counts sum to too many atoms"
                    ))
                })?;
            let mut row_of_atom = Vec::with_capacity(total);
            for (k, &c) in counts.iter().enumerate() {
                row_of_atom.extend(std::iter::repeat_n(k as u32, c));
            }
            let ids = match member_bytes(zip, "ids", path)? {
                Some(b) => {
                    let ids = read_ids(&b, path)?;
                    if ids.len() != counts.len() {
                        return Err(err(format!(
                            "array 'ids' has {} entries but '{N_ATOMS}' has {} structures (ids are per structure)",
                            ids.len(),
                            counts.len()
                        )));
                    }
                    Some(ids)
                }
                None => None,
            };
            AtomIndex {
                source: N_ATOMS,
                row_of_atom,
                counts,
                ids,
                numbers: None,
            }
        }
    };
    if u32::try_from(index.structures()).is_err() {
        return Err(err("more than 2^32 structures".into()));
    }
    if let Some(bytes) = numbers {
        let values = read_ints(&bytes, path, NUMBERS)?;
        if values.len() != index.atoms() {
            return Err(err(format!(
                "array '{NUMBERS}' has {} entries (one per atom) but {}",
                values.len(),
                index.atoms_from()
            )));
        }
        let mut zs = Vec::with_capacity(values.len());
        for (i, &z) in values.iter().enumerate() {
            if !(1..=118).contains(&z) {
                return Err(err(format!(
                    "array '{NUMBERS}': {z} at atom {i} (0-based) is not an atomic number (1–118)"
                )));
            }
            zs.push(z as u8);
        }
        index.numbers = Some(zs);
    }
    Ok(Some(index))
}

/// Compositions (atom counts per element) from the `numbers` of a per-atom
/// `.npz`, with the structure ids of [`AtomIndex::compositions`].
pub fn read_compositions(path: &Path) -> Result<Table> {
    let is_npz = Format::of(path) == Some(Format::Npz);
    if !is_npz {
        return Err(CpdError::format(
            path,
            "compositions can be derived only from a per-atom .npz with a 'numbers' array; \
             give a compositions or structures file",
        ));
    }
    let f = std::fs::File::open(path).map_err(|e| CpdError::io(path, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| CpdError::format(path, format!("not a valid .npz (zip) file: {e}")))?;
    match read_index(&mut zip, path)? {
        Some(index) => index.compositions(path),
        None => Err(CpdError::format(
            path,
            format!(
                "not a per-atom file (no '{STRUCTURE}' or '{N_ATOMS}' array), so no '{NUMBERS}' \
                 to derive compositions from; give a compositions or structures file"
            ),
        )),
    }
}

/// Pool a per-atom float `.npy` stream (positioned after its header, whose
/// layout is `layout`) into one row per structure of `index`.
pub(crate) fn pool_stream<R: Read>(
    r: &mut R,
    layout: NpyLayout,
    index: &AtomIndex,
    pool: Pool,
    path: &Path,
    what: &str,
) -> Result<Values> {
    let (n, d) = layout.shape;
    if n != index.atoms() {
        return Err(CpdError::format(
            path,
            format!(
                "{what} has {n} rows but {} (a per-atom layer has one row per atom)",
                index.atoms_from()
            ),
        ));
    }
    let m = index.structures();
    let init = match pool {
        Pool::Mean | Pool::Sum => 0.0,
        Pool::Max => f64::NEG_INFINITY,
    };
    // Row-major accumulator, structures × d.
    let mut acc = vec![init; m * d];
    let item = layout.itemsize as usize;
    let mut buf = vec![0u8; (1 << 16) / item * item];
    let total = n * d;
    let (mut i, mut j) = (0usize, 0usize);
    let mut done = 0usize;
    while done < total {
        let k = (total - done).min(buf.len() / item);
        let bytes = &mut buf[..k * item];
        r.read_exact(bytes)
            .map_err(|e| layout.read_error(e, path, what))?;
        for c in bytes.chunks_exact(item) {
            let v = decode(c, layout.big_endian);
            if !v.is_finite() || v.abs() > MAX_ABS_VALUE {
                let row = index.row_of_atom[i] as usize;
                let structure = index
                    .ids
                    .as_ref()
                    .map_or_else(|| format!("row {row}"), |ids| format!("id {}", ids[row]));
                return Err(CpdError::format(
                    path,
                    format!(
                        "{what}: value {v} at atom row {i}, column {j} (0-based; structure {structure}) \
                         is not finite or exceeds {MAX_ABS_VALUE:e} in magnitude"
                    ),
                ));
            }
            let a = &mut acc[index.row_of_atom[i] as usize * d + j];
            match pool {
                Pool::Mean | Pool::Sum => *a += v,
                Pool::Max => {
                    if v > *a {
                        *a = v
                    }
                }
            }
            // Advance in the file's element order.
            if layout.fortran {
                i += 1;
                if i == n {
                    i = 0;
                    j += 1;
                }
            } else {
                j += 1;
                if j == d {
                    j = 0;
                    i += 1;
                }
            }
        }
        done += k;
    }
    layout.check_end(r, path, what)?;
    if pool == Pool::Mean {
        for (row, &count) in acc.chunks_exact_mut(d.max(1)).zip(&index.counts) {
            let count = count as f64;
            for a in row {
                *a /= count;
            }
        }
    }
    let acc = Array2::from_shape_vec((m, d), acc).expect("m × d accumulator");
    Ok(if item == 4 {
        // Rounded once from f64 (the layer keeps its on-disk type).
        Values::F32(acc.mapv(|v| v as f32))
    } else {
        Values::F64(acc)
    })
}

/// Write a (pooled) embedding file as a per-structure `.npz`: `ids`
/// (int64, when the file has ids, all integers), each layer in its type,
/// and `irreps/LAYER` for layers with a layout. `cpd pool` uses it, so a
/// per-atom file is pooled once and analysed many times.
pub fn write_npz(file: &crate::io::npy::EmbeddingFile, out: &Path) -> Result<()> {
    use ndarray_npy::WriteNpyExt;
    use std::io::Write;
    let io = |e: std::io::Error| CpdError::io(out, e);
    let npy =
        |write: &dyn Fn(&mut Vec<u8>) -> std::result::Result<(), ndarray_npy::WriteNpyError>| {
            let mut v = Vec::new();
            write(&mut v).map_err(|e| CpdError::format(out, e.to_string()))?;
            Ok::<_, CpdError>(v)
        };
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(ids) = &file.ids {
        let ints: Vec<i64> = ids
            .iter()
            .map(|id| id.parse::<i64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                CpdError::format(
                    &file.path,
                    "ids are not all integers: cannot write an .npz 'ids' array",
                )
            })?;
        let ints = Array1::from(ints);
        members.push(("ids".into(), npy(&|v| ints.write_npy(v))?));
    }
    for layer in &file.layers {
        let loaded;
        let data = if layer.data.is_on_disk() {
            loaded = layer.data.in_memory();
            &loaded
        } else {
            &layer.data
        };
        let bytes = match data {
            Values::F32(a) => npy(&|v| a.write_npy(v))?,
            Values::F64(a) => npy(&|v| a.write_npy(v))?,
            Values::Disk(_) => unreachable!("in_memory reads an on-disk layer"),
            Values::SharedF32(a) => npy(&|v| a.view().write_npy(v))?,
            Values::SharedF64(a) => npy(&|v| a.view().write_npy(v))?,
        };
        members.push((layer.name.clone(), bytes));
        if let Some(irreps) = &layer.irreps {
            let name = format!("{}{}", crate::io::layout::IRREPS_PREFIX, layer.name);
            members.push((name, npy_string(irreps)));
        }
    }
    let f = std::fs::File::create(out).map_err(io)?;
    let mut w = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    for (name, bytes) in members {
        w.start_file(format!("{name}.npy"), opts)
            .map_err(|e| CpdError::format(out, e.to_string()))?;
        w.write_all(&bytes).map_err(io)?;
    }
    w.finish()
        .map_err(|e| CpdError::format(out, e.to_string()))?
        .flush()
        .map_err(io)
}

/// A numpy `<U` string scalar (numpy's `np.array("...")`) as `.npy` bytes.
pub fn npy_string(s: &str) -> Vec<u8> {
    let n = s.chars().count().max(1);
    let mut header = format!("{{'descr': '<U{n}', 'fortran_order': False, 'shape': (), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for c in s.chars() {
        out.extend_from_slice(&(c as u32).to_le_bytes());
    }
    if s.is_empty() {
        out.extend_from_slice(&[0; 4]);
    }
    out
}

fn decode(c: &[u8], big_endian: bool) -> f64 {
    match (c.len(), big_endian) {
        (4, false) => f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes"))),
        (4, true) => f64::from(f32::from_be_bytes(c.try_into().expect("4 bytes"))),
        (_, false) => f64::from_le_bytes(c.try_into().expect("8 bytes")),
        (_, true) => f64::from_be_bytes(c.try_into().expect("8 bytes")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::io::embeddings::{load, load_pooled};
    use ndarray::{array, ShapeBuilder};
    use ndarray_npy::WriteNpyExt;
    use std::io::Write;

    /// The `.npy` bytes of an array.
    pub(crate) fn npy<A: WriteNpyExt>(a: &A) -> Vec<u8> {
        let mut v = Vec::new();
        a.write_npy(&mut v).unwrap();
        v
    }

    pub(crate) fn npy_str(s: &str) -> Vec<u8> {
        npy_string(s)
    }

    /// Write an `.npz` of `(member, npy bytes)` entries (stored, in order).
    pub(crate) fn npz(
        dir: &tempfile::TempDir,
        name: &str,
        entries: &[(&str, Vec<u8>)],
    ) -> std::path::PathBuf {
        let p = dir.path().join(name);
        let mut w = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (member, bytes) in entries {
            w.start_file(format!("{member}.npy"), opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
        p
    }

    /// An `.npz` member: name and `.npy` bytes.
    type Member<'a> = (&'a str, Vec<u8>);

    /// Five atoms of structures 7, 7, 3, 7, 3 (not contiguous).
    fn atoms() -> Array2<f64> {
        array![
            [1.0, -2.0],
            [2.0, 5.0],
            [10.0, 0.5],
            [4.0, 1.0],
            [-6.0, 0.25]
        ]
    }

    #[test]
    fn pooling_three_ways_matches_closed_forms() {
        let dir = tempfile::tempdir().unwrap();
        let x = atoms();
        let p = npz(
            &dir,
            "a.npz",
            &[
                ("h", npy(&x)),
                ("structure", npy(&array![7i64, 7, 3, 7, 3])),
                ("numbers", npy(&array![1u8, 6, 8, 1, 1])),
            ],
        );
        let want = [
            (Pool::Mean, array![[7.0 / 3.0, 4.0 / 3.0], [2.0, 0.375]]),
            (Pool::Sum, array![[7.0, 4.0], [4.0, 0.75]]),
            (Pool::Max, array![[4.0, 5.0], [10.0, 0.5]]),
        ];
        for (pool, want) in want {
            let f = load_pooled(&p, pool).unwrap();
            assert_eq!(f.ids, Some(vec!["7".into(), "3".into()]));
            assert_eq!(f.atoms, Some(5));
            assert_eq!(f.layers[0].dtype(), "float64");
            assert_eq!(f.layers[0].data.to_f64(), want, "{pool:?}");
        }
        // Fortran order and float32: the f64 result rounded once.
        let mut xf = Array2::<f32>::zeros((5, 2).f());
        xf.assign(&x.mapv(|v| v as f32));
        let q = npz(
            &dir,
            "f.npz",
            &[
                ("h", npy(&xf)),
                ("structure", npy(&array![7i32, 7, 3, 7, 3])),
            ],
        );
        let f = load(&q).unwrap();
        assert_eq!(f.layers[0].order, "Fortran");
        let Values::F32(got) = &f.layers[0].data else {
            panic!("float32 stays float32")
        };
        assert_eq!(got[(0, 0)], (7.0f64 / 3.0) as f32);
        assert_eq!(got[(1, 1)], 0.375f32);
    }

    #[test]
    fn n_atoms_with_and_without_ids() {
        let dir = tempfile::tempdir().unwrap();
        let x = array![[1.0f32], [3.0], [5.0], [7.0], [9.0], [11.0]];
        let p = npz(
            &dir,
            "n.npz",
            &[
                ("ids", npy(&array![30u16, 10, 20])),
                ("h", npy(&x)),
                ("n_atoms", npy(&array![1u8, 3, 2])),
            ],
        );
        let f = load_pooled(&p, Pool::Sum).unwrap();
        assert_eq!(f.ids, Some(vec!["30".into(), "10".into(), "20".into()]));
        assert_eq!(
            f.layers[0].data.column_f64(0).to_vec(),
            vec![1.0, 15.0, 20.0]
        );
        let q = npz(
            &dir,
            "m.npz",
            &[("h", npy(&x)), ("n_atoms", npy(&array![3i64, 3]))],
        );
        let f = load(&q).unwrap();
        assert_eq!(f.ids, None);
        assert_eq!(f.layers[0].data.column_f64(0).to_vec(), vec![3.0, 9.0]);
    }

    #[test]
    fn compositions_count_numbers_per_structure() {
        let dir = tempfile::tempdir().unwrap();
        let p = npz(
            &dir,
            "c.npz",
            &[
                ("h", npy(&atoms())),
                ("structure", npy(&array![7i64, 7, 3, 7, 3])),
                ("numbers", npy(&array![1u8, 6, 8, 1, 1])),
            ],
        );
        let t = read_compositions(&p).unwrap();
        assert_eq!(t.ids, vec!["7", "3"]);
        assert_eq!(t.columns, vec!["H", "C", "O"]);
        assert_eq!(t.values, array![[2.0, 1.0, 0.0], [1.0, 0.0, 1.0]]);
        // n_atoms without ids: the structures' 0-based index, as for XYZ.
        let q = npz(
            &dir,
            "d.npz",
            &[
                ("h", npy(&atoms())),
                ("n_atoms", npy(&array![2i64, 3])),
                ("numbers", npy(&array![9i64, 9, 17, 1, 1])),
            ],
        );
        let t = read_compositions(&q).unwrap();
        assert_eq!(t.ids, vec!["0", "1"]);
        assert_eq!(t.columns, vec!["H", "F", "Cl"]);
        assert_eq!(t.values, array![[0.0, 2.0, 0.0], [2.0, 0.0, 1.0]]);
    }

    #[test]
    fn inconsistent_counts_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let h = || ("h", npy(&atoms()));
        let s5 = || ("structure", npy(&array![7i64, 7, 3, 7, 3]));
        let cases: Vec<(&str, Vec<Member>, &str)> = vec![
            (
                "rows.npz",
                vec![h(), ("structure", npy(&array![1i64, 1, 2, 2]))],
                "array 'h' has 5 rows but 'structure' has 4 atoms",
            ),
            (
                "sum.npz",
                vec![h(), ("n_atoms", npy(&array![2i64, 2]))],
                "array 'h' has 5 rows but 'n_atoms' sums to 4 atoms",
            ),
            (
                "numbers.npz",
                vec![h(), s5(), ("numbers", npy(&array![1u8, 6, 8, 1]))],
                "array 'numbers' has 4 entries (one per atom) but 'structure' has 5 atoms",
            ),
            (
                "zero.npz",
                vec![h(), ("n_atoms", npy(&array![5i64, 0]))],
                "array 'n_atoms': entry 1 (0-based) is 0",
            ),
            (
                "ids.npz",
                vec![
                    h(),
                    ("n_atoms", npy(&array![2i64, 3])),
                    ("ids", npy(&array![1i64])),
                ],
                "array 'ids' has 1 entries but 'n_atoms' has 2 structures",
            ),
            (
                "both.npz",
                vec![h(), s5(), ("n_atoms", npy(&array![2i64, 3]))],
                "both 'structure' (per atom) and 'n_atoms' (per structure) are present",
            ),
            (
                "ids2.npz",
                vec![h(), s5(), ("ids", npy(&array![7i64, 3]))],
                "'ids' and 'structure' are both present",
            ),
            (
                "alone.npz",
                vec![h(), ("numbers", npy(&array![1u8, 6, 8, 1, 1]))],
                "'numbers' is per atom, but there is no 'structure'",
            ),
            (
                "z.npz",
                vec![h(), s5(), ("numbers", npy(&array![1i64, 6, 0, 1, 1]))],
                "array 'numbers': 0 at atom 2 (0-based) is not an atomic number",
            ),
            (
                "float.npz",
                vec![h(), ("structure", npy(&array![1.0f64, 1., 2., 2., 2.]))],
                "array 'structure' must be a complete 1-D integer array",
            ),
            (
                "empty.npz",
                vec![
                    ("h", npy(&Array2::<f64>::zeros((0, 2)))),
                    ("structure", npy(&Array1::<i64>::zeros(0))),
                ],
                "array 'structure' is empty: no atoms",
            ),
        ];
        for (name, entries, expected) in cases {
            let p = npz(&dir, name, &entries);
            let e = load(&p).unwrap_err().to_string();
            assert!(e.contains(expected), "{name}: {e}");
            assert!(e.contains(name), "{name}: {e}");
        }
        // A non-finite atom value names its atom row, column and structure.
        let mut x = atoms();
        x[(3, 1)] = f64::NAN;
        let p = npz(&dir, "nan.npz", &[("h", npy(&x)), s5()]);
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("value NaN at atom row 3, column 1 (0-based; structure id 7)"),
            "{e}"
        );
        // No numbers: no compositions.
        let p = npz(&dir, "nonum.npz", &[h(), s5()]);
        let e = read_compositions(&p).unwrap_err().to_string();
        assert!(e.contains("no 'numbers' array"), "{e}");
        let e = serde_json::from_str::<Pool>("\"median\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected one of `mean`, `sum`, `max`"), "{e}");
    }

    #[test]
    fn irreps_members_give_layers_their_layout() {
        let dir = tempfile::tempdir().unwrap();
        let h = Array2::<f32>::zeros((3, 5));
        let p = npz(
            &dir,
            "i.npz",
            &[
                ("irreps/l", npy_str("2x0e+1x1o")),
                ("l", npy(&h)),
                ("k", npy(&h)),
            ],
        );
        let f = load(&p).unwrap();
        assert_eq!(f.layers[0].irreps.as_deref(), Some("2x0e+1x1o"));
        assert_eq!(f.layers[1].irreps, None);
        // The string itself is checked where it is used
        // (`analyses::channels::file_irreps`, tested there).
        let q = npz(
            &dir,
            "u.npz",
            &[("l", npy(&h)), ("irreps/x", npy_str("2x0e+1x1o"))],
        );
        let e = load(&q).unwrap_err().to_string();
        assert!(
            e.contains("u.npz")
                && e.contains("array 'irreps/x' names no layer (the layers are: l)"),
            "{e}"
        );
        let q = npz(
            &dir,
            "n.npz",
            &[("l", npy(&h)), ("irreps/l", npy(&array![1i64]))],
        );
        let e = load(&q).unwrap_err().to_string();
        assert!(e.contains("array 'irreps/l' must be one string"), "{e}");
    }

    #[test]
    fn a_pooled_file_written_back_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let p = npz(
            &dir,
            "a.npz",
            &[
                ("h", npy(&atoms())),
                ("g", npy(&atoms().mapv(|v| v as f32))),
                ("irreps/h", npy_str("2x0e")),
                ("structure", npy(&array![7i64, 7, 3, 7, 3])),
            ],
        );
        let pooled = load_pooled(&p, Pool::Max).unwrap();
        let out = dir.path().join("pooled.npz");
        write_npz(&pooled, &out).unwrap();
        let back = load(&out).unwrap();
        assert_eq!(back.atoms, None);
        assert_eq!(back.ids, pooled.ids);
        for (a, b) in back.layers.iter().zip(&pooled.layers) {
            assert_eq!((&a.name, &a.data, &a.irreps), (&b.name, &b.data, &b.irreps));
        }
        assert_eq!(back.layers[0].irreps.as_deref(), Some("2x0e"));
    }
}
