// packing.h: almost-orthogonal packing, how many unit vectors with pairwise |cos| < eps fit in R^m.
//
// Superposition relies on this: in high dimensions exponentially many directions are nearly orthogonal.
//   random greedy: draw random unit vectors, keep one if its |cos| with every kept vector is < eps; stop after
//                  `patience` rejections in a row.
//   optimised:     N vectors moved by projected gradient descent on sum_{i<j} relu(|cos_ij| - target)^2
//                  (target slightly below eps), renormalised each step; grow N while it still succeeds.
// Bounds:
//   JL / union bound (existence): random vectors have all |cos| < eps with positive probability when
//     N^2/2 * 2 exp(-m eps^2 / 2) < 1, i.e. N < exp(m eps^2 / 4)   (a lower bound on the optimum)
//   Welch bound (upper): max |cos| >= sqrt((N - m) / (m (N - 1))), so with m eps^2 < 1:
//     N <= m (1 - eps^2) / (1 - m eps^2)
// Interference: mean over pairs of cos^2, which is >= (N - m) / (m (N - 1)) (frame potential bound).
#pragma once
#include <cstdint>
#include <vector>

namespace unfold {

struct PackingStats {
    int count = 0;
    double max_abs_cos = 0;
    double mean_sq_cos = 0;  // mean over pairs i < j
};

// Vectors V [N, m] row-major (rows normalised inside); pairwise statistics.
PackingStats packing_stats(const std::vector<double>& V, int N, int m);

// Greedy random packing; returns the kept vectors [count, m] in `out` if given.
PackingStats packing_random(int m, double eps, uint64_t seed, int patience = 2000, int max_count = 4096,
                            std::vector<double>* out = nullptr);

// Gradient descent on the hinge of |cos| for a fixed N. Returns stats of the final vectors.
PackingStats packing_optimize_n(int N, int m, double eps, uint64_t seed, int steps = 400,
                                std::vector<double>* out = nullptr);

// Largest N (>= start) for which packing_optimize_n reaches max |cos| < eps, growing N by ~8% per try;
// stops at max_count or after the first failure.
PackingStats packing_optimized(int m, double eps, uint64_t seed, int start, int steps = 400, int max_count = 512);

double packing_jl_bound(int m, double eps);     // exp(m eps^2 / 4)
double packing_welch_bound(int m, double eps);  // m(1-eps^2)/(1-m eps^2), +inf when m eps^2 >= 1
double welch_mean_sq_cos(int N, int m);         // (N-m)/(m(N-1)), 0 when N <= m

}  // namespace unfold
