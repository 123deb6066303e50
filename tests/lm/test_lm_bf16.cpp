// test_lm_bf16.cpp: bf16 inference (lm_set_dtype). Where the bf16 product pays off (lm_uses_bf16: every
// forward at avx512-bf16, forwards of up to 16 rows at the other levels) the products run on bf16 copies of
// the weights, so logits move by about the bf16 rounding of weights and activations; these tests bound that
// movement on the real stories260K model (golden logits, greedy text, a decode step after a long prompt) and
// on the tiny GPT-2 / Llama fixtures. Where it does not (more than 16 rows without AVX512-BF16) the forward
// runs the fp32 products, and the tests ask for fp32's logits bit for bit. They also check what must not move
// at all: fp32 after switching back, thread counts, batch splits, hooks, and that training refuses bf16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../test_util.h"
#include "lm_testing.h"
#include "unfold/core/context.h"
#include "unfold/core/error.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/hooks.h"
#include "unfold/lm/model.h"

using namespace unfold;
using unfold_test::error_of;
using unfold_test::rel_frobenius;
using namespace unfold::lm_testing;

static const std::string kGpt2 = kGpt2Tiny, kLlama = kLlamaTiny;

TEST(LmBf16, Stories260KGoldenLogitsAndGreedyText) {
    // every level this CPU runs: generation is token by token (one row per product: the avx2 kernel at the
    // avx2 level), the prompt too
    for (KernelLevel level : {KernelLevel::PORTABLE, KernelLevel::AVX2, KernelLevel::AVX512_BF16}) {
        if (!kernel_level_supported(level)) continue;
        LmModel m;
        lm_load(m, kStories);
        lm_set_dtype(m, LmDtype::BF16, level);
        EXPECT_EQ(lm_dtype(m), LmDtype::BF16);
        EXPECT_TRUE(lm_uses_bf16(m, 1)) << kernel_level_name(level);
        GenerateOptions o;
        o.max_new_tokens = 200;
        std::vector<std::vector<float>> logits;
        auto ids = lm_generate(m, {1}, o, nullptr, &logits);
        auto gold = golden_ids();
        ASSERT_EQ(gold.size(), 200u);
        size_t same = 0;
        while (same < gold.size() && ids[same] == gold[same]) same++;
        auto gl = golden_logits();
        ASSERT_EQ(gl.size(), 5u);
        double worst = 0, spread = 0;
        for (size_t p = 0; p < 5; p++) {
            const auto [lo, hi] = std::minmax_element(gl[p].begin(), gl[p].end());
            spread = std::max(spread, *hi - *lo);
            for (size_t j = 0; j < gl[p].size(); j++) worst = std::max(worst, std::fabs(gl[p][j] - logits[p][j]));
        }
        printf("stories260K bf16 (level %s, %s path): first %zu of 200 greedy ids equal the fp32 golden; max |logit - "
               "golden| (pos 0-4) = %.4f of a logit range %.1f\n",
               kernel_level_name(level), gemm_bf16_path(1, level), same, worst, spread);
        EXPECT_LT(worst, 0.3);   // ~1% of the logit range
        EXPECT_GT(worst, 1e-4);  // bf16, not the fp32 path
        EXPECT_GE(same, 100u);   // measured: the first 185 at every level on this machine
    }
}

TEST(LmBf16, UsesBf16ByLevelAndRows) {
    LmModel m;
    lm_load(m, kGpt2);
    EXPECT_FALSE(lm_uses_bf16(m, 1));  // fp32 model
    for (KernelLevel level : {KernelLevel::PORTABLE, KernelLevel::AVX2, KernelLevel::AVX512, KernelLevel::AVX512_BF16}) {
        if (!kernel_level_supported(level)) continue;
        lm_set_dtype(m, LmDtype::BF16, level);
        const bool bf16_hw = level == KernelLevel::AVX512_BF16;
        for (int64_t rows : {int64_t(1), int64_t(4), kGemmBf16SmallRows, kGemmBf16SmallRows + 1, int64_t(64),
                             int64_t(512)}) {
            EXPECT_EQ(lm_uses_bf16(m, rows), bf16_hw || rows <= 16) << kernel_level_name(level) << " " << rows;
            EXPECT_EQ(gemm_bf16_pays_off(rows, level), lm_uses_bf16(m, rows));
            // where the model would take gemm_bf16's widen-to-sgemm path it runs fp32 instead
            if (std::string(gemm_bf16_path(rows, level)) == "sgemm") EXPECT_FALSE(lm_uses_bf16(m, rows));
        }
    }
}

TEST(LmBf16, TinyFixturesBatchesFp32ExactlyWithoutBf16HardwareRowsCloseAndExactBackOnFp32) {
    for (const std::string& path : {kGpt2, kLlama})
    for (KernelLevel level : {KernelLevel::PORTABLE, KernelLevel::AVX2, KernelLevel::AVX512_BF16}) {
        if (!kernel_level_supported(level)) continue;
        LmModel m;
        lm_load(m, path);
        auto ids = some_ids(3 * 12, m.cfg.vocab);  // 36 rows
        std::vector<int32_t> seq(ids.begin(), ids.begin() + 12);  // 12 rows
        auto fp32 = forward_logits(m, ids, 3);
        auto fp32_seq = forward_logits(m, seq, 1);
        lm_set_dtype(m, LmDtype::BF16, level);
        auto bf = forward_logits(m, ids, 3);
        auto bf_seq = forward_logits(m, seq, 1);
        const double rel = rel_frobenius(bf, fp32), rel_seq = rel_frobenius(bf_seq, fp32_seq);
        printf("%s (level %s): bf16 logits vs fp32, relative Frobenius: 36 rows %.3g (%s), 12 rows %.3g (bf16)\n",
               path.c_str(), kernel_level_name(level), rel, lm_uses_bf16(m, 36) ? "bf16" : "fp32 products", rel_seq);
        if (level == KernelLevel::AVX512_BF16) {
            EXPECT_TRUE(lm_uses_bf16(m, 36));
            EXPECT_LT(rel, 2e-2) << path;
            EXPECT_GT(rel, 1e-5) << path;
        } else {
            // more than 16 rows without AVX512-BF16: the fp32 products on the fp32 weights, fp32's bits
            EXPECT_FALSE(lm_uses_bf16(m, 36));
            EXPECT_EQ(bf, fp32) << path << " " << kernel_level_name(level);
        }
        // up to 16 rows: the bf16 kernel at every level
        EXPECT_TRUE(lm_uses_bf16(m, 12));
        EXPECT_LT(rel_seq, 2e-2) << path;
        EXPECT_GT(rel_seq, 1e-5) << path;
        lm_set_dtype(m, LmDtype::FP32);
        EXPECT_EQ(forward_logits(m, ids, 3), fp32) << path << ": fp32 after bf16 must be the fp32 result exactly";
        EXPECT_EQ(forward_logits(m, seq, 1), fp32_seq) << path;
    }
}

TEST(LmBf16, Stories260KLongPromptThenDecodeStep) {
    // generation after a 32-token prompt: the prompt is one forward of 32 rows (fp32 products without
    // AVX512-BF16: the KV cache and the prompt's logits are fp32's bit for bit), each new token one row (the
    // bf16 kernel: logits within bf16 rounding of fp32's)
    auto gold = golden_ids();
    std::vector<int32_t> prompt{1};
    prompt.insert(prompt.end(), gold.begin(), gold.begin() + 31);  // BOS + 31 = 32 tokens
    const int32_t next = gold[31];
    LmModel m32;
    lm_load(m32, kStories);
    // pre: the prompt's logits, kv: the cache after the prompt (k then v), step: the decode step's logits
    auto run = [&](const LmModel& m, std::vector<float>& pre, std::vector<float>& kv, std::vector<float>& step) {
        KvCache cache;
        cache.init(m.cfg, 64);
        LmActs a;
        ForwardOptions o;
        o.cache = &cache;
        lm_forward(m, a, prompt.data(), 1, (int64_t)prompt.size(), o);
        pre = a.logits.vec();
        kv = cache.k;
        kv.insert(kv.end(), cache.v.begin(), cache.v.end());
        lm_forward(m, a, &next, 1, 1, o);
        step = a.logits.vec();
    };
    std::vector<float> pre32, kv32, step32;
    run(m32, pre32, kv32, step32);
    auto argmax = [](const std::vector<float>& v) { return (int32_t)(std::max_element(v.begin(), v.end()) - v.begin()); };
    ASSERT_EQ(argmax(step32), gold[32]);
    for (KernelLevel level : {KernelLevel::PORTABLE, KernelLevel::AVX2, KernelLevel::AVX512_BF16}) {
        if (!kernel_level_supported(level)) continue;
        LmModel m;
        lm_load(m, kStories);
        lm_set_dtype(m, LmDtype::BF16, level);
        std::vector<float> pre, kv, step;
        run(m, pre, kv, step);
        double worst_pre = 0, worst = 0;
        for (size_t j = 0; j < pre.size(); j++) worst_pre = std::max(worst_pre, (double)std::fabs(pre[j] - pre32[j]));
        for (size_t j = 0; j < step.size(); j++) worst = std::max(worst, (double)std::fabs(step[j] - step32[j]));
        printf("stories260K bf16 (level %s): 32-token prompt max |logit - fp32| %.4g (%s), decode step %.4g (bf16)\n",
               kernel_level_name(level), worst_pre, lm_uses_bf16(m, 32) ? "bf16" : "fp32 products", worst);
        if (level == KernelLevel::AVX512_BF16) {
            EXPECT_GT(worst_pre, 1e-4);
            EXPECT_LT(worst_pre, 0.3);
        } else {
            EXPECT_EQ(pre, pre32) << kernel_level_name(level);
            EXPECT_TRUE(kv == kv32) << kernel_level_name(level) << ": the prompt's KV cache is fp32's";
        }
        EXPECT_GT(worst, 1e-4) << kernel_level_name(level);  // the step ran bf16, not the fp32 products
        EXPECT_LT(worst, 0.3) << kernel_level_name(level);   // ~1% of the logit range, as at positions 0-4
        EXPECT_EQ(argmax(step), gold[32]) << kernel_level_name(level);
    }
}

TEST(LmBf16, SameAcrossThreadCountsAndBatchSplits) {
    // up to 16 rows every level runs a bf16 kernel (each row on its own, in k order): bit for bit across
    // thread counts and batch splits. 48 rows: avx512-bf16 still its kernel (bit for bit); the other levels
    // run the fp32 products, which are OpenBLAS's (exact for a thread count, within float32 rounding across
    // them), so a row's logits then depend on whether its forward had more than 16 rows
    for (KernelLevel level : {KernelLevel::PORTABLE, KernelLevel::AVX2, KernelLevel::AVX512_BF16}) {
        if (!kernel_level_supported(level)) continue;
        LmModel m;
        lm_load(m, kGpt2);
        auto ids = some_ids(4 * 12, m.cfg.vocab);
        int before = get_num_threads();
        set_num_threads(2);
        auto fp32 = forward_logits(m, ids, 4);
        lm_set_dtype(m, LmDtype::BF16, level);
        std::vector<int32_t> small(ids.begin(), ids.begin() + 16);  // 4 x 4 = 16 rows
        std::vector<int32_t> first(ids.begin(), ids.begin() + 12);  // ids' first sequence, 12 rows
        set_num_threads(1);
        auto one = forward_logits(m, ids, 4);
        auto small_one = forward_logits(m, small, 4);
        set_num_threads(2);
        auto two = forward_logits(m, ids, 4);
        auto small_two = forward_logits(m, small, 4);
        auto alone = forward_logits(m, first, 1);
        auto small_alone = forward_logits(m, std::vector<int32_t>(small.begin(), small.begin() + 4), 1);
        set_num_threads(before);
        EXPECT_EQ(small_one, small_two) << kernel_level_name(level);
        EXPECT_EQ(small_alone, std::vector<float>(small_one.begin(), small_one.begin() + (std::ptrdiff_t)small_alone.size()))
            << kernel_level_name(level);
        std::vector<float> head(one.begin(), one.begin() + (std::ptrdiff_t)alone.size());
        if (lm_uses_bf16(m, 48)) {
            EXPECT_EQ(one, two) << kernel_level_name(level);
            EXPECT_EQ(alone, head) << kernel_level_name(level);
        } else {
            EXPECT_LT(rel_frobenius(one, two), 1e-5) << kernel_level_name(level);
            EXPECT_EQ(two, fp32) << kernel_level_name(level);  // fp32's products, fp32's thread count
            const double rel = rel_frobenius(alone, head);  // bf16 alone, fp32 in the batch
            EXPECT_LT(rel, 2e-2) << kernel_level_name(level);
            EXPECT_GT(rel, 1e-5) << kernel_level_name(level);
        }
    }
}

TEST(LmBf16, HooksStillExact) {
    LmModel m;
    lm_load(m, kLlama);
    lm_set_dtype(m, LmDtype::BF16);
    auto ids = some_ids(2 * 8, m.cfg.vocab);
    auto base = forward_logits(m, ids, 2);
    const std::string name = "blocks.0.mlp.hook_post";
    ActivationCache cache;
    HookSet c;
    c.add(name, hook_cache(cache));
    forward_logits(m, ids, 2, &c);
    HookSet rep;
    rep.add(name, hook_replace(cache.at(name)));
    EXPECT_EQ(forward_logits(m, ids, 2, &rep), base);
    HookSet add;
    add.add(name, hook_add_vector(std::vector<float>((size_t)m.cfg.d_mlp, 0.5f)));
    EXPECT_NE(forward_logits(m, ids, 2, &add), base);
}

TEST(LmBf16, TrainingRefusesBf16AndDtypeNamesParse) {
    LmModel m;
    lm_load(m, kGpt2);
    auto ids = some_ids(8, m.cfg.vocab);
    lm_set_dtype(m, LmDtype::BF16);
    LmActs a;
    lm_forward(m, a, ids.data(), 1, 8);
    lm_loss(a, m.cfg, ids.data());
    const std::string e = error_of([&] { lm_backward(m, a, ids.data(), ids.data()); });
    EXPECT_NE(e.find("bf16"), std::string::npos) << e;
    EXPECT_EQ(parse_lm_dtype("bf16", "x"), LmDtype::BF16);
    EXPECT_EQ(parse_lm_dtype("fp32", "x"), LmDtype::FP32);
    EXPECT_EQ(error_of([] { parse_lm_dtype("fp16", "--dtype"); }), "--dtype: dtype 'fp16' is not one of fp32, bf16");
}
