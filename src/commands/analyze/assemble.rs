//! Stage 6: analyse the records (gaps, inflation, channel routing,
//! profiles, instability) and assemble the report with the run's settings.

use std::time::Instant;

use super::{AnalyzeConfig, FoldSpec, Probes};
use crate::analyses::channels::channel_routing;
use crate::analyses::controls::inflation;
use crate::analyses::gaps::gaps;
use crate::analyses::instability::summary;
use crate::analyses::profile::profiles;
use crate::flow::dataset::{CompositionMode, Dataset};
use crate::flow::folds::Folds;
use crate::flow::projection::{residual_zero_tol, Projection};
use crate::linalg;
use crate::probe::ProbeKind;
use crate::report::{
    CompositionInfo, CurveRecord, InputInfo, Report, ResultRecord, RidgeSettings, Settings, Timing,
    ToolInfo, SCHEMA_VERSION,
};

/// The report of a run: settings, inputs, composition basis, records and
/// every analysis of them.
#[allow(clippy::too_many_arguments)]
pub(super) fn report(
    config: &AnalyzeConfig,
    probes: &Probes,
    ds: &Dataset,
    folds: &Folds,
    projection: &Projection,
    inputs: Vec<InputInfo>,
    results: Vec<ResultRecord>,
    curves: Vec<CurveRecord>,
    pooled: bool,
    start: Instant,
) -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "cpd".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        settings: settings(config, probes, ds, folds, pooled),
        inputs,
        composition: CompositionInfo {
            columns: ds.composition_columns.clone(),
            mode: mode_name(config.composition_mode).into(),
            rank: projection.rank,
            dropped: projection.dropped.clone(),
            rank_tol: projection.rank_tol,
        },
        gaps: gaps(&results),
        inflation: inflation(&results, config.inflation_threshold),
        channel_routing: channel_routing(&results),
        learning_curves: curves,
        profiles: profiles(&results),
        instability: summary(&results, ds),
        results,
        timing: Timing {
            seconds: start.elapsed().as_secs_f64(),
        },
    }
}

/// Every setting that affects the numbers.
fn settings(
    config: &AnalyzeConfig,
    probes: &Probes,
    ds: &Dataset,
    folds: &Folds,
    pooled: bool,
) -> Settings {
    let alphas = probes.ridge.alphas().to_vec();
    Settings {
        folds: folds.k,
        seed: match &config.folds {
            FoldSpec::Shuffled { seed, .. } => Some(*seed),
            FoldSpec::File(_) => None,
        },
        folds_file: match &config.folds {
            FoldSpec::File(p) => Some(p.display().to_string()),
            _ => None,
        },
        fold_sizes: folds.sizes(),
        probes: config.probes.iter().map(|p| p.name().to_string()).collect(),
        targets: ds.target_names.clone(),
        ridge: RidgeSettings {
            selection: if alphas.len() > 1 { "loo" } else { "fixed" }.into(),
            alphas,
        },
        gbt: config
            .probes
            .contains(&ProbeKind::Gbt)
            .then(|| probes.gbt.params().clone()),
        mlp: config
            .probes
            .contains(&ProbeKind::Mlp)
            .then(|| probes.mlp.params().clone()),
        residualize_target: config.residualize_target,
        composition_mode: mode_name(config.composition_mode).into(),
        residual_zero_tol: ["float32", "float64"]
            .iter()
            .map(|t| (t.to_string(), residual_zero_tol(t)))
            .collect(),
        linalg_backend: linalg::BACKEND.into(),
        scale: config.scale,
        pool: pooled.then(|| config.pool.name().to_owned()),
        max_rows: config.max_rows,
    }
}

fn mode_name(mode: CompositionMode) -> &'static str {
    match mode {
        CompositionMode::Counts => "counts",
        CompositionMode::Fractions => "fractions",
    }
}
