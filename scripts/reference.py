#!/usr/bin/env python3
"""scikit-learn reference numbers for cpd's ridge probes (parity fixtures).

Purpose
-------
Recompute, with numpy/scipy/scikit-learn, exactly what ``cpd analyze --probes
ridge`` computes, on the same folds, and write the numbers to a JSON fixture
that the Rust test suite compares against (tolerance 1e-6). ``--scale``
picks cpd's feature scaling: ``standard`` (the default; fixture
``tests/fixtures/sklearn_ridge.json``), ``clip`` (fixture
``tests/fixtures/sklearn_ridge_clip.json``) or ``global`` (fixture
``tests/fixtures/sklearn_ridge_global.json``).

Method (cpd's rules, followed literally):

1. ``C`` = composition counts as float64 (every column of the compositions CSV
   except ``id``, in file order); ``C1 = [1 | C]``.
2. ``Q, R, P = scipy.linalg.qr(C1, mode="economic", pivoting=True)``; the rank
   ``r`` is the number of ``i`` with
   ``|R[i,i]| > max(n, k+1) * eps64 * |R[0,0]|``; ``Q = Q[:, :r]``.
3. ``H`` = embedding layer as float64; ``H_geom = H - Q (Q^T H)``; columns with
   ``||H_geom[:, j]|| <= tol ||H[:, j]||`` are set to exactly 0, with
   ``tol`` = 1e-5 for float32 layers (their rounding level) and 1e-9 for
   float64. ``[1 | C]`` is QR-factorised with each column scaled by its
   largest absolute value (the span, hence ``Q``, is unchanged).
4. Representations: ``composition`` (``C``, no ones column), ``raw`` (``H``)
   and ``geom`` (``H_geom``). Targets are not residualised.
5. For every fold ``f`` of the folds CSV (``id,fold``): ``StandardScaler`` fit
   on the training rows, training and held-out rows transformed with it, then
   ``RidgeCV(alphas=np.logspace(-3, 3, 13))`` (probe ``ridgecv``) and
   ``Ridge(alpha=1.0)`` (probe ``ridge_alpha1``) fit on the standardised
   training rows, one fit per target; per-fold ``r2_score``, plus pooled
   out-of-fold R2, MAE and RMSE.
6. ``--scale clip`` changes step 5 only in what is predicted: every held-out
   row's standardised features are clipped to the training fold's per-column
   [min, max] of the *standardised training values*, i.e.
   ``Xte_s = np.clip(Xte_s, Xtr_s.min(0), Xtr_s.max(0))`` (a column that is
   constant on the training rows standardises to 0 there, so it is 0 for
   every held-out row too). The model is still fit on the unclipped
   standardised training rows (clipping them would change nothing). Only
   ``RidgeCV(alphas=np.logspace(-3, 3, 13))`` is run, as probe
   ``ridgecv_clip``; the fixture carries ``"scale": "clip"`` at top level.
   Without ``--scale`` (or with ``--scale standard``) the output is what it
   always was, with no ``scale`` key.
7. ``--scale global`` replaces step 5's ``StandardScaler`` by one scale
   shared by every column: on the training rows, ``mu`` and ``var`` are the
   per-column mean and variance (ddof 0) exactly as ``StandardScaler``
   computes them (``StandardScaler().fit(Xtr).mean_`` / ``.var_``: mean,
   then the corrected two-pass variance), ``s = sqrt(sum(var) / d')`` over
   the ``d'`` columns that are not constant by scikit-learn's
   ``_is_constant_feature`` rule (the root mean variance of the live
   columns; ``s = 1`` if every column is constant), and training and
   held-out rows are ``(X - mu) / s``. No clipping. Only
   ``RidgeCV(alphas=np.logspace(-3, 3, 13))`` is run, as probe
   ``ridgecv_global``; the fixture carries ``"scale": "global"`` at top
   level. (:func:`scale_fold` also implements ``global-clip``, ``global``
   followed by step 6's clipping, for ``scripts/reference_mlp.py``.)

Rows of every file are joined by ``id``; ``.npz`` embeddings are aligned with
their ``ids`` array (rows are taken in compositions order when there is none,
and always for ``.npy`` files, whose layer name is the file stem).

Usage (from the repository root)
--------------------------------
    python scripts/reference.py --folds FOLDS.csv \
        [--compositions data/compositions.csv] [--targets data/targets.csv] \
        [--embeddings NAME=PATH ...] [--target T ...] \
        [--scale standard|clip|global] [--out FIXTURE]

``FOLDS.csv`` is typically the ``folds.csv`` written by
``cpd analyze ... --out DIR``. Without ``--embeddings`` every
``data/embeddings/*.npz`` is used (model = file stem, every layer); without
``--target`` every target column is used. ``--out`` defaults to
``tests/fixtures/sklearn_ridge.json`` (``--scale standard``),
``tests/fixtures/sklearn_ridge_clip.json`` (``--scale clip``) or
``tests/fixtures/sklearn_ridge_global.json`` (``--scale global``). Relative
default paths are resolved against the repository root (the parent of this
script's directory).

The bundled fixtures use cpd's seed-0 5-fold split, which is stored in
``tests/fixtures/sklearn_ridge.json["folds"]`` (``ids``, ``fold``). Without a
cpd ``folds.csv`` at hand, write that split to an ``id,fold`` CSV, e.g.::

    import json
    folds = json.load(open("tests/fixtures/sklearn_ridge.json"))["folds"]
    with open("/tmp/folds.csv", "w") as fh:
        fh.write("id,fold\\n")
        fh.writelines(f"{i},{k}\\n" for i, k in zip(folds["ids"], folds["fold"]))

and pass it: ``python scripts/reference.py --folds /tmp/folds.csv --scale clip``
(or ``--scale global``).

Requirements: ``pip install -r scripts/requirements-ref.txt``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg
import sklearn
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.preprocessing import StandardScaler

REPO_ROOT = Path(__file__).resolve().parent.parent
ALPHAS = np.logspace(-3, 3, 13)
ZERO_COLUMN_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-9}
GENERATOR = "scripts/reference.py"
# --scale choices of this script.
SCALES = ("standard", "clip", "global")
# Every scaling scale_fold implements (global-clip is used by reference_mlp.py).
FOLD_SCALES = SCALES + ("global-clip",)
# Probes written for each --scale (fixture order).
SCALE_PROBES = {
    "standard": ("ridgecv", "ridge_alpha1"),
    "clip": ("ridgecv_clip",),
    "global": ("ridgecv_global",),
}
DEFAULT_OUT = {
    "standard": "tests/fixtures/sklearn_ridge.json",
    "clip": "tests/fixtures/sklearn_ridge_clip.json",
    "global": "tests/fixtures/sklearn_ridge_global.json",
}


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #


@dataclass
class Table:
    """A CSV table with an ``id`` column: string ids plus float64 values."""

    ids: list[str]
    columns: list[str]
    values: np.ndarray  # (n, len(columns)) float64


@dataclass
class Layer:
    """One embedding layer aligned to the compositions row order."""

    model: str
    layer: str
    matrix: np.ndarray  # (n, d), dtype as stored on disk (f32 or f64)


@dataclass
class Dataset:
    """Everything one analysis needs, rows in compositions order."""

    ids: list[str]
    comp_columns: list[str]
    compositions: np.ndarray  # (n, k) float64
    target_names: list[str]
    targets: np.ndarray  # (n, t) float64
    layers: list[Layer] = field(default_factory=list)


def read_id_csv(path: Path) -> Table:
    """Read a CSV whose first column is ``id``; the other columns are numeric.

    Ids are kept as the strings that appear in the file; values are float64.
    Raises ``ValueError`` naming the file, row and id on malformed input.
    """
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path}: empty file") from None
        if "id" not in header:
            raise ValueError(f"{path}: no 'id' column in header {header}")
        id_col = header.index("id")
        columns = [h for i, h in enumerate(header) if i != id_col]
        ids: list[str] = []
        rows: list[list[float]] = []
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"{path}:{lineno}: expected {len(header)} fields, got {len(row)}"
                )
            rid = row[id_col].strip()
            try:
                vals = [float(c) for i, c in enumerate(row) if i != id_col]
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno} (id {rid}): {exc}") from None
            ids.append(rid)
            rows.append(vals)
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate ids")
    values = np.asarray(rows, dtype=np.float64).reshape(len(ids), len(columns))
    return Table(ids=ids, columns=columns, values=values)


def reorder_rows(table: Table, ids: list[str], what: str) -> np.ndarray:
    """Return ``table.values`` with rows in the order of ``ids`` (join by id)."""
    index = {_id_key(rid): i for i, rid in enumerate(table.ids)}
    wanted = [_id_key(rid) for rid in ids]
    missing = [rid for rid in wanted if rid not in index]
    if missing or len(table.ids) != len(ids):
        raise ValueError(
            f"{what}: ids do not match the compositions file "
            f"({len(table.ids)} rows vs {len(ids)}; first missing: {missing[:3]})"
        )
    return table.values[[index[rid] for rid in wanted]]


def _id_key(rid) -> str:
    """Canonical key for an id so that CSV "007" and npz int 7 match."""
    s = str(rid).strip()
    try:
        return str(int(s))
    except ValueError:
        return s


def load_embedding_layers(name: str, path: Path, ids: list[str]) -> list[Layer]:
    """Load every layer of one embedding file, rows aligned to ``ids``.

    ``.npz``: every array except ``ids`` is a layer (array name = layer name);
    if an ``ids`` array exists, rows are reordered to match ``ids``.
    ``.npy``: a single layer named after the file stem, rows already in
    compositions order.
    """
    n = len(ids)
    layers: list[Layer] = []
    if path.suffix == ".npy":
        arr = np.load(path)
        if arr.ndim != 2 or arr.shape[0] != n:
            raise ValueError(f"{path}: expected shape ({n}, d), got {arr.shape}")
        return [Layer(name, path.stem, arr)]
    with np.load(path) as npz:
        order = None
        if "ids" in npz.files:
            file_ids = [_id_key(v) for v in npz["ids"].tolist()]
            index = {rid: i for i, rid in enumerate(file_ids)}
            wanted = [_id_key(rid) for rid in ids]
            missing = [rid for rid in wanted if rid not in index]
            if missing or len(file_ids) != n:
                raise ValueError(
                    f"{path}: ids do not match the compositions file "
                    f"({len(file_ids)} rows vs {n}; first missing: {missing[:3]})"
                )
            order = np.array([index[rid] for rid in wanted], dtype=np.int64)
        for key in npz.files:
            if key == "ids":
                continue
            arr = npz[key]
            if arr.ndim != 2 or arr.shape[0] != n:
                raise ValueError(f"{path}[{key}]: expected ({n}, d), got {arr.shape}")
            if order is not None:
                arr = arr[order]
            layers.append(Layer(name, key, arr))
    return layers


def parse_embedding_specs(specs: list[str] | None, default_dir: Path) -> list[tuple[str, Path]]:
    """Turn ``NAME=PATH`` strings (or a bare ``PATH``) into (name, path) pairs.

    With no specs, every ``*.npz`` in ``default_dir`` is used, named by stem.
    """
    if not specs:
        paths = sorted(default_dir.glob("*.npz"))
        return [(p.stem, p) for p in paths]
    out = []
    for spec in specs:
        if "=" in spec:
            name, p = spec.split("=", 1)
        else:
            name, p = Path(spec).stem, spec
        out.append((name, Path(p)))
    return out


def load_dataset(
    compositions: Path,
    targets: Path,
    embeddings: list[tuple[str, Path]],
    target_names: list[str] | None = None,
) -> Dataset:
    """Load compositions, targets and embedding layers, joined by id."""
    comp = read_id_csv(compositions)
    tgt = read_id_csv(targets)
    names = target_names or tgt.columns
    unknown = [t for t in names if t not in tgt.columns]
    if unknown:
        raise ValueError(f"{targets}: unknown target(s) {unknown}; have {tgt.columns}")
    y = reorder_rows(tgt, comp.ids, str(targets))[:, [tgt.columns.index(t) for t in names]]
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{targets}: non-finite target values")
    ds = Dataset(
        ids=comp.ids,
        comp_columns=comp.columns,
        compositions=comp.values,
        target_names=list(names),
        targets=y,
    )
    for name, path in embeddings:
        ds.layers.extend(load_embedding_layers(name, path, comp.ids))
    return ds


def load_folds(path: Path, ids: list[str]) -> np.ndarray:
    """Read an ``id,fold`` CSV and return the fold index of every row of ``ids``."""
    table = read_id_csv(path)
    if "fold" not in table.columns:
        raise ValueError(f"{path}: no 'fold' column")
    col = table.values[:, table.columns.index("fold")]
    table = Table(table.ids, ["fold"], col[:, None])
    folds = reorder_rows(table, ids, str(path))[:, 0]
    if not np.all(folds == np.round(folds)) or folds.min() < 0:
        raise ValueError(f"{path}: folds must be integers 0..k-1")
    folds = folds.astype(np.int64)
    k = int(folds.max()) + 1
    empty = [f for f in range(k) if not np.any(folds == f)]
    if empty or k < 2:
        raise ValueError(f"{path}: need >= 2 non-empty folds 0..k-1 (empty: {empty})")
    return folds


# --------------------------------------------------------------------------- #
# Projection
# --------------------------------------------------------------------------- #


def composition_basis(C: np.ndarray) -> tuple[np.ndarray, int]:
    """Orthonormal basis of span([1 | C]) by pivoted QR, and its numerical rank."""
    n, k = C.shape
    C1 = np.hstack([np.ones((n, 1)), C.astype(np.float64)])
    scale = np.abs(C1).max(axis=0)
    C1 = C1 / np.where(scale > 0, scale, 1.0)
    Q, R, _ = scipy.linalg.qr(C1, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    tol = max(n, k + 1) * np.finfo(np.float64).eps * diag[0]
    rank = int(np.sum(diag > tol))
    return Q[:, :rank], rank


def geometric_residual(H: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """``H - Q (Q^T H)`` in float64, with composition-explained columns zeroed."""
    rtol = ZERO_COLUMN_RTOL.get(np.asarray(H).dtype, 1e-9)
    H = np.asarray(H, dtype=np.float64)
    G = H - Q @ (Q.T @ H)
    dead = np.linalg.norm(G, axis=0) <= rtol * np.linalg.norm(H, axis=0)
    G[:, dead] = 0.0
    return G


# --------------------------------------------------------------------------- #
# Probing
# --------------------------------------------------------------------------- #


def make_probe(kind: str):
    """A fresh scikit-learn estimator for probe ``kind``.

    ``ridgecv_clip`` and ``ridgecv_global`` are the same estimator as
    ``ridgecv``; the scaling and clipping are done on its inputs by
    :func:`scale_fold`.
    """
    if kind in ("ridgecv", "ridgecv_clip", "ridgecv_global"):
        return RidgeCV(alphas=ALPHAS)
    if kind == "ridge_alpha1":
        return Ridge(alpha=1.0)
    raise ValueError(kind)


def scale_fold(
    X_train: np.ndarray, X_test: np.ndarray, scale: str = "standard"
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled training rows and the held-out rows to predict.

    ``standard`` / ``clip``: ``StandardScaler`` is fit on ``X_train`` and
    applied to both. ``global`` / ``global-clip``: both are centred on the
    training mean and divided by one scalar, :func:`global_scale` of the
    training rows. With ``clip`` and ``global-clip`` the scaled held-out rows
    are then clipped, column by column, to the [min, max] of the scaled
    training rows.
    """
    if scale not in FOLD_SCALES:
        raise ValueError(f"scale must be one of {FOLD_SCALES}, got {scale!r}")
    scaler = StandardScaler().fit(X_train)
    if scale in ("global", "global-clip"):
        s = global_scale(scaler.var_, scaler.mean_, X_train.shape[0])
        Xtr = (X_train - scaler.mean_) / s
        Xte = (X_test - scaler.mean_) / s
    else:
        Xtr = scaler.transform(X_train)
        Xte = scaler.transform(X_test)
    if scale in ("clip", "global-clip"):
        Xte = np.clip(Xte, Xtr.min(axis=0), Xtr.max(axis=0))
    return Xtr, Xte


def global_scale(var: np.ndarray, mean: np.ndarray, n: int) -> float:
    """The shared scale of ``global``: ``sqrt(sum(var) / d')`` over the
    ``d'`` columns that are not constant, 1 if every column is.

    ``var`` and ``mean`` are the per-column variance (ddof 0) and mean of the
    ``n`` training rows, as ``StandardScaler`` computes them; a column is
    constant by scikit-learn's ``_is_constant_feature`` rule,
    ``var <= n*eps*var + (n*mean*eps)**2``, so dead channels do not dilute
    the scale.
    """
    eps = np.finfo(np.float64).eps
    live = ~(var <= n * eps * var + (n * mean * eps) ** 2)
    s = float(np.sqrt(np.sum(var[live]) / max(int(live.sum()), 1)))
    return s if s > 0.0 and np.isfinite(s) else 1.0


def cross_validate(
    X: np.ndarray,
    Y: np.ndarray,
    folds: np.ndarray,
    probes: tuple[str, ...],
    scale: str = "standard",
) -> dict[str, list[dict]]:
    """Cross-validated scores of every probe, one dict per column of ``Y``.

    The scaler is fit once per fold (it does not depend on the target) and
    each target gets its own estimator fit (1-D ``y``), as a scikit-learn user
    would do; ``scale`` is applied by :func:`scale_fold`. Returns
    ``{probe: [scores for target 0, target 1, ...]}``.
    """
    n, t = Y.shape
    k = int(folds.max()) + 1
    r2 = {p: np.zeros((t, k)) for p in probes}
    alphas = {p: np.zeros((t, k)) for p in probes}
    oof = {p: np.zeros((n, t)) for p in probes}
    for f in range(k):
        test = folds == f
        train = ~test
        Xtr, Xte = scale_fold(X[train], X[test], scale)
        for p in probes:
            for j in range(t):
                model = make_probe(p).fit(Xtr, Y[train, j])
                pred = model.predict(Xte)
                oof[p][test, j] = pred
                r2[p][j, f] = r2_score(Y[test, j], pred)
                alphas[p][j, f] = float(model.alpha_) if hasattr(model, "alpha_") else float(model.alpha)
    out: dict[str, list[dict]] = {}
    for p in probes:
        out[p] = []
        for j in range(t):
            y, pred = Y[:, j], oof[p][:, j]
            out[p].append(
                {
                    "r2_folds": [float(v) for v in r2[p][j]],
                    "alphas": [float(v) for v in alphas[p][j]],
                    "r2_mean": float(np.mean(r2[p][j])),
                    "r2_std": float(np.std(r2[p][j])),
                    "r2_pooled": float(r2_score(y, pred)),
                    "mae": float(mean_absolute_error(y, pred)),
                    "rmse": float(np.sqrt(mean_squared_error(y, pred))),
                }
            )
    return out


def run_reference(
    ds: Dataset,
    folds: np.ndarray,
    probes: tuple[str, ...] = SCALE_PROBES["standard"],
    scale: str = "standard",
) -> tuple[list[dict], int]:
    """All fixture records (composition once per target, then raw/geom per layer)."""
    Q, rank = composition_basis(ds.compositions)
    records: list[dict] = []

    def add(model, layer, representation, scores):
        for p in probes:
            for j, target in enumerate(ds.target_names):
                rec = {
                    "model": model,
                    "layer": layer,
                    "target": target,
                    "representation": representation,
                    "probe": p,
                }
                rec.update(scores[p][j])
                records.append(rec)

    add(None, None, "composition",
        cross_validate(ds.compositions, ds.targets, folds, probes, scale))
    for lay in ds.layers:
        H = np.asarray(lay.matrix, dtype=np.float64)
        add(lay.model, lay.layer, "raw", cross_validate(H, ds.targets, folds, probes, scale))
        # The stored dtype (not the float64 copy) picks the zeroing tolerance.
        G = geometric_residual(lay.matrix, Q)
        del H
        add(lay.model, lay.layer, "geom", cross_validate(G, ds.targets, folds, probes, scale))
    return records, rank


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def library_versions() -> dict[str, str]:
    """Versions of the numerical libraries that produced the numbers."""
    return {"sklearn": sklearn.__version__, "numpy": np.__version__, "scipy": scipy.__version__}


def default_path(rel: str) -> Path:
    """A bundled-data path, resolved against the repository root."""
    return REPO_ROOT / rel


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    ap = argparse.ArgumentParser(
        description="Write the scikit-learn ridge parity fixture for cpd.",
    )
    ap.add_argument("--folds", type=Path, required=True,
                    help="CSV with columns id,fold (e.g. the folds.csv cpd writes)")
    ap.add_argument("--compositions", type=Path, default=default_path("data/compositions.csv"),
                    help="CSV id,<element>...; default: data/compositions.csv")
    ap.add_argument("--targets", type=Path, default=default_path("data/targets.csv"),
                    help="CSV id,<target>...; default: data/targets.csv")
    ap.add_argument(
        "--embeddings",
        action="append",
        metavar="NAME=PATH",
        help="embedding file (.npz or .npy); repeatable; default: data/embeddings/*.npz",
    )
    ap.add_argument("--target", action="append", help="target column; repeatable; default: all")
    ap.add_argument("--scale", choices=SCALES, default="standard",
                    help="feature scaling: standard (StandardScaler; probes ridgecv and "
                         "ridge_alpha1), clip (StandardScaler, then held-out rows clipped "
                         "to the training fold's standardised [min, max]; probe "
                         "ridgecv_clip) or global (centred, every column divided by the "
                         "root mean variance of its non-constant columns; probe ridgecv_global); "
                         "default: standard")
    ap.add_argument("--out", type=Path, default=None,
                    help="fixture to write; default: tests/fixtures/sklearn_ridge.json, "
                         "or tests/fixtures/sklearn_ridge_clip.json with --scale clip, "
                         "or tests/fixtures/sklearn_ridge_global.json with --scale global")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point: load, compute, write the JSON fixture, print a summary."""
    args = build_parser().parse_args(argv)
    specs = parse_embedding_specs(args.embeddings, default_path("data/embeddings"))
    if not specs:
        print("warning: no embeddings given or found; composition records only", file=sys.stderr)
    ds = load_dataset(args.compositions, args.targets, specs, args.target)
    folds = load_folds(args.folds, ds.ids)
    records, rank = run_reference(ds, folds, SCALE_PROBES[args.scale], args.scale)
    out = args.out if args.out is not None else default_path(DEFAULT_OUT[args.scale])
    fixture = {
        "generator": GENERATOR,
        "versions": library_versions(),
        "alphas_grid": [float(a) for a in ALPHAS],
        "folds": {"ids": list(ds.ids), "fold": [int(f) for f in folds]},
        "composition_rank": rank,
        "records": records,
    }
    if args.scale != "standard":
        # Only non-default scalings are tagged: the standard fixture is unchanged.
        fixture["scale"] = args.scale
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as fh:
        json.dump(fixture, fh, indent=1, allow_nan=False)
        fh.write("\n")
    r2 = [r["r2_mean"] for r in records]
    print(
        f"wrote {out}: {len(records)} records (scale {args.scale}) "
        f"({len(ds.layers)} layers, {len(ds.target_names)} targets, "
        f"n={len(ds.ids)}, k={int(folds.max()) + 1} folds, composition rank {rank})"
    )
    print(f"r2_mean min {min(r2):.6f}  max {max(r2):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
