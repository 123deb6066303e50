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
// Training: AdamW (torch semantics), a fresh counter-based batch every step, instances trained in parallel
// (bit-identical for any thread count), checkpoints with exact resume. Kernels: kernel_*.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/core/tensor.h"
#include "unfold/io/json.h"

namespace unfold {

enum class ToyKind { LINEAR, RELU, HIDDEN_RELU, ABS };
const char* toy_kind_name(ToyKind k);              // "linear", "relu", "hidden-relu", "abs"
ToyKind parse_toy_kind(const std::string& s);      // throws on unknown

enum class ToyData {
    UNIFORM,  // x_i = 0 w.p. S_i else U[0,1]
    ONE_HOT,  // exactly one feature active (chosen uniformly; density unused), value 1
    SIGNED,   // x_i = 0 w.p. S_i else U[-1,1] (the abs task)
};

struct ToyConfig;
const char* toy_data_name(ToyData d);              // "uniform", "one-hot", "signed"
ToyData parse_toy_data(const std::string& s);      // throws on unknown

// Spec helpers used by the CLI (and usable by callers building configs):
//   toy_parse_density("1:0.05", I)  -> I values log-spaced from 1 to 0.05 (geometric interpolation)
//   toy_parse_density("0.1", I)     -> I copies;  "a,b,c,..." -> exactly I values
std::vector<float> toy_parse_density(const std::string& spec, int n_instances);
//   toy_parse_importance("0.9", n)  -> 0.9^i, i = 0..n-1;  "a,b,..." -> exactly n values
std::vector<float> toy_parse_importance(const std::string& spec, int n_features);
// Fills cfg.density ([I*n]) from per-instance values, and cfg.importance ([I*n]) from per-feature values.
void toy_set_density(ToyConfig& cfg, const std::vector<float>& per_instance);
void toy_set_importance(ToyConfig& cfg, const std::vector<float>& per_feature);
// Per-feature densities: `spec` has n comma-separated entries, each a number or a range "a:b"
// (log-spaced across instances), e.g. "0.05:0.0025,0.05,0.05" for the ARENA non-uniform experiment.
void toy_set_feature_density(ToyConfig& cfg, const std::string& spec);

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
    // Init std of every weight; 0 = the official notebook's xavier_normal_ on a (I, n, m) tensor:
    // std = sqrt(2 / (m * (n + I))) (depends on I, a quirk of the reference code kept for comparability).
    float init_std = 0.0f;

    float density_at(int inst, int f) const { return density[(size_t)inst * n_features + f]; }
    float importance_at(int inst, int f) const { return importance[(size_t)inst * n_features + f]; }
    float effective_init_std() const;
    void validate(const std::string& ctx) const;  // throws unfold::Error naming ctx and the field

    Json to_json() const;
    static ToyConfig from_json(const Json& j, const std::string& ctx);  // validates
};

struct ToyModel {
    ToyConfig cfg;
    ParamSet params;  // W,b or W1,W2,b (see top of file)
};

// Parameter allocation + initialisation, deterministic in cfg.seed: every weight N(0, std^2) with
// std = cfg.effective_init_std() (the notebook's xavier_normal_ on (I, n, m): sqrt(2 / (m (n + I)))), b = 0.
ToyModel toy_init(const ToyConfig& cfg);

// One synthetic batch: x[B, I, n] inputs (the target is x, or |x| for abs).
// Element (step_stream, inst, b, f) is a pure function of (cfg.seed, step_stream, inst, b, f) (a counter-based
// hash), so batches do not depend on thread count. toy_train's batch at step t is toy_sample_batch(cfg, t, ...);
// the evaluation batch is stream TOY_EVAL_STREAM. Requires B * n < 2^32.
constexpr uint64_t TOY_EVAL_STREAM = 0xE7A1E7A1E7A1E7A1ULL;
void toy_sample_batch(const ToyConfig& cfg, uint64_t step_stream, int B, float* x);

// Mean-over-batch loss per instance for the batch x[B, I, n]; optional gradients into model.params.grad
// (overwritten, not accumulated). Uses the fast float kernel (the same one training uses).
void toy_loss(ToyModel& model, const float* x, int B, float* loss_per_instance, bool want_grad);
// The same on the generated batch toy_sample_batch(cfg, step_stream, B) without materialising it.
void toy_loss_stream(ToyModel& model, uint64_t step_stream, int B, float* loss_per_instance, bool want_grad);
// Loss without the L1 term (pure importance-weighted reconstruction error), on a generated batch.
void toy_recon_loss_stream(ToyModel& model, uint64_t step_stream, int B, float* recon_per_instance);

// Straightforward double-precision reference of toy_loss (for gradient checks and kernel tests):
// params in ParamSet layout (see top of file), x[B, I, n]; grad (same layout as params) may be null.
void toy_loss_reference(const ToyConfig& cfg, const double* params, const float* x, int B,
                        double* loss_per_instance, double* grad);

struct ToyTrainCallbacks {
    // called every `every` steps with (step, loss per instance); may be empty
    std::function<void(int64_t, const std::vector<float>&)> on_log;
    int64_t every = 100;
};

// Trains for cfg.steps (AdamW, fresh batch each step). Deterministic in cfg.seed; progress through ctx.
void toy_train(ToyModel& model, const Context& ctx = {}, const ToyTrainCallbacks& cb = {});

// Training with checkpoints. Checkpoint = params + Adam moments + step, written atomically to
// <checkpoint_dir>/state.safetensors every `checkpoint_every` steps (0 = never) and at the end.
// With resume, training continues from that checkpoint (if present) and the final model is
// bit-identical to an uninterrupted run. `stop_after` (> 0) stops after that many steps of this call
// (simulates an interruption; for tests). Returns the step reached.
struct ToyTrainOptions {
    Context ctx;                 // threads, messages, progress, cancellation
    std::string checkpoint_dir;  // "" = no checkpoints
    int64_t checkpoint_every = 1000;
    bool resume = false;
    int64_t stop_after = 0;
    ToyTrainCallbacks callbacks;
};
int64_t toy_train_ex(ToyModel& model, const ToyTrainOptions& opt);

// Checkpoint files (used by toy_train_ex; exposed for tests and tools).
struct ToyCheckpoint {
    int64_t step = 0;            // completed steps
    std::vector<float> params;   // ParamSet::data
    std::vector<float> adam_m, adam_v;
    int64_t adam_t = 0;
};
void toy_save_checkpoint(const ToyModel& model, const ToyCheckpoint& ck, const std::string& dir);
bool toy_load_checkpoint(const ToyModel& model, const std::string& dir, ToyCheckpoint* ck);  // false if none

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

// Recon loss (no L1) per instance on the evaluation batch.
std::vector<float> toy_eval_recon_loss(ToyModel& model);

// Run folder I/O: model.safetensors (W,b / W1,W2,b as [I,..] F32, metadata), config.json, metrics.json.
void toy_save_run(const ToyModel& model, const std::string& dir);
ToyModel toy_load_run(const std::string& dir);  // validates shapes against config.json
Json toy_metrics_json(ToyModel& model);           // per instance: density, loss, per-feature metrics

}  // namespace unfold
