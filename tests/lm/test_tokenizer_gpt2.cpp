// test_tokenizer_gpt2.cpp: GPT-2 byte-level BPE against reference encodings, the hand-written
// pre-tokeniser against the regex's behaviour, Unicode classes, byte round-trips, tokenizer.json loading.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "lm/tokenizer_pretok.h"
#include "lm/tokenizer_unicode.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/lm/corpus.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/lm/tokenizer_gpt2.h"

using namespace unfold;

namespace {

const std::string k_gpt2 = std::string(UNFOLD_SOURCE_DIR) + "/models/gpt2-tokenizer";
const std::string k_fixture = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/tok_gpt2_cases.json";

std::vector<std::string> split(const std::string& s) {
    std::vector<TextPiece> p;
    gpt2_pretokenize(s.data(), s.size(), p);
    std::vector<std::string> out;
    for (auto& x : p) out.push_back(s.substr(x.offset, x.length));
    return out;
}

using V = std::vector<std::string>;

const BpeTokenizer& gpt2() {
    static std::unique_ptr<BpeTokenizer> t;
    if (!t) t = load_gpt2_tokenizer(k_gpt2 + "/vocab.json", k_gpt2 + "/merges.txt");
    return *t;
}

#define NEED_GPT2() \
    ASSERT_TRUE(file_exists(k_gpt2 + "/vocab.json")) << "missing shipped tokenizer " << k_gpt2

}  // namespace

TEST(Unicode, Classes) {
    EXPECT_TRUE(unicode_is_letter('a'));
    EXPECT_TRUE(unicode_is_letter(0xE9));     // é
    EXPECT_TRUE(unicode_is_letter(0x4E2D));   // 中
    EXPECT_TRUE(unicode_is_letter(0xD55C));   // 한
    EXPECT_TRUE(unicode_is_letter(0x02B0));   // ʰ (Lm)
    EXPECT_FALSE(unicode_is_letter(0x0301));  // combining acute (Mn)
    EXPECT_TRUE(unicode_is_number('7'));
    EXPECT_TRUE(unicode_is_number(0xB2));    // ² (No)
    EXPECT_TRUE(unicode_is_number(0x0663));  // Arabic-Indic three (Nd)
    EXPECT_TRUE(unicode_is_number(0x216B));  // Ⅻ (Nl)
    EXPECT_FALSE(unicode_is_number('x'));
    for (uint32_t cp : {0x09u, 0x0Au, 0x0Bu, 0x0Cu, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2003u, 0x2028u, 0x3000u})
        EXPECT_TRUE(unicode_is_space(cp)) << cp;
    for (uint32_t cp : {0x1Cu, 0x1Fu, 0x200Bu, 0x00u, 0x7Fu, 0x1F600u}) EXPECT_FALSE(unicode_is_space(cp)) << cp;
    EXPECT_EQ(unicode_class(0x1F600), CharClass::OTHER);
    EXPECT_EQ(unicode_class(k_invalid_cp), CharClass::OTHER);
}

TEST(Unicode, Utf8Decode) {
    int len;
    auto dec = [&](const std::string& s) { return utf8_decode((const unsigned char*)s.data(), s.size(), &len); };
    EXPECT_EQ(dec("\xC3\xA9"), 0xE9u);
    EXPECT_EQ(len, 2);
    EXPECT_EQ(dec("\xF0\x9F\x98\x80"), 0x1F600u);
    EXPECT_EQ(len, 4);
    EXPECT_EQ(dec("\xC3"), k_invalid_cp);          // truncated
    EXPECT_EQ(len, 1);
    EXPECT_EQ(dec("\xC0\x80"), k_invalid_cp);      // overlong
    EXPECT_EQ(dec("\xED\xA0\x80"), k_invalid_cp);  // surrogate
    EXPECT_EQ(dec("\x80"), k_invalid_cp);          // lone continuation
    EXPECT_EQ(dec("\xF4\x90\x80\x80"), k_invalid_cp);  // > U+10FFFF
}

TEST(Unicode, ByteMap) {
    EXPECT_EQ(gpt2_byte_to_unicode(' '), 0x120u);  // Ġ
    EXPECT_EQ(gpt2_byte_to_unicode('\n'), 0x10Au);  // Ċ
    EXPECT_EQ(gpt2_byte_to_unicode('A'), (uint32_t)'A');
    for (int b = 0; b < 256; b++) EXPECT_EQ(gpt2_unicode_to_byte(gpt2_byte_to_unicode((uint8_t)b)), b);
    EXPECT_EQ(gpt2_unicode_to_byte(0x20), -1);  // space itself is not in the image
    std::string all;
    for (int b = 0; b < 256; b++) all += (char)b;
    std::string back;
    ASSERT_TRUE(gpt2_visible_to_bytes(gpt2_bytes_to_visible(all), &back));
    EXPECT_EQ(back, all);
    EXPECT_EQ(gpt2_bytes_to_visible(" hello"), "\xC4\xA0hello");
    EXPECT_FALSE(gpt2_visible_to_bytes("a b", &back));
}

TEST(Pretokenize, RegexSemantics) {
    EXPECT_EQ(split("Hello world"), (V{"Hello", " world"}));
    EXPECT_EQ(split("a  b"), (V{"a", " ", " b"}));                 // \s+(?!\S) leaves the last space
    EXPECT_EQ(split("a   b"), (V{"a", "  ", " b"}));
    EXPECT_EQ(split("hello   "), (V{"hello", "   "}));             // trailing run kept whole
    EXPECT_EQ(split("a\n\nb"), (V{"a", "\n", "\n", "b"}));          // newline before a letter: \s+ alone
    EXPECT_EQ(split("a \nb"), (V{"a", " ", "\n", "b"}));
    EXPECT_EQ(split("I'm you're they've we'll it'd 'll"),
              (V{"I", "'m", " you", "'re", " they", "'ve", " we", "'ll", " it", "'d", " '", "ll"}));
    EXPECT_EQ(split("DON'T"), (V{"DON", "'", "T"}));                // contractions are lowercase only
    EXPECT_EQ(split("abc123 456x"), (V{"abc", "123", " 456", "x"}));
    EXPECT_EQ(split("?!'s"), (V{"?!'", "s"}));                     // the punctuation run eats the apostrophe
    EXPECT_EQ(split(" !!x"), (V{" !!", "x"}));
    EXPECT_EQ(split("\tx"), (V{"\t", "x"}));
    EXPECT_EQ(split(" "), (V{" "}));
    EXPECT_EQ(split("x "), (V{"x", " "}));
    EXPECT_EQ(split("caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87"), (V{"caf\xC3\xA9", " \xE4\xB8\xAD\xE6\x96\x87"}));
    EXPECT_EQ(split("\xFF\xFEok"), (V{"\xFF\xFE", "ok"}));          // invalid bytes: "other" characters
    EXPECT_EQ(split(""), V{});
}

TEST(Gpt2Tokenizer, MatchesReferenceEncodings) {
    NEED_GPT2();
    Json fx = json_load(k_fixture);
    const Json& cases = fx.at("cases", k_fixture);
    ASSERT_GE(cases.arr.size(), 150u);
    auto tok = load_tokenizer(k_gpt2);
    EXPECT_EQ(tok->vocab_size(), 50257);
    EXPECT_EQ(tok->eos_id(), 50256);
    EXPECT_EQ(tok->bos_id(), 50256);
    size_t n_ids = 0;
    for (const Json& c : cases.arr) {
        const std::string& text = c.at("text", "case").as_str("text");
        std::vector<int32_t> want;
        for (const Json& v : c.at("ids", "case").arr) want.push_back((int32_t)v.as_int("id"));
        EXPECT_EQ(tok->encode(text), want) << "text: '" << text << "'";
        EXPECT_EQ(tok->decode(want), text);
        n_ids += want.size();
    }
    EXPECT_GT(n_ids, 3000u);
    EXPECT_EQ(tok->encode("Hello world"), (std::vector<int32_t>{15496, 995}));
    EXPECT_EQ(tok->decode_piece(-1, 50256), "<|endoftext|>");
    EXPECT_EQ(tok->decode_piece(15496, 995), " world");
}

TEST(Gpt2Tokenizer, RandomBytesRoundTrip) {
    NEED_GPT2();
    const BpeTokenizer& tok = gpt2();
    std::mt19937 rng(7);
    for (int k = 0; k < 300; k++) {
        std::string s;
        int n = (int)(rng() % 64);
        for (int i = 0; i < n; i++) {
            uint32_t r = rng() % 10;
            // mix raw bytes (invalid UTF-8 included), ASCII text and multi-byte characters
            if (r < 3) s += (char)(rng() % 256);
            else if (r < 8) s += " abcdefXYZ019.,'\n\t"[rng() % 18];
            else s += "\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80" + 0;
        }
        auto ids = tok.encode(s);
        for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok.vocab_size());
        ASSERT_EQ(tok.decode(ids), s);
    }
}

TEST(Gpt2Tokenizer, CacheDoesNotChangeResults) {
    NEED_GPT2();
    const BpeTokenizer& tok = gpt2();
    std::string text = "the cat sat on the mat, the cat sat on the hat; supercalifragilistic the cat";
    tok.clear_cache();
    auto a = tok.encode(text);
    auto b = tok.encode(text);  // every piece now comes from the cache
    tok.clear_cache();
    EXPECT_EQ(a, b);
    // encoding a piece alone equals its encoding inside a text
    std::vector<int32_t> piece;
    tok.encode_piece(" cat", 4, piece);
    EXPECT_EQ(piece, tok.encode(" cat"));
    EXPECT_EQ(piece.size(), 1u);
}

TEST(Gpt2Tokenizer, DecodeRejectsBadIds) {
    NEED_GPT2();
    const BpeTokenizer& tok = gpt2();
    EXPECT_THROW(tok.decode({1, 50257}), Error);
    EXPECT_THROW(tok.decode({-1}), Error);
}

TEST(Gpt2Tokenizer, HfTokenizerJsonBothMergeForms) {
    NEED_GPT2();
    // A reduced GPT-2 (bytes + the first 3000 merges + <|endoftext|>, original ids, so with holes) written
    // both as vocab.json + merges.txt and as a tokenizer.json with merges alternately "a b" and ["a", "b"].
    const BpeModel& full = gpt2().model();
    const int n_merges = 3000;
    std::vector<uint8_t> keep(full.tokens.size(), 0);
    for (int i = 0; i < 256; i++) keep[i] = 1;
    keep[50256] = 1;
    Json vocab = Json::object(), merges = Json::array();
    std::string merges_txt = "#version: 0.2\n";
    for (int r = 0; r < n_merges; r++) {
        auto [a, b] = full.merges[r];
        keep[gpt2().token_id(full.tokens[a] + full.tokens[b])] = 1;
        std::string va = gpt2_bytes_to_visible(full.tokens[a]), vb = gpt2_bytes_to_visible(full.tokens[b]);
        merges_txt += va + " " + vb + "\n";
        if (r % 2 == 0) {
            merges.push(Json(va + " " + vb));
        } else {
            Json pair = Json::array();
            pair.push(Json(va));
            pair.push(Json(vb));
            merges.push(pair);
        }
    }
    for (size_t id = 0; id < keep.size(); id++)
        if (keep[id]) vocab.obj.emplace_back(gpt2_bytes_to_visible(full.tokens[id]), Json((int64_t)id));
    Json model = Json::object();
    model.obj.emplace_back("type", Json("BPE"));
    model.obj.emplace_back("vocab", vocab);
    model.obj.emplace_back("merges", merges);
    Json added = Json::array();
    Json eot = Json::object();
    eot.obj.emplace_back("id", Json(50256));
    eot.obj.emplace_back("content", Json("<|endoftext|>"));
    eot.obj.emplace_back("special", Json(true));
    added.push(eot);
    Json root = Json::object();
    root.obj.emplace_back("version", Json("1.0"));
    root.obj.emplace_back("added_tokens", added);
    root.obj.emplace_back("model", model);
    std::string dir_hf = testing::TempDir() + "/lmtok_hf", dir_g = testing::TempDir() + "/lmtok_g2";
    make_dirs(dir_hf);
    make_dirs(dir_g);
    write_file_atomic(dir_hf + "/tokenizer.json", root.dump(-1));
    write_file_atomic(dir_g + "/vocab.json", vocab.dump(-1));
    write_file_atomic(dir_g + "/merges.txt", merges_txt);
    auto hf = load_tokenizer(dir_hf);
    auto g2 = load_tokenizer(dir_g);
    ASSERT_EQ(hf->vocab_size(), 50257);
    EXPECT_EQ(hf->eos_id(), 50256);
    EXPECT_EQ(g2->eos_id(), 50256);
    Json fx = json_load(k_fixture);
    int differs_from_full = 0;
    for (const Json& c : fx.at("cases", k_fixture).arr) {
        const std::string& text = c.at("text", "case").str;
        auto ids = hf->encode(text);
        EXPECT_EQ(ids, g2->encode(text)) << text;
        EXPECT_EQ(hf->decode(ids), text);
        differs_from_full += ids != gpt2().encode(text);
    }
    EXPECT_GT(differs_from_full, 10);  // the reduced merges really give other (longer) encodings
    EXPECT_EQ(hf->encode("a<|endoftext|>b"), (std::vector<int32_t>{64, 50256, 65}));
}

TEST(Gpt2Tokenizer, KjvCorpusMatchesReference) {
    // the whole KJV (4.1 MB, 1.03M tokens) against the Python reference's counts and hashes
    NEED_GPT2();
    ASSERT_EQ(system("command -v bible >/dev/null 2>&1"), 0) << "bible-kjv is not installed (scripts/deps.sh installs it)";
    const std::string fx_path = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/tok_gpt2_kjv.json";
    Json fx = json_load(fx_path);
    auto fnv = [](const void* p, size_t n) {
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char*)p)[i]) * 1099511628211ull;
        return strformat("%016llx", (unsigned long long)h);
    };
    std::string text = corpus_kjv_text();
    ASSERT_EQ((int64_t)text.size(), fx.at("text_bytes", fx_path).as_int("text_bytes"));
    ASSERT_EQ(fnv(text.data(), text.size()), fx.at("text_fnv1a64", fx_path).as_str("text_fnv1a64"));
    std::vector<int32_t> ids = corpus_tokenize(gpt2(), text);
    EXPECT_EQ((int64_t)ids.size(), fx.at("n_ids", fx_path).as_int("n_ids"));
    EXPECT_EQ(fnv(ids.data(), ids.size() * 4), fx.at("ids_fnv1a64", fx_path).as_str("ids_fnv1a64"));
    const Json& first = fx.at("first_ids", fx_path);
    for (size_t i = 0; i < first.arr.size() && i < ids.size(); i++) EXPECT_EQ(ids[i], first.arr[i].as_int("id"));
    EXPECT_EQ(gpt2().decode(ids), text);
}
