// test_feature_probe.cpp: hypotheses and ablation effects.
//   - a model built here with a planted token -> feature rule (one-hot token embeddings, an SAE whose feature j
//     reads token t_j): `hypothesis` finds the planted feature with specificity and sensitivity 1, and a
//     neighbouring hypothesis scores lower;
//   - on stories260K: ablating a feature that never fires measures nothing; ablating one that fires changes
//     the loss where it fires, and its largest log-prob falls include the tokens its decoder direction promotes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../test_util.h"
#include "features_testing.h"
#include "unfold/features/decoder_geometry.h"
#include "unfold/features/feature_probe.h"

using namespace unfold;
using namespace unfold::features_testing;

namespace {

// GPT-2 layout, one block whose every weight is zero: the residual stream is the token embedding, one-hot.
LmModel one_hot_model(int64_t V) {
    LmConfig c;
    c.arch = LmArch::GPT2;
    c.vocab = V;
    c.d_model = V;
    c.n_layers = 1;
    c.n_heads = 1;
    c.n_kv_heads = 1;
    c.d_mlp = 4;
    c.n_ctx = 64;
    LmModel m;
    lm_build(m, c);
    std::fill(m.params.data.begin(), m.params.data.end(), 0.0f);
    for (int64_t v = 0; v < V; v++) m.p(m.wte)[v * V + v] = 1.0f;
    m.p(m.lnf_w)[0] = 1.0f;
    return m;
}

// feature j fires (value 1 - 0.5) exactly where the token is planted[j]
Sae planted_sae(int64_t V, const std::vector<int32_t>& planted) {
    SaeConfig c;
    c.arch = SaeArch::STANDARD;
    c.d_in = V;
    c.d_sae = (int64_t)planted.size();
    Sae s = sae_init(c, 1);
    std::fill(s.params.data.begin(), s.params.data.end(), 0.0f);
    const int64_t F = c.d_sae;
    for (int64_t j = 0; j < F; j++) {
        s.W_enc()[planted[(size_t)j] * F + j] = 1.0f;
        s.b_enc()[j] = -0.5f;
        s.W_dec()[j * V + planted[(size_t)j]] = 1.0f;
    }
    return s;
}

}  // namespace

TEST(FeatureHypothesis, FindsThePlantedFeatureWithSpecificityAndSensitivityOne) {
    const int64_t V = 64;
    LmModel m = one_hot_model(V);
    const std::vector<int32_t> planted = {5, 17, 33, 40, 41, 63};
    Sae sae = planted_sae(V, planted);
    std::vector<int32_t> toks(20000);
    for (size_t i = 0; i < toks.size(); i++) toks[i] = (int32_t)((i * 2654435761u >> 7) % (uint64_t)V);
    CorpusScan scan;
    scan.hook = "blocks.0.hook_resid_pre";
    scan.context = 32;
    scan.batch = 8;
    scan.bos_id = 0;
    scan.tokens = 10000;
    scan.ctx = Context::silent();
    // hypothesis: "the token is 33" -> feature 2
    HypothesisResult r = features_hypothesis(m, sae, toks, scan, [](const int32_t* ids, int64_t, int64_t p) {
        return ids[p] == 33;
    });
    EXPECT_GT(r.context_rows, 50);
    auto best = *std::max_element(r.features.begin(), r.features.end(),
                                  [](const auto& a, const auto& b) { return a.f1 < b.f1; });
    EXPECT_EQ(best.feature, 2);
    EXPECT_DOUBLE_EQ(r.features[2].specificity, 1.0);
    EXPECT_DOUBLE_EQ(r.features[2].sensitivity, 1.0);
    EXPECT_DOUBLE_EQ(r.features[2].f1, 1.0);
    for (int64_t j = 0; j < (int64_t)planted.size(); j++)
        if (j != 2) {
            EXPECT_EQ(r.features[(size_t)j].both, 0);
        }
    // a broader hypothesis ("40 or 41"): each of the two features is fully specific but about half sensitive
    HypothesisResult r2 = features_hypothesis(m, sae, toks, scan, [](const int32_t* ids, int64_t, int64_t p) {
        return ids[p] == 40 || ids[p] == 41;
    });
    EXPECT_DOUBLE_EQ(r2.features[3].specificity, 1.0);
    EXPECT_NEAR(r2.features[3].sensitivity + r2.features[4].sensitivity, 1.0, 1e-12);
    EXPECT_LT(r2.features[3].f1, 0.8);
    EXPECT_GT(r2.features[3].sensitivity, 0.3);
    // a hypothesis on the previous token: the planted feature fires at the token itself, so it is not specific
    HypothesisResult r3 = features_hypothesis(m, sae, toks, scan, [](const int32_t* ids, int64_t, int64_t p) {
        return p > 0 && ids[p - 1] == 33;
    });
    EXPECT_LT(r3.features[2].f1, 0.2);
}

TEST(FeatureEffect, AblatingANeverFiringFeatureMeasuresNothingAndAFiringOneMovesItsTokens) {
    const LmModel& m = stories();
    auto toks = sampled_corpus(20, 200);
    Sae sae = make_sae(SaeArch::STANDARD, 64, 64, 0, 11);
    for (int64_t f = 0; f < sae.F(); f++) sae.b_enc()[f] = -0.5f;
    sae.b_enc()[0] = -1e6f;  // feature 0 never fires
    CorpusScan scan;
    scan.hook = "blocks.4.hook_resid_post";
    scan.context = 32;
    scan.batch = 8;
    scan.bos_id = 1;
    scan.tokens = 3000;
    scan.ctx = Context::silent();
    EffectResult dead = features_effect(m, sae, toks, scan, 0);
    EXPECT_GT(dead.rows, 2500);
    EXPECT_EQ(dead.firings, 0);
    EXPECT_TRUE(dead.rises.empty());
    // the most frequently firing feature
    int64_t best = 1;
    EffectResult e = features_effect(m, sae, toks, scan, best);
    for (int64_t f = 2; f < 8; f++) {
        EffectResult x = features_effect(m, sae, toks, scan, f);
        if (x.firings > e.firings) e = x, best = f;
    }
    ASSERT_GT(e.firings, 50);
    EXPECT_TRUE(std::isfinite(e.delta_loss));
    EXPECT_NE(e.delta_loss, 0.0);
    EXPECT_NEAR(e.delta_loss, e.loss_ablated - e.loss_clean, 1e-12);
    ASSERT_EQ(e.falls.size(), 10u);
    EXPECT_LT(e.falls[0].value, 0.0f);
    EXPECT_GT(e.rises[0].value, 0.0f);
    // removing the feature's direction from the last residual stream lowers what it promotes: its top promoted
    // token (through the final norm) is among the 10 largest falls
    std::vector<std::vector<IdValue>> prom, supp;
    feature_logit_effects(m, sae, scan.hook, 3, prom, supp);
    bool found = false;
    for (const auto& t : e.falls) found |= t.id == prom[(size_t)best][0].id;
    EXPECT_TRUE(found) << "feature " << best << " promotes token " << prom[(size_t)best][0].id;
}
