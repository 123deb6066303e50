#!/usr/bin/env python3
"""Writes SAE folders with the real SAELens library (its own classes and its own save method) plus the
codes and reconstructions SAELens computes for a fixed input, so tests/sae/test_saelens_written.cpp can
check that unfold loads what SAELens writes and computes the same numbers.

  /work/saelens/venv/bin/python tools/reference/saelens_written_fixtures.py [OUT]   (default OUT:
      tests/fixtures/sae/saelens_written; needs `pip install sae-lens` (tested with 6.54.12) and torch)

For each architecture a folder OUT/<name>/ holds
  cfg.json + sae_weights.safetensors   written by SAELens' SAE.save_model(folder)
  sparsity.safetensors                 (topk only) written the way SAELens' trainer writes it:
                                       safetensors.torch.save_file({"sparsity": log10 freq}, ...)
  x.npy      [20, 16] float32 input
  codes.npy  [20, 48] float32 dense codes = sae.encode(x)
  recon.npy  [20, 16] float32 = sae.decode(codes)
Folders (d_in = 16, d_sae = 48):
  standard  StandardSAE   apply_b_dec_to_input = True
  topk      TopKSAE k=4   apply_b_dec_to_input = False, rescale_acts_by_decoder_norm = False
  jumprelu  JumpReLUSAE   apply_b_dec_to_input = False, threshold in [0.1, 0.5]
  gated     GatedSAE      apply_b_dec_to_input = True,  r_mag in [-0.5, 0.5], b_mag in [-0.3, 0.3]
  topk_rescaled  TopKSAE k=4, apply_b_dec_to_input = True, rescale_acts_by_decoder_norm = True (SAELens
            selects the top k of pre * ||W_dec_i|| and decodes (codes / ||W_dec_i||) @ W_dec + b_dec;
            W_dec row norms are in [0.5, 1.5] here, so ignoring the flag changes codes and reconstructions)
Weights are random from a fixed torch seed; biases are shifted negative so that a good fraction, but not
all, of the latents fire. The script checks every firing decision has a margin of at least 1e-3 (distance
of each pre-activation to its threshold, and for topk the gap between the k-th and (k+1)-th value), so a
float32 re-implementation cannot flip one through rounding; if not, it redraws x with the next seed.
OUT/README.txt records the sae-lens and torch versions and the command that regenerated the files.
"""
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

import sae_lens
from sae_lens import (GatedSAE, GatedSAEConfig, JumpReLUSAE, JumpReLUSAEConfig, StandardSAE, StandardSAEConfig,
                      TopKSAE, TopKSAEConfig)

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sae/saelens_written"
D_IN, D_SAE, B, K = 16, 48, 20, 4
MARGIN = 1e-3


def unif(g, n, lo, hi):
    return lo + (hi - lo) * torch.rand(n, generator=g)


def fill_common(sae, g, b_enc_name="b_enc"):
    W_dec = torch.randn(D_SAE, D_IN, generator=g)
    W_dec = W_dec / W_dec.norm(dim=1, keepdim=True) * unif(g, D_SAE, 0.5, 1.5)[:, None]
    W_enc = torch.randn(D_IN, D_SAE, generator=g) / D_IN ** 0.5
    b_enc = -0.4 + 0.3 * torch.randn(D_SAE, generator=g)
    b_dec = 0.2 * torch.randn(D_IN, generator=g)
    with torch.no_grad():
        sae.W_dec.copy_(W_dec)
        sae.W_enc.copy_(W_enc)
        getattr(sae, b_enc_name).copy_(b_enc)
        sae.b_dec.copy_(b_dec)


def margins(name, sae, x):
    """Smallest distance of any firing decision to its boundary, computed in float64."""
    p = {k: v.detach().double() for k, v in sae.named_parameters()}
    xc = x.double() - p["b_dec"] * float(sae.cfg.apply_b_dec_to_input)
    if name == "gated":
        z = xc @ p["W_enc"]
        gate = z + p["b_gate"]
        mag = z * p["r_mag"].exp() + p["b_mag"]
        return min(gate.abs().min().item(), mag.abs().min().item())
    pre = xc @ p["W_enc"] + p["b_enc"]
    if name == "standard":
        return pre.abs().min().item()
    if name == "jumprelu":
        return min((pre - p["threshold"]).abs().min().item(), pre.abs().min().item())
    if getattr(sae.cfg, "rescale_acts_by_decoder_norm", False):
        pre = pre * p["W_dec"].norm(dim=1)
    s = pre.sort(dim=1, descending=True).values  # topk: the k-th vs the (k+1)-th, and the sign of the kept
    return min((s[:, K - 1] - s[:, K]).min().item(), s[:, :K].abs().min().item())


def build(name, g):
    if name == "standard":
        sae = StandardSAE(StandardSAEConfig(d_in=D_IN, d_sae=D_SAE, apply_b_dec_to_input=True))
        fill_common(sae, g)
    elif name == "topk":
        sae = TopKSAE(TopKSAEConfig(d_in=D_IN, d_sae=D_SAE, k=K, apply_b_dec_to_input=False,
                                    rescale_acts_by_decoder_norm=False))
        fill_common(sae, g)
    elif name == "topk_rescaled":
        sae = TopKSAE(TopKSAEConfig(d_in=D_IN, d_sae=D_SAE, k=K, apply_b_dec_to_input=True,
                                    rescale_acts_by_decoder_norm=True))
        fill_common(sae, g)
    elif name == "jumprelu":
        sae = JumpReLUSAE(JumpReLUSAEConfig(d_in=D_IN, d_sae=D_SAE, apply_b_dec_to_input=False))
        fill_common(sae, g)
        with torch.no_grad():
            sae.b_enc.add_(0.3)  # the threshold (not the bias) does most of the cutting here
            sae.threshold.copy_(unif(g, D_SAE, 0.1, 0.5))
    elif name == "gated":
        sae = GatedSAE(GatedSAEConfig(d_in=D_IN, d_sae=D_SAE, apply_b_dec_to_input=True))
        fill_common(sae, g, "b_gate")
        with torch.no_grad():
            sae.r_mag.copy_(unif(g, D_SAE, -0.5, 0.5))
            sae.b_mag.copy_(unif(g, D_SAE, -0.3, 0.3))
    else:
        raise ValueError(name)
    return sae.eval()


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = []
    for ai, name in enumerate(["standard", "topk", "jumprelu", "gated", "topk_rescaled"]):
        g = torch.Generator().manual_seed(1000 + ai)
        sae = build(name, g)
        seed = 2000 + 100 * ai
        while True:
            x = torch.randn(B, D_IN, generator=torch.Generator().manual_seed(seed))
            m = margins(name, sae, x)
            if m >= MARGIN:
                break
            seed += 1
        with torch.no_grad():
            codes = sae.encode(x)
            recon = sae.decode(codes)
        folder = os.path.join(OUT, name)
        sae.save_model(folder)
        if name == "topk":  # as SAELens' trainer does next to save_model
            freq = (codes > 0).float().mean(0).clamp_min(1e-10)
            save_file({"sparsity": freq.log10()}, os.path.join(folder, "sparsity.safetensors"))
        np.save(os.path.join(folder, "x.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(folder, "codes.npy"), codes.numpy().astype(np.float32))
        np.save(os.path.join(folder, "recon.npy"), recon.numpy().astype(np.float32))
        active = (codes != 0).float()
        msg = (f"{name:13s} {type(sae).__name__:12s} apply_b_dec_to_input={sae.cfg.apply_b_dec_to_input!s:5s} "
               f"x seed {seed}  active {active.mean().item():.3f} (rows {int(active.sum(1).min())}.."
               f"{int(active.sum(1).max())} of {D_SAE}; latents ever active {int((active.sum(0) > 0).sum())})  "
               f"min margin {m:.2e}")
        print(msg)
        lines.append(msg)
    with open(os.path.join(OUT, "README.txt"), "w") as f:
        f.write("SAE folders written by SAELens itself (SAE.save_model) with SAELens' encode/decode outputs.\n")
        f.write(f"sae-lens {sae_lens.__version__}, torch {torch.__version__}\n")
        f.write("Regenerate (from the repo root):\n")
        f.write("  /work/saelens/venv/bin/python tools/reference/saelens_written_fixtures.py "
                "tests/fixtures/sae/saelens_written\n")
        f.write("(any Python with `pip install sae-lens==" + sae_lens.__version__ + "` works)\n\n")
        f.write("\n".join(lines) + "\n")
    print(f"sae-lens {sae_lens.__version__}, torch {torch.__version__}; wrote {OUT}")


if __name__ == "__main__":
    main()
