// layers_math.h: what the layer files share (internal to lm): the parallel-work threshold and branch-free
// exp / tanh / sigmoid that vectorise (softmax, GELU, SwiGLU, cross-entropy).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/isa.h"

namespace unfold {
namespace UNFOLD_ISA {  // compiled once per kernel level (core/isa.h)

// Below this many scalar operations a loop runs on one thread: waking a team costs more than it saves,
// and far more on a loaded machine.
inline constexpr int64_t kParallelWork = 1 << 15;

// exp(x) for x <= 0 (softmax after subtracting the max), branch-free so loops over the vocabulary vectorise:
// x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 Taylor/Horner polynomial (relative error < 2e-7), times 2^n
// built in the exponent bits. Inputs below -87 flush to 0 (their share of a softmax is below 1e-38).
inline float exp_neg(float x) {
    x = std::max(x, -87.0f);
    float n = std::floor(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln2 split in two parts for exact reduction
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, 4);
    return p * scale;
}

// tanh from exp_neg: tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2|u|); absolute error < 3e-7.
inline float tanh_fast(float u) {
    float e = exp_neg(-2.0f * std::fabs(u));
    return std::copysign((1.0f - e) / (1.0f + e), u);  // branch-free, so the loops below vectorise
}

// logistic sigmoid from exp_neg on -|g| (never overflows), branch-free
inline float sigmoid_fast(float g) {
    float e = exp_neg(-std::fabs(g));
    float r = 1.0f / (1.0f + e);
    return g >= 0.0f ? r : e * r;
}

}  // namespace UNFOLD_ISA
}  // namespace unfold
