#!/usr/bin/env python3
"""torch_sae.py: unfold's PyTorch peer for sparse-autoencoder training (bench/sae_vs_torch.sh).

A sparse autoencoder trained the way the common Python SAE libraries do it, on activations drawn from a
planted dictionary, so speed and quality compare side by side with bench_sae on the same recipe.

Data (deterministic given --seed, one torch.Generator): G = --true-features Gaussian rows in R^d, each
normalised to unit length; a sample switches each true feature on independently with probability
--p-active, with magnitude U[0,1); x = c G + --noise * N(0, 1). A fresh batch every step; the time spent
drawing it is not counted.

Model: W_dec rows Gaussian, unit norm; W_enc = W_dec^T; b_enc = b_dec = 0.
  pre = (x - b_dec) W_enc + b_enc;  topk: keep the k largest of pre (through a ReLU);  relu: ReLU(pre)
  loss = mean over rows of ||x - (f W_dec + b_dec)||^2  (+ relu: --l1 * mean over rows of sum_j f_j ||W_dec_j||)
Adam (--lr), decoder rows renormalised to unit length after every step.

Prints one JSON line: training wall seconds, tokens/s, and on fresh batches FVU, L0, dead fraction
(latents that never fire on 5 batches) and MMCS (mean over true features of the max cosine with a
decoder row). Needs Debian's python3-torch (run with /usr/bin/python3)."""
import argparse
import json
import time

import torch


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--latents", type=int, default=2048)
    ap.add_argument("--true-features", type=int, default=1024)
    ap.add_argument("--p-active", type=float, default=0.01)
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--arch", choices=["relu", "topk"], default="topk")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--l1", type=float, default=5.0)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def unit_rows(m):
    return m / m.norm(dim=1, keepdim=True)


def main():
    cfg = parse()
    torch.set_num_threads(cfg.threads)
    gen = torch.Generator().manual_seed(cfg.seed)

    truth = unit_rows(torch.randn(cfg.true_features, cfg.d, generator=gen))

    def draw():
        mag = torch.rand(cfg.batch, cfg.true_features, generator=gen)
        on = torch.rand(cfg.batch, cfg.true_features, generator=gen) < cfg.p_active
        x = torch.where(on, mag, torch.zeros(()))  @ truth
        return x + cfg.noise * torch.randn(cfg.batch, cfg.d, generator=gen)

    W_dec = torch.nn.Parameter(unit_rows(torch.randn(cfg.latents, cfg.d, generator=gen)))
    W_enc = torch.nn.Parameter(W_dec.detach().t().clone())
    b_enc = torch.nn.Parameter(torch.zeros(cfg.latents))
    b_dec = torch.nn.Parameter(torch.zeros(cfg.d))
    optim = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=cfg.lr)

    def encode(x):
        pre = (x - b_dec) @ W_enc + b_enc
        if cfg.arch == "relu":
            return torch.relu(pre)
        top, idx = torch.topk(pre, cfg.k, dim=1)
        return torch.zeros_like(pre).scatter(1, idx, torch.relu(top))

    drawing = 0.0
    start = time.time()
    for _ in range(cfg.steps):
        t = time.time()
        x = draw()
        drawing += time.time() - t
        f = encode(x)
        loss = (x - (f @ W_dec + b_dec)).square().sum(dim=1).mean()
        if cfg.arch == "relu":
            loss = loss + cfg.l1 * (f * W_dec.norm(dim=1)).sum(dim=1).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
        with torch.no_grad():
            W_dec.div_(W_dec.norm(dim=1, keepdim=True))
    wall = time.time() - start - drawing

    with torch.no_grad():
        x = draw()
        f = encode(x)
        err = (x - (f @ W_dec + b_dec)).square().sum()
        fvu = err / (x - x.mean(dim=0)).square().sum()
        l0 = (f > 0).sum(dim=1).float().mean()
        fired = torch.zeros(cfg.latents, dtype=torch.bool)
        for _ in range(5):
            fired |= (encode(draw()) > 0).any(dim=0)
        dead = 1.0 - fired.float().mean()
        mmcs = (truth @ unit_rows(W_dec).t()).max(dim=1).values.mean()

    print(json.dumps({
        "peer": f"pytorch-{torch.__version__}", "arch": cfg.arch, "d": cfg.d, "latents": cfg.latents,
        "batch": cfg.batch, "steps": cfg.steps, "train_wall_s": round(wall, 3),
        "tokens_per_s": round(cfg.batch * cfg.steps / wall, 1), "fvu": round(float(fvu), 4),
        "l0": round(float(l0), 2), "dead_frac": round(float(dead), 4), "mmcs": round(float(mmcs), 4),
    }))


if __name__ == "__main__":
    main()
