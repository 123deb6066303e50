// sae_report.cpp: the HTML report of an SAE run (see sae_report.h).
#include "unfold/report/sae_report.h"

#include <algorithm>
#include <cmath>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/safetensors.h"
#include "unfold/sae/sae.h"
#include "unfold/sae/sae_eval.h"
#include "unfold/viz/html.h"
#include "unfold/viz/plot.h"
#include "unfold/viz/svg.h"

namespace unfold {

void pca2(const float* M, int64_t n, int64_t d, float* P) {
    std::vector<double> mean((size_t)d, 0.0), C((size_t)(d * d), 0.0);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) mean[j] += M[i * d + j] / (double)n;
    std::vector<double> r((size_t)d);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < d; j++) r[j] = M[i * d + j] - mean[j];
        for (int64_t a = 0; a < d; a++)
            for (int64_t b = 0; b < d; b++) C[a * d + b] += r[a] * r[b];
    }
    for (int comp = 0; comp < 2; comp++) {
        std::vector<double> v((size_t)d), nv((size_t)d);
        for (int64_t j = 0; j < d; j++) v[j] = 1.0 + 0.01 * (double)((j * 7919 + comp * 104729) % 97);
        double lam = 0;
        for (int it = 0; it < 300; it++) {
            for (int64_t a = 0; a < d; a++) {
                double s = 0;
                for (int64_t b = 0; b < d; b++) s += C[a * d + b] * v[b];
                nv[a] = s;
            }
            double nn = 0;
            for (double t : nv) nn += t * t;
            nn = std::sqrt(nn);
            if (nn <= 0) break;
            for (int64_t j = 0; j < d; j++) v[j] = nv[j] / nn;
            lam = nn;
        }
        for (int64_t j = 0; j < d; j++) P[comp * d + j] = (float)v[j];
        for (int64_t a = 0; a < d; a++)  // deflate
            for (int64_t b = 0; b < d; b++) C[a * d + b] -= lam * v[a] * v[b];
    }
}

static std::vector<std::pair<double, double>> series(const Json& log, const char* key, bool positive) {
    std::vector<std::pair<double, double>> pts;
    if (!log.is_arr()) return pts;
    for (const Json& e : log.arr) {
        const Json* s = e.find("step");
        const Json* v = e.find(key);
        if (!s || !v || !s->is_num() || !v->is_num()) continue;
        if (positive && !(v->num > 0)) continue;
        pts.push_back({s->num, v->num});
    }
    return pts;
}

static Svg curves_figure(const Json& log) {
    Svg s(900, 250);
    const char* keys[4] = {"loss", "fvu", "l0", "dead_frac"};
    const char* names[4] = {"loss", "FVU (batch)", "L0", "dead fraction"};
    for (int q = 0; q < 4; q++) {
        bool lg = q < 2;
        auto pts = series(log, keys[q], lg);
        double x1 = 1, ylo = 1e300, yhi = -1e300;
        for (auto& p : pts) {
            x1 = std::max(x1, p.first);
            ylo = std::min(ylo, p.second);
            yhi = std::max(yhi, p.second);
        }
        if (pts.empty()) ylo = lg ? 0.1 : 0, yhi = 1;
        if (lg) {
            ylo = std::pow(10, std::floor(std::log10(ylo)));
            yhi = std::pow(10, std::ceil(std::log10(yhi)));
            if (yhi <= ylo) yhi = ylo * 10;
        } else {
            ylo = 0;
            yhi = yhi > 0 ? yhi * 1.1 : 1;
        }
        Plot p(s, 50 + q * 220, 30, 160, 170, Axis{0, x1, false, "step"}, Axis{ylo, yhi, lg, ""});
        p.frame(names[q], true, 3, 4);
        p.curve(pts, color_category(q));
    }
    return s;
}

static Svg density_figure(const std::vector<float>& dens) {
    Svg s(520, 300);
    std::vector<int> h(21, 0);
    for (float v : dens) h[std::clamp((int)std::floor((v + 10.5) / 0.5), 0, 20)]++;
    int mx = 1;
    for (int c : h) mx = std::max(mx, c);
    Plot p(s, 60, 30, 420, 220, Axis{-10.5, 0, false, "log10 firing frequency"},
           Axis{0, mx * 1.1, false, "latents"});
    p.frame("Latent density (" + std::to_string(dens.size()) + " latents; dead at the far left)");
    for (int b = 0; b < 21; b++) {
        double x0 = -10.5 + 0.5 * b;
        s.rect(p.px(x0), p.py(h[b]), p.px(x0 + 0.5) - p.px(x0) - 1, p.py(0) - p.py(h[b]), "#4c72b0", "none", 0,
               fmt_sig(x0) + ".." + fmt_sig(x0 + 0.5) + ": " + std::to_string(h[b]));
    }
    return s;
}

void sae_write_report(const std::string& run_dir, ActivationSource* src, const SaeReportOptions& opts,
                      const std::string& out_html) {
    std::string fmt;
    Sae sae = sae_load(run_dir, &fmt);
    const int64_t d = sae.d(), F = sae.F();
    HtmlReport r("SAE report: " + run_dir);
    r.section("summary", "Summary");
    std::vector<std::pair<std::string, std::string>> kv = {
        {"folder", run_dir}, {"format", fmt}, {"architecture", sae_arch_name(sae.cfg.arch)},
        {"d_in", std::to_string(d)}, {"d_sae", std::to_string(F)}};
    if (sae.cfg.arch == SaeArch::TOPK) kv.push_back({"k", std::to_string(sae.cfg.k)});
    Json metrics;
    const std::string mp = path_join(run_dir, "metrics.json");
    if (is_directory(run_dir) && file_exists(mp)) {
        metrics = json_load(mp);
        if (const Json* t = metrics.find("train")) {
            kv.push_back({"training seconds", fmt_sig(t->get_num("seconds", 0), 4)});
            kv.push_back({"tokens/s", fmt_sig(t->get_num("tokens_per_s", 0), 4)});
        }
        if (const Json* s = metrics.find("source"); s && s->is_str()) kv.push_back({"source", s->str});
    }
    Json ev;
    std::vector<float> dens;
    if (src) {
        SaeEvalOptions eo;
        eo.tokens = opts.tokens;
        ev = sae_evaluate(sae, *src, eo, &dens);
    } else if (const Json* e = metrics.find("eval")) {
        ev = *e;
    }
    for (const char* k : {"fvu", "mse", "l0", "l1", "dead_frac", "dense_frac_1pct", "shrinkage", "cossim"})
        if (const Json* v = ev.find(k); v && v->is_num()) kv.push_back({k, fmt_sig(v->num, 4)});
    if (const Json* g = ev.find("ground_truth"))
        for (const char* k : {"mmcs", "frac_recovered", "unmatched_latents"})
            if (const Json* v = g->find(k); v && v->is_num()) kv.push_back({std::string("truth: ") + k, fmt_sig(v->num, 4)});
    r.kv_table(kv);

    if (const Json* log = metrics.find("log"); log && log->is_arr() && log->size() > 0) {
        r.section("curves", "Training curves");
        r.figure("sae-curves", curves_figure(*log), "Loss and batch FVU (log scale), L0 and dead-latent fraction per logged step.");
    }
    if (dens.empty() && is_directory(run_dir) && file_exists(path_join(run_dir, "sparsity.safetensors"))) {
        SafeTensorsReader sr(path_join(run_dir, "sparsity.safetensors"));
        Tensor t = sr.read_f32("sparsity", {F});
        dens = t.data;
    }
    if (!dens.empty()) {
        r.section("density", "Latent density");
        r.figure("sae-density", density_figure(dens), "Histogram of log10 firing frequency per latent.");
    }

    const Tensor* G = src ? src->ground_truth() : nullptr;
    if (G && G->ndim() == 2 && G->dim(1) == d) {
        r.section("truth", "Learned vs true features");
        const int64_t n = G->dim(0);
        std::vector<float> best;
        std::vector<int64_t> arg;
        max_cosine_rows(G->ptr(), n, sae.W_dec(), F, d, best, &arg);
        // recovery curve: sorted max cosine per true feature
        std::vector<float> sb = best;
        std::sort(sb.begin(), sb.end(), std::greater<float>());
        Svg c(520, 300);
        Plot p(c, 60, 30, 420, 220, Axis{0, (double)n, false, "true features (sorted)"}, Axis{0, 1.02, false, "max cosine"});
        p.frame("Best-matching latent per true feature");
        std::vector<std::pair<double, double>> pts;
        for (int64_t i = 0; i < n; i++) pts.push_back({(double)i, sb[i]});
        p.curve(pts, "#c44e52");
        p.hline(0.9, "#999", "4,3", "0.9");
        r.figure("sae-recovery", c, "Max cosine similarity between each true feature and any decoder row.");
        // matrix: the first m true features vs their best latents
        const int m = (int)std::min<int64_t>(opts.max_matrix, n);
        std::vector<float> Gn((size_t)(m * d)), Ln((size_t)(m * d));
        for (int i = 0; i < m; i++) {
            const float* g = G->ptr() + i * d;
            const float* l = sae.W_dec() + arg[i] * d;
            double gn = 0, ln = 0;
            for (int64_t j = 0; j < d; j++) gn += (double)g[j] * g[j], ln += (double)l[j] * l[j];
            for (int64_t j = 0; j < d; j++) {
                Gn[i * d + j] = (float)(g[j] / std::sqrt(std::max(gn, 1e-30)));
                Ln[i * d + j] = (float)(l[j] / std::sqrt(std::max(ln, 1e-30)));
            }
        }
        std::vector<double> M((size_t)(m * m));
        for (int i = 0; i < m; i++)
            for (int k = 0; k < m; k++) {
                double s = 0;
                for (int64_t j = 0; j < d; j++) s += (double)Gn[i * d + j] * Ln[k * d + j];
                M[i * m + k] = s;
            }
        double cell = std::max(4.0, 480.0 / m);
        Svg h(cell * m + 140, cell * m + 70);
        h.text(10, 18, "cos(true feature i, best latent of feature j); a clean diagonal = one latent per feature", 12);
        svg_heatmap(h, 40, 35, cell, cell, M, m, m, 1.0, true, "");
        svg_colorbar(h, cell * m + 60, 35, 14, cell * m, -1, 1, true, "cosine");
        r.figure("sae-matrix", h, "Learned vs true features for the first " + std::to_string(m) + " true features.");
    }

    // PCA map of decoder directions (unit rows)
    {
        std::vector<float> U((size_t)(F * d));
        for (int64_t i = 0; i < F; i++) {
            double n2 = 0;
            for (int64_t j = 0; j < d; j++) n2 += (double)sae.W_dec()[i * d + j] * sae.W_dec()[i * d + j];
            float inv = (float)(1.0 / std::sqrt(std::max(n2, 1e-30)));
            for (int64_t j = 0; j < d; j++) U[i * d + j] = sae.W_dec()[i * d + j] * inv;
        }
        std::vector<float> P((size_t)(2 * d));
        pca2(U.data(), F, d, P.data());
        auto proj = [&](const float* v, double& a, double& b) {
            a = b = 0;
            for (int64_t j = 0; j < d; j++) a += (double)P[j] * v[j], b += (double)P[d + j] * v[j];
        };
        double lim = 1e-6;
        std::vector<std::pair<double, double>> pts((size_t)F);
        for (int64_t i = 0; i < F; i++) {
            proj(U.data() + i * d, pts[i].first, pts[i].second);
            lim = std::max({lim, std::fabs(pts[i].first), std::fabs(pts[i].second)});
        }
        lim *= 1.05;
        Svg s(560, 480);
        Plot p(s, 60, 30, 420, 400, Axis{-lim, lim, false, "PC 1"}, Axis{-lim, lim, false, "PC 2"});
        p.frame("Decoder directions (PCA of unit decoder rows)");
        const int64_t step = std::max<int64_t>(1, F / 4000);  // at most ~4000 points
        for (int64_t i = 0; i < F; i += step) {
            double t = dens.empty() ? 0.5 : std::clamp((dens[i] + 6.0) / 6.0, 0.0, 1.0);
            s.circle(p.px(pts[i].first), p.py(pts[i].second), 2.2, color_sequential(t), "none", 0,
                     "latent " + std::to_string(i), 0.8);
        }
        if (G && G->ndim() == 2 && G->dim(1) == d) {
            const int64_t n = std::min<int64_t>(G->dim(0), 2000);
            for (int64_t i = 0; i < n; i++) {
                double a, b;
                proj(G->ptr() + i * d, a, b);
                double x = p.px(a), y = p.py(b);
                s.line(x - 3, y - 3, x + 3, y + 3, "#c44e52", 1);
                s.line(x - 3, y + 3, x + 3, y - 3, "#c44e52", 1);
            }
        }
        r.section("map", "Decoder map");
        r.figure("sae-pca", s,
                 std::string("Unit decoder rows projected on their top two principal components") +
                     (dens.empty() ? "." : ", coloured by log10 density (dark = rare).") +
                     (G ? " Red crosses: true features." : ""));
    }
    r.save(out_html);
}

}  // namespace unfold
