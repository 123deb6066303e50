// lm_ref_check.h: shared body of test_gpt2 / test_llama: load a tiny random model from its Hugging Face-layout
// fixture, run forward + backward on the fixture's ids/targets, and compare logits, loss and every
// parameter gradient with the PyTorch (float64) reference written by tools/reference/lm_fixtures.py.
// Tolerances: logits abs 1e-4; loss abs 1e-5; each gradient tensor max|d| <= 1e-5 + 1e-3 * max|ref|.
#pragma once
#include <gtest/gtest.h>

#include <cmath>

#include "unfold/io/safetensors.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/model.h"

namespace unfold {

inline void check_against_reference(const std::string& name) {
    const std::string dir = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/";
    LmModel m;
    lm_load(m, dir + name);
    SafeTensorsReader ref(dir + name + "_ref.safetensors");
    auto ids64 = ref.read_i64("ids"), tg64 = ref.read_i64("targets");
    const StEntry& e = ref.entry("ids");
    const int64_t B = e.shape[0], T = e.shape[1];
    std::vector<int32_t> ids(ids64.begin(), ids64.end()), tgt(tg64.begin(), tg64.end());
    LmActs a;
    lm_forward(m, a, ids.data(), B, T);
    Tensor logits = ref.read_f32("logits", {B, T, m.cfg.vocab});
    double worst = 0;
    for (int64_t i = 0; i < logits.numel(); i++) worst = std::max(worst, (double)std::fabs(logits[i] - a.logits[i]));
    EXPECT_LT(worst, 1e-4) << name << ": max |logits - ref|";
    double loss = lm_loss(a, m.cfg, tgt.data());
    EXPECT_NEAR(loss, ref.read_f32("loss")[0], 1e-5) << name << ": loss";
    m.params.zero_grad();
    lm_backward(m, a, ids.data(), tgt.data());
    std::vector<std::vector<float>> storage;
    auto grads = lm_hf_tensors(m, true, storage);
    ASSERT_EQ(grads.size(), m.params.views.size());
    int checked = 0;
    double worst_rel = 0;
    for (const auto& g : grads) {
        Tensor r = ref.read_f32("grad." + g.name, g.shape);
        double maxref = 0, maxd = 0;
        for (int64_t i = 0; i < r.numel(); i++) {
            maxref = std::max(maxref, (double)std::fabs(r[i]));
            maxd = std::max(maxd, (double)std::fabs(r[i] - g.data[i]));
        }
        EXPECT_GT(maxref, 0.0) << g.name << ": reference gradient is all zero (fixture would not test anything)";
        EXPECT_LE(maxd, 1e-5 + 1e-3 * maxref) << name << ": grad " << g.name << " max|d| " << maxd << " max|ref| "
                                              << maxref;
        worst_rel = std::max(worst_rel, maxd / maxref);
        checked++;
    }
    printf("%s: max|logits-ref| %.3g, loss %.7f vs %.7f, worst grad max|d|/max|ref| %.3g over %d tensors\n",
           name.c_str(), worst, loss, (double)ref.read_f32("loss")[0], worst_rel, checked);
    EXPECT_EQ(checked, (int)ref.entries().size() - 4);  // every grad.* tensor in the fixture
}

}  // namespace unfold
