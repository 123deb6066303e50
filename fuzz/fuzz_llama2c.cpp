// fuzz_llama2c.cpp: the llama2.c checkpoint reader (lm/checkpoint.h, lm_load_llama2c) on the raw bytes. Almost
// every mutation stops at the exact-size check; fuzz_llama2c_sized gets past it.
#include "fuzz_util.h"
#include "unfold/lm/checkpoint.h"

using namespace unfold;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = unfold_fuzz::put_file("fuzz.bin", data, size);
    unfold_fuzz::accepts([&] {
        LmModel m;
        lm_load_llama2c(m, path);
    });
    return 0;
}
