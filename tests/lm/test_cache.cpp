// test_cache.cpp: activation caching into shard folders (io/shards.h) with stories260K.
//   - rows, shard split, columns (token_id, position, sequence) and values equal a direct hooked forward;
//   - an interrupted run (fewer rows, ending inside a window and inside a shard) resumed to the full count
//     gives a folder bit-identical in rows and columns to an uninterrupted run;
//   - f16 storage stays within f16 rounding; attention-pattern hooks and a non-resume write into an existing
//     folder are rejected;
//   - a bf16 model's folder records its dtype, and resuming it at another dtype or hook is refused;
//   - per-head and norm hooks cache as flattened rows (hook_z: NH*hs, hook_result: NH*C, hook_scale: 1).
#include <gtest/gtest.h>

#include <filesystem>

#include <cmath>
#include <sstream>
#include <unistd.h>

#include "../test_util.h"
#include "lm_testing.h"
#include "unfold/io/fileio.h"
#include "unfold/io/shards.h"
#include "unfold/lm/cache.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/model.h"

using namespace unfold;
using unfold_test::error_of;
using namespace unfold::lm_testing;

static const std::string& kDir = kStoriesDir;

static const std::string kTmp = "/tmp/unfold_test_lm_cache_" + std::to_string(getpid());
static struct TmpCleanup {
    ~TmpCleanup() { std::filesystem::remove_all(kTmp); }
} tmp_cleanup;

static std::string tmp(const std::string& name) { return kTmp + "/" + name; }

static LmCacheOptions opts(int64_t rows) {
    LmCacheOptions o;
    o.hook = "blocks.1.mlp.hook_post";
    o.context = 16;
    o.max_rows = rows;
    o.batch = 3;
    o.rows_per_shard = 32;
    o.bos_id = 1;
    o.ctx.quiet = true;
    return o;
}

TEST(Cache, RowsColumnsAndValuesMatchDirectForward) {
    LmModel m;
    lm_load(m, kDir + "stories260K.bin");
    auto ids = golden_ids();
    std::string dir = tmp("direct");
    auto r = lm_cache_activations(m, ids, opts(100), dir);
    EXPECT_EQ(r.rows, 100);
    EXPECT_EQ(r.d, 172);
    ShardReader rd(dir);
    EXPECT_TRUE(rd.index().complete);
    EXPECT_EQ(rd.rows(), 100);
    ASSERT_EQ(rd.num_shards(), 4);  // 32 + 32 + 32 + 4
    EXPECT_EQ(rd.shard_rows(3), 4);
    EXPECT_EQ(rd.index().meta.get_str("hook", ""), "blocks.1.mlp.hook_post");
    // direct: windows of BOS + 15 corpus tokens
    const int64_t T = 16, nwin = 7;
    std::vector<int32_t> win(nwin * T);
    for (int64_t w = 0; w < nwin; w++) {
        win[w * T] = 1;
        for (int64_t t = 1; t < T; t++) win[w * T + t] = ids[w * 15 + t - 1];
    }
    ActivationCache cache;
    HookSet h;
    h.add("blocks.1.mlp.hook_post", hook_cache(cache));
    LmActs a;
    ForwardOptions fo;
    fo.hooks = &h;
    lm_forward(m, a, win.data(), nwin, T, fo);
    const Tensor& ref = cache.at("blocks.1.mlp.hook_post");
    int64_t row = 0;
    for (int64_t s = 0; s < rd.num_shards(); s++) {
        int64_t n = rd.shard_rows(s);
        std::vector<float> x(n * 172);
        rd.read_rows(s, 0, n, x.data());
        auto tok = rd.read_column(s, "token_id"), pos = rd.read_column(s, "position"),
             seq = rd.read_column(s, "sequence");
        for (int64_t i = 0; i < n; i++, row++) {
            EXPECT_EQ(tok[i], win[row]);
            EXPECT_EQ(pos[i], row % T);
            EXPECT_EQ(seq[i], row / T);
            for (int64_t j = 0; j < 172; j++) ASSERT_NEAR(x[i * 172 + j], ref[row * 172 + j], 1e-5);
        }
    }
}

// Per-head and norm hooks are rows too: hook_z [B,T,NH,hs] -> NH*hs per row, hook_k (4 kv heads) -> 32,
// hook_result -> NH*C, hook_scale -> 1; each row equals the hooked forward's activation at that token.
TEST(Cache, PerHeadAndNormHooksFlattenToRows) {
    LmModel m;
    lm_load(m, kDir + "stories260K.bin");
    auto ids = golden_ids();
    const int64_t T = 16, nwin = 2;
    std::vector<int32_t> win(nwin * T);
    for (int64_t w = 0; w < nwin; w++) {
        win[w * T] = 1;
        for (int64_t t = 1; t < T; t++) win[w * T + t] = ids[w * 15 + t - 1];
    }
    const std::pair<const char*, int64_t> hooks[] = {{"blocks.2.attn.hook_z", 64},
                                                     {"blocks.1.attn.hook_k", 32},
                                                     {"blocks.0.attn.hook_result", 512},
                                                     {"blocks.3.ln2.hook_scale", 1},
                                                     {"ln_final.hook_normalized", 64},
                                                     {"blocks.4.hook_q_input", 512}};
    for (const auto& [hook, d] : hooks) {
        LmCacheOptions o = opts(nwin * T);
        o.hook = hook;
        std::string dir = tmp(std::string("ph_") + hook);
        auto r = lm_cache_activations(m, ids, o, dir);
        EXPECT_EQ(r.d, d) << hook;
        ActivationCache cache;
        HookSet h;
        h.add(hook, hook_cache(cache));
        forward_logits(m, win, nwin, &h);
        const Tensor& ref = cache.at(hook);
        ASSERT_EQ(ref.numel(), nwin * T * d) << hook;
        ShardReader rd(dir);
        ASSERT_EQ(rd.rows(), nwin * T);
        std::vector<float> x((size_t)(nwin * T * d));
        rd.read_rows(0, 0, nwin * T, x.data());
        double worst = 0;
        for (int64_t i = 0; i < ref.numel(); i++) worst = std::max(worst, (double)std::fabs(x[(size_t)i] - ref[i]));
        EXPECT_LT(worst, 1e-5) << hook;
    }
    LmCacheOptions o = opts(10);
    o.hook = "blocks.0.attn.hook_attn_scores";
    EXPECT_NE(error_of([&] { lm_cache_activations(m, ids, o, tmp("scores")); }).find("not per-token rows"),
              std::string::npos);
}

TEST(Cache, ResumeEqualsUninterrupted) {
    LmModel m;
    lm_load(m, kDir + "stories260K.bin");
    auto ids = golden_ids();
    std::string full = tmp("full"), part = tmp("part");
    lm_cache_activations(m, ids, opts(150), full);
    lm_cache_activations(m, ids, opts(70), part);  // stops inside window 4 and inside shard 2
    LmCacheOptions o = opts(150);
    o.resume = true;
    auto r = lm_cache_activations(m, ids, o, part);
    EXPECT_EQ(r.new_rows, 80);
    ShardReader a(full), b(part);
    ASSERT_EQ(a.num_shards(), b.num_shards());
    for (int64_t s = 0; s < a.num_shards(); s++) {
        ASSERT_EQ(a.shard_rows(s), b.shard_rows(s));
        int64_t n = a.shard_rows(s);
        std::vector<float> x(n * 172), y(n * 172);
        a.read_rows(s, 0, n, x.data());
        b.read_rows(s, 0, n, y.data());
        EXPECT_EQ(x, y) << "shard " << s;
        for (const char* c : {"token_id", "position", "sequence"}) EXPECT_EQ(a.read_column(s, c), b.read_column(s, c));
    }
    // writing into an existing folder without resume is refused
    EXPECT_THROW(lm_cache_activations(m, ids, opts(10), full), Error);
}

TEST(Cache, F16AndBadHooks) {
    LmModel m;
    lm_load(m, kDir + "stories260K.bin");
    auto ids = golden_ids();
    LmCacheOptions o = opts(40);
    o.hook = "blocks.4.hook_resid_post";
    o.f16 = true;
    std::string d16 = tmp("f16"), d32 = tmp("f32");
    lm_cache_activations(m, ids, o, d16);
    o.f16 = false;
    lm_cache_activations(m, ids, o, d32);
    ShardReader a(d16), b(d32);
    EXPECT_EQ(a.d(), 64);
    std::vector<float> x(32 * 64), y(32 * 64);
    a.read_rows(0, 0, 32, x.data());
    b.read_rows(0, 0, 32, y.data());
    for (size_t i = 0; i < x.size(); i++) ASSERT_NEAR(x[i], y[i], 1e-3 * std::fabs(y[i]) + 1e-4);
    o.hook = "blocks.0.attn.hook_pattern";
    EXPECT_THROW(lm_cache_activations(m, ids, o, tmp("pat")), Error);
    o.hook = "blocks.9.hook_resid_post";
    EXPECT_THROW(lm_cache_activations(m, ids, o, tmp("bad")), Error);
}

TEST(Cache, Bf16RecordedAndResumeKeepsHookAndDtype) {
    LmModel m;
    lm_load(m, kDir + "stories260K.bin");
    auto ids = golden_ids();
    std::string dir = tmp("bf16");
    lm_set_dtype(m, LmDtype::BF16);
    lm_cache_activations(m, ids, opts(40), dir);
    ShardReader rd(dir);
    EXPECT_EQ(rd.index().meta.find("dtype")->str, "bf16");
    // forwards of 3 windows x 16 tokens = 48 rows: bf16 products at avx512-bf16 (the rows close to fp32's,
    // not equal), the fp32 products at the other levels (fp32's rows exactly; lm_uses_bf16)
    const bool bf16_products = lm_uses_bf16(m, 3 * 16);
    EXPECT_EQ(bf16_products, kernel_level() == KernelLevel::AVX512_BF16);
    lm_set_dtype(m, LmDtype::FP32);
    lm_cache_activations(m, ids, opts(40), tmp("fp32ref"));
    ShardReader ref(tmp("fp32ref"));
    std::vector<float> x(32 * 172), y(32 * 172);
    rd.read_rows(0, 0, 32, x.data());
    ref.read_rows(0, 0, 32, y.data());
    const double rel = unfold_test::rel_frobenius(x, y);
    if (bf16_products) {
        EXPECT_LT(rel, 2e-2);
        EXPECT_GT(rel, 1e-5);
    } else {
        EXPECT_EQ(x, y);
    }
    // resuming the bf16 folder in fp32, or with another hook of the same width, is refused with the reason
    LmCacheOptions o = opts(80);
    o.resume = true;
    std::string e = error_of([&] { lm_cache_activations(m, ids, o, dir); });
    EXPECT_NE(e.find("meta.dtype is 'bf16', this run has 'fp32'"), std::string::npos) << e;
    lm_set_dtype(m, LmDtype::BF16);
    o.hook = "blocks.2.mlp.hook_post";
    e = error_of([&] { lm_cache_activations(m, ids, o, dir); });
    EXPECT_NE(e.find("meta.hook is 'blocks.1.mlp.hook_post'"), std::string::npos) << e;
    o.hook = "blocks.1.mlp.hook_post";
    EXPECT_EQ(lm_cache_activations(m, ids, o, dir).new_rows, 40);
}
