#!/usr/bin/env python3
"""Per-fold R² with and without cpd's ``clip`` scaling (figures for notes, not a fixture).

Purpose
-------
Show what ``--scale clip`` does to linear and MLP probes on one record of the
bundled data where standardised held-out features extrapolate far outside
the training range (by default ani2x / aev / ``gap_ev`` / ``geom``), and
summarise how the ridge fixtures of both scalings differ.

Method
------
Data, alignment, composition projection and the representation are
``scripts/reference.py``'s (imported); folds are the fixture's (cpd's seed-0
5-fold split, read from ``tests/fixtures/sklearn_ridge.json["folds"]``, or
``--folds FOLDS.csv``). For every fold, ``StandardScaler`` is fit on the
training rows and applied to training and held-out rows; ``clip`` then
clips the standardised held-out rows to the per-column [min, max] of the
standardised training rows (``reference.scale_fold``). Four probes:

(a) ``standard`` + ``RidgeCV(alphas=np.logspace(-3, 3, 13))``
(b) ``clip``     + ``RidgeCV(alphas=np.logspace(-3, 3, 13))``
(c) ``standard`` + ``MLPRegressor(hidden_layer_sizes=(128,), solver="adam",
    early_stopping=True, random_state=0, max_iter=200)`` (every other
    setting scikit-learn's default), fit on the training fold's standardised
    target ``(y - mean) / std`` (population std, 0 -> 1), predictions
    un-standardised (``reference_mlp.fit_predict``)
(d) ``clip``     + the same MLP.

Per fold it prints the R² of each, how many held-out rows had at least one
feature clipped, and the largest |z| of a held-out feature before clipping;
then the mean and median over folds. Finally, when both fixtures exist, the
largest |Δ r2_mean| between ``ridgecv_clip``
(``tests/fixtures/sklearn_ridge_clip.json``) and ``ridgecv``
(``tests/fixtures/sklearn_ridge.json``) over the sevennet0 and chgnet
records, over the ani2x records and over the composition records.

Usage (from the repository root; about a minute, the MLPs dominate)
-------------------------------------------------------------------
    python scripts/clip_figures.py [--model ani2x] [--layer aev] \\
        [--target gap_ev] [--representation geom] [--folds FOLDS.csv]

Run with ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` for bit-stable MLP
figures across machines. Requirements: ``pip install -r
scripts/requirements-ref.txt``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402  (loading, alignment, projection, scaling)
import reference_mlp as rmlp  # noqa: E402  (scikit-learn MLP with a standardised target)

STANDARD_FIXTURE = "tests/fixtures/sklearn_ridge.json"
CLIP_FIXTURE = "tests/fixtures/sklearn_ridge_clip.json"
MLP_SEED = 0
COLUMNS = ("(a) std+ridgecv", "(b) clip+ridgecv", "(c) std+mlp", "(d) clip+mlp")


def fixture_folds(path: Path, ids: list[str]) -> np.ndarray:
    """The fold of every row of ``ids``, from a ridge fixture's ``folds`` entry."""
    folds = json.loads(path.read_text())["folds"]
    index = {ref._id_key(i): int(k) for i, k in zip(folds["ids"], folds["fold"])}
    return np.array([index[ref._id_key(i)] for i in ids], dtype=np.int64)


def representation(ds: ref.Dataset, model: str, layer: str, rep: str) -> np.ndarray:
    """``composition``, ``raw`` or ``geom`` matrix of one layer, as reference.py builds it."""
    if rep == "composition":
        return ds.compositions
    lay = next((l for l in ds.layers if l.model == model and l.layer == layer), None)
    if lay is None:
        have = [f"{l.model}/{l.layer}" for l in ds.layers]
        raise SystemExit(f"no layer {model}/{layer}; have {have}")
    if rep == "raw":
        return np.asarray(lay.matrix, dtype=np.float64)
    if rep == "geom":
        Q, _ = ref.composition_basis(ds.compositions)
        return ref.geometric_residual(lay.matrix, Q)
    raise SystemExit(f"unknown representation {rep!r}")


def fold_figures(X: np.ndarray, y: np.ndarray, folds: np.ndarray) -> list[dict]:
    """Per fold: R² of the four probes, rows clipped, largest held-out |z|."""
    rows = []
    for f in range(int(folds.max()) + 1):
        test = folds == f
        train = ~test
        Xtr, Xte = ref.scale_fold(X[train], X[test], "standard")
        _, Xte_clip = ref.scale_fold(X[train], X[test], "clip")
        ytr, yte = y[train], y[test]
        r2 = {}
        for name, Xp in (("standard", Xte), ("clip", Xte_clip)):
            ridge = RidgeCV(alphas=ref.ALPHAS).fit(Xtr, ytr)
            r2[f"ridge_{name}"] = r2_score(yte, ridge.predict(Xp))
            r2[f"alpha_{name}"] = float(ridge.alpha_)
            r2[f"mlp_{name}"] = r2_score(yte, rmlp.fit_predict(Xtr, ytr, Xp, MLP_SEED))
        rows.append(
            {
                "fold": f,
                "n_test": int(test.sum()),
                "rows_clipped": int(np.any(Xte != Xte_clip, axis=1).sum()),
                "max_abs_z": float(np.abs(Xte).max()),
                **r2,
            }
        )
    return rows


def print_folds(rows: list[dict]) -> None:
    """The per-fold table plus mean and median rows."""
    keys = ("ridge_standard", "ridge_clip", "mlp_standard", "mlp_clip")
    head = f"{'fold':>4} {'n_test':>6} {'clipped':>7} {'max|z|':>9}  " + "  ".join(
        f"{c:>17}" for c in COLUMNS
    )
    print(head)
    for r in rows:
        print(
            f"{r['fold']:>4} {r['n_test']:>6} {r['rows_clipped']:>7} {r['max_abs_z']:>9.2f}  "
            + "  ".join(f"{r[k]:>17.6f}" for k in keys)
        )
    for label, fn in (("mean", np.mean), ("median", np.median)):
        print(f"{label:>30}  " + "  ".join(f"{fn([r[k] for r in rows]):>17.6f}" for k in keys))
    print("ridgecv alpha per fold: standard "
          + ", ".join(f"{r['alpha_standard']:g}" for r in rows)
          + " | clip " + ", ".join(f"{r['alpha_clip']:g}" for r in rows)
          + " (the fit is the same; only the predicted rows differ)")


def fixture_deltas(standard: Path, clip: Path) -> None:
    """Largest |Δ r2_mean| between ridgecv_clip and ridgecv, by model group."""
    if not (standard.exists() and clip.exists()):
        print(f"\n(fixture comparison skipped: need {standard} and {clip})")
        return
    key = ("model", "layer", "target", "representation")
    std = {tuple(r[k] for k in key): r for r in json.loads(standard.read_text())["records"]
           if r["probe"] == "ridgecv"}
    clp = [r for r in json.loads(clip.read_text())["records"] if r["probe"] == "ridgecv_clip"]
    print(f"\nridgecv_clip ({clip}) vs ridgecv ({standard}), {len(clp)} records:")
    groups = (("sevennet0+chgnet", {"sevennet0", "chgnet"}), ("ani2x", {"ani2x"}),
              ("composition", {None}))
    for label, models in groups:
        best = None
        for r in clp:
            if r["model"] not in models:
                continue
            s = std[tuple(r[k] for k in key)]
            d = r["r2_mean"] - s["r2_mean"]
            if best is None or abs(d) > abs(best[0]):
                best = (d, r, s)
        if best is None:
            continue
        d, r, s = best
        print(f"  {label:>16}: max |d r2_mean| = {abs(d):.6g} at "
              f"{r['model']}/{r['layer']}/{r['target']}/{r['representation']} "
              f"(standard {s['r2_mean']:.6f} -> clip {r['r2_mean']:.6f})")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="ani2x")
    ap.add_argument("--layer", default="aev")
    ap.add_argument("--target", default="gap_ev")
    ap.add_argument("--representation", default="geom", choices=("composition", "raw", "geom"))
    ap.add_argument("--folds", type=Path, default=None,
                    help="CSV id,fold; default: the folds stored in " + STANDARD_FIXTURE)
    args = ap.parse_args(argv)

    path = ref.default_path(f"data/embeddings/{args.model}.npz")
    ds = ref.load_dataset(ref.default_path("data/compositions.csv"),
                          ref.default_path("data/targets.csv"),
                          [(args.model, path)], [args.target])
    folds = (ref.load_folds(args.folds, ds.ids) if args.folds
             else fixture_folds(ref.default_path(STANDARD_FIXTURE), ds.ids))
    X = representation(ds, args.model, args.layer, args.representation)
    print(f"{args.model}/{args.layer}/{args.target}/{args.representation}: "
          f"n={len(ds.ids)}, d={X.shape[1]}, k={int(folds.max()) + 1} folds; "
          f"versions {ref.library_versions()}")
    print_folds(fold_figures(X, ds.targets[:, 0], folds))
    fixture_deltas(ref.default_path(STANDARD_FIXTURE), ref.default_path(CLIP_FIXTURE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
