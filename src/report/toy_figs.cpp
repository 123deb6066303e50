// report_figs.cpp: SVG figures of toy-model instances (see report_figs.h).
#include "unfold/report/toy_figs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/toy/analysis.h"
#include "unfold/toy/geometry.h"
#include "unfold/viz/chart.h"
#include "unfold/viz/plot.h"

namespace unfold {

std::vector<int> spread_indices(int count, int k) {
    std::vector<int> out;
    if (count <= 0) return out;
    if (count <= k || k <= 1) {
        for (int i = 0; i < std::min(count, std::max(k, 1)); i++) out.push_back(i);
        if (k <= 1) return out;
        return out;
    }
    for (int j = 0; j < k; j++) {
        int i = (int)std::lround((double)j * (count - 1) / (k - 1));
        if (out.empty() || out.back() != i) out.push_back(i);
    }
    return out;
}

std::vector<InstanceView> instance_views(const ToyModel& model, const std::vector<float>& loss) {
    const ToyConfig& c = model.cfg;
    std::vector<InstanceView> out;
    for (int i = 0; i < c.n_instances; i++) {
        InstanceView v;
        v.m = c.n_hidden;
        v.n = c.n_features;
        const float* W = toy_feature_weights(model, i);
        v.W.assign(W, W + (size_t)v.m * v.n);
        const float* b = model.params.get("b") + (size_t)i * v.n;
        v.b.assign(b, b + v.n);
        double dsum = 0;
        for (int f = 0; f < v.n; f++) {
            dsum += c.density[(size_t)i * v.n + f];
            v.importance.push_back(c.importance[(size_t)i * v.n + f]);
        }
        v.density = dsum / v.n;
        v.label = "1-S = " + fmt_sig(v.density, 2);
        v.loss = (int)loss.size() == c.n_instances ? loss[i] : std::numeric_limits<double>::quiet_NaN();
        out.push_back(std::move(v));
    }
    return out;
}

static std::string feature_color(int i, int n) {
    return n <= 10 ? color_category(i) : color_sequential(n > 1 ? 1.0 - (double)i / (n - 1) : 0.5);
}

Svg fig_feature_arrows(const std::vector<InstanceView>& vs, const std::string& title, int max_panels) {
    std::vector<int> idx = spread_indices((int)vs.size(), max_panels);
    int cols = std::min<int>(5, std::max<size_t>(1, idx.size()));
    int rows = ((int)idx.size() + cols - 1) / cols;
    const double pw = 150, ph = 170;
    int n = vs.empty() ? 0 : vs[0].n;
    double legend_h = n <= 10 ? 24 : 30;
    Svg s(std::max(420.0, 20 + cols * pw), 46 + rows * ph + legend_h);
    s.text(s.width / 2, 22, title, 14, "middle", "#111", "bold");
    double scale = 1.0;
    for (int i : idx) {
        ToyFeatureStats st = feature_stats(vs[i].W.data(), vs[i].m, vs[i].n);
        for (double x : st.norm) scale = std::max(scale, x);
    }
    for (size_t k = 0; k < idx.size(); k++) {
        const InstanceView& v = vs[idx[k]];
        double ox = 10 + (k % cols) * pw, oy = 40 + (k / cols) * ph;
        double cx = ox + pw / 2, cy = oy + 78, R = 56;
        s.circle(cx, cy, R, "none", "#dddddd", 1);
        s.line(cx - R - 4, cy, cx + R + 4, cy, "#eeeeee", 1);
        s.line(cx, cy - R - 4, cx, cy + R + 4, "#eeeeee", 1);
        std::vector<double> P = principal_plane(v.W.data(), v.m, v.n);
        for (int f = v.n - 1; f >= 0; f--) {  // most important drawn last (on top)
            double x = 0, y = 0;
            for (int a = 0; a < v.m; a++) {
                x += P[a] * v.W[(size_t)a * v.n + f];
                y += P[(size_t)v.m + a] * v.W[(size_t)a * v.n + f];
            }
            x *= R / scale;
            y *= R / scale;
            std::string col = feature_color(f, v.n);
            if (std::sqrt(x * x + y * y) < 3)
                s.circle(cx + x, cy - y, 2, col);
            else
                s.arrow(cx, cy, cx + x, cy - y, col, 2, 8);
        }
        s.text(cx, oy + 12, v.label, 11, "middle", "#222", "bold");
        double bmin = 0;
        for (float x : v.b) bmin = std::min(bmin, (double)x);
        std::string foot = std::isfinite(v.loss) ? "loss " + fmt_sig(v.loss, 3) : std::string();
        if (!v.b.empty()) foot += (foot.empty() ? "" : ", ") + std::string("min b ") + fmt_sig(bmin, 2);
        s.text(cx, oy + 154, foot, 9, "middle", "#666");
        if (v.m > 2) s.text(cx, oy + 26, "(top-2 PCA plane)", 9, "middle", "#888");
    }
    double ly = 46 + rows * ph;
    if (n <= 10) {
        double x = 20;
        for (int f = 0; f < n; f++) {
            s.rect(x, ly - 9, 10, 10, feature_color(f, n));
            s.text(x + 14, ly, "feature " + std::to_string(f), 10);
            x += 78;
        }
    } else {
        s.text(20, ly, "colour: feature index (bright = most important, dark = least)", 10, "start", "#444");
    }
    return s;
}

Svg fig_norm_bars(const std::vector<InstanceView>& vs, const std::string& title, int max_rows) {
    std::vector<int> idx = spread_indices((int)vs.size(), max_rows);
    int n = vs.empty() ? 1 : vs[0].n;
    const int kMaxHeat = 50;  // larger models: the heatmap shows the first (most important) 50 features
    int nh = std::min(n, kMaxHeat);
    const double row_h = 170, bar_w = 380;
    double cell = std::max(1.6, std::min(22.0, 130.0 / nh));
    double hm = cell * nh;
    Svg s(100 + bar_w + 60 + hm + 130, 50 + row_h * idx.size() + 10);
    s.text(s.width / 2, 22, title, 14, "middle", "#111", "bold");
    for (size_t k = 0; k < idx.size(); k++) {
        const InstanceView& v = vs[idx[k]];
        ToyFeatureStats st = feature_stats(v.W.data(), v.m, v.n);
        double ymax = 1.2;
        for (double x : st.norm) ymax = std::max(ymax, x * 1.1);
        double oy = 50 + k * row_h;
        Plot P(s, 60, oy + 20, bar_w, 110, Axis{-0.5, v.n - 0.5, false, k + 1 == idx.size() ? "feature i (by importance)" : ""},
               Axis{0, ymax, false, "||W_i||"});
        P.frame(v.label + (std::isfinite(v.loss) ? "   loss " + fmt_sig(v.loss, 3) : ""), true, std::min(10, v.n), 3);
        double bw = bar_w / v.n;
        for (int f = 0; f < v.n; f++) {
            double y1 = P.py(st.norm[f]), y0 = P.py(0);
            s.rect(P.px(f) - bw * 0.42, y1, bw * 0.84, y0 - y1, color_sequential(std::min(1.0, st.polysemanticity[f])),
                   "none", 0,
                   strformat("feature %d: ||W|| = %.3f, superposition %.3f, D = %.3f", f, st.norm[f],
                             st.polysemanticity[f], st.dimensionality[f]));
        }
        if (v.m < v.n) P.vline(v.m - 0.5, "#c00", "4,3", "m = " + std::to_string(v.m));
        // W^T W heatmap
        std::vector<double> G = gram_matrix(v.W.data(), v.m, v.n), Gs((size_t)nh * nh);
        for (int i = 0; i < nh; i++)
            for (int j = 0; j < nh; j++) Gs[(size_t)i * nh + j] = G[(size_t)i * v.n + j];
        double hx = 60 + bar_w + 50, hy = oy + 20;
        svg_heatmap(s, hx, hy, cell, cell, Gs, nh, nh, 1.0, true, nh > 30 ? "" : "W^T W");
        s.text(hx + hm / 2, hy - 6, nh < n ? strformat("W^T W (first %d)", nh) : std::string("W^T W"), 11, "middle",
               "#222", "bold");
    }
    double cbx = 60 + bar_w + 50 + hm + 30;
    svg_colorbar(s, cbx, 80, 12, 110, 0, 1, false, "superpos.");
    svg_colorbar(s, cbx + 56, 80, 12, 110, -1, 1, true, "W^T W");
    return s;
}

static double jitter(uint64_t a, uint64_t b) {
    Rng r(a * 7919 + b, 0x717e);
    return r.uniform(-1.0f, 1.0f);
}

Svg fig_dims_per_feature(const std::vector<InstanceView>& vs, const std::string& title) {
    double lo = 1e300, hi = 0;
    for (auto& v : vs) {
        lo = std::min(lo, 1.0 / v.density);
        hi = std::max(hi, 1.0 / v.density);
    }
    if (vs.empty()) lo = hi = 1;
    Svg s(700, 420);
    Plot P(s, 70, 40, 480, 320, Axis{lo / 1.3, hi * 1.3, true, "1/(1-S)  (log)"}, Axis{0, 1.1, false, "dimensions per feature"});
    double last_label_y = -1e9;
    for (auto& f : sticky_fractions()) {  // descending values: labels pushed down so they never overlap
        P.hline(f.value, "#9467bd", "3,3");
        double y = std::max(P.py(f.value) + 3.5, last_label_y + 11);
        s.text(P.x0 + P.w + 4, y, f.label, 10, "start", "#9467bd");
        last_label_y = y;
    }
    P.frame(title);
    std::vector<std::pair<double, double>> line;
    for (size_t k = 0; k < vs.size(); k++) {
        const InstanceView& v = vs[k];
        ToyFeatureStats st = feature_stats(v.W.data(), v.m, v.n);
        double x = 1.0 / v.density;
        for (int f = 0; f < v.n; f++) {
            if (st.norm[f] <= 0.5) continue;
            double xj = x * std::pow(1.12, jitter(k, f));
            s.circle(P.px(xj), P.py(st.dimensionality[f]), 2.2, "#1f77b4", "none", 0,
                     strformat("feature %d: D = %.3f", f, st.dimensionality[f]), 0.55);
        }
        line.push_back({x, std::min(1.1, st.dims_per_feature)});
    }
    std::sort(line.begin(), line.end());
    P.curve(line, "#111", 2);
    for (auto& p : line) s.circle(P.px(p.first), P.py(p.second), 3.5, "#111");
    svg_legend(s, 80, 392, {{"#111111", "m / ||W||_F^2 per instance"}, {"#1f77b4", "D_i of each represented feature"}}, 10);
    return s;
}

static const std::vector<std::string>& polytope_order() {
    static const std::vector<std::string> o = {"dedicated dimension", "antipodal pair", "triangle", "tetrahedron",
                                               "pentagon", "square antiprism", "4-simplex", "hexagon"};
    return o;
}
static std::string polytope_color(const std::string& name) {
    auto& o = polytope_order();
    for (size_t i = 0; i < o.size(); i++)
        if (o[i] == name) return color_category((int)i);
    return "#bbbbbb";
}

Svg fig_polytopes(const std::vector<InstanceView>& vs, const std::string& title) {
    int n = vs.empty() ? 1 : vs[0].n;
    const double rh = 22;
    Svg s(800, std::max(90 + rh * vs.size() + 40, 220.0));
    Plot P(s, 110, 40, 470, rh * vs.size(), Axis{0, (double)n, false, "number of features"},
           Axis{0, (double)vs.size(), false, ""});
    P.frame(title, true, 6, 0);
    std::map<std::string, int> used;
    for (size_t k = 0; k < vs.size(); k++) {
        const InstanceView& v = vs[k];
        auto polys = classify_geometry(v.W.data(), v.m, v.n);
        std::stable_sort(polys.begin(), polys.end(), [](const Polytope& a, const Polytope& b) {
            auto& o = polytope_order();
            auto ia = std::find(o.begin(), o.end(), a.name) - o.begin();
            auto ib = std::find(o.begin(), o.end(), b.name) - o.begin();
            return ia < ib;
        });
        double x = 0, y = P.y0 + k * rh + 3;
        for (auto& p : polys) {
            std::string col = polytope_color(p.name);
            used[polytope_color(p.name) == "#bbbbbb" ? "other (irregular / unnamed)" : p.name]++;
            std::string feats;
            for (int f : p.features) feats += (feats.empty() ? "" : ",") + std::to_string(f);
            s.rect(P.px(x), y, P.px(x + p.k) - P.px(x), rh - 6, col, "#ffffff", 0.8,
                   p.name + " (D ~ " + fmt_sig(p.mean_dimensionality, 3) + "): features " + feats);
            double wpx = P.px(x + p.k) - P.px(x);
            std::string tag = p.k == 1 ? "1" : std::to_string(p.k) + "/" + std::to_string(p.dims) + "d";
            if (wpx > 8.0 * tag.size()) s.text(P.px(x) + wpx / 2, y + rh / 2 + 0.5, tag, 9, "middle", "#fff");
            x += p.k;
        }
        s.text(P.x0 - 6, y + rh / 2, v.label, 10, "end", "#222");
        s.text(P.px(std::min<double>(x, n)) + 4, y + rh / 2, std::to_string((int)x) + " repr.", 9, "start", "#666");
    }
    std::vector<std::pair<std::string, std::string>> items;
    for (auto& name : polytope_order())
        if (used.count(name)) items.push_back({polytope_color(name), name});
    if (used.count("other (irregular / unnamed)")) items.push_back({"#bbbbbb", "other (irregular / unnamed)"});
    svg_legend(s, P.x0 + P.w + 50, P.y0 + 4, items, 10);
    s.text(P.x0 + P.w + 50, P.y0 + 20 + 16 * items.size(), "block label: k features / d dims", 9, "start", "#555");
    return s;
}

Svg fig_rank(const std::vector<InstanceView>& vs, const std::string& title) {
    std::vector<std::string> groups;
    std::vector<std::vector<double>> vals;
    for (auto& v : vs) {
        SuperpositionTest t = superposition_test(v.W.data(), v.m, v.n);
        groups.push_back(fmt_sig(v.density, 2));
        vals.push_back({(double)t.represented.size(), (double)t.rank, (double)v.m});
    }
    Svg s = chart_grouped_bars(title, groups, {"represented features |R|", "rank of W_R^T W_R", "hidden dims m"}, vals,
                               "count", false, std::max(560.0, 160.0 + 60.0 * groups.size()), 320);
    s.text(70, s.height - 12, "x: feature density 1-S of each instance; superposition exactly when rank < |R|", 10,
           "start", "#555");
    return s;
}

Svg fig_neurons(const std::vector<InstanceView>& vs, const std::string& title, int max_panels) {
    std::vector<int> idx = spread_indices((int)vs.size(), max_panels);
    const int kMaxCols = 64;  // wider models: the first (most important) 64 features are drawn
    int n = std::min(kMaxCols, vs.empty() ? 1 : vs[0].n), m = vs.empty() ? 1 : vs[0].m;
    double cell = std::max(4.0, std::min(24.0, 420.0 / n));
    if (m * cell > 600) cell = std::max(2.0, 600.0 / m);
    double ph = m * cell + 58;
    Svg s(90 + n * cell + 220, 40 + ph * idx.size() + 10);
    s.text(s.width / 2, 22, title, 14, "middle", "#111", "bold");
    for (size_t k = 0; k < idx.size(); k++) {
        const InstanceView& v = vs[idx[k]];
        double ox = 60, oy = 52 + k * ph;
        double vmax = 1e-9;
        for (float w : v.W) vmax = std::max(vmax, (double)std::fabs(w));
        std::vector<double> M((size_t)v.m * n);
        for (int j = 0; j < v.m; j++)
            for (int f = 0; f < n; f++) M[(size_t)j * n + f] = v.W[(size_t)j * v.n + f];
        svg_heatmap(s, ox, oy, cell, cell, M, v.m, n, vmax, true, "W (neuron, feature)");
        auto info = neuron_view(v.W.data(), v.m, v.n);
        int mono = 0, poly = 0;
        for (int j = 0; j < v.m; j++) {
            s.text(ox - 4, oy + j * cell + cell * 0.7, "h" + std::to_string(j), std::min(10.0, cell), "end", "#444");
            std::string lab;
            std::string col = "#444";
            if (info[j].dead) {
                lab = "dead";
                col = "#999";
            } else if (info[j].monosemantic) {
                lab = "mono: f" + std::to_string(info[j].features[0]);
                col = "#2ca02c";
                mono++;
            } else {
                lab = "poly:";
                for (size_t q = 0; q < info[j].features.size() && q < 5; q++) lab += " f" + std::to_string(info[j].features[q]);
                if (info[j].features.size() > 5) lab += " ...";
                col = "#d62728";
                poly++;
            }
            s.text(ox + n * cell + 6, oy + j * cell + cell * 0.7, lab, std::min(10.0, cell), "start", col);
        }
        s.text(ox, oy - 6,
               v.label + strformat("  |  %d monosemantic, %d polysemantic neurons  |  max |w| %.2f", mono, poly, vmax),
               11, "start", "#222", "bold");
        int every = std::max(1, (int)std::ceil(14.0 / cell));
        for (int f = 0; f < n; f += every)
            s.text(ox + (f + 0.5) * cell, oy + v.m * cell + 11, "f" + std::to_string(f), 8, "middle", "#666");
    }
    return s;
}

Svg fig_packing(const std::vector<PackingRow>& rows, const std::string& title) {
    Svg s(1000, 400);
    s.text(500, 20, title, 14, "middle", "#111", "bold");
    double mlo = 1e9, mhi = 0, cmax = 1, cmin = 1e9;
    for (auto& r : rows) {
        mlo = std::min<double>(mlo, r.m);
        mhi = std::max<double>(mhi, r.m);
        cmax = std::max({cmax, (double)r.optimized_count, (double)r.random_count, r.jl,
                         std::isfinite(r.welch) ? r.welch : 0.0});
        cmin = std::min({cmin, (double)std::max(1, r.random_count), r.jl});
    }
    if (rows.empty()) mlo = 1, mhi = 2, cmin = 1;
    Axis xa{std::max(0.5, mlo * 0.85), mhi * 1.15, true, "hidden dimension m (log)"};
    Plot L(s, 70, 50, 330, 280, xa, Axis{std::max(0.5, cmin * 0.7), cmax * 1.6, true, "vectors with |cos| < eps"});
    L.frame(rows.empty() ? "" : "How many fit (eps = " + fmt_sig(rows[0].eps, 2) + ")");
    std::vector<std::pair<double, double>> rnd, opt, jl, welch, rmsq, omsq, wmsq;
    for (auto& r : rows) {
        rnd.push_back({(double)r.m, (double)r.random_count});
        opt.push_back({(double)r.m, (double)r.optimized_count});
        jl.push_back({(double)r.m, r.jl});
        if (std::isfinite(r.welch)) welch.push_back({(double)r.m, r.welch});
        rmsq.push_back({(double)r.m, r.random_msq});
        omsq.push_back({(double)r.m, r.optimized_msq});
        double wb = r.optimized_count > r.m ? (double)(r.optimized_count - r.m) / ((double)r.m * (r.optimized_count - 1)) : 0;
        wmsq.push_back({(double)r.m, wb});
    }
    auto dots = [&](Plot& P, const std::vector<std::pair<double, double>>& pts, const std::string& c) {
        for (auto& p : pts)
            if (P.inside_x(p.first) && P.inside_y(p.second))
                s.circle(P.px(p.first), P.py(p.second), 3, c, "none", 0, fmt_sig(p.first, 3) + ": " + fmt_sig(p.second, 4));
    };
    L.curve(rnd, color_category(0), 1.8);
    dots(L, rnd, color_category(0));
    L.curve(opt, color_category(1), 1.8);
    dots(L, opt, color_category(1));
    L.curve(jl, "#555", 1.5, "5,3");
    L.curve(welch, "#2ca02c", 1.5, "2,3");
    L.curve({{xa.lo, xa.lo}, {xa.hi, xa.hi}}, "#bbb", 1, "1,3");
    Plot Rp(s, 520, 50, 300, 280, xa, Axis{0, 0.3, false, "mean cos^2 over pairs (interference)"});
    Rp.frame("Interference they cause");
    Rp.curve(rmsq, color_category(0), 1.8);
    dots(Rp, rmsq, color_category(0));
    Rp.curve(omsq, color_category(1), 1.8);
    dots(Rp, omsq, color_category(1));
    Rp.curve(wmsq, "#2ca02c", 1.5, "2,3");
    svg_legend(s, 840, 60,
               {{color_category(0), "random (greedy)"},
                {color_category(1), "optimised (GD on hinge)"},
                {"#555555", "JL: exp(m eps^2/4)"},
                {"#2ca02c", "Welch bound"},
                {"#bbbbbb", "N = m (orthogonal)"}},
               10);
    s.text(70, 374, "Left: dashed = JL union-bound guarantee for random vectors; dotted green = Welch upper bound "
                    "(finite when m eps^2 < 1).", 10, "start", "#555");
    s.text(70, 388, "Right: dotted green = Welch lower bound on the mean cos^2 at the optimised count.", 10, "start",
           "#555");
    return s;
}

}  // namespace unfold
