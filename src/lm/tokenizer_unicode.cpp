// tokenizer_unicode.cpp: UTF-8 decoding, character classes (binary search over generated range tables)
// and GPT-2's byte <-> unicode mapping. ASCII and Latin-1 classes come from a 256-entry table.
#include "lm/tokenizer_unicode.h"

#include <array>
#include <cstddef>

namespace unfold {
namespace unicode_tables {
extern const char* const k_unicode_version;
extern const uint32_t k_letter[][2];
extern const size_t k_letter_count;
extern const uint32_t k_number[][2];
extern const size_t k_number_count;
extern const uint32_t k_space[][2];
extern const size_t k_space_count;
}  // namespace unicode_tables

namespace {

bool in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;  // first range with r[i][1] >= cp
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r[mid][1] < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && r[lo][0] <= cp;
}

CharClass slow_class(uint32_t cp) {
    using namespace unicode_tables;
    if (cp == k_invalid_cp) return CharClass::OTHER;
    if (in_ranges(k_letter, k_letter_count, cp)) return CharClass::LETTER;
    if (in_ranges(k_number, k_number_count, cp)) return CharClass::NUMBER;
    if (in_ranges(k_space, k_space_count, cp)) return CharClass::SPACE;
    return CharClass::OTHER;
}

struct Latin1Classes {
    std::array<CharClass, 256> c;
    Latin1Classes() {
        for (int i = 0; i < 256; i++) c[i] = slow_class((uint32_t)i);
    }
};
const Latin1Classes& latin1() {
    static const Latin1Classes t;
    return t;
}

struct ByteMap {
    std::array<uint32_t, 256> to_cp;
    std::array<int16_t, 324> from_cp;  // all images are < 0x144
    ByteMap() {
        from_cp.fill(-1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            to_cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
            from_cp[to_cp[b]] = (int16_t)b;
        }
    }
};
const ByteMap& byte_map() {
    static const ByteMap m;
    return m;
}

}  // namespace

CharClass unicode_class(uint32_t cp) {
    if (cp < 256) return latin1().c[cp];
    return slow_class(cp);
}
bool unicode_is_letter(uint32_t cp) { return unicode_class(cp) == CharClass::LETTER; }
bool unicode_is_number(uint32_t cp) { return unicode_class(cp) == CharClass::NUMBER; }
bool unicode_is_space(uint32_t cp) { return unicode_class(cp) == CharClass::SPACE; }
const char* unicode_tables_version() { return unicode_tables::k_unicode_version; }

uint32_t utf8_decode(const unsigned char* s, size_t n, int* len) {
    *len = 1;
    unsigned c = s[0];
    if (c < 0x80) return c;
    int need;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) need = 1, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) need = 2, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) need = 3, cp = c & 0x07, min = 0x10000;
    else return k_invalid_cp;
    if ((size_t)need >= n) return k_invalid_cp;
    for (int k = 1; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80) return k_invalid_cp;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return k_invalid_cp;
    *len = need + 1;
    return cp;
}

uint32_t gpt2_byte_to_unicode(uint8_t b) { return byte_map().to_cp[b]; }

int gpt2_unicode_to_byte(uint32_t cp) {
    if (cp >= byte_map().from_cp.size()) return -1;
    return byte_map().from_cp[cp];
}

std::string gpt2_bytes_to_visible(const std::string& bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) utf8_append(out, gpt2_byte_to_unicode(b));
    return out;
}

bool gpt2_visible_to_bytes(const std::string& visible, std::string* bytes) {
    bytes->clear();
    const auto* s = (const unsigned char*)visible.data();
    size_t n = visible.size();
    for (size_t i = 0; i < n;) {
        int len;
        uint32_t cp = utf8_decode(s + i, n - i, &len);
        int b = cp == k_invalid_cp ? -1 : gpt2_unicode_to_byte(cp);
        if (b < 0) return false;
        *bytes += (char)b;
        i += len;
    }
    return true;
}

}  // namespace unfold
