// tokenizer.h: the tokenizer interface shared by generation, training and activation caching.
//
// Implementations (src/lm/tokenizer_*.cpp):
//   - GPT-2 byte-level BPE: a folder with vocab.json + merges.txt, or a tokenizer.json;
//   - llama2.c / sentencepiece BPE with byte fallback: a tok*.bin file (llama2.c format);
//   - unfold's own byte-level BPE (trained by bpe_train), saved in the GPT-2 layout.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace unfold {

class Tokenizer {
  public:
    virtual ~Tokenizer() = default;
    virtual std::vector<int32_t> encode(const std::string& text) const = 0;  // no BOS/EOS added
    virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
    // The text a token adds when appended after `prev` (llama2.c semantics: a leading space is dropped
    // right after BOS; <0xXX> byte tokens become raw bytes). Concatenating pieces = the generated text.
    virtual std::string decode_piece(int32_t prev, int32_t id) const = 0;
    virtual int32_t vocab_size() const = 0;
    virtual int32_t bos_id() const = 0;  // -1 if none
    virtual int32_t eos_id() const = 0;  // -1 if none (GPT-2: <|endoftext|> for both)
    virtual std::string name() const = 0;
};

// Opens a tokenizer from a file or folder (kind detected from the files); errors name the file and field.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace unfold
