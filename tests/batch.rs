//! Batch runs and CI: manifests, `cpd check`, progress output and
//! `cpd inspect`, driven through the binary.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;

use crate::util::{assert_input_error, cpd, data, npy_bytes, s, small, tempdir, text, write};

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn records(r: &Value) -> Vec<Value> {
    r["results"].as_array().unwrap().clone()
}

fn key(r: &Value) -> String {
    format!(
        "{}/{}/{}/{}/{}",
        r["model"].as_str().unwrap(),
        r["layer"].as_str().unwrap(),
        r["target"].as_str().unwrap(),
        r["representation"].as_str().unwrap(),
        r["probe"].as_str().unwrap()
    )
}

/// The bundled data as a three-model manifest with layer selection.
fn three_model_manifest(dir: &Path) -> std::path::PathBuf {
    write(
        dir,
        "run.toml",
        &format!(
            r#"
[dataset]
compositions = "{comp}"
targets = "{targ}"

[settings]
targets = ["gap_ev", "dipole_debye"]

[[models]]
name = "ani"
file = "{ani}"

[[models]]
name = "chg"
file = "{chg}"
layers = ["conv4", "emb"]

[[models]]
name = "seven"
file = "{sev}"
"#,
            comp = s(&data("compositions.csv")),
            targ = s(&data("targets.csv")),
            ani = s(&data("embeddings/ani2x.npz")),
            chg = s(&data("embeddings/chgnet.npz")),
            sev = s(&data("embeddings/sevennet0.npz")),
        ),
    )
}

#[test]
fn manifest_with_three_models_reports_every_record() {
    let dir = tempdir();
    let manifest = three_model_manifest(dir.path());
    let out = cpd(
        dir.path(),
        &[
            "analyze",
            "--manifest",
            &s(&manifest),
            "--out",
            "out",
            "--probes",
            "ridge",
        ],
    );
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let r = report(&dir.path().join("out/report.json"));
    let got: Vec<String> = records(&r).iter().map(key).collect();
    let mut want = Vec::new();
    for (model, layers) in [
        ("ani", vec!["aev"]),
        ("chg", vec!["conv4", "emb"]),
        ("seven", vec!["l_prev", "l_last"]),
    ] {
        for layer in layers {
            for target in ["gap_ev", "dipole_debye"] {
                for rep in ["composition", "raw", "geom"] {
                    want.push(format!("{model}/{layer}/{target}/{rep}/ridge"));
                }
            }
        }
    }
    // Every record, once, in manifest order (layers in the order asked for).
    assert_eq!(got, want);
    let inputs: Vec<(&str, &str)> = r["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["role"] == "embeddings")
        .map(|i| (i["model"].as_str().unwrap(), i["layer"].as_str().unwrap()))
        .collect();
    assert_eq!(
        inputs,
        vec![
            ("ani", "aev"),
            ("chg", "conv4"),
            ("chg", "emb"),
            ("seven", "l_prev"),
            ("seven", "l_last")
        ]
    );

    // The manifest run gives exactly the numbers of the same model run alone
    // with flags.
    let alone = cpd(
        dir.path(),
        &[
            "analyze",
            "--embeddings",
            &format!("chg={}", s(&data("embeddings/chgnet.npz"))),
            "--compositions",
            &s(&data("compositions.csv")),
            "--targets",
            &s(&data("targets.csv")),
            "--target",
            "gap_ev,dipole_debye",
            "--out",
            "alone",
        ],
    );
    assert!(alone.status.success(), "{}", text(&alone).1);
    let alone = report(&dir.path().join("alone/report.json"));
    let by_key: HashMap<String, Value> = records(&r).into_iter().map(|v| (key(&v), v)).collect();
    let mut compared = 0;
    for rec in records(&alone) {
        if let Some(m) = by_key.get(&key(&rec)) {
            assert_eq!(m["r2_folds"], rec["r2_folds"], "{}", key(&rec));
            assert_eq!(m["alphas"], rec["alphas"], "{}", key(&rec));
            compared += 1;
        }
    }
    assert_eq!(compared, 2 * 2 * 3); // conv4 and emb of chg
}

#[test]
fn the_demo_is_a_manifest() {
    let dir = tempdir();
    let a = cpd(
        dir.path(),
        &[
            "analyze", "--target", "homo_ev", "--probes", "ridge", "--out", "a", "-q",
        ],
    );
    let b = cpd(
        dir.path(),
        &[
            "analyze",
            "--manifest",
            &s(&data("demo.toml")),
            "--target",
            "homo_ev",
            "--probes",
            "ridge",
            "--out",
            "b",
            "-q",
        ],
    );
    assert!(a.status.success() && b.status.success());
    let (a, b) = (
        std::fs::read_to_string(dir.path().join("a/results.csv")).unwrap(),
        std::fs::read_to_string(dir.path().join("b/results.csv")).unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 1 + 8 * 3);
}

#[test]
fn manifest_paths_are_relative_to_the_manifest_and_mistakes_are_named() {
    let dir = tempdir();
    let sub = dir.path().join("study");
    std::fs::create_dir(&sub).unwrap();
    small(&sub);
    let body = "[dataset]\ncompositions = \"comp.csv\"\ntargets = \"targets.csv\"\n\
                [settings]\nfolds = 3\nalpha = 1.0\n\
                [[models]]\nname = \"m\"\nfile = \"emb.csv\"\n";
    let manifest = write(&sub, "run.toml", body);
    // Run from elsewhere: paths resolve against study/.
    let out = cpd(dir.path(), &["analyze", "--manifest", &s(&manifest), "-q"]);
    assert!(out.status.success(), "{}", text(&out).1);

    // CLI flags override the manifest's settings.
    let out = cpd(
        dir.path(),
        &[
            "analyze",
            "--manifest",
            &s(&manifest),
            "--folds",
            "4",
            "--out",
            "o",
            "-q",
        ],
    );
    assert!(out.status.success(), "{}", text(&out).1);
    let r = report(&dir.path().join("o/report.json"));
    assert_eq!(r["settings"]["folds"], 4);
    assert_eq!(r["settings"]["ridge"]["alphas"], serde_json::json!([1.0]));

    let bad = write(&sub, "bad.toml", &body.replace("folds = 3", "fold = 3"));
    let out = cpd(dir.path(), &["analyze", "--manifest", &s(&bad)]);
    assert_input_error(
        &out,
        &[
            "bad.toml",
            "unknown field `fold`, expected one of",
            "line 5",
        ],
    );

    let bad = write(&sub, "layers.toml", &format!("{body}layers = [\"nope\"]\n"));
    let out = cpd(dir.path(), &["analyze", "--manifest", &s(&bad)]);
    assert_input_error(&out, &["emb.csv", "no layer 'nope'", "the file has: emb"]);

    let bad = write(&sub, "missing.toml", &body.replace("emb.csv", "gone.npz"));
    let out = cpd(dir.path(), &["analyze", "--manifest", &s(&bad)]);
    assert_input_error(&out, &["gone.npz"]);

    let out = cpd(
        dir.path(),
        &["analyze", "--manifest", &s(&manifest), "--targets", "x.csv"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("cannot be used with"),
        "{}",
        text(&out).1
    );
}

/// A report of the small data set, and a copy of it edited by `edit`.
fn baseline_pair(dir: &Path, name: &str, edit: impl Fn(&mut Vec<Value>)) -> (String, String) {
    let (comp, targ, emb) = small(dir);
    let out = cpd(
        dir,
        &[
            "analyze",
            "--embeddings",
            &format!("m={emb}"),
            "--compositions",
            &comp,
            "--targets",
            &targ,
            "--folds",
            "3",
            "--out",
            "new",
            "-q",
        ],
    );
    assert!(out.status.success(), "{}", text(&out).1);
    let new = dir.join("new/report.json");
    let mut base = report(&new);
    let mut recs = records(&base);
    edit(&mut recs);
    base["results"] = Value::Array(recs);
    let base_path = write(dir, name, &serde_json::to_string(&base).unwrap());
    (s(&base_path), s(&new))
}

fn run_check(dir: &Path, base: &str, new: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["check", "--baseline", base, "--report", new];
    args.extend_from_slice(extra);
    let out = cpd(dir, &args);
    let (stdout, stderr) = text(&out);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code(), stdout + &stderr)
}

#[test]
fn check_passes_against_its_own_report() {
    let dir = tempdir();
    let (_, new) = baseline_pair(dir.path(), "base.json", |_| {});
    let (code, out) = run_check(dir.path(), &new, &new, &["--tol", "0"]);
    assert_eq!(code, Some(0), "{out}");
    // 2 targets × 3 representations, nothing listed but the summary.
    assert!(
        out.contains("check passed: 6 within tolerance, 0 moved, 0 missing, 0 new"),
        "{out}"
    );
    assert!(!out.contains("MOVED"), "{out}");
}

#[test]
fn check_fails_on_a_moved_record_and_names_it() {
    let dir = tempdir();
    let (base, new) = baseline_pair(dir.path(), "base.json", |recs| {
        let r = &mut recs[2];
        let v = r["r2_mean"].as_f64().unwrap();
        r["r2_mean"] = Value::from(v + 0.05);
    });
    let b = report(Path::new(&base));
    let moved = key(&records(&b)[2]);
    let (code, out) = run_check(dir.path(), &base, &new, &[]);
    assert_eq!(code, Some(1), "{out}");
    let line = out.lines().find(|l| l.starts_with("MOVED")).expect(&out);
    // Key with the channels field: model/layer/-/target/representation/probe.
    let parts: Vec<&str> = moved.split('/').collect();
    let full = format!(
        "{}/{}/-/{}/{}/{}",
        parts[0], parts[1], parts[2], parts[3], parts[4]
    );
    assert!(line.contains(&full), "{line}");
    assert!(line.contains("-0.0500"), "{line}");
    assert!(
        out.contains("check FAILED: 5 within tolerance, 1 moved"),
        "{out}"
    );
    // A wider tolerance, or a per-record one in the baseline, lets it pass.
    let (code, out) = run_check(dir.path(), &base, &new, &["--tol", "0.06"]);
    assert_eq!(code, Some(0), "{out}");
    let (base2, _) = baseline_pair(dir.path(), "base2.json", |recs| {
        let r = &mut recs[2];
        let v = r["r2_mean"].as_f64().unwrap();
        r["r2_mean"] = Value::from(v + 0.05);
        r["tol"] = Value::from(0.06);
    });
    let (code, out) = run_check(dir.path(), &base2, &new, &[]);
    assert_eq!(code, Some(0), "{out}");
    // The same edit on another metric is not seen by r2_pooled.
    let (code, out) = run_check(
        dir.path(),
        &base,
        &new,
        &["--metric", "r2_pooled", "--tol", "0"],
    );
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn check_fails_on_a_missing_record_and_lists_new_ones() {
    let dir = tempdir();
    let (base, new) = baseline_pair(dir.path(), "base.json", |recs| {
        recs[0]["target"] = Value::from("renamed");
    });
    let (code, out) = run_check(dir.path(), &base, &new, &[]);
    assert_eq!(code, Some(1), "{out}");
    let missing = out.lines().find(|l| l.starts_with("MISSING")).expect(&out);
    assert!(missing.contains("m/emb/-/renamed/"), "{missing}");
    let new_line = out.lines().find(|l| l.starts_with("NEW")).expect(&out);
    assert!(new_line.contains("m/emb/-/y/"), "{new_line}");
    // Records only in the new report do not fail the check.
    let (sub, new) = baseline_pair(dir.path(), "sub.json", |recs| recs.truncate(1));
    let (code, out) = run_check(dir.path(), &sub, &new, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("1 within tolerance, 0 moved, 0 missing, 5 new"),
        "{out}"
    );
}

#[test]
fn check_input_errors_exit_2() {
    let dir = tempdir();
    let (base, new) = baseline_pair(dir.path(), "base.json", |_| {});
    let junk = s(&write(dir.path(), "junk.json", "{\"results\": 3}"));
    let out = cpd(
        dir.path(),
        &["check", "--baseline", &junk, "--report", &new],
    );
    assert_input_error(&out, &["junk.json", "not a cpd report"]);
    let out = cpd(
        dir.path(),
        &["check", "--baseline", &base, "--report", "nope.json"],
    );
    assert_input_error(&out, &["nope.json"]);
    let out = cpd(
        dir.path(),
        &[
            "check",
            "--baseline",
            &base,
            "--report",
            &new,
            "--metric",
            "r2",
        ],
    );
    assert_input_error(&out, &["unknown metric 'r2'"]);
    let out = cpd(
        dir.path(),
        &["check", "--baseline", &base, "--report", &new, "--tol=-1"],
    );
    assert_input_error(&out, &["--tol must be"]);
}

#[test]
fn progress_lines_only_when_asked() {
    let dir = tempdir();
    let (comp, targ, emb) = small(dir.path());
    let run = |extra: &[&str]| {
        let mut args = vec![
            "analyze".to_string(),
            "--embeddings".into(),
            format!("m={emb}"),
            "--compositions".into(),
            comp.clone(),
            "--targets".into(),
            targ.clone(),
            "--folds".into(),
            "3".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cpd(dir.path(), &args);
        assert!(out.status.success());
        text(&out)
    };
    // Not a terminal: silent by default.
    let (stdout, stderr) = run(&[]);
    assert!(stdout.contains("R² geom"));
    assert!(!stderr.contains("fits done"), "{stderr}");
    let (_, stderr) = run(&["--progress", "always"]);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("cpd: ")).collect();
    // composition (3 folds) and its baselines, then the layer with raw,
    // geom and geom given composition (9 more fits).
    assert_eq!(
        lines,
        vec![
            "cpd: 0/3 fits done; composition",
            "cpd: 3/3 fits done; composition: baselines of the conditional R²",
            "cpd: 3/3 fits done; m: opening 1 file(s)",
            "cpd: 3/12 fits done; m/emb: projecting (2 passes, in memory)",
            "cpd: 3/12 fits done; m/emb: probing raw, geom and geom given composition, 3 folds (in memory)",
        ]
    );
    let (stdout, stderr) = run(&["--progress", "always", "--quiet"]);
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", ""));
}

#[test]
fn inspect_describes_an_embedding_file() {
    let dir = tempdir();
    // 3 × 2 Fortran-order float64: columns [1, NaN, 3] and [0, 0, 0].
    let vals: [f64; 6] = [1.0, f64::NAN, 3.0, 0.0, 0.0, 0.0];
    let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = dir.path().join("e.npy");
    std::fs::write(&path, npy_bytes("<f8", true, "(3, 2)", &bytes)).unwrap();
    let out = cpd(dir.path(), &["inspect", &s(&path), "--columns"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let row = stdout.lines().find(|l| l.starts_with("e ")).expect(&stdout);
    let fields: Vec<&str> = row.split_whitespace().collect();
    // layer rows cols dtype order NaN Inf constant zero min max
    assert_eq!(
        &fields[..9],
        &["e", "3", "2", "float64", "Fortran", "1", "0", "1", "1"]
    );
    assert!(
        stdout.contains("cpd analyze refuses non-finite"),
        "{stdout}"
    );
    let out = cpd(dir.path(), &["inspect", &s(&path), "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let col0 = &v["layers"][0]["columns"][0];
    assert_eq!(col0["mean"], 2.0);
    assert_eq!(col0["std"], 1.0);
    assert_eq!(col0["nan"], 1);

    // The bundled ANI-2x AEV: 1008 columns, 448 of them all zero, with ids.
    let out = cpd(
        dir.path(),
        &["inspect", &s(&data("embeddings/ani2x.npz")), "--json"],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ids"], 2500);
    let l = &v["layers"][0];
    assert_eq!(
        (l["rows"].as_u64(), l["cols"].as_u64()),
        (Some(2500), Some(1008))
    );
    assert_eq!(l["dtype"], "float32");
    assert_eq!(l["zero_columns"], 448);
    let names: BTreeSet<&str> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["aev"]));

    let out = cpd(dir.path(), &["inspect", "missing.npy"]);
    assert_input_error(&out, &["missing.npy"]);
}
