//! The residual alone: every probe cross-validated on each layer's
//! geometric residual, and each layer's share of variance that composition
//! explains; nothing else (no composition-only or raw representation, no
//! conditional R², no intervals or diagnostics). The same stages, folds,
//! projection and probes as [`super::analyze_in_memory`], so every R² here
//! is bit for bit the `geom` record of the whole analysis: it is that
//! record at about a third of the cost (the whole analysis fits every probe
//! on three representations and the conditional baselines). What a
//! matscope-style `decompose` reads.

use rayon::prelude::*;

use super::load::select_layers;
use super::{check_memory, prepare, AnalyzeConfig, InMemory, Prepared};
use crate::analyses::layerstats::layer_stats;
use crate::error::Result;
use crate::flow::metrics::mean_std;
use crate::flow::moments::FoldGrams;
use crate::flow::projection::residual_zero_tol;
use crate::flow::rows::Stored;
use crate::io::embeddings;
use crate::probe::cv::{cross_validate_with, CvScores};
use crate::probe::ProbeKind;
use crate::report::LayerStatsRecord;

/// One probe's cross-validated R² on one layer's residual for one target.
#[derive(Debug, Clone)]
pub struct ResidualRecord {
    pub model: String,
    pub layer: String,
    pub target: String,
    pub probe: ProbeKind,
    /// R² on each held-out fold, in fold order.
    pub r2_folds: Vec<f64>,
    /// Mean of `r2_folds` (the whole analysis's `r2_mean`).
    pub r2_mean: f64,
}

/// The outcome of [`residual_in_memory`].
#[derive(Debug, Clone)]
pub struct ResidualScores {
    /// Model, layer, probe, then target order.
    pub records: Vec<ResidualRecord>,
    /// Each layer's statistics (`composition_share`: the share of its
    /// variance that composition explains), in layer order.
    pub layers: Vec<LayerStatsRecord>,
    /// Rank of the projection's `[1 | C]`.
    pub rank: usize,
    /// Composition columns dropped as linearly dependent.
    pub dropped: Vec<String>,
    /// Fold of each row, in the compositions' order.
    pub folds: Vec<usize>,
    /// Targets skipped (constant), with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Every probe of `config` on the residual of every layer in `data`.
/// Settings that only add analyses (bootstrap intervals, permutations,
/// learning curves, similarity, predictions) are ignored; `controls` adds
/// its control targets, as in the whole analysis.
pub fn residual_in_memory(config: &AnalyzeConfig, data: &InMemory) -> Result<ResidualScores> {
    check_memory(config, data)?;
    let Prepared {
        probes,
        ds,
        folds,
        projection,
        y,
        ..
    } = prepare(config, Some(data))?;
    let listed = probes.list();
    let mut records = Vec::new();
    let mut layers = Vec::new();
    for (spec, file) in config.embeddings.iter().zip(&data.embeddings) {
        embeddings::check(file)?;
        let file = select_layers(file.clone(), spec.layers.as_deref())?;
        for layer in ds.align_embedding(file)? {
            let raw = Stored(&layer.data);
            let geom = projection.residual_rows(&raw, residual_zero_tol(layer.dtype()));
            let (raw_g, geom_g) = rayon::join(
                || FoldGrams::compute(&raw, &folds),
                || FoldGrams::compute(&geom, &folds),
            );
            layers.push(layer_stats(
                &spec.model,
                &layer.name,
                raw_g.all(),
                geom_g.all(),
            ));
            // The probes side by side (each runs its folds in parallel as
            // well): a cheap probe fills a core that the last round of an
            // expensive one's folds leaves idle. Each probe's numbers do
            // not depend on what runs beside it.
            let scores: Vec<Result<Vec<CvScores>>> = listed
                .par_iter()
                .map(|(_, probe)| {
                    cross_validate_with(
                        probe.as_ref(),
                        &geom,
                        y.view(),
                        &folds,
                        Some(&geom_g),
                        &|| {},
                    )
                })
                .collect();
            for ((kind, _), scores) in listed.iter().zip(scores) {
                let scores = scores.map_err(|e| layer.data.fault().err().unwrap_or(e))?;
                for (target, s) in ds.target_names.iter().zip(scores) {
                    records.push(ResidualRecord {
                        model: spec.model.clone(),
                        layer: layer.name.clone(),
                        target: target.clone(),
                        probe: *kind,
                        r2_mean: mean_std(&s.r2_folds).0,
                        r2_folds: s.r2_folds,
                    });
                }
            }
            layer.data.fault()?;
        }
    }
    Ok(ResidualScores {
        records,
        layers,
        rank: projection.rank,
        dropped: projection.dropped.clone(),
        folds: folds.assignment.clone(),
        skipped: ds.skipped,
    })
}
