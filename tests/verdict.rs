//! What the verdict rests on: paired comparisons that say "tied", the
//! permutation null, composition-grouped folds (on the bundled data).

use std::fs::File;
use std::path::Path;

use ndarray::{Array1, Array2};
use ndarray_npy::{NpzReader, NpzWriter};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::util::{cpd, data, s, tempdir, text};

fn run(dir: &Path, args: &[&str]) -> Value {
    let out = cpd(dir, args);
    let (o, e) = text(&out);
    assert!(out.status.success(), "cpd {args:?}\n{o}\n{e}");
    let out_dir = args
        .iter()
        .position(|a| *a == "--out")
        .map(|i| args[i + 1])
        .expect("--out");
    serde_json::from_str(&std::fs::read_to_string(dir.join(out_dir).join("report.json")).unwrap())
        .unwrap()
}

fn sevennet_last() -> Array2<f32> {
    let mut z = NpzReader::new(File::open(data("embeddings/sevennet0.npz")).unwrap()).unwrap();
    z.by_name("l_last").unwrap()
}

fn ids() -> Array1<i64> {
    let mut z = NpzReader::new(File::open(data("embeddings/sevennet0.npz")).unwrap()).unwrap();
    z.by_name("ids").unwrap()
}

/// Two models: `twin` with two identical layers, `drowned` with the same
/// layer and a copy drowned in noise (ten times its spread). The best
/// layer of `twin` is tied with its copy; that of `drowned` is not; and
/// the two models, whose best layers are the same layer, are tied in the
/// ranking.
#[test]
fn identical_layers_are_tied_and_a_noise_drowned_copy_is_not() {
    let dir = tempdir();
    let d = dir.path();
    let h = sevennet_last();
    let sd = h.std(0.0);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let noisy = h.mapv(|v| v + 10.0 * sd * (rng.random::<f32>() - 0.5) * 3.46);
    for (file, second) in [("twin.npz", &h), ("drowned.npz", &noisy)] {
        let mut w = NpzWriter::new(File::create(d.join(file)).unwrap());
        w.add_array("ids", &ids()).unwrap();
        w.add_array("a", &h).unwrap();
        w.add_array("b", second).unwrap();
        w.finish().unwrap();
    }
    let r = run(
        d,
        &[
            "analyze",
            "--embeddings",
            "twin=twin.npz",
            "--embeddings",
            "drowned=drowned.npz",
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
    let comparisons = r["comparisons"].as_array().unwrap();
    let find = |kind: &str, a: &str| {
        comparisons
            .iter()
            .find(|c| c["kind"] == kind && c["a"] == a)
            .unwrap_or_else(|| panic!("no {kind} comparison of {a}: {comparisons:?}"))
    };
    let twin = find("best_layer", "twin/a");
    assert_eq!(twin["b"], "twin/b");
    assert_eq!(twin["delta"], 0.0);
    assert_eq!(twin["ci"], serde_json::json!([0.0, 0.0]));
    assert_eq!(twin["tied"], true);
    let drowned = find("best_layer", "drowned/a");
    assert_eq!(drowned["b"], "drowned/b");
    let [lo, hi] = [0, 1].map(|i| drowned["ci"][i].as_f64().unwrap());
    assert!(drowned["delta"].as_f64().unwrap() > 0.1, "{drowned}");
    assert!(lo > 0.0 && lo < hi, "{drowned}");
    assert_eq!(drowned["tied"], false);
    let rank = &comparisons
        .iter()
        .find(|c| c["kind"] == "ranking")
        .expect("a ranking comparison");
    assert_eq!(rank["delta"], 0.0, "{rank}");
    assert_eq!(rank["tied"], true);
    // The verdict says so.
    let lines: Vec<&str> = r["verdict"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let best = lines.iter().find(|l| l.starts_with("Best layer")).unwrap();
    assert!(
        best.contains("twin: a (") && best.contains("tied with b: Δ 0.000 [0.000, 0.000]"),
        "{best}"
    );
    assert!(
        best.contains("drowned: a (") && best.contains("above b: Δ"),
        "{best}"
    );
    let ranking = lines
        .iter()
        .find(|l| l.starts_with("Model ranking"))
        .unwrap();
    assert!(ranking.contains("tied with twin: Δ 0.000"), "{ranking}");
    // Every record carries an interval around its mean.
    for rec in r["results"].as_array().unwrap() {
        let m = rec["r2_mean"].as_f64().unwrap();
        let ci = &rec["ci"];
        let [lo, hi] = [0, 1].map(|i| rec["r2_ci"][i].as_f64().unwrap());
        assert!(lo <= m && m <= hi, "{rec} {ci}");
        assert!(
            rec.get("replicates").is_none(),
            "replicates stay out of report.json"
        );
    }
}

/// The permutation null: of a target drawn independently of everything,
/// near 0 with a large p; of the bundled gap on SevenNet-0's last layer,
/// far below the observed R² with p at its floor, 1/(N + 1) = 0.005.
#[test]
fn the_null_of_an_independent_target_is_flat_and_the_gap_beats_its_null() {
    let dir = tempdir();
    let d = dir.path();
    let targets = std::fs::read_to_string(data("targets.csv")).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut out = String::new();
    for (i, line) in targets.lines().enumerate() {
        let cols: Vec<&str> = line.split(',').collect();
        let extra = if i == 0 {
            "noise".to_string()
        } else {
            format!("{}", rng.random::<f64>())
        };
        out.push_str(&format!("{},{},{extra}\n", cols[0], cols[1]));
    }
    std::fs::write(d.join("targets.csv"), out).unwrap();
    let r = run(
        d,
        &[
            "analyze",
            "--embeddings",
            &format!("sevennet0={}", s(&data("embeddings/sevennet0.npz"))),
            "--compositions",
            &s(&data("compositions.csv")),
            "--targets",
            "targets.csv",
            "--permutations",
            "199",
            "--out",
            "out",
        ],
    );
    assert_eq!(r["settings"]["permutations"], 199);
    let rec = |target: &str, layer: &str, rep: &str| {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["target"] == target && x["layer"] == layer && x["representation"] == rep)
            .unwrap()
            .clone()
    };
    for rep in ["composition", "raw", "geom"] {
        let noise = rec("noise", "l_last", rep);
        let null = &noise["null"];
        assert_eq!(null["permutations"], 199);
        assert!(null["mean"].as_f64().unwrap() <= 0.02, "{noise}");
        assert!(null["p"].as_f64().unwrap() > 0.05, "{noise}");
    }
    for rep in ["raw", "geom"] {
        let gap = rec("gap_ev", "l_last", rep);
        let null = &gap["null"];
        assert!(null["p"].as_f64().unwrap() < 0.01, "{gap}");
        assert_eq!(null["p"].as_f64().unwrap(), 1.0 / 200.0);
        assert!(null["q95"].as_f64().unwrap() < 0.05, "{gap}");
        assert!(gap["r2_mean"].as_f64().unwrap() > 0.3, "{gap}");
    }
}

/// `--group-folds composition`: every composition in one fold, folds of
/// balanced size, and the isomer test then scores every isomer pair of the
/// data (all isomers are held out together).
#[test]
fn grouped_folds_keep_every_composition_in_one_fold() {
    let dir = tempdir();
    let d = dir.path();
    let args = |group: bool, out: &'static str| {
        let mut a = vec![
            "analyze".to_string(),
            "--embeddings".into(),
            format!("sevennet0={}", s(&data("embeddings/sevennet0.npz"))),
            "--compositions".into(),
            s(&data("compositions.csv")),
            "--targets".into(),
            s(&data("targets.csv")),
            "--target".into(),
            "gap_ev".into(),
            "--out".into(),
            out.into(),
        ];
        if group {
            a.extend(["--group-folds".into(), "composition".into()]);
        }
        a
    };
    let grouped_args = args(true, "grouped");
    let r = run(
        d,
        &grouped_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(r["settings"]["group_folds"], "composition");
    let sizes: Vec<u64> = r["settings"]["fold_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), 2500);
    let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
    assert!(hi - lo <= 60, "balanced by size: {sizes:?}");
    // folds.csv against compositions.csv: one fold per composition.
    let folds = std::fs::read_to_string(d.join("grouped/folds.csv")).unwrap();
    let fold: std::collections::HashMap<String, String> = folds
        .lines()
        .skip(1)
        .map(|l| {
            let (id, f) = l.split_once(',').unwrap();
            (id.to_string(), f.to_string())
        })
        .collect();
    let comps = std::fs::read_to_string(data("compositions.csv")).unwrap();
    let targets = std::fs::read_to_string(data("targets.csv")).unwrap();
    let gap: std::collections::HashMap<&str, &str> = targets
        .lines()
        .skip(1)
        .map(|l| {
            let mut c = l.split(',');
            (c.next().unwrap(), c.next().unwrap())
        })
        .collect();
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut members: std::collections::HashMap<String, Vec<f64>> = std::collections::HashMap::new();
    for line in comps.lines().skip(1) {
        let (id, comp) = line.split_once(',').unwrap();
        let f = &fold[id];
        let first = seen.entry(comp.to_string()).or_insert_with(|| f.clone());
        assert_eq!(first, f, "composition {comp} split over folds");
        members
            .entry(comp.to_string())
            .or_default()
            .push(gap[id].parse().unwrap());
    }
    // Isomer pairs of the whole data set whose gaps differ.
    let mut pairs_all = 0u64;
    for g in members.values() {
        for (a, x) in g.iter().enumerate() {
            pairs_all += g[a + 1..].iter().filter(|y| *y != x).count() as u64;
        }
    }
    let gap_geom = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["representation"] == "geom" && x["layer"] == "l_last")
        .unwrap()
        .clone();
    let pairs = gap_geom["isomer_pairs"].as_u64().unwrap();
    assert_eq!(pairs, pairs_all, "every isomer pair is scored");
    let ungrouped_args = args(false, "plain");
    let u = run(
        d,
        &ungrouped_args
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let plain_pairs = u["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["representation"] == "geom" && x["layer"] == "l_last")
        .unwrap()["isomer_pairs"]
        .as_u64()
        .unwrap();
    assert!(plain_pairs < pairs / 3, "{plain_pairs} of {pairs}");
    // A folds file and grouping together are refused.
    let mut bad = grouped_args.clone();
    bad.extend(["--folds-file".into(), s(&d.join("grouped/folds.csv"))]);
    let o = cpd(d, &bad.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("group_folds"), "{:?}", text(&o));
}
