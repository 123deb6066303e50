// tokenizer_checks.h: what the tokenizer targets ask of a tokenizer the loader accepted: encoding a few fixed
// texts and a slice of the input itself gives ids inside the vocabulary, decoding gives the text back (both
// formats promise decode(encode(s)) == s for every byte string), and decode_piece takes any id.
#pragma once
#include <algorithm>
#include <string>

#include "fuzz_util.h"
#include "unfold/lm/tokenizer.h"

namespace unfold_fuzz {

inline void exercise_tokenizer(const unfold::Tokenizer& tok, const uint8_t* data, size_t size) {
    const std::string texts[] = {"", "Hello world", " the  cat\n\nsat<|endoftext|>on", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac 1234",
                                 std::string("\x00\xff\x80 x", 5),
                                 std::string((const char*)data, std::min<size_t>(size, 256))};
    const int32_t V = tok.vocab_size();
    for (const std::string& s : texts) {
        std::vector<int32_t> ids = tok.encode(s);
        for (int32_t id : ids)
            if (id < 0 || id >= V) __builtin_trap();
        if (tok.decode(ids) != s) __builtin_trap();
        int32_t prev = tok.bos_id();
        for (int32_t id : ids) {
            (void)tok.decode_piece(prev, id);
            prev = id;
        }
    }
    for (int32_t id : {-1, 0, V - 1, V, 1 << 30}) accepts([&] { (void)tok.decode({id}); });
    (void)tok.name();
}

}  // namespace unfold_fuzz
