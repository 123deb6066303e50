// feature_db_template.h: a small valid features database (3 features, a 6-token vocabulary, every table
// filled), written with the library's own writer, for the feature database targets.
#pragma once
#include <string>

#include "fuzz_util.h"
#include "unfold/features/feature_db.h"

namespace unfold_fuzz {

// The template's bytes (built once).
inline const std::string& feature_db_template() {
    static const std::string bytes = [] {
        const std::string path = scratch_dir() + "/template.db";
        unfold::FeatureDbWriter w(path);
        w.meta("schema_version", std::to_string(unfold::kFeatureDbSchemaVersion));
        w.meta("d_sae", "3");
        w.meta("context", "4");
        w.meta("bos_id", "1");
        w.meta("density_histogram", "{\"bin_edges_log10\": [-10, -5, 0], \"counts\": [1, 2]}");
        w.vocab({"<unk>", "<s>", " the", " cat", ",", " sat"});
        for (int64_t id = 0; id < 3; id++) {
            unfold::DbFeature f;
            f.id = id;
            f.fires = 10 * id;
            f.density = 0.01 * (double)id;
            f.mean_act = 1.5;
            f.max_act = 3.0;
            f.label = id ? "\" cat\" 50%" : "";
            f.hist_hi = 3.0;
            f.histogram.assign(64, 0);
            f.histogram[3] = f.fires;
            f.neuron = id == 1 ? 7 : -1;
            f.neuron_cos = 0.5;
            f.neuron_share = 0.25;
            unfold::DbContext c;
            c.kind = "top";
            c.value = 3.0f;
            c.window = 2;
            c.corpus_index = 9;
            c.pos = 2;
            c.first = 0;
            c.tokens = {1, 2, 3, 4};
            c.activations = {0, 0.5f, 3, 0};
            f.top = {c, c};
            f.top[1].rank = 1;
            c.kind = "interval";
            c.lo = 0.5;
            c.hi = 1.0;
            f.intervals = {c};
            f.promoted = {{3, 0.5}, {5, 0.25}};
            f.suppressed = {{4, -0.5}};
            f.label_tokens = {{3, 0.5}};
            f.label_lift = {4.0};
            f.cofiring = {{(int32_t)((id + 1) % 3), 0.3}};
            f.neighbours = {{(int32_t)((id + 2) % 3), 0.9}};
            w.feature(f);
        }
        w.commit();
        std::string b = unfold::read_file(path);
        std::remove(path.c_str());
        return b;
    }();
    return bytes;
}

// What both targets do with a database that opens: every summary, every feature and its JSON.
inline void read_feature_db(const std::string& path) {
    unfold::FeatureDb db(path);
    (void)db.meta("hook");
    (void)db.meta("density_histogram");
    const auto list = db.list();
    for (int64_t id = 0; id < db.n_features() && id < 8; id++)
        accepts([&] { (void)db.feature_json(db.feature(id)).dump(-1); });
    accepts([&] { db.feature(db.n_features()); });
    accepts([&] { db.feature(-1); });
    for (int32_t t : {-1, 0, 5, 1 << 30}) (void)db.token_text(t);
    (void)list;
}

}  // namespace unfold_fuzz
