// tokenizer_gpt2.h: byte-level BPE (GPT-2, and unfold's own tokenizers trained by bpe_train).
//
// A token is a byte string; ids 0..V-1 (holes allowed: an id with no token cannot be decoded). Encoding:
// split out special tokens (<|endoftext|> and a tokenizer.json's added tokens), pre-tokenise each stretch
// with GPT-2's regex (tokenizer_pretok.h), then BPE each piece from its bytes by merge rank (lowest rank
// first; among equal ranks the leftmost), with a linked list + binary heap (O(n log n) per piece) and a
// cache of piece -> ids. Decoding concatenates token bytes.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "unfold/lm/tokenizer.h"

namespace unfold {

struct BpeModel {
    std::vector<std::string> tokens;                  // raw bytes of token id (empty + !present = hole)
    std::vector<uint8_t> present;                     // 1 if id is a token
    std::vector<std::pair<int32_t, int32_t>> merges;  // rank order; result = tokens[a] + tokens[b]
    std::vector<int32_t> specials;                    // ids matched verbatim in the text before BPE
    std::string name;
};

class BpeTokenizer final : public Tokenizer {
  public:
    // Validates the model (every byte has a single-byte token; merge results exist). `source` names the
    // file(s) in error messages.
    BpeTokenizer(BpeModel model, const std::string& source);

    std::vector<int32_t> encode(const std::string& text) const override;
    std::string decode(const std::vector<int32_t>& ids) const override;
    std::string decode_piece(int32_t prev, int32_t id) const override;
    int32_t vocab_size() const override { return (int32_t)m_.tokens.size(); }
    int32_t bos_id() const override { return eot_; }
    int32_t eos_id() const override { return eot_; }
    std::string name() const override { return m_.name; }

    const BpeModel& model() const { return m_; }
    int32_t token_id(const std::string& bytes) const;  // -1 if not a token
    // BPE of one pre-tokenised piece (no special-token handling); appends to out.
    void encode_piece(const char* s, size_t n, std::vector<int32_t>& out) const;
    void clear_cache() const;

  private:
    void encode_ordinary(const char* s, size_t n, std::vector<int32_t>& out) const;
    void bpe(const char* s, size_t n, std::vector<int32_t>& out) const;

    BpeModel m_;
    int32_t byte_id_[256];
    int32_t eot_ = -1;
    std::unordered_map<std::string, int32_t> by_bytes_;
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merge_;  // (a<<32|b) -> (rank, result id)
    std::vector<std::string> special_text_;
    mutable std::shared_mutex mu_;  // readers share the cache; inserting takes it exclusively
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// GPT-2 layout: vocab.json ({"visible token": id}) + merges.txt ("#version" line, then "a b" per line).
std::unique_ptr<BpeTokenizer> load_gpt2_tokenizer(const std::string& vocab_json, const std::string& merges_txt);
// Hugging Face tokenizer.json with model.type "BPE": model.vocab, model.merges ("a b" or ["a","b"]),
// added_tokens (matched verbatim).
std::unique_ptr<BpeTokenizer> load_hf_tokenizer_json(const std::string& path);
// Writes vocab.json + merges.txt (GPT-2 layout, atomic) into folder `dir` (created if needed).
void save_gpt2_tokenizer(const BpeModel& model, const std::string& dir);

}  // namespace unfold
