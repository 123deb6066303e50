// optim.cpp: Adam / AdamW and gradient clipping.
#include "unfold/core/optim.h"

#include <cmath>

#include "unfold/core/error.h"

namespace unfold {

void adam_begin_step(AdamState& state) { state.t++; }

void adam_update_span(const AdamConfig& cfg, float lr, int64_t t, float* params, const float* grads, float* m,
                      float* v, size_t begin, size_t end) {
    UNFOLD_ASSERT(t > 0);
    const float b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps;
    // bias corrections in double: 1 - 0.999^t rounded in float would lose ~1e-5 relative precision
    const float bc1 = (float)(1.0 - std::pow((double)b1, (double)t));
    const float bc2 = (float)(1.0 - std::pow((double)b2, (double)t));
    const float step_size = lr / bc1;
    const float inv_sqrt_bc2 = 1.0f / std::sqrt(bc2);
    const float decay = 1.0f - lr * cfg.weight_decay;
#pragma omp simd
    for (size_t i = begin; i < end; i++) {
        float g = grads[i];
        float mi = b1 * m[i] + (1.0f - b1) * g;
        float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float p = params[i] * decay;
        params[i] = p - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
    }
}

void adam_update_range(AdamState& state, const AdamConfig& cfg, float lr, float* params, const float* grads,
                       size_t begin, size_t end) {
    UNFOLD_ASSERT(state.t > 0 && end <= state.m.size());
    // elementwise, so splitting into blocks across threads gives the same bits as one serial pass
    const size_t block = 16384;
    const int64_t nblocks = (int64_t)((end - begin + block - 1) / block);
#pragma omp parallel for schedule(static) if (nblocks > 2)
    for (int64_t bi = 0; bi < nblocks; bi++) {
        size_t b0 = begin + (size_t)bi * block, b1 = b0 + block < end ? b0 + block : end;
        adam_update_span(cfg, lr, state.t, params, grads, state.m.data(), state.v.data(), b0, b1);
    }
}

void adam_step(AdamState& state, const AdamConfig& cfg, float lr, float* params, const float* grads, size_t n) {
    UNFOLD_ASSERT(state.m.size() == n);
    adam_begin_step(state);
    adam_update_range(state, cfg, lr, params, grads, 0, n);
}

double clip_grad_norm(float* grads, size_t n, double max_norm) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)grads[i] * grads[i];
    double norm = std::sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        float s = (float)(max_norm / (norm + 1e-6));
        for (size_t i = 0; i < n; i++) grads[i] *= s;
    }
    return norm;
}

}  // namespace unfold
