//! `cpd check` as a CI gate, through the binary: interval mode on real runs
//! (a change of seed passes, a layer diluted by noise fails), the
//! manifest's `[[checks]]` on a real run, the output formats (a golden
//! GitHub rendering and step summary), and the worked CI example of
//! docs/ci.md, run as its YAML files run it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::Array2;
use ndarray_npy::{NpzReader, NpzWriter};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::util::{assert_input_error, cpd, data, root, s, small, tempdir, text, write};

/// A ridge run of SevenNet-0 (both layers) on the gap and the dipole,
/// embeddings from `emb`, folds from `seed`; returns its report.json
/// (relative to `dir`).
fn analyze(dir: &Path, out: &str, emb: &Path, seed: u64) -> String {
    let o = cpd(
        dir,
        &[
            "analyze",
            "--embeddings",
            &format!("sevennet0={}", s(emb)),
            "--compositions",
            &s(&data("compositions.csv")),
            "--targets",
            &s(&data("targets.csv")),
            "--target",
            "gap_ev,dipole_debye",
            "--probes",
            "ridge",
            "--seed",
            &seed.to_string(),
            "--out",
            out,
            "-q",
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    format!("{out}/report.json")
}

/// The bundled SevenNet-0 file with uniform noise in `[-amplitude,
/// amplitude]` (seeded) added to every value of its last layer `l_last`;
/// `ids` and `l_prev` as they are.
fn diluted(dir: &Path, amplitude: f64) -> PathBuf {
    let mut z = NpzReader::new(File::open(data("embeddings/sevennet0.npz")).unwrap()).unwrap();
    let ids: ndarray::Array1<i64> = z.by_name("ids").unwrap();
    let prev: Array2<f32> = z.by_name("l_prev").unwrap();
    let mut last: Array2<f32> = z.by_name("l_last").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    last.mapv_inplace(|v| (v as f64 + amplitude * rng.random_range(-1.0..1.0)) as f32);
    let path = dir.join("diluted.npz");
    let mut w = NpzWriter::new(File::create(&path).unwrap());
    w.add_array("ids", &ids).unwrap();
    w.add_array("l_prev", &prev).unwrap();
    w.add_array("l_last", &last).unwrap();
    w.finish().unwrap();
    path
}

/// `cpd check ARGS --format json`: exit code and the parsed output.
fn check_json(dir: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let o = cpd(dir, &all);
    let (stdout, stderr) = text(&o);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (o.status.code(), v)
}

/// The record `key` ends with `suffix` (`l_last/-/gap_ev/geom/ridge`).
fn record<'a>(v: &'a Value, suffix: &str) -> &'a Value {
    v["comparison"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no record {suffix}"))
}

fn status_of(v: &Value) -> Vec<(String, String)> {
    v["comparison"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn interval_mode_passes_a_change_of_seed_and_fails_a_diluted_layer() {
    let dir = tempdir();
    let d = dir.path();
    let emb = data("embeddings/sevennet0.npz");
    let base = analyze(d, "seed0", &emb, 0);
    let seed2 = analyze(d, "seed2", &emb, 2);
    let noisy = analyze(d, "noisy", &diluted(d, 0.1), 0);

    // Seed 0 against seed 2: every new r2_mean lies in its baseline
    // interval, so interval mode passes...
    let (code, v) = check_json(
        d,
        &[
            "--baseline",
            &base,
            "--report",
            &seed2,
            "--mode",
            "interval",
        ],
    );
    assert_eq!(code, Some(0), "{v:#}");
    let records = v["comparison"]["records"].as_array().unwrap();
    assert_eq!(records.len(), 12);
    for r in records {
        assert_eq!(r["rule"], "interval", "{r}");
        let [lo, hi] = [0, 1].map(|i| r["baseline_ci"][i].as_f64().unwrap());
        let new = r["new"].as_f64().unwrap();
        assert!(lo <= new && new <= hi, "{r}");
        assert!(hi - lo > 0.02, "the interval is wider than --tol here: {r}");
    }
    // ... where one tolerance of 0.02 fails the same pair: fold
    // assignment alone moves the residual records of the dipole.
    let (code, v) = check_json(d, &["--baseline", &base, "--report", &seed2]);
    assert_eq!(code, Some(1), "{v:#}");
    let moved = record(&v, "l_prev/-/dipole_debye/geom/ridge");
    assert_eq!(moved["status"], "moved");
    assert!(moved["delta"].as_f64().unwrap().abs() > 0.02, "{moved}");
    for r in v["comparison"]["records"].as_array().unwrap() {
        let d = r["delta"].as_f64().unwrap().abs();
        assert_eq!(r["status"] == "moved", d > 0.02, "{r}");
    }

    // The last layer diluted by noise: its raw and residual records fall
    // below their intervals; composition and the untouched l_prev do not
    // move at all.
    let (code, v) = check_json(
        d,
        &[
            "--baseline",
            &base,
            "--report",
            &noisy,
            "--mode",
            "interval",
        ],
    );
    assert_eq!(code, Some(1), "{v:#}");
    let moved: Vec<String> = status_of(&v)
        .into_iter()
        .filter(|(_, st)| st == "moved")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        moved,
        [
            "sevennet0/l_last/-/gap_ev/raw/ridge",
            "sevennet0/l_last/-/gap_ev/geom/ridge",
            "sevennet0/l_last/-/dipole_debye/raw/ridge",
            "sevennet0/l_last/-/dipole_debye/geom/ridge",
        ]
    );
    for key in moved {
        let r = record(&v, &key);
        let lo = r["baseline_ci"][0].as_f64().unwrap();
        assert!(r["new"].as_f64().unwrap() < lo, "{r}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains("outside the baseline's interval: baseline"),
            "{r}"
        );
    }
    for r in v["comparison"]["records"].as_array().unwrap() {
        if r["status"] == "ok" {
            assert_eq!(r["delta"].as_f64(), Some(0.0), "{r}");
        }
    }
    // The text names both intervals and the rule of a failed record.
    let o = cpd(
        d,
        &[
            "check",
            "--baseline",
            &base,
            "--report",
            &noisy,
            "--mode",
            "interval",
        ],
    );
    let out = text(&o).0;
    let line = out
        .lines()
        .find(|l| l.contains("l_last/-/gap_ev/geom/ridge"))
        .expect(&out);
    let r = record(&v, "l_last/-/gap_ev/geom/ridge");
    let ci = |c: &Value| {
        format!(
            "[{:.4}, {:.4}]",
            c[0].as_f64().unwrap(),
            c[1].as_f64().unwrap()
        )
    };
    for needle in [
        "MOVED".to_string(),
        format!("{:.4}", r["baseline"].as_f64().unwrap()),
        ci(&r["baseline_ci"]),
        format!("{:.4}", r["new"].as_f64().unwrap()),
        ci(&r["new_ci"]),
        "outside the baseline's interval".into(),
    ] {
        assert!(line.contains(&needle), "{needle} not in {line}");
    }
    assert!(
        out.contains("check FAILED: 8 within the baseline's interval, 4 moved, 0 missing, 0 new"),
        "{out}"
    );
}

#[test]
fn interval_mode_without_intervals_is_an_input_error_and_tol_mode_says_intervals_exist() {
    let dir = tempdir();
    let d = dir.path();
    let (comp, targ, emb) = small(d);
    let run = |out: &str, bootstrap: &str| {
        let o = cpd(
            d,
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
                "--bootstrap",
                bootstrap,
                "--out",
                out,
                "-q",
            ],
        );
        assert!(o.status.success(), "{:?}", text(&o));
        format!("{out}/report.json")
    };
    let bare = run("bare", "0");
    let with = run("with", "50");
    let o = cpd(
        d,
        &[
            "check",
            "--baseline",
            &bare,
            "--report",
            &with,
            "--mode",
            "interval",
        ],
    );
    assert_input_error(
        &o,
        &[
            "bare/report.json: --mode interval needs the baseline's 95 % intervals",
            "--bootstrap N",
        ],
    );
    let o = cpd(
        d,
        &[
            "check",
            "--baseline",
            &with,
            "--report",
            &with,
            "--mode",
            "interval",
            "--metric",
            "rmse",
        ],
    );
    assert_input_error(&o, &["--metric rmse needs --mode tol"]);
    // tol mode on a baseline with intervals: passes, and says so.
    let o = cpd(d, &["check", "--baseline", &with, "--report", &with]);
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("note: the baseline carries 95 % intervals: --mode interval gates each record on its own noise"),
        "{out}"
    );
    let o = cpd(d, &["check", "--baseline", &bare, "--report", &with]);
    assert!(
        !text(&o).0.contains("carries 95 % intervals"),
        "{:?}",
        text(&o)
    );
}

/// A manifest around the bundled data with `checks` appended.
fn manifest(dir: &Path, checks: &str) -> String {
    s(&write(
        dir,
        "run.toml",
        &format!(
            "[dataset]\ncompositions = \"{}\"\ntargets = \"{}\"\n\n[[models]]\nname = \"sevennet0\"\nfile = \"{}\"\nlayers = [\"l_last\"]\n\n{checks}",
            s(&data("compositions.csv")),
            s(&data("targets.csv")),
            s(&data("embeddings/sevennet0.npz")),
        ),
    ))
}

#[test]
fn manifest_checks_gate_a_real_run() {
    let dir = tempdir();
    let d = dir.path();
    let m = manifest(
        d,
        r#"
[[checks]]
name = "residual reads the gap"
target = "gap_ev"
representation = "geom"
probe = "ridge"
min = 0.25
max = 0.3

[[checks]]
name = "ridge does not read mass back"
probe = "ridge"
target = "ctrl_mass"
inflation = false
geom_inflation = false

[[checks]]
name = "ridge reads a random control"
probe = "ridge"
target = "ctrl_random_3"
geom_inflation = true
"#,
    );
    let o = cpd(
        d,
        &[
            "analyze",
            "--manifest",
            &m,
            "--target",
            "gap_ev",
            "--controls",
            "--out",
            "out",
            "-q",
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/report.json")).unwrap()).unwrap();
    let geom = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"] == "gap_ev" && r["representation"] == "geom")
        .unwrap()["r2_mean"]
        .as_f64()
        .unwrap();
    assert!(geom > 0.3, "the test needs max = 0.3 to fail: {geom}");
    let (code, v) = check_json(d, &["--report", "out/report.json", "--manifest", &m]);
    assert_eq!(code, Some(1), "{v:#}");
    assert!(v["comparison"].is_null());
    let got: Vec<(&str, &str, &str, bool)> = v["assertions"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["check"].as_str().unwrap(),
                a["subject"].as_str().unwrap(),
                a["rule"].as_str().unwrap(),
                a["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "residual reads the gap",
                "sevennet0/l_last/-/gap_ev/geom/ridge",
                "r2_mean ≥ 0.25",
                true
            ),
            (
                "residual reads the gap",
                "sevennet0/l_last/-/gap_ev/geom/ridge",
                "r2_mean ≤ 0.3",
                false
            ),
            (
                "ridge does not read mass back",
                "sevennet0/l_last/-/ctrl_mass/geom/ridge",
                "inflated = false",
                true
            ),
            (
                "ridge does not read mass back",
                "sevennet0/l_last/-/ctrl_mass/geom/ridge",
                "geom_inflated = false",
                true
            ),
            (
                "ridge reads a random control",
                "sevennet0/l_last/-/ctrl_random_3/geom/ridge",
                "geom_inflated = true",
                true
            ),
        ]
    );
    assert_eq!(v["assertions"]["results"][1]["value"].as_f64(), Some(geom));
    // Text: the failed assertion only, and the summary.
    let o = cpd(
        d,
        &["check", "--report", "out/report.json", "--manifest", &m],
    );
    let out = text(&o).0;
    assert_eq!(o.status.code(), Some(1));
    let line = out.lines().find(|l| l.starts_with("FAILED")).expect(&out);
    assert!(
        line.contains("r2_mean ≤ 0.3") && line.contains(&format!("{geom:.4}")),
        "{line}"
    );
    assert!(
        out.contains("assertions FAILED: 4 held, 1 failed (3 checks of"),
        "{out}"
    );
    // With the report as its own baseline too: the comparison passes, the
    // assertion still fails the gate.
    let (code, v) = check_json(
        d,
        &[
            "--report",
            "out/report.json",
            "--baseline",
            "out/report.json",
            "--mode",
            "interval",
            "--manifest",
            &m,
        ],
    );
    assert_eq!(code, Some(1));
    assert_eq!(v["comparison"]["passed"], true);
    assert_eq!(v["assertions"]["passed"], false);
}

#[test]
fn a_check_that_matches_nothing_is_an_input_error() {
    let dir = tempdir();
    let d = dir.path();
    let m = manifest(
        d,
        "[[checks]]\nname = \"last layer\"\nmodel = \"sevennet0\"\nlayer = \"l_lst\"\nmin = 0.3\n",
    );
    let report = analyze(d, "out", &data("embeddings/sevennet0.npz"), 0);
    let o = cpd(d, &["check", "--report", &report, "--manifest", &m]);
    assert_input_error(
        &o,
        &[
            "run.toml: [[checks]] 'last layer' (model = \"sevennet0\", layer = \"l_lst\") matches nothing in out/report.json: no record with layer = \"l_lst\" (the records selected so far have layer \"l_prev\", \"l_last\")",
        ],
    );
    assert!(text(&o).0.is_empty(), "nothing printed: {:?}", text(&o));
    // A gap asked of a ridge-only run: the section is empty.
    let m = manifest(d, "[[checks]]\nmax_gap = 0.1\n");
    let o = cpd(d, &["check", "--report", &report, "--manifest", &m]);
    assert_input_error(
        &o,
        &["[[checks]] 'checks[0]' (every record) matches nothing in out/report.json: the report has no gaps (gaps need the ridge and the mlp probe)"],
    );
    // A manifest without checks, a misspelt key, neither --baseline nor
    // --manifest, --tol without a baseline.
    let m = manifest(d, "");
    let o = cpd(d, &["check", "--report", &report, "--manifest", &m]);
    assert_input_error(&o, &["run.toml: no [[checks]] tables: nothing to assert"]);
    let m = manifest(d, "[[checks]]\nmin = 0.3\nlayr = \"x\"\n");
    let o = cpd(d, &["check", "--report", &report, "--manifest", &m]);
    assert_input_error(&o, &["unknown field `layr`"]);
    let o = cpd(d, &["check", "--report", &report]);
    assert_input_error(&o, &["--baseline <FILE>|--manifest <FILE>"]);
    let m = manifest(d, "[[checks]]\nmin = 0.3\n");
    let o = cpd(
        d,
        &[
            "check",
            "--report",
            &report,
            "--manifest",
            &m,
            "--tol",
            "0.1",
        ],
    );
    assert_input_error(&o, &["--baseline <FILE>"]);
}

#[test]
fn output_files_are_written_whole_and_a_bad_path_is_an_input_error() {
    let dir = tempdir();
    let d = dir.path();
    let fx = root().join("tests/fixtures/check");
    let args = |out: &str| {
        vec![
            "check".to_string(),
            "--baseline".into(),
            s(&fx.join("base.json")),
            "--report".into(),
            s(&fx.join("new.json")),
            "--manifest".into(),
            s(&fx.join("run.toml")),
            "--mode".into(),
            "interval".into(),
            "--format".into(),
            "junit".into(),
            "--output".into(),
            out.into(),
        ]
    };
    let a = args("check.xml");
    let o = cpd(d, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    // The text goes to stdout, the XML to the file, nothing else is left.
    assert!(text(&o).0.starts_with("status   record"), "{:?}", text(&o));
    let xml = std::fs::read_to_string(d.join("check.xml")).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cpd check\" tests=\"10\" failures=\"6\" errors=\"0\" skipped=\"1\">"), "{xml}");
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["check.xml".to_string()]);
    let a = args("no/such/dir/check.xml");
    let o = cpd(d, &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_input_error(&o, &["no/such/dir/check.xml"]);
}

/// Compare `got` with the committed file `rel`; `CPD_BLESS=1` rewrites it.
fn golden(rel: &str, got: &str) {
    let path = root().join(rel);
    if std::env::var_os("CPD_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == got,
        "{rel} differs from the output (rewrite it with CPD_BLESS=1 cargo test --test integration check::); got:\n{got}"
    );
}

#[test]
fn github_format_matches_its_golden_output() {
    let dir = tempdir();
    let summary = write(dir.path(), "summary.md", "an earlier step's summary\n");
    let fx = root().join("tests/fixtures/check");
    let o = Command::new(env!("CARGO_BIN_EXE_cpd"))
        .args([
            "check",
            "--baseline",
            "base.json",
            "--report",
            "new.json",
            "--manifest",
            "run.toml",
            "--mode",
            "interval",
            "--format",
            "github",
        ])
        .current_dir(&fx)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    golden("tests/fixtures/check/github.out", &stdout);
    // The table is appended: the earlier step's text stays first.
    let md = std::fs::read_to_string(&summary).unwrap();
    let rest = md
        .strip_prefix("an earlier step's summary\n")
        .unwrap_or_else(|| panic!("{md}"));
    golden("tests/fixtures/check/github_summary.md", rest);
    // Without the variable, no summary and the same stdout.
    let o = Command::new(env!("CARGO_BIN_EXE_cpd"))
        .args([
            "check",
            "--baseline",
            "base.json",
            "--report",
            "new.json",
            "--manifest",
            "run.toml",
            "--mode",
            "interval",
            "--format",
            "github",
        ])
        .current_dir(&fx)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(text(&o).0, stdout);
}

/// The shell commands a CI file runs, in order: the value of every `run:`
/// key (GitHub Actions) and every item of a `script:` list (GitLab CI). The
/// example files keep each command on one line; a block scalar is refused.
fn commands(yaml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut script: Option<usize> = None;
    for line in yaml.lines() {
        let body = line.trim_start();
        let indent = line.len() - body.len();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        if let Some(at) = script {
            match body.strip_prefix("- ") {
                Some(cmd) if indent >= at => {
                    out.push(cmd.trim().to_string());
                    continue;
                }
                _ => script = None,
            }
        }
        let body = body.strip_prefix("- ").unwrap_or(body);
        if let Some(cmd) = body.strip_prefix("run:") {
            let cmd = cmd.trim();
            assert!(
                !cmd.is_empty() && !cmd.starts_with(['|', '>']),
                "a run: step on several lines: {line}"
            );
            out.push(cmd.to_string());
        } else if body == "script:" {
            script = Some(indent);
        }
    }
    out
}

/// Run the commands of a CI file (docs/ci/NAME) as its job would, in a
/// fresh directory that holds the repository's `docs` and `data`: the first
/// one installs cpd (`cargo install`) and is left out, the test build's
/// cpd first on PATH instead.
fn run_ci_file(name: &str, env: &[(&str, &Path)]) -> (PathBuf, tempfile::TempDir) {
    let yaml = std::fs::read_to_string(root().join("docs/ci").join(name)).unwrap();
    let cmds = commands(&yaml);
    assert_eq!(cmds.len(), 3, "{cmds:?}");
    assert_eq!(cmds[0], "cargo install --locked --path .");
    assert!(cmds[1].starts_with("cpd analyze ") && cmds[2].starts_with("cpd check "));
    let dir = tempdir();
    for link in ["docs", "data"] {
        std::os::unix::fs::symlink(root().join(link), dir.path().join(link)).unwrap();
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_cpd")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for cmd in &cmds[1..] {
        let mut c = Command::new("sh");
        c.args(["-c", cmd])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("RAYON_NUM_THREADS", "2")
            .env_remove("GITHUB_STEP_SUMMARY");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let (stdout, stderr) = text(&o);
        assert!(
            o.status.success(),
            "{name}: `{cmd}` failed:\n{stdout}\n{stderr}"
        );
    }
    (dir.path().to_path_buf(), dir)
}

#[test]
fn the_ci_examples_run_and_pass_on_the_bundled_data() {
    // GitHub Actions: the gate passes, with no ::error line, and the step
    // summary says so.
    let out = tempdir();
    let summary = out.path().join("summary.md");
    let (dir, _keep) = run_ci_file("github-actions.yml", &[("GITHUB_STEP_SUMMARY", &summary)]);
    assert!(dir.join("ci-report/report.json").is_file());
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("### cpd check passed: ci-report/report.json\n"),
        "{md}"
    );
    assert!(
        md.contains("check passed: 6 within the baseline's interval, 0 moved, 0 missing, 0 new"),
        "{md}"
    );
    assert!(
        md.contains("assertions passed: 4 held, 0 failed (3 checks of docs/ci/run.toml"),
        "{md}"
    );
    // GitLab CI: the JUnit file its artifacts:reports:junit names.
    let (dir, _keep) = run_ci_file("gitlab-ci.yml", &[]);
    let xml = std::fs::read_to_string(dir.join("cpd-check.xml")).unwrap();
    assert!(
        xml.contains("<testsuites name=\"cpd check\" tests=\"10\" failures=\"0\" errors=\"0\" skipped=\"0\">"),
        "{xml}"
    );
    let yaml = std::fs::read_to_string(root().join("docs/ci/gitlab-ci.yml")).unwrap();
    assert!(yaml.contains("      junit: cpd-check.xml"), "{yaml}");
}

#[test]
fn the_ci_page_shows_the_ci_files_as_they_are() {
    let page = std::fs::read_to_string(root().join("docs/ci.md")).unwrap();
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let file = std::fs::read_to_string(root().join("docs/ci").join(name)).unwrap();
        assert!(
            page.contains(&format!("```yaml\n{file}```\n")),
            "docs/ci.md does not show docs/ci/{name} as it is"
        );
    }
}
