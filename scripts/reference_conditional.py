#!/usr/bin/env python3
"""Reference numbers for cpd's conditional probe: the geometry's R² given composition.

Purpose
-------
Recompute, with scikit-learn and LightGBM, the conditional R² of a probe on
the residual (``geom``) representation -- how much a probe on the geometry
adds to the same probe on the composition when it is fitted to what the
composition model leaves -- on cpd's own folds, and write the numbers to a
JSON fixture (``tests/fixtures/sklearn_conditional.json``) for the Rust test
suite. The ridge records are exact (float64 throughout; the Rust test
compares them at 1e-10); the MLP and GBT records are statistical references
(different random streams, binning and split order), the MLP's with three
seeds so that scikit-learn's own seed-to-seed spread is on record.

Method (followed literally)
--------------------------
Representations are exactly cpd's, built with the functions of
``scripts/reference.py`` (imported, not copied): ``C`` = ``composition`` (the
counts as float64, no ones column) and ``G`` = ``geom`` (``H - Q Q^T H``, ``Q``
the pivoted-QR basis of ``[1 | C]``, columns that composition explains
entirely set to 0 with the tolerance of the embedding's stored dtype).
Targets are not residualised. For every fold ``f`` of the folds (train
``T`` = rows with ``fold != f``, held-out ``H`` = rows with ``fold == f``),
every target ``y``, every (model, layer) embedding and probe ``P``:

1. Stage 1, the composition baseline. For ``ridge``: ``P`` fitted on
   ``(C_T, y_T)`` with ``P``'s scaling rule applied to ``C`` (fitted on
   ``C_T``). For ``mlp`` and ``gbt``, the baseline starts from ridge: ridge
   (as above) gives ``l_T``, ``l_H``; ``P`` is fitted on ``(C_T, y_T - l_T)``
   and its predictions are added to ridge's. ``base_T`` = the baseline's
   predictions on the training rows themselves (in-sample), ``base_H`` = its
   predictions on ``H``.
2. Stage 2: a fresh ``P`` fitted on ``(G_T, y_T - base_T)`` with ``P``'s
   scaling rule applied to ``G`` (fitted on ``G_T``); ``g_H`` = its
   predictions on ``H``.
3. ``r2_comp_fold = r2_score(y_H, base_H)``, ``r2_joint_fold =
   r2_score(y_H, base_H + g_H)``; ``r2_comp`` / ``r2_joint`` are their means
   over the folds and ``r2_cond = r2_joint - r2_comp``.
4. For comparison, ``r2_geom`` = the mean per-fold ``r2_score`` of ``P``
   fitted on ``(G_T, y_T)`` (the ordinary residual probe; the same numbers as
   the ``geom`` records of the other reference fixtures).

Stage 1 does not depend on the embedding, so it is computed once per probe,
seed, fold and target and shared by every layer (the same fit, hence the same
numbers, as refitting it per layer).

Probes (cpd's default ``robust`` scalings):

* ``ridge``: ``reference.scale_fold(..., "global")`` -- centred on the
  training fold's column means, every column divided by one number, the root
  mean variance of the columns that are not constant by scikit-learn's
  ``_is_constant_feature`` rule (``reference.global_scale``) -- then
  ``RidgeCV(alphas=np.logspace(-3, 3, 13))`` (efficient leave-one-out),
  one fit per target. Every bundled record (every model, layer and target).
  ``alphas_comp`` / ``alphas_cond`` are the alphas stage 1 / stage 2 chose on
  each fold.
* ``mlp``: ``reference.scale_fold(..., "global-clip")`` (as above, then the
  held-out rows clipped column by column to the scaled training rows'
  [min, max]) and ``reference_mlp.fit_predict``: the target standardised
  with the training fold's mean and population std (stage 2's target
  ``y_T - base_T`` on its own), ``MLPRegressor(hidden_layer_sizes=(128,),
  activation="relu", solver="adam", alpha=1e-4, batch_size=min(200, n),
  learning_rate_init=1e-3, max_iter=200, early_stopping=True,
  validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, shuffle=True,
  random_state=SEED)``, predictions un-standardised. Every stage is run with
  each seed (0, 1, 2 by default; stage 1 and stage 2 of one run use the same
  seed). ``r2_cond_by_seed`` (and ``r2_geom_by_seed``,
  ``*_folds_by_seed``) hold each seed's numbers; ``r2_comp_folds``,
  ``r2_joint_folds`` and ``r2_geom_folds`` are their per-fold means over the
  seeds, so ``r2_cond`` is both ``r2_joint - r2_comp`` and the mean of
  ``r2_cond_by_seed``.
* ``gbt``: ``reference_gbt.make_probe("lightgbm", 300)``
  (``LGBMRegressor(n_estimators=300, learning_rate=0.1, num_leaves=31,
  max_depth=-1, min_child_samples=20, min_child_weight=1e-3, reg_lambda=0,
  reg_alpha=0, min_split_gain=0, max_bin=255, subsample=1,
  colsample_bytree=1, n_jobs=2, random_state=0)``) on the unscaled float64
  features.

``mlp`` and ``gbt`` are run on the layers of ``--nonlinear-model`` (default
``sevennet0`` and ``ani2x``, every layer) and the targets of
``--nonlinear-target`` (default ``gap_ev`` and ``mass_amu``) only, to keep
the run short.

Usage (from the repository root)
--------------------------------
    python scripts/reference_conditional.py [--folds FOLDS.csv] \
        [--compositions data/compositions.csv] [--targets data/targets.csv] \
        [--embeddings NAME=PATH ...] [--probes ridge,mlp,gbt] \
        [--seed 0 --seed 1 --seed 2] [--nonlinear-model M ...] \
        [--nonlinear-target T ...] [--out tests/fixtures/sklearn_conditional.json]

Without ``--folds`` the folds are cpd's seed-0 5-fold split stored in
``tests/fixtures/sklearn_ridge.json["folds"]`` (joined by id); with it, an
``id,fold`` CSV such as the ``folds.csv`` cpd writes. The fixture stores the
folds it used (``folds``: ``ids``, ``fold``, in compositions order, the
format of ``sklearn_ridge.json``). Defaults are those of
``scripts/reference.py`` (the bundled ``data/``).

Cost: the bundled run (60 records: 48 ridge, 6 mlp, 6 gbt) took 16.5
minutes (987 s) on 2 cores shared with a Rust build, with
``OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``: ridge
2.5 minutes (ani2x's 1008-column layer 131 s of it), the MLP's three seeds
3 minutes, LightGBM 11 minutes (ani2x 369 s, sevennet0 l_prev 196 s); the
fixture's ``seconds`` holds the measured times. On a shared machine run it
with ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` (LightGBM still uses its
``n_jobs=2``) and, if other processes compete for the cores,
``OMP_WAIT_POLICY=PASSIVE`` (see ``scripts/reference_gbt.py``; without it one
LightGBM fit took 82 s instead of 5 s next to a ``cargo build``). They did
not change the numbers here: every ridge and LightGBM ``r2_geom_folds`` and
``r2_comp_folds`` (and ridge ``alphas_comp``) equals the matching ``geom`` /
``composition`` record of ``sklearn_ridge_global.json`` /
``gbt_reference.json`` exactly, and the MLP's ``gap_ev`` ``r2_geom_by_seed``
equals ``sklearn_mlp_global_clip.json``'s ``r2_mean_seeds``. The environment
is recorded in ``settings.threads``.

Requirements: ``pip install -r scripts/requirements-ref.txt`` (includes
``lightgbm``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import r2_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402  (loading, alignment, projection, global scale, RidgeCV)
import reference_gbt  # noqa: E402  (LightGBM settings)
import reference_mlp  # noqa: E402  (MLPRegressor settings, target standardisation)

GENERATOR = "scripts/reference_conditional.py"
PROBES = ("ridge", "mlp", "gbt")
# cpd's default ("robust") scaling of each probe, in reference.scale_fold's terms.
PROBE_SCALE = {"ridge": "global", "mlp": "global-clip", "gbt": None}
DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_NONLINEAR_MODELS = ("sevennet0", "ani2x")
DEFAULT_NONLINEAR_TARGETS = ("gap_ev", "mass_amu")
GBT_ROUNDS = reference_gbt.DEFAULT_ROUNDS
FOLDS_FIXTURE = "tests/fixtures/sklearn_ridge.json"
DEFAULT_OUT = "tests/fixtures/sklearn_conditional.json"


# --------------------------------------------------------------------------- #
# Probes: scale once per fold and representation, then fit per target
# --------------------------------------------------------------------------- #


def prepare(probe: str, X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training and held-out rows as ``probe`` sees them (its scaling rule)."""
    scale = PROBE_SCALE[probe]
    if scale is None:
        return (np.ascontiguousarray(X_train, dtype=np.float64),
                np.ascontiguousarray(X_test, dtype=np.float64))
    return ref.scale_fold(X_train, X_test, scale)


def fit_predict(
    probe: str, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Fit one ``probe`` on prepared ``(Xtr, ytr)``.

    Returns its in-sample predictions on ``Xtr``, its predictions on ``Xte``
    and the chosen alpha (ridge; ``None`` otherwise).
    """
    if probe == "ridge":
        model = ref.make_probe("ridgecv_global").fit(Xtr, ytr)
        return model.predict(Xtr), model.predict(Xte), float(model.alpha_)
    if probe == "mlp":
        # reference_mlp.fit_predict standardises ytr on its own and returns
        # predictions in target units; the training rows are predicted with
        # the held-out rows in one call.
        pred = reference_mlp.fit_predict(Xtr, ytr, np.vstack([Xtr, Xte]), seed)
        return pred[: len(Xtr)], pred[len(Xtr):], None
    if probe == "gbt":
        model = reference_gbt.make_probe("lightgbm", GBT_ROUNDS).fit(Xtr, ytr)
        return model.predict(Xtr), model.predict(Xte), None
    raise ValueError(f"unknown probe {probe!r}")


def composition_stage(probe: str, C: np.ndarray, Y: np.ndarray, folds: np.ndarray, seed: int):
    """Stage 1 on every fold and target: ``base[f][j] = (base_T, base_H)``,
    ``r2[j, f]`` and ``alphas[j, f]`` (NaN for probes without an alpha)."""
    k = int(folds.max()) + 1
    t = Y.shape[1]
    base = [[None] * t for _ in range(k)]
    r2 = np.zeros((t, k))
    alphas = np.full((t, k), np.nan)
    for f in range(k):
        test = folds == f
        train = ~test
        Ctr, Cte = prepare(probe, C[train], C[test])
        Ltr, Lte = prepare("ridge", C[train], C[test])
        for j in range(t):
            if probe == "ridge":
                ptr, pte, alpha = fit_predict(probe, Ctr, Y[train, j], Cte, seed)
            else:
                # A nonlinear probe starts from ridge on composition: it is
                # fitted to what ridge leaves, and ridge's predictions are
                # added back.
                ltr, lte, _ = fit_predict("ridge", Ltr, Y[train, j], Lte, seed)
                ptr, pte, alpha = fit_predict(probe, Ctr, Y[train, j] - ltr, Cte, seed)
                ptr, pte = ptr + ltr, pte + lte
            base[f][j] = (ptr, pte)
            r2[j, f] = r2_score(Y[test, j], pte)
            if alpha is not None:
                alphas[j, f] = alpha
    return base, r2, alphas


def geometry_stage(probe: str, G: np.ndarray, Y: np.ndarray, folds: np.ndarray, seed: int, base):
    """Stage 2 and the plain residual probe on every fold and target.

    Returns ``r2_joint[j, f]``, ``alphas_cond[j, f]`` and ``r2_geom[j, f]``.
    """
    k = int(folds.max()) + 1
    t = Y.shape[1]
    r2_joint = np.zeros((t, k))
    r2_geom = np.zeros((t, k))
    alphas = np.full((t, k), np.nan)
    for f in range(k):
        test = folds == f
        train = ~test
        Gtr, Gte = prepare(probe, G[train], G[test])
        for j in range(t):
            ytr, yte = Y[train, j], Y[test, j]
            base_tr, base_te = base[f][j]
            _, g_te, alpha = fit_predict(probe, Gtr, ytr - base_tr, Gte, seed)
            r2_joint[j, f] = r2_score(yte, base_te + g_te)
            if alpha is not None:
                alphas[j, f] = alpha
            _, p_te, _ = fit_predict(probe, Gtr, ytr, Gte, seed)
            r2_geom[j, f] = r2_score(yte, p_te)
    return r2_joint, alphas, r2_geom


# --------------------------------------------------------------------------- #
# Records
# --------------------------------------------------------------------------- #


def _floats(a) -> list[float]:
    return [float(v) for v in a]


def run_probe(
    probe: str,
    ds: ref.Dataset,
    Q: np.ndarray,
    folds: np.ndarray,
    seeds: list[int],
    log=print,
) -> list[dict]:
    """Every record of one probe (its layers and targets are ``ds``'s), in
    layer order then target order."""
    Y = ds.targets
    per_seed = []  # per seed: (r2_comp[t,k], alphas_comp, {layer_index: (joint, alphas, geom)})
    for seed in seeds:
        t0 = time.perf_counter()
        base, r2_comp, alphas_comp = composition_stage(probe, ds.compositions, Y, folds, seed)
        log(f"{probe} seed {seed}: composition stage {time.perf_counter() - t0:.1f} s")
        layers = []
        for lay in ds.layers:
            t0 = time.perf_counter()
            # The stored matrix picks the zeroing tolerance (as in reference.py).
            G = ref.geometric_residual(lay.matrix, Q)
            layers.append(geometry_stage(probe, G, Y, folds, seed, base))
            del G
            cond = np.mean(layers[-1][0], axis=1) - np.mean(r2_comp, axis=1)
            log(f"{probe} seed {seed}: {lay.model}/{lay.layer} d={lay.matrix.shape[1]} "
                f"{time.perf_counter() - t0:.1f} s, r2_cond {cond.min():+.4f}..{cond.max():+.4f}")
        per_seed.append((r2_comp, alphas_comp, layers))

    records = []
    for i, lay in enumerate(ds.layers):
        for j, target in enumerate(ds.target_names):
            comp = np.array([s[0][j] for s in per_seed])  # (seeds, k)
            joint = np.array([s[2][i][0][j] for s in per_seed])
            geom = np.array([s[2][i][2][j] for s in per_seed])
            rec = {
                "model": lay.model,
                "layer": lay.layer,
                "target": target,
                "probe": probe,
                "r2_comp_folds": _floats(comp.mean(axis=0)),
                "r2_joint_folds": _floats(joint.mean(axis=0)),
                "r2_comp": float(comp.mean()),
                "r2_joint": float(joint.mean()),
                "r2_cond": float(joint.mean() - comp.mean()),
                "r2_geom_folds": _floats(geom.mean(axis=0)),
                "r2_geom": float(geom.mean()),
            }
            if probe == "ridge":
                rec["alphas_comp"] = _floats(per_seed[0][1][j])
                rec["alphas_cond"] = _floats(per_seed[0][2][i][1][j])
            if probe == "mlp":
                rec["seeds"] = list(seeds)
                rec["r2_cond_by_seed"] = _floats(joint.mean(axis=1) - comp.mean(axis=1))
                rec["r2_geom_by_seed"] = _floats(geom.mean(axis=1))
                rec["r2_comp_folds_by_seed"] = [_floats(r) for r in comp]
                rec["r2_joint_folds_by_seed"] = [_floats(r) for r in joint]
                rec["r2_geom_folds_by_seed"] = [_floats(r) for r in geom]
            records.append(rec)
    return records


def subset(ds: ref.Dataset, models: list[str], targets: list[str]) -> ref.Dataset:
    """``ds`` restricted to the layers of ``models`` and to ``targets``."""
    have_t = ds.target_names
    bad = [t for t in targets if t not in have_t]
    if bad:
        raise ValueError(f"unknown target(s) {bad}; have {have_t}")
    have_m = sorted({l.model for l in ds.layers})
    bad = [m for m in models if m not in have_m]
    if bad:
        raise ValueError(f"unknown model(s) {bad}; have {have_m}")
    cols = [have_t.index(t) for t in targets]
    return ref.Dataset(
        ids=ds.ids,
        comp_columns=ds.comp_columns,
        compositions=ds.compositions,
        target_names=list(targets),
        targets=ds.targets[:, cols],
        layers=[l for m in models for l in ds.layers if l.model == m],
    )


def folds_from_fixture(path: Path, ids: list[str]) -> np.ndarray:
    """The fold of every row of ``ids`` from a fixture's ``folds`` (joined by id)."""
    with open(path) as fh:
        stored = json.load(fh)["folds"]
    table = ref.Table(stored["ids"], ["fold"], np.asarray(stored["fold"], dtype=np.float64)[:, None])
    folds = ref.reorder_rows(table, ids, f"{path}[folds]")[:, 0].astype(np.int64)
    k = int(folds.max()) + 1
    if folds.min() < 0 or k < 2 or any(not np.any(folds == f) for f in range(k)):
        raise ValueError(f"{path}: folds must be 0..k-1, k >= 2, none empty")
    return folds


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def parse_probes(text: str) -> tuple[str, ...]:
    """``ridge,mlp`` -> ``("ridge", "mlp")``."""
    probes = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in probes if p not in PROBES]
    if bad or not probes:
        raise argparse.ArgumentTypeError(f"probes must be among {PROBES}, got {text!r}")
    return probes


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    dp = ref.default_path
    ap = argparse.ArgumentParser(
        description="Write the conditional-probe (geometry given composition) fixture for cpd.",
    )
    ap.add_argument("--folds", type=Path, default=None,
                    help=f"CSV with columns id,fold; default: the folds stored in {FOLDS_FIXTURE}")
    ap.add_argument("--compositions", type=Path, default=dp("data/compositions.csv"))
    ap.add_argument("--targets", type=Path, default=dp("data/targets.csv"))
    ap.add_argument("--embeddings", action="append", metavar="NAME=PATH",
                    help="embedding file; repeatable; default: data/embeddings/*.npz")
    ap.add_argument("--probes", type=parse_probes, default=PROBES,
                    help="comma-separated subset of ridge,mlp,gbt; default: all three")
    ap.add_argument("--seed", type=int, action="append",
                    help="MLPRegressor random_state; repeatable; default: 0, 1, 2")
    ap.add_argument("--nonlinear-model", action="append", metavar="MODEL",
                    help="models (every layer) of the mlp and gbt records; repeatable; "
                         f"default: {', '.join(DEFAULT_NONLINEAR_MODELS)}")
    ap.add_argument("--nonlinear-target", action="append", metavar="T",
                    help="targets of the mlp and gbt records; repeatable; "
                         f"default: {', '.join(DEFAULT_NONLINEAR_TARGETS)}")
    ap.add_argument("--out", type=Path, default=dp(DEFAULT_OUT),
                    help=f"fixture to write; default: {DEFAULT_OUT}")
    return ap


def library_versions() -> dict[str, str]:
    """numpy / scipy / scikit-learn / lightgbm versions."""
    return reference_gbt.library_versions()


def main(argv: list[str] | None = None) -> int:
    """Entry point: load, compute, write the JSON fixture, print a summary."""
    args = build_parser().parse_args(argv)
    t_start = time.perf_counter()
    specs = ref.parse_embedding_specs(args.embeddings, ref.default_path("data/embeddings"))
    if not specs:
        print("error: no embeddings given or found", file=sys.stderr)
        return 2
    ds = ref.load_dataset(args.compositions, args.targets, specs)
    if args.folds is not None:
        folds = ref.load_folds(args.folds, ds.ids)
        folds_source = str(args.folds)
    else:
        folds = folds_from_fixture(ref.default_path(FOLDS_FIXTURE), ds.ids)
        folds_source = f"{FOLDS_FIXTURE}[\"folds\"]"
    seeds = args.seed or list(DEFAULT_SEEDS)
    nl_models = args.nonlinear_model or list(DEFAULT_NONLINEAR_MODELS)
    nl_targets = args.nonlinear_target or list(DEFAULT_NONLINEAR_TARGETS)
    try:
        nl = subset(ds, nl_models, nl_targets)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    Q, rank = ref.composition_basis(ds.compositions)
    k = int(folds.max()) + 1
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    log(f"{len(ds.ids)} rows, {len(ds.layers)} layers, {len(ds.target_names)} targets, {k} folds, "
        f"composition rank {rank}, probes {','.join(args.probes)}")

    records: list[dict] = []
    seconds: dict[str, float] = {}
    for probe in args.probes:
        t0 = time.perf_counter()
        if probe == "ridge":
            records += run_probe(probe, ds, Q, folds, [0], log)
        elif probe == "mlp":
            records += run_probe(probe, nl, Q, folds, seeds, log)
        else:
            records += run_probe(probe, nl, Q, folds, [0], log)
        seconds[probe] = time.perf_counter() - t0

    mlp_params = {k_: v for k_, v in reference_mlp.make_mlp(200, 0).get_params().items()
                  if k_ != "random_state"}
    mlp_params["batch_size"] = "min(200, n_train)"
    settings = {
        "definition": "r2_cond = mean_f r2(y_H, base_H + g_H) - mean_f r2(y_H, base_H); "
                      "base = probe on composition fitted on (C_T, y_T) (mlp, gbt: fitted to what ridge on composition leaves, ridge added back), base_T in-sample; "
                      "g = fresh probe on geom fitted on (G_T, y_T - base_T); "
                      "each stage scaled on its own training rows",
        "folds": k,
        "n": len(ds.ids),
        "folds_source": folds_source,
        "composition_rank": rank,
        "composition_columns": list(ds.comp_columns),
        "residual_zero_rtol": {str(d): float(v) for d, v in ref.ZERO_COLUMN_RTOL.items()},
        "targets_residualised": False,
        "ridge": {
            "scale": PROBE_SCALE["ridge"],
            "estimator": "RidgeCV(alphas=np.logspace(-3, 3, 13)), efficient LOO, one fit per target",
            "alphas_grid": [float(a) for a in ref.ALPHAS],
            "layers": [f"{l.model}/{l.layer}" for l in ds.layers],
            "targets": list(ds.target_names),
        },
        "mlp": {
            "scale": PROBE_SCALE["mlp"],
            "target_standardised": "per stage on its own training target: (y - mean) / std "
                                   "(ddof 0, std 0 -> 1)",
            "params": mlp_params,
            "seeds": list(seeds),
            "layers": [f"{l.model}/{l.layer}" for l in nl.layers],
            "targets": list(nl.target_names),
        },
        "gbt": {
            "scale": PROBE_SCALE["gbt"],
            "library": "lightgbm.LGBMRegressor",
            "params": reference_gbt.lightgbm_params(GBT_ROUNDS),
            "layers": [f"{l.model}/{l.layer}" for l in nl.layers],
            "targets": list(nl.target_names),
        },
        "probes": list(args.probes),
        "threads": {v: os.environ.get(v) for v in
                    ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")},
    }
    fixture = {
        "generator": GENERATOR,
        "versions": library_versions(),
        "settings": settings,
        "folds": {"ids": list(ds.ids), "fold": [int(f) for f in folds]},
        "seconds": {**seconds, "total": time.perf_counter() - t_start},
        "records": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(fixture, fh, indent=1, allow_nan=False)
        fh.write("\n")

    print(f"wrote {args.out}: {len(records)} records, "
          f"{fixture['seconds']['total']:.0f} s "
          f"({', '.join(f'{p} {s:.0f} s' for p, s in seconds.items())})")
    for probe in args.probes:
        recs = [r for r in records if r["probe"] == probe]
        cond = [r["r2_cond"] for r in recs]
        print(f"{probe}: {len(recs)} records, r2_cond min {min(cond):+.6f} max {max(cond):+.6f}")
    print(f"{'probe':<6} {'model/layer':<18} {'target':<13} {'r2_comp':>8} {'r2_geom':>8} "
          f"{'r2_joint':>8} {'r2_cond':>8}  by seed")
    for r in records:
        if r["probe"] == "ridge" and r["model"] not in nl_models:
            continue
        if r["target"] not in nl_targets:
            continue
        extra = " ".join(f"{v:+.4f}" for v in r.get("r2_cond_by_seed", []))
        print(f"{r['probe']:<6} {r['model'] + '/' + r['layer']:<18} {r['target']:<13} "
              f"{r['r2_comp']:8.4f} {r['r2_geom']:8.4f} {r['r2_joint']:8.4f} "
              f"{r['r2_cond']:+8.4f}  {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
