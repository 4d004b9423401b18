#!/usr/bin/env python3
"""Make the bundled crystal data set ``data/crystals/`` from the mp_20 split of
Materials Project crystals (the CDVAE benchmark's ``data/mp_20/{train,val,test}.csv``:
one row per structure, its CIF in the ``cif`` column, formation energy per
atom, band gap and energy above the hull from Materials Project).

Writes, in ``--out``:

``structures.xyz``   every crystal as extended XYZ with its cell and
                     ``pbc="T T T"``, ``id`` (0, 1, ... in order of
                     ``material_id``) in the comment line;
``structures.csv``   id, material_id, reduced formula, space group number,
                     atoms in the cell, polymorph group (the reduced formula
                     when another structure shares it, else empty);
``compositions.csv`` id and the atom count of every element present in the
                     set (columns in order of atomic number);
``targets.csv``      id, ``formation_energy_ev_atom``, ``band_gap_ev``,
                     ``e_above_hull_ev_atom`` (Materials Project),
                     ``volume_per_atom_a3``, ``density_g_cm3`` (from the
                     structure) and ``mean_atomic_mass_amu``, a purely
                     compositional control (linear in the element fractions).

The embeddings are made from ``structures.xyz`` by ``scripts/extract.py``
(periodic path); ``data/README.md`` gives the commands.

Requirements: ``pip install -r scripts/requirements-data.txt``.

Example::

    python scripts/make_crystals.py --csv train.csv val.csv test.csv --out data/crystals
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def read_rows(paths):
    """The rows of the mp_20 CSVs, one per material_id, sorted by it."""
    import pandas as pd

    frames = [pd.read_csv(p) for p in paths]
    d = pd.concat(frames, ignore_index=True)
    dup = d["material_id"].duplicated()
    if dup.any():
        raise SystemExit(f"duplicate material ids: {sorted(d.loc[dup, 'material_id'])[:5]}")
    return d.sort_values("material_id", kind="stable").reset_index(drop=True)


def crystal(cif):
    """An ASE Atoms (cell, pbc on all axes) from a CIF string."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    s = Structure.from_str(cif, fmt="cif")
    a = AseAtomsAdaptor.get_atoms(s)
    a.set_pbc(True)
    return s, a


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", nargs="+", required=True, help="mp_20 CSV files")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args(argv)

    from ase.data import atomic_numbers
    from ase.io import write

    rows = read_rows(args.csv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames, meta, counts, targets = [], [], [], []
    for i, r in rows.iterrows():
        s, a = crystal(r["cif"])
        a.info = {"id": int(i)}
        frames.append(a)
        syms = a.get_chemical_symbols()
        c = {}
        for e in syms:
            c[e] = c.get(e, 0) + 1
        counts.append(c)
        mass = float(np.sum(a.get_masses()))
        volume = float(a.get_volume())
        targets.append({
            "id": i,
            "formation_energy_ev_atom": float(r["formation_energy_per_atom"]),
            "band_gap_ev": float(r["band_gap"]),
            "e_above_hull_ev_atom": float(r["e_above_hull"]),
            "volume_per_atom_a3": volume / len(a),
            # amu/Å³ to g/cm³: 1.66053906660 (10^-24 g / 10^-24 cm³)
            "density_g_cm3": mass / volume * 1.66053906660,
            "mean_atomic_mass_amu": mass / len(a),
        })
        meta.append({
            "id": i,
            "material_id": r["material_id"],
            "formula": s.composition.reduced_formula,
            "spacegroup": int(r["spacegroup.number"]),
            "n_atoms": len(a),
        })
    formulas = [m["formula"] for m in meta]
    shared = {f for f in formulas if formulas.count(f) > 1}
    for m in meta:
        m["polymorph_group"] = m["formula"] if m["formula"] in shared else ""
    elements = sorted({e for c in counts for e in c}, key=lambda e: atomic_numbers[e])

    write(out / "structures.xyz", frames, format="extxyz")
    with open(out / "structures.csv", "w") as f:
        keys = list(meta[0])
        f.write(",".join(keys) + "\n")
        for m in meta:
            f.write(",".join(str(m[k]) for k in keys) + "\n")
    with open(out / "compositions.csv", "w") as f:
        f.write("id," + ",".join(elements) + "\n")
        for i, c in enumerate(counts):
            f.write(f"{i}," + ",".join(str(c.get(e, 0)) for e in elements) + "\n")
    with open(out / "targets.csv", "w") as f:
        keys = list(targets[0])
        f.write(",".join(keys) + "\n")
        for t in targets:
            f.write(",".join(repr(t[k]) if isinstance(t[k], float) else str(t[k])
                             for k in keys) + "\n")
    n_poly = sum(1 for m in meta if m["polymorph_group"])
    print(f"{len(frames)} crystals, {len(elements)} elements, "
          f"{len(shared)} polymorph groups ({n_poly} structures), "
          f"{min(len(a) for a in frames)}-{max(len(a) for a in frames)} atoms per cell")


if __name__ == "__main__":
    main()
