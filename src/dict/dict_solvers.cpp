// dict_solvers.cpp: sparse codes for a fixed dictionary in Gram form: FISTA and coordinate-descent lasso,
// batch OMP with Cholesky updates, and the power iteration for FISTA's step size. See dict.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/dict/dict.h"

namespace unfold {

const char* dict_solver_name(DictSolver s) {
    switch (s) {
        case DictSolver::FISTA: return "fista";
        case DictSolver::CD: return "cd";
        case DictSolver::OMP: return "omp";
    }
    return "?";
}

DictSolver parse_dict_solver(const std::string& s) {
    if (s == "fista") return DictSolver::FISTA;
    if (s == "cd") return DictSolver::CD;
    if (s == "omp") return DictSolver::OMP;
    fail("unknown solver '%s' (expected fista, cd or omp)", s.c_str());
}

float gram_max_eig(const float* G, int64_t K, int iters, float* v_io) {
    std::vector<double> v((size_t)K), w((size_t)K);
    bool warm = false;
    if (v_io) {
        double s = 0;
        for (int64_t i = 0; i < K; i++) s += (double)v_io[i] * v_io[i];
        warm = s > 0 && std::isfinite(s);
        if (warm)
            for (int64_t i = 0; i < K; i++) v[(size_t)i] = v_io[i] / std::sqrt(s);
    }
    if (!warm)
        for (int64_t i = 0; i < K; i++) v[(size_t)i] = 1.0 / std::sqrt((double)K) * (1.0 + 0.01 * (double)(i % 7));
    double lam = 0;
    for (int it = 0; it < iters; it++) {
        for (int64_t i = 0; i < K; i++) {
            const float* g = G + i * K;
            double s = 0;
            for (int64_t j = 0; j < K; j++) s += (double)g[j] * v[(size_t)j];
            w[(size_t)i] = s;
        }
        double nrm = 0, rq = 0;
        for (int64_t i = 0; i < K; i++) nrm += w[(size_t)i] * w[(size_t)i], rq += w[(size_t)i] * v[(size_t)i];
        nrm = std::sqrt(nrm);
        if (nrm <= 0) return 0.0f;
        for (int64_t i = 0; i < K; i++) v[(size_t)i] = w[(size_t)i] / nrm;
        const double prev = lam;
        lam = nrm;  // ||G v|| with ||v|| = 1 converges to the top eigenvalue from below
        (void)rq;
        if (it > 3 && std::fabs(lam - prev) <= 1e-7 * lam) break;
    }
    if (v_io)
        for (int64_t i = 0; i < K; i++) v_io[i] = (float)v[(size_t)i];
    return (float)lam;
}

namespace {

// y += a x (restrict: lets the compiler vectorise; the callers never alias x and y)
inline void axpy(float a, const float* __restrict x, float* __restrict y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

inline float soft(float v, float thr, bool positive) {
    if (positive) return v > thr ? v - thr : 0.0f;
    return v > thr ? v - thr : (v < -thr ? v + thr : 0.0f);
}

// FISTA with adaptive restart on a small dense lasso: min_c 1/2 c^T Gw c - bw^T c + alpha ||c||_1 over m
// coordinates, warm-started from cw, step 1/Lw. Returns iterations.
int fista_dense(const float* Gw, const float* bw, int m, float Lw, const CodeOptions& o, int max_iter, float* cw,
                float* y, float* gy, float* cn) {
    const float invL = 1.0f / Lw, thr = o.alpha / Lw;
    std::copy(cw, cw + m, y);
    float t = 1.0f;
    int it = 0;
    while (it < max_iter) {
        it++;
        for (int i = 0; i < m; i++) gy[i] = 0.0f;
        for (int j = 0; j < m; j++)
            if (y[j] != 0.0f) axpy(y[j], Gw + (int64_t)j * m, gy, m);
        float maxdiff = 0.0f, maxabs = 0.0f, restart = 0.0f;
        for (int i = 0; i < m; i++) {
            const float nc = soft(y[i] - (gy[i] - bw[i]) * invL, thr, o.positive);
            cn[i] = nc;
            const float dlt = nc - cw[i];
            restart += (y[i] - nc) * dlt;
            maxdiff = std::max(maxdiff, std::fabs(dlt));
            maxabs = std::max(maxabs, std::fabs(nc));
        }
        float tn = 0.5f * (1.0f + std::sqrt(1.0f + 4.0f * t * t));
        float mom = (t - 1.0f) / tn;
        if (restart > 0.0f) {  // the momentum points uphill: restart (O'Donoghue & Candes 2015)
            tn = 1.0f;
            mom = 0.0f;
        }
        for (int i = 0; i < m; i++) {
            y[i] = cn[i] + mom * (cn[i] - cw[i]);
            cw[i] = cn[i];
        }
        t = tn;
        if (maxdiff <= o.tol * std::max(1.0f, maxabs)) break;
    }
    return it;
}

// Scratch for one FISTA sample.
struct FistaWork {
    std::vector<float> grad, Gw, bw, cw, y, gy, cn, viol;
    std::vector<int> W, order;
    explicit FistaWork(int64_t K)
        : grad((size_t)K), Gw((size_t)(K * K)), bw((size_t)K), cw((size_t)K), y((size_t)K), gy((size_t)K),
          cn((size_t)K), viol((size_t)K), W((size_t)K), order((size_t)K) {}
};

// One sample of working-set FISTA: the lasso over all K atoms is solved by FISTA on a growing working set W
// (the support plus the worst KKT violators, at most kGrow added per round, copied into a dense G_WW whose
// Lipschitz bound max_i sum_j |G_ij| (Gershgorin) is far below the full L). The full gradient G c - b then
// checks the KKT conditions of the whole problem; the solve ends when no zero coordinate violates them.
// Each restricted solve is plain FISTA, so the fixed point is the lasso solution. Returns FISTA iterations.
int fista_one(const float* G, const float* b, int64_t K, float L, const CodeOptions& o, float* c, FistaWork& w) {
    constexpr int kGrow = 8;
    std::fill(c, c + K, 0.0f);
    int total = 0, nw = 0;
    const float slack = o.alpha * (1.0f + 1e-3f) + 1e-7f;
    for (int round = 0; round < 1000 && total < o.max_iter; round++) {
        // full gradient at c: grad = G c - b (G symmetric: rows of the support)
        std::copy(b, b + K, w.grad.begin());
        for (int64_t i = 0; i < K; i++) w.grad[(size_t)i] = -b[i];
        for (int q = 0; q < nw; q++)
            if (c[w.W[(size_t)q]] != 0.0f) axpy(c[w.W[(size_t)q]], G + (int64_t)w.W[(size_t)q] * K, w.grad.data(), K);
        // KKT violators among coordinates outside the working set
        int nv = 0;
        for (int64_t i = 0; i < K; i++) {
            if (c[i] != 0.0f) continue;
            const float g = w.grad[(size_t)i];
            const float v = o.positive ? -g : std::fabs(g);
            if (v > slack) {
                bool inW = false;
                for (int q = 0; q < nw && !inW; q++) inW = w.W[(size_t)q] == (int)i;
                if (inW) continue;
                w.viol[(size_t)nv] = v;
                w.order[(size_t)nv++] = (int)i;
            }
        }
        if (nv == 0) break;  // KKT holds everywhere: the restricted solution is the lasso solution
        // drop zero coordinates from W, then add the kGrow worst violators
        int keep = 0;
        for (int q = 0; q < nw; q++)
            if (c[w.W[(size_t)q]] != 0.0f) w.W[(size_t)keep++] = w.W[(size_t)q];
        nw = keep;
        const int add = std::min(nv, kGrow);
        std::vector<int> idx(w.order.begin(), w.order.begin() + nv);
        std::partial_sort(idx.begin(), idx.begin() + add, idx.end(), [&](int a_, int b_) {
            const float va = o.positive ? -w.grad[(size_t)a_] : std::fabs(w.grad[(size_t)a_]);
            const float vb = o.positive ? -w.grad[(size_t)b_] : std::fabs(w.grad[(size_t)b_]);
            return va > vb || (va == vb && a_ < b_);
        });
        for (int q = 0; q < add; q++) w.W[(size_t)nw++] = idx[(size_t)q];
        std::sort(w.W.begin(), w.W.begin() + nw);
        // dense restricted problem
        float Lw = 0.0f;
        for (int p = 0; p < nw; p++) {
            const float* g = G + (int64_t)w.W[(size_t)p] * K;
            float rs = 0.0f;
            for (int q = 0; q < nw; q++) {
                const float v = g[w.W[(size_t)q]];
                w.Gw[(size_t)(p * nw + q)] = v;
                rs += std::fabs(v);
            }
            Lw = std::max(Lw, rs);
            w.bw[(size_t)p] = b[w.W[(size_t)p]];
            w.cw[(size_t)p] = c[w.W[(size_t)p]];
        }
        Lw = std::min(Lw, L);
        if (!(Lw > 0.0f)) break;
        total += fista_dense(w.Gw.data(), w.bw.data(), nw, Lw, o, std::max(1, o.max_iter - total), w.cw.data(),
                             w.y.data(), w.gy.data(), w.cn.data());
        for (int p = 0; p < nw; p++) c[w.W[(size_t)p]] = w.cw[(size_t)p];
    }
    return total;
}

// One sample of cyclic coordinate descent (active-set sweeps between full sweeps). Returns full+active sweeps.
int cd_one(const float* G, const float* b, int64_t K, const CodeOptions& o, float* c, float* q, int* act) {
    std::fill(c, c + K, 0.0f);
    std::fill(q, q + K, 0.0f);  // q = G c
    int sweeps = 0, since_full = 0, na = 0;
    bool full = true;
    while (sweeps < o.max_iter) {
        sweeps++;
        since_full = full ? 0 : since_full + 1;
        float maxdiff = 0.0f, maxabs = 0.0f;
        if (full || since_full == 1) {  // the active list: rebuilt on full sweeps and right after them
            na = 0;
            for (int64_t j = 0; j < K; j++)
                if (c[j] != 0.0f) act[na++] = (int)j;
        }
        if (full && sweeps > 1) {  // recompute q = G c exactly so float drift never accumulates
            std::fill(q, q + K, 0.0f);
            for (int s = 0; s < na; s++) {
                const float cj = c[act[s]];
                const float* g = G + (int64_t)act[s] * K;
                axpy(cj, g, q, K);
            }
        }
        const int64_t cnt = full ? K : na;
        for (int64_t s = 0; s < cnt; s++) {
            const int64_t j = full ? s : act[s];
            const float* g = G + j * K;
            const float gjj = g[j];
            if (gjj <= 0.0f) continue;
            const float rho = b[j] - (q[j] - gjj * c[j]);
            const float nc = soft(rho, o.alpha, o.positive) / gjj;
            const float dlt = nc - c[j];
            if (dlt != 0.0f) {
                if (full) {
                    axpy(dlt, g, q, K);
                } else {  // active sweeps only read q on the active set; the next full sweep recomputes it
                    for (int t = 0; t < na; t++) q[act[t]] += dlt * g[act[t]];
                }
                c[j] = nc;
                maxdiff = std::max(maxdiff, std::fabs(dlt));
            }
            maxabs = std::max(maxabs, std::fabs(nc));
        }
        const bool conv = maxdiff <= o.tol * std::max(1.0f, maxabs);
        if (conv && full) break;  // a full sweep changed nothing: done
        // converged on the active set (or float rounding keeps it from converging): check with a full sweep
        full = conv || since_full >= 8;
    }
    return sweeps;
}

// One sample of batch OMP. Returns the number of atoms selected.
int omp_one(const float* G, const float* b, float xx, int64_t K, const CodeOptions& o, float* c, float* alpha,
            double* Lm, double* w, double* z, int* idx, uint8_t* used) {
    const int kmax = (int)std::min<int64_t>(o.k, K);
    std::memcpy(alpha, b, sizeof(float) * (size_t)K);
    std::fill(used, used + K, 0);
    std::fill(c, c + K, 0.0f);
    int s = 0;
    for (; s < kmax; s++) {
        int64_t j = -1;
        float best = 0.0f;
        for (int64_t i = 0; i < K; i++) {
            const float a = std::fabs(alpha[i]);
            if (!used[i] && a > best) best = a, j = i;
        }
        if (j < 0 || best <= 1e-12f) break;
        const float* gj = G + j * K;
        // Cholesky of G_II extended by atom j: L w = G_{I,j}, new diagonal sqrt(G_jj - w.w)
        double ww = 0;
        for (int r = 0; r < s; r++) {
            double v = gj[idx[r]];
            for (int q = 0; q < r; q++) v -= Lm[r * kmax + q] * w[q];
            w[r] = v / Lm[r * kmax + r];
            ww += w[r] * w[r];
        }
        const double diag = (double)gj[j] - ww;
        if (diag <= 1e-9 * std::max(1.0, (double)gj[j])) break;  // atom (numerically) in span of the chosen ones
        for (int q = 0; q < s; q++) Lm[s * kmax + q] = w[q];
        Lm[s * kmax + s] = std::sqrt(diag);
        idx[s] = (int)j;
        used[j] = 1;
        const int ns = s + 1;
        // solve L L^T cI = b_I
        for (int r = 0; r < ns; r++) {
            double v = b[idx[r]];
            for (int q = 0; q < r; q++) v -= Lm[r * kmax + q] * z[q];
            z[r] = v / Lm[r * kmax + r];
        }
        for (int r = ns - 1; r >= 0; r--) {
            double v = z[r];
            for (int q = r + 1; q < ns; q++) v -= Lm[q * kmax + r] * w[q];
            w[r] = v / Lm[r * kmax + r];
        }
        // alpha = b - G[:, I] cI ;  ||r||^2 = ||x||^2 - b_I . cI
        std::memcpy(alpha, b, sizeof(float) * (size_t)K);
        double energy = 0;
        for (int r = 0; r < ns; r++) {
            const float cr = (float)w[r];
            const float* g = G + (int64_t)idx[r] * K;
            axpy(-cr, g, alpha, K);
            energy += (double)b[idx[r]] * w[r];
        }
        for (int r = 0; r < ns; r++) c[idx[r]] = (float)w[r];
        if (xx > 0.0f && (double)xx - energy <= (double)o.omp_tol * xx) {
            s++;
            break;
        }
    }
    return s;
}

}  // namespace

double fista_codes(const float* G, const float* Bc, int64_t n, int64_t K, float L, const CodeOptions& o, float* C) {
    UNFOLD_CHECK(L > 0 && std::isfinite(L), "fista: bad Lipschitz constant %g", (double)L);
    int64_t total = 0;
#pragma omp parallel reduction(+ : total)
    {
        FistaWork w(K);
#pragma omp for schedule(dynamic, 16)
        for (int64_t r = 0; r < n; r++) total += fista_one(G, Bc + r * K, K, L, o, C + r * K, w);
    }
    return n ? (double)total / (double)n : 0.0;
}

double cd_codes(const float* G, const float* Bc, int64_t n, int64_t K, const CodeOptions& o, float* C) {
    int64_t total = 0;
#pragma omp parallel reduction(+ : total)
    {
        std::vector<float> q((size_t)K);
        std::vector<int> act((size_t)K);
#pragma omp for schedule(dynamic, 16)
        for (int64_t r = 0; r < n; r++) total += cd_one(G, Bc + r * K, K, o, C + r * K, q.data(), act.data());
    }
    return n ? (double)total / (double)n : 0.0;
}

double omp_codes(const float* G, const float* Bc, const float* xx, int64_t n, int64_t K, const CodeOptions& o,
                 float* C) {
    UNFOLD_CHECK(o.k >= 1, "omp: k must be >= 1");
    const int kmax = (int)std::min<int64_t>(o.k, K);
    int64_t total = 0;
#pragma omp parallel reduction(+ : total)
    {
        std::vector<float> alpha((size_t)K);
        std::vector<double> Lm((size_t)kmax * kmax), w((size_t)kmax), z((size_t)kmax);
        std::vector<int> idx((size_t)kmax);
        std::vector<uint8_t> used((size_t)K);
#pragma omp for schedule(dynamic, 16)
        for (int64_t r = 0; r < n; r++)
            total += omp_one(G, Bc + r * K, xx ? xx[r] : 0.0f, K, o, C + r * K, alpha.data(), Lm.data(), w.data(),
                             z.data(), idx.data(), used.data());
    }
    return n ? (double)total / (double)n : 0.0;
}

double sparse_encode(const float* D, int64_t K, int64_t d, const float* X, int64_t n, const CodeOptions& o,
                     float* C) {
    std::vector<float> G((size_t)(K * K)), Bc((size_t)(n * K));
    matmul_bt(G.data(), D, D, K, d, K);
    matmul_bt(Bc.data(), X, D, n, d, K);
    switch (o.solver) {
        case DictSolver::FISTA: {
            const float L = gram_max_eig(G.data(), K, 300) * 1.05f;
            return fista_codes(G.data(), Bc.data(), n, K, L, o, C);
        }
        case DictSolver::CD: return cd_codes(G.data(), Bc.data(), n, K, o, C);
        case DictSolver::OMP: {
            std::vector<float> xx((size_t)n);
            for (int64_t r = 0; r < n; r++) {
                double s = 0;
                for (int64_t j = 0; j < d; j++) s += (double)X[r * d + j] * X[r * d + j];
                xx[(size_t)r] = (float)s;
            }
            return omp_codes(G.data(), Bc.data(), xx.data(), n, K, o, C);
        }
    }
    return 0;
}

}  // namespace unfold
