// fuzz_tokenizer_json.cpp: the Hugging Face tokenizer.json loader (BPE model, merges as "a b" or ["a", "b"],
// added tokens), the other file layout of GPT-2-family tokenizers. An accepted tokenizer must encode and
// decode (tokenizer_checks.h).
#include "tokenizer_checks.h"
#include "unfold/lm/tokenizer_gpt2.h"

using namespace unfold;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = unfold_fuzz::put_file("tokenizer.json", data, size);
    unfold_fuzz::accepts([&] {
        auto tok = load_hf_tokenizer_json(path);
        unfold_fuzz::exercise_tokenizer(*tok, data, size);
    });
    return 0;
}
