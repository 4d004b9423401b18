//! Stage 3: the folds, shared by every representation, probe and target,
//! and the learning-curve subsampling checked against them.

use super::load::input_info;
use super::{AnalyzeConfig, FoldSpec};
use crate::analyses::curve::CurveSpec;
use crate::error::{CpdError, Result};
use crate::flow::dataset::Dataset;
use crate::flow::folds::{composition_groups, Folds, GroupFolds};
use crate::io::table::read_table;
use crate::report::InputInfo;

/// The run's folds and, when asked for, the learning-curve spec; a folds
/// file is recorded in `inputs`.
pub(super) fn folds(
    config: &AnalyzeConfig,
    ds: &Dataset,
    inputs: &mut Vec<InputInfo>,
) -> Result<(Folds, Option<CurveSpec>)> {
    let folds = match &config.folds {
        FoldSpec::Shuffled { k, seed } => match config.group_folds {
            None => Folds::shuffled(ds.n(), *k, *seed)?,
            Some(GroupFolds::Composition) => {
                Folds::grouped(&composition_groups(ds.composition.view()), *k, *seed)?
            }
        },
        FoldSpec::File(_) if config.group_folds.is_some() => {
            return Err(CpdError::Invalid(
                "group_folds makes its own folds: give it without a folds file".into(),
            ))
        }
        FoldSpec::File(p) => {
            let t = read_table(p)?;
            inputs.push(input_info("folds", p, t.ids.len(), t.columns.len())?);
            Folds::from_table(&t, &ds.ids, &ds.composition_path)?
        }
    };
    let curve = match &config.learning_curve {
        None => None,
        Some(c) => {
            let spec = CurveSpec {
                sizes: c.sizes.clone(),
                repeats: c.repeats,
                seed: config.seed(),
            };
            spec.check(&folds)?;
            Some(spec)
        }
    };
    Ok((folds, curve))
}
