// analysis.cpp: feature norms, dimensionality, the Jacobi eigen solver, the superposition rank test and the
// neuron view (see analysis.h).
#include "unfold/toy/analysis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "unfold/core/error.h"

namespace unfold {

std::vector<double> gram_matrix(const float* W, int m, int n) {
    std::vector<double> G((size_t)n * n, 0.0);
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double s = 0;
            for (int r = 0; r < m; r++) s += (double)W[(size_t)r * n + i] * W[(size_t)r * n + j];
            G[(size_t)i * n + j] = G[(size_t)j * n + i] = s;
        }
    return G;
}

std::vector<double> cosine_matrix(const float* W, int m, int n) {
    std::vector<double> G = gram_matrix(W, m, n), C((size_t)n * n, 0.0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double d = std::sqrt(G[(size_t)i * n + i] * G[(size_t)j * n + j]);
            C[(size_t)i * n + j] = d > 1e-12 ? G[(size_t)i * n + j] / d : 0.0;
        }
    return C;
}

ToyFeatureStats feature_stats(const float* W, int m, int n) {
    UNFOLD_CHECK(m > 0 && n > 0, "feature_stats: empty W [%d, %d]", m, n);
    ToyFeatureStats s;
    s.m = m;
    s.n = n;
    std::vector<double> G = gram_matrix(W, m, n);
    s.norm.resize(n);
    s.polysemanticity.resize(n);
    s.dimensionality.resize(n);
    for (int i = 0; i < n; i++) s.norm[i] = std::sqrt(G[(size_t)i * n + i]);
    for (int i = 0; i < n; i++) {
        double ni = s.norm[i];
        double off = 0, all = 0;
        for (int j = 0; j < n; j++) {
            // (W^_i . W_j)^2 with the notebook's epsilons
            double c = G[(size_t)i * n + j] / (1e-5 + ni);
            if (j != i) off += c * c;
            double c6 = G[(size_t)i * n + j] / std::max(ni, 1e-6);
            all += c6 * c6;
        }
        s.polysemanticity[i] = std::sqrt(off);
        s.dimensionality[i] = all > 1e-20 ? G[(size_t)i * n + i] / all : 0.0;
        s.frob2 += G[(size_t)i * n + i];
        s.sum_dimensionality += s.dimensionality[i];
    }
    s.dims_per_feature = s.frob2 > 0 ? m / s.frob2 : std::numeric_limits<double>::infinity();
    return s;
}

void jacobi_eigen(const std::vector<double>& A_in, int k, std::vector<double>& evals, std::vector<double>* evecs,
                  int max_sweeps) {
    UNFOLD_ASSERT((int64_t)A_in.size() == (int64_t)k * k);
    std::vector<double> A = A_in, V((size_t)k * k, 0.0);
    for (int i = 0; i < k; i++) V[(size_t)i * k + i] = 1.0;
    auto a = [&](int i, int j) -> double& { return A[(size_t)i * k + j]; };
    double scale = 0;
    for (double x : A) scale += x * x;
    for (int sweep = 0; sweep < max_sweeps; sweep++) {
        double off = 0;
        for (int i = 0; i < k; i++)
            for (int j = i + 1; j < k; j++) off += a(i, j) * a(i, j);
        if (off <= 1e-30 * std::max(scale, 1e-300)) break;
        for (int p = 0; p < k; p++)
            for (int q = p + 1; q < k; q++) {
                double apq = a(p, q);
                if (std::fabs(apq) < 1e-300) continue;
                // rotation angle that zeroes A[p][q] (Golub & Van Loan, symmetric Schur)
                double tau = (a(q, q) - a(p, p)) / (2 * apq);
                double t = (tau >= 0 ? 1.0 : -1.0) / (std::fabs(tau) + std::sqrt(1 + tau * tau));
                double c = 1 / std::sqrt(1 + t * t), s = t * c;
                for (int r = 0; r < k; r++) {  // A <- A J (columns p, q)
                    double arp = a(r, p), arq = a(r, q);
                    a(r, p) = c * arp - s * arq;
                    a(r, q) = s * arp + c * arq;
                }
                for (int r = 0; r < k; r++) {  // A <- J^T A (rows p, q)
                    double apr = a(p, r), aqr = a(q, r);
                    a(p, r) = c * apr - s * aqr;
                    a(q, r) = s * apr + c * aqr;
                }
                for (int r = 0; r < k; r++) {
                    double vrp = V[(size_t)r * k + p], vrq = V[(size_t)r * k + q];
                    V[(size_t)r * k + p] = c * vrp - s * vrq;
                    V[(size_t)r * k + q] = s * vrp + c * vrq;
                }
            }
    }
    std::vector<int> order(k);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int x, int y) { return a(x, x) > a(y, y); });
    evals.resize(k);
    for (int i = 0; i < k; i++) evals[i] = a(order[i], order[i]);
    if (evecs) {
        evecs->assign((size_t)k * k, 0.0);
        for (int r = 0; r < k; r++)
            for (int i = 0; i < k; i++) (*evecs)[(size_t)r * k + i] = V[(size_t)r * k + order[i]];
    }
}

SuperpositionTest superposition_test(const float* W, int m, int n, double norm_threshold, double rel_tol) {
    SuperpositionTest t;
    std::vector<double> G = gram_matrix(W, m, n);
    for (int i = 0; i < n; i++)
        if (std::sqrt(G[(size_t)i * n + i]) > norm_threshold) t.represented.push_back(i);
    int k = (int)t.represented.size();
    if (k == 0) {
        t.invertible = true;  // the empty Gram matrix: nothing is represented, nothing is superposed
        return t;
    }
    std::vector<double> R((size_t)k * k);
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) R[(size_t)a * k + b] = G[(size_t)t.represented[a] * n + t.represented[b]];
    jacobi_eigen(R, k, t.eigenvalues);
    double lmax = t.eigenvalues.front();
    for (double e : t.eigenvalues)
        if (e > rel_tol * lmax) t.rank++;
    double lmin = t.eigenvalues.back();
    t.condition = lmin > 0 ? lmax / lmin : std::numeric_limits<double>::infinity();
    t.invertible = t.rank == k;
    t.superposition = !t.invertible;
    return t;
}

std::vector<NeuronInfo> neuron_view(const float* W, int m, int n, double share, double dead_threshold) {
    std::vector<NeuronInfo> out(m);
    for (int j = 0; j < m; j++) {
        const float* row = W + (size_t)j * n;
        double mx = 0, ss = 0;
        for (int i = 0; i < n; i++) {
            mx = std::max(mx, (double)std::fabs(row[i]));
            ss += (double)row[i] * row[i];
        }
        NeuronInfo& ni = out[j];
        ni.norm = std::sqrt(ss);
        ni.dead = mx < dead_threshold;
        if (!ni.dead) {
            for (int i = 0; i < n; i++)
                if (std::fabs(row[i]) >= share * mx) ni.features.push_back(i);
            std::sort(ni.features.begin(), ni.features.end(),
                      [&](int a, int b) { return std::fabs(row[a]) > std::fabs(row[b]); });
        }
        ni.monosemantic = ni.features.size() == 1;
    }
    return out;
}

std::vector<double> principal_plane(const float* W, int m, int n) {
    std::vector<double> P(2 * (size_t)m, 0.0);
    if (m <= 2) {
        for (int r = 0; r < m; r++) P[(size_t)r * m + r] = 1.0;
        return P;
    }
    std::vector<double> C((size_t)m * m, 0.0);  // W W^T
    for (int a = 0; a < m; a++)
        for (int b = 0; b < m; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += (double)W[(size_t)a * n + i] * W[(size_t)b * n + i];
            C[(size_t)a * m + b] = s;
        }
    std::vector<double> e, V;
    jacobi_eigen(C, m, e, &V);
    for (int r = 0; r < 2; r++)
        for (int a = 0; a < m; a++) P[(size_t)r * m + a] = V[(size_t)a * m + r];
    return P;
}

}  // namespace unfold
