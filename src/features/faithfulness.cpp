// faithfulness.cpp: CE loss with the SAE spliced in, zero ablation, KL (see faithfulness.h).
#include "unfold/features/faithfulness.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/features/splice.h"
#include "log_softmax.h"
#include "unfold/lm/corpus.h"

namespace unfold {

Json SpliceEval::to_json() const {
    Json j = Json::object();
    j["ce_loss_clean"] = ce_loss_clean;
    j["ce_loss_spliced"] = ce_loss_spliced;
    j["ce_loss_zero_ablation"] = ce_loss_zero_ablation;
    j["ce_loss_recovered"] = ce_loss_recovered;
    j["kl_div_spliced"] = kl_div_spliced;
    j["tokens"] = tokens;
    j["windows"] = windows;
    return j;
}

// log-softmax of each row of logits [N, V] into out (double for the KL)
static void log_softmax_rows(const float* logits, int64_t N, int64_t V, std::vector<double>& out) {
    out.resize((size_t)(N * V));
    for (int64_t r = 0; r < N; r++) log_softmax_row(logits + r * V, V, out.data() + r * V);
}

SpliceEval sae_splice_eval(const LmModel& m, const Sae& sae, const std::vector<int32_t>& tokens,
                           const SpliceEvalOptions& o) {
    ThreadScope threads(o.ctx);
    const int64_t T = o.context, V = m.cfg.vocab;
    UNFOLD_CHECK(T >= 1 && T <= m.cfg.n_ctx, "sae eval: context %lld must be in [1, %lld]", (long long)T,
                 (long long)m.cfg.n_ctx);
    UNFOLD_CHECK((int64_t)tokens.size() > T + 1, "sae eval: the corpus has %zu tokens, needs more than context + 1 = %lld",
                 tokens.size(), (long long)(T + 1));
    UNFOLD_CHECK(o.windows > 0 && o.batch > 0, "sae eval: windows and batch must be > 0");
    std::vector<size_t> starts = eval_window_starts(tokens.size(), (int)T, (int)o.windows);
    const int64_t nw = (int64_t)starts.size();

    SpliceOptions so;
    so.keep_error = false;
    HookSet spliced, zero;
    spliced.add(o.hook, hook_sae_splice(sae, so));
    zero.add(o.hook, [](const std::string&, float* data, const Shape& s) {
        std::memset(data, 0, sizeof(float) * shape_numel(s));
    });

    SpliceEval res;
    LmActs a;
    std::vector<int32_t> in, tg;
    std::vector<double> lp_clean, lp;
    double sum_clean = 0, sum_spliced = 0, sum_zero = 0, sum_kl = 0;
    Progress bar(o.ctx, "sae eval (spliced)", nw, "window");
    for (int64_t done = 0; done < nw;) {
        const int64_t B = std::min(o.batch, nw - done), N = B * T;
        in.resize((size_t)N);
        tg.resize((size_t)N);
        for (int64_t b = 0; b < B; b++) {
            const size_t start = starts[(size_t)(done + b)];
            std::memcpy(&in[(size_t)(b * T)], &tokens[start], (size_t)T * sizeof(int32_t));
            std::memcpy(&tg[(size_t)(b * T)], &tokens[start + 1], (size_t)T * sizeof(int32_t));
        }
        ForwardOptions fo;
        lm_forward(m, a, in.data(), B, T, fo);
        sum_clean += lm_loss(a, m.cfg, tg.data()) * (double)N;
        log_softmax_rows(a.logits.data(), N, V, lp_clean);
        fo.hooks = &spliced;
        lm_forward(m, a, in.data(), B, T, fo);
        sum_spliced += lm_loss(a, m.cfg, tg.data()) * (double)N;
        log_softmax_rows(a.logits.data(), N, V, lp);
        for (int64_t r = 0; r < N; r++) {
            double kl = 0;
            for (int64_t v = 0; v < V; v++) {
                const double lc = lp_clean[(size_t)(r * V + v)];
                kl += std::exp(lc) * (lc - lp[(size_t)(r * V + v)]);
            }
            sum_kl += std::max(kl, 0.0);
        }
        fo.hooks = &zero;
        lm_forward(m, a, in.data(), B, T, fo);
        sum_zero += lm_loss(a, m.cfg, tg.data()) * (double)N;
        done += B;
        res.tokens += N;
        bar.update(done);
    }
    bar.finish();
    res.windows = nw;
    const double n = (double)res.tokens;
    res.ce_loss_clean = sum_clean / n;
    res.ce_loss_spliced = sum_spliced / n;
    res.ce_loss_zero_ablation = sum_zero / n;
    res.kl_div_spliced = sum_kl / n;
    const double gap = res.ce_loss_zero_ablation - res.ce_loss_clean;
    res.ce_loss_recovered = gap != 0 ? (res.ce_loss_zero_ablation - res.ce_loss_spliced) / gap : 0.0;
    return res;
}

}  // namespace unfold
