//! Driving the binary: the demo, outputs, and every input error path
//! (exit code 2, a message naming the file and what is wrong, no panic).

use std::path::Path;

use crate::util::{cpd, data, tempdir, text, write};

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A tiny valid data set: 12 molecules, counts with geometry-driven targets.
fn small(dir: &Path) -> (String, String, String) {
    let mut comp = String::from("id,H,C,O\n");
    let mut targ = String::from("id,y,m\n");
    let mut emb = String::from("id,e0,e1,e2\n");
    for i in 0..12 {
        let (h, c, o) = (i % 4 + 1, i % 3 + 1, i % 2);
        comp.push_str(&format!("m{i},{h},{c},{o}\n"));
        let g = ((i * 7) % 5) as f64 * 0.3;
        targ.push_str(&format!(
            "m{i},{},{}\n",
            g + 0.1 * h as f64,
            h + 12 * c + 16 * o
        ));
        emb.push_str(&format!(
            "m{i},{},{},{}\n",
            h as f64 + g,
            c as f64 - g * g,
            (i as f64).sin()
        ));
    }
    (
        s(&write(dir, "comp.csv", &comp)),
        s(&write(dir, "targets.csv", &targ)),
        s(&write(dir, "emb.csv", &emb)),
    )
}

/// The file at `path` with the line starting with `prefix` replaced.
fn replace_line(path: &str, prefix: &str, line: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with(prefix) {
                line.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn assert_input_error(out: &std::process::Output, needles: &[&str]) {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "expected '{n}' in: {stderr}");
    }
}

#[test]
fn demo_runs_without_arguments_and_writes_reports() {
    let dir = tempdir();
    // Run from a directory without data/: the crate's own data is used.
    let out = cpd(dir.path(), &["analyze", "--target", "gap_ev,mass_amu"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("2500 structures, 5 folds (seed 0), composition rank 6"),
        "{stdout}"
    );
    assert!(stdout.contains("sevennet0  l_last"), "{stdout}");
    for f in ["report.json", "results.csv", "report.md", "folds.csv"] {
        assert!(dir.path().join("reports").join(f).is_file(), "{f}");
    }
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("reports/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(
        report["composition"]["columns"],
        serde_json::json!(["H", "C", "N", "O", "F"])
    );
    // 8 layers × 2 targets × 3 representations.
    assert_eq!(report["results"].as_array().unwrap().len(), 48);
    let results = std::fs::read_to_string(dir.path().join("reports/results.csv")).unwrap();
    assert_eq!(results.lines().count(), 49);
    // Mass is a linear function of the counts: composition explains it, the residual does not.
    for r in report["results"].as_array().unwrap() {
        if r["target"] == "mass_amu" && r["representation"] == "composition" {
            assert!(r["r2_mean"].as_f64().unwrap() > 0.999_999);
        }
    }
    let folds = std::fs::read_to_string(dir.path().join("reports/folds.csv")).unwrap();
    assert_eq!(folds.lines().count(), 2501);
}

#[test]
fn structures_give_the_same_numbers_as_the_counts_table() {
    let dir = tempdir();
    let emb = format!("s={}", s(&data("embeddings/sevennet0.npz")));
    let targets = s(&data("targets.csv"));
    let a = cpd(
        dir.path(),
        &[
            "analyze",
            "--embeddings",
            &emb,
            "--compositions",
            &s(&data("compositions.csv")),
            "--targets",
            &targets,
            "--target",
            "gap_ev",
            "--out",
            "a",
        ],
    );
    let b = cpd(
        dir.path(),
        &[
            "analyze",
            "--embeddings",
            &emb,
            "--structures",
            &s(&data("structures.xyz")),
            "--targets",
            &targets,
            "--target",
            "gap_ev",
            "--out",
            "b",
        ],
    );
    assert!(
        a.status.success() && b.status.success(),
        "{:?} {:?}",
        text(&a),
        text(&b)
    );
    let ra = std::fs::read_to_string(dir.path().join("a/results.csv")).unwrap();
    let rb = std::fs::read_to_string(dir.path().join("b/results.csv")).unwrap();
    assert_eq!(ra, rb);
}

#[test]
fn folds_file_round_trips_and_fixed_alpha_is_reported() {
    let dir = tempdir();
    let (comp, targ, emb) = small(dir.path());
    let out = cpd(
        dir.path(),
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
            "--alpha",
            "2.5",
            "--out",
            "one",
        ],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let out2 = cpd(
        dir.path(),
        &[
            "analyze",
            "--embeddings",
            &format!("m={emb}"),
            "--compositions",
            &comp,
            "--targets",
            &targ,
            "--folds-file",
            "one/folds.csv",
            "--alpha",
            "2.5",
            "--out",
            "two",
        ],
    );
    assert!(out2.status.success(), "{:?}", text(&out2));
    let a: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("one/report.json")).unwrap())
            .unwrap();
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("two/report.json")).unwrap())
            .unwrap();
    assert_eq!(a["results"], b["results"]);
    assert_eq!(a["results"][0]["alpha"], 2.5);
    assert_eq!(b["settings"]["seed"], serde_json::Value::Null);
}

#[test]
fn input_errors_exit_2_and_name_the_problem() {
    let dir = tempdir();
    let d = dir.path();
    let (comp, targ, emb) = small(d);
    let run = |args: &[&str]| {
        let mut full = vec!["analyze"];
        full.extend_from_slice(args);
        cpd(d, &full)
    };
    let e = format!("m={emb}");

    // Missing file.
    assert_input_error(
        &run(&[
            "--embeddings",
            "m=nope.npy",
            "--compositions",
            &comp,
            "--targets",
            &targ,
        ]),
        &["nope.npy", "no such file"],
    );
    // Row-count mismatch (no ids: must follow the compositions).
    let mut npy = Vec::new();
    npy.extend_from_slice(b"\x93NUMPY\x01\x00");
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }";
    let mut h = header.to_string();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    npy.extend_from_slice(&(h.len() as u16).to_le_bytes());
    npy.extend_from_slice(h.as_bytes());
    for v in 0..6 {
        npy.extend_from_slice(&(v as f64).to_le_bytes());
    }
    std::fs::write(d.join("three.npy"), &npy).unwrap();
    assert_input_error(
        &run(&[
            "--embeddings",
            "m=three.npy",
            "--compositions",
            &comp,
            "--targets",
            &targ,
        ]),
        &["three.npy", "has 3 rows but", "has 12 structures"],
    );
    // Id mismatch.
    let other = std::fs::read_to_string(&emb).unwrap().replace("m5,", "zz,");
    let bad_ids = write(d, "bad_ids.csv", &other).display().to_string();
    assert_input_error(
        &run(&[
            "--embeddings",
            &format!("m={bad_ids}"),
            "--compositions",
            &comp,
            "--targets",
            &targ,
        ]),
        &["bad_ids.csv", "id 'm5'", "missing"],
    );
    // NaN in a target.
    let nan_path = s(&write(
        d,
        "nan.csv",
        &replace_line(&targ, "m3,", "m3,NaN,5"),
    ));
    let out = run(&[
        "--embeddings",
        &e,
        "--compositions",
        &comp,
        "--targets",
        &nan_path,
    ]);
    assert_input_error(&out, &["nan.csv", "row 4", "column 'y'", "not finite"]);
    // Unknown target.
    assert_input_error(
        &run(&[
            "--embeddings",
            &e,
            "--compositions",
            &comp,
            "--targets",
            &targ,
            "--target",
            "gap",
        ]),
        &["targets.csv", "unknown target 'gap'", "y, m"],
    );
    // Fewer rows than folds.
    assert_input_error(
        &run(&[
            "--embeddings",
            &e,
            "--compositions",
            &comp,
            "--targets",
            &targ,
            "--folds",
            "20",
        ]),
        &["12 rows are fewer than the 20 folds"],
    );
    // Non-numeric embedding cell.
    let tc = s(&write(
        d,
        "text.csv",
        &replace_line(&emb, "m2,", "m2,abc,1,2"),
    ));
    assert_input_error(
        &run(&[
            "--embeddings",
            &format!("m={tc}"),
            "--compositions",
            &comp,
            "--targets",
            &targ,
        ]),
        &["text.csv", "row 3, column 'e0'", "'abc' is not a number"],
    );
    // Unwritable output directory (a file is in the way).
    write(d, "blocker", "x");
    assert_input_error(
        &run(&[
            "--embeddings",
            &e,
            "--compositions",
            &comp,
            "--targets",
            &targ,
            "--out",
            "blocker/out",
        ]),
        &["blocker"],
    );
    // Missing required arguments.
    assert_input_error(
        &run(&["--embeddings", &e, "--compositions", &comp]),
        &["--targets FILE is required"],
    );
    // Wrong .npy magic.
    std::fs::write(d.join("bad.npy"), b"not an npy file at all").unwrap();
    assert_input_error(
        &run(&[
            "--embeddings",
            "m=bad.npy",
            "--compositions",
            &comp,
            "--targets",
            &targ,
        ]),
        &["bad.npy"],
    );
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let dir = tempdir();
    let emb = format!("s={}", s(&data("embeddings/sevennet0.npz")));
    let args = |threads: &'static str, out: &'static str| {
        vec![
            "analyze".to_string(),
            "--embeddings".into(),
            emb.clone(),
            "--compositions".into(),
            s(&data("compositions.csv")),
            "--targets".into(),
            s(&data("targets.csv")),
            "--threads".into(),
            threads.into(),
            "--out".into(),
            out.into(),
        ]
    };
    for (t, o) in [("1", "t1"), ("2", "t2")] {
        let a = args(t, o);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = cpd(dir.path(), &refs);
        assert!(out.status.success(), "{:?}", text(&out));
    }
    let load = |o: &str| {
        let mut v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(o).join("report.json")).unwrap(),
        )
        .unwrap();
        v.as_object_mut().unwrap().remove("timing");
        v
    };
    assert_eq!(load("t1"), load("t2"));
    assert_eq!(
        std::fs::read(dir.path().join("t1/results.csv")).unwrap(),
        std::fs::read(dir.path().join("t2/results.csv")).unwrap()
    );
}
