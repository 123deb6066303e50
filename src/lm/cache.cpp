// cache.cpp: streaming activation cache into shard folders (see cache.h).
#include "unfold/lm/cache.h"

#include <chrono>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/shards.h"
#include "unfold/lm/hooks.h"

namespace unfold {

ForwardOptions forward_options_for_hook(const LmConfig& cfg, const std::string& hook) {
    ForwardOptions fo;
    // the final norm is computed together with the logits
    fo.logits = hook.rfind("ln_final.", 0) == 0 || hook.rfind("unembed.", 0) == 0;
    if (hook.rfind("blocks.", 0) == 0)
        fo.last_layer = std::stoll(hook.substr(7, hook.find('.', 7) - 7));
    else if (hook == "hook_embed" || hook == "hook_pos_embed")
        fo.last_layer = 0;
    if (fo.last_layer >= cfg.n_layers) fo.last_layer = -1;
    return fo;
}

LmCacheResult lm_cache_activations(const LmModel& m, const std::vector<int32_t>& tokens, const LmCacheOptions& o,
                                   const std::string& out_dir) {
    ThreadScope threads(o.ctx);
    const int64_t d = hook_row_dim(m.cfg, o.hook);
    const int64_t T = o.context;
    UNFOLD_CHECK(T >= 2 && T <= m.cfg.n_ctx, "cache: context %lld must be in [2, %lld]", (long long)T,
                 (long long)m.cfg.n_ctx);
    UNFOLD_CHECK(o.max_rows > 0 && o.batch > 0, "cache: --tokens and --batch must be positive");
    const int64_t body = o.bos_id >= 0 ? T - 1 : T;  // corpus tokens per window
    const int64_t n_windows_avail = (int64_t)tokens.size() / body;
    UNFOLD_CHECK(n_windows_avail > 0, "cache: the corpus has %zu tokens, fewer than one window of %lld",
                 tokens.size(), (long long)body);
    const int64_t total_rows = std::min(o.max_rows, n_windows_avail * T);

    ShardWriterOptions so;
    so.d = d;
    so.f16 = o.f16;
    so.rows_per_shard = o.rows_per_shard;
    so.columns = {"token_id", "position", "sequence"};
    Json meta = o.meta.is_obj() ? o.meta : Json::object();
    meta["hook"] = o.hook;
    meta["context"] = T;
    meta["prepend_bos"] = o.bos_id >= 0;
    meta["model"] = m.cfg.describe();
    meta["dtype"] = dtype_name(lm_dtype(m));
    so.meta = meta;
    so.resume_meta_keys = {"hook", "dtype"};  // rows of one folder come from one hook at one precision
    // a run killed before its first index.json left nothing to continue: resuming it starts the folder
    ShardWriter w(out_dir, so, o.resume && is_shard_folder(out_dir));
    LmCacheResult res;
    res.d = d;
    int64_t done = w.rows_written();
    UNFOLD_CHECK(done <= total_rows, "%s: already holds %lld rows, more than the %lld asked for", out_dir.c_str(),
                 (long long)done, (long long)total_rows);
    const int64_t start_rows = done;
    ForwardOptions fo = forward_options_for_hook(m.cfg, o.hook);
    HookSet hooks;
    std::vector<float> act;  // [B, T, d] of the current batch
    hooks.add(o.hook, [&](const std::string&, float* data, const Shape& s) {
        act.assign(data, data + shape_numel(s));
    });
    fo.hooks = &hooks;
    LmActs acts;
    std::vector<int32_t> ids, c_tok, c_pos, c_seq;
    Progress bar(o.ctx, "cache", total_rows, "row");
    auto t0 = std::chrono::steady_clock::now();
    while (done < total_rows) {
        // Batches sit on a fixed grid of `batch` windows, so a window's activations never depend on where a
        // run started or stopped (BLAS rounding depends on the batch shape); resume recomputes the batch it
        // lands in and skips the rows already written.
        int64_t win0 = (done / T) / o.batch * o.batch, skip = done - win0 * T;
        int64_t nwin = std::min(o.batch, n_windows_avail - win0);
        ids.resize((size_t)(nwin * T));
        for (int64_t b = 0; b < nwin; b++) {
            int32_t* row = &ids[(size_t)(b * T)];
            const int32_t* src = &tokens[(size_t)((win0 + b) * body)];
            if (o.bos_id >= 0) {
                row[0] = o.bos_id;
                std::memcpy(row + 1, src, (size_t)body * sizeof(int32_t));
            } else {
                std::memcpy(row, src, (size_t)T * sizeof(int32_t));
            }
        }
        lm_forward(m, acts, ids.data(), nwin, T, fo);
        UNFOLD_ASSERT((int64_t)act.size() == nwin * T * d);
        int64_t r0 = skip, r1 = std::min(nwin * T, skip + (total_rows - done));
        int64_t n = r1 - r0;
        c_tok.resize((size_t)n);
        c_pos.resize((size_t)n);
        c_seq.resize((size_t)n);
        for (int64_t r = r0; r < r1; r++) {
            c_tok[(size_t)(r - r0)] = ids[(size_t)r];
            c_pos[(size_t)(r - r0)] = (int32_t)(r % T);
            c_seq[(size_t)(r - r0)] = (int32_t)(win0 + r / T);
        }
        w.append(act.data() + r0 * d, n, {c_tok.data(), c_pos.data(), c_seq.data()});
        int64_t tenth = std::max<int64_t>(total_rows / 10, 1);
        if (!bar.active() && (done + n) / tenth != done / tenth)
            o.ctx.info("cache: %lld / %lld rows", (long long)(done + n), (long long)total_rows);
        done += n;
        bar.update(done);
    }
    w.finish();
    bar.finish();
    res.rows = done;
    res.new_rows = done - start_rows;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

}  // namespace unfold
