// rng.h: a counter-based random number generator.
//
// Every draw is a pure function of (seed, stream, counter): value = splitmix64-finaliser(key + counter*phi),
// key = hash(seed, stream). So a buffer can be filled by any number of threads, each taking a slice of
// counters, and the result is identical whatever the thread count. Use a distinct `stream` per purpose
// (init of W, batch data at step t, ...) so that changing one never shifts another.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace unfold {

inline uint64_t fmix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

inline uint64_t rng_key(uint64_t seed, uint64_t stream) {
    return fmix64(fmix64(seed + 0x9E3779B97F4A7C15ULL) ^ (stream * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL));
}

// the counter-th 64-bit draw of the stream with this key
inline uint64_t rng_at(uint64_t key, uint64_t counter) { return fmix64(key + (counter + 1) * 0x9E3779B97F4A7C15ULL); }

// 24 random bits -> float in [0, 1)
inline float u64_to_unit_float(uint64_t r) { return (float)(r >> 40) * (1.0f / 16777216.0f); }
// 53 random bits -> double in [0, 1)
inline double u64_to_unit_double(uint64_t r) { return (double)(r >> 11) * (1.0 / 9007199254740992.0); }

struct Rng {
    uint64_t key = 0;
    uint64_t counter = 0;

    Rng() = default;
    explicit Rng(uint64_t seed, uint64_t stream = 0) : key(rng_key(seed, stream)), counter(0) {}

    uint64_t next_u64() { return rng_at(key, counter++); }
    uint32_t next_u32() { return (uint32_t)(next_u64() >> 32); }
    float uniform() { return u64_to_unit_float(next_u64()); }               // [0, 1)
    float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
    double uniform_double() { return u64_to_unit_double(next_u64()); }     // [0, 1)
    double normal();                                                       // N(0, 1), Box-Muller
    uint64_t below(uint64_t n);                                            // uniform integer in [0, n)
    // An independent generator for a sub-purpose, e.g. rng.split(instance).
    Rng split(uint64_t substream) const {
        Rng r;
        r.key = fmix64(key ^ (substream * 0xA24BAED4963EE407ULL + 0x9FB21C651E98DF25ULL));
        return r;
    }
};

// Fill helpers. Element i of `out` uses counter (offset + i) of stream (seed, stream), so the result
// does not depend on how the work is split across threads. They run in parallel with OpenMP.
void rng_fill_uniform(float* out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset, float lo, float hi);
void rng_fill_normal(float* out, size_t n, uint64_t seed, uint64_t stream, uint64_t offset, float mean, float std);

// Fisher-Yates shuffle of [0, n) driven by rng.
void rng_permutation(uint32_t* out, size_t n, Rng& rng);

}  // namespace unfold
