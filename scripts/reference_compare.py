#!/usr/bin/env python3
"""Reference numbers for comparing two representations (tests/fixtures/compare.json).

Purpose
-------
Compute, with the reference packages themselves, the measures that compare two
representations ``A`` (n x d_a) and ``B`` (n x d_b) of the same structures,
on the raw layers and on their composition residual (``geom``), and write
them to a JSON fixture for the Rust test suite:

* ``scikit-matter`` (PyPI distribution ``skmatter``) 0.4.1,
  ``skmatter.metrics``: the global feature reconstruction error GFRE(A->B)
  (``pointwise_global_reconstruction_error``), distortion GFRD(A->B)
  (``pointwise_global_reconstruction_distortion``) and the local one
  LFRE(A->B) (``pointwise_local_reconstruction_error``, ``n_local_points`` =
  20, the value of skmatter's own LFRE example; it has no default), every
  other argument at its default, on the folds: for each fold ``k``,
  ``train_idx`` = rows not in ``k`` (ascending), ``test_idx`` = rows in ``k``
  (ascending). Per fold: skmatter's single-split value
  ``||e|| / sqrt(n_test)`` of the pointwise errors ``e``; overall: the same
  formula over all held-out rows of all folds,
  ``sqrt(mean_i e_i^2)`` (every row is held out once; each fold's errors are
  in the units of that fold's scaling). Per row (with ``--pointwise``): the
  pointwise error of the fold that held the row out.
* ``DADApy`` 0.3.4: the information imbalance Delta(A->B) with ``k = 1``
  (``MetricComparisons(coordinates=A).return_information_imbalace(B,
  subset_size=n)[0][0]``: all rows, full ranks, no random part) and the TwoNN
  intrinsic dimension of every layer and representation
  (``Data(coordinates=X).compute_id_2NN()``, defaults).
* NumPy: the unbiased linear CKA (Song et al. 2012's HSIC_1, as used for CKA
  by Kornblith et al. 2019 / Nguyen et al. 2021), from the n x n kernel form
  (zero diagonals, HSIC_1 formula) and from the feature-space form of
  Kornblith's ``feature_space_linear_cka(X, Y, debiased=True)``; both are
  recorded and must agree.

GFRD for ``d_a > d_b``: skmatter 0.4.1 raises ``ValueError`` (it pads the
source and target to ``max(d_a, d_b)`` columns for the orthogonal fit but
subtracts the unpadded linear prediction). The fixture then holds the padded
extension (both predictions padded with zeros to ``max(d_a, d_b)`` columns,
which is exactly skmatter's result whenever ``d_a <= d_b``), computed with
skmatter's own scaler, ``Ridge2FoldCV`` and ``OrthogonalRegression``, and
tagged ``"source": "padded_extension"`` (else ``"skmatter"``).

Every number is also recomputed by an independent NumPy implementation of the
written specification of these measures (the functions ``np_*`` below follow
it line by line), and the largest differences are stored under ``checks``;
the run stops if they are not small. Per-record ``diagnostics`` say how robust
each number is to rounding-level differences in another implementation: the
GFRD null-space sensitivity (the Procrustes map is not unique, the GFRD is, up
to this), the CV margins of the ridge fits (global and LFRE-local: how far the
chosen cutoff is ahead of any cutoff giving another model), the relative gap
at the LFRE k-th neighbour and at A's nearest neighbour (Delta), and ties.

Data
----
The first ``--n`` (default 600) structures of ``data/compositions.csv``, in
file order, whose id is in every embedding file; layers ``ani2x/aev``,
``chgnet/conv4``, ``sevennet0/l_last``, ``sevennet0/l_prev`` (float32 on disk,
converted to float64), plus ``chgnet/conv4@rot``: ``chgnet/conv4`` (as float64)
times a random orthogonal 64 x 64 matrix (stored in the fixture; its geom is
``geom(conv4) @ R``). ``geom`` is cpd's residual, built with
``scripts/reference.py`` (``composition_basis``, ``geometric_residual``:
pivoted QR of the max-scaled ``[1 | C]``, columns it explains entirely set to
exactly 0 with the stored dtype's tolerance, 1e-5 for float32). The layer
values are NOT in the fixture: the Rust test reads the npz files and selects
the fixture's ``ids``.

Folds: ``--folds FILE`` (``id,fold`` CSV, e.g. cpd's ``folds.csv``; it may
hold more ids than are used: the fold of each used id is taken as is and the
numbers must be 0..k-1 with no fold empty), otherwise 5 folds:
``p = numpy.random.default_rng(0).permutation(n)``, row ``p[i]`` in fold
``i % 5``. The assignment is written to the fixture (``folds.fold``, row
order of ``ids``).

With ``--timing`` the script also times each reference measure once on all
2500 rows for ani2x/aev -> sevennet0/l_last, raw (``timings_n2500``).

Usage (from the repository root; the reference packages do not install next
to scripts/requirements-ref.txt: dadapy 0.3.4 needs numpy < 2 and skmatter
0.4.1 needs scikit-learn < 1.9)
--------------------------------------------------------------------------
    python3 -m venv /tmp/venv-compare
    /tmp/venv-compare/bin/pip install -r scripts/requirements-compare.txt
    /tmp/venv-compare/bin/python scripts/reference_compare.py --timing \
        [--folds FOLDS.csv] [--n 600] [--out tests/fixtures/compare.json]

Single-threaded (threadpoolctl): about 5 minutes on the 2-core development
machine while it was also compiling, plus 50 s for ``--timing``.

Fixture
-------
``versions``, ``n``, ``ids`` (row order of every per-row array),
``composition_columns``, ``composition`` (counts), ``composition_rank``,
``folds`` (``source``, ``fold``), ``layers`` (name, npz file and key, stored
dtype, d; the rotated layer's definition), ``rotation`` (``matrix``),
``settings`` (alphas, seeds, k, ...), ``records`` (one per ordered pair and
representation: ``a``, ``b``, ``representation``, ``gfre`` / ``gfrd`` /
``lfre`` each with ``folds``, ``overall``, ``pointwise`` (10 significant
digits) and, for ``gfrd``, ``source``; ``ridge_alpha_index`` and
``ridge_kept`` per fold; ``information_imbalance`` and ``ii_ranks`` (the
B-rank of each row's A-nearest neighbour, 1 = nearest); ``cka_unbiased``
(kernel form) and ``cka_unbiased_feature_form``; ``diagnostics``), ``twonn``
(per layer and representation: ``twonn_id`` from DADApy, ``twonn_id_exact``
from the closed form on exact distances), ``checks`` and, with ``--timing``,
``timings_n2500``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import scipy
import sklearn
from scipy.spatial.distance import cdist
from threadpoolctl import threadpool_limits

from dadapy import Data, MetricComparisons
from skmatter.linear_model import OrthogonalRegression, Ridge2FoldCV
from skmatter.metrics import (
    pointwise_global_reconstruction_distortion,
    pointwise_global_reconstruction_error,
    pointwise_local_reconstruction_error,
)
from skmatter.preprocessing import StandardFlexibleScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402  (CSV loading, composition basis, residual)

REPO_ROOT = Path(__file__).resolve().parent.parent
GENERATOR = "scripts/reference_compare.py"
LAYERS = [("ani2x", "aev"), ("chgnet", "conv4"), ("sevennet0", "l_last"), ("sevennet0", "l_prev")]
ROTATED = "chgnet/conv4"
ROT_NAME = ROTATED + "@rot"
ROT_SEED = 20240607
FOLD_SEED = 0
N_FOLDS = 5
N_LOCAL_POINTS = 20
# skmatter's defaults (skmatter/metrics/_reconstruction_measures.py,
# check_global_reconstruction_measures_input).
SKM_ALPHAS = np.geomspace(1e-9, 0.9, 20)
SKM_RANDOM_STATE = 0x5F3759DF
SCALER_ATOL = 1e-12
EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #


def load_subset(n: int, layers=LAYERS):
    """The first ``n`` compositions rows whose id is in every embedding file.

    Returns ``(ids, comp_columns, C, mats)``, ``mats[name]`` the stored
    (float32) layer with rows in ``ids`` order.
    """
    comp = ref.read_id_csv(REPO_ROOT / "data/compositions.csv")
    files = {}
    for model, _ in layers:
        if model not in files:
            with np.load(REPO_ROOT / f"data/embeddings/{model}.npz") as z:
                files[model] = {k: z[k] for k in z.files}
    index = {
        m: {ref._id_key(v): i for i, v in enumerate(f["ids"].tolist())} for m, f in files.items()
    }
    rows = [i for i, rid in enumerate(comp.ids)
            if all(ref._id_key(rid) in index[m] for m in files)]
    if len(rows) < n:
        raise ValueError(f"only {len(rows)} ids are in every file, asked for {n}")
    rows = rows[:n]
    ids = [comp.ids[i] for i in rows]
    mats = {}
    for model, layer in layers:
        order = [index[model][ref._id_key(rid)] for rid in ids]
        mats[f"{model}/{layer}"] = files[model][layer][order]
    return ids, comp.columns, comp.values[rows], mats


def own_folds(n: int) -> np.ndarray:
    """Row ``p[i]`` in fold ``i % 5``, ``p = default_rng(0).permutation(n)``."""
    p = np.random.default_rng(FOLD_SEED).permutation(n)
    fold = np.empty(n, dtype=np.int64)
    fold[p] = np.arange(n) % N_FOLDS
    return fold


def folds_from_csv(path: Path, ids: list[str]) -> np.ndarray:
    """Fold of every id of ``ids`` from an ``id,fold`` CSV (a superset is fine)."""
    table = ref.read_id_csv(path)
    col = table.values[:, table.columns.index("fold")]
    by_id = {ref._id_key(r): v for r, v in zip(table.ids, col)}
    missing = [r for r in ids if ref._id_key(r) not in by_id]
    if missing:
        raise ValueError(f"{path}: no fold for ids {missing[:3]}")
    fold = np.array([by_id[ref._id_key(r)] for r in ids])
    if not np.all(fold == np.round(fold)) or fold.min() < 0:
        raise ValueError(f"{path}: folds must be integers 0..k-1")
    fold = fold.astype(np.int64)
    k = int(fold.max()) + 1
    if k < 2 or any(not np.any(fold == f) for f in range(k)):
        raise ValueError(f"{path}: need >= 2 non-empty folds 0..k-1 on the rows used")
    return fold


def random_rotation(d: int, seed: int) -> np.ndarray:
    """Haar-random orthogonal matrix: QR of a Gaussian matrix, signs fixed by diag(R)."""
    g = np.random.default_rng(seed).normal(size=(d, d))
    q, r = np.linalg.qr(g)
    return q * np.sign(np.diag(r))


# --------------------------------------------------------------------------- #
# Independent NumPy implementation of the specification
# --------------------------------------------------------------------------- #


def mt19937_legacy_shuffle(m: int, seed: int = SKM_RANDOM_STATE) -> list[int]:
    """``numpy.random.RandomState(seed).shuffle(arange(m))`` in plain Python.

    MT19937 seeded by ``init_genrand(seed)`` (seed < 2**32); Fisher-Yates from
    the end: for ``i = m-1 .. 1``, ``j`` = the first ``next_uint32() & mask``
    that is ``<= i``, ``mask`` the smallest ``2**b - 1 >= i``; swap ``a[i], a[j]``.
    """
    mt = [0] * 624
    mt[0] = seed & 0xFFFFFFFF
    for i in range(1, 624):
        mt[i] = (1812433253 * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i) & 0xFFFFFFFF
    state = {"idx": 624}

    def next_u32() -> int:
        if state["idx"] >= 624:
            for i in range(624):
                y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
                mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            state["idx"] = 0
        y = mt[state["idx"]]
        state["idx"] += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y

    a = list(range(m))
    for i in range(m - 1, 0, -1):
        mask = i
        for s in (1, 2, 4, 8, 16):
            mask |= mask >> s
        while True:
            j = next_u32() & mask
            if j <= i:
                break
        a[i], a[j] = a[j], a[i]
    return a


def np_two_fold_split(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Ridge2FoldCV's folds of ``m`` rows: ``KFold(2, shuffle=True, random_state=0x5F3759DF)``'s
    first split. ``fold2`` = the first ``ceil(m/2)`` shuffled positions, ``fold1`` = the rest,
    both ascending."""
    perm = np.array(mt19937_legacy_shuffle(m), dtype=np.int64)
    c = (m + 1) // 2
    return np.sort(perm[c:]), np.sort(perm[:c])


_SPLITS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def split_for(m: int):
    if m not in _SPLITS:
        _SPLITS[m] = np_two_fold_split(m)
    return _SPLITS[m]


def np_flex_scale(train: np.ndarray, test: np.ndarray):
    """StandardFlexibleScaler(): centre on the training mean, divide by sqrt(sum of the
    training columns' variances, ddof 0)."""
    mu = train.mean(axis=0)
    var_sum = ((train - mu) ** 2).mean(axis=0).sum()
    if var_sum < SCALER_ATOL:
        raise ValueError("Cannot normalize a matrix with zero variance")
    s = np.sqrt(var_sum)
    return (train - mu) / s, (test - mu) / s


def _rmse_cols(y: np.ndarray, p: np.ndarray) -> float:
    """sklearn's root_mean_squared_error, multioutput='uniform_average'."""
    return float(np.mean(np.sqrt(np.mean((y - p) ** 2, axis=0))))


def np_ridge2fold(X: np.ndarray, Y: np.ndarray):
    """Ridge2FoldCV(alphas=geomspace(1e-9, 0.9, 20), alpha_type='relative',
    regularization_method='cutoff', random_state=0x5F3759DF, shuffle=True,
    scoring='neg_root_mean_squared_error').fit(X, Y) -> (W, alpha index, kept, margin).

    ``margin``: how far the chosen alpha's CV score is ahead of the best alpha that
    would give a different model (other half-fold cut counts and another final cut),
    relative to |score|; a margin at rounding level means another implementation may
    choose differently. ``inf`` when every alpha gives the same model."""
    m, d = X.shape
    f1, f2 = split_for(m)
    X1, X2, Y1, Y2 = X[f1], X[f2], Y[f1], Y[f2]
    U1, s1, V1t = np.linalg.svd(X1, full_matrices=False)
    U2, s2, V2t = np.linalg.svd(X2, full_matrices=False)
    rcond = max(m, d) * EPS
    n1, n2 = int(np.sum(s1 > rcond)), int(np.sum(s2 > rcond))
    B1, B2 = U1.T[:n1] @ Y1, U2.T[:n2] @ Y2
    A1, A2 = X2 @ V1t.T[:, :n1], X1 @ V2t.T[:, :n2]
    smax = max(np.max(s1), np.max(s2))
    scores, cuts = [], []
    for a in SKM_ALPHAS * smax:
        k1 = min(n1, int(np.sum(s1 > a)))
        k2 = min(n2, int(np.sum(s2 > a)))
        cuts.append((k1, k2))
        l12 = -_rmse_cols(Y2, (A1[:, :k1] / s1[:k1]) @ B1[:k1])
        l21 = -_rmse_cols(Y1, (A2[:, :k2] / s2[:k2]) @ B2[:k2])
        scores.append((l12 + l21) / 2)
    best = int(np.argmax(scores))
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    finals = [min(len(s), int(np.sum(s > a * smax))) for a in SKM_ALPHAS]
    k = finals[best]
    W = (Vt.T[:, :k] / s[:k]) @ (U.T[:k] @ Y)
    rivals = [scores[i] for i in range(len(scores)) if cuts[i] != cuts[best] and finals[i] != k]
    margin = (scores[best] - max(rivals)) / abs(scores[best]) if rivals else np.inf
    return W, best, k, margin


def np_procrustes_predict(Xtr, Ytr_hat, Xte, D, rng):
    """Padded orthogonal regression: ``R = U V^T`` from ``svd(pad(Xtr)^T pad(Ytr_hat))``;
    returns ``pad(Xte) @ R`` and the same with the null-space pairing of ``R`` replaced
    by a random one, ``U_r V_r^T + U_0 O V_0^T`` (``r`` = number of singular values
    ``> D * eps * w_max``): mathematically the prediction error does not change, so the
    difference measures how well the reference's GFRD is determined numerically."""
    Xp = np.pad(Xtr, [(0, 0), (0, D - Xtr.shape[1])])
    Yp = np.pad(Ytr_hat, [(0, 0), (0, D - Ytr_hat.shape[1])])
    u, w, vt = np.linalg.svd(Xp.T @ Yp)
    R = u @ vt
    r = int(np.sum(w > D * EPS * w[0]))
    o = random_rotation(D - r, int(rng.integers(1 << 31)))
    R_alt = u[:, :r] @ vt[:r] + u[:, r:] @ o @ vt[r:]
    Xte_p = np.pad(Xte, [(0, 0), (0, D - Xte.shape[1])])
    return Xte_p @ R, Xte_p @ R_alt


def np_global_fold(A, B, tr, te, rng):
    """Pointwise GFRE and GFRD (padded) of one split, the GFRD with a random null-space
    pairing, and the ridge details (alpha index, kept singular values)."""
    Xtr, Xte = np_flex_scale(A[tr], A[te])
    Ytr, Yte = np_flex_scale(B[tr], B[te])
    W, best, k, margin = np_ridge2fold(Xtr, Ytr)
    pred = Xte @ W
    gfre = np.linalg.norm(Yte - pred, axis=1)
    D = max(A.shape[1], B.shape[1])
    ortho, ortho_alt = np_procrustes_predict(Xtr, Xtr @ W, Xte, D, rng)
    padded = np.pad(pred, [(0, 0), (0, D - pred.shape[1])])
    gfrd = np.linalg.norm(padded - ortho, axis=1)
    gfrd_alt = np.linalg.norm(padded - ortho_alt, axis=1)
    return gfre, gfrd, best, k, gfrd_alt, margin


def np_lfre_fold(A, B, tr, te, k=N_LOCAL_POINTS):
    """Pointwise LFRE of one split, the smallest relative gap between the k-th and
    (k+1)-th neighbour's squared distance (near-ties would make the neighbour set fragile)
    and the smallest CV margin of the local ridge fits (see np_ridge2fold)."""
    Xtr, Xte = np_flex_scale(A[tr], A[te])
    Ytr, Yte = np_flex_scale(B[tr], B[te])
    sq = np.sum(Xtr**2, axis=1) + np.sum(Xte**2, axis=1)[:, None] - 2 * Xte @ Xtr.T
    out = np.empty(len(te))
    gap = np.inf
    margin = np.inf
    for i in range(len(te)):
        order = np.argsort(sq[i])
        if len(order) > k:
            dk, dk1 = sq[i, order[k - 1]], sq[i, order[k]]
            gap = min(gap, (dk1 - dk) / max(abs(dk1), 1e-300))
        idx = order[:k]
        Xl, Yl = Xtr[idx], Ytr[idx]
        mx, my = Xl.mean(axis=0), Yl.mean(axis=0)
        W, _, _, m = np_ridge2fold(Xl - mx, Yl - my)
        margin = min(margin, m)
        out[i] = np.linalg.norm(Yte[i] - (my + (Xte[i] - mx) @ W))
    return out, gap, margin


def np_nn_ranks(A, B):
    """For each row i: j = nearest other row in A (exact Euclidean distances), and
    r = 1 + #{l != i : d_B(i,l) < d_B(i,j)} (1 = nearest in B). Also the smallest
    relative gap between A's first and second neighbour and the number of ties in B."""
    DA = cdist(A, A)
    DB = cdist(B, B)
    n = len(A)
    np.fill_diagonal(DA, np.inf)
    nn = np.argmin(DA, axis=1)
    srt = np.sort(DA, axis=1)
    gapA = float(np.min((srt[:, 1] - srt[:, 0]) / np.maximum(srt[:, 1], 1e-300)))
    dj = DB[np.arange(n), nn]
    np.fill_diagonal(DB, np.inf)
    ranks = 1 + np.sum(DB < dj[:, None], axis=1)
    ties = int(np.sum(np.sum(DB == dj[:, None], axis=1) > 1))
    return nn, ranks, gapA, ties


def np_information_imbalance(A, B):
    nn, ranks, gap, ties = np_nn_ranks(A, B)
    return 2.0 * np.mean(ranks) / len(A), nn, ranks, gap, ties


def np_twonn(X, mu_fraction=0.9):
    """TwoNN (Facco et al. 2017) as DADApy's compute_id_2NN(algorithm='base'):
    mu = r2/r1, keep the floor(0.9 N) smallest log(mu), least squares through the
    origin of y = -log(1 - i/N) (i = 1..n_eff) on x = sorted log(mu)."""
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    D.sort(axis=1)
    mu = D[:, 1] / D[:, 0]
    N = len(mu)
    n_eff = int(N * mu_fraction)
    x = np.sort(np.log(mu))[:n_eff]
    y = -np.log(1 - np.arange(1, n_eff + 1) / N)
    return float(np.dot(x, y) / np.dot(x, x))


def cka_kernel_hsic1(X, Y):
    """Unbiased linear CKA from n x n Gram matrices of the column-centred features:
    HSIC_1 (Song et al. 2012) with zeroed diagonals."""
    def hsic1(K, L):
        n = K.shape[0]
        one_K, one_L = K.sum(axis=0), L.sum(axis=0)
        return (np.sum(K * L) + K.sum() * L.sum() / ((n - 1) * (n - 2))
                - 2.0 / (n - 2) * one_K @ one_L) / (n * (n - 3))

    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    K, L = Xc @ Xc.T, Yc @ Yc.T
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    return float(hsic1(K, L) / np.sqrt(hsic1(K, K) * hsic1(L, L)))


def cka_kernel_uncentred(X, Y):
    """The same from the uncentred Gram matrices through Kornblith's
    ``center_gram(unbiased=True)`` route (the estimator is invariant to a shift of the
    features: this is a check of that)."""
    def center(G):
        n = G.shape[0]
        G = G.copy()
        np.fill_diagonal(G, 0.0)
        means = G.sum(axis=0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        G -= means[:, None]
        G -= means[None, :]
        np.fill_diagonal(G, 0.0)
        return G

    K, L = center(X @ X.T), center(Y @ Y.T)
    return float(np.sum(K * L) / (np.linalg.norm(K) * np.linalg.norm(L)))


def cka_feature(X, Y):
    """Kornblith's feature_space_linear_cka(X, Y, debiased=True)."""
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    n = X.shape[0]

    def debias(xty, sx, sy, nx, ny):
        return xty - n / (n - 2.0) * sx.dot(sy) + nx * ny / ((n - 1) * (n - 2))

    sx, sy = np.einsum("ij,ij->i", X, X), np.einsum("ij,ij->i", Y, Y)
    nx, ny = sx.sum(), sy.sum()
    xy = np.linalg.norm(X.T @ Y) ** 2
    xx = np.linalg.norm(X.T @ X) ** 2
    yy = np.linalg.norm(Y.T @ Y) ** 2
    num = debias(xy, sx, sy, nx, ny)
    return float(num / (np.sqrt(debias(xx, sx, sx, nx, nx)) * np.sqrt(debias(yy, sy, sy, ny, ny))))


# --------------------------------------------------------------------------- #
# Reference packages
# --------------------------------------------------------------------------- #


def skm_gfrd_padded(A, B, tr, te):
    """GFRD with skmatter's own pieces, both predictions padded to max(d_a, d_b) columns.

    Identical to ``pointwise_global_reconstruction_distortion`` when d_a <= d_b (checked);
    defined by it when d_a > d_b, where skmatter 0.4.1 raises.
    """
    scaler = StandardFlexibleScaler()
    Xtr = scaler.fit(A[tr]).transform(A[tr])
    Xte = scaler.transform(A[te])
    Ytr = scaler.fit(B[tr]).transform(B[tr])
    est = Ridge2FoldCV(alphas=SKM_ALPHAS, alpha_type="relative", regularization_method="cutoff",
                       random_state=SKM_RANDOM_STATE, shuffle=True,
                       scoring="neg_root_mean_squared_error", n_jobs=1)
    pred = est.fit(Xtr, Ytr).predict(Xte)
    ortho = OrthogonalRegression(use_orthogonal_projector=False).fit(Xtr, est.predict(Xtr)).predict(Xte)
    D = ortho.shape[1]
    return np.linalg.norm(np.pad(pred, [(0, 0), (0, D - pred.shape[1])]) - ortho, axis=1)


def skm_information_imbalance(A, B) -> float:
    mc = MetricComparisons(coordinates=A, verbose=False)
    ab, _ = mc.return_information_imbalace(B, k=1, subset_size=A.shape[0])
    return float(ab[0])


def dadapy_nn_ok(X) -> bool:
    """Whether column 0 of DADApy's neighbour lists is every point itself (its convention)."""
    from dadapy._utils.utils import compute_nn_distances

    _, idx = compute_nn_distances(X, 2)
    return bool(np.all(idx[:, 0] == np.arange(len(X))))


def skm_twonn(X) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(Data(coordinates=X, verbose=False).compute_id_2NN()[0])


def pooled(e: np.ndarray) -> float:
    return float(np.linalg.norm(e) / np.sqrt(len(e)))


def fmt(v: np.ndarray) -> list[float]:
    """Per-row values at 10 significant digits (keeps the fixture near 1 MB)."""
    return [float(f"{x:.10g}") for x in v]


def strip_pointwise(fixture: dict) -> None:
    """Drop the per-row values and ranks (kept with ``--pointwise`` to locate a mismatch)."""
    for rec in fixture["records"]:
        rec.pop("ii_ranks", None)
        for m in ("gfre", "gfrd", "lfre"):
            rec[m].pop("pointwise", None)


def dump_json(obj) -> str:
    """``json.dumps(indent=1)`` with every innermost list (no nested list or object) on
    one line: readable diffs without a line per number."""
    text = json.dumps(obj, indent=1, allow_nan=False)
    flat = re.sub(r"\[[^\[\]{}]*\]", lambda m: re.sub(r"\s*\n\s*", "", m.group(0)), text)
    return flat + "\n"


def finite(x: float):
    """JSON has no infinity: ``None`` for 'no rival alpha'."""
    return float(x) if np.isfinite(x) else None


def compare_pair(A, B, folds, rng):
    """Every pairwise measure of (A, B); returns (record, check maxima)."""
    n = A.shape[0]
    kf = int(folds.max()) + 1
    pw = {m: np.zeros(n) for m in ("gfre", "gfrd", "lfre")}
    per_fold = {m: [] for m in pw}
    alpha_idx, kept = [], []
    chk = {"gfre": 0.0, "gfrd_excess": 0.0, "lfre": 0.0}
    gfrd_sens = 0.0
    lfre_gap = np.inf
    cv_margin, lfre_margin = np.inf, np.inf
    padded = A.shape[1] > B.shape[1]
    for f in range(kf):
        te = np.flatnonzero(folds == f)
        tr = np.flatnonzero(folds != f)
        g = pointwise_global_reconstruction_error(A, B, train_idx=tr, test_idx=te)
        if padded:
            d = skm_gfrd_padded(A, B, tr, te)
        else:
            d = pointwise_global_reconstruction_distortion(A, B, train_idx=tr, test_idx=te)
            if f == 0:
                same = skm_gfrd_padded(A, B, tr, te)
                chk["gfrd_ext_vs_skm"] = float(np.max(np.abs(same - d)))
        lo = pointwise_local_reconstruction_error(A, B, N_LOCAL_POINTS, train_idx=tr, test_idx=te)
        for m, v in (("gfre", g), ("gfrd", d), ("lfre", lo)):
            pw[m][te] = v
            per_fold[m].append(pooled(v))
        # independent implementation
        g2, d2, best, k, d3, margin = np_global_fold(A, B, tr, te, rng)
        lo2, gap, lmargin = np_lfre_fold(A, B, tr, te)
        lfre_gap = min(lfre_gap, gap)
        cv_margin = min(cv_margin, margin)
        lfre_margin = min(lfre_margin, lmargin)
        alpha_idx.append(best)
        kept.append(k)
        scale = lambda v: max(1.0, float(np.max(np.abs(v))))  # noqa: E731
        chk["gfre"] = max(chk["gfre"], float(np.max(np.abs(g - g2))) / scale(g))
        chk["lfre"] = max(chk["lfre"], float(np.max(np.abs(lo - lo2))) / scale(lo))
        # GFRD is fixed only up to the null-space pairing of the Procrustes SVD (see
        # np_procrustes_predict): numpy's and scipy's SVDs may pair it differently.
        sens = float(np.max(np.abs(d3 - d2))) / scale(d2)
        gfrd_sens = max(gfrd_sens, sens)
        chk["gfrd_excess"] = max(chk["gfrd_excess"],
                                 float(np.max(np.abs(d - d2))) / scale(d) - 10 * sens)
    ii = skm_information_imbalance(A, B)
    ii2, nn, ranks, gapA, tiesB = np_information_imbalance(A, B)
    ck = cka_kernel_hsic1(A, B)
    cf = cka_feature(A, B)
    cu = cka_kernel_uncentred(A, B)
    chk.update({
        "information_imbalance": abs(ii - ii2),
        "cka_kernel_vs_feature": abs(ck - cf),
        "cka_kernel_vs_uncentred_gram": abs(ck - cu),
    })
    rec = {
        "gfre": {"folds": per_fold["gfre"], "overall": pooled(pw["gfre"]), "pointwise": fmt(pw["gfre"])},
        "gfrd": {"folds": per_fold["gfrd"], "overall": pooled(pw["gfrd"]), "pointwise": fmt(pw["gfrd"]),
                 "source": "padded_extension" if padded else "skmatter"},
        "lfre": {"folds": per_fold["lfre"], "overall": pooled(pw["lfre"]), "pointwise": fmt(pw["lfre"])},
        "ridge_alpha_index": alpha_idx,
        "ridge_kept": kept,
        "information_imbalance": ii,
        "ii_ranks": [int(r) for r in ranks],
        "cka_unbiased": ck,
        "cka_unbiased_feature_form": cf,
        "diagnostics": {"gfrd_null_pairing_sensitivity": gfrd_sens,
                        "ridge_cv_min_margin": finite(cv_margin),
                        "lfre_local_cv_min_margin": finite(lfre_margin),
                        "lfre_min_rel_gap_k": float(lfre_gap), "ii_min_rel_gap_nn_a": gapA,
                        "ii_rows_with_ties_in_b": tiesB},
    }
    return rec, chk


# --------------------------------------------------------------------------- #
# Timing at n = 2500
# --------------------------------------------------------------------------- #


def timing_run(folds_path: Path | None) -> dict:
    ids, _, C, mats = load_subset(2500, [("ani2x", "aev"), ("sevennet0", "l_last")])
    A = mats["ani2x/aev"].astype(np.float64)
    B = mats["sevennet0/l_last"].astype(np.float64)
    folds = folds_from_csv(folds_path, ids) if folds_path else own_folds(len(ids))
    kf = int(folds.max()) + 1
    splits = [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in range(kf)]
    out = {}

    def clock(name, fn):
        t0 = time.perf_counter()
        fn()
        out[name] = round(time.perf_counter() - t0, 3)
        print(f"  timing {name}: {out[name]:.2f} s", file=sys.stderr)

    clock("gfre_5folds", lambda: [pointwise_global_reconstruction_error(A, B, train_idx=tr, test_idx=te)
                                  for tr, te in splits])
    clock("gfrd_5folds_padded_extension", lambda: [skm_gfrd_padded(A, B, tr, te) for tr, te in splits])
    clock("gfrd_5folds_reverse_skmatter_l_last_to_aev",
          lambda: [pointwise_global_reconstruction_distortion(B, A, train_idx=tr, test_idx=te)
                   for tr, te in splits])
    clock("lfre_5folds_k20", lambda: [pointwise_local_reconstruction_error(
        A, B, N_LOCAL_POINTS, train_idx=tr, test_idx=te) for tr, te in splits])
    clock("information_imbalance_full_ranks", lambda: skm_information_imbalance(A, B))
    clock("information_imbalance_dadapy_default_subset2000",
          lambda: MetricComparisons(coordinates=A).return_information_imbalace(B))
    clock("twonn_aev", lambda: skm_twonn(A))
    clock("twonn_l_last", lambda: skm_twonn(B))
    clock("cka_unbiased_kernel_form_numpy", lambda: cka_kernel_hsic1(A, B))
    clock("cka_unbiased_feature_form_numpy", lambda: cka_feature(A, B))
    out["pair"] = "ani2x/aev -> sevennet0/l_last, raw"
    out["n"] = len(ids)
    out["folds"] = kf
    return out


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write the representation-comparison fixture for cpd.")
    ap.add_argument("--folds", type=Path, default=None,
                    help="CSV id,fold (e.g. cpd's folds.csv); default: own seeded 5-fold assignment")
    ap.add_argument("--n", type=int, default=600, help="number of structures (default 600)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "tests/fixtures/compare.json")
    ap.add_argument("--pointwise", action="store_true",
                    help="also keep every record's per-row values and neighbour ranks (about 1 MB)")
    ap.add_argument("--timing", action="store_true",
                    help="also time each reference measure at n=2500 (ani2x/aev -> sevennet0/l_last)")
    args = ap.parse_args(argv)

    # One BLAS / OpenMP thread: reproducible sums, and OpenBLAS 0.3.30 (scipy's) was
    # 20x slower with 2 threads on a shared 2-core machine.
    threadpool_limits(1)
    t_start = time.perf_counter()
    for m in (20, 240, 480, 481):  # the Rust side needs only the algorithm; check it here
        perm = np.arange(m)
        np.random.RandomState(SKM_RANDOM_STATE).shuffle(perm)
        assert list(perm) == mt19937_legacy_shuffle(m), "MT19937 shuffle mismatch"

    ids, comp_cols, C, mats = load_subset(args.n)
    n = len(ids)
    folds = folds_from_csv(args.folds, ids) if args.folds else own_folds(n)
    Q, rank = ref.composition_basis(C)
    rot = random_rotation(mats[ROTATED].shape[1], ROT_SEED)
    reps: dict[str, dict[str, np.ndarray]] = {}
    for name, H in mats.items():
        reps[name] = {"raw": H.astype(np.float64), "geom": ref.geometric_residual(H, Q)}
    reps[ROT_NAME] = {r: reps[ROTATED][r] @ rot for r in ("raw", "geom")}
    names = [f"{m}/{l}" for m, l in LAYERS]
    pairs = [(a, b) for a in names for b in names] + [(ROTATED, ROT_NAME), (ROT_NAME, ROTATED)]

    rng = np.random.default_rng(7)
    records, checks = [], {}
    for a, b in pairs:
        for rep in ("raw", "geom"):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rec, chk = compare_pair(reps[a][rep], reps[b][rep], folds, rng)
            records.append({"a": a, "b": b, "representation": rep, **rec})
            for key, v in chk.items():
                checks[key] = max(checks.get(key, 0.0), v)
            print(f"{a} -> {b} [{rep}]: GFRE {rec['gfre']['overall']:.6f} GFRD "
                  f"{rec['gfrd']['overall']:.6f} LFRE {rec['lfre']['overall']:.6f} "
                  f"II {rec['information_imbalance']:.6f} CKA {rec['cka_unbiased']:.6f} "
                  f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)

    twonn = []
    for name in names + [ROT_NAME]:
        for rep in ("raw", "geom"):
            X = reps[name][rep]
            v = skm_twonn(X)
            v2 = np_twonn(X)
            checks["twonn_rel"] = max(checks.get("twonn_rel", 0.0), abs(v - v2) / abs(v2))
            twonn.append({"layer": name, "representation": rep, "twonn_id": v, "twonn_id_exact": v2,
                          "dadapy_self_first": dadapy_nn_ok(X)})

    limits = {"gfre": 1e-8, "gfrd_excess": 1e-8, "lfre": 1e-8,
              "gfrd_ext_vs_skm": 0.0, "information_imbalance": 1e-12,
              "cka_kernel_vs_feature": 1e-10, "cka_kernel_vs_uncentred_gram": 1e-10, "twonn_rel": 1e-5}
    bad = {k: v for k, v in checks.items() if v > limits[k]}
    print("checks (max |package - numpy spec|):", json.dumps(checks), file=sys.stderr)
    if bad:
        raise SystemExit(f"reference and specification disagree: {bad}")

    fixture = {
        "generator": GENERATOR,
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
                     "skmatter": version("skmatter"), "dadapy": version("dadapy")},
        "n": n,
        "ids": ids,
        "composition_columns": comp_cols,
        "composition": C.astype(np.int64).tolist(),
        "composition_rank": rank,
        "folds": {"source": str(args.folds) if args.folds else
                  "own: p = numpy.random.default_rng(0).permutation(n); row p[i] in fold i % 5",
                  "fold": folds.tolist()},
        "layers": [{"name": f"{m}/{l}", "file": f"data/embeddings/{m}.npz", "key": l,
                    "stored_dtype": str(mats[f"{m}/{l}"].dtype), "d": int(mats[f"{m}/{l}"].shape[1])}
                   for m, l in LAYERS]
        + [{"name": ROT_NAME, "rotation_of": ROTATED, "d": int(rot.shape[0]),
            "definition": "raw = float64(conv4) @ rotation; geom = geom(conv4) @ rotation"}],
        "rotation": {"of": ROTATED, "seed": ROT_SEED,
                     "method": "q * sign(diag(r)), (q, r) = numpy.linalg.qr(default_rng(seed).normal(size=(d, d)))",
                     "matrix": rot.tolist()},
        "settings": {
            "alphas_relative": SKM_ALPHAS.tolist(),
            "ridge2fold_random_state": SKM_RANDOM_STATE,
            "scaler": "StandardFlexibleScaler(column_wise=False, atol=1e-12): fit on the training rows",
            "n_local_points": N_LOCAL_POINTS,
            "information_imbalance_k": 1,
            "information_imbalance_subset_size": n,
            "twonn": "compute_id_2NN(algorithm='base', mu_fraction=0.9, data_fraction=1)",
            "pointwise_precision": "10 significant digits",
        },
        "records": records,
        "twonn": twonn,
        "checks": checks,
    }
    if args.timing:
        load = os.getloadavg()[0]
        fixture["timings_n2500"] = timing_run(args.folds)
        fixture["timings_n2500"].update({
            "unit": "seconds, wall clock, one run each",
            "threads": "1 (threadpoolctl: BLAS and OpenMP)",
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "loadavg_1min_before": round(load, 2),
        })
    if not args.pointwise:
        strip_pointwise(fixture)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(dump_json(fixture))
    print(f"wrote {args.out}: {len(records)} pair records, {len(twonn)} TwoNN records, n={n}, "
          f"{int(folds.max()) + 1} folds, {time.perf_counter() - t_start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
