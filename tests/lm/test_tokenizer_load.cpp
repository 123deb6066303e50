// test_tokenizer_load.cpp: load_tokenizer's kind detection and its one-line errors on corrupt or missing
// files (each names the file and the field).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <random>

#include "lm/tokenizer_unicode.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/lm/tokenizer_gpt2.h"
#include "unfold/lm/tokenizer_llama2c.h"

using namespace unfold;

namespace {

std::string tmp(const std::string& name) {
    std::string d = testing::TempDir() + "/lmtok_load/" + name;
    make_dirs(d);
    return d;
}

// A minimal valid byte-level vocab: the 256 bytes (ids 0..255) + "ab" (256) + "<|endoftext|>" (257).
std::string vocab_json(const std::string& extra = "") {
    std::string s = "{";
    for (int b = 0; b < 256; b++) {
        std::string v = gpt2_bytes_to_visible(std::string(1, (char)b));
        std::string esc;
        for (char c : v) esc += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
        s += "\"" + esc + "\": " + std::to_string(b) + ", ";
    }
    return s + "\"ab\": 256, \"<|endoftext|>\": 257" + extra + "}";
}

std::string expect_error(const std::string& path) {
    try {
        load_tokenizer(path);
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;  // one line
        return m;
    }
    ADD_FAILURE() << "no error loading " << path;
    return "";
}

#define EXPECT_HAS(msg, sub) EXPECT_NE((msg).find(sub), std::string::npos) << "message: " << (msg)

std::string le32(int32_t v) { return std::string((const char*)&v, 4); }
std::string lef(float v) { return std::string((const char*)&v, 4); }

// a valid llama2.c tokenizer file with 259 tokens (+ `extra` records)
std::string tok_bin(const std::string& extra = "") {
    std::string s = le32(8);
    const char* sp[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) s += lef(0) + le32((int32_t)strlen(sp[i])) + sp[i];
    char buf[8];
    for (int b = 0; b < 256; b++) {
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        s += lef(0) + le32(6) + buf;
    }
    return s + extra;
}

void put(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), (std::streamsize)bytes.size());
}

}  // namespace

TEST(TokenizerLoad, DetectsKinds) {
    std::string d = tmp("ok_gpt2");
    write_file_atomic(d + "/vocab.json", vocab_json());
    write_file_atomic(d + "/merges.txt", "#version: 0.2\na b\n");
    auto t = load_tokenizer(d);
    EXPECT_EQ(t->vocab_size(), 258);
    EXPECT_EQ(t->eos_id(), 257);
    EXPECT_EQ(t->encode("xab<|endoftext|>"), (std::vector<int32_t>{256 - 256 + 'x', 256, 257}));
    auto t2 = load_tokenizer(d + "/vocab.json");  // naming either file works
    EXPECT_EQ(t2->encode("ab"), (std::vector<int32_t>{256}));
    auto t3 = load_tokenizer(d + "/merges.txt");
    EXPECT_EQ(t3->vocab_size(), 258);

    std::string b = tmp("ok_bin");
    write_file_atomic(b + "/tok259.bin", tok_bin());
    EXPECT_EQ(load_tokenizer(b)->vocab_size(), 259);
    EXPECT_EQ(load_tokenizer(b + "/tok259.bin")->name(), "llama2c:tok259.bin");
}

TEST(TokenizerLoad, MissingFiles) {
    EXPECT_HAS(expect_error(testing::TempDir() + "/lmtok_nope"), "lmtok_nope: missing");
    std::string d = tmp("only_vocab");
    write_file_atomic(d + "/vocab.json", vocab_json());
    std::string m = expect_error(d);
    EXPECT_HAS(m, "merges.txt: missing file");
    std::string e = tmp("empty");
    EXPECT_HAS(expect_error(e), "no tokenizer in this folder");
}

TEST(TokenizerLoad, BadVocabJson) {
    std::string d = tmp("bad_json");
    write_file_atomic(d + "/merges.txt", "#version: 0.2\n");
    write_file_atomic(d + "/vocab.json", "{\"a\": 1,, }");
    std::string m = expect_error(d);
    EXPECT_HAS(m, "vocab.json: line 1 col");
    write_file_atomic(d + "/vocab.json", "[1, 2]");
    EXPECT_HAS(expect_error(d), "vocab.json: expected a JSON object {\"token\": id, ...}");
    write_file_atomic(d + "/vocab.json", "{\"a\": \"x\"}");
    EXPECT_HAS(expect_error(d), "vocab.json: token 'a': id must be a number");
    write_file_atomic(d + "/vocab.json", "{\"a\": 1.5}");
    EXPECT_HAS(expect_error(d), "vocab.json: token 'a': expected an integer, found 1.5");
    write_file_atomic(d + "/vocab.json", "{\"a\": 1, \"a\": 2}");
    EXPECT_HAS(expect_error(d), "duplicate key 'a'");
    write_file_atomic(d + "/vocab.json", vocab_json(", \"zz\": -3"));
    m = expect_error(d);
    EXPECT_HAS(m, "vocab.json: token 'zz': id -3 out of range");
    write_file_atomic(d + "/vocab.json", vocab_json(", \"zz\": 257"));
    EXPECT_HAS(expect_error(d), "vocab.json: id 257 is used by two tokens");
    write_file_atomic(d + "/vocab.json", vocab_json(", \"a b\": 300"));  // a raw space is not in the alphabet
    EXPECT_HAS(expect_error(d), "vocab.json: token 'a b' (id 300) has a character outside");
    write_file_atomic(d + "/vocab.json", "{\"a\": 0, \"b\": 1}");  // not byte-level: bytes missing
    EXPECT_HAS(expect_error(d), "no token for byte 0x00");
    write_file_atomic(d + "/vocab.json", vocab_json().substr(0, 500));  // truncated
    EXPECT_HAS(expect_error(d), "vocab.json: line 1 col");
}

TEST(TokenizerLoad, BadMerges) {
    std::string d = tmp("bad_merges");
    write_file_atomic(d + "/vocab.json", vocab_json());
    write_file_atomic(d + "/merges.txt", "#version: 0.2\na b\nab qq\n");
    std::string m = expect_error(d);
    EXPECT_HAS(m, "merges.txt: line 3: merge part 'qq' is not a token of");
    write_file_atomic(d + "/merges.txt", "#version: 0.2\nb a\n");
    EXPECT_HAS(expect_error(d), "merges.txt: line 2: merge result 'ba' is not a token");
    write_file_atomic(d + "/merges.txt", "#version: 0.2\nab\n");
    EXPECT_HAS(expect_error(d), "merges.txt: line 2: expected two tokens separated by one space");
    write_file_atomic(d + "/merges.txt", "a b c\n");
    EXPECT_HAS(expect_error(d), "merges.txt: line 1: expected two tokens");
}

TEST(TokenizerLoad, BadTokenizerJson) {
    std::string d = tmp("bad_hf");
    std::string p = d + "/tokenizer.json";
    write_file_atomic(p, "{\"model\": {\"type\": \"BPE\", \"vocab\": " + vocab_json() + ", \"merges\": [\"a b\", [\"a\"]]}}");
    EXPECT_HAS(expect_error(p), "tokenizer.json: model.merges[1]: expected \"a b\" or [\"a\", \"b\"]");
    write_file_atomic(p, "{\"model\": {\"type\": \"BPE\", \"vocab\": " + vocab_json() + ", \"merges\": [[\"a\", \"qq\"]]}}");
    EXPECT_HAS(expect_error(p), "tokenizer.json: model.merges[0]: merge part 'qq' is not a token");
    write_file_atomic(p, "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}");
    EXPECT_HAS(expect_error(p), "model.type is 'WordPiece'");
    write_file_atomic(p, "{\"version\": \"1.0\"}");
    EXPECT_HAS(expect_error(p), "missing field 'model'");
    write_file_atomic(p, "{\"model\": {\"vocab\": " + vocab_json() + "}}");
    EXPECT_HAS(expect_error(p), "missing field 'merges'");
    write_file_atomic(p, "{\"model\": {\"vocab\": " + vocab_json() + ", \"merges\": []}, \"added_tokens\": [{\"id\": 5, "
                         "\"content\": \"<pad>\"}]}");
    EXPECT_HAS(expect_error(p), "added token '<pad>' has id 5, which the vocabulary gives to another token");
    write_file_atomic(p, "{\"model\": ");
    EXPECT_HAS(expect_error(p), "tokenizer.json");
    // a valid one with an added token outside the byte alphabet
    write_file_atomic(p, "{\"model\": {\"vocab\": " + vocab_json() + ", \"merges\": [[\"a\", \"b\"]]}, \"added_tokens\": "
                         "[{\"id\": 300, \"content\": \"<my token>\"}]}");
    auto t = load_tokenizer(p);
    EXPECT_EQ(t->vocab_size(), 301);
    EXPECT_EQ(t->encode("ab<my token>"), (std::vector<int32_t>{256, 300}));
    EXPECT_EQ(t->decode({256, 300}), "ab<my token>");
    EXPECT_THROW(t->decode({299}), Error);  // a hole
}

TEST(TokenizerLoad, BadLlama2cBin) {
    std::string d = tmp("bad_bin");
    std::string p = d + "/tok.bin";
    std::string good = tok_bin();
    write_file_atomic(p, good.substr(0, 2));
    EXPECT_HAS(expect_error(p), "tok.bin: truncated at byte 0 reading max_token_length");
    write_file_atomic(p, good.substr(0, good.size() - 3));
    EXPECT_HAS(expect_error(p), "tok.bin: token 258: truncated (6 bytes of text, 3 left in the file)");
    write_file_atomic(p, good.substr(0, good.size() - 8));
    EXPECT_HAS(expect_error(p), "tok.bin: truncated at byte");
    EXPECT_HAS(expect_error(p), "token 258 length");
    write_file_atomic(p, tok_bin(lef(0) + le32(-5)));
    EXPECT_HAS(expect_error(p), "tok.bin: token 259: negative length -5");
    write_file_atomic(p, tok_bin(lef(0) + le32(9) + "123456789"));
    EXPECT_HAS(expect_error(p), "tok.bin: token 259: length 9 exceeds max_token_length 8");
    write_file_atomic(p, tok_bin(lef(std::numeric_limits<float>::quiet_NaN()) + le32(1) + "x"));
    EXPECT_HAS(expect_error(p), "tok.bin: token 259: score is not finite");
    write_file_atomic(p, le32(-1));
    EXPECT_HAS(expect_error(p), "tok.bin: max_token_length -1 out of range");
    write_file_atomic(p, good.substr(0, 4 + 3 * 8 + 5 + 3 + 4));  // 3 whole records
    EXPECT_HAS(expect_error(p), "tok.bin: 3 tokens; a llama2.c tokenizer needs at least 259");
    write_file_atomic(p, good);
    EXPECT_HAS([&] {
        try {
            load_llama2c_tokenizer(p, 512);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    }(), "tok.bin: 259 tokens, expected 512");
}

TEST(TokenizerLoad, RandomCorruptionsNeverCrash) {
    // flip, insert and delete bytes in valid files: every load either succeeds or throws unfold::Error
    std::mt19937 rng(21);
    std::string d = tmp("fuzz");
    const std::string vocab = vocab_json(), merges = "#version: 0.2\na b\n", bin = tok_bin(lef(-1) + le32(2) + "ab");
    int loaded = 0, rejected = 0;
    for (int it = 0; it < 150; it++) {
        std::string v = vocab, m = merges, b = bin;
        std::string* target = it % 3 == 0 ? &v : it % 3 == 1 ? &m : &b;
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits && !target->empty(); e++) {
            size_t pos = rng() % target->size();
            switch (rng() % 3) {
                case 0: (*target)[pos] = (char)(rng() % 256); break;
                case 1: target->insert(pos, 1, "\"{}[],:\\0 \n"[rng() % 12]); break;
                default: target->erase(pos, 1 + rng() % 8);
            }
        }
        put(d + "/vocab.json", v);  // plain writes: no fsync per iteration
        put(d + "/merges.txt", m);
        put(d + "/tok.bin", b);
        for (const std::string& p : {d, d + "/tok.bin"}) {
            try {
                auto t = load_tokenizer(p);
                auto ids = t->encode("ab a\xC3\xA9 b");
                ASSERT_EQ(t->decode(ids), "ab a\xC3\xA9 b") << p << " iteration " << it;
                loaded++;
            } catch (const Error& e) {
                EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
                rejected++;
            }
        }
    }
    EXPECT_GT(rejected, 50);
    EXPECT_GT(loaded, 50);
}
