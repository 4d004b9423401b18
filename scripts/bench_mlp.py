#!/usr/bin/env python3
"""Time cpd's MLP probe against scikit-learn's ``MLPRegressor`` doing the same work.

Purpose
-------
For each dataset (the bundled ``data/`` files and/or the seeded synthetic set
of ``scripts/bench_vs_sklearn.py``) this script, in one run,

1. runs ``cpd analyze ... --probes mlp --folds 5 --seed 0 --out DIR`` as a
   subprocess and times its wall clock (end to end);
2. reads the folds cpd used from ``DIR/folds.csv``;
3. times scikit-learn doing the same work end to end on those folds: load the
   files, build the ``composition`` (once, as cpd does) / ``raw`` / ``geom``
   representations (``scripts/reference.py``), and for every
   representation/target/fold fit ``StandardScaler`` + ``MLPRegressor`` with
   cpd's defaults and a standardised target (``scripts/reference_mlp.py``);
4. prints cpd seconds, scikit-learn seconds, the ratio sklearn/cpd, the
   largest ``|delta r2_mean|`` over all records and the mean signed
   ``r2_mean(cpd) - r2_mean(sklearn)`` (positive: cpd more accurate).

The two networks cannot agree bit for bit (different random streams), so
per-record differences include seed-to-seed noise; the mean signed difference
is the accuracy comparison.

Usage (from the repository root)
--------------------------------
    cargo build --release
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench_mlp.py \
        [--cpd target/release/cpd] [--dataset bundled|synthetic|both] \
        [--synthetic-shape 20000x512] [--synthetic-target y_nonlinear] [--keep DIR]

Both contenders use every core: cpd through its thread pool, numpy through
its BLAS threads. Exit status: 0 on success, 2 when the cpd binary is
missing, 1 when cpd fails.

Requirements: ``pip install -r scripts/requirements-ref.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_vs_sklearn as bvs  # noqa: E402  (datasets)
import reference as ref  # noqa: E402  (loading / projection)
import reference_mlp as rmlp  # noqa: E402  (the scikit-learn MLP probe)

SEED = 0


def cpd_command(cpd: Path, inputs: bvs.Inputs, targets: list[str] | None, out: Path) -> list[str]:
    """The ``cpd analyze --probes mlp`` command line for ``inputs``."""
    cmd = [str(cpd), "analyze"]
    for name, path in inputs.embeddings:
        cmd += ["--embeddings", f"{name}={path}"]
    cmd += ["--compositions", str(inputs.compositions), "--targets", str(inputs.targets)]
    for t in targets or []:
        cmd += ["--target", t]
    # StandardScaler, as the scikit-learn pipeline it is timed against.
    cmd += ["--probes", "mlp", "--folds", "5", "--seed", str(SEED), "--scale", "standard",
            "--out", str(out), "--quiet"]
    return cmd


def sklearn_end_to_end(inputs: bvs.Inputs, folds_csv: Path, targets: list[str] | None):
    """cpd's MLP work with scikit-learn; returns ({key: scores}, seconds)."""
    t0 = time.perf_counter()
    ds = ref.load_dataset(inputs.compositions, inputs.targets, inputs.embeddings, targets)
    folds = ref.load_folds(folds_csv, ds.ids)
    records = rmlp.run_reference(ds, folds, SEED, composition=True, log=lambda m: None)
    seconds = time.perf_counter() - t0
    return {(r["model"], r["layer"], r["target"], r["representation"]): r for r in records}, seconds


def compare(report_path: Path, sk: dict) -> tuple[float, str, float, int]:
    """(max |delta r2_mean|, its record, mean signed delta, records compared)."""
    with open(report_path) as fh:
        report = json.load(fh)
    comp = {k[2]: v for k, v in sk.items() if k[3] == "composition"}
    deltas = []
    seen_comp = set()
    for rec in report["results"]:
        if rec["probe"] != "mlp" or rec["r2_mean"] is None:
            continue
        key = (rec["model"], rec["layer"], rec["target"], rec["representation"])
        if key[3] == "composition":
            if key[2] in seen_comp:  # identical for every layer: count once
                continue
            seen_comp.add(key[2])
            mine = comp[key[2]]
        else:
            mine = sk[key]
        deltas.append((rec["r2_mean"] - mine["r2_mean"], "/".join(map(str, key))))
    worst = max(deltas, key=lambda d: abs(d[0]))
    return abs(worst[0]), worst[1], float(np.mean([d[0] for d in deltas])), len(deltas)


def bench(inputs: bvs.Inputs, cpd: Path, targets: list[str] | None, workdir: Path) -> dict:
    """Time both on one dataset and compare."""
    out = workdir / "cpd_out"
    if out.exists():
        shutil.rmtree(out)
    cmd = cpd_command(cpd, inputs, targets, out)
    print(f"[{inputs.label}] $ {' '.join(cmd)}", flush=True)
    cpd_s = bvs.run_cpd(cmd)
    print(f"[{inputs.label}] cpd: {cpd_s:.2f} s", flush=True)
    sk, sk_s = sklearn_end_to_end(inputs, out / "folds.csv", targets)
    print(f"[{inputs.label}] scikit-learn: {sk_s:.2f} s", flush=True)
    worst, where, mean, n = compare(out / "report.json", sk)
    return {"label": inputs.label, "shape": bvs.describe_shape(inputs), "cpd": cpd_s,
            "sklearn": sk_s, "worst": worst, "where": where, "mean": mean, "n": n}


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description="Time cpd's MLP probe against scikit-learn.")
    ap.add_argument("--cpd", type=Path, default=ref.REPO_ROOT / "target/release/cpd")
    ap.add_argument("--dataset", choices=["bundled", "synthetic", "both"], default="both")
    ap.add_argument("--synthetic-shape", type=bvs.parse_shape, default=(20000, 512))
    ap.add_argument("--synthetic-target", action="append",
                    help="synthetic target(s); default: y_nonlinear")
    ap.add_argument("--keep", type=Path, help="keep the work directory here")
    args = ap.parse_args(argv)
    if not args.cpd.is_file():
        print(f"error: {args.cpd} not found (cargo build --release)", file=sys.stderr)
        return 2
    bvs.print_thread_settings()
    work = args.keep or Path(tempfile.mkdtemp(prefix="cpd-bench-mlp-"))
    rows = []
    if args.dataset in ("bundled", "both"):
        rows.append(bench(bvs.bundled_inputs(), args.cpd, None, work / "bundled"))
    if args.dataset in ("synthetic", "both"):
        n, d = args.synthetic_shape
        inputs = bvs.write_synthetic(work / "synthetic", n, d)
        rows.append(bench(inputs, args.cpd, args.synthetic_target or ["y_nonlinear"],
                          work / "synthetic"))
    print()
    print(f"{'data':<22} {'shape':<24} {'cpd s':>8} {'sklearn s':>10} {'ratio':>7} "
          f"{'max|dR2|':>9} {'mean dR2':>9}  worst record")
    for r in rows:
        print(f"{r['label']:<22} {r['shape']:<24} {r['cpd']:>8.2f} {r['sklearn']:>10.2f} "
              f"{r['sklearn'] / r['cpd']:>6.1f}x {r['worst']:>9.4f} {r['mean']:>+9.4f}  "
              f"{r['where']} ({r['n']} records)")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
