#!/usr/bin/env python3
"""Reference fixtures for unfold's transformer (tests/lm/test_gpt2.cpp, test_llama.cpp).

Builds a tiny random GPT-2 and a tiny random Llama in plain PyTorch (float64), runs one forward + backward
on fixed token ids, and writes to tests/fixtures/lm/:
  gpt2_tiny/{config.json, model.safetensors}    weights in Hugging Face layout (GPT-2 Conv1D [in, out])
  gpt2_tiny_ref.safetensors                     ids, targets [B,T] (I32), logits [B,T,V], loss [1],
                                                grad.<hf name> for every parameter (F32)
  llama_tiny/..., llama_tiny_ref.safetensors    the same for Llama (GQA, SwiGLU, RMSNorm, untied lm_head);
                                                q_proj/k_proj stored in HF rotate-half row order (the HF
                                                convert script's permute), the model itself computes with
                                                interleaved-pair rotary (Meta / llama2.c), which is equivalent.
Run: /usr/bin/python3 tools/reference/lm_fixtures.py   (Debian python3-torch; no other packages)
"""
import json, math, os, struct
import numpy as np
import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "lm")


def write_safetensors(path, tensors):
    """tensors: list of (name, np.ndarray float32/int32)."""
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        a = np.ascontiguousarray(a)
        dt = {np.dtype("float32"): "F32", np.dtype("int32"): "I32"}[a.dtype]
        b = a.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def f32(t):
    return t.detach().to(torch.float32).numpy()


def layernorm(x, w, b, eps):
    m = x.mean(-1, keepdim=True)
    v = ((x - m) ** 2).mean(-1, keepdim=True)
    return (x - m) / torch.sqrt(v + eps) * w + b


def rmsnorm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def causal_attention(q, k, v):  # [B,H,T,hs]
    T = q.shape[2]
    att = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
    return att @ v


def gpt2_case():
    V, C, L, NH, F, CTX, B, T = 37, 16, 2, 4, 40, 12, 2, 7
    P = {}
    P["wte.weight"] = torch.randn(V, C) * 0.3
    P["wpe.weight"] = torch.randn(CTX, C) * 0.1
    for l in range(L):
        p = f"h.{l}."
        P[p + "ln_1.weight"] = 1 + 0.2 * torch.randn(C)
        P[p + "ln_1.bias"] = 0.1 * torch.randn(C)
        P[p + "attn.c_attn.weight"] = torch.randn(C, 3 * C) * 0.3
        P[p + "attn.c_attn.bias"] = torch.randn(3 * C) * 0.1
        P[p + "attn.c_proj.weight"] = torch.randn(C, C) * 0.2
        P[p + "attn.c_proj.bias"] = torch.randn(C) * 0.1
        P[p + "ln_2.weight"] = 1 + 0.2 * torch.randn(C)
        P[p + "ln_2.bias"] = 0.1 * torch.randn(C)
        P[p + "mlp.c_fc.weight"] = torch.randn(C, F) * 0.3
        P[p + "mlp.c_fc.bias"] = torch.randn(F) * 0.1
        P[p + "mlp.c_proj.weight"] = torch.randn(F, C) * 0.2
        P[p + "mlp.c_proj.bias"] = torch.randn(C) * 0.1
    P["ln_f.weight"] = 1 + 0.2 * torch.randn(C)
    P["ln_f.bias"] = 0.1 * torch.randn(C)
    for t in P.values():
        t.requires_grad_(True)
    ids = torch.randint(0, V, (B, T))
    tgt = torch.randint(0, V, (B, T))
    tgt[1, 3] = -1  # an ignored position
    eps = 1e-5
    x = P["wte.weight"][ids] + P["wpe.weight"][:T]
    for l in range(L):
        p = f"h.{l}."
        h = layernorm(x, P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps)
        q, k, v = (h @ P[p + "attn.c_attn.weight"] + P[p + "attn.c_attn.bias"]).split(C, dim=2)
        q, k, v = (t.view(B, T, NH, C // NH).transpose(1, 2) for t in (q, k, v))
        y = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ P[p + "attn.c_proj.weight"] + P[p + "attn.c_proj.bias"]
        h = layernorm(x, P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps)
        h = torch.nn.functional.gelu(h @ P[p + "mlp.c_fc.weight"] + P[p + "mlp.c_fc.bias"], approximate="tanh")
        x = x + h @ P[p + "mlp.c_proj.weight"] + P[p + "mlp.c_proj.bias"]
    x = layernorm(x, P["ln_f.weight"], P["ln_f.bias"], eps)
    logits = x @ P["wte.weight"].t()
    loss = torch.nn.functional.cross_entropy(logits.view(-1, V), tgt.view(-1), ignore_index=-1)
    loss.backward()
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_embd": C, "n_layer": L,
           "n_head": NH, "n_inner": F, "n_positions": CTX, "layer_norm_epsilon": eps,
           "activation_function": "gelu_new", "tie_word_embeddings": True}
    return "gpt2_tiny", cfg, P, {}, ids, tgt, logits, loss


def permute_to_hf(w, nheads):  # Meta interleaved rows -> HF rotate-half rows (HF convert_llama_weights permute)
    out_dim, in_dim = w.shape
    return w.view(nheads, out_dim // nheads // 2, 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def rope_interleaved(x, theta):  # x [B,T,H,hs]
    B, T, H, hs = x.shape
    freqs = 1.0 / (theta ** (torch.arange(0, hs, 2) / hs))
    ang = torch.outer(torch.arange(T), freqs)  # [T, hs/2]
    c, s = torch.cos(ang)[None, :, None, :], torch.sin(ang)[None, :, None, :]
    xr = x.view(B, T, H, hs // 2, 2)
    a, b = xr[..., 0], xr[..., 1]
    return torch.stack([a * c - b * s, a * s + b * c], dim=-1).view(B, T, H, hs)


def llama_case():
    V, C, L, NH, KV, F, CTX, B, T = 41, 16, 2, 4, 2, 24, 12, 2, 7
    hs = C // NH
    P = {}
    P["model.embed_tokens.weight"] = torch.randn(V, C) * 0.3
    for l in range(L):
        p = f"model.layers.{l}."
        P[p + "input_layernorm.weight"] = 1 + 0.2 * torch.randn(C)
        P[p + "self_attn.q_proj.weight"] = torch.randn(C, C) * 0.3
        P[p + "self_attn.k_proj.weight"] = torch.randn(KV * hs, C) * 0.3
        P[p + "self_attn.v_proj.weight"] = torch.randn(KV * hs, C) * 0.3
        P[p + "self_attn.o_proj.weight"] = torch.randn(C, C) * 0.2
        P[p + "post_attention_layernorm.weight"] = 1 + 0.2 * torch.randn(C)
        P[p + "mlp.gate_proj.weight"] = torch.randn(F, C) * 0.3
        P[p + "mlp.up_proj.weight"] = torch.randn(F, C) * 0.3
        P[p + "mlp.down_proj.weight"] = torch.randn(C, F) * 0.2
    P["model.norm.weight"] = 1 + 0.2 * torch.randn(C)
    P["lm_head.weight"] = torch.randn(V, C) * 0.3
    for t in P.values():
        t.requires_grad_(True)
    ids = torch.randint(0, V, (B, T))
    tgt = torch.randint(0, V, (B, T))
    tgt[0, 5] = -1
    eps, theta = 1e-5, 10000.0
    x = P["model.embed_tokens.weight"][ids]
    for l in range(L):
        p = f"model.layers.{l}."
        h = rmsnorm(x, P[p + "input_layernorm.weight"], eps)
        q = rope_interleaved((h @ P[p + "self_attn.q_proj.weight"].t()).view(B, T, NH, hs), theta)
        k = rope_interleaved((h @ P[p + "self_attn.k_proj.weight"].t()).view(B, T, KV, hs), theta)
        v = (h @ P[p + "self_attn.v_proj.weight"].t()).view(B, T, KV, hs)
        k = k.repeat_interleave(NH // KV, dim=2)
        v = v.repeat_interleave(NH // KV, dim=2)
        y = causal_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2).reshape(B, T, C)
        x = x + y @ P[p + "self_attn.o_proj.weight"].t()
        h = rmsnorm(x, P[p + "post_attention_layernorm.weight"], eps)
        h = torch.nn.functional.silu(h @ P[p + "mlp.gate_proj.weight"].t()) * (h @ P[p + "mlp.up_proj.weight"].t())
        x = x + h @ P[p + "mlp.down_proj.weight"].t()
    x = rmsnorm(x, P["model.norm.weight"], eps)
    logits = x @ P["lm_head.weight"].t()
    loss = torch.nn.functional.cross_entropy(logits.view(-1, V), tgt.view(-1), ignore_index=-1)
    loss.backward()
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": V, "hidden_size": C,
           "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": KV, "intermediate_size": F,
           "max_position_embeddings": CTX, "rms_norm_eps": eps, "rope_theta": theta, "tie_word_embeddings": False,
           "hidden_act": "silu"}
    perm = {}
    for l in range(L):
        perm[f"model.layers.{l}.self_attn.q_proj.weight"] = NH
        perm[f"model.layers.{l}.self_attn.k_proj.weight"] = KV
    return "llama_tiny", cfg, P, perm, ids, tgt, logits, loss


def emit(case):
    name, cfg, P, perm, ids, tgt, logits, loss = case
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    hf = lambda n, t: permute_to_hf(t, perm[n]) if n in perm else t
    write_safetensors(os.path.join(d, "model.safetensors"), [(n, f32(hf(n, t))) for n, t in P.items()])
    ref = [("ids", ids.numpy().astype(np.int32)), ("targets", tgt.numpy().astype(np.int32)),
           ("logits", f32(logits)), ("loss", np.array([loss.item()], dtype=np.float32))]
    ref += [("grad." + n, f32(hf(n, t.grad))) for n, t in P.items()]
    write_safetensors(os.path.join(OUT, name + "_ref.safetensors"), ref)
    print(name, "loss", loss.item())


if __name__ == "__main__":
    emit(gpt2_case())
    emit(llama_case())
