// model_bf16.cpp: the bf16 inference copy of a model's projections (lm_set_dtype).
#include <memory>

#include "unfold/core/error.h"
#include "unfold/lm/model.h"

namespace unfold {

const char* dtype_name(LmDtype d) { return d == LmDtype::BF16 ? "bf16" : "fp32"; }

LmDtype parse_lm_dtype(const std::string& s, const std::string& ctx) {
    if (s == "fp32" || s == "float32") return LmDtype::FP32;
    if (s == "bf16" || s == "bfloat16") return LmDtype::BF16;
    fail("%s: dtype '%s' is not one of fp32, bf16", ctx.c_str(), s.c_str());
}

bool lm_uses_bf16(const LmModel& m, int64_t rows) { return m.bf16 && gemm_bf16_pays_off(rows, m.bf16->level); }

void lm_set_dtype(LmModel& m, LmDtype dtype, KernelLevel level) {
    if (dtype == LmDtype::FP32) {
        m.bf16.reset();
        return;
    }
    const LmConfig& c = m.cfg;
    const int64_t C = c.d_model, F = c.d_mlp, KVD = c.kv_dim();
    // GPT-2 stores Conv1D weights [in, out]; Llama stores Linear weights [out, in]
    const bool nk = c.arch == LmArch::LLAMA;
    auto w = std::make_shared<LmBf16Weights>();
    w->level = level;
    w->layers.resize((size_t)c.n_layers);
    for (int64_t l = 0; l < c.n_layers; l++) {
        const LmLayerOffsets& P = m.layers[(size_t)l];
        LmBf16Layer& B = w->layers[(size_t)l];
        if (c.arch == LmArch::GPT2) {
            pack_bf16(B.qkv, m.p(P.qkv_w), C, 3 * C, nk);
        } else {
            pack_bf16(B.qkv, m.p(P.qkv_w), C, C, nk);
            pack_bf16(B.k, m.p(P.k_w), C, KVD, nk);
            pack_bf16(B.v, m.p(P.v_w), C, KVD, nk);
            pack_bf16(B.up, m.p(P.up_w), C, F, nk);
        }
        pack_bf16(B.proj, m.p(P.proj_w), C, C, nk);
        pack_bf16(B.fc, m.p(P.fc_w), C, F, nk);
        pack_bf16(B.fcproj, m.p(P.fcproj_w), F, C, nk);
    }
    pack_bf16(w->unembed, m.unembed(), C, c.vocab, true);  // [V, C] table
    m.bf16 = std::move(w);
}

}  // namespace unfold
