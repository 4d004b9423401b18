#!/usr/bin/env python3
"""scikit-learn ``MLPRegressor`` reference numbers for cpd's MLP probe.

Purpose
-------
Recompute, with scikit-learn, what ``cpd analyze --probes mlp`` computes, on
cpd's own fold assignment, and write per-record scores to a JSON fixture that
the Rust test suite compares against (``tests/parity.rs``: per-record mean
R² within 0.02). The network cannot match bit for bit (different random
streams for the initial weights, the validation split and the minibatch
order); the fixture pins the *accuracy* cpd must reach.

Method (cpd's rules; representations exactly as ``scripts/reference.py``):

1. ``composition`` (counts, no ones column), ``raw`` (``H`` as float64) and
   ``geom`` (``H_geom``) built by ``reference.py``'s functions (imported).
2. For every fold ``f`` of the folds CSV: ``StandardScaler`` fit on the
   training rows; the target standardised with the training fold's mean and
   population std (std 0 -> 1); ``MLPRegressor(hidden_layer_sizes=(128,),
   activation="relu", solver="adam", alpha=1e-4, batch_size=min(200, n),
   learning_rate_init=1e-3, max_iter=200, early_stopping=True,
   validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, shuffle=True,
   random_state=SEED)``, one network per target; predictions are
   un-standardised and scored with ``r2_score`` per fold, plus pooled
   out-of-fold R², MAE and RMSE.
3. ``--scale global-clip`` changes only the input scaling of step 2 (cpd's
   ``robust`` default for the MLP): instead of ``StandardScaler``, every
   column is centred on the training fold's mean and all columns are divided
   by one scalar ``s = sqrt(sum(var) / d')`` over the ``d'`` non-constant
   columns (``var``: the training fold's per-column variance, ddof 0, as
   ``StandardScaler.var_``; constant by ``_is_constant_feature``; ``s = 1``
   if every column is constant: ``reference.global_scale``), then every held-out row is clipped, column by column, to the
   [min, max] of the scaled training rows (``reference.scale_fold(...,
   "global-clip")``). The target standardisation is unchanged. The fixture
   carries ``"scale": "global-clip"`` at top level; with ``--scale
   standard`` (the default) the output is what it always was, with no
   ``scale`` key.

Usage (from the repository root)
--------------------------------
    python scripts/reference_mlp.py --folds FOLDS.csv \
        [--layer MODEL/LAYER ...] [--target T ...] [--no-composition] \
        [--seed 0 [--seed 1 ...]] [--scale standard|global-clip] \
        [--extend FIXTURE] [--out FIXTURE]

``--out`` defaults to ``tests/fixtures/sklearn_mlp.json`` (``--scale
standard``) or ``tests/fixtures/sklearn_mlp_global_clip.json`` (``--scale
global-clip``).

``FOLDS.csv`` is the ``folds.csv`` written by ``cpd analyze ... --out DIR``.
Without ``--layer`` every layer of every ``data/embeddings/*.npz`` is used;
``--layer`` (repeatable) restricts the fixture to the named layers, which is
how the fixture can be kept to a size that runs in minutes. With several
``--seed`` values every record is computed once per seed: its scores are
those of the first seed, and ``r2_mean_seeds`` lists the mean R² of every
seed — scikit-learn's own seed-to-seed spread, which bounds how closely any
other implementation can be expected to agree on that record. Run it with
``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` on a shared machine.

``--extend FIXTURE`` adds seeds to an existing fixture instead of starting
afresh: the same data, layers, targets and folds are required, the new
seeds' mean R² are appended to every record's ``r2_mean_seeds`` and the rest
is kept. Seeds are independent, so ``--seed 0 --seed 1`` followed by
``--extend`` with ``--seed 2`` gives the fixture that ``--seed 0 --seed 1
--seed 2`` gives, one seed (about 10 minutes here) at a time. The fixture's
``scale`` must be the ``--scale`` given.

The bundled ``tests/fixtures/sklearn_mlp_global_clip.json`` was made with
(``/tmp/folds.csv`` written as ``scripts/reference.py`` explains)::

    python scripts/reference_mlp.py --folds /tmp/folds.csv --scale global-clip \
        --target gap_ev --target dipole_debye --seed 0 --seed 1 --seed 2

Requirements: ``pip install -r scripts/requirements-ref.txt``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.neural_network import MLPRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference  # noqa: E402  (scripts/reference.py: loading and projection)

GENERATOR = "scripts/reference_mlp.py"
HIDDEN = 128
# --scale choices: StandardScaler (the original fixture) or cpd's robust MLP default.
SCALES = ("standard", "global-clip")
DEFAULT_OUT = {
    "standard": "tests/fixtures/sklearn_mlp.json",
    "global-clip": "tests/fixtures/sklearn_mlp_global_clip.json",
}


def make_mlp(n_train: int, seed: int) -> MLPRegressor:
    """sklearn's MLPRegressor with cpd's default MLP-probe settings."""
    return MLPRegressor(
        hidden_layer_sizes=(HIDDEN,),
        activation="relu",
        solver="adam",
        alpha=1e-4,
        batch_size=min(200, n_train),
        learning_rate_init=1e-3,
        max_iter=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        shuffle=True,
        random_state=seed,
    )


def fit_predict(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, seed: int) -> np.ndarray:
    """Standardise the target, fit one network, predict in target units."""
    mu = float(ytr.mean())
    sd = float(ytr.std())
    if sd == 0.0:
        sd = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make_mlp(len(ytr), seed).fit(Xtr, (ytr - mu) / sd)
    return model.predict(Xte) * sd + mu


def cross_validate(
    X: np.ndarray, Y: np.ndarray, folds: np.ndarray, seed: int, scale: str = "standard"
) -> list[dict]:
    """Cross-validated MLP scores, one dict per column of ``Y``.

    The inputs are scaled per fold by ``reference.scale_fold`` (``standard``:
    ``StandardScaler``; ``global-clip``: one shared scale, held-out rows
    clipped to the training range).
    """
    n, t = Y.shape
    k = int(folds.max()) + 1
    r2 = np.zeros((t, k))
    oof = np.zeros((n, t))
    for f in range(k):
        test = folds == f
        train = ~test
        Xtr, Xte = reference.scale_fold(X[train], X[test], scale)
        for j in range(t):
            pred = fit_predict(Xtr, Y[train, j], Xte, seed)
            oof[test, j] = pred
            r2[j, f] = r2_score(Y[test, j], pred)
    out = []
    for j in range(t):
        y, pred = Y[:, j], oof[:, j]
        out.append(
            {
                "r2_folds": [float(v) for v in r2[j]],
                "r2_mean": float(np.mean(r2[j])),
                "r2_std": float(np.std(r2[j])),
                "r2_pooled": float(r2_score(y, pred)),
                "mae": float(mean_absolute_error(y, pred)),
                "rmse": float(np.sqrt(mean_squared_error(y, pred))),
            }
        )
    return out


def run_reference(ds, folds: np.ndarray, seed: int, composition: bool, log=print,
                  scale: str = "standard") -> list[dict]:
    """Fixture records: composition once per target (optional), raw/geom per layer."""
    Q, _ = reference.composition_basis(ds.compositions)
    records: list[dict] = []

    def add(model, layer, representation, scores):
        for j, target in enumerate(ds.target_names):
            rec = {
                "model": model,
                "layer": layer,
                "target": target,
                "representation": representation,
                "probe": "mlp",
            }
            rec.update(scores[j])
            records.append(rec)

    def timed(what, X):
        t0 = time.perf_counter()
        scores = cross_validate(X, ds.targets, folds, seed, scale)
        log(f"{what}: {time.perf_counter() - t0:.1f} s")
        return scores

    if composition:
        add(None, None, "composition", timed("composition", ds.compositions))
    for lay in ds.layers:
        H = np.asarray(lay.matrix, dtype=np.float64)
        add(lay.model, lay.layer, "raw", timed(f"{lay.model}/{lay.layer} raw", H))
        G = reference.geometric_residual(lay.matrix, Q)
        add(lay.model, lay.layer, "geom", timed(f"{lay.model}/{lay.layer} geom", G))
    return records


def merge_seeds(runs: list[list[dict]]) -> list[dict]:
    """The first seed's records, each with ``r2_mean_seeds`` over all runs."""
    records = [dict(r) for r in runs[0]]
    for i, rec in enumerate(records):
        rec["r2_mean_seeds"] = [run[i]["r2_mean"] for run in runs]
    return records


def extend_fixture(fixture: dict, runs: list[list[dict]], seeds: list[int], seconds: float) -> dict:
    """``fixture`` with the seeds of ``runs`` appended to every record's ``r2_mean_seeds``."""
    have = list(fixture["settings"]["random_state"])
    if set(have) & set(seeds):
        raise ValueError(f"seeds {sorted(set(have) & set(seeds))} are already in the fixture")
    if fixture["versions"] != reference.library_versions():
        raise ValueError(f"fixture made with {fixture['versions']}, "
                         f"this is {reference.library_versions()}")
    keys = ("model", "layer", "target", "representation", "probe")
    for run in runs:
        if [[r[k] for k in keys] for r in run] != [[r[k] for k in keys] for r in fixture["records"]]:
            raise ValueError("the new run's records are not the fixture's records")
    out = dict(fixture)
    out["settings"] = dict(fixture["settings"], random_state=have + seeds)
    out["seconds"] = fixture["seconds"] + seconds
    out["records"] = [dict(rec, r2_mean_seeds=rec["r2_mean_seeds"] + [run[i]["r2_mean"] for run in runs])
                      for i, rec in enumerate(fixture["records"])]
    return out


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    dp = reference.default_path
    ap = argparse.ArgumentParser(description="Write the scikit-learn MLP fixture for cpd.")
    ap.add_argument("--folds", type=Path, required=True,
                    help="CSV with columns id,fold (the folds.csv cpd writes)")
    ap.add_argument("--compositions", type=Path, default=dp("data/compositions.csv"))
    ap.add_argument("--targets", type=Path, default=dp("data/targets.csv"))
    ap.add_argument("--embeddings", action="append", metavar="NAME=PATH",
                    help="embedding file; repeatable; default: data/embeddings/*.npz")
    ap.add_argument("--layer", action="append", metavar="MODEL/LAYER",
                    help="only these layers; repeatable; default: every layer")
    ap.add_argument("--target", action="append", help="target column; repeatable; default: all")
    ap.add_argument("--no-composition", action="store_true",
                    help="skip the composition representation")
    ap.add_argument("--seed", type=int, action="append",
                    help="MLPRegressor random_state; repeatable (default: 0)")
    ap.add_argument("--scale", choices=SCALES, default="standard",
                    help="input scaling: standard (StandardScaler) or global-clip (centred, "
                         "one scale sqrt(mean column variance) for every column, held-out rows "
                         "clipped to the training fold's range); default: standard")
    ap.add_argument("--extend", type=Path, metavar="FIXTURE",
                    help="add the --seed values to this fixture (same data, layers, folds, scale)")
    ap.add_argument("--out", type=Path, default=None,
                    help="fixture to write; default: tests/fixtures/sklearn_mlp.json, or "
                         "tests/fixtures/sklearn_mlp_global_clip.json with --scale global-clip")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point: load, compute, write the JSON fixture, print a summary."""
    args = build_parser().parse_args(argv)
    specs = reference.parse_embedding_specs(args.embeddings, reference.default_path("data/embeddings"))
    ds = reference.load_dataset(args.compositions, args.targets, specs, args.target)
    if args.layer:
        have = {f"{l.model}/{l.layer}" for l in ds.layers}
        unknown = sorted(set(args.layer) - have)
        if unknown:
            print(f"error: unknown layer(s) {unknown}; have {sorted(have)}", file=sys.stderr)
            return 2
        ds.layers = [l for l in ds.layers if f"{l.model}/{l.layer}" in args.layer]
    folds = reference.load_folds(args.folds, ds.ids)
    seeds = args.seed or [0]
    out = args.out if args.out is not None else reference.default_path(DEFAULT_OUT[args.scale])
    base = None
    if args.extend:
        with open(args.extend) as fh:
            base = json.load(fh)
        same = (base["layers"] == [f"{l.model}/{l.layer}" for l in ds.layers]
                and base["targets"] == ds.target_names
                and base["folds"] == {"ids": list(ds.ids), "fold": [int(f) for f in folds]}
                and base.get("scale", "standard") == args.scale)
        if not same:
            print(f"error: {args.extend} was made on other layers, targets, folds or scale",
                  file=sys.stderr)
            return 2
        try:
            extend_fixture(base, [], seeds, 0.0)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    runs = [run_reference(ds, folds, seed, not args.no_composition,
                          log=lambda m, s=seed: print(f"seed {s}: {m}", file=sys.stderr, flush=True),
                          scale=args.scale)
            for seed in seeds]
    if base is not None:
        try:
            fixture = extend_fixture(base, runs, seeds, time.perf_counter() - t0)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return write_fixture(fixture, out)
    records = merge_seeds(runs)
    fixture = {
        "generator": GENERATOR,
        "versions": reference.library_versions(),
        "settings": {"hidden": HIDDEN, "alpha": 1e-4, "learning_rate": 1e-3, "batch": 200,
                     "max_epochs": 200, "patience": 10, "tol": 1e-4,
                     "validation_fraction": 0.1, "random_state": seeds},
        "layers": [f"{l.model}/{l.layer}" for l in ds.layers],
        "targets": ds.target_names,
        "folds": {"ids": list(ds.ids), "fold": [int(f) for f in folds]},
        "seconds": time.perf_counter() - t0,
        "records": records,
    }
    if args.scale != "standard":
        # Only non-default scalings are tagged: the standard fixture is unchanged.
        fixture["scale"] = args.scale
    return write_fixture(fixture, out)


def write_fixture(fixture: dict, out: Path) -> int:
    """Write the JSON fixture and print a summary."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as fh:
        json.dump(fixture, fh, indent=1, allow_nan=False)
        fh.write("\n")
    print(f"wrote {out}: {len(fixture['records'])} records ({len(fixture['layers'])} layers, "
          f"{len(fixture['targets'])} targets, seeds {fixture['settings']['random_state']}), "
          f"{fixture['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
