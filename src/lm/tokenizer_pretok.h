// tokenizer_pretok.h: GPT-2's pre-tokenisation regex, implemented by hand (no regex engine):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// The text is split into pieces (byte offset, byte length) that cover it exactly, in order. Invalid UTF-8
// bytes count as single "other" characters, so any byte string is accepted and round-trips.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace unfold {

struct TextPiece {
    uint32_t offset = 0;  // relative to the start of the text passed in
    uint32_t length = 0;
};

// Appends the pieces of s[0, n) to `out` (n < 4 GiB).
void gpt2_pretokenize(const char* s, size_t n, std::vector<TextPiece>& out);

}  // namespace unfold
