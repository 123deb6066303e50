// static_export.cpp: the browser's pages as static files (see static_export.h).
#include "unfold/serve/static_export.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/features/feature_db.h"
#include "unfold/io/fileio.h"
#include "unfold/serve/browser.h"

namespace unfold {

namespace {

// a number to `digits` significant digits (what the static pages show; the server sends full precision)
Json rounded(double v, int digits) {
    if (v == 0 || !std::isfinite(v)) return Json(v == 0 ? 0.0 : v);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return Json(std::strtod(buf, nullptr));
}

Json rounded_array(const Json& a, int digits) {
    Json o = Json::array();
    for (const Json& x : a.arr) o.push(rounded(x.num, digits));
    return o;
}

// a context of feature_json as the page needs it: token ids (app.js looks their texts up in vocab.js),
// activations to 3 significant digits, the max and where it is, the interval; no text, no provenance
Json compact_context(const Json& c) {
    Json o = Json::object();
    o["ids"] = c.at("ids", "context");
    o["activations"] = rounded_array(c.at("activations", "context"), 3);
    o["max"] = rounded(c.at("max", "context").num, 4);
    o["max_index"] = c.at("max_index", "context");
    if (const Json* iv = c.find("interval")) o["interval"] = rounded_array(*iv, 4);
    return o;
}

Json compact_feature(const Json& f, int top, int per_interval) {
    Json o = Json::object();
    for (const auto& [k, v] : f.obj) {
        if (k == "top_contexts") {
            Json a = Json::array();
            for (size_t i = 0; i < v.arr.size() && (int)i < top; i++) a.push(compact_context(v.arr[i]));
            o[k] = a;
        } else if (k == "interval_contexts") {
            Json a = Json::array();
            std::string last;
            int n = 0;
            for (const Json& c : v.arr) {
                const Json* iv = c.find("interval");
                const std::string key = iv ? iv->dump(-1) : "";
                n = key == last ? n + 1 : 1;
                last = key;
                if (n <= per_interval) a.push(compact_context(c));
            }
            o[k] = a;
        } else {
            o[k] = v;
        }
    }
    return o;
}

int64_t write(const std::string& path, const std::string& bytes) {
    AtomicFile f(path);
    f.write(bytes);
    f.commit(false);  // thousands of pages: no fsync each (a rerun rewrites them); each is still whole
    return (int64_t)bytes.size();
}

}  // namespace

StaticExportResult export_static_site(const FeatureBrowser& b, const std::string& dir, const StaticExportOptions& o) {
    UNFOLD_CHECK(!dir.empty(), "give --out DIR");
    UNFOLD_CHECK(o.top >= 0 && o.interval_samples >= 0, "--top and --interval-samples must be >= 0");
    const FeatureDb& db = b.db();
    const int64_t N = db.n_features();
    std::vector<int64_t> pages = o.features;
    if (pages.empty())
        for (int64_t f = 0; f < N; f++) pages.push_back(f);
    for (int64_t f : pages)
        UNFOLD_CHECK(f >= 0 && f < N, "feature %lld is out of range [0, %lld)", (long long)f, (long long)N);
    std::sort(pages.begin(), pages.end());
    pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
    const bool subset = (int64_t)pages.size() < N;

    make_dirs(path_join(dir, "static"));
    make_dirs(path_join(dir, "feature"));
    StaticExportResult res;
    for (const char* name : {"app.css", "app.js"}) {
        const WebAsset* a = find_web_asset(name);
        UNFOLD_CHECK(a, "the embedded file %s is missing from this build", name);
        res.bytes += write(path_join(dir, std::string("static/") + name), std::string((const char*)a->data, a->size));
    }
    // token texts, for the compact contexts of the feature pages (a script: pages opened from disk may not fetch)
    {
        Json v = Json::array();
        for (int64_t i = 0; i < db.vocab_size(); i++) v.push(Json(db.token_text((int32_t)i)));
        res.bytes += write(path_join(dir, "static/vocab.js"), "window.UNFOLD_VOCAB = " + json_for_script(v) + ";\n");
    }
    Json info = b.info_json();
    info["database"] = db.path();
    info["tabs"] = Json::array();
    info["live"] = nullptr;
    Json exported = Json::array();
    if (subset) exported = Json::array_of(pages);

    // the list: every feature's summary as an array [id, fires, density, max_activation, label, example]
    {
        Json data = Json::object();
        data["info"] = info;
        data["exported"] = subset ? exported : Json(nullptr);
        Json all = Json::array();
        const int64_t step = 1000;
        for (int64_t off = 0; off < N; off += step) {
            WebRequest q;
            q.params = {{"sort", "id"}, {"offset", std::to_string(off)}, {"limit", std::to_string(step)}};
            Json page = b.features_json(QueryParams(q, {"sort", "offset", "limit"}));
            for (const Json& x : page.at("features", "list").arr) {
                if (subset && !std::binary_search(pages.begin(), pages.end(), x.at("feature", "list").as_int("list")))
                    continue;  // a subset lists only its own pages
                Json row = Json::array();
                row.push(x.at("feature", "list"));
                row.push(x.at("fires", "list"));
                row.push(x.at("density", "list"));  // full precision: the list sorts by them
                row.push(x.at("max_activation", "list"));
                row.push(x.at("label", "list"));
                const Json& ex = x.at("example", "list");
                if (ex.is_null()) {
                    row.push(nullptr);
                } else {
                    Json e = Json::array();
                    e.push(ex.at("tokens", "example"));
                    e.push(rounded_array(ex.at("activations", "example"), 3));
                    e.push(ex.at("max_index", "example"));
                    row.push(e);
                }
                all.push(row);
            }
        }
        data["features"] = all;
        res.index = path_join(dir, "index.html");
        res.bytes += write(res.index, b.page_shell("list", "unfold · features", "", "static", &data));
    }
    // one page per feature
    const std::vector<DbFeatureSummary> sums = db.list();
    Progress bar(o.ctx, "features html", (int64_t)pages.size(), "page");
    int64_t done = 0;
    for (int64_t f : pages) {
        Json fj = b.feature_json(f);
        Json data = Json::object();
        Json li = Json::object();
        for (const char* k : {"database", "hook", "model", "tokens", "n_features", "logit_effects"})
            if (const Json* v = info.find(k)) li[k] = *v;
        li["tabs"] = Json::array();
        li["live"] = nullptr;
        data["info"] = li;
        data["exported"] = subset ? exported : Json(nullptr);
        // the linked features' labels and densities (the server answers /api/features?ids= instead)
        Json related = Json::object();
        auto add = [&](const Json& arr) {
            for (const Json& x : arr.arr) {
                const int64_t g = x.at("feature", "related").as_int("related");
                if (g < 0 || g >= N) continue;
                const DbFeatureSummary& s = sums[(size_t)g];
                Json v = Json::array();
                v.push(Json(s.label));
                v.push(rounded(s.density, 4));
                related[std::to_string(g)] = v;
            }
        };
        add(fj.at("cofiring", "feature"));
        add(fj.at("neighbours", "feature"));
        data["related"] = related;
        data["feature"] = compact_feature(fj, o.top, o.interval_samples);
        res.bytes += write(path_join(dir, "feature/" + std::to_string(f) + ".html"),
                           b.page_shell("feature", "unfold · feature " + std::to_string(f), "../", "static", &data,
                                        {{"feature", std::to_string(f)}}));
        res.pages++;
        bar.update(++done);
    }
    bar.finish();
    return res;
}

}  // namespace unfold
