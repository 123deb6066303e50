// test_serve_live.cpp: the live routes on the real stories260K model with an SAE at blocks.2.hook_resid_post:
// /api/trace gives features_trace's values at every token (top-k and one feature), /api/steer's unedited text is
// the plain model's greedy continuation and its steered text that of lm_generate with the SAE splice hook (what
// `lm generate --steer` runs); bad edits, long texts and step counts are 400s.
#include <gtest/gtest.h>

#include <algorithm>

#include "../features/features_testing.h"
#include "serve_testing.h"
#include "unfold/features/feature_probe.h"
#include "unfold/features/splice.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/serve/browser.h"

using namespace unfold;
using namespace unfold::features_testing;
using serve_testing::write_planted_db;

namespace {

const std::string kHook = "blocks.2.hook_resid_post";

struct Live {
    serve_testing::TmpDir tmp;
    std::unique_ptr<Tokenizer> tok;
    Sae sae;
    LiveModel live;
    std::unique_ptr<FeatureBrowser> b;
    Live() {
        tok = load_tokenizer(kStoriesDir + "tok512.bin");
        sae = make_sae(SaeArch::TOPK, 64, 96, 6, 3);
        write_planted_db(tmp.file("p.db"), 96);
        live.model = &stories();
        live.tokenizer = tok.get();
        live.sae = &sae;
        live.hook = kHook;
        live.max_steps = 64;
        BrowserOptions o;
        o.live = &live;
        b = std::make_unique<FeatureBrowser>(tmp.file("p.db"), o);
    }
};

Live& L() {
    static Live l;
    return l;
}

WebResponse get(const std::string& path, std::vector<std::pair<std::string, std::string>> params) {
    WebRequest r;
    r.path = path;
    r.params = std::move(params);
    return L().b->handle(r);
}

}  // namespace

TEST(ServeLive, TraceGivesTheTracedValuesAtEveryToken) {
    const std::string text = "Once upon a time, there was a little girl named Lily.";
    WebResponse r = get("/api/trace", {{"text", text}, {"top", "6"}});
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = json_parse(r.body, "trace");
    std::vector<int32_t> ids = {L().tok->bos_id()};
    for (int32_t t : L().tok->encode(text)) ids.push_back(t);
    SparseCodes c = features_trace(stories(), L().sae, kHook, ids);
    const auto& toks = j.at("tokens", "").arr;
    ASSERT_EQ(toks.size(), ids.size());
    EXPECT_EQ(j.at("hook", "").str, kHook);
    int64_t firing = 0;
    for (size_t p = 0; p < ids.size(); p++) {
        EXPECT_EQ(toks[p].at("id", "").as_int(""), ids[p]);
        std::vector<std::pair<float, int32_t>> want;
        for (int64_t k = c.off[p]; k < c.off[p + 1]; k++)
            if (c.val[(size_t)k] > 0) want.push_back({c.val[(size_t)k], c.idx[(size_t)k]});
        std::sort(want.begin(), want.end(), [](auto& a, auto& b) { return a.first > b.first; });
        const auto& fs = toks[p].at("features", "").arr;
        ASSERT_EQ(fs.size(), want.size()) << p;  // TopK 6 with top=6: all of them
        for (size_t i = 0; i < fs.size(); i++) {
            EXPECT_EQ(fs[i].at("feature", "").as_int(""), want[i].second);
            EXPECT_EQ((float)fs[i].at("value", "").num, want[i].first);
        }
        firing += (int64_t)fs.size();
    }
    EXPECT_GT(firing, (int64_t)ids.size());
    // one feature: its value at every position, 0 where it is silent
    const int64_t f = toks[3].at("features", "").arr.at(0).at("feature", "").as_int("");
    Json one = json_parse(get("/api/trace", {{"text", text}, {"feature", std::to_string(f)}}).body, "one");
    for (size_t p = 0; p < ids.size(); p++) {
        float v = 0;
        for (int64_t k = c.off[p]; k < c.off[p + 1]; k++)
            if (c.idx[(size_t)k] == f) v = std::max(v, c.val[(size_t)k]);
        const auto& fs = one.at("tokens", "").arr[p].at("features", "").arr;
        ASSERT_EQ(fs.size(), 1u);
        EXPECT_EQ((float)fs[0].at("value", "").num, v) << p;
    }
}

TEST(ServeLive, SteerComparesThePlainModelWithTheSpliceHookGeneration) {
    const std::string prompt = "Once upon a time";
    WebResponse r = get("/api/steer", {{"prompt", prompt}, {"steer", "7=40"}, {"steps", "30"}});
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = json_parse(r.body, "steer");
    std::vector<int32_t> ids = {L().tok->bos_id()};
    for (int32_t t : L().tok->encode(prompt)) ids.push_back(t);
    GenerateOptions o;
    o.max_new_tokens = 30;
    o.stop_id = L().tok->bos_id();
    auto plain = lm_generate(stories(), ids, o);
    SpliceOptions so;
    so.edits = parse_sae_edits("7=40", "", "", 96);
    HookSet hs;
    hs.add(kHook, hook_sae_splice(L().sae, so));
    o.hooks = &hs;
    auto steered = lm_generate(stories(), ids, o);
    auto as_ids = [](const Json& a) {
        std::vector<int32_t> v;
        for (const Json& x : a.arr) v.push_back((int32_t)x.as_int(""));
        return v;
    };
    EXPECT_EQ(as_ids(j.at("unedited", "").at("ids", "")), plain);
    EXPECT_EQ(as_ids(j.at("steered", "").at("ids", "")), steered);
    EXPECT_NE(plain, steered);  // clamping a latent to 40 changes the text
    std::string text;
    int32_t prev = ids.back();
    for (int32_t t : plain) text += L().tok->decode_piece(prev, t), prev = t;
    EXPECT_EQ(j.at("unedited", "").at("text", "").str, text);
    EXPECT_EQ(j.at("edits", "").str, "clamp 7=40");
    EXPECT_TRUE(j.at("error_term", "").b);
}

TEST(ServeLive, BadLiveRequestsAre400) {
    const std::vector<std::vector<std::pair<std::string, std::string>>> bad = {
        {{"prompt", "x"}},                                  // no edit
        {{"prompt", "x"}, {"steer", "96=1"}},               // feature out of range
        {{"prompt", "x"}, {"steer", "3"}},                  // not F=V
        {{"prompt", "x"}, {"steer", "3=abc"}},
        {{"prompt", "x"}, {"ablate", "-1"}},
        {{"prompt", "x"}, {"steer", "3=1"}, {"steps", "65"}},  // over max_steps
        {{"prompt", "x"}, {"steer", "3=1"}, {"steps", "0"}},
        {{"prompt", "x"}, {"steer", "3=1"}, {"temperature", "-1"}},
        {{"prompt", std::string(4000, 'a')}, {"steer", "3=1"}},  // prompt + steps beyond the context
        {{"prompt", "x"}, {"steer", "3=1"}, {"foo", "1"}},
    };
    for (const auto& p : bad) {
        WebResponse r = get("/api/steer", p);
        EXPECT_EQ(r.status, 400) << r.body;
        EXPECT_EQ(json_parse(r.body, "e").at("error", "").str.find('\n'), std::string::npos);
    }
    EXPECT_NE(json_parse(get("/api/steer", bad[1]).body, "e").at("error", "").str.find("steer: feature 96 is out of range"),
              std::string::npos);
    for (const auto& p : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {}, {{"text", ""}}, {{"text", "a"}, {"feature", "96"}}, {{"text", "a"}, {"top", "0"}},
             {{"text", std::string(4000, 'b')}}}) {
        WebResponse r = get("/api/trace", p);
        EXPECT_EQ(r.status, 400) << r.body;
    }
    EXPECT_EQ(get("/live", {}).status, 200);
    Json info = json_parse(get("/api/info", {}).body, "info");
    EXPECT_EQ(info.at("live", "").at("hook", "").str, kHook);
    EXPECT_EQ(info.at("tabs", "").arr.size(), 2u);
}
