// sae_report.h: a self-contained HTML report of an SAE run folder (inline SVG, built on src/viz):
// training curves (loss, FVU, L0, dead fraction from metrics.json), the latent density histogram
// (sparsity.safetensors, or measured on --input), learned vs true features (cosine matrix + recovery
// curve) for sources with ground truth, and a 2-D PCA map of the decoder directions.
#pragma once
#include <string>

#include "unfold/data/source.h"

namespace unfold {

struct SaeReportOptions {
    int64_t tokens = 32768;  // rows for densities / eval when a source is given
    int max_matrix = 48;     // true features shown in the cosine matrix
};

// run_dir: an SAE folder (unfold/SAELens, sparsify, Gemma Scope); src may be null.
void sae_write_report(const std::string& run_dir, ActivationSource* src, const SaeReportOptions& opts,
                      const std::string& out_html);

// Top-2 principal directions of the rows of M [n, d] (centred; power iteration, deterministic) -> P [2, d].
void pca2(const float* M, int64_t n, int64_t d, float* P);

}  // namespace unfold
