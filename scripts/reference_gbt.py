#!/usr/bin/env python3
"""LightGBM / HistGradientBoosting reference numbers for cpd's GBT probe.

Purpose
-------
Recompute, with LightGBM and scikit-learn's ``HistGradientBoostingRegressor``,
what ``cpd analyze --probes gbt`` computes, on the same folds and the same
representations, and write the numbers to a JSON fixture
(``tests/fixtures/gbt_reference.json``) for the Rust test suite. Tree
ensembles from different libraries do not agree to 1e-6 (binning, tie
breaking and split order differ), so the fixture is a *statistical* reference:
cpd's per-record R2 should be close to both libraries', which are themselves
only close to each other.

Method
------
Representations are exactly cpd's, built with the functions of
``scripts/reference.py`` (imported, not copied): ``composition`` (the counts
``C``, no ones column), ``raw`` (``H``) and ``geom`` (``H - Q Q^T H`` with ``Q``
the pivoted-QR basis of ``[1 | C]``; columns composition explains entirely are
zeroed with ``reference.py``'s tolerance for the embedding's stored dtype).
Features are used as they are (float64, NO standardisation: trees are
invariant to monotone feature scaling). Targets are not residualised. For every
model/layer/target/representation (``composition`` once per target, with
``model``/``layer`` null) and every fold ``f`` of the folds CSV (train =
rows with ``fold != f``), two probes are fit on the training rows and predict
the test rows:

* ``lightgbm``: ``lightgbm.LGBMRegressor(n_estimators=ROUNDS,
  learning_rate=0.1, num_leaves=31, max_depth=-1, min_child_samples=20,
  min_child_weight=1e-3, reg_lambda=0.0, reg_alpha=0.0, min_split_gain=0.0,
  max_bin=255, subsample=1.0, colsample_bytree=1.0, n_jobs=2,
  random_state=0, verbose=-1)``;
* ``hgb``: ``sklearn.ensemble.HistGradientBoostingRegressor(
  max_iter=ROUNDS, learning_rate=0.1, max_leaf_nodes=31, max_depth=None,
  min_samples_leaf=20, l2_regularization=0.0, max_bins=255,
  early_stopping=False, random_state=0)``.

Each record holds the per-fold ``r2_score`` (``r2_folds``), ``r2_mean``,
``r2_std`` (``np.std``, ddof 0), the pooled out-of-fold ``r2_pooled``, ``mae``
and ``rmse``, and ``seconds`` = wall-clock fit+predict time summed over the
folds (no loading or projection). No per-row predictions are stored.

Usage (from the repository root)
--------------------------------
    cargo run --release -- analyze --out /tmp/demo     # writes /tmp/demo/folds.csv
    python scripts/reference_gbt.py --folds /tmp/demo/folds.csv \
        [--compositions data/compositions.csv] [--targets data/targets.csv] \
        [--embeddings NAME=PATH ...] [--target T ...] [--rounds 300] \
        [--probes lightgbm,hgb] [--out tests/fixtures/gbt_reference.json] \
        [--checkpoint /tmp/gbt_reference.partial.json]

Defaults are those of ``scripts/reference.py`` (the bundled ``data/``).
On a machine where other processes compete for the cores, run with
``OMP_WAIT_POLICY=PASSIVE``: LightGBM's and scikit-learn's spinning OpenMP
threads then made fits 10-70x slower (measured on 2 cores). On an idle
machine leave it unset: PASSIVE costs a futex wake-up per parallel region
(small layers ran 2-4x slower). It never changes the numbers; the fixture
records the value in ``settings.omp_wait_policy``.
On 2 busy cores the bundled run takes tens of minutes (ani2x's 1008-column
layer dominates): pass ``--checkpoint`` so an interrupted run can resume
(the ``seconds`` of resumed records come from the run that computed them).

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
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402  (loading, alignment, projection, folds)

GENERATOR = "scripts/reference_gbt.py"
PROBES = ("lightgbm", "hgb")
DEFAULT_ROUNDS = 300
N_JOBS = 2


# --------------------------------------------------------------------------- #
# Probes
# --------------------------------------------------------------------------- #


def lightgbm_params(rounds: int) -> dict:
    """Keyword arguments of the ``lightgbm`` probe."""
    return dict(
        n_estimators=rounds,
        learning_rate=0.1,
        num_leaves=31,
        max_depth=-1,
        min_child_samples=20,
        min_child_weight=1e-3,
        reg_lambda=0.0,
        reg_alpha=0.0,
        min_split_gain=0.0,
        max_bin=255,
        subsample=1.0,
        colsample_bytree=1.0,
        n_jobs=N_JOBS,
        random_state=0,
        verbose=-1,
    )


def hgb_params(rounds: int) -> dict:
    """Keyword arguments of the ``hgb`` probe."""
    return dict(
        max_iter=rounds,
        learning_rate=0.1,
        max_leaf_nodes=31,
        max_depth=None,
        min_samples_leaf=20,
        l2_regularization=0.0,
        max_bins=255,
        early_stopping=False,
        random_state=0,
    )


def make_probe(kind: str, rounds: int):
    """A fresh estimator for probe ``kind`` (``lightgbm`` or ``hgb``)."""
    if kind == "lightgbm":
        import lightgbm

        return lightgbm.LGBMRegressor(**lightgbm_params(rounds))
    if kind == "hgb":
        return HistGradientBoostingRegressor(**hgb_params(rounds))
    raise ValueError(f"unknown probe {kind!r}")


def cross_validate(
    X: np.ndarray, Y: np.ndarray, folds: np.ndarray, probe: str, rounds: int
) -> list[dict]:
    """Cross-validated scores of one probe, one dict per column of ``Y``.

    One fit per fold and target on the raw (unscaled) features ``X``.
    ``seconds`` is the fit+predict wall clock summed over the folds.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, t = Y.shape
    k = int(folds.max()) + 1
    out: list[dict] = []
    for j in range(t):
        y = Y[:, j]
        r2 = np.zeros(k)
        oof = np.zeros(n)
        seconds = 0.0
        for f in range(k):
            test = folds == f
            train = ~test
            Xtr, Xte = X[train], X[test]
            t0 = time.perf_counter()
            model = make_probe(probe, rounds).fit(Xtr, y[train])
            pred = model.predict(Xte)
            seconds += time.perf_counter() - t0
            oof[test] = pred
            r2[f] = r2_score(y[test], pred)
        out.append(
            {
                "r2_folds": [float(v) for v in r2],
                "r2_mean": float(np.mean(r2)),
                "r2_std": float(np.std(r2)),
                "r2_pooled": float(r2_score(y, oof)),
                "mae": float(mean_absolute_error(y, oof)),
                "rmse": float(np.sqrt(mean_squared_error(y, oof))),
                "seconds": seconds,
            }
        )
    return out


def representations(ds: ref.Dataset, Q: np.ndarray, composition_per_layer: bool = False):
    """Yield ``(model, layer, representation, X)`` in fixture order.

    ``composition`` comes once (model/layer ``None``) unless
    ``composition_per_layer``, in which case it is repeated before every
    layer's ``raw`` and ``geom`` (the way cpd reports it).
    """
    if not composition_per_layer:
        yield None, None, "composition", ds.compositions
    for lay in ds.layers:
        if composition_per_layer:
            yield lay.model, lay.layer, "composition", ds.compositions
        yield lay.model, lay.layer, "raw", np.asarray(lay.matrix, dtype=np.float64)
        # The stored matrix (not an f64 copy): the zeroing tolerance follows
        # the on-disk dtype, as in cpd (ref.ZERO_COLUMN_RTOL).
        G = ref.geometric_residual(lay.matrix, Q)
        yield lay.model, lay.layer, "geom", G
        del G


def run_reference(
    ds: ref.Dataset,
    folds: np.ndarray,
    probes: tuple[str, ...] = PROBES,
    rounds: int = DEFAULT_ROUNDS,
    composition_per_layer: bool = False,
    progress: bool = True,
    checkpoint: Path | None = None,
) -> tuple[list[dict], int]:
    """All records: for each representation, each probe, each target.

    With ``checkpoint``, finished (representation, probe) blocks are saved
    there as they complete, and blocks already in it (from a run with the same
    data, folds and settings) are reused instead of recomputed.
    """
    Q, rank = ref.composition_basis(ds.compositions)
    signature = {
        "rounds": rounds,
        "ids": list(ds.ids),
        "fold": [int(f) for f in folds],
        "targets": list(ds.target_names),
        "layers": [[l.model, l.layer, list(l.matrix.shape)] for l in ds.layers],
        "versions": library_versions(),
    }
    done: dict[str, list[dict]] = {}
    if checkpoint is not None and checkpoint.is_file():
        with open(checkpoint) as fh:
            saved = json.load(fh)
        if saved.get("signature") == signature:
            done = saved["blocks"]
            print(f"resuming from {checkpoint}: {len(done)} blocks already done", flush=True)
        else:
            print(f"ignoring {checkpoint}: it was made with other data or settings", flush=True)
    records: list[dict] = []
    for model, layer, rep, X in representations(ds, Q, composition_per_layer):
        for p in probes:
            block = f"{model}/{layer}/{rep}/{p}"
            if block in done:
                records.extend(done[block])
                continue
            scores = cross_validate(X, ds.targets, folds, p, rounds)
            recs = []
            for target, s in zip(ds.target_names, scores):
                rec = {
                    "model": model,
                    "layer": layer,
                    "target": target,
                    "representation": rep,
                    "probe": p,
                }
                rec.update(s)
                recs.append(rec)
            records.extend(recs)
            if checkpoint is not None:
                done[block] = recs
                tmp = checkpoint.with_name(checkpoint.name + ".tmp")
                with open(tmp, "w") as fh:
                    json.dump({"signature": signature, "blocks": done}, fh)
                tmp.replace(checkpoint)
            if progress:
                secs = sum(s["seconds"] for s in scores)
                r2 = [s["r2_mean"] for s in scores]
                print(
                    f"  {model or '-'}/{layer or '-'} {rep:<11} d={X.shape[1]:<5} {p:<8} "
                    f"{secs:7.1f} s  r2_mean {min(r2):+.3f}..{max(r2):+.3f}",
                    flush=True,
                )
    return records, rank


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def library_versions() -> dict[str, str]:
    """Versions of the libraries that produced the numbers."""
    import lightgbm

    v = ref.library_versions()
    v["lightgbm"] = lightgbm.__version__
    return v


def _zero_rtol():
    """``ref.ZERO_COLUMN_RTOL`` in JSON form (a dtype -> tolerance dict or a number)."""
    tol = ref.ZERO_COLUMN_RTOL
    if isinstance(tol, dict):
        return {str(k): float(v) for k, v in tol.items()}
    return float(tol)


def parse_probes(text: str) -> tuple[str, ...]:
    """``lightgbm,hgb`` -> ``("lightgbm", "hgb")``."""
    probes = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in probes if p not in PROBES]
    if bad or not probes:
        raise argparse.ArgumentTypeError(f"probes must be among {PROBES}, got {text!r}")
    return probes


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    ap = argparse.ArgumentParser(
        description="Write the LightGBM / HistGradientBoosting reference fixture for cpd's GBT probe.",
    )
    ap.add_argument("--folds", type=Path, required=True,
                    help="CSV with columns id,fold (e.g. the folds.csv cpd writes)")
    ap.add_argument("--compositions", type=Path, default=ref.default_path("data/compositions.csv"),
                    help="CSV id,<element>...; default: data/compositions.csv")
    ap.add_argument("--targets", type=Path, default=ref.default_path("data/targets.csv"),
                    help="CSV id,<target>...; default: data/targets.csv")
    ap.add_argument("--embeddings", action="append", metavar="NAME=PATH",
                    help="embedding file (.npz or .npy); repeatable; default: data/embeddings/*.npz")
    ap.add_argument("--target", action="append", help="target column; repeatable; default: all")
    ap.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                    help=f"boosting rounds (n_estimators / max_iter); default: {DEFAULT_ROUNDS}")
    ap.add_argument("--probes", type=parse_probes, default=PROBES,
                    help="comma-separated subset of lightgbm,hgb; default: both")
    ap.add_argument("--out", type=Path, default=ref.default_path("tests/fixtures/gbt_reference.json"),
                    help="fixture to write; default: tests/fixtures/gbt_reference.json")
    ap.add_argument("--checkpoint", type=Path, metavar="PATH",
                    help="save progress here after every representation/probe and resume from it "
                         "if it matches (e.g. /tmp/gbt_reference.partial.json); deleted on success")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point: load, compute, write the JSON fixture, print a summary."""
    args = build_parser().parse_args(argv)
    if args.rounds < 1:
        print("--rounds must be >= 1", file=sys.stderr)
        return 2
    specs = ref.parse_embedding_specs(args.embeddings, ref.default_path("data/embeddings"))
    if not specs:
        print("warning: no embeddings given or found; composition records only", file=sys.stderr)
    t0 = time.perf_counter()
    ds = ref.load_dataset(args.compositions, args.targets, specs, args.target)
    folds = ref.load_folds(args.folds, ds.ids)
    k = int(folds.max()) + 1
    print(
        f"{len(ds.ids)} rows, {len(ds.layers)} layers, {len(ds.target_names)} targets, "
        f"{k} folds, {args.rounds} rounds, probes {','.join(args.probes)}",
        flush=True,
    )
    records, rank = run_reference(ds, folds, args.probes, args.rounds, checkpoint=args.checkpoint)
    wall = time.perf_counter() - t0
    settings = {
        "rounds": args.rounds,
        "folds": k,
        "n": len(ds.ids),
        "standardize": False,
        "residualize_target": False,
        "residual_zero_rtol": _zero_rtol(),
        "composition_rank": rank,
        "composition_columns": list(ds.comp_columns),
        "targets": list(ds.target_names),
        "layers": [
            {"model": l.model, "layer": l.layer, "cols": int(l.matrix.shape[1])} for l in ds.layers
        ],
        "seconds": "fit+predict wall clock summed over folds",
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "lightgbm": lightgbm_params(args.rounds) if "lightgbm" in args.probes else None,
        "hgb": hgb_params(args.rounds) if "hgb" in args.probes else None,
    }
    fixture = {
        "generator": GENERATOR,
        "versions": library_versions(),
        "settings": settings,
        "folds": {"ids": list(ds.ids), "fold": [int(f) for f in folds]},
        "records": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(fixture, fh, indent=1, allow_nan=False)
        fh.write("\n")
    if args.checkpoint is not None and args.checkpoint.is_file():
        args.checkpoint.unlink()
    size_kb = args.out.stat().st_size / 1024
    print(f"\nwrote {args.out} ({size_kb:.0f} KB): {len(records)} records, composition rank {rank}, "
          f"total wall {wall:.1f} s")
    print(f"{'probe':<9} {'records':>7} {'fit+predict s':>13} {'r2_mean min':>12} {'max':>8}  "
          f"{'by representation (mean r2_mean)'}")
    for p in args.probes:
        recs = [r for r in records if r["probe"] == p]
        r2 = [r["r2_mean"] for r in recs]
        by_rep = {
            rep: np.mean([r["r2_mean"] for r in recs if r["representation"] == rep])
            for rep in ("composition", "raw", "geom")
            if any(r["representation"] == rep for r in recs)
        }
        print(
            f"{p:<9} {len(recs):>7} {sum(r['seconds'] for r in recs):>13.1f} "
            f"{min(r2):>12.4f} {max(r2):>8.4f}  "
            + ", ".join(f"{rep} {v:.3f}" for rep, v in by_rep.items())
        )
    if len(args.probes) == 2:
        a = {tuple(r[x] for x in ("model", "layer", "target", "representation")): r["r2_mean"]
             for r in records if r["probe"] == args.probes[0]}
        b = {tuple(r[x] for x in ("model", "layer", "target", "representation")): r["r2_mean"]
             for r in records if r["probe"] == args.probes[1]}
        d = [abs(a[key] - b[key]) for key in a if key in b]
        print(f"max |r2_mean({args.probes[0]}) - r2_mean({args.probes[1]})| = {max(d):.4f} "
              f"(median {np.median(d):.4f}) over {len(d)} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
