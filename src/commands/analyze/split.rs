//! Stage 3: the folds, shared by every representation, probe and target,
//! and the learning-curve subsampling checked against them.

use super::load::input_info;
use super::{AnalyzeConfig, FoldSpec};
use crate::analyses::curve::CurveSpec;
use crate::error::Result;
use crate::flow::dataset::Dataset;
use crate::flow::folds::Folds;
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
        FoldSpec::Shuffled { k, seed } => Folds::shuffled(ds.n(), *k, *seed)?,
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
                seed: match &config.folds {
                    FoldSpec::Shuffled { seed, .. } => *seed,
                    FoldSpec::File(_) => 0,
                },
            };
            spec.check(&folds)?;
            Some(spec)
        }
    };
    Ok((folds, curve))
}
