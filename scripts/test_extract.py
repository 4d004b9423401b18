#!/usr/bin/env python3
"""Test the extraction helper (scripts/extract.py) end to end with cpd.

Not part of .ci/run: it needs two virtual environments with torch from PyPI
(several GB with the CUDA libraries it pulls), made here on first use:

- ``VENVS/data`` from scripts/requirements-data.txt (SevenNet-0, e3nn 0.6.0),
- ``VENVS/mace`` from scripts/requirements-mace.txt (mace-torch, e3nn 0.4.4).

Checks (each prints its figures; any failure exits non-zero):

1. SevenNet-0, per atom: ``extract.py --models sevennet0 --per-atom --dtype
   float64`` on the 2,500 bundled molecules, pooled by ``cpd pool`` (mean),
   equals the bundled ``data/embeddings/sevennet0.npz`` (made by the old
   pooled path: mean in float64 stored as float32) to float32 precision.
2. MACE: a model built with ``mace.modules.MACE(...)`` from its own
   constructor, with random weights (seeded), saved with ``torch.save`` as a
   ``.model`` file, goes through ``extract.py --models mace --per-atom``; the
   file's ``irreps/int<i>`` split the layer by L (e3nn layout, as cpd splits
   it), and for every molecule a randomly rotated copy gives the same L = 0
   block and the same L > 0 norms (float64, to 1e-6 relative: the rotated
   positions are written to extended XYZ with 8 decimals), while the L > 0
   components themselves move. ``cpd inspect`` shows the groups.
3. The generic entry point (``--models generic``) on a toy torch module
   equals a direct evaluation.

Usage::

    python3.11 scripts/test_extract.py [--venvs /tmp/cpd-extract-venvs] [--work DIR]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def sh(cmd, **kw):
    print("$", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def venv(path: Path, requirements: Path) -> Path:
    """A venv at ``path`` with ``requirements`` installed (once)."""
    py = path / "bin" / "python"
    stamp = path / ".installed"
    if not stamp.exists() or stamp.read_text() != requirements.read_text():
        t0 = time.time()
        sh([sys.executable, "-m", "venv", path])
        sh([py, "-m", "pip", "install", "-q", "-r", requirements])
        stamp.write_text(requirements.read_text())
        print(f"  venv {path}: {time.time() - t0:.0f} s", flush=True)
    return py


def cpd_binary() -> Path:
    sh(["cargo", "build", "--release", "-q"], cwd=ROOT)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "cpd"


# --------------------------------------------------------------------------
# 1. SevenNet-0 per atom, pooled by cpd, against the bundled pooled layers
# --------------------------------------------------------------------------
def check_sevennet(pooled: Path) -> None:
    import numpy as np

    got = np.load(pooled)
    want = np.load(ROOT / "data" / "embeddings" / "sevennet0.npz")
    assert (got["ids"] == want["ids"]).all(), "ids differ"
    for layer in ("l_prev", "l_last"):
        g, w = got[layer], want[layer]
        assert g.shape == w.shape and g.dtype == np.float64, (g.shape, g.dtype)
        scale = np.abs(w).max(axis=0) + 1e-30
        diff = np.abs(g - w.astype(np.float64))
        same = (g.astype(np.float32) == w).mean()
        print(f"  sevennet0/{layer} {g.shape}: max |cpd - bundled| = {diff.max():.3e}, "
              f"max relative to the column's scale = {(diff / scale).max():.3e}, "
              f"identical after rounding to float32: {100 * same:.2f} %")
        # float32 storage of the bundled file: half an ulp is 3e-8 relative;
        # torch's CPU kernels may differ in the last bits between machines.
        assert (diff / scale).max() < 1e-5, layer
    assert str(got["irreps/l_prev"]) == "128x0e+64x1e", got["irreps/l_prev"]


# --------------------------------------------------------------------------
# 2. MACE from its own constructor, random weights
# --------------------------------------------------------------------------
def build_mace(path: Path) -> None:
    """A small random MACE (seeded), saved whole as a .model file."""
    import numpy as np
    import torch
    from mace import modules  # first: it lets e3nn 0.4.4 load its constants
    from e3nn import o3

    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    model = modules.MACE(
        r_max=5.0,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=3,
        interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        interaction_cls_first=modules.interaction_classes["RealAgnosticInteractionBlock"],
        num_interactions=3,
        num_elements=5,
        hidden_irreps=o3.Irreps("16x0e+16x1o+16x2e"),
        MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.zeros(5),
        avg_num_neighbors=8.0,
        atomic_numbers=[1, 6, 7, 8, 9],
        correlation=3,
        gate=torch.nn.functional.silu,
    )
    # Random, not zero: MACE initialises some weights to zero.
    with torch.no_grad():
        for p in model.parameters():
            if p.dtype.is_floating_point:
                p.add_(0.1 * torch.randn_like(p))
    torch.save(model, path)


def rotated_structures(out: Path, n: int = 8) -> None:
    """The first n bundled molecules, then each randomly rotated (ids + 10^6)."""
    import numpy as np
    from ase.io import read, write

    frames = read(str(ROOT / "data" / "structures.xyz"), index=f":{n}")
    rng = np.random.default_rng(1)
    rotated = []
    for a in frames:
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        q = q * np.sign(np.diag(r))
        if np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]
        b = a.copy()
        c = a.get_positions().mean(0)
        b.set_positions((a.get_positions() - c) @ q.T + c + 3.0)
        b.info["id"] = int(a.info["id"]) + 10**6
        rotated.append(b)
    write(str(out), frames + rotated, format="extxyz")


def split_by_l(x, irreps: str):
    """{L: (rows, copies, 2L+1)} in e3nn's layout (as cpd's channels.rs)."""
    blocks, col = {}, 0
    for term in irreps.split("+"):
        mul, ir = term.strip().split("x")
        mul, l = int(mul), int(ir[:-1])
        width = mul * (2 * l + 1)
        part = x[:, col:col + width].reshape(len(x), mul, 2 * l + 1)
        blocks.setdefault(l, []).append(part)
        col += width
    assert col == x.shape[1], (irreps, col, x.shape)
    import numpy as np
    return {l: np.concatenate(p, axis=1) for l, p in blocks.items()}


def check_mace(work: Path) -> None:
    """Inside the MACE venv: build, extract, check invariances."""
    import numpy as np

    work.mkdir(parents=True, exist_ok=True)
    model = work / "random.model"
    xyz = work / "rotated.xyz"
    build_mace(model)
    rotated_structures(xyz)
    sys.path.insert(0, str(SCRIPTS))
    import extract

    extract.main(["--structures", str(xyz), "--models", "mace", "--mace-model", str(model),
                  "--per-atom", "--dtype", "float64", "--out", str(work)])
    f = np.load(work / "mace.npz")
    n_atoms = f["n_atoms"]
    half = len(n_atoms) // 2
    split = int(n_atoms[:half].sum())
    layers = sorted(k for k in f.files if k.startswith("int"))
    assert layers, f.files
    for name in layers:
        irreps = str(f[f"irreps/{name}"])
        x = f[name]
        parts = split_by_l(x, irreps)
        for l, p in sorted(parts.items()):
            a, b = p[:split], p[split:]
            if l == 0:
                err = np.abs(a - b).max() / (np.abs(a).max() + 1e-300)
                moved = 0.0
            else:
                na, nb = np.linalg.norm(a, axis=2), np.linalg.norm(b, axis=2)
                err = np.abs(na - nb).max() / (na.max() + 1e-300)
                moved = np.abs(a - b).max() / (np.abs(a).max() + 1e-300)
            print(f"  mace/{name} [{irreps}] L={l}: {p.shape[1]} copies, "
                  f"rotation changes the {'block' if l == 0 else 'norms'} by {err:.1e} "
                  f"(relative){'' if l == 0 else f', the components by {moved:.2f}'}")
            # positions pass through extended XYZ, written to 1e-8 A
            assert err < 1e-6, (name, l, err)
            if l > 0:
                assert moved > 1e-3, (name, l, moved)


# --------------------------------------------------------------------------
# 3. The generic entry point on a toy module
# --------------------------------------------------------------------------
def toy():
    """A toy model for --generic: an element embedding and a linear layer."""
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 3))

    def run(m, frames):
        z = torch.tensor([int(v) for a in frames for v in a.numbers]).clamp(max=9)
        m(z)

    return module, run


def check_generic(work: Path) -> None:
    import numpy as np
    import torch

    sys.path.insert(0, str(SCRIPTS))
    import extract

    xyz = work / "rotated.xyz"
    extract.main(["--structures", str(xyz), "--models", "generic", "--generic",
                  "test_extract:toy", "--hooks", "0,1", "--per-atom", "--dtype", "float64",
                  "--out", str(work)])
    f = np.load(work / "generic.npz")
    module, _ = toy()
    z = torch.tensor(f["numbers"].astype(np.int64)).clamp(max=9)
    with torch.no_grad():
        want = module(z).numpy()
    assert np.array_equal(f["1"], want), np.abs(f["1"] - want).max()
    print(f"  generic: hooks '0' {f['0'].shape} and '1' {f['1'].shape} equal a direct evaluation")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venvs", default="/tmp/cpd-extract-venvs")
    ap.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--inner", choices=("mace", "generic", "sevennet"), help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner == "mace":
        return check_mace(Path(args.work))
    if args.inner == "generic":
        return check_generic(Path(args.work))
    if args.inner == "sevennet":
        return check_sevennet(Path(args.file))

    t_all = time.time()
    work = Path(args.work or tempfile.mkdtemp(prefix="cpd-extract-"))
    work.mkdir(parents=True, exist_ok=True)
    venvs = Path(args.venvs)
    py_data = venv(venvs / "data", SCRIPTS / "requirements-data.txt")
    py_mace = venv(venvs / "mace", SCRIPTS / "requirements-mace.txt")
    cpd = cpd_binary()
    me = Path(__file__).resolve()

    t0 = time.time()
    print("1. SevenNet-0 per atom, pooled by cpd, against the bundled layers", flush=True)
    sh([py_data, SCRIPTS / "extract.py", "--structures", ROOT / "data" / "structures.xyz",
        "--models", "sevennet0", "--per-atom", "--dtype", "float64", "--out", work / "7net"])
    sh([cpd, "pool", work / "7net" / "sevennet0.npz", "--out", work / "7net" / "pooled.npz"])
    sh([py_data, me, "--inner", "sevennet", "--file", work / "7net" / "pooled.npz"])
    print(f"  ({time.time() - t0:.0f} s)", flush=True)

    t0 = time.time()
    print("2. MACE from its constructor (random weights), per atom, split by L", flush=True)
    sh([py_mace, me, "--inner", "mace", "--work", work / "mace"])
    sh([cpd, "inspect", work / "mace" / "mace.npz"])
    print(f"  ({time.time() - t0:.0f} s)", flush=True)

    t0 = time.time()
    print("3. generic entry point", flush=True)
    sh([py_mace, me, "--inner", "generic", "--work", work / "mace"])
    print(f"  ({time.time() - t0:.0f} s)", flush=True)
    print(f"extraction tests passed in {time.time() - t_all:.0f} s (work folder {work})")


if __name__ == "__main__":
    main()
