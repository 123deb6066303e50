// feature_stats.cpp: the one-pass per-feature statistics of `features build` (see feature_stats.h).
#include "unfold/features/feature_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/rng.h"

namespace unfold {

namespace {

// a stronger context: higher value; on ties the earlier window
bool stronger(const FeatureContext& a, const FeatureContext& b) {
    return a.value > b.value || (a.value == b.value && a.window < b.window);
}

// smallest power of two strictly above v (v > 0)
float pow2_above(float v) {
    int e = 0;
    std::frexp(v, &e);  // v = m 2^e, m in [0.5, 1)
    float hi = std::ldexp(1.0f, e);
    while (hi <= v) hi *= 2.0f;
    return hi;
}

uint64_t draw(uint64_t seed, int64_t f, int64_t counter, uint64_t what) {
    return rng_at(rng_key(seed, 0x46454154ULL ^ (uint64_t)f), (uint64_t)counter * 4 + what);
}

// adds the partners in `pending` (any order, repeats; all < F) to the (partner, count) list sorted by partner and
// clears pending: counted in a per-thread dense array, so the cost is O(pending + list + new partners' sort)
void merge_cofire(std::vector<std::pair<int32_t, int32_t>>& cofire, std::vector<int32_t>& pending, int64_t F) {
    if (pending.empty()) return;
    static thread_local std::vector<int32_t> cnt, touched;
    static thread_local std::vector<std::pair<int32_t, int32_t>> fresh;
    if ((int64_t)cnt.size() < F) cnt.assign((size_t)F, 0);
    touched.clear();
    for (int32_t g : pending)
        if (cnt[(size_t)g]++ == 0) touched.push_back(g);
    for (auto& [g, c] : cofire)
        if (cnt[(size_t)g]) {
            c += cnt[(size_t)g];
            cnt[(size_t)g] = 0;
        }
    fresh.clear();
    for (int32_t g : touched)
        if (cnt[(size_t)g]) {
            fresh.push_back({g, cnt[(size_t)g]});
            cnt[(size_t)g] = 0;
        }
    pending.clear();
    if (fresh.empty()) return;
    std::sort(fresh.begin(), fresh.end());
    const size_t mid = cofire.size();
    cofire.insert(cofire.end(), fresh.begin(), fresh.end());
    std::inplace_merge(cofire.begin(), cofire.begin() + (std::ptrdiff_t)mid, cofire.end());
}

// ---- byte serialisation for save/load --------------------------------------------------------------
struct Out {
    std::string s;
    template <class T> void pod(const T& v) { s.append((const char*)&v, sizeof(T)); }
    template <class T> void vec(const std::vector<T>& v) {
        pod<uint64_t>(v.size());
        s.append((const char*)v.data(), v.size() * sizeof(T));
    }
};
struct In {
    const std::string& s;
    size_t at = 0;
    std::string what;
    void need(size_t n) {
        UNFOLD_CHECK(n <= s.size() - at, "%s: truncated (needs %zu more bytes at offset %zu of %zu)", what.c_str(), n,
                     at, s.size());
    }
    template <class T> T pod() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, s.data() + at, sizeof(T));
        at += sizeof(T);
        return v;
    }
    template <class T> void vec(std::vector<T>& v, size_t max_n) {
        const uint64_t n = pod<uint64_t>();
        UNFOLD_CHECK(n <= max_n, "%s: a list of %llu items, at most %zu expected", what.c_str(), (unsigned long long)n,
                     max_n);
        need(n * sizeof(T));
        v.resize(n);
        std::memcpy((void*)v.data(), s.data() + at, n * sizeof(T));
        at += n * sizeof(T);
    }
};

void save_context(Out& o, const FeatureContext& c) {
    o.pod(c.value);
    o.pod(c.window);
    o.pod(c.pos);
    o.pod(c.first);
    o.vec(c.ids);
    o.vec(c.acts);
}
void load_context(In& in, FeatureContext& c, size_t max_len) {
    c.value = in.pod<float>();
    c.window = in.pod<int64_t>();
    c.pos = in.pod<int32_t>();
    c.first = in.pod<int32_t>();
    in.vec(c.ids, max_len);
    in.vec(c.acts, max_len);
    UNFOLD_CHECK(c.ids.size() == c.acts.size(), "%s: a context with %zu ids and %zu activations", in.what.c_str(),
                 c.ids.size(), c.acts.size());
}

constexpr uint64_t kMagic = 0x3153544154534655ULL;  // "UFSTATS1"

}  // namespace

FeatureStats::FeatureStats(int64_t n_features, int64_t vocab, int64_t T, const FeatureStatsOptions& o)
    : o_(o), T_(T), vocab_(vocab) {
    UNFOLD_CHECK(n_features > 0 && vocab > 0 && T > 0, "feature stats: empty shape");
    UNFOLD_CHECK(o.top >= 1 && o.top <= 1000, "--top must be in [1, 1000]");
    UNFOLD_CHECK(o.interval_samples >= 0 && o.interval_samples <= 100, "interval samples must be in [0, 100]");
    UNFOLD_CHECK(o.before >= 0 && o.after >= 0 && o.before + o.after < 4096, "context window out of range");
    UNFOLD_CHECK(o.cofire_rate >= 0 && o.cofire_rate <= 1, "co-firing sample rate must be in [0, 1]");
    acc_.resize((size_t)n_features);
    for (auto& a : acc_) {
        a.hist.assign(kFeatureHistBins, 0);
        a.intervals.resize(kFeatureIntervals);
    }
    unigram_.assign((size_t)vocab, 0);
}

std::vector<FeatureContext> FeatureStats::sorted_top(int64_t f) const {
    std::vector<FeatureContext> v = acc_[(size_t)f].top;
    std::sort(v.begin(), v.end(), stronger);
    return v;
}

void FeatureStats::add(int64_t win0, int64_t nwin, const int32_t* ids, const SparseCodes& codes, const uint8_t* skip) {
    const int64_t nrows = nwin * T_, F = n_features();
    UNFOLD_CHECK(codes.rows == nrows, "feature stats: %lld code rows for %lld windows of %lld", (long long)codes.rows,
                 (long long)nwin, (long long)T_);
    // CSC of the kept rows' codes: per feature, its (row, value) in row order
    col_off_.assign((size_t)F + 1, 0);
    for (int64_t r = 0; r < nrows; r++) {
        if (skip && skip[r]) continue;
        for (int64_t j = codes.off[(size_t)r]; j < codes.off[(size_t)r + 1]; j++)
            if (codes.val[(size_t)j] > 0) col_off_[(size_t)codes.idx[(size_t)j] + 1]++;
    }
    for (int64_t f = 0; f < F; f++) col_off_[(size_t)f + 1] += col_off_[(size_t)f];
    col_row_.resize((size_t)col_off_[(size_t)F]);
    col_val_.resize((size_t)col_off_[(size_t)F]);
    std::vector<int64_t> fill(col_off_.begin(), col_off_.end() - 1);
    std::vector<uint8_t> sampled((size_t)nrows, 0);
    const uint64_t rate_cut = o_.cofire_rate >= 1 ? UINT64_MAX : (uint64_t)(o_.cofire_rate * 18446744073709551615.0);
    for (int64_t r = 0; r < nrows; r++) {
        if (skip && skip[r]) continue;
        const int32_t id = ids[r];
        UNFOLD_CHECK(id >= 0 && id < vocab_, "feature stats: token id %d outside the vocabulary [0, %lld)", id,
                     (long long)vocab_);
        unigram_[(size_t)id]++;
        rows_++;
        sampled[(size_t)r] = rng_at(rng_key(o_.seed, 0x434f4649ULL), (uint64_t)(win0 * T_ + r)) <= rate_cut;
        for (int64_t j = codes.off[(size_t)r]; j < codes.off[(size_t)r + 1]; j++) {
            if (codes.val[(size_t)j] <= 0) continue;
            const size_t k = (size_t)fill[(size_t)codes.idx[(size_t)j]]++;
            col_row_[k] = (int32_t)r;
            col_val_[k] = codes.val[(size_t)j];
        }
    }
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t f = 0; f < F; f++)
        if (col_off_[(size_t)f + 1] > col_off_[(size_t)f]) update_feature(f, ids, win0, nrows, codes, sampled);
    windows_ += nwin;
}

void FeatureStats::update_feature(int64_t f, const int32_t* ids, int64_t win0, int64_t nrows, const SparseCodes& codes,
                                  const std::vector<uint8_t>& sampled_row) {
    (void)nrows;
    FeatureAcc& a = acc_[(size_t)f];
    const int64_t b = col_off_[(size_t)f], e = col_off_[(size_t)f + 1];
    const int64_t T = T_;
    // the context of entry j (row r): the window around it with f's activation on every shown token
    auto fill_context = [&](int64_t j, FeatureContext& c) {  // reuses c's buffers
        const int64_t r = col_row_[(size_t)j], w = r / T, pos = r % T;
        const int64_t first = std::max<int64_t>(0, pos - o_.before), last = std::min<int64_t>(T - 1, pos + o_.after);
        c.value = col_val_[(size_t)j];
        c.window = win0 + w;
        c.pos = (int32_t)pos;
        c.first = (int32_t)first;
        c.ids.assign(ids + w * T + first, ids + w * T + last + 1);
        c.acts.assign((size_t)(last - first + 1), 0.0f);
        for (int64_t q = j; q >= b && col_row_[(size_t)q] >= w * T + first; q--)
            c.acts[(size_t)(col_row_[(size_t)q] - w * T - first)] = col_val_[(size_t)q];
        for (int64_t q = j + 1; q < e && col_row_[(size_t)q] <= w * T + last; q++)
            c.acts[(size_t)(col_row_[(size_t)q] - w * T - first)] = col_val_[(size_t)q];
    };
    auto heap_cmp = [](const FeatureContext& x, const FeatureContext& y) { return stronger(x, y); };  // front = weakest
    auto offer_top = [&](int64_t j) {
        FeatureContext probe;
        probe.value = col_val_[(size_t)j];
        probe.window = win0 + col_row_[(size_t)j] / T;
        if ((int)a.top.size() < o_.top) {
            fill_context(j, a.top.emplace_back());
            std::push_heap(a.top.begin(), a.top.end(), heap_cmp);
        } else if (stronger(probe, a.top.front())) {
            std::pop_heap(a.top.begin(), a.top.end(), heap_cmp);
            fill_context(j, a.top.back());
            std::push_heap(a.top.begin(), a.top.end(), heap_cmp);
        }
    };
    auto merge_reservoirs = [&](FeatureInterval& x, FeatureInterval& y) {
        FeatureInterval m;
        m.seen = x.seen + y.seen;
        int64_t px = x.seen, py = y.seen;
        uint64_t n = 0;
        while ((int)m.samples.size() < o_.interval_samples && (!x.samples.empty() || !y.samples.empty())) {
            const uint64_t u = draw(o_.seed, f, a.fires, 2 + 4 * (n++)) % (uint64_t)std::max<int64_t>(px + py, 1);
            std::vector<FeatureContext>* from = ((int64_t)u < px && !x.samples.empty()) || y.samples.empty()
                                                    ? &x.samples
                                                    : &y.samples;
            (from == &x.samples ? px : py)--;
            m.samples.push_back(std::move(from->back()));
            from->pop_back();
        }
        return m;
    };
    auto double_range = [&]() {
        for (int i = 0; i < kFeatureHistBins / 2; i++) a.hist[(size_t)i] = a.hist[(size_t)(2 * i)] + a.hist[(size_t)(2 * i + 1)];
        std::fill(a.hist.begin() + kFeatureHistBins / 2, a.hist.end(), 0);
        std::vector<FeatureInterval> iv(kFeatureIntervals);
        for (int i = 0; i < kFeatureIntervals / 2; i++)
            iv[(size_t)i] = merge_reservoirs(a.intervals[(size_t)(2 * i)], a.intervals[(size_t)(2 * i + 1)]);
        a.intervals = std::move(iv);
        a.hi *= 2.0f;
    };
    int64_t cur_w = -1, best_j = -1;
    for (int64_t j = b; j < e; j++) {
        const int64_t r = col_row_[(size_t)j];
        const float v = col_val_[(size_t)j];
        a.fires++;
        a.sum += v;
        a.max = std::max(a.max, v);
        if (a.hi == 0.0f) a.hi = pow2_above(v);
        while (v >= a.hi) double_range();
        a.hist[(size_t)std::min<int64_t>(kFeatureHistBins - 1, (int64_t)(v / a.hi * kFeatureHistBins))]++;
        FeatureInterval& iv = a.intervals[(size_t)std::min<int64_t>(kFeatureIntervals - 1, (int64_t)(v / a.hi * kFeatureIntervals))];
        iv.seen++;
        if ((int)iv.samples.size() < o_.interval_samples) {
            fill_context(j, iv.samples.emplace_back());
        } else if (o_.interval_samples > 0) {
            const uint64_t k = draw(o_.seed, f, a.fires, 1) % (uint64_t)iv.seen;
            if (k < (uint64_t)o_.interval_samples) fill_context(j, iv.samples[(size_t)k]);
        }
        // heavy hitters of the firing token
        const int32_t tok = ids[r];
        auto it = std::find_if(a.heavy.begin(), a.heavy.end(), [&](const auto& p) { return p.first == tok; });
        if (it != a.heavy.end()) {
            it->second++;
        } else if ((int)a.heavy.size() < kFeatureHeavyHitters) {
            a.heavy.push_back({tok, 1});
        } else {
            for (auto& p : a.heavy) p.second--;
            a.heavy.erase(std::remove_if(a.heavy.begin(), a.heavy.end(), [](const auto& p) { return p.second <= 0; }),
                          a.heavy.end());
        }
        // co-firing on sampled rows
        if (sampled_row[(size_t)r]) {
            a.sampled++;
            for (int64_t q = codes.off[(size_t)r]; q < codes.off[(size_t)r + 1]; q++)
                if (codes.idx[(size_t)q] != f && codes.val[(size_t)q] > 0) a.cofire_new.push_back(codes.idx[(size_t)q]);
        }
        // one context per window: the window's strongest firing
        const int64_t w = r / T;
        if (w != cur_w) {
            if (best_j >= 0) offer_top(best_j);
            cur_w = w;
            best_j = j;
        } else if (v > col_val_[(size_t)best_j]) {
            best_j = j;
        }
    }
    if (best_j >= 0) offer_top(best_j);
    // co-firing partners are merged into the sorted counts once enough have gathered (amortised: merging
    // every batch would cost O(partners) per feature per batch)
    if (a.cofire_new.size() >= std::max<size_t>(1024, a.cofire.size())) merge_cofire(a.cofire, a.cofire_new, n_features());
}

void FeatureStats::flush() {
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t f = 0; f < n_features(); f++) merge_cofire(acc_[(size_t)f].cofire, acc_[(size_t)f].cofire_new, n_features());
}

std::string FeatureStats::save() const {
    Out o;
    o.pod(kMagic);
    o.pod<int64_t>(n_features());
    o.pod(vocab_);
    o.pod(T_);
    o.pod(o_.top);
    o.pod(o_.interval_samples);
    o.pod(o_.before);
    o.pod(o_.after);
    o.pod(o_.cofire_rate);
    o.pod(o_.seed);
    o.pod(rows_);
    o.pod(windows_);
    o.vec(unigram_);
    for (const FeatureAcc& a : acc_) {
        o.pod(a.fires);
        o.pod(a.sum);
        o.pod(a.max);
        o.pod(a.hi);
        o.vec(a.hist);
        for (const FeatureInterval& iv : a.intervals) {
            o.pod(iv.seen);
            o.pod<uint64_t>(iv.samples.size());
            for (const auto& c : iv.samples) save_context(o, c);
        }
        o.pod<uint64_t>(a.top.size());
        for (const auto& c : a.top) save_context(o, c);
        o.pod<uint64_t>(a.heavy.size());  // element by element: the pair has padding bytes
        for (const auto& [t, c] : a.heavy) {
            o.pod(t);
            o.pod(c);
        }
        o.pod(a.sampled);
        if (a.cofire_new.empty()) {
            o.vec(a.cofire);
        } else {  // the merged counts (the state does not depend on when merges happened)
            auto cf = a.cofire;
            auto pending = a.cofire_new;
            merge_cofire(cf, pending, n_features());
            o.vec(cf);
        }
    }
    return std::move(o.s);
}

void FeatureStats::load(const std::string& bytes, const std::string& what) {
    In in{bytes, 0, what};
    UNFOLD_CHECK(in.pod<uint64_t>() == kMagic, "%s: not a features-build checkpoint (bad magic)", what.c_str());
    const int64_t F = in.pod<int64_t>(), V = in.pod<int64_t>(), T = in.pod<int64_t>();
    FeatureStatsOptions o;
    o.top = in.pod<int>();
    o.interval_samples = in.pod<int>();
    o.before = in.pod<int>();
    o.after = in.pod<int>();
    o.cofire_rate = in.pod<double>();
    o.seed = in.pod<uint64_t>();
    UNFOLD_CHECK(F == n_features() && V == vocab_ && T == T_,
                 "%s: made for %lld features, vocabulary %lld, context %lld; this run has %lld, %lld, %lld",
                 what.c_str(), (long long)F, (long long)V, (long long)T, (long long)n_features(), (long long)vocab_,
                 (long long)T_);
    UNFOLD_CHECK(o.top == o_.top && o.interval_samples == o_.interval_samples && o.before == o_.before &&
                     o.after == o_.after && o.cofire_rate == o_.cofire_rate && o.seed == o_.seed,
                 "%s: made with other options (--top, --window, --seed, co-firing rate) than this run", what.c_str());
    rows_ = in.pod<int64_t>();
    windows_ = in.pod<int64_t>();
    in.vec(unigram_, (size_t)V);
    UNFOLD_CHECK((int64_t)unigram_.size() == V, "%s: unigram counts of %zu tokens, expected %lld", what.c_str(),
                 unigram_.size(), (long long)V);
    const size_t max_len = (size_t)(o_.before + o_.after + 1);
    for (FeatureAcc& a : acc_) {
        a.fires = in.pod<int64_t>();
        a.sum = in.pod<double>();
        a.max = in.pod<float>();
        a.hi = in.pod<float>();
        in.vec(a.hist, kFeatureHistBins);
        UNFOLD_CHECK(a.hist.size() == (size_t)kFeatureHistBins, "%s: a histogram of %zu bins", what.c_str(),
                     a.hist.size());
        for (FeatureInterval& iv : a.intervals) {
            iv.seen = in.pod<int64_t>();
            const uint64_t n = in.pod<uint64_t>();
            UNFOLD_CHECK(n <= (uint64_t)o_.interval_samples, "%s: %llu interval samples", what.c_str(),
                         (unsigned long long)n);
            iv.samples.resize(n);
            for (auto& c : iv.samples) load_context(in, c, max_len);
        }
        const uint64_t nt = in.pod<uint64_t>();
        UNFOLD_CHECK(nt <= (uint64_t)o_.top, "%s: %llu top contexts", what.c_str(), (unsigned long long)nt);
        a.top.resize(nt);
        for (auto& c : a.top) load_context(in, c, max_len);
        const uint64_t nh = in.pod<uint64_t>();
        UNFOLD_CHECK(nh <= (uint64_t)kFeatureHeavyHitters, "%s: %llu heavy hitters", what.c_str(), (unsigned long long)nh);
        a.heavy.resize(nh);
        for (auto& [t, c] : a.heavy) {
            t = in.pod<int32_t>();
            c = in.pod<int64_t>();
            UNFOLD_CHECK(t >= 0 && t < V && c > 0, "%s: a heavy hitter (%d, %lld) out of range", what.c_str(), t,
                         (long long)c);
        }
        a.sampled = in.pod<int64_t>();
        in.vec(a.cofire, (size_t)n_features());
        a.cofire_new.clear();
        for (size_t i = 0; i < a.cofire.size(); i++) {
            UNFOLD_CHECK(a.cofire[i].first >= 0 && a.cofire[i].first < n_features() && a.cofire[i].second > 0 &&
                             (i == 0 || a.cofire[i - 1].first < a.cofire[i].first),
                         "%s: co-firing counts out of order or range", what.c_str());
        }
    }
    UNFOLD_CHECK(in.at == bytes.size(), "%s: %zu bytes left over after the state", what.c_str(), bytes.size() - in.at);
}

}  // namespace unfold
