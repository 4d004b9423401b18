//! Embedding layers read from disk in row blocks instead of being loaded.
//!
//! An uncompressed, C-order `.npy` (or a stored, uncompressed `.npz` member)
//! keeps its rows contiguous at a known offset, so any set of rows can be
//! read with positioned reads (`pread`) into a block buffer and widened to
//! f64 there. A [`DiskLayer`] is such a matrix, possibly spread over several
//! files whose rows concatenate in order (a sharded layer), seen through an
//! optional row order (alignment by id permutes the order, not the data).
//!
//! Memory: the bytes of the rows of one request (at most one block of
//! [`BLOCK`] rows from the callers in cpd), nothing per
//! row of the file. Page-cache pages filled by `pread` belong to the kernel,
//! not to the process, so they do not count in its resident set (a memory
//! map would).

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ndarray::{s, Array2, ArrayViewMut1, ArrayViewMut2, ShapeBuilder};

use crate::error::{CpdError, Result};
use crate::io::MAX_ABS_VALUE;

/// Rows per block when a layer or a representation is read in blocks
/// (here and by every row source of `flow::rows`).
pub const BLOCK: usize = 256;

/// Requested rows closer than this (in stored rows) are read with one
/// `pread` spanning the gap; further apart, each run is read on its own.
const MAX_GAP: usize = 8;

/// What a file was when it was opened. A read that finds the file (through
/// its open handle or its path) otherwise has read, or would read, rows of
/// another extraction.
#[derive(Debug, Clone, PartialEq)]
struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Identity {
    fn of(m: &std::fs::Metadata) -> Identity {
        Identity {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            modified: m.modified().ok(),
        }
    }

    /// How `now` differs from `self`, in words; `None` when it does not.
    fn change(&self, now: &Identity) -> Option<String> {
        if (now.dev, now.ino) != (self.dev, self.ino) {
            Some("the path now names another file".into())
        } else if now.len != self.len {
            Some(format!(
                "its size went from {} to {} bytes",
                self.len, now.len
            ))
        } else if now.modified != self.modified {
            Some("it was written to (its modification time changed)".into())
        } else {
            None
        }
    }
}

/// One file's contiguous run of rows.
#[derive(Debug)]
pub struct Part {
    /// The file.
    pub path: PathBuf,
    file: File,
    /// The file as it was opened.
    opened: Identity,
    /// Byte offset of the first row's data in the file.
    offset: u64,
    /// Stored row number of the part's first row (rows of the earlier parts).
    start: usize,
    /// Rows in this part.
    rows: usize,
    big_endian: bool,
}

impl Part {
    /// Open `path` whose `rows` rows start at byte `offset`.
    pub fn open(path: &Path, offset: u64, rows: usize, big_endian: bool) -> Result<Part> {
        let file = File::open(path).map_err(|e| CpdError::io(path, e))?;
        let opened = Identity::of(&file.metadata().map_err(|e| CpdError::io(path, e))?);
        Ok(Part {
            path: path.to_owned(),
            file,
            opened,
            offset,
            start: 0,
            rows,
            big_endian,
        })
    }

    /// Rows in this part.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// How the file has changed since it was opened, through its handle or
    /// its path; `None` when it has not.
    fn changed(&self) -> Option<String> {
        let through = |m: std::io::Result<std::fs::Metadata>| match m {
            Ok(m) => self.opened.change(&Identity::of(&m)),
            Err(e) => Some(format!("it can no longer be examined: {e}")),
        };
        through(self.file.metadata()).or_else(|| through(std::fs::metadata(&self.path)))
    }
}

/// What went wrong with a read of one file: it changed since it was
/// opened, or reading it failed (the file unchanged).
#[derive(Debug, Clone)]
enum ReadFault {
    Changed(PathBuf, String),
    Failed(PathBuf, String),
}

/// The first failed read of a [`DiskLayer`].
type Fault = Arc<Mutex<Option<ReadFault>>>;

/// Counters of what a [`DiskLayer`] has read (for tests and benchmarks:
/// they show that reads stay within one block).
#[derive(Debug, Default)]
pub struct ReadStats {
    /// Largest number of rows of one request.
    pub max_rows: AtomicUsize,
    /// Rows read in all.
    pub rows: AtomicUsize,
}

/// An `n × d` float32 or float64 matrix of C-order rows on disk.
#[derive(Debug, Clone)]
pub struct DiskLayer {
    parts: Arc<Vec<Part>>,
    rows: usize,
    cols: usize,
    /// 4 (float32) or 8 (float64).
    itemsize: usize,
    /// Stored row of every row (`None`: the identity).
    order: Option<Arc<Vec<usize>>>,
    stats: Arc<ReadStats>,
    /// Set by the first read that fails or finds a file changed; shared by
    /// the layer's copies (a reordered layer reads the same files).
    fault: Fault,
}

impl PartialEq for DiskLayer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.parts, &other.parts) && self.order == other.order
    }
}

impl DiskLayer {
    /// A layer of `cols` columns of `itemsize`-byte floats made of `parts`
    /// in order.
    pub fn new(mut parts: Vec<Part>, cols: usize, itemsize: usize) -> DiskLayer {
        let mut start = 0;
        for p in &mut parts {
            p.start = start;
            start += p.rows;
        }
        DiskLayer {
            parts: Arc::new(parts),
            rows: start,
            cols,
            itemsize,
            order: None,
            stats: Arc::default(),
            fault: Fault::default(),
        }
    }

    /// Rows.
    pub fn nrows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn ncols(&self) -> usize {
        self.cols
    }

    /// `float32` or `float64`.
    pub fn dtype(&self) -> &'static str {
        if self.itemsize == 4 {
            "float32"
        } else {
            "float64"
        }
    }

    /// The files, in row order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// What has been read so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// The same layer with its rows seen in `order` (new row `i` is current
    /// row `order[i]`); nothing is moved on disk.
    pub fn permute_rows(&mut self, order: &[usize]) {
        assert_eq!(order.len(), self.rows, "permutation length");
        let composed: Vec<usize> = match &self.order {
            Some(o) => order.iter().map(|&i| o[i]).collect(),
            None => order.to_vec(),
        };
        self.order = Some(Arc::new(composed));
    }

    /// Another layer over the same files (the concatenation of `layers`'
    /// parts, in order); none may be permuted.
    pub fn concat(layers: Vec<DiskLayer>) -> DiskLayer {
        let (cols, itemsize) = (layers[0].cols, layers[0].itemsize);
        let mut parts = Vec::new();
        for l in layers {
            assert!(l.order.is_none(), "concatenating permuted layers");
            let owned = Arc::try_unwrap(l.parts).unwrap_or_else(|shared| {
                shared
                    .iter()
                    .map(|p| Part {
                        path: p.path.clone(),
                        file: p.file.try_clone().expect("duplicate a file handle"),
                        opened: p.opened.clone(),
                        offset: p.offset,
                        start: 0,
                        rows: p.rows,
                        big_endian: p.big_endian,
                    })
                    .collect()
            });
            parts.extend(owned);
        }
        DiskLayer::new(parts, cols, itemsize)
    }

    /// Rows `rows` (in that order) widened to f64 into `out`
    /// (`rows.len() × ncols`).
    ///
    /// Every read is checked: a read that fails, or after which a file is
    /// found changed since it was opened (its size, its modification time,
    /// or the file its path names), fills `out` with zeros and records the
    /// fault, which [`DiskLayer::fault`] then returns. The trait this serves
    /// ([`crate::flow::rows::Rows`]) has no error path, so the stages that
    /// read a layer ask for its fault when they are done with it, and the
    /// run ends with that error before anything is written. Once a fault is
    /// recorded, every later read fills zeros without reading.
    pub fn fill(&self, rows: &[usize], mut out: ArrayViewMut2<'_, f64>) {
        if self.fault.lock().map_or(true, |f| f.is_some()) {
            out.fill(0.0);
            return;
        }
        if let Err(fault) = self.try_fill(rows, out.view_mut()) {
            out.fill(0.0);
            if let Ok(mut f) = self.fault.lock() {
                f.get_or_insert(fault);
            }
        }
    }

    /// The first fault of any read of this layer ([`DiskLayer::fill`]):
    /// `FILE: changed while it was being read (what changed)`, or
    /// `FILE: reading it failed (the system's error)` for a file that did
    /// not change.
    pub fn fault(&self) -> Result<()> {
        match self.fault.lock() {
            Ok(f) => match f.as_ref() {
                None => Ok(()),
                Some(ReadFault::Changed(path, why)) => Err(CpdError::format(
                    path,
                    format!("changed while it was being read ({why})"),
                )),
                Some(ReadFault::Failed(path, why)) => {
                    Err(CpdError::format(path, format!("reading it failed ({why})")))
                }
            },
            Err(_) => Err(CpdError::Invalid(
                "a reader of an embedding layer failed".into(),
            )),
        }
    }

    fn try_fill(
        &self,
        rows: &[usize],
        mut out: ArrayViewMut2<'_, f64>,
    ) -> std::result::Result<(), ReadFault> {
        self.stats.max_rows.fetch_max(rows.len(), Ordering::Relaxed);
        self.stats.rows.fetch_add(rows.len(), Ordering::Relaxed);
        let mut wanted: Vec<(usize, usize)> = rows
            .iter()
            .enumerate()
            .map(|(k, &r)| (self.order.as_ref().map_or(r, |o| o[r]), k))
            .collect();
        if !wanted.windows(2).all(|w| w[0].0 <= w[1].0) {
            wanted.sort_unstable();
        }
        // One scratch buffer per thread, kept between reads: a fresh buffer
        // per block would fault its pages in again on every read.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.read_sorted(&wanted, &mut scratch, out.view_mut()),
            Err(_) => self.read_sorted(&wanted, &mut Vec::new(), out.view_mut()),
        })
    }

    /// Read the stored rows `wanted` (sorted `(stored row, output row)`
    /// pairs) into `out`, one `pread` per run of nearby rows.
    fn read_sorted(
        &self,
        wanted: &[(usize, usize)],
        scratch: &mut Vec<u8>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> std::result::Result<(), ReadFault> {
        let row_bytes = self.cols * self.itemsize;
        let mut touched: Vec<&Part> = Vec::new();
        let mut i = 0;
        while i < wanted.len() {
            let part = self.part_of(wanted[i].0);
            if !touched.iter().any(|p| std::ptr::eq(*p, part)) {
                touched.push(part);
            }
            let end_of_part = part.start + part.rows;
            let mut j = i + 1;
            while j < wanted.len()
                && wanted[j].0 < end_of_part
                && wanted[j].0 - wanted[j - 1].0 <= MAX_GAP
            {
                j += 1;
            }
            let (first, last) = (wanted[i].0, wanted[j - 1].0);
            let len = (last - first + 1) * row_bytes;
            if scratch.len() < len {
                scratch.resize(len, 0);
            }
            let at = part.offset + ((first - part.start) * row_bytes) as u64;
            if let Err(e) = part.file.read_exact_at(&mut scratch[..len], at) {
                let path = part.path.clone();
                return Err(match part.changed() {
                    Some(why) => ReadFault::Changed(path, why),
                    None => ReadFault::Failed(path, format!("{len} bytes at byte {at}: {e}")),
                });
            }
            for &(r, k) in &wanted[i..j] {
                let bytes = &scratch[(r - first) * row_bytes..(r - first + 1) * row_bytes];
                decode_row(bytes, self.itemsize, part.big_endian, out.row_mut(k));
            }
            i = j;
        }
        // After the reads: rows read from a file that changed meanwhile may
        // mix two versions of it.
        for part in touched {
            if let Some(why) = part.changed() {
                return Err(ReadFault::Changed(part.path.clone(), why));
            }
        }
        Ok(())
    }

    fn part_of(&self, stored_row: usize) -> &Part {
        let p = self
            .parts
            .partition_point(|p| p.start + p.rows <= stored_row);
        &self.parts[p]
    }

    /// Every row in memory, in its on-disk type and the current row order
    /// (C order).
    pub fn load(&self) -> super::npy::Values {
        if self.itemsize == 4 {
            let mut a = Array2::<f32>::zeros((self.rows, self.cols));
            self.scan(|start, block| {
                // Exact: every value is a float32 widened.
                a.slice_mut(s![start..start + block.nrows(), ..])
                    .zip_mut_with(&block, |o, &v| *o = v as f32);
            });
            super::npy::Values::F32(a)
        } else {
            let mut a = Array2::<f64>::zeros((self.rows, self.cols));
            self.scan(|start, block| {
                a.slice_mut(s![start..start + block.nrows(), ..])
                    .assign(&block);
            });
            super::npy::Values::F64(a)
        }
    }

    /// Every row as an f64 column-major matrix.
    pub fn to_f64(&self) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((self.rows, self.cols).f());
        let all: Vec<usize> = (0..self.rows).collect();
        let mut buf = Array2::<f64>::zeros((BLOCK.min(self.rows), self.cols));
        for (b, chunk) in all.chunks(BLOCK).enumerate() {
            let mut v = buf.slice_mut(s![..chunk.len(), ..]);
            self.fill(chunk, v.view_mut());
            out.slice_mut(s![b * BLOCK..b * BLOCK + chunk.len(), ..])
                .assign(&v);
        }
        out
    }

    /// Position (current row order) and value of the first element, in
    /// row-major order, for which `bad` holds, with the number of such
    /// elements; one streaming pass.
    pub fn find(&self, bad: impl Fn(f64) -> bool) -> Option<((usize, usize), f64, usize)> {
        let mut first = None;
        let mut count = 0;
        self.scan(|start, block| {
            for (i, row) in block.rows().into_iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    if bad(v) {
                        count += 1;
                        first.get_or_insert(((start + i, j), v));
                    }
                }
            }
        });
        first.map(|(pos, v)| (pos, v, count))
    }

    /// Call `f(first_row, block)` on consecutive row blocks, in the current
    /// row order.
    fn scan(&self, mut f: impl FnMut(usize, ndarray::ArrayView2<'_, f64>)) {
        let mut buf = Array2::<f64>::zeros((BLOCK.min(self.rows), self.cols));
        let all: Vec<usize> = (0..self.rows).collect();
        for (b, chunk) in all.chunks(BLOCK).enumerate() {
            let mut v = buf.slice_mut(s![..chunk.len(), ..]);
            self.fill(chunk, v.view_mut());
            f(b * BLOCK, v.view());
        }
    }

    /// Check that every value is finite and within [`MAX_ABS_VALUE`]; an
    /// error names the file of the offending row, the row within that file
    /// and the column (all 0-based), as the in-memory check does.
    pub fn check_values(&self, layer: &str) -> Result<()> {
        assert!(self.order.is_none(), "checked before alignment");
        let mut non_finite: Option<(usize, usize, f64)> = None;
        let mut count = 0usize;
        let mut too_large: Option<(usize, usize, f64)> = None;
        self.scan(|start, block| {
            for (i, row) in block.rows().into_iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    if !v.is_finite() {
                        count += 1;
                        non_finite.get_or_insert((start + i, j, v));
                    } else if v.abs() > MAX_ABS_VALUE {
                        too_large.get_or_insert((start + i, j, v));
                    }
                }
            }
        });
        self.fault()?;
        let (found, large) = match (non_finite, too_large) {
            (Some(f), _) => (f, false),
            (None, Some(f)) => (f, true),
            (None, None) => return Ok(()),
        };
        let (row, col, v) = found;
        let part = self.part_of(row);
        let row = row - part.start;
        let message = if large {
            format!(
                "layer '{layer}': value {v} at row {row}, column {col} (0-based) exceeds {MAX_ABS_VALUE:e} in magnitude; rescale the embedding"
            )
        } else {
            format!(
                "layer '{layer}': {count} non-finite value(s); first is {v} at row {row}, column {col} (0-based)"
            )
        };
        Err(CpdError::format(&part.path, message))
    }
}

/// Decode one stored row into f64 values.
fn decode_row(bytes: &[u8], itemsize: usize, big_endian: bool, mut out: ArrayViewMut1<'_, f64>) {
    match out.as_slice_mut() {
        Some(o) => decode_into(bytes, itemsize, big_endian, o.iter_mut()),
        None => decode_into(bytes, itemsize, big_endian, out.iter_mut()),
    }
}

fn decode_into<'a>(
    bytes: &[u8],
    itemsize: usize,
    big_endian: bool,
    target: impl Iterator<Item = &'a mut f64>,
) {
    if itemsize == 4 {
        for (o, c) in target.zip(bytes.chunks_exact(4)) {
            let b: [u8; 4] = c.try_into().expect("chunk of 4 bytes");
            let v = if big_endian {
                f32::from_be_bytes(b)
            } else {
                f32::from_le_bytes(b)
            };
            *o = f64::from(v);
        }
    } else {
        for (o, c) in target.zip(bytes.chunks_exact(8)) {
            let b: [u8; 8] = c.try_into().expect("chunk of 8 bytes");
            *o = if big_endian {
                f64::from_be_bytes(b)
            } else {
                f64::from_le_bytes(b)
            };
        }
    }
}
