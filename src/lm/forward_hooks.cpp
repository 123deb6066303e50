// forward_hooks.cpp: the hook-only parts of lm_forward (see forward_hooks.h). Each mirrors TransformerLens'
// arithmetic at that point so a hook sees TL's values and shapes, and each reproduces the fast path's bits
// where it can (norms, per-head copies); the per-head projections (hook_result, per-head inputs) are sums in
// another order, so they agree with the fused products to float32 rounding.
#include "lm/forward_hooks.h"

#include <cstring>
#include <vector>

#include "unfold/lm/layers.h"

namespace unfold {

static const size_t NONE = SIZE_MAX;

void lm_norm_forward(const LmModel& m, float* out, float* mean, float* rstd, const float* x, size_t w, size_t b,
                     int64_t rows) {
    const LmConfig& c = m.cfg;
    if (c.arch == LmArch::GPT2)
        layernorm_forward(out, mean, rstd, x, m.p(w), m.p(b), rows, c.d_model, c.norm_eps);
    else
        rmsnorm_forward(out, rstd, x, m.p(w), rows, c.d_model, c.norm_eps);
}

void lm_norm_forward_hooked(const LmModel& m, float* out, float* mean, float* rstd, const float* x, size_t w,
                            size_t b, int64_t rows, const Shape& lead, const HookSet& hk, const std::string& prefix) {
    const int64_t C = m.cfg.d_model;
    const bool ln = m.cfg.arch == LmArch::GPT2;
    lm_norm_forward(m, out, mean, rstd, x, w, b, rows);  // mean, rstd; out is rebuilt below when a hook needs it
    const std::string ns = prefix + "hook_scale", nn = prefix + "hook_normalized";
    bool changed = false;
    if (hk.has(ns)) {
        // TL: scale = sqrt(var + eps) (RMSNorm: sqrt(mean(x^2) + eps)); x_normalized = x_centred / scale
        std::vector<float> scale((size_t)rows), given((size_t)rows);
        for (int64_t r = 0; r < rows; r++) given[(size_t)r] = scale[(size_t)r] = 1.0f / rstd[r];
        Shape s = lead;
        s.push_back(1);
        hk.run(ns, scale.data(), s);
        for (int64_t r = 0; r < rows; r++)
            if (std::memcmp(&scale[(size_t)r], &given[(size_t)r], sizeof(float)) != 0) {
                rstd[r] = 1.0f / scale[(size_t)r];
                changed = true;
            }
    }
    if (!changed && !hk.has(nn)) return;
    // out = ((x - mean) * rstd) * w + b, in layernorm_forward's order, with the hook after the first product
    for (int64_t r = 0; r < rows; r++) {
        const float* xr = x + r * C;
        float* o = out + r * C;
        const float mf = ln ? mean[r] : 0.0f, s = rstd[r];
        if (ln)
            for (int64_t c = 0; c < C; c++) o[c] = (xr[c] - mf) * s;
        else
            for (int64_t c = 0; c < C; c++) o[c] = xr[c] * s;
    }
    Shape s = lead;
    s.push_back(C);
    hk.run(nn, out, s);
    const float* wv = m.p(w);
    const float* bv = ln && b != NONE ? m.p(b) : nullptr;
    for (int64_t r = 0; r < rows; r++) {
        float* o = out + r * C;
        if (bv)
            for (int64_t c = 0; c < C; c++) o[c] = o[c] * wv[c] + bv[c];
        else
            for (int64_t c = 0; c < C; c++) o[c] = o[c] * wv[c];
    }
}

void lm_head_hook(const HookSet& hk, const std::string& name, float* x, int64_t stride, int64_t B, int64_t T,
                  int64_t H, int64_t hs, bool rotate_half) {
    if (!hk.has(name)) return;
    const int64_t N = B * T, half = hs / 2;
    std::vector<int64_t> src((size_t)hs);  // hook index j <- storage index src[j] within a head
    for (int64_t j = 0; j < hs; j++) src[(size_t)j] = !rotate_half ? j : j < half ? 2 * j : 2 * (j - half) + 1;
    std::vector<float> t((size_t)(N * H * hs));
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t j = 0; j < hs; j++)
                t[(size_t)((n * H + h) * hs + j)] = x[n * stride + h * hs + src[(size_t)j]];
    hk.run(name, t.data(), {B, T, H, hs});
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t j = 0; j < hs; j++)
                x[n * stride + h * hs + src[(size_t)j]] = t[(size_t)((n * H + h) * hs + j)];
}

void lm_attn_result_hooked(const LmModel& m, const LmLayerOffsets& P, float* aout, const float* z, int64_t B,
                           int64_t T, const HookSet& hk, const std::string& name) {
    const LmConfig& c = m.cfg;
    const int64_t C = c.d_model, NH = c.n_heads, hs = c.head_dim(), N = B * T;
    const bool gpt2 = c.arch == LmArch::GPT2;
    std::vector<float> result((size_t)(N * NH * C)), zh((size_t)(N * hs)), Wh;
    const float* W = m.p(P.proj_w);
    for (int64_t h = 0; h < NH; h++) {
        for (int64_t n = 0; n < N; n++) std::memcpy(&zh[(size_t)(n * hs)], z + n * C + h * hs, sizeof(float) * hs);
        if (gpt2) {  // Conv1D [C_in, C_out]: head h's input rows are contiguous [hs, C]
            linear_forward(result.data() + h * C, NH * C, zh.data(), W + h * hs * C, nullptr, N, hs, C,
                           WLayout::IN_OUT);
        } else {  // o_proj [C_out, C_in]: head h's columns, gathered into [C, hs]
            Wh.resize((size_t)(C * hs));
            for (int64_t o = 0; o < C; o++) std::memcpy(&Wh[(size_t)(o * hs)], W + o * C + h * hs, sizeof(float) * hs);
            linear_forward(result.data() + h * C, NH * C, zh.data(), Wh.data(), nullptr, N, hs, C, WLayout::OUT_IN);
        }
    }
    hk.run(name, result.data(), {B, T, NH, C});
    const float* bias = P.proj_b == NONE ? nullptr : m.p(P.proj_b);
    for (int64_t n = 0; n < N; n++) {
        float* o = aout + n * C;
        for (int64_t k = 0; k < C; k++) o[k] = 0.0f;
        for (int64_t h = 0; h < NH; h++) {
            const float* r = &result[(size_t)((n * NH + h) * C)];
            for (int64_t k = 0; k < C; k++) o[k] += r[k];
        }
        if (bias)
            for (int64_t k = 0; k < C; k++) o[k] += bias[k];
    }
}

bool lm_has_head_inputs(const HookSet& hk, const std::string& bp) {
    return hk.has(bp + "hook_attn_in") || hk.has(bp + "hook_q_input") || hk.has(bp + "hook_k_input") ||
           hk.has(bp + "hook_v_input");
}

void lm_qkv_per_head(const LmModel& m, const LmLayerOffsets& P, float* qkv, const float* x, int64_t B, int64_t T,
                     const HookSet& hk, const std::string& bp) {
    const LmConfig& c = m.cfg;
    const int64_t C = c.d_model, NH = c.n_heads, KV = c.n_kv_heads, hs = c.head_dim(), KVD = c.kv_dim(),
                  QKVD = c.qkv_dim(), N = B * T, group = NH / KV;
    const bool gpt2 = c.arch == LmArch::GPT2;
    const bool ln_hooked = hk.has(bp + "ln1.hook_scale") || hk.has(bp + "ln1.hook_normalized");
    std::vector<float> ain;  // [N, NH, C]
    const bool has_ain = hk.has(bp + "hook_attn_in");
    if (has_ain) {
        ain.resize((size_t)(N * NH * C));
        for (int64_t n = 0; n < N; n++)
            for (int64_t h = 0; h < NH; h++) std::memcpy(&ain[(size_t)((n * NH + h) * C)], x + n * C, sizeof(float) * C);
        hk.run(bp + "hook_attn_in", ain.data(), {B, T, NH, C});
    }
    static const char* kInput[3] = {"hook_q_input", "hook_k_input", "hook_v_input"};
    std::vector<float> in, lnv, mean, rstd, lnh((size_t)(N * C)), Wh;
    for (int which = 0; which < 3; which++) {
        const int64_t H = which == 0 ? NH : KV;
        in.resize((size_t)(N * H * C));
        for (int64_t n = 0; n < N; n++)
            for (int64_t h = 0; h < H; h++) {
                // kv head g reads the attn_in copy of the first query head of its group
                const float* src = has_ain ? &ain[(size_t)((n * NH + (which == 0 ? h : h * group)) * C)] : x + n * C;
                std::memcpy(&in[(size_t)((n * H + h) * C)], src, sizeof(float) * C);
            }
        hk.run(bp + kInput[which], in.data(), {B, T, H, C});
        lnv.resize(in.size());
        mean.resize((size_t)(N * H));
        rstd.resize((size_t)(N * H));
        if (ln_hooked)
            lm_norm_forward_hooked(m, lnv.data(), mean.data(), rstd.data(), in.data(), P.ln1_w, P.ln1_b, N * H,
                                   {B, T, H}, hk, bp + "ln1.");
        else
            lm_norm_forward(m, lnv.data(), mean.data(), rstd.data(), in.data(), P.ln1_w, P.ln1_b, N * H);
        const int64_t out0 = which == 0 ? 0 : which == 1 ? C : C + KVD;  // q | k | v in a qkv row
        for (int64_t h = 0; h < H; h++) {
            for (int64_t n = 0; n < N; n++)
                std::memcpy(&lnh[(size_t)(n * C)], &lnv[(size_t)((n * H + h) * C)], sizeof(float) * C);
            float* out = qkv + out0 + h * hs;
            if (gpt2) {  // c_attn [C, 3C]: this head's columns gathered into [C, hs]
                const int64_t col0 = which * C + h * hs;
                const float* W = m.p(P.qkv_w);
                Wh.resize((size_t)(C * hs));
                for (int64_t i = 0; i < C; i++) std::memcpy(&Wh[(size_t)(i * hs)], W + i * 3 * C + col0, sizeof(float) * hs);
                linear_forward(out, QKVD, lnh.data(), Wh.data(), m.p(P.qkv_b) + col0, N, C, hs, WLayout::IN_OUT);
            } else {  // q_proj / k_proj / v_proj [out, C]: this head's rows are contiguous [hs, C]
                const size_t w = which == 0 ? P.qkv_w : which == 1 ? P.k_w : P.v_w;
                linear_forward(out, QKVD, lnh.data(), m.p(w) + h * hs * C, nullptr, N, C, hs, WLayout::OUT_IN);
            }
        }
    }
}

}  // namespace unfold
