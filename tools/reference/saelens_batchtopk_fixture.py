#!/usr/bin/env python3
"""Writes SAELens *training-format* BatchTopK folders with SAELens itself, for tests/sae/test_saelens_batchtopk.cpp.

SAELens' BatchTopKTrainingSAE.save_model writes cfg.json with "architecture": "batchtopk" (k, rescale_acts_by_decoder_norm,
topk_threshold_lr, ...) and sae_weights.safetensors with W_enc, b_enc, W_dec, b_dec and the scalar float64 buffer
topk_threshold (the running estimate of the smallest kept activation). TrainingSAE.load_from_disk reads the folder back
as a BatchTopKTrainingSAE, whose encode() keeps the k * rows largest relu(pre) of the whole batch; its inference form
(save_inference_model) is a JumpReLU SAE with threshold[i] = topk_threshold for every latent (weights folded by the
decoder norms when rescale_acts_by_decoder_norm). For each folder OUT/<name>/:
  cfg.json + sae_weights.safetensors   SAELens' BatchTopKTrainingSAE.save_model(folder)
  x.npy               [20, 16] float32 input
  codes_batch.npy     [20, 48] TrainingSAE.load_from_disk(folder).encode(x)   (batch top-k, k * 20 kept)
  codes.npy           [20, 48] the inference JumpReLU SAE's encode(x)           (save_inference_model + SAE.load_from_disk)
  recon.npy           [20, 16] its decode(codes)
Folders: batchtopk (k = 4, apply_b_dec_to_input = True, rescale_acts_by_decoder_norm = False) and batchtopk_rescaled
(k = 4, rescale_acts_by_decoder_norm = True; W_dec row norms in [0.5, 1.5]). topk_threshold is set to a value between
the kept activations (as training would leave it). Every firing decision keeps a margin >= 1e-3 (pre vs threshold, and
the k*B-th vs the (k*B+1)-th activation of the batch), redrawing x otherwise.
  /work/venv-tl/bin/python tools/reference/saelens_batchtopk_fixture.py [OUT]   (default tests/fixtures/sae/saelens_batchtopk;
  pip install sae-lens, tested with 6.54.12 and torch 2.15.0)
"""
import os
import sys
import tempfile

import numpy as np
import torch

import sae_lens
from sae_lens import SAE, BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig, TrainingSAE

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sae/saelens_batchtopk"
D_IN, D_SAE, B, K = 16, 48, 20, 4
MARGIN = 1e-3


def fill(sae, g):
    W_dec = torch.randn(D_SAE, D_IN, generator=g)
    W_dec = W_dec / W_dec.norm(dim=1, keepdim=True) * (0.5 + torch.rand(D_SAE, generator=g))[:, None]
    with torch.no_grad():
        sae.W_dec.copy_(W_dec)
        sae.W_enc.copy_(torch.randn(D_IN, D_SAE, generator=g) / D_IN ** 0.5)
        sae.b_enc.copy_(-0.2 + 0.3 * torch.randn(D_SAE, generator=g))
        sae.b_dec.copy_(0.2 * torch.randn(D_IN, generator=g))


def pre_acts(sae, x):
    p = {k: v.detach().double() for k, v in sae.named_parameters()}
    pre = (x.double() - p["b_dec"] * float(sae.cfg.apply_b_dec_to_input)) @ p["W_enc"] + p["b_enc"]
    if sae.cfg.rescale_acts_by_decoder_norm:
        pre = pre * p["W_dec"].norm(dim=1)
    return pre


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = []
    for ai, (name, rescale) in enumerate([("batchtopk", False), ("batchtopk_rescaled", True)]):
        g = torch.Generator().manual_seed(3000 + ai)
        cfg = BatchTopKTrainingSAEConfig(d_in=D_IN, d_sae=D_SAE, k=K, apply_b_dec_to_input=True,
                                         rescale_acts_by_decoder_norm=rescale)
        sae = BatchTopKTrainingSAE(cfg)
        fill(sae, g)
        seed = 4000 + 100 * ai
        while True:
            x = torch.randn(B, D_IN, generator=torch.Generator().manual_seed(seed))
            pre = pre_acts(sae, x)
            s = pre.relu().flatten().sort(descending=True).values
            kb = K * B
            thr = float((s[kb - 1] + s[kb]) / 2)  # between the kept and the dropped: what training converges to
            m = min((s[kb - 1] - s[kb]).item(), (pre - thr).abs().min().item(), s[kb - 1].item())
            if m >= MARGIN:
                break
            seed += 1
        sae.topk_threshold = torch.tensor(thr, dtype=torch.double)
        folder = os.path.join(OUT, name)
        sae.save_model(folder)
        with torch.no_grad():
            loaded = TrainingSAE.load_from_disk(folder)
            assert isinstance(loaded, BatchTopKTrainingSAE), type(loaded)
            codes_batch = loaded.encode(x)
            with tempfile.TemporaryDirectory() as tmp:
                loaded.save_inference_model(tmp)
                inf = SAE.load_from_disk(tmp)
            codes = inf.encode(x)
            recon = inf.decode(codes)
        assert int((codes_batch > 0).sum()) == K * B
        np.save(os.path.join(folder, "x.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(folder, "codes_batch.npy"), codes_batch.numpy().astype(np.float32))
        np.save(os.path.join(folder, "codes.npy"), codes.numpy().astype(np.float32))
        np.save(os.path.join(folder, "recon.npy"), recon.numpy().astype(np.float32))
        msg = (f"{name:18s} rescale_acts_by_decoder_norm={rescale!s:5s} x seed {seed}  topk_threshold {thr:.6f}  "
               f"inference {type(inf).__name__} active {(codes != 0).float().mean().item():.3f}  batch top-k active "
               f"{int((codes_batch != 0).sum())} of {B * D_SAE}  min margin {m:.2e}")
        print(msg)
        lines.append(msg)
    with open(os.path.join(OUT, "README.txt"), "w") as f:
        f.write("SAELens training-format BatchTopK folders (BatchTopKTrainingSAE.save_model) with SAELens' outputs.\n")
        f.write(f"sae-lens {sae_lens.__version__}, torch {torch.__version__}\n")
        f.write("Regenerate (from the repo root):\n  python tools/reference/saelens_batchtopk_fixture.py "
                "tests/fixtures/sae/saelens_batchtopk   (with sae-lens installed)\n\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
