//! Layers read from disk in row blocks, sharded layers and `--max-rows`
//! (issue 15): the streamed path gives the in-memory path's numbers bit for
//! bit, a layer split over files gives the single file's, reads stay within
//! one block, and bad shards are explained.

use std::fs::File;
use std::path::{Path, PathBuf};

use cpd::flow::dataset::CompositionMode;
use cpd::flow::folds::Folds;
use cpd::flow::projection::Projection;
use cpd::flow::rows::{Dense, Stored, BLOCK};
use cpd::io::embeddings::{self, Values};
use cpd::io::peratom::Pool;
use cpd::probe::cv::cross_validate;
use cpd::probe::ridge::RidgeParams;
use cpd::probe::{ProbeKind, ProbeParams};
use cpd::report::ResultRecord;
use cpd::run::{analyze, AnalyzeConfig, CompositionSource, EmbeddingSpec, FoldSpec};
use ndarray::{s, Array1, Array2, Axis};
use ndarray_npy::{NpzWriter, WriteNpyExt};

use crate::util::{cpd, data, s as arg, tempdir, text};

fn config(model_paths: Vec<(&str, Vec<PathBuf>)>, probes: Vec<ProbeKind>) -> AnalyzeConfig {
    AnalyzeConfig {
        embeddings: model_paths
            .into_iter()
            .map(|(m, paths)| EmbeddingSpec {
                model: m.into(),
                paths,
                layers: None,
                channels: None,
                channel_layers: None,
            })
            .collect(),
        composition: CompositionSource::Table(data("compositions.csv")),
        composition_mode: CompositionMode::Counts,
        targets: data("targets.csv"),
        target_names: vec!["gap_ev".into(), "dipole_debye".into()],
        probes,
        folds: FoldSpec::Shuffled { k: 5, seed: 0 },
        params: ProbeParams {
            ridge: RidgeParams::default(),
            ..Default::default()
        },
        residualize_target: false,
        controls: false,
        inflation_threshold: 0.1,
        learning_curve: None,
        scale: Default::default(),
        predictions: true,
        pool: Default::default(),
        similarity: false,
        compare: Vec::new(),
        compare_rows: cpd::analyses::compare::DEFAULT_COMPARE_ROWS,
        max_rows: None,
        group_folds: None,
        permutations: 0,
        bootstrap: cpd::flow::bootstrap::DEFAULT_REPLICATES,
        conditional: true,
    }
}

/// The numbers of a record (everything but names), for exact comparison.
fn numbers(r: &ResultRecord) -> String {
    format!(
        "{} {} {} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        r.layer,
        r.target,
        r.representation,
        r.probe,
        r.r2_mean.map(f64::to_bits),
        r.r2_std.map(f64::to_bits),
        r.r2_pooled.map(f64::to_bits),
        r.mae.map(f64::to_bits),
        r.rmse.map(f64::to_bits),
        r.alphas,
        r.r2_folds.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        r.fold_diagnostics
            .iter()
            .map(|d| (
                d.worst_id.clone(),
                d.extrapolation_id.clone(),
                d.extrapolation_z.map(f64::to_bits)
            ))
            .collect::<Vec<_>>()
    )
}

fn assert_same(a: &cpd::run::Analysis, b: &cpd::run::Analysis, what: &str) {
    assert_eq!(a.report.results.len(), b.report.results.len(), "{what}");
    for (x, y) in a.report.results.iter().zip(&b.report.results) {
        assert_eq!(numbers(x), numbers(y), "{what}");
    }
    for (p, q) in a.predictions.iter().zip(&b.predictions) {
        let bits = |v: &Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(p), bits(q), "{what}: out-of-fold predictions");
    }
}

/// The bundled sevennet0 layers in the compositions' row order, and its ids.
fn sevennet_aligned() -> (Vec<String>, Vec<(String, Array2<f32>)>) {
    let file = embeddings::load(&data("embeddings/sevennet0.npz")).unwrap();
    let comp = cpd::io::table::read_table(&data("compositions.csv")).unwrap();
    let order = cpd::flow::dataset::align_ids(
        &comp.ids,
        Path::new("c"),
        file.ids.as_ref().unwrap(),
        Path::new("e"),
    )
    .unwrap();
    let layers = file
        .layers
        .iter()
        .map(|l| {
            let Values::F32(a) = &l.data else {
                panic!("float32 bundled layer");
            };
            (l.name.clone(), a.select(Axis(0), &order))
        })
        .collect();
    (comp.ids.to_vec(), layers)
}

fn write_npy(path: &Path, a: &Array2<f32>) {
    a.write_npy(File::create(path).unwrap()).unwrap();
}

/// An `.npz` of `layers` (rows `range`) with integer ids, stored or deflated.
fn write_npz(
    path: &Path,
    ids: &[String],
    layers: &[(String, Array2<f32>)],
    rows: &[usize],
    compressed: bool,
) {
    let f = File::create(path).unwrap();
    let mut w = if compressed {
        NpzWriter::new_compressed(f)
    } else {
        NpzWriter::new(f)
    };
    let int_ids: Array1<i64> = rows
        .iter()
        .map(|&r| ids[r].parse::<i64>().unwrap())
        .collect();
    w.add_array("ids", &int_ids).unwrap();
    for (name, a) in layers {
        w.add_array(name.as_str(), &a.select(Axis(0), rows))
            .unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn streamed_layers_give_the_in_memory_numbers_bit_for_bit() {
    // The bundled .npz stores its members uncompressed, so it is read from
    // disk in blocks; a deflated copy of it is loaded into memory.
    let dir = tempdir();
    let bundled = data("embeddings/sevennet0.npz");
    let (opened, _) = embeddings::open(std::slice::from_ref(&bundled), Pool::Mean).unwrap();
    assert!(opened.layers.iter().all(|l| l.data.is_on_disk()));
    let file = embeddings::load(&bundled).unwrap();
    let (ids, layers) = sevennet_aligned();
    // Shuffled rows in the deflated copy: alignment permutes in memory.
    let n = ids.len();
    let shuffled: Vec<usize> = (0..n).map(|i| (i * 7919) % n).collect();
    let deflated = dir.path().join("deflated.npz");
    write_npz(&deflated, &ids, &layers, &shuffled, true);
    let (mem, _) = embeddings::open(std::slice::from_ref(&deflated), Pool::Mean).unwrap();
    assert!(mem.layers.iter().all(|l| !l.data.is_on_disk()));
    assert_eq!(file.layers.len(), 2);
    // One .npy per layer, no ids (rows in the compositions' order).
    let npys: Vec<PathBuf> = layers
        .iter()
        .map(|(name, a)| {
            let p = dir.path().join(format!("{name}.npy"));
            write_npy(&p, a);
            p
        })
        .collect();
    for scale in [
        cpd::probe::scale::Scale::Standard,
        cpd::probe::scale::Scale::Clip,
    ] {
        let run = |paths: Vec<(&str, Vec<PathBuf>)>| {
            let mut c = config(paths, vec![ProbeKind::Ridge]);
            c.scale = scale;
            analyze(&c).unwrap()
        };
        let disk = run(vec![("m", vec![bundled.clone()])]);
        let memory = run(vec![("m", vec![deflated.clone()])]);
        assert_same(
            &disk,
            &memory,
            &format!("stored vs deflated .npz, {scale:?}"),
        );
        // The .npy files (one layer each) against the same layers.
        for (k, p) in npys.iter().enumerate() {
            let one = run(vec![("m", vec![p.clone()])]);
            let name = &layers[k].0;
            let from_npz: Vec<&ResultRecord> = memory
                .report
                .results
                .iter()
                .filter(|r| &r.layer == name || r.representation == "composition")
                .collect();
            let mut want = Vec::new();
            for r in from_npz.iter().filter(|r| &r.layer == name) {
                want.push(numbers(r));
            }
            let got: Vec<String> = one.report.results.iter().map(numbers).collect();
            assert_eq!(got, want, ".npy layer {name}, {scale:?}");
        }
    }
}

#[test]
fn a_sharded_layer_gives_the_single_file_numbers_bit_for_bit() {
    let dir = tempdir();
    let (ids, layers) = sevennet_aligned();
    let n = ids.len();
    let single = analyze(&config(
        vec![("m", vec![data("embeddings/sevennet0.npz")])],
        vec![ProbeKind::Ridge],
    ))
    .unwrap();
    let cuts = [0, 700, 1900, n];
    // With ids: three stored .npz files, each with its own (shuffled) ids.
    let mut with_ids = Vec::new();
    // Compressed shards are loaded into memory and concatenated.
    let mut deflated = Vec::new();
    for k in 0..3 {
        let mut rows: Vec<usize> = (cuts[k]..cuts[k + 1]).collect();
        rows.reverse();
        let p = dir.path().join(format!("emb_{k:03}.npz"));
        write_npz(&p, &ids, &layers, &rows, false);
        with_ids.push(p);
        let q = dir.path().join(format!("z_{k}.npz"));
        write_npz(&q, &ids, &layers, &rows, true);
        deflated.push(q);
    }
    let sharded = analyze(&config(
        vec![("m", with_ids.clone())],
        vec![ProbeKind::Ridge],
    ))
    .unwrap();
    assert_same(&single, &sharded, "3 stored .npz shards with ids");
    let sharded = analyze(&config(vec![("m", deflated)], vec![ProbeKind::Ridge])).unwrap();
    assert_same(&single, &sharded, "3 deflated .npz shards with ids");
    // Without ids: three .npy files per layer, rows in the compositions' order.
    for (name, a) in &layers {
        let mut shards = Vec::new();
        for k in 0..3 {
            let p = dir.path().join(format!("{name}_{k}.npy"));
            write_npy(&p, &a.slice(s![cuts[k]..cuts[k + 1], ..]).to_owned());
            shards.push(p);
        }
        let sharded =
            analyze(&config(vec![("m", shards.clone())], vec![ProbeKind::Ridge])).unwrap();
        let want: Vec<String> = single
            .report
            .results
            .iter()
            .filter(|r| &r.layer == name)
            .map(numbers)
            .collect();
        let got: Vec<String> = sharded
            .report
            .results
            .iter()
            .map(numbers)
            .map(|t| t.replacen(&format!("{name}_0"), name, 1))
            .collect();
        assert_eq!(got, want, "3 .npy shards of {name}");
        // Every shard is an input with its own sha256 and rows.
        let inputs: Vec<_> = sharded
            .report
            .inputs
            .iter()
            .filter(|i| i.role == "embeddings")
            .collect();
        assert_eq!(inputs.len(), 3);
        for (i, p) in inputs.iter().zip(&shards) {
            assert_eq!(i.path, p.display().to_string());
            assert_eq!(i.sha256, cpd::io::sha256_file(p).unwrap());
        }
        assert_eq!(
            inputs.iter().map(|i| i.rows).collect::<Vec<_>>(),
            [700, 1200, n - 1900]
        );
    }
}

#[test]
fn streamed_ridge_reads_one_block_at_a_time() {
    // Ridge with the composition residual over a layer on disk: no read asks
    // for more than one block of rows, however many rows the layer has, and
    // the fold scores equal those on the layer in memory.
    let dir = tempdir();
    let (_, layers) = sevennet_aligned();
    let (name, a) = &layers[1];
    let p = dir.path().join(format!("{name}.npy"));
    write_npy(&p, a);
    let (file, _) = embeddings::open(std::slice::from_ref(&p), Pool::Mean).unwrap();
    let Values::Disk(disk) = &file.layers[0].data else {
        panic!("an uncompressed .npy is read from disk");
    };
    let comp = cpd::io::table::read_table(&data("compositions.csv")).unwrap();
    let projection = Projection::new(comp.values.view(), &comp.columns);
    let folds = Folds::shuffled(a.nrows(), 5, 0).unwrap();
    let y = Array2::from_shape_fn((a.nrows(), 1), |(i, _)| {
        a[(i, 3)] as f64 * 2.0 + (i % 7) as f64
    });
    let ridge = RidgeParams::default().check().unwrap();
    let raw = Stored(&file.layers[0].data);
    let geom = projection.residual_rows(&raw, 1e-5);
    let on_disk = cross_validate(&ridge, &geom, y.view(), &folds).unwrap();
    let memory = a.mapv(f64::from);
    let dense = Dense(memory.view());
    let geom_mem = projection.residual_rows(&dense, 1e-5);
    let in_memory = cross_validate(&ridge, &geom_mem, y.view(), &folds).unwrap();
    assert_eq!(on_disk[0].r2_folds, in_memory[0].r2_folds);
    assert_eq!(on_disk[0].oof, in_memory[0].oof);
    let stats = disk.stats();
    let max = stats.max_rows.load(std::sync::atomic::Ordering::Relaxed);
    let total = stats.rows.load(std::sync::atomic::Ordering::Relaxed);
    assert!(max <= BLOCK, "a read of {max} rows (block {BLOCK})");
    // Every row was read many times, one block at a time: the value check
    // when the file was opened, the projection (2 passes), then ridge: the
    // sums, the Gram sums and the target cross-products of every fold (one
    // pass each: the folds share them), per fold a leave-one-out pass over
    // its training rows (4 of 5 folds) and a prediction pass over its test
    // rows.
    let n = a.nrows();
    assert_eq!(total, n + 2 * n + 3 * n + 4 * n + n, "rows read");
}

#[test]
fn max_rows_fits_a_seeded_recorded_subsample_and_scores_every_row() {
    let run = |max_rows: Option<usize>| {
        let mut c = config(
            vec![("m", vec![data("embeddings/sevennet0.npz")])],
            vec![ProbeKind::Ridge, ProbeKind::Gbt],
        );
        c.embeddings[0].layers = Some(vec!["l_last".into()]);
        c.target_names = vec!["gap_ev".into()];
        c.params.gbt = cpd::probe::gbt::GbtParams {
            rounds: 15,
            ..Default::default()
        };
        c.max_rows = max_rows;
        analyze(&c).unwrap()
    };
    let full = run(None);
    let capped = run(Some(600));
    let again = run(Some(600));
    assert_same(&capped, &again, "--max-rows is deterministic");
    assert_eq!(capped.report.settings.max_rows, Some(600));
    assert_eq!(full.report.settings.max_rows, None);
    let json = serde_json::to_string(&full.report.settings).unwrap();
    assert!(!json.contains("max_rows"), "absent when unset: {json}");
    for (f, c) in full.report.results.iter().zip(&capped.report.results) {
        if f.probe == "ridge" {
            assert_eq!(numbers(f), numbers(c), "ridge uses every row");
        } else {
            assert_ne!(numbers(f), numbers(c), "gbt fits the subsample");
        }
        assert_eq!(c.n, 2500, "every row is scored");
    }
    // Every row has an out-of-fold prediction (a held-out row never drops).
    for p in &capped.predictions {
        assert_eq!(p.len(), 2500);
        assert!(p.iter().all(|v| v.is_finite() && *v != 0.0));
    }
    // A cap above the training fold changes nothing.
    assert_same(&full, &run(Some(2500)), "cap above the fold size");
}

#[test]
fn bad_shards_are_explained_with_the_file() {
    let dir = tempdir();
    let (ids, layers) = sevennet_aligned();
    let a = &layers[1].1;
    let top = dir.path().join("top.npy");
    write_npy(&top, &a.slice(s![..1000, ..]).to_owned());
    let err = |paths: Vec<PathBuf>| {
        analyze(&config(vec![("m", paths)], vec![ProbeKind::Ridge]))
            .unwrap_err()
            .to_string()
    };
    // Columns.
    let narrow = dir.path().join("narrow.npy");
    write_npy(&narrow, &a.slice(s![1000.., ..64]).to_owned());
    let e = err(vec![top.clone(), narrow]);
    assert!(
        e.contains("narrow.npy")
            && e.contains("64 columns but 128 columns in")
            && e.contains("top.npy"),
        "{e}"
    );
    // Dtype.
    let wide = dir.path().join("f64.npy");
    a.slice(s![1000.., ..])
        .mapv(f64::from)
        .write_npy(File::create(&wide).unwrap())
        .unwrap();
    let e = err(vec![top.clone(), wide]);
    assert!(
        e.contains("f64.npy") && e.contains("is float64 but float32"),
        "{e}"
    );
    // Layers.
    let p = dir.path().join("two.npz");
    write_npz(&p, &ids, &layers, &(0..1000).collect::<Vec<_>>(), false);
    let q = dir.path().join("one.npz");
    write_npz(
        &q,
        &ids,
        &layers[1..],
        &(1000..2500).collect::<Vec<_>>(),
        false,
    );
    let e = err(vec![p.clone(), q]);
    assert!(
        e.contains("one.npz") && e.contains("layers [l_last] differ from [l_prev, l_last]"),
        "{e}"
    );
    // Ids in one file only.
    let rest = dir.path().join("rest.npy");
    write_npy(&rest, &layers[0].1.slice(s![1000.., ..]).to_owned());
    let e = err(vec![p.clone(), rest]);
    assert!(
        e.contains("rest.npy") && e.contains("has no ids") && e.contains("two.npz has ids"),
        "{e}"
    );
    // The same id in two files.
    let dup = dir.path().join("dup.npz");
    write_npz(&dup, &ids, &layers, &(999..2500).collect::<Vec<_>>(), false);
    let e = err(vec![p, dup]);
    assert!(
        e.contains("dup.npz") && e.contains(&format!("id '{}' (row 0) is also in", ids[999])),
        "{e}"
    );
    // Rows that do not add up to the compositions.
    let e = err(vec![top.clone(), top]);
    assert!(e.contains("2000 rows") && e.contains("2500"), "{e}");
}

#[test]
fn the_cli_takes_a_list_or_a_glob_of_files() {
    let dir = tempdir();
    let (_, layers) = sevennet_aligned();
    let a = &layers[1].1;
    let mut shards = Vec::new();
    for (k, (lo, hi)) in [(0, 800), (800, 1600), (1600, 2500)]
        .into_iter()
        .enumerate()
    {
        let p = dir.path().join(format!("emb_{k:03}.npy"));
        write_npy(&p, &a.slice(s![lo..hi, ..]).to_owned());
        shards.push(p);
    }
    let base = |spec: String, out: &str| {
        let out_dir = dir.path().join(out);
        let o = cpd(
            dir.path(),
            &[
                "analyze",
                "--embeddings",
                &spec,
                "--compositions",
                &arg(&data("compositions.csv")),
                "--targets",
                &arg(&data("targets.csv")),
                "--target",
                "gap_ev",
                "--out",
                &arg(&out_dir),
                "-q",
            ],
        );
        assert!(o.status.success(), "{:?}", text(&o));
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
                .unwrap();
        r
    };
    let list = base(
        format!(
            "m={}",
            shards.iter().map(|p| arg(p)).collect::<Vec<_>>().join(",")
        ),
        "list",
    );
    let glob = base("m=emb_*.npy".into(), "glob");
    assert_eq!(list["results"], glob["results"]);
    let paths: Vec<&str> = glob["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["role"] == "embeddings")
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["emb_000.npy", "emb_001.npy", "emb_002.npy"]);
    let o = cpd(
        dir.path(),
        &[
            "analyze",
            "--embeddings",
            "m=x_*.npy",
            "--compositions",
            &arg(&data("compositions.csv")),
            "--targets",
            &arg(&data("targets.csv")),
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).1.contains("no file matches 'x_*.npy'"),
        "{:?}",
        text(&o)
    );
}
