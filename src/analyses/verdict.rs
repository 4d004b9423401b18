//! The verdict that opens every report (and the CLI's output): a few lines a
//! researcher can quote, drawn from the analyses already in the report —
//! the model ranking ([`crate::analyses::profile`]), the best layer per model,
//! the compositional controls ([`crate::analyses::controls`]), the unstable
//! records ([`crate::analyses::instability`]), the largest nonlinear excess
//! ([`crate::analyses::gaps`]) and the isomer test ([`crate::analyses::isomer`]).
//! Whole layers and real targets only (no channel groups, no `ctrl_*`).
//! Ranking, best layers and gap read the conditional R² (what the residual
//! adds to composition), which a nonlinear probe cannot inflate by reading
//! composition back out of the residual.

use crate::flow::bootstrap::{difference, Difference};
use crate::report::{Comparison, Report, ResultRecord};

/// At most this many record keys are named on one line.
const NAMED: usize = 3;

fn real(r: &ResultRecord) -> bool {
    r.channels.is_none() && !r.target.starts_with("ctrl_")
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// `a, b, c and 4 more`.
fn named(keys: &[String]) -> String {
    let mut s = keys
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if keys.len() > NAMED {
        s.push_str(&format!(" and {} more", keys.len() - NAMED));
    }
    s
}

/// The rare elements of the composition, when there are any.
fn rare_line(report: &Report) -> Option<String> {
    let rare = &report.composition.rare;
    if rare.is_empty() {
        return None;
    }
    let named_rare: Vec<String> = rare
        .iter()
        .map(|r| format!("{} {}", r.element, r.fewest_training))
        .collect();
    Some(format!(
        "Rare elements: {} of {} elements are in fewer than {} training structures of some fold \
         (element and fewest training structures: {}); a held-out structure that owns one is \
         predicted from a column fitted on those few.",
        rare.len(),
        report.composition.columns.len(),
        crate::analyses::rare::RARE_TRAINING,
        named(&named_rare)
    ))
}

/// The primary probe: ridge when it ran (linear probes are the primary
/// metric), else the first probe of the run.
fn primary(report: &Report) -> Option<&str> {
    let p = &report.settings.probes;
    if p.iter().any(|p| p == "ridge") {
        Some("ridge")
    } else {
        p.first().map(String::as_str)
    }
}

/// A layer, its mean R²_cond over targets and that mean's replicates.
type ScoredLayer<'a> = (&'a str, f64, Vec<f64>);

/// Per model (run order), its layers by decreasing mean R²_cond over the
/// real targets under `probe` (the first kept on ties), each with that
/// mean and its bootstrap replicates (empty unless every record has them).
fn ranked_layers<'a>(report: &'a Report, probe: &str) -> Vec<(&'a str, Vec<ScoredLayer<'a>>)> {
    let mut models: Vec<&str> = Vec::new();
    for r in &report.results {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    models
        .into_iter()
        .filter_map(|m| {
            let mut layers: Vec<&str> = Vec::new();
            for r in report.results.iter().filter(|r| r.model == m) {
                if !layers.contains(&r.layer.as_str()) {
                    layers.push(&r.layer);
                }
            }
            let mut scored: Vec<ScoredLayer> = layers
                .into_iter()
                .filter_map(|l| {
                    let recs: Vec<&ResultRecord> = report
                        .results
                        .iter()
                        .filter(|r| {
                            real(r)
                                && r.model == m
                                && r.layer == l
                                && r.probe == probe
                                && r.representation == "geom"
                                && r.r2_cond.is_some()
                        })
                        .collect();
                    let v: Vec<f64> = recs.iter().filter_map(|r| r.r2_cond).collect();
                    let b = recs.first().map_or(0, |r| r.cond_replicates.len());
                    let reps = if b > 0 && recs.iter().all(|r| r.cond_replicates.len() == b) {
                        (0..b)
                            .map(|i| {
                                recs.iter().map(|r| r.cond_replicates[i]).sum::<f64>()
                                    / recs.len() as f64
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    mean(&v).map(|v| (l, v, reps))
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1));
            (!scored.is_empty()).then_some((m, scored))
        })
        .collect()
}

/// The paired comparisons the verdict reads: each model of the ranking
/// against the next, and each model's best layer against its runner-up
/// (under the primary probe). A comparison needs both candidates'
/// bootstrap replicates; without them (`--bootstrap 0`) there are none.
pub fn comparisons(report: &Report) -> Vec<Comparison> {
    let mut out = Vec::new();
    if let Some(p) = &report.profiles {
        for w in p.ranking.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if a.replicates.is_empty() || a.replicates.len() != b.replicates.len() {
                continue;
            }
            if !(a.score.is_finite() && b.score.is_finite()) {
                continue;
            }
            out.push(Comparison {
                kind: "ranking".into(),
                a: a.model.clone(),
                b: b.model.clone(),
                difference: Difference::of(
                    a.score - b.score,
                    &difference(&a.replicates, &b.replicates),
                ),
            });
        }
    }
    if let Some(probe) = primary(report) {
        for (m, layers) in ranked_layers(report, probe) {
            let [(la, va, ra), (lb, vb, rb), ..] = layers.as_slice() else {
                continue;
            };
            if ra.is_empty() || ra.len() != rb.len() {
                continue;
            }
            out.push(Comparison {
                kind: "best_layer".into(),
                a: format!("{m}/{la}"),
                b: format!("{m}/{lb}"),
                difference: Difference::of(va - vb, &difference(ra, rb)),
            });
        }
    }
    out
}

/// `Δ 0.012 [−0.004, 0.030]`.
fn delta_text(d: &Difference) -> String {
    match d.ci {
        Some([lo, hi]) => format!("Δ {:.3} [{lo:.3}, {hi:.3}]", d.delta),
        None => format!("Δ {:.3}", d.delta),
    }
}

/// `0.251 [0.230, 0.270]`, or the value alone without an interval.
fn with_ci(v: f64, ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
        None => format!("{v:.3}"),
    }
}

/// The verdict lines of a report whose analyses are filled in.
pub fn verdict(report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let compared = |kind: &str, a: &str| {
        report
            .comparisons
            .iter()
            .find(|c| c.kind == kind && c.a == a)
    };
    if let Some(p) = &report.profiles {
        let mut ranks: Vec<String> = Vec::new();
        let mut empty: Vec<String> = Vec::new();
        for (i, m) in p.ranking.iter().enumerate() {
            if !m.signal {
                let score = if m.score.is_finite() {
                    with_ci(m.score, m.score_ci)
                } else {
                    "—".into()
                };
                empty.push(format!("{} ({score})", m.model));
                continue;
            }
            let excess =
                m.nonlinear_excess
                    .map_or(String::new(), |e| match m.nonlinear_excess_ci {
                        Some([lo, hi]) => {
                            format!("; nonlinear excess {e:+.3} [{lo:+.3}, {hi:+.3}]")
                        }
                        None => format!("; nonlinear excess {e:+.3}"),
                    });
            let mut s = format!(
                "{}. {} ({}{excess})",
                i + 1,
                m.model,
                with_ci(m.score, m.score_ci)
            );
            // The comparison with the model above it.
            if let Some(c) = i
                .checked_sub(1)
                .and_then(|j| compared("ranking", &p.ranking[j].model))
            {
                let word = if c.difference.tied {
                    "tied with"
                } else {
                    "below"
                };
                s.push_str(&format!(" — {word} {}: {}", c.a, delta_text(&c.difference)));
            }
            ranks.push(s);
        }
        let mut line = format!("Model ranking by the {}", p.score);
        if !ranks.is_empty() {
            line.push_str(&format!(": {}", ranks.join("; ")));
        }
        if !empty.is_empty() {
            line.push_str(&format!(
                "{} no geometric signal (the score's interval does not clear 0.001: the residual adds nothing measurable to composition): {}",
                if ranks.is_empty() { ":" } else { "." },
                empty.join("; ")
            ));
        }
        line.push('.');
        out.push(line);
    }
    if let Some(probe) = primary(report) {
        let best: Vec<String> = ranked_layers(report, probe)
            .into_iter()
            .map(|(m, layers)| {
                let (l, v, _) = &layers[0];
                let mut s = format!("{m}: {l} ({v:.3})");
                if let Some(c) = compared("best_layer", &format!("{m}/{l}")) {
                    let other = c.b.rsplit_once('/').map_or(c.b.as_str(), |x| x.1);
                    let word = if c.difference.tied {
                        "tied with"
                    } else {
                        "above"
                    };
                    s.push_str(&format!(", {word} {other}: {}", delta_text(&c.difference)));
                }
                s
            })
            .collect();
        if !best.is_empty() {
            out.push(format!(
                "Best layer per model (highest {probe} R²_cond, mean over targets): {}.",
                best.join("; ")
            ));
        }
    }
    out.push(controls_line(report));
    if let Some(line) = rare_line(report) {
        out.push(line);
    }
    let unstable = &report.instability.unstable;
    out.push(if unstable.is_empty() {
        format!("Unstable: none of {} records.", report.results.len())
    } else {
        format!(
            "Unstable: {} of {} records: {}.",
            unstable.len(),
            report.results.len(),
            named(unstable)
        )
    });
    let gap = report
        .gaps
        .iter()
        .filter(|g| g.channels.is_none() && !g.target.starts_with("ctrl_"))
        .filter_map(|g| g.gap.map(|v| (g, v)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let unstable_geom = |g: &crate::report::GapRecord| {
        let flagged: Vec<&str> = ["ridge", "mlp"]
            .into_iter()
            .filter(|p| {
                report.results.iter().any(|r| {
                    r.unstable
                        && r.probe == *p
                        && r.representation == "geom"
                        && r.model == g.model
                        && r.layer == g.layer
                        && r.channels.is_none()
                        && r.target == g.target
                })
            })
            .collect();
        if flagged.is_empty() {
            String::new()
        } else {
            format!(" — {} unstable, read with care", flagged.join(" and "))
        }
    };
    out.push(match gap {
        Some((g, v)) => format!(
            "Largest nonlinear excess (R²_cond,mlp − R²_cond,ridge): {}/{} on {}: R²_cond ridge {:.3}, mlp {:.3} (excess {v:+.3}{}){}; the gap on R²_geom there, which counts composition read back out of the residual, is {}.",
            g.model,
            g.layer,
            g.target,
            g.r2_cond_ridge.unwrap_or(f64::NAN),
            g.r2_cond_mlp.unwrap_or(f64::NAN),
            g.gap_ci
                .map_or(String::new(), |[lo, hi]| format!(" [{lo:+.3}, {hi:+.3}]")),
            unstable_geom(g),
            g.gap_geom.map_or("—".into(), |v| format!("{v:+.3}")),
        ),
        None => "Linear–nonlinear gap: not measured (run the ridge and mlp probes).".into(),
    });
    if let Some(line) = isomer_line(report) {
        out.push(line);
    }
    if let Some(line) = comparison_line(report) {
        out.push(line);
    }
    out
}

/// The pair of whole layers of two different models most alike and least
/// alike on the residual, under the first comparison measure of the run.
fn comparison_line(report: &Report) -> Option<String> {
    let measure = report.settings.compare.first()?;
    let m = crate::analyses::compare::Measure::ALL
        .into_iter()
        .find(|x| x.name() == measure)?;
    let mut cands: Vec<(&crate::report::ComparisonRecord, f64)> = report
        .comparison
        .iter()
        .filter(|r| {
            r.measure == *measure
                && r.representation == "geom"
                && r.channels_from.is_none()
                && r.channels_to.is_none()
                && r.model_from != r.model_to
        })
        .filter_map(|r| r.value.map(|v| (r, v)))
        .collect();
    if cands.is_empty() {
        return None;
    }
    // Closest first: the lowest error or imbalance, the highest CKA.
    cands.sort_by(|a, b| {
        let o = a.1.total_cmp(&b.1);
        if m.higher_is_closer() {
            o.reverse()
        } else {
            o
        }
    });
    let arrow = if m.symmetric() { "↔" } else { "→" };
    let pair = |(r, v): &(&crate::report::ComparisonRecord, f64)| {
        format!(
            "{}/{} {arrow} {}/{} ({})",
            r.model_from,
            r.layer_from,
            r.model_to,
            r.layer_to,
            with_ci(*v, r.interval)
        )
    };
    Some(format!(
        "Models compared on the residual ({measure}, {}): most alike {}; least alike {}.",
        if m.higher_is_closer() {
            "higher is closer"
        } else {
            "lower is closer"
        },
        pair(&cands[0]),
        pair(&cands[cands.len() - 1])
    ))
}

/// The controls' line: probes whose conditional R² reads a control (the
/// conditional numbers would be inflated), and probes whose R²_geom does
/// (their R²_geom misleads).
fn controls_line(report: &Report) -> String {
    let inflation = &report.inflation;
    let skipped = || {
        let s: Vec<&str> = report
            .settings
            .skipped
            .iter()
            .filter(|s| s.target.starts_with("ctrl_"))
            .map(|s| s.target.as_str())
            .collect();
        if s.is_empty() {
            String::new()
        } else {
            format!(
                " ({} skipped, each with its reason in the report)",
                named(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            )
        }
    };
    if inflation.is_empty() {
        return "Controls: not tested (run with --controls to test the probes).".into();
    }
    let key = |r: &crate::report::InflationRecord| {
        let layer = match &r.channels {
            Some(g) => format!("{}[{g}]", r.layer),
            None => r.layer.clone(),
        };
        format!("{} on {}/{layer} ({})", r.probe, r.model, r.control)
    };
    let threshold = inflation[0].threshold;
    let inflated: Vec<String> = inflation.iter().filter(|r| r.inflated).map(key).collect();
    let mut line = format!(
        "Controls{}: R²_cond above {threshold} on {} of {} probe/control records{}",
        skipped(),
        inflated.len(),
        inflation.len(),
        if inflated.is_empty() {
            String::new()
        } else {
            format!(": {} (inflated)", named(&inflated))
        }
    );
    let mut probes: Vec<&str> = Vec::new();
    for r in inflation.iter().filter(|r| r.geom_inflated) {
        if !probes.contains(&r.probe.as_str()) {
            probes.push(&r.probe);
        }
    }
    for p in probes {
        let of: Vec<&crate::report::InflationRecord> =
            inflation.iter().filter(|r| r.probe == p).collect();
        let over: Vec<&&crate::report::InflationRecord> =
            of.iter().filter(|r| r.geom_inflated).collect();
        let worst = over
            .iter()
            .filter_map(|r| r.r2_geom.map(|v| (r, v)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((r, v)) = worst {
            line.push_str(&format!(
                "; {p} reads composition out of the residual on {} of {} (R²_geom up to {v:.3}, {}): its R²_geom misleads, read its R²_cond",
                over.len(),
                of.len(),
                key(r)
            ));
        }
    }
    line.push('.');
    line
}

/// The best isomer accuracy on geom under the primary probe, per target,
/// beside composition's (0.5 by construction).
fn isomer_line(report: &Report) -> Option<String> {
    let probe = primary(report)?;
    let mut parts = Vec::new();
    for t in &report.settings.targets {
        if t.starts_with("ctrl_") {
            continue;
        }
        let best = report
            .results
            .iter()
            .filter(|r| real(r) && r.target == *t && r.probe == probe && r.representation == "geom")
            .filter_map(|r| r.isomer_accuracy.map(|a| (r, a)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((r, a)) = best {
            parts.push(format!(
                "{t} {} ({}/{}, {} pairs)",
                with_ci(a, r.isomer_ci),
                r.model,
                r.layer,
                r.isomer_pairs
            ));
        }
    }
    (!parts.is_empty()).then(|| {
        format!(
            "Isomers held out together ordered correctly by {probe} on geom (best layer; \
             composition alone: 0.5): {}.",
            parts.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{report, triple};
    use crate::report::GapRecord;

    #[test]
    fn lines_name_the_best_layer_the_flags_and_the_largest_gap() {
        let mut results = triple("m", "l1", "y", [Some(0.1), Some(0.5), Some(0.2)]);
        results.extend(triple("m", "l2", "y", [Some(0.1), Some(0.6), Some(0.4)]));
        results[5].isomer_accuracy = Some(0.8);
        results[5].isomer_pairs = 12;
        results[2].r2_cond = Some(0.25);
        results[5].r2_cond = Some(0.45);
        let mut rep = report(results);
        rep.instability.unstable = vec!["m/l1/-/y/raw/ridge".into()];
        rep.gaps = vec![
            GapRecord {
                model: "m".into(),
                layer: "l1".into(),
                channels: None,
                target: "y".into(),
                r2_geom_ridge: Some(0.2),
                r2_geom_mlp: Some(0.3),
                r2_cond_ridge: None,
                r2_cond_mlp: None,
                gap_geom: None,
                gap: Some(0.1),
                disentanglement: Some(0.1),
                gap_ci: None,
            },
            GapRecord {
                model: "m".into(),
                layer: "l2".into(),
                channels: None,
                target: "y".into(),
                r2_geom_ridge: Some(0.4),
                r2_geom_mlp: Some(0.9),
                r2_cond_ridge: Some(0.45),
                r2_cond_mlp: Some(0.6),
                gap_geom: Some(0.5),
                gap: Some(0.15),
                disentanglement: Some(-0.1),
                gap_ci: None,
            },
        ];
        let v = verdict(&rep);
        let text = v.join("\n");
        assert!(
            text.contains(
                "Best layer per model (highest ridge R²_cond, mean over targets): m: l2 (0.450)."
            ),
            "{text}"
        );
        assert!(
            text.contains("Unstable: 1 of 6 records: m/l1/-/y/raw/ridge."),
            "{text}"
        );
        assert!(text.contains("Largest nonlinear excess (R²_cond,mlp − R²_cond,ridge): m/l2 on y: R²_cond ridge 0.450, mlp 0.600 (excess +0.150); the gap on R²_geom there, which counts composition read back out of the residual, is +0.500."), "{text}");
        assert!(text.contains("Controls: not tested"), "{text}");
        assert!(text.contains("y 0.800 (m/l2, 12 pairs)"), "{text}");
    }
}
