// test_splice.cpp: an SAE spliced into the real stories260K model. With no edit the output is unchanged byte
// for byte; an exact dictionary recovers the whole loss (ce_loss_recovered 1, KL 0) and a zero decoder none;
// clamping a feature of the last residual stream high makes its top promoted token dominate greedy text;
// ablating a feature that never fires changes nothing; mismatched hooks and features are one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../lm/lm_testing.h"
#include "../test_util.h"
#include "unfold/features/faithfulness.h"
#include "unfold/features/splice.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/lm_train.h"

using namespace unfold;
using namespace unfold::lm_testing;
using unfold_test::error_of;

namespace {

// d_sae = 2 d_in, W_enc = [I, -I], W_dec = [I; -I], no biases: relu(x) - relu(-x) = x exactly.
Sae exact_sae(int64_t d) {
    SaeConfig c;
    c.arch = SaeArch::STANDARD;
    c.d_in = d;
    c.d_sae = 2 * d;
    Sae s = sae_init(c, 1);
    std::fill(s.params.data.begin(), s.params.data.end(), 0.0f);
    for (int64_t i = 0; i < d; i++) {
        s.W_enc()[i * 2 * d + i] = 1.0f;
        s.W_enc()[i * 2 * d + d + i] = -1.0f;
        s.W_dec()[i * d + i] = 1.0f;
        s.W_dec()[(d + i) * d + i] = -1.0f;
    }
    return s;
}

Sae random_topk(int64_t d, int64_t F, int k, uint64_t seed) {
    SaeConfig c;
    c.arch = SaeArch::TOPK;
    c.d_in = d;
    c.d_sae = F;
    c.k = k;
    return sae_init(c, seed);
}

// stories260K's 200 golden greedy ids, four times over: a corpus the model knows
std::vector<int32_t> golden_corpus() {
    const auto ids = golden_ids();
    std::vector<int32_t> toks;
    for (int rep = 0; rep < 4; rep++) toks.insert(toks.end(), ids.begin(), ids.end());
    return toks;
}

std::vector<int32_t> greedy(const LmModel& m, const HookSet* hooks, int n = 40) {
    GenerateOptions o;
    o.max_new_tokens = n;
    o.hooks = hooks;
    return lm_generate(m, {1}, o);
}

}  // namespace

TEST(Splice, NoEditKeepsTheOutputByteForByte) {
    LmModel m;
    lm_load(m, kStories);
    Sae sae = random_topk(64, 256, 8, 3);
    HookSet h;
    h.add("blocks.2.hook_resid_post", hook_sae_splice(sae, SpliceOptions{}));
    EXPECT_EQ(greedy(m, &h, 100), greedy(m, nullptr, 100));
    auto ids = golden_ids();
    std::vector<int32_t> seq(ids.begin(), ids.begin() + 48);
    EXPECT_EQ(forward_logits(m, seq, 1), [&] {
        LmActs a;
        ForwardOptions fo;
        fo.hooks = &h;
        lm_forward(m, a, seq.data(), 1, (int64_t)seq.size(), fo);
        return a.logits.vec();
    }());
}

TEST(Splice, ExactDictionaryRecoversEverythingAndZeroDecoderNothing) {
    LmModel m;
    lm_load(m, kStories);
    const std::vector<int32_t> toks = golden_corpus();
    SpliceEvalOptions o;
    o.hook = "blocks.1.hook_resid_mid";
    o.context = 32;
    o.windows = 8;
    o.batch = 4;
    o.ctx.quiet = true;
    Sae exact = exact_sae(64);
    SpliceEval e = sae_splice_eval(m, exact, toks, o);
    EXPECT_EQ(e.windows, 8);
    EXPECT_EQ(e.tokens, 8 * 32);
    EXPECT_GT(e.ce_loss_zero_ablation, e.ce_loss_clean + 0.1);  // the hook matters
    EXPECT_EQ(e.ce_loss_spliced, e.ce_loss_clean);
    EXPECT_EQ(e.kl_div_spliced, 0.0);
    EXPECT_EQ(e.ce_loss_recovered, 1.0);
    // ce_loss_clean is `lm eval` on the same windows
    EXPECT_NEAR(e.ce_loss_clean, lm_eval_loss(m, toks, 32, 8, 4), 1e-9);
    Sae zero = exact;
    std::fill(zero.W_dec(), zero.W_dec() + zero.F() * zero.d(), 0.0f);
    SpliceEval z = sae_splice_eval(m, zero, toks, o);
    EXPECT_NEAR(z.ce_loss_spliced, z.ce_loss_zero_ablation, 1e-9);
    EXPECT_NEAR(z.ce_loss_recovered, 0.0, 1e-9);
    EXPECT_GT(z.kl_div_spliced, 0.05);
    // a random dictionary lies in between, and its KL is positive
    Sae rnd = random_topk(64, 256, 16, 5);
    SpliceEval r = sae_splice_eval(m, rnd, toks, o);
    EXPECT_GT(r.kl_div_spliced, 0.0);
    EXPECT_GT(r.ce_loss_spliced, r.ce_loss_clean);
}

TEST(Splice, SteeringTheLastResidualTowardAFeatureBringsItsTopToken) {
    LmModel m;
    lm_load(m, kStories);
    Sae sae = random_topk(64, 128, 4, 9);
    const int64_t f = 17;
    // the feature's top promoted token: the unembedding of its decoder direction through the final norm's scale
    const float* dir = sae.W_dec() + f * 64;
    const float* g = m.p(m.lnf_w);
    const float* U = m.unembed();
    int32_t top = 0;
    double best = -1e30;
    for (int64_t v = 0; v < m.cfg.vocab; v++) {
        double s = 0;
        for (int64_t t = 0; t < 64; t++) s += (double)U[v * 64 + t] * g[t] * dir[t];
        if (s > best) best = s, top = (int32_t)v;
    }
    auto count = [&](const std::vector<int32_t>& ids) { return std::count(ids.begin(), ids.end(), top); };
    const auto plain = greedy(m, nullptr, 40);
    SpliceOptions so;
    so.edits = parse_sae_edits(std::to_string(f) + "=400", "", "", sae.F());
    HookSet h;
    h.add("blocks.4.hook_resid_post", hook_sae_splice(sae, so));
    const auto steered = greedy(m, &h, 40);
    printf("token %d: %ld of 40 greedy tokens unsteered, %ld steered\n", top, (long)count(plain), (long)count(steered));
    EXPECT_LE(count(plain), 4);
    EXPECT_GE(count(steered), 30);
}

TEST(Splice, AblatingAFeatureThatNeverFiresChangesNothing) {
    LmModel m;
    lm_load(m, kStories);
    Sae sae = random_topk(64, 128, 4, 11);
    sae.b_enc()[5] = -1e9f;  // latent 5 can never be among the top k
    SpliceOptions so;
    so.edits = parse_sae_edits("", "", "5", sae.F());
    HookSet h;
    h.add("blocks.3.hook_resid_pre", hook_sae_splice(sae, so));
    EXPECT_EQ(greedy(m, &h, 60), greedy(m, nullptr, 60));
    // ablating features that do fire changes the text
    so.edits = parse_sae_edits("", "", "0,1,2,3,4,6,7,8,9,10,11,12,13,14,15", sae.F());
    SpliceOptions all;
    all.keep_error = false;  // the dictionary alone, ablations on top
    HookSet h2;
    h2.add("blocks.3.hook_resid_pre", hook_sae_splice(sae, all));
    EXPECT_NE(greedy(m, &h2, 60), greedy(m, nullptr, 60));
}

TEST(Splice, EditsParseAndApplyOnRows) {
    Sae sae = random_topk(8, 16, 2, 2);
    auto e = parse_sae_edits("3=1.5,4=-2", "7=0.5", "9,10", 16);
    ASSERT_EQ(e.size(), 5u);
    EXPECT_EQ(e[0].kind, SaeEdit::CLAMP);
    EXPECT_EQ(e[1].value, -2.0f);
    EXPECT_EQ(e[2].kind, SaeEdit::SCALE);
    EXPECT_EQ(e[4].feature, 10);
    EXPECT_EQ(describe_sae_edits(e), "clamp 3=1.5, clamp 4=-2, scale 7 x0.5, ablate 9, ablate 10");
    // clamping one latent adds exactly (V - old) W_dec[f] to the row (keep_error)
    std::vector<float> x(8);
    for (int i = 0; i < 8; i++) x[(size_t)i] = 0.3f * (float)(i - 3);
    SparseCodes c;
    sae_encode(sae, x.data(), 1, c);
    float old = 0;
    for (size_t j = 0; j < c.idx.size(); j++)
        if (c.idx[j] == 3) old = c.val[j];
    std::vector<float> y = x;
    SpliceOptions so;
    so.edits = parse_sae_edits("3=2", "", "", 16);
    sae_splice_rows(sae, so, y.data(), 1);
    for (int t = 0; t < 8; t++) EXPECT_NEAR(y[(size_t)t], x[(size_t)t] + (2.0f - old) * sae.W_dec()[3 * 8 + t], 1e-6);
    // splice mode with no edit = the reconstruction
    std::vector<float> z = x, rec(8);
    SpliceOptions sp;
    sp.keep_error = false;
    sae_splice_rows(sae, sp, z.data(), 1);
    sae_decode(sae, c, rec.data());
    for (int t = 0; t < 8; t++) EXPECT_NEAR(z[(size_t)t], rec[(size_t)t], 1e-6);
    // one-line errors
    EXPECT_EQ(error_of([] { parse_sae_edits("16=1", "", "", 16); }), "--steer: feature 16 is out of range [0, 16)");
    EXPECT_EQ(error_of([] { parse_sae_edits("3", "", "", 16); }), "--steer: '3' is not FEATURE=VALUE");
    EXPECT_NE(error_of([] { parse_sae_edits("", "2=abc", "", 16); }).find("--scale"), std::string::npos);
    EXPECT_EQ(error_of([] { parse_sae_edits("", "", "-1", 16); }), "--ablate: feature -1 is out of range [0, 16)");
}

TEST(Splice, HookMustMatchTheSae) {
    LmModel m;
    lm_load(m, kStories);
    Sae small = random_topk(64, 32, 2, 1), wide = random_topk(172, 32, 2, 1);
    EXPECT_EQ(sae_hook_for(m, small, "blocks.0.hook_resid_post"), "blocks.0.hook_resid_post");
    EXPECT_EQ(sae_hook_for(m, wide, "blocks.0.mlp.hook_post"), "blocks.0.mlp.hook_post");
    EXPECT_EQ(error_of([&] { sae_hook_for(m, wide, "blocks.0.hook_resid_post"); }),
              "hook 'blocks.0.hook_resid_post' has width 64 but the SAE's d_in is 172");
    EXPECT_NE(error_of([&] { sae_hook_for(m, small, ""); }).find("give --hook"), std::string::npos);
    EXPECT_NE(error_of([&] { sae_hook_for(m, small, "blocks.9.hook_resid_post"); }).find("unknown hook"),
              std::string::npos);
    small.metadata["hook_name"] = "blocks.2.hook_resid_mid";
    EXPECT_EQ(sae_hook_for(m, small, ""), "blocks.2.hook_resid_mid");
}

TEST(Splice, PerHeadHooksTakeFlattenedRows) {
    // hook_z [B,T,NH,hs] rows are NH*hs wide, as SAELens' hook_z SAEs read them; an exact dictionary of that
    // width recovers everything, and a dictionary of the head size alone is refused
    LmModel m;
    lm_load(m, kStories);
    const std::vector<int32_t> toks = golden_corpus();
    SpliceEvalOptions o;
    o.hook = "blocks.1.attn.hook_z";
    o.context = 32;
    o.windows = 4;
    o.batch = 4;
    o.ctx.quiet = true;
    Sae exact = exact_sae(64);
    EXPECT_EQ(sae_hook_for(m, exact, o.hook), o.hook);
    SpliceEval e = sae_splice_eval(m, exact, toks, o);
    EXPECT_GT(e.ce_loss_zero_ablation, e.ce_loss_clean + 0.01);
    EXPECT_EQ(e.ce_loss_spliced, e.ce_loss_clean);
    EXPECT_EQ(e.ce_loss_recovered, 1.0);
    Sae head = random_topk(8, 32, 2, 1);
    EXPECT_EQ(error_of([&] { sae_hook_for(m, head, o.hook); }),
              "hook 'blocks.1.attn.hook_z' has width 64 but the SAE's d_in is 8");
    Sae res = exact_sae(8 * 64);  // hook_result [B,T,NH,C]: 512 per row
    o.hook = "blocks.0.attn.hook_result";
    SpliceEval r = sae_splice_eval(m, res, toks, o);
    EXPECT_NEAR(r.ce_loss_spliced, r.ce_loss_clean, 1e-6);  // the hooked block sums heads in another order
    EXPECT_GT(r.ce_loss_zero_ablation, r.ce_loss_clean + 0.01);
}
