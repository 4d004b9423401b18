#!/usr/bin/env python3
"""Time cpd's GBT probe against LightGBM and HistGradientBoosting, and compare.

Purpose
-------
For each dataset (the bundled ``data/`` files and/or a seeded synthetic
``20000 x 512`` float32 set) this script does the same work three times and
times each **end to end** (wall clock from reading the input files to the last
fold's score; cpd's time also includes writing its report):

1. ``cpd analyze --embeddings NAME=PATH ... --compositions FILE --targets FILE
   --probes gbt --folds 5 --seed 0 --gbt-rounds R --gbt-lr 0.1 --gbt-leaves 31
   --gbt-min-leaf 20 --gbt-l2 0 --gbt-bins 255 --out DIR`` as a subprocess;
2. LightGBM (``LGBMRegressor``, ``n_jobs=2``) and
3. scikit-learn's ``HistGradientBoostingRegressor``, each with the settings of
   ``scripts/reference_gbt.py`` (whose ``cross_validate`` is reused), on the
   folds cpd wrote to ``DIR/folds.csv``: load the files, build the
   ``composition`` / ``raw`` / ``geom`` representations with
   ``scripts/reference.py`` (pivoted QR, ``H - Q Q^T H``, 1e-9 column
   zeroing), no standardisation, and for every model/layer/target/
   representation and fold fit on the training rows and predict the test
   rows. The composition representation is redone for every model/layer, as
   cpd reports it (and as ``scripts/bench_vs_sklearn.py`` does).

It then prints a table: dataset, the three wall-clock times, the ratios
lightgbm/cpd and hgb/cpd, the largest ``|delta r2_mean|`` between cpd's
``report.json`` (records with ``probe == "gbt"``) and each library, the number
of records compared, and, for scale, the largest ``|delta r2_mean|`` between
LightGBM and HistGradientBoosting themselves (two correct GBT implementations
already differ by this much).

If cpd fails (e.g. before the Rust side supports ``--probes gbt``), its error
is printed and the Python libraries are still timed; their folds then come
from an untimed ``cpd analyze --probes ridge`` run with the same
``--folds 5 --seed 0`` (or, failing that, a shuffled ``KFold(5,
random_state=0)``).

The synthetic set is ``scripts/bench_vs_sklearn.py``'s ``write_synthetic``
(imported) with ``d = 512``: low-rank latent structure partly driven by
composition plus noise, 5 element-count columns, targets ``y_linear`` and
``y_nonlinear``; it is written to a temporary directory, untimed.

Usage (from the repository root)
--------------------------------
    cargo build --release
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench_gbt.py \
        [--dataset bundled|synthetic|both] [--rounds 300] [--cpd target/release/cpd] \
        [--synthetic-shape 20000x512] [--target T ...] [--keep DIR]

On 2 cores the full run (both datasets, 300 rounds) takes a long time, most
of it in the two Python libraries; ``--rounds 50`` gives a quicker picture.
Run it on an otherwise idle machine, with the libraries' default OpenMP
settings. Both libraries use OpenMP, whose spinning idle threads made fits
10-70x slower when other processes competed for the 2 cores; if the machine
cannot be idle, ``OMP_WAIT_POLICY=PASSIVE`` avoids that collapse but costs a
futex wake-up per parallel region (small problems ran 2-4x slower on an idle
machine), so say so when quoting the numbers. The policy in effect is
printed.
Exit status: 0 on success (even when cpd failed), 2 on bad arguments or
missing data.

Requirements: ``pip install -r scripts/requirements-ref.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_vs_sklearn as bvs  # noqa: E402  (bundled inputs, synthetic data)
import reference as ref  # noqa: E402  (loading, alignment, projection, folds)
import reference_gbt as rg  # noqa: E402  (the LightGBM / HGB probes)

REPO_ROOT = ref.REPO_ROOT
N_FOLDS = 5
SEED = 0
LIBRARIES = ("lightgbm", "hgb")
# cpd flags matching reference_gbt's settings (rounds added from --rounds).
CPD_GBT_FLAGS = ["--gbt-lr", "0.1", "--gbt-leaves", "31", "--gbt-min-leaf", "20",
                 "--gbt-l2", "0", "--gbt-bins", "255"]

Key = tuple  # (model, layer, target, representation)


@dataclass
class Outcome:
    """Timings and agreement for one dataset."""

    label: str
    shape: str
    cpd_seconds: float | None
    seconds: dict[str, float]  # library -> seconds
    delta: dict[str, float | None]  # library -> max |delta r2_mean| vs cpd
    compared: int
    unmatched: int
    lib_delta: float | None  # max |delta r2_mean| lightgbm vs hgb


# --------------------------------------------------------------------------- #
# cpd
# --------------------------------------------------------------------------- #


def cpd_command(
    cpd: Path, inputs: bvs.Inputs, targets: list[str] | None, out: Path,
    probes: str = "gbt", rounds: int | None = None,
) -> list[str]:
    """The ``cpd analyze`` command line for ``inputs``."""
    cmd = [str(cpd), "analyze"]
    for name, path in inputs.embeddings:
        cmd += ["--embeddings", f"{name}={path}"]
    cmd += ["--compositions", str(inputs.compositions), "--targets", str(inputs.targets)]
    for t in targets or []:
        cmd += ["--target", t]
    cmd += ["--probes", probes, "--folds", str(N_FOLDS), "--seed", str(SEED)]
    if probes == "gbt":
        cmd += ["--gbt-rounds", str(rounds)] + CPD_GBT_FLAGS
    cmd += ["--out", str(out)]
    return cmd


def run_cpd(cmd: list[str], label: str) -> float | None:
    """Run cpd once; return its wall-clock seconds, or None (error printed)."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        print(f"[{label}] cpd could not be started: {exc}", file=sys.stderr, flush=True)
        return None
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"[{label}] cpd failed (exit {proc.returncode}) after {elapsed:.1f} s:",
              file=sys.stderr)
        print("    " + (proc.stderr.strip()[-3000:] or "(no stderr)").replace("\n", "\n    "),
              file=sys.stderr, flush=True)
        return None
    return elapsed


def fallback_folds(cpd: Path, inputs: bvs.Inputs, targets, out: Path, label: str) -> Path | None:
    """cpd's folds from an untimed ridge run (same --folds/--seed), or None."""
    if out.exists():
        shutil.rmtree(out)
    cmd = cpd_command(cpd, inputs, (targets or [])[:1] or None, out, probes="ridge")
    if run_cpd(cmd, label) is None or not (out / "folds.csv").is_file():
        return None
    return out / "folds.csv"


# --------------------------------------------------------------------------- #
# Python libraries
# --------------------------------------------------------------------------- #


def kfold_assignment(n: int) -> np.ndarray:
    """Shuffled ``KFold(5, random_state=0)`` as a fold index per row."""
    from sklearn.model_selection import KFold

    folds = np.empty(n, dtype=np.int64)
    for f, (_, test) in enumerate(KFold(N_FOLDS, shuffle=True, random_state=SEED).split(np.zeros(n))):
        folds[test] = f
    return folds


def python_end_to_end(
    inputs: bvs.Inputs, folds_csv: Path | None, targets: list[str] | None, library: str, rounds: int
) -> tuple[dict[Key, dict], float]:
    """Do cpd's GBT work with ``library``; return (results by key, seconds).

    Timed from loading the files to the last fold's score.
    """
    t0 = time.perf_counter()
    ds = ref.load_dataset(inputs.compositions, inputs.targets, inputs.embeddings, targets)
    folds = ref.load_folds(folds_csv, ds.ids) if folds_csv is not None else kfold_assignment(len(ds.ids))
    Q, _ = ref.composition_basis(ds.compositions)
    results: dict[Key, dict] = {}
    for model, layer, rep, X in rg.representations(ds, Q, composition_per_layer=True):
        for target, s in zip(ds.target_names, rg.cross_validate(X, ds.targets, folds, library, rounds)):
            results[(model, layer, target, rep)] = s
    return results, time.perf_counter() - t0


def max_delta(a: dict[Key, dict], b: dict[Key, dict]) -> float | None:
    """Largest |delta r2_mean| over the keys both hold."""
    d = [abs(a[k]["r2_mean"] - b[k]["r2_mean"]) for k in a if k in b]
    return max(d) if d else None


def cpd_results(report_path: Path) -> dict[Key, dict]:
    """cpd's GBT records keyed like the Python results."""
    with open(report_path) as fh:
        report = json.load(fh)
    out = {}
    for rec in report.get("results", []):
        if rec.get("probe") != "gbt" or rec.get("r2_mean") is None:
            continue
        key = (rec.get("model"), rec.get("layer"), rec.get("target"), rec.get("representation"))
        out[key] = rec
    return out


def compare(cpd: dict[Key, dict], lib: dict[Key, dict]) -> tuple[float | None, int, int]:
    """(max |delta r2_mean|, records compared, cpd records without a counterpart).

    A cpd composition record with null model/layer matches any layer's
    composition result for its target (they are all identical).
    """
    comp_any = {k[2]: v for k, v in lib.items() if k[3] == "composition"}
    worst, compared, unmatched = None, 0, 0
    for key, rec in cpd.items():
        mine = lib.get(key)
        if mine is None and key[3] == "composition":
            mine = comp_any.get(key[2])
        if mine is None:
            unmatched += 1
            continue
        d = abs(float(rec["r2_mean"]) - mine["r2_mean"])
        worst = d if worst is None else max(worst, d)
        compared += 1
    return worst, compared, unmatched


# --------------------------------------------------------------------------- #
# One dataset
# --------------------------------------------------------------------------- #


def bench_dataset(
    inputs: bvs.Inputs, cpd: Path, rounds: int, targets: list[str] | None, workdir: Path
) -> Outcome:
    """Time cpd, LightGBM and HGB on one dataset and compare their R2."""
    label = inputs.label
    out = workdir / "cpd_out"
    if out.exists():
        shutil.rmtree(out)
    cmd = cpd_command(cpd, inputs, targets, out, rounds=rounds)
    print(f"[{label}] $ {' '.join(cmd)}", flush=True)
    cpd_seconds = run_cpd(cmd, label)
    cpd_res: dict[Key, dict] = {}
    folds_csv: Path | None = out / "folds.csv"
    if cpd_seconds is not None:
        print(f"[{label}] cpd: {cpd_seconds:.2f} s", flush=True)
        cpd_res = cpd_results(out / "report.json")
        if not cpd_res:
            print(f"[{label}] warning: cpd's report.json has no probe=gbt records", flush=True)
    if not folds_csv.is_file():
        folds_csv = fallback_folds(cpd, inputs, targets, workdir / "cpd_folds", label)
        if folds_csv is not None:
            print(f"[{label}] folds from an untimed `cpd analyze --probes ridge` run", flush=True)
        else:
            print(f"[{label}] folds from a shuffled KFold({N_FOLDS}, random_state={SEED})", flush=True)

    seconds: dict[str, float] = {}
    lib_res: dict[str, dict[Key, dict]] = {}
    for lib in LIBRARIES:
        res, secs = python_end_to_end(inputs, folds_csv, targets, lib, rounds)
        lib_res[lib], seconds[lib] = res, secs
        r2 = [v["r2_mean"] for v in res.values()]
        print(f"[{label}] {lib}: {secs:.2f} s  ({len(res)} records, r2_mean "
              f"{min(r2):+.4f}..{max(r2):+.4f})", flush=True)

    delta: dict[str, float | None] = {}
    compared = unmatched = 0
    for lib in LIBRARIES:
        delta[lib], compared, unmatched = compare(cpd_res, lib_res[lib]) if cpd_res else (None, 0, 0)
    return Outcome(
        label=label,
        shape=bvs.describe_shape(inputs),
        cpd_seconds=cpd_seconds,
        seconds=seconds,
        delta=delta,
        compared=compared,
        unmatched=unmatched,
        lib_delta=max_delta(lib_res["lightgbm"], lib_res["hgb"]),
    )


# --------------------------------------------------------------------------- #
# Reporting
# --------------------------------------------------------------------------- #


def print_environment() -> None:
    """Versions, CPU count and thread-related environment variables."""
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, versions {rg.library_versions()}")
    env = {k: os.environ[k] for k in bvs.THREAD_ENV_VARS if k in os.environ}
    print(f"thread env vars: {env or 'none set'}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
          f"lightgbm n_jobs={rg.N_JOBS}")
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    if load is not None and os.cpu_count() and load > 0.5 * os.cpu_count():
        print(f"WARNING: load average {load:.1f} on {os.cpu_count()} CPUs: timings will be noisy"
              + ("" if os.environ.get("OMP_WAIT_POLICY") else
                 " (spinning OpenMP threads degrade badly; consider OMP_WAIT_POLICY=PASSIVE)"))


def print_table(rows: list[Outcome]) -> None:
    """Print the results table."""
    f2 = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    fe = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    ratio = lambda a, b: "-" if a is None or b is None else f"{a / b:.1f}x"  # noqa: E731
    header = ["dataset", "shape", "cpd s", "lightgbm s", "hgb s", "lightgbm/cpd", "hgb/cpd",
              "max|Δr2| vs lgb", "max|Δr2| vs hgb", "records", "unmatched", "lgb↔hgb"]
    body = [
        [
            r.label, r.shape, f2(r.cpd_seconds), f2(r.seconds["lightgbm"]), f2(r.seconds["hgb"]),
            ratio(r.seconds["lightgbm"], r.cpd_seconds), ratio(r.seconds["hgb"], r.cpd_seconds),
            fe(r.delta["lightgbm"]), fe(r.delta["hgb"]), str(r.compared), str(r.unmatched),
            fe(r.lib_delta),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    print()
    print(line(header))
    print(line(["-" * w for w in widths]))
    for b in body:
        print(line(b))
    print("times are end-to-end wall clock (load, project, fit/predict every fold; cpd also writes "
          "its report); lgb↔hgb = max |Δ r2_mean| between the two libraries, for scale")


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    ap = argparse.ArgumentParser(
        description="Benchmark cpd's GBT probe against LightGBM and HistGradientBoosting (end to end).",
    )
    ap.add_argument("--cpd", type=Path, default=REPO_ROOT / "target" / "release" / "cpd",
                    help="cpd binary (default: target/release/cpd in the repository)")
    ap.add_argument("--dataset", choices=["bundled", "synthetic", "both"], default="both",
                    help="bundled = data/ (skipped under 'both' if absent); default: both")
    ap.add_argument("--rounds", type=int, default=rg.DEFAULT_ROUNDS,
                    help=f"boosting rounds for all three; default: {rg.DEFAULT_ROUNDS}")
    ap.add_argument("--synthetic-shape", type=bvs.parse_shape, default=(20000, 512), metavar="NxD",
                    help="rows x columns of the synthetic embedding; default: 20000x512")
    ap.add_argument("--target", action="append", help="restrict to these targets (repeatable)")
    ap.add_argument("--keep", type=Path, help="keep generated data and cpd output in this directory")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    if args.rounds < 1:
        print("--rounds must be >= 1", file=sys.stderr)
        return 2
    cpd = args.cpd.resolve()
    if not (cpd.is_file() and os.access(cpd, os.X_OK)):
        print(f"warning: cpd binary not found at {args.cpd} (build it with `cargo build --release` "
              "or pass --cpd PATH); timing the Python libraries only", file=sys.stderr)
    print_environment()

    tmp = None
    if args.keep:
        workdir = args.keep
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cpd-bench-gbt-")
        workdir = Path(tmp.name)
    try:
        datasets: list[bvs.Inputs] = []
        if args.dataset in ("bundled", "both"):
            bundled = bvs.bundled_inputs()
            if bundled is None:
                msg = "bundled data not found (data/compositions.csv, data/targets.csv, data/embeddings/*.npz)"
                if args.dataset == "bundled":
                    print(msg, file=sys.stderr)
                    return 2
                print(f"skipping: {msg}")
            else:
                datasets.append(bundled)
        if args.dataset in ("synthetic", "both"):
            n, d = args.synthetic_shape
            t0 = time.perf_counter()
            datasets.append(bvs.write_synthetic(workdir / "synthetic", n, d))
            print(f"synthetic {n}x{d} written in {time.perf_counter() - t0:.1f} s (not timed)")
        rows = []
        for inputs in datasets:
            sub = workdir / inputs.label.split()[0]
            sub.mkdir(parents=True, exist_ok=True)
            rows.append(bench_dataset(inputs, cpd, args.rounds, args.target, sub))
        print_table(rows)
        if any(r.cpd_seconds is None for r in rows):
            print("note: cpd failed on some datasets (see above); their cpd columns are '-'")
        if any(r.unmatched for r in rows):
            print("note: 'unmatched' counts cpd gbt records with no Python counterpart")
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
