// test_serve_map.cpp: the decoder-map tab of the feature browser: /map serves the map of the given SAEs (the
// database's SAE annotated with its labels), its points open /feature/F for that SAE and a "no page" answer
// for another, the nav bar gains the tab, and bad inputs are one-line errors.
#include <gtest/gtest.h>

#include "../test_util.h"
#include "serve_testing.h"
#include "unfold/serve/browser.h"
#include "unfold/serve/map_tab.h"
#include "unfold/sae/sae.h"

using namespace unfold;
using namespace unfold::serve_testing;
using unfold_test::error_of;

namespace {

std::string save_sae(const TmpDir& t, const std::string& name, int64_t d, int64_t F, uint64_t seed) {
    SaeConfig c;
    c.arch = SaeArch::TOPK;
    c.d_in = d;
    c.d_sae = F;
    c.k = 4;
    const Sae s = sae_init(c, seed);
    const std::string dir = t.file(name);
    sae_save(dir, s, nullptr, Json::object());
    return dir;
}

WebResponse get(const FeatureBrowser& b, const std::string& path, std::vector<std::pair<std::string, std::string>> p = {}) {
    WebRequest r;
    r.path = path;
    r.params = std::move(p);
    return b.handle(r);
}

}  // namespace

TEST(ServeMap, TheMapTabShowsTheSaesAndLinksTheDatabasesOne) {
    TmpDir t;
    write_planted_db(t.file("f.db"), 48);
    const std::string small = save_sae(t, "small", 8, 12, 1), big = save_sae(t, "big", 8, 48, 2);
    FeatureBrowser b(t.file("f.db"));
    const MapTabResult mr = add_map_tab(b, {small, big}, 7);
    EXPECT_EQ(mr.linked, "big");
    EXPECT_EQ(mr.points, 12 + 48);
    const WebResponse m = get(b, "/map");
    ASSERT_EQ(m.status, 200) << m.body;
    EXPECT_NE(m.content_type.find("text/html"), std::string::npos);
    EXPECT_NE(m.body.find("small"), std::string::npos);
    EXPECT_NE(m.body.find("big"), std::string::npos);
    // the planted labels carry markup: on the map page it stays text
    EXPECT_EQ(m.body.find(kXss1), std::string::npos);
    bool csp = false;
    for (const auto& [k, v] : m.headers) csp |= k == "Content-Security-Policy" && v.find("default-src 'none'") == 0;
    EXPECT_TRUE(csp);
    // a point of the database's SAE opens its page; one of the other SAE says it has none
    const WebResponse o = get(b, "/map/open", {{"sae", "big"}, {"id", "17"}});
    EXPECT_EQ(o.status, 302);
    bool loc = false;
    for (const auto& [k, v] : o.headers) loc |= k == "Location" && v == "/feature/17";
    EXPECT_TRUE(loc);
    EXPECT_EQ(get(b, "/map/open", {{"sae", "small"}, {"id", "3"}}).status, 404);
    EXPECT_EQ(get(b, "/map/open", {{"sae", "big"}, {"id", "48"}}).status, 404);
    EXPECT_EQ(get(b, "/map/open", {{"sae", "big"}, {"id", "x"}}).status, 400);
    EXPECT_EQ(get(b, "/map/open", {{"sae", "big"}, {"id", "1"}, {"evil", "1"}}).status, 400);
    // the nav bar (drawn from /api/info's tabs) lists the map
    bool tab = false;
    const Json info = b.info_json();
    for (const Json& x : info.at("tabs", "info").arr) tab |= x.at("href", "tab").as_str("href") == "/map";
    EXPECT_TRUE(tab);
}

TEST(ServeMap, BadInputsAreOneLineErrors) {
    TmpDir t;
    write_planted_db(t.file("f.db"), 48);
    const std::string a = save_sae(t, "a", 8, 12, 1), c = save_sae(t, "c", 6, 12, 3);
    FeatureBrowser b(t.file("f.db"));
    std::string e = error_of([&] { add_map_tab(b, {a, c}, 0); });
    EXPECT_NE(e.find("d_in"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    e = error_of([&] { add_map_tab(b, {t.file("missing")}, 0); });
    EXPECT_NE(e.find("missing"), std::string::npos) << e;
    EXPECT_EQ(get(b, "/map").status, 404);  // nothing registered by the failed calls
}
