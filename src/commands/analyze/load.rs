//! Stages 2: load the compositions and targets, and align them by id.

use std::path::Path;

use super::{AnalyzeConfig, CompositionSource};
use crate::analyses::controls::{control_targets, CONTROLS};
use crate::error::{CpdError, Result};
use crate::flow::dataset::{CompositionMode, Dataset};
use crate::io::embeddings::EmbeddingFile;
use crate::io::table::{read_table, Table};
use crate::io::{self, peratom, xyz};
use crate::report::InputInfo;

/// The compositions (read from a table or derived from structures) and the
/// targets, as read.
pub(super) struct Tables {
    composition: Table,
    targets: Table,
}

/// Read the compositions and the targets; record both in `inputs`.
pub(super) fn tables(config: &AnalyzeConfig, inputs: &mut Vec<InputInfo>) -> Result<Tables> {
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
        add_controls(&mut ds)?;
    }
    if !(config.inflation_threshold.is_finite()) {
        return Err(CpdError::Invalid(format!(
            "--inflation-threshold must be a finite number, got {}",
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

/// Append the control targets to the data set's targets.
fn add_controls(ds: &mut Dataset) -> Result<()> {
    if ds.composition_mode != CompositionMode::Counts {
        return Err(CpdError::Invalid(
            "--controls needs atom counts (--composition counts)".into(),
        ));
    }
    if let Some(clash) = ds
        .target_names
        .iter()
        .find(|t| CONTROLS.contains(&t.as_str()))
    {
        return Err(CpdError::Invalid(format!(
            "target '{clash}' in {} has the name of a control target; rename it to use --controls",
            ds.targets_path.display()
        )));
    }
    let c = control_targets(ds.composition.view(), &ds.composition_columns)?;
    ds.targets = ndarray::concatenate![ndarray::Axis(1), ds.targets, c];
    ds.target_names
        .extend(CONTROLS.iter().map(|s| s.to_string()));
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
