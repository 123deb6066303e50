#!/usr/bin/env python3
"""TransformerLens reference for unfold's hook points (tests/lm/test_hooks_tl.cpp).

Loads the tiny GPT-2 and Llama fixtures (tests/fixtures/lm/{gpt2,llama}_tiny, Hugging Face layout) with
Hugging Face transformers, converts them with TransformerLens' own weight conversion (convert_gpt2_weights /
convert_llama_weights) into a HookedTransformer (float64, no weight processing: fold_ln etc. off, so hook
values are those of the unprocessed model that unfold runs), and writes
tests/fixtures/lm/{gpt2,llama}_tiny_hooks_tl.safetensors holding
  ids [B,T] I32, logits [B,T,V]
  act/<hook>            every hook TransformerLens caches for the model (use_attn_result, use_hook_mlp_in on),
                        plus hook_attn_in (GPT-2; a run with use_attn_in) and hook_q/k/v_input (a run with
                        use_split_qkv_input). ln1's hooks are from the plain run (shapes [B,T,1], [B,T,C]).
  edit/<hook>/delta     a float32 tensor of the hook's shape (0.2 * randn * the activation's RMS; hook_scale:
                        relative; attention scores and patterns: 0 at masked keys, which stay -inf / unread)
  edit/<hook>/logits    TransformerLens' logits when a hook adds that delta at that point
Run: /work/venv-tl/bin/python tools/reference/tl_hooks_fixture.py   (pip install torch transformer-lens;
tested with transformer-lens 3.9.0, transformers 5.24.0, torch 2.15.0)
"""
import os

import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import GPT2LMHeadModel, LlamaForCausalLM

import transformer_lens
from transformer_lens import HookedTransformer, HookedTransformerConfig
from transformer_lens.pretrained.weight_conversions.gpt2 import convert_gpt2_weights
from transformer_lens.pretrained.weight_conversions.llama import convert_llama_weights

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "tests", "fixtures", "lm")
B, T = 2, 7


def theta(c):  # rope_theta moved into rope_parameters in transformers 5
    rp = getattr(c, "rope_parameters", None) or {}
    return float(rp.get("rope_theta", getattr(c, "rope_theta", 10000.0)))


def tl_model(name, hf, flags):
    c = hf.config
    common = dict(n_layers=c.num_hidden_layers, d_model=c.hidden_size, n_heads=c.num_attention_heads,
                  d_head=c.hidden_size // c.num_attention_heads, d_vocab=c.vocab_size, n_ctx=c.max_position_embeddings,
                  dtype=torch.float64, default_prepend_bos=False, use_attn_result=True, use_hook_mlp_in=True,
                  **flags)
    if name == "gpt2":
        cfg = HookedTransformerConfig(d_mlp=c.n_inner, act_fn="gelu_new", normalization_type="LN",
                                      eps=c.layer_norm_epsilon, positional_embedding_type="standard",
                                      original_architecture="GPT2LMHeadModel", **common)
        sd = convert_gpt2_weights(hf, cfg)
    else:
        cfg = HookedTransformerConfig(d_mlp=c.intermediate_size, act_fn="silu", normalization_type="RMS",
                                      eps=c.rms_norm_eps, positional_embedding_type="rotary",
                                      rotary_dim=c.hidden_size // c.num_attention_heads, rotary_base=theta(c),
                                      rotary_adjacent_pairs=False, gated_mlp=True, final_rms=True,
                                      n_key_value_heads=c.num_key_value_heads,
                                      original_architecture="LlamaForCausalLM", **common)
        sd = convert_llama_weights(hf, cfg)
    model = HookedTransformer(cfg)
    model.load_and_process_state_dict(sd, fold_ln=False, center_writing_weights=False, center_unembed=False,
                                      fold_value_biases=False, refactor_factored_attn_matrices=False)
    model.eval()
    return model


def f32(t):
    # -inf (masked attention scores) is stored as the lowest float32: unfold's reader refuses non-finite values
    a = t.detach().to(torch.float32).cpu().numpy()
    return np.where(np.isneginf(a), np.finfo(np.float32).min, a)


def make_delta(name, act, g):
    a = act.detach().to(torch.float64)
    if name.endswith("hook_scale"):
        d = 0.3 * a * torch.rand(a.shape, generator=g, dtype=torch.float64)
    else:
        finite = torch.isfinite(a)
        rms = a[finite].pow(2).mean().sqrt().item()
        d = 0.2 * rms * torch.randn(a.shape, generator=g, dtype=torch.float64)
        d = torch.where(finite, d, torch.zeros_like(d))
        if name.endswith("hook_pattern"):  # unfold's attention stays causal: it never reads a future key's weight
            d = d * torch.ones(a.shape[-2], a.shape[-1], dtype=torch.float64).tril()
    return d.to(torch.float32)


def build(name, hf_cls, folder):
    hf = hf_cls.from_pretrained(os.path.join(FIX, folder), torch_dtype=torch.float64)
    hf.eval()
    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(0, hf.config.vocab_size, (B, T), generator=g)
    variants = {"plain": {}, "split": {"use_split_qkv_input": True}}
    if name == "gpt2":
        variants["attn_in"] = {"use_attn_in": True}  # TransformerLens has no attn_in for grouped-query attention
    models = {k: tl_model(name, hf, v) for k, v in variants.items()}
    out = {"ids": ids.to(torch.int32).numpy()}
    acts, where = {}, {}
    with torch.no_grad():
        logits, cache = models["plain"].run_with_cache(ids)
        out["logits"] = f32(logits)
        hf_logits = hf(ids).logits
        print(f"{name}: max |TL logits - HF logits| {(logits - hf_logits).abs().max().item():.3g}")
        for k, v in cache.items():
            acts[k], where[k] = v, "plain"
        for var, keys in (("split", ("hook_q_input", "hook_k_input", "hook_v_input")), ("attn_in", ("hook_attn_in",))):
            if var not in models:
                continue
            _, c2 = models[var].run_with_cache(ids)
            for k, v in c2.items():
                if k.split(".")[-1] in keys:
                    acts[k], where[k] = v, var
    for k, v in acts.items():
        out["act/" + k] = f32(v)
    # edits: every hook of block 0, the new ones of block 1, the final norm and the embeddings
    L = hf.config.num_hidden_layers
    edit_names = [k for k in acts if k.startswith("blocks.0.")]
    edit_names += [k for k in acts if k.startswith(f"blocks.{L - 1}.") and any(
        s in k for s in ("hook_attn_scores", "hook_result", "hook_z", "hook_q", "hook_k", "hook_v", "ln2.", "hook_pre",
                         "hook_rot_", "hook_mlp_in"))]
    edit_names += [k for k in acts if k.startswith("ln_final.") or k in ("hook_embed", "hook_pos_embed")]
    with torch.no_grad():
        for k in sorted(set(edit_names)):
            delta = make_delta(k, acts[k], g)
            d64 = delta.to(torch.float64)

            def add(act, hook):
                return act + d64

            lg = models[where[k]].run_with_hooks(ids, fwd_hooks=[(k, add)])
            out[f"edit/{k}/delta"] = delta.numpy()
            out[f"edit/{k}/logits"] = f32(lg)
            change = (lg - logits).abs().max().item()
            assert change > 1e-3, f"{name}: edit at {k} changes the logits by only {change}"
    path = os.path.join(FIX, f"{name}_tiny_hooks_tl.safetensors")
    save_file({k: np.ascontiguousarray(v) for k, v in out.items()}, path,
              metadata={"transformer_lens": transformer_lens.__version__ if hasattr(transformer_lens, "__version__")
                        else "3.9.0", "torch": torch.__version__})
    n_edit = sum(1 for k in out if k.endswith("/delta"))
    print(f"{path}: {len(acts)} hooks, {n_edit} edits, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    build("gpt2", GPT2LMHeadModel, "gpt2_tiny")
    build("llama", LlamaForCausalLM, "llama_tiny")
