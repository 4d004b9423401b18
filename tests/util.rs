//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where `data/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path inside the bundled data directory.
pub fn data(rel: &str) -> PathBuf {
    root().join("data").join(rel)
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Write `content` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write test file");
    p
}

/// Run the `cpd` binary with `args` in `cwd` (2 worker threads).
pub fn cpd(cwd: &Path, args: &[&str]) -> Output {
    cpd_threads(cwd, args, 2)
}

/// Run the `cpd` binary with `RAYON_NUM_THREADS=threads`.
pub fn cpd_threads(cwd: &Path, args: &[&str], threads: usize) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpd"))
        .args(args)
        .current_dir(cwd)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .expect("run cpd")
}

/// Stdout and stderr of a run, for assertion messages.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A path as a string argument.
pub fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A tiny valid data set: 12 molecules, counts with geometry-driven targets.
pub fn small(dir: &Path) -> (String, String, String) {
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
pub fn replace_line(path: &str, prefix: &str, line: &str) -> String {
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

/// Assert exit code 2, no panic, and every needle in stderr.
pub fn assert_input_error(out: &std::process::Output, needles: &[&str]) {
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

/// A version-1.0 `.npy` file with the given header fields and raw data.
pub fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The configuration of a run of one model (`model`, its files `paths`) on
/// the bundled compositions and targets, with `settings` given by their
/// flat names (`{"probes": ["ridge"], "mlp_max_epochs": 20}`), resolved as
/// the command line and the Python package resolve them.
pub fn bundled_config(
    settings: serde_json::Value,
    model: &str,
    paths: Vec<PathBuf>,
) -> cpd::run::AnalyzeConfig {
    cpd::settings::Given::from_flat(settings.as_object().expect("an object").clone())
        .and_then(|g| g.resolve())
        .and_then(|s| {
            s.config(cpd::settings::Inputs {
                embeddings: vec![cpd::run::EmbeddingSpec {
                    model: model.into(),
                    paths,
                    layers: None,
                    channels: None,
                    channel_layers: None,
                }],
                composition: cpd::run::CompositionSource::Table(data("compositions.csv")),
                targets: data("targets.csv"),
            })
        })
        .expect("valid settings")
}
