// report_demo.cpp: the experiments of `unfold demo` and the report that shows them (see report_demo.h).
#include "unfold/report/demo.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/report/toy_figs.h"
#include "unfold/report/toy_report.h"
#include "unfold/toy/analysis.h"
#include "unfold/toy/packing.h"
#include "unfold/toy/phase.h"
#include "unfold/toy/privileged.h"
#include "unfold/toy/toy.h"
#include "unfold/viz/chart.h"
#include "unfold/viz/html.h"

namespace unfold {

namespace {

struct Stage {
    std::string name;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    const Context& ctx;
    Stage(std::string n, const Context& c) : name(std::move(n)), ctx(c) { ctx.info("demo: %s ...", name.c_str()); }
    double done() const {
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ctx.info("demo: %s done in %.1f s", name.c_str(), s);
        return s;
    }
};

ToyConfig make_cfg(ToyKind kind, int n, int m, const std::vector<float>& density, const std::vector<float>& importance,
                   int64_t steps, int batch, uint64_t seed) {
    ToyConfig c;
    c.kind = kind;
    c.data = kind == ToyKind::ABS ? ToyData::SIGNED : ToyData::UNIFORM;
    c.n_features = n;
    c.n_hidden = m;
    c.n_instances = (int)density.size();
    c.steps = steps;
    c.batch = batch;
    c.seed = seed;
    c.eval_batch = 8192;
    toy_set_density(c, density);
    toy_set_importance(c, importance);
    return c;
}

std::vector<float> powers(double base, int n) {
    std::vector<float> v(n);
    for (int i = 0; i < n; i++) v[i] = (float)std::pow(base, i);
    return v;
}

// loss of the optimal linear model (top-m features kept, the rest replaced by their mean), per example,
// averaged over features: sum_{i >= m} I_i (p/3 - p^2/4) / n  (the research notes' formula)
double linear_optimum(const std::vector<float>& imp, int m, double p) {
    double s = 0;
    for (size_t i = m; i < imp.size(); i++) s += imp[i] * (p / 3 - p * p / 4);
    return s / imp.size();
}

}  // namespace

std::string run_demo(const DemoOptions& o) {
    ThreadScope threads(o.ctx);
    UNFOLD_CHECK(o.steps_scale > 0 && o.steps_scale <= 100, "demo: --steps-scale must be in (0, 100], got %g",
                 o.steps_scale);
    auto t_start = std::chrono::steady_clock::now();
    auto steps = [&](int64_t s) { return std::max<int64_t>(50, (int64_t)std::llround(s * o.steps_scale)); };
    make_dirs(o.out);
    std::string runs = path_join(o.out, "runs");
    auto save = [&](const ToyModel& m, const char* name) {
        if (o.save_runs) toy_save_run(m, path_join(runs, name));
    };
    HtmlReport r("unfold demo: Toy Models of Superposition");
    r.html("<p>A small, fast reproduction of the headline results of Elhage et al. (2022), <i>Toy Models of "
           "Superposition</i>. Every model here was trained by unfold in this run; each instance is an independent "
           "model (all instances of one experiment train together). Re-run with <code>unfold demo --steps-scale 3"
           "</code> for cleaner pictures. Trained runs are saved under <code>runs/</code> beside this file; "
           "<code>unfold toy report &lt;run&gt;</code> gives the full report of one.</p>\n");
    std::vector<std::pair<std::string, std::string>> timing;
    const Context& q = o.ctx;

    // ---- 1. 5 -> 2 across sparsity ----
    {
        Stage st("5 -> 2 ReLU across sparsity", q);
        ToyConfig c = make_cfg(ToyKind::RELU, 5, 2, toy_parse_density("1:0.03", 8), powers(0.9, 5), steps(8000), 1024,
                               o.seed);
        ToyModel m = toy_init(c);
        toy_train(m, q);
        save(m, "5to2");
        r.section("pentagon", "1. Five features in two dimensions");
        r.paragraph("ReLU output model x' = ReLU(W^T W x + b), n = 5, m = 2, importance 0.9^i, 8 sparsities. Dense "
                    "inputs: the two most important features get orthogonal dimensions and the rest are dropped "
                    "(like PCA). Sparse inputs: more features share the plane; around 1-S = 0.1 all five form a "
                    "pentagon (D_i = 2/5), with a negative bias filtering the positive interference.");
        std::vector<float> loss = toy_eval_loss(m);
        r.kv_table({{"loss at 1-S = 1: trained ReLU", fmt_sig(loss[0], 5)},
                    {"loss at 1-S = 1: optimal linear model (analytic, top 2 kept)",
                     fmt_sig(linear_optimum(powers(0.9, 5), 2, 1.0), 5)},
                    {strformat("loss at 1-S = %.3g: trained ReLU", c.density_at(c.n_instances - 1, 0)),
                     fmt_sig(loss.back(), 5)},
                    {strformat("loss at 1-S = %.3g: optimal linear model (analytic)", c.density_at(c.n_instances - 1, 0)),
                     fmt_sig(linear_optimum(powers(0.9, 5), 2, c.density_at(c.n_instances - 1, 0)), 5)}});
        ModelSectionOptions mo;
        mo.dims = mo.geometry = mo.rank = mo.privileged = false;
        report_model_sections(r, m, "demo-5to2", "5 -> 2, importance 0.9^i", mo, loss);
        timing.push_back({st.name, fmt_sig(st.done(), 3) + " s"});
    }

    // ---- 2. 20 -> 5 linear vs relu ----
    ToyModel lin, relu;
    {
        Stage st("20 -> 5 linear vs ReLU", q);
        std::vector<float> dens = {1.0f, 0.3f, 0.1f, 0.03f, 0.01f, 0.003f};
        std::vector<float> imp = powers(0.7, 20);
        lin = toy_init(make_cfg(ToyKind::LINEAR, 20, 5, dens, imp, steps(5000), 1024, o.seed + 1));
        toy_train(lin, q);
        relu = toy_init(make_cfg(ToyKind::RELU, 20, 5, dens, imp, steps(5000), 1024, o.seed + 1));
        toy_train(relu, q);
        save(lin, "20to5_linear");
        save(relu, "20to5_relu");
        std::vector<float> ll = toy_eval_loss(lin), rl = toy_eval_loss(relu);
        r.section("basic", "2. Linear vs ReLU output models (20 features, 5 dimensions)");
        r.paragraph("Importance 0.7^i. The linear model keeps the 5 most important features whatever the sparsity "
                    "(W^T W = identity on them). The ReLU model matches it when dense, then represents more and more "
                    "features in superposition as inputs get sparser (yellow bars = superposed features).");
        std::vector<std::vector<std::string>> rows;
        for (size_t i = 0; i < dens.size(); i++) {
            ToyFeatureStats sl = feature_stats(toy_feature_weights(lin, (int)i), 5, 20);
            ToyFeatureStats sr = feature_stats(toy_feature_weights(relu, (int)i), 5, 20);
            rows.push_back({fmt_sig(dens[i], 2), fmt_sig(linear_optimum(imp, 5, dens[i]), 4), fmt_sig(ll[i], 4),
                            fmt_sig(rl[i], 4), fmt_sig(sl.frob2, 3), fmt_sig(sr.frob2, 3)});
        }
        r.table({"1-S", "optimal linear loss (analytic)", "linear loss", "ReLU loss", "linear ||W||_F^2",
                 "ReLU ||W||_F^2"},
                rows);
        ModelSectionOptions mo;
        mo.arrows = mo.dims = mo.geometry = mo.privileged = false;
        mo.table = false;
        mo.rank = false;
        r.subheading("Linear model");
        report_model_sections(r, lin, "demo-linear", "", mo, ll);
        r.subheading("ReLU output model");
        mo.rank = true;
        report_model_sections(r, relu, "demo-relu", "", mo, rl);
        timing.push_back({st.name, fmt_sig(st.done(), 3) + " s"});
    }

    // ---- 3. feature geometry ----
    {
        Stage st("feature geometry (40 -> 10)", q);
        ToyConfig c = make_cfg(ToyKind::RELU, 40, 10, toy_parse_density("1:0.02", 12), std::vector<float>(40, 1.0f),
                               steps(8000), 256, o.seed + 2);
        ToyModel m = toy_init(c);
        toy_train(m, q);
        save(m, "geometry_40to10");
        r.section("geometry", "3. Feature geometry and sticky dimensionality");
        r.paragraph("40 features of equal importance in 10 dimensions, 12 sparsities. Dimensions per feature "
                    "m/||W||_F^2 sticks at 1 (dense), then drops through 1/2 (antipodal pairs) and below as features "
                    "organise into polytopes: each feature's dimensionality D_i clusters at a fraction d/k of the "
                    "tight polytope it belongs to (1, 3/4 tetrahedron, 2/3 triangle, 1/2 digon, 2/5 pentagon, "
                    "3/8 square antiprism).");
        ModelSectionOptions mo;
        mo.arrows = mo.bars = mo.privileged = false;
        report_model_sections(r, m, "demo-geometry", "40 -> 10, uniform importance", mo);
        timing.push_back({st.name, fmt_sig(st.done(), 3) + " s"});
    }

    // ---- 4. phase diagram ----
    {
        Stage st("phase diagrams (2 -> 1, 3 -> 2)", q);
        PhaseSpec s;
        s.grid_p = s.grid_r = 10;
        s.seeds = 4;
        s.steps = steps(2500);
        s.batch = 256;
        s.seed = o.seed + 3;
        PhaseResult pr = phase_run(s, q);
        json_save(path_join(o.out, "phase.json"), phase_json(pr));
        r.section("phase", "4. Superposition as a phase change");
        r.paragraph(strformat(
            "Two features in one dimension; the second (extra) feature has importance r relative to the first. "
            "Each cell is a separately trained model (lowest loss of %d seeds). Black lines: the analytic "
            "boundaries (superposition iff 2p/(4-5p) < r < 2/p - 5/2). Cells whose analytic call survives a "
            "factor 2 change of r and 1.5 of p agree with training in %d of %d cases; all cells %d of %zu. "
            "Numbers behind every cell: phase.json.",
            s.seeds, pr.robust_agree, pr.robust_cells, pr.all_agree, pr.cells.size()));
        r.figure("demo-phase", phase_svg(pr), "Trained outcome of the extra feature per cell, analytic boundaries "
                                               "overlaid; dots mark cells where training and the analytic model "
                                               "disagree.");
        PhaseSpec s3 = s;
        s3.n_features = 3;
        s3.n_hidden = 2;
        s3.grid_p = s3.grid_r = 7;
        s3.seeds = 3;
        s3.steps = steps(2500);
        s3.seed = o.seed + 13;
        PhaseResult p3 = phase_run(s3, q);
        json_save(path_join(o.out, "phase3.json"), phase_json(p3));
        r.paragraph(strformat(
            "The same question for three features in two dimensions (the last one is the extra feature). Analytic "
            "models: drop an ordinary feature, drop the extra one, superpose the two ordinary features and dedicate a "
            "dimension to the extra one, or superpose the extra feature with an ordinary one. Robust cells agreeing: "
            "%d of %d; all cells %d of %zu (phase3.json).",
            p3.robust_agree, p3.robust_cells, p3.all_agree, p3.cells.size()));
        r.figure("demo-phase3", phase_svg(p3), "Three features in two dimensions: outcome of the extra feature.");
        timing.push_back({st.name, fmt_sig(st.done(), 3) + " s"});
    }

    // ---- 5. privileged basis ----
    {
        Stage st("privileged basis (10 -> 5 hidden-ReLU)", q);
        std::vector<float> dens = {0.75f, 0.35f, 0.15f, 0.1f, 0.06f, 0.02f};
        ToyConfig c = make_cfg(ToyKind::HIDDEN_RELU, 10, 5, dens, powers(0.75, 10), steps(6000), 1024, o.seed + 4);
        ToyModel hm = toy_init(c);
        toy_train(hm, q);
        save(hm, "10to5_hidden_relu");
        r.section("privileged", "5. Privileged basis and the neuron view");
        r.paragraph("With a ReLU on the hidden layer (h = ReLU(W x)) the neuron basis is privileged: dense inputs "
                    "give monosemantic neurons (one feature each), sparser inputs pack several features per neuron. "
                    "Rotating the hidden space by a random orthogonal Q (W -> QW) leaves the linear and ReLU-output "
                    "models' loss unchanged (they only see W^T W) but changes the hidden-ReLU model's loss.");
        ModelSectionOptions mo;
        mo.arrows = mo.dims = mo.geometry = mo.rank = mo.privileged = false;
        mo.bars = false;
        report_model_sections(r, hm, "demo-hidden", "10 -> 5 hidden-ReLU, importance 0.75^i", mo);
        RotationResult a = rotation_test(lin, o.seed + 5), b = rotation_test(relu, o.seed + 5),
                       h = rotation_test(hm, o.seed + 5);
        r.figure("demo-privileged",
                 chart_grouped_bars("Mean loss before / after a random rotation of the hidden space",
                                    {"linear (20->5)", "ReLU output (20->5)", "hidden ReLU (10->5)"},
                                    {"original W", "rotated QW"},
                                    {{a.mean_before, a.mean_after}, {b.mean_before, b.mean_after},
                                     {h.mean_before, h.mean_after}},
                                    "mean loss over instances", false, 600, 320),
                 "Same evaluation batch before and after the rotation.");
        r.table({"model", "mean loss", "after rotation", "largest relative change over instances"},
                {{"linear", fmt_sig(a.mean_before, 6), fmt_sig(a.mean_after, 6), fmt_sig(a.max_rel_change, 3)},
                 {"ReLU output", fmt_sig(b.mean_before, 6), fmt_sig(b.mean_after, 6), fmt_sig(b.max_rel_change, 3)},
                 {"hidden ReLU", fmt_sig(h.mean_before, 6), fmt_sig(h.mean_after, 6), fmt_sig(h.max_rel_change, 3)}});
        timing.push_back({st.name, fmt_sig(st.done(), 3) + " s"});
    }

    // ---- 6. packing ----
    {
        Stage st("almost-orthogonal packing", q);
        const double eps = 0.3;
        std::vector<PackingRow> rows;
        for (int m : {2, 3, 4, 6, 8, 12, 16}) {
            PackingRow pr;
            pr.m = m;
            pr.eps = eps;
            PackingStats rs = packing_random(m, eps, o.seed + 7 + m, 1500, 400);
            PackingStats os = packing_optimized(m, eps, o.seed + 7 + m, std::max(1, rs.count), 300, 400);
            pr.random_count = rs.count;
            pr.optimized_count = os.count;
            pr.random_msq = rs.mean_sq_cos;
            pr.optimized_msq = os.mean_sq_cos;
            pr.jl = packing_jl_bound(m, eps);
            pr.welch = packing_welch_bound(m, eps);
            rows.push_back(pr);
        }
        r.section("packing", "6. Almost-orthogonal packing");
        r.paragraph("How many unit vectors with pairwise |cos| < 0.3 fit in R^m: greedy random sampling vs gradient "
                    "descent on a hinge of |cos| (plus a small frame-potential term), against the Johnson-Lindenstrauss "
                    "union-bound guarantee exp(m eps^2/4) and the Welch upper bound. More vectors than dimensions "
                    "always costs interference (mean cos^2 >= (N-m)/(m(N-1))).");
        r.figure("demo-packing", fig_packing(rows, "Almost-orthogonal vectors in R^m"), "Counts and interference.");
        std::vector<std::vector<std::string>> t;
        for (auto& p : rows)
            t.push_back({std::to_string(p.m), std::to_string(p.random_count), std::to_string(p.optimized_count),
                         fmt_sig(p.jl, 3), std::isfinite(p.welch) ? fmt_sig(p.welch, 3) : "none",
                         fmt_sig(p.optimized_msq, 3)});
        r.table({"m", "random", "optimised", "JL guarantee", "Welch max", "mean cos^2 (opt)"}, t);
        timing.push_back({st.name, fmt_sig(st.done(), 3) + " s"});
    }

    // ---- 7. L1 penalty ----
    {
        Stage st("L1 penalty vs superposition", q);
        const std::vector<float> l1s = {0.0f, 0.05f, 0.1f, 0.14f};
        const int seeds = 4;
        std::vector<InstanceView> best_views;
        std::vector<std::vector<std::string>> rows;
        std::vector<std::string> groups;
        std::vector<std::vector<double>> vals;
        for (float l1 : l1s) {
            ToyConfig c = make_cfg(ToyKind::RELU, 5, 2, std::vector<float>(seeds, 0.05f), std::vector<float>(5, 1.0f),
                                   steps(4000), 1024, o.seed + 8);
            c.l1_hidden = l1;
            ToyModel m = toy_init(c);
            toy_train(m, q);
            std::vector<float> tot = toy_eval_loss(m), rec = toy_eval_recon_loss(m);
            int bi = (int)(std::min_element(tot.begin(), tot.end()) - tot.begin());
            auto views = instance_views(m, rec);
            InstanceView v = views[bi];
            v.label = "L1 = " + fmt_sig(l1, 2);
            SuperpositionTest t = superposition_test(v.W.data(), v.m, v.n);
            ToyFeatureStats fs = feature_stats(v.W.data(), v.m, v.n);
            rows.push_back({fmt_sig(l1, 2), fmt_sig(tot[bi], 4), fmt_sig(rec[bi], 4), std::to_string(t.represented.size()),
                            std::to_string(t.rank), t.superposition ? "yes" : "no", fmt_sig(fs.dims_per_feature, 3)});
            groups.push_back("L1 = " + fmt_sig(l1, 2));
            vals.push_back({rec[bi], tot[bi]});
            best_views.push_back(v);
        }
        r.section("l1", "7. An L1 penalty on the hidden layer reduces superposition, at a cost");
        r.paragraph("5 features of equal importance in 2 dimensions at 1-S = 0.05 (a pentagon without penalty), "
                    "trained with an L1 penalty lambda * sum_j |h_j| on h = W x (best of 4 seeds each). A larger "
                    "penalty keeps fewer features (5 -> 2) in the two dimensions, so m/||W||_F^2 rises toward 1 and "
                    "less is superposed; the price is a higher reconstruction loss (the squared error without the "
                    "penalty). Whether the last two features end up orthogonal or as an antipodal pair depends on the "
                    "seed (see the rank column).");
        r.table({"L1 lambda", "total loss", "reconstruction loss", "represented", "rank", "superposition",
                 "m/||W||_F^2"},
                rows);
        r.figure("demo-l1-arrows", fig_feature_arrows(best_views, "Feature directions as the L1 penalty grows", 6),
                 "Best instance per penalty strength.");
        r.figure("demo-l1-loss",
                 chart_grouped_bars("Loss vs L1 penalty", groups, {"reconstruction loss", "total loss (with L1)"}, vals,
                                    "loss", false, 600, 300),
                 "Reconstruction loss is the importance-weighted squared error alone.");
        timing.push_back({st.name, fmt_sig(st.done(), 3) + " s"});
    }

    // ---- 8. abs computation ----
    {
        Stage st("abs computation in superposition", q);
        std::vector<float> dens = {1.0f, 0.3f, 0.1f, 0.03f};
        ToyConfig c = make_cfg(ToyKind::ABS, 16, 8, dens, powers(0.8, 16), steps(6000), 1024, o.seed + 9);
        ToyModel m = toy_init(c);
        toy_train(m, q);
        save(m, "16to8_abs");
        r.section("abs", "8. Computation in superposition: |x| with 8 neurons for 16 features");
        r.paragraph("h = ReLU(W1 x), y = ReLU(W2 h + b), target |x| with x in [-1, 1]. Dense inputs: neurons are "
                    "monosemantic and each computed feature uses a pair of neurons for ReLU(x) and ReLU(-x). Sparser "
                    "inputs: neurons become polysemantic, carrying several features in superposition.");
        ModelSectionOptions mo;
        mo.arrows = mo.dims = mo.geometry = mo.rank = mo.bars = false;
        mo.privileged = false;
        report_model_sections(r, m, "demo-abs", "16 -> 8 abs, importance 0.8^i", mo);
        timing.push_back({st.name, fmt_sig(st.done(), 3) + " s"});
    }

    if (!o.toy_only) demo_real_model(r, o, timing);

    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    r.section("timing", "Run details");
    timing.push_back({"total", fmt_sig(total, 3) + " s"});
    timing.push_back({"steps scale", fmt_sig(o.steps_scale, 3)});
    timing.push_back({"seed", std::to_string(o.seed)});
    r.kv_table(timing);
    std::string path = path_join(o.out, "report.html");
    r.save(path);
    q.info("demo: finished in %.1f s", total);
    return path;
}

}  // namespace unfold
