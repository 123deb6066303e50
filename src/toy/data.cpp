// data.cpp: synthetic toy-model data (Elhage et al. 2022; ARENA pair semantics).
//
// x_i = 0 with probability S_i = 1 - p_i, else U[0,1) (U[-1,1) for signed data). Variants: one-hot (exactly
// one feature, chosen uniformly, value 1), correlated pairs (2k, 2k+1 share one presence draw with the
// head's p, independent magnitudes) and anticorrelated pairs (active w.p. 2p, then exactly one of the two,
// 50/50; needs p <= 0.5). Every value is a pure function of (seed, step_stream, instance, sample, feature)
// through the counter-based hash in toy_kernel.h, so batches never depend on the thread count.
#include <algorithm>

#include "toy/toy_kernel.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/toy/toy.h"

namespace unfold {
namespace toyk {

uint64_t data_key(uint64_t seed, uint64_t step_stream, int inst) {
    // stream 0x70790000... + step: disjoint from the init stream (1) used by toy_init
    Rng r(seed, 0x7079000000000000ULL ^ step_stream);
    return r.split((uint64_t)inst).key;
}

void DataGen::init(const ToyConfig& c) {
    cfg = &c;
    n = c.n_features;
    n_pad = pad8(n);
    is_signed = c.data == ToyData::SIGNED;
    vector_path = c.data != ToyData::ONE_HOT && c.correlated_pairs == 0 && c.anticorrelated_pairs == 0;
    inst.assign(c.n_instances, InstData{});
    const int na_begin = 2 * c.correlated_pairs, na_end = na_begin + 2 * c.anticorrelated_pairs;
    for (int i = 0; i < c.n_instances; i++) {
        InstData& d = inst[i];
        d.thr.assign(n_pad, -1);
        d.inv.assign(n_pad, 0.0f);
        for (int f = 0; f < n; f++) {
            float p = c.density_at(i, f);
            // anticorrelated pair heads draw "pair active" with probability 2p
            if (f >= na_begin && f < na_end && (f - na_begin) % 2 == 0) p = std::min(1.0f, 2.0f * p);
            d.thr[f] = density_threshold(p);
            d.inv[f] = density_inv(d.thr[f]);
        }
    }
}

int gen_generic(const DataGen& g, int inst, uint32_t klo, uint32_t khi, uint32_t s, float* xs, int* act) {
    const int n = g.n;
    const InstData& d = g.inst[inst];
    std::memset(xs, 0, sizeof(float) * g.n_pad);
    const ToyConfig& cfg = *g.cfg;
    const uint32_t base = s * (uint32_t)n;
    if (cfg.data == ToyData::ONE_HOT) {
        uint32_t u = hash32(base, klo, khi);
        int f = (int)(((uint64_t)u * (uint64_t)n) >> 32);
        xs[f] = 1.0f;
        act[0] = f;
        return 1;
    }
    const float full_inv = 1.0f / 2147483648.0f;
    auto sgn = [&](float v) { return g.is_signed ? 2.0f * v - 1.0f : v; };
    const int nc = 2 * cfg.correlated_pairs, na_end = nc + 2 * cfg.anticorrelated_pairs;
    for (int f = 0; f < nc; f += 2) {  // correlated: shared presence draw, independent magnitudes
        uint32_t u0 = hash32(base + f, klo, khi);
        if ((int32_t)(u0 >> 1) <= d.thr[f]) {
            xs[f] = sgn(value_of(u0, d.inv[f]));
            xs[f + 1] = sgn(value_of(hash32(base + f + 1, klo, khi), full_inv));
        }
    }
    for (int f = nc; f < na_end; f += 2) {  // anticorrelated: active w.p. 2p, then one of the two
        uint32_t u0 = hash32(base + f, klo, khi);
        if ((int32_t)(u0 >> 1) <= d.thr[f]) {
            float w = value_of(u0, d.inv[f]);
            float mag = sgn(value_of(hash32(base + f + 1, klo, khi), full_inv));
            xs[w < 0.5f ? f : f + 1] = mag;
        }
    }
    for (int f = na_end; f < n; f++) {
        uint32_t u = hash32(base + f, klo, khi);
        if ((int32_t)(u >> 1) <= d.thr[f]) xs[f] = sgn(value_of(u, d.inv[f]));
    }
    int na = 0;
    for (int f = 0; f < n; f++)
        if (xs[f] != 0.0f) act[na++] = f;
    return na;
}

}  // namespace toyk

void toy_sample_batch(const ToyConfig& cfg, uint64_t step_stream, int B, float* x) {
    cfg.validate("toy_sample_batch");
    UNFOLD_CHECK(B > 0 && (uint64_t)B * (uint64_t)cfg.n_features < (1ULL << 32),
                 "toy_sample_batch: batch %d x %d features exceeds 2^32 draws", B, cfg.n_features);
    toyk::DataGen g;
    g.init(cfg);
    const int I = cfg.n_instances, n = cfg.n_features;
#pragma omp parallel
    {
        std::vector<float> xs(g.n_pad);
        std::vector<int> act(g.n_pad);
#pragma omp for schedule(static)
        for (int inst = 0; inst < I; inst++) {
            uint64_t key = toyk::data_key(cfg.seed, step_stream, inst);
            for (int b = 0; b < B; b++) {
                toyk::gen_sample(g, inst, (uint32_t)key, (uint32_t)(key >> 32), (uint32_t)b, xs.data(), act.data());
                std::copy(xs.begin(), xs.begin() + n, x + ((size_t)b * I + inst) * n);
            }
        }
    }
}

}  // namespace unfold
