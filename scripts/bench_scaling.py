#!/usr/bin/env python3
"""How cpd's probes scale with n and d, against the reference tools, in one run.

Purpose
-------
For every chosen size (n rows x d columns) and probe this script

1. writes (once, untimed) the seeded synthetic layer of
   ``scripts/bench_stream.py``'s ``make`` (imported): ``compositions.csv`` (5
   element counts), ``targets.csv`` (``y_lin``, ``y_nonlin``) and a float32
   ``emb.npy`` written in chunks, into ``DATA/n{n}_d{d}/`` (``--data``,
   outside the repository); a directory whose ``emb.npy`` already has the
   shape is reused;
2. runs, under ``/usr/bin/time -v`` (wall clock and peak RSS)::

       cpd analyze --embeddings m=DIR/emb.npy --compositions DIR/compositions.csv
           --targets DIR/targets.csv --target y_nonlin --probes P --folds 5
           --seed 0 --bootstrap 0 --out OUT -q

   plus, for ``gbt``, the LightGBM-matching settings of
   ``scripts/bench_gbt.py`` (``--gbt-rounds 300 --gbt-learning-rate 0.1
   --gbt-max-leaves 31 --gbt-min-leaf 20 --gbt-l2 0 --gbt-max-bins 255``;
   ``--gbt-lr/--gbt-leaves/--gbt-bins`` are their accepted old names) and,
   with ``--scale standard``, ``--scale standard``. ``--bootstrap 0`` switches
   off the 1000 bootstrap replicates cpd draws by default for its 95 %
   intervals (work the references do not do). The other optional analyses
   (permutations, controls, similarity, learning curves, channels) are off
   by default. What cannot be switched off and stays in cpd's time: reading
   the files, the composition projection, the isomer-pair accuracy, writing
   the report (json, md, html, csv, svg) and the composition-conditional R2
   (``r2_cond``) of every residual (``geom``) record. cpd analyze always
   computes ``r2_cond`` (there is no switch on the command line): per fold a
   composition baseline (ridge on composition; for gbt and mlp the probe is
   then fitted on composition to what ridge leaves and its predictions
   added) and a fresh probe fitted on the residual ``G_T`` to
   ``y_T - base_T``, so for gbt and mlp one more d-wide model per fold than
   the three representations;
3. runs the reference, on the folds cpd wrote (``OUT/folds.csv``), as a
   subprocess of this script (``bench_scaling.py _reference ...``, writing
   JSON) under the same ``/usr/bin/time -v``, so both peak RSS are measured
   alike; its wall clock is end to end too (interpreter start, loading,
   projection, every fold). The representations are cpd's: ``composition``,
   ``raw`` and ``geom`` (the composition residual), built by
   ``scripts/reference.py``:

   * ``gbt``: LightGBM ``LGBMRegressor(n_estimators=300, num_leaves=31,
     min_child_samples=20, learning_rate=0.1, max_bin=255, n_jobs=2, ...)``
     through ``scripts/reference_gbt.py``'s ``cross_validate``;
   * ``mlp``: scikit-learn ``MLPRegressor(hidden_layer_sizes=(128,),
     alpha=1e-4, early_stopping=True, ...)`` on a standardised target through
     ``scripts/reference_mlp.py`` (cpd's MLP defaults), with that script's
     input scaling matching cpd's: ``global-clip`` for cpd's default
     ``--scale robust``, ``StandardScaler`` for ``--scale standard``;
   * for ``gbt`` and ``mlp`` the reference therefore does the same work: in
     the same subprocess, after the three representations, it computes
     ``r2_cond`` with the functions of ``scripts/reference_conditional.py``
     (imported: ``composition_stage`` for stage 1, ``prepare`` and
     ``fit_predict`` for stage 2; ``geometry_stage`` is not used because it
     also refits the plain geom probe the three representations already
     fitted), with this script's settings: LightGBM with ``--gbt-rounds``
     rounds, the MLP with seed 0 and the scalings above (ridge of the
     baseline: ``global`` for ``--scale robust``, ``StandardScaler`` for
     ``--scale standard``). The conditional fits are timed inside the
     subprocess (``cond_seconds``). The table shows ``ref s (+cond)`` (the
     subprocess's wall clock: the same work as cpd) and ``ref s (3 reps)``
     (that minus the conditional fits' time), and the two ratios ``ratio same
     work`` = ref s (+cond) / cpd s and ``ratio 3 reps`` = ref s (3 reps) /
     cpd s; the "3 reps" ratio is shown for comparison with older figures
     (which timed only the three representations on the reference side);
   * ``ridge``: two floors, from numpy (its BLAS threads, float64 rows of
     the memory-mapped ``emb.npy`` loaded untimed, after an untimed warm-up
     product, the faster of two products each). The *Gram floor*: for each
     of the 5 training folds ``X.T @ X``; floor = 2 x their sum (raw and
     geom both have width d; composition's Gram is negligible). The *LOO
     floor*: the n*d^2 products exact leave-one-out cannot avoid, each
     fold's held-out ``X.T @ X`` (their sums give every training Gram: one
     pass over the rows) plus, per training fold, the rotation ``X @ V``
     into the eigenvectors of its Gram (the leverages need ``X V``; the
     eigendecomposition is d^3 and untimed); floor = 2 x their sum. The
     rotation is 2 n d^2 flops per training fold against the Gram's n d^2,
     so no exact leave-one-out gets below ~2.25 x the Gram floor. The ratios
     printed are cpd / floor (the issue's bar: <= 1.2 x the floor at
     130000 x 1024). With ``--ridge-check`` (default ``auto``: n <= 20000) a
     second, untimed subprocess also runs scikit-learn's ``RidgeCV`` (the
     scaling matching cpd's, ``scripts/reference.py``) for the delta R2.

ΔR2: per representation, cpd's ``report.json`` record (``probe == P``,
``target == y_nonlin``) ``r2_mean`` minus the reference's; the table shows
the one of largest magnitude, signed, and its representation. ΔR2_cond (gbt,
mlp): the ``r2_cond`` of cpd's ``geom`` record in ``report.json``'s
``results`` minus the reference's ``r2_cond``.

It prints the machine (CPU model, cores), the cpd binary and the repository's
commit, library and BLAS/OpenMP thread settings, ``OMP_WAIT_POLICY``, the
load average before each run, ONE table (n, d, probe, cpd s, reference s of the
three representations and with the conditional fits, both ratios, ΔR2 worst,
ΔR2_cond, both peak RSS) and, for every (probe, d, tool) with at
least two sizes, the exponent b of a least-squares fit time ∝ n^b (for gbt
and mlp the reference's fit uses the same-work time, ``ref s (+cond)``; the
"3 reps" time is fitted too, printed as ``TOOL (3 reps)``). ``--json
FILE`` also writes every row.

Sizes: ``--sizes 6000x256,20000x256`` runs every ``--probes`` probe at every
given size. Without ``--sizes`` the default set is the bar's: gbt at 6000,
20000, 50000, 130000 x 256; mlp at 6000, 20000, 50000 x 256; ridge at those
four n x 1024 and (cheap) x 256.

Usage (from the repository root)
--------------------------------
    cargo build --release
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench_scaling.py \
        [--data /tmp/cpd-bench-scaling] [--sizes 6000x256,20000x256] \
        [--probes gbt,mlp,ridge] [--cpd target/release/cpd] [--scale robust|standard] \
        [--ridge-check auto|always|never] [--gbt-rounds 300] [--json rows.json]

Run the full set on an otherwise idle machine. LightGBM and scikit-learn use
OpenMP, whose spinning idle threads made fits 10-70x slower when other
processes competed for the cores (``scripts/bench_gbt.py``);
``OMP_WAIT_POLICY=PASSIVE`` avoids that collapse on a busy machine but slows
small fits on an idle one: the policy in effect is printed. The data of the
default set takes about 1.4 GB on disk (130000 x 1024 float32 alone is
532 MB); the largest reference (MLP/LightGBM at 130000 rows) holds the layer
in float64 in memory.

Expected run time of the default set on 2 cores: most of it is LightGBM and
the scikit-learn MLP at the largest n; see the report of the run that
introduced this script (a 6000 x 256 run of all three probes takes about a
minute).

Exit status: 0 on success, 2 on bad arguments or a missing cpd binary or
``/usr/bin/time``, 1 when cpd or a reference fails.

Requirements: ``pip install -r scripts/requirements-ref.txt``; GNU time
(``/usr/bin/time``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_stream  # noqa: E402  (make: the seeded synthetic layer)
import reference as ref  # noqa: E402  (loading, folds, projection, ridge reference)

SCRIPT = Path(__file__).resolve()
REPO_ROOT = ref.REPO_ROOT
TIME = "/usr/bin/time"
FOLDS = 5
SEED = 0
TARGET = "y_nonlin"
PROBES = ("gbt", "mlp", "ridge")
REPS = ("composition", "raw", "geom")
NS = (6000, 20000, 50000, 130000)
# (probe, n, d) of the default set: the bar's sizes, plus ridge at d=256 (cheap).
DEFAULT_SET = (
    [("gbt", n, 256) for n in NS]
    + [("mlp", n, 256) for n in NS[:3]]
    + [("ridge", n, d) for d in (256, 1024) for n in NS]
)
# cpd flags matching reference_gbt's LightGBM settings (scripts/bench_gbt.py's,
# under their current names).
# (rounds added from --gbt-rounds, default 300).
CPD_GBT_FLAGS = ["--gbt-learning-rate", "0.1", "--gbt-max-leaves", "31",
                 "--gbt-min-leaf", "20", "--gbt-l2", "0", "--gbt-max-bins", "255"]
GBT_ROUNDS = 300
# The reference's scaling for each cpd --scale (ridge, mlp); gbt is unscaled.
REF_SCALE = {"robust": {"ridge": "global", "mlp": "global-clip"},
             "standard": {"ridge": "standard", "mlp": "standard"}}
RIDGE_CHECK_AUTO_N = 20000
# Each fold's Gram product is timed this many times and the fastest kept (a floor).
GRAM_REPEATS = 2
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS",
                   "MKL_NUM_THREADS", "RAYON_NUM_THREADS", "OPENBLAS_CORETYPE",
                   "OPENBLAS_L2_SIZE")


class Failure(Exception):
    """A subprocess (cpd or a reference) failed."""


# --------------------------------------------------------------------------- #
# Measuring one subprocess
# --------------------------------------------------------------------------- #


def timed_run(cmd: list[str], what: str) -> dict:
    """Run ``cmd`` under ``/usr/bin/time -v``: wall s, CPU s, peak RSS MB, load before."""
    load = os.getloadavg()[0]
    proc = subprocess.run([TIME, "-v", *cmd], capture_output=True, text=True)
    err = proc.stderr
    if proc.returncode != 0:
        raise Failure(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{err[-4000:]}")

    def field(name: str) -> str:
        m = re.search(re.escape(name) + r".*?: (\S+)\n", err)
        if m is None:
            raise Failure(f"{what}: no '{name}' in {TIME} -v output:\n{err[-2000:]}")
        return m[1]

    parts = [float(x) for x in field("Elapsed (wall clock) time").split(":")]
    wall = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    rss = int(field("Maximum resident set size (kbytes)")) * 1024 / 1e6
    return {"seconds": wall, "cpu_seconds": cpu, "rss_mb": rss, "load_before": load}


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #


def ensure_data(root: Path, n: int, d: int) -> Path:
    """``root/n{n}_d{d}`` holding bench_stream's layer of that shape (made if absent)."""
    dd = root / f"n{n}_d{d}"
    emb = dd / "emb.npy"
    if emb.is_file() and (dd / "compositions.csv").is_file() and (dd / "targets.csv").is_file():
        try:
            shape = np.load(emb, mmap_mode="r").shape
        except (ValueError, OSError):
            shape = None
        if shape == (n, d):
            print(f"data {dd}: reused", flush=True)
            return dd
    t0 = time.perf_counter()
    bench_stream.make(dd, n, d, 0)
    print(f"data {dd}: written in {time.perf_counter() - t0:.1f} s (not timed)", flush=True)
    return dd


# --------------------------------------------------------------------------- #
# cpd
# --------------------------------------------------------------------------- #


def cpd_command(cpd: Path, data: Path, probe: str, out: Path, scale: str,
                rounds: int = GBT_ROUNDS) -> list[str]:
    """The ``cpd analyze`` command line for one (size, probe)."""
    cmd = [str(cpd), "analyze", "--embeddings", f"m={data / 'emb.npy'}",
           "--compositions", str(data / "compositions.csv"),
           "--targets", str(data / "targets.csv"), "--target", TARGET,
           "--probes", probe, "--folds", str(FOLDS), "--seed", str(SEED),
           "--bootstrap", "0"]
    if probe == "gbt":
        cmd += ["--gbt-rounds", str(rounds)] + CPD_GBT_FLAGS
    if scale != "robust":
        cmd += ["--scale", scale]
    return cmd + ["--out", str(out), "-q"]


def cpd_r2(report: Path, probe: str) -> dict[str, float]:
    """cpd's r2_mean by representation for ``probe`` on the target."""
    with open(report) as fh:
        results = json.load(fh)["results"]
    out = {}
    for rec in results:
        if (rec.get("probe") == probe and rec.get("target") == TARGET
                and rec.get("channels") is None and rec.get("representation") in REPS
                and rec.get("r2_mean") is not None):
            out[rec["representation"]] = float(rec["r2_mean"])
    return out


def cpd_r2_cond(report: Path, probe: str) -> float | None:
    """cpd's r2_cond of the geom record of ``probe`` on the target (``results[].r2_cond``)."""
    with open(report) as fh:
        results = json.load(fh)["results"]
    for rec in results:
        if (rec.get("probe") == probe and rec.get("target") == TARGET
                and rec.get("channels") is None and rec.get("representation") == "geom"
                and rec.get("r2_cond") is not None):
            return float(rec["r2_cond"])
    return None


def worst_delta(cpd: dict[str, float], refr: dict[str, float]) -> tuple[float, str] | None:
    """(signed cpd - reference r2_mean of largest magnitude, its representation)."""
    d = [(cpd[r] - refr[r], r) for r in REPS if r in cpd and r in refr]
    return max(d, key=lambda v: abs(v[0])) if d else None


# --------------------------------------------------------------------------- #
# The reference (run as `bench_scaling.py _reference ...`)
# --------------------------------------------------------------------------- #


def reference_r2_cond(probe: str, ds, Q: np.ndarray, folds: np.ndarray, cpd_scale: str,
                      rounds: int) -> float:
    """The reference's r2_cond of the geom representation (gbt, mlp), as cpd computes it.

    ``scripts/reference_conditional.py``'s procedure with its functions: stage 1
    (``composition_stage``: ridge on composition, then ``probe`` fitted on
    composition to what ridge leaves) and stage 2 (a fresh ``probe`` fitted
    with ``prepare`` / ``fit_predict`` on ``G_T`` to ``y_T - base_T``).
    ``reference_conditional.geometry_stage`` is not called because it also
    refits the plain geom probe, which the three representations already
    timed; only stage 2 is run here. Its module settings are set to this
    script's: ``GBT_ROUNDS`` = ``rounds`` and ``PROBE_SCALE`` = the scalings
    matching cpd's ``--scale`` (``REF_SCALE``; gbt unscaled); MLP seed ``SEED``.
    """
    import reference_conditional as rc
    from sklearn.metrics import r2_score

    rc.GBT_ROUNDS = rounds
    rc.PROBE_SCALE = {"ridge": REF_SCALE[cpd_scale]["ridge"],
                      "mlp": REF_SCALE[cpd_scale]["mlp"], "gbt": None}
    Y = ds.targets
    base, r2_comp, _ = rc.composition_stage(probe, ds.compositions, Y, folds, SEED)
    G = ref.geometric_residual(ds.layers[0].matrix, Q)
    joint = []
    for f in range(int(folds.max()) + 1):
        test = folds == f
        train = ~test
        Gtr, Gte = rc.prepare(probe, G[train], G[test])
        base_tr, base_te = base[f][0]
        _, g_te, _ = rc.fit_predict(probe, Gtr, Y[train, 0] - base_tr, Gte, SEED)
        joint.append(r2_score(Y[test, 0], base_te + g_te))
    return float(np.mean(joint) - np.mean(r2_comp[0]))


def reference_main(argv: list[str]) -> int:
    """Subprocess entry: one probe's reference on cpd's folds, results to --json."""
    ap = argparse.ArgumentParser(prog=f"{SCRIPT.name} _reference")
    ap.add_argument("--probe", choices=("gbt", "mlp", "ridge-floor", "ridge-sklearn"), required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--folds", type=Path, required=True)
    ap.add_argument("--scale", default="standard")
    ap.add_argument("--rounds", type=int, default=GBT_ROUNDS)
    ap.add_argument("--cpd-scale", choices=tuple(REF_SCALE), default="robust",
                    help="cpd's --scale: the scalings of the conditional fits")
    ap.add_argument("--no-cond", dest="cond", action="store_false",
                    help="gbt, mlp: skip the conditional fits (r2_cond)")
    ap.add_argument("--json", type=Path, required=True)
    a = ap.parse_args(argv)
    data = a.data
    result: dict = {"probe": a.probe}
    t0 = time.perf_counter()
    if a.probe == "ridge-floor":
        ids = ref.read_id_csv(data / "compositions.csv").ids
        folds = ref.load_folds(a.folds, ids)
        emb = np.load(data / "emb.npy", mmap_mode="r")
        # Warm-up (BLAS threads, allocator) on a slice, untimed.
        W = np.asarray(emb[: min(len(ids), 4096)], dtype=np.float64)
        W.T @ W
        per_fold = []
        for f in range(int(folds.max()) + 1):
            X = np.asarray(emb[np.flatnonzero(folds != f)], dtype=np.float64)
            best = np.inf
            for _ in range(GRAM_REPEATS):
                t = time.perf_counter()
                G = X.T @ X
                best = min(best, time.perf_counter() - t)
                del G
            per_fold.append(best)
            del X
        # The products exact leave-one-out cannot avoid: every training fold's
        # Gram (from the held-out folds' Grams: one pass over the rows) and the
        # rotation of the training rows into its eigenvectors (the leverages
        # h_i = sum_j (X V)_ij^2 w_j(alpha) need X V).
        held, rotation, grams = [], [], []
        for f in range(int(folds.max()) + 1):
            Xh = np.asarray(emb[np.flatnonzero(folds == f)], dtype=np.float64)
            best = np.inf
            for _ in range(GRAM_REPEATS):
                t = time.perf_counter()
                H = Xh.T @ Xh
                best = min(best, time.perf_counter() - t)
            held.append(best)
            grams.append(H)
            del Xh
        total = sum(grams)
        for f in range(int(folds.max()) + 1):
            _, V = np.linalg.eigh(total - grams[f])
            X = np.asarray(emb[np.flatnonzero(folds != f)], dtype=np.float64)
            best = np.inf
            for _ in range(GRAM_REPEATS):
                t = time.perf_counter()
                A = X @ V
                best = min(best, time.perf_counter() - t)
                del A
            rotation.append(best)
            del X
        # raw and geom are both d wide: two of each product.
        result.update(floor_seconds=2.0 * sum(per_fold), gram_seconds=per_fold,
                      loo_floor_seconds=2.0 * (sum(held) + sum(rotation)),
                      held_gram_seconds=held, rotation_seconds=rotation)
    else:
        ds = ref.load_dataset(data / "compositions.csv", data / "targets.csv",
                              [("m", data / "emb.npy")], [TARGET])
        folds = ref.load_folds(a.folds, ds.ids)
        r2: dict[str, float] = {}
        if a.probe == "gbt":
            import reference_gbt as rg

            Q, _ = ref.composition_basis(ds.compositions)
            for _, _, rep, X in rg.representations(ds, Q):
                r2[rep] = rg.cross_validate(X, ds.targets, folds, "lightgbm", a.rounds)[0]["r2_mean"]
            result["versions"] = rg.library_versions()
            if a.cond:
                t = time.perf_counter()
                result["r2_cond"] = reference_r2_cond("gbt", ds, Q, folds, a.cpd_scale, a.rounds)
                result["cond_seconds"] = time.perf_counter() - t
        elif a.probe == "mlp":
            import reference_mlp as rmlp

            for rec in rmlp.run_reference(ds, folds, SEED, composition=True,
                                          log=lambda m: None, scale=a.scale):
                r2[rec["representation"]] = rec["r2_mean"]
            result["versions"] = ref.library_versions()
            if a.cond:
                t = time.perf_counter()
                Q, _ = ref.composition_basis(ds.compositions)
                result["r2_cond"] = reference_r2_cond("mlp", ds, Q, folds, a.cpd_scale, a.rounds)
                result["cond_seconds"] = time.perf_counter() - t
        else:  # ridge-sklearn: RidgeCV with cpd's scaling
            probe = {"standard": "ridgecv", "global": "ridgecv_global"}[a.scale]
            records, _ = ref.run_reference(ds, folds, (probe,), a.scale)
            for rec in records:
                r2[rec["representation"]] = rec["r2_mean"]
            result["versions"] = ref.library_versions()
        result["r2"] = r2
    result["inner_seconds"] = time.perf_counter() - t0
    with open(a.json, "w") as fh:
        json.dump(result, fh)
    return 0


def reference_command(probe: str, data: Path, folds: Path, scale: str, out: Path,
                      rounds: int = GBT_ROUNDS, cpd_scale: str = "robust") -> list[str]:
    """The ``_reference`` subprocess command line."""
    return [sys.executable, str(SCRIPT), "_reference", "--probe", probe, "--data", str(data),
            "--folds", str(folds), "--scale", scale, "--rounds", str(rounds),
            "--cpd-scale", cpd_scale, "--json", str(out)]


def run_reference(probe: str, data: Path, folds: Path, scale: str, work: Path,
                  rounds: int = GBT_ROUNDS, cpd_scale: str = "robust") -> tuple[dict, dict]:
    """Run one ``_reference`` subprocess; (its measurement, its JSON)."""
    out = work / f"reference_{probe}.json"
    out.unlink(missing_ok=True)
    m = timed_run(reference_command(probe, data, folds, scale, out, rounds, cpd_scale),
                  f"reference {probe}")
    with open(out) as fh:
        return m, json.load(fh)


# --------------------------------------------------------------------------- #
# One (n, d, probe)
# --------------------------------------------------------------------------- #


def bench_one(cpd: Path, data: Path, work: Path, n: int, d: int, probe: str, scale: str,
              ridge_check: str, rounds: int = GBT_ROUNDS) -> dict:
    """Time cpd and the reference on one size and probe; the table row."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / "cpd_out"
    cmd = cpd_command(cpd, data, probe, out, scale, rounds)
    label = f"[{n}x{d} {probe}]"
    print(f"{label} $ {' '.join(cmd)}", flush=True)
    c = timed_run(cmd, "cpd")
    print(f"{label} cpd: {c['seconds']:.2f} s, peak RSS {c['rss_mb']:.0f} MB "
          f"(load before {c['load_before']:.2f})", flush=True)
    mine = cpd_r2(out / "report.json", probe)
    if set(mine) != set(REPS):
        print(f"{label} warning: cpd's report.json has r2_mean for {sorted(mine)} only", flush=True)
    folds = out / "folds.csv"
    row = {"n": n, "d": d, "probe": probe, "scale": scale, "cpd": c, "cpd_r2": mine,
           "cpd_r2_cond": cpd_r2_cond(out / "report.json", probe)}
    if probe == "gbt":
        row["gbt_rounds"] = rounds
    if probe == "ridge":
        r, res = run_reference("ridge-floor", data, folds, scale, work)
        row.update(reference="gram / LOO floor", ref=r, ref_seconds=res["loo_floor_seconds"],
                   ref_seconds_3reps=res["floor_seconds"], cond_seconds=None,
                   gram_seconds=res["gram_seconds"], ratio=c["seconds"] / res["loo_floor_seconds"],
                   ratio_3reps=c["seconds"] / res["floor_seconds"], ratio_kind="cpd/floor")
        print(f"{label} Gram floor: {res['floor_seconds']:.3f} s (2 x Gram of the 5 training "
              f"folds: {', '.join(f'{g:.3f}' for g in res['gram_seconds'])} s); LOO floor: "
              f"{res['loo_floor_seconds']:.3f} s (2 x (held-out Grams "
              f"{sum(res['held_gram_seconds']):.3f} s + rotations "
              f"{', '.join(f'{g:.3f}' for g in res['rotation_seconds'])} s); "
              f"subprocess {r['seconds']:.2f} s, peak RSS {r['rss_mb']:.0f} MB, "
              f"load before {r['load_before']:.2f})", flush=True)
        if ridge_check == "always" or (ridge_check == "auto" and n <= RIDGE_CHECK_AUTO_N):
            rc, rres = run_reference("ridge-sklearn", data, folds, REF_SCALE[scale]["ridge"], work)
            row.update(ref_r2=rres["r2"], ref_versions=rres["versions"], ridge_check=rc)
            print(f"{label} scikit-learn RidgeCV check (not timed in the table): "
                  f"{rc['seconds']:.2f} s", flush=True)
    else:
        rscale = REF_SCALE[scale]["mlp"] if probe == "mlp" else "none"
        r, res = run_reference(probe, data, folds, rscale, work, rounds, scale)
        # The subprocess's wall clock covers the three representations and the
        # conditional fits (same work as cpd); "3 reps" leaves the latter out.
        cond_s = res["cond_seconds"]
        ref3 = r["seconds"] - cond_s
        row.update(reference="lightgbm" if probe == "gbt" else "sklearn MLP", ref=r,
                   ref_seconds=r["seconds"], ref_seconds_3reps=ref3, cond_seconds=cond_s,
                   ref_r2=res["r2"], ref_r2_cond=res["r2_cond"], ref_versions=res["versions"],
                   ratio=r["seconds"] / c["seconds"], ratio_3reps=ref3 / c["seconds"],
                   ratio_kind="ref/cpd")
        print(f"{label} {row['reference']}: {r['seconds']:.2f} s with the conditional fits "
              f"({cond_s:.2f} s of it; three representations {ref3:.2f} s), peak RSS "
              f"{r['rss_mb']:.0f} MB (load before {r['load_before']:.2f})", flush=True)
    if "ref_r2" in row:
        w = worst_delta(mine, row["ref_r2"])
        row["delta_r2"] = None if w is None else {"delta": w[0], "representation": w[1]}
    else:
        row["delta_r2"] = None
    if row.get("ref_r2_cond") is not None and row["cpd_r2_cond"] is not None:
        row["delta_r2_cond"] = row["cpd_r2_cond"] - row["ref_r2_cond"]
    else:
        row["delta_r2_cond"] = None
    return row


# --------------------------------------------------------------------------- #
# Reporting
# --------------------------------------------------------------------------- #


def git_commit() -> str:
    """The repository's short HEAD commit (with -dirty if src/ or Cargo files changed)."""
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--",
                                "src", "Cargo.toml", "Cargo.lock"],
                               capture_output=True, text=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def environment(cpd: Path) -> dict:
    """Machine, commit, versions and thread settings."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        import lightgbm

        versions = dict(ref.library_versions(), lightgbm=lightgbm.__version__)
    except ImportError:
        versions = ref.library_versions()
    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p['internal_api']} {p.get('version')} threads={p['num_threads']} "
                 f"({Path(p.get('filepath', '?')).name})" for p in threadpool_info()]
    except ImportError:
        pools = ["threadpoolctl not installed"]
    return {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
        "cpd": str(cpd), "commit": git_commit(), "versions": versions, "thread_pools": pools,
        "env": {k: os.environ[k] for k in THREAD_ENV_VARS if k in os.environ},
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def print_environment(env: dict) -> None:
    """The header lines."""
    print(f"machine: {env['cpu']}, {env['cores']} cores; python {env['python']}")
    print(f"cpd: {env['cpd']} (repository commit {env['commit']})")
    print(f"versions: {env['versions']}")
    print(f"thread pools (this process): {'; '.join(env['thread_pools'])}")
    print(f"thread env vars: {env['env'] or 'none set'}; OMP_WAIT_POLICY="
          f"{env['omp_wait_policy'] or 'unset (OpenMP default)'}; lightgbm n_jobs=2; "
          f"cpd: RAYON_NUM_THREADS or all cores")
    load = os.getloadavg()[0]
    if env["cores"] and load > 0.5 * env["cores"]:
        print(f"WARNING: load average {load:.2f} on {env['cores']} cores: timings will be noisy")


def fmt_row(r: dict) -> list[str]:
    """The table cells of one row."""
    fmt_d = lambda v: f"{v:+.4f}" if abs(v) >= 5e-5 or v == 0 else f"{v:+.0e}"  # noqa: E731
    if r["ratio_kind"] == "cpd/floor":
        ratio3 = f"{r['ratio_3reps']:.2f} cpd/Gram floor"
        ratio = f"{r['ratio']:.2f} cpd/LOO floor"
        ref_cond = f"{r['ref_seconds']:.2f}"
    else:
        ratio3 = f"{r['ratio_3reps']:.2f}x ref/cpd"
        ratio = f"{r['ratio']:.2f}x ref/cpd"
        ref_cond = f"{r['ref_seconds']:.2f}"
    dr = r["delta_r2"]
    delta = "-" if dr is None else f"{fmt_d(dr['delta'])} {dr['representation']}"
    dc = r.get("delta_r2_cond")
    delta_cond = "-" if dc is None else fmt_d(dc)
    return [str(r["n"]), str(r["d"]), r["probe"], f"{r['cpd']['seconds']:.2f}",
            f"{r['ref_seconds_3reps']:.2f}", ref_cond, r["reference"], ratio3, ratio, delta,
            delta_cond, f"{r['cpd']['rss_mb']:.0f}", f"{r['ref']['rss_mb']:.0f}",
            f"{r['cpd']['load_before']:.2f}/{r['ref']['load_before']:.2f}"]


def print_table(rows: list[dict]) -> None:
    """The one table."""
    header = ["n", "d", "probe", "cpd s", "ref s (3 reps)", "ref s (+cond)", "reference",
              "ratio 3 reps", "ratio same work", "ΔR² worst", "ΔR²_cond", "cpd RSS MB",
              "ref RSS MB", "load cpd/ref"]
    body = [fmt_row(r) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) if i < 2 or i in (3, 4, 5, 10, 11, 12) else c.ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    print()
    print(line(header))
    print(line(["-" * w for w in widths]))
    for b in body:
        print(line(b))
    print("cpd s: wall clock end to end (process start to exit) under /usr/bin/time -v; cpd "
          "always computes r2_cond. ref s (+cond): the reference subprocess's wall clock end to "
          "end, the three representations (composition, raw, geom) plus the conditional fits "
          "(stage 1 on composition, stage 2 on geom: the same work as cpd); ref s (3 reps): that "
          "minus the conditional fits' time (comparable with older figures). ridge's reference: "
          "in the 3-reps column the Gram floor (2 x sum over the 5 training folds of X.T @ X, "
          "float64), in the +cond column the LOO floor (2 x (the held-out folds' X.T @ X + each "
          "training fold's rotation X @ V)); its RSS is that of the floor subprocess. ratio same "
          "work: ref s (+cond) / cpd s, ratio 3 reps: ref s (3 reps) / cpd s (> 1: cpd faster); "
          "for ridge cpd/Gram floor and cpd/LOO floor (< 1: cpd faster). ΔR² worst: r2_mean(cpd) - r2_mean(reference) of largest magnitude over "
          "composition/raw/geom (ridge: vs scikit-learn RidgeCV, when checked). ΔR²_cond: "
          "r2_cond(cpd, geom record) - r2_cond(reference). load: 1-minute load average before "
          "each run. RSS of the reference: its subprocess, conditional fits included.")


def fit_exponents(rows: list[dict]) -> list[tuple[str, int, str, float, int]]:
    """(probe, d, tool, b, sizes) of time ∝ n^b for every group with >= 2 sizes."""
    groups: dict[tuple[str, int, str], dict[int, float]] = {}
    for r in rows:
        groups.setdefault((r["probe"], r["d"], "cpd"), {})[r["n"]] = r["cpd"]["seconds"]
        # The same-work reference time (3 reps + conditional fits; ridge: the floor).
        groups.setdefault((r["probe"], r["d"], r["reference"]), {})[r["n"]] = r["ref_seconds"]
        if r.get("cond_seconds") is not None:
            groups.setdefault((r["probe"], r["d"], r["reference"] + " (3 reps)"),
                              {})[r["n"]] = r["ref_seconds_3reps"]
    out = []
    for (probe, d, tool), pts in groups.items():
        if len(pts) >= 2:
            ns = np.array(sorted(pts), dtype=float)
            ts = np.array([pts[int(n)] for n in ns])
            b = float(np.polyfit(np.log(ns), np.log(ts), 1)[0])
            out.append((probe, d, tool, b, len(pts)))
    return out


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``6000x256,20000x256`` -> ``[(6000, 256), (20000, 256)]``."""
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            n, d = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected NxD[,NxD...], got {part!r}") from None
        if n < 2 * FOLDS or d < 1:
            raise argparse.ArgumentTypeError(f"size too small: {part!r}")
        out.append((n, d))
    if not out:
        raise argparse.ArgumentTypeError("no sizes given")
    return out


def parse_probes(text: str) -> list[str]:
    """``gbt,ridge`` -> ``["gbt", "ridge"]``."""
    probes = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in probes if p not in PROBES]
    if bad or not probes:
        raise argparse.ArgumentTypeError(f"probes must be among {','.join(PROBES)}, got {text!r}")
    return probes


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    ap = argparse.ArgumentParser(
        description="Time cpd's probes against the reference tools over n and d; print one table.",
        epilog="Default set (no --sizes): gbt 6000..130000x256, mlp 6000..50000x256, "
               "ridge 6000..130000 x 256 and x 1024.",
    )
    ap.add_argument("--cpd", type=Path, default=REPO_ROOT / "target" / "release" / "cpd",
                    help="cpd binary (default: target/release/cpd in the repository)")
    ap.add_argument("--data", type=Path, default=Path("/tmp/cpd-bench-scaling"),
                    help="cache of the synthetic layers, one n{N}_d{D} directory each, reused "
                         "when the shape matches; cpd's outputs go to DATA/runs (default: "
                         "/tmp/cpd-bench-scaling; keep it outside the repository)")
    ap.add_argument("--sizes", type=parse_sizes, metavar="NxD,...",
                    help="run every --probes probe at these sizes (default: the bar's set)")
    ap.add_argument("--probes", type=parse_probes, default=list(PROBES), metavar="LIST",
                    help="comma-separated subset of gbt,mlp,ridge (default: all)")
    ap.add_argument("--target", default=TARGET, help=f"only {TARGET} is supported (default)")
    ap.add_argument("--scale", choices=("robust", "standard"), default="robust",
                    help="cpd's --scale for ridge and mlp (robust: cpd's default, against the "
                         "references' global / global-clip scaling; standard: StandardScaler on "
                         "both sides); default: robust")
    ap.add_argument("--ridge-check", choices=("auto", "always", "never"), default="auto",
                    help=f"also run scikit-learn RidgeCV for ridge's ΔR² (untimed; auto: n <= "
                         f"{RIDGE_CHECK_AUTO_N})")
    ap.add_argument("--gbt-rounds", type=int, default=GBT_ROUNDS, metavar="N",
                    help=f"boosting rounds of cpd and LightGBM (default {GBT_ROUNDS}, the bar's; "
                         "fewer only for a quick check)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write every row here")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_reference"]:
        return reference_main(argv[1:])
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.gbt_rounds < 1:
        ap.error("--gbt-rounds must be >= 1")
    if args.target != TARGET:
        ap.error(f"--target: only {TARGET} is supported")
    cpd = args.cpd.resolve()
    if not (cpd.is_file() and os.access(cpd, os.X_OK)):
        print(f"error: cpd binary not found at {args.cpd} (cargo build --release, or --cpd PATH)",
              file=sys.stderr)
        return 2
    if not os.access(TIME, os.X_OK):
        print(f"error: {TIME} (GNU time) not found", file=sys.stderr)
        return 2
    data_root = args.data.resolve()
    if data_root == REPO_ROOT or REPO_ROOT in data_root.parents:
        print(f"error: --data {args.data} is inside the repository", file=sys.stderr)
        return 2
    if args.sizes:
        plan = [(p, n, d) for (n, d) in args.sizes for p in args.probes]
    else:
        plan = [t for t in DEFAULT_SET if t[0] in args.probes]
    plan.sort(key=lambda t: (t[1] * t[2], t[1], PROBES.index(t[0])))

    env = environment(cpd)
    print_environment(env)
    print(f"plan: {', '.join(f'{p} {n}x{d}' for p, n, d in plan)}; target {TARGET}, "
          f"{FOLDS} folds, seed {SEED}, cpd --scale {args.scale}, --bootstrap 0, "
          f"gbt rounds {args.gbt_rounds}", flush=True)
    rows = []
    t_all = time.perf_counter()
    try:
        for probe, n, d in plan:
            data = ensure_data(data_root, n, d)
            work = data_root / "runs" / f"n{n}_d{d}_{probe}"
            t0 = time.perf_counter()
            rows.append(bench_one(cpd, data, work, n, d, probe, args.scale, args.ridge_check,
                                  args.gbt_rounds))
            print(f"[{n}x{d} {probe}] done in {time.perf_counter() - t0:.1f} s", flush=True)
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        if rows:
            print_table(rows)
        return 1
    print_table(rows)
    exps = fit_exponents(rows)
    if exps:
        print("\ntime ∝ n^b (least squares on log t vs log n):")
        for probe, d, tool, b, k in exps:
            print(f"  {probe:<5} d={d:<5} {tool:<22} b = {b:.2f}  ({k} sizes)")
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "rows": rows,
                       "exponents": [dict(zip(("probe", "d", "tool", "b", "sizes"), e))
                                     for e in exps]}, fh, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
