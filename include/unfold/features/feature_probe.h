// feature_probe.h: questions asked of an SAE's features by running the model.
//
//   trace       the features active at each position of one token sequence, with their values - the same
//               numbers `features build` records for a context (the build's windows, traced again, give the
//               recorded activations up to BLAS rounding between batch shapes, ~1e-6).
//   hypothesis  a hypothesised context (a predicate on a token in its window, e.g. a regular expression over
//               the token's text) against where each feature fires, over a corpus: per feature
//               specificity P(context | fires), sensitivity P(fires | context) and their F1
//               (Bricken et al. 2023's two halves of "interpretable").
//   effect      ablate feature f (keep the SAE's error term: only f's contribution is removed) wherever it
//               fires and measure the model's next-token loss and log-probabilities at those positions:
//               mean change in loss, and the tokens whose mean log-probability rises / falls most.
// Corpus commands stream windows exactly as `features build` does (hook_stream.h; the BOS position is left out).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/features/decoder_geometry.h"
#include "unfold/lm/model.h"
#include "unfold/sae/sae.h"

namespace unfold {

// Codes of one sequence ids[T] (row t = position t).
SparseCodes features_trace(const LmModel& m, const Sae& sae, const std::string& hook, const std::vector<int32_t>& ids);

struct CorpusScan {
    std::string hook;
    int64_t context = 64, batch = 16;
    int32_t bos_id = -1;
    int64_t tokens = 1 << 18;  // corpus tokens to read
    Context ctx;
};

// pred(window ids [T], position) says whether the hypothesised context holds at that token.
using ContextPredicate = std::function<bool(const int32_t* ids, int64_t T, int64_t pos)>;

struct HypothesisScore {
    int64_t feature = 0;
    int64_t fires = 0, context = 0, both = 0;
    double specificity = 0, sensitivity = 0, f1 = 0;
};
struct HypothesisResult {
    int64_t rows = 0, context_rows = 0;
    std::vector<HypothesisScore> features;  // every feature, in feature order
};
HypothesisResult features_hypothesis(const LmModel& m, const Sae& sae, const std::vector<int32_t>& tokens,
                                     const CorpusScan& scan, const ContextPredicate& pred);

struct EffectResult {
    int64_t feature = 0;
    int64_t rows = 0;                 // positions scanned (with a next token)
    int64_t firings = 0;              // of them, where the feature fired (the positions measured)
    double mean_activation = 0;       // at those positions
    double loss_clean = 0, loss_ablated = 0, delta_loss = 0;  // mean next-token loss there
    std::vector<IdValue> rises, falls;  // tokens by mean change in log-probability (largest rises / falls)
};
EffectResult features_effect(const LmModel& m, const Sae& sae, const std::vector<int32_t>& tokens,
                             const CorpusScan& scan, int64_t feature, int k = 10);

}  // namespace unfold
