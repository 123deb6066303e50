// hooks.h: named hook points in the forward pass, with TransformerLens names and shapes.
//
// Hook points (shapes for a forward over B sequences of T new tokens; S = keys visible, = T without a cache;
// C d_model, NH heads, KV kv heads, hs head size, F d_mlp):
//   hook_embed                         [B,T,C]     token embedding
//   hook_pos_embed                     [B,T,C]     learned positions (GPT-2 only)
//   blocks.{i}.hook_resid_pre          [B,T,C]
//   blocks.{i}.hook_attn_in            [B,T,NH,C]  the block input copied per head (TL use_attn_in)
//   blocks.{i}.hook_q_input            [B,T,NH,C]  per-head inputs of the queries, keys, values (TL
//   blocks.{i}.hook_k_input/v_input    [B,T,KV,C]  use_split_qkv_input); they start from hook_attn_in if that is hooked
//   blocks.{i}.ln1.hook_scale          [B,T,1]     LayerNorm: sqrt(var + eps); RMSNorm: sqrt(mean(x^2) + eps)
//   blocks.{i}.ln1.hook_normalized     [B,T,C]     (x - mean) / scale (RMSNorm: x / scale), before weight and bias
//   blocks.{i}.attn.hook_q             [B,T,NH,hs] query projection (Llama: before rotary, TL's/HF's rotate-half order)
//   blocks.{i}.attn.hook_k/hook_v      [B,T,KV,hs]
//   blocks.{i}.attn.hook_rot_q/rot_k   [B,T,NH|KV,hs] after rotary (Llama only)
//   blocks.{i}.attn.hook_attn_scores   [B,NH,T,S]  q.k / sqrt(hs), masked (future) entries -inf
//   blocks.{i}.attn.hook_pattern       [B,NH,T,S]  attention probabilities (after softmax)
//   blocks.{i}.attn.hook_z             [B,T,NH,hs] per-head mix of values, before the output projection
//   blocks.{i}.attn.hook_result        [B,T,NH,C]  per-head output (z_h @ W_O[h]; no bias); hook_attn_out = sum + b_O
//   blocks.{i}.hook_attn_out           [B,T,C]
//   blocks.{i}.hook_resid_mid          [B,T,C]
//   blocks.{i}.hook_mlp_in             [B,T,C]     a copy of resid_mid that only the MLP reads
//   blocks.{i}.ln2.hook_scale/.hook_normalized      as ln1
//   blocks.{i}.mlp.hook_pre            [B,T,F]     before GELU (Llama: the SwiGLU gate, before SiLU)
//   blocks.{i}.mlp.hook_pre_linear     [B,T,F]     Llama only: the SwiGLU up projection
//   blocks.{i}.mlp.hook_post           [B,T,F]     after GELU / SwiGLU
//   blocks.{i}.hook_mlp_out            [B,T,C]
//   blocks.{i}.hook_resid_post         [B,T,C]
//   ln_final.hook_scale                [B,T,1]
//   ln_final.hook_normalized           [B,T,C]     before the final norm's weight and bias
//   unembed.hook_in                    [B,T,C]     the final norm's output (after weight and bias)
//   unembed.hook_out                   [B,T,V]     the logits
// A hook is a function called with the activation right after it is computed and before anything reads
// it: it may read it (cache) or change it in place (replace, add a vector, clamp a feature, splice an SAE
// reconstruction); the rest of the forward pass sees the changed values. Hooks act on forward passes only
// (training ignores them). The per-head input hooks (hook_attn_in, hook_q/k/v_input) switch that block's
// attention to per-head inputs: ln1 then runs on [B,T,heads,C] and its hooks fire three times (queries,
// keys, values, as in TransformerLens) with shapes [B,T,NH|KV,1] and [B,T,NH|KV,C]. Otherwise ln1's hooks
// fire once per forward (TransformerLens calls ln1 three times on the same input; a hook then sees the
// same values each time). Per-head values are materialised only for hooked blocks, so a forward without
// hooks runs as fast as before.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "unfold/core/tensor.h"
#include "unfold/lm/config.h"

namespace unfold {

using HookFn = std::function<void(const std::string& name, float* data, const Shape& shape)>;

struct HookSet {
    std::map<std::string, std::vector<HookFn>> hooks;  // run in insertion order
    void add(const std::string& name, HookFn fn);
    void clear() { hooks.clear(); }
    bool empty() const { return hooks.empty(); }
    bool has(const std::string& name) const { return hooks.count(name) != 0; }
    // calls the hooks registered under `name` (if any)
    void run(const std::string& name, float* data, const Shape& shape) const;
};

// An activation store filled by cache hooks.
struct ActivationCache {
    std::map<std::string, Tensor> acts;
    const Tensor& at(const std::string& name) const;  // throws if missing
};

// Ready-made hooks.
HookFn hook_cache(ActivationCache& cache);                 // copies the activation into cache.acts[name]
HookFn hook_replace(const Tensor& value);                  // overwrites (shape must match)
HookFn hook_add_vector(const std::vector<float>& v, float scale = 1.0f);  // adds v (length = last dim) to every row
HookFn hook_scale(float s);                                // multiplies by s

// All hook names of a model, in forward order (for --help and validation).
std::vector<std::string> hook_names(const LmConfig& cfg);
// "hook_embed, hook_pos_embed, blocks.{0..11}.{hook_resid_pre, ...}, ln_final.hook_scale, ..." (one line)
std::string hook_names_summary(const LmConfig& cfg);
// Throws "unknown hook 'x' for a 2-layer gpt2 model (known: hook_embed, ...)" if not a valid name.
void validate_hook_name(const std::string& name, const LmConfig& cfg);
// The activation's shape at a hook for a forward over B x T tokens seeing S keys (validates the name).
Shape hook_shape(const LmConfig& cfg, const std::string& name, int64_t B, int64_t T, int64_t S);
// Width of one per-token row of a hook (the shape after [B,T], flattened: per-head hooks give heads * size,
// as SAELens reads hook_z); throws for unknown hooks and for attention scores / patterns ([B,NH,T,S]).
int64_t hook_row_dim(const LmConfig& cfg, const std::string& name);

}  // namespace unfold
