#!/usr/bin/env python3
"""Sample QM9 molecules from the ``qm9pack`` PyPI package and write cpd's inputs.

This script is only used to *make* the bundled dataset under ``data/``; the
``cpd`` tool itself does not need Python.

It reads the QM9 CSV files shipped inside the ``qm9pack`` wheel
(``qm9pack/data/qm9_part{1,2,3}.csv``: 130,831 molecules, B3LYP/6-31G(2df,p)
geometries and properties), draws ``--n`` molecules uniformly at random without
replacement with ``numpy.random.default_rng(--seed)``, sorts them by their QM9
index and writes:

* ``structures.xyz``   extended XYZ (written by ASE), one frame per molecule,
                       ``id=<QM9 index>`` in each frame's comment line;
* ``compositions.csv`` ``id,H,C,N,O,F`` integer atom counts;
* ``targets.csv``      ``id,gap_ev,homo_ev,lumo_ev,dipole_debye,
                       polarizability_bohr3,mass_amu``.

Units: qm9pack stores HOMO/LUMO/gap in Hartree; they are converted to eV with
1 Ha = 27.211386245988 eV (CODATA 2018). The dipole moment is in Debye, the
isotropic polarisability in Bohr^3, and the mass is the sum of standard atomic
weights (H 1.008, C 12.011, N 14.007, O 15.999, F 18.998) in amu.

Example::

    python scripts/make_qm9.py --out data --n 2500 --seed 0
"""
from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from ase.io import write

HARTREE_EV = 27.211386245988
ELEMENTS = ["H", "C", "N", "O", "F"]
ATOMIC_WEIGHT = {"H": 1.008, "C": 12.011, "N": 14.007, "O": 15.999, "F": 18.998}
QM9_COLUMNS = [
    "Index",
    "Elements",
    "XYZ_Ang",
    "Dipole_debye",
    "Polarizability_bohr3",
    "HOMO_au",
    "LUMO_au",
    "HOMO_LUMO_gap_au",
]


def qm9pack_data_dir() -> Path:
    """Return the ``data`` folder inside the installed ``qm9pack`` package.

    The package is located without importing it (its ``__init__`` imports the
    deprecated ``pkg_resources``).
    """
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("qm9pack is not installed: pip install qm9pack==1.0.3")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def load_qm9(data_dir: Path) -> pd.DataFrame:
    """Load the three qm9pack CSV parts, sorted by QM9 index."""
    parts = [
        pd.read_csv(data_dir / f"qm9_part{i}.csv", usecols=QM9_COLUMNS)
        for i in (1, 2, 3)
    ]
    df = pd.concat(parts, ignore_index=True)
    df = df.sort_values("Index", kind="stable").reset_index(drop=True)
    if df["Index"].duplicated().any():
        raise SystemExit("duplicate QM9 indices in qm9pack data")
    return df


def to_atoms(row) -> Atoms:
    """Build a non-periodic ASE ``Atoms`` for one qm9pack row."""
    symbols = ast.literal_eval(row["Elements"])
    pos = np.asarray(ast.literal_eval(row["XYZ_Ang"]), dtype=float)
    if pos.shape != (len(symbols), 3):
        raise ValueError(f"bad geometry for QM9 index {row['Index']}")
    atoms = Atoms(symbols=symbols, positions=pos, pbc=False)
    atoms.info["id"] = int(row["Index"])
    return atoms


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="data", help="output folder (default: data)")
    ap.add_argument("--n", type=int, default=2500, help="molecules to sample (default: 2500)")
    ap.add_argument("--seed", type=int, default=0, help="numpy default_rng seed (default: 0)")
    args = ap.parse_args(argv)

    df = load_qm9(qm9pack_data_dir())
    print(f"qm9pack: {len(df)} molecules")
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(df), size=args.n, replace=False)
    sub = df.iloc[pick].sort_values("Index", kind="stable").reset_index(drop=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames = [to_atoms(r) for _, r in sub.iterrows()]
    xyz_path = out / "structures.xyz"
    if xyz_path.exists():
        os.remove(xyz_path)
    write(str(xyz_path), frames, format="extxyz")

    with open(out / "compositions.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id"] + ELEMENTS)
        for atoms in frames:
            syms = atoms.get_chemical_symbols()
            unknown = set(syms) - set(ELEMENTS)
            if unknown:
                raise ValueError(f"unexpected elements {unknown} in id {atoms.info['id']}")
            w.writerow([atoms.info["id"]] + [syms.count(e) for e in ELEMENTS])

    with open(out / "targets.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "gap_ev", "homo_ev", "lumo_ev", "dipole_debye",
                    "polarizability_bohr3", "mass_amu"])
        for atoms, (_, r) in zip(frames, sub.iterrows()):
            syms = atoms.get_chemical_symbols()
            # weights have 3 decimals: round away float summation noise
            mass = round(sum(syms.count(e) * ATOMIC_WEIGHT[e] for e in ELEMENTS), 3)
            w.writerow([
                int(r["Index"]),
                repr(float(r["HOMO_LUMO_gap_au"]) * HARTREE_EV),
                repr(float(r["HOMO_au"]) * HARTREE_EV),
                repr(float(r["LUMO_au"]) * HARTREE_EV),
                repr(float(r["Dipole_debye"])),
                repr(float(r["Polarizability_bohr3"])),
                repr(mass),
            ])
    print(f"wrote {len(frames)} molecules to {out}/structures.xyz, compositions.csv, targets.csv")


if __name__ == "__main__":
    main()
