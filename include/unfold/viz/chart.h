// chart.h: ready-made charts on top of Plot: grouped bar charts and multi-series line/scatter charts.
//
//   Svg s = chart_grouped_bars("Loss before / after rotation", {"linear", "relu", "hidden-relu"},
//                              {"original", "rotated"}, {{0.1, 0.1}, {0.05, 0.05}, {0.03, 0.06}}, "loss");
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "unfold/viz/plot.h"

namespace unfold {

// values[g][s]: group g (x position), series s (bar within the group). log_y uses a log10 axis.
Svg chart_grouped_bars(const std::string& title, const std::vector<std::string>& groups,
                       const std::vector<std::string>& series, const std::vector<std::vector<double>>& values,
                       const std::string& ylabel, bool log_y = false, double width = 560, double height = 320);

struct Series {
    std::string name;
    std::string color;
    std::vector<std::pair<double, double>> pts;
    bool line = true;      // polyline through the points
    bool markers = true;   // a circle at each point
    std::string dash;      // "" solid, e.g. "5,3"
};
Svg chart_lines(const std::string& title, const Axis& x, const Axis& y, const std::vector<Series>& series,
                double width = 560, double height = 340);

}  // namespace unfold
