// model.cpp: parameter layout, initialisation, and the forward / backward passes of LmModel.
// The forward pass is a straight sequence of layers.h calls with hook points between them; the backward pass
// replays it in reverse with one residual-gradient buffer that every branch accumulates into (llm.c style).
#include "unfold/lm/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "unfold/core/blas.h"
#include "unfold/core/rng.h"
#include "lm/forward_hooks.h"
#include "unfold/lm/layers.h"

namespace unfold {

static const size_t NONE = SIZE_MAX;

// lm_build's work; with allocate = false it stops once the views (names, shapes, offsets) are declared.
static void build(LmModel& m, const LmConfig& cfg, bool allocate) {
    cfg.validate("model config");
    m.cfg = cfg;
    m.params = ParamSet();
    const int64_t V = cfg.vocab, C = cfg.d_model, F = cfg.d_mlp, KVD = cfg.kv_dim();
    auto add = [&](const std::string& name, const Shape& s) { return m.params.add(name, s); };
    struct LayerIdx {
        size_t v[15];
    };
    std::vector<LayerIdx> li((size_t)cfg.n_layers);
    size_t i_wte, i_wpe = NONE, i_lnf_w, i_lnf_b = NONE, i_head = NONE;
    if (cfg.arch == LmArch::GPT2) {
        i_wte = add("wte.weight", {V, C});
        i_wpe = add("wpe.weight", {cfg.n_ctx, C});
        for (int64_t l = 0; l < cfg.n_layers; l++) {
            std::string p = "h." + std::to_string(l) + ".";
            LayerIdx& x = li[(size_t)l];
            std::fill(x.v, x.v + 15, NONE);
            x.v[0] = add(p + "ln_1.weight", {C});
            x.v[1] = add(p + "ln_1.bias", {C});
            x.v[2] = add(p + "attn.c_attn.weight", {C, 3 * C});
            x.v[3] = add(p + "attn.c_attn.bias", {3 * C});
            x.v[6] = add(p + "attn.c_proj.weight", {C, C});
            x.v[7] = add(p + "attn.c_proj.bias", {C});
            x.v[8] = add(p + "ln_2.weight", {C});
            x.v[9] = add(p + "ln_2.bias", {C});
            x.v[10] = add(p + "mlp.c_fc.weight", {C, F});
            x.v[11] = add(p + "mlp.c_fc.bias", {F});
            x.v[13] = add(p + "mlp.c_proj.weight", {F, C});
            x.v[14] = add(p + "mlp.c_proj.bias", {C});
        }
        i_lnf_w = add("ln_f.weight", {C});
        i_lnf_b = add("ln_f.bias", {C});
    } else {
        i_wte = add("model.embed_tokens.weight", {V, C});
        for (int64_t l = 0; l < cfg.n_layers; l++) {
            std::string p = "model.layers." + std::to_string(l) + ".";
            LayerIdx& x = li[(size_t)l];
            std::fill(x.v, x.v + 15, NONE);
            x.v[0] = add(p + "input_layernorm.weight", {C});
            x.v[2] = add(p + "self_attn.q_proj.weight", {C, C});
            x.v[4] = add(p + "self_attn.k_proj.weight", {KVD, C});
            x.v[5] = add(p + "self_attn.v_proj.weight", {KVD, C});
            x.v[6] = add(p + "self_attn.o_proj.weight", {C, C});
            x.v[8] = add(p + "post_attention_layernorm.weight", {C});
            x.v[10] = add(p + "mlp.gate_proj.weight", {F, C});
            x.v[12] = add(p + "mlp.up_proj.weight", {F, C});
            x.v[13] = add(p + "mlp.down_proj.weight", {C, F});
        }
        i_lnf_w = add("model.norm.weight", {C});
        if (!cfg.tied) i_head = add("lm_head.weight", {V, C});
    }
    if (!allocate) return;
    m.params.finalize();
    auto off = [&](size_t i) { return i == NONE ? NONE : m.params.views[i].offset; };
    m.wte = off(i_wte);
    m.wpe = off(i_wpe);
    m.lnf_w = off(i_lnf_w);
    m.lnf_b = off(i_lnf_b);
    m.lm_head = off(i_head);
    m.layers.assign((size_t)cfg.n_layers, {});
    for (size_t l = 0; l < li.size(); l++) {
        size_t* o = &m.layers[l].ln1_w;
        for (int k = 0; k < 15; k++) o[k] = off(li[l].v[k]);
    }
    // norm weights start at 1
    for (const auto& v : m.params.views)
        if (v.shape.size() == 1 && (v.name.find("ln_") != std::string::npos || v.name.find("norm") != std::string::npos) &&
            v.name.find(".bias") == std::string::npos)
            std::fill(m.params.data.begin() + (long)v.offset, m.params.data.begin() + (long)(v.offset + v.numel), 1.0f);
}

void lm_build(LmModel& m, const LmConfig& cfg) { build(m, cfg, true); }

std::vector<ParamView> lm_param_layout(const LmConfig& cfg) {
    LmModel m;
    build(m, cfg, false);
    return m.params.views;
}

void lm_init_random(LmModel& m, uint64_t seed) {
    const float std0 = 0.02f, std_res = 0.02f / std::sqrt(2.0f * (float)m.cfg.n_layers);
    for (size_t i = 0; i < m.params.views.size(); i++) {
        const ParamView& v = m.params.views[i];
        float* d = m.params.data.data() + v.offset;
        if (v.shape.size() == 1) {  // norms 1, biases 0
            bool is_bias = v.name.find(".bias") != std::string::npos;
            std::fill(d, d + v.numel, is_bias ? 0.0f : 1.0f);
            continue;
        }
        bool residual = v.name.find("c_proj.weight") != std::string::npos ||
                        v.name.find("o_proj.weight") != std::string::npos ||
                        v.name.find("down_proj.weight") != std::string::npos;
        rng_fill_normal(d, v.numel, seed, 1000 + i, 0, 0.0f, residual ? std_res : std0);
    }
}

void KvCache::init(const LmConfig& cfg, int64_t max_len_) {
    max_len = max_len_;
    len = 0;
    kv_dim = cfg.kv_dim();
    n_layers = cfg.n_layers;
    k.assign((size_t)(n_layers * max_len * kv_dim), 0.0f);
    v.assign((size_t)(n_layers * max_len * kv_dim), 0.0f);
}

void LmActs::ensure(const LmConfig& c, int64_t B_, int64_t T_, int64_t S_) {
    B = B_;
    T = T_;
    S = S_;
    const int64_t N = B * T, C = c.d_model, L = c.n_layers, F = c.d_mlp;
    const bool gpt2 = c.arch == LmArch::GPT2;
    const std::pair<ActView*, int64_t> layout[] = {
        {&tok, N * C},        {&pos, gpt2 ? N * C : 0}, {&resid, (L + 1) * N * C},
        {&ln1, L * N * C},    {&ln1_mean, L * N},       {&ln1_rstd, L * N},
        {&qkv, L * N * c.qkv_dim()}, {&att, L * B * c.n_heads * T * S}, {&atty, L * N * C},
        {&attn_out, L * N * C}, {&resid_mid, L * N * C}, {&ln2, L * N * C},
        {&ln2_mean, L * N},   {&ln2_rstd, L * N},       {&fch, L * N * F},
        {&fch_up, gpt2 ? 0 : L * N * F}, {&post, L * N * F}, {&mlp_out, L * N * C},
        {&lnf, N * C},        {&lnf_mean, N},           {&lnf_rstd, N},
        {&logits, N * c.vocab}, {&losses, N}};
    size_t total = 0;
    for (const auto& [view, n] : layout) total += (size_t)n;
    if (buf.size() != total) buf.assign(total, 0.0f);
    size_t off = 0;
    for (const auto& [view, n] : layout) {
        *view = ActView{buf.data() + off, (size_t)n};
        off += (size_t)n;
    }
}

void lm_forward(const LmModel& m, LmActs& a, const int32_t* ids, int64_t B, int64_t T, const ForwardOptions& opts) {
    const LmConfig& c = m.cfg;
    const int64_t C = c.d_model, L = c.n_layers, NH = c.n_heads, KV = c.n_kv_heads, hs = c.head_dim(),
                  F = c.d_mlp, KVD = c.kv_dim(), QKVD = c.qkv_dim(), N = B * T;
    const WLayout lay = c.arch == LmArch::GPT2 ? WLayout::IN_OUT : WLayout::OUT_IN;
    // every product of this call has N rows, so one choice holds for the whole pass (lm_uses_bf16)
    const bool bf16 = lm_uses_bf16(m, N);
    KvCache* cache = opts.cache;
    int64_t pos0 = 0, S = T;
    if (cache) {
        UNFOLD_CHECK(B == 1, "KV cache supports batch 1 only (got %lld)", (long long)B);
        pos0 = cache->len;
        S = pos0 + T;
        UNFOLD_CHECK(S <= cache->max_len, "KV cache full: %lld positions, capacity %lld", (long long)S,
                     (long long)cache->max_len);
    }
    UNFOLD_CHECK(pos0 + T <= c.n_ctx, "sequence of %lld positions exceeds the model context %lld",
                 (long long)(pos0 + T), (long long)c.n_ctx);
    for (int64_t n = 0; n < N; n++)
        UNFOLD_CHECK(ids[n] >= 0 && ids[n] < c.vocab, "token id %d at index %lld is outside the vocabulary [0, %lld)",
                     ids[n], (long long)n, (long long)c.vocab);
    a.ensure(c, B, T, S);
    const HookSet* hk = opts.hooks && !opts.hooks->empty() ? opts.hooks : nullptr;
    const Shape sBTC = {B, T, C}, sBTF = {B, T, F}, sPat = {B, NH, T, S};
    auto hook = [&](const std::string& name, float* data, const Shape& s) {
        if (hk) hk->run(name, data, s);
    };
    auto hooked = [&](const std::string& name) { return hk && hk->has(name); };
    // a norm, through its hook_scale / hook_normalized when either is registered
    auto norm = [&](float* out, float* mean, float* rstd, const float* x, size_t w, size_t b, const std::string& pfx) {
        if (hooked(pfx + "hook_scale") || hooked(pfx + "hook_normalized"))
            lm_norm_forward_hooked(m, out, mean, rstd, x, w, b, N, {B, T}, *hk, pfx);
        else
            lm_norm_forward(m, out, mean, rstd, x, w, b, N);
    };
    const bool llama = c.arch == LmArch::LLAMA;

    embedding_forward(a.tok.data(), ids, m.p(m.wte), N, C);
    hook("hook_embed", a.tok.data(), sBTC);
    float* x0 = a.resid.data();
    if (c.arch == LmArch::GPT2) {
        position_forward(a.pos.data(), m.p(m.wpe), B, T, pos0, C);
        hook("hook_pos_embed", a.pos.data(), sBTC);
        residual_forward(x0, a.tok.data(), a.pos.data(), N * C);
    } else {
        std::memcpy(x0, a.tok.data(), (size_t)(N * C) * sizeof(float));
    }
    std::vector<float> mlp_in;  // hook_mlp_in's copy of resid_mid
    int64_t nl = opts.last_layer >= 0 ? std::min(opts.last_layer + 1, L) : L;
    for (int64_t l = 0; l < nl; l++) {
        const LmLayerOffsets& P = m.layers[(size_t)l];
        const std::string bp = "blocks." + std::to_string(l) + ".";
        float* x = a.resid.data() + l * N * C;
        float* ln1 = a.ln1.data() + l * N * C;
        float* qkv = a.qkv.data() + l * N * QKVD;
        float* att = a.att.data() + l * B * NH * T * S;
        float* atty = a.atty.data() + l * N * C;
        float* aout = a.attn_out.data() + l * N * C;
        float* mid = a.resid_mid.data() + l * N * C;
        float* ln2 = a.ln2.data() + l * N * C;
        float* fch = a.fch.data() + l * N * F;
        float* post = a.post.data() + l * N * F;
        float* mout = a.mlp_out.data() + l * N * C;
        hook(bp + "hook_resid_pre", x, sBTC);
        // the bf16 copies when the model has them and the bf16 product pays off for N rows at its level
        // (gemm_bf16_pays_off: every N at avx512-bf16, up to 16 rows elsewhere), else float32 on m.params
        const LmBf16Layer* pk = bf16 ? &m.bf16->layers[(size_t)l] : nullptr;
        // one projection: the bf16 copy or float32 sgemm (linear_forward)
        auto project = [&](float* out, int64_t ld_out, const float* inp, size_t w, size_t b, int64_t IC, int64_t OC,
                           const PackedBf16 LmBf16Layer::*packed) {
            const float* bias = b == NONE ? nullptr : m.p(b);
            if (pk)
                gemm_bf16(out, ld_out, inp, IC, N, pk->*packed, bias, m.bf16->level);
            else
                linear_forward(out, ld_out, inp, m.p(w), bias, N, IC, OC, lay);
        };
        if (hk && lm_has_head_inputs(*hk, bp)) {
            lm_qkv_per_head(m, P, qkv, x, B, T, *hk, bp);  // per-head inputs: ln1 per head, per-head projections
        } else {
            norm(ln1, a.ln1_mean.data() + l * N, a.ln1_rstd.data() + l * N, x, P.ln1_w, P.ln1_b, bp + "ln1.");
            if (c.arch == LmArch::GPT2) {
                project(qkv, QKVD, ln1, P.qkv_w, P.qkv_b, C, 3 * C, &LmBf16Layer::qkv);
            } else {
                project(qkv, QKVD, ln1, P.qkv_w, NONE, C, C, &LmBf16Layer::qkv);
                project(qkv + C, QKVD, ln1, P.k_w, NONE, C, KVD, &LmBf16Layer::k);
                project(qkv + C + KVD, QKVD, ln1, P.v_w, NONE, C, KVD, &LmBf16Layer::v);
            }
        }
        if (hk) {
            lm_head_hook(*hk, bp + "attn.hook_q", qkv, QKVD, B, T, NH, hs, llama);
            lm_head_hook(*hk, bp + "attn.hook_k", qkv + C, QKVD, B, T, KV, hs, llama);
            lm_head_hook(*hk, bp + "attn.hook_v", qkv + C + KVD, QKVD, B, T, KV, hs, false);
        }
        if (llama) {
            rope_forward(qkv, QKVD, B, T, pos0, NH, hs, c.rope_theta);
            rope_forward(qkv + C, QKVD, B, T, pos0, KV, hs, c.rope_theta);
            if (hk) {
                lm_head_hook(*hk, bp + "attn.hook_rot_q", qkv, QKVD, B, T, NH, hs, true);
                lm_head_hook(*hk, bp + "attn.hook_rot_k", qkv + C, QKVD, B, T, KV, hs, true);
            }
        }
        AttnDims d{B, T, S, pos0, NH, KV, hs, QKVD, QKVD, T * QKVD};
        const float *kp = qkv + C, *vp = qkv + C + KVD;
        if (cache) {
            float* ck = cache->k.data() + l * cache->max_len * KVD;
            float* cv = cache->v.data() + l * cache->max_len * KVD;
            for (int64_t t = 0; t < T; t++) {
                std::memcpy(ck + (pos0 + t) * KVD, qkv + t * QKVD + C, (size_t)KVD * sizeof(float));
                std::memcpy(cv + (pos0 + t) * KVD, qkv + t * QKVD + C + KVD, (size_t)KVD * sizeof(float));
            }
            kp = ck;
            vp = cv;
            d.kv_stride = KVD;
            d.kv_bstride = 0;
        }
        if (hooked(bp + "attn.hook_attn_scores")) {
            attention_scores_forward(att, qkv, kp, d);
            hook(bp + "attn.hook_attn_scores", att, sPat);
            attention_softmax_forward(att, d);
        } else {
            attention_pattern_forward(att, qkv, kp, d);
        }
        hook(bp + "attn.hook_pattern", att, sPat);
        attention_values_forward(atty, att, vp, d);
        hook(bp + "attn.hook_z", atty, {B, T, NH, hs});
        if (hooked(bp + "attn.hook_result"))
            lm_attn_result_hooked(m, P, aout, atty, B, T, *hk, bp + "attn.hook_result");
        else
            project(aout, C, atty, P.proj_w, P.proj_b, C, C, &LmBf16Layer::proj);
        hook(bp + "hook_attn_out", aout, sBTC);
        residual_forward(mid, x, aout, N * C);
        hook(bp + "hook_resid_mid", mid, sBTC);
        const float* mlp_x = mid;  // what ln2 reads: resid_mid, or hook_mlp_in's copy of it
        if (hooked(bp + "hook_mlp_in")) {
            mlp_in.assign(mid, mid + N * C);
            hook(bp + "hook_mlp_in", mlp_in.data(), sBTC);
            mlp_x = mlp_in.data();
        }
        norm(ln2, a.ln2_mean.data() + l * N, a.ln2_rstd.data() + l * N, mlp_x, P.ln2_w, P.ln2_b, bp + "ln2.");
        if (c.arch == LmArch::GPT2) {
            project(fch, F, ln2, P.fc_w, P.fc_b, C, F, &LmBf16Layer::fc);
            hook(bp + "mlp.hook_pre", fch, sBTF);
            gelu_forward(post, fch, N * F);
        } else {
            float* up = a.fch_up.data() + l * N * F;
            project(fch, F, ln2, P.fc_w, NONE, C, F, &LmBf16Layer::fc);
            hook(bp + "mlp.hook_pre", fch, sBTF);
            project(up, F, ln2, P.up_w, NONE, C, F, &LmBf16Layer::up);
            hook(bp + "mlp.hook_pre_linear", up, sBTF);
            swiglu_forward(post, fch, up, N * F);
        }
        hook(bp + "mlp.hook_post", post, sBTF);
        project(mout, C, post, P.fcproj_w, P.fcproj_b, F, C, &LmBf16Layer::fcproj);
        hook(bp + "hook_mlp_out", mout, sBTC);
        float* xo = a.resid.data() + (l + 1) * N * C;
        residual_forward(xo, mid, mout, N * C);
        hook(bp + "hook_resid_post", xo, sBTC);
    }
    if (cache) cache->len += T;
    if (nl < L || !opts.logits) return;
    norm(a.lnf.data(), a.lnf_mean.data(), a.lnf_rstd.data(), a.resid.data() + L * N * C, m.lnf_w, m.lnf_b,
         "ln_final.");
    hook("unembed.hook_in", a.lnf.data(), sBTC);
    if (bf16)
        gemm_bf16(a.logits.data(), c.vocab, a.lnf.data(), C, N, m.bf16->unembed, nullptr, m.bf16->level);
    else
        matmul_bt(a.logits.data(), a.lnf.data(), m.unembed(), N, C, c.vocab);
    hook("unembed.hook_out", a.logits.data(), {B, T, c.vocab});
}

double lm_loss(LmActs& a, const LmConfig& c, const int32_t* targets) {
    const int64_t N = a.B * a.T;
    for (int64_t n = 0; n < N; n++)
        UNFOLD_CHECK(targets[n] < c.vocab, "target id %d at index %lld is outside the vocabulary [0, %lld)", targets[n],
                     (long long)n, (long long)c.vocab);
    return crossentropy_forward(a.losses.data(), a.logits.data(), targets, N, c.vocab);
}

static void norm_backward(LmModel& m, float* dinp, const float* dout, const float* x, const float* mean,
                          const float* rstd, size_t w, size_t b, int64_t N) {
    const LmConfig& c = m.cfg;
    if (c.arch == LmArch::GPT2)
        layernorm_backward(dinp, m.g(w), m.g(b), dout, x, m.p(w), mean, rstd, N, c.d_model);
    else
        rmsnorm_backward(dinp, m.g(w), dout, x, m.p(w), rstd, N, c.d_model);
}

static float* zeroed(std::vector<float>& v, int64_t n) {
    v.assign((size_t)n, 0.0f);
    return v.data();
}

void lm_backward(LmModel& m, LmActs& a, const int32_t* ids, const int32_t* targets) {
    const LmConfig& c = m.cfg;
    const int64_t B = a.B, T = a.T, N = B * T, C = c.d_model, L = c.n_layers, NH = c.n_heads, KV = c.n_kv_heads,
                  hs = c.head_dim(), F = c.d_mlp, KVD = c.kv_dim(), QKVD = c.qkv_dim(), V = c.vocab;
    UNFOLD_CHECK(a.S == T, "lm_backward needs a forward pass without KV cache");
    UNFOLD_CHECK(!m.bf16, "lm_backward: the model is set to bf16 inference; training runs in fp32 (lm_set_dtype FP32)");
    const WLayout lay = c.arch == LmArch::GPT2 ? WLayout::IN_OUT : WLayout::OUT_IN;
    int64_t count = 0;
    for (int64_t n = 0; n < N; n++) count += targets[n] >= 0;
    if (count == 0) return;
    // logits -> dlogits in place; then the unembedding
    float* dlogits = a.logits.data();
    crossentropy_backward(dlogits, dlogits, targets, N, V, 1.0f / (float)count);
    std::vector<float> g_lnf, g_resid, g_a, g_b, g_c, g_d;
    float* dlnf = zeroed(g_lnf, N * C);
    matmul(dlnf, dlogits, m.unembed(), N, V, C);
    float* dW_un = m.g(m.lm_head != NONE ? m.lm_head : m.wte);
    matmul_at(dW_un, dlogits, a.lnf.data(), V, N, C, 1.0f);
    float* dres = zeroed(g_resid, N * C);
    norm_backward(m, dres, dlnf, a.resid.data() + L * N * C, a.lnf_mean.data(), a.lnf_rstd.data(), m.lnf_w, m.lnf_b,
                  N);
    for (int64_t l = L - 1; l >= 0; l--) {
        const LmLayerOffsets& P = m.layers[(size_t)l];
        const float* x = a.resid.data() + l * N * C;
        const float* ln1 = a.ln1.data() + l * N * C;
        const float* qkv = a.qkv.data() + l * N * QKVD;
        const float* att = a.att.data() + l * B * NH * T * T;
        const float* atty = a.atty.data() + l * N * C;
        const float* mid = a.resid_mid.data() + l * N * C;
        const float* ln2 = a.ln2.data() + l * N * C;
        const float* fch = a.fch.data() + l * N * F;
        const float* post = a.post.data() + l * N * F;
        // MLP
        float* dpost = zeroed(g_a, N * F);
        linear_backward(dpost, m.g(P.fcproj_w), P.fcproj_b == NONE ? nullptr : m.g(P.fcproj_b), dres, C, post,
                        m.p(P.fcproj_w), N, F, C, lay);
        float* dln = zeroed(g_c, N * C);
        if (c.arch == LmArch::GPT2) {
            float* dfch = zeroed(g_b, N * F);
            gelu_backward(dfch, fch, dpost, N * F);
            linear_backward(dln, m.g(P.fc_w), m.g(P.fc_b), dfch, F, ln2, m.p(P.fc_w), N, C, F, lay);
        } else {
            const float* up = a.fch_up.data() + l * N * F;
            float* dgate = zeroed(g_b, N * F);
            float* dup = zeroed(g_d, N * F);
            swiglu_backward(dgate, dup, dpost, fch, up, N * F);
            linear_backward(dln, m.g(P.fc_w), nullptr, dgate, F, ln2, m.p(P.fc_w), N, C, F, lay);
            linear_backward(dln, m.g(P.up_w), nullptr, dup, F, ln2, m.p(P.up_w), N, C, F, lay);
        }
        norm_backward(m, dres, dln, mid, a.ln2_mean.data() + l * N, a.ln2_rstd.data() + l * N, P.ln2_w, P.ln2_b, N);
        // attention
        float* datty = zeroed(g_a, N * C);
        linear_backward(datty, m.g(P.proj_w), P.proj_b == NONE ? nullptr : m.g(P.proj_b), dres, C, atty,
                        m.p(P.proj_w), N, C, C, lay);
        float* dqkv = zeroed(g_b, N * QKVD);
        AttnDims d{B, T, T, 0, NH, KV, hs, QKVD, QKVD, T * QKVD};
        attention_backward(dqkv, dqkv + C, dqkv + C + KVD, datty, att, qkv, qkv + C, qkv + C + KVD, d);
        dln = zeroed(g_c, N * C);
        if (c.arch == LmArch::GPT2) {
            linear_backward(dln, m.g(P.qkv_w), m.g(P.qkv_b), dqkv, QKVD, ln1, m.p(P.qkv_w), N, C, 3 * C, lay);
        } else {
            rope_backward(dqkv, QKVD, B, T, 0, NH, hs, c.rope_theta);
            rope_backward(dqkv + C, QKVD, B, T, 0, KV, hs, c.rope_theta);
            linear_backward(dln, m.g(P.qkv_w), nullptr, dqkv, QKVD, ln1, m.p(P.qkv_w), N, C, C, lay);
            linear_backward(dln, m.g(P.k_w), nullptr, dqkv + C, QKVD, ln1, m.p(P.k_w), N, C, KVD, lay);
            linear_backward(dln, m.g(P.v_w), nullptr, dqkv + C + KVD, QKVD, ln1, m.p(P.v_w), N, C, KVD, lay);
        }
        norm_backward(m, dres, dln, x, a.ln1_mean.data() + l * N, a.ln1_rstd.data() + l * N, P.ln1_w, P.ln1_b, N);
    }
    embedding_backward(m.g(m.wte), dres, ids, N, C);
    if (c.arch == LmArch::GPT2) position_backward(m.g(m.wpe), dres, B, T, C);
}

}  // namespace unfold
