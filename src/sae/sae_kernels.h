// sae_kernels.h: the SAE's building blocks (internal to src/sae; exposed for tests and the benchmark).
//
// Dims as in sae.h: B rows, d inputs, F latents. Sparse codes are CSR (see SparseCodes).
// All loops are OpenMP-parallel over rows or latents with a static split, and every reduction is done
// per row/latent in a fixed order, so results do not depend on the thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "unfold/sae/sae.h"

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

// Pieces both training passes (sae_forward.cpp, sae_gated.cpp) share:
// v grows to at least n elements (never shrinks: workspaces are reused across steps).
inline void grow(std::vector<float>& v, size_t n) {
    if (v.size() < n) v.resize(n);
}
// out[b, :] = b_dec + A[b, :] @ W_dec         A: [B, F], out: [B, d] (dense decoder)
void decode_dense(const float* A, const float* W_dec, const float* b_dec, int64_t B, int64_t F, int64_t d, float* out);
// out = x - y (out may alias y); returns the sum of squares (double, rows in order).
double residual_sq(const float* x, const float* y, float* out, int64_t B, int64_t d);
// g[j] += sum_b M[b, j]   (a bias gradient from the gradient of its output, M: [B, n])
void add_column_sums(const float* M, int64_t B, int64_t n, float* g);
// Encoder input xc = x - b_dec: g_bd[j] -= sum_i W_enc[j, i] * colsum[i], colsum = sum over rows of d pre.
void bdec_grad_from_encoder(const float* W_enc, const double* colsum, int64_t d, int64_t F, float* g_bd);

// Gated SAE (sae_gated.cpp). z[B, F] = xc @ W_enc without bias -> codes f = 1[z + b_gate > 0] *
// relu(z * exp(r_mag) + b_mag), in ascending latent order.
void gated_rows(const Sae& sae, const float* z, int64_t B, SparseCodes& out);
// The gated training forward/backward (the contract of sae_forward_backward; sae.h has the loss).
SaeLoss sae_gated_forward_backward(Sae& sae, const float* x, int64_t B, SaeWork& w, bool want_grad,
                                   float coef_scale, int64_t* fire_counts);

}  // namespace unfold
