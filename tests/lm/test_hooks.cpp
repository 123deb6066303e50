// test_hooks.cpp: TransformerLens-named hook points on real and tiny models.
//   - a write hook adding zero leaves logits bit-identical; replacing an activation by its cached self too;
//   - caching returns the documented shapes and consistent values (resid_post = resid_mid + mlp_out,
//     resid_post of block i = resid_pre of block i+1, pattern rows sum to 1 and are causal);
//   - a write hook that changes something does change the logits, and only downstream positions;
//   - hooks also fire during KV-cached generation, with the same values as a full forward;
//   - unknown hook names are rejected with the list of valid ones.
#include <gtest/gtest.h>

#include <cmath>

#include "lm_testing.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/hooks.h"

using namespace unfold;
using namespace unfold::lm_testing;

static const std::string kGpt2 = kGpt2Tiny;

TEST(Hooks, AddZeroAndReplaceWithSelfAreBitIdentical) {
    for (const std::string& path : {kStories, kGpt2}) {
        LmModel m;
        lm_load(m, path);
        auto ids = some_ids(2 * 10, m.cfg.vocab);
        auto base = forward_logits(m, ids, 2, nullptr);
        for (const std::string& name : hook_names((int)m.cfg.n_layers, m.cfg.arch == LmArch::GPT2)) {
            int64_t last = name == "hook_embed" || name == "hook_pos_embed" || name.rfind("ln_final", 0) == 0
                               ? m.cfg.d_model
                               : name.find("pattern") != std::string::npos ? 10
                               : name.find("mlp.hook_post") != std::string::npos ? m.cfg.d_mlp
                                                                                  : m.cfg.d_model;
            HookSet add0;
            add0.add(name, hook_add_vector(std::vector<float>((size_t)last, 0.0f)));
            EXPECT_EQ(forward_logits(m, ids, 2, &add0), base) << path << " add zero at " << name;
            ActivationCache cache;
            HookSet c;
            c.add(name, hook_cache(cache));
            forward_logits(m, ids, 2, &c);
            HookSet rep;
            rep.add(name, hook_replace(cache.at(name)));
            EXPECT_EQ(forward_logits(m, ids, 2, &rep), base) << path << " replace with self at " << name;
        }
    }
}

TEST(Hooks, CacheShapesAndValues) {
    LmModel m;
    lm_load(m, kStories);
    const int64_t B = 2, T = 9, C = 64;
    auto ids = some_ids(B * T, m.cfg.vocab);
    ActivationCache cache;
    HookSet h;
    for (const auto& n : hook_names(5, false)) h.add(n, hook_cache(cache));
    auto logits = forward_logits(m, ids, B, &h);
    EXPECT_EQ(cache.acts.size(), 1u + 5u * 7u + 1u);
    EXPECT_EQ(cache.at("hook_embed").shape, (Shape{B, T, C}));
    EXPECT_EQ(cache.at("blocks.3.attn.hook_pattern").shape, (Shape{B, 8, T, T}));
    EXPECT_EQ(cache.at("blocks.0.mlp.hook_post").shape, (Shape{B, T, 172}));
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
        if (l < 4) {
            EXPECT_EQ(post.data, cache.at("blocks." + std::to_string(l + 1) + ".hook_resid_pre").data);
        }
        const Tensor& pat = cache.at(b + "attn.hook_pattern");
        for (int64_t r = 0; r < B * 8 * T; r++) {
            int64_t t = r % T;
            double s = 0;
            for (int64_t j = 0; j < T; j++) {
                s += pat[r * T + j];
                if (j > t) {
                    ASSERT_EQ(pat[r * T + j], 0.0f);
                }
            }
            ASSERT_NEAR(s, 1.0, 1e-5);
        }
    }
    EXPECT_EQ(cache.at("hook_embed").data, cache.at("blocks.0.hook_resid_pre").data);  // Llama: no positions
    // logits = ln_final.hook_normalized @ wte^T
    const Tensor& lnf = cache.at("ln_final.hook_normalized");
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += (double)lnf[4 * C + c] * m.p(m.wte)[7 * C + c];
    EXPECT_NEAR(logits[4 * 512 + 7], s, 1e-4);
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

TEST(Hooks, UnknownNamesRejected) {
    EXPECT_NO_THROW(validate_hook_name("blocks.4.mlp.hook_post", 5, false));
    EXPECT_THROW(validate_hook_name("blocks.5.mlp.hook_post", 5, false), Error);
    EXPECT_THROW(validate_hook_name("hook_pos_embed", 5, false), Error);
    EXPECT_NO_THROW(validate_hook_name("hook_pos_embed", 2, true));
    try {
        validate_hook_name("blocks.0.mlp.hook_pre_typo", 2, true);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown hook 'blocks.0.mlp.hook_pre_typo'"), std::string::npos);
    }
}
