// fuzz_llama2c_sized.cpp: the llama2.c checkpoint reader past its size check. The input is the 28-byte header
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len as int32), one flag byte and a payload.
// When the header describes a model of at most 4 MB, the file handed to the reader is exactly the size that
// header needs (llama2.c's layout, see src/lm/checkpoint_llama2c.cpp), its tensor region the payload repeated;
// flag bit 0 also writes the rotary tables the reader expects (theta 10000), so mutations of the header and of
// the weights reach the rest of the reader (shapes, NaN/Inf checks, the model it builds) instead of all
// stopping at "file is N bytes but the header needs M". Other headers go to the reader as given.
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/layers.h"

using namespace unfold;

static const uint64_t kMaxBytes = 4u << 20;

// The float count llama2.c's layout needs for this header, or 0 when the header is not a small sane one.
static uint64_t layout_floats(const int32_t h[7], uint64_t* freq_off, uint64_t* freq_half) {
    for (int i = 0; i < 7; i++)
        if (i != 5 && (h[i] <= 0 || h[i] > 4096)) return 0;
    if (h[5] == 0 || h[5] < -65536 || h[5] > 65536) return 0;
    const uint64_t C = h[0], F = h[1], L = h[2], NH = h[3], KV = h[4], V = h[5] > 0 ? h[5] : -(int64_t)h[5], T = h[6];
    if (C % NH != 0) return 0;
    const uint64_t hs = C / NH, KVD = KV * hs, half = hs / 2;
    const uint64_t before_freq = V * C + 2 * L * C + 2 * L * C * C + 2 * L * KVD * C + 3 * L * F * C + C;
    *freq_off = before_freq;
    *freq_half = half;
    return before_freq + 2 * T * half + (h[5] < 0 ? V * C : 0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string file;
    int32_t h[7] = {0};
    uint64_t freq_off = 0, half = 0, floats = 0;
    if (size >= 28) {
        std::memcpy(h, data, 28);
        floats = layout_floats(h, &freq_off, &half);
    }
    if (floats > 0 && 28 + 4 * floats <= kMaxBytes) {
        const uint8_t flags = size > 28 ? data[28] : 0;
        const uint8_t* payload = data + std::min<size_t>(size, 29);
        const size_t np = size > 29 ? size - 29 : 0;
        file.assign((const char*)data, 28);
        file.resize(28 + 4 * floats, '\0');
        if (np > 0)
            for (size_t i = 28; i < file.size(); i++) file[i] = (char)payload[(i - 28) % np];
        if ((flags & 1) && half > 0) {
            const int64_t T = h[6];
            std::vector<float> cs((size_t)(T * half)), sn((size_t)(T * half));
            rope_tables(cs.data(), sn.data(), T, (int64_t)(2 * half), 10000.0f);
            std::memcpy(&file[28 + 4 * freq_off], cs.data(), 4 * cs.size());
            std::memcpy(&file[28 + 4 * (freq_off + T * half)], sn.data(), 4 * sn.size());
        }
    } else {
        file.assign((const char*)data, size);
    }
    const std::string path = unfold_fuzz::put_file("fuzz_sized.bin", file);
    unfold_fuzz::accepts([&] {
        LmModel m;
        lm_load_llama2c(m, path);
        if (m.cfg.d_model != h[0] || m.cfg.n_layers != h[2]) __builtin_trap();  // the model is the header's
    });
    return 0;
}
