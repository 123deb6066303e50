#!/usr/bin/env python3
"""torch_features.py: unfold's PyTorch peer for `unfold features build` (bench/features_vs_torch.sh).

The core of a feature-dashboard pass, written in plain PyTorch the way a user would write it: a llama2.c
checkpoint (legacy .bin: 7 int32 header then float32 tensors) loaded into a Llama forward (RMSNorm eps 1e-5,
interleaved-pair RoPE from the file's tables, grouped-query causal softmax attention written out with a
mask (Debian's torch 1.13 has no scaled_dot_product_attention),
SwiGLU), run up to the hooked block's residual output (blocks.L.hook_resid_post); the SAE's
sae_weights.safetensors (the `safetensors` package if present, else the header parsed with json) encoding
each row as TopK (pre = (x - b_dec) W_enc + b_enc, the k largest kept if positive); and per feature:
firing count, sum and max, a 64-bin histogram over [0, hi) with hi the smallest power of two above the
max (bins merge in pairs when hi doubles, as unfold's), and the running top-N contexts, at most one per
window (the window's max). Windows are cut as unfold cuts them: BOS followed by context-1 corpus tokens,
the BOS position left out of every statistic.

Token ids come from an .npy file (the corpus tokenised by unfold, so both sides see the same ids).
Timed: from the first batch to the last statistic (model and SAE loading excluded, as in unfold's
pass_seconds). Prints one JSON line; --out writes the statistics (.npz) for the agreement check."""
import argparse
import json
import math
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="llama2.c .bin")
    ap.add_argument("--sae", required=True, help="SAE folder (sae_weights.safetensors, cfg.json)")
    ap.add_argument("--ids", required=True, help=".npy of corpus token ids")
    ap.add_argument("--tokens", type=int, default=100000, help="corpus tokens to read (whole windows)")
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16, help="windows per forward pass")
    ap.add_argument("--top", type=int, default=20, help="strongest contexts kept per feature")
    ap.add_argument("--bos", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="", help="write the statistics here (.npz)")
    return ap.parse_args()


def load_llama2c(path):
    raw = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", raw[:28])
    w = np.frombuffer(raw, dtype="<f4", offset=28)
    hs, kv_dim, pos = dim // n_heads, (dim // n_heads) * n_kv, 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        t = torch.from_numpy(w[pos:pos + n].copy()).reshape(shape)
        pos += n
        return t

    m = {"dim": dim, "n_layers": n_layers, "n_heads": n_heads, "n_kv": n_kv, "hs": hs}
    m["emb"] = take(abs(vocab), dim)
    m["att_norm"] = take(n_layers, dim)
    m["wq"] = take(n_layers, dim, dim)
    m["wk"] = take(n_layers, kv_dim, dim)
    m["wv"] = take(n_layers, kv_dim, dim)
    m["wo"] = take(n_layers, dim, dim)
    m["ffn_norm"] = take(n_layers, dim)
    m["w1"] = take(n_layers, hidden, dim)
    m["w2"] = take(n_layers, dim, hidden)
    m["w3"] = take(n_layers, hidden, dim)
    m["norm"] = take(dim)
    m["cos"] = take(seq_len, hs // 2)
    m["sin"] = take(seq_len, hs // 2)
    return m


def load_safetensors(path):
    try:
        from safetensors.torch import load_file
        return load_file(path)
    except ImportError:
        raw = open(path, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        kinds = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}
        out = {}
        for name, h in header.items():
            if name == "__metadata__":
                continue
            a, b = h["data_offsets"]
            arr = np.frombuffer(raw, dtype=kinds[h["dtype"]], count=(b - a) // np.dtype(kinds[h["dtype"]]).itemsize,
                                offset=8 + n + a)
            out[name] = torch.from_numpy(arr.astype(np.float32).reshape(h["shape"]))
        return out


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


def rope(x, cos, sin):  # x [B, T, H, hs], pairs (2i, 2i+1) rotated
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


def forward_to(m, ids, last_layer):  # residual stream after block `last_layer`
    B, T = ids.shape
    H, KV, hs = m["n_heads"], m["n_kv"], m["hs"]
    cos, sin = m["cos"][:T], m["sin"][:T]
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    x = m["emb"][ids]
    for l in range(last_layer + 1):
        h = rmsnorm(x, m["att_norm"][l])
        q = rope((h @ m["wq"][l].T).view(B, T, H, hs), cos, sin).transpose(1, 2)
        k = rope((h @ m["wk"][l].T).view(B, T, KV, hs), cos, sin).transpose(1, 2)
        v = (h @ m["wv"][l].T).view(B, T, KV, hs).transpose(1, 2)
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        a = scores.masked_fill(future, float("-inf")).softmax(dim=-1) @ v
        x = x + a.transpose(1, 2).reshape(B, T, H * hs) @ m["wo"][l].T
        h = rmsnorm(x, m["ffn_norm"][l])
        x = x + (F.silu(h @ m["w1"][l].T) * (h @ m["w3"][l].T)) @ m["w2"][l].T
    return x


def main():
    cfg = parse()
    torch.set_num_threads(cfg.threads)
    sae_cfg = json.load(open(cfg.sae + "/cfg.json"))
    hook = sae_cfg["metadata"]["hook_name"]
    assert hook.startswith("blocks.") and hook.endswith(".hook_resid_post"), f"peer supports resid_post hooks, not {hook}"
    layer = int(hook.split(".")[1])
    assert sae_cfg["architecture"] == "topk", "peer supports TopK SAEs"
    k = int(sae_cfg["k"])
    sae = load_safetensors(cfg.sae + "/sae_weights.safetensors")
    W_enc, b_enc, b_dec = sae["W_enc"], sae["b_enc"], sae["b_dec"]
    Fn = W_enc.shape[1]
    m = load_llama2c(cfg.model)
    ids_all = torch.from_numpy(np.load(cfg.ids).astype(np.int64))
    T, body, top = cfg.context, cfg.context - 1, cfg.top
    nwin = min(len(ids_all) // body, (cfg.tokens + body - 1) // body)

    fires = torch.zeros(Fn, dtype=torch.int64)
    sums = torch.zeros(Fn, dtype=torch.float64)
    maxs = torch.zeros(Fn)
    hist = torch.zeros(Fn, 64, dtype=torch.int64)
    hi = torch.zeros(Fn)
    top_val = torch.full((top, Fn), -1.0)
    top_win = torch.full((top, Fn), -1, dtype=torch.int64)
    top_pos = torch.zeros((top, Fn), dtype=torch.int64)

    start = time.time()
    with torch.no_grad():
        for w0 in range(0, nwin, cfg.batch):
            nb = min(cfg.batch, nwin - w0)
            ids = torch.empty(nb, T, dtype=torch.int64)
            ids[:, 0] = cfg.bos
            ids[:, 1:] = ids_all[w0 * body:(w0 + nb) * body].view(nb, body)
            x = forward_to(m, ids, layer)[:, 1:].reshape(-1, W_enc.shape[0])  # BOS position left out
            pre = (x - b_dec) @ W_enc + b_enc
            vals, idx = pre.topk(k, dim=1)
            vals = vals.clamp_min(0)
            z = torch.zeros_like(pre).scatter_(1, idx, vals)  # codes [nb*(T-1), F]
            # counts, sums, max
            fired = vals > 0
            f, v = idx[fired], vals[fired]
            fires += torch.bincount(f, minlength=Fn)
            sums += torch.bincount(f, weights=v.double(), minlength=Fn)
            maxs = torch.maximum(maxs, z.amax(0))
            # histogram: 64 bins over [0, hi); hi doubles (bins merge in pairs) until it is above the max
            new = (hi == 0) & (maxs > 0)
            if new.any():
                _, e = torch.frexp(maxs[new])
                hi[new] = torch.ldexp(torch.ones_like(maxs[new]), e)
            while True:
                grow = (hi > 0) & (maxs >= hi)
                if not grow.any():
                    break
                merged = hist[grow].view(-1, 32, 2).sum(-1)
                hist[grow] = torch.cat((merged, torch.zeros_like(merged)), dim=1)
                hi[grow] *= 2
            b = (v / hi[f] * 64).long().clamp_max(63)
            hist.view(-1).index_add_(0, f * 64 + b, torch.ones_like(b))
            # running top contexts, one per window: the window's max per feature
            wv, wp = z.view(nb, body, Fn).max(dim=1)
            cand_val = torch.cat((top_val, wv))
            cand_win = torch.cat((top_win, torch.arange(w0, w0 + nb).unsqueeze(1).expand(nb, Fn)))
            cand_pos = torch.cat((top_pos, wp + 1))
            top_val, sel = cand_val.topk(top, dim=0)
            top_win, top_pos = cand_win.gather(0, sel), cand_pos.gather(0, sel)
    seconds = time.time() - start
    rows = nwin * body
    top_val = torch.where(top_val > 0, top_val, torch.zeros_like(top_val))
    if cfg.out:
        np.savez(cfg.out, fires=fires.numpy(), sums=sums.numpy(), maxs=maxs.numpy(), hist=hist.numpy(),
                 hi=hi.numpy(), top_val=top_val.numpy(), top_win=top_win.numpy(), top_pos=top_pos.numpy())
    print(json.dumps({"peer": "pytorch-" + torch.__version__, "tokens": rows, "windows": nwin, "batch": cfg.batch,
                      "d_sae": Fn, "k": k, "hook": hook, "seconds": round(seconds, 3),
                      "tokens_per_s": round(rows / seconds, 1)}))


if __name__ == "__main__":
    main()
