// sae.h: sparse autoencoders (SAEs): the model, its parameters and the forward/backward passes.
//
// Dims: B = batch rows, d = input width (d_in), F = latents (d_sae), k = active latents per row (TopK).
// Parameters (one ParamSet, views in this order; the same layout as SAELens' sae_weights.safetensors):
//   W_enc [d, F]   b_enc [F]   W_dec [F, d]   b_dec [d]   (+ log_threshold [F] for JumpReLU;
//   + r_mag [F], b_mag [F] for Gated, whose b_enc slot is SAELens' b_gate)
// Encoder:  pre = (x - b_dec * apply_b_dec_to_input) @ W_enc + b_enc          [B, F]
// Activations per architecture:
//   STANDARD (ReLU + L1):  f = relu(pre); penalty l1 * mean_b sum_i f_i * ||W_dec_i||
//   TOPK:                  f = relu(pre) kept only at the row's k largest pre; AuxK loss on dead latents
//   BATCHTOPK:             f = relu(pre) kept only at the k*B largest over the whole batch; inference uses a
//                          learned threshold (saved as SAELens "jumprelu" with threshold[F] = that value)
//   JUMPRELU:              f = pre * H(pre - theta), theta = exp(log_threshold); L0 penalty through a
//                          rectangle-kernel straight-through estimator of bandwidth eps
//   GATED (Rajamanoharan et al. 2024, arXiv 2404.16014; SAELens GatedSAE / GatedTrainingSAE):
//                          z = xc @ W_enc; pi_gate = z + b_gate; pi_mag = z * exp(r_mag) + b_mag
//                          (= xc @ (W_enc * exp(r_mag)) + b_mag); f = 1[pi_gate > 0] * relu(pi_mag);
//                          penalty l1 * mean_b sum_i relu(pi_gate)_i * sg(||W_dec_i||) plus the auxiliary
//                          reconstruction mean_b ||x - (relu(pi_gate) @ sg(W_dec) + sg(b_dec))||^2, sg = a
//                          stop-gradient (frozen decoder copy, as in the paper): both train only the gate
//                          path (sae_gated.cpp says why the norms are frozen too)
// Decoder:  xhat = f @ W_dec + b_dec                                             [B, d]
// Loss:     mean_b ||x - xhat||^2  + the architecture's sparsity / auxiliary term.
// Sparse kernels: TopK/BatchTopK rows carry (index, value) lists; decoding, dW_dec and dW_enc touch only
// the active latents. STANDARD switches to the same sparse kernels whenever at most
// SaeWork::sparse_max_density of its pre-activations are positive (dense OpenBLAS products otherwise);
// GATED does the same with its open gates (sae_gated.cpp); JUMPRELU uses the dense products.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/tensor.h"
#include "unfold/io/json.h"

namespace unfold {

enum class SaeArch { STANDARD, TOPK, BATCHTOPK, JUMPRELU, GATED };
const char* sae_arch_name(SaeArch a);          // "standard", "topk", "batchtopk", "jumprelu", "gated"
SaeArch parse_sae_arch(const std::string& s);  // also accepts "relu" for STANDARD; throws on unknown

struct SaeConfig {
    SaeArch arch = SaeArch::TOPK;
    int64_t d_in = 0;
    int64_t d_sae = 0;
    int k = 16;                        // TopK / BatchTopK
    bool apply_b_dec_to_input = true;  // subtract b_dec before encoding
    bool unit_norm_decoder = false;    // renormalise W_dec rows after each step (+ gradient projection)
    float l1_coef = 5.0f;              // STANDARD / GATED: L1 weighted by decoder row norms
    float l0_coef = 0.02f;             // JUMPRELU: L0 penalty
    float bandwidth = 0.05f;           // JUMPRELU STE kernel width
    float init_threshold = 0.01f;      // JUMPRELU initial theta
    int k_aux = 0;                     // TOPK/BATCHTOPK AuxK latents (0 = d_in / 2)
    float aux_coef = 1.0f / 32.0f;     // AuxK coefficient (Gao et al. 2024)

    Json to_json() const;
    static SaeConfig from_json(const Json& j, const std::string& ctx);  // validates
    // Throws unfold::Error naming ctx and the field: d_in, d_sae in range, k in [1, d_sae] for TopK/BatchTopK,
    // positive JumpReLU bandwidth, finite non-negative coefficients.
    void validate(const std::string& ctx) const;
};

struct Sae {
    SaeConfig cfg;
    ParamSet params;          // W_enc, b_enc, W_dec, b_dec (+ log_threshold for JUMPRELU, r_mag, b_mag for GATED)
    float threshold = 0.0f;   // BATCHTOPK inference threshold (EMA of the smallest kept activation)
    // What the SAE was trained on, as SAELens records it in cfg.json "metadata" (model_name, hook_name,
    // hook_layer, context_size, prepend_bos, dataset_path, ...; older SAELens configs keep these keys at
    // the top level, and they are gathered here too). Empty for formats without it.
    Json metadata = Json::object();
    // Imported JumpReLU thresholds (SAELens / Gemma Scope) live in params as log_threshold =
    // log(max(threshold, 1e-30)); encoding keeps pre > max(threshold, 0), as SAELens does.

    float* W_enc() { return params.get("W_enc"); }
    float* b_enc() { return params.get("b_enc"); }
    float* W_dec() { return params.get("W_dec"); }
    float* b_dec() { return params.get("b_dec"); }
    const float* W_enc() const { return params.get("W_enc"); }
    const float* b_enc() const { return params.get("b_enc"); }
    const float* W_dec() const { return params.get("W_dec"); }
    const float* b_dec() const { return params.get("b_dec"); }
    int64_t d() const { return cfg.d_in; }
    int64_t F() const { return cfg.d_sae; }
};

// Allocates parameters: W_dec rows Gaussian, unit norm (times dec_init_norm), W_enc = W_dec^T, biases 0,
// log_threshold = log(init_threshold), r_mag = b_mag = 0. Deterministic in seed.
Sae sae_init(const SaeConfig& cfg, uint64_t seed, float dec_init_norm = 1.0f);

// Sparse codes of a batch: row b's active latents are idx[off[b] .. off[b+1]) with values val[...].
struct SparseCodes {
    int64_t rows = 0;
    std::vector<int64_t> off;  // [rows + 1]
    std::vector<int32_t> idx;
    std::vector<float> val;
};

// Inference encoding (BATCHTOPK uses its threshold, i.e. behaves as JumpReLU): x[B, d] -> codes.
void sae_encode(const Sae& sae, const float* x, int64_t B, SparseCodes& out);
// The same with the dense buffers kept between calls (no allocation, no page faults once they have grown).
struct SaeEncodeScratch {
    std::vector<float> xc, pre;
    SparseCodes block;
};
void sae_encode(const Sae& sae, const float* x, int64_t B, SparseCodes& out, SaeEncodeScratch& scratch);
// Decoding: codes -> xhat[B, d] (sparse sum over active rows of W_dec, plus b_dec).
void sae_decode(const Sae& sae, const SparseCodes& codes, float* xhat);

// ---- training forward / backward ------------------------------------------------------------------
// Workspace for one batch; reused across steps (buffers grow on demand).
struct SaeWork {
    int64_t B = 0;
    std::vector<float> xc;     // [B, d]   encoder input (x - b_dec)
    std::vector<float> pre;    // [B, F]   pre-activations
    std::vector<float> f;      // [B, F]   dense codes (STANDARD / JUMPRELU)
    std::vector<float> xhat;   // [B, d]
    std::vector<float> dxhat;  // [B, d]
    std::vector<float> dpre;   // [B, F]   (dense archs)
    SparseCodes codes;         // active latents (all archs; used by the sparse archs' kernels)
    std::vector<float> dval;   // [nnz] gradient wrt the pre-activations of the active latents
    SparseCodes aux;           // AuxK codes
    std::vector<float> daux;   // [nnz aux]
    std::vector<float> scratch;  // [F, d] transposed encoder gradient
    std::vector<uint8_t> dead;   // [F] 1 = dead latent (input to AuxK)
    std::vector<float> l1w;      // [F] decoder row norms (STANDARD)
    std::vector<double> fsum;    // [F] column sums of f (STANDARD)
    // GATED: pre holds z = xc @ W_enc (no bias); f the codes; dpre the gradient wrt pi_mag. Its sparse path
    // (open gates <= sparse_max_density) keeps CSR codes over the open gates: codes.val = f, aux.val =
    // relu(pi_gate), dval = d z, daux = d pi_mag.
    std::vector<float> f_gate;     // [B, F] GATED: relu(pi_gate)
    std::vector<float> dpre_gate;  // [B, F] GATED: gradient wrt z (gate + magnitude paths)
    std::vector<float> xhat_gate;  // [B, d] GATED: x - (relu(pi_gate) @ W_dec + b_dec), the aux residual
    double sparse_max_density = 0.05;  // STANDARD (GATED) uses the sparse kernels when <= this share of pre > 0
                                       // (of gates open)
};

struct SaeLoss {
    double loss = 0, mse = 0, sparsity = 0, aux = 0;  // aux: AuxK (TopK family) or the gated aux recon
    double l0 = 0;          // mean active latents per row
    double fvu = 0;         // sum||x - xhat||^2 / sum||x - mean_batch(x)||^2
    float min_kept = 0;     // BATCHTOPK: smallest kept activation (for the threshold EMA)
    int dense_products = 0; // [B,d]x[d,F]-sized products run through BLAS (1 on the sparse paths, 4 dense)
};

// Forward (and, with want_grad, backward accumulating into sae.params.grad, which the caller zeroes).
// coef_scale multiplies the sparsity coefficient (its warm-up). dead[F] (may be null) marks dead latents
// for AuxK. Fires counts per latent are added to fire_counts[F] when non-null.
SaeLoss sae_forward_backward(Sae& sae, const float* x, int64_t B, SaeWork& w, bool want_grad, float coef_scale,
                             const uint8_t* dead, int64_t* fire_counts);

// Helpers exposed for tests.
// JumpReLU pieces elementwise: out = z * H(z - theta); dtheta_out = d out / d theta (STE); dz = H(z - theta)
void jumprelu_ste(const float* z, const float* theta, int64_t n, float bandwidth, float* out, float* dtheta,
                  float* dz);
// Heaviside STE: out = H(z - theta); dtheta = -(1/eps) K((z - theta)/eps), K = rectangle on (-1/2, 1/2)
void heaviside_ste(const float* z, const float* theta, int64_t n, float bandwidth, float* out, float* dtheta);
// Unit-norm decoder: remove from each W_dec row's gradient its component along the row.
void sae_project_decoder_grad(Sae& sae);
void sae_normalize_decoder(Sae& sae);

// ---- SAELens folder I/O --------------------------------------------------------------------------
// A dictionary to write in SAELens layout: cfg.json + sae_weights.safetensors (+ sparsity.safetensors).
// Raw pointers so callers without an Sae (e.g. `unfold dict train`: W_dec = the dictionary, W_enc = its
// transpose) can use it. threshold / sparsity may be null.
struct SaeLensExport {
    std::string architecture = "standard";  // "standard" | "topk" | "jumprelu" | "gated"
    int64_t d_in = 0, d_sae = 0;
    const float* W_enc = nullptr;      // [d_in, d_sae]
    const float* b_enc = nullptr;      // [d_sae] (written as "b_gate" for gated)
    const float* W_dec = nullptr;      // [d_sae, d_in]
    const float* b_dec = nullptr;      // [d_in]
    const float* threshold = nullptr;  // [d_sae] (jumprelu)
    const float* r_mag = nullptr;      // [d_sae] (gated)
    const float* b_mag = nullptr;      // [d_sae] (gated)
    const float* sparsity = nullptr;   // [d_sae] log10 firing frequency (-> sparsity.safetensors)
    int k = 0;                         // topk
    bool apply_b_dec_to_input = true;
    Json metadata = Json::object();    // merged into cfg.json "metadata" (what produced it)
};
void sae_save_saelens(const std::string& dir, const SaeLensExport& e);

// Writes an Sae (BATCHTOPK as jumprelu + threshold). sparsity may be null.
void sae_save(const std::string& dir, const Sae& sae, const float* sparsity, const Json& metadata);

// Loads any supported folder/file: SAELens folder (cfg.json + sae_weights.safetensors), sparsify folder
// (cfg.json + sae.safetensors), Gemma Scope params.npz (file or folder containing it).
// format_out (optional) receives "saelens" | "sparsify" | "gemmascope".
Sae sae_load(const std::string& path, std::string* format_out = nullptr);

// The hook an SAE reads, from its metadata: hook_name ("" when unknown: absent, null or "unknown"),
// hook_layer (-1 when unknown), context_size (0 when unknown), prepend_bos (true when unknown), model_name.
struct SaeHookInfo {
    std::string model_name, hook_name;
    int64_t hook_layer = -1;
    int64_t context_size = 0;
    bool prepend_bos = true;
};
SaeHookInfo sae_hook_info(const Sae& sae);
// SAELens metadata keys for an SAE trained on an `unfold lm cache` folder, from the folder's index meta
// (hook, context, prepend_bos, model_path / model): model_name, hook_name, hook_layer, context_size,
// prepend_bos. Returns an empty object for other sources.
Json saelens_metadata_from_cache_meta(const Json& cache_meta);

}  // namespace unfold
