"""The Python package against the cpd command line, closed forms and the
bad-input catalogue."""

import html
import inspect
import json
import subprocess
import threading

import numpy as np
import pytest

import cpd
from cpd import _cpd

from conftest import DATA, MODELS


def cli(cpd_bin, out, *args, data_dir=DATA):
    cmd = [
        str(cpd_bin),
        "analyze",
        "--compositions",
        str(data_dir / "compositions.csv"),
        "--targets",
        str(data_dir / "targets.csv"),
        "--out",
        str(out),
        "--quiet",
        *args,
    ]
    subprocess.run(cmd, check=True)
    return json.loads((out / "report.json").read_text())


def py_report(report):
    """A report as its JSON text says (what the CLI's report.json holds)."""
    return json.loads(report.to_json())


def assert_same_records(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == w, (g["model"], g["layer"], g["target"], g["representation"], g["probe"])


# --- bit-identical to the CLI ----------------------------------------------------


def test_analyze_demo_is_bit_identical_to_the_cli(data, cpd_bin, tmp_path):
    emb, comp, targ = data
    want = cli(
        cpd_bin,
        tmp_path / "cli",
        *[f"--embeddings={m}={DATA / 'embeddings' / (m + '.npz')}" for m in MODELS],
    )
    report = cpd.analyze({m: emb[m] for m in MODELS}, comp, targ)
    got = py_report(report)
    assert len(got["results"]) == 3 * 6 * 8  # 8 layers, 6 targets, 3 representations
    assert_same_records(report.results, want["results"])
    for section in ("settings", "composition", "profiles", "instability", "gaps"):
        assert got.get(section) == want.get(section), section
    # The CLI's files through the library's writer: the same tables.
    written = report.write(tmp_path / "py")
    assert {p.name for p in written} >= {"report.json", "results.csv", "folds.csv", "report.md"}
    for name in ("results.csv", "folds.csv", "profiles.csv"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    # In a notebook: the figures are the CLI's SVG files, byte for byte, in
    # report.html's order; the HTML display holds the verdict, every
    # record's interval and the instability lines.
    figures = report.figures
    svgs = sorted(p.name for p in (tmp_path / "cli").glob("*.svg"))
    assert sorted(f.name for f in figures) == svgs and len(svgs) > 10
    for f in figures:
        assert f._repr_svg_() == (tmp_path / "cli" / f.name).read_text(encoding="utf-8"), f.name
        assert f.data.startswith("<svg") and f.title
    page = (tmp_path / "cli" / "report.html").read_text(encoding="utf-8")
    assert [page.index(f"(<code>{f.name}</code>)") for f in figures] == sorted(
        page.index(f"(<code>{f.name}</code>)") for f in figures
    )
    shown = report._repr_html_()
    assert shown.startswith('<div class="cpd-report">') and "<svg" not in shown
    assert want["verdict"] and all(
        html.escape(v).replace("&#x27;", "&#39;") in shown for v in want["verdict"]
    )
    for r in want["results"]:
        lo, hi = r["r2_ci"]
        assert f"{r['r2_mean']:.3f} [{lo:.3f}, {hi:.3f}]" in shown, r
    assert want["instability"]["unstable"]
    assert f"! unstable, {len(want['instability']['unstable'])} of {len(want['results'])} records" in shown


def test_every_probe_and_analysis_is_bit_identical_to_the_cli(subset, cpd_bin, tmp_path):
    d, layers, comp, targ = subset
    args = dict(
        probes=("ridge", "mlp", "gbt"),
        target=["gap_ev", "homo_ev"],
        folds=4,
        seed=3,
        gbt_rounds=20,
        mlp_max_epochs=15,
        controls=True,
        scale="clip",
        predictions=True,
        channels="a=0:64,b=64:128",
        channel_layers=["l_last"],
        learning_curve=[300],
        curve_repeats=1,
        similarity=True,
        max_rows=400,
        permutations=2,
        group_folds="composition",
        bootstrap=200,
    )
    want = cli(
        cpd_bin,
        tmp_path / "cli",
        f"--embeddings=sevennet0={d / 'sevennet0.npz'}",
        "--probes=ridge,mlp,gbt",
        "--target=gap_ev,homo_ev",
        "--folds=4",
        "--seed=3",
        "--gbt-rounds=20",
        "--mlp-max-epochs=15",
        "--controls",
        "--scale=clip",
        "--predictions",
        "--channels=a=0:64,b=64:128",
        "--channel-layers=l_last",
        "--learning-curve=300",
        "--curve-repeats=1",
        "--similarity",
        "--max-rows=400",
        "--permutations=2",
        "--group-folds=composition",
        "--bootstrap=200",
        data_dir=d,
    )
    report = cpd.analyze({"sevennet0": layers}, comp, targ, **args)
    got = py_report(report)
    assert_same_records(report.results, want["results"])
    for section in (
        "gaps",
        "inflation",
        "channel_routing",
        "learning_curves",
        "instability",
        "layer_stats",
        "similarity",
        "verdict",
    ):
        assert want[section], f"{section} is empty: the test would not check it"
        assert got[section] == want[section], section
        assert getattr(report, section) == want[section]
    # One model: no ranking; its layers' comparison, when it has two.
    assert got["comparisons"] == want["comparisons"]
    assert all(r["r2_ci"] is not None and r["null"]["permutations"] == 2 for r in report.results)
    report.write(tmp_path / "py")
    for name in ("results.csv", "predictions.csv", "gaps.csv", "similarity.csv", "layer_stats.csv"):
        if (tmp_path / "cli" / name).exists():
            assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert report.predictions.shape == (len(report.results), len(comp["id"]))


def test_dataframes_layouts_and_dtypes_give_the_same_records(data):
    pd = pytest.importorskip("pandas")
    emb, comp, targ = data
    h = emb["sevennet0"]["l_last"]
    base = cpd.analyze({"m": h}, comp, targ, target=["homo_ev"])
    cdf = pd.DataFrame({k: v for k, v in comp.items() if k != "id"}, index=comp["id"])
    # Targets shuffled: matched by id, not position.
    tdf = pd.DataFrame(targ).sample(frac=1.0, random_state=1)
    for layout in (np.asfortranarray(h), h[:, ::1].copy(order="C"), np.hstack([h, h])[:, :128]):
        r = cpd.analyze({"m": layout}, cdf, tdf, target=["homo_ev"])
        assert r.results == base.results
    frame = base.to_pandas()
    assert list(frame["r2_mean"]) == [r["r2_mean"] for r in base.results]
    assert set(frame.columns) >= {"model", "layer", "target", "representation", "probe", "r2_mean"}


def test_the_signature_is_the_librarys_settings(data):
    sig = inspect.signature(cpd.analyze).parameters
    reference = _cpd.settings_reference()
    assert [n for n in sig if n not in ("embeddings", "compositions", "targets", "threads")] == [
        r[0] for r in reference
    ]
    for name, _key, _flag, default, _help in reference:
        want = json.loads(default)
        want = tuple(want) if isinstance(want, list) else want
        assert sig[name].default == want, name
        assert name in cpd.analyze.__doc__, name
    assert sig["probes"].default == ("ridge",)
    assert sig["folds"].default == 5 and sig["seed"].default == 0
    assert sig["gbt_max_leaves"].default == 31 and sig["mlp_learning_rate"].default == 1e-3
    emb, comp, targ = data
    r = cpd.analyze({"m": emb["chgnet"]["conv1"]}, comp, targ, target=["gap_ev"])
    np.testing.assert_allclose(r.settings["ridge"]["alphas"], np.logspace(-3, 3, 13), rtol=1e-14)


def test_settings_that_exclude_each_other_are_refused_even_at_their_defaults(data, tmp_path):
    emb, comp, targ = data
    folds = tmp_path / "folds.csv"
    folds.write_text("id,fold\n")
    with pytest.raises(ValueError, match="`folds_file` and `folds` exclude each other"):
        cpd.analyze({"m": emb["chgnet"]["conv1"]}, comp, targ, folds=5, folds_file=folds)
    with pytest.raises(ValueError, match="`gbt.patience` needs `gbt.validation`"):
        cpd.analyze({"m": emb["chgnet"]["conv1"]}, comp, targ, gbt_patience=10)
    with pytest.raises(ValueError, match=r"unknown setting `fold` \(did you mean `folds`\?\)"):
        cpd.analyze({"m": emb["chgnet"]["conv1"]}, comp, targ, fold=3)


def test_old_names_and_the_printed_settings(data):
    emb, comp, targ = data
    h = {"m": emb["chgnet"]["conv1"]}
    args = dict(target=["gap_ev"], probes="ridge,gbt", gbt_rounds=5, bootstrap=0)
    new = cpd.analyze(h, comp, targ, gbt_max_leaves=7, gbt_learning_rate=0.2, **args)
    old = cpd.analyze(h, comp, targ, gbt_leaves=7, gbt_lr=0.2, **args)
    assert new.results == old.results
    assert new.settings["gbt"]["max_leaves"] == 7
    text = cpd.settings_toml(gbt_leaves=7, seed=3, probes=("ridge", "gbt"))
    assert "max_leaves = 7" in text and "seed = 3" in text
    assert 'probes = ["ridge", "gbt"]' in text


def test_results_do_not_depend_on_the_thread_count(subset):
    _, layers, comp, targ = subset
    args = dict(probes=("ridge", "mlp", "gbt"), target=["gap_ev"], gbt_rounds=30, mlp_max_epochs=20)
    one = cpd.analyze({"m": layers}, comp, targ, threads=1, **args)
    three = cpd.analyze({"m": layers}, comp, targ, threads=3, **args)
    assert one.results == three.results


def test_the_gil_is_released_while_computing(data):
    emb, comp, targ = data
    done = threading.Event()
    ticks = 0

    def work():
        cpd.analyze({"m": emb["sevennet0"]["l_prev"]}, comp, targ, target=["gap_ev"], threads=1)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1  # Python code runs here only while the worker holds no GIL
        done.wait(0.001)
    t.join()
    # A call that held the GIL would let this loop run at most once (before
    # the worker took it); the analysis lasts hundreds of milliseconds.
    assert ticks >= 3


# --- decompose and project ----------------------------------------------------------


def numpy_residual(h, c):
    a = np.column_stack([np.ones(len(c)), c])
    coef, *_ = np.linalg.lstsq(a, h.astype(np.float64), rcond=None)
    return h - a @ coef


def test_project_is_the_exact_residual(data):
    emb, comp, _ = data
    h = emb["sevennet0"]["l_last"]
    c = np.column_stack([comp[e] for e in ("H", "C", "N", "O", "F")])
    geom = cpd.project(h, c)
    assert geom.shape == h.shape and geom.dtype == np.float64
    ref = numpy_residual(h, c)
    assert np.max(np.abs(geom - ref)) < 1e-9 * np.max(np.abs(h))
    # Orthogonal to the constant and every composition column.
    assert np.max(np.abs(np.column_stack([np.ones(len(c)), c]).T @ geom)) < 1e-7


def test_decompose_takes_matscopes_call_shape(subset):
    _, layers, comp, targ = subset
    h = layers["l_last"]
    counts = np.column_stack([comp[e] for e in ("H", "C", "N", "O", "F")])
    fractions = counts / counts.sum(axis=1, keepdims=True)  # matscope's fractional vectors
    y = targ["homo_ev"]
    r = cpd.decompose(h, fractions, y, mlp_max_epochs=40)
    full = cpd.decompose(h, fractions, y, mlp_max_epochs=40, report=True)
    assert r.report is None and r.raw_linear_r2 is None and r.target_composition_r2 is None
    for name in (
        "composition_r2", "residual_linear_r2", "residual_mlp_r2",
        "linear_nonlinear_gap", "composition_variance_explained",
    ):
        assert isinstance(getattr(r, name), float), name
    assert r.linear_nonlinear_gap == r.residual_mlp_r2 - r.residual_linear_r2
    # composition_r2 in closed form: 1 − ‖H_geom‖²/‖H − mean‖² (numpy lstsq).
    g = numpy_residual(h, fractions)
    hc = h.astype(np.float64) - h.astype(np.float64).mean(axis=0)
    assert abs(r.composition_r2 - (1 - (g**2).sum() / (hc**2).sum())) < 1e-9
    assert r.composition_variance_explained == r.composition_r2
    # The residual alone gives the whole analysis's numbers, bit for bit,
    # and those are analyze's geom records on the same data.
    for name in ("composition_r2", "residual_linear_r2", "residual_mlp_r2", "linear_nonlinear_gap"):
        assert getattr(r, name) == getattr(full, name), name
    assert r.metadata == full.metadata
    rec = {(x["representation"], x["probe"]): x for x in full.report.results}
    assert r.residual_linear_r2 == rec[("geom", "ridge")]["r2_mean"]
    assert r.residual_mlp_r2 == rec[("geom", "mlp")]["r2_mean"]
    assert r.metadata["r2_folds"] == {p: rec[("geom", p)]["r2_folds"] for p in ("ridge", "mlp")}
    assert full.raw_linear_r2 == rec[("raw", "ridge")]["r2_mean"]
    assert full.target_composition_r2 == rec[("composition", "ridge")]["r2_mean"]
    assert full.report.settings["composition_mode"] == "fractions"
    assert r.metadata["rank"] == 5  # fractions sum to 1: one column dropped
    # matscope's class, one import changed.
    m = cpd.CompositionProjectionDecomposition(cv_folds=5, random_state=0, mlp_max_epochs=40)
    r2 = m.decompose(h, fractions, y)
    assert r2.residual_linear_r2 == r.residual_linear_r2
    assert r2.residual_mlp_r2 == r.residual_mlp_r2
    lin = cpd.CompositionProjectionDecomposition(probe_type="linear", random_state=0, report=True)
    r3 = lin.decompose(h, counts, y)
    assert r3.residual_mlp_r2 == 0.0 and r3.report.settings["composition_mode"] == "counts"
    assert r3.disentanglement_score == r3.residual_linear_r2 - abs(r3.linear_nonlinear_gap)


def test_check_compares_reports(data, tmp_path):
    emb, comp, targ = data
    r = cpd.analyze({"m": emb["chgnet"]["conv2"]}, comp, targ, target=["gap_ev"])
    ok = cpd.check(r, r)
    assert ok and ok.count("ok") == 3
    base = r.to_dict()
    base["results"][2]["r2_mean"] += 0.05
    bad = cpd.check(base, r, tol=0.02)
    assert not bad and bad.count("moved") == 1
    assert cpd.check(base, r, tol=0.06)
    r.write(tmp_path)
    assert cpd.check(tmp_path / "report.json", r)
    with pytest.raises(FileNotFoundError, match="nope.json"):
        cpd.check(tmp_path / "nope.json", r)
    with pytest.raises(ValueError, match="tol"):
        cpd.check(r, r, tol=-1)


# --- bad input: ValueError with the CLI's message ---------------------------------


@pytest.fixture(scope="module")
def small(data):
    emb, comp, targ = data
    n = 200
    h = emb["chgnet"]["conv3"][:n]
    c = {k: (v[:n] if k != "id" else v[:n]) for k, v in comp.items()}
    t = {k: (v[:n] if k != "id" else v[:n]) for k, v in targ.items()}
    return h, c, t


def test_bad_arrays_raise_value_error(small):
    h, c, t = small
    cases = [
        ({"m": h[:, 0]}, c, t, {}, r"embeddings 'm'.*expected a 2-D array .*found 1 dimension"),
        ({"m": h[None]}, c, t, {}, r"expected a 2-D array .*found 3 dimension"),
        ({"m": h.astype(np.int32)}, c, t, {}, r"unsupported dtype int32, expected float32 or float64"),
        ({"m": h.astype(np.float16)}, c, t, {}, r"unsupported dtype float16"),
        ({"m": np.where(np.arange(h.size).reshape(h.shape) == 70, np.nan, h)}, c, t, {},
         r"embeddings 'm': layer 'm': 1 non-finite value\(s\); first is NaN at row 1, column 6"),
        ({"m": np.where(np.arange(h.size).reshape(h.shape) == 5, np.inf, h)}, c, t, {}, r"non-finite"),
        ({"m": h[:150]}, c, t, {}, r"layer 'm' has 150 rows but compositions has 200 structures"),
        ({"m": {"a": h, "b": h[:, :0]}}, c, t, {}, r"layer 'b' has 0 columns"),
        ({"m": h}, {**c, "H": np.where(np.arange(200) == 3, np.nan, c["H"])}, t, {},
         r"compositions: row 4, column 'H': NaN is not finite"),
        ({"m": h}, c, {**t, "gap_ev": np.where(np.arange(200) == 9, np.inf, t["gap_ev"])}, {},
         r"targets: row 10, column 'gap_ev': inf is not finite"),
        ({"m": h}, c, {k: v[:199] for k, v in t.items()}, {}, r"targets: id '\d+' \(row 200 of compositions\) is missing"),
        ({"m": h}, c, {k: v for k, v in t.items() if k != "id"} | {"gap_ev": t["gap_ev"][:150]}, {}, r"columns of different lengths"),
        ({"m": h}, {**c, "Xx": c["H"]}, t, {}, r"column 'Xx' is not an element symbol"),
        ({"m": h}, {**c, "H": c["H"] + 0.5}, t, {}, r"atom count 0.5 of '\d+' is not a whole number"),
        ({"m": h}, c, {**t, "gap_ev": np.array(["x"] * 200)}, {}, r"targets: column 'gap_ev' has dtype <U1, expected numbers"),
        ({"m": h}, c, t, {"target": ["nope"]}, r"unknown target 'nope'"),
        ({"m": h[:3]}, {k: v[:3] for k, v in c.items()}, {k: v[:3] for k, v in t.items()}, {},
         r"3 rows are fewer than the 5 folds requested"),
        ({"m": h[:12]}, {k: v[:12] for k, v in c.items()}, {k: v[:12] for k, v in t.items()}, {"folds": 7},
         r"at least 2 rows"),
        ({"m": h}, c, t, {"probes": ("ridge", "svm")}, r"setting `probes` = \[\"ridge\",\"svm\"\]: unknown variant `svm`"),
        ({"m": h}, c, t, {"alpha": -1.0}, r"alpha"),
        ({"m": h}, c, t, {"scale": "minmax"}, r"setting `scale` = \"minmax\": unknown variant `minmax`, expected one of `robust`, `standard`"),
        ({"m": h}, c, t, {"channels": "a=0:99"}, r"99"),
        ([h], c, t, {}, r"embeddings: expected a dict"),
        ({"m": h}, [1, 2], t, {}, r"compositions: expected a pandas DataFrame"),
    ]
    for emb, comp, targ, kw, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            cpd.analyze(emb, comp, targ, **kw)


def test_bad_decompose_and_project_inputs_raise_value_error(small):
    h, c, t = small
    counts = np.column_stack([c[e] for e in ("H", "C", "N", "O", "F")])
    y = t["gap_ev"]
    with pytest.raises(ValueError, match="found 1 dimension"):
        cpd.project(h[:, 0], counts)
    with pytest.raises(ValueError, match="H has 200 rows but compositions have 199"):
        cpd.project(h, counts[:199])
    with pytest.raises(ValueError, match="unsupported dtype int64"):
        cpd.project(np.ones((200, 3), dtype=np.int64), counts)
    with pytest.raises(ValueError, match=r"H: non-finite value NaN at row 0, column 0"):
        cpd.project(np.where(np.arange(h.size).reshape(h.shape) == 0, np.nan, h), counts)
    with pytest.raises(ValueError, match="targets: 150 rows but compositions have 200"):
        cpd.decompose(h, counts, y[:150])
    with pytest.raises(ValueError, match=r"y: expected one value per row"):
        cpd.decompose(h, counts, np.ones((200, 2)))
    with pytest.raises(ValueError, match="layer 'unknown' has 199 rows"):
        cpd.decompose(h[:199], counts, y)
    with pytest.raises(ValueError, match="NaN is not finite"):
        cpd.decompose(h, counts, np.where(np.arange(200) == 0, np.nan, y))
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        cpd.analyze({"m": h}, c, t, folds_file="missing.csv")
