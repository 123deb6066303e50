// log_softmax.h: log-probabilities of one row of logits, in double accumulation (features module, private).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace unfold {

// out[v] = logits[v] - logsumexp(logits), v in [0, V); Out is float or double.
template <class Out>
inline void log_softmax_row(const float* logits, int64_t V, Out* out) {
    double mx = logits[0];
    for (int64_t v = 1; v < V; v++) mx = std::max(mx, (double)logits[v]);
    double s = 0;
    for (int64_t v = 0; v < V; v++) s += std::exp((double)logits[v] - mx);
    const double lse = mx + std::log(s);
    for (int64_t v = 0; v < V; v++) out[v] = (Out)((double)logits[v] - lse);
}

}  // namespace unfold
