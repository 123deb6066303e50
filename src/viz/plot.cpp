// plot.cpp: axes, ticks, panels, legends, heatmaps and colour bars (see plot.h).
#include "unfold/viz/plot.h"

#include <algorithm>
#include <cmath>

namespace unfold {

std::vector<double> axis_ticks(const Axis& a, int n) {
    std::vector<double> t;
    double lo = std::min(a.lo, a.hi), hi = std::max(a.lo, a.hi);
    if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
    if (a.log) {
        if (lo <= 0) lo = hi * 1e-6;
        int e0 = (int)std::floor(std::log10(lo) + 1e-9), e1 = (int)std::ceil(std::log10(hi) - 1e-9);
        bool dense = (e1 - e0) < 3;
        for (int e = e0; e <= e1; e++) {
            double base = std::pow(10.0, e);
            for (double m : {1.0, 2.0, 5.0}) {
                if (m != 1.0 && !dense) continue;
                double v = m * base;
                if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
            }
        }
        return t;
    }
    double raw = (hi - lo) / std::max(1, n);
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step)
        t.push_back(std::fabs(v) < 1e-12 * step ? 0.0 : v);
    return t;
}

Plot::Plot(Svg& s, double x0_, double y0_, double w_, double h_, Axis xa, Axis ya)
    : svg(s), x0(x0_), y0(y0_), w(w_), h(h_), x(std::move(xa)), y(std::move(ya)) {}

static double axis_frac(const Axis& a, double v) {
    if (a.log) {
        double lo = std::log10(std::max(a.lo, 1e-300)), hi = std::log10(std::max(a.hi, 1e-300));
        return (std::log10(std::max(v, 1e-300)) - lo) / (hi - lo);
    }
    return (v - a.lo) / (a.hi - a.lo);
}

double Plot::px(double v) const {
    double f = std::clamp(axis_frac(x, v), -0.02, 1.02);
    return x0 + f * w;
}
double Plot::py(double v) const {
    double f = std::clamp(axis_frac(y, v), -0.02, 1.02);
    return y0 + h - f * h;
}
bool Plot::inside_x(double v) const {
    double f = axis_frac(x, v);
    return f >= -1e-9 && f <= 1 + 1e-9;
}
bool Plot::inside_y(double v) const {
    double f = axis_frac(y, v);
    return f >= -1e-9 && f <= 1 + 1e-9;
}

void Plot::frame(const std::string& title, bool grid, int xticks, int yticks) {
    for (double t : xticks > 0 ? axis_ticks(x, xticks) : std::vector<double>{}) {
        double X = px(t);
        if (grid) svg.line(X, y0, X, y0 + h, "#eeeeee", 1);
        svg.line(X, y0 + h, X, y0 + h + 4, "#444", 1);
        svg.text(X, y0 + h + 16, fmt_sig(t, 3), 10, "middle", "#444");
    }
    for (double t : yticks > 0 ? axis_ticks(y, yticks) : std::vector<double>{}) {
        double Y = py(t);
        if (grid) svg.line(x0, Y, x0 + w, Y, "#eeeeee", 1);
        svg.line(x0 - 4, Y, x0, Y, "#444", 1);
        svg.text(x0 - 7, Y + 3.5, fmt_sig(t, 3), 10, "end", "#444");
    }
    svg.rect(x0, y0, w, h, "none", "#444", 1);
    if (!x.label.empty()) svg.text(x0 + w / 2, y0 + h + 32, x.label, 12, "middle", "#222");
    if (!y.label.empty()) svg.text(x0 - 42, y0 + h / 2, y.label, 12, "middle", "#222", "normal", -90);
    if (!title.empty()) svg.text(x0 + w / 2, y0 - 10, title, 13, "middle", "#111", "bold");
}

void Plot::hline(double v, const std::string& color, const std::string& dash, const std::string& label) {
    if (!inside_y(v)) return;
    double Y = py(v);
    svg.line(x0, Y, x0 + w, Y, color, 1, dash);
    if (!label.empty()) svg.text(x0 + w + 3, Y + 3.5, label, 10, "start", color);
}

void Plot::vline(double v, const std::string& color, const std::string& dash, const std::string& label) {
    if (!inside_x(v)) return;
    double X = px(v);
    svg.line(X, y0, X, y0 + h, color, 1, dash);
    if (!label.empty()) svg.text(X + 3, y0 + 11, label, 10, "start", color);
}

void Plot::curve(const std::vector<std::pair<double, double>>& pts, const std::string& color, double width,
                 const std::string& dash) {
    std::vector<std::pair<double, double>> seg;
    for (auto& p : pts) {
        if (!std::isfinite(p.first) || !std::isfinite(p.second) || !inside_x(p.first) || !inside_y(p.second)) {
            if (seg.size() >= 2) svg.polyline(seg, color, width, dash);
            seg.clear();
            continue;
        }
        seg.push_back({px(p.first), py(p.second)});
    }
    if (seg.size() >= 2) svg.polyline(seg, color, width, dash);
}

void svg_legend(Svg& s, double x, double y, const std::vector<std::pair<std::string, std::string>>& items,
                double size) {
    double row = size + 6;
    for (size_t i = 0; i < items.size(); i++) {
        double Y = y + i * row;
        s.rect(x, Y, size, size, items[i].first, "#444", 0.5);
        s.text(x + size + 5, Y + size - 1.5, items[i].second, size, "start", "#222");
    }
}

void svg_heatmap(Svg& s, double x, double y, double cw, double ch, const std::vector<double>& M, int rows, int cols,
                 double vmax, bool diverging, const std::string& tooltip_prefix) {
    if (vmax <= 0) vmax = 1;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double v = M[(size_t)r * cols + c];
            std::string col = diverging ? color_diverging(v / vmax) : color_sequential(v / vmax);
            std::string tip = tooltip_prefix.empty()
                                  ? std::string()
                                  : tooltip_prefix + "[" + std::to_string(r) + "," + std::to_string(c) + "] = " +
                                        fmt_sig(v, 3);
            s.rect(x + c * cw, y + r * ch, cw + 0.05, ch + 0.05, col, "none", 0, tip);
        }
    s.rect(x, y, cols * cw, rows * ch, "none", "#666", 0.6);
}

void svg_colorbar(Svg& s, double x, double y, double w, double h, double vmin, double vmax, bool diverging,
                  const std::string& label) {
    const int steps = 48;
    for (int i = 0; i < steps; i++) {
        double t = 1.0 - (i + 0.5) / steps;  // top = vmax
        double v = vmin + t * (vmax - vmin);
        std::string c = diverging ? color_diverging(v / std::max(std::fabs(vmin), std::fabs(vmax)))
                                  : color_sequential((v - vmin) / (vmax - vmin));
        s.rect(x, y + i * h / steps, w, h / steps + 0.3, c);
    }
    s.rect(x, y, w, h, "none", "#666", 0.6);
    s.text(x + w + 3, y + 8, fmt_sig(vmax, 2), 9, "start", "#444");
    s.text(x + w + 3, y + h / 2 + 3, fmt_sig((vmin + vmax) / 2, 2), 9, "start", "#444");
    s.text(x + w + 3, y + h, fmt_sig(vmin, 2), 9, "start", "#444");
    if (!label.empty()) s.text(x + w / 2, y - 5, label, 9, "middle", "#444");
}

}  // namespace unfold
