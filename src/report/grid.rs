//! The tables shared by `report.md` and `report.html`: plain-text cells,
//! escaped by each renderer.

use std::fmt::Write;

/// A column of a results or inputs table.
pub(super) struct Column {
    /// Header text.
    pub name: String,
    /// Right-aligned (a number).
    pub numeric: bool,
    /// Rendered as code (paths, checksums).
    pub code: bool,
}

/// A table shared by `report.md` and `report.html`: plain-text cells,
/// escaped by each renderer.
pub(super) struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

/// A section of the reports: (title, lead text, table). The lead is
/// Markdown: `*` marks emphasis in `report.md` and is dropped in
/// `report.html`.
pub(super) type Section = (String, String, Table);

pub(super) fn markdown_table(md: &mut String, t: &Table) {
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    let _ = writeln!(md, "| {} |", names.join(" | "));
    let rule: Vec<&str> = t
        .columns
        .iter()
        .map(|c| if c.numeric { "---:" } else { "---" })
        .collect();
    let _ = writeln!(md, "|{}|", rule.join("|"));
    for row in &t.rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&t.columns)
            .map(|(v, c)| if c.code { format!("`{v}`") } else { v.clone() })
            .collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
}
