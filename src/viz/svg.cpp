// svg.cpp: the SVG element writer and colour maps (see svg.h).
#include "unfold/viz/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace unfold {

std::string xml_escape(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&#39;"; break;
            default: o += c;
        }
    }
    return o;
}

std::string svg_num(double v) {
    if (!std::isfinite(v)) v = 0;
    char buf[32];
    snprintf(buf, sizeof buf, "%.2f", v);
    std::string s = buf;
    // trim trailing zeros and a trailing dot
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    if (s == "-0" || s.empty()) s = "0";
    return s;
}

std::string fmt_sig(double v, int sig) {
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    if (v == 0) return "0";
    char buf[48];
    double a = std::fabs(v);
    if (a >= 1e-3 && a < 1e5)
        snprintf(buf, sizeof buf, "%.*g", sig, v);
    else
        snprintf(buf, sizeof buf, "%.*e", std::max(0, sig - 1), v);
    return buf;
}

static std::string attr_tooltip(const std::string& t) {
    return t.empty() ? std::string() : "<title>" + xml_escape(t) + "</title>";
}

void Svg::rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke,
               double sw, const std::string& tooltip) {
    body += "<rect x=\"" + svg_num(x) + "\" y=\"" + svg_num(y) + "\" width=\"" + svg_num(std::max(0.0, w)) +
            "\" height=\"" + svg_num(std::max(0.0, h)) + "\" fill=\"" + fill + "\"";
    if (stroke != "none") body += " stroke=\"" + stroke + "\" stroke-width=\"" + svg_num(sw) + "\"";
    if (tooltip.empty())
        body += "/>";
    else
        body += ">" + attr_tooltip(tooltip) + "</rect>";
}

void Svg::line(double x1, double y1, double x2, double y2, const std::string& stroke, double sw,
               const std::string& dash) {
    body += "<line x1=\"" + svg_num(x1) + "\" y1=\"" + svg_num(y1) + "\" x2=\"" + svg_num(x2) + "\" y2=\"" +
            svg_num(y2) + "\" stroke=\"" + stroke + "\" stroke-width=\"" + svg_num(sw) + "\"";
    if (!dash.empty()) body += " stroke-dasharray=\"" + dash + "\"";
    body += "/>";
}

void Svg::circle(double cx, double cy, double r, const std::string& fill, const std::string& stroke, double sw,
                 const std::string& tooltip, double opacity) {
    body += "<circle cx=\"" + svg_num(cx) + "\" cy=\"" + svg_num(cy) + "\" r=\"" + svg_num(r) + "\" fill=\"" + fill +
            "\"";
    if (stroke != "none") body += " stroke=\"" + stroke + "\" stroke-width=\"" + svg_num(sw) + "\"";
    if (opacity < 1.0) body += " fill-opacity=\"" + svg_num(opacity) + "\"";
    if (tooltip.empty())
        body += "/>";
    else
        body += ">" + attr_tooltip(tooltip) + "</circle>";
}

void Svg::text(double x, double y, const std::string& s, double size, const std::string& anchor,
               const std::string& fill, const std::string& weight, double rotate) {
    body += "<text x=\"" + svg_num(x) + "\" y=\"" + svg_num(y) + "\" font-size=\"" + svg_num(size) +
            "\" text-anchor=\"" + anchor + "\" fill=\"" + fill + "\"";
    if (weight != "normal") body += " font-weight=\"" + weight + "\"";
    if (rotate != 0)
        body += " transform=\"rotate(" + svg_num(rotate) + " " + svg_num(x) + " " + svg_num(y) + ")\"";
    body += ">" + xml_escape(s) + "</text>";
}

static std::string points_attr(const std::vector<std::pair<double, double>>& pts) {
    std::string p;
    for (size_t i = 0; i < pts.size(); i++) {
        if (i) p += ' ';
        p += svg_num(pts[i].first) + "," + svg_num(pts[i].second);
    }
    return p;
}

void Svg::polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke, double sw,
                   const std::string& dash) {
    if (pts.size() < 2) return;
    body += "<polyline points=\"" + points_attr(pts) + "\" fill=\"none\" stroke=\"" + stroke + "\" stroke-width=\"" +
            svg_num(sw) + "\" stroke-linejoin=\"round\"";
    if (!dash.empty()) body += " stroke-dasharray=\"" + dash + "\"";
    body += "/>";
}

void Svg::polygon(const std::vector<std::pair<double, double>>& pts, const std::string& fill,
                  const std::string& stroke, double sw, double opacity) {
    if (pts.size() < 3) return;
    body += "<polygon points=\"" + points_attr(pts) + "\" fill=\"" + fill + "\"";
    if (stroke != "none") body += " stroke=\"" + stroke + "\" stroke-width=\"" + svg_num(sw) + "\"";
    if (opacity < 1.0) body += " fill-opacity=\"" + svg_num(opacity) + "\"";
    body += "/>";
}

void Svg::arrow(double x1, double y1, double x2, double y2, const std::string& color, double sw, double head) {
    double dx = x2 - x1, dy = y2 - y1, len = std::sqrt(dx * dx + dy * dy);
    if (len < 1e-9) {
        circle(x1, y1, sw, color);
        return;
    }
    double ux = dx / len, uy = dy / len;
    double h = std::min(head, 0.6 * len);
    double bx = x2 - ux * h, by = y2 - uy * h;  // base of the head
    line(x1, y1, bx, by, color, sw);
    double w = 0.45 * h;
    polygon({{x2, y2}, {bx - uy * w, by + ux * w}, {bx + uy * w, by - ux * w}}, color);
}

std::string Svg::str(const std::string& id) const {
    std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\"";
    if (!id.empty()) s += " id=\"" + xml_escape(id) + "\"";
    s += " width=\"" + svg_num(width) + "\" height=\"" + svg_num(height) + "\" viewBox=\"0 0 " + svg_num(width) +
         " " + svg_num(height) + "\" font-family=\"Helvetica, Arial, sans-serif\">";
    s += "<rect x=\"0\" y=\"0\" width=\"" + svg_num(width) + "\" height=\"" + svg_num(height) + "\" fill=\"#ffffff\"/>";
    s += body;
    s += "</svg>";
    return s;
}

// ---- colours ----

static std::string hex_rgb(double r, double g, double b) {
    auto c = [](double v) { return (int)std::lround(std::clamp(v, 0.0, 1.0) * 255.0); };
    char buf[8];
    snprintf(buf, sizeof buf, "#%02x%02x%02x", c(r), c(g), c(b));
    return buf;
}

struct Rgb {
    double r, g, b;
};

static Rgb lerp_stops(const Rgb* stops, int n, double t) {
    t = std::clamp(t, 0.0, 1.0) * (n - 1);
    int i = std::min(n - 2, (int)std::floor(t));
    double f = t - i;
    return {stops[i].r + f * (stops[i + 1].r - stops[i].r), stops[i].g + f * (stops[i + 1].g - stops[i].g),
            stops[i].b + f * (stops[i + 1].b - stops[i].b)};
}

std::string color_diverging(double v) {
    if (!std::isfinite(v)) return "#888888";
    static const Rgb stops[5] = {{0.230, 0.299, 0.754}, {0.552, 0.690, 0.996}, {0.970, 0.970, 0.970},
                                 {0.957, 0.604, 0.482}, {0.706, 0.016, 0.150}};
    Rgb c = lerp_stops(stops, 5, (v + 1.0) / 2.0);
    return hex_rgb(c.r, c.g, c.b);
}

std::string color_sequential(double t) {
    if (!std::isfinite(t)) return "#888888";
    static const Rgb stops[5] = {{0.267, 0.005, 0.329}, {0.230, 0.322, 0.546}, {0.128, 0.567, 0.551},
                                 {0.369, 0.789, 0.383}, {0.993, 0.906, 0.144}};
    Rgb c = lerp_stops(stops, 5, t);
    return hex_rgb(c.r, c.g, c.b);
}

std::string color_category(int i) {
    static const char* pal[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    return pal[((i % 10) + 10) % 10];
}

std::string color_mix(const std::string& a, const std::string& b, double t) {
    auto parse = [](const std::string& h) {
        unsigned r = 0, g = 0, bl = 0;
        if (h.size() == 7) sscanf(h.c_str() + 1, "%02x%02x%02x", &r, &g, &bl);
        return Rgb{r / 255.0, g / 255.0, bl / 255.0};
    };
    Rgb x = parse(a), y = parse(b);
    t = std::clamp(t, 0.0, 1.0);
    return hex_rgb(x.r + t * (y.r - x.r), x.g + t * (y.g - x.g), x.b + t * (y.b - x.b));
}

}  // namespace unfold
