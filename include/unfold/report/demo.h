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
//   a real model (demo_real.cpp, unless toy_only): stories260K's own stories as the corpus, its residual stream
//   cached at blocks.3.hook_resid_post, a TopK SAE, the feature database, CE loss recovered, a dozen feature cards
//   and one steering example (unedited vs steered text); everything under <out>/real/.
// Writes <out>/report.html, <out>/figures/*.svg, <out>/phase.json, <out>/phase3.json and each trained run
// under <out>/runs/.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "unfold/core/context.h"

namespace unfold {

struct DemoOptions {
    std::string out = "runs/demo";
    double steps_scale = 1.0;  // multiplies every training length (>= 50 steps each)
    uint64_t seed = 0;
    Context ctx;  // threads, messages, progress
    bool save_runs = true;     // also write each trained model as a run folder
    bool toy_only = false;     // skip the real-model part
    std::string model_dir;     // folder with stories260K.bin + tok512.bin ("" = models/stories260K, searched)
};

// Runs everything; returns the report path.
std::string run_demo(const DemoOptions& opt);

// The stories260K folder the demo uses: `given` (checked), else models/stories260K under the working folder or
// beside the binary (../models, ../share/unfold/models); "" when none is found.
std::string demo_find_model(const std::string& given);

struct HtmlReport;
// The real-model part, appended to r as section 9 (timing rows added to `timing`).
void demo_real_model(HtmlReport& r, const DemoOptions& o, std::vector<std::pair<std::string, std::string>>& timing);

}  // namespace unfold
