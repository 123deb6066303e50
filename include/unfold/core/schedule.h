// schedule.h: learning-rate (and coefficient) schedules.
//
// lr(step) = base * warmup(step) * decay(step), step in [0, total).
//   warmup: linear from 0 to 1 over `warmup_steps` steps ((step+1)/warmup_steps), then 1.
//   decay after warm-up, over the remaining steps, down to `final_frac` * base:
//     constant: 1;  linear: 1 -> final_frac;  cosine: final_frac + (1-final_frac)(1+cos(pi*t))/2.
#pragma once
#include <cstdint>
#include <string>

namespace unfold {

enum class DecayKind { CONSTANT, LINEAR, COSINE };

struct Schedule {
    DecayKind decay = DecayKind::CONSTANT;
    int64_t warmup_steps = 0;
    int64_t total_steps = 1;
    float final_frac = 0.0f;  // lr at the end as a fraction of the base lr (linear/cosine)

    // multiplier in [0, 1] for this step
    double factor(int64_t step) const;
};

// "constant" | "linear" | "cosine"; throws unfold::Error on anything else
DecayKind parse_decay(const std::string& s);
const char* decay_name(DecayKind k);

}  // namespace unfold
