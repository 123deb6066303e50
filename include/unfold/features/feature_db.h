// feature_db.h: the features database written by `unfold features build` (SQLite), and its reader.
//
// Schema version 1 (every table is plain SQL, readable with the sqlite3 shell, Python's sqlite3, pandas):
//   meta(key TEXT PRIMARY KEY, value TEXT)          schema_version ("1"), producer, model, sae, hook, corpus,
//                                                   context, prepend_bos, tokens (rows seen), windows, d_sae,
//                                                   d_in, top, before, after, seed, density_histogram (JSON:
//                                                   {"bin_edges_log10": [...], "counts": [...]}, over all
//                                                   features, dead ones in the first bin), build (JSON)
//   vocab(id INTEGER PRIMARY KEY, text TEXT)        every token's text
//   features(id INTEGER PRIMARY KEY, fires INTEGER, density REAL, mean_act REAL, max_act REAL, label TEXT,
//            hist_hi REAL, histogram TEXT,          histogram: JSON counts of 64 equal bins over [0, hist_hi)
//            neuron INTEGER, neuron_cos REAL, neuron_share REAL)   (NULL unless the hook is neuron-basis)
//   contexts(feature, kind, rank, value, window, corpus_index, pos, first, tokens, activations, lo, hi)
//            kind 'top' (rank 0 = strongest) or 'interval' (rank = interval 0..15 over [lo, hi));
//            window: the window (sequence) index; pos: the firing token's position in the window; first: the
//            window position of tokens[0]; corpus_index: the corpus index of the firing token (-1 = BOS);
//            tokens / activations: JSON arrays (ids; this feature's activation on each)
//   logit_effects(feature, kind, rank, token, value)   kind 'promoted' | 'suppressed'
//   label_tokens(feature, rank, token, share, lift)    share = P(token | fires), lift = share / P(token)
//   cofiring(feature, rank, other, probability)        P(other fires | feature fires) on the sampled rows
//   neighbours(feature, rank, other, cosine)           decoder cosine
// Readers open the file read-only and refuse another schema version with one line.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "unfold/io/json.h"

namespace unfold {

constexpr int kFeatureDbSchemaVersion = 1;

struct DbContext {
    std::string kind;  // "top" | "interval"
    int rank = 0;
    float value = 0;
    int64_t window = 0, corpus_index = 0;
    int pos = 0, first = 0;
    std::vector<int32_t> tokens;
    std::vector<float> activations;
    double lo = 0, hi = 0;  // interval range
};

struct DbTokenValue {
    int32_t token = 0;
    double value = 0;
};

struct DbFeature {
    int64_t id = 0, fires = 0;
    double density = 0, mean_act = 0, max_act = 0;
    std::string label;
    double hist_hi = 0;
    std::vector<int64_t> histogram;
    int64_t neuron = -1;
    double neuron_cos = 0, neuron_share = 0;
    std::vector<DbContext> top, intervals;
    std::vector<DbTokenValue> promoted, suppressed;
    std::vector<DbTokenValue> label_tokens;  // value = share
    std::vector<double> label_lift;
    std::vector<DbTokenValue> cofiring;     // token = other feature, value = probability
    std::vector<DbTokenValue> neighbours;   // token = other feature, value = cosine
};

struct DbFeatureSummary {
    int64_t id = 0, fires = 0;
    double density = 0, max_act = 0;
    std::string label;
};

class FeatureDb {
  public:
    // Opens read-only; checks it is a features database of this schema version. Errors name the file.
    explicit FeatureDb(const std::string& path);
    ~FeatureDb();
    FeatureDb(const FeatureDb&) = delete;
    FeatureDb& operator=(const FeatureDb&) = delete;

    const std::string& path() const { return path_; }
    std::string meta(const std::string& key) const;  // "" if absent
    int64_t n_features() const { return n_features_; }
    std::vector<DbFeatureSummary> list() const;
    DbFeature feature(int64_t id) const;            // throws for an id outside [0, n_features)
    // Every feature's contexts of one kind ("top" | "interval") with rank < max_rank, in one pass (feature,
    // then rank order): what a browser indexes at start without reading each feature.
    void for_each_context(const std::string& kind, int max_rank,
                          const std::function<void(int64_t feature, const DbContext&)>& fn) const;
    std::string token_text(int32_t id) const;       // "" for an unknown id
    int64_t vocab_size() const { return (int64_t)vocab_.size(); }
    // The documented JSON of one feature (see `unfold features show --help`).
    Json feature_json(const DbFeature& f) const;

  private:
    DbContext read_context(const void* stmt, int64_t feature) const;
    std::string path_;
    void* db_ = nullptr;  // sqlite3*
    int64_t n_features_ = 0;
    std::vector<std::string> vocab_;
};

// Writing (used by features_build): a database at a temporary name, renamed into place by commit().
class FeatureDbWriter {
  public:
    explicit FeatureDbWriter(const std::string& path);
    ~FeatureDbWriter();  // removes the temporary file unless committed
    void meta(const std::string& key, const std::string& value);
    void vocab(const std::vector<std::string>& texts);
    void feature(const DbFeature& f);  // the features row and every list of f
    void commit();                     // finishes the transaction, closes, renames to path

  private:
    std::string path_, tmp_;
    void* db_ = nullptr;
    bool committed_ = false;
    struct Stmts;
    std::unique_ptr<Stmts> st_;
};

}  // namespace unfold
