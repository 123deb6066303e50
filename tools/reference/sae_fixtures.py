#!/usr/bin/env python3
"""Writes tiny SAE fixtures for unfold's import tests (tests/fixtures/sae/), using numpy and the
`safetensors` package (pip install safetensors numpy):

  saelens_topk/      cfg.json + sae_weights.safetensors (+ sparsity.safetensors)   SAELens v6 layout, topk
  saelens_jumprelu/  cfg.json + sae_weights.safetensors with threshold             SAELens v6 layout, jumprelu
  saelens_standard/  cfg.json (pre-6.0 flat config) + sae_weights.safetensors      relu
  sparsify/          cfg.json + sae.safetensors (encoder.weight [F,d], encoder.bias, W_dec [F,d], b_dec)
  gemmascope/params.npz              np.savez (stored members)
  gemmascope_deflate/params.npz      np.savez_compressed (deflated members)
  expected.json      for each fixture: inputs x [3, d] and the reference codes f [3, F] and reconstructions,
                     computed here with each library's own encode/decode formulas.

Run: python3 tools/reference/sae_fixtures.py tests/fixtures/sae
"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file

out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sae"
rng = np.random.default_rng(1234)
d, F = 5, 8
X = rng.normal(size=(3, d)).astype(np.float32)


def mk():
    W_enc = rng.normal(size=(d, F)).astype(np.float32)
    b_enc = (0.1 * rng.normal(size=F)).astype(np.float32)
    W_dec = rng.normal(size=(F, d)).astype(np.float32)
    b_dec = (0.1 * rng.normal(size=d)).astype(np.float32)
    return W_enc, b_enc, W_dec, b_dec


expected = {}


def record(name, f, xhat):
    expected[name] = {"x": X.tolist(), "f": f.astype(np.float64).tolist(), "xhat": xhat.astype(np.float64).tolist()}


def topk_codes(pre, k):
    f = np.zeros_like(pre)
    for r in range(pre.shape[0]):
        idx = np.argsort(-pre[r])[:k]
        f[r, idx] = np.maximum(pre[r, idx], 0)
    return f


# --- SAELens topk (v6 config)
W_enc, b_enc, W_dec, b_dec = mk()
p = os.path.join(out, "saelens_topk")
os.makedirs(p, exist_ok=True)
save_file({"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec}, os.path.join(p, "sae_weights.safetensors"))
save_file({"sparsity": np.log10(np.linspace(0.001, 0.5, F) + 1e-10).astype(np.float32)},
          os.path.join(p, "sparsity.safetensors"))
json.dump({"architecture": "topk", "d_in": d, "d_sae": F, "dtype": "float32", "device": "cpu", "k": 3,
           "apply_b_dec_to_input": True, "normalize_activations": "none", "reshape_activations": "none",
           "rescale_acts_by_decoder_norm": False,
           "metadata": {"sae_lens_version": "6.18.0", "model_name": "fixture", "hook_name": "blocks.0.hook_resid_post"}},
          open(os.path.join(p, "cfg.json"), "w"), indent=2)
pre = (X - b_dec) @ W_enc + b_enc
f = topk_codes(pre, 3)
record("saelens_topk", f, f @ W_dec + b_dec)

# --- SAELens jumprelu (no b_dec subtraction)
W_enc, b_enc, W_dec, b_dec = mk()
thr = np.abs(0.5 * rng.normal(size=F)).astype(np.float32)
p = os.path.join(out, "saelens_jumprelu")
os.makedirs(p, exist_ok=True)
save_file({"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "threshold": thr},
          os.path.join(p, "sae_weights.safetensors"))
json.dump({"architecture": "jumprelu", "d_in": d, "d_sae": F, "dtype": "float32", "device": "cpu",
           "apply_b_dec_to_input": False, "normalize_activations": "none", "metadata": {}},
          open(os.path.join(p, "cfg.json"), "w"), indent=2)
pre = X @ W_enc + b_enc
f = np.where(pre > thr, np.maximum(pre, 0), 0)
record("saelens_jumprelu", f, f @ W_dec + b_dec)

# --- SAELens standard, pre-6.0 flat config
W_enc, b_enc, W_dec, b_dec = mk()
p = os.path.join(out, "saelens_standard")
os.makedirs(p, exist_ok=True)
save_file({"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec}, os.path.join(p, "sae_weights.safetensors"))
json.dump({"d_in": d, "d_sae": F, "dtype": "float32", "device": "cpu", "activation_fn_str": "relu",
           "apply_b_dec_to_input": True, "hook_name": "blocks.0.hook_resid_pre", "hook_layer": 0},
          open(os.path.join(p, "cfg.json"), "w"), indent=2)
pre = (X - b_dec) @ W_enc + b_enc
f = np.maximum(pre, 0)
record("saelens_standard", f, f @ W_dec + b_dec)

# --- sparsify (encoder is nn.Linear: weight [F, d])
W_enc, b_enc, W_dec, b_dec = mk()
p = os.path.join(out, "sparsify")
os.makedirs(p, exist_ok=True)
save_file({"encoder.weight": np.ascontiguousarray(W_enc.T), "encoder.bias": b_enc, "W_dec": W_dec, "b_dec": b_dec},
          os.path.join(p, "sae.safetensors"))
json.dump({"activation": "topk", "expansion_factor": 32, "normalize_decoder": True, "num_latents": F, "k": 2,
           "multi_topk": False, "skip_connection": False, "transcode": False, "d_in": d},
          open(os.path.join(p, "cfg.json"), "w"), indent=2)
pre = (X - b_dec) @ W_enc + b_enc
f = topk_codes(pre, 2)
record("sparsify", f, f @ W_dec + b_dec)

# --- Gemma Scope params.npz (JumpReLU, no b_dec subtraction), stored and deflated
for name, saver in (("gemmascope", np.savez), ("gemmascope_deflate", np.savez_compressed)):
    W_enc, b_enc, W_dec, b_dec = mk()
    thr = np.abs(0.5 * rng.normal(size=F)).astype(np.float32)
    p = os.path.join(out, name)
    os.makedirs(p, exist_ok=True)
    saver(os.path.join(p, "params.npz"), W_enc=W_enc, W_dec=W_dec, b_enc=b_enc, b_dec=b_dec, threshold=thr)
    pre = X @ W_enc + b_enc
    f = np.where(pre > thr, np.maximum(pre, 0), 0)
    record(name, f, f @ W_dec + b_dec)

json.dump(expected, open(os.path.join(out, "expected.json"), "w"), indent=1)
print("wrote fixtures to", out)
