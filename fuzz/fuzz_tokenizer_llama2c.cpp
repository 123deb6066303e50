// fuzz_tokenizer_llama2c.cpp: the llama2.c / sentencepiece tok*.bin loader (lm/tokenizer_llama2c.h): records of
// score, length and bytes. An accepted tokenizer must encode and decode (tokenizer_checks.h).
#include "tokenizer_checks.h"
#include "unfold/lm/tokenizer_llama2c.h"

using namespace unfold;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = unfold_fuzz::put_file("tok.bin", data, size);
    unfold_fuzz::accepts([&] {
        auto tok = load_llama2c_tokenizer(path);
        unfold_fuzz::exercise_tokenizer(*tok, data, size);
    });
    unfold_fuzz::accepts([&] { load_llama2c_tokenizer(path, 512); });
    return 0;
}
