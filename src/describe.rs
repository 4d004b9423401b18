//! `cpd inspect`: what an embedding file holds — shape, dtype, layout,
//! non-finite values and column statistics — so an extraction can be
//! checked before a long run.

use std::path::Path;

use ndarray::ArrayView1;
use serde::Serialize;

use crate::analyses::channels::file_irreps;
use crate::error::Result;
use crate::io::embeddings;

/// Statistics of one column (computed over its finite values).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnStats {
    /// 0-based column index.
    pub column: usize,
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// NaN values.
    pub nan: usize,
    /// ±Inf values.
    pub inf: usize,
}

/// One layer's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerSummary {
    /// Layer name.
    pub name: String,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `float32` or `float64`.
    pub dtype: String,
    /// `C`, `Fortran` or `csv`.
    pub order: String,
    /// NaN values in the layer.
    pub nan: usize,
    /// ±Inf values in the layer.
    pub inf: usize,
    /// Columns whose finite values are all equal (no signal for any probe).
    pub constant_columns: usize,
    /// Columns that are exactly zero everywhere.
    pub zero_columns: usize,
    /// Smallest finite value.
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// Columns non-zero in at least one row but in fewer than
    /// [`SPARSE_FRACTION`] of the rows: a rare element's channels, and the
    /// usual source of single structures that decide a fold (a held-out
    /// owner lands far outside the training fold's range).
    pub sparse_columns: Vec<usize>,
    /// The rows that own a sparse column (non-zero there), most sparse
    /// columns first, then in row order.
    pub sparse_owners: Vec<SparseOwner>,
    /// Per-column statistics.
    pub columns: Vec<ColumnStats>,
    /// e3nn irreps of the columns, from the file's `irreps/LAYER` member.
    pub irreps: Option<String>,
    /// The channel groups `cpd analyze` probes for those irreps.
    pub groups: Vec<GroupSummary>,
}

/// One channel group of a layer with irreps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSummary {
    /// Group name (`128x0e`).
    pub name: String,
    /// First column (0-based).
    pub start: usize,
    /// One past the last column.
    pub end: usize,
}

/// A column is sparse when non-zero in fewer than this fraction of rows.
pub const SPARSE_FRACTION: f64 = 0.01;

/// A row that owns sparse columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SparseOwner {
    /// 0-based row in the file.
    pub row: usize,
    /// Its id, when the file carries ids.
    pub id: Option<String>,
    /// How many of the layer's sparse columns it is non-zero in.
    pub columns: usize,
}

/// A file's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    /// The file.
    pub path: String,
    /// Number of row ids the file carries (`None`: rows follow the compositions' order).
    pub ids: Option<usize>,
    /// Layers in file order.
    pub layers: Vec<LayerSummary>,
    /// Atom rows of a per-atom file, mean-pooled into the layers' rows
    /// (`None`: one row per structure).
    pub atoms: Option<usize>,
}

/// Read `path` (structure checked, values not) and summarise it.
pub fn inspect(path: &Path) -> Result<Inspection> {
    let file = embeddings::read(path)?;
    let layers = file
        .layers
        .iter()
        .map(|l| {
            let columns: Vec<ColumnStats> = (0..l.data.ncols())
                .map(|j| column_stats(j, l.data.column_f64(j).view()))
                .collect();
            let (sparse_columns, sparse_owners) = sparse(&l.data, file.ids.as_deref());
            let finite_min = columns.iter().map(|c| c.min).fold(f64::INFINITY, f64::min);
            let finite_max = columns
                .iter()
                .map(|c| c.max)
                .fold(f64::NEG_INFINITY, f64::max);
            Ok(LayerSummary {
                name: l.name.clone(),
                rows: l.data.nrows(),
                cols: l.data.ncols(),
                dtype: l.dtype().into(),
                order: l.order.into(),
                nan: columns.iter().map(|c| c.nan).sum(),
                inf: columns.iter().map(|c| c.inf).sum(),
                constant_columns: columns.iter().filter(|c| c.min == c.max).count(),
                zero_columns: columns
                    .iter()
                    .filter(|c| c.min == 0.0 && c.max == 0.0 && c.nan + c.inf == 0)
                    .count(),
                min: finite_min,
                max: finite_max,
                sparse_columns,
                sparse_owners,
                columns,
                irreps: l.irreps.clone(),
                groups: groups(l, path)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Inspection {
        path: path.display().to_string(),
        ids: file.ids.as_ref().map(Vec::len),
        layers,
        atoms: file.atoms,
    })
}

/// The channel groups of a layer's own irreps, checked against its width.
fn groups(l: &embeddings::Layer, path: &Path) -> Result<Vec<GroupSummary>> {
    let Some(text) = &l.irreps else {
        return Ok(Vec::new());
    };
    let spec = file_irreps(text, l.data.ncols(), &l.name, path)?;
    Ok(spec
        .groups
        .into_iter()
        .map(|g| GroupSummary {
            name: g.name,
            start: g.start,
            end: g.end,
        })
        .collect())
}

/// The sparse columns of a layer and the rows that own them.
fn sparse(data: &embeddings::Values, ids: Option<&[String]>) -> (Vec<usize>, Vec<SparseOwner>) {
    let n = data.nrows();
    let mut owned = vec![0usize; n];
    let mut cols = Vec::new();
    for j in 0..data.ncols() {
        let c = data.column_f64(j);
        let nonzero: Vec<usize> = (0..n).filter(|&i| c[i] != 0.0).collect();
        if !nonzero.is_empty() && (nonzero.len() as f64) < SPARSE_FRACTION * n as f64 {
            cols.push(j);
            for i in nonzero {
                owned[i] += 1;
            }
        }
    }
    let mut owners: Vec<SparseOwner> = owned
        .iter()
        .enumerate()
        .filter(|(_, &k)| k > 0)
        .map(|(row, &columns)| SparseOwner {
            row,
            id: ids.map(|ids| ids[row].clone()),
            columns,
        })
        .collect();
    owners.sort_by(|a, b| b.columns.cmp(&a.columns).then(a.row.cmp(&b.row)));
    (cols, owners)
}

/// Two-pass mean and variance over the finite values of a column.
fn column_stats(column: usize, c: ArrayView1<'_, f64>) -> ColumnStats {
    let nan = c.iter().filter(|v| v.is_nan()).count();
    let inf = c.iter().filter(|v| v.is_infinite()).count();
    let finite = || c.iter().copied().filter(|v| v.is_finite());
    let n = c.len() - nan - inf;
    if n == 0 {
        return ColumnStats {
            column,
            mean: f64::NAN,
            std: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
            nan,
            inf,
        };
    }
    let mean = finite().sum::<f64>() / n as f64;
    let var = finite().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
    ColumnStats {
        column,
        mean,
        std: var.sqrt(),
        min: finite().fold(f64::INFINITY, f64::min),
        max: finite().fold(f64::NEG_INFINITY, f64::max),
        nan,
        inf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn column_statistics_match_closed_forms() {
        let a = array![1.0, 2.0, f64::NAN, 4.0, f64::INFINITY, 5.0];
        let s = column_stats(3, a.view());
        assert_eq!((s.nan, s.inf, s.column), (1, 1, 3));
        assert_eq!(s.mean, 3.0);
        assert!((s.std - 2.5f64.sqrt()).abs() < 1e-15);
        assert_eq!((s.min, s.max), (1.0, 5.0));
        let s = column_stats(0, array![f64::NAN, f64::NEG_INFINITY].view());
        assert!(s.mean.is_nan() && s.min.is_nan());
        assert_eq!((s.nan, s.inf), (1, 1));
    }

    #[test]
    fn sparse_columns_and_their_owners() {
        // 200 rows: column 0 dense, column 1 non-zero in row 7 only (0.5 %),
        // column 2 in rows 7 and 9 (1 %, not sparse), column 3 all zero.
        let mut a = ndarray::Array2::<f32>::zeros((200, 4));
        a.column_mut(0).fill(1.0);
        a[(7, 1)] = 2.0;
        a[(7, 2)] = 1.0;
        a[(9, 2)] = 1.0;
        let ids: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        let (cols, owners) = sparse(&embeddings::Values::F32(a), Some(&ids));
        assert_eq!(cols, vec![1]);
        assert_eq!(
            owners,
            vec![SparseOwner {
                row: 7,
                id: Some("m7".into()),
                columns: 1
            }]
        );
    }
}
