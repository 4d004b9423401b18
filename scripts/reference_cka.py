#!/usr/bin/env python3
"""NumPy reference for linear CKA and the layer statistics (tests/fixtures/cka.json).

Writes a small data set — compositions with many isomers, a target and three
layers ("a" 6 columns, "b" 4 columns sharing directions with "a", "c" 5
columns) — and, computed here independently of cpd:

* linear CKA (Kornblith et al. 2019) between every pair of layers, on the raw
  rows and on the composition residual, from the n x n HSIC form
  ``tr(K H L H) / sqrt(tr(K H K H) tr(L H L H))`` with linear kernels
  (cpd computes it from d x d cross-products: a different route);
* per layer: composition share ``1 - ||H_geom||^2 / ||H - mean||^2`` and the
  participation ratio ``(sum l)^2 / sum l^2`` of the covariance eigenvalues
  (``numpy.linalg.eigvalsh``; cpd uses traces and Frobenius norms).

The residual is ``H - P H`` with P the least-squares projector onto
``[1 | counts]`` (``numpy.linalg.lstsq``).

    python3 scripts/reference_cka.py > tests/fixtures/cka.json
"""

import json
import sys

import numpy as np


def hsic_cka(x, y):
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = x @ x.T, y @ y.T
    hkh, hlh = h @ k @ h, h @ l @ h
    return float(np.sum(hkh * hlh) / np.sqrt(np.sum(hkh * hkh) * np.sum(hlh * hlh)))


def residual(h, c1):
    coef, *_ = np.linalg.lstsq(c1, h, rcond=None)
    return h - c1 @ coef


def participation_ratio(x):
    xc = x - x.mean(axis=0)
    lam = np.linalg.eigvalsh(xc.T @ xc)
    return float(lam.sum() ** 2 / (lam**2).sum())


def main():
    rng = np.random.default_rng(14)
    n = 90
    # Few distinct compositions, so isomers are common.
    base = np.array([[4, 2, 0], [6, 2, 1], [4, 3, 1], [8, 3, 0], [6, 3, 2]])
    comp = base[rng.integers(0, len(base), n)].astype(float)
    c1 = np.hstack([np.ones((n, 1)), comp])
    geo = rng.normal(size=(n, 3))
    a = np.hstack([comp @ rng.normal(size=(3, 3)), geo]) @ rng.normal(size=(6, 6))
    a += 0.3 * rng.normal(size=(n, 6))
    b = np.hstack([a[:, :2] @ rng.normal(size=(2, 2)), rng.normal(size=(n, 2))])
    b += 0.5 * comp[:, :1]
    c = np.hstack([geo[:, :1] ** 2, np.sin(geo[:, 1:2]), rng.normal(size=(n, 3))]) + 0.2 * comp[:, 1:2]
    y = geo[:, 0] + 0.5 * geo[:, 1] + 0.3 * comp[:, 1] + 0.1 * rng.normal(size=n)
    layers = {"a": a, "b": b, "c": c}
    names = list(layers)
    out = {
        "note": "written by scripts/reference_cka.py",
        "ids": [f"s{i}" for i in range(n)],
        "composition_columns": ["H", "C", "O"],
        "composition": comp.tolist(),
        "target": y.tolist(),
        "layers": {k: v.tolist() for k, v in layers.items()},
        "names": names,
        "cka_raw": [[hsic_cka(layers[p], layers[q]) for q in names] for p in names],
        "cka_geom": [
            [hsic_cka(residual(layers[p], c1), residual(layers[q], c1)) for q in names] for p in names
        ],
        "stats": {},
    }
    for k, h in layers.items():
        g = residual(h, c1)
        hc = h - h.mean(axis=0)
        out["stats"][k] = {
            "composition_share": float(1 - np.sum(g * g) / np.sum(hc * hc)),
            "effective_dim_raw": participation_ratio(h),
            "effective_dim_geom": participation_ratio(g),
        }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
