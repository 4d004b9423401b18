//! Faults met while a layer is streamed from disk: a file truncated,
//! rewritten or replaced under a run ends it with an error that names the
//! file and what changed (no panic, no report), in every streamed format:
//! `.npy`, a stored `.npz` member, a layer sharded over files. The change
//! is made at a fixed point of the run (when probing starts), through the
//! run's progress callback; the command-line case truncates the file from
//! another process while the run is under way.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cpd::io::embeddings::{self, Values};
use cpd::run::{analyze_with_progress, AnalyzeConfig, Progress};
use ndarray::{s, Array1, Array2};
use ndarray_npy::{NpzWriter, WriteNpyExt};

use crate::util::{bundled_config, data, s as arg, tempdir, text};

/// The bundled SevenNet-0 `l_last` layer in file order, with its ids.
fn layer() -> (Array1<i64>, Array2<f32>) {
    let file = embeddings::load(&data("embeddings/sevennet0.npz")).unwrap();
    let Values::F32(a) = &file.layers[1].data else {
        panic!("float32 bundled layer");
    };
    let ids = file
        .ids
        .unwrap()
        .iter()
        .map(|i| i.parse::<i64>().unwrap())
        .collect();
    (ids, a.clone())
}

fn config(paths: Vec<PathBuf>) -> AnalyzeConfig {
    let settings = serde_json::json!({"probes": ["ridge"], "target": ["gap_ev"], "bootstrap": 0});
    bundled_config(settings, "m", paths)
}

/// Runs `change` once, when the run reaches the first stage whose name
/// contains `stage`.
struct ChangeAt<'a, F: Fn() + Sync> {
    stage: &'a str,
    change: F,
    done: Mutex<bool>,
}

impl<F: Fn() + Sync> Progress for ChangeAt<'_, F> {
    fn add_work(&self, _: u64) {}
    fn stage(&self, what: &str) {
        let mut done = self.done.lock().unwrap();
        if what.contains(self.stage) && !*done {
            *done = true;
            (self.change)();
        }
    }
    fn done(&self) {}
}

/// The error of a run whose file is changed by `change` when probing starts.
fn run_with_change(paths: Vec<PathBuf>, change: impl Fn() + Sync) -> String {
    run_with_change_at(config(paths), ": probing", change)
}

/// The error of a run of `config` whose file is changed by `change` at the
/// first stage named with `stage`.
fn run_with_change_at(config: AnalyzeConfig, stage: &str, change: impl Fn() + Sync) -> String {
    let progress = ChangeAt {
        stage,
        change,
        done: Mutex::new(false),
    };
    let out = analyze_with_progress(&config, &progress);
    assert!(*progress.done.lock().unwrap(), "the run reached probing");
    match out {
        Ok(_) => panic!("a run over a changed file succeeded"),
        Err(e) => e.to_string(),
    }
}

fn truncate(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn write_npy(path: &Path, a: &Array2<f32>) {
    a.write_npy(File::create(path).unwrap()).unwrap();
}

fn write_npz(path: &Path, ids: &Array1<i64>, a: &Array2<f32>) {
    let mut w = NpzWriter::new(File::create(path).unwrap());
    w.add_array("ids", ids).unwrap();
    w.add_array("l_last", a).unwrap();
    w.finish().unwrap();
}

#[test]
fn a_file_truncated_under_a_run_ends_it_naming_the_file_in_every_streamed_format() {
    let (ids, a) = layer();
    let dir = tempdir();
    let npy = dir.path().join("l_last.npy");
    write_npy(&npy, &a);
    let npz = dir.path().join("m.npz");
    write_npz(&npz, &ids, &a);
    let (s0, s1) = (dir.path().join("s0.npz"), dir.path().join("s1.npz"));
    let half = a.nrows() / 2;
    write_npz(
        &s0,
        &ids.slice(s![..half]).to_owned(),
        &a.slice(s![..half, ..]).to_owned(),
    );
    write_npz(
        &s1,
        &ids.slice(s![half..]).to_owned(),
        &a.slice(s![half.., ..]).to_owned(),
    );
    let copy = |p: &Path| {
        let c = p.with_extension("orig");
        std::fs::copy(p, &c).unwrap();
        c
    };
    // (format, the layer's files, the file truncated)
    let cases: Vec<(&str, Vec<PathBuf>, PathBuf)> = vec![
        (".npy", vec![npy.clone()], npy.clone()),
        ("stored .npz", vec![npz.clone()], npz.clone()),
        ("sharded, first", vec![s0.clone(), s1.clone()], s0.clone()),
        ("sharded, second", vec![s0.clone(), s1.clone()], s1.clone()),
    ];
    for (what, paths, victim) in cases {
        let full = std::fs::metadata(&victim).unwrap().len();
        let orig = copy(&victim);
        // Truncated at its header, in the middle of its rows, one byte short,
        // and as a half-finished `np.save` leaves it (800,000 bytes).
        for len in [100, full / 2, full - 1, 800_000] {
            std::fs::copy(&orig, &victim).unwrap();
            let err = run_with_change(paths.clone(), || truncate(&victim, len));
            assert_eq!(
                err,
                format!(
                    "{}: changed while it was being read (its size went from {full} to {len} bytes)",
                    victim.display()
                ),
                "{what}, truncated to {len}"
            );
        }
        std::fs::copy(&orig, &victim).unwrap();
    }
}

#[test]
fn a_file_rewritten_or_replaced_with_the_same_size_is_caught() {
    let (_, a) = layer();
    let dir = tempdir();
    let npy = dir.path().join("l_last.npy");
    write_npy(&npy, &a);
    let other = dir.path().join("other.npy");
    write_npy(&other, &a.mapv(|v| v * 2.0));
    assert_eq!(
        std::fs::metadata(&npy).unwrap().len(),
        std::fs::metadata(&other).unwrap().len()
    );
    // Rewritten in place (as `np.save` on the same path does): same size,
    // same file, other bytes.
    let bytes = std::fs::read(&other).unwrap();
    let err = run_with_change(vec![npy.clone()], || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut f = OpenOptions::new().write(true).open(&npy).unwrap();
        f.write_all(&bytes).unwrap();
    });
    assert_eq!(
        err,
        format!(
            "{}: changed while it was being read (it was written to (its modification time changed))",
            npy.display()
        )
    );
    // Replaced by a rename: the path names another file of the same size.
    write_npy(&npy, &a);
    let err = run_with_change(vec![npy.clone()], || {
        std::fs::copy(&other, dir.path().join("next.npy")).unwrap();
        std::fs::rename(dir.path().join("next.npy"), &npy).unwrap();
    });
    assert_eq!(
        err,
        format!(
            "{}: changed while it was being read (the path now names another file)",
            npy.display()
        )
    );
    // Replaced between the probing and the similarity stage, which opens
    // the file again: its bytes are not those probed.
    write_npy(&npy, &a);
    let mut with_similarity = config(vec![npy.clone()]);
    with_similarity.similarity = true;
    let err = run_with_change_at(with_similarity, "similarity", || {
        std::fs::copy(&other, dir.path().join("next.npy")).unwrap();
        std::fs::rename(dir.path().join("next.npy"), &npy).unwrap();
    });
    assert_eq!(
        err,
        format!(
            "{}: changed while it was being read (its bytes differ from those probed earlier in the run)",
            npy.display()
        )
    );
}

#[test]
fn the_cli_truncated_under_a_run_exits_2_with_one_error_line_and_no_report() {
    // 6,000 × 64 float32 rows: a run long enough (the
    // MLP) to truncate its file from here while it is under way, once the
    // run holds the file open.
    let dir = tempdir();
    let n = 6000;
    let a = Array2::from_shape_fn((n, 64), |(i, j)| {
        ((i * 31 + j * 17) % 101) as f32 / 50.0 - 1.0
    });
    let npy = dir.path().join("big.npy");
    write_npy(&npy, &a);
    let mut comp = String::from("id,H,C\n");
    let mut targ = String::from("id,y\n");
    for i in 0..n {
        comp.push_str(&format!("{i},{},{}\n", 1 + i % 5, 1 + i % 3));
        targ.push_str(&format!("{i},{}\n", a[(i, 0)] * 2.0 + a[(i, 5)]));
    }
    std::fs::write(dir.path().join("c.csv"), comp).unwrap();
    std::fs::write(dir.path().join("t.csv"), targ).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("report.json"), "previous").unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cpd"))
        .args([
            "analyze",
            "--embeddings",
            &format!("m={}", arg(&npy)),
            "--compositions",
            &arg(&dir.path().join("c.csv")),
            "--targets",
            &arg(&dir.path().join("t.csv")),
            "--probes",
            "ridge,mlp",
            "--out",
            &arg(&out),
        ])
        .env("RAYON_NUM_THREADS", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run holds the file open, then truncate it.
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    let start = std::time::Instant::now();
    while !std::fs::read_dir(&fds)
        .map(|d| {
            d.flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == npy))
        })
        .unwrap_or(false)
    {
        assert!(
            start.elapsed().as_secs() < 60,
            "the run never opened the file"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let full = std::fs::metadata(&npy).unwrap().len();
    truncate(&npy, 800_000);
    let done = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&done);
    assert_eq!(
        done.status.code(),
        Some(2),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let want = format!(
        "error: {}: changed while it was being read (its size went from {full} to 800000 bytes)",
        npy.display()
    );
    assert_eq!(lines.last(), Some(&want.as_str()), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    // Nothing written: the previous report is intact and alone.
    assert_eq!(
        std::fs::read_to_string(out.join("report.json")).unwrap(),
        "previous"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}

/// A small run's inputs, readable by any user: (compositions, targets,
/// embeddings) arguments of `cpd analyze`.
fn small_inputs(dir: &Path) -> Vec<String> {
    let (c, t, e) = crate::util::small(dir);
    vec![
        "--compositions".into(),
        c,
        "--targets".into(),
        t,
        "--embeddings".into(),
        format!("m={e}"),
        "--quiet".into(),
    ]
}

#[test]
fn a_full_disk_ends_the_run_naming_the_file_and_replaces_nothing() {
    // A 64 KiB tmpfs, mounted in a user and mount namespace of its own (no
    // privileges needed), holds the output directory and a previous
    // report; the run's files do not fit.
    let dir = tempdir();
    let inputs = small_inputs(dir.path());
    let mnt = dir.path().join("full");
    std::fs::create_dir(&mnt).unwrap();
    let script = format!(
        "set -e; mount -t tmpfs -o size=64k none '{m}'; mkdir '{m}/out'; \
         echo previous > '{m}/out/report.json'; \
         head -c 60000 /dev/zero > '{m}/filler'; \
         set +e; '{cpd}' analyze {args} --out '{m}/out'; echo \"rc=$?\"; \
         ls -A '{m}/out'; cat '{m}/out/report.json'",
        m = mnt.display(),
        cpd = env!("CARGO_BIN_EXE_cpd"),
        args = inputs
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
        .output()
        .expect("run unshare");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    // Exit 2, one error line naming the file and the cause; the directory
    // holds the previous report alone (no temporary file left behind).
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["rc=2", "report.json", "previous"],
        "{stderr}"
    );
    let line = stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "{stderr}");
    assert!(
        line.starts_with(&format!("error: {}/out/", mnt.display()))
            && line.ends_with(
                ": writing it failed: No space left on device (os error 28); no file in the directory was replaced"
            ),
        "{stderr}"
    );
}

#[test]
fn an_unwritable_output_directory_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let inputs = small_inputs(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("report.json"), "previous").unwrap();
    // Read-only for everyone; as root (who may write anyway) the run is
    // made as `nobody`, who may read the inputs but not write the directory.
    for p in [dir.path(), out.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    // /proc/self belongs to the process's effective user.
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0;
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_cpd"),
        ]);
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_cpd"))
    };
    let run = cmd
        .arg("analyze")
        .args(&inputs)
        .args(["--out", &arg(&out)])
        .output()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (stdout, stderr) = text(&run);
    assert_eq!(
        run.status.code(),
        Some(2),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: output directory is not writable: {}: cannot write the run's files here: permission denied",
            out.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(out.join("report.json")).unwrap(),
        "previous"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}
