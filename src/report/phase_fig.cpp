// phase_fig.cpp: the phase diagram of `unfold toy phase` and the demo, drawn from a PhaseResult.
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "unfold/core/error.h"
#include "unfold/report/toy_figs.h"
#include "unfold/viz/plot.h"

namespace unfold {

static std::string outcome_color(PhaseOutcome o) {
    switch (o) {
        case PhaseOutcome::NOT_REPRESENTED: return "#d4d4d4";
        case PhaseOutcome::DEDICATED: return "#74a9cf";
        case PhaseOutcome::SUPERPOSITION: return "#fd8d3c";
    }
    return "#000";
}

// Analytic boundaries traced column by column: for each density, scan r for outcome changes and refine them by
// bisection in log r. Points with the same (below, above) outcome pair form one polyline.
static void draw_analytic(Plot& P, int n) {
    const int cols = 220, rows = 300;
    double lp0 = std::log(P.x.lo), lp1 = std::log(P.x.hi), lr0 = std::log(P.y.lo), lr1 = std::log(P.y.hi);
    std::map<int, std::vector<std::pair<double, double>>> open;
    auto flush = [&](int key) {
        auto it = open.find(key);
        if (it == open.end()) return;
        P.curve(it->second, "#111", 2.0);
        open.erase(it);
    };
    for (int c = 0; c <= cols; c++) {
        double p = std::exp(lp0 + (lp1 - lp0) * c / cols);
        std::map<int, double> found;
        PhaseOutcome prev = phase_analytic(n, p, std::exp(lr0));
        for (int k = 1; k <= rows; k++) {
            double lr = lr0 + (lr1 - lr0) * k / rows;
            PhaseOutcome cur = phase_analytic(n, p, std::exp(lr));
            if (cur != prev) {
                double a = lr0 + (lr1 - lr0) * (k - 1) / rows, b = lr;
                for (int it = 0; it < 40; it++) {
                    double mid = 0.5 * (a + b);
                    if (phase_analytic(n, p, std::exp(mid)) == prev)
                        a = mid;
                    else
                        b = mid;
                }
                found[(int)prev * 3 + (int)cur] = std::exp(0.5 * (a + b));
                prev = cur;
            }
        }
        for (int key = 0; key < 9; key++) {
            auto f = found.find(key);
            if (f == found.end())
                flush(key);
            else
                open[key].push_back({p, f->second});
        }
    }
    for (int key = 0; key < 9; key++) flush(key);
}

Svg phase_svg(const PhaseResult& r, const std::string& title) {
    const PhaseSpec& s = r.spec;
    auto ps = phase_densities(s), rs = phase_ratios(s);
    Svg svg(720, 470);
    // x: density decreasing to the right (sparser), y: relative importance of the extra feature
    double pstep = s.grid_p > 1 ? std::pow(s.p_lo / s.p_hi, 0.5 / (s.grid_p - 1)) : 0.8;
    double rstep = s.grid_r > 1 ? std::pow(s.r_hi / s.r_lo, 0.5 / (s.grid_r - 1)) : 1.25;
    Axis xa{s.p_hi / pstep, s.p_lo * pstep, true, "feature density 1 - S (log)"};
    Axis ya{s.r_lo / rstep, s.r_hi * rstep, true, "relative importance of the extra feature r (log)"};
    Plot P(svg, 80, 46, 380, 360, xa, ya);
    bool analytic = s.n_features == 2 || s.n_features == 3;
    for (auto& c : r.cells) {
        double x0 = P.px(c.density / pstep), x1 = P.px(c.density * pstep);
        double y0 = P.py(c.ratio * rstep), y1 = P.py(c.ratio / rstep);
        std::string tip = strformat("1-S=%.3g r=%.3g: %s (analytic %s), ||W_e||=%.2f, loss %.3g", c.density, c.ratio,
                                    phase_outcome_name(c.outcome), analytic ? phase_outcome_name(c.analytic) : "-",
                                    c.norms.empty() ? 0.0 : c.norms.back(), c.loss);
        svg.rect(std::min(x0, x1), std::min(y0, y1), std::fabs(x1 - x0), std::fabs(y1 - y0), outcome_color(c.outcome),
                 "#ffffff", 0.5, tip);
        if (analytic && c.outcome != c.analytic)
            svg.circle(0.5 * (x0 + x1), 0.5 * (y0 + y1), 2.6, "#000", "none", 0,
                       std::string("differs from analytic: ") + phase_outcome_name(c.analytic));
    }
    if (analytic) draw_analytic(P, s.n_features);
    P.frame(title.empty() ? strformat("Phase diagram: %d features in %d dimension%s (%s)", s.n_features, s.n_hidden,
                                      s.n_hidden == 1 ? "" : "s", toy_kind_name(s.kind))
                          : title,
            false);
    svg_legend(svg, 478, 60,
               {{outcome_color(PhaseOutcome::NOT_REPRESENTED), "extra feature not represented"},
                {outcome_color(PhaseOutcome::DEDICATED), "extra feature dedicated"},
                {outcome_color(PhaseOutcome::SUPERPOSITION), "superposition"}},
               10);
    double ly = 130;
    if (analytic) {
        svg.line(478, ly, 496, ly, "#111", 2);
        svg.text(500, ly + 4, "analytic boundary", 10);
        svg.circle(487, ly + 18, 2.6, "#000");
        svg.text(500, ly + 22, "trained differs from analytic", 10);
        svg.text(478, ly + 50, strformat("robust cells agreeing: %d/%d", r.robust_agree, r.robust_cells), 10);
        svg.text(478, ly + 66, strformat("all cells agreeing: %d/%zu", r.all_agree, r.cells.size()), 10);
    }
    svg.text(478, ly + 92, strformat("%d seeds/cell, %lld steps", s.seeds, (long long)s.steps), 10, "start", "#555");
    svg.text(478, ly + 108, "extra feature = last feature", 10, "start", "#555");
    return svg;
}

}  // namespace unfold
