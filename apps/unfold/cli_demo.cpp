// cli_demo.cpp: `unfold demo`, the project's showcase: trains small toy models and writes one HTML report.
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "unfold/report/demo.h"

namespace unfold {

static const CommandSpec kDemoSpec = {
    "unfold demo",
    "Reproduce the headline figures of Toy Models of Superposition, then unfold a real model's activations into "
    "features (stories260K: its own stories, a TopK SAE, the feature database, CE loss recovered, steering), in one "
    "self-contained HTML report.",
    "unfold demo                       # writes runs/demo/report.html (under a minute on 2 idle cores)\n"
    "unfold demo --steps-scale 3       # longer training, cleaner pictures\n"
    "Prints the report's path as the last line of stdout.",
    {
        {"out", "runs/demo", "output folder"},
        {"steps-scale", "1", "multiply every training length by this factor"},
        {"no-runs", "", "do not save the trained models as run folders", true},
        {"toy-only", "", "only the toy models (skip the real-model part: stories260K, SAE, features)", true},
        {"model", "", "folder with stories260K.bin and tok512.bin (default: models/stories260K, searched)"},
    },
};

int cmd_demo(int argc, char** argv) {
    Args a = parse_args(kDemoSpec, argc, argv);
    if (a.help) return 0;
    DemoOptions o;
    o.out = a.str("out");
    o.steps_scale = a.f64("steps-scale");
    o.seed = a.seed();
    o.ctx = a.ctx;
    o.save_runs = !a.flag("no-runs");
    o.toy_only = a.flag("toy-only");
    o.model_dir = a.str("model");
    std::string path = run_demo(o);
    printf("%s\n", path.c_str());
    return 0;
}

}  // namespace unfold
