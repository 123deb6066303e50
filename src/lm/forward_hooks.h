// forward_hooks.h: private to lm. The parts of lm_forward that exist only for hooks (model.cpp calls them
// when a hook is registered at that point, so an unhooked forward never runs them): norms with
// TransformerLens' hook_scale / hook_normalized between their steps, per-head views of q/k/v, per-head
// attention results, and per-head attention inputs (hook_attn_in, hook_q/k/v_input).
#pragma once
#include <cstdint>
#include <string>

#include "unfold/lm/hooks.h"
#include "unfold/lm/model.h"

namespace unfold {

// LayerNorm (GPT-2, with bias b) or RMSNorm (Llama; mean unused) of x[rows, C]; w/b are parameter offsets.
void lm_norm_forward(const LmModel& m, float* out, float* mean, float* rstd, const float* x, size_t w, size_t b,
                     int64_t rows);

// The same with hooks `prefix`hook_scale ([lead..., 1]) and `prefix`hook_normalized ([lead..., C]) between the
// steps; lead multiplies to rows. A hook that changes nothing leaves lm_norm_forward's bits.
void lm_norm_forward_hooked(const LmModel& m, float* out, float* mean, float* rstd, const float* x, size_t w,
                            size_t b, int64_t rows, const Shape& lead, const HookSet& hk, const std::string& prefix);

// Runs hook `name` (if registered) on a [B,T,H,hs] copy of the heads at x (head h of row n at
// x + n*stride + h*hs) and writes the copy back. rotate_half: x holds Llama q/k in interleaved rotary order
// (model.h); the hook sees TransformerLens' / Hugging Face's rotate-half order.
void lm_head_hook(const HookSet& hk, const std::string& name, float* x, int64_t stride, int64_t B, int64_t T,
                  int64_t H, int64_t hs, bool rotate_half);

// Attention output through hook `name` on the per-head results [B,T,NH,C] (z_h @ W_O[h], no bias):
// aout[n,:] = sum_h result[n,h,:] + b_O. z is [N, NH*hs]. float32 weights (also for a bf16 model).
void lm_attn_result_hooked(const LmModel& m, const LmLayerOffsets& P, float* aout, const float* z, int64_t B,
                           int64_t T, const HookSet& hk, const std::string& name);

// True when block prefix bp ("blocks.3.") has a per-head input hook (the block then runs lm_qkv_per_head).
bool lm_has_head_inputs(const HookSet& hk, const std::string& bp);

// q | k | v rows of qkv [N, QKVD] (before rotary) from per-head inputs: hook_attn_in [B,T,NH,C] (the block
// input x [N,C] repeated), then hook_q_input [B,T,NH,C] / hook_k_input, hook_v_input [B,T,KV,C] (from
// attn_in when it is hooked, else from x), each through ln1 (its hooks fire per input) and its head's slice
// of the projection. float32 weights (also for a bf16 model).
void lm_qkv_per_head(const LmModel& m, const LmLayerOffsets& P, float* qkv, const float* x, int64_t B, int64_t T,
                     const HookSet& hk, const std::string& bp);

}  // namespace unfold
