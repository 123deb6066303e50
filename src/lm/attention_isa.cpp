// attention_isa.cpp: causal multi-head attention with grouped-query heads (pattern, value mixing, backward)
// and rotary position embeddings, declared in layers.h. Parallel over (batch, head); each output row is
// summed by one thread in a fixed order, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "lm/layers_math.h"
#include "unfold/core/error.h"
#include "unfold/lm/layers.h"

namespace unfold {
namespace UNFOLD_ISA {  // compiled once per kernel level (core/isa.h)

// Keys per block of the score loop and value dims per block of the mixing loop: 32 floats held in four
// 8-lane vectors (GCC vector extensions: AVX2 registers here, plain code elsewhere), so both inner loops
// run from registers.
static const int64_t kBlk = 32;
typedef float f32x8 __attribute__((vector_size(32)));
static inline f32x8 load8(const float* p) {
    f32x8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
// acc[0..32) += x * p[0..32)
struct Acc32 {
    f32x8 a0{}, a1{}, a2{}, a3{};
    void fma(float x, const float* p) {
        a0 += x * load8(p);
        a1 += x * load8(p + 8);
        a2 += x * load8(p + 16);
        a3 += x * load8(p + 24);
    }
    void store(float* out) const {  // all 32
        std::memcpy(out, &a0, 32);
        std::memcpy(out + 8, &a1, 32);
        std::memcpy(out + 16, &a2, 32);
        std::memcpy(out + 24, &a3, 32);
    }
};

// max of row[0..n), n >= 1: eight running maxima, then one (max is exact, so any order gives the same value)
static inline float row_max(const float* row, int64_t n) {
    float mx = row[0];
    int64_t s = 0;
    if (n >= 8) {
        f32x8 m = load8(row);
        for (s = 8; s + 8 <= n; s += 8) {
            const f32x8 x = load8(row + s);
            m = m < x ? x : m;
        }
        float lanes[8];
        std::memcpy(lanes, &m, sizeof lanes);
        mx = lanes[0];
        for (int q = 1; q < 8; q++) mx = std::max(mx, lanes[q]);
    }
    for (; s < n; s++) mx = std::max(mx, row[s]);
    return mx;
}

// softmax in place over row[0..last]; row[last+1..S) = 0. Masked (hooked scores): a key a hook set to -inf
// gets exactly 0 and an all -inf row becomes 0, as TransformerLens' nan-to-zero does; the same bits as the
// plain version on finite scores (which the unhooked forward runs, without the extra select).
template <bool Masked>
static inline void softmax_row(float* row, int64_t last, int64_t S) {
    float mx = row_max(row, last + 1);
    if (Masked && mx == -INFINITY) {
        for (int64_t s = 0; s < S; s++) row[s] = 0.0f;
        return;
    }
    if (Masked) {
        for (int64_t s = 0; s <= last; s++) {
            const float e = exp_neg(row[s] - mx);
            row[s] = row[s] == -INFINITY ? 0.0f : e;
        }
    } else {
        for (int64_t s = 0; s <= last; s++) row[s] = exp_neg(row[s] - mx);
    }
    float sum = 0.0f;
    for (int64_t s = 0; s <= last; s++) sum += row[s];
    const float inv = 1.0f / sum;
    for (int64_t s = 0; s <= last; s++) row[s] *= inv;
    for (int64_t s = last + 1; s < S; s++) row[s] = 0.0f;
}

// scores q.k * scale for the visible keys; then either the softmax (pattern) or -inf at masked keys (scores)
static void attention_scores_impl(float* att, const float* q, const float* k, const AttnDims& d, bool softmax) {
    const float scale = 1.0f / std::sqrt((float)d.hs);
    const int64_t group = d.NH / d.KV;
    const int64_t nk = std::min(d.pos0 + d.T, d.S);       // keys any query of this call can see
    const int64_t Sp = (nk + kBlk - 1) / kBlk * kBlk;     // padded row length of the transposed keys
#pragma omp parallel if(d.B * d.NH * d.T * d.S * d.hs >= kParallelWork)
    {
        std::vector<float> kt((size_t)(d.hs * Sp), 0.0f);  // one head's keys transposed: [hs, Sp]
#pragma omp for collapse(2) schedule(static)
        for (int64_t b = 0; b < d.B; b++)
            for (int64_t h = 0; h < d.NH; h++) {
                const int64_t g = h / group;
                for (int64_t s = 0; s < nk; s++) {
                    const float* ks = k + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                    for (int64_t i = 0; i < d.hs; i++) kt[(size_t)(i * Sp + s)] = ks[i];
                }
                for (int64_t t = 0; t < d.T; t++) {
                    const float* qt = q + (b * d.T + t) * d.q_stride + h * d.hs;
                    float* row = att + ((b * d.NH + h) * d.T + t) * d.S;
                    const int64_t last = std::min(d.pos0 + t, d.S - 1);  // last visible key
                    // scores, kBlk keys at a time: sum_i q[i] kt[i, s] (kt past `last` is never stored)
                    for (int64_t s0 = 0; s0 <= last; s0 += kBlk) {
                        Acc32 a;
                        for (int64_t i = 0; i < d.hs; i++) a.fma(qt[i], kt.data() + i * Sp + s0);
                        float acc[kBlk];
                        a.store(acc);
                        const int64_t w = std::min(kBlk, last + 1 - s0);
                        for (int64_t j = 0; j < w; j++) row[s0 + j] = acc[j] * scale;
                    }
                    if (softmax) {
                        softmax_row<false>(row, last, d.S);
                    } else {
                        for (int64_t s = last + 1; s < d.S; s++) row[s] = -INFINITY;
                    }
                }
            }
    }
}

void attention_pattern_forward(float* att, const float* q, const float* k, const AttnDims& d) {
    attention_scores_impl(att, q, k, d, true);
}

void attention_scores_forward(float* att, const float* q, const float* k, const AttnDims& d) {
    attention_scores_impl(att, q, k, d, false);
}

void attention_softmax_forward(float* att, const AttnDims& d) {
#pragma omp parallel for schedule(static) if(d.B * d.NH * d.T * d.S >= kParallelWork)
    for (int64_t r = 0; r < d.B * d.NH * d.T; r++) {
        const int64_t t = r % d.T;
        softmax_row<true>(att + r * d.S, std::min(d.pos0 + t, d.S - 1), d.S);
    }
}

// One head's out[t, :] = sum_s att[t, s] v[s, :] for a head size of 8*NV < kBlk: four query rows at a time,
// so 4*NV independent sums stay in registers; each sum still runs over s in order (the same bits as one row
// at a time).
template <int NV>
static void values_small_head(float* o, int64_t C, const float* att, int64_t S, const float* vb, int64_t kv_stride,
                              int64_t T, int64_t pos0) {
    int64_t t = 0;
    for (; t + 4 <= T; t += 4) {
        f32x8 a[4][NV] = {};
        const int64_t l0 = std::min(pos0 + t, S - 1);
        const float* r0 = att + t * S;
        for (int64_t s = 0; s <= l0; s++) {
            const float* vs = vb + s * kv_stride;
            f32x8 v[NV];
            for (int q = 0; q < NV; q++) v[q] = load8(vs + 8 * q);
            for (int r = 0; r < 4; r++) {
                const float p = r0[r * S + s];
                for (int q = 0; q < NV; q++) a[r][q] += p * v[q];
            }
        }
        for (int r = 1; r < 4; r++) {
            const int64_t lr = std::min(pos0 + t + r, S - 1);
            for (int64_t s = l0 + 1; s <= lr; s++) {
                const float p = r0[r * S + s];
                for (int q = 0; q < NV; q++) a[r][q] += p * load8(vb + s * kv_stride + 8 * q);
            }
        }
        for (int r = 0; r < 4; r++) std::memcpy(o + (t + r) * C, a[r], sizeof a[r]);
    }
    for (; t < T; t++) {
        f32x8 a[NV] = {};
        const int64_t last = std::min(pos0 + t, S - 1);
        for (int64_t s = 0; s <= last; s++) {
            const float p = att[t * S + s];
            for (int q = 0; q < NV; q++) a[q] += p * load8(vb + s * kv_stride + 8 * q);
        }
        std::memcpy(o + t * C, a, sizeof a);
    }
}

void attention_values_forward(float* out, const float* att, const float* v, const AttnDims& d) {
    const int64_t group = d.NH / d.KV;
    const int64_t C = d.NH * d.hs;
#pragma omp parallel for collapse(2) schedule(static) if(d.B * d.NH * d.T * d.S * d.hs >= kParallelWork)
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t h = 0; h < d.NH; h++) {
            const int64_t g = h / group;
            if (d.hs < kBlk && d.hs % 8 == 0) {
                const float* ah = att + (b * d.NH + h) * d.T * d.S;
                const float* vh = v + b * d.kv_bstride + g * d.hs;
                float* oh = out + b * d.T * C + h * d.hs;
                if (d.hs == 8) values_small_head<1>(oh, C, ah, d.S, vh, d.kv_stride, d.T, d.pos0);
                else if (d.hs == 16) values_small_head<2>(oh, C, ah, d.S, vh, d.kv_stride, d.T, d.pos0);
                else values_small_head<3>(oh, C, ah, d.S, vh, d.kv_stride, d.T, d.pos0);
                continue;
            }
            for (int64_t t = 0; t < d.T; t++) {
                const float* row = att + ((b * d.NH + h) * d.T + t) * d.S;
                float* o = out + (b * d.T + t) * C + h * d.hs;
                const int64_t last = std::min(d.pos0 + t, d.S - 1);
                const float* vb = v + b * d.kv_bstride + g * d.hs;
                // out[i] = sum_s att[s] v[s, i], kBlk dims at a time held in registers, s in order
                for (int64_t i0 = 0; i0 < d.hs; i0 += kBlk) {
                    if (i0 + kBlk <= d.hs) {
                        Acc32 a;
                        for (int64_t s = 0; s <= last; s++) a.fma(row[s], vb + s * d.kv_stride + i0);
                        a.store(o + i0);
                    } else {
                        float acc[kBlk] = {};
                        const int64_t w = d.hs - i0;
                        for (int64_t s = 0; s <= last; s++) {
                            const float p = row[s];
                            const float* vs = vb + s * d.kv_stride + i0;
                            for (int64_t j = 0; j < w; j++) acc[j] += p * vs[j];
                        }
                        for (int64_t j = 0; j < w; j++) o[i0 + j] = acc[j];
                    }
                }
            }
        }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* att, const float* q,
                        const float* k, const float* v, const AttnDims& d) {
    UNFOLD_ASSERT(d.pos0 == 0 && d.S == d.T);
    const float scale = 1.0f / std::sqrt((float)d.hs);
    const int64_t group = d.NH / d.KV;
    const int64_t C = d.NH * d.hs;
    // parallel over (batch, kv head): the query heads of a group write disjoint dq, and dk/dv of the
    // group are owned by this iteration alone.
#pragma omp parallel if(d.B * d.NH * d.T * d.T * d.hs >= kParallelWork)
    {
        std::vector<float> ds((size_t)d.T);
#pragma omp for collapse(2) schedule(static)
        for (int64_t b = 0; b < d.B; b++)
            for (int64_t g = 0; g < d.KV; g++)
                for (int64_t h = g * group; h < (g + 1) * group; h++)
                    for (int64_t t = 0; t < d.T; t++) {
                        const float* row = att + ((b * d.NH + h) * d.T + t) * d.S;
                        const float* go = dout + (b * d.T + t) * C + h * d.hs;
                        const float* qt = q + (b * d.T + t) * d.q_stride + h * d.hs;
                        float* dqt = dq + (b * d.T + t) * d.q_stride + h * d.hs;
                        // dp[s] = go . v[s];  dv[s] += p[s] go
                        float pdp = 0.0f;
                        for (int64_t s = 0; s <= t; s++) {
                            const float* vs = v + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                            float* dvs = dv + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                            float dp = 0.0f, p = row[s];
#pragma omp simd reduction(+ : dp)
                            for (int64_t i = 0; i < d.hs; i++) {
                                dp += go[i] * vs[i];
                                dvs[i] += p * go[i];
                            }
                            ds[s] = dp;
                            pdp += p * dp;
                        }
                        // softmax backward, then the score products
                        for (int64_t s = 0; s <= t; s++) {
                            float dsc = row[s] * (ds[s] - pdp) * scale;
                            const float* ks = k + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                            float* dks = dk + b * d.kv_bstride + s * d.kv_stride + g * d.hs;
                            for (int64_t i = 0; i < d.hs; i++) {
                                dqt[i] += dsc * ks[i];
                                dks[i] += dsc * qt[i];
                            }
                        }
                    }
    }
}

static void rope_rotate(float* x, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs,
                        float theta, float sign) {
    const int64_t half = hs / 2;
    std::vector<float> cs((size_t)(T * half)), sn((size_t)(T * half));
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            // same arithmetic as llama2.c: freq in float, angle = pos * freq
            float freq = 1.0f / std::pow(theta, (float)(2 * i) / (float)hs);
            float ang = (float)(pos0 + t) * freq;
            cs[t * half + i] = std::cos(ang);
            sn[t * half + i] = sign * std::sin(ang);
        }
#pragma omp parallel for schedule(static) if(B * T * stride >= kParallelWork)
    for (int64_t n = 0; n < B * T; n++) {
        int64_t t = n % T;
        float* row = x + n * stride;
        for (int64_t h = 0; h < nheads; h++)
            for (int64_t i = 0; i < half; i++) {
                float c = cs[t * half + i], s = sn[t * half + i];
                float* p = row + h * hs + 2 * i;
                float a = p[0], b = p[1];
                p[0] = a * c - b * s;
                p[1] = a * s + b * c;
            }
    }
}

void rope_forward(float* x, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs,
                  float theta) {
    rope_rotate(x, stride, B, T, pos0, nheads, hs, theta, 1.0f);
}

void rope_backward(float* dx, int64_t stride, int64_t B, int64_t T, int64_t pos0, int64_t nheads, int64_t hs,
                   float theta) {
    rope_rotate(dx, stride, B, T, pos0, nheads, hs, theta, -1.0f);
}

void rope_tables(float* cos_out, float* sin_out, int64_t n_pos, int64_t hs, float theta) {
    const int64_t half = hs / 2;
    for (int64_t t = 0; t < n_pos; t++)
        for (int64_t i = 0; i < half; i++) {
            float freq = 1.0f / std::pow(theta, (float)(2 * i) / (float)hs);
            float ang = (float)t * freq;
            cos_out[t * half + i] = std::cos(ang);
            sin_out[t * half + i] = std::sin(ang);
        }
}

}  // namespace UNFOLD_ISA
}  // namespace unfold
