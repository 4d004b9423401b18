//! A catalogue of malformed and awkward inputs, each driving the binary.
//!
//! Malformed input must exit 2 with a message naming the file and what is
//! wrong, never panic; legal but awkward input must give the right numbers.

use std::path::{Path, PathBuf};
use std::process::Output;

use ndarray::{array, Array1, Array2};
use serde_json::Value;

use crate::util::{
    assert_input_error, cpd, npy_bytes, replace_line, s, small, tempdir, text, write,
};

/// The small data set of `util::small` in a temporary directory, with its
/// embedding also as a plain matrix for writing other formats.
struct Fx {
    dir: tempfile::TempDir,
    comp: String,
    targ: String,
    emb: String,
}

impl Fx {
    fn new() -> Fx {
        let dir = tempdir();
        let (comp, targ, emb) = small(dir.path());
        Fx {
            dir,
            comp,
            targ,
            emb,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.path(name), bytes).unwrap();
        s(&self.path(name))
    }

    /// The embedding of `small` as a 12 × 3 matrix, in compositions order.
    fn matrix(&self) -> Array2<f64> {
        let t = cpd::io::table::read_table(Path::new(&self.emb)).unwrap();
        t.values
    }

    /// `cpd analyze --embeddings m=EMB --compositions COMP --targets TARG EXTRA…`.
    fn run_files(&self, emb: &str, comp: &str, targ: &str, extra: &[&str]) -> Output {
        let e = format!("m={emb}");
        let mut args = vec![
            "analyze",
            "--embeddings",
            &e,
            "--compositions",
            comp,
            "--targets",
            targ,
        ];
        args.extend_from_slice(extra);
        cpd(self.dir.path(), &args)
    }

    /// `cpd analyze` with the small data, 3 folds and `emb` as the embedding.
    fn run_with(&self, emb: &str, extra: &[&str]) -> Output {
        let mut args = vec!["--folds", "3"];
        args.extend_from_slice(extra);
        self.run_files(emb, &self.comp, &self.targ, &args)
    }

    /// Run and return (target, representation, r2_mean) of every record.
    fn r2(&self, emb: &str, out: &str) -> Vec<(String, String, f64)> {
        let o = self.run_with(emb, &["--out", out]);
        assert!(o.status.success(), "{:?}", text(&o));
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(self.path(out).join("report.json")).unwrap(),
        )
        .unwrap();
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let r2 = r["r2_mean"].as_f64().expect("finite r2_mean");
                (
                    r["target"].as_str().unwrap().into(),
                    r["representation"].as_str().unwrap().into(),
                    r2,
                )
            })
            .collect()
    }
}

fn le64(a: &Array2<f64>) -> Vec<u8> {
    a.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn assert_same(a: &[(String, String, f64)], b: &[(String, String, f64)], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!((&x.0, &x.1), (&y.0, &y.1));
        assert!((x.2 - y.2).abs() <= tol, "{x:?} vs {y:?}");
    }
}

fn npz(path: &Path, ids: Option<Array1<i64>>, arrays: &[(&str, Array2<f64>)]) {
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(path).unwrap());
    if let Some(ids) = ids {
        w.add_array("ids", &ids).unwrap();
    }
    for (name, a) in arrays {
        w.add_array(*name, a).unwrap();
    }
    w.finish().unwrap();
}

// ---- .npy --------------------------------------------------------------

#[test]
fn missing_embedding_file() {
    let f = Fx::new();
    assert_input_error(&f.run_with("nope.npy", &[]), &["nope.npy", "no such file"]);
}

#[test]
fn rows_without_ids_must_match_the_compositions() {
    let f = Fx::new();
    let data: Vec<u8> = (0..6).flat_map(|v| (v as f64).to_le_bytes()).collect();
    let p = f.file("three.npy", &npy_bytes("<f8", false, "(3, 2)", &data));
    assert_input_error(
        &f.run_with(&p, &[]),
        &["three.npy", "has 3 rows but", "has 12 structures"],
    );
}

#[test]
fn empty_npy_file() {
    let f = Fx::new();
    let p = f.file("empty.npy", b"");
    assert_input_error(&f.run_with(&p, &[]), &["empty.npy", "not a valid .npy"]);
}

#[test]
fn truncated_npy() {
    let f = Fx::new();
    let mut bytes = npy_bytes("<f8", false, "(12, 3)", &le64(&f.matrix()));
    bytes.truncate(bytes.len() - 13);
    let p = f.file("trunc.npy", &bytes);
    assert_input_error(&f.run_with(&p, &[]), &["trunc.npy", "truncated"]);
}

#[test]
fn wrong_magic() {
    let f = Fx::new();
    let mut bytes = npy_bytes("<f8", false, "(12, 3)", &le64(&f.matrix()));
    bytes[1] = b'X';
    let p = f.file("magic.npy", &bytes);
    assert_input_error(&f.run_with(&p, &[]), &["magic.npy", "not a valid .npy"]);
}

#[test]
fn unsupported_dtypes_object_complex_int8() {
    let f = Fx::new();
    for (name, descr, bytes) in [
        ("obj.npy", "|O", vec![0u8; 36 * 8]),
        ("cplx.npy", "<c16", vec![0u8; 36 * 16]),
        ("int8.npy", "|i1", vec![0u8; 36]),
    ] {
        let p = f.file(name, &npy_bytes(descr, false, "(12, 3)", &bytes));
        assert_input_error(
            &f.run_with(&p, &[]),
            &[name, "unsupported dtype", "float32 or float64"],
        );
    }
}

#[test]
fn big_endian_floats_are_read_correctly() {
    let f = Fx::new();
    let be: Vec<u8> = f.matrix().iter().flat_map(|v| v.to_be_bytes()).collect();
    let p = f.file("be.npy", &npy_bytes(">f8", false, "(12, 3)", &be));
    assert_same(&f.r2(&p, "be"), &f.r2(&f.emb, "csv"), 0.0);
}

#[test]
fn fortran_order_is_read_correctly() {
    let f = Fx::new();
    let m = f.matrix();
    let col_major: Vec<u8> = m.t().iter().flat_map(|v| v.to_le_bytes()).collect();
    let p = f.file("fort.npy", &npy_bytes("<f8", true, "(12, 3)", &col_major));
    assert_same(&f.r2(&p, "fort"), &f.r2(&f.emb, "csv"), 0.0);
}

#[test]
fn float32_is_widened() {
    let f = Fx::new();
    let m = f.matrix().mapv(|v| v as f32);
    let p = f.file(
        "f32.npy",
        &npy_bytes(
            "<f4",
            false,
            "(12, 3)",
            &m.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
        ),
    );
    let widened = m.mapv(f64::from);
    let q = f.file(
        "f64.npy",
        &npy_bytes("<f8", false, "(12, 3)", &le64(&widened)),
    );
    assert_same(&f.r2(&p, "a"), &f.r2(&q, "b"), 0.0);
}

#[test]
fn header_shape_disagrees_with_data_length() {
    let f = Fx::new();
    let p = f.file(
        "long.npy",
        &npy_bytes("<f8", false, "(11, 3)", &le64(&f.matrix())),
    );
    assert_input_error(
        &f.run_with(&p, &[]),
        &["long.npy", "24 bytes beyond the data"],
    );
}

#[test]
fn huge_header_shape_is_an_error_not_an_allocation() {
    let f = Fx::new();
    let p = f.file(
        "huge.npy",
        &npy_bytes("<f8", false, "(1000000000000, 1000000000000)", &[0u8; 64]),
    );
    assert_input_error(&f.run_with(&p, &[]), &["huge.npy", "too large"]);
    let p = f.file(
        "big.npy",
        &npy_bytes("<f8", false, "(100000000, 1000)", &[0u8; 64]),
    );
    assert_input_error(&f.run_with(&p, &[]), &["big.npy", "truncated"]);
}

#[test]
fn one_dimensional_array() {
    let f = Fx::new();
    let p = f.file(
        "vec.npy",
        &npy_bytes("<f8", false, "(36,)", &le64(&f.matrix())),
    );
    assert_input_error(&f.run_with(&p, &[]), &["vec.npy", "expected a 2-D array"]);
}

#[test]
fn nan_and_inf_cells_say_where() {
    let f = Fx::new();
    for (name, bad, shown) in [
        ("nan.npy", f64::NAN, "NaN"),
        ("inf.npy", f64::INFINITY, "inf"),
    ] {
        let mut m = f.matrix();
        m[(7, 2)] = bad;
        let p = f.file(name, &npy_bytes("<f8", false, "(12, 3)", &le64(&m)));
        assert_input_error(
            &f.run_with(&p, &[]),
            &[name, &format!("first is {shown} at row 7, column 2")],
        );
    }
}

// ---- .npz --------------------------------------------------------------

#[test]
fn npz_with_ids_in_another_order_is_aligned() {
    let f = Fx::new();
    let m = f.matrix();
    let order = [3usize, 0, 11, 5, 1, 2, 4, 6, 7, 8, 9, 10];
    let shuffled = m.select(ndarray::Axis(0), &order);
    // Ids are the numeric part of m0..m11; compositions use "m3", so give the npz a CSV of numeric ids.
    let comp = std::fs::read_to_string(&f.comp)
        .unwrap()
        .replace("\nm", "\n");
    let targ = std::fs::read_to_string(&f.targ)
        .unwrap()
        .replace("\nm", "\n");
    let c = write(f.dir.path(), "comp_num.csv", &comp);
    let t = write(f.dir.path(), "targ_num.csv", &targ);
    npz(
        &f.path("shuf.npz"),
        Some(order.iter().map(|&i| i as i64).collect()),
        &[("layer", shuffled)],
    );
    let a = cpd(
        f.dir.path(),
        &[
            "analyze",
            "--embeddings",
            "m=shuf.npz",
            "--compositions",
            &s(&c),
            "--targets",
            &s(&t),
            "--folds",
            "3",
            "--out",
            "npz",
        ],
    );
    let b = f.r2(&f.emb, "csv");
    assert!(a.status.success(), "{:?}", text(&a));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("npz/report.json")).unwrap()).unwrap();
    let got: Vec<f64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["r2_mean"].as_f64().unwrap())
        .collect();
    let want: Vec<f64> = b.iter().map(|r| r.2).collect();
    assert_eq!(got, want);
}

#[test]
fn npz_without_ids_follows_the_compositions() {
    let f = Fx::new();
    npz(&f.path("noids.npz"), None, &[("layer", f.matrix())]);
    assert_same(&f.r2("noids.npz", "a"), &f.r2(&f.emb, "b"), 0.0);
}

#[test]
fn npz_with_an_extra_non_matrix_array() {
    let f = Fx::new();
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(f.path("extra.npz")).unwrap());
    w.add_array("layer", &f.matrix()).unwrap();
    w.add_array("energies", &Array1::<f64>::zeros(12)).unwrap();
    w.finish().unwrap();
    assert_input_error(
        &f.run_with("extra.npz", &[]),
        &["extra.npz", "array 'energies'", "expected a 2-D array"],
    );
}

#[test]
fn npz_with_only_ids() {
    let f = Fx::new();
    npz(
        &f.path("onlyids.npz"),
        Some(Array1::from_iter(0..12i64)),
        &[],
    );
    assert_input_error(
        &f.run_with("onlyids.npz", &[]),
        &["onlyids.npz", "no embedding arrays"],
    );
}

#[test]
fn npz_with_duplicate_or_float_ids() {
    let f = Fx::new();
    npz(
        &f.path("dup.npz"),
        Some(array![0i64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]),
        &[("l", f.matrix())],
    );
    assert_input_error(&f.run_with("dup.npz", &[]), &["dup.npz", "duplicate id 10"]);
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(f.path("fids.npz")).unwrap());
    w.add_array("ids", &Array1::<f64>::zeros(12)).unwrap();
    w.add_array("l", &f.matrix()).unwrap();
    w.finish().unwrap();
    assert_input_error(
        &f.run_with("fids.npz", &[]),
        &["fids.npz", "'ids' must be a complete 1-D integer array"],
    );
}

#[test]
fn npz_that_is_not_a_zip() {
    let f = Fx::new();
    let p = f.file("notzip.npz", b"hello");
    assert_input_error(&f.run_with(&p, &[]), &["notzip.npz", "not a valid .npz"]);
}

// ---- tables ------------------------------------------------------------

#[test]
fn zero_rows() {
    let f = Fx::new();
    let c = f.file("c0.csv", b"id,H,C,O\n");
    let out = f.run_files(&f.emb, &c, &f.targ, &[]);
    assert_input_error(&out, &["c0.csv", "no data rows"]);
}

#[test]
fn fewer_rows_than_folds() {
    let f = Fx::new();
    let out = f.run_files(&f.emb, &f.comp, &f.targ, &["--folds", "13"]);
    assert_input_error(&out, &["12 rows are fewer than the 13 folds"]);
}

#[test]
fn duplicate_ids() {
    let f = Fx::new();
    let c = write(
        f.dir.path(),
        "cdup.csv",
        &replace_line(&f.comp, "m4,", "m3,1,1,1"),
    );
    let out = f.run_files(&f.emb, &s(&c), &f.targ, &[]);
    assert_input_error(
        &out,
        &[
            "cdup.csv",
            "row 5",
            "duplicate id 'm3' (first seen in row 4)",
        ],
    );
}

#[test]
fn id_in_one_file_and_not_the_other() {
    let f = Fx::new();
    let t = write(
        f.dir.path(),
        "tmiss.csv",
        &replace_line(&f.targ, "m9,", "x9,1,2"),
    );
    let out = f.run_files(&f.emb, &f.comp, &s(&t), &[]);
    assert_input_error(&out, &["tmiss.csv", "id 'm9' (row 10 of", "is missing"]);
    let e = write(
        f.dir.path(),
        "eextra.csv",
        &(std::fs::read_to_string(&f.emb).unwrap() + "m99,1,2,3\n"),
    );
    assert_input_error(
        &f.run_with(&s(&e), &[]),
        &["eextra.csv", "id 'm99' (row 13) is not in"],
    );
}

#[test]
fn non_numeric_and_empty_cells() {
    let f = Fx::new();
    let e = write(
        f.dir.path(),
        "word.csv",
        &replace_line(&f.emb, "m2,", "m2,1.0,two,3"),
    );
    assert_input_error(
        &f.run_with(&s(&e), &[]),
        &["word.csv", "row 3, column 'e1'", "'two' is not a number"],
    );
    let t = write(
        f.dir.path(),
        "blank.csv",
        &replace_line(&f.targ, "m0,", "m0,,5"),
    );
    let out = f.run_files(&f.emb, &f.comp, &s(&t), &[]);
    assert_input_error(&out, &["blank.csv", "row 1, column 'y'", "empty cell"]);
}

#[test]
fn nan_target() {
    let f = Fx::new();
    let t = write(
        f.dir.path(),
        "tnan.csv",
        &replace_line(&f.targ, "m6,", "m6,1.0,nan"),
    );
    let out = f.run_files(&f.emb, &f.comp, &s(&t), &[]);
    assert_input_error(&out, &["tnan.csv", "row 7, column 'm'", "not finite"]);
}

#[test]
fn ragged_row_and_missing_id_column() {
    let f = Fx::new();
    let e = write(
        f.dir.path(),
        "ragged.csv",
        &replace_line(&f.emb, "m2,", "m2,1,2"),
    );
    assert_input_error(
        &f.run_with(&s(&e), &[]),
        &["ragged.csv", "line 4: 3 fields, expected 4"],
    );
    let t = f.file("noid.csv", b"name,y\na,1\n");
    let out = f.run_files(&f.emb, &f.comp, &t, &[]);
    assert_input_error(&out, &["noid.csv", "no 'id' column"]);
}

#[test]
fn unknown_element_symbol_and_negative_count() {
    let f = Fx::new();
    let c = write(
        f.dir.path(),
        "cx.csv",
        &std::fs::read_to_string(&f.comp)
            .unwrap()
            .replacen("id,H,C,O", "id,H,C,Q", 1),
    );
    let out = f.run_files(&f.emb, &s(&c), &f.targ, &[]);
    assert_input_error(&out, &["cx.csv", "column 'Q' is not an element symbol"]);
    let c = write(
        f.dir.path(),
        "cneg.csv",
        &replace_line(&f.comp, "m1,", "m1,-1,2,0"),
    );
    let out = f.run_files(&f.emb, &s(&c), &f.targ, &[]);
    assert_input_error(
        &out,
        &["cneg.csv", "row 2, column 'H'", "negative atom count"],
    );
}

#[test]
fn folds_file_problems() {
    let f = Fx::new();
    let bad = f.file("folds_missing.csv", b"id,fold\nm0,0\nm1,1\n");
    assert_input_error(
        &f.run_files(&f.emb, &f.comp, &f.targ, &["--folds-file", &bad]),
        &["folds_missing.csv", "id 'm2'", "is missing"],
    );
    let mut content = String::from("id,fold\n");
    for i in 0..12 {
        content.push_str(&format!(
            "m{i},{}\n",
            if i == 4 {
                "1.5".to_string()
            } else {
                (i % 2).to_string()
            }
        ));
    }
    let frac = f.file("folds_frac.csv", content.as_bytes());
    assert_input_error(
        &f.run_files(&f.emb, &f.comp, &f.targ, &["--folds-file", &frac]),
        &["folds_frac.csv", "is not an integer in 0..12"],
    );
}

// ---- extended XYZ ------------------------------------------------------

fn xyz_run(f: &Fx, name: &str, content: &str) -> Output {
    let p = write(f.dir.path(), name, content);
    let t = f.file("t2.csv", b"id,y\na,1\nb,2\nc,3\n");
    let e = f.file("e2.csv", b"id,e\na,1\nb,2\nc,4\n");
    cpd(
        f.dir.path(),
        &[
            "analyze",
            "--embeddings",
            &format!("m={e}"),
            "--structures",
            &s(&p),
            "--targets",
            &t,
            "--folds",
            "2",
        ],
    )
}

#[test]
fn extxyz_unknown_element() {
    let f = Fx::new();
    let out = xyz_run(
        &f,
        "el.xyz",
        "1\nid=a\nH 0 0 0\n1\nid=b\nZz 0 0 0\n1\nid=c\nO 0 0 0\n",
    );
    assert_input_error(&out, &["el.xyz", "line 6", "unknown element symbol 'Zz'"]);
}

#[test]
fn extxyz_wrong_atom_count_lines() {
    let f = Fx::new();
    // Says 1 atom but has 2: the second atom is read as the next frame's count line.
    let out = xyz_run(
        &f,
        "few.xyz",
        "1\nid=a\nH 0 0 0\nH 0 0 1\n1\nid=b\nO 0 0 0\n",
    );
    assert_input_error(&out, &["few.xyz", "line 4", "expected the number of atoms"]);
    // Says 3 atoms but the file ends.
    let out = xyz_run(&f, "many.xyz", "1\nid=a\nH 0 0 0\n3\nid=b\nO 0 0 0\n");
    assert_input_error(
        &out,
        &["many.xyz", "frame 1 says 3 atoms but the file ends after 1"],
    );
}

// ---- legal but awkward -------------------------------------------------

#[test]
fn a_constant_target_has_no_r2_and_is_refused() {
    let f = Fx::new();
    let mut t = String::from("id,c\n");
    for i in 0..12 {
        t.push_str(&format!("m{i},4.25\n"));
    }
    let t = f.file("tconst.csv", t.as_bytes());
    let out = f.run_files(&f.emb, &f.comp, &t, &["--folds", "3", "--out", "c"]);
    assert_input_error(
        &out,
        &[
            "tconst.csv",
            "no target left to probe",
            "c: constant (4.25 on every row): a constant target has no R²",
        ],
    );
    assert!(!f.path("c/report.json").exists(), "no report written");
}

#[test]
fn constant_embedding_column_changes_nothing() {
    let f = Fx::new();
    let m = f.matrix();
    let mut with = Array2::<f64>::from_elem((12, 4), 7.5);
    with.slice_mut(ndarray::s![.., ..3]).assign(&m);
    let a = f.file(
        "const.npy",
        &npy_bytes("<f8", false, "(12, 4)", &le64(&with)),
    );
    let b = f.file("plain.npy", &npy_bytes("<f8", false, "(12, 3)", &le64(&m)));
    assert_same(&f.r2(&a, "a"), &f.r2(&b, "b"), 1e-9);
}

#[test]
fn duplicated_columns_and_d_much_larger_than_n() {
    let f = Fx::new();
    let m = f.matrix();
    let dup = ndarray::concatenate![ndarray::Axis(1), m, m, m];
    let p = f.file("dup.npy", &npy_bytes("<f8", false, "(12, 9)", &le64(&dup)));
    let r = f.r2(&p, "dup");
    assert!(r.iter().all(|x| x.2.is_finite()));
    let wide = Array2::from_shape_fn((12, 400), |(i, j)| {
        ((i * 31 + j * 17) % 23) as f64 + m[(i, j % 3)]
    });
    let p = f.file(
        "wide.npy",
        &npy_bytes("<f8", false, "(12, 400)", &le64(&wide)),
    );
    let r = f.r2(&p, "wide");
    assert!(r.iter().all(|x| x.2.is_finite()));
}

#[test]
fn composition_of_rank_one() {
    let f = Fx::new();
    let mut c = String::from("id,H,C,O\n");
    for i in 0..12 {
        c.push_str(&format!("m{i},2,1,0\n"));
    }
    let c = f.file("crank1.csv", c.as_bytes());
    let out = f.run_files(&f.emb, &c, &f.targ, &["--folds", "3", "--out", "r1"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("r1/report.json")).unwrap()).unwrap();
    assert_eq!(v["composition"]["rank"], 1);
    assert_eq!(v["composition"]["dropped"].as_array().unwrap().len(), 3);
    assert!(v["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["r2_mean"].is_f64()));
}

// ---- arguments and outputs --------------------------------------------

#[test]
fn unknown_target_name() {
    let f = Fx::new();
    assert_input_error(
        &f.run_with(&f.emb, &["--target", "gap_ev"]),
        &[
            "targets.csv",
            "unknown target 'gap_ev'",
            "the file has: y, m",
        ],
    );
}

#[test]
fn unwritable_output_directory() {
    let f = Fx::new();
    f.file("afile", b"x");
    assert_input_error(
        &f.run_with(&f.emb, &["--out", "afile/sub"]),
        &["output directory is not writable", "afile/sub"],
    );
}

#[test]
fn invalid_settings() {
    let f = Fx::new();
    assert_input_error(
        &f.run_with(&f.emb, &["--alpha", "0"]),
        &["alpha must be finite and > 0"],
    );
    assert_input_error(
        &f.run_with(&f.emb, &["--alphas", "1,-2"]),
        &["alpha must be finite and > 0, got -2"],
    );
    assert_input_error(
        &f.run_with(&f.emb, &["--probes", "forest"]),
        &["invalid value 'forest' for '--probes <LIST>'"],
    );
    let e = format!("m={}", f.emb);
    let out = cpd(
        f.dir.path(),
        &[
            "analyze",
            "--embeddings",
            &e,
            "--embeddings",
            &e,
            "--compositions",
            &f.comp,
            "--targets",
            &f.targ,
        ],
    );
    assert_input_error(&out, &["model name 'm' is used twice"]);
    assert_input_error(&f.run_with("x.txt", &[]), &["x.txt"]);
    let e = format!("m={}", f.emb);
    let out = cpd(
        f.dir.path(),
        &["analyze", "--embeddings", &e, "--compositions", &f.comp],
    );
    assert_input_error(&out, &["--targets FILE is required"]);
    let out = cpd(
        f.dir.path(),
        &[
            "analyze",
            "--embeddings",
            "m=",
            "--compositions",
            &f.comp,
            "--targets",
            &f.targ,
        ],
    );
    assert_input_error(&out, &["expected NAME=PATH"]);
}

#[test]
fn embeddings_csv_with_header_only() {
    let f = Fx::new();
    let p = f.file("hdr.csv", b"id,e0\n");
    assert_input_error(&f.run_with(&p, &[]), &["hdr.csv", "is missing"]);
}

#[test]
fn singleton_folds_are_refused() {
    let f = Fx::new();
    let out = f.run_files(&f.emb, &f.comp, &f.targ, &["--folds", "7"]);
    assert_input_error(
        &out,
        &["12 rows are too few for 7 folds", "at least 2 rows"],
    );
}

#[test]
fn float32_rounding_of_compositional_columns_is_not_a_feature() {
    // Every embedding column is a linear function of the counts, stored as
    // float32; the target is a nonlinear function of the counts. The f32
    // rounding residue must not leak composition into the residual.
    let f = Fx::new();
    let (n, d) = (2000, 256);
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let w: Vec<[f64; 4]> = (0..d)
        .map(|_| [next() * 4.0, next() * 4.0, next() * 4.0, next() * 10.0])
        .collect();
    let mut comp = String::from("id,H,C,O\n");
    let mut targ = String::from("id,y\n");
    let mut data = Vec::new();
    for i in 0..n {
        let c = [
            (next() * 10.0 + 5.0) as usize,
            (next() * 10.0 + 5.0) as usize,
            (next() * 10.0 + 5.0) as usize,
        ];
        comp.push_str(&format!("r{i},{},{},{}\n", c[0], c[1], c[2]));
        targ.push_str(&format!(
            "r{i},{}\n",
            (c[0] as f64 - 4.5).powi(2) + (c[1] as f64 - 4.5).powi(2)
        ));
        for wj in &w {
            let v = wj[3] + wj[0] * c[0] as f64 + wj[1] * c[1] as f64 + wj[2] * c[2] as f64;
            data.extend_from_slice(&(v as f32).to_le_bytes());
        }
    }
    let c = write(f.dir.path(), "c300.csv", &comp);
    let t = write(f.dir.path(), "t300.csv", &targ);
    let e = f.file(
        "f32lin.npy",
        &npy_bytes("<f4", false, &format!("({n}, {d})"), &data),
    );
    let out = cpd(
        f.dir.path(),
        &[
            "analyze",
            "--embeddings",
            &format!("m={e}"),
            "--compositions",
            &s(&c),
            "--targets",
            &s(&t),
            "--out",
            "o",
        ],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("o/report.json")).unwrap()).unwrap();
    for r in v["results"].as_array().unwrap() {
        if r["representation"] == "geom" {
            assert!(r["r2_mean"].as_f64().unwrap() <= 0.02, "{r}");
        }
    }
}

#[test]
fn overflowing_magnitudes_are_refused() {
    let f = Fx::new();
    let mut m = f.matrix();
    m[(2, 1)] = 1e300;
    let p = f.file("big.npy", &npy_bytes("<f8", false, "(12, 3)", &le64(&m)));
    assert_input_error(
        &f.run_with(&p, &[]),
        &["big.npy", "row 2, column 1", "rescale"],
    );
    let c = write(
        f.dir.path(),
        "cbig.csv",
        &replace_line(&f.comp, "m1,", "m1,1e200,2,0"),
    );
    let out = f.run_files(&f.emb, &s(&c), &f.targ, &[]);
    assert_input_error(&out, &["cbig.csv", "row 2, column 'H'", "exceeds"]);
}

/// Every fuzz seed and every reproducer of a past fuzz crash goes through its
/// parser without panicking (the fuzz targets themselves need `cargo fuzz`).
#[test]
fn fuzz_seeds_and_regressions_do_not_panic() {
    let root = crate::util::root().join("tests/fuzz");
    let mut seen = 0;
    for kind in ["seeds", "regressions"] {
        for target in ["npy", "npz", "table", "xyz"] {
            let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else {
                continue;
            };
            for entry in dir {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let label = Path::new("input");
                match target {
                    "npy" => drop(cpd::io::embeddings::parse_npy_bytes(&bytes)),
                    "npz" => drop(cpd::io::embeddings::parse_npz_bytes(&bytes)),
                    "table" => drop(cpd::io::table::parse_table(
                        std::io::Cursor::new(&bytes),
                        label,
                    )),
                    _ => {
                        if let Ok(text) = std::str::from_utf8(&bytes) {
                            drop(cpd::io::xyz::parse_compositions(text, label));
                        }
                    }
                }
                seen += 1;
            }
        }
    }
    assert!(seen >= 60, "only {seen} fuzz inputs found");
}
