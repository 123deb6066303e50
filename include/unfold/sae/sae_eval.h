// sae_eval.h: evaluation of a (trained or imported) SAE on an activation source.
//
// Metrics (SAELens/SAEBench definitions, with the *intended* explained-variance formula):
//   mse  = mean_tokens sum_d (x - xhat)^2
//   fvu  = E||x - xhat||^2 / (E||x||^2 - sum_d (E x_d)^2)      explained_variance = 1 - fvu
//   l0   = mean_tokens #{f_i > 0};  l1 = mean_tokens sum_i f_i
//   dead_frac = latents that never fire on the eval tokens; dense_frac_1pct / 10pct = firing on > 1% / 10%
//   density histogram: counts of log10(freq + 1e-10) in bins of width 0.5 over [-10, 0]
//   shrinkage (relative reconstruction bias) = E||xhat||^2 / E<x, xhat>  (1 = no shrinkage)
//   cossim = mean_tokens cos(x, xhat)
// With ground truth G [n_true, d] (unit rows):
//   mmcs = mean over true features of max_j cos(G_i, W_dec_j); frac_recovered = share with max cos > thr;
//   unmatched_latents = alive learned latents whose max cos with any true feature is <= thr.
#pragma once
#include <cstdint>
#include <vector>

#include "unfold/core/tensor.h"
#include "unfold/data/source.h"
#include "unfold/io/json.h"
#include "unfold/sae/sae.h"

namespace unfold {

struct SaeEvalOptions {
    int64_t tokens = 65536;
    int64_t batch = 4096;
    double match_cos = 0.9;
};

// Streams opts.tokens rows from src. density_out (optional) receives log10(freq + 1e-10) per latent.
Json sae_evaluate(const Sae& sae, ActivationSource& src, const SaeEvalOptions& opts,
                  std::vector<float>* density_out = nullptr);

// For each row of A [nA, d], the max cosine similarity with any row of Bm [nB, d] (and its index).
void max_cosine_rows(const float* A, int64_t nA, const float* Bm, int64_t nB, int64_t d, std::vector<float>& best,
                     std::vector<int64_t>* arg = nullptr);

// Ground-truth metrics (see the top of this file). alive (optional, [F]) marks latents that fire.
Json sae_ground_truth_metrics(const Sae& sae, const Tensor& G, double thr, const std::vector<uint8_t>* alive);

}  // namespace unfold
