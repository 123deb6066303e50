// chart.cpp: grouped bar charts and line/scatter charts (see chart.h).
#include "unfold/viz/chart.h"

#include <algorithm>
#include <cmath>

namespace unfold {

Svg chart_grouped_bars(const std::string& title, const std::vector<std::string>& groups,
                       const std::vector<std::string>& series, const std::vector<std::vector<double>>& values,
                       const std::string& ylabel, bool log_y, double width, double height) {
    Svg s(width, height);
    double vmax = 0, vmin_pos = 1e300;
    for (auto& g : values)
        for (double v : g)
            if (std::isfinite(v)) {
                vmax = std::max(vmax, v);
                if (v > 0) vmin_pos = std::min(vmin_pos, v);
            }
    if (vmax <= 0) vmax = 1;
    if (vmin_pos > vmax) vmin_pos = vmax / 10;
    Axis ya = log_y ? Axis{std::pow(10.0, std::floor(std::log10(vmin_pos))), std::pow(10.0, std::ceil(std::log10(vmax * 1.05))),
                           true, ylabel}
                    : Axis{0, vmax * 1.15, false, ylabel};
    double legend_w = series.size() > 1 ? 130 : 0;
    Plot P(s, 70, 40, width - 100 - legend_w, height - 100, Axis{0, (double)std::max<size_t>(1, groups.size()), false, ""}, ya);
    P.frame(title, true, 0, 5);
    double gw = P.w / std::max<size_t>(1, groups.size());
    double bw = gw * 0.75 / std::max<size_t>(1, series.size());
    for (size_t g = 0; g < groups.size(); g++) {
        double gx = P.x0 + g * gw + gw * 0.125;
        for (size_t k = 0; k < series.size() && g < values.size() && k < values[g].size(); k++) {
            double v = values[g][k];
            if (!std::isfinite(v)) continue;
            double base = log_y ? ya.lo : 0.0;
            double y1 = P.py(std::max(v, log_y ? ya.lo : 0.0)), y0 = P.py(base);
            s.rect(gx + k * bw, y1, bw * 0.92, y0 - y1, color_category((int)k), "none", 0,
                   groups[g] + " / " + series[k] + ": " + fmt_sig(v, 4));
            if (bw >= 24) s.text(gx + k * bw + bw * 0.46, y1 - 3, fmt_sig(v, 2), 8, "middle", "#333");
        }
        s.text(P.x0 + g * gw + gw / 2, P.y0 + P.h + 16, groups[g], 11, "middle", "#222");
    }
    if (series.size() > 1) {
        std::vector<std::pair<std::string, std::string>> items;
        for (size_t k = 0; k < series.size(); k++) items.push_back({color_category((int)k), series[k]});
        svg_legend(s, P.x0 + P.w + 14, P.y0 + 4, items, 10);
    }
    return s;
}

Svg chart_lines(const std::string& title, const Axis& x, const Axis& y, const std::vector<Series>& series, double width,
                double height) {
    Svg s(width, height);
    double legend_w = 150;
    Plot P(s, 70, 40, width - 90 - legend_w, height - 95, x, y);
    P.frame(title);
    std::vector<std::pair<std::string, std::string>> items;
    for (auto& se : series) {
        if (se.line) P.curve(se.pts, se.color, 1.8, se.dash);
        if (se.markers)
            for (auto& p : se.pts)
                if (P.inside_x(p.first) && P.inside_y(p.second))
                    s.circle(P.px(p.first), P.py(p.second), 3, se.color, "#fff", 0.6,
                             se.name + ": (" + fmt_sig(p.first, 3) + ", " + fmt_sig(p.second, 3) + ")");
        items.push_back({se.color, se.name});
    }
    svg_legend(s, P.x0 + P.w + 14, P.y0 + 4, items, 10);
    return s;
}

}  // namespace unfold
