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

use crate::error::{CpdError, Result};
use crate::io::npy::{read_ids, read_npy_header, read_npy_stream, NpyLayout};
pub use crate::io::npy::{EmbeddingFile, Layer, Shared, Values};
use crate::io::peratom::{self, Pool};
use crate::io::stream::{DiskLayer, Part};
use crate::io::MAX_ABS_VALUE;
use crate::io::{layout, table::read_table};

/// Name of the optional id array in an `.npz` file.
pub const IDS_ARRAY: &str = "ids";

/// The embedding file formats cpd reads; a file's is its extension's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One layer, named after the file.
    Npy,
    /// One layer per array; the other members are [`Member`]s.
    Npz,
    /// An `id` column and one column per feature: one layer, named after
    /// the file.
    Csv,
}

impl Format {
    /// Every format, by its extension (matched in any case).
    pub const ALL: [(&'static str, Format); 3] = [
        ("npy", Format::Npy),
        ("npz", Format::Npz),
        ("csv", Format::Csv),
    ];

    /// The format of `path`, or `None` for an extension cpd does not read.
    pub fn of(path: &Path) -> Option<Format> {
        let (ext, _) = ext_and_stem(path);
        Format::ALL.iter().find(|(e, _)| *e == ext).map(|(_, f)| *f)
    }

    /// [`Format::of`], an unknown extension an error naming the formats.
    pub fn require(path: &Path) -> Result<Format> {
        Format::of(path).ok_or_else(|| {
            let (ext, _) = ext_and_stem(path);
            let known: Vec<String> = Format::ALL.iter().map(|(e, _)| format!(".{e}")).collect();
            let (last, rest) = known.split_last().expect("formats");
            CpdError::format(
                path,
                format!(
                    "unknown embedding format '.{ext}': expected {} or {last}",
                    rest.join(", ")
                ),
            )
        })
    }
}

/// What one member of an `.npz` holds, by its name (`.npy` suffix off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    /// [`IDS_ARRAY`]: the row ids (of the structures, in a per-atom file).
    Ids,
    /// `structure`, `n_atoms` or `numbers`: a per-atom file's bookkeeping
    /// ([`crate::io::peratom`]).
    Atoms,
    /// `irreps/LAYER`: that layer's irreps string ([`layout`]).
    Irreps(&'a str),
    /// A layer.
    Layer,
}

impl<'a> Member<'a> {
    /// The member named `entry` (a zip entry name, `.npy` suffix or not),
    /// and its name without the suffix.
    pub fn of(entry: &'a str) -> (&'a str, Member<'a>) {
        let name = entry.strip_suffix(".npy").unwrap_or(entry);
        let kind = if name == IDS_ARRAY {
            Member::Ids
        } else if peratom::is_atom_member(name) {
            Member::Atoms
        } else if let Some(layer) = layout::irreps_layer(name) {
            Member::Irreps(layer)
        } else {
            Member::Layer
        };
        (name, kind)
    }
}

/// Load an embedding file, choosing the reader by extension, and check that
/// every value is finite and every layer has columns.
pub fn load(path: &Path) -> Result<EmbeddingFile> {
    load_pooled(path, Pool::Mean)
}

/// [`load`], pooling a per-atom `.npz` with `pool` ([`crate::io::peratom`]).
pub fn load_pooled(path: &Path, pool: Pool) -> Result<EmbeddingFile> {
    let file = read_pooled(path, pool)?;
    check_values(&file)?;
    Ok(file)
}

/// What [`load`] checks of a file's values, for embeddings that come from
/// elsewhere (arrays in memory): every value finite, every layer with
/// columns and as many rows as the ids.
pub fn check(file: &EmbeddingFile) -> Result<()> {
    check_values(file)?;
    check_ids_rows(file)
}

/// Every value finite, every layer with columns.
fn check_values(file: &EmbeddingFile) -> Result<()> {
    for layer in &file.layers {
        check_finite(&file.path, &layer.name, &layer.data)?;
        if layer.data.ncols() == 0 {
            return Err(CpdError::format(
                &file.path,
                format!("layer '{}' has 0 columns", layer.name),
            ));
        }
    }
    Ok(())
}

/// Read an embedding file with its structure checked (shapes, dtypes, ids)
/// but not its values: NaN and Inf are kept, for `cpd inspect` to count.
pub fn read(path: &Path) -> Result<EmbeddingFile> {
    read_pooled(path, Pool::Mean)
}

/// A file's extension (lower case, empty when none) and stem (the layer
/// name of a `.npy` or `.csv`; `embedding` when it has none).
pub fn ext_and_stem(path: &Path) -> (String, String) {
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
    (ext, stem)
}

/// [`read`], pooling a per-atom `.npz` with `pool`.
pub fn read_pooled(path: &Path, pool: Pool) -> Result<EmbeddingFile> {
    let (_, stem) = ext_and_stem(path);
    if !path.is_file() {
        return Err(CpdError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let file = match Format::require(path)? {
        Format::Npy => {
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
        Format::Npz => {
            let f = File::open(path).map_err(|e| CpdError::io(path, e))?;
            read_npz(BufReader::new(f), path, pool)?
        }
        Format::Csv => {
            let t = read_table(path)?;
            EmbeddingFile {
                path: path.to_owned(),
                ids: Some(t.ids.to_vec()),
                layers: vec![Layer {
                    name: stem,
                    order: "csv",
                    data: Values::F64(t.values),
                    irreps: None,
                }],
                atoms: None,
            }
        }
    };
    check_ids_rows(&file)?;
    Ok(file)
}

/// Open a layer file, or a list of files whose rows concatenate in order
/// (a sharded layer), for `cpd analyze`; returns the layers and, per file,
/// its path and rows.
///
/// An uncompressed C-order `.npy`, and an `.npz` whose layer members are all
/// stored uncompressed in C order, are opened for reading in row blocks
/// ([`Values::Disk`]): their values are checked in one streaming pass and
/// never held whole. Other files (compressed `.npz`, CSV, per-atom `.npz`,
/// Fortran order) are loaded into memory as [`load_pooled`] does.
///
/// The files of a sharded layer must hold the same layers (names, columns,
/// dtypes) and all or none of them ids (ids unique across the files);
/// without ids their rows follow the compositions' order, file after file.
pub fn open(paths: &[PathBuf], pool: Pool) -> Result<(EmbeddingFile, Vec<(PathBuf, usize)>)> {
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let file = match streamed(p)? {
            Some(f) => {
                for layer in &f.layers {
                    if let Values::Disk(d) = &layer.data {
                        d.check_values(&layer.name)?;
                    }
                    if layer.data.ncols() == 0 {
                        return Err(CpdError::format(
                            p,
                            format!("layer '{}' has 0 columns", layer.name),
                        ));
                    }
                }
                f
            }
            None => load_pooled(p, pool)?,
        };
        files.push(file);
    }
    let rows: Vec<(PathBuf, usize)> = files
        .iter()
        .map(|f| {
            (
                f.path.clone(),
                f.layers.first().map_or(0, |l| l.data.nrows()),
            )
        })
        .collect();
    if files.len() == 1 {
        return Ok((files.pop().expect("one file"), rows));
    }
    Ok((concat(files)?, rows))
}

/// The file opened for reading in row blocks, or `None` when its format
/// needs it loaded (see [`open`]).
fn streamed(path: &Path) -> Result<Option<EmbeddingFile>> {
    let (_, stem) = ext_and_stem(path);
    if !path.is_file() {
        return Ok(None); // the loader reports it
    }
    let f = File::open(path).map_err(|e| CpdError::io(path, e))?;
    let len = f.metadata().map_err(|e| CpdError::io(path, e))?.len();
    let on_disk = |npy: NpyLayout, data_end: u64| -> Result<Option<Values>> {
        if npy.fortran {
            return Ok(None);
        }
        let (rows, cols) = npy.shape;
        let bytes = rows as u64 * cols as u64 * npy.itemsize;
        let part = Part::open(path, data_end - bytes, rows, npy.big_endian)?;
        Ok(Some(Values::Disk(DiskLayer::new(
            vec![part],
            cols,
            npy.itemsize as usize,
        ))))
    };
    let file = match Format::of(path) {
        Some(Format::Npy) => {
            let (npy, _) = read_npy_header(BufReader::new(&f), len, path, "array")?;
            let Some(data) = on_disk(npy, len)? else {
                return Ok(None);
            };
            EmbeddingFile {
                path: path.to_owned(),
                ids: None,
                layers: vec![Layer {
                    name: stem,
                    order: "C",
                    data,
                    irreps: None,
                }],
                atoms: None,
            }
        }
        Some(Format::Npz) => {
            let Ok(mut zip) = zip::ZipArchive::new(BufReader::new(&f)) else {
                return Ok(None);
            };
            let mut ids = None;
            let mut irreps = Vec::new();
            let mut layers = Vec::new();
            for i in 0..zip.len() {
                let Ok(mut entry) = zip.by_index(i) else {
                    return Ok(None);
                };
                let entry_name = entry.name().to_owned();
                let (name, kind) = Member::of(&entry_name);
                let name = name.to_owned();
                if kind == Member::Atoms {
                    return Ok(None);
                }
                let declared = entry.size();
                if kind == Member::Ids {
                    let mut bytes = Vec::new();
                    entry
                        .take(declared.saturating_add(1))
                        .read_to_end(&mut bytes)
                        .map_err(|e| CpdError::format(path, format!("array '{name}': {e}")))?;
                    ids = Some(read_ids(&bytes, path)?);
                    continue;
                }
                if let Member::Irreps(layer) = kind {
                    let limited = (&mut entry).take(declared.saturating_add(1));
                    let text = layout::read_string_member(limited, declared, path, &name)?;
                    irreps.push((layer.to_owned(), text));
                    continue;
                }
                if entry.compression() != zip::CompressionMethod::Stored
                    || entry.encrypted()
                    || entry.compressed_size() != declared
                {
                    return Ok(None);
                }
                let data_end = entry.data_start() + declared;
                let what = format!("array '{name}'");
                let (npy, _) = read_npy_header(&mut entry, declared, path, &what)?;
                let Some(data) = on_disk(npy, data_end)? else {
                    return Ok(None);
                };
                layers.push(Layer {
                    name,
                    order: "C",
                    data,
                    irreps: None,
                });
            }
            if layers.is_empty() {
                return Ok(None);
            }
            layout::attach_irreps(&mut layers, irreps, path)?;
            EmbeddingFile {
                path: path.to_owned(),
                ids,
                layers,
                atoms: None,
            }
        }
        // CSV is parsed whole; an unknown format is the loader's to report.
        Some(Format::Csv) | None => return Ok(None),
    };
    check_ids_rows(&file)?;
    Ok(Some(file))
}

/// Layer names and widths of an embedding file, from headers only: the
/// `.npy` header, each member's header in an `.npz` (the `ids`, per-atom
/// and `irreps/` members are not layers), a CSV's header line.
pub fn file_layers(path: &Path) -> Result<Vec<(String, usize)>> {
    let (_, stem) = ext_and_stem(path);
    let open = || std::fs::File::open(path).map_err(|e| CpdError::io(path, e));
    let width = |shape: &[usize], what: &str| -> Result<usize> {
        match shape {
            [_, d] => Ok(*d),
            _ => Err(CpdError::format(
                path,
                format!("{what}: expected a 2-D array (rows × features), found shape {shape:?}"),
            )),
        }
    };
    match Format::require(path)? {
        Format::Npy => {
            let h = npy_header(std::io::BufReader::new(open()?), path, "array")?;
            Ok(vec![(stem, width(&h, "array")?)])
        }
        Format::Npz => {
            let mut zip = zip::ZipArchive::new(std::io::BufReader::new(open()?))
                .map_err(|e| CpdError::format(path, format!("not a valid .npz (zip) file: {e}")))?;
            let mut layers = Vec::new();
            for i in 0..zip.len() {
                let entry = zip
                    .by_index(i)
                    .map_err(|e| CpdError::format(path, format!("entry {i}: {e}")))?;
                let entry_name = entry.name().to_owned();
                let (name, kind) = Member::of(&entry_name);
                let name = name.to_owned();
                if kind != Member::Layer {
                    continue;
                }
                let what = format!("array '{name}'");
                let h = npy_header(entry, path, &what)?;
                layers.push((name, width(&h, &what)?));
            }
            Ok(layers)
        }
        Format::Csv => {
            let mut r = csv::Reader::from_reader(open()?);
            let cols = r
                .headers()
                .map_err(|e| CpdError::format(path, e.to_string()))?
                .len();
            Ok(vec![(stem, cols.saturating_sub(1))])
        }
    }
}

fn npy_header<R: std::io::Read>(mut r: R, path: &Path, what: &str) -> Result<Vec<usize>> {
    ndarray_npy::npy::header::Header::from_reader(&mut r)
        .map(|h| h.shape)
        .map_err(|e| CpdError::format(path, format!("{what}: not a valid .npy: {e}")))
}

/// The layers of several files, rows concatenated in file order.
fn concat(files: Vec<EmbeddingFile>) -> Result<EmbeddingFile> {
    let first = &files[0];
    let names = |f: &EmbeddingFile| f.layers.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
    let first_names = names(first);
    // Layer names come from the members of an .npz, from the file name
    // of an .npy or CSV (one layer, named after the first file).
    let named = |f: &EmbeddingFile| Format::of(&f.path) == Some(Format::Npz);
    for f in &files {
        if f.ids.is_some() != first.ids.is_some() || f.atoms.is_some() != first.atoms.is_some() {
            let what = |e: &EmbeddingFile, has: bool, thing: &str| {
                format!(
                    "{} {} {thing}",
                    e.path.display(),
                    if has { "has" } else { "has no" }
                )
            };
            let (thing, a, b) = if f.ids.is_some() != first.ids.is_some() {
                ("ids", f.ids.is_some(), first.ids.is_some())
            } else {
                ("per-atom rows", f.atoms.is_some(), first.atoms.is_some())
            };
            return Err(CpdError::format(
                &f.path,
                format!(
                    "{} but {}: the files of a sharded layer must all have them or none",
                    what(f, a, thing),
                    what(first, b, thing)
                ),
            ));
        }
        let rows = f.layers[0].data.nrows();
        if let Some(l) = f.layers.iter().find(|l| l.data.nrows() != rows) {
            return Err(CpdError::format(
                &f.path,
                format!(
                    "layer '{}' has {} rows but layer '{}' has {}: the layers of a sharded file must have the same rows",
                    l.name,
                    l.data.nrows(),
                    f.layers[0].name,
                    rows
                ),
            ));
        }
        let same = if named(f) && named(first) {
            names(f) == first_names
        } else {
            f.layers.len() == first.layers.len()
        };
        if !same {
            return Err(CpdError::format(
                &f.path,
                format!(
                    "layers [{}] differ from [{}] in {}: every file of a sharded layer must hold the same layers",
                    names(f).join(", "),
                    first_names.join(", "),
                    first.path.display()
                ),
            ));
        }
        for (l, l0) in f.layers.iter().zip(&first.layers) {
            if l.data.ncols() != l0.data.ncols() {
                return Err(CpdError::format(
                    &f.path,
                    format!(
                        "layer '{}' has {} columns but {} columns in {}",
                        l.name,
                        l.data.ncols(),
                        l0.data.ncols(),
                        first.path.display()
                    ),
                ));
            }
            if l.dtype() != l0.dtype() {
                return Err(CpdError::format(
                    &f.path,
                    format!(
                        "layer '{}' is {} but {} in {}: the files of a sharded layer must share a dtype",
                        l.name,
                        l.dtype(),
                        l0.dtype(),
                        first.path.display()
                    ),
                ));
            }
            if l.irreps != l0.irreps {
                return Err(CpdError::format(
                    &f.path,
                    format!(
                        "layer '{}' has irreps {:?} but {:?} in {}",
                        l.name,
                        l.irreps,
                        l0.irreps,
                        first.path.display()
                    ),
                ));
            }
        }
    }
    let ids = match first.ids {
        None => None,
        Some(_) => {
            let mut seen: std::collections::HashMap<&str, (usize, usize)> = Default::default();
            for (k, f) in files.iter().enumerate() {
                for (r, id) in f.ids.iter().flatten().enumerate() {
                    if let Some((k0, r0)) = seen.insert(id.as_str(), (k, r)) {
                        return Err(CpdError::format(
                            &f.path,
                            format!(
                                "id '{id}' (row {r}) is also in {} (row {r0}): ids must be unique across the files of a sharded layer",
                                files[k0].path.display()
                            ),
                        ));
                    }
                }
            }
            Some(
                files
                    .iter()
                    .flat_map(|f| f.ids.iter().flatten().cloned())
                    .collect(),
            )
        }
    };
    let path = first.path.clone();
    let atoms = first
        .atoms
        .map(|_| files.iter().filter_map(|f| f.atoms).sum());
    let mut layers: Vec<Layer> = first
        .layers
        .iter()
        .map(|l| Layer {
            name: l.name.clone(),
            order: l.order,
            data: Values::F64(ndarray::Array2::zeros((0, 0))),
            irreps: l.irreps.clone(),
        })
        .collect();
    let mut parts: Vec<Vec<Values>> = vec![Vec::new(); layers.len()];
    for f in files {
        for (j, l) in f.layers.into_iter().enumerate() {
            parts[j].push(l.data);
        }
    }
    for (layer, datas) in layers.iter_mut().zip(parts) {
        if datas.iter().all(Values::is_on_disk) {
            let disks = datas
                .into_iter()
                .map(|v| match v {
                    Values::Disk(d) => d,
                    _ => unreachable!("all on disk"),
                })
                .collect();
            layer.data = Values::Disk(DiskLayer::concat(disks));
            layer.order = "C";
            continue;
        }
        let loaded: Vec<Values> = datas
            .into_iter()
            .map(|v| {
                if v.is_on_disk() {
                    let m = v.in_memory();
                    v.fault().map(|_| m)
                } else {
                    Ok(v)
                }
            })
            .collect::<Result<_>>()?;
        layer.order = "C";
        layer.data = match &loaded[0] {
            Values::F32(_) => {
                let views: Vec<_> = loaded
                    .iter()
                    .map(|v| match v {
                        Values::F32(a) => a.view(),
                        _ => unreachable!("dtypes checked"),
                    })
                    .collect();
                Values::F32(
                    ndarray::concatenate(ndarray::Axis(0), &views).expect("columns checked"),
                )
            }
            _ => {
                let views: Vec<_> = loaded
                    .iter()
                    .map(|v| match v {
                        Values::F64(a) => a.view(),
                        _ => unreachable!("dtypes checked"),
                    })
                    .collect();
                Values::F64(
                    ndarray::concatenate(ndarray::Axis(0), &views).expect("columns checked"),
                )
            }
        };
    }
    Ok(EmbeddingFile {
        path,
        ids,
        layers,
        atoms,
    })
}

/// Every layer has as many rows as the ids array.
fn check_ids_rows(file: &EmbeddingFile) -> Result<()> {
    if let Some(ids) = &file.ids {
        for layer in &file.layers {
            if layer.data.nrows() != ids.len() {
                return Err(CpdError::format(
                    &file.path,
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
    Ok(())
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
        let entry_name = entry.name().to_owned();
        let (name, kind) = Member::of(&entry_name);
        let name = name.to_owned();
        // Never decompress more than the entry declares (a zip bomb stops
        // there and then fails validation as a size mismatch).
        let declared = entry.size();
        let limited = (&mut entry).take(declared.saturating_add(1));
        // per-atom: begin
        if kind == Member::Atoms || (kind == Member::Ids && atoms.is_some()) {
            continue; // read by peratom::read_index
        }
        if let Member::Irreps(layer) = kind {
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
                    CpdError::Io { error, .. } => {
                        CpdError::format(path, format!("{what}: {error}"))
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
        if kind == Member::Ids {
            let mut bytes = Vec::new();
            { limited }
                .read_to_end(&mut bytes)
                .map_err(|e| CpdError::format(path, format!("array '{name}': {e}")))?;
            ids = Some(read_ids(&bytes, path)?);
            continue;
        }
        let (data, order) = read_npy_stream(limited, declared, path, &format!("array '{name}'"))
            .map_err(|e| match e {
                CpdError::Io { error, .. } => {
                    CpdError::format(path, format!("array '{name}': {error}"))
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

pub(crate) fn check_finite(path: &Path, layer: &str, data: &Values) -> Result<()> {
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
    use ndarray::{array, Array2, ShapeBuilder};
    use std::path::PathBuf;

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
