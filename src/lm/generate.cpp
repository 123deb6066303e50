// generate.cpp: KV-cached sampling loop and the token sampler.
#include "unfold/lm/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "unfold/core/error.h"
#include "unfold/core/rng.h"

namespace unfold {

static void check_sampling(float temperature, int64_t top_k) {
    UNFOLD_CHECK(temperature >= 0.0f && std::isfinite(temperature),
                 "generate: temperature %g: expected a finite number >= 0 (0 = greedy)", (double)temperature);
    UNFOLD_CHECK(top_k >= 0, "generate: top_k %lld: expected >= 0 (0 = all tokens)", (long long)top_k);
}

int32_t sample_logits(const float* logits, int64_t V, float temperature, int64_t top_k, uint64_t seed,
                      uint64_t step) {
    check_sampling(temperature, top_k);
    if (temperature == 0.0f) {
        int64_t best = 0;
        for (int64_t j = 1; j < V; j++)
            if (logits[j] > logits[best]) best = j;
        return (int32_t)best;
    }
    std::vector<int32_t> ids((size_t)V);
    std::iota(ids.begin(), ids.end(), 0);
    int64_t k = top_k > 0 && top_k < V ? top_k : V;
    if (k < V)
        std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
            return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
        });
    float mx = -INFINITY;
    for (int64_t i = 0; i < k; i++) mx = std::max(mx, logits[ids[(size_t)i]]);
    std::vector<double> p((size_t)k);
    double sum = 0.0;
    for (int64_t i = 0; i < k; i++) {
        p[(size_t)i] = std::exp(((double)logits[ids[(size_t)i]] - mx) / temperature);
        sum += p[(size_t)i];
    }
    Rng rng(seed, 0x6e6e);
    double u = u64_to_unit_double(rng_at(rng.key, step)) * sum, acc = 0.0;
    for (int64_t i = 0; i < k; i++) {
        acc += p[(size_t)i];
        if (u < acc) return ids[(size_t)i];
    }
    return ids[(size_t)(k - 1)];
}

std::vector<int32_t> lm_generate(const LmModel& m, const std::vector<int32_t>& prompt, const GenerateOptions& opts,
                                 const std::function<void(int32_t, int32_t)>& on_token,
                                 std::vector<std::vector<float>>* logits_out) {
    UNFOLD_CHECK(!prompt.empty(), "generate: the prompt needs at least one token (e.g. BOS)");
    check_sampling(opts.temperature, opts.top_k);  // before any work: a negative value is a mistake, not "greedy"
    const int64_t V = m.cfg.vocab;
    int64_t positions = (int64_t)prompt.size() + std::max<int64_t>(opts.max_new_tokens - 1, 0);
    UNFOLD_CHECK(positions <= m.cfg.n_ctx, "generate: prompt of %zu tokens + %lld new tokens exceeds the context %lld",
                 prompt.size(), (long long)opts.max_new_tokens, (long long)m.cfg.n_ctx);
    KvCache cache;
    cache.init(m.cfg, std::max<int64_t>(positions, 1));
    LmActs acts;
    ForwardOptions fo;
    fo.cache = &cache;
    fo.hooks = opts.hooks;
    std::vector<int32_t> out;
    lm_forward(m, acts, prompt.data(), 1, (int64_t)prompt.size(), fo);
    const float* last = acts.logits.data() + (prompt.size() - 1) * V;
    int32_t prev = prompt.back();
    for (int64_t step = 0; step < opts.max_new_tokens; step++) {
        if (logits_out) logits_out->emplace_back(last, last + V);
        int32_t next = sample_logits(last, V, opts.temperature, opts.top_k, opts.seed, (uint64_t)step);
        if (next == opts.stop_id) break;
        out.push_back(next);
        if (on_token) on_token(prev, next);
        prev = next;
        if (step + 1 == opts.max_new_tokens) break;
        lm_forward(m, acts, &next, 1, 1, fo);
        last = acts.logits.data();
    }
    return out;
}

}  // namespace unfold
