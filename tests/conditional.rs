//! Conditional R² (what the residual adds to composition) on synthetic
//! embeddings built on the bundled QM9 compositions: an embedding that is a
//! nonlinear function of composition fools R²_geom but not R²_cond; a
//! planted geometric signal is recovered; an embedding linear in
//! composition has no geometric signal and ranks last; a constant target
//! is skipped with its reason.

use std::fs::File;
use std::path::Path;

use ndarray::{Array1, Array2, Axis};
use ndarray_npy::{NpzReader, NpzWriter};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::util::{cpd, data, s, tempdir, text, write};

fn run(dir: &Path, args: &[&str]) -> (Value, String) {
    let out = cpd(dir, args);
    let (o, e) = text(&out);
    assert!(out.status.success(), "cpd {args:?}\n{o}\n{e}");
    let report = std::fs::read_to_string(dir.join("out/report.json")).unwrap();
    (serde_json::from_str(&report).unwrap(), e)
}

fn ids() -> Array1<i64> {
    let mut z = NpzReader::new(File::open(data("embeddings/sevennet0.npz")).unwrap()).unwrap();
    z.by_name("ids").unwrap()
}

/// The bundled compositions (counts, rows in file order).
fn counts() -> Array2<f64> {
    cpd::io::table::read_table(&data("compositions.csv"))
        .unwrap()
        .values
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box–Muller.
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// `width` features `tanh(z·a_j + b_j)` of the standardised counts `z`
/// (random `a_j`, `b_j`), plus noise of standard deviation `noise`.
fn nonlinear_of_composition(width: usize, noise: f64, rng: &mut ChaCha8Rng) -> Array2<f64> {
    let c = counts();
    let z = (&c - &c.mean_axis(Axis(0)).unwrap()) / &c.std_axis(Axis(0), 0.0);
    let a = Array2::from_shape_fn((c.ncols(), width), |_| normal(rng));
    let b = Array1::from_shape_fn(width, |_| normal(rng));
    let mut e = (z.dot(&a) + &b).mapv(f64::tanh);
    e.mapv_inplace(|v| v + noise * normal(rng));
    e
}

fn save(dir: &Path, name: &str, layer: &Array2<f64>) {
    let mut w = NpzWriter::new(File::create(dir.join(name)).unwrap());
    w.add_array("ids", &ids()).unwrap();
    w.add_array("layer", &layer.mapv(|v| v as f32)).unwrap();
    w.finish().unwrap();
}

fn geom<'a>(r: &'a Value, model: &str, target: &str, probe: &str) -> &'a Value {
    r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| {
            x["model"] == model
                && x["target"] == target
                && x["probe"] == probe
                && x["representation"] == "geom"
        })
        .unwrap_or_else(|| panic!("no {model}/{target}/{probe} geom record"))
}

fn num(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

/// An embedding that is a nonlinear function of composition (plus noise)
/// lets the MLP and the GBT read the compositional mass out of the
/// residual (R²_geom ≥ 0.5), but not add to composition (R²_cond ≤ 0.02).
#[test]
fn a_nonlinear_function_of_composition_fools_r2_geom_but_not_r2_cond() {
    let dir = tempdir();
    let d = dir.path();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    save(d, "tanh.npz", &nonlinear_of_composition(32, 0.01, &mut rng));
    let (r, _) = run(
        d,
        &[
            "analyze",
            "--embeddings",
            "tanh=tanh.npz",
            "--compositions",
            &s(&data("compositions.csv")),
            "--targets",
            &s(&data("targets.csv")),
            "--target",
            "mass_amu",
            "--probes",
            "ridge,mlp,gbt",
            "--bootstrap",
            "0",
            "--out",
            "out",
        ],
    );
    for probe in ["mlp", "gbt"] {
        let g = geom(&r, "tanh", "mass_amu", probe);
        let (r2_geom, r2_cond) = (num(&g["r2_mean"]), num(&g["r2_cond"]));
        eprintln!("{probe}: R²_geom {r2_geom:.3}, R²_cond {r2_cond:+.4}");
        assert!(r2_geom >= 0.5, "{probe} R²_geom {r2_geom}");
        assert!(r2_cond <= 0.02, "{probe} R²_cond {r2_cond}");
    }
    let ridge = geom(&r, "tanh", "mass_amu", "ridge");
    assert!(num(&ridge["r2_cond"]).abs() < 1e-6, "{}", ridge["r2_cond"]);
}

/// `y = mass/σ + g + ε` with `g` independent of composition and carried by
/// eight noisy columns beside nonlinear composition features: ridge's
/// R²_cond recovers `var(g)/var(y)` within its interval, the MLP's within
/// 0.05 of it.
#[test]
fn a_planted_geometric_signal_is_recovered_by_r2_cond() {
    let dir = tempdir();
    let d = dir.path();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let comp = nonlinear_of_composition(16, 0.01, &mut rng);
    let n = comp.nrows();
    let g = Array1::from_shape_fn(n, |_| 0.7 * normal(&mut rng));
    let eps = Array1::from_shape_fn(n, |_| 0.3 * normal(&mut rng));
    let planted = Array2::from_shape_fn((n, 8), |(i, _)| g[i] + 0.05 * normal(&mut rng));
    let layer = ndarray::concatenate![Axis(1), comp, planted];
    save(d, "planted.npz", &layer);
    let targets = cpd::io::table::read_table(&data("targets.csv")).unwrap();
    let m = targets
        .columns
        .iter()
        .position(|c| c == "mass_amu")
        .unwrap();
    let mass = targets.values.column(m).to_owned();
    let y = &mass / mass.std(0.0) + &g + &eps;
    let mut csv = String::from("id,y\n");
    for (id, v) in targets.ids.iter().zip(&y) {
        csv.push_str(&format!("{id},{v}\n"));
    }
    write(d, "y.csv", &csv);
    let centred = |v: &Array1<f64>| v - v.mean().unwrap();
    let truth = centred(&g).mapv(|v| v * v).sum() / centred(&y).mapv(|v| v * v).sum();
    let (r, _) = run(
        d,
        &[
            "analyze",
            "--embeddings",
            "planted=planted.npz",
            "--compositions",
            &s(&data("compositions.csv")),
            "--targets",
            "y.csv",
            "--probes",
            "ridge,mlp",
            "--out",
            "out",
        ],
    );
    let ridge = geom(&r, "planted", "y", "ridge");
    let (cond, ci) = (num(&ridge["r2_cond"]), &ridge["r2_cond_ci"]);
    let (lo, hi) = (num(&ci[0]), num(&ci[1]));
    eprintln!("truth {truth:.4}; ridge R²_cond {cond:.4} [{lo:.4}, {hi:.4}]");
    assert!(lo <= truth && truth <= hi, "{truth} outside [{lo}, {hi}]");
    let mlp = num(&geom(&r, "planted", "y", "mlp")["r2_cond"]);
    eprintln!("mlp R²_cond {mlp:.4}");
    assert!((mlp - truth).abs() <= 0.05, "mlp {mlp} vs {truth}");
}

/// An embedding linear in composition (a species embedding summed over
/// atoms: counts times a random matrix) leaves an empty residual: "no
/// geometric signal", ranked after a real model however the two compare
/// on R²_geom.
#[test]
fn an_embedding_linear_in_composition_has_no_geometric_signal_and_ranks_last() {
    let dir = tempdir();
    let d = dir.path();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let c = counts();
    let w = Array2::from_shape_fn((c.ncols(), 16), |_| normal(&mut rng));
    save(d, "species.npz", &c.dot(&w));
    let (r, _) = run(
        d,
        &[
            "analyze",
            "--embeddings",
            "species=species.npz",
            "--embeddings",
            &format!("sevennet0={}", s(&data("embeddings/sevennet0.npz"))),
            "--compositions",
            &s(&data("compositions.csv")),
            "--targets",
            &s(&data("targets.csv")),
            "--target",
            "gap_ev",
            "--target",
            "homo_ev",
            "--out",
            "out",
        ],
    );
    let ranking = r["profiles"]["ranking"].as_array().unwrap();
    let order: Vec<(&str, bool)> = ranking
        .iter()
        .map(|m| (m["model"].as_str().unwrap(), m["signal"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        order,
        [("sevennet0", true), ("species", false)],
        "{ranking:?}"
    );
    let line = r["verdict"][0].as_str().unwrap();
    assert!(line.contains("no geometric signal"), "{line}");
    assert!(line.contains("species"), "{line}");
    let cond = num(&geom(&r, "species", "gap_ev", "ridge")["r2_cond"]);
    assert!(cond.abs() < 1e-6, "{cond}");
}

/// A constant target has no R²: it is skipped with its reason (stderr and
/// `settings.skipped`), and a run with nothing else is an error.
#[test]
fn a_constant_target_is_skipped_with_its_reason() {
    let dir = tempdir();
    let d = dir.path();
    let targets = cpd::io::table::read_table(&data("targets.csv")).unwrap();
    let g = targets.columns.iter().position(|c| c == "gap_ev").unwrap();
    let mut csv = String::from("id,flat,gap_ev\n");
    for (i, id) in targets.ids.iter().enumerate() {
        csv.push_str(&format!("{id},2.5,{}\n", targets.values[(i, g)]));
    }
    write(d, "t.csv", &csv);
    let args = |target: Option<&str>| {
        let mut a: Vec<String> = [
            "analyze",
            "--embeddings",
            &format!("sevennet0={}", s(&data("embeddings/sevennet0.npz"))),
            "--compositions",
            &s(&data("compositions.csv")),
            "--targets",
            "t.csv",
            "--bootstrap",
            "0",
            "--out",
            "out",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(t) = target {
            a.extend(["--target".to_string(), t.to_string()]);
        }
        a
    };
    let all = args(None);
    let (r, stderr) = run(d, &all.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        stderr.contains(
            "skipped target 'flat': constant (2.5 on every row): a constant target has no R²"
        ),
        "{stderr}"
    );
    assert_eq!(r["settings"]["skipped"][0]["target"], "flat");
    assert_eq!(r["settings"]["targets"], serde_json::json!(["gap_ev"]));
    assert!(r["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["target"] == "gap_ev"));
    let only = args(Some("flat"));
    let out = cpd(d, &only.iter().map(String::as_str).collect::<Vec<_>>());
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("no target left to probe") && e.contains("flat: constant"),
        "{e}"
    );
}
