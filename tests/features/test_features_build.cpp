// test_features_build.cpp: `features build` on the real stories260K model, checked against a brute-force pass
// that keeps every code: firing counts, max, top contexts (values, windows, shown activations), histogram and
// interval totals; densities of a TopK SAE sum to k; a recorded context traced again gives the recorded
// activations; the database is the same for 1 and 2 threads and after an interrupted run resumed; bad
// databases and inputs are one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "../test_util.h"
#include "features_testing.h"
#include "unfold/core/error.h"
#include "unfold/features/decoder_geometry.h"
#include "unfold/features/feature_db.h"
#include "unfold/features/feature_probe.h"
#include "unfold/features/features_build.h"
#include "unfold/features/hook_stream.h"
#include "unfold/core/context.h"
#include "unfold/io/fileio.h"

using namespace unfold;
using namespace unfold::features_testing;
using unfold_test::error_of;

namespace {

const std::string kHook = "blocks.3.hook_resid_post";

const std::vector<int32_t>& corpus() {
    static std::vector<int32_t> c = sampled_corpus(40, 200);  // 8000 tokens
    return c;
}

std::vector<std::string> texts(int64_t V) {
    std::vector<std::string> t((size_t)V);
    for (int64_t i = 0; i < V; i++) t[(size_t)i] = "t" + std::to_string(i);
    return t;
}

FeaturesBuildOptions options() {
    FeaturesBuildOptions o;
    o.hook = kHook;
    o.context = 32;
    o.batch = 8;
    o.bos_id = 1;
    o.tokens = 6000;
    o.stats.top = 5;
    o.stats.before = 6;
    o.stats.after = 2;
    o.stats.interval_samples = 2;
    o.cofire_rows = 1000;
    o.ctx = Context::silent();
    return o;
}

Sae standard_sae() {
    Sae s = make_sae(SaeArch::STANDARD, 64, 96, 0, 7);
    for (int64_t f = 0; f < s.F(); f++) s.b_enc()[f] = -0.5f;  // sparse-ish firing
    return s;
}

// every firing of every feature, by brute force over the same windows
struct Firing {
    int64_t window, pos;
    float v;
};
std::vector<std::vector<Firing>> brute_force(const Sae& sae, const FeaturesBuildOptions& o, int64_t* rows) {
    ThreadScope one(1);  // build runs every batch on one thread (model and encode): the same bits
    HookStreamOptions ho;
    ho.hook = o.hook;
    ho.context = o.context;
    ho.batch = o.batch;
    ho.bos_id = o.bos_id;
    ho.max_windows = (o.tokens + o.context - 2) / (o.context - 1);
    HookStream s(stories(), corpus(), ho);
    std::vector<std::vector<Firing>> out((size_t)sae.F());
    HookBatch b;
    SparseCodes c;
    *rows = 0;
    while (s.next(b)) {
        sae_encode(sae, b.act, b.nwin * b.T, c);
        for (int64_t r = 0; r < b.nwin * b.T; r++) {
            if (r % b.T == 0) continue;  // BOS
            (*rows)++;
            for (int64_t j = c.off[(size_t)r]; j < c.off[(size_t)r + 1]; j++)
                if (c.val[(size_t)j] > 0)
                    out[(size_t)c.idx[(size_t)j]].push_back({b.win0 + r / b.T, r % b.T, c.val[(size_t)j]});
        }
    }
    return out;
}

// the first difference between two dumps, short
std::string first_difference(const std::string& a, const std::string& b) {
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) i++;
    if (i == a.size() && i == b.size()) return "";
    const size_t from = i > 120 ? i - 120 : 0;
    return "at byte " + std::to_string(i) + ": ..." + a.substr(from, 200) + "\n   vs ..." + b.substr(from, 200);
}

std::string dump_all(const std::string& path) {
    FeatureDb db(path);
    std::string s;
    for (int64_t f = 0; f < db.n_features(); f++) s += db.feature_json(db.feature(f)).dump(-1) + "\n";
    for (const char* k : {"tokens", "windows", "density_histogram", "d_sae"}) s += db.meta(k) + "\n";
    return s;
}

}  // namespace

TEST(FeaturesBuild, MatchesABruteForcePassOverEveryCode) {
    TmpDir tmp;
    const Sae sae = standard_sae();
    FeaturesBuildOptions o = options();
    FeaturesBuildResult r = features_build(stories(), sae, corpus(), texts(512), o, tmp.file("f.db"));
    int64_t rows = 0;
    auto ref = brute_force(sae, o, &rows);
    EXPECT_EQ(r.rows, rows);
    EXPECT_EQ(r.rows, r.windows * 31);
    FeatureDb db(tmp.file("f.db"));
    EXPECT_EQ(db.n_features(), 96);
    EXPECT_EQ(db.meta("hook"), kHook);
    EXPECT_EQ(db.meta("tokens"), std::to_string(rows));
    int alive = 0;
    for (int64_t f = 0; f < 96; f++) {
        const auto& fr = ref[(size_t)f];
        DbFeature d = db.feature(f);
        ASSERT_EQ(d.fires, (int64_t)fr.size()) << "feature " << f;
        EXPECT_NEAR(d.density, (double)fr.size() / (double)rows, 1e-12);
        if (fr.empty()) {
            EXPECT_TRUE(d.top.empty());
            continue;
        }
        alive++;
        float mx = 0;
        double sum = 0;
        for (const auto& x : fr) mx = std::max(mx, x.v), sum += x.v;
        EXPECT_EQ((float)d.max_act, mx);
        EXPECT_NEAR(d.mean_act, sum / (double)fr.size(), 1e-5 * std::max(1.0, mx * 1.0));
        // histogram and intervals account for every firing, and the range holds the max
        int64_t hs = 0;
        for (int64_t c : d.histogram) hs += c;
        EXPECT_EQ(hs, d.fires);
        EXPECT_GT(d.hist_hi, mx);
        EXPECT_LE(d.hist_hi, 2.0 * mx + 1e-6);
        // top contexts: the strongest firing of each window, the 5 strongest windows
        std::map<int64_t, Firing> best;
        for (const auto& x : fr) {
            auto it = best.find(x.window);
            if (it == best.end() || x.v > it->second.v) best[x.window] = x;
        }
        std::vector<Firing> w;
        for (auto& kv : best) w.push_back(kv.second);
        std::sort(w.begin(), w.end(), [](const Firing& a, const Firing& b) {
            return a.v > b.v || (a.v == b.v && a.window < b.window);
        });
        ASSERT_EQ(d.top.size(), std::min<size_t>(5, w.size())) << "feature " << f;
        for (size_t i = 0; i < d.top.size(); i++) {
            const DbContext& c = d.top[i];
            EXPECT_EQ(c.value, w[i].v) << "feature " << f << " rank " << i;
            EXPECT_EQ(c.window, w[i].window);
            EXPECT_EQ(c.pos, w[i].pos);
            EXPECT_EQ(c.first, std::max<int64_t>(0, w[i].pos - 6));
            EXPECT_EQ(c.corpus_index, c.window * 31 + c.pos - 1);
            EXPECT_EQ(corpus()[(size_t)c.corpus_index], c.tokens[(size_t)(c.pos - c.first)]);
            // the shown activations are this feature's at those positions
            for (size_t t = 0; t < c.tokens.size(); t++) {
                float want = 0;
                for (const auto& x : fr)
                    if (x.window == c.window && x.pos == c.first + (int64_t)t) want = x.v;
                EXPECT_EQ(c.activations[t], want);
            }
        }
        // interval samples lie in their interval
        for (const DbContext& c : d.intervals) {
            EXPECT_GE(c.value, c.lo);
            EXPECT_LT(c.value, c.hi);
        }
        // co-firing probabilities are probabilities, neighbours are cosines in descending order
        for (const auto& x : d.cofiring) {
            EXPECT_GT(x.value, 0.0);
            EXPECT_LE(x.value, 1.0);
        }
        ASSERT_EQ(d.neighbours.size(), 5u);
        for (size_t i = 1; i < d.neighbours.size(); i++) EXPECT_GE(d.neighbours[i - 1].value, d.neighbours[i].value);
        ASSERT_EQ(d.promoted.size(), 10u);
        EXPECT_GT(d.promoted[0].value, d.suppressed[0].value);
    }
    EXPECT_GT(alive, 20);
}

TEST(FeaturesBuild, CoFiringMatchesABruteForceCount) {
    // every row sampled: P(g fires | f fires) from the database equals the brute-force count over all rows,
    // for the 5 most frequent partners of every feature (ties: lower index first)
    TmpDir tmp;
    const Sae sae = standard_sae();
    FeaturesBuildOptions o = options();
    o.cofire_rows = 1 << 30;
    features_build(stories(), sae, corpus(), texts(512), o, tmp.file("f.db"));
    HookStreamOptions ho;
    ho.hook = o.hook;
    ho.context = o.context;
    ho.batch = o.batch;
    ho.bos_id = o.bos_id;
    ho.max_windows = (o.tokens + o.context - 2) / (o.context - 1);
    ThreadScope one(1);
    HookStream s(stories(), corpus(), ho);
    const int64_t F = sae.F();
    std::vector<int64_t> both((size_t)(F * F), 0), fires((size_t)F, 0);
    HookBatch b;
    SparseCodes c;
    while (s.next(b)) {
        sae_encode(sae, b.act, b.nwin * b.T, c);
        for (int64_t r = 0; r < b.nwin * b.T; r++) {
            if (r % b.T == 0) continue;  // BOS
            std::vector<int32_t> on;
            for (int64_t j = c.off[(size_t)r]; j < c.off[(size_t)r + 1]; j++)
                if (c.val[(size_t)j] > 0) on.push_back(c.idx[(size_t)j]);
            for (int32_t f : on) {
                fires[(size_t)f]++;
                for (int32_t g : on)
                    if (g != f) both[(size_t)(f * F + g)]++;
            }
        }
    }
    FeatureDb db(tmp.file("f.db"));
    int checked = 0;
    for (int64_t f = 0; f < F; f++) {
        DbFeature d = db.feature(f);
        ASSERT_EQ(d.fires, fires[(size_t)f]);
        std::vector<std::pair<int64_t, int32_t>> want;  // (-count, partner)
        for (int32_t g = 0; g < F; g++)
            if (both[(size_t)(f * F + g)] > 0) want.push_back({-both[(size_t)(f * F + g)], g});
        std::sort(want.begin(), want.end());
        ASSERT_EQ(d.cofiring.size(), std::min<size_t>(5, want.size())) << "feature " << f;
        for (size_t i = 0; i < d.cofiring.size(); i++) {
            EXPECT_EQ(d.cofiring[i].token, want[i].second) << "feature " << f << " rank " << i;
            EXPECT_NEAR(d.cofiring[i].value, (double)-want[i].first / (double)fires[(size_t)f], 1e-12);
            checked++;
        }
    }
    EXPECT_GT(checked, 100);
}

TEST(FeaturesBuild, TopKDensitiesSumToK) {
    TmpDir tmp;
    Sae sae = make_sae(SaeArch::TOPK, 64, 128, 6, 3);
    for (int64_t f = 0; f < sae.F(); f++) sae.b_enc()[f] = 100.0f;  // every kept pre-activation is positive
    FeaturesBuildOptions o = options();
    features_build(stories(), sae, corpus(), texts(512), o, tmp.file("f.db"));
    FeatureDb db(tmp.file("f.db"));
    double s = 0;
    for (const auto& f : db.list()) s += f.density;
    EXPECT_NEAR(s, 6.0, 1e-9);
}

TEST(FeaturesBuild, ARecordedTopContextTracedAgainGivesTheRecordedActivations) {
    TmpDir tmp;
    const Sae sae = standard_sae();
    FeaturesBuildOptions o = options();
    features_build(stories(), sae, corpus(), texts(512), o, tmp.file("f.db"));
    FeatureDb db(tmp.file("f.db"));
    HookStreamOptions ho;
    ho.hook = kHook;
    ho.context = 32;
    ho.bos_id = 1;
    HookStream s(stories(), corpus(), ho);
    int checked = 0;
    double worst = 0;
    for (int64_t f = 0; f < 96; f += 7) {
        DbFeature d = db.feature(f);
        for (const DbContext& c : d.top) {
            std::vector<int32_t> ids = s.window_ids(c.window);
            SparseCodes codes = features_trace(stories(), sae, kHook, ids);  // one sequence (batch 1)
            for (size_t t = 0; t < c.tokens.size(); t++) {
                const int64_t p = c.first + (int64_t)t;
                EXPECT_EQ(ids[(size_t)p], c.tokens[t]);
                if (p == 0) {  // the BOS position is left out of every statistic: recorded as 0
                    EXPECT_EQ(c.activations[t], 0.0f);
                    continue;
                }
                float v = 0;
                for (int64_t j = codes.off[(size_t)p]; j < codes.off[(size_t)p + 1]; j++)
                    if (codes.idx[(size_t)j] == f) v = codes.val[(size_t)j];
                EXPECT_NEAR(v, c.activations[t], 1e-4) << "feature " << f << " window " << c.window << " pos " << p;
                worst = std::max(worst, (double)std::fabs(v - c.activations[t]));
            }
            checked++;
        }
    }
    printf("traced %d recorded contexts again: largest difference %.3g\n", checked, worst);
    EXPECT_GT(checked, 20);
}

TEST(FeaturesBuild, StatisticsAreTheSameForAnyThreadCount) {
    // the same codes fed with 1 and 2 threads give the same state, byte for byte (the model's own forward is
    // not promised bit-identical across thread counts: OpenBLAS splits products by thread)
    const Sae sae = standard_sae();
    HookStreamOptions ho;
    ho.hook = kHook;
    ho.context = 32;
    ho.batch = 8;
    ho.bos_id = 1;
    ho.max_windows = 120;
    HookStream s(stories(), corpus(), ho);
    FeatureStatsOptions so;
    so.top = 5;
    so.interval_samples = 3;
    so.cofire_rate = 0.3;
    FeatureStats one(sae.F(), 512, 32, so), two(sae.F(), 512, 32, so);
    HookBatch b;
    SparseCodes c;
    std::vector<uint8_t> skip;
    while (s.next(b)) {
        sae_encode(sae, b.act, b.nwin * 32, c);
        skip.assign((size_t)(b.nwin * 32), 0);
        for (int64_t w = 0; w < b.nwin; w++) skip[(size_t)(w * 32)] = 1;
        set_num_threads(1);
        one.add(b.win0, b.nwin, b.ids, c, skip.data());
        set_num_threads(2);
        two.add(b.win0, b.nwin, b.ids, c, skip.data());
    }
    set_num_threads(0);
    EXPECT_EQ(one.rows(), 120 * 31);
    EXPECT_TRUE(one.save() == two.save());
    // and the state survives save/load exactly
    FeatureStats back(sae.F(), 512, 32, so);
    back.load(one.save(), "state");
    EXPECT_TRUE(back.save() == one.save());
    FeatureStatsOptions other = so;
    other.top = 6;
    FeatureStats wrong(sae.F(), 512, 32, other);
    std::string e = error_of([&] { wrong.load(one.save(), "ck.partial"); });
    EXPECT_NE(e.find("ck.partial: made with other options"), std::string::npos) << e;
    e = error_of([&] { back.load(one.save().substr(0, 1000), "ck.partial"); });
    EXPECT_NE(e.find("ck.partial: truncated"), std::string::npos) << e;
}

TEST(FeaturesBuild, TheDatabaseIsTheSameForAnyThreadCount) {
    // every batch runs whole on one thread (model to the hook and encode), so 1, 2 or 3 threads (3: a last
    // round with fewer batches than threads) give the same database, byte for byte
    TmpDir tmp;
    Sae sae = make_sae(SaeArch::TOPK, 64, 128, 6, 3);
    FeaturesBuildOptions o = options();
    std::string ref;
    DbFeature ref_db;
    for (int threads : {1, 2, 3}) {
        o.ctx.threads = threads;
        const std::string out = tmp.file("t" + std::to_string(threads) + ".db");
        features_build(stories(), sae, corpus(), texts(512), o, out);
        // everything the pass gathers, exactly; the decoder geometry (logit effects, neighbours: products over
        // the weights with the run's BLAS threads) to float rounding
        FeatureDb db(out);
        std::string dump;
        for (int64_t f = 0; f < db.n_features(); f++) {
            Json j = db.feature_json(db.feature(f));
            std::vector<std::pair<std::string, Json>> kept;
            for (auto& kv : j.obj)
                if (kv.first != "logit_effects" && kv.first != "neighbours") kept.push_back(kv);
            j.obj = kept;
            dump += j.dump(-1) + "\n";
        }
        if (threads == 1) {
            ref = dump;
            ref_db = db.feature(5);
        } else {
            EXPECT_EQ(first_difference(dump, ref), "") << threads << " threads";
            const DbFeature d = db.feature(5);
            ASSERT_EQ(d.neighbours.size(), ref_db.neighbours.size());
            for (size_t i = 0; i < d.neighbours.size(); i++) EXPECT_NEAR(d.neighbours[i].value, ref_db.neighbours[i].value, 1e-5);
            ASSERT_EQ(d.promoted.size(), ref_db.promoted.size());
            for (size_t i = 0; i < d.promoted.size(); i++) EXPECT_NEAR(d.promoted[i].value, ref_db.promoted[i].value, 1e-5);
        }
    }
    EXPECT_GT(ref.size(), 1000u);
}

TEST(FeaturesBuild, AnInterruptedRunResumedGivesTheSameDatabase) {
    TmpDir tmp;
    const Sae sae = standard_sae();
    FeaturesBuildOptions o = options();
    features_build(stories(), sae, corpus(), texts(512), o, tmp.file("ref.db"));
    const std::string ref = dump_all(tmp.file("ref.db"));
    // interrupted after 9 batches (the checkpoint is written on cancellation), then resumed
    int polls = 0;
    o.checkpoint_seconds = 1e9;
    o.ctx.should_stop = [&] { return ++polls > 9; };
    EXPECT_THROW(features_build(stories(), sae, corpus(), texts(512), o, tmp.file("r.db")), Cancelled);
    EXPECT_FALSE(file_exists(tmp.file("r.db")));
    EXPECT_TRUE(file_exists(tmp.file("r.db.partial")));
    o.ctx.should_stop = nullptr;
    o.resume = true;
    features_build(stories(), sae, corpus(), texts(512), o, tmp.file("r.db"));
    EXPECT_FALSE(file_exists(tmp.file("r.db.partial")));
    EXPECT_EQ(first_difference(dump_all(tmp.file("r.db")), ref), "");
    // a checkpoint of another run is refused
    o.ctx.should_stop = [&] { return true; };
    o.resume = false;
    EXPECT_THROW(features_build(stories(), sae, corpus(), texts(512), o, tmp.file("x.db")), Cancelled);
    o.ctx.should_stop = nullptr;
    o.resume = true;
    o.context = 16;
    std::string e = error_of([&] { features_build(stories(), sae, corpus(), texts(512), o, tmp.file("x.db")); });
    EXPECT_NE(e.find("x.db.partial: made by another build"), std::string::npos) << e;
}

TEST(FeaturesBuild, BadDatabasesAndInputsAreOneLineErrors) {
    TmpDir tmp;
    const Sae sae = standard_sae();
    FeaturesBuildOptions o = options();
    o.tokens = 600;
    features_build(stories(), sae, corpus(), texts(512), o, tmp.file("f.db"));
    FeatureDb db(tmp.file("f.db"));
    std::string e = error_of([&] { db.feature(96); });
    EXPECT_NE(e.find("feature 96 is out of range [0, 96)"), std::string::npos) << e;
    // another schema version
    {
        FeatureDbWriter w(tmp.file("v2.db"));
        w.meta("schema_version", "2");
        w.commit();
    }
    e = error_of([&] { FeatureDb x(tmp.file("v2.db")); });
    EXPECT_NE(e.find("v2.db: features database schema version 2, this unfold reads version 1"), std::string::npos) << e;
    // not a database, a truncated one, a missing one
    write_file_atomic(tmp.file("junk.db"), std::string(4096, 'x'));
    e = error_of([&] { FeatureDb x(tmp.file("junk.db")); });
    EXPECT_NE(e.find("junk.db"), std::string::npos) << e;
    const std::string bytes = read_file(tmp.file("f.db"));
    write_file_atomic(tmp.file("half.db"), bytes.substr(0, bytes.size() / 2));
    e = error_of([&] {
        FeatureDb x(tmp.file("half.db"));
        for (int64_t f = 0; f < x.n_features(); f++) x.feature(f);
    });
    EXPECT_NE(e.find("half.db"), std::string::npos) << e;
    // 160 bytes spread over the file flipped in turn, and 40 prefixes: reading the whole database either works
    // or fails with one line naming the file - never a crash
    int failures = 0, reads = 0;
    auto read_all = [&](const std::string& path) {
        try {
            FeatureDb x(path);
            for (int64_t f = 0; f < x.n_features(); f++) x.feature_json(x.feature(f));
            x.list();
            reads++;
        } catch (const Error& err) {
            failures++;
            const std::string m = err.what();
            EXPECT_NE(m.find(path), std::string::npos) << m;
            EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        }
    };
    const size_t step = bytes.size() / 160 + 1;
    for (size_t i = 7; i < bytes.size(); i += step) {
        std::string b = bytes;
        b[i] = (char)(b[i] ^ 0x5a);
        write_file_atomic(tmp.file("flip.db"), b);
        read_all(tmp.file("flip.db"));
    }
    for (size_t n = 0; n < bytes.size(); n += bytes.size() / 40 + 1) {
        write_file_atomic(tmp.file("cut.db"), bytes.substr(0, n));
        read_all(tmp.file("cut.db"));
    }
    printf("corrupted databases: %d read, %d refused with one line\n", reads, failures);
    EXPECT_GT(failures, 40);
    e = error_of([&] { FeatureDb x(tmp.file("none.db")); });
    EXPECT_NE(e.find("none.db: no such file"), std::string::npos) << e;
    for (const std::string& m : {e}) EXPECT_EQ(m.find('\n'), std::string::npos);
    // an SAE whose d_in is not the hook's width
    Sae wide = make_sae(SaeArch::STANDARD, 172, 16, 0, 1);
    o.hook = "blocks.0.hook_resid_pre";
    e = error_of([&] { features_build(stories(), wide, corpus(), texts(512), o, tmp.file("w.db")); });
    EXPECT_NE(e.find("has width 64 but the SAE's d_in is 172"), std::string::npos) << e;
    EXPECT_FALSE(file_exists(tmp.file("w.db")));
}
