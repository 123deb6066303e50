// sae_forward.cpp: the training forward pass and hand-written backward of every SAE architecture.
//
//   STANDARD  f = relu(pre)                      loss = mse + l1 * mean_b sum_i f_i ||W_dec_i||
//   TOPK      f = relu(top-k of pre per row)     loss = mse + aux_coef * AuxK
//   BATCHTOPK f = relu(top-(k*B) over the batch) loss = mse + aux_coef * AuxK
//   JUMPRELU  f = pre * H(pre - theta)           loss = mse + l0 * mean_b sum_i H(pre_i - theta_i)
//   GATED     see sae_gated.cpp (called from sae_forward_backward)
// mse = mean_b ||x - xhat||^2. AuxK (Gao et al. 2024): e = x - xhat (detached); the k_aux largest
// pre-activations among dead latents give ehat = f_aux @ W_dec; aux = mean_b ||e - ehat||^2.
// JumpReLU STE (Rajamanoharan et al. 2024): d out/d theta = -(theta/eps) K((z-theta)/eps),
// dH/dtheta = -(1/eps) K(...), K = rectangle on (-1/2, 1/2); d out/dz = H(z - theta), dH/dz = 0.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "sae/sae_kernels.h"
#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/sae/sae.h"

namespace unfold {

// ||W_dec[i]|| for every latent (the weights of the L1 penalty), into out[F] (grown as needed)
void decoder_row_norms(const float* W_dec, int64_t F, int64_t d, std::vector<float>& out) {
    grow(out, (size_t)F);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < F; i++) {
        double n2 = 0;
        for (int64_t j = 0; j < d; j++) n2 += (double)W_dec[i * d + j] * W_dec[i * d + j];
        out[i] = (float)std::sqrt(n2);
    }
}

// sum_b ||x_b - mean||^2 in double: blocks of 64 columns in parallel, rows in order (contiguous reads,
// thread-count independent).
double batch_total_var(const float* x, int64_t B, int64_t d) {
    const int64_t CB = 64;
    const int64_t nblk = (d + CB - 1) / CB;
    std::vector<double> part((size_t)nblk);
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nblk; blk++) {
        const int64_t j0 = blk * CB, n = std::min(CB, d - j0);
        double s[64] = {0}, sq[64] = {0};
        for (int64_t b = 0; b < B; b++) {
            const float* r = x + b * d + j0;
            for (int64_t q = 0; q < n; q++) {
                s[q] += r[q];
                sq[q] += (double)r[q] * r[q];
            }
        }
        double t = 0;
        for (int64_t q = 0; q < n; q++) t += sq[q] - s[q] * s[q] / (double)B;
        part[blk] = t;
    }
    double t = 0;
    for (double v : part) t += v;
    return t;
}

// Column sums of M[B, F] in double: blocks of 64 columns in parallel, rows in order (thread-count independent,
// contiguous reads). nonzero = true counts entries != 0 instead.
void column_sums(const float* M, int64_t B, int64_t F, double* out, bool nonzero) {
    const int64_t CB = 64;
#pragma omp parallel for schedule(static)
    for (int64_t i0 = 0; i0 < F; i0 += CB) {
        const int64_t n = std::min(CB, F - i0);
        double acc[64] = {0};
        for (int64_t b = 0; b < B; b++) {
            const float* r = M + b * F + i0;
            if (nonzero)
                for (int64_t q = 0; q < n; q++) acc[q] += r[q] != 0.0f;
            else
                for (int64_t q = 0; q < n; q++) acc[q] += r[q];
        }
        for (int64_t q = 0; q < n; q++) out[i0 + q] = acc[q];
    }
}

void decode_dense(const float* A, const float* W_dec, const float* b_dec, int64_t B, int64_t F, int64_t d, float* out) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < d; j++) out[b * d + j] = b_dec[j];
    matmul(out, A, W_dec, B, F, d, 1.0f);
}

double residual_sq(const float* x, const float* y, float* out, int64_t B, int64_t d) {
    std::vector<double> rs((size_t)B);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        double s = 0;
        for (int64_t j = 0; j < d; j++) {
            float e = x[b * d + j] - y[b * d + j];
            out[b * d + j] = e;
            s += (double)e * e;
        }
        rs[b] = s;
    }
    double t = 0;
    for (double v : rs) t += v;
    return t;
}

void add_column_sums(const float* M, int64_t B, int64_t n, float* g) {
    std::vector<double> cs((size_t)n);
    column_sums(M, B, n, cs.data(), false);
    for (int64_t j = 0; j < n; j++) g[j] += (float)cs[j];
}

void bdec_grad_from_encoder(const float* W_enc, const double* colsum, int64_t d, int64_t F, float* g_bd) {
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < d; j++) {
        double s = 0;
        for (int64_t i = 0; i < F; i++) s += (double)W_enc[j * F + i] * colsum[i];
        g_bd[j] -= (float)s;
    }
}

static void count_fires(const SparseCodes& c, int64_t* fire_counts) {
    if (!fire_counts) return;
    for (int64_t p = 0; p < c.off[c.rows]; p++) fire_counts[c.idx[p]]++;
}

SaeLoss sae_forward_backward(Sae& sae, const float* x, int64_t B, SaeWork& w, bool want_grad, float coef_scale,
                             const uint8_t* dead, int64_t* fire_counts) {
    if (sae.cfg.arch == SaeArch::GATED)
        return sae_gated_forward_backward(sae, x, B, w, want_grad, coef_scale, fire_counts);
    const SaeConfig& cfg = sae.cfg;
    const int64_t d = sae.d(), F = sae.F();
    const bool topk_family = cfg.arch == SaeArch::TOPK || cfg.arch == SaeArch::BATCHTOPK;
    bool sparse = topk_family;  // STANDARD joins the sparse kernels when its codes are sparse (below)
    w.B = B;
    grow(w.xc, (size_t)(B * d));
    grow(w.pre, (size_t)(B * F));
    grow(w.xhat, (size_t)(B * d));
    grow(w.dxhat, (size_t)(B * d));
    SaeLoss L;

    // TopK: b_enc is added inside the selection pass (one pass less over pre)
    sae_encoder_pre(sae, x, B, w.xc.data(), w.pre.data(), cfg.arch != SaeArch::TOPK);
    const float* W_dec = sae.W_dec();
    std::vector<float> theta;

    // ---- activation + decode
    if (cfg.arch == SaeArch::TOPK) {
        topk_rows(w.pre.data(), B, F, cfg.k, w.codes, sae.b_enc());
    } else if (cfg.arch == SaeArch::BATCHTOPK) {
        L.min_kept = batch_topk(w.pre.data(), B, F, (int64_t)cfg.k * B, w.codes);
    }
    // ReLU + L1: once few pre-activations are positive (the usual state after the first steps), the decoder,
    // the L1 term and the whole backward only involve the active latents: switch to the sparse kernels.
    // The choice depends only on this batch's pre-activations (so resume stays exact).
    bool relu_sparse = false;
    if (cfg.arch == SaeArch::STANDARD) {
        std::vector<int64_t> cnt((size_t)B);
        const float* pre = w.pre.data();
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            int64_t c = 0;
            for (int64_t i = 0; i < F; i++) c += pre[b * F + i] > 0.0f;
            cnt[b] = c;
        }
        int64_t tot = 0;
        for (auto c : cnt) tot += c;
        if ((double)tot <= w.sparse_max_density * (double)B * (double)F) {
            relu_sparse = sparse = true;
            SparseCodes& c = w.codes;
            c.rows = B;
            c.off.assign((size_t)B + 1, 0);
            for (int64_t b = 0; b < B; b++) c.off[b + 1] = c.off[b] + cnt[b];
            c.idx.resize((size_t)tot);
            c.val.resize((size_t)tot);
#pragma omp parallel for schedule(static)
            for (int64_t b = 0; b < B; b++) {
                int64_t o = c.off[b];
                for (int64_t i = 0; i < F; i++)
                    if (pre[b * F + i] > 0.0f) {
                        c.idx[o] = (int32_t)i;
                        c.val[o++] = pre[b * F + i];
                    }
            }
        }
    }
    if (sparse) {
        sparse_decode(w.codes, W_dec, sae.b_dec(), d, w.xhat.data());
        L.l0 = (double)w.codes.off[B] / (double)B;
        count_fires(w.codes, fire_counts);
        if (relu_sparse) {
            decoder_row_norms(W_dec, F, d, w.l1w);
            w.fsum.assign((size_t)F, 0.0);
            double sl = 0;
            for (int64_t p = 0; p < w.codes.off[B]; p++) {
                w.fsum[w.codes.idx[p]] += w.codes.val[p];
                sl += (double)w.codes.val[p] * w.l1w[w.codes.idx[p]];
            }
            L.sparsity = (double)cfg.l1_coef * coef_scale * sl / (double)B;
        }
    } else {
        grow(w.f, (size_t)(B * F));
        float* f = w.f.data();
        const float* pre = w.pre.data();
        if (cfg.arch == SaeArch::JUMPRELU) {
            theta.resize((size_t)F);
            const float* lt = sae.params.get("log_threshold");
            for (int64_t i = 0; i < F; i++) theta[i] = std::exp(lt[i]);
        }
        const bool l1 = cfg.arch == SaeArch::STANDARD;
        if (l1) {  // decoder row norms weight the L1 penalty
            decoder_row_norms(W_dec, F, d, w.l1w);
        }
        // one pass: activation, per-row L0 and (STANDARD) per-row weighted L1
        std::vector<int64_t> nnz_row((size_t)B);
        std::vector<double> l1_row((size_t)B, 0.0);
        const float* l1w = l1 ? w.l1w.data() : nullptr;
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            int64_t c = 0;
            float acc[16] = {0};
            for (int64_t i0 = 0; i0 < F; i0 += 16) {
                const int64_t n = std::min<int64_t>(16, F - i0);
                for (int64_t q = 0; q < n; q++) {
                    const int64_t i = i0 + q;
                    float z = pre[b * F + i];
                    float t = theta.empty() ? 0.0f : theta[i];
                    float v = (z > t && z > 0.0f) ? z : 0.0f;
                    f[b * F + i] = v;
                    c += v != 0.0f;
                    if (l1w) acc[q] += v * l1w[i];
                }
            }
            double sr = 0;
            for (int q = 0; q < 16; q++) sr += acc[q];
            nnz_row[b] = c;
            l1_row[b] = sr;
        }
        int64_t nnz = 0;
        for (auto c : nnz_row) nnz += c;
        L.l0 = (double)nnz / (double)B;
        if (l1) {
            double sl = 0;
            for (double v : l1_row) sl += v;
            L.sparsity = (double)cfg.l1_coef * coef_scale * sl / (double)B;
        }
        // one column pass: firing counts and (for the L1 gradient) column sums of f
        if (fire_counts || (l1 && want_grad)) {
            w.fsum.assign((size_t)F, 0.0);
            std::vector<double> cnt((size_t)F);
            const int64_t CB = 64;
#pragma omp parallel for schedule(static)
            for (int64_t i0 = 0; i0 < F; i0 += CB) {
                const int64_t n = std::min(CB, F - i0);
                double sa[64] = {0}, ca[64] = {0};
                for (int64_t b = 0; b < B; b++) {
                    const float* r = f + b * F + i0;
                    for (int64_t q = 0; q < n; q++) {
                        sa[q] += r[q];
                        ca[q] += r[q] != 0.0f;
                    }
                }
                for (int64_t q = 0; q < n; q++) {
                    w.fsum[i0 + q] = sa[q];
                    cnt[i0 + q] = ca[q];
                }
            }
            if (fire_counts)
                for (int64_t i = 0; i < F; i++) fire_counts[i] += (int64_t)cnt[i];
        }
        decode_dense(f, W_dec, sae.b_dec(), B, F, d, w.xhat.data());
    }

    // ---- reconstruction loss
    float* r = w.dxhat.data();  // holds x - xhat for now
    const double sse = residual_sq(x, w.xhat.data(), r, B, d);
    L.mse = sse / (double)B;
    double tv = batch_total_var(x, B, d);
    L.fvu = tv > 0 ? sse / tv : 0.0;

    // ---- sparsity terms (STANDARD's L1 was summed in the activation pass)
    if (cfg.arch == SaeArch::JUMPRELU) {
        L.sparsity = (double)cfg.l0_coef * coef_scale * L.l0;
    }

    // ---- AuxK
    int64_t n_dead = 0;
    if (topk_family && dead && cfg.aux_coef > 0)
        for (int64_t i = 0; i < F; i++) n_dead += dead[i] != 0;
    const int kaux_cfg = cfg.k_aux > 0 ? cfg.k_aux : (int)std::max<int64_t>(1, d / 2);
    const int kaux = (int)std::min<int64_t>(kaux_cfg, n_dead);
    std::vector<float> ehat_res;  // [B, d] e - ehat
    if (kaux > 0) {
        topk_rows_masked(w.pre.data(), B, F, kaux, dead, w.aux);
        ehat_res.resize((size_t)(B * d));
        sparse_decode(w.aux, W_dec, nullptr, d, ehat_res.data());
        const double s = residual_sq(r, ehat_res.data(), ehat_res.data(), B, d);  // e - ehat
        L.aux = (double)cfg.aux_coef * s / (double)B;
    }
    L.loss = L.mse + L.sparsity + L.aux;
    L.dense_products = sparse ? 1 : (want_grad ? 4 : 2);
    if (!want_grad) return L;

    // ---- backward
    float* g_We = sae.params.grad_of("W_enc");
    float* g_be = sae.params.grad_of("b_enc");
    float* g_Wd = sae.params.grad_of("W_dec");
    float* g_bd = sae.params.grad_of("b_dec");
    const float inv2B = -2.0f / (float)B;
    float* dxh = w.dxhat.data();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < B * d; i++) dxh[i] *= inv2B;  // d mse / d xhat = -2 (x - xhat) / B
    add_column_sums(dxh, B, d, g_bd);
    std::vector<double> colsum((size_t)F, 0.0);  // sum over rows of d pre

    if (sparse) {
        const int64_t nnz = w.codes.off[B];
        grow(w.dval, (size_t)nnz);
        const float cl1 = relu_sparse ? cfg.l1_coef * coef_scale / (float)B : 0.0f;
        const float* l1w = relu_sparse ? w.l1w.data() : nullptr;
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++)
            for (int64_t p = w.codes.off[b]; p < w.codes.off[b + 1]; p++) {
                // values are > 0, so relu passes the gradient (+ the L1 term's c * ||W_dec_i||)
                const int32_t i = w.codes.idx[p];
                w.dval[p] = dot_f32(dxh + b * d, W_dec + (int64_t)i * d, d) + (l1w ? cl1 * l1w[i] : 0.0f);
            }
        grow(w.scratch, (size_t)(F * d));
        std::memset(w.scratch.data(), 0, sizeof(float) * (size_t)(F * d));
        sparse_backward(w.codes, w.dval.data(), dxh, w.xc.data(), d, F, g_Wd, w.scratch.data(), colsum.data());
        if (relu_sparse) {  // L1 weighted by ||W_dec_i||: c * fsum_i * W_dec_i / ||W_dec_i||
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < F; i++) {
                if (w.l1w[i] <= 0 || w.fsum[i] == 0) continue;
                float sc = (float)(cl1 * w.fsum[i] / w.l1w[i]);
                for (int64_t j = 0; j < d; j++) g_Wd[i * d + j] += sc * W_dec[i * d + j];
            }
        }
        if (kaux > 0) {
            // d aux / d ehat = -2 aux_coef (e - ehat) / B
            const float ca = -2.0f * cfg.aux_coef / (float)B;
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < B * d; i++) ehat_res[i] *= ca;
            const int64_t na = w.aux.off[B];
            grow(w.daux, (size_t)na);
#pragma omp parallel for schedule(static)
            for (int64_t b = 0; b < B; b++)
                for (int64_t p = w.aux.off[b]; p < w.aux.off[b + 1]; p++) {
                    w.daux[p] = dot_f32(ehat_res.data() + b * d, W_dec + (int64_t)w.aux.idx[p] * d, d);
                }
            sparse_backward(w.aux, w.daux.data(), ehat_res.data(), w.xc.data(), d, F, g_Wd, w.scratch.data(),
                            colsum.data());
        }
        // dW_enc[j, i] += Gt[i, j] (only latents that were active)
        const float* Gt = w.scratch.data();
        const int64_t T = 32;  // tiles keep both the reads and the writes in cache
#pragma omp parallel for schedule(static)
        for (int64_t jb = 0; jb < d; jb += T)
            for (int64_t ib = 0; ib < F; ib += T)
                for (int64_t j = jb; j < std::min(d, jb + T); j++)
                    for (int64_t i = ib; i < std::min(F, ib + T); i++) g_We[j * F + i] += Gt[i * d + j];
    } else {
        grow(w.dpre, (size_t)(B * F));
        float* dpre = w.dpre.data();
        matmul_bt(dpre, dxh, W_dec, B, d, F, 0.0f);  // df = dxhat @ W_dec^T
        const float* pre = w.pre.data();
        const float* f = w.f.data();
        if (cfg.arch == SaeArch::STANDARD) {
            const float c = cfg.l1_coef * coef_scale / (float)B;
            const std::vector<double>& fsum = w.fsum;
#pragma omp parallel for schedule(static)
            for (int64_t b = 0; b < B; b++)
                for (int64_t i = 0; i < F; i++) {
                    float df = dpre[b * F + i] + c * w.l1w[i];
                    dpre[b * F + i] = pre[b * F + i] > 0.0f ? df : 0.0f;
                }
            // d/dW_dec_i of c*B * fsum_i/B * ||W_dec_i||: c * fsum_i * W_dec_i / ||W_dec_i||
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < F; i++) {
                if (w.l1w[i] <= 0) continue;
                float s = (float)(c * fsum[i] / w.l1w[i]);
                for (int64_t j = 0; j < d; j++) g_Wd[i * d + j] += s * W_dec[i * d + j];
            }
        } else {  // JUMPRELU
            float* g_lt = sae.params.grad_of("log_threshold");
            const float eps = cfg.bandwidth;
            const float cl0 = cfg.l0_coef * coef_scale / (float)B;
            std::vector<double> dth((size_t)F, 0.0);
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < F; i++) {
                double s = 0;
                const float t = theta[i];
                for (int64_t b = 0; b < B; b++) {
                    float z = pre[b * F + i];
                    float u = (z - t) / eps;
                    if (std::fabs(u) < 0.5f) {
                        // recon part: df * d out/d theta; L0 part: cl0 * dH/d theta
                        s += (double)dpre[b * F + i] * (-(t / eps)) + (double)cl0 * (-(1.0f / eps));
                    }
                }
                dth[i] = s;
            }
            for (int64_t i = 0; i < F; i++) g_lt[i] += (float)(dth[i] * theta[i]);  // d/d log theta
#pragma omp parallel for schedule(static)
            for (int64_t b = 0; b < B; b++)
                for (int64_t i = 0; i < F; i++)
                    if (!(f[b * F + i] != 0.0f)) dpre[b * F + i] = 0.0f;
        }
        matmul_at(g_Wd, f, dxh, F, B, d, 1.0f);        // dW_dec += f^T @ dxhat
        matmul_at(g_We, w.xc.data(), dpre, d, B, F, 1.0f);  // dW_enc += xc^T @ dpre
        column_sums(dpre, B, F, colsum.data(), false);
    }
    for (int64_t i = 0; i < F; i++) g_be[i] += (float)colsum[i];
    if (cfg.apply_b_dec_to_input) bdec_grad_from_encoder(sae.W_enc(), colsum.data(), d, F, g_bd);
    return L;
}

}  // namespace unfold
