// phase.cpp: phase-diagram training, classification, the analytic model, JSON and SVG (see phase.h).
#include "unfold/toy/phase.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "unfold/core/error.h"
#include "unfold/toy/analysis.h"

namespace unfold {

const char* phase_outcome_name(PhaseOutcome o) {
    switch (o) {
        case PhaseOutcome::NOT_REPRESENTED: return "not_represented";
        case PhaseOutcome::DEDICATED: return "dedicated";
        case PhaseOutcome::SUPERPOSITION: return "superposition";
    }
    return "?";
}

static std::vector<double> logspace(double a, double b, int k) {
    std::vector<double> v(k);
    for (int i = 0; i < k; i++) v[i] = k == 1 ? a : a * std::pow(b / a, (double)i / (k - 1));
    return v;
}
std::vector<double> phase_densities(const PhaseSpec& s) { return logspace(s.p_hi, s.p_lo, s.grid_p); }
std::vector<double> phase_ratios(const PhaseSpec& s) { return logspace(s.r_lo, s.r_hi, s.grid_r); }

double phase_r_lower(double p) { return p >= 0.8 ? std::numeric_limits<double>::infinity() : 2 * p / (4 - 5 * p); }
double phase_r_upper(double p) { return 2 / p - 2.5; }

PhaseOutcome phase_analytic(int n, double p, double r) {
    double q = p / 3 - p * p / 4;
    if (n == 2) {
        double l_extra = r * q, l_first = q, l_sup = (1 + r) * p * p / 6;
        if (l_sup < l_extra && l_sup < l_first) return PhaseOutcome::SUPERPOSITION;
        return l_extra <= l_first ? PhaseOutcome::NOT_REPRESENTED : PhaseOutcome::DEDICATED;
    }
    if (n == 3) {
        double l_ord = q, l_extra = r * q, l_pair = p * p / 3, l_sup = (1 + r) * p * p / 6;
        double l_ded = std::min(l_ord, l_pair);
        if (l_sup < l_extra && l_sup < l_ded) return PhaseOutcome::SUPERPOSITION;
        return l_extra <= l_ded ? PhaseOutcome::NOT_REPRESENTED : PhaseOutcome::DEDICATED;
    }
    fail("phase diagram: the analytic model covers --features 2 or 3 (got %d)", n);
}

bool phase_analytic_robust(int n, double p, double r) {
    PhaseOutcome o = phase_analytic(n, p, r);
    const double pf = 1.5, rf = 2.0;
    return phase_analytic(n, p, r * rf) == o && phase_analytic(n, p, r / rf) == o &&
           phase_analytic(n, std::min(1.0, p * pf), r) == o && phase_analytic(n, p / pf, r) == o;
}

PhaseOutcome phase_classify(const float* W, int m, int n, double* extra_interference) {
    ToyFeatureStats st = feature_stats(W, m, n);
    int e = n - 1;
    double inter = st.polysemanticity[e] * st.polysemanticity[e];
    if (extra_interference) *extra_interference = inter;
    if (st.norm[e] <= 0.5) return PhaseOutcome::NOT_REPRESENTED;
    return inter > 0.1 ? PhaseOutcome::SUPERPOSITION : PhaseOutcome::DEDICATED;
}

ToyConfig phase_config(const PhaseSpec& s) {
    UNFOLD_CHECK(s.n_features >= 2 && s.n_hidden >= 1 && s.n_hidden < s.n_features,
                 "phase: need 1 <= hidden < features (got features %d, hidden %d)", s.n_features, s.n_hidden);
    UNFOLD_CHECK(s.grid_p >= 1 && s.grid_r >= 1 && s.seeds >= 1, "phase: grid sizes and seeds must be >= 1");
    UNFOLD_CHECK((int64_t)s.grid_p * s.grid_r * s.seeds <= 200000,
                 "phase: %d x %d cells x %d seeds is too many instances (at most 200000)", s.grid_p, s.grid_r, s.seeds);
    UNFOLD_CHECK(s.p_hi > 0 && s.p_hi <= 1 && s.p_lo > 0 && s.p_lo <= 1,
                 "phase: --density must lie in (0, 1] (got %g:%g)", s.p_hi, s.p_lo);
    UNFOLD_CHECK(s.r_lo > 0 && s.r_hi > 0, "phase: --ratio must be positive (got %g:%g)", s.r_lo, s.r_hi);
    ToyConfig c;
    c.kind = s.kind;
    c.n_features = s.n_features;
    c.n_hidden = s.n_hidden;
    c.n_instances = s.grid_p * s.grid_r * s.seeds;
    c.lr = s.lr;
    c.weight_decay = s.weight_decay;
    c.batch = s.batch;
    c.steps = s.steps;
    c.seed = s.seed;
    c.eval_batch = s.eval_batch;
    c.init_std = s.init_std > 0 ? s.init_std : (float)std::sqrt(2.0 / (s.n_hidden * (s.n_features + 10.0)));
    auto ps = phase_densities(s), rs = phase_ratios(s);
    int n = s.n_features;
    c.density.assign((size_t)c.n_instances * n, 1.0f);
    c.importance.assign((size_t)c.n_instances * n, 1.0f);
    for (int ip = 0; ip < s.grid_p; ip++)
        for (int ir = 0; ir < s.grid_r; ir++)
            for (int k = 0; k < s.seeds; k++) {
                int inst = (ip * s.grid_r + ir) * s.seeds + k;
                for (int f = 0; f < n; f++) c.density[(size_t)inst * n + f] = (float)ps[ip];
                c.importance[(size_t)inst * n + n - 1] = (float)rs[ir];
            }
    return c;
}

PhaseResult phase_collect(const PhaseSpec& s, ToyModel& model) {
    PhaseResult res;
    res.spec = s;
    int n = s.n_features, m = s.n_hidden;
    std::vector<float> loss = toy_eval_loss(model);
    const float* W = model.params.get("W");
    const float* b = model.params.get("b");
    auto ps = phase_densities(s), rs = phase_ratios(s);
    bool analytic_ok = n == 2 || n == 3;
    for (int ip = 0; ip < s.grid_p; ip++)
        for (int ir = 0; ir < s.grid_r; ir++) {
            PhaseCell c;
            c.density = ps[ip];
            c.ratio = rs[ir];
            int cell = ip * s.grid_r + ir, best = 0;
            for (int k = 1; k < s.seeds; k++)
                if (loss[(size_t)cell * s.seeds + k] < loss[(size_t)cell * s.seeds + best]) best = k;
            int inst = cell * s.seeds + best;
            c.seed_index = best;
            c.loss = loss[inst];
            c.W.assign(W + (size_t)inst * m * n, W + (size_t)(inst + 1) * m * n);
            c.b.assign(b + (size_t)inst * n, b + (size_t)(inst + 1) * n);
            c.outcome = phase_classify(c.W.data(), m, n, &c.extra_interference);
            c.norms = feature_stats(c.W.data(), m, n).norm;
            if (analytic_ok) {
                c.analytic = phase_analytic(n, c.density, c.ratio);
                c.robust = phase_analytic_robust(n, c.density, c.ratio);
                res.all_agree += c.analytic == c.outcome;
                if (c.robust) {
                    res.robust_cells++;
                    res.robust_agree += c.analytic == c.outcome;
                }
            }
            res.cells.push_back(std::move(c));
        }
    return res;
}

PhaseResult phase_run(const PhaseSpec& s, const Context& ctx) {
    ThreadScope threads(ctx);
    ToyModel model = toy_init(phase_config(s));
    toy_train(model, ctx);
    return phase_collect(s, model);
}

Json phase_json(const PhaseResult& r) {
    const PhaseSpec& s = r.spec;
    Json j = Json::object();
    j["features"] = s.n_features;
    j["hidden"] = s.n_hidden;
    j["kind"] = toy_kind_name(s.kind);
    j["density_range"] = Json::array_of(std::vector<double>{s.p_hi, s.p_lo});
    j["ratio_range"] = Json::array_of(std::vector<double>{s.r_lo, s.r_hi});
    j["grid"] = Json::array_of(std::vector<int>{s.grid_p, s.grid_r});
    j["seeds"] = s.seeds;
    j["steps"] = (int64_t)s.steps;
    j["batch"] = s.batch;
    j["lr"] = s.lr;
    j["weight_decay"] = s.weight_decay;
    j["seed"] = (uint64_t)s.seed;
    j["extra_feature"] = s.n_features - 1;
    if (s.n_features == 2 || s.n_features == 3) {
        Json a = Json::object();
        a["robust_cells"] = r.robust_cells;
        a["robust_agree"] = r.robust_agree;
        a["all_cells"] = (int)r.cells.size();
        a["all_agree"] = r.all_agree;
        j["agreement_with_analytic"] = a;
    }
    Json cells = Json::array();
    for (auto& c : r.cells) {
        Json o = Json::object();
        o["density"] = c.density;
        o["ratio"] = c.ratio;
        o["outcome"] = phase_outcome_name(c.outcome);
        if (s.n_features == 2 || s.n_features == 3) {
            o["analytic"] = phase_outcome_name(c.analytic);
            o["robust"] = c.robust;
        }
        o["loss"] = c.loss;
        o["seed_index"] = c.seed_index;
        o["norms"] = Json::array_of(c.norms);
        o["extra_interference"] = c.extra_interference;
        o["W"] = Json::array_of(c.W);
        o["b"] = Json::array_of(c.b);
        cells.push(o);
    }
    j["cells"] = cells;
    return j;
}

}  // namespace unfold
