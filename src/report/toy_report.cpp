// report.cpp: the HTML report of trained toy models (see report.h).
#include "unfold/report/toy_report.h"

#include <algorithm>
#include <cmath>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/fileio.h"
#include "unfold/report/toy_figs.h"
#include "unfold/toy/analysis.h"
#include "unfold/toy/geometry.h"
#include "unfold/toy/privileged.h"
#include "unfold/viz/chart.h"

namespace unfold {

std::vector<std::string> instance_summary_header() {
    return {"instance", "1-S", "loss", "||W||_F^2", "m/||W||_F^2", "sum D_i", "represented", "rank", "superposition",
            "polytopes"};
}

std::vector<std::vector<std::string>> instance_summary_rows(ToyModel& model, const std::vector<float>& loss) {
    auto views = instance_views(model, loss);
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < views.size(); i++) {
        auto& v = views[i];
        ToyFeatureStats st = feature_stats(v.W.data(), v.m, v.n);
        SuperpositionTest t = superposition_test(v.W.data(), v.m, v.n);
        auto polys = classify_geometry(v.W.data(), v.m, v.n);
        // "3 x antipodal pair, pentagon, ..." (names counted in order of first appearance)
        std::vector<std::pair<std::string, int>> counts;
        for (auto& p : polys) {
            auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == p.name; });
            if (it == counts.end())
                counts.push_back({p.name, 1});
            else
                it->second++;
        }
        std::string ps;
        for (auto& c : counts)
            ps += (ps.empty() ? "" : ", ") + (c.second > 1 ? std::to_string(c.second) + " x " : "") + c.first;
        rows.push_back({std::to_string(i), fmt_sig(v.density, 3), fmt_sig(v.loss, 4), fmt_sig(st.frob2, 3),
                        fmt_sig(st.dims_per_feature, 3), fmt_sig(st.sum_dimensionality, 3),
                        std::to_string(t.represented.size()), std::to_string(t.rank), t.superposition ? "yes" : "no",
                        ps.empty() ? "-" : ps});
    }
    return rows;
}

void report_model_sections(HtmlReport& r, ToyModel& model, const std::string& prefix, const std::string& what,
                           const ModelSectionOptions& opt, std::vector<float> loss) {
    const ToyConfig& c = model.cfg;
    if (loss.empty()) loss = toy_eval_loss(model);
    auto views = instance_views(model, loss);
    std::string shape = strformat("%d features in %d dimensions, %s model", c.n_features, c.n_hidden,
                                  toy_kind_name(c.kind));
    if (opt.table) {
        r.paragraph(what.empty() ? shape : what + " (" + shape + ").");
        r.table(instance_summary_header(), instance_summary_rows(model, loss));
    }
    if (opt.arrows)
        r.figure(prefix + "-arrows", fig_feature_arrows(views, "Feature directions W_i per instance", opt.max_panels),
                 "Columns W_i of W drawn as arrows in the hidden space" +
                     std::string(c.n_hidden > 2 ? " (projected onto the top-2 principal directions of W)" : "") +
                     ", one panel per instance (sparsity increases to the right).");
    if (opt.bars)
        r.figure(prefix + "-bars", fig_norm_bars(views, "Feature norms and W^T W", opt.max_panels),
                 "Left: ||W_i|| per feature (ordered by importance), coloured by the superposition metric "
                 "sqrt(sum_{j!=i} (W^_i.W_j)^2), 0 = orthogonal (dark) to 1+ = superposed (yellow); the dashed line "
                 "separates the first m features. Right: W^T W on a diverging scale [-1, 1].");
    if (opt.dims && c.n_instances > 1)
        r.figure(prefix + "-dims", fig_dims_per_feature(views, "Dimensions per feature vs sparsity"),
                 "Black: m/||W||_F^2 per instance. Blue: D_i = ||W_i||^2 / sum_j (W^_i.W_j)^2 of each represented "
                 "feature (||W_i|| > 0.5), jittered horizontally. Dashed: the sticky fractions d/k of tight polytopes.");
    if (opt.geometry)
        r.figure(prefix + "-geometry", fig_polytopes(views, "Feature geometry: polytopes per instance"),
                 "Represented features grouped into connected components of the graph |W^_i.W^_j| > 0.2 and "
                 "classified by size k and dimension d = round(sum D_i); hover a block for its features.");
    if (opt.rank)
        r.figure(prefix + "-rank", fig_rank(views, "Superposition test: rank of W_R^T W_R"),
                 "W^T W restricted to the represented features R is invertible exactly when they are linearly "
                 "independent (no superposition). Rank from a Jacobi eigen-decomposition (eigenvalues > 1e-3 max).");
    bool privileged_kind = c.kind == ToyKind::HIDDEN_RELU || c.kind == ToyKind::ABS;
    if (opt.neurons && privileged_kind)
        r.figure(prefix + "-neurons",
                 fig_neurons(views, std::string("Neuron view: ") + (c.kind == ToyKind::ABS ? "W1" : "W") +
                                        " (rows = neurons, columns = features)",
                             std::min(opt.max_panels, 6)),
                 "Each row is a hidden neuron; a neuron carries the features whose |weight| is at least 30% of its "
                 "largest. Monosemantic = one feature, polysemantic = several.");
    if (opt.privileged) {
        RotationResult rot = rotation_test(model, c.seed + 17);
        std::vector<std::string> groups;
        std::vector<std::vector<double>> vals;
        for (int i = 0; i < c.n_instances; i++) {
            groups.push_back(fmt_sig(views[i].density, 2));
            vals.push_back({rot.loss_before[i], rot.loss_after[i]});
        }
        r.figure(prefix + "-privileged",
                 chart_grouped_bars("Loss before / after rotating the hidden space (W -> QW)", groups,
                                    {"original", "rotated"}, vals, "loss", false,
                                    std::max(560.0, 200.0 + 50.0 * groups.size()), 300),
                 strformat("A random orthogonal Q applied to the hidden space: mean loss %.5g -> %.5g, largest relative "
                           "change %.3g. %s",
                           rot.mean_before, rot.mean_after, rot.max_rel_change,
                           privileged_kind ? "The ReLU on the hidden layer makes the basis privileged: the loss changes."
                                           : "(QW)^T(QW) = W^T W, so the loss cannot change: no privileged basis."));
    }
}

std::string write_run_report(const std::string& dir, const Context& ctx) {
    ThreadScope threads(ctx);
    ToyModel model = toy_load_run(dir);
    const ToyConfig& c = model.cfg;
    HtmlReport r("Toy model report: " + dir);
    r.section("summary", "Summary");
    std::vector<std::pair<std::string, std::string>> kv = {
        {"model", toy_kind_name(c.kind)},
        {"features n", std::to_string(c.n_features)},
        {"hidden m", std::to_string(c.n_hidden)},
        {"instances", std::to_string(c.n_instances)},
        {"steps", std::to_string(c.steps)},
        {"batch", std::to_string(c.batch)},
        {"lr / weight decay", fmt_sig(c.lr, 3) + " / " + fmt_sig(c.weight_decay, 3)},
        {"L1 on hidden", fmt_sig(c.l1_hidden, 3)},
        {"seed", std::to_string(c.seed)}};
    r.kv_table(kv);
    r.html("<p class=\"note\">Instances are independent models trained together; each row below is one instance.</p>\n");
    ctx.info("report: evaluating %d instances", c.n_instances);
    std::vector<float> loss = toy_eval_loss(model);
    r.section("instances", "Instances and figures");
    report_model_sections(r, model, "fig", "", {}, loss);
    std::string path = path_join(dir, "report.html");
    auto figs = r.save(path);
    ctx.info("report: wrote %zu figures to %s", figs.size(), path_join(dir, "figures").c_str());
    return path;
}

}  // namespace unfold
