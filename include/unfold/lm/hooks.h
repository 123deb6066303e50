// hooks.h: named hook points in the forward pass, with TransformerLens names.
//
// Hook points (shapes for a forward over B sequences of T new tokens; S = keys visible, = T without a cache):
//   hook_embed                       [B,T,C]   token embedding
//   hook_pos_embed                   [B,T,C]   learned positions (GPT-2 only)
//   blocks.{i}.hook_resid_pre        [B,T,C]
//   blocks.{i}.attn.hook_pattern     [B,NH,T,S] attention probabilities (after softmax)
//   blocks.{i}.hook_attn_out         [B,T,C]
//   blocks.{i}.hook_resid_mid        [B,T,C]
//   blocks.{i}.mlp.hook_post         [B,T,F]   after GELU / SwiGLU
//   blocks.{i}.hook_mlp_out          [B,T,C]
//   blocks.{i}.hook_resid_post       [B,T,C]
//   ln_final.hook_normalized         [B,T,C]
// A hook is a function called with the activation right after it is computed and before anything reads
// it: it may read it (cache) or change it in place (replace, add a vector, clamp a feature, splice an SAE
// reconstruction); the rest of the forward pass sees the changed values. Hooks act on forward passes only
// (training ignores them).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "unfold/core/tensor.h"

namespace unfold {

using HookFn = std::function<void(const std::string& name, float* data, const Shape& shape)>;

struct HookSet {
    std::map<std::string, std::vector<HookFn>> hooks;  // run in insertion order
    void add(const std::string& name, HookFn fn);
    void clear() { hooks.clear(); }
    bool empty() const { return hooks.empty(); }
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

// All hook names of a model with n_layers blocks (for --help and validation).
std::vector<std::string> hook_names(int n_layers, bool has_pos_embed);
// Throws "unknown hook 'x' (known: hook_embed, blocks.{i}.hook_resid_pre, ...)" if not a valid name.
void validate_hook_name(const std::string& name, int n_layers, bool has_pos_embed);

}  // namespace unfold
