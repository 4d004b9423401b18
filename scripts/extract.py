#!/usr/bin/env python3
"""Extract mean-pooled per-atom embeddings from pretrained atomistic models.

This script is only used to *make* data for ``cpd``; ``cpd`` itself does not
need Python.

Input: any extended-XYZ file readable by ASE. Each frame's ``id`` (from the
comment line, ``atoms.info["id"]``) is used as the row id; frames without an
``id`` get their 0-based frame index instead.

Output: one ``<model>.npz`` per model in ``--out``, holding an int64 array
``ids`` (frame order) and one float32 ``n_frames x d`` array per layer. Every
layer is the mean over the atoms of a molecule of the per-atom features of
that layer. No string arrays are written.

Models (all run offline on CPU, weights shipped inside the PyPI packages):

``sevennet0``  SevenNet-0 (``sevenn``, checkpoint ``7net-0`` = SevenNet_0__11Jul2024).
               ``l_last``: node features after the last interaction block
               (``4_equivariant_gate``, irreps 128x0e), i.e. the input of the
               readout ``reduce_input_to_hidden``.
               ``l_prev``: the L=0 and L=1 parts of the node features after the
               block before (``3_equivariant_gate``, irreps 128x0e+64x1e+32x2e),
               i.e. 128x0e+64x1e = 320 columns in e3nn layout (the 3 components
               of each 1e irrep contiguous, order m=-1,0,1 as e3nn's y,z,x).
               Molecules are evaluated as SevenNet's ASE calculator does for
               non-periodic Atoms (no cell, pbc False, 5 A cutoff).
``chgnet``     CHGNet (``chgnet``, default pretrained weights). ``emb``: atom
               embedding; ``conv1``..``convN``: atom features after each atom
               convolution layer (64 columns each). Each molecule is put in a
               cubic box of edge 20 A + its largest extent (no periodic image
               within the 6 A graph cutoff).
``ani2x``      ANI-2x atomic environment vector from ``torchani``
               (``AEVComputer.like_2x()``, no network weights). ``aev``: 1008
               columns (7 species x 16 radial + 28 species pairs x 32 angular).

Example::

    python scripts/extract.py --structures data/structures.xyz \\
        --models sevennet0,chgnet,ani2x --out data/embeddings
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

MODELS = ("sevennet0", "chgnet", "ani2x")


def read_frames(path):
    """Read all frames of an extended-XYZ file; return (frames, int64 ids)."""
    from ase.io import read

    frames = read(str(path), index=":")
    ids = []
    for i, atoms in enumerate(frames):
        v = atoms.info.get("id", i)
        ids.append(int(v))
    ids = np.asarray(ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        raise SystemExit(f"{path}: duplicate ids")
    return frames, ids


def progress(name, i, n, t0):
    """Print a progress line now and then."""
    if i % 500 == 0 or i == n:
        print(f"  {name}: {i}/{n} ({time.time() - t0:.0f}s)", flush=True)


# --------------------------------------------------------------------------
# SevenNet-0
# --------------------------------------------------------------------------
def extract_sevennet0(frames, batch_size=100):
    """Return ({layer: array}, {layer: description}) for SevenNet-0."""
    import torch
    from e3nn.o3 import Irreps
    from torch_geometric.data import Batch

    import sevenn._keys as KEY
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.calculator import SevenNetCalculator
    from sevenn.train.dataload import unlabeled_atoms_to_graph

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc = SevenNetCalculator("7net-0", device="cpu")
    model = calc.model
    model.eval()
    # only node features are needed: drop the force/stress (autograd) output
    model.delete_module_by_key("force_output")
    mods = model._modules
    gates = sorted(k for k in mods if k.endswith("_equivariant_gate"))
    last, prev = gates[-1], gates[-2]
    t_last = int(last.split("_")[0])
    # irreps of a block's output = irreps_in of the next linear layer
    irreps_prev = Irreps(str(mods[f"{t_last}_self_interaction_1"].irreps_in))
    irreps_last = Irreps(str(mods["reduce_input_to_hidden"].irreps_in))
    keep = [(mul, ir) for mul, ir in irreps_prev if ir.l <= 1]
    keep_slices = [sl for (mul, ir), sl in zip(irreps_prev, irreps_prev.slices()) if ir.l <= 1]
    irreps_keep = Irreps(keep)
    print(f"  sevennet0: {prev} out = {irreps_prev}, {last} out = {irreps_last}")

    captured = {}

    def hook(name):
        def fn(_mod, _inp, out):
            captured[name] = out[KEY.NODE_FEATURE].detach().clone()
        return fn

    handles = [mods[prev].register_forward_hook(hook("prev")),
               mods[last].register_forward_hook(hook("last"))]
    out_prev, out_last = [], []
    t0 = time.time()
    # Molecules are batched as disjoint graphs (torch_geometric Batch, as in
    # SevenNet training); per-atom features are identical to one-by-one
    # evaluation, and far faster on CPU than many differently-shaped calls.
    for start in range(0, len(frames), batch_size):
        chunk = frames[start:start + batch_size]
        graphs = []
        for atoms in chunk:
            a = atoms.copy()
            a.set_pbc(False)
            a.set_cell(np.zeros((3, 3)))
            graphs.append(AtomGraphData.from_numpy_dict(
                unlabeled_atoms_to_graph(a, calc.cutoff, with_shift=False)))
        batch = Batch.from_data_list(graphs)
        captured.clear()
        with torch.no_grad():
            model(batch)
        counts = [len(a) for a in chunk]
        xp = captured["prev"].double()
        xl = captured["last"].double()
        assert xp.shape == (sum(counts), irreps_prev.dim), xp.shape
        assert xl.shape == (sum(counts), irreps_last.dim), xl.shape
        xp = torch.cat([xp[:, sl] for sl in keep_slices], dim=1)
        for part in torch.split(xp, counts):
            out_prev.append(part.mean(0).numpy())
        for part in torch.split(xl, counts):
            out_last.append(part.mean(0).numpy())
        progress("sevennet0", min(start + batch_size, len(frames)), len(frames), t0)
    for h in handles:
        h.remove()
    layers = {
        "l_prev": np.asarray(out_prev, dtype=np.float32),
        "l_last": np.asarray(out_last, dtype=np.float32),
    }
    desc = {
        "l_prev": f"{prev} output {irreps_prev}, kept L<=1 parts: {irreps_keep}",
        "l_last": f"{last} output {irreps_last} (input of reduce_input_to_hidden)",
    }
    return layers, desc


# --------------------------------------------------------------------------
# CHGNet
# --------------------------------------------------------------------------
def boxed_structure(atoms, pad=20.0):
    """Non-periodic molecule -> pymatgen Structure centred in a cubic box."""
    from pymatgen.core import Lattice, Structure

    pos = atoms.get_positions()
    extent = float((pos.max(0) - pos.min(0)).max()) if len(pos) else 0.0
    edge = pad + extent
    centred = pos - pos.mean(0) + edge / 2.0
    return Structure(Lattice.cubic(edge), atoms.get_chemical_symbols(), centred,
                     coords_are_cartesian=True)


def extract_chgnet(frames, batch_size=50):
    """Return ({layer: array}, {layer: description}) for CHGNet."""
    import torch
    from chgnet.model import CHGNet

    model = CHGNet.load(use_device="cpu", verbose=False)
    model.eval()
    n_conv = len(model.atom_conv_layers)
    names = ["emb"] + [f"conv{k + 1}" for k in range(n_conv)]
    captured = {}

    def hook(name):
        def fn(_mod, _inp, out):
            captured[name] = out.detach().clone()
        return fn

    handles = [model.atom_embedding.register_forward_hook(hook("emb"))]
    for k, layer in enumerate(model.atom_conv_layers):
        handles.append(layer.register_forward_hook(hook(f"conv{k + 1}")))

    rows = {n: [] for n in names}
    t0 = time.time()
    for start in range(0, len(frames), batch_size):
        chunk = frames[start:start + batch_size]
        structs = [boxed_structure(a) for a in chunk]
        captured.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.predict_structure(structs, task="e", batch_size=len(structs))
        counts = [len(a) for a in chunk]
        for n in names:
            feas = captured[n].double()
            assert feas.shape[0] == sum(counts), (n, feas.shape, sum(counts))
            for part in torch.split(feas, counts):
                rows[n].append(part.mean(0).numpy())
        progress("chgnet", min(start + batch_size, len(frames)), len(frames), t0)
    for h in handles:
        h.remove()
    layers = {n: np.asarray(rows[n], dtype=np.float32) for n in names}
    desc = {"emb": "atom_embedding output (before message passing)"}
    for k in range(n_conv):
        desc[f"conv{k + 1}"] = f"atom features after atom_conv_layers[{k}]"
    return layers, desc


# --------------------------------------------------------------------------
# ANI-2x AEV
# --------------------------------------------------------------------------
def extract_ani2x(frames):
    """Return ({layer: array}, {layer: description}) for the ANI-2x AEV."""
    import torch
    from torchani.aev import AEVComputer

    symbols = ("H", "C", "N", "O", "S", "F", "Cl")  # ANI-2x species order
    index = {s: i for i, s in enumerate(symbols)}
    aev = AEVComputer.like_2x()
    rows = []
    t0 = time.time()
    with torch.no_grad():
        for i, atoms in enumerate(frames):
            syms = atoms.get_chemical_symbols()
            bad = set(syms) - set(symbols)
            if bad:
                raise SystemExit(f"ANI-2x does not cover elements {sorted(bad)}")
            el = torch.tensor([[index[s] for s in syms]], dtype=torch.long)
            xyz = torch.tensor(atoms.get_positions()[None], dtype=torch.float32)
            v = aev(el, xyz)[0].double()
            rows.append(v.mean(0).numpy())
            progress("ani2x", i + 1, len(frames), t0)
    layers = {"aev": np.asarray(rows, dtype=np.float32)}
    desc = {"aev": f"ANI-2x AEV ({layers['aev'].shape[1]} columns: 7 species x 16 radial + 28 pairs x 32 angular)"}
    return layers, desc


EXTRACTORS = {
    "sevennet0": extract_sevennet0,
    "chgnet": extract_chgnet,
    "ani2x": extract_ani2x,
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--structures", required=True, help="extended-XYZ file")
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--out", required=True, help="output folder for <model>.npz")
    ap.add_argument("--limit", type=int, default=None,
                    help="only use the first N frames (for testing)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in EXTRACTORS:
            raise SystemExit(f"unknown model {m!r}; choose from {', '.join(MODELS)}")

    frames, ids = read_frames(args.structures)
    if args.limit:
        frames, ids = frames[: args.limit], ids[: args.limit]
    print(f"{len(frames)} frames from {args.structures}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for m in models:
        print(f"{m}:", flush=True)
        layers, desc = EXTRACTORS[m](frames)
        for name, arr in layers.items():
            if not np.isfinite(arr).all():
                raise SystemExit(f"{m}/{name}: non-finite values")
            print(f"  {name}: {arr.shape} {arr.dtype}  {desc[name]}")
        np.savez(out / f"{m}.npz", ids=ids, **layers)
        print(f"  wrote {out / f'{m}.npz'}")


if __name__ == "__main__":
    sys.exit(main())
