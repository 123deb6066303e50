// schedule.cpp: warm-up and decay multipliers.
#include "unfold/core/schedule.h"

#include <algorithm>
#include <cmath>

#include "unfold/core/error.h"

namespace unfold {

double Schedule::factor(int64_t step) const {
    if (warmup_steps > 0 && step < warmup_steps) return (double)(step + 1) / (double)warmup_steps;
    if (decay == DecayKind::CONSTANT) return 1.0;
    int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
    double t = std::clamp((double)(step - warmup_steps) / (double)span, 0.0, 1.0);
    double f = final_frac;
    if (decay == DecayKind::LINEAR) return 1.0 - (1.0 - f) * t;
    return f + (1.0 - f) * 0.5 * (1.0 + std::cos(M_PI * t));
}

DecayKind parse_decay(const std::string& s) {
    if (s == "constant") return DecayKind::CONSTANT;
    if (s == "linear") return DecayKind::LINEAR;
    if (s == "cosine") return DecayKind::COSINE;
    fail("unknown schedule '%s' (expected constant, linear or cosine)", s.c_str());
}

const char* decay_name(DecayKind k) {
    switch (k) {
        case DecayKind::CONSTANT: return "constant";
        case DecayKind::LINEAR: return "linear";
        case DecayKind::COSINE: return "cosine";
    }
    return "?";
}

}  // namespace unfold
