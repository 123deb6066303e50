// phase.h: superposition as a phase change (Elhage et al. 2022 §"Superposition as a Phase Change").
//
// n features in m = n - 1 dimensions: features 0..n-2 have importance 1, the last ("extra") feature has
// importance r (the ratio). All features have density p = 1 - S. Each (p, r) cell of a log-spaced grid is one
// instance (times `seeds`) of a single toy_train call (instances train independently); per cell the seed with
// the lowest evaluation loss is kept. The extra feature's outcome is read from W:
//   not_represented  ||W_e|| <= 0.5
//   dedicated        represented and sum_{j != e} (W^_e . W_j)^2 <= 0.1  (orthogonal to the rest)
//   superposition    represented and interfering (e.g. an antipodal pair W = [1, -1] for n=2, m=1)
// Analytic model (Wattenberg's exact toy models; q = p/3 - p^2/4 is a U[0,1] feature's variance times p):
//   n=2: ignore extra r q | ignore first q | superpose (1+r) p^2/6
//        -> superposition iff 2p/(4-5p) < r < 2/p - 5/2 (a wedge with its tip at p = 4/7, r = 1)
//   n=3: discard an ordinary q | discard the extra r q | superpose two ordinary, extra dedicated p^2/3 |
//        superpose extra with an ordinary (1+r) p^2/6
// A cell is "robust" when the analytic outcome is unchanged at r*2, r/2, p*1.5 and p/1.5.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/io/json.h"
#include "unfold/toy/toy.h"

namespace unfold {

enum class PhaseOutcome { NOT_REPRESENTED = 0, DEDICATED = 1, SUPERPOSITION = 2 };
const char* phase_outcome_name(PhaseOutcome o);  // "not_represented" | "dedicated" | "superposition"

struct PhaseSpec {
    int n_features = 2;
    int n_hidden = 1;
    ToyKind kind = ToyKind::RELU;
    double p_hi = 1.0, p_lo = 0.01;  // density range (log-spaced, p_hi first)
    double r_lo = 0.1, r_hi = 10.0;  // ratio range (log-spaced)
    int grid_p = 12, grid_r = 12;
    int seeds = 4;
    int64_t steps = 4000;
    int batch = 1024;
    float lr = 1e-2f;
    float weight_decay = 0.0f;
    float init_std = 0.0f;  // 0: sqrt(2 / (m (n + 10))), the notebook's value for 10 instances
    uint64_t seed = 0;
    int eval_batch = 8192;
};

struct PhaseCell {
    double density = 0, ratio = 0;
    PhaseOutcome outcome = PhaseOutcome::NOT_REPRESENTED;
    PhaseOutcome analytic = PhaseOutcome::NOT_REPRESENTED;
    bool robust = false;
    int seed_index = 0;             // which seed was kept
    double loss = 0;                // its evaluation loss
    std::vector<float> W, b;        // [m, n], [n] of the kept instance
    std::vector<double> norms;      // ||W_i||
    double extra_interference = 0;  // sum_{j != e} (W^_e . W_j)^2
};

struct PhaseResult {
    PhaseSpec spec;
    std::vector<PhaseCell> cells;  // p-major: cell (ip, ir) at ip * grid_r + ir
    int robust_cells = 0, robust_agree = 0, all_agree = 0;
};

std::vector<double> phase_densities(const PhaseSpec& s);  // p_hi .. p_lo, log-spaced
std::vector<double> phase_ratios(const PhaseSpec& s);     // r_lo .. r_hi, log-spaced

// Analytic losses / outcome for n in {2, 3}; throws for other n.
PhaseOutcome phase_analytic(int n_features, double p, double r);
bool phase_analytic_robust(int n_features, double p, double r);
// n=2 boundaries: superposition iff phase_r_lower(p) < r < phase_r_upper(p)
double phase_r_lower(double p);  // 2p / (4 - 5p)  (+inf for p >= 0.8)
double phase_r_upper(double p);  // 2/p - 5/2

// Classify the extra (last) feature of one instance's W [m, n].
PhaseOutcome phase_classify(const float* W, int m, int n, double* extra_interference = nullptr);

// The toy config with one instance per (cell, seed) (instance = cell * seeds + seed).
ToyConfig phase_config(const PhaseSpec& s);
// Train (one toy_train call), classify, pick the lowest-loss seed per cell, compare with the analytic model.
PhaseResult phase_run(const PhaseSpec& s, const Context& ctx = {});
// Same bookkeeping from an already trained model built by phase_config(s).
PhaseResult phase_collect(const PhaseSpec& s, ToyModel& model);

Json phase_json(const PhaseResult& r);

}  // namespace unfold
