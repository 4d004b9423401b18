//! Cells and columns of the report's section tables, and the bytes of their
//! CSV files: the formats every section builder shares.

use super::grid::Column;
use crate::error::{CpdError, Result};

/// A plain-text column; `numeric` right-aligns it.
pub(super) fn col(name: &str, numeric: bool) -> Column {
    Column {
        name: name.to_owned(),
        numeric,
        code: false,
    }
}

/// The layer with its channel group, `layer[group]`, or the layer alone.
pub(super) fn layer_label(layer: &str, channels: Option<&str>) -> String {
    match channels {
        Some(g) => format!("{layer}[{g}]"),
        None => layer.to_owned(),
    }
}

/// Three decimals, or scientific notation beyond ±10⁴ (a linear probe on
/// a few hundred rows of a sparse embedding can reach R² of −10⁴⁹).
pub(super) fn num(v: f64) -> String {
    if v.abs() >= 1e4 {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

/// An R² as [`num`] formats it, or "—" when there is none.
pub(super) fn r2(v: Option<f64>) -> String {
    v.map_or("—".into(), num)
}

/// `digits` decimals, or "—" when there is no value.
pub(super) fn fixed(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |x| format!("{x:.digits$}"))
}

/// A CSV field: the value in full (Rust's shortest round-trip form), or
/// empty when there is none.
pub(super) fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// A CSV file's bytes: the header, then the rows; `name` labels errors.
pub(super) fn csv_bytes(name: &str, header: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let err = |e: csv::Error| CpdError::format(name, e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| CpdError::format(name, e.to_string()))
}

/// A file of the report: (file name, bytes).
pub(super) type ReportFile = (String, Vec<u8>);

/// A CSV file of the report.
pub(super) fn csv_file(name: &str, header: &[&str], rows: Vec<Vec<String>>) -> Result<ReportFile> {
    Ok((name.into(), csv_bytes(name, header, rows)?))
}
