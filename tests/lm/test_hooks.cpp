// test_hooks.cpp: TransformerLens-named hook points on real and tiny models.
//   - a write hook adding zero leaves logits bit-identical; replacing an activation by its cached self too;
//   - caching returns the documented shapes and consistent values (resid_post = resid_mid + mlp_out,
//     resid_post of block i = resid_pre of block i+1, pattern rows sum to 1 and are causal);
//   - a write hook that changes something does change the logits, and only downstream positions;
//   - hooks also fire during KV-cached generation, with the same values as a full forward;
//   - unknown hook names are rejected with the list of valid ones; each family has its own hooks;
//   - the TransformerLens hooks added for SAEs (per-head q/k/v/z/result, scores, norm scale/normalized,
//     mlp pre, per-head inputs) agree with each other and with the block's own arithmetic (test_hooks_tl.cpp
//     checks them against TransformerLens itself).
#include <gtest/gtest.h>

#include <cmath>

#include "lm_testing.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/hooks.h"

using namespace unfold;
using namespace unfold::lm_testing;

static const std::string kGpt2 = kGpt2Tiny;

// hooks whose hooked path sums a product in another order than the fused one (per-head projections)
static bool reorders_sums(const std::string& name) {
    return name.find("hook_attn_in") != std::string::npos || name.find("_input") != std::string::npos ||
           name.find("hook_result") != std::string::npos;
}

TEST(Hooks, AddZeroAndReplaceWithSelfAreBitIdentical) {
    for (const std::string& path : {kStories, kGpt2, kLlamaTiny}) {
        LmModel m;
        lm_load(m, path);
        const int64_t B = 2, T = 10;
        auto ids = some_ids(B * T, m.cfg.vocab);
        auto base = forward_logits(m, ids, B, nullptr);
        int reordered = 0;
        for (const std::string& name : hook_names(m.cfg)) {
            const Shape shape = hook_shape(m.cfg, name, B, T, T);
            HookSet add0;
            int fired = 0;
            add0.add(name, [&](const std::string&, float*, const Shape& s) {
                fired++;
                EXPECT_EQ(s.back(), shape.back()) << name;
            });
            add0.add(name, hook_add_vector(std::vector<float>((size_t)shape.back(), 0.0f)));
            auto out = forward_logits(m, ids, B, &add0);
            EXPECT_EQ(fired, 1) << path << " " << name << " fires once per forward";
            ActivationCache cache;
            HookSet c;
            c.add(name, hook_cache(cache));
            forward_logits(m, ids, B, &c);
            EXPECT_EQ(cache.at(name).shape, shape) << path << " " << name;
            HookSet rep;
            rep.add(name, hook_replace(cache.at(name)));
            auto out_rep = forward_logits(m, ids, B, &rep);
            if (!reorders_sums(name)) {
                EXPECT_EQ(out, base) << path << " add zero at " << name;
                EXPECT_EQ(out_rep, base) << path << " replace with self at " << name;
                continue;
            }
            reordered++;
            double worst = 0, scale = 0;
            for (size_t i = 0; i < base.size(); i++) {
                worst = std::max(worst, (double)std::fabs(out[i] - base[i]));
                worst = std::max(worst, (double)std::fabs(out_rep[i] - base[i]));
                scale = std::max(scale, (double)std::fabs(base[i]));
            }
            EXPECT_LE(worst, 2e-6 * scale) << path << " " << name << " (per-head sums, float32 rounding only)";
        }
        EXPECT_EQ(reordered, 5 * (int)m.cfg.n_layers) << path;
    }
}

TEST(Hooks, CacheShapesAndValues) {
    LmModel m;
    lm_load(m, kStories);
    const int64_t B = 2, T = 9, C = 64, NH = 8, hs = 8, F = 172;
    auto ids = some_ids(B * T, m.cfg.vocab);
    ActivationCache cache;
    HookSet h;
    size_t n_hooks = 0;
    for (const auto& n : hook_names(m.cfg))
        if (n.find("_input") == std::string::npos && n.find("hook_attn_in") == std::string::npos) {
            h.add(n, hook_cache(cache));
            n_hooks++;
        }
    auto logits = forward_logits(m, ids, B, &h);
    // Llama: embed + 5 blocks x (26 hooks - 4 per-head inputs; no hook_pos_embed) + ln_final x 2 + unembed x 2
    EXPECT_EQ(n_hooks, 1u + 5u * 22u + 4u);
    EXPECT_EQ(cache.acts.size(), n_hooks);
    for (const auto& [name, t] : cache.acts) EXPECT_EQ(t.shape, hook_shape(m.cfg, name, B, T, T)) << name;
    EXPECT_EQ(cache.at("blocks.3.attn.hook_pattern").shape, (Shape{B, NH, T, T}));
    EXPECT_EQ(cache.at("blocks.3.attn.hook_attn_scores").shape, (Shape{B, NH, T, T}));
    EXPECT_EQ(cache.at("blocks.0.mlp.hook_post").shape, (Shape{B, T, F}));
    EXPECT_EQ(cache.at("blocks.0.attn.hook_z").shape, (Shape{B, T, NH, hs}));
    EXPECT_EQ(cache.at("blocks.0.attn.hook_k").shape, (Shape{B, T, 4, hs}));  // 4 kv heads
    EXPECT_EQ(cache.at("blocks.0.attn.hook_result").shape, (Shape{B, T, NH, C}));
    EXPECT_EQ(cache.at("blocks.0.ln1.hook_scale").shape, (Shape{B, T, 1}));
    EXPECT_EQ(cache.at("ln_final.hook_normalized").shape, (Shape{B, T, C}));
    // embed row = table row of the token
    EXPECT_EQ(cache.at("hook_embed")[C * 3 + 5], m.p(m.wte)[ids[3] * C + 5]);
    for (int l = 0; l < 5; l++) {
        std::string b = "blocks." + std::to_string(l) + ".";
        const Tensor &pre = cache.at(b + "hook_resid_pre"), &mid = cache.at(b + "hook_resid_mid"),
                     &aout = cache.at(b + "hook_attn_out"), &mout = cache.at(b + "hook_mlp_out"),
                     &post = cache.at(b + "hook_resid_post");
        for (int64_t i = 0; i < pre.numel(); i++) {
            ASSERT_EQ(mid[i], pre[i] + aout[i]);
            ASSERT_EQ(post[i], mid[i] + mout[i]);
        }
        EXPECT_EQ(cache.at(b + "hook_mlp_in").data, mid.data);
        if (l < 4) {
            EXPECT_EQ(post.data, cache.at("blocks." + std::to_string(l + 1) + ".hook_resid_pre").data);
        }
        const Tensor& pat = cache.at(b + "attn.hook_pattern");
        const Tensor& sc = cache.at(b + "attn.hook_attn_scores");
        for (int64_t r = 0; r < B * NH * T; r++) {
            int64_t t = r % T;
            double s = 0, mx = -1e30, z = 0;
            for (int64_t j = 0; j <= t; j++) mx = std::max(mx, (double)sc[r * T + j]);
            for (int64_t j = 0; j <= t; j++) z += std::exp(sc[r * T + j] - mx);
            for (int64_t j = 0; j < T; j++) {
                s += pat[r * T + j];
                if (j > t) {
                    ASSERT_EQ(pat[r * T + j], 0.0f);
                    ASSERT_EQ(sc[r * T + j], -INFINITY);
                } else {
                    ASSERT_NEAR(pat[r * T + j], std::exp(sc[r * T + j] - mx) / z, 1e-6);  // pattern = softmax(scores)
                }
            }
            ASSERT_NEAR(s, 1.0, 1e-5);
        }
        // scores = q_rot . k_rot / sqrt(hs), query head h reading kv head h / 2; rot = rotate-half rotary of q
        const Tensor &q = cache.at(b + "attn.hook_q"), &qr = cache.at(b + "attn.hook_rot_q"),
                     &kr = cache.at(b + "attn.hook_rot_k");
        double worst = 0;
        for (int64_t bb = 0; bb < B; bb++)
            for (int64_t hh = 0; hh < NH; hh++)
                for (int64_t t = 0; t < T; t++) {
                    for (int64_t j = 0; j <= t; j++) {
                        double dot = 0;
                        for (int64_t i = 0; i < hs; i++)
                            dot += (double)qr[((bb * T + t) * NH + hh) * hs + i] * kr[((bb * T + j) * 4 + hh / 2) * hs + i];
                        worst = std::max(worst, std::fabs(dot / std::sqrt((double)hs) - sc[((bb * NH + hh) * T + t) * T + j]));
                    }
                    for (int64_t i = 0; i < hs / 2; i++) {
                        const double ang = (double)t * std::pow(10000.0, -2.0 * (double)i / (double)hs);
                        const float* qv = q.ptr() + ((bb * T + t) * NH + hh) * hs;
                        const float* qo = qr.ptr() + ((bb * T + t) * NH + hh) * hs;
                        worst = std::max(worst, std::fabs(qv[i] * std::cos(ang) - qv[i + hs / 2] * std::sin(ang) - qo[i]));
                        worst = std::max(worst, std::fabs(qv[i + hs / 2] * std::cos(ang) + qv[i] * std::sin(ang) -
                                                          qo[i + hs / 2]));
                    }
                }
        EXPECT_LT(worst, 3e-5) << b << " scores from rotated q, k";
        // hook_result summed over heads = hook_attn_out (Llama: no bias); z is what the projection reads
        const Tensor& res = cache.at(b + "attn.hook_result");
        worst = 0;
        for (int64_t n = 0; n < B * T; n++)
            for (int64_t c = 0; c < C; c++) {
                double s2 = 0;
                for (int64_t hh = 0; hh < NH; hh++) s2 += res[(n * NH + hh) * C + c];
                worst = std::max(worst, std::fabs(s2 - aout[n * C + c]));
            }
        EXPECT_LT(worst, 1e-5) << b << " sum of hook_result vs hook_attn_out";
        // SwiGLU: post = silu(pre) * pre_linear
        const Tensor &mp = cache.at(b + "mlp.hook_pre"), &ml = cache.at(b + "mlp.hook_pre_linear"),
                     &mq = cache.at(b + "mlp.hook_post");
        worst = 0;
        for (int64_t i = 0; i < mp.numel(); i++)
            worst = std::max(worst, std::fabs((double)mp[i] / (1.0 + std::exp(-(double)mp[i])) * ml[i] - mq[i]));
        EXPECT_LT(worst, 1e-5) << b << " SwiGLU";
        // RMSNorm: normalized * scale = input, mean(normalized^2) ~ 1
        const Tensor &sc1 = cache.at(b + "ln1.hook_scale"), &nrm = cache.at(b + "ln1.hook_normalized");
        worst = 0;
        for (int64_t n = 0; n < B * T; n++)
            for (int64_t c = 0; c < C; c++) worst = std::max(worst, std::fabs((double)nrm[n * C + c] * sc1[n] - pre[n * C + c]));
        EXPECT_LT(worst, 1e-5) << b << " ln1 normalized * scale";
    }
    EXPECT_EQ(cache.at("hook_embed").data, cache.at("blocks.0.hook_resid_pre").data);  // Llama: no positions
    // logits = (ln_final.hook_normalized * w) @ wte^T (hook_normalized is before the weight, as in TL)
    const Tensor& lnf = cache.at("ln_final.hook_normalized");
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += (double)lnf[4 * C + c] * m.p(m.lnf_w)[c] * m.p(m.wte)[7 * C + c];
    EXPECT_NEAR(logits[4 * 512 + 7], s, 1e-4);
}

TEST(Hooks, PerHeadInputsFireLn1PerInput) {
    LmModel m;
    lm_load(m, kStories);
    const int64_t B = 1, T = 6, C = 64;
    auto ids = some_ids(B * T, m.cfg.vocab);
    auto base = forward_logits(m, ids, B, nullptr);
    std::vector<Shape> ln_shapes;
    HookSet h;
    h.add("blocks.1.ln1.hook_normalized", [&](const std::string&, float*, const Shape& s) { ln_shapes.push_back(s); });
    // an edit of one query head's input changes the output; the same edit on the k input of another head too
    h.add("blocks.1.hook_q_input", [&](const std::string&, float* d, const Shape& s) {
        EXPECT_EQ(s, (Shape{B, T, 8, C}));
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < C; c++) d[(t * 8 + 3) * C + c] = (float)((c * 7 + t * 3) % 5) - 2.0f;
    });
    auto out = forward_logits(m, ids, B, &h);
    ASSERT_EQ(ln_shapes.size(), 3u);  // queries, keys, values
    EXPECT_EQ(ln_shapes[0], (Shape{B, T, 8, C}));
    EXPECT_EQ(ln_shapes[1], (Shape{B, T, 4, C}));
    EXPECT_EQ(ln_shapes[2], (Shape{B, T, 4, C}));
    double diff = 0;
    for (size_t i = 0; i < out.size(); i++) diff = std::max(diff, (double)std::fabs(out[i] - base[i]));
    EXPECT_GT(diff, 1e-3);
    // the same change made to the q projection's output instead: query head 3 from the edited input
    ActivationCache qc;
    HookSet hq;
    hq.add("blocks.1.hook_q_input", h.hooks["blocks.1.hook_q_input"][0]);
    hq.add("blocks.1.attn.hook_q", hook_cache(qc));
    forward_logits(m, ids, B, &hq);
    HookSet rep;
    rep.add("blocks.1.attn.hook_q", hook_replace(qc.at("blocks.1.attn.hook_q")));
    auto out2 = forward_logits(m, ids, B, &rep);
    double d2 = 0;
    for (size_t i = 0; i < out.size(); i++) d2 = std::max(d2, (double)std::fabs(out[i] - out2[i]));
    EXPECT_LT(d2, 1e-5);
}

TEST(Hooks, ScoresAndScaleEdits) {
    LmModel m;
    lm_load(m, kGpt2);
    const int64_t T = 7;
    auto ids = some_ids(T, m.cfg.vocab);
    // masking key 0 in the scores of every head = a pattern with key 0 removed and the rest renormalised
    HookSet hs;
    hs.add("blocks.0.attn.hook_attn_scores", [](const std::string&, float* d, const Shape& s) {
        for (int64_t r = 0; r < s[0] * s[1] * s[2]; r++)
            if (r % s[2] > 0) d[r * s[3]] = -INFINITY;
    });
    ActivationCache c1;
    hs.add("blocks.0.attn.hook_pattern", hook_cache(c1));
    forward_logits(m, ids, 1, &hs);
    ActivationCache c0;
    HookSet h0;
    h0.add("blocks.0.attn.hook_pattern", hook_cache(c0));
    forward_logits(m, ids, 1, &h0);
    const Tensor &p0 = c0.at("blocks.0.attn.hook_pattern"), &p1 = c1.at("blocks.0.attn.hook_pattern");
    for (int64_t r = 0; r < 4 * T; r++) {
        const int64_t t = r % T;
        if (t == 0) {
            EXPECT_EQ(p1[r * T], 1.0f);
            continue;
        }
        EXPECT_EQ(p1[r * T], 0.0f);
        for (int64_t j = 1; j <= t; j++) EXPECT_NEAR(p1[r * T + j], p0[r * T + j] / (1.0 - p0[r * T]), 1e-6);
    }
    // doubling ln2's scale halves ln2.hook_normalized
    ActivationCache n0, n1;
    HookSet a, b;
    a.add("blocks.1.ln2.hook_normalized", hook_cache(n0));
    b.add("blocks.1.ln2.hook_scale", hook_scale(2.0f));
    b.add("blocks.1.ln2.hook_normalized", hook_cache(n1));
    forward_logits(m, ids, 1, &a);
    auto out = forward_logits(m, ids, 1, &b);
    const Tensor &x0 = n0.at("blocks.1.ln2.hook_normalized"), &x1 = n1.at("blocks.1.ln2.hook_normalized");
    for (int64_t i = 0; i < x0.numel(); i++) EXPECT_NEAR(x1[i], 0.5f * x0[i], 1e-6);
    EXPECT_NE(out, forward_logits(m, ids, 1, nullptr));
}

TEST(Hooks, WriteHooksChangeDownstreamOnly) {
    LmModel m;
    lm_load(m, kStories);
    const int64_t T = 12;
    auto ids = some_ids(T, 512);
    auto base = forward_logits(m, ids, 1, nullptr);
    // zero the residual stream at position 6 only, before block 2
    HookSet h;
    h.add("blocks.2.hook_resid_pre", [](const std::string&, float* d, const Shape& s) {
        for (int64_t c = 0; c < s[2]; c++) d[6 * s[2] + c] = 0.0f;
    });
    auto out = forward_logits(m, ids, 1, &h);
    for (int64_t t = 0; t < T; t++) {
        double diff = 0;
        for (int64_t j = 0; j < 512; j++) diff = std::max(diff, (double)std::fabs(out[t * 512 + j] - base[t * 512 + j]));
        if (t < 6)
            EXPECT_EQ(diff, 0.0) << "position " << t << " is upstream of the edit";
        else
            EXPECT_GT(diff, 1e-3) << "position " << t << " should see the edit";
    }
    // scaling the MLP output by 0 (ablation) changes logits
    HookSet ab;
    ab.add("blocks.0.hook_mlp_out", hook_scale(0.0f));
    EXPECT_NE(forward_logits(m, ids, 1, &ab), base);
}

TEST(Hooks, FireDuringCachedGeneration) {
    LmModel m;
    lm_load(m, kStories);
    std::vector<Tensor> steps;
    HookSet h;
    h.add("blocks.1.mlp.hook_post", [&](const std::string&, float* d, const Shape& s) {
        Tensor t(s);
        std::copy(d, d + t.numel(), t.ptr());
        steps.push_back(t);
    });
    GenerateOptions o;
    o.max_new_tokens = 8;
    o.hooks = &h;
    auto ids = lm_generate(m, {1}, o);
    ASSERT_EQ(steps.size(), 8u);  // prompt pass + 7 single-token passes
    EXPECT_EQ(steps[0].shape, (Shape{1, 1, 172}));
    std::vector<int32_t> seq = {1};
    seq.insert(seq.end(), ids.begin(), ids.end() - 1);
    ActivationCache cache;
    HookSet c;
    c.add("blocks.1.mlp.hook_post", hook_cache(cache));
    forward_logits(m, seq, 1, &c);
    const Tensor& full = cache.at("blocks.1.mlp.hook_post");
    for (size_t t = 0; t < 8; t++)
        for (int64_t j = 0; j < 172; j++) EXPECT_NEAR(steps[t][j], full[(int64_t)t * 172 + j], 1e-5);
}

// the new hooks with a KV cache: scores [1,NH,1,S] of each generated token and rot_k at its absolute position
// equal the full forward's rows; a per-head input hook (which switches the block to per-head projections)
// during generation gives the same tokens as without it when it changes nothing
TEST(Hooks, NewHooksDuringCachedGeneration) {
    LmModel m;
    lm_load(m, kStories);
    std::vector<Tensor> scores, rotk;
    HookSet h;
    h.add("blocks.2.attn.hook_attn_scores", [&](const std::string&, float* d, const Shape& s) {
        Tensor t(s);
        std::copy(d, d + t.numel(), t.ptr());
        scores.push_back(t);
    });
    h.add("blocks.2.attn.hook_rot_k", [&](const std::string&, float* d, const Shape& s) {
        Tensor t(s);
        std::copy(d, d + t.numel(), t.ptr());
        rotk.push_back(t);
    });
    GenerateOptions o;
    o.max_new_tokens = 6;
    o.hooks = &h;
    auto ids = lm_generate(m, {1}, o);
    ASSERT_EQ(scores.size(), 6u);
    EXPECT_EQ(scores[3].shape, (Shape{1, 8, 1, 4}));
    std::vector<int32_t> seq = {1};
    seq.insert(seq.end(), ids.begin(), ids.end() - 1);
    const int64_t T = (int64_t)seq.size();
    ActivationCache cache;
    HookSet c;
    c.add("blocks.2.attn.hook_attn_scores", hook_cache(cache));
    c.add("blocks.2.attn.hook_rot_k", hook_cache(cache));
    forward_logits(m, seq, 1, &c);
    const Tensor &fs = cache.at("blocks.2.attn.hook_attn_scores"), &fk = cache.at("blocks.2.attn.hook_rot_k");
    for (int64_t t = 0; t < T; t++) {
        for (int64_t hh = 0; hh < 8; hh++)
            for (int64_t j = 0; j <= t; j++)
                EXPECT_NEAR(scores[(size_t)t][hh * (t + 1) + j], fs[(hh * T + t) * T + j], 5e-5) << t << " " << j;
        for (int64_t i = 0; i < 4 * 8; i++) EXPECT_NEAR(rotk[(size_t)t][i], fk[t * 32 + i], 1e-5);
    }
    HookSet qin;
    qin.add("blocks.1.hook_q_input", hook_scale(1.0f));
    qin.add("blocks.3.hook_v_input", hook_scale(1.0f));
    GenerateOptions o2;
    o2.max_new_tokens = 60;
    auto plain = lm_generate(m, {1}, o2);
    o2.hooks = &qin;
    EXPECT_EQ(lm_generate(m, {1}, o2), plain);
}

TEST(Hooks, UnknownNamesRejected) {
    LmConfig llama;
    llama.arch = LmArch::LLAMA;
    llama.n_layers = 5;
    llama.d_model = 64;
    llama.n_heads = 8;
    llama.n_kv_heads = 4;
    llama.d_mlp = 172;
    LmConfig gpt2 = llama;
    gpt2.arch = LmArch::GPT2;
    gpt2.n_layers = 2;
    gpt2.n_kv_heads = 8;
    EXPECT_NO_THROW(validate_hook_name("blocks.4.mlp.hook_post", llama));
    EXPECT_THROW(validate_hook_name("blocks.5.mlp.hook_post", llama), Error);
    EXPECT_THROW(validate_hook_name("hook_pos_embed", llama), Error);
    EXPECT_NO_THROW(validate_hook_name("hook_pos_embed", gpt2));
    EXPECT_NO_THROW(validate_hook_name("blocks.3.attn.hook_rot_q", llama));
    EXPECT_THROW(validate_hook_name("blocks.1.attn.hook_rot_q", gpt2), Error);  // no rotary in GPT-2
    EXPECT_THROW(validate_hook_name("blocks.1.mlp.hook_pre_linear", gpt2), Error);
    EXPECT_THROW(validate_hook_name("blocks.01.mlp.hook_pre", gpt2), Error);
    EXPECT_THROW(validate_hook_name("blocks..mlp.hook_pre", gpt2), Error);
    EXPECT_THROW(validate_hook_name("blocks.99999999999999999999.mlp.hook_pre", gpt2), Error);
    EXPECT_EQ(hook_names(gpt2).size(), 2u + 2u * 23u + 4u);  // no rot_q, rot_k, pre_linear
    EXPECT_EQ(hook_names(llama).size(), 1u + 5u * 26u + 4u);
    EXPECT_EQ(hook_row_dim(llama, "blocks.0.attn.hook_z"), 64);
    EXPECT_EQ(hook_row_dim(llama, "blocks.0.attn.hook_k"), 32);
    EXPECT_EQ(hook_row_dim(llama, "blocks.0.attn.hook_result"), 8 * 64);
    EXPECT_EQ(hook_row_dim(llama, "blocks.0.hook_k_input"), 4 * 64);
    EXPECT_EQ(hook_row_dim(llama, "ln_final.hook_scale"), 1);
    EXPECT_EQ(hook_row_dim(gpt2, "blocks.1.mlp.hook_pre"), 172);
    EXPECT_THROW(hook_row_dim(gpt2, "blocks.1.attn.hook_attn_scores"), Error);
    try {
        validate_hook_name("blocks.0.mlp.hook_pre_typo", gpt2);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown hook 'blocks.0.mlp.hook_pre_typo'"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("attn.hook_z"), std::string::npos);
    }
}
