// plot.h: axes, scales and the chart primitives built on Svg (scatter/line panels, bars, heatmaps, legends).
//
// A Plot is a rectangular panel inside an Svg with an x and a y Axis (linear or log10). px()/py() map data
// to pixels; frame() draws the box, ticks, tick labels, axis labels and title. Everything else (points,
// lines, bars) is drawn by the caller through px/py, or with the helpers below.
//
//   Svg s(500, 360);
//   Plot p(s, 60, 30, 400, 280, Axis{1, 100, true, "1/(1-S)"}, Axis{0, 1.1, false, "D_i"});
//   p.frame("Feature dimensionality");
//   p.hline(0.5, "#999", "4,3", "1/2");
//   s.circle(p.px(10), p.py(0.4), 3, "#1f77b4");
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "unfold/viz/svg.h"

namespace unfold {

struct Axis {
    double lo = 0, hi = 1;
    bool log = false;  // log10 scale (lo, hi > 0)
    std::string label;
};

// "Nice" tick positions: linear (1/2/5 steps, about n of them) or log (powers of ten, plus 2 and 5 when the
// range spans fewer than 3 decades).
std::vector<double> axis_ticks(const Axis& a, int n = 5);

struct Plot {
    Svg& svg;
    double x0, y0, w, h;  // pixel box of the data area
    Axis x, y;

    Plot(Svg& s, double x0_, double y0_, double w_, double h_, Axis xa, Axis ya);
    double px(double v) const;  // data -> pixel (clamped to a little outside the box)
    double py(double v) const;
    bool inside_x(double v) const;
    bool inside_y(double v) const;

    // box, grid lines, ticks and their labels, axis labels and the title above the box (ticks <= 0: none)
    void frame(const std::string& title = "", bool grid = true, int xticks = 5, int yticks = 5);
    // a horizontal / vertical reference line across the box, labelled at its right / top end
    void hline(double v, const std::string& color, const std::string& dash = "", const std::string& label = "");
    void vline(double v, const std::string& color, const std::string& dash = "", const std::string& label = "");
    // a polyline through data points (points outside the axis ranges are clipped to the box edge)
    void curve(const std::vector<std::pair<double, double>>& pts, const std::string& color, double width = 1.5,
               const std::string& dash = "");
};

// Legend: coloured swatches with labels, stacked downward from (x, y).
void svg_legend(Svg& s, double x, double y, const std::vector<std::pair<std::string, std::string>>& color_label,
                double size = 11);

// Heatmap of M[rows, cols] (row-major) with cell size (cw, ch) at (x, y); colours via color_diverging
// over [-vmax, vmax] when diverging, else color_sequential over [0, vmax]. tooltips "row_label,col_label = v".
void svg_heatmap(Svg& s, double x, double y, double cw, double ch, const std::vector<double>& M, int rows, int cols,
                 double vmax, bool diverging, const std::string& tooltip_prefix = "");

// Vertical colour bar of height h at (x, y) with labels for its ends and middle.
void svg_colorbar(Svg& s, double x, double y, double w, double h, double vmin, double vmax, bool diverging,
                  const std::string& label = "");

}  // namespace unfold
