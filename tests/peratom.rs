//! Per-atom embeddings and layouts stored in the file, against the numpy
//! references of `scripts/make_peratom_fixture.py`
//! (`tests/fixtures/peratom/`).

use std::fs::File;
use std::path::{Path, PathBuf};

use cpd::io::embeddings::load_pooled;
use cpd::io::peratom::{read_compositions, Pool};
use cpd::io::table::read_table;
use ndarray::{Array1, Array2};
use ndarray_npy::{NpzReader, NpzWriter};

use crate::util::{assert_input_error, cpd, data, root, s, tempdir, text, write};

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/peratom").join(name)
}

fn report(dir: &Path, out: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(out).join("report.json")).unwrap())
        .unwrap()
}

#[test]
fn per_atom_layers_pool_three_ways_like_numpy() {
    let mut refs = NpzReader::new(File::open(fixture("reference.npz")).unwrap()).unwrap();
    let ids: Array1<i64> = refs.by_name("ids").unwrap();
    let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let mut checked = 0;
    for file in ["atoms.npz", "atoms_n.npz"] {
        for pool in [Pool::Mean, Pool::Sum, Pool::Max] {
            let f = load_pooled(&fixture(file), pool).unwrap();
            assert_eq!(f.ids.as_ref(), Some(&ids), "{file}");
            assert_eq!(f.atoms, Some(2160), "{file}");
            for layer in &f.layers {
                let want: Array2<f64> = refs
                    .by_name(&format!("{}_{}", pool.name(), layer.name))
                    .unwrap();
                let got = layer.data.to_f64();
                assert_eq!(got.dim(), want.dim());
                for (g, w) in got.iter().zip(&want) {
                    let bound = match layer.dtype() {
                        // numpy's pairwise sums against cpd's sequential ones
                        "float64" => 1e-12 * w.abs().max(1.0),
                        // the f64 result rounded once to float32: within one ulp
                        _ => f64::from(f32::EPSILON) * w.abs(),
                    };
                    assert!(
                        (g - w).abs() <= bound,
                        "{file} {pool:?} {}: {g} vs numpy {w}",
                        layer.name
                    );
                    if pool == Pool::Max {
                        assert_eq!(*g, *w, "max is exact");
                    }
                }
                checked += 1;
            }
        }
    }
    // a and b of atoms.npz, a of atoms_n.npz, three ways each
    assert_eq!(checked, 9);
}

#[test]
fn compositions_from_numbers_equal_the_counts_file() {
    let derived = read_compositions(&fixture("qm9_numbers.npz")).unwrap();
    let counts = read_table(&data("compositions.csv")).unwrap();
    assert_eq!(derived.ids.len(), 2500);
    assert_eq!(derived.ids, counts.ids);
    assert_eq!(derived.columns, counts.columns);
    assert_eq!(derived.values, counts.values);
}

#[test]
fn a_per_atom_run_is_bit_identical_to_the_pooled_file_run() {
    let dir = tempdir();
    let targets = s(&fixture("targets.csv"));
    // Per atom: compositions derived from `numbers`, mean pooling (default),
    // channel groups of `b` from `irreps/b`.
    let a = cpd(
        dir.path(),
        &[
            "analyze",
            "--embeddings",
            &format!("m={}", s(&fixture("atoms.npz"))),
            "--targets",
            &targets,
            "--out",
            "per_atom",
        ],
    );
    assert!(a.status.success(), "{:?}", text(&a));
    // Pooled by numpy, compositions from the counts file.
    let b = cpd(
        dir.path(),
        &[
            "analyze",
            "--embeddings",
            &format!("m={}", s(&fixture("pooled.npz"))),
            "--compositions",
            &s(&fixture("compositions.csv")),
            "--targets",
            &targets,
            "--out",
            "pooled",
        ],
    );
    assert!(b.status.success(), "{:?}", text(&b));
    let (ra, rb) = (report(dir.path(), "per_atom"), report(dir.path(), "pooled"));
    assert_eq!(ra["results"], rb["results"]);
    assert_eq!(ra["composition"], rb["composition"]);
    let csv = |d: &str| std::fs::read(dir.path().join(d).join("results.csv")).unwrap();
    assert_eq!(csv("per_atom"), csv("pooled"));
    // 6 targets × (composition + raw + geom) for a, b and b's two groups.
    let results = ra["results"].as_array().unwrap();
    let groups: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r["channels"].as_str())
        .collect();
    assert_eq!(groups, ["1x1o", "2x0e"].into_iter().collect());
    assert_eq!(ra["settings"]["pool"], "mean");
    assert!(rb["settings"].get("pool").is_none());
    let atoms: Vec<&serde_json::Value> = ra["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["atoms"])
        .collect();
    assert_eq!(
        atoms,
        [
            &serde_json::Value::Null,
            &serde_json::Value::Null,
            &2160.into(),
            &2160.into()
        ]
    );
    assert_eq!(ra["inputs"][0]["role"], "atoms");
    assert_eq!(
        ra["composition"]["columns"],
        serde_json::json!(["H", "C", "N", "O", "F"])
    );
}

#[test]
fn the_pool_is_a_manifest_key_and_a_flag_and_is_reported() {
    let dir = tempdir();
    let manifest = write(
        dir.path(),
        "m.toml",
        &format!(
            "[dataset]\ntargets = \"{}\"\n[settings]\npool = \"sum\"\ntargets = [\"mass_amu\"]\n\
             [[models]]\nname = \"m\"\nfile = \"{}\"\nlayers = [\"a\"]\n",
            s(&fixture("targets.csv")),
            s(&fixture("atoms_n.npz"))
        ),
    );
    let mut r2_raw = Vec::new();
    for (out, extra, want) in [
        ("sum", None, "sum"),
        ("max", Some("max"), "max"),
        ("mean", Some("mean"), "mean"),
    ] {
        let mut args = vec![
            "analyze",
            "--manifest",
            manifest.to_str().unwrap(),
            "--out",
            out,
        ];
        if let Some(p) = extra {
            args.extend(["--pool", p]);
        }
        let o = cpd(dir.path(), &args);
        assert!(o.status.success(), "{:?}", text(&o));
        let r = report(dir.path(), out);
        assert_eq!(r["settings"]["pool"], want);
        let raw = r["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["representation"] == "raw")
            .unwrap()["r2_mean"]
            .as_f64()
            .unwrap();
        r2_raw.push(raw);
    }
    // Sum pooling makes an extensive target (the mass) nearly linear in the
    // pooled features; the three poolings really differ.
    assert!(r2_raw[0] > r2_raw[2], "{r2_raw:?}");
    assert!(r2_raw[0] != r2_raw[1] && r2_raw[1] != r2_raw[2]);
    let bad = cpd(
        dir.path(),
        &[
            "analyze",
            "--manifest",
            manifest.to_str().unwrap(),
            "--pool",
            "median",
        ],
    );
    let (_, err) = text(&bad);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid value 'median' for '--pool <POOL>'")
            && err.contains("[possible values: mean, sum, max]"),
        "{err}"
    );
}

#[test]
fn bad_counts_are_clear_errors_from_the_cli() {
    let dir = tempdir();
    let targets = s(&fixture("targets.csv"));
    let npz =
        |name: &str, structure: Option<Vec<i64>>, n_atoms: Option<Vec<i64>>, numbers: Vec<u8>| {
            let p = dir.path().join(name);
            let mut w = NpzWriter::new(File::create(&p).unwrap());
            w.add_array("h", &Array2::<f32>::ones((5, 3))).unwrap();
            if let Some(v) = structure {
                w.add_array("structure", &Array1::from(v)).unwrap();
            }
            if let Some(v) = n_atoms {
                w.add_array("n_atoms", &Array1::from(v)).unwrap();
            }
            w.add_array("numbers", &Array1::from(numbers)).unwrap();
            w.finish().unwrap();
            format!("m={}", s(&p))
        };
    let cases = [
        (
            npz("short.npz", Some(vec![1, 1, 2, 2]), None, vec![1, 1, 6, 1]),
            "array 'h' has 5 rows but 'structure' has 4 atoms",
        ),
        (
            npz("sum.npz", None, Some(vec![2, 2]), vec![1, 1, 6, 1]),
            "array 'h' has 5 rows but 'n_atoms' sums to 4 atoms",
        ),
        (
            npz("num.npz", None, Some(vec![2, 3]), vec![1, 1, 6, 1]),
            "array 'numbers' has 4 entries (one per atom) but 'n_atoms' sums to 5 atoms",
        ),
        (
            npz("zero.npz", None, Some(vec![5, 0]), vec![1, 1, 6, 1, 1]),
            "array 'n_atoms': entry 1 (0-based) is 0",
        ),
    ];
    // The layers are read after the tables (a valid pair of 10 rows).
    let comp: String = (0..10).map(|i| format!("{i},{}\n", i + 1)).collect();
    let comp = s(&write(dir.path(), "c.csv", &format!("id,H\n{comp}")));
    let targ: String = (0..10).map(|i| format!("{i},{}\n", i * i)).collect();
    let targ = s(&write(dir.path(), "t.csv", &format!("id,y\n{targ}")));
    for (arg, needle) in &cases {
        let out = cpd(
            dir.path(),
            &[
                "analyze",
                "--embeddings",
                arg,
                "--compositions",
                &comp,
                "--targets",
                &targ,
            ],
        );
        let file = arg.trim_start_matches("m=");
        assert_input_error(&out, &[needle, file]);
    }
    // No compositions given and a file without `numbers`.
    let out = cpd(
        dir.path(),
        &[
            "analyze",
            "--embeddings",
            &format!("m={}", s(&fixture("pooled.npz"))),
            "--targets",
            &targets,
        ],
    );
    assert_input_error(&out, &["pooled.npz", "not a per-atom file", "compositions"]);
}

#[test]
fn inspect_shows_atoms_and_the_layout_in_the_file() {
    let dir = tempdir();
    let out = cpd(dir.path(), &["inspect", &s(&fixture("atoms.npz"))]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("120 row ids"), "{stdout}");
    assert!(stdout.contains("per atom: 2160 atom rows"), "{stdout}");
    assert!(
        stdout.contains("layer 'b': irreps 2x0e+1x1o: 2x0e = columns 0..2, 1x1o = columns 2..5"),
        "{stdout}"
    );
    let out = cpd(
        dir.path(),
        &["inspect", "--json", &s(&fixture("atoms.npz"))],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["atoms"], 2160);
    assert_eq!(v["layers"][1]["irreps"], "2x0e+1x1o");
    assert_eq!(v["layers"][1]["groups"][1]["start"], 2);
    assert_eq!(v["layers"][0]["irreps"], serde_json::Value::Null);
}

#[test]
fn cpd_pool_writes_the_numpy_pooled_file() {
    let dir = tempdir();
    let out = dir.path().join("p.npz");
    let o = cpd(
        dir.path(),
        &["pool", &s(&fixture("atoms.npz")), "--out", &s(&out)],
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.contains("2160 atoms pooled (mean) into 120 structures; layers a (4), b (5)"),
        "{stdout}"
    );
    let ours = cpd::io::embeddings::load(&out).unwrap();
    let numpy = cpd::io::embeddings::load(&fixture("pooled.npz")).unwrap();
    let mut ours_layers = ours.layers.clone();
    // pooled.npz is in ascending id order; ours in first-appearance order
    let ids = ours.ids.clone().unwrap();
    let order = cpd::flow::dataset::align_ids(
        &ids,
        &out,
        numpy.ids.as_ref().unwrap(),
        &fixture("pooled.npz"),
    )
    .unwrap();
    for (a, b) in ours_layers.iter_mut().zip(&numpy.layers) {
        let mut theirs = b.data.clone();
        theirs.permute_rows(&order);
        assert_eq!(a.data, theirs, "{}", a.name);
        assert_eq!(a.irreps, b.irreps);
    }
    let o = cpd(
        dir.path(),
        &["pool", &s(&fixture("pooled.npz")), "--out", &s(&out)],
    );
    assert_input_error(&o, &["pooled.npz", "not a per-atom file"]);
}
