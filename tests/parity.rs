//! cpd's probes against scikit-learn and LightGBM on the bundled QM9 data.
//!
//! `tests/fixtures/sklearn_ridge.json` is written by `scripts/reference.py`
//! (StandardScaler + RidgeCV(logspace(-3,3,13)) and Ridge(alpha=1) per fold,
//! on cpd's own seed-0 fold assignment). Every model, layer, target and
//! representation must agree: per-fold R² within 1e-6 and the same alpha
//! chosen on every training fold. The MLP and GBT probes are held to the
//! accuracy of `MLPRegressor` and LightGBM (see their tests).
//!
//! Two tiers. `cargo test` checks each probe on a subset of the bundled
//! records (`RIDGE_SUBSET`, `MLP_SUBSET`, `GBT_SUBSET`, each explained
//! where it is defined): every code path, and every record that was ever
//! the worst or fell short, within a few minutes on two cores. The
//! `*_on_every_record` tests compare all 144 / 102 records with the same
//! rules; they are `#[ignore]`d (the GBT one alone boosts 144 000 trees,
//! about ten minutes) and `.ci/run` runs them with
//! `cargo test -- --include-ignored`.

use std::collections::HashMap;

use cpd::flow::dataset::CompositionMode;
use cpd::flow::folds::Folds;
use cpd::probe::ridge::RidgeParams;
use cpd::probe::scale::Scale;
use cpd::probe::{ProbeKind, ProbeParams};
use cpd::report::{Report, ResultRecord};
use cpd::run::{analyze, AnalyzeConfig, CompositionSource, EmbeddingSpec, FoldSpec};
use serde_json::Value;

use crate::util::{data, root, tempdir, write};

const TOL: f64 = 1e-6;

fn load_fixture(rel: &str) -> Value {
    let text = std::fs::read_to_string(root().join(rel)).expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn fixture() -> Value {
    load_fixture("tests/fixtures/sklearn_ridge.json")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// Every (model, layer) of the bundled embeddings, in file order.
const LAYERS: &[(&str, &str)] = &[
    ("ani2x", "aev"),
    ("chgnet", "emb"),
    ("chgnet", "conv1"),
    ("chgnet", "conv2"),
    ("chgnet", "conv3"),
    ("chgnet", "conv4"),
    ("sevennet0", "l_prev"),
    ("sevennet0", "l_last"),
];

/// Every bundled target.
const TARGETS: &[&str] = &[
    "gap_ev",
    "homo_ev",
    "lumo_ev",
    "dipole_debye",
    "polarizability_bohr3",
    "mass_amu",
];

/// One `analyze` run over part of the bundled data: these (model, layer)
/// pairs and these targets, every representation.
struct Slice {
    layers: &'static [(&'static str, &'static str)],
    targets: &'static [&'static str],
}

/// The whole bundled data set in one run.
const EVERY_RECORD: &[Slice] = &[Slice {
    layers: LAYERS,
    targets: TARGETS,
}];

/// One `analyze` run of a parity case (`targets` empty: every target).
struct Run {
    embeddings: Vec<EmbeddingSpec>,
    targets: Vec<String>,
}

/// Where a parity case's inputs are.
struct Case {
    fixture: &'static str,
    compositions: std::path::PathBuf,
    targets: std::path::PathBuf,
    runs: Vec<Run>,
    /// cpd records compared with the ridge fixture: one per (layer, target,
    /// representation), composition records counted under every layer.
    records: usize,
}

impl Case {
    /// Whether a fixture record is among the ones this case computes.
    fn covers(&self, rec: &Value) -> bool {
        self.runs.iter().any(|run| {
            (run.targets.is_empty() || run.targets.iter().any(|t| rec["target"] == t.as_str()))
                && (rec["model"].is_null()
                    || run.embeddings.iter().any(|e| {
                        rec["model"] == e.model.as_str()
                            && e.layers
                                .as_ref()
                                .is_none_or(|ls| ls.iter().any(|l| rec["layer"] == l.as_str()))
                    }))
        })
    }
}

/// The bundled embeddings restricted to `layers`, one spec per model.
fn specs(layers: &[(&str, &str)]) -> Vec<EmbeddingSpec> {
    let mut out: Vec<EmbeddingSpec> = Vec::new();
    for &(model, layer) in layers {
        match out.iter_mut().find(|s| s.model == model) {
            Some(s) => s.layers.as_mut().unwrap().push(layer.to_string()),
            None => out.push(EmbeddingSpec {
                model: model.to_string(),
                paths: vec![data(&format!("embeddings/{model}.npz"))],
                layers: Some(vec![layer.to_string()]),
                channels: None,
                channel_layers: None,
            }),
        }
    }
    out
}

/// The bundled QM9 data (`tests/fixtures/sklearn_ridge.json`), one run per
/// slice.
fn bundled(slices: &[Slice]) -> Case {
    Case {
        fixture: "tests/fixtures/sklearn_ridge.json",
        compositions: data("compositions.csv"),
        targets: data("targets.csv"),
        runs: slices
            .iter()
            .map(|s| Run {
                embeddings: specs(s.layers),
                targets: s.targets.iter().map(|t| t.to_string()).collect(),
            })
            .collect(),
        records: slices
            .iter()
            .map(|s| s.layers.len() * s.targets.len() * 3)
            .sum(),
    }
}

/// Ill-conditioned embeddings from `scripts/make_robust_fixture.py`:
/// columns scaled by 1e8 and 1e-6, exact duplicate and composition-linear
/// columns, and d > n. Small: every test runs all of it.
fn robust() -> Case {
    let dir = root().join("tests/fixtures/robust");
    Case {
        fixture: "tests/fixtures/robust/sklearn_ridge.json",
        compositions: dir.join("compositions.csv"),
        targets: dir.join("targets.csv"),
        runs: vec![Run {
            embeddings: ["scaled", "dup", "wide"]
                .iter()
                .map(|m| EmbeddingSpec {
                    model: m.to_string(),
                    paths: vec![dir.join(format!("{m}.npy"))],
                    layers: None,
                    channels: None,
                    channel_layers: None,
                })
                .collect(),
            targets: vec![],
        }],
        // 3 layers × 2 targets × 3 representations.
        records: 18,
    }
}

fn config(case: &Case, run: &Run, ridge: RidgeParams, folds: FoldSpec) -> AnalyzeConfig {
    AnalyzeConfig {
        embeddings: run.embeddings.clone(),
        composition: CompositionSource::Table(case.compositions.clone()),
        composition_mode: CompositionMode::Counts,
        targets: case.targets.clone(),
        target_names: run.targets.clone(),
        probes: vec![ProbeKind::Ridge],
        folds,
        params: ProbeParams {
            ridge,
            ..Default::default()
        },
        residualize_target: false,
        controls: false,
        inflation_threshold: 0.1,
        learning_curve: None,
        scale: Scale::Standard,
        predictions: false,
        pool: Default::default(),
        similarity: false,
        compare: Vec::new(),
        compare_rows: cpd::analyses::compare::DEFAULT_COMPARE_ROWS,
        max_rows: None,
        group_folds: None,
        permutations: 0,
        // Intervals are not what these tests compare.
        bootstrap: 0,
        // Nor is R²_cond, but in the tests of it, which turn it on.
        conditional: false,
    }
}

/// The report of every run of `case` on the given folds, after `edit`
/// (probes, their settings) on each run's configuration.
fn analyze_case(
    case: &Case,
    folds: &std::path::Path,
    edit: impl Fn(&mut AnalyzeConfig),
) -> Vec<Report> {
    case.runs
        .iter()
        .map(|run| {
            let mut cfg = config(
                case,
                run,
                RidgeParams::default(),
                FoldSpec::File(folds.to_path_buf()),
            );
            edit(&mut cfg);
            analyze(&cfg).unwrap().report
        })
        .collect()
}

/// The records of all `reports`.
fn all_results(reports: Vec<Report>) -> Vec<ResultRecord> {
    reports.into_iter().flat_map(|r| r.results).collect()
}

/// The fixture's folds are cpd's seed-0 shuffled 5-fold split.
#[test]
fn fixture_folds_are_cpds_seeded_folds() {
    let fx = fixture();
    let ids: Vec<String> = fx["folds"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let fold: Vec<usize> = fx["folds"]["fold"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let comp = cpd::io::table::read_table(&data("compositions.csv")).unwrap();
    assert_eq!(comp.ids, ids, "fixture rows follow data/compositions.csv");
    let ours = Folds::shuffled(ids.len(), 5, 0).unwrap();
    assert_eq!(ours.assignment, fold);
}

/// The fixture's fold assignment written as a folds CSV in `dir`.
fn fixture_folds(fx: &Value, dir: &std::path::Path) -> std::path::PathBuf {
    let mut csv = String::from("id,fold\n");
    let ids = fx["folds"]["ids"].as_array().unwrap();
    for (id, f) in ids.iter().zip(fx["folds"]["fold"].as_array().unwrap()) {
        csv.push_str(&format!("{},{}\n", id.as_str().unwrap(), f));
    }
    write(dir, "folds.csv", &csv)
}

/// The cpd records a fixture record describes: composition records do not
/// depend on the embedding, so one appears under every layer computed.
fn matching<'a>(results: &'a [ResultRecord], rec: &Value) -> Vec<&'a ResultRecord> {
    let (target, rep) = (
        rec["target"].as_str().unwrap(),
        rec["representation"].as_str().unwrap(),
    );
    results
        .iter()
        .filter(|r| {
            r.target == target
                && r.representation == rep
                && (rec["model"].is_null()
                    || (rec["model"] == r.model.as_str() && rec["layer"] == r.layer.as_str()))
        })
        .collect()
}

/// Ridge parity: per-fold R² within 1e-6 and the same alpha on every
/// training fold, for every fixture record `case` computes.
fn check(case: Case, probe: &str, ridge: RidgeParams) {
    check_scaled(case, probe, ridge, Scale::Standard)
}

fn check_scaled(case: Case, probe: &str, ridge: RidgeParams, scale: Scale) {
    let fx = load_fixture(case.fixture);
    let dir = tempdir();
    let folds_path = fixture_folds(&fx, dir.path());
    let reports = analyze_case(&case, &folds_path, |cfg| {
        cfg.params.ridge = ridge.clone();
        cfg.scale = scale;
    });
    for r in &reports {
        assert_eq!(
            r.composition.rank as u64,
            fx["composition_rank"].as_u64().unwrap()
        );
    }
    let results = all_results(reports);

    let (mut compared, mut worst_r2, mut worst_key) = (0, 0.0f64, String::new());
    for rec in fx["records"].as_array().unwrap() {
        if rec["probe"] != probe || !case.covers(rec) {
            continue;
        }
        let matches = matching(&results, rec);
        assert!(!matches.is_empty(), "no cpd record for {rec}");
        let want_r2 = floats(&rec["r2_folds"]);
        let want_alpha = floats(&rec["alphas"]);
        for r in matches {
            compared += 1;
            for (a, b) in r.r2_folds.iter().zip(&want_r2) {
                let d = (a - b).abs();
                if d > worst_r2 {
                    worst_r2 = d;
                    worst_key = r.key();
                }
            }
            let alphas = r.alphas.as_ref().expect("ridge reports alphas");
            for (a, b) in alphas.iter().zip(&want_alpha) {
                assert!(
                    (a / b - 1.0).abs() < 1e-9,
                    "{}: alphas {alphas:?} vs sklearn {want_alpha:?}",
                    r.key()
                );
            }
            assert!(r.r2_folds.iter().all(|v| v.is_finite()), "{}", r.key());
            let pooled = rec["r2_pooled"].as_f64().unwrap();
            assert!(
                (r.r2_pooled.unwrap() - pooled).abs() < TOL,
                "{}: pooled",
                r.key()
            );
        }
    }
    assert_eq!(compared, case.records, "every record compared");
    assert_eq!(results.len(), case.records, "no record left unchecked");
    assert!(
        worst_r2 < TOL,
        "worst per-fold |ΔR²| = {worst_r2:e} at {worst_key}"
    );
    eprintln!("{probe}: {compared} records, worst per-fold |ΔR²| = {worst_r2:e} ({worst_key})");
}

// Ridge, fast tier: one layer per model, every target and representation
// (54 records of 144). Ridge is cheap; the layers are the ones that stress
// it most. ANI-2x `aev`: d = 1008, the largest eigendecomposition, 448
// constant columns, and the worst `Ridge(alpha=1)` record (5.9e-9, on its
// residual). CHGNet `emb`: the worst `RidgeCV` record (1.6e-10, raw).
// SevenNet-0 `l_prev`: 320 columns, the largest of the equivariant layers.
// Every other layer is a 64- or 128-column float32 layer like these; the
// full comparison is `*_on_every_record` below.
const RIDGE_SUBSET: &[Slice] = &[Slice {
    layers: &[("ani2x", "aev"), ("chgnet", "emb"), ("sevennet0", "l_prev")],
    targets: TARGETS,
}];

#[test]
fn ridge_cv_matches_sklearn_ridgecv_on_one_layer_per_model() {
    check(bundled(RIDGE_SUBSET), "ridgecv", RidgeParams::default());
}

#[test]
fn ridge_alpha1_matches_sklearn_ridge_on_one_layer_per_model() {
    check(
        bundled(RIDGE_SUBSET),
        "ridge_alpha1",
        RidgeParams::fixed(1.0),
    );
}

#[test]
#[ignore = "full parity: run by .ci/run"]
fn ridge_cv_matches_sklearn_ridgecv_on_every_record() {
    check(bundled(EVERY_RECORD), "ridgecv", RidgeParams::default());
}

#[test]
#[ignore = "full parity: run by .ci/run"]
fn ridge_alpha1_matches_sklearn_ridge_on_every_record() {
    check(
        bundled(EVERY_RECORD),
        "ridge_alpha1",
        RidgeParams::fixed(1.0),
    );
}

/// `--scale clip` against `scripts/reference.py --scale clip`
/// (`StandardScaler`, held-out rows `np.clip`ped to the training fold's
/// standardised range, `RidgeCV`): per-fold R² within 1e-6 and the same
/// alphas. Fast tier: ANI-2x `aev` (the sparse F channels clip acts on) and
/// CHGNet `conv1` (where clipping breaks ridge's cancelling coefficients:
/// raw mass 0.719 → −34.1, so the clipped rows matter to every digit).
const CLIP_SUBSET: &[Slice] = &[Slice {
    layers: &[("ani2x", "aev"), ("chgnet", "conv1")],
    targets: TARGETS,
}];

/// The bundled data of `slices` against another ridge fixture.
fn bundled_against(fixture: &'static str, slices: &[Slice]) -> Case {
    let mut case = bundled(slices);
    case.fixture = fixture;
    case
}

fn clip_case(slices: &[Slice]) -> Case {
    bundled_against("tests/fixtures/sklearn_ridge_clip.json", slices)
}

#[test]
fn ridge_clip_matches_sklearn_clipped_ridgecv_on_two_layers() {
    let case = clip_case(CLIP_SUBSET);
    check_scaled(case, "ridgecv_clip", RidgeParams::default(), Scale::Clip);
}

#[test]
#[ignore = "full parity: run by .ci/run"]
fn ridge_clip_matches_sklearn_clipped_ridgecv_on_every_record() {
    let case = clip_case(EVERY_RECORD);
    check_scaled(case, "ridgecv_clip", RidgeParams::default(), Scale::Clip);
}

/// The default scaling, `robust`: ridge sees `global` (centred, every
/// column divided by the root mean variance of the non-constant columns),
/// against `scripts/reference.py --scale global` (the same in NumPy, then
/// `RidgeCV`): per-fold R² within 1e-6 and the same alphas. Fast tier:
/// ANI-2x `aev` (448 constant columns left out of the shared scale) and
/// SevenNet-0 `l_prev`.
const GLOBAL_SUBSET: &[Slice] = &[Slice {
    layers: &[("ani2x", "aev"), ("sevennet0", "l_prev")],
    targets: TARGETS,
}];

/// Ridge under the default scaling against the `global` fixture.
fn check_robust(slices: &[Slice]) {
    let case = bundled_against("tests/fixtures/sklearn_ridge_global.json", slices);
    check_scaled(
        case,
        "ridgecv_global",
        RidgeParams::default(),
        Scale::Robust,
    );
}

#[test]
fn ridge_robust_default_matches_sklearn_globally_scaled_ridgecv_on_two_layers() {
    check_robust(GLOBAL_SUBSET);
}

#[test]
#[ignore = "full parity: run by .ci/run"]
fn ridge_robust_default_matches_sklearn_globally_scaled_ridgecv_on_every_record() {
    check_robust(EVERY_RECORD);
}

#[test]
fn ill_conditioned_embeddings_match_sklearn_ridgecv() {
    check(robust(), "ridgecv", RidgeParams::default());
}

#[test]
fn ill_conditioned_embeddings_match_sklearn_ridge_alpha1() {
    check(robust(), "ridge_alpha1", RidgeParams::fixed(1.0));
}

/// Per-record accuracy bound of the MLP probe against scikit-learn.
const MLP_TOL: f64 = 0.02;

/// cpd's MLP probe against `MLPRegressor` (`tests/fixtures/sklearn_mlp.json`,
/// `scripts/reference_mlp.py`: every bundled model, layer, target and
/// representation, on cpd's folds, `random_state` 0–4), on the records of
/// `slices`; `records` is how many distinct fixture records they hold.
///
/// Networks from different random streams cannot agree bit for bit, and the
/// mean R² of one seed is itself a noisy number: scikit-learn's per-seed
/// record mean has a standard deviation of up to about 0.026 on ordinary
/// records (far more on the ANI-2x AEV), its folds moving together because
/// `random_state` is the same on every fold. Two scikit-learn seeds cannot
/// pin its accuracy to 0.02: on six records (CHGNet `emb` residual gap,
/// HOMO, LUMO, dipole; `conv4` dipole residual; SevenNet-0 `l_last`
/// polarizability raw) its seeds 0 and 1 fell above its 20-seed mean (by up
/// to 0.027) and cpd looked 0.023–0.044 short of them; with 20 seeds on both
/// sides the six agree within 0.015 (cpd − scikit-learn: +0.000, +0.005,
/// −0.014, −0.006, −0.005, −0.000), their mean epoch counts within 10 %.
///
/// So the fixture carries five scikit-learn seeds, cpd runs seeds 0 and 1,
/// and each record's cpd mean must be at least scikit-learn's mean minus
/// `max(0.02, seed range of sklearn + seed range of cpd)` ("within 0.02, or
/// better", one-sided), with no exceptions. The lowest records and the
/// smallest margin are printed.
///
/// The rule is per record, so it is the same on a subset, but a subset must
/// run every target: a network's random stream comes from the seed and the
/// (fold, target index) pair, so a run over fewer targets trains other
/// networks. (CHGNet `conv3` polarizability residual run alone, as target
/// 0, gives cpd 0.601 and 0.609 instead of 0.633 and 0.633, below the
/// bound: two cpd seeds are a noisy estimate of its own seed spread.)
fn mlp_accuracy(slices: &[Slice], records: usize) {
    assert!(
        slices.iter().all(|s| s.targets == TARGETS),
        "every target, in file order: the networks depend on the target index"
    );
    let fixture = "tests/fixtures/sklearn_mlp.json";
    mlp_accuracy_against(fixture, Scale::Standard, (5, 2), slices, records)
}

/// [`mlp_accuracy`]'s rule against the MLP fixture `fixture`, made with
/// `seeds.0` scikit-learn seeds, cpd run with seeds `0..seeds.1` and the
/// scaling `scale`.
fn mlp_accuracy_against(
    fixture: &str,
    scale: Scale,
    seeds: (usize, u64),
    slices: &[Slice],
    records: usize,
) {
    let (sk_seeds, cpd_seeds) = seeds;
    let fx = load_fixture(fixture);
    let dir = tempdir();
    let folds_path = fixture_folds(&fx, dir.path());
    let case = bundled(slices);
    let runs: Vec<Vec<ResultRecord>> = (0..cpd_seeds)
        .map(|seed| {
            let reports = analyze_case(&case, &folds_path, |cfg| {
                cfg.probes = vec![ProbeKind::Mlp];
                cfg.params.mlp.seed = seed;
                cfg.scale = scale;
            });
            for r in &reports {
                let settings = &r.settings.probe_params["mlp"];
                assert_eq!(
                    settings["hidden"].as_u64().expect("mlp settings"),
                    fx["settings"]["hidden"].as_u64().unwrap()
                );
            }
            all_results(reports)
        })
        .collect();

    let (mut compared, mut failures, mut lines) = (0, Vec::new(), Vec::new());
    let (mut sum_signed, mut worst_margin) = (0.0, f64::INFINITY);
    for rec in fx["records"].as_array().unwrap() {
        if !case.covers(rec) {
            continue;
        }
        // Composition records are identical under every layer: check one.
        let ours: Vec<&ResultRecord> = runs
            .iter()
            .map(|results| {
                *matching(results, rec)
                    .first()
                    .unwrap_or_else(|| panic!("no cpd record for {rec}"))
            })
            .collect();
        let key = ours[0].key();
        let mine: Vec<f64> = ours.iter().map(|r| r.r2_mean.expect("finite R²")).collect();
        let theirs = floats(&rec["r2_mean_seeds"]);
        assert_eq!(theirs.len(), sk_seeds, "scikit-learn seeds in the fixture");
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let range = |v: &[f64]| {
            v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
        };
        let d = mean(&mine) - mean(&theirs);
        let tol = MLP_TOL.max(range(&theirs) + range(&mine));
        compared += 1;
        sum_signed += d;
        worst_margin = worst_margin.min(d + tol);
        lines.push((
            d + tol,
            format!("{key}: cpd {mine:.3?} sklearn {theirs:.3?} Δ {d:+.4} (tol {tol:.3})"),
        ));
        if d < -tol {
            failures.push(lines.last().unwrap().1.clone());
        }
    }
    assert_eq!(compared, records, "fixture records compared");
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let worst: Vec<&str> = lines.iter().take(8).map(|l| l.1.as_str()).collect();
    eprintln!(
        "mlp: {compared} records, mean signed Δ(cpd − sklearn) {:+.4}, smallest margin \
         Δ + tol {worst_margin:+.4}; smallest margins:\n  {}",
        sum_signed / compared as f64,
        worst.join("\n  ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// MLP, fast tier: 5 of the 8 layers, 66 of the 102 records. Every record
// the comparison ever found short: the CHGNet `emb` residual (gap, HOMO,
// LUMO, dipole), the `conv4` dipole residual and SevenNet-0 `l_last`
// polarizability raw; the five smallest margins of the full comparison at
// the time of writing (`conv4` dipole residual +0.006, `l_last` HOMO
// residual, composition HOMO, `conv3` polarizability residual, `conv4`
// HOMO raw); and ANI-2x `aev` (d = 1008, 448 constant columns; its
// residual R² swings by up to 2 between scikit-learn seeds). Left to the
// full test: `conv1`, `conv2`, `l_prev` (smallest margin +0.014). Every
// target of each layer runs (see `mlp_accuracy`), so each record here has
// the very numbers of the full comparison.
const MLP_SUBSET: &[Slice] = &[Slice {
    layers: &[
        ("ani2x", "aev"),
        ("chgnet", "emb"),
        ("chgnet", "conv3"),
        ("chgnet", "conv4"),
        ("sevennet0", "l_last"),
    ],
    targets: TARGETS,
}];

#[test]
fn mlp_matches_sklearn_mlpregressor_accuracy_on_a_subset() {
    // 6 composition + 5 layers × 6 targets × 2.
    mlp_accuracy(MLP_SUBSET, 66);
}

#[test]
#[ignore = "full parity: run by .ci/run"]
fn mlp_matches_sklearn_mlpregressor_accuracy_on_every_record() {
    // 6 composition + 8 layers × 6 targets × 2.
    mlp_accuracy(EVERY_RECORD, 102);
}

/// The default scaling, `robust`: the MLP sees `global-clip`, against
/// `scripts/reference_mlp.py --scale global-clip`
/// (`tests/fixtures/sklearn_mlp_global_clip.json`: the HOMO-LUMO gap and
/// the dipole, every layer and representation, three scikit-learn seeds),
/// under [`mlp_accuracy`]'s rule, with four cpd seeds over every record
/// (with two, the CHGNet `conv4` dipole residual, whose seeds spread by
/// 0.03 on both sides, fell 0.01 short of the bound: seed noise, as on the
/// `standard` fixture). Full tier only: the fast tier's MLP subset and the
/// ridge check of the default already hold the code paths, and the ANI-2x
/// layer alone would add 37 s of test time.
const ROBUST_TARGETS: &[&str] = &["gap_ev", "dipole_debye"];

#[test]
#[ignore = "full parity: run by .ci/run"]
fn mlp_robust_default_matches_sklearn_accuracy_on_every_record() {
    let slices = [Slice {
        layers: LAYERS,
        targets: ROBUST_TARGETS,
    }];
    // 2 composition + 8 layers × 2 targets × 2.
    mlp_accuracy_against(
        "tests/fixtures/sklearn_mlp_global_clip.json",
        Scale::Robust,
        (3, 4),
        &slices,
        34,
    );
}

/// Per-record accuracy bound of the GBT probe against LightGBM.
const GBT_TOL: f64 = 0.02;

/// cpd's GBT probe against LightGBM's `LGBMRegressor` (and, for scale,
/// scikit-learn's `HistGradientBoostingRegressor`), both from
/// `tests/fixtures/gbt_reference.json` (`scripts/reference_gbt.py`: every
/// bundled model, layer, target and representation, on cpd's folds, 300
/// rounds, 31 leaves, min 20 rows per leaf, λ = 0, 255 bins), on the
/// records of `slices`; `records` is how many distinct fixture records of
/// each library they hold.
///
/// Three libraries bin and break ties differently, so trees are not
/// identical; each record's mean R² must be within 0.02 of LightGBM's
/// (both ways). The largest differences, and LightGBM's own distance to
/// HistGradientBoosting on the same records, are printed.
fn gbt_accuracy(slices: &[Slice], records: usize) {
    let fx = load_fixture("tests/fixtures/gbt_reference.json");
    let lgb = &fx["settings"]["lightgbm"];
    let gbt = cpd::probe::gbt::GbtParams {
        rounds: lgb["n_estimators"].as_u64().unwrap() as usize,
        learning_rate: lgb["learning_rate"].as_f64().unwrap(),
        max_leaves: lgb["num_leaves"].as_u64().unwrap() as usize,
        min_leaf: lgb["min_child_samples"].as_u64().unwrap() as usize,
        l2: lgb["reg_lambda"].as_f64().unwrap(),
        max_bins: lgb["max_bin"].as_u64().unwrap() as usize,
        ..Default::default()
    };
    assert_eq!(
        gbt,
        cpd::probe::gbt::GbtParams::default(),
        "fixture uses the defaults"
    );
    let dir = tempdir();
    let folds_path = fixture_folds(&fx, dir.path());
    let case = bundled(slices);
    let results = all_results(analyze_case(&case, &folds_path, |cfg| {
        cfg.probes = vec![ProbeKind::Gbt];
        cfg.params.gbt = gbt.clone();
    }));

    // Composition records are identical under every layer: check one.
    let find = |rec: &Value| -> &ResultRecord {
        matching(&results, rec)
            .first()
            .unwrap_or_else(|| panic!("no cpd record for {rec}"))
    };
    let records_of = |probe: &str| -> Vec<&Value> {
        fx["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["probe"] == probe && case.covers(r))
            .collect()
    };
    let hgb: HashMap<String, f64> = records_of("hgb")
        .into_iter()
        .map(|r| (find(r).key(), r["r2_mean"].as_f64().unwrap()))
        .collect();
    let (mut lines, mut failures, mut sum_abs, mut lib_gap) = (Vec::new(), Vec::new(), 0.0, 0.0f64);
    for rec in records_of("lightgbm") {
        let ours = find(rec);
        let key = ours.key();
        let (mine, theirs) = (
            ours.r2_mean.expect("finite R²"),
            rec["r2_mean"].as_f64().unwrap(),
        );
        let other = hgb[&key];
        let d = mine - theirs;
        sum_abs += d.abs();
        lib_gap = lib_gap.max((other - theirs).abs());
        let line = format!("{key}: cpd {mine:.4} lightgbm {theirs:.4} hgb {other:.4} Δ {d:+.4}");
        if d.abs() > GBT_TOL {
            failures.push(line.clone());
        }
        lines.push((d.abs(), line));
    }
    assert_eq!(lines.len(), records, "LightGBM records compared");
    assert_eq!(hgb.len(), records, "HistGradientBoosting records");
    lines.sort_by(|a, b| b.0.total_cmp(&a.0));
    let worst: Vec<&str> = lines.iter().take(6).map(|l| l.1.as_str()).collect();
    eprintln!(
        "gbt: {} records, mean |Δ(cpd − lightgbm)| {:.4}, largest |lightgbm − hgb| {lib_gap:.4}; largest:\n  {}",
        lines.len(),
        sum_abs / lines.len() as f64,
        worst.join("\n  ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// GBT, fast tier: 16 of the 102 records, the ones closest to the bound.
// Over all records |Δ| ≤ 0.0164; the largest are SevenNet-0 `l_prev` mass
// raw (0.0164), `l_last` mass residual (0.0155), CHGNet `conv1` mass raw
// (0.0133) and dipole residual (0.0119), `conv4` dipole raw (0.0115) and
// mass residual (0.0092): mass (a sum of atom masses, composition in a
// nonlinear probe's eyes) and dipole are the hard targets. CHGNet `emb`
// adds a layer with few distinct values per column (median 220 < 255
// bins: cut at midpoints, not quantiles) and the inflated residual (mass
// R²_geom 0.83). ANI-2x `aev` is left to the full test: its largest |Δ|
// is 0.0068, its constant columns are covered by the binning unit tests,
// and one of its targets costs about as much as this whole subset.
const GBT_SUBSET: &[Slice] = &[
    Slice {
        layers: &[
            ("chgnet", "emb"),
            ("chgnet", "conv1"),
            ("chgnet", "conv4"),
            ("sevennet0", "l_prev"),
            ("sevennet0", "l_last"),
        ],
        targets: &["mass_amu"],
    },
    Slice {
        layers: &[("chgnet", "conv1"), ("chgnet", "conv4")],
        targets: &["dipole_debye"],
    },
];

#[test]
fn gbt_matches_lightgbm_accuracy_on_a_subset() {
    // 2 composition + 5 layers × mass × 2 + 2 layers × dipole × 2.
    gbt_accuracy(GBT_SUBSET, 16);
}

#[test]
#[ignore = "full parity: run by .ci/run"]
fn gbt_matches_lightgbm_accuracy_on_every_record() {
    // 6 composition + 8 layers × 6 targets × 2.
    gbt_accuracy(EVERY_RECORD, 102);
}

/// The conditional R² fixture (`scripts/reference_conditional.py`): per
/// fold, the probe on composition (a nonlinear probe started from ridge on
/// composition), then the probe on the residual fitted to what it leaves;
/// `r2_cond` = the fold-mean R² of the two together minus that of the
/// composition model.
const CONDITIONAL: &str = "tests/fixtures/sklearn_conditional.json";

/// The fixture's conditional R² of `rec` on each fold.
fn conditional_folds(rec: &Value) -> Vec<f64> {
    let (joint, comp) = (
        floats(&rec["r2_joint_folds"]),
        floats(&rec["r2_comp_folds"]),
    );
    joint.iter().zip(&comp).map(|(j, c)| j - c).collect()
}

/// The whole-layer residual record of `probe` for a fixture record.
fn geom_of<'a>(results: &'a [ResultRecord], rec: &Value, probe: &str) -> &'a ResultRecord {
    results
        .iter()
        .find(|r| {
            r.channels.is_none()
                && r.representation == "geom"
                && r.probe == probe
                && rec["model"] == r.model.as_str()
                && rec["layer"] == r.layer.as_str()
                && rec["target"] == r.target.as_str()
        })
        .unwrap_or_else(|| panic!("no cpd record for {rec}"))
}

/// Ridge's conditional R² against the fixture under the default scaling:
/// every fold's within 1e-10 (both terms are exact ridge fits; on the
/// compositional `mass_amu` both are 1 − 5e-10, so the bound is absolute).
fn ridge_conditional(slices: &[Slice]) {
    let fx = load_fixture(CONDITIONAL);
    let dir = tempdir();
    let folds_path = fixture_folds(&fx, dir.path());
    let case = bundled_against(CONDITIONAL, slices);
    let results = all_results(analyze_case(&case, &folds_path, |cfg| {
        cfg.scale = Scale::Robust;
        cfg.conditional = true;
    }));
    let (mut compared, mut worst, mut worst_key) = (0, 0.0f64, String::new());
    for rec in fx["records"].as_array().unwrap() {
        if rec["probe"] != "ridge" || !case.covers(rec) {
            continue;
        }
        let ours = geom_of(&results, rec, "ridge");
        let want = conditional_folds(rec);
        assert_eq!(ours.r2_cond_folds.len(), want.len(), "{}", ours.key());
        for (a, b) in ours.r2_cond_folds.iter().zip(&want) {
            if (a - b).abs() > worst {
                (worst, worst_key) = ((a - b).abs(), ours.key());
            }
        }
        let mean = ours.r2_cond.expect("finite");
        assert!(
            (mean - rec["r2_cond"].as_f64().unwrap()).abs() < 1e-10,
            "{}: r2_cond {mean} vs {}",
            ours.key(),
            rec["r2_cond"]
        );
        compared += 1;
    }
    let layers: usize = slices
        .iter()
        .map(|s| s.layers.len() * s.targets.len())
        .sum();
    assert_eq!(compared, layers, "every residual record compared");
    assert!(
        worst < 1e-10,
        "worst per-fold |Δ r2_cond| {worst:e} at {worst_key}"
    );
    eprintln!("ridge r2_cond: {compared} records, worst per-fold |Δ| {worst:e} ({worst_key})");
}

#[test]
fn ridge_conditional_r2_matches_sklearn_on_two_layers() {
    ridge_conditional(GLOBAL_SUBSET);
}

/// Turning the conditional R² off (as the parity tests of R²_geom do)
/// leaves `r2_cond` empty and every other number of every record as it was.
#[test]
fn the_conditional_fits_change_no_other_number() {
    let fx = load_fixture(CONDITIONAL);
    let dir = tempdir();
    let folds_path = fixture_folds(&fx, dir.path());
    let slice = [Slice {
        layers: &[("sevennet0", "l_prev")],
        targets: &["gap_ev", "mass_amu"],
    }];
    let case = bundled_against(CONDITIONAL, &slice);
    let run = |conditional: bool| -> Vec<Value> {
        all_results(analyze_case(&case, &folds_path, |cfg| {
            cfg.probes = vec![ProbeKind::Ridge, ProbeKind::Gbt];
            cfg.params.gbt.rounds = 5;
            cfg.bootstrap = 100;
            cfg.conditional = conditional;
        }))
        .iter()
        .map(|r| serde_json::to_value(r).expect("a record is JSON"))
        .collect()
    };
    let (on, off) = (run(true), run(false));
    assert_eq!(on.len(), off.len());
    let cond = ["r2_cond", "r2_cond_folds", "r2_cond_ci"];
    let geom = |r: &Value| r["representation"] == "geom";
    assert!(on.iter().filter(|r| geom(r)).all(|r| r["r2_cond"].is_f64()));
    for (mut a, mut b) in on.into_iter().zip(off) {
        if geom(&b) {
            assert!(
                cond.iter().all(|k| b
                    .get(*k)
                    .is_none_or(|v| v.is_null() || v.as_array().is_some_and(|a| a.is_empty()))),
                "{b}"
            );
        }
        for k in cond {
            a.as_object_mut().unwrap().remove(k);
            b.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(a, b);
    }
}

#[test]
#[ignore = "full parity: run by .ci/run"]
fn ridge_conditional_r2_matches_sklearn_on_every_record() {
    ridge_conditional(EVERY_RECORD);
}

/// Records of the nonlinear probes' conditional fixture: SevenNet-0's and
/// ANI-2x's layers, the gap and the compositional mass.
const CONDITIONAL_NONLINEAR: &[Slice] = &[Slice {
    layers: &[
        ("ani2x", "aev"),
        ("sevennet0", "l_prev"),
        ("sevennet0", "l_last"),
    ],
    targets: &["gap_ev", "mass_amu"],
}];

/// Bound on |cpd − reference| of a nonlinear probe's conditional R².
const COND_TOL: f64 = 0.03;

/// Bound on a nonlinear probe's conditional R² on the compositional mass.
const COND_COMPOSITIONAL: f64 = 0.02;

/// The MLP's and the GBT's conditional R² against scikit-learn's
/// `MLPRegressor` (mean of three seeds; cpd: seeds 0–2) and LightGBM: each
/// within `max(COND_TOL, both seed ranges)` of the reference, and on the
/// compositional `mass_amu` within [`COND_COMPOSITIONAL`] of 0.
#[test]
#[ignore = "full parity: run by .ci/run"]
fn nonlinear_conditional_r2_matches_sklearn_and_lightgbm() {
    let fx = load_fixture(CONDITIONAL);
    let dir = tempdir();
    let folds_path = fixture_folds(&fx, dir.path());
    let case = bundled_against(CONDITIONAL, CONDITIONAL_NONLINEAR);
    let mlp: Vec<Vec<ResultRecord>> = (0..3)
        .map(|seed| {
            all_results(analyze_case(&case, &folds_path, |cfg| {
                cfg.probes = vec![ProbeKind::Mlp];
                cfg.params.mlp.seed = seed;
                cfg.scale = Scale::Robust;
                cfg.conditional = true;
            }))
        })
        .collect();
    let gbt = all_results(analyze_case(&case, &folds_path, |cfg| {
        cfg.probes = vec![ProbeKind::Gbt];
        cfg.scale = Scale::Robust;
        cfg.conditional = true;
    }));
    let (mut lines, mut failures) = (Vec::new(), Vec::new());
    for rec in fx["records"].as_array().unwrap() {
        let probe = rec["probe"].as_str().unwrap();
        if probe == "ridge" || !case.covers(rec) {
            continue;
        }
        let mine: Vec<f64> = if probe == "mlp" {
            mlp.iter()
                .map(|r| geom_of(r, rec, "mlp").r2_cond.expect("finite"))
                .collect()
        } else {
            vec![geom_of(&gbt, rec, "gbt").r2_cond.expect("finite")]
        };
        let theirs = if probe == "mlp" {
            floats(&rec["r2_cond_by_seed"])
        } else {
            vec![rec["r2_cond"].as_f64().unwrap()]
        };
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let range = |v: &[f64]| {
            v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
        };
        let d = mean(&mine) - mean(&theirs);
        let tol = COND_TOL.max(range(&mine) + range(&theirs));
        let line = format!(
            "{probe} {}/{} {}: cpd {mine:.4?} reference {theirs:.4?} Δ {d:+.4} (tol {tol:.3})",
            rec["model"].as_str().unwrap(),
            rec["layer"].as_str().unwrap(),
            rec["target"].as_str().unwrap()
        );
        if d.abs() > tol {
            failures.push(line.clone());
        }
        if rec["target"] == "mass_amu" && mine.iter().any(|v| v.abs() > COND_COMPOSITIONAL) {
            failures.push(format!("{line}: not ≈ 0 on a compositional target"));
        }
        lines.push(line);
    }
    assert_eq!(lines.len(), 12, "6 mlp and 6 gbt records");
    eprintln!(
        "conditional R², nonlinear probes:\n  {}",
        lines.join("\n  ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
