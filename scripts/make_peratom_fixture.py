#!/usr/bin/env python3
"""Per-atom fixtures and their numpy references -> tests/fixtures/peratom/.

Only numpy is needed. The per-atom features are synthetic (no model runs
here) but built on the real bundled molecules of data/structures.xyz: each
atom's row is a function of its element and of its position (distance to the
molecule's centroid), plus noise, so that pooled rows carry composition *and*
geometry, as a model's do.

Files written (all deterministic, seed 0):

``atoms.npz``      per atom, ``structure`` (int64 QM9 id per atom), ``numbers``
                   (uint8), layers ``a`` (float64, 4 columns) and ``b`` (float32,
                   5 columns, ``irreps/b`` = ``2x0e+1x1o``), for N molecules.
                   Structures appear in a shuffled order; their atoms are
                   contiguous.
``atoms_n.npz``    the same atoms, ``n_atoms`` + ``ids`` + ``numbers`` instead of
                   ``structure``; only ``a``, stored in Fortran order.
``pooled.npz``     ``ids`` and the mean-pooled ``a``/``b`` exactly as cpd pools
                   (float64 sums in file order with ``np.add.at``, one division,
                   ``b`` rounded once to float32), plus ``irreps/b``; ids in
                   ascending order (cpd aligns them by id).
``reference.npz``  plain numpy group reductions (``x[rows].mean(0)``, ``.sum(0)``,
                   ``.max(0)`` in float64) for both layers, in the order of
                   ``ids``: the independent reference for the 1e-12 test.
``compositions.csv`` / ``targets.csv``  the N molecules' rows of the bundled
                   files, in the per-atom file's structure order.
``qm9_numbers.npz``  all 2,500 bundled molecules: ``ids``, ``n_atoms``,
                   ``numbers`` (from structures.xyz) and a 1-column layer ``z``
                   (the atomic number as float32), compressed: compositions
                   derived from it must equal data/compositions.csv.

Usage: python scripts/make_peratom_fixture.py [--n 120]
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = ["H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al",
           "Si", "P", "S", "Cl"]


def read_xyz(path):
    """(ids, [Z array], [positions array]) of an extended-XYZ file."""
    lines = path.read_text().splitlines()
    ids, zs, pos = [], [], []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        n = int(lines[i])
        comment = lines[i + 1]
        tag = [t for t in comment.split() if t.startswith("id=")]
        ids.append(int(tag[0][3:]) if tag else len(ids))
        rows = [lines[i + 2 + k].split() for k in range(n)]
        zs.append(np.array([SYMBOLS.index(r[0]) + 1 for r in rows], dtype=np.uint8))
        pos.append(np.array([[float(v) for v in r[1:4]] for r in rows]))
        i += 2 + n
    return np.array(ids, dtype=np.int64), zs, pos


def read_csv(path):
    with open(path) as f:
        r = list(csv.reader(f))
    return r[0], {row[0]: row for row in r[1:]}


def pool_like_cpd(x, rows, m):
    """cpd's mean: float64 sums in file order (np.add.at is sequential), one
    division, then the layer's own dtype."""
    acc = np.zeros((m, x.shape[1]), dtype=np.float64)
    np.add.at(acc, rows, x.astype(np.float64))
    counts = np.bincount(rows, minlength=m).astype(np.float64)
    return (acc / counts[:, None]).astype(x.dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=120, help="molecules in the small fixtures")
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "peratom"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    ids, zs, pos = read_xyz(ROOT / "data" / "structures.xyz")

    # All 2,500 molecules: n_atoms + ids + numbers, for the compositions test.
    n_atoms = np.array([len(z) for z in zs], dtype=np.int64)
    numbers = np.concatenate(zs)
    np.savez_compressed(out / "qm9_numbers.npz", ids=ids, n_atoms=n_atoms,
                        numbers=numbers, z=numbers.astype(np.float32)[:, None])

    # N molecules, structures in a shuffled order.
    # F is rare in QM9: the first two fluorinated molecules are always in.
    fluorinated = [k for k in range(len(ids)) if (zs[k] == 9).any()][:2]
    others = np.setdiff1d(np.arange(len(ids)), fluorinated)
    pick = np.sort(np.concatenate([fluorinated, rng.choice(others, args.n - 2, replace=False)]))
    order = rng.permutation(pick)
    emb_a = rng.normal(size=(10, 4))   # one random vector per element
    emb_b = rng.normal(size=(10, 2))
    za, sa, xa, xb = [], [], [], []
    for k in order:
        z, p = zs[k], pos[k]
        r = np.linalg.norm(p - p.mean(0), axis=1)
        el = np.minimum(z, 9)
        a = emb_a[el] * (1.0 + 0.3 * r[:, None]) + 0.1 * rng.normal(size=(len(z), 4))
        # b: two scalars and one vector (the atom's position from the
        # centroid, scaled by an element weight): 2x0e+1x1o.
        v = (p - p.mean(0)) * emb_b[el, 1:2]
        s = np.stack([emb_b[el, 0] * r, np.tanh(r)], axis=1)
        za.append(z)
        sa.append(np.full(len(z), ids[k], dtype=np.int64))
        xa.append(a)
        xb.append(np.concatenate([s, v], axis=1))
    numbers_s = np.concatenate(za)
    structure = np.concatenate(sa)
    a = np.concatenate(xa).astype(np.float64)
    b = np.concatenate(xb).astype(np.float32)
    irreps_b = np.array("2x0e+1x1o")
    np.savez(out / "atoms.npz", structure=structure, numbers=numbers_s, a=a, b=b,
             **{"irreps/b": irreps_b})
    counts = np.array([len(zs[k]) for k in order], dtype=np.int64)
    np.savez(out / "atoms_n.npz", ids=ids[order], n_atoms=counts, numbers=numbers_s,
             a=np.asfortranarray(a))

    # Rows of each atom in first-appearance order (= `order`).
    rows = np.repeat(np.arange(len(order)), counts)
    asc = np.argsort(ids[order])  # pooled.npz in ascending id order
    pa = pool_like_cpd(a, rows, len(order))[asc]
    pb = pool_like_cpd(b, rows, len(order))[asc]
    np.savez(out / "pooled.npz", ids=ids[order][asc], a=pa, b=pb, **{"irreps/b": irreps_b})

    ref = {"ids": ids[order]}
    starts = np.concatenate([[0], np.cumsum(counts)])
    for name, x in (("a", a), ("b", b.astype(np.float64))):
        groups = [x[starts[i]:starts[i + 1]] for i in range(len(order))]
        ref[f"mean_{name}"] = np.array([g.mean(0) for g in groups])
        ref[f"sum_{name}"] = np.array([g.sum(0) for g in groups])
        ref[f"max_{name}"] = np.array([g.max(0) for g in groups])
    np.savez(out / "reference.npz", **ref)

    for name in ("compositions.csv", "targets.csv"):
        header, rows_by_id = read_csv(ROOT / "data" / name)
        with open(out / name, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            for k in order:
                w.writerow(rows_by_id[str(ids[k])])
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    print(f"{len(order)} molecules, {len(a)} atoms; " +
          ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
