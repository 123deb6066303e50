#!/usr/bin/env python3
"""torch_lm.py: unfold's PyTorch peer for the transformer (bench/lm_vs_torch.sh).

A GPT-2-architecture decoder written in plain PyTorch, the way a user would write it by hand:
pre-LayerNorm blocks, one fused q/k/v projection, causal softmax attention written out with a mask,
GELU (tanh) MLP of width 4 d, learned positions, final LayerNorm and the unembedding tied to the token
embedding. Random weights (torch.manual_seed(0)) and random tokens.

Timed: forward = logits at every position under no_grad, --iters passes after one warm-up pass;
training = cross-entropy + backward + AdamW (lr 3e-4), --iters steps after one warm-up step.
--dtype bf16 creates the model in bfloat16 (torch's default dtype set to bfloat16; the JSON's peer field
then reads pytorch-bf16-<version>). Prints one JSON line (tokens/s).
Needs Debian's python3-torch (run with /usr/bin/python3)."""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--d-model", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    return ap.parse_args()


class Layer(nn.Module):
    def __init__(self, d, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.norm_attn = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.attn_out = nn.Linear(d, d)
        self.norm_mlp = nn.LayerNorm(d)
        self.mlp_in = nn.Linear(d, 4 * d)
        self.mlp_out = nn.Linear(4 * d, d)

    def forward(self, x):
        n, t, d = x.shape
        hd = d // self.n_heads
        q, k, v = self.qkv(self.norm_attn(x)).split(d, dim=-1)
        q, k, v = (z.reshape(n, t, self.n_heads, hd).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
        x = x + self.attn_out((weights @ v).transpose(1, 2).reshape(n, t, d))
        return x + self.mlp_out(F.gelu(self.mlp_in(self.norm_mlp(x)), approximate="tanh"))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos = nn.Embedding(cfg.context, cfg.d_model)
        self.layers = nn.ModuleList([Layer(cfg.d_model, cfg.heads) for _ in range(cfg.layers)])
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for layer in self.layers:
            x = layer(x)
        return self.norm(x) @ self.tok.weight.t()  # tied unembedding


def main():
    cfg = parse()
    torch.set_num_threads(cfg.threads)
    if cfg.dtype == "bf16":
        torch.set_default_dtype(torch.bfloat16)
    torch.manual_seed(0)
    model = Decoder(cfg)
    optim = torch.optim.AdamW(model.parameters(), lr=3e-4)
    ids = torch.randint(0, cfg.vocab, (cfg.batch, cfg.context))
    targets = torch.randint(0, cfg.vocab, (cfg.batch, cfg.context))
    tokens = cfg.batch * cfg.context * cfg.iters

    with torch.no_grad():
        model(ids)  # warm-up
        start = time.time()
        for _ in range(cfg.iters):
            model(ids)
        forward_rate = tokens / (time.time() - start)

    def train_step():
        loss = F.cross_entropy(model(ids).reshape(-1, cfg.vocab), targets.reshape(-1))
        loss.backward()
        optim.step()
        optim.zero_grad()

    train_step()  # warm-up
    start = time.time()
    for _ in range(cfg.iters):
        train_step()
    train_rate = tokens / (time.time() - start)

    tag = "pytorch-bf16-" if cfg.dtype == "bf16" else "pytorch-"
    print(json.dumps({
        "peer": tag + torch.__version__, "layers": cfg.layers, "d_model": cfg.d_model, "context": cfg.context,
        "batch": cfg.batch, "forward_tokens_per_s": round(forward_rate, 1),
        "train_tokens_per_s": round(train_rate, 1),
    }))


if __name__ == "__main__":
    main()
