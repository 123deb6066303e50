// bench_serve.cpp: how fast `unfold serve` answers on a 16k-feature database.
//   bench_serve [features=16384] [db=build/bench/serve_<features>.db] [requests=200]
// Writes (once; kept for later runs) a features database the size `features build` writes for a 16k-latent SAE
// with its defaults: 20 top contexts and 16 intervals x 4 samples of 21 tokens per feature, 10 + 10 logit
// effects, 3 label tokens, 5 co-firing features, 5 neighbours; a 4096-token vocabulary; 3% dead features.
// Then prints: the time to open and index it, and per route the latency over loopback HTTP (a new connection
// per request, as a browser's first request) - median, 95th percentile, max - for the list page and its API
// (default order, another sort at a deep offset, a text search, a density range) and for feature pages and their
// API (random features); and the static export's time and size per feature page. Goal: well under 100 ms.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "../tests/serve/serve_testing.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/features/feature_db.h"
#include "unfold/io/fileio.h"
#include "unfold/serve/browser.h"
#include "unfold/serve/http.h"
#include "unfold/serve/static_export.h"

using namespace unfold;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// a pseudo-random number in [0, 1) from a counter (deterministic database)
double u01(uint64_t& s) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(s >> 11) * (1.0 / 9007199254740992.0);
}

void write_db(const std::string& path, int64_t F) {
    const int V = 4096, W = 21;
    FeatureDbWriter w(path);
    w.meta("schema_version", std::to_string(kFeatureDbSchemaVersion));
    w.meta("producer", "bench_serve");
    w.meta("hook", "blocks.6.hook_resid_post");
    w.meta("tokens", "10000000");
    w.meta("context", "64");
    w.meta("d_sae", std::to_string(F));
    w.meta("d_in", "768");
    std::vector<std::string> vocab;
    uint64_t s = 12345;
    for (int i = 0; i < V; i++) {
        std::string t = u01(s) < 0.6 ? " " : "";
        const int n = 1 + (int)(u01(s) * 6);
        for (int k = 0; k < n; k++) t += (char)('a' + (int)(u01(s) * 26));
        vocab.push_back(t);
    }
    w.vocab(vocab);
    std::vector<int64_t> counts(20, 0);
    std::vector<DbFeature> keep;
    for (int64_t f = 0; f < F; f++) {
        DbFeature d;
        d.id = f;
        const bool dead = u01(s) < 0.03;
        const double logd = -6 + 5 * u01(s);
        d.fires = dead ? 0 : (int64_t)(1e7 * std::pow(10.0, logd)) + 1;
        d.density = (double)d.fires / 1e7;
        counts[(size_t)std::clamp((int)std::floor((std::log10(d.density + 1e-10) + 10) / 0.5), 0, 19)]++;
        d.max_act = dead ? 0 : 1 + 20 * u01(s);
        d.mean_act = d.max_act / 3;
        d.hist_hi = d.max_act * 1.01;
        d.histogram.assign(64, 0);
        if (!dead) {
            for (auto& h : d.histogram) h = (int64_t)(u01(s) * 1000);
            for (int k = 0; k < 3; k++) {
                d.label_tokens.push_back({(int32_t)(u01(s) * V), 0.3 - 0.1 * k});
                d.label_lift.push_back(5 + u01(s));
            }
            d.label = "\"" + vocab[(size_t)d.label_tokens[0].token] + "\" 30%, \"" +
                      vocab[(size_t)d.label_tokens[1].token] + "\" 20%";
            auto ctx = [&](const char* kind, int rank, double lo, double hi) {
                DbContext c;
                c.kind = kind;
                c.rank = rank;
                c.window = (int64_t)(u01(s) * 150000);
                c.first = 10;
                c.pos = 26;
                c.corpus_index = c.window * 64 + c.pos;
                for (int i = 0; i < W; i++) {
                    c.tokens.push_back((int32_t)(u01(s) * V));
                    c.activations.push_back(u01(s) < 0.7 ? 0.0f : (float)(d.max_act * u01(s)));
                }
                c.activations[16] = (float)(hi > 0 ? lo + (hi - lo) * u01(s) : d.max_act * (1 - 0.02 * rank));
                c.value = c.activations[16];
                c.lo = lo;
                c.hi = hi;
                return c;
            };
            for (int r = 0; r < 20; r++) d.top.push_back(ctx("top", r, 0, 0));
            for (int i = 0; i < 16; i++)
                for (int k = 0; k < 4; k++)
                    d.intervals.push_back(ctx("interval", i, d.hist_hi * i / 16, d.hist_hi * (i + 1) / 16));
            for (int r = 0; r < 10; r++) {
                d.promoted.push_back({(int32_t)(u01(s) * V), 2.0 - 0.1 * r});
                d.suppressed.push_back({(int32_t)(u01(s) * V), -2.0 + 0.1 * r});
            }
            for (int r = 0; r < 5; r++) {
                d.cofiring.push_back({(int32_t)(u01(s) * F), 0.5 - 0.05 * r});
                d.neighbours.push_back({(int32_t)(u01(s) * F), 0.6 - 0.05 * r});
            }
        }
        w.feature(d);
    }
    Json h = Json::object();
    Json e = Json::array();
    for (int i = 0; i <= 20; i++) e.push(Json(-10.0 + 0.5 * i));
    h["bin_edges_log10"] = e;
    h["counts"] = Json::array_of(counts);
    w.meta("density_histogram", h.dump(-1));
    w.commit();
}

struct Stats {
    double median, p95, max;
};

Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v[std::min(v.size() - 1, (size_t)(0.95 * (double)v.size()))], v.back()};
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const int64_t F = argc > 1 ? std::atoll(argv[1]) : 16384;
        const std::string path = argc > 2 ? argv[2] : "bench/serve_" + std::to_string(F) + ".db";
        const int R = argc > 3 ? std::atoi(argv[3]) : 200;
        if (!file_exists(path)) {
            const double t0 = now();
            write_db(path, F);
            std::printf("wrote %s (%lld features) in %.1f s, %.0f MB\n", path.c_str(), (long long)F, now() - t0,
                        (double)read_file(path).size() / 1e6);
        }
        double t0 = now();
        { FeatureDb only(path); }
        std::printf("open %s alone (FeatureDb: schema and integrity checks): %.0f ms\n", path.c_str(), 1e3 * (now() - t0));
        t0 = now();
        FeatureBrowser b(path);
        std::printf("open + index %s: %.0f ms (%lld features)\n", path.c_str(), 1e3 * (now() - t0),
                    (long long)b.db().n_features());
        ServeOptions o;
        o.port = 0;
        o.ctx = Context::silent();
        HttpServer srv(b, o);
        std::thread t([&] { srv.run(); });
        const int port = srv.port();
        uint64_t s = 99;
        auto feature = [&] { return std::to_string((int64_t)(u01(s) * (double)F)); };
        struct Case {
            const char* name;
            std::function<std::string()> target;
        };
        const std::vector<Case> cases = {
            {"list page (HTML)", [] { return std::string("/"); }},
            {"list API, density order, 100 rows", [] { return std::string("/api/features"); }},
            {"list API, sort=max, offset 8000", [] { return std::string("/api/features?sort=max&offset=8000"); }},
            {"list API, label order ascending", [] { return std::string("/api/features?sort=label"); }},
            {"list API, search q=' ab' (label + contexts)", [] { return std::string("/api/features?q=%20ab"); }},
            {"list API, density range + alive", [] {
                 return std::string("/api/features?filter=alive&min_density=0.0001&max_density=0.001");
             }},
            {"feature page (HTML)", [&] { return "/feature/" + feature(); }},
            {"feature API (the show --json object)", [&] { return "/api/feature/" + feature(); }},
        };
        std::printf("%-46s %9s %9s %9s %10s\n", "route (loopback HTTP, new connection each)", "median", "p95", "max",
                    "bytes");
        for (const Case& c : cases) {
            std::vector<double> ms;
            size_t bytes = 0;
            for (int i = 0; i < R; i++) {
                const double a = now();
                auto r = serve_testing::http_get(port, c.target());
                ms.push_back(1e3 * (now() - a));
                UNFOLD_CHECK(r.status == 200, "%s: status %d", c.name, r.status);
                bytes = r.body.size();
            }
            Stats st = stats(ms);
            std::printf("%-46s %7.2f ms %6.2f ms %6.2f ms %10zu\n", c.name, st.median, st.p95, st.max, bytes);
        }
        srv.stop();
        t.join();
        // in process (no HTTP): the database read + JSON of one feature, and its text
        {
            std::vector<double> a, b2;
            for (int i = 0; i < R; i++) {
                const int64_t f = (int64_t)(u01(s) * (double)F);
                const double x = now();
                Json j = b.feature_json(f);
                const double y = now();
                std::string text = j.dump(-1);
                a.push_back(1e3 * (y - x));
                b2.push_back(1e3 * (now() - y));
            }
            Stats sa = stats(a), sb = stats(b2);
            std::printf("in process: feature_json %.2f ms median (%.2f p95), its dump %.2f ms median\n", sa.median,
                        sa.p95, sb.median);
        }
        // the static export of 500 feature pages
        const std::string dir = path + ".html";
        StaticExportOptions eo;
        eo.ctx = Context::silent();
        for (int64_t f = 0; f < std::min<int64_t>(F, 500); f++) eo.features.push_back(f);
        t0 = now();
        StaticExportResult er = export_static_site(b, dir, eo);
        const double sec = now() - t0;
        std::printf("static export: %lld feature pages in %.2f s (%.1f ms a page), %.1f MB in all (%.1f kB a page, "
                    "list and vocab.js included)\n",
                    (long long)er.pages, sec, 1e3 * sec / (double)er.pages, (double)er.bytes / 1e6,
                    (double)er.bytes / 1e3 / (double)er.pages);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_serve: %s\n", e.what());
        return 1;
    }
}
