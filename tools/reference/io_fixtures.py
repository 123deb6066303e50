#!/usr/bin/env python3
"""io_fixtures.py: reference files for the io and core tests, written by the real Python libraries.

Writes into tests/fixtures/io/ (all tiny, committed; the C++ tests never run Python):
  st_py_all.safetensors   every safetensors dtype, written by safetensors.torch.save_file (+ metadata)
  st_py_all.json          the exact values of each tensor (float32/float64/int as JSON numbers)
  st_py_write.safetensors what the Python package writes for the tensors in st_py_write.json; our
                          safetensors_write given the same tensors in the same order must produce these bytes
  npy_*.npy               np.save / np.lib.format.write_array output (format 1.0, 2.0 and 3.0 headers)
  npy_values.json         the exact values in each .npy file
  npy_write_*.npy         np.save output that our npy_save / npy_save_int32 must reproduce byte for byte
  optim_torch.txt         torch.optim.Adam / AdamW trajectories (5 steps, float32) for tests/core/test_optim

Run (needs numpy, torch and the `safetensors` package, e.g. a venv with system site packages):
  python3 -m venv --system-site-packages /tmp/venv && /tmp/venv/bin/pip install safetensors
  /tmp/venv/bin/python tools/reference/io_fixtures.py
Versions used for the committed files are recorded in versions.json.
"""
import json
import os
import sys

import numpy as np
import safetensors
import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "io")


def f32_list(a):
    return [float(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def safetensors_fixtures(rng):
    # Every dtype the format knows. Float values are chosen so that they are exact in their dtype.
    t = {}
    vals = {}
    t["f32"] = torch.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    t["f16"] = torch.tensor(rng.standard_normal((3, 2)).astype(np.float16))
    t["bf16"] = torch.tensor(rng.standard_normal((4,)).astype(np.float32)).to(torch.bfloat16)
    t["f64"] = torch.tensor(rng.standard_normal((2, 2)))  # float64, not exact in float32
    t["i64"] = torch.tensor([-(2 ** 40), -1, 0, 7, 2 ** 40], dtype=torch.int64)
    t["i32"] = torch.tensor([[-5, 3], [2 ** 30, -(2 ** 31)]], dtype=torch.int32)
    t["i16"] = torch.tensor([-32768, 32767, 5], dtype=torch.int16)
    t["i8"] = torch.tensor([-128, 127, -3], dtype=torch.int8)
    t["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    t["boolean"] = torch.tensor([True, False, True])
    t["scalar"] = torch.tensor(2.5, dtype=torch.float32)  # 0-d
    t["empty"] = torch.zeros((0, 3), dtype=torch.float32)
    for k, v in t.items():
        if v.dtype == torch.bool:
            vals[k] = {"dtype": "BOOL", "shape": list(v.shape), "values": [int(x) for x in v.ravel().tolist()]}
        elif v.dtype.is_floating_point:
            vals[k] = {"dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                                 torch.float64: "F64"}[v.dtype],
                       "shape": list(v.shape),
                       # what a float32 reader must return: the value rounded to float32
                       "values": f32_list(v.double().float().double().numpy())}
        else:
            vals[k] = {"dtype": {torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                                 torch.uint8: "U8"}[v.dtype],
                       "shape": list(v.shape), "values": [int(x) for x in v.ravel().tolist()]}
    meta = {"note": "unfold fixture \u00e9"}  # one key: the Rust side writes metadata in hash order
    save_file(t, os.path.join(OUT, "st_py_all.safetensors"), metadata=meta)
    with open(os.path.join(OUT, "st_py_all.json"), "w") as f:
        json.dump({"metadata": meta, "tensors": vals}, f, indent=1)

    # Byte-compatibility: the Python package orders tensors by dtype alignment (descending), then name.
    # The JSON lists them in that order with float32 source values; our writer converts F16/BF16 itself.
    src = {
        "a.weight": ("F32", rng.standard_normal((2, 3)).astype(np.float32)),
        "b": ("F32", rng.standard_normal((5,)).astype(np.float32)),
        "c.bf": ("BF16", np.concatenate([rng.standard_normal(6).astype(np.float32),
                                         # ties at the bf16 rounding point: round to even both ways
                                         np.array([1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8], np.float32)])),
        "d.half": ("F16", np.concatenate([rng.standard_normal(5).astype(np.float32),
                                          np.array([1.0 + 2 ** -11, 1.0 + 3 * 2 ** -11, 1e-6, 60000.0],
                                                   np.float32)]).reshape(3, 3)),
    }
    tt = {}
    order = []
    for name, (dt, a) in src.items():
        x = torch.tensor(a)
        tt[name] = x if dt == "F32" else x.to(torch.bfloat16 if dt == "BF16" else torch.float16)
        order.append({"name": name, "dtype": dt, "shape": list(a.shape), "values": f32_list(a)})
    wmeta = {"format": "pt"}
    save_file(tt, os.path.join(OUT, "st_py_write.safetensors"), metadata=wmeta)
    with open(os.path.join(OUT, "st_py_write.json"), "w") as f:
        json.dump({"metadata": wmeta, "tensors": order}, f, indent=1)


def npy_fixtures(rng):
    arrays = {
        "npy_f32_v1": (rng.standard_normal((3, 4)).astype(np.float32), (1, 0)),
        "npy_f16_v1": (rng.standard_normal((5,)).astype(np.float16), (1, 0)),
        "npy_f64_v1": (rng.standard_normal((2, 3)), (1, 0)),
        "npy_f32_v2": (rng.standard_normal((2, 2, 3)).astype(np.float32), (2, 0)),
        "npy_f32_v3": (rng.standard_normal((4, 1)).astype(np.float32), (3, 0)),
        "npy_i32_v1": (np.array([[1, -2, 3], [2 ** 31 - 1, -(2 ** 31), 0]], np.int32), (1, 0)),
        "npy_i64_v1": (np.array([0, 50256, -(2 ** 40)], np.int64), (1, 0)),
        "npy_u8_v1": (np.array([0, 1, 255], np.uint8), (1, 0)),
        "npy_scalar_v1": (np.array(1.5, np.float32), (1, 0)),
        "npy_empty_v1": (np.zeros((0, 3), np.float32), (1, 0)),
    }
    vals = {}
    for name, (a, ver) in arrays.items():
        with open(os.path.join(OUT, name + ".npy"), "wb") as f:
            np.lib.format.write_array(f, a, version=ver)
        integer = a.dtype.kind in "iu"
        vals[name] = {"descr": a.dtype.str, "shape": list(a.shape), "version": list(ver),
                      "values": [int(x) for x in a.ravel()] if integer else f32_list(a.astype(np.float32))}
    # What np.save writes (it picks the version itself): our writer must match byte for byte.
    writes = {
        "npy_write_f32": rng.standard_normal((3, 4)).astype(np.float32),
        "npy_write_f32_1d": rng.standard_normal((7,)).astype(np.float32),
        "npy_write_f32_big0": rng.standard_normal((1000, 1)).astype(np.float32),
        "npy_write_f16": np.array([0.1, -2.5, 1.0 + 2 ** -11, 3e-7, 65000.0], np.float32),
        "npy_write_i32": np.array([[5, -6], [7, 2 ** 31 - 1], [0, -(2 ** 31)]], np.int32),
        "npy_write_scalar": np.array(-0.75, np.float32),
    }
    for name, a in writes.items():
        out = a.astype(np.float16) if name == "npy_write_f16" else a
        np.save(os.path.join(OUT, name + ".npy"), out)
        vals[name] = {"descr": out.dtype.str, "shape": list(a.shape),
                      "values": [int(x) for x in a.ravel()] if a.dtype.kind == "i" else f32_list(a)}
    with open(os.path.join(OUT, "npy_values.json"), "w") as f:
        json.dump(vals, f, indent=1)


def optim_fixture():
    # A few parameters, gradients from a fixed quadratic-plus-sine loss, 5 steps, in float32.
    runs = []
    for kind, wd in (("adamw", 0.01), ("adam", 0.0)):
        p0 = torch.tensor([0.5, -1.25, 2.0, 0.001, -0.3, 1.7, -2.2, 0.9], dtype=torch.float32)
        p = p0.clone().requires_grad_(True)
        lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
        if kind == "adamw":
            opt = torch.optim.AdamW([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, foreach=False)
        else:
            opt = torch.optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=0.0, foreach=False)
        grads, traj = [], []
        for step in range(5):
            opt.zero_grad()
            # gradient recorded explicitly so the C++ test applies exactly the same float32 values
            g = (2.0 * p.detach() - 0.5 + torch.sin(p.detach() * (step + 1))).to(torch.float32)
            if step == 2:
                g[3] = 0.0  # a zero gradient mid-run
            p.grad = g.clone()
            opt.step()
            grads.append(f32_list(g.numpy()))
            traj.append(f32_list(p.detach().numpy()))
        runs.append({"kind": kind, "lr": lr, "beta1": b1, "beta2": b2, "eps": eps, "weight_decay": wd,
                     "init": f32_list(p0.numpy()), "grads": grads, "params": traj})
    # Plain text (tests/core links only unfold_core, which has no JSON parser):
    #   run <kind> <lr> <beta1> <beta2> <eps> <weight_decay> <n> <steps>
    #   init <n values>, then per step: grad <n values> / param <n values after the step>
    with open(os.path.join(OUT, "optim_torch.txt"), "w") as f:
        f.write(f"# torch.optim trajectories, torch {torch.__version__}, float32; see tools/reference/io_fixtures.py\n")
        for r in runs:
            n = len(r["init"])
            f.write(f"run {r['kind']} {r['lr']!r} {r['beta1']!r} {r['beta2']!r} {r['eps']!r} {r['weight_decay']!r} "
                    f"{n} {len(r['grads'])}\n")
            f.write("init " + " ".join(repr(x) for x in r["init"]) + "\n")
            for g, p in zip(r["grads"], r["params"]):
                f.write("grad " + " ".join(repr(x) for x in g) + "\n")
                f.write("param " + " ".join(repr(x) for x in p) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1234)
    safetensors_fixtures(rng)
    npy_fixtures(rng)
    optim_fixture()
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump({"python": sys.version.split()[0], "numpy": np.__version__, "torch": torch.__version__,
                   "safetensors": safetensors.__version__}, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, into {OUT}")


if __name__ == "__main__":
    main()
