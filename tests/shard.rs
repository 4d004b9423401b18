//! Sharded runs (`cpd analyze --shard I/N`) merged by `cpd merge` equal the
//! single run, file for file, but for `timing`; merge refuses parts that are
//! missing, given twice, or of another run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{cpd, data, s, tempdir, text};

/// The bundled demo with every probe, kept small for the fast tier: two
/// chgnet layers (one split into channel groups), sevennet0's last layer,
/// the gap and the control targets, a learning-curve size, three
/// comparison measures, MLP and GBT with few epochs and rounds. `full`:
/// every layer and target of the demo, with similarity and the same
/// comparisons, the probes at default settings but for 5 MLP epochs and 5
/// GBT rounds of 32 bins (what is checked is the merge, not the fit).
fn demo_manifest(dir: &Path, full: bool) -> PathBuf {
    let d = |r: &str| s(&data(r));
    let text = if full {
        format!(
            "[dataset]\ncompositions = \"{}\"\ntargets = \"{}\"\n\
             [settings]\nprobes = [\"ridge\", \"mlp\", \"gbt\"]\ncontrols = true\nsimilarity = true\n\
             compare = [\"gfre\", \"imbalance\", \"cka_unbiased\"]\n\
             [settings.mlp]\nmax_epochs = 5\n[settings.gbt]\nrounds = 5\nbins = 32\n\
             [[models]]\nname = \"ani2x\"\nfile = \"{}\"\n\
             [[models]]\nname = \"chgnet\"\nfile = \"{}\"\n\
             [[models]]\nname = \"sevennet0\"\nfile = \"{}\"\n",
            d("compositions.csv"),
            d("targets.csv"),
            d("embeddings/ani2x.npz"),
            d("embeddings/chgnet.npz"),
            d("embeddings/sevennet0.npz"),
        )
    } else {
        format!(
            "[dataset]\ncompositions = \"{}\"\ntargets = \"{}\"\n\
             [settings]\nprobes = [\"ridge\", \"mlp\", \"gbt\"]\ntargets = [\"gap_ev\", \"mass_amu\"]\n\
             controls = true\nsimilarity = true\nlearning_curve = [300]\ncurve_repeats = 1\n\
             compare = [\"gfre\", \"imbalance\", \"cka_unbiased\"]\n\
             permutations = 1\ngroup_folds = \"composition\"\n\
             [settings.mlp]\nhidden = 16\nmax_epochs = 8\n\
             [settings.gbt]\nrounds = 5\nleaves = 7\nbins = 16\n\
             [[models]]\nname = \"chgnet\"\nfile = \"{}\"\nlayers = [\"conv4\", \"emb\"]\n\
             channels = \"lo=0:32,hi=32:64\"\nchannel_layers = [\"conv4\"]\n\
             [[models]]\nname = \"sevennet0\"\nfile = \"{}\"\nlayers = [\"l_last\"]\n",
            d("compositions.csv"),
            d("targets.csv"),
            d("embeddings/chgnet.npz"),
            d("embeddings/sevennet0.npz"),
        )
    };
    let p = dir.join(if full { "full.toml" } else { "small.toml" });
    std::fs::write(&p, text).unwrap();
    p
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = cpd(dir, args);
    let (o, e) = text(&out);
    assert!(
        out.status.success(),
        "cpd {args:?}\nstdout:\n{o}\nstderr:\n{e}"
    );
    o
}

fn run_err(dir: &Path, args: &[&str]) -> String {
    let out = cpd(dir, args);
    let (o, e) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "cpd {args:?}\nstdout:\n{o}\nstderr:\n{e}"
    );
    e
}

/// Every file of an output directory; report.json without `timing`, the
/// HTML without its line of run time.
fn outputs(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if !p.is_file() {
            continue;
        }
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        files.insert(name, std::fs::read_to_string(&p).unwrap());
    }
    let json: Value = serde_json::from_str(&files["report.json"]).unwrap();
    let secs = json["timing"]["seconds"].as_f64().unwrap();
    for (name, body) in files.iter_mut() {
        if name == "report.json" {
            let mut v: Value = serde_json::from_str(body).unwrap();
            v.as_object_mut().unwrap().remove("timing");
            *body = serde_json::to_string_pretty(&v).unwrap();
        }
        if name == "report.html" {
            *body = body.replace(&format!("{secs:.2} s"), "<timing>");
        }
    }
    files
}

/// Run `n` shards of `manifest` into `dir/parts/I`; the part directories.
fn shards(dir: &Path, manifest: &Path, n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            let out = dir.join(format!("{tag}-{i}"));
            let o = run_ok(
                dir,
                &[
                    "analyze",
                    "--manifest",
                    &s(manifest),
                    "--shard",
                    &format!("{i}/{n}"),
                    "--out",
                    &s(&out),
                ],
            );
            assert!(o.contains(&format!("shard {i}/{n}: ")), "{o}");
            s(&out)
        })
        .collect()
}

fn merge_into(dir: &Path, parts: &[String], out: &Path) -> String {
    let mut args = vec!["merge".to_string()];
    args.extend(parts.iter().cloned());
    args.extend(["--out".into(), s(out)]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(dir, &args)
}

fn assert_same_outputs(single: &Path, merged: &Path) {
    let (a, b) = (outputs(single), outputs(merged));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (name, body) in &a {
        assert!(
            body == &b[name],
            "{name} differs between the single run and the merge"
        );
    }
}

fn check_merges(manifest: &Path, dir: &Path, counts: &[usize]) {
    let single = dir.join("single");
    run_ok(
        dir,
        &["analyze", "--manifest", &s(manifest), "--out", &s(&single)],
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(single.join("report.json")).unwrap())
            .unwrap();
    // The analyses that span records are there to be merged.
    for key in [
        "gaps",
        "inflation",
        "profiles",
        "layer_stats",
        "similarity",
        "comparison",
        "verdict",
        "comparisons",
    ] {
        assert!(
            !report[key].is_null() && report[key] != Value::Array(vec![]),
            "{key} is empty: the test would not check its merge"
        );
    }
    for &n in counts {
        let parts = shards(dir, manifest, n, &format!("n{n}"));
        let merged = dir.join(format!("merged-{n}"));
        let o = merge_into(dir, &parts, &merged);
        assert!(o.contains(&format!("merged {n} shards")), "{o}");
        assert_same_outputs(&single, &merged);
    }
}

#[test]
fn sharded_demo_merges_into_the_single_run() {
    let dir = tempdir();
    let manifest = demo_manifest(dir.path(), false);
    check_merges(&manifest, dir.path(), &[1, 2, 5]);
}

#[test]
#[ignore = "full parity: run by .ci/run"]
fn full_demo_with_every_probe_merges_into_the_single_run() {
    let dir = tempdir();
    let manifest = demo_manifest(dir.path(), true);
    check_merges(&manifest, dir.path(), &[3]);
}

#[test]
fn merge_refuses_missing_duplicated_and_foreign_parts() {
    let dir = tempdir();
    let d = dir.path();
    // Ridge only: quick; what is checked does not depend on the probes.
    // With --predictions, joined by the merge too.
    let small = demo_manifest(d, false);
    let text = std::fs::read_to_string(&small)
        .unwrap()
        .replace(
            "probes = [\"ridge\", \"mlp\", \"gbt\"]",
            "probes = [\"ridge\"]",
        )
        .replace(
            "learning_curve = [300]\ncurve_repeats = 1\n",
            "predictions = true\n",
        );
    // A copy of the targets, to change later.
    let t = d.join("targets.csv");
    std::fs::copy(data("targets.csv"), &t).unwrap();
    let text = text.replace(&s(&data("targets.csv")), &s(&t));
    let m = d.join("ridge.toml");
    std::fs::write(&m, &text).unwrap();
    let parts = shards(d, &m, 3, "a");
    let out = d.join("merged");
    let merge = |parts: &[&str]| {
        let mut args = vec!["merge"];
        args.extend(parts);
        let o = s(&out);
        args.extend(["--out", &o]);
        run_err(d, &args)
    };
    let e = merge(&[&parts[0], &parts[2]]);
    assert!(
        e.contains("missing shard(s) 1/3") && e.contains(&parts[2]),
        "{e}"
    );
    let e = merge(&[&parts[0], &parts[1], &parts[1], &parts[2]]);
    assert!(e.contains("shard 1/3 is given twice"), "{e}");
    // Another shard count.
    let other = shards(d, &m, 2, "b");
    let e = merge(&[&parts[0], &parts[1], &other[1]]);
    assert!(
        e.contains("shard 1/2") && e.contains("share the shard count"),
        "{e}"
    );
    // Other settings: another seed.
    let m2 = d.join("seed.toml");
    std::fs::write(
        &m2,
        text.replace("controls = true", "controls = true\nseed = 7"),
    )
    .unwrap();
    let seeded = shards(d, &m2, 3, "c");
    let e = merge(&[&parts[0], &seeded[1], &parts[2]]);
    assert!(
        e.contains("not a part of the same run")
            && e.contains("settings (seed")
            && e.contains(&seeded[1]),
        "{e}"
    );
    // A full report is not a part.
    run_ok(
        d,
        &[
            "analyze",
            "--manifest",
            &s(&m),
            "--out",
            &s(&d.join("whole")),
        ],
    );
    let e = merge(&[&s(&d.join("whole"))]);
    assert!(e.contains("not a partial report"), "{e}");
    // Other inputs: the same targets file, same size, one digit changed.
    let targets = std::fs::read_to_string(&t).unwrap();
    let at = targets.find(|c: char| ('1'..='8').contains(&c)).unwrap();
    let digit = targets.as_bytes()[at] + 1;
    let mut changed = targets.into_bytes();
    changed[at] = digit;
    std::fs::write(&t, changed).unwrap();
    let foreign = shards(d, &m, 3, "d");
    let e = merge(&[&parts[0], &parts[1], &foreign[2]]);
    assert!(
        e.contains("different inputs")
            && e.contains(&format!("{} has SHA-256", t.display()))
            && e.contains(&foreign[2]),
        "{e}"
    );
    assert!(
        !out.join("report.json").exists(),
        "nothing written on refusal"
    );
    // The right parts merge, in any order, predictions included.
    let o = merge_into(
        d,
        &[parts[2].clone(), parts[0].clone(), parts[1].clone()],
        &out,
    );
    assert!(o.contains("merged 3 shards"), "{o}");
    for f in ["predictions.csv", "results.csv", "folds.csv"] {
        let (a, b) = (
            std::fs::read(d.join("whole").join(f)).unwrap(),
            std::fs::read(out.join(f)).unwrap(),
        );
        assert!(a == b, "{f} differs between the single run and the merge");
    }
    // A bad --shard is a usage error naming the flag.
    let e = run_err(
        d,
        &[
            "analyze",
            "--manifest",
            &s(&m),
            "--shard",
            "3/3",
            "--out",
            "x",
        ],
    );
    assert!(e.contains("--shard") && e.contains("below N (3)"), "{e}");
}

#[test]
fn slurm_writes_array_and_merge_scripts() {
    let dir = tempdir();
    let d = dir.path();
    let m = demo_manifest(d, false);
    let o = run_ok(
        d,
        &[
            "slurm",
            "--manifest",
            &s(&m),
            "--shards",
            "4",
            "--out",
            "run",
            "--sbatch-args",
            "--time=00:10:00 --partition=debug",
        ],
    );
    assert!(o.contains("9 work units over 4 shards"), "{o}");
    let run = d.join("run").canonicalize().unwrap();
    let array = std::fs::read_to_string(run.join("array.sh")).unwrap();
    assert!(array.contains("#SBATCH --array=0-3\n"), "{array}");
    assert!(array.contains("#SBATCH --time=00:10:00\n#SBATCH --partition=debug\n"));
    let exe = Path::new(env!("CARGO_BIN_EXE_cpd"));
    assert!(
        array.contains(&format!(
            "exec {} analyze --manifest {}",
            exe.display(),
            m.display()
        )),
        "{array}"
    );
    let merge = std::fs::read_to_string(run.join("merge.sh")).unwrap();
    assert!(
        merge.contains(&format!("{}/parts/3", run.display())),
        "{merge}"
    );
    assert!(
        merge.contains(&format!("--out {}\n", run.display())),
        "{merge}"
    );
}

/// The bundled demo's sevennet0 last layer, ridge only, two targets: a run
/// whose shards take a moment.
fn ridge_manifest(dir: &Path) -> PathBuf {
    let d = |r: &str| s(&data(r));
    let p = dir.join("ridge.toml");
    std::fs::write(
        &p,
        format!(
            "[dataset]\ncompositions = \"{}\"\ntargets = \"{}\"\n\
             [settings]\nprobes = [\"ridge\"]\ntargets = [\"gap_ev\", \"mass_amu\"]\n\
             [[models]]\nname = \"sevennet0\"\nfile = \"{}\"\n\
             [[models]]\nname = \"chgnet\"\nfile = \"{}\"\nlayers = [\"conv4\"]\n",
            d("compositions.csv"),
            d("targets.csv"),
            d("embeddings/sevennet0.npz"),
            d("embeddings/chgnet.npz"),
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_resumed_run_reruns_only_missing_or_corrupt_parts_and_merges_into_the_single_run() {
    let dir = tempdir();
    let manifest = ridge_manifest(dir.path());
    let job = dir.path().join("job");
    let m = s(&manifest);
    let slurm = [
        "slurm",
        "--manifest",
        &m,
        "--shards",
        "3",
        "--out",
        &s(&job),
    ];
    run_ok(dir.path(), &slurm);
    let part = |i: usize| job.join("parts").join(i.to_string());
    // Shards 0 and 2 ran; shard 2's report.json was then cut short on disk;
    // shard 1 never ran (its task was killed before it wrote anything).
    let run_shard = |i: usize| {
        run_ok(
            dir.path(),
            &[
                "analyze",
                "--manifest",
                &m,
                "--shard",
                &format!("{i}/3"),
                "--out",
                &s(&part(i)),
            ],
        )
    };
    run_shard(0);
    run_shard(2);
    let corrupt = part(2).join("report.json");
    let full = std::fs::read(&corrupt).unwrap();
    std::fs::write(&corrupt, &full[..full.len() / 2]).unwrap();
    // The merge job's script merges nothing: it names the missing shard and
    // the command that resumes the run.
    let merge = std::process::Command::new("sh")
        .arg(job.join("merge.sh"))
        .output()
        .unwrap();
    let (_, err) = text(&merge);
    assert_eq!(merge.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("cpd: shard(s) 1 of 3 wrote no part; nothing was merged. Resume with:\n"),
        "{err}"
    );
    let resume_cmd = err.lines().nth(1).unwrap().to_string();
    assert!(resume_cmd.ends_with(&format!(
        "slurm --manifest {m} --shards 3 --out {} --resume --submit",
        s(&job)
    )));
    assert!(!job.join("report.json").exists());
    // cpd merge itself refuses the corrupt part, naming it.
    let e = run_err(
        dir.path(),
        &[
            "merge",
            &s(&part(0)),
            &s(&part(1)),
            &s(&part(2)),
            "--out",
            &s(&job),
        ],
    );
    assert_eq!(
        e.trim_end(),
        format!(
            "error: {}: No such file or directory (os error 2)",
            part(1).display()
        )
    );
    let e = run_err(
        dir.path(),
        &["merge", &s(&part(0)), &s(&part(2)), "--out", &s(&job)],
    );
    assert!(
        e.contains(&format!("error: {}: not valid JSON", corrupt.display())),
        "{e}"
    );
    // --resume (without --submit) names both shards and why, and how to submit.
    let mut resume = slurm.to_vec();
    resume.push("--resume");
    let o = run_ok(dir.path(), &resume);
    let lines: Vec<&str> = o.lines().collect();
    assert!(
        lines.contains(
            &format!(
                "shard 1: to run again: {}: no report.json",
                part(1).display()
            )
            .as_str()
        ),
        "{o}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "shard 2: to run again: {}: not valid JSON",
            corrupt.display()
        ))),
        "{o}"
    );
    assert!(!o.contains("shard 0:"), "{o}");
    assert!(
        o.contains(&format!(
            "submit them with: sbatch --array=1,2 {}",
            job.join("array.sh").display()
        )),
        "{o}"
    );
    // The tasks it names run again (as the array job would), then the merge
    // script merges, and the merge is the single run.
    run_shard(1);
    run_shard(2);
    let o = run_ok(dir.path(), &resume);
    assert!(
        o.contains("every shard's part is complete: only the merge is left"),
        "{o}"
    );
    let merge = std::process::Command::new("sh")
        .arg(job.join("merge.sh"))
        .output()
        .unwrap();
    assert!(merge.status.success(), "{}", text(&merge).1);
    let single = dir.path().join("single");
    run_ok(
        dir.path(),
        &["analyze", "--manifest", &m, "--out", &s(&single)],
    );
    let merged = dir.path().join("merged");
    std::fs::create_dir(&merged).unwrap();
    for e in std::fs::read_dir(&job).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && p.extension().is_none_or(|x| x != "sh") {
            std::fs::copy(&p, merged.join(p.file_name().unwrap())).unwrap();
        }
    }
    assert_same_outputs(&single, &merged);
}

#[test]
fn a_merge_killed_at_any_point_leaves_every_file_old_or_new() {
    // The output directory holds an older merge (2 shards, another seed);
    // `cpd merge` of 3 shards into it is killed (SIGKILL) after a growing
    // delay. Every report file is then the old one or the new one, whole.
    let dir = tempdir();
    let manifest = ridge_manifest(dir.path());
    let old_manifest = dir.path().join("old.toml");
    std::fs::write(
        &old_manifest,
        std::fs::read_to_string(&manifest)
            .unwrap()
            .replace("[settings]\n", "[settings]\nseed = 7\n"),
    )
    .unwrap();
    let old_parts = shards(dir.path(), &old_manifest, 2, "old");
    let parts = shards(dir.path(), &manifest, 3, "new");
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    merge_into(dir.path(), &old_parts, &old);
    merge_into(dir.path(), &parts, &new);
    let files = |d: &Path| -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect()
    };
    let (old_files, new_files) = (files(&old), files(&new));
    let mut outcomes = BTreeMap::new();
    for delay_ms in (0..400).step_by(8) {
        let out = dir.path().join(format!("out{delay_ms}"));
        std::fs::create_dir(&out).unwrap();
        for (name, body) in &old_files {
            std::fs::write(out.join(name), body).unwrap();
        }
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cpd"))
            .arg("merge")
            .args(&parts)
            .args(["--out", &s(&out), "--quiet"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let now = files(&out);
        let mut new_count = 0;
        for (name, body) in &now {
            if name.starts_with(".cpd-partial-") {
                continue; // a staged file the kill left: never a report's name
            }
            let is_old = old_files.get(name) == Some(body);
            let is_new = new_files.get(name) == Some(body);
            assert!(
                is_old || is_new,
                "{name} after a kill at {delay_ms} ms is neither old nor new"
            );
            new_count += usize::from(is_new && !is_old);
        }
        // A new report.json means every file is new.
        if new_files.get("report.json") == now.get("report.json") {
            for (name, body) in &new_files {
                assert_eq!(
                    now.get(name),
                    Some(body),
                    "{name}: report.json is new, so must it be"
                );
            }
        }
        *outcomes.entry(new_count > 0).or_insert(0) += 1;
    }
    // Some kills came before any file was replaced and some after.
    assert!(outcomes.len() == 2, "{outcomes:?}");
}
