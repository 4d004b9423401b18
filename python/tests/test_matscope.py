"""matscope's CPD API on cpd: a matscope script with its import line
changed runs and gives cpd's numbers; and, with matscope 0.2.0 installed
(as .ci/run installs it, without its dependencies), cpd's result classes
behave as matscope's on the same values."""

import os
from dataclasses import fields

import numpy as np
import pytest

from conftest import DATA

# The import line a matscope user changes:
#   from matscope.analysis.cpd import CompositionProjectionDecomposition, CPDResult, CPDProfile
from cpd import CompositionProjectionDecomposition, CPDProfile, CPDResult  # noqa: E402

import cpd

ELEMENTS = ("H", "C", "N", "O", "F")


def qm9(rows=600):
    """Fractional compositions (matscope's vectors), the SevenNet-0 layers
    and the HOMO energy of the first `rows` bundled molecules."""
    import csv

    with open(DATA / "compositions.csv", newline="") as f:
        comp = list(csv.DictReader(f))[:rows]
    with open(DATA / "targets.csv", newline="") as f:
        targ = list(csv.DictReader(f))[:rows]
    counts = np.array([[float(r[e]) for e in ELEMENTS] for r in comp])
    z = np.load(DATA / "embeddings" / "sevennet0.npz")
    layers = {k: z[k][:rows] for k in ("l_prev", "l_last")}
    y = np.array([float(r["homo_ev"]) for r in targ])
    return layers, counts / counts.sum(axis=1, keepdims=True), y


def matscope_style_script(layers, C, y):
    """What a matscope 0.2.0 notebook does, line for line after the import."""
    cpd_ = CompositionProjectionDecomposition(cv_folds=5, mlp_hidden_dim=64, random_state=0)
    single = cpd_.decompose(layers["l_last"], C, y, layer_name="l_last", target_property="homo")
    profile = cpd_.profile(layers, C, y, model_name="sevennet0", target_property="homo")
    # A second "model": the same layers with a random rotation of l_last.
    rot, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((128, 128)))
    other = cpd_.profile(
        {"l_prev": layers["l_prev"], "l_last": layers["l_last"] @ rot.astype(np.float32)},
        C, y, model_name="rotated", target_property="homo",
    )
    comparison = CompositionProjectionDecomposition.compare_profiles(
        {"sevennet0": profile, "rotated": other}
    )
    return single, profile, other, comparison, profile.to_dataframe(), profile.summary()


def test_a_matscope_script_runs_on_cpd_and_gives_cpds_numbers():
    layers, C, y = qm9()
    single, profile, other, comparison, df, summary = matscope_style_script(layers, C, y)

    # CPDResult: matscope's fields and property, cpd's numbers.
    assert isinstance(single, CPDResult)
    assert (single.layer_name, single.target_property) == ("l_last", "homo")
    assert single.linear_nonlinear_gap == single.residual_mlp_r2 - single.residual_linear_r2
    assert single.disentanglement_score == single.residual_linear_r2 - abs(single.linear_nonlinear_gap)
    for key in ("n_samples", "hidden_dim", "n_elements", "composition_alpha", "cv_folds"):
        assert key in single.metadata
    assert (single.metadata["n_samples"], single.metadata["hidden_dim"]) == (600, 128)
    assert (single.metadata["n_elements"], single.metadata["cv_folds"]) == (5, 5)
    # The same numbers as cpd.decompose and as the whole analysis.
    ref = cpd.decompose(
        layers["l_last"], C, y, "l_last", "homo", folds=5, seed=0, mlp_hidden=64, report=True
    )
    for name in ("composition_r2", "residual_linear_r2", "residual_mlp_r2"):
        assert getattr(single, name) == getattr(ref, name), name
    # composition_r2 in closed form (numpy least squares on [1 | C]).
    a = np.column_stack([np.ones(len(C)), C])
    h = layers["l_last"].astype(np.float64)
    g = h - a @ np.linalg.lstsq(a, h, rcond=None)[0]
    assert abs(single.composition_r2 - (1 - (g**2).sum() / ((h - h.mean(0)) ** 2).sum())) < 1e-9

    # CPDProfile from one call over every layer: each layer's result is the
    # single-layer decompose's.
    assert isinstance(profile, CPDProfile)
    assert (profile.model_name, profile.target_property) == ("sevennet0", "homo")
    assert list(profile.results) == ["l_prev", "l_last"]
    assert profile.results["l_last"] == single
    r = profile.results
    assert profile.best_layer == max(r, key=lambda k: r[k].residual_linear_r2)
    assert profile.most_nonlinear_layer == max(r, key=lambda k: r[k].linear_nonlinear_gap)
    assert profile.disentanglement_trajectory == [x.disentanglement_score for x in r.values()]

    # A rotation of a layer leaves its composition share unchanged.
    assert abs(other.results["l_last"].composition_r2 - single.composition_r2) < 1e-9

    # compare_profiles: matscope's keys and ranks.
    assert set(comparison) == {"sevennet0", "rotated"}
    for name, p in (("sevennet0", profile), ("rotated", other)):
        c = comparison[name]
        best = p.results[p.best_layer]
        assert c["best_residual_r2"] == best.residual_linear_r2
        assert c["best_gap"] == best.linear_nonlinear_gap
        assert c["best_disentanglement"] == best.disentanglement_score
        assert c["mean_composition_r2"] == pytest.approx(np.mean([x.composition_r2 for x in p.results.values()]))
        assert c["trajectory"] == p.disentanglement_trajectory
    ranks = sorted(comparison, key=lambda k: comparison[k]["disentanglement_rank"])
    assert ranks == sorted(comparison, key=lambda k: -comparison[k]["best_disentanglement"])
    assert sorted(c["disentanglement_rank"] for c in comparison.values()) == [1, 2]

    # to_dataframe and summary.
    assert list(df.columns) == [
        "layer", "composition_r2", "residual_linear_r2", "residual_mlp_r2",
        "gap", "disentanglement", "composition_variance",
    ]
    assert list(df["layer"]) == ["l_prev", "l_last"]
    assert df["residual_linear_r2"].tolist() == [x.residual_linear_r2 for x in r.values()]
    best = profile.best_layer
    assert summary.splitlines()[0] == "CPD Profile: sevennet0"
    assert f"Best geometric layer: {best} (R²_resid={r[best].residual_linear_r2:.3f})" in summary


def test_matscopes_own_synthetic_checks_hold():
    """The properties matscope's tests assert of its decompose, on its kind
    of data (Dirichlet compositions, geometry in its own subspace)."""
    rng = np.random.RandomState(123)
    n, d, k = 300, 64, 5
    C = rng.dirichlet(np.ones(k), size=n)
    Z = rng.randn(n, 10)
    H = np.hstack([C @ rng.randn(k, d // 2), Z @ rng.randn(10, d // 2)])
    y = Z @ rng.randn(10) + rng.randn(n) * 0.1
    r = CompositionProjectionDecomposition(cv_folds=3).decompose(H, C, y)
    assert r.residual_linear_r2 > 0.95  # the geometry is linear in H
    assert abs(r.linear_nonlinear_gap) < 0.3
    lin = CompositionProjectionDecomposition(probe_type="linear", cv_folds=3).decompose(H, C, y)
    assert lin.residual_linear_r2 == r.residual_linear_r2 and lin.residual_mlp_r2 == 0.0
    with pytest.raises(ValueError, match="probe_type 'svm'"):
        CompositionProjectionDecomposition(probe_type="svm").decompose(H, C, y)
    # Layer names of any hashable type, and any real dtype, as matscope
    # takes them; settings that add targets leave the result alone.
    ints = CompositionProjectionDecomposition(probe_type="linear", cv_folds=3).profile(
        {0: H, 1: np.rint(H * 100).astype(np.int64)}, C, y
    )
    assert list(ints.results) == [0, 1] and ints.results[0].layer_name == 0
    assert ints.results[0].residual_linear_r2 == lin.residual_linear_r2
    assert ints.results[1].metadata["hidden_dim"] == d
    ctl = CompositionProjectionDecomposition(probe_type="linear", cv_folds=3, controls=True)
    assert ctl.decompose(H, C, y).residual_linear_r2 == lin.residual_linear_r2


def matscope_or_skip():
    try:
        from matscope.analysis import cpd as ms
    except ImportError:
        if os.environ.get("CPD_REQUIRE_MATSCOPE"):
            raise
        pytest.skip("matscope 0.2.0 is not installed (pip install --no-deps matscope==0.2.0)")
    return ms


def made(module):
    """The same three-layer profiles, built with `module`'s classes."""
    profiles = {}
    for model, shift in (("equivariant", 0.3), ("invariant", -0.2), ("tied", 0.3)):
        results = {
            f"layer_{i}": module.CPDResult(
                f"layer_{i}", 0.6 - 0.2 * i, lin + shift, lin + shift + gap, gap, "gap",
                0.6 - 0.2 * i, {"n_samples": 10},
            )
            for i, (lin, gap) in enumerate(((0.3, 0.2), (0.7, 0.05), (0.5, 0.4)))
        }
        profiles[model] = module.CPDProfile(model, results, "gap")
    return profiles


def test_the_classes_behave_as_matscopes_on_the_same_values():
    ms = matscope_or_skip()
    # matscope's fields are cpd's first fields, in order (positional
    # construction holds), with the same defaults.
    ours = [(f.name, f.default) for f in fields(CPDResult)]
    theirs = [(f.name, f.default) for f in fields(ms.CPDResult)]
    assert ours[: len(theirs)] == theirs
    assert [f.name for f in fields(CPDProfile)][:4] == [f.name for f in fields(ms.CPDProfile)]
    a, b = made(cpd), made(ms)
    for model in a:
        pa, pb = a[model], b[model]
        assert pa.best_layer == pb.best_layer
        assert pa.most_nonlinear_layer == pb.most_nonlinear_layer
        assert pa.disentanglement_trajectory == pb.disentanglement_trajectory
        assert pa.summary() == pb.summary()
        assert pa.to_dataframe().equals(pb.to_dataframe())
        for layer in pa.results:
            assert pa.results[layer].disentanglement_score == pb.results[layer].disentanglement_score
    # Ranks, ties included (a stable sort keeps the given order).
    assert CompositionProjectionDecomposition.compare_profiles(a) == ms.CompositionProjectionDecomposition.compare_profiles(b)
