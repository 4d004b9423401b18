//! Stage 5c (`--compare`): the comparison measures between every ordered
//! pair of layers of every model, and between every pair of channel groups
//! of the same name (`1o` with `1o`: the irrep label for irreps groups), on
//! raw and on geom, and the TwoNN intrinsic dimension of each layer
//! ([`crate::analyses::compare`]).
//!
//! The measures read rows at random (neighbour searches, local fits), so
//! this stage holds every compared layer's rows of the comparison sample in
//! memory as f64: at most `compare_rows` structures (a seeded subsample,
//! each structure in its fold), two representations. Files are loaded one
//! at a time, as in the probing stage.

use ndarray::{Array2, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::layer_similarity::{load_layers, raw_rows};
use super::load::channel_split;
use super::AnalyzeConfig;
use crate::analyses::channels::group_key;
use crate::analyses::compare::{compare, CompareParams, Measure};
use crate::error::Result;
use crate::flow::dataset::Dataset;
use crate::flow::folds::Folds;
use crate::flow::projection::{residual_zero_tol, Projection};
use crate::flow::rows::{Dense, Rows};
use crate::io::embeddings::EmbeddingFile;
use crate::report::{ComparisonRecord, InputInfo, IntrinsicDims};

/// One compared unit: a whole layer or one of its channel groups.
struct Unit {
    model: String,
    layer: String,
    channels: Option<String>,
    /// The key pairs of groups are matched on (`None`: a whole layer).
    key: Option<String>,
    raw: Array2<f64>,
    geom: Array2<f64>,
}

/// What the stage gives the report: the records, and each whole layer's
/// intrinsic dimension on raw and geom.
pub(super) struct Compared {
    pub records: Vec<ComparisonRecord>,
    pub intrinsic: Vec<IntrinsicDims>,
}

/// The rows compared: every row when there are at most `max`, else a
/// seeded sample of `max`, in increasing order.
fn sample_rows(n: usize, max: usize, seed: u64) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC0DE_5A3D_0000_0000);
    // A partial Fisher–Yates shuffle: the first `max` of a uniform
    // permutation.
    let mut rows: Vec<usize> = (0..n).collect();
    for i in 0..max {
        let j = rng.random_range(i..n);
        rows.swap(i, j);
    }
    rows.truncate(max);
    rows.sort_unstable();
    rows
}

/// The comparison records of every pair of units on raw and geom, and the
/// whole layers' intrinsic dimensions.
pub(super) fn comparison(
    config: &AnalyzeConfig,
    memory: Option<&[EmbeddingFile]>,
    ds: &Dataset,
    projection: &Projection,
    folds: &Folds,
    inputs: &[InputInfo],
) -> Result<Compared> {
    let rows = sample_rows(ds.ids.len(), config.compare_rows, config.seed());
    let fold: Vec<usize> = rows.iter().map(|&i| folds.assignment[i]).collect();
    let mut units: Vec<Unit> = Vec::new();
    for (i, spec) in config.embeddings.iter().enumerate() {
        let layers = load_layers(config, ds, spec, memory.map(|m| &m[i]), inputs)?;
        let raw = raw_rows(&layers);
        for (l, r) in layers.iter().zip(&raw) {
            let tol = residual_zero_tol(l.dtype());
            let geom = projection.residual_rows(r, tol);
            units.push(Unit {
                model: spec.model.clone(),
                layer: l.name.clone(),
                channels: None,
                key: None,
                raw: r.gather(&rows),
                geom: geom.gather(&rows),
            });
            let path = spec
                .paths
                .first()
                .map_or(std::path::Path::new(""), |p| p.as_path());
            let split = channel_split(spec, path, l)?;
            if let Some(ch) = &split {
                let loaded;
                let data = if l.data.is_on_disk() {
                    loaded = l.data.in_memory();
                    &loaded
                } else {
                    &l.data
                };
                for group in &ch.groups {
                    let features = ch.features(group, data);
                    let dense = Dense(features.view());
                    let geom = projection.residual_rows(&dense, tol);
                    units.push(Unit {
                        model: spec.model.clone(),
                        layer: l.name.clone(),
                        channels: Some(group.name.clone()),
                        key: Some(group_key(&group.name).to_owned()),
                        raw: dense.gather(&rows),
                        geom: geom.gather(&rows),
                    });
                }
            }
        }
        for l in &layers {
            l.data.fault()?;
        }
    }
    // Ordered pairs: every whole layer with every whole layer, every
    // group with every group of the same key.
    let mut pairs = Vec::new();
    for (a, ua) in units.iter().enumerate() {
        for (b, ub) in units.iter().enumerate() {
            if ua.key == ub.key {
                pairs.push((a, b));
            }
        }
    }
    let params = CompareParams {
        bootstrap: config.bootstrap,
        seed: config.seed(),
        ..CompareParams::default()
    };
    let whole: Vec<bool> = units.iter().map(|u| u.key.is_none()).collect();
    let mut records = Vec::new();
    let mut dims: [Vec<Option<f64>>; 2] = Default::default();
    for (r, rep) in ["raw", "geom"].into_iter().enumerate() {
        let views: Vec<ArrayView2<'_, f64>> = units
            .iter()
            .map(|u| if r == 0 { u.raw.view() } else { u.geom.view() })
            .collect();
        let (values, ids) = compare(
            &views,
            &pairs,
            &config.compare,
            &fold,
            folds.k,
            params,
            true,
        )?;
        dims[r] = ids;
        for v in values {
            let (ua, ub) = (&units[v.from], &units[v.to]);
            records.push(ComparisonRecord {
                measure: v.measure.name().into(),
                representation: rep.into(),
                model_from: ua.model.clone(),
                layer_from: ua.layer.clone(),
                channels_from: ua.channels.clone(),
                model_to: ub.model.clone(),
                layer_to: ub.layer.clone(),
                channels_to: ub.channels.clone(),
                value: v.value,
                interval: v.interval,
                folds: v.folds,
                n: rows.len(),
            });
        }
    }
    let intrinsic = units
        .iter()
        .enumerate()
        .filter(|(i, _)| whole[*i])
        .map(|(i, u)| IntrinsicDims {
            model: u.model.clone(),
            layer: u.layer.clone(),
            raw: dims[0][i],
            geom: dims[1][i],
        })
        .collect();
    // Measures in the settings' order were computed per representation;
    // the records read measure by measure.
    let order = |m: &str| {
        config
            .compare
            .iter()
            .position(|x: &Measure| x.name() == m)
            .unwrap_or(usize::MAX)
    };
    records.sort_by_key(|r| order(&r.measure));
    Ok(Compared { records, intrinsic })
}
