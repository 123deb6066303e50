// bpe_train.h: trains a byte-level BPE tokenizer (GPT-2 style) on our own corpora.
//
// Words are the pieces of GPT-2's pre-tokeniser (special tokens in the text act as separators and are not
// counted). Starting from the 256 single bytes (ids 0..255 in byte order), each step merges the most
// frequent adjacent pair across all words (weighted by word counts) into a new token, updating the pair
// counts incrementally for the words that contain the pair only. Ties: the pair with the smallest
// (left id, right id) wins, so training is deterministic. Special tokens get the last ids. The result
// saves as vocab.json + merges.txt (save_gpt2_tokenizer) and loads back with load_tokenizer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/lm/tokenizer_gpt2.h"

namespace unfold {

struct BpeTrainConfig {
    int32_t vocab_size = 4096;                              // target, including the 256 bytes and the specials
    int64_t min_pair_count = 2;                             // stop early when the best pair is rarer than this
    std::vector<std::string> specials = {"<|endoftext|>"};  // appended after the merged tokens
    Context ctx;                                            // threads, messages, progress
};

struct BpeTrainStats {
    int64_t n_words = 0;         // pre-tokenised words in the text
    int64_t n_unique_words = 0;
    int32_t n_merges = 0;
    double seconds = 0;
};

BpeModel bpe_train(const std::string& text, const BpeTrainConfig& cfg, BpeTrainStats* stats = nullptr);

// Trains and writes <dir>/vocab.json + <dir>/merges.txt atomically; returns the loaded tokenizer.
std::unique_ptr<BpeTokenizer> bpe_train_save(const std::string& text, const BpeTrainConfig& cfg,
                                             const std::string& dir, BpeTrainStats* stats = nullptr);

}  // namespace unfold
