// test_lm_train.cpp: training loop checks on tiny models and synthetic token streams.
//   - a tiny GPT-2 learns a deterministic periodic sequence: validation loss falls far below the unigram
//     entropy of the stream (2.37 nats) to < 0.3;
//   - a tiny Llama learns too (loss halves);
//   - an interrupted run resumed from its checkpoint ends bit-identical to an uninterrupted run;
//   - the saved HF-layout model reloads to the same parameters;
//   - unigram entropy of a known distribution.
#include <gtest/gtest.h>

#include <filesystem>

#include <cmath>
#include <cstdio>
#include <unistd.h>

#include "unfold/core/context.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/lm_train.h"

using namespace unfold;

static std::vector<int32_t> periodic(int64_t n) {  // period-12 pattern over 12 symbols with some repeats
    const int32_t pat[12] = {0, 3, 5, 1, 7, 3, 9, 11, 2, 4, 8, 6};
    std::vector<int32_t> v((size_t)n);
    for (int64_t i = 0; i < n; i++) v[(size_t)i] = pat[i % 12];
    return v;
}

static const std::string kTmp = "/tmp/unfold_test_lm_train_" + std::to_string(getpid());
static struct TmpCleanup {
    ~TmpCleanup() { std::filesystem::remove_all(kTmp); }
} tmp_cleanup;

static std::string tmpdir(const std::string& name) {
    std::string d = kTmp + "/" + name;
    make_dirs(d);
    return d;
}

static LmConfig tiny(LmArch arch) {
    LmConfig c;
    c.arch = arch;
    c.vocab = 12;
    c.d_model = 32;
    c.n_layers = 1;
    c.n_heads = 4;
    c.n_kv_heads = arch == LmArch::LLAMA ? 2 : 4;
    c.d_mlp = 64;
    c.n_ctx = 32;
    c.tied = arch == LmArch::GPT2;
    return c;
}

// Training settings of the two learning tests (windows of 24 over the periodic data).
static LmTrainConfig periodic_train_config(int64_t steps) {
    LmTrainConfig tc;
    tc.steps = steps;
    tc.batch = 8;
    tc.context = 24;
    tc.lr = 3e-3f;
    tc.warmup = 10;
    tc.eval_every = 0;
    tc.eval_windows = 16;
    tc.ctx.quiet = true;
    return tc;
}

TEST(LmTrain, Gpt2LearnsPeriodicSequence) {
    set_num_threads(1);  // tiny matrices: one thread is fastest (and the ResumeIsBitIdentical test uses more)
    LmModel m;
    lm_build(m, tiny(LmArch::GPT2));
    lm_init_random(m, 1);
    auto data = periodic(4000);
    std::vector<int32_t> train(data.begin(), data.begin() + 3600), val(data.begin() + 3600, data.end());
    LmTrainConfig tc = periodic_train_config(150);
    double before = lm_eval_loss(m, val, 24, 16, 8);
    auto r = lm_train(m, train, val, tc, tmpdir("gpt2"), false);
    double h = unigram_entropy(train, 12);
    printf("gpt2 tiny: val loss %.4f -> %.4f (unigram entropy %.4f), %.0f tok/s\n", before, r.val_loss, h,
           r.tokens_per_s);
    EXPECT_GT(before, 2.0);
    EXPECT_LT(r.val_loss, 0.3);
    EXPECT_LT(r.val_loss, h / 5);
}

TEST(LmTrain, LlamaLearns) {
    set_num_threads(1);
    LmModel m;
    lm_build(m, tiny(LmArch::LLAMA));
    lm_init_random(m, 2);
    auto data = periodic(4000);
    std::vector<int32_t> train(data.begin(), data.begin() + 3600), val(data.begin() + 3600, data.end());
    LmTrainConfig tc = periodic_train_config(100);
    double before = lm_eval_loss(m, val, 24, 16, 8);
    auto r = lm_train(m, train, val, tc, tmpdir("llama"), false);
    printf("llama tiny: val loss %.4f -> %.4f\n", before, r.val_loss);
    EXPECT_LT(r.val_loss, before / 2);
}

TEST(LmTrain, ResumeIsBitIdentical) {
    set_num_threads(2);
    auto data = periodic(3000);
    for (LmArch arch : {LmArch::GPT2, LmArch::LLAMA}) {
        LmTrainConfig tc;
        tc.steps = 16;
        tc.batch = 4;
        tc.context = 16;
        tc.warmup = 4;
        tc.eval_every = 8;
        tc.eval_windows = 4;
        tc.ckpt_every = 100;
        tc.ctx.quiet = true;
        tc.seed = 5;
        LmModel full;
        lm_build(full, tiny(arch));
        lm_init_random(full, 3);
        auto rf = lm_train(full, data, data, tc, tmpdir("full"), false);
        LmModel part;
        lm_build(part, tiny(arch));
        lm_init_random(part, 3);
        std::string d = tmpdir(std::string("part_") + arch_name(arch));
        LmTrainConfig t1 = tc;
        t1.stop_after = 7;
        auto r1 = lm_train(part, data, data, t1, d, false);
        EXPECT_EQ(r1.steps_done, 7);
        LmModel resumed;
        lm_build(resumed, tiny(arch));  // fresh weights, all state comes from the checkpoint
        auto r2 = lm_train(resumed, data, data, tc, d, true);
        EXPECT_EQ(r2.steps_done, 16);
        EXPECT_EQ(resumed.params.data, full.params.data) << arch_name(arch);
        EXPECT_EQ(r2.val_loss, rf.val_loss);
        // the saved model reloads to the same parameters
        LmModel re;
        lm_load(re, d);
        EXPECT_EQ(re.params.data, full.params.data);
        EXPECT_TRUE(file_exists(path_join(d, "metrics.jsonl")));
    }
}

TEST(LmTrain, UnigramEntropy) {
    std::vector<int32_t> t = {0, 0, 1, 1, 2, 2, 3, 3};
    EXPECT_NEAR(unigram_entropy(t, 5), std::log(4.0), 1e-12);
    std::vector<int32_t> u = {0, 0, 0, 1};
    EXPECT_NEAR(unigram_entropy(u, 2), -(0.75 * std::log(0.75) + 0.25 * std::log(0.25)), 1e-12);
}

TEST(LmTrain, TrainConfigJsonKeepsSixtyFourBitSeeds) {
    // train_config.json holds the seed as a JSON integer, exact to 64 bits (2^53 + 1 and 2^64 - 59 are
    // each one away from a neighbour with the same double)
    for (uint64_t seed : {18446744073709551557ull, (1ull << 53) + 1, (1ull << 53)}) {
        LmTrainConfig tc;
        tc.seed = seed;
        const std::string text = tc.to_json().dump(2);
        EXPECT_NE(text.find("\"seed\": " + std::to_string(seed)), std::string::npos) << text;
        const Json j = json_parse(text, "train_config.json");
        EXPECT_TRUE(j.at("seed", "train_config.json").is_integer());
        EXPECT_EQ(j.at("seed", "train_config.json").as_u64("train_config.json: seed"), seed);
    }
}
