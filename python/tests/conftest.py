"""Shared fixtures: the bundled QM9 data (read exactly: every number parsed
by Python's correctly rounded float(), as the CLI's CSV reader does) and
the cpd command-line binary to compare against."""

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
MODELS = ("ani2x", "chgnet", "sevennet0")


def read_table(path):
    """A CSV with an id column as {'id': [...], column: float64 array}."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    names = [c for c in rows[0] if c != "id"]
    out = {"id": [r["id"] for r in rows]}
    for c in names:
        out[c] = np.array([float(r[c]) for r in rows])
    return out


@pytest.fixture(scope="session")
def data():
    comp = read_table(DATA / "compositions.csv")
    targ = read_table(DATA / "targets.csv")
    emb = {}
    for m in MODELS:
        z = np.load(DATA / "embeddings" / f"{m}.npz")
        # The bundled files hold their rows in the compositions' order
        # (checked here; the CLI aligns them by their ids).
        assert [str(i) for i in z["ids"]] == comp["id"]
        emb[m] = {k: z[k] for k in z.files if k != "ids"}
    return emb, comp, targ


def _cpd_binary():
    """The cpd binary: $CPD_BIN, else the newest target/{release,debug}/cpd
    under $CARGO_TARGET_DIR or the repository."""
    if os.environ.get("CPD_BIN"):
        return Path(os.environ["CPD_BIN"])
    dirs = [Path(os.environ["CARGO_TARGET_DIR"])] if os.environ.get("CARGO_TARGET_DIR") else []
    dirs.append(ROOT / "target")
    found = [d / p / "cpd" for d in dirs for p in ("release", "debug") if (d / p / "cpd").is_file()]
    if found:
        return max(found, key=lambda p: p.stat().st_mtime)
    on_path = shutil.which("cpd")
    return Path(on_path) if on_path else None


@pytest.fixture(scope="session")
def cpd_bin():
    b = _cpd_binary()
    if b is None:
        pytest.fail(
            "no cpd binary to compare with: build it (cargo build --release) or set CPD_BIN"
        )
    return b


SUBSET_ROWS = 600


@pytest.fixture(scope="session")
def subset(tmp_path_factory):
    """The first SUBSET_ROWS molecules as files (the CSV lines verbatim, the
    SevenNet-0 l_last layer with its ids) and as arrays: a small real set
    for the tests that run every probe."""
    d = tmp_path_factory.mktemp("subset")
    for name in ("compositions.csv", "targets.csv"):
        lines = (DATA / name).read_text().splitlines(keepends=True)
        (d / name).write_text("".join(lines[: SUBSET_ROWS + 1]))
    z = np.load(DATA / "embeddings" / "sevennet0.npz")
    h = z["l_last"][:SUBSET_ROWS]
    np.savez(d / "sevennet0.npz", ids=z["ids"][:SUBSET_ROWS], l_last=h)
    return d, {"l_last": h}, read_table(d / "compositions.csv"), read_table(d / "targets.csv")
