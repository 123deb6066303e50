// cache.h: activation caching - run a model over a token stream and write one hook's activations as
// shards (io/shards.h) for dictionary learning (`unfold sae train --input DIR`).
//
// The stream is cut into consecutive windows of `context` tokens (with prepend_bos, each window is BOS
// followed by context-1 corpus tokens). Every position of every window is one row [d] of the hook
// (blocks.{i}.hook_resid_pre/mid/post, hook_attn_out, hook_mlp_out: d = d_model; mlp.hook_post: d = d_mlp;
// hook_embed; ln_final.hook_normalized), with int32 columns token_id, position (in the window) and
// sequence (window index). Forward passes stop after the hooked block. Memory is bounded by one batch of
// activations plus one shard buffer. With resume, an interrupted folder is continued exactly where its last
// complete shard ended (the stream is deterministic, so the result equals an uninterrupted run).
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

LmCacheResult lm_cache_activations(const LmModel& m, const std::vector<int32_t>& tokens, const LmCacheOptions& opts,
                                   const std::string& out_dir);

// Width of a hook's rows for this model (throws for unknown hooks and for attention patterns).
int64_t hook_row_dim(const LmConfig& cfg, const std::string& hook);

}  // namespace unfold
