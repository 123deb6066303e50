// generate.h: autoregressive text generation with a KV cache (batch 1).
//
// The prompt is run through the model in one pass that fills the cache; each new token then costs one
// single-position forward. Greedy when temperature == 0 (ties go to the lowest id, like llama2.c's argmax),
// otherwise softmax(logits / temperature), optionally restricted to the top_k ids, sampled with the
// counter-based Rng (same seed -> same text).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "unfold/lm/hooks.h"
#include "unfold/lm/model.h"

namespace unfold {

struct GenerateOptions {
    int64_t max_new_tokens = 200;
    float temperature = 0.0f;  // >= 0 (a negative one is refused, not taken as greedy)
    int64_t top_k = 0;         // 0 = all; negative is refused
    uint64_t seed = 0;
    int32_t stop_id = -1;    // stop (without emitting) when this id is sampled; -1 = never
    const HookSet* hooks = nullptr;
};

// Returns the generated ids (prompt excluded). on_token(prev, id) is called for each new token as it comes.
// The prompt must hold at least one token; prompt + new tokens are limited by the model context.
std::vector<int32_t> lm_generate(const LmModel& m, const std::vector<int32_t>& prompt, const GenerateOptions& opts,
                                 const std::function<void(int32_t prev, int32_t id)>& on_token = nullptr,
                                 std::vector<std::vector<float>>* logits_out = nullptr);

// Picks the next id from one row of logits [V].
int32_t sample_logits(const float* logits, int64_t V, float temperature, int64_t top_k, uint64_t seed,
                      uint64_t step);

}  // namespace unfold
