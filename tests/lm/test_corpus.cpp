// test_corpus.cpp: corpus utilities - parallel tokenising equals plain encode, the token cache, the
// deterministic split, unigram entropies against hand values, the batch sampler, and the KJV / GCIDE
// readers (skipped where the packages are missing).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "lm/tokenizer_unicode.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/bpe_train.h"
#include "unfold/lm/corpus.h"

using namespace unfold;

namespace {

std::string synthetic_text(size_t bytes, uint32_t seed) {
    std::mt19937 rng(seed);
    const char* words[] = {"the", "king", "said", "unto", "them", "and", "it", "was", "so", "LORD", "1:2", "caf\xC3\xA9",
                           "don't", "they're", "\xE4\xB8\xAD\xE6\x96\x87", "!!", "\"quoted\"", "x<|endoftext|>y"};
    const char* seps[] = {" ", " ", " ", " ", "  ", "\n", "\n\n", " \n", "\t", ".\n", ",\n  ", "\n\n\n"};
    std::string t;
    while (t.size() < bytes) {
        t += words[rng() % 18];
        t += seps[rng() % 12];
    }
    return t;
}

std::string tmpdir() {
    std::string d = testing::TempDir() + "/lmtok_corpus";
    make_dirs(d);
    return d;
}

}  // namespace

TEST(Corpus, ParallelTokenizeEqualsEncode) {
    BpeTrainConfig cfg;
    cfg.vocab_size = 400;
    cfg.ctx.quiet = true;
    std::string text = synthetic_text(3u << 20, 1);  // > 1 MiB: the parallel path
    BpeModel m = bpe_train(text.substr(0, 200000), cfg);
    BpeTokenizer tok(m, "test");
    std::vector<int32_t> par = corpus_tokenize(tok, text);
    std::vector<int32_t> ref = tok.encode(text);
    ASSERT_EQ(par.size(), ref.size());
    EXPECT_TRUE(par == ref);
    EXPECT_EQ(tok.decode(par), text);
}

TEST(Corpus, TokenCache) {
    BpeTrainConfig cfg;
    cfg.vocab_size = 300;
    cfg.ctx.quiet = true;
    std::string text = synthetic_text(50000, 2);
    BpeTokenizer tok(bpe_train(text, cfg), "test");
    std::string path = tmpdir() + "/cache_text.txt";
    write_file_atomic(path, text);
    std::string cpath = corpus_cache_path(path, text, tok);
    if (file_exists(cpath)) std::remove(cpath.c_str());
    auto a = corpus_load_tokens(path, tok);
    ASSERT_TRUE(file_exists(cpath));
    EXPECT_EQ(a, tok.encode(text));
    auto b = corpus_load_tokens(path, tok);  // from the cache
    EXPECT_EQ(a, b);
    write_file_atomic(cpath, std::string("\x93NUMPY garbage"));  // corrupt cache -> rebuilt
    EXPECT_EQ(corpus_load_tokens(path, tok), a);
    EXPECT_GT(file_size(cpath), 4 * a.size());
    // another text or another tokenizer gets another cache file
    EXPECT_NE(corpus_cache_path(path, text + "x", tok), cpath);
    cfg.vocab_size = 301;
    BpeTokenizer tok2(bpe_train(text, cfg), "test");
    EXPECT_NE(corpus_cache_path(path, text, tok2), cpath);
    EXPECT_EQ(corpus_load_tokens(path, tok2, false), tok2.encode(text));
}

TEST(Corpus, ReadTextRejectsBadFiles) {
    std::string d = tmpdir();
    write_file_atomic(d + "/empty.txt", "");
    write_file_atomic(d + "/nul.txt", std::string("ab\0cd", 5));
    try {
        corpus_read_text(d + "/nul.txt");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("nul.txt: NUL byte at offset 2"), std::string::npos) << e.what();
    }
    EXPECT_THROW(corpus_read_text(d + "/empty.txt"), Error);
    EXPECT_THROW(corpus_read_text(d + "/missing.txt"), Error);
}

TEST(Corpus, Split) {
    std::vector<int32_t> t(1000);
    std::iota(t.begin(), t.end(), 0);
    TokenSplit s = corpus_split(t, 0.1);
    ASSERT_EQ(s.train.size(), 900u);
    ASSERT_EQ(s.val.size(), 100u);
    EXPECT_EQ(s.train.back(), 899);
    EXPECT_EQ(s.val.front(), 900);
    EXPECT_EQ(corpus_split(t, 0.05).val.size(), 50u);
    EXPECT_THROW(corpus_split(t, 0.0), Error);
    EXPECT_THROW(corpus_split(t, 1.0), Error);
    EXPECT_THROW(corpus_split({1, 2}, 0.01), Error);
}

TEST(Corpus, UnigramEntropy) {
    EXPECT_NEAR(unigram_entropy_bits({0, 1, 2, 3}, 8), 2.0, 1e-12);
    EXPECT_NEAR(unigram_entropy_bits({0, 0, 1, 2}, 3), 1.5, 1e-12);
    EXPECT_NEAR(unigram_entropy_nats({0, 0, 1, 2}, 3), 1.5 * std::log(2.0), 1e-12);
    EXPECT_NEAR(unigram_entropy_bits({5, 5, 5}, 6), 0.0, 1e-12);
    EXPECT_THROW(unigram_entropy_bits({0, 9}, 4), Error);
    // add-one unigram of train {0,0,0,1} over V=3: p = (4, 2, 1)/7; eval {0, 2}: -(ln 4/7 + ln 1/7)/2
    double want = -(std::log(4.0 / 7) + std::log(1.0 / 7)) / 2;
    EXPECT_NEAR(unigram_cross_entropy_nats({0, 0, 0, 1}, {0, 2}, 3, 1.0), want, 1e-12);
    // on a big i.i.d. stream the held-out cross-entropy approaches the entropy from above
    std::mt19937 rng(4);
    std::vector<int32_t> a, b;
    for (int i = 0; i < 200000; i++) a.push_back((int32_t)(rng() % 7 == 0 ? rng() % 50 : rng() % 5));
    for (int i = 0; i < 50000; i++) b.push_back((int32_t)(rng() % 7 == 0 ? rng() % 50 : rng() % 5));
    double h = unigram_entropy_nats(a, 50), x = unigram_cross_entropy_nats(a, b, 50);
    EXPECT_GT(x, h - 0.01);
    EXPECT_LT(x, h + 0.02);
}

TEST(Corpus, BatchSamplerDeterministicWindows) {
    std::vector<int32_t> t(5000);
    std::iota(t.begin(), t.end(), 0);
    const int B = 8, T = 16;
    auto a = sample_batch(t, B, T, 42, 7);
    auto b = sample_batch(t, B, T, 42, 7);
    EXPECT_EQ(a, b);                              // same (seed, step)
    EXPECT_NE(a, sample_batch(t, B, T, 42, 8));   // another step
    EXPECT_NE(a, sample_batch(t, B, T, 43, 7));   // another seed
    ASSERT_EQ(a.size(), (size_t)B * (T + 1));
    for (int r = 0; r < B; r++)
        for (int k = 1; k <= T; k++) EXPECT_EQ(a[r * (T + 1) + k], a[r * (T + 1)] + k);  // contiguous windows
    // starts cover [0, n - T - 1] exactly: a tiny stream with 3 possible starts
    std::vector<int32_t> small = {10, 11, 12, 13, 14, 15};  // n = 6, T = 3 -> starts 0, 1, 2
    std::vector<int> seen(3, 0);
    for (uint64_t step = 0; step < 200; step++) {
        auto w = sample_batch(small, 2, 3, 1, step);
        for (int r = 0; r < 2; r++) {
            int s = w[r * 4] - 10;
            ASSERT_TRUE(s >= 0 && s <= 2);
            seen[s]++;
        }
    }
    for (int s = 0; s < 3; s++) EXPECT_GT(seen[s], 90) << s;  // ~133 each of 400
    EXPECT_THROW(sample_batch(small, 1, 6, 1, 0), Error);     // n < T + 1
    EXPECT_NO_THROW(sample_batch(small, 1, 5, 1, 0));
}

TEST(Corpus, EvalWindows) {
    auto s = eval_window_starts(1000, 9, 20);  // windows of 10
    ASSERT_EQ(s.size(), 20u);
    EXPECT_EQ(s.front(), 0u);
    EXPECT_EQ(s.back(), 990u);
    for (size_t i = 1; i < s.size(); i++) EXPECT_GE(s[i], s[i - 1] + 10);
    EXPECT_EQ(eval_window_starts(1000, 9, 0).size(), 100u);  // all
    EXPECT_EQ(eval_window_starts(1000, 9, 500).size(), 100u);
    EXPECT_EQ(eval_window_starts(5, 9, 3).size(), 0u);
}

TEST(Corpus, KjvText) {
    ASSERT_EQ(system("command -v bible >/dev/null 2>&1"), 0) << "bible-kjv is not installed (scripts/deps.sh installs it)";
    std::string t = corpus_kjv_text();
    EXPECT_EQ(t.rfind("In the beginning God created the heaven and the earth.\n", 0), 0u);
    EXPECT_NE(t.find("\nJesus wept.\n"), std::string::npos);
    size_t lines = std::count(t.begin(), t.end(), '\n');
    size_t blank = 0;
    for (size_t p = t.find("\n\n"); p != std::string::npos; p = t.find("\n\n", p + 1)) blank++;
    EXPECT_EQ(blank, 1188u);                 // 1,189 chapters
    EXPECT_EQ(lines, 31102u + 1188u);        // verses + chapter breaks
    EXPECT_EQ(t.find("Ge1:1"), std::string::npos);
    EXPECT_GT(t.size(), 4000000u);
}

TEST(Corpus, GcideText) {
    ASSERT_TRUE(file_exists("/usr/share/dictd/gcide.dict.dz")) << "dict-gcide is not installed (scripts/deps.sh installs it)";
    std::string t = corpus_gcide_text("/usr/share/dictd/gcide.dict.dz", "/usr/share/dictd/gcide.index", 3000000);
    EXPECT_GE(t.size(), 3000000u);
    EXPECT_LT(t.size(), 3100000u);
    // valid UTF-8 throughout: the stray Windows-1252 0x92 in "market's" became U+2019
    const auto* u = (const unsigned char*)t.data();
    for (size_t i = 0; i < t.size();) {
        int len;
        ASSERT_NE(utf8_decode(u + i, t.size() - i, &len), k_invalid_cp) << "offset " << i;
        i += (size_t)len;
    }
    EXPECT_NE(t.find("market\xE2\x80\x99s drop"), std::string::npos);
    EXPECT_EQ(t.find("[1913 Webster]"), std::string::npos);
    EXPECT_EQ(t.find("[WordNet 1.5]"), std::string::npos);
    EXPECT_NE(t.find("\nSyn: zero\n"), std::string::npos);
    EXPECT_EQ(t.find("00-database"), std::string::npos);
    EXPECT_EQ(t.find("\n   "), std::string::npos);  // indentation removed
    EXPECT_EQ(t.find('\0'), std::string::npos);
}
