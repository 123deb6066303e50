// optim.h: Adam and AdamW over flat float arrays (PyTorch semantics), and gradient-norm clipping.
//
// AdamW (decoupled weight decay, torch.optim.AdamW):   p -= lr * wd * p;  then the Adam update.
// Adam  (torch.optim.Adam, weight_decay = 0):           the Adam update only.
// Adam update at step t (1-based):
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace unfold {

struct AdamConfig {
    float lr = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.0f;  // decoupled (AdamW); 0 = plain Adam
};

struct AdamState {
    std::vector<float> m, v;  // first and second moments, one per parameter
    int64_t t = 0;            // steps taken
    void init(size_t n) {
        m.assign(n, 0.0f);
        v.assign(n, 0.0f);
        t = 0;
    }
};

// One optimiser step over params[0..n) with grads[0..n); lr overrides cfg.lr (for schedules).
// Requires state.init(n) first. Parallel over elements (elementwise: result independent of threads).
void adam_step(AdamState& state, const AdamConfig& cfg, float lr, float* params, const float* grads, size_t n);

// The same for a sub-range [begin, end) of a larger flat buffer that shares one step counter:
// call adam_begin_step once per step, then adam_update_range for each range.
void adam_begin_step(AdamState& state);
void adam_update_range(AdamState& state, const AdamConfig& cfg, float lr, float* params, const float* grads,
                       size_t begin, size_t end);

// The serial kernel behind both: params/grads/m/v over [begin, end) at (1-based) step t. For callers that
// keep their own step counter (e.g. many independent models in one buffer that step at different times).
void adam_update_span(const AdamConfig& cfg, float lr, int64_t t, float* params, const float* grads, float* m,
                      float* v, size_t begin, size_t end);

// Global L2 norm of grads (double accumulation); scales grads down so the norm is at most max_norm.
// Returns the norm before clipping.
double clip_grad_norm(float* grads, size_t n, double max_norm);

}  // namespace unfold
