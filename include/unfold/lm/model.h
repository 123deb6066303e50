// model.h: a config-driven decoder-only transformer in two families.
//
//   GPT-2: learned positions, pre-LayerNorm, GELU (tanh) MLP, biases everywhere, tied unembedding.
//   Llama: RMSNorm, rotary positions (interleaved pairs), grouped-query attention, SwiGLU MLP, no biases,
//          unembedding tied or separate (lm_head).
// Dimensions: V vocab, C d_model, L layers, NH heads, KV kv heads, hs = C/NH, F d_mlp, B batch, T tokens,
// N = B*T rows.
//
// Parameters are named views into one flat buffer (ParamSet) and carry Hugging Face names, so a checkpoint
// is the ParamSet written as safetensors. GPT-2 weights use Conv1D layout [in, out]; Llama's [out, in].
// One deliberate difference from HF Llama: q_proj/k_proj rows are held in Meta/llama2.c order (rotary on
// interleaved pairs); the HF reader/writer (checkpoint_hf.cpp) permutes them, so files are HF-compatible.
//
// Activations (LmActs) are kept per layer for the backward pass, sized for (B, T) on demand.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "unfold/core/gemm_bf16.h"
#include "unfold/core/tensor.h"
#include "unfold/io/json.h"
#include "unfold/lm/config.h"
#include "unfold/lm/hooks.h"

namespace unfold {


struct LmLayerOffsets {  // offsets into ParamSet data/grad; SIZE_MAX = absent
    size_t ln1_w, ln1_b, qkv_w, qkv_b, k_w, v_w, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, up_w, fcproj_w, fcproj_b;
};

// Inference copies of every projection and the unembedding in bf16 (see lm_set_dtype).
struct LmBf16Layer {
    PackedBf16 qkv, k, v, proj, fc, up, fcproj;  // GPT-2: qkv holds c_attn; Llama: qkv holds q_proj
};
struct LmBf16Weights {
    std::vector<LmBf16Layer> layers;
    PackedBf16 unembed;  // [C, V]
    KernelLevel level = KernelLevel::PORTABLE;  // the kernel level the products run at (gemm_bf16.h)
};

enum class LmDtype { FP32, BF16 };
const char* dtype_name(LmDtype d);                            // "fp32" | "bf16"
LmDtype parse_lm_dtype(const std::string& s, const std::string& ctx);  // throws on anything else

struct LmModel {
    LmConfig cfg;
    ParamSet params;
    std::vector<LmLayerOffsets> layers;
    size_t wte = 0, wpe = SIZE_MAX, lnf_w = 0, lnf_b = SIZE_MAX, lm_head = SIZE_MAX;
    // Set by lm_set_dtype(BF16): the forward's products may then run in bf16 (float32 accumulation; see
    // lm_uses_bf16 for when); norms, attention, activations and the residual stream stay float32. params
    // stays float32 either way. Null = float32 throughout.
    std::shared_ptr<const LmBf16Weights> bf16;

    float* p(size_t off) { return params.data.data() + off; }
    const float* p(size_t off) const { return params.data.data() + off; }
    float* g(size_t off) { return params.grad.data() + off; }
    const float* unembed() const { return p(lm_head != SIZE_MAX ? lm_head : wte); }
};

// Declares the parameters (HF names) and allocates them (zeros).
void lm_build(LmModel& m, const LmConfig& cfg);
// The parameters lm_build declares for cfg (names, shapes, offsets), allocating nothing: what a loader checks a
// file against before it trusts the config's sizes.
std::vector<ParamView> lm_param_layout(const LmConfig& cfg);
// GPT-2-style init: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), norms 1, biases 0.
void lm_init_random(LmModel& m, uint64_t seed);

// Inference precision of the forward pass. BF16 packs bf16 copies of the current weights (call it after the
// weights are final: later changes to params are not seen until it is called again); FP32 drops them.
// lm_backward refuses a model in BF16 (training is float32). level: the kernel level of the bf16 products
// (core/gemm_bf16.h says what runs at each; a level above the CPU's runs as the CPU's best).
void lm_set_dtype(LmModel& m, LmDtype dtype, KernelLevel level = kernel_level());
inline LmDtype lm_dtype(const LmModel& m) { return m.bf16 ? LmDtype::BF16 : LmDtype::FP32; }
// Whether lm_forward on B*T = rows rows runs its products (projections and unembedding) on the bf16 copies:
// a BF16 model where the bf16 product pays off at its level (gemm_bf16_pays_off). At avx512-bf16 that is
// every forward (~2x float32 on batches). At the other levels (avx2, avx512, portable) only forwards of up
// to kGemmBf16SmallRows (16) rows, such as token-by-token generation with a KV cache (avx2: ~1.5-2x and
// more); larger forwards (batches, long prompts) run the float32 products on params, so they take float32
// time and give float32's logits bit for bit (so there a sequence's logits depend on whether its forward had
// more than 16 rows: bf16 alone, fp32 in a batch). Otherwise (FP32 model) false.
bool lm_uses_bf16(const LmModel& m, int64_t rows);

// Key/value cache for incremental generation (batch 1).
struct KvCache {
    int64_t max_len = 0, len = 0, kv_dim = 0, n_layers = 0;
    std::vector<float> k, v;  // [L, max_len, kv_dim]
    void init(const LmConfig& cfg, int64_t max_len);
    void reset() { len = 0; }
};

// A named view into LmActs::buf.
struct ActView {
    float* p = nullptr;
    size_t n = 0;
    float* data() { return p; }
    const float* data() const { return p; }
    size_t size() const { return n; }
    float& operator[](size_t i) { return p[i]; }
    float operator[](size_t i) const { return p[i]; }
    float* begin() { return p; }
    float* end() { return p + n; }
    const float* begin() const { return p; }
    const float* end() const { return p + n; }
    std::vector<float> vec() const { return std::vector<float>(p, p + n); }
};

// Activations of one forward pass: named views into one flat buffer (llm.c's ActivationTensors), laid out
// for (B, T, S) by ensure(). Not copyable (the views point into buf); movable.
struct LmActs {
    int64_t B = 0, T = 0, S = 0;  // S = keys visible (T, or cache length + T)
    std::vector<float> buf;       // every view below, in declaration order
    ActView tok, pos;                 // [N,C] embeddings (before the sum); pos empty for Llama
    ActView resid;                    // [L+1, N, C]: resid[l] = block l's input
    ActView ln1, ln1_mean, ln1_rstd;  // [L,N,C], [L,N], [L,N]
    ActView qkv;                      // [L,N,C+2*KVD]  q | k | v (q, k after rotary)
    ActView att;                      // [L,B,NH,T,S]
    ActView atty;                     // [L,N,C] attention mix before the output projection
    ActView attn_out, resid_mid;      // [L,N,C]
    ActView ln2, ln2_mean, ln2_rstd;  // [L,N,C], [L,N], [L,N]
    ActView fch, fch_up, post;        // [L,N,F]: pre-activation (GPT-2) / gate (Llama), up (Llama), post
    ActView mlp_out;                  // [L,N,C]
    ActView lnf, lnf_mean, lnf_rstd;  // [N,C], [N], [N]
    ActView logits;                   // [N,V] (turned into dlogits by lm_backward)
    ActView losses;                   // [N]
    void ensure(const LmConfig& cfg, int64_t B, int64_t T, int64_t S);

    LmActs() = default;
    LmActs(const LmActs&) = delete;
    LmActs& operator=(const LmActs&) = delete;
    LmActs(LmActs&&) = default;  // a moved vector keeps its storage, so the views stay valid
    LmActs& operator=(LmActs&&) = default;
};

struct ForwardOptions {
    const HookSet* hooks = nullptr;
    KvCache* cache = nullptr;     // batch 1; the new tokens continue the cached sequence
    int64_t last_layer = -1;      // >= 0: stop after this block (no final norm, no logits)
    bool logits = true;           // compute the final norm and logits
};

// Forward over ids[B,T]; fills acts (logits in acts.logits unless opts says otherwise).
void lm_forward(const LmModel& m, LmActs& a, const int32_t* ids, int64_t B, int64_t T,
                const ForwardOptions& opts = {});
// Mean cross-entropy of acts.logits against targets[B,T] (targets < 0 ignored); fills acts.losses.
double lm_loss(LmActs& a, const LmConfig& cfg, const int32_t* targets);
// Backward of the mean loss (after lm_forward without cache/hooks/last_layer). ACCUMULATES into m.params.grad.
// Destroys acts.logits (overwritten by dlogits).
void lm_backward(LmModel& m, LmActs& a, const int32_t* ids, const int32_t* targets);

// Config <-> JSON (Hugging Face config.json keys for each family).
Json lm_config_to_hf_json(const LmConfig& cfg);
LmConfig lm_config_from_hf_json(const Json& j, const std::string& ctx);

}  // namespace unfold
