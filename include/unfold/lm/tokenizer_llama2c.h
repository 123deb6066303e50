// tokenizer_llama2c.h: the llama2.c / sentencepiece BPE tokenizer (tok*.bin files).
//
// File format (little-endian): int32 max_token_length, then per token: float32 score, int32 len, len bytes.
// The file does not store the vocabulary size: it is the number of records (pass expected_vocab to check
// it against a model). Ids 0, 1, 2 are <unk>, BOS, EOS; 3..258 are the byte-fallback tokens <0x00>..<0xFF>
// (checked); text is matched against the pieces from 259 on only, so encode never emits a control token and
// never a byte token but as a fallback.
//
// encode() reproduces llama2.c's encode(text, bos=0, eos=0): a dummy-prefix " " token for non-empty text
// (none if " " is not a piece, where llama2.c would push an invalid id),
// one token per UTF-8 character (byte fallback to id byte+3 when the character is not a piece), then
// repeatedly merge the adjacent pair whose concatenation is the piece with the highest score (leftmost on
// ties), done with a heap instead of llama2.c's quadratic scan (and per space-started segment when the
// vocabulary allows it, which gives the same result; see encode()). decode_piece() is llama2.c's decode().
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "unfold/lm/tokenizer.h"

namespace unfold {

class Llama2cTokenizer final : public Tokenizer {
  public:
    Llama2cTokenizer(std::vector<std::string> pieces, std::vector<float> scores, int32_t max_token_length,
                     const std::string& name);

    std::vector<int32_t> encode(const std::string& text) const override;
    // Concatenated decode_piece() starting after BOS (so the dummy-prefix space is dropped); BOS/EOS ids
    // add nothing. decode(encode(s)) == s for every byte string s.
    std::string decode(const std::vector<int32_t>& ids) const override;
    std::string decode_piece(int32_t prev, int32_t id) const override;
    int32_t vocab_size() const override { return (int32_t)pieces_.size(); }
    int32_t bos_id() const override { return 1; }
    int32_t eos_id() const override { return 2; }
    std::string name() const override { return name_; }

    const std::string& piece(int32_t id) const { return pieces_.at(id); }
    float score(int32_t id) const { return scores_.at(id); }
    int32_t max_token_length() const { return max_token_length_; }
    int32_t piece_id(const std::string& s) const;  // the text piece (id >= 259) equal to s, -1 if none
    int segment_mode() const { return segment_; }  // how encode() splits long texts (0 = not at all)

  private:
    std::vector<std::string> pieces_;
    std::vector<float> scores_;
    int32_t max_token_length_;
    std::string name_;
    std::unordered_map<std::string, int32_t> lookup_;
    // (left id << 32 | right id) -> id of the piece equal to their concatenation (what llama2.c finds by
    // building the string and binary-searching the sorted vocabulary), precomputed from every split of
    // every piece
    std::unordered_map<uint64_t, int32_t> pair_;
    int segment_ = 0;  // 0: merge the whole text at once; 1, 2: split at spaces (see encode())
    void merge_range(std::vector<int32_t>& ids, std::vector<int32_t>& out) const;
};

// Reads a tok*.bin file (untrusted). expected_vocab > 0: the record count must equal it.
std::unique_ptr<Llama2cTokenizer> load_llama2c_tokenizer(const std::string& path, int32_t expected_vocab = -1);
// Writes the format (atomic), for tests and for converting tokenizers.
void save_llama2c_tokenizer(const Llama2cTokenizer& tok, const std::string& path);

}  // namespace unfold
