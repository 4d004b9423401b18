//! Layer and model profiles from a run's records: per model and target the
//! best layer by ridge R²_cond (what the residual adds to composition) and,
//! when the MLP probe ran, the most nonlinear layer (largest nonlinear
//! excess R²_cond,mlp − R²_cond,ridge); and a ranking of models. Control
//! targets (`ctrl_*`) and channel groups are left out: profiles are about
//! whole layers and real targets.
//!
//! The ranking cannot reward an empty residual: a model scores its best
//! layers' ridge R²_cond, which is 0 for a layer that adds nothing to
//! composition, and a model whose score's interval does not clear 0.001 is "no
//! geometric signal" and ranks after every model that has one. The
//! nonlinear excess is reported beside the score, not folded into it.

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

/// A mean over targets and its replicates (the summed replicates over
/// `count`).
fn averaged(values: &[f64], replicates: Option<Vec<f64>>) -> (f64, Vec<f64>) {
    if values.is_empty() {
        return (f64::NAN, Vec::new());
    }
    let k = values.len() as f64;
    let reps = replicates.unwrap_or_default();
    (
        values.iter().sum::<f64>() / k,
        reps.into_iter().map(|v| v / k).collect(),
    )
}

/// The conditional R² below which a residual adds nothing measurable: an
/// empty residual's R²_cond is 0 up to rounding, which may fall on either
/// side of 0.
pub const SIGNAL_FLOOR: f64 = 1e-3;

/// Whether a score shows signal: its interval lies above [`SIGNAL_FLOOR`]
/// (without an interval, the score itself).
pub fn has_signal(score: f64, ci: Option<[f64; 2]>) -> bool {
    match ci {
        Some([lo, _]) => lo > SIGNAL_FLOOR,
        None => score > SIGNAL_FLOOR,
    }
}

/// Profiles from whole-layer `geom` records; `None` without ridge records.
///
/// Score of a model: the mean over targets of its best layer's ridge
/// R²_cond. Models with signal ([`has_signal`]) rank first, by score.
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
            let rec =
                |l: &str, target: &str, probe: &str| geom_record(results, model, l, target, probe);
            let mut best_layer = Vec::new();
            let mut most_nonlinear_layer = Vec::new();
            let (mut scores, mut excesses) = (Vec::new(), Vec::new());
            // The bootstrap replicates of the score and of the excess: the
            // same statistic of the picked layers' replicates (the picks
            // stay those of the point values).
            let (mut replicates, mut excess_reps): (Option<Vec<f64>>, Option<Vec<f64>>) =
                (None, None);
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
                let ridge = |l: &str| rec(l, target, "ridge")?.r2_cond;
                let excess = |l: &str| Some(rec(l, target, "mlp")?.r2_cond? - ridge(l)?);
                let Some((l, v)) = pick(&ridge) else {
                    continue;
                };
                best_layer.push(LayerPick {
                    target: target.into(),
                    layer: l.into(),
                    value: v,
                });
                scores.push(v);
                let r = rec(l, target, "ridge").map_or(&[][..], |r| &r.cond_replicates);
                add_replicates(&mut replicates, r.to_vec());
                if !mlp {
                    continue;
                }
                if let Some(e) = excess(l) {
                    excesses.push(e);
                    let m = rec(l, target, "mlp").map_or(&[][..], |r| &r.cond_replicates);
                    let d = m.iter().zip(r).map(|(m, r)| m - r).collect();
                    add_replicates(&mut excess_reps, d);
                }
                if let Some((l, v)) = pick(&excess) {
                    most_nonlinear_layer.push(LayerPick {
                        target: target.into(),
                        layer: l.into(),
                        value: v,
                    });
                }
            }
            let (score, replicates) = averaged(&scores, replicates);
            let score_ci = interval_bc(&replicates, score);
            let (excess, excess_reps) = averaged(&excesses, excess_reps);
            ModelProfile {
                model: model.into(),
                best_layer,
                most_nonlinear_layer,
                score,
                score_ci,
                signal: has_signal(score, score_ci),
                nonlinear_excess: excess.is_finite().then_some(excess),
                nonlinear_excess_ci: interval_bc(&excess_reps, excess),
                replicates,
            }
        })
        .collect();
    // Models with signal first, each part by decreasing score.
    out.sort_by(|a, b| b.signal.cmp(&a.signal).then(b.score.total_cmp(&a.score)));
    Some(Profiles {
        score: "mean over targets of the best layer's ridge R²_cond (what the residual adds to composition)".into(),
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
            r2_cond: Some(r2),
            r2_cond_folds: Vec::new(),
            r2_cond_ci: None,
            cond_replicates: Vec::new(),
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
        // With the MLP: a/l1 has excess 0.5, a/l2 0.1, b/l1 0.0. The score
        // stays the ridge R²_cond; the excess is beside it.
        r.push(rec("a", "l1", "y", "mlp", 0.7));
        r.push(rec("a", "l2", "y", "mlp", 0.7));
        r.push(rec("b", "l1", "y", "mlp", 0.3));
        let p = profiles(&r).unwrap();
        let a = &p.ranking[0];
        assert_eq!(a.model, "a");
        assert_eq!(a.most_nonlinear_layer[0].layer, "l1");
        assert!((a.most_nonlinear_layer[0].value - 0.5).abs() < 1e-12);
        assert!((a.score - 0.6).abs() < 1e-12);
        assert!((a.nonlinear_excess.unwrap() - 0.1).abs() < 1e-12);
        assert!((p.ranking[1].score - 0.3).abs() < 1e-12);
        assert!(p.ranking.iter().all(|m| m.signal));
    }

    #[test]
    fn a_model_whose_score_interval_reaches_zero_ranks_last_without_signal() {
        // c's point score is the highest, but its replicates spread across
        // 0; e's residual adds nothing. Both rank after b, without signal.
        let mut c = rec("c", "l", "y", "ridge", 0.9);
        c.cond_replicates = (0..200).map(|i| 0.9 + (i as f64 - 100.0) / 50.0).collect();
        let mut b = rec("b", "l", "y", "ridge", 0.2);
        b.cond_replicates = (0..200)
            .map(|i| 0.2 + (i as f64 - 100.0) / 2000.0)
            .collect();
        let mut e = rec("e", "l", "y", "ridge", 0.0);
        e.cond_replicates = vec![0.0; 200];
        let p = profiles(&[c, b, e]).unwrap();
        let order: Vec<(&str, bool)> = p
            .ranking
            .iter()
            .map(|m| (m.model.as_str(), m.signal))
            .collect();
        assert_eq!(order, [("b", true), ("c", false), ("e", false)]);
        let ci = p.ranking[1].score_ci.unwrap();
        assert!(ci[0] <= 0.0 && ci[1] > 0.9, "{ci:?}");
    }
}
