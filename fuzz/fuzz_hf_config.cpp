// fuzz_hf_config.cpp: a Hugging Face config.json (lm/model.h, lm_config_from_hf_json) and the checkpoint
// loader that trusts it (lm_load_hf). The fuzzed bytes are config.json in a folder that holds the tiny test
// model's model.safetensors (tests/fixtures/lm/gpt2_tiny, or llama_tiny when the text mentions "llama"), so a
// config that disagrees with the weights must be refused with one line, not allocate what it claims.
#include <string>

#include "fuzz_util.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/lm/checkpoint.h"

using namespace unfold;

static std::string model_folder(const char* which) {
    const std::string d = unfold_fuzz::scratch_subdir(which);
    const std::string weights = d + "/model.safetensors";
    if (!file_exists(weights))
        unfold_fuzz::put_file("model.safetensors",
                              read_file(std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/" + which + "/model.safetensors"),
                              d);
    return d;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text((const char*)data, size);
    unfold_fuzz::accepts([&] {
        LmConfig c = lm_config_from_hf_json(json_parse(text, "config.json"), "config.json");
        (void)c.describe();
        (void)lm_config_to_hf_json(c).dump(-1);
    });
    const std::string dir = model_folder(text.find("llama") != std::string::npos ? "llama_tiny" : "gpt2_tiny");
    unfold_fuzz::put_file("config.json", text, dir);
    unfold_fuzz::accepts([&] {
        LmModel m;
        lm_load_hf(m, dir);
    });
    return 0;
}
