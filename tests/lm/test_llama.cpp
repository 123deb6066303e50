// test_llama.cpp: a tiny random Llama (2 layers, d_model 16, 4 heads over 2 kv heads, SwiGLU d_mlp 24,
// untied lm_head, vocab 41) loaded from a Hugging Face-layout fixture (q/k in HF row order) matches PyTorch:
// logits, loss and every parameter gradient (lm_ref_check.h). Also: the HF <-> interleaved q/k row
// permutation round-trips.
#include "lm_ref_check.h"

using namespace unfold;

TEST(Llama, LogitsLossAndAllGradientsMatchPyTorch) { check_against_reference("llama_tiny"); }

TEST(Llama, RopeRowPermutationRoundTrips) {
    const int64_t nh = 3, hs = 4, cols = 2;
    std::vector<float> w(nh * hs * cols), orig;
    for (size_t i = 0; i < w.size(); i++) w[i] = (float)i;
    orig = w;
    rope_rows_interleaved_to_hf(w.data(), nh, hs, cols);
    // head 0: interleaved rows (0,1,2,3) = pairs (x0,y0),(x1,y1) -> HF rows (x0,x1,y0,y1) = old rows 0,2,1,3
    EXPECT_EQ(w[1 * cols], orig[2 * cols]);
    EXPECT_EQ(w[2 * cols], orig[1 * cols]);
    rope_rows_hf_to_interleaved(w.data(), nh, hs, cols);
    EXPECT_EQ(w, orig);
}
