#!/usr/bin/env python3
"""Wall time, CPU time and peak memory of ridge CPD on a large synthetic layer.

Purpose
-------
Issue 15 asks that ridge CPD read an uncompressed ``.npy`` in row blocks, so
that its peak memory no longer grows with the number of rows, and that a
layer split over several files be read like one file. This script

1. ``make``: writes a seeded synthetic study (``numpy.random.default_rng(0)``)
   to DIR: ``compositions.csv`` (5 element counts), ``targets.csv`` (two
   targets) and one float32 layer ``emb.npy`` of ROWS x COLS, written in
   chunks (a 2 GB layer never sits in this script's memory whole); with
   ``--shards K`` also the same rows split into ``emb_000.npy`` ...
   (consecutive row ranges, sizes differing by at most one);
2. ``run``: runs ``/usr/bin/time -v cpd analyze --probes ridge`` on DIR's
   layer (``--embeddings m=emb.npy``, or ``m=emb_000.npy,emb_001.npy,...``
   with ``--sharded``) and prints wall time, user + system CPU time, peak
   RSS and the machine's load average before the run (other processes on a
   shared machine lengthen the wall time, not the CPU time).

Usage (from the repository root)
--------------------------------
    cargo build --release
    python3 scripts/bench_stream.py make /tmp/b130k --rows 130000 --cols 1024 --shards 8
    python3 scripts/bench_stream.py run /tmp/b130k [--sharded] [--cpd target/release/cpd]
    python3 scripts/bench_stream.py make /tmp/b2m --rows 2000000 --cols 256
    python3 scripts/bench_stream.py run /tmp/b2m

The data is large (130,000 x 1024 float32 is 532 MB, 2,000,000 x 256 is
2 GB): put it outside the repository and delete it afterwards.

Requirements: numpy (``pip install -r scripts/requirements-ref.txt``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 100_000


def make(d: Path, rows: int, cols: int, shards: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 10, size=(rows, 5))
    latent = rng.standard_normal((rows, 16))
    ids = np.arange(rows)
    np.savetxt(
        d / "compositions.csv",
        np.column_stack([ids, counts]),
        fmt="%d",
        delimiter=",",
        header="id,H,C,N,O,F",
        comments="",
    )
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
    mix = rng.standard_normal((16, cols))
    comp = rng.random((5, cols))
    out = np.lib.format.open_memmap(d / "emb.npy", mode="w+", dtype="<f4", shape=(rows, cols))
    for s in range(0, rows, CHUNK):
        e = min(s + CHUNK, rows)
        noise = 0.1 * rng.standard_normal((e - s, cols))
        out[s:e] = (latent[s:e] @ mix + counts[s:e] @ comp + noise).astype(np.float32)
    out.flush()
    if shards > 1:
        bounds = np.cumsum([0] + [rows // shards + (i < rows % shards) for i in range(shards)])
        for k in range(shards):
            part = np.lib.format.open_memmap(
                d / f"emb_{k:03d}.npy", mode="w+", dtype="<f4",
                shape=(int(bounds[k + 1] - bounds[k]), cols),
            )
            for s in range(bounds[k], bounds[k + 1], CHUNK):
                e = min(s + CHUNK, bounds[k + 1])
                part[s - bounds[k]:e - bounds[k]] = out[s:e]
            part.flush()
            del part
    del out
    size = (d / "emb.npy").stat().st_size
    print(f"wrote {d}: {rows} x {cols} float32 ({size / 1e6:.0f} MB)"
          + (f", and {shards} shards" if shards > 1 else ""))


def run(d: Path, cpd: str, sharded: bool, threads: int | None, extra: list[str]) -> None:
    if sharded:
        files = sorted(p.name for p in d.glob("emb_[0-9][0-9][0-9].npy"))
        if not files:
            sys.exit(f"no emb_NNN.npy shards in {d}: make with --shards K")
        layer = ",".join(str(d / f) for f in files)
    else:
        layer = str(d / "emb.npy")
    cmd = [
        "/usr/bin/time", "-v", cpd, "analyze",
        "--embeddings", f"m={layer}",
        "--compositions", str(d / "compositions.csv"),
        "--targets", str(d / "targets.csv"),
        "--probes", "ridge", "--out", str(d / "out"), "-q", *extra,
    ]
    env = dict(os.environ)
    if threads:
        env["RAYON_NUM_THREADS"] = str(threads)
    load = os.getloadavg()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"cpd failed ({p.returncode}):\n{p.stderr}")
    err = p.stderr

    def field(name: str) -> str:
        return re.search(re.escape(name) + r".*?: (\S+)\n", err)[1]

    wall = field("Elapsed (wall clock) time")
    parts = [float(x) for x in wall.split(":")]
    secs = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    user, sys_t = float(field("User time (seconds)")), float(field("System time (seconds)"))
    rss = int(field("Maximum resident set size (kbytes)")) * 1024
    size = sum(p.stat().st_size for p in ([d / "emb.npy"] if not sharded
                                          else sorted(d.glob("emb_[0-9][0-9][0-9].npy"))))
    print(f"{d.name}: {'sharded ' if sharded else ''}layer {size / 1e6:.0f} MB; "
          f"load average before {load[0]:.2f}")
    print(f"  wall {secs:.1f} s, CPU {user + sys_t:.1f} s (user {user:.1f}, sys {sys_t:.1f}), "
          f"peak RSS {rss / 1e6:.0f} MB ({rss / size:.2f} x the layer)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("dir", type=Path)
    m.add_argument("--rows", type=int, default=130_000)
    m.add_argument("--cols", type=int, default=1024)
    m.add_argument("--shards", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("dir", type=Path)
    r.add_argument("--cpd", default=str(ROOT / "target/release/cpd"))
    r.add_argument("--sharded", action="store_true")
    r.add_argument("--threads", type=int)
    r.add_argument("extra", nargs="*", help="more cpd analyze arguments (after --)")
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.dir, a.rows, a.cols, a.shards)
    else:
        run(a.dir, a.cpd, a.sharded, a.threads, a.extra)


if __name__ == "__main__":
    main()
