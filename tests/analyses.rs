//! The paper's analyses on synthetic data whose answer is known by
//! construction: compositional controls (probe inflation), channel routing,
//! learning curves and profiles.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::util::{assert_input_error, cpd, s, tempdir, text, write};

/// A deterministic uniform in [0, 1).
fn lcg(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

struct Synthetic {
    comp: String,
    targ: String,
    emb: String,
}

/// `n` molecules with random H/C/N/O counts. Embedding columns (CSV, with
/// ids): 4 scalars, then 2 vectors of 3 components (irreps `4x0e+2x1o`),
/// then 4 columns that are nonlinear functions of composition (counts², √).
/// Targets: `y_scalar` = s0 + s1 (lives in the 0e group), `y_vector` = |v0|
/// (lives in the 1o group, only as a norm), both with a little noise.
fn synthetic(dir: &Path, n: usize) -> Synthetic {
    let mut st = 11u64;
    let mut comp = String::from("id,H,C,N,O\n");
    let mut targ = String::from("id,y_scalar,y_vector\n");
    let mut emb = String::from("id");
    for j in 0..14 {
        emb.push_str(&format!(",e{j}"));
    }
    emb.push('\n');
    for i in 0..n {
        let c: Vec<f64> = (0..4).map(|_| (lcg(&mut st) * 8.0).floor()).collect();
        comp.push_str(&format!("m{i},{},{},{},{}\n", c[0], c[1], c[2], c[3]));
        let sc: Vec<f64> = (0..4).map(|_| lcg(&mut st) - 0.5).collect();
        let v: Vec<f64> = (0..6).map(|_| lcg(&mut st) - 0.5).collect();
        let norm0 = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        targ.push_str(&format!(
            "m{i},{},{}\n",
            sc[0] + sc[1] + 0.01 * (lcg(&mut st) - 0.5),
            norm0 + 0.01 * (lcg(&mut st) - 0.5)
        ));
        let atoms: f64 = c.iter().sum();
        let mut row = vec![format!("m{i}")];
        row.extend(sc.iter().map(|x| x.to_string()));
        row.extend(v.iter().map(|x| x.to_string()));
        row.push((atoms * atoms / 100.0).to_string());
        row.push((c[0] * c[1] / 10.0).to_string());
        row.push(c[0].sqrt().to_string());
        row.push((c[0] / (atoms + 1.0)).to_string());
        emb.push_str(&row.join(","));
        emb.push('\n');
    }
    Synthetic {
        comp: s(&write(dir, "comp.csv", &comp)),
        targ: s(&write(dir, "targets.csv", &targ)),
        emb: s(&write(dir, "emb.csv", &emb)),
    }
}

/// `cpd analyze` on the synthetic files with `extra` arguments.
fn analyze(dir: &Path, d: &Synthetic, extra: &[&str]) -> Output {
    let emb = format!("m={}", d.emb);
    let mut args = vec![
        "analyze",
        "--embeddings",
        &emb,
        "--compositions",
        &d.comp,
        "--targets",
        &d.targ,
    ];
    args.extend_from_slice(extra);
    cpd(dir, &args)
}

/// A successful run writing `out/`; its report.json.
fn run(dir: &Path, d: &Synthetic, extra: &[&str]) -> Value {
    let mut args = vec!["--out", "out", "-q"];
    args.extend_from_slice(extra);
    let out = analyze(dir, d, &args);
    assert!(out.status.success(), "{}", text(&out).1);
    serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap()).unwrap()
}

#[test]
fn controls_expose_the_gbts_r2_geom_and_clear_its_r2_cond() {
    let dir = tempdir();
    let d = synthetic(dir.path(), 400);
    let r = run(
        dir.path(),
        &d,
        &[
            "--controls",
            "--probes",
            "ridge,gbt",
            "--gbt-rounds",
            "60",
            "--target",
            "y_scalar",
        ],
    );
    let infl = r["inflation"].as_array().unwrap();
    let find = |probe: &str, control: &str| {
        infl.iter()
            .find(|v| v["probe"] == probe && v["control"] == control)
            .unwrap_or_else(|| panic!("{probe}/{control}"))
    };
    let num = |v: &Value, k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k}: {v}"));
    // The projection removes linear composition exactly: ridge cannot read
    // a linear control from the residual, nor add to composition on it.
    for c in ["ctrl_atoms", "ctrl_mass"] {
        let v = find("ridge", c);
        assert!(num(v, "r2_geom") <= 0.02, "{v}");
        assert!(num(v, "r2_cond").abs() < 1e-6, "{v}");
        assert_eq!(v["inflated"], false);
        assert_eq!(v["geom_inflated"], false);
        assert_eq!(v["linear"], true);
    }
    // The GBT rebuilds the nonlinear atom-count² control from the
    // residual's nonlinear composition columns: its R²_geom is flagged, but
    // given composition the residual adds nothing, so its R²_cond is not.
    let g = find("gbt", "ctrl_atoms_sq");
    assert!(num(g, "r2_geom") > 0.5, "{g}");
    assert!(num(g, "r2_cond") <= 0.02, "{g}");
    assert_eq!(g["geom_inflated"], true);
    assert_eq!(g["inflated"], false);
    assert_eq!(g["threshold"], 0.1);
    // No conditional number of the GBT is inflated. Ridge's is on the H
    // fraction: its baseline is linear in the counts, and the residual
    // holds a column close to it (c_H / (N + 1)), which ridge reads
    // linearly. The controls flag what ridge's R²_cond still counts.
    let gbt: Vec<&Value> = infl.iter().filter(|v| v["probe"] == "gbt").collect();
    assert!(gbt.iter().all(|v| v["inflated"] == false), "{gbt:?}");
    let h = find("ridge", "ctrl_h_fraction");
    assert!(num(h, "r2_cond") > 0.1 && num(h, "r2_geom") < 0.02, "{h}");
    assert_eq!(h["inflated"], true);
    // The flags and their meaning are in the Markdown and the CSV.
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    assert!(md.contains("## Compositional controls"), "{md}");
    assert!(
        md.contains("| m | emb | gbt | ctrl_atoms_sq | nonlinear |"),
        "{md}"
    );
    assert!(md.contains("R²_geom misleads") && md.contains("INFLATED"));
    let controls = r["settings"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t.as_str().unwrap().starts_with("ctrl_"))
        .count();
    // Atom counts, mass, mass per atom, electronegativity, count², H
    // fraction and three random controls all vary on these data.
    assert_eq!(controls, 9, "{}", r["settings"]);
    let csv = std::fs::read_to_string(dir.path().join("out/controls.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * controls);
    // Controls are ordinary targets in the results too.
    assert!(r["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["target"] == "ctrl_h_fraction" && v["representation"] == "composition"));
    // A higher threshold clears the R²_geom flag too.
    let r = run(
        dir.path(),
        &d,
        &[
            "--controls",
            "--inflation-threshold",
            "0.999",
            "--target",
            "y_scalar",
        ],
    );
    assert!(r["inflation"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["inflated"] == false && v["geom_inflated"] == false));
}

#[test]
fn channel_routing_finds_each_target_in_its_own_group() {
    let dir = tempdir();
    let d = synthetic(dir.path(), 400);
    // The first 10 columns as irreps: 4 scalars and 2 vectors; the last 4
    // as a third group by column range in a second run.
    let emb10 = {
        let text = std::fs::read_to_string(&d.emb).unwrap();
        let cut: String = text
            .lines()
            .map(|l| l.split(',').take(11).collect::<Vec<_>>().join(",") + "\n")
            .collect();
        s(&write(dir.path(), "emb10.csv", &cut))
    };
    let d10 = Synthetic {
        emb: emb10,
        comp: d.comp.clone(),
        targ: d.targ.clone(),
    };
    let r = run(dir.path(), &d10, &["--irreps", "4x0e+2x1o"]);
    let routing = r["channel_routing"].as_array().unwrap();
    let get = |group: &str, target: &str| {
        routing
            .iter()
            .find(|v| v["group"] == group && v["target"] == target)
            .unwrap()["r2_geom"]
            .as_f64()
            .unwrap()
    };
    // y_scalar = s0 + s1: the 0e group holds it, the vector norms do not.
    assert!(get("4x0e", "y_scalar") > 0.95, "{routing:?}");
    assert!(get("2x1o", "y_scalar") < 0.05, "{routing:?}");
    // y_vector = |v0|: only as the norm of the first 1o copy.
    assert!(get("2x1o", "y_vector") > 0.95, "{routing:?}");
    assert!(get("4x0e", "y_vector") < 0.05, "{routing:?}");
    // The whole layer is still reported, and the groups' records carry their name.
    let results = r["results"].as_array().unwrap();
    assert!(results.iter().any(|v| v["channels"].is_null()));
    assert!(results.iter().any(|v| v["channels"] == "2x1o"));
    // Without norms a linear probe cannot read a norm from the components.
    let r = run(
        dir.path(),
        &d10,
        &["--irreps", "4x0e+2x1o", "--invariants", "components"],
    );
    let comp_vec = r["channel_routing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["group"] == "2x1o" && v["target"] == "y_vector")
        .unwrap()["r2_geom"]
        .as_f64()
        .unwrap();
    assert!(comp_vec < 0.1, "{comp_vec}");
    // Column ranges.
    let r = run(dir.path(), &d, &["--channels", "scalars=0:4,extra=10:14"]);
    let csv = std::fs::read_to_string(dir.path().join("out/channels.csv")).unwrap();
    assert!(
        csv.starts_with("model,layer,group,target,probe,r2_geom\n"),
        "{csv}"
    );
    assert_eq!(r["channel_routing"].as_array().unwrap().len(), 2 * 2);
    // Widths that do not match are errors naming the layer.
    let out = analyze(dir.path(), &d10, &["--irreps", "4x0e+3x1o"]);
    assert_input_error(
        &out,
        &[
            "layer 'emb10'",
            "has 10 columns but '4x0e+3x1o' describes 13",
        ],
    );
    let out = analyze(dir.path(), &d10, &["--irreps", "4x0e+2x1q"]);
    assert_input_error(&out, &["irreps '4x0e+2x1q'", "'2x1q'"]);
    let out = analyze(
        dir.path(),
        &d10,
        &["--irreps", "4x0e+2x1o", "--channel-layers", "nope"],
    );
    assert_input_error(&out, &["channel layer 'nope'", "emb10"]);
}

#[test]
fn learning_curves_and_profiles_are_reported() {
    let dir = tempdir();
    let d = synthetic(dir.path(), 400);
    let r = run(
        dir.path(),
        &d,
        &[
            "--learning-curve",
            "20,80,320",
            "--curve-repeats",
            "3",
            "--target",
            "y_scalar",
        ],
    );
    let curve: Vec<(u64, f64)> = r["learning_curves"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["representation"] == "geom")
        .map(|v| {
            (
                v["n_train"].as_u64().unwrap(),
                v["r2_mean"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        curve.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![20, 80, 320]
    );
    assert!(
        curve[0].1 < curve[1].1 && curve[1].1 < curve[2].1,
        "{curve:?}"
    );
    // At the full training-fold size the curve is the cross-validated R².
    let full = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["representation"] == "geom")
        .unwrap()["r2_mean"]
        .as_f64()
        .unwrap();
    assert!((curve[2].1 - full).abs() < 1e-9, "{curve:?} vs {full}");
    let csv = std::fs::read_to_string(dir.path().join("out/learning_curve.csv")).unwrap();
    // 3 sizes × 3 representations × 1 probe × 1 target.
    assert_eq!(csv.lines().count(), 1 + 9);
    let p = &r["profiles"];
    assert_eq!(p["ranking"][0]["model"], "m");
    assert_eq!(p["ranking"][0]["best_layer"][0]["layer"], "emb");
    let md = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    assert!(md.contains("## Learning curves") && md.contains("## Layer and model profiles"));
    // Sizes beyond a training fold are refused.
    let out = analyze(dir.path(), &d, &["--learning-curve", "500"]);
    assert_input_error(
        &out,
        &["size 500 exceeds the smallest training fold (320 rows)"],
    );
}
