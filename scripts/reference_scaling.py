#!/usr/bin/env python3
"""Evidence for cpd's default feature scaling of its ridge and MLP probes.

Purpose
-------
cpd standardises every feature column on the training fold before a probe is
fit (``StandardScaler``). On the geometric residual ``H_geom`` of some layers
(the ANI-2x AEV above all) this blows up columns whose variance is almost all
composition: after the projection they are near-constant, standardising
makes them unit-variance noise, and a held-out fold with a few rows outside
the training range gets wild predictions (one fold with R² far below 0).
This script recomputes, with numpy/scikit-learn on cpd's own folds, every
(layer, target, representation) under several candidate scalings, so that
cpd's default can be chosen on evidence, and writes the numbers
(``results.json``) and the tables (``summary.md``) the choice is argued from.

Method
------
Data, folds and representations are ``scripts/reference.py``'s (imported):
``raw`` = ``H`` as float64, ``geom`` = ``H - Q (Q^T H)`` with ``Q`` the
pivoted-QR basis of ``[1 | C]`` (composition-explained columns zeroed). The
folds are cpd's seed-0 5-fold split stored in
``tests/fixtures/sklearn_ridge.json["folds"]`` (or any ``id,fold`` CSV).

Besides the bundled layers (``data/embeddings/*.npz``) a SOAP layer is built
with dscribe, ``SOAP(species=["H","C","N","O","F"], r_cut=5.0, n_max=4,
l_max=4, periodic=False, average="inner")`` over ``data/structures.xyz``
(rows joined to the compositions by the frames' ``id``), cast to float32 and
saved as ``OUT/soap.npz`` (uncompressed ``np.savez``: int64 ``ids`` and the
layer ``soap``), which ``cpd --embeddings soap=OUT/soap.npz`` reads; the
analysis reads it back from that file like any other layer (model ``soap``,
layer ``soap``). An existing ``OUT/soap.npz`` is reused.

Scalings, every statistic fit on the training fold only (ddof 0):

* ``standard``: ``StandardScaler``.
* ``clip``: ``standard``, then every held-out row clipped column by column to
  the [min, max] of the standardised training rows.
* ``global``: every column centred on its training mean and divided by one
  scalar ``s = sqrt(sum(var) / d')``, the root mean variance of the ``d'``
  columns that are not constant (``scripts/reference.py``'s
  ``global_scale``, cpd's rule; ``s = 1`` if every column is constant).
* ``global-clip``: ``global``, then the same per-column clip (in the same
  units).
* ``floor``: per-column std floored at ``0.1 s``: ``scale_j = max(std_j,
  0.1 s)`` (``s`` as for ``global``).
* ``floor-clip``: ``floor``, then the clip.
* ``loo`` (ridge only): per training fold and target, ``RidgeCV`` is fit
  under ``standard`` and under ``global`` and the one with the higher
  ``best_score_`` (negative mean squared leave-one-out error, target units)
  predicts; ``loo-clip``: the same choice, then the clip.

The model is always fit on the unclipped training rows (clipping them would
change nothing); only the held-out rows are clipped.

Probes:

* ``ridge``: ``RidgeCV(alphas=np.logspace(-3, 3, 13))`` (scikit-learn's
  default efficient leave-one-out / GCV mode), every target. The six targets
  of one (layer, representation, fold, scaling) are fit in one call with
  ``alpha_per_target=True``: each target gets its own alpha, LOO score,
  coefficients and intercept, exactly as six one-target fits (the same
  arithmetic on a shared SVD; checked to agree to 1e-13 in R² and alpha), at a sixth of
  the cost.
* ``mlp``: ``MLPRegressor(hidden_layer_sizes=(128,), alpha=1e-4,
  early_stopping=True, random_state=0, max_iter=200)`` (the remaining
  settings are scikit-learn's defaults, which are cpd's, see
  ``scripts/reference_mlp.py``), target standardised on the training fold
  (population std, 0 -> 1) and predictions un-standardised; by default only
  for ``gap_ev`` and ``dipole_debye`` (cost), every layer, both
  representations, scalings 1-6.

Per (layer, target, representation, probe, scale): per-fold ``r2_score``,
their mean and std, the worst fold, pooled out-of-fold R², and for ridge the
alpha chosen in every fold (and for ``loo``/``loo-clip`` the scaling chosen),
for the MLP the epochs run in every fold.
``summary.md`` has, per probe, one row per (layer, target, representation)
with "mean / worst fold" under every candidate, then one row per candidate:
how many records have a worst fold < 0, how many a worst fold < mean - 0.3,
how many either, how many an *avoidable* worst fold < 0 (some other
candidate's worst fold on that record is >= 0.1), the mean over records of
the mean R², and the mean and largest shortfall of its mean R² from the best
candidate's on the same record.

The ridge part runs first; its results and tables are written (and
``OUT/ridge_done`` touched) before the MLP part starts, after which both
files are rewritten with every probe.

Usage (from the repository root)
--------------------------------
    python scripts/reference_scaling.py --out /tmp/scaling \
        [--folds tests/fixtures/sklearn_ridge.json | FOLDS.csv] \
        [--layer MODEL/LAYER ...] [--target T ...] [--mlp-target T ...] \
        [--representation raw|geom ...] [--probe ridge|mlp ...] \
        [--scale NAME ...] [--no-soap] [--threads 1]

Without ``--layer`` every layer of every ``data/embeddings/*.npz`` plus
``soap/soap`` is used; without ``--target`` every target (ridge);
``--mlp-target`` defaults to ``gap_ev`` and ``dipole_debye``. ``--scale``
restricts the candidates (``loo``/``loo-clip`` need no others).
``--threads`` caps the BLAS threads (threadpoolctl); the run is otherwise
single-process. The whole default run (SOAP 1 s, ridge 162 s, MLP 467 s;
``results.json["seconds"]``) took 632 s, 10 min 35 s of wall time under
``/usr/bin/time`` with one BLAS thread, on a 2-core machine shared with
another job (peak RSS 370 MB).

Requirements: ``pip install -r scripts/requirements-ref.txt`` plus
``dscribe`` and ``ase`` for the SOAP layer (2.1.2 and 3.29.0 here).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference  # noqa: E402  (scripts/reference.py: loading and projection)

GENERATOR = "scripts/reference_scaling.py"
ALPHAS = reference.ALPHAS
SPECIES = ["H", "C", "N", "O", "F"]
SOAP_SETTINGS = {"species": SPECIES, "r_cut": 5.0, "n_max": 4, "l_max": 4,
                 "periodic": False, "average": "inner"}
FLOOR = 0.1
# Base scalings (one fit each) and the candidates derived from them.
BASES = ("standard", "global", "floor")
CANDIDATES = {
    "ridge": ("standard", "clip", "global", "global-clip", "floor", "floor-clip",
              "loo", "loo-clip"),
    "mlp": ("standard", "clip", "global", "global-clip", "floor", "floor-clip"),
}
# candidate -> (base scaling, clipped?)
DERIVED = {
    "standard": ("standard", False), "clip": ("standard", True),
    "global": ("global", False), "global-clip": ("global", True),
    "floor": ("floor", False), "floor-clip": ("floor", True),
}
LOO_CHOICES = ("standard", "global")
MLP_TARGETS = ("gap_ev", "dipole_debye")
REPRESENTATIONS = ("raw", "geom")


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #


def load_folds(path: Path, ids: list[str]) -> np.ndarray:
    """Fold of every row of ``ids``: from an ``id,fold`` CSV or a fixture JSON."""
    if path.suffix != ".json":
        return reference.load_folds(path, ids)
    with open(path) as fh:
        folds = json.load(fh)["folds"]
    index = {reference._id_key(i): int(f) for i, f in zip(folds["ids"], folds["fold"])}
    wanted = [reference._id_key(i) for i in ids]
    missing = [i for i in wanted if i not in index]
    if missing or len(index) != len(ids):
        raise ValueError(f"{path}: fold ids do not match the compositions "
                         f"({len(index)} vs {len(ids)}; first missing {missing[:3]})")
    return np.array([index[i] for i in wanted], dtype=np.int64)


def make_soap(xyz: Path, ids: list[str], out: Path) -> dict:
    """Compute the SOAP layer over ``xyz`` in ``ids`` order and save it to ``out``."""
    import ase.io
    from dscribe.descriptors import SOAP

    frames = ase.io.read(xyz, index=":")
    by_id = {reference._id_key(a.info["id"]): a for a in frames}
    wanted = [reference._id_key(i) for i in ids]
    missing = [i for i in wanted if i not in by_id]
    if missing or len(by_id) != len(ids):
        raise ValueError(f"{xyz}: frame ids do not match the compositions "
                         f"({len(by_id)} vs {len(ids)}; first missing {missing[:3]})")
    soap = SOAP(**SOAP_SETTINGS)
    t0 = time.perf_counter()
    X = soap.create([by_id[i] for i in wanted], n_jobs=1)
    seconds = time.perf_counter() - t0
    X = np.asarray(X, dtype=np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, ids=np.array([int(i) for i in wanted], dtype=np.int64), soap=X)
    return {"path": str(out), "shape": list(X.shape), "seconds": seconds}


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


# --------------------------------------------------------------------------- #
# Scaling
# --------------------------------------------------------------------------- #


def scale_fold(Xtr: np.ndarray, Xte: np.ndarray, base: str):
    """Scaled training rows, scaled held-out rows and the clipped held-out rows."""
    if base == "standard":
        sc = StandardScaler().fit(Xtr)
        Str, Ste = sc.transform(Xtr), sc.transform(Xte)
    else:
        sc = StandardScaler().fit(Xtr)
        mu, var = sc.mean_, sc.var_
        s = reference.global_scale(var, mu, Xtr.shape[0])
        if base == "global":
            scale = np.full(Xtr.shape[1], s)
        elif base == "floor":
            scale = np.maximum(np.sqrt(var), FLOOR * s)
        else:
            raise ValueError(base)
        Str, Ste = (Xtr - mu) / scale, (Xte - mu) / scale
    Ste_clip = np.clip(Ste, Str.min(axis=0), Str.max(axis=0))
    return Str, Ste, Ste_clip


def bases_needed(probe: str, scales: tuple[str, ...]) -> tuple[str, ...]:
    """The base scalings whose fits the candidates ``scales`` of ``probe`` need."""
    need = set()
    for c in scales:
        if c in DERIVED:
            need.add(DERIVED[c][0])
        elif c.startswith("loo"):
            need.update(LOO_CHOICES)
    return tuple(b for b in BASES if b in need)


# --------------------------------------------------------------------------- #
# Probes
# --------------------------------------------------------------------------- #


def ridge_fold(Str, Ste, Ste_clip, Ytr):
    """One multi-target RidgeCV (alpha per target): predictions, alphas, LOO scores."""
    m = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(Str, Ytr)
    pred = np.asarray(m.predict(np.vstack([Ste, Ste_clip]))).reshape(-1, Ytr.shape[1])
    n = Ste.shape[0]
    alphas = np.atleast_1d(np.asarray(m.alpha_, dtype=float))
    scores = np.atleast_1d(np.asarray(m.best_score_, dtype=float))
    if alphas.size == 1:
        alphas = np.full(Ytr.shape[1], alphas[0])
    return pred[:n], pred[n:], alphas, scores


def make_mlp() -> MLPRegressor:
    """The MLP probe (scikit-learn defaults otherwise, which are cpd's)."""
    return MLPRegressor(hidden_layer_sizes=(128,), alpha=1e-4, early_stopping=True,
                        random_state=0, max_iter=200)


def mlp_fold(Str, Ste, Ste_clip, ytr):
    """One network on the standardised target; un-standardised predictions and epochs."""
    mu, sd = float(ytr.mean()), float(ytr.std())
    if sd == 0.0:
        sd = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = make_mlp().fit(Str, (ytr - mu) / sd)
    pred = m.predict(np.vstack([Ste, Ste_clip])) * sd + mu
    n = Ste.shape[0]
    return pred[:n], pred[n:], int(m.n_iter_)


def cross_validate(probe: str, X: np.ndarray, Y: np.ndarray, folds: np.ndarray,
                   scales: tuple[str, ...]) -> dict[str, list[dict]]:
    """Every candidate of ``scales`` for one representation: {scale: [per target]}."""
    n, t = Y.shape
    k = int(folds.max()) + 1
    oof = {c: np.zeros((n, t)) for c in scales}
    r2 = {c: np.zeros((t, k)) for c in scales}
    alphas = {c: np.zeros((t, k)) for c in scales}
    chosen = {c: [[None] * k for _ in range(t)] for c in scales}
    epochs = {c: np.zeros((t, k), dtype=int) for c in scales}
    bases = bases_needed(probe, scales)
    for f in range(k):
        test = folds == f
        train = ~test
        fits = {}
        for b in bases:
            Str, Ste, Ste_clip = scale_fold(X[train], X[test], b)
            if probe == "ridge":
                p, pc, a, s = ridge_fold(Str, Ste, Ste_clip, Y[train])
                fits[b] = {"pred": p, "pred_clip": pc, "alpha": a, "score": s}
            else:
                cols = [mlp_fold(Str, Ste, Ste_clip, Y[train, j]) for j in range(t)]
                fits[b] = {"pred": np.column_stack([c[0] for c in cols]),
                           "pred_clip": np.column_stack([c[1] for c in cols]),
                           "epochs": np.array([c[2] for c in cols])}
        for c in scales:
            for j in range(t):
                if c in DERIVED:
                    b, clip = DERIVED[c]
                else:  # loo / loo-clip: the base with the higher LOO score
                    clip = c.endswith("-clip")
                    b = max(LOO_CHOICES, key=lambda s: fits[s]["score"][j])
                    chosen[c][j][f] = b
                pred = fits[b]["pred_clip" if clip else "pred"][:, j]
                oof[c][test, j] = pred
                r2[c][j, f] = r2_score(Y[test, j], pred)
                if probe == "ridge":
                    alphas[c][j, f] = fits[b]["alpha"][j]
                else:
                    epochs[c][j, f] = fits[b]["epochs"][j]
    out: dict[str, list[dict]] = {}
    for c in scales:
        out[c] = []
        for j in range(t):
            rec = {
                "r2_folds": [float(v) for v in r2[c][j]],
                "r2_mean": float(np.mean(r2[c][j])),
                "r2_std": float(np.std(r2[c][j])),
                "r2_worst": float(np.min(r2[c][j])),
                "r2_pooled": float(r2_score(Y[:, j], oof[c][:, j])),
            }
            if probe == "ridge":
                rec["alphas"] = [float(v) for v in alphas[c][j]]
            else:
                rec["epochs"] = [int(v) for v in epochs[c][j]]
            if c.startswith("loo"):
                rec["chosen"] = chosen[c][j]
            out[c].append(rec)
    return out


def run_probe(probe: str, ds, Q: np.ndarray, folds: np.ndarray, target_names: list[str],
              representations: tuple[str, ...], scales: tuple[str, ...], log) -> list[dict]:
    """Records of one probe over every layer, representation and target."""
    cols = [ds.target_names.index(t) for t in target_names]
    Y = ds.targets[:, cols]
    records = []
    for lay in ds.layers:
        for rep in representations:
            t0 = time.perf_counter()
            if rep == "raw":
                X = np.asarray(lay.matrix, dtype=np.float64)
            else:  # the stored dtype picks the zeroing tolerance
                X = reference.geometric_residual(lay.matrix, Q)
            scores = cross_validate(probe, X, Y, folds, scales)
            for j, target in enumerate(target_names):
                for c in scales:
                    rec = {"model": lay.model, "layer": lay.layer, "target": target,
                           "representation": rep, "probe": probe, "scale": c}
                    rec.update(scores[c][j])
                    records.append(rec)
            log(f"{probe} {lay.model}/{lay.layer} {rep} (d={X.shape[1]}): "
                f"{time.perf_counter() - t0:.1f} s")
    return records


# --------------------------------------------------------------------------- #
# Summary
# --------------------------------------------------------------------------- #


def group_records(records: list[dict], probe: str):
    """{(model/layer, target, representation): {scale: record}} in run order."""
    rows: dict[tuple, dict] = {}
    for r in records:
        if r["probe"] != probe:
            continue
        key = (f"{r['model']}/{r['layer']}", r["target"], r["representation"])
        rows.setdefault(key, {})[r["scale"]] = r
    return rows


def aggregate(rows: dict, scales: list[str]) -> list[dict]:
    """Per-candidate aggregates over the records (rows) of one probe."""
    out = []
    for c in scales:
        worst_neg = worst_drop = either = avoidable = 0
        means, shortfall = [], []
        for cells in rows.values():
            r = cells[c]
            neg = r["r2_worst"] < 0
            drop = r["r2_worst"] < r["r2_mean"] - 0.3
            worst_neg += neg
            worst_drop += drop
            either += neg or drop
            others = [cells[o]["r2_worst"] for o in scales if o != c]
            avoidable += neg and bool(others) and max(others) >= 0.1
            means.append(r["r2_mean"])
            shortfall.append(max(cells[o]["r2_mean"] for o in scales) - r["r2_mean"])
        out.append({"scale": c, "records": len(rows), "worst_lt_0": worst_neg,
                    "worst_lt_mean_minus_0.3": worst_drop, "either": either,
                    "avoidable_worst_lt_0": avoidable,
                    "mean_r2_mean": float(np.mean(means)),
                    "mean_shortfall_from_best": float(np.mean(shortfall)),
                    "max_shortfall_from_best": float(np.max(shortfall))})
    return out


def summary_markdown(records: list[dict], probes: list[str], meta: dict) -> tuple[str, dict]:
    """The summary tables (markdown) and the aggregates (for results.json)."""
    lines = ["# Feature scaling for cpd's probes: candidates compared", "",
             f"Generated by `{GENERATOR}`; {meta['n']} structures, {meta['k']} folds "
             f"({meta['folds']}); versions {meta['versions']}.", "",
             "Cells: mean R² over folds / worst fold. Aggregates: *worst<0* and "
             "*worst<mean−0.3* count records, *either* those with one or both, "
             "*avoidable* those with worst fold < 0 where another candidate's worst "
             "fold is ≥ 0.1; *shortfall* is the best candidate's mean R² on the record "
             "minus this one's.", ""]
    aggs = {}
    for probe in probes:
        rows = group_records(records, probe)
        if not rows:
            continue
        scales = [c for c in CANDIDATES[probe] if c in next(iter(rows.values()))]
        lines += [f"## {probe}", "", "| layer | target | repr | " + " | ".join(scales) + " |",
                  "|---|---|---|" + "---:|" * len(scales)]
        for (layer, target, rep), cells in rows.items():
            best = max(cells[c]["r2_mean"] for c in scales)
            vals = []
            for c in scales:
                r = cells[c]
                cell = f"{r['r2_mean']:.3f} / {r['r2_worst']:.3f}"
                vals.append(f"**{cell}**" if r["r2_mean"] == best else cell)
            lines.append(f"| {layer} | {target} | {rep} | " + " | ".join(vals) + " |")
        agg = aggregate(rows, scales)
        aggs[probe] = agg
        lines += ["", f"### {probe}: per candidate ({len(rows)} records)", "",
                  "| scale | worst<0 | worst<mean−0.3 | either | avoidable | mean of mean R² "
                  "| mean shortfall | max shortfall |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for a in agg:
            lines.append(f"| {a['scale']} | {a['worst_lt_0']} | {a['worst_lt_mean_minus_0.3']} "
                         f"| {a['either']} | {a['avoidable_worst_lt_0']} "
                         f"| {a['mean_r2_mean']:.4f} | {a['mean_shortfall_from_best']:.4f} "
                         f"| {a['max_shortfall_from_best']:.4f} |")
        lines.append("")
    return "\n".join(lines) + "\n", aggs


def write_outputs(out: Path, meta: dict, records: list[dict], probes: list[str]) -> None:
    """Write results.json and summary.md (called after every probe)."""
    text, aggs = summary_markdown(records, probes, meta)
    with open(out / "results.json", "w") as fh:
        json.dump(dict(meta, aggregates=aggs, records=records), fh, indent=1, allow_nan=False)
        fh.write("\n")
    (out / "summary.md").write_text(text)


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    dp = reference.default_path
    ap = argparse.ArgumentParser(description="Compare feature scalings for cpd's ridge and MLP probes.")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--folds", type=Path, default=dp("tests/fixtures/sklearn_ridge.json"),
                    help="id,fold CSV or a fixture JSON with a 'folds' object "
                         "(default: tests/fixtures/sklearn_ridge.json)")
    ap.add_argument("--compositions", type=Path, default=dp("data/compositions.csv"))
    ap.add_argument("--targets", type=Path, default=dp("data/targets.csv"))
    ap.add_argument("--structures", type=Path, default=dp("data/structures.xyz"))
    ap.add_argument("--embeddings", action="append", metavar="NAME=PATH",
                    help="embedding file; repeatable; default: data/embeddings/*.npz")
    ap.add_argument("--no-soap", action="store_true", help="skip the SOAP layer")
    ap.add_argument("--layer", action="append", metavar="MODEL/LAYER",
                    help="only these layers (soap/soap for SOAP); repeatable")
    ap.add_argument("--target", action="append", help="ridge target; repeatable; default: all")
    ap.add_argument("--mlp-target", action="append",
                    help=f"MLP target; repeatable; default: {' '.join(MLP_TARGETS)}")
    ap.add_argument("--representation", action="append", choices=REPRESENTATIONS)
    ap.add_argument("--probe", action="append", choices=("ridge", "mlp"))
    ap.add_argument("--scale", action="append", choices=CANDIDATES["ridge"],
                    help="candidates to run; repeatable; default: all")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point: SOAP layer, ridge part, then MLP part; writes OUT/*."""
    t_start = time.perf_counter()
    args = build_parser().parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "ridge_done").unlink(missing_ok=True)

    def log(msg):
        print(f"[{time.perf_counter() - t_start:7.1f} s] {msg}", file=sys.stderr, flush=True)

    specs = reference.parse_embedding_specs(args.embeddings, reference.default_path("data/embeddings"))
    comp = reference.read_id_csv(args.compositions)
    soap_info = None
    if not args.no_soap and (not args.layer or "soap/soap" in args.layer):
        soap_path = out / "soap.npz"
        if soap_path.exists():
            soap_info = {"path": str(soap_path), "reused": True}
            log(f"reusing {soap_path}")
        else:
            soap_info = make_soap(args.structures, comp.ids, soap_path)
            log(f"wrote {soap_path}: {soap_info['shape']} in {soap_info['seconds']:.1f} s")
        specs.append(("soap", soap_path))
    ds = reference.load_dataset(args.compositions, args.targets, specs)
    if args.layer:
        have = {f"{l.model}/{l.layer}" for l in ds.layers}
        unknown = sorted(set(args.layer) - have)
        if unknown:
            extra = [] if args.no_soap else ["soap/soap"]
            print(f"error: unknown layer(s) {unknown}; have {sorted(have) + extra}",
                  file=sys.stderr)
            return 2
        ds.layers = [l for l in ds.layers if f"{l.model}/{l.layer}" in args.layer]
    folds = load_folds(args.folds, ds.ids)
    Q, rank = reference.composition_basis(ds.compositions)
    probes = args.probe or ["ridge", "mlp"]
    probes = [p for p in ("ridge", "mlp") if p in probes]
    reps = tuple(args.representation or REPRESENTATIONS)
    targets = {"ridge": args.target or list(ds.target_names),
               "mlp": args.mlp_target or list(MLP_TARGETS)}
    for p in probes:
        unknown = sorted(set(targets[p]) - set(ds.target_names))
        if unknown:
            print(f"error: unknown target(s) {unknown}", file=sys.stderr)
            return 2
    if soap_info is not None and "shape" not in soap_info:
        soap_info["shape"] = [list(l.matrix.shape) for l in ds.layers if l.model == "soap"][0]
    meta = {
        "generator": GENERATOR,
        "versions": dict(reference.library_versions(), dscribe=package_version("dscribe"),
                         ase=package_version("ase")),
        "soap": dict(SOAP_SETTINGS, **soap_info) if soap_info else None,
        "alphas_grid": [float(a) for a in ALPHAS],
        "floor": FLOOR,
        "mlp": {"hidden_layer_sizes": [128], "alpha": 1e-4, "early_stopping": True,
                "random_state": 0, "max_iter": 200},
        "folds": str(args.folds), "n": len(ds.ids), "k": int(folds.max()) + 1,
        "composition_rank": rank,
        "layers": [f"{l.model}/{l.layer}" for l in ds.layers],
        "targets": {p: targets[p] for p in probes},
        "representations": list(reps),
        "threads": args.threads,
        "seconds": {},
    }
    records: list[dict] = []
    done: list[str] = []
    with threadpool_limits(limits=args.threads):
        for p in probes:
            scales = tuple(c for c in CANDIDATES[p] if not args.scale or c in args.scale)
            if not scales:
                continue
            t0 = time.perf_counter()
            records += run_probe(p, ds, Q, folds, targets[p], reps, scales, log)
            meta["seconds"][p] = time.perf_counter() - t0
            meta["seconds"]["total"] = time.perf_counter() - t_start
            done.append(p)
            write_outputs(out, meta, records, done)
            if p == "ridge":
                (out / "ridge_done").write_text(f"{meta['seconds']['ridge']:.1f} s\n")
            log(f"{p} done in {meta['seconds'][p]:.1f} s; wrote {out}/results.json, summary.md")
    meta["seconds"]["total"] = time.perf_counter() - t_start
    write_outputs(out, meta, records, done)
    log(f"total {meta['seconds']['total']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
