//! CSV tables keyed by an `id` column: compositions, targets, fold
//! assignments and embeddings stored as CSV.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::error::{CpdError, Result};
use crate::io::ids::Ids;

/// A numeric table: one row per id, one named column per quantity.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file it was read from.
    pub path: PathBuf,
    /// Row ids, in file order (unique).
    pub ids: Ids,
    /// Column names, in file order, without the `id` column.
    pub columns: Vec<String>,
    /// `ids.len() × columns.len()` values.
    pub values: Array2<f64>,
}

impl Table {
    /// Index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Read a CSV file whose header holds an `id` column and numeric columns.
///
/// Every cell must parse as a finite number; ids must be non-empty and unique.
/// Errors name the file, the 1-based data row and the column.
pub fn read_table(path: &Path) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|e| CpdError::io(path, e))?;
    parse_table(std::io::BufReader::new(file), path)
}

/// [`read_table`] on any reader; `path` only labels errors.
pub fn parse_table<R: std::io::Read>(input: R, path: &Path) -> Result<Table> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(CpdError::format(
            path,
            "empty file: expected a CSV header with an 'id' column",
        ));
    }
    let id_col = header.iter().position(|h| h == "id").ok_or_else(|| {
        CpdError::format(
            path,
            format!(
                "no 'id' column in the header (found: {})",
                header.join(", ")
            ),
        )
    })?;
    let mut seen = HashSet::new();
    for h in &header {
        if h.is_empty() {
            return Err(CpdError::format(
                path,
                "a header cell is empty: every column needs a name",
            ));
        }
        if !seen.insert(h.as_str()) {
            return Err(CpdError::format(
                path,
                format!("column '{h}' appears twice in the header"),
            ));
        }
    }
    let columns: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != id_col)
        .map(|(_, h)| h.clone())
        .collect();

    let mut ids = Ids::new();
    let mut values = Vec::new();
    // Duplicate ids are found after reading (sorting row numbers by id),
    // not with a map of every id: with millions of rows that map weighed
    // more than the table. The first problem in file order is reported.
    let duplicate = |ids: &Ids| {
        first_duplicate(ids).map(|(first, row)| CpdError::Cell {
            path: path.to_owned(),
            row: row + 1,
            column: "id".into(),
            message: format!(
                "duplicate id '{}' (first seen in row {})",
                &ids[row],
                first + 1
            ),
        })
    };
    for (r, record) in reader.records().enumerate() {
        let row = r + 1;
        let parsed = record.map_err(|e| csv_error(path, e)).and_then(|record| {
            let id = record.get(id_col).unwrap_or("").to_owned();
            if id.is_empty() {
                return Err(CpdError::Cell {
                    path: path.to_owned(),
                    row,
                    column: "id".into(),
                    message: "empty id".into(),
                });
            }
            for (c, cell) in record.iter().enumerate() {
                if c != id_col {
                    values.push(parse_cell(path, row, &header[c], cell)?);
                }
            }
            Ok(id)
        });
        match parsed {
            Ok(id) => ids.push(&id),
            Err(e) => return Err(duplicate(&ids).unwrap_or(e)),
        }
    }
    if let Some(e) = duplicate(&ids) {
        return Err(e);
    }
    ids.shrink_to_fit();
    values.shrink_to_fit();
    let values = Array2::from_shape_vec((ids.len(), columns.len()), values)
        .expect("every record has the header's width (csv enforces it)");
    Ok(Table {
        path: path.to_owned(),
        ids,
        columns,
        values,
    })
}

/// The first row (0-based, in file order) whose id an earlier row already
/// has, with that earlier row: of every group of equal ids, the second
/// occurrence that comes first.
fn first_duplicate(ids: &Ids) -> Option<(usize, usize)> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_unstable_by(|&a, &b| ids[a].cmp(&ids[b]).then(a.cmp(&b)));
    order
        .windows(2)
        .filter(|w| ids[w[0]] == ids[w[1]])
        .map(|w| (w[0], w[1]))
        .min_by_key(|&(_, second)| second)
}

fn parse_cell(path: &Path, row: usize, column: &str, cell: &str) -> Result<f64> {
    let cell_error = |message: String| CpdError::Cell {
        path: path.to_owned(),
        row,
        column: column.to_owned(),
        message,
    };
    if cell.is_empty() {
        return Err(cell_error("empty cell, expected a number".into()));
    }
    let v: f64 = cell
        .parse()
        .map_err(|_| cell_error(format!("'{cell}' is not a number")))?;
    if !v.is_finite() {
        return Err(cell_error(format!("'{cell}' is not finite (NaN or Inf)")));
    }
    if v.abs() > crate::io::MAX_ABS_VALUE {
        return Err(cell_error(format!(
            "'{cell}' exceeds {:e} in magnitude",
            crate::io::MAX_ABS_VALUE
        )));
    }
    Ok(v)
}

fn csv_error(path: &Path, e: csv::Error) -> CpdError {
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {}: {len} fields, expected {expected_len} as in the header",
            pos.as_ref().map(|p| p.line()).unwrap_or(0)
        ),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {}: not valid UTF-8",
            pos.as_ref().map(|p| p.line()).unwrap_or(0)
        ),
        _ => e.to_string(),
    };
    CpdError::format(path, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_ids_columns_and_values_with_id_anywhere() {
        let f = write("a, id ,b\n1.5,x,2\n-3,y,4e2\n");
        let t = read_table(f.path()).unwrap();
        assert_eq!(t.ids, vec!["x", "y"]);
        assert_eq!(t.columns, vec!["a", "b"]);
        assert_eq!(t.values[(1, 1)], 400.0);
        assert_eq!(t.values[(1, 0)], -3.0);
    }

    #[test]
    fn errors_name_row_and_column() {
        let cases = [
            ("id,a\n1,2\n2,zz\n", "row 2, column 'a'"),
            ("id,a\n1,nan\n", "not finite"),
            ("id,a\n1,\n", "empty cell"),
            ("id,a\n1,2\n1,3\n", "duplicate id '1'"),
            ("a,b\n1,2\n", "no 'id' column"),
            ("id,a\n1,2,3\n", "expected 2"),
            ("", "empty file"),
            ("id,a,a\n1,2,3\n", "appears twice"),
        ];
        for (content, expected) in cases {
            let f = write(content);
            let err = read_table(f.path()).unwrap_err().to_string();
            assert!(err.contains(expected), "{content:?}: {err}");
            assert!(err.contains(&f.path().display().to_string()));
        }
    }
}
