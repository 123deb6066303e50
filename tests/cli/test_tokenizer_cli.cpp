// test_tokenizer_cli.cpp: the corpus / bpe / tokenize commands called in-process (the `unfold` binary
// dispatches `unfold lm bpe|tokenize|corpus` to these functions).
#include <gtest/gtest.h>

#include "cli_tokenizer.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/tokenizer.h"

using namespace unfold;

namespace {
int run(int (*cmd)(int, char**), std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    return cmd((int)argv.size(), argv.data());
}
}  // namespace

TEST(TokenizerCli, BpeThenTokenize) {
    std::string d = testing::TempDir() + "/lmtok_cli";
    make_dirs(d);
    std::string text;
    for (int i = 0; i < 300; i++) text += "In the beginning God created the heaven and the earth.\n";
    write_file_atomic(d + "/c.txt", text);
    testing::internal::CaptureStdout();
    EXPECT_EQ(run(cmd_lm_bpe, {"--corpus", d + "/c.txt", "--vocab", "300", "--out", d + "/bpe", "--quiet"}), 0);
    std::string out = testing::internal::GetCapturedStdout();
    EXPECT_NE(out.find("vocab.json"), std::string::npos) << out;
    auto tok = load_tokenizer(d + "/bpe");
    EXPECT_LE(tok->vocab_size(), 300);
    EXPECT_EQ(tok->encode(" heaven").size(), 1u);
    testing::internal::CaptureStdout();
    EXPECT_EQ(run(cmd_lm_tokenize, {"--tokenizer", d + "/bpe", "--text", " the earth", "--corpus", d + "/c.txt"}), 0);
    out = testing::internal::GetCapturedStdout();
    EXPECT_NE(out.find("' earth'"), std::string::npos) << out;
    EXPECT_NE(out.find("unigram entropy"), std::string::npos) << out;
    EXPECT_NE(out.find("2 tokens"), std::string::npos) << out;
}
