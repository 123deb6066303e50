// synth.h: planted-dictionary activations (the recipe of the torch_sae.py / sklearn_dict.py peers).
//
// Ground truth G [n_true, d]: Gaussian rows, normalised to unit norm. With clusters = C > 0 the features come in
// C clusters: C unit centres c_k (Gaussian, normalised), feature i belongs to cluster i mod C and is
// G_i = normalise(c_k + cluster_spread * z_i / sqrt(d)), z_i the same standard Gaussian row as without clusters,
// so two features of one cluster have cosine about 1 / (1 + spread^2) (0.8 at spread 0.5) and features of
// different clusters about 0. Each sample activates each true feature
// independently with probability p_active, with magnitude U[0,1]; x = sum_i c_i G_i + noise * N(0, 1).
// Every row is a pure function of (seed, row index) (presence drawn by geometric skipping, so a row costs
// O(p_active * n_true * d), not O(n_true)), so any range of rows can be generated in any order, by any number
// of threads, bit-identically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/core/tensor.h"
#include "unfold/io/json.h"

namespace unfold {

struct PlantedConfig {
    int64_t d = 256;
    int64_t n_true = 1024;
    double p_active = 0.01;
    float noise = 0.0f;
    uint64_t seed = 0;
    int64_t clusters = 0;        // 0 = independent features; C > 0: C clusters (feature i in cluster i mod C)
    float cluster_spread = 0.5f; // how far the features of a cluster scatter around its centre

    Json to_json() const;       // clusters / cluster_spread only when clusters > 0
    void validate() const;  // throws on bad values
};

struct Planted {
    PlantedConfig cfg;
    Tensor G;  // [n_true, d], unit rows
};

Planted planted_make(const PlantedConfig& cfg);

// Rows [row0, row0 + n) of the planted stream into x[n, d]. If codes is non-null it receives the dense
// coefficients c[n, n_true] (tests / small problems only).
void planted_rows(const Planted& p, int64_t row0, int64_t n, float* x, float* codes = nullptr);

// The cluster of true feature i (i mod clusters), -1 without clusters.
int64_t planted_cluster(const PlantedConfig& cfg, int64_t i);
// The cluster centres [clusters, d] (unit rows; empty without clusters).
Tensor planted_cluster_centres(const PlantedConfig& cfg);

// A "planted:" source spec: "planted:d=32,features=64,p=0.05,noise=0,seed=1" (missing keys keep defaults);
// also clusters=C and spread=S (cluster_spread).
PlantedConfig parse_planted_spec(const std::string& spec);

// `unfold data synth`: writes `tokens` rows to the shard folder `out` (+ ground_truth.npy), streamed in
// blocks with bounded memory (one shard buffered), with a progress bar. Returns the number of rows written.
struct SynthOptions {
    int64_t tokens = 1000000;
    int64_t rows_per_shard = 65536;
    bool f16 = false;
    bool resume = false;
    Context ctx;  // threads, messages, progress
};
int64_t synth_write(const PlantedConfig& cfg, const SynthOptions& opts, const std::string& out);

}  // namespace unfold
