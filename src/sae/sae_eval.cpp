// sae_eval.cpp: streaming evaluation metrics and ground-truth matching (see sae_eval.h).
#include "unfold/sae/sae_eval.h"

#include <algorithm>
#include <cmath>

#include "unfold/core/blas.h"
#include "unfold/core/error.h"

namespace unfold {

static std::vector<float> unit_rows(const float* A, int64_t n, int64_t d) {
    std::vector<float> U((size_t)(n * d));
    for (int64_t i = 0; i < n; i++) {
        double n2 = 0;
        for (int64_t j = 0; j < d; j++) n2 += (double)A[i * d + j] * A[i * d + j];
        float inv = n2 > 0 ? (float)(1.0 / std::sqrt(n2)) : 0.0f;
        for (int64_t j = 0; j < d; j++) U[i * d + j] = A[i * d + j] * inv;
    }
    return U;
}

void max_cosine_rows(const float* A, int64_t nA, const float* Bm, int64_t nB, int64_t d, std::vector<float>& best,
                     std::vector<int64_t>* arg) {
    std::vector<float> Ua = unit_rows(A, nA, d), Ub = unit_rows(Bm, nB, d);
    best.assign((size_t)nA, -2.0f);
    if (arg) arg->assign((size_t)nA, -1);
    const int64_t blk = 1024;
    std::vector<float> C((size_t)(blk * nB));
    for (int64_t a0 = 0; a0 < nA; a0 += blk) {
        int64_t na = std::min(blk, nA - a0);
        matmul_bt(C.data(), Ua.data() + a0 * d, Ub.data(), na, d, nB, 0.0f);
        for (int64_t i = 0; i < na; i++)
            for (int64_t j = 0; j < nB; j++)
                if (C[i * nB + j] > best[a0 + i]) {
                    best[a0 + i] = C[i * nB + j];
                    if (arg) (*arg)[a0 + i] = j;
                }
    }
}

Json sae_ground_truth_metrics(const Sae& sae, const Tensor& G, double thr, const std::vector<uint8_t>* alive) {
    UNFOLD_CHECK(G.ndim() == 2 && G.dim(1) == sae.d(), "ground truth has shape %s, expected [n, %lld]",
                 shape_str(G.shape).c_str(), (long long)sae.d());
    const int64_t n = G.dim(0), F = sae.F(), d = sae.d();
    std::vector<float> best_true, best_lat;
    max_cosine_rows(G.ptr(), n, sae.W_dec(), F, d, best_true);
    max_cosine_rows(sae.W_dec(), F, G.ptr(), n, d, best_lat);
    double s = 0;
    int64_t rec = 0;
    for (float c : best_true) {
        s += c;
        rec += c > thr;
    }
    int64_t unmatched = 0, n_alive = 0;
    for (int64_t i = 0; i < F; i++) {
        if (alive && !(*alive)[i]) continue;
        n_alive++;
        unmatched += best_lat[i] <= thr;
    }
    Json j = Json::object();
    j["n_true"] = n;
    j["mmcs"] = n ? s / n : 0.0;
    j["match_cos"] = thr;
    j["frac_recovered"] = n ? (double)rec / n : 0.0;
    j["unmatched_latents"] = unmatched;
    j["alive_latents_considered"] = n_alive;
    return j;
}

Json sae_evaluate(const Sae& sae, ActivationSource& src, const SaeEvalOptions& opts, std::vector<float>* density_out) {
    const int64_t d = sae.d(), F = sae.F();
    UNFOLD_CHECK(src.dim() == d, "%s: rows have %lld values but the SAE expects d_in = %lld", src.describe().c_str(),
                 (long long)src.dim(), (long long)d);
    UNFOLD_CHECK(opts.tokens > 0 && opts.batch > 0, "eval needs tokens > 0 and batch > 0");
    std::vector<float> x, xh;
    std::vector<double> sum_x((size_t)d, 0.0);
    std::vector<int64_t> fires((size_t)F, 0);
    double sse = 0, sxx = 0, shh = 0, sxh = 0, l1 = 0, cos = 0;
    int64_t nnz = 0, N = 0;
    SparseCodes c;
    while (N < opts.tokens) {
        const int64_t B = std::min(opts.batch, opts.tokens - N);
        x.resize((size_t)(B * d));
        xh.resize((size_t)(B * d));
        src.next_batch(x.data(), B);
        for (int64_t i = 0; i < B * d; i++)
            if (!std::isfinite(x[i]))
                fail("%s: non-finite activation (NaN/Inf) at eval row %lld, column %lld", src.describe().c_str(),
                     (long long)(N + i / d), (long long)(i % d));
        sae_encode(sae, x.data(), B, c);
        sae_decode(sae, c, xh.data());
        for (int64_t b = 0; b < B; b++) {
            double e = 0, xx = 0, hh = 0, xhd = 0;
            for (int64_t j = 0; j < d; j++) {
                double xv = x[b * d + j], hv = xh[b * d + j];
                e += (xv - hv) * (xv - hv);
                xx += xv * xv;
                hh += hv * hv;
                xhd += xv * hv;
                sum_x[j] += xv;
            }
            sse += e;
            sxx += xx;
            shh += hh;
            sxh += xhd;
            cos += (xx > 0 && hh > 0) ? xhd / std::sqrt(xx * hh) : 0.0;
            for (int64_t p = c.off[b]; p < c.off[b + 1]; p++) {
                fires[c.idx[p]]++;
                l1 += c.val[p];
            }
            nnz += c.off[b + 1] - c.off[b];
        }
        N += B;
    }
    double m2 = 0;
    for (int64_t j = 0; j < d; j++) m2 += (sum_x[j] / N) * (sum_x[j] / N);
    const double var_total = sxx / N - m2;
    Json j = Json::object();
    j["tokens"] = N;
    j["mse"] = sse / N;
    j["fvu"] = var_total > 0 ? (sse / N) / var_total : 0.0;
    j["explained_variance"] = var_total > 0 ? 1.0 - (sse / N) / var_total : 0.0;
    j["l0"] = (double)nnz / N;
    j["l1"] = l1 / N;
    j["cossim"] = cos / N;
    j["shrinkage"] = sxh != 0 ? shh / sxh : 0.0;
    int64_t dead = 0, dense1 = 0, dense10 = 0;
    std::vector<float> dens((size_t)F);
    std::vector<int64_t> hist(20, 0);
    std::vector<uint8_t> alive((size_t)F);
    for (int64_t i = 0; i < F; i++) {
        double f = (double)fires[i] / N;
        dead += fires[i] == 0;
        alive[i] = fires[i] > 0;
        dense1 += f > 0.01;
        dense10 += f > 0.1;
        dens[i] = (float)std::log10(f + 1e-10);
        int bin = (int)std::floor((dens[i] + 10.0) / 0.5);
        hist[std::clamp(bin, 0, 19)]++;
    }
    j["dead_frac"] = (double)dead / F;
    j["dense_frac_1pct"] = (double)dense1 / F;
    j["dense_frac_10pct"] = (double)dense10 / F;
    Json h = Json::object();
    h["bin_edges_log10"] = Json::array();
    for (int b = 0; b <= 20; b++) h["bin_edges_log10"].push(-10.0 + 0.5 * b);
    h["counts"] = Json::array_of(hist);
    j["density_histogram"] = h;
    if (const Tensor* G = src.ground_truth()) j["ground_truth"] = sae_ground_truth_metrics(sae, *G, opts.match_cos, &alive);
    if (density_out) *density_out = dens;
    return j;
}

}  // namespace unfold
