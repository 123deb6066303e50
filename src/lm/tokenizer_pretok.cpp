// tokenizer_pretok.cpp: the GPT-2 pre-tokeniser as a hand-written scanner.
//
// At each position the alternatives of the regex are tried in order; regex backtracking only matters for
// `\s+(?!\S)`: a whitespace run of k characters followed by a non-space matches its first k-1 characters
// (so the last space can start the next " word" piece), a run that reaches the end of the text matches
// whole, and a single whitespace character before a non-space falls through to `\s+`.
#include "lm/tokenizer_pretok.h"

#include "lm/tokenizer_unicode.h"
#include "unfold/core/error.h"

namespace unfold {
namespace {

struct Cursor {
    const unsigned char* s;
    size_t n;
    // class and byte length of the character at byte offset i (i < n)
    CharClass cls(size_t i, int* len) const {
        unsigned c = s[i];
        if (c < 0x80) {
            *len = 1;
            return unicode_class(c);
        }
        uint32_t cp = utf8_decode(s + i, n - i, len);
        return unicode_class(cp);
    }
    // end of the run of characters of class c starting at i
    size_t run(size_t i, CharClass c) const {
        while (i < n) {
            int len;
            if (cls(i, &len) != c) break;
            i += len;
        }
        return i;
    }
};

// length of a contraction ('s 't 're 've 'm 'll 'd) at s[i] == '\'', or 0
size_t contraction(const unsigned char* s, size_t n, size_t i) {
    if (i + 1 >= n) return 0;
    unsigned char a = s[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= n) return 0;
    unsigned char b = s[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

}  // namespace

void gpt2_pretokenize(const char* text, size_t n, std::vector<TextPiece>& out) {
    UNFOLD_CHECK(n < 0xFFFFFFFFull, "gpt2_pretokenize: text of %zu bytes is too long (max 4 GiB per call)", n);
    Cursor c{(const unsigned char*)text, n};
    const unsigned char* s = c.s;
    size_t i = 0;
    while (i < n) {
        size_t start = i, end;
        if (s[i] == '\'' && (end = contraction(s, n, i)) != 0) {
            out.push_back({(uint32_t)start, (uint32_t)end});
            i += end;
            continue;
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: the class after an optional ASCII space decides
        size_t j = (s[i] == ' ' && i + 1 < n) ? i + 1 : i;
        int len;
        CharClass cj = c.cls(j, &len);
        if (cj != CharClass::SPACE) {
            end = c.run(j, cj);
            out.push_back({(uint32_t)start, (uint32_t)(end - start)});
            i = end;
            continue;
        }
        // whitespace: s[i] itself is whitespace here (a space followed by whitespace, or other whitespace)
        size_t k = 0, last = i;
        end = i;
        while (end < n) {
            int l;
            if (c.cls(end, &l) != CharClass::SPACE) break;
            last = end;
            end += l;
            k++;
        }
        if (end < n && k >= 2) end = last;  // \s+(?!\S): leave the last space for the next piece
        out.push_back({(uint32_t)start, (uint32_t)(end - start)});
        i = end;
    }
}

}  // namespace unfold
