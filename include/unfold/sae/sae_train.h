// sae_train.h: training an SAE from an ActivationSource, with checkpoints and exact resume.
//
// Per step: x = next batch (NaN/Inf -> error naming the step and row) * scale; sparsity coefficient
// warm-up; forward/backward (sae.h); unit-norm decoder: gradient projection; gradient-norm clipping;
// Adam with the LR schedule (core Schedule); unit-norm decoder: renormalise rows; dead-latent bookkeeping
// (AuxK mask for TopK/BatchTopK, resampling for ReLU+L1 and Gated); BatchTopK threshold EMA; logging.
// Init: b_dec = geometric median (Weiszfeld) of a first sample of `batch` rows; the activation scale
// (unit mean squared norm) is estimated from the same sample and folded back into the weights on save.
// Checkpoint (<out>/checkpoint/state.bin, one atomic file): params, Adam moments and step, dead-latent
// counters, threshold, scale, the metrics log and the source state. Resuming from step k gives the same
// bits as a run that was never interrupted (same thread count).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/comm.h"
#include "unfold/core/context.h"
#include "unfold/core/optim.h"
#include "unfold/data/source.h"
#include "unfold/io/json.h"
#include "unfold/sae/sae.h"

namespace unfold {

struct SaeTrainConfig {
    SaeConfig sae;
    int64_t steps = 3000;
    int64_t batch = 4096;
    float lr = 4e-4f;
    float beta1 = 0.9f, beta2 = 0.999f;
    std::string decay = "constant";  // constant | linear | cosine
    int64_t warmup_steps = 0;
    float final_lr_frac = 0.1f;
    int64_t coef_warmup_steps = 0;   // linear warm-up of the L1 / L0 coefficient
    float clip_grad = 1.0f;          // max global grad norm (0 = off)
    bool normalize = false;          // scale inputs to unit mean squared norm
    bool geometric_median = true;    // b_dec init
    float dec_init_norm = 1.0f;
    int64_t dead_tokens = 1000000;   // a latent not firing for this many tokens is dead
    int64_t resample_every = 0;      // STANDARD / GATED: resample dead latents every N steps (0 = off)
    int64_t log_every = 50;
    int64_t checkpoint_every = 500;  // 0 = only at the end
    int64_t density_tokens = 1 << 20;  // firing frequencies for sparsity.safetensors over the last tokens
    uint64_t seed = 0;

    Json to_json() const;
    static SaeTrainConfig from_json(const Json& j, const std::string& ctx);  // validates
    // Throws naming ctx and the field: steps, batch > 0, lr > 0, known decay, non-negative warm-ups and
    // cadences, and sae.validate() (d_in may still be 0: sae_train takes it from the source).
    void validate(const std::string& ctx) const;
};

struct SaeTrainResult {
    Sae sae;                      // scale folded in (operates on raw activations)
    std::vector<float> log10_density;  // [F] log10(fires / tokens + 1e-10) over the final window
    Json log = Json::array();     // [{step, loss, mse, fvu, l0, dead_frac, lr, aux, sparsity}]
    int64_t steps_done = 0;
    bool finished = false;        // false when stopped early by stop_at
    double seconds = 0;
    double tokens_per_s = 0;
    Json eval;                    // sae_evaluate on the next eval_tokens rows of the source (null if none)
    Json metrics;                 // what <out_dir>/metrics.json holds: config, source, train, log, eval
};

struct SaeTrainOptions {
    std::string out_dir;   // "" = keep everything in memory (no checkpoints)
    bool resume = false;   // continue from out_dir/checkpoint if present
    int64_t stop_at = -1;  // stop (after checkpointing) once this many steps are done (tests, preemption)
    Context ctx;  // threads, messages, progress, cancellation
    Json metadata = Json::object();  // written into cfg.json metadata
    // Data-parallel training across the ranks of `comm` (null: this process alone; core/comm.h). Every rank
    // calls sae_train with the same configuration and its own part of the data (SourceOptions::part / parts):
    // cfg.batch is the global batch (each rank encodes batch / R rows), the gradients are summed with one
    // all-reduce per step, so every rank holds the same weights after every step (checked by a hash at each
    // checkpoint). Rank 0 writes the folder, the checkpoints (with every rank's source position) and the final
    // evaluation (on its part); a checkpoint resumes only with the same number of ranks. The first batch (input
    // scale, geometric-median b_dec) is the R parts together. Approximations against one process with the same
    // rows: BatchTopK selects within each rank's rows; dead-latent resampling draws from rank 0's rows; the
    // logged FVU is the mean of the ranks'.
    const Comm* comm = nullptr;
    int64_t eval_tokens = 65536;     // after training, evaluate on this many further source rows (0 = skip)
    int64_t eval_batch = 4096;
};

// A finished run with out_dir set leaves a SAELens folder (cfg.json, sae_weights.safetensors,
// sparsity.safetensors), checkpoint/ and metrics.json (res.metrics) there.

SaeTrainResult sae_train(const SaeTrainConfig& cfg, ActivationSource& src, const SaeTrainOptions& opts);

// The bytes training needs at least (saturating at UINT64_MAX), for d_in-wide rows: the parameters with their
// gradients and two Adam moments (4 floats each), the transposed encoder gradient [d_sae, d_in], one batch's
// rows and reconstructions (6 x [batch, d_in]) and its [batch, d_sae] workspaces: pre-activations (TopK,
// BatchTopK), plus codes and their gradient (ReLU+L1, JumpReLU), plus the gate's two (Gated). sae_train refuses
// a configuration that needs more than the memory available before it allocates anything (core/memory.h).
uint64_t sae_train_memory_bytes(const SaeTrainConfig& cfg, int64_t d_in);

// Weiszfeld iterations for the geometric median of x[n, d] (double accumulation) -> out[d].
void geometric_median(const float* x, int64_t n, int64_t d, float* out, int iters = 100, double tol = 1e-6);

// Folds an input scale s (training saw x * s) into the weights so the SAE works on raw x.
void sae_fold_input_scale(Sae& sae, float s);

}  // namespace unfold
