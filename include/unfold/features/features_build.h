// features_build.h: `unfold features build` - a model run over a corpus with an SAE at its hook, every
// feature's statistics gathered in one pass (feature_stats.h) and written with the decoder geometry
// (decoder_geometry.h) and automatic labels to a features database (feature_db.h).
//
// Memory is bounded by one batch of activations and the per-feature statistics (independent of --tokens);
// the corpus token ids are held in memory (4 bytes per token). The BOS position of each window is left out of
// every statistic (its activations are outliers, as SAELens leaves it out). With checkpoint_seconds > 0 the
// state is saved every so often to <out>.partial (atomically) and on cancellation; resume continues from it
// exactly (same database as an uninterrupted run).
//
// Labels: the tokens most over-represented at a feature's firing positions against their corpus frequency:
// candidates are its heavy hitters with share = P(token | fires) >= 5% and lift = share / P(token) >= 2, the
// `label_k` largest shares, written as `" the" 41%, " a" 22%`; "" when none qualifies.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/features/feature_stats.h"
#include "unfold/io/json.h"
#include "unfold/lm/model.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/sae/sae.h"

namespace unfold {

struct FeaturesBuildOptions {
    std::string hook;              // the SAE's hook (sae_hook_for)
    int64_t context = 64;          // window length T
    int64_t batch = 16;            // windows per forward pass
    int32_t bos_id = -1;           // >= 0: each window starts with it (and that position is left out)
    int64_t tokens = 1 << 20;      // corpus tokens to read (whole windows; fewer if the corpus is shorter)
    FeatureStatsOptions stats;
    int64_t cofire_rows = 65536;   // rows sampled for co-firing
    int logit_k = 10, neighbours = 5, cofire_k = 5, label_k = 3;
    double checkpoint_seconds = 0; // > 0: save <out>.partial this often
    bool resume = false;           // continue <out>.partial
    Context ctx;
    Json meta = Json::object();    // extra meta keys (model, sae, corpus paths), written as strings
};

struct FeaturesBuildResult {
    int64_t rows = 0, windows = 0, d_sae = 0;
    double seconds = 0;          // this call
    double rows_per_second = 0;  // rows this call read / the seconds of its pass over them
    double model_seconds = 0;    // of the pass: model forward to the hook and SAE encode
    double stats_seconds = 0;    // of the pass: the per-feature statistics (and checkpoints)
};

// Every id's text as it reads inside a sequence (<bos>/<eos> for the specials, <id N> past the tokenizer's
// vocabulary); byte pieces that are not valid UTF-8 alone become <0xXX>. For features_build's vocab_text.
std::vector<std::string> token_texts(const Tokenizer& tok, int64_t vocab);

// vocab_text[i]: token i's text (for the vocab table and labels); size = the model's vocabulary.
FeaturesBuildResult features_build(const LmModel& m, const Sae& sae, const std::vector<int32_t>& tokens,
                                   const std::vector<std::string>& vocab_text, const FeaturesBuildOptions& o,
                                   const std::string& out_path);

// The label of a feature from its heavy hitters (see the top of this file).
struct LabelToken {
    int32_t token = 0;
    double share = 0, lift = 0;
};
std::vector<LabelToken> feature_label_tokens(const FeatureAcc& a, const std::vector<int64_t>& unigram, int64_t rows,
                                             int k);
std::string feature_label(const std::vector<LabelToken>& t, const std::vector<std::string>& vocab_text);

}  // namespace unfold
