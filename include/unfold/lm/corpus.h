// corpus.h: text corpora -> token streams for language-model training.
//
//   text sources      corpus_read_text (any UTF-8 file), corpus_kjv_text (the King James Bible from the
//                     bible-kjv package's `bible` program), corpus_gcide_text (GCIDE dictionary, dictd files)
//   tokenising        corpus_tokenize (parallel for byte-level BPE, identical to tok.encode(text)),
//                     corpus_load_tokens (cached as "<text>.tok-<hash>.npy" beside the text)
//   splitting         corpus_split: the last val_frac of the stream is validation (deterministic)
//   baselines         unigram entropy of a stream; unigram cross-entropy of validation under the train counts
//   batches           sample_batch: B windows of T+1 tokens, a pure function of (seed, step)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/lm/tokenizer.h"

namespace unfold {

// ---- text sources ----
std::string corpus_read_text(const std::string& path);  // non-empty; NUL bytes rejected (not a text file)
// Every verse of the KJV (31,102), one per line, "Book c:v" references stripped, a blank line between
// chapters. Runs `bible -f gen1:1-rev22:21` (Debian packages bible-kjv + bible-kjv-text).
std::string corpus_kjv_text(const std::string& bible_program = "bible");
// GCIDE's entries in file order: the .dict.dz is decompressed with `gzip -dc` (dictzip is gzip), entries are
// located through the .index file (dictd base64 offsets, validated), indentation and "[1913 Webster]"-style
// source lines removed, entries separated by blank lines. max_bytes > 0 stops after that much text.
std::string corpus_gcide_text(const std::string& dict_dz = "/usr/share/dictd/gcide.dict.dz",
                              const std::string& index = "/usr/share/dictd/gcide.index", size_t max_bytes = 0);
// Writes "kjv" / "gcide" text to `out_path` (atomic) and returns its size in bytes.
size_t corpus_write_source(const std::string& source, const std::string& out_path);

// ---- tokenising ----
std::vector<int32_t> corpus_tokenize(const Tokenizer& tok, const std::string& text, const Context& ctx = {});
// Tokens of a text file, cached beside it (cache=true) as <path>.tok-<16 hex>.npy (int32), the hash covering
// the text bytes and the tokenizer (name, vocab size, encodings of a probe text). A stale or corrupt cache is
// rebuilt; an unwritable folder only skips the cache.
std::vector<int32_t> corpus_load_tokens(const std::string& text_path, const Tokenizer& tok, bool cache = true,
                                        const Context& ctx = {});
std::string corpus_cache_path(const std::string& text_path, const std::string& text, const Tokenizer& tok);

// ---- splitting and baselines ----
struct TokenSplit {
    std::vector<int32_t> train, val;
};
// train = the first (1 - val_frac) of the stream, val = the rest; 0 < val_frac < 1, both parts non-empty.
TokenSplit corpus_split(const std::vector<int32_t>& tokens, double val_frac);

// Entropy of the empirical unigram distribution of the stream, in bits and nats per token.
double unigram_entropy_bits(const std::vector<int32_t>& tokens, int32_t vocab_size);
double unigram_entropy_nats(const std::vector<int32_t>& tokens, int32_t vocab_size);
// Cross-entropy (nats/token) of `eval` under the add-alpha smoothed unigram model of `train`: the loss a
// model that ignores context would reach on held-out data.
double unigram_cross_entropy_nats(const std::vector<int32_t>& train, const std::vector<int32_t>& eval,
                                  int32_t vocab_size, double alpha = 1.0);

// ---- batches ----
// out[b*(T+1) + t] = tokens[start_b + t], start_b uniform in [0, n - T - 1] drawn from Rng(seed, stream
// 0x6261746368).split(step): the same (seed, step) always gives the same batch, whatever came before.
void sample_batch(const int32_t* tokens, size_t n, int B, int T, uint64_t seed, uint64_t step, int32_t* out);
std::vector<int32_t> sample_batch(const std::vector<int32_t>& tokens, int B, int T, uint64_t seed, uint64_t step);
// Starts of up to max_windows non-overlapping windows of T+1 tokens spread evenly over the stream (for a
// deterministic validation loss); all windows if max_windows <= 0.
std::vector<size_t> eval_window_starts(size_t n, int T, int max_windows);

}  // namespace unfold
