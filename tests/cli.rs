//! Driving the binary: the demo, outputs, and every input error path
//! (exit code 2, a message naming the file and what is wrong, no panic).

use crate::util::{cpd, cpd_threads, data, s, small, tempdir, text, write};

#[test]
fn demo_runs_without_arguments_and_writes_reports() {
    let dir = tempdir();
    // Run from a directory without data/: the crate's own data is used.
    // Ridge only: the demo's MLP is left to the MLP tests (it is most of the
    // demo's run time).
    let out = cpd(
        dir.path(),
        &[
            "analyze",
            "--target",
            "gap_ev,mass_amu",
            "--probes",
            "ridge",
        ],
    );
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
    // The page opens with the verdict, inlines every figure (R² bars and
    // layer profile per target, isomer accuracy for gap_ev: isomers share
    // their mass) and shows every model/layer.
    let html = std::fs::read_to_string(dir.path().join("reports/report.html")).unwrap();
    assert_eq!(html.matches("<svg ").count(), 5);
    assert!(html.find("Verdict") < html.find("<h2>Run</h2>"));
    assert!(stdout.starts_with("Verdict:\n* Model ranking"), "{stdout}");
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

/// A report directory's files by name (hidden temporary files left out).
type Files = std::collections::BTreeMap<String, Vec<u8>>;

fn report_files(dir: &std::path::Path) -> Files {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// The temporary files a run stages before renaming them into place.
fn partial_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".cpd-partial-")
        })
        .collect()
}

/// A report file with what may differ between two identical runs removed:
/// `report.json`'s `timing` and `report.html`'s time row.
fn without_timing(name: &str, bytes: &[u8]) -> Vec<u8> {
    match name {
        "report.json" => {
            let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            v.as_object_mut().unwrap().remove("timing");
            v.to_string().into_bytes()
        }
        "report.html" => String::from_utf8_lossy(bytes)
            .lines()
            .filter(|l| !l.contains("<th>time</th>"))
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes(),
        _ => bytes.to_vec(),
    }
}

/// What an interrupted run left in its output directory.
#[derive(Debug, PartialEq)]
enum Left {
    /// Every file byte-identical to the previous run's.
    EveryFileOld,
    /// Every file as a complete run with the same arguments writes it.
    EveryFileNew,
    /// Anything else: each file named with what it is.
    Mix(Vec<String>),
}

fn what_is_left(dir: &std::path::Path, old: &Files, new: &Files) -> Left {
    let now = report_files(dir);
    let names: std::collections::BTreeSet<&String> =
        now.keys().chain(old.keys()).chain(new.keys()).collect();
    let state: Vec<(String, &str)> = names
        .into_iter()
        .map(|n| {
            let s = match now.get(n) {
                None => "missing",
                // A file the two runs write alike (layer_stats.csv does not
                // depend on the folds) tells nothing either way.
                Some(b) if old.get(n) == Some(b) && new.get(n) == Some(&without_timing(n, b)) => {
                    "old and new"
                }
                Some(b) if old.get(n) == Some(b) => "old",
                Some(b) if new.get(n) == Some(&without_timing(n, b)) => "new",
                Some(_) => "neither old nor new",
            };
            (n.clone(), s)
        })
        .collect();
    if state.iter().all(|(_, s)| s.starts_with("old")) {
        Left::EveryFileOld
    } else if state.iter().all(|(_, s)| s.ends_with("new")) {
        Left::EveryFileNew
    } else {
        Left::Mix(state.iter().map(|(n, s)| format!("{n}: {s}")).collect())
    }
}

/// A connected socket pair whose first end's send buffer is full: a child
/// given that end as stdout or stderr blocks on its first write to it, for
/// as long as the other end is kept and not read.
#[cfg(unix)]
fn full_socket() -> (
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixStream,
) {
    use std::io::Write;
    let (child_end, ours) = std::os::unix::net::UnixStream::pair().unwrap();
    child_end.set_nonblocking(true).unwrap();
    let chunk = [b'#'; 4096];
    let mut len = chunk.len();
    // Down to single bytes: once even one byte would block, every write does.
    while len > 0 {
        match (&child_end).write(&chunk[..len]) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => len /= 2,
            Err(e) => panic!("filling the socket: {e}"),
        }
    }
    child_end.set_nonblocking(false).unwrap();
    (child_end, ours)
}

/// Killing a run leaves every report file either as the previous run wrote
/// it or as a complete run with the same arguments writes it: never a mix,
/// never a half-written file. cpd writes all files to temporary files first
/// and renames them into place only when all are complete, `report.json`
/// last.
///
/// Where a kill lands must not depend on timing (a run killed after a fixed
/// delay once landed after the last rename, on a fast moment of the
/// machine, and every file was new). So each kill is pinned to a phase by
/// what the child is blocked on, not by when it is sent:
/// - computing: stderr is a socket whose buffer is full and `--progress
///   always` writes a line before any probe runs, so the child cannot reach
///   the writing step; SIGKILL and SIGINT then leave every file old and no
///   temporary file;
/// - staging the temporary files: the file-size limit (`ulimit -f`) is below
///   the size of `report.html` and `report.json`, so the kernel kills the
///   child (SIGXFSZ) in the middle of writing them, after the smaller files
///   are staged: every file old, the staged files left behind;
/// - after the last rename: stdout is the full socket, and cpd writes its
///   table there only after the files are in place and it has said `wrote …`
///   on stderr; SIGKILL then leaves every file new.
///
/// (Between two renames the directory briefly holds a mix, with the old
/// `report.json`; no kill is aimed there.)
#[cfg(unix)]
#[test]
fn interrupted_run_leaves_every_file_old_or_every_file_new() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    let dir = tempdir();
    let d = dir.path();
    let mut base: Vec<String> = vec!["analyze".into()];
    for m in ["chgnet", "sevennet0"] {
        base.push("--embeddings".into());
        base.push(format!("{m}={}", s(&data(&format!("embeddings/{m}.npz")))));
    }
    for (flag, v) in [
        ("--compositions", "compositions.csv"),
        ("--targets", "targets.csv"),
    ] {
        base.push(flag.into());
        base.push(s(&data(v)));
    }
    let with = |extra: &[&str]| -> Vec<String> {
        let mut a = base.clone();
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = cpd(d, &refs);
        assert!(o.status.success(), "{:?}", text(&o));
    };
    // The previous report in out/, and what a complete --seed 7 run writes.
    run(with(&["--out", "out", "-q"]));
    run(with(&["--out", "ref", "--seed", "7", "-q"]));
    let old = report_files(&d.join("out"));
    let new: Files = report_files(&d.join("ref"))
        .into_iter()
        .map(|(n, b)| {
            let b = without_timing(&n, &b);
            (n, b)
        })
        .collect();
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>()
    );
    assert!(old.len() >= 8, "{:?}", old.keys());
    // Layer statistics do not depend on the folds: the same for both seeds.
    for (n, b) in old.iter().filter(|(n, _)| n.as_str() != "layer_stats.csv") {
        assert_ne!(
            &without_timing(n, b),
            &new[n],
            "{n} is the same for both seeds"
        );
    }
    let again = with(&["--out", "out", "--seed", "7"]);
    let spawn = |extra: &[&str], stdout: Stdio, stderr: Stdio| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cpd"));
        cmd.args(&again)
            .args(extra)
            .current_dir(d)
            .env("RAYON_NUM_THREADS", "2")
            .stdout(stdout)
            .stderr(stderr);
        // A test run started with SIGINT ignored (`nohup`, `cmd &` in a
        // shell without job control) hands that on to its children, and the
        // SIGINT below would then never end cpd: the child gets the default.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: signal(2) is async-signal-safe, so it may run between
            // fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::signal(libc::SIGINT, libc::SIG_DFL) == libc::SIG_ERR {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        cmd.spawn().unwrap()
    };

    // Computing: blocked on its first progress line.
    for signal in ["KILL", "INT"] {
        let (child_end, _keep) = full_socket();
        let mut child = spawn(
            &["--progress", "always"],
            Stdio::null(),
            Stdio::from(std::os::fd::OwnedFd::from(child_end)),
        );
        // Not a timing condition: wherever the child is by then (starting,
        // reading its inputs or blocked), it has not reached the writing step.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let sent = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        let want = if signal == "KILL" { 9 } else { 2 };
        assert_eq!(status.signal(), Some(want), "{status:?}");
        assert_eq!(
            what_is_left(&d.join("out"), &old, &new),
            Left::EveryFileOld,
            "SIG{signal} while computing"
        );
        assert_eq!(
            partial_files(&d.join("out")),
            Vec::<std::path::PathBuf>::new()
        );
    }

    // Staging: killed by the file-size limit while writing the larger files.
    let big = new["report.json"].len().min(old["report.html"].len());
    let blocks = big / 512 - 2; // 512-byte blocks (POSIX), well below both
    assert!(
        blocks * 512 > old["folds.csv"].len(),
        "folds.csv is staged first"
    );
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -c 0; ulimit -f "$1"; shift; exec "$@""#)
        .arg("sh")
        .arg(blocks.to_string())
        .arg(env!("CARGO_BIN_EXE_cpd"))
        .args(&again)
        .arg("-q")
        .current_dir(d)
        .env("RAYON_NUM_THREADS", "2")
        .status()
        .unwrap();
    assert!(!status.success(), "the file-size limit stops the run");
    assert_eq!(
        what_is_left(&d.join("out"), &old, &new),
        Left::EveryFileOld,
        "killed while staging ({status:?})"
    );
    let staged = partial_files(&d.join("out"));
    assert!(
        staged
            .iter()
            .any(|p| std::fs::read(p).unwrap() == new["folds.csv"]),
        "folds.csv was staged before the kill: {staged:?}"
    );
    for p in staged {
        std::fs::remove_file(p).unwrap();
    }

    // After the last rename: blocked on the table it prints to stdout.
    let (child_end, _keep) = full_socket();
    let mut child = spawn(
        &[],
        Stdio::from(std::os::fd::OwnedFd::from(child_end)),
        Stdio::piped(),
    );
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("wrote ") {
        line.clear();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "cpd ended before writing its reports");
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert_eq!(
        what_is_left(&d.join("out"), &old, &new),
        Left::EveryFileNew,
        "SIGKILL after the last rename"
    );
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
    // The gap section: one entry per target, gap = mlp − ridge on the
    // conditional R², the paper's gap on R²_geom beside it.
    let gaps = a["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 2);
    let f = |g: &serde_json::Value, k: &str| g[k].as_f64().unwrap();
    for g in gaps {
        let (l, m) = (f(g, "r2_cond_ridge"), f(g, "r2_cond_mlp"));
        assert!((f(g, "gap") - (m - l)).abs() < 1e-12);
        assert!((f(g, "disentanglement") - (l - (m - l).abs())).abs() < 1e-12);
        let (l, m) = (f(g, "r2_geom_ridge"), f(g, "r2_geom_mlp"));
        assert!((f(g, "gap_geom") - (m - l)).abs() < 1e-12);
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
        (
            "--mlp-hidden",
            "0",
            "`mlp.hidden` (--mlp-hidden) must be at least 1",
        ),
        (
            "--mlp-batch",
            "0",
            "`mlp.batch` (--mlp-batch) must be at least 1",
        ),
        (
            "--mlp-lr",
            "-1",
            "`mlp.learning_rate` (--mlp-learning-rate) must be > 0",
        ),
        (
            "--mlp-alpha",
            "nan",
            "`mlp.alpha` (--mlp-alpha) must be a finite number, got nan",
        ),
        ("--mlp-alpha", "-1", "`mlp.alpha` (--mlp-alpha) must be ≥ 0"),
        (
            "--mlp-max-epochs",
            "0",
            "`mlp.max_epochs` (--mlp-max-epochs) must be at least 1",
        ),
        (
            "--mlp-patience",
            "0",
            "`mlp.patience` (--mlp-patience) must be at least 1",
        ),
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
        (
            &["--gbt-rounds=0"][..],
            "`gbt.rounds` (--gbt-rounds) must be at least 1",
        ),
        (
            &["--gbt-lr=0"],
            "`gbt.learning_rate` (--gbt-learning-rate) must be > 0",
        ),
        (
            &["--gbt-leaves=1"],
            "`gbt.max_leaves` (--gbt-max-leaves) must be in 2..=65536",
        ),
        (
            &["--gbt-depth=0"],
            "`gbt.max_depth` (--gbt-max-depth) must be at least 1",
        ),
        (
            &["--gbt-min-leaf=0"],
            "`gbt.min_leaf` (--gbt-min-leaf) must be at least 1",
        ),
        (&["--gbt-l2=-1"], "`gbt.l2` (--gbt-l2) must be ≥ 0"),
        (
            &["--gbt-max-bins=256"],
            "`gbt.max_bins` (--gbt-max-bins) must be in 2..=255",
        ),
        (
            &["--gbt-validation=1"],
            "`gbt.validation` (--gbt-validation) must be in (0, 1)",
        ),
        (
            &["--gbt-validation=0.1", "--gbt-patience=0"],
            "`gbt.patience` (--gbt-patience) must be at least 1",
        ),
        (
            &["--gbt-patience=3"],
            "`gbt.patience` (--gbt-patience) needs `gbt.validation` (--gbt-validation)",
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
}

/// `--print-settings` prints the effective settings (the flags over the
/// defaults); a manifest with them runs the same analysis and prints them
/// back unchanged.
#[test]
fn printed_settings_rerun_the_same_analysis() {
    let dir = tempdir();
    let manifest = mlp_manifest(dir.path());
    let flags = [
        "--probes",
        "ridge,gbt",
        "--folds",
        "3",
        "--seed",
        "4",
        "--target",
        "homo_ev",
        "--gbt-rounds",
        "10",
        "--gbt-leaves",
        "4",
        "--alphas",
        "0.1,1,10",
        "--bootstrap",
        "50",
        "--scale",
        "standard",
    ];
    let run = |extra: &[&str]| {
        let mut args = vec!["analyze", "--manifest", &manifest, "-q"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(extra);
        let o = cpd(dir.path(), &args);
        assert!(o.status.success(), "{:?}", text(&o));
        text(&o).0
    };
    run(&["--out", "a"]);
    let printed = run(&["--print-settings"]);
    assert!(printed.starts_with("[settings]\n"), "{printed}");
    for line in [
        "folds = 3",
        "seed = 4",
        "max_leaves = 4",
        "probes = [\"ridge\", \"gbt\"]",
    ] {
        assert!(printed.contains(line), "{line} not in\n{printed}");
    }
    // The manifest's dataset and models, with the printed settings.
    let text_of = std::fs::read_to_string(&manifest).unwrap();
    let dataset = &text_of[..text_of.find("[settings]").unwrap()];
    let models = &text_of[text_of.find("[[models]]").unwrap()..];
    let again = write(
        dir.path(),
        "again.toml",
        &format!("{dataset}{printed}\n{models}"),
    );
    let o = cpd(
        dir.path(),
        &["analyze", "--manifest", &s(&again), "-q", "--out", "b"],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let (a, b) = (
        report_without_timing(dir.path(), "a"),
        report_without_timing(dir.path(), "b"),
    );
    for section in ["settings", "results", "verdict"] {
        assert_eq!(a[section], b[section], "{section}");
    }
    let o = cpd(
        dir.path(),
        &["analyze", "--manifest", &s(&again), "--print-settings"],
    );
    assert_eq!(text(&o).0, printed);
}
