#!/usr/bin/env python3
"""Loads an unfold-written SAE folder with SAELens itself and checks it computes what unfold computes.

  python check_saelens_load.py [--unfold PATH/TO/unfold] [--inputs ACTS.npy] RUN_DIR [RUN_DIR ...]

For each folder: SAE.load_from_disk(RUN_DIR) (SAELens' own loader, so cfg.json keys, tensor names, shapes
and dtypes are validated by SAELens), then encode/decode inputs with SAELens and with a numpy
re-implementation of unfold's formulas from the same safetensors, and report the largest difference.
With --unfold, the same inputs also go through unfold's own CLI (`unfold sae encode` then `unfold sae decode`)
and its codes and reconstructions are compared with SAELens' as well.
Architectures: standard, topk, jumprelu (also unfold's batchtopk) and gated (SAELens GatedSAE: b_gate, r_mag,
b_mag instead of b_enc). Inputs: 64 Gaussian rows, plus the first 64 rows of --inputs (a .npy [N, d_in]) when given.
Not part of the test suite (needs `pip install sae-lens`). Where SAELens' optional training dependencies
(datasets/pyarrow) cannot be imported, they are replaced by empty stand-in modules: loading an SAE from
disk does not use them.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import types


def stub(name):
    class _Any:
        def __init__(self, *a, **k): pass
        def __call__(self, *a, **k): return _Any()
        def __getattr__(self, n): return _Any()
        def __class_getitem__(cls, item): return cls
        def __or__(self, o): return self
        def __ror__(self, o): return self
    m = types.ModuleType(name)
    m.__path__ = []
    m.__getattr__ = lambda n: _Any
    sys.modules[name] = m


try:
    import datasets  # noqa: F401
except Exception:
    for n in ["datasets", "datasets.features", "datasets.arrow_dataset", "datasets.iterable_dataset",
              "datasets.dataset_dict", "datasets.fingerprint", "datasets.utils", "datasets.load"]:
        stub(n)

import numpy as np
import torch
from safetensors.numpy import load_file
from sae_lens import SAE

try:
    from importlib.metadata import version
    SAELENS_VERSION = version("sae-lens")
except Exception:
    SAELENS_VERSION = "unknown"

ap = argparse.ArgumentParser()
ap.add_argument("--unfold", help="path to the unfold binary: also compare with `unfold sae encode/decode`")
ap.add_argument("--inputs", help=".npy [N, d_in] of real activations to use as extra input rows")
ap.add_argument("--tol", type=float, default=1e-4)
ap.add_argument("runs", nargs="+")
args = ap.parse_args()


def load(run):
    # SAELens 6.x: SAE.load_from_disk(path, device=...) returns the SAE; 3.x-5.x also accept device=
    r = SAE.load_from_disk(run, device="cpu")
    return r[0] if isinstance(r, tuple) else r


def unfold_codes(run, x):
    """Runs unfold's own CLI on x; returns (dense codes [N, d_sae], reconstruction [N, d_in])."""
    with tempfile.TemporaryDirectory() as td:
        np.save(f"{td}/x.npy", x)
        q = ["--quiet", "--threads", "1"]
        for cmd in (["encode", run, "--input", f"{td}/x.npy", "--out", f"{td}/codes"],
                    ["decode", run, "--codes", f"{td}/codes", "--out", f"{td}/recon.npy"]):
            p = subprocess.run([args.unfold, "sae"] + cmd + q, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"unfold sae {cmd[0]} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
        idx, val = np.load(f"{td}/codes/indices.npy"), np.load(f"{td}/codes/values.npy")
        recon = np.load(f"{td}/recon.npy")
    return idx, val, recon


rng = np.random.default_rng(0)
ok = True
for run in args.runs:
    sae = load(run)
    cfg = json.load(open(f"{run}/cfg.json"))
    w = load_file(f"{run}/sae_weights.safetensors")
    x = rng.normal(size=(64, cfg["d_in"])).astype(np.float32)
    if args.inputs:
        real = np.load(args.inputs, mmap_mode="r")[:64].astype(np.float32)
        x = np.concatenate([x, real], 0)
    with torch.no_grad():
        f = sae.encode(torch.from_numpy(x)).numpy()
        xh = sae.decode(torch.from_numpy(f)).numpy()
    # numpy re-implementation of unfold's inference formulas
    xc = x - w["b_dec"] if cfg["apply_b_dec_to_input"] else x
    if cfg["architecture"] == "gated":
        # f = 1[xc W_enc + b_gate > 0] * relu(xc (W_enc * exp(r_mag)) + b_mag)
        z = xc @ w["W_enc"]
        gate = z + w["b_gate"]
        mag = z * np.exp(w["r_mag"]) + w["b_mag"]
        ref = np.where(gate > 0, np.maximum(mag, 0), 0)
    else:
        pre = xc @ w["W_enc"] + w["b_enc"]
    if cfg["architecture"] == "gated":
        pass
    elif cfg["architecture"] == "topk":
        ref = np.zeros_like(pre)
        idx = np.argsort(-pre, axis=1)[:, : cfg["k"]]
        np.put_along_axis(ref, idx, np.maximum(np.take_along_axis(pre, idx, 1), 0), 1)
    elif cfg["architecture"] == "jumprelu":
        ref = np.where(pre > w["threshold"], np.maximum(pre, 0), 0)
    else:
        ref = np.maximum(pre, 0)
    df, dx = np.abs(f - ref).max(), np.abs(xh - (ref @ w["W_dec"] + w["b_dec"])).max()
    res = {"run": run, "sae_lens": SAELENS_VERSION, "saelens_class": type(sae).__name__,
           "architecture": cfg["architecture"], "unfold_architecture": cfg.get("metadata", {}).get("unfold_architecture"),
           "d_in": cfg["d_in"], "d_sae": cfg["d_sae"], "rows": int(x.shape[0]),
           "numpy_vs_saelens_codes": float(df), "numpy_vs_saelens_recon": float(dx),
           "l0_saelens": float((f > 0).sum(1).mean())}
    good = df < args.tol and dx < args.tol
    if args.unfold:
        uidx, uval, urec = unfold_codes(run, x)
        uf = np.zeros_like(f)
        rows = np.repeat(np.arange(uidx.shape[0])[:, None], uidx.shape[1], 1)
        m = uidx >= 0
        uf[rows[m], uidx[m]] = uval[m]
        # active-set agreement (a latent firing in one but not the other would show as a code diff anyway)
        same_support = float(((uf != 0) == (f != 0)).all(1).mean())
        duf, dux = np.abs(uf - f).max(), np.abs(urec - xh).max()
        res.update({"unfold_vs_saelens_codes": float(duf), "unfold_vs_saelens_recon": float(dux),
                    "unfold_kmax": int(uidx.shape[1]), "frac_rows_same_active_set": same_support,
                    "max_abs_code": float(np.abs(f).max()), "max_abs_recon": float(np.abs(xh).max())})
        good = good and duf < args.tol and dux < args.tol
    res["ok"] = bool(good)
    ok &= good
    print(json.dumps(res))
sys.exit(0 if ok else 1)
