// rng.cpp: normal draws, bounded integers and the thread-count-independent fill helpers.
#include "unfold/core/rng.h"

#include <cmath>

namespace unfold {

double Rng::normal() {
    // Box-Muller on two consecutive draws; u1 in (0, 1] so log is finite.
    double u1 = 1.0 - uniform_double();
    double u2 = uniform_double();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

uint64_t Rng::below(uint64_t n) {
    if (n <= 1) return 0;
    // Lemire-style rejection to avoid modulo bias.
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t r = next_u64();
        if (r >= threshold) return r % n;
    }
}

void rng_fill_uniform(float* out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset, float lo, float hi) {
    const uint64_t key = rng_key(seed, stream);
    const float scale = hi - lo;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = lo + scale * u64_to_unit_float(rng_at(key, offset + i));
}

void rng_fill_normal(float* out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset, float mean, float std) {
    const uint64_t key = rng_key(seed, stream);
#pragma omp parallel for schedule(static) if (n > 16384)
    for (size_t i = 0; i < n; i++) {
        // element i owns counters 2(offset+i) and 2(offset+i)+1
        uint64_t c = 2 * (offset + i);
        double u1 = 1.0 - u64_to_unit_double(rng_at(key, c));
        double u2 = u64_to_unit_double(rng_at(key, c + 1));
        out[i] = mean + std * (float)(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    }
}

void rng_permutation(uint32_t* out, size_t n, Rng& rng) {
    for (size_t i = 0; i < n; i++) out[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng.below(i);
        uint32_t t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
}

}  // namespace unfold
