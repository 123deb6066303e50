// cli_report.cpp: `unfold toy report RUN_DIR`, a self-contained HTML report of a trained toy-model run.
#include <cstdio>

#include "args.h"
#include "cli_toy.h"
#include "unfold/report/toy_report.h"

namespace unfold {

static const CommandSpec kReportSpec = {
    "unfold toy report",
    "Write RUN_DIR/report.html (inline SVG, opens offline) and RUN_DIR/figures/*.svg for a trained run.",
    "unfold toy report runs/t1\n"
    "  RUN_DIR  a folder written by `unfold toy train` (model.safetensors + config.json)\n"
    "Figures: feature arrows per instance, ||W_i|| bars + W^T W heatmaps, dimensions per feature vs sparsity,\n"
    "polytopes, the superposition rank test, the neuron view (hidden-relu / abs) and the privileged-basis test.",
    {},
    1,
    1,
};

int toy_cmd_report(int argc, char** argv) {
    Args a = parse_args(kReportSpec, argc, argv);
    if (a.help) return 0;
    std::string path = write_run_report(a.positional[0], a.ctx);
    printf("%s\n", path.c_str());
    return 0;
}

}  // namespace unfold
