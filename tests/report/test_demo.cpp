// test_demo.cpp: `unfold demo` with a tiny --steps-scale writes a self-contained report with every figure and
// prints its path last; `unfold toy phase` writes phase.json + phase.svg. Skipped when the binary is missing.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/viz/html.h"

using namespace unfold;

namespace {

std::string run_capture(const std::string& cmd, int* rc) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) {
        *rc = -1;
        return out;
    }
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, k);
    *rc = pclose(p);
    return out;
}

std::string last_line(std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    size_t nl = s.find_last_of('\n');
    return nl == std::string::npos ? s : s.substr(nl + 1);
}

}  // namespace

TEST(Demo, TinyDemoWritesReport) {
    ASSERT_TRUE(file_exists(UNFOLD_BINARY)) << "the unfold binary is missing: " << UNFOLD_BINARY;
    std::string out = "/tmp/unfold_test_demo_" + std::to_string(::getpid());
    int rc = 0;
    std::string stdout_text =
        run_capture(std::string(UNFOLD_BINARY) + " demo --steps-scale 0.02 --threads 1 --quiet --out " + out, &rc);
    ASSERT_EQ(rc, 0) << stdout_text;
    EXPECT_EQ(last_line(stdout_text), out + "/report.html");
    std::string html = read_file(out + "/report.html");
    EXPECT_EQ(markup_balance_error(html), "");
    for (const char* id : {"demo-5to2-arrows", "demo-5to2-bars", "demo-linear-bars", "demo-relu-bars",
                           "demo-geometry-dims", "demo-geometry-geometry", "demo-geometry-rank", "demo-phase", "demo-phase3",
                           "demo-hidden-neurons", "demo-privileged", "demo-packing", "demo-l1-arrows", "demo-l1-loss",
                           "demo-abs-neurons"}) {
        EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
        EXPECT_TRUE(file_exists(out + "/figures/" + id + ".svg")) << id;
    }
    EXPECT_TRUE(file_exists(out + "/phase.json"));
    EXPECT_TRUE(file_exists(out + "/phase3.json"));
    EXPECT_TRUE(file_exists(out + "/runs/5to2/config.json"));
    // the real-model part: stories260K's stories, an SAE at blocks.3.hook_resid_post, its feature database
    EXPECT_NE(html.find("id=\"real\""), std::string::npos);
    EXPECT_NE(html.find("CE loss recovered"), std::string::npos);
    EXPECT_NE(html.find("class=\"fcard\""), std::string::npos);
    EXPECT_NE(html.find("Steering: clamping one feature"), std::string::npos);
    Json cfg = json_load(out + "/real/sae/cfg.json");
    EXPECT_EQ(cfg.at("metadata", "cfg").at("hook_name", "md").as_str("hook_name"), "blocks.3.hook_resid_post");
    EXPECT_EQ(cfg.at("d_sae", "cfg").as_int("d_sae"), 512);
    EXPECT_TRUE(file_exists(out + "/real/features.db"));
    // the dashboard pages as files, each feature card linking to its page
    EXPECT_TRUE(file_exists(out + "/real/features/index.html"));
    const size_t at = html.find("href=\"real/features/feature/");
    ASSERT_NE(at, std::string::npos);
    const size_t start = at + 6, end = html.find('"', start);
    EXPECT_TRUE(file_exists(out + "/" + html.substr(start, end - start))) << html.substr(start, end - start);
    EXPECT_GT(read_file(out + "/real/corpus.txt").size(), 1000u);
    // the decoder map of both SAEs and the families table
    EXPECT_NE(html.find("The decoder map and feature splitting"), std::string::npos);
    const std::string map = read_file(out + "/real/map.html");
    EXPECT_NE(map.find("<canvas"), std::string::npos);
    EXPECT_NE(map.find("sae_128"), std::string::npos);
    EXPECT_NE(map.find("sae_512"), std::string::npos);
    std::filesystem::remove_all(out);
}

TEST(Demo, ToyOnlySkipsTheRealModel) {
    ASSERT_TRUE(file_exists(UNFOLD_BINARY)) << "the unfold binary is missing: " << UNFOLD_BINARY;
    std::string out = "/tmp/unfold_test_demo_toy_" + std::to_string(::getpid());
    int rc = 0;
    std::string stdout_text = run_capture(
        std::string(UNFOLD_BINARY) + " demo --toy-only --steps-scale 0.02 --threads 1 --quiet --out " + out, &rc);
    ASSERT_EQ(rc, 0) << stdout_text;
    std::string html = read_file(out + "/report.html");
    EXPECT_NE(html.find("id=\"abs\""), std::string::npos);
    EXPECT_EQ(html.find("id=\"real\""), std::string::npos);
    EXPECT_FALSE(file_exists(out + "/real"));
    std::filesystem::remove_all(out);
}

TEST(Demo, PhaseCommandWritesJsonAndSvg) {
    ASSERT_TRUE(file_exists(UNFOLD_BINARY)) << "the unfold binary is missing: " << UNFOLD_BINARY;
    std::string out = "/tmp/unfold_test_phase_" + std::to_string(::getpid());
    int rc = 0;
    std::string text = run_capture(std::string(UNFOLD_BINARY) +
                                       " toy phase --features 3 --hidden 2 --grid 3x4 --seeds 1 --steps 100 --batch 64"
                                       " --threads 1 --quiet --out " + out,
                                   &rc);
    ASSERT_EQ(rc, 0) << text;
    Json j = json_load(out + "/phase.json");
    ASSERT_EQ(j.at("cells", "phase.json").size(), 12u);
    for (auto& c : j.at("cells", "phase.json").arr) {
        std::string o = c.at("outcome", "cell").as_str("outcome");
        EXPECT_TRUE(o == "not_represented" || o == "dedicated" || o == "superposition") << o;
        EXPECT_EQ(c.at("W", "cell").size(), 6u);
    }
    EXPECT_EQ(markup_balance_error(read_file(out + "/phase.svg")), "");
    // bad input is a one-line error, exit code 1
    run_capture(std::string(UNFOLD_BINARY) + " toy phase --features 2 --hidden 1 --density 2:0.1 --out " + out +
                    " 2>/dev/null",
                &rc);
    EXPECT_NE(rc, 0);
    std::filesystem::remove_all(out);
}
