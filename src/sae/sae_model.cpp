// sae_model.cpp: SAE configuration, parameter initialisation, inference encode/decode and the
// decoder-norm helpers (see sae.h for the math).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include <omp.h>

#include "sae/sae_kernels.h"
#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/sae/sae.h"

namespace unfold {

const char* sae_arch_name(SaeArch a) {
    switch (a) {
        case SaeArch::STANDARD: return "standard";
        case SaeArch::TOPK: return "topk";
        case SaeArch::BATCHTOPK: return "batchtopk";
        case SaeArch::JUMPRELU: return "jumprelu";
        case SaeArch::GATED: return "gated";
    }
    return "?";
}

SaeArch parse_sae_arch(const std::string& s) {
    if (s == "standard" || s == "relu") return SaeArch::STANDARD;
    if (s == "topk") return SaeArch::TOPK;
    if (s == "batchtopk") return SaeArch::BATCHTOPK;
    if (s == "jumprelu") return SaeArch::JUMPRELU;
    if (s == "gated") return SaeArch::GATED;
    fail("unknown SAE architecture '%s' (expected standard|relu|topk|batchtopk|jumprelu|gated)", s.c_str());
}

Json SaeConfig::to_json() const {
    Json j = Json::object();
    j["arch"] = sae_arch_name(arch);
    j["d_in"] = d_in;
    j["d_sae"] = d_sae;
    j["k"] = k;
    j["apply_b_dec_to_input"] = apply_b_dec_to_input;
    j["unit_norm_decoder"] = unit_norm_decoder;
    j["l1_coef"] = l1_coef;
    j["l0_coef"] = l0_coef;
    j["bandwidth"] = bandwidth;
    j["init_threshold"] = init_threshold;
    j["k_aux"] = k_aux;
    j["aux_coef"] = aux_coef;
    return j;
}

SaeConfig SaeConfig::from_json(const Json& j, const std::string& ctx) {
    SaeConfig c;
    c.arch = parse_sae_arch(j.at("arch", ctx).as_str(ctx + ": arch"));
    c.d_in = j.at("d_in", ctx).as_int(ctx + ": d_in");
    c.d_sae = j.at("d_sae", ctx).as_int(ctx + ": d_sae");
    c.k = (int)j.get_int("k", c.k);
    c.apply_b_dec_to_input = j.get_bool("apply_b_dec_to_input", true);
    c.unit_norm_decoder = j.get_bool("unit_norm_decoder", false);
    c.l1_coef = (float)j.get_num("l1_coef", c.l1_coef);
    c.l0_coef = (float)j.get_num("l0_coef", c.l0_coef);
    c.bandwidth = (float)j.get_num("bandwidth", c.bandwidth);
    c.init_threshold = (float)j.get_num("init_threshold", c.init_threshold);
    c.k_aux = (int)j.get_int("k_aux", 0);
    c.aux_coef = (float)j.get_num("aux_coef", c.aux_coef);
    c.validate(ctx);
    return c;
}

void SaeConfig::validate(const std::string& ctx) const {
    UNFOLD_CHECK(d_in > 0 && d_in <= (1 << 20), "%s: d_in %lld out of range [1, 2^20]", ctx.c_str(), (long long)d_in);
    UNFOLD_CHECK(d_sae > 0 && d_sae <= (1 << 24), "%s: d_sae %lld out of range [1, 2^24]", ctx.c_str(),
                 (long long)d_sae);
    if (arch == SaeArch::TOPK || arch == SaeArch::BATCHTOPK)
        UNFOLD_CHECK(k > 0 && k <= d_sae, "%s: k %d must be in [1, d_sae=%lld]", ctx.c_str(), k, (long long)d_sae);
    UNFOLD_CHECK(k_aux >= 0 && k_aux <= d_sae, "%s: k_aux %d must be in [0, d_sae=%lld]", ctx.c_str(), k_aux,
                 (long long)d_sae);
    UNFOLD_CHECK(bandwidth > 0 && std::isfinite(bandwidth), "%s: bandwidth must be > 0", ctx.c_str());
    for (auto [name, v] : {std::pair<const char*, float>{"l1_coef", l1_coef}, {"l0_coef", l0_coef},
                           {"aux_coef", aux_coef}, {"init_threshold", init_threshold}})
        UNFOLD_CHECK(v >= 0 && std::isfinite(v), "%s: %s must be a finite number >= 0, got %g", ctx.c_str(), name,
                     (double)v);
}

Sae sae_init(const SaeConfig& cfg, uint64_t seed, float dec_init_norm) {
    UNFOLD_CHECK(cfg.d_in > 0 && cfg.d_sae > 0, "SAE needs d_in > 0 and d_sae > 0");
    Sae s;
    s.cfg = cfg;
    const int64_t d = cfg.d_in, F = cfg.d_sae;
    s.params.add("W_enc", {d, F});
    s.params.add("b_enc", {F});
    s.params.add("W_dec", {F, d});
    s.params.add("b_dec", {d});
    if (cfg.arch == SaeArch::JUMPRELU) s.params.add("log_threshold", {F});
    if (cfg.arch == SaeArch::GATED) {  // r_mag = b_mag = 0 (ParamSet zero-initialises): magnitude path = gate path
        s.params.add("r_mag", {F});
        s.params.add("b_mag", {F});
    }
    s.params.finalize();
    float* Wd = s.W_dec();
    rng_fill_normal(Wd, (size_t)(F * d), seed, /*stream=*/0x5AE0, 0, 0.0f, 1.0f);
    for (int64_t i = 0; i < F; i++) {
        double n2 = 0;
        for (int64_t j = 0; j < d; j++) n2 += (double)Wd[i * d + j] * Wd[i * d + j];
        float sc = dec_init_norm / (float)std::sqrt(std::max(n2, 1e-30));
        for (int64_t j = 0; j < d; j++) Wd[i * d + j] *= sc;
    }
    float* We = s.W_enc();
    for (int64_t i = 0; i < F; i++)
        for (int64_t j = 0; j < d; j++) We[j * F + i] = Wd[i * d + j];
    if (cfg.arch == SaeArch::JUMPRELU) {
        float lt = std::log(std::max(cfg.init_threshold, 1e-30f));
        float* p = s.params.get("log_threshold");
        for (int64_t i = 0; i < F; i++) p[i] = lt;
    }
    return s;
}

void sae_encode(const Sae& sae, const float* x, int64_t B, SparseCodes& out) {
    SaeEncodeScratch scratch;
    sae_encode(sae, x, B, out, scratch);
}

namespace {

// codes of rows x[0..B) into out (replaced)
void encode_rows(const Sae& sae, const float* x, int64_t B, SparseCodes& out, SaeEncodeScratch& scratch) {
    const int64_t d = sae.d(), F = sae.F();
    std::vector<float>& xc = scratch.xc;
    std::vector<float>& pre = scratch.pre;
    if (xc.size() < (size_t)(B * d)) xc.resize((size_t)(B * d));
    if (pre.size() < (size_t)(B * F)) pre.resize((size_t)(B * F));
    const bool topk = sae.cfg.arch == SaeArch::TOPK, gated = sae.cfg.arch == SaeArch::GATED;
    sae_encoder_pre(sae, x, B, xc.data(), pre.data(), !topk && !gated);
    out.rows = B;
    out.off.assign((size_t)B + 1, 0);
    out.idx.clear();
    out.val.clear();
    switch (sae.cfg.arch) {
        case SaeArch::TOPK: topk_rows(pre.data(), B, F, sae.cfg.k, out, sae.b_enc()); break;
        case SaeArch::STANDARD: threshold_rows(pre.data(), B, F, nullptr, 0.0f, out); break;
        case SaeArch::BATCHTOPK: threshold_rows(pre.data(), B, F, nullptr, sae.threshold, out); break;
        case SaeArch::JUMPRELU: {
            std::vector<float> th((size_t)F);
            const float* lt = sae.params.get("log_threshold");
            for (int64_t i = 0; i < F; i++) th[i] = std::exp(lt[i]);
            threshold_rows(pre.data(), B, F, th.data(), 0.0f, out);
            break;
        }
        case SaeArch::GATED: gated_rows(sae, pre.data(), B, out); break;
    }
}

}  // namespace

void sae_encode(const Sae& sae, const float* x, int64_t B, SparseCodes& out, SaeEncodeScratch& scratch) {
    // On one thread (a caller that runs batches in parallel itself, or --threads 1), rows go through in blocks
    // whose pre-activations stay in the L2 cache (~256 KB) between the product and the selection, instead of
    // one [B, F] product written to memory and read back. With more threads, one product over all rows.
    const int64_t F = sae.F();
    const int64_t R = std::max<int64_t>(8, (int64_t)(256 * 1024 / 4) / std::max<int64_t>(1, F));
    const bool blocked = sae.cfg.arch != SaeArch::GATED && B > R && (omp_in_parallel() || omp_get_max_threads() == 1);
    if (!blocked) {
        encode_rows(sae, x, B, out, scratch);
        return;
    }
    out.rows = B;
    out.off.assign(1, 0);
    out.idx.clear();
    out.val.clear();
    SparseCodes& c = scratch.block;
    for (int64_t r0 = 0; r0 < B; r0 += R) {
        const int64_t n = std::min(R, B - r0);
        encode_rows(sae, x + r0 * sae.d(), n, c, scratch);
        const int64_t base = (int64_t)out.idx.size();
        for (int64_t r = 0; r < n; r++) out.off.push_back(base + c.off[(size_t)r + 1]);
        out.idx.insert(out.idx.end(), c.idx.begin(), c.idx.end());
        out.val.insert(out.val.end(), c.val.begin(), c.val.end());
    }
}

void sae_decode(const Sae& sae, const SparseCodes& codes, float* xhat) {
    sparse_decode(codes, sae.W_dec(), sae.b_dec(), sae.d(), xhat);
}

void sae_project_decoder_grad(Sae& sae) {
    const int64_t d = sae.d(), F = sae.F();
    const float* W = sae.W_dec();
    float* G = sae.params.grad_of("W_dec");
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < F; i++) {
        const float* w = W + i * d;
        float* g = G + i * d;
        double n2 = 0, dot = 0;
        for (int64_t j = 0; j < d; j++) {
            n2 += (double)w[j] * w[j];
            dot += (double)w[j] * g[j];
        }
        if (n2 <= 0) continue;
        float c = (float)(dot / n2);
        for (int64_t j = 0; j < d; j++) g[j] -= c * w[j];
    }
}

void sae_normalize_decoder(Sae& sae) {
    const int64_t d = sae.d(), F = sae.F();
    float* W = sae.W_dec();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < F; i++) {
        float* w = W + i * d;
        double n2 = 0;
        for (int64_t j = 0; j < d; j++) n2 += (double)w[j] * w[j];
        if (n2 <= 0) continue;
        float sc = (float)(1.0 / std::sqrt(n2));
        for (int64_t j = 0; j < d; j++) w[j] *= sc;
    }
}

void jumprelu_ste(const float* z, const float* theta, int64_t n, float eps, float* out, float* dtheta, float* dz) {
    for (int64_t i = 0; i < n; i++) {
        float u = (z[i] - theta[i]) / eps;
        bool on = z[i] > theta[i];
        float K = (std::fabs(u) < 0.5f) ? 1.0f : 0.0f;
        if (out) out[i] = on ? z[i] : 0.0f;
        if (dtheta) dtheta[i] = -(theta[i] / eps) * K;
        if (dz) dz[i] = on ? 1.0f : 0.0f;
    }
}

void heaviside_ste(const float* z, const float* theta, int64_t n, float eps, float* out, float* dtheta) {
    for (int64_t i = 0; i < n; i++) {
        float u = (z[i] - theta[i]) / eps;
        float K = (std::fabs(u) < 0.5f) ? 1.0f : 0.0f;
        if (out) out[i] = z[i] > theta[i] ? 1.0f : 0.0f;
        if (dtheta) dtheta[i] = -(1.0f / eps) * K;
    }
}

}  // namespace unfold
