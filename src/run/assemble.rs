//! Stage 6: analyse the records (gaps, inflation, channel routing,
//! profiles, instability), assemble the report with the run's settings and
//! the layer statistics and similarity, and open it with the verdict.

use std::time::Instant;

use super::{AnalyzeConfig, FoldSpec};
use crate::analyses::channels::channel_routing;
use crate::analyses::controls::inflation;
use crate::analyses::gaps::gaps;
use crate::analyses::instability::{summary_with, Formulas};
use crate::analyses::profile::profiles;
use crate::analyses::verdict::{comparisons, verdict};
use crate::flow::dataset::{CompositionMode, Dataset};
use crate::flow::folds::Folds;
use crate::flow::projection::{residual_zero_tol, Projection};
use crate::linalg;
use crate::probe::ProbeSet;
use crate::report::{
    ComparisonRecord, CompositionInfo, CurveRecord, InputInfo, LayerStatsRecord, RareElement,
    Report, ResultRecord, RidgeSettings, Settings, SimilarityRecord, SkippedTarget, Timing,
    ToolInfo, SCHEMA_VERSION,
};

/// The report of a run: settings, inputs, composition basis, records and
/// every analysis of them.
#[allow(clippy::too_many_arguments)]
pub(super) fn report(
    config: &AnalyzeConfig,
    probes: &ProbeSet,
    ds: &Dataset,
    folds: &Folds,
    projection: &Projection,
    rare: Vec<RareElement>,
    formulas: &Formulas,
    inputs: Vec<InputInfo>,
    results: Vec<ResultRecord>,
    curves: Vec<CurveRecord>,
    pooled: bool,
    layer_stats: Vec<LayerStatsRecord>,
    similarity: Vec<SimilarityRecord>,
    comparison: Vec<ComparisonRecord>,
    start: Instant,
) -> Report {
    let mut report = Report {
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
            rare,
        },
        gaps: Vec::new(),
        inflation: Vec::new(),
        channel_routing: Vec::new(),
        learning_curves: curves,
        profiles: None,
        instability: Default::default(),
        layer_stats,
        similarity,
        comparison,
        verdict: Vec::new(),
        comparisons: Vec::new(),
        results,
        timing: Timing { seconds: 0.0 },
    };
    analyze_records(&mut report, config.inflation_threshold, &|id| {
        formulas.of_id(&ds.ids, id)
    });
    report.timing.seconds = start.elapsed().as_secs_f64();
    report
}

/// Set every analysis of `report` that follows from its records (and its
/// layer statistics) alone — gaps, inflation, channel routing, profiles,
/// instability, and the verdict that opens the report — as a run does:
/// `cpd merge` calls it on the union of the shards' records. `formula`
/// gives a structure's formula by id
/// ([`Formulas::of_id`]).
pub fn analyze_records(
    report: &mut Report,
    inflation_threshold: f64,
    formula: &dyn Fn(&str) -> Option<String>,
) {
    let results = &report.results;
    report.gaps = gaps(results);
    let fractions = report.settings.composition_mode == "fractions";
    report.inflation = inflation(results, inflation_threshold, fractions);
    report.channel_routing = channel_routing(results);
    report.profiles = profiles(results);
    report.instability = summary_with(results, formula);
    report.comparisons = comparisons(report);
    report.verdict = verdict(report);
}

/// Every setting that affects the numbers.
fn settings(
    config: &AnalyzeConfig,
    probes: &ProbeSet,
    ds: &Dataset,
    folds: &Folds,
    pooled: bool,
) -> Settings {
    let alphas = probes.ridge().alphas().to_vec();
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
        skipped: ds
            .skipped
            .iter()
            .map(|(target, reason)| SkippedTarget {
                target: target.clone(),
                reason: reason.clone(),
            })
            .collect(),
        ridge: RidgeSettings {
            selection: if alphas.len() > 1 { "loo" } else { "fixed" }.into(),
            alphas,
        },
        probe_params: probes.report_params(),
        residualize_target: config.residualize_target,
        composition_mode: mode_name(config.composition_mode).into(),
        residual_zero_tol: ["float32", "float64"]
            .iter()
            .map(|t| (t.to_string(), residual_zero_tol(t)))
            .collect(),
        linalg_backend: linalg::BACKEND.into(),
        scale: config.scale,
        pool: pooled.then(|| config.pool.name().to_owned()),
        similarity: config.similarity,
        compare: config.compare.iter().map(|m| m.name().to_owned()).collect(),
        compare_rows: (!config.compare.is_empty()).then_some(config.compare_rows),
        max_rows: config.max_rows,
        group_folds: config.group_folds,
        permutations: config.permutations,
        bootstrap: config.bootstrap,
    }
}

fn mode_name(mode: CompositionMode) -> &'static str {
    match mode {
        CompositionMode::Counts => "counts",
        CompositionMode::Fractions => "fractions",
    }
}
