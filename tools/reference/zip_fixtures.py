#!/usr/bin/env python3
"""zip_fixtures.py: .npz archives written by numpy itself, for tests/io/test_zip.cpp.

Writes into tests/fixtures/io/ (tiny, committed; the C++ tests never run Python):
  npz_stored.npz      np.savez (members stored)
  npz_deflated.npz    np.savez_compressed (members deflated by Python's zlib)
  npz_values.json     every array's dtype, shape and exact values (each element as a float64 JSON number)
The arrays mix a float32 matrix, a float16 vector, a float64 vector and a long, repetitive float32
ramp (so the deflated member uses dynamic-Huffman blocks with long back-references).

Run (needs numpy): python3 tools/reference/zip_fixtures.py
"""
import json
import os
import platform

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "io")


def main():
    rng = np.random.default_rng(20261203)
    arrays = {
        "W": rng.standard_normal((3, 5)).astype(np.float32),
        "h": np.array([0.5, -2.0, 65504.0, 6.103515625e-05], dtype=np.float16),
        "d": np.array([1.0 / 3.0, -1e30, 1e-40], dtype=np.float64),
        "ramp": np.tile(np.arange(64, dtype=np.float32) * 0.25, 40),
    }
    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, "npz_stored.npz"), **arrays)
    np.savez_compressed(os.path.join(OUT, "npz_deflated.npz"), **arrays)
    vals = {
        k: {"dtype": a.dtype.str, "shape": list(a.shape), "values": [float(x) for x in a.astype(np.float64).ravel()]}
        for k, a in arrays.items()
    }
    vals["_versions"] = {"python": platform.python_version(), "numpy": np.__version__}
    with open(os.path.join(OUT, "npz_values.json"), "w") as f:
        json.dump(vals, f)
        f.write("\n")


if __name__ == "__main__":
    main()
