#!/usr/bin/env python3
"""Regenerate the small seed corpora under tests/fuzz/seeds/<target>/.

Each seed is a few hundred bytes (all < 4 KB): valid files in the shapes the
parsers accept plus near-misses that exercise their error paths. Needs numpy.
Run from anywhere:  python3 tests/fuzz/make_seeds.py
"""
import io
import os
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")


def put(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < 4096, (target, name, len(data))
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy(arr):
    b = io.BytesIO()
    np.save(b, arr, allow_pickle=False)
    return b.getvalue()


def raw_npy(descr, fortran, shape, data, version=(1, 0)):
    """A hand-built .npy (for headers numpy itself would not write)."""
    header = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape)
    hl = 4 if version[0] >= 2 else 2
    while (8 + hl + len(header) + 1) % 64:
        header += " "
    header += "\n"
    out = b"\x93NUMPY" + bytes(version)
    out += struct.pack("<I" if hl == 4 else "<H", len(header))
    return out + header.encode("latin1") + data


def npz(arrays, compressed):
    b = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(b, **arrays)
    return b.getvalue()


m = np.arange(6, dtype=np.float64).reshape(2, 3)

# --- npy ---------------------------------------------------------------
put("npy", "f64_c.npy", npy(m))
put("npy", "f32_c.npy", npy(m.astype(np.float32)))
put("npy", "f64_fortran.npy", npy(np.asfortranarray(m)))
put("npy", "f32_fortran.npy", npy(np.asfortranarray(m.astype(np.float32))))
put("npy", "f64_be.npy", npy(m.astype(">f8")))
put("npy", "f32_be_fortran.npy", npy(np.asfortranarray(m.astype(">f4"))))
put("npy", "v2_header.npy", raw_npy("'<f8'", False, "(2, 3)", m.tobytes(), (2, 0)))
put("npy", "v3_header.npy", raw_npy("'<f4'", False, "(1, 2)", np.ones(2, "<f4").tobytes(), (3, 0)))
put("npy", "zero_rows.npy", npy(np.zeros((0, 3))))
put("npy", "nan.npy", npy(np.array([[np.nan, 1.0]])))
put("npy", "int_dtype.npy", npy(np.arange(6, dtype=np.int32).reshape(2, 3)))
put("npy", "vec_1d.npy", npy(np.arange(3.0)))
put("npy", "truncated.npy", npy(m)[:-5])
put("npy", "extra_bytes.npy", npy(m) + b"\0" * 8)
put("npy", "huge_shape.npy", raw_npy("'<f8'", False, "(4611686018427387904, 4)", b""))
put("npy", "struct_dtype.npy", raw_npy("[('a', '<f8')]", False, "(1, 1)", b"\0" * 8))
put("npy", "bad_magic.npy", b"\x93NUMPX\x01\x00\x10\x00{}")

# --- npz ---------------------------------------------------------------
ids = np.array([7, 3, 5], dtype=np.int64)
a = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float32)
b = np.array([[1.0], [2.0], [3.0]])
put("npz", "stored_ids_layers.npz", npz({"ids": ids, "a": a, "b": b}, False))
put("npz", "deflated_ids_layers.npz", npz({"ids": ids, "a": a, "b": b}, True))
put("npz", "one_layer.npz", npz({"x": m}, False))
put("npz", "fortran_be.npz", npz({"x": np.asfortranarray(m.astype(">f8"))}, True))
put("npz", "u8_ids.npz", npz({"ids": np.array([1, 2], np.uint8), "x": np.ones((2, 1))}, False))
put("npz", "i16_ids.npz", npz({"ids": np.array([1, 2], np.int16), "x": np.ones((2, 1), np.float32)}, False))
put("npz", "only_ids.npz", npz({"ids": ids}, False))
put("npz", "dup_ids.npz", npz({"ids": np.array([1, 1]), "x": np.ones((2, 1))}, False))
put("npz", "str_ids.npz", npz({"ids": np.array(["a", "b"]), "x": np.ones((2, 1))}, False))
put("npz", "empty_zip.npz", npz({}, False))
zb = io.BytesIO()
with zipfile.ZipFile(zb, "w") as z:
    z.writestr("x.npy", b"not an npy")
put("npz", "garbage_entry.npz", zb.getvalue())

# --- table (CSV) -------------------------------------------------------
put("table", "basic.csv", "id,H,C\n1,2,3\n")
put("table", "id_middle.csv", "a, id ,b\n1.5,x,2\n-3,y,4e2\n")
put("table", "quoted.csv", 'id,"H",O\n"w,1",2,1\n"w2",0.5,-1e-3\n')
put("table", "crlf.csv", "id,H\r\n1,2\r\n2,3\r\n")
put("table", "header_only.csv", "id,a,b\n")
put("table", "nan.csv", "id,a\n1,nan\n")
put("table", "inf.csv", "id,a\n1,inf\n")
put("table", "empty_cell.csv", "id,a\n1,\n")
put("table", "dup_id.csv", "id,a\n1,2\n1,3\n")
put("table", "no_id.csv", "a,b\n1,2\n")
put("table", "ragged.csv", "id,a\n1,2,3\n")
put("table", "dup_col.csv", "id,a,a\n1,2,3\n")
put("table", "empty.csv", "")
put("table", "bad_utf8.csv", b"id,a\n\xff\xfe,1\n")

# --- xyz ---------------------------------------------------------------
put("xyz", "water_h2o.xyz", "2\nProperties=species:S:1:pos:R:3 id=a\nH 0 0 0\nO 0 0 1\n")
put("xyz", "two_frames.xyz",
    "3\nProperties=species:S:1:pos:R:3 id=w1 comment=\"a b\"\nO 0 0 0\nH 0 0 1\nH 0 1 0\n"
    "2\nProperties=pos:R:3:species:S:1 id=co\n0 0 0 C\n0 0 1 O\n")
put("xyz", "plain.xyz", "1\n\nH 0 0 0\n1\nplain comment\nHe 0 0 0\n")
put("xyz", "quoted_id.xyz", "1\nid='x y' pbc=\"T T T\" Lattice=\"1 0 0 0 1 0 0 0 1\"\nCl 0 0 0\n")
put("xyz", "blank_lines.xyz", "\n\n1\n\nOg 0 0 0\n\n")
put("xyz", "bad_count.xyz", "x\n\nH 0 0 0\n")
put("xyz", "short_frame.xyz", "3\n\nH 0 0 0\nH 0 0 0\n")
put("xyz", "unknown_elem.xyz", "1\n\nXx 0 0 0\n")
put("xyz", "dup_id.xyz", "1\nid=a\nH 0 0 0\n1\nid=a\nH 0 0 0\n")
put("xyz", "bad_properties.xyz", "1\nProperties=species:S\nH 0 0 0\n")
put("xyz", "no_species.xyz", "1\nProperties=pos:R:3\n0 0 0\n")
put("xyz", "zero_atoms.xyz", "0\n\n")
put("xyz", "empty.xyz", "")
