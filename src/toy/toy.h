// toy.h: the public API of the toy models of superposition (Elhage et al. 2022).
//
// Dims: I = instances (independent models trained together), n = features, m = hidden, B = batch.
// Parameters (one ParamSet, views in this order):
//   linear / relu / hidden-relu:  W [I, m, n]  (column i of W[inst] is feature i's direction),  b [I, n]
//   abs:                          W1 [I, m, n], W2 [I, n, m], b [I, n]
// Models:
//   linear:       x' = W^T W x + b
//   relu:         x' = ReLU(W^T W x + b)
//   hidden-relu:  h = ReLU(W x),  x' = ReLU(W^T h + b)
//   abs:          h = ReLU(W1 x), y = ReLU(W2 h + b), target |x|
// Loss per instance: mean over batch and features of I_i (target_i - x'_i)^2 (+ l1_hidden * mean_b sum_j |h_j|).
// Files of a run folder: model.safetensors, config.json, metrics.json (see toy_save_run).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/json.h"

namespace unfold {

enum class ToyKind { LINEAR, RELU, HIDDEN_RELU, ABS };
const char* toy_kind_name(ToyKind k);              // "linear", "relu", "hidden-relu", "abs"
ToyKind parse_toy_kind(const std::string& s);      // throws on unknown

enum class ToyData {
    UNIFORM,  // x_i = 0 w.p. S_i else U[0,1]
    ONE_HOT,  // exactly one feature active, value 1
    SIGNED,   // x_i = 0 w.p. S_i else U[-1,1] (the abs task)
};

struct ToyConfig {
    ToyKind kind = ToyKind::RELU;
    ToyData data = ToyData::UNIFORM;
    int n_features = 5;
    int n_hidden = 2;
    int n_instances = 10;
    // Feature probability p = 1 - S, per instance and feature: [I * n] (row = instance).
    std::vector<float> density;
    // Importance I_i per instance and feature: [I * n].
    std::vector<float> importance;
    int correlated_pairs = 0;      // features (2k, 2k+1) share one presence draw
    int anticorrelated_pairs = 0;  // after the correlated ones: never both active
    float l1_hidden = 0.0f;        // L1 penalty on hidden activations h = W x (pre-ReLU for linear/relu models)
    // Optimiser (paper defaults: AdamW lr 1e-3, weight decay 0.01, batch 1024, 10,000 steps, constant LR).
    float lr = 1e-3f;
    float weight_decay = 0.01f;
    int batch = 1024;
    int64_t steps = 10000;
    std::string schedule = "constant";  // constant | linear | cosine
    int64_t warmup_steps = 0;
    uint64_t seed = 0;
    int eval_batch = 8192;

    Json to_json() const;
    static ToyConfig from_json(const Json& j, const std::string& ctx);  // validates
};

struct ToyModel {
    ToyConfig cfg;
    ParamSet params;  // W,b or W1,W2,b (see top of file)
};

// Parameter allocation + initialisation (xavier-normal-like, b = 0), deterministic in cfg.seed.
ToyModel toy_init(const ToyConfig& cfg);

// One synthetic batch: x[B, I, n] inputs and the targets (= x, or |x| for abs).
void toy_sample_batch(const ToyConfig& cfg, uint64_t step_stream, int B, float* x);

// Mean-over-batch loss per instance for the batch x[B, I, n]; optional gradients into model.params.grad.
void toy_loss(ToyModel& model, const float* x, int B, float* loss_per_instance, bool want_grad);

struct ToyTrainCallbacks {
    // called every `every` steps with (step, loss per instance); may be empty
    std::function<void(int64_t, const std::vector<float>&)> on_log;
    int64_t every = 100;
};

// Trains for cfg.steps (AdamW, fresh batch each step). Deterministic in cfg.seed; progress bar unless quiet.
void toy_train(ToyModel& model, bool quiet, const ToyTrainCallbacks& cb = {});

// Loss per instance on a fresh evaluation batch (cfg.eval_batch examples, its own RNG stream).
std::vector<float> toy_eval_loss(ToyModel& model);

// Per-instance geometry of W [m, n] (column i = feature i): see metrics in toy_metrics_json.
struct ToyInstanceMetrics {
    std::vector<float> norms;            // ||W_i||
    std::vector<float> interference;     // sum_{j != i} (W^_i . W_j)^2
    std::vector<float> dimensionality;   // D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2
    float dims_per_feature = 0;          // m / ||W||_F^2
};
ToyInstanceMetrics toy_instance_metrics(const float* W, int m, int n);

// The hidden-space weight matrix used for geometry (W, or W1 for abs) of instance `inst`: [m, n].
const float* toy_feature_weights(const ToyModel& model, int inst);

// Run folder I/O: model.safetensors (W,b / W1,W2,b as [I,..] F32, metadata), config.json, metrics.json.
void toy_save_run(const ToyModel& model, const std::string& dir);
ToyModel toy_load_run(const std::string& dir);  // validates shapes against config.json
Json toy_metrics_json(ToyModel& model);           // per instance: density, loss, per-feature metrics

}  // namespace unfold
