#!/usr/bin/env python3
"""Loads an unfold-written SAE folder with SAELens itself and checks it computes what unfold computes.

  python check_saelens_load.py RUN_DIR [RUN_DIR ...]

For each folder: SAE.load_from_disk(RUN_DIR) (SAELens' own loader, so cfg.json keys, tensor names, shapes
and dtypes are validated by SAELens), then encode/decode random inputs with SAELens and with a numpy
re-implementation of unfold's formulas from the same safetensors, and report the largest difference.
Not part of the test suite (needs `pip install sae-lens`). Where SAELens' optional training dependencies
(datasets/pyarrow) cannot be imported, they are replaced by empty stand-in modules: loading an SAE from
disk does not use them.
"""
import importlib
import json
import sys
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

rng = np.random.default_rng(0)
ok = True
for run in sys.argv[1:]:
    sae = SAE.load_from_disk(run, device="cpu")
    cfg = json.load(open(f"{run}/cfg.json"))
    w = load_file(f"{run}/sae_weights.safetensors")
    x = rng.normal(size=(64, cfg["d_in"])).astype(np.float32)
    with torch.no_grad():
        f = sae.encode(torch.from_numpy(x)).numpy()
        xh = sae.decode(torch.from_numpy(f)).numpy()
    xc = x - w["b_dec"] if cfg["apply_b_dec_to_input"] else x
    pre = xc @ w["W_enc"] + w["b_enc"]
    if cfg["architecture"] == "topk":
        ref = np.zeros_like(pre)
        idx = np.argsort(-pre, axis=1)[:, : cfg["k"]]
        np.put_along_axis(ref, idx, np.maximum(np.take_along_axis(pre, idx, 1), 0), 1)
    elif cfg["architecture"] == "jumprelu":
        ref = np.where(pre > w["threshold"], np.maximum(pre, 0), 0)
    else:
        ref = np.maximum(pre, 0)
    df, dx = np.abs(f - ref).max(), np.abs(xh - (ref @ w["W_dec"] + w["b_dec"])).max()
    good = df < 1e-4 and dx < 1e-4
    ok &= good
    print(json.dumps({"run": run, "saelens_class": type(sae).__name__, "architecture": cfg["architecture"],
                      "d_in": cfg["d_in"], "d_sae": cfg["d_sae"], "max_abs_diff_codes": float(df),
                      "max_abs_diff_recon": float(dx), "l0": float((f > 0).sum(1).mean()), "ok": bool(good)}))
sys.exit(0 if ok else 1)
