// hook_stream.h: a model run over a token stream, one hook's activations served batch by batch.
//
// The stream is cut into consecutive windows of `context` tokens as `unfold lm cache` cuts it (with a BOS id,
// each window is BOS followed by context-1 corpus tokens). Each batch holds `batch` whole windows: their ids
// [nwin, T] and the hook's rows [nwin*T, d]. Batches sit on a fixed grid of windows, so a window's rows never
// depend on where a run started (BLAS rounding depends on the batch shape) - resuming at window w recomputes
// the batch w lands in. Forward passes stop after the hooked block. Memory: one batch of activations.
// LmHookSource wraps a stream as an ActivationSource (rows in order), e.g. for `sae eval --model`.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/data/source.h"
#include "unfold/lm/hooks.h"
#include "unfold/lm/model.h"

namespace unfold {

struct HookStreamOptions {
    std::string hook;         // a per-token hook (hook_row_dim)
    int64_t context = 64;     // T
    int64_t batch = 16;       // windows per forward pass
    int32_t bos_id = -1;      // >= 0: every window starts with it
    int64_t max_windows = -1; // < 0: every whole window of the stream
    const HookSet* extra_hooks = nullptr;  // run too (e.g. an SAE splice upstream); may be null
    // Non-empty: the windows are tokens[s, s+T) for these starts instead (no BOS), e.g. the evenly spread
    // windows of `lm eval` (corpus.h eval_window_starts).
    std::vector<size_t> starts;
};

struct HookBatch {
    int64_t win0 = 0, nwin = 0, T = 0, d = 0;
    const int32_t* ids = nullptr;  // [nwin, T]
    const float* act = nullptr;    // [nwin*T, d] (may be changed by the caller; the next batch overwrites it)
    float* act_mut = nullptr;
};

class HookStream {
  public:
    HookStream(const LmModel& m, const std::vector<int32_t>& tokens, const HookStreamOptions& o);
    int64_t windows() const { return nwin_total_; }  // windows the stream will serve
    int64_t dim() const { return d_; }
    int64_t body() const { return body_; }            // corpus tokens per window
    // Serves the batch containing window `w` next (w rounded down to the batch grid); returns the grid start.
    int64_t seek(int64_t w);
    bool next(HookBatch& out);  // false when every window has been served
    // The ids of window w ([T], BOS first if any), without running the model.
    std::vector<int32_t> window_ids(int64_t w) const;
    // Corpus index of the token at position `pos` of window w (-1 for a prepended BOS).
    int64_t corpus_index(int64_t w, int64_t pos) const;
    bool has_bos() const { return o_.bos_id >= 0 && o_.starts.empty(); }

  private:
    const LmModel& m_;
    const std::vector<int32_t>& tokens_;
    HookStreamOptions o_;
    int64_t d_ = 0, body_ = 0, nwin_total_ = 0, next_win_ = 0;
    ForwardOptions fo_;
    HookSet hooks_;
    LmActs acts_;
    std::vector<int32_t> ids_;
    std::vector<float> act_;
};

// The stream's rows as an ActivationSource (sequential, no shuffle), rows = windows * T. next_batch serves
// rows in order and wraps around at the end. describe() names the hook; meta() records hook and context.
std::unique_ptr<ActivationSource> make_hook_source(const LmModel& m, const std::vector<int32_t>& tokens,
                                                   const HookStreamOptions& o);

}  // namespace unfold
