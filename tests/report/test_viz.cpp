// test_viz.cpp: SVG/HTML output is well formed, self-contained (no external URLs) and carries the expected
// figures; `toy report` on a freshly trained run writes report.html and every figure as an .svg file.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "unfold/core/context.h"
#include "unfold/io/fileio.h"
#include "unfold/report/toy_figs.h"
#include "unfold/report/toy_report.h"
#include "unfold/toy/toy.h"
#include "unfold/viz/chart.h"
#include "unfold/viz/html.h"
#include "unfold/viz/plot.h"

using namespace unfold;

namespace {

// every "http" in the text belongs to the SVG namespace declaration
bool only_svg_xmlns_urls(const std::string& s) {
    const std::string ns = "http://www.w3.org/2000/svg";
    for (size_t i = s.find("http"); i != std::string::npos; i = s.find("http", i + 1))
        if (s.compare(i, ns.size(), ns) != 0) return false;
    return true;
}

std::string tmpdir(const std::string& name) {
    std::string d = std::string("/tmp/unfold_test_viz_") + std::to_string(::getpid()) + "_" + name;
    make_dirs(d);
    return d;
}

}  // namespace

TEST(Svg, EscapesTextAndIsBalanced) {
    Svg s(100, 50);
    s.text(10, 10, "a < b & \"c\"", 10);
    s.rect(0, 0, 10, 10, "#ff0000", "#000", 1, "tip <x>");
    s.arrow(0, 0, 50, 20, "#00f");
    std::string t = s.str("fig");
    EXPECT_NE(t.find("a &lt; b &amp; &quot;c&quot;"), std::string::npos);
    EXPECT_EQ(t.find("<x>"), std::string::npos);
    EXPECT_EQ(markup_balance_error(t), "");
    EXPECT_TRUE(only_svg_xmlns_urls(t));
    EXPECT_NE(t.find("id=\"fig\""), std::string::npos);
}

TEST(Svg, BalanceCheckerCatchesErrors) {
    EXPECT_EQ(markup_balance_error("<a><b/></a>"), "");
    EXPECT_NE(markup_balance_error("<a><b></a>"), "");
    EXPECT_NE(markup_balance_error("<a>"), "");
    EXPECT_NE(markup_balance_error("</a>"), "");
    EXPECT_EQ(markup_balance_error("<!DOCTYPE html><html><meta charset=\"utf-8\"><p>x</p></html>"), "");
}

TEST(Svg, ColourMapsAndTicks) {
    EXPECT_EQ(color_diverging(0.0), "#f7f7f7");
    EXPECT_EQ(color_diverging(5.0), color_diverging(1.0));  // clipped
    EXPECT_NE(color_diverging(-1.0), color_diverging(1.0));
    EXPECT_EQ(color_sequential(-1.0), color_sequential(0.0));
    auto t = axis_ticks(Axis{0, 1, false, ""}, 5);
    ASSERT_GE(t.size(), 3u);
    EXPECT_DOUBLE_EQ(t.front(), 0.0);
    EXPECT_NEAR(t.back(), 1.0, 1e-12);
    auto lt = axis_ticks(Axis{0.01, 100, true, ""});
    EXPECT_EQ(lt.size(), 5u);  // 0.01 0.1 1 10 100
    EXPECT_EQ(fmt_sig(0.000123, 2), "1.2e-04");
    EXPECT_EQ(svg_num(1.50), "1.5");
}

TEST(Html, ReportIsSelfContainedAndWritesFigures) {
    HtmlReport r("Test <report>");
    r.section("s1", "Section & one");
    r.paragraph("text with <tags>");
    r.figure("fig-a", chart_grouped_bars("bars", {"g1", "g2"}, {"s1", "s2"}, {{1, 2}, {3, 4}}, "y"), "cap");
    r.table({"a", "b"}, {{"1", "2"}});
    std::string dir = tmpdir("html");
    auto figs = r.save(dir + "/report.html");
    ASSERT_EQ(figs.size(), 1u);
    std::string html = read_file(dir + "/report.html");
    EXPECT_EQ(markup_balance_error(html), "");
    EXPECT_TRUE(only_svg_xmlns_urls(html));
    EXPECT_NE(html.find("id=\"fig-a\""), std::string::npos);
    EXPECT_NE(html.find("Test &lt;report&gt;"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("<link"), std::string::npos);
    std::string svg = read_file(dir + "/figures/fig-a.svg");
    EXPECT_EQ(markup_balance_error(svg), "");
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
    std::filesystem::remove_all(dir);
}

TEST(Report, RunReportHasEveryFigure) {
    set_num_threads(1);
    for (ToyKind k : {ToyKind::RELU, ToyKind::HIDDEN_RELU}) {
        ToyConfig c;
        c.kind = k;
        c.n_features = 6;
        c.n_hidden = 3;
        c.n_instances = 4;
        c.steps = 200;
        c.batch = 128;
        c.eval_batch = 1024;
        toy_set_density(c, {1.0f, 0.3f, 0.1f, 0.03f});
        toy_set_importance(c, {1, 0.9f, 0.81f, 0.73f, 0.66f, 0.59f});
        ToyModel m = toy_init(c);
        toy_train(m, Context::silent());
        std::string dir = tmpdir(std::string("run_") + toy_kind_name(k));
        toy_save_run(m, dir);
        std::string path = write_run_report(dir, Context::silent());
        EXPECT_EQ(path, dir + "/report.html");
        std::string html = read_file(path);
        EXPECT_EQ(markup_balance_error(html), "") << toy_kind_name(k);
        EXPECT_TRUE(only_svg_xmlns_urls(html));
        std::vector<std::string> ids = {"fig-arrows", "fig-bars", "fig-dims", "fig-geometry", "fig-rank",
                                        "fig-privileged"};
        if (k == ToyKind::HIDDEN_RELU) ids.push_back("fig-neurons");
        for (auto& id : ids) {
            EXPECT_NE(html.find("id=\"" + id + "\""), std::string::npos) << id;
            EXPECT_TRUE(file_exists(dir + "/figures/" + id + ".svg")) << id;
        }
        if (k == ToyKind::RELU) {
            EXPECT_EQ(html.find("id=\"fig-neurons\""), std::string::npos);
        }
        std::filesystem::remove_all(dir);
    }
}

TEST(ReportFigs, SpreadIndices) {
    EXPECT_EQ(spread_indices(3, 10), (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(spread_indices(20, 5), (std::vector<int>{0, 5, 10, 14, 19}));
    EXPECT_TRUE(spread_indices(0, 4).empty());
}
