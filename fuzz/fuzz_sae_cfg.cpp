// fuzz_sae_cfg.cpp: an SAE's cfg.json (sae/sae.h, sae_load), SAELens' and sparsify's layouts. The fuzzed bytes
// are cfg.json in two folders written once with valid weights for d_in 4, d_sae 8: a SAELens folder whose
// sae_weights.safetensors holds every architecture's tensors (W_enc, b_enc, b_gate, W_dec, b_dec, threshold,
// topk_threshold, r_mag, b_mag) and a sparsify folder (sae.safetensors). An SAE that loads must encode and
// decode a few rows, and its hook information must read.
#include <vector>

#include "fuzz_util.h"
#include "unfold/io/safetensors.h"
#include "unfold/sae/sae.h"

using namespace unfold;

namespace {

const int64_t kD = 4, kF = 8;

struct Folders {
    std::string saelens, sparsify;
};

const Folders& folders() {
    static const Folders f = [] {
        Folders r;
        r.saelens = unfold_fuzz::scratch_subdir("saelens");
        r.sparsify = unfold_fuzz::scratch_subdir("sparsify");
        std::vector<float> w((size_t)(kD * kF)), b((size_t)kF, 0.1f), bd((size_t)kD, -0.2f), th((size_t)kF, 0.05f),
            zero((size_t)kF, 0.0f), t1 = {0.01f};
        for (size_t i = 0; i < w.size(); i++) w[i] = (float)((int)(i * 7 % 11) - 5) / 5.0f;
        safetensors_write(r.saelens + "/sae_weights.safetensors",
                          {{"W_enc", {kD, kF}, w.data()}, {"b_enc", {kF}, b.data()}, {"b_gate", {kF}, b.data()},
                           {"W_dec", {kF, kD}, w.data()}, {"b_dec", {kD}, bd.data()}, {"threshold", {kF}, th.data()},
                           {"topk_threshold", {}, t1.data()}, {"r_mag", {kF}, zero.data()}, {"b_mag", {kF}, b.data()}});
        safetensors_write(r.sparsify + "/sae.safetensors",
                          {{"encoder.weight", {kF, kD}, w.data()}, {"encoder.bias", {kF}, b.data()},
                           {"W_dec", {kF, kD}, w.data()}, {"b_dec", {kD}, bd.data()}});
        return r;
    }();
    return f;
}

void use(const Sae& s) {
    if (s.d() != kD || s.F() != kF) __builtin_trap();  // the weights decide the sizes
    std::vector<float> x((size_t)(3 * kD)), xhat((size_t)(3 * kD));
    for (size_t i = 0; i < x.size(); i++) x[i] = (float)i - 5.0f;
    SparseCodes codes;
    sae_encode(s, x.data(), 3, codes);
    sae_decode(s, codes, xhat.data());
    (void)sae_hook_info(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const Folders& f = folders();
    for (const std::string* dir : {&f.saelens, &f.sparsify}) {
        unfold_fuzz::put_file("cfg.json", data, size, *dir);
        unfold_fuzz::accepts([&] { use(sae_load(*dir)); });
    }
    return 0;
}
