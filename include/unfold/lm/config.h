// config.h: the shape of a transformer (LmConfig) in two families, GPT-2 and Llama (see model.h).
// Its own header so that hooks.h (hook names depend on the family and the sizes) needs no model.
#pragma once
#include <cstdint>
#include <string>

namespace unfold {

enum class LmArch { GPT2, LLAMA };

struct LmConfig {
    LmArch arch = LmArch::GPT2;
    int64_t vocab = 0;
    int64_t d_model = 0;
    int64_t n_layers = 0;
    int64_t n_heads = 0;
    int64_t n_kv_heads = 0;  // = n_heads for GPT-2
    int64_t d_mlp = 0;
    int64_t n_ctx = 0;       // max positions
    float norm_eps = 1e-5f;
    float rope_theta = 10000.0f;
    bool tied = true;        // unembedding = token embedding (GPT-2 always)
    int32_t bos_id = -1, eos_id = -1;

    int64_t head_dim() const { return d_model / n_heads; }
    int64_t kv_dim() const { return n_kv_heads * head_dim(); }
    int64_t qkv_dim() const { return d_model + 2 * kv_dim(); }
    // throws "<ctx>: n_heads 5 does not divide d_model 64" etc.
    void validate(const std::string& ctx) const;
    std::string describe() const;  // one line
};

const char* arch_name(LmArch a);  // "gpt2" | "llama"

}  // namespace unfold
