// toy_figs.h: the figures of a toy-model report, as SVG, from plain per-instance data.
//
// An InstanceView is one instance of a trained toy model (its W [m, n], b, density, importance, loss);
// instance_views() extracts them from a ToyModel. Each fig_* function returns a finished, labelled Svg.
//   fig_feature_arrows     W columns as arrows in the hidden plane, one panel per instance (m > 2: projected
//                          onto the top-2 principal directions of W)
//   fig_norm_bars          ||W_i|| bars coloured by polysemanticity + the W^T W heatmap, one row per instance
//   fig_dims_per_feature   D_i per feature (jittered) and m/||W||_F^2 against 1/(1-S), sticky-fraction lines
//   fig_polytopes          features per instance grouped by the polytope they form (stacked bars)
//   fig_rank               superposition test: represented features vs rank of their Gram matrix
//   fig_neurons            neuron x feature weights of a privileged-basis model, neurons labelled mono/poly
//   fig_packing            almost-orthogonal packing counts vs m with the JL and Welch bounds
//   phase_svg              the phase diagram of a PhaseResult against the analytic boundaries
#pragma once
#include <string>
#include <vector>

#include "unfold/toy/phase.h"
#include "unfold/toy/toy.h"
#include "unfold/viz/svg.h"

namespace unfold {

struct InstanceView {
    std::string label;             // e.g. "1-S = 0.1"
    double density = 1;            // mean feature probability of the instance
    int m = 0, n = 0;
    std::vector<float> W;          // [m, n] feature weights (W, or W1 for abs)
    std::vector<float> b;          // [n]
    std::vector<float> importance; // [n]
    double loss = 0;               // evaluation loss (NaN if unknown)
};
// One view per instance; loss from `loss` when given (size I), else NaN.
std::vector<InstanceView> instance_views(const ToyModel& model, const std::vector<float>& loss = {});

Svg fig_feature_arrows(const std::vector<InstanceView>& v, const std::string& title, int max_panels = 10);
Svg fig_norm_bars(const std::vector<InstanceView>& v, const std::string& title, int max_rows = 8);
Svg fig_dims_per_feature(const std::vector<InstanceView>& v, const std::string& title);
Svg fig_polytopes(const std::vector<InstanceView>& v, const std::string& title);
Svg fig_rank(const std::vector<InstanceView>& v, const std::string& title);
Svg fig_neurons(const std::vector<InstanceView>& v, const std::string& title, int max_panels = 6);

struct PackingRow {
    int m = 0;
    double eps = 0;
    int random_count = 0, optimized_count = 0;
    double random_msq = 0, optimized_msq = 0;  // mean cos^2
    double jl = 0, welch = 0;                  // bounds (welch may be inf)
};
Svg fig_packing(const std::vector<PackingRow>& rows, const std::string& title);

// The phase diagram (phase.h): cells coloured by trained outcome, analytic boundaries drawn over them,
// disagreements marked.
Svg phase_svg(const PhaseResult& r, const std::string& title = "");

// Instances to show when there are many: about `k` evenly spaced indices including the first and last.
std::vector<int> spread_indices(int count, int k);

}  // namespace unfold
