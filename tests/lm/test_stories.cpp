// test_stories.cpp: the real-model test. Karpathy's stories260K (llama2.c .bin) must load, reproduce the
// golden greedy continuation from BOS byte for byte (ids and, through the llama2.c tokenizer, the text),
// and match the reference logits of positions 0-4 within 1e-4. Also: one full (uncached) forward over the
// golden sequence gives the same logits as the KV-cached generation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "lm_testing.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/tokenizer.h"

using namespace unfold;
using namespace unfold::lm_testing;

static const std::string& kDir = kStoriesDir;

TEST(Stories260K, LoadsWithExactConfig) {
    LmModel m;
    lm_load(m, kDir + "stories260K.bin");
    EXPECT_EQ(m.cfg.d_model, 64);
    EXPECT_EQ(m.cfg.d_mlp, 172);
    EXPECT_EQ(m.cfg.n_layers, 5);
    EXPECT_EQ(m.cfg.n_heads, 8);
    EXPECT_EQ(m.cfg.n_kv_heads, 4);
    EXPECT_EQ(m.cfg.vocab, 512);
    EXPECT_EQ(m.cfg.n_ctx, 512);
    EXPECT_TRUE(m.cfg.tied);
    EXPECT_EQ(m.params.size(), 260032u);
}

TEST(Stories260K, GreedyMatchesGoldenIdsLogitsAndText) {
    LmModel m;
    lm_load(m, kDir + "stories260K.bin");
    GenerateOptions o;
    o.max_new_tokens = 200;
    std::vector<std::vector<float>> logits;
    auto ids = lm_generate(m, {1}, o, nullptr, &logits);
    auto gold = golden_ids();
    ASSERT_EQ(gold.size(), 200u);
    ASSERT_EQ(ids, gold);
    auto gl = golden_logits();
    ASSERT_EQ(gl.size(), 5u);
    double worst = 0;
    for (size_t p = 0; p < 5; p++) {
        ASSERT_EQ(gl[p].size(), 512u);
        for (size_t j = 0; j < 512; j++) worst = std::max(worst, std::fabs(gl[p][j] - logits[p][j]));
    }
    EXPECT_LT(worst, 1e-4) << "max |logit - golden| over positions 0-4";
    printf("stories260K: 200 greedy ids identical; max |logit - golden| over positions 0-4 = %.3g\n", worst);
    // text through the llama2.c tokenizer: pieces after BOS, plus llama2.c's final newline
    auto tok = load_tokenizer(kDir + "tok512.bin");
    std::string text;
    int32_t prev = 1;
    for (int32_t id : ids) {
        text += tok->decode_piece(prev, id);
        prev = id;
    }
    EXPECT_EQ(text + "\n", read_file(kDir + "golden_greedy_text.txt"));
}

TEST(Stories260K, FullForwardEqualsCachedGeneration) {
    LmModel m;
    lm_load(m, kDir + "stories260K.bin");
    auto gold = golden_ids();
    std::vector<int32_t> seq = {1};
    seq.insert(seq.end(), gold.begin(), gold.begin() + 63);  // 64 positions
    LmActs a;
    lm_forward(m, a, seq.data(), 1, (int64_t)seq.size());
    // greedy argmax of each row is the next golden token
    for (size_t t = 0; t < seq.size(); t++) {
        const float* row = a.logits.data() + t * 512;
        int32_t best = (int32_t)(std::max_element(row, row + 512) - row);
        EXPECT_EQ(best, gold[t]) << "position " << t;
    }
    auto gl = golden_logits();
    for (size_t p = 0; p < 5; p++)
        for (size_t j = 0; j < 512; j++) EXPECT_NEAR(a.logits[p * 512 + j], gl[p][j], 1e-4);
    // A batch of two identical sequences gives the same rows within float32 rounding, not bit for bit: the
    // float32 products run in OpenBLAS, whose AVX2 sgemm kernel (the one every Zen 3 / Haswell-class CPU
    // runs; OPENBLAS_CORETYPE=Haswell reproduces it anywhere) sums a row in an order that depends on the
    // row's position inside its register tile, so equal rows at different offsets of one product differ in
    // the last bits (bench/bench_blas_rows shows it on bare sgemm). No BLAS promises more.
    // The bound: 2^-17 of the largest |logit| (about 30 here), i.e. a few float32 ulps after five layers.
    std::vector<int32_t> two = seq;
    two.insert(two.end(), seq.begin(), seq.end());
    LmActs b;
    lm_forward(m, b, two.data(), 2, (int64_t)seq.size());
    const size_t n = seq.size() * 512;
    double worst_diff = 0, largest = 0;
    for (size_t i = 0; i < n; i++) {
        worst_diff = std::max(worst_diff, (double)std::fabs(b.logits[i] - b.logits[n + i]));
        largest = std::max(largest, (double)std::fabs(b.logits[i]));
    }
    printf("batch of two identical sequences: max |row difference| %.3g (largest |logit| %.3g)\n", worst_diff, largest);
    EXPECT_LE(worst_diff, largest * 0x1p-17);
    for (size_t t = 0; t < seq.size(); t++) {  // the same greedy choice in both copies, and the same as alone
        const float *r0 = b.logits.data() + t * 512, *r1 = r0 + n;
        EXPECT_EQ(std::max_element(r0, r0 + 512) - r0, std::max_element(r1, r1 + 512) - r1) << "position " << t;
        EXPECT_EQ(std::max_element(r0, r0 + 512) - r0, gold[t]) << "position " << t;
    }
}

TEST(Stories260K, SamplingIsSeededAndTopK1IsGreedy) {
    LmModel m;
    lm_load(m, kDir + "stories260K.bin");
    GenerateOptions o;
    o.max_new_tokens = 40;
    o.temperature = 1.0f;
    o.seed = 7;
    auto a = lm_generate(m, {1}, o), b = lm_generate(m, {1}, o);
    EXPECT_EQ(a, b);
    o.seed = 8;
    EXPECT_NE(lm_generate(m, {1}, o), a);
    o.top_k = 1;
    auto g = lm_generate(m, {1}, o);
    auto gold = golden_ids();
    EXPECT_EQ(g, std::vector<int32_t>(gold.begin(), gold.begin() + 40));
    // a prompt continues the sequence: prompt = BOS + first 10 golden ids -> next greedy ids are golden 10..
    GenerateOptions gr;
    gr.max_new_tokens = 20;
    std::vector<int32_t> prompt = {1};
    prompt.insert(prompt.end(), gold.begin(), gold.begin() + 10);
    EXPECT_EQ(lm_generate(m, prompt, gr), std::vector<int32_t>(gold.begin() + 10, gold.begin() + 30));
}
