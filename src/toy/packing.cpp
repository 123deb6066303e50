// packing.cpp: random and optimised almost-orthogonal packings and their bounds (see packing.h).
#include "unfold/toy/packing.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "unfold/core/error.h"
#include "unfold/core/rng.h"

namespace unfold {

static void normalize_rows(std::vector<double>& V, int N, int m) {
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int a = 0; a < m; a++) s += V[(size_t)i * m + a] * V[(size_t)i * m + a];
        s = std::sqrt(s);
        if (s < 1e-300) {
            V[(size_t)i * m] = 1.0;
            continue;
        }
        for (int a = 0; a < m; a++) V[(size_t)i * m + a] /= s;
    }
}

static void random_unit(Rng& rng, int m, double* v) {
    double s = 0;
    do {
        s = 0;
        for (int a = 0; a < m; a++) {
            v[a] = rng.normal();
            s += v[a] * v[a];
        }
    } while (s < 1e-20);
    s = std::sqrt(s);
    for (int a = 0; a < m; a++) v[a] /= s;
}

PackingStats packing_stats(const std::vector<double>& V_in, int N, int m) {
    std::vector<double> V = V_in;
    normalize_rows(V, N, m);
    PackingStats st;
    st.count = N;
    double sum = 0;
    int64_t pairs = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            double c = 0;
            for (int a = 0; a < m; a++) c += V[(size_t)i * m + a] * V[(size_t)j * m + a];
            st.max_abs_cos = std::max(st.max_abs_cos, std::fabs(c));
            sum += c * c;
            pairs++;
        }
    st.mean_sq_cos = pairs ? sum / pairs : 0.0;
    return st;
}

PackingStats packing_random(int m, double eps, uint64_t seed, int patience, int max_count, std::vector<double>* out) {
    UNFOLD_CHECK(m >= 1 && eps > 0 && eps < 1, "packing: need m >= 1 and 0 < eps < 1 (got m=%d eps=%g)", m, eps);
    Rng rng(seed, 0x9ac1);
    std::vector<double> kept, v(m);
    int count = 0, fails = 0;
    while (count < max_count && fails < patience) {
        random_unit(rng, m, v.data());
        bool ok = true;
        for (int i = 0; i < count && ok; i++) {
            double c = 0;
            for (int a = 0; a < m; a++) c += kept[(size_t)i * m + a] * v[a];
            if (std::fabs(c) >= eps) ok = false;
        }
        if (ok) {
            kept.insert(kept.end(), v.begin(), v.end());
            count++;
            fails = 0;
        } else {
            fails++;
        }
    }
    if (out) *out = kept;
    return packing_stats(kept, count, m);
}

PackingStats packing_optimize_n(int N, int m, double eps, uint64_t seed, int steps, std::vector<double>* out) {
    UNFOLD_CHECK(N >= 1 && m >= 1, "packing: need N, m >= 1");
    Rng rng(seed, 0x0b71 + (uint64_t)N);
    std::vector<double> V((size_t)N * m), G((size_t)N * m);
    for (int i = 0; i < N; i++) random_unit(rng, m, &V[(size_t)i * m]);
    // loss = sum_{i<j} relu(|c_ij| - target)^2 + frame_w * c_ij^2: the hinge removes violations, the small
    // frame-potential term spreads the vectors evenly so the hinge has room to work.
    const double target = eps * 0.97, frame_w = 0.02;
    for (int step = 0; step < steps; step++) {
        std::fill(G.begin(), G.end(), 0.0);
        double worst = 0;
        for (int i = 0; i < N; i++)
            for (int j = i + 1; j < N; j++) {
                const double* vi = &V[(size_t)i * m];
                const double* vj = &V[(size_t)j * m];
                double c = 0;
                for (int a = 0; a < m; a++) c += vi[a] * vj[a];
                double ac = std::fabs(c);
                worst = std::max(worst, ac);
                double g = 2 * frame_w * c;  // d/dc
                if (ac > target) g += 2 * (ac - target) * (c > 0 ? 1.0 : -1.0);
                for (int a = 0; a < m; a++) {
                    G[(size_t)i * m + a] += g * vj[a];
                    G[(size_t)j * m + a] += g * vi[a];
                }
            }
        if (worst < target) break;
        // Riemannian step: drop the radial part of the gradient, step, renormalise; the step size decays.
        double lr = 0.15 * (1.0 - 0.7 * step / (double)steps);
        for (int i = 0; i < N; i++) {
            double* v = &V[(size_t)i * m];
            double* g = &G[(size_t)i * m];
            double r = 0;
            for (int a = 0; a < m; a++) r += g[a] * v[a];
            for (int a = 0; a < m; a++) v[a] -= lr * (g[a] - r * v[a]);
        }
        normalize_rows(V, N, m);
    }
    if (out) *out = V;
    return packing_stats(V, N, m);
}

PackingStats packing_optimized(int m, double eps, uint64_t seed, int start, int steps, int max_count) {
    int N = std::max(1, start);
    PackingStats best = packing_optimize_n(N, m, eps, seed, steps);
    if (best.max_abs_cos >= eps) {
        // even `start` failed: shrink until it works
        while (N > 1 && best.max_abs_cos >= eps) best = packing_optimize_n(--N, m, eps, seed, steps);
        return best;
    }
    while (N < max_count) {
        int next = std::min(max_count, std::max(N + 1, (int)std::ceil(N * 1.08)));
        PackingStats st = packing_optimize_n(next, m, eps, seed, steps);
        if (st.max_abs_cos >= eps) break;
        best = st;
        N = next;
    }
    return best;
}

double packing_jl_bound(int m, double eps) { return std::exp(m * eps * eps / 4.0); }

double packing_welch_bound(int m, double eps) {
    double d = 1 - m * eps * eps;
    if (d <= 0) return std::numeric_limits<double>::infinity();
    return m * (1 - eps * eps) / d;
}

double welch_mean_sq_cos(int N, int m) { return N <= m ? 0.0 : (double)(N - m) / ((double)m * (N - 1)); }

}  // namespace unfold
