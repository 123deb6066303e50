// umap.cpp: the fuzzy simplicial set, the curve fit, the spectral initialisation and the SGD layout of UMAP
// (McInnes, Healy & Melville 2018), written from the paper's description (umap.h has the outline).
#include "unfold/map/umap.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/core/rng.h"

namespace unfold {

namespace {
constexpr uint64_t kStreamInit = 0x4d01;
constexpr uint64_t kStreamNoise = 0x4d02;
constexpr uint64_t kStreamNegative = 0x4d03;

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

// ---- 2. the fuzzy simplicial set ------------------------------------------------------------------------

FuzzyGraph fuzzy_simplicial_set(const KnnGraph& g) {
    const int64_t n = g.n;
    const int k = g.k;
    UNFOLD_CHECK(n >= 2 && k >= 1 && (int64_t)g.idx.size() == n * k && (int64_t)g.dist.size() == n * k,
                 "fuzzy simplicial set: malformed kNN graph (%lld points, k %d)", (long long)n, k);
    FuzzyGraph fg;
    fg.n = n;
    fg.rho.assign((size_t)n, 0.0f);
    fg.sigma.assign((size_t)n, 1.0f);
    double mean_all = 0;
    for (float v : g.dist) mean_all += v;
    mean_all /= (double)g.dist.size();
    const double target = std::log2((double)k);
    std::vector<float> w((size_t)(n * k));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float* di = g.dist.data() + i * k;
        double rho = 0, mean_i = 0;
        for (int q = 0; q < k; q++) {
            mean_i += di[q];
            if (rho == 0 && di[q] > 0) rho = di[q];
        }
        mean_i /= k;
        // binary search on sigma: sum_j exp(-max(0, d_ij - rho) / sigma) = log2 k
        double lo = 0, hi = std::numeric_limits<double>::infinity(), mid = 1;
        for (int it = 0; it < 64; it++) {
            double psum = 0;
            for (int q = 0; q < k; q++) {
                const double r = di[q] - rho;
                psum += r > 0 ? std::exp(-r / mid) : 1.0;
            }
            if (std::fabs(psum - target) < 1e-5) break;
            if (psum > target) {
                hi = mid;
                mid = (lo + hi) / 2;
            } else {
                lo = mid;
                mid = std::isinf(hi) ? mid * 2 : (lo + hi) / 2;
            }
        }
        double sigma = mid;
        sigma = std::max(sigma, 1e-3 * (rho > 0 ? mean_i : mean_all));
        if (!(sigma > 0)) sigma = 1e-12;
        fg.rho[(size_t)i] = (float)rho;
        fg.sigma[(size_t)i] = (float)sigma;
        for (int q = 0; q < k; q++) {
            const double r = di[q] - rho;
            w[(size_t)(i * k + q)] = r > 0 ? (float)std::exp(-r / sigma) : 1.0f;
        }
    }
    // fuzzy union: w = a + b - a b over the two directions of each pair
    struct Entry {
        int32_t u, v;  // u < v
        float w;
        bool fwd;  // head u
    };
    std::vector<Entry> e;
    e.reserve((size_t)(n * k));
    for (int64_t i = 0; i < n; i++)
        for (int q = 0; q < k; q++) {
            const int32_t j = g.idx[(size_t)(i * k + q)];
            if (j == i || j < 0 || j >= n) continue;
            const float wij = w[(size_t)(i * k + q)];
            if (i < j) e.push_back({(int32_t)i, j, wij, true});
            else e.push_back({j, (int32_t)i, wij, false});
        }
    std::sort(e.begin(), e.end(), [](const Entry& x, const Entry& y) {
        return x.u != y.u ? x.u < y.u : x.v != y.v ? x.v < y.v : x.fwd > y.fwd;
    });
    struct Edge {
        int32_t h, t;
        float w;
    };
    std::vector<Edge> out;
    out.reserve(e.size() * 2);
    for (size_t s = 0; s < e.size();) {
        size_t t = s;
        double a = 0, b = 0;
        while (t < e.size() && e[t].u == e[s].u && e[t].v == e[s].v) {
            (e[t].fwd ? a : b) = e[t].w;
            t++;
        }
        const float uw = (float)(a + b - a * b);
        if (uw > 0) {
            out.push_back({e[s].u, e[s].v, uw});
            out.push_back({e[s].v, e[s].u, uw});
        }
        s = t;
    }
    std::sort(out.begin(), out.end(), [](const Edge& x, const Edge& y) { return x.h != y.h ? x.h < y.h : x.t < y.t; });
    fg.head.resize(out.size());
    fg.tail.resize(out.size());
    fg.weight.resize(out.size());
    for (size_t s = 0; s < out.size(); s++) {
        fg.head[s] = out[s].h;
        fg.tail[s] = out[s].t;
        fg.weight[s] = out[s].w;
    }
    return fg;
}

// ---- the curve q(y) = 1 / (1 + a y^{2b}) ---------------------------------------------------------------

void umap_curve(double min_dist, double spread, double* a_out, double* b_out) {
    UNFOLD_CHECK(std::isfinite(spread) && spread > 0, "UMAP: spread must be > 0, got %g", spread);
    UNFOLD_CHECK(std::isfinite(min_dist) && min_dist >= 0 && min_dist <= spread,
                 "UMAP: min_dist must be in [0, spread %g], got %g", spread, min_dist);
    const int m = 300;
    std::vector<double> x(m), f(m);
    for (int i = 0; i < m; i++) {
        x[i] = 3.0 * spread * i / (m - 1);
        f[i] = x[i] < min_dist ? 1.0 : std::exp(-(x[i] - min_dist) / spread);
    }
    auto cost = [&](double a, double b) {
        double c = 0;
        for (int i = 0; i < m; i++) {
            const double q = 1.0 / (1.0 + a * std::pow(x[i], 2 * b));
            c += (q - f[i]) * (q - f[i]);
        }
        return c;
    };
    // Levenberg-Marquardt on (a, b)
    double a = 1.0, b = 1.0, lambda = 1e-3, c = cost(a, b);
    for (int it = 0; it < 500; it++) {
        double JtJ[3] = {0, 0, 0}, Jtr[2] = {0, 0};  // JtJ: aa, ab, bb
        for (int i = 0; i < m; i++) {
            if (x[i] <= 0) continue;
            const double p = std::pow(x[i], 2 * b), den = 1.0 + a * p, q = 1.0 / den;
            const double ja = -p / (den * den), jb = -a * p * 2.0 * std::log(x[i]) / (den * den);
            const double r = q - f[i];
            JtJ[0] += ja * ja, JtJ[1] += ja * jb, JtJ[2] += jb * jb;
            Jtr[0] += ja * r, Jtr[1] += jb * r;
        }
        bool improved = false;
        for (int tries = 0; tries < 30 && !improved; tries++) {
            const double A = JtJ[0] * (1 + lambda), B = JtJ[1], D = JtJ[2] * (1 + lambda);
            const double det = A * D - B * B;
            if (!(std::fabs(det) > 0)) {
                lambda *= 10;
                continue;
            }
            const double da = -(D * Jtr[0] - B * Jtr[1]) / det, db = -(-B * Jtr[0] + A * Jtr[1]) / det;
            const double na = a + da, nb = b + db;
            const double nc = na > 0 && nb > 0 ? cost(na, nb) : std::numeric_limits<double>::infinity();
            if (nc < c) {
                const double rel = (c - nc) / std::max(c, 1e-300);
                a = na, b = nb, c = nc;
                lambda = std::max(lambda / 3, 1e-12);
                improved = true;
                if (rel < 1e-14) it = 1 << 30;  // converged
            } else {
                lambda *= 4;
            }
        }
        if (!improved) break;
    }
    *a_out = a;
    *b_out = b;
}

// ---- initial layout ----------------------------------------------------------------------------------------

namespace {
// y <- y - (y . u) u for unit u
void remove_component(std::vector<double>& y, const std::vector<double>& u) {
    double s = 0;
    for (size_t i = 0; i < y.size(); i++) s += y[i] * u[i];
    for (size_t i = 0; i < y.size(); i++) y[i] -= s * u[i];
}
bool normalise(std::vector<double>& y) {
    double s = 0;
    for (double v : y) s += v * v;
    if (!(s > 1e-300)) return false;
    const double inv = 1.0 / std::sqrt(s);
    for (double& v : y) v *= inv;
    return true;
}
void scale_to_box(std::vector<float>& Y, int64_t n, float box) {
    for (int c = 0; c < 2; c++) {
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        for (int64_t i = 0; i < n; i++) lo = std::min(lo, Y[(size_t)(2 * i + c)]), hi = std::max(hi, Y[(size_t)(2 * i + c)]);
        const float span = hi - lo > 0 ? hi - lo : 1.0f;
        for (int64_t i = 0; i < n; i++) Y[(size_t)(2 * i + c)] = box * (Y[(size_t)(2 * i + c)] - lo) / span;
    }
}
}  // namespace

std::vector<float> umap_init(const FuzzyGraph& g, const std::string& init, uint64_t seed) {
    const int64_t n = g.n;
    std::vector<float> Y((size_t)(2 * n));
    if (init == "random") {
        rng_fill_uniform(Y.data(), Y.size(), seed, kStreamInit, 0, -10.0f, 10.0f);
        scale_to_box(Y, n, 10.0f);
        return Y;
    }
    UNFOLD_CHECK(init == "spectral", "UMAP: unknown init '%s' (expected spectral or random)", init.c_str());
    // rows of the graph (edges are sorted by head)
    std::vector<int64_t> row((size_t)n + 1, 0);
    for (int32_t h : g.head) row[(size_t)h + 1]++;
    for (int64_t i = 0; i < n; i++) row[(size_t)i + 1] += row[(size_t)i];
    std::vector<double> deg((size_t)n, 0.0), dinv((size_t)n, 0.0);
    for (size_t e = 0; e < g.weight.size(); e++) deg[(size_t)g.head[e]] += g.weight[e];
    for (int64_t i = 0; i < n; i++) dinv[(size_t)i] = deg[(size_t)i] > 0 ? 1.0 / std::sqrt(deg[(size_t)i]) : 0.0;
    // the trivial eigenvector of the normalised adjacency D^-1/2 W D^-1/2 is sqrt(deg)
    std::vector<double> v0((size_t)n);
    for (int64_t i = 0; i < n; i++) v0[(size_t)i] = std::sqrt(deg[(size_t)i]);
    if (!normalise(v0)) v0.assign((size_t)n, 1.0 / std::sqrt((double)n));
    std::vector<double> V[2];
    for (int c = 0; c < 2; c++) {
        std::vector<float> r((size_t)n);
        rng_fill_normal(r.data(), r.size(), seed, kStreamInit, (uint64_t)(c * n), 0.0f, 1.0f);
        V[c].assign(r.begin(), r.end());
    }
    auto orthonormalise = [&]() {
        for (int c = 0; c < 2; c++) {
            remove_component(V[c], v0);
            if (c == 1) remove_component(V[1], V[0]);
            if (!normalise(V[c])) {  // degenerate: restart this column from noise
                std::vector<float> r((size_t)n);
                rng_fill_normal(r.data(), r.size(), seed, kStreamInit, (uint64_t)((2 + c) * n), 0.0f, 1.0f);
                V[c].assign(r.begin(), r.end());
                remove_component(V[c], v0);
                if (c == 1) remove_component(V[1], V[0]);
                normalise(V[c]);
            }
        }
    };
    orthonormalise();
    // subspace iteration with (I + N) / 2 (eigenvalues in [0, 1], same order as N's)
    const int iters = 300;
    std::vector<double> T[2] = {std::vector<double>((size_t)n), std::vector<double>((size_t)n)};
    for (int it = 0; it < iters; it++) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            double s0 = 0, s1 = 0;
            for (int64_t e = row[(size_t)i]; e < row[(size_t)i + 1]; e++) {
                const int32_t j = g.tail[(size_t)e];
                const double w = g.weight[(size_t)e] * dinv[(size_t)j];
                s0 += w * V[0][(size_t)j];
                s1 += w * V[1][(size_t)j];
            }
            T[0][(size_t)i] = 0.5 * (V[0][(size_t)i] + dinv[(size_t)i] * s0);
            T[1][(size_t)i] = 0.5 * (V[1][(size_t)i] + dinv[(size_t)i] * s1);
        }
        std::swap(V[0], T[0]);
        std::swap(V[1], T[1]);
        orthonormalise();
    }
    double mx = 0;
    for (int c = 0; c < 2; c++)
        for (double v : V[c]) mx = std::max(mx, std::fabs(v));
    const double expand = mx > 0 ? 10.0 / mx : 1.0;
    std::vector<float> noise((size_t)(2 * n));
    rng_fill_normal(noise.data(), noise.size(), seed, kStreamNoise, 0, 0.0f, 1e-4f);
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 2; c++)
            Y[(size_t)(2 * i + c)] = (float)(V[c][(size_t)i] * expand) + noise[(size_t)(2 * i + c)];
    scale_to_box(Y, n, 10.0f);
    return Y;
}

// ---- 3. the layout -----------------------------------------------------------------------------------------

void umap_optimize(const FuzzyGraph& g, std::vector<float>& Y, const UmapOptions& o, const Context& ctx) {
    const int64_t n = g.n;
    UNFOLD_CHECK((int64_t)Y.size() == 2 * n, "UMAP: layout holds %zu values, expected %lld", Y.size(),
                 (long long)(2 * n));
    UNFOLD_CHECK(o.negative_samples >= 0, "UMAP: negative samples must be >= 0, got %d", o.negative_samples);
    UNFOLD_CHECK(std::isfinite(o.learning_rate) && o.learning_rate > 0, "UMAP: learning rate must be > 0, got %g",
                 o.learning_rate);
    const int epochs = o.n_epochs > 0 ? o.n_epochs : (n <= 10000 ? 500 : 200);
    double ad, bd;
    umap_curve(o.min_dist, o.spread, &ad, &bd);
    const float a = (float)ad, b = (float)bd;
    float wmax = 0;
    for (float w : g.weight) wmax = std::max(wmax, w);
    if (!(wmax > 0)) return;
    // edges sampled at least once over the run; epochs_per_sample = wmax / w
    std::vector<int32_t> head, tail;
    std::vector<float> eps, next, eps_neg, next_neg;
    for (size_t e = 0; e < g.weight.size(); e++) {
        const float w = g.weight[e];
        if (!(w * (float)epochs >= wmax)) continue;
        head.push_back(g.head[e]);
        tail.push_back(g.tail[e]);
        const float s = wmax / w;
        eps.push_back(s);
        next.push_back(s);
        const float sn = o.negative_samples > 0 ? s / (float)o.negative_samples : 0.0f;
        eps_neg.push_back(sn);
        next_neg.push_back(sn);
    }
    const size_t E = head.size();
    Rng rng(o.seed, kStreamNegative);
    auto clip = [](float v) { return v > 4.0f ? 4.0f : (v < -4.0f ? -4.0f : v); };
    float* y = Y.data();
    Progress bar(ctx, "UMAP layout", epochs, "epoch");
    for (int ep = 0; ep < epochs; ep++) {
        if ((ep & 7) == 0) ctx.check_stop();
        const float alpha = (float)(o.learning_rate * (1.0 - (double)ep / epochs));
        const float fep = (float)ep;
        for (size_t e = 0; e < E; e++) {
            if (next[e] > fep) continue;
            const int64_t i = head[e], j = tail[e];
            float* yi = y + 2 * i;
            float* yj = y + 2 * j;
            float dx = yi[0] - yj[0], dy = yi[1] - yj[1];
            float d2 = dx * dx + dy * dy;
            if (d2 > 0.0f) {
                const float pb = std::pow(d2, b);
                const float coeff = (-2.0f * a * b * pb / d2) / (a * pb + 1.0f);
                const float gx = clip(coeff * dx) * alpha, gy = clip(coeff * dy) * alpha;
                yi[0] += gx, yi[1] += gy;
                yj[0] -= gx, yj[1] -= gy;
            }
            next[e] += eps[e];
            if (o.negative_samples > 0) {
                const int n_neg = (int)((fep - next_neg[e]) / eps_neg[e]);
                for (int q = 0; q < n_neg; q++) {
                    const int64_t kk = (int64_t)rng.below((uint64_t)n);
                    if (kk == i) continue;
                    const float* yk = y + 2 * kk;
                    dx = yi[0] - yk[0], dy = yi[1] - yk[1];
                    d2 = dx * dx + dy * dy;
                    if (!(d2 > 0.0f)) continue;  // the same position: no direction to push along
                    const float coeff = 2.0f * b / ((0.001f + d2) * (a * std::pow(d2, b) + 1.0f));
                    yi[0] += clip(coeff * dx) * alpha, yi[1] += clip(coeff * dy) * alpha;
                }
                next_neg[e] += (float)std::max(n_neg, 0) * eps_neg[e];
            }
        }
        bar.update(ep + 1);
    }
    bar.finish();
}

std::vector<float> umap_layout(const float* X, int64_t n, int64_t d, const UmapOptions& o, const Context& ctx,
                               UmapTimings* timings, KnnGraph* knn_out) {
    UNFOLD_CHECK(n >= 2, "UMAP: need at least 2 points, got %lld", (long long)n);
    UNFOLD_CHECK(o.n_neighbors >= 1, "UMAP: n_neighbors must be >= 1, got %d", o.n_neighbors);
    UNFOLD_CHECK(o.n_epochs >= 0, "UMAP: epochs must be >= 0, got %d", o.n_epochs);
    ThreadScope threads(ctx);
    UmapTimings tm;
    auto t = std::chrono::steady_clock::now();
    KnnOptions ko = o.knn;
    ko.seed = o.seed;
    const int k = (int)std::min<int64_t>(o.n_neighbors, n - 1);
    KnnGraph g = knn_cosine(X, n, d, k, ko, ctx);
    tm.knn_s = seconds_since(t);
    t = std::chrono::steady_clock::now();
    FuzzyGraph fg = fuzzy_simplicial_set(g);
    tm.graph_s = seconds_since(t);
    t = std::chrono::steady_clock::now();
    std::vector<float> Y = umap_init(fg, o.init, o.seed);
    tm.init_s = seconds_since(t);
    t = std::chrono::steady_clock::now();
    umap_optimize(fg, Y, o, ctx);
    tm.sgd_s = seconds_since(t);
    if (timings) *timings = tm;
    if (knn_out) *knn_out = std::move(g);
    return Y;
}

double neighbour_preservation(const std::vector<float>& Y, const std::vector<int64_t>& labels, int m) {
    const int64_t n = (int64_t)labels.size();
    UNFOLD_CHECK((int64_t)Y.size() == 2 * n, "neighbour preservation: %zu coordinates for %lld labels", Y.size(),
                 (long long)n);
    std::vector<int64_t> pts;
    for (int64_t i = 0; i < n; i++)
        if (labels[(size_t)i] >= 0) pts.push_back(i);
    const int64_t P = (int64_t)pts.size();
    UNFOLD_CHECK(m >= 1 && m < P, "neighbour preservation: m must be in 1..%lld, got %d", (long long)(P - 1), m);
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int64_t a = 0; a < P; a++) {
        const int64_t i = pts[(size_t)a];
        std::vector<std::pair<float, int64_t>> d;
        d.reserve((size_t)P);
        for (int64_t j : pts) {
            if (j == i) continue;
            const float dx = Y[(size_t)(2 * i)] - Y[(size_t)(2 * j)], dy = Y[(size_t)(2 * i + 1)] - Y[(size_t)(2 * j + 1)];
            d.push_back({dx * dx + dy * dy, j});
        }
        std::nth_element(d.begin(), d.begin() + (m - 1), d.end());
        int same = 0;
        for (int q = 0; q < m; q++) same += labels[(size_t)d[(size_t)q].second] == labels[(size_t)i];
        total += (double)same / m;
    }
    return total / (double)P;
}

}  // namespace unfold
