//! `residual_in_memory` (the residual alone, what `cpd.decompose` reads)
//! against the whole analysis on the same data: every R² and every layer's
//! composition share is the whole analysis's `geom` record, bit for bit.

use cpd::io::embeddings;
use cpd::io::table::read_table;
use cpd::run::{analyze_in_memory, residual_in_memory, InMemory, NoProgress};

use crate::util::{bundled_config, data};

#[test]
fn residual_alone_equals_the_whole_analysis_geom_records() {
    let settings = serde_json::json!({
        "probes": ["ridge", "mlp"],
        "target": ["homo_ev", "gap_ev"],
        "bootstrap": 0,
        "mlp_max_epochs": 20,
    });
    let config = bundled_config(
        settings,
        "sevennet0",
        vec![data("embeddings/sevennet0.npz")],
    );
    let memory = InMemory {
        compositions: read_table(&data("compositions.csv")).unwrap(),
        targets: read_table(&data("targets.csv")).unwrap(),
        embeddings: vec![embeddings::load(&data("embeddings/sevennet0.npz")).unwrap()],
    };
    let alone = residual_in_memory(&config, &memory).unwrap();
    let analysis = analyze_in_memory(&config, &memory, &NoProgress).unwrap();
    let whole = &analysis.report;
    // 2 layers × 2 probes × 2 targets.
    assert_eq!(alone.records.len(), 8);
    for r in &alone.records {
        let w = whole
            .results
            .iter()
            .find(|w| {
                w.layer == r.layer
                    && w.target == r.target
                    && w.probe == r.probe.name()
                    && w.representation == "geom"
                    && w.channels.is_none()
            })
            .unwrap();
        assert_eq!(
            w.r2_folds,
            r.r2_folds,
            "{}/{}/{}",
            r.layer,
            r.target,
            r.probe.name()
        );
        assert_eq!(w.r2_mean, Some(r.r2_mean));
    }
    assert_eq!(alone.layers.len(), whole.layer_stats.len());
    for (a, w) in alone.layers.iter().zip(&whole.layer_stats) {
        assert_eq!(
            (&a.layer, a.composition_share),
            (&w.layer, w.composition_share)
        );
        assert!(a.composition_share.unwrap() > 0.05);
    }
    // The constant and H, C, N, O, F counts.
    assert_eq!(alone.rank, 6);
    assert!(alone.dropped.is_empty());
    assert_eq!(alone.folds, analysis.folds.assignment);
}
