//! Driving the binary: the demo, outputs, and every input error path
//! (exit code 2, a message naming the file and what is wrong, no panic).

use crate::util::{cpd, cpd_threads, data, s, small, tempdir, text};

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
    for f in [
        "report.json",
        "results.csv",
        "report.md",
        "folds.csv",
        "report.html",
        "r2_gap_ev_ridge.svg",
        "r2_mass_amu_ridge.svg",
    ] {
        assert!(dir.path().join("reports").join(f).is_file(), "{f}");
    }
    assert!(
        stderr.contains("reports/report.html") && stderr.contains("reports/r2_gap_ev_ridge.svg"),
        "{stderr}"
    );
    // The page inlines both figures and shows every model/layer.
    let html = std::fs::read_to_string(dir.path().join("reports/report.html")).unwrap();
    assert_eq!(html.matches("<svg ").count(), 2);
    assert!(html.contains("ani2x/aev") && html.contains("sevennet0/l_last"));
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
fn results_do_not_depend_on_the_thread_count() {
    let dir = tempdir();
    let mut args: Vec<String> = vec!["analyze".into()];
    for m in ["chgnet", "sevennet0"] {
        args.push("--embeddings".into());
        args.push(format!("{m}={}", s(&data(&format!("embeddings/{m}.npz")))));
    }
    args.extend([
        "--compositions".into(),
        s(&data("compositions.csv")),
        "--targets".into(),
        s(&data("targets.csv")),
    ]);
    for (threads, out) in [(1, "t1"), (2, "t2")] {
        let mut a = args.clone();
        a.extend(["--out".into(), out.into()]);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = cpd_threads(dir.path(), &refs, threads);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let load = |o: &str| report_without_timing(dir.path(), o);
    assert_eq!(load("t1"), load("t2"));
    for f in ["results.csv", "folds.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join("t1").join(f)).unwrap(),
            std::fs::read(dir.path().join("t2").join(f)).unwrap(),
            "{f}"
        );
    }
    let threads_flag = cpd(
        dir.path(),
        &[
            args.iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            &["--threads", "1", "--out", "t3"],
        ]
        .concat(),
    );
    assert!(threads_flag.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("t1/results.csv")).unwrap(),
        std::fs::read(dir.path().join("t3/results.csv")).unwrap()
    );
}

/// Killing a run (SIGKILL or SIGINT) at any point leaves the previous report
/// files byte-identical: outputs are written to temporary files and renamed.
#[test]
fn interrupted_run_leaves_the_previous_report_intact() {
    let dir = tempdir();
    let d = dir.path();
    let mut args: Vec<String> = vec!["analyze".into()];
    for m in ["ani2x", "chgnet", "sevennet0"] {
        args.push("--embeddings".into());
        args.push(format!("{m}={}", s(&data(&format!("embeddings/{m}.npz")))));
    }
    for (flag, v) in [
        ("--compositions", "compositions.csv"),
        ("--targets", "targets.csv"),
    ] {
        args.push(flag.into());
        args.push(s(&data(v)));
    }
    args.extend(["--out".into(), "out".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = cpd(d, &refs);
    assert!(first.status.success(), "{:?}", text(&first));
    let names = [
        "report.json",
        "results.csv",
        "report.md",
        "folds.csv",
        "report.html",
        "r2_gap_ev_ridge.svg",
    ];
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(d.join("out").join(n)).unwrap())
        .collect();

    let mut interrupted = 0;
    for (i, delay_ms) in [30u64, 150, 400, 800, 1500].into_iter().enumerate() {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cpd"))
            .args(&refs)
            .args(["--seed", "7", "-q"])
            .current_dir(d)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_some() {
            continue; // finished before we could interrupt it
        }
        if i % 2 == 0 {
            child.kill().unwrap();
        } else {
            std::process::Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
        }
        let status = child.wait().unwrap();
        if status.success() {
            continue; // completed between the check and the signal
        }
        interrupted += 1;
        for (n, b) in names.iter().zip(&before) {
            assert_eq!(
                &std::fs::read(d.join("out").join(n)).unwrap(),
                b,
                "{n} changed after an interrupt at {delay_ms} ms"
            );
        }
    }
    assert!(interrupted >= 2, "only {interrupted} runs were interrupted");
}

/// `DIR/out/report.json` without its `timing` section (the only part
/// that may differ between identical runs).
fn report_without_timing(dir: &std::path::Path, out: &str) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(out).join("report.json")).unwrap())
            .unwrap();
    v.as_object_mut().unwrap().remove("timing");
    v
}

/// A manifest over one bundled layer and two targets, for the MLP tests
/// (small enough for the dev profile).
fn mlp_manifest(dir: &std::path::Path) -> String {
    let m = format!(
        "[dataset]\ncompositions = \"{}\"\ntargets = \"{}\"\n\
         [settings]\nprobes = [\"ridge\", \"mlp\"]\ntargets = [\"homo_ev\", \"dipole_debye\"]\n\
         [[models]]\nname = \"chgnet\"\nfile = \"{}\"\nlayers = [\"conv1\"]\n",
        s(&data("compositions.csv")),
        s(&data("targets.csv")),
        s(&data("embeddings/chgnet.npz")),
    );
    s(&crate::util::write(dir, "mlp.toml", &m))
}

#[test]
fn mlp_results_do_not_depend_on_the_thread_count() {
    let dir = tempdir();
    let manifest = mlp_manifest(dir.path());
    for (threads, out) in [(1, "t1"), (2, "t2")] {
        let o = cpd_threads(
            dir.path(),
            &["analyze", "--manifest", &manifest, "--out", out, "--quiet"],
            threads,
        );
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let load = |o: &str| report_without_timing(dir.path(), o);
    let (a, b) = (load("t1"), load("t2"));
    let mlp: Vec<&serde_json::Value> = a["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["probe"] == "mlp")
        .collect();
    // 2 targets × 3 representations, real numbers (not all equal, not null).
    assert_eq!(mlp.len(), 6);
    assert!(mlp.iter().all(|r| r["r2_mean"].as_f64().is_some()));
    assert_eq!(a, b);
    for f in ["results.csv", "gaps.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join("t1").join(f)).unwrap(),
            std::fs::read(dir.path().join("t2").join(f)).unwrap(),
            "{f}"
        );
    }
    // The gap section: one entry per target, gap = mlp − ridge on geom.
    let gaps = a["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 2);
    for g in gaps {
        let (l, m) = (
            g["r2_geom_ridge"].as_f64().unwrap(),
            g["r2_geom_mlp"].as_f64().unwrap(),
        );
        assert!((g["gap"].as_f64().unwrap() - (m - l)).abs() < 1e-12);
        assert!((g["disentanglement"].as_f64().unwrap() - (l - (m - l).abs())).abs() < 1e-12);
    }
    let md = std::fs::read_to_string(dir.path().join("t1/report.md")).unwrap();
    assert!(md.contains("Linear–nonlinear gap"));
    // Another seed gives other networks (and other folds).
    let o = cpd_threads(
        dir.path(),
        &[
            "analyze",
            "--manifest",
            &manifest,
            "--seed",
            "3",
            "--out",
            "t3",
            "--quiet",
        ],
        2,
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert_ne!(load("t3")["results"], a["results"]);
}

#[test]
fn bad_mlp_flags_are_clear_errors() {
    let dir = tempdir();
    let manifest = mlp_manifest(dir.path());
    for (flag, value, want) in [
        ("--mlp-hidden", "0", "--mlp-hidden must be at least 1"),
        ("--mlp-batch", "0", "--mlp-batch must be at least 1"),
        ("--mlp-lr", "-1", "--mlp-lr must be > 0"),
        ("--mlp-alpha", "nan", "--mlp-alpha must be ≥ 0"),
        (
            "--mlp-max-epochs",
            "0",
            "--mlp-max-epochs must be at least 1",
        ),
        ("--mlp-patience", "0", "--mlp-patience must be at least 1"),
    ] {
        let arg = format!("{flag}={value}");
        let o = cpd(
            dir.path(),
            &["analyze", "--manifest", &manifest, &arg, "--quiet"],
        );
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(want) && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn gbt_results_do_not_depend_on_the_thread_count() {
    // Early stopping on, so the seeded validation split is covered too;
    // with 2 threads features, targets and folds run in parallel.
    let dir = tempdir();
    let manifest = mlp_manifest(dir.path());
    let args = |out: &'static str| {
        [
            "analyze",
            "--manifest",
            manifest.as_str(),
            "--probes",
            "gbt",
            "--gbt-rounds",
            "60",
            "--gbt-validation",
            "0.2",
            "--gbt-patience",
            "5",
            "--out",
            out,
            "--quiet",
        ]
    };
    for (threads, out) in [(1, "t1"), (2, "t2")] {
        let o = cpd_threads(dir.path(), &args(out), threads);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let load = |o: &str| report_without_timing(dir.path(), o);
    let (a, b) = (load("t1"), load("t2"));
    let gbt = &a["settings"]["gbt"];
    assert_eq!(gbt["validation"], 0.2);
    assert_eq!(gbt["patience"], 5);
    let r2: Vec<f64> = a["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["r2_mean"].as_f64().unwrap())
        .collect();
    // 2 targets × 3 representations, real and distinct numbers.
    assert_eq!(r2.len(), 6);
    assert!(r2.iter().all(|v| v.is_finite() && *v > 0.0), "{r2:?}");
    assert_eq!(a, b);
    assert_eq!(
        std::fs::read(dir.path().join("t1/results.csv")).unwrap(),
        std::fs::read(dir.path().join("t2/results.csv")).unwrap()
    );
}

#[test]
fn bad_gbt_flags_are_clear_errors() {
    let dir = tempdir();
    let manifest = mlp_manifest(dir.path());
    for (flags, want) in [
        (&["--gbt-rounds=0"][..], "--gbt-rounds must be at least 1"),
        (&["--gbt-lr=0"], "--gbt-lr must be > 0"),
        (&["--gbt-leaves=1"], "--gbt-leaves must be in 2..=65536"),
        (&["--gbt-depth=0"], "--gbt-depth must be at least 1"),
        (&["--gbt-min-leaf=0"], "--gbt-min-leaf must be at least 1"),
        (&["--gbt-l2=-1"], "--gbt-l2 must be ≥ 0"),
        (&["--gbt-bins=256"], "--gbt-bins must be in 2..=255"),
        (
            &["--gbt-validation=1"],
            "--gbt-validation must be in (0, 1)",
        ),
        (
            &["--gbt-validation=0.1", "--gbt-patience=0"],
            "--gbt-patience must be at least 1",
        ),
    ] {
        let mut args = vec![
            "analyze",
            "--manifest",
            &manifest,
            "--probes",
            "gbt",
            "--quiet",
        ];
        args.extend_from_slice(flags);
        let o = cpd(dir.path(), &args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(want) && !err.contains("panicked"), "{err}");
    }
    // --gbt-patience alone is a usage error (it needs --gbt-validation).
    let o = cpd(
        dir.path(),
        &[
            "analyze",
            "--manifest",
            &manifest,
            "--gbt-patience=3",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
}
