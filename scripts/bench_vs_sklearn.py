#!/usr/bin/env python3
"""Time cpd's ridge CPD against scikit-learn doing the same work, and compare.

Purpose
-------
For each dataset (the bundled ``data/`` files and/or a seeded synthetic one)
this script

1. runs ``cpd analyze ... --probes ridge --folds 5 --seed 0 --out DIR`` as a
   subprocess and times its wall clock (end to end: loading, projection,
   probing, writing the report);
2. reads the folds cpd used from ``DIR/folds.csv``;
3. times scikit-learn doing the same work end to end on those folds: load the
   files, build the ``composition`` / ``raw`` / ``geom`` representations (see
   ``scripts/reference.py`` for the exact rules), and for every
   model/layer/target/representation and every fold fit ``StandardScaler`` +
   ``RidgeCV(alphas=np.logspace(-3, 3, 13))`` (one fit per target; the
   composition representation is redone for every model/layer, as cpd does);
4. prints a table: dataset, cpd seconds, scikit-learn seconds, the ratio
   sklearn/cpd, and the largest ``|delta r2_mean|`` between cpd's
   ``report.json`` and scikit-learn over all records (with the number of
   records compared and of per-fold alpha disagreements).

The synthetic dataset (``numpy.random.default_rng(0)``) is written to a
temporary directory: an ``n x d`` float32 ``.npy`` embedding with low-rank
latent structure, partly driven by composition, plus noise; 5 element columns
of integer counts 0..9; two targets, ``y_linear`` (linear in the embedding plus
noise) and ``y_nonlinear`` (a nonlinear function of the latents and the
composition).

Usage (from the repository root)
--------------------------------
    cargo build --release
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench_vs_sklearn.py \
        [--cpd target/release/cpd] [--dataset bundled|synthetic|both] \
        [--synthetic-shape 20000x1024] [--repeats 1] [--target T ...] \
        [--sklearn-only] [--keep DIR]

Unset ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` for a fair numpy: they
are set on this machine for old OpenBLAS builds and slow down current numpy.
Timings are the minimum over ``--repeats`` runs. ``--sklearn-only`` skips cpd
(folds then come from a seeded shuffled ``KFold``) to time scikit-learn alone.
Exit status: 0 on success, 2 when the cpd binary or the requested data is
missing, 1 when cpd fails.

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
import reference as ref  # noqa: E402  (shared loading / projection / probing code)

REPO_ROOT = ref.REPO_ROOT
N_FOLDS = 5
SEED = 0
FAIR_NUMPY_NOTE = (
    "note: run as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "
    "python scripts/bench_vs_sklearn.py` for a fair numpy (these env vars are set "
    "on this machine for old OpenBLAS builds and slow current numpy)"
)
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)


@dataclass
class Inputs:
    """The files of one benchmark dataset."""

    label: str
    compositions: Path
    targets: Path
    embeddings: list[tuple[str, Path]]  # (model name, file)


@dataclass
class Outcome:
    """Timings and agreement for one dataset."""

    label: str
    shape: str
    cpd_seconds: float | None
    sklearn_seconds: float
    max_abs_delta_r2: float | None
    compared: int
    alpha_mismatches: int
    unmatched: int


# --------------------------------------------------------------------------- #
# Datasets
# --------------------------------------------------------------------------- #


def parse_shape(text: str) -> tuple[int, int]:
    """Parse ``"NxD"`` (e.g. ``20000x1024``) into ``(n, d)``."""
    try:
        n, d = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NxD, got {text!r}") from None
    if n < 2 * N_FOLDS or d < 1:
        raise argparse.ArgumentTypeError(f"shape too small: {text!r}")
    return n, d


def bundled_inputs() -> Inputs | None:
    """The bundled data files, or ``None`` when they are not all present."""
    data = REPO_ROOT / "data"
    comp, tgt = data / "compositions.csv", data / "targets.csv"
    embeddings = ref.parse_embedding_specs(None, data / "embeddings")
    if not (comp.is_file() and tgt.is_file() and embeddings):
        return None
    return Inputs("bundled", comp, tgt, embeddings)


def write_synthetic(directory: Path, n: int, d: int) -> Inputs:
    """Write a seeded synthetic dataset (float32 ``.npy`` + CSVs) to ``directory``.

    Embedding: ``H = Z W + 0.5 C B + 0.5 noise`` with ``Z`` an ``n x 32``
    latent, so it has low-rank structure, a composition part (removed by the
    projection) and full-rank noise. Targets: ``y_linear = H w + noise`` and
    ``y_nonlinear = sin(2 z0) z1 + tanh(z2)^2 + 0.1 sum(C) + noise``.
    """
    rng = np.random.default_rng(SEED)
    rank = min(32, d)
    elements = ["H", "C", "N", "O", "F"]
    C = rng.integers(0, 10, size=(n, len(elements)))
    Z = rng.standard_normal((n, rank), dtype=np.float32)
    W = rng.standard_normal((rank, d), dtype=np.float32) / np.sqrt(rank)
    B = rng.standard_normal((len(elements), d), dtype=np.float32) / 5.0
    H = Z @ W
    H += 0.5 * (C.astype(np.float32) @ B)
    H += 0.5 * rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal(d) / np.sqrt(d)
    y_lin = H.astype(np.float64) @ w + 0.3 * rng.standard_normal(n)
    z = Z.astype(np.float64)
    y_nonlin = (
        np.sin(2.0 * z[:, 0]) * z[:, 1]
        + np.tanh(z[:, 2]) ** 2
        + 0.1 * C.sum(axis=1)
        + 0.2 * rng.standard_normal(n)
    )
    ids = np.arange(n)

    directory.mkdir(parents=True, exist_ok=True)
    emb = directory / "emb.npy"
    np.save(emb, np.ascontiguousarray(H, dtype=np.float32))
    comp = directory / "compositions.csv"
    np.savetxt(
        comp,
        np.column_stack([ids, C]),
        fmt="%d",
        delimiter=",",
        header="id," + ",".join(elements),
        comments="",
    )
    tgt = directory / "targets.csv"
    with open(tgt, "w") as fh:
        fh.write("id,y_linear,y_nonlinear\n")
        for i, a, b in zip(ids.tolist(), y_lin.tolist(), y_nonlin.tolist()):
            fh.write(f"{i},{a!r},{b!r}\n")
    return Inputs(f"synthetic {n}x{d}", comp, tgt, [("synthetic", emb)])


def describe_shape(inputs: Inputs) -> str:
    """``n x d`` summary of the embedding layers, e.g. ``2500x64..1008 (8 layers)``."""
    shapes: list[tuple[int, ...]] = []
    for _, path in inputs.embeddings:
        if path.suffix == ".npy":
            shapes.append(np.load(path, mmap_mode="r").shape)
        else:
            with np.load(path) as npz:
                shapes += [npz[k].shape for k in npz.files if k != "ids"]
    if not shapes:
        return "-"
    if len(shapes) == 1:
        return "x".join(map(str, shapes[0]))
    ds = [s[1] for s in shapes]
    return f"{shapes[0][0]}x{min(ds)}..{max(ds)} ({len(shapes)} layers)"


# --------------------------------------------------------------------------- #
# The two contenders
# --------------------------------------------------------------------------- #


def cpd_command(cpd: Path, inputs: Inputs, targets: list[str] | None, out: Path) -> list[str]:
    """The ``cpd analyze`` command line for ``inputs``."""
    cmd = [str(cpd), "analyze"]
    for name, path in inputs.embeddings:
        cmd += ["--embeddings", f"{name}={path}"]
    cmd += ["--compositions", str(inputs.compositions), "--targets", str(inputs.targets)]
    for t in targets or []:
        cmd += ["--target", t]
    # StandardScaler, as the scikit-learn pipeline it is timed against.
    cmd += ["--probes", "ridge", "--folds", str(N_FOLDS), "--seed", str(SEED),
            "--scale", "standard", "--out", str(out)]
    return cmd


def run_cpd(cmd: list[str]) -> float:
    """Run cpd once; return its wall-clock seconds. Exit 1 if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"cpd failed (exit {proc.returncode}): {' '.join(cmd)}", file=sys.stderr)
        print(proc.stderr[-4000:], file=sys.stderr)
        sys.exit(1)
    return elapsed


def sklearn_end_to_end(
    inputs: Inputs, folds_csv: Path | None, targets: list[str] | None
) -> tuple[dict, float]:
    """Do cpd's ridge work with scikit-learn; return (results, seconds).

    Timed from loading the files to the last fold's score. ``folds_csv`` is
    cpd's ``folds.csv``; with ``None``, a shuffled ``KFold(5, random_state=0)``
    is used instead (``--sklearn-only``). Results are keyed by
    ``(model, layer, target, representation)``.
    """
    t0 = time.perf_counter()
    ds = ref.load_dataset(inputs.compositions, inputs.targets, inputs.embeddings, targets)
    if folds_csv is not None:
        folds = ref.load_folds(folds_csv, ds.ids)
    else:
        from sklearn.model_selection import KFold

        folds = np.empty(len(ds.ids), dtype=np.int64)
        splitter = KFold(N_FOLDS, shuffle=True, random_state=SEED)
        for f, (_, test) in enumerate(splitter.split(ds.compositions)):
            folds[test] = f
    Q, _ = ref.composition_basis(ds.compositions)
    results: dict = {}

    def keep(model, layer, representation, scores):
        for j, target in enumerate(ds.target_names):
            results[(model, layer, target, representation)] = scores["ridgecv"][j]

    for lay in ds.layers:
        keep(lay.model, lay.layer, "composition",
             ref.cross_validate(ds.compositions, ds.targets, folds, ("ridgecv",)))
        H = np.asarray(lay.matrix, dtype=np.float64)
        keep(lay.model, lay.layer, "raw", ref.cross_validate(H, ds.targets, folds, ("ridgecv",)))
        G = ref.geometric_residual(H, Q)
        del H
        keep(lay.model, lay.layer, "geom", ref.cross_validate(G, ds.targets, folds, ("ridgecv",)))
        del G
    return results, time.perf_counter() - t0


def compare(report_path: Path, sk: dict) -> tuple[float | None, int, int, int]:
    """Compare cpd's ridge records with scikit-learn's.

    Returns ``(max |delta r2_mean|, records compared, per-fold alpha
    disagreements, cpd ridge records without a scikit-learn counterpart)``.
    A composition record with ``model``/``layer`` null matches any layer's
    composition result (they are all identical).
    """
    with open(report_path) as fh:
        report = json.load(fh)
    comp_any = {k[2]: v for k, v in sk.items() if k[3] == "composition"}
    max_delta, compared, alpha_bad, unmatched = None, 0, 0, 0
    for rec in report.get("results", []):
        if rec.get("probe") != "ridge":
            continue
        key = (rec.get("model"), rec.get("layer"), rec.get("target"), rec.get("representation"))
        mine = sk.get(key)
        if mine is None and key[3] == "composition":
            mine = comp_any.get(key[2])
        if mine is None or rec.get("r2_mean") is None:
            unmatched += 1
            continue
        delta = abs(float(rec["r2_mean"]) - mine["r2_mean"])
        max_delta = delta if max_delta is None else max(max_delta, delta)
        compared += 1
        theirs = rec.get("alphas")
        if isinstance(theirs, list) and len(theirs) == len(mine["alphas"]):
            alpha_bad += sum(
                not np.isclose(a, b, rtol=1e-9) for a, b in zip(theirs, mine["alphas"])
            )
    return max_delta, compared, alpha_bad, unmatched


def bench_dataset(
    inputs: Inputs, cpd: Path | None, repeats: int, targets: list[str] | None, workdir: Path
) -> Outcome:
    """Time cpd (unless ``cpd`` is None) and scikit-learn on one dataset."""
    cpd_times: list[float] = []
    folds_csv = None
    out = workdir / "cpd_out"
    if cpd is not None:
        cmd = cpd_command(cpd, inputs, targets, out)
        print(f"[{inputs.label}] $ {' '.join(cmd)}", flush=True)
        for _ in range(repeats):
            if out.exists():
                shutil.rmtree(out)
            cpd_times.append(run_cpd(cmd))
            print(f"[{inputs.label}] cpd: {cpd_times[-1]:.2f} s", flush=True)
        folds_csv = out / "folds.csv"
    sk_times: list[float] = []
    sk: dict = {}
    for _ in range(repeats):
        sk, seconds = sklearn_end_to_end(inputs, folds_csv, targets)
        sk_times.append(seconds)
        print(f"[{inputs.label}] scikit-learn: {seconds:.2f} s", flush=True)
    r2 = [v["r2_mean"] for v in sk.values()]
    print(f"[{inputs.label}] scikit-learn r2_mean over {len(r2)} records: "
          f"min {min(r2):.4f}, max {max(r2):.4f}", flush=True)
    delta, compared, alpha_bad, unmatched = (None, 0, 0, 0)
    if cpd is not None:
        delta, compared, alpha_bad, unmatched = compare(out / "report.json", sk)
    return Outcome(
        label=inputs.label,
        shape=describe_shape(inputs),
        cpd_seconds=min(cpd_times) if cpd_times else None,
        sklearn_seconds=min(sk_times),
        max_abs_delta_r2=delta,
        compared=compared,
        alpha_mismatches=alpha_bad,
        unmatched=unmatched,
    )


# --------------------------------------------------------------------------- #
# Reporting
# --------------------------------------------------------------------------- #


def print_thread_settings() -> None:
    """Print CPU count, thread-related env vars and threadpoolctl's view."""
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, versions {ref.library_versions()}")
    env = {k: os.environ[k] for k in THREAD_ENV_VARS if k in os.environ}
    print(f"thread env vars: {env or 'none set'}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("threadpoolctl not installed: library thread settings unknown")
    else:
        for pool in threadpool_info():
            print(
                "  {user_api}/{internal_api} {version} threads={num_threads} "
                "arch={arch} ({lib})".format(
                    arch=pool.get("architecture", "?"),
                    lib=Path(pool.get("filepath", "?")).name,
                    **{k: pool.get(k, "?") for k in ("user_api", "internal_api", "version", "num_threads")},
                )
            )
    if "OPENBLAS_CORETYPE" in os.environ or "OPENBLAS_L2_SIZE" in os.environ:
        print("WARNING: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set; numpy may be slow.")
    print(FAIR_NUMPY_NOTE)


def print_table(rows: list[Outcome]) -> None:
    """Print the results table."""
    header = ["dataset", "shape", "cpd s", "sklearn s", "sklearn/cpd", "max|Δr2_mean|", "records", "alpha≠", "unmatched"]
    body = []
    for r in rows:
        body.append(
            [
                r.label,
                r.shape,
                "-" if r.cpd_seconds is None else f"{r.cpd_seconds:.2f}",
                f"{r.sklearn_seconds:.2f}",
                "-" if r.cpd_seconds is None else f"{r.sklearn_seconds / r.cpd_seconds:.1f}x",
                "-" if r.max_abs_delta_r2 is None else f"{r.max_abs_delta_r2:.2e}",
                str(r.compared),
                str(r.alpha_mismatches),
                str(r.unmatched),
            ]
        )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    print()
    print(line(header))
    print(line(["-" * w for w in widths]))
    for b in body:
        print(line(b))


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    ap = argparse.ArgumentParser(
        description="Benchmark cpd's ridge CPD against scikit-learn.",
    )
    ap.add_argument("--cpd", type=Path, default=REPO_ROOT / "target" / "release" / "cpd",
                    help="cpd binary (default: target/release/cpd in the repository)")
    ap.add_argument("--dataset", choices=["bundled", "synthetic", "both"], default="both",
                    help="bundled = data/ (skipped under 'both' if absent); default: both")
    ap.add_argument("--synthetic-shape", type=parse_shape, default=(20000, 1024), metavar="NxD",
                    help="rows x columns of the synthetic embedding; default: 20000x1024")
    ap.add_argument("--repeats", type=int, default=1, help="runs per contender; the minimum is reported; default: 1")
    ap.add_argument("--target", action="append", help="restrict to these targets (repeatable)")
    ap.add_argument("--sklearn-only", action="store_true", help="do not run cpd; time scikit-learn alone")
    ap.add_argument("--keep", type=Path, help="keep generated data and cpd output in this directory")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    if args.repeats < 1:
        print("--repeats must be >= 1", file=sys.stderr)
        return 2
    cpd = None
    if not args.sklearn_only:
        cpd = args.cpd.resolve()
        if not (cpd.is_file() and os.access(cpd, os.X_OK)):
            print(
                f"cpd binary not found at {args.cpd}. Build it with `cargo build --release` "
                "in the repository root (or pass --cpd PATH; --sklearn-only times scikit-learn alone).",
                file=sys.stderr,
            )
            return 2
    print_thread_settings()

    tmp = None
    if args.keep:
        workdir = args.keep
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cpd-bench-")
        workdir = Path(tmp.name)
    try:
        datasets: list[Inputs] = []
        if args.dataset in ("bundled", "both"):
            bundled = bundled_inputs()
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
            datasets.append(write_synthetic(workdir / "synthetic", n, d))
            print(f"synthetic {n}x{d} written in {time.perf_counter() - t0:.1f} s (not timed)")
        rows = []
        for inputs in datasets:
            sub = workdir / inputs.label.split()[0]
            sub.mkdir(parents=True, exist_ok=True)
            rows.append(bench_dataset(inputs, cpd, args.repeats, args.target, sub))
        print_table(rows)
        if any(r.unmatched for r in rows):
            print("note: 'unmatched' counts cpd ridge records with no scikit-learn counterpart")
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
