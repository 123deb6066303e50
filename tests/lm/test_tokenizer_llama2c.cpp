// test_tokenizer_llama2c.cpp: the llama2.c tokenizer on stories260K's tok512.bin: encodings equal a port of
// llama2.c's encode, decode_piece follows llama2.c's decode so the golden greedy ids decode to the golden text
// byte for byte, round trips, save/load, and the merge loop on a hand-made vocabulary.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/lm/tokenizer_llama2c.h"

using namespace unfold;

namespace {

const std::string k_dir = std::string(UNFOLD_SOURCE_DIR) + "/models/stories260K";
const std::string k_tok = k_dir + "/tok512.bin";
const std::string k_fixture = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/tok_llama2c_cases.json";

#define NEED_TOK() \
    ASSERT_TRUE(file_exists(k_tok)) << "missing shipped model file " << k_tok

// A hand-made vocabulary: 3 specials, 256 byte tokens, then pieces with scores.
std::unique_ptr<Llama2cTokenizer> toy(const std::vector<std::pair<std::string, float>>& extra) {
    std::vector<std::string> p = {"<unk>", "\n<s>\n", "\n</s>\n"};
    std::vector<float> s = {0, 0, 0};
    char buf[8];
    for (int b = 0; b < 256; b++) {
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        p.push_back(buf);
        s.push_back(0);
    }
    for (auto& [piece, score] : extra) p.push_back(piece), s.push_back(score);
    return std::make_unique<Llama2cTokenizer>(p, s, 16, "toy");
}

}  // namespace

TEST(Llama2cTokenizer, GoldenGreedyIdsDecodeToGoldenText) {
    NEED_TOK();
    auto tok = load_tokenizer(k_tok);
    ASSERT_EQ(tok->vocab_size(), 512);
    EXPECT_EQ(tok->bos_id(), 1);
    EXPECT_EQ(tok->eos_id(), 2);
    std::istringstream in(read_file(k_dir + "/golden_greedy_ids.txt"));
    std::vector<int32_t> ids;
    for (int32_t v; in >> v;) ids.push_back(v);
    ASSERT_EQ(ids.size(), 200u);
    // llama2.c's generate(): print decode(prev, next) for each step starting after BOS, then a newline
    std::string text;
    int32_t prev = tok->bos_id();
    for (int32_t id : ids) {
        text += tok->decode_piece(prev, id);
        prev = id;
    }
    EXPECT_EQ(text + "\n", read_file(k_dir + "/golden_greedy_text.txt"));
    EXPECT_EQ(tok->decode(ids) + "\n", read_file(k_dir + "/golden_greedy_text.txt"));
    // and the text encodes back to the same ids (the model's greedy output is in canonical form here)
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
}

TEST(Llama2cTokenizer, MatchesReferenceEncodings) {
    NEED_TOK();
    auto tok = load_llama2c_tokenizer(k_tok, 512);
    Json fx = json_load(k_fixture);
    const Json& cases = fx.at("cases", k_fixture);
    ASSERT_GE(cases.arr.size(), 50u);
    size_t n = 0;
    for (const Json& c : cases.arr) {
        const std::string& text = c.at("text", "case").as_str("text");
        std::vector<int32_t> want;
        for (const Json& v : c.at("ids", "case").arr) want.push_back((int32_t)v.as_int("id"));
        EXPECT_EQ(tok->encode(text), want) << "text: '" << text << "'";
        EXPECT_EQ(tok->decode(want), text);
        n += want.size();
    }
    EXPECT_GT(n, 1000u);
}

// llama2.c's encode loop as written there: quadratic scan for the best-scoring adjacent pair
std::vector<int32_t> naive_encode(const Llama2cTokenizer& tok, const std::string& text) {
    std::vector<int32_t> t;
    if (text.empty()) return t;
    t.push_back(tok.piece_id(" "));
    std::string buf;
    for (size_t i = 0; i < text.size(); i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) != 0x80) buf.clear();
        buf += (char)c;
        if (i + 1 < text.size() && ((unsigned char)text[i + 1] & 0xC0) == 0x80 && buf.size() < 4) continue;
        int32_t id = tok.piece_id(buf);
        if (id >= 0) t.push_back(id);
        else
            for (unsigned char b : buf) t.push_back(b + 3);
        buf.clear();
    }
    while (true) {
        float best = -1e10f;
        int32_t best_id = -1, best_i = -1;
        for (size_t i = 0; i + 1 < t.size(); i++) {
            int32_t id = tok.piece_id(tok.piece(t[i]) + tok.piece(t[i + 1]));
            if (id >= 0 && tok.score(id) > best) best = tok.score(id), best_id = id, best_i = (int32_t)i;
        }
        if (best_i < 0) break;
        t[best_i] = best_id;
        t.erase(t.begin() + best_i + 1);
    }
    return t;
}

TEST(Llama2cTokenizer, LongTextEqualsLlama2cLoop) {
    NEED_TOK();
    auto tok = load_llama2c_tokenizer(k_tok);
    std::mt19937 rng(17);
    const char* words[] = {"Once", "upon", "a", "time", "there", "was", "little", "girl", "named", "Lily", ".", ",",
                           "\n", "  ", "didn't", "caf\xC3\xA9", "\xE4\xB8\xAD", "\"Hi!\"", "toy", "happy"};
    for (int rep = 0; rep < 3; rep++) {
        std::string text;
        while (text.size() < 1500) text += std::string(words[rng() % 20]) + (rng() % 5 ? " " : "");
        EXPECT_EQ(tok->encode(text), naive_encode(*tok, text));
    }
    EXPECT_EQ(tok->segment_mode(), 2);  // tok512: pieces have spaces only in front
}

TEST(Llama2cTokenizer, DecodePieceSemantics) {
    NEED_TOK();
    auto tok = load_llama2c_tokenizer(k_tok);
    int32_t the = tok->piece_id(" the");
    ASSERT_GE(the, 0);
    EXPECT_EQ(tok->decode_piece(1, the), "the");   // leading space dropped after BOS
    EXPECT_EQ(tok->decode_piece(5, the), " the");  // kept otherwise
    EXPECT_EQ(tok->decode_piece(1, 13), "\n");     // <0x0A>
    EXPECT_EQ(tok->decode_piece(7, 3 + 0xE4), std::string(1, (char)0xE4));  // raw byte
    EXPECT_EQ(tok->decode_piece(7, 1), "\n<s>\n");  // as llama2.c (generation stops at BOS anyway)
    EXPECT_THROW(tok->decode_piece(1, 512), Error);
    EXPECT_THROW(tok->decode_piece(1, -1), Error);
    // decode() skips BOS/EOS and drops the dummy-prefix space
    EXPECT_EQ(tok->decode({1, the, 2}), "the");
}

TEST(Llama2cTokenizer, RandomRoundTripAndSaveLoad) {
    NEED_TOK();
    auto tok = load_llama2c_tokenizer(k_tok);
    std::mt19937 rng(3);
    for (int k = 0; k < 300; k++) {
        std::string s;
        int n = (int)(rng() % 50);
        for (int i = 0; i < n; i++) s += (rng() % 4 == 0) ? (char)(rng() % 256) : " abcdethLS.,\n"[rng() % 13];
        auto ids = tok->encode(s);
        for (int32_t id : ids) ASSERT_TRUE(id >= 3 && id < 512);  // never unk/bos/eos
        ASSERT_EQ(tok->decode(ids), s);
    }
    std::string path = testing::TempDir() + "/lmtok_tok.bin";
    save_llama2c_tokenizer(*tok, path);
    EXPECT_EQ(read_file(path), read_file(k_tok));  // byte-identical rewrite
}

TEST(Llama2cTokenizer, MergesByBestScoreLeftmostOnTies) {
    // pieces: " " and letters come from byte fallback unless present
    auto tok = toy({{" ", -100}, {"a", -100}, {"b", -100}, {"ab", -1}, {"ba", -2}, {" a", -5}, {"aba", -0.5f}});
    int32_t sp = tok->piece_id(" "), a = tok->piece_id("a"), b = tok->piece_id("b");
    int32_t ab = tok->piece_id("ab"), ba = tok->piece_id("ba"), spa = tok->piece_id(" a"), aba = tok->piece_id("aba");
    // " a b a" -> [" ", a, b, a]: ab (-1) first at index 1, then "aba"? needs ab+a -> "aba" (-0.5) -> [" ", aba]
    EXPECT_EQ(tok->encode("aba"), (std::vector<int32_t>{sp, aba}));
    // "abab": [" ",a,b,a,b] -> ab leftmost -> [" ",ab,a,b] -> "aba"(-0.5) beats ab(-1) -> [" ",aba,b]
    EXPECT_EQ(tok->encode("abab"), (std::vector<int32_t>{sp, aba, b}));
    // "ba": [" ", b, a] -> ba (-2) -> [" ", ba]
    EXPECT_EQ(tok->encode("ba"), (std::vector<int32_t>{sp, ba}));
    // "a": [" ", a] -> " a" (-5)
    EXPECT_EQ(tok->encode("a"), (std::vector<int32_t>{spa}));
    // unknown characters fall back to bytes (id = byte + 3)
    EXPECT_EQ(tok->encode("z\xC3\xA9"), (std::vector<int32_t>{sp, 'z' + 3, 0xC3 + 3, 0xA9 + 3}));
    EXPECT_EQ(tok->encode(""), std::vector<int32_t>{});
    EXPECT_EQ(tok->decode(tok->encode("z\xC3\xA9 ab")), "z\xC3\xA9 ab");
    (void)a;
    (void)ab;
    // a piece with an inner space disables the per-space segmentation: "b a" = b + " a" must still merge
    auto tok2 = toy({{" ", -100}, {"a", -100}, {"b", -100}, {" a", -5}, {"b a", -0.1f}});
    EXPECT_EQ(tok2->encode("b a"), (std::vector<int32_t>{tok2->piece_id(" "), tok2->piece_id("b a")}));
    // pieces made of several spaces (as in Llama 2) keep segmentation only after non-spaces; compare with
    // llama2.c's loop on random text full of space runs
    auto tok3 = toy({{" ", -100}, {"a", -100}, {"b", -100}, {"  ", -3}, {"   ", -2}, {" a", -5}, {"  a", -1},
                     {"ab", -4}, {" ab", -0.5f}, {"ba", -6}});
    EXPECT_EQ(tok->segment_mode(), 2);
    EXPECT_EQ(tok2->segment_mode(), 0);
    EXPECT_EQ(tok3->segment_mode(), 1);
    std::mt19937 rng(8);
    for (int k = 0; k < 200; k++) {
        std::string t;
        int n = (int)(rng() % 30);
        for (int i = 0; i < n; i++) t += "ab   xa"[rng() % 7];
        ASSERT_EQ(tok3->encode(t), naive_encode(*tok3, t)) << "'" << t << "'";
        ASSERT_EQ(tok2->encode(t), naive_encode(*tok2, t)) << "'" << t << "'";
        ASSERT_EQ(tok->encode(t), naive_encode(*tok, t)) << "'" << t << "'";
    }
}

// Found by fuzz_tokenizer_llama2c (fuzz/crashes/tokenizer_llama2c/): when the text pieces let merges reach a
// control piece ("\n<s>" + "\n" -> BOS's "\n<s>\n") or a byte token's name ("<0x4" + "1>" -> "<0x41>"), encode
// emitted BOS / the byte token and decode lost the text. Text only ever matches text pieces (ids >= 259).
TEST(Llama2cTokenizer, TextNeverEncodesToControlOrByteTokens) {
    auto tok = toy({{"\n<s>", 5}, {"\n", 1}, {"<0x4", 5}, {"1>", 5}, {"<", 1}, {"0", 1}, {"x", 1}, {"4", 1}, {"1", 1},
                    {">", 1}, {"<s>", 2}, {"s", 1}, {" ", 0}});
    for (const std::string text : {"\n<s>\n", "a\n<s>\nb", "<0x41>", "x<0x41><0x41>", "\n</s>\n<unk>"}) {
        SCOPED_TRACE(text);
        const std::vector<int32_t> ids = tok->encode(text);
        for (int32_t id : ids) EXPECT_GE(id, 3) << "a control token";
        for (int32_t id : ids) {
            if (id >= 3 && id < 259) {
                EXPECT_NE(text.find((char)(id - 3)), std::string::npos) << "byte " << id;
            }
        }
        EXPECT_EQ(tok->decode(ids), text);
    }
    EXPECT_EQ(tok->piece_id("\n<s>\n"), -1);  // the BOS piece is no text piece
    EXPECT_EQ(tok->piece_id("<0x41>"), -1);
    EXPECT_EQ(tok->piece_id("\n<s>"), 259);
    // ids 3..258 must be the byte tokens, in order
    std::vector<std::string> p(300, "z");
    std::vector<float> s(300, 0.0f);
    char buf[8];
    for (int b = 0; b < 256; b++) snprintf(buf, sizeof buf, "<0x%02X>", b), p[(size_t)b + 3] = buf;
    p[68] = "A";
    try {
        Llama2cTokenizer bad(p, s, 16, "bad.bin");
        ADD_FAILURE() << "accepted a vocabulary without byte token <0x41>";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.bin: token 68 is 'A', expected the byte token <0x41>"),
                  std::string::npos)
            << e.what();
    }
}
