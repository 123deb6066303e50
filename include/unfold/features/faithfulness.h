// faithfulness.h: how much of the model's behaviour the dictionary keeps, measured by the model's own loss
// with the SAE's reconstruction spliced in at its hook (SAELens / SAEBench definitions):
//   ce_loss_clean          mean next-token cross-entropy of the model as it is
//   ce_loss_spliced        the same with the hook's activation replaced by the SAE reconstruction
//   ce_loss_zero_ablation  the same with the hook's activation set to zero
//   ce_loss_recovered      (zero - spliced) / (zero - clean): 1 = the SAE loses nothing, 0 = as bad as zeroing
//   kl_div_spliced         mean per token of KL(clean || spliced) over the next-token distributions
// over the same windows `unfold lm eval` uses (corpus.h eval_window_starts), so ce_loss_clean equals
// `lm eval` on those tokens.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/io/json.h"
#include "unfold/lm/model.h"
#include "unfold/sae/sae.h"

namespace unfold {

struct SpliceEvalOptions {
    std::string hook;        // the SAE's hook (sae_hook_for)
    int64_t context = 128;   // window length T (targets are the next T tokens)
    int64_t windows = 64;    // at most this many windows, evenly spread
    int64_t batch = 8;       // windows per forward
    Context ctx;
};

struct SpliceEval {
    double ce_loss_clean = 0, ce_loss_spliced = 0, ce_loss_zero_ablation = 0, ce_loss_recovered = 0;
    double kl_div_spliced = 0;
    int64_t tokens = 0, windows = 0;
    Json to_json() const;
};

SpliceEval sae_splice_eval(const LmModel& m, const Sae& sae, const std::vector<int32_t>& tokens,
                           const SpliceEvalOptions& o);

}  // namespace unfold
