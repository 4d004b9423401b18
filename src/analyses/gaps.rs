//! The paper's disentanglement diagnostic: how much a nonlinear probe (MLP)
//! reads from the residual beyond a linear one (ridge).

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
    results
        .iter()
        .filter(|r| r.probe == "ridge" && r.representation == "geom")
        .filter_map(|ridge| {
            let mlp = find(ridge, "mlp")?;
            let gap = match (mlp.r2_mean, ridge.r2_mean) {
                (Some(m), Some(l)) => Some(m - l),
                _ => None,
            };
            let d = difference(&mlp.replicates, &ridge.replicates);
            Some(GapRecord {
                model: ridge.model.clone(),
                layer: ridge.layer.clone(),
                channels: ridge.channels.clone(),
                target: ridge.target.clone(),
                r2_geom_ridge: ridge.r2_mean,
                r2_geom_mlp: mlp.r2_mean,
                gap,
                disentanglement: match (ridge.r2_mean, gap) {
                    (Some(l), Some(g)) => Some(l - g.abs()),
                    _ => None,
                },
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
        assert!(gaps(&results).is_empty());
        let mut mlp = triple("m", "l", "gap", [Some(0.5), Some(0.8), Some(0.6)]);
        mlp.iter_mut().for_each(|r| r.probe = "mlp".into());
        results.extend(mlp);
        let g = gaps(&results);
        assert_eq!(g.len(), 1);
        assert!((g[0].gap.unwrap() - 0.3).abs() < 1e-12);
        assert!((g[0].disentanglement.unwrap() - 0.0).abs() < 1e-12);
    }
}
