//! Aligning inputs: compositions define the row order; targets and
//! embeddings are matched to it by `id`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array2, Axis};

use crate::error::{CpdError, Result};
use crate::io::elements::atomic_number;
#[cfg(test)]
use crate::io::embeddings::Values;
use crate::io::embeddings::{EmbeddingFile, Layer};
use crate::io::ids::{IdList, Ids};
use crate::io::table::Table;

/// How composition enters the projection.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum CompositionMode {
    /// Atom counts per element (molecules).
    Counts,
    /// Atom fractions per element, each row summing to one (crystals).
    /// `[1 | fractions]` is rank deficient; the projection reports it.
    Fractions,
}

/// Compositions and targets on a common row order, ready for probing.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Row ids, in the compositions file's order.
    pub ids: Ids,
    /// Element symbols of the composition columns.
    pub composition_columns: Vec<String>,
    /// `n × k` counts or fractions.
    pub composition: Array2<f64>,
    /// How `composition` was derived.
    pub composition_mode: CompositionMode,
    /// File the compositions came from.
    pub composition_path: PathBuf,
    /// Names of the targets to probe.
    pub target_names: Vec<String>,
    /// `n × t` target values, rows aligned with `ids`.
    pub targets: Array2<f64>,
    /// File the targets came from.
    pub targets_path: PathBuf,
    /// `(target, reason)` of every target left out (constant, or a control
    /// that does not vary on the data).
    pub skipped: Vec<(String, String)>,
}

impl Dataset {
    /// Validate the composition table, select targets and align them by id.
    ///
    /// `selected` empty means every target column. The target table must hold
    /// exactly the compositions' ids (any missing or extra id is an error).
    pub fn new(
        composition: Table,
        mode: CompositionMode,
        targets: Table,
        selected: &[String],
    ) -> Result<Dataset> {
        let path = composition.path.clone();
        if composition.ids.is_empty() {
            return Err(CpdError::format(&path, "no data rows (0 structures)"));
        }
        if composition.columns.is_empty() {
            return Err(CpdError::format(
                &path,
                "no element columns besides 'id' (expected e.g. id,H,C,N,O,F)",
            ));
        }
        for col in &composition.columns {
            if atomic_number(col).is_none() {
                return Err(CpdError::format(
                    &path,
                    format!("column '{col}' is not an element symbol (expected e.g. H, C, Cl)"),
                ));
            }
        }
        if let Some(((r, c), v)) = composition.values.indexed_iter().find(|(_, v)| **v < 0.0) {
            return Err(CpdError::Cell {
                path: path.clone(),
                row: r + 1,
                column: composition.columns[c].clone(),
                message: format!("negative atom count {v}"),
            });
        }
        if mode == CompositionMode::Counts {
            if let Some(((r, c), v)) = composition
                .values
                .indexed_iter()
                .find(|(_, v)| v.fract() != 0.0)
            {
                return Err(CpdError::Cell {
                    path: path.clone(),
                    row: r + 1,
                    column: composition.columns[c].clone(),
                    message: format!(
                        "atom count {v} of '{}' is not a whole number (for atom fractions \
                         set `composition` to fractions)",
                        &composition.ids[r]
                    ),
                });
            }
        }
        let mut values = composition.values;
        if mode == CompositionMode::Fractions {
            for (r, mut row) in values.axis_iter_mut(Axis(0)).enumerate() {
                let total: f64 = row.sum();
                if total <= 0.0 {
                    return Err(CpdError::Cell {
                        path: path.clone(),
                        row: r + 1,
                        column: "*".into(),
                        message: "no atoms: fractions are undefined".into(),
                    });
                }
                row /= total;
            }
        }

        let names: Vec<String> = if selected.is_empty() {
            targets.columns.clone()
        } else {
            selected.to_vec()
        };
        if names.is_empty() {
            return Err(CpdError::format(
                &targets.path,
                "no target columns besides 'id'",
            ));
        }
        let mut cols = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(CpdError::Invalid(format!(
                    "target '{name}' is selected twice"
                )));
            }
            let c = targets.column_index(name).ok_or_else(|| {
                CpdError::format(
                    &targets.path,
                    format!(
                        "unknown target '{name}'; the file has: {}",
                        targets.columns.join(", ")
                    ),
                )
            })?;
            cols.push(c);
        }
        let order = align_ids(&composition.ids, &path, &targets.ids, &targets.path)?;
        let target_values = Array2::from_shape_fn((order.len(), cols.len()), |(r, t)| {
            targets.values[(order[r], cols[t])]
        });
        Ok(Dataset {
            ids: composition.ids,
            composition_columns: composition.columns,
            composition: values,
            composition_mode: mode,
            composition_path: path,
            target_names: names,
            targets: target_values,
            targets_path: targets.path,
            skipped: Vec::new(),
        })
    }

    /// Number of rows (structures).
    pub fn n(&self) -> usize {
        self.ids.len()
    }

    /// Put an embedding file's layers in the dataset's row order.
    ///
    /// With ids, rows are matched by id; without, the file must have exactly
    /// as many rows as the compositions and is taken in their order.
    pub fn align_embedding(&self, file: EmbeddingFile) -> Result<Vec<Layer>> {
        match &file.ids {
            Some(ids) => {
                let order = align_ids(&self.ids, &self.composition_path, ids, &file.path)?;
                let mut layers = file.layers;
                // In place: no second copy of the embedding.
                for l in &mut layers {
                    l.data.permute_rows(&order);
                }
                Ok(layers)
            }
            None => {
                for layer in &file.layers {
                    if layer.data.nrows() != self.n() {
                        return Err(CpdError::Alignment {
                            path: file.path.clone(),
                            message: format!(
                                "layer '{}' has {} rows but {} has {} structures (without ids, rows follow the compositions' order)",
                                layer.name,
                                layer.data.nrows(),
                                self.composition_path.display(),
                                self.n()
                            ),
                        });
                    }
                }
                Ok(file.layers)
            }
        }
    }
}

/// For each reference id, the row holding it in `other` (ids are unique in
/// both, as the loaders guarantee). Missing and extra ids are errors that
/// name the id and the row where it occurs.
pub fn align_ids(
    reference: &(impl IdList + ?Sized),
    reference_path: &Path,
    other: &(impl IdList + ?Sized),
    other_path: &Path,
) -> Result<Vec<usize>> {
    let index: HashMap<&str, usize> = (0..other.count()).map(|i| (other.id(i), i)).collect();
    let mut order = Vec::with_capacity(reference.count());
    for r in 0..reference.count() {
        let id = reference.id(r);
        match index.get(id) {
            Some(&i) => order.push(i),
            None => {
                return Err(CpdError::Alignment {
                    path: other_path.to_owned(),
                    message: format!(
                        "id '{id}' (row {} of {}) is missing",
                        r + 1,
                        reference_path.display()
                    ),
                })
            }
        }
    }
    if other.count() != reference.count() {
        let known: std::collections::HashSet<&str> =
            (0..reference.count()).map(|i| reference.id(i)).collect();
        let (row, id) = (0..other.count())
            .map(|i| (i, other.id(i)))
            .find(|(_, id)| !known.contains(id))
            .map(|(i, id)| (i + 1, id.to_owned()))
            .unwrap_or((0, String::new()));
        return Err(CpdError::Alignment {
            path: other_path.to_owned(),
            message: format!(
                "id '{id}' (row {row}) is not in {}; {} rows here vs {} there",
                reference_path.display(),
                other.count(),
                reference.count()
            ),
        });
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn table(path: &str, ids: &[&str], columns: &[&str], values: Array2<f64>) -> Table {
        Table {
            path: PathBuf::from(path),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            columns: columns.iter().map(|s| s.to_string()).collect(),
            values,
        }
    }

    #[test]
    fn targets_and_embeddings_follow_the_composition_order() {
        let comp = table(
            "c.csv",
            &["a", "b", "c"],
            &["H", "C"],
            array![[1., 1.], [2., 1.], [4., 2.]],
        );
        let targ = table(
            "t.csv",
            &["c", "a", "b"],
            &["y", "z"],
            array![[30., 3.], [10., 1.], [20., 2.]],
        );
        let ds = Dataset::new(comp, CompositionMode::Counts, targ, &["z".to_string()]).unwrap();
        assert_eq!(ds.targets.column(0).to_vec(), vec![1., 2., 3.]);
        let emb = EmbeddingFile {
            path: "e.npz".into(),
            ids: Some(vec!["b".into(), "c".into(), "a".into()]),
            layers: vec![Layer {
                name: "l".into(),
                order: "C",
                data: Values::F32(array![[2.], [3.], [1.]]),
                irreps: None,
            }],
            atoms: None,
        };
        let layers = ds.align_embedding(emb).unwrap();
        assert_eq!(layers[0].data.column_f64(0).to_vec(), vec![1., 2., 3.]);
    }

    #[test]
    fn a_fractional_count_is_refused_with_its_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("c.csv");
        std::fs::write(&c, "id,H,C\na,2,1\nb,2.5,1\n").unwrap();
        let t = dir.path().join("t.csv");
        std::fs::write(&t, "id,z\na,1\nb,2\n").unwrap();
        let read = |p: &std::path::Path| crate::io::table::read_table(p).unwrap();
        let e = Dataset::new(read(&c), CompositionMode::Counts, read(&t), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.csv: row 2, column 'H'"), "{e}");
        assert!(
            e.contains("2.5") && e.contains("set `composition` to fractions"),
            "{e}"
        );
        // The same file is fine as fractions.
        assert!(Dataset::new(read(&c), CompositionMode::Fractions, read(&t), &[]).is_ok());
    }

    #[test]
    fn fractions_sum_to_one() {
        let comp = table(
            "c.csv",
            &["a", "b"],
            &["H", "O"],
            array![[2., 1.], [1., 3.]],
        );
        let targ = table("t.csv", &["a", "b"], &["y"], array![[1.], [2.]]);
        let ds = Dataset::new(comp, CompositionMode::Fractions, targ, &[]).unwrap();
        assert!((ds.composition[(1, 1)] - 0.75).abs() < 1e-15);
    }

    #[test]
    fn mismatches_name_file_row_and_id() {
        let comp = || table("c.csv", &["a", "b"], &["H"], array![[1.], [2.]]);
        let err = |t: Table| {
            Dataset::new(comp(), CompositionMode::Counts, t, &[])
                .unwrap_err()
                .to_string()
        };
        let e = err(table("t.csv", &["a"], &["y"], array![[1.]]));
        assert!(
            e.contains("t.csv") && e.contains("id 'b' (row 2 of c.csv) is missing"),
            "{e}"
        );
        let e = err(table(
            "t.csv",
            &["a", "b", "x"],
            &["y"],
            array![[1.], [2.], [3.]],
        ));
        assert!(e.contains("id 'x' (row 3) is not in c.csv"), "{e}");
        let e = Dataset::new(
            comp(),
            CompositionMode::Counts,
            table("t.csv", &["a", "b"], &["y"], array![[1.], [2.]]),
            &["gap".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown target 'gap'") && e.contains("y"), "{e}");
        let bad = table("c.csv", &["a"], &["Hx"], array![[1.]]);
        let e = Dataset::new(
            bad,
            CompositionMode::Counts,
            table("t.csv", &["a"], &["y"], array![[1.]]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'Hx' is not an element symbol"), "{e}");
        let emb = EmbeddingFile {
            path: "e.npy".into(),
            ids: None,
            layers: vec![Layer {
                name: "e".into(),
                order: "C",
                data: Values::F64(Array2::zeros((3, 2))),
                irreps: None,
            }],
            atoms: None,
        };
        let ds = Dataset::new(
            comp(),
            CompositionMode::Counts,
            table("t.csv", &["a", "b"], &["y"], array![[1.], [2.]]),
            &[],
        )
        .unwrap();
        let e = ds.align_embedding(emb).unwrap_err().to_string();
        assert!(
            e.contains("e.npy") && e.contains("has 3 rows but c.csv has 2"),
            "{e}"
        );
    }
}
