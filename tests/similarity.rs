//! Linear CKA, the layer statistics and the isomer test against references
//! computed outside cpd: `tests/fixtures/cka.json` is written by
//! `scripts/reference_cka.py` (NumPy, the n × n HSIC form of CKA and
//! eigenvalues for the participation ratio), and the isomer accuracy is
//! recomputed here from `predictions.csv`.

use std::collections::HashMap;
use std::path::Path;

use ndarray::Array2;
use serde_json::Value;

use cpd::analyses::layerstats::layer_stats;
use cpd::analyses::similarity::cka_matrix;
use cpd::flow::folds::Folds;
use cpd::flow::moments::FoldGrams;
use cpd::flow::projection::{residual_zero_tol, Projection};
use cpd::flow::rows::{Dense, Rows};

use crate::util::{cpd, s, tempdir, text};

const TOL: f64 = 1e-9;

fn fixture() -> Value {
    let path = crate::util::root().join("tests/fixtures/cka.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
}

fn names(f: &Value) -> Vec<String> {
    serde_json::from_value(f["names"].clone()).unwrap()
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= TOL,
        "{what}: cpd {got} vs numpy {want} (|Δ| = {:e})",
        (got - want).abs()
    );
}

#[test]
fn cka_and_layer_statistics_match_the_numpy_reference() {
    let f = fixture();
    let comp = matrix(&f["composition"]);
    let cols: Vec<String> = serde_json::from_value(f["composition_columns"].clone()).unwrap();
    let projection = Projection::new(comp.view(), &cols);
    let layers: Vec<Array2<f64>> = names(&f).iter().map(|n| matrix(&f["layers"][n])).collect();
    let raw: Vec<Dense<'_>> = layers.iter().map(|l| Dense(l.view())).collect();
    let geom: Vec<_> = raw
        .iter()
        .map(|r| projection.residual_rows(r, residual_zero_tol("float64")))
        .collect();
    let raw_rows: Vec<&dyn Rows> = raw.iter().map(|r| r as &dyn Rows).collect();
    let geom_rows: Vec<&dyn Rows> = geom.iter().map(|r| r as &dyn Rows).collect();
    for (rep, rows) in [("raw", &raw_rows), ("geom", &geom_rows)] {
        let want = matrix(&f[format!("cka_{rep}")]);
        let got = cka_matrix(rows);
        for ((i, j), w) in want.indexed_iter() {
            close(got[(i, j)].unwrap(), *w, &format!("CKA {rep} ({i}, {j})"));
        }
        for i in 0..rows.len() {
            close(got[(i, i)].unwrap(), 1.0, "self-CKA");
        }
    }
    // The statistics come from per-fold Gram sums (those ridge reads),
    // summed over the folds.
    let folds = Folds::shuffled(comp.nrows(), 5, 0).unwrap();
    for (k, n) in names(&f).iter().enumerate() {
        let (r, g) = (
            FoldGrams::compute(raw_rows[k], &folds),
            FoldGrams::compute(geom_rows[k], &folds),
        );
        let st = layer_stats("m", n, r.all(), g.all());
        let want = &f["stats"][n];
        for (got, key) in [
            (st.composition_share, "composition_share"),
            (st.effective_dim_raw, "effective_dim_raw"),
            (st.effective_dim_geom, "effective_dim_geom"),
        ] {
            close(
                got.unwrap(),
                want[key].as_f64().unwrap(),
                &format!("{n} {key}"),
            );
        }
    }
}

/// The fixture as CSV files: compositions, target `y`, and one file per layer.
fn write_inputs(dir: &Path, f: &Value) -> Vec<String> {
    let ids: Vec<String> = serde_json::from_value(f["ids"].clone()).unwrap();
    let comp = matrix(&f["composition"]);
    let y: Vec<f64> = serde_json::from_value(f["target"].clone()).unwrap();
    let mut c = String::from("id,H,C,O\n");
    let mut t = String::from("id,y\n");
    for (i, id) in ids.iter().enumerate() {
        let row: Vec<String> = comp.row(i).iter().map(|v| v.to_string()).collect();
        c.push_str(&format!("{id},{}\n", row.join(",")));
        t.push_str(&format!("{id},{:?}\n", y[i]));
    }
    std::fs::write(dir.join("comp.csv"), c).unwrap();
    std::fs::write(dir.join("targets.csv"), t).unwrap();
    names(f)
        .iter()
        .map(|n| {
            let m = matrix(&f["layers"][n]);
            let mut e = String::from("id");
            for j in 0..m.ncols() {
                e.push_str(&format!(",e{j}"));
            }
            e.push('\n');
            for (i, id) in ids.iter().enumerate() {
                let row: Vec<String> = m.row(i).iter().map(|v| format!("{v:?}")).collect();
                e.push_str(&format!("{id},{}\n", row.join(",")));
            }
            let p = dir.join(format!("{n}.csv"));
            std::fs::write(&p, e).unwrap();
            format!("{n}={}", s(&p))
        })
        .collect()
}

/// `cpd analyze --similarity --predictions` with each layer in its own file
/// (so every CKA but the diagonal crosses files): report.json's similarity
/// and layer statistics equal the reference, and every record's isomer
/// accuracy equals the one recomputed from predictions.csv — 0.5 exactly for
/// composition.
#[test]
fn cli_similarity_across_files_and_isomer_accuracy_from_predictions_csv() {
    let f = fixture();
    let dir = tempdir();
    let models = write_inputs(dir.path(), &f);
    let mut args = vec![
        "analyze",
        "--compositions",
        "comp.csv",
        "--targets",
        "targets.csv",
        "--similarity",
        "--predictions",
        "--probes",
        "ridge,gbt",
        "--gbt-rounds",
        "20",
        "--out",
        "out",
        "-q",
    ];
    for m in &models {
        args.extend(["--embeddings", m.as_str()]);
    }
    let out = cpd(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out).1);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["settings"]["similarity"], true);

    // Similarity: every pair once (upper triangle), raw then geom.
    let names = names(&f);
    let sim = report["similarity"].as_array().unwrap();
    assert_eq!(sim.len(), 2 * names.len() * (names.len() + 1) / 2);
    for r in sim {
        let rep = r["representation"].as_str().unwrap();
        let i = names.iter().position(|n| n == &r["model_a"]).unwrap();
        let j = names.iter().position(|n| n == &r["model_b"]).unwrap();
        let want = matrix(&f[format!("cka_{rep}")])[(i, j)];
        close(
            r["cka"].as_f64().unwrap(),
            want,
            &format!("cli CKA {rep} ({i}, {j})"),
        );
    }
    let csv = std::fs::read_to_string(dir.path().join("out/similarity.csv")).unwrap();
    assert_eq!(csv.lines().count(), sim.len() + 1);
    for st in report["layer_stats"].as_array().unwrap() {
        let want = &f["stats"][st["model"].as_str().unwrap()];
        for key in [
            "composition_share",
            "effective_dim_raw",
            "effective_dim_geom",
        ] {
            close(st[key].as_f64().unwrap(), want[key].as_f64().unwrap(), key);
        }
    }

    // Isomer accuracy from predictions.csv: pairs of equal composition in
    // the same fold with different y; same order scores 1, a tie ½.
    let comp: HashMap<String, String> = std::fs::read_to_string(dir.path().join("comp.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (id, rest) = l.split_once(',').unwrap();
            (id.to_string(), rest.to_string())
        })
        .collect();
    let mut rows: HashMap<String, Vec<(String, usize, f64, f64)>> = HashMap::new();
    let preds = std::fs::read_to_string(dir.path().join("out/predictions.csv")).unwrap();
    for l in preds.lines().skip(1) {
        let c: Vec<&str> = l.split(',').collect();
        let key = format!("{}/{}/{}/{}/{}", c[2], c[3], c[5], c[6], c[7]);
        rows.entry(key).or_default().push((
            c[0].to_string(),
            c[1].parse().unwrap(),
            c[8].parse().unwrap(),
            c[9].parse().unwrap(),
        ));
    }
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), rows.len());
    let mut composition_checked = 0;
    for r in results {
        let key = format!(
            "{}/{}/{}/{}/{}",
            r["model"].as_str().unwrap(),
            r["layer"].as_str().unwrap(),
            r["target"].as_str().unwrap(),
            r["representation"].as_str().unwrap(),
            r["probe"].as_str().unwrap()
        );
        let p = &rows[&key];
        let (mut score, mut pairs) = (0.0, 0usize);
        for a in 0..p.len() {
            for b in a + 1..p.len() {
                let (ia, fa, ya, pa) = &p[a];
                let (ib, fb, yb, pb) = &p[b];
                if fa != fb || comp[ia] != comp[ib] || ya == yb {
                    continue;
                }
                pairs += 1;
                score += if pa == pb {
                    0.5
                } else if (pa > pb) == (ya > yb) {
                    1.0
                } else {
                    0.0
                };
            }
        }
        assert!(
            pairs > 100,
            "{key}: the fixture has many isomer pairs ({pairs})"
        );
        assert_eq!(r["isomer_pairs"].as_u64().unwrap() as usize, pairs, "{key}");
        let acc = r["isomer_accuracy"].as_f64().unwrap();
        assert!((acc - score / pairs as f64).abs() < 1e-12, "{key}: {acc}");
        if r["representation"] == "composition" {
            assert_eq!(acc, 0.5, "{key}: composition cannot order isomers");
            composition_checked += 1;
        } else if r["probe"] == "ridge" && r["model"] == "a" {
            assert!(acc > 0.7, "{key}: the residual holds the geometry ({acc})");
        }
    }
    assert_eq!(composition_checked, 2 * names.len());
}
