#!/usr/bin/env python3
"""Ill-conditioned embeddings and their scikit-learn reference (robustness fixture).

Writes, under ``tests/fixtures/robust/`` (small, committed):

* ``compositions.csv`` (80 molecules, H/C/N/O counts), ``targets.csv``
  (``y_lin``: linear in the geometry features plus noise; ``y_nonlin``);
* ``folds.csv``: a fixed 5-fold assignment (``id,fold``);
* three float64 ``.npy`` embeddings, rows in compositions order:
  ``scaled`` (columns 0-9 multiplied by 1e8, 10-14 by 1e-6),
  ``dup`` (every column duplicated exactly, plus one column that is an exact
  linear function of the counts) and ``wide`` (300 columns for 80 rows, d > n);
* ``sklearn_ridge.json``: ``scripts/reference.py`` on those files and folds
  (StandardScaler + RidgeCV and Ridge(alpha=1) per fold).

Usage (repository root): ``python scripts/make_robust_fixture.py``.
Requirements: ``pip install -r scripts/requirements-ref.txt``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "robust"


def main() -> int:
    """Write the data files and run the reference on them."""
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    n = 80
    counts = rng.integers(0, 9, size=(n, 4))
    ids = [f"r{i:03d}" for i in range(n)]
    geo = rng.normal(size=(n, 20))
    base = np.hstack([geo, counts @ rng.normal(size=(4, 10))]) + 0.05 * rng.normal(size=(n, 30))

    scaled = base.copy()
    scaled[:, :10] *= 1e8
    scaled[:, 10:15] *= 1e-6
    dup = np.hstack([base, base, (counts @ np.array([1.0, 12.0, 14.0, 16.0]))[:, None]])
    wide = np.hstack([base, geo @ rng.normal(size=(20, 270)) + 0.1 * rng.normal(size=(n, 270))])

    y_lin = geo[:, 0] - 0.5 * geo[:, 3] + 0.3 * counts[:, 1] + 0.1 * rng.normal(size=n)
    y_nonlin = np.sin(2 * geo[:, 1]) + 0.2 * counts[:, 0] ** 2

    with open(OUT / "compositions.csv", "w") as f:
        f.write("id,H,C,N,O\n")
        for i, row in zip(ids, counts):
            f.write(i + "," + ",".join(str(int(v)) for v in row) + "\n")
    with open(OUT / "targets.csv", "w") as f:
        f.write("id,y_lin,y_nonlin\n")
        for i, a, b in zip(ids, y_lin, y_nonlin):
            f.write(f"{i},{float(a)!r},{float(b)!r}\n")
    folds = rng.permutation(np.arange(n) % 5)
    with open(OUT / "folds.csv", "w") as f:
        f.write("id,fold\n")
        for i, k in zip(ids, folds):
            f.write(f"{i},{k}\n")
    for name, arr in [("scaled", scaled), ("dup", dup), ("wide", wide)]:
        np.save(OUT / f"{name}.npy", arr.astype(np.float64))

    cmd = [
        sys.executable, str(ROOT / "scripts" / "reference.py"),
        "--folds", str(OUT / "folds.csv"),
        "--compositions", str(OUT / "compositions.csv"),
        "--targets", str(OUT / "targets.csv"),
        "--out", str(OUT / "sklearn_ridge.json"),
    ]
    for name in ["scaled", "dup", "wide"]:
        cmd += ["--embeddings", f"{name}={OUT / (name + '.npy')}"]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
