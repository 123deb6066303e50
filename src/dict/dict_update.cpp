// dict_update.cpp: the dictionary step of online dictionary learning (Mairal et al. 2010, Algorithm 2):
// sufficient statistics with a forgetting factor, block coordinate descent over unit-norm atoms,
// and the quality measures (FVU, L0, MMCS).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/dict/dict.h"

namespace unfold {

void dict_normalize_rows(float* D, int64_t K, int64_t d) {
    for (int64_t j = 0; j < K; j++) {
        float* r = D + j * d;
        double s = 0;
        for (int64_t t = 0; t < d; t++) s += (double)r[t] * r[t];
        if (s <= 1e-30) {
            std::fill(r, r + d, 0.0f);
            r[0] = 1.0f;
            continue;
        }
        const float inv = (float)(1.0 / std::sqrt(s));
        for (int64_t t = 0; t < d; t++) r[t] *= inv;
    }
}

void dict_stats_update(DictStats& s, const float* C, const float* X, int64_t n) {
    const int64_t K = s.K, d = s.d;
    if (s.A.empty()) {
        s.A.assign((size_t)(K * K), 0.0f);
        s.B.assign((size_t)(K * d), 0.0f);
    }
    // forgetting factor (Mairal et al. 2010 §3.4.3, mini-batch form): past statistics are down-weighted so
    // that early codes, computed with a poor dictionary, fade out.
    s.batches++;
    const double t = (double)s.batches, eta = (double)n;
    const double theta = t < eta ? t * eta : eta * eta + t - eta;
    const float beta = (float)((theta + 1.0 - eta) / (theta + 1.0));
    const float inv_n = 1.0f / (float)std::max<int64_t>(n, 1);
    // A = beta A + C^T C / n ;  B = beta B + C^T X / n
    int64_t nnz = 0;
    for (int64_t i = 0; i < n * K; i++) nnz += C[i] != 0.0f;
    if (nnz * 8 > n * K) {  // dense codes: two GEMMs
        gemm(true, false, K, K, n, inv_n, C, K, C, K, beta, s.A.data(), K);
        gemm(true, false, K, d, n, inv_n, C, K, X, d, beta, s.B.data(), d);
        return;
    }
    // sparse codes (the usual case): sum of outer products over each row's nonzeros, O(n L0^2 + n L0 d)
    // instead of O(K^2 n)
    for (float& a : s.A) a *= beta;
    for (float& b : s.B) b *= beta;
    std::vector<int> idx((size_t)K);
    std::vector<float> val((size_t)K);
    for (int64_t r = 0; r < n; r++) {
        const float* c = C + r * K;
        int m = 0;
        for (int64_t k = 0; k < K; k++)
            if (c[k] != 0.0f) idx[(size_t)m] = (int)k, val[(size_t)m++] = c[k] * inv_n;
        const float* x = X + r * d;
        for (int p = 0; p < m; p++) {
            const float vp = val[(size_t)p];
            float* arow = s.A.data() + (int64_t)idx[(size_t)p] * K;
            for (int q = 0; q < m; q++) arow[idx[(size_t)q]] += vp * c[idx[(size_t)q]];
            float* brow = s.B.data() + (int64_t)idx[(size_t)p] * d;
            for (int64_t t = 0; t < d; t++) brow[t] += vp * x[t];
        }
    }
}

// Sequential BCD, blocked so that the bulk of the work is one GEMM per block of kBlock atoms: for atom j of a
// block starting at s0, sum_k A_jk D_k (with the current D) = P_j + sum_{k in block, k < j} A_jk (D_k - D0_k),
// where P = A[block, :] D is computed (GEMM) when the block starts and D0 are the block's atoms at that time.
// The result equals the plain one-atom-at-a-time sweep.
std::vector<int64_t> dict_bcd_update(float* D, const DictStats& s, int sweeps) {
    constexpr int64_t kBlock = 64;
    const int64_t K = s.K, d = s.d;
    UNFOLD_ASSERT(!s.A.empty());
    std::vector<int64_t> unused;
    std::vector<float> u((size_t)d), P((size_t)(kBlock * d)), D0((size_t)(kBlock * d));
    for (int sw = 0; sw < sweeps; sw++) {
        for (int64_t s0 = 0; s0 < K; s0 += kBlock) {
            const int64_t nb = std::min(kBlock, K - s0);
            gemm(false, false, nb, d, K, 1.0f, s.A.data() + s0 * K, K, D, d, 0.0f, P.data(), d);  // P = A_blk D
            std::memcpy(D0.data(), D + s0 * d, sizeof(float) * (size_t)(nb * d));
            for (int64_t jj = 0; jj < nb; jj++) {
                const int64_t j = s0 + jj;
                const float* a = s.A.data() + j * K;
                const float ajj = a[j];
                if (!(ajj > 1e-10f)) {
                    if (sw == 0) unused.push_back(j);
                    continue;
                }
                // u = D_j + (B_j - sum_k A_jk D_k) / A_jj
                const float* b = s.B.data() + j * d;
                const float* pj = P.data() + jj * d;
                for (int64_t t = 0; t < d; t++) u[(size_t)t] = b[t] - pj[t];
                for (int64_t kk = 0; kk < jj; kk++) {
                    const float akj = a[s0 + kk];
                    if (akj == 0.0f) continue;
                    const float* dk = D + (s0 + kk) * d;
                    const float* d0 = D0.data() + kk * d;
                    for (int64_t t = 0; t < d; t++) u[(size_t)t] -= akj * (dk[t] - d0[t]);
                }
                float* dj = D + j * d;
                double nrm = 0;
                const float inv = 1.0f / ajj;
                for (int64_t t = 0; t < d; t++) {
                    u[(size_t)t] = dj[t] + u[(size_t)t] * inv;
                    nrm += (double)u[(size_t)t] * u[(size_t)t];
                }
                if (nrm <= 1e-20) continue;  // degenerate: keep the old atom
                const float sc = (float)(1.0 / std::sqrt(nrm));
                for (int64_t t = 0; t < d; t++) dj[t] = u[(size_t)t] * sc;
            }
        }
    }
    return unused;
}

DictEval dict_evaluate(const float* D, int64_t K, int64_t d, const float* X, const float* C, int64_t n) {
    DictEval e;
    if (n == 0) return e;
    std::vector<float> Xh((size_t)(n * d));
    matmul(Xh.data(), C, D, n, K, d);
    std::vector<double> mean((size_t)d, 0.0);
    for (int64_t r = 0; r < n; r++)
        for (int64_t t = 0; t < d; t++) mean[(size_t)t] += X[r * d + t];
    for (auto& m : mean) m /= (double)n;
    double err = 0, var = 0;
    int64_t nnz = 0;
    for (int64_t r = 0; r < n; r++) {
        for (int64_t t = 0; t < d; t++) {
            const double x = X[r * d + t];
            const double dx = x - Xh[(size_t)(r * d + t)];
            err += dx * dx;
            var += (x - mean[(size_t)t]) * (x - mean[(size_t)t]);
        }
        for (int64_t k = 0; k < K; k++) nnz += C[r * K + k] != 0.0f;
    }
    e.fvu = var > 0 ? err / var : 0.0;
    e.mse = err / (double)n;
    e.l0 = (double)nnz / (double)n;
    return e;
}

double dict_mmcs(const float* G, int64_t n_true, const float* D, int64_t K, int64_t d) {
    std::vector<float> Dn(D, D + K * d);
    dict_normalize_rows(Dn.data(), K, d);
    std::vector<float> S((size_t)(n_true * K));
    matmul_bt(S.data(), G, Dn.data(), n_true, d, K);
    double sum = 0;
    for (int64_t i = 0; i < n_true; i++) {
        float best = 0;
        for (int64_t k = 0; k < K; k++) best = std::max(best, std::fabs(S[(size_t)(i * K + k)]));
        sum += best;
    }
    return n_true ? sum / (double)n_true : 0.0;
}

}  // namespace unfold
