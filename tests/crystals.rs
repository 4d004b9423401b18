//! The bundled crystals (`data/crystals.toml`): 1,112 Materials Project
//! crystals in fractions mode, 85 elements, grouped folds. Checked against
//! what the data files say, read here independently of cpd.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::util::{cpd, data, root, s, tempdir, text};

/// A CSV's header and rows (no quoting in the bundled files).
fn csv(rel: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let t = std::fs::read_to_string(data(rel)).unwrap();
    let mut lines = t.lines();
    let head = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (head, rows)
}

/// The ridge run of the crystal manifest (report.json, folds by id).
fn run() -> (Value, HashMap<String, usize>) {
    let dir = tempdir();
    let out = dir.path().join("out");
    let manifest = data("crystals.toml");
    let o = cpd(
        &root(),
        &[
            "analyze",
            "--manifest",
            &s(&manifest),
            "--probes",
            "ridge",
            "--bootstrap",
            "200",
            "--out",
            &s(&out),
            "--quiet",
        ],
    );
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let folds = std::fs::read_to_string(out.join("folds.csv")).unwrap();
    let folds = folds
        .lines()
        .skip(1)
        .map(|l| {
            let (id, f) = l.split_once(',').unwrap();
            (id.to_string(), f.parse().unwrap())
        })
        .collect();
    (report, folds)
}

#[test]
fn crystals_in_fractions_mode_keep_polymorphs_together_and_name_rare_elements() {
    let (report, folds) = run();
    let (cols, comp) = csv("crystals/compositions.csv");
    let elements = &cols[1..];
    assert_eq!(elements.len(), 85);
    assert_eq!(comp.len(), 1112);

    // Fractions sum to 1: [1 | F] loses one column, and says which.
    let c = &report["composition"];
    assert_eq!(c["mode"], "fractions");
    assert_eq!(c["rank"], 85);
    assert_eq!(c["dropped"].as_array().unwrap().len(), 1);

    // Polymorphs (the same reduced formula in structures.csv) share a fold.
    let (head, meta) = csv("crystals/structures.csv");
    let group = head.iter().position(|h| h == "polymorph_group").unwrap();
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for r in &meta {
        if !r[group].is_empty() {
            groups.entry(&r[group]).or_default().push(folds[&r[0]]);
        }
    }
    assert_eq!(groups.len(), 18);
    for (g, f) in &groups {
        assert!(
            f.iter().all(|x| *x == f[0]),
            "polymorphs of {g} split: {f:?}"
        );
    }

    // Rare elements: recount, per fold, the training structures that hold
    // each element.
    let k = 5;
    let mut want: Vec<(String, usize, Vec<usize>)> = Vec::new();
    for (j, e) in elements.iter().enumerate() {
        let mut held = vec![0usize; k];
        for r in &comp {
            if r[j + 1] != "0" {
                held[folds[&r[0]]] += 1;
            }
        }
        let total: usize = held.iter().sum();
        let training: Vec<usize> = held.iter().map(|h| total - h).collect();
        let rare: Vec<usize> = (0..k).filter(|&f| training[f] < 5).collect();
        if !rare.is_empty() {
            want.push((e.clone(), *training.iter().min().unwrap(), rare));
        }
    }
    want.sort_by_key(|w| w.1);
    let got: Vec<(String, usize, Vec<usize>)> = c["rare"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["element"].as_str().unwrap().to_string(),
                r["fewest_training"].as_u64().unwrap() as usize,
                r["folds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_u64().unwrap() as usize)
                    .collect(),
            )
        })
        .collect();
    assert!(!got.is_empty());
    assert_eq!(got, want);
    let verdict = report["verdict"].to_string();
    assert!(verdict.contains("Rare elements"), "{verdict}");

    // The mean atomic mass is linear in the fractions: composition alone
    // predicts it, the residual adds nothing to it.
    let results = report["results"].as_array().unwrap();
    fn of<'a>(
        results: &'a [Value],
        target: &'a str,
        rep: &'a str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        results
            .iter()
            .filter(move |r| r["target"] == target && r["representation"] == rep)
    }
    for r in of(results, "ctrl_mean_mass", "composition") {
        assert!(r["r2_mean"].as_f64().unwrap() > 0.998, "{r}");
    }
    for r in of(results, "ctrl_mean_mass", "geom") {
        assert!(r["r2_cond"].as_f64().unwrap().abs() < 1e-3, "{r}");
    }
    // The controls that need atom counts are skipped with that reason.
    let skipped = report["settings"]["skipped"].as_array().unwrap();
    for name in ["ctrl_atoms", "ctrl_mass", "ctrl_atoms_sq"] {
        let s = skipped.iter().find(|s| s["target"] == name).unwrap();
        assert!(s["reason"].as_str().unwrap().contains("needs atom counts"));
    }
    // Polymorph pairs: every pair of one group whose target values differ,
    // read from the files; the accuracy carries its interval.
    let (thead, targets) = csv("crystals/targets.csv");
    let by_id: HashMap<&str, &Vec<String>> = targets.iter().map(|r| (r[0].as_str(), r)).collect();
    for target in ["formation_energy_ev_atom", "band_gap_ev"] {
        let t = thead.iter().position(|h| h == target).unwrap();
        let mut members: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for r in &meta {
            if !r[group].is_empty() {
                let v: f64 = by_id[r[0].as_str()][t].parse().unwrap();
                members.entry(&r[group]).or_default().push(v);
            }
        }
        let pairs: usize = members
            .values()
            .map(|v| {
                (0..v.len())
                    .flat_map(|a| (a + 1..v.len()).map(move |b| (a, b)))
                    .filter(|&(a, b)| v[a] != v[b])
                    .count()
            })
            .sum();
        let records: Vec<&Value> = of(results, target, "geom")
            .filter(|r| r["channels"].is_null())
            .collect();
        assert_eq!(records.len(), 7, "one per whole layer");
        for r in records {
            assert_eq!(r["isomer_pairs"].as_u64().unwrap() as usize, pairs, "{r}");
            let acc = r["isomer_accuracy"].as_f64().unwrap();
            let ci = r["isomer_ci"].as_array().unwrap();
            let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
            assert!((0.0..=1.0).contains(&acc) && lo <= acc && acc <= hi, "{r}");
        }
    }
    // Culprit structures are named by their reduced formula.
    let culprits = report["instability"]["culprits"].as_array().unwrap();
    assert!(
        culprits.iter().all(|c| c["formula"].is_string()),
        "{culprits:?}"
    );
}
