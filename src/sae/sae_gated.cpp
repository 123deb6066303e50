// sae_gated.cpp: the Gated SAE (Rajamanoharan et al. 2024, "Improving Dictionary Learning with Gated Sparse
// Autoencoders", arXiv 2404.16014): inference codes and the training forward pass with its hand-written backward.
//
// Parameters (sae.h): W_enc [d, F], b_enc [F] (= SAELens b_gate), W_dec [F, d], b_dec [d], r_mag [F], b_mag [F].
//   xc      = x - b_dec (when apply_b_dec_to_input)                      [B, d]
//   z       = xc @ W_enc                                                  [B, F]   (one encoder product)
//   pi_gate = z + b_gate
//   pi_mag  = z * exp(r_mag) + b_mag          (= xc @ (W_enc * exp(r_mag)) + b_mag, SAELens' form)
//   f       = 1[pi_gate > 0] * relu(pi_mag)                               [B, F]
//   xhat    = f @ W_dec + b_dec                                           [B, d]
// Loss (the paper's eq. 6 with SAELens GatedTrainingSAE's decoder-norm weighting of the L1 term):
//   mse      = mean_b ||x - xhat||^2
//   sparsity = l1 * coef_scale * mean_b sum_i relu(pi_gate)_bi * sg(||W_dec_i||)
//   aux      = mean_b ||x - (relu(pi_gate) @ sg(W_dec) + sg(b_dec))||^2,  sg = stop-gradient
// The paper's auxiliary term uses a frozen copy of the decoder, so it trains only the gate path (W_enc, b_gate
// and, through xc, b_dec's encoder-side use). The decoder norms in the sparsity term are frozen too: the paper's
// first author noted (LessWrong discussion of the paper) that with the norm-weighted penalty the decoder should
// be frozen in both places or in neither, never in one only. Frozen in the aux term only, the penalty shrinks
// W_dec with nothing but the mse opposing it; here that made the mse grow steadily during training (planted
// d = 32: FVU 0.08 at step 100 -> 0.73 at step 800). With a unit-norm decoder (the paper's original setting,
// with resampling) the norm gradient is projected away anyway, so this changes nothing there.
// SAELens 6.x keeps the decoder attached in both places; its inference is identical.
// The Heaviside gate passes no gradient: pi_mag receives the reconstruction gradient where f != 0, pi_gate
// receives the sparsity and aux gradients where pi_gate > 0.
// Backward:
//   dxhat  = -2 (x - xhat) / B;         db_dec += colsum(dxhat);    dW_dec += f^T @ dxhat
//   dmag   = (dxhat @ W_dec^T) * 1[f != 0]
//   dgate  = (daux @ W_dec^T + (l1 coef_scale / B) ||W_dec_i||) * 1[pi_gate > 0],  daux = -2 (x - xhat_gate) / B
//   db_gate = colsum(dgate);  db_mag = colsum(dmag);  dr_mag_i = exp(r_mag_i) * sum_b dmag_bi z_bi
//   dz = dgate + dmag * exp(r_mag);  dW_enc += xc^T @ dz;  db_dec -= W_enc @ colsum(dz) (apply_b_dec_to_input)
// Dense products: 1 encoder, 2 decoder, 4 backward (7 with gradients, 3 without).
// Sparse path: once at most SaeWork::sparse_max_density of the gates are open (the usual state after the first
// steps; decided from this batch alone, so resume stays exact), both decoders, the decoder-side gradients and
// dW_enc only touch the open latents (CSR codes over the gate support: w.codes.val = f, w.aux.val =
// relu(pi_gate)) and the encoder product is the only dense one.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "sae/sae_kernels.h"
#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/sae/sae.h"

namespace unfold {

// One latent: gate activation relu(pi_gate) and code f, from z = (xc @ W_enc)_i. Shared by training and
// inference so both compute the same floats.
static inline void gated_unit(float z, float bg, float e, float bm, float& fg, float& f) {
    const float g = z + bg;
    const float m = z * e + bm;
    fg = g > 0.0f ? g : 0.0f;
    f = (g > 0.0f && m > 0.0f) ? m : 0.0f;
}

static std::vector<float> exp_r_mag(const Sae& sae) {
    const int64_t F = sae.F();
    const float* r = sae.params.get("r_mag");
    std::vector<float> e((size_t)F);
    for (int64_t i = 0; i < F; i++) e[i] = std::exp(r[i]);
    return e;
}

void gated_rows(const Sae& sae, const float* z, int64_t B, SparseCodes& out) {
    const int64_t F = sae.F();
    const std::vector<float> e = exp_r_mag(sae);
    const float* bg = sae.b_enc();
    const float* bm = sae.params.get("b_mag");
    out.rows = B;
    out.off.assign((size_t)B + 1, 0);
    std::vector<int64_t> cnt((size_t)B);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        int64_t c = 0;
        for (int64_t i = 0; i < F; i++) {
            float fg, f;
            gated_unit(z[b * F + i], bg[i], e[i], bm[i], fg, f);
            c += f != 0.0f;
        }
        cnt[b] = c;
    }
    for (int64_t b = 0; b < B; b++) out.off[b + 1] = out.off[b] + cnt[b];
    out.idx.resize((size_t)out.off[B]);
    out.val.resize((size_t)out.off[B]);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        int64_t o = out.off[b];
        for (int64_t i = 0; i < F; i++) {
            float fg, f;
            gated_unit(z[b * F + i], bg[i], e[i], bm[i], fg, f);
            if (f != 0.0f) {
                out.idx[o] = (int32_t)i;
                out.val[o++] = f;
            }
        }
    }
}

SaeLoss sae_gated_forward_backward(Sae& sae, const float* x, int64_t B, SaeWork& w, bool want_grad,
                                   float coef_scale, int64_t* fire_counts) {
    const SaeConfig& cfg = sae.cfg;
    UNFOLD_CHECK(cfg.arch == SaeArch::GATED, "sae_gated_forward_backward: not a gated SAE");
    const int64_t d = sae.d(), F = sae.F();
    w.B = B;
    grow(w.xc, (size_t)(B * d));
    grow(w.pre, (size_t)(B * F));
    grow(w.f, (size_t)(B * F));
    grow(w.f_gate, (size_t)(B * F));
    grow(w.xhat, (size_t)(B * d));
    grow(w.xhat_gate, (size_t)(B * d));
    grow(w.dxhat, (size_t)(B * d));
    SaeLoss L;

    // ---- encoder: z = xc @ W_enc (w.pre), then both paths in one pass
    sae_encoder_pre(sae, x, B, w.xc.data(), w.pre.data(), /*add_bias=*/false);
    const std::vector<float> e = exp_r_mag(sae);
    const float* bg = sae.b_enc();
    const float* bm = sae.params.get("b_mag");
    const float* W_dec = sae.W_dec();
    decoder_row_norms(W_dec, F, d, w.l1w);
    const float* z = w.pre.data();
    float* f = w.f.data();
    float* fg = w.f_gate.data();
    const float* l1w = w.l1w.data();
    std::vector<int64_t> nnz_row((size_t)B), open_row((size_t)B);
    std::vector<double> l1_row((size_t)B);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        int64_t c = 0, o = 0;
        double sr = 0;
        for (int64_t i = 0; i < F; i++) {
            gated_unit(z[b * F + i], bg[i], e[i], bm[i], fg[b * F + i], f[b * F + i]);
            c += f[b * F + i] != 0.0f;
            o += fg[b * F + i] > 0.0f;
            sr += (double)fg[b * F + i] * l1w[i];
        }
        nnz_row[b] = c;
        open_row[b] = o;
        l1_row[b] = sr;
    }
    int64_t nnz = 0, n_open = 0;
    double sl = 0;
    for (int64_t b = 0; b < B; b++) {
        nnz += nnz_row[b];
        n_open += open_row[b];
        sl += l1_row[b];
    }
    const bool sparse = (double)n_open <= w.sparse_max_density * (double)B * (double)F;
    if (sparse) {  // CSR over the open gates: codes.val = f (0 where relu(pi_mag) = 0), aux.val = relu(pi_gate)
        for (SparseCodes* cs : {&w.codes, &w.aux}) {
            cs->rows = B;
            cs->off.assign((size_t)B + 1, 0);
            for (int64_t b = 0; b < B; b++) cs->off[b + 1] = cs->off[b] + open_row[b];
            cs->idx.resize((size_t)n_open);
            cs->val.resize((size_t)n_open);
        }
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            int64_t o = w.codes.off[b];
            for (int64_t i = 0; i < F; i++)
                if (fg[b * F + i] > 0.0f) {
                    w.codes.idx[o] = w.aux.idx[o] = (int32_t)i;
                    w.codes.val[o] = f[b * F + i];
                    w.aux.val[o++] = fg[b * F + i];
                }
        }
    }
    L.l0 = (double)nnz / (double)B;
    L.sparsity = (double)cfg.l1_coef * coef_scale * sl / (double)B;
    if (fire_counts) {
        std::vector<double> cnt((size_t)F);
        column_sums(f, B, F, cnt.data(), true);
        for (int64_t i = 0; i < F; i++) fire_counts[i] += (int64_t)cnt[i];
    }

    // ---- decoders: xhat from f, the auxiliary reconstruction from relu(pi_gate)
    if (sparse) {
        sparse_decode(w.codes, W_dec, sae.b_dec(), d, w.xhat.data());
        sparse_decode(w.aux, W_dec, sae.b_dec(), d, w.xhat_gate.data());
    } else {
        decode_dense(f, W_dec, sae.b_dec(), B, F, d, w.xhat.data());
        decode_dense(fg, W_dec, sae.b_dec(), B, F, d, w.xhat_gate.data());
    }
    const double sse = residual_sq(x, w.xhat.data(), w.dxhat.data(), B, d);  // dxhat holds x - xhat for now
    L.mse = sse / (double)B;
    const double tv = batch_total_var(x, B, d);
    L.fvu = tv > 0 ? sse / tv : 0.0;
    float* rg = w.xhat_gate.data();  // from here: x - xhat_gate (then its gradient)
    L.aux = residual_sq(x, rg, rg, B, d) / (double)B;
    L.loss = L.mse + L.sparsity + L.aux;
    L.dense_products = sparse ? 1 : (want_grad ? 7 : 3);
    if (!want_grad) return L;

    // ---- backward
    float* g_We = sae.params.grad_of("W_enc");
    float* g_bg = sae.params.grad_of("b_enc");
    float* g_Wd = sae.params.grad_of("W_dec");
    float* g_bd = sae.params.grad_of("b_dec");
    float* g_r = sae.params.grad_of("r_mag");
    float* g_bm = sae.params.grad_of("b_mag");
    const float m2B = -2.0f / (float)B;
    float* dxh = w.dxhat.data();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < B * d; i++) {
        dxh[i] *= m2B;  // d mse / d xhat
        rg[i] *= m2B;   // d aux / d xhat_gate (reaches only relu(pi_gate): the decoder is frozen there)
    }
    add_column_sums(dxh, B, d, g_bd);
    const float c = cfg.l1_coef * coef_scale / (float)B;
    // per latent: sums of dgate, dmag, dmag * z and dz (bias, r_mag and b_dec gradients)
    std::vector<double> s_dm((size_t)F, 0.0), s_dmz((size_t)F, 0.0), s_dg((size_t)F, 0.0), s_dz((size_t)F, 0.0);
    if (sparse) {
        const int64_t n = w.codes.off[B];
        grow(w.dval, (size_t)n);  // dz per open gate
        grow(w.daux, (size_t)n);  // dmag per open gate
        std::vector<float> vgs((size_t)n);
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++)
            for (int64_t p = w.codes.off[b]; p < w.codes.off[b + 1]; p++) {
                const int32_t i = w.codes.idx[p];
                const float* wr = W_dec + (int64_t)i * d;
                const float vm = w.codes.val[p] != 0.0f ? dot_f32(dxh + b * d, wr, d) : 0.0f;
                const float vg = dot_f32(rg + b * d, wr, d) + c * l1w[i];
                w.daux[p] = vm;
                vgs[p] = vg;
                w.dval[p] = vg + vm * e[i];
            }
        for (int64_t b = 0; b < B; b++)  // fixed order: rows ascending
            for (int64_t p = w.codes.off[b]; p < w.codes.off[b + 1]; p++) {
                const int32_t i = w.codes.idx[p];
                s_dm[i] += w.daux[p];
                s_dmz[i] += (double)w.daux[p] * z[b * F + i];
                s_dg[i] += vgs[p];
            }
        // dW_dec += f * dxhat; Gt[i] += dz * xc (transposed encoder gradient); s_dz += dz
        grow(w.scratch, (size_t)(F * d));
        std::memset(w.scratch.data(), 0, sizeof(float) * (size_t)(F * d));
        sparse_backward(w.codes, w.dval.data(), dxh, w.xc.data(), d, F, g_Wd, w.scratch.data(), s_dz.data());
        const float* Gt = w.scratch.data();
        const int64_t T = 32;
#pragma omp parallel for schedule(static)
        for (int64_t jb = 0; jb < d; jb += T)
            for (int64_t ib = 0; ib < F; ib += T)
                for (int64_t j = jb; j < std::min(d, jb + T); j++)
                    for (int64_t i = ib; i < std::min(F, ib + T); i++) g_We[j * F + i] += Gt[i * d + j];
    } else {
        matmul_at(g_Wd, f, dxh, F, B, d, 1.0f);  // dW_dec += f^T @ dxhat
        grow(w.dpre, (size_t)(B * F));
        grow(w.dpre_gate, (size_t)(B * F));
        float* dm = w.dpre.data();
        float* dg = w.dpre_gate.data();
        matmul_bt(dm, dxh, W_dec, B, d, F, 0.0f);  // d f
        matmul_bt(dg, rg, W_dec, B, d, F, 0.0f);   // d relu(pi_gate) from aux
        // column blocks: masks, bias / r_mag / L1 sums and dz = dgate + dmag * exp(r_mag) (into dg)
        const int64_t CB = 64;
#pragma omp parallel for schedule(static)
        for (int64_t i0 = 0; i0 < F; i0 += CB) {
            const int64_t n = std::min(CB, F - i0);
            double a_dm[64] = {0}, a_dmz[64] = {0}, a_dg[64] = {0}, a_dz[64] = {0};
            for (int64_t b = 0; b < B; b++) {
                for (int64_t q = 0; q < n; q++) {
                    const int64_t k = b * F + i0 + q, i = i0 + q;
                    const float vm = f[k] != 0.0f ? dm[k] : 0.0f;
                    const float vg = fg[k] > 0.0f ? dg[k] + c * l1w[i] : 0.0f;
                    const float vz = vg + vm * e[i];
                    dm[k] = vm;
                    dg[k] = vz;
                    a_dm[q] += vm;
                    a_dmz[q] += (double)vm * z[k];
                    a_dg[q] += vg;
                    a_dz[q] += vz;
                }
            }
            for (int64_t q = 0; q < n; q++) {
                s_dm[i0 + q] = a_dm[q];
                s_dmz[i0 + q] = a_dmz[q];
                s_dg[i0 + q] = a_dg[q];
                s_dz[i0 + q] = a_dz[q];
            }
        }
        matmul_at(g_We, w.xc.data(), dg, d, B, F, 1.0f);  // dW_enc += xc^T @ dz
    }
    for (int64_t i = 0; i < F; i++) {
        g_bg[i] += (float)s_dg[i];
        g_bm[i] += (float)s_dm[i];
        g_r[i] += (float)(s_dmz[i] * e[i]);
    }
    if (cfg.apply_b_dec_to_input) bdec_grad_from_encoder(sae.W_enc(), s_dz.data(), d, F, g_bd);
    return L;
}

}  // namespace unfold
