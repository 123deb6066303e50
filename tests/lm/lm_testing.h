// lm_testing.h: what several lm tests share: the models they run (the real stories260K and the tiny
// GPT-2 / Llama fixtures), stories260K's golden files, a fixed token pattern and a one-call forward.
#pragma once
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "unfold/io/fileio.h"
#include "unfold/lm/hooks.h"
#include "unfold/lm/model.h"

namespace unfold::lm_testing {

inline const std::string kStoriesDir = std::string(UNFOLD_SOURCE_DIR) + "/models/stories260K/";
inline const std::string kStories = kStoriesDir + "stories260K.bin";
inline const std::string kGpt2Tiny = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/gpt2_tiny";
inline const std::string kLlamaTiny = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/llama_tiny";

// stories260K's greedy continuation of BOS (200 ids, from llama2.c)
inline std::vector<int32_t> golden_ids() {
    std::istringstream in(read_file(kStoriesDir + "golden_greedy_ids.txt"));
    std::vector<int32_t> ids;
    for (int32_t x; in >> x;) ids.push_back(x);
    return ids;
}

// stories260K's logits at positions 0-4 of that continuation (5 rows of 512)
inline std::vector<std::vector<double>> golden_logits() {
    std::istringstream in(read_file(kStoriesDir + "golden_logits_pos0-4.txt"));
    std::vector<std::vector<double>> rows;
    for (std::string line; std::getline(in, line);) {
        std::istringstream ls(line);
        std::vector<double> r;
        for (double v; ls >> v;) r.push_back(v);
        if (!r.empty()) rows.push_back(r);
    }
    return rows;
}

// n ids spread over [0, V) by a fixed pattern
inline std::vector<int32_t> some_ids(int64_t n, int64_t V) {
    std::vector<int32_t> ids((size_t)n);
    for (int64_t i = 0; i < n; i++) ids[(size_t)i] = (int32_t)((i * 37 + 11) % V);
    return ids;
}

// logits of a forward pass over ids as B rows of ids.size() / B tokens
inline std::vector<float> forward_logits(const LmModel& m, const std::vector<int32_t>& ids, int64_t B,
                                         const HookSet* hooks = nullptr) {
    LmActs a;
    ForwardOptions o;
    o.hooks = hooks;
    lm_forward(m, a, ids.data(), B, (int64_t)ids.size() / B, o);
    return a.logits.vec();
}

}  // namespace unfold::lm_testing
