// cache.h: activation caching - run a model over a token stream and write one hook's activations as
// shards (io/shards.h) for dictionary learning (`unfold sae train --input DIR`).
//
// The stream is cut into consecutive windows of `context` tokens (with prepend_bos, each window is BOS
// followed by context-1 corpus tokens). Every position of every window is one row [d] of the hook (any
// hook but attention scores / patterns: residual, attention, MLP, norm hooks; per-head hooks flatten to
// heads * size per row, e.g. hook_z: d = NH * hs, hook_result: d = NH * d_model; hook_scale: d = 1; see
// hook_row_dim in hooks.h), with int32 columns token_id, position (in the window) and
// sequence (window index). Forward passes stop after the hooked block. Memory is bounded by one batch of
// activations plus one shard buffer. With resume, an interrupted folder is continued exactly where its last
// complete shard ended (the stream is deterministic, so the result equals an uninterrupted run); a folder without
// an index yet (missing, or a run killed before writing one) is started as if resume were off.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/io/json.h"
#include "unfold/lm/model.h"

namespace unfold {

struct LmCacheOptions {
    std::string hook = "blocks.0.mlp.hook_post";
    int64_t context = 128;
    int64_t max_rows = 1000000;  // stop after this many rows (or when the stream ends)
    int64_t batch = 16;          // windows per forward pass
    int64_t rows_per_shard = 65536;
    bool f16 = false;
    bool resume = false;
    int32_t bos_id = -1;         // >= 0: prepend to every window
    Context ctx;  // threads, messages, progress, cancellation
    Json meta;                   // extra fields for index.json "meta"
};

struct LmCacheResult {
    int64_t rows = 0;        // total rows in the folder
    int64_t new_rows = 0;    // rows written by this call
    int64_t d = 0;
    double seconds = 0.0;
};

// Forward options that stop right after `hook` (the block it is in; logits only for ln_final / unembed hooks).
ForwardOptions forward_options_for_hook(const LmConfig& cfg, const std::string& hook);

LmCacheResult lm_cache_activations(const LmModel& m, const std::vector<int32_t>& tokens, const LmCacheOptions& opts,
                                   const std::string& out_dir);

// (hook_row_dim, the width of a hook's rows, is in hooks.h.)

}  // namespace unfold
