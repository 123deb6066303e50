// features_testing.h: what the features tests share: an in-distribution corpus for stories260K (its own
// sampled stories), SAEs with known behaviour, temporary folders.
#pragma once
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "../lm/lm_testing.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/generate.h"
#include "unfold/sae/sae.h"

namespace unfold::features_testing {

using namespace unfold::lm_testing;

inline const LmModel& stories() {
    static LmModel m = [] {
        LmModel x;
        lm_load(x, kStories);
        return x;
    }();
    return m;
}

// n stories of `len` tokens sampled from stories260K (temperature 1, seeds 1..n), each starting with BOS,
// concatenated: a corpus the model knows.
inline std::vector<int32_t> sampled_corpus(int n, int len) {
    std::vector<int32_t> out;
    for (int s = 1; s <= n; s++) {
        GenerateOptions o;
        o.max_new_tokens = len - 1;
        o.temperature = 1.0f;
        o.seed = (uint64_t)s;
        auto ids = lm_generate(stories(), {1}, o);
        out.push_back(1);
        out.insert(out.end(), ids.begin(), ids.end());
    }
    return out;
}

inline Sae make_sae(SaeArch arch, int64_t d, int64_t F, int k, uint64_t seed) {
    SaeConfig c;
    c.arch = arch;
    c.d_in = d;
    c.d_sae = F;
    c.k = k;
    return sae_init(c, seed);
}

struct TmpDir {
    std::string path;
    TmpDir() {
        const char* t = std::getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/unfold_features_test_XXXXXX";
        char* p = mkdtemp(tmpl.data());
        if (!p) std::abort();
        path = p;
    }
    ~TmpDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& n) const { return path + "/" + n; }
};

}  // namespace unfold::features_testing
