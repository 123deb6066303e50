// test_bpe_train.cpp: the BPE trainer learns the merges worked out by hand on tiny corpora, matches a naive
// recount-everything trainer on random text, is deterministic, and its saved files load and round-trip.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "lm/tokenizer_pretok.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/bpe_train.h"
#include "unfold/lm/tokenizer.h"

using namespace unfold;

namespace {

using Merges = std::vector<std::pair<int32_t, int32_t>>;

// Reference trainer: recount every pair of every word at every step.
Merges naive_train(const std::string& text, int n_merges, int64_t min_count) {
    std::vector<TextPiece> pieces;
    gpt2_pretokenize(text.data(), text.size(), pieces);
    std::map<std::vector<int32_t>, int64_t> words;
    for (auto& p : pieces) {
        std::vector<int32_t> w;
        for (size_t i = 0; i < p.length; i++) w.push_back((unsigned char)text[p.offset + i]);
        words[w]++;
    }
    Merges merges;
    for (int step = 0; step < n_merges; step++) {
        std::map<std::pair<int32_t, int32_t>, int64_t> pc;
        for (auto& [w, f] : words)
            for (size_t i = 0; i + 1 < w.size(); i++) pc[{w[i], w[i + 1]}] += f;
        std::pair<int32_t, int32_t> best{-1, -1};
        int64_t bc = 0;
        for (auto& [pr, c] : pc)
            if (c > bc) bc = c, best = pr;  // map order = smallest pair first among equal counts
        if (bc < min_count) break;
        merges.push_back(best);
        int32_t x = 256 + step;
        std::map<std::vector<int32_t>, int64_t> next;
        for (auto& [w, f] : words) {
            std::vector<int32_t> o;
            for (size_t i = 0; i < w.size();) {
                if (i + 1 < w.size() && w[i] == best.first && w[i + 1] == best.second) o.push_back(x), i += 2;
                else o.push_back(w[i++]);
            }
            next[o] += f;
        }
        words.swap(next);
    }
    return merges;
}

BpeTrainConfig cfg(int vocab, int64_t min_count = 2) {
    BpeTrainConfig c;
    c.vocab_size = vocab;
    c.min_pair_count = min_count;
    c.ctx.quiet = true;
    return c;
}

}  // namespace

TEST(BpeTrain, HandCheckedMerges) {
    // words: "ab" x1, " ab" x2, " abc" x1. Pair counts: (a,b)=4, (' ',a)=3, (b,c)=1.
    // merge 1: a+b -> 256 "ab"; then (' ',256)=3, (256,c)=1; merge 2: ' '+256 -> 257 " ab";
    // then only (257,c)=1 remains: below min_pair_count 2 -> stop.
    BpeTrainStats st;
    BpeModel m = bpe_train("ab ab ab abc", cfg(1000), &st);
    EXPECT_EQ(m.merges, (Merges{{'a', 'b'}, {' ', 256}}));
    EXPECT_EQ(st.n_words, 4);
    EXPECT_EQ(st.n_unique_words, 3);
    ASSERT_EQ(m.tokens.size(), 259u);  // 256 + 2 merges + <|endoftext|>
    EXPECT_EQ(m.tokens[256], "ab");
    EXPECT_EQ(m.tokens[257], " ab");
    EXPECT_EQ(m.tokens[258], "<|endoftext|>");
    EXPECT_EQ(m.specials, std::vector<int32_t>{258});
    // with min_pair_count 1 the third merge (257, 'c') -> " abc" happens
    BpeModel m1 = bpe_train("ab ab ab abc", cfg(1000, 1));
    EXPECT_EQ(m1.merges, (Merges{{'a', 'b'}, {' ', 256}, {257, 'c'}}));
    EXPECT_EQ(m1.tokens[258], " abc");
    // the vocab_size target caps the merges: 256 + 1 merge + 1 special
    EXPECT_EQ(bpe_train("ab ab ab abc", cfg(258)).merges, (Merges{{'a', 'b'}}));
}

TEST(BpeTrain, TieBreakSmallestPair) {
    // words "xy" and " yx", all pairs count 1: (' ',y) < (x,y) < (y,x) by id; after ' '+y -> 256 the word is
    // [256, x]; remaining (x,y) then (256,x).
    BpeModel m = bpe_train("xy yx", cfg(1000, 1));
    EXPECT_EQ(m.merges, (Merges{{' ', 'y'}, {'x', 'y'}, {256, 'x'}}));
}

TEST(BpeTrain, SpecialTokensSplitAndAreNotLearned) {
    BpeModel m = bpe_train("aa<|endoftext|>aa<|endoftext|>aa", cfg(1000));
    // "aa" x3 -> one merge; "<|" etc. never counted
    EXPECT_EQ(m.merges, (Merges{{'a', 'a'}}));
    EXPECT_THROW(bpe_train("x", [] { auto c = cfg(300); c.specials = {"has space"}; return c; }()), Error);
    EXPECT_THROW(bpe_train("x", cfg(100)), Error);  // below 256 + specials
}

TEST(BpeTrain, MatchesNaiveTrainerOnRandomText) {
    std::mt19937 rng(11);
    std::string text;
    const char* syll[] = {"ka", "to", "ri", "ne", "su", "mo", "a", "e", "th", "qu"};
    for (int i = 0; i < 3000; i++) {
        int n = 1 + (int)(rng() % 4);
        for (int k = 0; k < n; k++) text += syll[rng() % 10];
        text += (rng() % 9 == 0) ? ".\n" : (rng() % 7 == 0) ? ", " : " ";
    }
    Merges want = naive_train(text, 150, 2);
    BpeModel got = bpe_train(text, cfg(256 + 150 + 1));
    ASSERT_EQ(want.size(), 150u);
    EXPECT_EQ(got.merges, want);
    EXPECT_EQ(bpe_train(text, cfg(256 + 150 + 1)).merges, got.merges);  // deterministic
}

TEST(BpeTrain, SavesLoadsAndRoundTrips) {
    std::string text;
    std::mt19937 rng(5);
    const char* words[] = {"the", "cat", "sat", "on", "mat", "and", "dog", "ran", "far", "away", "caf\xC3\xA9"};
    for (int i = 0; i < 4000; i++) text += std::string(i ? " " : "") + words[rng() % 11] + ((rng() % 10 == 0) ? ".\n" : "");
    std::string dir = testing::TempDir() + "/lmtok_bpe";
    BpeTrainStats st;
    auto tok = bpe_train_save(text, cfg(320), dir, &st);
    // 11 distinct words (x2 with/without a leading space): merging stops when no pair occurs twice
    EXPECT_GT(st.n_merges, 20);
    EXPECT_LT(st.n_merges, 320 - 256 - 1);
    const int32_t V = 256 + st.n_merges + 1;
    ASSERT_TRUE(file_exists(dir + "/vocab.json"));
    ASSERT_TRUE(file_exists(dir + "/merges.txt"));
    auto loaded = load_tokenizer(dir);
    EXPECT_EQ(loaded->vocab_size(), V);
    EXPECT_EQ(loaded->eos_id(), V - 1);
    auto ids = loaded->encode(text);
    EXPECT_EQ(ids, tok->encode(text));
    EXPECT_EQ(loaded->decode(ids), text);
    // every word of this vocabulary (with its leading space) became one token
    EXPECT_LT(ids.size(), text.size() / 3);
    EXPECT_EQ(loaded->encode(" cat").size(), 1u);
    EXPECT_EQ(loaded->encode("x<|endoftext|>").back(), V - 1);
    std::string odd = "unseen \xF0\x9F\x98\x80 \xFF bytes\t\n";
    EXPECT_EQ(loaded->decode(loaded->encode(odd)), odd);
}
