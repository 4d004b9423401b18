#!/usr/bin/env python3
"""cpd.decompose against matscope 0.2.0's decompose, side by side, on the
same arrays in one run.

Both get matscope's call shape: H (n × d, real SevenNet-0 embeddings from
data/), fractional compositions (n × 5, H C N O F) and one target. Each
call is timed with time.perf_counter (best of --repeat); the script prints
both sets of fields and the ratio of the times.

    pip install ./python matscope==0.2.0
    python scripts/bench_matscope.py [--layer l_prev] [--target homo_ev]

--npz/--compositions/--targets take a larger set in the same formats.
"""

import argparse
import csv
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIELDS = (
    "composition_r2",
    "residual_linear_r2",
    "residual_mlp_r2",
    "linear_nonlinear_gap",
    "composition_variance_explained",
)


def read_table(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["id"] for r in rows], {c: np.array([float(r[c]) for r in rows]) for c in rows[0] if c != "id"}


def best_of(repeat, f):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--npz", default=ROOT / "data/embeddings/sevennet0.npz")
    ap.add_argument("--compositions", default=ROOT / "data/compositions.csv")
    ap.add_argument("--targets", default=ROOT / "data/targets.csv")
    ap.add_argument("--layer", action="append", help="layers (default: every layer of --npz)")
    ap.add_argument("--target", default="homo_ev")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    import cpd
    import matscope
    from matscope import CompositionProjectionDecomposition

    ids, comp = read_table(args.compositions)
    tids, targ = read_table(args.targets)
    assert tids == ids, "targets must be in the compositions' order"
    counts = np.column_stack([comp[e] for e in comp])
    fractions = counts / counts.sum(axis=1, keepdims=True)
    y = targ[args.target]
    z = np.load(args.npz)
    if "ids" in z.files:
        assert [str(i) for i in z["ids"]] == ids, "embedding rows must follow the compositions"
    layers = args.layer or [k for k in z.files if k != "ids" and z[k].ndim == 2]

    print(
        f"cpd {cpd.__version__} vs matscope {matscope.__version__}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; target {args.target}; n = {len(y)}; best of {args.repeat}"
    )
    total_m = total_c = 0.0
    for layer in layers:
        h = z[layer]
        tm, rm = best_of(args.repeat, lambda: CompositionProjectionDecomposition().decompose(h, fractions, y))
        tc, rc = best_of(args.repeat, lambda: cpd.decompose(h, fractions, y))
        total_m += tm
        total_c += tc
        print(f"\nlayer {layer} ({h.shape[0]} × {h.shape[1]}, {h.dtype})")
        print(f"  {'':32} {'matscope':>10} {'cpd':>10}")
        for f in FIELDS:
            print(f"  {f:32} {getattr(rm, f):10.4f} {getattr(rc, f):10.4f}")
        print(f"  {'seconds':32} {tm:10.2f} {tc:10.2f}   cpd {tm / tc:.1f}× faster")
    print(f"\nall layers: matscope {total_m:.2f} s, cpd {total_c:.2f} s: cpd {total_m / total_c:.1f}× faster")


if __name__ == "__main__":
    main()
