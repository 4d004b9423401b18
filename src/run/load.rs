//! Stages 2: load the compositions and targets, and align them by id.

use std::path::Path;

use super::{AnalyzeConfig, CompositionSource, EmbeddingSpec, InMemory};
use crate::analyses::channels::{file_irreps, ChannelSpec};
use crate::analyses::controls::{control_targets, is_control, PREFIX};
use crate::error::{CpdError, Result};
use crate::flow::dataset::{CompositionMode, Dataset};
use crate::io::embeddings::{EmbeddingFile, Layer, Values};
use crate::io::table::{read_table, Table};
use crate::io::{self, peratom, xyz};
use crate::report::InputInfo;

/// The compositions (read from a table or derived from structures) and the
/// targets, as read.
pub(super) struct Tables {
    composition: Table,
    targets: Table,
}

/// Read the compositions and the targets (or take them from `data`);
/// record both in `inputs`.
pub(super) fn tables(
    config: &AnalyzeConfig,
    data: Option<&InMemory>,
    inputs: &mut Vec<InputInfo>,
) -> Result<Tables> {
    if let Some(d) = data {
        for (role, t) in [("compositions", &d.compositions), ("targets", &d.targets)] {
            check_table(t)?;
            inputs.push(memory_info(role, t.path.display().to_string(), &t.values));
        }
        return Ok(Tables {
            composition: d.compositions.clone(),
            targets: d.targets.clone(),
        });
    }
    let (composition, role) = match &config.composition {
        CompositionSource::Table(p) => (read_table(p)?, "compositions"),
        CompositionSource::Structures(p) => (xyz::read_compositions(p)?, "structures"),
        CompositionSource::Atoms(p) => (peratom::read_compositions(p)?, "atoms"),
    };
    inputs.push(input_info(
        role,
        &composition.path,
        composition.ids.len(),
        composition.columns.len(),
    )?);
    let targets = read_table(&config.targets)?;
    inputs.push(input_info(
        "targets",
        &targets.path,
        targets.ids.len(),
        targets.columns.len(),
    )?);
    Ok(Tables {
        composition,
        targets,
    })
}

/// Join compositions and targets by id, and add the control targets when
/// asked for.
pub(super) fn align(config: &AnalyzeConfig, tables: Tables) -> Result<Dataset> {
    let mut ds = Dataset::new(
        tables.composition,
        config.composition_mode,
        tables.targets,
        &config.target_names,
    )?;
    if config.controls {
        add_controls(&mut ds, config.seed())?;
    }
    if !(config.inflation_threshold.is_finite()) {
        return Err(CpdError::Invalid(format!(
            "setting `inflation_threshold` must be a finite number, got {}",
            config.inflation_threshold
        )));
    }
    Ok(ds)
}

pub(super) fn input_info(role: &str, path: &Path, rows: usize, cols: usize) -> Result<InputInfo> {
    Ok(InputInfo {
        role: role.into(),
        path: path.display().to_string(),
        sha256: io::sha256_file(path)?,
        rows,
        cols,
        model: None,
        layer: None,
        dtype: None,
        atoms: None,
    })
}

/// A table held in memory, checked as [`read_table`] checks a file: as
/// many value rows as ids and columns as names, ids non-empty and unique,
/// names non-empty and unique, every value finite and within
/// [`io::MAX_ABS_VALUE`]. Rows are numbered from 1, as in a file.
fn check_table(t: &Table) -> Result<()> {
    let path = &t.path;
    if t.values.dim() != (t.ids.len(), t.columns.len()) {
        return Err(CpdError::format(
            path,
            format!(
                "{} × {} values for {} ids and {} columns",
                t.values.nrows(),
                t.values.ncols(),
                t.ids.len(),
                t.columns.len()
            ),
        ));
    }
    let cell = |row: usize, column: &str, message: String| CpdError::Cell {
        path: path.clone(),
        row,
        column: column.into(),
        message,
    };
    let mut rows = std::collections::HashMap::new();
    for (r, id) in t.ids.iter().enumerate() {
        if id.is_empty() {
            return Err(cell(r + 1, "id", "empty id".into()));
        }
        if let Some(first) = rows.insert(id, r + 1) {
            return Err(cell(
                r + 1,
                "id",
                format!("duplicate id '{id}' (first seen in row {first})"),
            ));
        }
    }
    for (c, name) in t.columns.iter().enumerate() {
        if name.is_empty() || name == "id" {
            return Err(CpdError::format(
                path,
                format!("column {c} is named '{name}': every column needs a name other than 'id'"),
            ));
        }
        if t.columns[..c].contains(name) {
            return Err(CpdError::format(
                path,
                format!("column '{name}' appears twice"),
            ));
        }
    }
    if let Some(((r, c), v)) = t.values.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(cell(
            r + 1,
            &t.columns[c],
            format!("{v} is not finite (NaN or Inf)"),
        ));
    }
    if let Some(((r, c), v)) = t
        .values
        .indexed_iter()
        .find(|(_, v)| v.abs() > io::MAX_ABS_VALUE)
    {
        return Err(cell(
            r + 1,
            &t.columns[c],
            format!("{v} exceeds {:e} in magnitude", io::MAX_ABS_VALUE),
        ));
    }
    Ok(())
}

/// An input held in memory: its label and the SHA-256 of its values
/// widened to float64, row-major, little-endian.
fn memory_info(role: &str, label: String, values: &ndarray::Array2<f64>) -> InputInfo {
    InputInfo {
        role: role.into(),
        path: label,
        sha256: sha256_values(&Values::F64(values.clone())),
        rows: values.nrows(),
        cols: values.ncols(),
        model: None,
        layer: None,
        dtype: None,
        atoms: None,
    }
}

/// SHA-256 (hex) of `v` widened to float64, row-major, little-endian.
pub(super) fn sha256_values(v: &Values) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut row = ndarray::Array1::<f64>::zeros(v.ncols());
    for i in 0..v.nrows() {
        v.row_into(i, row.view_mut());
        for x in &row {
            hasher.update(x.to_le_bytes());
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Append the control targets that vary on the data to the data set's
/// targets; the others are recorded in `ds.skipped` with their reason.
fn add_controls(ds: &mut Dataset, seed: u64) -> Result<()> {
    if let Some(clash) = ds.target_names.iter().find(|t| is_control(t)) {
        return Err(CpdError::Invalid(format!(
            "target '{clash}' in {} starts with '{PREFIX}', the prefix of the control targets; rename it to use the setting `controls`",
            ds.targets_path.display()
        )));
    }
    let fractions = ds.composition_mode == CompositionMode::Fractions;
    let c = control_targets(
        ds.composition.view(),
        &ds.composition_columns,
        seed,
        fractions,
    )?;
    ds.targets = ndarray::concatenate![ndarray::Axis(1), ds.targets, c.values];
    ds.target_names.extend(c.names);
    ds.skipped.extend(c.skipped);
    Ok(())
}

/// Keep the requested layers, in the requested order; a name the file does
/// not have is an error listing the ones it has.
pub(super) fn select_layers(
    mut file: EmbeddingFile,
    wanted: Option<&[String]>,
) -> Result<EmbeddingFile> {
    let Some(wanted) = wanted else {
        return Ok(file);
    };
    let mut layers = Vec::with_capacity(wanted.len());
    for (i, name) in wanted.iter().enumerate() {
        if wanted[..i].contains(name) {
            return Err(CpdError::Invalid(format!(
                "layer '{name}' of {} is selected twice",
                file.path.display()
            )));
        }
        let Some(pos) = file.layers.iter().position(|l| &l.name == name) else {
            let have: Vec<&str> = file.layers.iter().map(|l| l.name.as_str()).collect();
            return Err(CpdError::format(
                &file.path,
                format!("no layer '{name}' (the file has: {})", have.join(", ")),
            ));
        };
        layers.push(file.layers.swap_remove(pos));
    }
    file.layers = layers;
    Ok(file)
}

/// The channel groups `layer` is split into, if any: the run's (or the
/// model's) `irreps`/`channels`, else the layer's own irreps stored in its
/// file (`path`), for the layers `channel_layers` names (every layer when
/// absent); checked against the layer's width.
pub(super) fn channel_split(
    spec: &EmbeddingSpec,
    path: &Path,
    layer: &Layer,
) -> Result<Option<ChannelSpec>> {
    let own = match (&spec.channels, &layer.irreps) {
        (None, Some(t)) => Some(file_irreps(t, layer.data.ncols(), &layer.name, path)?),
        _ => None,
    };
    let split = spec.channels.clone().or(own).filter(|_| {
        spec.channel_layers
            .as_ref()
            .is_none_or(|ls| ls.contains(&layer.name))
    });
    if let Some(ch) = &split {
        ch.check_width(
            layer.data.ncols(),
            &format!("layer '{}' of {}", layer.name, path.display()),
        )?;
    }
    Ok(split)
}
