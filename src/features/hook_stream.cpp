// hook_stream.cpp: one hook's activations over a token stream, batch by batch (see hook_stream.h).
#include "unfold/features/hook_stream.h"

#include <algorithm>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/lm/cache.h"

namespace unfold {

HookStream::HookStream(const LmModel& m, const std::vector<int32_t>& tokens, const HookStreamOptions& o)
    : m_(m), tokens_(tokens), o_(o) {
    d_ = hook_row_dim(m.cfg, o.hook);  // validates the hook
    const int64_t T = o.context;
    UNFOLD_CHECK(T >= 2 && T <= m.cfg.n_ctx, "context %lld must be in [2, %lld] (the model's n_ctx)", (long long)T,
                 (long long)m.cfg.n_ctx);
    UNFOLD_CHECK(o.batch > 0, "batch must be positive");
    body_ = o.bos_id >= 0 && o.starts.empty() ? T - 1 : T;
    nwin_total_ = o.starts.empty() ? (int64_t)tokens.size() / body_ : (int64_t)o.starts.size();
    for (size_t s : o.starts)
        UNFOLD_CHECK(s + (size_t)T <= tokens.size(), "window start %zu + %lld is past the corpus end (%zu tokens)", s,
                     (long long)T, tokens.size());
    UNFOLD_CHECK(nwin_total_ > 0, "the corpus has %zu tokens, fewer than one window of %lld", tokens.size(),
                 (long long)body_);
    if (o.max_windows >= 0) nwin_total_ = std::min(nwin_total_, o.max_windows);
    fo_ = forward_options_for_hook(m.cfg, o.hook);
    if (o.extra_hooks) hooks_ = *o.extra_hooks;
    hooks_.add(o.hook, [this](const std::string&, float* data, const Shape& s) {
        act_.assign(data, data + shape_numel(s));
    });
    fo_.hooks = &hooks_;
}

int64_t HookStream::seek(int64_t w) {
    UNFOLD_CHECK(w >= 0 && w <= nwin_total_, "window %lld is outside [0, %lld]", (long long)w,
                 (long long)nwin_total_);
    next_win_ = w / o_.batch * o_.batch;
    return next_win_;
}

std::vector<int32_t> HookStream::window_ids(int64_t w) const {
    UNFOLD_CHECK(w >= 0 && w < nwin_total_, "window %lld is outside [0, %lld)", (long long)w, (long long)nwin_total_);
    const int64_t T = o_.context;
    std::vector<int32_t> row((size_t)T);
    if (!o_.starts.empty()) {
        std::memcpy(row.data(), &tokens_[o_.starts[(size_t)w]], (size_t)T * sizeof(int32_t));
        return row;
    }
    const int32_t* src = &tokens_[(size_t)(w * body_)];
    if (o_.bos_id >= 0) {
        row[0] = o_.bos_id;
        std::memcpy(row.data() + 1, src, (size_t)body_ * sizeof(int32_t));
    } else {
        std::memcpy(row.data(), src, (size_t)T * sizeof(int32_t));
    }
    return row;
}

int64_t HookStream::corpus_index(int64_t w, int64_t pos) const {
    if (!o_.starts.empty()) return (int64_t)o_.starts[(size_t)w] + pos;
    if (o_.bos_id >= 0) return pos == 0 ? -1 : w * body_ + pos - 1;
    return w * body_ + pos;
}

bool HookStream::next(HookBatch& out) {
    if (next_win_ >= nwin_total_) return false;
    const int64_t T = o_.context, win0 = next_win_, nwin = std::min(o_.batch, nwin_total_ - win0);
    ids_.resize((size_t)(nwin * T));
    for (int64_t b = 0; b < nwin; b++) {
        std::vector<int32_t> row = window_ids(win0 + b);
        std::memcpy(&ids_[(size_t)(b * T)], row.data(), (size_t)T * sizeof(int32_t));
    }
    LmActs& a = acts_;
    lm_forward(m_, a, ids_.data(), nwin, T, fo_);
    UNFOLD_ASSERT((int64_t)act_.size() == nwin * T * d_);
    out.win0 = win0;
    out.nwin = nwin;
    out.T = T;
    out.d = d_;
    out.ids = ids_.data();
    out.act = act_.data();
    out.act_mut = act_.data();
    next_win_ = win0 + nwin;
    return true;
}

namespace {

class LmHookSource : public ActivationSource {
  public:
    LmHookSource(const LmModel& m, const std::vector<int32_t>& tokens, const HookStreamOptions& o)
        : s_(m, tokens, o), o_(o), model_(m.cfg.describe()) {}
    int64_t dim() const override { return s_.dim(); }
    int64_t num_rows() const override { return s_.windows() * o_.context; }
    void next_batch(float* out, int64_t n) override {
        const int64_t d = s_.dim();
        for (int64_t i = 0; i < n;) {
            if (have_ == used_) {  // refill
                HookBatch b;
                if (!s_.next(b)) {
                    s_.seek(0);
                    UNFOLD_CHECK(s_.next(b), "hook source: no windows");
                }
                buf_.assign(b.act, b.act + b.nwin * b.T * d);
                row0_ = b.win0 * o_.context;
                have_ = b.nwin * b.T;
                used_ = 0;
            }
            const int64_t k = std::min(n - i, have_ - used_);
            std::memcpy(out + i * d, buf_.data() + used_ * d, sizeof(float) * (size_t)(k * d));
            used_ += k;
            i += k;
        }
    }
    std::string describe() const override {
        return strformat("%s of %s over %lld windows of %lld tokens", o_.hook.c_str(), model_.c_str(),
                         (long long)s_.windows(), (long long)o_.context);
    }
    Json meta() const override {
        Json j = Json::object();
        j["hook"] = o_.hook;
        j["context"] = o_.context;
        j["prepend_bos"] = o_.bos_id >= 0;
        j["model"] = model_;
        return j;
    }
    Json state() const override {
        Json j = Json::object();
        j["row"] = row0_ + used_;
        return j;
    }
    void restore(const Json& st) override {
        const int64_t row = st.get_int("row", 0);
        const int64_t w = row / o_.context;
        s_.seek(std::min(w, s_.windows()));
        have_ = used_ = 0;
        HookBatch b;
        if (!s_.next(b)) return;
        buf_.assign(b.act, b.act + b.nwin * b.T * s_.dim());
        row0_ = b.win0 * o_.context;
        have_ = b.nwin * b.T;
        used_ = row - row0_;
    }

  private:
    HookStream s_;
    HookStreamOptions o_;
    std::string model_;
    std::vector<float> buf_;
    int64_t row0_ = 0, have_ = 0, used_ = 0;
};

}  // namespace

std::unique_ptr<ActivationSource> make_hook_source(const LmModel& m, const std::vector<int32_t>& tokens,
                                                   const HookStreamOptions& o) {
    return std::make_unique<LmHookSource>(m, tokens, o);
}

}  // namespace unfold
