//! Layer and model profiles from a run's records: per model and target the
//! best layer by ridge R²_geom and, when the MLP probe ran, the most
//! nonlinear layer (largest linear–nonlinear gap); and a ranking of models —
//! the "disentanglement gradient". Control targets (`ctrl_*`) and channel
//! groups are left out: profiles are about whole layers and real targets.

use crate::flow::bootstrap::interval_bc;
use crate::report::{LayerPick, ModelProfile, Profiles, ResultRecord};

/// The whole-layer `geom` record of `probe` on `model`/`layer`/`target`.
pub fn geom_record<'a>(
    results: &'a [ResultRecord],
    model: &str,
    layer: &str,
    target: &str,
    probe: &str,
) -> Option<&'a ResultRecord> {
    results.iter().find(|r| {
        r.channels.is_none()
            && r.representation == "geom"
            && r.model == model
            && r.layer == layer
            && r.target == target
            && r.probe == probe
    })
}

fn geom(
    results: &[ResultRecord],
    model: &str,
    layer: &str,
    target: &str,
    probe: &str,
) -> Option<f64> {
    geom_record(results, model, layer, target, probe).and_then(|r| r.r2_mean)
}

/// Bootstrap replicates of `geom` (empty when the record has none).
fn geom_replicates<'a>(
    results: &'a [ResultRecord],
    model: &str,
    layer: &str,
    target: &str,
    probe: &str,
) -> &'a [f64] {
    geom_record(results, model, layer, target, probe).map_or(&[], |r| &r.replicates)
}

/// Element-wise sum of replicate vectors of one length (empty as soon as
/// one is missing).
fn add_replicates(sum: &mut Option<Vec<f64>>, v: Vec<f64>) {
    match sum {
        Some(s) if s.len() == v.len() && !v.is_empty() => {
            s.iter_mut().zip(&v).for_each(|(a, b)| *a += b)
        }
        Some(s) => s.clear(),
        None => *sum = Some(v),
    }
}

/// Profiles from whole-layer `geom` records; `None` without ridge records.
///
/// Score of a model: the mean over targets of its best layer's
/// disentanglement score `R²_geom,ridge − |gap|` when the MLP ran, else of
/// its best layer's ridge R²_geom.
pub fn profiles(results: &[ResultRecord]) -> Option<Profiles> {
    let mut models: Vec<&str> = Vec::new();
    let mut targets: Vec<&str> = Vec::new();
    for r in results {
        if r.channels.is_some() || r.probe != "ridge" || r.target.starts_with("ctrl_") {
            continue;
        }
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
        if !targets.contains(&r.target.as_str()) {
            targets.push(&r.target);
        }
    }
    if models.is_empty() {
        return None;
    }
    let mlp = results.iter().any(|r| r.probe == "mlp");
    let mut out: Vec<ModelProfile> = models
        .iter()
        .map(|&model| {
            let mut layers: Vec<&str> = Vec::new();
            for r in results.iter().filter(|r| r.model == model) {
                if !layers.contains(&r.layer.as_str()) {
                    layers.push(&r.layer);
                }
            }
            let mut best_layer = Vec::new();
            let mut most_nonlinear_layer = Vec::new();
            let mut scores = Vec::new();
            // The score's bootstrap replicates: the same statistic of the
            // picked layers' replicates (the picks stay those of the point
            // values).
            let mut replicates: Option<Vec<f64>> = None;
            for &target in &targets {
                let pick = |value: &dyn Fn(&str) -> Option<f64>| {
                    layers
                        .iter()
                        .filter_map(|&l| value(l).map(|v| (l, v)))
                        .fold(None, |best: Option<(&str, f64)>, (l, v)| match best {
                            Some((_, b)) if b >= v => best,
                            _ => Some((l, v)),
                        })
                };
                let ridge = |l: &str| geom(results, model, l, target, "ridge");
                let gap = |l: &str| Some(geom(results, model, l, target, "mlp")? - ridge(l)?);
                if let Some((l, v)) = pick(&ridge) {
                    best_layer.push(LayerPick {
                        target: target.into(),
                        layer: l.into(),
                        value: v,
                    });
                }
                if mlp {
                    if let Some((l, v)) = pick(&gap) {
                        most_nonlinear_layer.push(LayerPick {
                            target: target.into(),
                            layer: l.into(),
                            value: v,
                        });
                    }
                    let dis = |l: &str| Some(ridge(l)? - gap(l)?.abs());
                    if let Some((l, v)) = pick(&dis) {
                        scores.push(v);
                        let r = geom_replicates(results, model, l, target, "ridge");
                        let m = geom_replicates(results, model, l, target, "mlp");
                        let d = r.iter().zip(m).map(|(r, m)| r - (m - r).abs()).collect();
                        add_replicates(&mut replicates, d);
                    }
                } else if let Some((l, v)) = pick(&ridge) {
                    scores.push(v);
                    let r = geom_replicates(results, model, l, target, "ridge");
                    add_replicates(&mut replicates, r.to_vec());
                }
            }
            let score = if scores.is_empty() {
                f64::NAN
            } else {
                scores.iter().sum::<f64>() / scores.len() as f64
            };
            let replicates: Vec<f64> = replicates
                .unwrap_or_default()
                .into_iter()
                .map(|v| v / scores.len() as f64)
                .collect();
            ModelProfile {
                model: model.into(),
                best_layer,
                most_nonlinear_layer,
                score,
                score_ci: interval_bc(&replicates, score),
                replicates,
            }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    Some(Profiles {
        score: if mlp {
            "mean over targets of the best layer's disentanglement score R²_geom,ridge − |R²_geom,mlp − R²_geom,ridge|"
        } else {
            "mean over targets of the best layer's ridge R²_geom (the MLP probe did not run, so no gap)"
        }
        .into(),
        probes: if mlp { vec!["ridge".into(), "mlp".into()] } else { vec!["ridge".into()] },
        ranking: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(model: &str, layer: &str, target: &str, probe: &str, r2: f64) -> ResultRecord {
        ResultRecord {
            model: model.into(),
            layer: layer.into(),
            channels: None,
            target: target.into(),
            representation: "geom".into(),
            probe: probe.into(),
            r2_mean: Some(r2),
            r2_std: Some(0.0),
            r2_pooled: Some(r2),
            mae: Some(0.0),
            rmse: Some(0.0),
            n: 10,
            folds: 5,
            alpha: None,
            alphas: None,
            r2_folds: vec![r2],
            r2_median: Some(r2),
            unstable: false,
            alpha_at_edge: None,
            fold_diagnostics: Vec::new(),
            isomer_accuracy: None,
            isomer_pairs: 0,
            isomer_ci: None,
            r2_ci: None,
            null: None,
            replicates: Vec::new(),
        }
    }

    #[test]
    fn best_and_most_nonlinear_layers_and_the_ranking() {
        let mut r = vec![
            rec("a", "l1", "y", "ridge", 0.2),
            rec("a", "l2", "y", "ridge", 0.6),
            rec("b", "l1", "y", "ridge", 0.3),
            rec("b", "l1", "ctrl_mass", "ridge", 0.9), // controls are ignored
        ];
        let p = profiles(&r).unwrap();
        assert_eq!(p.ranking[0].model, "a");
        assert_eq!(p.ranking[0].best_layer[0].layer, "l2");
        assert_eq!(p.ranking[0].score, 0.6);
        assert_eq!(p.ranking[1].score, 0.3);
        assert!(p.ranking[0].most_nonlinear_layer.is_empty());
        assert_eq!(p.probes, vec!["ridge".to_string()]);
        // With the MLP: a/l1 has gap 0.5 (dis 0.2 − 0.5 = −0.3), a/l2 gap 0.1
        // (dis 0.5); b/l1 gap 0.0 (dis 0.3). a still ranks first, on 0.5.
        r.push(rec("a", "l1", "y", "mlp", 0.7));
        r.push(rec("a", "l2", "y", "mlp", 0.7));
        r.push(rec("b", "l1", "y", "mlp", 0.3));
        let p = profiles(&r).unwrap();
        let a = &p.ranking[0];
        assert_eq!(a.model, "a");
        assert_eq!(a.most_nonlinear_layer[0].layer, "l1");
        assert!((a.most_nonlinear_layer[0].value - 0.5).abs() < 1e-12);
        assert!((a.score - 0.5).abs() < 1e-12);
        assert!((p.ranking[1].score - 0.3).abs() < 1e-12);
    }
}
