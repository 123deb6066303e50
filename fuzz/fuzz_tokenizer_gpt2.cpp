// fuzz_tokenizer_gpt2.cpp: the GPT-2 byte-level BPE loader (lm/tokenizer_gpt2.h) on vocab.json + merges.txt.
// The input is vocab.json, a NUL byte, then merges.txt (no NUL: all vocab.json, and a merges.txt with only its
// "#version" line). A tokenizer it accepts must encode and decode (tokenizer_checks.h).
#include <cstring>

#include "tokenizer_checks.h"
#include "unfold/lm/tokenizer_gpt2.h"

using namespace unfold;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint8_t* nul = (const uint8_t*)std::memchr(data, 0, size);
    const size_t nv = nul ? (size_t)(nul - data) : size;
    const std::string vocab = unfold_fuzz::put_file("vocab.json", data, nv);
    const std::string merges = nul ? unfold_fuzz::put_file("merges.txt", nul + 1, size - nv - 1)
                                   : unfold_fuzz::put_file("merges.txt", std::string("#version: 0.2\n"));
    unfold_fuzz::accepts([&] {
        auto tok = load_gpt2_tokenizer(vocab, merges);
        unfold_fuzz::exercise_tokenizer(*tok, data, size);
    });
    return 0;
}
