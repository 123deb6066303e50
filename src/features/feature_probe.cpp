// feature_probe.cpp: trace, hypothesis, effect (see feature_probe.h).
#include "unfold/features/feature_probe.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/features/hook_stream.h"
#include "unfold/features/splice.h"
#include "unfold/lm/cache.h"
#include "log_softmax.h"

namespace unfold {

SparseCodes features_trace(const LmModel& m, const Sae& sae, const std::string& hook, const std::vector<int32_t>& ids) {
    const int64_t T = (int64_t)ids.size();
    UNFOLD_CHECK(T >= 1 && T <= m.cfg.n_ctx, "trace: %lld tokens, the model takes 1 to %lld", (long long)T,
                 (long long)m.cfg.n_ctx);
    for (int32_t t : ids)
        UNFOLD_CHECK(t >= 0 && t < m.cfg.vocab, "trace: token id %d outside the vocabulary [0, %lld)", t,
                     (long long)m.cfg.vocab);
    const int64_t d = hook_row_dim(m.cfg, hook);
    UNFOLD_CHECK(d == sae.d(), "hook '%s' has width %lld but the SAE's d_in is %lld", hook.c_str(), (long long)d,
                 (long long)sae.d());
    ForwardOptions fo = forward_options_for_hook(m.cfg, hook);
    std::vector<float> act;
    HookSet hs;
    hs.add(hook, [&](const std::string&, float* data, const Shape& s) { act.assign(data, data + shape_numel(s)); });
    fo.hooks = &hs;
    LmActs a;
    lm_forward(m, a, ids.data(), 1, T, fo);
    SparseCodes codes;
    sae_encode(sae, act.data(), T, codes);
    return codes;
}

static HookStreamOptions stream_options(const CorpusScan& s) {
    UNFOLD_CHECK(s.tokens > 0, "--tokens must be positive");
    HookStreamOptions ho;
    ho.hook = s.hook;
    ho.context = s.context;
    ho.batch = s.batch;
    ho.bos_id = s.bos_id;
    const int64_t body = s.bos_id >= 0 ? s.context - 1 : s.context;
    ho.max_windows = std::max<int64_t>(1, (s.tokens + body - 1) / body);
    return ho;
}

HypothesisResult features_hypothesis(const LmModel& m, const Sae& sae, const std::vector<int32_t>& tokens,
                                     const CorpusScan& scan, const ContextPredicate& pred) {
    ThreadScope threads(scan.ctx);
    HookStream stream(m, tokens, stream_options(scan));
    UNFOLD_CHECK(stream.dim() == sae.d(), "hook '%s' has width %lld but the SAE's d_in is %lld", scan.hook.c_str(),
                 (long long)stream.dim(), (long long)sae.d());
    const int64_t F = sae.F(), T = scan.context;
    HypothesisResult res;
    std::vector<int64_t> fires((size_t)F, 0), both((size_t)F, 0);
    SparseCodes codes;
    Progress bar(scan.ctx, "hypothesis", stream.windows() * T, "tok");
    HookBatch b;
    while (stream.next(b)) {
        const int64_t n = b.nwin * T;
        sae_encode(sae, b.act, n, codes);
        for (int64_t r = 0; r < n; r++) {
            const int64_t w = r / T, pos = r % T;
            if (stream.has_bos() && pos == 0) continue;
            const bool c = pred(b.ids + w * T, T, pos);
            res.rows++;
            res.context_rows += c;
            for (int64_t j = codes.off[(size_t)r]; j < codes.off[(size_t)r + 1]; j++) {
                if (codes.val[(size_t)j] <= 0) continue;
                const size_t f = (size_t)codes.idx[(size_t)j];
                fires[f]++;
                both[f] += c;
            }
        }
        bar.update((b.win0 + b.nwin) * T);
        scan.ctx.check_stop();
    }
    bar.finish();
    res.features.resize((size_t)F);
    for (int64_t f = 0; f < F; f++) {
        HypothesisScore& s = res.features[(size_t)f];
        s.feature = f;
        s.fires = fires[(size_t)f];
        s.context = res.context_rows;
        s.both = both[(size_t)f];
        s.specificity = s.fires > 0 ? (double)s.both / (double)s.fires : 0.0;
        s.sensitivity = s.context > 0 ? (double)s.both / (double)s.context : 0.0;
        const double sum = s.specificity + s.sensitivity;
        s.f1 = sum > 0 ? 2 * s.specificity * s.sensitivity / sum : 0.0;
    }
    return res;
}

EffectResult features_effect(const LmModel& m, const Sae& sae, const std::vector<int32_t>& tokens,
                             const CorpusScan& scan, int64_t feature, int k) {
    ThreadScope threads(scan.ctx);
    UNFOLD_CHECK(feature >= 0 && feature < sae.F(), "--feature %lld is out of range [0, %lld)", (long long)feature,
                 (long long)sae.F());
    const int64_t T = scan.context, V = m.cfg.vocab;
    HookStreamOptions ho = stream_options(scan);
    HookStream stream(m, tokens, ho);
    UNFOLD_CHECK(stream.dim() == sae.d(), "hook '%s' has width %lld but the SAE's d_in is %lld", scan.hook.c_str(),
                 (long long)stream.dim(), (long long)sae.d());
    SpliceOptions so;
    so.edits = {SaeEdit{SaeEdit::ABLATE, feature, 0.0f}};
    HookSet ablate;
    ablate.add(scan.hook, hook_sae_splice(sae, so));
    EffectResult res;
    res.feature = feature;
    std::vector<double> dlp((size_t)V, 0.0);
    double sum_clean = 0, sum_abl = 0, sum_act = 0;
    SparseCodes codes;
    LmActs clean, abl;
    ForwardOptions fo;
    std::vector<float> logp_clean((size_t)V), logp_abl((size_t)V);
    Progress bar(scan.ctx, "effect", stream.windows() * T, "tok");
    HookBatch b;
    while (stream.next(b)) {
        const int64_t n = b.nwin * T;
        sae_encode(sae, b.act, n, codes);
        std::vector<int64_t> rows;  // firing rows with a next token
        std::vector<float> vals;
        for (int64_t r = 0; r < n; r++) {
            const int64_t pos = r % T;
            if ((stream.has_bos() && pos == 0) || pos == T - 1) continue;
            res.rows++;
            for (int64_t j = codes.off[(size_t)r]; j < codes.off[(size_t)r + 1]; j++)
                if (codes.idx[(size_t)j] == feature && codes.val[(size_t)j] > 0) {
                    rows.push_back(r);
                    vals.push_back(codes.val[(size_t)j]);
                }
        }
        if (!rows.empty()) {
            lm_forward(m, clean, b.ids, b.nwin, T, fo);
            fo.hooks = &ablate;
            lm_forward(m, abl, b.ids, b.nwin, T, fo);
            fo.hooks = nullptr;
            for (size_t i = 0; i < rows.size(); i++) {
                const int64_t r = rows[i];
                const int32_t target = b.ids[r + 1];
                log_softmax_row(clean.logits.data() + r * V, V, logp_clean.data());
                log_softmax_row(abl.logits.data() + r * V, V, logp_abl.data());
                sum_clean -= logp_clean[(size_t)target];
                sum_abl -= logp_abl[(size_t)target];
                sum_act += vals[i];
                for (int64_t v = 0; v < V; v++) dlp[(size_t)v] += (double)logp_abl[(size_t)v] - logp_clean[(size_t)v];
            }
            res.firings += (int64_t)rows.size();
        }
        bar.update((b.win0 + b.nwin) * T);
        scan.ctx.check_stop();
    }
    bar.finish();
    if (res.firings > 0) {
        const double nf = (double)res.firings;
        res.loss_clean = sum_clean / nf;
        res.loss_ablated = sum_abl / nf;
        res.delta_loss = res.loss_ablated - res.loss_clean;
        res.mean_activation = sum_act / nf;
        std::vector<IdValue> all((size_t)V);
        for (int64_t v = 0; v < V; v++) all[(size_t)v] = {(int32_t)v, (float)(dlp[(size_t)v] / nf)};
        auto desc = [](const IdValue& x, const IdValue& y) { return x.value > y.value || (x.value == y.value && x.id < y.id); };
        auto asc = [](const IdValue& x, const IdValue& y) { return x.value < y.value || (x.value == y.value && x.id < y.id); };
        const size_t kk = (size_t)std::min<int64_t>(k, V);
        std::partial_sort(all.begin(), all.begin() + (long)kk, all.end(), desc);
        res.rises.assign(all.begin(), all.begin() + (long)kk);
        std::partial_sort(all.begin(), all.begin() + (long)kk, all.end(), asc);
        res.falls.assign(all.begin(), all.begin() + (long)kk);
    }
    return res;
}

}  // namespace unfold
