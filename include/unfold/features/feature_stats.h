// feature_stats.h: one pass over a corpus, per SAE latent (feature): what `unfold features build` stores.
//
// Fed batch by batch with the SAE codes of a batch of windows (rows = window * T + position), it keeps, per
// feature f, in memory independent of the corpus length:
//   fires, sum and max of its activations                          (density = fires / rows)
//   a histogram of its activations: 64 bins over [0, hi), hi a power of two >= max; when a larger value
//     comes, hi doubles and bin pairs merge (so bins are exact counts at the final resolution)
//   16 activation intervals over the same [0, hi) (Bricken et al. 2023's "intervals"), each a uniform
//     reservoir of `interval_samples` firings (reservoirs merge, weighted by their counts, when hi doubles)
//   the `top` strongest contexts, at most one per window (the window's max), as a token window around it
//   heavy hitters of the token at its firing positions (Misra-Gries, 32 counters: any token firing more
//     than fires/33 times is kept, its count exact to within fires/33)
//   co-firing on a sample of rows (every row whose hash falls under the sampling rate): counts of the other
//     features active in the same row
// plus the corpus unigram counts of the tokens of every row seen. Each stored context keeps the window's
// ids and f's activation at every shown position. Rows whose `skip` flag is set (the BOS position) are
// ignored throughout. The update runs in parallel over features and gives the same bits for any thread count;
// sampling is a deterministic hash of (seed, feature, count). save/load give exact resume.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/sae/sae.h"

namespace unfold {

constexpr int kFeatureHistBins = 64;
constexpr int kFeatureIntervals = 16;
constexpr int kFeatureHeavyHitters = 32;

struct FeatureStatsOptions {
    int top = 20;               // strongest contexts kept per feature
    int interval_samples = 4;   // firings kept per activation interval
    int before = 16, after = 4; // tokens shown before / after the firing token
    double cofire_rate = 1.0;   // share of rows sampled for co-firing (1 = all)
    uint64_t seed = 0;
};

struct FeatureContext {
    float value = 0;            // f's activation at the firing token
    int64_t window = 0;         // window (sequence) index
    int32_t pos = 0;            // firing token's position in the window
    int32_t first = 0;          // position of ids[0] in the window
    std::vector<int32_t> ids;   // shown tokens: positions first .. first + ids.size() - 1
    std::vector<float> acts;    // f's activation on each shown token
};

struct FeatureInterval {
    int64_t seen = 0;                    // firings that fell in this interval
    std::vector<FeatureContext> samples; // uniform sample of them
};

struct FeatureAcc {
    int64_t fires = 0;
    double sum = 0;
    float max = 0;
    float hi = 0;                                    // histogram/interval range [0, hi); 0 = no firing yet
    std::vector<int64_t> hist;                       // [kFeatureHistBins]
    std::vector<FeatureInterval> intervals;          // [kFeatureIntervals]
    std::vector<FeatureContext> top;                 // min-heap on value (use sorted_top())
    std::vector<std::pair<int32_t, int64_t>> heavy;  // Misra-Gries (token, count)
    int64_t sampled = 0;                             // firings on co-firing sample rows
    std::vector<std::pair<int32_t, int32_t>> cofire; // (other feature, count) sorted by feature (see flush())
    std::vector<int32_t> cofire_new;                 // partners seen since the last merge into `cofire`
};

class FeatureStats {
  public:
    FeatureStats(int64_t n_features, int64_t vocab, int64_t T, const FeatureStatsOptions& o);

    // One batch: windows win0 .. win0 + nwin - 1, ids [nwin, T]; codes over the nwin*T rows (row = b*T + t);
    // skip[r] != 0 drops row r (may be null).
    void add(int64_t win0, int64_t nwin, const int32_t* ids, const SparseCodes& codes, const uint8_t* skip);

    // Merges the co-firing partners gathered since the last merge into every feature's `cofire` counts; call it
    // after the last add() before reading feature(f).cofire (save() needs no flush).
    void flush();

    int64_t n_features() const { return (int64_t)acc_.size(); }
    int64_t rows() const { return rows_; }   // rows seen (not skipped)
    int64_t windows() const { return windows_; }
    const FeatureAcc& feature(int64_t f) const { return acc_[(size_t)f]; }
    const std::vector<int64_t>& unigram() const { return unigram_; }
    const FeatureStatsOptions& options() const { return o_; }
    std::vector<FeatureContext> sorted_top(int64_t f) const;  // strongest first (ties: earlier window first)

    // Exact resume: the whole state as bytes, and back. load checks the shape matches (n_features, vocab, T,
    // options) and fails with one line naming `what` otherwise.
    std::string save() const;
    void load(const std::string& bytes, const std::string& what);

  private:
    FeatureStatsOptions o_;
    int64_t T_, vocab_;
    int64_t rows_ = 0, windows_ = 0;
    std::vector<FeatureAcc> acc_;
    std::vector<int64_t> unigram_;
    // per-batch CSC of the codes
    std::vector<int64_t> col_off_;
    std::vector<int32_t> col_row_;
    std::vector<float> col_val_;
    void update_feature(int64_t f, const int32_t* ids, int64_t win0, int64_t nrows, const SparseCodes& codes,
                        const std::vector<uint8_t>& sampled_row);
};

}  // namespace unfold
