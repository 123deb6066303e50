// privileged.h: is the hidden basis privileged? Rotate the hidden space and compare losses.
//
// A random orthogonal Q [m, m] acts on every instance: W -> Q W (abs model: W1 -> Q W1, W2 -> W2 Q^T).
// For the linear and ReLU-output models x' = f(W^T W x + b) and (QW)^T (QW) = W^T W, so the loss is
// unchanged (no privileged basis). For the hidden-ReLU and abs models the ReLU acts coordinate-wise on
// h = W x, so rotating changes the function and the loss (the basis is privileged).
#pragma once
#include <cstdint>
#include <vector>

#include "unfold/toy/toy.h"

namespace unfold {

// Haar-ish random orthogonal matrix [m, m] (Gram-Schmidt of a Gaussian matrix), deterministic in seed.
std::vector<double> random_orthogonal(int m, uint64_t seed);

// A copy of `model` with every instance's hidden space rotated by Q [m, m].
ToyModel rotate_hidden(const ToyModel& model, const std::vector<double>& Q);

struct RotationResult {
    std::vector<double> loss_before, loss_after;  // per instance, on the same batch
    double mean_before = 0, mean_after = 0;
    double max_rel_change = 0;                     // max_i |after - before| / before
};
// Losses of the model and of its rotated copy on one generated batch (stream `stream`, batch B).
RotationResult rotation_test(const ToyModel& model, uint64_t seed, int B = 8192, uint64_t stream = 0x0707);

}  // namespace unfold
