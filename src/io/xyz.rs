//! Extended XYZ (ASE's format) reader for deriving compositions.
//!
//! Each frame is an atom-count line, a comment line of `key=value` pairs
//! (values may be quoted) and one line per atom. The species column is found
//! from `Properties=` (`species:S:1:pos:R:3:…`), defaulting to the first
//! column as in plain XYZ. A frame's id is its `id=` value, else its 0-based
//! index in the file.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::Array2;

use crate::error::{CpdError, Result};
use crate::io::elements::{atomic_number, SYMBOLS};
use crate::io::table::Table;

/// Read structures and count atoms per element.
///
/// Returns a table with one row per frame and one column per element that
/// occurs in the file, ordered by atomic number.
pub fn read_compositions(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path).map_err(|e| CpdError::io(path, e))?;
    parse_compositions(&text, path)
}

/// [`read_compositions`] on text already in memory; `path` only labels errors.
pub fn parse_compositions(text: &str, path: &Path) -> Result<Table> {
    let lines: Vec<&str> = text.lines().collect();
    let err =
        |line: usize, message: String| CpdError::format(path, format!("line {line}: {message}"));
    let mut ids = Vec::new();
    let mut frames: Vec<BTreeMap<usize, usize>> = Vec::new();
    let mut seen_ids = std::collections::HashMap::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let count_line = i + 1;
        let natoms: usize = lines[i].trim().parse().map_err(|_| {
            err(
                count_line,
                format!(
                    "expected the number of atoms of frame {}, found '{}'",
                    frames.len(),
                    lines[i].trim()
                ),
            )
        })?;
        if natoms == 0 {
            return Err(err(count_line, "a frame with 0 atoms".into()));
        }
        let comment = lines
            .get(i + 1)
            .ok_or_else(|| err(count_line + 1, "missing comment line".into()))?;
        let info = parse_comment(comment);
        let species_col = species_column(info.get("Properties").map(String::as_str))
            .map_err(|m| err(count_line + 1, m))?;
        let id = info
            .get("id")
            .cloned()
            .unwrap_or_else(|| frames.len().to_string());
        if id.is_empty() {
            return Err(err(count_line + 1, "empty id= value".into()));
        }
        if let Some(first) = seen_ids.insert(id.clone(), frames.len()) {
            return Err(err(
                count_line + 1,
                format!("duplicate id '{id}' (first used by frame {first})"),
            ));
        }
        let mut counts = BTreeMap::new();
        for a in 0..natoms {
            let ln = i + 2 + a;
            let line = lines.get(ln).ok_or_else(|| {
                err(
                    ln + 1,
                    format!(
                        "frame {} says {natoms} atoms but the file ends after {a}",
                        frames.len()
                    ),
                )
            })?;
            let fields: Vec<&str> = line.split_whitespace().collect();
            let sym = fields.get(species_col).copied().unwrap_or("");
            let z = atomic_number(sym).ok_or_else(|| {
                let hint = if sym.parse::<f64>().is_ok() || fields.len() < 4 {
                    format!(
                        " (frame {} may have fewer than {natoms} atoms: check its count line {count_line})",
                        frames.len()
                    )
                } else {
                    String::new()
                };
                err(ln + 1, format!("unknown element symbol '{sym}'{hint}"))
            })?;
            *counts.entry(z).or_insert(0usize) += 1;
        }
        ids.push(id);
        frames.push(counts);
        i += 2 + natoms;
    }
    if frames.is_empty() {
        return Err(CpdError::format(path, "no structures found (empty file?)"));
    }
    let mut zs: Vec<usize> = frames.iter().flat_map(|f| f.keys().copied()).collect();
    zs.sort_unstable();
    zs.dedup();
    let values = Array2::from_shape_fn((frames.len(), zs.len()), |(r, c)| {
        frames[r].get(&zs[c]).copied().unwrap_or(0) as f64
    });
    Ok(Table {
        path: path.to_owned(),
        ids: ids.iter().collect(),
        columns: zs.iter().map(|z| SYMBOLS[z - 1].to_owned()).collect(),
        values,
    })
}

/// Split an extended-XYZ comment line into `key=value` pairs; values may be
/// single- or double-quoted. Bare words become keys with an empty value.
fn parse_comment(line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let start = i;
        while i < chars.len() && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let quote = chars[i];
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    value.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && !chars[i].is_whitespace() {
                    value.push(chars[i]);
                    i += 1;
                }
            }
        }
        if !key.is_empty() {
            out.insert(key, value);
        }
    }
    out
}

/// Column index of the species in an atom line, from a `Properties` spec.
fn species_column(properties: Option<&str>) -> std::result::Result<usize, String> {
    let Some(spec) = properties else {
        return Ok(0);
    };
    let parts: Vec<&str> = spec.split(':').collect();
    if !parts.len().is_multiple_of(3) {
        return Err(format!(
            "Properties='{spec}' is not a list of name:type:count triples"
        ));
    }
    let mut col = 0;
    for triple in parts.chunks(3) {
        let count: usize = triple[2].parse().map_err(|_| {
            format!(
                "Properties='{spec}': count '{}' is not an integer",
                triple[2]
            )
        })?;
        if triple[0] == "species" {
            return Ok(col);
        }
        col = col
            .checked_add(count)
            .ok_or_else(|| format!("Properties='{spec}': column counts overflow"))?;
    }
    Err(format!("Properties='{spec}' has no 'species' column"))
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
    fn counts_elements_per_frame_and_reads_ids() {
        let f = write(
            "3\nProperties=species:S:1:pos:R:3 id=w1 comment=\"a b\"\nO 0 0 0\nH 0 0 1\nH 0 1 0\n\
             2\nProperties=pos:R:3:species:S:1 id=co\n0 0 0 C\n0 0 1 O\n",
        );
        let t = read_compositions(f.path()).unwrap();
        assert_eq!(t.ids, vec!["w1", "co"]);
        assert_eq!(t.columns, vec!["H", "C", "O"]);
        assert_eq!(t.values.row(0).to_vec(), vec![2.0, 0.0, 1.0]);
        assert_eq!(t.values.row(1).to_vec(), vec![0.0, 1.0, 1.0]);
    }

    #[test]
    fn frames_without_id_use_their_index() {
        let f = write("1\n\nH 0 0 0\n1\nplain comment\nHe 0 0 0\n");
        let t = read_compositions(f.path()).unwrap();
        assert_eq!(t.ids, vec!["0", "1"]);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases = [
            ("x\n\nH 0 0 0\n", "line 1: expected the number of atoms"),
            ("3\n\nH 0 0 0\nH 0 0 0\n", "file ends after 2"),
            ("1\n\nXx 0 0 0\n", "unknown element symbol 'Xx'"),
            ("2\n\nH 0 0 0\n1\n", "line 4: unknown element symbol '1'"),
            ("", "no structures"),
            ("1\nid=a\nH 0 0 0\n1\nid=a\nH 0 0 0\n", "duplicate id 'a'"),
        ];
        for (content, expected) in cases {
            let f = write(content);
            let e = read_compositions(f.path()).unwrap_err().to_string();
            assert!(e.contains(expected), "{content:?}: {e}");
        }
    }
}
