#!/usr/bin/env python3
"""torch_toy.py: unfold's PyTorch peer for the toy model of superposition (bench/toy_vs_torch.sh).

What a user of the paper's companion notebook would run: every instance trained at once in one
tensor, batch-major einsums, autograd, torch.optim.AdamW (lr 1e-3, torch's default weight decay 0.01),
importance-weighted squared error, a fresh batch every step.

Configuration (the defaults; bench_toy runs the same):
  ReLU output model x' = ReLU(W^T W x + b), 20 features -> 5 hidden, 16 instances, batch 1024;
  feature probability of instance i = 20^(-i/15) (1 -> 0.05, log-spaced), magnitudes U[0,1);
  importance 0.9^f; W drawn like torch's xavier_normal_ on an [instances, features, hidden] tensor.

Prints one JSON line: wall seconds, instance-steps/s, the last training batch's loss per instance and the
feature norms of the sparsest instance. --dump FILE also writes W and b as JSON.
Needs Debian's python3-torch (run with /usr/bin/python3)."""
import argparse
import json
import math
import time

import torch


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=5)
    ap.add_argument("--instances", type=int, default=16)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--importance-decay", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dump", default="", help="write the trained W and b to this JSON file")
    return ap.parse_args()


def main():
    cfg = parse()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    n_inst, n_feat, n_hid = cfg.instances, cfg.features, cfg.hidden

    # xavier_normal_ on a 3-d [I, F, H] tensor: fan_in = F*H, fan_out = I*H
    std = math.sqrt(2.0 / (n_hid * (n_feat + n_inst)))
    W = torch.nn.Parameter(torch.randn(n_inst, n_feat, n_hid) * std)
    b = torch.nn.Parameter(torch.zeros(n_inst, n_feat))
    p_feature = torch.pow(20.0, -torch.linspace(0.0, 1.0, n_inst)).view(n_inst, 1)
    weight = torch.pow(cfg.importance_decay, torch.arange(n_feat, dtype=torch.float32)).view(1, 1, n_feat)
    optim = torch.optim.AdamW([W, b], lr=cfg.lr)

    start = time.time()
    for _ in range(cfg.steps):
        mag = torch.rand(cfg.batch, n_inst, n_feat)
        on = torch.rand(cfg.batch, n_inst, n_feat) <= p_feature
        x = mag * on
        hid = torch.einsum("bif,ifh->bih", x, W)
        recon = torch.relu(torch.einsum("bih,ifh->bif", hid, W) + b)
        loss_i = (weight * (x - recon).square()).mean(dim=(0, 2))
        optim.zero_grad()
        loss_i.sum().backward()
        optim.step()
    wall = time.time() - start

    print(json.dumps({
        "peer": f"pytorch-{torch.__version__}", "instances": n_inst, "features": n_feat, "hidden": n_hid,
        "batch": cfg.batch, "steps": cfg.steps, "wall_s": round(wall, 3),
        "instance_steps_per_s": round(n_inst * cfg.steps / wall, 1),
        "final_loss": [round(float(v), 6) for v in loss_i.detach()],
        "feature_norms_sparsest": [round(float(v), 3) for v in W.detach()[-1].norm(dim=1)],
    }))
    if cfg.dump:
        with open(cfg.dump, "w") as f:
            json.dump({"W": W.detach().tolist(), "b": b.detach().tolist()}, f)


if __name__ == "__main__":
    main()
