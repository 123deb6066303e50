// decoder_geometry.cpp: logit effects, decoder neighbours, neuron alignment (see decoder_geometry.h).
#include "unfold/features/decoder_geometry.h"

#include <algorithm>
#include <cmath>

#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/lm/cache.h"

namespace unfold {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// the k largest (desc) / smallest (asc) entries of row[0..n) excluding `skip`
void top_k(const float* row, int64_t n, int k, int64_t skip, bool largest, std::vector<IdValue>& out) {
    out.clear();
    auto better = [&](const IdValue& a, const IdValue& b) {
        return largest ? (a.value > b.value || (a.value == b.value && a.id < b.id))
                       : (a.value < b.value || (a.value == b.value && a.id < b.id));
    };
    for (int64_t i = 0; i < n; i++) {
        if (i == skip || !std::isfinite(row[i])) continue;
        IdValue c{(int32_t)i, row[i]};
        if ((int)out.size() < k) {
            out.push_back(c);
            std::push_heap(out.begin(), out.end(), better);
        } else if (k > 0 && better(c, out.front())) {
            std::pop_heap(out.begin(), out.end(), better);
            out.back() = c;
            std::push_heap(out.begin(), out.end(), better);
        }
    }
    std::sort(out.begin(), out.end(), better);
}

}  // namespace

bool is_neuron_basis_hook(const std::string& hook) {
    return ends_with(hook, "mlp.hook_post") || ends_with(hook, "mlp.hook_pre");
}

bool has_logit_path(const LmConfig& cfg, const std::string& hook) {
    (void)cfg;
    for (const char* s : {"hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out",
                          "mlp.hook_post"})
        if (ends_with(hook, s)) return true;
    return hook == "hook_embed" || hook == "hook_pos_embed";
}

void feature_logit_effects(const LmModel& m, const Sae& sae, const std::string& hook, int k,
                           std::vector<std::vector<IdValue>>& promoted, std::vector<std::vector<IdValue>>& suppressed,
                           const Context& ctx) {
    UNFOLD_CHECK(has_logit_path(m.cfg, hook), "hook '%s' has no linear path to the logits", hook.c_str());
    const int64_t F = sae.F(), d = sae.d(), C = m.cfg.d_model, V = m.cfg.vocab;
    UNFOLD_CHECK(d == hook_row_dim(m.cfg, hook), "hook '%s': width differs from the SAE's d_in %lld", hook.c_str(),
                 (long long)d);
    const bool via_mlp = is_neuron_basis_hook(hook);
    int64_t layer = -1;
    if (via_mlp) layer = std::stoll(hook.substr(7, hook.find('.', 7) - 7));
    const float* g = m.p(m.lnf_w);
    const bool center = m.cfg.arch == LmArch::GPT2;
    const float* U = m.unembed();  // [V, C]
    promoted.assign((size_t)F, {});
    suppressed.assign((size_t)F, {});
    const int64_t block = std::max<int64_t>(1, std::min<int64_t>(F, (int64_t)(64 << 20) / (4 * std::max<int64_t>(V, 1))));
    std::vector<float> D((size_t)(block * C)), L((size_t)(block * V));
    Progress bar(ctx, "logit effects", F, "feature");
    for (int64_t f0 = 0; f0 < F; f0 += block) {
        const int64_t nb = std::min(block, F - f0);
        const float* W = sae.W_dec() + f0 * d;
        if (via_mlp) {  // residual direction = u @ W_out
            const LmLayerOffsets& P = m.layers[(size_t)layer];
            if (m.cfg.arch == LmArch::GPT2)
                matmul(D.data(), W, m.p(P.fcproj_w), nb, d, C);  // Conv1D [F_mlp, C]
            else
                matmul_bt(D.data(), W, m.p(P.fcproj_w), nb, d, C);  // [C, F_mlp]
        } else {
            std::copy(W, W + nb * d, D.begin());
        }
        for (int64_t r = 0; r < nb; r++) {
            float* u = D.data() + r * C;
            double mean = 0;
            if (center) {
                for (int64_t c = 0; c < C; c++) mean += u[c];
                mean /= (double)C;
            }
            for (int64_t c = 0; c < C; c++) u[c] = (float)((u[c] - mean) * g[c]);
        }
        matmul_bt(L.data(), D.data(), U, nb, C, V);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < nb; r++) {
            top_k(L.data() + r * V, V, k, -1, true, promoted[(size_t)(f0 + r)]);
            top_k(L.data() + r * V, V, k, -1, false, suppressed[(size_t)(f0 + r)]);
        }
        bar.update(f0 + nb);
    }
    bar.finish();
}

void decoder_neighbours(const Sae& sae, int k, std::vector<std::vector<IdValue>>& out, const Context& ctx) {
    const int64_t F = sae.F(), d = sae.d();
    std::vector<float> Wn((size_t)(F * d));
    for (int64_t f = 0; f < F; f++) {
        const float* w = sae.W_dec() + f * d;
        double s = 0;
        for (int64_t t = 0; t < d; t++) s += (double)w[t] * w[t];
        const float inv = s > 0 ? (float)(1.0 / std::sqrt(s)) : 0.0f;
        for (int64_t t = 0; t < d; t++) Wn[(size_t)(f * d + t)] = w[t] * inv;
    }
    out.assign((size_t)F, {});
    const int64_t block = std::max<int64_t>(1, std::min<int64_t>(F, (int64_t)(64 << 20) / (4 * F)));
    std::vector<float> S((size_t)(block * F));
    Progress bar(ctx, "decoder neighbours", F, "feature");
    for (int64_t f0 = 0; f0 < F; f0 += block) {
        const int64_t nb = std::min(block, F - f0);
        matmul_bt(S.data(), Wn.data() + f0 * d, Wn.data(), nb, d, F);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < nb; r++) top_k(S.data() + r * F, F, k, f0 + r, true, out[(size_t)(f0 + r)]);
        bar.update(f0 + nb);
    }
    bar.finish();
}

std::vector<NeuronAlignment> neuron_alignment(const Sae& sae) {
    const int64_t F = sae.F(), d = sae.d();
    std::vector<NeuronAlignment> out((size_t)F);
    for (int64_t f = 0; f < F; f++) {
        const float* w = sae.W_dec() + f * d;
        double s = 0;
        int64_t best = 0;
        for (int64_t t = 0; t < d; t++) {
            s += (double)w[t] * w[t];
            if (std::fabs(w[t]) > std::fabs(w[best])) best = t;
        }
        if (s <= 0) continue;
        out[(size_t)f].neuron = (int32_t)best;
        out[(size_t)f].cos = (float)(w[best] / std::sqrt(s));
        out[(size_t)f].share = (float)((double)w[best] * w[best] / s);
    }
    return out;
}

}  // namespace unfold
