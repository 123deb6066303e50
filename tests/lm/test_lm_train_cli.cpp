// test_lm_train_cli.cpp: the `unfold lm` commands end to end through the built binary (skipped when the
// binary is not built): stories260K generation is byte-identical to the golden text; train -> resume ->
// generate -> eval -> cache on a small corpus; corrupt model files give one "unfold: error:" line, exit 1.
#include <gtest/gtest.h>

#include <filesystem>

#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/shards.h"

using namespace unfold;

static const std::string kBin = UNFOLD_BINARY;
static const std::string kStories = std::string(UNFOLD_SOURCE_DIR) + "/models/stories260K/";

// Runs a shell command; returns exit status, stdout in *out (stderr folded in when merge_err).
static int sh(const std::string& cmd, std::string* out, bool merge_err = false) {
    return unfold_test::run_shell(cmd, out, merge_err);
}

static struct TmpCleanup {
    ~TmpCleanup() {
        std::filesystem::remove_all("/tmp/unfold_test_lm_cli_" + std::to_string(getpid()));
        std::filesystem::remove_all("/tmp/unfold_test_lm_cli_bad_" + std::to_string(getpid()));
    }
} tmp_cleanup;

#define NEED_BINARY() \
    ASSERT_TRUE(file_exists(kBin)) << "the unfold binary is missing: " << kBin

TEST(LmCli, StoriesGenerateIsByteIdentical) {
    NEED_BINARY();
    std::string out;
    ASSERT_EQ(sh(kBin + " lm generate --model " + kStories + "stories260K.bin --tokenizer " + kStories +
                     "tok512.bin --steps 200 --threads 1",
                 &out),
              0);
    EXPECT_EQ(out, read_file(kStories + "golden_greedy_text.txt"));
}

TEST(LmCli, Bf16GenerateKeepsTheGoldenStartAndBadDtypeIsRefused) {
    NEED_BINARY();
    std::string out;
    const std::string gen = kBin + " lm generate --model " + kStories + "stories260K.bin --tokenizer " + kStories +
                            "tok512.bin --steps 60 --threads 1";
    ASSERT_EQ(sh(gen + " --dtype bf16", &out), 0);
    // the first 185 greedy tokens of bf16 equal fp32's (test_lm_bf16), so 60 steps print the golden prefix
    std::string golden = read_file(kStories + "golden_greedy_text.txt");
    ASSERT_GT(out.size(), 100u);
    EXPECT_EQ(out.substr(0, out.size() - 1), golden.substr(0, out.size() - 1));
    ASSERT_EQ(sh(gen + " --dtype fp16", &out, true), 1);
    EXPECT_EQ(out, "unfold: error: --dtype: dtype 'fp16' is not one of fp32, bf16\n");
}

TEST(LmCli, TrainResumeGenerateEvalCache) {
    NEED_BINARY();
    std::string dir = "/tmp/unfold_test_lm_cli_" + std::to_string(getpid());
    make_dirs(dir);
    std::string text;
    const char* lines[] = {"In the beginning God created the heaven and the earth.\n",
                           "And the earth was without form, and void.\n", "And God said, Let there be light.\n",
                           "And there was light, and it was good.\n"};
    for (int i = 0; i < 400; i++) text += lines[(i * 7) % 4];
    write_file_atomic(dir + "/c.txt", text);
    std::string common = " --corpus " + dir + "/c.txt --out " + dir + "/m --bpe-vocab 300 --d-model 32 --layers 1 "
                         "--heads 2 --d-mlp 64 --context 32 --batch 8 --lr 1e-2 --warmup 5 --eval-every 20 "
                         "--eval-windows 8 --samples 1 --threads 1 --quiet --steps 120";
    std::string out;
    ASSERT_EQ(sh(kBin + " lm train" + common + " --stop-after 50", &out, true), 0) << out;
    ASSERT_EQ(sh(kBin + " lm train" + common + " --resume", &out, true), 0) << out;
    EXPECT_NE(out.find("--- sample 1 ---"), std::string::npos) << out;
    Json s = json_load(dir + "/m/summary.json");
    EXPECT_EQ(s.at("steps", "summary").as_int("steps"), 120);
    double val = s.at("val_loss", "summary").as_num("val"), h = s.at("val_unigram_entropy", "summary").as_num("h");
    EXPECT_LT(val, h / 2) << "a repetitive corpus must be learned far below its unigram entropy";
    for (const char* f : {"model.safetensors", "config.json", "train_state.safetensors", "metrics.jsonl",
                          "tokenizer/vocab.json", "tokenizer/merges.txt", "samples.txt"})
        EXPECT_TRUE(file_exists(dir + "/m/" + f)) << f;
    ASSERT_EQ(sh(kBin + " lm generate --model " + dir + "/m --prompt \"And God\" --steps 10 --threads 1", &out), 0);
    EXPECT_EQ(out.rfind("And God", 0), 0u) << out;
    ASSERT_EQ(sh(kBin + " lm eval --model " + dir + "/m --corpus " + dir + "/c.txt --context 32 --windows 8 "
                         "--threads 1 --quiet",
                 &out),
              0);
    EXPECT_NE(out.find("unigram entropy"), std::string::npos);
    ASSERT_EQ(sh(kBin + " lm cache --model " + dir + "/m --corpus " + dir + "/c.txt --hook blocks.0.mlp.hook_post "
                         "--tokens 500 --context 32 --rows-per-shard 128 --out " + dir + "/acts --threads 1 --quiet",
                 &out, true),
              0)
        << out;
    ShardReader rd(dir + "/acts");
    EXPECT_EQ(rd.rows(), 500);
    EXPECT_EQ(rd.d(), 64);
    EXPECT_EQ(rd.num_shards(), 4);
}

TEST(LmCli, EveryKernelLevelCachesTheSameBytes) {
    // the layers' portable and AVX2 copies (src/core/isa.h) give the same activations, bit for bit
    NEED_BINARY();
    std::string dir = "/tmp/unfold_test_lm_cli_levels_" + std::to_string(getpid());
    make_dirs(dir);
    std::string text;
    for (int i = 0; i < 40; i++) text += "Once upon a time there was a little girl who liked to play in the sun.\n";
    write_file_atomic(dir + "/c.txt", text);
    std::string out;
    for (const char* level : {"portable", "auto"}) {
        ASSERT_EQ(sh(std::string("UNFOLD_KERNELS=") + level + " " + kBin + " lm cache --model " + kStories +
                         "stories260K.bin --tokenizer " + kStories + "tok512.bin --hook blocks.4.hook_resid_post "
                         "--corpus " + dir + "/c.txt --tokens 400 --context 64 --out " + dir + "/acts_" + level +
                         " --threads 2 --quiet",
                     &out, true),
                  0)
            << out;
    }
    ShardReader p(dir + "/acts_portable"), a(dir + "/acts_auto");
    ASSERT_EQ(p.num_shards(), a.num_shards());
    ASSERT_GT(p.num_shards(), 0);
    for (int64_t s = 0; s < p.num_shards(); s++) {
        const std::string f = p.index().shards[(size_t)s].file;
        EXPECT_EQ(read_file(dir + "/acts_portable/" + f), read_file(dir + "/acts_auto/" + f)) << f;
    }
}

TEST(LmCli, BadModelIsOneErrorLine) {
    NEED_BINARY();
    std::string dir = "/tmp/unfold_test_lm_cli_bad_" + std::to_string(getpid());
    make_dirs(dir);
    write_file_atomic(dir + "/bad.bin", std::string(100, 'x'));
    std::string out;
    EXPECT_EQ(sh(kBin + " lm generate --model " + dir + "/bad.bin --tokenizer " + kStories + "tok512.bin", &out, true),
              1);
    EXPECT_EQ(out.rfind("unfold: error: " + dir + "/bad.bin: ", 0), 0u) << out;
    EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
    EXPECT_EQ(sh(kBin + " lm cache --model " + kStories + "stories260K.bin --tokenizer " + kStories +
                     "tok512.bin --hook blocks.7.hook_resid_post --corpus " + dir + "/bad.bin --out " + dir + "/a",
                 &out, true),
              1);
    EXPECT_NE(out.find("unknown hook 'blocks.7.hook_resid_post'"), std::string::npos) << out;
}
