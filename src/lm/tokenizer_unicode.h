// tokenizer_unicode.h: the Unicode pieces the byte-level BPE tokenizers need.
//   - UTF-8 decoding that never fails (an invalid byte decodes as one "other" code point of 1 byte),
//   - character classes of the GPT-2 pre-tokeniser: \p{L}, \p{N}, \s (tables generated from Python's
//     unicodedata by tools/reference/gen_unicode_tables.py into tokenizer_unicode_tables.cpp),
//   - GPT-2's reversible byte <-> unicode-character mapping used by vocab.json / merges.txt.
#pragma once
#include "core/utf8.h"  // utf8_append
#include <cstdint>
#include <string>

namespace unfold {

enum class CharClass : uint8_t { LETTER, NUMBER, SPACE, OTHER };

CharClass unicode_class(uint32_t cp);
bool unicode_is_letter(uint32_t cp);
bool unicode_is_number(uint32_t cp);
bool unicode_is_space(uint32_t cp);
const char* unicode_tables_version();

// Decodes the code point starting at s[i] (n = bytes available). Sets *len to the bytes consumed (>= 1).
// Invalid / truncated / overlong sequences and surrogates decode as 0xFFFFFFFF with *len = 1.
constexpr uint32_t k_invalid_cp = 0xFFFFFFFFu;
uint32_t utf8_decode(const unsigned char* s, size_t n, int* len);

// GPT-2 bytes_to_unicode: byte b -> code point. Printable Latin-1 bytes map to themselves; the other 68
// bytes map to U+0100.. in byte order. gpt2_unicode_to_byte returns -1 for a code point not in the image.
uint32_t gpt2_byte_to_unicode(uint8_t b);
int gpt2_unicode_to_byte(uint32_t cp);
// Raw bytes -> the byte-level string of vocab.json ("Ġhello"), and back (false if a char is not in the image).
std::string gpt2_bytes_to_visible(const std::string& bytes);
bool gpt2_visible_to_bytes(const std::string& visible, std::string* bytes);

}  // namespace unfold
