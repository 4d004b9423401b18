#!/usr/bin/env python3
"""Peak memory of a three-model manifest run against the largest input file.

Purpose
-------
Issue 6 asks that a manifest run over several models, which loads one
embedding file at a time, peaks within 1.5x the largest single embedding file
plus the composition and target tables. This script

1. writes a seeded synthetic study (``numpy.random.default_rng(0)``) to a
   directory: ``compositions.csv`` (5 element counts), ``targets.csv``
   (two targets), and three float32 embeddings of ``--rows`` rows in three
   formats -- ``a.npz`` (uncompressed, with a shuffled ``ids`` array, so
   alignment has to permute rows), ``b.npy`` and ``c.npz`` (compressed) --
   plus ``run.toml`` naming them;
2. runs ``/usr/bin/time -v cpd analyze --manifest run.toml --out DIR -q``;
3. prints the largest embedding file, the tables, the budget
   ``1.5 x largest + tables``, cpd's maximum resident set size and their
   ratio, and exits 1 if the peak is over the budget.

``--bundled`` measures the bundled demo manifest (``data/demo.toml``) the same
way instead.

Usage (from the repository root)
--------------------------------
    cargo build --release
    python3 scripts/measure_memory.py [--cpd target/release/cpd]
        [--rows 40000] [--cols 512,384,256] [--threads 2] [--keep DIR]
    python3 scripts/measure_memory.py --bundled

Requirements: numpy (``pip install -r scripts/requirements-ref.txt``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_study(d: Path, rows: int, cols: list[int]) -> list[Path]:
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 10, size=(rows, 5))
    ids = np.arange(rows)
    with open(d / "compositions.csv", "w") as f:
        f.write("id,H,C,N,O,F\n")
        for i, c in zip(ids, counts):
            f.write(f"{i},{','.join(map(str, c))}\n")
    latent = rng.standard_normal((rows, 16))
    y = np.column_stack(
        [
            latent[:, 0] + 0.3 * counts[:, 1] + 0.05 * rng.standard_normal(rows),
            np.sin(3 * latent[:, 1]) + counts[:, 0],
        ]
    )
    with open(d / "targets.csv", "w") as f:
        f.write("id,y_lin,y_nonlin\n")
        for i, (a, b) in zip(ids, y):
            f.write(f"{i},{float(a)!r},{float(b)!r}\n")

    def embedding(width: int) -> np.ndarray:
        mix = rng.standard_normal((16, width))
        comp = rng.random((5, width))
        noise = 0.1 * rng.standard_normal((rows, width))
        return (latent @ mix + counts @ comp + noise).astype(np.float32)

    files = []
    a = embedding(cols[0])
    perm = rng.permutation(rows)
    np.savez(d / "a.npz", ids=ids[perm], layer=a[perm])
    files.append(d / "a.npz")
    np.save(d / "b.npy", embedding(cols[1]))
    files.append(d / "b.npy")
    np.savez_compressed(d / "c.npz", layer=embedding(cols[2]))
    files.append(d / "c.npz")
    (d / "run.toml").write_text(
        '[dataset]\ncompositions = "compositions.csv"\ntargets = "targets.csv"\n\n'
        + "".join(
            f'[[models]]\nname = "{p.stem}"\nfile = "{p.name}"\n\n' for p in files
        )
    )
    return files


def peak_rss_kib(cmd: list[str], threads: int) -> tuple[int, str]:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    p = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env
    )
    if p.returncode != 0:
        sys.exit(f"cpd failed ({p.returncode}):\n{p.stderr}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)[1])
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", p.stderr)[1]
    return rss, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpd", default=str(ROOT / "target/release/cpd"))
    ap.add_argument("--rows", type=int, default=40000)
    ap.add_argument("--cols", default="512,384,256")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", help="write the study here and keep it")
    ap.add_argument("--bundled", action="store_true", help="measure data/demo.toml")
    args = ap.parse_args()
    if not Path(args.cpd).is_file():
        sys.exit(f"no cpd binary at {args.cpd}: cargo build --release")

    tmp = tempfile.TemporaryDirectory()
    d = Path(args.keep or tmp.name)
    d.mkdir(parents=True, exist_ok=True)
    if args.bundled:
        manifest = ROOT / "data/demo.toml"
        files = sorted((ROOT / "data/embeddings").glob("*.npz"))
        tables = [ROOT / "data/compositions.csv", ROOT / "data/targets.csv"]
        label = "bundled demo (data/demo.toml)"
    else:
        cols = [int(c) for c in args.cols.split(",")]
        files = write_study(d, args.rows, cols)
        manifest = d / "run.toml"
        tables = [d / "compositions.csv", d / "targets.csv"]
        label = f"synthetic {args.rows} rows x {cols} float32"
    largest = max(f.stat().st_size for f in files)
    table_bytes = sum(f.stat().st_size for f in tables)
    budget = 1.5 * largest + table_bytes
    rss, wall = peak_rss_kib(
        [args.cpd, "analyze", "--manifest", str(manifest), "--out", str(d / "out"), "-q"],
        args.threads,
    )
    peak = rss * 1024
    mb = 1e6
    print(f"{label}, {args.threads} threads, wall {wall}")
    for f in files:
        print(f"  {f.name:<14} {f.stat().st_size / mb:8.1f} MB")
    print(f"  largest file   {largest / mb:8.1f} MB")
    print(f"  tables         {table_bytes / mb:8.1f} MB")
    print(f"  budget         {budget / mb:8.1f} MB  (1.5 x largest + tables)")
    print(f"  cpd peak RSS   {peak / mb:8.1f} MB  = {peak / largest:.2f} x largest file,"
          f" {peak / budget:.2f} x budget")
    sys.exit(0 if peak <= budget else 1)


if __name__ == "__main__":
    main()
