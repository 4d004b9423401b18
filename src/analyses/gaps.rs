//! The linear–nonlinear gap: how much a nonlinear probe (MLP) reads from
//! the residual beyond a linear one (ridge), on the conditional R² (what
//! the residual adds to composition), with the paper's gap on R²_geom
//! beside it.

use crate::flow::bootstrap::{difference, interval_bc};
use crate::report::{GapRecord, ResultRecord};

/// The linear–nonlinear gap on the residual for every (model, layer,
/// channels, target) that has both a ridge and an mlp `geom` record, in the
/// order of the results.
pub fn gaps(results: &[ResultRecord]) -> Vec<GapRecord> {
    let find = |r: &ResultRecord, probe: &str| {
        results.iter().find(|o| {
            o.probe == probe
                && o.representation == "geom"
                && o.model == r.model
                && o.layer == r.layer
                && o.channels == r.channels
                && o.target == r.target
        })
    };
    let minus = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
    results
        .iter()
        .filter(|r| r.probe == "ridge" && r.representation == "geom")
        .filter_map(|ridge| {
            let mlp = find(ridge, "mlp")?;
            let gap = minus(mlp.r2_cond, ridge.r2_cond);
            let d = difference(&mlp.cond_replicates, &ridge.cond_replicates);
            Some(GapRecord {
                model: ridge.model.clone(),
                layer: ridge.layer.clone(),
                channels: ridge.channels.clone(),
                target: ridge.target.clone(),
                r2_geom_ridge: ridge.r2_mean,
                r2_geom_mlp: mlp.r2_mean,
                r2_cond_ridge: ridge.r2_cond,
                r2_cond_mlp: mlp.r2_cond,
                gap,
                gap_geom: minus(mlp.r2_mean, ridge.r2_mean),
                disentanglement: minus(ridge.r2_cond, gap.map(f64::abs)),
                gap_ci: gap.and_then(|g| interval_bc(&d, g)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::triple;

    #[test]
    fn the_gap_needs_ridge_and_mlp_geom_records() {
        let mut results = triple("m", "l", "gap", [Some(0.4), Some(0.7), Some(0.3)]);
        results[2].r2_cond = Some(0.35);
        assert!(gaps(&results).is_empty());
        let mut mlp = triple("m", "l", "gap", [Some(0.5), Some(0.8), Some(0.6)]);
        mlp.iter_mut().for_each(|r| r.probe = "mlp".into());
        mlp[2].r2_cond = Some(0.45);
        results.extend(mlp);
        let g = gaps(&results);
        assert_eq!(g.len(), 1);
        // The gap is on the conditional R²; the paper's beside it.
        assert!((g[0].gap.unwrap() - 0.1).abs() < 1e-12);
        assert!((g[0].gap_geom.unwrap() - 0.3).abs() < 1e-12);
        assert!((g[0].disentanglement.unwrap() - 0.25).abs() < 1e-12);
    }
}
