// svg.h: a minimal SVG writer and the colour maps used by unfold's figures.
//
// Svg accumulates elements as text; str() wraps them in one <svg> element with xmlns, viewBox and an id.
// No element of a figure carries an id or references another (no <defs>, markers or gradients), so any
// number of figures can be inlined into one HTML page without clashes. Arrowheads are drawn as polygons,
// colour bars as strips of small rectangles.
//
//   Svg s(400, 300);
//   s.rect(0, 0, 400, 300, "#fff");
//   s.text(200, 20, "title", 14, "middle", "#222", "bold");
//   write_file_atomic("fig.svg", s.str("fig-id"));
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace unfold {

std::string xml_escape(const std::string& s);  // & < > " '
std::string svg_num(double v);                 // compact number text for coordinates ("12.5", "-3")
std::string fmt_sig(double v, int sig = 3);     // human-readable number for labels ("0.0123", "1.5e-05")

struct Svg {
    double width = 0, height = 0;
    std::string body;

    Svg(double w, double h) : width(w), height(h) {}

    void rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke = "none",
              double stroke_width = 0, const std::string& tooltip = "");
    void line(double x1, double y1, double x2, double y2, const std::string& stroke, double stroke_width = 1,
              const std::string& dash = "");
    void circle(double cx, double cy, double r, const std::string& fill, const std::string& stroke = "none",
                double stroke_width = 0, const std::string& tooltip = "", double opacity = 1.0);
    // anchor: start | middle | end; rotate in degrees about (x, y)
    void text(double x, double y, const std::string& s, double size = 12, const std::string& anchor = "start",
              const std::string& fill = "#222", const std::string& weight = "normal", double rotate = 0);
    void polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke, double stroke_width = 1.5,
                  const std::string& dash = "");
    void polygon(const std::vector<std::pair<double, double>>& pts, const std::string& fill,
                 const std::string& stroke = "none", double stroke_width = 0, double opacity = 1.0);
    // a line from (x1,y1) to (x2,y2) with a filled triangular head at (x2,y2)
    void arrow(double x1, double y1, double x2, double y2, const std::string& color, double stroke_width = 2,
               double head = 8);
    void raw(const std::string& s) { body += s; }

    // The whole document: <svg xmlns=... id=... viewBox=...> + a white background + body + </svg>
    std::string str(const std::string& id = "") const;
};

// Colour maps, returned as "#rrggbb".
std::string color_diverging(double v);   // [-1, 1]: blue (-1) - white (0) - red (+1), clipped (coolwarm-like)
std::string color_sequential(double t);  // [0, 1]: dark blue - teal - yellow (viridis-like), clipped
std::string color_category(int i);       // a qualitative palette of 10 colours, cycling
std::string color_mix(const std::string& a, const std::string& b, double t);  // linear mix of two "#rrggbb"

}  // namespace unfold
