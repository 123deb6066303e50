// report.h: HTML reports of trained toy models (`unfold toy report RUN_DIR` and the pieces `unfold demo` reuses).
//
// report_model_sections adds, for one trained ToyModel, a summary table and the figures of report_figs.h
// (feature arrows, norm bars + W^T W, dimensions per feature, polytopes, the superposition rank test,
// neuron view for privileged-basis models) plus the privileged-basis rotation numbers. Figure ids are
// "<prefix>-arrows", "-bars", "-dims", "-geometry", "-rank", "-neurons", "-privileged".
#pragma once
#include <string>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/toy/toy.h"
#include "unfold/viz/html.h"

namespace unfold {

struct ModelSectionOptions {
    bool arrows = true, bars = true, dims = true, geometry = true, rank = true, neurons = true, privileged = true;
    bool table = true;
    int max_panels = 10;
};

// `eval_loss` per instance (toy_eval_loss); computed when empty.
void report_model_sections(HtmlReport& r, ToyModel& model, const std::string& prefix, const std::string& what,
                           const ModelSectionOptions& opt = {}, std::vector<float> eval_loss = {});

// Per-instance summary rows: density, loss, ||W||_F^2, m/||W||_F^2, represented, rank, superposition, polytopes.
std::vector<std::vector<std::string>> instance_summary_rows(ToyModel& model, const std::vector<float>& eval_loss);
std::vector<std::string> instance_summary_header();

// The whole report of one run folder (config, metrics, all figures). Writes <dir>/report.html and
// <dir>/figures/*.svg; returns the report path.
std::string write_run_report(const std::string& run_dir, const Context& ctx = {});

}  // namespace unfold
