// test_gpt2.cpp: a tiny random GPT-2 (2 layers, d_model 16, 4 heads, d_mlp 40, vocab 37) loaded from a
// Hugging Face-layout fixture matches PyTorch: logits, loss and every parameter gradient (lm_ref_check.h).
#include "lm_ref_check.h"

using namespace unfold;

TEST(Gpt2, LogitsLossAndAllGradientsMatchPyTorch) { check_against_reference("gpt2_tiny"); }

TEST(Gpt2, ConfigFromHfJson) {
    LmModel m;
    lm_load(m, std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/gpt2_tiny");
    EXPECT_EQ(m.cfg.arch, LmArch::GPT2);
    EXPECT_EQ(m.cfg.d_mlp, 40);
    EXPECT_EQ(m.cfg.n_ctx, 12);
    EXPECT_EQ(m.params.size(), (size_t)(37 * 16 + 12 * 16 + 2 * (4 * 16 + 16 * 48 + 48 + 16 * 16 + 16 + 16 * 40 + 40 +
                                                                  40 * 16 + 16) + 32));
}
