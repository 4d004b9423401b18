#!/usr/bin/env python3
"""Extract per-atom or mean-pooled embeddings from atomistic models, in the
``.npz`` format ``cpd`` reads.

This script is only used to *make* data for ``cpd``; ``cpd`` itself does not
need Python. Every model runs offline on CPU, with weights shipped inside its
PyPI package (or, for MACE, a local ``.model`` file).

Input: any file ASE reads (extended XYZ, CIF, POSCAR, ...). Each frame's
``id`` (``atoms.info["id"]``, from an extended-XYZ comment line) is used as
the row id; frames without an ``id`` get their 0-based frame index instead.
A frame periodic along all three axes with a full cell is a crystal and is
extracted with its periodic images; a frame with neither pbc nor cell is a
molecule. A cell without pbc, or pbc without a cell, warns (and is treated as
a molecule); pbc along one or two axes is refused. The molecule path refuses
a crystal: a unit cell is never cut into a cluster of its atoms.

Output: one ``<model>.npz`` per model in ``--out``, holding an int64 array
``ids`` (frame order) and one array per layer, plus ``irreps/<layer>`` (a
numpy string) for equivariant layers. By default each layer row is the mean
over a structure's atoms (computed in float64, stored as ``--dtype``, float32
by default). With ``--per-atom`` the layers keep one row per atom, in frame
order, and the file carries ``n_atoms`` (atoms per frame) and ``numbers``
(atomic numbers): ``cpd analyze`` pools them (``--pool mean|sum|max``) and
derives compositions from ``numbers``.

Models:

``sevennet0``  SevenNet-0 (``sevenn``, checkpoint ``7net-0`` = SevenNet_0__11Jul2024),
               the bundled layers:
               ``l_last``: node features after the last interaction block
               (``4_equivariant_gate``, irreps 128x0e), i.e. the input of the
               readout ``reduce_input_to_hidden``.
               ``l_prev``: the L=0 and L=1 parts of the node features after the
               block before (``3_equivariant_gate``, irreps 128x0e+64x1e+32x2e),
               i.e. 128x0e+64x1e = 320 columns in e3nn layout (the 3 components
               of each 1e irrep contiguous, order m=-1,0,1 as e3nn's y,z,x).
               Structures are evaluated as SevenNet's ASE calculator does
               (5 A cutoff): crystals with their periodic images, molecules
               without cell or pbc.
``sevennet0-22may2024``, ``sevennet-mf0`` (PBE modality), ``sevennet-l3i5``
               the other checkpoints ``sevenn`` ships, the same two layers
               (``l_prev`` of l3i5 keeps L = 0..3).
``sevennet0-blocks``  every interaction block of SevenNet-0: ``block0`` ..
               ``block4`` = the output of ``<t>_equivariant_gate``, whole, with
               its irreps (128x0e, then 128x0e+64x1e+32x2e, ..., 128x0e).
``chgnet``     CHGNet (``chgnet``, default pretrained weights). ``emb``: atom
               embedding; ``conv1``..``convN``: atom features after each atom
               convolution layer (64 columns each). A crystal goes in as its
               periodic pymatgen Structure; a molecule is put in a cubic box
               of edge 20 A + its largest extent (no periodic image within
               the graph cutoff).
``chgnet-0.2.0``, ``chgnet-r2scan``  the other weights ``chgnet`` ships.
``ani2x``      ANI-2x atomic environment vector from ``torchani``
               (``AEVComputer.like_2x()``, no network weights). ``aev``: 1008
               columns (7 species x 16 radial + 28 species pairs x 32 angular).
``mace``       any MACE model saved as a whole module (``torch.save(model,
               path)``, the ``.model`` files ``mace_run_train`` writes), given
               with ``--mace-model PATH``: ``int0``, ``int1``, ... = the node
               features after each interaction's product block
               (``products[i]``), with their irreps
               (``products[i].linear.irreps_out``, e.g. 128x0e+128x1o, and
               128x0e for the last). ``cpd analyze`` splits them by L from
               ``irreps/int<i>``. Needs ``mace-torch`` (which pins e3nn 0.4.4:
               use its own environment).
``generic``    any torch module: ``--generic MODULE:FUNCTION --hooks a,b``
               imports ``MODULE`` and calls ``FUNCTION()``, which returns
               ``(module, run)``; ``run(module, frames)`` calls the module on
               a list of ASE Atoms. The outputs of the named submodules
               (``dict(module.named_modules())`` names) are captured with
               forward hooks; each must be a tensor with one row per atom of
               the frames passed. From Python: ``hook_layers`` and
               ``write_embeddings`` (see README, "Bring your own model").

Example::

    python scripts/extract.py --structures data/structures.xyz \\
        --models sevennet0,chgnet,ani2x --out data/embeddings
    python scripts/extract.py --structures my.xyz --models mace \\
        --mace-model my.model --per-atom --out emb
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

MODELS = ("sevennet0", "sevennet0-22may2024", "sevennet-mf0", "sevennet-l3i5",
          "sevennet0-blocks", "chgnet", "chgnet-0.2.0", "chgnet-r2scan", "ani2x", "mace",
          "generic")


def read_frames(path):
    """Read every frame of an ASE-readable file (extended XYZ, CIF, POSCAR,
    ...), cell and periodicity as given; return (frames, int64 ids)."""
    from ase.io import read

    frames = read(str(path), index=":")
    for i, atoms in enumerate(frames):
        is_periodic(atoms, f"{path}: frame {i}")
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


def is_periodic(atoms, where="structure"):
    """Whether ``atoms`` is a crystal: periodic along all three axes with a
    cell of full rank. A molecule has neither. Anything in between is a
    mistake in the input, and says so: a cell without ``pbc`` (a crystal
    read without its periodicity) or ``pbc`` without a cell warns and is
    treated as a molecule; periodicity along one or two axes (slabs, wires)
    is refused."""
    pbc = np.asarray(atoms.get_pbc(), dtype=bool)
    full_cell = atoms.cell.rank == 3
    if pbc.all() and full_cell:
        return True
    if pbc.any() and not pbc.all():
        raise SystemExit(f"{where}: periodic along {pbc.sum()} of 3 axes (pbc {pbc.tolist()}): "
                         "slabs and wires are not supported")
    if pbc.any():
        warnings.warn(f"{where}: pbc is True but the cell has rank {atoms.cell.rank}: "
                      "treated as a molecule", stacklevel=2)
    elif atoms.cell.rank > 0:
        warnings.warn(f"{where}: has a cell but pbc is False: treated as a molecule "
                      "(set pbc=True if it is a crystal)", stacklevel=2)
    return False


def as_molecule(atoms):
    """A copy of a non-periodic ``atoms`` without cell or pbc (how SevenNet's
    calculator sees a molecule). A crystal here would be cut into a cluster
    of its unit cell's atoms: it is refused."""
    if is_periodic(atoms):
        raise ValueError(f"{atoms.get_chemical_formula()} is periodic: the molecule path "
                         "would cut it into a cluster of its unit cell's atoms")
    a = atoms.copy()
    a.set_pbc(False)
    a.set_cell(np.zeros((3, 3)))
    return a


# --------------------------------------------------------------------------
# The generic entry point: forward hooks on named submodules
# --------------------------------------------------------------------------
def hook_layers(module, names, run, frames, batch_size=50, select=None, label="model"):
    """Per-atom outputs of the submodules ``names`` of any torch ``module``.

    ``run(module, chunk)`` must call the module's forward on ``chunk``, a list
    of ASE Atoms (one batch of ``batch_size`` frames, in order). Every hooked
    output must be a tensor with one row per atom of the chunk, atoms in frame
    order, or ``select[name](output)`` must make it one (for modules that
    return tuples or dicts). A submodule may run several times per call (its
    outputs are concatenated in call order).

    Returns ``{name: [float64 array (atoms of frame k) x d for each frame]}``.
    """
    import torch

    modules = dict(module.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        known = ", ".join(n for n in modules if n)
        raise SystemExit(f"no submodule(s) {missing} in {label}; it has: {known}")
    select = select or {}
    captured = {n: [] for n in names}

    def hook(name):
        def fn(_mod, _inp, out):
            out = select[name](out) if name in select else out
            if not torch.is_tensor(out):
                raise SystemExit(f"{label}: output of '{name}' is a {type(out).__name__}, "
                                 "not a tensor: give select[name] to pick one")
            captured[name].append(out.detach().to(torch.float64).cpu().clone())
        return fn

    handles = [modules[n].register_forward_hook(hook(n)) for n in names]
    layers = {n: [] for n in names}
    t0 = time.time()
    try:
        for start in range(0, len(frames), batch_size):
            chunk = frames[start:start + batch_size]
            for n in names:
                captured[n].clear()
            with torch.no_grad():
                run(module, chunk)
            counts = [len(a) for a in chunk]
            for n in names:
                if not captured[n]:
                    raise SystemExit(f"{label}: submodule '{n}' did not run")
                feats = torch.cat(captured[n], dim=0)
                if feats.ndim != 2 or feats.shape[0] != sum(counts):
                    raise SystemExit(f"{label}: output of '{n}' has shape {tuple(feats.shape)}, "
                                     f"expected ({sum(counts)} atoms, d)")
                layers[n].extend(p.numpy() for p in torch.split(feats, counts))
            progress(label, min(start + batch_size, len(frames)), len(frames), t0)
    finally:
        for h in handles:
            h.remove()
    return layers


def write_embeddings(path, frames, ids, layers, irreps=None, per_atom=False, dtype="float32"):
    """Write ``layers`` ({name: per-frame per-atom arrays}) in cpd's format.

    Pooled (default): one row per frame, the mean over its atoms in float64,
    stored as ``dtype``. ``per_atom``: one row per atom in frame order, with
    ``n_atoms`` and ``numbers``. ``irreps`` ({name: e3nn irreps string}) are
    stored as ``irreps/<name>``.
    """
    arrays = {"ids": np.asarray(ids, dtype=np.int64)}
    if per_atom:
        arrays["n_atoms"] = np.array([len(a) for a in frames], dtype=np.int64)
        arrays["numbers"] = np.concatenate([a.numbers for a in frames]).astype(np.uint8)
    for name, parts in layers.items():
        if per_atom:
            arr = np.concatenate(parts).astype(dtype)
        else:
            arr = np.array([p.mean(0) for p in parts]).astype(dtype)
        if not np.isfinite(arr).all():
            raise SystemExit(f"{path}: {name}: non-finite values")
        arrays[name] = arr
    for name, text in (irreps or {}).items():
        if name not in layers:
            raise SystemExit(f"irreps for unknown layer {name!r}")
        arrays[f"irreps/{name}"] = np.array(str(text))
    np.savez(path, **arrays)
    return arrays


# --------------------------------------------------------------------------
# SevenNet-0
# --------------------------------------------------------------------------
def sevennet_graph(atoms, cutoff):
    """SevenNet's input graph of one structure: a crystal with its periodic
    images (as SevenNet's ASE calculator builds it), a molecule alone."""
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import unlabeled_atoms_to_graph

    a = atoms if is_periodic(atoms) else as_molecule(atoms)
    return AtomGraphData.from_numpy_dict(unlabeled_atoms_to_graph(a, cutoff, with_shift=False))


def extract_sevennet0(frames, blocks=False, batch_size=100, checkpoint="7net-0", modal=None,
                      label="sevennet0", prev_max_l=1, **_):
    """A SevenNet checkpoint (SevenNet-0 by default): ``l_prev``/``l_last``
    or every block."""
    from e3nn.o3 import Irreps
    from torch_geometric.data import Batch

    import sevenn._keys as KEY
    from sevenn.calculator import SevenNetCalculator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc = SevenNetCalculator(checkpoint, device="cpu", modal=modal)
    model = calc.model
    model.eval()
    # only node features are needed: drop the force/stress (autograd) output
    model.delete_module_by_key("force_output")
    if calc.modal:
        # a batch carries one modality per graph
        model.set_is_batch_data(True)
    mods = model._modules
    gates = sorted((k for k in mods if k.endswith("_equivariant_gate")),
                   key=lambda k: int(k.split("_")[0]))

    def out_irreps(gate):
        # irreps of a block's output: its e3nn Gate's output (the next
        # linear layer's irreps_in may add a multi-fidelity model's modality
        # channels)
        inner = getattr(mods[gate], "gate", None)
        if inner is not None and hasattr(inner, "irreps_out"):
            return Irreps(str(inner.irreps_out))
        t = int(gate.split("_")[0])
        nxt = f"{t + 1}_self_interaction_1"
        return Irreps(str(mods[nxt].irreps_in if nxt in mods
                          else mods["reduce_input_to_hidden"].irreps_in))

    def run(m, chunk):
        # Structures are batched as disjoint graphs (torch_geometric Batch, as
        # in SevenNet training); per-atom features are identical to one-by-one
        # evaluation, and far faster on CPU.
        graphs = [sevennet_graph(atoms, calc.cutoff) for atoms in chunk]
        if calc.modal:
            for g in graphs:
                g[KEY.DATA_MODALITY] = calc.modal
        m(Batch.from_data_list(graphs))

    wanted = gates if blocks else gates[-2:]
    select = {g: (lambda out: out[KEY.NODE_FEATURE]) for g in wanted}
    per = hook_layers(model, wanted, run, frames, batch_size, select, label)
    if blocks:
        layers = {f"block{i}": per[g] for i, g in enumerate(gates)}
        irreps = {f"block{i}": str(out_irreps(g)) for i, g in enumerate(gates)}
        desc = {f"block{i}": f"{g} output {irreps[f'block{i}']}" for i, g in enumerate(gates)}
        return layers, desc, irreps
    prev, last = gates[-2], gates[-1]
    irreps_prev, irreps_last = out_irreps(prev), out_irreps(last)
    keep = [sl for (mul, ir), sl in zip(irreps_prev, irreps_prev.slices()) if ir.l <= prev_max_l]
    irreps_keep = Irreps([(mul, ir) for mul, ir in irreps_prev if ir.l <= prev_max_l])
    print(f"  {label}: {prev} out = {irreps_prev}, {last} out = {irreps_last}")
    layers = {
        "l_prev": [np.concatenate([p[:, sl] for sl in keep], axis=1) for p in per[prev]],
        "l_last": per[last],
    }
    desc = {
        "l_prev": f"{prev} output {irreps_prev}, kept L<={prev_max_l} parts: {irreps_keep}",
        "l_last": f"{last} output {irreps_last} (input of reduce_input_to_hidden)",
    }
    return layers, desc, {"l_prev": str(irreps_keep), "l_last": str(irreps_last)}


# --------------------------------------------------------------------------
# CHGNet
# --------------------------------------------------------------------------
def boxed_structure(atoms, pad=20.0):
    """Non-periodic molecule -> pymatgen Structure centred in a cubic box. A
    crystal is refused (it would become a cluster of its unit cell)."""
    from pymatgen.core import Lattice, Structure

    pos = as_molecule(atoms).get_positions()
    extent = float((pos.max(0) - pos.min(0)).max()) if len(pos) else 0.0
    edge = pad + extent
    centred = pos - pos.mean(0) + edge / 2.0
    return Structure(Lattice.cubic(edge), atoms.get_chemical_symbols(), centred,
                     coords_are_cartesian=True)


def chgnet_structure(atoms):
    """CHGNet's input: a crystal as its periodic pymatgen Structure, a
    molecule boxed in vacuum."""
    from pymatgen.io.ase import AseAtomsAdaptor

    if is_periodic(atoms):
        return AseAtomsAdaptor.get_structure(atoms)
    return boxed_structure(atoms)


def extract_chgnet(frames, batch_size=50, weights=None, label="chgnet", **_):
    """CHGNet (``weights``: a name ``CHGNet.load`` knows, such as 0.3.0,
    0.2.0 or r2scan; default: the package's default): the atom embedding and
    every atom convolution layer."""
    from chgnet.model import CHGNet

    if weights:
        model = CHGNet.load(model_name=weights, use_device="cpu", verbose=False)
    else:
        model = CHGNet.load(use_device="cpu", verbose=False)
    model.eval()
    n_conv = len(model.atom_conv_layers)
    hooks = ["atom_embedding"] + [f"atom_conv_layers.{k}" for k in range(n_conv)]
    names = ["emb"] + [f"conv{k + 1}" for k in range(n_conv)]

    def run(m, chunk):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.predict_structure([chgnet_structure(a) for a in chunk], task="e",
                                batch_size=len(chunk))

    per = hook_layers(model, hooks, run, frames, batch_size, label=label)
    layers = {n: per[h] for n, h in zip(names, hooks)}
    desc = {"emb": "atom_embedding output (before message passing)"}
    for k in range(n_conv):
        desc[f"conv{k + 1}"] = f"atom features after atom_conv_layers[{k}]"
    return layers, desc, {}


# --------------------------------------------------------------------------
# ANI-2x AEV
# --------------------------------------------------------------------------
def extract_ani2x(frames, **_):
    """ANI-2x atomic environment vectors (no network weights)."""
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
            rows.append(aev(el, xyz)[0].double().numpy())
            progress("ani2x", i + 1, len(frames), t0)
    d = rows[0].shape[1] if rows else 0
    desc = {"aev": f"ANI-2x AEV ({d} columns: 7 species x 16 radial + 28 pairs x 32 angular)"}
    return {"aev": rows}, desc, {}


# --------------------------------------------------------------------------
# MACE (any local .model file)
# --------------------------------------------------------------------------
def mace_layers(model, frames, batch_size=50):
    """Node features after each interaction of a MACE ``model`` (a module)."""
    import torch
    from mace import data as mace_data  # mace before e3nn (torch.load settings)
    from mace.tools import torch_geometric, torch_tools, utils

    model.eval()
    dtype = next(model.parameters()).dtype
    z_table = utils.AtomicNumberTable([int(z) for z in model.atomic_numbers])
    r_max = float(model.r_max)
    heads = list(getattr(model, "heads", None) or ["Default"])
    n = len(model.products)
    hooks = [f"products.{i}" for i in range(n)]

    def run(m, chunk):
        with torch_tools.default_dtype(dtype):
            graphs = [mace_data.AtomicData.from_config(
                mace_data.config_from_atoms(a, head_name=heads[0]),
                z_table=z_table, cutoff=r_max, heads=heads) for a in chunk]
        batch = torch_geometric.Batch.from_data_list(graphs)
        m(batch.to_dict(), compute_force=False)

    per = hook_layers(model, hooks, run, frames, batch_size, label="mace")
    layers = {f"int{i}": per[h] for i, h in enumerate(hooks)}
    irreps = {f"int{i}": str(model.products[i].linear.irreps_out) for i in range(n)}
    desc = {f"int{i}": f"node features after products[{i}], {irreps[f'int{i}']}"
            for i in range(n)}
    return layers, desc, irreps


def extract_mace(frames, mace_model=None, **_):
    """MACE from a local ``.model`` file."""
    import mace  # noqa: F401  (sets torch.load up for e3nn 0.4.4 first)
    import torch

    if not mace_model:
        raise SystemExit("--models mace needs --mace-model PATH (a saved MACE module)")
    model = torch.load(mace_model, map_location="cpu", weights_only=False)
    return mace_layers(model, frames)


def extract_generic(frames, generic=None, hooks=None, **_):
    """Any torch module: MODULE:FUNCTION returns (module, run)."""
    import importlib

    if not generic or not hooks:
        raise SystemExit("--models generic needs --generic MODULE:FUNCTION and --hooks a,b")
    mod_name, _, func = generic.partition(":")
    module, run = getattr(importlib.import_module(mod_name), func or "make")()
    names = [h.strip() for h in hooks.split(",") if h.strip()]
    layers = hook_layers(module, names, run, frames, label=generic)
    return layers, {n: f"output of {n}" for n in names}, {}


EXTRACTORS = {
    "sevennet0": extract_sevennet0,
    "sevennet0-22may2024": lambda frames, **kw: extract_sevennet0(
        frames, checkpoint="7net-0_22may2024", label="sevennet0-22may2024", **kw),
    "sevennet-mf0": lambda frames, **kw: extract_sevennet0(
        frames, checkpoint="7net-mf-0", modal="PBE", label="sevennet-mf0", **kw),
    "sevennet-l3i5": lambda frames, **kw: extract_sevennet0(
        frames, checkpoint="7net-l3i5", label="sevennet-l3i5", prev_max_l=3, **kw),
    "sevennet0-blocks": lambda frames, **kw: extract_sevennet0(frames, blocks=True, **kw),
    "chgnet": extract_chgnet,
    "chgnet-0.2.0": lambda frames, **kw: extract_chgnet(
        frames, weights="0.2.0", label="chgnet-0.2.0", **kw),
    "chgnet-r2scan": lambda frames, **kw: extract_chgnet(
        frames, weights="r2scan", label="chgnet-r2scan", **kw),
    "ani2x": extract_ani2x,
    "mace": extract_mace,
    "generic": extract_generic,
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--structures", required=True,
                    help="structures: any file ASE reads (extended XYZ, CIF, POSCAR, ...)")
    ap.add_argument("--models", default="sevennet0,chgnet,ani2x",
                    help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--out", required=True, help="output folder for <model>.npz")
    ap.add_argument("--per-atom", action="store_true",
                    help="one row per atom with n_atoms and numbers (cpd pools them)")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--mace-model", help="MACE .model file (for --models mace)")
    ap.add_argument("--generic", help="MODULE:FUNCTION returning (module, run)")
    ap.add_argument("--hooks", help="submodule names for --models generic")
    ap.add_argument("--limit", type=int, default=None,
                    help="only use the first N frames (for testing)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--layers", default=None,
                    help="keep only these layers (comma-separated names) in every file")
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
        t0 = time.perf_counter()
        layers, desc, irreps = EXTRACTORS[m](frames, mace_model=args.mace_model,
                                             generic=args.generic, hooks=args.hooks)
        took = time.perf_counter() - t0
        if args.layers:
            keep = [n.strip() for n in args.layers.split(",") if n.strip() in layers]
            layers = {n: layers[n] for n in keep}
            irreps = {n: v for n, v in irreps.items() if n in layers}
        path = out / f"{m}.npz"
        arrays = write_embeddings(path, frames, ids, layers, irreps, args.per_atom, args.dtype)
        for name in layers:
            ir = f" [{irreps[name]}]" if name in irreps else ""
            print(f"  {name}: {arrays[name].shape} {arrays[name].dtype}{ir}  {desc[name]}")
        print(f"  wrote {path}: {len(frames)} structures in {took:.1f} s "
              f"({len(frames) / took:.1f} per second, model loading included)")


if __name__ == "__main__":
    sys.exit(main())
