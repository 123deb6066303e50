// test_serve_api.cpp: the feature browser's routes and JSON API called as functions (no sockets), on a planted
// database: feature objects are `features show --json`'s; sorting, filters, search, pages and the density
// histogram agree with a brute-force pass over the database; bad parameters answer 400 with one line, unknown
// features 404, and no request makes handle() throw; markup in token texts stays text in every answer and in
// the static export; the embedded assets are the files of src/serve/assets.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "serve_testing.h"
#include "unfold/features/feature_db.h"
#include "unfold/io/fileio.h"
#include "unfold/serve/browser.h"
#include "unfold/serve/static_export.h"

using namespace unfold;
using namespace unfold::serve_testing;

namespace {

constexpr int64_t kN = 300;

struct Fixture {
    TmpDir tmp;
    std::string db;
    std::unique_ptr<FeatureBrowser> b;
    Fixture() {
        db = tmp.file("planted.db");
        write_planted_db(db, kN);
        b = std::make_unique<FeatureBrowser>(db);
    }
};

Fixture& fx() {
    static Fixture f;
    return f;
}

WebResponse get(const std::string& path, std::vector<std::pair<std::string, std::string>> params = {}) {
    WebRequest r;
    r.path = path;
    r.params = std::move(params);
    return fx().b->handle(r);
}

Json body(const WebResponse& r) { return json_parse(r.body, "response"); }

std::string lower(std::string s) {
    for (char& c : s) c = (char)std::tolower((unsigned char)c);
    return s;
}

// the list as the API answers it, every page joined
std::vector<int64_t> all_ids(std::vector<std::pair<std::string, std::string>> params, int64_t limit, int64_t* total) {
    std::vector<int64_t> ids;
    for (int64_t off = 0;; off += limit) {
        auto p = params;
        p.push_back({"offset", std::to_string(off)});
        p.push_back({"limit", std::to_string(limit)});
        WebResponse r = get("/api/features", p);
        EXPECT_EQ(r.status, 200) << r.body;
        Json j = body(r);
        *total = j.at("total", "t").as_int("t");
        for (const Json& f : j.at("features", "f").arr) ids.push_back(f.at("feature", "f").as_int("f"));
        if (off + limit >= *total) break;
    }
    return ids;
}

}  // namespace

TEST(ServeApi, FeatureObjectsAreTheShowJsonObjects) {
    const FeatureDb db(fx().db);
    for (int64_t f : {(int64_t)0, (int64_t)1, (int64_t)2, (int64_t)5, (int64_t)6, (int64_t)150, kN - 1}) {
        WebResponse r = get("/api/feature/" + std::to_string(f));
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
        EXPECT_EQ(body(r).dump(-1), db.feature_json(db.feature(f)).dump(-1));
    }
    // the planted numbers come back: the top context's activations and its max
    Json j = body(get("/api/feature/12"));
    const DbFeature p = planted_feature(12, kN);
    const Json& c0 = j.at("top_contexts", "").arr.at(0);
    ASSERT_EQ(c0.at("activations", "").arr.size(), 8u);
    for (int i = 0; i < 8; i++) EXPECT_EQ((float)c0.at("activations", "").arr[(size_t)i].num, p.top[0].activations[(size_t)i]);
    EXPECT_EQ(c0.at("max_index", "").as_int(""), 5);
    EXPECT_EQ(c0.at("text", "").str, [&] {
        std::string t;
        for (int32_t id : p.top[0].tokens) t += planted_token(id);
        return t;
    }());
}

TEST(ServeApi, UnknownFeaturesAre404AndMalformedOnes400) {
    for (const char* p : {"/api/feature/300", "/api/feature/99999999", "/feature/300"}) {
        WebResponse r = get(p);
        EXPECT_EQ(r.status, 404) << p;
    }
    EXPECT_NE(get("/feature/300").body.find("Not found"), std::string::npos);
    for (const char* p : {"/api/feature/abc", "/api/feature/-1", "/api/feature/1.5", "/api/feature/", "/api/feature/1x",
                          "/api/feature/99999999999999999999999", "/feature/abc"}) {
        WebResponse r = get(p);
        EXPECT_EQ(r.status, 400) << p << " " << r.body;
        Json j = body(r);
        EXPECT_EQ(j.at("status", "").as_int(""), 400);
        EXPECT_EQ(j.at("error", "").str.find('\n'), std::string::npos);
    }
    EXPECT_EQ(get("/no/such/page").status, 404);
    EXPECT_EQ(get("/api/nothing").status, 404);
    EXPECT_EQ(body(get("/api/nothing")).at("status", "").as_int(""), 404);
}

TEST(ServeApi, SortingMatchesABruteForcePassForEveryKeyAndOrder) {
    const FeatureDb db(fx().db);
    auto sums = db.list();
    for (const char* key : {"density", "max", "fires", "label", "id"})
        for (const char* order : {"asc", "desc"}) {
            int64_t total = 0;
            auto ids = all_ids({{"sort", key}, {"order", order}}, 37, &total);
            ASSERT_EQ(total, kN);
            ASSERT_EQ((int64_t)ids.size(), kN) << key << order;
            auto v = sums;
            const bool desc = std::string(order) == "desc";
            std::stable_sort(v.begin(), v.end(), [&](const DbFeatureSummary& a, const DbFeatureSummary& b) {
                const std::string k = key;
                if (k == "label" && a.label.empty() != b.label.empty()) return b.label.empty();
                auto cmp = [&](auto x, auto y) { return desc ? x > y : x < y; };
                if (k == "density" && a.density != b.density) return cmp(a.density, b.density);
                if (k == "max" && a.max_act != b.max_act) return cmp(a.max_act, b.max_act);
                if (k == "fires" && a.fires != b.fires) return cmp(a.fires, b.fires);
                if (k == "label" && a.label != b.label) return cmp(a.label, b.label);
                if (k == "id") return cmp(a.id, b.id);
                return a.id < b.id;
            });
            for (int64_t i = 0; i < kN; i++) ASSERT_EQ(ids[(size_t)i], v[(size_t)i].id) << key << " " << order << " " << i;
        }
    // defaults: density descending, 100 a page
    Json j = body(get("/api/features"));
    EXPECT_EQ(j.at("sort", "").str, "density");
    EXPECT_EQ(j.at("order", "").str, "desc");
    EXPECT_EQ(j.at("features", "").arr.size(), 100u);
    EXPECT_EQ(j.at("features", "").arr[0].at("feature", "").as_int(""), kN - 1);  // fires 10 + 3f grows with f
}

TEST(ServeApi, FiltersSearchAndTheHistogramAgreeWithTheDatabase) {
    const FeatureDb db(fx().db);
    auto sums = db.list();
    int64_t total = 0;
    auto dead = all_ids({{"filter", "dead"}}, 1000, &total);
    EXPECT_EQ(total, (kN + 6) / 7);
    for (int64_t f : dead) EXPECT_EQ(f % 7, 0);
    all_ids({{"filter", "alive"}}, 1000, &total);
    EXPECT_EQ(total, kN - (kN + 6) / 7);
    // dense: density > 0.005 means fires > 500, f > 163.3
    auto dense = all_ids({{"filter", "dense"}, {"dense", "0.005"}}, 1000, &total);
    int64_t want = 0;
    for (const auto& s : sums) want += s.density > 0.005;
    EXPECT_EQ(total, want);
    EXPECT_GT(want, 50);
    // a density range
    all_ids({{"min_density", "0.001"}, {"max_density", "0.003"}}, 1000, &total);
    want = 0;
    for (const auto& s : sums) want += s.density >= 0.001 && s.density < 0.003;
    EXPECT_EQ(total, want);
    // search: case-insensitive, in the label or the text of the strongest contexts
    for (std::string q : {std::string("T13"), kXss1, std::string("onerror"), std::string("\xc3\x9c" "ber"),
                          std::string("t61t62"), std::string("no such text")}) {
        auto found = all_ids({{"q", q}, {"sort", "id"}}, 1000, &total);
        std::vector<int64_t> expect;
        for (int64_t f = 0; f < kN; f++) {
            DbFeature d = db.feature(f);
            bool hit = lower(d.label).find(lower(q)) != std::string::npos;
            for (const auto& c : d.top) {
                std::string t;
                for (int32_t id : c.tokens) t += lower(planted_token(id));
                hit = hit || t.find(lower(q)) != std::string::npos;
            }
            if (hit) expect.push_back(f);
        }
        EXPECT_EQ(found, expect) << q;
        if (q != "no such text") {
            EXPECT_FALSE(found.empty()) << q;
        }
    }
    // the histogram: counts as the database's, matched = the filter's features per bin
    Json j = body(get("/api/features", {{"filter", "alive"}, {"q", "t1"}}));
    const Json& h = j.at("histogram", "");
    Json meta = json_parse(db.meta("density_histogram"), "meta");
    EXPECT_EQ(h.at("counts", "").dump(-1), meta.at("counts", "").dump(-1));
    int64_t sum = 0;
    for (const Json& x : h.at("matched", "").arr) sum += x.as_int("");
    EXPECT_EQ(sum, j.at("total", "").as_int(""));
    EXPECT_EQ(h.at("matched", "").arr[0].as_int(""), 0);  // dead features sit in bin 0; alive keeps none
    // ids: only these
    auto some = all_ids({{"ids", "5,3,299"}, {"sort", "id"}}, 10, &total);
    EXPECT_EQ(some, (std::vector<int64_t>{3, 5, 299}));
    // the list item: the show --json list keys and the example around the strongest token
    Json item = body(get("/api/features", {{"ids", "12"}})).at("features", "").arr.at(0);
    EXPECT_EQ(item.at("fires", "").as_int(""), 10 + 36);
    EXPECT_EQ(item.at("label", "").str, planted_feature(12, kN).label);
    const Json& ex = item.at("example", "");
    EXPECT_EQ(ex.at("max_index", "").as_int(""), 5);
    EXPECT_EQ((float)ex.at("activations", "").arr.at(5).num, planted_feature(12, kN).top[0].activations[5]);
    EXPECT_TRUE(body(get("/api/features", {{"ids", "7"}})).at("features", "").arr.at(0).at("example", "").is_null());
}

TEST(ServeApi, BadParametersAre400WithOneLineAndNeverAThrow) {
    const std::vector<std::vector<std::pair<std::string, std::string>>> bad = {
        {{"sort", "nonsense"}},       {{"order", "up"}},           {{"limit", "100000"}},
        {{"limit", "-1"}},            {{"offset", "-5"}},          {{"offset", "1e3"}},
        {{"limit", "12abc"}},         {{"limit", ""}},             {{"dense", "nan"}},
        {{"dense", "2"}},             {{"min_density", "x"}},      {{"filter", "all; DROP TABLE"}},
        {{"bogus", "1"}},             {{"q", "a"}, {"q", "b"}},    {{"q", std::string("\xff\xfe")}},
        {{"q", std::string("a\x01")}}, {{"q", std::string(5000, 'a')}}, {{"ids", "1,x"}},
        {{"ids", "1,300"}},           {{"q", std::string("\xed\xa0\x80")}},  // a UTF-16 surrogate
        {{"q", std::string("\xc0\xaf")}},                                    // overlong '/'
    };
    for (const auto& p : bad) {
        WebResponse r;
        EXPECT_NO_THROW(r = get("/api/features", p));
        EXPECT_EQ(r.status, 400) << p[0].first << "=" << p[0].second << ": " << r.body;
        Json j = body(r);
        EXPECT_EQ(j.at("error", "").str.find('\n'), std::string::npos);
        EXPECT_FALSE(j.at("error", "").str.empty());
    }
    // routes that take no parameters refuse them; other methods are 405
    EXPECT_EQ(get("/api/info", {{"x", "1"}}).status, 400);
    EXPECT_EQ(get("/api/feature/3", {{"full", "1"}}).status, 400);
    WebRequest post;
    post.method = "POST";
    post.path = "/api/features";
    EXPECT_EQ(fx().b->handle(post).status, 405);
    // live routes without a model: 404 that says how to get one
    WebResponse t = get("/api/trace", {{"text", "hello"}});
    EXPECT_EQ(t.status, 404);
    EXPECT_NE(body(t).at("error", "").str.find("--model"), std::string::npos);
    EXPECT_EQ(get("/api/steer", {{"prompt", "x"}, {"steer", "1=2"}}).status, 404);
    EXPECT_EQ(get("/live").status, 404);
}

TEST(ServeApi, PathsOutsideTheRoutesAndTraversalAre4xx) {
    for (const char* p : {"/static/../../etc/passwd", "/static/..%2f..%2fetc/passwd", "/static/../app.js",
                          "/../etc/passwd", "/static//app.js", "/static/./app.js", "/static/app.js\\..", "relative",
                          ""}) {
        WebResponse r = get(p);
        EXPECT_GE(r.status, 400) << p;
        EXPECT_LT(r.status, 500) << p;
        EXPECT_EQ(r.body.find("root:"), std::string::npos);
    }
    EXPECT_EQ(get("/static/nothing.js").status, 404);
    EXPECT_EQ(get("/static/").status, 404);
    EXPECT_EQ(get(std::string("/static/app.js\0x", 16)).status, 400);
}

TEST(ServeApi, EmbeddedAssetsAreTheSourceFiles) {
    for (const char* name : {"app.js", "app.css"}) {
        WebResponse r = get(std::string("/static/") + name);
        ASSERT_EQ(r.status, 200);
        EXPECT_EQ(r.body, read_file(std::string(UNFOLD_SOURCE_DIR) + "/src/serve/assets/" + name)) << name;
    }
    EXPECT_EQ(get("/static/app.js").content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(get("/static/app.css").content_type, "text/css; charset=utf-8");
    // the app writes data into the page only as text: no innerHTML / outerHTML / document.write / eval
    const std::string js = get("/static/app.js").body;
    for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"})
        EXPECT_EQ(js.find(sink), std::string::npos) << sink;
}

TEST(ServeApi, PagesAreShellsWithEscapedAttributesAndMarkupStaysText) {
    WebResponse r = get("/");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_NE(r.body.find("data-page=\"list\""), std::string::npos);
    EXPECT_NE(r.body.find("<script src=\"/static/app.js\"></script>"), std::string::npos);
    r = get("/feature/42");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("data-feature=\"42\""), std::string::npos);
    EXPECT_NE(r.body.find("<title>unfold · feature 42</title>"), std::string::npos);
    // a shell with hostile title, attributes and data
    Json data = Json::object();
    data["a"] = kXss1;
    data["b"] = kXss2;
    data["c"] = "</script><script>alert(2)</script>&amp;";
    const std::string s =
        fx().b->page_shell("list", kXss2, "r\"oot/", "static", &data, {{"x\"><y", kXss1}, {"feature", "1"}});
    EXPECT_EQ(s.find(kXss1), std::string::npos);
    EXPECT_EQ(s.find(kXss2), std::string::npos);
    EXPECT_EQ(s.find("alert(2)</script>"), std::string::npos);
    EXPECT_EQ(s.find("<img"), std::string::npos);
    // exactly the shell's own script elements
    size_t n = 0;
    for (size_t p = s.find("<script"); p != std::string::npos; p = s.find("<script", p + 1)) n++;
    EXPECT_EQ(n, 3u);  // the data block, vocab.js, app.js
    // the embedded data reads back exactly
    const size_t a = s.find("id=\"unfold-data\">") + 17, b = s.find("</script>", a);
    EXPECT_EQ(json_parse(s.substr(a, b - a), "data").dump(-1), data.dump(-1));
    // the API's answers hold the markup as JSON strings (application/json, which no browser runs)
    Json f1 = body(get("/api/feature/1"));
    EXPECT_EQ(f1.at("label", "").str, "\"" + kXss1 + "\" 40%");
    Json info = body(get("/api/info"));
    EXPECT_EQ(info.at("model", "").str, kXss1 + ".bin");
    EXPECT_EQ(html_escape(kXss2), "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
}

TEST(ServeApi, QueryStringsParseStrictly) {
    auto q = parse_query("a=1&b=x%20y+z&c=&d&e=1%3D2=3&&");
    ASSERT_EQ(q.size(), 5u);
    EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"a", "1"}));
    EXPECT_EQ(q[1].second, "x y z");
    EXPECT_EQ(q[2].second, "");
    EXPECT_EQ(q[3].first, "d");
    EXPECT_EQ(q[4].second, "1=2=3");  // split at the first '=' only
    for (const char* bad : {"a=%", "a=%4", "a=%zz", "=1", "a=1&=2", "%g0=1"}) {
        try {
            parse_query(bad);
            ADD_FAILURE() << bad;
        } catch (const WebError& e) {
            EXPECT_EQ(e.status, 400) << bad;
        }
    }
    std::string many;
    for (int i = 0; i < 65; i++) {
        many += 'p';
        many += std::to_string(i);
        many += "=1&";
    }
    EXPECT_THROW(parse_query(many), WebError);
    EXPECT_TRUE(is_valid_utf8("\xc3\x9c\xe2\x82\xac\xf0\x9f\x98\x80"));
    EXPECT_FALSE(is_valid_utf8("\xe2\x82"));
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST(ServeApi, ARouteAndATabCanBeAdded) {
    TmpDir t;
    write_planted_db(t.file("x.db"), 20);
    FeatureBrowser b(t.file("x.db"));
    b.add_route("/map", false, [&](const WebRequest& r, const std::string&) {
        WebResponse w;
        w.content_type = "text/html; charset=utf-8";
        w.body = b.page_shell("map", "unfold · map", "/", "server", nullptr, {}, {"map.js"});
        return w;
    });
    b.add_route("/api/map/", true, [](const WebRequest&, const std::string& rest) {
        Json j = Json::object();
        j["rest"] = rest;
        WebResponse w;
        w.body = j.dump(-1);
        return w;
    });
    b.add_tab("map", "Map", "/map");
    WebRequest r;
    r.path = "/map";
    const std::string page = b.handle(r).body;
    EXPECT_NE(page.find("data-page=\"map\""), std::string::npos);
    EXPECT_LT(page.find("static/app.js"), page.find("<script src=\"/static/map.js\"></script>"));  // after app.js
    r.path = "/api/map/run2";
    EXPECT_EQ(json_parse(b.handle(r).body, "").at("rest", "").str, "run2");
    Json info = b.info_json();
    ASSERT_EQ(info.at("tabs", "").arr.size(), 2u);
    EXPECT_EQ(info.at("tabs", "").arr[1].at("href", "").str, "/map");
}

TEST(ServeApi, StaticExportWritesEveryPageWithEscapedCompactData) {
    TmpDir out;
    StaticExportOptions o;
    o.ctx = Context::silent();
    o.top = 2;
    o.interval_samples = 1;
    StaticExportResult r = export_static_site(*fx().b, out.path, o);
    EXPECT_EQ(r.pages, kN);
    const FeatureDb db(fx().db);
    int64_t bytes = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(out.path)) {
        if (!e.is_regular_file()) continue;
        const std::string s = read_file(e.path().string());
        bytes += (int64_t)s.size();
        // markup from the database never appears raw in a file
        EXPECT_EQ(s.find(kXss1), std::string::npos) << e.path();
        EXPECT_EQ(s.find("<img"), std::string::npos) << e.path();
    }
    EXPECT_EQ(bytes, r.bytes);
    EXPECT_LT(r.bytes / kN, 8000);  // a few kB a feature
    EXPECT_EQ(read_file(out.file("static/app.js")), read_file(std::string(UNFOLD_SOURCE_DIR) + "/src/serve/assets/app.js"));
    // a feature page: its data is the feature's, contexts without texts, activations to 3 digits
    const std::string page = read_file(out.file("feature/12.html"));
    const size_t a = page.find("id=\"unfold-data\">") + 17, b = page.find("</script>", a);
    Json d = json_parse(page.substr(a, b - a), "page");
    const Json& f = d.at("feature", "");
    EXPECT_EQ(f.at("feature", "").as_int(""), 12);
    const DbFeature p = db.feature(12);
    ASSERT_EQ(f.at("top_contexts", "").arr.size(), 2u);
    ASSERT_EQ(f.at("interval_contexts", "").arr.size(), 2u);  // one for each of its two intervals
    const Json& c = f.at("top_contexts", "").arr[1];
    EXPECT_FALSE(c.has("tokens"));
    for (size_t i = 0; i < 8; i++) {
        EXPECT_EQ(c.at("ids", "").arr[i].as_int(""), p.top[1].tokens[i]);
        EXPECT_NEAR(c.at("activations", "").arr[i].num, p.top[1].activations[i], 5e-3 * std::abs(p.top[1].activations[i]) + 1e-9);
    }
    // the linked features' labels travel with the page
    EXPECT_EQ(d.at("related", "").at("13", "").arr.at(0).str, db.feature(13).label);
    // vocab.js holds every token text, escaped
    const std::string v = read_file(out.file("static/vocab.js"));
    const size_t q = v.find('[');
    Json vocab = json_parse(v.substr(q, v.rfind(']') - q + 1), "vocab");
    ASSERT_EQ(vocab.arr.size(), (size_t)kVocab);
    EXPECT_EQ(vocab.arr[5].str, kXss1);
    // the list embeds every feature
    const std::string idx = read_file(out.file("index.html"));
    const size_t ia = idx.find("id=\"unfold-data\">") + 17, ib = idx.find("</script>", ia);
    Json li = json_parse(idx.substr(ia, ib - ia), "index");
    EXPECT_EQ(li.at("features", "").arr.size(), (size_t)kN);
    // a subset: only those pages, the list only those
    TmpDir out2;
    o.features = {3, 1, 3};
    r = export_static_site(*fx().b, out2.path, o);
    EXPECT_EQ(r.pages, 2);
    EXPECT_TRUE(file_exists(out2.file("feature/1.html")));
    EXPECT_FALSE(file_exists(out2.file("feature/2.html")));
    o.features = {kN};
    EXPECT_THROW(export_static_site(*fx().b, out2.path, o), Error);
}
