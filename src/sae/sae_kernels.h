// sae_kernels.h: the SAE's building blocks (internal to src/sae; exposed for tests and the benchmark).
//
// Dims as in sae.h: B rows, d inputs, F latents. Sparse codes are CSR (see SparseCodes).
// All loops are OpenMP-parallel over rows or latents with a static split, and every reduction is done
// per row/latent in a fixed order, so results do not depend on the thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "sae/sae.h"

namespace unfold {

// xc = x - b_dec (or x), pre = xc @ W_enc + b_enc.     x, xc: [B, d]; pre: [B, F]
// add_bias = false leaves b_enc out (the caller fuses it into the next pass, e.g. topk_rows' bias).
void sae_encoder_pre(const Sae& sae, const float* x, int64_t B, float* xc, float* pre, bool add_bias = true);

// Per row, the k largest pre-activations that are > 0 (relu applied): codes in ascending latent order.
// bias (optional, [F]) is first added to every row of pre in place (fused into the selection pass).
void topk_rows(float* pre, int64_t B, int64_t F, int k, SparseCodes& out, const float* bias = nullptr);
// Per row, every pre > max(0, th[i] or th_scalar): codes (th may be null: the scalar applies).
void threshold_rows(const float* pre, int64_t B, int64_t F, const float* th, float th_scalar, SparseCodes& out);
// The K largest positive pre-activations over the whole batch (BatchTopK). Returns the smallest kept value
// (0 if nothing is kept).
float batch_topk(const float* pre, int64_t B, int64_t F, int64_t K, SparseCodes& out);
// Per row, the k largest positive pre among the latents with dead[i] != 0 (AuxK).
void topk_rows_masked(const float* pre, int64_t B, int64_t F, int k, const uint8_t* dead, SparseCodes& out);

// Dot product with 16 independent partial sums (vectorises without -ffast-math; fixed order).
inline float dot_f32(const float* a, const float* b, int64_t n) {
    float acc[16] = {0};
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        for (int q = 0; q < 16; q++) acc[q] += a[j + q] * b[j + q];
    float s = 0;
    for (int q = 0; q < 16; q++) s += acc[q];
    for (; j < n; j++) s += a[j] * b[j];
    return s;
}

// xhat[b] = b_dec + sum over row b's codes of val * W_dec[idx]   (b_dec may be null: no bias)
void sparse_decode(const SparseCodes& c, const float* W_dec, const float* b_dec, int64_t d, float* xhat);

// Backward of the sparse products for one set of codes, given per-entry dpre (dval) and the gradient of
// the decoder output dout[B, d]:
//   dW_dec[j] += val * dout[b];   Gt[j] += dval * xc[b] (the transposed encoder gradient, [F, d]);
//   colsum[j] += dval.
void sparse_backward(const SparseCodes& c, const float* dval, const float* dout, const float* xc, int64_t d,
                     int64_t F, float* dW_dec, float* Gt, double* colsum);

// ||W_dec[i]|| for every latent, into out[F] (grown as needed).
void decoder_row_norms(const float* W_dec, int64_t F, int64_t d, std::vector<float>& out);
// sum_b ||x_b - mean_batch(x)||^2 in double (thread-count independent).
double batch_total_var(const float* x, int64_t B, int64_t d);
// Column sums of M[B, F] in double, rows in order (nonzero = true counts entries != 0 instead).
void column_sums(const float* M, int64_t B, int64_t F, double* out, bool nonzero);

// Gated SAE (sae_gated.cpp). z[B, F] = xc @ W_enc without bias -> codes f = 1[z + b_gate > 0] *
// relu(z * exp(r_mag) + b_mag), in ascending latent order.
void gated_rows(const Sae& sae, const float* z, int64_t B, SparseCodes& out);
// The gated training forward/backward (the contract of sae_forward_backward; sae.h has the loss).
SaeLoss sae_gated_forward_backward(Sae& sae, const float* x, int64_t B, SaeWork& w, bool want_grad,
                                   float coef_scale, int64_t* fire_counts);

}  // namespace unfold
