// report_demo.h: `unfold demo`, a small, fast reproduction of the headline figures of Toy Models of
// Superposition in one self-contained HTML report.
//
// Experiments (every model trained with toy_train; step counts are multiplied by steps_scale):
//   5 -> 2 ReLU, importance 0.9^i, 8 sparsities       two orthogonal features when dense, a pentagon when sparse
//   20 -> 5 linear vs ReLU, importance 0.7^i            linear keeps the top 5 (PCA); ReLU superposes when sparse
//   40 -> 10 ReLU, uniform importance, 12 sparsities    dimensions per feature, sticky fractions, polytopes, rank
//   2 -> 1 and 3 -> 2 phase diagrams vs the analytic boundaries
//   10 -> 5 hidden-ReLU (privileged basis)              neuron view; rotating the hidden space changes its loss
//   almost-orthogonal packing vs the JL and Welch bounds
//   5 -> 2 with an L1 penalty on h                      less superposition at a cost in reconstruction loss
//   16 -> 8 abs computation                             neuron view of W1 (mono- vs polysemantic neurons)
// Writes <out>/report.html, <out>/figures/*.svg, <out>/phase.json, <out>/phase3.json and each trained run
// under <out>/runs/.
#pragma once
#include <cstdint>
#include <string>

#include "unfold/core/context.h"

namespace unfold {

struct DemoOptions {
    std::string out = "runs/demo";
    double steps_scale = 1.0;  // multiplies every training length (>= 50 steps each)
    uint64_t seed = 0;
    Context ctx;  // threads, messages, progress
    bool save_runs = true;     // also write each trained model as a run folder
};

// Runs everything; returns the report path.
std::string run_demo(const DemoOptions& opt);

}  // namespace unfold
