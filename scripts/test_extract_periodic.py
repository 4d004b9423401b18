"""Tests of ``scripts/extract.py``: crystals keep their periodicity, molecules
are extracted as they always were.

They need the models (``pip install -r scripts/requirements-data.txt``, which
brings torch) and so are not part of ``.ci/run``; run them with

    python -m pytest scripts/test_extract_periodic.py -q

- a 2×2×2 supercell has the unit cell's mean-pooled features;
- so has the cell translated (atoms wrapped back into it) or rotated with its
  atoms, on the invariant channels (every CHGNet feature, SevenNet's 0e
  channels);
- the molecule path gives the previous script's numbers bit for bit (and
  the bundled QM9 embeddings to float32 precision);
- a crystal cannot reach the molecule path, and a structure whose cell and
  periodicity disagree warns.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import extract as ex  # noqa: E402
from ase.build import bulk  # noqa: E402
from ase.io import read  # noqa: E402

# Per-layer invariant columns: SevenNet's l_prev is 128x0e+64x1e (the 0e
# block first), l_last 128x0e; CHGNet's features are invariant.
INVARIANT = {"l_prev": slice(0, 128)}
MODELS = ["sevennet0", "chgnet"]


def crystals():
    """Rock salt (cubic, 2 atoms) and the first bundled crystal (GaTe,
    hexagonal, 8 atoms, a non-orthogonal cell)."""
    first = read(ROOT / "data" / "crystals" / "structures.xyz", index=0)
    return [bulk("NaCl", "rocksalt", a=5.64), first]


def copies():
    """Each crystal, its 2×2×2 supercell, a translated copy (atoms wrapped
    back into the cell) and a copy rotated with its cell, in that order."""
    rng = np.random.default_rng(0)
    frames = []
    for a in crystals():
        shifted = a.copy()
        shifted.translate(rng.normal(size=3) * 2.0)
        shifted.wrap()
        rotated = a.copy()
        rotated.rotate(37.0, rng.normal(size=3), rotate_cell=True)
        frames += [a, a.repeat((2, 2, 2)), shifted, rotated]
    return frames


@pytest.fixture(scope="module")
def pooled():
    """Mean-pooled features of every frame of ``copies()``, per model and
    layer."""
    frames = copies()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in MODELS:
            layers, _, _ = ex.EXTRACTORS[m](frames)
            out[m] = {n: [p.mean(0) for p in parts] for n, parts in layers.items()}
    return out


def close(a, b, cols=slice(None)):
    """Within 1e-5 of the larger feature magnitude (the models run in float32)."""
    a, b = a[cols], b[cols]
    tol = 1e-5 * max(1.0, float(np.abs(a).max()))
    return float(np.abs(a - b).max()), tol


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("copy,name", [(1, "supercell"), (2, "translated"), (3, "rotated")])
def test_a_crystal_copy_has_the_unit_cells_features(pooled, model, copy, name):
    for layer, rows in pooled[model].items():
        for c in range(len(rows) // 4):
            unit, other = rows[4 * c], rows[4 * c + copy]
            cols = slice(None) if name == "supercell" else INVARIANT.get(layer, slice(None))
            diff, tol = close(unit, other, cols)
            assert diff <= tol, f"{model} {layer} crystal {c} {name}: {diff:.2e} > {tol:.2e}"


def test_the_translated_and_rotated_copies_differ_from_the_input():
    # the invariance tests above would pass on unchanged copies: make sure
    # the copies they run on really moved
    frames = copies()
    for c in range(len(frames) // 4):
        a, shifted, rotated = frames[4 * c], frames[4 * c + 2], frames[4 * c + 3]
        assert np.abs(shifted.positions - a.positions).max() > 0.5
        assert np.abs(rotated.cell[:] - a.cell[:]).max() > 0.5


# The last commit whose extract.py had only the molecule path.
MOLECULE_ONLY = "d6684bc"


def previous_extract():
    """scripts/extract.py as of MOLECULE_ONLY, imported from git."""
    import importlib.util
    import subprocess
    import tempfile

    src = subprocess.run(["git", "show", f"{MOLECULE_ONLY}:scripts/extract.py"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "extract_previous.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("extract_previous", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("model", MODELS)
def test_molecules_are_extracted_bit_for_bit_as_before(model):
    # the molecule path of the periodic-aware script against the script
    # that had only that path, in this environment: identical bits; and
    # against the bundled QM9 file (made with another thread count): to
    # float32 precision
    frames, _ = ex.read_frames(ROOT / "data" / "structures.xyz")
    frames = frames[:100]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers, _, _ = ex.EXTRACTORS[model](frames)
        before, _, _ = previous_extract().EXTRACTORS[model](frames)
    bundled = np.load(ROOT / "data" / "embeddings" / f"{model}.npz")
    assert list(layers) == list(before)
    for name, parts in layers.items():
        mine = np.array([p.mean(0) for p in parts])
        assert np.array_equal(mine, np.array([p.mean(0) for p in before[name]])), name
        diff, tol = close(bundled[name][:100].astype(np.float64), mine)
        assert diff <= tol, f"{model} {name}: {diff:.2e} from the bundled file"


def test_a_crystal_never_reaches_the_molecule_path():
    a = crystals()[0]
    with pytest.raises(ValueError, match="periodic"):
        ex.as_molecule(a)
    with pytest.raises(ValueError, match="periodic"):
        ex.boxed_structure(a)


def test_a_cell_without_pbc_or_pbc_without_a_cell_warns():
    a = crystals()[0]
    no_pbc = a.copy()
    no_pbc.set_pbc(False)
    with pytest.warns(UserWarning, match="has a cell but pbc is False"):
        assert not ex.is_periodic(no_pbc)
    no_cell = a.copy()
    no_cell.set_cell(np.zeros((3, 3)))
    no_cell.set_pbc(True)
    with pytest.warns(UserWarning, match="pbc is True but the cell has rank 0"):
        assert not ex.is_periodic(no_cell)
    slab = a.copy()
    slab.set_pbc((True, True, False))
    with pytest.raises(SystemExit, match="slabs and wires"):
        ex.is_periodic(slab)


def test_molecules_do_not_warn():
    frames, _ = ex.read_frames(ROOT / "data" / "structures.xyz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not any(ex.is_periodic(a) for a in frames[:50])
