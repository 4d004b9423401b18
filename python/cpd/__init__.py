"""cpd — Composition Projection Decomposition, from Python.

The same engine as the ``cpd`` command line (a Rust library), called on
arrays in memory: an embedding ``H`` is projected off the span of
``[1 | composition]`` with an exact pivoted QR, and probes (ridge, MLP,
GBT) are cross-validated on composition alone, on the raw embedding and on
the geometric residual, on the same shuffled, seeded folds.

Functions
---------
analyze
    Every setting of ``cpd analyze``; returns a :class:`Report`.
decompose
    matscope's ``decompose(H, compositions, y)`` call shape and result
    fields, computed the cpd way.
project
    ``H_geom = H - Q Qᵀ H``.
check
    ``cpd check``: compare a report with a baseline.

Errors raise ``ValueError`` (bad input or settings; ``FileNotFoundError``
for a missing file) with the messages of the command line. The GIL is
released while computing, and results do not depend on the thread count.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _cpd

__all__ = [
    "analyze",
    "settings_toml",
    "decompose",
    "project",
    "check",
    "Report",
    "Figure",
    "CheckResult",
    "CPDResult",
    "CPDProfile",
    "CompositionProjectionDecomposition",
]

__version__: str = _cpd.version()

# Element symbols by atomic number, for compositions given without names
# (matscope's unnamed arrays): the labels only name the report's columns.
_SYMBOLS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni "
    "Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe "
    "Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg "
    "Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg "
    "Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()

ArrayLike = Any
TableLike = Any


def _array(x: ArrayLike) -> np.ndarray:
    """An embedding as NumPy sees it, without a copy when it is already a
    float32/float64 array (a non-native byte order is converted)."""
    a = np.asarray(x)
    if a.dtype.kind == "f" and not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def _is_frame(x: Any) -> bool:
    return hasattr(x, "columns") and hasattr(x, "index") and hasattr(x, "to_numpy")


def _is_series(x: Any) -> bool:
    return hasattr(x, "index") and hasattr(x, "to_numpy") and hasattr(x, "name") and not hasattr(x, "columns")


def _numeric(values: Any, what: str, column: str) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype.kind not in "biuf":
        raise ValueError(
            f"{what}: column '{column}' has dtype {a.dtype}, expected numbers"
        )
    if a.ndim != 1:
        raise ValueError(
            f"{what}: column '{column}' has shape {a.shape}, expected one value per row"
        )
    return a.astype(np.float64, copy=False)


def _table(
    obj: TableLike, what: str, default_name: str = "y"
) -> Tuple[Optional[List[str]], List[str], np.ndarray]:
    """(ids or None, column names, n × k float64 values) from a DataFrame,
    a Series, a mapping of name to column, or ``(names, values[, ids])``."""
    if _is_frame(obj):
        cols = [str(c) for c in obj.columns]
        if "id" in cols:
            ids = [str(i) for i in obj["id"].to_numpy()]
            names = [c for c in obj.columns if str(c) != "id"]
        else:
            ids = [str(i) for i in obj.index]
            names = list(obj.columns)
        columns = [_numeric(obj[c].to_numpy(), what, str(c)) for c in names]
        names = [str(c) for c in names]
    elif _is_series(obj):
        ids = [str(i) for i in obj.index]
        names = [str(obj.name) if obj.name is not None else default_name]
        columns = [_numeric(obj.to_numpy(), what, names[0])]
    elif isinstance(obj, Mapping):
        ids = [str(i) for i in np.asarray(obj["id"])] if "id" in obj else None
        names = [str(k) for k in obj if k != "id"]
        columns = [_numeric(obj[k], what, str(k)) for k in obj if k != "id"]
    elif isinstance(obj, tuple) and len(obj) in (2, 3):
        names = [str(n) for n in obj[0]]
        values = np.asarray(obj[1])
        if values.ndim == 1 and len(names) == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(
                f"{what}: expected a 2-D array (rows × columns), found {values.ndim} dimension(s)"
            )
        if values.shape[1] != len(names):
            raise ValueError(
                f"{what}: {values.shape[1]} columns of values for {len(names)} names"
            )
        columns = [_numeric(values[:, j], what, n) for j, n in enumerate(names)]
        ids = [str(i) for i in obj[2]] if len(obj) == 3 else None
    else:
        raise ValueError(
            f"{what}: expected a pandas DataFrame, a mapping of name to column, "
            f"or (names, values[, ids]); got {type(obj).__name__}"
        )
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        raise ValueError(f"{what}: columns of different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else (len(ids) if ids is not None else 0)
    values = np.column_stack(columns) if columns else np.zeros((n, 0))
    values = np.ascontiguousarray(values, dtype=np.float64)
    if ids is not None and len(ids) != n:
        raise ValueError(f"{what}: {len(ids)} ids for {n} rows")
    return ids, names, values


def _embeddings(embeddings: Mapping[str, Any]) -> List[Tuple[str, List[Tuple[str, np.ndarray]]]]:
    if not isinstance(embeddings, Mapping):
        raise ValueError(
            "embeddings: expected a dict of model name to an array or to a dict of "
            f"layer name to array; got {type(embeddings).__name__}"
        )
    out = []
    for model, layers in embeddings.items():
        if isinstance(layers, Mapping):
            out.append((str(model), [(str(k), _array(v)) for k, v in layers.items()]))
        else:
            out.append((str(model), [(str(model), _array(layers))]))
    return out


def _inputs(compositions: TableLike, targets: TableLike):
    cids, ccols, cvals = _table(compositions, "compositions")
    tids, tcols, tvals = _table(targets, "targets")
    if cids is None:
        cids = [str(i) for i in range(cvals.shape[0])]
    if tids is None:
        # Without ids the targets follow the compositions' order.
        if tvals.shape[0] != len(cids):
            raise ValueError(
                f"targets: {tvals.shape[0]} rows but compositions have {len(cids)} "
                "(without ids, rows follow the compositions' order)"
            )
        tids = list(cids)
    return cids, ccols, cvals, tids, tcols, tvals


class Report:
    """The outcome of :func:`analyze`: the ``report.json`` of the command
    line, as Python objects.

    Attributes
    ----------
    results : list of dict
        One record per (model, layer, channels, target, representation,
        probe), the ``results`` of ``report.json``.
    settings, inputs, composition, gaps, inflation, channel_routing,
    learning_curves, profiles, instability, layer_stats, similarity,
    comparison, verdict, comparisons, timing : the other sections of
    ``report.json`` (any section a later version adds is an attribute too).
    ids : list of str
        Row ids in report order (the compositions' order).
    fold_assignment : numpy.ndarray
        Fold of each row.
    predictions : numpy.ndarray or None
        With ``predictions=True``, records × rows out-of-fold predictions
        (rows of ``results`` order, columns in ``ids`` order).
    """

    def __init__(self, native: Any):
        self._native = native
        self._json: str = native.json()
        self._data: Dict[str, Any] = json.loads(self._json)

    @property
    def results(self) -> List[Dict[str, Any]]:
        return self._data["results"]

    @property
    def ids(self) -> List[str]:
        return self._native.ids()

    @property
    def fold_assignment(self) -> np.ndarray:
        return np.asarray(self._native.folds(), dtype=np.int64)

    @property
    def predictions(self) -> Optional[np.ndarray]:
        return self._native.predictions()

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__.get("_data", {})
        if name in data:
            return data[name]
        raise AttributeError(f"'Report' object has no attribute '{name}'")

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self._data))

    def to_dict(self) -> Dict[str, Any]:
        """The whole report as a dict (``json.loads`` of :meth:`to_json`)."""
        return json.loads(self._json)

    def to_json(self) -> str:
        """``report.json`` as the command line writes it."""
        return self._json

    def to_pandas(self):
        """The results as a ``pandas.DataFrame``, one row per record (the
        columns of ``results.csv`` and the per-fold lists). Needs pandas."""
        import pandas as pd

        return pd.DataFrame(self.results)

    def write(self, dir: Union[str, os.PathLike]) -> List[Path]:
        """Write the command line's files (``report.json``, ``results.csv``,
        ``report.md``, ``report.html``, ``folds.csv``, figures, and
        ``predictions.csv`` with ``predictions=True``) into ``dir``, each
        through a temporary file and a rename.

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        return [Path(p) for p in self._native.write(os.fspath(dir))]

    @property
    def figures(self) -> List["Figure"]:
        """Every figure of ``report.html`` (the R² bars, then each
        analysis's), in its order, as :class:`Figure` objects: a notebook
        displays each as SVG."""
        return [Figure(name, title, svg) for name, title, svg in self._native.figures()]

    def __repr__(self) -> str:
        return self._native.table()

    def _repr_html_(self) -> str:
        """The report in brief, as a notebook shows it: the run line, the
        verdict, the results table (R² with their 95 % intervals) and the
        instability lines of the command line's table."""
        return self._native.html()


class Figure:
    """One figure of a report: an SVG document that a notebook displays.

    Attributes
    ----------
    name : str
        File name ``Report.write`` gives it (``r2_gap_ev.svg``, ...).
    title : str
        Its title (the caption in ``report.html``).
    data : str
        The SVG document.
    """

    def __init__(self, name: str, title: str, data: str):
        self.name = name
        self.title = title
        self.data = data

    def _repr_svg_(self) -> str:
        return self.data

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Write the SVG document to ``path`` (through a temporary file and
        a rename); returns the path."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.data, encoding="utf-8")
        os.replace(tmp, path)
        return path

    def __repr__(self) -> str:
        return f"Figure({self.name!r}, {self.title!r})"


def _setting_value(name: str, value: Any) -> Any:
    """A keyword's value as the settings' JSON takes it: NumPy scalars and
    arrays as Python numbers and lists, tuples as lists, paths as strings,
    and a comma-separated string for a list setting split."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, str):
        if isinstance(_SETTING_DEFAULTS.get(name), tuple) or name in _LIST_SETTINGS:
            return [v for v in value.split(",") if v]
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        key = name.replace("gbt_", "gbt.", 1).replace("mlp_", "mlp.", 1)
        raise ValueError(f"invalid setting: setting `{key}` must be a finite number, got {value}")
    if isinstance(value, (np.ndarray, tuple, list)):
        return [_setting_value("", v) for v in np.asarray(value, dtype=object).tolist()]
    return value


def _settings_json(settings: Mapping[str, Any]) -> str:
    """The keywords given (``None``: not given, the default) as JSON."""
    given = {k: _setting_value(k, v) for k, v in settings.items() if v is not None}
    return json.dumps(given)


def analyze(
    embeddings: Mapping[str, Union[ArrayLike, Mapping[str, ArrayLike]]],
    compositions: TableLike,
    targets: TableLike,
    *,
    threads: Optional[int] = None,
    **settings: Any,
) -> Report:
    native = _cpd.analyze(
        _embeddings(embeddings),
        *_inputs(compositions, targets),
        _settings_json(settings),
        threads,
    )
    return Report(native)


def settings_toml(**settings: Any) -> str:
    """The effective settings of ``analyze(..., **settings)`` as a
    manifest's ``[settings]`` table (what ``cpd analyze --print-settings``
    prints): the same analysis from the command line."""
    return _cpd.settings_toml(_settings_json(settings))


_ANALYZE_DOC = """Probe embeddings on composition alone, raw, and the composition-free
    residual: ``cpd analyze`` on arrays.

    Parameters
    ----------
    embeddings : dict
        Model name to an ``n × d`` array (one layer, named after the model)
        or to a dict of layer name to array. float32 or float64, any
        memory layout (C, Fortran, strided): read in place, not copied.
        Rows follow the compositions' order.
    compositions : DataFrame, mapping or tuple
        One column per element symbol (counts, or fractions with
        ``composition="fractions"``). A DataFrame's ``id`` column, else its
        index, gives the row ids; a mapping ``{{"H": [...], ..., "id":
        [...]}}`` or a tuple ``(names, values[, ids])`` works without pandas.
        Without ids, rows are numbered from 0.
    targets : DataFrame, Series, mapping or tuple
        One column per target, as ``compositions``; rows are matched to the
        compositions by id, or follow their order when there are no ids.
    threads : int, optional
        Worker threads for this call (default: ``RAYON_NUM_THREADS`` or
        every core). Results do not depend on it.
{settings}
    Every setting is keyword-only and means what the command line's flag
    and the manifest's key mean (``docs/settings.md``); a setting left out,
    or given as ``None``, takes its default, and settings that exclude each
    other (``folds_file`` and ``folds``) may not both be given.

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        Bad input (wrong shape, non-float embedding, NaN or Inf, rows that
        do not match, too few rows for the folds, ...) or settings (an
        unknown name, a value out of range, two that exclude each other),
        with the command line's message.
    FileNotFoundError
        ``folds_file`` does not exist.

    Notes
    -----
    The same data gives the same ``results`` as ``cpd analyze`` on files,
    bit for bit, when the CSVs are parsed exactly (Python's ``float``;
    pandas before 3.0 needs ``float_precision="round_trip"``). Per-atom arrays are not taken:
    pool them to one row per structure first (``cpd pool``).
    """


def _python_default(value: Any) -> Any:
    """A default as the signature shows it (lists as tuples)."""
    return tuple(value) if isinstance(value, list) else value


# Every setting, from the library: (keyword, key, flag, default, help).
_SETTINGS: List[Tuple[str, str, str, Any, str]] = [
    (name, key, flag, _python_default(json.loads(default)), help_)
    for name, key, flag, default, help_ in _cpd.settings_reference()
]
_SETTING_DEFAULTS: Dict[str, Any] = {s[0]: s[3] for s in _SETTINGS}
# List settings without a list default.
_LIST_SETTINGS = {"target", "alphas", "learning_curve", "channel_layers"}


def _settings_doc() -> str:
    lines = []
    for name, key, flag, default, help_ in _SETTINGS:
        shown = "" if default is None else f", default {default!r}"
        lines.append(f"    {name}{shown}")
        lines.append(f"        {help_} (``{flag}``; ``[settings]`` key ``{key}``)")
    return "\n".join(lines)


analyze.__doc__ = _ANALYZE_DOC.format(settings=_settings_doc())
analyze.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for n in ("embeddings", "compositions", "targets")
    ]
    + [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, _, _, default, _ in _SETTINGS
    ]
    + [inspect.Parameter("threads", inspect.Parameter.KEYWORD_ONLY, default=None)],
    return_annotation=Report,
)


def _composition_table(compositions: TableLike) -> Tuple[List[str], np.ndarray]:
    """Names and values of compositions given as a table or as an unnamed
    ``n × k`` array (columns then labelled H, He, Li, ... in order)."""
    if isinstance(compositions, np.ndarray) or (
        not _is_frame(compositions)
        and not isinstance(compositions, (Mapping, tuple))
    ):
        values = np.asarray(compositions)
        if values.ndim != 2:
            raise ValueError(
                f"compositions: expected a 2-D array (rows × elements), found {values.ndim} dimension(s)"
            )
        if values.shape[1] > len(_SYMBOLS):
            raise ValueError(f"compositions: {values.shape[1]} columns, at most {len(_SYMBOLS)} elements")
        names = _SYMBOLS[: values.shape[1]]
        return names, np.ascontiguousarray(
            np.column_stack([_numeric(values[:, j], "compositions", n) for j, n in enumerate(names)])
            if values.shape[1]
            else np.zeros((values.shape[0], 0))
        )
    _, names, values = _table(compositions, "compositions")
    return names, values


def project(
    H: ArrayLike, compositions: TableLike, *, threads: Optional[int] = None
) -> np.ndarray:
    """The geometric residual ``H_geom = H − Q Qᵀ H``.

    ``Q`` is the thin pivoted QR of ``[1 | C]``: ``H_geom`` is orthogonal
    to the constant and to every composition column (exactly, up to
    rounding), as ``cpd analyze`` projects.

    Parameters
    ----------
    H : array, n × d
        float32 or float64, read in place.
    compositions : array (n × k) or table
        Counts or fractions; a DataFrame, mapping or ``(names, values)``
        as for :func:`analyze`, or an unnamed array.
    threads : int, optional
        Worker threads for this call.

    Returns
    -------
    numpy.ndarray
        ``n × d`` float64.

    Raises
    ------
    ValueError
        Wrong shape, non-float ``H``, NaN or Inf, rows that do not match.
    """
    names, values = _composition_table(compositions)
    geom, _rank, _dropped = _cpd.project(_array(H), names, values, threads)
    return geom


@dataclass
class CPDResult:
    """matscope's ``CPDResult``, computed the cpd way (see :func:`decompose`),
    with cpd's extras after matscope's fields (so that matscope's positional
    construction holds).

    Attributes
    ----------
    layer_name, target_property : str
        Labels, as given.
    composition_r2 : float
        Share of the embedding's variance that composition explains:
        ``1 − ‖H_geom‖² / ‖H − mean(H)‖²`` (in sample, as matscope's
        variance-weighted R² of its composition fit).
    residual_linear_r2 : float
        Mean R² over the folds of the ridge probe on ``H_geom`` (0.0 when
        not run, as in matscope).
    residual_mlp_r2 : float
        Mean R² over the folds of the MLP probe on ``H_geom`` (0.0 when
        not run).
    linear_nonlinear_gap : float
        ``residual_mlp_r2 − residual_linear_r2``.
    composition_variance_explained : float
        Equal to ``composition_r2`` (matscope's adds 1e-10 to the
        denominator).
    metadata : dict
        matscope's keys (``n_samples``, ``hidden_dim``, ``n_elements``,
        ``composition_alpha``, ``cv_folds``) and cpd's: ``seed``,
        ``rank`` and ``dropped`` of the projection, ``r2_folds`` (probe to
        the R² of each fold).
    target_composition_r2, raw_linear_r2, raw_mlp_r2 : float or None
        With ``report=True``: R² of the target from composition alone (the
        first probe) and of the probes on the raw embedding; else None.
    report : Report or None
        With ``report=True``: the whole analysis (intervals, conditional
        R², diagnostics, figures).
    """

    layer_name: str
    composition_r2: float
    residual_linear_r2: float
    residual_mlp_r2: float
    linear_nonlinear_gap: float
    target_property: str
    composition_variance_explained: float = 0.0
    metadata: Dict[str, Any] = field(default_factory=dict)
    target_composition_r2: Optional[float] = None
    raw_linear_r2: Optional[float] = None
    raw_mlp_r2: Optional[float] = None
    report: Optional[Report] = field(default=None, repr=False)

    @property
    def disentanglement_score(self) -> float:
        """``residual_linear_r2 − |linear_nonlinear_gap|`` (matscope's)."""
        return self.residual_linear_r2 - abs(self.linear_nonlinear_gap)


@dataclass
class CPDProfile:
    """matscope's ``CPDProfile``: the :class:`CPDResult` of every layer of
    one model, in layer order.

    Attributes
    ----------
    model_name, target_property : str
    results : dict
        Layer name to :class:`CPDResult`.
    metadata : dict
    report : Report or None
        With ``report=True``: the whole analysis of every layer.
    """

    model_name: str
    results: Dict[str, CPDResult]
    target_property: str
    metadata: Dict[str, Any] = field(default_factory=dict)
    report: Optional[Report] = field(default=None, repr=False)

    @property
    def disentanglement_trajectory(self) -> List[float]:
        """The disentanglement score of each layer, in order."""
        return [r.disentanglement_score for r in self.results.values()]

    @property
    def best_layer(self) -> str:
        """The layer with the highest residual linear R² (the first on a tie)."""
        return max(self.results, key=lambda k: self.results[k].residual_linear_r2)

    @property
    def most_nonlinear_layer(self) -> str:
        """The layer with the largest linear–nonlinear gap (the first on a tie)."""
        return max(self.results, key=lambda k: self.results[k].linear_nonlinear_gap)

    def to_dataframe(self):
        """One row per layer with matscope's columns: ``layer``,
        ``composition_r2``, ``residual_linear_r2``, ``residual_mlp_r2``,
        ``gap``, ``disentanglement``, ``composition_variance``. Needs pandas."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "layer": name,
                    "composition_r2": r.composition_r2,
                    "residual_linear_r2": r.residual_linear_r2,
                    "residual_mlp_r2": r.residual_mlp_r2,
                    "gap": r.linear_nonlinear_gap,
                    "disentanglement": r.disentanglement_score,
                    "composition_variance": r.composition_variance_explained,
                }
                for name, r in self.results.items()
            ]
        )

    def summary(self) -> str:
        """matscope's summary: model, target, layer count, the best and the
        most nonlinear layer."""
        best, nonlinear = self.best_layer, self.most_nonlinear_layer
        return "\n".join(
            [
                f"CPD Profile: {self.model_name}",
                f"Target: {self.target_property}",
                f"Layers analyzed: {len(self.results)}",
                f"Best geometric layer: {best} "
                f"(R²_resid={self.results[best].residual_linear_r2:.3f})",
                f"Most nonlinear layer: {nonlinear} "
                f"(gap={self.results[nonlinear].linear_nonlinear_gap:.3f})",
            ]
        )


def _target(y: ArrayLike, name: str) -> np.ndarray:
    yv = np.asarray(y)
    if yv.ndim == 2 and yv.shape[1] == 1:
        yv = yv[:, 0]
    if yv.ndim != 1:
        raise ValueError(f"y: expected one value per row, found shape {yv.shape}")
    return _numeric(yv, "targets", name)


def _layers(
    layers: Mapping[str, ArrayLike],
    compositions: TableLike,
    y: ArrayLike,
    target_property: str,
    probes: Sequence[str],
    composition: str,
    report: bool,
    composition_alpha: float,
    settings: Dict[str, Any],
) -> Tuple[Dict[str, CPDResult], Optional[Report]]:
    """:class:`CPDResult` of every layer of ``{name: H}`` from one library
    call: the residual alone (``report=False``) or the whole analysis."""
    elements, values = _composition_table(compositions)
    tname = target_property if target_property != "unknown" else "y"
    yv = _target(y, tname)
    if len(yv) != values.shape[0]:
        raise ValueError(f"targets: {len(yv)} rows but compositions have {values.shape[0]}")
    if composition == "auto":
        composition = "counts" if np.all(np.mod(values, 1.0) == 0.0) else "fractions"
    # Layers keep the caller's keys (matscope's are any hashable); the
    # library gets their string forms, which must then be distinct.
    keys = list(layers)
    names = [str(k) for k in keys]
    if len(set(names)) != len(names):
        raise ValueError(f"layer names {keys!r} are not distinct as strings")
    arrays = {n: _matscope_array(layers[k]) for k, n in zip(keys, names)}
    threads = settings.pop("threads", None)
    given = dict(settings, probes=list(probes), composition=composition)
    ids = [str(i) for i in range(values.shape[0])]
    args = (
        [("H", list(arrays.items()))],
        ids,
        elements,
        values,
        ids,
        [tname],
        yv[:, None],
    )
    full: Optional[Report] = None
    if report:
        full = Report(_cpd.analyze(*args, _settings_json(given), threads))
        # The target's records only (settings such as controls=True add
        # other targets).
        ours = [r for r in full.results if r["channels"] is None and r["target"] == tname]
        r2 = {(r["layer"], r["representation"], r["probe"]): r["r2_mean"] for r in ours}
        folds = {(r["layer"], r["probe"]): r["r2_folds"] for r in ours if r["representation"] == "geom"}
        share = {s["layer"]: s["composition_share"] for s in full.layer_stats}
        rank, dropped = full.composition["rank"], full.composition["dropped"]
        seed = full.settings.get("seed")
    else:
        records, stats, rank, dropped, _ = _cpd.residual(*args, _settings_json(given), threads)
        ours = [r for r in records if r[2] == tname]
        r2 = {(layer, "geom", probe): mean for _, layer, _, probe, _, mean in ours}
        folds = {(layer, probe): f for _, layer, _, probe, f, _ in ours}
        share = {layer: s for _, layer, s in stats}
        seed = given.get("seed", 0) if given.get("folds_file") is None else None
    cv_folds = len(next(iter(folds.values()))) if folds else settings.get("folds", 5)
    out = {}
    for key, (layer, H) in zip(keys, arrays.items()):
        lin = r2.get((layer, "geom", "ridge"))
        mlp = r2.get((layer, "geom", "mlp"))
        lin_v = 0.0 if lin is None and "ridge" not in probes else _nan(lin)
        mlp_v = 0.0 if mlp is None and "mlp" not in probes else _nan(mlp)
        explained = _nan(share.get(layer))
        out[key] = CPDResult(
            layer_name=key,
            composition_r2=explained,
            residual_linear_r2=lin_v,
            residual_mlp_r2=mlp_v,
            linear_nonlinear_gap=mlp_v - lin_v,
            target_property=target_property,
            composition_variance_explained=explained,
            metadata={
                "n_samples": int(H.shape[0]),
                "hidden_dim": int(H.shape[1]),
                "n_elements": len(elements),
                "composition_alpha": composition_alpha,
                "cv_folds": cv_folds,
                "seed": seed,
                "rank": rank,
                "dropped": list(dropped),
                "r2_folds": {p: folds[(layer, p)] for p in probes if (layer, p) in folds},
            },
            target_composition_r2=r2.get((layer, "composition", list(probes)[0])) if report else None,
            raw_linear_r2=r2.get((layer, "raw", "ridge")) if report else None,
            raw_mlp_r2=r2.get((layer, "raw", "mlp")) if report else None,
            report=full,
        )
    return out, full


def _matscope_array(x: ArrayLike) -> np.ndarray:
    """A layer as matscope takes it: float32 and float64 in place, any
    other real dtype (integers, float16, ...) as a float64 copy."""
    a = _array(x)
    if a.dtype.kind in "biuf" and a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    return a


def _nan(x: Optional[float]) -> float:
    return float("nan") if x is None else float(x)


def decompose(
    H: ArrayLike,
    compositions: TableLike,
    y: ArrayLike,
    layer_name: str = "unknown",
    target_property: str = "unknown",
    *,
    probes: Sequence[str] = ("ridge", "mlp"),
    composition: str = "auto",
    report: bool = False,
    **settings: Any,
) -> CPDResult:
    """matscope's ``decompose(H, compositions, y)``, computed the cpd way.

    Parameters
    ----------
    H : array, n × d
        One layer's embeddings, float32 or float64 (read in place).
    compositions : array (n × k) or table
        Counts or fractions per element. An unnamed array's columns are
        labelled H, He, Li, ... in order (labels only).
    y : array, n
        The target.
    layer_name, target_property : str
        Labels of the result (and of the report).
    probes : sequence of str
        ``("ridge", "mlp")`` as matscope's ``probe_type="both"``;
        ``("ridge",)`` or ``("mlp",)`` for one (the other R² is then 0.0,
        as in matscope).
    composition : {"auto", "counts", "fractions"}
        ``auto``: counts when every value is a whole number, else fractions.
    report : bool
        False (default): the probes are fitted on the residual only, as
        matscope fits them. True: the whole analysis of :func:`analyze`
        (composition alone, raw and residual, the conditional R², 95 %
        intervals), in ``result.report``, and the extras filled; the
        residual's R² are the same numbers either way (without
        ``permutations``, whose null fits ride along with ridge's).
    **settings
        Any setting of :func:`analyze` (``folds=5``, ``seed=0``,
        ``mlp_hidden=128``, ``threads``, ...).

    Returns
    -------
    CPDResult

    Notes
    -----
    Differences from matscope 0.2.0's
    ``CompositionProjectionDecomposition().decompose`` (``docs/python.md``
    has them as a table):

    - Projection: exact orthogonal projection off ``[1 | C]`` (pivoted
      QR), instead of a ridge fit (alpha 1) of ``H`` on standardised ``C``
      whose residual keeps a part of composition.
    - Folds: shuffled, seeded k-fold (one assignment shared by every
      probe), instead of scikit-learn's unshuffled ``KFold``
      (``cross_validate(cv=5)``), which follows the file order.
    - Linear probe: ridge on scaled features with alpha chosen by
      leave-one-out on each training fold from ``logspace(-3, 3, 13)``
      (``RidgeCV``), instead of a fixed ``Ridge(alpha=1)``.
    - MLP probe: scikit-learn's ``MLPRegressor`` recipe (Adam, early
      stopping on 10 %, 128 ReLU units) with the target standardised on
      the training fold, at most 200 epochs (``mlp_max_epochs``; matscope:
      5000), seeded (matscope's is unseeded), single precision.
    - ``composition_r2`` and ``composition_variance_explained`` are the same
      number, from the exact projection.
    """
    results, _ = _layers(
        {layer_name: H}, compositions, y, target_property, probes, composition, report, 1.0, settings
    )
    return results[layer_name]


class CompositionProjectionDecomposition:
    """matscope's class, so that ``from cpd import
    CompositionProjectionDecomposition, CPDResult, CPDProfile`` is the one
    change a matscope script needs.

    Parameters
    ----------
    composition_alpha : float
        Accepted, recorded in ``metadata`` and unused: the projection is
        exact (no ridge fit).
    probe_type : {"both", "linear", "mlp"}
    cv_folds : int
    mlp_hidden_dim : int
    random_state : int or None
        Seed of the folds and the MLP (None: 0).
    report : bool
        Keep the whole analysis (see :func:`decompose`).
    **settings
        Any further setting of :func:`analyze`.
    """

    def __init__(
        self,
        composition_alpha: float = 1.0,
        probe_type: str = "both",
        cv_folds: int = 5,
        mlp_hidden_dim: int = 128,
        random_state: Optional[int] = 42,
        *,
        report: bool = False,
        **settings: Any,
    ):
        self.composition_alpha = composition_alpha
        self.probe_type = probe_type
        self.cv_folds = cv_folds
        self.mlp_hidden_dim = mlp_hidden_dim
        self.random_state = random_state
        self.report = report
        self.settings = settings

    def _run(self, layers, compositions, targets, target_property):
        probes = {"both": ("ridge", "mlp"), "linear": ("ridge",), "mlp": ("mlp",)}.get(
            self.probe_type
        )
        if probes is None:
            raise ValueError(f"probe_type '{self.probe_type}': expected both, linear or mlp")
        settings = dict(
            folds=self.cv_folds,
            seed=0 if self.random_state is None else int(self.random_state),
            mlp_hidden=self.mlp_hidden_dim,
        )
        settings.update(self.settings)
        composition = settings.pop("composition", "auto")
        return _layers(
            layers,
            compositions,
            targets,
            target_property,
            probes,
            composition,
            self.report,
            self.composition_alpha,
            settings,
        )

    def decompose(
        self,
        representations: ArrayLike,
        compositions: TableLike,
        targets: ArrayLike,
        layer_name: str = "unknown",
        target_property: str = "unknown",
    ) -> CPDResult:
        """:func:`decompose` with this object's settings."""
        results, _ = self._run({layer_name: representations}, compositions, targets, target_property)
        return results[layer_name]

    def profile(
        self,
        representations: Mapping[str, ArrayLike],
        compositions: TableLike,
        targets: ArrayLike,
        model_name: str = "unknown",
        target_property: str = "unknown",
    ) -> CPDProfile:
        """:meth:`decompose` on every layer of ``{layer: H}``, in one library
        call (one projection basis and one set of folds for every layer)."""
        if not isinstance(representations, Mapping) or not representations:
            raise ValueError("representations: expected a non-empty dict of layer name to array")
        results, full = self._run(representations, compositions, targets, target_property)
        return CPDProfile(
            model_name=model_name,
            results=results,
            target_property=target_property,
            report=full,
        )

    @staticmethod
    def compare_profiles(profiles: Mapping[str, CPDProfile]) -> Dict[str, Dict[str, Any]]:
        """matscope's comparison of models: for each, its best layer's
        ``best_residual_r2``, ``best_gap`` and ``best_disentanglement``,
        ``mean_composition_r2`` over its layers, its ``trajectory``, and its
        ``disentanglement_rank`` (1: highest best-layer disentanglement;
        ties keep the given order). No interval: the whole analysis of
        several models (:func:`analyze`) says which differences are
        resolved."""
        comparison: Dict[str, Dict[str, Any]] = {}
        for name, profile in profiles.items():
            best = profile.results[profile.best_layer]
            comparison[name] = {
                "best_residual_r2": best.residual_linear_r2,
                "best_gap": best.linear_nonlinear_gap,
                "best_disentanglement": best.disentanglement_score,
                "mean_composition_r2": np.mean([r.composition_r2 for r in profile.results.values()]),
                "trajectory": profile.disentanglement_trajectory,
            }
        ranked = sorted(comparison.items(), key=lambda kv: kv[1]["best_disentanglement"], reverse=True)
        for rank, (_, stats) in enumerate(ranked, 1):
            stats["disentanglement_rank"] = rank
        return comparison


@dataclass
class CheckResult:
    """The outcome of :func:`check` (``cpd check``).

    Attributes
    ----------
    passed : bool
        No record moved beyond its tolerance, none is missing.
    rows : list of dict
        Every record: key, status (ok, moved, missing, new), baseline, new,
        delta, tol.
    settings_differ : list of str
        Settings that differ between the reports.
    unstable : list of (str, str)
        Records flagged unstable, and in which report.
    """

    passed: bool
    rows: List[Dict[str, Any]]
    settings_differ: List[str]
    unstable: List[Tuple[str, str]]

    def __bool__(self) -> bool:
        return self.passed

    def count(self, status: str) -> int:
        """Records with ``status`` (ok, moved, missing, new)."""
        return sum(r["status"] == status for r in self.rows)


def _report_source(x: Any, label: str):
    if isinstance(x, Report):
        return (x.to_json(), label)
    if isinstance(x, Mapping):
        return (json.dumps(x), label)
    return os.fspath(x)


def check(
    baseline: Union[str, os.PathLike, Report, Mapping[str, Any]],
    report: Union[str, os.PathLike, Report, Mapping[str, Any]],
    tol: float = 0.02,
    metric: str = "r2_mean",
) -> CheckResult:
    """Compare a report with a baseline, as ``cpd check``.

    Parameters
    ----------
    baseline, report : path, Report or dict
        ``report.json`` files, :class:`Report` objects or their dicts.
        Baseline records may carry their own ``"tol"``.
    tol : float
        Largest accepted ``|new − baseline|`` for records without their own.
    metric : str
        ``r2_mean``, ``r2_median``, ``r2_pooled``, ``r2_std``, ``mae`` or
        ``rmse``.

    Returns
    -------
    CheckResult
        Truthy when the check passed.

    Raises
    ------
    FileNotFoundError
        A report file does not exist.
    ValueError
        A report is not a cpd report, or a setting is out of range.
    """
    passed, rows, differ, unstable = _cpd.check(
        _report_source(baseline, "baseline"), _report_source(report, "report"), float(tol), metric
    )
    return CheckResult(
        passed=passed,
        rows=[
            {
                "key": k,
                "status": s,
                "baseline": b,
                "new": n,
                "delta": None if b is None or n is None else n - b,
                "tol": t,
            }
            for k, s, b, n, t in rows
        ],
        settings_differ=list(differ),
        unstable=[tuple(u) for u in unstable],
    )
