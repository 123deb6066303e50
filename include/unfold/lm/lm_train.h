// lm_train.h: next-token training of an LmModel on a token stream.
//
// Batches: lm/corpus.h's sample_batch - B windows of T+1 tokens drawn as a pure function of (seed, step), so a
// resumed run sees exactly the batches of an uninterrupted one. Optimiser: AdamW (decay on matrices and embeddings only), linear warm-up then cosine
// decay to min_lr_frac * lr, global gradient-norm clipping. Validation: mean loss over fixed, evenly spaced
// windows of the validation tokens.
// Files in out_dir: model.safetensors + config.json (HF layout), train_state.safetensors (params, Adam
// moments, step; written atomically every ckpt_every steps and at the end), metrics.jsonl (one line per
// log/eval step). Resume (resume = true) restores train_state and continues bit-identically (same threads).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/io/json.h"
#include "unfold/lm/model.h"

namespace unfold {

struct LmTrainConfig {
    int64_t steps = 1000;
    int64_t batch = 16;
    int64_t context = 128;
    float lr = 1e-3f;
    float min_lr_frac = 0.1f;
    int64_t warmup = 100;
    float weight_decay = 0.1f;
    float beta1 = 0.9f, beta2 = 0.95f;
    float grad_clip = 1.0f;  // <= 0: off
    int64_t eval_every = 100;
    int64_t eval_windows = 64;  // validation windows of `context` tokens
    int64_t log_every = 10;
    int64_t ckpt_every = 500;
    uint64_t seed = 0;
    int64_t stop_after = -1;  // > 0: checkpoint and stop after this many steps (resume later)
    Context ctx;  // threads, messages, progress, cancellation
    Json to_json() const;
};

struct LmTrainResult {
    int64_t steps_done = 0;
    double last_train_loss = 0.0;  // mean over the last log window
    double first_train_loss = 0.0;
    double val_loss = 0.0;         // at the end
    double tokens_per_s = 0.0;
    double seconds = 0.0;
};

// Trains m (already built and initialised, or restored when resuming) in place.
LmTrainResult lm_train(LmModel& m, const std::vector<int32_t>& train_tokens, const std::vector<int32_t>& val_tokens,
                       const LmTrainConfig& tc, const std::string& out_dir, bool resume);

// Mean next-token loss over up to n_windows non-overlapping, evenly spread windows of T+1 tokens
// (corpus.h eval_window_starts), batched by `batch`.
// hooks (optional) run in every forward (an SAE spliced in, a steering edit).
double lm_eval_loss(const LmModel& m, const std::vector<int32_t>& tokens, int64_t T, int64_t n_windows,
                    int64_t batch, const HookSet* hooks = nullptr);

// Entropy (nats) of the unigram distribution of `tokens` - the loss of the best context-free predictor.
double unigram_entropy(const std::vector<int32_t>& tokens, int64_t vocab);

}  // namespace unfold
