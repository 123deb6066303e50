// test_sae_grad.cpp: finite-difference gradient checks (double-precision reference loss) for every SAE
// architecture, plus the JumpReLU / Heaviside straight-through estimators against their definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "sae/sae_kernels.h"
#include "unfold/core/rng.h"
#include "unfold/sae/sae.h"

using namespace unfold;

namespace {

// The loss of sae.h in double precision with the active sets chosen by the float forward (fixed sets make
// the loss smooth; the STE parts are checked against their definitions separately).
struct RefCtx {
    const Sae* sae;
    const float* x;
    int64_t B;
    std::vector<std::vector<char>> active;  // [B][F] kept latents (sparse archs)
    std::vector<std::vector<char>> aux;     // [B][F] AuxK latents
    std::vector<double> e_fixed;            // [B*d] detached residual for AuxK
    float coef_scale = 1.0f;
};

double ref_loss(const RefCtx& c, const std::vector<double>& P) {
    const Sae& s = *c.sae;
    const SaeConfig& cfg = s.cfg;
    const int64_t d = s.d(), F = s.F(), B = c.B;
    const double* We = P.data() + s.params.view("W_enc").offset;
    const double* be = P.data() + s.params.view("b_enc").offset;
    const double* Wd = P.data() + s.params.view("W_dec").offset;
    const double* bd = P.data() + s.params.view("b_dec").offset;
    double loss = 0;
    for (int64_t b = 0; b < B; b++) {
        std::vector<double> xc(d), pre(F), f(F, 0.0), xh(d);
        for (int64_t j = 0; j < d; j++) xc[j] = c.x[b * d + j] - (cfg.apply_b_dec_to_input ? bd[j] : 0.0);
        for (int64_t i = 0; i < F; i++) {
            double s2 = be[i];
            for (int64_t j = 0; j < d; j++) s2 += xc[j] * We[j * F + i];
            pre[i] = s2;
        }
        for (int64_t i = 0; i < F; i++) {
            if (cfg.arch == SaeArch::STANDARD) f[i] = std::max(pre[i], 0.0);
            if (cfg.arch == SaeArch::TOPK || cfg.arch == SaeArch::BATCHTOPK) f[i] = c.active[b][i] ? pre[i] : 0.0;
            if (cfg.arch == SaeArch::JUMPRELU) {
                double th = std::exp(P[s.params.view("log_threshold").offset + i]);
                f[i] = pre[i] > th ? pre[i] : 0.0;
                if (pre[i] > th) loss += cfg.l0_coef * c.coef_scale / (double)B;  // L0 term (flat in FD)
            }
        }
        for (int64_t j = 0; j < d; j++) {
            double v = bd[j];
            for (int64_t i = 0; i < F; i++) v += f[i] * Wd[i * d + j];
            xh[j] = v;
            loss += (c.x[b * d + j] - v) * (c.x[b * d + j] - v) / (double)B;
        }
        if (cfg.arch == SaeArch::STANDARD)
            for (int64_t i = 0; i < F; i++) {
                double n2 = 0;
                for (int64_t j = 0; j < d; j++) n2 += Wd[i * d + j] * Wd[i * d + j];
                loss += cfg.l1_coef * c.coef_scale * f[i] * std::sqrt(n2) / (double)B;
            }
        if (!c.aux.empty()) {
            for (int64_t j = 0; j < d; j++) {
                double eh = 0;
                for (int64_t i = 0; i < F; i++)
                    if (c.aux[b][i]) eh += pre[i] * Wd[i * d + j];
                double r = c.e_fixed[b * d + j] - eh;
                loss += cfg.aux_coef * r * r / (double)B;
            }
        }
    }
    return loss;
}

void check_arch(SaeArch arch, bool with_aux, bool apply_bdec = true, double sparse_density = 0.05) {
    SaeConfig cfg;
    cfg.arch = arch;
    cfg.d_in = 6;
    cfg.d_sae = 10;
    cfg.k = 3;
    cfg.k_aux = 2;
    cfg.l1_coef = 0.3f;
    cfg.apply_b_dec_to_input = apply_bdec;
    cfg.init_threshold = 0.05f;
    Sae s = sae_init(cfg, 7, 0.8f);
    const int64_t B = 5, d = 6, F = 10;
    // perturb biases so they matter
    Rng rng(3, 1);
    for (int64_t i = 0; i < F; i++) s.b_enc()[i] = 0.1f * (float)rng.normal();
    for (int64_t j = 0; j < d; j++) s.b_dec()[j] = 0.1f * (float)rng.normal();
    for (size_t i = 0; i < (size_t)(d * F); i++) s.W_enc()[i] += 0.2f * (float)rng.normal();
    std::vector<float> x((size_t)(B * d));
    for (auto& v : x) v = (float)rng.normal();
    std::vector<uint8_t> dead((size_t)F, 0);
    if (with_aux) dead[1] = dead[4] = dead[7] = dead[8] = 1;

    SaeWork w;
    w.sparse_max_density = sparse_density;
    s.params.zero_grad();
    SaeLoss L = sae_forward_backward(s, x.data(), B, w, true, 1.0f, with_aux ? dead.data() : nullptr, nullptr);

    RefCtx c;
    c.sae = &s;
    c.x = x.data();
    c.B = B;
    if (arch == SaeArch::TOPK || arch == SaeArch::BATCHTOPK) {
        c.active.assign(B, std::vector<char>(F, 0));
        for (int64_t b = 0; b < B; b++)
            for (int64_t p = w.codes.off[b]; p < w.codes.off[b + 1]; p++) c.active[b][w.codes.idx[p]] = 1;
        if (arch == SaeArch::TOPK)
            for (int64_t b = 0; b < B; b++) EXPECT_LE(w.codes.off[b + 1] - w.codes.off[b], 3);
        else
            EXPECT_EQ(w.codes.off[B], 15);  // k * B kept over the batch (pre > 0 has more than 15 entries)
        if (with_aux) {
            c.aux.assign(B, std::vector<char>(F, 0));
            int n = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t p = w.aux.off[b]; p < w.aux.off[b + 1]; p++) {
                    c.aux[b][w.aux.idx[p]] = 1;
                    EXPECT_TRUE(dead[w.aux.idx[p]]);
                    n++;
                }
            EXPECT_GT(n, 0);
            c.e_fixed.resize((size_t)(B * d));
            for (int64_t i = 0; i < B * d; i++) c.e_fixed[i] = (double)x[i] - (double)w.xhat[i];
            EXPECT_GT(L.aux, 0.0);
        }
    }
    std::vector<double> P(s.params.data.begin(), s.params.data.end());
    double l0 = ref_loss(c, P);
    EXPECT_NEAR(l0, L.loss, 1e-4 * std::max(1.0, std::fabs(l0)));
    const double h = 1e-6;
    double max_rel = 0;
    int checked = 0;
    for (const auto& v : s.params.views) {
        if (v.name == "log_threshold") continue;  // STE: checked against its definition below
        for (size_t q = 0; q < v.numel; q++) {
            size_t i = v.offset + q;
            std::vector<double> Pp = P, Pm = P;
            Pp[i] += h;
            Pm[i] -= h;
            double fd = (ref_loss(c, Pp) - ref_loss(c, Pm)) / (2 * h);
            double an = s.params.grad[i];
            double err = std::fabs(fd - an) / std::max(1e-2, std::fabs(fd) + std::fabs(an));
            max_rel = std::max(max_rel, err);
            EXPECT_LT(err, 2e-3) << sae_arch_name(arch) << " " << v.name << "[" << q << "] fd " << fd << " an " << an;
            checked++;
        }
    }
    EXPECT_GT(checked, 100);
}

}  // namespace

TEST(SaeGrad, StandardReluL1) { check_arch(SaeArch::STANDARD, false); }
TEST(SaeGrad, StandardNoBdecSubtraction) { check_arch(SaeArch::STANDARD, false, false); }
// the same loss through the sparse kernels (used once few pre-activations are positive)
TEST(SaeGrad, StandardReluL1SparsePath) { check_arch(SaeArch::STANDARD, false, true, 1.0); }

// Dense and sparse ReLU paths agree on loss and gradients (up to summation order).
TEST(SaeGrad, StandardDenseAndSparsePathsAgree) {
    SaeConfig cfg;
    cfg.arch = SaeArch::STANDARD;
    cfg.d_in = 16;
    cfg.d_sae = 40;
    cfg.l1_coef = 0.2f;
    Sae s = sae_init(cfg, 3, 1.0f);
    for (int64_t i = 0; i < 40; i++) s.b_enc()[i] = -0.3f;  // sparse-ish codes
    std::vector<float> x(64 * 16);
    rng_fill_normal(x.data(), x.size(), 8, 8, 0, 0.0f, 1.0f);
    SaeWork wd, ws;
    wd.sparse_max_density = 0.0;  // never sparse
    ws.sparse_max_density = 1.0;  // always sparse
    std::vector<int64_t> fd(40, 0), fs(40, 0);
    s.params.zero_grad();
    SaeLoss a = sae_forward_backward(s, x.data(), 64, wd, true, 0.7f, nullptr, fd.data());
    std::vector<float> gd = s.params.grad;
    s.params.zero_grad();
    SaeLoss b = sae_forward_backward(s, x.data(), 64, ws, true, 0.7f, nullptr, fs.data());
    EXPECT_NEAR(a.loss, b.loss, 1e-5 * std::fabs(a.loss));
    EXPECT_NEAR(a.sparsity, b.sparsity, 1e-5 * std::fabs(a.sparsity) + 1e-9);
    EXPECT_GT(a.sparsity, 0.0);
    EXPECT_EQ(a.l0, b.l0);
    EXPECT_EQ(fd, fs);
    for (size_t i = 0; i < gd.size(); i++) EXPECT_NEAR(gd[i], s.params.grad[i], 1e-5 + 1e-4 * std::fabs(gd[i])) << i;
}
TEST(SaeGrad, TopK) { check_arch(SaeArch::TOPK, false); }
TEST(SaeGrad, TopKWithAuxK) { check_arch(SaeArch::TOPK, true); }
TEST(SaeGrad, BatchTopK) { check_arch(SaeArch::BATCHTOPK, false); }
TEST(SaeGrad, BatchTopKWithAuxK) { check_arch(SaeArch::BATCHTOPK, true); }
TEST(SaeGrad, JumpReluNonThresholdParams) { check_arch(SaeArch::JUMPRELU, false); }

TEST(SaeGrad, JumpReluSteExactValues) {
    const float z[4] = {1.0f, 1.4f, 1.6f, 2.0f};
    const float th[4] = {1.5f, 1.5f, 1.5f, 1.5f};
    float out[4], dth[4], dz[4], h[4], hdth[4];
    jumprelu_ste(z, th, 4, 0.5f, out, dth, dz);
    heaviside_ste(z, th, 4, 0.5f, h, hdth);
    const float e_out[4] = {0, 0, 1.6f, 2.0f}, e_dth[4] = {0, -3, -3, 0}, e_dz[4] = {0, 0, 1, 1};
    const float e_h[4] = {0, 0, 1, 1}, e_hdth[4] = {0, -2, -2, 0};
    for (int i = 0; i < 4; i++) {
        EXPECT_FLOAT_EQ(out[i], e_out[i]);
        EXPECT_FLOAT_EQ(dth[i], e_dth[i]);
        EXPECT_FLOAT_EQ(dz[i], e_dz[i]);
        EXPECT_FLOAT_EQ(h[i], e_h[i]);
        EXPECT_FLOAT_EQ(hdth[i], e_hdth[i]);
    }
}

// The log-threshold gradient of the full model equals the STE definition summed over the batch:
// dL/dlog(theta_i) = theta_i * sum_b [ df_bi * (-(theta_i/eps) K_bi) + (l0/B) * (-(1/eps) K_bi) ].
TEST(SaeGrad, JumpReluThresholdGradMatchesDefinition) {
    SaeConfig cfg;
    cfg.arch = SaeArch::JUMPRELU;
    cfg.d_in = 4;
    cfg.d_sae = 3;
    cfg.bandwidth = 2.0f;  // wide kernel so most entries fall inside it
    cfg.l0_coef = 0.7f;
    cfg.init_threshold = 0.3f;
    cfg.apply_b_dec_to_input = false;
    Sae s = sae_init(cfg, 11, 1.0f);
    const int64_t B = 4, d = 4, F = 3;
    Rng rng(5, 2);
    std::vector<float> x((size_t)(B * d));
    for (auto& v : x) v = (float)rng.normal();
    SaeWork w;
    s.params.zero_grad();
    sae_forward_backward(s, x.data(), B, w, true, 1.0f, nullptr, nullptr);
    // recompute the definition from pre, xhat
    std::vector<double> expect(F, 0.0);
    int inside = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < F; i++) {
            double z = w.pre[b * F + i], t = 0.3;
            double u = (z - t) / cfg.bandwidth;
            if (std::fabs(u) >= 0.5) continue;
            inside++;
            double df = 0;  // d mse / d f_bi = sum_j -2 (x - xhat)_bj / B * W_dec[i, j]
            for (int64_t j = 0; j < d; j++)
                df += -2.0 * (x[b * d + j] - w.xhat[b * d + j]) / B * s.W_dec()[i * d + j];
            expect[i] += t * (df * (-(t / cfg.bandwidth)) + cfg.l0_coef / B * (-(1.0 / cfg.bandwidth)));
        }
    EXPECT_GT(inside, 3);
    const float* g = s.params.grad_of("log_threshold");
    for (int64_t i = 0; i < F; i++) EXPECT_NEAR(g[i], expect[i], 1e-4 * std::max(1.0, std::fabs(expect[i])));
}

TEST(SaeGrad, DecoderGradProjectionIsOrthogonal) {
    SaeConfig cfg;
    cfg.arch = SaeArch::TOPK;
    cfg.d_in = 5;
    cfg.d_sae = 7;
    cfg.k = 2;
    Sae s = sae_init(cfg, 1, 2.0f);
    Rng rng(9, 0);
    for (auto& g : s.params.grad) g = (float)rng.normal();
    sae_project_decoder_grad(s);
    for (int64_t i = 0; i < 7; i++) {
        double dot = 0;
        for (int64_t j = 0; j < 5; j++) dot += s.W_dec()[i * 5 + j] * s.params.grad_of("W_dec")[i * 5 + j];
        EXPECT_NEAR(dot, 0.0, 1e-5);
    }
    sae_normalize_decoder(s);
    for (int64_t i = 0; i < 7; i++) {
        double n2 = 0;
        for (int64_t j = 0; j < 5; j++) n2 += s.W_dec()[i * 5 + j] * s.W_dec()[i * 5 + j];
        EXPECT_NEAR(n2, 1.0, 1e-5);
    }
}

// Ties go to the lower index; rising, falling and all-negative rows; the bias is added to every kept value.
TEST(SaeKernels, TopKTiesAndOrderedRows) {
    const int64_t F = 200;
    const int k = 7;
    std::vector<float> pre((size_t)(4 * F));
    for (int64_t i = 0; i < F; i++) {
        pre[(size_t)i] = 1.0f;                          // all equal: 0..6
        pre[(size_t)(F + i)] = (float)i;                // rising: the last 7
        pre[(size_t)(2 * F + i)] = (float)(F - i);      // falling: the first 7
        pre[(size_t)(3 * F + i)] = -1.0f - (float)i;    // none positive: nothing
    }
    std::vector<float> bias((size_t)F, 0.0f);
    bias[150] = 1000.0f;  // row 3's entry 150 becomes 849 (> 0), rows 0-2 gain it as their strongest
    SparseCodes c;
    topk_rows(pre.data(), 4, F, k, c, bias.data());
    auto row = [&](int64_t b) { return std::vector<int32_t>(c.idx.begin() + c.off[b], c.idx.begin() + c.off[b + 1]); };
    EXPECT_EQ(row(0), (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 150}));
    EXPECT_EQ(row(1), (std::vector<int32_t>{150, 194, 195, 196, 197, 198, 199}));
    EXPECT_EQ(row(2), (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 150}));
    EXPECT_EQ(row(3), (std::vector<int32_t>{150}));
    EXPECT_EQ(c.val[(size_t)c.off[3]], 849.0f);
    EXPECT_EQ(c.val[(size_t)c.off[1]], 1150.0f);
}

// Selection kernels against brute force on random data (ties are impossible with continuous values).
TEST(SaeKernels, TopKAndBatchTopKSelectTheLargest) {
    const int64_t B = 37, F = 300;
    std::vector<float> pre((size_t)(B * F));
    rng_fill_normal(pre.data(), pre.size(), 4, 4, 0, 0.0f, 1.0f);
    SparseCodes c;
    for (int k : {1, 5, 16, 100}) {
        topk_rows(pre.data(), B, F, k, c);
        for (int64_t b = 0; b < B; b++) {
            std::vector<float> row(pre.begin() + b * F, pre.begin() + (b + 1) * F);
            std::sort(row.begin(), row.end(), std::greater<float>());
            int want = 0;
            for (int q = 0; q < k; q++) want += row[q] > 0;
            ASSERT_EQ(c.off[b + 1] - c.off[b], want);
            for (int64_t p = c.off[b]; p < c.off[b + 1]; p++) {
                EXPECT_GE(c.val[p], row[k - 1]);
                EXPECT_EQ(c.val[p], pre[b * F + c.idx[p]]);
            }
        }
    }
    std::vector<float> all(pre);
    std::sort(all.begin(), all.end(), std::greater<float>());
    for (int64_t K : {1, 50, 1000, 5000}) {
        float mn = batch_topk(pre.data(), B, F, K, c);
        ASSERT_EQ(c.off[B], K);
        EXPECT_EQ(mn, all[K - 1]);
        for (int64_t p = 0; p < K; p++) EXPECT_GE(c.val[p], all[K - 1]);
    }
}

// ---- Gated SAE ------------------------------------------------------------------------------------------
namespace {

// The gated loss of sae.h in double precision. The auxiliary reconstruction and the sparsity term's decoder
// norms read W_dec / b_dec from `frozen` (the stop-gradient copy), everything else from P, so finite
// differences over P see exactly the gradient the loss defines. Also returns its parts (mse, sparsity, aux).
double gated_ref_loss(const Sae& s, const float* x, int64_t B, float coef_scale, const std::vector<double>& P,
                      const std::vector<double>& frozen, double* parts = nullptr, double* min_abs_pre = nullptr) {
    const SaeConfig& cfg = s.cfg;
    const int64_t d = s.d(), F = s.F();
    auto at = [&](const std::vector<double>& V, const char* name) { return V.data() + s.params.view(name).offset; };
    const double *We = at(P, "W_enc"), *bg = at(P, "b_enc"), *Wd = at(P, "W_dec"), *bd = at(P, "b_dec");
    const double *rm = at(P, "r_mag"), *bm = at(P, "b_mag");
    const double *Wd0 = at(frozen, "W_dec"), *bd0 = at(frozen, "b_dec");
    double mse = 0, sp = 0, aux = 0, mn = 1e30;
    for (int64_t b = 0; b < B; b++) {
        std::vector<double> xc(d), f(F), fg(F);
        for (int64_t j = 0; j < d; j++) xc[j] = x[b * d + j] - (cfg.apply_b_dec_to_input ? bd[j] : 0.0);
        for (int64_t i = 0; i < F; i++) {
            double g = bg[i], m = bm[i];
            for (int64_t j = 0; j < d; j++) {
                g += xc[j] * We[j * F + i];
                m += xc[j] * We[j * F + i] * std::exp(rm[i]);  // xc @ (W_enc * exp(r_mag)) + b_mag
            }
            fg[i] = std::max(g, 0.0);
            f[i] = g > 0 ? std::max(m, 0.0) : 0.0;
            mn = std::min({mn, std::fabs(g), std::fabs(m)});
        }
        for (int64_t i = 0; i < F; i++) {
            double n2 = 0;
            for (int64_t j = 0; j < d; j++) n2 += Wd0[i * d + j] * Wd0[i * d + j];
            sp += cfg.l1_coef * coef_scale * fg[i] * std::sqrt(n2) / (double)B;
        }
        for (int64_t j = 0; j < d; j++) {
            double v = bd[j], v0 = bd0[j];
            for (int64_t i = 0; i < F; i++) {
                v += f[i] * Wd[i * d + j];
                v0 += fg[i] * Wd0[i * d + j];
            }
            mse += (x[b * d + j] - v) * (x[b * d + j] - v) / (double)B;
            aux += (x[b * d + j] - v0) * (x[b * d + j] - v0) / (double)B;
        }
    }
    if (parts) {
        parts[0] = mse;
        parts[1] = sp;
        parts[2] = aux;
    }
    if (min_abs_pre) *min_abs_pre = mn;
    return mse + sp + aux;
}

void check_gated(bool apply_bdec, float coef_scale, double sparse_density = 0.0) {
    SaeConfig cfg;
    cfg.arch = SaeArch::GATED;
    cfg.d_in = 6;
    cfg.d_sae = 10;
    cfg.l1_coef = 0.3f;
    cfg.apply_b_dec_to_input = apply_bdec;
    Sae s = sae_init(cfg, 7, 0.8f);
    const int64_t B = 5, d = 6, F = 10;
    ASSERT_EQ(s.params.size(), (size_t)(2 * d * F + 3 * F + d));
    for (int64_t i = 0; i < F; i++) {  // SAELens / paper init: r_mag = b_mag = b_gate = 0
        EXPECT_EQ(s.params.get("r_mag")[i], 0.0f);
        EXPECT_EQ(s.params.get("b_mag")[i], 0.0f);
        EXPECT_EQ(s.b_enc()[i], 0.0f);
    }
    // perturb everything so each parameter matters (r_mag != 0: the magnitude path differs from the gate)
    Rng rng(3, 1);
    for (int64_t i = 0; i < F; i++) s.b_enc()[i] = 0.2f * (float)rng.normal();
    for (int64_t i = 0; i < F; i++) s.params.get("r_mag")[i] = 0.4f * (float)rng.normal();
    for (int64_t i = 0; i < F; i++) s.params.get("b_mag")[i] = 0.2f * (float)rng.normal();
    for (int64_t j = 0; j < d; j++) s.b_dec()[j] = 0.1f * (float)rng.normal();
    for (size_t i = 0; i < (size_t)(d * F); i++) s.W_enc()[i] += 0.2f * (float)rng.normal();
    std::vector<float> x((size_t)(B * d));
    for (auto& v : x) v = (float)rng.normal();

    SaeWork w;
    w.sparse_max_density = sparse_density;
    s.params.zero_grad();
    std::vector<int64_t> fires((size_t)F, 0);
    SaeLoss L = sae_forward_backward(s, x.data(), B, w, true, coef_scale, nullptr, fires.data());
    EXPECT_EQ(L.dense_products, sparse_density >= 1.0 ? 1 : 7);
    std::vector<double> P(s.params.data.begin(), s.params.data.end());
    double parts[3], mn;
    const double l0 = gated_ref_loss(s, x.data(), B, coef_scale, P, P, parts, &mn);
    // inputs away from the gate's (and relu's) kinks: FD steps of 1e-6 cannot cross them
    ASSERT_GT(mn, 1e-3);
    EXPECT_NEAR(L.loss, l0, 1e-5 * std::max(1.0, std::fabs(l0)));
    EXPECT_NEAR(L.mse, parts[0], 1e-5 * std::max(1.0, parts[0]));
    EXPECT_NEAR(L.sparsity, parts[1], 1e-5 * std::max(1.0, parts[1]));
    EXPECT_NEAR(L.aux, parts[2], 1e-5 * std::max(1.0, parts[2]));
    EXPECT_GT(L.sparsity, 0.0);
    EXPECT_GT(L.aux, 0.0);
    // some latents are gated off, some on with relu(pi_mag) = 0, some on
    int64_t on = 0;
    for (auto c : fires) on += c;
    EXPECT_EQ((double)on / B, L.l0);
    EXPECT_GT(L.l0, 1.0);
    EXPECT_LT(L.l0, 9.0);
    // the inference encoder gives the same codes as the training forward
    SparseCodes c;
    sae_encode(s, x.data(), B, c);
    ASSERT_EQ(c.off[B], on);
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = c.off[b]; p < c.off[b + 1]; p++) EXPECT_EQ(c.val[p], w.f[b * F + c.idx[p]]);

    const double h = 1e-6;
    double max_rel = 0;
    int checked = 0, nonzero = 0;
    for (const auto& v : s.params.views) {
        for (size_t q = 0; q < v.numel; q++) {
            const size_t i = v.offset + q;
            std::vector<double> Pp = P, Pm = P;
            Pp[i] += h;
            Pm[i] -= h;
            // the frozen decoder copy stays at P: the aux term's decoder does not move
            const double fd = (gated_ref_loss(s, x.data(), B, coef_scale, Pp, P) -
                               gated_ref_loss(s, x.data(), B, coef_scale, Pm, P)) / (2 * h);
            const double an = s.params.grad[i];
            const double err = std::fabs(fd - an) / std::max(1e-2, std::fabs(fd) + std::fabs(an));
            max_rel = std::max(max_rel, err);
            EXPECT_LT(err, 2e-3) << v.name << "[" << q << "] fd " << fd << " an " << an;
            checked++;
            nonzero += std::fabs(fd) > 1e-3;
        }
    }
    EXPECT_EQ(checked, (int)s.params.size());
    EXPECT_GT(nonzero, 80);
    std::printf("gated grad (apply_b_dec %d, %s path): %d params, max rel err %.2e, L0 %.2f\n", (int)apply_bdec,
                L.dense_products == 1 ? "sparse" : "dense", checked, max_rel, L.l0);
    // the aux / sparsity decoder really is stop-gradient: an attached decoder would change dL/dW_dec
    std::vector<double> Pp = P, Pm = P;
    const size_t iw = s.params.view("W_dec").offset + 3;
    Pp[iw] += h;
    Pm[iw] -= h;
    const double attached = (gated_ref_loss(s, x.data(), B, coef_scale, Pp, Pp) -
                             gated_ref_loss(s, x.data(), B, coef_scale, Pm, Pm)) / (2 * h);
    const double fd_frozen = (gated_ref_loss(s, x.data(), B, coef_scale, Pp, P) -
                              gated_ref_loss(s, x.data(), B, coef_scale, Pm, P)) / (2 * h);
    EXPECT_GT(std::fabs(attached - fd_frozen), 1e-3);
    EXPECT_NEAR(s.params.grad[iw], fd_frozen, 2e-3 * std::max(1e-2, std::fabs(fd_frozen)));
}

}  // namespace

TEST(SaeGrad, Gated) { check_gated(true, 1.0f); }
TEST(SaeGrad, GatedNoBdecSubtractionWithCoefWarmup) { check_gated(false, 0.6f); }
// the same loss through the sparse kernels (used once few gates are open)
TEST(SaeGrad, GatedSparsePath) {
    check_gated(true, 1.0f, 1.0);
    check_gated(false, 0.6f, 1.0);
}

// Dense and sparse gated paths agree on loss, codes, firing counts and gradients (up to summation order).
TEST(SaeGrad, GatedDenseAndSparsePathsAgree) {
    SaeConfig cfg;
    cfg.arch = SaeArch::GATED;
    cfg.d_in = 24;
    cfg.d_sae = 80;
    cfg.l1_coef = 0.4f;
    Sae s = sae_init(cfg, 3, 1.0f);
    for (int64_t i = 0; i < 80; i++) s.b_enc()[i] = -0.4f;  // sparse-ish gates
    rng_fill_normal(s.params.get("r_mag"), 80, 8, 1, 0, 0.0f, 0.3f);
    rng_fill_normal(s.params.get("b_mag"), 80, 8, 2, 0, 0.0f, 0.2f);
    std::vector<float> x(96 * 24);
    rng_fill_normal(x.data(), x.size(), 8, 8, 0, 0.0f, 1.0f);
    SaeWork wd, ws;
    wd.sparse_max_density = 0.0;  // never sparse
    ws.sparse_max_density = 1.0;  // always sparse
    std::vector<int64_t> fd(80, 0), fs(80, 0);
    s.params.zero_grad();
    SaeLoss a = sae_forward_backward(s, x.data(), 96, wd, true, 0.7f, nullptr, fd.data());
    std::vector<float> gd = s.params.grad;
    s.params.zero_grad();
    SaeLoss b = sae_forward_backward(s, x.data(), 96, ws, true, 0.7f, nullptr, fs.data());
    EXPECT_EQ(a.dense_products, 7);
    EXPECT_EQ(b.dense_products, 1);
    EXPECT_NEAR(a.loss, b.loss, 1e-5 * std::fabs(a.loss));
    EXPECT_NEAR(a.mse, b.mse, 1e-5 * std::fabs(a.mse));
    EXPECT_NEAR(a.aux, b.aux, 1e-5 * std::fabs(a.aux));
    EXPECT_EQ(a.sparsity, b.sparsity);
    EXPECT_GT(a.sparsity, 0.0);
    EXPECT_EQ(a.l0, b.l0);
    EXPECT_GT(a.l0, 2.0);
    EXPECT_LT(a.l0, 40.0);
    EXPECT_EQ(fd, fs);
    double gmax = 0;
    for (float g : gd) gmax = std::max(gmax, (double)std::fabs(g));
    EXPECT_GT(gmax, 1e-3);
    for (size_t i = 0; i < gd.size(); i++) EXPECT_NEAR(gd[i], s.params.grad[i], 1e-5 + 1e-4 * std::fabs(gd[i])) << i;
}
